/* cron.c — cron expressions (cron.h): the parser of the five fields and cron_next, the search
 * for the next minute an expression fires, month by month over the civil (proleptic Gregorian,
 * UTC) calendar. */
#include "cron.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- the fields ------------------------------------------------------------------------ */

enum cron_field_id { CRON_MINUTE, CRON_HOUR, CRON_DOM, CRON_MONTH, CRON_DOW, CRON_FIELDS };

static const char *const cron_month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                               "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const cron_day_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const struct cron_field {
    const char *name;
    int min, max;
    const char *const *names; /* names[i] is the value min + i; NULL: numbers only */
    int nnames;
    const char *names_hint; /* for the message on an unknown name */
} cron_fields[CRON_FIELDS] = {
    {"minute", 0, 59, NULL, 0, NULL},
    {"hour", 0, 23, NULL, 0, NULL},
    {"day-of-month", 1, 31, NULL, 0, NULL},
    {"month", 1, 12, cron_month_names, 12, "JAN-DEC"},
    {"day-of-week", 0, 7, cron_day_names, 7, "SUN-SAT"},
};

static const struct cron_macro {
    const char *name, *text;
} cron_macros[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* ---- messages -------------------------------------------------------------------------- */

/* Writes "cron: " and the message into err; returns -1 for the caller to pass on. */
static int cron_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int n = snprintf(err, errlen, "cron: ");
    if (n >= 0 && (size_t)n < errlen)
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

/* s[0..n) for a message: printable ASCII as is, any other byte as \xNN, so that what the caller
 * logs or sends back stays plain text; long tokens end in "...". dst holds 72 bytes. */
#define CRON_QUOTE_MAX 72
static const char *cron_quote(char *dst, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (j + 8 > CRON_QUOTE_MAX) {
            memcpy(dst + j, "...", 3);
            j += 3;
            break;
        }
        if (c >= 0x20 && c < 0x7f)
            dst[j++] = (char)c;
        else
            j += (size_t)snprintf(dst + j, 5, "\\x%02x", c);
    }
    dst[j] = '\0';
    return dst;
}

/* ---- the parser ------------------------------------------------------------------------ */

/* One field being read: its text, where the reader is, and where messages go. */
typedef struct {
    const struct cron_field *f;
    const char *start, *p, *end;
    char *err;
    size_t errlen;
} cron_reader_t;

static int cron_field_fail(cron_reader_t *r, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return cron_fail(r->err, r->errlen, "%s field: %s", r->f->name, msg);
}

/* The character at the reader was not what the grammar allows there. */
static int cron_unexpected(cron_reader_t *r, const char *item)
{
    char c[CRON_QUOTE_MAX], in[CRON_QUOTE_MAX];
    const char *item_end = memchr(item, ',', (size_t)(r->end - item));
    if (r->p == r->end || *r->p == ',')
        return cron_field_fail(r, "'%s' is incomplete",
                               cron_quote(in, item, (size_t)(r->p - item)));
    if (!item_end)
        item_end = r->end;
    return cron_field_fail(r, "unexpected '%s' in '%s'", cron_quote(c, r->p, 1),
                           cron_quote(in, item, (size_t)(item_end - item)));
}

static int cron_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int cron_is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A number, or a name where the field has names (names_ok), within lo..hi; *v the value. */
static int cron_read_value(cron_reader_t *r, const char *item, int names_ok, int lo, int hi,
                           const char *what, int *v)
{
    const char *tok = r->p;
    char q[CRON_QUOTE_MAX];
    if (r->p < r->end && cron_is_digit(*r->p)) {
        long n = 0;
        /* Stops growing past any field's range: a hundred digits still read as "too big". */
        for (; r->p < r->end && cron_is_digit(*r->p); r->p++)
            if (n < 100000)
                n = n * 10 + (*r->p - '0');
        if (n < lo || n > hi)
            return cron_field_fail(r, "%s%s is out of range %d-%d", what,
                                   cron_quote(q, tok, (size_t)(r->p - tok)), lo, hi);
        *v = (int)n;
        return 0;
    }
    if (r->p < r->end && cron_is_letter(*r->p)) {
        while (r->p < r->end && cron_is_letter(*r->p))
            r->p++;
        size_t n = (size_t)(r->p - tok);
        cron_quote(q, tok, n);
        if (!names_ok || !r->f->names)
            return cron_field_fail(r, "%s'%s' is not a number", what, q);
        for (int i = 0; i < r->f->nnames; i++)
            if (n == 3 && strncasecmp(tok, r->f->names[i], 3) == 0) {
                *v = r->f->min + i;
                return 0;
            }
        return cron_field_fail(r, "unknown name '%s' (%s)", q, r->f->names_hint);
    }
    return cron_unexpected(r, item);
}

/* One item of a comma list: "*", "a", "a-b", each with an optional "/step"; adds its values
 * to *bits. */
static int cron_read_item(cron_reader_t *r, uint64_t *bits)
{
    const struct cron_field *f = r->f;
    const char *item = r->p;
    int lo = f->min, hi = f->max, step = 1;
    if (r->p == r->end || *r->p == ',') {
        char q[CRON_QUOTE_MAX];
        return cron_field_fail(r, "empty item in '%s'",
                               cron_quote(q, r->start, (size_t)(r->end - r->start)));
    }
    int single = 0;
    if (*r->p == '*') {
        r->p++;
    } else {
        if (cron_read_value(r, item, 1, f->min, f->max, "", &lo) < 0)
            return -1;
        hi = lo;
        single = 1;
        if (r->p < r->end && *r->p == '-') {
            r->p++;
            if (cron_read_value(r, item, 1, f->min, f->max, "", &hi) < 0)
                return -1;
            single = 0;
            if (lo > hi) {
                char q[CRON_QUOTE_MAX];
                return cron_field_fail(r, "range %s is reversed",
                                       cron_quote(q, item, (size_t)(r->p - item)));
            }
        }
    }
    if (r->p < r->end && *r->p == '/') {
        r->p++;
        if (cron_read_value(r, item, 0, 1, f->max, "step ", &step) < 0)
            return -1;
        if (single) /* "5/15": from 5 to the field's top */
            hi = f->max;
    }
    if (r->p < r->end && *r->p != ',')
        return cron_unexpected(r, item);
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ull << v;
    return 0;
}

/* One whole field: a comma list of items. */
static int cron_read_field(cron_reader_t *r, uint64_t *bits)
{
    *bits = 0;
    for (;;) {
        if (cron_read_item(r, bits) < 0)
            return -1;
        if (r->p == r->end)
            return 0;
        r->p++; /* the comma; an item must follow it */
    }
}

/* A macro stands for the whole expression; NULL when name is none of them. */
static const char *cron_macro_text(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof(cron_macros) / sizeof(cron_macros[0]); i++)
        if (strlen(cron_macros[i].name) == n && strncasecmp(name, cron_macros[i].name, n) == 0)
            return cron_macros[i].text;
    return NULL;
}

static int cron_is_space(char c)
{
    return c == ' ' || c == '\t';
}

int cron_parse(const char *text, cron_expr_t *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        return cron_fail(err, errlen, "no expression");
    size_t len = strnlen(text, CRON_TEXT_MAX + 1);
    if (len > CRON_TEXT_MAX)
        return cron_fail(err, errlen, "expression longer than %d bytes", CRON_TEXT_MAX);

    /* The fields: runs of anything but spaces and tabs (what is in them is checked below). */
    const char *start[CRON_FIELDS], *end[CRON_FIELDS];
    int n = 0;
    for (const char *p = text, *stop = text + len; p < stop;) {
        if (cron_is_space(*p)) {
            p++;
            continue;
        }
        const char *s = p;
        while (p < stop && !cron_is_space(*p))
            p++;
        if (n < CRON_FIELDS) {
            start[n] = s;
            end[n] = p;
        }
        n++;
    }
    if (n == 0)
        return cron_fail(err, errlen,
                         "empty expression (expected 5 fields: minute hour day-of-month month "
                         "day-of-week)");
    if (*start[0] == '@') {
        char q[CRON_QUOTE_MAX];
        size_t mlen = (size_t)(end[0] - start[0]);
        const char *macro = cron_macro_text(start[0], mlen);
        cron_quote(q, start[0], mlen);
        if (!macro)
            return cron_fail(err, errlen,
                             "unknown macro '%s' (known: @yearly @annually @monthly @weekly "
                             "@daily @midnight @hourly)",
                             q);
        if (n != 1)
            return cron_fail(err, errlen, "%s stands alone, without other fields", q);
        return cron_parse(macro, out, err, errlen);
    }
    if (n != CRON_FIELDS)
        return cron_fail(err, errlen,
                         "expected 5 fields (minute hour day-of-month month day-of-week), got %d",
                         n);

    uint64_t bits[CRON_FIELDS];
    for (int i = 0; i < CRON_FIELDS; i++) {
        cron_reader_t r = {&cron_fields[i], start[i], start[i], end[i], err, errlen};
        if (cron_read_field(&r, &bits[i]) < 0)
            return -1;
    }
    out->minute = bits[CRON_MINUTE];
    out->hour = (uint32_t)bits[CRON_HOUR];
    out->dom = (uint32_t)bits[CRON_DOM];
    out->month = (uint16_t)bits[CRON_MONTH];
    /* 7 is Sunday too */
    out->dow = (uint8_t)((bits[CRON_DOW] | bits[CRON_DOW] >> 7) & 0x7f);
    out->day_rule =
        *start[CRON_DOM] == '*' || *start[CRON_DOW] == '*' ? CRON_DAYS_BOTH : CRON_DAYS_EITHER;
    return 0;
}

/* ---- the calendar ---------------------------------------------------------------------- */

/* a / b rounded down, for b > 0 (C's division rounds toward zero: wrong before 1970). */
static int64_t cron_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return a % b < 0 ? q - 1 : q;
}

/* Days from 1970-01-01 to y-m-d. The year is counted from March, so that the leap day is the
 * last of its year; then 400-year eras of 146097 days each, the Gregorian cycle. */
static int64_t cron_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    if (m <= 2)
        y--;
    int64_t era = cron_floor_div(y, 400);
    int64_t year_of_era = y - era * 400;                          /* 0-399 */
    int64_t day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1; /* from 1 March */
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return era * 146097 + day_of_era - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

/* The inverse: y-m-d of a day counted from 1970-01-01. */
static void cron_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    int64_t era = cron_floor_div(days, 146097);
    int64_t day_of_era = days - era * 146097; /* 0-146096 */
    /* years of the era: take out the leap days before this one (every 4th year's, except every
     * 100th's, except the 400th's) */
    int64_t year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    /* the months from March run 31 30 31 30 31 days, five months in 153 days, twice, then
     * 31 and February: (153 * mp + 2) / 5 is the days before month mp */
    unsigned mp = (unsigned)((5 * day_of_year + 2) / 153); /* 0 = March */
    *d = (unsigned)(day_of_year - (153 * mp + 2) / 5 + 1);
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = era * 400 + year_of_era + (*m <= 2);
}

static unsigned cron_month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* ---- cron_next ------------------------------------------------------------------------- */

/* The days of month y-m that fire: bit d for day d, under the day rule. */
static uint32_t cron_month_fires(const cron_expr_t *e, int64_t y, unsigned m)
{
    unsigned n = cron_month_days(y, m);
    uint32_t valid = (uint32_t)((1ull << (n + 1)) - 2); /* bits 1..n */
    int64_t first = cron_days_from_civil(y, m, 1) + 4;  /* 1970-01-01 was a Thursday (4) */
    unsigned wd = (unsigned)(first - 7 * cron_floor_div(first, 7)); /* of the 1st, 0 = Sunday */
    /* the week from the 1st: bit k when day k + 1 has a firing weekday; then five weeks of it */
    uint64_t week = ((uint64_t)(e->dow & 0x7f) >> wd | (uint64_t)e->dow << (7 - wd)) & 0x7f;
    uint32_t by_dow = (uint32_t)((week | week << 7 | week << 14 | week << 21 | week << 28) << 1);
    uint32_t by_dom = e->dom & valid;
    by_dow &= valid;
    return e->day_rule == CRON_DAYS_EITHER ? by_dom | by_dow : by_dom & by_dow;
}

/* The first hour:minute of a firing day at or after h_from:mi_from; -1 when none is left. */
static int cron_day_first(const cron_expr_t *e, unsigned h_from, unsigned mi_from, unsigned *h,
                          unsigned *mi)
{
    uint32_t hours = e->hour & 0xffffffu & (~0u << h_from);
    for (; hours; hours &= hours - 1) {
        unsigned hh = (unsigned)__builtin_ctz(hours);
        uint64_t mins = e->minute & ((1ull << 60) - 1);
        if (hh == h_from)
            mins &= ~0ull << mi_from;
        if (mins) {
            *h = hh;
            *mi = (unsigned)__builtin_ctzll(mins);
            return 0;
        }
    }
    return -1;
}

int64_t cron_next(const cron_expr_t *e, int64_t after_ms)
{
    if (!e || after_ms < CRON_MS_MIN || after_ms > CRON_MS_MAX)
        return -1;
    int64_t minute = cron_floor_div(after_ms, 60000) + 1; /* the first whole minute after */
    int64_t day = cron_floor_div(minute, 1440);
    unsigned in_day = (unsigned)(minute - day * 1440);
    unsigned h_from = in_day / 60, mi_from = in_day % 60, m, d_from;
    int64_t y;
    cron_civil_from_days(day, &y, &m, &d_from);
    int64_t last_year = y + 400; /* the calendar repeats after 400 years: then it never fires */
    uint32_t months = e->month & 0x1ffe;

    while (y <= last_year) {
        uint32_t left = months & (~0u << m); /* this year's months from m on */
        if (!left) {
            y++;
            m = 1;
            d_from = 1;
            h_from = mi_from = 0;
            continue;
        }
        if ((unsigned)__builtin_ctz(left) != m) {
            m = (unsigned)__builtin_ctz(left);
            d_from = 1;
            h_from = mi_from = 0;
        }
        uint32_t days = cron_month_fires(e, y, m) & (~0u << d_from);
        for (; days; days &= days - 1) {
            unsigned d = (unsigned)__builtin_ctz(days), h, mi;
            if (d != d_from)
                h_from = mi_from = 0;
            if (cron_day_first(e, h_from, mi_from, &h, &mi) == 0)
                return ((cron_days_from_civil(y, m, d) * 24 + h) * 60 + mi) * 60000;
        }
        m++;
        d_from = 1;
        h_from = mi_from = 0;
        if (m > 12) {
            y++;
            m = 1;
        }
    }
    return -1;
}
