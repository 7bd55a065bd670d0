/* redis.h — the async Redis client of a worker: hiredis over libuv, no Lua.
 *
 * One main connection carries every ordinary command, pipelined in send order; the commands
 * issued in one turn of the loop leave together in one write before it waits again. Blocking
 * commands (BLPOP, XREAD ... BLOCK, WAIT, ...) get a dedicated connection from a small pool so
 * they never stall the main pipe. While the main connection is down every command fails at
 * once with REDIS_EUNAVAILABLE (no queue that could grow forever) and the client reconnects
 * with backoff. Only during the first connect after redis_client_new() do commands wait for
 * the handshake (at most connect_timeout_ms), so a fresh worker can serve at once. A reply callback
 * runs exactly once per accepted command unless the command was abandoned; redis_client_close()
 * delivers REDIS_EUNAVAILABLE to everything outstanding. */
#ifndef SPEEZY_REDIS_H
#define SPEEZY_REDIS_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct redis_client redis_client_t;
typedef struct redis_cmd redis_cmd_t;

enum {
    REDIS_EINVAL = -1, /* bad URL, or a command that would corrupt a shared connection */
    REDIS_ENOMEM = -2,
    REDIS_EUNAVAILABLE = -3, /* not connected, or the connection was lost before the reply */
    REDIS_ETIMEOUT = -4,     /* no reply within timeout_ms; the connection is reset */
    REDIS_EBUSY = -5,        /* every dedicated connection runs a blocking command */
    REDIS_EREPLY = -6        /* the server answered with an error (redis_ping) */
};

typedef struct redis_opts {
    unsigned timeout_ms;         /* per ordinary command; 0: REDIS_TIMEOUT_MS's default */
    unsigned connect_timeout_ms; /* connect + AUTH/SELECT/PING, on every connection; 0: the same */
    int blocking_pool; /* dedicated connections for blocking commands; 0: REDIS_BLOCKING_POOL's */
} redis_opts_t;

typedef struct redis_url {
    char host[256];
    int port;
    char user[128];     /* empty: AUTH with the password only (or no AUTH) */
    char password[256]; /* empty: no AUTH */
    int db;
} redis_url_t;

typedef struct redis_stats {
    int connected;  /* the main connection is ready: AUTH/SELECT done and PING answered */
    size_t pending; /* commands sent whose reply has not come yet */
    int blocking_open;
    int blocking_busy;
    size_t writes;        /* write(2) calls of buffered commands, all connections, ever */
    size_t write_waits;   /* times a socket took less than the buffered commands */
    size_t poll_restarts; /* changes of what a connection polls for (each costs epoll_ctl) */
} redis_stats_t;

/* reply lives only during the call (hiredis frees it after): convert it or redis_reply_dup()
 * it there. err is 0 with a reply (possibly an error reply), or negative with reply NULL. */
typedef void (*redis_reply_cb)(const redisReply *reply, int err, void *ud);
/* 0 when the server answered PONG, else a negative REDIS_E* code. */
typedef void (*redis_status_cb)(int status, void *ud);

typedef enum {
    REDIS_CLASS_PLAIN,    /* pipelined on the main connection */
    REDIS_CLASS_BLOCKING, /* goes to a dedicated connection, bounded by its own timeout */
    REDIS_CLASS_TX,       /* MULTI/EXEC/DISCARD: only safe when sent together in one batch */
    REDIS_CLASS_FORBIDDEN /* changes connection state for everyone (SELECT, SUBSCRIBE, ...) */
} redis_class_t;

/* redis://[[user]:password@]host[:port][/db], user and password percent-decoded. */
int redis_url_parse(const char *url, redis_url_t *out);

/* Starts connecting (asynchronously; commands fail fast until the handshake is done). */
int redis_client_new(uv_loop_t *loop, const char *url, const redis_opts_t *opts,
                     redis_client_t **out);
void redis_client_close(redis_client_t *client);
void redis_client_stats(const redis_client_t *client, redis_stats_t *out);
/* Writes what the commands of this loop turn buffered now instead of before the loop next
 * waits. Never from inside redis_command or a reply callback: a failing write frees the
 * connection, runs its callbacks, and may close the client. */
void redis_client_flush(redis_client_t *client);

redis_class_t redis_command_class(int argc, const char **argv, const size_t *argvlen);
/* How long the server may rightly keep a blocking command waiting, in ms, from the command's
 * own timeout (seconds for BLPOP and the other B* commands, milliseconds for WAIT, WAITAOF and
 * XREAD/XREADGROUP BLOCK); REDIS_BLOCK_FOREVER for 0 (wait for data) or no readable timeout.
 * Past it plus timeout_ms without a reply, the command fails with REDIS_ETIMEOUT. */
#define REDIS_BLOCK_FOREVER UINT64_MAX
uint64_t redis_command_block_ms(int argc, const char **argv, const size_t *argvlen);

/* Sends a binary-safe command. Returns 0 and, if out is not NULL, a handle valid until its
 * callback runs; or a negative code without ever calling cb (REDIS_EINVAL for a forbidden
 * command, REDIS_EUNAVAILABLE while disconnected, REDIS_EBUSY when the pool is full).
 * The callback never runs from inside this call. */
int redis_command(redis_client_t *client, int argc, const char **argv, const size_t *argvlen,
                  redis_reply_cb cb, void *ud, redis_cmd_t **out);
/* The callback will never run; a blocking command's connection is closed, not reused. */
void redis_command_abandon(redis_cmd_t *cmd);

/* Readiness probe: PING on the main connection; same return convention as redis_command,
 * but REDIS_EUNAVAILABLE until the handshake is done, even during the first connect. */
int redis_ping(redis_client_t *client, redis_status_cb cb, void *ud, redis_cmd_t **out);

/* ---- scripts ------------------------------------------------------------------------------
 * A Redis script of the host's own (the queue's, the OTP core's) runs by EVALSHA; when Redis
 * does not know it (restarted without it, or SCRIPT FLUSH) the text itself is sent, once. */

typedef struct redis_script {
    const char *text; /* must outlive every eval of it (the host's scripts are static) */
    size_t len;
    char sha[41]; /* SHA-1 hex, the name EVALSHA knows the script by */
} redis_script_t;

/* Fills sha from text; 0, or REDIS_ENOMEM when hashing failed. */
int redis_script_init(redis_script_t *s, const char *text, size_t len);

/* EVALSHA script nkeys keys... args..., the arguments copied; then EVAL on NOSCRIPT. The same
 * contract as redis_command: the handle lives until cb runs. */
typedef struct redis_eval redis_eval_t;
int redis_eval(redis_client_t *client, const redis_script_t *script, int nkeys,
               const char *const *keys, const size_t *keylen, int nargs, const char *const *args,
               const size_t *arglen, redis_reply_cb cb, void *ud, redis_eval_t **out);
/* The callback will never run. */
void redis_eval_abandon(redis_eval_t *ev);

/* Deep copy of a reply that outlives the callback; NULL when out of memory. */
redisReply *redis_reply_dup(const redisReply *reply);
void redis_reply_free(redisReply *reply);

const char *redis_strerror(int err);

#endif
