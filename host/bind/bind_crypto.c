/* bind_crypto.c — speezy.crypto: hashes, MACs, random bytes, constant-time compare, base64url
 * and AES-256-GCM for scripts, over host/crypto.c.
 *
 * Every value in and out is a Lua string of raw bytes (sha256_hex aside). Arguments of the
 * wrong type or size are programming errors and raise naming the function; bytes that fail to
 * decode or authenticate are data and come back as nil, err. Scratch memory is a Lua userdata,
 * so a raise from Lua's allocator (the VM's memory budget) leaks nothing. */
#include <string.h>

#include "../crypto.h"
#include "bind.h"

/* Most bytes random_bytes hands out in one call: a key or a token needs 32. */
#define BIND_CRYPTO_RANDOM_MAX 1024

static const char *bind_crypto_bytes(lua_State *L, int idx, const char *fname, size_t *len)
{
    if (lua_type(L, idx) != LUA_TSTRING)
        bind_misuse(L, "crypto.%s: argument #%d must be a string, got %s", fname, idx,
                    luaL_typename(L, idx));
    return lua_tolstring(L, idx, len);
}

/* The optional additional data of seal and open: "" when absent. */
static const char *bind_crypto_aad(lua_State *L, int idx, const char *fname, size_t *len)
{
    if (lua_isnoneornil(L, idx)) {
        *len = 0;
        return "";
    }
    return bind_crypto_bytes(L, idx, fname, len);
}

static const uint8_t *bind_crypto_key(lua_State *L, const char *fname)
{
    size_t len;
    const char *key = bind_crypto_bytes(L, 1, fname, &len);
    if (len != CRYPTO_AES_KEY_LEN)
        bind_misuse(L, "crypto.%s: the key must be %d bytes, got %d", fname, CRYPTO_AES_KEY_LEN,
                    (int)len);
    return (const uint8_t *)key;
}

static int bind_crypto_digest_out(lua_State *L, int rc, const uint8_t *md, const char *fname)
{
    if (rc != CRYPTO_OK)
        return bind_fail(L, "INTERNAL", "crypto.%s failed", fname);
    lua_pushlstring(L, (const char *)md, CRYPTO_SHA256_LEN);
    return 1;
}

/* crypto.hmac_sha256(key, data) -> 32 raw bytes */
static int bind_crypto_hmac_sha256(lua_State *L)
{
    size_t klen, len;
    const char *key = bind_crypto_bytes(L, 1, "hmac_sha256", &klen);
    const char *data = bind_crypto_bytes(L, 2, "hmac_sha256", &len);
    uint8_t mac[CRYPTO_SHA256_LEN];
    return bind_crypto_digest_out(L, crypto_hmac_sha256(key, klen, data, len, mac), mac,
                                  "hmac_sha256");
}

/* crypto.sha256(data) -> 32 raw bytes */
static int bind_crypto_sha256(lua_State *L)
{
    size_t len;
    const char *data = bind_crypto_bytes(L, 1, "sha256", &len);
    uint8_t md[CRYPTO_SHA256_LEN];
    return bind_crypto_digest_out(L, crypto_sha256(data, len, md), md, "sha256");
}

/* crypto.sha256_hex(data) -> 64 lower-case hex digits */
static int bind_crypto_sha256_hex(lua_State *L)
{
    size_t len;
    const char *data = bind_crypto_bytes(L, 1, "sha256_hex", &len);
    char hex[CRYPTO_SHA256_HEX_SIZE];
    if (crypto_sha256_hex(data, len, hex) != CRYPTO_OK)
        return bind_fail(L, "INTERNAL", "crypto.sha256_hex failed");
    lua_pushlstring(L, hex, CRYPTO_SHA256_HEX_SIZE - 1);
    return 1;
}

/* crypto.random_bytes(n) -> n bytes from the CSPRNG, 0 <= n <= 1024 */
static int bind_crypto_random_bytes(lua_State *L)
{
    lua_Number n = lua_type(L, 1) == LUA_TNUMBER ? lua_tonumber(L, 1) : -1;
    if (!(n >= 0 && n <= BIND_CRYPTO_RANDOM_MAX) || n != (lua_Number)(int)n)
        return bind_misuse(L, "crypto.random_bytes: n must be an integer from 0 to %d",
                           BIND_CRYPTO_RANDOM_MAX);
    uint8_t buf[BIND_CRYPTO_RANDOM_MAX];
    if (crypto_random(buf, (size_t)n) != CRYPTO_OK)
        return bind_fail(L, "INTERNAL", "crypto.random_bytes: the random generator failed");
    lua_pushlstring(L, (const char *)buf, (size_t)n);
    return 1;
}

/* crypto.equal(a, b) -> boolean. Time depends on the length only, never on where the bytes
 * differ; strings of different lengths are unequal at once (a length is not a secret: compare
 * digests when it is). */
static int bind_crypto_equal(lua_State *L)
{
    size_t alen, blen;
    const char *a = bind_crypto_bytes(L, 1, "equal", &alen);
    const char *b = bind_crypto_bytes(L, 2, "equal", &blen);
    lua_pushboolean(L, alen == blen && crypto_equal(a, b, alen));
    return 1;
}

/* crypto.base64url_encode(bytes) -> text without padding */
static int bind_crypto_base64url_encode(lua_State *L)
{
    size_t len;
    const char *in = bind_crypto_bytes(L, 1, "base64url_encode", &len);
    char *out = lua_newuserdata(L, CRYPTO_B64URL_LEN(len) + 1);
    size_t n = crypto_b64url_encode(in, len, out);
    lua_pushlstring(L, out, n);
    return 1;
}

/* crypto.base64url_decode(text) -> bytes | nil, err (INVALID_INPUT) */
static int bind_crypto_base64url_decode(lua_State *L)
{
    size_t len, n;
    const char *in = bind_crypto_bytes(L, 1, "base64url_decode", &len);
    uint8_t *out = lua_newuserdata(L, CRYPTO_B64URL_DECODED_MAX(len));
    if (crypto_b64url_decode(in, len, out, &n) != CRYPTO_OK)
        return bind_fail(L, "INVALID_INPUT",
                         "not base64url (A-Z a-z 0-9 - _, no padding, canonical)");
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

/* crypto.aes_gcm_seal(key32, plaintext[, aad]) -> nonce .. ciphertext .. tag */
static int bind_crypto_aes_gcm_seal(lua_State *L)
{
    size_t len, aadlen;
    const uint8_t *key = bind_crypto_key(L, "aes_gcm_seal");
    const char *plain = bind_crypto_bytes(L, 2, "aes_gcm_seal", &len);
    const char *aad = bind_crypto_aad(L, 3, "aes_gcm_seal", &aadlen);
    if (len > CRYPTO_GCM_MAX_LEN)
        return bind_misuse(L, "crypto.aes_gcm_seal: plaintext too long");
    uint8_t *out = lua_newuserdata(L, len + CRYPTO_GCM_OVERHEAD);
    if (crypto_aes_gcm_seal(key, plain, len, aad, aadlen, out) != CRYPTO_OK)
        return bind_fail(L, "INTERNAL", "crypto.aes_gcm_seal failed");
    lua_pushlstring(L, (const char *)out, len + CRYPTO_GCM_OVERHEAD);
    return 1;
}

/* crypto.aes_gcm_open(key32, sealed[, aad]) -> plaintext | nil, err (DECRYPT_FAILED) */
static int bind_crypto_aes_gcm_open(lua_State *L)
{
    size_t len, aadlen, n = 0;
    const uint8_t *key = bind_crypto_key(L, "aes_gcm_open");
    const char *sealed = bind_crypto_bytes(L, 2, "aes_gcm_open", &len);
    const char *aad = bind_crypto_aad(L, 3, "aes_gcm_open", &aadlen);
    uint8_t *out = lua_newuserdata(L, len > CRYPTO_GCM_OVERHEAD ? len - CRYPTO_GCM_OVERHEAD : 1);
    if (crypto_aes_gcm_open(key, (const uint8_t *)sealed, len, aad, aadlen, out, &n) != CRYPTO_OK)
        return bind_fail(L, "DECRYPT_FAILED",
                         "the sealed text does not open with this key and data");
    lua_pushlstring(L, (const char *)out, n);
    return 1;
}

int luaopen_speezy_crypto(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"hmac_sha256", bind_crypto_hmac_sha256},
        {"sha256", bind_crypto_sha256},
        {"sha256_hex", bind_crypto_sha256_hex},
        {"random_bytes", bind_crypto_random_bytes},
        {"equal", bind_crypto_equal},
        {"base64url_encode", bind_crypto_base64url_encode},
        {"base64url_decode", bind_crypto_base64url_decode},
        {"aes_gcm_seal", bind_crypto_aes_gcm_seal},
        {"aes_gcm_open", bind_crypto_aes_gcm_open},
        {NULL, NULL},
    };
    lua_createtable(L, 0, sizeof fns / sizeof fns[0] - 1);
    luaL_register(L, NULL, fns);
    return 1;
}
