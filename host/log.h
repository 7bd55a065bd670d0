/* log.h — one JSON object per line on stderr, buffered and flushed once per loop turn.
 *
 * The logger is process-wide (like Redis' serverLog): every subsystem may log without carrying a
 * handle. Secrets never reach it: callers log names of settings, never their values. */
#ifndef SPEEZY_LOG_H
#define SPEEZY_LOG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

void log_init(log_level_t level, const char *component);
int log_parse_level(const char *name, log_level_t *out);

/* A message; request_id (or NULL) names the request it is about, as its access line does. */
void log_msg(log_level_t level, const char *request_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define log_debug(...) log_msg(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, NULL, __VA_ARGS__)

typedef struct {
    const char *request_id;
    const char *method;
    size_t method_len;
    const char *route; /* template, or NULL when no route matched */
    const char *path;
    size_t path_len;
    const char *ip;
    int status;
    uint64_t duration_us;
    size_t bytes_out;
    const char *generation;
} log_access_t;
void log_access(const log_access_t *a);

/* One line per job outcome: state completed, retrying, failed, stalled, released... */
typedef struct {
    const char *queue;
    const char *id;
    int attempt;
    const char *state;
    uint64_t duration_us;
    const char *error_code; /* NULL when it completed */
    const char *error_message;
    const char *generation;
} log_job_t;
void log_job(const log_job_t *j);

void log_flush(void);

#endif
