/* queue.c — the queue's Redis scripts and how they are run: EVALSHA, then the text once when
 * Redis does not know the script (restarted without it, or SCRIPT FLUSH). The consumer is in
 * queue_consumer.c. */
#include "queue.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "queue_scripts.h"

typedef struct {
    const char *name;
    char *text; /* common.lua + the script */
    size_t len;
    char sha[41];
} script_t;

static script_t scripts[QUEUE_NSCRIPTS] = {
    [QUEUE_SCRIPT_ADD] = {"add"},           [QUEUE_SCRIPT_RESERVE] = {"reserve"},
    [QUEUE_SCRIPT_FAIL] = {"fail"},         [QUEUE_SCRIPT_RENEW] = {"renew"},
    [QUEUE_SCRIPT_STALLED] = {"stalled"},   [QUEUE_SCRIPT_RELEASE] = {"release"},
    [QUEUE_SCRIPT_SCHEDULE] = {"schedule"}, [QUEUE_SCRIPT_COUNTS] = {"counts"},
    [QUEUE_SCRIPT_CONTROL] = {"control"},
};

static const embedded_file_t *find_file(const char *module)
{
    for (const embedded_file_t *f = queue_scripts; f->module; f++)
        if (strcmp(f->module, module) == 0)
            return f;
    return NULL;
}

/* Built on first use; a process only ever builds the same texts, so a race between two
 * threads would at worst build them twice (the host runs one loop thread per process). */
static script_t *script_get(queue_script_t s)
{
    if ((unsigned)s >= QUEUE_NSCRIPTS)
        return NULL;
    script_t *sc = &scripts[s];
    if (sc->text)
        return sc;
    const embedded_file_t *common = find_file("common"), *own = find_file(sc->name);
    if (!common || !own)
        return NULL;
    char *text = malloc(common->len + own->len + 2);
    if (!text)
        return NULL;
    memcpy(text, common->src, common->len);
    text[common->len] = '\n';
    memcpy(text + common->len + 1, own->src, own->len);
    sc->len = common->len + 1 + own->len;
    text[sc->len] = '\0';
    if (crypto_sha1_hex(text, sc->len, sc->sha) != CRYPTO_OK) {
        free(text);
        return NULL;
    }
    sc->text = text;
    return sc;
}

const char *queue_script_text(queue_script_t s, size_t *len)
{
    script_t *sc = script_get(s);
    if (!sc)
        return NULL;
    *len = sc->len;
    return sc->text;
}

int queue_script_by_name(const char *name, queue_script_t *out)
{
    for (int i = 0; i < QUEUE_NSCRIPTS; i++) {
        if (strcmp(scripts[i].name, name) == 0) {
            *out = (queue_script_t)i;
            return 0;
        }
    }
    return -1;
}

int queue_key(const char *name, size_t len, char *buf, size_t cap)
{
    if (len == 0 || len > QUEUE_NAME_MAX)
        return -1;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 32 || name[i] == 127)
            return -1;
    int n = snprintf(buf, cap, "%sq:%.*s:", QUEUE_PREFIX, (int)len, name);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* ---- EVALSHA with a fallback -------------------------------------------------------------- */

struct queue_eval {
    redis_client_t *client;
    redis_cmd_t *cmd;
    redis_reply_cb cb;
    void *ud;
    script_t *script;
    int argc;          /* EVALSHA sha 2 prefix key args... */
    const char **argv; /* in the same block as this struct, with copies of the arguments */
    size_t *len;
    int retried;
};

static void eval_on_reply(const redisReply *r, int err, void *ud)
{
    queue_eval_t *ev = ud;
    ev->cmd = NULL;
    if (r && r->type == REDIS_REPLY_ERROR && !ev->retried && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        ev->retried = 1;
        ev->argv[0] = "EVAL";
        ev->len[0] = 4;
        ev->argv[1] = ev->script->text;
        ev->len[1] = ev->script->len;
        if (redis_command(ev->client, ev->argc, ev->argv, ev->len, eval_on_reply, ev, &ev->cmd) ==
            0)
            return;
        ev->cb(NULL, REDIS_EUNAVAILABLE, ev->ud);
        free(ev);
        return;
    }
    ev->cb(r, err, ev->ud);
    free(ev);
}

int queue_eval(redis_client_t *client, queue_script_t s, const char *name, int argc,
               const char **argv, const size_t *argvlen, redis_reply_cb cb, void *ud,
               queue_eval_t **out)
{
    if (out)
        *out = NULL;
    script_t *sc = script_get(s);
    if (!sc)
        return REDIS_ENOMEM;
    char key[QUEUE_NAME_MAX + 16] = "";
    size_t klen = 0;
    if (name) {
        int n = queue_key(name, strlen(name), key, sizeof(key));
        if (n < 0)
            return REDIS_EINVAL;
        klen = (size_t)n;
    }
    int total = argc + 5;
    size_t bytes = sizeof(queue_eval_t) + (size_t)total * (sizeof(char *) + sizeof(size_t)) + klen;
    for (int i = 0; i < argc; i++)
        bytes += argvlen[i];
    queue_eval_t *ev = malloc(bytes);
    if (!ev)
        return REDIS_ENOMEM;
    *ev = (queue_eval_t){.client = client, .cb = cb, .ud = ud, .script = sc, .argc = total};
    ev->argv = (const char **)(ev + 1);
    ev->len = (size_t *)(ev->argv + total);
    char *p = (char *)(ev->len + total);
    memcpy(p, key, klen);
    ev->argv[0] = "EVALSHA", ev->len[0] = 7;
    ev->argv[1] = sc->sha, ev->len[1] = 40;
    ev->argv[2] = "2", ev->len[2] = 1;
    ev->argv[3] = QUEUE_PREFIX, ev->len[3] = sizeof(QUEUE_PREFIX) - 1;
    ev->argv[4] = p, ev->len[4] = klen;
    p += klen;
    for (int i = 0; i < argc; i++) {
        memcpy(p, argv[i], argvlen[i]);
        ev->argv[5 + i] = p;
        ev->len[5 + i] = argvlen[i];
        p += argvlen[i];
    }
    int rc = redis_command(client, total, ev->argv, ev->len, eval_on_reply, ev, &ev->cmd);
    if (rc < 0) {
        free(ev);
        return rc;
    }
    if (out)
        *out = ev;
    return 0;
}

void queue_eval_abandon(queue_eval_t *ev)
{
    if (!ev)
        return;
    redis_command_abandon(ev->cmd);
    free(ev);
}

/* ---- retries ------------------------------------------------------------------------------ */

/* spec "fixed:MS:JITTER" or "exponential:MS:JITTER" (or empty: retry at once). Exponential
 * doubles from MS: MS, 2 MS, 4 MS...; jitter j takes up to j of it away at random, so retries of
 * many jobs that failed together spread out instead of hitting a recovering service at once. */
uint64_t queue_backoff_ms(const char *spec, int attempt, double unit_random)
{
    char type[16];
    double ms = 0, jitter = 0;
    if (!spec || sscanf(spec, "%15[a-z]:%lf:%lf", type, &ms, &jitter) < 2 || ms <= 0)
        return 0;
    double d = ms;
    if (strcmp(type, "exponential") == 0)
        d = ms * pow(2.0, attempt > 1 ? attempt - 1 : 0);
    if (jitter > 0)
        d -= d * (jitter > 1 ? 1 : jitter) * unit_random;
    if (d > 365.0 * 86400 * 1000)
        d = 365.0 * 86400 * 1000;
    return d < 0 ? 0 : (uint64_t)llround(d);
}
