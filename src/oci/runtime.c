/* The OCI runtime binary driven from the loop: one child per command, with a timeout, and the
 * runtime's own error message in ours when it fails. */
#include <errno.h>
#include <string.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/oci.h"

#define RUNTIME_ARGS_MAX 32

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

int oci_runtime_run(uv_loop_t *loop, const struct oci_runtime *rt, char *const *args,
                    const struct oci_runtime_opts *o, oci_runtime_cb cb, void *data,
                    struct reactor_child **ret_child, struct err *err)
{
    char *argv[RUNTIME_ARGS_MAX];
    size_t n = 0;
    argv[n++] = (char *)rt->path;
    if (rt->root && *rt->root) {
        argv[n++] = "--root";
        argv[n++] = (char *)rt->root;
    }
    if (o->log_path) {
        argv[n++] = "--log";
        argv[n++] = (char *)o->log_path;
        argv[n++] = "--log-format";
        argv[n++] = "json";
    }
    for (size_t i = 0; args[i]; i++) {
        if (n + 1 >= RUNTIME_ARGS_MAX)
            return err_set(err, -E2BIG, "too many runtime arguments");
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    struct runtime_call *rc = xcalloc(1, sizeof(*rc));
    rc->cb = cb;
    rc->data = data;
    const char *base = strrchr(rt->path, '/');
    rc->name = xasprintf("%s %s", base ? base + 1 : rt->path, args[0]);
    rc->log_path = o->log_path ? xstrdup(o->log_path) : NULL;
    rc->any_exit = o->any_exit;
    struct reactor_child_opts co = {
        .argv = argv,
        .stdin_data = o->stdin_data,
        .stdin_len = o->stdin_len,
        .timeout_ms = o->timeout_ms ? o->timeout_ms : rt->timeout_ms,
        .stdio_fds = o->stdio_fds,
        .out_max = o->out_max,
    };
    int r = reactor_child_start(loop, &co, on_done, rc, ret_child);
    if (r < 0) {
        err_set(err, r, "start %s: %s", rc->name, strerror(-r));
        free(rc->name);
        free(rc->log_path);
        free(rc);
    }
    return r;
}
