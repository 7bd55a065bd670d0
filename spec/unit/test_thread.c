/* test_thread.c — light threads (core.spawn, core.wait on co_spawn) on a real loop, with
 * core.sleep as the I/O: a thread runs at once until it yields, answers with its results or
 * its error as raised, any number of cos wait for it, misuse raises, and the owner's end
 * (return, deadline, cancel) cancels its threads, stops their timers and never resumes them.
 * The PostgreSQL side (two sleeps in one, cancel on disconnect) is spec/api/54_threads_spec.lua. */
#include <uv.h>

#include "test.h"
#include "test_lua.h"

static uv_loop_t *loop;

typedef struct {
    int done;
    co_status_t status;
    char result[512]; /* the results, tostring'd and joined with '|' */
} outcome_t;

static void on_outcome(co_t *co, co_status_t status, int nresults, void *ud)
{
    outcome_t *o = ud;
    lua_State *T = co_thread(co);
    size_t at = 0;
    o->result[0] = '\0';
    for (int i = 1; i <= nresults && at < sizeof(o->result); i++) {
        lua_getglobal(T, "tostring");
        lua_pushvalue(T, i);
        lua_call(T, 1, 1);
        at += (size_t)snprintf(o->result + at, sizeof(o->result) - at, "%s%s", i > 1 ? "|" : "",
                               lua_tostring(T, -1));
        lua_pop(T, 1);
    }
    o->status = status;
    o->done = 1;
    co_free(co);
}

static int outcome_done(void *arg)
{
    return ((outcome_t *)arg)->done;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static int run_until(int (*pred)(void *), void *arg, unsigned ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uint64_t end = uv_now(loop) + ms * test_time_scale();
    while (!pred(arg) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(arg);
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static bind_host_t host;

/* A state with speezy.core as the global `core`. */
static lua_State *state_new(void)
{
    host = (bind_host_t){.loop = loop};
    lua_State *L = test_lua_new(&host);
    lua_pushcfunction(L, luaopen_speezy_core);
    lua_call(L, 0, 1);
    lua_setglobal(L, "core");
    return L;
}

static co_t *start(lua_State *L, outcome_t *o, const char *src)
{
    memset(o, 0, sizeof(*o));
    co_t *co = test_co_load(loop, L, CO_KIND_REQUEST, src, on_outcome, o);
    co_start(co, 0);
    return co;
}

/* Runs src as a request to its end (5 s at most). */
static void run_chunk(lua_State *L, outcome_t *o, const char *src)
{
    start(L, o, src);
    run_until(outcome_done, o, 5000);
}

TEST(spawn_runs_at_once_until_it_yields_and_wait_gives_results)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local log = {} "
              "local t = core.spawn(function(a, b) log[#log + 1] = 'child ' .. a .. b "
              "  core.sleep(5) log[#log + 1] = 'child woke' return a * 2, 'x', nil end, 21, 'z') "
              "log[#log + 1] = 'parent' "
              "local ok, v, x, n = core.wait(t) "
              "log[#log + 1] = 'waited' "
              "return table.concat(log, ','), ok, v, x, n, select('#', core.wait(t))");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "child 21z,parent,child woke,waited|true|42|x|nil|4");
    lua_close(L);
}

TEST(errors_come_back_as_raised)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local t = core.spawn(function() core.sleep(1) error({ code = 'E_TABLE' }) end) "
              "local ok, e = core.wait(t) "
              "local s = core.spawn(function() error('plain', 0) end) "
              "local ok2, e2 = core.wait(s) "
              "local u = core.spawn(function() local x = nil; return x.field end) "
              "local ok3, e3 = core.wait(u) "
              "return ok, type(e), e.code, ok2, e2, ok3, e3:find('stack traceback') == nil, "
              "  e3:match('attempt to index') ~= nil");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "false|table|E_TABLE|false|plain|false|true|true");
    lua_close(L);
}

/* Waiting for a thread that has ended does not yield: it works even where a yield can't
 * happen (inside a gsub callback), and answers the same each time. */
TEST(waiting_a_finished_thread_answers_at_once)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local t = core.spawn(function() return 'v' end) "
              "local got = {} "
              "string.gsub('ab', '.', function() local ok, v = core.wait(t) "
              "  got[#got + 1] = tostring(ok) .. v end) "
              "local r = core.spawn(function() core.sleep(1) return 'late' end) "
              "local ok, e = pcall(string.gsub, 'a', '.', function() core.wait(r) end) "
              "return table.concat(got, ','), tostring(t):match('^thread %(returned%)') ~= nil, "
              "  ok, e:match('cannot wait here') ~= nil, select(2, core.wait(r))");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "truev,truev|true|false|true|late");
    lua_close(L);
}

TEST(several_cos_wait_for_one_thread)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local t = core.spawn(function() core.sleep(10) return 7 end) "
              "local a = core.spawn(function() local ok, v = core.wait(t) return 'a' .. v end) "
              "local b = core.spawn(function() local ok, v = core.wait(t) return 'b' .. v end) "
              "local _, v = core.wait(t) "
              "return v, select(2, core.wait(a)), select(2, core.wait(b))");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "7|a7|b7");
    lua_close(L);
}

TEST(threads_run_concurrently)
{
    lua_State *L = state_new();
    outcome_t o;
    /* Each sleeps 40 ms; one after the other would take 400 ms: the order of their ends shows
     * they overlapped without measuring time (the shortest sleep, started last, ends first). */
    run_chunk(L, &o,
              "local ends, ts = {}, {} "
              "for i = 1, 10 do ts[i] = core.spawn(function() core.sleep(50 - i * 4) "
              "  ends[#ends + 1] = i end) end "
              "for i = 1, 10 do core.wait(ts[i]) end "
              "return table.concat(ends, ',')");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "10,9,8,7,6,5,4,3,2,1");
    lua_close(L);
}

TEST(a_thread_waiting_for_itself_or_a_cycle_raises)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local t "
              "t = core.spawn(function() core.sleep(1) return core.wait(t) end) "
              "local ok, e = core.wait(t) "
              "local a, b "
              "a = core.spawn(function() core.sleep(5) return core.wait(b) end) "
              "b = core.spawn(function() core.sleep(1) return core.wait(a) end) "
              "local ok2, e2 = core.wait(a) "
              "local ok3, inner_ok, e3 = core.wait(b) "
              "return ok, e:match('cannot wait for itself') ~= nil, ok2, "
              "  e2:match('would never end') ~= nil, ok3, inner_ok, e3 == e2");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "false|true|false|true|true|false|true");
    lua_close(L);
}

/* A thread's thread belongs to the owner too: it outlives the thread that spawned it. */
TEST(a_threads_thread_outlives_its_spawner)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(
        L, &o,
        "local inner "
        "local outer = core.spawn(function() "
        "  inner = core.spawn(function() core.sleep(10) return 'inner' end) return 'outer' end) "
        "return select(2, core.wait(outer)), select(2, core.wait(inner))");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "outer|inner");
    lua_close(L);
}

/* A thread ending wakes its waiters after it, one after the other, not nested in its run: a
 * chain of 20000 threads each waiting for the one before resumes without growing the C stack. */
TEST(a_long_chain_of_waiters_resumes_flat)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local prev = core.spawn(function() core.sleep(1) return 0 end) "
              "for i = 1, 20000 do local p = prev "
              "  prev = core.spawn(function() local ok, v = core.wait(p) "
              "    if not ok then error(v, 0) end return v + 1 end) end "
              "return core.wait(prev)");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "true|20000");
    lua_close(L);
}

TEST(misuse_outside_a_request_raises)
{
    lua_State *L = state_new();
    CHECK(luaL_dostring(L, "core.spawn(function() end)") != 0);
    CHECK(strstr(lua_tostring(L, -1), "core.spawn: threads run only inside a request"));
    lua_pop(L, 1);
    /* The script's own coroutine is not the request's. */
    outcome_t o;
    run_chunk(L, &o,
              "local co = coroutine.create(function() return core.spawn(function() end) end) "
              "local ok, e = coroutine.resume(co) "
              "return ok, e:match('not at script top level') ~= nil");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "false|true");
    /* A thread of another request can't be waited for. */
    run_chunk(L, &o, "kept = core.spawn(function() return 'mine' end) return core.owner()");
    CHECK(o.done && o.status == CO_OK);
    char first_owner[sizeof(o.result)];
    snprintf(first_owner, sizeof(first_owner), "%s", o.result);
    run_chunk(L, &o,
              "local ok, e = pcall(core.wait, kept) "
              "local mine = core.spawn(function() return core.owner() end) "
              "return ok, e:match('belongs to another request') ~= nil, "
              "  core.owner() == select(2, core.wait(mine)), tostring(core.owner())");
    CHECK(o.done && o.status == CO_OK);
    CHECK(strncmp(o.result, "false|true|true|", 16) == 0);
    CHECK(strcmp(o.result + 16, first_owner) != 0);
    CHECK(luaL_dostring(L, "return core.owner()") == 0 && lua_isnil(L, -1));
    lua_close(L);
}

/* The owner returning while its threads still sleep: they are cancelled, their timers stop
 * (the loop has nothing left to run), and they never run again. */
TEST(owner_end_cancels_its_threads)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "woke = 0 "
              "for i = 1, 3 do core.spawn(function() core.sleep(20) woke = woke + 1 end) end "
              "local w = core.spawn(function() core.sleep(20) woke = woke + 1 end) "
              "core.spawn(function() core.wait(w) woke = woke + 1 end) "
              "return 'returned'");
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "returned");
    CHECK(!uv_loop_alive(loop));
    run_until(never, NULL, 60);
    lua_getglobal(L, "woke");
    CHECK(lua_tointeger(L, -1) == 0);
    lua_pop(L, 1);

    /* Raising ends them the same way. */
    run_chunk(L, &o, "core.spawn(function() core.sleep(20) woke = woke + 1 end) error('boom')");
    CHECK(o.done && o.status == CO_ERROR);
    CHECK(!uv_loop_alive(loop));
    run_until(never, NULL, 60);
    lua_getglobal(L, "woke");
    CHECK(lua_tointeger(L, -1) == 0);
    lua_pop(L, 1);
    lua_close(L);
}

/* The owner's deadline covers its threads; cancelling the owner (client gone) does too. */
TEST(deadline_and_cancel_reach_the_threads)
{
    lua_State *L = state_new();
    outcome_t o;
    memset(&o, 0, sizeof(o));
    co_t *co = test_co_load(loop, L, CO_KIND_REQUEST,
                            "woke = 0 "
                            "local t = core.spawn(function() core.sleep(10000) woke = 1 end) "
                            "core.spawn(function() core.wait(t) woke = 2 end) "
                            "core.wait(t) woke = 3",
                            on_outcome, &o);
    co_set_deadline(co, 30);
    co_start(co, 0);
    CHECK(run_until(outcome_done, &o, 5000));
    CHECK(o.status == CO_TIMEOUT);
    CHECK(!uv_loop_alive(loop));

    co = start(L, &o,
               "local t = core.spawn(function() core.sleep(10000) woke = 4 end) "
               "core.spawn(function() core.wait(t) woke = 5 end) "
               "core.sleep(10000) woke = 6");
    run_until(never, NULL, 20);
    CHECK(!o.done);
    co_cancel(co);
    CHECK(o.done && o.status == CO_CANCELLED);
    uv_run(loop, UV_RUN_NOWAIT); /* the stopped timers' handles close */
    CHECK(!uv_loop_alive(loop));
    lua_getglobal(L, "woke");
    CHECK(lua_tointeger(L, -1) == 0);
    lua_pop(L, 1);
    lua_close(L);
}

/* What the bindings see of a thread: its own co (its own pending op), the owner's kind and
 * userdata, an id of its own. */
static void on_child_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    *(int *)ud = (int)status + 100;
    co_free(co);
}

TEST(a_thread_is_a_co_of_its_owners_kind_and_userdata)
{
    lua_State *L = state_new();
    outcome_t o;
    memset(&o, 0, sizeof(o));
    co_t *owner = test_co_load(loop, L, CO_KIND_JOB, "return 1", on_outcome, &o);
    int child_status = 0;
    co_t *child = co_spawn(owner, on_child_done, &child_status);
    CHECK(child && co_kind(child) == CO_KIND_JOB && co_userdata(child) == &o);
    CHECK(co_owner(child) == owner && co_owner(owner) == owner);
    CHECK(co_id(child) != co_id(owner));
    co_t *grandchild = co_spawn(child, on_child_done, &child_status);
    CHECK(grandchild && co_owner(grandchild) == owner);
    co_cancel(grandchild);
    CHECK(child_status == 100 + CO_CANCELLED);
    child_status = 0;
    co_start(owner, 0); /* returns at once: its unstarted thread goes with it */
    CHECK(o.done && o.status == CO_OK && child_status == 100 + CO_CANCELLED);
    lua_close(L);
}

/* Not a check: what a spawn + wait of a trivial function costs, for the report. */
TEST(cost_of_spawn_and_wait)
{
    lua_State *L = state_new();
    outcome_t o;
    run_chunk(L, &o,
              "local f = function(x) return x end "
              "for i = 1, 1000 do core.wait(core.spawn(f, i)) end "
              "local n = 20000 "
              "local t0 = os.clock() "
              "for i = 1, n do core.wait(core.spawn(f, i)) end "
              "local t1 = os.clock() "
              "for i = 1, n do f(i) end "
              "local t2 = os.clock() "
              "return ((t1 - t0) - (t2 - t1)) / n * 1e6");
    CHECK(o.done && o.status == CO_OK);
    fprintf(stderr, "  spawn + wait of a trivial function: %s us (CPU, this build)\n", o.result);
    lua_close(L);
}

int main(void)
{
    loop = uv_default_loop();
    RUN(spawn_runs_at_once_until_it_yields_and_wait_gives_results);
    RUN(errors_come_back_as_raised);
    RUN(waiting_a_finished_thread_answers_at_once);
    RUN(several_cos_wait_for_one_thread);
    RUN(threads_run_concurrently);
    RUN(a_thread_waiting_for_itself_or_a_cycle_raises);
    RUN(a_threads_thread_outlives_its_spawner);
    RUN(a_long_chain_of_waiters_resumes_flat);
    RUN(misuse_outside_a_request_raises);
    RUN(owner_end_cancels_its_threads);
    RUN(deadline_and_cancel_reach_the_threads);
    RUN(a_thread_is_a_co_of_its_owners_kind_and_userdata);
    RUN(cost_of_spawn_and_wait);
    test_co_pool_close();
    uv_run(loop, UV_RUN_DEFAULT);
    return test_summary();
}
