/* json_read.h — the one JSON reader of the host: speezy.json.decode (request bodies, jsonb
 * columns, job data: host/bind/bind_json_decode.c builds Lua values from it) and a token's
 * header and claims (host/jwt.c reads them as members) share its grammar, bounds and messages.
 *
 * Strict RFC 8259: one value, whitespace around it; no comments, trailing commas, leading
 * zeros, NaN or infinities; a number's text shorter than JSON_READ_NUMBER_MAX; nesting to
 * JSON_READ_MAX_DEPTH; \u escapes with their surrogates paired. Bytes of 0x80 and above pass
 * as they are (the encoder replaces the invalid ones when it writes them back).
 *
 * It validates as it goes and keeps spans into the text rather than building values: a sink
 * sees each value as it completes and builds what it needs (a Lua table, a member list). */
#ifndef SPEEZY_JSON_READ_H
#define SPEEZY_JSON_READ_H

#include <stddef.h>

#define JSON_READ_MAX_DEPTH 64  /* containers inside the outermost value */
#define JSON_READ_NUMBER_MAX 64 /* a number's text of this length or more is refused */

/* Results. A sink's own negative codes stop the read and come back as they are: keep them
 * below JSON_READ_EDUPLICATE. */
enum {
    JSON_READ_OK = 0,
    JSON_READ_ETOOLONG = -1,
    JSON_READ_EMALFORMED = -2,
    JSON_READ_EDUPLICATE = -3
};

typedef enum {
    JSON_READ_STRING,
    JSON_READ_NUMBER,
    JSON_READ_OBJECT,
    JSON_READ_ARRAY,
    JSON_READ_TRUE,
    JSON_READ_FALSE,
    JSON_READ_NULL,
} json_read_type_t;

typedef struct json_read_value {
    json_read_type_t type;
    const char *at, *end; /* the value's text; a string's without its quotes, still escaped */
    int escaped;          /* a string holding a backslash: json_read_unescape it */
    double number;        /* JSON_READ_NUMBER's value */
} json_read_value_t;

typedef struct json_reader json_reader_t;

/* What a read calls, each optional (NULL): 0 goes on, a negative code stops the read. depth is
 * the value's: 0 for the outermost, 1 for its members or elements. */
typedef struct {
    /* A container's opening bracket was read (v->type says which; v->at is the bracket). */
    int (*open)(json_reader_t *r, const json_read_value_t *v, int depth);
    /* An object member's name was read; its value comes next, at depth (one past
     * JSON_READ_MAX_DEPTH for an object at the bound: that value is then refused). */
    int (*key)(json_reader_t *r, const json_read_value_t *name, int depth);
    /* A value is complete: a scalar as read, a container after its closing bracket. */
    int (*value)(json_reader_t *r, const json_read_value_t *v, int depth);
} json_read_sink_t;

struct json_reader {
    const char *text, *p, *end; /* p: where the read stopped */
    const char *err;            /* what was wrong (JSON_READ_EMALFORMED), for a message */
    const json_read_sink_t *sink;
    void *ud; /* the sink's */
};

/* Reads text[0..len) as exactly one JSON value. JSON_READ_OK; JSON_READ_EMALFORMED with r->err
 * ("invalid number", "unterminated string", ...) and r->p where it was found; or a sink's code
 * (a sink may set r->err too). sink may be NULL: the text is only checked. */
int json_read(json_reader_t *r, const char *text, size_t len, const json_read_sink_t *sink,
              void *ud);

/* The unescaped text of a string value read above into out (v->end - v->at bytes suffice: an
 * escape is never shorter than what it stands for); the length. */
size_t json_read_unescape(const json_read_value_t *v, char *out);

/* Whether v is a string whose unescaped text is s[0..n). */
int json_read_string_is(const json_read_value_t *v, const char *s, size_t n);

/* The elements of an array value read above, one per call: start with *cursor = NULL; 1 and
 * *elem filled, or 0 after the last. */
int json_read_array_next(const json_read_value_t *arr, const char **cursor,
                         json_read_value_t *elem);

/* ---- one object, member by member (a token's header and claims) --------------------------- */

#define JSON_READ_MEMBERS_MAX 128   /* an object with more is refused (JSON_READ_ETOOLONG) */
#define JSON_READ_MEMBERS_TEXT 6144 /* longest text json_read_members reads */

typedef struct {
    const char *name; /* unescaped, in names[]; may hold NUL bytes */
    size_t name_len;
    json_read_value_t value;
} json_read_member_t;

typedef struct {
    int count;
    json_read_member_t member[JSON_READ_MEMBERS_MAX];
    char names[JSON_READ_MEMBERS_TEXT]; /* unescaped names never outgrow their text */
} json_read_members_t;

/* Reads text (at most JSON_READ_MEMBERS_TEXT bytes) as exactly one JSON object and lists its
 * members; the values point into text. Beyond json_read, a name given twice is refused
 * (JSON_READ_EDUPLICATE), compared unescaped ("e\u0078p" is exp): a reader keeping the last
 * and a checker reading the first would disagree. JSON_READ_ETOOLONG past either bound,
 * JSON_READ_EMALFORMED for anything else. */
int json_read_members(const char *text, size_t len, json_read_members_t *obj);

/* The member called name[0..n), or NULL. */
const json_read_value_t *json_read_member(const json_read_members_t *obj, const char *name,
                                          size_t n);

#endif
