/* test_config.c — each numeric setting's default is written once (config.c's table): the
 * README documents that value, and the cores (pg, redis) fall back to it when their caller
 * leaves an option at 0. */
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "config.h"
#include "pg.h"
#include "test.h"

/* The clone's root, from this file's path as the compiler saw it (spec/unit/test_config.c). */
static void repo_path(char *out, size_t cap, const char *rel)
{
    const char *me = __FILE__, *tail = strstr(me, "spec/unit/test_config.c");
    size_t n = tail ? (size_t)(tail - me) : 0;
    snprintf(out, cap, "%.*s%s", (int)n, me, rel);
}

/* One cell of a README table row: "`A`, `B`" or "`A` / `B`" names, "10, 2000" or
 * "16384 / 8192" values. Splits s at ", " and " / " into at most max pieces. */
static int split_cell(char *s, char **parts, int max)
{
    int n = 0;
    while (s && n < max) {
        while (*s == ' ')
            s++;
        parts[n++] = s;
        char *comma = strstr(s, ", "), *slash = strstr(s, " / ");
        char *cut = comma && (!slash || comma < slash) ? comma : slash;
        if (!cut)
            break;
        *cut = '\0';
        s = cut + (cut == comma ? 2 : 3);
    }
    for (int i = 0; i < n; i++) {
        char *e = parts[i] + strlen(parts[i]);
        while (e > parts[i] && e[-1] == ' ')
            *--e = '\0';
    }
    return n;
}

/* Every row of README.md's settings table whose names config.c knows: the documented number
 * is config_default's. Counts the settings it compared. */
TEST(readme_documents_config_defaults)
{
    char path[4096];
    repo_path(path, sizeof(path), "README.md");
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    char line[4096];
    int compared = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "| `", 3) != 0)
            continue;
        char *names_cell = line + 2, *bar = strchr(names_cell, '|');
        if (!bar)
            continue;
        *bar = '\0';
        char *values_cell = bar + 1, *bar2 = strchr(values_cell, '|');
        if (!bar2)
            continue;
        *bar2 = '\0';
        char *names[8], *values[8];
        int nn = split_cell(names_cell, names, 8), nv = split_cell(values_cell, values, 8);
        for (int i = 0; i < nn; i++) {
            char name[128];
            size_t len = strlen(names[i]);
            if (len < 3 || names[i][0] != '`' || names[i][len - 1] != '`' || len - 2 >= 128)
                continue;
            snprintf(name, sizeof(name), "%.*s", (int)(len - 2), names[i] + 1);
            long long def = config_default(name);
            if (def < 0)
                continue; /* not a numeric setting of the table (HOST, SMS_PROVIDER...) */
            CHECK(i < nv);
            if (i >= nv)
                continue;
            char *end;
            long long documented = strtoll(values[i], &end, 10);
            if (end == values[i] || documented != def)
                fprintf(stderr, "  README says %s = \"%s\", config.c %lld\n", name, values[i], def);
            CHECK(end != values[i] && documented == def);
            compared++;
        }
    }
    fclose(f);
    /* the pool's, Redis' and the HTTP limits' rows at least */
    CHECK(compared >= 20);
    CHECK(config_default("PG_POOL_SIZE") > 0);
    CHECK(config_default("NO_SUCH_SETTING") == -1);
}

/* A pool whose caller leaves size, connect timeout, pipeline depth at 0 (or passes no options
 * at all) has PG_POOL_SIZE's default number of connections, not a number of pg.c's own. */
TEST(pg_pool_falls_back_to_config_defaults)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    const pg_pool_opts_t zero = {0};
    const pg_pool_opts_t *cases[] = {&zero, NULL};
    for (int i = 0; i < 2; i++) {
        pg_pool_t *pool = NULL;
        /* nothing listens on port 1: the pool is made, its connections fail later */
        CHECK(pg_pool_new(&loop, "postgresql://speezy@127.0.0.1:1/none", cases[i], &pool) == 0);
        if (!pool)
            continue;
        pg_pool_stats_t st = {0};
        pg_pool_stats(pool, &st);
        CHECK(st.size == config_default("PG_POOL_SIZE"));
        pg_pool_close(pool);
        uv_run(&loop, UV_RUN_DEFAULT);
    }
    CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
    RUN(readme_documents_config_defaults);
    RUN(pg_pool_falls_back_to_config_defaults);
    return test_summary();
}
