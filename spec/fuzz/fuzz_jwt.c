/* fuzz_jwt.c — arbitrary bytes against the token verifier (host/jwt.h): a bearer token is the
 * first thing a stranger sends us, so whatever it is, jwt_verify accepts it or refuses it with
 * one of its codes, never a crash, and nothing unsigned by our keys gets through.
 *
 * The first byte picks what the rest is (mod 3), so the fuzzer reaches past the signature:
 *   0  a token, verified as it is (keys: SECRET, and PREVIOUS as during a rotation);
 *   1  a payload: jwt_sign either refuses it as claims it would not verify, or signs it, and
 *      then verify gives back exactly those bytes or refuses only on time, issuer or audience;
 *      the signed token with any one byte changed is refused;
 *   2  a header, a newline, a payload: both signed with SECRET's HMAC as an attacker holding
 *      the key could, so the JSON reader sees any header; what passes has exp in the future.
 * Promises checked beyond the sanitizers: the code is JWT_OK or a JWT_E* with a reason; an
 * accepted token's payload is what was signed and a JSON object; a token longer than
 * JWT_MAX_LEN is refused for its length. A broken promise traps (PROMISE, fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crypto.h"
#include "fuzz.h"
#include "jwt.h"

#define NOW 1700000000.0
#define SECRET "fuzz-secret-0123456789-0123456789-0123456789"
#define PREVIOUS "fuzz-previous-0123456789-0123456789-01234567"

static jwt_keys_t keys;

static void fuzz_jwt_known(int rc)
{
    PROMISE(rc == JWT_OK || jwt_reason(rc) != NULL);
}

static int fuzz_jwt_verify(const char *token, size_t len, jwt_verified_t *v)
{
    int rc = jwt_verify(&keys, token, len, NOW, v);
    fuzz_jwt_known(rc);
    if (len > JWT_MAX_LEN)
        PROMISE(rc == JWT_ETOOLONG);
    if (rc == JWT_OK) {
        PROMISE(v->payload_len > 0 && v->payload_len <= JWT_PAYLOAD_MAX);
        size_t i = 0;
        while (i < v->payload_len && strchr(" \t\r\n", v->payload[i]))
            i++;
        PROMISE(i < v->payload_len && v->payload[i] == '{');
        PROMISE(NOW < v->exp + JWT_LEEWAY);
    }
    return rc;
}

static void fuzz_jwt_sign(const uint8_t *data, size_t size)
{
    static char token[JWT_MAX_LEN + 1];
    static jwt_verified_t v;
    size_t n = 0;
    int rc = jwt_sign(&keys, (const char *)data, size, token, sizeof token, &n);
    if (rc != JWT_OK) {
        PROMISE(rc == JWT_EMALFORMED || rc == JWT_EDUPLICATE || rc == JWT_ECLAIM ||
                rc == JWT_ENOEXP || rc == JWT_ETOOLONG);
        return;
    }
    PROMISE(n <= JWT_MAX_LEN && token[n] == '\0');
    rc = fuzz_jwt_verify(token, n, &v);
    PROMISE(rc == JWT_OK || rc == JWT_EEXPIRED || rc == JWT_ENOTYET || rc == JWT_EISSUER ||
            rc == JWT_EAUDIENCE);
    if (rc == JWT_OK)
        PROMISE(v.payload_len == size && memcmp(v.payload, data, size) == 0);
    /* One byte changed anywhere, at a place and by a value the input picks. */
    size_t at = (size * 31 + (size ? data[0] : 0)) % n;
    token[at] = (char)(token[at] ^ (size ? data[size - 1] | 1 : 1));
    PROMISE(fuzz_jwt_verify(token, n, &v) != JWT_OK);
}

static void fuzz_jwt_forge(const uint8_t *data, size_t size)
{
    static char token[3 * JWT_MAX_LEN];
    static jwt_verified_t v;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t hlen = nl ? (size_t)(nl - data) : size, plen = nl ? size - hlen - 1 : 0;
    if (CRYPTO_B64URL_LEN(hlen) + CRYPTO_B64URL_LEN(plen) + 64 > sizeof token)
        return;
    size_t o = crypto_b64url_encode(data, hlen, token);
    token[o++] = '.';
    o += crypto_b64url_encode(nl ? nl + 1 : data, plen, token + o);
    uint8_t mac[CRYPTO_SHA256_LEN];
    PROMISE(crypto_hmac_sha256(SECRET, strlen(SECRET), token, o, mac) == CRYPTO_OK);
    token[o++] = '.';
    o += crypto_b64url_encode(mac, sizeof mac, token + o);
    if (fuzz_jwt_verify(token, o, &v) == JWT_OK)
        PROMISE(nl && v.payload_len == plen && memcmp(v.payload, nl + 1, plen) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static jwt_verified_t v;
    if (!keys.current.secret)
        PROMISE(jwt_keys_init(&keys, SECRET, PREVIOUS, "speezy", "speezy") == JWT_OK);
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
    case 0:
        fuzz_jwt_verify((const char *)data + 1, size - 1, &v);
        break;
    case 1:
        fuzz_jwt_sign(data + 1, size - 1);
        break;
    default:
        fuzz_jwt_forge(data + 1, size - 1);
        break;
    }
    return 0;
}
