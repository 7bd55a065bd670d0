/* pg_ping.c — the readiness check's round trip (GET /readyz): a connection from the pool,
 * `SELECT 1` on it, the connection back. A client of the pool's public calls only. */
#include <stdlib.h>

#include "pg.h"

struct pg_ping {
    pg_pool_t *pool;
    pg_conn_t *conn;
    pg_waiter_t *waiter;
    pg_ping_cb cb;
    void *ud;
};

static void ping_finish(pg_ping_t *p, int err)
{
    pg_ping_cb cb = p->cb;
    void *ud = p->ud;
    free(p);
    cb(err, ud);
}

static void ping_done(pg_conn_t *conn, const PGresult *res, int err, void *ud)
{
    pg_ping_t *p = ud;
    pg_pool_release(p->pool, conn);
    ping_finish(p, err);
}

static int ping_send(pg_ping_t *p, pg_conn_t *conn)
{
    p->conn = conn;
    int err = pg_conn_query(conn, "SELECT 1", 0, NULL, NULL, NULL, ping_done, p);
    if (err < 0)
        pg_pool_release(p->pool, conn);
    return err;
}

static void ping_acquired(pg_conn_t *conn, int err, void *ud)
{
    pg_ping_t *p = ud;
    p->waiter = NULL;
    if (err == 0)
        err = ping_send(p, conn);
    if (err < 0)
        ping_finish(p, err);
}

int pg_pool_ping(pg_pool_t *pool, pg_ping_cb cb, void *ud, pg_ping_t **out)
{
    pg_ping_t *p = calloc(1, sizeof(*p));
    if (!p)
        return PG_ENOMEM;
    p->pool = pool;
    p->cb = cb;
    p->ud = ud;
    pg_conn_t *conn;
    int rc = pg_pool_acquire(pool, ping_acquired, p, &conn, &p->waiter);
    if (rc == PG_OK)
        rc = ping_send(p, conn);
    if (rc < 0) {
        free(p);
        return rc;
    }
    *out = p;
    return 0;
}

void pg_ping_cancel(pg_ping_t *p)
{
    if (p->waiter) {
        pg_waiter_cancel(p->waiter);
    } else {
        pg_conn_abandon(p->conn);
        pg_pool_release(p->pool, p->conn);
    }
    free(p);
}
