/* A TCP socket made inside a pod's network namespace, for port-forward: a pool thread enters the
 * namespace with setns, makes the socket (it keeps that namespace for life) and goes back. No
 * process per connection. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/macro.h"
#include "network/network.h"

struct netns_work {
    uv_work_t req;
    char *netns; /* NULL: the node's own */
    int family;
    int fd;
    int error;
    network_socket_cb cb;
    void *data;
};

static void make_socket(uv_work_t *req)
{
    struct netns_work *w = container_of(req, struct netns_work, req);
    int self = -1, target = -1;
    if (w->netns) {
        self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
        target = open(w->netns, O_RDONLY | O_CLOEXEC);
        if (self < 0 || target < 0 || setns(target, CLONE_NEWNET) < 0) {
            w->error = errno;
            goto out;
        }
    }
    w->fd = socket(w->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (w->fd < 0)
        w->error = errno;
    /* Back to the daemon's namespace: the pool thread serves everyone. If that fails the
     * thread is unusable, and so is the process. */
    if (w->netns && setns(self, CLONE_NEWNET) < 0)
        abort();
out:
    if (self >= 0)
        close(self);
    if (target >= 0)
        close(target);
}

static void on_made(uv_work_t *req, int status)
{
    struct netns_work *w = container_of(req, struct netns_work, req);
    struct err err = ERR_INIT;
    int r = w->fd;
    if (r < 0) {
        int e = w->error ? w->error : -status;
        r = err_set(&err, -e, "socket in network namespace %s: %s", w->netns ? w->netns : "(node)",
                    strerror(e));
    }
    w->cb(r, &err, w->data);
    err_done(&err);
    free(w->netns);
    free(w);
}

void network_socket_in(uv_loop_t *loop, const char *netns, int family, network_socket_cb cb,
                       void *data)
{
    struct netns_work *w = xcalloc(1, sizeof(*w));
    w->netns = netns ? xstrdup(netns) : NULL;
    w->family = family;
    w->fd = -1;
    w->cb = cb;
    w->data = data;
    uv_queue_work(loop, &w->req, make_socket, on_made);
}
