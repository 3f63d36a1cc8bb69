/* Processes watched through a pidfd: a container's init, an exec's command once its runtime has
 * detached, a pod's infra process. The callback runs once, when the process ends; a process that
 * is our child (the runtime exited and cribd is the subreaper) is reaped here, by its pidfd, and
 * its status given; one that is not (adopted after a restart) ends with its status unknown. */
#include <errno.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/list.h"
#include "common/macro.h"
#include "reactor/reactor.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

/* How long the exit of a process that is the keeper's child may wait for the keeper to tell its
 * status (it reaps at once; this only covers the message's way). */
#define KEEPER_WAIT_MS 2000

struct reactor_pids {
    uv_loop_t *loop;
    struct reactor_pid *watches; /* every open watch, so that shutdown closes them all */
    struct reactor_keeper *keeper;
    bool closing;
};

struct reactor_pid {
    uv_poll_t poll;
    uv_timer_t wait; /* for the keeper's word, when the process was not ours to reap */
    struct reactor_pids *pids;
    int pid;
    int pidfd;
    int64_t since_ns; /* the watch's start: the exit comes after it */
    bool child;
    bool ended;
    bool waiting;
    int handles;
    reactor_pid_cb cb; /* NULL once the owner has gone */
    void *data;
    struct reactor_pid *prev, *next;
};

struct reactor_pids *reactor_pids_new(uv_loop_t *loop)
{
    struct reactor_pids *pids = xcalloc(1, sizeof(*pids));
    pids->loop = loop;
    return pids;
}

static void on_closed(uv_handle_t *h)
{
    struct reactor_pid *w = h->data;
    if (--w->handles > 0)
        return;
    LIST_REMOVE(w->pids->watches, w);
    close(w->pidfd);
    free(w);
}

/* The watch is over: the callback (once), and its handles closed. */
static void finish(struct reactor_pid *w, const struct reactor_pid_exit *e)
{
    w->ended = true;
    if (!uv_is_closing((uv_handle_t *)&w->poll))
        uv_close((uv_handle_t *)&w->poll, on_closed);
    if (w->waiting) {
        w->waiting = false;
        uv_close((uv_handle_t *)&w->wait, on_closed);
    }
    reactor_pid_cb cb = w->cb;
    w->cb = NULL;
    if (cb)
        cb(e, w->data);
}

/* The keeper's word on a process it reaped, if it has told it. */
static bool from_keeper(struct reactor_pid *w, struct reactor_pid_exit *e)
{
    int64_t ns;
    if (!reactor_keeper_exit_of(w->pids->keeper, w->pid, w->since_ns, e, &ns))
        return false;
    e->ns = ns;
    return true;
}

static void on_keeper_wait(uv_timer_t *t)
{
    struct reactor_pid *w = t->data;
    struct reactor_pid_exit e = {.status_known = false};
    finish(w, &e);
}

/* The keeper told an exit: the watches waiting for that pid's. */
static void on_keeper_exit(int pid, void *data)
{
    struct reactor_pids *pids = data;
    for (struct reactor_pid *w = pids->watches, *next; w; w = next) {
        next = w->next;
        struct reactor_pid_exit e = {.status_known = false};
        if (w->waiting && w->pid == pid && from_keeper(w, &e))
            finish(w, &e);
    }
}

void reactor_pids_set_keeper(struct reactor_pids *pids, struct reactor_keeper *k)
{
    pids->keeper = k;
    reactor_keeper_on_exit(k, on_keeper_exit, pids);
}

/* The status of our child behind the pidfd: 1 with e filled in, 0 if it has not ended, 2 if it
 * ended but is not ours to reap. */
static int reap(struct reactor_pid *w, struct reactor_pid_exit *e)
{
    if (!w->child)
        return 2;
    siginfo_t si = {0};
    int r = waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG);
    if (r == 0 && si.si_pid == 0)
        return 0; /* not yet: a spurious wake-up */
    if (r < 0)
        return errno == ECHILD ? 2 : 0;
    e->status_known = true;
    if (si.si_code == CLD_EXITED) {
        e->exit_code = si.si_status;
    } else {
        e->signal = si.si_status;
        e->exit_code = 128 + si.si_status;
    }
    return 1;
}

static void on_pidfd(uv_poll_t *p, int status, int events)
{
    struct reactor_pid *w = container_of(p, struct reactor_pid, poll);
    struct reactor_pid_exit e = {.status_known = false};
    int r = reap(w, &e);
    if (r == 0 || w->waiting)
        return;
    if (r == 2 && w->pids->keeper && !from_keeper(w, &e)) {
        /* The keeper's child: it reaps it and tells its status, soon. */
        uv_poll_stop(&w->poll);
        w->waiting = true;
        w->handles++;
        uv_timer_init(w->pids->loop, &w->wait);
        w->wait.data = w;
        uv_timer_start(&w->wait, on_keeper_wait, KEEPER_WAIT_MS, 0);
        return;
    }
    finish(w, &e);
}

int reactor_pid_watch(struct reactor_pids *pids, int pid, reactor_pid_cb cb, void *data,
                      struct reactor_pid **ret)
{
    if (pids->closing)
        return -ECANCELED;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return -errno;
    struct reactor_pid *w = xcalloc(1, sizeof(*w));
    w->pids = pids;
    w->pid = pid;
    w->pidfd = fd;
    w->since_ns = now_unix_ns();
    w->handles = 1;
    /* Our child (the runtime exited and we are the subreaper) or not (adopted after a restart);
     * WNOWAIT leaves an exit that came already for the first wake-up. */
    siginfo_t si = {0};
    w->child = waitid((idtype_t)P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG | WNOWAIT) == 0;
    w->cb = cb;
    w->data = data;
    uv_poll_init(pids->loop, &w->poll, fd);
    w->poll.data = w;
    uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
    LIST_PREPEND(pids->watches, w);
    if (ret)
        *ret = w;
    return 0;
}

int reactor_pid_fd(const struct reactor_pid *w)
{
    return w && !w->ended ? w->pidfd : -1;
}

int reactor_pid_signal(const struct reactor_pid *w, int sig)
{
    int fd = reactor_pid_fd(w);
    if (fd < 0)
        return -ESRCH;
    return syscall(SYS_pidfd_send_signal, fd, sig, NULL, 0) < 0 ? -errno : 0;
}

void reactor_pid_forget(struct reactor_pid *w)
{
    if (w)
        w->cb = NULL;
}

void reactor_pids_close(struct reactor_pids *pids)
{
    pids->closing = true;
    for (struct reactor_pid *w = pids->watches; w; w = w->next) {
        w->cb = NULL;
        if (!uv_is_closing((uv_handle_t *)&w->poll))
            uv_close((uv_handle_t *)&w->poll, on_closed);
        if (w->waiting) {
            w->waiting = false;
            uv_close((uv_handle_t *)&w->wait, on_closed);
        }
    }
}

void reactor_pids_free(struct reactor_pids *pids)
{
    if (pids && pids->watches)
        abort(); /* reactor_pids_close first, and let the loop close them */
    free(pids);
}
