/* The minimal infra process of a pod whose containers share one PID namespace (NamespaceMode
 * POD): built into cribd (`cribd infra`), so that no pause image is needed. The launcher makes a
 * PID namespace, forks its PID 1 (which reaps orphans and waits for SIGTERM/SIGKILL), prints that
 * pid and exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sched.h>
#include <sys/syscall.h>

#include "common/list.h"
#include "common/macro.h"
#include "network/network.h"
#include "reactor/reactor.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    stop = 1;
}

/* PID 1 of the pod: reap whatever is reparented to it, until told to stop. */
static int infra_pid1(void)
{
    prctl(PR_SET_NAME, "crib-infra");
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    /* Hold none of the launcher's pipes: the daemon waits for their end. */
    for (int fd = 0; fd < 3; fd++) {
        close(fd);
        if (open("/dev/null", O_RDWR) != fd)
            return 1;
    }
    while (!stop) {
        int status;
        pid_t r = waitpid(-1, &status, 0); /* this process's own children: it is PID 1 here */
        if (r < 0 && errno == ECHILD)
            pause();
    }
    return 0;
}

int network_infra_main(int argc, char **argv)
{
    if (unshare(CLONE_NEWPID) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWPID): %s\n", strerror(errno));
        return 1;
    }
    /* A subcommand of its own, not the daemon: fork is fine here (DESIGN.md, rule 4). */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) {
        setsid();
        _exit(infra_pid1());
    }
    printf("%d\n", (int)pid);
    fflush(stdout);
    /* No exit handlers: after unshare(CLONE_NEWPID) a sanitizer's leak check at exit would clone
     * into the new namespace and hang there. There is nothing to clean up. */
    _exit(0);
}

struct infra_start {
    network_infra_cb cb;
    void *data;
};

static void on_launched(int status, const struct reactor_child_result *res, void *data)
{
    struct infra_start *s = data;
    struct err err = ERR_INIT;
    long pid = 0;
    if (status < 0)
        err_set(&err, status, "start the pod's infra process: %s", strerror(-status));
    else if (res->exit_status != 0 || (pid = strtol(res->out, NULL, 10)) <= 1)
        err_set(&err, -EIO, "start the pod's infra process: %.*s", (int)strcspn(res->err_out, "\n"),
                res->err_len ? res->err_out : "no pid reported");
    s->cb(err.code, (int)pid, &err, s->data);
    err_done(&err);
    free(s);
}

int network_infra_start(uv_loop_t *loop, const char *self_exe, network_infra_cb cb, void *data)
{
    struct infra_start *s = xcalloc(1, sizeof(*s));
    s->cb = cb;
    s->data = data;
    char *argv[] = {(char *)self_exe, "infra", NULL};
    int r = reactor_child_spawn(loop, argv, 10000, on_launched, s, NULL);
    if (r < 0)
        free(s);
    return r;
}

/* ---- watching the infra process: the daemon is the child subreaper, so the orphaned PID 1
 * becomes its child; its exit is learnt through a pidfd and reaped with waitid(P_PIDFD). ---- */

struct network_infra_watch {
    uv_poll_t poll;
    int pidfd;
    int pid;
    network_infra_exit_cb cb;
    void *data;
    struct network_infra_watch *prev, *next;
};

/* Every watch, so that shutdown can close those whose owner has gone. */
static struct network_infra_watch *watches;

static void on_watch_closed(uv_handle_t *h)
{
    struct network_infra_watch *w = container_of((uv_poll_t *)h, struct network_infra_watch, poll);
    LIST_REMOVE(watches, w);
    close(w->pidfd);
    free(w);
}

static void on_pidfd(uv_poll_t *p, int status, int events)
{
    struct network_infra_watch *w = container_of(p, struct network_infra_watch, poll);
    siginfo_t si = {0};
    /* Reaps it when it is our child; ECHILD when an earlier daemon was its parent. */
    if (waitid((idtype_t)P_PIDFD, (id_t)w->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid == 0)
        return; /* not exited yet (a spurious wake-up) */
    if (w->cb)
        w->cb(w->pid, w->data);
    uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

struct network_infra_watch *network_infra_watch(uv_loop_t *loop, int pid, network_infra_exit_cb cb,
                                                void *data)
{
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return NULL;
    struct network_infra_watch *w = xcalloc(1, sizeof(*w));
    w->pidfd = fd;
    w->pid = pid;
    w->cb = cb;
    w->data = data;
    uv_poll_init(loop, &w->poll, fd);
    uv_poll_start(&w->poll, UV_READABLE, on_pidfd);
    LIST_PREPEND(watches, w);
    return w;
}

void network_infra_unwatch(struct network_infra_watch *w)
{
    if (!w)
        return;
    /* Stop telling the owner, but still reap the process when it goes. */
    w->cb = NULL;
}

void network_infra_watch_close_all(void)
{
    for (struct network_infra_watch *w = watches; w; w = w->next)
        if (!uv_is_closing((uv_handle_t *)&w->poll))
            uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}
