/* fuzz_json.c — arbitrary bytes through speezy.json.decode (request bodies are untrusted),
 * and every accepted document back through json.encode. */
#include <lauxlib.h>
#include <lualib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "bind/bind.h"

static lua_State *L;

/* The state's memory is LuaJIT's own, which the leak checker can't see into: close it. */
static void close_state(void)
{
    lua_close(L);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!L) {
        atexit(close_state);
        L = luaL_newstate();
        luaL_openlibs(L);
        lua_pushcfunction(L, luaopen_speezy_json);
        lua_call(L, 0, 1);
        lua_setglobal(L, "json");
    }
    lua_getglobal(L, "json");
    lua_getfield(L, -1, "decode");
    lua_pushlstring(L, (const char *)data, size);
    lua_call(L, 1, 2);
    if (!lua_isnil(L, -2)) {
        lua_getfield(L, -3, "encode");
        lua_pushvalue(L, -3);
        if (lua_pcall(L, 1, 1, 0) != 0)
            __builtin_trap(); /* whatever decode accepts, encode must write */
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
