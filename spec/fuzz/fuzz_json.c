/* fuzz_json.c — arbitrary bytes through speezy.json.decode (request bodies are untrusted),
 * and every accepted document round the trip decode -> encode -> decode.
 *
 * What the encoder promises (host/bind/bind_json.c): whatever decode accepts, encode
 * writes, as valid UTF-8 JSON without a raw control character, and decoding that gives the
 * same value back, where "the same" is:
 *   - numbers: the same double (-0 may come back as 0: they compare equal);
 *   - strings: the same bytes, except that each byte where no valid UTF-8 sequence starts
 *     comes back as U+FFFD (decode keeps such bytes, encode replaces them);
 *   - arrays stay arrays and objects stay objects, empty ones too ([] carries the array
 *     metatable, {} does not: the ambiguity of an empty Lua table is settled by it);
 *   - object keys go through the same replacement, so two keys that differ only in invalid
 *     bytes become one: it must exist, holding one of their values;
 *   - null is the null sentinel, booleans are themselves.
 * A broken promise traps (PROMISE, fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../unit/json_check.h"
#include "fuzz.h"
#include "fuzz_lua.h"

/* Pushes s as a reader must get it back (jc_sanitize: every byte that starts no valid
 * sequence as U+FFFD). */
static void push_replaced(lua_State *L, const char *s, size_t len)
{
    char *out = malloc(3 * len + 1);
    lua_pushlstring(L, out, jc_sanitize(s, len, out));
    free(out);
}

/* Valid UTF-8 throughout, and no byte below 0x20 (JSON escapes every control character). */
static int text_ok(const char *s, size_t len)
{
    for (size_t i = 0; i < len;) {
        if ((unsigned char)s[i] < 0x20)
            return 0;
        uint32_t cp;
        size_t n = jc_utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!n)
            return 0;
        i += n;
    }
    return 1;
}

static int is_array(lua_State *L, int idx, int array_mt)
{
    if (!lua_getmetatable(L, idx))
        return 0;
    int yes = lua_rawequal(L, -1, array_mt);
    lua_pop(L, 1);
    return yes;
}

static int same(lua_State *L, int a, int b, int array_mt);

/* b is object a after the round trip: see the header. */
static int same_object(lua_State *L, int a, int b, int array_mt)
{
    int top = lua_gettop(L);
    /* how many of a's keys become each key of b */
    lua_newtable(L);
    int counts = top + 1;
    size_t keys = 0;
    lua_pushnil(L);
    while (lua_next(L, a)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) { /* decode makes string keys only */
            lua_settop(L, top);
            return 0;
        }
        size_t klen;
        const char *k = lua_tolstring(L, -1, &klen);
        push_replaced(L, k, klen);
        lua_pushvalue(L, -1);
        lua_rawget(L, counts);
        lua_Number n = lua_tonumber(L, -1);
        lua_pop(L, 1);
        keys += n == 0;
        lua_pushnumber(L, n + 1);
        lua_rawset(L, counts);
    }
    /* b has exactly those keys */
    size_t bkeys = 0;
    lua_pushnil(L);
    while (lua_next(L, b)) {
        lua_pop(L, 1);
        bkeys++;
    }
    if (bkeys != keys) {
        lua_settop(L, top);
        return 0;
    }
    /* each holds a's value, or one of them when several keys became it */
    int ok = 1;
    lua_pushnil(L);
    while (ok && lua_next(L, a)) {
        int value = lua_gettop(L), key = value - 1;
        size_t klen;
        const char *k = lua_tolstring(L, key, &klen);
        push_replaced(L, k, klen);
        lua_pushvalue(L, -1);
        lua_rawget(L, counts);
        int shared = lua_tonumber(L, -1) > 1;
        lua_pop(L, 1);
        lua_rawget(L, b);
        if (lua_isnil(L, -1))
            ok = 0;
        else if (!shared)
            ok = same(L, value, lua_gettop(L), array_mt);
        lua_settop(L, key);
    }
    lua_settop(L, top);
    return ok;
}

/* Whether b (decoded from encode(a)) is a after the round trip. */
static int same(lua_State *L, int a, int b, int array_mt)
{
    int t = lua_type(L, a);
    if (t != lua_type(L, b))
        return 0;
    switch (t) {
    case LUA_TNUMBER:
        return lua_tonumber(L, a) == lua_tonumber(L, b);
    case LUA_TBOOLEAN:
        return lua_toboolean(L, a) == lua_toboolean(L, b);
    case LUA_TLIGHTUSERDATA:
        return lua_touserdata(L, a) == NULL && lua_touserdata(L, b) == NULL;
    case LUA_TSTRING: {
        size_t alen, blen;
        const char *s = lua_tolstring(L, a, &alen);
        push_replaced(L, s, alen);
        const char *want = lua_tolstring(L, -1, &alen);
        const char *got = lua_tolstring(L, b, &blen);
        int eq = alen == blen && memcmp(want, got, alen) == 0;
        lua_pop(L, 1);
        return eq;
    }
    case LUA_TTABLE: {
        int arr = is_array(L, a, array_mt);
        if (arr != is_array(L, b, array_mt))
            return 0;
        if (!arr)
            return same_object(L, a, b, array_mt);
        size_t n = lua_objlen(L, a);
        if (n != lua_objlen(L, b))
            return 0;
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, a, (int)i);
            lua_rawgeti(L, b, (int)i);
            int top = lua_gettop(L);
            int eq = same(L, top - 1, top, array_mt);
            lua_pop(L, 2);
            if (!eq)
                return 0;
        }
        return 1;
    }
    default:
        return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_json();
    int json = lua_gettop(L);
    lua_getfield(L, json, "array_mt");
    int array_mt = lua_gettop(L);

    lua_getfield(L, json, "decode");
    lua_pushlstring(L, (const char *)data, size);
    lua_call(L, 1, 2);
    lua_pop(L, 1); /* decode's message when it refused */
    int v1 = lua_gettop(L);
    if (!lua_isnil(L, v1)) {
        lua_getfield(L, json, "encode");
        lua_pushvalue(L, v1);
        PROMISE(lua_pcall(L, 1, 1, 0) == 0); /* whatever decode accepts, encode writes */
        size_t len;
        const char *text = lua_tolstring(L, -1, &len);
        PROMISE(text_ok(text, len));

        lua_getfield(L, json, "decode");
        lua_pushvalue(L, -2);
        lua_call(L, 1, 2);
        lua_pop(L, 1);
        PROMISE(!lua_isnil(L, -1)); /* what encode writes, decode reads */
        PROMISE(same(L, v1, lua_gettop(L), array_mt));
    }
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
