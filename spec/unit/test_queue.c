/* test_queue.c — the queue core without Lua: backoff and key rules, then a consumer against the
 * real Redis of the harness (SPEEZY_TEST_REDIS_URL): jobs added by the add script are taken,
 * run by a C runner, completed, failed and retried, given back on release. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "queue.h"
#include "queue_int.h"
#include "redis.h"
#include "test.h"

TEST(backoff_fixed_and_exponential)
{
    CHECK(queue_backoff_ms("", 1, 0.5) == 0);
    CHECK(queue_backoff_ms("fixed:250:0", 1, 0.9) == 250);
    CHECK(queue_backoff_ms("fixed:250:0", 5, 0.9) == 250);
    CHECK(queue_backoff_ms("exponential:100:0", 1, 0) == 100);
    CHECK(queue_backoff_ms("exponential:100:0", 2, 0) == 200);
    CHECK(queue_backoff_ms("exponential:100:0", 4, 0) == 800);
    /* jitter takes up to its share away, never adds */
    CHECK(queue_backoff_ms("fixed:1000:0.2", 1, 0) == 1000);
    CHECK(queue_backoff_ms("fixed:1000:0.2", 1, 0.5) == 900);
    CHECK(queue_backoff_ms("fixed:1000:0.2", 1, 0.999999) >= 800);
    /* a huge exponent is capped, not overflowed */
    CHECK(queue_backoff_ms("exponential:1000:0", 1000, 0) == 365ULL * 86400 * 1000);
    CHECK(queue_backoff_ms("garbage", 1, 0) == 0);
}

TEST(queue_keys)
{
    char buf[256];
    CHECK(queue_key("mail.send", 9, buf, sizeof(buf)) > 0);
    CHECK_STR(buf, "sq:q:mail.send:");
    CHECK(queue_key("", 0, buf, sizeof(buf)) < 0);
    CHECK(queue_key("a\nb", 3, buf, sizeof(buf)) < 0);
    char long_name[QUEUE_NAME_MAX + 2];
    memset(long_name, 'x', sizeof(long_name));
    CHECK(queue_key(long_name, sizeof(long_name), buf, sizeof(buf)) < 0);
}

TEST(scripts_share_common)
{
    size_t len;
    const char *add = queue_script_text(QUEUE_SCRIPT_ADD, &len);
    CHECK(add && len > 0 && strstr(add, "local function add_job") && strstr(add, "add.lua"));
    queue_script_t s;
    CHECK(queue_script_by_name("reserve", &s) == 0 && s == QUEUE_SCRIPT_RESERVE);
    CHECK(queue_script_by_name("nope", &s) < 0);
}

/* ---- a consumer against Redis --------------------------------------------------------------- */

static const char *redis_url;

typedef struct {
    uv_loop_t *loop;
    int added, adding, ran, completed_target, fail_first;
    int max_attempt_seen;
    queue_job_t *held[64]; /* jobs the runner keeps running (release test) */
    int nheld, hold;
} runner_t;

static void run_job(queue_job_t *job, void *ud)
{
    runner_t *r = ud;
    r->ran++;
    if (job->attempt > r->max_attempt_seen)
        r->max_attempt_seen = job->attempt;
    if (r->hold && r->nheld < 64) {
        r->held[r->nheld++] = job;
        return;
    }
    if (job->attempt <= r->fail_first)
        queue_job_fail(job, "TEST_FAIL", "planned", 0);
    else
        queue_job_complete(job, "{\"ok\":true}", 11);
}

/* add.lua answers the first new job's number: the `adding` jobs of add_jobs were all new */
static void on_added(const redisReply *reply, int err, void *ud)
{
    runner_t *r = ud;
    if (reply && reply->type == REDIS_REPLY_ARRAY && reply->elements == 1 &&
        reply->element[0]->integer > 0)
        r->added += r->adding;
}

/* n jobs on queue name, each with attempts and a fixed backoff of 10 ms */
static void add_jobs(redis_client_t *rc, runner_t *r, const char *name, int n, int attempts)
{
    char now[32], at[16];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(now, sizeof(now), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    snprintf(at, sizeof(at), "%d", attempts);
    const char *shared[10] = {name, now, "0", "0", at, "0", "fixed:10:0", "-1:-1", "-1:-1", "0"};
    const char *argv[10 + 2 * 50];
    size_t len[10 + 2 * 50];
    for (int a = 0; a < 10; a++)
        argv[a] = shared[a], len[a] = strlen(shared[a]);
    for (int i = 0; i < n; i++) {
        argv[10 + 2 * i] = "", len[10 + 2 * i] = 0;
        argv[11 + 2 * i] = "{}", len[11 + 2 * i] = 2;
    }
    r->adding = n;
    CHECK(queue_eval(rc, QUEUE_SCRIPT_ADD, name, 10 + 2 * n, argv, len, on_added, r, NULL) == 0);
}

static long long counts_field(uv_loop_t *loop, redis_client_t *rc, const char *name, int field);

typedef struct {
    long long v;
    int field, done;
} count_t;

static void on_counts(const redisReply *reply, int err, void *ud)
{
    count_t *c = ud;
    if (reply && reply->type == REDIS_REPLY_ARRAY && (size_t)c->field < reply->elements)
        c->v = reply->element[c->field]->integer;
    c->done = 1;
}

static long long counts_field(uv_loop_t *loop, redis_client_t *rc, const char *name, int field)
{
    count_t c = {-1, field, 0};
    if (queue_eval(rc, QUEUE_SCRIPT_COUNTS, name, 0, NULL, NULL, on_counts, &c, NULL) < 0)
        return -1;
    while (!c.done)
        uv_run(loop, UV_RUN_ONCE);
    return c.v;
}

/* Ends the uv_run it fires in, which else could poll with no timer left (test_pg.h, on_guard). */
static void tick(uv_timer_t *t)
{
    uv_stop(t->loop);
}

static void drained(void *ud)
{
    *(int *)ud = 1;
}

/* Runs the loop until cond holds or timeout_ms passed. */
#define RUN_UNTIL(loop, cond, timeout_ms)                                                          \
    do {                                                                                           \
        uint64_t until_ = uv_now(loop) + (timeout_ms)*test_time_scale();                           \
        while (!(cond) && uv_now(loop) < until_) {                                                 \
            uv_timer_t t_;                                                                         \
            uv_timer_init(loop, &t_);                                                              \
            uv_timer_start(&t_, tick, 20, 0);                                                      \
            uv_run(loop, UV_RUN_ONCE);                                                             \
            uv_close((uv_handle_t *)&t_, NULL);                                                    \
            uv_run(loop, UV_RUN_NOWAIT);                                                           \
        }                                                                                          \
    } while (0)

static void unique_name(char *buf, size_t cap, const char *what)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, cap, "unit.%s.%lld.%ld", what, (long long)ts.tv_sec, ts.tv_nsec);
}

static void consumer_case(int fail_first, int attempts, int njobs, int hold)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    redis_client_t *rc;
    CHECK(redis_client_new(&loop, redis_url, NULL, &rc) == 0);
    runner_t r = {.loop = &loop, .fail_first = fail_first, .hold = hold};
    char name[96];
    unique_name(name, sizeof(name), hold ? "release" : "run");
    add_jobs(rc, &r, name, njobs, attempts);
    RUN_UNTIL(&loop, r.added == njobs, 5000);
    CHECK(r.added == njobs);
    queue_consumer_t *c;
    queue_consumer_opts_t o = {.lock_ms = 5000};
    CHECK(queue_consumer_new(&loop, rc, &o, run_job, &r, &c) == 0);
    queue_decl_t d = {.name = name, .concurrency = 8, .max_stalled = 1};
    CHECK(queue_consumer_set(c, &d, 1, NULL, 0) == 0);
    if (hold) {
        RUN_UNTIL(&loop, r.nheld == 8, 5000);
        CHECK(r.nheld == 8); /* concurrency 8: no more than 8 taken while none finishes */
        CHECK(queue_consumer_running(c) == 8);
        CHECK(counts_field(&loop, rc, name, 1) == 8); /* active */
        int done = 0;
        queue_consumer_drain(c, drained, &done); /* a draining consumer takes nothing more */
        queue_consumer_release_all(c);
        for (int i = 0; i < r.nheld; i++)
            queue_job_complete(r.held[i], "1", 1); /* ignored: given back */
        RUN_UNTIL(&loop, counts_field(&loop, rc, name, 1) == 0, 5000);
        CHECK(counts_field(&loop, rc, name, 0) == njobs); /* all waiting again */
        CHECK(counts_field(&loop, rc, name, 4) == 0);     /* none completed */
        RUN_UNTIL(&loop, done, 5000);
        CHECK(done);
    } else {
        RUN_UNTIL(&loop, counts_field(&loop, rc, name, 4) == njobs, 10000);
        CHECK(counts_field(&loop, rc, name, 4) == njobs); /* completed */
        CHECK(counts_field(&loop, rc, name, 5) == 0);     /* failed */
        CHECK(r.ran == njobs * (fail_first + 1));
        CHECK(r.max_attempt_seen == fail_first + 1);
    }
    queue_consumer_close(c);
    redis_client_close(rc);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&loop) == 0);
}

TEST(consumer_completes_every_job)
{
    consumer_case(0, 1, 50, 0);
}

TEST(consumer_retries_failed_attempts)
{
    consumer_case(2, 3, 20, 0);
}

TEST(consumer_gives_running_jobs_back)
{
    consumer_case(0, 1, 20, 1);
}

/* ---- the adder: one turn's adds, batched by shared options ----------------------------------- */

typedef struct {
    int fired, created;
    char ids[40][128];
} adds_t;

typedef struct {
    adds_t *all;
    int slot;
} add_slot_t;

static void on_one_added(const char *id, size_t id_len, int created, int err, const char *message,
                         void *ud)
{
    add_slot_t *s = ud;
    (void)message;
    s->all->fired++;
    if (err == 0 && id_len < sizeof(s->all->ids[0])) {
        memcpy(s->all->ids[s->slot], id, id_len);
        s->all->ids[s->slot][id_len] = '\0';
        s->all->created += created;
    }
}

/* What the adder's tests stand on: a loop, a Redis client and an adder on it, a fresh queue
 * name; and their end. */
typedef struct {
    uv_loop_t loop;
    redis_client_t *rc;
    queue_adder_t *a;
    char name[96];
} adder_env_t;

static void adder_open(adder_env_t *e, const char *what)
{
    uv_loop_init(&e->loop);
    CHECK(redis_client_new(&e->loop, redis_url, NULL, &e->rc) == 0);
    CHECK(queue_adder_new(&e->loop, e->rc, &e->a) == 0);
    unique_name(e->name, sizeof(e->name), what);
}

static void adder_shut(adder_env_t *e)
{
    queue_adder_close(e->a);
    redis_client_close(e->rc);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    CHECK(uv_loop_close(&e->loop) == 0);
}

/* The lengths of a job's 12 values (queue_adder_add). */
static void job_lens(const char *const argv[12], size_t len[12])
{
    for (int k = 0; k < 12; k++)
        len[k] = strlen(argv[k]);
}

typedef struct {
    char text[64];
    int done;
} field_t;

static void on_field(const redisReply *reply, int err, void *ud)
{
    field_t *f = ud;
    if (!err && reply && reply->type == REDIS_REPLY_STRING && reply->len < sizeof(f->text))
        memcpy(f->text, reply->str, reply->len);
    f->done = 1;
}

/* HGET sq:j:<id> field, "" when absent */
static void job_field(uv_loop_t *loop, redis_client_t *rc, const char *id, const char *field,
                      field_t *f)
{
    char key[64];
    snprintf(key, sizeof(key), "sq:j:%s", id);
    const char *argv[3] = {"HGET", key, field};
    size_t len[3] = {4, strlen(key), strlen(field)};
    memset(f, 0, sizeof(*f));
    CHECK(redis_command(rc, 3, argv, len, on_field, f, NULL) == 0);
    while (!f->done)
        uv_run(loop, UV_RUN_ONCE);
}

/* Jobs added in one turn with different options leave in batches of the jobs that share them:
 * each job keeps its own options and data. */
TEST(adder_keeps_each_jobs_options)
{
    adder_env_t e;
    adder_open(&e, "adder");
    /* delay, priority, attempts of each job; data is its slot */
    static const char *opts[6][3] = {{"0", "0", "1"},     {"0", "2", "1"}, {"0", "0", "1"},
                                     {"60000", "0", "1"}, {"0", "0", "3"}, {"0", "0", "1"}};
    adds_t all = {0};
    add_slot_t slots[6];
    for (int i = 0; i < 6; i++) {
        char data[16];
        snprintf(data, sizeof(data), "{\"s\":%d}", i);
        const char *argv[12] = {
            e.name, "1700000000000", opts[i][0], opts[i][1], opts[i][2], "0", "", "", "", "0", "",
            data};
        size_t len[12];
        job_lens(argv, len);
        slots[i] = (add_slot_t){&all, i};
        CHECK(queue_adder_add(e.a, argv, len, on_one_added, &slots[i], NULL) == 0);
    }
    RUN_UNTIL(&e.loop, all.fired == 6, 5000);
    CHECK(all.fired == 6 && all.created == 6);
    static const char *state[6] = {"", "prioritized", "", "delayed", "", ""}; /* "": waiting */
    for (int i = 0; i < 6; i++) {
        field_t f;
        char data[16];
        snprintf(data, sizeof(data), "{\"s\":%d}", i);
        job_field(&e.loop, e.rc, all.ids[i], "d", &f);
        CHECK_STR(f.text, data);
        job_field(&e.loop, e.rc, all.ids[i], "st", &f);
        CHECK_STR(f.text, state[i]);
        job_field(&e.loop, e.rc, all.ids[i], "at", &f);
        CHECK_STR(f.text, i == 4 ? "3" : "");
        job_field(&e.loop, e.rc, all.ids[i], "pr", &f);
        CHECK_STR(f.text, i == 1 ? "2" : "");
    }
    CHECK(counts_field(&e.loop, e.rc, e.name, 0) == 4); /* waiting */
    CHECK(counts_field(&e.loop, e.rc, e.name, 2) == 1); /* delayed */
    CHECK(counts_field(&e.loop, e.rc, e.name, 3) == 1); /* prioritized */
    adder_shut(&e);
}

/* A batch large enough that its answer resumes half of its adders at the end of the turn, with
 * jobIds among new numbers (add.lua answers only the first number and the jobIds' flags): every
 * add still gets its own job's id, once; a jobId met again in the batch is not created. */
TEST(adder_answers_every_add_of_a_large_batch)
{
    adder_env_t e;
    adder_open(&e, "adder.large");
    adds_t all = {0};
    add_slot_t slots[40];
    char job_ids[40][128];
    for (int i = 0; i < 40; i++) {
        char data[16];
        snprintf(data, sizeof(data), "{\"s\":%d}", i);
        /* jobs 2 and 7 share a jobId, 12 and 17 the next ... */
        job_ids[i][0] = '\0';
        if (i % 5 == 2)
            snprintf(job_ids[i], sizeof(job_ids[i]), "%s-%d", e.name, i / 10);
        const char *argv[12] = {e.name, "1700000000000", "0", "0", "1", "0", "", "", "",
                                "0",    job_ids[i],      data};
        size_t len[12];
        job_lens(argv, len);
        slots[i] = (add_slot_t){&all, i};
        CHECK(queue_adder_add(e.a, argv, len, on_one_added, &slots[i], NULL) == 0);
    }
    RUN_UNTIL(&e.loop, all.fired == 40, 5000);
    CHECK(all.fired == 40 && all.created == 36);
    long long first = -1;
    for (int i = 0, fresh = 0; i < 40; i++) {
        field_t f;
        char data[16];
        snprintf(data, sizeof(data), "{\"s\":%d}", i % 5 == 2 ? i - i % 10 + 2 : i);
        if (job_ids[i][0]) {
            CHECK_STR(all.ids[i], job_ids[i]);
        } else {
            long long n = atoll(all.ids[i]);
            if (first < 0)
                first = n;
            CHECK(n == first + fresh++); /* new numbers in the order of the adds */
        }
        job_field(&e.loop, e.rc, all.ids[i], "d", &f);
        CHECK_STR(f.text, data);
    }
    adder_shut(&e);
}

/* A job added in this process is taken by its consumer right behind the add (qc_added): in the
 * loop turn that writes the add, before any answer, the consumer has a reserve in flight.
 * Without the watch the blocked consumer waits for the marker's wake. Either way the job runs. */
TEST(consumer_reserves_behind_an_add_of_its_own_process)
{
    adder_env_t e;
    adder_open(&e, "behind");
    runner_t r = {.loop = &e.loop};
    queue_consumer_t *c;
    queue_consumer_opts_t o = {.lock_ms = 5000};
    CHECK(queue_consumer_new(&e.loop, e.rc, &o, run_job, &r, &c) == 0);
    queue_decl_t d = {.name = e.name, .concurrency = 2, .max_stalled = 1};
    CHECK(queue_consumer_set(c, &d, 1, NULL, 0) == 0);
    const char *argv[12] = {e.name, "1700000000000", "0", "0", "1", "0", "", "", "", "0", "", "{}"};
    size_t len[12];
    job_lens(argv, len);
    adds_t all = {0};
    add_slot_t slot = {&all, 0};
    for (int watched = 0; watched < 2; watched++) {
        queue_adder_watch(e.a, watched ? c : NULL);
        RUN_UNTIL(&e.loop, c->block && !c->queues->reserving, 5000); /* idle, blocked on Redis */
        CHECK(c->block && !c->queues->reserving);
        CHECK(queue_adder_add(e.a, argv, len, on_one_added, &slot, NULL) == 0);
        uv_run(&e.loop, UV_RUN_NOWAIT); /* the turn that writes the add */
        CHECK(c->queues->reserving == watched);
        RUN_UNTIL(&e.loop, r.ran == watched + 1, 5000);
        CHECK(r.ran == watched + 1);
    }
    CHECK(all.fired == 2 && all.created == 2);
    queue_consumer_close(c);
    adder_shut(&e);
}

int main(void)
{
    RUN(backoff_fixed_and_exponential);
    RUN(queue_keys);
    RUN(scripts_share_common);
    redis_url = getenv("SPEEZY_TEST_REDIS_URL");
    if (!redis_url) {
        fprintf(stderr, "SPEEZY_TEST_REDIS_URL is not set: the consumer tests need Redis\n");
        test_failed++;
        return test_summary();
    }
    RUN(consumer_completes_every_job);
    RUN(consumer_retries_failed_attempts);
    RUN(consumer_gives_running_jobs_back);
    RUN(adder_keeps_each_jobs_options);
    RUN(adder_answers_every_add_of_a_large_batch);
    RUN(consumer_reserves_behind_an_add_of_its_own_process);
    return test_summary();
}
