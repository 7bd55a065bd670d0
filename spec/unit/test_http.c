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
}

int main(void)
{
    RUN(pipelined_in_order);
    RUN(absolute_form_target);
    RUN(chunked_body);
    RUN(query_and_request_id);
    RUN(limits_answered);
    RUN(malformed);
    return test_summary();
}
