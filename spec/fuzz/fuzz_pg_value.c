/* fuzz_pg_value.c — arbitrary bytes as a PostgreSQL column value of every type the binding
 * converts (bind_pg_push_value): arrays nest and quote what clients stored, timestamps and
 * integers are parsed by hand, json/jsonb go through speezy.json.
 *
 * The first byte picks the type; the rest is the value, NUL-terminated as libpq hands it
 * over. A malformed value may raise (the binding converts under lua_pcall); anything else —
 * a crash, an out-of-bounds read, a value that is not what its type promises — is a finding. */
#include <stdint.h>
#include <string.h>

#include "bind/bind_pg_rows.h"
#include "fuzz_lua.h"

/* Each type and what it promises a script, whatever the bytes were (ANY: json/jsonb, any JSON
 * value; NUM_TEXT: a number, or PostgreSQL's text where a number can't hold it). */
enum { ANY = -1, NUM_TEXT = -2 };
static const struct {
    Oid oid;
    int kind;
} types[] = {
    {16, LUA_TBOOLEAN},  {17, LUA_TSTRING},   {20, NUM_TEXT},      {21, LUA_TNUMBER},
    {23, LUA_TNUMBER},   {26, LUA_TNUMBER},   {114, ANY},          {700, NUM_TEXT},
    {701, NUM_TEXT},     {1114, LUA_TSTRING}, {1184, LUA_TSTRING}, {3802, ANY},
    {25, LUA_TSTRING},   {1043, LUA_TSTRING}, {1700, LUA_TSTRING}, {2950, LUA_TSTRING},
    {1082, LUA_TSTRING}, {705, LUA_TSTRING},  {1000, LUA_TTABLE},  {1001, LUA_TTABLE},
    {1002, LUA_TTABLE},  {1003, LUA_TTABLE},  {1005, LUA_TTABLE},  {1007, LUA_TTABLE},
    {1009, LUA_TTABLE},  {1014, LUA_TTABLE},  {1015, LUA_TTABLE},  {1016, LUA_TTABLE},
    {1021, LUA_TTABLE},  {1022, LUA_TTABLE},  {1028, LUA_TTABLE},  {1115, LUA_TTABLE},
    {1182, LUA_TTABLE},  {1185, LUA_TTABLE},  {1231, LUA_TTABLE},  {2951, LUA_TTABLE},
    {199, LUA_TTABLE},   {3807, LUA_TTABLE},
};

static int decode_ref = LUA_NOREF;

static int convert(lua_State *S)
{
    const char *s = lua_touserdata(S, 1);
    bind_pg_push_value(S, decode_ref, (Oid)lua_tonumber(S, 2), s, (size_t)lua_tonumber(S, 3));
    return 1;
}

static int kind_ok(int kind, int t)
{
    return kind == ANY || kind == t || (kind == NUM_TEXT && (t == LUA_TNUMBER || t == LUA_TSTRING));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_json();
    if (decode_ref == LUA_NOREF) {
        lua_getfield(L, -1, "decode");
        decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_settop(L, 0);
    if (size == 0)
        return 0;
    size_t pick = data[0] % (sizeof(types) / sizeof(types[0]));
    size_t len = size - 1;
    char *value = malloc(len + 1);
    memcpy(value, data + 1, len);
    value[len] = '\0';

    lua_pushcfunction(L, convert);
    lua_pushlightuserdata(L, value);
    lua_pushnumber(L, types[pick].oid);
    lua_pushnumber(L, (lua_Number)len);
    if (lua_pcall(L, 3, 1, 0) == 0 && !kind_ok(types[pick].kind, lua_type(L, -1)))
        __builtin_trap();
    free(value);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
