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

static inline int test_summary(void)
{
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
