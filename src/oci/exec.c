/* A command run in a running container: the process file made from the container's own
 * config.json, the command's stdio (pipes, /dev/null, or the console socket of a tty), the
 * runtime's `exec --detach --pid-file`, the pidfd watch of the command (cribd is the subreaper),
 * its kill, and the removal of the files once it is over.
 *
 * The runtime runs detached: attached, runc waits for the end of its copies of the command's
 * output, which anything the command left running in the background holds open. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/oci.h"

#define SPEC_MAX (4u << 20)

struct oci_exec_proc {
    struct oci_exec_opts o; /* the callbacks and their data; the strings are not kept */
    char *process_path, *pid_path, *log_path;
    struct reactor_pid *watch; /* while the command runs */
    int refs;                  /* the owner, the runtime's child, the watch */
    bool released;             /* no callback any more */
    bool kill_wanted;          /* killed before its pid was known */
    bool ended;                /* the command has ended, or never started */
};

/* The process of an exec: the container's own (user, env, cwd, capabilities, ...) with other
 * arguments, and a terminal or none. */
static char *exec_process(const char *spec_path, char *const *cmd, size_t n, bool tty,
                          struct err *err)
{
    struct buf b = {0};
    int r = fs_read_file(spec_path, SPEC_MAX, &b);
    if (r < 0) {
        buf_done(&b);
        err_set(err, r, "read %s: %s", spec_path, strerror(-r));
        return NULL;
    }
    cJSON *spec = cJSON_Parse((const char *)b.data);
    buf_done(&b);
    cJSON *proc = cJSON_DetachItemFromObject(spec, "process");
    cJSON_Delete(spec);
    if (!proc) {
        err_set(err, -EIO, "%s has no process", spec_path);
        return NULL;
    }
    cJSON *args = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(cmd[i]));
    cJSON_ReplaceItemInObject(proc, "args", args);
    cJSON_DeleteItemFromObject(proc, "terminal"); /* absent when false */
    cJSON_AddBoolToObject(proc, "terminal", tty);
    char *s = cJSON_PrintUnformatted(proc);
    cJSON_Delete(proc);
    return s;
}

static int write_process(struct oci_exec_proc *x, const struct oci_exec_opts *o, struct err *err)
{
    cleanup_free char *spec_path = xasprintf("%s/config.json", o->run_dir);
    cleanup_free char *proc = exec_process(spec_path, o->cmd, o->n_cmd, o->tty, err);
    if (!proc)
        return err->code;
    static unsigned seq;
    x->process_path = xasprintf("%s/exec-%u.json", o->run_dir, ++seq);
    /* The bundle lives under the run root: a fast write, inline. */
    int r = fs_write_file(x->process_path, proc, strlen(proc), 0600);
    if (r < 0)
        return err_set(err, r, "write %s: %s", x->process_path, strerror(-r));
    x->pid_path = xasprintf("%s.pid", x->process_path);
    if (o->runtime_log)
        x->log_path = xasprintf("%s.log", x->process_path);
    return 0;
}

static void unref(struct oci_exec_proc *x)
{
    if (--x->refs > 0)
        return;
    const char *files[] = {x->process_path, x->pid_path, x->log_path};
    for (size_t i = 0; i < 3; i++)
        if (files[i])
            unlink(files[i]);
    free(x->process_path);
    free(x->pid_path);
    free(x->log_path);
    free(x);
}

static void on_command_exit(const struct reactor_pid_exit *e, void *data)
{
    struct oci_exec_proc *x = data;
    x->watch = NULL; /* it frees itself */
    x->ended = true;
    if (!x->released && x->o.exited)
        x->o.exited(x, e, x->o.data);
    unref(x);
}

static void started(struct oci_exec_proc *x, int status, const struct oci_exec_started *s,
                    struct err *err)
{
    if (!x->released && x->o.started)
        x->o.started(x, status, s, err, x->o.data);
}

/* The runtime is done: it started the command (whose pid is in the pid file) or could not. */
static void on_runtime_done(int status, const struct reactor_child_result *res, struct err *err,
                            void *data)
{
    struct oci_exec_proc *x = data;
    struct oci_exec_started s = {.pid = 0};
    if (status == 0 && res->exit_status != 0) {
        x->ended = true;
        s.runtime_status = res->term_signal ? 128 + res->term_signal : (int)res->exit_status;
        cleanup_free char *why = x->log_path ? oci_runtime_log_error(x->log_path) : NULL;
        s.why = why;
        started(x, 0, &s, err);
        unref(x);
        return;
    }
    struct buf b = {0};
    if (status == 0 && fs_read_file(x->pid_path, 64, &b) == 0)
        s.pid = atoi((const char *)b.data);
    buf_done(&b);
    if (status == 0 && s.pid <= 0)
        status = err_set(err, -EIO, "runtime left no pid in %s", x->pid_path);
    if (status == 0) {
        x->refs++; /* until on_command_exit */
        status = reactor_pid_watch(x->o.pids, s.pid, on_command_exit, x, &x->watch);
        if (status < 0) {
            x->refs--;
            err_set(err, status, "watch process %d: %s", s.pid, strerror(-status));
        }
    }
    if (status < 0) {
        x->ended = true;
        started(x, status, &s, err);
    } else {
        if (x->kill_wanted)
            reactor_pid_signal(x->watch, SIGKILL);
        started(x, 0, &s, err);
    }
    unref(x);
}

/* The command's stdio: a pipe for each stream asked for (the command's end blocking, ours for
 * the loop), /dev/null for the others. On failure the caller closes what is open. */
static int open_stdio(const struct oci_exec_opts *o, int fds[3], int ours[3], struct err *err)
{
    for (int i = 0; i < 3; i++) {
        int pp[2];
        if (!o->pipes[i]) {
            fds[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
            if (fds[i] < 0)
                return err_set(err, -errno, "/dev/null: %s", strerror(errno));
            continue;
        }
        if (pipe2(pp, O_CLOEXEC) < 0)
            return err_set(err, -errno, "pipe: %s", strerror(errno));
        fds[i] = i == 0 ? pp[0] : pp[1];
        ours[i] = i == 0 ? pp[1] : pp[0];
    }
    return 0;
}

int oci_exec_proc_start(uv_loop_t *loop, const struct oci_runtime *rt,
                        const struct oci_exec_opts *o, int ret_fds[3], struct oci_exec_proc **ret,
                        struct err *err)
{
    struct oci_exec_proc *x = xcalloc(1, sizeof(*x));
    x->o = *o;
    x->refs = 1; /* the owner's */
    int fds[3] = {-1, -1, -1}, ours[3] = {-1, -1, -1};
    int r = write_process(x, o, err);
    if (r == 0 && !o->console_socket)
        r = open_stdio(o, fds, ours, err);
    if (r == 0) {
        struct oci_verb v = {
            .type = OCI_VERB_EXEC,
            .id = o->id,
            .exec = {.process_path = x->process_path,
                     .pid_file = x->pid_path,
                     .console_socket = o->console_socket,
                     .detach = true},
        };
        struct oci_runtime_opts ro = {
            .stdio_fds = o->console_socket ? NULL : fds,
            .log_path = x->log_path,
            .timeout_ms = o->timeout_ms,
        };
        x->refs++; /* until on_runtime_done */
        r = oci_runtime_call(loop, rt, &v, &ro, on_runtime_done, x, NULL, err);
        if (r < 0)
            x->refs--;
    }
    fs_close_fds(fds, 3);
    if (r < 0) {
        fs_close_fds(ours, 3);
        x->released = true;
        unref(x);
        return r;
    }
    memcpy(ret_fds, ours, sizeof(ours));
    *ret = x;
    return 0;
}

void oci_exec_proc_kill(struct oci_exec_proc *x)
{
    if (!x || x->ended)
        return;
    if (x->watch)
        reactor_pid_signal(x->watch, SIGKILL);
    else
        x->kill_wanted = true; /* once the runtime has told its pid */
}

void oci_exec_proc_release(struct oci_exec_proc *x)
{
    if (!x || x->released)
        return;
    x->released = true;
    unref(x);
}
