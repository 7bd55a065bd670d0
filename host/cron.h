/* cron.h — cron expressions for queue.schedule(name, { cron = "*\/5 * * * *" }, data): a parser
 * for the classic five fields and the search for the next minute they fire. Pure C: no Lua, no
 * libuv, no clock of its own (the caller passes the time).
 *
 * Every time is UTC: "0 9 * * *" fires at 09:00 UTC whatever the machine's time zone is.
 *
 * The grammar, Vixie cron's:
 *   minute hour day-of-month month day-of-week     separated by spaces or tabs
 *     minute 0-59, hour 0-23, day-of-month 1-31, month 1-12 or JAN-DEC,
 *     day-of-week 0-7 or SUN-SAT (0 and 7 are both Sunday); names in any case
 *   each field a comma list of items, each item one of
 *     *          every value of the field
 *     5          one value
 *     10-50      a range, low to high (a reversed range is refused)
 *   followed by an optional step /n (1 to the field's highest value):
 *     *\/15  every 15th value from the lowest;  10-50/10  10,20,...,50;
 *     5/15   from 5 to the field's highest value: 5,20,35,50 for minutes
 *   or a whole expression that is one macro:
 *     @yearly = @annually "0 0 1 1 *", @monthly "0 0 1 * *", @weekly "0 0 * * 0",
 *     @daily = @midnight "0 0 * * *", @hourly "0 * * * *"
 * Day-of-week's highest value is 7, so "1/2" there is Monday, Wednesday, Friday and Sunday.
 *
 * The day rule, Vixie's: when day-of-month and day-of-week are both restricted, a day fires
 * if EITHER matches ("0 0 13 * 5": every 13th and every Friday); when one of them is
 * unrestricted, both must. As in Vixie cron, a field counts as unrestricted when it starts
 * with "*": "0 0 *\/2 * 1" fires on Mondays that fall on odd days of the month.
 *
 * Refused, with a message naming the field and the token: a field count other than five,
 * empty items ("1,,2"), values out of range, reversed ranges, step 0, any other character,
 * a text longer than CRON_TEXT_MAX bytes. */
#ifndef SPEEZY_CRON_H
#define SPEEZY_CRON_H

#include <stddef.h>
#include <stdint.h>

#define CRON_TEXT_MAX 256 /* bytes of an expression, spaces included */

/* The range of times cron_next reads: 0001-01-01T00:00Z to 9999-12-31T23:59:59.999Z. */
#define CRON_MS_MIN (-62135596800000LL)
#define CRON_MS_MAX 253402300799999LL

/* How day-of-month and day-of-week combine (see above). */
enum cron_day_rule {
    CRON_DAYS_BOTH,   /* one of them starts with "*": a day must match both */
    CRON_DAYS_EITHER, /* both restricted: a day matches if either does */
};

/* A parsed expression: one bit per value that fires. */
typedef struct cron_expr {
    uint64_t minute;  /* bit m: minute m, 0-59 */
    uint32_t hour;    /* bit h: hour h, 0-23 */
    uint32_t dom;     /* bit d: day of the month d, 1-31 */
    uint16_t month;   /* bit m: month m, 1-12 */
    uint8_t dow;      /* bit d: day of the week d, 0-6, 0 = Sunday (a 7 is stored as 0) */
    uint8_t day_rule; /* enum cron_day_rule */
} cron_expr_t;

/* Parses text (a C string). 0 and *out filled; or -1, *out untouched, and err (when errlen > 0)
 * holds a message such as "cron: minute field: 61 is out of range 0-59". */
int cron_parse(const char *text, cron_expr_t *out, char *err, size_t errlen);

/* The first time the expression fires strictly after after_ms, in ms since the epoch, on a
 * whole minute. -1 when it never fires (30 February; the search covers 400 years, after which
 * the Gregorian calendar, weekdays included, repeats, so -1 means never, not "not soon"), or
 * when after_ms is outside CRON_MS_MIN..CRON_MS_MAX. It skips whole months and days, never
 * walks minute by minute: at most one step per month of the 400 years, well under a microsecond
 * for a common expression, tens of microseconds for one that never fires. */
int64_t cron_next(const cron_expr_t *e, int64_t after_ms);

#endif
