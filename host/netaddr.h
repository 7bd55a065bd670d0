/* netaddr.h — IP addresses and CIDR ranges, and the client's address behind trusted proxies.
 * Pure C, no I/O.
 *
 * Rate limits key on the client's address, so a client must not be able to choose it: the
 * address is the TCP peer's, and X-Forwarded-For counts only when that peer is one of the
 * operator's own proxies (TRUSTED_PROXIES). Each proxy appends the address it received the
 * request from, so the header is read from the right: past every trusted proxy, the first
 * address that is not one is the client (everything to its left the client may have written
 * itself). */
#ifndef SPEEZY_NETADDR_H
#define SPEEZY_NETADDR_H

#include <stddef.h>
#include <stdint.h>

/* Longest text of an address, NUL included (INET6_ADDRSTRLEN). */
#define NETADDR_TEXT_SIZE 46
/* X-Forwarded-For headers of one request that are read; with more, the peer stands. */
#define NETADDR_XFF_MAX 16

typedef struct netaddr {
    int family; /* 4 or 6 */
    uint8_t b[16];
} netaddr_t;

typedef struct netaddr_cidr {
    netaddr_t net; /* bits beyond the prefix are zero */
    unsigned bits;
} netaddr_cidr_t;

/* An IPv4 (dotted decimal) or IPv6 address; an IPv4-mapped IPv6 one (::ffff:1.2.3.4) becomes
 * IPv4, so one client has one form. 0, or -1 for anything else (ports, zones, names). */
int netaddr_parse(const char *s, size_t len, netaddr_t *out);
/* Its canonical text (lower-case, IPv6 compressed). */
void netaddr_format(const netaddr_t *a, char out[NETADDR_TEXT_SIZE]);

/* "10.0.0.0/8", "fd00::/8", or an address alone (/32, /128). -1 for a prefix out of range or
 * bits set beyond it ("10.0.0.1/8": a typo more likely than a meaning). */
int netaddr_cidr_parse(const char *s, size_t len, netaddr_cidr_t *out);
int netaddr_in(const netaddr_t *a, const netaddr_cidr_t *c);
int netaddr_in_any(const netaddr_t *a, const netaddr_cidr_t *list, size_t n);

/* A comma-separated list of ranges, blanks around each allowed; empty text is an empty list
 * (*out NULL). 0, or -1 with err naming the first bad entry. Free *out with free(). */
int netaddr_cidr_list_parse(const char *text, netaddr_cidr_t **out, size_t *n, char *err,
                            size_t errlen);

/* The client of a request from peer (its text) that carries the X-Forwarded-For values xff (in
 * header order, each a comma-separated list). When the peer is trusted, the entries are walked
 * from the right past the trusted ones: the first untrusted one is the client; when all are
 * trusted, the leftmost. The peer stands when it is not trusted or not an address, when there
 * is no entry, more than NETADDR_XFF_MAX headers, or when an entry walked over is not an
 * address (a proxy that writes garbage is not believed). Returns 1 with the client's
 * canonical text in out, 0 when the peer stands (out untouched). */
int netaddr_client(const char *peer, const char *const *xff, const size_t *xff_len, size_t nxff,
                   const netaddr_cidr_t *trusted, size_t ntrusted, char out[NETADDR_TEXT_SIZE]);

#endif
