/* journald's native protocol: entries encoded field by field and sent as one datagram, or, when
 * too large for a datagram, through a sealed memfd passed over the socket (sd_journal_sendv). */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"
#include "monitor/logline.h"

/* Larger entries go through a memfd without trying the datagram first: the default socket
 * buffers (net.core.wmem_default, 208 KiB) refuse them anyway. */
#define JOURNAL_DGRAM_MAX (200u * 1024)

void monitor_journal_field(struct buf *msg, const char *name, const char *value, size_t len)
{
    size_t name_len = strlen(name);

    if (len > 0 && memchr(value, '\n', len)) {
        uint8_t le[8];
        uint64_t n = len;
        for (size_t i = 0; i < sizeof(le); i++)
            le[i] = (uint8_t)(n >> (8 * i));
        buf_reserve(msg, name_len + 1 + sizeof(le) + len + 1);
        buf_append(msg, name, name_len);
        buf_append(msg, "\n", 1);
        buf_append(msg, le, sizeof(le));
    } else {
        buf_reserve(msg, name_len + 1 + len + 1);
        buf_append(msg, name, name_len);
        buf_append(msg, "=", 1);
    }
    buf_append(msg, value, len);
    buf_append(msg, "\n", 1);
}

static int send_memfd(int fd, const struct sockaddr_un *sa, socklen_t sa_len, const struct buf *msg)
{
    cleanup_close int mfd = memfd_create("journal-entry", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr mh = {
        .msg_name = (void *)sa,
        .msg_namelen = sa_len,
        .msg_control = &control,
        .msg_controllen = sizeof(control.buf),
    };

    if (mfd < 0)
        return -errno;
    for (size_t off = 0; off < msg->len;) {
        ssize_t n = write(mfd, msg->data + off, msg->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        off += (size_t)n;
    }
    /* journald accepts only a memfd that can no longer change */
    if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
        return -errno;

    memset(&control, 0, sizeof(control));
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &mfd, sizeof(int));
    if (sendmsg(fd, &mh, MSG_NOSIGNAL) < 0)
        return -errno;
    return 0;
}

int monitor_journal_send(int fd, const char *socket_path, const struct buf *msg)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t path_len = strlen(socket_path);

    if (path_len == 0 || path_len >= sizeof(sa.sun_path))
        return -EINVAL;
    memcpy(sa.sun_path, socket_path, path_len + 1);
    socklen_t sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path_len + 1);

    if (msg->len <= JOURNAL_DGRAM_MAX) {
        if (sendto(fd, msg->data, msg->len, MSG_NOSIGNAL, (const struct sockaddr *)&sa, sa_len) >=
            0)
            return 0;
        /* EAGAIN: journald is behind and the socket is full; the caller drops the entry */
        if (errno != EMSGSIZE && errno != ENOBUFS)
            return -errno;
    }
    return send_memfd(fd, &sa, sa_len, msg);
}
