/* fuzz_json.c — arbitrary bytes through speezy.json.decode (request bodies are untrusted),
 * and every accepted document back through json.encode. */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_lua.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_json();
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
