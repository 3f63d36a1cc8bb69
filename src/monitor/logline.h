/* CRI log lines and journald records: pure functions over buffers. */
#ifndef CRIB_MONITOR_LOGLINE_H
#define CRIB_MONITOR_LOGLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Longer lines are written as several records: "P" parts and a final "F". */
#define MONITOR_LOG_LINE_MAX (16u * 1024)

/* One stream's framing state: the start of a line not yet ended by '\n'. */
struct monitor_logline {
    const char *stream; /* "stdout" or "stderr" (not owned) */
    size_t max;         /* text bytes per record */
    struct buf pending;
};

/* Called for each record's text (without the newline), e.g. to send it to journald. */
typedef void (*monitor_logline_fn)(const char *text, size_t len, bool partial, void *data);

void monitor_logline_init(struct monitor_logline *l, const char *stream, size_t max);
void monitor_logline_done(struct monitor_logline *l);
/* Frame bytes read from the stream: every completed line, and every max-sized part of a longer
 * one, is appended to out as "<time> <stream> <P|F> <text>\n", stamped with now_ns (unix ns,
 * written as RFC 3339 UTC with nanoseconds: 2026-11-23T10:00:00.000000001Z); fn (optional) sees
 * each record. The rest waits in pending. */
void monitor_logline_feed(struct monitor_logline *l, const char *data, size_t len, int64_t now_ns,
                          struct buf *out, monitor_logline_fn fn, void *fn_data);
/* At the end of the stream: pending text becomes a final "F" record. */
void monitor_logline_flush(struct monitor_logline *l, int64_t now_ns, struct buf *out,
                           monitor_logline_fn fn, void *fn_data);
/* The same records cut from bytes still in the pipe (peeked, not read), for output that must
 * reach the log exactly once: each record's text is moved from the pipe to the log as it is
 * written (splice), so that a daemon killed at any point neither loses nor repeats a byte.
 *
 * One record: its header ("<time> <stream> <tag> ") unless it continues one a killed daemon left
 * unfinished in the log, len bytes of text taken from the pipe (with the line's own '\n' for an
 * "F" record that has one), then a '\n' of ours when nl is set. */
struct monitor_rec {
    size_t len;
    char tag; /* 'P' or 'F' */
    bool header;
    bool nl;
};
/* An unfinished record at the end of a log: its tag (0: none) and how much text it has. */
struct monitor_resume {
    char tag;
    size_t have;
};
/* Cut the len bytes at the head of the pipe into records, with the split rule of
 * monitor_logline_feed (max text bytes per record). drained: nothing is in the pipe beyond these
 * bytes; hup: and nothing more will come (no writer is left), so an unfinished line ends as "F".
 * A line not finished yet stays in the pipe. *resume is finished first and cleared. Returns the
 * number of records put in recs (at most n_recs) and in *taken the bytes they take. */
size_t monitor_logline_plan(const char *data, size_t len, size_t max, bool drained, bool hup,
                            struct monitor_resume *resume, struct monitor_rec *recs, size_t n_recs,
                            size_t *taken);
/* The unfinished record at the end of a log (its tail: the bytes after its last '\n'), for the
 * stream it names; false when tail is not the start of one of its records. */
bool monitor_logline_resume(const char *tail, size_t len, const char *stream,
                            struct monitor_resume *ret);

/* "2026-11-23T10:00:00.000000001Z" into out (at least 40 bytes); returns its length. */
size_t monitor_log_timestamp(int64_t ns, char *out);

/* journald's native protocol (systemd.journal-fields(7), "Native Journal Protocol"): append one
 * field. Values with a newline use the binary form (name, '\n', 64-bit little-endian length,
 * value, '\n'); others "NAME=value\n". */
void monitor_journal_field(struct buf *msg, const char *name, const char *value, size_t len);
/* Send one entry as a datagram to the journal socket (e.g. /run/systemd/journal/socket) from fd
 * (an AF_UNIX SOCK_DGRAM socket, nonblocking). Returns 0, -EAGAIN when the socket is full (the
 * caller drops and counts), or another negative errno. Entries over the datagram limit are sent
 * through a sealed memfd, as sd_journal_send does. */
int monitor_journal_send(int fd, const char *socket_path, const struct buf *msg);

#endif
