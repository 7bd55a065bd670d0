/* pg.c — the asynchronous libpq pool on one uv loop: queue, statements, transactions' holds.
 *
 * Each connection is a small state machine (see pg_conn_state_t in pg_int.h) driven by one
 * uv_poll_t on its socket; reaching the server is pg_session.c's. Here: callers queue for a
 * connection; pool statements (pg_pool_query) leave in batches in pipeline mode, a
 * connection's batch being a FIFO of statements each ended by its sync; sends flush until
 * PQflush returns 0 and results are drained while PQisBusy says they are complete. PQcancel
 * blocks, so an abandoned query of a released connection is cancelled from the threadpool,
 * then awaited, and its connection rolled back afterwards. */
#include "pg.h"
#include "pg_int.h"

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void conn_reset(pg_conn_t *c);

/* ---- waiters ---------------------------------------------------------------------------- */

static void waiter_unlink(pg_pool_t *pool, pg_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        pool->whead = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        pool->wtail = w->prev;
    pool->nwaiting--;
}

static void on_wait_timeout(uv_timer_t *t);

static void waiters_rearm(pg_pool_t *pool)
{
    if (pool->closing)
        return;
    if (!pool->whead) {
        uv_timer_stop(pool->wait_timer);
        return;
    }
    uint64_t now = uv_now(pool->loop), at = pool->whead->deadline;
    uv_timer_start(pool->wait_timer, on_wait_timeout, at > now ? at - now : 0, 0);
}

/* Tells a queued caller it gets no connection. */
static void waiter_fail(pg_waiter_t *w, int err)
{
    pg_query_t *q = w->query;
    pg_acquire_cb acquired = w->cb;
    void *ud = q ? q->ud : w->ud;
    pg_query_cb cb = q ? q->cb : NULL;
    free(w);
    free(q);
    if (cb)
        cb(NULL, NULL, err, ud);
    else
        acquired(NULL, err, ud);
}

static void on_wait_timeout(uv_timer_t *t)
{
    pg_pool_t *pool = t->data;
    if (pool->idle) { /* timers run before the handoff: it serves them this turn */
        pg_pool_handoff_soon(pool);
        return;
    }
    uint64_t now = uv_now(pool->loop);
    while (pool->whead && pool->whead->deadline <= now) {
        pg_waiter_t *w = pool->whead;
        waiter_unlink(pool, w);
        waiter_fail(w, PG_EUNAVAILABLE);
    }
    waiters_rearm(pool);
}

/* One at a time from the head: a callback may cancel another waiter or queue a new one (it
 * is refused: fail_waiters runs when the pool is closing or down). */
static void fail_waiters(pg_pool_t *pool, int err)
{
    pg_waiter_t *w;
    while ((w = pool->whead)) {
        waiter_unlink(pool, w);
        waiter_fail(w, err);
    }
    waiters_rearm(pool);
}

void pg_waiter_cancel(pg_waiter_t *w)
{
    pg_pool_t *pool = w->pool;
    waiter_unlink(pool, w);
    free(w);
    waiters_rearm(pool);
}

/* ---- the idle list ---------------------------------------------------------------------- */

static pg_conn_t *idle_pop(pg_pool_t *pool)
{
    pg_conn_t *c = pool->idle;
    pool->idle = c->next_idle;
    c->next_idle = NULL;
    c->state = PGC_BUSY;
    return c;
}

static void idle_remove(pg_pool_t *pool, pg_conn_t *c)
{
    for (pg_conn_t **p = &pool->idle; *p; p = &(*p)->next_idle) {
        if (*p == c) {
            *p = c->next_idle;
            c->next_idle = NULL;
            return;
        }
    }
}

static int pool_down(const pg_pool_t *pool);
static void conn_run_batch(pg_conn_t *c);

/* Serves the queue from the loop: idle connections to waiters (a batch of statements, or
 * one exclusive holder), and when the pool is down (a connect just failed, maybe inside a
 * caller's pg_pool_release), the rest fail fast. */
static void on_handoff(uv_idle_t *h)
{
    pg_pool_t *pool = h->data;
    while (pool->idle && pool->whead) {
        pg_waiter_t *w = pool->whead;
        pg_conn_t *c = idle_pop(pool);
        if (w->query) {
            conn_run_batch(c);
            continue;
        }
        waiter_unlink(pool, w);
        w->cb(c, 0, w->ud);
        free(w);
    }
    uv_idle_stop(h);
    if (pool->whead && pool_down(pool))
        fail_waiters(pool, PG_EUNAVAILABLE);
    waiters_rearm(pool);
}

void pg_pool_handoff_soon(pg_pool_t *pool)
{
    if (pool->whead && !pool->closing)
        uv_idle_start(pool->handoff, on_handoff);
}

void pg_pool_conn_idle(pg_conn_t *c)
{
    pg_pool_t *pool = c->pool;
    if (c->cancel) {
        c->state = PGC_RESETTING; /* a session (maybe a new one) waits for the cancel */
        c->after_cancel = CANCEL_THEN_IDLE;
        return;
    }
    c->state = PGC_IDLE;
    c->next_idle = pool->idle;
    pool->idle = c;
    pg_pool_handoff_soon(pool);
}

/* A pool is down when no session is up and at least one connect attempt failed. */
static int pool_down(const pg_pool_t *pool)
{
    int failed = 0;
    for (int i = 0; i < pool->opts.size; i++) {
        const pg_conn_t *c = &pool->conns[i];
        if (c->pq && c->state >= PGC_IDLE && c->state <= PGC_RESETTING)
            return 0;
        failed |= c->failed;
    }
    return failed;
}

/* ---- queries ---------------------------------------------------------------------------- */

static void queue_push(pg_conn_t *c, pg_query_t *q)
{
    q->next = NULL;
    if (c->qtail)
        c->qtail->next = q;
    else
        c->qhead = q;
    c->qtail = q;
}

static pg_query_t *queue_pop(pg_conn_t *c)
{
    pg_query_t *q = c->qhead;
    c->qhead = q->next;
    if (!c->qhead)
        c->qtail = NULL;
    return q;
}

static void query_set(pg_query_t *q, const char *sql, int nparams, const char *const *values,
                      const int *lengths, const int *formats, pg_query_cb cb, void *ud)
{
    *q = (pg_query_t){.sql = sql,
                      .nparams = nparams,
                      .values = values,
                      .lengths = lengths,
                      .formats = formats,
                      .cb = cb,
                      .ud = ud};
}

/* A statement taken off its connection: who is told, and how. */
typedef struct {
    pg_query_cb cb; /* NULL when abandoned */
    void *ud;
    pg_conn_t *holder; /* the exclusive holder's connection, NULL for a pool statement */
} query_end_t;

/* Detaches a statement's callback and frees a pool statement: the connection's own may be
 * reused (a ROLLBACK) before its outcome is reported. */
static query_end_t query_end(pg_conn_t *c, pg_query_t *q)
{
    query_end_t e = {q->cb, q->ud, q == &c->own ? c : NULL};
    q->cb = NULL;
    q->res = NULL;
    if (!e.holder)
        free(q);
    return e;
}

static void query_report(query_end_t e, PGresult *res, int err)
{
    if (e.cb)
        e.cb(e.holder, res, err, e.ud);
    PQclear(res);
}

static void query_finish(pg_conn_t *c, pg_query_t *q, PGresult *res, int err)
{
    query_report(query_end(c, q), res, err);
}

/* An established session broke (I/O error or EOF, or a statement it can't run): every
 * statement on it fails, the first with err, the ones sent after it with PG_ECONNLOST. */
static void conn_broken(pg_conn_t *c, int err)
{
    pg_query_t *q = c->qhead;
    c->qhead = c->qtail = NULL;
    pg_conn_log(LOG_WARN, c, "connection lost");
    pg_conn_drop(c);
    if (c->state == PGC_IDLE)
        idle_remove(c->pool, c);
    if (c->state == PGC_IDLE || c->state == PGC_SHARED || c->state == PGC_RESETTING)
        pg_conn_connect(c);
    /* PGC_BUSY: the holder gets the error; release reconnects. */
    while (q) {
        pg_query_t *next = q->next;
        PQclear(q->res);
        query_finish(c, q, NULL, err);
        err = PG_ECONNLOST;
        q = next;
    }
}

/* Every statement sent is answered: out of pipeline mode. A batch's connection goes back to
 * the idle list (a session a batch left inside a transaction block would swallow the next
 * batch, so it is not kept); a released one whose statement was abandoned is reset. */
static void conn_pipe_end(pg_conn_t *c, int abandoned)
{
    c->piped = 0;
    int ok = PQexitPipelineMode(c->pq);
    if (ok && c->state == PGC_SHARED && PQtransactionStatus(c->pq) != PQTRANS_IDLE)
        ok = 0;
    if (!ok) {
        pg_conn_log(LOG_ERROR, c, "statements did not end cleanly; reconnecting");
        pg_conn_drop(c);
        if (c->state != PGC_BUSY) /* a holder's release reconnects */
            pg_conn_connect(c);
    } else if (c->state == PGC_SHARED) {
        pg_pool_conn_idle(c);
    } else if (abandoned && c->state == PGC_RESETTING) {
        if (c->cancel == 1)
            c->cancel = 0; /* over before its cancel started: nothing to cancel */
        if (c->cancel)     /* a late cancel must not hit the ROLLBACK */
            c->after_cancel = CANCEL_THEN_RESET;
        else
            conn_reset(c);
    }
}

/* A prepared statement the session turns out not to have (DEALLOCATE, DISCARD) or whose plan
 * may not change its result type (DDL since): the next run prepares it afresh. */
static int query_stmt_stale(pg_conn_t *c, const pg_query_t *q, const PGresult *res)
{
    const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    const char *where = PQresultErrorField(res, PG_DIAG_SOURCE_FUNCTION);
    /* 0A000 is "feature not supported" at large: only the plan cache's own counts */
    int stale =
        state && (strcmp(state, "26000") == 0 || (strcmp(state, "0A000") == 0 && where &&
                                                  strcmp(where, "RevalidateCachedQuery") == 0));
    if (stale)
        pg_stmt_forget(&c->stmts, q->stmt, q->stmt_id);
    return stale;
}

static int pool_wait(pg_pool_t *pool, pg_acquire_cb cb, void *ud, pg_query_t *q, pg_waiter_t **out);

/* A pool statement that failed only because its prepared form was stale never ran: it goes
 * back to the queue (to be prepared afresh) instead of failing its caller. After DDL every
 * session that prepared it holds a stale plan and the retry may land on another of them, but
 * each forgets its own on failing, so it needs at most one retry per connection. */
static int query_retry(pg_conn_t *c, pg_query_t *q)
{
    if (q == &c->own || q->retries >= c->pool->opts.size || !q->cb || c->pool->closing ||
        pool_wait(c->pool, NULL, NULL, q, &q->waiter) != PG_WAIT)
        return 0;
    q->retries++;
    PQclear(q->res);
    q->res = NULL;
    pg_pool_handoff_soon(c->pool);
    return 1;
}

static void conn_query_done(pg_conn_t *c)
{
    pg_query_t *q = queue_pop(c);
    PGresult *res = q->res;
    int err = res ? pg_result_error(res) : PG_EDB;
    int retried = q->stmt && res && err && query_stmt_stale(c, q, res) && query_retry(c, q);
    query_end_t e = retried ? (query_end_t){0} : query_end(c, q);
    if (retried)
        res = NULL;
    if (PQstatus(c->pq) == CONNECTION_BAD) {
        err = PG_ECONNLOST;
        conn_broken(c, PG_ECONNLOST);
    } else if (!c->qhead) {
        conn_pipe_end(c, !e.cb);
    }
    query_report(e, res, err);
}

/* The Parse of a statement's first run: on success the session has it (and the result is
 * not the statement's); on failure its error is the statement's. */
static void query_parsed(pg_conn_t *c, pg_query_t *q, PGresult *r)
{
    q->parsing = 0;
    if (PQresultStatus(r) == PGRES_COMMAND_OK) {
        pg_stmt_prepared(q->stmt, q->stmt_id);
        PQclear(r);
        return;
    }
    pg_stmt_forget(&c->stmts, q->stmt, q->stmt_id);
    q->res = r;
}

/* Keeps the first result, or the first error when several arrive (a deferred constraint
 * fails at the commit that follows the statement's own result). */
static void query_keep_result(pg_query_t *q, PGresult *r)
{
    if (!q->res) {
        q->res = r;
    } else if (pg_result_error(q->res) == 0 && pg_result_error(r) != 0) {
        PQclear(q->res);
        q->res = r;
    } else {
        PQclear(r);
    }
}

/* Takes the complete results. Every statement runs in pipeline mode and ends at its sync,
 * when its implicit transaction has committed; NULLs only separate results. */
static void conn_collect(pg_conn_t *c)
{
    int nulls = 0;
    while (c->qhead && c->pq && !PQisBusy(c->pq)) {
        PGresult *r = PQgetResult(c->pq);
        if (!r) {
            if (++nulls > 1)
                break; /* nothing more until the server sends it */
            continue;
        }
        nulls = 0;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            conn_query_done(c);
        } else if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
            PQclear(r); /* COPY is not supported: the session is dropped and re-made */
            conn_broken(c, PG_EINVAL);
            return;
        } else if (c->qhead->parsing) {
            query_parsed(c, c->qhead, r);
        } else {
            query_keep_result(c->qhead, r);
        }
    }
    if (c->pq && c->state != PGC_CONNECTING && PQstatus(c->pq) == CONNECTION_BAD)
        conn_broken(c, PG_ECONNLOST);
}

/* Sends what libpq holds; what the socket can't take now goes when it is writable. */
static int conn_push(pg_conn_t *c)
{
    int r = PQflush(c->pq);
    if (r < 0 || pg_conn_watch(c, r ? UV_READABLE | UV_WRITABLE : UV_READABLE) < 0)
        return PG_ECONNLOST;
    c->flushing = r;
    return 0;
}

/* conn_push from the loop: a failure ends the session and fails its statements. */
static int conn_flush(pg_conn_t *c)
{
    if (conn_push(c) == 0)
        return 0;
    conn_broken(c, PG_ECONNLOST);
    return -1;
}

static void conn_io(pg_conn_t *c, int events)
{
    if ((events & UV_WRITABLE) && c->flushing && conn_flush(c) < 0)
        return;
    if (!(events & UV_READABLE))
        return;
    if (!PQconsumeInput(c->pq)) {
        conn_broken(c, PG_ECONNLOST);
        return;
    }
    if (c->flushing && conn_flush(c) < 0)
        return;
    PGnotify *n;
    while ((n = PQnotifies(c->pq)))
        PQfreemem(n);
    if (c->qhead)
        conn_collect(c);
    else if (PQstatus(c->pq) == CONNECTION_BAD)
        conn_broken(c, PG_ECONNLOST);
}

void pg_conn_on_poll(uv_poll_t *h, int status, int events)
{
    pg_conn_t *c = h->data;
    if (c->state == PGC_CONNECTING)
        pg_conn_connect_step(c);
    else if (status < 0)
        conn_broken(c, PG_ECONNLOST);
    else
        conn_io(c, events);
}

/* Writes one statement into libpq's buffer with its own sync, so that it commits or fails
 * alone: by name when the session has prepared it, prepared first when it is worth a name
 * (in the same write), unnamed otherwise. PG_ECONNLOST: the session can't be trusted. */
static int conn_write(pg_conn_t *c, pg_query_t *q)
{
    pg_stmt_t *st = c->pool->opts.prepared_max > 0 ? pg_stmt_get(&c->stmts, q->sql) : NULL;
    q->stmt = st && st->state != PG_STMT_PENDING ? st : NULL; /* pending: its Parse is out */
    q->parsing = 0;
    int ok;
    if (!q->stmt) {
        ok = PQsendQueryParams(c->pq, q->sql, q->nparams, NULL, q->values, q->lengths, q->formats,
                               0);
    } else {
        q->stmt_id = st->id;
        if (st->state == PG_STMT_NEW) {
            if (!PQsendPrepare(c->pq, st->name, q->sql, 0, NULL))
                return PQstatus(c->pq) == CONNECTION_BAD ? PG_ECONNLOST : PG_EINVAL;
            st->state = PG_STMT_PENDING;
            q->parsing = 1;
        }
        ok = PQsendQueryPrepared(c->pq, st->name, q->nparams, q->values, q->lengths, q->formats, 0);
        if (!ok && q->parsing)
            return PG_ECONNLOST; /* the Parse is queued without its statement */
    }
    if (!ok)
        return PQstatus(c->pq) == CONNECTION_BAD ? PG_ECONNLOST : PG_EINVAL;
    return PQpipelineSync(c->pq) ? 0 : PG_ECONNLOST; /* else half a statement is queued */
}

int pg_conn_query(pg_conn_t *c, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, pg_query_cb cb, void *ud)
{
    if (!c->pq)
        return c->pool->closing ? PG_ECLOSED : PG_ECONNLOST;
    if (c->qhead)
        return PG_EBUSY;
    query_set(&c->own, sql, nparams, values, lengths, formats, cb, ud);
    c->piped = PQenterPipelineMode(c->pq);
    int err = c->piped ? conn_write(c, &c->own) : PG_ECONNLOST;
    if (err == 0)
        err = conn_push(c);
    if (err == 0) {
        queue_push(c, &c->own);
        return 0;
    }
    if (err == PG_EINVAL && PQexitPipelineMode(c->pq)) {
        c->piped = 0; /* nothing was sent: the session is as it was */
        return err;
    }
    pg_conn_drop(c);
    return err;
}

void pg_conn_abandon(pg_conn_t *c)
{
    c->own.cb = NULL;
}

/* ---- pool statements -------------------------------------------------------------------- */

/* Holds a batch in libpq's buffer while it is written, so it leaves in one write and wakes
 * the server's backend once: the gate (pg_gate.c) for a plain session; TCP_CORK for an
 * encrypted one, where libpq's flush at every sync still costs a send each. */
static void conn_hold(const pg_conn_t *c, int on)
{
    if (!PQsslInUse(c->pq) && !PQgssEncInUse(c->pq)) {
        if (on)
            pg_gate_close(c->fd);
        else
            pg_gate_open();
        return;
    }
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_CORK, &on, sizeof(on)); /* fails on a Unix socket */
}

static int conn_enter_pipeline(pg_conn_t *c)
{
    c->state = PGC_SHARED;
    c->piped = PQenterPipelineMode(c->pq);
    return c->piped ? 0 : PG_ECONNLOST;
}

/* Gives a connection just taken from the idle list the statements at the head of the queue
 * (up to pipeline_depth) and sends them as one batch. Runs from the loop. */
static void conn_run_batch(pg_conn_t *c)
{
    pg_pool_t *pool = c->pool;
    int n = pool->opts.pipeline_depth, err = conn_enter_pipeline(c);
    const pg_waiter_t *second = pool->whead->next;
    int hold = n > 1 && second && second->query; /* one statement leaves as it is */
    if (hold)
        conn_hold(c, 1);
    pool->batches++;
    pg_query_t *refused = NULL; /* libpq took nothing of them: told once the batch is out */
    for (int i = 0; i < n && pool->whead && pool->whead->query; i++) {
        pg_waiter_t *w = pool->whead;
        pg_query_t *q = w->query;
        waiter_unlink(pool, w);
        free(w);
        q->waiter = NULL;
        int rc = err ? err : conn_write(c, q);
        if (rc == PG_EINVAL) {
            q->next = refused;
            refused = q;
            continue;
        }
        queue_push(c, q); /* even when unsent: conn_broken then fails it with the rest */
        pool->batched++;
        err = rc;
    }
    if (hold)
        conn_hold(c, 0);
    if (err < 0)
        conn_broken(c, PG_ECONNLOST);
    else if (conn_flush(c) == 0 && !c->qhead)
        conn_pipe_end(c, 0);
    while (refused) {
        pg_query_t *q = refused;
        refused = q->next;
        query_finish(c, q, NULL, PG_EINVAL);
    }
}

/* One statement on a connection just taken from the idle list, from the caller's stack: a
 * failure is returned, never called back. */
static int conn_run_one(pg_conn_t *c, pg_query_t *q)
{
    int err = conn_enter_pipeline(c);
    if (!err)
        err = conn_write(c, q);
    if (!err)
        err = conn_push(c);
    if (!err) {
        queue_push(c, q);
        c->pool->batches++;
        c->pool->batched++;
        return 0;
    }
    if (err == PG_EINVAL) {
        conn_pipe_end(c, 0); /* libpq took nothing: the session is as it was */
        return err;
    }
    pg_conn_drop(c); /* whatever reached libpq's queue is lost with the session */
    pg_conn_connect(c);
    return err;
}

int pg_pool_query(pg_pool_t *pool, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, pg_query_cb cb, void *ud,
                  pg_query_t **out)
{
    *out = NULL;
    if (pool->closing)
        return PG_ECLOSED;
    if (!sql || nparams < 0 || nparams > 65535 || pg_sql_controls_transaction(sql))
        return PG_EINVAL;
    pg_query_t *q = malloc(sizeof(*q));
    if (!q)
        return PG_ENOMEM;
    query_set(q, sql, nparams, values, lengths, formats, cb, ud);
    /* Even with a connection idle, the statement queues: the handoff, before the loop next
     * waits, sends it with whatever else this turn of the loop queued (a burst of requests),
     * one write and one server wake-up for all. A pool that may not wait can't do that. */
    int rc = pool->idle && !pool->whead && pool->opts.wait_ms == 0
                 ? conn_run_one(idle_pop(pool), q)
                 : pool_wait(pool, NULL, NULL, q, &q->waiter);
    if (rc == PG_WAIT)
        pg_pool_handoff_soon(pool);
    if (rc < 0) {
        free(q);
        return rc;
    }
    *out = q;
    return 0;
}

void pg_query_cancel(pg_query_t *q)
{
    if (!q->waiter) {
        q->cb = NULL; /* sent: dropped when its result comes */
        return;
    }
    pg_waiter_cancel(q->waiter);
    free(q);
}

/* ---- acquire / release ------------------------------------------------------------------ */

/* Queues a caller of pg_pool_acquire (cb) or a pool statement (q) for the next connection. */
static int pool_wait(pg_pool_t *pool, pg_acquire_cb cb, void *ud, pg_query_t *q, pg_waiter_t **out)
{
    if (pool->opts.wait_ms == 0 || pool_down(pool))
        return PG_EUNAVAILABLE;
    pg_waiter_t *w = calloc(1, sizeof(*w));
    if (!w)
        return PG_ENOMEM;
    w->pool = pool;
    w->cb = cb;
    w->ud = ud;
    w->query = q;
    w->deadline = uv_now(pool->loop) + pool->opts.wait_ms;
    w->prev = pool->wtail;
    if (pool->wtail)
        pool->wtail->next = w;
    else
        pool->whead = w;
    pool->wtail = w;
    pool->nwaiting++;
    if (w == pool->whead)
        waiters_rearm(pool);
    *out = w;
    return PG_WAIT;
}

int pg_pool_acquire(pg_pool_t *pool, pg_acquire_cb cb, void *ud, pg_conn_t **conn,
                    pg_waiter_t **waiter)
{
    *conn = NULL;
    *waiter = NULL;
    if (pool->closing)
        return PG_ECLOSED;
    if (pool->idle && !pool->whead) {
        *conn = idle_pop(pool);
        return PG_OK;
    }
    return pool_wait(pool, cb, ud, NULL, waiter);
}

static void on_rollback(pg_conn_t *c, const PGresult *res, int err, void *ud)
{
    if (err == PG_ECONNLOST || err == PG_ECLOSED || !c->pq)
        return; /* already reconnecting, or closing */
    if (err || PQtransactionStatus(c->pq) != PQTRANS_IDLE) {
        pg_conn_drop(c); /* a session we can't clean is not worth keeping */
        pg_conn_connect(c);
        return;
    }
    pg_pool_conn_idle(c);
}

static void conn_reset(pg_conn_t *c)
{
    if (PQtransactionStatus(c->pq) == PQTRANS_IDLE) {
        pg_pool_conn_idle(c);
        return;
    }
    c->state = PGC_RESETTING;
    if (pg_conn_query(c, "ROLLBACK", 0, NULL, NULL, NULL, on_rollback, NULL) < 0) {
        pg_conn_drop(c);
        pg_conn_connect(c);
    }
}

static void pool_maybe_free(pg_pool_t *pool)
{
    if (!pool->closing || pool->open_handles || pool->held)
        return;
    free(pool->conns);
    free(pool->url);
    free(pool->host);
    free(pool->options);
    free(pool);
}

/* PQcancel blocks (it connects to the server), so it runs on the threadpool with a copy of
 * the session's cancel key. One at a time per pool, so that a server that stops answering
 * can pin at most one threadpool thread (uv_getaddrinfo needs them too); the others wait.
 * A cancelled connection serves nobody until its cancel is done, so a late cancel can't
 * reach the next holder's statement. */
typedef struct {
    uv_work_t req;
    pg_conn_t *conn;
    PGcancel *key;
} pg_cancel_t;

static void conn_cancel_next(pg_pool_t *pool);

/* No cancel pending any more: the connection may serve again. */
static void conn_cancel_over(pg_conn_t *c)
{
    int then = c->after_cancel;
    c->cancel = 0;
    c->after_cancel = 0;
    if (c->pool->closing)
        return;
    if (then == CANCEL_THEN_IDLE)
        pg_pool_conn_idle(c);
    else if (then == CANCEL_THEN_RESET)
        conn_reset(c);
}

static void cancel_work(uv_work_t *req)
{
    pg_cancel_t *k = req->data;
    char why[256];
    PQcancel(k->key, why, sizeof(why));
}

static void cancel_done(uv_work_t *req, int status)
{
    pg_cancel_t *k = req->data;
    pg_conn_t *c = k->conn;
    pg_pool_t *pool = c->pool;
    PQfreeCancel(k->key);
    free(k);
    pool->cancelling = 0;
    pool->open_handles--;
    conn_cancel_over(c);
    if (!pool->closing)
        conn_cancel_next(pool);
    pool_maybe_free(pool);
}

static void conn_cancel_start(pg_conn_t *c)
{
    pg_pool_t *pool = c->pool;
    pg_cancel_t *k = malloc(sizeof(*k));
    if (k && (k->key = PQgetCancel(c->pq))) {
        k->conn = c;
        k->req.data = k;
        if (uv_queue_work(pool->loop, &k->req, cancel_work, cancel_done) == 0) {
            c->cancel = 2;
            pool->cancelling = 1;
            pool->open_handles++;
            return;
        }
        PQfreeCancel(k->key);
    }
    free(k);
    conn_cancel_over(c); /* the statement runs to its end (statement_timeout bounds it) */
}

static void conn_cancel_next(pg_pool_t *pool)
{
    for (int i = 0; i < pool->opts.size && !pool->cancelling; i++) {
        pg_conn_t *c = &pool->conns[i];
        if (c->cancel == 1)
            conn_cancel_start(c);
    }
}

/* An abandoned statement on a released connection: don't wait for it to run its course. */
static void conn_cancel(pg_conn_t *c)
{
    c->cancel = 1;
    if (!c->pool->cancelling)
        conn_cancel_start(c);
}

void pg_pool_release(pg_pool_t *pool, pg_conn_t *c)
{
    if (pool->closing) {
        c->state = PGC_CLOSED;
        pool->held--;
        pool_maybe_free(pool);
        return;
    }
    c->state = PGC_RESETTING;
    if (!c->pq)
        pg_conn_connect(c);
    else if (c->qhead) {
        c->own.cb = NULL; /* conn_query_done resets once it ends */
        conn_cancel(c);
    } else
        conn_reset(c);
}

/* ---- stats ------------------------------------------------------------------------------ */

void pg_pool_stats(const pg_pool_t *pool, pg_pool_stats_t *s)
{
    memset(s, 0, sizeof(*s));
    s->size = pool->opts.size;
    s->waiting = pool->nwaiting;
    s->batches = pool->batches;
    s->batched = pool->batched;
    for (int i = 0; i < pool->opts.size; i++) {
        const pg_conn_t *c = &pool->conns[i];
        s->idle += c->state == PGC_IDLE;
        s->busy += c->state >= PGC_SHARED && c->state <= PGC_RESETTING;
        s->connected += c->pq && c->state >= PGC_IDLE && c->state <= PGC_RESETTING;
    }
}

/* ---- pool life -------------------------------------------------------------------------- */

static void on_pool_handle_closed(uv_handle_t *h)
{
    pg_pool_t *pool = h->data;
    free(h);
    pool->open_handles--;
    pool_maybe_free(pool);
}

/* Allocates every handle before initializing any, so a failure needs no uv_close. */
static int pool_init_handles(pg_pool_t *pool)
{
    int ok = (pool->wait_timer = malloc(sizeof(uv_timer_t))) != NULL;
    ok = (pool->handoff = malloc(sizeof(uv_idle_t))) != NULL && ok;
    for (int i = 0; i < pool->opts.size; i++)
        ok = (pool->conns[i].timer = malloc(sizeof(uv_timer_t))) != NULL && ok;
    if (!ok)
        return PG_ENOMEM;
    uv_timer_init(pool->loop, pool->wait_timer);
    uv_idle_init(pool->loop, pool->handoff);
    pool->wait_timer->data = pool->handoff->data = pool;
    pool->open_handles = 2;
    for (int i = 0; i < pool->opts.size; i++) {
        pg_conn_t *c = &pool->conns[i];
        c->pool = pool;
        pg_stmt_cache_init(&c->stmts, pool->opts.prepared_max > 0 ? pool->opts.prepared_max : 0);
        uv_timer_init(pool->loop, c->timer);
        c->timer->data = c;
    }
    return 0;
}

static void pool_free_unstarted(pg_pool_t *pool)
{
    for (int i = 0; pool->conns && i < pool->opts.size; i++)
        free(pool->conns[i].timer);
    free(pool->wait_timer);
    free(pool->handoff);
    pool->closing = 1;
    pool_maybe_free(pool);
}

int pg_pool_new(uv_loop_t *loop, const char *url, const pg_pool_opts_t *opts, pg_pool_t **out)
{
    *out = NULL;
    if (!loop || !url)
        return PG_EINVAL;
    pg_pool_t *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return PG_ENOMEM;
    pool->loop = loop;
    /* Options left at 0 take the setting's default from config.c, never a number of ours */
    pool->opts =
        opts ? *opts
             : (pg_pool_opts_t){
                   .wait_ms = (unsigned)config_default("PG_POOL_WAIT_MS"),
                   .statement_timeout_ms = (unsigned)config_default("PG_STATEMENT_TIMEOUT_MS"),
               };
    if (pool->opts.size <= 0)
        pool->opts.size = (int)config_default("PG_POOL_SIZE");
    if (!pool->opts.connect_timeout_ms)
        pool->opts.connect_timeout_ms = (unsigned)config_default("PG_CONNECT_TIMEOUT_MS");
    if (pool->opts.pipeline_depth <= 0)
        pool->opts.pipeline_depth = (int)config_default("PG_PIPELINE_DEPTH");
    if (pool->opts.prepared_max == 0)
        pool->opts.prepared_max = (int)config_default("PG_PREPARED_STATEMENTS");
    pool->conns = calloc((size_t)pool->opts.size, sizeof(pg_conn_t));
    int rc = pool->conns ? pg_pool_parse_url(pool, url) : PG_ENOMEM;
    if (rc == 0)
        rc = pool_init_handles(pool);
    if (rc < 0) {
        pool_free_unstarted(pool);
        return rc;
    }
    for (int i = 0; i < pool->opts.size; i++)
        pg_conn_connect(&pool->conns[i]);
    *out = pool;
    return 0;
}

/* Ends one connection's session now; a held one stays allocated until released. */
static void conn_close(pg_conn_t *c)
{
    pg_query_t *q = c->qhead;
    c->qhead = c->qtail = NULL;
    if (c->gai) {
        c->gai->data = NULL;
        uv_cancel((uv_req_t *)c->gai);
        c->gai = NULL;
    }
    pg_conn_drop(c);
    if (c->timer)
        uv_close((uv_handle_t *)c->timer, pg_free_handle);
    c->timer = NULL;
    if (c->state == PGC_BUSY)
        c->pool->held++;
    else
        c->state = PGC_CLOSED;
    while (q) {
        pg_query_t *next = q->next;
        PQclear(q->res);
        query_finish(c, q, NULL, PG_ECLOSED);
        q = next;
    }
}

void pg_pool_close(pg_pool_t *pool)
{
    if (pool->closing)
        return;
    pool->closing = 1;
    fail_waiters(pool, PG_ECLOSED);
    pool->idle = NULL;
    for (int i = 0; i < pool->opts.size; i++)
        conn_close(&pool->conns[i]);
    uv_close((uv_handle_t *)pool->wait_timer, on_pool_handle_closed);
    uv_close((uv_handle_t *)pool->handoff, on_pool_handle_closed);
}
