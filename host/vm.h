/* vm.h — script generations: a sandboxed lua_State built from a snapshot of scripts/, its
 * route table, and a reference count of the requests and jobs running on it.
 *
 * A generation is immutable once loaded: every file of scripts/ is read into memory first,
 * hashed (the generation's name) and only then run, so what serves is exactly what was
 * hashed even if files change mid-load. The owner swaps generations and drops its own
 * reference to the old one; the old one closes when its last request ends. */
#ifndef SPEEZY_VM_H
#define SPEEZY_VM_H

#include <lua.h>
#include <stdint.h>

#include "bind/bind.h"
#include "queue.h"
#include "router.h"

/* A VM's memory budget: allocations past limit fail ("not enough memory"). */
typedef struct {
    size_t used, limit; /* bytes held by the VM, and its budget (SIZE_MAX: none) */
    lua_Alloc inner;    /* LuaJIT's own allocator, which does the work */
    void *inner_ud;
} vm_budget_t;

/* A new VM counting its memory in b (limit set by the caller); NULL when out of memory.
 * Close it with vm_budget_close. Tests use it for budgeted states too. */
lua_State *vm_budget_newstate(vm_budget_t *b);
void vm_budget_close(lua_State *L, vm_budget_t *b);

typedef struct vm_gen {
    lua_State *L;
    router_t *router;
    char hash[65]; /* SHA-256 hex of the snapshot */
    char short_hash[17];
    unsigned seq; /* 1, 2, ... per process */
    int refs;
    int dispatch_ref; /* the runtime's dispatch(handler_index, req) */
    int job_ref;      /* queue._run(name, id, data, attempt, attempts) */
    /* what the scripts declared with queue.process / queue.schedule; the strings belong to
     * the declarations table, anchored in the registry (decls_ref) for the generation's life */
    queue_decl_t *queues;
    int nqueues;
    queue_sched_t *scheds;
    int nscheds;
    int decls_ref;
    int nfiles;
    vm_budget_t mem;
    uint64_t retired_at_ms; /* owner's loop time when a newer generation replaced it */
} vm_gen_t;

/* Builds a generation from dir: snapshot, sandbox, run app.lua with I/O disabled, routes.
 * On failure returns -1 with "file:line: message" in err; nothing is left allocated. */
int vm_gen_load(const char *dir, bind_host_t *host, vm_gen_t **out, char *err, size_t errlen);

/* After a request: when the VM nears its memory budget, collect now, so the host's own
 * (unprotected) allocations that follow don't meet a budget full of garbage. */
void vm_gen_reclaim(vm_gen_t *gen);

void vm_gen_pin(vm_gen_t *gen);
/* Drops a reference; the generation is closed when none remain. Returns 1 if it closed. */
int vm_gen_unpin(vm_gen_t *gen);

/* Computes only the snapshot hash of dir (what a reload would load), for `speezy reload`. */
int vm_snapshot_hash(const char *dir, char hash[65], char *err, size_t errlen);

#endif
