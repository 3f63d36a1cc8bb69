/* Shared between monitor/'s files: the monitor's and each container's state. */
#ifndef CRIB_MONITOR_INTERNAL_H
#define CRIB_MONITOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "monitor/kmsg.h"
#include "monitor/logline.h"
#include "monitor/monitor.h"

/* Output waiting in a FIFO while nobody reads (a restart): 1 MiB per stream, as far as
 * /proc/sys/fs/pipe-max-size allows. */
#define FIFO_SIZE (1 << 20)
#define READ_CHUNK 65536
/* After the init's exit, how long its output is read before the exit is reported anyway (the
 * pipes normally reach EOF at once: the rest of the container is killed). */
#define EXIT_DRAIN_MS 2000

struct monitor {
    uv_loop_t *loop;
    int journal_fd;
    char *journal_socket;
    uint64_t journal_dropped;
    int64_t log_size_max;
    struct reactor_pids *pids;
    struct reactor_keeper *keeper;
    bool shutting_down;       /* the daemon stops: the keeper keeps what it holds */
    struct monitor_kmsg kmsg; /* OOM kills in cgroups that are gone */
};

/* The log file a container's records go to. */
struct monitor_log {
    int fd;        /* -1: none */
    int64_t bytes; /* its size */
    int64_t max;   /* log_size_max: past it the file starts over; < 0: no limit */
};

/* A FIFO moved into the log exactly once (fifo.c). */
struct monitor_fifo {
    int fd;     /* the FIFO's read end */
    int wal_fd; /* its intake file: bytes taken from the FIFO and not yet logged, after a header */
    char *wal_path;
    int64_t wal_size;
    int64_t log_base;             /* the log's size those bytes come after */
    struct buf pending;           /* those bytes (an unfinished line between steps) */
    const char *stream;           /* "stdout" or "stderr" */
    size_t max;                   /* text bytes per record */
    struct monitor_fifo *sibling; /* the other stream of the same log, or NULL */
};

/* One output stream: a FIFO (moved into the log exactly once) or a tty's pty master (read on the
 * loop). */
struct ctr_stream {
    uv_pipe_t pipe; /* a pty */
    uv_poll_t poll; /* a FIFO */
    bool fifo;
    bool open;
    struct monitor_fifo f;
    struct monitor_logline ll;
    struct monitor_ctr *c;
};

/* The monitor's own phases: the life of its handles and of the exit report, not the container's
 * CRI state (cri/ owns that). Moved by set_phase only. */
enum ctr_phase {
    PHASE_WATCHING, /* the init runs, or is not adopted yet */
    PHASE_DRAINING, /* the init has ended: the output is read to EOF, or for EXIT_DRAIN_MS */
    PHASE_ENDED,    /* the exit is reported */
    PHASE_CLOSED,   /* its owner closed it: freed once its handles are closed */
};

struct monitor_attach {
    struct monitor_attach *prev, *next;
    struct monitor_ctr *c;
    monitor_output_fn out;
    monitor_end_fn end;
    void *data;
};

struct monitor_ctr {
    struct monitor *m;
    char *id, *name, *pod_namespace, *pod_name, *pod_uid;
    char *run_dir, *log_path, *log_dir, *oom_file;
    bool tty;
    struct monitor_log log;
    struct ctr_stream out, err; /* for a tty: out is the pty's master */
    int child_fds[3];           /* the container's ends until `create` returns */
    int stdin_fd;               /* our end of the stdin FIFO (for attach) */
    struct monitor_console *console;
    struct reactor_pid *pid_watch; /* the init, once adopted */
    int pid;                       /* its pid */
    enum ctr_phase phase;
    int open_handles;
    struct monitor_attach *attached;
    monitor_exit_cb on_exit;
    void (*on_init_exit)(struct monitor_ctr *c, void *data);
    void *data;
    struct buf scratch;
    struct monitor_exit exit; /* kept while the output is drained */
    uv_timer_t drain_timer;   /* while draining */
    bool kept_dropped;        /* the keeper holds nothing of it any more */
};

/* ---- log.c: the CRI log file and journald ---- */

/* Open (or after the kubelet's rotation, open again) the container's log; an unfinished record a
 * killed daemon left at its end is to be finished by the stream it names. */
int monitor_log_open(struct monitor_ctr *c, struct err *err);
/* Frame bytes read from a stream (a tty's) and write them; len 0 with eof: flush the last line. */
void monitor_log_chunk(struct ctr_stream *s, const char *data, size_t len, bool eof);
/* One record to journald. */
void monitor_log_journal(struct ctr_stream *s, const char *text, size_t len, bool partial);
/* Output for attached clients. */
void monitor_log_attached(struct ctr_stream *s, const char *data, size_t len);

/* ---- fifo.c: FIFOs moved into the log exactly once (no libuv: unit-tested as it is) ---- */

/* Bytes just read from the FIFO, whole lines or not: for attached clients, at once. */
typedef void (*monitor_fifo_fresh_fn)(const char *bytes, size_t len, void *data);
/* Records of raw bytes are in the log: for journald. */
typedef void (*monitor_fifo_out_fn)(const char *raw, size_t len, const struct monitor_rec *recs,
                                    size_t n, void *data);
/* Take fd (the FIFO's read end) with the intake file at wal_path; f->stream, f->max and
 * f->sibling are set. monitor_fifo_recover follows, for all the streams of the log at once. */
void monitor_fifo_init(struct monitor_fifo *f, int fd, const char *wal_path);
/* What earlier daemons left in the streams' intake files, made right against the log: it is cut
 * back to the last size any of them recorded, and their bytes are logged from there. */
int monitor_fifo_recover(struct monitor_fifo *const *fs, size_t n, struct monitor_log *log,
                         struct err *err);
/* Move what the FIFO holds (up to READ_CHUNK bytes) into the log: complete lines now, an unfinished
 * one once it ends, or when the FIFO has (*ended: no writer is left and it is empty). Returns
 * the bytes taken, 0 if none, or -errno. */
ssize_t monitor_fifo_step(struct monitor_fifo *f, struct monitor_log *log, bool *ended,
                          monitor_fifo_fresh_fn fresh_fn, monitor_fifo_out_fn out_fn, void *data);
/* The log was opened anew (the kubelet rotated it): records go on from its size. */
int monitor_fifo_rebase(struct monitor_fifo *const *fs, size_t n, struct monitor_log *log,
                        struct err *err);
/* Close; the intake file stays for the next daemon. */
void monitor_fifo_stop(struct monitor_fifo *f);

/* ---- monitor.c ---- */

/* The stream reached its end (EOF, or the pty's other side is gone): close it; once both have,
 * a container whose init has ended reports its exit. May free the container's monitor. */
void monitor_stream_ended(struct ctr_stream *s);

#endif
