/* ui.c — serves the host's browser pages (ui.h): each mount's page and the files it names.
 *
 * A mount's files are read from disk the first time they are asked for and kept: they are a
 * pinned npm package's, fixed for the life of the worker, and reading once keeps the loop
 * from touching the disk on every request. A file that cannot be read is asked for again
 * next time (`make deps` may have run since). */
#include "ui.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define UI_MAX_FILES 8
#define UI_MAX_FILE_BYTES (16u << 20) /* far above any asset: a bound, not a size */

/* What every answer of a mount carries. Everything comes from this host: no inline script
 * or style (Swagger UI sets its styles through the DOM, which the policy allows), except the
 * icons its stylesheet draws from data: URIs (an expanded operation shows them) and the fonts
 * GraphiQL's stylesheet embeds the same way. */
#define UI_CSP                                                                                     \
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "              \
    "form-action 'self'; frame-ancestors 'none'"
/* The package's files change only with its pinned version: a day in the browser's cache,
 * revalidated by ETag afterwards. The page and the host's own script follow the host. */
#define UI_CACHE_ASSET "public, max-age=86400"
#define UI_CACHE_PAGE "no-cache"

typedef struct {
    const char *name; /* below the prefix, e.g. "swagger-ui.css" */
    const char *type; /* Content-Type */
    const char *text; /* the host's own content; NULL: the file of that name in the folder */
} ui_file_t;

typedef struct {
    const char *prefix; /* "/docs": the page; "/docs/<name>": its files */
    const char *what;   /* for the 503 message and the warning */
    const char *folder; /* under UI_ASSETS_DIR */
    const char *page;   /* the HTML served at the prefix (and the prefix with a slash) */
    ui_file_t files[UI_MAX_FILES];
} ui_mount_t;

/* ---- the mounts ---------------------------------------------------------------------------- */

/* /docs: Swagger UI on the live generation's /openapi.json. No validator badge (it would ask
 * validator.swagger.io about our document) and the base layout (no top bar to type in the URL
 * of somebody else's document). */
static const char docs_page[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Speezy API</title>\n"
    "<link rel=\"stylesheet\" href=\"/docs/swagger-ui.css\">\n"
    "<link rel=\"icon\" type=\"image/png\" href=\"/docs/favicon-32x32.png\">\n"
    "</head>\n"
    "<body>\n"
    "<div id=\"swagger-ui\"></div>\n"
    "<script src=\"/docs/swagger-ui-bundle.js\"></script>\n"
    "<script src=\"/docs/speezy-docs.js\"></script>\n"
    "</body>\n"
    "</html>\n";

static const char docs_script[] = "window.ui = SwaggerUIBundle({\n"
                                  "  url: \"/openapi.json\",\n"
                                  "  dom_id: \"#swagger-ui\",\n"
                                  "  deepLinking: true,\n"
                                  "  validatorUrl: null\n"
                                  "});\n";

/* /graphiql: GraphiQL on the live generation's POST /graphql. Its UMD build wants React and
 * ReactDOM as globals, so the page loads their UMD files first; the mount's folder is the
 * packages' parent, each file named by its path inside its package. */
static const char graphiql_page[] =
    "<!doctype html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Speezy GraphiQL</title>\n"
    "<link rel=\"stylesheet\" href=\"/graphiql/graphiql/graphiql.min.css\">\n"
    "<link rel=\"stylesheet\" href=\"/graphiql/speezy-graphiql.css\">\n"
    "</head>\n"
    "<body>\n"
    "<div id=\"graphiql\">Loading GraphiQL...</div>\n"
    "<script src=\"/graphiql/react/umd/react.production.min.js\"></script>\n"
    "<script src=\"/graphiql/react-dom/umd/react-dom.production.min.js\"></script>\n"
    "<script src=\"/graphiql/graphiql/graphiql.min.js\"></script>\n"
    "<script src=\"/graphiql/speezy-graphiql.js\"></script>\n"
    "</body>\n"
    "</html>\n";

/* Same-origin POSTs to /graphql: the browser sends the caller's cookies nowhere else, and
 * a token goes in the headers tab. */
static const char graphiql_script[] =
    "(function () {\n"
    "  var fetcher = GraphiQL.createFetcher({ url: \"/graphql\" });\n"
    "  var root = ReactDOM.createRoot(document.getElementById(\"graphiql\"));\n"
    "  root.render(React.createElement(GraphiQL, { fetcher: fetcher }));\n"
    "})();\n";

/* GraphiQL fills its root: the page's body has no height of its own. */
static const char graphiql_style[] = "html, body, #graphiql { height: 100%; margin: 0; }\n";

#define UI_JS "text/javascript; charset=utf-8"
#define UI_CSS "text/css; charset=utf-8"
#define UI_PNG "image/png"
#define UI_HTML "text/html; charset=utf-8"

static const ui_mount_t ui_mounts[] = {
    {
        "/docs",
        "Swagger UI",
        "swagger-ui-dist",
        docs_page,
        {
            {"swagger-ui.css", UI_CSS, NULL},
            {"swagger-ui-bundle.js", UI_JS, NULL},
            {"favicon-32x32.png", UI_PNG, NULL},
            {"favicon-16x16.png", UI_PNG, NULL},
            {"speezy-docs.js", UI_JS, docs_script},
        },
    },
    {
        "/graphiql",
        "GraphiQL",
        ".",
        graphiql_page,
        {
            {"graphiql/graphiql.min.css", UI_CSS, NULL},
            {"graphiql/graphiql.min.js", UI_JS, NULL},
            {"react/umd/react.production.min.js", UI_JS, NULL},
            {"react-dom/umd/react-dom.production.min.js", UI_JS, NULL},
            {"speezy-graphiql.js", UI_JS, graphiql_script},
            {"speezy-graphiql.css", UI_CSS, graphiql_style},
        },
    },
};

#define UI_NMOUNTS (sizeof(ui_mounts) / sizeof(ui_mounts[0]))

/* ---- state --------------------------------------------------------------------------------- */

typedef struct {
    char *body; /* NULL until read (host files: never, they are served from text) */
    size_t len;
    char etag[20]; /* "\"<16 hex>\"" */
} ui_asset_t;

typedef struct {
    ui_asset_t assets[UI_MAX_FILES];
    char page_etag[20];
    char text_etag[UI_MAX_FILES][20];
    int warned; /* a missing file was logged once already */
} ui_mount_state_t;

struct ui {
    char *assets_dir;
    ui_mount_state_t mounts[UI_NMOUNTS];
};

/* FNV-1a: an ETag needs to change with the content, not to resist anyone. */
static void ui_etag(const char *p, size_t n, char out[20])
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
    snprintf(out, 20, "\"%016llx\"", (unsigned long long)h);
}

ui_t *ui_new(const char *assets_dir)
{
    ui_t *ui = calloc(1, sizeof(*ui));
    if (!ui || !(ui->assets_dir = strdup(assets_dir ? assets_dir : ""))) {
        free(ui);
        return NULL;
    }
    for (size_t m = 0; m < UI_NMOUNTS; m++) {
        const ui_mount_t *mt = &ui_mounts[m];
        ui_etag(mt->page, strlen(mt->page), ui->mounts[m].page_etag);
        for (size_t f = 0; f < UI_MAX_FILES && mt->files[f].name; f++)
            if (mt->files[f].text)
                ui_etag(mt->files[f].text, strlen(mt->files[f].text), ui->mounts[m].text_etag[f]);
    }
    return ui;
}

void ui_free(ui_t *ui)
{
    if (!ui)
        return;
    for (size_t m = 0; m < UI_NMOUNTS; m++)
        for (size_t f = 0; f < UI_MAX_FILES; f++)
            free(ui->mounts[m].assets[f].body);
    free(ui->assets_dir);
    free(ui);
}

/* Reads UI_ASSETS_DIR/<folder>/<name> whole. name is one of a mount's constants, never the
 * request's path. Returns 0, or -1 with errno set. */
static int ui_read(const ui_t *ui, const ui_mount_t *mt, const char *name, ui_asset_t *a)
{
    char path[4096];
    if (snprintf(path, sizeof(path), "%s/%s/%s", ui->assets_dir, mt->folder, name) >=
        (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    char *body = NULL;
    size_t got = 0;
    int err = 0;
    if (fstat(fd, &st) < 0)
        err = errno;
    else if (!S_ISREG(st.st_mode) || (size_t)st.st_size > UI_MAX_FILE_BYTES)
        err = EINVAL;
    else if (!(body = malloc((size_t)st.st_size + 1)))
        err = ENOMEM;
    while (!err && got < (size_t)st.st_size) {
        ssize_t n = read(fd, body + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            err = n < 0 ? errno : EIO;
        else
            got += (size_t)n;
    }
    close(fd);
    if (err) {
        free(body);
        errno = err;
        return -1;
    }
    a->body = body;
    a->len = got;
    ui_etag(body, got, a->etag);
    return 0;
}

/* ---- answers ------------------------------------------------------------------------------- */

/* The client's cached copy is current: If-None-Match names our ETag (exactly, or in a list). */
static int ui_not_modified(const http_req_t *req, const char *etag)
{
    const http_header_t *h = http_req_header(req, "if-none-match");
    size_t n = strlen(etag);
    if (!h)
        return 0;
    for (size_t i = 0; i + n <= h->value_len; i++)
        if (memcmp(h->value + i, etag, n) == 0)
            return 1;
    return h->value_len == 1 && h->value[0] == '*';
}

static void ui_respond(http_req_t *req, const char *type, const char *cache, const char *etag,
                       const char *body, size_t len)
{
    http_header_t hs[] = {
        {"Content-Type", 12, type, strlen(type)},
        {"X-Content-Type-Options", 22, "nosniff", 7},
        {"Content-Security-Policy", 23, UI_CSP, sizeof(UI_CSP) - 1},
        {"Referrer-Policy", 15, "no-referrer", 11},
        {"Cache-Control", 13, cache, strlen(cache)},
        {"ETag", 4, etag, strlen(etag)},
    };
    size_t nh = sizeof(hs) / sizeof(hs[0]);
    if (ui_not_modified(req, etag))
        http_respond(req, 304, hs + 1, nh - 1, NULL, 0);
    else
        http_respond(req, 200, hs, nh, body, len);
}

static void ui_unavailable(ui_t *ui, size_t m, http_req_t *req, const char *name, int err)
{
    const ui_mount_t *mt = &ui_mounts[m];
    if (!ui->mounts[m].warned) {
        ui->mounts[m].warned = 1;
        log_warn("%s is not installed: cannot read %s/%s/%s (%s); %s answers 503 until it is "
                 "(make deps, or set UI_ASSETS_DIR)",
                 mt->what, ui->assets_dir, mt->folder, name, strerror(err), mt->prefix);
    }
    char msg[160];
    snprintf(msg, sizeof(msg), "%s is not installed on this server", mt->what);
    http_respond_error(req, 503, "UI_UNAVAILABLE", msg, NULL, 0);
}

/* The page is served only while the package is there, so a missing folder shows as one clear
 * 503 rather than a blank page with failed scripts. */
static void ui_serve_page(ui_t *ui, size_t m, http_req_t *req)
{
    const ui_mount_t *mt = &ui_mounts[m];
    for (size_t f = 0; f < UI_MAX_FILES && mt->files[f].name; f++) {
        ui_asset_t *a = &ui->mounts[m].assets[f];
        if (!mt->files[f].text && !a->body && ui_read(ui, mt, mt->files[f].name, a) < 0) {
            ui_unavailable(ui, m, req, mt->files[f].name, errno);
            return;
        }
    }
    ui_respond(req, UI_HTML, UI_CACHE_PAGE, ui->mounts[m].page_etag, mt->page, strlen(mt->page));
}

static void ui_serve_file(ui_t *ui, size_t m, http_req_t *req, const char *rest, size_t rest_len)
{
    const ui_mount_t *mt = &ui_mounts[m];
    ui_mount_state_t *st = &ui->mounts[m];
    for (size_t f = 0; f < UI_MAX_FILES && mt->files[f].name; f++) {
        const ui_file_t *file = &mt->files[f];
        if (strlen(file->name) != rest_len || memcmp(file->name, rest, rest_len) != 0)
            continue;
        if (file->text) {
            ui_respond(req, file->type, UI_CACHE_PAGE, st->text_etag[f], file->text,
                       strlen(file->text));
            return;
        }
        ui_asset_t *a = &st->assets[f];
        if (!a->body && ui_read(ui, mt, file->name, a) < 0) {
            ui_unavailable(ui, m, req, file->name, errno);
            return;
        }
        ui_respond(req, file->type, UI_CACHE_ASSET, a->etag, a->body, a->len);
        return;
    }
    http_respond_error(req, 404, "NOT_FOUND", "no route matches this path", NULL, 0);
}

int ui_serve(ui_t *ui, http_req_t *req)
{
    for (size_t m = 0; ui && m < UI_NMOUNTS; m++) {
        const ui_mount_t *mt = &ui_mounts[m];
        size_t pl = strlen(mt->prefix);
        if (req->path_len < pl || memcmp(req->path, mt->prefix, pl) != 0 ||
            (req->path_len > pl && req->path[pl] != '/'))
            continue;
        req->route = mt->prefix;
        int get = req->is_head || (req->method_len == 3 && memcmp(req->method, "GET", 3) == 0);
        if (!get) {
            http_header_t allow = {"Allow", 5, "GET, HEAD", 9};
            http_respond_error(req, 405, "METHOD_NOT_ALLOWED",
                               "this method is not allowed on this path", &allow, 1);
        } else if (req->path_len <= pl + 1) {
            ui_serve_page(ui, m, req);
        } else {
            ui_serve_file(ui, m, req, req->path + pl + 1, req->path_len - pl - 1);
        }
        return 1;
    }
    return 0;
}
