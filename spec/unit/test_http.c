/* test_http.c — the HTTP parsing path without sockets (http_parse_only). */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "test.h"

typedef struct {
    int n;
    char paths[8][64];
    char bodies[8][64];
    char query[64];
    char idhdr[80];
} seen_t;

static const http_limits_t limits = {
    .max_header_bytes = 1024,
    .max_url_bytes = 128,
    .max_body_bytes = 64,
    .max_connections = 1,
    .header_timeout_ms = 1000,
    .body_timeout_ms = 1000,
    .keepalive_timeout_ms = 1000,
};

static void answer(http_req_t *req, void *ud)
{
    seen_t *s = ud;
    if (s->n < 8) {
        snprintf(s->paths[s->n], 64, "%s %.*s", req->method, (int)req->path_len, req->path);
        snprintf(s->bodies[s->n], 64, "%.*s", (int)req->body_len, req->body);
        snprintf(s->query, sizeof(s->query), "%.*s", (int)req->query_len, req->query);
        snprintf(s->idhdr, sizeof(s->idhdr), "%s", req->id);
    }
    s->n++;
    http_respond(req, 200, NULL, 0, "ok", 2);
}

static int parse(const char *data, seen_t *s)
{
    memset(s, 0, sizeof(*s));
    return http_parse_only(data, strlen(data), &limits, answer, s);
}

TEST(pipelined_in_order)
{
    seen_t s;
    CHECK(parse("GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"
                "POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
                "GET /c HTTP/1.1\r\n\r\n",
                &s) == 0);
    CHECK(s.n == 3);
    CHECK_STR(s.paths[0], "GET /a");
    CHECK_STR(s.paths[1], "POST /b");
    CHECK_STR(s.bodies[1], "abc");
    CHECK_STR(s.paths[2], "GET /c");
}

TEST(absolute_form_target)
{
    seen_t s;
    CHECK(parse("GET http://example.com/stores/7?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n"
                "GET HTTP://example.com HTTP/1.1\r\n\r\n",
                &s) == 0);
    CHECK(s.n == 2);
    CHECK_STR(s.paths[0], "GET /stores/7");
    CHECK_STR(s.paths[1], "GET /");
    /* the authority ends at '?' too: the query is not a path */
    CHECK(parse("GET http://example.com?next=/admin/status HTTP/1.1\r\n\r\n", &s) == 0);
    CHECK(s.n == 1);
    CHECK_STR(s.paths[0], "GET /");
    CHECK_STR(s.query, "next=/admin/status");
}

TEST(chunked_body)
{
    seen_t s;
    CHECK(parse("POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n",
                &s) == 0);
    CHECK(s.n == 1);
    CHECK_STR(s.bodies[0], "abcdefg");
}

typedef struct {
    int n;
    size_t nheaders;
    int a_intact;
    char body[16];
} trailers_seen_t;

static void answer_trailers(http_req_t *req, void *ud)
{
    trailers_seen_t *s = ud;
    const http_header_t *a = http_req_header(req, "x-a");
    s->n++;
    s->nheaders = req->nheaders;
    s->a_intact = a && a->value_len == 900 && a->value[0] == 'a' && a->value[899] == 'a';
    snprintf(s->body, sizeof(s->body), "%.*s", (int)req->body_len, req->body);
    http_respond(req, 200, NULL, 0, "ok", 2);
}

/* Trailer fields after a chunked body count against the header limit but are not kept: a
 * request whose headers and trailers outgrow the store's first allocation kept pointers
 * into the freed one (a use after free under ASan). */
TEST(trailers_leave_headers_intact)
{
    http_limits_t big = limits;
    big.max_header_bytes = 4096;
    char req[2048];
    char a[901], t[601];
    memset(a, 'a', 900);
    a[900] = '\0';
    memset(t, 't', 600);
    t[600] = '\0';
    snprintf(req, sizeof(req),
             "POST /x HTTP/1.1\r\nX-A: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
             "3\r\nabc\r\n0\r\nX-T: %s\r\n\r\n",
             a, t);
    trailers_seen_t s = {0};
    CHECK(http_parse_only(req, strlen(req), &big, answer_trailers, &s) == 0);
    CHECK(s.n == 1);
    CHECK(s.nheaders == 2);
    CHECK(s.a_intact);
    CHECK_STR(s.body, "abc");
    /* and they still count: past the limit they are refused */
    big.max_header_bytes = 1200;
    CHECK(http_parse_only(req, strlen(req), &big, answer_trailers, &s) == 431);
}

TEST(query_and_request_id)
{
    seen_t s;
    CHECK(parse("GET /q?a=1&b=2#frag HTTP/1.1\r\nX-Request-Id: abc-123\r\n\r\n", &s) == 0);
    CHECK_STR(s.query, "a=1&b=2");
    CHECK_STR(s.idhdr, "abc-123");
    CHECK(parse("GET /q HTTP/1.1\r\nX-Request-Id: bad id\r\n\r\n", &s) == 0);
    CHECK(strcmp(s.idhdr, "bad id") != 0 && strlen(s.idhdr) > 0);
}

TEST(limits_answered)
{
    seen_t s;
    char url[300] = "GET /";
    memset(url + 5, 'a', 200);
    strcpy(url + 205, " HTTP/1.1\r\n\r\n");
    CHECK(parse(url, &s) == 414);
    CHECK(parse("POST /b HTTP/1.1\r\nContent-Length: 65\r\n\r\n", &s) == 413);
    CHECK(
        parse(
            "POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "41\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n0\r\n\r\n",
            &s) == 413);
    char big[1200] = "GET / HTTP/1.1\r\nX-Big: ";
    size_t o = strlen(big);
    memset(big + o, 'b', 1100);
    strcpy(big + o + 1100, "\r\n\r\n");
    CHECK(parse(big, &s) == 431);
    CHECK(parse("POST /b HTTP/1.1\r\nContent-Length: 1\r\nExpect: tea\r\n\r\nx", &s) == 417);
}

TEST(malformed)
{
    seen_t s;
    CHECK(parse("GARBAGE\r\n\r\n", &s) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &s) == 400);
    CHECK(parse("GET / HTTP/1.1\r\nBad Header\r\n\r\n", &s) == 400);
    CHECK(parse("GET /ok HTTP/1.1\r\n\r\nBROKEN", &s) == 400 && s.n == 1);
    /* llhttp takes spaces inside a header name; RFC 9112 5.1 wants a 400 */
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello", &s) == 400 && s.n == 0);
    CHECK(parse("GET / HTTP/1.1\r\nH to: x\r\n\r\n", &s) == 400 && s.n == 0);
    CHECK(parse("GET / HTTP/1.1\r\nA: b\r\n: x\r\n\r\n", &s) == 400 && s.n == 0);
}

/* A body is framed one way only: a Transfer-Encoding beside Content-Length, or one that is
 * not chunked (even empty, which llhttp ignores and a proxy may not), is refused. */
TEST(framing_conflicts)
{
    seen_t s;
    CHECK(parse("POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                "3\r\nabc\r\n0\r\n\r\n",
                &s) == 400 &&
          s.n == 0);
    CHECK(parse("POST /b HTTP/1.1\r\nTransfer-Encoding: \r\nContent-Length: 3\r\n\r\nabc", &s) ==
              400 &&
          s.n == 0);
    CHECK(parse("POST /b HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n", &s) == 400 && s.n == 0);
    CHECK(parse("POST /b HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nabc", &s) == 400 && s.n == 0);
}

/* HTTP/1.0 and 1.1 only: llhttp also parses a versionless (0.9) request line with headers
 * after it, and HTTP/2.0 */
TEST(versions)
{
    seen_t s;
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", &s) == 0 && s.n == 1);
    CHECK(parse("GET /\r\nA: b\r\n\r\n", &s) == 505 && s.n == 0);
    CHECK(parse("GET / HTTP/2.0\r\n\r\n", &s) == 505 && s.n == 0);
    CHECK(parse("GET / HTTP/0.9\r\n\r\n", &s) == 505 && s.n == 0);
}

int main(void)
{
    RUN(pipelined_in_order);
    RUN(absolute_form_target);
    RUN(chunked_body);
    RUN(trailers_leave_headers_intact);
    RUN(query_and_request_id);
    RUN(limits_answered);
    RUN(malformed);
    RUN(framing_conflicts);
    RUN(versions);
    return test_summary();
}
