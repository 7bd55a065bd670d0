/* test_redis.c — the Redis core (host/redis.c) against a real redis-server.
 *
 * The harness passes the server in SPEEZY_TEST_REDIS_URL (a throwaway instance: the tests
 * kill its clients, pause it and add an ACL user); a few fake servers on loopback play the
 * ones that accept and hang up. The last tests drive the bindings (speezy.redis.core, and
 * speezy.ready.core's Redis side) from coroutines, for what Lua specs can't reach:
 * cancellation, pooled cos reused by the next request, a memory budget, a disconnect under
 * many waiters. */
#include "config.h"
#include "redis.h"
#include "test.h"
#include "vm.h"
#include "test_lua.h"

#include <netinet/in.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static uv_loop_t *loop;
static const char *base_url;
static redis_url_t base;

typedef struct {
    int done;
    int err;
    redisReply *reply;
} capture_t;

static void on_capture(const redisReply *r, int err, void *ud)
{
    capture_t *c = ud;
    c->done++;
    c->err = err;
    if (r)
        c->reply = redis_reply_dup(r);
}

static void capture_reset(capture_t *c)
{
    redis_reply_free(c->reply);
    memset(c, 0, sizeof(*c));
}

static void on_tick(uv_timer_t *t) {}

/* Runs the loop until pred(arg) or ms have passed; a ticking timer bounds each iteration. */
static int run_until(int (*pred)(void *), void *arg, unsigned ms)
{
    uv_timer_t tick;
    uv_timer_init(loop, &tick);
    uv_timer_start(&tick, on_tick, 5, 5);
    uint64_t end = uv_now(loop) + ms;
    while (!pred(arg) && uv_now(loop) < end)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return pred(arg);
}

static int flag_set(void *arg)
{
    return *(int *)arg != 0;
}

static int never(void *arg)
{
    return 0;
}

static int is_connected(void *arg)
{
    redis_stats_t s;
    redis_client_stats(arg, &s);
    return s.connected;
}

static int is_disconnected(void *arg)
{
    return !is_connected(arg);
}

static int no_pending(void *arg)
{
    redis_stats_t s;
    redis_client_stats(arg, &s);
    return s.pending == 0;
}

static int no_blocking_open(void *arg)
{
    redis_stats_t s;
    redis_client_stats(arg, &s);
    return s.blocking_open == 0;
}

static void sleep_loop(unsigned ms)
{
    run_until(never, NULL, ms);
}

static redis_client_t *client_at(const char *url, const redis_opts_t *opts)
{
    redis_client_t *c = NULL;
    CHECK(redis_client_new(loop, url, opts, &c) == 0);
    if (c)
        CHECK(run_until(is_connected, c, 3000));
    return c;
}

static void client_done(redis_client_t *c)
{
    redis_client_close(c);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Sends argv (NULL-terminated C strings) without waiting; returns redis_command's code. */
static int vsend(redis_client_t *c, capture_t *cap, redis_cmd_t **h, va_list ap)
{
    const char *argv[16];
    size_t len[16];
    int argc = 0;
    const char *s;
    capture_reset(cap);
    while (argc < 16 && (s = va_arg(ap, const char *)) != NULL) {
        argv[argc] = s;
        len[argc++] = strlen(s);
    }
    return redis_command(c, argc, argv, len, on_capture, cap, h);
}

static int send_cmd(redis_client_t *c, capture_t *cap, redis_cmd_t **h, ...)
{
    va_list ap;
    va_start(ap, h);
    int rc = vsend(c, cap, h, ap);
    va_end(ap);
    return rc;
}

/* Sends and waits for the reply; returns 0 when a reply (of any type) came. */
static int cmd(redis_client_t *c, capture_t *cap, ...)
{
    va_list ap;
    va_start(ap, cap);
    int rc = vsend(c, cap, NULL, ap);
    va_end(ap);
    if (rc < 0)
        return rc;
    if (!run_until(flag_set, &cap->done, 3000))
        return REDIS_ETIMEOUT;
    return cap->reply ? 0 : cap->err;
}

static int reply_is(const redisReply *r, int type, const char *str)
{
    return r && r->type == type &&
           (!str || (r->len == strlen(str) && !memcmp(r->str, str, r->len)));
}

/* The harness' server under another host name and db. A NULL userinfo keeps base_url's own
 * as written (the harness' Redis has a password); a given one replaces it. */
static void url_at(char *out, size_t cap, const char *host, const char *userinfo, int db)
{
    const char *auth = base_url + strlen("redis://"), *at = NULL;
    for (size_t i = 0, n = strcspn(auth, "/?#"); i < n; i++)
        if (auth[i] == '@')
            at = auth + i;
    int len = userinfo ? (int)strlen(userinfo) : at ? (int)(at - auth) : 0;
    snprintf(out, cap, "redis://%.*s%s%s:%d/%d", len, userinfo ? userinfo : auth, len ? "@" : "",
             host, base.port, db);
}

static void url_with(char *out, size_t cap, const char *userinfo, int db)
{
    url_at(out, cap, base.host, userinfo, db);
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
        return 1;
    close(fd); /* nobody listens there now */
    return ntohs(a.sin_port);
}

TEST(url_parse)
{
    redis_url_t u;
    CHECK(redis_url_parse("redis://127.0.0.1:6380/2", &u) == 0);
    CHECK_STR(u.host, "127.0.0.1");
    CHECK(u.port == 6380 && u.db == 2 && !u.user[0] && !u.password[0]);
    CHECK(redis_url_parse("redis://:p%40ss@localhost", &u) == 0);
    CHECK_STR(u.password, "p@ss");
    CHECK(u.port == 6379 && u.db == 0 && !u.user[0]);
    CHECK(redis_url_parse("redis://app:s3:cr@t@[::1]:7000/1?x=1", &u) == 0);
    CHECK_STR(u.user, "app");
    CHECK_STR(u.password, "s3:cr@t");
    CHECK_STR(u.host, "::1");
    CHECK(u.port == 7000 && u.db == 1);
    CHECK(redis_url_parse("redis://h/", &u) == 0 && u.db == 0);
    const char *bad[] = {
        "http://h",     "redis://",       "redis://h:0",  "redis://h:99999", "redis://h:x",
        "redis://h/db", "redis://:%zz@h", "redis://[::1", "redis://[::1]x",  NULL};
    for (int i = 0; bad[i]; i++)
        CHECK(redis_url_parse(bad[i], &u) == REDIS_EINVAL);
    redis_client_t *c = NULL;
    CHECK(redis_client_new(loop, "nope://", NULL, &c) == REDIS_EINVAL && c == NULL);
}

TEST(command_classes)
{
    struct {
        int argc;
        const char *argv[9];
        redis_class_t cls;
    } cases[] = {
        {2, {"get", "k"}, REDIS_CLASS_PLAIN},
        {3, {"BLPOP", "k", "1"}, REDIS_CLASS_BLOCKING},
        {3, {"bzpopmin", "k", "0"}, REDIS_CLASS_BLOCKING},
        {6, {"XREAD", "BLOCK", "10", "STREAMS", "s", "$"}, REDIS_CLASS_BLOCKING},
        {6, {"XREAD", "COUNT", "1", "STREAMS", "block", "0"}, REDIS_CLASS_PLAIN},
        {1, {"MULTI"}, REDIS_CLASS_TX},
        {2, {"select", "1"}, REDIS_CLASS_FORBIDDEN},
        {2, {"SUBSCRIBE", "c"}, REDIS_CLASS_FORBIDDEN},
        {2, {"WATCH", "k"}, REDIS_CLASS_FORBIDDEN},
        {3, {"CLIENT", "REPLY", "OFF"}, REDIS_CLASS_FORBIDDEN},
        {3, {"CLIENT", "SETNAME", "x"}, REDIS_CLASS_PLAIN},
        /* option values are not options: a group named STREAMS, a consumer named BLOCK */
        {9,
         {"XREADGROUP", "GROUP", "STREAMS", "c", "BLOCK", "0", "STREAMS", "s", ">"},
         REDIS_CLASS_BLOCKING},
        {7, {"XREADGROUP", "GROUP", "g", "BLOCK", "STREAMS", "s", ">"}, REDIS_CLASS_PLAIN},
        {8,
         {"XREADGROUP", "GROUP", "g", "c", "NOACK", "BLOCK", "5", "STREAMS"},
         REDIS_CLASS_BLOCKING},
        {6, {"XREAD", "COUNT", "5", "BLOCK", "0", "STREAMS"}, REDIS_CLASS_BLOCKING},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len[9];
        for (int j = 0; j < cases[i].argc; j++)
            len[j] = strlen(cases[i].argv[j]);
        if (redis_command_class(cases[i].argc, cases[i].argv, len) != cases[i].cls)
            fprintf(stderr, "  case %zu (%s %s ...) misclassified\n", i, cases[i].argv[0],
                    cases[i].argv[1]);
        CHECK(redis_command_class(cases[i].argc, cases[i].argv, len) == cases[i].cls);
    }
}

TEST(blocking_commands_own_timeouts)
{
    struct {
        int argc;
        const char *argv[8];
        uint64_t ms;
    } cases[] = {
        {3, {"BLPOP", "k", "1"}, 1000},
        {4, {"brpop", "a", "b", "0.25"}, 250},
        {3, {"BZPOPMIN", "k", "0"}, REDIS_BLOCK_FOREVER},
        {6, {"BLMOVE", "s", "d", "LEFT", "RIGHT", "2"}, 2000},
        {5, {"BLMPOP", "1.5", "1", "k", "LEFT"}, 1500},
        {3, {"WAIT", "1", "300"}, 300},
        {4, {"WAITAOF", "1", "0", "40"}, 40},
        {6, {"XREAD", "BLOCK", "10", "STREAMS", "s", "$"}, 10},
        {8, {"XREADGROUP", "GROUP", "g", "c", "BLOCK", "0", "STREAMS", "s"}, REDIS_BLOCK_FOREVER},
        {3, {"BLPOP", "k", "soon"}, REDIS_BLOCK_FOREVER},
        {3, {"BLPOP", "k", "-1"}, REDIS_BLOCK_FOREVER},
        {3, {"BLPOP", "k", "1e300"}, REDIS_BLOCK_FOREVER},
        {3, {"BLPOP", "k", "0.0001"}, 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len[8];
        for (int j = 0; j < cases[i].argc; j++)
            len[j] = strlen(cases[i].argv[j]);
        uint64_t ms = redis_command_block_ms(cases[i].argc, cases[i].argv, len);
        if (ms != cases[i].ms)
            fprintf(stderr, "  case %zu (%s): %llu ms\n", i, cases[i].argv[0],
                    (unsigned long long)ms);
        CHECK(ms == cases[i].ms);
    }
}

TEST(binary_round_trip)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    static const char key[] = "t:bin\0key", val[] = "a\0b\r\n\xff$3\r\n";
    const char *set[] = {"SET", key, val}, *get[] = {"GET", key};
    size_t setlen[] = {3, sizeof(key) - 1, sizeof(val) - 1}, getlen[] = {3, sizeof(key) - 1};
    capture_t cap = {0};
    CHECK(redis_command(c, 3, set, setlen, on_capture, &cap, NULL) == 0);
    CHECK(run_until(flag_set, &cap.done, 2000) && reply_is(cap.reply, REDIS_REPLY_STATUS, "OK"));
    capture_reset(&cap);
    CHECK(redis_command(c, 2, get, getlen, on_capture, &cap, NULL) == 0);
    CHECK(run_until(flag_set, &cap.done, 2000));
    CHECK(cap.reply && cap.reply->type == REDIS_REPLY_STRING);
    CHECK(cap.reply && cap.reply->len == sizeof(val) - 1 && !memcmp(cap.reply->str, val, 10));
    capture_reset(&cap);
    client_done(c);
}

typedef struct {
    int next;
    int in_order;
    int done;
    int want; /* replies expected */
} seq_t;

static void on_seq(const redisReply *r, int err, void *ud)
{
    seq_t *s = ud;
    s->in_order &= r && r->type == REDIS_REPLY_INTEGER && r->integer == ++s->next;
    s->done = s->next == s->want;
}

TEST(pipelining_many)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t cap = {0};
    CHECK(cmd(c, &cap, "DEL", "t:seq", NULL) == 0);
    seq_t s = {0, 1, 0, 1000};
    const char *argv[] = {"INCR", "t:seq"};
    size_t len[] = {4, 5};
    int sent = 0;
    for (int i = 0; i < 1000; i++)
        sent += redis_command(c, 2, argv, len, on_seq, &s, NULL) == 0;
    redis_stats_t st;
    redis_client_stats(c, &st);
    CHECK(sent == 1000 && st.pending == 1000);
    CHECK(run_until(flag_set, &s.done, 5000) && s.in_order);
    redis_client_stats(c, &st);
    CHECK(st.pending == 0);
    capture_reset(&cap);
    client_done(c);
}

/* The commands issued in one loop turn (by as many coroutines) leave in one write(2), and
 * neither they nor their replies touch the connection's poll handle (whose every restart
 * costs epoll_ctl calls): the client counts both. */
TEST(commands_of_one_turn_leave_in_one_write)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t cap = {0};
    CHECK(cmd(c, &cap, "DEL", "t:turn", NULL) == 0);
    capture_reset(&cap);
    redis_stats_t before, st;
    redis_client_stats(c, &before);
    seq_t s = {0, 1, 0, 100};
    const char *argv[] = {"INCR", "t:turn"};
    size_t len[] = {4, 6};
    int sent = 0;
    for (int i = 0; i < 100; i++)
        sent += redis_command(c, 2, argv, len, on_seq, &s, NULL) == 0;
    redis_client_stats(c, &st);
    CHECK(sent == 100 && st.writes == before.writes); /* nothing written from inside the call */
    CHECK(run_until(flag_set, &s.done, 5000) && s.in_order);
    redis_client_stats(c, &st);
    if (st.writes - before.writes != 1)
        fprintf(stderr, "  %zu writes for 100 commands\n", st.writes - before.writes);
    CHECK(st.writes - before.writes == 1 && st.write_waits == before.write_waits);
    CHECK(st.poll_restarts == before.poll_restarts); /* read polling stayed on, nothing else */
    client_done(c);
}

typedef struct {
    redis_client_t *client;
    capture_t cap;
    int rc;
} timer_send_t;

static void on_timer_send(uv_timer_t *t)
{
    timer_send_t *ts = t->data;
    ts->rc = send_cmd(ts->client, &ts->cap, NULL, "PING", NULL);
}

/* A command issued before the loop polls (here from a timer; likewise from an idle or
 * prepare callback) leaves before the loop waits: the poll must not sleep on it until the
 * command's deadline (a flush after the poll would let it time out). Driven turn by turn,
 * with no other timer to wake the loop. */
TEST(commands_from_a_timer_leave_before_the_loop_waits)
{
    redis_opts_t o = {.timeout_ms = 300 * test_time_scale()};
    redis_client_t *c = client_at(base_url, &o);
    if (!c)
        return;
    sleep_loop(20); /* the handshake's writes and replies are over */
    timer_send_t ts = {.client = c, .rc = 1};
    uv_timer_t t;
    uv_timer_init(loop, &t);
    t.data = &ts;
    uv_timer_start(&t, on_timer_send, 1, 0);
    for (int turns = 0; turns < 100 && !ts.cap.done; turns++)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(ts.rc == 0 && ts.cap.done == 1);
    CHECK(ts.cap.err == 0 && reply_is(ts.cap.reply, REDIS_REPLY_STATUS, "PONG"));
    uv_close((uv_handle_t *)&t, NULL);
    capture_reset(&ts.cap);
    client_done(c);
}

/* A command larger than the socket takes at once (a 16 MB value) waits for writability for
 * the rest: it arrives whole (Redis' SHA-1 of what it stored is ours), and a command issued
 * meanwhile follows it in order. */
TEST(command_larger_than_the_socket_arrives_whole)
{
    redis_opts_t o = {.timeout_ms = 20000}; /* 16 MB under the sanitizers on a busy machine */
    redis_client_t *c = client_at(base_url, &o);
    if (!c)
        return;
    size_t n = 16u << 20;
    char *big = malloc(n);
    CHECK(big != NULL);
    if (!big) {
        client_done(c);
        return;
    }
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + (i * 7919) % 26);
    unsigned char md[SHA_DIGEST_LENGTH];
    char hex[2 * SHA_DIGEST_LENGTH + 1];
    SHA1((const unsigned char *)big, n, md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    redis_stats_t before, st;
    redis_client_stats(c, &before);
    const char *set[] = {"SET", "t:big", big}, *strlen_argv[] = {"STRLEN", "t:big"};
    size_t setlen[] = {3, 5, n}, strlen_len[] = {6, 5};
    capture_t cap = {0}, after = {0};
    CHECK(redis_command(c, 3, set, setlen, on_capture, &cap, NULL) == 0);
    /* turn the loop until the socket is full, then queue a command behind the rest */
    for (int turns = 0; turns < 100; turns++) {
        redis_client_stats(c, &st);
        if (st.write_waits > before.write_waits)
            break;
        uv_run(loop, UV_RUN_NOWAIT);
    }
    CHECK(st.write_waits > before.write_waits && !cap.done);
    CHECK(redis_command(c, 2, strlen_argv, strlen_len, on_capture, &after, NULL) == 0);
    CHECK(run_until(flag_set, &after.done, 20000));
    CHECK(cap.done == 1 && reply_is(cap.reply, REDIS_REPLY_STATUS, "OK"));
    CHECK(after.reply && after.reply->type == REDIS_REPLY_INTEGER &&
          after.reply->integer == (long long)n);
    capture_reset(&cap);
    CHECK(cmd(c, &cap, "EVAL", "return redis.sha1hex(redis.call('GET', KEYS[1]))", "1", "t:big",
              NULL) == 0);
    CHECK(reply_is(cap.reply, REDIS_REPLY_STRING, hex));
    capture_reset(&cap);
    capture_reset(&after);
    CHECK(cmd(c, &cap, "DEL", "t:big", NULL) == 0);
    capture_reset(&cap);
    free(big);
    client_done(c);
}

TEST(error_nil_and_nested_replies)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t cap = {0};
    CHECK(cmd(c, &cap, "NOSUCHCOMMAND", "x", NULL) == 0);
    CHECK(cap.reply && cap.reply->type == REDIS_REPLY_ERROR && !strncmp(cap.reply->str, "ERR", 3));
    CHECK(cmd(c, &cap, "DEL", "t:missing", NULL) == 0);
    CHECK(cmd(c, &cap, "GET", "t:missing", NULL) == 0);
    CHECK(reply_is(cap.reply, REDIS_REPLY_NIL, NULL));
    CHECK(cmd(c, &cap, "EVAL", "return {1, {2, 'x', {}}, 'y'}", "0", NULL) == 0);
    const redisReply *r = cap.reply;
    CHECK(r && r->type == REDIS_REPLY_ARRAY && r->elements == 3);
    if (r && r->elements == 3) {
        CHECK(r->element[0]->type == REDIS_REPLY_INTEGER && r->element[0]->integer == 1);
        const redisReply *in = r->element[1];
        CHECK(in->type == REDIS_REPLY_ARRAY && in->elements == 3);
        CHECK(in->elements == 3 && in->element[0]->integer == 2);
        CHECK(in->elements == 3 && reply_is(in->element[1], REDIS_REPLY_STRING, "x"));
        CHECK(in->elements == 3 && in->element[2]->type == REDIS_REPLY_ARRAY);
        CHECK(reply_is(r->element[2], REDIS_REPLY_STRING, "y"));
    }
    capture_reset(&cap);
    CHECK(send_cmd(c, &cap, NULL, "SELECT", "1", NULL) == REDIS_EINVAL);
    CHECK(send_cmd(c, &cap, NULL, "SUBSCRIBE", "ch", NULL) == REDIS_EINVAL);
    sleep_loop(20);
    CHECK(cap.done == 0);
    client_done(c);
}

typedef struct {
    int done;
    int status;
} status_t;

static void on_status(int status, void *ud)
{
    status_t *s = ud;
    s->done = 1;
    s->status = status;
}

TEST(blocking_command_on_dedicated_connection)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t blpop = {0}, cap = {0};
    CHECK(cmd(c, &cap, "DEL", "t:list", NULL) == 0);
    CHECK(send_cmd(c, &blpop, NULL, "BLPOP", "t:list", "5", NULL) == 0);
    /* The main pipe keeps answering while BLPOP waits on its own connection. */
    status_t ping = {0};
    CHECK(redis_ping(c, on_status, &ping, NULL) == 0);
    CHECK(run_until(flag_set, &ping.done, 1000) && ping.status == 0 && !blpop.done);
    redis_stats_t st;
    redis_client_stats(c, &st);
    CHECK(st.blocking_open == 1 && st.blocking_busy == 1);
    CHECK(cmd(c, &cap, "RPUSH", "t:list", "v1", NULL) == 0);
    CHECK(run_until(flag_set, &blpop.done, 2000));
    CHECK(blpop.reply && blpop.reply->type == REDIS_REPLY_ARRAY && blpop.reply->elements == 2);
    CHECK(blpop.reply && blpop.reply->elements == 2 &&
          reply_is(blpop.reply->element[1], REDIS_REPLY_STRING, "v1"));
    /* The idle dedicated connection is reused. */
    CHECK(cmd(c, &cap, "RPUSH", "t:list", "v2", NULL) == 0);
    CHECK(send_cmd(c, &blpop, NULL, "BLPOP", "t:list", "5", NULL) == 0);
    CHECK(run_until(flag_set, &blpop.done, 2000) && blpop.reply);
    redis_client_stats(c, &st);
    CHECK(st.blocking_open == 1 && st.blocking_busy == 0);
    capture_reset(&blpop);
    capture_reset(&cap);
    client_done(c);
}

TEST(blocking_pool_is_bounded)
{
    redis_opts_t opts = {.blocking_pool = 2};
    redis_client_t *c = client_at(base_url, &opts);
    if (!c)
        return;
    capture_t a = {0}, b = {0}, d = {0};
    redis_cmd_t *ha, *hb;
    CHECK(send_cmd(c, &a, &ha, "BLPOP", "t:empty1", "0", NULL) == 0);
    CHECK(send_cmd(c, &b, &hb, "BRPOP", "t:empty2", "0", NULL) == 0);
    CHECK(send_cmd(c, &d, NULL, "BLPOP", "t:empty3", "0", NULL) == REDIS_EBUSY);
    redis_command_abandon(ha);
    redis_command_abandon(hb);
    CHECK(run_until(no_blocking_open, c, 1000));
    CHECK(a.done == 0 && b.done == 0 && d.done == 0);
    client_done(c);
}

TEST(abandon)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t get = {0}, blpop = {0}, cap = {0};
    redis_cmd_t *h = NULL;
    CHECK(send_cmd(c, &get, &h, "GET", "t:x", NULL) == 0 && h);
    redis_command_abandon(h);
    CHECK(run_until(no_pending, c, 1000));
    CHECK(get.done == 0);
    /* An abandoned blocking command takes its connection with it. */
    CHECK(send_cmd(c, &blpop, &h, "BLPOP", "t:never", "0", NULL) == 0);
    sleep_loop(50);
    redis_command_abandon(h);
    CHECK(run_until(no_blocking_open, c, 1000) && blpop.done == 0);
    CHECK(cmd(c, &cap, "CLIENT", "LIST", "TYPE", "normal", NULL) == 0);
    CHECK(cap.reply && cap.reply->str && !strstr(cap.reply->str, "cmd=blpop"));
    capture_reset(&cap);
    client_done(c);
}

TEST(fail_fast_while_unreachable)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", free_port());
    redis_client_t *c = NULL;
    CHECK(redis_client_new(loop, url, NULL, &c) == 0 && c);
    if (!c)
        return;
    capture_t cap = {0};
    status_t ping = {0};
    sleep_loop(50); /* the first attempt is over (it may wait for the handshake) */
    uint64_t t0 = uv_now(loop);
    for (int round = 0; round < 3; round++) {
        CHECK(send_cmd(c, &cap, NULL, "GET", "k", NULL) == REDIS_EUNAVAILABLE);
        CHECK(send_cmd(c, &cap, NULL, "BLPOP", "k", "0", NULL) == REDIS_EUNAVAILABLE);
        CHECK(redis_ping(c, on_status, &ping, NULL) == REDIS_EUNAVAILABLE);
        sleep_loop(150); /* a few reconnect attempts happen meanwhile */
    }
    CHECK(!is_connected(c) && cap.done == 0 && ping.done == 0);
    CHECK(uv_now(loop) - t0 < 1000);
    client_done(c);
}

/* A TCP server that accepts, optionally sends a canned greeting, and hangs up: what a Redis
 * at maxclients, a proxy whose backend is down, or a port taken by something else looks like. */
typedef struct {
    uv_tcp_t server;
    int accepts;
    const char *greeting;
} hangup_t;

static void hangup_on_closed(uv_handle_t *h)
{
    free(h);
}

static void hangup_on_conn(uv_stream_t *s, int status)
{
    hangup_t *f = s->data;
    uv_tcp_t *conn = malloc(sizeof(*conn));
    uv_tcp_init(loop, conn);
    if (status == 0 && uv_accept(s, (uv_stream_t *)conn) == 0) {
        f->accepts++;
        if (f->greeting) {
            uv_buf_t b = uv_buf_init((char *)f->greeting, (unsigned)strlen(f->greeting));
            uv_try_write((uv_stream_t *)conn, &b, 1);
        }
    }
    uv_close((uv_handle_t *)conn, hangup_on_closed);
}

static int hangup_start(hangup_t *f, const char *greeting)
{
    struct sockaddr_in a;
    int alen = sizeof(a);
    memset(f, 0, sizeof(*f));
    f->greeting = greeting;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &f->server);
    f->server.data = f;
    if (uv_tcp_bind(&f->server, (struct sockaddr *)&a, 0) < 0 ||
        uv_listen((uv_stream_t *)&f->server, 16, hangup_on_conn) < 0 ||
        uv_tcp_getsockname(&f->server, (struct sockaddr *)&a, &alen) < 0)
        return 0;
    return ntohs(a.sin_port);
}

static void hangup_stop(hangup_t *f)
{
    uv_close((uv_handle_t *)&f->server, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* A connection the server drops before answering anything is a failed attempt: the client
 * backs off (attempts at 0, 100, 300, 700 ms...) instead of reconnecting every 100 ms. */
TEST(backoff_when_the_server_hangs_up)
{
    const char *greetings[] = {NULL, "-ERR max number of clients reached\r\n"};
    for (int i = 0; i < 2; i++) {
        hangup_t f;
        int port = hangup_start(&f, greetings[i]);
        CHECK(port > 0);
        char url[64];
        snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
        redis_client_t *c = NULL;
        CHECK(redis_client_new(loop, url, NULL, &c) == 0 && c);
        int ever_connected = 0;
        uint64_t end = uv_now(loop) + 1000;
        while (c && uv_now(loop) < end) {
            run_until(never, NULL, 10);
            ever_connected |= is_connected(c);
        }
        CHECK(!ever_connected);
        CHECK(f.accepts >= 2 && f.accepts <= 5);
        if (f.accepts > 5)
            fprintf(stderr, "  %d connections in 1 s\n", f.accepts);
        capture_t cap = {0};
        CHECK(send_cmd(c, &cap, NULL, "GET", "k", NULL) == REDIS_EUNAVAILABLE);
        client_done(c);
        hangup_stop(&f);
    }
}

TEST(first_connect_waits_for_handshake)
{
    char url[300];
    url_with(url, sizeof(url), NULL, 2);
    redis_client_t *c = NULL;
    CHECK(redis_client_new(loop, url, NULL, &c) == 0 && c);
    if (!c)
        return;
    capture_t set = {0}, get = {0};
    status_t ping = {0};
    /* Sent before the loop ever ran: queued behind SELECT 2 on the first connection. */
    CHECK(send_cmd(c, &set, NULL, "SET", "t:db2", "two", NULL) == 0);
    CHECK(send_cmd(c, &get, NULL, "GET", "t:db2", NULL) == 0);
    CHECK(redis_ping(c, on_status, &ping, NULL) == REDIS_EUNAVAILABLE);
    CHECK(run_until(flag_set, &get.done, 2000));
    CHECK(reply_is(set.reply, REDIS_REPLY_STATUS, "OK"));
    CHECK(reply_is(get.reply, REDIS_REPLY_STRING, "two"));
    capture_reset(&set);
    capture_reset(&get);
    client_done(c);
}

TEST(resolves_host_names)
{
    char url[300];
    url_at(url, sizeof(url), "localhost", NULL, 0);
    redis_client_t *c = client_at(url, NULL);
    capture_t cap = {0};
    if (c)
        CHECK(cmd(c, &cap, "PING", NULL) == 0 && reply_is(cap.reply, REDIS_REPLY_STATUS, "PONG"));
    capture_reset(&cap);
    client_done(c);
}

TEST(reconnect_after_client_kill)
{
    char url[300];
    url_with(url, sizeof(url), NULL, 3); /* db 3: SELECT must be replayed on reconnect */
    redis_client_t *c = client_at(url, NULL), *killer = client_at(base_url, NULL);
    if (!c || !killer)
        return;
    capture_t cap = {0}, blpop = {0}, kcap = {0};
    CHECK(cmd(c, &cap, "SET", "t:db3", "three", NULL) == 0);
    CHECK(send_cmd(c, &blpop, NULL, "BLPOP", "t:never", "0", NULL) == 0);
    sleep_loop(50);
    CHECK(cmd(killer, &kcap, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes", NULL) == 0);
    CHECK(kcap.reply && kcap.reply->type == REDIS_REPLY_INTEGER && kcap.reply->integer >= 2);
    /* The waiter is failed, and while down commands fail at once. */
    CHECK(run_until(flag_set, &blpop.done, 1000) && blpop.err == REDIS_EUNAVAILABLE);
    CHECK(run_until(is_disconnected, c, 1000));
    CHECK(send_cmd(c, &cap, NULL, "GET", "t:db3", NULL) == REDIS_EUNAVAILABLE);
    CHECK(run_until(is_connected, c, 3000));
    CHECK(cmd(c, &cap, "GET", "t:db3", NULL) == 0 &&
          reply_is(cap.reply, REDIS_REPLY_STRING, "three"));
    capture_reset(&cap);
    capture_reset(&blpop);
    capture_reset(&kcap);
    client_done(c);
    client_done(killer);
}

TEST(timeout_resets_connection)
{
    redis_opts_t opts = {.timeout_ms = 150};
    redis_client_t *c = client_at(base_url, &opts), *admin = client_at(base_url, NULL);
    if (!c || !admin)
        return;
    capture_t cap = {0}, acap = {0};
    CHECK(cmd(admin, &acap, "CLIENT", "PAUSE", "500", "ALL", NULL) == 0);
    uint64_t t0 = uv_now(loop);
    CHECK(send_cmd(c, &cap, NULL, "GET", "t:x", NULL) == 0);
    CHECK(run_until(flag_set, &cap.done, 2000) && cap.err == REDIS_ETIMEOUT && !cap.reply);
    uint64_t took = uv_now(loop) - t0;
    CHECK(took >= 140 && took < 450);
    sleep_loop(500); /* the pause ends; the client has reconnected */
    CHECK(run_until(is_connected, c, 3000));
    CHECK(cmd(c, &cap, "PING", NULL) == 0 && reply_is(cap.reply, REDIS_REPLY_STATUS, "PONG"));
    capture_reset(&cap);
    capture_reset(&acap);
    client_done(c);
    client_done(admin);
}

/* Pauses the server for pause_ms and sends BLPOP t:never 0.1 on c: it must fail with err
 * after at least min_ms and before the pause ends; once the pause is over BLPOP works again. */
static void blpop_during_pause(redis_client_t *c, unsigned pause_ms, int err, uint64_t min_ms)
{
    redis_client_t *admin = client_at(base_url, NULL);
    if (!admin)
        return;
    capture_t cap = {0}, acap = {0};
    char pause[16];
    snprintf(pause, sizeof(pause), "%u", pause_ms);
    CHECK(cmd(admin, &acap, "CLIENT", "PAUSE", pause, "ALL", NULL) == 0);
    uint64_t t0 = uv_now(loop);
    CHECK(send_cmd(c, &cap, NULL, "BLPOP", "t:never", "0.1", NULL) == 0);
    CHECK(run_until(flag_set, &cap.done, pause_ms * 2) && cap.err == err && !cap.reply);
    uint64_t took = uv_now(loop) - t0, before_end = pause_ms - 20;
    CHECK(took >= min_ms && took < before_end);
    if (took >= before_end)
        fprintf(stderr, "  the blocking command took %llu ms\n", (unsigned long long)took);
    sleep_loop(pause_ms); /* the pause ends */
    CHECK(cmd(c, &cap, "BLPOP", "t:never", "0.1", NULL) == 0 && cap.reply &&
          cap.reply->type == REDIS_REPLY_NIL);
    capture_reset(&cap);
    capture_reset(&acap);
    client_done(admin);
}

/* A dedicated connection's handshake is bounded by connect_timeout_ms like the main one's:
 * opened while the server answers nobody, its blocking command fails at that bound instead
 * of waiting for the server (here the pause, elsewhere forever). */
TEST(blocking_connection_handshake_times_out)
{
    redis_opts_t opts = {.connect_timeout_ms = 200};
    redis_client_t *c = client_at(base_url, &opts);
    if (!c)
        return;
    blpop_during_pause(c, 600, REDIS_EUNAVAILABLE, 190);
    client_done(c);
}

/* On a ready dedicated connection a blocking command is bounded by its own timeout plus
 * timeout_ms: a server that stops answering (here paused) can't hold it longer. */
TEST(blocking_command_times_out_past_its_own_timeout)
{
    redis_opts_t opts = {.timeout_ms = 200};
    redis_client_t *c = client_at(base_url, &opts);
    if (!c)
        return;
    capture_t cap = {0};
    CHECK(cmd(c, &cap, "BLPOP", "t:never", "0.05", NULL) == 0 && cap.reply &&
          cap.reply->type == REDIS_REPLY_NIL); /* the dedicated connection is open and idle */
    capture_reset(&cap);
    blpop_during_pause(c, 1500, REDIS_ETIMEOUT, 290); /* 100 + 200 ms */
    client_done(c);
}

TEST(auth_and_select)
{
    redis_client_t *admin = client_at(base_url, NULL);
    if (!admin)
        return;
    capture_t cap = {0};
    CHECK(cmd(admin, &cap, "ACL", "SETUSER", "speezy_t", "on", ">s3cr%t", "~*", "&*", "+@all",
              NULL) == 0 &&
          reply_is(cap.reply, REDIS_REPLY_STATUS, "OK"));
    char url[300];
    url_with(url, sizeof(url), "speezy_t:s3cr%25t", 4);
    redis_client_t *c = client_at(url, NULL);
    if (c) {
        CHECK(cmd(c, &cap, "SET", "t:db4", "four", NULL) == 0);
        CHECK(cmd(c, &cap, "ACL", "WHOAMI", NULL) == 0 &&
              reply_is(cap.reply, REDIS_REPLY_STRING, "speezy_t"));
        CHECK(cmd(admin, &cap, "EXISTS", "t:db4", NULL) == 0 && cap.reply &&
              cap.reply->integer == 0);
        client_done(c);
    }
    url_with(url, sizeof(url), "speezy_t:wrong", 4);
    redis_client_t *bad = NULL;
    CHECK(redis_client_new(loop, url, NULL, &bad) == 0);
    CHECK(!run_until(is_connected, bad, 400));
    client_done(bad);
    CHECK(cmd(admin, &cap, "ACL", "DELUSER", "speezy_t", NULL) == 0);
    capture_reset(&cap);
    client_done(admin);
}

TEST(close_fails_everything_outstanding)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    capture_t get = {0}, blpop = {0};
    status_t ping = {0};
    CHECK(send_cmd(c, &get, NULL, "GET", "t:x", NULL) == 0);
    CHECK(send_cmd(c, &blpop, NULL, "BLPOP", "t:never", "0", NULL) == 0);
    CHECK(redis_ping(c, on_status, &ping, NULL) == 0);
    redis_client_close(c);
    CHECK(get.done == 1 && get.err == REDIS_EUNAVAILABLE);
    CHECK(blpop.done == 1 && blpop.err == REDIS_EUNAVAILABLE);
    CHECK(ping.done == 1 && ping.status == REDIS_EUNAVAILABLE);
    sleep_loop(50);
    CHECK(get.done == 1 && blpop.done == 1 && ping.done == 1);
}

/* A Lua state whose module (global core) reaches host. */
static lua_State *binding_state(bind_host_t *host, const char *module)
{
    lua_State *L = test_lua_new(host);
    bind_open_all(L);
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        fprintf(stderr, "  %s\n", lua_tostring(L, -1));
        CHECK(!"the module is registered");
        lua_close(L);
        return NULL;
    }
    lua_setglobal(L, "core");
    return L;
}

static void on_co_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    int *state = ud;
    *state = status == CO_CANCELLED ? 2 : status == CO_OK ? 1 : -1;
    lua_State *T = co_thread(co);
    if (status == CO_OK && nresults >= 1 && lua_type(T, 1) == LUA_TSTRING)
        *state = 3; /* a reply */
    if (status == CO_OK && nresults >= 2 && lua_istable(T, 2)) {
        lua_getfield(T, 2, "code");
        if (lua_isstring(T, -1) && !strcmp(lua_tostring(T, -1), "REDIS_UNAVAILABLE"))
            *state = 4; /* nil, err */
    }
    co_free(co);
}

/* Runs core.call(cmd, key, [arg]) in a request coroutine; returns it yielded (or done). */
static co_t *start_call(lua_State *L, int *state, const char *cmd, const char *key, const char *arg)
{
    static const char src[] = "local op = assert(core.call(...)) core.wait(op) "
                              "return core.result(op)";
    *state = 0;
    co_t *co = test_co_load(loop, L, CO_KIND_REQUEST, src, on_co_done, state);
    lua_State *T = co_thread(co);
    lua_pushstring(T, cmd);
    lua_pushstring(T, key);
    if (arg)
        lua_pushstring(T, arg);
    co_start(co, arg ? 3 : 2);
    return co;
}

TEST(binding_resumes_and_cancels)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    bind_host_t host = {.loop = loop, .redis = c};
    lua_State *L = binding_state(&host, "speezy.redis.core");
    if (!L) {
        client_done(c);
        return;
    }
    capture_t cap = {0};
    CHECK(cmd(c, &cap, "SET", "t:co", "v", NULL) == 0);
    int state;
    start_call(L, &state, "GET", "t:co", NULL);
    CHECK(state == 0 && run_until(flag_set, &state, 2000) && state == 3);
    /* Cancelled while waiting, then collected before the reply comes: the reply is dropped. */
    co_t *co = start_call(L, &state, "GET", "t:co", NULL);
    co_cancel(co);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(state == 2 && run_until(no_pending, c, 1000));
    /* A cancelled blocking command takes its dedicated connection with it. */
    co = start_call(L, &state, "BLPOP", "t:never", "0");
    sleep_loop(20);
    redis_stats_t st;
    redis_client_stats(c, &st);
    CHECK(state == 0 && st.blocking_busy == 1);
    co_cancel(co);
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(state == 2 && run_until(no_blocking_open, c, 1000));
    /* Closing the client resumes a waiting request with REDIS_UNAVAILABLE. */
    start_call(L, &state, "BLPOP", "t:never", "0");
    sleep_loop(20);
    client_done(c);
    CHECK(state == 4);
    lua_close(L);
    capture_reset(&cap);
    test_co_pool_close();
}

typedef struct {
    int done;
    co_status_t status;
    char result[128]; /* the first result, or the error message */
} outcome_t;

static void on_outcome(co_t *co, co_status_t status, int nresults, void *ud)
{
    outcome_t *o = ud;
    lua_State *T = co_thread(co);
    const char *s = nresults >= 1 ? lua_tostring(T, 1) : NULL;
    snprintf(o->result, sizeof(o->result), "%s", s ? s : "(none)");
    o->status = status;
    o->done = 1;
    co_free(co);
}

static co_t *start_chunk(lua_State *L, outcome_t *o, const char *src)
{
    memset(o, 0, sizeof(*o));
    co_t *co = test_co_load(loop, L, CO_KIND_REQUEST, src, on_outcome, o);
    co_start(co, 0);
    return co;
}

/* A request that called Redis where it can't yield (a gsub callback) died; the next request
 * reuses its pooled co. The dead one's reply must not resume the new one. */
TEST(binding_reply_never_resumes_a_reused_co)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    bind_host_t host = {.loop = loop, .redis = c};
    lua_State *L = binding_state(&host, "speezy.redis.core");
    if (!L) {
        client_done(c);
        return;
    }
    outcome_t a, b;
    co_t *first = start_chunk(L, &a,
                              "return (string.gsub('k', 'k', function() "
                              "local op = core.call('GET', 't:co') core.wait(op) end))");
    CHECK(a.done && a.status == CO_ERROR && strstr(a.result, "cannot wait"));
    co_t *second = start_chunk(L, &b,
                               "local op = core.call('BLPOP', 't:never', '0.3') core.wait(op) "
                               "return core.result(op) == nil and 'timed out' or 'popped'");
    CHECK(second == first); /* the pool handed out the same co_t */
    CHECK(run_until(flag_set, &b.done, 2000) && b.status == CO_OK);
    CHECK_STR(b.result, "timed out");
    lua_close(L);
    client_done(c);
    test_co_pool_close();
}

/* The connection dies under 60 waiting requests, a third of them cancelled first: hiredis
 * fails every pending command from inside its own free, and the resumed requests send
 * again meanwhile. Each request ends exactly once, with replies or REDIS_UNAVAILABLE. */
TEST(binding_disconnect_under_many_waiters)
{
    redis_client_t *c = client_at(base_url, NULL), *killer = client_at(base_url, NULL);
    if (!c || !killer)
        return;
    bind_host_t host = {.loop = loop, .redis = c};
    lua_State *L = binding_state(&host, "speezy.redis.core");
    if (!L) {
        client_done(c);
        client_done(killer);
        return;
    }
    static const char src[] = "local cmds = {}\n"
                              "for i = 1, 100 do cmds[i] = {'INCR', 't:many'} end\n"
                              "for round = 1, 3 do\n"
                              "  local op, err = core.pipeline(cmds)\n"
                              "  if not op then return err.code end\n"
                              "  core.wait(op)\n"
                              "  local res, rerr = core.result(op)\n"
                              "  if not res then return rerr.code end\n"
                              "  collectgarbage('step')\n"
                              "end\n"
                              "return 'done'\n";
    enum { N = 60 };
    outcome_t o[N];
    co_t *cos[N];
    for (int i = 0; i < N; i++)
        cos[i] = start_chunk(L, &o[i], src);
    for (int i = 0; i < N; i += 3)
        co_cancel(cos[i]);
    capture_t kcap = {0};
    CHECK(send_cmd(killer, &kcap, NULL, "CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes",
                   NULL) == 0);
    int all = 0;
    for (uint64_t end = uv_now(loop) + 5000; !all && uv_now(loop) < end;) {
        run_until(never, NULL, 10);
        all = 1;
        for (int i = 0; i < N; i++)
            all &= o[i].done;
    }
    CHECK(all);
    for (int i = 0; i < N; i++) {
        int ok = i % 3 == 0 ? o[i].status == CO_CANCELLED
                            : o[i].status == CO_OK && (!strcmp(o[i].result, "done") ||
                                                       !strcmp(o[i].result, "REDIS_UNAVAILABLE"));
        if (!ok)
            fprintf(stderr, "  request %d: status %d, %s\n", i, o[i].status, o[i].result);
        CHECK(ok);
    }
    lua_gc(L, LUA_GCCOLLECT, 0);
    CHECK(run_until(no_pending, c, 2000));
    lua_close(L);
    capture_reset(&kcap);
    client_done(c);
    client_done(killer);
    test_co_pool_close();
}

/* The VM allocator's budget, which the chunk moves with limit(extra) / limit(), like a
 * generation's VM_MEMORY_LIMIT_MB. */
static vm_budget_t budget;

static int budget_limit(lua_State *L)
{
    budget.limit = lua_isnoneornil(L, 1) ? SIZE_MAX : budget.used + (size_t)lua_tointeger(L, 1);
    return 0;
}

/* Out of memory in the middle of redis.pipeline{MULTI, ..., EXEC}: whatever was sent before
 * the error, the shared connection must never be left inside MULTI (every later command of
 * every request would be QUEUED). The budget is raised step by step until the pipeline fits,
 * so one step fails wherever the binding allocates. */
TEST(binding_pipeline_out_of_memory_sends_nothing)
{
    redis_client_t *c = client_at(base_url, NULL);
    if (!c)
        return;
    bind_host_t host = {.loop = loop, .redis = c};
    budget = (vm_budget_t){.limit = SIZE_MAX};
    lua_State *L = vm_budget_newstate(&budget);
    CHECK(L != NULL);
    if (!L) {
        client_done(c);
        return;
    }
    luaL_openlibs(L);
    bind_set_host(L, &host);
    bind_open_all(L);
    lua_register(L, "limit", budget_limit);
    CHECK(luaL_dostring(L, "core = require 'speezy.redis.core'") == 0);
    static const char src[] =
        "local function call(...) local op = core.call(...) core.wait(op) "
        "  return core.result(op) end\n"
        "call('DEL', 't:multi')\n"
        "local cmds = {{'MULTI'}}\n"
        "for i = 1, 30 do\n"
        "  local c = {'RPUSH', 't:multi'}\n"
        "  for j = 1, 20 do c[#c + 1] = j + 0.5 end\n"
        "  cmds[#cmds + 1] = c\n"
        "end\n"
        "cmds[#cmds + 1] = {'EXEC'}\n"
        "for extra = 0, 200000, 64 do\n"
        "  collectgarbage()\n"
        "  limit(extra)\n"
        "  local ok, op = pcall(core.pipeline, cmds)\n"
        "  limit()\n"
        "  local pong = call('PING')\n"
        "  if pong ~= 'PONG' then return 'left inside MULTI at +' .. extra .. ': ' .. "
        "    tostring(pong) end\n"
        "  if ok then\n"
        "    core.wait(op)\n"
        "    local n = call('LLEN', 't:multi')\n"
        "    return n == 600 and 'ok' or 'partly sent: ' .. n .. ' items'\n"
        "  end\n"
        "  local n = call('LLEN', 't:multi')\n"
        "  if n ~= 0 then return 'a failed pipeline ran: ' .. n .. ' items at +' .. extra end\n"
        "end\n"
        "return 'the pipeline never fit'\n";
    outcome_t o;
    start_chunk(L, &o, src);
    CHECK(run_until(flag_set, &o.done, 20000) && o.status == CO_OK);
    CHECK_STR(o.result, "ok");
    vm_budget_close(L, &budget);
    client_done(c);
    test_co_pool_close();
}

/* GET /readyz's probe, PostgreSQL not configured: both known at once, no yield. With Redis
 * up, its round trip; with Redis paused, one answer at READYZ_TIMEOUT_MS naming it TIMEOUT;
 * cancelled while waiting, nothing left behind (loop_left_clean, and ASan's leak check). */
TEST(ready_probe_is_bounded_and_cancellable)
{
    static const char src[] = "local pg_ms, pg_err, ms, err = core.probe()\n"
                              "return table.concat({tostring(pg_ms), core.errors[pg_err], "
                              "type(ms), tostring(core.errors[err])}, ' ')";
    config_t cfg = {.readyz_timeout_ms = 150};
    bind_host_t host = {.loop = loop, .cfg = &cfg};
    lua_State *L = binding_state(&host, "speezy.ready.core");
    if (!L)
        return;
    outcome_t o;
    start_chunk(L, &o, src);
    CHECK(o.done && o.status == CO_OK);
    CHECK_STR(o.result, "nil DB_UNAVAILABLE nil REDIS_UNAVAILABLE");

    redis_client_t *c = client_at(base_url, NULL), *admin = client_at(base_url, NULL);
    if (!c || !admin) {
        lua_close(L);
        return;
    }
    host.redis = c;
    start_chunk(L, &o, src);
    CHECK(run_until(flag_set, &o.done, 2000) && o.status == CO_OK);
    CHECK_STR(o.result, "nil DB_UNAVAILABLE number nil");

    capture_t acap = {0};
    CHECK(cmd(admin, &acap, "CLIENT", "PAUSE", "600", "ALL", NULL) == 0);
    uint64_t t0 = uv_now(loop);
    start_chunk(L, &o, src);
    CHECK(run_until(flag_set, &o.done, 2000) && o.status == CO_OK);
    uint64_t took = uv_now(loop) - t0;
    CHECK(took >= 140 && took < 450); /* the bound, not the pause (600 ms) */
    CHECK_STR(o.result, "nil DB_UNAVAILABLE nil TIMEOUT");
    co_t *co = start_chunk(L, &o, src);
    co_cancel(co);
    CHECK(o.done && o.status == CO_CANCELLED);
    sleep_loop(600); /* the pause ends: the abandoned pings' replies are dropped */
    CHECK(run_until(no_pending, c, 1000));
    lua_close(L);
    capture_reset(&acap);
    client_done(c);
    client_done(admin);
    test_co_pool_close();
}

/* Every client closed all its handles: nothing leaks into the worker's loop. */
TEST(loop_left_clean)
{
    sleep_loop(50);
    CHECK(uv_loop_close(loop) == 0);
}

int main(void)
{
    loop = uv_default_loop();
    base_url = getenv("SPEEZY_TEST_REDIS_URL");
    RUN(url_parse);
    RUN(command_classes);
    RUN(blocking_commands_own_timeouts);
    if (!base_url || redis_url_parse(base_url, &base) < 0) {
        fprintf(stderr, "SPEEZY_TEST_REDIS_URL is not set to a redis:// URL: the harness "
                        "starts a redis-server and passes it there\n");
        test_failed++;
        return test_summary();
    }
    RUN(binary_round_trip);
    RUN(pipelining_many);
    RUN(commands_of_one_turn_leave_in_one_write);
    RUN(commands_from_a_timer_leave_before_the_loop_waits);
    RUN(command_larger_than_the_socket_arrives_whole);
    RUN(error_nil_and_nested_replies);
    RUN(blocking_command_on_dedicated_connection);
    RUN(blocking_pool_is_bounded);
    RUN(abandon);
    RUN(fail_fast_while_unreachable);
    RUN(backoff_when_the_server_hangs_up);
    RUN(first_connect_waits_for_handshake);
    RUN(resolves_host_names);
    RUN(reconnect_after_client_kill);
    RUN(timeout_resets_connection);
    RUN(blocking_connection_handshake_times_out);
    RUN(blocking_command_times_out_past_its_own_timeout);
    RUN(auth_and_select);
    RUN(close_fails_everything_outstanding);
    RUN(binding_resumes_and_cancels);
    RUN(binding_reply_never_resumes_a_reused_co);
    RUN(binding_pipeline_out_of_memory_sends_nothing);
    RUN(binding_disconnect_under_many_waiters);
    RUN(ready_probe_is_bounded_and_cancellable);
    RUN(loop_left_clean);
    return test_summary();
}
