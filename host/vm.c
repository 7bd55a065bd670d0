/* vm.c — loads a script generation: snapshot -> sandboxed VM -> app.lua -> router.
 *
 * The sandbox itself (allow-listed globals, text-only loading, strict globals, script
 * require) is written in Lua in host/lib/speezy/runtime.lua; this file reads the files,
 * creates the state, wires the C modules and turns the registered routes into a router. */
#include "vm.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "embedded.h"

#define SNAPSHOT_MAX_FILES 4096
#define SNAPSHOT_MAX_BYTES (64u << 20)

int luaopen_cjson(lua_State *L);
int luaopen_cjson_safe(lua_State *L);

typedef struct {
    char *path; /* relative to the scripts dir */
    char *src;
    size_t len;
} file_t;

typedef struct {
    file_t *files;
    int n, cap;
    size_t bytes;
} snapshot_t;

static unsigned gen_seq;

/* Every allocation of a generation's VM is counted against its budget (VM_MEMORY_LIMIT_MB):
 * past it, allocations fail and scripts get "not enough memory" errors instead of the
 * worker growing until the kernel kills it. */
static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    vm_budget_t *b = ud;
    if (nsize > osize && b->used + (nsize - osize) > b->limit)
        return NULL;
    void *p = b->inner(b->inner_ud, ptr, osize, nsize);
    if (p || nsize == 0)
        b->used = b->used + nsize - osize;
    return p;
}

/* The counting sits in front of LuaJIT's own allocator, several times faster than malloc for
 * the VM's many small objects; it starts from what the new state already holds. */
lua_State *vm_budget_newstate(vm_budget_t *b)
{
    lua_State *L = luaL_newstate();
    if (!L)
        return NULL;
    b->inner = lua_getallocf(L, &b->inner_ud);
    b->used = ((size_t)lua_gc(L, LUA_GCCOUNT, 0) << 10) + (size_t)lua_gc(L, LUA_GCCOUNTB, 0);
    lua_setallocf(L, budget_alloc, b);
    return L;
}

/* With its own allocator back, LuaJIT releases its arenas whole at close. */
void vm_budget_close(lua_State *L, vm_budget_t *b)
{
    lua_setallocf(L, b->inner, b->inner_ud);
    lua_close(L);
}

/* An error outside any protected call (out of memory in a C callback): the worker cannot
 * trust this VM any more. It exits; the master starts a fresh one. */
static int vm_panic(lua_State *L)
{
    const char *msg = lua_tostring(L, -1);
    log_error("Lua panic, the worker restarts: %s", msg ? msg : "(no message)");
    log_flush();
    abort();
}

static void snapshot_free(snapshot_t *s)
{
    for (int i = 0; i < s->n; i++) {
        free(s->files[i].path);
        free(s->files[i].src);
    }
    free(s->files);
}

static int read_file(const char *full, char **out, size_t *len)
{
    FILE *f = fopen(full, "rb");
    if (!f)
        return -1;
    struct stat st;
    if (fstat(fileno(f), &st) < 0 || st.st_size > (off_t)SNAPSHOT_MAX_BYTES) {
        fclose(f);
        return -1;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

static int ends_with(const char *name, const char *ext)
{
    size_t n = strlen(name), e = strlen(ext);
    return n > e && strcmp(name + n - e, ext) == 0;
}

/* Lua, and the GraphQL schema's SDL (speezy.graphql.load): both are part of a generation, so
 * an edit of either reloads, and the hash names both. */
static int is_script_file(const char *name)
{
    return ends_with(name, ".lua") || ends_with(name, ".graphql");
}

static int scan(snapshot_t *s, const char *root, const char *rel, char *err, size_t errlen)
{
    char dirpath[4096];
    snprintf(dirpath, sizeof(dirpath), "%s%s%s", root, *rel ? "/" : "", rel);
    DIR *d = opendir(dirpath);
    if (!d) {
        snprintf(err, errlen, "%s: cannot open scripts directory: %s", dirpath, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue; /* hidden files and editors' swap files */
        char relpath[2048], full[4096];
        snprintf(relpath, sizeof(relpath), "%s%s%s", rel, *rel ? "/" : "", e->d_name);
        snprintf(full, sizeof(full), "%s/%s", root, relpath);
        struct stat st;
        if (stat(full, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            rc = scan(s, root, relpath, err, errlen);
        } else if (S_ISREG(st.st_mode) && is_script_file(e->d_name)) {
            if (s->n == SNAPSHOT_MAX_FILES) {
                snprintf(err, errlen, "%s: more than %d script files", root, SNAPSHOT_MAX_FILES);
                rc = -1;
                break;
            }
            if (s->n == s->cap) {
                s->cap = s->cap ? s->cap * 2 : 32;
                s->files = realloc(s->files, (size_t)s->cap * sizeof(file_t));
            }
            file_t *f = &s->files[s->n];
            if (read_file(full, &f->src, &f->len) < 0) {
                snprintf(err, errlen, "%s: cannot read", full);
                rc = -1;
                break;
            }
            f->path = strdup(relpath);
            s->bytes += f->len;
            s->n++;
        }
    }
    closedir(d);
    return rc;
}

static int cmp_files(const void *a, const void *b)
{
    return strcmp(((const file_t *)a)->path, ((const file_t *)b)->path);
}

/* The hash covers names and contents, length-prefixed so no two snapshots collide. */
static int snapshot_take(snapshot_t *s, const char *dir, char hash[65], char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (scan(s, dir, "", err, errlen) < 0) {
        snapshot_free(s);
        return -1;
    }
    qsort(s->files, (size_t)s->n, sizeof(file_t), cmp_files);
    size_t cap = s->bytes + (size_t)s->n * 300 + 1, o = 0;
    char *all = malloc(cap);
    if (!all) {
        snapshot_free(s);
        return -1;
    }
    for (int i = 0; i < s->n; i++) {
        o += (size_t)snprintf(all + o, cap - o, "%s\n%zu\n", s->files[i].path, s->files[i].len);
        memcpy(all + o, s->files[i].src, s->files[i].len);
        o += s->files[i].len;
    }
    crypto_sha256_hex(all, o, hash);
    free(all);
    return 0;
}

int vm_snapshot_hash(const char *dir, char hash[65], char *err, size_t errlen)
{
    snapshot_t s;
    if (snapshot_take(&s, dir, hash, err, errlen) < 0)
        return -1;
    snapshot_free(&s);
    return 0;
}

static int load_embedded(lua_State *L)
{
    const embedded_file_t *f = lua_touserdata(L, lua_upvalueindex(1));
    char name[256];
    snprintf(name, sizeof(name), "@host/lib/%s", f->path);
    if (luaL_loadbuffer(L, f->src, f->len, name) != 0)
        return lua_error(L);
    lua_pushstring(L, f->module);
    lua_call(L, 1, 1);
    return 1;
}

static void open_state(lua_State *L, bind_host_t *host)
{
    luaL_openlibs(L);
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "preload");
    lua_pushcfunction(L, luaopen_cjson);
    lua_setfield(L, -2, "cjson");
    lua_pushcfunction(L, luaopen_cjson_safe);
    lua_setfield(L, -2, "cjson.safe");
    for (const embedded_file_t *f = embedded_lib; f->module; f++) {
        lua_pushlightuserdata(L, (void *)f);
        lua_pushcclosure(L, load_embedded, 1);
        lua_setfield(L, -2, f->module);
    }
    lua_pop(L, 2);
    bind_set_host(L, host);
    bind_open_all(L);
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Calls runtime.boot(files, hash, dir) under a traceback; on success leaves routes, the
 * dispatch function, the job declarations and the job runner on the stack. */
static int boot(lua_State *L, const snapshot_t *s, const char *dir, const char *hash, char *err,
                size_t errlen)
{
    lua_pushcfunction(L, traceback);
    lua_getglobal(L, "require");
    lua_pushliteral(L, "speezy.runtime");
    if (lua_pcall(L, 1, 1, -3) != 0) {
        snprintf(err, errlen, "%s", lua_tostring(L, -1));
        return -1;
    }
    lua_getfield(L, -1, "boot");
    lua_createtable(L, 0, s->n);
    for (int i = 0; i < s->n; i++) {
        lua_pushlstring(L, s->files[i].src, s->files[i].len);
        lua_setfield(L, -2, s->files[i].path);
    }
    lua_pushstring(L, hash);
    lua_pushstring(L, dir);
    /* No traceback here: a refused reload reports "file:line: message", not host frames. */
    if (lua_pcall(L, 3, 4, 0) != 0) {
        const char *msg = lua_tostring(L, -1);
        snprintf(err, errlen, "%s", msg ? msg : "unknown error while loading scripts");
        return -1;
    }
    return 0;
}

/* routes: array of {method, path, where}; handler i is routes[i]. */
static int build_router(lua_State *L, int routes_idx, router_t *r, char *err, size_t errlen)
{
    int n = (int)lua_objlen(L, routes_idx);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, routes_idx, i);
        lua_getfield(L, -1, "method");
        lua_getfield(L, -2, "path");
        lua_getfield(L, -3, "where");
        const char *method = lua_tostring(L, -3), *path = lua_tostring(L, -2);
        const char *where = lua_tostring(L, -1);
        char why[512];
        if (!method || !path || router_add(r, method, path, i, why, sizeof(why)) < 0) {
            snprintf(err, errlen, "%s %s", where ? where : "?", method && path ? why : "bad route");
            lua_pop(L, 4);
            return -1;
        }
        lua_pop(L, 4);
    }
    return 0;
}

static const char *field_str(lua_State *L, int t, const char *k, size_t *len)
{
    lua_getfield(L, t, k);
    const char *v = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* the string stays alive in the table */
    return v;
}

static lua_Integer field_int(lua_State *L, int t, const char *k)
{
    lua_getfield(L, t, k);
    lua_Integer v = lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

/* decls = {queues = {{name, concurrency, limit_max, limit_ms, max_stalled}...},
 *          schedules = {{queue, every | cron, args = {12 strings}}...}} (speezy.queue). */
static int read_decls(lua_State *L, int idx, vm_gen_t *g)
{
    lua_getfield(L, idx, "queues");
    int n = (int)lua_objlen(L, -1);
    if (n && !(g->queues = calloc((size_t)n, sizeof(*g->queues))))
        return -1;
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        int t = lua_gettop(L);
        queue_decl_t *d = &g->queues[g->nqueues++];
        d->name = field_str(L, t, "name", NULL);
        d->concurrency = (int)field_int(L, t, "concurrency");
        d->limit_max = (int)field_int(L, t, "limit_max");
        d->limit_ms = (uint64_t)field_int(L, t, "limit_ms");
        d->max_stalled = (int)field_int(L, t, "max_stalled");
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_getfield(L, idx, "schedules");
    n = (int)lua_objlen(L, -1);
    if (n && !(g->scheds = calloc((size_t)n, sizeof(*g->scheds))))
        return -1;
    for (int i = 0; i < n; i++) {
        lua_rawgeti(L, -1, i + 1);
        int t = lua_gettop(L);
        queue_sched_t *s = &g->scheds[g->nscheds++];
        s->queue = field_str(L, t, "queue", NULL);
        s->every_ms = (uint64_t)field_int(L, t, "every");
        s->cron = field_str(L, t, "cron", NULL);
        lua_getfield(L, t, "args");
        for (int a = 0; a < 12; a++) {
            lua_rawgeti(L, -1, a + 1);
            s->add_argv[a] = lua_tolstring(L, -1, &s->add_len[a]);
            lua_pop(L, 1);
            if (!s->add_argv[a])
                s->add_argv[a] = "", s->add_len[a] = 0;
        }
        lua_pop(L, 2);
    }
    lua_pop(L, 1);
    return 0;
}

int vm_gen_load(const char *dir, bind_host_t *host, vm_gen_t **out, char *err, size_t errlen)
{
    snapshot_t s;
    char hash[65];
    if (snapshot_take(&s, dir, hash, err, errlen) < 0)
        return -1;
    vm_gen_t *g = calloc(1, sizeof(*g));
    lua_State *L = NULL;
    if (g) {
        const config_t *cfg = host->cfg;
        g->mem.limit = cfg && cfg->vm_memory_limit_mb ? cfg->vm_memory_limit_mb << 20 : SIZE_MAX;
        L = vm_budget_newstate(&g->mem);
        if (L)
            lua_atpanic(L, vm_panic);
    }
    router_t *r = router_new();
    if (!g || !L || !r) {
        snprintf(err, errlen, "out of memory creating a script generation");
        goto fail;
    }
    memcpy(g->hash, hash, sizeof(g->hash));
    memcpy(g->short_hash, hash, 16);
    const char *prev_gen = host->generation;
    host->generation = g->short_hash;
    open_state(L, host);
    int rc = boot(L, &s, dir, g->short_hash, err, errlen);
    host->generation = prev_gen;
    if (rc < 0 || build_router(L, lua_gettop(L) - 3, r, err, errlen) < 0)
        goto fail;
    g->job_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (read_decls(L, lua_gettop(L), g) < 0) {
        snprintf(err, errlen, "out of memory reading the job declarations");
        goto fail;
    }
    g->decls_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    g->dispatch_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_settop(L, 0);
    g->L = L;
    g->router = r;
    g->seq = ++gen_seq;
    g->refs = 1;
    g->nfiles = s.n;
    snapshot_free(&s);
    *out = g;
    return 0;
fail:
    if (L)
        vm_budget_close(L, &g->mem);
    router_free(r);
    if (g) {
        free(g->queues);
        free(g->scheds);
    }
    free(g);
    snapshot_free(&s);
    return -1;
}

void vm_gen_reclaim(vm_gen_t *gen)
{
    if (gen->mem.used > gen->mem.limit / 4 * 3)
        lua_gc(gen->L, LUA_GCCOLLECT, 0);
}

void vm_gen_pin(vm_gen_t *gen)
{
    gen->refs++;
}

int vm_gen_unpin(vm_gen_t *gen)
{
    if (--gen->refs > 0)
        return 0;
    vm_budget_close(gen->L, &gen->mem);
    router_free(gen->router);
    free(gen->queues);
    free(gen->scheds);
    free(gen);
    return 1;
}
