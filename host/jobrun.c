/* jobrun.c — a job's walk: consumer -> coroutine on the pinned generation -> outcome.
 *
 * queue._run(name, id, data, attempt, attempts) (host/lib/speezy/queue.lua) calls the
 * handler under xpcall and answers true, result JSON or false, code, message; the deadline
 * of the coroutine is the job's timeout. */
#include "jobrun.h"

#include <stdio.h>
#include <stdlib.h>

#include "log.h"

typedef struct jrun {
    jobrun_t *jr;
    queue_job_t *job;
    vm_gen_t *gen;
    co_t *co;
    struct jrun *prev, *next;
} jrun_t;

struct jobrun {
    bind_host_t *host;
    vm_gen_t *gen;
    queue_consumer_t *consumer;
    jrun_t *running;
    int nrunning;
};

static void jrun_unlink(jobrun_t *jr, jrun_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        jr->running = r->next;
    if (r->next)
        r->next->prev = r->prev;
    jr->nrunning--;
}

static void report(queue_job_t *job, co_t *co, co_status_t status, int nresults)
{
    lua_State *L = co_thread(co);
    char msg[160];
    switch (status) {
    case CO_OK: {
        int base = lua_gettop(L) - nresults + 1;
        if (nresults >= 2 && lua_toboolean(L, base)) {
            size_t len;
            const char *result = lua_tolstring(L, base + 1, &len);
            queue_job_complete(job, result ? result : "null", result ? len : 4);
        } else {
            const char *code = nresults >= 2 ? lua_tostring(L, base + 1) : NULL;
            const char *message = nresults >= 3 ? lua_tostring(L, base + 2) : NULL;
            queue_job_fail(job, code ? code : "ERROR", message ? message : "the job failed", 0);
        }
        break;
    }
    case CO_TIMEOUT:
        snprintf(msg, sizeof(msg), "the attempt did not finish within %llu ms",
                 (unsigned long long)job->timeout_ms);
        queue_job_fail(job, "TIMEOUT", msg, 0);
        break;
    case CO_CANCELLED:
        queue_job_fail(job, "CANCELLED", "the attempt was cancelled (shutdown or reload)", 0);
        break;
    case CO_ERROR: {
        const char *m = lua_tostring(L, -1);
        log_msg(LOG_ERROR, NULL, "job %s of queue %s failed: %s", job->id, job->queue,
                m ? m : "(no message)");
        queue_job_fail(job, "ERROR", m ? m : "the job raised an error", 0);
        break;
    }
    }
}

static void on_job_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    jrun_t *r = ud;
    jobrun_t *jr = r->jr;
    report(r->job, co, status, nresults);
    jrun_unlink(jr, r);
    co_free(co);
    vm_gen_reclaim(r->gen);
    vm_gen_unpin(r->gen);
    free(r);
}

static void jobrun_start(queue_job_t *job, void *ud)
{
    jobrun_t *jr = ud;
    vm_gen_t *gen = jr->gen;
    jrun_t *r = calloc(1, sizeof(*r));
    co_t *co = r ? co_new(jr->host->cos, gen->L, CO_KIND_JOB, on_job_done, r) : NULL;
    if (!co) {
        free(r);
        queue_job_fail(job, "INTERNAL", "out of memory starting the job", 0);
        return;
    }
    r->jr = jr;
    r->job = job;
    r->gen = gen;
    r->co = co;
    job->generation = gen->short_hash;
    vm_gen_pin(gen);
    r->next = jr->running;
    if (jr->running)
        jr->running->prev = r;
    jr->running = r;
    jr->nrunning++;
    lua_State *T = co_thread(co);
    lua_rawgeti(T, LUA_REGISTRYINDEX, gen->job_ref);
    lua_pushstring(T, job->queue);
    lua_pushstring(T, job->id);
    lua_pushlstring(T, job->data, job->data_len);
    lua_pushinteger(T, job->attempt);
    lua_pushinteger(T, job->attempts);
    if (job->timeout_ms)
        co_set_deadline(co, job->timeout_ms);
    co_start(co, 5);
}

jobrun_t *jobrun_new(bind_host_t *host, uint64_t lock_ms)
{
    jobrun_t *jr = calloc(1, sizeof(*jr));
    if (!jr)
        return NULL;
    jr->host = host;
    queue_consumer_opts_t o = {.lock_ms = lock_ms};
    if (queue_consumer_new(host->loop, host->redis, &o, jobrun_start, jr, &jr->consumer) < 0) {
        free(jr);
        return NULL;
    }
    queue_adder_watch(host->queue_adder, jr->consumer);
    return jr;
}

void jobrun_set_generation(jobrun_t *jr, vm_gen_t *gen)
{
    jr->gen = gen;
    if (queue_consumer_set(jr->consumer, gen->queues, gen->nqueues, gen->scheds, gen->nscheds) < 0)
        log_error("queue: out of memory declaring the queues of generation %s", gen->short_hash);
}

void jobrun_drain(jobrun_t *jr, void (*done)(void *), void *ud)
{
    queue_consumer_drain(jr->consumer, done, ud);
}

void jobrun_abort(jobrun_t *jr)
{
    queue_consumer_release_all(jr->consumer);
    while (jr->running)
        co_cancel(jr->running->co);
}

void jobrun_sweep(jobrun_t *jr, uint64_t now_ms, uint64_t max_ms)
{
    jrun_t *next;
    for (jrun_t *r = jr->running; r; r = next) {
        next = r->next;
        if (r->gen != jr->gen && r->gen->retired_at_ms && now_ms - r->gen->retired_at_ms > max_ms) {
            log_warn("cancelling job %s of queue %s still running on retired generation %s",
                     r->job->id, r->job->queue, r->gen->short_hash);
            co_cancel(r->co);
        }
    }
}

const queue_consumer_t *jobrun_consumer(const jobrun_t *jr)
{
    return jr->consumer;
}

int jobrun_running(const jobrun_t *jr)
{
    return jr->nrunning;
}

void jobrun_close(jobrun_t *jr)
{
    if (!jr)
        return;
    while (jr->running)
        co_cancel(jr->running->co);
    queue_adder_watch(jr->host->queue_adder, NULL);
    queue_consumer_close(jr->consumer);
    free(jr);
}
