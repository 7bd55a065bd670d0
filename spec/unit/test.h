/* test.h — the C unit tests' whole framework: checks that count, and one summary line.
 *
 *   TEST(name) { CHECK(x == 1); CHECK_STR(a, "b"); }
 *   int main(void) { RUN(name); return test_summary(); }
 *
 * A test "passes" when none of its checks failed; the last line is "N passed, N failed",
 * which spec/run adds up, and the exit code is non-zero on any failure. */
#ifndef SPEEZY_TEST_H
#define SPEEZY_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_passed, test_failed, test_cur_failed;

#define TEST(name) static void name(void)
#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "  check failed %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
            test_cur_failed++;                                                                     \
        }                                                                                          \
    } while (0)
#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                                   \
            fprintf(stderr, "  check failed %s:%d: \"%s\" != \"%s\"\n", __FILE__, __LINE__,        \
                    a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                       \
            test_cur_failed++;                                                                     \
        }                                                                                          \
    } while (0)
#define RUN(name)                                                                                  \
    do {                                                                                           \
        test_cur_failed = 0;                                                                       \
        name();                                                                                    \
        if (test_cur_failed) {                                                                     \
            test_failed++;                                                                         \
            fprintf(stderr, "FAIL %s\n", #name);                                                   \
        } else {                                                                                   \
            test_passed++;                                                                         \
            fprintf(stderr, "ok   %s\n", #name);                                                   \
        }                                                                                          \
    } while (0)

/* How much longer the waits and deadlines of a test that races I/O against timers should be:
 * SPEEZY_TEST_TIME_SCALE (spec/tools/valgrind.sh sets it: memcheck runs 20 to 50 times
 * slower), 1 by default. */
static inline unsigned test_time_scale(void)
{
    const char *s = getenv("SPEEZY_TEST_TIME_SCALE");
    long v = s ? strtol(s, NULL, 10) : 1;
    return v >= 1 && v <= 1000 ? (unsigned)v : 1;
}

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
