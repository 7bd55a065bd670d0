/* test_netaddr.c — netaddr.c: addresses and their canonical text, CIDR ranges and matching
 * (IPv4, IPv6, prefixes on and off byte boundaries), the TRUSTED_PROXIES list, and the client
 * address read from X-Forwarded-For behind trusted proxies. */
#include <stdarg.h>

#include "netaddr.h"
#include "test.h"

static const char *canon(const char *s)
{
    static char out[NETADDR_TEXT_SIZE];
    netaddr_t a;
    if (netaddr_parse(s, strlen(s), &a) < 0)
        return NULL;
    netaddr_format(&a, out);
    return out;
}

static int in(const char *addr, const char *cidr)
{
    netaddr_t a;
    netaddr_cidr_t c;
    if (netaddr_parse(addr, strlen(addr), &a) < 0 || netaddr_cidr_parse(cidr, strlen(cidr), &c) < 0)
        return -1;
    return netaddr_in(&a, &c);
}

static int cidr_ok(const char *s)
{
    netaddr_cidr_t c;
    return netaddr_cidr_parse(s, strlen(s), &c) == 0;
}

TEST(addresses)
{
    CHECK_STR(canon("127.0.0.1"), "127.0.0.1");
    CHECK_STR(canon("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
    CHECK_STR(canon("::1"), "::1");
    CHECK_STR(canon("::ffff:10.1.2.3"), "10.1.2.3"); /* IPv4-mapped: one client, one form */
    CHECK(canon("") == NULL);
    CHECK(canon("1.2.3") == NULL);
    CHECK(canon("1.2.3.256") == NULL);
    CHECK(canon("1.2.3.4:80") == NULL);
    CHECK(canon("[::1]") == NULL);
    CHECK(canon("fe80::1%eth0") == NULL);
    CHECK(canon("localhost") == NULL);
    CHECK(canon(" 1.2.3.4") == NULL);
    CHECK(canon("1111:2222:3333:4444:5555:6666:7777:8888:9999") == NULL);
    netaddr_t a;
    CHECK(netaddr_parse("1.2.3.4\0"
                        "5",
                        9, &a) < 0);
}

TEST(ranges)
{
    CHECK(in("10.1.2.3", "10.0.0.0/8") == 1);
    CHECK(in("11.1.2.3", "10.0.0.0/8") == 0);
    CHECK(in("172.16.0.1", "172.16.0.0/12") == 1);
    CHECK(in("172.31.255.255", "172.16.0.0/12") == 1);
    CHECK(in("172.32.0.0", "172.16.0.0/12") == 0);
    CHECK(in("192.168.1.7", "192.168.1.7") == 1); /* an address alone: /32 */
    CHECK(in("192.168.1.8", "192.168.1.7") == 0);
    CHECK(in("8.8.8.8", "0.0.0.0/0") == 1);
    CHECK(in("2001:db8::5", "2001:db8::/32") == 1);
    CHECK(in("2001:db9::5", "2001:db8::/32") == 0);
    CHECK(in("fd12:3456::1", "fc00::/7") == 1);
    CHECK(in("fe00::1", "fc00::/7") == 0);
    CHECK(in("::1", "::1/128") == 1);
    CHECK(in("::ffff:10.0.0.9", "10.0.0.0/24") == 1);
    CHECK(in("10.0.0.1", "::/0") == 0); /* families never mix */
    CHECK(in("::1", "0.0.0.0/0") == 0);
}

TEST(range_refusals)
{
    CHECK(cidr_ok("10.0.0.0/8"));
    CHECK(cidr_ok("::/0"));
    CHECK(!cidr_ok("10.0.0.0/33"));
    CHECK(!cidr_ok("::/129"));
    CHECK(!cidr_ok("10.0.0.1/8")); /* bits set beyond the prefix */
    CHECK(!cidr_ok("10.0.0.0/"));
    CHECK(!cidr_ok("10.0.0.0/8x"));
    CHECK(!cidr_ok("10.0.0.0/-8"));
    CHECK(!cidr_ok("10.0.0.0/0008"));
    CHECK(!cidr_ok("/8"));
    CHECK(!cidr_ok("10.0.0.0/8/8"));
}

TEST(proxy_list)
{
    netaddr_cidr_t *list;
    size_t n;
    char err[160];
    CHECK(netaddr_cidr_list_parse("", &list, &n, err, sizeof(err)) == 0);
    CHECK(n == 0 && list == NULL);
    CHECK(netaddr_cidr_list_parse("  ", &list, &n, err, sizeof(err)) == 0 && n == 0);
    CHECK(netaddr_cidr_list_parse("10.0.0.0/8, 192.168.1.1 ,fd00::/8", &list, &n, err,
                                  sizeof(err)) == 0);
    CHECK(n == 3);
    netaddr_t a;
    netaddr_parse("fd00::7", 7, &a);
    CHECK(netaddr_in_any(&a, list, n));
    netaddr_parse("192.168.1.2", 11, &a);
    CHECK(!netaddr_in_any(&a, list, n));
    free(list);
    CHECK(netaddr_cidr_list_parse("10.0.0.0/8,,fd00::/8", &list, &n, err, sizeof(err)) < 0);
    CHECK(netaddr_cidr_list_parse("10.0.0.0/8,", &list, &n, err, sizeof(err)) < 0);
    CHECK(netaddr_cidr_list_parse("10.0.0.0/8, proxy.local", &list, &n, err, sizeof(err)) < 0);
    CHECK(strstr(err, "'proxy.local'") != NULL);
    CHECK(list == NULL && n == 0);
}

/* client(peer, trusted list, XFF values...) -> the address req.ip would show */
static const char *client(const char *peer, const char *trusted, int nxff, ...)
{
    static char out[NETADDR_TEXT_SIZE];
    netaddr_cidr_t *list;
    size_t n;
    char err[160];
    if (netaddr_cidr_list_parse(trusted, &list, &n, err, sizeof(err)) < 0)
        return "bad list";
    const char *xff[NETADDR_XFF_MAX + 2];
    size_t len[NETADDR_XFF_MAX + 2];
    va_list ap;
    va_start(ap, nxff);
    for (int i = 0; i < nxff; i++) {
        xff[i] = va_arg(ap, const char *);
        len[i] = strlen(xff[i]);
    }
    va_end(ap);
    snprintf(out, sizeof(out), "%s", peer);
    if (netaddr_client(peer, xff, len, (size_t)nxff, list, n, out) == 0)
        snprintf(out, sizeof(out), "peer");
    free(list);
    return out;
}

TEST(forwarded_for)
{
    const char *lb = "127.0.0.1/32, 10.0.0.0/8";
    /* an untrusted peer's header is ignored, whatever it says */
    CHECK_STR(client("203.0.113.5", lb, 1, "198.51.100.7"), "peer");
    CHECK_STR(client("127.0.0.1", "", 1, "198.51.100.7"), "peer");
    /* a trusted peer: the rightmost address that is not a trusted proxy */
    CHECK_STR(client("127.0.0.1", lb, 1, "198.51.100.7"), "198.51.100.7");
    CHECK_STR(client("127.0.0.1", lb, 1, "198.51.100.7, 10.0.0.2"), "198.51.100.7");
    CHECK_STR(client("127.0.0.1", lb, 1, "1.1.1.1, 198.51.100.7,10.0.0.2 , 10.0.0.3"),
              "198.51.100.7");
    /* what the client wrote left of it is never read, garbage included */
    CHECK_STR(client("127.0.0.1", lb, 1, "nonsense, 198.51.100.7"), "198.51.100.7");
    /* several headers are one list, in order */
    CHECK_STR(client("127.0.0.1", lb, 2, "198.51.100.7", "10.0.0.2"), "198.51.100.7");
    CHECK_STR(client("127.0.0.1", lb, 2, "1.1.1.1", "198.51.100.7, 10.0.0.9"), "198.51.100.7");
    /* all trusted: the leftmost */
    CHECK_STR(client("127.0.0.1", lb, 1, "10.0.0.7, 10.0.0.2"), "10.0.0.7");
    /* canonical text */
    CHECK_STR(client("127.0.0.1", lb, 1, "2001:DB8::0:1"), "2001:db8::1");
    CHECK_STR(client("::ffff:127.0.0.1", lb, 1, "::ffff:198.51.100.7"), "198.51.100.7");
    /* an entry walked over that is not an address: the peer stands */
    CHECK_STR(client("127.0.0.1", lb, 1, "198.51.100.7:4711"), "peer");
    CHECK_STR(client("127.0.0.1", lb, 1, "198.51.100.7, junk, 10.0.0.2"), "peer");
    CHECK_STR(client("127.0.0.1", lb, 1, "198.51.100.7,"), "peer");
    CHECK_STR(client("127.0.0.1", lb, 1, ""), "peer");
    CHECK_STR(client("127.0.0.1", lb, 1, "unknown"), "peer");
    CHECK_STR(client("127.0.0.1", lb, 0), "peer");
}

TEST(forwarded_for_header_count)
{
    netaddr_cidr_t *list;
    size_t n;
    char err[160], out[NETADDR_TEXT_SIZE] = "";
    CHECK(netaddr_cidr_list_parse("127.0.0.1", &list, &n, err, sizeof(err)) == 0);
    const char *xff[NETADDR_XFF_MAX + 1];
    size_t len[NETADDR_XFF_MAX + 1];
    for (int i = 0; i <= NETADDR_XFF_MAX; i++)
        xff[i] = "198.51.100.7", len[i] = 12;
    CHECK(netaddr_client("127.0.0.1", xff, len, NETADDR_XFF_MAX, list, n, out) == 1);
    CHECK_STR(out, "198.51.100.7");
    CHECK(netaddr_client("127.0.0.1", xff, len, NETADDR_XFF_MAX + 1, list, n, out) == 0);
    free(list);
}

int main(void)
{
    RUN(addresses);
    RUN(ranges);
    RUN(range_refusals);
    RUN(proxy_list);
    RUN(forwarded_for);
    RUN(forwarded_for_header_count);
    return test_summary();
}
