/* redis.c — async Redis client: hiredis 0.14 contexts on the worker's libuv loop.
 *
 * Lifetimes follow hiredis: a context is one connection, and hiredis decides when it frees
 * one (EOF, error, failed connect, or our redisAsyncFree, deferred while inside one of its
 * callbacks). Before freeing it runs every pending callback with a NULL reply, then the event
 * glue's cleanup hook. So a command struct is freed in its hiredis callback and a
 * connection struct in the cleanup hook: nothing is freed twice or under hiredis' feet.
 *
 * A connection marked CONN_DEAD is already being freed by someone (hiredis, or the code that
 * marked it); nobody else touches its context, and user callbacks run only after the mark, so
 * nothing a callback does can free a connection that a loop is walking. URLs are parsed in
 * redis_url.c, commands classified in redis_command.c. */
#include "redis.h"

#include <hiredis/async.h>

#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

#define REDIS_BACKOFF_MIN_MS 100
#define REDIS_BACKOFF_MAX_MS 5000

typedef enum { CONN_CONNECTING, CONN_HANDSHAKE, CONN_READY, CONN_DEAD } conn_state_t;

typedef struct redis_conn redis_conn_t;

struct redis_cmd {
    redis_conn_t *conn;
    redis_reply_cb cb;         /* NULL once abandoned or failed */
    redis_status_cb status_cb; /* redis_ping's callback instead of cb */
    void *ud;
    uint64_t sent_ms;
    uint64_t block_ms;        /* a blocking command's own timeout (REDIS_BLOCK_FOREVER: none) */
    redis_cmd_t *prev, *next; /* the connection's outstanding commands, oldest first */
};

struct redis_conn {
    redis_client_t *client;
    redisAsyncContext *ac;
    redis_cmd_t *head, *tail;
    uint64_t started_ms;
    conn_state_t state;
    int handshake_left; /* AUTH/SELECT/PING replies still expected before it is ready */
    int blocking;       /* a dedicated connection of the pool */
    int busy;           /* a blocking command runs on it */
    int must_free;      /* marked dead by redis_client_close, which frees it */
    redis_conn_t *next; /* every live connection struct of the client */
};

struct redis_client {
    uv_loop_t *loop;
    redis_url_t url;
    /* url.host resolved by us, so that hiredis never blocks the loop on DNS */
    char addr[sizeof(((redis_url_t *)0)->host)];
    unsigned timeout_ms;
    unsigned connect_timeout_ms;
    int pool_max;
    redis_conn_t *main; /* NULL while down */
    redis_conn_t *conns;
    size_t pending;
    uv_timer_t timer; /* connect deadlines and the oldest command's deadline */
    uint64_t timer_due;
    uv_timer_t retry; /* reconnect backoff */
    uv_idle_t flush;  /* sends what connections buffered, before the loop next waits */
    size_t writes;
    size_t write_waits;
    size_t poll_restarts;
    uv_getaddrinfo_t gai;
    int resolving;
    unsigned backoff_ms;
    int refs; /* open handles, live connections and a pending resolve */
    int closing;
    int reported_down;    /* logged once per outage, not once per retry */
    int reported_refused; /* a handshake refusal (AUTH, SELECT, LOADING...), likewise */
    int first_done;       /* the first connect attempt is over, whatever its outcome */
};

static void client_connect(redis_client_t *c);
static void client_arm_timer(redis_client_t *c);

/* ---- event glue ----------------------------------------------------------------------
 * Our own libuv glue rather than hiredis 0.14's adapters/libuv.h: that adapter drops poll
 * errors (libuv stops the handle on one, so a refused connect or a reset socket would hang
 * forever), and its attach installs its cleanup hook before its malloc and uv_poll_init can
 * fail, after which redisAsyncFree() calls the hook with NULL. Here hiredis reads the socket
 * error itself (as upstream hiredis does since 1.0), and the hooks are installed only once
 * the poll handle exists. The handle outlives its context: hiredis calls the cleanup hook
 * exactly once per context, which closes the handle; libuv's close callback frees it.
 *
 * Writes do not wait for the poll. hiredis asks for writability (addWrite) after every
 * command it buffers; once connected that only marks the connection, and the client's flush
 * handle (an idle handle, so it runs before the loop next waits, whichever phase issued the
 * command) hands each marked buffer to hiredis, which sends it with one write(2): every
 * command the coroutines issued in that loop turn leaves together. Never from inside
 * redis_command: a write that fails frees the connection conn_send is still using. Only a
 * socket that took less than the whole buffer, or a connect in progress, makes the handle
 * poll for writability, until hiredis has sent the rest (delWrite). Reading stays polled from
 * connect to close, and the handle is restarted only when what it polls for changes: libuv
 * 1.44's uv_poll_start takes the descriptor out of epoll at once and puts it back at the next
 * poll, which cost an epoll_ctl per command when every command restarted it. */

typedef struct {
    uv_poll_t handle;
    redisAsyncContext *ac;  /* NULL once hiredis is freeing the context */
    redis_client_t *client; /* valid while ac is */
    int events;             /* what the handle polls for (0: stopped) */
    int out;                /* output waits for the flush handle */
    int writing;            /* inside hiredis' write: an addWrite then means the socket is full */
} conn_poll_t;

static void conn_on_poll(uv_poll_t *handle, int status, int events);

static void conn_poll_set(conn_poll_t *p, int events)
{
    if (events == p->events)
        return;
    p->events = events;
    p->client->poll_restarts++;
    if (events)
        uv_poll_start(&p->handle, events, conn_on_poll);
    else
        uv_poll_stop(&p->handle);
}

/* hiredis writes what the socket takes (or completes the connect), then asks to poll for the
 * rest or stops polling for writability. It may free the context, never p. */
static void conn_write(conn_poll_t *p)
{
    p->client->writes++;
    p->writing = 1;
    redisAsyncHandleWrite(p->ac);
    p->writing = 0;
}

static void conn_on_poll(uv_poll_t *handle, int status, int events)
{
    conn_poll_t *p = handle->data;
    int ev = events;
    if (status < 0) { /* libuv stopped the handle; hiredis meets the error reading or writing */
        ev = p->events;
        p->events = 0;
    }
    if (p->ac && (ev & UV_READABLE))
        redisAsyncHandleRead(p->ac);
    if (p->ac && (ev & UV_WRITABLE)) /* the read may have freed the context */
        conn_write(p);
}

static void conn_add_read(void *data)
{
    conn_poll_t *p = data;
    conn_poll_set(p, p->events | UV_READABLE);
}

static void conn_del_read(void *data)
{
    conn_poll_t *p = data;
    conn_poll_set(p, p->events & ~UV_READABLE);
}

static void client_on_flush(uv_idle_t *h);

static void conn_add_write(void *data)
{
    conn_poll_t *p = data;
    if (!(p->ac->c.flags & REDIS_CONNECTED)) { /* writability says the connect is over */
        conn_poll_set(p, p->events | UV_WRITABLE);
    } else if (p->writing) { /* the socket took part of the buffer: the rest once it drains */
        p->client->write_waits++;
        conn_poll_set(p, p->events | UV_WRITABLE);
    } else if (!p->out && !(p->events & UV_WRITABLE)) { /* while polling, the poll sends it */
        p->out = 1;
        uv_idle_start(&p->client->flush, client_on_flush);
    }
}

static void conn_del_write(void *data)
{
    conn_poll_t *p = data;
    p->out = 0;
    conn_poll_set(p, p->events & ~UV_WRITABLE);
}

static void conn_on_poll_closed(uv_handle_t *h)
{
    free(h->data);
}

static void conn_on_cleanup(void *data);

static int conn_attach(redisAsyncContext *ac, redis_client_t *c)
{
    conn_poll_t *p = calloc(1, sizeof(*p));
    if (!p)
        return REDIS_ENOMEM;
    if (uv_poll_init(c->loop, &p->handle, ac->c.fd) < 0) { /* nothing to close then */
        free(p);
        return REDIS_EUNAVAILABLE;
    }
    p->handle.data = p;
    p->ac = ac;
    p->client = c;
    ac->ev.data = p;
    ac->ev.addRead = conn_add_read;
    ac->ev.delRead = conn_del_read;
    ac->ev.addWrite = conn_add_write;
    ac->ev.delWrite = conn_del_write;
    ac->ev.cleanup = conn_on_cleanup;
    return 0;
}

/* The next live connection whose output waits for the flush. */
static conn_poll_t *client_next_out(const redis_client_t *c)
{
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next) {
        if (conn->state == CONN_DEAD)
            continue;
        conn_poll_t *p = conn->ac->ev.data;
        if (p->out)
            return p;
    }
    return NULL;
}

/* Runs before the loop waits again. A write that fails frees its connection and runs its
 * callbacks, which may close others or the client: look again from the start each time. */
static void client_on_flush(uv_idle_t *h)
{
    redis_client_flush(h->data);
}

void redis_client_flush(redis_client_t *c)
{
    uv_idle_stop(&c->flush);
    conn_poll_t *p;
    while ((p = client_next_out(c)) != NULL) {
        p->out = 0;
        conn_write(p);
    }
}

/* ---- connections -------------------------------------------------------------------- */

static void client_unref(redis_client_t *c)
{
    if (--c->refs == 0)
        free(c);
}

static void client_report_down(redis_client_t *c, const char *why)
{
    if (c->reported_down || c->closing)
        return;
    c->reported_down = 1;
    log_warn("redis: cannot connect to %s:%d (%s); retrying with backoff", c->url.host, c->url.port,
             why);
}

static void client_on_retry(uv_timer_t *t)
{
    redis_client_t *c = t->data;
    if (!c->main && !c->resolving)
        client_connect(c);
}

static void client_schedule_retry(redis_client_t *c)
{
    c->first_done = 1;
    if (c->closing)
        return;
    uv_timer_start(&c->retry, client_on_retry, c->backoff_ms, 0);
    c->backoff_ms =
        c->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* Idempotent: the connection takes no new commands; losing the main one schedules a retry. */
static void conn_lost(redis_conn_t *conn)
{
    if (conn->state == CONN_DEAD)
        return;
    int was_ready = conn->state == CONN_READY;
    conn->state = CONN_DEAD;
    redis_client_t *c = conn->client;
    if (conn != c->main)
        return;
    c->main = NULL;
    if (was_ready && !c->closing && !c->reported_down) {
        c->reported_down = 1;
        log_warn("redis: connection to %s:%d lost; reconnecting", c->url.host, c->url.port);
    } else if (!was_ready) {
        client_report_down(c, conn->ac->c.errstr[0] ? conn->ac->c.errstr
                                                    : "closed during the handshake");
    }
    client_schedule_retry(c);
}

static void conn_release(redis_conn_t *conn)
{
    redis_client_t *c = conn->client;
    conn_lost(conn);
    for (redis_conn_t **p = &c->conns; *p; p = &(*p)->next) {
        if (*p == conn) {
            *p = conn->next;
            break;
        }
    }
    free(conn);
    client_unref(c);
}

/* Runs once per context, after hiredis ran every pending callback. */
static void conn_on_cleanup(void *data)
{
    conn_poll_t *p = data;
    redis_conn_t *conn = p->ac->data;
    p->ac = NULL;
    uv_close((uv_handle_t *)&p->handle, conn_on_poll_closed);
    conn_release(conn);
}

static void conn_close(redis_conn_t *conn)
{
    conn_lost(conn);
    redisAsyncFree(conn->ac);
}

static void cmd_unlink(redis_conn_t *conn, redis_cmd_t *cmd)
{
    if (cmd->prev)
        cmd->prev->next = cmd->next;
    else
        conn->head = cmd->next;
    if (cmd->next)
        cmd->next->prev = cmd->prev;
    else
        conn->tail = cmd->prev;
}

static int ping_status(const redisReply *r)
{
    return r->type == REDIS_REPLY_STATUS && r->len == 4 && memcmp(r->str, "PONG", 4) == 0
               ? 0
               : REDIS_EREPLY;
}

/* Runs the command's callback at most once. */
static void cmd_fire(redis_cmd_t *cmd, const redisReply *r, int err)
{
    redis_reply_cb cb = cmd->cb;
    redis_status_cb status_cb = cmd->status_cb;
    cmd->cb = NULL;
    cmd->status_cb = NULL;
    if (status_cb)
        status_cb(r ? ping_status(r) : err, cmd->ud);
    else if (cb)
        cb(r, err, cmd->ud);
}

static void conn_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    redis_cmd_t *cmd = privdata;
    redis_conn_t *conn = cmd->conn;
    if (!r) /* hiredis is freeing the context */
        conn_lost(conn);
    cmd_unlink(conn, cmd);
    conn->client->pending--;
    if (conn->blocking && !conn->head)
        conn->busy = 0;
    cmd_fire(cmd, r, r ? 0 : REDIS_EUNAVAILABLE);
    free(cmd);
}

static redis_cmd_t *conn_send(redis_conn_t *conn, int argc, const char **argv, const size_t *len,
                              redis_reply_cb cb, void *ud)
{
    redis_client_t *c = conn->client;
    redis_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (!cmd)
        return NULL;
    cmd->conn = conn;
    cmd->cb = cb;
    cmd->ud = ud;
    cmd->sent_ms = uv_now(c->loop);
    cmd->block_ms = REDIS_BLOCK_FOREVER; /* pool_send sets a blocking command's own */
    if (redisAsyncCommandArgv(conn->ac, conn_on_reply, cmd, argc, argv, len) != REDIS_OK) {
        free(cmd);
        return NULL;
    }
    cmd->prev = conn->tail;
    if (conn->tail)
        conn->tail->next = cmd;
    else
        conn->head = cmd;
    conn->tail = cmd;
    c->pending++;
    if (!uv_is_active((uv_handle_t *)&c->timer) || cmd->sent_ms + c->timeout_ms < c->timer_due)
        client_arm_timer(c);
    return cmd;
}

static void conn_ready(redis_conn_t *conn)
{
    redis_client_t *c = conn->client;
    conn->state = CONN_READY;
    if (conn != c->main)
        return;
    c->backoff_ms = REDIS_BACKOFF_MIN_MS;
    c->first_done = 1;
    c->reported_down = 0;
    c->reported_refused = 0;
    log_info("redis: connected to %s:%d", c->url.host, c->url.port);
}

static void conn_on_handshake(const redisReply *r, int err, void *ud)
{
    redis_conn_t *conn = ud;
    redis_client_t *c = conn->client;
    if (conn->state == CONN_DEAD) /* lost or failed: already handled */
        return;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (!c->reported_refused && !c->closing)
            log_error("redis: %s:%d refused the connection (AUTH/SELECT/PING): %s; retrying with "
                      "backoff",
                      c->url.host, c->url.port, r ? r->str : redis_strerror(err));
        c->reported_refused = 1;
        if (conn == c->main)
            c->reported_down = 1; /* that was this outage's line */
        conn_close(conn);
        return;
    }
    if (--conn->handshake_left == 0 && conn->state == CONN_HANDSHAKE)
        conn_ready(conn);
}

/* AUTH, SELECT and PING are queued before the connect completes; hiredis sends them first.
 * An accepted TCP connection proves nothing: a server at maxclients, one still loading its
 * data set or a proxy without a backend accepts, then fails or drops it. Only the PONG makes
 * the connection ready, and only then does the reconnect backoff start over. */
static int conn_handshake(redis_conn_t *conn)
{
    static const char *ping[] = {"PING"};
    static const size_t ping_len[] = {4};
    const redis_url_t *u = &conn->client->url;
    if (u->password[0]) {
        const char *argv[3] = {"AUTH"};
        size_t len[3] = {4};
        int argc = 1;
        if (u->user[0]) {
            argv[argc] = u->user;
            len[argc++] = strlen(u->user);
        }
        argv[argc] = u->password;
        len[argc++] = strlen(u->password);
        if (!conn_send(conn, argc, argv, len, conn_on_handshake, conn))
            return REDIS_ENOMEM;
        conn->handshake_left++;
    }
    if (u->db) {
        char db[16];
        const char *argv[2] = {"SELECT", db};
        size_t len[2] = {6, (size_t)snprintf(db, sizeof(db), "%d", u->db)};
        if (!conn_send(conn, 2, argv, len, conn_on_handshake, conn))
            return REDIS_ENOMEM;
        conn->handshake_left++;
    }
    if (!conn_send(conn, 1, ping, ping_len, conn_on_handshake, conn))
        return REDIS_ENOMEM;
    conn->handshake_left++;
    return 0;
}

static void conn_on_connect(const redisAsyncContext *ac, int status)
{
    redis_conn_t *conn = ac->data;
    if (status != REDIS_OK) {
        conn_lost(conn); /* logs it (main connection only); hiredis frees the context next */
        return;
    }
    if (conn->state != CONN_CONNECTING)
        return;
    redisEnableKeepAlive(&conn->ac->c); /* notice a vanished peer on idle connections */
    /* A dedicated connection's command already waits behind the handshake in the same pipe;
     * until the PONG it is bounded by connect_timeout_ms like the main one, after it by
     * nothing (blocking is what it is for). */
    conn->state = CONN_HANDSHAKE;
    client_arm_timer(conn->client);
}

static redis_conn_t *conn_open(redis_client_t *c, int blocking)
{
    redisAsyncContext *ac = redisAsyncConnect(c->addr, c->url.port);
    if (!ac)
        return NULL;
    if (ac->err) {
        client_report_down(c, ac->c.errstr);
        redisAsyncFree(ac);
        return NULL;
    }
    redis_conn_t *conn = calloc(1, sizeof(*conn));
    if (!conn || conn_attach(ac, c) < 0) {
        free(conn);
        redisAsyncFree(ac); /* no hooks installed: nothing of ours runs */
        return NULL;
    }
    ac->data = conn;
    conn->ac = ac;
    conn->client = c;
    conn->blocking = blocking;
    conn->state = CONN_CONNECTING;
    conn->started_ms = uv_now(c->loop);
    conn->next = c->conns;
    c->conns = conn;
    c->refs++;
    redisAsyncSetConnectCallback(ac, conn_on_connect);
    if (conn_handshake(conn) < 0) {
        conn_close(conn);
        return NULL;
    }
    client_arm_timer(c);
    return conn;
}

/* ---- client: connect, deadlines, pool ------------------------------------------------ */

static void client_open_main(redis_client_t *c)
{
    c->main = conn_open(c, 0);
    if (!c->main)
        client_schedule_retry(c);
}

static void client_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    redis_client_t *c = req->data;
    c->resolving = 0;
    if (!c->closing && (status < 0 || !res)) {
        client_report_down(c, uv_strerror(status));
        client_schedule_retry(c);
    } else if (!c->closing) {
        /* IPv4 first: "localhost" often lists ::1 first while redis binds 127.0.0.1 only. */
        const struct addrinfo *a = res;
        for (const struct addrinfo *p = res; p; p = p->ai_next) {
            if (p->ai_family == AF_INET) {
                a = p;
                break;
            }
        }
        if (a->ai_family == AF_INET6)
            uv_ip6_name((struct sockaddr_in6 *)a->ai_addr, c->addr, sizeof(c->addr));
        else
            uv_ip4_name((struct sockaddr_in *)a->ai_addr, c->addr, sizeof(c->addr));
        client_open_main(c);
    }
    uv_freeaddrinfo(res);
    client_unref(c);
}

/* hiredis resolves names with a blocking getaddrinfo(); resolve on the loop's thread pool. */
static void client_connect(redis_client_t *c)
{
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, c->url.host, buf) == 1 || inet_pton(AF_INET6, c->url.host, buf) == 1) {
        snprintf(c->addr, sizeof(c->addr), "%s", c->url.host);
        client_open_main(c);
        return;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, client_on_resolved, c->url.host, NULL, &hints);
    if (rc < 0) {
        client_report_down(c, uv_strerror(rc));
        client_schedule_retry(c);
        return;
    }
    c->resolving = 1;
    c->refs++;
}

/* Connect and handshake are bounded by connect_timeout_ms; on the main connection the oldest
 * outstanding command by timeout_ms (commands leave in FIFO order, so the head is enough); a
 * blocking command by its own timeout plus timeout_ms, so a hung server can't hold it longer
 * than the command asked for. */
static uint64_t conn_deadline(const redis_conn_t *conn)
{
    const redis_client_t *c = conn->client;
    const redis_cmd_t *head = conn->head;
    if (conn->state == CONN_CONNECTING || conn->state == CONN_HANDSHAKE)
        return conn->started_ms + c->connect_timeout_ms;
    if (conn->state != CONN_READY || !head)
        return UINT64_MAX;
    if (!conn->blocking)
        return head->sent_ms + c->timeout_ms;
    if (head->block_ms != REDIS_BLOCK_FOREVER)
        return head->sent_ms + head->block_ms + c->timeout_ms;
    return UINT64_MAX;
}

static void client_on_timer(uv_timer_t *t);

static void client_arm_timer(redis_client_t *c)
{
    if (c->closing)
        return;
    uint64_t next = UINT64_MAX;
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next) {
        uint64_t d = conn_deadline(conn);
        next = d < next ? d : next;
    }
    if (next == UINT64_MAX) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    c->timer_due = next;
    uv_timer_start(&c->timer, client_on_timer, next > now ? next - now : 0, 0);
}

/* Fails every outstanding command with err, then resets the connection. */
static void conn_fail(redis_conn_t *conn, int err)
{
    conn_lost(conn);
    for (redis_cmd_t *cmd = conn->head; cmd; cmd = cmd->next)
        cmd_fire(cmd, NULL, err);
    redisAsyncFree(conn->ac);
}

static redis_conn_t *client_expired(redis_client_t *c)
{
    uint64_t now = uv_now(c->loop);
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next)
        if (conn_deadline(conn) <= now)
            return conn;
    return NULL;
}

static void client_on_timer(uv_timer_t *t)
{
    redis_client_t *c = t->data;
    redis_conn_t *conn;
    /* Rescan after each failure: the callbacks it runs may close other connections. */
    while (!c->closing && (conn = client_expired(c)) != NULL) {
        if (conn->state == CONN_READY) {
            log_warn("redis: no reply from %s:%d within %u ms%s; resetting the connection",
                     c->url.host, c->url.port, c->timeout_ms,
                     conn->blocking ? " past the command's own timeout" : "");
            conn_fail(conn, REDIS_ETIMEOUT);
        } else {
            if (conn == c->main) /* a dedicated one just fails its command */
                client_report_down(c, "connect timeout");
            conn_fail(conn, REDIS_EUNAVAILABLE);
        }
    }
    client_arm_timer(c);
}

static redis_conn_t *pool_idle(redis_client_t *c, int *open)
{
    redis_conn_t *idle = NULL;
    *open = 0;
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next) {
        if (!conn->blocking || conn->state == CONN_DEAD)
            continue;
        (*open)++;
        if (!conn->busy)
            idle = conn;
    }
    return idle;
}

static int pool_send(redis_client_t *c, int argc, const char **argv, const size_t *len,
                     redis_reply_cb cb, void *ud, redis_cmd_t **out)
{
    int open;
    redis_conn_t *conn = pool_idle(c, &open);
    if (!conn && open >= c->pool_max)
        return REDIS_EBUSY;
    if (!conn && !(conn = conn_open(c, 1)))
        return REDIS_EUNAVAILABLE;
    redis_cmd_t *cmd = conn_send(conn, argc, argv, len, cb, ud);
    if (!cmd)
        return REDIS_EUNAVAILABLE;
    cmd->block_ms = redis_command_block_ms(argc, argv, len);
    conn->busy = 1;
    client_arm_timer(c);
    if (out)
        *out = cmd;
    return 0;
}

static int client_ready(const redis_client_t *c)
{
    return !c->closing && c->main && c->main->state == CONN_READY;
}

/* During the very first connect attempt, commands wait behind its handshake in hiredis'
 * buffer (bounded by connect_timeout_ms), so a worker that just started serves its first
 * requests; once an attempt failed or a connection was lost they fail fast until the
 * handshake is done again. */
static int client_accepts(const redis_client_t *c)
{
    return client_ready(c) ||
           (!c->closing && !c->first_done && c->main && c->main->state != CONN_DEAD);
}

/* ---- public API --------------------------------------------------------------------- */

int redis_client_new(uv_loop_t *loop, const char *url, const redis_opts_t *opts,
                     redis_client_t **out)
{
    *out = NULL;
    redis_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return REDIS_ENOMEM;
    if (redis_url_parse(url, &c->url) < 0) {
        free(c);
        return REDIS_EINVAL;
    }
    c->loop = loop;
    /* Options left at 0 take the setting's default from config.c: REDIS_TIMEOUT_MS bounds
     * the connect as well, as it does for the server's own client (worker.c) */
    unsigned def_timeout = (unsigned)config_default("REDIS_TIMEOUT_MS");
    c->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : def_timeout;
    c->connect_timeout_ms =
        opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : def_timeout;
    c->pool_max = opts && opts->blocking_pool > 0 ? opts->blocking_pool
                                                  : (int)config_default("REDIS_BLOCKING_POOL");
    c->backoff_ms = REDIS_BACKOFF_MIN_MS;
    uv_timer_init(loop, &c->timer);
    uv_timer_init(loop, &c->retry);
    uv_idle_init(loop, &c->flush);
    c->timer.data = c;
    c->retry.data = c;
    c->flush.data = c;
    c->refs = 3;
    client_connect(c);
    *out = c;
    return 0;
}

static void client_on_handle_closed(uv_handle_t *h)
{
    client_unref(h->data);
}

void redis_client_close(redis_client_t *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->timer, client_on_handle_closed);
    uv_close((uv_handle_t *)&c->retry, client_on_handle_closed);
    uv_close((uv_handle_t *)&c->flush, client_on_handle_closed);
    if (c->resolving)
        uv_cancel((uv_req_t *)&c->gai);
    /* Mark everything dead before any callback runs, so none of them can free a connection
     * these loops are walking; then nothing is delivered after this function returns. */
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next) {
        if (conn->state != CONN_DEAD) {
            conn_lost(conn);
            conn->must_free = 1;
        }
    }
    for (redis_conn_t *conn = c->conns; conn; conn = conn->next)
        for (redis_cmd_t *cmd = conn->head; cmd; cmd = cmd->next)
            cmd_fire(cmd, NULL, REDIS_EUNAVAILABLE);
    redis_conn_t *next;
    for (redis_conn_t *conn = c->conns; conn; conn = next) {
        next = conn->next;
        if (conn->must_free)
            redisAsyncFree(conn->ac);
    }
}

void redis_client_stats(const redis_client_t *c, redis_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    out->connected = client_ready(c);
    out->pending = c->pending;
    out->writes = c->writes;
    out->write_waits = c->write_waits;
    out->poll_restarts = c->poll_restarts;
    for (const redis_conn_t *conn = c->conns; conn; conn = conn->next) {
        if (!conn->blocking || conn->state == CONN_DEAD)
            continue;
        out->blocking_open++;
        out->blocking_busy += conn->busy;
    }
}

int redis_command(redis_client_t *c, int argc, const char **argv, const size_t *argvlen,
                  redis_reply_cb cb, void *ud, redis_cmd_t **out)
{
    if (out)
        *out = NULL;
    redis_class_t cls = redis_command_class(argc, argv, argvlen);
    if (cls == REDIS_CLASS_FORBIDDEN)
        return REDIS_EINVAL;
    if (!client_accepts(c))
        return REDIS_EUNAVAILABLE;
    if (cls == REDIS_CLASS_BLOCKING)
        return pool_send(c, argc, argv, argvlen, cb, ud, out);
    redis_cmd_t *cmd = conn_send(c->main, argc, argv, argvlen, cb, ud);
    if (!cmd)
        return REDIS_EUNAVAILABLE;
    if (out)
        *out = cmd;
    return 0;
}

void redis_command_abandon(redis_cmd_t *cmd)
{
    if (!cmd)
        return;
    cmd->cb = NULL;
    cmd->status_cb = NULL;
    /* The server may keep it blocked for a long time: the connection can't serve anyone. */
    if (cmd->conn->blocking && cmd->conn->state != CONN_DEAD)
        conn_close(cmd->conn);
}

int redis_ping(redis_client_t *c, redis_status_cb cb, void *ud, redis_cmd_t **out)
{
    static const char *argv[] = {"PING"};
    static const size_t len[] = {4};
    if (out)
        *out = NULL;
    if (!client_ready(c))
        return REDIS_EUNAVAILABLE;
    redis_cmd_t *cmd = conn_send(c->main, 1, argv, len, NULL, ud);
    if (!cmd)
        return REDIS_EUNAVAILABLE;
    cmd->status_cb = cb;
    if (out)
        *out = cmd;
    return 0;
}

redisReply *redis_reply_dup(const redisReply *r)
{
    redisReply *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    d->type = r->type;
    d->integer = r->integer;
    d->len = r->len;
    if (r->str) {
        if (!(d->str = malloc(r->len + 1)))
            goto fail;
        memcpy(d->str, r->str, r->len);
        d->str[r->len] = '\0';
    }
    if (r->type == REDIS_REPLY_ARRAY && r->elements) {
        if (!(d->element = calloc(r->elements, sizeof(*d->element))))
            goto fail;
        d->elements = r->elements;
        for (size_t i = 0; i < r->elements; i++)
            if (!(d->element[i] = redis_reply_dup(r->element[i])))
                goto fail;
    }
    return d;
fail:
    redis_reply_free(d);
    return NULL;
}

void redis_reply_free(redisReply *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->elements; i++)
        redis_reply_free(r->element[i]);
    free(r->element);
    free(r->str);
    free(r);
}

const char *redis_strerror(int err)
{
    switch (err) {
    case 0:
        return "ok";
    case REDIS_EINVAL:
        return "invalid Redis URL or command not allowed on a shared connection";
    case REDIS_ENOMEM:
        return "out of memory";
    case REDIS_EUNAVAILABLE:
        return "Redis is unavailable";
    case REDIS_ETIMEOUT:
        return "Redis did not answer in time";
    case REDIS_EBUSY:
        return "every connection for blocking commands is in use";
    case REDIS_EREPLY:
        return "Redis answered with an error";
    default:
        return "unknown Redis error";
    }
}
