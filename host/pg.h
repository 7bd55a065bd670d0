/* pg.h — a libpq connection pool per worker, fully asynchronous on a uv_loop_t.
 *
 * Knows nothing about Lua: callers get plain callbacks. Connections start when the pool is
 * created and are re-established with exponential backoff (100 ms .. 5 s) whenever one breaks
 * or PostgreSQL restarts. Every session runs with TimeZone=UTC, DateStyle=ISO, the configured
 * statement_timeout and application_name=speezy.
 *
 Two ways to run a statement:
 *   - pg_pool_query(): any free connection, for a statement that stands alone (it commits or
 *     fails by itself). Statements queue, and before the loop next waits, each free
 *     connection takes the ones at the head (at most pipeline_depth) and sends them in one
 *     write in libpq's pipeline mode, each with its own sync so each still commits or fails
 *     alone. A burst of requests (one turn of the loop) or a busy pool thus costs one send
 *     and one server wake-up per batch instead of per statement: the dominant cost of a
 *     small query on loopback. The price: statements of one batch run one after the other
 *     on one backend (PG_PIPELINE_DEPTH=1 spreads them over idle connections instead).
 *   - pg_pool_acquire() + pg_conn_query(): a connection held exclusively (a transaction), one
 *     statement at a time, so the connection itself is the query handle; pg_conn_abandon()
 *     gives the running one up (the caller's coroutine was cancelled).
 * Callbacks run from the loop, never from inside a call into the pool (so never from inside
 * pg_pool_release, which a cancelled coroutine's cleanup calls), except that pg_pool_close
 * fails everything outstanding at once.
 *
 * Callers must not hold a connection across pg_pool_close(): the pool stays allocated until
 * every acquired connection is released, but its sessions end at once. */
#ifndef SPEEZY_PG_H
#define SPEEZY_PG_H

#include <libpq-fe.h>
#include <uv.h>

#include "pg_stmt.h"

typedef struct pg_pool pg_pool_t;
typedef struct pg_conn pg_conn_t;
typedef struct pg_waiter pg_waiter_t;
typedef struct pg_ping pg_ping_t;
typedef struct pg_query pg_query_t;

/* Return and error codes. The SQLSTATE mapping (pg_sqlstate_error):
 *   23505                              -> PG_ECONFLICT          "CONFLICT"
 *   23503                              -> PG_EREFERENCE         "INVALID_REFERENCE"
 *   other class 23 (check 23514, not-null 23502, exclusion 23P01, ...)
 *                                      -> PG_ECONSTRAINT        "CONSTRAINT_VIOLATION"
 *   class 22 (data exception: bad text representation, out of range, too long, ...)
 *                                      -> PG_EINPUT             "INVALID_INPUT"
 *   57014 (statement timeout, cancel)  -> PG_ETIMEOUT           "TIMEOUT"
 *   40001, 40P01                       -> PG_ESERIALIZATION     "SERIALIZATION_FAILURE"
 *   class 08 but 08P01, 57P0x, 53300   -> PG_EUNAVAILABLE       "DB_UNAVAILABLE"
 *   08P01 (e.g. wrong parameter count) -> PG_EDB                "DB_ERROR"
 *   anything else                      -> PG_EDB                "DB_ERROR" */
enum {
    PG_OK = 0,
    PG_WAIT = 1, /* pg_pool_acquire: queued; the callback comes later */
    PG_ENOMEM = -1,
    PG_EINVAL = -2,       /* bad argument, or a statement the pool can't run (COPY; BEGIN
                           * through pg_pool_query, which has no connection to keep it on) */
    PG_EUNAVAILABLE = -3, /* no connection within wait_ms, or the server is known down */
    PG_ECONNLOST = -4,    /* the connection broke while a query ran */
    PG_ECLOSED = -5,      /* the pool is closing */
    PG_EBUSY = -6,        /* a query is already running on this connection */
    PG_ECONFLICT = -10,
    PG_EREFERENCE = -11,
    PG_ECONSTRAINT = -12,
    PG_EINPUT = -13,
    PG_ETIMEOUT = -14,
    PG_ESERIALIZATION = -15,
    PG_EDB = -16
};

typedef struct {
    int size;                      /* connections; 0: PG_POOL_SIZE's default */
    unsigned wait_ms;              /* bound on waiting for a free connection; 0: never wait */
    unsigned statement_timeout_ms; /* 0: server default */
    unsigned connect_timeout_ms;   /* 0: PG_CONNECT_TIMEOUT_MS's default */
    int pipeline_depth;            /* most queued statements one connection takes at once;
                                    * 0: PG_PIPELINE_DEPTH's default, 1 turns batching off */
    int prepared_max;              /* statements each session prepares (pg_stmt.h); 0:
                                    * PG_PREPARED_STATEMENTS's default, negative none */
} pg_pool_opts_t;

typedef struct {
    int size;
    int idle;                       /* connected and free */
    int busy;                       /* held by a caller, or finishing a rollback after release */
    int waiting;                    /* pg_pool_acquire callers and pool statements queued */
    int connected;                  /* sessions currently established */
    unsigned long batches, batched; /* writes of pool statements, and statements in them */
} pg_pool_stats_t;

/* conn is NULL when err < 0. */
typedef void (*pg_acquire_cb)(pg_conn_t *conn, int err, void *ud);
/* res is the query's result (NULL when the connection broke: err PG_ECONNLOST or PG_ECLOSED,
 * or when a pg_pool_query waited past wait_ms: PG_EUNAVAILABLE); err is 0 or the mapped code
 * of a server error, whose fields res still carries. The pool frees res when the callback
 * returns. conn is NULL for pg_pool_query statements. */
typedef void (*pg_query_cb)(pg_conn_t *conn, const PGresult *res, int err, void *ud);
typedef void (*pg_ping_cb)(int err, void *ud);

/* url is a libpq connection URI or key=value string. A host given as a name is resolved with
 * uv_getaddrinfo and passed as hostaddr so connecting never blocks the loop. opts NULL means
 * every option at its setting's default (config.c, config_default); a 0 size, connect
 * timeout, pipeline depth or prepared_max likewise. */
int pg_pool_new(uv_loop_t *loop, const char *url, const pg_pool_opts_t *opts, pg_pool_t **out);
void pg_pool_close(pg_pool_t *pool);

/* PG_OK with *conn set when a connection is free now; PG_WAIT with *waiter set when the
 * caller is queued (cb runs later, exactly once, unless the waiter is cancelled); or a
 * negative code at once (PG_EUNAVAILABLE when every connection is failing to connect). */
int pg_pool_acquire(pg_pool_t *pool, pg_acquire_cb cb, void *ud, pg_conn_t **conn,
                    pg_waiter_t **waiter);
void pg_waiter_cancel(pg_waiter_t *waiter);

/* Gives the connection back. A running (abandoned) query is cancelled (PQcancel on the
 * threadpool) and awaited, and an open transaction rolled back, before it serves anyone
 * else; a broken connection reconnects. */
void pg_pool_release(pg_pool_t *pool, pg_conn_t *conn);

/* Sends one statement with text parameters ($1..$n). values[i] NULL is SQL NULL; formats may
 * be NULL (all text) or give 1 for a raw binary parameter (bytea) of lengths[i] bytes.
 * Returns 0 (cb will run) or a negative code (cb will not run). */
int pg_conn_query(pg_conn_t *conn, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, pg_query_cb cb, void *ud);
/* The running query's callback will never be called; its result is discarded on arrival. */
void pg_conn_abandon(pg_conn_t *conn);

/* Runs one stand-alone statement on whichever connection is free (see the top of this file).
 * sql, values, lengths and formats must stay valid until cb runs or pg_query_cancel; formats
 * as for pg_conn_query. Returns 0 with *out set (cb will run exactly once, unless cancelled)
 * or a negative code at once: PG_EINVAL for a statement that opens or ends a transaction
 * block (pg_sql_controls_transaction), PG_EUNAVAILABLE when nothing is free and the pool
 * can't wait. */
int pg_pool_query(pg_pool_t *pool, const char *sql, int nparams, const char *const *values,
                  const int *lengths, const int *formats, pg_query_cb cb, void *ud,
                  pg_query_t **out);
/* cb will never be called: a queued statement is dropped, a sent one's result discarded. */
void pg_query_cancel(pg_query_t *q);

void pg_pool_stats(const pg_pool_t *pool, pg_pool_stats_t *stats);

/* Readiness probe: acquires a connection (bounded wait) and runs SELECT 1; cb gets 0 or a
 * negative code. Returns 0 (cb will run, unless pg_ping_cancel) or a negative code. */
int pg_pool_ping(pg_pool_t *pool, pg_ping_cb cb, void *ud, pg_ping_t **out);
void pg_ping_cancel(pg_ping_t *ping);

/* Error mapping: the code of a result (0 for a success), of an SQLSTATE, and its stable name
 * ("CONFLICT", "DB_UNAVAILABLE", ...). */
int pg_result_error(const PGresult *res);
int pg_sqlstate_error(const char *sqlstate);
const char *pg_error_name(int err);

#endif
