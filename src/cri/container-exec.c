/* Calls on a running container: ExecSync, UpdateContainerResources, ReopenContainerLog. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"

/* ExecSync returns at most this much of stdout and of stderr; the rest is dropped. Both together
 * must also fit in one response under grpc_max_send_msg_size. */
#define EXEC_SYNC_OUTPUT_MAX (16u << 20)
#define EXEC_SYNC_RESPONSE_SLACK 1024 /* the response's own fields */
#define SPEC_MAX (4u << 20)

struct ctr *cri_ctr_running(struct cri *cri, const char *id, struct err *err)
{
    struct ctr *c = cri_ctr_find(cri, id);
    if (!c) {
        err_set(err, -ENOENT, "container `%s` not found", id);
        return NULL;
    }
    if (c->state != CRI_CTR_RUNNING) {
        err_set(err, -EINVAL, "container %s is not running", c->id);
        return NULL;
    }
    return c;
}

static void reply_err(struct grpc_call *call, struct err *err)
{
    cri_reply_err(call, err);
    err_done(err);
}

/* The process of an exec: the container's own (user, env, cwd, capabilities, ...) with other
 * arguments, and a terminal or none. */
static char *exec_process(struct ctr *c, char *const *cmd, size_t n, bool tty, struct err *err)
{
    cleanup_free char *spec_path = xasprintf("%s/config.json", c->run_dir);
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

char *cri_exec_process_file(struct ctr *c, char *const *cmd, size_t n, bool tty, struct err *err)
{
    cleanup_free char *proc = exec_process(c, cmd, n, tty, err);
    if (!proc)
        return NULL;
    static unsigned seq;
    char *path = xasprintf("%s/exec-%u.json", c->run_dir, ++seq);
    int r = fs_write_file(path, proc, strlen(proc), 0600);
    if (r < 0) {
        err_set(err, r, "write %s: %s", path, strerror(-r));
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

struct ctr *cri_ctr_exec_target(struct cri *cri, const char *id, size_t n_cmd, struct err *err)
{
    struct ctr *c = cri_ctr_running(cri, id, err);
    if (c && n_cmd == 0) {
        err_set(err, -EINVAL, "no command to execute");
        return NULL;
    }
    return c;
}

/* ---- ExecSync ---- */

/* The runtime runs detached and the command is watched through a pidfd (cribd is the subreaper):
 * attached, runc waits for the end of its copies of the command's output, which anything the
 * command left running in the background holds open. The output is read until EOF, or for
 * drain_exec_io_timeout once the command has exited, as containerd's
 * drain_exec_sync_io_timeout. */
struct exec_out {
    uv_pipe_t pipe;
    struct buf data;
    bool open;
    struct exec_sync *x;
};

struct exec_sync {
    struct cri *cri;
    struct grpc_call *call; /* NULL once answered */
    char *process_path, *pid_path, *cmd;
    int64_t timeout;
    struct exec_out out, err;
    uv_timer_t timer; /* the command's timeout, then the drain after its exit */
    int refs;         /* open handles, the runtime child, the pid watch */
    int pid;
    bool exited;
    int exit_code;
};

static void exec_sync_unref(struct exec_sync *x)
{
    if (--x->refs > 0)
        return;
    if (x->process_path)
        unlink(x->process_path);
    if (x->pid_path)
        unlink(x->pid_path);
    buf_done(&x->out.data);
    buf_done(&x->err.data);
    free(x->process_path);
    free(x->pid_path);
    free(x->cmd);
    free(x);
}

static void on_exec_handle_closed(uv_handle_t *h)
{
    exec_sync_unref(h->data);
}

static void exec_close_out(struct exec_out *o)
{
    if (!o->open)
        return;
    o->open = false;
    uv_close((uv_handle_t *)&o->pipe, on_exec_handle_closed);
}

/* Answer once, and let go of everything that is still open. */
static void exec_sync_end(struct exec_sync *x, const struct err *err)
{
    if (x->call) {
        reactor_grpc_call_on_cancel(x->call, NULL, NULL);
        if (err) {
            cri_reply_err(x->call, err);
        } else {
            Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
            resp.stdout.data = x->out.data.data;
            resp.stdout.len = x->out.data.len;
            resp.stderr.data = x->err.data.data;
            resp.stderr.len = x->err.data.len;
            resp.exit_code = x->exit_code;
            cri_reply(x->call, &resp.base);
        }
        reactor_grpc_call_unref(x->call);
        x->call = NULL;
    }
    if (x->pid > 0 && !x->exited)
        kill(x->pid, SIGKILL); /* ours and not reaped yet: the pid is still its */
    exec_close_out(&x->out);
    exec_close_out(&x->err);
    if (!uv_is_closing((uv_handle_t *)&x->timer))
        uv_close((uv_handle_t *)&x->timer, on_exec_handle_closed);
}

static void exec_sync_maybe_done(struct exec_sync *x)
{
    if (x->exited && !x->out.open && !x->err.open)
        exec_sync_end(x, NULL);
}

static void on_exec_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[65536]; /* one loop thread: on_exec_read copies it out at once */
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_exec_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct exec_out *o = container_of((uv_pipe_t *)st, struct exec_out, pipe);
    if (n < 0) {
        exec_close_out(o);
        exec_sync_maybe_done(o->x);
        return;
    }
    struct exec_sync *x = o->x;
    size_t max = ((size_t)x->cri->cfg->grpc_max_send_msg_size - EXEC_SYNC_RESPONSE_SLACK) / 2;
    if (max > EXEC_SYNC_OUTPUT_MAX)
        max = EXEC_SYNC_OUTPUT_MAX;
    size_t room = o->data.len < max ? max - o->data.len : 0;
    buf_append(&o->data, b->base, (size_t)n < room ? (size_t)n : room);
}

static void on_exec_timer(uv_timer_t *t)
{
    struct exec_sync *x = t->data;
    if (x->exited) { /* the drain is over: answer with what came */
        exec_sync_end(x, NULL);
        return;
    }
    struct err e = ERR_INIT;
    err_set(&e, -ETIMEDOUT, "command `%s` timed out after %llds", x->cmd, (long long)x->timeout);
    exec_sync_end(x, &e);
    err_done(&e);
}

static void on_exec_exited(const struct reactor_pid_exit *e, void *data)
{
    struct exec_sync *x = data;
    x->exited = true;
    x->exit_code = e->exit_code;
    if (x->call && !uv_is_closing((uv_handle_t *)&x->timer))
        uv_timer_start(&x->timer, on_exec_timer,
                       (uint64_t)x->cri->cfg->drain_exec_io_timeout * 1000, 0);
    exec_sync_maybe_done(x);
    exec_sync_unref(x);
}

static void on_exec_runtime_done(int status, const struct reactor_child_result *res,
                                 struct err *err, void *data)
{
    struct exec_sync *x = data;
    struct buf b = {0};
    if (status == 0 && res->exit_status == 0 && fs_read_file(x->pid_path, 64, &b) == 0)
        x->pid = atoi((const char *)b.data);
    buf_done(&b);
    if (status < 0) {
        exec_sync_end(x, err);
    } else if (res->exit_status != 0) {
        /* The runtime could not start the command: its message is on our stderr pipe, and
         * the answer carries it with the runtime's exit status, as an attached exec did. */
        x->exited = true;
        x->exit_code = res->term_signal ? 128 + res->term_signal : (int)res->exit_status;
        exec_sync_maybe_done(x);
    } else if (x->pid <= 0) {
        struct err e = ERR_INIT;
        err_set(&e, -EIO, "runtime left no pid in %s", x->pid_path);
        exec_sync_end(x, &e);
        err_done(&e);
    } else if (x->call) {
        x->refs++; /* until on_exec_exited */
        int r = reactor_pid_watch(x->cri->pids, x->pid, on_exec_exited, x, NULL);
        if (r < 0) {
            x->refs--;
            err_set(err, r, "watch process %d: %s", x->pid, strerror(-r));
            exec_sync_end(x, err);
        }
    } else {
        kill(x->pid, SIGKILL); /* the client left meanwhile */
    }
    exec_sync_unref(x);
}

static void on_exec_cancel(struct grpc_call *call, void *data)
{
    struct exec_sync *x = data;
    reactor_grpc_call_unref(x->call);
    x->call = NULL;
    exec_sync_end(x, NULL);
}

static int exec_pipe(struct exec_sync *x, struct exec_out *o, int *ret_child_end, struct err *err)
{
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) < 0)
        return err_set(err, -errno, "pipe: %s", strerror(errno));
    o->x = x;
    uv_pipe_init(x->cri->loop, &o->pipe, 0);
    o->pipe.data = x;
    o->open = true;
    x->refs++;
    *ret_child_end = pp[1];
    if (uv_pipe_open(&o->pipe, pp[0]) < 0) {
        close(pp[0]);
        return err_set(err, -EIO, "pipe: cannot watch it");
    }
    uv_read_start((uv_stream_t *)&o->pipe, on_exec_alloc, on_exec_read);
    return 0;
}

void cri_exec_sync(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ExecSyncRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_exec_target(cri, r->container_id, r->n_cmd, &err);
    if (!c)
        return reply_err(call, &err);
    if (r->timeout < 0) {
        err_set(&err, -EINVAL, "negative timeout %lld", (long long)r->timeout);
        return reply_err(call, &err);
    }
    struct oci_runtime rt;
    if (cri_runtime_of(cri, c->runtime, &rt, &err) < 0)
        return reply_err(call, &err);
    struct exec_sync *x = xcalloc(1, sizeof(*x));
    x->cri = cri;
    x->call = reactor_grpc_call_ref(call);
    x->cmd = xstrdup(r->cmd[0]);
    x->timeout = r->timeout;
    x->refs = 1; /* ours, until the runtime has been started or failed to */
    uv_timer_init(cri->loop, &x->timer);
    x->timer.data = x;
    x->refs++;
    int fds[3] = {open("/dev/null", O_RDONLY | O_CLOEXEC), -1, -1};
    int rc = exec_pipe(x, &x->out, &fds[1], &err);
    if (rc == 0)
        rc = exec_pipe(x, &x->err, &fds[2], &err);
    if (rc == 0) {
        x->process_path = cri_exec_process_file(c, r->cmd, r->n_cmd, false, &err);
        rc = x->process_path ? 0 : err.code;
    }
    if (rc == 0) {
        x->pid_path = xasprintf("%s.pid", x->process_path);
        struct oci_verb v = {
            .type = OCI_VERB_EXEC,
            .id = c->id,
            .exec = {.process_path = x->process_path, .pid_file = x->pid_path, .detach = true},
        };
        struct oci_runtime_opts o = {.stdio_fds = fds};
        rc = oci_runtime_call(cri->loop, &rt, &v, &o, on_exec_runtime_done, x, NULL, &err);
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (rc < 0) {
        exec_sync_end(x, &err);
        exec_sync_unref(x);
        err_done(&err);
        return;
    }
    reactor_grpc_call_on_cancel(call, on_exec_cancel, x);
    /* 0 means no timeout in the CRI. */
    if (r->timeout > 0)
        uv_timer_start(&x->timer, on_exec_timer, (uint64_t)r->timeout * 1000, 0);
}

/* ---- UpdateContainerResources ---- */

struct update_work {
    struct grpc_call *call;
    struct ctr *c;
    Runtime__V1__LinuxContainerResources *res; /* the new resources, owned */
};

static Runtime__V1__LinuxContainerResources *
copy_resources(const Runtime__V1__LinuxContainerResources *r)
{
    size_t len = protobuf_c_message_get_packed_size(&r->base);
    cleanup_free uint8_t *bytes = xmalloc(len + 1);
    protobuf_c_message_pack(&r->base, bytes);
    return runtime__v1__linux_container_resources__unpack(NULL, len, bytes);
}

static void on_updated(int status, const struct reactor_child_result *res, struct err *err,
                       void *data)
{
    struct update_work *w = data;
    struct ctr *c = w->c;
    if (status < 0 || c->state == CRI_CTR_REMOVED) {
        if (status < 0)
            cri_reply_err(w->call, err);
        else
            reactor_grpc_call_finish(w->call, GRPC_NOT_FOUND, "container was removed");
        protobuf_c_message_free_unpacked(&w->res->base, NULL);
    } else {
        /* The container's config follows: ContainerStatus shows the new values. Sub-messages
         * are freed one by one (protobuf-c frees recursively), so one may be swapped. */
        if (!c->config->linux) {
            c->config->linux = xmalloc(sizeof(*c->config->linux));
            *c->config->linux =
                (Runtime__V1__LinuxContainerConfig)RUNTIME__V1__LINUX_CONTAINER_CONFIG__INIT;
        }
        if (c->config->linux->resources)
            protobuf_c_message_free_unpacked(&c->config->linux->resources->base, NULL);
        c->config->linux->resources = w->res; /* freed with the config */
        cri_ctr_persist(c);
        log_info("container %s: resources updated", c->id);
        Runtime__V1__UpdateContainerResourcesResponse resp =
            RUNTIME__V1__UPDATE_CONTAINER_RESOURCES_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
    }
    reactor_grpc_call_unref(w->call);
    cri_ctr_unref(c);
    free(w);
}

void cri_update_container_resources(struct cri *cri, struct grpc_call *call,
                                    const ProtobufCMessage *req)
{
    const Runtime__V1__UpdateContainerResourcesRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_find(cri, r->container_id);
    if (!c) {
        err_set(&err, -ENOENT, "container `%s` not found", r->container_id);
        return reply_err(call, &err);
    }
    if (!cri_ctr_state_live(c->state)) {
        err_set(&err, -EINVAL, "container %s is not running", c->id);
        return reply_err(call, &err);
    }
    if (!r->linux) {
        err_set(&err, -EINVAL, "no linux resources to update");
        return reply_err(call, &err);
    }
    cJSON *res = oci_spec_resources(r->linux, cri->oom_score_adj_min, cri->cfg->pids_limit);
    cleanup_free char *json = cJSON_PrintUnformatted(res);
    cJSON_Delete(res);
    struct oci_runtime rt;
    if (cri_runtime_of(cri, c->runtime, &rt, &err) < 0)
        return reply_err(call, &err);
    struct update_work *w = xcalloc(1, sizeof(*w));
    w->call = reactor_grpc_call_ref(call);
    w->c = cri_ctr_ref(c);
    w->res = copy_resources(r->linux);
    struct oci_verb v = {.type = OCI_VERB_UPDATE, .id = c->id, .update = {.resources = json}};
    if (oci_runtime_call(cri->loop, &rt, &v, NULL, on_updated, w, NULL, &err) < 0) {
        reactor_grpc_call_unref(w->call);
        protobuf_c_message_free_unpacked(&w->res->base, NULL);
        cri_ctr_unref(c);
        free(w);
        return reply_err(call, &err);
    }
}

/* ---- ReopenContainerLog ---- */

void cri_reopen_container_log(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ReopenContainerLogRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_running(cri, r->container_id, &err);
    if (c && !c->mon)
        err_set(&err, -EINVAL, "container %s is not watched by this daemon", c->id);
    if (!c || !c->mon || monitor_ctr_reopen_log(c->mon, &err) < 0)
        return reply_err(call, &err);
    Runtime__V1__ReopenContainerLogResponse resp = RUNTIME__V1__REOPEN_CONTAINER_LOG_RESPONSE__INIT;
    cri_reply(call, &resp.base);
}
