/* The container's CRI log file and journald: opening the log beneath the pod's log directory,
 * starting it over past log_size_max, records framed from a tty's reads, journald entries,
 * attached clients' copies. (Records from FIFOs are written by fifo.c.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "monitor/monitor-internal.h"

/* Empty the log file to start it over (log_size_max); false when it cannot be. */
static bool start_over(struct monitor_ctr *c)
{
    if (ftruncate(c->log.fd, 0) < 0 || lseek(c->log.fd, 0, SEEK_SET) < 0)
        return false;
    c->log.bytes = 0;
    return true;
}

int monitor_log_open(struct monitor_ctr *c, struct err *err)
{
    if (!c->log_path)
        return 0;
    /* Beneath the pod's log directory nothing is followed: a container that can write there
     * (a hostPath mount) must not turn its log into a write to another file. */
    cleanup_free char *base = NULL;
    const char *rel;
    size_t n = c->log_dir ? strlen(c->log_dir) : 0;
    if (n && strncmp(c->log_path, c->log_dir, n) == 0 && c->log_path[n] == '/') {
        base = xstrdup(c->log_dir);
        rel = c->log_path + n + 1;
    } else {
        base = xstrdup(c->log_path);
        char *slash = strrchr(base, '/');
        rel = slash ? c->log_path + (slash - base) + 1 : c->log_path;
        if (!slash)
            strcpy(base, ".");
        else if (slash == base)
            base[1] = '\0'; /* "/" */
        else
            *slash = '\0';
    }
    int fd = fs_append_beneath(base, rel, 0640, 0755);
    if (fd < 0)
        return err_set(err, fd, "open log %s: %s", c->log_path,
                       fd == -ELOOP || fd == -ENOTDIR ? "a symlink on the way"
                       : fd == -EINVAL ? "not a regular file beneath the log directory"
                                       : strerror(-fd));
    /* Records are spliced in from the FIFOs, which splice(2) refuses for a file in append mode:
     * we are its only writer, at its end. */
    int fl = fcntl(fd, F_GETFL);
    off_t end = lseek(fd, 0, SEEK_END);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_APPEND) < 0 || end < 0) {
        int e = -errno;
        close(fd);
        return err_set(err, e, "open log %s: %s", c->log_path, strerror(-e));
    }
    if (c->log.fd >= 0)
        close(c->log.fd);
    c->log.fd = fd;
    c->log.bytes = end;
    /* Records from the FIFOs go on from this file's size. */
    struct monitor_fifo *fs[2];
    size_t nf = 0;
    if (c->out.fifo && c->out.open)
        fs[nf++] = &c->out.f;
    if (c->err.fifo && c->err.open)
        fs[nf++] = &c->err.f;
    return monitor_fifo_rebase(fs, nf, &c->log, err);
}

/* How much of data (whole CRI log lines) goes to the file before it must start over to stay
 * within log_size_max, as CRI-O's: 0 means start over first. A line alone longer than the limit
 * still goes whole into an empty file. */
static size_t log_fits(const struct monitor_ctr *c, const uint8_t *data, size_t len)
{
    int64_t max = c->log.max;
    if (max < 0 || c->log.bytes + (int64_t)len <= max)
        return len;
    size_t fit = 0;
    for (const uint8_t *nl = data; (nl = memchr(nl, '\n', len - (size_t)(nl - data))); nl++) {
        size_t upto = (size_t)(nl + 1 - data);
        if (c->log.bytes + (int64_t)upto > max)
            break;
        fit = upto;
    }
    if (fit == 0 && c->log.bytes == 0) {
        const uint8_t *nl = memchr(data, '\n', len);
        fit = nl ? (size_t)(nl + 1 - data) : len;
    }
    return fit;
}

static void write_log(struct monitor_ctr *c, const uint8_t *data, size_t len)
{
    while (c->log.fd >= 0 && len) {
        size_t run = log_fits(c, data, len);
        if (run == 0) {
            if (!start_over(c))
                return;
            continue;
        }
        ssize_t n = write(c->log.fd, data, run);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* a full disk loses lines, not the container */
        data += n;
        len -= (size_t)n;
        c->log.bytes += n;
    }
}

struct journal_ctx {
    struct monitor_ctr *c;
    const char *stream;
};

static void to_journal(const char *text, size_t len, bool partial, void *data)
{
    struct journal_ctx *j = data;
    struct monitor_ctr *c = j->c;
    struct monitor *m = c->m;
    struct buf msg = {0};
    monitor_journal_field(&msg, "MESSAGE", text, len);
    bool is_err = strcmp(j->stream, "stderr") == 0;
    monitor_journal_field(&msg, "PRIORITY", is_err ? "3" : "6", 1);
    monitor_journal_field(&msg, "CONTAINER_ID", c->id, strlen(c->id) < 12 ? strlen(c->id) : 12);
    monitor_journal_field(&msg, "CONTAINER_ID_FULL", c->id, strlen(c->id));
    monitor_journal_field(&msg, "CONTAINER_NAME", c->name, strlen(c->name));
    monitor_journal_field(&msg, "CONTAINER_STREAM", j->stream, strlen(j->stream));
    if (partial)
        monitor_journal_field(&msg, "CONTAINER_PARTIAL_MESSAGE", "true", 4);
    monitor_journal_field(&msg, "SYSLOG_IDENTIFIER", c->name, strlen(c->name));
    monitor_journal_field(&msg, "POD_NAMESPACE", c->pod_namespace, strlen(c->pod_namespace));
    monitor_journal_field(&msg, "POD_NAME", c->pod_name, strlen(c->pod_name));
    monitor_journal_field(&msg, "POD_UID", c->pod_uid, strlen(c->pod_uid));
    if (monitor_journal_send(m->journal_fd, m->journal_socket, &msg) < 0)
        m->journal_dropped++;
    buf_done(&msg);
}

void monitor_log_attached(struct ctr_stream *s, const char *data, size_t len)
{
    struct monitor_ctr *c = s->c;
    for (struct monitor_attach *a = c->attached, *next; len && a; a = next) {
        next = a->next; /* a callback may detach itself */
        a->out(s == &c->err ? 2 : 1, data, len, a->data);
    }
}

void monitor_log_journal(struct ctr_stream *s, const char *text, size_t len, bool partial)
{
    if (s->c->m->journal_fd < 0)
        return;
    struct journal_ctx j = {s->c, s->ll.stream};
    to_journal(text, len, partial, &j);
}

void monitor_log_chunk(struct ctr_stream *s, const char *data, size_t len, bool eof)
{
    struct monitor_ctr *c = s->c;
    struct journal_ctx j = {c, s->ll.stream};
    monitor_log_attached(s, data, len);
    monitor_logline_fn fn = c->m->journal_fd >= 0 ? to_journal : NULL;
    c->scratch.len = 0;
    int64_t now = now_unix_ns();
    if (len)
        monitor_logline_feed(&s->ll, data, len, now, &c->scratch, fn, &j);
    if (eof)
        monitor_logline_flush(&s->ll, now, &c->scratch, fn, &j);
    write_log(c, c->scratch.data, c->scratch.len);
}
