/* bind.h — what every Lua binding shares: the host context and the error convention.
 *
 * Bindings are thin: they check arguments and context, call a pure C core, and either return
 * at once or yield through co. Runtime failures return `nil, err` where err is a table
 * {code = "UPPER_SNAKE", message = "...", ...} with a __tostring; programming errors raise
 * with luaL_error naming the function. */
#ifndef SPEEZY_BIND_H
#define SPEEZY_BIND_H

#include <lua.h>
#include <lauxlib.h>
#include <uv.h>

#include "co.h"

struct config;
struct pg_pool;
struct redis_client;
struct queue_adder;
struct httpc;

/* Owned by the worker (or `speezy test`), shared by every generation's VM: pools and clients
 * belong to the host, never to a VM. */
typedef struct bind_host {
    uv_loop_t *loop;
    co_pool_t *cos; /* where request and job coroutines come from */
    const struct config *cfg;
    struct pg_pool *pg;              /* NULL when no database is configured */
    struct redis_client *redis;      /* NULL when no Redis is configured */
    struct queue_adder *queue_adder; /* batches queue.add per loop turn; NULL without Redis */
    struct httpc *httpc;             /* outgoing HTTP (speezy.http); NULL outside a loop */
    const char *generation;          /* hash of the generation being built or served */
    /* Pushes field `name` (path, query_string, body, ip, id, headers) of request number
     * `serial`, which co must be serving; returns -1 (pushing nothing) otherwise. Set by the
     * worker: requests build these only when a script reads them. */
    int (*request_field)(lua_State *L, co_t *co, lua_Number serial, const char *name);
} bind_host_t;

/* Stores the host pointer in L's registry; called once per lua_State by vm. */
void bind_set_host(lua_State *L, bind_host_t *host);
bind_host_t *bind_host(lua_State *L);

/* For bindings that yield: the caller's coroutine, or a luaL_error naming fname when there is
 * none (script top level) or it can't yield from here (inside table.sort, gsub...). Call it
 * before starting any I/O. */
co_t *bind_check_yieldable(lua_State *L, const char *fname);

/* Raises a programming error (luaL_error's format) located at the script's call, not at the
 * host library wrapper between them. */
int bind_misuse(lua_State *L, const char *fmt, ...);

/* Pushes nil and an error table; returns 2 so a binding can `return bind_fail(...)`. */
int bind_fail(lua_State *L, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Pushes just the error table (for callbacks that push results onto a coroutine). */
void bind_push_error(lua_State *L, const char *code, const char *message);
/* Whether the value at idx is such an error table (speezy.app answers a raised one as
 * app.fail(err) would). */
int bind_is_error(lua_State *L, int idx);

/* A finite number as pg and redis send it: integers without exponent ("10", not "1e+01"; an
 * int8 column refuses "1e+15"), others in the fewest digits that read back to the same double
 * ("0.1", not "0.10000000000000001"). Returns the length written into buf (64 bytes do). */
int bind_number_text(char *buf, size_t cap, lua_Number n);

/* The null sentinel shared by pg, redis and JSON (cjson.null, a NULL lightuserdata). */
void bind_push_null(lua_State *L);

/* Lists: a table with the array metatable always encodes as a JSON array, even empty. */
void bind_push_array_mt(lua_State *L);
void bind_mark_array(lua_State *L, int idx);
/* The body json._envelope_held(t) left in L's encoder buffer: valid until L encodes again. */
const char *bind_json_held(lua_State *L, size_t *len);
/* json.decode(s) -> value | nil, "message at character N" (bind_json_decode.c) */
int bind_json_decode(lua_State *L);
/* Pushes a value json_read (host/json_read.h) read as json.decode would: 0, or a negative code
 * after an out-of-memory (nothing pushed). */
struct json_read_value;
int bind_json_push_value(lua_State *L, const struct json_read_value *v);

/* Adds core.spawn, core.wait and core.owner to the speezy.core table on top of L
 * (bind_thread.c). */
void bind_thread_open(lua_State *L);

/* Registers every speezy.* C module in package.preload. */
void bind_open_all(lua_State *L);

/* Each C module (one file each under host/bind/). */
int luaopen_speezy_core(lua_State *L);       /* sleep, now, log, env: bind_core.c */
int luaopen_speezy_json(lua_State *L);       /* bind_json.c */
int luaopen_speezy_pg_core(lua_State *L);    /* bind_pg.c */
int luaopen_speezy_redis_core(lua_State *L); /* bind_redis.c */
int luaopen_speezy_ready_core(lua_State *L); /* bind_ready.c */
int luaopen_speezy_queue_core(lua_State *L); /* bind_queue.c */
int luaopen_speezy_http_core(lua_State *L);  /* bind_http.c */
int luaopen_speezy_crypto(lua_State *L);     /* bind_crypto.c */
int luaopen_speezy_jwt_core(lua_State *L);   /* bind_jwt.c */
int luaopen_speezy_otp_core(lua_State *L);   /* bind_otp.c */
int luaopen_speezy_sms_core(lua_State *L);   /* bind_sms.c */
int luaopen_speezy_regex(lua_State *L);      /* bind_regex.c */
/* bind_graphql.c */
int luaopen_speezy_graphql_core(lua_State *L);

#endif
