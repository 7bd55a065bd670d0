/* test_httpc.c — the outgoing HTTP core (host/httpc.c) and its binding (speezy.http.core)
 * against a small plain-HTTP server on the same loop, for what the API specs can't reach: a
 * callback that never runs from inside httpc_request, refusals that never call back,
 * abandoning a request (the server sees the connection go), closing the client with requests
 * in flight, a cancelled coroutine collected before its answer, and a loop left with no
 * handle of ours. TLS, redirects and the other failures are in spec/api/40_http_client_spec.lua.
 *
 * The server's routes: /hello (a body, a header folded over two lines), /hang (never
 * answers), /big (more body than the client takes, no Content-Length), /headers (more
 * headers than the client keeps). */
#include "config.h"
#include "httpc.h"
#include "test.h"
#include "test_lua.h"

#include <stdio.h>
#include <string.h>

#define MAX_BYTES 1000

static uv_loop_t *loop;
static int port;

/* ---- the server ---------------------------------------------------------------------------- */

typedef struct {
    uv_tcp_t tcp;
    char in[4096];
    size_t len;
    int answered;
} peer_t;

static uv_tcp_t listener;
static int requests_seen, peers_gone;

static void peer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void peer_close(peer_t *p)
{
    if (!uv_is_closing((uv_handle_t *)&p->tcp))
        uv_close((uv_handle_t *)&p->tcp, peer_closed);
}

static void peer_written(uv_write_t *w, int status)
{
    peer_t *p = w->data;
    free(w);
    peer_close(p); /* every answer ends its connection: bodies without a length need it */
}

static void peer_send(peer_t *p, const char *head, size_t body_len, size_t header_len)
{
    size_t hl = strlen(head), n = hl + header_len + body_len + 2;
    char *buf = malloc(n);
    memcpy(buf, head, hl);
    size_t at = hl;
    for (size_t i = 0; i < header_len / 16; i++, at += 16)
        memcpy(buf + at, "X-Pad: 12345678\n", 16); /* 16 bytes, a bare LF ends a line too */
    memcpy(buf + at, "\r\n", 2);
    at += 2;
    memset(buf + at, 'x', body_len);
    at += body_len;
    uv_write_t *w = malloc(sizeof(*w) + at);
    memcpy((char *)(w + 1), buf, at);
    free(buf);
    uv_buf_t b = uv_buf_init((char *)(w + 1), (unsigned)at);
    w->data = p;
    uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, peer_written);
}

static void peer_answer(peer_t *p)
{
    p->answered = 1;
    requests_seen++;
    if (strncmp(p->in, "GET /hello ", 11) == 0) {
        static const char hello[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-One: 1\r\n"
                                    "X-Fold: a\r\n  b\r\nConnection: close\r\n\r\nhello";
        uv_write_t *w = malloc(sizeof(*w));
        uv_buf_t b = uv_buf_init((char *)hello, sizeof(hello) - 1);
        w->data = p;
        uv_write(w, (uv_stream_t *)&p->tcp, &b, 1, peer_written);
    } else if (strncmp(p->in, "GET /big ", 9) == 0) {
        peer_send(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n", MAX_BYTES + 1, 0);
    } else if (strncmp(p->in, "GET /headers ", 13) == 0) {
        peer_send(p, "HTTP/1.1 200 OK\r\nConnection: close\r\n", 0, 70 * 1024);
    } /* /hang: nothing */
}

static void peer_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
    peer_t *p = h->data;
    *b = uv_buf_init(p->in + p->len, (unsigned)(sizeof(p->in) - 1 - p->len));
}

static void peer_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    peer_t *p = s->data;
    if (n < 0) {
        peers_gone++;
        peer_close(p);
        return;
    }
    p->len += (size_t)n;
    p->in[p->len] = '\0';
    if (!p->answered && strstr(p->in, "\r\n\r\n"))
        peer_answer(p);
}

static void on_peer(uv_stream_t *server, int status)
{
    peer_t *p = calloc(1, sizeof(*p));
    uv_tcp_init(loop, &p->tcp);
    p->tcp.data = p;
    if (uv_accept(server, (uv_stream_t *)&p->tcp) == 0)
        uv_read_start((uv_stream_t *)&p->tcp, peer_alloc, peer_read);
    else
        peer_close(p);
}

static int server_start(void)
{
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    uv_tcp_init(loop, &listener);
    if (uv_tcp_bind(&listener, (const struct sockaddr *)&addr, 0) < 0 ||
        uv_listen((uv_stream_t *)&listener, 64, on_peer) < 0)
        return -1;
    struct sockaddr_in bound;
    int len = sizeof(bound);
    uv_tcp_getsockname(&listener, (struct sockaddr *)&bound, &len);
    port = ntohs(bound.sin_port);
    return 0;
}

/* ---- helpers ------------------------------------------------------------------------------- */

static void on_tick(uv_timer_t *t) {}

static int run_until(int (*pred)(void *), void *arg, unsigned ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uint64_t end = uv_now(loop) + ms * test_time_scale();
    while (!pred(arg) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(arg);
}

static int never(void *arg)
{
    return 0;
}

typedef struct {
    const int *counter;
    int want;
} reach_t;

static int reached(void *arg)
{
    reach_t *r = arg;
    return *r->counter >= r->want;
}

/* Runs the loop until *counter reaches want (a server's count of requests or hang-ups). */
static int wait_count(const int *counter, int want)
{
    reach_t r = {counter, want};
    return run_until(reached, &r, 5000);
}

typedef struct {
    int calls;
    int err;
    char message[256];
    httpc_response_t *res;
} capture_t;

static void on_done(int err, httpc_response_t *res, const char *message, void *ud)
{
    capture_t *c = ud;
    c->calls++;
    c->err = err;
    c->res = res;
    snprintf(c->message, sizeof(c->message), "%s", message ? message : "");
}

static int captured(void *arg)
{
    return ((capture_t *)arg)->calls > 0;
}

static void capture_reset(capture_t *c)
{
    httpc_response_free(c->res);
    memset(c, 0, sizeof(*c));
}

static httpc_t *client(void)
{
    httpc_opts_t o = {.max_response_bytes = MAX_BYTES};
    httpc_t *c = NULL;
    CHECK(httpc_new(loop, &o, &c) == 0 && c);
    return c;
}

static const char *url(const char *path)
{
    static char buf[128];
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", port, path);
    return buf;
}

static int get(httpc_t *c, const char *path, unsigned timeout_ms, capture_t *cap, httpc_req_t **out)
{
    httpc_request_t q = {.url = url(path), .timeout_ms = timeout_ms * test_time_scale()};
    return httpc_request(c, &q, on_done, cap, out, NULL, 0);
}

/* ---- the core ------------------------------------------------------------------------------ */

TEST(get_round_trip)
{
    httpc_t *c = client();
    capture_t cap = {0};
    CHECK(get(c, "/hello", 5000, &cap, NULL) == 0);
    CHECK(cap.calls == 0); /* never from inside httpc_request */
    CHECK(httpc_inflight(c) == 1);
    CHECK(run_until(captured, &cap, 5000));
    CHECK(cap.calls == 1 && cap.err == 0 && cap.res);
    if (cap.res) {
        CHECK(cap.res->status == 200);
        CHECK(cap.res->body_len == 5);
        CHECK_STR(cap.res->body, "hello");
        const char *one = NULL, *fold = NULL;
        for (size_t i = 0; i < cap.res->nheaders; i++) {
            if (strcmp(cap.res->headers[i].name, "X-One") == 0)
                one = cap.res->headers[i].value;
            if (strcmp(cap.res->headers[i].name, "X-Fold") == 0)
                fold = cap.res->headers[i].value;
        }
        CHECK_STR(one, "1");
        CHECK_STR(fold, "a b");
    }
    CHECK(httpc_inflight(c) == 0);
    capture_reset(&cap);
    httpc_close(c);
}

TEST(refusals_never_call_back)
{
    httpc_t *c = client();
    capture_t cap = {0};
    char msg[256];
    httpc_header_t crlf[] = {{"X-A", "1\r\nX-B: 2"}};
    httpc_header_t length[] = {{"Content-Length", "3"}};
    httpc_header_t badname[] = {{"X A", "1"}};
    struct {
        httpc_request_t q;
        int err;
        const char *says;
    } cases[] = {
        {{.url = "not a url", .timeout_ms = 100}, HTTPC_EBADURL, "bad URL"},
        {{.url = "ftp://127.0.0.1/x", .timeout_ms = 100}, HTTPC_EBADURL, "only http"},
        {{.url = "file:///etc/passwd", .timeout_ms = 100}, HTTPC_EBADURL, "only http"},
        {{.url = NULL, .timeout_ms = 100}, HTTPC_EBADURL, "no URL"},
        {{.url = url("/"), .method = "GE T", .timeout_ms = 100}, HTTPC_EINVAL, "method"},
        {{.url = url("/"), .headers = crlf, .nheaders = 1, .timeout_ms = 100},
         HTTPC_EINVAL,
         "line break"},
        {{.url = url("/"), .headers = length, .nheaders = 1, .timeout_ms = 100},
         HTTPC_EINVAL,
         "set by the client"},
        {{.url = url("/"), .headers = badname, .nheaders = 1, .timeout_ms = 100},
         HTTPC_EINVAL,
         "not a token"},
        {{.url = url("/"), .timeout_ms = 0}, HTTPC_EINVAL, "no timeout"},
        {{.url = url("/"), .timeout_ms = 100, .max_redirects = HTTPC_MAX_REDIRECTS + 1},
         HTTPC_EINVAL,
         "max_redirects"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        httpc_req_t *r = (httpc_req_t *)&cap; /* must be reset to NULL */
        msg[0] = '\0';
        int rc = httpc_request(c, &cases[i].q, on_done, &cap, &r, msg, sizeof(msg));
        if (rc != cases[i].err || !strstr(msg, cases[i].says) || r != NULL)
            fprintf(stderr, "  case %zu: rc %d, message \"%s\"\n", i, rc, msg);
        CHECK(rc == cases[i].err);
        CHECK(strstr(msg, cases[i].says) != NULL);
        CHECK(r == NULL);
    }
    CHECK(httpc_inflight(c) == 0);
    run_until(never, NULL, 50);
    CHECK(cap.calls == 0);
    httpc_close(c);
}

TEST(timeout)
{
    httpc_t *c = client();
    capture_t cap = {0};
    CHECK(get(c, "/hang", 200, &cap, NULL) == 0);
    CHECK(run_until(captured, &cap, 5000));
    CHECK(cap.err == HTTPC_ETIMEOUT && !cap.res);
    capture_reset(&cap);
    httpc_close(c);
}

TEST(answers_too_large)
{
    httpc_t *c = client();
    capture_t cap = {0};
    CHECK(get(c, "/big", 5000, &cap, NULL) == 0);
    CHECK(run_until(captured, &cap, 5000));
    CHECK(cap.err == HTTPC_ETOO_LARGE && !cap.res && strstr(cap.message, "body"));
    capture_reset(&cap);
    CHECK(get(c, "/headers", 5000, &cap, NULL) == 0);
    CHECK(run_until(captured, &cap, 5000));
    CHECK(cap.err == HTTPC_ETOO_LARGE && !cap.res && strstr(cap.message, "headers"));
    capture_reset(&cap);
    httpc_close(c);
}

TEST(abandon_stops_the_transfer)
{
    httpc_t *c = client();
    capture_t cap = {0};
    httpc_req_t *r = NULL;
    int seen = requests_seen, gone = peers_gone;
    CHECK(get(c, "/hang", 5000, &cap, &r) == 0 && r);
    CHECK(wait_count(&requests_seen, seen + 1));
    httpc_request_abandon(r);
    CHECK(httpc_inflight(c) == 0);
    CHECK(wait_count(&peers_gone, gone + 1)); /* the server saw the connection go */
    run_until(never, NULL, 50);
    CHECK(cap.calls == 0);
    httpc_close(c);
}

TEST(close_fails_what_is_in_flight)
{
    httpc_t *c = client();
    capture_t a = {0}, b = {0};
    int seen = requests_seen;
    CHECK(get(c, "/hang", 5000, &a, NULL) == 0);
    CHECK(get(c, "/hang", 5000, &b, NULL) == 0);
    CHECK(wait_count(&requests_seen, seen + 2));
    CHECK(a.calls == 0 && b.calls == 0);
    httpc_close(c);
    CHECK(a.calls == 1 && a.err == HTTPC_ECLOSED && !a.res);
    CHECK(b.calls == 1 && b.err == HTTPC_ECLOSED && !b.res);
    run_until(never, NULL, 50);
    CHECK(a.calls == 1 && b.calls == 1);
}

/* ---- the binding --------------------------------------------------------------------------- */

typedef struct {
    int done;
    co_status_t status;
    char result[256];
} outcome_t;

static void on_outcome(co_t *co, co_status_t status, int nresults, void *ud)
{
    outcome_t *o = ud;
    lua_State *T = co_thread(co);
    const char *s = nresults >= 1 ? lua_tostring(T, 1) : NULL;
    snprintf(o->result, sizeof(o->result), "%s", s ? s : "(none)");
    o->status = status;
    o->done = 1;
    co_free(co);
}

static int outcome_done(void *arg)
{
    return ((outcome_t *)arg)->done;
}

/* A request coroutine running src with the URL of path as its argument. */
static co_t *start_chunk(lua_State *L, outcome_t *o, const char *src, const char *path)
{
    memset(o, 0, sizeof(*o));
    co_t *co = test_co_load(loop, L, CO_KIND_REQUEST, src, on_outcome, o);
    lua_pushstring(co_thread(co), url(path));
    co_start(co, 1);
    return co;
}

/* A request coroutine running http.request's three steps on path; returns the status and
 * body, or the err's code and message. */
static co_t *start_request(lua_State *L, outcome_t *o, const char *path)
{
    static const char src[] =
        "local url = ... "
        "local op, err = hcore.request{ url = url, timeout = 5000 } "
        "if not op then return err.code .. ': ' .. err.message end "
        "hcore.wait(op) "
        "local res, e = hcore.result(op) "
        "if not res then return e.code .. ': ' .. e.message end "
        "return res.status .. ' ' .. res.body .. ' ' .. tostring(res.headers['x-fold'])";
    return start_chunk(L, o, src, path);
}

TEST(binding_resumes_cancels_and_collects)
{
    config_t cfg = {.http_timeout_ms = 5000};
    bind_host_t host = {.loop = loop, .cfg = &cfg, .httpc = client()};
    lua_State *L = test_lua_new(&host);
    lua_pushcfunction(L, luaopen_speezy_http_core);
    lua_call(L, 0, 1);
    lua_setglobal(L, "hcore");

    outcome_t o;
    start_request(L, &o, "/hello");
    CHECK(!o.done && run_until(outcome_done, &o, 5000));
    CHECK(o.status == CO_OK);
    CHECK_STR(o.result, "200 hello a b");

    /* Cancelled while waiting, then collected: the transfer stops, nothing resumes. */
    int gone = peers_gone, seen = requests_seen;
    co_t *co = start_request(L, &o, "/hang");
    CHECK(wait_count(&requests_seen, seen + 1));
    co_cancel(co);
    CHECK(o.done && o.status == CO_CANCELLED);
    CHECK(httpc_inflight(host.httpc) == 0);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(wait_count(&peers_gone, gone + 1));

    /* A request whose op is collected without anyone waiting on it stops as well. */
    gone = peers_gone, seen = requests_seen;
    start_chunk(L, &o, "hcore.request{ url = ..., timeout = 5000 }", "/hang");
    CHECK(o.done && o.status == CO_OK);
    CHECK(wait_count(&requests_seen, seen + 1));
    CHECK(httpc_inflight(host.httpc) == 1);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(httpc_inflight(host.httpc) == 0);
    CHECK(wait_count(&peers_gone, gone + 1));

    /* Closing the client resumes a waiting request with HTTP_FAILED. */
    seen = requests_seen;
    start_request(L, &o, "/hang");
    CHECK(wait_count(&requests_seen, seen + 1));
    httpc_close(host.httpc);
    CHECK(o.done && o.status == CO_OK && strstr(o.result, "HTTP_FAILED: the HTTP client closed"));
    lua_close(L);
    test_co_pool_close();
}

/* Every client closed all its handles: nothing of ours is left in the loop. */
TEST(loop_left_clean)
{
    uv_close((uv_handle_t *)&listener, NULL);
    run_until(never, NULL, 50);
    CHECK(uv_loop_close(loop) == 0);
}

int main(void)
{
    loop = uv_default_loop();
    if (server_start() < 0) {
        fprintf(stderr, "cannot listen on 127.0.0.1\n");
        test_failed++;
        return test_summary();
    }
    RUN(get_round_trip);
    RUN(refusals_never_call_back);
    RUN(timeout);
    RUN(answers_too_large);
    RUN(abandon_stops_the_transfer);
    RUN(close_fails_what_is_in_flight);
    RUN(binding_resumes_cancels_and_collects);
    RUN(loop_left_clean);
    return test_summary();
}
