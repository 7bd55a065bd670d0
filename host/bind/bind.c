/* bind.c — what all bindings share: the host pointer, the error tables, the module table. */
#include "bind.h"

#include <stdarg.h>
#include <stdio.h>

static char host_key, error_mt_key;

void bind_set_host(lua_State *L, bind_host_t *host)
{
    lua_pushlightuserdata(L, &host_key);
    lua_pushlightuserdata(L, host);
    lua_rawset(L, LUA_REGISTRYINDEX);
}

bind_host_t *bind_host(lua_State *L)
{
    lua_pushlightuserdata(L, &host_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    bind_host_t *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

co_t *bind_check_yieldable(lua_State *L, const char *fname)
{
    co_t *co = co_current(L);
    if (!co)
        luaL_error(L,
                   "%s: I/O is not allowed here (script top level or a non-request context); "
                   "call it from a handler",
                   fname);
    /* Inside table.sort's comparator, a gsub callback or a C metamethod the coroutine can't
     * yield: refuse before any I/O starts, or its completion would resume someone else. */
    if (!lua_isyieldable(L))
        luaL_error(L, "%s: cannot wait here (inside a C call such as table.sort or gsub)", fname);
    return co;
}

static int error_tostring(lua_State *L)
{
    lua_getfield(L, 1, "code");
    lua_getfield(L, 1, "message");
    lua_pushfstring(L, "%s: %s", lua_tostring(L, -2) ? lua_tostring(L, -2) : "ERROR",
                    lua_tostring(L, -1) ? lua_tostring(L, -1) : "");
    return 1;
}

void bind_push_error(lua_State *L, const char *code, const char *message)
{
    lua_createtable(L, 0, 2);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    lua_pushstring(L, message);
    lua_setfield(L, -2, "message");
    lua_pushlightuserdata(L, &error_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushlightuserdata(L, &error_mt_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    lua_setmetatable(L, -2);
}

int bind_is_error(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    lua_pushlightuserdata(L, &error_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

int bind_fail(lua_State *L, const char *code, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lua_pushnil(L);
    bind_push_error(L, code, msg);
    return 2;
}

void bind_push_null(lua_State *L)
{
    lua_pushlightuserdata(L, NULL);
}

void bind_open_all(lua_State *L)
{
    static const luaL_Reg modules[] = {
        {"speezy.core", luaopen_speezy_core},
        {"speezy.json", luaopen_speezy_json},
        {"speezy.pg.core", luaopen_speezy_pg_core},
        {"speezy.redis.core", luaopen_speezy_redis_core},
        {NULL, NULL},
    };
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    for (const luaL_Reg *m = modules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 2);
}
