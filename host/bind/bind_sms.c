/* bind_sms.c — speezy.sms.core: the Lua side of sms.c, wrapped by speezy/sms.lua.
 *
 *   send(t) -> true | op | nil, err   checks t (a misuse raises, naming the script's
 *                                     file:line) and sends through SMS_PROVIDER's adapter:
 *                                     the outbox is done at once (true), http gives an op
 *   wait(op)                          yields until the provider answered, or failed to
 *   result(op) -> true | nil, err
 * The provider's URL and SMS_HTTP_AUTH stay here, in the host's config: scripts name neither.
 * As in bind_http.c, a coroutine that is gone (deadline, client gone, a reload's sweep)
 * abandons its request through co's cancel, or the op's __gc. */
#include <stdio.h>
#include <string.h>

#include "../config.h"
#include "../sms.h"
#include "bind.h"

#define SMS_OP_MT "speezy.sms.op"
#define SMS_TO_MAX 32     /* bytes of a phone number, with room for "+", spaces and dashes */
#define SMS_BODY_MAX 1600 /* bytes of a text: what providers take, ten 160-character parts */
#define SMS_OTP_MAX 32

typedef struct {
    co_t *co;       /* while it waits */
    sms_req_t *req; /* while in flight */
    int done;
    int rc;
    int status;
    char message[384];
} sms_op_t;

/* ---- the message table ---------------------------------------------------------------- */

static const char *sb_typename(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

static void sb_check_keys(lua_State *L, int t)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        if (!k || (strcmp(k, "to") != 0 && strcmp(k, "body") != 0 && strcmp(k, "otp") != 0))
            bind_misuse(L, "sms.send: unknown field %s (to, body, otp)",
                        k ? k : sb_typename(L, -1));
    }
}

/* t[name] as a string of 1 to max bytes (or NULL when optional and absent). */
static const char *sb_string(lua_State *L, int t, const char *name, size_t max, int optional)
{
    lua_getfield(L, t, name);
    if (lua_isnil(L, -1) && optional)
        return NULL;
    if (lua_isnil(L, -1))
        bind_misuse(L, "sms.send: %s is required", name);
    /* a number would lose a code's leading zeros ("012345"), so only strings */
    if (lua_type(L, -1) != LUA_TSTRING)
        bind_misuse(L, "sms.send: %s must be a string, got %s", name, sb_typename(L, -1));
    size_t len = lua_objlen(L, -1);
    if (len == 0 || len > max)
        bind_misuse(L, "sms.send: %s must be 1 to %d bytes, got %d", name, (int)max, (int)len);
    if (strlen(lua_tostring(L, -1)) != len)
        bind_misuse(L, "sms.send: %s holds a NUL byte", name);
    return lua_tostring(L, -1); /* anchored in t */
}

/* ---- ops ------------------------------------------------------------------------------ */

static void sb_on_done(int rc, int status, const char *message, void *ud)
{
    sms_op_t *op = ud;
    op->req = NULL;
    op->done = 1;
    op->rc = rc;
    op->status = status;
    snprintf(op->message, sizeof(op->message), "%s", message);
    co_t *co = op->co;
    op->co = NULL;
    if (co)
        co_resume(co, 0);
}

/* co's cancel function: the coroutine is gone, nobody will read the answer. */
static void sb_cancel(void *p)
{
    sms_op_t *op = p;
    sms_request_abandon(op->req);
    op->req = NULL;
    op->co = NULL;
}

static int sb_gc(lua_State *L)
{
    sms_op_t *op = luaL_checkudata(L, 1, SMS_OP_MT);
    sms_request_abandon(op->req);
    op->req = NULL;
    return 0;
}

static const char *sb_code(int rc)
{
    return rc == SMS_EFAILED ? "SMS_FAILED" : "SMS_UNAVAILABLE";
}

/* ---- functions ------------------------------------------------------------------------ */

static int sb_send_http(lua_State *L, const config_t *cfg, const sms_message_t *m)
{
    sms_op_t *op = lua_newuserdata(L, sizeof(*op));
    memset(op, 0, sizeof(*op));
    luaL_getmetatable(L, SMS_OP_MT);
    lua_setmetatable(L, -2);
    sms_http_t conf = {.url = cfg->sms_http_url,
                       .auth = cfg->sms_http_auth,
                       .timeout_ms = cfg->sms_http_timeout_ms};
    char msg[320];
    int rc =
        sms_http_send(bind_host(L)->httpc, &conf, m, sb_on_done, op, &op->req, msg, sizeof(msg));
    if (rc < 0)
        return bind_fail(L, sb_code(rc), "%s", msg);
    return 1;
}

/* send{to, body, otp} -> true | op | nil, err */
static int sb_send(lua_State *L)
{
    bind_check_yieldable(L, "sms.send");
    if (!lua_istable(L, 1))
        return bind_misuse(L,
                           "sms.send: expected a table {to = ..., body = ..., otp = ...}, got %s",
                           sb_typename(L, 1));
    lua_settop(L, 1);
    sb_check_keys(L, 1);
    sms_message_t m = {.to = sb_string(L, 1, "to", SMS_TO_MAX, 0),
                       .body = sb_string(L, 1, "body", SMS_BODY_MAX, 0),
                       .otp = sb_string(L, 1, "otp", SMS_OTP_MAX, 1)};
    const config_t *cfg = bind_host(L)->cfg;
    char msg[320];
    switch (cfg ? cfg->sms_provider : CONFIG_SMS_NONE) {
    case CONFIG_SMS_OUTBOX:
        if (sms_outbox_append(cfg->sms_outbox_path, &m, msg, sizeof(msg)) < 0)
            return bind_fail(L, "SMS_UNAVAILABLE", "%s", msg);
        lua_pushboolean(L, 1);
        return 1;
    case CONFIG_SMS_HTTP:
        return sb_send_http(L, cfg, &m);
    default:
        return bind_fail(L, "SMS_UNAVAILABLE", "no SMS provider: set SMS_PROVIDER");
    }
}

/* wait(op): yields until the provider answered. */
static int sb_wait(lua_State *L)
{
    sms_op_t *op = luaL_checkudata(L, 1, SMS_OP_MT);
    if (op->done)
        return 0;
    co_t *co = bind_check_yieldable(L, "sms.send");
    op->co = co;
    return co_yield_op(L, co, sb_cancel, op);
}

/* result(op) -> true | nil, err (err.status: the provider's answer, for SMS_FAILED) */
static int sb_result(lua_State *L)
{
    sms_op_t *op = luaL_checkudata(L, 1, SMS_OP_MT);
    if (!op->done)
        return luaL_error(L, "speezy.sms.core.result: the answer has not come yet");
    if (op->rc == 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    bind_fail(L, sb_code(op->rc), "%s", op->message);
    if (op->status > 0) {
        lua_pushinteger(L, op->status);
        lua_setfield(L, -2, "status");
    }
    return 2;
}

int luaopen_speezy_sms_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"send", sb_send},
        {"wait", sb_wait},
        {"result", sb_result},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, SMS_OP_MT)) {
        lua_pushcfunction(L, sb_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    luaL_register(L, NULL, fns);
    return 1;
}
