/* redis_script.c — running the host's own Redis scripts: EVALSHA, then the text once when
 * Redis does not know the script (restarted without it, or SCRIPT FLUSH). The queue and the
 * OTP core both run theirs through here. */
#include "redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"

int redis_script_init(redis_script_t *s, const char *text, size_t len)
{
    s->text = text;
    s->len = len;
    return crypto_sha1_hex(text, len, s->sha) == CRYPTO_OK ? 0 : REDIS_ENOMEM;
}

struct redis_eval {
    redis_client_t *client;
    redis_cmd_t *cmd;
    redis_reply_cb cb;
    void *ud;
    const redis_script_t *script;
    int argc;          /* EVALSHA sha nkeys keys... args... */
    const char **argv; /* in the same block as this struct, with copies of the arguments */
    size_t *len;
    int retried;
    char nkeys[12];
};

static void redis_eval_on_reply(const redisReply *r, int err, void *ud)
{
    redis_eval_t *ev = ud;
    ev->cmd = NULL;
    if (r && r->type == REDIS_REPLY_ERROR && !ev->retried && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        ev->retried = 1;
        ev->argv[0] = "EVAL";
        ev->len[0] = 4;
        ev->argv[1] = ev->script->text;
        ev->len[1] = ev->script->len;
        if (redis_command(ev->client, ev->argc, ev->argv, ev->len, redis_eval_on_reply, ev,
                          &ev->cmd) == 0)
            return;
        ev->cb(NULL, REDIS_EUNAVAILABLE, ev->ud);
        free(ev);
        return;
    }
    ev->cb(r, err, ev->ud);
    free(ev);
}

/* Appends n arguments to ev's argv from index at, copying their bytes to *p. */
static int redis_eval_copy(redis_eval_t *ev, int at, int n, const char *const *v, const size_t *len,
                           char **p)
{
    for (int i = 0; i < n; i++) {
        memcpy(*p, v[i], len[i]);
        ev->argv[at + i] = *p;
        ev->len[at + i] = len[i];
        *p += len[i];
    }
    return at + n;
}

int redis_eval(redis_client_t *client, const redis_script_t *script, int nkeys,
               const char *const *keys, const size_t *keylen, int nargs, const char *const *args,
               const size_t *arglen, redis_reply_cb cb, void *ud, redis_eval_t **out)
{
    if (out)
        *out = NULL;
    if (nkeys < 0 || nargs < 0)
        return REDIS_EINVAL;
    int total = 3 + nkeys + nargs;
    size_t bytes = sizeof(redis_eval_t) + (size_t)total * (sizeof(char *) + sizeof(size_t));
    for (int i = 0; i < nkeys; i++)
        bytes += keylen[i];
    for (int i = 0; i < nargs; i++)
        bytes += arglen[i];
    redis_eval_t *ev = malloc(bytes);
    if (!ev)
        return REDIS_ENOMEM;
    *ev = (redis_eval_t){.client = client, .cb = cb, .ud = ud, .script = script, .argc = total};
    ev->argv = (const char **)(ev + 1);
    ev->len = (size_t *)(ev->argv + total);
    char *p = (char *)(ev->len + total);
    ev->argv[0] = "EVALSHA", ev->len[0] = 7;
    ev->argv[1] = script->sha, ev->len[1] = 40;
    ev->argv[2] = ev->nkeys;
    ev->len[2] = (size_t)snprintf(ev->nkeys, sizeof(ev->nkeys), "%d", nkeys);
    int at = redis_eval_copy(ev, 3, nkeys, keys, keylen, &p);
    redis_eval_copy(ev, at, nargs, args, arglen, &p);
    int rc = redis_command(client, total, ev->argv, ev->len, redis_eval_on_reply, ev, &ev->cmd);
    if (rc < 0) {
        free(ev);
        return rc;
    }
    if (out)
        *out = ev;
    return 0;
}

void redis_eval_abandon(redis_eval_t *ev)
{
    if (!ev)
        return;
    redis_command_abandon(ev->cmd);
    free(ev);
}
