/* jwt.c — HS256 tokens: sign with the current key, verify with the key the kid names.
 *
 * jwt.h states the rules; the JSON of the header and payload is read member by member by the
 * host's JSON reader (json_read.h), which refuses a name given twice. */
#include "jwt.h"

#include <string.h>

#include "crypto.h"
#include "json.h"

_Static_assert((int)JSON_READ_OK == (int)JWT_OK && (int)JSON_READ_ETOOLONG == (int)JWT_ETOOLONG &&
                   (int)JSON_READ_EMALFORMED == (int)JWT_EMALFORMED &&
                   (int)JSON_READ_EDUPLICATE == (int)JWT_EDUPLICATE,
               "the JSON reader's results are jwt's");
_Static_assert(JSON_READ_MEMBERS_TEXT == JWT_PAYLOAD_MAX, "the JSON reader reads a whole payload");

#define JWT_SIG_LEN CRYPTO_SHA256_LEN
#define JWT_SIG_B64_LEN CRYPTO_B64URL_LEN(JWT_SIG_LEN)

/* Whether a string value is the C string s. */
static int jwt_string_is(const json_read_value_t *v, const char *s)
{
    return json_read_string_is(v, s, strlen(s));
}

/* The members jwt reads, found in one pass over a header or payload rather than a lookup
 * each (a verify asked for fifteen). Names compare unescaped, and none is given twice in what
 * json_read_members accepts, so each is found at most once. */
typedef struct {
    const json_read_value_t *alg, *kid, *exp, *nbf, *iat, *iss, *aud;
    int refused; /* a header parameter we refuse: jwk, jku, x5u, x5c or crit */
} jwt_named_t;

#define JWT_NAME3(a, b, c) ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16)

static void jwt_named(const json_read_members_t *obj, jwt_named_t *n)
{
    memset(n, 0, sizeof *n);
    for (int i = 0; i < obj->count; i++) {
        const json_read_member_t *m = &obj->member[i];
        const unsigned char *s = (const unsigned char *)m->name;
        if (m->name_len == 4 && memcmp(s, "crit", 4) == 0)
            n->refused = 1;
        if (m->name_len != 3)
            continue;
        switch (JWT_NAME3(s[0], s[1], s[2])) {
        case JWT_NAME3('a', 'l', 'g'):
            n->alg = &m->value;
            break;
        case JWT_NAME3('k', 'i', 'd'):
            n->kid = &m->value;
            break;
        case JWT_NAME3('e', 'x', 'p'):
            n->exp = &m->value;
            break;
        case JWT_NAME3('n', 'b', 'f'):
            n->nbf = &m->value;
            break;
        case JWT_NAME3('i', 'a', 't'):
            n->iat = &m->value;
            break;
        case JWT_NAME3('i', 's', 's'):
            n->iss = &m->value;
            break;
        case JWT_NAME3('a', 'u', 'd'):
            n->aud = &m->value;
            break;
        case JWT_NAME3('j', 'w', 'k'):
        case JWT_NAME3('j', 'k', 'u'):
        case JWT_NAME3('x', '5', 'u'):
        case JWT_NAME3('x', '5', 'c'):
            n->refused = 1;
            break;
        default:
            break;
        }
    }
}

const char *jwt_reason(int code)
{
    switch (code) {
#define JWT_REASON(name, value, reason, message)                                                   \
    case name:                                                                                     \
        return reason;
        JWT_ERRORS(JWT_REASON)
#undef JWT_REASON
    default:
        return NULL;
    }
}

const char *jwt_message(int code)
{
    switch (code) {
#define JWT_MESSAGE(name, value, reason, message)                                                  \
    case name:                                                                                     \
        return message;
        JWT_ERRORS(JWT_MESSAGE)
#undef JWT_MESSAGE
    default:
        return NULL;
    }
}

/* ---- keys --------------------------------------------------------------------------------- */

/* The header of every token the key signs, {"alg":"HS256","typ":"JWT","kid":"..."}, in
 * base64url: the same for each token, so made once. */
static int jwt_key_header(jwt_key_t *key)
{
    char storage[64];
    json_buf_t header;
    json_init(&header, storage, sizeof storage);
    json_obj_open(&header);
    json_field_str(&header, "alg", "HS256");
    json_field_str(&header, "typ", "JWT");
    json_field_str(&header, "kid", key->kid);
    json_obj_close(&header);
    int ok = json_ok(&header) && CRYPTO_B64URL_LEN(header.len) < sizeof key->header;
    if (ok)
        key->header_len = crypto_b64url_encode(header.p, header.len, key->header);
    json_free(&header);
    return ok ? JWT_OK : JWT_ECRYPTO;
}

static int jwt_key_init(jwt_key_t *key, const char *secret)
{
    static const char label[] = "speezy jwt kid";
    uint8_t mac[CRYPTO_SHA256_LEN];
    key->secret = (const uint8_t *)secret;
    key->len = strlen(secret);
    key->mac = crypto_hmac_key_new(secret, key->len);
    if (!key->mac || crypto_hmac_key_mac(key->mac, label, sizeof label - 1, mac) != CRYPTO_OK)
        return JWT_ECRYPTO;
    crypto_b64url_encode(mac, 8, key->kid);
    return jwt_key_header(key);
}

int jwt_keys_init(jwt_keys_t *keys, const char *secret, const char *previous, const char *issuer,
                  const char *audience)
{
    memset(keys, 0, sizeof *keys);
    keys->issuer = issuer;
    keys->audience = audience;
    if (!secret || !*secret)
        return JWT_ENOKEY;
    if (jwt_key_init(&keys->current, secret) != JWT_OK ||
        (previous && *previous && strcmp(previous, secret) != 0 &&
         jwt_key_init(&keys->previous, previous) != JWT_OK)) {
        jwt_keys_free(keys);
        return JWT_ECRYPTO;
    }
    return JWT_OK;
}

void jwt_keys_free(jwt_keys_t *keys)
{
    crypto_hmac_key_free(keys->current.mac);
    crypto_hmac_key_free(keys->previous.mac);
    memset(keys, 0, sizeof *keys);
}

/* ---- claims ------------------------------------------------------------------------------- */

/* The registered claims we read have their types: exp (required), nbf and iat numbers, iss a
 * string, aud a string or an array of strings. Shared by sign, so we never sign a token we
 * would refuse for its form. */
static int jwt_claim_types(const jwt_named_t *claims, double *exp)
{
    const json_read_value_t *v = claims->exp;
    if (!v)
        return JWT_ENOEXP;
    if (v->type != JSON_READ_NUMBER)
        return JWT_ECLAIM;
    *exp = v->number;
    if ((v = claims->nbf) && v->type != JSON_READ_NUMBER)
        return JWT_ECLAIM;
    if ((v = claims->iat) && v->type != JSON_READ_NUMBER)
        return JWT_ECLAIM;
    if ((v = claims->iss) && v->type != JSON_READ_STRING)
        return JWT_ECLAIM;
    if ((v = claims->aud) && v->type != JSON_READ_STRING) {
        const char *cursor = NULL;
        json_read_value_t each;
        if (v->type != JSON_READ_ARRAY)
            return JWT_ECLAIM;
        while (json_read_array_next(v, &cursor, &each))
            if (each.type != JSON_READ_STRING)
                return JWT_ECLAIM;
    }
    return JWT_OK;
}

/* RFC 7519 4.1.3: aud is one string or an array of them, one of which must be ours. */
static int jwt_audience_ok(const json_read_value_t *aud, const char *ours)
{
    if (!aud)
        return 0;
    if (aud->type == JSON_READ_STRING)
        return jwt_string_is(aud, ours);
    const char *cursor = NULL;
    json_read_value_t each;
    while (json_read_array_next(aud, &cursor, &each))
        if (jwt_string_is(&each, ours))
            return 1;
    return 0;
}

/* Time, then who issued it and for whom (types already checked). */
static int jwt_claims_ok(const jwt_named_t *claims, const jwt_keys_t *keys, double exp, double now)
{
    if (now >= exp + JWT_LEEWAY)
        return JWT_EEXPIRED;
    if (claims->nbf && now + JWT_LEEWAY < claims->nbf->number)
        return JWT_ENOTYET;
    if (!claims->iss || !jwt_string_is(claims->iss, keys->issuer))
        return JWT_EISSUER;
    if (!jwt_audience_ok(claims->aud, keys->audience))
        return JWT_EAUDIENCE;
    return JWT_OK;
}

/* ---- sign --------------------------------------------------------------------------------- */

int jwt_sign(const jwt_keys_t *keys, const char *payload, size_t len, char *out, size_t cap,
             size_t *outlen)
{
    if (!keys->current.secret)
        return JWT_ENOKEY;
    if (len > JWT_PAYLOAD_MAX)
        return JWT_ETOOLONG;
    json_read_members_t claims;
    jwt_named_t named;
    double exp;
    int rc = json_read_members(payload, len, &claims);
    if (rc == JWT_OK) {
        jwt_named(&claims, &named);
        rc = jwt_claim_types(&named, &exp);
    }
    if (rc != JWT_OK)
        return rc;

    const jwt_key_t *key = &keys->current;
    size_t need = key->header_len + 1 + CRYPTO_B64URL_LEN(len) + 1 + JWT_SIG_B64_LEN;
    if (need > JWT_MAX_LEN || need >= cap)
        return JWT_ETOOLONG;
    memcpy(out, key->header, key->header_len);
    size_t o = key->header_len;
    out[o++] = '.';
    o += crypto_b64url_encode(payload, len, out + o);
    uint8_t mac[JWT_SIG_LEN];
    if (crypto_hmac_key_mac(key->mac, out, o, mac) != CRYPTO_OK)
        return JWT_ECRYPTO;
    out[o++] = '.';
    o += crypto_b64url_encode(mac, sizeof mac, out + o);
    *outlen = o;
    return JWT_OK;
}

/* ---- verify ------------------------------------------------------------------------------- */

/* RFC 8725 2.1, 3.1: the algorithm is ours, not the token's; a header naming a key or a
 * certificate, or extensions we would have to understand, is refused outright. Then the kid
 * picks one of our keys. */
static int jwt_header_ok(const json_read_members_t *obj, const jwt_keys_t *keys,
                         const jwt_key_t **key)
{
    jwt_named_t header;
    jwt_named(obj, &header);
    if (!header.alg || !jwt_string_is(header.alg, "HS256"))
        return JWT_EALG;
    if (header.refused)
        return JWT_EHEADER;
    const json_read_value_t *kid = header.kid;
    if (!kid)
        return JWT_EKID;
    if (jwt_string_is(kid, keys->current.kid))
        *key = &keys->current;
    else if (keys->previous.secret && jwt_string_is(kid, keys->previous.kid))
        *key = &keys->previous;
    else
        return JWT_EKID;
    return JWT_OK;
}

/* The three parts of a token: two dots, no third, header and payload not empty. An empty
 * signature is left to the checks after the header's, so `alg: none` is refused as such. */
static int jwt_split(const char *token, size_t len, size_t *dot1, size_t *dot2)
{
    const char *a = memchr(token, '.', len);
    if (!a)
        return JWT_EMALFORMED;
    const char *b = memchr(a + 1, '.', len - (size_t)(a + 1 - token));
    if (!b || memchr(b + 1, '.', len - (size_t)(b + 1 - token)))
        return JWT_EMALFORMED;
    *dot1 = (size_t)(a - token);
    *dot2 = (size_t)(b - token);
    if (*dot1 == 0 || *dot2 == *dot1 + 1)
        return JWT_EMALFORMED;
    return JWT_OK;
}

/* Decodes part [from, to) of the token as base64url, then reads it as a JSON object. */
static int jwt_part(const char *token, size_t from, size_t to, char *buf, size_t *len,
                    json_read_members_t *obj)
{
    if (crypto_b64url_decode(token + from, to - from, (uint8_t *)buf, len) != CRYPTO_OK)
        return JWT_EMALFORMED;
    return json_read_members(buf, *len, obj);
}

static int jwt_signature_ok(const jwt_key_t *key, const char *token, size_t dot2, size_t len)
{
    uint8_t sig[CRYPTO_B64URL_DECODED_MAX(JWT_SIG_B64_LEN)], mac[JWT_SIG_LEN];
    size_t siglen;
    /* The length is no secret: every signature of ours is 32 bytes, 43 characters. */
    if (len - dot2 - 1 != JWT_SIG_B64_LEN)
        return JWT_ESIGNATURE;
    if (crypto_b64url_decode(token + dot2 + 1, JWT_SIG_B64_LEN, sig, &siglen) != CRYPTO_OK)
        return JWT_EMALFORMED;
    if (crypto_hmac_key_mac(key->mac, token, dot2, mac) != CRYPTO_OK)
        return JWT_ECRYPTO;
    return crypto_equal(sig, mac, sizeof mac) ? JWT_OK : JWT_ESIGNATURE;
}

int jwt_verify(const jwt_keys_t *keys, const char *token, size_t len, double now,
               jwt_verified_t *out)
{
    size_t dot1, dot2, hlen;
    const jwt_key_t *key = NULL;
    char header[JWT_PAYLOAD_MAX];
    json_read_members_t obj; /* the header's */
    jwt_named_t named;       /* the payload's registered claims */
    if (len > JWT_MAX_LEN)
        return JWT_ETOOLONG;
    if (!keys->current.secret)
        return JWT_ENOKEY;
    int rc = jwt_split(token, len, &dot1, &dot2);
    if (rc == JWT_OK)
        rc = jwt_part(token, 0, dot1, header, &hlen, &obj);
    if (rc == JWT_OK)
        rc = jwt_header_ok(&obj, keys, &key);
    if (rc == JWT_OK)
        rc = jwt_signature_ok(key, token, dot2, len);
    /* From here on the token is one we signed: its claims are read, and only now. */
    if (rc == JWT_OK)
        rc = jwt_part(token, dot1 + 1, dot2, out->payload, &out->payload_len, &out->claims);
    if (rc == JWT_OK) {
        jwt_named(&out->claims, &named);
        rc = jwt_claim_types(&named, &out->exp);
    }
    if (rc == JWT_OK)
        rc = jwt_claims_ok(&named, keys, out->exp, now);
    out->by_previous = rc == JWT_OK && key == &keys->previous;
    return rc;
}
