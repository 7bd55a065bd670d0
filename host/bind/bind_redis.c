/* bind_redis.c — speezy.redis.core: the Lua side of redis.c, wrapped by speezy/redis.lua.
 *
 * A request's commands travel as an "op" userdata that the Lua wrapper keeps in a local:
 * call()/pipeline() send and return it, wait() yields until every reply has arrived, result()
 * converts. Replies are copied in the I/O callback and turned into Lua values only after the
 * coroutine resumed, so an error while building tables (out of memory) is raised inside the
 * coroutine, never across hiredis' C frames. If the coroutine dies the op becomes garbage and
 * its __gc abandons whatever is still in flight. */
#include "bind.h"
#include "redis.h"

#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OP_MT "speezy.redis.op"
#define ARGV_STACK 16
#define MAX_SAFE_INTEGER 9007199254740992LL /* 2^53: beyond it a double loses digits */

typedef struct op op_t;

typedef struct {
    op_t *op;
    redis_cmd_t *cmd;  /* in flight */
    redisReply *reply; /* the copied reply, until result() converts it */
    int err;           /* a transport error instead of a reply */
} op_slot_t;

struct op {
    co_t *co;
    int n;
    int pending;  /* replies still to come */
    int waiting;  /* the coroutine yielded in wait() */
    int pipeline; /* results as an array (else one value, or nil, err) */
    op_slot_t slot[];
};

typedef struct {
    int argc;
    const char **argv;
    size_t *len;
    const char *small_argv[ARGV_STACK];
    size_t small_len[ARGV_STACK];
} args_t;

/* ---- arguments ---------------------------------------------------------------------- */

static void arg_error(lua_State *L, const char *fname, int cmdno, int argno, const char *what)
{
    if (cmdno)
        bind_misuse(L, "%s: command #%d, argument #%d %s", fname, cmdno, argno, what);
    bind_misuse(L, "%s: argument #%d %s", fname, argno, what);
}

static void arg_number(lua_State *L, int idx, const char *fname, int cmdno, int argno)
{
    lua_Number d = lua_tonumber(L, idx);
    char buf[64];
    if (!isfinite(d))
        arg_error(L, fname, cmdno, argno, "is not a finite number");
    lua_pushlstring(L, buf, (size_t)bind_number_text(buf, sizeof(buf), d));
    lua_replace(L, idx);
}

/* The value at (absolute) idx as an argument, a number converted to a string in place. */
static const char *arg_string(lua_State *L, int idx, const char *fname, int cmdno, int argno,
                              size_t *len)
{
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER)
        arg_number(L, idx, fname, cmdno, argno);
    else if (t != LUA_TSTRING)
        arg_error(L, fname, cmdno, argno, "must be a string or a number");
    return lua_tolstring(L, idx, len);
}

/* Points argv at the n values from stack index first on, converting numbers in place; the
 * strings stay valid while they are on the stack. */
static void args_collect(lua_State *L, int first, int n, const char *fname, int cmdno, args_t *a)
{
    a->argc = n;
    a->argv = a->small_argv;
    a->len = a->small_len;
    if (n > ARGV_STACK) {
        char *buf = lua_newuserdata(L, (size_t)n * (sizeof(char *) + sizeof(size_t)));
        a->argv = (const char **)buf;
        a->len = (size_t *)(buf + (size_t)n * sizeof(char *));
    }
    for (int i = 0; i < n; i++)
        a->argv[i] = arg_string(L, first + i, fname, cmdno, i + 1, &a->len[i]);
    if (n == 0)
        arg_error(L, fname, cmdno, 1, "is missing: no command name");
}

/* Pushes the elements of the array at index t and collects them. */
static void args_from_table(lua_State *L, int t, const char *fname, int cmdno, args_t *a)
{
    int n = (int)lua_objlen(L, t);
    luaL_checkstack(L, n + 4, "too many Redis arguments");
    int first = lua_gettop(L) + 1;
    for (int i = 1; i <= n; i++)
        lua_rawgeti(L, t, i);
    args_collect(L, first, n, fname, cmdno, a);
}

static redis_class_t check_class(lua_State *L, int argc, const char **argv, const size_t *len,
                                 const char *fname, int in_pipeline)
{
    redis_class_t cls = redis_command_class(argc, argv, len);
    const char *cmd = argv[0];
    if (cls == REDIS_CLASS_FORBIDDEN)
        bind_misuse(L,
                    "%s: %s is not supported: it would change the connection shared by every "
                    "request",
                    fname, cmd);
    if (cls == REDIS_CLASS_TX && !in_pipeline)
        bind_misuse(L,
                    "%s: %s only works inside one redis.pipeline{{'MULTI'}, ..., {'EXEC'}} "
                    "(or use redis.eval)",
                    fname, cmd);
    if (cls == REDIS_CLASS_BLOCKING && in_pipeline)
        bind_misuse(L, "%s: blocking command %s is not allowed in a pipeline; use redis.call",
                    fname, cmd);
    return cls;
}

/* A pipeline's commands, every argument converted before the first one is sent: a Lua
 * allocation can fail (the VM's memory budget), and failing half-way would leave earlier
 * commands executed, or the shared connection inside a MULTI whose EXEC was never sent. */
typedef struct {
    int *argc;         /* per command */
    const char **argv; /* every command's arguments, one command after the other */
    size_t *len;
} batch_t;

static size_t batch_count(lua_State *L, int n)
{
    size_t total = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (!lua_istable(L, -1))
            bind_misuse(L, "redis.pipeline: command #%d must be an array of arguments", i);
        total += lua_objlen(L, -1);
        lua_pop(L, 1);
    }
    return total;
}

/* Reads command i (the table on top) into b from argument k on; returns the next k. The
 * strings are anchored in the table at index keep. */
static size_t batch_command(lua_State *L, int i, int keep, size_t k, size_t total, batch_t *b)
{
    int t = lua_gettop(L), argc = (int)lua_objlen(L, t);
    if (argc == 0)
        arg_error(L, "redis.pipeline", i, 1, "is missing: no command name");
    if (k + (size_t)argc > total) /* a __gc finalizer grew it since it was counted */
        bind_misuse(L, "redis.pipeline: command #%d changed while being read", i);
    for (int j = 1; j <= argc; j++) {
        lua_rawgeti(L, t, j);
        b->argv[k] = arg_string(L, lua_gettop(L), "redis.pipeline", i, j, &b->len[k]);
        lua_rawseti(L, keep, (int)++k);
    }
    b->argc[i - 1] = argc;
    return k;
}

/* Pushes the batch's memory and the table anchoring its strings; raises on any bad command
 * or a MULTI without its EXEC (it would queue the commands of every other request). */
static void batch_build(lua_State *L, int n, batch_t *b)
{
    size_t total = batch_count(L, n), k = 0;
    if (total > INT_MAX)
        bind_misuse(L, "redis.pipeline: too many arguments");
    char *mem =
        lua_newuserdata(L, total * (sizeof(char *) + sizeof(size_t)) + (size_t)n * sizeof(int));
    b->argv = (const char **)mem;
    b->len = (size_t *)(mem + total * sizeof(char *));
    b->argc = (int *)(mem + total * (sizeof(char *) + sizeof(size_t)));
    lua_createtable(L, (int)total, 0);
    int keep = lua_gettop(L), in_multi = 0;
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        size_t first = k;
        k = batch_command(L, i, keep, k, total, b);
        lua_pop(L, 1);
        const char **argv = b->argv + first;
        const size_t *len = b->len + first;
        if (check_class(L, b->argc[i - 1], argv, len, "redis.pipeline", 1) == REDIS_CLASS_TX)
            in_multi = len[0] == 5 && strncasecmp(argv[0], "MULTI", 5) == 0;
    }
    if (in_multi)
        bind_misuse(L, "redis.pipeline: MULTI without EXEC or DISCARD");
}

/* ---- errors and replies -------------------------------------------------------------- */

static const char *err_code(int err)
{
    switch (err) {
    case REDIS_ETIMEOUT:
        return "REDIS_TIMEOUT";
    case REDIS_EBUSY:
        return "REDIS_BUSY";
    case REDIS_ENOMEM:
        return "REDIS_ERROR";
    default:
        return "REDIS_UNAVAILABLE";
    }
}

/* Error replies that mean "this server can't serve now" (a long script running, loading its
 * data, a replica without master): retryable, so REDIS_UNAVAILABLE (503), not REDIS_ERROR. */
static const char *reply_error_code(const char *msg)
{
    static const char *const transient[] = {"BUSY ", "LOADING ", "MASTERDOWN ", "TRYAGAIN ", NULL};
    for (int i = 0; transient[i]; i++)
        if (strncmp(msg, transient[i], strlen(transient[i])) == 0)
            return "REDIS_UNAVAILABLE";
    return "REDIS_ERROR";
}

static int fail_err(lua_State *L, int err)
{
    return bind_fail(L, err_code(err), "%s", redis_strerror(err));
}

static void push_integer(lua_State *L, long long v)
{
    if (v > MAX_SAFE_INTEGER || v < -MAX_SAFE_INTEGER) {
        char buf[24];
        lua_pushlstring(L, buf, (size_t)snprintf(buf, sizeof(buf), "%lld", v));
        return;
    }
    lua_pushnumber(L, (lua_Number)v);
}

/* Nested values: nil becomes the null sentinel (no holes in arrays), an error an err table.
 * Recursion is bounded: hiredis' reader refuses replies nested deeper than 7 levels. */
static void push_reply(lua_State *L, const redisReply *r, int nested)
{
    luaL_checkstack(L, 4, "Redis reply too deep");
    switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        lua_pushlstring(L, r->str, r->len);
        break;
    case REDIS_REPLY_INTEGER:
        push_integer(L, r->integer);
        break;
    case REDIS_REPLY_ARRAY:
        lua_createtable(L, (int)r->elements, 0);
        bind_mark_array(L, -1);
        for (size_t i = 0; i < r->elements; i++) {
            push_reply(L, r->element[i], 1);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case REDIS_REPLY_ERROR:
        bind_push_error(L, reply_error_code(r->str), r->str);
        break;
    default:
        if (nested)
            bind_push_null(L);
        else
            lua_pushnil(L);
    }
}

static void slot_clear(op_slot_t *s)
{
    redis_reply_free(s->reply);
    s->reply = NULL;
}

/* ---- ops ---------------------------------------------------------------------------- */

static op_t *op_push(lua_State *L, co_t *co, int n, int pipeline)
{
    op_t *op = lua_newuserdata(L, sizeof(op_t) + (size_t)n * sizeof(op_slot_t));
    memset(op, 0, sizeof(op_t) + (size_t)n * sizeof(op_slot_t));
    op->co = co;
    op->n = n;
    op->pipeline = pipeline;
    for (int i = 0; i < n; i++)
        op->slot[i].op = op;
    luaL_getmetatable(L, OP_MT);
    lua_setmetatable(L, -2);
    return op;
}

static void op_on_reply(const redisReply *reply, int err, void *ud)
{
    op_slot_t *s = ud;
    op_t *op = s->op;
    s->cmd = NULL;
    s->err = err;
    if (reply && !(s->reply = redis_reply_dup(reply)))
        s->err = REDIS_ENOMEM;
    if (--op->pending == 0 && op->waiting) {
        op->waiting = 0;
        co_resume(op->co, 0);
    }
}

static void op_abandon(op_t *op)
{
    for (int i = 0; i < op->n; i++) {
        redis_command_abandon(op->slot[i].cmd);
        op->slot[i].cmd = NULL;
    }
    op->pending = 0;
    op->waiting = 0;
}

/* co's cancel function: the request is gone, its replies will never be read. */
static void op_cancel(void *data)
{
    op_abandon(data);
}

static int op_gc(lua_State *L)
{
    op_t *op = lua_touserdata(L, 1);
    op_abandon(op);
    for (int i = 0; i < op->n; i++)
        slot_clear(&op->slot[i]);
    return 0;
}

static redis_client_t *host_client(lua_State *L)
{
    bind_host_t *host = bind_host(L);
    return host ? host->redis : NULL;
}

/* No Lua allocation from here: see batch_t. */
static int op_send(redis_client_t *client, op_t *op, int i, int argc, const char **argv,
                   const size_t *len)
{
    op_slot_t *s = &op->slot[i];
    int rc = redis_command(client, argc, argv, len, op_on_reply, s, &s->cmd);
    if (rc < 0)
        s->err = rc;
    else
        op->pending++;
    return rc;
}

/* ---- functions ---------------------------------------------------------------------- */

/* call(cmd, ...) or call(argv_array, fname) -> op | nil, err */
static int rb_call(lua_State *L)
{
    int table_form = lua_istable(L, 1);
    const char *fname = table_form ? luaL_optstring(L, 2, "redis.call") : "redis.call";
    co_t *co = bind_check_yieldable(L, fname);
    args_t a;
    if (table_form)
        args_from_table(L, 1, fname, 0, &a);
    else
        args_collect(L, 1, lua_gettop(L), fname, 0, &a);
    check_class(L, a.argc, a.argv, a.len, fname, 0);
    redis_client_t *client = host_client(L);
    if (!client)
        return bind_fail(L, "REDIS_UNAVAILABLE", "Redis is not configured (REDIS_URL)");
    op_t *op = op_push(L, co, 1, 0);
    int rc = op_send(client, op, 0, a.argc, a.argv, a.len);
    return rc < 0 ? fail_err(L, rc) : 1;
}

/* pipeline({{cmd, ...}, ...}) -> op | nil, err; every command is checked before any is sent */
static int rb_pipeline(lua_State *L)
{
    co_t *co = bind_check_yieldable(L, "redis.pipeline");
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    int n = (int)lua_objlen(L, 1);
    luaL_argcheck(L, n > 0, 1, "empty pipeline");
    batch_t b;
    batch_build(L, n, &b);
    redis_client_t *client = host_client(L);
    if (!client)
        return bind_fail(L, "REDIS_UNAVAILABLE", "Redis is not configured (REDIS_URL)");
    op_t *op = op_push(L, co, n, 1);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        op_send(client, op, i, b.argc[i], b.argv + k, b.len + k);
        k += (size_t)b.argc[i];
    }
    return op->pending ? 1 : fail_err(L, op->slot[0].err);
}

/* wait(op): yields until every reply of op has arrived. */
static int rb_wait(lua_State *L)
{
    op_t *op = luaL_checkudata(L, 1, OP_MT);
    if (op->pending == 0)
        return 0;
    co_t *co = bind_check_yieldable(L, "redis");
    if (co != op->co)
        return bind_misuse(L, "redis: a reply can only be awaited by the request that sent it");
    op->waiting = 1;
    return co_yield_op(L, co, op_cancel, op);
}

static int result_single(lua_State *L, op_slot_t *s)
{
    const redisReply *r = s->reply;
    if (!r)
        return fail_err(L, s->err);
    if (r->type == REDIS_REPLY_ERROR)
        return bind_fail(L, reply_error_code(r->str), "%s", r->str);
    push_reply(L, r, 0);
    slot_clear(s);
    return 1;
}

/* One entry per command; nil, err only when no command got a reply at all. */
static int result_pipeline(lua_State *L, op_t *op)
{
    int replied = 0;
    for (int i = 0; i < op->n; i++)
        replied += op->slot[i].reply != NULL;
    if (!replied)
        return fail_err(L, op->slot[0].err);
    lua_createtable(L, op->n, 0);
    bind_mark_array(L, -1);
    for (int i = 0; i < op->n; i++) {
        op_slot_t *s = &op->slot[i];
        if (s->reply)
            push_reply(L, s->reply, 1);
        else
            bind_push_error(L, err_code(s->err), redis_strerror(s->err));
        lua_rawseti(L, -2, i + 1);
        slot_clear(s);
    }
    return 1;
}

/* result(op) -> value | nil, err (call) or results (pipeline) */
static int rb_result(lua_State *L)
{
    op_t *op = luaL_checkudata(L, 1, OP_MT);
    if (op->pending)
        return bind_misuse(L, "redis: result read before the reply arrived");
    return op->pipeline ? result_pipeline(L, op) : result_single(L, &op->slot[0]);
}

/* sha1(script) -> 40 hex digits, the name EVALSHA knows a script by */
static int rb_sha1(lua_State *L)
{
    static const char digits[] = "0123456789abcdef";
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE];
    if (!EVP_Digest(s, n, md, &mdlen, EVP_sha1(), NULL))
        return bind_misuse(L, "redis.eval: SHA1 failed");
    for (unsigned i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    lua_pushlstring(L, hex, 2 * (size_t)mdlen);
    return 1;
}

int luaopen_speezy_redis_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"call", rb_call},     {"pipeline", rb_pipeline}, {"wait", rb_wait},
        {"result", rb_result}, {"sha1", rb_sha1},         {NULL, NULL},
    };
    if (luaL_newmetatable(L, OP_MT)) {
        lua_pushcfunction(L, op_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 6);
    luaL_register(L, NULL, fns);
    bind_push_null(L);
    lua_setfield(L, -2, "null");
    return 1;
}
