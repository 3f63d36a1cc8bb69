/* Unit tests for the FIFO intake (src/monitor/fifo.c): the daemon is "killed" at every write,
 * rename, splice and truncation it makes (before it, after it, or half-way through a write), a
 * new one takes over the same pipes, intake files and log, and the log must hold every record
 * exactly once, as an uninterrupted run writes it. The log has a second stream that says
 * nothing: its intake file's base goes stale while the other writes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LSAN 1
#endif
#endif
#ifdef LSAN
#include <sanitizer/lsan_interface.h>
/* A killed daemon's memory is gone with it: what it had allocated is not a leak. The run that is
 * not killed is checked as usual. */
#define KILLED_RUN_BEGIN() __lsan_disable()
#define KILLED_RUN_END() __lsan_enable()
#else
#define KILLED_RUN_BEGIN() ((void)0)
#define KILLED_RUN_END() ((void)0)
#endif

#include "common/fsutil.h"
#include "common/macro.h"
#include "monitor/monitor-internal.h"

/* ---- the kill: a wrapped call that does not return ---- */

enum how { BEFORE, AFTER, HALF };
static int countdown = -1; /* calls left before the kill; -1: never */
static enum how how;
static jmp_buf killed;

ssize_t __real_write(int fd, const void *buf, size_t len);
int __real_rename(const char *from, const char *to);
ssize_t __real_splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t len, unsigned flags);
int __real_ftruncate(int fd, off_t len);
ssize_t __wrap_write(int fd, const void *buf, size_t len);
int __wrap_rename(const char *from, const char *to);
ssize_t __wrap_splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t len, unsigned flags);
int __wrap_ftruncate(int fd, off_t len);

static bool kill_now(void)
{
    return countdown >= 0 && countdown-- == 0;
}

ssize_t __wrap_write(int fd, const void *buf, size_t len)
{
    if (!kill_now())
        return __real_write(fd, buf, len);
    if (how == AFTER)
        __real_write(fd, buf, len);
    else if (how == HALF && len > 1)
        __real_write(fd, buf, len / 2);
    longjmp(killed, 1);
}

int __wrap_rename(const char *from, const char *to)
{
    if (!kill_now())
        return __real_rename(from, to);
    if (how != BEFORE)
        __real_rename(from, to);
    longjmp(killed, 1);
}

ssize_t __wrap_splice(int in, loff_t *in_off, int out, loff_t *out_off, size_t len, unsigned flags)
{
    if (!kill_now())
        return __real_splice(in, in_off, out, out_off, len, flags);
    if (how == AFTER)
        __real_splice(in, in_off, out, out_off, len, flags);
    else if (how == HALF && len > 1)
        __real_splice(in, in_off, out, out_off, len / 2, flags);
    longjmp(killed, 1);
}

int __wrap_ftruncate(int fd, off_t len)
{
    if (!kill_now())
        return __real_ftruncate(fd, len);
    if (how != BEFORE)
        __real_ftruncate(fd, len);
    longjmp(killed, 1);
}

/* ---- a daemon ---- */

static const char *const pieces[] = {"a\n",
                                     "\n",
                                     "0123456789abcdef\n",
                                     "0123456789abcdefX\n",
                                     "0123456789abcdef0123456789abcdef0123",
                                     "456\nzz",
                                     "end"};
#define TEXT_MAX 16

struct world {
    char dir[64], log_path[96], wal_path[96], err_wal_path[96];
    int keeper, err_keeper; /* the pipes' read ends held across daemons */
    int writer, err_writer; /* the container's ends: stdout written, stderr silent */
    size_t fed;             /* pieces written so far */
};

struct daemon {
    struct monitor_fifo f, e;
    struct monitor_log log;
};

static void daemon_start(struct world *w, struct daemon *d, int64_t max)
{
    d->log.fd = open(w->log_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    assert_true(d->log.fd >= 0);
    d->log.bytes = lseek(d->log.fd, 0, SEEK_END);
    d->log.max = max;
    d->f.stream = "stdout";
    d->e.stream = "stderr";
    d->f.max = d->e.max = TEXT_MAX;
    d->f.sibling = &d->e;
    d->e.sibling = &d->f;
    monitor_fifo_init(&d->f, fcntl(w->keeper, F_DUPFD_CLOEXEC, 0), w->wal_path);
    monitor_fifo_init(&d->e, fcntl(w->err_keeper, F_DUPFD_CLOEXEC, 0), w->err_wal_path);
    struct err err = ERR_INIT;
    struct monitor_fifo *fs[2] = {&d->f, &d->e};
    assert_int_equal(monitor_fifo_recover(fs, 2, &d->log, &err), 0);
    err_done(&err);
}

static void daemon_die(struct daemon *d)
{
    monitor_fifo_stop(&d->f);
    monitor_fifo_stop(&d->e);
    if (d->log.fd >= 0)
        close(d->log.fd);
    d->log.fd = -1;
}

/* Feed the pieces one by one (then end the stream) and move them; true once all is logged. */
static bool daemon_run(struct world *w, struct daemon *d)
{
    for (;;) {
        bool ended = false, silent = false;
        while (monitor_fifo_step(&d->f, &d->log, &ended, NULL, NULL, NULL) > 0 && !ended)
            ;
        monitor_fifo_step(&d->e, &d->log, &silent, NULL, NULL, NULL);
        if (ended)
            return true;
        if (w->fed < ARRAY_SIZE(pieces)) {
            const char *p = pieces[w->fed++];
            assert_int_equal(__real_write(w->writer, p, strlen(p)), (ssize_t)strlen(p));
        } else if (w->writer >= 0) {
            close(w->writer);
            w->writer = -1;
        }
    }
}

/* The log without its timestamps (they differ between runs). */
static char *log_text(const char *path)
{
    struct buf b = {0}, out = {0};
    assert_int_equal(fs_read_file(path, 1 << 20, &b), 0);
    const char *p = (const char *)b.data, *end = p + b.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *sp = memchr(p, ' ', (size_t)((nl ? nl : end) - p));
        const char *from = sp ? sp : p;
        buf_append(&out, from, (size_t)((nl ? nl + 1 : end) - from));
        p = nl ? nl + 1 : end;
    }
    buf_done(&b);
    buf_append(&out, "", 1);
    return (char *)buf_steal(&out);
}

static void world_init(struct world *w)
{
    memset(w, 0, sizeof(*w));
    strcpy(w->dir, "/tmp/test_monitor_fifo.XXXXXX");
    assert_non_null(mkdtemp(w->dir));
    snprintf(w->log_path, sizeof(w->log_path), "%s/ctr.log", w->dir);
    snprintf(w->wal_path, sizeof(w->wal_path), "%s/stdout.intake", w->dir);
    snprintf(w->err_wal_path, sizeof(w->err_wal_path), "%s/stderr.intake", w->dir);
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    w->keeper = p[0];
    w->writer = p[1];
    assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    w->err_keeper = p[0];
    w->err_writer = p[1];
}

static void world_done(struct world *w)
{
    close(w->keeper);
    close(w->err_keeper);
    close(w->err_writer);
    if (w->writer >= 0)
        close(w->writer);
    fs_remove_tree(w->dir);
}

/* One run, killed at call number kill_at (-1: never); its log without timestamps. */
static char *run(int kill_at, enum how h, int64_t max, int *calls_left)
{
    struct world w;
    struct daemon d;
    world_init(&w);
    if (kill_at >= 0)
        KILLED_RUN_BEGIN();
    countdown = kill_at;
    how = h;
    memset(&d, 0, sizeof(d));
    d.log.fd = -1;
    d.f.fd = d.f.wal_fd = d.e.fd = d.e.wal_fd = -1;
    if (setjmp(killed) == 0) {
        daemon_start(&w, &d, max);
        daemon_run(&w, &d);
        *calls_left = countdown;
        countdown = -1;
        daemon_die(&d);
    } else {
        *calls_left = -2;
        countdown = -1;
        daemon_die(&d); /* the kill: what it had open is closed, what it held in memory is gone */
        daemon_start(&w, &d, max);
        daemon_run(&w, &d);
        daemon_die(&d);
    }
    if (kill_at >= 0)
        KILLED_RUN_END();
    char *text = log_text(w.log_path);
    world_done(&w);
    return text;
}

static bool ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && strcmp(s + a - b, tail) == 0;
}

/* Without a size limit: exactly the uninterrupted run's log. With one, the file may have started
 * over at another record (a kill between emptying it and saying so makes the next daemon write the
 * records it had taken into the new file): still a run of the stream's records, each once, ending
 * with the uninterrupted run's file. */
static bool acceptable(const char *got, const char *want, const char *full)
{
    if (strcmp(want, full) == 0)
        return strcmp(got, want) == 0;
    size_t skipped = strlen(full) - strlen(got);
    return ends_with(full, got) && ends_with(got, want) && (!skipped || full[skipped - 1] == '\n');
}

static void kills_at_every_call(int64_t max)
{
    int left;
    cleanup_free char *full = run(-1, BEFORE, -1, &left);
    cleanup_free char *want = run(-1, BEFORE, max, &left);
    if (max < 0) { /* the records of monitor_logline_feed */
        struct monitor_logline l;
        struct buf all = {0};
        monitor_logline_init(&l, "stdout", TEXT_MAX);
        for (size_t i = 0; i < ARRAY_SIZE(pieces); i++)
            monitor_logline_feed(&l, pieces[i], strlen(pieces[i]), 0, &all, NULL, NULL);
        monitor_logline_flush(&l, 0, &all, NULL, NULL);
        monitor_logline_done(&l);
        char path[] = "/tmp/test_monitor_fifo.feed.XXXXXX";
        int fd = mkstemp(path);
        assert_int_equal(__real_write(fd, all.data, all.len), (ssize_t)all.len);
        close(fd);
        cleanup_free char *fed = log_text(path);
        unlink(path);
        buf_done(&all);
        assert_string_equal(want, fed);
    }
    for (enum how h = BEFORE; h <= HALF; h++) {
        for (int k = 0;; k++) {
            cleanup_free char *got = run(k, h, max, &left);
            if (left != -2) {
                assert_true(k > 20); /* every point is done: there were many */
                break;
            }
            if (!acceptable(got, want, full))
                fail_msg("killed %s call %d: got\n%s\nwant\n%s",
                         h == BEFORE  ? "before"
                         : h == AFTER ? "after"
                                      : "half-way through",
                         k, got, want);
        }
    }
}

static void test_kills_lose_and_repeat_nothing(void **state)
{
    kills_at_every_call(-1);
}

static void test_kills_with_the_log_starting_over(void **state)
{
    /* Small enough that the log starts over during the run: the result must still be the
     * uninterrupted run's last file, whatever the kill. */
    kills_at_every_call(200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kills_lose_and_repeat_nothing),
        cmocka_unit_test(test_kills_with_the_log_starting_over),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
