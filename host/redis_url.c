/* redis_url.c — redis://[[user]:password@]host[:port][/db] into a redis_url_t (redis.h):
 * user and password percent-decoded, every field bounded; anything else is REDIS_EINVAL. */
#include "redis.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int url_hex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    ch = tolower(ch);
    return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

static int url_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            if (i + 2 >= n)
                return REDIS_EINVAL;
            int hi = url_hex((unsigned char)s[i + 1]);
            int lo = url_hex((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0)
                return REDIS_EINVAL;
            ch = hi * 16 + lo;
            i += 2;
        }
        if (j + 1 >= cap)
            return REDIS_EINVAL;
        out[j++] = (char)ch;
    }
    out[j] = '\0';
    return 0;
}

static int url_copy(const char *s, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return REDIS_EINVAL;
    memcpy(out, s, n);
    out[n] = '\0';
    return 0;
}

static int url_number(const char *s, size_t n, long max, int *out)
{
    long v = 0;
    if (n == 0 || n > 10)
        return REDIS_EINVAL;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return REDIS_EINVAL;
        v = v * 10 + (s[i] - '0');
    }
    if (v > max)
        return REDIS_EINVAL;
    *out = (int)v;
    return 0;
}

static int url_userinfo(const char *s, size_t n, redis_url_t *u)
{
    const char *colon = memchr(s, ':', n);
    if (!colon) /* "redis://secret@host": a bare word is taken as the password */
        return url_decode(s, n, u->password, sizeof(u->password));
    if (url_decode(s, (size_t)(colon - s), u->user, sizeof(u->user)) < 0)
        return REDIS_EINVAL;
    return url_decode(colon + 1, n - (size_t)(colon - s) - 1, u->password, sizeof(u->password));
}

static int url_hostport(const char *s, size_t n, redis_url_t *u)
{
    const char *end = s + n, *port = NULL;
    if (n > 0 && s[0] == '[') { /* [IPv6]:port */
        const char *close = memchr(s, ']', n);
        if (!close || url_copy(s + 1, (size_t)(close - s - 1), u->host, sizeof(u->host)) < 0)
            return REDIS_EINVAL;
        if (close + 1 < end && close[1] != ':')
            return REDIS_EINVAL;
        port = close + 1 < end ? close + 2 : NULL;
    } else {
        const char *colon = memchr(s, ':', n);
        if (url_copy(s, colon ? (size_t)(colon - s) : n, u->host, sizeof(u->host)) < 0)
            return REDIS_EINVAL;
        port = colon ? colon + 1 : NULL;
    }
    if (!port)
        return 0;
    if (url_number(port, (size_t)(end - port), 65535, &u->port) < 0 || u->port == 0)
        return REDIS_EINVAL;
    return 0;
}

int redis_url_parse(const char *url, redis_url_t *u)
{
    static const char scheme[] = "redis://";
    memset(u, 0, sizeof(*u));
    u->port = 6379;
    if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
        return REDIS_EINVAL;
    const char *auth = url + sizeof(scheme) - 1;
    size_t alen = strcspn(auth, "/?#");
    const char *at = NULL;
    for (const char *p = auth; p < auth + alen; p++)
        if (*p == '@')
            at = p; /* the last one: an unencoded '@' in a password stays in the password */
    const char *hp = auth;
    if (at) {
        if (url_userinfo(auth, (size_t)(at - auth), u) < 0)
            return REDIS_EINVAL;
        hp = at + 1;
    }
    if (url_hostport(hp, (size_t)(auth + alen - hp), u) < 0)
        return REDIS_EINVAL;
    const char *path = auth + alen;
    if (*path == '/' && path[1] && path[1] != '?' && path[1] != '#')
        return url_number(path + 1, strcspn(path + 1, "?#"), 1000000, &u->db);
    return 0;
}
