/* bind_thread.c — light threads: core.spawn(fn, ...) and core.wait(t), on co_spawn.
 *
 * A thread is a userdata anchored in the registry while its co runs. When the co ends, its
 * results (or the error value as raised) move into a table kept as the userdata's environment,
 * so any number of core.wait calls, before or after the end, get the same answer. A waiting co
 * is linked to the thread by a waiter, its pending op; the end wakes every waiter with co_wake.
 * A thread cancelled with its owner wakes nobody: its waiters belong to the same owner and are
 * being cancelled too. */
#include <stdlib.h>

#include "bind.h"

#define THREAD_MT "speezy.thread"

typedef enum {
    THREAD_RUNNING,
    THREAD_RETURNED, /* results in the environment table, 1..nvalues */
    THREAD_RAISED,   /* the error value at [1] */
    THREAD_CANCELLED /* its owner ended first */
} thread_state_t;

typedef struct thread_waiter thread_waiter_t;

typedef struct {
    co_t *co;       /* while it runs */
    uint64_t owner; /* co_id of the owner */
    thread_state_t state;
    int nvalues;
    int ref; /* anchors the userdata while it runs */
    thread_waiter_t *waiters;
} thread_t;

struct thread_waiter {
    thread_t *target; /* NULL once the target was cancelled */
    co_t *co;
    thread_waiter_t *prev, *next;
};

static void waiter_unlink(thread_waiter_t *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        w->target->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->target = NULL;
}

/* The pending op of a waiting co, when the co is cancelled. */
static void thread_wait_cancel(void *op)
{
    thread_waiter_t *w = op;
    if (w->target)
        waiter_unlink(w);
    free(w);
}

/* Pushes what core.wait answers for a finished thread, the userdata at idx: true and its
 * results, false and its error; returns how many. W's stack must have room (the caller checks). */
static int thread_push_outcome(lua_State *W, int idx, const thread_t *t)
{
    if (t->state == THREAD_CANCELLED) {
        lua_pushboolean(W, 0);
        lua_pushliteral(W, "core.wait: the thread was cancelled");
        return 2;
    }
    lua_pushboolean(W, t->state == THREAD_RETURNED);
    if (t->nvalues == 0)
        return 1;
    lua_getfenv(W, idx);
    for (int i = 1; i <= t->nvalues; i++)
        lua_rawgeti(W, -i, i);
    lua_remove(W, -t->nvalues - 1);
    return 1 + t->nvalues;
}

typedef struct {
    thread_t *t;
    lua_State *T; /* the ended co's thread, holding the values */
    int n;
} thread_keep_t;

/* Under lua_cpcall on the main state: the values of the ended thread into a table, the
 * userdata's environment. */
static int thread_keep(lua_State *L)
{
    thread_keep_t *k = lua_touserdata(L, 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, k->t->ref);
    lua_createtable(L, k->n, 0);
    lua_xmove(k->T, L, k->n);
    for (int i = k->n; i >= 1; i--)
        lua_rawseti(L, -1 - i, i);
    lua_setfenv(L, -2);
    return 0;
}

/* Wakes every waiter with the outcome, pushed onto its own stack. */
static void thread_wake_all(lua_State *L, thread_t *t)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
    while (t->waiters) {
        thread_waiter_t *w = t->waiters;
        waiter_unlink(w);
        co_t *co = w->co;
        free(w);
        lua_State *W = co_thread(co);
        int n;
        if (lua_checkstack(W, t->nvalues + 3)) {
            lua_pushvalue(L, -1);
            lua_xmove(L, W, 1);
            n = thread_push_outcome(W, lua_gettop(W), t);
            lua_remove(W, -n - 1);
        } else {
            lua_pushboolean(W, 0);
            lua_pushliteral(W, "core.wait: too many results");
            n = 2;
        }
        co_wake(co, n);
    }
    lua_pop(L, 1);
}

static void thread_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    thread_t *t = ud;
    lua_State *L = co_main(co);
    t->co = NULL;
    if (status == CO_OK || status == CO_ERROR) {
        t->state = status == CO_OK ? THREAD_RETURNED : THREAD_RAISED;
        t->nvalues = 0;
        if (nresults > 0) {
            thread_keep_t k = {t, co_thread(co), nresults};
            if (lua_cpcall(L, thread_keep, &k) == 0) {
                t->nvalues = nresults;
            } else { /* out of memory: the values are lost, say why */
                lua_pop(L, 1);
                t->state = THREAD_RAISED;
                lua_pushliteral(co_thread(co), "not enough memory");
                k.n = 1;
                if (lua_cpcall(L, thread_keep, &k) == 0)
                    t->nvalues = 1;
                else
                    lua_pop(L, 1);
            }
        }
        thread_wake_all(L, t);
    } else {
        t->state = THREAD_CANCELLED;
        while (t->waiters)
            waiter_unlink(t->waiters);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    co_free(co);
}

/* core.spawn(fn, ...): runs fn(...) at once as a new thread of the caller's owner, until it
 * yields or ends; returns the thread. Raises nothing once fn has started (LuaJIT: a C function
 * that resumed another coroutine must return normally). */
static int core_spawn(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TFUNCTION);
    co_t *parent = co_current(L);
    if (!parent)
        return bind_misuse(L, "core.spawn: threads run only inside a request, a job or a test "
                              "(not at script top level, nor in a coroutine of the script's own)");
    int nargs = lua_gettop(L) - 1;
    thread_t *t = lua_newuserdata(L, sizeof(*t));
    *t = (thread_t){.owner = co_id(co_owner(parent)), .ref = LUA_NOREF};
    luaL_getmetatable(L, THREAD_MT);
    lua_setmetatable(L, -2);
    co_t *co = co_spawn(parent, thread_done, t);
    if (!co)
        return luaL_error(L, "core.spawn: out of memory");
    lua_State *T = co_thread(co);
    if (!lua_checkstack(T, nargs + 1)) {
        co_cancel(co);
        return luaL_error(L, "core.spawn: too many arguments");
    }
    t->co = co;
    lua_pushvalue(L, -1);
    t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_insert(L, 1);           /* the thread, below fn and its arguments */
    lua_xmove(L, T, nargs + 1); /* fn and the arguments */
    co_start(co, nargs);
    return 1;
}

/* Whether me waiting for t would close a circle: t waits (through the threads it waits for)
 * for me. */
static int thread_would_deadlock(const thread_t *t, const co_t *me)
{
    while (t && t->state == THREAD_RUNNING) {
        if (t->co == me)
            return 1;
        const thread_waiter_t *w = co_pending_op(t->co, thread_wait_cancel);
        t = w ? w->target : NULL;
    }
    return 0;
}

/* core.wait(t): true and t's results, or false and its error as raised; waits while t runs. */
static int core_wait(lua_State *L)
{
    thread_t *t = luaL_checkudata(L, 1, THREAD_MT);
    lua_settop(L, 1);
    co_t *me = co_current(L);
    if (!me)
        return bind_misuse(L, "core.wait: only inside a request, a job or a test (not at script "
                              "top level, nor in a coroutine of the script's own)");
    if (t->owner != co_id(co_owner(me)))
        return bind_misuse(L, "core.wait: the thread belongs to another request or job");
    if (t->state != THREAD_RUNNING) {
        luaL_checkstack(L, t->nvalues + 2, "core.wait: too many results");
        return thread_push_outcome(L, 1, t);
    }
    if (t->co == me)
        return bind_misuse(L, "core.wait: a thread cannot wait for itself");
    if (thread_would_deadlock(t, me))
        return bind_misuse(L, "core.wait: the thread waits (through others) for this one: "
                              "waiting would never end");
    bind_check_yieldable(L, "core.wait");
    thread_waiter_t *w = malloc(sizeof(*w));
    if (!w)
        return luaL_error(L, "core.wait: out of memory");
    *w = (thread_waiter_t){.target = t, .co = me, .next = t->waiters};
    if (t->waiters)
        t->waiters->prev = w;
    t->waiters = w;
    return co_yield_op(L, me, thread_wait_cancel, w);
}

/* core.owner(): a number naming the request, job or test the caller runs for (the same in
 * all its threads, never reused), or nil at script top level: what keeps per-request state
 * (speezy.loader) from crossing requests. */
static int core_owner(lua_State *L)
{
    co_t *co = co_current(L);
    if (!co)
        lua_pushnil(L);
    else
        lua_pushnumber(L, (lua_Number)co_id(co_owner(co)));
    return 1;
}

static int thread_tostring(lua_State *L)
{
    static const char *const names[] = {"running", "returned", "raised", "cancelled"};
    thread_t *t = luaL_checkudata(L, 1, THREAD_MT);
    lua_pushfstring(L, "thread (%s): %p", names[t->state], (void *)t);
    return 1;
}

void bind_thread_open(lua_State *L)
{
    if (luaL_newmetatable(L, THREAD_MT)) {
        lua_pushcfunction(L, thread_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushliteral(L, "thread");
        lua_setfield(L, -2, "__metatable");
    }
    lua_pop(L, 1);
    static const luaL_Reg fns[] = {
        {"spawn", core_spawn},
        {"wait", core_wait},
        {"owner", core_owner},
        {NULL, NULL},
    };
    luaL_register(L, NULL, fns);
}
