/* pg_session.c — one pool connection's session: reaching the server without blocking the
 * loop, and watching its socket.
 *
 * A name in DATABASE_URL is resolved with uv_getaddrinfo and handed to libpq as hostaddr, so
 * connecting never blocks; PQconnectPoll is driven from the socket's poll; the socket may
 * change (or be reopened under the same number) while connecting, so every connect step
 * re-registers the poll; a failed attempt backs off (100 ms doubling to 5 s) and retries; the
 * poll is stopped before PQfinish so libuv never watches a closed descriptor that another
 * connection may reuse. What runs on an established session is pg.c's. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "pg_int.h"

#define PG_BACKOFF_MIN_MS 100
#define PG_BACKOFF_MAX_MS 5000
#define PG_MAX_ADDRS 4

/* ---- small helpers ---------------------------------------------------------------------- */

void pg_free_handle(uv_handle_t *h)
{
    free(h);
}

/* libpq messages end with a newline and may span lines; logs want one line. */
void pg_conn_log(log_level_t level, const pg_conn_t *c, const char *what)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "%s", c->pq ? PQerrorMessage(c->pq) : "");
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    size_t n = strlen(msg);
    while (n && msg[n - 1] == ' ')
        msg[--n] = '\0';
    log_msg(level, NULL, "pg: %s%s%s", what, n ? ": " : "", msg);
}

static int is_ip_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* ---- socket watching -------------------------------------------------------------------- */

static void conn_unwatch(pg_conn_t *c)
{
    if (c->poll) {
        uv_poll_stop(c->poll);
        uv_close((uv_handle_t *)c->poll, pg_free_handle);
        c->poll = NULL;
    }
    c->events = 0;
}

int pg_conn_watch(pg_conn_t *c, int events)
{
    int fd = PQsocket(c->pq);
    if (fd < 0)
        return -1;
    if (c->poll && c->fd != fd)
        conn_unwatch(c);
    if (!c->poll) {
        c->poll = malloc(sizeof(uv_poll_t));
        if (!c->poll || uv_poll_init_socket(c->pool->loop, c->poll, fd) < 0) {
            free(c->poll);
            c->poll = NULL;
            return -1;
        }
        c->poll->data = c;
        c->fd = fd;
    } else if (c->state == PGC_CONNECTING) {
        /* libpq may have closed and reopened a socket under the same number: re-register. */
        uv_poll_stop(c->poll);
        c->events = 0;
    }
    if (events != c->events) {
        if (uv_poll_start(c->poll, events, pg_conn_on_poll) < 0)
            return -1;
        c->events = events;
    }
    return 0;
}

/* Ends the session: the poll stops before PQfinish closes the socket. */
void pg_conn_drop(pg_conn_t *c)
{
    conn_unwatch(c);
    if (c->pq)
        PQfinish(c->pq);
    c->pq = NULL;
    c->flushing = 0;
    c->piped = 0;
    pg_stmt_cache_clear(&c->stmts);
    if (c->cancel == 1)
        c->cancel = 0; /* the session it was for is gone */
    c->after_cancel = 0;
}

/* ---- connecting ------------------------------------------------------------------------- */

static void on_backoff(uv_timer_t *t)
{
    pg_conn_connect(t->data);
}

static void conn_connect_failed(pg_conn_t *c, const char *why)
{
    pg_pool_t *pool = c->pool;
    if (!pool->outage)
        pg_conn_log(LOG_WARN, c, why);
    pool->outage = 1;
    pg_conn_drop(c);
    c->failed = 1;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : PG_BACKOFF_MIN_MS;
    if (c->backoff_ms > PG_BACKOFF_MAX_MS)
        c->backoff_ms = PG_BACKOFF_MAX_MS;
    c->state = PGC_DOWN;
    uv_timer_start(c->timer, on_backoff, c->backoff_ms, 0);
    pg_pool_handoff_soon(pool); /* fails the waiters if the pool is down, from the loop */
}

static void conn_connected(pg_conn_t *c)
{
    uv_timer_stop(c->timer);
    if (PQsetnonblocking(c->pq, 1) < 0 || pg_conn_watch(c, UV_READABLE) < 0) {
        conn_connect_failed(c, "cannot set up the connection");
        return;
    }
    if (c->pool->outage)
        log_info("pg: connection re-established");
    c->pool->outage = 0;
    c->failed = 0;
    c->backoff_ms = 0;
    pg_pool_conn_idle(c);
}

void pg_conn_connect_step(pg_conn_t *c)
{
    switch (PQconnectPoll(c->pq)) {
    case PGRES_POLLING_READING:
        if (pg_conn_watch(c, UV_READABLE) < 0)
            conn_connect_failed(c, "cannot watch the socket");
        return;
    case PGRES_POLLING_WRITING:
        if (pg_conn_watch(c, UV_WRITABLE) < 0)
            conn_connect_failed(c, "cannot watch the socket");
        return;
    case PGRES_POLLING_OK:
        conn_connected(c);
        return;
    default:
        conn_connect_failed(c, "cannot connect");
        return;
    }
}

/* Server notices (NOTICE, the FATAL before a terminated session) go to the log, not stderr. */
static void on_notice(void *arg, const char *message)
{
    log_debug("pg: notice: %.*s", (int)strcspn(message, "\n"), message);
}

/* hostaddr/hosts are parallel comma-separated lists (resolved names), or NULL. */
static void conn_start(pg_conn_t *c, const char *hosts, const char *hostaddr)
{
    pg_pool_t *pool = c->pool;
    const char *keys[] = {"dbname", "options", "application_name", "host", "hostaddr", NULL};
    const char *vals[] = {pool->url, pool->options, "speezy", hosts, hostaddr, NULL};
    if (!hostaddr)
        keys[3] = NULL;
    c->pq = PQconnectStartParams(keys, vals, 1);
    c->state = PGC_CONNECTING;
    if (!c->pq || PQstatus(c->pq) == CONNECTION_BAD) {
        conn_connect_failed(c, "cannot start connecting");
        return;
    }
    PQsetNoticeProcessor(c->pq, on_notice, NULL);
    /* libpq's protocol: after PQconnectStart, wait as if PQconnectPoll said WRITING. */
    if (pg_conn_watch(c, UV_WRITABLE) < 0)
        conn_connect_failed(c, "cannot watch the socket");
}

static int append_addr(char *buf, size_t cap, size_t *len, const struct addrinfo *ai)
{
    char ip[INET6_ADDRSTRLEN];
    const void *src = ai->ai_family == AF_INET
                          ? (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr
                          : (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
    if (!inet_ntop(ai->ai_family, src, ip, sizeof(ip)))
        return 0;
    int n = snprintf(buf + *len, cap - *len, "%s%s", *len ? "," : "", ip);
    if (n < 0 || (size_t)n >= cap - *len)
        return 0;
    *len += (size_t)n;
    return 1;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
    pg_conn_t *c = req->data;
    free(req);
    if (!c) { /* the connection closed or timed out meanwhile */
        uv_freeaddrinfo(ai);
        return;
    }
    c->gai = NULL;
    char addrs[PG_MAX_ADDRS * (INET6_ADDRSTRLEN + 1)];
    size_t len = 0;
    int n = 0;
    for (const struct addrinfo *a = status == 0 ? ai : NULL; a && n < PG_MAX_ADDRS; a = a->ai_next)
        if (a->ai_family == AF_INET || a->ai_family == AF_INET6)
            n += append_addr(addrs, sizeof(addrs), &len, a);
    uv_freeaddrinfo(ai);
    size_t hlen = strlen(c->pool->host) + 1;
    char *hosts = n ? malloc(hlen * (size_t)n) : NULL;
    if (!hosts) {
        conn_connect_failed(c, "cannot resolve the database host");
        return;
    }
    for (int i = 0; i < n; i++) {
        memcpy(hosts + hlen * (size_t)i, c->pool->host, hlen - 1);
        hosts[hlen * (size_t)i + hlen - 1] = i + 1 < n ? ',' : '\0';
    }
    conn_start(c, hosts, addrs);
    free(hosts);
}

static void on_connect_timeout(uv_timer_t *t)
{
    pg_conn_t *c = t->data;
    if (c->gai) {
        c->gai->data = NULL;
        uv_cancel((uv_req_t *)c->gai);
        c->gai = NULL;
    }
    conn_connect_failed(c, "connect timeout");
}

void pg_conn_connect(pg_conn_t *c)
{
    pg_pool_t *pool = c->pool;
    uv_timer_start(c->timer, on_connect_timeout, pool->opts.connect_timeout_ms, 0);
    if (!pool->host) {
        conn_start(c, NULL, NULL);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai = malloc(sizeof(uv_getaddrinfo_t));
    c->state = PGC_RESOLVING;
    if (!c->gai) {
        conn_connect_failed(c, "out of memory");
        return;
    }
    c->gai->data = c;
    if (uv_getaddrinfo(pool->loop, c->gai, on_resolved, pool->host, NULL, &hints) < 0) {
        free(c->gai);
        c->gai = NULL;
        conn_connect_failed(c, "cannot resolve the database host");
    }
}

/* ---- the URL ---------------------------------------------------------------------------- */

/* The user's own "options" keep working; ours follow (libpq applies -c left to right). */
static char *session_options(const char *user, unsigned statement_timeout_ms)
{
    char buf[1024];
    int n =
        snprintf(buf, sizeof(buf), "%s%s-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=%u",
                 user ? user : "", user && *user ? " " : "", statement_timeout_ms);
    return n > 0 && (size_t)n < sizeof(buf) ? strdup(buf) : NULL;
}

/* Reads host/hostaddr/options from the URL: decides whether the host needs resolving. */
int pg_pool_parse_url(pg_pool_t *pool, const char *url)
{
    PQconninfoOption *opts = PQconninfoParse(url, NULL);
    if (!opts)
        return PG_EINVAL;
    const char *host = NULL, *hostaddr = NULL, *user_options = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val || !*o->val)
            continue;
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "hostaddr") == 0)
            hostaddr = o->val;
        else if (strcmp(o->keyword, "options") == 0)
            user_options = o->val;
    }
    /* A socket path, a list of hosts or an address needs no lookup (lists: libpq's own). */
    int resolve = host && !hostaddr && host[0] != '/' && host[0] != '@' && !strchr(host, ',') &&
                  !is_ip_literal(host);
    pool->host = resolve ? strdup(host) : NULL;
    pool->options = session_options(user_options, pool->opts.statement_timeout_ms);
    pool->url = strdup(url);
    PQconninfoFree(opts);
    return (resolve && !pool->host) || !pool->options || !pool->url ? PG_ENOMEM : 0;
}
