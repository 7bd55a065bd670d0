/* test_crypto.c — crypto.c against published vectors: FIPS 180-2 (SHA-256), RFC 4231
 * (HMAC-SHA-256), FIPS 180-1 (SHA-1), plus the hex, compare and random helpers. */
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

int main(void)
{
    RUN(sha256_fips_vectors);
    RUN(sha256_million_a);
    RUN(sha256_raw_matches_hex);
    RUN(hmac_rfc4231_short_keys);
    RUN(hmac_rfc4231_truncated);
    RUN(hmac_rfc4231_long_key);
    RUN(sha1_hex_vectors);
    RUN(hex_encodes_every_nibble);
    RUN(equal_is_exact);
    RUN(random_fills_and_differs);
    return test_summary();
}
