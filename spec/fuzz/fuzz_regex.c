/* fuzz_regex.c — arbitrary bytes through host/regex.h: a query value or a JSON string is
 * whatever a client sends (query unescaping can produce any byte), and speezy.schema counts
 * its characters with regex_utf8_length before a pattern sees it.
 *
 * Promises checked beyond the sanitizers:
 *   - regex_utf8_length accepts exactly what PCRE2's own UTF-8 check accepts (a subject
 *     matched in UTF mode is valid or REGEX_EUTF), and then counts the bytes that are not
 *     continuation bytes; a refusal names an offset inside the input;
 *   - the same bytes compiled as a pattern either compile or give an error text that ends in
 *     " at offset N" within the buffer;
 *   - a catastrophic pattern on these bytes ends as a match, a no-match, REGEX_ELIMIT or
 *     REGEX_EUTF (libFuzzer's timeout catches a match that runs on). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "regex.h"

static regex_pattern_t *any_text, *catastrophic;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[REGEX_ERROR_SIZE];
    if (!any_text) {
        any_text = regex_compile("", 0, err);
        catastrophic = regex_compile("^(a+|\\w+)+$", 12, err);
        PROMISE(any_text && catastrophic);
    }
    const char *s = (const char *)data;

    size_t bad = (size_t)-1;
    long n = regex_utf8_length(s, size, &bad);
    int rc = regex_match(any_text, s, size);
    if (n < 0) {
        PROMISE(rc == REGEX_EUTF);
        PROMISE(bad < size);
        PROMISE(regex_utf8_length(s, bad, NULL) >= 0); /* everything before it is valid */
    } else {
        PROMISE(rc == REGEX_MATCH);
        long lead = 0;
        for (size_t i = 0; i < size; i++)
            lead += (data[i] & 0xc0) != 0x80;
        PROMISE(n == lead);
    }

    regex_pattern_t *re = regex_compile(s, size, err);
    if (re) {
        regex_free(re);
    } else {
        size_t len = strnlen(err, sizeof(err));
        PROMISE(len < sizeof(err) && strstr(err, " at offset ") != NULL);
    }

    rc = regex_match(catastrophic, s, size);
    PROMISE(rc == REGEX_MATCH || rc == REGEX_NOMATCH || rc == REGEX_ELIMIT || rc == REGEX_EUTF);
    return 0;
}
