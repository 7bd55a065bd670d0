/* co.c — request/job coroutines: start, yield on I/O, resume, cancel, deadlines.
 *
 * The thread is anchored in the registry as registry[thread] = co, which both keeps it alive
 * and lets a binding find its co from the lua_State it was called with. A co never resumes
 * twice for one op: co_resume() clears the pending op first, and cancellation clears it
 * before handing the op to its owner's cancel function.
 *
 * Threads whose function returned are kept in a small pool per lua_State and reused: a
 * returned LuaJIT thread can start a new function, and creating one per request is a
 * measurable share of a small request's cost. Threads that raised or were abandoned
 * mid-yield are never reused.
 *
 * Light threads are cos like any other, linked into their owner's list so the owner's end
 * cancels them. A thread that ends wakes its waiters with co_wake: while any co of the pool
 * runs, a woken co waits in the pool's ready queue, which the outermost run empties before it
 * returns to the loop. */
#include "co.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

struct co_exit_hook {
    co_exit_fn fn;
    void *data;
    co_exit_hook_t *next;
};

struct co_s {
    lua_State *L;  /* the generation's main state */
    lua_State *co; /* the coroutine thread */
    co_pool_t *pool;
    uv_timer_t deadline; /* initialized once, reused with the co_t */
    co_t *next_free;
    co_kind_t kind;
    co_done_cb done;
    void *ud;
    co_cancel_fn op_cancel;
    void *op;
    co_exit_hook_t *hooks;
    uint64_t id;
    co_t *owner;                   /* a thread's owner; NULL for an owner */
    co_t *threads;                 /* an owner's unfinished threads */
    co_t *sib_prev, *sib_next;     /* a thread's neighbours in its owner's list */
    co_t *ready_prev, *ready_next; /* in the pool's ready queue, while queued */
    int wake_n;                    /* values co_wake pushed, for the queued resume */
    int queued;
    int running; /* inside lua_resume */
    int finished;
    int returned; /* the function returned: the thread can be reused */
};

#define CO_POOL_MAX 64
#define CO_FREE_MAX 1024

/* Finished co_t's are kept with their timer handle initialized: a request then costs a timer
 * start and stop, not a malloc, a handle init and an asynchronous close. */
struct co_pool {
    uv_loop_t *loop;
    co_t *free;
    unsigned nfree;
    unsigned live;
    int closing;
    int depth; /* runs in progress: nested when a thread starts or a binding resumes at once */
    co_t *ready, *ready_tail;
    uint64_t ids;
};

co_pool_t *co_pool_new(uv_loop_t *loop)
{
    co_pool_t *p = calloc(1, sizeof(*p));
    if (p)
        p->loop = loop;
    return p;
}

static void co_closed(uv_handle_t *h)
{
    co_t *co = h->data;
    co_pool_t *p = co->pool;
    free(co);
    if (--p->live == 0 && p->closing)
        free(p);
}

void co_pool_close(co_pool_t *p)
{
    p->closing = 1;
    while (p->free) {
        co_t *co = p->free;
        p->free = co->next_free;
        uv_close((uv_handle_t *)&co->deadline, co_closed);
    }
    p->nfree = 0;
    if (p->live == 0)
        free(p);
}

static char pool_key;

/* Pushes a thread from the pool of L, or a new one. */
static lua_State *thread_get(lua_State *L)
{
    lua_pushlightuserdata(L, &pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (lua_istable(L, -1)) {
        int n = (int)lua_objlen(L, -1);
        if (n > 0) {
            lua_rawgeti(L, -1, n);
            lua_pushnil(L);
            lua_rawseti(L, -3, n);
            lua_remove(L, -2);
            return lua_tothread(L, -1);
        }
    }
    lua_pop(L, 1);
    return lua_newthread(L);
}

/* Takes the thread on top of L: back to the pool, or dropped. */
static void thread_put(lua_State *L, int reusable)
{
    lua_pushlightuserdata(L, &pool_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    if (!lua_istable(L, -1)) {
        lua_pop(L, 1);
        lua_createtable(L, CO_POOL_MAX, 0);
        lua_pushlightuserdata(L, &pool_key);
        lua_pushvalue(L, -2);
        lua_rawset(L, LUA_REGISTRYINDEX);
    }
    int n = (int)lua_objlen(L, -1);
    if (reusable && n < CO_POOL_MAX) {
        lua_pushvalue(L, -2);
        lua_rawseti(L, -2, n + 1);
    }
    lua_pop(L, 2);
}

co_t *co_new(co_pool_t *pool, lua_State *L, co_kind_t kind, co_done_cb done, void *ud)
{
    co_t *co = pool->free;
    if (co) {
        pool->free = co->next_free;
        pool->nfree--;
        uv_timer_t t = co->deadline;
        memset(co, 0, sizeof(*co));
        co->deadline = t;
    } else {
        co = calloc(1, sizeof(*co));
        if (!co)
            return NULL;
        uv_timer_init(pool->loop, &co->deadline);
        pool->live++;
    }
    co->deadline.data = co;
    co->id = ++pool->ids;
    co->pool = pool;
    co->L = L;
    co->kind = kind;
    co->done = done;
    co->ud = ud;
    co->co = thread_get(L);
    lua_pushlightuserdata(L, co);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return co;
}

lua_State *co_thread(co_t *co)
{
    return co->co;
}

co_kind_t co_kind(const co_t *co)
{
    return co->kind;
}

void *co_userdata(const co_t *co)
{
    return co->owner ? co->owner->ud : co->ud;
}

co_t *co_spawn(co_t *parent, co_done_cb done, void *ud)
{
    co_t *owner = co_owner(parent);
    if (owner->finished)
        return NULL;
    co_t *co = co_new(parent->pool, parent->L, owner->kind, done, ud);
    if (!co)
        return NULL;
    co->owner = owner;
    co->sib_next = owner->threads;
    if (owner->threads)
        owner->threads->sib_prev = co;
    owner->threads = co;
    return co;
}

co_t *co_owner(co_t *co)
{
    return co->owner ? co->owner : co;
}

uint64_t co_id(const co_t *co)
{
    return co->id;
}

lua_State *co_main(const co_t *co)
{
    return co->L;
}

void *co_pending_op(const co_t *co, co_cancel_fn cancel)
{
    return co->op_cancel == cancel ? co->op : NULL;
}

co_t *co_of_thread(lua_State *L, int idx)
{
    lua_State *T = lua_tothread(L, idx);
    if (!T)
        return NULL;
    lua_pushvalue(L, idx);
    lua_rawget(L, LUA_REGISTRYINDEX);
    co_t *co = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (co && (co->co != T || co->finished))
        return NULL;
    return co;
}

co_t *co_current(lua_State *L)
{
    lua_pushthread(L);
    co_t *co = co_of_thread(L, -1);
    lua_pop(L, 1);
    return co;
}

static void run_exit_hooks(co_t *co, int cancelled)
{
    while (co->hooks) {
        co_exit_hook_t *h = co->hooks;
        co->hooks = h->next;
        h->fn(h->data, cancelled);
        free(h);
    }
}

static void stop_deadline(co_t *co)
{
    uv_timer_stop(&co->deadline);
}

static void ready_remove(co_t *co)
{
    co_pool_t *p = co->pool;
    if (co->ready_prev)
        co->ready_prev->ready_next = co->ready_next;
    else
        p->ready = co->ready_next;
    if (co->ready_next)
        co->ready_next->ready_prev = co->ready_prev;
    else
        p->ready_tail = co->ready_prev;
    co->ready_prev = co->ready_next = NULL;
    co->queued = 0;
}

static void thread_unlink(co_t *co)
{
    if (co->sib_prev)
        co->sib_prev->sib_next = co->sib_next;
    else
        co->owner->threads = co->sib_next;
    if (co->sib_next)
        co->sib_next->sib_prev = co->sib_prev;
    co->sib_prev = co->sib_next = NULL;
}

static void abort_co(co_t *co, co_status_t status);

static void finish(co_t *co, co_status_t status, int nresults)
{
    co->finished = 1;
    stop_deadline(co);
    if (co->owner)
        thread_unlink(co);
    /* The owner's end is its threads' end: cancelled before its exit hooks give back what
     * they may still be using, and never resumed. */
    while (co->threads)
        abort_co(co->threads, CO_CANCELLED);
    run_exit_hooks(co, status == CO_TIMEOUT || status == CO_CANCELLED);
    co->done(co, status, nresults, co->ud);
}

static void abort_co(co_t *co, co_status_t status)
{
    if (co->finished)
        return;
    if (co->queued)
        ready_remove(co);
    co_cancel_fn cancel = co->op_cancel;
    void *op = co->op;
    co->op_cancel = NULL;
    co->op = NULL;
    if (cancel)
        cancel(op);
    lua_settop(co->co, 0);
    finish(co, status, 0);
}

static void on_deadline(uv_timer_t *t)
{
    abort_co(t->data, CO_TIMEOUT);
}

void co_set_deadline(co_t *co, uint64_t timeout_ms)
{
    uv_timer_start(&co->deadline, on_deadline, timeout_ms, 0);
}

static void run_once(co_t *co, int nargs)
{
    co->running = 1;
    int rc = lua_resume(co->co, nargs);
    co->running = 0;
    if (rc == LUA_YIELD) {
        if (co->op)
            return;
        /* Only bindings may yield; a bare coroutine.yield would never be resumed. */
        lua_settop(co->co, 0);
        lua_pushliteral(co->co, "yield outside an I/O binding is not allowed");
        rc = LUA_ERRRUN;
    }
    if (rc == 0) {
        co->returned = 1;
        finish(co, CO_OK, lua_gettop(co->co));
        return;
    }
    if (rc == LUA_ERRMEM) {
        /* Out of the VM's memory budget: free the garbage first, and build no traceback,
         * since this runs outside any protected call. */
        lua_settop(co->co, 0);
        lua_gc(co->L, LUA_GCCOLLECT, 0);
        lua_pushliteral(co->co, "not enough memory");
        finish(co, CO_ERROR, 1);
        return;
    }
    if (co->owner) { /* a thread: core.wait gives the value as raised */
        lua_insert(co->co, 1);
        lua_settop(co->co, 1);
        finish(co, CO_ERROR, 1);
        return;
    }
    const char *msg = lua_tostring(co->co, -1);
    luaL_traceback(co->L, co->co, msg ? msg : "(error object is not a string)", 0);
    lua_settop(co->co, 0);
    lua_xmove(co->L, co->co, 1);
    finish(co, CO_ERROR, 1);
}

static co_t *ready_pop(co_pool_t *p)
{
    co_t *co = p->ready;
    if (co)
        ready_remove(co);
    return co;
}

/* co may be freed by its run: the pool is read first. */
static void run(co_t *co, int nargs)
{
    co_pool_t *p = co->pool;
    p->depth++;
    run_once(co, nargs);
    if (p->depth == 1) {
        co_t *next;
        while ((next = ready_pop(p)))
            run_once(next, next->wake_n);
    }
    p->depth--;
}

void co_start(co_t *co, int nargs)
{
    run(co, nargs);
}

int co_yield_op(lua_State *L, co_t *co, co_cancel_fn cancel, void *op)
{
    co->op_cancel = cancel;
    co->op = op ? op : co;
    return lua_yield(L, 0);
}

void co_resume(co_t *co, int nresults)
{
    if (co->finished || co->running)
        return;
    co->op_cancel = NULL;
    co->op = NULL;
    run(co, nresults);
}

void co_wake(co_t *co, int nresults)
{
    if (co->finished || co->running || co->queued)
        return;
    co->op_cancel = NULL;
    co->op = NULL;
    co_pool_t *p = co->pool;
    if (p->depth == 0) {
        run(co, nresults);
        return;
    }
    co->wake_n = nresults;
    co->queued = 1;
    co->ready_prev = p->ready_tail;
    if (p->ready_tail)
        p->ready_tail->ready_next = co;
    else
        p->ready = co;
    p->ready_tail = co;
}

void co_cancel(co_t *co)
{
    abort_co(co, CO_CANCELLED);
}

co_exit_hook_t *co_on_exit(co_t *co, co_exit_fn fn, void *data)
{
    co_exit_hook_t *h = malloc(sizeof(*h));
    if (!h)
        return NULL;
    h->fn = fn;
    h->data = data;
    h->next = co->hooks;
    co->hooks = h;
    return h;
}

void co_exit_hook_remove(co_t *co, co_exit_hook_t *hook)
{
    for (co_exit_hook_t **p = &co->hooks; *p; p = &(*p)->next) {
        if (*p == hook) {
            *p = hook->next;
            free(hook);
            return;
        }
    }
}

void co_free(co_t *co)
{
    stop_deadline(co);
    lua_settop(co->co, 0);
    lua_pushthread(co->co);
    lua_xmove(co->co, co->L, 1);
    lua_pushvalue(co->L, -1);
    lua_pushnil(co->L);
    lua_rawset(co->L, LUA_REGISTRYINDEX);
    thread_put(co->L, co->returned);
    co_pool_t *p = co->pool;
    if (p->nfree < CO_FREE_MAX && !p->closing) {
        co->next_free = p->free;
        p->free = co;
        p->nfree++;
    } else {
        uv_close((uv_handle_t *)&co->deadline, co_closed);
    }
}
