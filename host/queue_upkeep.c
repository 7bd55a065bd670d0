/* queue_upkeep.c — the consumer's upkeep beside taking jobs: it renews the locks of the jobs it
 * runs, runs the stalled check, fires schedules once per period and gives running jobs back
 * when a drain runs out of time. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "queue_int.h"

/* ---- locks and stalled jobs --------------------------------------------------------------- */

typedef struct {
    queue_consumer_t *c;
    char queue[QUEUE_NAME_MAX + 1];
} call_t;

static call_t *call_new(queue_consumer_t *c, const char *queue)
{
    call_t *k = malloc(sizeof(*k));
    if (k) {
        k->c = c;
        snprintf(k->queue, sizeof(k->queue), "%s", queue);
    }
    return k;
}

static void on_renewed(const redisReply *r, int err, void *ud)
{
    call_t *k = ud;
    k->c->pending--;
    if (r && r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++)
            log_warn("queue %s: job %s lost its lock (found stalled): another attempt may run it",
                     k->queue, r->element[i]->str);
    else
        log_warn("queue %s: cannot renew job locks: %s", k->queue, qc_reply_why(r, err));
    queue_consumer_t *c = k->c;
    free(k);
    qc_check_drained(c);
}

static void on_stalled(const redisReply *r, int err, void *ud)
{
    call_t *k = ud;
    k->c->pending--;
    if (r && r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i + 1 < r->elements; i += 2) {
            int failed = r->element[i + 1]->integer == 2;
            log_job_t l = {.queue = k->queue,
                           .id = r->element[i]->str,
                           .state = failed ? "failed" : "stalled",
                           .error_code = "STALLED",
                           .error_message = failed ? "stalled too many times"
                                                   : "its lock expired: it runs again"};
            log_job(&l);
        }
        if (r->elements)
            for (cqueue_t *q = k->c->queues; q; q = q->next)
                if (strcmp(q->decl.name, k->queue) == 0)
                    q->ready = 1;
    }
    (void)err;
    queue_consumer_t *c = k->c;
    free(k);
    qc_kick(c);
    qc_check_drained(c);
}

static void renew_queue(queue_consumer_t *c, cqueue_t *q, int64_t now)
{
    int argc = 1 + 2 * q->running, a = 0;
    const char **argv = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
    call_t *k = call_new(c, q->decl.name);
    if (!argv || !k) {
        free(argv);
        free(k);
        return;
    }
    size_t *len = (size_t *)(argv + argc);
    char deadline[24];
    snprintf(deadline, sizeof(deadline), "%" PRId64, now + (int64_t)c->o.lock_ms);
    argv[a] = deadline, len[a++] = strlen(deadline);
    for (cjob_t *j = q->jobs; j && a + 1 < argc; j = j->next) {
        if (j->released)
            continue;
        argv[a] = j->job.id, len[a++] = strlen(j->job.id);
        argv[a] = j->token, len[a++] = strlen(j->token);
    }
    if (a > 1 && queue_eval(c->client, QUEUE_SCRIPT_RENEW, q->decl.name, a, argv, len, on_renewed,
                            k, NULL) == 0)
        c->pending++;
    else
        free(k);
    free(argv);
}

static void check_stalled(queue_consumer_t *c, cqueue_t *q, int64_t now)
{
    call_t *k = call_new(c, q->decl.name);
    if (!k)
        return;
    char n[24], max[24], every[24];
    snprintf(n, sizeof(n), "%" PRId64, now);
    snprintf(max, sizeof(max), "%d", q->decl.max_stalled);
    snprintf(every, sizeof(every), "%" PRIu64, c->o.lock_ms / 2);
    const char *argv[] = {n, max, every};
    size_t len[] = {strlen(n), strlen(max), strlen(every)};
    if (queue_eval(c->client, QUEUE_SCRIPT_STALLED, q->decl.name, 3, argv, len, on_stalled, k,
                   NULL) == 0)
        c->pending++;
    else
        free(k);
}

void qc_on_locks(uv_timer_t *t)
{
    queue_consumer_t *c = t->data;
    int64_t now = qc_wall_ms(c);
    for (cqueue_t *q = c->queues; q; q = q->next) {
        if (q->running)
            renew_queue(c, q, now);
        if (q->declared && !c->draining)
            check_stalled(c, q, now);
    }
}

/* ---- schedules ---------------------------------------------------------------------------- */

int64_t qc_sched_next(const csched_t *s, int64_t after)
{
    if (s->s.every_ms)
        return (after / (int64_t)s->s.every_ms + 1) * (int64_t)s->s.every_ms;
    return cron_next(&s->cron, after);
}

static void on_fired(const redisReply *r, int err, void *ud)
{
    call_t *k = ud;
    k->c->pending--;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_warn("queue %s: a scheduled job could not be added: %s", k->queue,
                 qc_reply_why(r, err));
    queue_consumer_t *c = k->c;
    free(k);
    qc_check_drained(c);
}

static void consumer_on_sched(uv_timer_t *t);

void qc_arm_sched(queue_consumer_t *c, int64_t now)
{
    int64_t first = -1;
    for (int i = 0; i < c->nscheds; i++)
        if (c->scheds[i].next_ms >= 0 && (first < 0 || c->scheds[i].next_ms < first))
            first = c->scheds[i].next_ms;
    if (first < 0 || c->draining)
        uv_timer_stop(&c->sched);
    else
        uv_timer_start(&c->sched, consumer_on_sched, (uint64_t)(first > now ? first - now : 0), 0);
}

static void consumer_on_sched(uv_timer_t *t)
{
    queue_consumer_t *c = t->data;
    int64_t now = qc_wall_ms(c);
    for (int i = 0; i < c->nscheds; i++) {
        csched_t *s = &c->scheds[i];
        if (s->next_ms < 0 || s->next_ms > now)
            continue;
        call_t *k = call_new(c, s->s.queue);
        char period[24], key[300], nowtxt[24];
        snprintf(period, sizeof(period), "%" PRId64, s->next_ms);
        snprintf(nowtxt, sizeof(nowtxt), "%" PRId64, now);
        /* the schedule's name in Redis: its period, so every instance agrees on it */
        if (s->s.cron)
            snprintf(key, sizeof(key), "cron:%s", s->s.cron);
        else
            snprintf(key, sizeof(key), "every:%" PRIu64, s->s.every_ms);
        const char *argv[14] = {key, period};
        size_t len[14] = {0};
        for (int a = 0; a < 12; a++)
            argv[2 + a] = s->s.add_argv[a], len[2 + a] = s->s.add_len[a];
        argv[2 + 1] = nowtxt, len[2 + 1] = strlen(nowtxt);
        argv[2 + 2] = "0", len[2 + 2] = 1;
        len[0] = strlen(argv[0]);
        len[1] = strlen(period);
        if (k && queue_eval(c->client, QUEUE_SCRIPT_SCHEDULE, s->s.queue, 14, argv, len, on_fired,
                            k, NULL) == 0)
            c->pending++;
        else
            free(k);
        s->next_ms = qc_sched_next(s, now);
    }
    qc_arm_sched(c, now);
}

void qc_sched_free_all(queue_consumer_t *c)
{
    for (int i = 0; i < c->nscheds; i++)
        free(c->scheds[i].copy);
    free(c->scheds);
    c->scheds = NULL;
    c->nscheds = 0;
}

/* Copies every string of s into one block. */
int qc_sched_copy(const queue_sched_t *s, csched_t *out)
{
    size_t n = strlen(s->queue) + 1 + (s->cron ? strlen(s->cron) + 1 : 0);
    for (int a = 0; a < 12; a++)
        n += s->add_len[a] + 1;
    char *p = malloc(n);
    if (!p)
        return -1;
    char err[128];
    if (s->cron && cron_parse(s->cron, &out->cron, err, sizeof(err)) < 0) {
        log_error("queue %s: schedule refused: %s", s->queue, err); /* speezy.queue checked it */
        free(p);
        return -1;
    }
    out->copy = p;
    out->s = *s;
    out->s.queue = strcpy(p, s->queue), p += strlen(s->queue) + 1;
    if (s->cron)
        out->s.cron = strcpy(p, s->cron), p += strlen(s->cron) + 1;
    for (int a = 0; a < 12; a++) {
        out->s.add_argv[a] = memcpy(p, s->add_argv[a], s->add_len[a]);
        p[s->add_len[a]] = '\0';
        p += s->add_len[a] + 1;
    }
    return 0;
}

static void on_released(const redisReply *r, int err, void *ud)
{
    call_t *k = ud;
    k->c->pending--;
    if (!r || r->type != REDIS_REPLY_INTEGER)
        log_error("queue %s: cannot give running jobs back: %s; they run again after their lock",
                  k->queue, qc_reply_why(r, err));
    else if (r->integer > 0)
        log_warn("queue %s: gave %lld running job(s) back to the queue", k->queue, r->integer);
    queue_consumer_t *c = k->c;
    free(k);
    qc_check_drained(c);
}

void queue_consumer_release_all(queue_consumer_t *c)
{
    for (cqueue_t *q = c->queues; q; q = q->next) {
        int argc = 2 * q->running, a = 0;
        if (argc == 0)
            continue;
        const char **argv = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
        call_t *k = call_new(c, q->decl.name);
        if (!argv || !k) {
            free(argv);
            free(k);
            continue;
        }
        size_t *len = (size_t *)(argv + argc);
        for (cjob_t *j = q->jobs; j; j = j->next) {
            if (j->released)
                continue;
            j->released = 1;
            qc_log_outcome(j, "released", NULL, NULL);
            argv[a] = j->job.id, len[a++] = strlen(j->job.id);
            argv[a] = j->token, len[a++] = strlen(j->token);
        }
        if (a > 0 && queue_eval(c->client, QUEUE_SCRIPT_RELEASE, q->decl.name, a, argv, len,
                                on_released, k, NULL) == 0)
            c->pending++;
        else
            free(k);
        free(argv);
    }
}
