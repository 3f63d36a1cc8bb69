/* A console socket: the OCI runtime connects to it and sends the master of the pty it made for a
 * tty process (a container's init, or an exec). Received on the loop without blocking. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/macro.h"
#include "monitor/monitor.h"

struct monitor_console {
    uv_loop_t *loop;
    int dir_fd; /* names the socket (O_PATH) */
    int fd;     /* listening */
    int conn;   /* the runtime's connection, until it has sent the master */
    uv_poll_t poll, conn_poll;
    bool polling, conn_polling, closing;
    int open_handles;
    char *path;
    monitor_console_cb cb;
    void *data;
};

static int recv_fd(int sock)
{
    char name[256];
    struct iovec iov = {.iov_base = name, .iov_len = sizeof(name)};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr msg = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
            return fd;
        }
    }
    return -EPROTO;
}

static void maybe_free(struct monitor_console *c)
{
    if (!c->closing || c->open_handles > 0)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (c->dir_fd >= 0)
        close(c->dir_fd);
    free(c->path);
    free(c);
}

static void on_closed(uv_handle_t *h)
{
    struct monitor_console *c = h->data;
    c->open_handles--;
    maybe_free(c);
}

static void close_conn(struct monitor_console *c)
{
    if (!c->conn_polling)
        return;
    c->conn_polling = false;
    uv_close((uv_handle_t *)&c->conn_poll, on_closed); /* stops watching the fd */
    close(c->conn);
    c->conn = -1;
}

static void stop_listening(struct monitor_console *c)
{
    if (!c->polling)
        return;
    c->polling = false;
    uv_close((uv_handle_t *)&c->poll, on_closed);
}

/* The runtime's connection: it sends the pty master (SCM_RIGHTS) right after connecting. */
static void on_conn(uv_poll_t *p, int status, int events)
{
    struct monitor_console *c = container_of(p, struct monitor_console, conn_poll);
    int master = recv_fd(c->conn);
    if (master == -EAGAIN || master == -EINTR)
        return;
    close_conn(c);
    if (master < 0)
        return; /* not a runtime: keep listening */
    stop_listening(c);
    monitor_console_cb cb = c->cb;
    c->cb = NULL;
    if (!cb || !cb(master, c->data))
        close(master);
}

static void on_listen(uv_poll_t *p, int status, int events)
{
    struct monitor_console *c = container_of(p, struct monitor_console, poll);
    int conn = accept4(c->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (conn < 0)
        return;
    if (c->conn_polling) { /* one at a time */
        close(conn);
        return;
    }
    c->conn = conn;
    uv_poll_init(c->loop, &c->conn_poll, conn);
    c->conn_poll.data = c;
    c->conn_polling = true;
    c->open_handles++;
    uv_poll_start(&c->conn_poll, UV_READABLE, on_conn);
}

int monitor_console_new(uv_loop_t *loop, const char *dir, monitor_console_cb cb, void *data,
                        struct monitor_console **ret, struct err *err)
{
    struct monitor_console *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->fd = c->conn = -1;
    c->cb = cb;
    c->data = data;
    c->closing = true; /* until it is set up: a failure frees it at once */
    /* sun_path holds 108 bytes and run directories can be longer: the socket is named through
     * a descriptor of its directory, /proc/<pid>/fd/<n>/console.sock, which the runtime (root)
     * can follow as well. */
    c->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (c->dir_fd < 0) {
        int r = err_set(err, -errno, "%s: %s", dir, strerror(errno));
        maybe_free(c);
        return r;
    }
    unlinkat(c->dir_fd, "console.sock", 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/console.sock", c->dir_fd);
    c->path = xasprintf("/proc/%d/fd/%d/console.sock", (int)getpid(), c->dir_fd);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0 || bind(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(c->fd, 4) < 0) {
        int r = err_set(err, -errno, "console socket in %s: %s", dir, strerror(errno));
        maybe_free(c);
        return r;
    }
    c->closing = false;
    uv_poll_init(loop, &c->poll, c->fd);
    c->poll.data = c;
    c->polling = true;
    c->open_handles++;
    uv_poll_start(&c->poll, UV_READABLE, on_listen);
    *ret = c;
    return 0;
}

const char *monitor_console_path(const struct monitor_console *c)
{
    return c->path;
}

void monitor_console_close(struct monitor_console *c)
{
    if (!c || c->closing)
        return;
    c->closing = true;
    c->cb = NULL;
    close_conn(c);
    stop_listening(c);
    maybe_free(c);
}
