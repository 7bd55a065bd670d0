/* fuzz_json_writer.c — arbitrary call sequences through the JSON writer (host/json.h).
 *
 * The input is a program: each byte picks a call (open, close, key, string, number, ...)
 * and the bytes after it give its argument, so strings carry whatever bytes the fuzzer
 * finds. A text the writer calls complete (json_ok) must be exactly one strict JSON value
 * (spec/unit/json_check.h), and every string and key must read back as jc_sanitize says;
 * misuse must leave json_ok false, never broken JSON that claims to be whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../unit/json_check.h"
#include "json.h"

typedef struct {
    const uint8_t *p, *end;
} fuzz_input_t;

static size_t take(fuzz_input_t *in, size_t want, const uint8_t **out)
{
    size_t n = (size_t)(in->end - in->p);
    if (want < n)
        n = want;
    *out = in->p;
    in->p += n;
    return n;
}

static uint64_t take_u64(fuzz_input_t *in)
{
    const uint8_t *p;
    uint64_t v = 0;
    size_t n = take(in, 8, &p);
    memcpy(&v, p, n);
    return v;
}

/* The strings and keys written, sanitized as a reader must see them, in document order. */
typedef struct {
    char *text[256];
    size_t len[256];
    int n;
} expected_t;

static void expect(expected_t *x, const uint8_t *s, size_t n)
{
    if (x->n == 256)
        return;
    x->text[x->n] = malloc(3 * n + 1);
    x->len[x->n] = jc_sanitize((const char *)s, n, x->text[x->n]);
    x->n++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input_t in = {data, data + size};
    expected_t x = {0};
    char storage[32];
    json_buf_t b;
    json_init(&b, storage, sizeof(storage));
    int strings_in_order = 1; /* raw values may hold strings of their own */
    while (in.p < in.end) {
        uint8_t op = *in.p++;
        const uint8_t *s;
        size_t n;
        switch (op % 12) {
        case 0:
            json_obj_open(&b);
            break;
        case 1:
            json_obj_close(&b);
            break;
        case 2:
            json_arr_open(&b);
            break;
        case 3:
            json_arr_close(&b);
            break;
        case 4: { /* a key: a C string, so up to the first NUL */
            char key[64];
            n = take(&in, op / 12, &s);
            memcpy(key, s, n);
            key[n] = '\0';
            json_key(&b, key);
            expect(&x, (const uint8_t *)key, strlen(key));
            break;
        }
        case 5:
            n = take(&in, op / 12 * 8, &s);
            json_str(&b, (const char *)s, n);
            expect(&x, s, n);
            break;
        case 6:
            json_int(&b, (int64_t)take_u64(&in));
            break;
        case 7:
            json_uint(&b, take_u64(&in));
            break;
        case 8: {
            uint64_t bits = take_u64(&in);
            double d;
            memcpy(&d, &bits, sizeof(d));
            json_double(&b, d);
            break;
        }
        case 9:
            json_bool(&b, op & 16);
            break;
        case 10:
            json_null(&b);
            break;
        default:
            json_raw(&b, "[\"r\",{}]", 8);
            strings_in_order = 0;
        }
    }
    if (json_ok(&b) && b.len) {
        jc_doc_t d;
        if (jc_parse(b.p, b.len, &d) < 0) {
            fprintf(stderr, "writer output is not JSON (%s at %zu): %.*s\n", d.err, d.err_at,
                    (int)(b.len < 200 ? b.len : 200), b.p);
            __builtin_trap();
        }
        int k = 0;
        for (size_t i = 0; strings_in_order && i < d.n && k < x.n; i++) {
            if (d.ev[i].kind != JC_KEY && d.ev[i].kind != JC_STR)
                continue;
            if (d.ev[i].len != x.len[k] || memcmp(d.ev[i].text, x.text[k], x.len[k]) != 0)
                __builtin_trap(); /* a string did not read back as written */
            k++;
        }
        jc_free(&d);
    }
    for (int i = 0; i < x.n; i++)
        free(x.text[i]);
    json_free(&b);
    return 0;
}
