/* co.h — one Lua coroutine per request or job, and the yield/resume protocol of I/O bindings.
 *
 * The owner (worker, job runner, `speezy test`) creates a co on a generation's lua_State,
 * pushes the function and its arguments onto co_thread(co) and calls co_start(). A binding
 * that needs I/O starts it, then ends with `return co_yield_op(L, co, cancel, op)`. When the
 * I/O completes, its callback pushes the results onto co_thread(co) and calls co_resume().
 * When the coroutine ends (returned, raised, timed out or cancelled) the owner's done
 * callback runs once; it reads the results from the thread's stack and must call co_free().
 *
 * Cancellation (client gone, deadline, drain) calls the pending op's cancel function, then
 * every exit hook registered with co_on_exit(); after that the coroutine is never resumed.
 * An op's owner keeps the co pointer only until its cancel function has run.
 *
 * Light threads (core.spawn): a co may spawn child cos that run on the same generation with
 * the same kind. Every thread belongs to the owner, the request, job or test co at the root
 * (a thread's own threads too), whose deadline covers them: when the owner ends in any way
 * (returned, raised, timed out, cancelled) its unfinished threads are cancelled first, each
 * like co_cancel, then the owner's exit hooks and done callback run. */
#ifndef SPEEZY_CO_H
#define SPEEZY_CO_H

#include <lua.h>
#include <stdint.h>
#include <uv.h>

typedef struct co_s co_t;
typedef struct co_pool co_pool_t;

typedef enum {
    CO_OK = 0,        /* returned: results are on the thread's stack */
    CO_ERROR = -1,    /* raised: a message with traceback is on the thread's stack */
    CO_TIMEOUT = -2,  /* deadline passed, nothing on the stack */
    CO_CANCELLED = -3 /* co_cancel() was called, nothing on the stack */
} co_status_t;

typedef enum { CO_KIND_REQUEST, CO_KIND_JOB, CO_KIND_TIMER, CO_KIND_TEST } co_kind_t;

typedef void (*co_done_cb)(co_t *co, co_status_t status, int nresults, void *ud);
typedef void (*co_cancel_fn)(void *op);
typedef void (*co_exit_fn)(void *data, int cancelled);

/* One pool per loop: it recycles co_t's and their deadline timers. Close it after every co
 * made from it was freed; its memory goes once the loop has run the handles' close. */
co_pool_t *co_pool_new(uv_loop_t *loop);
void co_pool_close(co_pool_t *pool);

/* Creates a coroutine thread on L (a generation's main state) anchored in its registry. */
co_t *co_new(co_pool_t *pool, lua_State *L, co_kind_t kind, co_done_cb done, void *ud);
lua_State *co_thread(co_t *co);
co_kind_t co_kind(const co_t *co);
/* The ud given to co_new (whose type its kind tells). */
void *co_userdata(const co_t *co);

/* Arms a deadline; when it passes the coroutine is cancelled and done() gets CO_TIMEOUT. */
void co_set_deadline(co_t *co, uint64_t timeout_ms);

/* Runs the function pushed below nargs arguments until it yields or ends. */
void co_start(co_t *co, int nargs);

/* The coroutine running on thread L, or NULL outside any (script top level: init context). */
co_t *co_current(lua_State *L);
/* The co whose thread is at idx (a request's coroutine seen from a script's own coroutine),
 * or NULL; like co_current, never a finished one. */
co_t *co_of_thread(lua_State *L, int idx);

/* Records the pending op and yields; a binding's last act: `return co_yield_op(...)`. */
int co_yield_op(lua_State *L, co_t *co, co_cancel_fn cancel, void *op);

/* Called by an I/O callback after pushing nresults values onto co_thread(co). */
void co_resume(co_t *co, int nresults);

/* Client gone or drain: cancels the pending op, runs exit hooks, calls done(CO_CANCELLED). */
void co_cancel(co_t *co);

/* Resources held across yields (a pinned DB connection): released on exit either way. */
typedef struct co_exit_hook co_exit_hook_t;
co_exit_hook_t *co_on_exit(co_t *co, co_exit_fn fn, void *data);
void co_exit_hook_remove(co_t *co, co_exit_hook_t *hook);

/* A thread of parent's owner, ready for its function and arguments like a new co (push them
 * onto co_thread(), then co_start). It has no deadline of its own, and when it raises, the
 * error value stays on its stack as raised (a table stays a table, no traceback added).
 * co_userdata() of a thread is its owner's; done gets this ud. NULL when out of memory. */
co_t *co_spawn(co_t *parent, co_done_cb done, void *ud);
/* The owner: co itself unless co is a thread. */
co_t *co_owner(co_t *co);
/* A number no other co of the pool had or will have (co_t's are recycled: their pointers are
 * not identities). */
uint64_t co_id(const co_t *co);
/* The generation's main state co was made on. */
lua_State *co_main(const co_t *co);
/* co_resume for a co that waited on another: when a co is running (a thread that ended wakes
 * its waiters from its own run), co runs once the outermost run returns instead of inside it,
 * so a chain of waiters resumes one after the other, not nested. */
void co_wake(co_t *co, int nresults);
/* The op co waits on when it was started with cancel (a binding finding its own ops), or NULL. */
void *co_pending_op(const co_t *co, co_cancel_fn cancel);

/* Frees the coroutine; only from (or after) the done callback. */
void co_free(co_t *co);

#endif
