/* test_pg.h — what the pool's unit tests share (include after test.h): the default loop run
 * until a flag is set, pools opened on the harness's server (SPEEZY_TEST_DATABASE_URL), one
 * statement run to completion (exec1), and a connection held for a transaction (hold_*). */
#ifndef SPEEZY_TEST_PG_H
#define SPEEZY_TEST_PG_H

#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "pg.h"

static uv_loop_t *loop;
static const char *db_url;

/* ---- loop helpers ----------------------------------------------------------------------- */

/* Stops the uv_run it fires in: libuv runs due timers before it polls, so a guard that fires
 * there leaves a UV_RUN_ONCE to poll with no timer left, forever when no I/O comes (a valgrind
 * run of test_pg_batch hung so, in epoll_wait with timeout -1, its guard fired). */
static inline void on_guard(uv_timer_t *t)
{
    *(int *)t->data = 1;
    uv_stop(t->loop);
}

/* Runs the loop until *flag becomes non-zero or ms pass; returns whether the flag was set. */
static inline int run_until(const int *flag, unsigned ms)
{
    int timed_out = 0;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    guard.data = &timed_out;
    uv_timer_start(&guard, on_guard, ms, 0);
    while (!*flag && !timed_out)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag != 0;
}

static inline void sleep_loop(unsigned ms)
{
    int never = 0;
    run_until(&never, ms);
}

static inline pg_pool_t *pool_open(const char *url, int size, unsigned wait_ms, unsigned stmt_ms)
{
    pg_pool_opts_t o = {.size = size, .wait_ms = wait_ms, .statement_timeout_ms = stmt_ms};
    pg_pool_t *pool = NULL;
    if (pg_pool_new(loop, url, &o, &pool) != 0)
        return NULL;
    return pool;
}

static inline int pool_connected(pg_pool_t *pool)
{
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    return s.connected;
}

/* Waits until n sessions are up. */
static inline int wait_connected(pg_pool_t *pool, int n, unsigned ms)
{
    uint64_t end = uv_now(loop) + ms;
    while (pool_connected(pool) < n && uv_now(loop) < end)
        sleep_loop(10);
    return pool_connected(pool) >= n;
}

static inline void pool_shut(pg_pool_t *pool)
{
    pg_pool_close(pool);
    sleep_loop(20); /* lets the close callbacks run */
}

/* ---- one query = acquire, run, release -------------------------------------------------- */

typedef struct {
    pg_pool_t *pool;
    const char *sql;
    const char *param;
    int done;
    int err;
    char value[64];
} job_t;

static inline void job_result(pg_conn_t *conn, const PGresult *res, int err, void *ud)
{
    job_t *j = ud;
    j->err = err;
    if (res && err == 0 && PQntuples(res) > 0 && PQnfields(res) > 0)
        snprintf(j->value, sizeof(j->value), "%s", PQgetvalue(res, 0, 0));
    pg_pool_release(j->pool, conn);
    j->done = 1;
}

static inline void job_send(job_t *j, pg_conn_t *conn)
{
    const char *values[1] = {j->param};
    int rc = pg_conn_query(conn, j->sql, j->param ? 1 : 0, values, NULL, NULL, job_result, j);
    if (rc < 0) {
        pg_pool_release(j->pool, conn);
        j->err = rc;
        j->done = 1;
    }
}

static inline void job_acquired(pg_conn_t *conn, int err, void *ud)
{
    job_t *j = ud;
    if (err < 0) {
        j->err = err;
        j->done = 1;
        return;
    }
    job_send(j, conn);
}

static inline void job_start(job_t *j)
{
    pg_conn_t *conn;
    pg_waiter_t *w;
    int rc = pg_pool_acquire(j->pool, job_acquired, j, &conn, &w);
    if (rc == PG_OK)
        job_send(j, conn);
    else if (rc < 0)
        job_acquired(NULL, rc, j);
}

/* Runs one statement to completion; returns its error code (value in j->value). */
static inline int exec1(pg_pool_t *pool, const char *sql, const char *param, job_t *j)
{
    memset(j, 0, sizeof(*j));
    j->pool = pool;
    j->sql = sql;
    j->param = param;
    job_start(j);
    if (!run_until(&j->done, 5000))
        return 1;
    return j->err;
}

/* ---- holding a connection (for transactions and waits) ---------------------------------- */

typedef struct {
    pg_conn_t *conn;
    int done, err, calls;
    char value[32];
} hold_t;

static inline void hold_acquired(pg_conn_t *conn, int err, void *ud)
{
    hold_t *h = ud;
    h->conn = conn;
    h->err = err;
    h->done = 1;
}

static inline int hold(pg_pool_t *pool, hold_t *h, unsigned ms)
{
    memset(h, 0, sizeof(*h));
    pg_waiter_t *w;
    int rc = pg_pool_acquire(pool, hold_acquired, h, &h->conn, &w);
    if (rc == PG_OK)
        return 0;
    if (rc < 0)
        return rc;
    run_until(&h->done, ms);
    return h->done ? h->err : 1;
}

static inline void hold_result(pg_conn_t *conn, const PGresult *res, int err, void *ud)
{
    hold_t *h = ud;
    h->err = err;
    h->calls++;
    if (res && err == 0 && PQntuples(res) > 0)
        snprintf(h->value, sizeof(h->value), "%s", PQgetvalue(res, 0, 0));
    h->done = 1;
}

/* Runs sql on the held connection and waits for it. */
static inline int hold_exec(hold_t *h, const char *sql)
{
    h->done = 0;
    int rc = pg_conn_query(h->conn, sql, 0, NULL, NULL, NULL, hold_result, h);
    if (rc < 0)
        return rc;
    if (!run_until(&h->done, 5000))
        return 1;
    return h->err;
}

/* A database test that silently passes would hide a broken harness. */
TEST(database_url_is_set)
{
    if (!db_url)
        fprintf(stderr, "  SPEEZY_TEST_DATABASE_URL is not set: these tests need a real "
                        "PostgreSQL (make test starts one)\n");
    CHECK(db_url != NULL);
}

#endif
