/* graphql_int.h — what the GraphQL lexer (graphql_lex.c) and parser (graphql.c) share: the
 * tokens, the parser's state, and the arena and error helpers both call. Not for other files. */
#ifndef SPEEZY_GRAPHQL_INT_H
#define SPEEZY_GRAPHQL_INT_H

#include <setjmp.h>
#include <stddef.h>

/* Included after graphql.h (not from here: the subsystem's public header stays its top). */
#ifndef SPEEZY_GRAPHQL_H
#error "include graphql.h before graphql_int.h"
#endif

/* ---- Tokens ---- */

typedef enum {
    GQL_T_EOF,
    GQL_T_BANG,
    GQL_T_DOLLAR,
    GQL_T_AMP,
    GQL_T_PAREN_L,
    GQL_T_PAREN_R,
    GQL_T_SPREAD,
    GQL_T_COLON,
    GQL_T_EQUALS,
    GQL_T_AT,
    GQL_T_BRACKET_L,
    GQL_T_BRACKET_R,
    GQL_T_BRACE_L,
    GQL_T_PIPE,
    GQL_T_BRACE_R,
    GQL_T_NAME,
    GQL_T_INT,
    GQL_T_FLOAT,
    GQL_T_STRING,
    GQL_T_BLOCK_STRING,
} gql_tok_kind_t;

typedef struct {
    gql_tok_kind_t kind;
    size_t start;
    unsigned line, column;
    const char *value; /* a name or number in the text; a string unescaped, in the arena */
    size_t value_len;
} gql_token_t;

/* Where the lexer stands; the column of a position is its distance from the line's start in
 * code points, so the UTF-8 continuation bytes met on the line are counted apart. */
typedef struct {
    size_t pos, line_start, line_cont;
    unsigned line;
} gql_lexer_t;

typedef struct {
    const unsigned char *src;
    size_t len;
    gql_doc_t *doc;
    gql_lexer_t lx;
    gql_token_t tok;
    int has_ahead;
    gql_lexer_t lx_ahead;
    gql_token_t ahead;
    unsigned depth, max_depth, tokens, max_tokens;
    gql_error_t *err;
    jmp_buf unwind;
} gql_parser_t;

/* Records the error at pos and unwinds the parse (longjmp to gql_run). */
void gql_fail_at(gql_parser_t *p, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));
void *gql_alloc(gql_parser_t *p, size_t n);
const char *gql_strndup(gql_parser_t *p, const char *s, size_t n);
/* The next token at lx into t. */
void gql_lex(gql_parser_t *p, gql_lexer_t *lx, gql_token_t *t);

#endif
