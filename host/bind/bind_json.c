/* bind_json.c — speezy.json: the response encoder.
 *
 * Why not cjson.encode alone: an empty Lua table is ambiguous, and clients must get [] for
 * an empty list of rows, never {}. Tables carrying the array metatable (rows from pg, arrays
 * from redis and pg, json.array{...}) always encode as arrays. Other tables are arrays when
 * their keys are exactly 1..n, objects otherwise. Integers print without exponent; NaN and
 * infinities are refused. Tables carrying the ordered metatable (json.ordered{k1, v1, k2, v2})
 * encode as objects whose members keep that order: GraphQL answers list fields in the order
 * the query asked for them. json.decode is in bind_json_decode.c.
 *
 * speezy.app answers with json._envelope_held(t): the envelope stays in this state's encoder
 * buffer and the worker sends it from there (bind_json_held), so a response body never
 * becomes a Lua string (no copy, no interning, no garbage). */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../json.h"
#include "bind.h"

#define JSON_MAX_DEPTH 64

/* Output buffer: one per lua_State, an upvalue of the encoding functions, reused by every
 * encode, so encoding allocates nothing once it has grown, and an error mid-encode leaks
 * nothing (the buffer just waits for the next encode; its __gc frees it with the state). A
 * luaL_Buffer can't be used: encoding walks tables with lua_next between appends. The text
 * itself is written by host/json.c, the escaper every JSON of the host goes through. */
typedef struct {
    json_buf_t out;
    const void *array_mt;   /* the array metatable (the second upvalue), compared by address */
    const void *ordered_mt; /* the ordered-object metatable (the third upvalue) */
} jbuf_t;

static int jbuf_gc(lua_State *L)
{
    jbuf_t *b = lua_touserdata(L, 1);
    json_free(&b->out);
    return 0;
}

static void push_jbuf(lua_State *L)
{
    jbuf_t *b = lua_newuserdata(L, sizeof(*b));
    memset(b, 0, sizeof(*b));
    json_init(&b->out, NULL, 0);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, jbuf_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
}

static char jbuf_key; /* registry[&jbuf_key] = the buffer, for bind_json_held */

/* The buffer, emptied; one grown past 64 KiB is given back to the allocator first. */
static jbuf_t *jbuf_get(lua_State *L)
{
    jbuf_t *b = lua_touserdata(L, lua_upvalueindex(1));
    if (b->out.cap > 65536)
        json_free(&b->out);
    json_reset(&b->out);
    b->array_mt = lua_topointer(L, lua_upvalueindex(2));
    b->ordered_mt = lua_topointer(L, lua_upvalueindex(3));
    return b;
}

static inline void put(jbuf_t *b, const char *s, size_t n)
{
    json_put(&b->out, s, n);
}

static inline void putc_(jbuf_t *b, char c)
{
    json_put(&b->out, &c, 1);
}

static void puts_(jbuf_t *b, const char *s)
{
    put(b, s, strlen(s));
}

static char array_mt_key, ordered_mt_key;

/* The metatable registry[key], made on first use with __jsontype = type. */
static void push_marker_mt(lua_State *L, char *key, const char *type)
{
    lua_pushlightuserdata(L, key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, 0, 1);
        lua_pushstring(L, type);
        lua_setfield(L, -2, "__jsontype");
        lua_pushlightuserdata(L, key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
}

void bind_push_array_mt(lua_State *L)
{
    push_marker_mt(L, &array_mt_key, "array");
}

static void push_ordered_mt(lua_State *L)
{
    push_marker_mt(L, &ordered_mt_key, "ordered");
}

void bind_mark_array(lua_State *L, int idx)
{
    idx = idx < 0 ? lua_gettop(L) + idx + 1 : idx;
    bind_push_array_mt(L);
    lua_setmetatable(L, idx);
}

/* The table's marker metatable, or NULL. */
static const void *marker_of(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx))
        return NULL;
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    return mt;
}

static int is_marked_array(lua_State *L, const jbuf_t *b, int idx)
{
    return marker_of(L, idx) == b->array_mt;
}

static void put_string(jbuf_t *b, const char *s, size_t len)
{
    json_put_string(&b->out, s, len);
}

static void put_number(lua_State *L, jbuf_t *b, lua_Number n)
{
    char buf[32];
    if (isnan(n) || isinf(n))
        luaL_error(L, "json: cannot encode %s", isnan(n) ? "NaN" : "an infinity");
    put(b, buf, json_number_text(buf, n));
}

/* n > 0 when the table's keys are exactly 1..n; 0 for an empty table; -1 otherwise. */
static int array_length(lua_State *L, int idx)
{
    int n = 0;
    lua_Number max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return -1;
        }
        lua_Number k = lua_tonumber(L, -1);
        if (k < 1 || k != floor(k)) {
            lua_pop(L, 1);
            return -1;
        }
        if (k > max)
            max = k;
        n++;
    }
    return max == n ? n : -1;
}

static void encode(lua_State *L, jbuf_t *b, int idx, int depth);

/* The members of the object at idx, each after a ',' but the first when `first` is set. */
static void encode_members(lua_State *L, jbuf_t *b, int idx, int depth, int first)
{
    int key = lua_gettop(L) + 1; /* where lua_next leaves the key, the value above it */
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
        if (!first)
            putc_(b, ',');
        first = 0;
        size_t klen;
        int kt = lua_type(L, key);
        if (kt == LUA_TSTRING) {
            const char *k = lua_tolstring(L, key, &klen);
            put_string(b, k, klen);
        } else if (kt == LUA_TNUMBER) {
            lua_pushvalue(L, key); /* converted on a copy: lua_next needs the number */
            const char *k = lua_tolstring(L, -1, &klen);
            put_string(b, k, klen);
            lua_pop(L, 1);
        } else {
            luaL_error(L, "json: cannot encode a table key of type %s", lua_typename(L, kt));
        }
        putc_(b, ':');
        encode(L, b, key + 1, depth + 1);
        lua_pop(L, 1);
    }
}

/* {k1, v1, k2, v2, ...} as an object in that order; keys must be strings. */
static void encode_ordered(lua_State *L, jbuf_t *b, int idx, int depth)
{
    int n = (int)lua_objlen(L, idx);
    putc_(b, '{');
    for (int i = 1; i < n; i += 2) {
        if (i > 1)
            putc_(b, ',');
        lua_rawgeti(L, idx, i);
        size_t klen = 0;
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &klen) : NULL;
        if (!k)
            luaL_error(L, "json: an ordered object's key %d is not a string", (i + 1) / 2);
        put_string(b, k, klen);
        putc_(b, ':');
        lua_rawgeti(L, idx, i + 1);
        encode(L, b, lua_gettop(L), depth + 1);
        lua_pop(L, 2);
    }
    putc_(b, '}');
}

static void encode_table(lua_State *L, jbuf_t *b, int idx, int depth)
{
    if (depth > JSON_MAX_DEPTH)
        luaL_error(L, "json: nested deeper than %d (a cycle?)", JSON_MAX_DEPTH);
    const void *mt = marker_of(L, idx);
    if (mt && mt == b->ordered_mt) {
        encode_ordered(L, b, idx, depth);
        return;
    }
    int marked = mt && mt == b->array_mt;
    int n = marked ? (int)lua_objlen(L, idx) : array_length(L, idx);
    if (marked || n > 0) {
        putc_(b, '[');
        for (int i = 1; i <= n; i++) {
            if (i > 1)
                putc_(b, ',');
            lua_rawgeti(L, idx, i);
            encode(L, b, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
        putc_(b, ']');
        return;
    }
    putc_(b, '{');
    encode_members(L, b, idx, depth, 1);
    putc_(b, '}');
}

static void encode(lua_State *L, jbuf_t *b, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        puts_(b, "null");
        break;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) != NULL)
            luaL_error(L, "json: cannot encode a userdata");
        puts_(b, "null");
        break;
    case LUA_TBOOLEAN:
        puts_(b, lua_toboolean(L, idx) ? "true" : "false");
        break;
    case LUA_TNUMBER:
        put_number(L, b, lua_tonumber(L, idx));
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(b, s, len);
        break;
    }
    case LUA_TTABLE:
        encode_table(L, b, idx, depth);
        break;
    default:
        luaL_error(L, "json: cannot encode a %s", luaL_typename(L, idx));
    }
}

/* Raises when the buffer could not grow: the text is incomplete. */
static jbuf_t *jbuf_check(lua_State *L, jbuf_t *b)
{
    if (b->out.failed)
        luaL_error(L, "json: out of memory");
    return b;
}

static int jbuf_result(lua_State *L, jbuf_t *b)
{
    jbuf_check(L, b);
    lua_pushlstring(L, b->out.p ? b->out.p : "", b->out.len);
    return 1;
}

static int json_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    jbuf_t *b = jbuf_get(L);
    encode(L, b, 1, 0);
    return jbuf_result(L, b);
}

/* {"success":true, ...members of the table}: the success envelope in one pass. A table
 * that is a list goes under "data". */
static jbuf_t *encode_envelope(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    jbuf_t *b = jbuf_get(L);
    if (is_marked_array(L, b, 1) || array_length(L, 1) > 0) {
        puts_(b, "{\"success\":true,\"data\":");
        encode(L, b, 1, 0);
    } else {
        puts_(b, "{\"success\":true");
        encode_members(L, b, 1, 0, 0);
    }
    putc_(b, '}');
    return b;
}

static int json_envelope(lua_State *L)
{
    return jbuf_result(L, encode_envelope(L));
}

static int json_envelope_held(lua_State *L)
{
    jbuf_check(L, encode_envelope(L));
    lua_pushboolean(L, 1);
    return 1;
}

const char *bind_json_held(lua_State *L, size_t *len)
{
    lua_pushlightuserdata(L, &jbuf_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    const jbuf_t *b = lua_touserdata(L, -1);
    lua_pop(L, 1);
    *len = b ? b->out.len : 0;
    return b && b->out.p ? b->out.p : "";
}

static int json_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    bind_mark_array(L, 1);
    return 1;
}

static int json_ordered(lua_State *L)
{
    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    push_ordered_mt(L);
    lua_setmetatable(L, 1);
    return 1;
}

int luaopen_speezy_json(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"encode", json_encode},
        {"envelope", json_envelope},
        {"_envelope_held", json_envelope_held},
        {NULL, NULL},
    };
    lua_createtable(L, 0, 6);
    push_jbuf(L); /* shared: encoding runs no Lua, so one state encodes one thing at a time */
    lua_pushlightuserdata(L, &jbuf_key);
    lua_pushlightuserdata(L, lua_touserdata(L, -2)); /* the upvalues keep it alive */
    lua_rawset(L, LUA_REGISTRYINDEX);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushvalue(L, -1);
        bind_push_array_mt(L);
        push_ordered_mt(L);
        lua_pushcclosure(L, f->func, 3);
        lua_setfield(L, -3, f->name);
    }
    lua_pop(L, 1);
    lua_pushcfunction(L, json_array);
    lua_setfield(L, -2, "array");
    lua_pushcfunction(L, bind_json_decode);
    lua_setfield(L, -2, "decode");
    bind_push_null(L);
    lua_setfield(L, -2, "null");
    bind_push_array_mt(L);
    lua_setfield(L, -2, "array_mt");
    lua_pushcfunction(L, json_ordered);
    lua_setfield(L, -2, "ordered");
    push_ordered_mt(L);
    lua_setfield(L, -2, "ordered_mt");
    return 1;
}
