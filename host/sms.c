/* sms.c — the outbox and http SMS adapters (sms.h).
 *
 * The outbox appends on the loop, synchronously: it is a development and test tool, one small
 * write per message to a local file, and a thread hop would only make a newcomer's code arrive
 * later. Each line is one write(2) on an O_APPEND descriptor, which the kernel places at the
 * file's end as a whole, so the lines of several workers never interleave; the file is opened
 * per message, so deleting it (to start afresh) just makes a new one. */
#include "sms.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct sms_req {
    httpc_req_t *req;
    sms_done_cb cb;
    void *ud;
};

/* ---- outbox ---------------------------------------------------------------------------- */

void sms_iso_time(char *buf, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char day[24];
    if (!gmtime_r(&secs, &tm) || !strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) ||
        strlen(day) != 19) /* a year past 9999 has no room in the format */
        snprintf(day, sizeof(day), "9999-12-31T23:59:59");
    snprintf(buf, SMS_ISO_TIME_BYTES, "%s.%03dZ", day, (int)(ms % 1000));
}

void sms_outbox_line(json_buf_t *b, const sms_message_t *m, int64_t at_ms)
{
    char at[SMS_ISO_TIME_BYTES];
    sms_iso_time(at, at_ms);
    json_obj_open(b);
    json_field_str(b, "to", m->to);
    json_field_str(b, "otp", m->otp);
    json_field_str(b, "body", m->body);
    json_field_str(b, "at", at);
    json_obj_close(b);
    json_put(b, "\n", 1);
}

static int sms_refuse(char *message, size_t msglen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int sms_refuse(char *message, size_t msglen, int rc, const char *fmt, ...)
{
    if (message && msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, msglen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

/* mkdir -p of path's folder: each missing level 0700, as the file beneath holds codes. */
static int sms_make_parents(const char *path)
{
    char *dir = strdup(path);
    if (!dir)
        return -1;
    int rc = 0;
    for (char *p = strchr(dir + 1, '/'); p && rc == 0; p = strchr(p + 1, '/')) {
        *p = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
            rc = -1;
        *p = '/';
    }
    free(dir);
    return rc;
}

static int sms_open_outbox(const char *path)
{
    const int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC;
    const mode_t mode = 0600; /* the file holds codes: its owner's only */
    int fd = open(path, flags, mode);
    if (fd < 0 && errno == ENOENT && sms_make_parents(path) == 0)
        fd = open(path, flags, mode);
    return fd;
}

int sms_outbox_append(const char *path, const sms_message_t *m, char *message, size_t msglen)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char stack[1024];
    json_buf_t b;
    json_init(&b, stack, sizeof(stack));
    sms_outbox_line(&b, m, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    if (b.failed) {
        json_free(&b);
        return sms_refuse(message, msglen, SMS_ENOMEM, "out of memory");
    }
    int fd = sms_open_outbox(path);
    if (fd < 0) {
        int e = errno;
        json_free(&b);
        return sms_refuse(message, msglen, SMS_EUNAVAILABLE, "cannot open the SMS outbox %s: %s",
                          path, strerror(e));
    }
    ssize_t n;
    do
        n = write(fd, b.p, b.len);
    while (n < 0 && errno == EINTR);
    int e = errno, whole = n == (ssize_t)b.len;
    close(fd);
    json_free(&b);
    /* A second write for the rest could land after another worker's line: a short write
     * (a full disk) is a failure, and its piece stays a broken line the reader skips. */
    if (!whole)
        return sms_refuse(message, msglen, SMS_EUNAVAILABLE,
                          "cannot append to the SMS outbox %s: %s", path,
                          n < 0 ? strerror(e) : "short write (disk full?)");
    return 0;
}

/* ---- http ------------------------------------------------------------------------------ */

void sms_http_body(json_buf_t *b, const sms_message_t *m)
{
    json_obj_open(b);
    json_field_str(b, "to", m->to);
    json_field_str(b, "body", m->body);
    json_obj_close(b);
}

static void sms_on_answer(int err, httpc_response_t *res, const char *message, void *ud)
{
    sms_req_t *r = ud;
    char msg[384];
    int rc = 0, status = res ? res->status : 0;
    if (err < 0) {
        rc = SMS_EUNAVAILABLE;
        snprintf(msg, sizeof(msg), "the SMS provider did not answer: %s",
                 message ? message : httpc_strerror(err));
    } else if (status < 200 || status > 299) {
        rc = SMS_EFAILED;
        snprintf(msg, sizeof(msg), "the SMS provider answered %d", status);
    } else {
        snprintf(msg, sizeof(msg), "delivered");
    }
    httpc_response_free(res);
    sms_done_cb cb = r->cb;
    void *cb_ud = r->ud;
    free(r);
    cb(rc, status, msg, cb_ud);
}

int sms_http_send(httpc_t *c, const sms_http_t *conf, const sms_message_t *m, sms_done_cb cb,
                  void *ud, sms_req_t **out, char *message, size_t msglen)
{
    if (message && msglen)
        message[0] = '\0';
    if (!m->to || !m->body || !conf->url)
        return sms_refuse(message, msglen, SMS_EINVAL, "no recipient, body or URL");
    if (!c)
        return sms_refuse(message, msglen, SMS_EUNAVAILABLE, "no outgoing HTTP client here");
    char stack[1024];
    json_buf_t body;
    json_init(&body, stack, sizeof(stack));
    sms_http_body(&body, m);
    sms_req_t *r = malloc(sizeof(*r));
    if (body.failed || !r) {
        free(r);
        json_free(&body);
        return sms_refuse(message, msglen, SMS_ENOMEM, "out of memory");
    }
    *r = (sms_req_t){.cb = cb, .ud = ud};
    const httpc_header_t headers[] = {
        {"Content-Type", "application/json"},
        {"Authorization", conf->auth},
    };
    /* No redirects: a 3xx is a failure, and the Authorization value never follows one to
     * wherever it points. */
    httpc_request_t q = {.method = "POST",
                         .url = conf->url,
                         .headers = headers,
                         .nheaders = conf->auth ? 2 : 1,
                         .body = body.p,
                         .body_len = body.len,
                         .timeout_ms = conf->timeout_ms ? conf->timeout_ms : 1,
                         .max_redirects = 0};
    char why[256];
    int rc = httpc_request(c, &q, sms_on_answer, r, &r->req, why, sizeof(why));
    json_free(&body);
    if (rc < 0) {
        free(r);
        /* httpc names no URL or header value in its reasons */
        return sms_refuse(message, msglen, rc == HTTPC_ENOMEM ? SMS_ENOMEM : SMS_EUNAVAILABLE,
                          "the SMS provider cannot be called: %s",
                          why[0] ? why : httpc_strerror(rc));
    }
    if (out)
        *out = r;
    return 0;
}

void sms_request_abandon(sms_req_t *r)
{
    if (!r)
        return;
    httpc_request_abandon(r->req);
    free(r);
}
