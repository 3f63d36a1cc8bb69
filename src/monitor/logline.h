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
/* The same records planned over raw bytes, for output moved into the log exactly once (fifo.c):
 * one record is its header ("<time> <stream> <tag> "), len bytes of text (with the line's own
 * '\n' for an "F" record that has one), then a '\n' of ours when nl is set. */
struct monitor_rec {
    size_t len;
    char tag; /* 'P' or 'F' */
    bool nl;
};
/* Cut len bytes into records, with the split rule of monitor_logline_feed (max text bytes per
 * record). An unfinished line is left for later, unless end is set (nothing more will come): it
 * ends as "F". Returns the number of records put in recs (at most n_recs) and in *taken the bytes
 * they take. */
size_t monitor_logline_plan(const char *data, size_t len, size_t max, bool end,
                            struct monitor_rec *recs, size_t n_recs, size_t *taken);
/* Append the records to out, stamped with now_ns; fn (optional) sees each record's text. */
void monitor_logline_render(const char *data, const struct monitor_rec *recs, size_t n,
                            const char *stream, int64_t now_ns, struct buf *out,
                            monitor_logline_fn fn, void *fn_data);

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
