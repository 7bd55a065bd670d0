/* test_regex.c — regex.c: PCRE2 compile errors with their offset, matches and no-matches in
 * UTF mode, the match budget ending a catastrophic pattern on a long subject, subjects that
 * are not UTF-8, and the UTF-8 character count (RFC 3629's ranges) minLength relies on. */
#include <stdlib.h>
#include <string.h>

#include "regex.h"
#include "test.h"

static int match(const char *pattern, const char *subject)
{
    char err[REGEX_ERROR_SIZE];
    regex_pattern_t *re = regex_compile(pattern, strlen(pattern), err);
    if (!re)
        return -100;
    int rc = regex_match(re, subject, strlen(subject));
    regex_free(re);
    return rc;
}

TEST(compile_error_names_the_reason_and_offset)
{
    char err[REGEX_ERROR_SIZE] = "";
    CHECK(regex_compile("^(ab$", 5, err) == NULL);
    CHECK_STR(err, "missing closing parenthesis at offset 5");
    CHECK(regex_compile("a{2,1}", 6, err) == NULL);
    CHECK(strstr(err, "out of order") != NULL && strstr(err, "at offset 5") != NULL);
    /* \C splits a character: refused in a text pattern. */
    CHECK(regex_compile("a\\Cb", 4, err) == NULL);
    CHECK(strstr(err, "\\C") != NULL);
}

TEST(match_and_no_match)
{
    CHECK(match("^[0-9]{6}$", "560001") == REGEX_MATCH);
    CHECK(match("^[0-9]{6}$", "56000") == REGEX_NOMATCH);
    CHECK(match("^[0-9]{6}$", "5600011") == REGEX_NOMATCH);
    /* Unanchored, as in JSON Schema: matches anywhere. */
    CHECK(match("[0-9]", "abc7") == REGEX_MATCH);
    CHECK(match("[0-9]", "") == REGEX_NOMATCH);
    /* A character is a code point: "é" is one "." */
    CHECK(match("^.{3}$", "\xc3\xa9\xc3\xa9\xc3\xa9") == REGEX_MATCH);
    CHECK(match("^.{2}$", "\xf0\x9f\x98\x80x") == REGEX_MATCH);
    /* The subject's length is given, not found by strlen: an embedded NUL is text. */
    char err[REGEX_ERROR_SIZE];
    regex_pattern_t *re = regex_compile("^a\\x00b$", 8, err);
    CHECK(re != NULL);
    if (re) {
        CHECK(regex_match(re, "a\0b", 3) == REGEX_MATCH);
        CHECK(regex_match(re, "a\0b", 1) == REGEX_NOMATCH);
        regex_free(re);
    }
}

TEST(match_limit_ends_a_catastrophic_pattern)
{
    /* (a+)+$ against "aaa...a!" tries every split of the a's: 2^60 ways without a budget. */
    size_t n = 60;
    char *subject = malloc(n + 2);
    CHECK(subject != NULL);
    if (!subject)
        return;
    memset(subject, 'a', n);
    subject[n] = '!';
    subject[n + 1] = '\0';
    CHECK(match("^(a+)+$", subject) == REGEX_ELIMIT);
    CHECK(match("^(a|aa)+$", subject) == REGEX_ELIMIT);
    /* The budget is REGEX_MATCH_LIMIT, not PCRE2's default of ten million steps: with 20 a's
     * the search needs about a million, and would end as a plain no-match under the default. */
    CHECK(match("^(a+)+$", "aaaaaaaaaaaaaaaaaaaa!") == REGEX_ELIMIT);
    CHECK(match("^(a+)+$", "aaaaaaaaaaaaaaa!") == REGEX_NOMATCH);
    /* The same pattern on a subject it matches at once is fine. */
    subject[n] = '\0';
    CHECK(match("^(a+)+$", subject) == REGEX_MATCH);
    free(subject);
}

TEST(a_legitimate_pattern_on_a_long_subject_stays_within_budget)
{
    size_t n = 100000;
    char *subject = malloc(n + 1);
    CHECK(subject != NULL);
    if (!subject)
        return;
    for (size_t i = 0; i < n; i++)
        subject[i] = (char)('a' + i % 26);
    subject[n] = '\0';
    CHECK(match("^[a-z]+$", subject) == REGEX_MATCH);
    CHECK(match("^[a-z ]*[0-9]$", subject) == REGEX_NOMATCH);
    free(subject);
}

TEST(invalid_utf8_subject)
{
    CHECK(match("^.*$", "ab\xff") == REGEX_EUTF);
    CHECK(match("x", "\xc3") == REGEX_EUTF);
    CHECK(match("x", "\xed\xa0\x80") == REGEX_EUTF); /* a surrogate */
}

static long len_of(const char *s, size_t *bad)
{
    return regex_utf8_length(s, strlen(s), bad);
}

TEST(utf8_length_counts_code_points)
{
    size_t bad = 99;
    CHECK(len_of("", &bad) == 0);
    CHECK(len_of("hello", &bad) == 5);
    CHECK(len_of("\xc3\xa9\xc3\xa9\xc3\xa9", &bad) == 3);            /* é x 3 */
    CHECK(len_of("\xf0\x9f\x98\x80", &bad) == 1);                    /* one emoji, 4 bytes */
    CHECK(len_of("\xe2\x82\xac 12345678 \xe2\x82\xac", &bad) == 12); /* ASCII runs of 8+ */
    CHECK(len_of("\xf4\x8f\xbf\xbf", &bad) == 1);                    /* U+10FFFF, the last */
    CHECK(bad == 99);
    CHECK(regex_utf8_length("a\0b", 3, NULL) == 3);
}

TEST(utf8_length_refuses_what_rfc_3629_refuses)
{
    static const struct {
        const char *s;
        size_t bad;
    } cases[] = {
        {"abc\xff", 3},          /* never in UTF-8 */
        {"\x80", 0},             /* a lone continuation byte */
        {"ab\xc3", 2},           /* truncated */
        {"\xc0\xaf", 0},         /* overlong "/" */
        {"\xe0\x80\xaf", 0},     /* overlong, 3 bytes */
        {"\xf0\x80\x80\xaf", 0}, /* overlong, 4 bytes */
        {"x\xed\xa0\x80", 1},    /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 0}, /* past U+10FFFF */
        {"\xf5\x80\x80\x80", 0},
        {"12345678\xe2\x82x", 8}, /* bad continuation after an ASCII run */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t bad = 99;
        long n = len_of(cases[i].s, &bad);
        if (n != -1 || bad != cases[i].bad)
            fprintf(stderr, "  case %zu: %ld, bad at %zu\n", i, n, bad);
        CHECK(n == -1 && bad == cases[i].bad);
    }
}

int main(void)
{
    RUN(compile_error_names_the_reason_and_offset);
    RUN(match_and_no_match);
    RUN(match_limit_ends_a_catastrophic_pattern);
    RUN(a_legitimate_pattern_on_a_long_subject_stays_within_budget);
    RUN(invalid_utf8_subject);
    RUN(utf8_length_counts_code_points);
    RUN(utf8_length_refuses_what_rfc_3629_refuses);
    return test_summary();
}
