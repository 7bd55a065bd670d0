/* graphql.c — the GraphQL lexer and recursive-descent parser (graphql.h says what it promises).
 *
 * An error anywhere (lexer, parser, limit, memory) fills the caller's gql_error_t and unwinds to
 * gql_parse with longjmp: every allocation of a parse is in its arena, so unwinding leaks
 * nothing, and no production needs an error path of its own. */
#include "graphql.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Arena: the nodes and strings of one parse, freed together ---- */

#define GQL_CHUNK_MIN 65536

typedef struct gql_chunk {
    struct gql_chunk *prev;
    size_t used, size;
    _Alignas(16) unsigned char data[];
} gql_chunk_t;

/* Chunks of the usual size that recent parses freed, kept for the next parse of this thread
 * (up to GQL_SPARE_MAX): handing them back to malloc lets it return the pages to the system,
 * and faulting them in again cost a 16 KB document 6 ms instead of 0.1 ms. */
#define GQL_SPARE_MAX (4u << 20)
static _Thread_local gql_chunk_t *gql_spare;
static _Thread_local size_t gql_spare_bytes;

struct gql_doc {
    gql_chunk_t *chunks;
    gql_node_t *root;
};

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

/* How graphql-js names a token kind in its messages: punctuators quoted, the others by name. */
static const char *const gql_tok_desc[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};

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

static void gql_fail_at(gql_parser_t *p, int code, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5), noreturn));

static void gql_fail_at(gql_parser_t *p, int code, size_t pos, const char *fmt, ...)
{
    gql_error_t *e = p->err;
    e->code = code;
    e->line = 1;
    e->column = 1;
    for (size_t i = 0; i < pos && i < p->len; i++) {
        unsigned char c = p->src[i];
        if (c == '\n' || (c == '\r' && !(i + 1 < p->len && p->src[i + 1] == '\n'))) {
            e->line++;
            e->column = 1;
        } else if (c != '\r' && (c & 0xC0) != 0x80) {
            e->column++;
        }
    }
    int n = snprintf(e->message, sizeof e->message, "Syntax Error: ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message + n, sizeof e->message - (size_t)n, fmt, ap);
    va_end(ap);
    longjmp(p->unwind, 1);
}

static void *gql_alloc(gql_parser_t *p, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    gql_chunk_t *c = p->doc->chunks;
    if (!c || c->size - c->used < n) {
        size_t size = n > GQL_CHUNK_MIN ? n : GQL_CHUNK_MIN;
        if (size == GQL_CHUNK_MIN && gql_spare) {
            c = gql_spare;
            gql_spare = c->prev;
            gql_spare_bytes -= GQL_CHUNK_MIN;
        } else {
            c = malloc(sizeof *c + size);
        }
        if (!c)
            gql_fail_at(p, GQL_ENOMEM, p->tok.start, "Out of memory. Parsing aborted.");
        c->prev = p->doc->chunks;
        c->used = 0;
        c->size = size;
        p->doc->chunks = c;
    }
    void *at = c->data + c->used;
    c->used += n;
    return at;
}

static const char *gql_strndup(gql_parser_t *p, const char *s, size_t n)
{
    char *d = gql_alloc(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- Lexer ---- */

/* The code point of the UTF-8 sequence at s (n bytes left): its length, 0 when it is not valid
 * UTF-8 (overlong, a surrogate, past U+10FFFF, cut short). */
static int gql_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    int len = s[0] < 0x80   ? 1
              : s[0] < 0xC2 ? 0
              : s[0] < 0xE0 ? 2
              : s[0] < 0xF0 ? 3
              : s[0] < 0xF5 ? 4
                            : 0;
    if (!len || (size_t)len > n)
        return 0;
    uint32_t c = len == 1 ? s[0] : s[0] & (0x7F >> len);
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < least[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* The character at pos as graphql-js prints it in a message: "a", '"', U+0007 or <EOF>. */
static const char *gql_char_desc(gql_parser_t *p, size_t pos, char *buf, size_t n)
{
    uint32_t cp;
    if (pos >= p->len)
        return "<EOF>";
    if (!gql_utf8(p->src + pos, p->len - pos, &cp))
        snprintf(buf, n, "byte 0x%02X", p->src[pos]);
    else if (cp == '"')
        snprintf(buf, n, "'\"'");
    else if (cp >= 0x20 && cp <= 0x7E)
        snprintf(buf, n, "\"%c\"", (char)cp);
    else
        snprintf(buf, n, "U+%04X", (unsigned)cp);
    return buf;
}

/* The length of the character at pos for a message: its UTF-8 length, 1 for a stray byte. */
static int gql_char_len(gql_parser_t *p, size_t pos)
{
    uint32_t cp;
    int n = pos < p->len ? gql_utf8(p->src + pos, p->len - pos, &cp) : 0;
    return pos >= p->len ? 0 : n ? n : 1;
}

static int gql_is_name_start(unsigned char c)
{
    return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int gql_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char gql_at(const gql_parser_t *p, size_t pos)
{
    return pos < p->len ? p->src[pos] : 0;
}

static void gql_newline(gql_lexer_t *lx, size_t next)
{
    lx->line++;
    lx->line_start = next;
    lx->line_cont = 0;
}

/* A character of a string, block string or comment at pos that is not ASCII: its length when
 * it is a SourceCharacter, counting its continuation bytes for the column; 0 when not. */
static int gql_lex_wide(gql_parser_t *p, gql_lexer_t *lx, size_t pos)
{
    uint32_t cp;
    int n = gql_utf8(p->src + pos, p->len - pos, &cp);
    if (n)
        lx->line_cont += (size_t)n - 1;
    return n;
}

/* A SourceCharacter of the October 2021 specification: tab, the line terminators, and U+0020
 * on; the other control characters are refused everywhere. */
static int gql_is_source_ascii(unsigned char c)
{
    return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
}

static size_t gql_lex_digits(gql_parser_t *p, size_t pos)
{
    char b[16];
    if (!gql_is_digit(gql_at(p, pos)))
        gql_fail_at(p, GQL_ESYNTAX, pos, "Invalid number, expected digit but got: %s.",
                    gql_char_desc(p, pos, b, sizeof b));
    while (gql_is_digit(gql_at(p, pos)))
        pos++;
    return pos;
}

static size_t gql_lex_number(gql_parser_t *p, size_t pos, gql_token_t *t)
{
    char b[16];
    int is_float = 0;
    if (gql_at(p, pos) == '-')
        pos++;
    if (gql_at(p, pos) == '0') {
        pos++;
        if (gql_is_digit(gql_at(p, pos)))
            gql_fail_at(p, GQL_ESYNTAX, pos, "Invalid number, unexpected digit after 0: %s.",
                        gql_char_desc(p, pos, b, sizeof b));
    } else {
        pos = gql_lex_digits(p, pos);
    }
    if (gql_at(p, pos) == '.') {
        is_float = 1;
        pos = gql_lex_digits(p, pos + 1);
    }
    if (gql_at(p, pos) == 'e' || gql_at(p, pos) == 'E') {
        is_float = 1;
        pos++;
        if (gql_at(p, pos) == '+' || gql_at(p, pos) == '-')
            pos++;
        pos = gql_lex_digits(p, pos);
    }
    /* a number is never followed by a dot or a name: `1.2.3` and `0x1` are refused */
    if (gql_at(p, pos) == '.' || gql_is_name_start(gql_at(p, pos)))
        gql_fail_at(p, GQL_ESYNTAX, pos, "Invalid number, expected digit but got: %s.",
                    gql_char_desc(p, pos, b, sizeof b));
    t->kind = is_float ? GQL_T_FLOAT : GQL_T_INT;
    t->value = (const char *)p->src + t->start;
    t->value_len = pos - t->start;
    return pos;
}

static int gql_hex(unsigned char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* The four hex digits at pos as a number, -1 when they are not four hex digits. */
static long gql_hex4(gql_parser_t *p, size_t pos)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = gql_hex(gql_at(p, pos + (size_t)i));
        if (h < 0)
            return -1;
        v = v << 4 | h;
    }
    return v;
}

/* The code point of the \u escape at pos (the backslash), a surrogate pair read as one; *len
 * is the escape's length. A lone or misordered surrogate is refused as graphql-js refuses it. */
static uint32_t gql_lex_unicode(gql_parser_t *p, size_t pos, size_t *len)
{
    long c = gql_hex4(p, pos + 2);
    *len = 6;
    if (c >= 0 && (c < 0xD800 || c > 0xDFFF))
        return (uint32_t)c;
    if (c >= 0xD800 && c <= 0xDBFF && gql_at(p, pos + 6) == '\\' && gql_at(p, pos + 7) == 'u') {
        long lo = gql_hex4(p, pos + 8);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
            *len = 12;
            return 0x10000 + (((uint32_t)c - 0xD800) << 10) + ((uint32_t)lo - 0xDC00);
        }
    }
    size_t n = pos + 6 <= p->len ? 6 : p->len - pos;
    gql_fail_at(p, GQL_ESYNTAX, pos, "Invalid Unicode escape sequence: \"%.*s\".", (int)n,
                (const char *)p->src + pos);
}

static size_t gql_put_utf8(char *out, uint32_t c)
{
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xC0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xE0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3F));
        out[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3F));
    out[2] = (char)(0x80 | (c >> 6 & 0x3F));
    out[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* A "string" from its opening quote at pos: checked first, then unescaped into the arena (the
 * unescaped value is never longer than its text). */
static size_t gql_lex_string(gql_parser_t *p, gql_lexer_t *lx, size_t pos, gql_token_t *t)
{
    static const char escapes[] = "\"\"\\\\//b\bf\fn\nr\rt\t";
    char b[16];
    int w;
    size_t i = pos + 1;
    for (;;) {
        if (i >= p->len || p->src[i] == '\n' || p->src[i] == '\r')
            gql_fail_at(p, GQL_ESYNTAX, i, "Unterminated string.");
        unsigned char c = p->src[i];
        if (c == '"')
            break;
        if (c == '\\') {
            unsigned char e = gql_at(p, i + 1);
            size_t n = 2;
            if (e == 'u')
                gql_lex_unicode(p, i, &n);
            else if (!e || !strchr("\"\\/bfnrt", e))
                gql_fail_at(p, GQL_ESYNTAX, i, "Invalid character escape sequence: \"%.*s\".",
                            1 + gql_char_len(p, i + 1), (const char *)p->src + i);
            i += n;
        } else if (c < 0x80 && gql_is_source_ascii(c)) {
            i++;
        } else if (c >= 0x80 && (w = gql_lex_wide(p, lx, i)) > 0) {
            i += (size_t)w;
        } else {
            gql_fail_at(p, GQL_ESYNTAX, i, "Invalid character within String: %s.",
                        gql_char_desc(p, i, b, sizeof b));
        }
    }
    char *out = gql_alloc(p, i - pos);
    size_t n = 0;
    for (size_t j = pos + 1; j < i;) {
        if (p->src[j] != '\\') {
            out[n++] = (char)p->src[j++];
        } else if (p->src[j + 1] == 'u') {
            size_t len;
            n += gql_put_utf8(out + n, gql_lex_unicode(p, j, &len));
            j += len;
        } else {
            out[n++] = strchr(escapes, p->src[j + 1])[1];
            j += 2;
        }
    }
    out[n] = '\0';
    t->kind = GQL_T_STRING;
    t->value = out;
    t->value_len = n;
    return i + 1;
}

static size_t gql_indent(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* The next line of raw (n bytes) from *at: its length; *at moves past its terminator. */
static size_t gql_next_line(const char *raw, size_t n, size_t *at, int *more)
{
    size_t s = *at, i = s;
    while (i < n && raw[i] != '\n' && raw[i] != '\r')
        i++;
    *more = i < n;
    *at = i < n ? i + (raw[i] == '\r' && i + 1 < n && raw[i + 1] == '\n' ? 2 : 1) : n;
    return i - s;
}

/* The block string's value: its lines without their common indentation (the smallest of the
 * lines after the first that are not blank), and without blank lines at its start and end. */
static size_t gql_dedent(const char *raw, size_t n, char *out)
{
    size_t common = SIZE_MAX, at = 0, first = SIZE_MAX, last = 0, len, o = 0;
    int more = 1;
    for (size_t i = 0; more; i++) {
        size_t s = at;
        len = gql_next_line(raw, n, &at, &more);
        size_t ind = gql_indent(raw + s, len);
        if (ind == len)
            continue;
        if (first == SIZE_MAX)
            first = i;
        last = i;
        if (i && ind < common)
            common = ind;
    }
    if (first == SIZE_MAX)
        return 0;
    at = 0;
    more = 1;
    for (size_t i = 0; more && i <= last; i++) {
        size_t s = at;
        len = gql_next_line(raw, n, &at, &more);
        if (i < first)
            continue;
        size_t cut = i == 0 ? 0 : common < len ? common : len;
        if (i > first)
            out[o++] = '\n';
        memcpy(out + o, raw + s + cut, len - cut);
        o += len - cut;
    }
    return o;
}

/* A """block string""" from its opening quotes at pos; only \""" is an escape in it. */
static size_t gql_lex_block_string(gql_parser_t *p, gql_lexer_t *lx, size_t pos, gql_token_t *t)
{
    char b[16];
    int w;
    size_t i = pos + 3;
    for (;;) {
        if (i >= p->len)
            gql_fail_at(p, GQL_ESYNTAX, i, "Unterminated string.");
        unsigned char c = p->src[i];
        if (c == '"' && gql_at(p, i + 1) == '"' && gql_at(p, i + 2) == '"')
            break;
        if (c == '\\' && gql_at(p, i + 1) == '"' && gql_at(p, i + 2) == '"' &&
            gql_at(p, i + 3) == '"') {
            i += 4;
        } else if (c == '\n' || c == '\r') {
            i += c == '\r' && gql_at(p, i + 1) == '\n' ? 2 : 1;
            gql_newline(lx, i);
        } else if (c < 0x80 && gql_is_source_ascii(c)) {
            i++;
        } else if (c >= 0x80 && (w = gql_lex_wide(p, lx, i)) > 0) {
            i += (size_t)w;
        } else {
            gql_fail_at(p, GQL_ESYNTAX, i, "Invalid character within String: %s.",
                        gql_char_desc(p, i, b, sizeof b));
        }
    }
    char *raw = gql_alloc(p, i - pos + 1), *out = gql_alloc(p, i - pos + 1);
    size_t n = 0;
    for (size_t j = pos + 3; j < i;) {
        if (p->src[j] == '\\' && memcmp(p->src + j + 1, "\"\"\"", 3) == 0) {
            memcpy(raw + n, "\"\"\"", 3);
            n += 3;
            j += 4;
        } else {
            raw[n++] = (char)p->src[j++];
        }
    }
    size_t len = gql_dedent(raw, n, out);
    out[len] = '\0';
    t->kind = GQL_T_BLOCK_STRING;
    t->value = out;
    t->value_len = len;
    return i + 3;
}

/* The next token from lx into t, skipping what the specification ignores. */
static void gql_lex(gql_parser_t *p, gql_lexer_t *lx, gql_token_t *t)
{
    static const char punct[] = "!$&()\0:=@[]{|}";
    char b[16];
    int w;
    size_t pos = lx->pos;
    for (;;) {
        unsigned char c = gql_at(p, pos);
        if (pos >= p->len)
            break;
        if (c == ' ' || c == '\t' || c == ',') {
            pos++;
        } else if (c == '\n' || c == '\r') {
            pos += c == '\r' && gql_at(p, pos + 1) == '\n' ? 2 : 1;
            gql_newline(lx, pos);
        } else if (c == 0xEF && gql_at(p, pos + 1) == 0xBB && gql_at(p, pos + 2) == 0xBF) {
            pos += 3; /* the byte order mark */
            lx->line_cont += 2;
        } else if (c == '#') {
            /* a comment runs to the line's end, or to a character that is no SourceCharacter */
            pos++;
            while (pos < p->len && p->src[pos] != '\n' && p->src[pos] != '\r') {
                if (p->src[pos] < 0x80 && gql_is_source_ascii(p->src[pos]))
                    pos++;
                else if (p->src[pos] >= 0x80 && (w = gql_lex_wide(p, lx, pos)) > 0)
                    pos += (size_t)w;
                else
                    break;
            }
            if (pos < p->len && p->src[pos] != '\n' && p->src[pos] != '\r')
                break;
        } else {
            break;
        }
    }
    t->start = pos;
    t->line = lx->line;
    t->column = (unsigned)(pos - lx->line_start - lx->line_cont + 1);
    t->value = NULL;
    t->value_len = 0;
    unsigned char c = gql_at(p, pos);
    const char *pu = c ? memchr(punct, c, sizeof punct - 1) : NULL;
    if (pos >= p->len) {
        t->kind = GQL_T_EOF;
    } else if (pu) {
        static const gql_tok_kind_t kinds[] = {
            GQL_T_BANG,      GQL_T_DOLLAR,  GQL_T_AMP,    GQL_T_PAREN_L, GQL_T_PAREN_R,
            GQL_T_SPREAD,    GQL_T_COLON,   GQL_T_EQUALS, GQL_T_AT,      GQL_T_BRACKET_L,
            GQL_T_BRACKET_R, GQL_T_BRACE_L, GQL_T_PIPE,   GQL_T_BRACE_R,
        };
        t->kind = kinds[pu - punct];
        pos++;
    } else if (c == '.' && gql_at(p, pos + 1) == '.' && gql_at(p, pos + 2) == '.') {
        t->kind = GQL_T_SPREAD;
        pos += 3;
    } else if (gql_is_name_start(c)) {
        size_t s = pos;
        while (gql_is_name_start(gql_at(p, pos)) || gql_is_digit(gql_at(p, pos)))
            pos++;
        t->kind = GQL_T_NAME;
        t->value = (const char *)p->src + s;
        t->value_len = pos - s;
    } else if (gql_is_digit(c) || c == '-') {
        pos = gql_lex_number(p, pos, t);
    } else if (c == '"' && gql_at(p, pos + 1) == '"' && gql_at(p, pos + 2) == '"') {
        pos = gql_lex_block_string(p, lx, pos, t);
    } else if (c == '"') {
        pos = gql_lex_string(p, lx, pos, t);
    } else if (c == '\'') {
        gql_fail_at(p, GQL_ESYNTAX, pos,
                    "Unexpected single quote character ('), did you mean to use a double quote "
                    "(\")?");
    } else {
        gql_fail_at(p, GQL_ESYNTAX, pos, "Unexpected character: %s.",
                    gql_char_desc(p, pos, b, sizeof b));
    }
    lx->pos = pos;
}

/* ---- Parser: one function per production of Appendix B ---- */

static void gql_advance(gql_parser_t *p)
{
    if (p->has_ahead) {
        p->tok = p->ahead;
        p->lx = p->lx_ahead;
        p->has_ahead = 0;
    } else {
        gql_lex(p, &p->lx, &p->tok);
    }
    if (p->tok.kind != GQL_T_EOF && ++p->tokens > p->max_tokens)
        gql_fail_at(p, GQL_ELIMIT, p->tok.start,
                    "Document contains more than %u tokens. Parsing aborted.", p->max_tokens);
}

static const gql_token_t *gql_peek_ahead(gql_parser_t *p)
{
    if (!p->has_ahead) {
        p->lx_ahead = p->lx;
        gql_lex(p, &p->lx_ahead, &p->ahead);
        p->has_ahead = 1;
    }
    return &p->ahead;
}

static const char *gql_tok_describe(const gql_token_t *t, char *buf, size_t n)
{
    if (!t->value)
        return gql_tok_desc[t->kind];
    snprintf(buf, n, "%s \"%.*s\"", gql_tok_desc[t->kind], (int)t->value_len, t->value);
    return buf;
}

static void gql_unexpected(gql_parser_t *p, const gql_token_t *t) __attribute__((noreturn));
static void gql_unexpected(gql_parser_t *p, const gql_token_t *t)
{
    char b[GQL_MESSAGE_MAX];
    gql_fail_at(p, GQL_ESYNTAX, t->start, "Unexpected %s.", gql_tok_describe(t, b, sizeof b));
}

static int gql_peek(const gql_parser_t *p, gql_tok_kind_t kind)
{
    return p->tok.kind == kind;
}

static int gql_is_keyword(const gql_token_t *t, const char *kw)
{
    size_t n = strlen(kw);
    return t->kind == GQL_T_NAME && t->value_len == n && memcmp(t->value, kw, n) == 0;
}

static int gql_optional(gql_parser_t *p, gql_tok_kind_t kind)
{
    if (!gql_peek(p, kind))
        return 0;
    gql_advance(p);
    return 1;
}

static void gql_expect(gql_parser_t *p, gql_tok_kind_t kind)
{
    char b[GQL_MESSAGE_MAX];
    if (!gql_optional(p, kind))
        gql_fail_at(p, GQL_ESYNTAX, p->tok.start, "Expected %s, found %s.", gql_tok_desc[kind],
                    gql_tok_describe(&p->tok, b, sizeof b));
}

static int gql_optional_keyword(gql_parser_t *p, const char *kw)
{
    if (!gql_is_keyword(&p->tok, kw))
        return 0;
    gql_advance(p);
    return 1;
}

static void gql_expect_keyword(gql_parser_t *p, const char *kw)
{
    char b[GQL_MESSAGE_MAX];
    if (!gql_optional_keyword(p, kw))
        gql_fail_at(p, GQL_ESYNTAX, p->tok.start, "Expected \"%s\", found %s.", kw,
                    gql_tok_describe(&p->tok, b, sizeof b));
}

static gql_node_t *gql_node(gql_parser_t *p, gql_kind_t kind, const gql_token_t *at)
{
    gql_node_t *n = gql_alloc(p, sizeof *n);
    memset(n, 0, sizeof *n);
    n->kind = kind;
    n->line = at->line;
    n->column = at->column;
    return n;
}

static void gql_push(gql_list_t *l, gql_node_t *n)
{
    if (l->last)
        l->last->next = n;
    else
        l->first = n;
    l->last = n;
    l->count++;
}

/* Opens one more level of nesting, refused past max_depth: the recursion stays bounded. */
static void gql_enter(gql_parser_t *p)
{
    if (++p->depth > p->max_depth)
        gql_fail_at(p, GQL_ELIMIT, p->tok.start,
                    "Document nests deeper than %u levels. Parsing aborted.", p->max_depth);
}

typedef gql_node_t *(*gql_item_fn)(gql_parser_t *p, int is_const);

/* open item+ close */
static void gql_many(gql_parser_t *p, gql_tok_kind_t open, gql_item_fn item, int is_const,
                     gql_tok_kind_t close, gql_list_t *out)
{
    gql_expect(p, open);
    do
        gql_push(out, item(p, is_const));
    while (!gql_optional(p, close));
}

/* (open item+ close)? */
static void gql_optional_many(gql_parser_t *p, gql_tok_kind_t open, gql_item_fn item, int is_const,
                              gql_tok_kind_t close, gql_list_t *out)
{
    if (gql_peek(p, open))
        gql_many(p, open, item, is_const, close, out);
}

/* delim? item (delim item)* */
static void gql_delimited_many(gql_parser_t *p, gql_tok_kind_t delim, gql_item_fn item,
                               gql_list_t *out)
{
    gql_optional(p, delim);
    do
        gql_push(out, item(p, 0));
    while (gql_optional(p, delim));
}

static const char *gql_parse_name(gql_parser_t *p)
{
    const gql_token_t t = p->tok;
    gql_expect(p, GQL_T_NAME);
    return gql_strndup(p, t.value, t.value_len);
}

static gql_node_t *gql_parse_named_type(gql_parser_t *p, int is_const)
{
    (void)is_const;
    gql_node_t *n = gql_node(p, GQL_NAMED_TYPE, &p->tok);
    n->name = gql_parse_name(p);
    return n;
}

static gql_node_t *gql_parse_type(gql_parser_t *p)
{
    const gql_token_t start = p->tok;
    gql_node_t *t;
    if (gql_peek(p, GQL_T_BRACKET_L)) {
        gql_enter(p);
        gql_advance(p);
        t = gql_node(p, GQL_LIST_TYPE, &start);
        t->type = gql_parse_type(p);
        gql_expect(p, GQL_T_BRACKET_R);
        p->depth--;
    } else {
        t = gql_parse_named_type(p, 0);
    }
    if (gql_optional(p, GQL_T_BANG)) {
        gql_node_t *nn = gql_node(p, GQL_NON_NULL_TYPE, &start);
        nn->type = t;
        return nn;
    }
    return t;
}

static gql_node_t *gql_parse_variable(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_VARIABLE, &p->tok);
    gql_expect(p, GQL_T_DOLLAR);
    n->name = gql_parse_name(p);
    return n;
}

static gql_node_t *gql_parse_string(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_STRING, &p->tok);
    n->text = p->tok.value;
    n->text_len = p->tok.value_len;
    n->flags = p->tok.kind == GQL_T_BLOCK_STRING ? GQL_BLOCK : 0;
    gql_advance(p);
    return n;
}

static gql_node_t *gql_parse_value(gql_parser_t *p, int is_const);

static gql_node_t *gql_parse_object_field(gql_parser_t *p, int is_const)
{
    gql_node_t *n = gql_node(p, GQL_OBJECT_FIELD, &p->tok);
    n->name = gql_parse_name(p);
    gql_expect(p, GQL_T_COLON);
    n->value = gql_parse_value(p, is_const);
    return n;
}

/* A list or an object: `[` value* `]`, `{` field* `}` (empty ones allowed). */
static gql_node_t *gql_parse_container(gql_parser_t *p, int is_const)
{
    int is_list = gql_peek(p, GQL_T_BRACKET_L);
    gql_node_t *n = gql_node(p, is_list ? GQL_LIST : GQL_OBJECT, &p->tok);
    gql_enter(p);
    gql_advance(p);
    while (!gql_optional(p, is_list ? GQL_T_BRACKET_R : GQL_T_BRACE_R))
        gql_push(&n->items,
                 is_list ? gql_parse_value(p, is_const) : gql_parse_object_field(p, is_const));
    p->depth--;
    return n;
}

static gql_node_t *gql_parse_value(gql_parser_t *p, int is_const)
{
    const gql_token_t t = p->tok;
    gql_node_t *n;
    switch (t.kind) {
    case GQL_T_BRACKET_L:
    case GQL_T_BRACE_L:
        return gql_parse_container(p, is_const);
    case GQL_T_INT:
    case GQL_T_FLOAT:
    case GQL_T_NAME:
        n = gql_node(p,
                     t.kind == GQL_T_INT                                         ? GQL_INT
                     : t.kind == GQL_T_FLOAT                                     ? GQL_FLOAT
                     : gql_is_keyword(&t, "true") || gql_is_keyword(&t, "false") ? GQL_BOOLEAN
                     : gql_is_keyword(&t, "null")                                ? GQL_NULL
                                                                                 : GQL_ENUM,
                     &t);
        if (n->kind != GQL_NULL) {
            n->text = gql_strndup(p, t.value, t.value_len);
            n->text_len = t.value_len;
        }
        gql_advance(p);
        return n;
    case GQL_T_STRING:
    case GQL_T_BLOCK_STRING:
        return gql_parse_string(p);
    case GQL_T_DOLLAR:
        if (is_const) {
            gql_advance(p);
            if (gql_peek(p, GQL_T_NAME))
                gql_fail_at(p, GQL_ESYNTAX, t.start,
                            "Unexpected variable \"$%.*s\" in constant value.",
                            (int)p->tok.value_len, p->tok.value);
            gql_unexpected(p, &t);
        }
        return gql_parse_variable(p);
    default:
        gql_unexpected(p, &t);
    }
}

static gql_node_t *gql_parse_argument(gql_parser_t *p, int is_const)
{
    gql_node_t *n = gql_node(p, GQL_ARGUMENT, &p->tok);
    n->name = gql_parse_name(p);
    gql_expect(p, GQL_T_COLON);
    n->value = gql_parse_value(p, is_const);
    return n;
}

static void gql_parse_directives(gql_parser_t *p, int is_const, gql_list_t *out)
{
    while (gql_peek(p, GQL_T_AT)) {
        gql_node_t *d = gql_node(p, GQL_DIRECTIVE, &p->tok);
        gql_advance(p);
        d->name = gql_parse_name(p);
        gql_optional_many(p, GQL_T_PAREN_L, gql_parse_argument, is_const, GQL_T_PAREN_R,
                          &d->arguments);
        gql_push(out, d);
    }
}

static gql_node_t *gql_parse_variable_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    gql_node_t *n = gql_node(p, GQL_VARIABLE_DEFINITION, &p->tok);
    n->variable = gql_parse_variable(p);
    gql_expect(p, GQL_T_COLON);
    n->type = gql_parse_type(p);
    if (gql_optional(p, GQL_T_EQUALS))
        n->value = gql_parse_value(p, 1);
    gql_parse_directives(p, 1, &n->directives);
    return n;
}

static gql_node_t *gql_parse_selection(gql_parser_t *p, int is_const);

static gql_node_t *gql_parse_selection_set(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_SELECTION_SET, &p->tok);
    gql_enter(p);
    gql_many(p, GQL_T_BRACE_L, gql_parse_selection, 0, GQL_T_BRACE_R, &n->items);
    p->depth--;
    return n;
}

static const char *gql_parse_fragment_name(gql_parser_t *p)
{
    if (gql_is_keyword(&p->tok, "on"))
        gql_unexpected(p, &p->tok);
    return gql_parse_name(p);
}

static gql_node_t *gql_parse_selection(gql_parser_t *p, int is_const)
{
    (void)is_const;
    const gql_token_t start = p->tok;
    gql_node_t *n;
    if (gql_optional(p, GQL_T_SPREAD)) {
        int has_condition = gql_optional_keyword(p, "on");
        if (!has_condition && gql_peek(p, GQL_T_NAME)) {
            n = gql_node(p, GQL_FRAGMENT_SPREAD, &start);
            n->name = gql_parse_fragment_name(p);
            gql_parse_directives(p, 0, &n->directives);
            return n;
        }
        n = gql_node(p, GQL_INLINE_FRAGMENT, &start);
        if (has_condition)
            n->type_condition = gql_parse_named_type(p, 0);
        gql_parse_directives(p, 0, &n->directives);
        n->selection_set = gql_parse_selection_set(p);
        return n;
    }
    n = gql_node(p, GQL_FIELD, &start);
    n->name = gql_parse_name(p);
    if (gql_optional(p, GQL_T_COLON)) {
        n->alias = n->name;
        n->name = gql_parse_name(p);
    }
    gql_optional_many(p, GQL_T_PAREN_L, gql_parse_argument, 0, GQL_T_PAREN_R, &n->arguments);
    gql_parse_directives(p, 0, &n->directives);
    if (gql_peek(p, GQL_T_BRACE_L))
        n->selection_set = gql_parse_selection_set(p);
    return n;
}

/* query, mutation or subscription, as the arena's copy of the keyword */
static const char *gql_parse_operation_type(gql_parser_t *p)
{
    static const char *const ops[] = {"query", "mutation", "subscription"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (gql_optional_keyword(p, ops[i]))
            return ops[i];
    gql_unexpected(p, &p->tok);
}

static gql_node_t *gql_parse_operation(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_OPERATION_DEFINITION, &p->tok);
    if (gql_peek(p, GQL_T_BRACE_L)) {
        n->text = "query";
    } else {
        n->text = gql_parse_operation_type(p);
        if (gql_peek(p, GQL_T_NAME))
            n->name = gql_parse_name(p);
        gql_optional_many(p, GQL_T_PAREN_L, gql_parse_variable_definition, 0, GQL_T_PAREN_R,
                          &n->variables);
        gql_parse_directives(p, 0, &n->directives);
    }
    n->text_len = strlen(n->text);
    n->selection_set = gql_parse_selection_set(p);
    return n;
}

static gql_node_t *gql_parse_fragment_definition(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_FRAGMENT_DEFINITION, &p->tok);
    gql_expect_keyword(p, "fragment");
    n->name = gql_parse_fragment_name(p);
    gql_expect_keyword(p, "on");
    n->type_condition = gql_parse_named_type(p, 0);
    gql_parse_directives(p, 0, &n->directives);
    n->selection_set = gql_parse_selection_set(p);
    return n;
}

/* ---- Type system definitions and extensions ---- */

static gql_node_t *gql_parse_description(gql_parser_t *p)
{
    if (gql_peek(p, GQL_T_STRING) || gql_peek(p, GQL_T_BLOCK_STRING))
        return gql_parse_string(p);
    return NULL;
}

static gql_node_t *gql_parse_input_value_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    gql_node_t *n = gql_node(p, GQL_INPUT_VALUE_DEFINITION, &p->tok);
    n->description = gql_parse_description(p);
    n->name = gql_parse_name(p);
    gql_expect(p, GQL_T_COLON);
    n->type = gql_parse_type(p);
    if (gql_optional(p, GQL_T_EQUALS))
        n->value = gql_parse_value(p, 1);
    gql_parse_directives(p, 1, &n->directives);
    return n;
}

static gql_node_t *gql_parse_field_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    gql_node_t *n = gql_node(p, GQL_FIELD_DEFINITION, &p->tok);
    n->description = gql_parse_description(p);
    n->name = gql_parse_name(p);
    gql_optional_many(p, GQL_T_PAREN_L, gql_parse_input_value_definition, 1, GQL_T_PAREN_R,
                      &n->arguments);
    gql_expect(p, GQL_T_COLON);
    n->type = gql_parse_type(p);
    gql_parse_directives(p, 1, &n->directives);
    return n;
}

static gql_node_t *gql_parse_enum_value_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    char b[GQL_MESSAGE_MAX];
    gql_node_t *n = gql_node(p, GQL_ENUM_VALUE_DEFINITION, &p->tok);
    n->description = gql_parse_description(p);
    if (gql_is_keyword(&p->tok, "true") || gql_is_keyword(&p->tok, "false") ||
        gql_is_keyword(&p->tok, "null"))
        gql_fail_at(p, GQL_ESYNTAX, p->tok.start,
                    "%s is reserved and cannot be used for an enum value.",
                    gql_tok_describe(&p->tok, b, sizeof b));
    n->name = gql_parse_name(p);
    gql_parse_directives(p, 1, &n->directives);
    return n;
}

static gql_node_t *gql_parse_operation_type_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    gql_node_t *n = gql_node(p, GQL_OPERATION_TYPE_DEFINITION, &p->tok);
    n->text = gql_parse_operation_type(p);
    n->text_len = strlen(n->text);
    gql_expect(p, GQL_T_COLON);
    n->type = gql_parse_named_type(p, 0);
    return n;
}

static gql_node_t *gql_parse_directive_location(gql_parser_t *p, int is_const)
{
    (void)is_const;
    static const char *const locations[] = {
        "QUERY",
        "MUTATION",
        "SUBSCRIPTION",
        "FIELD",
        "FRAGMENT_DEFINITION",
        "FRAGMENT_SPREAD",
        "INLINE_FRAGMENT",
        "VARIABLE_DEFINITION",
        "SCHEMA",
        "SCALAR",
        "OBJECT",
        "FIELD_DEFINITION",
        "ARGUMENT_DEFINITION",
        "INTERFACE",
        "UNION",
        "ENUM",
        "ENUM_VALUE",
        "INPUT_OBJECT",
        "INPUT_FIELD_DEFINITION",
    };
    const gql_token_t start = p->tok;
    gql_node_t *n = gql_node(p, GQL_NAME, &start);
    n->name = gql_parse_name(p);
    for (size_t i = 0; i < sizeof locations / sizeof locations[0]; i++)
        if (strcmp(n->name, locations[i]) == 0)
            return n;
    gql_unexpected(p, &start);
}

/* What the type definitions and their extensions share after their keyword and name. */
enum {
    GQL_HAS_IMPLEMENTS = 1,
    GQL_HAS_FIELDS = 2,
    GQL_HAS_MEMBERS = 4,
    GQL_HAS_VALUES = 8,
    GQL_HAS_INPUT_FIELDS = 16,
    GQL_HAS_OPERATIONS = 32,
};

static void gql_parse_type_body(gql_parser_t *p, gql_node_t *n, int has)
{
    if ((has & GQL_HAS_IMPLEMENTS) && gql_optional_keyword(p, "implements"))
        gql_delimited_many(p, GQL_T_AMP, gql_parse_named_type, &n->interfaces);
    gql_parse_directives(p, 1, &n->directives);
    if (has & GQL_HAS_FIELDS)
        gql_optional_many(p, GQL_T_BRACE_L, gql_parse_field_definition, 1, GQL_T_BRACE_R,
                          &n->items);
    if ((has & GQL_HAS_MEMBERS) && gql_optional(p, GQL_T_EQUALS))
        gql_delimited_many(p, GQL_T_PIPE, gql_parse_named_type, &n->items);
    if (has & GQL_HAS_VALUES)
        gql_optional_many(p, GQL_T_BRACE_L, gql_parse_enum_value_definition, 1, GQL_T_BRACE_R,
                          &n->items);
    if (has & GQL_HAS_INPUT_FIELDS)
        gql_optional_many(p, GQL_T_BRACE_L, gql_parse_input_value_definition, 1, GQL_T_BRACE_R,
                          &n->items);
    if (has & GQL_HAS_OPERATIONS)
        gql_optional_many(p, GQL_T_BRACE_L, gql_parse_operation_type_definition, 1, GQL_T_BRACE_R,
                          &n->items);
}

typedef struct {
    const char *keyword;
    gql_kind_t definition, extension;
    int has;
} gql_type_form_t;

static const gql_type_form_t gql_type_forms[] = {
    {"schema", GQL_SCHEMA_DEFINITION, GQL_SCHEMA_EXTENSION, GQL_HAS_OPERATIONS},
    {"scalar", GQL_SCALAR_TYPE_DEFINITION, GQL_SCALAR_TYPE_EXTENSION, 0},
    {"type", GQL_OBJECT_TYPE_DEFINITION, GQL_OBJECT_TYPE_EXTENSION,
     GQL_HAS_IMPLEMENTS | GQL_HAS_FIELDS},
    {"interface", GQL_INTERFACE_TYPE_DEFINITION, GQL_INTERFACE_TYPE_EXTENSION,
     GQL_HAS_IMPLEMENTS | GQL_HAS_FIELDS},
    {"union", GQL_UNION_TYPE_DEFINITION, GQL_UNION_TYPE_EXTENSION, GQL_HAS_MEMBERS},
    {"enum", GQL_ENUM_TYPE_DEFINITION, GQL_ENUM_TYPE_EXTENSION, GQL_HAS_VALUES},
    {"input", GQL_INPUT_OBJECT_TYPE_DEFINITION, GQL_INPUT_OBJECT_TYPE_EXTENSION,
     GQL_HAS_INPUT_FIELDS},
};

static const gql_type_form_t *gql_type_form(const gql_token_t *t)
{
    for (size_t i = 0; i < sizeof gql_type_forms / sizeof gql_type_forms[0]; i++)
        if (gql_is_keyword(t, gql_type_forms[i].keyword))
            return &gql_type_forms[i];
    return NULL;
}

static gql_node_t *gql_parse_directive_definition(gql_parser_t *p, gql_node_t *n)
{
    n->kind = GQL_DIRECTIVE_DEFINITION;
    gql_expect_keyword(p, "directive");
    gql_expect(p, GQL_T_AT);
    n->name = gql_parse_name(p);
    gql_optional_many(p, GQL_T_PAREN_L, gql_parse_input_value_definition, 1, GQL_T_PAREN_R,
                      &n->arguments);
    if (gql_optional_keyword(p, "repeatable"))
        n->flags |= GQL_REPEATABLE;
    gql_expect_keyword(p, "on");
    gql_delimited_many(p, GQL_T_PIPE, gql_parse_directive_location, &n->items);
    return n;
}

/* A type system definition, its description read; at its keyword. */
static gql_node_t *gql_parse_type_system_definition(gql_parser_t *p)
{
    gql_node_t *n = gql_node(p, GQL_DOCUMENT, &p->tok);
    n->description = gql_parse_description(p);
    if (gql_is_keyword(&p->tok, "directive"))
        return gql_parse_directive_definition(p, n);
    const gql_type_form_t *form = gql_type_form(&p->tok);
    n->kind = form->definition;
    gql_advance(p);
    if (n->kind != GQL_SCHEMA_DEFINITION) {
        n->name = gql_parse_name(p);
        gql_parse_type_body(p, n, form->has);
    } else {
        gql_parse_directives(p, 1, &n->directives);
        gql_many(p, GQL_T_BRACE_L, gql_parse_operation_type_definition, 1, GQL_T_BRACE_R,
                 &n->items);
    }
    return n;
}

/* `extend` ...: an extension must add something, or it is refused where it ends. */
static gql_node_t *gql_parse_extension(gql_parser_t *p)
{
    const gql_token_t *kw = gql_peek_ahead(p);
    const gql_type_form_t *form = gql_type_form(kw);
    if (!form)
        gql_unexpected(p, kw);
    gql_node_t *n = gql_node(p, form->extension, &p->tok);
    gql_advance(p);
    gql_advance(p);
    if (n->kind != GQL_SCHEMA_EXTENSION)
        n->name = gql_parse_name(p);
    gql_parse_type_body(p, n, form->has);
    if (!n->interfaces.count && !n->directives.count && !n->items.count)
        gql_unexpected(p, &p->tok);
    return n;
}

static gql_node_t *gql_parse_definition(gql_parser_t *p, int is_const)
{
    (void)is_const;
    if (gql_peek(p, GQL_T_BRACE_L))
        return gql_parse_operation(p);
    int has_description = gql_peek(p, GQL_T_STRING) || gql_peek(p, GQL_T_BLOCK_STRING);
    const gql_token_t kw = has_description ? *gql_peek_ahead(p) : p->tok;
    if (kw.kind == GQL_T_NAME) {
        if (gql_type_form(&kw) || gql_is_keyword(&kw, "directive"))
            return gql_parse_type_system_definition(p);
        if (has_description)
            gql_fail_at(p, GQL_ESYNTAX, p->tok.start,
                        "Unexpected description, descriptions are supported only on type "
                        "definitions.");
        if (gql_is_keyword(&kw, "query") || gql_is_keyword(&kw, "mutation") ||
            gql_is_keyword(&kw, "subscription"))
            return gql_parse_operation(p);
        if (gql_is_keyword(&kw, "fragment"))
            return gql_parse_fragment_definition(p);
        if (gql_is_keyword(&kw, "extend"))
            return gql_parse_extension(p);
    }
    gql_unexpected(p, &kw);
}

/* ---- The entry points ---- */

/* The parse proper; an error unwinds to its setjmp. Nothing of the caller's lives across it,
 * so no local can be clobbered by the longjmp. */
static int gql_run(gql_parser_t *p)
{
    if (setjmp(p->unwind))
        return -1;
    gql_advance(p);
    gql_node_t *root = gql_node(p, GQL_DOCUMENT, &p->tok);
    do
        gql_push(&root->items, gql_parse_definition(p, 0));
    while (!gql_optional(p, GQL_T_EOF));
    p->doc->root = root;
    return 0;
}

gql_doc_t *gql_parse(const char *text, size_t len, const gql_limits_t *limits, gql_error_t *err)
{
    gql_doc_t *doc = calloc(1, sizeof *doc);
    if (!doc) {
        *err = (gql_error_t){.code = GQL_ENOMEM, .line = 1, .column = 1};
        snprintf(err->message, sizeof err->message, "Syntax Error: Out of memory.");
        return NULL;
    }
    gql_parser_t *p = calloc(1, sizeof *p);
    if (!p) {
        free(doc);
        *err = (gql_error_t){.code = GQL_ENOMEM, .line = 1, .column = 1};
        snprintf(err->message, sizeof err->message, "Syntax Error: Out of memory.");
        return NULL;
    }
    p->src = (const unsigned char *)text;
    p->len = len;
    p->doc = doc;
    p->err = err;
    p->lx.line = 1;
    p->max_depth = limits && limits->max_depth ? limits->max_depth : GQL_MAX_DEPTH_DEFAULT;
    p->max_tokens = limits && limits->max_tokens ? limits->max_tokens : GQL_MAX_TOKENS_DEFAULT;
    int rc = gql_run(p);
    free(p);
    if (rc) {
        gql_free(doc);
        return NULL;
    }
    return doc;
}

const gql_node_t *gql_root(const gql_doc_t *doc)
{
    return doc->root;
}

void gql_free(gql_doc_t *doc)
{
    if (!doc)
        return;
    for (gql_chunk_t *c = doc->chunks, *prev; c; c = prev) {
        prev = c->prev;
        if (c->size == GQL_CHUNK_MIN && gql_spare_bytes + GQL_CHUNK_MIN <= GQL_SPARE_MAX) {
            c->prev = gql_spare;
            gql_spare = c;
            gql_spare_bytes += GQL_CHUNK_MIN;
        } else {
            free(c);
        }
    }
    free(doc);
}

const char *gql_kind_name(gql_kind_t kind)
{
    static const char *const names[] = {
#define GQL_KIND_NAME(id, name) name,
        GQL_KINDS(GQL_KIND_NAME)
#undef GQL_KIND_NAME
    };
    return (unsigned)kind < GQL_KIND_COUNT ? names[kind] : "?";
}
