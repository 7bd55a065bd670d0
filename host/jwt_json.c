/* jwt_json.c — the strict JSON reader of a token's header and payload (jwt_int.h says why it
 * exists beside the Lua decoder, and what it promises).
 *
 * It validates as it goes and keeps spans into the text rather than building values: a
 * token's header needs two strings from it, its payload four claims. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jwt_int.h"

/* As the Lua decoder: a number's text of this length or more is refused (NUMBER_MAX_LEN). */
#define JWT_JSON_NUMBER_MAX 64

typedef struct {
    const char *p, *end;
} jwt_scan_t;

static void jwt_json_ws(jwt_scan_t *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int jwt_json_hex4(const char *p, unsigned *out)
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

/* \uXXXX at p (after the 'u'), with the low half that must follow a high surrogate: the code
 * point, and p moved past it; -1 for a bad or unpaired escape. */
static long jwt_json_unicode(const char **p, const char *end)
{
    unsigned cp, lo;
    if (end - *p < 4 || jwt_json_hex4(*p, &cp) < 0)
        return -1;
    *p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return -1;
    if (cp < 0xd800 || cp > 0xdbff)
        return cp;
    if (end - *p < 6 || (*p)[0] != '\\' || (*p)[1] != 'u' || jwt_json_hex4(*p + 2, &lo) < 0 ||
        lo < 0xdc00 || lo > 0xdfff)
        return -1;
    *p += 6;
    return 0x10000 + ((long)(cp - 0xd800) << 10) + (lo - 0xdc00);
}

/* One escape after its backslash: what it stands for into out (UTF-8, up to 4 bytes), p moved
 * past it. The length written, or -1. */
static int jwt_json_escape(const char **p, const char *end, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    if (*p >= end)
        return -1;
    char e = *(*p)++;
    const char *named = e ? strchr(from, e) : NULL;
    if (named) {
        out[0] = to[named - from];
        return 1;
    }
    if (e != 'u')
        return -1;
    long cp = jwt_json_unicode(p, end);
    if (cp < 0)
        return -1;
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Unescapes the string text [at, end) (checked or not) into out, which holds end - at bytes:
 * an escape is never shorter than what it stands for. The length, or -1 when it is invalid. */
static long jwt_json_unescape(const char *at, const char *end, char *out)
{
    size_t o = 0;
    while (at < end) {
        unsigned char c = (unsigned char)*at++;
        if (c < 0x20 || c == '"')
            return -1;
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        int n = jwt_json_escape(&at, end, out + o);
        if (n < 0)
            return -1;
        o += (size_t)n;
    }
    return (long)o;
}

/* A string at its opening quote: v spans its text; p moves past the closing quote. */
static int jwt_json_string(jwt_scan_t *s, jwt_json_value_t *v)
{
    char scratch[4];
    const char *at = ++s->p;
    while (s->p < s->end && *s->p != '"') {
        unsigned char c = (unsigned char)*s->p++;
        if (c < 0x20 || (c == '\\' && jwt_json_escape(&s->p, s->end, scratch) < 0))
            return -1;
    }
    if (s->p >= s->end)
        return -1;
    v->type = JWT_JSON_STRING;
    v->at = at;
    v->end = s->p++;
    return 0;
}

static const char *jwt_json_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, finite, shorter than JWT_JSON_NUMBER_MAX. */
static int jwt_json_number(jwt_scan_t *s, jwt_json_value_t *v)
{
    const char *at = s->p, *p = s->p, *end = s->end;
    if (p < end && *p == '-')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    p = *p == '0' ? p + 1 : jwt_json_digits(p, end);
    if (p < end && *p == '.') {
        const char *frac = ++p;
        if ((p = jwt_json_digits(p, end)) == frac)
            return -1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        if (++p < end && (*p == '+' || *p == '-'))
            p++;
        const char *exp = p;
        if ((p = jwt_json_digits(p, end)) == exp)
            return -1;
    }
    char text[JWT_JSON_NUMBER_MAX];
    size_t n = (size_t)(p - at);
    if (n >= sizeof text)
        return -1;
    memcpy(text, at, n);
    text[n] = '\0';
    v->number = strtod(text, NULL);
    if (isinf(v->number))
        return -1;
    v->type = JWT_JSON_NUMBER;
    v->at = at;
    v->end = s->p = p;
    return 0;
}

static int jwt_json_literal(jwt_scan_t *s, const char *word, jwt_json_type_t type,
                            jwt_json_value_t *v)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
        return -1;
    v->type = type;
    v->at = s->p;
    v->end = s->p += n;
    return 0;
}

static int jwt_json_value(jwt_scan_t *s, jwt_json_value_t *v, int depth);

/* The members or elements of a container after its opening bracket, up to its closing one. */
static int jwt_json_container(jwt_scan_t *s, char close, int depth)
{
    jwt_json_value_t item;
    jwt_json_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return 0;
    }
    for (;;) {
        if (close == '}') {
            jwt_json_ws(s);
            if (s->p >= s->end || *s->p != '"' || jwt_json_string(s, &item) < 0)
                return -1;
            jwt_json_ws(s);
            if (s->p >= s->end || *s->p++ != ':')
                return -1;
        }
        if (jwt_json_value(s, &item, depth + 1) < 0)
            return -1;
        jwt_json_ws(s);
        if (s->p >= s->end)
            return -1;
        char c = *s->p++;
        if (c == close)
            return 0;
        if (c != ',')
            return -1;
    }
}

static int jwt_json_value(jwt_scan_t *s, jwt_json_value_t *v, int depth)
{
    if (depth > JWT_JSON_MAX_DEPTH)
        return -1;
    jwt_json_ws(s);
    if (s->p >= s->end)
        return -1;
    switch (*s->p) {
    case '"':
        return jwt_json_string(s, v);
    case 't':
        return jwt_json_literal(s, "true", JWT_JSON_TRUE, v);
    case 'f':
        return jwt_json_literal(s, "false", JWT_JSON_FALSE, v);
    case 'n':
        return jwt_json_literal(s, "null", JWT_JSON_NULL, v);
    case '{':
    case '[':
        v->type = *s->p == '{' ? JWT_JSON_OBJECT : JWT_JSON_ARRAY;
        v->at = s->p++;
        if (jwt_json_container(s, v->type == JWT_JSON_OBJECT ? '}' : ']', depth) < 0)
            return -1;
        v->end = s->p;
        return 0;
    default:
        return jwt_json_number(s, v);
    }
}

/* The name of the member being read, unescaped into obj->names at *used; JWT_JSON_EDUPLICATE when
 * an earlier member has it. */
static int jwt_json_name(jwt_json_object_t *obj, const jwt_json_value_t *key, size_t *used)
{
    jwt_json_member_t *m = &obj->member[obj->count];
    long n = jwt_json_unescape(key->at, key->end, obj->names + *used);
    if (n < 0)
        return JWT_JSON_EMALFORMED;
    m->name = obj->names + *used;
    m->name_len = (size_t)n;
    *used += (size_t)n;
    for (int i = 0; i < obj->count; i++)
        if (obj->member[i].name_len == m->name_len &&
            memcmp(obj->member[i].name, m->name, m->name_len) == 0)
            return JWT_JSON_EDUPLICATE;
    return JWT_JSON_OK;
}

/* One "name": value pair, p at the name's quote. */
static int jwt_json_member(jwt_scan_t *s, jwt_json_object_t *obj, size_t *used)
{
    jwt_json_value_t key;
    if (obj->count == JWT_JSON_MEMBERS_MAX)
        return JWT_JSON_ETOOLONG;
    if (s->p >= s->end || *s->p != '"' || jwt_json_string(s, &key) < 0)
        return JWT_JSON_EMALFORMED;
    int rc = jwt_json_name(obj, &key, used);
    if (rc != JWT_JSON_OK)
        return rc;
    jwt_json_ws(s);
    if (s->p >= s->end || *s->p++ != ':')
        return JWT_JSON_EMALFORMED;
    if (jwt_json_value(s, &obj->member[obj->count].value, 1) < 0)
        return JWT_JSON_EMALFORMED;
    obj->count++;
    return JWT_JSON_OK;
}

int jwt_json_object(const char *text, size_t len, jwt_json_object_t *obj)
{
    if (len > sizeof obj->names)
        return JWT_JSON_ETOOLONG;
    jwt_scan_t s = {text, text + len};
    size_t used = 0;
    obj->count = 0;
    jwt_json_ws(&s);
    if (s.p >= s.end || *s.p++ != '{')
        return JWT_JSON_EMALFORMED;
    jwt_json_ws(&s);
    if (s.p < s.end && *s.p == '}') {
        s.p++;
    } else {
        for (;;) {
            int rc = jwt_json_member(&s, obj, &used);
            if (rc != JWT_JSON_OK)
                return rc;
            jwt_json_ws(&s);
            if (s.p >= s.end)
                return JWT_JSON_EMALFORMED;
            char c = *s.p++;
            if (c == '}')
                break;
            if (c != ',')
                return JWT_JSON_EMALFORMED;
            jwt_json_ws(&s);
        }
    }
    jwt_json_ws(&s);
    return s.p == s.end ? JWT_JSON_OK : JWT_JSON_EMALFORMED;
}

const jwt_json_value_t *jwt_json_get(const jwt_json_object_t *obj, const char *name)
{
    size_t n = strlen(name);
    for (int i = 0; i < obj->count; i++)
        if (obj->member[i].name_len == n && memcmp(obj->member[i].name, name, n) == 0)
            return &obj->member[i].value;
    return NULL;
}

int jwt_json_string_is(const jwt_json_value_t *v, const char *s)
{
    if (v->type != JWT_JSON_STRING)
        return 0;
    size_t n = strlen(s), o = 0;
    const char *p = v->at;
    char unit[4];
    /* One character at a time, so a value of any length compares without a buffer. */
    while (p < v->end) {
        int k = 1;
        if (*p == '\\') {
            p++;
            k = jwt_json_escape(&p, v->end, unit);
        } else {
            unit[0] = *p++;
        }
        if (k < 0 || o + (size_t)k > n || memcmp(s + o, unit, (size_t)k) != 0)
            return 0;
        o += (size_t)k;
    }
    return o == n;
}

int jwt_json_array_next(const jwt_json_value_t *arr, const char **cursor, jwt_json_value_t *elem)
{
    /* The array was read whole already: reading it again cannot fail. */
    jwt_scan_t s = {*cursor ? *cursor : arr->at + 1, arr->end};
    jwt_json_ws(&s);
    if (s.p < s.end && *s.p == ',')
        s.p++;
    jwt_json_ws(&s);
    if (s.p >= s.end || *s.p == ']')
        return 0;
    if (jwt_json_value(&s, elem, 1) < 0)
        return 0;
    *cursor = s.p;
    return 1;
}
