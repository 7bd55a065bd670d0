/* test_router.c — the route table: templates, captures, precedence, 404/405. */
#include <string.h>

#include "router.h"
#include "test.h"

static int match(router_t *r, const char *method, const char *path, router_match_t *m)
{
    return router_match(r, method, strlen(method), path, strlen(path), m);
}

static int param_is(const router_match_t *m, int i, const char *name, const char *value)
{
    return i < m->nparams && m->params[i].name_len == strlen(name) &&
           memcmp(m->params[i].name, name, strlen(name)) == 0 &&
           m->params[i].value_len == strlen(value) &&
           memcmp(m->params[i].value, value, strlen(value)) == 0;
}

static router_t *table(void)
{
    char err[256];
    router_t *r = router_new();
    CHECK(router_add(r, "GET", "/hello", 1, err, sizeof(err)) == 0);
    CHECK(router_add(r, "GET", "/stores/:id", 2, err, sizeof(err)) == 0);
    CHECK(router_add(r, "GET", "/stores/nearby", 3, err, sizeof(err)) == 0);
    CHECK(router_add(r, "POST", "/stores/:id", 4, err, sizeof(err)) == 0);
    CHECK(router_add(r, "GET", "/stores/:id/products/:pid", 5, err, sizeof(err)) == 0);
    CHECK(router_add(r, "POST", "/stores/:id/x", 6, err, sizeof(err)) == 0);
    CHECK(router_add(r, "GET", "/", 7, err, sizeof(err)) == 0);
    return r;
}

TEST(static_and_root)
{
    router_t *r = table();
    router_match_t m;
    CHECK(match(r, "GET", "/hello", &m) == ROUTER_FOUND && m.handler == 1);
    CHECK_STR(m.template, "/hello");
    CHECK(match(r, "GET", "/hello/", &m) == ROUTER_FOUND && m.handler == 1);
    CHECK(match(r, "GET", "/", &m) == ROUTER_FOUND && m.handler == 7);
    CHECK(match(r, "GET", "/hell", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, "GET", "//hello", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, "GET", "", &m) == ROUTER_NOT_FOUND);
    CHECK(match(r, "GET", "hello", &m) == ROUTER_NOT_FOUND);
    router_free(r);
}

TEST(captures)
{
    router_t *r = table();
    router_match_t m;
    CHECK(match(r, "GET", "/stores/42", &m) == ROUTER_FOUND && m.handler == 2);
    CHECK(m.nparams == 1 && param_is(&m, 0, "id", "42"));
    CHECK(match(r, "GET", "/stores/7/products/abc", &m) == ROUTER_FOUND && m.handler == 5);
    CHECK(m.nparams == 2 && param_is(&m, 0, "id", "7") && param_is(&m, 1, "pid", "abc"));
    CHECK(match(r, "GET", "/stores/a%20b", &m) == ROUTER_FOUND && param_is(&m, 0, "id", "a%20b"));
    router_free(r);
}

TEST(static_wins_then_backtracks)
{
    router_t *r = table();
    router_match_t m;
    CHECK(match(r, "GET", "/stores/nearby", &m) == ROUTER_FOUND && m.handler == 3);
    CHECK(m.nparams == 0);
    /* the static segment serves GET only: POST falls back to the capture */
    CHECK(match(r, "POST", "/stores/nearby", &m) == ROUTER_FOUND && m.handler == 4);
    CHECK(param_is(&m, 0, "id", "nearby"));
    CHECK(match(r, "POST", "/stores/nearby/x", &m) == ROUTER_FOUND && m.handler == 6);
    router_free(r);
}

TEST(method_not_allowed_and_head)
{
    router_t *r = table();
    router_match_t m;
    CHECK(match(r, "DELETE", "/stores/9", &m) == ROUTER_METHOD_NOT_ALLOWED);
    CHECK(strstr(m.allow, "GET") && strstr(m.allow, "POST") && strstr(m.allow, "HEAD"));
    CHECK(match(r, "HEAD", "/hello", &m) == ROUTER_FOUND && m.handler == 1);
    CHECK(match(r, "POST", "/hello", &m) == ROUTER_METHOD_NOT_ALLOWED);
    CHECK_STR(m.allow, "GET, HEAD");
    router_free(r);
}

TEST(bad_templates_refused)
{
    char err[256];
    router_t *r = table();
    CHECK(router_add(r, "GET", "/hello", 9, err, sizeof(err)) < 0);
    CHECK(strstr(err, "already registered") != NULL);
    CHECK(router_add(r, "GET", "/stores/:other/z", 9, err, sizeof(err)) < 0);
    CHECK(strstr(err, "conflicts") != NULL);
    CHECK(router_add(r, "GET", "nope", 9, err, sizeof(err)) < 0);
    CHECK(router_add(r, "GET", "/a//b", 9, err, sizeof(err)) < 0);
    CHECK(router_add(r, "GET", "/a/:1x", 9, err, sizeof(err)) < 0);
    CHECK(router_count(r) == 7);
    router_free(r);
}

static void check_unescape(const char *in, const char *want)
{
    char out[64];
    size_t n = router_unescape(in, strlen(in), out);
    CHECK(n == strlen(want) && memcmp(out, want, n) == 0);
}

TEST(captures_unescape)
{
    check_unescape("plain", "plain");
    check_unescape("a%20b%2Fc", "a b/c");
    check_unescape("%e2%82%ac", "\xe2\x82\xac");
    char out[8];
    CHECK(router_unescape("%00x", 4, out) == 2 && out[0] == '\0' && out[1] == 'x');
    check_unescape("100%", "100%");
    check_unescape("%4", "%4");
    check_unescape("%zz%4g", "%zz%4g");
    check_unescape("%%41", "%A");
    check_unescape("+", "+"); /* a path is not a form: '+' stays */
}

int main(void)
{
    RUN(static_and_root);
    RUN(captures);
    RUN(static_wins_then_backtracks);
    RUN(method_not_allowed_and_head);
    RUN(bad_templates_refused);
    RUN(captures_unescape);
    return test_summary();
}
