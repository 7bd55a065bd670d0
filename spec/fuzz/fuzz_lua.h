/* fuzz_lua.h — the Lua state a harness shares across its inputs: standard libraries and
 * speezy.json, closed at exit (its memory is LuaJIT's own, which the leak checker can't see
 * into). */
#ifndef SPEEZY_FUZZ_LUA_H
#define SPEEZY_FUZZ_LUA_H

#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

#include "bind/bind.h"

static lua_State *fuzz_L;

static void fuzz_lua_close(void)
{
    lua_close(fuzz_L);
}

/* The shared state, made on first use, with speezy.json's module table on top. */
static lua_State *fuzz_lua_json(void)
{
    if (!fuzz_L) {
        atexit(fuzz_lua_close);
        fuzz_L = luaL_newstate();
        luaL_openlibs(fuzz_L);
        lua_pushcfunction(fuzz_L, luaopen_speezy_json);
        lua_call(fuzz_L, 0, 1);
        lua_setfield(fuzz_L, LUA_REGISTRYINDEX, "fuzz.json");
    }
    lua_getfield(fuzz_L, LUA_REGISTRYINDEX, "fuzz.json");
    return fuzz_L;
}

#endif
