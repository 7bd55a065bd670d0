/* jobs_cli.c — `speezy jobs status | retry-failed NAME | clean NAME --state S --older-than D`:
 * operators' view of the queues, through the same Redis scripts the consumers run.
 *
 * Each command is a handful of script calls made one after the other on a private loop. */
#include "jobs_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "queue.h"
#include "redis.h"

typedef struct {
    uv_loop_t loop;
    redis_client_t *redis;
    redisReply *reply; /* the last answer (a copy), NULL after a failure */
    int err;
    int done;
} cli_t;

static void cli_on_reply(const redisReply *r, int err, void *ud)
{
    cli_t *c = ud;
    c->reply = r ? redis_reply_dup(r) : NULL;
    c->err = err;
    c->done = 1;
}

/* Runs until the answer came; returns it (owned by c until the next call) or NULL. */
static const redisReply *cli_wait(cli_t *c)
{
    while (!c->done && uv_run(&c->loop, UV_RUN_ONCE))
        ;
    if (c->reply && c->reply->type == REDIS_REPLY_ERROR) {
        fprintf(stderr, "speezy jobs: Redis refused: %s\n", c->reply->str);
        return NULL;
    }
    if (!c->reply)
        fprintf(stderr, "speezy jobs: %s\n", redis_strerror(c->err ? c->err : REDIS_EUNAVAILABLE));
    return c->reply;
}

static void cli_reset(cli_t *c)
{
    redis_reply_free(c->reply);
    c->reply = NULL;
    c->err = 0;
    c->done = 0;
}

static const redisReply *cli_eval(cli_t *c, queue_script_t s, const char *name, int argc,
                                  const char **argv)
{
    size_t len[16];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    cli_reset(c);
    int rc = queue_eval(c->redis, s, name, argc, argv, len, cli_on_reply, c, NULL);
    if (rc < 0) {
        fprintf(stderr, "speezy jobs: %s\n", redis_strerror(rc));
        return NULL;
    }
    return cli_wait(c);
}

static const redisReply *cli_command(cli_t *c, int argc, const char **argv)
{
    size_t len[8];
    for (int i = 0; i < argc; i++)
        len[i] = strlen(argv[i]);
    cli_reset(c);
    int rc = redis_command(c->redis, argc, argv, len, cli_on_reply, c, NULL);
    if (rc < 0) {
        fprintf(stderr, "speezy jobs: %s\n", redis_strerror(rc));
        return NULL;
    }
    return cli_wait(c);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmd_status(cli_t *c)
{
    const char *smembers[] = {"SMEMBERS", QUEUE_PREFIX "queues"};
    const redisReply *r = cli_command(c, 2, smembers);
    if (!r || r->type != REDIS_REPLY_ARRAY)
        return 1;
    size_t n = r->elements;
    char **names = calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; names && i < n; i++)
        names[i] = strdup(r->element[i]->str);
    if (!names)
        return 1;
    qsort(names, n, sizeof(char *), cmp_str);
    printf("%-32s %9s %9s %9s %11s %10s %9s %9s\n", "queue", "waiting", "active", "delayed",
           "prioritized", "completed", "failed", "paused");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        const redisReply *k = cli_eval(c, QUEUE_SCRIPT_COUNTS, names[i], 0, NULL);
        if (!k || k->type != REDIS_REPLY_ARRAY || k->elements < 8) {
            rc = 1;
            break;
        }
        printf("%-32s %9lld %9lld %9lld %11lld %10lld %9lld %9lld%s\n", names[i],
               k->element[0]->integer, k->element[1]->integer, k->element[2]->integer,
               k->element[3]->integer, k->element[4]->integer, k->element[5]->integer,
               k->element[6]->integer, k->element[7]->integer ? "  (paused)" : "");
    }
    if (n == 0)
        printf("(no queue has been used yet)\n");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Every failed job of the queue back in line, 1000 per script call. */
static int cmd_retry_failed(cli_t *c, const char *name)
{
    long long total = 0;
    for (;;) {
        const char *argv[] = {"retry-failed", "1000"};
        const redisReply *r = cli_eval(c, QUEUE_SCRIPT_CONTROL, name, 2, argv);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            return 1;
        total += r->integer;
        if (r->integer < 1000)
            break;
    }
    printf("%lld failed job(s) of %s back in line\n", total, name);
    return 0;
}

/* "90s", "15m", "1h", "7d" or plain ms; -1 when unreadable. */
static int64_t parse_age(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || v < 0)
        return -1;
    double unit = strcmp(end, "") == 0 || strcmp(end, "ms") == 0 ? 1
                  : strcmp(end, "s") == 0                        ? 1000
                  : strcmp(end, "m") == 0                        ? 60000
                  : strcmp(end, "h") == 0                        ? 3600000
                  : strcmp(end, "d") == 0                        ? 86400000
                                                                 : -1;
    return unit < 0 ? -1 : (int64_t)(v * unit);
}

static int cmd_clean(cli_t *c, const char *name, int argc, char **argv)
{
    const char *state = NULL;
    int64_t age = -1;
    for (int i = 0; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--state") == 0)
            state = argv[i + 1];
        else if (strcmp(argv[i], "--older-than") == 0)
            age = parse_age(argv[i + 1]);
    }
    if (!state || (strcmp(state, "completed") != 0 && strcmp(state, "failed") != 0) || age < 0) {
        fprintf(stderr, "usage: speezy jobs clean NAME --state completed|failed --older-than "
                        "AGE (90s, 15m, 1h, 7d)\n");
        return 2;
    }
    long long total = 0;
    for (;;) {
        char older[24], now[24];
        snprintf(older, sizeof(older), "%lld", (long long)age);
        snprintf(now, sizeof(now), "%lld", (long long)now_ms());
        const char *args[] = {"clean", state, older, now, "1000"};
        const redisReply *r = cli_eval(c, QUEUE_SCRIPT_CONTROL, name, 5, args);
        if (!r || r->type != REDIS_REPLY_INTEGER)
            return 1;
        total += r->integer;
        if (r->integer < 1000)
            break;
    }
    printf("deleted %lld %s job(s) of %s\n", total, state, name);
    return 0;
}

static int jobs_usage(void)
{
    fprintf(stderr, "usage: speezy jobs                 consume the queues only, no HTTP\n"
                    "       speezy jobs status          counts per queue\n"
                    "       speezy jobs retry-failed NAME\n"
                    "       speezy jobs clean NAME --state completed|failed --older-than AGE\n");
    return 2;
}

int jobs_cli_main(const config_t *cfg, int argc, char **argv)
{
    const char *sub = argv[0];
    int known =
        strcmp(sub, "status") == 0 || strcmp(sub, "retry-failed") == 0 || strcmp(sub, "clean") == 0;
    if (!known || (strcmp(sub, "status") != 0 && argc < 2))
        return jobs_usage();
    if (!cfg->redis_url) {
        fprintf(stderr, "speezy jobs: REDIS_URL is not set\n");
        return 1;
    }
    log_init(LOG_WARN, "speezy"); /* the command's output is its answer, not the client's news */
    cli_t c = {0};
    if (uv_loop_init(&c.loop) < 0)
        return 1;
    redis_opts_t o = {.timeout_ms = cfg->redis_timeout_ms,
                      .connect_timeout_ms = cfg->redis_timeout_ms};
    int rc = redis_client_new(&c.loop, cfg->redis_url, &o, &c.redis);
    if (rc < 0) {
        fprintf(stderr, "speezy jobs: REDIS_URL is not usable: %s\n", redis_strerror(rc));
        uv_loop_close(&c.loop);
        return 1;
    }
    if (strcmp(sub, "status") == 0)
        rc = cmd_status(&c);
    else if (strcmp(sub, "retry-failed") == 0)
        rc = cmd_retry_failed(&c, argv[1]);
    else
        rc = cmd_clean(&c, argv[1], argc - 2, argv + 2);
    cli_reset(&c);
    redis_client_close(c.redis);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    uv_loop_close(&c.loop);
    return rc;
}
