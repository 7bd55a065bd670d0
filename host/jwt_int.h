/* jwt_int.h — inside jwt: the strict JSON reader of a token's header and payload
 * (host/jwt_json.c). Not for other subsystems.
 *
 * It reads one JSON object and lists its members, refusing what the Lua decoder
 * (host/bind/bind_json_decode.c) refuses (same grammar, depth and number bounds) and, beyond
 * it, a member name given twice: the decoder would keep the last, a checker reading the first
 * would approve claims a script never sees. Names are compared unescaped, so "e\u0078p" is
 * exp. */
#ifndef SPEEZY_JWT_INT_H
#define SPEEZY_JWT_INT_H

#include <stddef.h>

/* The reader's results: the same numbers as jwt.h's JWT_OK / JWT_ETOOLONG / JWT_EMALFORMED /
 * JWT_EDUPLICATE (jwt.c asserts it), so jwt.c passes them on; this header needs nothing of
 * jwt.h, and the include arrows point one way. */
enum {
    JWT_JSON_OK = 0,
    JWT_JSON_ETOOLONG = -1,
    JWT_JSON_EMALFORMED = -2,
    JWT_JSON_EDUPLICATE = -3
};
/* The longest text read: JWT_PAYLOAD_MAX (jwt.c asserts it). */
#define JWT_JSON_TEXT_MAX 6144

/* Members of one object we keep track of; a header or payload with more is refused. */
#define JWT_JSON_MEMBERS_MAX 128
/* Nesting as the Lua decoder bounds it (DECODE_MAX_DEPTH). */
#define JWT_JSON_MAX_DEPTH 64

typedef enum {
    JWT_JSON_STRING,
    JWT_JSON_NUMBER,
    JWT_JSON_OBJECT,
    JWT_JSON_ARRAY,
    JWT_JSON_TRUE,
    JWT_JSON_FALSE,
    JWT_JSON_NULL,
} jwt_json_type_t;

typedef struct {
    jwt_json_type_t type;
    const char *at, *end; /* the value's text; a string's without its quotes, still escaped */
    double number;        /* JWT_JSON_NUMBER's value */
} jwt_json_value_t;

typedef struct {
    const char *name; /* unescaped, in names[]; may hold NUL bytes */
    size_t name_len;
    jwt_json_value_t value;
} jwt_json_member_t;

typedef struct {
    int count;
    jwt_json_member_t member[JWT_JSON_MEMBERS_MAX];
    char names[JWT_JSON_TEXT_MAX]; /* unescaped names never outgrow the text they come from */
} jwt_json_object_t;

/* Reads text (len bytes, at most JWT_JSON_TEXT_MAX) as exactly one JSON object, whitespace
 * around it allowed. JWT_JSON_OK; JWT_JSON_EDUPLICATE for a name given twice;
 * JWT_JSON_ETOOLONG past the bound; JWT_JSON_EMALFORMED for anything else. The values point into
 * text. */
int jwt_json_object(const char *text, size_t len, jwt_json_object_t *obj);

/* The member called name, or NULL. */
const jwt_json_value_t *jwt_json_get(const jwt_json_object_t *obj, const char *name);

/* Whether v is a string whose unescaped text is exactly s. */
int jwt_json_string_is(const jwt_json_value_t *v, const char *s);

/* The elements of an array value read by jwt_json_object, one per call: start with *cursor =
 * NULL; 1 and *elem filled, or 0 after the last. */
int jwt_json_array_next(const jwt_json_value_t *arr, const char **cursor, jwt_json_value_t *elem);

#endif
