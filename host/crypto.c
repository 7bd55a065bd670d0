/* crypto.c — SHA-256, HMAC-SHA-256, SHA-1, random bytes, constant-time compare, base64url and
 * AES-256-GCM.
 *
 * Only OpenSSL 3's non-deprecated APIs: one-shot ones (EVP_Digest, HMAC, RAND_bytes) where
 * they exist, so there is no context to leak and nothing to initialize; AES-GCM needs an
 * EVP_CIPHER_CTX, freed on every path; a prepared HMAC key keeps its EVP_MAC_CTX until
 * crypto_hmac_key_free. base64url is ours: OpenSSL's EVP_DecodeBlock speaks
 * the padded '+/' alphabet and accepts what we must refuse. */
#include "crypto.h"

#include <limits.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static int crypto_digest(const EVP_MD *md, const void *data, size_t len, uint8_t *out)
{
    unsigned int outlen = 0;
    /* EVP_Digest rejects a NULL pointer even for zero bytes on some builds. */
    static const uint8_t empty;
    if (!data)
        data = &empty;
    return EVP_Digest(data, len, out, &outlen, md, NULL) == 1 ? CRYPTO_OK : CRYPTO_EFAIL;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN])
{
    return crypto_digest(EVP_sha256(), data, len, out);
}

int crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_LEN])
{
    static const uint8_t empty;
    unsigned int outlen = 0;
    if (klen > INT_MAX)
        return CRYPTO_EFAIL;
    if (!key)
        key = &empty;
    if (!data)
        data = &empty;
    if (!HMAC(EVP_sha256(), key, (int)klen, data, len, out, &outlen))
        return CRYPTO_EFAIL;
    return outlen == CRYPTO_SHA256_LEN ? CRYPTO_OK : CRYPTO_EFAIL;
}

struct crypto_hmac_key {
    EVP_MAC_CTX *ctx; /* initialized with the key; each MAC re-initializes it keeping the key */
};

crypto_hmac_key_t *crypto_hmac_key_new(const void *key, size_t klen)
{
    static const uint8_t empty;
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    crypto_hmac_key_t *k = calloc(1, sizeof *k);
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (k && mac)
        k->ctx = EVP_MAC_CTX_new(mac); /* holds its own reference to mac */
    EVP_MAC_free(mac);
    if (!k || !k->ctx || EVP_MAC_init(k->ctx, klen ? key : &empty, klen, params) != 1) {
        crypto_hmac_key_free(k);
        return NULL;
    }
    return k;
}

int crypto_hmac_key_mac(crypto_hmac_key_t *k, const void *data, size_t len,
                        uint8_t out[CRYPTO_SHA256_LEN])
{
    size_t outlen = 0;
    if (!data)
        data = out; /* any valid pointer for zero bytes */
    if (EVP_MAC_init(k->ctx, NULL, 0, NULL) != 1 || EVP_MAC_update(k->ctx, data, len) != 1 ||
        EVP_MAC_final(k->ctx, out, &outlen, CRYPTO_SHA256_LEN) != 1)
        return CRYPTO_EFAIL;
    return outlen == CRYPTO_SHA256_LEN ? CRYPTO_OK : CRYPTO_EFAIL;
}

void crypto_hmac_key_free(crypto_hmac_key_t *k)
{
    if (!k)
        return;
    EVP_MAC_CTX_free(k->ctx);
    free(k);
}

int crypto_random(void *buf, size_t len)
{
    /* RAND_bytes takes an int: fill larger requests in chunks. */
    uint8_t *p = buf;
    while (len > 0) {
        int n = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(p, n) != 1)
            return CRYPTO_EFAIL;
        p += n;
        len -= (size_t)n;
    }
    return CRYPTO_OK;
}

int crypto_equal(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}

void crypto_hex(const void *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const uint8_t *p = in;
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

int crypto_sha1_hex(const void *data, size_t len, char out[CRYPTO_SHA1_HEX_SIZE])
{
    uint8_t md[CRYPTO_SHA1_LEN];
    if (crypto_digest(EVP_sha1(), data, len, md) != CRYPTO_OK)
        return CRYPTO_EFAIL;
    crypto_hex(md, sizeof md, out);
    return CRYPTO_OK;
}

int crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_SIZE])
{
    uint8_t md[CRYPTO_SHA256_LEN];
    if (crypto_sha256(data, len, md) != CRYPTO_OK)
        return CRYPTO_EFAIL;
    crypto_hex(md, sizeof md, out);
    return CRYPTO_OK;
}

/* ---- base64url ---------------------------------------------------------------------------- */

static const char crypto_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t crypto_b64url_encode(const void *in, size_t len, char *out)
{
    const uint8_t *p = in;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = crypto_b64url_alphabet[v >> 18];
        out[o++] = crypto_b64url_alphabet[v >> 12 & 63];
        out[o++] = crypto_b64url_alphabet[v >> 6 & 63];
        out[o++] = crypto_b64url_alphabet[v & 63];
    }
    if (len - i == 1) {
        out[o++] = crypto_b64url_alphabet[p[i] >> 2];
        out[o++] = crypto_b64url_alphabet[(p[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t v = (uint32_t)p[i] << 8 | p[i + 1];
        out[o++] = crypto_b64url_alphabet[v >> 10];
        out[o++] = crypto_b64url_alphabet[v >> 4 & 63];
        out[o++] = crypto_b64url_alphabet[(v & 15) << 2];
    }
    out[o] = '\0';
    return o;
}

/* 1 + the 6-bit value of each character, 0 outside the alphabet: a table, as every verified
 * token decodes a few hundred characters. */
static const uint8_t crypto_b64url_values[256] = {
    ['A'] = 1,  ['B'] = 2,  ['C'] = 3,  ['D'] = 4,  ['E'] = 5,  ['F'] = 6,  ['G'] = 7,  ['H'] = 8,
    ['I'] = 9,  ['J'] = 10, ['K'] = 11, ['L'] = 12, ['M'] = 13, ['N'] = 14, ['O'] = 15, ['P'] = 16,
    ['Q'] = 17, ['R'] = 18, ['S'] = 19, ['T'] = 20, ['U'] = 21, ['V'] = 22, ['W'] = 23, ['X'] = 24,
    ['Y'] = 25, ['Z'] = 26, ['a'] = 27, ['b'] = 28, ['c'] = 29, ['d'] = 30, ['e'] = 31, ['f'] = 32,
    ['g'] = 33, ['h'] = 34, ['i'] = 35, ['j'] = 36, ['k'] = 37, ['l'] = 38, ['m'] = 39, ['n'] = 40,
    ['o'] = 41, ['p'] = 42, ['q'] = 43, ['r'] = 44, ['s'] = 45, ['t'] = 46, ['u'] = 47, ['v'] = 48,
    ['w'] = 49, ['x'] = 50, ['y'] = 51, ['z'] = 52, ['0'] = 53, ['1'] = 54, ['2'] = 55, ['3'] = 56,
    ['4'] = 57, ['5'] = 58, ['6'] = 59, ['7'] = 60, ['8'] = 61, ['9'] = 62, ['-'] = 63, ['_'] = 64,
};

int crypto_b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
    if (len % 4 == 1)
        return CRYPTO_EFAIL; /* 6 bits cannot end a byte */
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0, i = 0;
    /* Four characters make three bytes: a lookup each, one test that all four are in the
     * alphabet, then 24 bits at once (a character at a time cost 18 instructions). */
    for (; i + 4 <= len; i += 4) {
        /* a character outside the alphabet becomes 0xffffffff here */
        uint32_t a = crypto_b64url_values[p[i]] - 1u, b = crypto_b64url_values[p[i + 1]] - 1u,
                 c = crypto_b64url_values[p[i + 2]] - 1u, d = crypto_b64url_values[p[i + 3]] - 1u;
        if ((a | b | c | d) > 63)
            return CRYPTO_EFAIL;
        uint32_t v = a << 18 | b << 12 | c << 6 | d;
        out[o++] = (uint8_t)(v >> 16);
        out[o++] = (uint8_t)(v >> 8);
        out[o++] = (uint8_t)v;
    }
    /* The last two or three characters: one or two bytes, and bits left over that must be
     * zero ("Zh" and "Zg" would otherwise both decode to "f"). */
    if (i < len) {
        uint32_t v = 0;
        size_t rest = len - i;
        for (size_t k = 0; k < rest; k++) {
            uint32_t c = crypto_b64url_values[p[i + k]];
            if (!c)
                return CRYPTO_EFAIL;
            v = v << 6 | (c - 1);
        }
        if (rest == 2) {
            if (v & 0xf)
                return CRYPTO_EFAIL;
            out[o++] = (uint8_t)(v >> 4);
        } else {
            if (v & 0x3)
                return CRYPTO_EFAIL;
            out[o++] = (uint8_t)(v >> 10);
            out[o++] = (uint8_t)(v >> 2);
        }
    }
    *outlen = o;
    return CRYPTO_OK;
}

/* ---- AES-256-GCM -------------------------------------------------------------------------- */

static int crypto_gcm_aad(EVP_CIPHER_CTX *ctx, const void *aad, size_t aadlen)
{
    int n;
    if (aadlen == 0)
        return 1;
    if (aadlen > INT_MAX)
        return 0;
    return EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aadlen) == 1;
}

int crypto_aes_gcm_seal(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *plain, size_t len,
                        const void *aad, size_t aadlen, uint8_t *out)
{
    if (len > CRYPTO_GCM_MAX_LEN || crypto_random(out, CRYPTO_GCM_NONCE_LEN) != CRYPTO_OK)
        return CRYPTO_EFAIL;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    uint8_t *ct = out + CRYPTO_GCM_NONCE_LEN;
    int n = 0, fin = 0;
    /* The default IV length of GCM in OpenSSL is 12 bytes, the one recommended (SP 800-38D). */
    int ok = ctx && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) == 1 &&
             crypto_gcm_aad(ctx, aad, aadlen) &&
             (len == 0 || EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) == 1) &&
             EVP_EncryptFinal_ex(ctx, ct + n, &fin) == 1 && (size_t)(n + fin) == len &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_GCM_TAG_LEN, ct + len) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok ? CRYPTO_OK : CRYPTO_EFAIL;
}

int crypto_aes_gcm_open(const uint8_t key[CRYPTO_AES_KEY_LEN], const uint8_t *sealed, size_t len,
                        const void *aad, size_t aadlen, uint8_t *out, size_t *outlen)
{
    if (len < CRYPTO_GCM_OVERHEAD || len - CRYPTO_GCM_OVERHEAD > CRYPTO_GCM_MAX_LEN)
        return CRYPTO_EFAIL;
    size_t clen = len - CRYPTO_GCM_OVERHEAD;
    const uint8_t *ct = sealed + CRYPTO_GCM_NONCE_LEN;
    uint8_t tag[CRYPTO_GCM_TAG_LEN];
    memcpy(tag, ct + clen, sizeof tag); /* the ctrl takes a non-const pointer */
    uint8_t none[CRYPTO_GCM_TAG_LEN];   /* where Final writes nothing when out may be NULL */
    uint8_t *end = clen ? out : none;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, fin = 0;
    int ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, sealed) == 1 &&
             crypto_gcm_aad(ctx, aad, aadlen) &&
             (clen == 0 || EVP_DecryptUpdate(ctx, out, &n, ct, (int)clen) == 1) &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof tag, tag) == 1 &&
             EVP_DecryptFinal_ex(ctx, end + n, &fin) == 1 && (size_t)(n + fin) == clen;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        /* Plaintext whose tag did not match must not be read by mistake. */
        if (clen)
            OPENSSL_cleanse(out, clen);
        return CRYPTO_EFAIL;
    }
    *outlen = clen;
    return CRYPTO_OK;
}
