/* json.h — the one JSON writer of the host: every answer and log line built in C (/healthz,
 * the /admin/ routes, error envelopes, the access log, the JSON logger) and speezy.json's encoder.
 *
 * A json_buf_t is a growable buffer. The structured calls (json_obj_open, json_key, json_str,
 * ...) place the commas and colons themselves; json_str is the one string escaper: the output
 * is always valid UTF-8 (a byte outside a valid sequence becomes \ufffd, as Go's encoder
 * writes it), control characters are escaped, and "</" is written "<\/". A value never gets
 * cut: the buffer grows, and when it cannot, the buffer is marked failed, later writes do
 * nothing, and json_ok() says the text must not be sent. */
#ifndef SPEEZY_JSON_H
#define SPEEZY_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define JSON_WRITER_DEPTH 63 /* containers open at once in the structured calls */

typedef struct {
    char *p;
    size_t len, cap;
    char *storage;       /* the caller's first buffer (never freed), or NULL */
    int failed;          /* out of memory, or the structure was misused */
    int depth;           /* containers open */
    int after_key;       /* a key was written, its value comes next */
    uint64_t has_values; /* bit d: the container at depth d has a member already */
    uint64_t objects;    /* bit d: the container at depth d is an object (else an array) */
} json_buf_t;

/* storage/cap: optional first buffer (a stack array); the buffer moves to the heap past it. */
void json_init(json_buf_t *b, char *storage, size_t cap);
void json_free(json_buf_t *b);
/* Empties the buffer for the next document, keeping its memory. */
void json_reset(json_buf_t *b);
/* 1 when the text is complete: nothing failed and every container is closed. */
int json_ok(const json_buf_t *b);

/* Room for n more bytes; -1 (and the buffer failed) when memory runs out. */
int json_grow(json_buf_t *b, size_t n);
static inline int json_reserve(json_buf_t *b, size_t n)
{
    return b->len + n <= b->cap ? 0 : json_grow(b, n);
}

/* Raw bytes, no separator: for encoders that place their own (speezy.json). */
static inline void json_put(json_buf_t *b, const char *s, size_t n)
{
    if (json_reserve(b, n) < 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* s[0..n) as a quoted JSON string: the escaper. No separator. */
void json_put_string(json_buf_t *b, const char *s, size_t n);
/* A finite double as JSON: integers below 1e21 in plain digits, others in the fewest of 15
 * to 17 significant digits that read back as the same double. Writes at most 31 bytes plus
 * a NUL into buf; returns the length. NaN and infinities have no JSON form: the caller
 * decides (json_double writes null). */
size_t json_number_text(char *buf, double n);

/* ---- structured writing: separators placed for you -------------------------------------- */
void json_obj_open(json_buf_t *b);
void json_obj_close(json_buf_t *b);
void json_arr_open(json_buf_t *b);
void json_arr_close(json_buf_t *b);
void json_key(json_buf_t *b, const char *key); /* then exactly one value */
void json_str(json_buf_t *b, const char *s, size_t n);
void json_cstr(json_buf_t *b, const char *s); /* NULL writes null */
void json_int(json_buf_t *b, int64_t v);
void json_uint(json_buf_t *b, uint64_t v);
void json_double(json_buf_t *b, double v); /* NaN and infinities write null */
void json_bool(json_buf_t *b, int v);
void json_null(json_buf_t *b);
void json_raw(json_buf_t *b, const char *encoded, size_t n); /* an already-encoded value */

/* A member of an object: its key, then its value. */
static inline void json_field_str(json_buf_t *b, const char *key, const char *s)
{
    json_key(b, key);
    json_cstr(b, s);
}
static inline void json_field_int(json_buf_t *b, const char *key, int64_t v)
{
    json_key(b, key);
    json_int(b, v);
}
static inline void json_field_uint(json_buf_t *b, const char *key, uint64_t v)
{
    json_key(b, key);
    json_uint(b, v);
}
static inline void json_field_bool(json_buf_t *b, const char *key, int v)
{
    json_key(b, key);
    json_bool(b, v);
}

#endif
