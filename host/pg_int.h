/* pg_int.h — what the pool (pg.c) and its sessions (pg_session.c) share: the structures
 * behind pg.h's opaque types and the few calls between the two files. Not for other subsystems. */
#ifndef SPEEZY_PG_INT_H
#define SPEEZY_PG_INT_H

#include <stdint.h>

#include "log.h"

/* Included after pg.h (not from here: the subsystem's public header stays its top). */
#ifndef SPEEZY_PG_H
#error "include pg.h before pg_int.h"
#endif

enum { CANCEL_THEN_IDLE = 1, CANCEL_THEN_RESET };

typedef enum {
    PGC_DOWN,       /* no session: waiting for the reconnect timer */
    PGC_RESOLVING,  /* uv_getaddrinfo in flight */
    PGC_CONNECTING, /* PQconnectPoll in progress */
    PGC_IDLE,       /* in the idle list */
    PGC_SHARED,     /* running a batch of pool statements in pipeline mode */
    PGC_BUSY,       /* held by a caller (its session may have broken meanwhile) */
    PGC_RESETTING,  /* released: finishing an abandoned query and/or a ROLLBACK */
    PGC_CLOSED
} pg_conn_state_t;

/* One statement: a connection's own (the exclusive holder's) or a pool statement. */
struct pg_query {
    pg_waiter_t *waiter; /* a pool statement waiting for a connection */
    const char *sql;
    int nparams;
    const char *const *values;
    const int *lengths;
    const int *formats;
    pg_query_cb cb; /* NULL when abandoned: the result is dropped on arrival */
    void *ud;
    PGresult *res;   /* kept until the statement completes */
    pg_stmt_t *stmt; /* run as this prepared statement (its name numbered stmt_id) */
    unsigned stmt_id;
    int parsing; /* its first result is the Parse's */
    int retries; /* went back to the queue: its prepared form was stale (query_retry) */
    pg_query_t *next;
};

struct pg_conn {
    pg_pool_t *pool;
    PGconn *pq; /* NULL: no session */
    uv_poll_t *poll;
    int fd;
    int events;
    uv_timer_t *timer; /* connect timeout, then reconnect backoff */
    uv_getaddrinfo_t *gai;
    pg_conn_state_t state;
    unsigned backoff_ms;
    int failed;            /* the last connect attempt failed: feeds the pool's fail-fast */
    int flushing;          /* PQflush has more to send */
    int piped;             /* in pipeline mode: statements are out */
    int cancel;            /* the abandoned statement is to be cancelled: 1 wanted, 2 under way */
    int after_cancel;      /* what waits for the cancel to be done: CANCEL_THEN_* */
    pg_query_t own;        /* the exclusive holder's statement */
    pg_stmt_cache_t stmts; /* what this session has prepared */
    pg_query_t *qhead, *qtail; /* statements sent, in the order their results come */
    pg_conn_t *next_idle;
};

/* A caller of pg_pool_acquire, or a pool statement (query set), queued for a connection. */
struct pg_waiter {
    pg_pool_t *pool;
    pg_acquire_cb cb;
    void *ud;
    pg_query_t *query;
    uint64_t deadline;
    pg_waiter_t *prev, *next;
};

struct pg_pool {
    uv_loop_t *loop;
    pg_pool_opts_t opts;
    char *url;
    char *host;    /* a name to resolve before each connect, or NULL */
    char *options; /* libpq "options": the session settings */
    pg_conn_t *conns;
    pg_conn_t *idle;
    pg_waiter_t *whead, *wtail; /* FIFO; equal wait bounds keep deadlines in order */
    int nwaiting;
    uv_timer_t *wait_timer; /* armed for the head waiter's deadline */
    uv_idle_t *handoff;     /* gives idle connections to waiters outside callers' stacks */
    int closing;
    int open_handles; /* pool-level handles still closing */
    int held;         /* connections acquired before close and not yet released */
    int outage;       /* a connection failed and none has come back since: logged once */
    unsigned long batches, batched;
    int cancelling; /* a PQcancel on the threadpool (one at a time: see conn_cancel) */
};

/* pg_session.c: reaching the server, one connection's session at a time. */
void pg_conn_connect(pg_conn_t *c); /* resolve, connect, then pg_pool_conn_idle */
void pg_conn_connect_step(pg_conn_t *c);
int pg_conn_watch(pg_conn_t *c, int events);
void pg_conn_drop(pg_conn_t *c); /* ends the session; the poll stops before PQfinish */
void pg_conn_log(log_level_t level, const pg_conn_t *c, const char *what);
void pg_free_handle(uv_handle_t *h);
int pg_pool_parse_url(pg_pool_t *pool, const char *url);

/* pg.c: the pool's side. */
void pg_pool_conn_idle(pg_conn_t *c); /* a session is free: to the idle list, waiters served */
void pg_pool_handoff_soon(pg_pool_t *pool);
void pg_conn_on_poll(uv_poll_t *h, int status, int events);

/* pg_gate.c: while closed on fd, libpq's send()/recv() on it wait (EAGAIN), so statements
 * written meanwhile stay in libpq's buffer and leave together at the next PQflush. */
void pg_gate_close(int fd);
void pg_gate_open(void);
/* How many send() calls this thread made past the gate (what a batch costs, for tests). */
unsigned long pg_gate_sends(void);

#endif
