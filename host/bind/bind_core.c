/* bind_core.c — speezy.core: sleep on a libuv timer, clocks, logging, settings (and the light
 * threads of bind_thread.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../config.h"
#include "../log.h"
#include "bind.h"

typedef struct {
    uv_timer_t timer;
    co_t *co; /* NULL once cancelled */
} sleep_op_t;

static void sleep_closed(uv_handle_t *h)
{
    free(h->data);
}

static void sleep_fired(uv_timer_t *t)
{
    sleep_op_t *op = t->data;
    co_t *co = op->co;
    uv_close((uv_handle_t *)&op->timer, sleep_closed);
    if (co)
        co_resume(co, 0);
}

static void sleep_cancel(void *p)
{
    sleep_op_t *op = p;
    op->co = NULL;
    uv_timer_stop(&op->timer);
    uv_close((uv_handle_t *)&op->timer, sleep_closed);
}

/* core.sleep(ms): yields the coroutine; the event loop serves others meanwhile. */
static int core_sleep(lua_State *L)
{
    lua_Number ms = luaL_checknumber(L, 1);
    if (ms < 0)
        ms = 0;
    co_t *co = bind_check_yieldable(L, "core.sleep");
    sleep_op_t *op = malloc(sizeof(*op));
    if (!op)
        return luaL_error(L, "core.sleep: out of memory");
    op->co = co;
    uv_timer_init(bind_host(L)->loop, &op->timer);
    op->timer.data = op;
    uv_timer_start(&op->timer, sleep_fired, (uint64_t)ms, 0);
    return co_yield_op(L, co, sleep_cancel, op);
}

/* Wall clock in seconds with sub-millisecond precision. */
static int core_now(lua_State *L)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
    return 1;
}

/* Monotonic milliseconds, for measuring durations. */
static int core_monotonic(lua_State *L)
{
    lua_pushnumber(L, (lua_Number)uv_hrtime() / 1e6);
    return 1;
}

static int core_log(lua_State *L)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    int level = luaL_checkoption(L, 1, NULL, levels);
    const char *msg = luaL_checkstring(L, 2);
    const char *rid = luaL_optstring(L, 3, NULL);
    log_msg((log_level_t)level, rid, "%s", msg);
    return 0;
}

/* Secrets stay in the host: scripts read only settings whose names don't look secret (AUTH:
 * SMS_HTTP_AUTH, the SMS provider's credential, and any other named like it). */
static int is_secret_name(const char *name)
{
    static const char *const words[] = {"SECRET", "TOKEN",        "PASSWORD",  "KEY",
                                        "AUTH",   "DATABASE_URL", "REDIS_URL", NULL};
    /* a count of a GraphQL document's tokens (the parser's), not a credential */
    if (strcmp(name, "GRAPHQL_MAX_TOKENS") == 0)
        return 0;
    for (int i = 0; words[i]; i++)
        if (strstr(name, words[i]))
            return 1;
    return 0;
}

static int core_setting(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    if (is_secret_name(name))
        return luaL_error(L, "core.setting: '%s' is a secret and stays in the host", name);
    const char *v = config_get(name);
    long long def;
    if (v) {
        lua_pushstring(L, v);
    } else if (lua_isnoneornil(L, 2) && (def = config_default(name)) >= 0) {
        char buf[24]; /* unset: the host's own default, the value it runs with */
        snprintf(buf, sizeof(buf), "%lld", def);
        lua_pushstring(L, buf);
    } else {
        lua_pushvalue(L, 2);
    }
    return 1;
}

/* The generation whose VM this is (fixed when the module loaded, while that generation was
 * being built), not the worker's current one: a job or request pinned to an older generation
 * after a reload still names its own. */
static int core_generation(lua_State *L)
{
    lua_pushvalue(L, lua_upvalueindex(1));
    return 1;
}

static int core_env(lua_State *L)
{
    const config_t *cfg = bind_host(L)->cfg;
    lua_pushstring(L, cfg ? cfg->env_name : "development");
    return 1;
}

/* request_field(thread, serial, name): a field of request number serial, which the coroutine
 * thread must be serving, for speezy.app's lazy request table. The thread is the request's own,
 * so a handler may read its request from a coroutine of its own (a generator). */
static int core_request_field(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTHREAD);
    lua_Number serial = luaL_checknumber(L, 2);
    const char *name = luaL_checkstring(L, 3);
    co_t *co = co_of_thread(L, 1);
    bind_host_t *host = bind_host(L);
    if (!co || !host->request_field || host->request_field(L, co, serial, name) < 0)
        return luaL_error(L,
                          "req.%s: read only from the request's own handler while it runs "
                          "(keep the value, not req, for later)",
                          name);
    return 1;
}

static int core_is_error(lua_State *L)
{
    lua_pushboolean(L, bind_is_error(L, 1));
    return 1;
}

int luaopen_speezy_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"sleep", core_sleep},
        {"now", core_now},
        {"monotonic_ms", core_monotonic},
        {"log", core_log},
        {"setting", core_setting},
        {"env", core_env},
        {"request_field", core_request_field},
        {"is_error", core_is_error},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 14);
    luaL_register(L, NULL, fns);
    bind_thread_open(L); /* spawn, wait, owner: bind_thread.c */
    const char *g = bind_host(L)->generation;
    lua_pushstring(L, g ? g : "");
    lua_pushcclosure(L, core_generation, 1);
    lua_setfield(L, -2, "generation");
    bind_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
