/* http.c — HTTP/1.1 server on libuv + llhttp.
 *
 * A connection moves through: IDLE (waiting for a request) -> HEAD (request line and
 * headers arriving, header timeout) -> BODY (body timeout) -> HANDLING (owner has the
 * request; parser paused) -> back to IDLE after http_respond(). Bytes that arrive while a
 * request is being handled stay buffered and are parsed after the response: pipelined
 * requests are answered in order without any per-connection queue.
 *
 * Request bytes (URL, header names and values) are copied into one growable store and
 * referenced by offsets while parsing, because the store may move as it grows; pointers are
 * fixed up once the message is complete. The response side is http_response.c. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "http.h"
#include "http_conn.h"

#define READ_CHUNK 65536
#define PIPELINE_BUFFER_MAX (256 * 1024) /* stop reading while this much waits unparsed */
#define LINGER_MS 2000
/* Responses queued for a client that doesn't read: past this, stop parsing its pipelined
 * requests (and reading) until half of it has drained. */
#define WRITE_BACKLOG_MAX (1024 * 1024)

static llhttp_settings_t parser_settings;

/* ---- small buffers ---------------------------------------------------------------------- */

int http_buf_reserve(buf_t *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_append(buf_t *b, const char *data, size_t len)
{
    if (len == 0)
        return 0;
    if (http_buf_reserve(b, len) < 0)
        return -1;
    memcpy(b->p + b->len, data, len);
    b->len += len;
    return 0;
}

/* ---- connection lifecycle ------------------------------------------------------------------ */

static void conn_free(http_conn_t *c)
{
    free(c->in.p);
    free(c->store.p);
    free(c->body.p);
    free(c->spans);
    free(c->headers);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_free(h->data);
}

static void server_maybe_drained(http_server_t *srv)
{
    if (srv->draining && srv->nconns == 0 && srv->cbs.on_drained) {
        void (*cb)(void *) = srv->cbs.on_drained;
        srv->cbs.on_drained = NULL;
        cb(srv->ud);
    }
}

void http_conn_close(http_conn_t *c)
{
    if (c->state == ST_CLOSING)
        return;
    http_server_t *srv = c->srv;
    if (c->state == ST_HANDLING && srv->cbs.on_abort)
        srv->cbs.on_abort(&c->req, srv->ud);
    c->state = ST_CLOSING;
    if (c->detached)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
    server_maybe_drained(srv);
}

/* Deadlines are plain numbers checked by the server's sweep timer, so a request moving
 * through its states costs no timer operations. */
static void timer_arm(http_conn_t *c, unsigned ms)
{
    if (!c->detached)
        c->deadline_ms = uv_now(c->srv->loop) + ms;
}

static void timer_stop(http_conn_t *c)
{
    c->deadline_ms = 0;
}

static void parse_more(http_conn_t *c);
static void read_start(http_conn_t *c);

static void on_shutdown(uv_shutdown_t *req, int status)
{
    http_conn_t *c = req->data;
    if (c->state != ST_CLOSING && (status < 0 || c->peer_eof))
        http_conn_close(c);
}

static void linger(http_conn_t *c)
{
    if (c->detached || c->state == ST_CLOSING)
        return;
    c->in.len = c->in_off = 0;
    c->shutdown.data = c;
    if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
        http_conn_close(c);
        return;
    }
    timer_arm(c, LINGER_MS);
    read_start(c);
}

/* ---- parser callbacks ------------------------------------------------------------------------ */

static http_conn_t *conn_of(llhttp_t *p)
{
    return p->data;
}

static int limit_hit(http_conn_t *c, int status, const char *code)
{
    c->error_status = status;
    c->error_code = code;
    return HPE_USER;
}

/* A request llhttp takes but this server refuses (400 and close). */
static int bad_request(http_conn_t *c, const char *message)
{
    c->error_message = message;
    return limit_hit(c, 400, "BAD_REQUEST");
}

static int on_message_begin(llhttp_t *p)
{
    http_conn_t *c = conn_of(p);
    c->store.len = 0;
    c->body.len = 0;
    c->nspans = 0;
    c->url_len = 0;
    c->head_bytes = 0;
    c->in_value = 0;
    if (c->state == ST_IDLE) {
        c->state = ST_HEAD;
        timer_arm(c, c->srv->limits.header_timeout_ms);
    }
    return 0;
}

static int count_head(http_conn_t *c, size_t len)
{
    c->head_bytes += len;
    return c->head_bytes > c->srv->limits.max_header_bytes;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = conn_of(p);
    c->url_len += len;
    if (c->url_len > c->srv->limits.max_url_bytes)
        return limit_hit(c, 414, "URI_TOO_LONG");
    if (count_head(c, len))
        return limit_hit(c, 431, "HEADERS_TOO_LARGE");
    return buf_append(&c->store, at, len) < 0 ? -1 : 0;
}

/* tchar of RFC 9110 5.6.2. llhttp (built without its strict mode) also takes spaces inside
 * a name ("Content-Length : 5" would be a header llhttp doesn't frame by, which a proxy in
 * front might): RFC 9112 5.1 says reject it with 400. */
static int header_name_ok(const char *s, size_t len)
{
    static const unsigned char tchar[256] = {
        ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1,         ['&'] = 1,         ['\''] = 1,
        ['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1,         ['^'] = 1,         ['_'] = 1,
        ['`'] = 1, ['|'] = 1, ['~'] = 1, ['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
    };
    for (size_t i = 0; i < len; i++)
        if (!tchar[(unsigned char)s[i]])
            return 0;
    return 1;
}

/* Trailer fields (after a chunked body: the state is BODY then) count against the header
 * limit but are not kept: the request's headers point into the store from the end of its
 * header section on, so the store must not grow, and move, after that. */
static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = conn_of(p);
    if (count_head(c, len))
        return limit_hit(c, 431, "HEADERS_TOO_LARGE");
    if (!header_name_ok(at, len))
        return bad_request(c, "malformed request: a header name is not a token");
    if (c->state == ST_BODY)
        return 0;
    if (c->nspans == 0 || c->in_value) {
        if (c->nspans == c->spans_cap) {
            size_t cap = c->spans_cap ? c->spans_cap * 2 : 16;
            span_t *s = realloc(c->spans, cap * sizeof(*s));
            if (!s)
                return -1;
            c->spans = s;
            c->spans_cap = cap;
        }
        c->spans[c->nspans++] = (span_t){c->store.len, 0, c->store.len, 0};
        c->in_value = 0;
    }
    c->spans[c->nspans - 1].name_len += len;
    c->spans[c->nspans - 1].value_off = c->store.len + len;
    return buf_append(&c->store, at, len) < 0 ? -1 : 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = conn_of(p);
    if (count_head(c, len))
        return limit_hit(c, 431, "HEADERS_TOO_LARGE");
    if (c->state == ST_BODY)
        return 0;
    if (!c->in_value) {
        /* llhttp reports ": v" as a field with an empty name */
        if (c->nspans == 0 || c->spans[c->nspans - 1].name_len == 0)
            return bad_request(c, "malformed request: a header name is empty");
        c->spans[c->nspans - 1].value_off = c->store.len;
        c->in_value = 1;
    }
    c->spans[c->nspans - 1].value_len += len;
    return buf_append(&c->store, at, len) < 0 ? -1 : 0;
}

static int fixup_headers(http_conn_t *c)
{
    if (c->nspans > c->headers_cap) {
        http_header_t *h = realloc(c->headers, c->nspans * sizeof(*h));
        if (!h)
            return -1;
        c->headers = h;
        c->headers_cap = c->nspans;
    }
    for (size_t i = 0; i < c->nspans; i++) {
        span_t *s = &c->spans[i];
        c->headers[i] = (http_header_t){c->store.p + s->name_off, s->name_len,
                                        c->store.p + s->value_off, s->value_len};
    }
    c->req.headers = c->headers;
    c->req.nheaders = c->nspans;
    return 0;
}

const http_header_t *http_req_header(const http_req_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len == n && strncasecmp(h->name, name, n) == 0)
            return h;
    }
    return NULL;
}

static void send_continue(http_conn_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    http_conn_write(c, cont, sizeof(cont) - 1);
}

static int on_headers_complete(llhttp_t *p)
{
    http_conn_t *c = conn_of(p);
    /* HTTP/1.0 and 1.1 only: llhttp also takes a request line without a version (0.9, which
     * has no headers) and "HTTP/2.0", neither of which this server speaks */
    if (p->http_major != 1)
        return limit_hit(c, 505, "HTTP_VERSION_NOT_SUPPORTED");
    if (fixup_headers(c) < 0)
        return -1;
    /* A body framed one way only (RFC 9112 6.3): llhttp refuses Content-Length beside a
     * Transfer-Encoding it reads, but frames by Content-Length when the Transfer-Encoding
     * is empty, where a proxy in front may not: any Transfer-Encoding must end in chunked
     * and come alone. */
    if (http_req_header(&c->req, "transfer-encoding") &&
        (!(p->flags & F_CHUNKED) || http_req_header(&c->req, "content-length")))
        return bad_request(c, "malformed request: Transfer-Encoding must be chunked, "
                              "without Content-Length");
    int has_body =
        (p->flags & F_CHUNKED) || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->limits.max_body_bytes)
        return limit_hit(c, 413, "PAYLOAD_TOO_LARGE");
    if (has_body) {
        const http_header_t *e = http_req_header(&c->req, "expect");
        if (e && p->http_major == 1 && p->http_minor >= 1) {
            if (e->value_len != 12 || strncasecmp(e->value, "100-continue", 12) != 0)
                return limit_hit(c, 417, "EXPECTATION_FAILED");
            send_continue(c);
        }
        c->state = ST_BODY;
        timer_arm(c, c->srv->limits.body_timeout_ms);
    }
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    http_conn_t *c = conn_of(p);
    if (c->body.len + len > c->srv->limits.max_body_bytes)
        return limit_hit(c, 413, "PAYLOAD_TOO_LARGE");
    return buf_append(&c->body, at, len) < 0 ? -1 : 0;
}

/* The server's random prefix (12 hex digits) + a 10-digit hex counter. */
static void new_request_id(http_server_t *srv, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(srv->id_prefix);
    memcpy(out, srv->id_prefix, n);
    uint64_t v = srv->next_id++;
    for (int i = 9; i >= 0; i--, v >>= 4)
        out[n + (size_t)i] = hex[v & 15];
    out[n + 10] = '\0';
}

static int valid_request_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_' || ch == '.' || ch == ':'))
            return 0;
    }
    return 1;
}

/* path and query of the request target; the absolute form a client may send
 * ("http://host/path?q", RFC 9112 3.2.2) is reduced to its path and query. Its authority
 * ends at the first '/', '?' or '#' (RFC 3986 3.2): "http://h?x=/y" has the query "x=/y"
 * and an empty path, not the path "/y". */
static void split_target(http_req_t *r)
{
    const char *u = r->url, *end = r->url + r->url_len;
    if (r->url_len > 7 &&
        (strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0)) {
        u = (const char *)memchr(u, '/', (size_t)(end - u)) + 2;
        while (u < end && *u != '/' && *u != '?' && *u != '#')
            u++;
    }
    r->path = u;
    r->path_len = (size_t)(end - u);
    r->query = "";
    r->query_len = 0;
    for (const char *q = u; q < end; q++) {
        if (*q == '?' || *q == '#') {
            r->path_len = (size_t)(q - u);
            if (*q == '?') {
                r->query = q + 1;
                r->query_len = (size_t)(end - q - 1);
                const char *hash = memchr(r->query, '#', r->query_len);
                if (hash)
                    r->query_len = (size_t)(hash - r->query);
            }
            break;
        }
    }
    if (r->path_len == 0) {
        r->path = "/";
        r->path_len = 1;
    }
}

static void fill_request(http_conn_t *c, llhttp_t *p)
{
    http_req_t *r = &c->req;
    http_server_t *srv = c->srv;
    r->conn = c;
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    r->method_len = strlen(r->method);
    r->is_head = p->method == HTTP_HEAD;
    r->url = c->store.p ? c->store.p : "";
    r->url_len = c->url_len;
    split_target(r);
    r->body = c->body.p ? c->body.p : "";
    r->body_len = c->body.len;
    r->http_major = p->http_major;
    r->http_minor = p->http_minor;
    r->keep_alive = llhttp_should_keep_alive(p);
    r->route = NULL;
    r->data = NULL;
    r->start_ns = uv_hrtime();
    memcpy(r->ip, c->ip, sizeof(r->ip));
    const http_header_t *rid = http_req_header(r, "x-request-id");
    if (rid && valid_request_id(rid->value, rid->value_len)) {
        memcpy(r->id, rid->value, rid->value_len);
        r->id[rid->value_len] = '\0';
    } else {
        new_request_id(srv, r->id);
    }
}

static int on_message_complete(llhttp_t *p)
{
    http_conn_t *c = conn_of(p);
    if (!c->req.headers && fixup_headers(c) < 0)
        return -1;
    timer_stop(c);
    fill_request(c, p);
    c->state = ST_HANDLING;
    return HPE_PAUSED;
}

/* ---- reading and parsing --------------------------------------------------------------------- */

/* A request line or headers that failed a limit or the grammar: answer and close. */
static void reject(http_conn_t *c, int status, const char *code, const char *message)
{
    int parsed_head = status == 413 || status == 417 || c->state == ST_BODY;
    c->req.method = parsed_head ? llhttp_method_name((llhttp_method_t)c->parser.method) : "";
    c->req.method_len = strlen(c->req.method);
    c->req.url = c->req.path = c->store.p && status != 414 ? c->store.p : "";
    c->req.url_len = c->req.path_len = c->store.p && status != 414 ? c->url_len : 0;
    c->req.conn = c;
    c->req.data = NULL;
    c->req.route = NULL;
    c->req.headers = NULL;
    c->req.nheaders = 0;
    c->req.keep_alive = 0;
    c->req.is_head = 0;
    c->req.start_ns = uv_hrtime();
    memcpy(c->req.ip, c->ip, sizeof(c->req.ip));
    new_request_id(c->srv, c->req.id);
    c->keep_alive = 0;
    c->state = ST_HANDLING;
    c->error_status = status;
    http_respond_error(&c->req, status, code, message, NULL, 0);
}

static const char *limit_message(int status)
{
    switch (status) {
    case 413:
        return "request body is larger than the limit";
    case 414:
        return "request URL is longer than the limit";
    case 431:
        return "request header section is larger than the limit";
    case 417:
        return "only Expect: 100-continue is supported";
    case 505:
        return "only HTTP/1.0 and HTTP/1.1 are supported";
    default:
        return "request rejected";
    }
}

static int write_backlog(const http_conn_t *c, size_t max)
{
    return !c->detached && uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) > max;
}

static void parse_more(http_conn_t *c)
{
    while (c->state <= ST_BODY && c->in_off < c->in.len) {
        if (write_backlog(c, WRITE_BACKLOG_MAX)) {
            c->write_blocked = 1;
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
            timer_arm(c, c->srv->limits.keepalive_timeout_ms); /* a client that never reads */
            return;
        }
        const char *start = c->in.p + c->in_off;
        size_t avail = c->in.len - c->in_off;
        c->req.headers = NULL;
        llhttp_errno_t err = llhttp_execute(&c->parser, start, avail);
        if (err == HPE_OK) {
            c->in_off = c->in.len;
        } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            c->in_off += (size_t)(llhttp_get_error_pos(&c->parser) - start);
            if (err == HPE_PAUSED_UPGRADE)
                c->keep_alive = 0; /* no protocol switching: answer, then close */
            if (c->state == ST_HANDLING) {
                c->in_parse = 1;
                c->srv->cbs.on_request(&c->req, c->srv->ud);
                c->in_parse = 0;
                if (c->state != ST_IDLE)
                    return; /* answered later, or closing */
            }
        } else if (c->error_status) {
            reject(c, c->error_status, c->error_code,
                   c->error_message ? c->error_message : limit_message(c->error_status));
            return;
        } else {
            char msg[160];
            snprintf(msg, sizeof(msg), "malformed request: %s",
                     llhttp_get_error_reason(&c->parser));
            reject(c, 400, "BAD_REQUEST", msg);
            return;
        }
    }
    if (c->in_off == c->in.len)
        c->in_off = c->in.len = 0;
    if (c->detached || c->state >= ST_HANDLING)
        return;
    if (c->state == ST_IDLE) {
        if (c->peer_eof) {
            http_conn_close(c);
            return;
        }
        timer_arm(c, c->srv->draining ? 1 : c->srv->limits.keepalive_timeout_ms);
    }
    read_start(c);
}

void http_conn_drained(http_conn_t *c)
{
    if (!c->write_blocked)
        return;
    if (write_backlog(c, WRITE_BACKLOG_MAX / 2)) {
        timer_arm(c, c->srv->limits.keepalive_timeout_ms); /* it reads: give it time */
        return;
    }
    c->write_blocked = 0;
    if (c->state <= ST_BODY && !c->in_parse)
        parse_more(c);
}

void http_conn_next(http_conn_t *c, int keep)
{
    if (!keep) {
        linger(c);
        return;
    }
    llhttp_resume(&c->parser);
    if (!c->in_parse)
        parse_more(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    http_conn_t *c = h->data;
    if (c->in_off && c->in_off == c->in.len)
        c->in_off = c->in.len = 0;
    if (http_buf_reserve(&c->in, READ_CHUNK) < 0) {
        b->base = NULL;
        b->len = 0;
        return;
    }
    b->base = c->in.p + c->in.len;
    b->len = c->in.cap - c->in.len;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
    http_conn_t *c = s->data;
    if (nread == 0 || c->state == ST_CLOSING)
        return;
    if (c->state == ST_FINISHING) {
        c->in.len = c->in_off = 0; /* discard; the client's close ends the linger */
        if (nread < 0)
            http_conn_close(c);
        return;
    }
    if (nread < 0) {
        /* A FIN with pipelined requests still buffered is a half-close: answer them first. */
        if (nread == UV_EOF && (c->in.len > c->in_off || c->state == ST_IDLE)) {
            c->peer_eof = 1;
            uv_read_stop(s);
            c->reading = 0;
            if (c->state == ST_IDLE && c->in.len == c->in_off)
                http_conn_close(c);
            return;
        }
        if (nread == UV_EOF && (c->state == ST_HEAD || c->state == ST_BODY)) {
            http_conn_close(c);
            return;
        }
        http_conn_close(c);
        return;
    }
    c->in.len += (size_t)nread;
    if (c->state == ST_HANDLING) {
        if (c->in.len - c->in_off > PIPELINE_BUFFER_MAX) {
            uv_read_stop(s);
            c->reading = 0;
        }
        return;
    }
    if (c->state == ST_IDLE)
        timer_stop(c);
    parse_more(c);
}

static void read_start(http_conn_t *c)
{
    if (!c->reading && !c->peer_eof && c->state != ST_CLOSING) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
            c->reading = 1;
    }
}

static void on_timeout(http_conn_t *c)
{
    c->deadline_ms = 0;
    switch (c->state) {
    case ST_HEAD:
        reject(c, 408, "REQUEST_TIMEOUT", "request headers were not received in time");
        break;
    case ST_BODY:
        reject(c, 408, "REQUEST_TIMEOUT", "request body was not received in time");
        break;
    case ST_IDLE:
    case ST_FINISHING:
        http_conn_close(c);
        break;
    default:
        break;
    }
}

static void on_sweep(uv_timer_t *t)
{
    http_server_t *srv = t->data;
    uint64_t now = uv_now(srv->loop);
    http_conn_t *next;
    for (http_conn_t *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->deadline_ms && now >= c->deadline_ms)
            on_timeout(c);
    }
}

/* A quarter of the shortest timeout, within 10 ms .. 1 s: timeouts fire at most that late. */
static uint64_t sweep_interval(const http_limits_t *l)
{
    unsigned m = l->header_timeout_ms;
    if (l->body_timeout_ms < m)
        m = l->body_timeout_ms;
    if (l->keepalive_timeout_ms < m)
        m = l->keepalive_timeout_ms;
    m /= 4;
    return m < 10 ? 10 : m > 1000 ? 1000 : m;
}

/* ---- accepting ---------------------------------------------------------------------------- */

static void conn_init_parser(http_conn_t *c)
{
    llhttp_init(&c->parser, HTTP_REQUEST, &parser_settings);
    c->parser.data = c;
}

static void peer_ip(http_conn_t *c)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    c->ip[0] = '\0';
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET)
        uv_ip4_name((struct sockaddr_in *)&ss, c->ip, sizeof(c->ip));
    else if (ss.ss_family == AF_INET6)
        uv_ip6_name((struct sockaddr_in6 *)&ss, c->ip, sizeof(c->ip));
}

static void on_connection(uv_stream_t *l, int status)
{
    http_server_t *srv = l->data;
    if (status < 0)
        return;
    http_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = srv;
    c->keep_alive = 1;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) < 0) {
        http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    peer_ip(c);
    conn_init_parser(c);
    if (srv->nconns > srv->limits.max_connections || srv->draining) {
        c->state = ST_IDLE;
        reject(c, 503, "TOO_MANY_CONNECTIONS", "the server is at its connection limit");
        return;
    }
    c->state = ST_HEAD; /* a silent new connection gets the header timeout, not keep-alive */
    timer_arm(c, srv->limits.header_timeout_ms);
    read_start(c);
}

static void settings_init(void)
{
    llhttp_settings_init(&parser_settings);
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_header_field = on_header_field;
    parser_settings.on_header_value = on_header_value;
    parser_settings.on_headers_complete = on_headers_complete;
    parser_settings.on_body = on_body;
    parser_settings.on_message_complete = on_message_complete;
}

int http_server_new(uv_loop_t *loop, int listen_fd, const http_limits_t *limits,
                    const http_callbacks_t *cbs, void *ud, http_server_t **out)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, settings_init);
    http_server_t *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return UV_ENOMEM;
    srv->loop = loop;
    srv->limits = *limits;
    srv->cbs = *cbs;
    srv->ud = ud;
    unsigned char rnd[6];
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
        memset(rnd, 0, sizeof(rnd));
    snprintf(srv->id_prefix, sizeof(srv->id_prefix), "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1],
             rnd[2], rnd[3], rnd[4], rnd[5]);
    int rc = uv_tcp_init(loop, &srv->listener);
    if (rc == 0)
        rc = uv_tcp_open(&srv->listener, listen_fd);
    srv->listener.data = srv;
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&srv->listener, 1024, on_connection);
    if (rc < 0) {
        free(srv);
        return rc;
    }
    srv->listener_open = 1;
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    uint64_t every = sweep_interval(limits);
    uv_timer_start(&srv->sweep, on_sweep, every, every);
    *out = srv;
    return 0;
}

static void close_listener(http_server_t *srv)
{
    if (srv->listener_open) {
        srv->listener_open = 0;
        uv_close((uv_handle_t *)&srv->listener, NULL);
    }
}

void http_server_drain(http_server_t *srv)
{
    srv->draining = 1;
    close_listener(srv);
    http_conn_t *next;
    for (http_conn_t *c = srv->conns; c; c = next) {
        next = c->next;
        if (c->state == ST_IDLE || (c->state == ST_HEAD && c->head_bytes == 0 && c->in.len == 0))
            http_conn_close(c);
    }
    server_maybe_drained(srv);
}

void http_server_close(http_server_t *srv)
{
    srv->cbs.on_drained = NULL;
    close_listener(srv);
    while (srv->conns)
        http_conn_close(srv->conns);
}

unsigned http_server_connections(const http_server_t *srv)
{
    return srv->nconns;
}

/* ---- fuzzing entry ------------------------------------------------------------------------- */

typedef struct {
    void (*answer)(http_req_t *, void *);
    void *ud;
} detached_ctx_t;

static void detached_on_request(http_req_t *req, void *ud)
{
    detached_ctx_t *d = ud;
    d->answer(req, d->ud);
    if (req->conn->state == ST_HANDLING)
        http_respond(req, 200, NULL, 0, NULL, 0);
}

int http_parse_only(const char *data, size_t len, const http_limits_t *limits,
                    void (*answer)(http_req_t *req, void *ud), void *ud)
{
    static uv_once_t once = UV_ONCE_INIT;
    uv_once(&once, settings_init);
    detached_ctx_t d = {answer, ud};
    http_server_t srv = {.limits = *limits, .ud = &d, .id_prefix = "fuzz"};
    srv.cbs.on_request = detached_on_request;
    http_conn_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->srv = &srv;
    c->detached = 1;
    c->keep_alive = 1;
    conn_init_parser(c);
    if (buf_append(&c->in, data, len) == 0)
        parse_more(c);
    int rejected = c->error_status;
    conn_free(c);
    free(srv.out.p);
    return rejected;
}
