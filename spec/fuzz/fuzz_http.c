/* fuzz_http.c — arbitrary bytes through the HTTP parsing and routing path.
 *
 * The input is fed to a detached connection (http_parse_only) with small limits so every
 * limit branch is reachable within libFuzzer's input sizes; each complete request is routed
 * through a table that has static, captured and overlapping templates. Besides what
 * ASan/UBSan catch, every request handed to the owner is checked against what http.h
 * promises it (check_request); a broken promise traps, and libFuzzer keeps the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "http.h"
#include "router.h"

#define MAX_HEADER_BYTES 2048
#define MAX_URL_BYTES 128
#define MAX_BODY_BYTES 64

static router_t *routes(void)
{
    static router_t *r;
    if (r)
        return r;
    static const char *const table[][2] = {
        {"GET", "/hello"},
        {"GET", "/stores/:id"},
        {"GET", "/stores/nearby"},
        {"POST", "/stores/:id/products"},
        {"PUT", "/stores/:id/products/:pid"},
        {"DELETE", "/a/:b/c/:d/e"},
        {"GET", "/"},
    };
    char err[256];
    r = router_new();
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
        router_add(r, table[i][0], table[i][1], (int)i + 1, err, sizeof(err));
    return r;
}

static size_t count_headers(const http_req_t *req, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == len && strncasecmp(req->headers[i].name, name, len) == 0)
            n++;
    return n;
}

/* tchar of RFC 9110 5.6.2: what a header name is made of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Where path and query must be, worked out here from the raw target: origin-form
 * "/p?q#f", or absolute-form "http://host/p?q#f" whose authority ends at the first '/', '?'
 * or '#' (an empty path is "/"). */
static void expect_target(const http_req_t *req, const char **path, size_t *path_len,
                          const char **query, size_t *query_len)
{
    const char *u = req->url, *end = req->url + req->url_len;
    if ((req->url_len > 7 && strncasecmp(u, "http://", 7) == 0) ||
        (req->url_len >= 8 && strncasecmp(u, "https://", 8) == 0)) {
        u = (const char *)memchr(u, ':', req->url_len) + 3;
        while (u < end && *u != '/' && *u != '?' && *u != '#')
            u++;
    }
    const char *p = u;
    while (p < end && *p != '?' && *p != '#')
        p++;
    *path = u;
    *path_len = (size_t)(p - u);
    *query = "";
    *query_len = 0;
    if (p < end && *p == '?') {
        const char *q = p + 1, *h = q;
        while (h < end && *h != '#')
            h++;
        *query = q;
        *query_len = (size_t)(h - q);
    }
}

static int valid_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || strchr("-_.:", s[i]) != NULL) ||
            s[i] == 0)
            return 0;
    return 1;
}

/* What http.h promises about a request it hands to the owner. */
static void check_request(const http_req_t *req)
{
    /* the request line: a known method, its name NUL-terminated */
    PROMISE(req->method && req->method_len > 0 && strlen(req->method) == req->method_len);
    for (size_t i = 0; i < req->method_len; i++)
        PROMISE((req->method[i] >= 'A' && req->method[i] <= 'Z') || req->method[i] == '-');
    PROMISE(req->is_head == (strcmp(req->method, "HEAD") == 0));
    PROMISE(req->http_major == 1 && req->http_minor >= 0 && req->http_minor <= 9);
    PROMISE(req->keep_alive == 0 || req->keep_alive == 1);

    /* the URL limit, and path and query cut from the target where they are */
    PROMISE(req->url && req->url_len > 0 && req->url_len <= MAX_URL_BYTES);
    const char *path, *query;
    size_t path_len, query_len;
    expect_target(req, &path, &path_len, &query, &query_len);
    if (path_len == 0)
        PROMISE(req->path_len == 1 && req->path[0] == '/');
    else
        PROMISE(req->path == path && req->path_len == path_len);
    PROMISE(req->query_len == query_len && (query_len == 0 || req->query == query));
    PROMISE(req->query != NULL);

    /* the header section: well-formed names, values without line breaks, within the limit
     * (it counts the URL, the names and the values) */
    size_t head = req->url_len;
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        PROMISE(h->name_len > 0);
        for (size_t k = 0; k < h->name_len; k++)
            PROMISE(is_tchar((unsigned char)h->name[k]));
        PROMISE(memchr(h->value, '\r', h->value_len) == NULL);
        PROMISE(memchr(h->value, '\n', h->value_len) == NULL);
        PROMISE(memchr(h->value, '\0', h->value_len) == NULL);
        head += h->name_len + h->value_len;
    }
    PROMISE(head <= MAX_HEADER_BYTES);

    /* the body: never past the limit; never framed two ways (request smuggling); exactly
     * Content-Length bytes when that frames it */
    PROMISE(req->body != NULL && req->body_len <= MAX_BODY_BYTES);
    size_t cl = count_headers(req, "content-length");
    PROMISE(cl <= 1);
    PROMISE(cl == 0 || count_headers(req, "transfer-encoding") == 0);
    if (cl == 1) {
        const http_header_t *h = http_req_header(req, "content-length");
        unsigned long long n = 0;
        for (size_t k = 0; k < h->value_len && h->value[k] >= '0' && h->value[k] <= '9'; k++)
            n = n * 10 + (unsigned long long)(h->value[k] - '0');
        PROMISE(req->body_len == n);
    }

    /* the request id: the client's when well-formed, else one made here */
    size_t idn = strnlen(req->id, sizeof(req->id));
    PROMISE(idn < sizeof(req->id) && valid_id(req->id, idn));
    const http_header_t *rid = http_req_header(req, "x-request-id");
    if (rid && valid_id(rid->value, rid->value_len))
        PROMISE(idn == rid->value_len && memcmp(req->id, rid->value, idn) == 0);
    else
        PROMISE(idn == 14 && memcmp(req->id, "fuzz", 4) == 0);
}

static void answer(http_req_t *req, void *ud)
{
    check_request(req);
    router_match_t m;
    int rc = router_match(ud, req->method, req->method_len, req->path, req->path_len, &m);
    if (rc == ROUTER_FOUND) {
        char out[512];
        for (int i = 0; i < m.nparams; i++) {
            size_t n = m.params[i].value_len;
            /* a decoded parameter is never longer than its encoding */
            if (n <= sizeof(out))
                PROMISE(router_unescape(m.params[i].value, n, out) <= n);
        }
        http_respond(req, 200, NULL, 0, req->body, req->body_len);
    } else if (rc == ROUTER_METHOD_NOT_ALLOWED) {
        http_header_t allow = {"Allow", 5, m.allow, strlen(m.allow)};
        http_respond_error(req, 405, "METHOD_NOT_ALLOWED", "no", &allow, 1);
    }
    /* leaving others unanswered lets http_parse_only answer them itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    http_limits_t limits = {
        .max_header_bytes = MAX_HEADER_BYTES,
        .max_url_bytes = MAX_URL_BYTES,
        .max_body_bytes = MAX_BODY_BYTES,
        .max_connections = 1,
        .header_timeout_ms = 1000,
        .body_timeout_ms = 1000,
        .keepalive_timeout_ms = 1000,
    };
    int rejected = http_parse_only((const char *)data, size, &limits, answer, routes());
    /* a rejection is answered with one of the statuses the README documents */
    PROMISE(rejected == 0 || rejected == 400 || rejected == 413 || rejected == 414 ||
            rejected == 417 || rejected == 431 || rejected == 505);
    return 0;
}
