/* redis_policy.c — the maxmemory-policy check of redis_policy.h: hiredis' blocking API, once,
 * in the master before any loop or worker exists.
 *
 * The policy comes from INFO memory, not CONFIG GET: managed Redis services often disable
 * CONFIG, never INFO. The handshake is the worker's (redis.c conn_handshake): AUTH with the
 * URL's user and password, SELECT its db, so a URL the workers could not use is not
 * reported as checked. Messages name the server by host:port only, never the password. */
#include "redis_policy.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"
#include "redis.h"

/* The one policy under which Redis never deletes a key to make room: when full, it refuses
 * writes instead, and the queue reports the error. */
#define POLICY_KEEPS_JOBS "noeviction"

/* One command; its non-error reply (freed by the caller), or NULL with why in err. */
static redisReply *policy_command(redisContext *c, int argc, const char **argv, char *err,
                                  size_t errlen)
{
    redisReply *r = redisCommandArgv(c, argc, argv, NULL);
    if (!r) {
        snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "no reply");
        return NULL;
    }
    if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errlen, "%s answered %.*s", argv[0], (int)r->len, r->str);
        freeReplyObject(r);
        return NULL;
    }
    return r;
}

/* AUTH (user and password, or the password alone) and SELECT, as the URL says. */
static int policy_handshake(redisContext *c, const redis_url_t *u, char *err, size_t errlen)
{
    redisReply *r;
    if (u->password[0]) {
        const char *argv[3] = {"AUTH"};
        int argc = 1;
        if (u->user[0])
            argv[argc++] = u->user;
        argv[argc++] = u->password;
        if (!(r = policy_command(c, argc, argv, err, errlen)))
            return -1;
        freeReplyObject(r);
    }
    if (u->db) {
        char db[16];
        snprintf(db, sizeof(db), "%d", u->db);
        const char *argv[2] = {"SELECT", db};
        if (!(r = policy_command(c, 2, argv, err, errlen)))
            return -1;
        freeReplyObject(r);
    }
    return 0;
}

/* The value of "maxmemory_policy:" in INFO memory's text, into out. */
static int policy_from_info(const char *info, size_t len, char *out, size_t cap)
{
    static const char field[] = "maxmemory_policy:";
    const char *end = info + len;
    for (const char *line = info; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        size_t n = (size_t)(eol - line);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (n > sizeof(field) - 1 && memcmp(line, field, sizeof(field) - 1) == 0) {
            n -= sizeof(field) - 1;
            if (n >= cap)
                return -1;
            memcpy(out, line + sizeof(field) - 1, n);
            out[n] = '\0';
            return 0;
        }
        line = eol + 1;
    }
    return -1;
}

/* Connects, authenticates and reads the policy into out; -1 with why in err. */
static int policy_read(const redis_url_t *u, unsigned timeout_ms, char *out, size_t cap, char *err,
                       size_t errlen)
{
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(u->host, u->port, tv);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = -1;
    redisReply *r = NULL;
    if (c->err) {
        snprintf(err, errlen, "%s", c->errstr);
    } else if (redisSetTimeout(c, tv) != REDIS_OK) { /* a server that accepts, then hangs */
        snprintf(err, errlen, "cannot set a timeout: %s", c->errstr);
    } else if (policy_handshake(c, u, err, errlen) == 0) {
        const char *argv[2] = {"INFO", "memory"};
        r = policy_command(c, 2, argv, err, errlen);
        if (r && r->type != REDIS_REPLY_STRING)
            snprintf(err, errlen, "INFO memory answered no text");
        else if (r && policy_from_info(r->str, r->len, out, cap) < 0)
            snprintf(err, errlen, "INFO memory has no maxmemory_policy");
        else if (r)
            rc = 0;
    }
    if (r)
        freeReplyObject(r);
    redisFree(c);
    return rc;
}

int redis_policy_check(const config_t *cfg)
{
    if (!cfg->redis_url)
        return 0;
    redis_url_t u;
    if (redis_url_parse(cfg->redis_url, &u) < 0) {
        log_warn("redis: REDIS_URL is not a redis:// URL: its maxmemory-policy is not checked");
        log_flush();
        return 0;
    }
    char policy[64], err[512];
    int rc = 0;
    if (policy_read(&u, cfg->redis_timeout_ms, policy, sizeof(policy), err, sizeof(err)) < 0) {
        log_warn("redis: cannot check the maxmemory-policy of %s:%d (%s); starting anyway: "
                 "unless it is " POLICY_KEEPS_JOBS ", Redis may evict queued jobs when full",
                 u.host, u.port, err);
    } else if (strcmp(policy, POLICY_KEEPS_JOBS) == 0) {
        log_debug("redis: %s:%d has maxmemory-policy " POLICY_KEEPS_JOBS, u.host, u.port);
    } else if (cfg->env == ENV_PRODUCTION) {
        log_error("configuration refused: Redis at %s:%d has maxmemory-policy %s, under which "
                  "it evicts keys when full, queued jobs too; production needs "
                  "maxmemory-policy " POLICY_KEEPS_JOBS
                  " (redis.conf, or CONFIG SET maxmemory-policy " POLICY_KEEPS_JOBS ")",
                  u.host, u.port, policy);
        rc = -1;
    } else {
        log_warn("redis: %s:%d has maxmemory-policy %s: when full it evicts keys, queued jobs "
                 "too; set maxmemory-policy " POLICY_KEEPS_JOBS " (production refuses to start "
                 "without it)",
                 u.host, u.port, policy);
    }
    log_flush(); /* before any fork, which would copy lines still buffered */
    return rc;
}
