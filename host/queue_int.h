/* queue_int.h — what the two halves of the consumer share: queue_consumer.c (taking jobs,
 * reporting outcomes, the turn, the lifecycle) and queue_upkeep.c (lock renewal, the stalled
 * check, schedules, giving jobs back). Not for use outside them; prefix qc_. */
#ifndef SPEEZY_QUEUE_INT_H
#define SPEEZY_QUEUE_INT_H

#include <stdint.h>

#include "cron.h"
#include "queue.h"

#define IDLE_MS_DEFAULT 5000
#define MESSAGE_MAX 4096
#define RESERVE_MAX 1000
#define RETRY_MS 1000 /* after Redis failed a consumer's call */
/* Two reserves in flight per queue, each for half the room: while Redis runs one, this worker
 * runs the other's jobs, instead of each waiting for the other in turn. That holds only if
 * Redis reads them apart: two reserves in one read run back to back and are answered in one
 * write, and then Redis and the worker take turns idling. So a reserve leaves at least
 * RESERVE_SPACING_US after the queue's previous one, when Redis is running that one; once
 * apart, each reply clocks the next reserve and they stay apart. */
#define RESERVE_INFLIGHT 2
#define RESERVE_SPACING_US 100

typedef struct cqueue cqueue_t;
typedef struct cjob cjob_t;

struct cjob {
    queue_job_t job; /* first: the runner's pointer is ours */
    cqueue_t *q;
    char *token;
    char *backoff;
    int released; /* given back by release_all: the runner's report is ignored */
    cjob_t *prev, *next;
};

/* A completion waiting for the end of the turn: id, token, result in one block. */
typedef struct done_s {
    struct done_s *next;
    size_t id_len, token_len, result_len;
    char bytes[];
} done_t;

struct cqueue {
    queue_consumer_t *c;
    queue_decl_t decl; /* decl.name owned */
    int declared;      /* in the generation's current set */
    int running, requested;
    int reserving;         /* reserve scripts in flight (at most RESERVE_INFLIGHT) */
    uint64_t reserved_us;  /* when the last one left (uv_hrtime, µs) */
    int ready;             /* jobs may be waiting: ask for them when there is room */
    int64_t next_due;      /* wall ms of the earliest delayed job; -1 none known */
    int64_t limited_until; /* wall ms: the rate limit's window ends */
    done_t *done, **done_tail;
    int ndone;
    cjob_t *jobs; /* running, newest first */
    queue_stats_t stats;
    char marker[QUEUE_NAME_MAX + 32];
    cqueue_t *next;
};

typedef struct {
    queue_sched_t s;
    char *copy; /* one block holding every string of s */
    cron_expr_t cron;
    int64_t next_ms; /* -1: never (a cron expression that no longer fires) */
} csched_t;

struct queue_consumer {
    uv_loop_t *loop;
    redis_client_t *client;
    queue_consumer_opts_t o;
    queue_run_cb run;
    void *ud;
    cqueue_t *queues;
    csched_t *scheds;
    int nscheds;
    uv_check_t turn;  /* started by qc_kick only: an idle consumer costs a loop turn nothing */
    uv_idle_t kick;   /* keeps the loop from sleeping until the turn ran (see qc_kick) */
    uv_timer_t due;   /* the earliest due time of a delayed job or a rate-limit window */
    uv_timer_t locks; /* renews locks and runs the stalled check */
    uv_timer_t sched;
    redis_cmd_t *block; /* BZPOPMIN in flight */
    int block_waits_on; /* how many queue markers it waits on */
    int woken;          /* a wake was pushed for the block in flight */
    int pending;        /* scripts in flight */
    int64_t retry_at;   /* after a failure: no Redis call before then (wall ms) */
    int reported_down;  /* logged once per outage */
    int draining;
    void (*drained)(void *);
    void *drained_ud;
    int closing, handles;
    char token[48];
    char wake_key[64];
};

/* Wall-clock ms (Redis times are shared by every process). */
int64_t qc_wall_ms(const queue_consumer_t *c);
/* Makes the loop run the turn before it next sleeps. */
void qc_kick(queue_consumer_t *c);
/* Calls the drain's callback once nothing runs or waits for Redis. */
void qc_check_drained(queue_consumer_t *c);
const char *qc_reply_why(const redisReply *r, int err);
/* The job's log line, and the queue's counters. */
void qc_log_outcome(const cjob_t *j, const char *state, const char *code, const char *msg);

/* Ready jobs of queue `name` were just written to connection `client` (queue_add.c). */
void qc_added(queue_consumer_t *c, const redis_client_t *client, const char *name);

/* queue_upkeep.c */
void qc_on_locks(uv_timer_t *t);
int64_t qc_sched_next(const csched_t *s, int64_t after);
void qc_arm_sched(queue_consumer_t *c, int64_t now);
int qc_sched_copy(const queue_sched_t *s, csched_t *out);
void qc_sched_free_all(queue_consumer_t *c);

#endif
