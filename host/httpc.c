/* httpc.c — outgoing HTTP: libcurl's multi-socket interface on a worker's libuv loop.
 *
 * libcurl tells us which sockets to watch for what (httpc_on_socket) and when it next needs
 * to run (httpc_on_curl_timer); the loop tells libcurl what happened (httpc_on_poll,
 * httpc_on_timeout), and after each such turn the finished transfers are collected
 * (httpc_collect). User callbacks run only from there or from httpc_close, never from inside
 * a libcurl callback, so a callback may start or abandon requests freely.
 *
 * A request owns one easy handle for its whole life; connections and resolved names are kept
 * by the multi handle between requests, so calls to the same provider reuse a warm TLS
 * connection. */
#include "httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The final answer's header block we keep: enough for any sane server, bounded for the rest. */
#define HTTPC_MAX_HEADER_BYTES (64 * 1024)
#define HTTPC_USER_AGENT "speezy"

typedef struct httpc_sock httpc_sock_t;

/* A socket libcurl asked us to watch. */
struct httpc_sock {
    uv_poll_t poll;
    httpc_t *client;
    curl_socket_t fd;
    httpc_sock_t *prev, *next;
};

typedef enum { HTTPC_FIT, HTTPC_BODY_TOO_LARGE, HTTPC_HEADERS_TOO_LARGE } httpc_fit_t;

struct httpc_req {
    httpc_t *client;
    CURL *easy;
    struct curl_slist *headers;
    httpc_done_cb cb; /* NULL once abandoned */
    void *ud;
    /* the answer so far: "name\0value\0" per header, and the body */
    char *hdr;
    size_t hdr_len, hdr_cap, nheaders;
    char *body;
    size_t body_len, body_cap;
    httpc_fit_t fit;
    char errbuf[CURL_ERROR_SIZE];
    httpc_req_t *prev, *next;
};

struct httpc {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    char *ca_file;
    size_t max_response_bytes;
    httpc_req_t *reqs; /* in flight */
    size_t nreqs;
    httpc_sock_t *socks;
    int closing;
};

/* ---- buffers ------------------------------------------------------------------------------ */

/* Appends n bytes and keeps a NUL after them; -1 when out of memory. */
static int httpc_append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = *cap ? *cap : 256;
        while (want < *len + n + 1)
            want *= 2;
        char *p = realloc(*buf, want);
        if (!p)
            return -1;
        *buf = p;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static int httpc_is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* ---- libcurl's data callbacks ------------------------------------------------------------- */

/* One header line of an answer. A status line starts a new answer (an interim 100, a redirect
 * being followed, a proxy's CONNECT reply): only the final answer's headers are kept. */
static size_t httpc_on_header(char *data, size_t size, size_t n, void *ud)
{
    httpc_req_t *r = ud;
    size_t len = size * n, all = len;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
        r->hdr_len = 0;
        r->nheaders = 0;
        return all;
    }
    while (len && httpc_is_space(data[len - 1]))
        len--;
    if (len == 0)
        return all;
    int folded = data[0] == ' ' || data[0] == '\t'; /* obsolete line folding: more value */
    const char *colon = folded ? data : memchr(data, ':', len);
    if (!colon || (folded && r->nheaders == 0))
        return all;
    const char *value = colon + (folded ? 0 : 1);
    while (value < data + len && httpc_is_space(*value))
        value++;
    size_t name_len = (size_t)(colon - data), value_len = (size_t)(data + len - value);
    if (r->hdr_len + name_len + value_len + 2 > HTTPC_MAX_HEADER_BYTES) {
        r->fit = HTTPC_HEADERS_TOO_LARGE;
        return 0; /* anything but `all` stops the transfer */
    }
    int rc;
    if (folded) {
        r->hdr_len--; /* the value's NUL becomes the separating space */
        rc = httpc_append(&r->hdr, &r->hdr_len, &r->hdr_cap, " ", 1);
    } else {
        rc = httpc_append(&r->hdr, &r->hdr_len, &r->hdr_cap, data, name_len);
        r->hdr_len++; /* keep the NUL after the name */
        r->nheaders++;
    }
    if (rc == 0)
        rc = httpc_append(&r->hdr, &r->hdr_len, &r->hdr_cap, value, value_len);
    if (rc < 0)
        return 0;
    r->hdr_len++;
    return all;
}

static size_t httpc_on_body(char *data, size_t size, size_t n, void *ud)
{
    httpc_req_t *r = ud;
    size_t len = size * n;
    if (len > r->client->max_response_bytes - r->body_len) {
        r->fit = HTTPC_BODY_TOO_LARGE;
        return 0;
    }
    if (httpc_append(&r->body, &r->body_len, &r->body_cap, data, len) < 0)
        return 0;
    return len;
}

/* ---- requests ----------------------------------------------------------------------------- */

static void httpc_req_free(httpc_req_t *r)
{
    httpc_t *c = r->client;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    c->nreqs--;
    if (r->easy) {
        curl_multi_remove_handle(c->multi, r->easy);
        curl_easy_cleanup(r->easy);
    }
    curl_slist_free_all(r->headers);
    free(r->hdr);
    free(r->body);
    free(r);
}

static int httpc_error_of(CURLcode rc, httpc_fit_t fit)
{
    if (fit != HTTPC_FIT)
        return HTTPC_ETOO_LARGE;
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return HTTPC_ETIMEOUT;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
        return HTTPC_ECONNECT;
    case CURLE_FILESIZE_EXCEEDED: /* a Content-Length above CURLOPT_MAXFILESIZE */
        return HTTPC_ETOO_LARGE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: /* a redirect to a scheme other than http(s) */
        return HTTPC_EBADURL;
    case CURLE_OUT_OF_MEMORY:
        return HTTPC_ENOMEM;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_CLIENTCERT:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_USE_SSL_FAILED:
        return HTTPC_ETLS;
    default:
        return HTTPC_EFAILED;
    }
}

/* The answer collected in r, handed over (r keeps nothing of it); NULL when out of memory. */
static httpc_response_t *httpc_response_take(httpc_req_t *r)
{
    httpc_response_t *res = calloc(1, sizeof(*res));
    if (!res)
        return NULL;
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    res->status = (int)status;
    if (r->nheaders && !(res->headers = malloc(r->nheaders * sizeof(httpc_header_t)))) {
        free(res);
        return NULL;
    }
    if (!r->body && httpc_append(&r->body, &r->body_len, &r->body_cap, "", 0) < 0) {
        free(res->headers);
        free(res);
        return NULL;
    }
    const char *p = r->hdr;
    for (size_t i = 0; i < r->nheaders; i++) {
        res->headers[i].name = p;
        p += strlen(p) + 1;
        res->headers[i].value = p;
        p += strlen(p) + 1;
    }
    res->nheaders = r->nheaders;
    res->block = r->hdr;
    res->body = r->body;
    res->body_len = r->body_len;
    r->hdr = r->body = NULL;
    return res;
}

/* A transfer ended: the request is freed first, then its callback runs. */
static void httpc_finish(httpc_req_t *r, CURLcode rc)
{
    char msg[CURL_ERROR_SIZE + 64];
    httpc_response_t *res = NULL;
    int err = 0;
    if (rc == CURLE_OK && r->fit == HTTPC_FIT && !(res = httpc_response_take(r)))
        err = HTTPC_ENOMEM;
    else if (!res)
        err = httpc_error_of(rc, r->fit);
    if (r->fit == HTTPC_BODY_TOO_LARGE || rc == CURLE_FILESIZE_EXCEEDED)
        snprintf(msg, sizeof(msg), "the answer's body is larger than %zu bytes",
                 r->client->max_response_bytes);
    else if (r->fit == HTTPC_HEADERS_TOO_LARGE)
        snprintf(msg, sizeof(msg), "the answer's headers are larger than %d bytes",
                 HTTPC_MAX_HEADER_BYTES);
    else if (err == HTTPC_ENOMEM)
        snprintf(msg, sizeof(msg), "%s", httpc_strerror(err));
    else
        snprintf(msg, sizeof(msg), "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
    httpc_done_cb cb = r->cb;
    void *ud = r->ud;
    httpc_req_free(r);
    if (cb)
        cb(err, res, err ? msg : NULL, ud);
    else
        httpc_response_free(res);
}

/* Finished transfers, after libcurl ran: their callbacks may start or abandon others. */
static void httpc_collect(httpc_t *c)
{
    CURLMsg *m;
    int left;
    while (c->multi && (m = curl_multi_info_read(c->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        httpc_req_t *r = NULL;
        CURLcode rc = m->data.result;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        httpc_finish(r, rc);
    }
}

/* ---- the loop's side ---------------------------------------------------------------------- */

static void httpc_on_poll(uv_poll_t *p, int status, int events)
{
    httpc_sock_t *s = p->data;
    httpc_t *c = s->client;
    int flags = status < 0 ? CURL_CSELECT_ERR : 0, running;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    httpc_collect(c);
}

static void httpc_on_timeout(uv_timer_t *t)
{
    httpc_t *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    httpc_collect(c);
}

static void httpc_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void httpc_sock_close(httpc_sock_t *s)
{
    httpc_t *c = s->client;
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, httpc_sock_closed);
}

/* libcurl's CURLMOPT_SOCKETFUNCTION: watch fd for `what`, or stop watching it. */
static int httpc_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    httpc_t *c = userp;
    httpc_sock_t *s = socketp;
    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            httpc_sock_close(s); /* libcurl forgets the socket's pointer itself */
        return 0;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof(*s))))
            return -1;
        if (uv_poll_init_socket(c->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        s->poll.data = s;
        s->client = c;
        s->fd = fd;
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, httpc_on_poll) < 0 ? -1 : 0;
}

/* libcurl's CURLMOPT_TIMERFUNCTION: run it again in ms (0: on the next loop turn, never from
 * inside this callback), or not at all (-1). */
static int httpc_on_curl_timer(CURLM *multi, long ms, void *userp)
{
    httpc_t *c = userp;
    (void)multi;
    if (ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, httpc_on_timeout, (uint64_t)ms, 0);
    return 0;
}

/* ---- public ------------------------------------------------------------------------------- */

int httpc_new(uv_loop_t *loop, const httpc_opts_t *opts, httpc_t **out)
{
    *out = NULL;
    if (!opts->max_response_bytes)
        return HTTPC_EINVAL;
    /* Reference-counted and thread-safe in the libcurl Debian 12 ships (7.88). */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return HTTPC_ENOMEM;
    httpc_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->multi = curl_multi_init()) ||
        (opts->ca_file && !(c->ca_file = strdup(opts->ca_file)))) {
        if (c && c->multi)
            curl_multi_cleanup(c->multi);
        free(c);
        curl_global_cleanup();
        return HTTPC_ENOMEM;
    }
    c->loop = loop;
    c->max_response_bytes = opts->max_response_bytes;
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, httpc_on_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, httpc_on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    *out = c;
    return 0;
}

static void httpc_closed(uv_handle_t *h)
{
    httpc_t *c = h->data;
    free(c->ca_file);
    free(c);
}

void httpc_close(httpc_t *c)
{
    if (!c)
        return;
    c->closing = 1;
    while (c->reqs) {
        httpc_req_t *r = c->reqs;
        httpc_done_cb cb = r->cb;
        void *ud = r->ud;
        httpc_req_free(r);
        if (cb)
            cb(HTTPC_ECLOSED, NULL, httpc_strerror(HTTPC_ECLOSED), ud);
    }
    curl_multi_cleanup(c->multi); /* closes the idle connections it kept */
    c->multi = NULL;
    while (c->socks)
        httpc_sock_close(c->socks);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, httpc_closed);
    curl_global_cleanup();
}

size_t httpc_inflight(const httpc_t *c)
{
    return c ? c->nreqs : 0;
}

static int httpc_refuse(char *message, size_t msglen, int err, const char *fmt, const char *arg)
{
    if (message && msglen)
        snprintf(message, msglen, fmt, arg);
    return err;
}

/* RFC 9110's token: methods and header names. */
static int httpc_is_token(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if (!(*s >= '0' && *s <= '9') && !(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
            !strchr("!#$%&'*+-.^_`|~", *s))
            return 0;
    return 1;
}

/* Only absolute http(s) URLs; the reason goes to message. */
static int httpc_check_url(const char *url, char *message, size_t msglen)
{
    if (!url)
        return httpc_refuse(message, msglen, HTTPC_EBADURL, "%s", "no URL");
    CURLU *u = curl_url();
    if (!u)
        return HTTPC_ENOMEM;
    char *scheme = NULL;
    CURLUcode uc = curl_url_set(u, CURLUPART_URL, url, 0);
    if (uc == CURLUE_OK)
        uc = curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
    int rc = 0;
    if (uc != CURLUE_OK)
        rc = httpc_refuse(message, msglen, HTTPC_EBADURL, "bad URL: %s", curl_url_strerror(uc));
    else if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)
        rc = httpc_refuse(message, msglen, HTTPC_EBADURL, "%s",
                          "bad URL: only http:// and https:// URLs are allowed");
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

/* The request's headers as libcurl takes them, plus what turns off libcurl's own additions:
 * "Expect: 100-continue" (a second's wait on large bodies) and, for a body without a
 * Content-Type, its form-urlencoded default. */
static int httpc_headers(const httpc_request_t *q, int has_body, struct curl_slist **out,
                         char *message, size_t msglen)
{
    int content_type = 0;
    for (size_t i = 0; i < q->nheaders; i++) {
        const char *name = q->headers[i].name, *value = q->headers[i].value;
        if (!httpc_is_token(name))
            return httpc_refuse(message, msglen, HTTPC_EINVAL, "header name %s is not a token",
                                name ? name : "(none)");
        if (strcasecmp(name, "content-length") == 0 || strcasecmp(name, "transfer-encoding") == 0)
            return httpc_refuse(message, msglen, HTTPC_EINVAL,
                                "header %s is set by the client from the body", name);
        if (!value || strpbrk(value, "\r\n"))
            return httpc_refuse(message, msglen, HTTPC_EINVAL,
                                "header %s: its value may not hold a line break", name);
        content_type |= strcasecmp(name, "content-type") == 0;
        size_t n = strlen(name) + strlen(value) + 3;
        char *line = malloc(n);
        if (!line)
            return HTTPC_ENOMEM;
        /* "Name;" is libcurl's way to send an empty value ("Name:" would remove the header) */
        snprintf(line, n, *value ? "%s: %s" : "%s;", name, value);
        struct curl_slist *l = curl_slist_append(*out, line);
        free(line);
        if (!l)
            return HTTPC_ENOMEM;
        *out = l;
    }
    struct curl_slist *l = curl_slist_append(*out, "Expect:");
    if (l && has_body && !content_type)
        l = curl_slist_append(l, "Content-Type:");
    if (!l)
        return HTTPC_ENOMEM;
    *out = l;
    return 0;
}

/* The method and body; libcurl would otherwise pick the method from the options. */
static CURLcode httpc_set_method(CURL *e, const char *m, const httpc_request_t *q, int has_body)
{
    if (strcmp(m, "HEAD") == 0)
        return curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (!has_body)
        return strcmp(m, "GET") == 0 ? CURLE_OK : curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    CURLcode bad = curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_len);
    bad |= curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, q->body ? q->body : "");
    if (strcmp(m, "POST") != 0)
        bad |= curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
    return bad;
}

static CURLcode httpc_set_options(httpc_req_t *r, const httpc_request_t *q)
{
    httpc_t *c = r->client;
    CURL *e = r->easy;
    CURLcode bad = curl_easy_setopt(e, CURLOPT_URL, q->url);
    bad |= curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    bad |= curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    bad |= curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, q->max_redirects > 0 ? 1L : 0L);
    bad |= curl_easy_setopt(e, CURLOPT_MAXREDIRS, (long)q->max_redirects);
    bad |= curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)q->timeout_ms);
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    bad |= curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    /* libcurl's own CA directory (/etc/ssl/certs on Debian) stays in use beside the file */
    if (c->ca_file)
        bad |= curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
    bad |= curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, httpc_on_header);
    bad |= curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, httpc_on_body);
    bad |= curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    bad |= curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    bad |= curl_easy_setopt(e, CURLOPT_USERAGENT, HTTPC_USER_AGENT);
    bad |= curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    return bad;
}

int httpc_request(httpc_t *c, const httpc_request_t *q, httpc_done_cb cb, void *ud,
                  httpc_req_t **out, char *message, size_t msglen)
{
    if (out)
        *out = NULL;
    if (message && msglen)
        message[0] = '\0';
    if (c->closing)
        return httpc_refuse(message, msglen, HTTPC_ECLOSED, "%s", httpc_strerror(HTTPC_ECLOSED));
    const char *m = q->method ? q->method : "GET";
    if (!httpc_is_token(m))
        return httpc_refuse(message, msglen, HTTPC_EINVAL, "method %s is not a token", m);
    if (q->max_redirects < 0 || q->max_redirects > HTTPC_MAX_REDIRECTS)
        return httpc_refuse(message, msglen, HTTPC_EINVAL, "%s", "max_redirects is out of range");
    if (q->timeout_ms == 0) /* libcurl's 0 would mean "wait forever" */
        return httpc_refuse(message, msglen, HTTPC_EINVAL, "%s", "no timeout");
    int rc = httpc_check_url(q->url, message, msglen);
    if (rc < 0)
        return rc;
    int has_body =
        q->body || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 || strcmp(m, "PATCH") == 0;
    httpc_req_t *r = calloc(1, sizeof(*r));
    if (!r)
        return HTTPC_ENOMEM;
    r->client = c;
    r->cb = cb;
    r->ud = ud;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    c->nreqs++;
    if ((rc = httpc_headers(q, has_body, &r->headers, message, msglen)) < 0 ||
        (rc = (r->easy = curl_easy_init()) ? 0 : HTTPC_ENOMEM) < 0)
        goto fail;
    if (httpc_set_options(r, q) != CURLE_OK ||
        httpc_set_method(r->easy, m, q, has_body) != CURLE_OK) {
        rc = HTTPC_ENOMEM;
        goto fail;
    }
    if (curl_multi_add_handle(c->multi, r->easy) != CURLM_OK) {
        rc = HTTPC_ENOMEM;
        goto fail;
    }
    if (out)
        *out = r;
    return 0;
fail:
    if (rc == HTTPC_ENOMEM)
        httpc_refuse(message, msglen, rc, "%s", httpc_strerror(rc));
    httpc_req_free(r);
    return rc;
}

void httpc_request_abandon(httpc_req_t *r)
{
    if (!r)
        return;
    r->cb = NULL;
    httpc_req_free(r);
}

void httpc_response_free(httpc_response_t *res)
{
    if (!res)
        return;
    free(res->headers);
    free(res->block);
    free(res->body);
    free(res);
}

const char *httpc_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case HTTPC_EINVAL:
        return "bad request";
    case HTTPC_ENOMEM:
        return "out of memory";
    case HTTPC_EBADURL:
        return "bad URL";
    case HTTPC_ECONNECT:
        return "could not connect";
    case HTTPC_ETLS:
        return "TLS failed";
    case HTTPC_ETIMEOUT:
        return "timed out";
    case HTTPC_ETOO_LARGE:
        return "the answer is too large";
    case HTTPC_ECLOSED:
        return "the HTTP client closed";
    default:
        return "the request failed";
    }
}
