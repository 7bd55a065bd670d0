/* bind_json_decode.c — speezy.json.decode: JSON text (untrusted) to Lua values.
 *
 * The text is read by the host's one JSON reader (host/json_read.c: grammar, bounds and error
 * messages); this file only builds the values as the reader completes them. Arrays get the
 * array metatable, so [] read from a request or a jsonb column goes back out as [] (cjson 2.1
 * turns it into {}). null is the shared null sentinel. Bad input never raises: decode returns
 * nil and "message at character N". */
#include <stdlib.h>
#include <string.h>

#include "../json_read.h"
#include "bind.h"

typedef struct {
    lua_State *L;
    char *buf; /* string unescaping scratch; freed by the caller */
    size_t cap;
    /* per open container: the next array index, 0 for an object */
    int next[JSON_READ_MAX_DEPTH + 1];
} bind_json_dec_t;

/* Pushes a string value, unescaped when it has to be. */
static int bind_json_push_string(json_reader_t *r, bind_json_dec_t *d, const json_read_value_t *v)
{
    size_t len = (size_t)(v->end - v->at);
    if (!v->escaped) {
        lua_pushlstring(d->L, v->at, len);
        return JSON_READ_OK;
    }
    if (len > d->cap) {
        char *b = realloc(d->buf, len);
        if (!b) {
            r->err = "out of memory";
            return JSON_READ_EMALFORMED;
        }
        d->buf = b;
        d->cap = len;
    }
    lua_pushlstring(d->L, d->buf, json_read_unescape(v, d->buf));
    return JSON_READ_OK;
}

static int bind_json_dec_open(json_reader_t *r, const json_read_value_t *v, int depth)
{
    bind_json_dec_t *d = r->ud;
    /* the table, a member's key and its value */
    if (!lua_checkstack(d->L, 4)) {
        r->err = "nested too deep";
        return JSON_READ_EMALFORMED;
    }
    lua_newtable(d->L);
    d->next[depth] = 0;
    if (v->type == JSON_READ_ARRAY) {
        bind_mark_array(d->L, -1);
        d->next[depth] = 1;
    }
    return JSON_READ_OK;
}

static int bind_json_dec_key(json_reader_t *r, const json_read_value_t *name, int depth)
{
    return bind_json_push_string(r, r->ud, name);
}

/* A value is complete: pushed (a container already is), then stored in its container. */
static int bind_json_dec_value(json_reader_t *r, const json_read_value_t *v, int depth)
{
    bind_json_dec_t *d = r->ud;
    switch (v->type) {
    case JSON_READ_STRING:
        if (bind_json_push_string(r, d, v) != JSON_READ_OK)
            return JSON_READ_EMALFORMED;
        break;
    case JSON_READ_NUMBER:
        lua_pushnumber(d->L, v->number);
        break;
    case JSON_READ_TRUE:
    case JSON_READ_FALSE:
        lua_pushboolean(d->L, v->type == JSON_READ_TRUE);
        break;
    case JSON_READ_NULL:
        bind_push_null(d->L);
        break;
    default:
        break;
    }
    if (depth == 0)
        return JSON_READ_OK;
    if (d->next[depth - 1])
        lua_rawseti(d->L, -2, d->next[depth - 1]++);
    else
        lua_rawset(d->L, -3);
    return JSON_READ_OK;
}

static const json_read_sink_t bind_json_dec_sink = {
    bind_json_dec_open,
    bind_json_dec_key,
    bind_json_dec_value,
};

int bind_json_push_value(lua_State *L, const json_read_value_t *v)
{
    char small[256];
    bind_json_dec_t d;
    json_reader_t r;
    int rc;
    switch (v->type) {
    case JSON_READ_OBJECT:
    case JSON_READ_ARRAY:
        d = (bind_json_dec_t){L, NULL, 0, {0}};
        rc = json_read(&r, v->at, (size_t)(v->end - v->at), &bind_json_dec_sink, &d);
        free(d.buf);
        return rc;
    case JSON_READ_STRING:
        /* a claim's value: short, so unescaped on the stack when it must be */
        if (v->escaped && (size_t)(v->end - v->at) <= sizeof small) {
            lua_pushlstring(L, small, json_read_unescape(v, small));
            return JSON_READ_OK;
        }
        break;
    default:
        break;
    }
    d.L = L;
    d.buf = NULL;
    d.cap = 0;
    r.ud = &d;
    r.err = NULL;
    rc = bind_json_dec_value(&r, v, 0);
    free(d.buf);
    return rc;
}

int bind_json_decode(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    lua_settop(L, 1);
    bind_json_dec_t d = {L, NULL, 0, {0}};
    json_reader_t r;
    int rc = json_read(&r, s, len, &bind_json_dec_sink, &d);
    free(d.buf);
    if (rc == JSON_READ_OK)
        return 1;
    lua_settop(L, 1);
    lua_pushnil(L);
    lua_pushfstring(L, "%s at character %d", r.err, (int)(r.p - s) + 1);
    return 2;
}
