/* queue.h — the job queue's core on Redis: our own Redis scripts (the .lua files of host/queue),
 * and the consumer that takes jobs, hands them to a runner and reports their outcome. No Lua.
 *
 * Every transition of a job (added, taken, completed, failed, retried, stalled, given back)
 * is one Redis script, so two consumers can never both take a job or both finish it. A
 * running job holds a lock: its score in the queue's active set is the lock's deadline,
 * renewed by its consumer; a deadline that passes means the consumer died or hung, and the
 * stalled check puts the job back in line (at-least-once). See host/queue/common.lua for the
 * keys.
 *
 * A consumer serves the queues one script generation declares (queue_consumer_set). It blocks
 * on Redis (BZPOPMIN over the queues' markers, on a dedicated connection) only while it has
 * room for jobs and none is known to be ready; it never polls faster than its idle period.
 * The jobs it finishes in one loop turn are reported to Redis in one script call per queue,
 * together with taking the next ones. */
#ifndef SPEEZY_QUEUE_H
#define SPEEZY_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "redis.h"

#define QUEUE_PREFIX "sq:"
#define QUEUE_NAME_MAX 200

typedef enum {
    QUEUE_SCRIPT_ADD,
    QUEUE_SCRIPT_RESERVE,
    QUEUE_SCRIPT_FAIL,
    QUEUE_SCRIPT_RENEW,
    QUEUE_SCRIPT_STALLED,
    QUEUE_SCRIPT_RELEASE,
    QUEUE_SCRIPT_SCHEDULE,
    QUEUE_SCRIPT_COUNTS,
    QUEUE_SCRIPT_CONTROL,
    QUEUE_SCRIPT_GET,
    QUEUE_NSCRIPTS
} queue_script_t;

/* The full text (common.lua + the script) and its SHA-1; NULL for an unknown name. Lua uses it
 * through redis.eval, the consumer through queue_eval: one text, whoever runs it. */
const char *queue_script_text(queue_script_t s, size_t *len);
int queue_script_by_name(const char *name, queue_script_t *out);

/* "sq:q:NAME:" into buf; -1 when the name is empty, too long or holds a control byte. */
int queue_key(const char *name, size_t len, char *buf, size_t cap);

/* EVALSHA of script s with KEYS = {QUEUE_PREFIX, queue key of name (or "" for NULL)} and
 * argv; on NOSCRIPT (Redis restarted or flushed its scripts) the text itself, once. The same
 * contract as redis_command; the handle lives until cb runs. */
typedef redis_eval_t queue_eval_t;
int queue_eval(redis_client_t *client, queue_script_t s, const char *name, int argc,
               const char **argv, const size_t *argvlen, redis_reply_cb cb, void *ud,
               queue_eval_t **out);
void queue_eval_abandon(queue_eval_t *ev);

/* ---- adding -------------------------------------------------------------------------------
 * The jobs added in one loop turn (by any number of requests and jobs) reach Redis in one add
 * script per queue at the end of the turn: one round trip and one script run for all of them. */

typedef struct queue_adder queue_adder_t;
typedef struct queue_add_req queue_add_req_t;

/* id of the job (new, or the existing one of a duplicate jobId, created 0), or err < 0 with
 * Redis' message (NULL when it gave none). */
typedef void (*queue_add_cb)(const char *id, size_t id_len, int created, int err,
                             const char *message, void *ud);

int queue_adder_new(uv_loop_t *loop, redis_client_t *client, queue_adder_t **out);
/* Fails what is waiting with REDIS_EUNAVAILABLE first. */
void queue_adder_close(queue_adder_t *a);
/* One job as add.lua reads it (12 values: name, now, 8 options, jobId, data; see add_opts in
 * host/queue/common.lua). The callback runs later, never from
 * inside this call; 0, or a negative code (REDIS_ENOMEM, REDIS_EINVAL for a bad name). */
int queue_adder_add(queue_adder_t *a, const char *const argv[12], const size_t len[12],
                    queue_add_cb cb, void *ud, queue_add_req_t **out);
/* The callback will not run (the coroutine that waited is gone); the job may still be added. */
void queue_add_abandon(queue_add_req_t *r);

/* ---- consumer --------------------------------------------------------------------------- */

typedef struct queue_consumer queue_consumer_t;

typedef enum { QUEUE_BACKOFF_FIXED, QUEUE_BACKOFF_EXPONENTIAL } queue_backoff_type_t;

/* A job handed to the runner; valid until queue_job_complete / queue_job_fail. */
typedef struct queue_job {
    const char *queue;
    const char *id;
    const char *data; /* JSON text */
    size_t data_len;
    int attempt; /* 1-based */
    int attempts;
    uint64_t timeout_ms;    /* 0: none */
    uint64_t started_us;    /* uv_hrtime / 1000 when handed over */
    const char *generation; /* set by the runner: named in the job's log line */
    void *runner_data;      /* the runner's own */
} queue_job_t;

/* What a generation declares for one queue (queue.process). */
typedef struct queue_decl {
    const char *name;
    int concurrency; /* jobs at once in this consumer */
    int limit_max;   /* at most limit_max jobs per limit_ms across every consumer; 0: none */
    uint64_t limit_ms;
    int max_stalled; /* stalls before a job fails with STALLED */
} queue_decl_t;

/* A repeatable job (queue.schedule): fires once per period across every consumer. */
typedef struct queue_sched {
    const char *queue;
    uint64_t every_ms; /* a fixed period, or 0 and a cron expression */
    const char *cron;
    /* the job as add.lua takes it (12 values, jobId ''); "now" and "delay" are set per fire */
    const char *add_argv[12];
    size_t add_len[12];
} queue_sched_t;

typedef struct queue_consumer_opts {
    uint64_t lock_ms;            /* QUEUE_LOCK_MS; stalled check every lock_ms / 2 */
    uint64_t idle_ms;            /* longest block before looking again; 0: 5000 */
    int (*now_ms)(int64_t *out); /* wall clock for Redis times; NULL: clock_gettime */
} queue_consumer_opts_t;

/* Called once per job taken. The runner reports with queue_job_complete / queue_job_fail. */
typedef void (*queue_run_cb)(queue_job_t *job, void *ud);

int queue_consumer_new(uv_loop_t *loop, redis_client_t *client, const queue_consumer_opts_t *o,
                       queue_run_cb run, void *ud, queue_consumer_t **out);
/* Replaces the queues consumed and the schedules fired (copied). Jobs running on a queue no
 * longer declared finish and report as usual. Returns 0 or -1 (out of memory). */
int queue_consumer_set(queue_consumer_t *c, const queue_decl_t *decls, int ndecls,
                       const queue_sched_t *scheds, int nscheds);
/* result: JSON text kept as the job's result. */
void queue_job_complete(queue_job_t *job, const char *result, size_t len);
/* code: TIMEOUT, ERROR, ...; retried with the job's backoff while attempts are left unless
 * final. */
void queue_job_fail(queue_job_t *job, const char *code, const char *message, int final);
/* Stops taking jobs; running ones go on. drained(ud) runs once none is running any more and
 * every report reached Redis (or failed). */
void queue_consumer_drain(queue_consumer_t *c, void (*drained)(void *), void *ud);
/* Gives every job still running back to its queue, first in line, the attempt not counted;
 * their later reports are ignored. For a drain that ran out of time. */
void queue_consumer_release_all(queue_consumer_t *c);
int queue_consumer_running(const queue_consumer_t *c);

/* What this consumer did per queue since it started: the operations' metrics read these. */
typedef struct queue_stats {
    const char *name;
    int running;
    uint64_t completed, failed, retried; /* outcomes of attempts reported by this consumer */
    uint64_t duration_us_sum;            /* of those attempts */
    uint64_t duration_us_max;
} queue_stats_t;
void queue_consumer_stats(const queue_consumer_t *c, void (*each)(const queue_stats_t *, void *),
                          void *ud);
void queue_consumer_close(queue_consumer_t *c);

/* Adds of ready jobs through a (on the consumer's connection) are then told to consumer c, or
 * to nobody (NULL): c takes a job added in this process without waiting for the queue's marker
 * to wake it (queue_consumer.c, qc_added). */
void queue_adder_watch(queue_adder_t *a, queue_consumer_t *c);

/* The delay before retry `attempt + 1` after attempt `attempt` failed (ms). */
uint64_t queue_backoff_ms(const char *spec, int attempt, double unit_random);

#endif
