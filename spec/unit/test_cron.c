/* test_cron.c — cron expressions (host/cron.c): what cron_parse accepts and the sets it reads,
 * what it refuses and the message it gives, and cron_next across minutes, hours, month ends,
 * leap days and year ends.
 *
 * The property test writes random expressions from random items ("*", "*\/n", "a", "a-b",
 * "a-b/n", "a/n", names in any case, day-of-week 7) together with the sets they mean, checks
 * that cron_parse reads those sets, then checks cron_next from random start times (many of them
 * just before a month's, February's or a year's end) against a reference that walks the
 * calendar a minute at a time (a whole day at a time when the day does not fire), with its
 * dates from the C library's gmtime_r rather than host/cron.c's calendar. The seed is printed,
 * and SPEEZY_CRON_SEED replays a run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron.h"
#include "test.h"

/* ---- times ----------------------------------------------------------------------------- */

/* y-mo-d h:mi UTC in ms since the epoch, by the C library. */
static int64_t at(int y, int mo, int d, int h, int mi)
{
    struct tm tm = {
        .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi};
    return (int64_t)timegm(&tm) * 1000;
}

/* ms as "2024-02-29T00:00:00.000Z" (or "-1") for a failed check's message. */
static const char *iso(int64_t ms, char *buf, size_t cap)
{
    if (ms == -1) {
        snprintf(buf, cap, "-1");
        return buf;
    }
    int64_t s = ms / 1000 - (ms % 1000 < 0);
    time_t t = (time_t)s;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms - s * 1000));
    return buf;
}

/* cron_next(text, from) must be want; prints the three times when it is not. */
static void check_next_at(const char *text, int64_t from, int64_t want, int line)
{
    cron_expr_t e;
    char err[200], a[96], b[96], c[96];
    if (cron_parse(text, &e, err, sizeof(err)) < 0) {
        fprintf(stderr, "  line %d: \"%s\" refused: %s\n", line, text, err);
        test_cur_failed++;
        return;
    }
    int64_t got = cron_next(&e, from);
    if (got != want) {
        fprintf(stderr, "  line %d: \"%s\" after %s: got %s, want %s\n", line, text,
                iso(from, a, sizeof(a)), iso(got, b, sizeof(b)), iso(want, c, sizeof(c)));
        test_cur_failed++;
    }
}
#define CHECK_NEXT(text, from, want) check_next_at(text, from, want, __LINE__)

/* ---- parse ----------------------------------------------------------------------------- */

#define ALL_MINUTES ((1ull << 60) - 1)
#define ALL_HOURS 0xffffffu
#define ALL_DOMS 0xfffffffeu /* 1-31 */
#define ALL_MONTHS 0x1ffeu   /* 1-12 */
#define ALL_DOWS 0x7fu

static uint64_t bits(int lo, int hi, int step)
{
    uint64_t b = 0;
    for (int v = lo; v <= hi; v += step)
        b |= 1ull << v;
    return b;
}

static const struct parse_case {
    const char *text;
    cron_expr_t want;
} parse_cases[] = {
    {"* * * * *", {ALL_MINUTES, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"*/5 * * * *",
     {0x0842108421084210ull >> 4 | 1, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"10-50/10 3,7 1-3 2 *",
     {1ull << 10 | 1ull << 20 | 1ull << 30 | 1ull << 40 | 1ull << 50, 1u << 3 | 1u << 7, 0xeu,
      1u << 2, ALL_DOWS, CRON_DAYS_BOTH}},
    {"5/15 0 1 * *",
     {1ull << 5 | 1ull << 20 | 1ull << 35 | 1ull << 50, 1, 1u << 1, ALL_MONTHS, ALL_DOWS,
      CRON_DAYS_BOTH}},
    {"0 12 * * MON-FRI", {1, 1u << 12, ALL_DOMS, ALL_MONTHS, 0x3e, CRON_DAYS_BOTH}},
    {"0 0 1,15 jan,Jul *", {1, 1, 1u << 1 | 1u << 15, 1u << 1 | 1u << 7, ALL_DOWS, CRON_DAYS_BOTH}},
    {"0 0 * oct-Dec/2 sun,Sat", {1, 1, ALL_DOMS, 1u << 10 | 1u << 12, 0x41, CRON_DAYS_BOTH}},
    {"0 0 * * 7", {1, 1, ALL_DOMS, ALL_MONTHS, 0x01, CRON_DAYS_BOTH}},
    {"0 0 * * 5-7", {1, 1, ALL_DOMS, ALL_MONTHS, 0x61, CRON_DAYS_BOTH}},
    {"0 0 * * 0-7", {1, 1, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"0 0 * * 1/2", {1, 1, ALL_DOMS, ALL_MONTHS, 0x2b, CRON_DAYS_BOTH}}, /* 1,3,5,7 */
    {"0 0 * * */3", {1, 1, ALL_DOMS, ALL_MONTHS, 0x49, CRON_DAYS_BOTH}}, /* 0,3,6 */
    /* the day rule: both restricted is EITHER; a field starting with "*" counts as not */
    {"0 0 1 * 1", {1, 1, 1u << 1, ALL_MONTHS, 0x02, CRON_DAYS_EITHER}},
    {"0 0 1-31 * 0-6", {1, 1, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_EITHER}},
    {"0 0 */2 * 1", {1, 1, 0xaaaaaaaau, ALL_MONTHS, 0x02, CRON_DAYS_BOTH}},
    {"0 0 13 * */5", {1, 1, 1u << 13, ALL_MONTHS, 0x21, CRON_DAYS_BOTH}},
    {"59 23 31 12 6", {1ull << 59, 1u << 23, 1u << 31, 1u << 12, 0x40, CRON_DAYS_EITHER}},
    {"00 007 01 01 00", {1, 1u << 7, 1u << 1, 1u << 1, 0x01, CRON_DAYS_EITHER}},
    {"*/59 */23 */31 */12 */7",
     {1 | 1ull << 59, 1 | 1u << 23, 1u << 1, 1u << 1, 0x01, CRON_DAYS_BOTH}},
    {" \t0\t\t0  *  * *  \t", {1, 1, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@yearly", {1, 1, 1u << 1, 1u << 1, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@annually", {1, 1, 1u << 1, 1u << 1, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@monthly", {1, 1, 1u << 1, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@weekly", {1, 1, ALL_DOMS, ALL_MONTHS, 0x01, CRON_DAYS_BOTH}},
    {" @Daily ", {1, 1, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@MIDNIGHT", {1, 1, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
    {"@hourly", {1, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH}},
};

static int expr_equal(const cron_expr_t *a, const cron_expr_t *b)
{
    return a->minute == b->minute && a->hour == b->hour && a->dom == b->dom &&
           a->month == b->month && a->dow == b->dow && a->day_rule == b->day_rule;
}

TEST(parse_reads_the_sets)
{
    CHECK(bits(0, 59, 5) == parse_cases[1].want.minute);
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        cron_expr_t e;
        char err[200] = "";
        int rc = cron_parse(c->text, &e, err, sizeof(err));
        if (rc != 0 || !expr_equal(&e, &c->want)) {
            fprintf(stderr,
                    "  \"%s\": rc %d %s\n    got  %016llx %06x %08x %04x %02x %d\n"
                    "    want %016llx %06x %08x %04x %02x %d\n",
                    c->text, rc, err, (unsigned long long)e.minute, e.hour, e.dom, e.month, e.dow,
                    e.day_rule, (unsigned long long)c->want.minute, c->want.hour, c->want.dom,
                    c->want.month, c->want.dow, c->want.day_rule);
            test_cur_failed++;
        }
    }
}

static const struct refusal {
    const char *text, *message;
} refusals[] = {
    {"", "cron: empty expression (expected 5 fields: minute hour day-of-month month "
         "day-of-week)"},
    {" \t ", "cron: empty expression (expected 5 fields: minute hour day-of-month month "
             "day-of-week)"},
    {"* * * *", "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 4"},
    {"* * * * * *", "cron: expected 5 fields (minute hour day-of-month month day-of-week), got 6"},
    {"61 * * * *", "cron: minute field: 61 is out of range 0-59"},
    {"60 * * * *", "cron: minute field: 60 is out of range 0-59"},
    {"* 24 * * *", "cron: hour field: 24 is out of range 0-23"},
    {"* * 0 * *", "cron: day-of-month field: 0 is out of range 1-31"},
    {"* * 32 * *", "cron: day-of-month field: 32 is out of range 1-31"},
    {"* * * 0 *", "cron: month field: 0 is out of range 1-12"},
    {"* * * 13 *", "cron: month field: 13 is out of range 1-12"},
    {"* * * * 8", "cron: day-of-week field: 8 is out of range 0-7"},
    {"1-60 * * * *", "cron: minute field: 60 is out of range 0-59"},
    {"99999999999999999999999999999 * * * *",
     "cron: minute field: 99999999999999999999999999999 is out of range 0-59"},
    {"20-10 * * * *", "cron: minute field: range 20-10 is reversed"},
    {"* * * * FRI-MON", "cron: day-of-week field: range FRI-MON is reversed"},
    {"* * * * 7-1", "cron: day-of-week field: range 7-1 is reversed"},
    {"*/0 * * * *", "cron: minute field: step 0 is out of range 1-59"},
    {"* 1-5/00 * * *", "cron: hour field: step 00 is out of range 1-23"},
    {"*/60 * * * *", "cron: minute field: step 60 is out of range 1-59"},
    {"* * * * */8", "cron: day-of-week field: step 8 is out of range 1-7"},
    {"* * * */MAR *", "cron: month field: step 'MAR' is not a number"},
    {"1,,2 * * * *", "cron: minute field: empty item in '1,,2'"},
    {"1, * * * *", "cron: minute field: empty item in '1,'"},
    {"* ,1 * * *", "cron: hour field: empty item in ',1'"},
    {"5- * * * *", "cron: minute field: '5-' is incomplete"},
    {"5-,7 * * * *", "cron: minute field: '5-' is incomplete"},
    {"*/ * * * *", "cron: minute field: '*/' is incomplete"},
    {"1x * * * *", "cron: minute field: unexpected 'x' in '1x'"},
    {"*-5 * * * *", "cron: minute field: unexpected '-' in '*-5'"},
    {"1-2-3 * * * *", "cron: minute field: unexpected '-' in '1-2-3'"},
    {"*/5/2 * * * *", "cron: minute field: unexpected '/' in '*/5/2'"},
    {"-1 * * * *", "cron: minute field: unexpected '-' in '-1'"},
    {"** * * * *", "cron: minute field: unexpected '*' in '**'"},
    {"1;2 * * * *", "cron: minute field: unexpected ';' in '1;2'"},
    {"0 0 * * *\n", "cron: day-of-week field: unexpected '\\x0a' in '*\\x0a'"},
    {"0 0 * * \xc3\xa9", "cron: day-of-week field: unexpected '\\xc3' in '\\xc3\\xa9'"},
    {"0 0 ? * *", "cron: day-of-month field: unexpected '?' in '?'"},
    {"MON * * * *", "cron: minute field: 'MON' is not a number"},
    {"* * * JANUARY *", "cron: month field: unknown name 'JANUARY' (JAN-DEC)"},
    {"* * * MON *", "cron: month field: unknown name 'MON' (JAN-DEC)"},
    {"* * * * SU", "cron: day-of-week field: unknown name 'SU' (SUN-SAT)"},
    {"@reboot", "cron: unknown macro '@reboot' (known: @yearly @annually @monthly @weekly "
                "@daily @midnight @hourly)"},
    {"@", "cron: unknown macro '@' (known: @yearly @annually @monthly @weekly @daily "
          "@midnight @hourly)"},
    {"@daily 5", "cron: @daily stands alone, without other fields"},
    {"0 @daily * * *", "cron: hour field: unexpected '@' in '@daily'"},
};

TEST(parse_refuses_with_a_message)
{
    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        const struct refusal *c = &refusals[i];
        cron_expr_t e, before;
        memset(&e, 0xa5, sizeof(e));
        before = e;
        char err[300] = "unchanged";
        int rc = cron_parse(c->text, &e, err, sizeof(err));
        if (rc != -1 || strcmp(err, c->message) != 0 || memcmp(&e, &before, sizeof(e)) != 0) {
            fprintf(stderr, "  \"%s\": rc %d\n    got  %s\n    want %s\n", c->text, rc, err,
                    c->message);
            test_cur_failed++;
        }
    }
}

/* CRON_TEXT_MAX bytes are read, one more refused; a NULL text or no room for the message is
 * no crash; a short buffer gets the start of the message, terminated. */
TEST(parse_limits)
{
    char text[CRON_TEXT_MAX + 2], err[100];
    cron_expr_t e;
    memset(text, ' ', sizeof(text));
    memcpy(text, "0 0 * * *", 9);
    text[CRON_TEXT_MAX] = '\0';
    CHECK(cron_parse(text, &e, err, sizeof(err)) == 0);
    text[CRON_TEXT_MAX] = ' ';
    text[CRON_TEXT_MAX + 1] = '\0';
    CHECK(cron_parse(text, &e, err, sizeof(err)) == -1);
    CHECK_STR(err, "cron: expression longer than 256 bytes");

    /* a long list, all of it values: the cap is on bytes, not items */
    char list[CRON_TEXT_MAX + 1] = "0";
    while (strlen(list) + 2 + 8 <= CRON_TEXT_MAX)
        strcat(list, ",0");
    strcat(list, " * * * *");
    CHECK(cron_parse(list, &e, err, sizeof(err)) == 0 && e.minute == 1);

    CHECK(cron_parse(NULL, &e, err, sizeof(err)) == -1);
    CHECK_STR(err, "cron: no expression");
    CHECK(cron_parse("61 * * * *", &e, NULL, 0) == -1);
    CHECK(cron_parse("61 * * * *", &e, err, 0) == -1);
    char small[12];
    CHECK(cron_parse("61 * * * *", &e, small, sizeof(small)) == -1);
    CHECK_STR(small, "cron: minut");
    CHECK(cron_parse("61 * * * *", &e, small, 3) == -1);
    CHECK_STR(small, "cr");
}

/* ---- cron_next: fixed cases ------------------------------------------------------------ */

TEST(next_every_few_minutes)
{
    CHECK_NEXT("* * * * *", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 0, 1));
    CHECK_NEXT("* * * * *", at(2024, 1, 1, 0, 0) + 1, at(2024, 1, 1, 0, 1));
    CHECK_NEXT("* * * * *", at(2024, 1, 1, 0, 0) - 1, at(2024, 1, 1, 0, 0));
    CHECK_NEXT("*/5 * * * *", at(2024, 1, 1, 0, 0), at(2024, 1, 1, 0, 5));
    CHECK_NEXT("*/5 * * * *", at(2024, 1, 1, 0, 4) + 59999, at(2024, 1, 1, 0, 5));
    CHECK_NEXT("*/5 * * * *", at(2024, 1, 1, 0, 5), at(2024, 1, 1, 0, 10));
    CHECK_NEXT("*/5 * * * *", at(2024, 1, 1, 10, 57), at(2024, 1, 1, 11, 0));
    CHECK_NEXT("*/5 * * * *", at(2023, 12, 31, 23, 58), at(2024, 1, 1, 0, 0));
    CHECK_NEXT("10-50/20 * * * *", at(2024, 1, 1, 0, 50), at(2024, 1, 1, 1, 10));
    CHECK_NEXT("5/15 * * * *", at(2024, 1, 1, 0, 50), at(2024, 1, 1, 1, 5));
}

TEST(next_hourly_and_daily)
{
    CHECK_NEXT("@hourly", at(2024, 1, 1, 10, 0), at(2024, 1, 1, 11, 0));
    CHECK_NEXT("@hourly", at(2024, 1, 1, 10, 0) - 1, at(2024, 1, 1, 10, 0));
    CHECK_NEXT("@hourly", at(2024, 2, 29, 23, 30), at(2024, 3, 1, 0, 0));
    CHECK_NEXT("30 9 * * *", at(2024, 1, 1, 9, 30), at(2024, 1, 2, 9, 30));
    CHECK_NEXT("30 9 * * *", at(2024, 1, 1, 9, 29), at(2024, 1, 1, 9, 30));
    CHECK_NEXT("15 9-17/4 * * *", at(2024, 1, 1, 17, 15), at(2024, 1, 2, 9, 15));
    CHECK_NEXT("0,59 8,23 * * *", at(2024, 1, 1, 8, 59), at(2024, 1, 1, 23, 0));
    CHECK_NEXT("@daily", at(2024, 12, 31, 0, 0), at(2025, 1, 1, 0, 0));
    CHECK_NEXT("@midnight", at(2024, 12, 31, 0, 0) - 1, at(2024, 12, 31, 0, 0));
}

/* Months of 28, 29, 30 and 31 days, and the turn of the year. */
TEST(next_across_month_and_year_ends)
{
    CHECK_NEXT("0 0 31 * *", at(2024, 1, 31, 0, 0), at(2024, 3, 31, 0, 0));
    CHECK_NEXT("0 0 31 * *", at(2024, 5, 31, 0, 0), at(2024, 7, 31, 0, 0));
    CHECK_NEXT("0 0 30 * *", at(2024, 1, 30, 0, 0), at(2024, 3, 30, 0, 0));
    CHECK_NEXT("0 0 30 * *", at(2023, 1, 30, 0, 0), at(2023, 3, 30, 0, 0));
    CHECK_NEXT("0 0 29 * *", at(2023, 1, 29, 0, 0), at(2023, 3, 29, 0, 0));
    CHECK_NEXT("0 0 29 * *", at(2024, 1, 29, 0, 0), at(2024, 2, 29, 0, 0));
    CHECK_NEXT("0 0 1 * *", at(2024, 2, 29, 23, 59), at(2024, 3, 1, 0, 0));
    CHECK_NEXT("@monthly", at(2024, 12, 1, 0, 0), at(2025, 1, 1, 0, 0));
    CHECK_NEXT("59 23 31 12 *", at(2024, 12, 31, 23, 59), at(2025, 12, 31, 23, 59));
    CHECK_NEXT("59 23 31 12 *", at(2024, 12, 31, 23, 58), at(2024, 12, 31, 23, 59));
    CHECK_NEXT("@yearly", at(2024, 6, 1, 0, 0), at(2025, 1, 1, 0, 0));
    CHECK_NEXT("@yearly", at(2025, 1, 1, 0, 0), at(2026, 1, 1, 0, 0));
    CHECK_NEXT("0 0 * JAN,JUL *", at(2024, 1, 31, 0, 0), at(2024, 7, 1, 0, 0));
    CHECK_NEXT("0 0 * NOV *", at(2024, 11, 30, 0, 0), at(2025, 11, 1, 0, 0));
}

/* 29 February: every fourth year, but not in 1900 or 2100, and in 2000. */
TEST(next_leap_days)
{
    CHECK_NEXT("0 0 29 2 *", at(2024, 2, 29, 0, 0), at(2028, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 *", at(2024, 2, 28, 23, 59), at(2024, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 *", at(2025, 3, 1, 0, 0), at(2028, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 *", at(1999, 6, 1, 0, 0), at(2000, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 *", at(2096, 2, 29, 0, 0), at(2104, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 *", at(1896, 3, 1, 0, 0), at(1904, 2, 29, 0, 0));
    CHECK_NEXT("0 0 28 2 *", at(2100, 2, 28, 0, 0), at(2101, 2, 28, 0, 0));
    CHECK_NEXT("0 0 1 3 *", at(2100, 2, 28, 12, 0), at(2100, 3, 1, 0, 0));
    CHECK_NEXT("0 0 1 3 *", at(2000, 2, 28, 12, 0), at(2000, 3, 1, 0, 0));
    /* 29 February on a Sunday: rare (2032, then 2060), not never */
    CHECK_NEXT("0 0 29 2 */7", at(2024, 3, 1, 0, 0), at(2032, 2, 29, 0, 0));
    CHECK_NEXT("0 0 29 2 */7", at(2032, 2, 29, 0, 0), at(2060, 2, 29, 0, 0));
}

/* Both day fields restricted: either fires; one starting with "*": both must. */
TEST(next_vixie_day_rule)
{
    /* 2024-01-09 is a Tuesday, 01-10 a Wednesday, 01-15 a Monday */
    CHECK_NEXT("0 0 10 * 1", at(2024, 1, 9, 0, 0), at(2024, 1, 10, 0, 0));
    CHECK_NEXT("0 0 10 * 1", at(2024, 1, 10, 0, 0), at(2024, 1, 15, 0, 0));
    CHECK_NEXT("0 0 10 * MON", at(2024, 1, 29, 0, 0), at(2024, 2, 5, 0, 0));
    CHECK_NEXT("0 0 13 * FRI", at(2024, 9, 1, 0, 0), at(2024, 9, 6, 0, 0));
    CHECK_NEXT("0 0 13 * FRI", at(2024, 9, 6, 0, 0), at(2024, 9, 13, 0, 0));
    /* either rule, but no 30 February: the Mondays of February only */
    CHECK_NEXT("0 0 30 2 MON", at(2024, 2, 26, 0, 0), at(2025, 2, 3, 0, 0));
    CHECK_NEXT("0 0 15 2 WED", at(2023, 2, 22, 0, 0), at(2024, 2, 7, 0, 0));
    /* day-of-week "*\/7" (Sunday) starts with "*": the 10th that is a Sunday, 2024-03-10 */
    CHECK_NEXT("0 0 10 * */7", at(2024, 1, 1, 0, 0), at(2024, 3, 10, 0, 0));
    /* day-of-month "*\/2" (odd days): odd days that are Mondays; 2024-01-01 is one, 01-15 too */
    CHECK_NEXT("0 0 */2 * 1", at(2024, 1, 1, 0, 0), at(2024, 1, 15, 0, 0));
    CHECK_NEXT("0 0 * * 1", at(2024, 1, 1, 0, 0), at(2024, 1, 8, 0, 0));
    CHECK_NEXT("0 0 1 * *", at(2024, 1, 1, 0, 0), at(2024, 2, 1, 0, 0));
}

/* @weekly is Sunday midnight, and day-of-week 7 is Sunday as 0 is. */
TEST(next_weekly_and_sunday_as_7)
{
    CHECK_NEXT("@weekly", at(2024, 1, 3, 12, 0), at(2024, 1, 7, 0, 0));
    CHECK_NEXT("@weekly", at(2024, 1, 7, 0, 0), at(2024, 1, 14, 0, 0));
    CHECK_NEXT("0 0 * * 7", at(2024, 1, 3, 12, 0), at(2024, 1, 7, 0, 0));
    CHECK_NEXT("0 0 * * 0", at(2024, 1, 3, 12, 0), at(2024, 1, 7, 0, 0));
    CHECK_NEXT("0 0 * * SUN", at(2024, 1, 3, 12, 0), at(2024, 1, 7, 0, 0));
    CHECK_NEXT("0 0 * * 6-7", at(2024, 1, 3, 12, 0), at(2024, 1, 6, 0, 0));
    CHECK_NEXT("0 0 * * 6-7", at(2024, 1, 6, 0, 0), at(2024, 1, 7, 0, 0));
    CHECK_NEXT("0 0 * * 6-7", at(2024, 1, 7, 0, 0), at(2024, 1, 13, 0, 0));
    CHECK_NEXT("0 12 * * mon-fri", at(2024, 1, 5, 12, 0), at(2024, 1, 8, 12, 0));
}

/* A day that never comes is -1 (the search covers a whole 400-year cycle), and so is a start
 * outside CRON_MS_MIN..CRON_MS_MAX; before 1970 counts like after. */
TEST(next_never_and_the_edges_of_time)
{
    CHECK_NEXT("0 0 30 2 *", at(2024, 1, 1, 0, 0), -1);
    CHECK_NEXT("0 0 31 4,6,9,11 *", at(2024, 1, 1, 0, 0), -1);
    /* the 1st, 8th, 15th, 22nd or 29th that is a Sunday: none until September */
    CHECK_NEXT("0 0 */7 * */7", at(2024, 1, 1, 0, 0), at(2024, 9, 1, 0, 0));
    CHECK_NEXT("* * * * *", -1, 0);
    CHECK_NEXT("* * * * *", -60000, 0);
    CHECK_NEXT("* * * * *", -60001, -60000);
    CHECK_NEXT("0 0 29 2 *", at(1969, 1, 1, 0, 0), at(1972, 2, 29, 0, 0));
    CHECK_NEXT("* * * * *", CRON_MS_MIN, CRON_MS_MIN + 60000);
    CHECK_NEXT("* * * * *", CRON_MS_MIN - 1, -1);
    CHECK_NEXT("* * * * *", CRON_MS_MAX, CRON_MS_MAX + 1);
    CHECK_NEXT("* * * * *", CRON_MS_MAX + 1, -1);
    CHECK_NEXT("* * * * *", INT64_MAX, -1);
    CHECK_NEXT("* * * * *", INT64_MIN, -1);
    CHECK_NEXT("0 0 29 2 *", CRON_MS_MAX, at(10000, 2, 29, 0, 0));
    CHECK(cron_next(NULL, 0) == -1);
}

/* An expression built by hand rather than parsed: bits outside a field's range are ignored, so
 * a set with none inside never fires (and reads no table out of bounds). */
TEST(next_reads_only_valid_bits)
{
    cron_expr_t all = {ALL_MINUTES, ALL_HOURS, ALL_DOMS, ALL_MONTHS, ALL_DOWS, CRON_DAYS_BOTH};
    int64_t from = at(2024, 12, 31, 23, 59);
    CHECK(cron_next(&all, from) == at(2025, 1, 1, 0, 0));
    cron_expr_t e = all;
    e.minute = ~ALL_MINUTES;
    CHECK(cron_next(&e, from) == -1);
    e = all;
    e.hour = ~ALL_HOURS;
    CHECK(cron_next(&e, from) == -1);
    e = all;
    e.month = (uint16_t)~ALL_MONTHS;
    CHECK(cron_next(&e, from) == -1);
    e = all;
    e.dom = 1; /* day 0 */
    CHECK(cron_next(&e, from) == -1);
    e = all;
    e.dow = 0x80;
    CHECK(cron_next(&e, from) == -1);
}

/* ---- cron_next: the property test ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static int rnd_in(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* What an expression means, as this test builds it: the sets, independent of host/cron.c. */
typedef struct {
    uint64_t set[5];
    int star[5];
} model_t;

static const char *const model_months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const model_days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
static const struct {
    int min, max;
    const char *const *names;
    int nnames;
} model_fields[5] = {
    {0, 59, NULL, 0},          {0, 23, NULL, 0},      {1, 31, NULL, 0},
    {1, 12, model_months, 12}, {0, 7, model_days, 7},
};

/* A value of field f as text: a number (with a leading zero now and then), or its name in a
 * random case. */
static void put_value(char *out, int f, int v)
{
    char *end = out + strlen(out);
    if (v - model_fields[f].min < model_fields[f].nnames && rnd() % 3 == 0) {
        const char *name = model_fields[f].names[v - model_fields[f].min];
        for (int i = 0; i < 3; i++)
            end[i] = rnd() % 2 ? (char)(name[i] - 'a' + 'A') : name[i];
        end[3] = '\0';
    } else {
        sprintf(end, rnd() % 8 == 0 ? "0%d" : "%d", v);
    }
}

/* One random field: its text appended to out, its set and star flag into m. Day and month
 * fields are often "*", so that most expressions fire within weeks. */
static void gen_field(model_t *m, int f, char *out)
{
    static const int short_months[] = {2, 4, 6, 9, 11};
    int min = model_fields[f].min, max = model_fields[f].max;
    /* where single values and ranges come from: now and then only days that some months lack
     * (29-31), or one month that lacks some, for expressions that fire rarely or never */
    int pick_lo = min, pick_hi = max, rare = (f == 2 || f == 3) && rnd() % 8 == 0;
    if (rare && f == 2)
        pick_lo = 29;
    if (rare && f == 3)
        pick_lo = pick_hi = short_months[rnd_in(0, 4)];
    int items = rare ? rnd_in(1, 2) : f >= 2 && rnd() % 2 ? 0 : rnd_in(1, 3);
    m->set[f] = 0;
    m->star[f] = 0;
    if (items == 0) {
        strcat(out, "*");
        m->star[f] = 1;
        m->set[f] = ~0ull;
    }
    for (int i = 0; i < items; i++) {
        int kind = rare ? rnd_in(2, 4) : rnd_in(0, 5), lo = rnd_in(pick_lo, pick_hi),
            hi = rnd_in(lo, pick_hi), step = 1;
        if (i > 0)
            strcat(out, ",");
        switch (kind) {
        case 0: /* * */
            lo = min, hi = max;
            strcat(out, "*");
            break;
        case 1: /* *\/n */
            lo = min, hi = max, step = rnd_in(1, max);
            sprintf(out + strlen(out), "*/%d", step);
            break;
        case 2: /* a */
            hi = lo;
            put_value(out, f, lo);
            break;
        case 3: /* a-b */
        case 4: /* a-b/n */
            put_value(out, f, lo);
            strcat(out, "-");
            put_value(out, f, hi);
            if (kind == 4) {
                step = rnd_in(1, max);
                sprintf(out + strlen(out), "/%d", step);
            }
            break;
        case 5: /* a/n: a to the top */
            hi = max, step = rnd_in(1, max);
            put_value(out, f, lo);
            sprintf(out + strlen(out), "/%d", step);
            break;
        }
        if (i == 0 && kind <= 1)
            m->star[f] = 1;
        for (int v = lo; v <= hi; v += step)
            m->set[f] |= 1ull << v;
    }
    uint64_t all = 0;
    for (int v = min; v <= max; v++)
        all |= 1ull << v;
    m->set[f] &= all;
    if (f == 4) /* Sunday is 0 and 7 */
        m->set[f] = (m->set[f] | m->set[f] >> 7) & 0x7f;
}

static int model_day_fires(const model_t *m, const struct tm *tm)
{
    int dom = m->set[2] >> tm->tm_mday & 1, dow = m->set[4] >> tm->tm_wday & 1;
    if (!(m->set[3] >> (tm->tm_mon + 1) & 1))
        return 0;
    return m->star[2] || m->star[4] ? dom && dow : dom || dow;
}

static void gmtime_minute(int64_t minute, struct tm *tm)
{
    time_t t = (time_t)(minute * 60);
    gmtime_r(&t, tm);
}

/* The reference: the first minute after after_ms that fires, walking minute by minute on days
 * that fire and a day at a time on days that do not, for up to 401 years; -1 if none. */
static int64_t model_next(const model_t *m, int64_t after_ms)
{
    int64_t minute = after_ms / 60000 - (after_ms % 60000 < 0) + 1;
    int64_t end = minute + 401LL * 366 * 1440;
    struct tm tm;
    while (minute < end) {
        gmtime_minute(minute, &tm);
        if (!model_day_fires(m, &tm)) {
            minute += 1440 - (tm.tm_hour * 60 + tm.tm_min);
            continue;
        }
        if (m->set[1] >> tm.tm_hour & 1 && m->set[0] >> tm.tm_min & 1)
            return minute * 60000;
        minute++;
    }
    return -1;
}

/* A start time: anywhere in 1900-2200, or in the last minutes of a month (often February, often
 * around 1900, 2000 and 2100), or in the last minutes of a year. */
static int64_t random_start(void)
{
    int y = rnd() % 2 ? rnd_in(1896, 2404) : rnd_in(0, 3) * 100 + 1896 + rnd_in(0, 8);
    int64_t jitter = (int64_t)(rnd() % (15 * 60000));
    switch (rnd() % 4) {
    case 0:
        return at(1900, 1, 1, 0, 0) +
               (int64_t)(rnd() % (uint64_t)(at(2200, 1, 1, 0, 0) - at(1900, 1, 1, 0, 0)));
    case 1: /* a month's last 15 minutes */
        return at(y, rnd_in(1, 12), 1, 0, 0) - jitter;
    case 2:
        return at(y, 3, 1, 0, 0) - jitter;
    default:
        return at(y + 1, 1, 1, 0, 0) - jitter;
    }
}

static int cases_differ(const char *text, const model_t *m, const cron_expr_t *e, int64_t from)
{
    char a[96], b[96], c[96];
    int64_t got = cron_next(e, from), want = model_next(m, from);
    if (got == want && (got == -1 || (got % 60000 == 0 && got > from)))
        return 0;
    fprintf(stderr, "  \"%s\" after %s: got %s, want %s\n", text, iso(from, a, sizeof(a)),
            iso(got, b, sizeof(b)), iso(want, c, sizeof(c)));
    return 1;
}

TEST(next_matches_a_minute_by_minute_reference)
{
    int failures = 0, never = 0;
    for (int i = 0; i < 3000 && failures < 10; i++) {
        model_t m;
        char text[CRON_TEXT_MAX + 1] = "", err[200];
        for (int f = 0; f < 5; f++) {
            if (f > 0)
                strcat(text, rnd() % 4 ? " " : " \t ");
            gen_field(&m, f, text);
        }
        cron_expr_t e;
        if (cron_parse(text, &e, err, sizeof(err)) != 0) {
            fprintf(stderr, "  \"%s\" refused: %s\n", text, err);
            failures++;
            continue;
        }
        uint64_t want_dom = m.set[2] & 0xfffffffeu, want_month = m.set[3] & 0x1ffe;
        int want_rule = m.star[2] || m.star[4] ? CRON_DAYS_BOTH : CRON_DAYS_EITHER;
        if (e.minute != m.set[0] || e.hour != m.set[1] || e.dom != want_dom ||
            e.month != want_month || e.dow != m.set[4] || e.day_rule != want_rule) {
            fprintf(stderr, "  \"%s\" read as other sets\n", text);
            failures++;
            continue;
        }
        /* from a random start, then from the time found (strictly after it) */
        int64_t from = random_start();
        failures += cases_differ(text, &m, &e, from);
        int64_t next = cron_next(&e, from);
        if (next == -1)
            never++;
        else
            failures += cases_differ(text, &m, &e, next);
    }
    fprintf(stderr, "  (%d expressions that never fire)\n", never);
    CHECK(failures == 0);
}

int main(void)
{
    const char *seed = getenv("SPEEZY_CRON_SEED");
    rng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) * 2654435761u + 1;
    fprintf(stderr, "seed %llu (SPEEZY_CRON_SEED replays it)\n", (unsigned long long)rng_state);
    RUN(parse_reads_the_sets);
    RUN(parse_refuses_with_a_message);
    RUN(parse_limits);
    RUN(next_every_few_minutes);
    RUN(next_hourly_and_daily);
    RUN(next_across_month_and_year_ends);
    RUN(next_leap_days);
    RUN(next_vixie_day_rule);
    RUN(next_weekly_and_sunday_as_7);
    RUN(next_never_and_the_edges_of_time);
    RUN(next_reads_only_valid_bits);
    RUN(next_matches_a_minute_by_minute_reference);
    return test_summary();
}
