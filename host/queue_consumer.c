/* queue_consumer.c — takes jobs from Redis for one process and reports how they ended.
 *
 * One consumer per worker serves every queue its generation declares. Per queue it knows how
 * many jobs run (running), how many it asked for (requested), whether jobs may be waiting
 * (ready), and when the earliest delayed job is due. What happens in a loop turn is collected
 * and acted on at its end (the check handle): completions of that turn and the next jobs
 * travel in one reserve script per queue. With room and nothing ready it blocks on Redis:
 * BZPOPMIN over the markers of those queues and its own wake key, which it pushes itself when
 * the set of queues to wait on changes or it must stop waiting (a drain). */
#include "queue.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "log.h"
#include "queue_int.h"

int64_t qc_wall_ms(const queue_consumer_t *c)
{
    int64_t v;
    if (c->o.now_ms && c->o.now_ms(&v) == 0)
        return v;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A turn's work is done in the check handle, after the loop's I/O, and only in a loop turn
 * where something changed (every change kicks): the requests' turns cost the consumer nothing.
 * The idle handle, active until the turn ran, keeps the loop from blocking in poll before it:
 * when the change came from a timer, or from the turn itself (a reserve waiting for its
 * spacing). */
static void consumer_on_kick(uv_idle_t *h)
{
    (void)h;
}

static void consumer_on_turn(uv_check_t *h);

void qc_kick(queue_consumer_t *c)
{
    if (c->closing)
        return;
    uv_check_start(&c->turn, consumer_on_turn);
    uv_idle_start(&c->kick, consumer_on_kick);
}

/* ---- queues ------------------------------------------------------------------------------- */

static cqueue_t *queue_find(queue_consumer_t *c, const char *name)
{
    for (cqueue_t *q = c->queues; q; q = q->next)
        if (strcmp(q->decl.name, name) == 0)
            return q;
    return NULL;
}

static int queue_room(const queue_consumer_t *c, const cqueue_t *q)
{
    if (!q->declared || c->draining)
        return 0;
    int room = q->decl.concurrency - q->running - q->requested;
    return room > RESERVE_MAX ? RESERVE_MAX : room;
}

static void job_free(cjob_t *j)
{
    cqueue_t *q = j->q;
    if (j->prev)
        j->prev->next = j->next;
    else
        q->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    q->running--;
    free(j);
}

/* ---- reserve: report completions, take jobs ----------------------------------------------- */

void qc_log_outcome(const cjob_t *j, const char *state, const char *code, const char *msg)
{
    queue_stats_t *st = &j->q->stats;
    uint64_t us = uv_hrtime() / 1000 - j->job.started_us;
    st->completed += strcmp(state, "completed") == 0;
    st->failed += strcmp(state, "failed") == 0;
    st->retried += strcmp(state, "retrying") == 0;
    st->duration_us_sum += us;
    st->duration_us_max = us > st->duration_us_max ? us : st->duration_us_max;
    log_job_t l = {.queue = j->job.queue,
                   .id = j->job.id,
                   .attempt = j->job.attempt,
                   .state = state,
                   .duration_us = us,
                   .error_code = code,
                   .error_message = msg,
                   .generation = j->job.generation};
    log_job(&l);
}

/* Field i of a job in a reserve reply: a bulk string (HMGET) or an integer (HINCRBY). */
static const char *field_str(const redisReply *r, size_t *len)
{
    if (r->type == REDIS_REPLY_STRING) {
        *len = r->len;
        return r->str;
    }
    *len = 0;
    return "";
}

static long long field_int(const redisReply *r)
{
    return r->type == REDIS_REPLY_INTEGER  ? r->integer
           : r->type == REDIS_REPLY_STRING ? atoll(r->str)
                                           : 0;
}

static void start_job(queue_consumer_t *c, cqueue_t *q, redisReply **f)
{
    size_t id_len, data_len, bo_len;
    const char *id = field_str(f[0], &id_len), *data = field_str(f[1], &data_len);
    const char *bo = field_str(f[5], &bo_len);
    long long attempt = field_int(f[2]);
    char token[96];
    int tl = snprintf(token, sizeof(token), "%s:%lld", c->token, attempt);
    size_t name_len = strlen(q->decl.name);
    cjob_t *j = malloc(sizeof(*j) + id_len + data_len + name_len + bo_len + (size_t)tl + 5);
    if (!j) {
        log_error("queue %s: out of memory for job %.*s: its lock will expire and it runs again",
                  q->decl.name, (int)id_len, id);
        return;
    }
    memset(j, 0, sizeof(*j));
    char *p = (char *)(j + 1);
    j->job.id = memcpy(p, id, id_len), p[id_len] = '\0', p += id_len + 1;
    j->job.data = memcpy(p, data, data_len), p[data_len] = '\0', p += data_len + 1;
    j->job.data_len = data_len;
    j->job.queue = memcpy(p, q->decl.name, name_len + 1), p += name_len + 1;
    j->backoff = memcpy(p, bo, bo_len), p[bo_len] = '\0', p += bo_len + 1;
    j->token = memcpy(p, token, (size_t)tl + 1);
    j->job.attempt = (int)attempt;
    j->job.attempts = (int)field_int(f[3]);
    j->job.timeout_ms = (uint64_t)field_int(f[4]);
    j->job.started_us = uv_hrtime() / 1000;
    j->q = q;
    j->next = q->jobs;
    if (q->jobs)
        q->jobs->prev = j;
    q->jobs = j;
    q->running++;
    c->run(&j->job, c->ud);
}

static void consumer_on_due(uv_timer_t *t)
{
    qc_kick(t->data);
}

/* Redis refused or is away: no call before RETRY_MS, then the queue looks again. */
static void consumer_backoff(queue_consumer_t *c, const char *what, const char *why)
{
    if (!c->reported_down)
        log_warn("queue consumer: %s failed: %s; retrying every %d ms", what, why, RETRY_MS);
    c->reported_down = 1;
    c->retry_at = qc_wall_ms(c) + RETRY_MS;
    uv_timer_start(&c->due, consumer_on_due, RETRY_MS, 0);
}

const char *qc_reply_why(const redisReply *r, int err)
{
    return r && r->type == REDIS_REPLY_ERROR ? r->str : redis_strerror(err ? err : REDIS_EREPLY);
}

typedef struct {
    queue_consumer_t *c;
    cqueue_t *q;
    int asked;
} reserve_t;

static void on_reserved(const redisReply *r, int err, void *ud)
{
    reserve_t rs = *(reserve_t *)ud;
    free(ud);
    queue_consumer_t *c = rs.c;
    cqueue_t *q = rs.q;
    c->pending--;
    q->reserving--;
    q->requested -= rs.asked;
    if (c->closing) /* the client is failing what was in flight: nothing to start any more */
        return;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
        q->ready = 1;
        consumer_backoff(c, "taking jobs", qc_reply_why(r, err));
    } else {
        c->reported_down = 0;
        long long wait = r->element[1]->integer;
        size_t nlost = (size_t)r->element[2]->integer, first = 3 + nlost;
        for (size_t i = 3; i < first && i < r->elements; i++)
            log_warn("queue %s: job %s finished after its lock expired: its result was not kept",
                     q->decl.name, r->element[i]->str);
        q->next_due = r->element[0]->integer;
        if (wait > 0)
            q->limited_until = qc_wall_ms(c) + wait;
        size_t njobs = first <= r->elements ? (r->elements - first) / 6 : 0;
        /* Fewer than asked: the queue ran dry (or is limited, or paused); its marker wakes us. */
        q->ready = wait == 0 && rs.asked > 0 && (int)njobs == rs.asked;
        for (size_t i = 0; i < njobs; i++)
            start_job(c, q, &r->element[first + 6 * i]);
    }
    qc_kick(c);
    qc_check_drained(c);
}

/* One reserve for q: the turn's completions, and up to `room` new jobs. */
static int send_reserve(queue_consumer_t *c, cqueue_t *q, int room, int64_t now)
{
    int argc = 7 + 3 * q->ndone;
    const char **argv = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
    reserve_t *rs = malloc(sizeof(*rs));
    if (!argv || !rs) {
        free(argv);
        free(rs);
        return -1;
    }
    size_t *len = (size_t *)(argv + argc);
    char nums[5][24];
    snprintf(nums[0], 24, "%" PRId64, now);
    snprintf(nums[1], 24, "%d", room);
    snprintf(nums[2], 24, "%" PRIu64, c->o.lock_ms);
    snprintf(nums[3], 24, "%d", q->decl.limit_max);
    snprintf(nums[4], 24, "%" PRIu64, q->decl.limit_ms);
    const char *head[7] = {nums[0], nums[1], nums[2], c->token, nums[3], nums[4], NULL};
    char k[24];
    snprintf(k, sizeof(k), "%d", q->ndone);
    head[6] = k;
    for (int i = 0; i < 7; i++) {
        argv[i] = head[i];
        len[i] = strlen(head[i]);
    }
    int a = 7;
    for (done_t *d = q->done; d; d = d->next) {
        argv[a] = d->bytes, len[a++] = d->id_len;
        argv[a] = d->bytes + d->id_len, len[a++] = d->token_len;
        argv[a] = d->bytes + d->id_len + d->token_len, len[a++] = d->result_len;
    }
    *rs = (reserve_t){c, q, room};
    int rc = queue_eval(c->client, QUEUE_SCRIPT_RESERVE, q->decl.name, argc, argv, len, on_reserved,
                        rs, NULL);
    free(argv);
    if (rc < 0) {
        free(rs);
        q->ready = 1;
        consumer_backoff(c, "taking jobs", redis_strerror(rc));
        return -1; /* the completions stay for the next try */
    }
    done_t *next;
    for (done_t *d = q->done; d; d = next) {
        next = d->next;
        free(d);
    }
    q->done = NULL;
    q->done_tail = &q->done;
    q->ndone = 0;
    q->reserving++;
    q->reserved_us = uv_hrtime() / 1000;
    q->requested += room;
    c->pending++;
    return 0;
}

/* A queue served here with room and no reserve in flight reserves at once, its call right behind
 * the add on the same connection: a job added in this process starts one round trip after
 * its add, not after a second one for the marker's wake and a third for the reserve. The
 * marker still wakes the block (or another process' consumer); a reserve after it may find
 * the job gone, which is harmless. */
void qc_added(queue_consumer_t *c, const redis_client_t *client, const char *name)
{
    if (c->closing || c->draining || client != c->client)
        return;
    int64_t now = qc_wall_ms(c);
    cqueue_t *q = queue_find(c, name);
    if (!q || q->reserving || q->limited_until || c->retry_at > now)
        return;
    int room = queue_room(c, q);
    if (room > 0)
        send_reserve(c, q, room, now);
}

/* ---- waiting on Redis --------------------------------------------------------------------- */

/* Does the block wait on q's marker? One test for counting the markers and for listing them: a
 * rate-limited queue has room but waits for its window (a timer), not for its marker. */
static int queue_waits(const queue_consumer_t *c, const cqueue_t *q)
{
    return !q->limited_until && queue_room(c, q) > 0 && !q->ready && !q->reserving;
}

static void on_block(const redisReply *r, int err, void *ud)
{
    queue_consumer_t *c = ud;
    c->block = NULL;
    c->woken = 0;
    if (!r || r->type == REDIS_REPLY_ERROR) {
        if (!c->closing)
            consumer_backoff(c, "waiting for jobs", qc_reply_why(r, err));
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        const char *key = r->element[0]->str, *member = r->element[1]->str;
        for (cqueue_t *q = c->queues; q; q = q->next) {
            if (strcmp(q->marker, key) != 0)
                continue;
            if (member[0] == 'd') {
                int64_t due = (int64_t)strtod(r->element[2]->str, NULL);
                if (q->next_due < 0 || due < q->next_due)
                    q->next_due = due;
            } else {
                q->ready = 1;
            }
        }
    } else { /* timed out: look at every queue, delayed jobs may be due */
        for (cqueue_t *q = c->queues; q; q = q->next)
            q->ready = 1;
    }
    qc_kick(c);
    qc_check_drained(c);
}

/* Interrupts the BZPOPMIN in flight (its answer is the wake key); the turn then waits again on
 * the queues that need it. */
static void consumer_wake(queue_consumer_t *c)
{
    if (!c->block || c->woken)
        return;
    const char *argv[] = {"ZADD", c->wake_key, "0", "w"};
    size_t len[] = {4, strlen(c->wake_key), 1, 1};
    if (redis_command(c->client, 4, argv, len, NULL, NULL, NULL) == 0) {
        const char *ex[] = {"PEXPIRE", c->wake_key, "60000"};
        size_t exlen[] = {7, strlen(c->wake_key), 5};
        redis_command(c->client, 3, ex, exlen, NULL, NULL, NULL);
        c->woken = 1;
    }
}

static void send_block(queue_consumer_t *c, int nwait, int64_t until, int64_t now)
{
    int argc = nwait + 3;
    const char **argv = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
    if (!argv)
        return;
    size_t *len = (size_t *)(argv + argc);
    int a = 0;
    argv[a] = "BZPOPMIN", len[a++] = 8;
    argv[a] = c->wake_key, len[a++] = strlen(c->wake_key);
    for (cqueue_t *q = c->queues; q; q = q->next) {
        if (queue_waits(c, q)) {
            argv[a] = q->marker;
            len[a++] = strlen(q->marker);
        }
    }
    int64_t ms = until - now;
    if (ms < 1)
        ms = 1;
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%.3f", (double)ms / 1000.0);
    argv[a] = timeout, len[a++] = strlen(timeout);
    int rc = redis_command(c->client, a, argv, len, on_block, c, &c->block);
    free(argv);
    if (rc < 0) {
        c->block = NULL;
        consumer_backoff(c, "waiting for jobs", redis_strerror(rc));
        return;
    }
    c->block_waits_on = nwait;
}

/* ---- the turn ----------------------------------------------------------------------------- */

static void consumer_turn(queue_consumer_t *c)
{
    if (c->closing)
        return;
    int64_t now = qc_wall_ms(c);
    int64_t until = now + (int64_t)c->o.idle_ms; /* the next moment something is due */
    int64_t due_at = INT64_MAX;                  /* the same without the idle period */
    int nwait = 0;
    int backing_off = c->retry_at > now;
    for (cqueue_t *q = c->queues; q; q = q->next) {
        if (q->next_due >= 0 && q->next_due <= now)
            q->ready = 1; /* a delayed job is due: promote it, even without room */
        if (q->limited_until && q->limited_until <= now)
            q->limited_until = 0;
        int room = q->limited_until ? 0 : queue_room(c, q);
        int due = q->next_due >= 0 && q->next_due <= now;
        while (!backing_off && q->reserving < RESERVE_INFLIGHT &&
               (q->ndone > 0 || (q->ready && room > 0) || (due && q->declared))) {
            if (q->reserving && uv_hrtime() / 1000 - q->reserved_us < RESERVE_SPACING_US) {
                qc_kick(c); /* the next loop turns look again (a timer's ms would idle Redis) */
                break;
            }
            int ask = q->reserving == 0 && q->ready && room > 1 ? (room + 1) / 2 : room;
            if (send_reserve(c, q, ask, now) < 0)
                break;
            room -= ask;
            if (due)
                q->next_due = -1; /* the reply says the next one */
            due = 0;
        }
        if (q->declared && !q->reserving && q->next_due >= 0 && q->next_due < due_at)
            due_at = q->next_due;
        if (q->limited_until && q->limited_until < due_at)
            due_at = q->limited_until;
        if (queue_waits(c, q))
            nwait++;
    }
    if (backing_off)
        return;
    if (due_at < until)
        until = due_at;
    if (c->block) {
        if (nwait != c->block_waits_on || c->draining)
            consumer_wake(c);
    } else if (nwait > 0 && !c->draining) {
        send_block(c, nwait, until, now);
    }
    /* A due time is kept by a timer of ours, to the ms, even while a block waits (Redis ends a
     * block's timeout only to about 100 ms); the idle period by the block, or the timer. */
    int64_t at = c->block ? due_at : until;
    if (c->draining || at == INT64_MAX)
        uv_timer_stop(&c->due);
    else
        uv_timer_start(&c->due, consumer_on_due, (uint64_t)(at > now ? at - now : 0), 0);
}

static void consumer_on_turn(uv_check_t *h)
{
    queue_consumer_t *c = h->data;
    uv_check_stop(&c->turn);
    uv_idle_stop(&c->kick);
    consumer_turn(c);
}

/* ---- outcomes ----------------------------------------------------------------------------- */

void queue_job_complete(queue_job_t *job, const char *result, size_t len)
{
    cjob_t *j = (cjob_t *)job;
    cqueue_t *q = j->q;
    if (!j->released) {
        size_t il = strlen(job->id), tl = strlen(j->token);
        done_t *d = malloc(sizeof(*d) + il + tl + len);
        if (d) {
            *d = (done_t){NULL, il, tl, len};
            memcpy(d->bytes, job->id, il);
            memcpy(d->bytes + il, j->token, tl);
            memcpy(d->bytes + il + tl, result, len);
            *q->done_tail = d;
            q->done_tail = &d->next;
            q->ndone++;
        } else {
            log_error("queue %s: out of memory reporting job %s: it runs again after its lock",
                      q->decl.name, job->id);
        }
        qc_log_outcome(j, "completed", NULL, NULL);
    }
    queue_consumer_t *c = q->c;
    job_free(j);
    qc_kick(c);
}

typedef struct {
    queue_consumer_t *c;
    char id[];
} fail_t;

static void on_failed(const redisReply *r, int err, void *ud)
{
    fail_t *f = ud;
    queue_consumer_t *c = f->c;
    c->pending--;
    if (!r || r->type == REDIS_REPLY_ERROR)
        log_error("queue: cannot record the failure of job %s: %s; it runs again after its lock",
                  f->id, qc_reply_why(r, err));
    else if (r->type == REDIS_REPLY_INTEGER && r->integer == 0)
        log_warn("queue: job %s failed after its lock expired: the failure was not kept", f->id);
    free(f);
    qc_check_drained(c);
}

void queue_job_fail(queue_job_t *job, const char *code, const char *message, int final)
{
    cjob_t *j = (cjob_t *)job;
    cqueue_t *q = j->q;
    queue_consumer_t *c = q->c;
    if (j->released) {
        job_free(j);
        return;
    }
    size_t mlen = strlen(message);
    if (mlen > MESSAGE_MAX)
        mlen = MESSAGE_MAX;
    long long delay = -1;
    if (!final && job->attempt < job->attempts)
        delay = (long long)queue_backoff_ms(j->backoff, job->attempt,
                                            (double)rand() / ((double)RAND_MAX + 1));
    qc_log_outcome(j, delay < 0 ? "failed" : "retrying", code, message);
    char now[24], d[24];
    snprintf(now, sizeof(now), "%" PRId64, qc_wall_ms(c));
    snprintf(d, sizeof(d), "%lld", delay);
    const char *argv[] = {now, job->id, j->token, code, message, d};
    size_t len[] = {strlen(now), strlen(job->id), strlen(j->token), strlen(code), mlen, strlen(d)};
    size_t il = strlen(job->id);
    fail_t *f = malloc(sizeof(*f) + il + 1);
    if (f) {
        f->c = c;
        memcpy(f->id, job->id, il + 1);
        if (queue_eval(c->client, QUEUE_SCRIPT_FAIL, q->decl.name, 6, argv, len, on_failed, f,
                       NULL) == 0)
            c->pending++;
        else {
            log_error("queue %s: cannot record the failure of job %s (Redis unavailable); it runs "
                      "again after its lock",
                      q->decl.name, job->id);
            free(f);
        }
    }
    job_free(j);
    qc_kick(c);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

void qc_check_drained(queue_consumer_t *c)
{
    if (!c->draining || !c->drained || c->pending)
        return;
    for (cqueue_t *q = c->queues; q; q = q->next)
        if (q->running || q->ndone)
            return;
    if (c->block) {
        consumer_wake(c);
        return;
    }
    void (*cb)(void *) = c->drained;
    c->drained = NULL;
    cb(c->drained_ud);
}

static cqueue_t *queue_add(queue_consumer_t *c, const queue_decl_t *d)
{
    cqueue_t *q = calloc(1, sizeof(*q));
    char *name = q ? strdup(d->name) : NULL;
    if (!name) {
        free(q);
        return NULL;
    }
    q->c = c;
    q->decl.name = name;
    q->next_due = -1;
    q->done_tail = &q->done;
    if (queue_key(name, strlen(name), q->marker, sizeof(q->marker) - 8) < 0) {
        free(name);
        free(q);
        return NULL;
    }
    strcat(q->marker, "marker");
    q->next = c->queues;
    c->queues = q;
    return q;
}

int queue_consumer_set(queue_consumer_t *c, const queue_decl_t *decls, int ndecls,
                       const queue_sched_t *scheds, int nscheds)
{
    for (cqueue_t *q = c->queues; q; q = q->next)
        q->declared = 0;
    int rc = 0;
    for (int i = 0; i < ndecls; i++) {
        cqueue_t *q = queue_find(c, decls[i].name);
        if (!q && !(q = queue_add(c, &decls[i]))) {
            rc = -1;
            continue;
        }
        const char *name = q->decl.name;
        q->decl = decls[i];
        q->decl.name = name;
        if (q->decl.concurrency < 1)
            q->decl.concurrency = 1;
        q->declared = 1;
        q->ready = 1;
    }
    qc_sched_free_all(c);
    if (nscheds > 0 && (c->scheds = calloc((size_t)nscheds, sizeof(csched_t)))) {
        int64_t now = qc_wall_ms(c);
        for (int i = 0; i < nscheds; i++) {
            if (qc_sched_copy(&scheds[i], &c->scheds[c->nscheds]) < 0) {
                rc = -1;
                continue;
            }
            csched_t *s = &c->scheds[c->nscheds++];
            s->next_ms = qc_sched_next(s, now);
        }
        qc_arm_sched(c, now);
    } else if (nscheds > 0) {
        rc = -1;
    } else {
        uv_timer_stop(&c->sched);
    }
    qc_kick(c);
    return rc;
}

static void consumer_on_closed(uv_handle_t *h)
{
    queue_consumer_t *c = h->data;
    if (--c->handles > 0)
        return;
    cqueue_t *next;
    for (cqueue_t *q = c->queues; q; q = next) {
        next = q->next;
        while (q->jobs)
            job_free(q->jobs);
        done_t *dn;
        for (done_t *d = q->done; d; d = dn) {
            dn = d->next;
            free(d);
        }
        free((char *)q->decl.name);
        free(q);
    }
    qc_sched_free_all(c);
    free(c);
}

int queue_consumer_new(uv_loop_t *loop, redis_client_t *client, const queue_consumer_opts_t *o,
                       queue_run_cb run, void *ud, queue_consumer_t **out)
{
    queue_consumer_t *c = calloc(1, sizeof(*c));
    if (!c)
        return REDIS_ENOMEM;
    c->loop = loop;
    c->client = client;
    c->o = *o;
    if (!c->o.lock_ms)
        c->o.lock_ms = (uint64_t)config_default("QUEUE_LOCK_MS");
    if (!c->o.idle_ms)
        c->o.idle_ms = IDLE_MS_DEFAULT;
    c->run = run;
    c->ud = ud;
    unsigned char rnd[8];
    if (crypto_random(rnd, sizeof(rnd)) < 0)
        memset(rnd, 0, sizeof(rnd));
    char hex[17];
    crypto_hex(rnd, sizeof(rnd), hex);
    snprintf(c->token, sizeof(c->token), "%d-%s", (int)getpid(), hex);
    snprintf(c->wake_key, sizeof(c->wake_key), "%swake:%s", QUEUE_PREFIX, c->token);
    uv_check_init(loop, &c->turn);
    uv_idle_init(loop, &c->kick);
    uv_timer_init(loop, &c->due);
    uv_timer_init(loop, &c->locks);
    uv_timer_init(loop, &c->sched);
    c->turn.data = c->kick.data = c->due.data = c->locks.data = c->sched.data = c;
    c->handles = 5;
    uv_timer_start(&c->locks, qc_on_locks, c->o.lock_ms / 2, c->o.lock_ms / 2);
    *out = c;
    return 0;
}

void queue_consumer_drain(queue_consumer_t *c, void (*drained)(void *), void *ud)
{
    c->draining = 1;
    c->drained = drained;
    c->drained_ud = ud;
    uv_timer_stop(&c->sched);
    uv_timer_stop(&c->due);
    consumer_wake(c);
    qc_kick(c);
    qc_check_drained(c);
}

void queue_consumer_stats(const queue_consumer_t *c, void (*each)(const queue_stats_t *, void *),
                          void *ud)
{
    for (const cqueue_t *q = c->queues; q; q = q->next) {
        queue_stats_t st = q->stats;
        st.name = q->decl.name;
        st.running = q->running;
        each(&st, ud);
    }
}

int queue_consumer_running(const queue_consumer_t *c)
{
    int n = 0;
    for (const cqueue_t *q = c->queues; q; q = q->next)
        n += q->running;
    return n;
}

/* Commands still in flight keep a pointer to c only through their callbacks' ud; closing
 * waits for none of them: the client is closed with (or before) the consumer, which delivers
 * REDIS_EUNAVAILABLE to them first. */
void queue_consumer_close(queue_consumer_t *c)
{
    if (!c || c->closing)
        return;
    c->closing = 1;
    if (c->block)
        redis_command_abandon(c->block);
    c->block = NULL;
    uv_close((uv_handle_t *)&c->turn, consumer_on_closed);
    uv_close((uv_handle_t *)&c->kick, consumer_on_closed);
    uv_close((uv_handle_t *)&c->due, consumer_on_closed);
    uv_close((uv_handle_t *)&c->locks, consumer_on_closed);
    uv_close((uv_handle_t *)&c->sched, consumer_on_closed);
}
