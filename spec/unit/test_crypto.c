/* test_crypto.c — crypto.c against published vectors: FIPS 180-2 (SHA-256), RFC 4231
 * (HMAC-SHA-256), FIPS 180-1 (SHA-1), RFC 4648 (base64url), the GCM specification's AES-256
 * test cases as NIST publishes them (SP 800-38D's reference, McGrew and Viega), plus the hex,
 * compare and random helpers, and what base64url and AES-GCM refuse. */
#include <stdlib.h>

#include "crypto.h"
#include "test.h"

static const char *sha256_hex_of(const void *data, size_t len)
{
    static char hex[CRYPTO_SHA256_HEX_SIZE];
    if (crypto_sha256_hex(data, len, hex) != CRYPTO_OK)
        return NULL;
    return hex;
}

static const char *hmac_hex_of(const void *key, size_t klen, const void *data, size_t len)
{
    static char hex[CRYPTO_SHA256_HEX_SIZE];
    uint8_t mac[CRYPTO_SHA256_LEN];
    if (crypto_hmac_sha256(key, klen, data, len, mac) != CRYPTO_OK)
        return NULL;
    crypto_hex(mac, sizeof mac, hex);
    return hex;
}

TEST(sha256_fips_vectors)
{
    CHECK_STR(sha256_hex_of("abc", 3),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_STR(sha256_hex_of("", 0),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_STR(sha256_hex_of(NULL, 0),
              "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const char *two_blocks = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CHECK_STR(sha256_hex_of(two_blocks, strlen(two_blocks)),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(sha256_million_a)
{
    size_t n = 1000000;
    char *a = malloc(n);
    CHECK(a != NULL);
    if (!a)
        return;
    memset(a, 'a', n);
    CHECK_STR(sha256_hex_of(a, n),
              "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(a);
}

TEST(sha256_raw_matches_hex)
{
    uint8_t md[CRYPTO_SHA256_LEN];
    char hex[CRYPTO_SHA256_HEX_SIZE];
    CHECK(crypto_sha256("abc", 3, md) == CRYPTO_OK);
    CHECK(md[0] == 0xba && md[31] == 0xad);
    crypto_hex(md, sizeof md, hex);
    CHECK_STR(hex, sha256_hex_of("abc", 3));
}

TEST(hmac_rfc4231_short_keys)
{
    uint8_t key[25];
    uint8_t data[50];

    memset(key, 0x0b, 20);
    CHECK_STR(hmac_hex_of(key, 20, "Hi There", 8),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

    const char *what = "what do ya want for nothing?";
    CHECK_STR(hmac_hex_of("Jefe", 4, what, strlen(what)),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

    memset(key, 0xaa, 20);
    memset(data, 0xdd, 50);
    CHECK_STR(hmac_hex_of(key, 20, data, 50),
              "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

    for (int i = 0; i < 25; i++)
        key[i] = (uint8_t)(i + 1);
    memset(data, 0xcd, 50);
    CHECK_STR(hmac_hex_of(key, 25, data, 50),
              "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
}

TEST(hmac_rfc4231_truncated)
{
    uint8_t key[20];
    uint8_t mac[CRYPTO_SHA256_LEN];
    char hex[2 * 16 + 1];
    memset(key, 0x0c, sizeof key);
    CHECK(crypto_hmac_sha256(key, sizeof key, "Test With Truncation", 20, mac) == CRYPTO_OK);
    crypto_hex(mac, 16, hex);
    CHECK_STR(hex, "a3b6167473100ee06e0c796c2955552b");
}

TEST(hmac_rfc4231_long_key)
{
    uint8_t key[131];
    memset(key, 0xaa, sizeof key);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    CHECK_STR(hmac_hex_of(key, sizeof key, d6, strlen(d6)),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    const char *d7 = "This is a test using a larger than block-size key and a larger than "
                     "block-size data. The key needs to be hashed before being used by the "
                     "HMAC algorithm.";
    CHECK_STR(hmac_hex_of(key, sizeof key, d7, strlen(d7)),
              "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

/* A prepared key gives the one-shot's MAC, again and again: the context is re-initialized
 * with its key each time, never carrying the previous message over. */
TEST(hmac_key_reused_matches_rfc4231)
{
    uint8_t key[131], mac[CRYPTO_SHA256_LEN];
    char hex[CRYPTO_SHA256_HEX_SIZE];
    memset(key, 0xaa, sizeof key);
    const char *d6 = "Test Using Larger Than Block-Size Key - Hash Key First";
    crypto_hmac_key_t *jefe = crypto_hmac_key_new("Jefe", 4);
    crypto_hmac_key_t *big = crypto_hmac_key_new(key, sizeof key);
    crypto_hmac_key_t *empty = crypto_hmac_key_new(NULL, 0);
    CHECK(jefe && big && empty);
    if (!jefe || !big || !empty)
        return;
    for (int round = 0; round < 3; round++) {
        const char *what = "what do ya want for nothing?";
        CHECK(crypto_hmac_key_mac(jefe, what, strlen(what), mac) == CRYPTO_OK);
        crypto_hex(mac, sizeof mac, hex);
        CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        CHECK(crypto_hmac_key_mac(big, d6, strlen(d6), mac) == CRYPTO_OK);
        crypto_hex(mac, sizeof mac, hex);
        CHECK_STR(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
        CHECK(crypto_hmac_key_mac(empty, NULL, 0, mac) == CRYPTO_OK);
        crypto_hex(mac, sizeof mac, hex);
        CHECK_STR(hex, hmac_hex_of(NULL, 0, NULL, 0));
    }
    crypto_hmac_key_free(jefe);
    crypto_hmac_key_free(big);
    crypto_hmac_key_free(empty);
    crypto_hmac_key_free(NULL);
}

TEST(sha1_hex_vectors)
{
    char hex[CRYPTO_SHA1_HEX_SIZE];
    CHECK(crypto_sha1_hex("abc", 3, hex) == CRYPTO_OK);
    CHECK_STR(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
    CHECK(crypto_sha1_hex("", 0, hex) == CRYPTO_OK);
    CHECK_STR(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

TEST(hex_encodes_every_nibble)
{
    const uint8_t in[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff};
    char out[2 * sizeof in + 1];
    crypto_hex(in, sizeof in, out);
    CHECK_STR(out, "00017f80abff");
    crypto_hex(in, 0, out);
    CHECK_STR(out, "");
}

TEST(equal_is_exact)
{
    CHECK(crypto_equal("secret", "secret", 6) == 1);
    CHECK(crypto_equal("secret", "secreT", 6) == 0);
    CHECK(crypto_equal("Secret", "secret", 6) == 0);
    CHECK(crypto_equal("a", "b", 0) == 1);
}

TEST(random_fills_and_differs)
{
    uint8_t a[32] = {0}, b[32] = {0}, zero[32] = {0};
    CHECK(crypto_random(a, sizeof a) == CRYPTO_OK);
    CHECK(crypto_random(b, sizeof b) == CRYPTO_OK);
    /* 2^-256 odds of a false failure. */
    CHECK(memcmp(a, b, sizeof a) != 0);
    CHECK(memcmp(a, zero, sizeof a) != 0);
    CHECK(crypto_random(a, 0) == CRYPTO_OK);
}

/* ---- base64url ---------------------------------------------------------------------------- */

static const char *b64_of(const char *s)
{
    static char out[64];
    crypto_b64url_encode(s, strlen(s), out);
    return out;
}

/* The decoded text (NUL-terminated), or NULL when refused. */
static const char *unb64(const char *s, size_t len)
{
    static char out[64];
    size_t n = 0;
    if (crypto_b64url_decode(s, len, (uint8_t *)out, &n) != CRYPTO_OK)
        return NULL;
    out[n] = '\0';
    return out;
}

TEST(b64url_rfc4648_vectors)
{
    static const char *const pairs[][2] = {
        {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},          {"foo", "Zm9v"},
        {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        CHECK_STR(b64_of(pairs[i][0]), pairs[i][1]);
        CHECK_STR(unb64(pairs[i][1], strlen(pairs[i][1])), pairs[i][0]);
        CHECK(strlen(pairs[i][1]) == CRYPTO_B64URL_LEN(strlen(pairs[i][0])));
    }
}

TEST(b64url_url_alphabet)
{
    const uint8_t in[] = {0xfb, 0xff, 0xbf, 0x00, 0x10, 0x83};
    char out[16];
    CHECK(crypto_b64url_encode(in, sizeof in, out) == 8);
    CHECK_STR(out, "-_-_ABCD");
    uint8_t back[8];
    size_t n = 0;
    CHECK(crypto_b64url_decode("-_-_ABCD", 8, back, &n) == CRYPTO_OK);
    CHECK(n == sizeof in && memcmp(back, in, n) == 0);
}

TEST(b64url_decode_refuses_what_no_encoder_writes)
{
    static const char *const bad[] = {
        "Zg==", "Zg=",   "Zm9v=",                                    /* padding */
        "Z+8",  "Z/8",   "Zg ",    " Zg", "Zm\n9v", "Zm9v.", "Zm9*", /* outside the alphabet */
        "A",    "AAAAA", "Zm9vY",                                    /* 4k + 1 characters */
        "Zh",   "Zm9",   "Zm9vYh",                                   /* unused bits not zero */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (unb64(bad[i], strlen(bad[i])) != NULL) {
            fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
            CHECK(!"a bad text was accepted");
        }
    CHECK(unb64("Z\0g", 3) == NULL); /* a NUL inside */
    CHECK_STR(unb64("Zg", 2), "f");
    CHECK_STR(unb64("Zm8", 3), "fo");
}

TEST(b64url_round_trips_every_length)
{
    uint8_t in[70], back[70];
    char text[CRYPTO_B64URL_LEN(70) + 1];
    for (size_t len = 0; len <= sizeof in; len++) {
        size_t n = 0;
        CHECK(crypto_random(in, len) == CRYPTO_OK);
        size_t tlen = crypto_b64url_encode(in, len, text);
        CHECK(tlen == CRYPTO_B64URL_LEN(len) && text[tlen] == '\0');
        CHECK(strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
              tlen);
        CHECK(crypto_b64url_decode(text, tlen, back, &n) == CRYPTO_OK);
        CHECK(n == len && memcmp(in, back, len) == 0);
    }
}

/* ---- AES-256-GCM -------------------------------------------------------------------------- */

static size_t unhex(const char *hex, uint8_t *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* Opens nonce || ciphertext || tag, all given in hex; returns the plaintext in hex or NULL. */
static const char *gcm_open_hex(const char *key, const char *iv, const char *ct, const char *tag,
                                const char *aad)
{
    static char hex[2 * 128 + 1];
    uint8_t k[32], sealed[160], a[64], plain[128];
    size_t n = unhex(iv, sealed);
    n += unhex(ct, sealed + n);
    n += unhex(tag, sealed + n);
    unhex(key, k);
    size_t alen = unhex(aad, a), plen = 0;
    if (crypto_aes_gcm_open(k, sealed, n, a, alen, plain, &plen) != CRYPTO_OK)
        return NULL;
    crypto_hex(plain, plen, hex);
    return hex;
}

TEST(gcm_published_vectors)
{
    const char *zero_key = "0000000000000000000000000000000000000000000000000000000000000000";
    const char *zero_iv = "000000000000000000000000";
    /* Test case 13: empty plaintext, only the tag. */
    CHECK_STR(gcm_open_hex(zero_key, zero_iv, "", "530f8afbc74536b9a963b4f1c4cb738b", ""), "");
    /* Test case 14: one zero block. */
    CHECK_STR(gcm_open_hex(zero_key, zero_iv, "cea7403d4d606b6e074ec5d3baf39d18",
                           "d0d1c8a799996bf0265b98b5d48ab919", ""),
              "00000000000000000000000000000000");
    /* Test case 16: 60 bytes with 20 bytes of additional data. */
    CHECK_STR(gcm_open_hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
                           "cafebabefacedbaddecaf888",
                           "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
                           "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
                           "76fc6ece0f4e1768cddf8853bb2d551b",
                           "feedfacedeadbeeffeedfacedeadbeefabaddad2"),
              "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
              "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    /* The same with its tag's last bit flipped, or without its additional data. */
    CHECK(gcm_open_hex(zero_key, zero_iv, "", "530f8afbc74536b9a963b4f1c4cb738a", "") == NULL);
    CHECK(gcm_open_hex(zero_key, zero_iv, "cea7403d4d606b6e074ec5d3baf39d18",
                       "d0d1c8a799996bf0265b98b5d48ab919", "00") == NULL);
}

TEST(gcm_seal_opens_with_a_fresh_nonce)
{
    uint8_t key[32], a[64 + CRYPTO_GCM_OVERHEAD], b[64 + CRYPTO_GCM_OVERHEAD], plain[64];
    size_t n = 0;
    const char *msg = "the code is 123456";
    size_t len = strlen(msg);
    CHECK(crypto_random(key, sizeof key) == CRYPTO_OK);
    CHECK(crypto_aes_gcm_seal(key, msg, len, "job-1", 5, a) == CRYPTO_OK);
    CHECK(crypto_aes_gcm_seal(key, msg, len, "job-1", 5, b) == CRYPTO_OK);
    CHECK(memcmp(a, b, CRYPTO_GCM_NONCE_LEN) != 0); /* 2^-96 odds of a false failure */
    CHECK(memcmp(a + CRYPTO_GCM_NONCE_LEN, msg, len) != 0);
    CHECK(crypto_aes_gcm_open(key, a, len + CRYPTO_GCM_OVERHEAD, "job-1", 5, plain, &n) ==
          CRYPTO_OK);
    CHECK(n == len && memcmp(plain, msg, len) == 0);
    CHECK(crypto_aes_gcm_seal(key, NULL, 0, NULL, 0, a) == CRYPTO_OK);
    CHECK(crypto_aes_gcm_open(key, a, CRYPTO_GCM_OVERHEAD, NULL, 0, NULL, &n) == CRYPTO_OK);
    CHECK(n == 0);
}

TEST(gcm_open_refuses_any_change)
{
    uint8_t key[32], other[32], sealed[8 + CRYPTO_GCM_OVERHEAD], plain[8];
    size_t n = 0, len = sizeof sealed;
    CHECK(crypto_random(key, sizeof key) == CRYPTO_OK);
    memcpy(other, key, sizeof key);
    other[31] ^= 1;
    CHECK(crypto_aes_gcm_seal(key, "12345678", 8, "aad", 3, sealed) == CRYPTO_OK);
    for (size_t i = 0; i < len; i++) { /* nonce, ciphertext and tag alike */
        sealed[i] ^= 0x80;
        memset(plain, 'x', sizeof plain);
        CHECK(crypto_aes_gcm_open(key, sealed, len, "aad", 3, plain, &n) == CRYPTO_EFAIL);
        CHECK(memcmp(plain, "\0\0\0\0\0\0\0\0", 8) == 0 || memcmp(plain, "xxxxxxxx", 8) == 0);
        CHECK(memcmp(plain, "12345678", 8) != 0);
        sealed[i] ^= 0x80;
    }
    CHECK(crypto_aes_gcm_open(other, sealed, len, "aad", 3, plain, &n) == CRYPTO_EFAIL);
    CHECK(crypto_aes_gcm_open(key, sealed, len, "aaD", 3, plain, &n) == CRYPTO_EFAIL);
    CHECK(crypto_aes_gcm_open(key, sealed, len, NULL, 0, plain, &n) == CRYPTO_EFAIL);
    CHECK(crypto_aes_gcm_open(key, sealed, len - 1, "aad", 3, plain, &n) == CRYPTO_EFAIL);
    CHECK(crypto_aes_gcm_open(key, sealed, CRYPTO_GCM_OVERHEAD - 1, "aad", 3, plain, &n) ==
          CRYPTO_EFAIL);
    CHECK(crypto_aes_gcm_open(key, sealed, len, "aad", 3, plain, &n) == CRYPTO_OK);
    CHECK(n == 8 && memcmp(plain, "12345678", 8) == 0);
}

int main(void)
{
    RUN(sha256_fips_vectors);
    RUN(sha256_million_a);
    RUN(sha256_raw_matches_hex);
    RUN(hmac_rfc4231_short_keys);
    RUN(hmac_rfc4231_truncated);
    RUN(hmac_rfc4231_long_key);
    RUN(hmac_key_reused_matches_rfc4231);
    RUN(sha1_hex_vectors);
    RUN(hex_encodes_every_nibble);
    RUN(equal_is_exact);
    RUN(random_fills_and_differs);
    RUN(b64url_rfc4648_vectors);
    RUN(b64url_url_alphabet);
    RUN(b64url_decode_refuses_what_no_encoder_writes);
    RUN(b64url_round_trips_every_length);
    RUN(gcm_published_vectors);
    RUN(gcm_seal_opens_with_a_fresh_nonce);
    RUN(gcm_open_refuses_any_change);
    return test_summary();
}
