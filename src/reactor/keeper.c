/* The daemon's side of the keeper (src/keeper/keeper.c): the fds it holds for us across our
 * death, what it held for the previous daemon, and the exits of the processes it reaped (those a
 * dead daemon left to it). The socket is a local SOCK_SEQPACKET pair whose other end the keeper
 * reads at once; the few small messages go inline, with a send timeout in case the keeper is
 * stuck. Once the daemon serves, the exits the keeper tells are read on the loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "common/macro.h"
#include "reactor/reactor.h"

#define KEEPER_MSG_MAX 512
#define KEEPER_FDS_MAX 4

struct kept {
    char *key;
    int fds[KEEPER_FDS_MAX];
    size_t n;
    bool claimed; /* taken or held again by this daemon */
};

#define KEEPER_EXITS_MAX 1024

struct kept_exit {
    int pid;
    int status; /* as waitpid gives it */
    int64_t ns;
};

struct reactor_keeper {
    int sock;
    struct kept *kept; /* what the keeper held when we started */
    size_t n_kept;
    struct kept_exit exits[KEEPER_EXITS_MAX]; /* a ring of what it told */
    size_t n_exits;
    uv_poll_t poll; /* once we serve: the exits it tells */
    bool polling;
    reactor_keeper_exit_cb on_exit;
    void *on_exit_data;
    unsigned restarts;
    char *last_exit;
};

static int send_msg(struct reactor_keeper *k, const char *text, const int *fds, size_t n)
{
    struct iovec iov = {.iov_base = (void *)text, .iov_len = strlen(text)};
    union {
        char buf[CMSG_SPACE(sizeof(int) * KEEPER_FDS_MAX)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    if (n > 0) {
        msg.msg_control = u.buf;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * n);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * n);
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * n);
    }
    while (sendmsg(k->sock, &msg, MSG_NOSIGNAL) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* One message into text (NUL-terminated) and fds; its length, or -errno. */
static ssize_t recv_flags(int sock, char *text, size_t len, int *fds, size_t *n, int flags)
{
    struct iovec iov = {.iov_base = text, .iov_len = len - 1};
    union {
        char buf[CMSG_SPACE(sizeof(int) * KEEPER_FDS_MAX)];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t r;
    while ((r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags)) < 0 && errno == EINTR)
        ;
    if (r < 0)
        return -errno;
    text[r] = '\0';
    *n = 0;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t c = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < c; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*n < KEEPER_FDS_MAX)
                fds[(*n)++] = fd;
            else
                close(fd);
        }
    }
    return r;
}

/* "exit PID STATUS NS" or "exited PID STATUS NS": kept; the listener learns of it. */
static bool take_exit(struct reactor_keeper *k, const char *text)
{
    int pid, status;
    long long ns;
    if (sscanf(text, "exit %d %d %lld", &pid, &status, &ns) != 3 &&
        sscanf(text, "exited %d %d %lld", &pid, &status, &ns) != 3)
        return false;
    k->exits[k->n_exits++ % KEEPER_EXITS_MAX] =
        (struct kept_exit){.pid = pid, .status = status, .ns = ns};
    if (k->on_exit)
        k->on_exit(pid, k->on_exit_data);
    return true;
}

static ssize_t recv_msg(int sock, char *text, size_t len, int *fds, size_t *n)
{
    return recv_flags(sock, text, len, fds, n, 0);
}

static ssize_t recvmsg_nowait(int sock, char *text, size_t len, int *fds, size_t *n)
{
    return recv_flags(sock, text, len, fds, n, MSG_DONTWAIT);
}

/* What the keeper held for the previous daemon. */
static int fetch(struct reactor_keeper *k, struct err *err)
{
    int r = send_msg(k, "list", NULL, 0);
    if (r < 0)
        return err_set(err, r, "keeper: %s", strerror(-r));
    for (;;) {
        char text[KEEPER_MSG_MAX];
        int fds[KEEPER_FDS_MAX];
        size_t n = 0;
        ssize_t len = recv_msg(k->sock, text, sizeof(text), fds, &n);
        if (len <= 0)
            return err_set(err, len < 0 ? (int)len : -EPIPE, "keeper: %s",
                           len < 0 ? strerror((int)-len) : "closed its socket");
        if (strcmp(text, "end") == 0)
            return 0;
        if (take_exit(k, text) || strncmp(text, "held ", 5) != 0 || n == 0) {
            for (size_t i = 0; i < n; i++)
                close(fds[i]);
            continue;
        }
        k->kept = xrealloc(k->kept, (k->n_kept + 1) * sizeof(*k->kept));
        struct kept *e = &k->kept[k->n_kept++];
        *e = (struct kept){.key = xstrdup(text + 5), .n = n};
        memcpy(e->fds, fds, n * sizeof(int));
    }
}

int reactor_keeper_open(struct reactor_keeper **ret, struct err *err)
{
    *ret = NULL;
    const char *fd = getenv("CRIB_KEEPER_FD");
    if (!fd || !*fd)
        return 0;
    struct reactor_keeper *k = xcalloc(1, sizeof(*k));
    k->sock = atoi(fd);
    const char *restarts = getenv("CRIB_KEEPER_RESTARTS");
    const char *last = getenv("CRIB_KEEPER_LAST_EXIT");
    k->restarts = restarts ? (unsigned)strtoul(restarts, NULL, 10) : 0;
    k->last_exit = xstrdup(last ? last : "");
    unsetenv("CRIB_KEEPER_FD"); /* not for our children */
    unsetenv("CRIB_KEEPER_RESTARTS");
    unsetenv("CRIB_KEEPER_LAST_EXIT");
    struct timeval tv = {.tv_sec = 2};
    setsockopt(k->sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(k->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    int r = fetch(k, err);
    if (r < 0) {
        reactor_keeper_free(k);
        return r;
    }
    *ret = k;
    return 0;
}

static struct kept *find(struct reactor_keeper *k, const char *key)
{
    for (size_t i = 0; i < k->n_kept; i++)
        if (strcmp(k->kept[i].key, key) == 0)
            return &k->kept[i];
    return NULL;
}

static void close_kept(struct kept *e)
{
    for (size_t i = 0; i < e->n; i++)
        close(e->fds[i]);
    e->n = 0;
}

int reactor_keeper_hold(struct reactor_keeper *k, const char *key, const int *fds, size_t n)
{
    if (!k)
        return 0;
    struct kept *e = find(k, key);
    if (e) {
        e->claimed = true;
        close_kept(e);
    }
    cleanup_free char *msg = xasprintf("hold %s", key);
    int r = n <= KEEPER_FDS_MAX && strlen(msg) < KEEPER_MSG_MAX ? send_msg(k, msg, fds, n) : -E2BIG;
    if (r < 0)
        log_warn("keeper: hold %s: %s", key, strerror(-r));
    return r;
}

void reactor_keeper_drop(struct reactor_keeper *k, const char *key)
{
    if (!k)
        return;
    struct kept *e = find(k, key);
    if (e) {
        e->claimed = true;
        close_kept(e);
    }
    cleanup_free char *msg = xasprintf("drop %s", key);
    int r = send_msg(k, msg, NULL, 0);
    if (r < 0)
        log_warn("keeper: drop %s: %s", key, strerror(-r));
}

size_t reactor_keeper_take(struct reactor_keeper *k, const char *key, int *fds, size_t max)
{
    struct kept *e = k ? find(k, key) : NULL;
    if (!e || e->n == 0)
        return 0;
    e->claimed = true;
    size_t n = e->n < max ? e->n : max;
    memcpy(fds, e->fds, n * sizeof(int));
    for (size_t i = n; i < e->n; i++)
        close(e->fds[i]);
    e->n = 0;
    return n;
}

static void on_readable(uv_poll_t *p, int status, int events)
{
    struct reactor_keeper *k = container_of(p, struct reactor_keeper, poll);
    for (;;) {
        char text[KEEPER_MSG_MAX];
        int fds[KEEPER_FDS_MAX];
        size_t n = 0;
        ssize_t len = recvmsg_nowait(k->sock, text, sizeof(text), fds, &n); /* EINTR retried */
        for (size_t i = 0; i < n; i++)
            close(fds[i]);
        if (len == -EAGAIN)
            return;
        if (len <= 0) { /* the keeper is gone: nothing more will come */
            log_warn("keeper: its socket closed");
            reactor_keeper_close(k);
            return;
        }
        if (!take_exit(k, text))
            log_warn("keeper: unknown message `%.40s`", text);
    }
}

void reactor_keeper_ready(struct reactor_keeper *k, uv_loop_t *loop)
{
    if (!k)
        return;
    uv_poll_init(loop, &k->poll, k->sock);
    k->polling = true;
    uv_poll_start(&k->poll, UV_READABLE, on_readable);
    for (size_t i = 0; i < k->n_kept; i++) {
        if (!k->kept[i].claimed) {
            log_info("keeper: %s is not ours any more: dropped", k->kept[i].key);
            reactor_keeper_drop(k, k->kept[i].key);
        }
    }
    for (size_t i = 0; i < k->n_kept; i++) {
        close_kept(&k->kept[i]);
        free(k->kept[i].key);
    }
    free(k->kept);
    k->kept = NULL;
    k->n_kept = 0;
    int r = send_msg(k, "ready", NULL, 0);
    if (r < 0)
        log_warn("keeper: ready: %s", strerror(-r));
}

int reactor_keeper_upgrade(struct reactor_keeper *k)
{
    if (!k)
        return -ENOTSUP;
    return kill(getppid(), SIGUSR2) < 0 ? -errno : 0;
}

void reactor_keeper_close(struct reactor_keeper *k)
{
    if (!k || !k->polling)
        return;
    k->polling = false;
    uv_close((uv_handle_t *)&k->poll, NULL);
}

void reactor_keeper_on_exit(struct reactor_keeper *k, reactor_keeper_exit_cb cb, void *data)
{
    if (!k)
        return;
    k->on_exit = cb;
    k->on_exit_data = data;
}

bool reactor_keeper_exit_of(const struct reactor_keeper *k, int pid, int64_t since_ns,
                            struct reactor_pid_exit *ret, int64_t *ret_ns)
{
    if (!k)
        return false;
    size_t first = k->n_exits > KEEPER_EXITS_MAX ? k->n_exits - KEEPER_EXITS_MAX : 0;
    for (size_t i = k->n_exits; i-- > first;) {
        const struct kept_exit *e = &k->exits[i % KEEPER_EXITS_MAX];
        if (e->pid != pid || e->ns < since_ns)
            continue;
        *ret = (struct reactor_pid_exit){.status_known = true};
        if (WIFEXITED(e->status)) {
            ret->exit_code = WEXITSTATUS(e->status);
        } else {
            ret->signal = WTERMSIG(e->status);
            ret->exit_code = 128 + ret->signal;
        }
        *ret_ns = e->ns;
        return true;
    }
    return false;
}

unsigned reactor_keeper_restarts(const struct reactor_keeper *k)
{
    return k ? k->restarts : 0;
}

const char *reactor_keeper_last_exit(const struct reactor_keeper *k)
{
    return k ? k->last_exit : "";
}

void reactor_keeper_free(struct reactor_keeper *k)
{
    if (!k)
        return;
    for (size_t i = 0; i < k->n_kept; i++) {
        close_kept(&k->kept[i]);
        free(k->kept[i].key);
    }
    free(k->kept);
    free(k->last_exit);
    close(k->sock);
    free(k);
}
