/* test_sms.c — the SMS adapters' pure parts (host/sms.c): the ISO time, the outbox line and
 * the provider's body byte for byte, and the outbox file: folders made, mode 0600, lines
 * appended whole, a path that cannot be written refused in words. The http adapter against a
 * real HTTPS server is spec/api/43_sms_spec.lua's. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sms.h"
#include "test.h"

/* A file's whole text (NUL-terminated), or NULL. */
static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

TEST(iso_time_has_milliseconds_in_utc)
{
    char t[SMS_ISO_TIME_BYTES];
    sms_iso_time(t, 0);
    CHECK_STR(t, "1970-01-01T00:00:00.000Z");
    sms_iso_time(t, INT64_C(1709164800007)); /* a leap day, 7 ms past midnight */
    CHECK_STR(t, "2024-02-29T00:00:00.007Z");
    sms_iso_time(t, INT64_C(1767225599999));
    CHECK_STR(t, "2025-12-31T23:59:59.999Z");
}

TEST(outbox_line_is_one_json_object_and_a_newline)
{
    json_buf_t b;
    json_init(&b, NULL, 0);
    sms_message_t m = {.to = "+919876543210", .body = "Your code is 123456", .otp = "123456"};
    sms_outbox_line(&b, &m, INT64_C(1709164800123));
    CHECK(json_ok(&b));
    json_put(&b, "", 1);
    CHECK_STR(b.p, "{\"to\":\"+919876543210\",\"otp\":\"123456\",\"body\":\"Your code is "
                   "123456\",\"at\":\"2024-02-29T00:00:00.123Z\"}\n");
    json_free(&b);
}

TEST(outbox_line_escapes_the_body_and_writes_null_without_a_code)
{
    json_buf_t b;
    json_init(&b, NULL, 0);
    sms_message_t m = {
        .to = "+91\"1", .body = "a \"quote\",\nline\\2\t\x01 \xe2\x82\xb9", .otp = NULL};
    sms_outbox_line(&b, &m, 0);
    json_put(&b, "", 1);
    CHECK_STR(b.p, "{\"to\":\"+91\\\"1\",\"otp\":null,\"body\":\"a \\\"quote\\\",\\nline\\\\2\\t"
                   "\\u0001 \xe2\x82\xb9\",\"at\":\"1970-01-01T00:00:00.000Z\"}\n");
    CHECK(strchr(b.p, '\n') == b.p + strlen(b.p) - 1); /* the newline ends it, and only it */
    json_free(&b);
}

TEST(http_body_has_to_and_body_only)
{
    json_buf_t b;
    json_init(&b, NULL, 0);
    sms_message_t m = {.to = "+919876543210", .body = "code \"1\"", .otp = "123456"};
    sms_http_body(&b, &m);
    CHECK(json_ok(&b));
    json_put(&b, "", 1);
    CHECK_STR(b.p, "{\"to\":\"+919876543210\",\"body\":\"code \\\"1\\\"\"}");
    json_free(&b);
}

TEST(outbox_append_makes_folders_and_appends_whole_lines)
{
    char dir[] = "/tmp/speezy-test-sms-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/a/b/outbox.jsonl", dir);
    char msg[256] = "";
    sms_message_t m1 = {.to = "+911", .body = "one", .otp = "111111"};
    sms_message_t m2 = {.to = "+912", .body = "two", .otp = "222222"};
    CHECK(sms_outbox_append(path, &m1, msg, sizeof(msg)) == 0);
    CHECK(sms_outbox_append(path, &m2, msg, sizeof(msg)) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    char parent[256];
    snprintf(parent, sizeof(parent), "%s/a/b", dir);
    CHECK(stat(parent, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 0777) == 0700);
    char *text = read_all(path);
    CHECK(text != NULL);
    if (text) {
        char *second = strchr(text, '\n');
        CHECK(strncmp(text, "{\"to\":\"+911\",\"otp\":\"111111\",\"body\":\"one\",\"at\":\"", 46) ==
              0);
        CHECK(second && strncmp(second + 1, "{\"to\":\"+912\",\"otp\":\"222222\"", 27) == 0);
        CHECK(second && strchr(second + 1, '\n') == text + strlen(text) - 1);
    }
    free(text);
    unlink(path);
    rmdir(parent);
    snprintf(parent, sizeof(parent), "%s/a", dir);
    rmdir(parent);
    rmdir(dir);
}

TEST(outbox_append_refuses_a_path_it_cannot_write)
{
    char file[] = "/tmp/speezy-test-sms-XXXXXX";
    int fd = mkstemp(file);
    CHECK(fd >= 0);
    close(fd);
    char path[256];
    snprintf(path, sizeof(path), "%s/outbox.jsonl", file); /* under a file, not a folder */
    char msg[256] = "";
    sms_message_t m = {.to = "+911", .body = "secret 654321", .otp = "654321"};
    CHECK(sms_outbox_append(path, &m, msg, sizeof(msg)) == SMS_EUNAVAILABLE);
    CHECK(strstr(msg, path) != NULL);
    CHECK(strstr(msg, "654321") == NULL);
    unlink(file);
}

int main(void)
{
    RUN(iso_time_has_milliseconds_in_utc);
    RUN(outbox_line_is_one_json_object_and_a_newline);
    RUN(outbox_line_escapes_the_body_and_writes_null_without_a_code);
    RUN(http_body_has_to_and_body_only);
    RUN(outbox_append_makes_folders_and_appends_whole_lines);
    RUN(outbox_append_refuses_a_path_it_cannot_write);
    return test_summary();
}
