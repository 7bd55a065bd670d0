/* fuzz.h — what every harness shares: PROMISE(cond) for the behaviour a harness checks
 * beyond the sanitizers. */
#ifndef SPEEZY_FUZZ_H
#define SPEEZY_FUZZ_H

#include <stdio.h>

/* A broken promise names itself on stderr, then traps: libFuzzer keeps the input as a crash
 * artifact (spec/fuzz/run.sh says how to add it to the corpus). */
#define PROMISE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: broken promise: %s\n", __FILE__, __LINE__, #cond);             \
            __builtin_trap();                                                                      \
        }                                                                                          \
    } while (0)

#endif
