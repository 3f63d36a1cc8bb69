/* The minimal infra process of a pod whose containers share one PID namespace (NamespaceMode
 * POD): built into cribd (`cribd infra NSDIR`), so that no pause image is needed. The launcher
 * makes a PID namespace and forks its PID 1, which locks itself down (below), reaps orphans and
 * waits for SIGTERM/SIGKILL; the launcher prints that pid once it is locked down, and exits. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <sched.h>
#include <sys/syscall.h>

#include <seccomp.h>
#include <sys/capability.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "network/network.h"
#include "reactor/reactor.h"

/* nobody: the infra process owns no file and needs no privilege. */
#define INFRA_ID 65534

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    stop = 1;
}

/* Tell the launcher why PID 1 could not lock itself down (it prints it and fails). */
static int report(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int report(int fd, const char *fmt, ...)
{
    int saved = errno;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    n += snprintf(msg + n, sizeof(msg) - (size_t)n, ": %s\n", strerror(saved));
    ssize_t w = write(fd, msg, strlen(msg));
    (void)w; /* nothing else to tell it with */
    return -1;
}

/* The pod's network, IPC and UTS namespaces, those that are pinned (not the node's). */
static int join_pod_namespaces(const char *nsdir, int rfd)
{
    static const char *const names[] = {"net", "ipc", "uts"};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        cleanup_free char *path = xasprintf("%s/%s", nsdir, names[i]);
        cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT)
            continue;
        if (fd < 0 || setns(fd, 0) < 0)
            return report(rfd, "join %s", path);
    }
    return 0;
}

/* A mount namespace of its own whose root is an empty read-only tmpfs: a container that may
 * ptrace PID 1 finds nothing of the node's behind /proc/1/root or /proc/1/cwd. dir is any
 * directory to mount it on (it disappears from view with the old root). */
static int empty_root(const char *dir, int rfd)
{
    if (unshare(CLONE_NEWNS) < 0)
        return report(rfd, "unshare(CLONE_NEWNS)");
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return report(rfd, "make mounts private");
    if (mount("crib-infra", dir, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "size=4k,nr_inodes=16,mode=0555") < 0)
        return report(rfd, "mount an empty tmpfs on %s", dir);
    /* pivot_root(".", ".") stacks the old root over the new one; detaching it leaves the new. */
    if (chdir(dir) < 0 || syscall(SYS_pivot_root, ".", ".") < 0)
        return report(rfd, "pivot_root into the empty tmpfs");
    if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0)
        return report(rfd, "detach the old root");
    return 0;
}

/* No capability in any set (bounding and ambient too), nobody's uid and gid, no new privileges. */
static int drop_privileges(int rfd)
{
    for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return report(rfd, "drop capability %d from the bounding set", cap);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        return report(rfd, "clear the ambient capabilities");
    if (setgroups(0, NULL) < 0 || setresgid(INFRA_ID, INFRA_ID, INFRA_ID) < 0 ||
        setresuid(INFRA_ID, INFRA_ID, INFRA_ID) < 0)
        return report(rfd, "become uid/gid %d", INFRA_ID);
    cap_t none = cap_init();
    int r = none ? cap_set_proc(none) : -1;
    cap_free(none);
    if (r < 0)
        return report(rfd, "clear the capability sets");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return report(rfd, "set no_new_privs");
    return 0;
}

/* What PID 1 does from here on: wait for children, pause, take signals, exit. Anything else
 * fails with EPERM (not a kill: PID 1's death would take the pod's processes with it). */
static int only_wait_and_signals(int rfd)
{
    static const char *const allowed[] = {
        "wait4",     "waitid",          "pause", "rt_sigreturn", "rt_sigprocmask",
        "sigreturn", "restart_syscall", "exit",  "exit_group",   "close",
    };
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
    if (!ctx) {
        errno = ENOMEM;
        return report(rfd, "seccomp filter");
    }
    int r = 0;
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(allowed); i++) {
        int nr = seccomp_syscall_resolve_name(allowed[i]);
        if (nr != __NR_SCMP_ERROR)
            r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    if (r == 0)
        r = seccomp_load(ctx);
    seccomp_release(ctx);
    if (r < 0) {
        errno = -r;
        return report(rfd, "load the seccomp filter");
    }
    return 0;
}

/* PID 1 of the pod: lock down, then reap whatever is reparented to it, until told to stop.
 * rfd is the launcher's pipe: an error message, or its end (EOF) once locked down. */
static int infra_pid1(const char *nsdir, int rfd)
{
    prctl(PR_SET_NAME, "crib-infra");
    setsid();
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    if (join_pod_namespaces(nsdir, rfd) < 0 || empty_root(nsdir, rfd) < 0)
        return 1;
    /* Hold none of the launcher's fds (its pipes: the daemon waits for their end). */
    if ((rfd > 0 && close_range(0, (unsigned)rfd - 1, 0) < 0) ||
        close_range((unsigned)rfd + 1, ~0U, 0) < 0)
        return report(rfd, "close inherited fds"), 1;
    if (drop_privileges(rfd) < 0 || only_wait_and_signals(rfd) < 0)
        return 1;
    close(rfd);
    while (!stop) {
        int status;
        pid_t r = waitpid(-1, &status, 0); /* this process's own children: it is PID 1 here */
        if (r < 0 && errno == ECHILD)
            pause();
    }
    return 0;
}

/* cribd infra NSDIR: NSDIR holds the pod's pinned namespaces (and is an empty directory to
 * mount on). */
int network_infra_main(int argc, char **argv)
{
    /* No exit handlers on any path: after unshare(CLONE_NEWPID) a sanitizer's leak check at
     * exit would clone into the new namespace and hang there. There is nothing to clean up. */
    if (argc != 2) {
        fprintf(stderr, "usage: cribd infra NSDIR\n");
        _exit(2);
    }
    int pfd[2];
    if (pipe2(pfd, O_CLOEXEC) < 0) {
        fprintf(stderr, "pipe: %s\n", strerror(errno));
        _exit(1);
    }
    if (unshare(CLONE_NEWPID) < 0) {
        fprintf(stderr, "unshare(CLONE_NEWPID): %s\n", strerror(errno));
        _exit(1);
    }
    /* A subcommand of its own, not the daemon: fork is fine here (DESIGN.md, rule 4). */
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        _exit(1);
    }
    if (pid == 0) {
        close(pfd[0]);
        _exit(infra_pid1(argv[1], pfd[1]));
    }
    close(pfd[1]);
    char msg[512];
    size_t len = 0;
    for (ssize_t n; len < sizeof(msg) - 1; len += (size_t)n) {
        n = read(pfd[0], msg + len, sizeof(msg) - 1 - len);
        if (n < 0 && errno == EINTR)
            n = 0;
        else if (n <= 0)
            break;
    }
    if (len > 0) {
        msg[len] = '\0';
        fprintf(stderr, "the infra process: %s", msg);
        waitpid(pid, NULL, 0); /* ours: the launcher is not the daemon */
        _exit(1);
    }
    printf("%d\n", (int)pid);
    fflush(stdout);
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

int network_infra_start(uv_loop_t *loop, const char *self_exe, const char *nsdir,
                        network_infra_cb cb, void *data)
{
    struct infra_start *s = xcalloc(1, sizeof(*s));
    s->cb = cb;
    s->data = data;
    char *argv[] = {(char *)self_exe, "infra", (char *)nsdir, NULL};
    /* No environment: PID 1's /proc/1/environ is readable by whoever may ptrace it. */
    char *env[] = {NULL};
    struct reactor_child_opts o = {.argv = argv, .env = env, .timeout_ms = 10000};
    int r = reactor_child_start(loop, &o, on_launched, s, NULL);
    if (r < 0)
        free(s);
    return r;
}

void network_infra_kill(int pid)
{
    if (pid <= 0)
        return;
    cleanup_free char *path = xasprintf("/proc/%d/comm", pid);
    struct buf comm = {0};
    if (fs_read_file(path, 64, &comm) == 0 && strncmp((char *)comm.data, "crib-infra", 10) == 0)
        kill(pid, SIGKILL);
    buf_done(&comm);
}

/* Whether pid runs `cribd SUB NSDIR` with SUB one of the helpers started for a pod's namespace
 * directory: `infra` (comm crib-infra; PID 1 keeps its launcher's argv) or `ns-pin` (comm cribd).
 */
static bool is_helper_of(long pid, const char *nsdir)
{
    cleanup_free char *comm_path = xasprintf("/proc/%ld/comm", pid);
    cleanup_free char *cmd_path = xasprintf("/proc/%ld/cmdline", pid);
    struct buf comm = {0}, cmd = {0};
    bool ret = false;
    if (fs_read_file(comm_path, 64, &comm) == 0 && fs_read_file(cmd_path, 8192, &cmd) == 0) {
        const char *sub = strcmp((char *)comm.data, "crib-infra\n") == 0 ? "infra"
                          : strcmp((char *)comm.data, "cribd\n") == 0    ? "ns-pin"
                                                                         : NULL;
        /* argv[0] NUL SUB NUL NSDIR NUL ... */
        const char *a = (const char *)cmd.data, *lim = a + cmd.len;
        const char *a1 = memchr(a, '\0', (size_t)(lim - a));
        const char *a2 = a1 ? memchr(a1 + 1, '\0', (size_t)(lim - a1 - 1)) : NULL;
        const char *a3 = a2 ? memchr(a2 + 1, '\0', (size_t)(lim - a2 - 1)) : NULL;
        ret = sub && a3 && strcmp(a1 + 1, sub) == 0 && strcmp(a2 + 1, nsdir) == 0;
    }
    buf_done(&comm);
    buf_done(&cmd);
    return ret;
}

void network_helpers_kill_of(const char *nsdir)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || !is_helper_of(pid, nsdir))
            continue;
        /* Through a pidfd, checked again once open: the pid cannot be another process's by then.
         * The helper may be inside a mount: wait until it has ended, so that nothing it does
         * comes after the caller's undo. */
        cleanup_close int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
        if (fd < 0 || !is_helper_of(pid, nsdir) ||
            syscall(SYS_pidfd_send_signal, fd, SIGKILL, NULL, 0) < 0)
            continue;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 5000) == 0)
            log_warn("helper %ld of %s: still running 5 s after SIGKILL", pid, nsdir);
    }
    closedir(d);
}
