/* json.c — the JSON writer: a growable buffer, the string escaper, numbers, and the
 * structured calls that place separators. See json.h for the rules every output follows. */
#include "json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void json_init(json_buf_t *b, char *storage, size_t cap)
{
    memset(b, 0, sizeof(*b));
    if (storage && cap) {
        b->p = b->storage = storage;
        b->cap = cap;
    }
}

void json_free(json_buf_t *b)
{
    if (b->p != b->storage)
        free(b->p);
    json_init(b, b->storage, b->storage ? b->cap : 0);
}

void json_reset(json_buf_t *b)
{
    b->len = 0;
    b->failed = 0;
    b->depth = 0;
    b->after_key = 0;
    b->has_values = 0;
}

int json_ok(const json_buf_t *b)
{
    return !b->failed && b->depth == 0 && !b->after_key;
}

int json_grow(json_buf_t *b, size_t n)
{
    if (b->failed)
        return -1;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p;
    if (b->p == b->storage) {
        if ((p = malloc(cap)) && b->len)
            memcpy(p, b->p, b->len);
    } else {
        p = realloc(b->p, cap);
    }
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

/* ---- the string escaper ------------------------------------------------------------------ */

/* Bytes json_put_string must look at: '"', '\\', '/', controls, DEL, and every byte of a
 * multi-byte sequence, which must be valid UTF-8. */
static const unsigned char json_special[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, ['/'] = 1, [0x7f ... 0xff] = 1,
};

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0: overlong forms,
 * surrogates and code points past U+10FFFF are not valid (RFC 3629). */
static size_t json_utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return len;
}

/* One pass that copies as it looks: room for the string as it is comes first, so the common
 * byte costs a table lookup and a store; an escape makes room for itself (at most 6 bytes)
 * and for what is left. Binary (a bytea column, a Redis value, a cut message) becomes
 * U+FFFD where it is not UTF-8: the output is always valid JSON. */
void json_put_string(json_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    if (len > SIZE_MAX / 8 || json_reserve(b, len + 2) < 0) {
        b->failed = 1;
        return;
    }
    char *o = b->p + b->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!json_special[c]) {
            *o++ = (char)c;
            continue;
        }
        size_t n = c >= 0x80 ? json_utf8_len((const unsigned char *)s + i, len - i) : 0;
        if (n) {
            memcpy(o, s + i, n);
            o += n;
            i += n - 1;
            continue;
        }
        b->len = (size_t)(o - b->p);
        if (json_reserve(b, 6 + (len - i) + 1) < 0)
            return;
        o = b->p + b->len;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '/': /* "</script>" stays harmless in HTML; other slashes stay as they are */
            if (i > 0 && s[i - 1] == '<')
                *o++ = '/';
            else
                o[-1] = '/';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            if (c >= 0x80) {
                memcpy(o, "ufffd", 5);
            } else {
                memcpy(o, "u00", 3);
                o[3] = hex[c >> 4];
                o[4] = hex[c & 15];
            }
            o += 5;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->p);
}

/* ---- numbers ----------------------------------------------------------------------------- */

static size_t json_u64_text(char *buf, uint64_t v, int negative)
{
    char tmp[24];
    size_t n = 0, o = 0;
    do
        tmp[n++] = (char)('0' + v % 10);
    while (v /= 10);
    if (negative)
        buf[o++] = '-';
    while (n)
        buf[o++] = tmp[--n];
    buf[o] = '\0';
    return o;
}

size_t json_number_text(char *buf, double n)
{
    /* integers are most numbers in answers (ids, counts): no printf for them */
    if (n == floor(n) && fabs(n) < 1.8e19)
        return json_u64_text(buf, (uint64_t)fabs(n), n < 0);
    if (n == floor(n) && fabs(n) < 1e21)
        return (size_t)snprintf(buf, 32, "%.0f", n);
    int len = snprintf(buf, 32, "%.15g", n);
    if (strtod(buf, NULL) != n)
        len = snprintf(buf, 32, "%.17g", n);
    return (size_t)len;
}

/* ---- structured writing ------------------------------------------------------------------ */

/* Before a value or a key: the comma when its container already has a member. A value
 * straight inside an object (without its key) spoils the text. */
static void json_sep(json_buf_t *b, int key)
{
    if (b->after_key) {
        b->after_key = 0;
        return;
    }
    uint64_t bit = (uint64_t)1 << b->depth;
    if (!key && (b->objects & bit))
        b->failed = 1;
    if (b->has_values & bit) {
        if (b->depth == 0)
            b->failed = 1; /* a second document in one buffer */
        else
            json_put(b, ",", 1);
    }
    b->has_values |= bit;
}

static void json_open(json_buf_t *b, char c)
{
    json_sep(b, 0);
    if (b->depth >= JSON_WRITER_DEPTH) {
        b->failed = 1;
        return;
    }
    b->depth++;
    uint64_t bit = (uint64_t)1 << b->depth;
    b->has_values &= ~bit;
    if (c == '{')
        b->objects |= bit;
    else
        b->objects &= ~bit;
    json_put(b, &c, 1);
}

static void json_close(json_buf_t *b, char c)
{
    int object = (b->objects >> b->depth) & 1;
    if (b->depth == 0 || b->after_key || object != (c == '}')) {
        b->failed = 1;
        return;
    }
    b->depth--;
    json_put(b, &c, 1);
}

void json_obj_open(json_buf_t *b)
{
    json_open(b, '{');
}

void json_obj_close(json_buf_t *b)
{
    json_close(b, '}');
}

void json_arr_open(json_buf_t *b)
{
    json_open(b, '[');
}

void json_arr_close(json_buf_t *b)
{
    json_close(b, ']');
}

void json_key(json_buf_t *b, const char *key)
{
    if (b->after_key || !((b->objects >> b->depth) & 1)) {
        b->failed = 1;
        return;
    }
    json_sep(b, 1);
    json_put_string(b, key, strlen(key));
    json_put(b, ":", 1);
    b->after_key = 1;
}

void json_str(json_buf_t *b, const char *s, size_t n)
{
    json_sep(b, 0);
    json_put_string(b, s, n);
}

void json_cstr(json_buf_t *b, const char *s)
{
    if (s)
        json_str(b, s, strlen(s));
    else
        json_null(b);
}

void json_int(json_buf_t *b, int64_t v)
{
    char buf[24];
    json_sep(b, 0);
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    json_put(b, buf, json_u64_text(buf, mag, v < 0));
}

void json_uint(json_buf_t *b, uint64_t v)
{
    char buf[24];
    json_sep(b, 0);
    json_put(b, buf, json_u64_text(buf, v, 0));
}

void json_double(json_buf_t *b, double v)
{
    char buf[32];
    if (isnan(v) || isinf(v)) {
        json_null(b);
        return;
    }
    json_sep(b, 0);
    json_put(b, buf, json_number_text(buf, v));
}

void json_bool(json_buf_t *b, int v)
{
    json_sep(b, 0);
    if (v)
        json_put(b, "true", 4);
    else
        json_put(b, "false", 5);
}

void json_null(json_buf_t *b)
{
    json_sep(b, 0);
    json_put(b, "null", 4);
}

void json_raw(json_buf_t *b, const char *encoded, size_t n)
{
    json_sep(b, 0);
    json_put(b, encoded, n);
}
