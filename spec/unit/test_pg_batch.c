/* test_pg_batch.c — pool statements (pg_pool_query) against a real PostgreSQL: statements
 * that queue while every connection is busy leave in batches (pipeline mode), yet each one
 * still commits or fails alone, is cancelled alone, and fails cleanly with its session. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "pg.h"
#include "pg_int.h"
#include "test.h"
#include "test_pg.h"

typedef struct {
    int done, err, calls, with_conn;
    char value[64];
} stmt_t;

static void stmt_result(pg_conn_t *conn, const PGresult *res, int err, void *ud)
{
    stmt_t *s = ud;
    s->err = err;
    s->calls++;
    s->with_conn |= conn != NULL;
    if (res && err == 0 && PQntuples(res) > 0 && PQnfields(res) > 0)
        snprintf(s->value, sizeof(s->value), "%s", PQgetvalue(res, 0, 0));
    s->done = 1;
}

/* Starts sql with one optional text parameter; returns pg_pool_query's code. */
static int stmt_start(pg_pool_t *pool, stmt_t *s, const char *sql, const char *const *param,
                      pg_query_t **q)
{
    memset(s, 0, sizeof(*s));
    pg_query_t *unused;
    return pg_pool_query(pool, sql, param ? 1 : 0, param, NULL, NULL, stmt_result, s,
                         q ? q : &unused);
}

static int all_done(const stmt_t *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!s[i].done)
            return 0;
    return 1;
}

static int wait_all(const stmt_t *s, int n, unsigned ms)
{
    uint64_t end = uv_now(loop) + ms;
    while (!all_done(s, n) && uv_now(loop) < end)
        sleep_loop(5);
    return all_done(s, n);
}

/* A pool whose sessions are all up, or NULL. */
static pg_pool_t *pool_ready_with(const pg_pool_opts_t *o)
{
    pg_pool_t *pool = NULL;
    if (pg_pool_new(loop, db_url, o, &pool) != 0)
        return NULL;
    if (!wait_connected(pool, o->size, 5000)) {
        pool_shut(pool);
        return NULL;
    }
    return pool;
}

static pg_pool_t *pool_ready(int size, unsigned wait_ms)
{
    return pool_ready_with(&(pg_pool_opts_t){.size = size, .wait_ms = wait_ms});
}

/* CREATE TABLE name (columns), dropping what a crashed run left; returns the CREATE's code. */
static int fresh_table(pg_pool_t *pool, const char *name, const char *columns)
{
    char sql[512];
    job_t j;
    snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS %s", name);
    exec1(pool, sql, NULL, &j);
    snprintf(sql, sizeof(sql), "CREATE TABLE %s (%s)", name, columns);
    return exec1(pool, sql, NULL, &j);
}

TEST(transaction_blocks_are_refused)
{
    pg_pool_t *pool = pool_ready(1, 1000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s;
    CHECK(stmt_start(pool, &s, "/* x */ begin", NULL, NULL) == PG_EINVAL);
    CHECK(stmt_start(pool, &s, "SELECT 1", NULL, NULL) == 0);
    CHECK(wait_all(&s, 1, 5000) && s.err == 0 && strcmp(s.value, "1") == 0 && !s.with_conn);
    pool_shut(pool);
}

/* Runs sql (one optional parameter) on the pool and waits: its code, value in s->value. */
static int run1(pg_pool_t *pool, stmt_t *s, const char *sql, const char *param)
{
    const char *values[1] = {param};
    int rc = stmt_start(pool, s, sql, param ? values : NULL, NULL);
    if (rc < 0)
        return rc;
    return wait_all(s, 1, 5000) ? s->err : 1;
}

/* A plannable statement is parsed once per session and then run by name; others are not. */
TEST(statements_are_prepared_once_per_session)
{
    pg_pool_t *pool = pool_ready(1, 5000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s;
    for (int i = 0; i < 3; i++)
        CHECK(run1(pool, &s, "SELECT $1::int + 1", "41") == 0 && strcmp(s.value, "42") == 0);
    CHECK(run1(pool, &s, "SHOW TimeZone", NULL) == 0);
    CHECK(run1(pool, &s,
               "SELECT count(*) FILTER (WHERE statement = 'SELECT $1::int + 1') || ' ' || "
               "count(*) FILTER (WHERE statement = 'SHOW TimeZone') FROM pg_prepared_statements",
               NULL) == 0);
    CHECK_STR(s.value, "1 0");
    /* a statement that fails to parse fails the same way every time */
    for (int i = 0; i < 2; i++)
        CHECK(run1(pool, &s, "SELEC $1", "1") == PG_EDB);
    CHECK(run1(pool, &s, "SELECT $1::int * 2", "21") == 0 && strcmp(s.value, "42") == 0);
    pool_shut(pool);
}

/* The session loses its prepared statements (DEALLOCATE ALL) or a plan's result type changes
 * (DDL): the statement never ran, so it is prepared afresh and runs, unseen by its caller.
 * Other "feature not supported" errors (a planner error at execution) are the statement's
 * and cost no new name on the server each time. */
TEST(lost_or_stale_statements_are_prepared_again)
{
    pg_pool_t *pool = pool_ready(1, 5000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s;
    CHECK(run1(pool, &s, "SELECT $1::int + 2", "40") == 0 && strcmp(s.value, "42") == 0);
    CHECK(run1(pool, &s, "DEALLOCATE ALL", NULL) == 0);
    CHECK(run1(pool, &s, "SELECT $1::int + 2", "40") == 0 && strcmp(s.value, "42") == 0);

    CHECK(fresh_table(pool, "t_stmt", "a int") == 0);
    CHECK(run1(pool, &s, "INSERT INTO t_stmt VALUES (1)", NULL) == 0);
    CHECK(run1(pool, &s, "SELECT * FROM t_stmt", NULL) == 0);
    CHECK(run1(pool, &s, "ALTER TABLE t_stmt ADD COLUMN b int DEFAULT 7", NULL) == 0);
    CHECK(run1(pool, &s, "SELECT * FROM t_stmt", NULL) == 0);
    CHECK(run1(pool, &s, "SELECT b FROM t_stmt", NULL) == 0 && strcmp(s.value, "7") == 0);

    static const char outer[] = "SELECT * FROM t_stmt a LEFT JOIN t_stmt b ON true FOR UPDATE OF b";
    for (int i = 0; i < 5; i++)
        CHECK(run1(pool, &s, outer, NULL) == PG_EDB);
    CHECK(
        run1(pool, &s,
             "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FOR UPDATE OF b'",
             NULL) == 0);
    CHECK_STR(s.value, "1");
    CHECK(run1(pool, &s, "DROP TABLE t_stmt", NULL) == 0);
    pool_shut(pool);
}

TEST(prepared_statements_can_be_turned_off)
{
    pg_pool_t *pool =
        pool_ready_with(&(pg_pool_opts_t){.size = 1, .wait_ms = 5000, .prepared_max = -1});
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s;
    CHECK(run1(pool, &s, "SELECT $1::int + 1", "1") == 0);
    CHECK(run1(pool, &s, "SELECT count(*) FROM pg_prepared_statements", NULL) == 0);
    CHECK_STR(s.value, "0");
    pool_shut(pool);
}

/* 400 statements on a pool of 2: most queue, then leave in batches. Every fourth inserts a
 * row, every fourth a duplicate of the seed row (CONFLICT), every fourth divides by zero
 * (INVALID_INPUT), the rest compute: each gets its own outcome and the inserts commit
 * whatever their neighbours in the batch did. */
TEST(batched_statements_commit_or_fail_alone)
{
    enum { N = 400 };
    pg_pool_t *pool = pool_ready(2, 10000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    job_t j;
    CHECK(fresh_table(pool, "t_batch", "n int PRIMARY KEY") == 0);
    CHECK(exec1(pool, "INSERT INTO t_batch VALUES (-1)", NULL, &j) == 0);
    static stmt_t s[N];
    static char params[N][16];
    static const char *values[N]; /* pg_pool_query keeps the pointers until it sends */
    static const char *const sql[4] = {"INSERT INTO t_batch VALUES ($1::int)",
                                       "INSERT INTO t_batch SELECT -1 WHERE $1::int > 0",
                                       "SELECT 1 / ($1::int - $1::int)", "SELECT $1::int * 2"};
    int started = 0;
    for (int i = 0; i < N; i++) {
        snprintf(params[i], sizeof(params[i]), "%d", i);
        values[i] = params[i];
        started += stmt_start(pool, &s[i], sql[i % 4], &values[i], NULL) == 0;
    }
    CHECK(started == N);
    CHECK(wait_all(s, N, 20000));
    int good = 0;
    for (int i = 0; i < N; i++) {
        char twice[16];
        snprintf(twice, sizeof(twice), "%d", i * 2);
        static const int want[4] = {0, PG_ECONFLICT, PG_EINPUT, 0};
        int ok = s[i].calls == 1 && s[i].err == want[i % 4] &&
                 (i % 4 != 3 || strcmp(s[i].value, twice) == 0);
        if (!ok)
            fprintf(stderr, "  statement %d: err %d, %d calls, value '%s'\n", i, s[i].err,
                    s[i].calls, s[i].value);
        good += ok;
    }
    CHECK(good == N);
    CHECK(exec1(pool, "SELECT count(*) FROM t_batch", NULL, &j) == 0);
    CHECK_STR(j.value, "101");
    pg_pool_stats_t st;
    pg_pool_stats(pool, &st);
    CHECK(st.batches > 0 && st.batched > st.batches); /* several statements per write */
    CHECK(st.waiting == 0 && st.busy == 0 && st.idle == 2);
    CHECK(exec1(pool, "DROP TABLE t_batch", NULL, &j) == 0);
    pool_shut(pool);
}

/* A deferred constraint fails at the commit after the statement's own result: the statement
 * must get the error (its sync), not the success that came first. */
TEST(deferred_failure_reaches_its_statement)
{
    pg_pool_t *pool = pool_ready(1, 10000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    job_t j;
    CHECK(fresh_table(pool, "t_deferred",
                      "n int, CONSTRAINT t_deferred_n UNIQUE (n) DEFERRABLE INITIALLY DEFERRED") ==
          0);
    hold_t h;
    CHECK(hold(pool, &h, 1000) == 0); /* the only connection: what follows queues */
    stmt_t s[4];
    CHECK(stmt_start(pool, &s[0], "INSERT INTO t_deferred VALUES (1)", NULL, NULL) == 0);
    CHECK(stmt_start(pool, &s[1], "INSERT INTO t_deferred SELECT 2 FROM generate_series(1, 2)",
                     NULL, NULL) == 0);
    CHECK(stmt_start(pool, &s[2], "INSERT INTO t_deferred VALUES (3)", NULL, NULL) == 0);
    CHECK(stmt_start(pool, &s[3], "SELECT count(*) FROM t_deferred", NULL, NULL) == 0);
    pg_pool_release(pool, h.conn);
    CHECK(wait_all(s, 4, 5000));
    CHECK(s[0].err == 0 && s[2].err == 0);
    CHECK(s[1].err == PG_ECONFLICT);
    CHECK_STR(s[3].value, "2");
    pg_pool_stats_t st;
    pg_pool_stats(pool, &st);
    CHECK(st.batches == 1 && st.batched == 4);
    CHECK(exec1(pool, "DROP TABLE t_deferred", NULL, &j) == 0);
    pool_shut(pool);
}

/* Cancelled while queued: never sent. Cancelled once sent: runs, but never calls back. The
 * others of the batch are answered and the connection serves again. */
TEST(cancel_queued_and_sent_statements)
{
    enum { N = 12 };
    pg_pool_t *pool = pool_ready(1, 10000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    job_t j;
    CHECK(fresh_table(pool, "t_cancel", "n int") == 0);
    hold_t h;
    CHECK(hold(pool, &h, 1000) == 0);
    stmt_t s[N];
    pg_query_t *q[N];
    static char params[N][8];
    static const char *values[N];
    for (int i = 0; i < N; i++) {
        snprintf(params[i], sizeof(params[i]), "%d", i);
        values[i] = params[i];
        CHECK(stmt_start(pool, &s[i], "INSERT INTO t_cancel SELECT $1::int FROM pg_sleep(0.05)",
                         &values[i], &q[i]) == 0);
    }
    for (int i = 0; i < N; i += 3)
        pg_query_cancel(q[i]); /* queued */
    pg_pool_release(pool, h.conn);
    sleep_loop(20); /* the batch is sent; its first statement sleeps for 50 ms */
    int unanswered = 0;
    for (int i = 1; i < N; i += 3) {
        unanswered += !s[i].done;
        if (!s[i].done) /* one that has called back is gone */
            pg_query_cancel(q[i]);
    }
    CHECK(unanswered == N / 3);
    uint64_t end = uv_now(loop) + 5000;
    int answered = 0;
    while (uv_now(loop) < end) {
        answered = 0;
        for (int i = 2; i < N; i += 3)
            answered += s[i].done;
        pg_pool_stats_t st;
        pg_pool_stats(pool, &st);
        if (answered == N / 3 && st.idle == 1)
            break;
        sleep_loop(10);
    }
    CHECK(answered == N / 3);
    int stray = 0;
    for (int i = 0; i < N; i++)
        stray += i % 3 != 2 && s[i].calls != 0;
    CHECK(stray == 0);
    /* queued-and-cancelled rows never ran; sent-and-cancelled ones did */
    CHECK(exec1(pool, "SELECT count(*) FROM t_cancel WHERE n % 3 = 0", NULL, &j) == 0);
    CHECK_STR(j.value, "0");
    CHECK(exec1(pool, "SELECT count(*) FROM t_cancel WHERE n % 3 = 1", NULL, &j) == 0);
    CHECK_STR(j.value, "4");
    CHECK(exec1(pool, "DROP TABLE t_cancel", NULL, &j) == 0);
    pool_shut(pool);
}

/* The session dies in the middle of a batch: every statement of it is answered (the dead one
 * and all after it as unavailable), and the pool reconnects and serves again. */
TEST(batch_fails_together_when_its_session_dies)
{
    enum { N = 6 };
    pg_pool_t *pool = pool_ready(1, 10000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    hold_t h;
    CHECK(hold(pool, &h, 1000) == 0);
    stmt_t s[N];
    CHECK(stmt_start(pool, &s[0], "SELECT 1", NULL, NULL) == 0);
    CHECK(stmt_start(pool, &s[1], "SELECT pg_terminate_backend(pg_backend_pid())", NULL, NULL) ==
          0);
    for (int i = 2; i < N; i++)
        CHECK(stmt_start(pool, &s[i], "SELECT 2", NULL, NULL) == 0);
    pg_pool_release(pool, h.conn);
    CHECK(wait_all(s, N, 5000));
    CHECK(s[0].err == 0 && strcmp(s[0].value, "1") == 0);
    int unavailable = 0;
    for (int i = 1; i < N; i++)
        unavailable += s[i].calls == 1 && (s[i].err == PG_EUNAVAILABLE || s[i].err == PG_ECONNLOST);
    CHECK(unavailable == N - 1);
    CHECK(wait_connected(pool, 1, 5000));
    stmt_t again;
    CHECK(stmt_start(pool, &again, "SELECT 3", NULL, NULL) == 0);
    CHECK(wait_all(&again, 1, 5000) && again.err == 0 && strcmp(again.value, "3") == 0);
    pool_shut(pool);
}

/* Queued past the pool's wait bound: DB_UNAVAILABLE, and the queue moves on. */
TEST(queued_statement_times_out)
{
    pg_pool_t *pool = pool_ready(1, 100);
    CHECK(pool != NULL);
    if (!pool)
        return;
    hold_t h;
    CHECK(hold(pool, &h, 1000) == 0);
    stmt_t s;
    CHECK(stmt_start(pool, &s, "SELECT 1", NULL, NULL) == 0);
    CHECK(wait_all(&s, 1, 5000) && s.calls == 1 && s.err == PG_EUNAVAILABLE);
    pg_pool_release(pool, h.conn);
    CHECK(stmt_start(pool, &s, "SELECT 4", NULL, NULL) == 0);
    CHECK(wait_all(&s, 1, 5000) && s.err == 0 && strcmp(s.value, "4") == 0);
    pool_shut(pool);
}

/* A statement queued while a connection is idle is served by the handoff even when its wait
 * bound has passed before the loop got there (timers run first in a loop turn). */
TEST(idle_connection_serves_past_a_tiny_wait_bound)
{
    pg_pool_t *pool = pool_ready(1, 1);
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s;
    CHECK(stmt_start(pool, &s, "SELECT 6", NULL, NULL) == 0);
    usleep(20000); /* a slow turn of the loop */
    CHECK(wait_all(&s, 1, 5000) && s.err == 0 && strcmp(s.value, "6") == 0);
    pool_shut(pool);
}

/* Queues n runs of sql behind the pool's only connection, held meanwhile, then lets them go;
 * returns the send() calls they took once all are answered, or -1. */
static long run_queued(pg_pool_t *pool, stmt_t *s, int n, const char *sql, const char *const *param)
{
    hold_t h;
    if (hold(pool, &h, 1000) != 0)
        return -1;
    int queued = 0;
    while (queued < n && stmt_start(pool, &s[queued], sql, param, NULL) == 0)
        queued++;
    unsigned long before = pg_gate_sends();
    pg_pool_release(pool, h.conn);
    if (queued < n || !wait_all(s, n, 5000))
        return -1;
    long sends = (long)(pg_gate_sends() - before);
    if (sends != 1 && sends != n)
        fprintf(stderr, "  %d statements took %ld sends\n", n, sends);
    return sends;
}

/* A batch leaves in one send, although libpq 15 flushes at each statement's sync. */
TEST(batch_leaves_in_one_send)
{
    enum { N = 16 };
    pg_pool_t *pool = pool_ready(1, 5000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s[N];
    const char *param[] = {"7"};
    CHECK(run_queued(pool, s, N, "SELECT $1::int * 6", param) == 1);
    for (int i = 0; i < N; i++)
        CHECK(s[i].err == 0 && strcmp(s[i].value, "42") == 0);
    pg_pool_stats_t st;
    pg_pool_stats(pool, &st);
    CHECK(st.batches == 1 && st.batched == N);
    pool_shut(pool);
}

/* With batching off, every queued statement takes a write of its own. */
TEST(depth_one_sends_one_by_one)
{
    enum { N = 20 };
    pg_pool_t *pool =
        pool_ready_with(&(pg_pool_opts_t){.size = 1, .wait_ms = 5000, .pipeline_depth = 1});
    CHECK(pool != NULL);
    if (!pool)
        return;
    stmt_t s[N];
    CHECK(run_queued(pool, s, N, "SELECT 5", NULL) == N);
    pg_pool_stats_t st;
    pg_pool_stats(pool, &st);
    CHECK(st.batches == N && st.batched == N);
    pool_shut(pool);
}

/* After DDL every session that prepared a statement holds a stale plan: a statement failing
 * on one goes back to the queue and may be taken by another stale session, yet it never
 * reaches its caller as an error. Statements arrive a few at a time, as under load. */
TEST(stale_statements_on_every_session_are_prepared_again)
{
    enum { SIZE = 4, N = 200 };
    pg_pool_t *pool = pool_ready(SIZE, 5000);
    CHECK(pool != NULL);
    if (!pool)
        return;
    static stmt_t s[N];
    CHECK(fresh_table(pool, "t_stale", "a int") == 0);
    CHECK(run1(pool, &s[0], "INSERT INTO t_stale VALUES (1)", NULL) == 0);
    static const char sql[] = "SELECT *, pg_sleep(0.002) FROM t_stale";
    int failed = 0;
    for (int round = 0; round < 4; round++) {
        char alter[64];
        snprintf(alter, sizeof(alter), "ALTER TABLE t_stale ADD COLUMN c%d int", round);
        for (int pass = 0; pass < 2; pass++) { /* before the DDL (preparing), then after it */
            if (pass == 1)
                CHECK(run1(pool, &s[0], alter, NULL) == 0);
            for (int i = 0; i < N; i++) {
                CHECK(stmt_start(pool, &s[i], sql, NULL, NULL) == 0);
                if (i % 3 == 0)
                    sleep_loop(1);
            }
            CHECK(wait_all(s, N, 20000));
            for (int i = 0; i < N; i++)
                failed += s[i].err != 0 || s[i].calls != 1;
        }
    }
    if (failed)
        fprintf(stderr, "  %d statements failed after DDL\n", failed);
    CHECK(failed == 0);
    CHECK(run1(pool, &s[0], "DROP TABLE t_stale", NULL) == 0);
    pool_shut(pool);
}

int main(void)
{
    loop = uv_default_loop();
    db_url = getenv("SPEEZY_TEST_DATABASE_URL");
    RUN(database_url_is_set);
    if (db_url) {
        RUN(transaction_blocks_are_refused);
        RUN(statements_are_prepared_once_per_session);
        RUN(lost_or_stale_statements_are_prepared_again);
        RUN(stale_statements_on_every_session_are_prepared_again);
        RUN(prepared_statements_can_be_turned_off);
        RUN(batched_statements_commit_or_fail_alone);
        RUN(deferred_failure_reaches_its_statement);
        RUN(cancel_queued_and_sent_statements);
        RUN(batch_fails_together_when_its_session_dies);
        RUN(queued_statement_times_out);
        RUN(idle_connection_serves_past_a_tiny_wait_bound);
        RUN(batch_leaves_in_one_send);
        RUN(depth_one_sends_one_by_one);
    }
    return test_summary();
}
