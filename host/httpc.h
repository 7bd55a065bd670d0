/* httpc.h — a worker's outgoing HTTP client (SMS provider, webhooks): libcurl's multi-socket
 * interface on the worker's libuv loop, no Lua.
 *
 * libcurl does the protocol (TLS, redirects, proxies from the usual environment variables,
 * connection reuse); this file only feeds it the loop's events: one uv_poll per socket libcurl
 * asks us to watch and one uv_timer for its timeouts, so no request ever blocks the loop (host
 * names resolve on libcurl's resolver thread). TLS peers are always verified: against the
 * system's CAs, plus opts.ca_file when given. Only http and https URLs are allowed, also as
 * redirect targets, and redirects are followed only when a request asks for it.
 *
 * A request's callback runs exactly once, later (never from inside httpc_request), unless the
 * request was abandoned; httpc_close() fails whatever is still in flight with HTTPC_ECLOSED.
 * Nothing here logs: a URL or header may carry a credential. */
#ifndef SPEEZY_HTTPC_H
#define SPEEZY_HTTPC_H

#include <stddef.h>
#include <uv.h>

#define HTTPC_MAX_REDIRECTS 10 /* the most a request may ask to follow */

enum {
    HTTPC_EINVAL = -1, /* a bad method, header or option: the caller's mistake */
    HTTPC_ENOMEM = -2,
    HTTPC_EBADURL = -3,    /* not an absolute http:// or https:// URL */
    HTTPC_ECONNECT = -4,   /* the host did not resolve, refused or could not be reached */
    HTTPC_ETLS = -5,       /* handshake failed, or the peer's certificate was not verified */
    HTTPC_ETIMEOUT = -6,   /* no complete answer within the request's timeout */
    HTTPC_ETOO_LARGE = -7, /* the answer is larger than max_response_bytes */
    HTTPC_EFAILED = -8,    /* any other failure: a broken answer, too many redirects... */
    HTTPC_ECLOSED = -9     /* the client closed before the answer came */
};

typedef struct httpc httpc_t;
typedef struct httpc_req httpc_req_t;

typedef struct httpc_opts {
    const char *ca_file;       /* a PEM bundle trusted besides the system's CAs; NULL: none */
    size_t max_response_bytes; /* body bytes an answer may have (HTTP_MAX_RESPONSE_BYTES) */
} httpc_opts_t;

typedef struct httpc_header {
    const char *name;
    const char *value;
} httpc_header_t;

typedef struct httpc_request {
    const char *method; /* upper-case token; NULL: GET */
    const char *url;
    const httpc_header_t *headers; /* sent as given; Content-Length and Transfer-Encoding are
                                      the client's own (HTTPC_EINVAL) */
    size_t nheaders;
    const char *body; /* NULL: none (POST, PUT and PATCH then send an empty one) */
    size_t body_len;
    unsigned timeout_ms; /* the whole exchange, connect included; at least 1 */
    int max_redirects;   /* 0: a redirect is the answer; at most HTTPC_MAX_REDIRECTS */
} httpc_request_t;

/* The final answer (after redirects): header names as the server sent them, in order. */
typedef struct httpc_response {
    int status;
    size_t nheaders;
    httpc_header_t *headers;
    char *body; /* body_len bytes, then a NUL */
    size_t body_len;
    char *block; /* where the header names and values live */
} httpc_response_t;

/* res is the caller's from here on (httpc_response_free), NULL when err < 0; message says
 * why in words (never the URL or a header), valid during the call only. */
typedef void (*httpc_done_cb)(int err, httpc_response_t *res, const char *message, void *ud);

/* 0, or HTTPC_EINVAL (no max_response_bytes) or HTTPC_ENOMEM. */
int httpc_new(uv_loop_t *loop, const httpc_opts_t *opts, httpc_t **out);
/* Fails every request in flight with HTTPC_ECLOSED, then lets go of every handle; the memory
 * goes once the loop has run their close. */
void httpc_close(httpc_t *c);

/* Starts a request; everything it points to is copied. Returns 0 and, when out is not NULL,
 * a handle valid until the callback runs; or a negative code without ever calling cb
 * (HTTPC_EINVAL, HTTPC_EBADURL, HTTPC_ENOMEM, HTTPC_ECLOSED). message (may be NULL) gets
 * the reason of a refusal, msglen bytes at most. */
int httpc_request(httpc_t *c, const httpc_request_t *req, httpc_done_cb cb, void *ud,
                  httpc_req_t **out, char *message, size_t msglen);
/* The callback will never run; the transfer stops at once. NULL is fine. */
void httpc_request_abandon(httpc_req_t *r);

/* Requests in flight. */
size_t httpc_inflight(const httpc_t *c);

void httpc_response_free(httpc_response_t *res);
const char *httpc_strerror(int err);

#endif
