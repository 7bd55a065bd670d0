/* crypto.c — SHA-256, HMAC-SHA-256, SHA-1, random bytes and constant-time compare.
 *
 * Only OpenSSL 3's non-deprecated one-shot APIs (EVP_Digest, HMAC, RAND_bytes), so there is
 * no context to leak and nothing to initialize. */
#include "crypto.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

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
