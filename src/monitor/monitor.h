/* The monitor module: what happens to a container after the runtime has created it. Its stdio
 * (FIFOs under the run root, or a pty's master sent through the console socket), its CRI log
 * file and journald, and its exit (a pidfd on the loop, waitid for the status, the cgroup for
 * the OOM verdict). No helper process per container. */
#ifndef CRIB_MONITOR_H
#define CRIB_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

struct monitor;
struct monitor_ctr;

struct reactor_pids;
struct reactor_keeper;

struct monitor_opts {
    bool log_to_journald;
    const char *journald_socket; /* the journal's native socket */
    int64_t log_size_max;        /* a log file past this many bytes starts over; < 0: no limit */
    struct reactor_pids *pids;   /* where the containers' inits are watched */
    /* Holds each container's stdio ends while no daemon runs (NULL: none); closing a container's
     * monitor drops them, unless the daemon is shutting down. */
    struct reactor_keeper *keeper;
};

int monitor_new(uv_loop_t *loop, const struct monitor_opts *o, struct monitor **ret,
                struct err *err);
/* The daemon stops: from now on closing a container's monitor leaves its stdio with the keeper. */
void monitor_shutdown(struct monitor *m);
void monitor_free(struct monitor *m);

struct monitor_exit {
    int exit_code;       /* 128 + signal when killed by one */
    int signal;          /* 0 unless killed by a signal */
    bool oom_killed;     /* the cgroup saw an OOM kill */
    bool status_known;   /* false when the process was not our child (adopted after a restart) */
    int64_t finished_at; /* unix ns */
};

typedef void (*monitor_exit_cb)(struct monitor_ctr *c, const struct monitor_exit *e, void *data);

struct monitor_ctr_opts {
    const char *id, *name;                          /* for journald */
    const char *pod_namespace, *pod_name, *pod_uid; /* for journald */
    const char *run_dir;                            /* FIFOs and the console socket go here */
    const char *log_path;                           /* the CRI log file; NULL or "": none */
    /* The pod's log directory, which log_path lies beneath: trusted, while nothing below it is
     * (a workload may write there). NULL: log_path's own directory. */
    const char *log_dir;
    /* The file that counts OOM kills of the container's cgroup: memory.oom_control (v1) or
     * memory.events (v2). NULL: not known. */
    const char *oom_file;
    bool tty, open_stdin;
    bool reopen; /* after a restart: open the FIFOs that are there instead of making them */
    monitor_exit_cb on_exit;
    /* Optional: the init has ended, and its exit is reported (on_exit) once the output is read to
     * EOF or for a bounded time. Processes it left behind (in a shared or the node's PID
     * namespace) hold the stdio open: this is where they are killed. */
    void (*on_init_exit)(struct monitor_ctr *c, void *data);
    void *data;
};

/* Prepare the container's stdio and open its log. */
int monitor_ctr_new(struct monitor *m, const struct monitor_ctr_opts *o, struct monitor_ctr **ret,
                    struct err *err);
/* The fds the runtime's `create` gets as its stdin, stdout and stderr (the container inherits
 * them); /dev/null for a tty container, whose stdio is the pty. */
void monitor_ctr_stdio(struct monitor_ctr *c, int ret_fds[3]);
/* The console socket path for a tty container, or NULL. */
const char *monitor_ctr_console_socket(struct monitor_ctr *c);
/* The runtime's `create` has returned: drop our copies of the container's ends. */
void monitor_ctr_created(struct monitor_ctr *c);
/* Watch pid, the container's init: its exit is reported once through on_exit, after the output
 * written before it has been logged. */
int monitor_ctr_adopt(struct monitor_ctr *c, int pid, struct err *err);
/* After a restart: the container ended while no daemon ran (e as the keeper kept it). Its
 * exit is reported through on_exit once what it wrote meanwhile is logged. */
void monitor_ctr_ended(struct monitor_ctr *c, const struct monitor_exit *e);
/* The pidfd of the adopted process (it stays that process even when its pid is reused), or -1. */
int monitor_ctr_pidfd(const struct monitor_ctr *c);
/* The PID namespace of the adopted process, held open as ret_fd (ours to close); buf gets the
 * path a runtime takes, /proc/<cribd>/fd/N, so that a pid reused since cannot redirect anything
 * into another process's namespace. -ENOENT once the process has ended. */
int monitor_ctr_pid_ns(const struct monitor_ctr *c, char *buf, size_t len, int *ret_fd,
                       struct err *err);
/* Open the log file again (the kubelet renamed it to rotate it). */
int monitor_ctr_reopen_log(struct monitor_ctr *c, struct err *err);
/* Close everything (output still buffered is logged); on_exit is not called any more. Freed once
 * its handles are closed. */
void monitor_ctr_close(struct monitor_ctr *c);
/* Attach: out gets the container's output as it is read (fd 1 or 2; a tty's is 1), end once
 * when the container has exited (or its monitor closes), after which the attach is freed.
 * NULL if the container has ended already. */
struct monitor_attach;
typedef void (*monitor_output_fn)(int fd, const char *data, size_t len, void *data_arg);
typedef void (*monitor_end_fn)(void *data);
struct monitor_attach *monitor_ctr_attach(struct monitor_ctr *c, monitor_output_fn out,
                                          monitor_end_fn end, void *data);
/* Detach before the end (the client left). NULL-safe. */
void monitor_attach_close(struct monitor_attach *a);
/* A new descriptor for writing to the container's stdin (its FIFO, or a tty's pty master, which
 * also takes resizes); -ENOENT if it has none. */
int monitor_ctr_input_fd(struct monitor_ctr *c);
/* Close our end of the container's stdin FIFO: it reads EOF (stdin_once). */
void monitor_ctr_close_stdin(struct monitor_ctr *c);
/* Remove the FIFOs and the console socket from run_dir. */
void monitor_ctr_remove_files(const char *run_dir);

/* A console socket in dir (console.sock) for the runtime's --console-socket. cb gets the pty
 * master the runtime sends, once, and not after monitor_console_close: it returns true when it
 * took the master, false to have it closed. */
struct monitor_console;
typedef bool (*monitor_console_cb)(int master, void *data);
int monitor_console_new(uv_loop_t *loop, const char *dir, monitor_console_cb cb, void *data,
                        struct monitor_console **ret, struct err *err);
const char *monitor_console_path(const struct monitor_console *c);
/* Stop listening and free (once its handles are closed). NULL-safe. */
void monitor_console_close(struct monitor_console *c);

/* Whether the cgroup whose OOM counter is file (memory.oom_control or memory.events) saw an OOM
 * kill; for a v2 cgroup that is gone, whether the kernel's log names it in an OOM kill. */
bool monitor_oom_seen(struct monitor *m, const char *file);
/* Start time of pid (clock ticks since boot, /proc/<pid>/stat field 22), or -1: with the pid it
 * names a process across pid reuse. */
int64_t monitor_proc_start_time(int pid);
/* Send sig to pid if it is still the process that started at start_time; else -ESRCH. */
int monitor_proc_signal(int pid, int64_t start_time, int sig);
/* Whether pid has a handler for sig (SigCgt in /proc/<pid>/status). */
bool monitor_proc_catches(int pid, int sig);

#endif
