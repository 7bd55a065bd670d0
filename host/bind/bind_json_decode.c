/* bind_json_decode.c — speezy.json.decode: JSON text (untrusted) to Lua values.
 *
 * Arrays get the array metatable, so [] read from a request or a jsonb column goes back out
 * as [] (cjson 2.1 turns it into {}). null is the shared null sentinel. Bad input never
 * raises: decode returns nil and "message at character N". Nesting is bounded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bind.h"

#define DECODE_MAX_DEPTH 64
#define NUMBER_MAX_LEN 64

typedef struct {
    lua_State *L;
    const char *s, *p, *end;
    const char *err;
    char *buf; /* string unescaping scratch; freed by the caller */
    size_t cap;
} dec_t;

static int fail(dec_t *d, const char *msg)
{
    if (!d->err)
        d->err = msg;
    return -1;
}

static void skip_ws(dec_t *d)
{
    while (d->p < d->end && (*d->p == ' ' || *d->p == '\t' || *d->p == '\n' || *d->p == '\r'))
        d->p++;
}

static int literal(dec_t *d, const char *word, size_t n)
{
    if ((size_t)(d->end - d->p) < n || memcmp(d->p, word, n) != 0)
        return fail(d, "invalid literal");
    d->p += n;
    return 0;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if ((c | 32) >= 'a' && (c | 32) <= 'f')
            v |= (unsigned)((c | 32) - 'a' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* \uXXXX, with a following low surrogate when it is a high one; at p (after the 'u'). */
static int unicode_escape(dec_t *d, char *out, size_t *n)
{
    unsigned cp, lo;
    if (d->end - d->p < 4 || hex4(d->p, &cp) < 0)
        return fail(d, "invalid \\u escape");
    d->p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (d->end - d->p < 6 || d->p[0] != '\\' || d->p[1] != 'u' || hex4(d->p + 2, &lo) < 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return fail(d, "unpaired surrogate in \\u escape");
        d->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return fail(d, "unpaired surrogate in \\u escape");
    }
    *n = utf8(cp, out);
    return 0;
}

/* Pushes the string starting after the opening quote. */
static int string(dec_t *d)
{
    const char *start = d->p;
    while (d->p < d->end && *d->p != '"' && *d->p != '\\' && (unsigned char)*d->p >= 0x20)
        d->p++;
    if (d->p < d->end && *d->p == '"') { /* no escapes: the common case */
        lua_pushlstring(d->L, start, (size_t)(d->p - start));
        d->p++;
        return 0;
    }
    size_t need = (size_t)(d->end - start) + 1;
    if (need > d->cap) {
        char *b = realloc(d->buf, need);
        if (!b)
            return fail(d, "out of memory");
        d->buf = b;
        d->cap = need;
    }
    size_t o = (size_t)(d->p - start);
    memcpy(d->buf, start, o);
    while (d->p < d->end) {
        unsigned char c = (unsigned char)*d->p++;
        if (c == '"') {
            lua_pushlstring(d->L, d->buf, o);
            return 0;
        }
        if (c < 0x20)
            return fail(d, "control character in string");
        if (c != '\\') {
            d->buf[o++] = (char)c;
            continue;
        }
        if (d->p >= d->end)
            break;
        char e = *d->p++;
        size_t n;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            d->buf[o++] = e;
            break;
        case 'b':
            d->buf[o++] = '\b';
            break;
        case 'f':
            d->buf[o++] = '\f';
            break;
        case 'n':
            d->buf[o++] = '\n';
            break;
        case 'r':
            d->buf[o++] = '\r';
            break;
        case 't':
            d->buf[o++] = '\t';
            break;
        case 'u':
            /* 6 input bytes give at most 4 output bytes, 12 give 4: the buffer suffices */
            if (unicode_escape(d, d->buf + o, &n) < 0)
                return -1;
            o += n;
            break;
        default:
            return fail(d, "invalid escape in string");
        }
    }
    return fail(d, "unterminated string");
}

static int number(dec_t *d)
{
    const char *start = d->p;
    if (d->p < d->end && *d->p == '-')
        d->p++;
    if (d->p >= d->end || !(*d->p >= '0' && *d->p <= '9'))
        return fail(d, "invalid number");
    if (*d->p == '0')
        d->p++;
    else
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    if (d->p < d->end && *d->p == '.') {
        d->p++;
        if (d->p >= d->end || !(*d->p >= '0' && *d->p <= '9'))
            return fail(d, "invalid number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    if (d->p < d->end && (*d->p == 'e' || *d->p == 'E')) {
        d->p++;
        if (d->p < d->end && (*d->p == '+' || *d->p == '-'))
            d->p++;
        if (d->p >= d->end || !(*d->p >= '0' && *d->p <= '9'))
            return fail(d, "invalid number");
        while (d->p < d->end && *d->p >= '0' && *d->p <= '9')
            d->p++;
    }
    size_t n = (size_t)(d->p - start);
    if (n >= NUMBER_MAX_LEN)
        return fail(d, "number too long");
    char tmp[NUMBER_MAX_LEN];
    memcpy(tmp, start, n);
    tmp[n] = '\0';
    double v = strtod(tmp, NULL);
    if (isinf(v))
        return fail(d, "number out of range");
    lua_pushnumber(d->L, v);
    return 0;
}

static int value(dec_t *d, int depth);

static int array(dec_t *d, int depth)
{
    lua_newtable(d->L);
    bind_mark_array(d->L, -1);
    skip_ws(d);
    if (d->p < d->end && *d->p == ']') {
        d->p++;
        return 0;
    }
    for (int i = 1;; i++) {
        if (value(d, depth + 1) < 0)
            return -1;
        lua_rawseti(d->L, -2, i);
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated array");
        char c = *d->p++;
        if (c == ']')
            return 0;
        if (c != ',')
            return fail(d, "expected ',' or ']' in array");
    }
}

static int object(dec_t *d, int depth)
{
    lua_newtable(d->L);
    skip_ws(d);
    if (d->p < d->end && *d->p == '}') {
        d->p++;
        return 0;
    }
    for (;;) {
        skip_ws(d);
        if (d->p >= d->end || *d->p != '"')
            return fail(d, "expected a string key in object");
        d->p++;
        if (string(d) < 0)
            return -1;
        skip_ws(d);
        if (d->p >= d->end || *d->p++ != ':')
            return fail(d, "expected ':' after object key");
        if (value(d, depth + 1) < 0)
            return -1;
        lua_rawset(d->L, -3);
        skip_ws(d);
        if (d->p >= d->end)
            return fail(d, "unterminated object");
        char c = *d->p++;
        if (c == '}')
            return 0;
        if (c != ',')
            return fail(d, "expected ',' or '}' in object");
    }
}

static int value(dec_t *d, int depth)
{
    if (depth > DECODE_MAX_DEPTH)
        return fail(d, "nested too deep");
    if (!lua_checkstack(d->L, 4))
        return fail(d, "nested too deep");
    skip_ws(d);
    if (d->p >= d->end)
        return fail(d, "unexpected end of input");
    switch (*d->p) {
    case '{':
        d->p++;
        return object(d, depth);
    case '[':
        d->p++;
        return array(d, depth);
    case '"':
        d->p++;
        return string(d);
    case 't':
        if (literal(d, "true", 4) < 0)
            return -1;
        lua_pushboolean(d->L, 1);
        return 0;
    case 'f':
        if (literal(d, "false", 5) < 0)
            return -1;
        lua_pushboolean(d->L, 0);
        return 0;
    case 'n':
        if (literal(d, "null", 4) < 0)
            return -1;
        bind_push_null(d->L);
        return 0;
    default:
        return number(d);
    }
}

int bind_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    dec_t d = {L, s, s, s + len, NULL, NULL, 0};
    int rc = value(&d, 0);
    if (rc == 0) {
        skip_ws(&d);
        if (d.p != d.end)
            rc = fail(&d, "unexpected data after the value");
    }
    free(d.buf);
    if (rc == 0)
        return 1;
    lua_settop(L, 1);
    lua_pushnil(L);
    lua_pushfstring(L, "%s at character %d", d.err, (int)(d.p - s) + 1);
    return 2;
}
