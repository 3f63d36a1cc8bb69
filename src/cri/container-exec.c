/* Calls on a running container: ExecSync, UpdateContainerResources, ReopenContainerLog. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"

/* ExecSync returns at most this much of stdout and of stderr; the rest is dropped. */
#define EXEC_SYNC_OUTPUT_MAX (16u << 20)
#define SPEC_MAX (4u << 20)

struct ctr *cri_ctr_running(struct cri *cri, const char *id, struct err *err)
{
    struct ctr *c = cri_ctr_find(cri, id);
    if (!c) {
        err_set(err, -ENOENT, "container `%s` not found", id);
        return NULL;
    }
    if (c->state != CTR_RUNNING) {
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

/* ---- ExecSync ---- */

struct exec_work {
    struct grpc_call *call;
    char *process_path;
    char *cmd;
    int64_t timeout;
};

static void on_exec_done(int status, const struct reactor_child_result *res, struct err *err,
                         void *data)
{
    struct exec_work *w = data;
    unlink(w->process_path);
    if (status == -ETIMEDOUT) {
        struct err e = ERR_INIT;
        err_set(&e, -ETIMEDOUT, "command `%s` timed out after %llds", w->cmd,
                (long long)w->timeout);
        reply_err(w->call, &e);
    } else if (status < 0) {
        cri_reply_err(w->call, err);
    } else {
        Runtime__V1__ExecSyncResponse resp = RUNTIME__V1__EXEC_SYNC_RESPONSE__INIT;
        resp.stdout.data = (uint8_t *)res->out;
        resp.stdout.len = res->out_len;
        resp.stderr.data = (uint8_t *)res->err_out;
        resp.stderr.len = res->err_len;
        resp.exit_code = res->term_signal ? 128 + res->term_signal : (int32_t)res->exit_status;
        cri_reply(w->call, &resp.base);
    }
    grpc_call_unref(w->call);
    free(w->process_path);
    free(w->cmd);
    free(w);
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
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    size_t len = strlen(proc);
    if (fd < 0 || write(fd, proc, len) != (ssize_t)len) {
        err_set(err, -errno, "write %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        unlink(path);
        free(path);
        return NULL;
    }
    close(fd);
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
    struct exec_work *w = xcalloc(1, sizeof(*w));
    w->process_path = cri_exec_process_file(c, r->cmd, r->n_cmd, false, &err);
    if (!w->process_path)
        goto fail;
    w->cmd = xstrdup(r->cmd[0]);
    w->timeout = r->timeout;
    struct oci_runtime rt;
    if (cri_runtime_of(cri, c->runtime, &rt, &err) < 0)
        goto fail;
    char *args[] = {"exec", "--process", w->process_path, c->id, NULL};
    struct oci_runtime_opts o = {
        .out_max = EXEC_SYNC_OUTPUT_MAX,
        /* 0 means no timeout in the CRI; the runtime's own limit does not apply to the command. */
        .timeout_ms = r->timeout > 0 ? (uint64_t)r->timeout * 1000 : UINT64_MAX / 2,
        .any_exit = true,
    };
    w->call = grpc_call_ref(call);
    if (oci_runtime_run(cri->loop, &rt, args, &o, on_exec_done, w, NULL, &err) < 0) {
        grpc_call_unref(w->call);
        goto fail;
    }
    return;
fail:
    if (w->process_path)
        unlink(w->process_path);
    free(w->process_path);
    free(w->cmd);
    free(w);
    reply_err(call, &err);
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
    if (status < 0 || c->removed) {
        if (status < 0)
            cri_reply_err(w->call, err);
        else
            grpc_call_finish(w->call, GRPC_NOT_FOUND, "container was removed");
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
    grpc_call_unref(w->call);
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
    if (c->state != CTR_RUNNING && c->state != CTR_CREATED) {
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
    w->call = grpc_call_ref(call);
    w->c = cri_ctr_ref(c);
    w->res = copy_resources(r->linux);
    char *args[] = {"update", "--resources", "-", c->id, NULL};
    struct oci_runtime_opts o = {.stdin_data = json, .stdin_len = strlen(json)};
    if (oci_runtime_run(cri->loop, &rt, args, &o, on_updated, w, NULL, &err) < 0) {
        grpc_call_unref(w->call);
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
