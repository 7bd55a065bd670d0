/* bind_queue.c — speezy.queue.core: what speezy/queue.lua needs from the queue's C core.
 *
 *   prefix                      the Redis key prefix of every queue ("sq:")
 *   script(name) -> text        a queue script (common.lua + its own), as the consumer runs it
 *   cron_check(expr) -> true | false, message
 *   add(args) -> op | nil, err  one job (add.lua's 12 values), batched with the turn's others
 *   wait(op)                    yields until Redis answered
 *   result(op) -> id | nil, err
 * The answer is copied into the op in the I/O callback and becomes Lua values only after the
 * coroutine resumed (as in bind_redis.c). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bind.h"
#include "cron.h"
#include "queue.h"
#include "redis.h"

static int qb_script(lua_State *L)
{
    queue_script_t s;
    size_t len;
    const char *text;
    if (queue_script_by_name(luaL_checkstring(L, 1), &s) < 0 ||
        !(text = queue_script_text(s, &len)))
        return luaL_error(L, "speezy.queue.core.script: no queue script %s", lua_tostring(L, 1));
    lua_pushlstring(L, text, len);
    return 1;
}

/* Syntax, and that the expression fires at all ("0 0 30 2 *" never does). */
static int qb_cron_check(lua_State *L)
{
    cron_expr_t e;
    char err[256];
    if (cron_parse(luaL_checkstring(L, 1), &e, err, sizeof(err)) < 0) {
        lua_pushboolean(L, 0);
        lua_pushstring(L, err);
        return 2;
    }
    if (cron_next(&e, (int64_t)time(NULL) * 1000) < 0) {
        lua_pushboolean(L, 0);
        lua_pushfstring(L, "cron: %s never fires", lua_tostring(L, 1));
        return 2;
    }
    lua_pushboolean(L, 1);
    return 1;
}

/* ---- queue.add ---------------------------------------------------------------------------- */

#define ADD_MT "speezy.queue.add"

typedef struct {
    co_t *co;             /* while it waits */
    queue_add_req_t *req; /* while Redis has not answered */
    int done;
    int err;
    char *text; /* the id, or Redis' message */
    size_t len;
} add_op_t;

static void qb_add_on_reply(const char *id, size_t id_len, int created, int err,
                            const char *message, void *ud)
{
    add_op_t *op = ud;
    (void)created;
    op->req = NULL;
    op->done = 1;
    op->err = err;
    const char *t = err ? message : id;
    op->len = err ? (message ? strlen(message) : 0) : id_len;
    if (t && (op->text = malloc(op->len + 1))) {
        memcpy(op->text, t, op->len);
        op->text[op->len] = '\0';
    } else if (!err) {
        op->err = REDIS_ENOMEM;
    }
    co_t *co = op->co;
    op->co = NULL;
    if (co)
        co_resume(co, 0);
}

static void qb_add_cancel(void *p)
{
    add_op_t *op = p;
    queue_add_abandon(op->req);
    op->req = NULL;
    op->co = NULL;
}

static int qb_add_gc(lua_State *L)
{
    add_op_t *op = luaL_checkudata(L, 1, ADD_MT);
    queue_add_abandon(op->req);
    op->req = NULL;
    free(op->text);
    op->text = NULL;
    return 0;
}

static int qb_add(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    bind_check_yieldable(L, "queue.add");
    bind_host_t *host = bind_host(L);
    if (!host->queue_adder)
        return bind_fail(L, "QUEUE_UNAVAILABLE", "no Redis is configured (REDIS_URL)");
    const char *argv[12];
    size_t len[12];
    for (int i = 0; i < 12; i++) {
        lua_rawgeti(L, 1, i + 1);
        if (!(argv[i] = lua_tolstring(L, -1, &len[i])))
            return luaL_error(L, "speezy.queue.core.add: value %d is not a string", i + 1);
    } /* the strings stay on the stack until the call returns */
    add_op_t *op = lua_newuserdata(L, sizeof(*op));
    memset(op, 0, sizeof(*op));
    luaL_getmetatable(L, ADD_MT);
    lua_setmetatable(L, -2);
    int rc = queue_adder_add(host->queue_adder, argv, len, qb_add_on_reply, op, &op->req);
    if (rc < 0)
        return bind_fail(L, "QUEUE_UNAVAILABLE", "%s", redis_strerror(rc));
    return 1;
}

static int qb_wait(lua_State *L)
{
    add_op_t *op = luaL_checkudata(L, 1, ADD_MT);
    if (op->done)
        return 0;
    co_t *co = bind_check_yieldable(L, "queue.add");
    op->co = co;
    return co_yield_op(L, co, qb_add_cancel, op);
}

static int qb_result(lua_State *L)
{
    add_op_t *op = luaL_checkudata(L, 1, ADD_MT);
    if (!op->done)
        return luaL_error(L, "speezy.queue.core.result: the add has not been answered yet");
    if (op->err)
        return bind_fail(L, "QUEUE_UNAVAILABLE", "%s",
                         op->text ? op->text : redis_strerror(op->err));
    lua_pushlstring(L, op->text, op->len);
    return 1;
}

int luaopen_speezy_queue_core(lua_State *L)
{
    static const luaL_Reg fns[] = {{"script", qb_script}, {"cron_check", qb_cron_check},
                                   {"add", qb_add},       {"wait", qb_wait},
                                   {"result", qb_result}, {NULL, NULL}};
    luaL_newmetatable(L, ADD_MT);
    lua_pushcfunction(L, qb_add_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
    lua_newtable(L);
    luaL_register(L, NULL, fns);
    lua_pushliteral(L, QUEUE_PREFIX);
    lua_setfield(L, -2, "prefix");
    return 1;
}
