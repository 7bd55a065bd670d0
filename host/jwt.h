/* jwt.h — JSON Web Tokens (RFC 7519) signed with HMAC-SHA-256, the one algorithm we accept.
 *
 * Pure C over crypto.h; speezy.jwt (host/bind/bind_jwt.c) wraps it. The rules follow RFC 8725:
 * the algorithm is pinned to HS256 whatever the header says; a header that carries a key, a
 * key URL, a certificate or critical extensions is refused; the key is chosen by `kid` among
 * the keys we hold (JWT_SECRET, and JWT_SECRET_PREVIOUS during a rotation), never by anything
 * else in the token; `exp` is required; `nbf`, `iss` and `aud` are checked. A failure is a
 * negative JWT_E* code whose jwt_reason() and jwt_message() say why without quoting the token.
 *
 * The header and payload are read member by member by the host's JSON reader
 * (host/json_read.h): it refuses a name given twice, so the claims we check are the claims a
 * script reads. */
#ifndef SPEEZY_JWT_H
#define SPEEZY_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "json_read.h"

/* Longest token verify reads and sign writes; a longer one is refused before any work. */
#define JWT_MAX_LEN 8192
/* A payload decoded from a token fits in this many bytes. */
#define JWT_PAYLOAD_MAX (JWT_MAX_LEN / 4 * 3)
/* Seconds of clock difference allowed around exp and nbf. */
#define JWT_LEEWAY 30
/* A kid: 8 bytes of HMAC-SHA-256(secret, "speezy jwt kid") in base64url. It names the key and
 * says nothing about it: the MAC of a fixed text is useless without the secret. */
#define JWT_KID_LEN 11

/* X(name, value, reason, message): one row per failure. */
#define JWT_ERRORS(X)                                                                              \
    X(JWT_ETOOLONG, -1, "too_long", "the token is too long")                                       \
    X(JWT_EMALFORMED, -2, "malformed", "the token is not three base64url parts of JSON objects")   \
    X(JWT_EDUPLICATE, -3, "duplicate", "the token names a header parameter or claim twice")        \
    X(JWT_EALG, -4, "alg", "the token is not signed with HS256")                                   \
    X(JWT_EHEADER, -5, "header",                                                                   \
      "the token's header carries a key, a key URL, a certificate or a critical extension")        \
    X(JWT_EKID, -6, "unknown_kid", "the token's key id names no key of ours")                      \
    X(JWT_ESIGNATURE, -7, "bad_signature", "the token's signature does not match")                 \
    X(JWT_ECLAIM, -8, "bad_claim", "a registered claim of the token has the wrong type")           \
    X(JWT_ENOEXP, -9, "missing_exp", "the token has no expiry")                                    \
    X(JWT_EEXPIRED, -10, "expired", "the token has expired")                                       \
    X(JWT_ENOTYET, -11, "not_yet_valid", "the token is not valid yet")                             \
    X(JWT_EISSUER, -12, "issuer", "the token was issued by someone else")                          \
    X(JWT_EAUDIENCE, -13, "audience", "the token is meant for someone else")                       \
    X(JWT_ENOKEY, -14, "no_key", "no signing key is configured")                                   \
    X(JWT_ECRYPTO, -15, "internal", "the token could not be signed or checked")

enum {
    JWT_OK = 0,
#define JWT_ENUM(name, value, reason, message) name = value,
    JWT_ERRORS(JWT_ENUM)
#undef JWT_ENUM
};

/* A stable snake_case word for a JWT_E* code ("expired", "bad_signature"...), and a sentence
 * for people. Neither ever holds bytes of a token or a key. NULL for other values. */
const char *jwt_reason(int code);
const char *jwt_message(int code);

struct crypto_hmac_key;

typedef struct {
    const uint8_t *secret; /* NULL: no such key */
    size_t len;
    struct crypto_hmac_key *mac; /* the secret, made ready for HMAC once */
    char kid[JWT_KID_LEN + 1];
    char header[96]; /* the base64url header of the tokens it signs */
    size_t header_len;
} jwt_key_t;

/* What sign and verify need; built once (jwt_keys_init), read-only afterwards but for the
 * HMAC contexts each call reuses (so one thread at a time), freed by jwt_keys_free. The
 * strings are borrowed: they must outlive the keys (the worker's config does). */
typedef struct {
    jwt_key_t current;  /* JWT_SECRET: signs, and verifies tokens with its kid */
    jwt_key_t previous; /* JWT_SECRET_PREVIOUS: verifies only; secret NULL when unset */
    const char *issuer, *audience;
} jwt_keys_t;

/* secret is required (JWT_ENOKEY when NULL or empty); previous may be NULL. A previous key
 * equal to the current one is ignored. */
int jwt_keys_init(jwt_keys_t *keys, const char *secret, const char *previous, const char *issuer,
                  const char *audience);
void jwt_keys_free(jwt_keys_t *keys);

/* Signs payload (a JSON object holding at least a numeric exp; JWT_EMALFORMED,
 * JWT_EDUPLICATE, JWT_ECLAIM or JWT_ENOEXP otherwise) with the current key and its kid: writes
 * the token and a NUL into out (cap bytes) and its length into *outlen; JWT_ETOOLONG when the
 * token would pass JWT_MAX_LEN or cap. */
int jwt_sign(const jwt_keys_t *keys, const char *payload, size_t len, char *out, size_t cap,
             size_t *outlen);

typedef struct {
    char payload[JWT_PAYLOAD_MAX]; /* the payload's JSON text, checked */
    size_t payload_len;
    /* Its members as verify read them (the values point into payload: no copies of this
     * struct): speezy.jwt builds the claims table from them without reading the text again. */
    json_read_members_t claims;
    double exp;
    int by_previous; /* verified with JWT_SECRET_PREVIOUS */
} jwt_verified_t;

/* Checks token (len bytes, no NUL needed) at time now (seconds since the epoch): JWT_OK and
 * *out filled, or a JWT_E* code. The checks run in an order that tells an outsider nothing
 * about a token it could not have signed: form, alg, header, kid and signature before any
 * claim is read. */
int jwt_verify(const jwt_keys_t *keys, const char *token, size_t len, double now,
               jwt_verified_t *out);

#endif
