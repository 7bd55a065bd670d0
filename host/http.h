/* http.h — HTTP/1.1 protocol only: accept, llhttp glue, keep-alive, pipelining, limits,
 * timeouts and the response writer.
 *
 * Each complete request is handed to the owner's on_request callback; the owner answers it
 * later (after any amount of I/O) with http_respond(). A connection serves one request at a
 * time: the parser pauses at the end of a message, so pipelined requests are answered in
 * order. If the client goes away while a request is being handled, on_abort is called and
 * the request must not be answered. Knows no Lua. */
#ifndef SPEEZY_HTTP_H
#define SPEEZY_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server_t;
typedef struct http_conn http_conn_t;

typedef struct {
    const char *name;
    size_t name_len;
    const char *value;
    size_t value_len;
} http_header_t;

typedef struct http_req {
    http_conn_t *conn;
    const char *method;
    size_t method_len;
    int is_head;
    const char *url; /* raw target, e.g. "/stores/7?x=1" */
    size_t url_len;
    const char *path; /* url up to '?' or '#' */
    size_t path_len;
    const char *query; /* after '?', without it; len 0 when absent */
    size_t query_len;
    const http_header_t *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    int http_major, http_minor;
    int keep_alive;
    char id[72]; /* X-Request-Id: the client's when well-formed, else generated */
    char ip[48]; /* peer address */
    uint64_t start_ns;
    const char *route; /* set by the owner for the access log */
    void *data;        /* the owner's */
} http_req_t;

typedef struct {
    size_t max_header_bytes; /* request line + header section; over it: 431 (414 for the URL) */
    size_t max_url_bytes;
    size_t max_body_bytes; /* 413 */
    unsigned max_connections;
    unsigned header_timeout_ms;    /* from a request's first byte to its end of headers */
    unsigned body_timeout_ms;      /* from end of headers to end of body */
    unsigned keepalive_timeout_ms; /* idle between requests */
} http_limits_t;

typedef struct {
    void (*on_request)(http_req_t *req, void *ud);
    void (*on_abort)(http_req_t *req, void *ud); /* client gone while handling: don't answer */
    void (*on_done)(const http_req_t *req, int status, size_t bytes_out, void *ud); /* logging */
    void (*on_drained)(void *ud); /* after http_server_drain: the last connection closed */
} http_callbacks_t;

int http_server_new(uv_loop_t *loop, int listen_fd, const http_limits_t *limits,
                    const http_callbacks_t *cbs, void *ud, http_server_t **out);
/* Stops accepting, closes idle connections, lets in-flight requests finish (answered with
 * Connection: close), then calls on_drained. */
void http_server_drain(http_server_t *srv);
/* Closes every connection now (in-flight requests get on_abort) and stops accepting. */
void http_server_close(http_server_t *srv);
unsigned http_server_connections(const http_server_t *srv);

/* Looks up a request header, case-insensitively; NULL when absent. */
const http_header_t *http_req_header(const http_req_t *req, const char *name);

/* Answers the request. headers are extra "Name: value" pairs (Content-Type among them);
 * Date, Content-Length, Connection and X-Request-Id are added here. The body is copied. */
int http_respond(http_req_t *req, int status, const http_header_t *headers, size_t nheaders,
                 const char *body, size_t body_len);
/* Answers with the JSON error envelope {"success":false,"error":{...},"requestId":...}. */
int http_respond_error(http_req_t *req, int status, const char *code, const char *message,
                       const http_header_t *headers, size_t nheaders);

const char *http_status_text(int status);

/* Feeds bytes to a detached connection without sockets: the fuzz harness's entry point.
 * Every complete request is answered synchronously by answer(); returns 0 unless the bytes
 * were rejected as malformed (then the HTTP status that would have been sent). */
int http_parse_only(const char *data, size_t len, const http_limits_t *limits,
                    void (*answer)(http_req_t *req, void *ud), void *ud);

#endif
