/* fuzz_phone.c — arbitrary bytes as a phone number (host/otp.h, otp_normalize_phone): a login
 * body's "phone" is whatever a client sends, and what normalization lets through becomes a
 * Redis key, a users.phone row (migrations/0002: CHECK phone ~ '^\+?[0-9]{6,15}$') and an
 * SMS recipient.
 *
 * Promises checked beyond the sanitizers:
 *   - an accepted text gives "+" and 8 to 15 digits, the first not 0 (E.164);
 *   - the input held only digits, "+", spaces, hyphens and parentheses, at most one "+" and
 *     none after a digit, and the output's digits are the input's, in order (with "91" in
 *     front when there was no "+", and then exactly 10 of them, the first 6 to 9);
 *   - normalizing the output again gives the output (one stored form per phone);
 *   - a refused text is refused again (no hidden state), and nothing is written past the
 *     output's terminating NUL.
 * A broken promise traps (PROMISE, fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "otp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    char out[OTP_PHONE_SIZE + 8];
    memset(out, 'x', sizeof(out));
    if (otp_normalize_phone(in, size, out) != OTP_OK) {
        char again[OTP_PHONE_SIZE];
        PROMISE(otp_normalize_phone(in, size, again) == OTP_EINVAL);
        return 0;
    }
    size_t n = strlen(out);
    PROMISE(n <= OTP_PHONE_SIZE - 1);
    for (size_t i = n + 1; i < sizeof(out); i++)
        PROMISE(out[i] == 'x');
    PROMISE(out[0] == '+' && n >= 9 && n <= 16 && out[1] != '0');
    for (size_t i = 1; i < n; i++)
        PROMISE(out[i] >= '0' && out[i] <= '9');

    char digits[OTP_PHONE_INPUT_MAX + 1];
    size_t nd = 0;
    int plus = 0;
    PROMISE(size <= OTP_PHONE_INPUT_MAX);
    for (size_t i = 0; i < size; i++) {
        char c = in[i];
        if (c == '+') {
            PROMISE(!plus && nd == 0);
            plus = 1;
        } else if (c >= '0' && c <= '9') {
            digits[nd++] = c;
        } else {
            PROMISE(c == ' ' || c == '-' || c == '(' || c == ')');
        }
    }
    if (plus) {
        PROMISE(nd == n - 1 && memcmp(digits, out + 1, nd) == 0);
    } else {
        PROMISE(nd == 10 && digits[0] >= '6' && memcmp(out, "+91", 3) == 0 &&
                memcmp(out + 3, digits, 10) == 0);
    }
    if (memcmp(out, "+91", 3) == 0)
        PROMISE(n == 13 && out[3] >= '6');

    char twice[OTP_PHONE_SIZE];
    PROMISE(otp_normalize_phone(out, n, twice) == OTP_OK && strcmp(twice, out) == 0);
    return 0;
}
