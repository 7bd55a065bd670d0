/* router.h — the route table of one script generation: method + path template -> handler.
 *
 * Templates are segments separated by '/'; a segment ":name" captures one path segment.
 * Static segments win over captures, with backtracking (/stores/nearby beats /stores/:id, and
 * /stores/nearby/x can still match /stores/:id/x). One trailing slash is ignored. HEAD is
 * served by GET when no HEAD route exists. Pure C, no Lua: handlers are opaque integers. */
#ifndef SPEEZY_ROUTER_H
#define SPEEZY_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 16

typedef struct router router_t;

typedef struct {
    const char *name; /* points into the template */
    size_t name_len;
    const char *value; /* points into the matched path; still percent-encoded */
    size_t value_len;
} router_param_t;

typedef struct {
    int handler;
    const char *template;
    router_param_t params[ROUTER_MAX_PARAMS];
    int nparams;
    char allow[128]; /* for 405: "GET, HEAD, POST" */
} router_match_t;

enum { ROUTER_FOUND = 0, ROUTER_NOT_FOUND = -1, ROUTER_METHOD_NOT_ALLOWED = -2 };

router_t *router_new(void);
void router_free(router_t *r);
/* Returns 0, or -1 with a message in err (invalid template, duplicate route). */
int router_add(router_t *r, const char *method, const char *tmpl, int handler, char *err,
               size_t errlen);
int router_match(const router_t *r, const char *method, size_t method_len, const char *path,
                 size_t path_len, router_match_t *m);
size_t router_count(const router_t *r);
/* Decodes the percent-escapes of a captured value (n bytes at s) into out, which has room for
 * n bytes; returns the decoded length. A '%' not followed by two hex digits stays as it is. */
size_t router_unescape(const char *s, size_t n, char *out);

#endif
