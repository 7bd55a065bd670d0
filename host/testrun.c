/* testrun.c — runs spec files one after another, each in a host coroutine on one loop. */
#include "testrun.h"

#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>

#include "co.h"
#include "log.h"
#include "vm.h"
#include "worker.h"

#define SPEC_FILE_DEADLINE_MS 300000

typedef struct {
    int done;
    int passed, failed, pending;
} spec_result_t;

static void on_spec_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    spec_result_t *r = ud;
    lua_State *T = co_thread(co);
    if (status == CO_OK && nresults >= 3) {
        r->passed = (int)lua_tointeger(T, 1);
        r->failed = (int)lua_tointeger(T, 2);
        r->pending = (int)lua_tointeger(T, 3);
    } else {
        fprintf(stdout, "FAIL spec file aborted: %s\n",
                status == CO_ERROR     ? lua_tostring(T, -1)
                : status == CO_TIMEOUT ? "deadline passed"
                                       : "cancelled");
        r->failed = r->failed ? r->failed : 1;
    }
    r->done = 1;
    co_free(co);
}

static int write_line(lua_State *L)
{
    fprintf(stdout, "%s\n", luaL_checkstring(L, 1));
    fflush(stdout);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf)
        *len = (size_t)n;
    return buf;
}

static void run_file(bind_host_t *host, vm_gen_t *gen, const char *path, spec_result_t *r)
{
    size_t len;
    char *src = slurp(path, &len);
    if (!src) {
        fprintf(stdout, "FAIL %s: cannot read\n", path);
        r->failed = 1;
        return;
    }
    fprintf(stdout, "# %s\n", path);
    co_t *co = co_new(host->cos, gen->L, CO_KIND_TEST, on_spec_done, r);
    lua_State *T = co_thread(co);
    lua_getglobal(T, "require");
    lua_pushliteral(T, "speezy.test");
    lua_call(T, 1, 1);
    lua_getfield(T, -1, "run");
    lua_remove(T, -2);
    lua_pushlstring(T, src, len);
    lua_pushstring(T, path);
    lua_pushcfunction(T, write_line);
    free(src);
    co_set_deadline(co, SPEC_FILE_DEADLINE_MS);
    co_start(co, 3);
    while (!r->done && uv_run(host->loop, UV_RUN_ONCE))
        ;
    if (!r->done) {
        co_cancel(co);
    }
}

int testrun_main(const config_t *cfg, int nfiles, char **files)
{
    uv_loop_t *loop = uv_default_loop();
    bind_host_t host;
    if (worker_host_open(loop, cfg, &host) < 0) {
        fprintf(stderr, "cannot open the database or Redis\n");
        return 1;
    }
    vm_gen_t *gen;
    char err[1024];
    if (vm_gen_load(cfg->scripts_dir, &host, &gen, err, sizeof(err)) < 0) {
        fprintf(stderr, "cannot load scripts: %s\n", err);
        return 1;
    }
    host.generation = gen->short_hash;
    int passed = 0, failed = 0, pending = 0;
    for (int i = 0; i < nfiles; i++) {
        spec_result_t r = {0};
        run_file(&host, gen, files[i], &r);
        passed += r.passed;
        failed += r.failed;
        pending += r.pending;
        log_flush();
    }
    vm_gen_unpin(gen);
    worker_host_close(&host);
    /* Pending tests are neither passed nor failed, but never silent. */
    if (pending)
        fprintf(stdout, "%d pending\n", pending);
    fprintf(stdout, "%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
