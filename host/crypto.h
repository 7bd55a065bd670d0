/* crypto.h — the few primitives Speezy signs, hashes and compares with, over OpenSSL 3.
 *
 * Pure C with no Lua: jwt, otp, migrate and the redis client (EVALSHA) build on it, and the
 * speezy.crypto binding wraps it. Functions that can fail return 0 or CRYPTO_EFAIL. */
#ifndef SPEEZY_CRYPTO_H
#define SPEEZY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define CRYPTO_SHA256_LEN 32
#define CRYPTO_SHA1_LEN 20
/* Hex text of a digest of n bytes needs 2n + 1 bytes (the terminating NUL). */
#define CRYPTO_SHA256_HEX_SIZE (2 * CRYPTO_SHA256_LEN + 1)
#define CRYPTO_SHA1_HEX_SIZE (2 * CRYPTO_SHA1_LEN + 1)

enum { CRYPTO_OK = 0, CRYPTO_EFAIL = -1 };

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
int crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_LEN]);

/* Cryptographically secure random bytes (RAND_bytes). */
int crypto_random(void *buf, size_t len);

/* Constant-time comparison of two buffers of the same length: 1 when equal, 0 otherwise. */
int crypto_equal(const void *a, const void *b, size_t len);

/* Lower-case hex of len bytes into out (2 * len + 1 bytes, NUL-terminated). */
void crypto_hex(const void *in, size_t len, char *out);

/* SHA-1 as 40 lower-case hex digits: the name Redis gives a script for EVALSHA. */
int crypto_sha1_hex(const void *data, size_t len, char out[CRYPTO_SHA1_HEX_SIZE]);

/* SHA-256 as 64 lower-case hex digits (migration checksums, token hashes). */
int crypto_sha256_hex(const void *data, size_t len, char out[CRYPTO_SHA256_HEX_SIZE]);

#endif
