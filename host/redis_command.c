/* redis_command.c — what a command is, from its words alone: the class that decides which
 * connection may carry it (redis_command_class) and how long the server may rightly keep a
 * blocking one waiting (redis_command_block_ms). No I/O: the client in redis.c asks. */
#include "redis.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && strncasecmp(s, word, n) == 0;
}

static int word_in(const char *s, size_t n, const char *const *words)
{
    for (; *words; words++)
        if (word_is(s, n, *words))
            return 1;
    return 0;
}

/* XREAD [COUNT n] [BLOCK ms] STREAMS ... and XREADGROUP GROUP g c [COUNT n] [BLOCK ms]
 * [NOACK] STREAMS ...: the index of BLOCK's value, or 0. Options are walked with their values,
 * so that a group named STREAMS or a consumer named BLOCK is not taken for an option. */
static int stream_block_arg(int argc, const char **argv, const size_t *len)
{
    int i = 1;
    while (i < argc) {
        if (word_is(argv[i], len[i], "BLOCK"))
            return i + 1 < argc ? i + 1 : 0;
        if (word_is(argv[i], len[i], "GROUP"))
            i += 3;
        else if (word_is(argv[i], len[i], "COUNT"))
            i += 2;
        else if (word_is(argv[i], len[i], "NOACK"))
            i += 1;
        else
            return 0; /* STREAMS, or a syntax error the server will report */
    }
    return 0;
}

redis_class_t redis_command_class(int argc, const char **argv, const size_t *len)
{
    static const char *const blocking[] = {"BLPOP",  "BRPOP",    "BLMOVE",   "BRPOPLPUSH",
                                           "BLMPOP", "BZPOPMIN", "BZPOPMAX", "BZMPOP",
                                           "WAIT",   "WAITAOF",  NULL};
    static const char *const tx[] = {"MULTI", "EXEC", "DISCARD", NULL};
    static const char *const forbidden[] = {
        "SUBSCRIBE",    "PSUBSCRIBE", "SSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE",
        "SUNSUBSCRIBE", "MONITOR",    "SELECT",     "AUTH",        "HELLO",
        "QUIT",         "RESET",      "SYNC",       "PSYNC",       "WATCH",
        "UNWATCH",      NULL};
    if (argc < 1)
        return REDIS_CLASS_FORBIDDEN;
    const char *cmd = argv[0];
    size_t n = len[0];
    if (word_in(cmd, n, blocking))
        return REDIS_CLASS_BLOCKING;
    if ((word_is(cmd, n, "XREAD") || word_is(cmd, n, "XREADGROUP")) &&
        stream_block_arg(argc, argv, len))
        return REDIS_CLASS_BLOCKING;
    if (word_in(cmd, n, tx))
        return REDIS_CLASS_TX;
    if (word_in(cmd, n, forbidden))
        return REDIS_CLASS_FORBIDDEN;
    /* With replies switched off, later replies would be matched to the wrong callbacks. */
    if (word_is(cmd, n, "CLIENT") && argc > 1 && word_is(argv[1], len[1], "REPLY"))
        return REDIS_CLASS_FORBIDDEN;
    return REDIS_CLASS_PLAIN;
}

/* argv[i] as a number of units of unit_ms, in ms; REDIS_BLOCK_FOREVER for 0 (wait for data) and
 * for what is not a number (the server will refuse it). */
static uint64_t block_arg_ms(const char **argv, const size_t *len, int i, double unit_ms)
{
    char buf[32];
    if (len[i] == 0 || len[i] >= sizeof(buf))
        return REDIS_BLOCK_FOREVER;
    memcpy(buf, argv[i], len[i]);
    buf[len[i]] = '\0';
    char *end;
    double v = strtod(buf, &end) * unit_ms;
    if (*end != '\0' || !(v > 0) || v > 1e15)
        return REDIS_BLOCK_FOREVER;
    return (uint64_t)ceil(v);
}

uint64_t redis_command_block_ms(int argc, const char **argv, const size_t *len)
{
    const char *cmd = argv[0];
    size_t n = len[0];
    if (word_is(cmd, n, "XREAD") || word_is(cmd, n, "XREADGROUP")) {
        int i = stream_block_arg(argc, argv, len);
        return i ? block_arg_ms(argv, len, i, 1) : REDIS_BLOCK_FOREVER;
    }
    if (word_is(cmd, n, "WAIT"))
        return argc > 2 ? block_arg_ms(argv, len, 2, 1) : REDIS_BLOCK_FOREVER;
    if (word_is(cmd, n, "WAITAOF"))
        return argc > 3 ? block_arg_ms(argv, len, 3, 1) : REDIS_BLOCK_FOREVER;
    if (word_is(cmd, n, "BLMPOP") || word_is(cmd, n, "BZMPOP"))
        return argc > 1 ? block_arg_ms(argv, len, 1, 1000) : REDIS_BLOCK_FOREVER;
    return argc > 1 ? block_arg_ms(argv, len, argc - 1, 1000) : REDIS_BLOCK_FOREVER;
}
