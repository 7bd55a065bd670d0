/* ui.h — the host's own browser pages: GET /docs (Swagger UI over /openapi.json), and the
 * like to come (GraphiQL).
 *
 * A page is a mount: a URL prefix, the page itself (HTML the host holds) and the files it
 * loads, read from one folder under UI_ASSETS_DIR (the npm packages `make deps` installs).
 * Only the files a mount names are served (its allowlist), so no request path, encoded or not,
 * can reach another file. They are served as the host's own routes, before the script router:
 * no application hook or auth runs for them, and nothing is fetched from outside (the
 * Content-Security-Policy allows 'self' only). A folder that is missing does not stop the
 * server: the page answers 503 in the JSON envelope and the worker logs one warning. */
#ifndef SPEEZY_UI_H
#define SPEEZY_UI_H

#include "http.h"

typedef struct ui ui_t;

/* assets_dir: UI_ASSETS_DIR (relative to the working directory, or absolute). NULL when out of
 * memory. */
ui_t *ui_new(const char *assets_dir);
void ui_free(ui_t *ui);

/* Answers req and returns 1 when its path is a mount's (the prefix itself, or below it);
 * returns 0, touching nothing, otherwise. Sets req->route for the access line. */
int ui_serve(ui_t *ui, http_req_t *req);

#endif
