/* fuzz_json_read.c — arbitrary bytes through the shared JSON reader (host/json_read.h), which
 * reads request bodies through speezy.json.decode and a stranger's token header: accepted or
 * refused, never a crash, and what it hands a sink is what the text says.
 *
 * Promises checked beyond the sanitizers:
 *   - a refusal has a message and stops inside the text; an acceptance reads to its end;
 *   - every value a sink sees lies inside the text, no deeper than JSON_READ_MAX_DEPTH, a
 *     container after all its members; a number is finite; a string unescapes to no more
 *     bytes than its text, and compares equal to what it unescapes to;
 *   - the elements json_read_array_next walks in an accepted outermost array are the ones the
 *     sink saw at depth 1;
 *   - json_read_members accepts exactly the texts within its bound that json_read accepts as
 *     an object whose at most JSON_READ_MEMBERS_MAX member names differ once unescaped
 *     (checked here the slow way), and finds each member by its name.
 * A broken promise traps (PROMISE, fuzz.h). */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "json_read.h"

#define ELEMS_MAX 256

typedef struct {
    const char *text, *end;
    int top_members; /* members of the outermost value when it is an object */
    int top_is_object;
    int elems; /* elements of the outermost value when it is an array */
    json_read_value_t elem[ELEMS_MAX];
    char *names;      /* the outermost object's unescaped names, one after another */
    size_t names_len; /* bytes of names used */
    size_t name_at[JSON_READ_MEMBERS_MAX + 1], name_len[JSON_READ_MEMBERS_MAX + 1];
} fuzz_read_t;

static void fuzz_read_inside(const fuzz_read_t *f, const json_read_value_t *v)
{
    PROMISE(f->text <= v->at && v->at <= v->end && v->end <= f->end);
}

static void fuzz_read_string(const json_read_value_t *v, char *buf)
{
    size_t n = json_read_unescape(v, buf);
    PROMISE(n <= (size_t)(v->end - v->at));
    PROMISE(!v->escaped == !memchr(v->at, '\\', (size_t)(v->end - v->at)));
    PROMISE(json_read_string_is(v, buf, n));
    if (n)
        PROMISE(!json_read_string_is(v, buf, n - 1));
}

static int fuzz_read_open(json_reader_t *r, const json_read_value_t *v, int depth)
{
    fuzz_read_t *f = r->ud;
    PROMISE(depth <= JSON_READ_MAX_DEPTH);
    PROMISE(*v->at == (v->type == JSON_READ_OBJECT ? '{' : '['));
    if (depth == 0)
        f->top_is_object = v->type == JSON_READ_OBJECT;
    return JSON_READ_OK;
}

static int fuzz_read_key(json_reader_t *r, const json_read_value_t *name, int depth)
{
    fuzz_read_t *f = r->ud;
    fuzz_read_inside(f, name);
    /* an object at the bound has its names read before its values are refused */
    PROMISE(name->type == JSON_READ_STRING && depth >= 1 && depth <= JSON_READ_MAX_DEPTH + 1);
    char *buf = malloc((size_t)(name->end - name->at) + 1);
    fuzz_read_string(name, buf);
    if (depth == 1) {
        if (f->top_members <= JSON_READ_MEMBERS_MAX) {
            size_t n = json_read_unescape(name, f->names + f->names_len);
            f->name_at[f->top_members] = f->names_len;
            f->name_len[f->top_members] = n;
            f->names_len += n;
        }
        f->top_members++;
    }
    free(buf);
    return JSON_READ_OK;
}

static int fuzz_read_value(json_reader_t *r, const json_read_value_t *v, int depth)
{
    fuzz_read_t *f = r->ud;
    fuzz_read_inside(f, v);
    PROMISE(depth <= JSON_READ_MAX_DEPTH);
    /* a value's text ends where the reader stands: a container after its closing bracket */
    PROMISE(v->end == r->p || (v->type == JSON_READ_STRING && v->end + 1 == r->p));
    if (v->type == JSON_READ_NUMBER)
        PROMISE(isfinite(v->number));
    if (v->type == JSON_READ_STRING) {
        char *buf = malloc((size_t)(v->end - v->at) + 1);
        fuzz_read_string(v, buf);
        free(buf);
    }
    if (v->type == JSON_READ_OBJECT || v->type == JSON_READ_ARRAY)
        PROMISE(v->end[-1] == (v->type == JSON_READ_OBJECT ? '}' : ']'));
    if (depth == 1 && !f->top_is_object && f->elems < ELEMS_MAX)
        f->elem[f->elems++] = *v;
    return JSON_READ_OK;
}

/* Whether the outermost object's names all differ (compared the slow way). */
static int fuzz_read_names_differ(const fuzz_read_t *f)
{
    for (int i = 0; i < f->top_members; i++)
        for (int j = 0; j < i; j++)
            if (f->name_len[i] == f->name_len[j] &&
                memcmp(f->names + f->name_at[i], f->names + f->name_at[j], f->name_len[i]) == 0)
                return 0;
    return 1;
}

static void fuzz_read_members(const fuzz_read_t *f, const char *text, size_t len, int read_rc)
{
    static json_read_members_t obj;
    int rc = json_read_members(text, len, &obj);
    int fits = len <= JSON_READ_MEMBERS_TEXT;
    if (!fits) {
        PROMISE(rc == JSON_READ_ETOOLONG);
        return;
    }
    if (read_rc != JSON_READ_OK || !f->top_is_object) {
        /* refused, but a member past the bound or a name given twice may be found first */
        PROMISE(rc != JSON_READ_OK);
        return;
    }
    if (f->top_members > JSON_READ_MEMBERS_MAX) {
        PROMISE(rc == JSON_READ_ETOOLONG || rc == JSON_READ_EDUPLICATE);
        return;
    }
    if (!fuzz_read_names_differ(f)) {
        PROMISE(rc == JSON_READ_EDUPLICATE);
        return;
    }
    PROMISE(rc == JSON_READ_OK && obj.count == f->top_members);
    for (int i = 0; i < obj.count; i++) {
        PROMISE(obj.member[i].name_len == f->name_len[i] &&
                memcmp(obj.member[i].name, f->names + f->name_at[i], f->name_len[i]) == 0);
        PROMISE(json_read_member(&obj, obj.member[i].name, obj.member[i].name_len) ==
                &obj.member[i].value);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const json_read_sink_t sink = {fuzz_read_open, fuzz_read_key, fuzz_read_value};
    static fuzz_read_t f;
    const char *text = (const char *)data;
    f = (fuzz_read_t){.text = text, .end = text + size};
    f.names = malloc(size + 1);
    json_reader_t r;
    int rc = json_read(&r, text, size, &sink, &f);
    PROMISE(rc == JSON_READ_OK || rc == JSON_READ_EMALFORMED);
    PROMISE(text <= r.p && r.p <= text + size);
    if (rc == JSON_READ_OK) {
        PROMISE(r.p == text + size && r.err == NULL);
    } else {
        PROMISE(r.err != NULL);
    }
    /* the checking read (no sink) gives the same verdict at the same place */
    json_reader_t plain;
    PROMISE(json_read(&plain, text, size, NULL, NULL) == rc && plain.p == r.p);
    if (rc == JSON_READ_OK && !f.top_is_object && size && f.elems < ELEMS_MAX) {
        /* the outermost value, found after any whitespace */
        const char *at = text;
        while (*at == ' ' || *at == '\t' || *at == '\n' || *at == '\r')
            at++;
        if (*at == '[') {
            const char *end = text + size;
            while (end[-1] != ']')
                end--;
            json_read_value_t arr = {JSON_READ_ARRAY, at, end, 0, 0}, each;
            const char *cursor = NULL;
            int n = 0;
            while (json_read_array_next(&arr, &cursor, &each)) {
                PROMISE(n < f.elems && each.type == f.elem[n].type && each.at == f.elem[n].at &&
                        each.end == f.elem[n].end);
                n++;
            }
            PROMISE(n == f.elems);
        }
    }
    fuzz_read_members(&f, text, size, rc);
    free(f.names);
    return 0;
}
