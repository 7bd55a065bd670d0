/* json_check.h — a strict JSON reader for the tests of the JSON writer (test_json.c and
 * spec/fuzz/fuzz_json_writer.c), written apart from host/json.c so that one cannot hide the
 * other's mistakes.
 *
 * jc_parse accepts exactly one RFC 8259 value: no raw control characters or invalid UTF-8 in
 * strings, no lone surrogate escapes, no leading zeros, nothing after the value but
 * whitespace. It records every token in document order (strings and keys decoded to UTF-8,
 * numbers as their text), which the tests compare with what they asked the writer to write.
 * jc_sanitize is the reference for strings: what a reader must get back for any input bytes
 * (every byte outside a valid UTF-8 sequence read as U+FFFD). */
#ifndef SPEEZY_JSON_CHECK_H
#define SPEEZY_JSON_CHECK_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    JC_OBJ,
    JC_OBJ_END,
    JC_ARR,
    JC_ARR_END,
    JC_KEY,
    JC_STR,
    JC_NUM,
    JC_TRUE,
    JC_FALSE,
    JC_NULL
} jc_kind_t;

typedef struct {
    jc_kind_t kind;
    char *text; /* KEY, STR: decoded bytes; NUM: the number's text; else NULL */
    size_t len;
} jc_event_t;

typedef struct {
    jc_event_t *ev;
    size_t n, cap;
    const char *err; /* why the text was refused */
    size_t err_at;   /* at which byte */
} jc_doc_t;

typedef struct {
    const unsigned char *s, *p, *end;
    jc_doc_t *doc;
    int depth;
    char *buf; /* the string being decoded */
    size_t blen, bcap;
} jc_reader_t;

static inline int jc_fail(jc_reader_t *r, const char *why)
{
    if (!r->doc->err) {
        r->doc->err = why;
        r->doc->err_at = (size_t)(r->p - r->s);
    }
    return -1;
}

static inline void jc_add(jc_reader_t *r, jc_kind_t kind, const void *text, size_t len)
{
    jc_doc_t *d = r->doc;
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 64;
        d->ev = realloc(d->ev, d->cap * sizeof(*d->ev));
    }
    jc_event_t *e = &d->ev[d->n++];
    e->kind = kind;
    e->len = len;
    e->text = NULL;
    if (text) {
        e->text = malloc(len + 1);
        memcpy(e->text, text, len);
        e->text[len] = '\0';
    }
}

static inline void jc_put(jc_reader_t *r, const void *p, size_t n)
{
    if (r->blen + n > r->bcap) {
        while (r->blen + n > r->bcap)
            r->bcap = r->bcap ? r->bcap * 2 : 256;
        r->buf = realloc(r->buf, r->bcap);
    }
    memcpy(r->buf + r->blen, p, n);
    r->blen += n;
}

/* The code point of the UTF-8 sequence at s (n bytes left) and its length, or 0 when the
 * bytes there are not a valid sequence: decoded in full, then judged by its value. */
static inline size_t jc_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t v, min;
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    if ((s[0] & 0xe0) == 0xc0)
        len = 2, v = s[0] & 0x1f, min = 0x80;
    else if ((s[0] & 0xf0) == 0xe0)
        len = 3, v = s[0] & 0x0f, min = 0x800;
    else if ((s[0] & 0xf8) == 0xf0)
        len = 4, v = s[0] & 0x07, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static inline void jc_put_cp(jc_reader_t *r, uint32_t cp)
{
    unsigned char o[4];
    size_t n;
    if (cp < 0x80)
        o[0] = (unsigned char)cp, n = 1;
    else if (cp < 0x800)
        o[0] = (unsigned char)(0xc0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 0x3f)), n = 2;
    else if (cp < 0x10000)
        o[0] = (unsigned char)(0xe0 | cp >> 12), o[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)),
        o[2] = (unsigned char)(0x80 | (cp & 0x3f)), n = 3;
    else
        o[0] = (unsigned char)(0xf0 | cp >> 18), o[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f)),
        o[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f)), o[3] = (unsigned char)(0x80 | (cp & 0x3f)),
        n = 4;
    jc_put(r, o, n);
}

static inline int jc_hex4(jc_reader_t *r, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++, r->p++) {
        if (r->p >= r->end)
            return jc_fail(r, "cut \\u escape");
        unsigned char c = *r->p;
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return jc_fail(r, "bad hex digit in \\u escape");
    }
    *out = v;
    return 0;
}

static inline int jc_string(jc_reader_t *r, jc_kind_t kind)
{
    r->p++; /* the opening quote */
    r->blen = 0;
    for (;;) {
        if (r->p >= r->end)
            return jc_fail(r, "unterminated string");
        unsigned char c = *r->p;
        if (c == '"') {
            r->p++;
            jc_add(r, kind, r->buf ? r->buf : "", r->blen);
            return 0;
        }
        if (c < 0x20)
            return jc_fail(r, "raw control character in a string");
        if (c >= 0x80) {
            uint32_t cp;
            size_t n = jc_utf8_decode(r->p, (size_t)(r->end - r->p), &cp);
            if (!n)
                return jc_fail(r, "invalid UTF-8 in a string");
            jc_put(r, r->p, n);
            r->p += n;
            continue;
        }
        if (c != '\\') {
            jc_put(r, r->p++, 1);
            continue;
        }
        if (++r->p >= r->end)
            return jc_fail(r, "cut escape");
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *e = memchr(from, *r->p, sizeof(from) - 1);
        if (e) {
            jc_put(r, &to[e - from], 1);
            r->p++;
            continue;
        }
        if (*r->p != 'u')
            return jc_fail(r, "unknown escape");
        r->p++;
        uint32_t cp, lo;
        if (jc_hex4(r, &cp) < 0)
            return -1;
        if (cp >= 0xdc00 && cp <= 0xdfff)
            return jc_fail(r, "lone low surrogate");
        if (cp >= 0xd800 && cp <= 0xdbff) {
            if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u')
                return jc_fail(r, "lone high surrogate");
            r->p += 2;
            if (jc_hex4(r, &lo) < 0)
                return -1;
            if (lo < 0xdc00 || lo > 0xdfff)
                return jc_fail(r, "high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        jc_put_cp(r, cp);
    }
}

static inline int jc_digits(jc_reader_t *r)
{
    const unsigned char *start = r->p;
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
        r->p++;
    return r->p > start ? 0 : jc_fail(r, "digit expected");
}

static inline int jc_number(jc_reader_t *r)
{
    const unsigned char *start = r->p;
    if (*r->p == '-')
        r->p++;
    if (r->p < r->end && *r->p == '0')
        r->p++;
    else if (jc_digits(r) < 0)
        return -1;
    if (r->p < r->end && *r->p == '.') {
        r->p++;
        if (jc_digits(r) < 0)
            return -1;
    }
    if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
        r->p++;
        if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
            r->p++;
        if (jc_digits(r) < 0)
            return -1;
    }
    jc_add(r, JC_NUM, start, (size_t)(r->p - start));
    return 0;
}

static inline void jc_space(jc_reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
        r->p++;
}

static inline int jc_word(jc_reader_t *r, const char *w, jc_kind_t kind)
{
    size_t n = strlen(w);
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, w, n) != 0)
        return jc_fail(r, "unexpected character");
    r->p += n;
    jc_add(r, kind, NULL, 0);
    return 0;
}

static inline int jc_value(jc_reader_t *r);

/* The members of an object or the elements of an array, after its opening bracket. */
static inline int jc_container(jc_reader_t *r, int object)
{
    char close = object ? '}' : ']';
    if (++r->depth > 1000)
        return jc_fail(r, "nested too deep");
    r->p++;
    jc_add(r, object ? JC_OBJ : JC_ARR, NULL, 0);
    jc_space(r);
    if (r->p < r->end && *r->p == close) {
        r->p++;
    } else {
        for (;;) {
            jc_space(r);
            if (object) {
                if (r->p >= r->end || *r->p != '"')
                    return jc_fail(r, "object key expected");
                if (jc_string(r, JC_KEY) < 0)
                    return -1;
                jc_space(r);
                if (r->p >= r->end || *r->p++ != ':')
                    return jc_fail(r, "':' expected");
            }
            if (jc_value(r) < 0)
                return -1;
            jc_space(r);
            if (r->p >= r->end)
                return jc_fail(r, "unterminated container");
            if (*r->p == ',') {
                r->p++;
                continue;
            }
            if (*r->p++ != close)
                return jc_fail(r, "',' or the closing bracket expected");
            break;
        }
    }
    r->depth--;
    jc_add(r, object ? JC_OBJ_END : JC_ARR_END, NULL, 0);
    return 0;
}

static inline int jc_value(jc_reader_t *r)
{
    jc_space(r);
    if (r->p >= r->end)
        return jc_fail(r, "value expected");
    switch (*r->p) {
    case '{':
        return jc_container(r, 1);
    case '[':
        return jc_container(r, 0);
    case '"':
        return jc_string(r, JC_STR);
    case 't':
        return jc_word(r, "true", JC_TRUE);
    case 'f':
        return jc_word(r, "false", JC_FALSE);
    case 'n':
        return jc_word(r, "null", JC_NULL);
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return jc_number(r);
        return jc_fail(r, "unexpected character");
    }
}

static inline void jc_free(jc_doc_t *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->ev[i].text);
    free(d->ev);
    memset(d, 0, sizeof(*d));
}

/* 0 when s[0..len) is exactly one JSON value; -1 with doc->err otherwise. */
static inline int jc_parse(const char *s, size_t len, jc_doc_t *doc)
{
    memset(doc, 0, sizeof(*doc));
    jc_reader_t r = {(const unsigned char *)s,
                     (const unsigned char *)s,
                     (const unsigned char *)s + len,
                     doc,
                     0,
                     NULL,
                     0,
                     0};
    int rc = jc_value(&r);
    if (rc == 0) {
        jc_space(&r);
        if (r.p != r.end)
            rc = jc_fail(&r, "text after the value");
    }
    free(r.buf);
    return rc;
}

/* What reading back any bytes written as a JSON string must give: valid sequences as they
 * are, every other byte as U+FFFD. out needs room for 3 * n bytes; returns the length. */
static inline size_t jc_sanitize(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = jc_utf8_decode(s + i, n - i, &cp);
        if (len) {
            memcpy(out + o, s + i, len);
            o += len;
            i += len;
        } else {
            memcpy(out + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    return o;
}

#endif
