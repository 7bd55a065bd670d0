/* log.c — JSON-lines logger shared by every subsystem of one process.
 *
 * Lines collect in a buffer that the worker flushes once per loop turn (and when it fills),
 * so an access line costs a few copies, not a write(2). Errors are flushed at once: they
 * matter most when the process is about to die. Every line is built by the JSON writer
 * (json.h): whatever a message holds, the line is one valid JSON object. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "json.h"

#define LOG_BUF_CAP (64 * 1024)
/* A message longer than this is cut (at a character) and the line says how long it was: a
 * script logging a huge string must not make every worker hold a huge buffer. */
#define LOG_MSG_MAX (32 * 1024)

static struct {
    log_level_t level;
    char component[32];
    char buf[LOG_BUF_CAP];
    size_t len;
    json_buf_t line; /* the line being built, reused */
    time_t ts_sec;
    char ts[24]; /* "2026-11-25T09:51:41" cached per second */
} lg = {.level = LOG_INFO, .component = "speezy"};

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_init(log_level_t level, const char *component)
{
    lg.level = level;
    snprintf(lg.component, sizeof(lg.component), "%s", component);
}

int log_parse_level(const char *name, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

static void write_all(const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(STDERR_FILENO, p, n);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void log_flush(void)
{
    write_all(lg.buf, lg.len);
    lg.len = 0;
}

/* Queues the line built in lg.line; one longer than the whole buffer goes out at once. A
 * line the writer could not finish (out of memory) is dropped whole, never sent cut. */
static void append_line(void)
{
    json_buf_t *b = &lg.line;
    json_put(b, "\n", 1);
    if (!json_ok(b))
        return;
    if (lg.len + b->len > LOG_BUF_CAP)
        log_flush();
    if (b->len > LOG_BUF_CAP) {
        write_all(b->p, b->len);
        return;
    }
    memcpy(lg.buf + lg.len, b->p, b->len);
    lg.len += b->len;
}

/* Starts a line: {"time":"2026-11-25T09:51:41.123Z","level":"info" */
static json_buf_t *begin_line(log_level_t level)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != lg.ts_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(lg.ts, sizeof(lg.ts), "%Y-%m-%dT%H:%M:%S", &tm);
        lg.ts_sec = tv.tv_sec;
    }
    char ts[32];
    int n = snprintf(ts, sizeof(ts), "%s.%03ldZ", lg.ts, (long)(tv.tv_usec / 1000));
    json_buf_t *b = &lg.line;
    if (b->cap > 4 * LOG_BUF_CAP)
        json_free(b);
    json_reset(b);
    json_obj_open(b);
    json_key(b, "time");
    json_str(b, ts, (size_t)n);
    json_field_str(b, "level", level_names[level]);
    return b;
}

void log_msg(log_level_t level, const char *request_id, const char *fmt, ...)
{
    if (level < lg.level)
        return;
    char stack[1024], *msg = stack;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(stack, sizeof(stack), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t full = (size_t)n, len = full < LOG_MSG_MAX ? full : LOG_MSG_MAX;
    if (len >= sizeof(stack) && (msg = malloc(len + 1))) {
        va_start(ap, fmt);
        vsnprintf(msg, len + 1, fmt, ap);
        va_end(ap);
    } else if (len >= sizeof(stack)) {
        msg = stack;
        len = sizeof(stack) - 1;
    }
    while (len < full && len > 0 && ((unsigned char)msg[len] & 0xc0) == 0x80)
        len--; /* cut before a character, not inside it */

    json_buf_t *b = begin_line(level);
    json_field_int(b, "pid", (int64_t)getpid());
    json_field_str(b, "proc", lg.component);
    json_key(b, "msg");
    json_str(b, msg, len);
    if (len < full) {
        json_field_uint(b, "msgBytes", full);
    }
    if (request_id) {
        json_field_str(b, "reqId", request_id);
    }
    json_obj_close(b);
    append_line();
    if (msg != stack)
        free(msg);
    if (level >= LOG_ERROR)
        log_flush();
}

void log_access(const log_access_t *a)
{
    if (LOG_INFO < lg.level)
        return;
    json_buf_t *b = begin_line(LOG_INFO);
    json_field_str(b, "msg", "access");
    json_field_str(b, "reqId", a->request_id);
    json_key(b, "method");
    json_str(b, a->method ? a->method : "", a->method ? a->method_len : 0);
    json_field_str(b, "route", a->route);
    json_key(b, "path");
    json_str(b, a->path ? a->path : "", a->path ? a->path_len : 0);
    json_field_int(b, "status", a->status);
    json_field_uint(b, "durationUs", a->duration_us);
    json_field_uint(b, "bytesOut", a->bytes_out);
    json_field_str(b, "ip", a->ip ? a->ip : "");
    if (a->generation)
        json_field_str(b, "generation", a->generation);
    json_obj_close(b);
    append_line();
}

void log_job(const log_job_t *j)
{
    /* The host's own queues (speezy.*: the outbox sweeper runs every 5 s) would fill an info
     * log with their routine runs; their failures still warn. */
    log_level_t level = j->error_code                          ? LOG_WARN
                        : strncmp(j->queue, "speezy.", 7) == 0 ? LOG_DEBUG
                                                               : LOG_INFO;
    if (level < lg.level)
        return;
    json_buf_t *b = begin_line(level);
    json_field_str(b, "msg", "job");
    json_field_str(b, "queue", j->queue);
    json_field_str(b, "jobId", j->id);
    json_field_int(b, "attempt", j->attempt);
    json_field_str(b, "state", j->state);
    json_field_uint(b, "durationUs", j->duration_us);
    if (j->error_code) {
        json_key(b, "error");
        json_obj_open(b);
        json_field_str(b, "code", j->error_code);
        json_field_str(b, "message", j->error_message ? j->error_message : "");
        json_obj_close(b);
    }
    if (j->generation)
        json_field_str(b, "generation", j->generation);
    json_obj_close(b);
    append_line();
}
