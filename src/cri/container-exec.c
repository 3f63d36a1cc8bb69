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
#include "oci/cgroup.h"

/* ExecSync returns at most this much of stdout and of stderr; the rest is dropped. Both together
 * must also fit in one response under grpc_max_send_msg_size. */
#define EXEC_SYNC_OUTPUT_MAX (16u << 20)
#define EXEC_SYNC_RESPONSE_SLACK 1024 /* the response's own fields */

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

/* The command's output is read until EOF, or for drain_exec_io_timeout once it has exited, as
 * containerd's drain_exec_sync_io_timeout: anything it left running in the background may hold
 * its output open. */
struct exec_out {
    uv_pipe_t pipe;
    struct buf data;
    bool open;
    struct exec_sync *x;
};

struct exec_sync {
    struct cri *cri;
    struct grpc_call *call;     /* NULL once answered */
    struct oci_exec_proc *proc; /* NULL once answered */
    char *cmd;
    int64_t timeout;
    struct exec_out out, err;
    uv_timer_t timer; /* the command's timeout, then the drain after its exit */
    int refs;         /* ours until answered, and each open handle */
    bool exited;
    int exit_code;
};

static void exec_sync_unref(struct exec_sync *x)
{
    if (--x->refs > 0)
        return;
    buf_done(&x->out.data);
    buf_done(&x->err.data);
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
    if (x->proc) {
        oci_exec_proc_kill(x->proc); /* nothing when it has ended */
        oci_exec_proc_release(TAKE_PTR(x->proc));
        exec_sync_unref(x);
    }
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

static void exec_sync_exited(struct exec_sync *x, int exit_code)
{
    x->exited = true;
    x->exit_code = exit_code;
    if (!uv_is_closing((uv_handle_t *)&x->timer))
        uv_timer_start(&x->timer, on_exec_timer,
                       (uint64_t)x->cri->cfg->drain_exec_io_timeout * 1000, 0);
    exec_sync_maybe_done(x);
}

static void on_exec_exited(struct oci_exec_proc *p, const struct reactor_pid_exit *e, void *data)
{
    exec_sync_exited(data, e->exit_code);
}

static void on_exec_started(struct oci_exec_proc *p, int status, const struct oci_exec_started *s,
                            struct err *err, void *data)
{
    struct exec_sync *x = data;
    if (status < 0)
        exec_sync_end(x, err);
    else if (s->pid == 0)
        /* The runtime could not start the command: its message is on our stderr pipe, and the
         * answer carries it with the runtime's exit status, as an attached exec did. */
        exec_sync_exited(x, s->runtime_status);
}

static void on_exec_cancel(struct grpc_call *call, void *data)
{
    struct exec_sync *x = data;
    reactor_grpc_call_unref(x->call);
    x->call = NULL;
    exec_sync_end(x, NULL);
}

static int exec_pipe(struct exec_sync *x, struct exec_out *o, int fd, struct err *err)
{
    o->x = x;
    uv_pipe_init(x->cri->loop, &o->pipe, 0);
    o->pipe.data = x;
    o->open = true;
    x->refs++;
    if (uv_pipe_open(&o->pipe, fd) < 0) {
        fs_close_fds(&fd, 1);
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
    x->cmd = xstrdup(r->cmd[0]);
    x->timeout = r->timeout;
    x->refs = 1; /* the timer's */
    uv_timer_init(cri->loop, &x->timer);
    x->timer.data = x;
    struct oci_exec_opts o = {
        .id = c->id,
        .run_dir = c->run_dir,
        .cmd = r->cmd,
        .n_cmd = r->n_cmd,
        .pipes = {false, true, true},
        .pids = cri->pids,
        .started = on_exec_started,
        .exited = on_exec_exited,
        .data = x,
    };
    int fds[3];
    if (oci_exec_proc_start(cri->loop, &rt, &o, fds, &x->proc, &err) < 0) {
        uv_close((uv_handle_t *)&x->timer, on_exec_handle_closed);
        return reply_err(call, &err);
    }
    x->refs++; /* until the answer */
    x->call = reactor_grpc_call_ref(call);
    int rc = exec_pipe(x, &x->out, fds[1], &err);
    if (rc == 0)
        rc = exec_pipe(x, &x->err, fds[2], &err);
    else
        fs_close_fds(&fds[2], 1);
    if (rc < 0) {
        exec_sync_end(x, &err);
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
    if (oci_resources_check(r->linux, oci_cgroup_is_v2(), &err) < 0)
        return reply_err(call, &err);
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
