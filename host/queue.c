/* queue.c — the queue's Redis scripts and how they are run (redis_eval: EVALSHA, then the text
 * once when Redis does not know the script). The consumer is in queue_consumer.c. */
#include "queue.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_scripts.h"

typedef struct {
    const char *name;
    redis_script_t rs; /* common.lua + the script; the text is built on first use */
} script_t;

static script_t scripts[QUEUE_NSCRIPTS] = {
    [QUEUE_SCRIPT_ADD] = {"add"},           [QUEUE_SCRIPT_RESERVE] = {"reserve"},
    [QUEUE_SCRIPT_FAIL] = {"fail"},         [QUEUE_SCRIPT_RENEW] = {"renew"},
    [QUEUE_SCRIPT_STALLED] = {"stalled"},   [QUEUE_SCRIPT_RELEASE] = {"release"},
    [QUEUE_SCRIPT_SCHEDULE] = {"schedule"}, [QUEUE_SCRIPT_COUNTS] = {"counts"},
    [QUEUE_SCRIPT_CONTROL] = {"control"},   [QUEUE_SCRIPT_GET] = {"get"},
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
    if (sc->rs.text)
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
    size_t len = common->len + 1 + own->len;
    text[len] = '\0';
    if (redis_script_init(&sc->rs, text, len) < 0) {
        sc->rs.text = NULL;
        free(text);
        return NULL;
    }
    return sc;
}

const char *queue_script_text(queue_script_t s, size_t *len)
{
    script_t *sc = script_get(s);
    if (!sc)
        return NULL;
    *len = sc->rs.len;
    return sc->rs.text;
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

/* ---- running them ------------------------------------------------------------------------- */

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
    const char *keys[2] = {QUEUE_PREFIX, key};
    const size_t keylen[2] = {sizeof(QUEUE_PREFIX) - 1, klen};
    return redis_eval(client, &sc->rs, 2, keys, keylen, argc, argv, argvlen, cb, ud, out);
}

void queue_eval_abandon(queue_eval_t *ev)
{
    redis_eval_abandon(ev);
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
