/* router.c — a segment trie with static-over-capture precedence and backtracking. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct route {
    char method[16];
    int handler;
    char *tmpl;
    struct route *next;
} route_t;

typedef struct node {
    char *seg; /* static text, or the capture's name without ':' */
    size_t seg_len;
    struct node **kids; /* static children */
    size_t nkids;
    struct node *capture;
    route_t *routes;
} node_t;

struct router {
    node_t root;
    size_t count;
};

router_t *router_new(void)
{
    return calloc(1, sizeof(router_t));
}

static void node_free(node_t *n)
{
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        free(n->kids[i]);
    }
    free(n->kids);
    if (n->capture) {
        node_free(n->capture);
        free(n->capture);
    }
    while (n->routes) {
        route_t *r = n->routes;
        n->routes = r->next;
        free(r->tmpl);
        free(r);
    }
    free(n->seg);
}

void router_free(router_t *r)
{
    if (r) {
        node_free(&r->root);
        free(r);
    }
}

size_t router_count(const router_t *r)
{
    return r->count;
}

static node_t *node_new(const char *seg, size_t len)
{
    node_t *n = calloc(1, sizeof(*n));
    if (n && !(n->seg = strndup(seg, len))) {
        free(n);
        return NULL;
    }
    if (n)
        n->seg_len = len;
    return n;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

static node_t *child_for(node_t *n, const char *seg, size_t len, char *err, size_t errlen)
{
    if (seg[0] == ':') {
        if (!valid_name(seg + 1, len - 1)) {
            snprintf(err, errlen, "invalid parameter name '%.*s'", (int)len, seg);
            return NULL;
        }
        if (!n->capture)
            n->capture = node_new(seg + 1, len - 1);
        else if (n->capture->seg_len != len - 1 || memcmp(n->capture->seg, seg + 1, len - 1) != 0) {
            snprintf(err, errlen, "parameter ':%.*s' conflicts with ':%s' at the same position",
                     (int)len - 1, seg + 1, n->capture->seg);
            return NULL;
        }
        return n->capture;
    }
    for (size_t i = 0; i < n->nkids; i++)
        if (n->kids[i]->seg_len == len && memcmp(n->kids[i]->seg, seg, len) == 0)
            return n->kids[i];
    node_t **kids = realloc(n->kids, (n->nkids + 1) * sizeof(*kids));
    if (!kids)
        return NULL;
    n->kids = kids;
    return n->kids[n->nkids++] = node_new(seg, len);
}

int router_add(router_t *r, const char *method, const char *tmpl, int handler, char *err,
               size_t errlen)
{
    size_t tlen = strlen(tmpl), mlen = strlen(method);
    if (tlen == 0 || tmpl[0] != '/') {
        snprintf(err, errlen, "route path must start with '/': '%s'", tmpl);
        return -1;
    }
    if (mlen == 0 || mlen >= sizeof(((route_t *)0)->method)) {
        snprintf(err, errlen, "invalid method '%s'", method);
        return -1;
    }
    node_t *n = &r->root;
    int nparams = 0;
    const char *p = tmpl + 1, *end = tmpl + tlen;
    if (end > p && end[-1] == '/')
        end--;
    while (p < end) {
        const char *slash = memchr(p, '/', (size_t)(end - p));
        size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
        if (len == 0) {
            snprintf(err, errlen, "empty segment in route '%s'", tmpl);
            return -1;
        }
        if (p[0] == ':' && ++nparams > ROUTER_MAX_PARAMS) {
            snprintf(err, errlen, "too many parameters in route '%s'", tmpl);
            return -1;
        }
        if (!(n = child_for(n, p, len, err, errlen)))
            return -1;
        p += len + 1;
    }
    for (route_t *rt = n->routes; rt; rt = rt->next) {
        if (strcmp(rt->method, method) == 0) {
            snprintf(err, errlen, "route %s %s is already registered (as %s)", method, tmpl,
                     rt->tmpl);
            return -1;
        }
    }
    route_t *rt = calloc(1, sizeof(*rt));
    if (!rt || !(rt->tmpl = strdup(tmpl))) {
        free(rt);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(rt->method, method, mlen + 1);
    rt->handler = handler;
    rt->next = n->routes;
    n->routes = rt;
    r->count++;
    return 0;
}

static const route_t *find_method(const node_t *n, const char *method, size_t mlen)
{
    for (const route_t *rt = n->routes; rt; rt = rt->next)
        if (strlen(rt->method) == mlen && memcmp(rt->method, method, mlen) == 0)
            return rt;
    if (mlen == 4 && memcmp(method, "HEAD", 4) == 0)
        return find_method(n, "GET", 3);
    return NULL;
}

typedef struct {
    const char *method;
    size_t method_len;
    const node_t *path_hit; /* first node matching the path, for 405's Allow */
    router_match_t *m;
} walk_t;

/* Depth-first over the remaining path; a node serving the path but not the method is
 * remembered and the search goes on, so another template may still take the method. */
static const route_t *walk(const node_t *n, const char *p, const char *end, walk_t *w)
{
    if (p >= end) {
        if (!n->routes)
            return NULL;
        if (!w->path_hit)
            w->path_hit = n;
        return find_method(n, w->method, w->method_len);
    }
    const char *slash = memchr(p, '/', (size_t)(end - p));
    size_t len = slash ? (size_t)(slash - p) : (size_t)(end - p);
    const char *next = p + len + (slash ? 1 : 0);
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < n->nkids; i++) {
        const node_t *k = n->kids[i];
        if (k->seg_len == len && memcmp(k->seg, p, len) == 0) {
            const route_t *hit = walk(k, next, end, w);
            if (hit)
                return hit;
        }
    }
    router_match_t *m = w->m;
    if (n->capture && m->nparams < ROUTER_MAX_PARAMS) {
        int at = m->nparams++;
        m->params[at] = (router_param_t){n->capture->seg, n->capture->seg_len, p, len};
        const route_t *hit = walk(n->capture, next, end, w);
        if (hit)
            return hit;
        m->nparams = at;
    }
    return NULL;
}

static void list_allowed(const node_t *n, router_match_t *m)
{
    size_t o = 0;
    int has_get = 0, has_head = 0;
    m->allow[0] = '\0';
    for (const route_t *rt = n->routes; rt; rt = rt->next) {
        has_get |= strcmp(rt->method, "GET") == 0;
        has_head |= strcmp(rt->method, "HEAD") == 0;
        int w = snprintf(m->allow + o, sizeof(m->allow) - o, "%s%s", o ? ", " : "", rt->method);
        if (w < 0 || (size_t)w >= sizeof(m->allow) - o)
            return;
        o += (size_t)w;
    }
    if (has_get && !has_head)
        snprintf(m->allow + o, sizeof(m->allow) - o, ", HEAD");
}

int router_match(const router_t *r, const char *method, size_t method_len, const char *path,
                 size_t path_len, router_match_t *m)
{
    m->nparams = 0;
    m->allow[0] = '\0';
    if (path_len == 0 || path[0] != '/')
        return ROUTER_NOT_FOUND;
    const char *end = path + path_len;
    if (path_len > 1 && end[-1] == '/')
        end--;
    walk_t w = {method, method_len, NULL, m};
    const route_t *rt = walk(&r->root, path + 1, end, &w);
    if (!rt) {
        if (!w.path_hit)
            return ROUTER_NOT_FOUND;
        list_allowed(w.path_hit, m);
        return ROUTER_METHOD_NOT_ALLOWED;
    }
    m->handler = rt->handler;
    m->template = rt->tmpl;
    return ROUTER_FOUND;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

size_t router_unescape(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    return o;
}
