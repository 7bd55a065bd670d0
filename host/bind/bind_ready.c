/* bind_ready.c — speezy.ready.core: GET /readyz's round trips to PostgreSQL and Redis.
 *
 * Private to host/lib/speezy/ready.lua:
 *   probe() -> pg_ms, pg_err, redis_ms, redis_err
 * per dependency the round trip in milliseconds, or nil and its code as an index into
 * `errors`. Both pings run at once under one READYZ_TIMEOUT_MS timer: a hung server (frozen,
 * or a black-holed network) costs a readiness probe that bound, instead of the request
 * deadline or REDIS_TIMEOUT_MS, and the two never add up. A ping still out when the timer
 * fires is cancelled and reported as TIMEOUT.
 *
 * The op lives exactly as long as its coroutine waits in it: the last answer or the timer
 * resumes the coroutine, or its cancellation (client gone, deadline, drain) abandons what is
 * still out, whose callbacks then never run, so nothing reaches a co that has moved on. It
 * resumes with numbers and nils only: they take no memory from the VM, whose budget could
 * otherwise fail in the loop's callback, outside any protected call. */
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "bind.h"
#include "pg.h"
#include "redis.h"

enum { READY_PG, READY_REDIS, READY_CHECKS };

/* A check's outcome: up, or an index into ready_errors (what `errors` holds for ready.lua). */
enum {
    READY_UP,
    READY_DB_UNAVAILABLE,
    READY_DB_ERROR,
    READY_REDIS_UNAVAILABLE,
    READY_REDIS_ERROR,
    READY_TIMEOUT
};
static const char *const ready_errors[] = {
    NULL, "DB_UNAVAILABLE", "DB_ERROR", "REDIS_UNAVAILABLE", "REDIS_ERROR", "TIMEOUT", NULL,
};

typedef struct {
    int err; /* READY_UP or a ready_errors index */
    double ms;
} ready_check_t;

typedef struct {
    co_t *co;
    uv_timer_t timer;
    uint64_t started_ns;
    pg_ping_t *pg;      /* in flight */
    redis_cmd_t *redis; /* in flight */
    ready_check_t checks[READY_CHECKS];
} ready_op_t;

/* pg_error_name's grouping, so readiness names a failure as pg.query would. */
static int pg_outcome(int err)
{
    if (!err)
        return READY_UP;
    const char *name = pg_error_name(err);
    for (int i = READY_DB_UNAVAILABLE; ready_errors[i]; i++)
        if (strcmp(ready_errors[i], name) == 0)
            return i;
    return READY_DB_ERROR;
}

static int redis_outcome(int err)
{
    switch (err) {
    case 0:
        return READY_UP;
    case REDIS_ETIMEOUT:
        return READY_TIMEOUT;
    case REDIS_EREPLY:
        return READY_REDIS_ERROR;
    default:
        return READY_REDIS_UNAVAILABLE;
    }
}

static void settle(ready_op_t *op, int which, int outcome)
{
    op->checks[which].err = outcome;
    op->checks[which].ms = (double)(uv_hrtime() - op->started_ns) / 1e6;
}

static void push_results(lua_State *L, const ready_op_t *op)
{
    for (int i = 0; i < READY_CHECKS; i++) {
        const ready_check_t *c = &op->checks[i];
        if (c->err) {
            lua_pushnil(L);
            lua_pushinteger(L, c->err);
        } else {
            lua_pushnumber(L, c->ms);
            lua_pushnil(L);
        }
    }
}

static void op_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Whatever is still out never calls back: the op can go once the timer's close ran. */
static void op_abandon(ready_op_t *op)
{
    if (op->pg)
        pg_ping_cancel(op->pg);
    if (op->redis)
        redis_command_abandon(op->redis);
    op->pg = NULL;
    op->redis = NULL;
    uv_close((uv_handle_t *)&op->timer, op_closed);
}

static void op_finish(ready_op_t *op)
{
    co_t *co = op->co;
    push_results(co_thread(co), op);
    op_abandon(op);
    co_resume(co, 2 * READY_CHECKS);
}

static void on_pg(int err, void *ud)
{
    ready_op_t *op = ud;
    op->pg = NULL;
    settle(op, READY_PG, pg_outcome(err));
    if (!op->redis)
        op_finish(op);
}

static void on_redis(int status, void *ud)
{
    ready_op_t *op = ud;
    op->redis = NULL;
    settle(op, READY_REDIS, redis_outcome(status));
    if (!op->pg)
        op_finish(op);
}

static void on_timeout(uv_timer_t *t)
{
    ready_op_t *op = t->data;
    if (op->pg)
        settle(op, READY_PG, READY_TIMEOUT);
    if (op->redis)
        settle(op, READY_REDIS, READY_TIMEOUT);
    op_finish(op);
}

/* The request is gone (client, deadline, drain): its coroutine is never resumed. */
static void op_cancel(void *ud)
{
    op_abandon(ud);
}

static void start_pg(ready_op_t *op, pg_pool_t *pool)
{
    int rc = pool ? pg_pool_ping(pool, on_pg, op, &op->pg) : PG_EUNAVAILABLE;
    if (rc < 0)
        settle(op, READY_PG, pg_outcome(rc));
}

static void start_redis(ready_op_t *op, redis_client_t *client)
{
    int rc = client ? redis_ping(client, on_redis, op, &op->redis) : REDIS_EUNAVAILABLE;
    if (rc < 0)
        settle(op, READY_REDIS, redis_outcome(rc));
}

static int l_probe(lua_State *L)
{
    co_t *co = bind_check_yieldable(L, "ready.probe");
    luaL_checkstack(L, 2 * READY_CHECKS, "ready.probe"); /* room for the results on resume */
    bind_host_t *host = bind_host(L);
    ready_op_t *op = calloc(1, sizeof(*op));
    if (!op)
        return luaL_error(L, "ready.probe: out of memory");
    op->co = co;
    op->started_ns = uv_hrtime();
    start_pg(op, host->pg);
    start_redis(op, host->redis);
    if (!op->pg && !op->redis) { /* both known at once: unconfigured or refused */
        push_results(L, op);
        free(op);
        return 2 * READY_CHECKS;
    }
    uv_timer_init(host->loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, on_timeout, host->cfg->readyz_timeout_ms, 0);
    return co_yield_op(L, co, op_cancel, op);
}

int luaopen_speezy_ready_core(lua_State *L)
{
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, l_probe);
    lua_setfield(L, -2, "probe");
    lua_createtable(L, READY_TIMEOUT, 0);
    for (int i = READY_DB_UNAVAILABLE; ready_errors[i]; i++) {
        lua_pushstring(L, ready_errors[i]);
        lua_rawseti(L, -2, i);
    }
    lua_setfield(L, -2, "errors");
    return 1;
}
