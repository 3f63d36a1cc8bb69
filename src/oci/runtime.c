/* The OCI runtime binary driven from the loop: the command line of each verb (the one place that
 * knows runc's flags and how other runtimes differ), one child per command, with a timeout, and
 * the runtime's own error message in ours when it fails. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/oci.h"

struct runtime_call {
    oci_runtime_cb cb;
    void *data;
    char *name; /* "runc create" */
    char *log_path;
    bool any_exit;
};

/* The last "msg" of level error in runc's JSON log lines, else the last line's. */
char *oci_runtime_log_error(const char *path)
{
    struct buf b = {0};
    char *msg = NULL;
    if (fs_read_file(path, 1 << 20, &b) == 0) {
        char *save = NULL;
        for (char *line = strtok_r((char *)b.data, "\n", &save); line;
             line = strtok_r(NULL, "\n", &save)) {
            cJSON *j = cJSON_Parse(line);
            const char *level = cJSON_GetStringValue(cJSON_GetObjectItem(j, "level"));
            const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(j, "msg"));
            if (m &&
                (!msg || (level && (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)))) {
                free(msg);
                msg = xstrdup(m);
            }
            cJSON_Delete(j);
        }
    }
    buf_done(&b);
    return msg;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
        s[--n] = '\0';
}

static void on_done(int status, const struct reactor_child_result *res, void *data)
{
    struct runtime_call *rc = data;
    struct err err = ERR_INIT;
    if (status == 0 && res->timed_out) {
        status = err_set(&err, -ETIMEDOUT, "%s: timed out", rc->name);
    } else if (status == 0 && !(rc->any_exit && res->term_signal == 0) && res->exit_status != 0) {
        cleanup_free char *msg = rc->log_path ? oci_runtime_log_error(rc->log_path) : NULL;
        if (!msg && res->err_len)
            msg = xstrdup(res->err_out);
        if (!msg && res->out_len)
            msg = xstrdup(res->out);
        if (msg)
            trim(msg);
        if (res->term_signal)
            status = err_set(&err, -EIO, "%s: killed by signal %d", rc->name, res->term_signal);
        else
            status = err_set(&err, -EIO, "%s: exit status %lld%s%s", rc->name,
                             (long long)res->exit_status, msg && *msg ? ": " : "", msg ? msg : "");
    } else if (status < 0) {
        err_set(&err, status, "%s: %s", rc->name, strerror(-status));
    }
    rc->cb(status, status == 0 ? res : NULL, &err, rc->data);
    err_done(&err);
    free(rc->name);
    free(rc->log_path);
    free(rc);
}

/* ---- command lines ---- */

static const char *const verb_names[] = {
    [OCI_VERB_CREATE] = "create",   [OCI_VERB_START] = "start",
    [OCI_VERB_KILL] = "kill",       [OCI_VERB_DELETE] = "delete",
    [OCI_VERB_EXEC] = "exec",       [OCI_VERB_UPDATE] = "update",
    [OCI_VERB_STATE] = "state",     [OCI_VERB_PAUSE] = "pause",
    [OCI_VERB_RESUME] = "resume",   [OCI_VERB_CHECKPOINT] = "checkpoint",
    [OCI_VERB_RESTORE] = "restore",
};

void oci_runtime_init(struct oci_runtime *rt, const char *path, const char *root,
                      uint64_t timeout_ms)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    rt->path = path;
    rt->root = root;
    rt->timeout_ms = timeout_ms;
    rt->kind = strcmp(base, "crun") == 0 ? OCI_RUNTIME_CRUN : OCI_RUNTIME_RUNC;
    rt->systemd_cgroup = false;
}

/* The verbs take a bounded number of arguments: more is a bug here, not a user's doing. */
static void push(struct oci_runtime_argv *a, const char *s)
{
    if (a->n >= OCI_RUNTIME_ARGV_MAX)
        abort();
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

static void push_opt(struct oci_runtime_argv *a, const char *flag, const char *value)
{
    if (value) {
        push(a, flag);
        push(a, value);
    }
}

static void push_flag(struct oci_runtime_argv *a, const char *flag, bool on)
{
    if (on)
        push(a, flag);
}

static void push_log(const struct oci_runtime *rt, struct oci_runtime_argv *a, const char *path)
{
    /* crun reads --log as TYPE:ARG (file:, journald:, syslog:) as soon as it holds a colon. */
    if (rt->kind == OCI_RUNTIME_CRUN && strchr(path, ':'))
        path = a->owned = xasprintf("file:%s", path);
    push(a, "--log");
    push(a, path);
    push(a, "--log-format");
    push(a, "json");
}

/* runc names the signal ("KILL"); a number (real-time signals) is taken too. */
static void push_signal(struct oci_runtime_argv *a, int signo)
{
    const char *name = sigabbrev_np(signo);
    if (name)
        snprintf(a->signal, sizeof(a->signal), "%s", name);
    else
        snprintf(a->signal, sizeof(a->signal), "%d", signo);
    push(a, a->signal);
}

static int check_verb(const struct oci_verb *v, struct err *err)
{
    const char *need = NULL;
    const char *console = NULL;
    bool detach = true;
    if ((unsigned)v->type >= ARRAY_SIZE(verb_names))
        return err_set(err, -EINVAL, "unknown runtime verb %d", (int)v->type);
    if (!v->id || !*v->id || *v->id == '-')
        return err_set(err, -EINVAL, "runtime %s: bad container id `%s`", verb_names[v->type],
                       v->id ? v->id : "");
    switch (v->type) {
    case OCI_VERB_CREATE:
        need = !v->create.bundle ? "a bundle" : NULL;
        break;
    case OCI_VERB_KILL:
        need = v->kill.signo <= 0 ? "a signal" : NULL;
        break;
    case OCI_VERB_EXEC:
        need = !v->exec.process_path ? "a process file" : NULL;
        console = v->exec.console_socket;
        detach = v->exec.detach;
        break;
    case OCI_VERB_UPDATE:
        need = !v->update.resources ? "resources" : NULL;
        break;
    case OCI_VERB_CHECKPOINT:
        need = !v->checkpoint.image_path ? "an image path" : NULL;
        break;
    case OCI_VERB_RESTORE:
        need = !v->restore.bundle ? "a bundle" : !v->restore.image_path ? "an image path" : NULL;
        console = v->restore.console_socket;
        detach = v->restore.detach;
        break;
    default:
        break;
    }
    if (need)
        return err_set(err, -EINVAL, "runtime %s of %s: needs %s", verb_names[v->type], v->id,
                       need);
    /* runc: "cannot use console socket if runc will not detach": attached, the runtime keeps
     * the pty to itself and copies it to its own stdio. */
    if (console && !detach)
        return err_set(err, -EINVAL, "runtime %s of %s: a console socket needs detach",
                       verb_names[v->type], v->id);
    return 0;
}

/* Each verb's own flags, in the order they are given, read from its options in struct oci_verb: a
 * value (left out when NULL), a switch (given when true), or `-` for what the runtime reads from
 * its stdin. */
enum flag_kind { FLAG_VALUE, FLAG_SWITCH, FLAG_STDIN };
#define OPTION(field) offsetof(struct oci_verb, field)
static const struct verb_flag {
    enum oci_verb_type verb;
    const char *flag;
    enum flag_kind kind;
    size_t offset; /* of a const char * (value, stdin) or a bool (switch) */
} verb_flags[] = {
    {OCI_VERB_CREATE, "--bundle", FLAG_VALUE, OPTION(create.bundle)},
    {OCI_VERB_CREATE, "--pid-file", FLAG_VALUE, OPTION(create.pid_file)},
    {OCI_VERB_CREATE, "--console-socket", FLAG_VALUE, OPTION(create.console_socket)},
    {OCI_VERB_KILL, "--all", FLAG_SWITCH, OPTION(kill.all)},
    {OCI_VERB_DELETE, "--force", FLAG_SWITCH, OPTION(del.force)},
    {OCI_VERB_EXEC, "--detach", FLAG_SWITCH, OPTION(exec.detach)},
    {OCI_VERB_EXEC, "--pid-file", FLAG_VALUE, OPTION(exec.pid_file)},
    {OCI_VERB_EXEC, "--process", FLAG_VALUE, OPTION(exec.process_path)},
    {OCI_VERB_EXEC, "--console-socket", FLAG_VALUE, OPTION(exec.console_socket)},
    {OCI_VERB_UPDATE, "--resources", FLAG_STDIN, OPTION(update.resources)},
    {OCI_VERB_CHECKPOINT, "--image-path", FLAG_VALUE, OPTION(checkpoint.image_path)},
    {OCI_VERB_CHECKPOINT, "--work-path", FLAG_VALUE, OPTION(checkpoint.work_path)},
    {OCI_VERB_CHECKPOINT, "--leave-running", FLAG_SWITCH, OPTION(checkpoint.leave_running)},
    {OCI_VERB_RESTORE, "--bundle", FLAG_VALUE, OPTION(restore.bundle)},
    {OCI_VERB_RESTORE, "--image-path", FLAG_VALUE, OPTION(restore.image_path)},
    {OCI_VERB_RESTORE, "--work-path", FLAG_VALUE, OPTION(restore.work_path)},
    {OCI_VERB_RESTORE, "--pid-file", FLAG_VALUE, OPTION(restore.pid_file)},
    {OCI_VERB_RESTORE, "--console-socket", FLAG_VALUE, OPTION(restore.console_socket)},
    {OCI_VERB_RESTORE, "--detach", FLAG_SWITCH, OPTION(restore.detach)},
};
#undef OPTION

static void push_verb_flags(struct oci_runtime_argv *a, const struct oci_verb *v)
{
    for (size_t i = 0; i < ARRAY_SIZE(verb_flags); i++) {
        const struct verb_flag *f = &verb_flags[i];
        const char *field = (const char *)v + f->offset;
        if (f->verb != v->type)
            continue;
        if (f->kind == FLAG_SWITCH)
            push_flag(a, f->flag, *(const bool *)field);
        else if (f->kind == FLAG_STDIN)
            push_opt(a, f->flag, "-");
        else
            push_opt(a, f->flag, *(const char *const *)field);
    }
}

int oci_runtime_argv_build(const struct oci_runtime *rt, const struct oci_verb *v,
                           const char *log_path, struct oci_runtime_argv *ret, struct err *err)
{
    *ret = (struct oci_runtime_argv){0};
    int r = check_verb(v, err);
    if (r < 0)
        return r;
    push(ret, rt->path);
    if (rt->root && *rt->root)
        push_opt(ret, "--root", rt->root);
    push_flag(ret, "--systemd-cgroup", rt->systemd_cgroup);
    if (log_path)
        push_log(rt, ret, log_path);
    push(ret, verb_names[v->type]);
    push_verb_flags(ret, v);
    /* Flags before the id: runsc's Go flag parsing stops at the first operand. */
    push(ret, v->id);
    if (v->type == OCI_VERB_KILL)
        push_signal(ret, v->kill.signo);
    return 0;
}

void oci_runtime_argv_done(struct oci_runtime_argv *a)
{
    free(a->owned);
    a->owned = NULL;
}

/* ---- running them ---- */

int oci_runtime_call(uv_loop_t *loop, const struct oci_runtime *rt, const struct oci_verb *v,
                     const struct oci_runtime_opts *o, oci_runtime_cb cb, void *data,
                     struct reactor_child **ret_child, struct err *err)
{
    static const struct oci_runtime_opts none = {0};
    if (!o)
        o = &none;
    struct oci_runtime_argv a;
    int r = oci_runtime_argv_build(rt, v, o->log_path, &a, err);
    if (r < 0)
        return r;
    struct runtime_call *rc = xcalloc(1, sizeof(*rc));
    rc->cb = cb;
    rc->data = data;
    const char *base = strrchr(rt->path, '/');
    rc->name = xasprintf("%s %s", base ? base + 1 : rt->path, verb_names[v->type]);
    rc->log_path = o->log_path ? xstrdup(o->log_path) : NULL;
    rc->any_exit = v->type == OCI_VERB_EXEC;
    const char *in = v->type == OCI_VERB_UPDATE ? v->update.resources : NULL;
    struct reactor_child_opts co = {
        .argv = a.v,
        .stdin_data = in,
        .stdin_len = in ? strlen(in) : 0,
        .timeout_ms = o->timeout_ms ? o->timeout_ms : rt->timeout_ms,
        .stdio_fds = o->stdio_fds,
        .out_max = o->out_max,
    };
    r = reactor_child_start(loop, &co, on_done, rc, ret_child);
    oci_runtime_argv_done(&a);
    if (r < 0) {
        err_set(err, r, "start %s: %s", rc->name, strerror(-r));
        free(rc->name);
        free(rc->log_path);
        free(rc);
    }
    return r;
}

bool oci_runtime_init_pending(int pid)
{
    /* runc's init names itself "runc:[1:CHILD]", "runc:[2:INIT]" until it execs. */
    cleanup_free char *path = xasprintf("/proc/%d/comm", pid);
    struct buf b = {0};
    bool init = fs_read_file(path, 64, &b) == 0 && strncmp((char *)b.data, "runc:[", 6) == 0;
    buf_done(&b);
    return init;
}

char *oci_runtime_binary(const char *path, const char *name)
{
    if (path && path[0])
        return xstrdup(path);
    const char *dirs = getenv("PATH");
    if (!dirs)
        dirs = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    cleanup_free char *copy = xstrdup(dirs);
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
        char *p = xasprintf("%s/%s", dir, name);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

int oci_runtime_version(uv_loop_t *loop, const char *bin, uint64_t timeout_ms, reactor_child_cb cb,
                        void *data, struct reactor_child **ret)
{
    char *argv[] = {(char *)bin, "--version", NULL};
    return reactor_child_spawn(loop, argv, timeout_ms, cb, data, ret);
}
