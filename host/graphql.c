/* graphql.c — the GraphQL recursive-descent parser (its lexer: graphql_lex.c) (graphql.h says what
 * it promises).
 *
 * An error anywhere (lexer, parser, limit, memory) fills the caller's gql_error_t and unwinds to
 * gql_parse with longjmp: every allocation of a parse is in its arena, so unwinding leaks
 * nothing, and no production needs an error path of its own. */
#include "graphql.h"
#include "graphql_int.h"

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

/* How graphql-js names a token kind in its messages: punctuators quoted, the others by name. */
static const char *const gql_tok_desc[] = {
    "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"",  "\")\"",       "\"...\"",
    "\":\"", "\"=\"", "\"@\"", "\"[\"", "\"]\"",  "\"{\"",       "\"|\"",
    "\"}\"", "Name",  "Int",   "Float", "String", "BlockString",
};

void gql_fail_at(gql_parser_t *p, int code, size_t pos, const char *fmt, ...)
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

void *gql_alloc(gql_parser_t *p, size_t n)
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

const char *gql_strndup(gql_parser_t *p, const char *s, size_t n)
{
    char *d = gql_alloc(p, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
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
