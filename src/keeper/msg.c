/* cribd-keeper's messages: one line of text with up to FDS_MAX fds as SCM_RIGHTS, over
 * SOCK_SEQPACKET; and the little both its processes need besides. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "keeper/keeper-internal.h"

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cribd-keeper[%d]: ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *env_path(const char *name)
{
    const char *p = getenv(name);
    return p && *p && strlen(p) < sizeof(((struct sockaddr_un *)0)->sun_path) ? p : NULL;
}

void *must(void *p)
{
    if (!p) {
        say("out of memory");
        abort();
    }
    return p;
}

void our_signals(sigset_t *set)
{
    sigemptyset(set);
    int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR2};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaddset(set, sigs[i]);
}

int send_msg(int sock, const char *text, const int *fds, int n)
{
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
    union {
        char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * (size_t)n);
    }
    while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

ssize_t recv_msg(int sock, char *text, int *fds, int *n, int flags)
{
    struct iovec iov = {.iov_base = text, .iov_len = MSG_MAX};
    union {
        char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t len = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    *n = 0;
    if (len < 0)
        return -errno;
    text[len] = '\0';
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        int c = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < c; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + (size_t)i * sizeof(int), sizeof(int));
            if (*n < FDS_MAX)
                fds[(*n)++] = fd;
            else
                close(fd);
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) { /* fds were lost: the message cannot be trusted */
        for (int i = 0; i < *n; i++)
            close(fds[i]);
        *n = 0;
    }
    return len;
}

void describe(char *buf, size_t len, int status)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exit status %d", WEXITSTATUS(status));
    else
        snprintf(buf, len, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
}
