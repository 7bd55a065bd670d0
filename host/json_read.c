/* json_read.c — the shared strict JSON reader (json_read.h says what it promises and who
 * reads with it).
 *
 * A recursive walk over the text. Errors name what was wrong and leave r->p where it was
 * found: speezy.json.decode reports them as "message at character N", which scripts and
 * specs read, so a message and its position change only on purpose. */
#include "json_read.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int json_read_fail(json_reader_t *r, const char *msg)
{
    if (!r->err)
        r->err = msg;
    return JSON_READ_EMALFORMED;
}

static void json_read_ws(json_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static int json_read_hex4(const char *p, unsigned *out)
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
 * point, p moved past it; -1 for a bad escape, -2 for an unpaired surrogate (p past the first
 * four digits then). */
static long json_read_unicode(const char **p, const char *end)
{
    unsigned cp, lo;
    if (end - *p < 4 || json_read_hex4(*p, &cp) < 0)
        return -1;
    *p += 4;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return -2;
    if (cp < 0xd800 || cp > 0xdbff)
        return cp;
    if (end - *p < 6 || (*p)[0] != '\\' || (*p)[1] != 'u' || json_read_hex4(*p + 2, &lo) < 0 ||
        lo < 0xdc00 || lo > 0xdfff)
        return -2;
    *p += 6;
    return 0x10000 + ((long)(cp - 0xd800) << 10) + (lo - 0xdc00);
}

static size_t json_read_utf8(unsigned long cp, char *out)
{
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

/* 1 for a byte that stands for itself in a string: not a control character, quote or
 * backslash. One lookup a byte for the run of them most strings are. */
static const unsigned char json_read_plain[256] = {
    [0x20 ... 0x21] = 1,
    [0x23 ... 0x5b] = 1,
    [0x5d ... 0xff] = 1,
};

/* A string, p after its opening quote: v spans its text, p moves past the closing quote. */
static int json_read_string(json_reader_t *r, json_read_value_t *v)
{
    const char *at = r->p;
    v->escaped = 0;
    for (;;) {
        while (r->p < r->end && json_read_plain[(unsigned char)*r->p])
            r->p++;
        if (r->p >= r->end)
            return json_read_fail(r, "unterminated string");
        unsigned char c = (unsigned char)*r->p++;
        if (c == '"')
            break;
        if (c < 0x20)
            return json_read_fail(r, "control character in string");
        if (c != '\\')
            continue;
        v->escaped = 1;
        if (r->p >= r->end)
            return json_read_fail(r, "unterminated string");
        char e = *r->p++;
        if (e == 'u') {
            long cp = json_read_unicode(&r->p, r->end);
            if (cp == -1)
                return json_read_fail(r, "invalid \\u escape");
            if (cp < 0)
                return json_read_fail(r, "unpaired surrogate in \\u escape");
        } else if (!e || !strchr("\"\\/bfnrt", e)) {
            return json_read_fail(r, "invalid escape in string");
        }
    }
    v->type = JSON_READ_STRING;
    v->at = at;
    v->end = r->p - 1;
    return JSON_READ_OK;
}

size_t json_read_unescape(const json_read_value_t *v, char *out)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
    const char *p = v->at;
    size_t o = 0;
    while (p < v->end) {
        const char *bs = memchr(p, '\\', (size_t)(v->end - p));
        size_t n = (size_t)((bs ? bs : v->end) - p);
        memcpy(out + o, p, n);
        o += n;
        if (!bs)
            break;
        p = bs + 2;
        if (bs[1] == 'u')
            o += json_read_utf8((unsigned long)json_read_unicode(&p, v->end), out + o);
        else
            out[o++] = to[strchr(from, bs[1]) - from];
    }
    return o;
}

int json_read_string_is(const json_read_value_t *v, const char *s, size_t n)
{
    if (v->type != JSON_READ_STRING)
        return 0;
    size_t len = (size_t)(v->end - v->at);
    if (!v->escaped)
        return len == n && memcmp(v->at, s, n) == 0;
    /* Unescaping never lengthens: a text shorter than s cannot be s. */
    if (len < n)
        return 0;
    char small[256], *buf = len <= sizeof small ? small : malloc(len);
    if (!buf)
        return 0;
    size_t o = json_read_unescape(v, buf);
    int same = o == n && memcmp(buf, s, n) == 0;
    if (buf != small)
        free(buf);
    return same;
}

static const char *json_read_digits(const char *p, const char *end)
{
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p;
}

/* A checked number's text that is an integer of at most 15 digits, as a double: exactly what
 * strtod gives (every such integer is a double), without its cost. Timestamps and ids are most
 * of the numbers read (a token's iat and exp). 0 when the text is anything else. */
static int json_read_small_integer(const char *at, const char *end, double *out)
{
    int neg = *at == '-';
    const char *p = at + neg;
    if (end - p > 15)
        return 0;
    int64_t v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (*p - '0');
    }
    *out = neg ? -(double)v : (double)v; /* "-0" is -0.0, as strtod reads it */
    return 1;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?, finite, shorter than JSON_READ_NUMBER_MAX. */
static int json_read_number(json_reader_t *r, json_read_value_t *v)
{
    const char *at = r->p;
    if (r->p < r->end && *r->p == '-')
        r->p++;
    if (r->p >= r->end || *r->p < '0' || *r->p > '9')
        return json_read_fail(r, "invalid number");
    r->p = *r->p == '0' ? r->p + 1 : json_read_digits(r->p, r->end);
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return json_read_fail(r, "invalid number");
        r->p = json_read_digits(r->p, r->end);
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (r->p >= r->end || *r->p < '0' || *r->p > '9')
            return json_read_fail(r, "invalid number");
        r->p = json_read_digits(r->p, r->end);
    }
    size_t n = (size_t)(r->p - at);
    if (n >= JSON_READ_NUMBER_MAX)
        return json_read_fail(r, "number too long");
    if (!json_read_small_integer(at, r->p, &v->number)) {
        char text[JSON_READ_NUMBER_MAX];
        memcpy(text, at, n);
        text[n] = '\0';
        v->number = strtod(text, NULL);
        if (isinf(v->number))
            return json_read_fail(r, "number out of range");
    }
    v->type = JSON_READ_NUMBER;
    v->at = at;
    v->end = r->p;
    return JSON_READ_OK;
}

static int json_read_literal(json_reader_t *r, const char *word, size_t n, json_read_type_t type,
                             json_read_value_t *v)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return json_read_fail(r, "invalid literal");
    v->type = type;
    v->at = r->p;
    v->end = r->p += n;
    return JSON_READ_OK;
}

static int json_read_value(json_reader_t *r, json_read_value_t *v, int depth);

/* The elements of an array, p after its '['. */
static int json_read_array(json_reader_t *r, int depth)
{
    json_read_value_t item;
    json_read_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return JSON_READ_OK;
    }
    for (;;) {
        int rc = json_read_value(r, &item, depth + 1);
        if (rc != JSON_READ_OK)
            return rc;
        json_read_ws(r);
        if (r->p >= r->end)
            return json_read_fail(r, "unterminated array");
        char c = *r->p++;
        if (c == ']')
            return JSON_READ_OK;
        if (c != ',')
            return json_read_fail(r, "expected ',' or ']' in array");
    }
}

/* The members of an object, p after its '{'. */
static int json_read_object(json_reader_t *r, int depth)
{
    const json_read_sink_t *sink = r->sink;
    json_read_value_t item;
    json_read_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return JSON_READ_OK;
    }
    for (;;) {
        json_read_ws(r);
        if (r->p >= r->end || *r->p != '"')
            return json_read_fail(r, "expected a string key in object");
        r->p++;
        int rc = json_read_string(r, &item);
        if (rc == JSON_READ_OK && sink && sink->key)
            rc = sink->key(r, &item, depth + 1);
        if (rc != JSON_READ_OK)
            return rc;
        json_read_ws(r);
        if (r->p >= r->end || *r->p++ != ':')
            return json_read_fail(r, "expected ':' after object key");
        if ((rc = json_read_value(r, &item, depth + 1)) != JSON_READ_OK)
            return rc;
        json_read_ws(r);
        if (r->p >= r->end)
            return json_read_fail(r, "unterminated object");
        char c = *r->p++;
        if (c == '}')
            return JSON_READ_OK;
        if (c != ',')
            return json_read_fail(r, "expected ',' or '}' in object");
    }
}

static int json_read_value(json_reader_t *r, json_read_value_t *v, int depth)
{
    const json_read_sink_t *sink = r->sink;
    int rc;
    if (depth > JSON_READ_MAX_DEPTH)
        return json_read_fail(r, "nested too deep");
    json_read_ws(r);
    if (r->p >= r->end)
        return json_read_fail(r, "unexpected end of input");
    switch (*r->p) {
    case '"':
        r->p++;
        rc = json_read_string(r, v);
        break;
    case 't':
        rc = json_read_literal(r, "true", 4, JSON_READ_TRUE, v);
        break;
    case 'f':
        rc = json_read_literal(r, "false", 5, JSON_READ_FALSE, v);
        break;
    case 'n':
        rc = json_read_literal(r, "null", 4, JSON_READ_NULL, v);
        break;
    case '{':
    case '[':
        v->type = *r->p == '{' ? JSON_READ_OBJECT : JSON_READ_ARRAY;
        v->at = r->p++;
        if (sink && sink->open && (rc = sink->open(r, v, depth)) != JSON_READ_OK)
            return rc;
        rc = v->type == JSON_READ_OBJECT ? json_read_object(r, depth) : json_read_array(r, depth);
        v->end = r->p;
        break;
    default:
        rc = json_read_number(r, v);
        break;
    }
    if (rc == JSON_READ_OK && sink && sink->value)
        rc = sink->value(r, v, depth);
    return rc;
}

int json_read(json_reader_t *r, const char *text, size_t len, const json_read_sink_t *sink,
              void *ud)
{
    json_read_value_t v;
    *r = (json_reader_t){text, text, text + len, NULL, sink, ud};
    int rc = json_read_value(r, &v, 0);
    if (rc != JSON_READ_OK)
        return rc;
    json_read_ws(r);
    return r->p == r->end ? JSON_READ_OK : json_read_fail(r, "unexpected data after the value");
}

int json_read_array_next(const json_read_value_t *arr, const char **cursor, json_read_value_t *elem)
{
    /* The array was read whole already: reading it again cannot fail. */
    json_reader_t r = {arr->at, *cursor ? *cursor : arr->at + 1, arr->end, NULL, NULL, NULL};
    json_read_ws(&r);
    if (r.p < r.end && *r.p == ',')
        r.p++;
    json_read_ws(&r);
    if (r.p >= r.end || *r.p == ']' || json_read_value(&r, elem, 1) != JSON_READ_OK)
        return 0;
    *cursor = r.p;
    return 1;
}

/* ---- one object, member by member --------------------------------------------------------- */

typedef struct {
    json_read_members_t *obj;
    size_t used; /* bytes of obj->names taken */
} json_read_members_ud_t;

static int json_read_members_open(json_reader_t *r, const json_read_value_t *v, int depth)
{
    return depth == 0 && v->type != JSON_READ_OBJECT ? JSON_READ_EMALFORMED : JSON_READ_OK;
}

/* A member's name, unescaped into names[]; a name an earlier member has is refused. */
static int json_read_members_key(json_reader_t *r, const json_read_value_t *name, int depth)
{
    json_read_members_ud_t *m = r->ud;
    if (depth != 1)
        return JSON_READ_OK;
    if (m->obj->count == JSON_READ_MEMBERS_MAX)
        return JSON_READ_ETOOLONG;
    json_read_member_t *member = &m->obj->member[m->obj->count];
    member->name = m->obj->names + m->used;
    member->name_len = json_read_unescape(name, m->obj->names + m->used);
    m->used += member->name_len;
    if (json_read_member(m->obj, member->name, member->name_len))
        return JSON_READ_EDUPLICATE;
    return JSON_READ_OK;
}

static int json_read_members_value(json_reader_t *r, const json_read_value_t *v, int depth)
{
    json_read_members_ud_t *m = r->ud;
    if (depth == 0 && v->type != JSON_READ_OBJECT)
        return JSON_READ_EMALFORMED;
    if (depth == 1)
        m->obj->member[m->obj->count++].value = *v;
    return JSON_READ_OK;
}

int json_read_members(const char *text, size_t len, json_read_members_t *obj)
{
    static const json_read_sink_t sink = {
        json_read_members_open,
        json_read_members_key,
        json_read_members_value,
    };
    if (len > sizeof obj->names)
        return JSON_READ_ETOOLONG;
    json_read_members_ud_t m = {obj, 0};
    json_reader_t r;
    obj->count = 0;
    return json_read(&r, text, len, &sink, &m);
}

const json_read_value_t *json_read_member(const json_read_members_t *obj, const char *name,
                                          size_t n)
{
    /* The length and the two ends first: names in one object seldom share all three (a
     * token's claims have three letters, and a memcmp call a name cost more than the rest). */
    for (int i = 0; i < obj->count; i++) {
        const json_read_member_t *m = &obj->member[i];
        if (m->name_len != n)
            continue;
        if (n == 0)
            return &m->value;
        if (m->name[0] == name[0] && m->name[n - 1] == name[n - 1] &&
            (n <= 2 || memcmp(m->name + 1, name + 1, n - 2) == 0))
            return &m->value;
    }
    return NULL;
}
