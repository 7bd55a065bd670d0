/* netaddr.c — addresses, CIDR ranges and X-Forwarded-For (see netaddr.h). */
#include "netaddr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t netaddr_v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int netaddr_parse(const char *s, size_t len, netaddr_t *out)
{
    char buf[NETADDR_TEXT_SIZE];
    if (len == 0 || len >= sizeof(buf) || memchr(s, '\0', len))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->b) == 1) {
        out->family = 4;
        return 0;
    }
    if (inet_pton(AF_INET6, buf, out->b) != 1)
        return -1;
    out->family = 6;
    if (memcmp(out->b, netaddr_v4_mapped, 12) == 0) {
        memmove(out->b, out->b + 12, 4);
        memset(out->b + 4, 0, 12);
        out->family = 4;
    }
    return 0;
}

void netaddr_format(const netaddr_t *a, char out[NETADDR_TEXT_SIZE])
{
    if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->b, out, NETADDR_TEXT_SIZE))
        out[0] = '\0';
}

int netaddr_cidr_parse(const char *s, size_t len, netaddr_cidr_t *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (netaddr_parse(s, alen, &out->net) < 0)
        return -1;
    unsigned max = out->net.family == 4 ? 32 : 128;
    out->bits = max;
    if (slash) {
        const char *d = slash + 1, *end = s + len;
        if (d == end || end - d > 3)
            return -1;
        unsigned bits = 0;
        for (; d < end; d++) {
            if (*d < '0' || *d > '9')
                return -1;
            bits = bits * 10 + (unsigned)(*d - '0');
        }
        if (bits > max)
            return -1;
        out->bits = bits;
    }
    /* nothing set beyond the prefix */
    for (unsigned i = out->bits; i < max; i++)
        if (out->net.b[i / 8] & (0x80 >> (i % 8)))
            return -1;
    return 0;
}

int netaddr_in(const netaddr_t *a, const netaddr_cidr_t *c)
{
    if (a->family != c->net.family)
        return 0;
    unsigned whole = c->bits / 8, rest = c->bits % 8;
    if (memcmp(a->b, c->net.b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (a->b[whole] & mask) == c->net.b[whole];
}

int netaddr_in_any(const netaddr_t *a, const netaddr_cidr_t *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (netaddr_in(a, &list[i]))
            return 1;
    return 0;
}

static int netaddr_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* [*s, *e) without its blanks at either end. */
static void netaddr_trim(const char **s, const char **e)
{
    while (*s < *e && netaddr_blank(**s))
        (*s)++;
    while (*e > *s && netaddr_blank((*e)[-1]))
        (*e)--;
}

int netaddr_cidr_list_parse(const char *text, netaddr_cidr_t **out, size_t *n, char *err,
                            size_t errlen)
{
    *out = NULL;
    *n = 0;
    const char *end = text + strlen(text), *t = text;
    netaddr_trim(&t, &end);
    if (t == end)
        return 0;
    size_t cap = 1;
    for (const char *p = t; p < end; p++)
        cap += *p == ',';
    netaddr_cidr_t *list = calloc(cap, sizeof(*list));
    if (!list) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t k = 0;
    while (t <= end) {
        const char *comma = memchr(t, ',', (size_t)(end - t));
        const char *s = t, *e = comma ? comma : end;
        netaddr_trim(&s, &e);
        if (netaddr_cidr_parse(s, (size_t)(e - s), &list[k]) < 0) {
            snprintf(err, errlen, "'%.*s' is not an IPv4 or IPv6 address or CIDR range",
                     (int)(e - s > 60 ? 60 : e - s), s);
            free(list);
            return -1;
        }
        k++;
        if (!comma)
            break;
        t = comma + 1;
    }
    *out = list;
    *n = k;
    return 0;
}

/* Walks the X-Forwarded-For entries from the right; see netaddr.h. */
int netaddr_client(const char *peer, const char *const *xff, const size_t *xff_len, size_t nxff,
                   const netaddr_cidr_t *trusted, size_t ntrusted, char out[NETADDR_TEXT_SIZE])
{
    netaddr_t a;
    if (ntrusted == 0 || nxff == 0 || nxff > NETADDR_XFF_MAX ||
        netaddr_parse(peer, strlen(peer), &a) < 0 || !netaddr_in_any(&a, trusted, ntrusted))
        return 0;
    for (size_t h = nxff; h-- > 0;) {
        const char *start = xff[h], *e = xff[h] + xff_len[h];
        for (;;) {
            const char *s = e;
            while (s > start && s[-1] != ',')
                s--;
            const char *es = e, *ss = s;
            netaddr_trim(&ss, &es);
            if (netaddr_parse(ss, (size_t)(es - ss), &a) < 0)
                return 0;
            if (!netaddr_in_any(&a, trusted, ntrusted)) {
                netaddr_format(&a, out);
                return 1;
            }
            if (s == start)
                break;
            e = s - 1; /* before the comma */
        }
    }
    netaddr_format(&a, out); /* every entry trusted: the leftmost is the furthest known */
    return 1;
}
