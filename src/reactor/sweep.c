/* Orphans that reach the subreaper and that nobody claims (a CNI plugin's or a hostPID daemon's
 * double-forked children) are reaped here, by pid: never waitpid(-1), which would steal the
 * exits of libuv's own children (DESIGN.md, rule 5). */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "reactor/reactor.h"

/* A zombie child is reaped only once it has stayed one this long. Every process the daemon
 * claims (a container's init, an exec's process, the infra process) is reaped through its pidfd
 * as soon as it ends, and libuv reaps its own children at once; a container's init may however
 * end before the daemon has adopted it (between the runtime's exit and the adopt), and its exit
 * must be kept until it is claimed (rule 5). So a zombie is left alone while it could still be
 * claimed, and one that outlived the grace period is nobody's. */
#define SWEEP_GRACE_MS 3000
/* SIGCHLDs come in bursts: one scan at most this often. */
#define SWEEP_MIN_INTERVAL_MS 500
/* Zombies tracked at once (a fork bomb of orphans must not grow the daemon without bound). */
#define SWEEP_MAX 4096

struct zombie {
    int pid;
    long long start; /* start time in ticks: a pid reused since is another process */
    uint64_t first_seen;
};

struct reactor_sweeper {
    uv_loop_t *loop;
    uv_signal_t sigchld;
    uv_timer_t timer;
    uv_work_t work;
    bool working, stopping;
    int open_handles;
    int self;
    struct zombie *seen; /* zombies being given their grace period */
    size_t n_seen;
    struct zombie *found; /* the pool thread's result */
    size_t n_found;
    uint64_t last_scan;
};

/* Our zombie child, as /proc/PID/stat shows it. */
static bool our_zombie(const struct reactor_sweeper *s, int pid, struct fs_proc_stat *st)
{
    return fs_proc_stat_read(pid, st) == 0 && st->ppid == s->self && st->state == 'Z';
}

/* On a pool thread: our zombie children. The kernel may lack /proc/PID/task/TID/children
 * (CONFIG_PROC_CHILDREN), so every process's parent is looked at. */
static void scan(uv_work_t *req)
{
    struct reactor_sweeper *s = container_of(req, struct reactor_sweeper, work);
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && s->n_found < SWEEP_MAX) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int pid = atoi(e->d_name);
        struct fs_proc_stat st;
        if (our_zombie(s, pid, &st)) {
            s->found = xrealloc(s->found, (s->n_found + 1) * sizeof(*s->found));
            s->found[s->n_found++] = (struct zombie){pid, st.start_time, 0};
        }
    }
    closedir(d);
}

static void on_walk(uv_handle_t *h, void *arg)
{
    int *pid = arg;
    if (h->type == UV_PROCESS && ((uv_process_t *)h)->pid == *pid)
        *pid = 0;
}

/* libuv's own children are libuv's to reap. */
static bool spawned_by_libuv(uv_loop_t *loop, int pid)
{
    int p = pid;
    uv_walk(loop, on_walk, &p);
    return p == 0;
}

static void maybe_free(struct reactor_sweeper *s)
{
    if (s->open_handles == 0 && !s->working) {
        free(s->seen);
        free(s->found);
        free(s);
    }
}

static void schedule(struct reactor_sweeper *s, uint64_t delay_ms);

static void after_scan(uv_work_t *req, int status)
{
    struct reactor_sweeper *s = container_of(req, struct reactor_sweeper, work);
    s->working = false;
    if (s->stopping) {
        maybe_free(s);
        return;
    }
    uint64_t now = uv_now(s->loop);
    struct zombie *kept = xcalloc(s->n_found + 1, sizeof(*kept));
    size_t n_kept = 0;
    uint64_t next = 0;
    for (size_t i = 0; i < s->n_found; i++) {
        struct zombie z = s->found[i];
        if (spawned_by_libuv(s->loop, z.pid))
            continue;
        z.first_seen = now;
        for (size_t k = 0; k < s->n_seen; k++)
            if (s->seen[k].pid == z.pid && s->seen[k].start == z.start)
                z.first_seen = s->seen[k].first_seen;
        if (now - z.first_seen < SWEEP_GRACE_MS) {
            kept[n_kept++] = z;
            uint64_t left = z.first_seen + SWEEP_GRACE_MS - now;
            next = next == 0 || left < next ? left : next;
            continue;
        }
        /* Still that zombie (not reaped by its owner, its pid not reused), then reap it. */
        struct fs_proc_stat st;
        siginfo_t si = {0};
        if (our_zombie(s, z.pid, &st) && st.start_time == z.start &&
            waitid(P_PID, (id_t)z.pid, &si, WEXITED | WNOHANG) == 0 && si.si_pid == z.pid)
            log_debug("reaped orphan %d (%s %d)", z.pid,
                      si.si_code == CLD_EXITED ? "exit status" : "signal", si.si_status);
    }
    free(s->seen);
    s->seen = kept;
    s->n_seen = n_kept;
    free(s->found);
    s->found = NULL;
    s->n_found = 0;
    if (next)
        schedule(s, next);
}

static void on_timer(uv_timer_t *t)
{
    struct reactor_sweeper *s = container_of(t, struct reactor_sweeper, timer);
    if (s->working || s->stopping)
        return;
    s->last_scan = uv_now(s->loop);
    if (uv_queue_work(s->loop, &s->work, scan, after_scan) == 0)
        s->working = true;
}

/* A scan in delay_ms at the earliest, and not sooner than SWEEP_MIN_INTERVAL_MS after the last;
 * an earlier one already planned stands. */
static void schedule(struct reactor_sweeper *s, uint64_t delay_ms)
{
    uint64_t now = uv_now(s->loop);
    uint64_t at = now + delay_ms;
    if (s->last_scan && at < s->last_scan + SWEEP_MIN_INTERVAL_MS)
        at = s->last_scan + SWEEP_MIN_INTERVAL_MS;
    uint64_t due = uv_timer_get_due_in(&s->timer);
    if (uv_is_active((uv_handle_t *)&s->timer) && now + due <= at)
        return;
    uv_timer_start(&s->timer, on_timer, at - now, 0);
}

static void on_sigchld(uv_signal_t *sig, int signum)
{
    struct reactor_sweeper *s = container_of(sig, struct reactor_sweeper, sigchld);
    schedule(s, 100);
}

int reactor_sweeper_start(uv_loop_t *loop, struct reactor_sweeper **ret)
{
    struct reactor_sweeper *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->self = (int)getpid();
    uv_signal_init(loop, &s->sigchld);
    uv_timer_init(loop, &s->timer);
    s->open_handles = 2;
    int r = uv_signal_start(&s->sigchld, on_sigchld, SIGCHLD);
    if (r < 0) {
        reactor_sweeper_stop(s);
        return r;
    }
    /* Neither keeps the loop running by itself. */
    uv_unref((uv_handle_t *)&s->sigchld);
    uv_unref((uv_handle_t *)&s->timer);
    schedule(s, 0); /* orphans from before the start */
    *ret = s;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    struct reactor_sweeper *s = h->data;
    s->open_handles--;
    maybe_free(s);
}

void reactor_sweeper_stop(struct reactor_sweeper *s)
{
    if (!s || s->stopping)
        return;
    s->stopping = true;
    s->sigchld.data = s->timer.data = s;
    uv_close((uv_handle_t *)&s->sigchld, on_closed);
    uv_close((uv_handle_t *)&s->timer, on_closed);
    if (s->working)
        uv_cancel((uv_req_t *)&s->work);
}
