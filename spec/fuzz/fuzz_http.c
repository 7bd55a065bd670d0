/* fuzz_http.c — arbitrary bytes through the HTTP parsing and routing path.
 *
 * The input is fed to a detached connection (http_parse_only) with small limits so every
 * limit branch is reachable; each complete request is routed through a table that has
 * static, captured and overlapping templates. ASan/UBSan catch what a crash would not. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http.h"
#include "router.h"

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

static void answer(http_req_t *req, void *ud)
{
    router_match_t m;
    int rc = router_match(ud, req->method, req->method_len, req->path, req->path_len, &m);
    if (rc == ROUTER_FOUND) {
        char out[512];
        for (int i = 0; i < m.nparams; i++) {
            size_t n = m.params[i].value_len;
            if (n <= sizeof(out) && router_unescape(m.params[i].value, n, out) > n)
                __builtin_trap();
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
        .max_header_bytes = 2048,
        .max_url_bytes = 512,
        .max_body_bytes = 4096,
        .max_connections = 1,
        .header_timeout_ms = 1000,
        .body_timeout_ms = 1000,
        .keepalive_timeout_ms = 1000,
    };
    http_parse_only((const char *)data, size, &limits, answer, routes());
    return 0;
}
