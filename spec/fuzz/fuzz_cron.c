/* fuzz_cron.c — arbitrary bytes as a cron expression (host/cron.h): queue.schedule takes the
 * text from a script, so whatever it is, cron_parse either reads it or refuses it with a
 * message, and what it reads leads cron_next to a time that fires, never into a crash or an
 * endless search.
 *
 * Promises checked beyond the sanitizers:
 *   - a refusal's message starts with "cron: " and is plain printable ASCII (it ends up in
 *     logs and error envelopes);
 *   - an accepted text holds only what the grammar is made of (digits, letters, "*", "/", "-",
 *     ",", "@", spaces and tabs), and its sets only values in range, none of them empty;
 *   - from each of a few start times (just before 1970, around 29 February, in 2100, the last
 *     moment cron_next reads), cron_next gives -1 or a whole minute strictly after the start
 *     that fires, judged with the C library's gmtime_r rather than host/cron.c's calendar;
 *     when that minute is less than three hours away, none before it fires;
 *   - -1 from one start is -1 from every start: an expression that never fires never does.
 * A broken promise traps (PROMISE, fuzz.h). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "fuzz.h"

/* Whether minute-aligned time ms fires, from the sets and the day rule alone. */
static int fires(const cron_expr_t *e, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    int dom = e->dom >> tm.tm_mday & 1, dow = e->dow >> tm.tm_wday & 1;
    int day = e->day_rule == CRON_DAYS_EITHER ? dom || dow : dom && dow;
    return day && e->month >> (tm.tm_mon + 1) & 1 && e->hour >> tm.tm_hour & 1 &&
           e->minute >> tm.tm_min & 1;
}

static const int64_t starts[] = {
    -1,             /* 1969-12-31T23:59:59.999Z */
    -2203891230000, /* 1900-02-28T23:59:30Z (1900 has no 29 February) */
    1706742000000,  /* 2024-01-31T23:00:00Z */
    1709164799000,  /* 2024-02-28T23:59:59Z */
    4102444740000,  /* 2099-12-31T23:59:00Z */
    4107540600000,  /* 2100-02-28T23:30:00Z */
    CRON_MS_MAX,    /* 9999-12-31T23:59:59.999Z */
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* past the length cap by a few bytes, so the cap itself gets fuzzed */
    char text[CRON_TEXT_MAX + 9], err[160];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';

    cron_expr_t e;
    if (cron_parse(text, &e, err, sizeof(err)) != 0) {
        PROMISE(strncmp(err, "cron: ", 6) == 0);
        for (const char *p = err; *p; p++)
            PROMISE(*p >= 0x20 && *p < 0x7f);
        return 0;
    }
    for (const char *p = text; *p; p++)
        PROMISE(strchr("0123456789*/-,@ \t", *p) || (*p >= 'a' && *p <= 'z') ||
                (*p >= 'A' && *p <= 'Z'));
    PROMISE(e.minute && !(e.minute >> 60));
    PROMISE(e.hour && !(e.hour >> 24));
    PROMISE(e.dom && !(e.dom & 1));
    PROMISE(e.month && !(e.month & 1) && !(e.month >> 13));
    PROMISE(e.dow && !(e.dow >> 7));
    PROMISE(e.day_rule == CRON_DAYS_BOTH || e.day_rule == CRON_DAYS_EITHER);

    int nevers = 0;
    for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++) {
        int64_t from = starts[i], next = cron_next(&e, from);
        if (next == -1) {
            nevers++;
            continue;
        }
        PROMISE(next > from && next % 60000 == 0);
        PROMISE(fires(&e, next));
        int64_t first = (from / 60000 - (from % 60000 < 0) + 1) * 60000; /* whole minute after */
        if (next - from < 3 * 3600000)
            for (int64_t m = first; m < next; m += 60000)
                PROMISE(!fires(&e, m));
    }
    PROMISE(nevers == 0 || nevers == (int)(sizeof(starts) / sizeof(starts[0])));
    return 0;
}
