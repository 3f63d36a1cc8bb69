/* Containers after `create`: stdio read on the loop into CRI log lines (and journald), the
 * exit learnt through a pidfd, the OOM verdict from the cgroup. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "monitor/logline.h"
#include "monitor/monitor-internal.h"
#include "reactor/reactor.h"

int monitor_new(uv_loop_t *loop, const struct monitor_opts *o, struct monitor **ret,
                struct err *err)
{
    struct monitor *m = xcalloc(1, sizeof(*m));
    m->loop = loop;
    m->journal_fd = -1;
    m->log_size_max = o->log_size_max;
    m->pids = o->pids;
    m->keeper = o->keeper;
    m->kmsg.fd = -1;
    if (o->log_to_journald) {
        m->journal_socket = xstrdup(o->journald_socket);
        m->journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (m->journal_fd < 0) {
            int r = err_set(err, -errno, "journald socket: %s", strerror(errno));
            monitor_free(m);
            return r;
        }
    }
    *ret = m;
    return 0;
}

void monitor_shutdown(struct monitor *m)
{
    m->shutting_down = true;
}

void monitor_free(struct monitor *m)
{
    if (!m)
        return;
    if (m->journal_fd >= 0)
        close(m->journal_fd);
    free(m->journal_socket);
    monitor_kmsg_done(&m->kmsg);
    free(m);
}

/* ---- stdio ---- */

static void on_handle_closed(uv_handle_t *h);
static void fifo_read(struct ctr_stream *s, size_t budget);
static void report_exit(struct monitor_ctr *c);

static void close_stream(struct ctr_stream *s, bool flush)
{
    if (!s->open)
        return;
    s->open = false;
    if (s->fifo) { /* what the FIFO still holds stays there */
        uv_close((uv_handle_t *)&s->poll, on_handle_closed);
        monitor_fifo_stop(&s->f);
        return;
    }
    if (flush)
        monitor_log_chunk(s, NULL, 0, true);
    uv_close((uv_handle_t *)&s->pipe, on_handle_closed);
}

void monitor_stream_ended(struct ctr_stream *s)
{
    struct monitor_ctr *c = s->c;
    close_stream(s, true);
    if (c->phase == PHASE_DRAINING && !c->out.open && !c->err.open)
        report_exit(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[READ_CHUNK];
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct ctr_stream *s = container_of((uv_pipe_t *)st, struct ctr_stream, pipe);
    if (n > 0)
        monitor_log_chunk(s, b->base, (size_t)n, false);
    else if (n < 0) /* EOF, or EIO from a pty whose other side is gone */
        monitor_stream_ended(s);
}

/* Read what the stream holds now, without waiting (its monitor is closing). At most what the pipe
 * can hold: a process that keeps writing must not keep the loop here. */
static void drain(struct ctr_stream *s)
{
    if (!s->open)
        return;
    if (s->fifo) {
        /* The container is gone (a daemon that stops leaves the FIFO to the next one). */
        if (!s->c->m->shutting_down)
            fifo_read(s, FIFO_SIZE);
        return;
    }
    uv_os_fd_t fd;
    if (uv_fileno((uv_handle_t *)&s->pipe, &fd) < 0)
        return;
    static char buffer[READ_CHUNK];
    for (size_t total = 0; total <= FIFO_SIZE;) {
        ssize_t n = read(fd, buffer, sizeof(buffer));
        if (n > 0) {
            monitor_log_chunk(s, buffer, (size_t)n, false);
            total += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (n < 0 && errno == EIO))
            close_stream(s, true);
        break;
    }
}

/* Bytes out of a FIFO go to attached clients as they come: a prompt or a progress bar has no
 * newline to wait for. */
static void on_fifo_fresh(const char *bytes, size_t len, void *data)
{
    monitor_log_attached(data, bytes, len);
}

/* A FIFO's records are in the log: journald gets them too. */
static void on_fifo_out(const char *raw, size_t len, const struct monitor_rec *recs, size_t n,
                        void *data)
{
    struct ctr_stream *s = data;
    (void)len;
    for (size_t i = 0; i < n; i++) {
        monitor_log_journal(s, raw, recs[i].len - (recs[i].nl ? 0 : 1), recs[i].tag == 'P');
        raw += recs[i].len;
    }
}

/* Move what the FIFO holds into the log, up to budget bytes (the loop comes back for more). */
static void fifo_read(struct ctr_stream *s, size_t budget)
{
    for (size_t total = 0; s->open && total < budget;) {
        bool ended = false;
        ssize_t n = monitor_fifo_step(&s->f, &s->c->log, &ended, on_fifo_fresh, on_fifo_out, s);
        if (n < 0 || ended) {
            monitor_stream_ended(s); /* may free the container's monitor: nothing after it */
            return;
        }
        if (n == 0)
            return;
        total += (size_t)n;
    }
}

static void on_fifo(uv_poll_t *p, int status, int events)
{
    fifo_read(container_of(p, struct ctr_stream, poll), READ_CHUNK);
}

/* Read fd (taken): a FIFO's read end, moved into the log exactly once (fifo.c), or a pty's master,
 * read on the loop. */
static int open_stream(struct monitor_ctr *c, struct ctr_stream *s, int fd, bool fifo,
                       struct err *err)
{
    s->c = c;
    if (fifo) {
        s->fifo = s->open = true;
        s->f.stream = s->ll.stream;
        s->f.max = MONITOR_LOG_LINE_MAX;
        s->f.sibling = s == &c->out ? &c->err.f : &c->out.f;
        uv_poll_init(c->m->loop, &s->poll, fd);
        s->poll.data = c;
        c->open_handles++;
        cleanup_free char *wal = xasprintf("%s/%s.intake", c->run_dir, s->ll.stream);
        monitor_fifo_init(&s->f, fd, wal);
        int r = uv_poll_start(&s->poll, UV_READABLE, on_fifo);
        return r < 0
                   ? err_set(err, r, "%s of container %s: %s", s->ll.stream, c->id, uv_strerror(r))
                   : 0;
    }
    const char *name = s->ll.stream;
    uv_pipe_init(c->m->loop, &s->pipe, 0);
    s->pipe.data = c;
    int r = uv_pipe_open(&s->pipe, fd);
    s->open = true;
    c->open_handles++;
    if (r < 0) {
        close(fd);
        return err_set(err, r, "%s of container %s: %s", name, c->id, uv_strerror(r));
    }
    r = uv_read_start((uv_stream_t *)&s->pipe, on_alloc, on_read);
    if (r < 0)
        return err_set(err, r, "read %s of container %s: %s", name, c->id, uv_strerror(r));
    return 0;
}

/* A FIFO for one stream: our end nonblocking, the container's end blocking. */
static int make_fifo(struct monitor_ctr *c, const char *name, bool reader_is_us, bool create,
                     int *ret_ours, int *ret_theirs, struct err *err)
{
    cleanup_free char *path = xasprintf("%s/%s", c->run_dir, name);
    if (create && mkfifo(path, 0600) < 0 && errno != EEXIST)
        return err_set(err, -errno, "mkfifo %s: %s", path, strerror(errno));
    /* Opening the read side first never blocks; the write side then finds a reader. */
    int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (rd < 0)
        return err_set(err, -errno, "open %s: %s", path, strerror(errno));
    int wr = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (wr < 0) {
        int e = errno;
        close(rd);
        return err_set(err, -e, "open %s: %s", path, strerror(e));
    }
    fcntl(rd, F_SETPIPE_SZ, FIFO_SIZE);
    int theirs = reader_is_us ? wr : rd;
    /* The container's end blocks, as a pipe would. */
    int fl = fcntl(theirs, F_GETFL);
    if (fl >= 0)
        fcntl(theirs, F_SETFL, fl & ~O_NONBLOCK);
    *ret_ours = reader_is_us ? rd : wr;
    *ret_theirs = theirs;
    return 0;
}

/* ---- the keeper: what it holds for the container while no daemon runs ---- */

static const char *const kept_names[] = {"out", "in", "pty"};
enum { KEPT_OUT, KEPT_IN, KEPT_PTY };

static char *kept_key(const struct monitor_ctr *c, int which)
{
    return xasprintf("ctr/%s/%s", c->id, kept_names[which]);
}

static void keeper_hold(struct monitor_ctr *c, int which, const int *fds, size_t n)
{
    cleanup_free char *key = kept_key(c, which);
    reactor_keeper_hold(c->m->keeper, key, fds, n);
}

static void keeper_drop(struct monitor_ctr *c, int which)
{
    cleanup_free char *key = kept_key(c, which);
    reactor_keeper_drop(c->m->keeper, key);
}

/* The container's stdio is over (it has exited, or is removed): nothing to keep. */
static void keeper_drop_all(struct monitor_ctr *c)
{
    if (!c->m->keeper || c->kept_dropped)
        return;
    c->kept_dropped = true;
    for (int i = 0; i < (int)ARRAY_SIZE(kept_names); i++)
        keeper_drop(c, i);
}

/* ---- the console socket (tty containers) ---- */

static bool on_master(int master, void *data)
{
    struct monitor_ctr *c = data;
    if (c->out.open)
        return false;
    struct err e = ERR_INIT;
    keeper_hold(c, KEPT_PTY, &master, 1);
    open_stream(c, &c->out, master, false, &e);
    err_done(&e);
    return true;
}

/* After a restart: the pty's master the keeper held for the previous daemon. Without one (no
 * keeper, or it was lost) the container's output cannot be read any more. */
static int take_master(struct monitor_ctr *c, struct err *err)
{
    cleanup_free char *key = kept_key(c, KEPT_PTY);
    int master;
    if (reactor_keeper_take(c->m->keeper, key, &master, 1) != 1) {
        log_warn("container %s: its terminal was not kept: its output is lost", c->id);
        return 0;
    }
    keeper_hold(c, KEPT_PTY, &master, 1);
    return open_stream(c, &c->out, master, false, err);
}

/* ---- life cycle ---- */

static void maybe_free(struct monitor_ctr *c)
{
    if (c->phase != PHASE_CLOSED || c->open_handles > 0)
        return;
    monitor_logline_done(&c->out.ll);
    monitor_logline_done(&c->err.ll);
    for (int i = 0; i < 3; i++)
        if (c->child_fds[i] >= 0)
            close(c->child_fds[i]);
    if (c->stdin_fd >= 0)
        close(c->stdin_fd);
    if (c->log.fd >= 0)
        close(c->log.fd);
    buf_done(&c->scratch);
    free(c->id);
    free(c->name);
    free(c->pod_namespace);
    free(c->pod_name);
    free(c->pod_uid);
    free(c->run_dir);
    free(c->log_path);
    free(c->log_dir);
    free(c->oom_file);
    free(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    struct monitor_ctr *c = h->data;
    c->open_handles--;
    maybe_free(c);
}

/* The container's stdin: a FIFO (the keeper holds a write end too: no EOF while no daemon runs),
 * or /dev/null. */
static int open_stdin(struct monitor_ctr *c, const struct monitor_ctr_opts *o, struct err *err)
{
    if (o->open_stdin) {
        int r = make_fifo(c, "stdin", false, !o->reopen, &c->stdin_fd, &c->child_fds[0], err);
        if (r == 0)
            keeper_hold(c, KEPT_IN, &c->stdin_fd, 1);
        return r;
    }
    c->child_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    return c->child_fds[0] < 0 ? err_set(err, -errno, "/dev/null: %s", strerror(errno)) : 0;
}

/* A tty's output is the pty's master: from the console socket, or after a restart the keeper. */
static int open_tty(struct monitor_ctr *c, const struct monitor_ctr_opts *o, struct err *err)
{
    for (int i = 1; i < 3; i++) {
        c->child_fds[i] = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (c->child_fds[i] < 0)
            return err_set(err, -errno, "/dev/null: %s", strerror(errno));
    }
    if (o->reopen)
        return take_master(c, err);
    return monitor_console_new(c->m->loop, c->run_dir, on_master, c, &c->console, err);
}

/* stdout and stderr FIFOs. The keeper holds read ends too: while no daemon reads, the
 * container's writes wait in the pipes (and then block), never EPIPE. */
static int open_fifos(struct monitor_ctr *c, const struct monitor_ctr_opts *o, struct err *err)
{
    int ours[2] = {-1, -1};
    int r = make_fifo(c, "stdout", true, !o->reopen, &ours[0], &c->child_fds[1], err);
    if (r == 0)
        r = make_fifo(c, "stderr", true, !o->reopen, &ours[1], &c->child_fds[2], err);
    if (r == 0)
        keeper_hold(c, KEPT_OUT, ours, 2);
    if (ours[0] >= 0 && open_stream(c, &c->out, ours[0], true, err) < 0 && r == 0)
        r = err->code;
    if (ours[1] >= 0 && open_stream(c, &c->err, ours[1], true, err) < 0 && r == 0)
        r = err->code;
    /* What an earlier daemon had taken from the FIFOs and not logged for certain. */
    struct monitor_fifo *fs[2] = {&c->out.f, &c->err.f};
    if (r == 0 && monitor_fifo_recover(fs, 2, &c->log, err) < 0)
        r = err_wrap(err, "log of container %s", c->id);
    return r;
}

int monitor_ctr_new(struct monitor *m, const struct monitor_ctr_opts *o, struct monitor_ctr **ret,
                    struct err *err)
{
    struct monitor_ctr *c = xcalloc(1, sizeof(*c));
    c->m = m;
    c->id = xstrdup(o->id);
    c->name = xstrdup(o->name ? o->name : "");
    c->pod_namespace = xstrdup(o->pod_namespace ? o->pod_namespace : "");
    c->pod_name = xstrdup(o->pod_name ? o->pod_name : "");
    c->pod_uid = xstrdup(o->pod_uid ? o->pod_uid : "");
    c->run_dir = xstrdup(o->run_dir);
    c->log_path = o->log_path && *o->log_path ? xstrdup(o->log_path) : NULL;
    c->log_dir = o->log_dir && *o->log_dir ? xstrdup(o->log_dir) : NULL;
    c->oom_file = o->oom_file ? xstrdup(o->oom_file) : NULL;
    c->tty = o->tty;
    c->on_exit = o->on_exit;
    c->on_init_exit = o->on_init_exit;
    c->data = o->data;
    c->log.fd = c->stdin_fd = -1;
    c->log.max = m->log_size_max;
    c->child_fds[0] = c->child_fds[1] = c->child_fds[2] = -1;
    monitor_logline_init(&c->out.ll, "stdout", MONITOR_LOG_LINE_MAX);
    monitor_logline_init(&c->err.ll, "stderr", MONITOR_LOG_LINE_MAX);
    c->out.c = c->err.c = c;
    int r = monitor_log_open(c, err);
    if (r == 0)
        r = open_stdin(c, o, err);
    if (r == 0)
        r = o->tty ? open_tty(c, o, err) : open_fifos(c, o, err);
    if (r < 0) {
        monitor_ctr_close(c);
        return r;
    }
    /* After a restart the container holds its ends already. */
    if (o->reopen)
        monitor_ctr_created(c);
    *ret = c;
    return 0;
}

void monitor_ctr_stdio(struct monitor_ctr *c, int ret_fds[3])
{
    memcpy(ret_fds, c->child_fds, sizeof(c->child_fds));
}

const char *monitor_ctr_console_socket(struct monitor_ctr *c)
{
    return c->console ? monitor_console_path(c->console) : NULL;
}

void monitor_ctr_created(struct monitor_ctr *c)
{
    for (int i = 0; i < 3; i++) {
        if (c->child_fds[i] >= 0)
            close(c->child_fds[i]);
        c->child_fds[i] = -1;
    }
}

bool monitor_oom_seen(struct monitor *m, const char *file)
{
    if (!file)
        return false;
    struct buf b = {0};
    bool seen = false;
    int r = fs_read_file(file, 65536, &b);
    if (r == 0) {
        const char *p = strstr((const char *)b.data, "oom_kill ");
        seen = p && strtoull(p + 9, NULL, 10) > 0;
    }
    buf_done(&b);
    /* A v2 cgroup that is gone (systemd removes an empty scope's): the kernel's log. */
    static const char root[] = "/sys/fs/cgroup", leaf[] = "/memory.events";
    size_t n = strlen(file);
    if (r == -ENOENT && n > strlen(root) + strlen(leaf) && strncmp(file, root, strlen(root)) == 0 &&
        strcmp(file + n - strlen(leaf), leaf) == 0) {
        cleanup_free char *path = xstrndup(file + strlen(root), n - strlen(root) - strlen(leaf));
        seen = monitor_kmsg_oom_in(&m->kmsg, path);
        log_debug("%s is gone: the kernel's log has %s OOM kill in %s", file, seen ? "an" : "no",
                  path);
    }
    return seen;
}

/* The container is gone: attached clients hear it, and are detached. */
static void end_attached(struct monitor_ctr *c)
{
    while (c->attached) {
        struct monitor_attach *a = c->attached;
        LIST_REMOVE(c->attached, a);
        a->end(a->data);
        free(a);
    }
}

static void on_drain_timeout(uv_timer_t *t);

/* Leaving the drain closes its timer; entering it starts the timer. */
static void set_phase(struct monitor_ctr *c, enum ctr_phase to)
{
    static const char *const names[] = {"watching", "draining", "ended", "closed"};
    log_debug("container %s: monitor %s -> %s", c->id, names[c->phase], names[to]);
    if (c->phase == PHASE_DRAINING)
        uv_close((uv_handle_t *)&c->drain_timer, on_handle_closed);
    c->phase = to;
    if (to == PHASE_DRAINING) {
        uv_timer_init(c->m->loop, &c->drain_timer);
        c->drain_timer.data = c;
        c->open_handles++;
        uv_timer_start(&c->drain_timer, on_drain_timeout, EXIT_DRAIN_MS, 0);
    }
}

/* The output the container wrote before it ended is logged (or the drain time is up): report the
 * exit, so that a client reading the log after seeing the exit finds every line. */
static void report_exit(struct monitor_ctr *c)
{
    keeper_drop_all(c);
    set_phase(c, PHASE_ENDED);
    /* Read at the init's exit too: under systemd the scope's cgroup goes once it is empty. */
    c->exit.oom_killed = c->exit.oom_killed || monitor_oom_seen(c->m, c->oom_file);
    end_attached(c);
    if (c->on_exit)
        c->on_exit(c, &c->exit, c->data);
}

static void on_drain_timeout(uv_timer_t *t)
{
    report_exit(t->data); /* something outside the container holds its stdio */
}

static void on_init_ended(const struct reactor_pid_exit *pe, void *data)
{
    struct monitor_ctr *c = data;
    c->pid_watch = NULL;
    c->exit = (struct monitor_exit){.exit_code = pe->exit_code,
                                    .signal = pe->signal,
                                    .status_known = pe->status_known,
                                    .finished_at = pe->ns ? pe->ns : now_unix_ns(),
                                    .oom_killed = monitor_oom_seen(c->m, c->oom_file)};
    if (!c->out.open && !c->err.open) {
        report_exit(c);
        return;
    }
    /* The output is read on through the loop (never "until EAGAIN", which a process writing on
     * would make forever) until EOF, which comes once every process of the container is gone:
     * those the init left behind are killed now. */
    set_phase(c, PHASE_DRAINING);
    if (c->on_init_exit)
        c->on_init_exit(c, c->data);
}

void monitor_ctr_ended(struct monitor_ctr *c, const struct monitor_exit *e)
{
    c->exit = *e;
    if (!c->out.open && !c->err.open) {
        report_exit(c);
        return;
    }
    set_phase(c, PHASE_DRAINING); /* to EOF: the container's writers are gone */
}

int monitor_ctr_adopt(struct monitor_ctr *c, int pid, struct err *err)
{
    c->pid = pid;
    int r = reactor_pid_watch(c->m->pids, pid, on_init_ended, c, &c->pid_watch);
    return r < 0 ? err_set(err, r, "pidfd of process %d: %s", pid, strerror(-r)) : 0;
}

int monitor_ctr_pidfd(const struct monitor_ctr *c)
{
    return c && c->phase == PHASE_WATCHING ? reactor_pid_fd(c->pid_watch) : -1;
}

int monitor_ctr_pid_ns(const struct monitor_ctr *c, char *buf, size_t len, int *ret_fd,
                       struct err *err)
{
    if (monitor_ctr_pidfd(c) < 0)
        return err_set(err, -ENOENT, "its process has ended");
    cleanup_free char *path = xasprintf("/proc/%d/ns/pid", c->pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -ENOENT, "%s: %s", path, strerror(errno));
    /* Alive after the open: the pid was still the process behind the pidfd when we opened. */
    if (reactor_pid_signal(c->pid_watch, 0) < 0)
        return err_set(err, -ENOENT, "its process has ended");
    snprintf(buf, len, "/proc/%d/fd/%d", (int)getpid(), fd);
    *ret_fd = TAKE_FD(fd);
    return 0;
}

int monitor_ctr_reopen_log(struct monitor_ctr *c, struct err *err)
{
    return monitor_log_open(c, err);
}

void monitor_ctr_close(struct monitor_ctr *c)
{
    if (!c || c->phase == PHASE_CLOSED)
        return;
    if (!c->m->shutting_down)
        keeper_drop_all(c);
    set_phase(c, PHASE_CLOSED);
    c->on_exit = NULL;
    drain(&c->out);
    drain(&c->err);
    end_attached(c);
    close_stream(&c->out, true);
    close_stream(&c->err, true);
    monitor_console_close(c->console);
    c->console = NULL;
    reactor_pid_forget(TAKE_PTR(c->pid_watch)); /* still reaped when it ends */
    maybe_free(c);
}

/* ---- attach ---- */

struct monitor_attach *monitor_ctr_attach(struct monitor_ctr *c, monitor_output_fn out,
                                          monitor_end_fn end, void *data)
{
    if (c->phase != PHASE_WATCHING)
        return NULL;
    struct monitor_attach *a = xcalloc(1, sizeof(*a));
    a->c = c;
    a->out = out;
    a->end = end;
    a->data = data;
    LIST_PREPEND(c->attached, a);
    return a;
}

void monitor_attach_close(struct monitor_attach *a)
{
    if (!a)
        return;
    LIST_REMOVE(a->c->attached, a);
    free(a);
}

int monitor_ctr_input_fd(struct monitor_ctr *c)
{
    uv_os_fd_t fd = -1;
    if (c->tty) {
        if (!c->out.open || uv_fileno((uv_handle_t *)&c->out.pipe, &fd) < 0)
            return -ENOENT;
    } else {
        fd = c->stdin_fd;
    }
    if (fd < 0)
        return -ENOENT;
    int again = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    return again < 0 ? -errno : again;
}

void monitor_ctr_close_stdin(struct monitor_ctr *c)
{
    if (c->tty || c->stdin_fd < 0)
        return;
    keeper_drop(c, KEPT_IN); /* else its copy keeps the FIFO from reaching EOF */
    close(c->stdin_fd);
    c->stdin_fd = -1;
}

void monitor_ctr_remove_files(const char *run_dir)
{
    const char *names[] = {"stdin", "stdout", "stderr", "console.sock"};
    for (size_t i = 0; i < 4; i++) {
        cleanup_free char *p = xasprintf("%s/%s", run_dir, names[i]);
        unlink(p);
    }
}

int64_t monitor_proc_start_time(int pid)
{
    struct fs_proc_stat st;
    return fs_proc_stat_read(pid, &st) == 0 ? st.start_time : -1;
}

int monitor_proc_signal(int pid, int64_t start_time, int sig)
{
    if (pid <= 0 || monitor_proc_start_time(pid) != start_time)
        return -ESRCH;
    return kill(pid, sig) < 0 ? -errno : 0;
}

bool monitor_proc_catches(int pid, int sig)
{
    cleanup_free char *path = xasprintf("/proc/%d/status", pid);
    struct buf b = {0};
    bool caught = false;
    if (fs_read_file(path, 65536, &b) == 0) {
        const char *p = strstr((const char *)b.data, "\nSigCgt:");
        caught = p && (strtoull(p + 9, NULL, 16) >> (sig - 1)) & 1;
    }
    buf_done(&b);
    return caught;
}
