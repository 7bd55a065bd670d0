/* proc.c — master process: listen once, fork workers, supervise them.
 *
 * The master runs no event loop and no Lua: a poll(2) over a signalfd and an inotify fd is
 * all it needs, which keeps fork() free of any inherited loop state. Workers share the
 * master's listening socket, so a restarted worker loses no queued connection.
 *
 * Each worker bumps a heartbeat word in a shared page from its loop; a worker whose loop is
 * stuck (a script spinning in JIT-compiled code, where no hook can interrupt it) is killed
 * and replaced. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

#define MAX_WORKERS 256
#define RESTART_BACKOFF_MAX_MS 5000
#define WATCH_DEBOUNCE_MS 150
#define STALL_GRACE_MS 10000

typedef struct {
    pid_t pid;
    uint64_t started_ms;
    unsigned backoff_ms;
    uint64_t restart_at_ms; /* 0: no restart pending */
    int held_sig;           /* SIGHUP or SIGTERM for a worker still starting (see signal_workers) */
} slot_t;

typedef struct {
    const config_t *cfg;
    int listen_fd;
    int sig_fd;
    int inotify_fd;
    slot_t slots[MAX_WORKERS];
    worker_slot_t *shared; /* one page shared with workers: heartbeats and generations */
    int stopping;
    uint64_t stop_deadline_ms;
    uint64_t reload_at_ms; /* debounced watcher reload */
    int exit_code;
} master_t;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int listen_socket(const config_t *cfg)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res;
    char port[16];
    snprintf(port, sizeof(port), "%d", cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &res);
    if (rc != 0) {
        log_error("cannot resolve HOST %s: %s", cfg->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 4096) < 0) {
            log_error("cannot listen on %s:%s: %s", cfg->host, port, strerror(errno));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

/* ---- workers ----------------------------------------------------------------------------------
 */

/* Master and workers log at LOG_LEVEL under their own name (main.c refused a bad one). */
static void proc_log_init(const config_t *cfg, const char *component)
{
    log_level_t lvl;
    if (log_parse_level(cfg->log_level, &lvl) < 0)
        lvl = LOG_INFO;
    log_init(lvl, component);
}

static void spawn(master_t *m, int i)
{
    pid_t master_pid = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        log_error("fork failed: %s", strerror(errno));
        m->slots[i].restart_at_ms = now_ms() + 1000;
        return;
    }
    if (pid == 0) {
        sigset_t all;
        sigfillset(&all);
        sigprocmask(SIG_UNBLOCK, &all, NULL);
        close(m->sig_fd);
        if (m->inotify_fd >= 0)
            close(m->inotify_fd);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != master_pid)
            _exit(0);
        proc_log_init(m->cfg, "worker");
        _exit(worker_main(m->cfg, m->listen_fd, i, m->shared, m->cfg->workers));
    }
    m->slots[i].pid = pid;
    m->slots[i].started_ms = now_ms();
    m->slots[i].restart_at_ms = 0;
    m->slots[i].held_sig = 0;
}

/* A worker handles SIGHUP and SIGTERM from its loop; until the loop runs (its heartbeat is 0)
 * their default action would kill it: a reload or a stop sent while a worker loads its scripts
 * would look like a crash. So a starting worker's signal waits in its slot, and send_held()
 * delivers it once the heartbeat shows. A held stop replaces a held reload. */
static void signal_workers(master_t *m, int sig)
{
    for (int i = 0; i < m->cfg->workers; i++) {
        slot_t *s = &m->slots[i];
        if (s->pid <= 0)
            continue;
        if (sig != SIGKILL && m->shared[i].heartbeat_ms == 0) {
            if (s->held_sig != SIGTERM)
                s->held_sig = sig;
            continue;
        }
        kill(s->pid, sig);
    }
}

static int held_signals(const master_t *m)
{
    for (int i = 0; i < m->cfg->workers; i++)
        if (m->slots[i].pid > 0 && m->slots[i].held_sig)
            return 1;
    return 0;
}

static void send_held(master_t *m)
{
    for (int i = 0; i < m->cfg->workers; i++) {
        slot_t *s = &m->slots[i];
        if (s->pid > 0 && s->held_sig && m->shared[i].heartbeat_ms != 0) {
            kill(s->pid, s->held_sig);
            s->held_sig = 0;
        }
    }
}

static int live_workers(const master_t *m)
{
    int n = 0;
    for (int i = 0; i < m->cfg->workers; i++)
        n += m->slots[i].pid > 0;
    return n;
}

static void reap(master_t *m)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < m->cfg->workers; i++) {
            slot_t *s = &m->slots[i];
            if (s->pid != pid)
                continue;
            s->pid = 0;
            s->held_sig = 0;
            memset((void *)&m->shared[i], 0, sizeof(m->shared[i]));
            int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
            if (m->stopping) {
                if (!clean)
                    m->exit_code = 1;
                break;
            }
            if (WIFSIGNALED(status))
                log_error("worker %d (pid %d) killed by signal %d: restarting", i, (int)pid,
                          WTERMSIG(status));
            else
                log_error("worker %d (pid %d) exited with %d: restarting", i, (int)pid,
                          WEXITSTATUS(status));
            /* A worker dying right after start would spin: back off up to 5 s. */
            uint64_t lived = now_ms() - s->started_ms;
            s->backoff_ms = lived < 1000 ? (s->backoff_ms ? s->backoff_ms * 2 : 100) : 0;
            if (s->backoff_ms > RESTART_BACKOFF_MAX_MS)
                s->backoff_ms = RESTART_BACKOFF_MAX_MS;
            s->restart_at_ms = now_ms() + s->backoff_ms;
        }
    }
}

/* Heartbeats are in the worker's uv_now(), a monotonic clock in ms like ours. */
static void watchdog(master_t *m)
{
    uint64_t now = now_ms(), limit = m->cfg->request_timeout_ms + STALL_GRACE_MS;
    for (int i = 0; i < m->cfg->workers; i++) {
        slot_t *s = &m->slots[i];
        uint64_t hb = m->shared[i].heartbeat_ms;
        if (s->pid <= 0 || hb == 0 || now < hb || now - hb < limit)
            continue;
        log_error("worker %d (pid %d) has not turned its loop for %llu ms: killing it", i,
                  (int)s->pid, (unsigned long long)(now - hb));
        kill(s->pid, SIGKILL);
        m->shared[i].heartbeat_ms = 0;
    }
}

/* ---- scripts watcher --------------------------------------------------------------------------
 */

static void watch_tree(int fd, const char *dir)
{
    if (inotify_add_watch(fd, dir,
                          IN_CLOSE_WRITE | IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO |
                              IN_ONLYDIR) < 0)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            watch_tree(fd, path);
    }
    closedir(d);
}

static void on_inotify(master_t *m)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t n;
    int rewatch = 0;
    while ((n = read(m->inotify_fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *ev = (struct inotify_event *)p;
            if (ev->mask & IN_ISDIR)
                rewatch = 1;
            p += sizeof(*ev) + ev->len;
        }
    }
    /* New directories need watches of their own; re-adding existing ones is harmless. */
    if (rewatch)
        watch_tree(m->inotify_fd, m->cfg->scripts_dir);
    /* Editors write in bursts (temp file, rename, chmod): one reload after the burst. */
    m->reload_at_ms = now_ms() + WATCH_DEBOUNCE_MS;
}

/* ---- signals and the loop ---------------------------------------------------------------------
 */

static void begin_stop(master_t *m, const char *why)
{
    if (m->stopping)
        return;
    m->stopping = 1;
    m->stop_deadline_ms = now_ms() + m->cfg->drain_timeout_ms + 5000;
    log_info("%s: draining %d workers", why, live_workers(m));
    signal_workers(m, SIGTERM);
}

static void on_signal(master_t *m)
{
    struct signalfd_siginfo si;
    while (read(m->sig_fd, &si, sizeof(si)) == sizeof(si)) {
        switch (si.ssi_signo) {
        case SIGCHLD:
            reap(m);
            break;
        case SIGHUP:
            log_info("SIGHUP: reloading scripts in every worker");
            signal_workers(m, SIGHUP);
            break;
        default:
            begin_stop(m, strsignal((int)si.ssi_signo));
            break;
        }
    }
}

static int setup(master_t *m)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGQUIT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    m->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    m->inotify_fd = -1;
    if (m->cfg->watch_scripts) {
        m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (m->inotify_fd >= 0)
            watch_tree(m->inotify_fd, m->cfg->scripts_dir);
    }
    m->shared = mmap(NULL, sizeof(worker_slot_t) * MAX_WORKERS, PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m->sig_fd < 0 || m->shared == MAP_FAILED) {
        log_error("master setup failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void write_pid_file(const config_t *cfg)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", cfg->pid_file);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        mkdir(dir, 0755);
    }
    FILE *f = fopen(cfg->pid_file, "w");
    if (!f) {
        log_warn("cannot write PID_FILE %s: %s", cfg->pid_file, strerror(errno));
        return;
    }
    fprintf(f, "%d\n", (int)getpid());
    fclose(f);
}

int proc_read_pid(const config_t *cfg)
{
    FILE *f = fopen(cfg->pid_file, "r");
    int pid = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%d", &pid) != 1 || pid <= 0 || kill(pid, 0) < 0)
        pid = 0;
    fclose(f);
    return pid;
}

static int next_timeout(master_t *m)
{
    uint64_t now = now_ms(), next = now + 1000;
    for (int i = 0; i < m->cfg->workers; i++)
        if (m->slots[i].restart_at_ms && m->slots[i].restart_at_ms < next)
            next = m->slots[i].restart_at_ms;
    if (m->reload_at_ms && m->reload_at_ms < next)
        next = m->reload_at_ms;
    if (held_signals(m) && now + 10 < next)
        next = now + 10; /* a starting worker takes a moment: poll for its heartbeat */
    return next > now ? (int)(next - now) : 0;
}

static void tick(master_t *m)
{
    uint64_t now = now_ms();
    if (m->reload_at_ms && now >= m->reload_at_ms && !m->stopping) {
        m->reload_at_ms = 0;
        log_info("scripts changed: reloading every worker");
        signal_workers(m, SIGHUP);
    }
    for (int i = 0; i < m->cfg->workers && !m->stopping; i++)
        if (m->slots[i].pid == 0 && m->slots[i].restart_at_ms && now >= m->slots[i].restart_at_ms)
            spawn(m, i);
    send_held(m);
    if (!m->stopping)
        watchdog(m);
    if (m->stopping && now > m->stop_deadline_ms) {
        log_error("workers did not drain in time: killing them");
        signal_workers(m, SIGKILL);
        m->exit_code = 1;
        m->stop_deadline_ms = UINT64_MAX;
    }
}

int proc_run(const config_t *cfg, int http)
{
    master_t m = {.cfg = cfg};
    if (cfg->workers > MAX_WORKERS)
        return 1;
    proc_log_init(cfg, "master");
    m.listen_fd = http ? listen_socket(cfg) : -1;
    if ((http && m.listen_fd < 0) || setup(&m) < 0)
        return 1;
    write_pid_file(cfg);
    if (http)
        log_info("speezy listening on %s:%d with %d workers (%s, scripts %s%s)", cfg->host,
                 cfg->port, cfg->workers, cfg->env_name, cfg->scripts_dir,
                 cfg->watch_scripts ? ", watched" : "");
    else
        log_info("speezy consuming jobs with %d workers, no HTTP (%s, scripts %s%s)", cfg->workers,
                 cfg->env_name, cfg->scripts_dir, cfg->watch_scripts ? ", watched" : "");
    log_flush();
    for (int i = 0; i < cfg->workers; i++)
        spawn(&m, i);

    struct pollfd fds[2] = {{m.sig_fd, POLLIN, 0}, {m.inotify_fd, POLLIN, 0}};
    while (!m.stopping || live_workers(&m) > 0) {
        int n = poll(fds, m.inotify_fd >= 0 ? 2 : 1, next_timeout(&m));
        if (n > 0 && (fds[0].revents & POLLIN))
            on_signal(&m);
        if (n > 0 && m.inotify_fd >= 0 && (fds[1].revents & POLLIN))
            on_inotify(&m);
        tick(&m);
        log_flush();
    }
    if (m.listen_fd >= 0)
        close(m.listen_fd);
    if (proc_read_pid(cfg) == getpid())
        unlink(cfg->pid_file);
    log_info("stopped");
    log_flush();
    return m.exit_code;
}
