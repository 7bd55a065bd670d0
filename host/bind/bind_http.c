/* bind_http.c — speezy.http.core: the Lua side of httpc.c, wrapped by speezy/http.lua.
 *
 *   request(t) -> op | nil, err   checks t (a misuse raises, naming the script's file:line)
 *                                 and starts the request
 *   wait(op)                      yields until the answer, or the failure, came
 *   result(op) -> res | nil, err  res = {status, headers = {lower-case name = value}, body}
 * As in bind_redis.c, the callback keeps the answer in C and it becomes Lua values only after
 * the coroutine resumed. A coroutine that is gone (deadline, client gone, a reload's sweep)
 * abandons its request through co's cancel, or the op's __gc: the transfer stops and its
 * answer is never delivered. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../config.h"
#include "../httpc.h"
#include "bind.h"

#define HTTP_OP_MT "speezy.http.op"
#define HTTP_FOLLOW_TRUE 5          /* follow = true: this many redirects at most */
#define HTTP_TIMEOUT_MAX_MS 3600000 /* a request's timeout, at most */

typedef struct {
    co_t *co;         /* while it waits */
    httpc_req_t *req; /* while in flight */
    int done;
    int err;
    httpc_response_t *res;
    char message[320];
} http_op_t;

/* ---- the request table ---------------------------------------------------------------- */

static const char *hb_typename(lua_State *L, int idx)
{
    return lua_typename(L, lua_type(L, idx));
}

/* Every key of t is one we know: a typo (`header =`) would otherwise send something else. */
static void hb_check_keys(lua_State *L, int t)
{
    static const char *const known[] = {"method",  "url",    "headers", "body",
                                        "timeout", "follow", NULL};
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            bind_misuse(L, "http.request: option names are strings, got a %s", hb_typename(L, -1));
        const char *k = lua_tostring(L, -1);
        int i = 0;
        while (known[i] && strcmp(known[i], k) != 0)
            i++;
        if (!known[i])
            bind_misuse(L,
                        "http.request: unknown option %s (method, url, headers, body, "
                        "timeout, follow)",
                        k);
    }
}

static const char *hb_method(lua_State *L, int t)
{
    lua_getfield(L, t, "method");
    if (lua_isnil(L, -1))
        return "GET";
    if (lua_type(L, -1) != LUA_TSTRING)
        bind_misuse(L, "http.request: method must be a string, got %s", hb_typename(L, -1));
    const char *m = lua_tostring(L, -1);
    for (const char *p = m; *p; p++)
        if (!isupper((unsigned char)*p))
            bind_misuse(L,
                        "http.request: method must be an upper-case HTTP method such as "
                        "\"POST\", got \"%s\"",
                        m);
    if (!*m)
        bind_misuse(L, "http.request: method is empty");
    return m; /* anchored in t */
}

/* The headers table as name/value pairs in a userdata (pushed), the number values turned into
 * strings anchored in a table (pushed below it). */
static httpc_header_t *hb_headers(lua_State *L, int t, size_t *n)
{
    *n = 0;
    lua_getfield(L, t, "headers");
    int h = lua_gettop(L);
    if (lua_isnil(L, h))
        return NULL;
    if (!lua_istable(L, h))
        bind_misuse(L, "http.request: headers must be a table of name = value, got %s",
                    hb_typename(L, h));
    size_t count = 0;
    for (lua_pushnil(L); lua_next(L, h); lua_pop(L, 1))
        count++;
    lua_newtable(L); /* anchors converted values */
    int keep = lua_gettop(L);
    httpc_header_t *list = lua_newuserdata(L, (count ? count : 1) * sizeof(httpc_header_t));
    size_t i = 0;
    for (lua_pushnil(L); lua_next(L, h) && i < count; lua_pop(L, 1), i++) {
        if (lua_type(L, -2) != LUA_TSTRING)
            bind_misuse(L, "http.request: header names must be strings, got %s",
                        hb_typename(L, -2));
        const char *name = lua_tostring(L, -2);
        if (lua_type(L, -1) == LUA_TNUMBER) {
            char buf[64];
            lua_Number v = lua_tonumber(L, -1);
            if (!isfinite(v))
                bind_misuse(L, "http.request: header %s is not a finite number", name);
            lua_pushlstring(L, buf, (size_t)bind_number_text(buf, sizeof(buf), v));
            lua_rawseti(L, keep, (int)i + 1);
            lua_rawgeti(L, keep, (int)i + 1);
            lua_replace(L, -2);
        } else if (lua_type(L, -1) != LUA_TSTRING) {
            bind_misuse(L, "http.request: header %s must be a string or a number, got %s", name,
                        hb_typename(L, -1));
        }
        if (strlen(lua_tostring(L, -1)) != lua_objlen(L, -1))
            bind_misuse(L, "http.request: header %s holds a NUL byte", name);
        list[i].name = name; /* keys and string values stay in the headers table */
        list[i].value = lua_tostring(L, -1);
    }
    *n = i;
    return list;
}

static unsigned hb_timeout(lua_State *L, int t)
{
    lua_getfield(L, t, "timeout");
    if (lua_isnil(L, -1))
        return bind_host(L)->cfg->http_timeout_ms;
    lua_Number ms = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(ms >= 1 && ms <= HTTP_TIMEOUT_MAX_MS))
        bind_misuse(L, "http.request: timeout must be a number of milliseconds from 1 to %d",
                    HTTP_TIMEOUT_MAX_MS);
    return (unsigned)ms;
}

static int hb_follow(lua_State *L, int t)
{
    lua_getfield(L, t, "follow");
    if (lua_isnil(L, -1))
        return 0;
    if (lua_isboolean(L, -1))
        return lua_toboolean(L, -1) ? HTTP_FOLLOW_TRUE : 0;
    lua_Number n = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || n != floor(n) || n < 0 || n > HTTPC_MAX_REDIRECTS)
        bind_misuse(L,
                    "http.request: follow must be true, false or a number of redirects "
                    "from 0 to %d",
                    HTTPC_MAX_REDIRECTS);
    return (int)n;
}

/* ---- ops ------------------------------------------------------------------------------ */

static void hb_on_done(int err, httpc_response_t *res, const char *message, void *ud)
{
    http_op_t *op = ud;
    op->req = NULL;
    op->done = 1;
    op->err = err;
    op->res = res;
    if (message)
        snprintf(op->message, sizeof(op->message), "%s", message);
    co_t *co = op->co;
    op->co = NULL;
    if (co)
        co_resume(co, 0);
}

/* co's cancel function: the coroutine is gone, nobody will read the answer. */
static void hb_cancel(void *p)
{
    http_op_t *op = p;
    httpc_request_abandon(op->req);
    op->req = NULL;
    op->co = NULL;
}

static int hb_gc(lua_State *L)
{
    http_op_t *op = luaL_checkudata(L, 1, HTTP_OP_MT);
    httpc_request_abandon(op->req);
    op->req = NULL;
    httpc_response_free(op->res);
    op->res = NULL;
    return 0;
}

static const char *hb_code(int err)
{
    switch (err) {
    case HTTPC_ETIMEOUT:
        return "HTTP_TIMEOUT";
    case HTTPC_ECONNECT:
        return "HTTP_CONNECT";
    case HTTPC_ETLS:
        return "HTTP_TLS";
    case HTTPC_ETOO_LARGE:
        return "HTTP_TOO_LARGE";
    default:
        return "HTTP_FAILED";
    }
}

/* ---- functions ------------------------------------------------------------------------ */

/* request{method, url, headers, body, timeout, follow} -> op | nil, err */
static int hb_request(lua_State *L)
{
    bind_check_yieldable(L, "http.request");
    if (!lua_istable(L, 1))
        return bind_misuse(L,
                           "http.request: expected a table {method = ..., url = ..., ...}, "
                           "got %s",
                           hb_typename(L, 1));
    lua_settop(L, 1);
    hb_check_keys(L, 1);
    httpc_request_t q = {.method = hb_method(L, 1)};
    lua_getfield(L, 1, "url");
    if (lua_isnil(L, -1))
        return bind_misuse(L, "http.request: url is required");
    if (lua_type(L, -1) != LUA_TSTRING)
        return bind_misuse(L, "http.request: url must be a string, got %s", hb_typename(L, -1));
    q.url = lua_tostring(L, -1);
    if (strlen(q.url) != lua_objlen(L, -1))
        return bind_fail(L, "HTTP_FAILED", "bad URL: it holds a NUL byte");
    q.headers = hb_headers(L, 1, &q.nheaders);
    lua_getfield(L, 1, "body");
    if (!lua_isnil(L, -1) && lua_type(L, -1) != LUA_TSTRING)
        return bind_misuse(L, "http.request: body must be a string (json.encode a table), got %s",
                           hb_typename(L, -1));
    q.body = lua_tolstring(L, -1, &q.body_len);
    q.timeout_ms = hb_timeout(L, 1);
    q.max_redirects = hb_follow(L, 1);
    httpc_t *client = bind_host(L)->httpc;
    if (!client)
        return bind_fail(L, "HTTP_FAILED", "no outgoing HTTP client here");
    http_op_t *op = lua_newuserdata(L, sizeof(*op));
    memset(op, 0, sizeof(*op));
    luaL_getmetatable(L, HTTP_OP_MT);
    lua_setmetatable(L, -2);
    char msg[256];
    int rc = httpc_request(client, &q, hb_on_done, op, &op->req, msg, sizeof(msg));
    if (rc == HTTPC_EINVAL)
        return bind_misuse(L, "http.request: %s", msg);
    if (rc < 0)
        return bind_fail(L, hb_code(rc), "%s", msg[0] ? msg : httpc_strerror(rc));
    return 1;
}

/* wait(op): yields until the answer came. */
static int hb_wait(lua_State *L)
{
    http_op_t *op = luaL_checkudata(L, 1, HTTP_OP_MT);
    if (op->done)
        return 0;
    co_t *co = bind_check_yieldable(L, "http.request");
    op->co = co;
    return co_yield_op(L, co, hb_cancel, op);
}

/* Names in lower case; a name sent twice gets its values joined with ", " (RFC 9110 5.3). */
static void hb_push_headers(lua_State *L, const httpc_response_t *res)
{
    lua_createtable(L, 0, (int)res->nheaders);
    for (size_t i = 0; i < res->nheaders; i++) {
        luaL_Buffer b;
        luaL_buffinit(L, &b);
        for (const char *p = res->headers[i].name; *p; p++)
            luaL_addchar(&b, (char)tolower((unsigned char)*p));
        luaL_pushresult(&b);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushstring(L, res->headers[i].value);
        } else {
            lua_pushliteral(L, ", ");
            lua_pushstring(L, res->headers[i].value);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* result(op) -> {status, headers, body} | nil, err */
static int hb_result(lua_State *L)
{
    http_op_t *op = luaL_checkudata(L, 1, HTTP_OP_MT);
    if (!op->done)
        return luaL_error(L, "speezy.http.core.result: the answer has not come yet");
    if (op->err)
        return bind_fail(L, hb_code(op->err), "%s",
                         op->message[0] ? op->message : httpc_strerror(op->err));
    lua_createtable(L, 0, 3);
    lua_pushinteger(L, op->res->status);
    lua_setfield(L, -2, "status");
    hb_push_headers(L, op->res);
    lua_setfield(L, -2, "headers");
    lua_pushlstring(L, op->res->body, op->res->body_len);
    lua_setfield(L, -2, "body");
    httpc_response_free(op->res);
    op->res = NULL;
    return 1;
}

int luaopen_speezy_http_core(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"request", hb_request},
        {"wait", hb_wait},
        {"result", hb_result},
        {NULL, NULL},
    };
    if (luaL_newmetatable(L, HTTP_OP_MT)) {
        lua_pushcfunction(L, hb_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    lua_createtable(L, 0, 3);
    luaL_register(L, NULL, fns);
    return 1;
}
