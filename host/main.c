/* main.c — the command line: speezy serve | jobs | check | reload | migrate | admin | test |
 * version */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <luajit.h>

#include "config.h"
#include "admin_cli.h"
#include "jobs_cli.h"
#include "log.h"
#include "migrate.h"
#include "proc.h"
#include "redis_policy.h"
#include "testrun.h"
#include "vm.h"
#include "worker.h"

#define SPEEZY_VERSION "0.1.0"

static int usage(void)
{
    fprintf(stderr, "usage: speezy <command>\n"
                    "  serve            serve HTTP with a master and WORKERS workers (default)\n"
                    "  jobs [status | retry-failed NAME | clean NAME --state S --older-than AGE]\n"
                    "                   consume the queues only (no HTTP), or operate on them\n"
                    "  check            load SCRIPTS_DIR as a reload would; print its generation\n"
                    "  reload           check, then ask the running server (PID_FILE) to reload\n"
                    "  migrate [status] apply pending migrations (MIGRATIONS_DIR) / list them\n"
                    "  admin grant PHONE  make the account of PHONE an ADMIN (creating it)\n"
                    "  test FILE...     run Lua spec files inside the host\n"
                    "  version          print the version\n");
    return 2;
}

/* Loads the scripts without serving: the same path a reload takes. No event loop: scripts
 * can't do I/O while loading, and `serve` forks after this, so no loop state may exist. */
static int check_scripts(const config_t *cfg, vm_gen_t **out)
{
    bind_host_t host = {.loop = NULL, .cfg = cfg};
    char err[1024];
    vm_gen_t *gen;
    if (vm_gen_load(cfg->scripts_dir, &host, &gen, err, sizeof(err)) < 0) {
        fprintf(stderr, "scripts refused: %s\n", err);
        return 1;
    }
    if (out)
        *out = gen;
    else
        vm_gen_unpin(gen);
    return 0;
}

static int cmd_check(const config_t *cfg)
{
    vm_gen_t *gen;
    if (check_scripts(cfg, &gen) != 0)
        return 1;
    printf("ok: generation %s, %d files, %zu routes\n", gen->short_hash, gen->nfiles,
           router_count(gen->router));
    vm_gen_unpin(gen);
    return 0;
}

/* The generation a worker reports on /healthz, read over loopback; fails while the workers
 * don't all serve it yet. */
static int healthz_generation(int port, char *out, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    char buf[4096];
    size_t n = 0;
    static const char req[] =
        "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
        ssize_t r;
        while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
            n += (size_t)r;
    }
    close(fd);
    buf[n] = '\0';
    const char *g = strstr(buf, "\"generation\":\"");
    if (!g || !strstr(buf, "\"consistent\":true"))
        return -1;
    g += 14;
    size_t len = strcspn(g, "\"");
    snprintf(out, cap, "%.*s", (int)len, g);
    return 0;
}

static int cmd_reload(const config_t *cfg)
{
    vm_gen_t *gen;
    if (check_scripts(cfg, &gen) != 0)
        return 1;
    char want[17];
    memcpy(want, gen->short_hash, sizeof(want));
    vm_gen_unpin(gen);
    int pid = proc_read_pid(cfg);
    if (!pid) {
        fprintf(stderr, "no running server found through PID_FILE %s\n", cfg->pid_file);
        return 1;
    }
    if (kill(pid, SIGHUP) < 0) {
        perror("kill");
        return 1;
    }
    for (int i = 0; i < 100; i++) {
        char have[64];
        if (healthz_generation(cfg->port, have, sizeof(have)) == 0 && strcmp(have, want) == 0) {
            printf("reloaded: generation %s is serving\n", want);
            return 0;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "signalled pid %d, but /healthz on port %d does not show generation %s yet\n",
            pid, cfg->port, want);
    return 1;
}

static int cmd_migrate(const config_t *cfg, const char *sub)
{
    const char *dir = config_get("MIGRATIONS_DIR");
    char err[1024] = "";
    if (!cfg->database_url) {
        fprintf(stderr, "speezy migrate: DATABASE_URL is not set\n");
        return 1;
    }
    int rc;
    if (sub && strcmp(sub, "status") == 0)
        rc = migrate_status(cfg->database_url, dir ? dir : "migrations", stdout, err, sizeof(err));
    else if (!sub || strcmp(sub, "up") == 0)
        rc = migrate_run(cfg->database_url, dir ? dir : "migrations", stdout, err, sizeof(err));
    else
        return usage();
    if (rc != 0)
        fprintf(stderr, "speezy migrate: %s\n", err);
    return rc != 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : "serve";
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("speezy %s (%s)\n", SPEEZY_VERSION, LUAJIT_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0)
        return usage() == 2 ? 0 : 0;

    config_t cfg;
    char err[512];
    /* A refused configuration may hold the settings read before the bad one: freed too. */
    if (config_load(&cfg, getenv("SPEEZY_DOTENV"), err, sizeof(err)) < 0) {
        fprintf(stderr, "speezy: configuration refused: %s\n", err);
        config_free(&cfg);
        return 78; /* EX_CONFIG */
    }
    log_level_t lvl;
    if (log_parse_level(cfg.log_level, &lvl) < 0) {
        fprintf(stderr, "speezy: LOG_LEVEL must be debug, info, warn or error\n");
        config_free(&cfg);
        return 78;
    }
    log_init(lvl, "speezy");

    int rc;
    if (strcmp(cmd, "jobs") == 0 && argc > 2)
        rc = jobs_cli_main(&cfg, argc - 2, argv + 2);
    else if (strcmp(cmd, "jobs") == 0 && !cfg.redis_url)
        rc = (fprintf(stderr, "speezy jobs: REDIS_URL is not set: there is no queue\n"), 1);
    else if (strcmp(cmd, "serve") == 0 || strcmp(cmd, "jobs") == 0) { /* refuse before forking */
        if (check_scripts(&cfg, NULL) != 0)
            rc = 1;
        else if (redis_policy_check(&cfg) != 0)
            rc = 78; /* EX_CONFIG, as a refused configuration */
        else
            rc = proc_run(&cfg, strcmp(cmd, "serve") == 0);
    } else if (strcmp(cmd, "check") == 0)
        rc = cmd_check(&cfg);
    else if (strcmp(cmd, "reload") == 0)
        rc = cmd_reload(&cfg);
    else if (strcmp(cmd, "migrate") == 0)
        rc = cmd_migrate(&cfg, argc > 2 ? argv[2] : NULL);
    else if (strcmp(cmd, "admin") == 0)
        rc = admin_cli_main(&cfg, argc - 2, argv + 2);
    else if (strcmp(cmd, "test") == 0)
        rc = testrun_main(&cfg, argc - 2, argv + 2);
    else
        rc = usage();
    log_flush();
    config_free(&cfg);
    return rc;
}
