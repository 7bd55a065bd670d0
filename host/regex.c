/* regex.c — PCRE2 patterns with a match budget, and UTF-8 character counting (regex.h). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct regex_pattern {
    pcre2_code *code;
    pcre2_match_data *md;      /* one ovector pair: the schema asks "does it match", not where */
    pcre2_match_context *mctx; /* the budget */
};

void regex_free(regex_pattern_t *re)
{
    if (!re)
        return;
    pcre2_match_data_free(re->md);
    pcre2_match_context_free(re->mctx);
    pcre2_code_free(re->code);
    free(re);
}

regex_pattern_t *regex_compile(const char *pattern, size_t len, char err[REGEX_ERROR_SIZE])
{
    regex_pattern_t *re = calloc(1, sizeof(*re));
    if (!re) {
        snprintf(err, REGEX_ERROR_SIZE, "out of memory");
        return NULL;
    }
    int code;
    PCRE2_SIZE offset;
    /* UTF: the pattern and the subject are text, one character per code point. \C would
     * split a character, so it is refused. */
    re->code = pcre2_compile((PCRE2_SPTR)pattern, len, PCRE2_UTF | PCRE2_NEVER_BACKSLASH_C, &code,
                             &offset, NULL);
    if (!re->code) {
        char msg[REGEX_ERROR_SIZE - 32]; /* leaves room for " at offset N" */
        if (pcre2_get_error_message(code, (PCRE2_UCHAR *)msg, sizeof(msg)) < 0)
            snprintf(msg, sizeof(msg), "error %d", code);
        snprintf(err, REGEX_ERROR_SIZE, "%s at offset %zu", msg, (size_t)offset);
        regex_free(re);
        return NULL;
    }
    /* The JIT is several times faster; where it is unavailable the interpreter serves. Both
     * honour the match limit. */
    pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
    re->md = pcre2_match_data_create(1, NULL);
    re->mctx = pcre2_match_context_create(NULL);
    if (!re->md || !re->mctx) {
        snprintf(err, REGEX_ERROR_SIZE, "out of memory");
        regex_free(re);
        return NULL;
    }
    pcre2_set_match_limit(re->mctx, REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(re->mctx, REGEX_HEAP_LIMIT_KIB);
    return re;
}

int regex_match(regex_pattern_t *re, const char *subject, size_t len)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, len, 0, 0, re->md, re->mctx);
    if (rc >= 0)
        return REGEX_MATCH;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return REGEX_NOMATCH;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return REGEX_ELIMIT;
    default:
        /* PCRE2's UTF-8 errors are the range -3 (UTF8_ERR1) .. -23 (UTF8_ERR21). */
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
            return REGEX_EUTF;
        return REGEX_EFAIL;
    }
}

/* The length of the valid UTF-8 sequence that starts at s[0] (len bytes available), or 0.
 * The ranges of the second byte are RFC 3629's table: they exclude overlong forms (E0 80..9F,
 * F0 80..8F), surrogates (ED A0..BF) and code points past U+10FFFF (F4 90.., F5..FF). */
static size_t regex_utf8_seq(const unsigned char *s, size_t len)
{
    unsigned char b = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf)
        n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        if (b == 0xe0)
            lo = 0xa0;
        else if (b == 0xed)
            hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        if (b == 0xf0)
            lo = 0x90;
        else if (b == 0xf4)
            hi = 0x8f;
    } else
        return 0;
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return n;
}

long regex_utf8_length(const char *text, size_t len, size_t *bad)
{
    const unsigned char *s = (const unsigned char *)text;
    long count = 0;
    size_t i = 0;
    while (i < len) {
        /* Most text is ASCII: eight bytes at a time while no high bit is set. */
        while (len - i >= 8) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
            count += 8;
        }
        if (i == len)
            break;
        size_t n = regex_utf8_seq(s + i, len - i);
        if (n == 0) {
            if (bad)
                *bad = i;
            return -1;
        }
        i += n;
        count++;
    }
    return count;
}
