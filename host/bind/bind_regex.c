/* bind_regex.c — speezy.regex: PCRE2 patterns with a match budget (host/regex.h), for
 * speezy.schema's `pattern` rule and for scripts.
 *
 *   local regex = require "speezy.regex"
 *   local re, err = regex.compile("^[0-9]{6}$")  -- nil, err (REGEX_INVALID) on a bad pattern
 *   re:test(s)            -- true | false | nil, err: REGEX_LIMIT (the match budget ran out),
 *                         -- REGEX_UTF8 (s is not valid UTF-8)
 *   regex.utf8_length(s)  -- characters (code points) in s, or nil, the byte position (from 1)
 *                         -- of the first invalid sequence
 *
 * A pattern is compiled once; its memory goes with the userdata's __gc. */
#include "../regex.h"
#include "bind.h"

#define REGEX_MT "speezy.regex"

static regex_pattern_t **check_pattern(lua_State *L)
{
    regex_pattern_t **p = luaL_checkudata(L, 1, REGEX_MT);
    if (!*p)
        luaL_argerror(L, 1, "freed pattern");
    return p;
}

static int regex_lua_compile(lua_State *L)
{
    size_t len;
    const char *pat = luaL_checklstring(L, 1, &len);
    regex_pattern_t **p = lua_newuserdata(L, sizeof(*p));
    *p = NULL;
    luaL_getmetatable(L, REGEX_MT);
    lua_setmetatable(L, -2);
    char err[REGEX_ERROR_SIZE];
    *p = regex_compile(pat, len, err);
    if (!*p)
        return bind_fail(L, "REGEX_INVALID", "%s", err);
    return 1;
}

static int regex_lua_test(lua_State *L)
{
    regex_pattern_t **p = check_pattern(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    switch (regex_match(*p, s, len)) {
    case REGEX_MATCH:
        lua_pushboolean(L, 1);
        return 1;
    case REGEX_NOMATCH:
        lua_pushboolean(L, 0);
        return 1;
    case REGEX_ELIMIT:
        return bind_fail(L, "REGEX_LIMIT", "the match budget ran out");
    case REGEX_EUTF:
        return bind_fail(L, "REGEX_UTF8", "the subject is not valid UTF-8");
    default:
        return bind_fail(L, "REGEX_FAILED", "the match failed");
    }
}

static int regex_lua_gc(lua_State *L)
{
    regex_pattern_t **p = luaL_checkudata(L, 1, REGEX_MT);
    regex_free(*p);
    *p = NULL;
    return 0;
}

static int regex_lua_utf8_length(lua_State *L)
{
    size_t len, bad = 0;
    const char *s = luaL_checklstring(L, 1, &len);
    long n = regex_utf8_length(s, len, &bad);
    if (n < 0) {
        lua_pushnil(L);
        lua_pushnumber(L, (lua_Number)bad + 1);
        return 2;
    }
    lua_pushnumber(L, (lua_Number)n);
    return 1;
}

int luaopen_speezy_regex(lua_State *L)
{
    if (luaL_newmetatable(L, REGEX_MT)) {
        lua_createtable(L, 0, 1);
        lua_pushcfunction(L, regex_lua_test);
        lua_setfield(L, -2, "test");
        lua_setfield(L, -2, "__index");
        lua_pushcfunction(L, regex_lua_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"compile", regex_lua_compile},
        {"utf8_length", regex_lua_utf8_length},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 2);
    luaL_register(L, NULL, fns);
    return 1;
}
