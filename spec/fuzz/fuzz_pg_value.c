/* fuzz_pg_value.c — PostgreSQL column values (text format) through the binding that turns
 * them into Lua values (bind_pg_push_value): arrays nest and quote what clients stored,
 * timestamps and integers are parsed by hand, json/jsonb go through speezy.json.
 *
 * Each input is used twice:
 *   raw        the first byte picks a type, the rest is the value, NUL-terminated as libpq
 *              hands it over. Whatever the bytes, the value is of the Lua type its column
 *              type promises, and only an array or a json value may raise (malformed). When
 *              the bytes are what PostgreSQL itself writes for that type, the value is
 *              checked too (check_raw: the same integer, boolean, double, bytes, timestamp).
 *   generated  the bytes choose an array (element type, dimensions, elements, NULLs) that
 *              is written out as PostgreSQL writes it, quoting and escaping included; the
 *              binding must give back exactly those elements (check_generated).
 * Anything else — a crash, an out-of-bounds read, a broken promise — is a finding. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bind/bind_pg_rows.h"
#include "fuzz.h"
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

#define INT53 9007199254740992LL

static int decode_ref = LUA_NOREF;

static int convert(lua_State *S)
{
    const char *s = lua_touserdata(S, 1);
    bind_pg_push_value(S, decode_ref, (Oid)lua_tonumber(S, 2), s, (size_t)lua_tonumber(S, 3));
    return 1;
}

/* Pushes the value of (oid, s, len) under lua_pcall; returns lua_pcall's result. */
static int push_converted(lua_State *L, Oid oid, const char *s, size_t len)
{
    lua_pushcfunction(L, convert);
    lua_pushlightuserdata(L, (void *)s);
    lua_pushnumber(L, oid);
    lua_pushnumber(L, (lua_Number)len);
    return lua_pcall(L, 3, 1, 0);
}

static int kind_ok(int kind, int t)
{
    return kind == ANY || kind == t || (kind == NUM_TEXT && (t == LUA_TNUMBER || t == LUA_TSTRING));
}

static int string_is(lua_State *L, int idx, const char *s, size_t len)
{
    size_t n;
    const char *v = lua_tolstring(L, idx, &n);
    return lua_type(L, idx) == LUA_TSTRING && n == len && memcmp(v, s, len) == 0;
}

static int digits(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return len > 0;
}

/* An integer as PostgreSQL writes one: "-?[1-9][0-9]*" or "0"; its digits in *d, *dn. */
static int canonical_int(const char *s, size_t len, const char **d, size_t *dn)
{
    size_t neg = len > 0 && s[0] == '-';
    *d = s + neg;
    *dn = len - neg;
    return digits(*d, *dn) && (*dn == 1 || (*d)[0] != '0') && !(neg && *dn == 1 && **d == '0');
}

/* A number whose printed form (%.0f) is the text: a double holds the integer exactly. */
static int number_prints_as(lua_State *L, int idx, const char *s, size_t len)
{
    char buf[64];
    if (lua_type(L, idx) != LUA_TNUMBER)
        return 0;
    int n = snprintf(buf, sizeof(buf), "%.0f", lua_tonumber(L, idx));
    return (size_t)n == len && memcmp(buf, s, len) == 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'                 ? c - '0'
           : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10
                                                : -1;
}

/* "YYYY-MM-DD HH:MM:SS" with an optional fraction of 1 to 6 digits: its length, or 0. */
static size_t timestamp_len(const char *s, size_t len)
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    size_t n = sizeof(shape) - 1;
    if (len < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (shape[i] == 'd' ? s[i] < '0' || s[i] > '9' : s[i] != shape[i])
            return 0;
    if (n < len && s[n] == '.') {
        size_t f = 0;
        while (n + 1 + f < len && f < 7 && s[n + 1 + f] >= '0' && s[n + 1 + f] <= '9')
            f++;
        if (f == 0 || f > 6)
            return 0;
        n += 1 + f;
    }
    return n;
}

/* The value at the top for the bytes PostgreSQL itself writes for the type. */
static void check_raw(lua_State *L, Oid oid, const char *s, size_t len)
{
    const char *d;
    size_t dn;
    char want[128];
    switch (oid) {
    case 16: /* bool: "t" or "f" */
        if (len == 1 && (s[0] == 't' || s[0] == 'f'))
            PROMISE(lua_toboolean(L, -1) == (s[0] == 't'));
        break;
    case 21:
    case 23:
    case 26: /* int2, int4, oid: the same integer */
        if (canonical_int(s, len, &d, &dn) && dn <= 10)
            PROMISE(number_prints_as(L, -1, s, len));
        break;
    case 20: /* int8: a number within 2^53, the text past it (a double would lose digits) */
        if (canonical_int(s, len, &d, &dn) && dn <= 19) {
            int fits = dn < 16 || (dn == 16 && memcmp(d, "9007199254740992", 16) <= 0);
            PROMISE(fits ? number_prints_as(L, -1, s, len) : string_is(L, -1, s, len));
        }
        break;
    case 700:
    case 701: { /* float4, float8: the double the text reads as; NaN and infinities as text */
        char *end;
        double v = strtod(s, &end);
        if (len == 3 && memcmp(s, "NaN", 3) == 0)
            PROMISE(string_is(L, -1, s, len));
        else if ((len == 8 && memcmp(s, "Infinity", 8) == 0) ||
                 (len == 9 && memcmp(s, "-Infinity", 9) == 0))
            PROMISE(string_is(L, -1, s, len));
        else if (len > 0 && end == s + len && isfinite(v))
            PROMISE(lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) == v);
        break;
    }
    case 17: /* bytea, hex format: the bytes it spells */
        if (len >= 2 && s[0] == '\\' && s[1] == 'x' && len % 2 == 0 && len / 2 - 1 < 64) {
            size_t n = 0;
            int ok = 1;
            for (size_t i = 2; i < len && ok; i += 2) {
                int hi = hexval(s[i]), lo = hexval(s[i + 1]);
                ok = hi >= 0 && lo >= 0;
                want[n++] = (char)(hi * 16 + lo);
            }
            if (ok)
                PROMISE(string_is(L, -1, want, n));
        }
        break;
    case 25:
    case 1043:
    case 1700:
    case 2950:
    case 1082: /* text, varchar, numeric, uuid, date: the bytes as they are */
        PROMISE(string_is(L, -1, s, len));
        break;
    case 1114:
    case 1184: { /* timestamps: ISO 8601 with 'T'; UTC as 'Z', "+05" as "+05:00" */
        size_t n = timestamp_len(s, len);
        if (!n || len > 64)
            break;
        memcpy(want, s, n);
        want[10] = 'T';
        const char *zone = s + n;
        size_t zn = len - n, w = n;
        if (oid == 1114 && zn == 0) {
            want[w++] = 'Z';
        } else if (oid == 1184 && zn == 3 && (zone[0] == '+' || zone[0] == '-') &&
                   digits(zone + 1, 2)) {
            if (memcmp(zone, "+00", 3) == 0) {
                want[w++] = 'Z';
            } else {
                memcpy(want + w, zone, 3);
                memcpy(want + w + 3, ":00", 3);
                w += 6;
            }
        } else if (oid == 1184 && zn == 6 && (zone[0] == '+' || zone[0] == '-') &&
                   digits(zone + 1, 2) && zone[3] == ':' && digits(zone + 4, 2)) {
            memcpy(want + w, zone, 6);
            w += 6;
        } else {
            break;
        }
        PROMISE(string_is(L, -1, want, w));
        break;
    }
    }
}

/* ---- generated arrays ------------------------------------------------------------------ */

typedef struct {
    const uint8_t *p, *end;
} reader_t;

static uint8_t next_byte(reader_t *r)
{
    return r->p < r->end ? *r->p++ : 0;
}

static uint64_t next_bits(reader_t *r, int bytes)
{
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = (v << 8) | next_byte(r);
    return v;
}

enum { EL_INT4, EL_INT8, EL_BOOL, EL_FLOAT8, EL_TEXT, EL_KINDS };
static const Oid elem_array_oid[EL_KINDS] = {1007, 1016, 1000, 1022, 1009};

typedef struct {
    char *p;
    size_t len, cap;
} text_t;

static void put(text_t *t, const char *s, size_t n)
{
    if (t->len + n + 1 > t->cap) {
        t->cap = (t->len + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p)
            abort();
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

/* A text element as PostgreSQL writes it: quoted when empty, "NULL" in any case, or holding
 * a delimiter, brace, quote, backslash or space; quote and backslash escaped. */
static void put_text_elem(text_t *t, const char *s, size_t n)
{
    int quote = n == 0 || (n == 4 && strncasecmp(s, "NULL", 4) == 0);
    for (size_t i = 0; i < n && !quote; i++)
        quote = strchr("{},\"\\ \t\n\r\v\f", s[i]) != NULL;
    if (quote)
        put(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\')
            put(t, "\\", 1);
        put(t, s + i, 1);
    }
    if (quote)
        put(t, "\"", 1);
}

/* Writes one element into t and pushes the value the binding must give for it. */
static void gen_elem(lua_State *L, reader_t *r, int kind, text_t *t)
{
    char buf[64];
    if (next_byte(r) % 7 == 0) {
        put(t, "NULL", 4);
        lua_pushlightuserdata(L, NULL);
        return;
    }
    switch (kind) {
    case EL_INT4: {
        int32_t v = (int32_t)(uint32_t)next_bits(r, 4);
        put(t, buf, (size_t)snprintf(buf, sizeof(buf), "%d", v));
        lua_pushnumber(L, v);
        break;
    }
    case EL_INT8: {
        int64_t v = (int64_t)next_bits(r, 8);
        v >>= next_byte(r) % 64; /* small ones too */
        int n = snprintf(buf, sizeof(buf), "%lld", (long long)v);
        put(t, buf, (size_t)n);
        if (v >= -INT53 && v <= INT53)
            lua_pushnumber(L, (lua_Number)v);
        else
            lua_pushlstring(L, buf, (size_t)n);
        break;
    }
    case EL_BOOL: {
        int v = next_byte(r) & 1;
        put(t, v ? "t" : "f", 1);
        lua_pushboolean(L, v);
        break;
    }
    case EL_FLOAT8: {
        uint64_t bits = next_bits(r, 8);
        double v;
        memcpy(&v, &bits, sizeof(v));
        if (isfinite(v)) {
            put(t, buf, (size_t)snprintf(buf, sizeof(buf), "%.17g", v));
            lua_pushnumber(L, v);
        } else {
            const char *word = isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
            put(t, word, strlen(word));
            lua_pushstring(L, word);
        }
        break;
    }
    default: { /* text: any bytes but NUL, which PostgreSQL text can't hold */
        size_t n = next_byte(r) % 12;
        for (size_t i = 0; i < n; i++) {
            buf[i] = (char)next_byte(r);
            if (buf[i] == '\0')
                buf[i] = '"';
        }
        put_text_elem(t, buf, n);
        lua_pushlstring(L, buf, n);
        break;
    }
    }
}

/* Writes "{...}" of rows x cols elements (rows 0: one dimension) and pushes the expected
 * nested table. */
static void gen_array(lua_State *L, reader_t *r, int kind, int rows, int cols, text_t *t)
{
    put(t, "{", 1);
    lua_newtable(L);
    int n = rows ? rows : cols;
    for (int i = 1; i <= n; i++) {
        if (i > 1)
            put(t, ",", 1);
        if (rows)
            gen_array(L, r, kind, 0, cols, t);
        else
            gen_elem(L, r, kind, t);
        lua_rawseti(L, -2, i);
    }
    put(t, "}", 1);
}

/* got (a converted array) holds exactly what want holds, every level an array. */
static int same_array(lua_State *L, int got, int want, int array_mt)
{
    if (lua_type(L, got) != LUA_TTABLE || !lua_getmetatable(L, got))
        return 0;
    int marked = lua_rawequal(L, -1, array_mt);
    lua_pop(L, 1);
    size_t n = lua_objlen(L, want);
    if (!marked || lua_objlen(L, got) != n)
        return 0;
    int ok = 1;
    for (size_t i = 1; i <= n && ok; i++) {
        lua_rawgeti(L, got, (int)i);
        lua_rawgeti(L, want, (int)i);
        int g = lua_gettop(L) - 1, w = g + 1;
        if (lua_type(L, w) == LUA_TTABLE)
            ok = same_array(L, g, w, array_mt);
        else if (lua_type(L, w) == LUA_TNUMBER)
            ok = lua_type(L, g) == LUA_TNUMBER && lua_tonumber(L, g) == lua_tonumber(L, w);
        else
            ok = lua_type(L, g) == lua_type(L, w) && lua_equal(L, g, w);
        lua_pop(L, 2);
    }
    return ok;
}

static void check_generated(lua_State *L, const uint8_t *data, size_t size, int array_mt)
{
    reader_t r = {data, data + size};
    int kind = next_byte(&r) % EL_KINDS;
    uint8_t shape = next_byte(&r);
    int rows = shape & 0x80 ? 1 + (shape >> 4 & 3) : 0, cols = shape % 9;
    if (rows && cols == 0)
        cols = 1; /* PostgreSQL writes an empty array as "{}", never "{{},{}}" */
    text_t t = {0};
    gen_array(L, &r, kind, rows, cols, &t);
    int want = lua_gettop(L);
    PROMISE(push_converted(L, elem_array_oid[kind], t.p, t.len) == 0);
    PROMISE(same_array(L, lua_gettop(L), want, array_mt));
    free(t.p);
}

/* ---- the harness ----------------------------------------------------------------------- */

/* A json/jsonb value is what speezy.json.decode makes of the text; the column raises
 * exactly when decode refuses it (a column never vanishes from its row). */
static void check_json(lua_State *L, int json, int ok, const char *s, size_t len)
{
    lua_getfield(L, json, "decode");
    lua_pushlstring(L, s, len);
    lua_call(L, 1, 1);
    PROMISE(ok == !lua_isnil(L, -1));
    if (ok) { /* the same value: the encoder writes both alike */
        lua_getfield(L, json, "encode");
        lua_pushvalue(L, -3);
        lua_call(L, 1, 1);
        lua_getfield(L, json, "encode");
        lua_pushvalue(L, -3);
        lua_call(L, 1, 1);
        PROMISE(lua_equal(L, -1, -2));
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = fuzz_lua_json();
    int json = lua_gettop(L);
    if (decode_ref == LUA_NOREF) {
        lua_getfield(L, json, "decode");
        decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_getfield(L, json, "array_mt");
    int array_mt = lua_gettop(L);
    if (size == 0)
        return 0;

    size_t pick = data[0] % (sizeof(types) / sizeof(types[0]));
    Oid oid = types[pick].oid;
    int kind = types[pick].kind;
    size_t len = size - 1;
    char *value = malloc(len + 1);
    memcpy(value, data + 1, len);
    value[len] = '\0';
    int ok = push_converted(L, oid, value, len) == 0;
    /* only a malformed array or json value raises */
    PROMISE(ok || kind == LUA_TTABLE || kind == ANY);
    if (ok) {
        PROMISE(kind_ok(kind, lua_type(L, -1)));
        check_raw(L, oid, value, len);
    }
    if (kind == ANY)
        check_json(L, json, ok, value, len);
    free(value);

    lua_settop(L, array_mt);
    check_generated(L, data, size, array_mt);
    lua_settop(L, 0);
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}
