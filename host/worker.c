/* worker.c — the request walk of one worker, and its reload and drain.
 *
 * accept -> parse (http) -> route (the current generation's router) -> coroutine (co, on the
 * generation pinned for this request) -> I/O (bindings) -> respond (http) -> access log.
 * A reload builds the next generation beside the current one and swaps the pointer; a
 * request keeps the generation it started on until it ends. */
#include "worker.h"

#include <lauxlib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "co.h"
#include "crypto.h"
#include "http.h"
#include "httpc.h"
#include "jobrun.h"
#include "json.h"
#include "log.h"
#include "netaddr.h"
#include "pg.h"
#include "queue.h"
#include "redis.h"
#include "router.h"
#include "ui.h"
#include "vm.h"

#define SWEEP_INTERVAL_MS 500
#define GEN_DRAIN_MS 60000 /* a retired generation's requests are cancelled after this */
#define MAX_RETIRED_GENS 4 /* N live generations cost N heaps: bound them */

typedef struct wreq wreq_t;

typedef struct {
    uv_loop_t *loop;
    const config_t *cfg;
    bind_host_t host;
    vm_gen_t *gen;
    http_server_t *http;
    uv_signal_t sig[4];
    uv_timer_t sweep;
    uv_timer_t drain_deadline;
    uv_check_t flush;
    wreq_t *inflight;
    wreq_t *spare; /* finished wreqs, reused: no calloc per request */
    unsigned ninflight;
    int index;
    int draining;
    int exit_code;
    uint64_t started_ms;
    uint64_t requests;
    worker_slot_t *slots;
    int nslots;
    char last_reload_error[1024];
    json_buf_t out; /* the JSON answers the worker writes itself (/healthz, /admin/) */
    jobrun_t *jobs; /* NULL when this worker consumes no queue */
    ui_t *ui;       /* the host's own pages (/docs) */
    int http_drained, jobs_drained;
} worker_t;

struct wreq {
    worker_t *w;
    http_req_t *req;
    uint64_t serial; /* w->requests when it started: tells a stale req table from this one */
    vm_gen_t *gen;
    co_t *co;
    int aborted;
    wreq_t *prev, *next;
};

/* ---- responses the host writes itself ------------------------------------------------------ */

/* The answer's JSON starts {"success":true in the worker's buffer, reused by every answer. */
static json_buf_t *begin_json(worker_t *w)
{
    json_buf_t *b = &w->out;
    json_reset(b);
    json_obj_open(b);
    json_field_bool(b, "success", 1);
    return b;
}

/* Closes the object begun by begin_json and sends it; an answer the writer could not finish
 * (out of memory) becomes a 500, never a cut body. */
static void respond_json(worker_t *w, http_req_t *req, int status)
{
    json_buf_t *b = &w->out;
    json_obj_close(b);
    if (!json_ok(b)) {
        http_respond_error(req, 500, "INTERNAL", "out of memory", NULL, 0);
        return;
    }
    http_header_t h = {"Content-Type", 12, "application/json", 16};
    http_respond(req, status, &h, 1, b->p, b->len);
    if (b->cap > 65536)
        json_free(b);
}

/* A worker slot's generation, NUL-terminated: the slot is shared memory another process
 * writes, so it is copied once and read from the copy. */
static void slot_generation(const worker_slot_t *s, char out[17])
{
    for (int j = 0; j < 16; j++)
        out[j] = s->generation[j];
    out[16] = '\0';
}

/* "consistent" says whether every live worker serves this worker's generation, "workers"
 * lists them. */
static void put_workers(const worker_t *w, json_buf_t *b)
{
    int consistent = 1;
    char gen[17];
    for (int i = 0; w->slots && i < w->nslots; i++) {
        slot_generation(&w->slots[i], gen);
        consistent &= !w->slots[i].pid || strcmp(gen, w->gen->short_hash) == 0;
    }
    json_field_bool(b, "consistent", consistent);
    json_key(b, "workers");
    json_arr_open(b);
    for (int i = 0; w->slots && i < w->nslots; i++) {
        const worker_slot_t *s = &w->slots[i];
        if (!s->pid)
            continue;
        slot_generation(s, gen);
        json_obj_open(b);
        json_field_int(b, "worker", i);
        json_field_int(b, "pid", s->pid);
        json_field_str(b, "generation", gen);
        json_obj_close(b);
    }
    json_arr_close(b);
}

static void serve_healthz(worker_t *w, http_req_t *req)
{
    json_buf_t *b = begin_json(w);
    json_field_str(b, "status", w->draining ? "draining" : "ok");
    json_field_str(b, "generation", w->gen->short_hash);
    json_field_uint(b, "generationSeq", w->gen->seq);
    json_field_int(b, "pid", getpid());
    json_field_int(b, "worker", w->index);
    json_field_uint(b, "uptimeMs", uv_now(w->loop) - w->started_ms);
    json_field_uint(b, "inflight", w->ninflight);
    json_field_uint(b, "connections", http_server_connections(w->http));
    json_field_str(b, "env", w->cfg->env_name);
    put_workers(w, b);
    respond_json(w, req, 200);
}

/* ---- the walk ------------------------------------------------------------------------------ */

static void wreq_unlink(worker_t *w, wreq_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        w->inflight = r->next;
    if (r->next)
        r->next->prev = r->prev;
    w->ninflight--;
}

static int valid_header(const char *name, size_t nlen, const char *value, size_t vlen)
{
    if (nlen == 0)
        return 0;
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= 32 || c >= 127 || c == ':')
            return 0;
    }
    for (size_t i = 0; i < vlen; i++)
        if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
            return 0;
    return 1;
}

#define MAX_RESPONSE_HEADERS 32

/* dispatch returned: status, body (true: held by the JSON encoder), content type, headers
 * table (or nil). */
static void respond_from_lua(wreq_t *r, lua_State *L)
{
    /* hs[0] is the one Content-Type: the default, dispatch's, or the headers table's */
    http_header_t hs[MAX_RESPONSE_HEADERS];
    hs[0] = (http_header_t){"Content-Type", 12, "text/plain; charset=utf-8", 25};
    size_t nh = 1;
    int status = (int)lua_tointeger(L, 1);
    size_t blen = 0;
    const char *body =
        lua_type(L, 2) == LUA_TBOOLEAN ? bind_json_held(L, &blen) : lua_tolstring(L, 2, &blen);
    if (lua_isstring(L, 3))
        hs[0].value = lua_tolstring(L, 3, &hs[0].value_len);
    if (lua_istable(L, 4)) {
        lua_pushnil(L);
        while (lua_next(L, 4) != 0 && nh < MAX_RESPONSE_HEADERS) {
            if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
                http_header_t *h = &hs[nh];
                h->name = lua_tolstring(L, -2, &h->name_len);
                h->value = lua_tolstring(L, -1, &h->value_len);
                if (!valid_header(h->name, h->name_len, h->value, h->value_len))
                    log_warn("dropped an invalid response header from route %s", r->req->route);
                else if (h->name_len == 12 && strncasecmp(h->name, "content-type", 12) == 0)
                    hs[0].value = h->value, hs[0].value_len = h->value_len;
                else if (!(h->name_len == 14 && strncasecmp(h->name, "content-length", 14) == 0) &&
                         !(h->name_len == 10 && strncasecmp(h->name, "connection", 10) == 0))
                    nh++;
            }
            lua_pop(L, 1);
        }
    }
    http_respond(r->req, status, hs, nh, body ? body : "", blen);
}

static void on_co_done(co_t *co, co_status_t status, int nresults, void *ud)
{
    wreq_t *r = ud;
    worker_t *w = r->w;
    lua_State *L = co_thread(co);
    if (!r->aborted) {
        switch (status) {
        case CO_OK:
            respond_from_lua(r, L);
            break;
        case CO_TIMEOUT: {
            char msg[128];
            snprintf(msg, sizeof(msg), "the request did not complete within %u ms",
                     w->cfg->request_timeout_ms);
            http_respond_error(r->req, 504, "TIMEOUT", msg, NULL, 0);
            break;
        }
        case CO_CANCELLED:
            http_respond_error(r->req, 503, "SHUTTING_DOWN", "the server is restarting, retry",
                               NULL, 0);
            break;
        case CO_ERROR: {
            log_msg(LOG_ERROR, r->req->id, "request coroutine failed: %s", lua_tostring(L, -1));
            http_respond_error(r->req, 500, "INTERNAL", "internal server error", NULL, 0);
            break;
        }
        }
    }
    (void)nresults;
    wreq_unlink(w, r);
    co_free(co);
    vm_gen_reclaim(r->gen);
    vm_gen_unpin(r->gen);
    r->next = w->spare;
    w->spare = r;
}

/* Path parameters arrive percent-encoded; handlers get the decoded bytes. */
static void push_decoded(lua_State *L, const char *s, size_t n)
{
    char stack[512];
    char *out = n <= sizeof(stack) ? stack : malloc(n);
    if (!out) {
        lua_pushlstring(L, s, n);
        return;
    }
    lua_pushlstring(L, out, router_unescape(s, n, out));
    if (out != stack)
        free(out);
}

/* dispatch(handler, method, params|nil, serial): the rest of the request table (path, body,
 * headers, ...) is built by push_request_field only when a script reads it. */
static int push_request(lua_State *L, const http_req_t *req, const router_match_t *m,
                        uint64_t serial)
{
    lua_pushlstring(L, req->method, req->method_len);
    if (m->nparams) {
        lua_createtable(L, 0, m->nparams);
        for (int i = 0; i < m->nparams; i++) {
            lua_pushlstring(L, m->params[i].name, m->params[i].name_len);
            push_decoded(L, m->params[i].value, m->params[i].value_len);
            lua_rawset(L, -3);
        }
    } else {
        lua_pushnil(L);
    }
    lua_pushnumber(L, (lua_Number)serial);
    return 3;
}

/* Header names are lower-cased; repeated headers are joined with ", " (RFC 9110). */
static void push_headers(lua_State *L, const http_req_t *req)
{
    lua_createtable(L, 0, (int)req->nheaders);
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        char name[256];
        size_t n = h->name_len < sizeof(name) ? h->name_len : sizeof(name) - 1;
        for (size_t j = 0; j < n; j++)
            name[j] =
                (char)((h->name[j] >= 'A' && h->name[j] <= 'Z') ? h->name[j] + 32 : h->name[j]);
        lua_pushlstring(L, name, n);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isnil(L, -1)) {
            lua_pop(L, 1);
            lua_pushlstring(L, h->value, h->value_len);
        } else {
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, h->value, h->value_len);
            lua_concat(L, 3);
        }
        lua_rawset(L, -3);
    }
}

/* bind_host_t.request_field: only for the request co serves, and only while it does. */
static int push_request_field(lua_State *L, co_t *co, lua_Number serial, const char *name)
{
    if (co_kind(co) != CO_KIND_REQUEST)
        return -1;
    const wreq_t *r = co_userdata(co);
    if ((lua_Number)r->serial != serial || r->aborted)
        return -1;
    const http_req_t *req = r->req;
    if (strcmp(name, "path") == 0)
        lua_pushlstring(L, req->path, req->path_len);
    else if (strcmp(name, "query_string") == 0)
        lua_pushlstring(L, req->query, req->query_len);
    else if (strcmp(name, "body") == 0)
        lua_pushlstring(L, req->body, req->body_len);
    else if (strcmp(name, "ip") == 0)
        lua_pushstring(L, req->ip);
    else if (strcmp(name, "id") == 0)
        lua_pushstring(L, req->id);
    else if (strcmp(name, "headers") == 0)
        push_headers(L, req);
    else
        lua_pushnil(L);
    return 0;
}

static void start_handler(worker_t *w, http_req_t *req, const router_match_t *m)
{
    wreq_t *r = w->spare;
    if (r)
        w->spare = r->next;
    else if (!(r = malloc(sizeof(*r)))) {
        http_respond_error(req, 503, "OVERLOADED", "out of memory", NULL, 0);
        return;
    }
    memset(r, 0, sizeof(*r));
    vm_gen_t *gen = w->gen;
    co_t *co = co_new(w->host.cos, gen->L, CO_KIND_REQUEST, on_co_done, r);
    if (!co) {
        r->next = w->spare;
        w->spare = r;
        http_respond_error(req, 503, "OVERLOADED", "out of memory", NULL, 0);
        return;
    }
    r->w = w;
    r->req = req;
    r->gen = gen;
    r->co = co;
    req->data = r;
    vm_gen_pin(gen);
    r->next = w->inflight;
    if (w->inflight)
        w->inflight->prev = r;
    w->inflight = r;
    w->ninflight++;
    r->serial = ++w->requests;

    lua_State *T = co_thread(co);
    lua_rawgeti(T, LUA_REGISTRYINDEX, gen->dispatch_ref);
    lua_pushinteger(T, m->handler);
    int nargs = 1 + push_request(T, req, m, r->serial);
    co_set_deadline(co, w->cfg->request_timeout_ms);
    co_start(co, nargs);
}

static int is_request(const http_req_t *req, const char *method, const char *path)
{
    size_t ml = strlen(method), pl = strlen(path);
    int method_ok = (req->method_len == ml && memcmp(req->method, method, ml) == 0) ||
                    (req->is_head && strcmp(method, "GET") == 0);
    return method_ok && req->path_len == pl && memcmp(req->path, path, pl) == 0;
}

/* ---- operations: the /admin/ routes, behind ADMIN_TOKEN
 * ------------------------------------------- */

/* Bearer token, compared in constant time; no ADMIN_TOKEN configured means no admin API. */
static int admin_authorized(const worker_t *w, const http_req_t *req)
{
    const char *want = w->cfg->admin_token;
    const http_header_t *h = http_req_header(req, "authorization");
    if (!want || !h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return 0;
    size_t n = strlen(want);
    return h->value_len - 7 == n && crypto_equal(h->value + 7, want, n);
}

/* Validates the scripts here (the reply can name file:line), then asks the master to
 * reload every worker. */
static void admin_reload(worker_t *w, http_req_t *req)
{
    vm_gen_t *next;
    char err[sizeof(w->last_reload_error)];
    bind_host_t probe = w->host;
    probe.loop = NULL; /* loading runs no I/O */
    if (vm_gen_load(w->cfg->scripts_dir, &probe, &next, err, sizeof(err)) < 0) {
        http_respond_error(req, 422, "RELOAD_REFUSED", err, NULL, 0);
        return;
    }
    json_buf_t *b = begin_json(w);
    json_field_str(b, "message", "reload requested");
    json_field_str(b, "generation", next->short_hash);
    vm_gen_unpin(next);
    if (kill(getppid(), SIGHUP) < 0) {
        http_respond_error(req, 500, "INTERNAL", "cannot signal the master", NULL, 0);
        return;
    }
    respond_json(w, req, 202);
}

static void put_queue_stats(const queue_stats_t *st, void *ud)
{
    json_buf_t *b = ud;
    json_obj_open(b);
    json_field_str(b, "name", st->name);
    json_field_int(b, "running", st->running);
    json_field_uint(b, "completed", st->completed);
    json_field_uint(b, "failed", st->failed);
    json_field_uint(b, "retried", st->retried);
    json_field_uint(b, "durationUsSum", st->duration_us_sum);
    json_field_uint(b, "durationUsMax", st->duration_us_max);
    json_obj_close(b);
}

static void admin_status(worker_t *w, http_req_t *req)
{
    pg_pool_stats_t pg = {0};
    redis_stats_t rd = {0};
    if (w->host.pg)
        pg_pool_stats(w->host.pg, &pg);
    if (w->host.redis)
        redis_client_stats(w->host.redis, &rd);
    json_buf_t *b = begin_json(w);
    json_field_str(b, "generation", w->gen->short_hash);
    put_workers(w, b);
    json_field_str(b, "lastReloadError", w->last_reload_error[0] ? w->last_reload_error : NULL);
    json_field_uint(b, "inflight", w->ninflight);
    json_field_uint(b, "requests", w->requests);
    json_field_uint(b, "vmMemoryBytes", w->gen->mem.used);
    json_field_int(b, "jobsRunning", w->jobs ? jobrun_running(w->jobs) : 0);
    json_key(b, "postgres");
    json_obj_open(b);
    json_field_int(b, "size", pg.size);
    json_field_int(b, "idle", pg.idle);
    json_field_int(b, "busy", pg.busy);
    json_field_int(b, "waiting", pg.waiting);
    json_field_int(b, "connected", pg.connected);
    json_obj_close(b);
    json_key(b, "redis");
    json_obj_open(b);
    json_field_int(b, "connected", rd.connected);
    json_field_uint(b, "pending", rd.pending);
    json_obj_close(b);
    /* this worker's consumer, per queue (the counts in Redis: `speezy jobs status`) */
    json_key(b, "queues");
    json_arr_open(b);
    if (w->jobs)
        queue_consumer_stats(jobrun_consumer(w->jobs), put_queue_stats, b);
    json_arr_close(b);
    respond_json(w, req, 200);
}

/* Returns 1 when the request was an /admin/ one (answered here). */
static int serve_admin(worker_t *w, http_req_t *req)
{
    if (req->path_len < 7 || memcmp(req->path, "/admin/", 7) != 0)
        return 0;
    req->route = "/admin/*";
    if (!w->cfg->admin_token)
        http_respond_error(req, 404, "NOT_FOUND", "no route matches this path", NULL, 0);
    else if (!admin_authorized(w, req))
        http_respond_error(req, 401, "UNAUTHORIZED", "admin token required", NULL, 0);
    else if (is_request(req, "POST", "/admin/reload"))
        admin_reload(w, req);
    else if (is_request(req, "GET", "/admin/status"))
        admin_status(w, req);
    else
        http_respond_error(req, 404, "NOT_FOUND", "no such admin operation", NULL, 0);
    return 1;
}

/* req->ip becomes the client's address when the peer is a trusted proxy (netaddr_client), for
 * the script's req.ip and the access line alike. */
static void client_ip(const worker_t *w, http_req_t *req)
{
    const char *xff[NETADDR_XFF_MAX + 1];
    size_t len[NETADDR_XFF_MAX + 1], n = 0;
    for (size_t i = 0; i < req->nheaders && n <= NETADDR_XFF_MAX; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len == 15 && strncasecmp(h->name, "X-Forwarded-For", 15) == 0)
            xff[n] = h->value, len[n++] = h->value_len;
    }
    char out[NETADDR_TEXT_SIZE];
    if (netaddr_client(req->ip, xff, len, n, w->cfg->trusted_proxies, w->cfg->ntrusted_proxies,
                       out))
        snprintf(req->ip, sizeof(req->ip), "%s", out);
}

static void on_request(http_req_t *req, void *ud)
{
    worker_t *w = ud;
    if (w->cfg->ntrusted_proxies)
        client_ip(w, req);
    if (is_request(req, "GET", "/healthz")) {
        req->route = "/healthz";
        serve_healthz(w, req);
        return;
    }
    if (serve_admin(w, req) || ui_serve(w->ui, req))
        return;
    router_match_t m;
    int rc =
        router_match(w->gen->router, req->method, req->method_len, req->path, req->path_len, &m);
    if (rc == ROUTER_NOT_FOUND) {
        http_respond_error(req, 404, "NOT_FOUND", "no route matches this path", NULL, 0);
        return;
    }
    if (rc == ROUTER_METHOD_NOT_ALLOWED) {
        http_header_t allow = {"Allow", 5, m.allow, strlen(m.allow)};
        if (req->method_len == 7 && memcmp(req->method, "OPTIONS", 7) == 0) {
            http_respond(req, 204, &allow, 1, NULL, 0);
            return;
        }
        http_respond_error(req, 405, "METHOD_NOT_ALLOWED",
                           "this method is not allowed on this path", &allow, 1);
        return;
    }
    req->route = m.template;
    start_handler(w, req, &m);
}

/* One access line per request, whoever ended it. */
static void access_line(const http_req_t *req, int status, size_t bytes_out, const vm_gen_t *gen)
{
    log_access_t a = {
        .request_id = req->id,
        .method = req->method,
        .method_len = req->method_len,
        .route = req->route,
        .path = req->path,
        .path_len = req->path_len,
        .ip = req->ip,
        .status = status,
        .duration_us = (uv_hrtime() - req->start_ns) / 1000,
        .bytes_out = bytes_out,
        .generation = gen->short_hash,
    };
    log_access(&a);
}

static void on_abort(http_req_t *req, void *ud)
{
    wreq_t *r = req->data;
    (void)ud;
    if (!r)
        return;
    r->aborted = 1;
    access_line(req, 499, 0, r->gen); /* 499: client closed, as nginx logs it */
    co_cancel(r->co);
}

static void on_done(const http_req_t *req, int status, size_t bytes_out, void *ud)
{
    worker_t *w = ud;
    const wreq_t *r = req->data;
    access_line(req, status, bytes_out, r ? r->gen : w->gen);
}

static void publish_generation(worker_t *w)
{
    if (!w->slots)
        return;
    worker_slot_t *s = &w->slots[w->index];
    s->pid = (int)getpid();
    s->generation_seq = w->gen->seq;
    for (int i = 0; i < 17; i++)
        s->generation[i] = w->gen->short_hash[i];
}

/* ---- reload, sweep, drain ---------------------------------------------------------------------
 */

static void reload(worker_t *w)
{
    vm_gen_t *next;
    char err[sizeof(w->last_reload_error)];
    if (vm_gen_load(w->cfg->scripts_dir, &w->host, &next, err, sizeof(err)) < 0) {
        snprintf(w->last_reload_error, sizeof(w->last_reload_error), "%s", err);
        log_error("reload refused, still serving generation %s: %s", w->gen->short_hash, err);
        return;
    }
    vm_gen_t *old = w->gen;
    w->gen = next;
    w->host.generation = next->short_hash;
    w->last_reload_error[0] = '\0';
    publish_generation(w);
    if (w->jobs)
        jobrun_set_generation(w->jobs, next);
    log_info("reloaded: generation %s -> %s (%d files, %zu routes)", old->short_hash,
             next->short_hash, next->nfiles, router_count(next->router));
    old->retired_at_ms = uv_now(w->loop);
    vm_gen_unpin(old);
}

/* Cancels requests still running on a generation retired too long ago, or on the oldest
 * generations when too many are alive. */
static void on_sweep(uv_timer_t *t)
{
    worker_t *w = t->data;
    uint64_t now = uv_now(w->loop);
    if (w->slots)
        w->slots[w->index].heartbeat_ms = now;
    if (w->jobs)
        jobrun_sweep(w->jobs, now, GEN_DRAIN_MS);
    vm_gen_t *retired[MAX_RETIRED_GENS + 1];
    int nretired = 0;
    wreq_t *next;
    for (wreq_t *r = w->inflight; r; r = next) {
        next = r->next;
        if (r->gen == w->gen)
            continue;
        int seen = 0;
        for (int i = 0; i < nretired; i++)
            seen |= retired[i] == r->gen;
        int too_many = !seen && nretired == MAX_RETIRED_GENS;
        if (!seen && !too_many)
            retired[nretired++] = r->gen;
        if (too_many || now - r->gen->retired_at_ms > GEN_DRAIN_MS) {
            log_warn("cancelling request %s still running on retired generation %s", r->req->id,
                     r->gen->short_hash);
            co_cancel(r->co);
        }
    }
}

static void on_flush(uv_check_t *c)
{
    (void)c;
    log_flush();
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void finish(worker_t *w)
{
    uv_timer_stop(&w->drain_deadline);
    log_info("worker %d stopped after %llu requests", w->index, (unsigned long long)w->requests);
    log_flush();
    uv_stop(w->loop);
}

/* A worker stops once both its requests and its jobs are done. */
static void finish_if_drained(worker_t *w)
{
    if (w->http_drained && w->jobs_drained)
        finish(w);
}

static void on_drained(void *ud)
{
    worker_t *w = ud;
    w->http_drained = 1;
    finish_if_drained(w);
}

static void on_jobs_drained(void *ud)
{
    worker_t *w = ud;
    w->jobs_drained = 1;
    finish_if_drained(w);
}

/* Requests still running are closed; jobs still running go back to their queues (never lost,
 * never run twice at once), and the worker stops once Redis has them. */
static void on_drain_deadline(uv_timer_t *t)
{
    worker_t *w = t->data;
    log_warn("drain deadline passed with %u requests and %d jobs in flight: closing them",
             w->ninflight, w->jobs ? jobrun_running(w->jobs) : 0);
    if (w->http)
        http_server_close(w->http);
    w->http_drained = 1;
    if (w->jobs && !w->jobs_drained)
        jobrun_abort(w->jobs);
    finish_if_drained(w);
}

static void drain(worker_t *w)
{
    if (w->draining)
        return;
    w->draining = 1;
    log_info("worker %d draining (%u requests, %d jobs in flight)", w->index, w->ninflight,
             w->jobs ? jobrun_running(w->jobs) : 0);
    uv_timer_start(&w->drain_deadline, on_drain_deadline, w->cfg->drain_timeout_ms, 0);
    if (w->jobs)
        jobrun_drain(w->jobs, on_jobs_drained, w);
    if (w->http)
        http_server_drain(w->http);
}

static void on_signal(uv_signal_t *s, int signum)
{
    worker_t *w = s->data;
    if (signum == SIGHUP)
        reload(w);
    else
        drain(w);
}

/* ---- process entry ----------------------------------------------------------------------------
 */

/* Pools connect in the background: a database that is down at start-up only makes the
 * routes that need it answer 503 until it is back. */
int worker_host_open(uv_loop_t *loop, const config_t *cfg, bind_host_t *host)
{
    memset(host, 0, sizeof(*host));
    host->loop = loop;
    host->cfg = cfg;
    host->request_field = push_request_field;
    if (!(host->cos = co_pool_new(loop)))
        return -1;
    if (cfg->database_url) {
        pg_pool_opts_t o = {.size = cfg->pg_pool_size,
                            .wait_ms = cfg->pg_pool_wait_ms,
                            .statement_timeout_ms = cfg->pg_statement_timeout_ms,
                            .connect_timeout_ms = cfg->pg_connect_timeout_ms,
                            .pipeline_depth = cfg->pg_pipeline_depth,
                            .prepared_max =
                                cfg->pg_prepared_statements ? cfg->pg_prepared_statements : -1};
        int rc = pg_pool_new(loop, cfg->database_url, &o, &host->pg);
        if (rc < 0) {
            log_error("DATABASE_URL is not usable: %s", pg_error_name(rc));
            return -1;
        }
    }
    if (cfg->redis_url) {
        redis_opts_t o = {.timeout_ms = cfg->redis_timeout_ms,
                          .connect_timeout_ms = cfg->redis_timeout_ms,
                          .blocking_pool = cfg->redis_blocking_pool};
        int rc = redis_client_new(loop, cfg->redis_url, &o, &host->redis);
        if (rc < 0) {
            log_error("REDIS_URL is not usable: %s", redis_strerror(rc));
            return -1;
        }
        if (queue_adder_new(loop, host->redis, &host->queue_adder) < 0)
            return -1;
    }
    httpc_opts_t ho = {.ca_file = cfg->http_ca_file,
                       .max_response_bytes = cfg->http_max_response_bytes};
    if (httpc_new(loop, &ho, &host->httpc) < 0) {
        log_error("cannot start the outgoing HTTP client (libcurl)");
        return -1;
    }
    return 0;
}

void worker_host_close(bind_host_t *host)
{
    queue_adder_close(host->queue_adder);
    host->queue_adder = NULL;
    httpc_close(host->httpc);
    host->httpc = NULL;
    if (host->pg)
        pg_pool_close(host->pg);
    if (host->redis)
        redis_client_close(host->redis);
    host->pg = NULL;
    host->redis = NULL;
    if (host->cos)
        co_pool_close(host->cos);
    host->cos = NULL;
}

static int start_signals(worker_t *w)
{
    static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGQUIT};
    for (int i = 0; i < 4; i++) {
        uv_signal_init(w->loop, &w->sig[i]);
        w->sig[i].data = w;
        if (uv_signal_start(&w->sig[i], on_signal, sigs[i]) < 0)
            return -1;
    }
    return 0;
}

int worker_main(const config_t *cfg, int listen_fd, int index, worker_slot_t *slots, int nslots)
{
    worker_t w = {.cfg = cfg, .index = index, .slots = slots, .nslots = nslots};
    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0)
        return 1;
    w.loop = &loop; /* the worker's own: nothing of it can be shared with a sibling */
    w.started_ms = uv_now(w.loop);
    signal(SIGPIPE, SIG_IGN);
    if (worker_host_open(w.loop, cfg, &w.host) < 0)
        return 1;
    char err[1024];
    if (vm_gen_load(cfg->scripts_dir, &w.host, &w.gen, err, sizeof(err)) < 0) {
        log_error("cannot load scripts: %s", err);
        return 1;
    }
    w.host.generation = w.gen->short_hash;
    publish_generation(&w);
    if (!(w.ui = ui_new(cfg->ui_assets_dir)))
        return 1;
    http_limits_t limits = {
        .max_header_bytes = cfg->max_header_bytes,
        .max_url_bytes = cfg->max_url_bytes,
        .max_body_bytes = cfg->body_limit,
        .max_connections = cfg->max_connections,
        .header_timeout_ms = cfg->header_timeout_ms,
        .body_timeout_ms = cfg->body_timeout_ms,
        .keepalive_timeout_ms = cfg->keepalive_timeout_ms,
    };
    http_callbacks_t cbs = {on_request, on_abort, on_done, on_drained};
    int rc = listen_fd < 0 ? 0 : http_server_new(w.loop, listen_fd, &limits, &cbs, &w, &w.http);
    w.http_drained = !w.http;
    w.jobs_drained = 1;
    if (rc == 0 && w.host.redis && (cfg->queue_consume || listen_fd < 0)) {
        if (!(w.jobs = jobrun_new(&w.host, cfg->queue_lock_ms)))
            rc = UV_ENOMEM;
        else
            jobrun_set_generation(w.jobs, w.gen);
        w.jobs_drained = 0;
    }
    if (rc < 0 || start_signals(&w) < 0) {
        log_error("worker %d cannot start: %s", index, uv_strerror(rc));
        return 1;
    }
    uv_timer_init(w.loop, &w.sweep);
    w.sweep.data = &w;
    uv_timer_start(&w.sweep, on_sweep, 0, SWEEP_INTERVAL_MS);
    uv_timer_init(w.loop, &w.drain_deadline);
    w.drain_deadline.data = &w;
    uv_check_init(w.loop, &w.flush);
    uv_check_start(&w.flush, on_flush);
    log_info("worker %d serving generation %s (%d files, %zu routes)", index, w.gen->short_hash,
             w.gen->nfiles, router_count(w.gen->router));
    log_flush();

    uv_run(w.loop, UV_RUN_DEFAULT);
    jobrun_close(w.jobs);
    worker_host_close(&w.host);
    uv_walk(w.loop, close_walk, NULL);
    uv_run(w.loop, UV_RUN_NOWAIT);
    json_free(&w.out);
    ui_free(w.ui);
    log_flush();
    return w.exit_code;
}
