/* graphql_lex.c — the GraphQL lexer: source text to tokens, by the October 2021 specification's
 * lexical grammar (ignored tokens, punctuators, names, numbers, strings and block strings with
 * their escapes and indentation rule). graphql.c's parser pulls tokens with gql_lex. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "graphql.h"
#include "graphql_int.h"

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
void gql_lex(gql_parser_t *p, gql_lexer_t *lx, gql_token_t *t)
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
