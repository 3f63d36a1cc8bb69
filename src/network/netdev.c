/* /proc/PID/net/dev: the counters of each interface in a network namespace. The names are the
 * pod's to choose (a pod with NET_ADMIN renames its interfaces): parsed as untrusted text. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "network/network.h"

/* One number of a line; false at its end or on anything but digits. */
static bool field(const char **p, const char *end, uint64_t *ret)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    uint64_t v = 0;
    const char *start = s;
    while (s < end && *s >= '0' && *s <= '9') {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
        s++;
    }
    if (s == start || (s < end && *s != ' '))
        return false;
    *p = s;
    *ret = v;
    return true;
}

size_t network_netdev_parse(const char *text, size_t len, struct network_if_usage *out, size_t max)
{
    size_t n = 0;
    const char *p = text, *lim = text + len;
    for (unsigned line = 0; p < lim && n < max; line++) {
        const char *eol = memchr(p, '\n', (size_t)(lim - p));
        const char *end = eol ? eol : lim;
        const char *colon = memchr(p, ':', (size_t)(end - p));
        const char *name = p;
        p = eol ? eol + 1 : lim;
        if (line < 2 || !colon) /* the two header lines */
            continue;
        while (name < colon && *name == ' ')
            name++;
        size_t nlen = (size_t)(colon - name);
        /* The kernel's names have no NUL or space (nor ':'): a line with one is not its. */
        if (nlen == 0 || nlen >= sizeof(out->name) || memchr(name, '\0', nlen) ||
            memchr(name, ' ', nlen))
            continue;
        /* rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs
         * drop (and more) */
        uint64_t v[12];
        const char *s = colon + 1;
        bool ok = true;
        for (size_t i = 0; i < 12 && ok; i++)
            ok = field(&s, end, &v[i]);
        if (!ok)
            continue;
        struct network_if_usage *u = &out[n++];
        memcpy(u->name, name, nlen);
        u->name[nlen] = '\0';
        u->rx_bytes = v[0];
        u->rx_packets = v[1];
        u->rx_errors = v[2];
        u->rx_dropped = v[3];
        u->tx_bytes = v[8];
        u->tx_packets = v[9];
        u->tx_errors = v[10];
        u->tx_dropped = v[11];
    }
    return n;
}
