/* A container's output FIFO, moved into its CRI log exactly once, whenever the daemon is killed.
 *
 * Bytes leave the FIFO only into the stream's intake file under the run directory (splice(2), which
 * takes from the pipe exactly what it writes to the file). The intake file starts with a header
 * naming the log's size those bytes come after ("base"); the records made of them are appended to
 * the log, then a new intake file replaces the old one (write, rename) with the new base and the
 * bytes not logged yet (an unfinished line). A daemon killed anywhere leaves an intake file that
 * tells what to do: a log longer than its base holds records of its bytes (all or some) and is cut
 * back to the base; its bytes are then logged again. So no byte is lost or logged twice. A
 * killed daemon's attached clients and journald may miss what it was writing. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "monitor/monitor-internal.h"

#define WAL_MAGIC "crib-fifo-intake 1 "
#define WAL_HEADER_MAX 64
/* Records of one step: a step takes at most READ_CHUNK bytes, plus an unfinished line. */
#define RECS_MAX 512

/* Replace the intake file: the log's size now, and the bytes not logged yet. */
static int commit(struct monitor_fifo *f, int64_t base)
{
    cleanup_free char *tmp = xasprintf("%s.tmp", f->wal_path);
    char head[WAL_HEADER_MAX];
    int hl = snprintf(head, sizeof(head), WAL_MAGIC "%" PRId64 "\n", base);
    int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int r = fs_write_all(fd, head, (size_t)hl);
    if (r == 0 && f->pending.len)
        r = fs_write_all(fd, (const char *)f->pending.data, f->pending.len);
    if (r == 0 && rename(tmp, f->wal_path) < 0)
        r = -errno;
    if (r < 0) {
        close(fd);
        unlink(tmp);
        return r;
    }
    if (f->wal_fd >= 0)
        close(f->wal_fd);
    f->wal_fd = fd;
    f->wal_size = hl + (int64_t)f->pending.len;
    f->log_base = base;
    return 0;
}

/* An intake file left by an earlier daemon: its base and its bytes. */
static bool load(struct monitor_fifo *f)
{
    struct buf b = {0};
    bool ok = false;
    if (fs_read_file(f->wal_path, (size_t)FIFO_SIZE * 4, &b) == 0 &&
        strncmp((const char *)b.data, WAL_MAGIC, strlen(WAL_MAGIC)) == 0) {
        const char *p = (const char *)b.data + strlen(WAL_MAGIC);
        char *end;
        long long base = strtoll(p, &end, 10);
        if (*end == '\n' && base >= 0) {
            size_t off = (size_t)(end + 1 - (const char *)b.data);
            buf_append(&f->pending, b.data + off, b.len - off);
            f->log_base = base;
            ok = true;
        }
    }
    buf_done(&b);
    return ok;
}

void monitor_fifo_init(struct monitor_fifo *f, int fd, const char *wal_path)
{
    f->fd = fd;
    f->wal_fd = -1;
    f->wal_path = xstrdup(wal_path);
    f->pending.len = 0;
}

int monitor_fifo_recover(struct monitor_fifo *const *fs, size_t n, struct monitor_log *log,
                         struct err *err)
{
    /* Every base is a size the log had when a round ended; the last one is the largest. What
     * follows it in the log is records of a round that did not end: its bytes are still in its
     * intake file, and are logged again. */
    int64_t cut = -1;
    for (size_t i = 0; i < n; i++)
        if (load(fs[i]) && fs[i]->log_base > cut)
            cut = fs[i]->log_base;
    if (cut >= 0 && log->fd >= 0 && log->bytes > cut) {
        if (ftruncate(log->fd, cut) < 0 || lseek(log->fd, cut, SEEK_SET) < 0)
            return err_set(err, -errno, "cut the log back to %" PRId64 " bytes: %s", cut,
                           strerror(errno));
        log->bytes = cut;
    }
    return monitor_fifo_rebase(fs, n, log, err);
}

int monitor_fifo_rebase(struct monitor_fifo *const *fs, size_t n, struct monitor_log *log,
                        struct err *err)
{
    for (size_t i = 0; i < n; i++) {
        int r = fs[i]->wal_path ? commit(fs[i], log->bytes) : 0;
        if (r < 0)
            return err_set(err, r, "%s: %s", fs[i]->wal_path, strerror(-r));
    }
    return 0;
}

/* The log starts over (log_size_max): emptied, and every intake file of the log says so before
 * anything is written to it again. */
static int start_over(struct monitor_fifo *f, struct monitor_log *log)
{
    if (ftruncate(log->fd, 0) < 0 || lseek(log->fd, 0, SEEK_SET) < 0)
        return -errno;
    log->bytes = 0;
    int r = commit(f, 0);
    if (r == 0 && f->sibling && f->sibling->wal_path)
        r = commit(f->sibling, 0);
    return r;
}

/* Write the rendered records to the log; those past log_size_max go to a file started over, each
 * group first committed. A failing log (a full disk) loses the records, not the container. */
static void write_records(struct monitor_fifo *f, struct monitor_log *log, const struct buf *out)
{
    const char *p = (const char *)out->data, *end = p + out->len;
    while (log->fd >= 0 && p < end) {
        size_t len = (size_t)(end - p);
        if (log->max >= 0 && log->bytes + (int64_t)len > log->max) {
            /* the whole records that still fit, else start over (a record longer than the limit
             * goes whole into an empty file) */
            size_t fit = 0;
            for (const char *nl = p; (nl = memchr(nl, '\n', (size_t)(end - nl))); nl++) {
                if (log->bytes + (nl + 1 - p) > log->max)
                    break;
                fit = (size_t)(nl + 1 - p);
            }
            if (fit == 0 && log->bytes > 0) {
                if (start_over(f, log) < 0)
                    return;
                continue;
            }
            if (fit)
                len = fit;
        }
        if (fs_write_all(log->fd, p, len) < 0)
            return;
        log->bytes += (int64_t)len;
        p += len;
    }
}

ssize_t monitor_fifo_step(struct monitor_fifo *f, struct monitor_log *log, bool *ended,
                          monitor_fifo_fresh_fn fresh_fn, monitor_fifo_out_fn out_fn, void *data)
{
    loff_t off = f->wal_size;
    ssize_t k = splice(f->fd, NULL, f->wal_fd, &off, READ_CHUNK, SPLICE_F_NONBLOCK);
    if (k < 0 && errno != EAGAIN && errno != EINTR)
        return -errno;
    *ended = k == 0;
    if (k > 0) {
        size_t had = f->pending.len;
        buf_reserve(&f->pending, (size_t)k);
        ssize_t got = pread(f->wal_fd, f->pending.data + had, (size_t)k, f->wal_size);
        if (got != k)
            return got < 0 ? -errno : -EIO;
        f->pending.len += (size_t)k;
        f->wal_size += k;
        if (fresh_fn)
            fresh_fn((const char *)f->pending.data + had, (size_t)k, data);
    }
    struct monitor_rec recs[RECS_MAX];
    size_t taken = 0, n;
    struct buf out = {0};
    int64_t now = now_unix_ns();
    do { /* an unfinished line and READ_CHUNK bytes: a few rounds at most */
        const char *raw = (const char *)f->pending.data + taken;
        size_t t;
        n = monitor_logline_plan(raw, f->pending.len - taken, f->max, *ended, recs, RECS_MAX, &t);
        out.len = 0;
        monitor_logline_render(raw, recs, n, f->stream, now, &out, NULL, NULL);
        write_records(f, log, &out);
        if (out_fn && n)
            out_fn(raw, t, recs, n, data);
        taken += t;
    } while (n == RECS_MAX);
    buf_done(&out);
    if (taken) {
        memmove(f->pending.data, f->pending.data + taken, f->pending.len - taken);
        f->pending.len -= taken;
        commit(f, log->bytes);
    }
    return k > 0 ? k : 0;
}

void monitor_fifo_stop(struct monitor_fifo *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->wal_fd >= 0)
        close(f->wal_fd);
    f->fd = f->wal_fd = -1;
    free(f->wal_path);
    f->wal_path = NULL;
    buf_done(&f->pending);
}
