/* pg_stmt.c — SQL text inspection and the per-session prepared statement cache (pg_stmt.h). */
#include "pg_stmt.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Skips blanks, ';' and comments (block comments nest in PostgreSQL). */
static const char *sql_skip_noise(const char *p)
{
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' || *p == '\v' ||
               *p == ';') /* \v: blank to PostgreSQL 17 and later */
            p++;
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') {
            int depth = 0;
            do {
                if (p[0] == '/' && p[1] == '*')
                    depth++, p += 2;
                else if (p[0] == '*' && p[1] == '/')
                    depth--, p += 2;
                else
                    p++;
            } while (depth > 0 && *p);
        } else {
            return p;
        }
    }
}

static int sql_is_word(const char *p, const char *word)
{
    if ((*p | 0x20) != *word) /* words are lower case; most statements fail here */
        return 0;
    size_t n = strlen(word);
    if (strncasecmp(p, word, n) != 0)
        return 0;
    unsigned char next = (unsigned char)p[n];
    return !(isalnum(next) || next == '_' || next == '$' || next >= 0x80);
}

/* Whether the word at p is one of words (NULL-terminated, lower case). */
static int sql_is_any(const char *p, const char *const *words)
{
    for (; *words; words++)
        if (sql_is_word(p, *words))
            return 1;
    return 0;
}

/* The word after the one at p (which is n letters long). */
static const char *sql_next_word(const char *p, size_t n)
{
    return sql_skip_noise(p + n);
}

int pg_sql_controls_transaction(const char *sql)
{
    static const char *const words[] = {"begin", "start", "commit", "end", "abort", NULL};
    const char *p = sql_skip_noise(sql);
    if (sql_is_any(p, words))
        return 1;
    if (sql_is_word(p, "rollback")) /* ROLLBACK TO [SAVEPOINT] x keeps the transaction */
        return !sql_is_word(sql_next_word(p, 8), "to");
    if (sql_is_word(p, "prepare")) /* PREPARE TRANSACTION ends it; PREPARE name AS ... not */
        return sql_is_word(sql_next_word(p, 7), "transaction");
    return 0;
}

int pg_sql_sets_session(const char *sql)
{
    static const char *const scoped[] = {"local", "transaction", "constraints", NULL};
    const char *p = sql_skip_noise(sql);
    return sql_is_word(p, "set") && !sql_is_any(sql_next_word(p, 3), scoped);
}

int pg_sql_plannable(const char *sql)
{
    static const char *const words[] = {"select", "insert", "update", "delete", "with",
                                        "values", "table",  "merge",  NULL};
    return sql_is_any(sql_skip_noise(sql), words);
}

/* Eight bytes at a time, multiplied and folded: SQL texts are not chosen by clients, so this
 * needs to spread them, not to resist anyone. */
static uint32_t hash_sql(const char *s, size_t *len)
{
    size_t n = strlen(s), i = 0;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ n, w;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    w = 0;
    memcpy(&w, s + i, n - i);
    h = (h ^ w) * 0x100000001b3ULL;
    *len = n;
    return (uint32_t)(h ^ (h >> 32));
}

void pg_stmt_cache_init(pg_stmt_cache_t *c, unsigned max)
{
    *c = (pg_stmt_cache_t){.max = max};
}

void pg_stmt_cache_clear(pg_stmt_cache_t *c)
{
    for (unsigned i = 0; i < c->cap; i++)
        free(c->slots[i]);
    free(c->slots);
    pg_stmt_cache_init(c, c->max);
}

static void stmt_name(pg_stmt_cache_t *c, pg_stmt_t *s)
{
    s->id = ++c->next_id;
    snprintf(s->name, sizeof(s->name), "speezy_%u", s->id);
    s->state = PG_STMT_NEW;
}

/* Keeps the table at most half full. */
static int cache_grow(pg_stmt_cache_t *c)
{
    unsigned cap = c->cap ? c->cap * 2 : 16;
    pg_stmt_t **slots = calloc(cap, sizeof(*slots));
    if (!slots)
        return -1;
    for (unsigned i = 0; i < c->cap; i++) {
        pg_stmt_t *s = c->slots[i];
        if (!s)
            continue;
        unsigned j = s->hash & (cap - 1);
        while (slots[j])
            j = (j + 1) & (cap - 1);
        slots[j] = s;
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return 0;
}

pg_stmt_t *pg_stmt_get(pg_stmt_cache_t *c, const char *sql)
{
    size_t len;
    uint32_t h = hash_sql(sql, &len);
    if (c->cap) {
        for (unsigned i = h & (c->cap - 1); c->slots[i]; i = (i + 1) & (c->cap - 1))
            if (c->slots[i]->hash == h && strcmp(c->slots[i]->sql, sql) == 0)
                return c->slots[i];
    }
    if (c->n >= c->max || !pg_sql_plannable(sql))
        return NULL;
    if (2 * (c->n + 1) > c->cap && cache_grow(c) < 0)
        return NULL;
    pg_stmt_t *s = malloc(sizeof(*s) + len + 1);
    if (!s)
        return NULL;
    s->hash = h;
    memcpy(s->sql, sql, len + 1);
    stmt_name(c, s);
    unsigned i = h & (c->cap - 1);
    while (c->slots[i])
        i = (i + 1) & (c->cap - 1);
    c->slots[i] = s;
    c->n++;
    return s;
}

void pg_stmt_prepared(pg_stmt_t *s, unsigned id)
{
    if (s->id == id)
        s->state = PG_STMT_READY;
}

void pg_stmt_forget(pg_stmt_cache_t *c, pg_stmt_t *s, unsigned id)
{
    if (s->id == id)
        stmt_name(c, s);
}
