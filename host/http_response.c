/* http_response.c — the response writer: status line, the headers every response gets,
 * the JSON error envelope (through the JSON writer), and writing without a copy when the socket
 * takes it all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_conn.h"
#include "json.h"

/* ---- status texts and the error envelope --------------------------------------------------- */

static const struct {
    int status;
    const char *text;
} status_texts[] = {
    {100, "Continue"},
    {200, "OK"},
    {201, "Created"},
    {202, "Accepted"},
    {204, "No Content"},
    {301, "Moved Permanently"},
    {302, "Found"},
    {304, "Not Modified"},
    {400, "Bad Request"},
    {401, "Unauthorized"},
    {403, "Forbidden"},
    {404, "Not Found"},
    {405, "Method Not Allowed"},
    {408, "Request Timeout"},
    {409, "Conflict"},
    {410, "Gone"},
    {411, "Length Required"},
    {412, "Precondition Failed"},
    {413, "Content Too Large"},
    {414, "URI Too Long"},
    {415, "Unsupported Media Type"},
    {417, "Expectation Failed"},
    {422, "Unprocessable Content"},
    {429, "Too Many Requests"},
    {431, "Request Header Fields Too Large"},
    {500, "Internal Server Error"},
    {501, "Not Implemented"},
    {502, "Bad Gateway"},
    {503, "Service Unavailable"},
    {504, "Gateway Timeout"},
    {505, "HTTP Version Not Supported"},
};

const char *http_status_text(int status)
{
    for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]); i++)
        if (status_texts[i].status == status)
            return status_texts[i].text;
    return "Unknown";
}

/* ---- writing ----------------------------------------------------------------------------------
 */

typedef struct {
    uv_write_t w;
    http_conn_t *conn;
    char data[];
} write_req_t;

static void on_written(uv_write_t *w, int status)
{
    write_req_t *wr = (write_req_t *)w;
    http_conn_t *c = wr->conn;
    free(wr);
    if (c->state == ST_CLOSING)
        return;
    if (status < 0)
        http_conn_close(c);
    else
        http_conn_drained(c);
}

/* Writes at once when the socket takes it all (nearly always): one write(2), no copy, no
 * write request, and no epoll_ctl for libuv to undo. Only a remainder is copied and queued. */
void http_conn_write(http_conn_t *c, const char *data, size_t len)
{
    if (c->detached)
        return;
    size_t off = 0;
    if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) == 0) {
        uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
        int n = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (n == (int)len)
            return;
        if (n > 0) {
            off = (size_t)n;
        } else if (n != UV_EAGAIN) {
            http_conn_close(c);
            return;
        }
    }
    write_req_t *wr = malloc(sizeof(*wr) + len - off);
    if (!wr) {
        http_conn_close(c);
        return;
    }
    wr->conn = c;
    memcpy(wr->data, data + off, len - off);
    uv_buf_t b = uv_buf_init(wr->data, (unsigned)(len - off));
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &b, 1, on_written) < 0) {
        free(wr);
        http_conn_close(c);
    }
}

/* "Wed, 25 Nov 2026 09:51:41 GMT", formatted once per second per server. */
static const char *http_date(http_server_t *srv)
{
    time_t now = time(NULL);
    if (now != srv->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(srv->date, sizeof(srv->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        srv->date_sec = now;
    }
    return srv->date;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

#define PUT_LIT(p, lit) put(p, lit, sizeof(lit) - 1)

static char *put_str(char *p, const char *s)
{
    return put(p, s, strlen(s));
}

static char *put_uint(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

int http_respond(http_req_t *req, int status, const http_header_t *headers, size_t nheaders,
                 const char *body, size_t body_len)
{
    http_conn_t *c = req->conn;
    if (c->state != ST_HANDLING)
        return -1;
    http_server_t *srv = c->srv;
    int keep = c->keep_alive && req->keep_alive && !srv->draining && !c->error_status;
    int no_body = req->is_head || status == 204 || status == 304 || (status >= 100 && status < 200);

    size_t extra = 0;
    for (size_t i = 0; i < nheaders; i++)
        extra += headers[i].name_len + headers[i].value_len + 4;
    size_t cap = 256 + sizeof(req->id) + extra + (no_body ? 0 : body_len);
    srv->out.len = 0;
    if (http_buf_reserve(&srv->out, cap) < 0) {
        http_conn_close(c);
        return -1;
    }
    char *p = PUT_LIT(srv->out.p, "HTTP/1.1 ");
    p = put_uint(p, (uint64_t)(status >= 100 && status <= 999 ? status : 500));
    *p++ = ' ';
    p = put_str(p, http_status_text(status));
    p = PUT_LIT(p, "\r\nDate: ");
    p = put_str(p, http_date(srv));
    p = PUT_LIT(p, "\r\nContent-Length: ");
    p = put_uint(p, body_len);
    p = keep ? PUT_LIT(p, "\r\nConnection: keep-alive\r\nX-Request-Id: ")
             : PUT_LIT(p, "\r\nConnection: close\r\nX-Request-Id: ");
    p = put_str(p, req->id);
    p = PUT_LIT(p, "\r\n");
    for (size_t i = 0; i < nheaders; i++) {
        p = put(p, headers[i].name, headers[i].name_len);
        p = PUT_LIT(p, ": ");
        p = put(p, headers[i].value, headers[i].value_len);
        p = PUT_LIT(p, "\r\n");
    }
    p = PUT_LIT(p, "\r\n");
    if (!no_body && body_len)
        p = put(p, body, body_len);
    size_t o = (size_t)(p - srv->out.p);

    if (srv->cbs.on_done)
        srv->cbs.on_done(req, status, o, srv->ud);
    c->state = keep ? ST_IDLE : ST_FINISHING;
    http_conn_write(c, srv->out.p, o);
    http_conn_next(c, keep);
    return 0;
}

int http_respond_error(http_req_t *req, int status, const char *code, const char *message,
                       const http_header_t *headers, size_t nheaders)
{
    static const char oom[] = "{\"success\":false,\"error\":{\"code\":\"INTERNAL\","
                              "\"message\":\"out of memory\"},\"requestId\":null}";
    char storage[1024];
    json_buf_t b;
    json_init(&b, storage, sizeof(storage));
    json_obj_open(&b);
    json_field_bool(&b, "success", 0);
    json_key(&b, "error");
    json_obj_open(&b);
    json_field_str(&b, "code", code);
    json_field_str(&b, "message", message);
    json_obj_close(&b);
    json_field_str(&b, "requestId", req->id);
    json_obj_close(&b);
    http_header_t hs[8];
    size_t nh = 0;
    hs[nh++] = (http_header_t){"Content-Type", 12, "application/json", 16};
    for (size_t i = 0; i < nheaders && nh < 8; i++)
        hs[nh++] = headers[i];
    int rc = json_ok(&b) ? http_respond(req, status, hs, nh, b.p, b.len)
                         : http_respond(req, 500, hs, 1, oom, sizeof(oom) - 1);
    json_free(&b);
    return rc;
}
