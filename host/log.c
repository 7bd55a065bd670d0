/* log.c — JSON-lines logger shared by every room of one process.
 *
 * Lines collect in a buffer that the worker flushes once per loop turn (and when it fills),
 * so an access line costs a memcpy, not a write(2). Errors are flushed at once: they matter
 * most when the process is about to die. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_BUF_CAP (64 * 1024)
#define LOG_LINE_MAX 8192

static struct {
    log_level_t level;
    char component[32];
    char buf[LOG_BUF_CAP];
    size_t len;
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

int log_enabled(log_level_t level)
{
    return level >= lg.level;
}

void log_flush(void)
{
    size_t off = 0;
    while (off < lg.len) {
        ssize_t n = write(STDERR_FILENO, lg.buf + off, lg.len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    lg.len = 0;
}

static void append(const char *s, size_t n)
{
    if (lg.len + n > LOG_BUF_CAP)
        log_flush();
    if (n > LOG_BUF_CAP)
        n = LOG_BUF_CAP;
    memcpy(lg.buf + lg.len, s, n);
    lg.len += n;
}

static size_t timestamp(char *out, size_t cap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != lg.ts_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(lg.ts, sizeof(lg.ts), "%Y-%m-%dT%H:%M:%S", &tm);
        lg.ts_sec = tv.tv_sec;
    }
    return (size_t)snprintf(out, cap, "%s.%03ldZ", lg.ts, (long)(tv.tv_usec / 1000));
}

size_t log_json_str(char *buf, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 3)
        return 0;
    buf[o++] = '"';
    for (size_t i = 0; i < len && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else if (c < 0x20 || c == 0x7f) {
            memcpy(buf + o, "\\u00", 4);
            buf[o + 4] = hex[c >> 4];
            buf[o + 5] = hex[c & 15];
            o += 6;
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o++] = '"';
    return o;
}

void log_msg(log_level_t level, const char *extra_json, const char *fmt, ...)
{
    if (level < lg.level)
        return;
    char msg[LOG_LINE_MAX / 2];
    va_list ap;
    va_start(ap, fmt);
    int mlen = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (mlen < 0)
        return;
    if ((size_t)mlen >= sizeof(msg))
        mlen = sizeof(msg) - 1;

    char line[LOG_LINE_MAX];
    size_t o = 0;
    o += (size_t)snprintf(line + o, sizeof(line) - o, "{\"time\":\"");
    o += timestamp(line + o, sizeof(line) - o);
    o += (size_t)snprintf(line + o, sizeof(line) - o,
                          "\",\"level\":\"%s\",\"pid\":%d,\"proc\":\"%s\",\"msg\":",
                          level_names[level], (int)getpid(), lg.component);
    o += log_json_str(line + o, sizeof(line) - o - 64, msg, (size_t)mlen);
    if (extra_json && *extra_json && o + strlen(extra_json) + 4 < sizeof(line))
        o += (size_t)snprintf(line + o, sizeof(line) - o, ",%s", extra_json);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "}\n");
    append(line, o);
    if (level >= LOG_ERROR)
        log_flush();
}

void log_access(const log_access_t *a)
{
    if (LOG_INFO < lg.level)
        return;
    char line[LOG_LINE_MAX];
    size_t o = 0, cap = sizeof(line) - 16;
    o += (size_t)snprintf(line, cap, "{\"time\":\"");
    o += timestamp(line + o, cap - o);
    o += (size_t)snprintf(line + o, cap - o, "\",\"level\":\"info\",\"msg\":\"access\",\"reqId\":");
    o += log_json_str(line + o, cap - o, a->request_id, strlen(a->request_id));
    o += (size_t)snprintf(line + o, cap - o, ",\"method\":");
    o += log_json_str(line + o, cap - o, a->method ? a->method : "", a->method ? a->method_len : 0);
    o += (size_t)snprintf(line + o, cap - o, ",\"route\":");
    if (a->route)
        o += log_json_str(line + o, cap - o, a->route, strlen(a->route));
    else
        o += (size_t)snprintf(line + o, cap - o, "null");
    o += (size_t)snprintf(line + o, cap - o, ",\"path\":");
    o += log_json_str(line + o, cap - o, a->path ? a->path : "", a->path ? a->path_len : 0);
    o += (size_t)snprintf(
        line + o, cap - o, ",\"status\":%d,\"durationUs\":%llu,\"bytesOut\":%zu,\"ip\":\"%s\"",
        a->status, (unsigned long long)a->duration_us, a->bytes_out, a->ip ? a->ip : "");
    if (a->generation)
        o += (size_t)snprintf(line + o, cap - o, ",\"generation\":\"%s\"", a->generation);
    o += (size_t)snprintf(line + o, sizeof(line) - o, "}\n");
    append(line, o);
}
