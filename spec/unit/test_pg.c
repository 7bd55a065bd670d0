/* test_pg.c — the libpq pool (host/pg.c) against a real PostgreSQL, and the one thing of
 * speezy.pg that Lua specs can't reach: a request cancelled while it holds a transaction.
 *
 * The harness passes the server in SPEEZY_TEST_DATABASE_URL; without it the run fails (a
 * database test that silently passes would hide a broken harness). Each test drives its own
 * pool on the default loop until its condition holds or a guard timer fires. */
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <uv.h>

#include "embedded.h"
#include "pg.h"
#include "test.h"
#include "vm.h"
#include "test_lua.h"

#include "test_pg.h"

int luaopen_cjson(lua_State *L);

/* ---- tests ------------------------------------------------------------------------------ */

TEST(sqlstate_mapping)
{
    CHECK(pg_sqlstate_error("23505") == PG_ECONFLICT);
    CHECK(pg_sqlstate_error("23503") == PG_EREFERENCE);
    CHECK(pg_sqlstate_error("23514") == PG_ECONSTRAINT);
    CHECK(pg_sqlstate_error("23502") == PG_ECONSTRAINT);
    CHECK(pg_sqlstate_error("23P01") == PG_ECONSTRAINT);
    CHECK(pg_sqlstate_error("22P02") == PG_EINPUT);
    CHECK(pg_sqlstate_error("22003") == PG_EINPUT);
    CHECK(pg_sqlstate_error("57014") == PG_ETIMEOUT);
    CHECK(pg_sqlstate_error("40001") == PG_ESERIALIZATION);
    CHECK(pg_sqlstate_error("40P01") == PG_ESERIALIZATION);
    CHECK(pg_sqlstate_error("08006") == PG_EUNAVAILABLE);
    CHECK(pg_sqlstate_error("57P01") == PG_EUNAVAILABLE);
    CHECK(pg_sqlstate_error("08P01") == PG_EDB); /* wrong parameter count: a script bug */
    CHECK(pg_sqlstate_error("42601") == PG_EDB);
    CHECK(pg_sqlstate_error(NULL) == PG_EDB);
    CHECK_STR(pg_error_name(PG_ECONFLICT), "CONFLICT");
    CHECK_STR(pg_error_name(PG_ECONNLOST), "DB_UNAVAILABLE");
    CHECK_STR(pg_error_name(PG_EUNAVAILABLE), "DB_UNAVAILABLE");
    CHECK_STR(pg_error_name(PG_EDB), "DB_ERROR");
}

TEST(concurrent_queries_small_pool)
{
    enum { N = 500 };
    pg_pool_t *pool = pool_open(db_url, 4, 10000 * test_time_scale(), 0);
    CHECK(pool != NULL);
    if (!pool)
        return;
    static job_t jobs[N];
    static char params[N][16];
    for (int i = 0; i < N; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        snprintf(params[i], sizeof(params[i]), "%d", i);
        jobs[i].pool = pool;
        jobs[i].sql = "SELECT $1::int * 2";
        jobs[i].param = params[i];
        job_start(&jobs[i]);
    }
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    CHECK(s.waiting > 0 && s.size == 4);
    int all = 0, good = 0;
    uint64_t end = uv_now(loop) + 20000 * test_time_scale();
    while (!all && uv_now(loop) < end) {
        sleep_loop(5);
        all = 1;
        for (int i = 0; i < N; i++)
            all &= jobs[i].done;
    }
    for (int i = 0; i < N; i++) {
        char want[16];
        snprintf(want, sizeof(want), "%d", i * 2);
        good += jobs[i].done && jobs[i].err == 0 && strcmp(jobs[i].value, want) == 0;
    }
    CHECK(good == N);
    pg_pool_stats(pool, &s);
    CHECK(s.waiting == 0 && s.busy == 0 && s.idle == 4);
    pool_shut(pool);
}

TEST(host_name_is_resolved)
{
    const char *at = strstr(db_url, "127.0.0.1");
    char url[512];
    if (at)
        snprintf(url, sizeof(url), "%.*slocalhost%s", (int)(at - db_url), db_url, at + 9);
    else
        snprintf(url, sizeof(url), "%s", db_url);
    pg_pool_t *pool = pool_open(url, 1, 5000, 0);
    CHECK(pool != NULL);
    if (!pool)
        return;
    job_t j;
    CHECK(exec1(pool,
                "SELECT current_setting('TimeZone') || ' ' || "
                "current_setting('application_name')",
                NULL, &j) == 0);
    CHECK_STR(j.value, "UTC speezy");
    pool_shut(pool);
}

static void never_called(pg_conn_t *conn, int err, void *ud)
{
    (*(int *)ud)++;
}

TEST(bounded_wait_then_unavailable)
{
    pg_pool_t *pool = pool_open(db_url, 1, 200, 0);
    CHECK(pool != NULL && wait_connected(pool, 1, 5000));
    hold_t a, b;
    CHECK(hold(pool, &a, 5000) == 0);
    uint64_t t0 = uv_now(loop);
    CHECK(hold(pool, &b, 3000) == PG_EUNAVAILABLE);
    uint64_t waited = uv_now(loop) - t0;
    CHECK(b.conn == NULL);
    CHECK(waited >= 150 && waited < 1000);

    /* A cancelled waiter is never called back. */
    int calls = 0;
    pg_conn_t *conn;
    pg_waiter_t *w;
    CHECK(pg_pool_acquire(pool, never_called, &calls, &conn, &w) == PG_WAIT);
    pg_waiter_cancel(w);
    pg_pool_release(pool, a.conn);
    sleep_loop(300);
    CHECK(calls == 0);

    /* Released: the next acquire gets it at once. */
    CHECK(hold(pool, &a, 1000) == 0);
    pg_pool_release(pool, a.conn);
    pool_shut(pool);
}

/* An abandoned statement is cancelled (not left to run for its 30 s) and never calls back;
 * two at once are cancelled one after the other. */
TEST(abandoned_query_is_cancelled_and_never_calls_back)
{
    pg_pool_t *pool = pool_open(db_url, 2, 5000, 0);
    CHECK(pool != NULL && wait_connected(pool, 2, 5000));
    hold_t h[2];
    char pids[2][32];
    for (int i = 0; i < 2; i++) {
        CHECK(hold(pool, &h[i], 5000) == 0);
        CHECK(hold_exec(&h[i], "SELECT pg_backend_pid()") == 0);
        snprintf(pids[i], sizeof(pids[i]), "%s", h[i].value);
        h[i].calls = 0;
        CHECK(pg_conn_query(h[i].conn, "SELECT pg_sleep(30)", 0, NULL, NULL, NULL, hold_result,
                            &h[i]) == 0);
    }
    sleep_loop(50); /* both statements are running */
    for (int i = 0; i < 2; i++) {
        pg_conn_abandon(h[i].conn);
        pg_pool_release(pool, h[i].conn);
    }
    job_t j;
    CHECK(exec1(pool, "SELECT 'after'", NULL, &j) == 0);
    CHECK_STR(j.value, "after");
    uint64_t end = uv_now(loop) + 5000;
    pg_pool_stats_t s;
    do {
        sleep_loop(10);
        pg_pool_stats(pool, &s);
    } while (s.idle < 2 && uv_now(loop) < end);
    CHECK(s.idle == 2);
    CHECK(h[0].calls == 0 && h[1].calls == 0);
    char sql[256];
    snprintf(
        sql, sizeof(sql),
        "SELECT count(*) FROM pg_stat_activity WHERE pid IN (%s, %s) AND pid <> pg_backend_pid() "
        "AND state = 'active' AND query LIKE '%%pg_sleep(30)%%'",
        pids[0], pids[1]);
    CHECK(exec1(pool, sql, NULL, &j) == 0);
    CHECK_STR(j.value, "0");
    pool_shut(pool);
}

static int expect_error(pg_pool_t *pool, const char *sql)
{
    job_t j;
    return exec1(pool, sql, NULL, &j);
}

TEST(server_errors_are_mapped)
{
    pg_pool_t *pool = pool_open(db_url, 2, 5000, 300);
    CHECK(pool != NULL);
    job_t j;
    CHECK(exec1(pool,
                "DROP TABLE IF EXISTS t_pg_child, t_pg_parent; "
                "CREATE TABLE t_pg_parent (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0)); "
                "CREATE TABLE t_pg_child (id int PRIMARY KEY, parent int REFERENCES t_pg_parent)",
                NULL, &j) != 0); /* several statements: the extended protocol refuses them */
    CHECK(exec1(pool, "DROP TABLE IF EXISTS t_pg_child, t_pg_parent", NULL, &j) == 0);
    CHECK(exec1(pool,
                "CREATE TABLE t_pg_parent (id int PRIMARY KEY, n int NOT NULL CHECK (n >= 0))",
                NULL, &j) == 0);
    CHECK(exec1(pool,
                "CREATE TABLE t_pg_child (id int PRIMARY KEY, parent int REFERENCES t_pg_parent)",
                NULL, &j) == 0);
    CHECK(exec1(pool, "INSERT INTO t_pg_parent VALUES (1, 1)", NULL, &j) == 0);
    CHECK(expect_error(pool, "INSERT INTO t_pg_parent VALUES (1, 1)") == PG_ECONFLICT);
    CHECK(expect_error(pool, "INSERT INTO t_pg_child VALUES (1, 42)") == PG_EREFERENCE);
    CHECK(expect_error(pool, "INSERT INTO t_pg_parent VALUES (2, -1)") == PG_ECONSTRAINT);
    CHECK(expect_error(pool, "INSERT INTO t_pg_parent VALUES (3, NULL)") == PG_ECONSTRAINT);
    CHECK(expect_error(pool, "SELECT 'abc'::int") == PG_EINPUT);
    CHECK(expect_error(pool, "SELECT pg_sleep(2)") == PG_ETIMEOUT);
    CHECK(expect_error(pool, "SELEC 1") == PG_EDB);
    CHECK(exec1(pool, "SELECT $1::text", "x'); DROP TABLE t_pg_parent; --", &j) == 0);
    CHECK_STR(j.value, "x'); DROP TABLE t_pg_parent; --");
    CHECK(exec1(pool, "SELECT count(*) FROM t_pg_parent", NULL, &j) == 0);
    CHECK_STR(j.value, "1");
    CHECK(exec1(pool, "DROP TABLE t_pg_child, t_pg_parent", NULL, &j) == 0);
    pool_shut(pool);
}

TEST(release_rolls_back_open_transaction)
{
    pg_pool_t *pool = pool_open(db_url, 1, 5000, 0);
    CHECK(pool != NULL);
    job_t j;
    CHECK(exec1(pool, "CREATE TABLE IF NOT EXISTS t_pg_tx (v text)", NULL, &j) == 0);
    CHECK(exec1(pool, "TRUNCATE t_pg_tx", NULL, &j) == 0);

    hold_t h;
    CHECK(hold(pool, &h, 5000) == 0);
    CHECK(hold_exec(&h, "BEGIN") == 0);
    CHECK(hold_exec(&h, "INSERT INTO t_pg_tx VALUES ('left open')") == 0);
    pg_pool_release(pool, h.conn);

    /* Same: the abandoned query was still running inside the transaction. It is cancelled and
     * rolled back on the same session (no reconnect). */
    CHECK(hold(pool, &h, 5000) == 0);
    CHECK(hold_exec(&h, "SELECT pg_backend_pid()") == 0);
    char pid[32];
    snprintf(pid, sizeof(pid), "%s", h.value);
    CHECK(hold_exec(&h, "BEGIN") == 0);
    CHECK(hold_exec(&h, "INSERT INTO t_pg_tx VALUES ('abandoned')") == 0);
    CHECK(pg_conn_query(h.conn, "SELECT pg_sleep(0.2)", 0, NULL, NULL, NULL, hold_result, &h) == 0);
    pg_conn_abandon(h.conn);
    pg_pool_release(pool, h.conn);

    CHECK(exec1(pool, "SELECT count(*) FROM t_pg_tx", NULL, &j) == 0);
    CHECK_STR(j.value, "0");
    CHECK(exec1(pool, "SELECT pg_backend_pid()", NULL, &j) == 0);
    CHECK_STR(j.value, pid);
    /* Not inside a leftover transaction: SAVEPOINT only works in one. */
    CHECK(expect_error(pool, "SAVEPOINT s") == PG_EDB);
    CHECK(exec1(pool, "DROP TABLE t_pg_tx", NULL, &j) == 0);
    pool_shut(pool);
}

TEST(reconnects_after_terminate_backend)
{
    pg_pool_t *pool = pool_open(db_url, 2, 5000, 0);
    pg_pool_t *killer = pool_open(db_url, 1, 5000, 0);
    CHECK(pool && killer && wait_connected(pool, 2, 5000));
    hold_t a, b;
    CHECK(hold(pool, &a, 5000) == 0 && hold(pool, &b, 5000) == 0);
    CHECK(hold_exec(&a, "SELECT pg_backend_pid()") == 0);
    CHECK(hold_exec(&b, "SELECT pg_backend_pid()") == 0);
    char pids[80];
    snprintf(pids, sizeof(pids), "{%s,%s}", a.value, b.value);
    pg_pool_release(pool, b.conn);
    a.done = 0;
    CHECK(pg_conn_query(a.conn, "SELECT pg_sleep(3)", 0, NULL, NULL, NULL, hold_result, &a) == 0);

    /* Both sessions of the pool die: one in the middle of a query, the other while idle. */
    job_t j;
    CHECK(exec1(killer, "SELECT bool_and(pg_terminate_backend(p)) FROM unnest($1::int[]) p", pids,
                &j) == 0);
    CHECK_STR(j.value, "t");
    CHECK(run_until(&a.done, 2000));
    CHECK_STR(pg_error_name(a.err), "DB_UNAVAILABLE");
    pg_pool_release(pool, a.conn);
    sleep_loop(100);
    CHECK(wait_connected(pool, 2, 5000));
    for (int i = 0; i < 4; i++) {
        CHECK(exec1(pool, "SELECT 'back'", NULL, &j) == 0);
        CHECK_STR(j.value, "back");
    }
    pool_shut(killer);
    pool_shut(pool);
}

TEST(fails_fast_when_server_is_down)
{
    pg_pool_t *pool = pool_open("postgresql://postgres@127.0.0.1:1/none", 2, 3000, 0);
    CHECK(pool != NULL);
    hold_t h;
    uint64_t t0 = uv_now(loop);
    int rc = hold(pool, &h, 5000); /* queued before any attempt failed: failed early */
    CHECK(rc == PG_EUNAVAILABLE);
    CHECK(uv_now(loop) - t0 < 1000);
    pg_conn_t *conn;
    pg_waiter_t *w;
    CHECK(pg_pool_acquire(pool, hold_acquired, &h, &conn, &w) == PG_EUNAVAILABLE);
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    CHECK(s.connected == 0 && s.waiting == 0);
    pool_shut(pool);
}

/* ---- callbacks only from the loop ------------------------------------------------------- */

static int in_release;

typedef struct {
    int done, err, during_release;
} probe_t;

static void probe_acquired(pg_conn_t *conn, int err, void *ud)
{
    probe_t *p = ud;
    p->done = 1;
    p->err = err;
    p->during_release = in_release;
}

/* Makes every new descriptor fail (EMFILE) until restored: a reconnect then fails inside
 * PQconnectStartParams, synchronously. */
static int fds_exhaust(struct rlimit *saved)
{
    int fd = dup(0);
    if (fd < 0 || getrlimit(RLIMIT_NOFILE, saved) < 0)
        return -1;
    close(fd);
    struct rlimit low = {(rlim_t)fd, saved->rlim_max};
    return setrlimit(RLIMIT_NOFILE, &low);
}

/* Releasing a broken connection reconnects; when that fails at once and the pool is down,
 * the queued waiters fail from the loop, not inside pg_pool_release (the caller may be a
 * cancelled coroutine's exit hook, or the worker walking its requests). */
TEST(release_never_calls_back_waiters)
{
    pg_pool_t *pool = pool_open(db_url, 1, 3000, 0);
    pg_pool_t *killer = pool_open(db_url, 1, 5000, 0);
    CHECK(pool && killer && wait_connected(pool, 1, 5000));
    hold_t a;
    CHECK(hold(pool, &a, 5000) == 0);
    CHECK(hold_exec(&a, "SELECT pg_backend_pid()") == 0);
    job_t j;
    CHECK(exec1(killer, "SELECT pg_terminate_backend($1::int)", a.value, &j) == 0);
    CHECK(hold_exec(&a, "SELECT 1") == PG_ECONNLOST); /* the holder learns it broke */

    probe_t p = {0};
    pg_conn_t *conn;
    pg_waiter_t *w;
    CHECK(pg_pool_acquire(pool, probe_acquired, &p, &conn, &w) == PG_WAIT);
    struct rlimit saved;
    CHECK(fds_exhaust(&saved) == 0);
    in_release = 1;
    pg_pool_release(pool, a.conn);
    in_release = 0;
    setrlimit(RLIMIT_NOFILE, &saved);
    CHECK(!p.done);
    CHECK(run_until(&p.done, 2000) && p.err == PG_EUNAVAILABLE && !p.during_release);

    /* And the pool comes back by itself. */
    CHECK(wait_connected(pool, 1, 5000));
    CHECK(exec1(pool, "SELECT 'back'", NULL, &j) == 0);
    CHECK_STR(j.value, "back");
    pool_shut(killer);
    pool_shut(pool);
}

static void on_ping(int err, void *ud)
{
    int *r = ud;
    r[0] = 1;
    r[1] = err;
}

TEST(ping_and_close_with_work_in_flight)
{
    pg_pool_t *pool = pool_open(db_url, 1, 5000, 0);
    CHECK(pool != NULL);
    int r[2] = {0, 1};
    pg_ping_t *p;
    CHECK(pg_pool_ping(pool, on_ping, r, &p) == 0);
    CHECK(run_until(&r[0], 5000) && r[1] == 0);

    /* Closing fails the holder's query and the queued waiter with PG_ECLOSED. */
    hold_t h, w;
    CHECK(hold(pool, &h, 5000) == 0);
    CHECK(pg_conn_query(h.conn, "SELECT pg_sleep(1)", 0, NULL, NULL, NULL, hold_result, &h) == 0);
    pg_conn_t *conn;
    pg_waiter_t *wt;
    memset(&w, 0, sizeof(w));
    CHECK(pg_pool_acquire(pool, hold_acquired, &w, &conn, &wt) == PG_WAIT);
    pg_pool_close(pool);
    CHECK(h.calls == 1 && h.err == PG_ECLOSED);
    CHECK(w.done && w.err == PG_ECLOSED);
    pg_pool_release(pool, h.conn); /* the pool is freed once the holder lets go */
    sleep_loop(20);
}

/* ---- cancellation through the Lua binding ------------------------------------------------ */

static const char cancel_script[] =
    "local pg = require 'speezy.pg'\n"
    "local mode = ...\n"
    "if mode == 'tx' then\n"
    "  pg.tx(function(tx)\n"
    "    assert(tx:query(\"INSERT INTO t_pg_cancel VALUES ('partial')\"))\n"
    "    tx:query('SELECT pg_sleep(0.6)')\n"
    "    assert(tx:query(\"INSERT INTO t_pg_cancel VALUES ('after')\"))\n"
    "  end)\n"
    "elseif mode == 'wait' then\n"
    "  pg.tx(function() end)\n"
    "elseif mode == 'stray' then\n" /* lua_yield raises inside the comparator: the script dies */
    "  table.sort({2, 1}, function(a, b) pg.query('SELECT pg_sleep(0.2)') return a < b end)\n"
    "elseif mode == 'mine' then\n"
    "  local rows = assert(pg.query(\"SELECT pg_sleep(0.5)::text AS s, 'mine' AS v\"))\n"
    "  assert(rows[1].v == 'mine', 'resumed with a result that is not its own')\n"
    "else\n"
    "  pg.query('SELECT pg_sleep(0.6)')\n"
    "end\n";

static int load_embedded_pg(lua_State *L)
{
    for (const embedded_file_t *f = embedded_lib; f->module; f++) {
        if (strcmp(f->module, "speezy.pg") == 0) {
            if (luaL_loadbuffer(L, f->src, f->len, "@speezy/pg.lua") != 0)
                return lua_error(L);
            lua_call(L, 0, 1);
            return 1;
        }
    }
    return luaL_error(L, "speezy.pg is not embedded");
}

/* Registers speezy.pg (and what it needs) on L. */
static lua_State *add_pg(lua_State *L)
{
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_speezy_json);
    lua_setfield(L, -2, "speezy.json");
    lua_pushcfunction(L, luaopen_speezy_pg_core);
    lua_setfield(L, -2, "speezy.pg.core");
    lua_pushcfunction(L, load_embedded_pg);
    lua_setfield(L, -2, "speezy.pg");
    lua_pop(L, 2);
    return L;
}

static lua_State *lua_with_pg(bind_host_t *host)
{
    return add_pg(test_lua_new(host));
}

/* A VM with a memory budget, as vm.c makes them (VM_MEMORY_LIMIT_MB). */
static lua_State *lua_with_pg_budget(bind_host_t *host, vm_budget_t *b)
{
    lua_State *L = vm_budget_newstate(b);
    luaL_openlibs(L);
    bind_set_host(L, host);
    return add_pg(L);
}

static void on_co_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    int *st = ud;
    st[0] = 1;
    st[1] = status;
    if (status == CO_ERROR)
        fprintf(stderr, "  script error: %s\n", lua_tostring(co_thread(co), -1));
    co_free(co);
}

/* Starts the script in a new coroutine; st gets {done, status}. */
static co_t *start_script(lua_State *L, const char *mode, int *st);

static void check_no_stray_result(lua_State *L, pg_pool_t *pool)
{
    int st[2], st2[2];
    start_script(L, "stray", st);
    CHECK(st[0] == 1 && st[1] == CO_ERROR);
    /* The next request reuses that co_t: only its own statement may resume it. */
    start_script(L, "mine", st2);
    CHECK(run_until(&st2[0], 3000) && st2[1] == CO_OK);
    sleep_loop(100);
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    CHECK(s.busy == 0 && s.waiting == 0);
}

static co_t *start_script(lua_State *L, const char *mode, int *st)
{
    st[0] = st[1] = 0;
    co_t *co = test_co_load(loop, L, CO_KIND_TEST, cancel_script, on_co_done, st);
    lua_pushstring(co_thread(co), mode);
    co_start(co, 1);
    return co;
}

static const char *count_cancel_rows(pg_pool_t *pool, job_t *j)
{
    return exec1(pool, "SELECT count(*) FROM t_pg_cancel", NULL, j) == 0 ? j->value : "error";
}

TEST(cancelled_request_rolls_back_its_transaction)
{
    pg_pool_t *pool = pool_open(db_url, 1, 5000, 0);
    CHECK(pool != NULL);
    job_t j;
    CHECK(exec1(pool, "CREATE TABLE IF NOT EXISTS t_pg_cancel (v text)", NULL, &j) == 0);
    CHECK(exec1(pool, "TRUNCATE t_pg_cancel", NULL, &j) == 0);
    bind_host_t host = {.loop = loop, .pg = pool};
    lua_State *L = lua_with_pg(&host);
    int st[2];

    /* Client gone while the transaction waits on a statement. */
    co_t *co = start_script(L, "tx", st);
    sleep_loop(250);
    CHECK(st[0] == 0);
    co_cancel(co);
    CHECK(st[0] == 1 && st[1] == CO_CANCELLED);
    CHECK_STR(count_cancel_rows(pool, &j), "0");

    /* Deadline passed: the same. */
    co = start_script(L, "tx", st);
    co_set_deadline(co, 250);
    CHECK(run_until(&st[0], 3000) && st[1] == CO_TIMEOUT);
    CHECK_STR(count_cancel_rows(pool, &j), "0");

    /* Cancelled while waiting for a connection, and during a plain query. */
    hold_t h;
    CHECK(hold(pool, &h, 5000) == 0);
    co = start_script(L, "wait", st);
    sleep_loop(50);
    co_cancel(co);
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    CHECK(st[1] == CO_CANCELLED && s.waiting == 0);
    pg_pool_release(pool, h.conn);
    co = start_script(L, "query", st);
    sleep_loop(50);
    co_cancel(co);
    CHECK(st[1] == CO_CANCELLED);

    check_no_stray_result(L, pool);

    /* Nothing leaked: the one connection serves again and no transaction is left open. */
    CHECK(expect_error(pool, "SAVEPOINT s") == PG_EDB);
    CHECK(exec1(pool, "DROP TABLE t_pg_cancel", NULL, &j) == 0);
    pg_pool_stats(pool, &s);
    CHECK(s.busy == 0 && s.idle == 1);
    lua_close(L);
    pool_shut(pool);
    test_co_pool_close();
}

/* A result too big for the VM's budget is `nil, err` with the usual error table (scripts read
 * err.code), and the VM goes on serving. */
static const char oom_script[] =
    "local pg = require 'speezy.pg'\n"
    "local rows, err = pg.query([[SELECT g, repeat('y', 100) AS s, '[1, 2]'::jsonb AS j\n"
    "  FROM generate_series(1, 300000) g]])\n"
    "assert(rows == nil, 'the result fit')\n"
    "assert(type(err) == 'table', 'err is a ' .. type(err) .. ': ' .. tostring(err))\n"
    "assert(err.code == 'DB_ERROR', err.code)\n"
    "assert(err.message:find('memory'), err.message)\n"
    "rows = assert(pg.query('SELECT 1 AS one'))\n"
    "assert(rows[1].one == 1)\n";

TEST(result_beyond_memory_budget)
{
    pg_pool_t *pool = pool_open(db_url, 1, 5000, 0);
    CHECK(pool != NULL);
    bind_host_t host = {.loop = loop, .pg = pool};
    vm_budget_t b = {.limit = 24u << 20};
    lua_State *L = lua_with_pg_budget(&host, &b);
    int st[2] = {0, 0};
    co_t *co = test_co_load(loop, L, CO_KIND_TEST, oom_script, on_co_done, st);
    co_start(co, 0);
    /* 300000 rows: seconds under valgrind (and the VM must outlive the query it runs) */
    CHECK(run_until(&st[0], 10000 * test_time_scale()) && st[1] == CO_OK);
    vm_budget_close(L, &b);
    pool_shut(pool);
    test_co_pool_close();
}

/* ---- cancellation at random moments ------------------------------------------------------ */

static const char churn_script[] =
    "local pg = require 'speezy.pg'\n"
    "local n = ...\n"
    "if n % 3 == 0 then\n"
    "  pg.query('SELECT pg_sleep($1)', (n % 7) / 1000)\n"
    "else\n"
    "  pg.tx(function(tx)\n"
    "    assert(tx:query(\"INSERT INTO t_pg_churn VALUES ($1)\", n))\n"
    "    pg.tx(function() return pg.query('SELECT pg_sleep($1)', (n % 5) / 1000) end)\n"
    "    tx:query('SELECT $1::jsonb AS j, ARRAY[1, NULL] AS a', {n = n})\n"
    "    if n % 4 == 0 then error('raised') end\n"
    "  end)\n"
    "end\n";

typedef struct {
    co_t *co;
    uv_timer_t timer;
    int st[2];
} churn_t;

static void churn_cancel(uv_timer_t *t)
{
    churn_t *c = t->data;
    if (!c->st[0])
        co_cancel(c->co);
}

/* Requests cancelled (client gone) or timed out at every stage of their statements: while
 * waiting for a connection, mid-query, between statements of a transaction, as results
 * arrive. Under ASan: no stale co or op is touched, nothing leaks, every connection returns
 * rolled back. */
TEST(cancel_at_random_moments)
{
    enum { N = 200 };
    pg_pool_t *pool = pool_open(db_url, 2, 5000, 0);
    CHECK(pool != NULL && wait_connected(pool, 2, 5000));
    job_t j;
    CHECK(exec1(pool, "CREATE TABLE IF NOT EXISTS t_pg_churn (n int)", NULL, &j) == 0);
    CHECK(exec1(pool, "TRUNCATE t_pg_churn", NULL, &j) == 0);
    bind_host_t host = {.loop = loop, .pg = pool};
    lua_State *L = lua_with_pg(&host);
    static churn_t c[N];
    srand(42);
    for (int i = 0; i < N; i++) {
        c[i].st[0] = c[i].st[1] = 0;
        c[i].co = test_co_load(loop, L, CO_KIND_TEST, churn_script, on_co_done, c[i].st);
        uv_timer_init(loop, &c[i].timer);
        c[i].timer.data = &c[i];
        unsigned at = (unsigned)(rand() % 40) * test_time_scale();
        int left_alone = i % 20 == 1; /* however loaded the machine, some requests complete */
        if (!left_alone && i % 2)
            co_set_deadline(c[i].co, at);
        else if (!left_alone)
            uv_timer_start(&c[i].timer, churn_cancel, at, 0);
        lua_pushinteger(co_thread(c[i].co), i);
        co_start(c[i].co, 1);
    }
    int all = 0;
    uint64_t end = uv_now(loop) + 10000 * test_time_scale();
    while (!all && uv_now(loop) < end) {
        sleep_loop(10);
        all = 1;
        for (int i = 0; i < N; i++)
            all &= c[i].st[0];
    }
    CHECK(all);
    int by_status[4] = {0};
    for (int i = 0; i < N; i++) {
        by_status[-c[i].st[1]]++;
        uv_close((uv_handle_t *)&c[i].timer, NULL);
    }
    /* indexed by -status: every outcome happened */
    CHECK(by_status[-CO_OK] && by_status[-CO_TIMEOUT] && by_status[-CO_CANCELLED]);
    sleep_loop(100 * test_time_scale()); /* abandoned statements finish, connections roll back */
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    CHECK(s.busy == 0 && s.waiting == 0 && s.idle == 2);
    /* Only transactions that reached COMMIT kept their row: none raised, each row once. */
    CHECK(exec1(pool, "SELECT count(*) FROM t_pg_churn WHERE n % 4 = 0 OR n % 3 = 0", NULL, &j) ==
          0);
    CHECK_STR(j.value, "0");
    CHECK(exec1(pool, "SELECT count(*) - count(DISTINCT n) FROM t_pg_churn", NULL, &j) == 0);
    CHECK_STR(j.value, "0");
    CHECK(expect_error(pool, "SAVEPOINT s") == PG_EDB);
    CHECK(exec1(pool, "DROP TABLE t_pg_churn", NULL, &j) == 0);
    lua_close(L);
    pool_shut(pool);
    test_co_pool_close();
}

int main(void)
{
    loop = uv_default_loop();
    db_url = getenv("SPEEZY_TEST_DATABASE_URL");
    RUN(database_url_is_set);
    RUN(sqlstate_mapping);
    if (db_url) {
        RUN(concurrent_queries_small_pool);
        RUN(host_name_is_resolved);
        RUN(bounded_wait_then_unavailable);
        RUN(abandoned_query_is_cancelled_and_never_calls_back);
        RUN(server_errors_are_mapped);
        RUN(release_rolls_back_open_transaction);
        RUN(reconnects_after_terminate_backend);
        RUN(fails_fast_when_server_is_down);
        RUN(release_never_calls_back_waiters);
        RUN(ping_and_close_with_work_in_flight);
        RUN(cancelled_request_rolls_back_its_transaction);
        RUN(cancel_at_random_moments);
        RUN(result_beyond_memory_budget);
    }
    return test_summary();
}
