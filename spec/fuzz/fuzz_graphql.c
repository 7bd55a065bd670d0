/* fuzz_graphql.c — arbitrary bytes through the GraphQL parser (host/graphql.h), which will read
 * documents from strangers (POST /graphql, issue #17): accepted or refused, never a crash, a
 * stall or a recursion without bound.
 *
 * Promises checked beyond the sanitizers:
 *   - a refusal is a syntax error or a limit, worded "Syntax Error: ...", at a line and column
 *     inside the text;
 *   - an accepted document is a Document of definitions whose nodes have a known kind, a
 *     location inside the text, lists whose counts match their links, names that are GraphQL
 *     names and string values that are valid UTF-8 ending in a NUL;
 *   - an accepted document nests no deeper than the limit it was parsed under;
 *   - the tight limits only ever turn an acceptance into a GQL_ELIMIT refusal: a document
 *     accepted under them is accepted without them, and one refused as a syntax error without
 *     them is refused under them too.
 * A broken promise traps (PROMISE, fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "graphql.h"

typedef struct {
    unsigned lines; /* lines of the text: a location's line is at most this */
    size_t len;
    unsigned max_depth; /* of the parse whose AST is walked */
} fuzz_gql_text_t;

static int fuzz_gql_is_name(const char *s)
{
    if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z')))
        return 0;
    for (s++; *s; s++)
        if (!(*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
              (*s >= '0' && *s <= '9')))
            return 0;
    return 1;
}

/* Whether s (n bytes) is UTF-8 of Unicode scalar values (NUL bytes included). */
static int fuzz_gql_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        int len = c < 0x80                ? 1
                  : c >= 0xC2 && c < 0xE0 ? 2
                  : c >= 0xE0 && c < 0xF0 ? 3
                  : c >= 0xF0 && c < 0xF5 ? 4
                                          : 0;
        if (!len || i + (size_t)len > n)
            return 0;
        uint32_t cp = len == 1 ? c : c & (0x7F >> len);
        for (int k = 1; k < len; k++) {
            if ((s[i + (size_t)k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + (size_t)k] & 0x3F);
        }
        static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < least[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

static void fuzz_gql_node(const fuzz_gql_text_t *t, const gql_node_t *n, unsigned depth);

static void fuzz_gql_list(const fuzz_gql_text_t *t, const gql_list_t *l, unsigned depth)
{
    unsigned count = 0;
    const gql_node_t *last = NULL;
    for (const gql_node_t *n = l->first; n; n = n->next) {
        fuzz_gql_node(t, n, depth);
        last = n;
        count++;
    }
    PROMISE(count == l->count && last == l->last);
}

static void fuzz_gql_node(const fuzz_gql_text_t *t, const gql_node_t *n, unsigned depth)
{
    if (!n)
        return;
    /* the levels the parser bounds: an accepted document nests no deeper than its limit */
    if (n->kind == GQL_SELECTION_SET || n->kind == GQL_LIST || n->kind == GQL_OBJECT ||
        n->kind == GQL_LIST_TYPE)
        PROMISE(++depth <= t->max_depth);
    PROMISE((unsigned)n->kind < GQL_KIND_COUNT);
    PROMISE(n->line >= 1 && n->line <= t->lines && n->column >= 1 && n->column <= t->len);
    if (n->name)
        PROMISE(fuzz_gql_is_name(n->name));
    if (n->alias)
        PROMISE(n->kind == GQL_FIELD && fuzz_gql_is_name(n->alias));
    if (n->kind == GQL_STRING)
        PROMISE(n->text && n->text[n->text_len] == '\0' &&
                fuzz_gql_utf8((const unsigned char *)n->text, n->text_len));
    fuzz_gql_node(t, n->description, depth);
    fuzz_gql_node(t, n->variable, depth);
    fuzz_gql_node(t, n->type, depth);
    fuzz_gql_node(t, n->value, depth);
    fuzz_gql_node(t, n->type_condition, depth);
    fuzz_gql_node(t, n->selection_set, depth);
    fuzz_gql_list(t, &n->variables, depth);
    fuzz_gql_list(t, &n->arguments, depth);
    fuzz_gql_list(t, &n->directives, depth);
    fuzz_gql_list(t, &n->interfaces, depth);
    fuzz_gql_list(t, &n->items, depth);
}

static void fuzz_gql_error(const fuzz_gql_text_t *t, const gql_error_t *e)
{
    PROMISE(e->code == GQL_ESYNTAX || e->code == GQL_ELIMIT);
    PROMISE(strncmp(e->message, "Syntax Error: ", 14) == 0 && e->message[14]);
    PROMISE(e->line >= 1 && e->line <= t->lines && e->column >= 1 && e->column <= t->len + 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_gql_text_t t = {1, size, GQL_MAX_DEPTH_DEFAULT};
    for (size_t i = 0; i < size; i++)
        if (data[i] == '\n' || (data[i] == '\r' && !(i + 1 < size && data[i + 1] == '\n')))
            t.lines++;
    gql_error_t err, tight_err;
    gql_doc_t *doc = gql_parse((const char *)data, size, NULL, &err);
    if (doc) {
        const gql_node_t *root = gql_root(doc);
        PROMISE(root->kind == GQL_DOCUMENT && root->items.count >= 1);
        fuzz_gql_node(&t, root, 0);
    } else {
        fuzz_gql_error(&t, &err);
    }
    static const gql_limits_t tight = {.max_depth = 8, .max_tokens = 64};
    gql_doc_t *tight_doc = gql_parse((const char *)data, size, &tight, &tight_err);
    if (tight_doc) {
        PROMISE(doc != NULL);
        t.max_depth = tight.max_depth;
        fuzz_gql_node(&t, gql_root(tight_doc), 0);
    } else {
        fuzz_gql_error(&t, &tight_err);
    }
    if (!doc && err.code == GQL_ESYNTAX)
        PROMISE(!tight_doc);
    if (doc && !tight_doc)
        PROMISE(tight_err.code == GQL_ELIMIT);
    gql_free(tight_doc);
    gql_free(doc);
    return 0;
}
