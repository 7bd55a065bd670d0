/* pg_stmt.h — what the pool reads in SQL text, and which statements a PostgreSQL session has
 * prepared.
 *
 * A statement run often is parsed and planned once per session instead of at every call:
 * the pool prepares it under a name on first use (Parse, in the same write as its first
 * execution) and executes the name afterwards. This roughly doubles what PostgreSQL can
 * serve for small queries (a primary-key SELECT: 23k -> 42k per second on two cores), the
 * pool's bottleneck under load. Only plannable statements (SELECT, INSERT, UPDATE, DELETE,
 * WITH, VALUES, TABLE, MERGE) are worth a name; each session keeps at most `max` of them,
 * further texts run unnamed (a name the session lost or whose plan went stale after DDL
 * is replaced by a new one; the stale one stays on the server until the session ends).
 * Knows nothing about libpq. */
#ifndef SPEEZY_PG_STMT_H
#define SPEEZY_PG_STMT_H

#include <stdint.h>

typedef enum {
    PG_STMT_NEW,     /* to be prepared (again) under name */
    PG_STMT_PENDING, /* Parse sent, its outcome not known yet */
    PG_STMT_READY    /* the session has it */
} pg_stmt_state_t;

typedef struct {
    pg_stmt_state_t state;
    uint32_t hash;
    unsigned id; /* of the current name: outcomes for an older name change nothing */
    char name[24];
    char sql[]; /* the key */
} pg_stmt_t;

typedef struct {
    pg_stmt_t **slots; /* open addressing; entries are never removed, only renamed */
    unsigned cap, n, max;
    unsigned next_id; /* names are never reused within a session */
} pg_stmt_cache_t;

void pg_stmt_cache_init(pg_stmt_cache_t *c, unsigned max);
/* Forgets everything: a new session starts with nothing prepared. */
void pg_stmt_cache_clear(pg_stmt_cache_t *c);

/* sql's entry, added as PG_STMT_NEW when there is room; NULL when sql is not plannable, the
 * cache is full or memory is short (the statement then runs unnamed). */
pg_stmt_t *pg_stmt_get(pg_stmt_cache_t *c, const char *sql);
/* The Parse for name id succeeded: the session has it. */
void pg_stmt_prepared(pg_stmt_t *s, unsigned id);
/* The session lacks name id (its Parse failed, a DEALLOCATE, a plan that may not change its
 * result type after DDL): prepare under a new name next time. */
void pg_stmt_forget(pg_stmt_cache_t *c, pg_stmt_t *s, unsigned id);

/* Whether sql (after blanks, ';' and comments) opens or ends a transaction block: BEGIN,
 * START, COMMIT, END, ABORT, ROLLBACK but for ROLLBACK TO, PREPARE TRANSACTION. Opened on a
 * pooled connection, a block would outlive its statement and swallow whatever runs next there;
 * ended inside pg.tx, it would commit or drop half of it and leave the rest in autocommit. */
int pg_sql_controls_transaction(const char *sql);
/* Whether sql is a SET that outlives its transaction (SET x, SET SESSION ..., SET ROLE ...;
 * not SET LOCAL, SET TRANSACTION or SET CONSTRAINTS): on a pooled connection it would change
 * the session of whichever request gets the connection next. */
int pg_sql_sets_session(const char *sql);
/* Whether sql is a statement PostgreSQL plans (see the top of this file). */
int pg_sql_plannable(const char *sql);

#endif
