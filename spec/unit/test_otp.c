/* test_otp.c — the pure parts of otp.c: the phone rule (otp.h, otp_normalize_phone) as a
 * table, the code's rejection bound and its spread over many CSPRNG draws, and the stored
 * hash's exact message (phone "\0" code). The Redis steps are spec/api/41_otp_core_spec.lua. */
#include <stdint.h>

#include "otp.h"
#include "test.h"

static const char *norm(const char *in)
{
    static char out[OTP_PHONE_SIZE];
    return otp_normalize_phone(in, strlen(in), out) == OTP_OK ? out : NULL;
}

TEST(phone_national_numbers_become_plus_91)
{
    CHECK_STR(norm("9876543210"), "+919876543210");
    CHECK_STR(norm("6000000000"), "+916000000000");
    CHECK_STR(norm("7999999999"), "+917999999999");
    CHECK_STR(norm("98765 43210"), "+919876543210");
    CHECK_STR(norm("98765-43210"), "+919876543210");
    CHECK_STR(norm("(98765) 43210"), "+919876543210");
    CHECK_STR(norm(" 9876543210 "), "+919876543210");
    CHECK(norm("5876543210") == NULL); /* India's mobile numbers start 6 to 9 */
    CHECK(norm("0987654321") == NULL); /* leading 0 */
    CHECK(norm("09876543210") == NULL);
    CHECK(norm("987654321") == NULL); /* 9 digits */
    CHECK(norm("98765432101") == NULL);
    CHECK(norm("919876543210") == NULL); /* the country code without + */
}

TEST(phone_e164_as_it_is)
{
    CHECK_STR(norm("+919876543210"), "+919876543210");
    CHECK_STR(norm("+91 98765 43210"), "+919876543210");
    CHECK_STR(norm("(+91) 98765-43210"), "+919876543210");
    CHECK_STR(norm("+14155550123"), "+14155550123");
    CHECK_STR(norm("+1 (415) 555-0123"), "+14155550123");
    CHECK_STR(norm("+12345678"), "+12345678");               /* 8 digits: the least */
    CHECK_STR(norm("+123456789012345"), "+123456789012345"); /* 15: the most */
    CHECK(norm("+1234567") == NULL);                         /* 7 */
    CHECK(norm("+1234567890123456") == NULL);                /* 16 */
    CHECK(norm("+0123456789") == NULL);                      /* no country code starts 0 */
    CHECK(norm("+9198765432") == NULL);                      /* +91 takes 10 digits */
    CHECK(norm("+9109876543210") == NULL);                   /* trunk 0 after +91 */
    CHECK(norm("+915876543210") == NULL);                    /* not a mobile number */
    CHECK(norm("+91 (0) 98765 43210") == NULL);
}

TEST(phone_refusals)
{
    CHECK(norm("") == NULL);
    CHECK(norm("   ") == NULL);
    CHECK(norm("+") == NULL);
    CHECK(norm("++919876543210") == NULL);
    CHECK(norm("+91+9876543210") == NULL);
    CHECK(norm("91+9876543210") == NULL);
    CHECK(norm("98765432a0") == NULL);
    CHECK(norm("+91 98765.43210") == NULL);
    CHECK(norm("+91\t9876543210") == NULL);
    CHECK(norm("９８７６５４３２１０") == NULL); /* full-width digits */
    char out[OTP_PHONE_SIZE];
    CHECK(otp_normalize_phone("98765\0"
                              "43210",
                              11, out) == OTP_EINVAL);
    /* separators count toward the input limit */
    char padded[OTP_PHONE_INPUT_MAX + 2];
    memset(padded, ' ', sizeof(padded));
    memcpy(padded, "9876543210", 10);
    CHECK(otp_normalize_phone(padded, OTP_PHONE_INPUT_MAX, out) == OTP_OK);
    CHECK(otp_normalize_phone(padded, OTP_PHONE_INPUT_MAX + 1, out) == OTP_EINVAL);
    CHECK(otp_normalize_phone(NULL, 0, out) == OTP_EINVAL);
}

TEST(phone_normal_form_is_a_fixed_point)
{
    const char *in[] = {"9876543210", "+91 98765 43210", "+1 (415) 555-0123", "+123456789012345"};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        char once[OTP_PHONE_SIZE], twice[OTP_PHONE_SIZE];
        CHECK(otp_normalize_phone(in[i], strlen(in[i]), once) == OTP_OK);
        CHECK(otp_normalize_phone(once, strlen(once), twice) == OTP_OK);
        CHECK_STR(twice, once);
    }
}

TEST(code_shape)
{
    CHECK(otp_code_valid("123456", 6));
    CHECK(otp_code_valid("000000", 6));
    CHECK(!otp_code_valid("12345", 5));
    CHECK(!otp_code_valid("1234567", 7));
    CHECK(!otp_code_valid("12345a", 6));
    CHECK(!otp_code_valid(" 12345", 6));
    CHECK(!otp_code_valid(NULL, 0));
}

/* 2^32 = 4294 * 10^6 + 967296: the values from 4294000000 on would give codes 000000 to
 * 967295 once more than the others, so they are drawn again. */
TEST(code_rejection_bound)
{
    char code[OTP_CODE_LEN + 1];
    CHECK(otp_code_from_u32(0, code) == OTP_OK);
    CHECK_STR(code, "000000");
    CHECK(otp_code_from_u32(42, code) == OTP_OK);
    CHECK_STR(code, "000042");
    CHECK(otp_code_from_u32(1000000, code) == OTP_OK);
    CHECK_STR(code, "000000");
    CHECK(otp_code_from_u32(4293999999u, code) == OTP_OK);
    CHECK_STR(code, "999999");
    CHECK(otp_code_from_u32(4294000000u, code) == OTP_EINVAL);
    CHECK(otp_code_from_u32(UINT32_MAX, code) == OTP_EINVAL);
}

/* Pearson's statistic of counts against a uniform expectation. */
static double chi_square(const unsigned *count, int buckets, unsigned draws)
{
    double expect = (double)draws / buckets, sum = 0;
    for (int i = 0; i < buckets; i++)
        sum += (count[i] - expect) * (count[i] - expect) / expect;
    return sum;
}

/* 200,000 draws: the leading digit, the last digit and the first two digits spread evenly.
 * The bounds are far out (their chance under a uniform draw is below 1e-9), so the test only
 * fails for a real skew: a digit that never moves, a range never drawn. */
TEST(code_draws_spread_evenly)
{
    enum { DRAWS = 200000 };
    unsigned first[10] = {0}, last[10] = {0}, two[100] = {0};
    int shaped = 1;
    for (int i = 0; i < DRAWS; i++) {
        char code[OTP_CODE_LEN + 1];
        if (otp_code_draw(code) != OTP_OK || !otp_code_valid(code, strlen(code))) {
            shaped = 0;
            break;
        }
        first[code[0] - '0']++;
        last[code[5] - '0']++;
        two[(code[0] - '0') * 10 + code[1] - '0']++;
    }
    CHECK(shaped);
    CHECK(chi_square(first, 10, DRAWS) < 60); /* 9 degrees of freedom: mean 9 */
    CHECK(chi_square(last, 10, DRAWS) < 60);
    CHECK(chi_square(two, 100, DRAWS) < 230); /* 99: mean 99, sd 14 */
}

/* The expected digests were made with OpenSSL's command line:
 *   printf '%s\0%s' +919876543210 123456 | openssl dgst -sha256 -hmac otp-test-secret */
TEST(hash_is_hmac_of_phone_nul_code)
{
    char hex[65];
    const char *secret = "otp-test-secret";
    CHECK(otp_hash(secret, strlen(secret), "+919876543210", "123456", hex) == OTP_OK);
    CHECK_STR(hex, "a6e34807661e031341748b6e91d39f3ae8dd08e4d271979b3d6550b3cf0060a4");
    /* the same pair without the NUL between them (printf '+919876543210123456' | ...) */
    CHECK(strcmp(hex, "8de9b0e66112fc6b1827568b64feb008f8d9852fa9e8a6f05a0fc15a65f5905e") != 0);
    CHECK(otp_hash("other", 5, "+919876543210", "123456", hex) == OTP_OK);
    CHECK(strcmp(hex, "a6e34807661e031341748b6e91d39f3ae8dd08e4d271979b3d6550b3cf0060a4") != 0);
    CHECK(otp_hash(secret, strlen(secret), "+919876543210", "12345", hex) == OTP_EINVAL);
}

TEST(limit_names)
{
    CHECK_STR(otp_limit_name(OTP_LIMIT_COOLDOWN), "cooldown");
    CHECK_STR(otp_limit_name(OTP_LIMIT_PER_PHONE_IP), "per_phone_ip");
    CHECK_STR(otp_limit_name(OTP_LIMIT_PER_PHONE), "per_phone");
    CHECK_STR(otp_limit_name(OTP_LIMIT_PER_IP), "per_ip");
}

static void never(const otp_result_t *res, void *ud)
{
    (void)res;
    *(int *)ud = 1;
}

/* Refused before Redis is reached: the client is never touched. */
TEST(steps_refuse_what_is_not_normalized)
{
    otp_policy_t p = {.ttl_ms = 1000, .attempts = 5};
    int called = 0;
    const char *secret = "s";
    CHECK(otp_issue(NULL, secret, 1, "9876543210", "127.0.0.1", &p, never, &called, NULL) ==
          OTP_EINVAL);
    CHECK(otp_issue(NULL, secret, 1, "+919876543210", "", &p, never, &called, NULL) == OTP_EINVAL);
    CHECK(otp_issue(NULL, secret, 1, "+919876543210", "1.2.3.4 x", &p, never, &called, NULL) ==
          OTP_EINVAL);
    otp_policy_t no_ttl = {.attempts = 5};
    CHECK(otp_issue(NULL, secret, 1, "+919876543210", "1.2.3.4", &no_ttl, never, &called, NULL) ==
          OTP_EINVAL);
    CHECK(otp_verify(NULL, secret, 1, "+919876543210", "12345", never, &called, NULL) ==
          OTP_EINVAL);
    CHECK(otp_verify(NULL, secret, 1, "+91 98765 43210", "123456", never, &called, NULL) ==
          OTP_EINVAL);
    CHECK(!called);
}

int main(void)
{
    RUN(phone_national_numbers_become_plus_91);
    RUN(phone_e164_as_it_is);
    RUN(phone_refusals);
    RUN(phone_normal_form_is_a_fixed_point);
    RUN(code_shape);
    RUN(code_rejection_bound);
    RUN(code_draws_spread_evenly);
    RUN(hash_is_hmac_of_phone_nul_code);
    RUN(limit_names);
    RUN(steps_refuse_what_is_not_normalized);
    return test_summary();
}
