/* regex.h — the regular expressions of speezy.schema's `pattern` rule, over PCRE2, and the
 * character count its minLength / maxLength use.
 *
 * Patterns are PCRE2 in UTF mode, so a pattern a schema declares is the one the OpenAPI
 * document publishes and a character is a code point for both the pattern and the lengths.
 * A match runs under a budget (match, depth and heap limits): a pattern prone to catastrophic
 * backtracking on a long hostile subject ends with REGEX_ELIMIT instead of holding the
 * worker's loop. Pure C with no Lua; host/bind/bind_regex.c wraps it. A compiled pattern
 * holds its own match scratch, so one thread at a time (a worker is one thread). */
#ifndef SPEEZY_REGEX_H
#define SPEEZY_REGEX_H

#include <stddef.h>

/* How many backtracking steps one match may take: a legitimate pattern on a subject of some
 * thousand characters needs a few thousand; a catastrophic one reaches this in milliseconds. */
#define REGEX_MATCH_LIMIT 200000
/* How deep the interpreter's backtracking may nest, and the heap (KiB) its frames may use. */
#define REGEX_DEPTH_LIMIT 10000
#define REGEX_HEAP_LIMIT_KIB 4096
/* Room for a compile error: PCRE2's message plus " at offset N". */
#define REGEX_ERROR_SIZE 256

enum {
    REGEX_MATCH = 1,
    REGEX_NOMATCH = 0,
    REGEX_ELIMIT = -1, /* the budget ran out: neither a match nor a no-match */
    REGEX_EUTF = -2,   /* the subject is not valid UTF-8 */
    REGEX_EFAIL = -3,  /* anything else PCRE2 refused (out of memory) */
};

typedef struct regex_pattern regex_pattern_t;

/* Compiles pattern[0..len) once; NULL with the reason in err ("missing closing parenthesis
 * at offset 3") when it is not a valid PCRE2 pattern or memory ran out. */
regex_pattern_t *regex_compile(const char *pattern, size_t len, char err[REGEX_ERROR_SIZE]);

/* Whether the pattern matches somewhere in subject[0..len) (anchors are the pattern's own,
 * as in JSON Schema): REGEX_MATCH, REGEX_NOMATCH, or a negative REGEX_E* code. */
int regex_match(regex_pattern_t *re, const char *subject, size_t len);

void regex_free(regex_pattern_t *re);

/* The number of characters (code points) in s[0..len) when it is valid UTF-8 (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF); otherwise -1, with the offset of the
 * first byte of the first bad sequence in *bad when bad is not NULL. */
long regex_utf8_length(const char *s, size_t len, size_t *bad);

#endif
