/* bind_pg_rows.c — PostgreSQL results as Lua values: rows of typed columns, from the text
 * format the pool receives (host/pg.c asks for text results).
 *
 * The bytes come from the server, but they carry whatever clients stored (text inside arrays,
 * JSON documents), so every parser here treats them as untrusted: a malformed value raises a
 * Lua error (the caller runs under lua_pcall) and nothing reads past a value's terminating
 * NUL. Fuzzed by spec/fuzz/fuzz_pg_value.c. */
#include <libpq-fe.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bind.h"
#include "bind_pg_rows.h"

#define INT53 9007199254740992LL

/* Type OIDs, fixed by PostgreSQL's catalog. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_OID = 26,
    OID_JSON = 114,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_JSONB = 3802,
    /* kept as PostgreSQL writes them (named only to skip the array lookup) */
    OID_NAME = 19,
    OID_TEXT = 25,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_NUMERIC = 1700,
    OID_UUID = 2950
};

/* Array type -> element type. Elements without a case in bind_pg_push_value (char 18, name 19, text
 * 25, bpchar 1042, varchar 1043, date 1082, numeric 1700, uuid 2950) keep PostgreSQL's text. */
static const struct {
    Oid array, elem;
} array_types[] = {
    {1000, OID_BOOL}, {1001, OID_BYTEA},     {1002, 18},         {1003, 19},
    {1005, OID_INT2}, {1007, OID_INT4},      {1009, 25},         {1014, 1042},
    {1015, 1043},     {1016, OID_INT8},      {1021, OID_FLOAT4}, {1022, OID_FLOAT8},
    {1028, OID_OID},  {1115, OID_TIMESTAMP}, {1182, 1082},       {1185, OID_TIMESTAMPTZ},
    {1231, 1700},     {2951, 2950},          {199, OID_JSON},    {3807, OID_JSONB},
};

/* Integer text as PostgreSQL writes it ("-?[0-9]+"); 0 past 18 digits (then it may not fit). */
static int parse_int(const char *s, size_t len, long long *out)
{
    int neg = len > 0 && s[0] == '-';
    size_t i = (size_t)neg;
    if (len == i || len - i > 18)
        return 0;
    long long v = 0;
    for (; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return 1;
}

static void push_int8(lua_State *S, const char *s, size_t len)
{
    long long v;
    if (!parse_int(s, len, &v))
        v = strtoll(s, NULL, 10);
    if (v > INT53 || v < -INT53)
        lua_pushlstring(S, s, len); /* a double would silently lose digits */
    else
        lua_pushnumber(S, (lua_Number)v);
}

static void push_json(lua_State *S, int decode_ref, const char *s, size_t len)
{
    lua_rawgeti(S, LUA_REGISTRYINDEX, decode_ref);
    if (lua_isnil(S, -1)) {
        lua_pop(S, 1);
        lua_pushlstring(S, s, len);
        return;
    }
    lua_pushlstring(S, s, len);
    lua_call(S, 1, 2);
    if (lua_isnil(S, -2)) /* a column must never vanish from its row */
        luaL_error(S, "a json value can't be decoded: %s", luaL_optstring(S, -1, "?"));
    lua_pop(S, 1);
}

/* "2026-11-25 09:51:41.123456+00" -> "2026-11-25T09:51:41.123456Z"; a timestamp without time
 * zone is taken as UTC. BC dates and infinities stay as PostgreSQL writes them. */
static void push_timestamp(lua_State *S, Oid oid, const char *s, size_t len)
{
    char buf[64];
    const char *sp = memchr(s, ' ', len);
    if (!sp || len + 4 > sizeof(buf) || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - s))) {
        lua_pushlstring(S, s, len);
        return;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    buf[sp - s] = 'T';
    size_t n = len;
    const char *off = oid == OID_TIMESTAMPTZ ? strpbrk(buf + (sp - s), "+-") : NULL;
    if (oid != OID_TIMESTAMPTZ || (off && strncmp(off, "+00", 3) == 0 && off + 3 == buf + len)) {
        n = oid == OID_TIMESTAMPTZ ? (size_t)(off - buf) : len;
        buf[n++] = 'Z';
    } else if (off && off + 3 == buf + len) {
        memcpy(buf + n, ":00", 3); /* "+05" -> "+05:00" */
        n += 3;
    }
    lua_pushlstring(S, buf, n);
}

static void push_bytea(lua_State *S, const char *s)
{
    size_t n;
    unsigned char *b = PQunescapeBytea((const unsigned char *)s, &n);
    if (!b)
        luaL_error(S, "out of memory decoding bytea");
    lua_pushlstring(S, (const char *)b, n);
    PQfreemem(b);
}

/* One element of an array literal into buf (unquoted, unescaped); pushes its value. */
static const char *parse_elem(lua_State *S, int decode_ref, Oid elem, const char *p,
                              const char *end, char *buf)
{
    size_t n = 0;
    int quoted = *p == '"';
    if (quoted)
        p++;
    while (p < end && (quoted ? *p != '"' : *p != ',' && *p != '}')) {
        if (*p == '\\' && p + 1 < end)
            p++;
        buf[n++] = *p++;
    }
    if (quoted && p++ >= end)
        return NULL;
    buf[n] = '\0';
    if (!quoted && n == 4 && strncasecmp(buf, "NULL", 4) == 0)
        bind_push_null(S);
    else
        bind_pg_push_value(S, decode_ref, elem, buf, n);
    return p;
}

/* "{...}" at p (dimensions nest); pushes a Lua array; NULL when malformed. */
static const char *parse_level(lua_State *S, int decode_ref, Oid elem, const char *p,
                               const char *end, char *buf, int depth)
{
    if (p >= end || *p != '{' || depth > 6)
        return NULL;
    luaL_checkstack(S, 4, "array too deep");
    lua_newtable(S);
    bind_mark_array(S, -1);
    if (++p < end && *p == '}')
        return p + 1;
    for (int i = 1;; i++) {
        p = p < end && *p == '{' ? parse_level(S, decode_ref, elem, p, end, buf, depth + 1)
                                 : parse_elem(S, decode_ref, elem, p, end, buf);
        if (!p || p >= end)
            return NULL;
        lua_rawseti(S, -2, i);
        if (*p == '}')
            return p + 1;
        if (*p++ != ',')
            return NULL;
    }
}

static void push_array(lua_State *S, int decode_ref, Oid elem, const char *s, size_t len)
{
    const char *p = s, *end = s + len;
    if (*p == '[') { /* "[0:2]={...}": bounds other than 1..n; Lua arrays start at 1 anyway */
        p = memchr(p, '=', len);
        p = p ? p + 1 : end;
    }
    char *buf = lua_newuserdata(S, len + 1);
    int at = lua_gettop(S);
    if (!parse_level(S, decode_ref, elem, p, end, buf, 1))
        luaL_error(S, "malformed array value from the server");
    lua_remove(S, at);
}

static Oid array_elem(Oid oid)
{
    for (size_t i = 0; i < sizeof(array_types) / sizeof(array_types[0]); i++)
        if (array_types[i].array == oid)
            return array_types[i].elem;
    return 0;
}

void bind_pg_push_value(lua_State *S, int decode_ref, Oid oid, const char *s, size_t len)
{
    switch (oid) {
    case OID_BOOL:
        lua_pushboolean(S, s[0] == 't');
        return;
    case OID_INT2:
    case OID_INT4:
    case OID_OID: {
        long long v;
        lua_pushnumber(S, parse_int(s, len, &v) ? (lua_Number)v : strtod(s, NULL));
        return;
    }
    case OID_FLOAT4:
    case OID_FLOAT8: {
        /* NaN and the infinities stay text, as in PostgreSQL's own to_json: JSON has no such
         * numbers, and a row must encode. */
        double v = strtod(s, NULL);
        if (isfinite(v))
            lua_pushnumber(S, v);
        else
            lua_pushlstring(S, s, len);
        return;
    }
    case OID_INT8:
        push_int8(S, s, len);
        return;
    case OID_JSON:
    case OID_JSONB:
        push_json(S, decode_ref, s, len);
        return;
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
        push_timestamp(S, oid, s, len);
        return;
    case OID_BYTEA:
        push_bytea(S, s);
        return;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_NUMERIC:
    case OID_UUID:
    case OID_DATE:
        lua_pushlstring(S, s, len);
        return;
    }
    Oid elem = array_elem(oid);
    if (elem)
        push_array(S, decode_ref, elem, s, len);
    else
        lua_pushlstring(S, s, len); /* numeric, text, uuid, date, ...: as PostgreSQL writes them */
}

/* rows (array of tables keyed by column name), affected. */
int bind_pg_push_rows(lua_State *S, int decode_ref, const PGresult *res)
{
    int nrows = PQntuples(res), ncols = PQnfields(res);
    luaL_checkstack(S, ncols + 8, "too many columns");
    lua_createtable(S, nrows, 0);
    bind_mark_array(S, -1);
    int rows = lua_gettop(S);
    for (int c = 0; c < ncols; c++)
        lua_pushstring(S, PQfname(res, c));
    for (int r = 0; r < nrows; r++) {
        lua_createtable(S, 0, ncols);
        for (int c = 0; c < ncols; c++) {
            lua_pushvalue(S, rows + 1 + c);
            if (PQgetisnull(res, r, c))
                bind_push_null(S);
            else
                bind_pg_push_value(S, decode_ref, PQftype(res, c), PQgetvalue(res, r, c),
                                   (size_t)PQgetlength(res, r, c));
            lua_rawset(S, -3);
        }
        lua_rawseti(S, rows, r + 1);
    }
    lua_settop(S, rows);
    const char *count = PQcmdTuples((PGresult *)res);
    long long affected;
    lua_pushnumber(S, parse_int(count, strlen(count), &affected) ? (lua_Number)affected
                                                                 : strtod(count, NULL));
    return 2;
}
