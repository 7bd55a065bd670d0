/* test_json.c — the JSON writer (host/json.c) and the logger built on it (host/log.c), and
 * the JSON reader (host/json_read.c) that speezy.json.decode and jwt read with.
 *
 * The property test writes random documents — strings of random bytes (invalid UTF-8, NULs,
 * quotes, controls, "</", up to megabytes long), integers, doubles with random bits, nesting
 * up to the depth limit — and reads every output back with the strict reader of
 * json_check.h, comparing each token with what was asked: strings must come back as
 * jc_sanitize says, numbers as the same value. The seed is printed, and SPEEZY_JSON_SEED
 * replays a run. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "bind/bind.h"
#include "json_read.h"
#include "json_check.h"
#include "log.h"
#include "test.h"

/* ---- random values ------------------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state; /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static size_t rnd_below(size_t n)
{
    return n ? (size_t)(rnd() % n) : 0;
}

/* Pieces strings are made of: the bytes an escaper must treat with care. */
static const struct {
    const char *s;
    size_t n;
} pieces[] = {
    {"a", 1},
    {"Z", 1},
    {" ", 1},
    {"\0", 1},
    {"\"", 1},
    {"\\", 1},
    {"/", 1},
    {"</", 2},
    {"<", 1},
    {"\n", 1},
    {"\r", 1},
    {"\t", 1},
    {"\x01", 1},
    {"\x1f", 1},
    {"\x7f", 1},
    {"\xc3\xa9", 2},         /* é */
    {"\xe2\x82\xac", 3},     /* € */
    {"\xf0\x9f\x98\x80", 4}, /* 😀 */
    {"\xef\xbf\xbd", 3},     /* U+FFFD itself */
    {"\x80", 1},             /* a lone continuation byte */
    {"\xc0\x80", 2},         /* overlong NUL */
    {"\xe0\x80\xaf", 3},     /* overlong '/' */
    {"\xed\xa0\x80", 3},     /* a surrogate */
    {"\xf4\x90\x80\x80", 4}, /* past U+10FFFF */
    {"\xf5", 1},
    {"\xff", 1},
    {"\xe2\x82", 2}, /* a cut sequence */
    {"\xf0\x9f\x98", 3},
    {"\\u0000", 6}, /* text that looks like an escape */
};

/* A random string into a buffer the caller frees; its length mostly short, now and then
 * thousands of bytes, rarely a megabyte or more. */
static char *rnd_string(size_t *len)
{
    size_t want;
    uint64_t r = rnd_below(1000);
    if (r < 900)
        want = rnd_below(40);
    else if (r < 995)
        want = rnd_below(5000);
    else
        want = 1048576 + rnd_below(1048576);
    char *s = malloc(want + 8);
    size_t n = 0;
    int plain = rnd_below(4) == 0; /* long runs of one byte class, too */
    while (n < want) {
        size_t i = plain ? 0 : rnd_below(sizeof(pieces) / sizeof(pieces[0]));
        memcpy(s + n, pieces[i].s, pieces[i].n);
        n += pieces[i].n;
    }
    *len = n;
    return s;
}

static double rnd_double(void)
{
    switch (rnd_below(5)) {
    case 0:
        return (double)(int64_t)rnd() / (double)(1 + rnd_below(1000));
    case 1:
        return (double)(int64_t)(rnd() >> rnd_below(64));
    case 2: {
        static const double special[] = {
            0.0,    -0.0, 0.1,      1e21,     1e-7, 9007199254740993.0, 1.7976931348623157e308,
            5e-324, NAN,  INFINITY, -INFINITY};
        return special[rnd_below(sizeof(special) / sizeof(special[0]))];
    }
    default: {
        uint64_t bits = rnd();
        double d;
        memcpy(&d, &bits, sizeof(d));
        return d;
    }
    }
}

/* ---- the model: what the writer was asked to write, token by token ------------------------ */

typedef struct {
    jc_kind_t kind;
    char *text; /* KEY, STR: the expected bytes (jc_sanitize of the input) */
    size_t len;
    int number; /* NUM: 1 integer (text must equal exactly), 2 double (value must equal) */
    char digits[24];
    double value;
} want_t;

typedef struct {
    want_t *w;
    size_t n, cap;
} model_t;

static want_t *model_add(model_t *m, jc_kind_t kind)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->w = realloc(m->w, m->cap * sizeof(*m->w));
    }
    want_t *w = &m->w[m->n++];
    memset(w, 0, sizeof(*w));
    w->kind = kind;
    return w;
}

static void model_string(model_t *m, jc_kind_t kind, const char *s, size_t n)
{
    want_t *w = model_add(m, kind);
    w->text = malloc(3 * n + 1);
    w->len = jc_sanitize(s, n, w->text);
}

static void model_free(model_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->w[i].text);
    free(m->w);
    memset(m, 0, sizeof(*m));
}

/* Writes one random value (and records it) at nesting depth `depth`. */
static void gen_value(json_buf_t *b, model_t *m, int depth)
{
    int kind = (int)rnd_below(depth >= 6 ? 7 : 9);
    if (depth < JSON_WRITER_DEPTH - 1 && rnd_below(200) == 0)
        kind = 9; /* a dive to the depth limit now and then */
    switch (kind) {
    case 0: {
        size_t n;
        char *s = rnd_string(&n);
        json_str(b, s, n);
        model_string(m, JC_STR, s, n);
        free(s);
        break;
    }
    case 1: {
        int64_t v = (int64_t)rnd() >> rnd_below(64);
        json_int(b, v);
        want_t *w = model_add(m, JC_NUM);
        w->number = 1;
        snprintf(w->digits, sizeof(w->digits), "%lld", (long long)v);
        break;
    }
    case 2: {
        uint64_t v = rnd() >> rnd_below(64);
        json_uint(b, v);
        want_t *w = model_add(m, JC_NUM);
        w->number = 1;
        snprintf(w->digits, sizeof(w->digits), "%llu", (unsigned long long)v);
        break;
    }
    case 3: {
        double v = rnd_double();
        json_double(b, v);
        if (isnan(v) || isinf(v)) {
            model_add(m, JC_NULL);
        } else {
            want_t *w = model_add(m, JC_NUM);
            w->number = 2;
            w->value = v;
        }
        break;
    }
    case 4: {
        int v = (int)rnd_below(2);
        json_bool(b, v);
        model_add(m, v ? JC_TRUE : JC_FALSE);
        break;
    }
    case 5:
        json_null(b);
        model_add(m, JC_NULL);
        break;
    case 6:
        json_cstr(b, NULL);
        model_add(m, JC_NULL);
        break;
    case 7: {
        json_obj_open(b);
        model_add(m, JC_OBJ);
        for (size_t i = rnd_below(6); i > 0; i--) {
            size_t n;
            char *k = rnd_string(&n);
            for (size_t j = 0; j < n; j++)
                if (!k[j])
                    k[j] = '0'; /* keys are C strings */
            k[n] = '\0';
            json_key(b, k);
            model_string(m, JC_KEY, k, n);
            free(k);
            gen_value(b, m, depth + 1);
        }
        json_obj_close(b);
        model_add(m, JC_OBJ_END);
        break;
    }
    case 8: {
        json_arr_open(b);
        model_add(m, JC_ARR);
        for (size_t i = rnd_below(6); i > 0; i--)
            gen_value(b, m, depth + 1);
        json_arr_close(b);
        model_add(m, JC_ARR_END);
        break;
    }
    default: { /* arrays down to the deepest the writer allows, each with a raw value */
        int levels = JSON_WRITER_DEPTH - depth;
        for (int i = 0; i < levels; i++) {
            json_arr_open(b);
            model_add(m, JC_ARR);
        }
        json_raw(b, "{\"r\":[true]}", 12);
        model_add(m, JC_OBJ);
        model_string(m, JC_KEY, "r", 1);
        model_add(m, JC_ARR);
        model_add(m, JC_TRUE);
        model_add(m, JC_ARR_END);
        model_add(m, JC_OBJ_END);
        for (int i = 0; i < levels; i++) {
            json_arr_close(b);
            model_add(m, JC_ARR_END);
        }
    }
    }
}

/* 1 when what was read back is token for token what the model asked for. */
static int same_tokens(const model_t *m, const jc_doc_t *d, char *why, size_t cap)
{
    if (m->n != d->n) {
        snprintf(why, cap, "%zu tokens written, %zu read", m->n, d->n);
        return 0;
    }
    for (size_t i = 0; i < m->n; i++) {
        const want_t *w = &m->w[i];
        const jc_event_t *e = &d->ev[i];
        int ok = w->kind == e->kind;
        if (ok && (w->kind == JC_KEY || w->kind == JC_STR))
            ok = w->len == e->len && memcmp(w->text, e->text, e->len) == 0;
        else if (ok && w->number == 1)
            ok = strcmp(w->digits, e->text) == 0;
        else if (ok && w->number == 2)
            ok = strtod(e->text, NULL) == w->value;
        if (!ok) {
            snprintf(why, cap, "token %zu differs (kind %d vs %d, read '%.60s')", i, w->kind,
                     e->kind, e->text ? e->text : "");
            return 0;
        }
    }
    return 1;
}

TEST(random_documents_read_back_strictly)
{
    char storage[64]; /* small: most documents move to the heap, some stay */
    json_buf_t b;
    json_init(&b, storage, sizeof(storage));
    for (int round = 0; round < 3000; round++) {
        model_t m = {0};
        json_reset(&b);
        gen_value(&b, &m, 0);
        CHECK(json_ok(&b));
        jc_doc_t d;
        char why[160] = "";
        if (jc_parse(b.p, b.len, &d) < 0) {
            fprintf(stderr, "  round %d: not JSON: %s at byte %zu\n", round, d.err, d.err_at);
            CHECK(!"strict parse");
        } else if (!same_tokens(&m, &d, why, sizeof(why))) {
            fprintf(stderr, "  round %d: %s\n", round, why);
            CHECK(!"tokens read back");
        }
        jc_free(&d);
        model_free(&m);
        if (test_cur_failed)
            break;
    }
    json_free(&b);
}

TEST(escapes)
{
    static const struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {"", 0, "\"\""},
        {"\0", 1, "\"\\u0000\""},
        {"a\"b\\c", 5, "\"a\\\"b\\\\c\""},
        {"\n\r\t\x01\x1f\x7f", 6, "\"\\n\\r\\t\\u0001\\u001f\\u007f\""},
        {"</script>", 9, "\"<\\/script>\""},
        {"a/b", 3, "\"a/b\""},
        {"\xc3\xa9\xe2\x82\xac", 5, "\"\xc3\xa9\xe2\x82\xac\""},
        {"\xff", 1, "\"\\ufffd\""},
        {"\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\""},
        {"\xe2\x82", 2, "\"\\ufffd\\ufffd\""},
        {"\xc0\x80x", 3, "\"\\ufffd\\ufffdx\""},
    };
    json_buf_t b;
    json_init(&b, NULL, 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_reset(&b);
        json_str(&b, cases[i].in, cases[i].n);
        json_put(&b, "", 1);
        CHECK_STR(b.p, cases[i].out);
    }
    json_free(&b);
}

TEST(structure_and_separators)
{
    json_buf_t b;
    json_init(&b, NULL, 0);
    json_obj_open(&b);
    json_key(&b, "a");
    json_arr_open(&b);
    json_int(&b, -1);
    json_uint(&b, 18446744073709551615ull);
    json_obj_open(&b);
    json_obj_close(&b);
    json_arr_open(&b);
    json_arr_close(&b);
    json_raw(&b, "[1]", 3);
    json_arr_close(&b);
    json_key(&b, "b");
    json_double(&b, 0.5);
    json_key(&b, "c");
    json_double(&b, NAN);
    json_key(&b, "d");
    json_bool(&b, 0);
    json_obj_close(&b);
    CHECK(json_ok(&b));
    json_put(&b, "", 1);
    CHECK_STR(b.p, "{\"a\":[-1,18446744073709551615,{},[],[1]],\"b\":0.5,\"c\":null,\"d\":false}");
    json_reset(&b);
    json_int(&b, INT64_MIN);
    json_put(&b, "", 1);
    CHECK_STR(b.p, "-9223372036854775808");
    json_free(&b);
}

/* Misuse makes the text unsendable (json_ok() is 0) instead of sending broken JSON. */
TEST(misuse_fails_cleanly)
{
    json_buf_t b;
    json_init(&b, NULL, 0);
    json_obj_close(&b); /* nothing open */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_key(&b, "k"); /* a key outside an object */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_null(&b);
    json_null(&b); /* two documents */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_obj_open(&b);
    json_key(&b, "k");
    json_obj_close(&b); /* a key without its value */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_arr_open(&b); /* left open */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_arr_open(&b);
    json_obj_close(&b); /* the wrong bracket */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_obj_open(&b);
    json_int(&b, 1); /* a member without a key */
    CHECK(!json_ok(&b));
    json_reset(&b);
    json_arr_open(&b);
    json_key(&b, "k"); /* a key in an array */
    CHECK(!json_ok(&b));
    json_reset(&b);
    for (int i = 0; i <= JSON_WRITER_DEPTH; i++)
        json_arr_open(&b);
    CHECK(b.failed);
    json_reset(&b);
    for (int i = 0; i < JSON_WRITER_DEPTH; i++)
        json_arr_open(&b);
    for (int i = 0; i < JSON_WRITER_DEPTH; i++)
        json_arr_close(&b);
    CHECK(json_ok(&b));
    json_free(&b);
}

TEST(buffer_grows_from_caller_storage)
{
    char storage[16];
    json_buf_t b;
    json_init(&b, storage, sizeof(storage));
    json_str(&b, "0123456789", 10);
    CHECK(b.p == storage);
    json_reset(&b);
    json_arr_open(&b);
    for (int i = 0; i < 10000; i++)
        json_int(&b, i);
    json_arr_close(&b);
    CHECK(json_ok(&b));
    CHECK(b.p != storage);
    jc_doc_t d;
    CHECK(jc_parse(b.p, b.len, &d) == 0);
    CHECK(d.n == 10002);
    jc_free(&d);
    json_free(&b);
    CHECK(b.p == storage && b.len == 0);
}

TEST(numbers_read_back_as_the_same_double)
{
    char text[32];
    for (int i = 0; i < 200000; i++) {
        double v = rnd_double();
        if (isnan(v) || isinf(v))
            continue;
        size_t n = json_number_text(text, v);
        jc_doc_t d;
        if (n >= 32 || jc_parse(text, n, &d) < 0 || d.n != 1 || strtod(text, NULL) != v) {
            fprintf(stderr, "  %.17g written as '%s'\n", v, text);
            CHECK(!"number read back");
            break;
        }
        jc_free(&d);
    }
    json_number_text(text, 42.0);
    CHECK_STR(text, "42");
    json_number_text(text, -0.0);
    CHECK_STR(text, "0");
    json_number_text(text, 1e20);
    CHECK_STR(text, "100000000000000000000");
    json_number_text(text, 0.1);
    CHECK_STR(text, "0.1");
}

/* The log lines, read back from a file standing in for stderr. */
static char *logged(void (*write_lines)(void))
{
    char path[] = "/tmp/speezy-test-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(2);
    fflush(stderr);
    dup2(fd, 2);
    write_lines();
    log_flush();
    dup2(saved, 2);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)size + 1);
    if (pread(fd, text, (size_t)size, 0) != size)
        text[0] = '\0';
    close(fd);
    unlink(path);
    return text;
}

static char *nasty;
static size_t nasty_len;

static void nasty_lines(void)
{
    log_msg(LOG_WARN, "id\"\n\xff", "%s", nasty);
    log_msg(LOG_INFO, NULL, "plain %d", 7);
    log_access_t a = {.request_id = "r\"1",
                      .method = "G\x01T",
                      .method_len = 3,
                      .path = "/\xe2\x82",
                      .path_len = 3,
                      .ip = "127.0.0.1",
                      .status = 200,
                      .generation = "abc"};
    log_access(&a);
}

/* Every line is one JSON object whatever the message holds; a huge message is cut at a
 * character and the line says how long it was. */
TEST(log_lines_are_json)
{
    log_init(LOG_DEBUG, "test");
    for (int round = 0; round < 50; round++) {
        char *s = rnd_string(&nasty_len);
        for (size_t j = 0; j < nasty_len; j++)
            if (!s[j])
                s[j] = '\x01'; /* the message is a C string */
        s[nasty_len] = '\0';
        nasty = s;
        char *text = logged(nasty_lines);
        int lines = 0;
        for (char *line = text, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
            jc_doc_t d;
            if (jc_parse(line, (size_t)(nl - line), &d) < 0) {
                fprintf(stderr, "  log line not JSON (%s): %.120s\n", d.err, line);
                CHECK(!"log line");
            } else {
                CHECK(d.ev[0].kind == JC_OBJ);
            }
            jc_free(&d);
            lines++;
        }
        CHECK(lines == 3);
        CHECK(strstr(text, "\"reqId\":\"id\\\"\\n\\ufffd\""));
        CHECK(strstr(text, "\"msg\":\"plain 7\""));
        CHECK(strstr(text, "\"method\":\"G\\u0001T\",\"route\":null,\"path\":\"/\\ufffd\\ufffd\""));
        CHECK((strstr(text, "\"msgBytes\":") != NULL) == (nasty_len > 32 * 1024));
        free(text);
        free(s);
        if (test_cur_failed)
            break;
    }
}

/* ---- the reader --------------------------------------------------------------------------- */

/* json_read's verdict on text as json.decode words it: "OK" or "message at character N". */
static const char *read_verdict(const char *text)
{
    static char out[128];
    json_reader_t r;
    if (json_read(&r, text, strlen(text), NULL, NULL) == JSON_READ_OK)
        return "OK";
    snprintf(out, sizeof out, "%s at character %d", r.err, (int)(r.p - text) + 1);
    return out;
}

/* Scripts and specs read these messages and positions (json.decode's "at character N"): the
 * table is what the decoder said before the reader was shared. */
TEST(reader_refusals_say_what_and_where)
{
    static const char *const cases[][2] = {
        {"", "unexpected end of input at character 1"},
        {" ", "unexpected end of input at character 2"},
        {"{", "expected a string key in object at character 2"},
        {"[1,]", "invalid number at character 4"},
        {"{\"a\" 1}", "expected ':' after object key at character 7"},
        {"tru", "invalid literal at character 1"},
        {"nul", "invalid literal at character 1"},
        {"01", "unexpected data after the value at character 2"},
        {"1.", "invalid number at character 3"},
        {"-", "invalid number at character 2"},
        {"1e+", "invalid number at character 4"},
        {"\"\\x\"", "invalid escape in string at character 4"},
        {"\"\\u12\"", "invalid \\u escape at character 4"},
        {"\"\\ud800\"", "unpaired surrogate in \\u escape at character 8"},
        {"\"\\udc00x\"", "unpaired surrogate in \\u escape at character 8"},
        {"\"\\ud800\\u0041\"", "unpaired surrogate in \\u escape at character 8"},
        {"\"a\nb\"", "control character in string at character 4"},
        {"\"\x1f\"", "control character in string at character 3"},
        {"\" \x7f\xff\"", "OK"},
        {"\"abc", "unterminated string at character 5"},
        {"\"ab\\", "unterminated string at character 5"},
        {"[1] 2", "unexpected data after the value at character 5"},
        {"{1:2}", "expected a string key in object at character 2"},
        {"1e999", "number out of range at character 6"},
        {"[1 2]", "expected ',' or ']' in array at character 5"},
        {"{\"a\":1 \"b\":2}", "expected ',' or '}' in object at character 9"},
        {"{\"a\":1,}", "expected a string key in object at character 8"},
        {"{\"a\"", "expected ':' after object key at character 5"},
        {"[", "unexpected end of input at character 2"},
        {"{\"a\":}", "invalid number at character 6"},
        {"12345678901234567890123456789012345678901234567890123456789012345",
         "number too long at character 66"},
        {" {\"a\":[1,-2.5e3,true,false,null,\"\\u00e9\\ud83d\\ude00\",{}]} ", "OK"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK_STR(read_verdict(cases[i][0]), cases[i][1]);
}

/* Nothing deeper than JSON_READ_MAX_DEPTH (the outermost value is at 0): a number inside 64
 * brackets, an empty array inside 64 more, and no deeper. */
static const char *nested(int brackets, const char *inside)
{
    static char text[2 * 70 + 2];
    size_t n = 0;
    for (int i = 0; i < brackets; i++)
        text[n++] = '[';
    n += (size_t)sprintf(text + n, "%s", inside);
    for (int i = 0; i < brackets; i++)
        text[n++] = ']';
    text[n] = '\0';
    return text;
}

TEST(reader_bounds_nesting)
{
    CHECK_STR(read_verdict(nested(64, "1")), "OK");
    CHECK_STR(read_verdict(nested(65, "1")), "nested too deep at character 66");
    CHECK_STR(read_verdict(nested(65, "")), "OK");
    CHECK_STR(read_verdict(nested(66, "")), "nested too deep at character 66");
    CHECK_STR(read_verdict(nested(67, "{}")), "nested too deep at character 66");
}

/* What a sink sees: each value once it is complete, with its depth, keys before values. */
typedef struct {
    char log[512];
} sink_log_t;

static void sink_note(json_reader_t *r, const char *what, const json_read_value_t *v, int depth)
{
    sink_log_t *s = r->ud;
    size_t n = strlen(s->log);
    snprintf(s->log + n, sizeof s->log - n, "%s%d:%.*s ", what, depth, (int)(v->end - v->at),
             v->at);
}
static int sink_open(json_reader_t *r, const json_read_value_t *v, int depth)
{
    sink_note(r, "open", &(json_read_value_t){.at = v->at, .end = v->at + 1}, depth);
    return 0;
}
static int sink_key(json_reader_t *r, const json_read_value_t *v, int depth)
{
    sink_note(r, "key", v, depth);
    return 0;
}
static int sink_value(json_reader_t *r, const json_read_value_t *v, int depth)
{
    sink_note(r, "value", v, depth);
    /* a sink's own code stops the read and comes back as it is */
    return v->type == JSON_READ_NUMBER && v->number == 13 ? -42 : 0;
}

TEST(reader_hands_each_value_to_the_sink)
{
    static const json_read_sink_t sink = {sink_open, sink_key, sink_value};
    static const char text[] = "{\"a\":[1,\"x\\n\"],\"b\":null}";
    sink_log_t s = {""};
    json_reader_t r;
    CHECK(json_read(&r, text, strlen(text), &sink, &s) == JSON_READ_OK);
    CHECK_STR(s.log, "open0:{ key1:a open1:[ value2:1 value2:x\\n value1:[1,\"x\\n\"] key1:b "
                     "value1:null value0:{\"a\":[1,\"x\\n\"],\"b\":null} ");
    s.log[0] = '\0';
    CHECK(json_read(&r, "[12,13,14]", 10, &sink, &s) == -42);
    CHECK_STR(s.log, "open0:[ value1:12 value1:13 ");
}

TEST(reader_unescapes_and_compares_strings)
{
    static const char text[] = "[\"plain\",\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\",\"\\u00e9\\u20ac"
                               "\\ud83d\\ude00\\u0000\",\"spe\\u0065zy\"]";
    const char *cursor = NULL;
    json_read_value_t v[4];
    json_reader_t r;
    CHECK(json_read(&r, text, strlen(text), NULL, NULL) == JSON_READ_OK);
    json_read_value_t arr = {JSON_READ_ARRAY, text, text + strlen(text), 0, 0};
    for (int i = 0; i < 4; i++)
        CHECK(json_read_array_next(&arr, &cursor, &v[i]) == 1 && v[i].type == JSON_READ_STRING);
    CHECK(json_read_array_next(&arr, &cursor, &v[0]) == 0);
    char out[64];
    CHECK(!v[0].escaped && v[1].escaped && v[2].escaped && v[3].escaped);
    CHECK(json_read_unescape(&v[0], out) == 5 && memcmp(out, "plain", 5) == 0);
    CHECK(json_read_unescape(&v[1], out) == 12 && memcmp(out, "a\"b\\c/d\b\f\n\r\t", 12) == 0);
    CHECK(json_read_unescape(&v[2], out) == 10 &&
          memcmp(out, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0", 10) == 0);
    CHECK(json_read_string_is(&v[0], "plain", 5));
    CHECK(!json_read_string_is(&v[0], "plai", 4));
    CHECK(!json_read_string_is(&v[0], "plainer", 7));
    CHECK(!json_read_string_is(&v[0], "plane", 5));
    CHECK(json_read_string_is(&v[3], "speezy", 6));
    CHECK(!json_read_string_is(&v[3], "speezz", 6));
    CHECK(!json_read_string_is(&v[3], "spe\\u0065zy", 11));
}

/* Integers of up to 15 digits skip strtod: the same doubles, -0 included. */
static double read_number(const char *text)
{
    json_reader_t r;
    double got = NAN;
    json_read_value_t v;
    const char *cursor = NULL;
    char arr[80];
    snprintf(arr, sizeof arr, "[%s]", text);
    json_read_value_t whole = {JSON_READ_ARRAY, arr, arr + strlen(arr), 0, 0};
    if (json_read(&r, arr, strlen(arr), NULL, NULL) == JSON_READ_OK &&
        json_read_array_next(&whole, &cursor, &v) && v.type == JSON_READ_NUMBER)
        got = v.number;
    return got;
}

TEST(reader_numbers_are_strtods)
{
    static const char *const texts[] = {
        "0",
        "-0",
        "7",
        "-7",
        "1700000900",
        "999999999999999",
        "-999999999999999",
        "1234567890123456",
        "9007199254740993",
        "98765432109876543210",
        "0.1",
        "1e2",
        "-2.5e3",
        "123456789012345678901",
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        double want = strtod(texts[i], NULL), got = read_number(texts[i]);
        CHECK(memcmp(&want, &got, sizeof want) == 0);
    }
    CHECK(signbit(read_number("-0")));
}

static const char *members_verdict(const char *text, json_read_members_t *obj)
{
    switch (json_read_members(text, strlen(text), obj)) {
    case JSON_READ_OK:
        return "ok";
    case JSON_READ_ETOOLONG:
        return "too long";
    case JSON_READ_EDUPLICATE:
        return "duplicate";
    default:
        return "malformed";
    }
}

TEST(members_lists_one_object)
{
    static json_read_members_t obj;
    CHECK_STR(members_verdict(
                  " {\"exp\":1.5e3,\"e\\u0078t\":[1,{\"exp\":2}],\"eat\":\"x\",\"\":0} ", &obj),
              "ok");
    CHECK(obj.count == 4);
    const json_read_value_t *v = json_read_member(&obj, "exp", 3);
    CHECK(v && v->type == JSON_READ_NUMBER && v->number == 1500);
    v = json_read_member(&obj, "ext", 3); /* found by its unescaped name */
    CHECK(v && v->type == JSON_READ_ARRAY && v->end - v->at == 13);
    /* same length, same first letter, another name */
    v = json_read_member(&obj, "eat", 3);
    CHECK(v && json_read_string_is(v, "x", 1));
    CHECK(json_read_member(&obj, "ea", 2) == NULL);
    CHECK(json_read_member(&obj, "eax", 3) == NULL);
    CHECK(json_read_member(&obj, "xat", 3) == NULL);
    v = json_read_member(&obj, "", 0);
    CHECK(v && v->number == 0);
    CHECK_STR(members_verdict("{}", &obj), "ok");
    CHECK(obj.count == 0);
}

TEST(members_refuses_what_a_checker_and_a_script_would_read_apart)
{
    static json_read_members_t obj;
    CHECK_STR(members_verdict("{\"exp\":1,\"exp\":2}", &obj), "duplicate");
    CHECK_STR(members_verdict("{\"exp\":1,\"e\\u0078p\":2}", &obj), "duplicate");
    CHECK_STR(members_verdict("{\"a\":{\"b\":1,\"b\":2}}", &obj), "ok"); /* only its own */
    static const char *const bad[] = {"[]", "1", "\"{}\"", "null", "{\"a\":1", "{\"a\":1}x", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_STR(members_verdict(bad[i], &obj), "malformed");
    /* 128 members, then 129 */
    static char text[JSON_READ_MEMBERS_TEXT + 1];
    size_t n = 0;
    text[n++] = '{';
    for (int i = 0; i < JSON_READ_MEMBERS_MAX + 1; i++)
        n += (size_t)sprintf(text + n, "%s\"m%d\":%d", i ? "," : "", i, i);
    text[n++] = '}';
    text[n] = '\0';
    CHECK_STR(members_verdict(text, &obj), "too long");
    char *last = strrchr(text, ',');
    strcpy(last, "}");
    CHECK_STR(members_verdict(text, &obj), "ok");
    CHECK(obj.count == JSON_READ_MEMBERS_MAX);
    /* the text bound */
    memset(text, ' ', sizeof text - 1);
    memcpy(text, "{}", 2);
    CHECK(json_read_members(text, JSON_READ_MEMBERS_TEXT, &obj) == JSON_READ_OK);
    CHECK(json_read_members(text, JSON_READ_MEMBERS_TEXT + 1, &obj) == JSON_READ_ETOOLONG);
}

/* ---- a token's claims, member by member --------------------------------------------------- */

/* Whether the Lua values at a and b are the same JSON value (arrays keep their metatable). */
static int same_lua(lua_State *L, int a, int b)
{
    if (lua_type(L, a) != lua_type(L, b))
        return 0;
    if (lua_type(L, a) != LUA_TTABLE)
        return lua_rawequal(L, a, b) ||
               (lua_isnumber(L, a) && lua_tonumber(L, a) == lua_tonumber(L, b));
    int ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b), same = ma == mb;
    if (ma && mb)
        same = lua_rawequal(L, -1, -2);
    lua_pop(L, ma + mb);
    int na = 0, nb = 0;
    lua_pushnil(L);
    while (same && lua_next(L, a)) {
        na++;
        lua_pushvalue(L, -2);
        lua_rawget(L, b);
        same = same_lua(L, lua_gettop(L) - 1, lua_gettop(L));
        lua_pop(L, same ? 2 : 3);
    }
    lua_pushnil(L);
    while (same && lua_next(L, b)) {
        nb++;
        lua_pop(L, 1);
    }
    return same && na == nb;
}

/* speezy.jwt builds a verified token's claims from the members jwt read
 * (bind_json_push_value): the table json.decode makes of the same text. */
TEST(members_push_as_json_decode_reads_them)
{
    static char long_escaped[1024]; /* 100 times 9 characters, and the braces */
    size_t n = (size_t)sprintf(long_escaped, "{\"s\":\"");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(long_escaped + n, "a\\u00e9\\n");
    sprintf(long_escaped + n, "\"}");
    const char *const texts[] = {
        "{\"sub\":1,\"role\":\"STORE_OWNER\",\"sid\":\"s9\",\"iat\":1700000000,\"exp\":1700000900,"
        "\"iss\":\"speezy\",\"aud\":[\"speezy\"],\"jti\":\"x\"}",
        "{\"e\\u0078p\":-0,\"a\\\"b\":\"<\\/script>\\t\\ud83d\\ude00\",\"n\":[1,[],{},null,true],"
        "\"o\":{\"k\":{\"x\":[false]}},\"f\":-2.5e-3,\"z\":null,\"t\":true,\"\":\"\"}",
        long_escaped,
    };
    static json_read_members_t obj;
    lua_State *L = luaL_newstate();
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        lua_settop(L, 0);
        lua_pushcfunction(L, bind_json_decode);
        lua_pushstring(L, texts[i]);
        lua_call(L, 1, 1);
        CHECK(lua_istable(L, 1));
        CHECK(json_read_members(texts[i], strlen(texts[i]), &obj) == JSON_READ_OK);
        lua_createtable(L, 0, obj.count);
        for (int m = 0; m < obj.count; m++) {
            lua_pushlstring(L, obj.member[m].name, obj.member[m].name_len);
            CHECK(bind_json_push_value(L, &obj.member[m].value) == JSON_READ_OK);
            lua_rawset(L, -3);
        }
        CHECK(same_lua(L, 1, 2));
    }
    lua_close(L);
}

int main(void)
{
    const char *seed = getenv("SPEEZY_JSON_SEED");
    rng_state = seed ? strtoull(seed, NULL, 0) : (uint64_t)time(NULL) * 2654435761u + 1;
    fprintf(stderr, "seed %llu (SPEEZY_JSON_SEED replays it)\n", (unsigned long long)rng_state);
    RUN(random_documents_read_back_strictly);
    RUN(escapes);
    RUN(structure_and_separators);
    RUN(misuse_fails_cleanly);
    RUN(buffer_grows_from_caller_storage);
    RUN(numbers_read_back_as_the_same_double);
    RUN(log_lines_are_json);
    RUN(reader_refusals_say_what_and_where);
    RUN(reader_bounds_nesting);
    RUN(reader_hands_each_value_to_the_sink);
    RUN(reader_unescapes_and_compares_strings);
    RUN(reader_numbers_are_strtods);
    RUN(members_lists_one_object);
    RUN(members_refuses_what_a_checker_and_a_script_would_read_apart);
    RUN(members_push_as_json_decode_reads_them);
    return test_summary();
}
