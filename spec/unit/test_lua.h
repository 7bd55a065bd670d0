/* test_lua.h — what the C unit tests that drive a binding from Lua share: one coroutine pool
 * per test binary, a Lua state whose bindings reach a test's host, and a chunk loaded into a
 * new coroutine. Include after test.h.
 *
 *   lua_State *L = test_lua_new(&host);
 *   co_t *co = test_co_load(loop, L, CO_KIND_TEST, "...", on_done, ud);
 *   lua_pushstring(co_thread(co), arg); co_start(co, 1);
 *   ...; lua_close(L); test_co_pool_close();
 */
#ifndef SPEEZY_TEST_LUA_H
#define SPEEZY_TEST_LUA_H

#include <lauxlib.h>
#include <lualib.h>
#include <uv.h>

#include "bind/bind.h"
#include "co.h"

/* Made on first use so tests without Lua leave no pool behind; a test closes it before the
 * loop is checked clean. */
static co_pool_t *test_cos;

static inline co_pool_t *test_co_pool(uv_loop_t *loop)
{
    if (!test_cos)
        test_cos = co_pool_new(loop);
    return test_cos;
}

static inline void test_co_pool_close(void)
{
    if (test_cos)
        co_pool_close(test_cos);
    test_cos = NULL;
}

/* The standard libraries only: each test registers the modules it drives. */
static inline lua_State *test_lua_new(bind_host_t *host)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    bind_set_host(L, host);
    return L;
}

/* A coroutine of the pool with src loaded; the caller pushes the arguments onto co_thread(co)
 * and calls co_start(co, nargs). */
static inline co_t *test_co_load(uv_loop_t *loop, lua_State *L, co_kind_t kind, const char *src,
                                 co_done_cb done, void *ud)
{
    co_t *co = co_new(test_co_pool(loop), L, kind, done, ud);
    luaL_loadstring(co_thread(co), src);
    return co;
}

#endif
