/* crypto.h — the few primitives Speezy signs, hashes, encodes, encrypts and compares with,
 * over OpenSSL 3.
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

/* base64url (RFC 4648 section 5) without padding: n bytes encode to this many characters. */
#define CRYPTO_B64URL_LEN(n) ((n) / 3 * 4 + ((n) % 3 ? (n) % 3 + 1 : 0))
/* At most this many bytes decode from n characters. */
#define CRYPTO_B64URL_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/* AES-256-GCM: a sealed message is nonce || ciphertext || tag. */
#define CRYPTO_AES_KEY_LEN 32
#define CRYPTO_GCM_NONCE_LEN 12
#define CRYPTO_GCM_TAG_LEN 16
#define CRYPTO_GCM_OVERHEAD (CRYPTO_GCM_NONCE_LEN + CRYPTO_GCM_TAG_LEN)
/* Longest plaintext seal takes (OpenSSL counts in int). */
#define CRYPTO_GCM_MAX_LEN ((size_t)0x7fffffff - CRYPTO_GCM_OVERHEAD)

enum { CRYPTO_OK = 0, CRYPTO_EFAIL = -1 };

int crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_SHA256_LEN]);
int crypto_hmac_sha256(const void *key, size_t klen, const void *data, size_t len,
                       uint8_t out[CRYPTO_SHA256_LEN]);

/* An HMAC-SHA-256 key made ready once, for a key that signs many messages (JWT_SECRET):
 * about a fifth of crypto_hmac_sha256's cost per message, which sets the key up each time.
 * It holds a context that each MAC reuses, so one thread at a time. NULL on failure. */
typedef struct crypto_hmac_key crypto_hmac_key_t;
crypto_hmac_key_t *crypto_hmac_key_new(const void *key, size_t klen);
int crypto_hmac_key_mac(crypto_hmac_key_t *k, const void *data, size_t len,
                        uint8_t out[CRYPTO_SHA256_LEN]);
void crypto_hmac_key_free(crypto_hmac_key_t *k);

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

/* base64url of len bytes into out (CRYPTO_B64URL_LEN(len) + 1 bytes, NUL-terminated, no
 * padding); returns the length written before the NUL. */
size_t crypto_b64url_encode(const void *in, size_t len, char *out);

/* Decodes len characters into out (CRYPTO_B64URL_DECODED_MAX(len) bytes) and sets *outlen.
 * Refuses (CRYPTO_EFAIL) what no encoder writes: padding, a character outside A-Z a-z 0-9 - _,
 * a length of 4k + 1, or unused low bits that are not zero, so each byte string has exactly
 * one accepted text. */
int crypto_b64url_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);

/* AES-256-GCM under a fresh random nonce: writes len + CRYPTO_GCM_OVERHEAD bytes into out
 * (nonce, ciphertext, tag). aad (may be NULL when aadlen is 0) is authenticated, not stored. */
int crypto_aes_gcm_seal(const uint8_t key[CRYPTO_AES_KEY_LEN], const void *plain, size_t len,
                        const void *aad, size_t aadlen, uint8_t *out);

/* Opens what crypto_aes_gcm_seal wrote: len - CRYPTO_GCM_OVERHEAD bytes of plaintext into out.
 * CRYPTO_EFAIL, with nothing in out worth reading, when the key, the aad or any byte differs,
 * or len is shorter than the overhead. */
int crypto_aes_gcm_open(const uint8_t key[CRYPTO_AES_KEY_LEN], const uint8_t *sealed, size_t len,
                        const void *aad, size_t aadlen, uint8_t *out, size_t *outlen);

#endif
