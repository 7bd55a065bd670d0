/* http_conn.h — inside the HTTP subsystem: the connection and server structs shared by the
 * parser side (http.c) and the response writer (http_response.c). Not for other subsystems. */
#ifndef SPEEZY_HTTP_CONN_H
#define SPEEZY_HTTP_CONN_H

#include <llhttp.h>
#include <time.h>

/* Included after http.h (not from here: the subsystem's public header stays its top). */
#ifndef SPEEZY_HTTP_H
#error "include http.h before http_conn.h"
#endif

/* FINISHING: the last response is written and our side shut down; we read and discard until
 * the client closes (or LINGER_MS), so unread request bytes can't turn our close into a
 * reset that destroys the response before the client reads it. */
typedef enum { ST_IDLE, ST_HEAD, ST_BODY, ST_HANDLING, ST_FINISHING, ST_CLOSING } conn_state_t;

typedef struct {
    size_t name_off, name_len, value_off, value_len;
} span_t;

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

struct http_conn {
    uv_tcp_t tcp;
    uv_shutdown_t shutdown;
    uint64_t deadline_ms; /* when the current state times out (loop time); 0: never */
    http_server_t *srv;
    llhttp_t parser;
    conn_state_t state;
    buf_t in; /* bytes read, not yet parsed from in_off */
    size_t in_off;
    buf_t store; /* url + header names/values of the current request */
    buf_t body;
    span_t *spans;
    size_t nspans, spans_cap;
    http_header_t *headers;
    size_t headers_cap;
    size_t url_len, head_bytes;
    int in_value;     /* last header callback was a value */
    int error_status; /* a limit was hit: answer this and close */
    const char *error_code;
    const char *error_message; /* a 400's reason; limits have theirs by status */
    int keep_alive;            /* connection-level: cleared on drain or Connection: close */
    int peer_eof;
    int reading;
    int in_parse;      /* inside parse_more: a synchronous answer must not recurse into it */
    int write_blocked; /* too many responses queued: parsing waits for the client to read */
    int detached;      /* fuzz mode: no socket */
    http_req_t req;
    char ip[48];
    http_conn_t *prev, *next;
};

struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_timer_t sweep; /* checks connection deadlines: cheaper than a timer restart per state */
    http_limits_t limits;
    http_callbacks_t cbs;
    void *ud;
    http_conn_t *conns;
    unsigned nconns;
    int draining;
    int listener_open;
    uint64_t next_id;
    char id_prefix[17];
    time_t date_sec;
    char date[40];
    buf_t out; /* responses are built here, then written straight from it */
};

int http_buf_reserve(buf_t *b, size_t extra);
void http_conn_close(http_conn_t *c);
/* After a response: parse what is buffered (keep-alive), or shut down and linger. */
void http_conn_next(http_conn_t *c, int keep);
/* A queued write finished: parsing resumes if it waited for the backlog to drain. */
void http_conn_drained(http_conn_t *c);
/* Writes now when the socket takes it all; queues a copy of the rest otherwise. */
void http_conn_write(http_conn_t *c, const char *data, size_t len);

#endif
