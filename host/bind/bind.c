/* bind.c — what all bindings share: the host pointer, the error tables, the module table. */
#include "bind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* The first Lua frame outside the host's own library (host/lib, whose modules wrap the
 * bindings): where the script called, so a misuse names the script's file:line. */
static void push_script_where(lua_State *L)
{
    lua_Debug ar;
    for (int level = 1; lua_getstack(L, level, &ar); level++) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0 && strncmp(ar.source, "@host/lib/", 10) != 0) {
            lua_pushfstring(L, "%s:%d: ", ar.short_src, ar.currentline);
            return;
        }
    }
    luaL_where(L, 1);
}

int bind_misuse(lua_State *L, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push_script_where(L);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_concat(L, 2);
    return lua_error(L);
}

co_t *bind_check_yieldable(lua_State *L, const char *fname)
{
    co_t *co = co_current(L);
    if (!co)
        bind_misuse(L,
                    "%s: I/O is not allowed here (script top level or a non-request context); "
                    "call it from a handler",
                    fname);
    /* Inside table.sort's comparator, a gsub callback or a C metamethod the coroutine can't
     * yield: refuse before any I/O starts, or its completion would resume someone else. */
    if (!lua_isyieldable(L))
        bind_misuse(L, "%s: cannot wait here (inside a C call such as table.sort or gsub)", fname);
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

int bind_number_text(char *buf, size_t cap, lua_Number n)
{
    if (n == floor(n) && fabs(n) < 9e18)
        return snprintf(buf, cap, "%lld", (long long)n);
    if (n == floor(n) && fabs(n) < 1e21)
        return snprintf(buf, cap, "%.0f", n);
    int len = 0;
    for (int digits = 15; digits <= 17; digits++) {
        len = snprintf(buf, cap, "%.*g", digits, n);
        if (strtod(buf, NULL) == n)
            break;
    }
    return len;
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
        {"speezy.ready.core", luaopen_speezy_ready_core},
        {"speezy.queue.core", luaopen_speezy_queue_core},
        {"speezy.http.core", luaopen_speezy_http_core},
        {"speezy.crypto", luaopen_speezy_crypto},
        {"speezy.jwt.core", luaopen_speezy_jwt_core},
        {"speezy.otp.core", luaopen_speezy_otp_core},
        {"speezy.sms.core", luaopen_speezy_sms_core},
        {"speezy.regex", luaopen_speezy_regex},
        {"speezy.graphql.core", luaopen_speezy_graphql_core},
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
