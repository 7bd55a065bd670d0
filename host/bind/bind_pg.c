/* bind_pg.c — speezy.pg.core: the Lua side of the PostgreSQL pool (host/pg.c).
 *
 * Private to host/lib/speezy/pg.lua, which builds the script API on these primitives:
 *   query(sql, ...)            -> rows, affected | nil, err   (pg_pool_query: any connection),
 *                                 or false in a coroutine that holds a pg.tx connection
 *   acquire()                  -> conn | nil, err             (pinned to the coroutine)
 *   conn_query(conn, sql, ...) -> rows, affected | nil, err   (conn_control(conn, sql) and
 *                                 commit(conn) for pg.lua's own transaction statements)
 *   release(conn), pinned() -> conn | nil, param(s, binary), number_text(n),
 *   configure(decode, encode), stats(), null
 *
 * Results are converted (bind_pg_rows.c) where no coroutine is running (in the loop's
 * callbacks), so they are built on a private scratch thread under lua_pcall and then moved
 * onto the waiting coroutine: nothing runs on a suspended thread and an error while
 * converting becomes `nil, err` instead of a panic. A pinned connection is released by
 * co_on_exit when its coroutine ends in any way, so a cancelled request's transaction is
 * always rolled back. */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../log.h"
#include "bind.h"
#include "bind_pg_rows.h"
#include "pg.h"

#define PARAM_MT "speezy.pg.param"
#define CONN_MT "speezy.pg.conn"
#define MAX_PARAMS 65535 /* the protocol's limit */

typedef struct {
    bind_host_t *host;
    lua_State *scratch; /* where results are built (anchored by scratch_ref) */
    int scratch_ref;
    int out_ref; /* the out_push function */
    int decode_ref, encode_ref;
    struct pgb_pin *pins; /* connections pinned by coroutines of this VM */
} pgb_state_t;

/* A connection pinned to one coroutine by pg.tx; owned by its userdata and by its holding
 * (the acquire wait, then the exit hook), freed when both are gone. */
typedef struct pgb_pin {
    pgb_state_t *st;
    pg_pool_t *pool;
    pg_conn_t *conn;
    pg_waiter_t *waiter;
    co_t *co;
    co_exit_hook_t *hook;
    int ud_ref; /* keeps the userdata alive while held */
    int refs;
    int held;
    struct pgb_pin *prev, *next;
} pgb_pin_t;

/* One statement in flight, on a pinned connection (conn) or the pool's (query); owns copies
 * of the SQL and parameters. */
typedef struct {
    pgb_state_t *st;
    co_t *co;
    pg_pool_t *pool;
    pg_conn_t *conn;
    pg_query_t *query;
    int nparams;
    const char **values;
    int *lengths;
    int *formats;
    char *sql;
    int commit; /* pg.tx's COMMIT: cancelled, its outcome is unknown */
} pgb_op_t;

enum { OUT_ROWS, OUT_ERROR, OUT_PIN };

typedef struct {
    int kind;
    pgb_state_t *st;
    const PGresult *res;
    int err;
    const char *message; /* OUT_ERROR without a result */
    pgb_pin_t *pin;
    int collect; /* collect garbage first: a conversion ran out of memory */
} pgb_out_t;

static pgb_state_t *state(lua_State *L)
{
    return lua_touserdata(L, lua_upvalueindex(1));
}

/* The caller's coroutine, checked before anything is sent or queued: where lua_yield would
 * raise (a table.sort comparator or a gsub callback between the handler and us), the statement
 * would run anyway and its result later resume the coroutine wherever it waits by then, or a
 * request that reuses its co once it is gone. */
static co_t *check_can_wait(lua_State *L, const char *fname)
{
    co_t *co = bind_check_yieldable(L, fname);
    if (!lua_isyieldable(L))
        bind_misuse(L,
                    "%s: cannot wait for PostgreSQL here: a C function (table.sort comparator, "
                    "string.gsub callback, ...) is between the handler and this call",
                    fname);
    return co;
}

/* What a statement on a shared connection may not do, a programming error that raises:
 * control the transaction (pg.tx's: BEGIN on a pooled connection would swallow the statements
 * queued behind it, COMMIT or ROLLBACK inside pg.tx would end its transaction half-way and run
 * the rest in autocommit), or SET what outlives it (the next request on the connection would
 * run with it: a TimeZone, a role, no statement_timeout). */
static void check_statement(lua_State *L, int sql, const char *fname)
{
    const char *text = luaL_checkstring(L, sql);
    if (pg_sql_controls_transaction(text))
        bind_misuse(L,
                    "%s: transaction control (BEGIN, COMMIT, ROLLBACK, ...) belongs to pg.tx: "
                    "return from fn to commit, return nil, err or raise to roll back",
                    fname);
    if (pg_sql_sets_session(text))
        bind_misuse(L,
                    "%s: a session-wide SET would stay on the pooled connection for later "
                    "requests; use SET LOCAL (or set_config(name, value, true)) inside pg.tx",
                    fname);
}

/* ---- errors ----------------------------------------------------------------------------- */

static const char *default_message(int err)
{
    switch (err) {
    case PG_EUNAVAILABLE:
        return "database unavailable";
    case PG_ECONNLOST:
        return "database connection lost";
    case PG_ECLOSED:
        return "database pool closed";
    case PG_EBUSY:
        return "a query is already running on this connection";
    case PG_ENOMEM:
        return "out of memory";
    default:
        return "the statement could not be sent";
    }
}

static void set_diag(lua_State *S, const PGresult *res, int field, const char *name)
{
    const char *v = PQresultErrorField(res, field);
    if (v) {
        lua_pushstring(S, v);
        lua_setfield(S, -2, name);
    }
}

static void push_error(lua_State *S, const PGresult *res, int err, const char *message)
{
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    bind_push_error(S, pg_error_name(err),
                    primary   ? primary
                    : message ? message
                              : default_message(err));
    if (!res)
        return;
    set_diag(S, res, PG_DIAG_SQLSTATE, "sqlstate");
    set_diag(S, res, PG_DIAG_CONSTRAINT_NAME, "constraint");
    set_diag(S, res, PG_DIAG_MESSAGE_DETAIL, "detail");
    set_diag(S, res, PG_DIAG_TABLE_NAME, "table");
    set_diag(S, res, PG_DIAG_COLUMN_NAME, "column");
}

static int fail_code(lua_State *L, int err)
{
    lua_pushnil(L);
    push_error(L, NULL, err, NULL);
    return 2;
}

static int out_push(lua_State *S)
{
    pgb_out_t *o = lua_touserdata(S, 1);
    lua_settop(S, 0);
    if (o->collect)
        lua_gc(S, LUA_GCCOLLECT, 0); /* finalizers may raise: only inside this pcall */
    if (o->kind == OUT_ROWS)
        return bind_pg_push_rows(S, o->st->decode_ref, o->res);
    if (o->kind == OUT_PIN) {
        lua_rawgeti(S, LUA_REGISTRYINDEX, o->pin->ud_ref);
        return 1;
    }
    lua_pushnil(S);
    push_error(S, o->res, o->err, o->message);
    return 2;
}

static int run_out(pgb_out_t *o)
{
    lua_State *S = o->st->scratch;
    lua_settop(S, 0);
    lua_rawgeti(S, LUA_REGISTRYINDEX, o->st->out_ref);
    lua_pushlightuserdata(S, o);
    return lua_pcall(S, 1, LUA_MULTRET, 0);
}

/* Builds the outcome on the scratch thread and moves it onto the coroutine; returns how many
 * values it pushed there. A conversion that fails becomes `nil, {code = "DB_ERROR"}`: out of
 * the VM's budget, the half-built rows are garbage that LuaJIT would not collect by itself
 * before the error table needs memory, so they are collected first. */
static int deliver(pgb_out_t *o, co_t *co)
{
    lua_State *S = o->st->scratch, *T = co_thread(co);
    int rc = run_out(o);
    if (rc != 0) {
        char why[256];
        snprintf(why, sizeof(why), "cannot convert the result: %s",
                 lua_type(S, -1) == LUA_TSTRING ? lua_tostring(S, -1) : "?");
        *o = (pgb_out_t){.kind = OUT_ERROR,
                         .st = o->st,
                         .err = PG_EDB,
                         .message = why,
                         .collect = rc == LUA_ERRMEM};
        if (run_out(o) != 0) {
            lua_pushnil(T);
            lua_xmove(S, T, 1);
            return 2;
        }
    }
    int n = lua_gettop(S);
    lua_xmove(S, T, n);
    return n;
}

/* ---- parameters ------------------------------------------------------------------------- */

static int is_param_object(lua_State *L, int i)
{
    if (!lua_getmetatable(L, i))
        return 0;
    luaL_getmetatable(L, PARAM_MT);
    int yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* PostgreSQL's words for the numbers JSON lacks; the rest as bind_number_text writes them. */
static int format_number(char *buf, size_t cap, lua_Number n)
{
    if (isnan(n))
        return snprintf(buf, cap, "NaN");
    if (isinf(n))
        return snprintf(buf, cap, n > 0 ? "Infinity" : "-Infinity");
    return bind_number_text(buf, cap, n);
}

/* Replaces argument i by its text form (param objects and NULLs stay); returns its length. */
static size_t param_normalize(lua_State *L, pgb_state_t *st, int i, int dollar)
{
    char num[64];
    size_t len = 0;
    switch (lua_type(L, i)) {
    case LUA_TNIL:
        return 0;
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, i) == NULL)
            return 0;
        break;
    case LUA_TBOOLEAN:
        lua_pushstring(L, lua_toboolean(L, i) ? "true" : "false");
        lua_replace(L, i);
        return 5;
    case LUA_TNUMBER:
        lua_pushlstring(L, num, (size_t)format_number(num, sizeof(num), lua_tonumber(L, i)));
        lua_replace(L, i);
        return lua_objlen(L, i);
    case LUA_TSTRING:
        return lua_objlen(L, i);
    case LUA_TTABLE:
        if (is_param_object(L, i)) {
            lua_rawgeti(L, i, 1);
            len = lua_objlen(L, -1);
            lua_pop(L, 1);
            return len;
        }
        lua_rawgeti(L, LUA_REGISTRYINDEX, st->encode_ref);
        lua_pushvalue(L, i);
        lua_call(L, 1, 1); /* any other table is a JSON value (json/jsonb parameters) */
        lua_replace(L, i);
        return lua_objlen(L, i);
    }
    bind_misuse(
        L, "pg: $%d is a %s, not a query parameter (nil, pg.null, boolean, number, string, table)",
        dollar, luaL_typename(L, i));
    return 0;
}

static void param_store(lua_State *L, pgb_op_t *op, int i, int slot, char **cursor)
{
    const char *s = NULL;
    size_t len = 0;
    op->formats[i] = 0;
    if (lua_type(L, slot) == LUA_TTABLE) {
        lua_rawgeti(L, slot, 2);
        op->formats[i] = lua_toboolean(L, -1);
        lua_rawgeti(L, slot, 1);
        s = lua_tolstring(L, -1, &len);
        lua_pop(L, 2);
    } else if (lua_type(L, slot) == LUA_TSTRING) {
        s = lua_tolstring(L, slot, &len);
        op->formats[i] = memchr(s, '\0', len) != NULL; /* only bytea can hold it: send raw */
    }
    op->values[i] = s ? *cursor : NULL;
    op->lengths[i] = (int)len;
    if (s) {
        memcpy(*cursor, s, len);
        (*cursor)[len] = '\0';
        *cursor += len + 1;
    }
}

/* Copies the SQL (at index first) and its parameters (after it) into one allocation. */
static pgb_op_t *op_build(lua_State *L, pgb_state_t *st, int first)
{
    size_t sqllen;
    const char *sql = luaL_checklstring(L, first, &sqllen);
    if (memchr(sql, '\0', sqllen))
        bind_misuse(L, "pg: the SQL text holds a NUL byte (pass data as a $n parameter)");
    luaL_checkstack(L, 4, "pg"); /* room for the results deliver() pushes on resume */
    int n = lua_gettop(L) - first;
    if (n > MAX_PARAMS)
        bind_misuse(L, "pg: too many parameters (%d)", n);
    size_t bytes = sqllen + 1;
    for (int i = 1; i <= n; i++)
        bytes += param_normalize(L, st, first + i, i) + 1;
    size_t arrays = (size_t)n * (sizeof(char *) + 2 * sizeof(int));
    pgb_op_t *op = calloc(1, sizeof(*op) + arrays + bytes);
    if (!op)
        bind_misuse(L, "pg: out of memory");
    op->st = st;
    op->nparams = n;
    op->values = (const char **)(op + 1);
    op->lengths = (int *)(op->values + n);
    op->formats = op->lengths + n;
    char *cursor = (char *)(op->formats + n);
    op->sql = cursor;
    memcpy(cursor, sql, sqllen + 1);
    cursor += sqllen + 1;
    for (int i = 0; i < n; i++)
        param_store(L, op, i, first + 1 + i, &cursor);
    return op;
}

/* ---- statements ------------------------------------------------------------------------- */

/* A wait that ran out while the database is up: every connection was busy, which an operator
 * must tell apart from an outage in the log. */
#define POOL_BUSY "no database connection came free within PG_POOL_WAIT_MS"
static int busy_not_down(pg_pool_t *pool)
{
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    return s.connected > 0;
}

static void op_result(pg_conn_t *conn, const PGresult *res, int err, void *ud)
{
    pgb_op_t *op = ud;
    co_t *co = op->co;
    pgb_out_t o = {.kind = err ? OUT_ERROR : OUT_ROWS, .st = op->st, .res = res, .err = err};
    if (err == PG_EUNAVAILABLE && !res && op->pool && busy_not_down(op->pool))
        o.message = POOL_BUSY;
    int n = deliver(&o, co);
    free(op);
    co_resume(co, n);
}

/* The coroutine was cancelled: its result must never arrive. */
static void op_cancel(void *ud)
{
    pgb_op_t *op = ud;
    if (op->commit) /* the server may already have it */
        log_warn("pg.tx: the request ended (deadline, client gone or drain) while its COMMIT "
                 "was in flight: the transaction may have committed; its client saw an error");
    if (op->query)
        pg_query_cancel(op->query);
    else
        pg_conn_abandon(op->conn);
    free(op);
}

static int op_start(lua_State *L, pgb_op_t *op)
{
    int rc = op->conn ? pg_conn_query(op->conn, op->sql, op->nparams, op->values, op->lengths,
                                      op->formats, op_result, op)
                      : pg_pool_query(op->pool, op->sql, op->nparams, op->values, op->lengths,
                                      op->formats, op_result, op, &op->query);
    if (rc < 0) {
        free(op);
        return fail_code(L, rc);
    }
    return co_yield_op(L, op->co, op_cancel, op);
}

static pgb_pin_t *pin_find(pgb_state_t *st, co_t *co);

/* false when the coroutine holds a pg.tx connection: pg.lua then runs it there. */
static int l_query(lua_State *L)
{
    co_t *co = check_can_wait(L, "pg.query");
    pgb_state_t *st = state(L);
    pgb_pin_t *pin = pin_find(st, co);
    if (pin && pin->conn) {
        lua_pushboolean(L, 0);
        return 1;
    }
    pg_pool_t *pool = st->host->pg;
    if (!pool)
        return bind_fail(L, "DB_UNAVAILABLE", "no database configured (DATABASE_URL is not set)");
    check_statement(L, 1, "pg.query");
    pgb_op_t *op = op_build(L, st, 1);
    op->co = co;
    op->pool = pool;
    return op_start(L, op);
}

/* ---- pinned connections (transactions) -------------------------------------------------- */

static void pin_unref(pgb_pin_t *pin)
{
    if (--pin->refs == 0)
        free(pin);
}

/* Ends the holding: unlinks, lets the userdata be collected, gives the connection back. */
static void pin_drop(pgb_pin_t *pin)
{
    if (!pin->held)
        return;
    pin->held = 0;
    if (pin->prev)
        pin->prev->next = pin->next;
    else
        pin->st->pins = pin->next;
    if (pin->next)
        pin->next->prev = pin->prev;
    luaL_unref(pin->st->scratch, LUA_REGISTRYINDEX, pin->ud_ref);
    if (pin->conn)
        pg_pool_release(pin->pool, pin->conn);
    pin->conn = NULL;
    pin_unref(pin);
}

static void pin_on_exit(void *data, int cancelled)
{
    pgb_pin_t *pin = data;
    pin->hook = NULL;
    pin_drop(pin);
}

static pgb_pin_t *pin_find(pgb_state_t *st, co_t *co)
{
    for (pgb_pin_t *p = st->pins; p; p = p->next)
        if (p->co == co)
            return p;
    return NULL;
}

/* Pushes the userdata; the pin is held (linked, anchored) until pin_drop. */
static pgb_pin_t *pin_new(lua_State *L, pgb_state_t *st, co_t *co, pg_pool_t *pool)
{
    pgb_pin_t **ud = lua_newuserdata(L, sizeof(*ud));
    *ud = NULL;
    luaL_getmetatable(L, CONN_MT);
    lua_setmetatable(L, -2);
    pgb_pin_t *pin = calloc(1, sizeof(*pin));
    if (!pin)
        bind_misuse(L, "pg: out of memory");
    *ud = pin;
    *pin = (pgb_pin_t){.st = st, .pool = pool, .co = co, .refs = 2, .held = 1};
    lua_pushvalue(L, -1);
    pin->ud_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    pin->next = st->pins;
    if (st->pins)
        st->pins->prev = pin;
    st->pins = pin;
    return pin;
}

static int pin_attach(pgb_pin_t *pin, pg_conn_t *conn)
{
    pin->conn = conn;
    pin->hook = co_on_exit(pin->co, pin_on_exit, pin);
    return pin->hook ? 0 : PG_ENOMEM;
}

static void pin_acquired(pg_conn_t *conn, int err, void *ud)
{
    pgb_pin_t *pin = ud;
    pin->waiter = NULL;
    if (err == 0)
        err = pin_attach(pin, conn);
    pgb_out_t o = {.kind = err ? OUT_ERROR : OUT_PIN, .st = pin->st, .err = err, .pin = pin};
    if (err == PG_EUNAVAILABLE && busy_not_down(pin->pool))
        o.message = POOL_BUSY;
    int n = deliver(&o, pin->co);
    if (err)
        pin_drop(pin);
    co_resume(pin->co, n);
}

static void pin_cancel_wait(void *ud)
{
    pgb_pin_t *pin = ud;
    pg_waiter_cancel(pin->waiter);
    pin->waiter = NULL;
    pin_drop(pin);
}

static int l_acquire(lua_State *L)
{
    pgb_state_t *st = state(L);
    co_t *co = check_can_wait(L, "pg.tx");
    pg_pool_t *pool = st->host->pg;
    if (!pool)
        return bind_fail(L, "DB_UNAVAILABLE", "no database configured (DATABASE_URL is not set)");
    if (pin_find(st, co))
        return bind_misuse(L, "pg.tx: this coroutine already holds a connection");
    luaL_checkstack(L, 4, "pg"); /* room for the results deliver() pushes on resume */
    pgb_pin_t *pin = pin_new(L, st, co, pool);
    pg_conn_t *conn;
    int rc = pg_pool_acquire(pool, pin_acquired, pin, &conn, &pin->waiter);
    if (rc == PG_OK)
        rc = pin_attach(pin, conn);
    if (rc < 0) {
        pin_drop(pin);
        return fail_code(L, rc);
    }
    if (rc == PG_WAIT)
        return co_yield_op(L, co, pin_cancel_wait, pin);
    return 1;
}

/* The pin of a connection userdata, checked to belong to the calling coroutine (and that it
 * can wait, for a statement). */
static pgb_pin_t *check_pin(lua_State *L, const char *fname, int will_wait)
{
    pgb_pin_t *pin = *(pgb_pin_t **)luaL_checkudata(L, 1, CONN_MT);
    co_t *co = will_wait ? check_can_wait(L, fname) : bind_check_yieldable(L, fname);
    if (!pin || !pin->held)
        bind_misuse(L, "%s: the transaction has already ended", fname);
    if (pin->co != co)
        bind_misuse(L, "%s: the transaction belongs to another request", fname);
    return pin;
}

/* Who sent a statement on a pinned connection: the script (tx:query, checked), or pg.lua for
 * its BEGIN, ROLLBACK and savepoints (control) and its COMMIT. */
enum { STMT_SCRIPT, STMT_CONTROL, STMT_COMMIT };

static int conn_query(lua_State *L, int who)
{
    pgb_pin_t *pin = check_pin(L, "tx:query", 1);
    if (who == STMT_SCRIPT)
        check_statement(L, 2, "tx:query");
    pgb_op_t *op = op_build(L, state(L), 2);
    op->co = pin->co;
    op->pool = pin->pool;
    op->conn = pin->conn;
    op->commit = who == STMT_COMMIT;
    return op_start(L, op);
}

static int l_conn_query(lua_State *L)
{
    return conn_query(L, STMT_SCRIPT);
}

static int l_conn_control(lua_State *L)
{
    return conn_query(L, STMT_CONTROL);
}

static int l_commit(lua_State *L)
{
    lua_settop(L, 1);
    lua_pushliteral(L, "COMMIT");
    return conn_query(L, STMT_COMMIT);
}

static int l_release(lua_State *L)
{
    pgb_pin_t *pin = check_pin(L, "pg.tx", 0);
    if (pin->hook)
        co_exit_hook_remove(pin->co, pin->hook);
    pin->hook = NULL;
    pin_drop(pin);
    return 0;
}

static int l_pinned(lua_State *L)
{
    co_t *co = co_current(L);
    pgb_pin_t *pin = co ? pin_find(state(L), co) : NULL;
    if (pin && pin->conn)
        lua_rawgeti(L, LUA_REGISTRYINDEX, pin->ud_ref);
    else
        lua_pushnil(L);
    return 1;
}

static int conn_gc(lua_State *L)
{
    pgb_pin_t **ud = luaL_checkudata(L, 1, CONN_MT);
    if (*ud)
        pin_unref(*ud);
    *ud = NULL;
    return 0;
}

/* ---- the rest --------------------------------------------------------------------------- */

/* param(text, binary): a pre-encoded parameter (pg.array literals, pg.bytea raw bytes). */
static int l_param(lua_State *L)
{
    luaL_checkstring(L, 1);
    lua_createtable(L, 2, 0);
    lua_pushvalue(L, 1);
    lua_rawseti(L, -2, 1);
    lua_pushboolean(L, lua_toboolean(L, 2));
    lua_rawseti(L, -2, 2);
    luaL_getmetatable(L, PARAM_MT);
    lua_setmetatable(L, -2);
    return 1;
}

/* number_text(n): n as a number parameter is sent (for pg.array's elements). */
static int l_number_text(lua_State *L)
{
    char buf[64];
    lua_pushlstring(L, buf, (size_t)format_number(buf, sizeof(buf), luaL_checknumber(L, 1)));
    return 1;
}

static int l_configure(lua_State *L)
{
    pgb_state_t *st = state(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_unref(L, LUA_REGISTRYINDEX, st->decode_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, st->encode_ref);
    lua_settop(L, 2);
    st->encode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    st->decode_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int l_stats(lua_State *L)
{
    pg_pool_t *pool = state(L)->host->pg;
    if (!pool) {
        lua_pushnil(L);
        return 1;
    }
    pg_pool_stats_t s;
    pg_pool_stats(pool, &s);
    lua_createtable(L, 0, 7);
    const struct {
        const char *name;
        lua_Number value;
    } f[] = {{"size", s.size},
             {"idle", s.idle},
             {"busy", s.busy},
             {"waiting", s.waiting},
             {"connected", s.connected},
             {"batches", (lua_Number)s.batches},
             {"batched", (lua_Number)s.batched}};
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        lua_pushnumber(L, f[i].value);
        lua_setfield(L, -2, f[i].name);
    }
    return 1;
}

int luaopen_speezy_pg_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"query", l_query},
        {"acquire", l_acquire},
        {"conn_query", l_conn_query},
        {"conn_control", l_conn_control},
        {"commit", l_commit},
        {"release", l_release},
        {"pinned", l_pinned},
        {"param", l_param},
        {"number_text", l_number_text},
        {"configure", l_configure},
        {"stats", l_stats},
        {NULL, NULL},
    };
    luaL_newmetatable(L, PARAM_MT);
    lua_pop(L, 1);
    luaL_newmetatable(L, CONN_MT);
    lua_pushcfunction(L, conn_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);

    pgb_state_t *st = lua_newuserdata(L, sizeof(*st));
    memset(st, 0, sizeof(*st));
    st->host = bind_host(L);
    int sti = lua_gettop(L);
    st->scratch = lua_newthread(L);
    st->scratch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_pushcfunction(L, out_push);
    st->out_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    st->decode_ref = st->encode_ref = LUA_NOREF;

    lua_createtable(L, 0, 14);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushvalue(L, sti);
        lua_pushcclosure(L, f->func, 1);
        lua_setfield(L, -2, f->name);
    }
    bind_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
