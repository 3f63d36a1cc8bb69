/* Routing of gRPC calls to the CRI handlers, request decoding and the errno → gRPC status map. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/cri-internal.h"
#include "monitor/monitor.h"
#include "image/image.h"
#include "network/network.h"
#include "storage/storage.h"

static const struct {
    const char *path;
    cri_handler_fn fn;
} handlers[] = {
    {"/runtime.v1.RuntimeService/Version", cri_version},
    {"/runtime.v1.RuntimeService/Status", cri_status},
    {"/runtime.v1.RuntimeService/RuntimeConfig", cri_runtime_config},
    {"/runtime.v1.RuntimeService/UpdateRuntimeConfig", cri_update_runtime_config},
    {"/runtime.v1.RuntimeService/GetContainerEvents", cri_get_container_events},
    {"/runtime.v1.RuntimeService/RunPodSandbox", cri_run_pod_sandbox},
    {"/runtime.v1.RuntimeService/StopPodSandbox", cri_stop_pod_sandbox},
    {"/runtime.v1.RuntimeService/RemovePodSandbox", cri_remove_pod_sandbox},
    {"/runtime.v1.RuntimeService/PodSandboxStatus", cri_pod_sandbox_status},
    {"/runtime.v1.RuntimeService/ListPodSandbox", cri_list_pod_sandbox},
    {"/runtime.v1.RuntimeService/CreateContainer", cri_create_container},
    {"/runtime.v1.RuntimeService/StartContainer", cri_start_container},
    {"/runtime.v1.RuntimeService/StopContainer", cri_stop_container},
    {"/runtime.v1.RuntimeService/RemoveContainer", cri_remove_container},
    {"/runtime.v1.RuntimeService/ContainerStatus", cri_container_status},
    {"/runtime.v1.RuntimeService/ListContainers", cri_list_containers},
    {"/runtime.v1.RuntimeService/ExecSync", cri_exec_sync},
    {"/runtime.v1.RuntimeService/Exec", cri_exec},
    {"/runtime.v1.RuntimeService/Attach", cri_attach},
    {"/runtime.v1.RuntimeService/PortForward", cri_port_forward},
    {"/runtime.v1.RuntimeService/UpdateContainerResources", cri_update_container_resources},
    {"/runtime.v1.RuntimeService/ReopenContainerLog", cri_reopen_container_log},
    {"/runtime.v1.RuntimeService/ContainerStats", cri_container_stats},
    {"/runtime.v1.RuntimeService/ListContainerStats", cri_list_container_stats},
    {"/runtime.v1.RuntimeService/PodSandboxStats", cri_pod_sandbox_stats},
    {"/runtime.v1.RuntimeService/ListPodSandboxStats", cri_list_pod_sandbox_stats},
    {"/runtime.v1.RuntimeService/StreamContainerStats", cri_stream_container_stats},
    {"/runtime.v1.RuntimeService/StreamPodSandboxStats", cri_stream_pod_sandbox_stats},
    {"/runtime.v1.RuntimeService/ListMetricDescriptors", cri_list_metric_descriptors},
    {"/runtime.v1.RuntimeService/ListPodSandboxMetrics", cri_list_pod_sandbox_metrics},
    {"/runtime.v1.RuntimeService/StreamPodSandboxMetrics", cri_stream_pod_sandbox_metrics},
    {"/runtime.v1.ImageService/ImageStatus", cri_image_status},
    {"/runtime.v1.ImageService/ListImages", cri_list_images},
    {"/runtime.v1.ImageService/RemoveImage", cri_remove_image},
    {"/runtime.v1.ImageService/PullImage", cri_pull_image},
    {"/runtime.v1.ImageService/ImageFsInfo", cri_image_fs_info},
};

static const ProtobufCServiceDescriptor *const services[] = {
    &runtime__v1__runtime_service__descriptor,
    &runtime__v1__image_service__descriptor,
};

/* Find the method of "/package.Service/Method". */
static const ProtobufCMethodDescriptor *find_method(const char *path)
{
    if (path[0] != '/')
        return NULL;
    const char *slash = strchr(path + 1, '/');
    if (!slash)
        return NULL;
    size_t svc_len = (size_t)(slash - path - 1);
    for (size_t i = 0; i < ARRAY_SIZE(services); i++) {
        const ProtobufCServiceDescriptor *s = services[i];
        if (strlen(s->name) != svc_len || memcmp(s->name, path + 1, svc_len) != 0)
            continue;
        for (unsigned m = 0; m < s->n_methods; m++)
            if (strcmp(s->methods[m].name, slash + 1) == 0)
                return &s->methods[m];
    }
    return NULL;
}

enum grpc_status cri_status_from_errno(int code)
{
    switch (code) {
    case 0:
        return GRPC_OK;
    case -ENOENT:
        return GRPC_NOT_FOUND;
    case -EINVAL:
        return GRPC_INVALID_ARGUMENT;
    case -EEXIST:
        return GRPC_ALREADY_EXISTS;
    case -ECANCELED:
        return GRPC_CANCELLED;
    case -ETIMEDOUT:
        return GRPC_DEADLINE_EXCEEDED;
    case -ENOSYS:
        return GRPC_UNIMPLEMENTED;
    case -EMSGSIZE:
    case -EFBIG:
    case -ENOSPC:
        return GRPC_RESOURCE_EXHAUSTED;
    case -EBUSY:
    case -EOPNOTSUPP: /* the host lacks what was asked for (an LSM) */
        return GRPC_FAILED_PRECONDITION;
    case -EPERM:
        return GRPC_PERMISSION_DENIED;
    case -EACCES:
        return GRPC_UNAUTHENTICATED;
    default:
        return GRPC_INTERNAL;
    }
}

void cri_reply(struct grpc_call *call, const ProtobufCMessage *resp)
{
    size_t len = protobuf_c_message_get_packed_size(resp);
    cleanup_free uint8_t *bytes = xmalloc(len);
    protobuf_c_message_pack(resp, bytes);
    if (reactor_grpc_call_send(call, bytes, len) == 0)
        reactor_grpc_call_finish(call, GRPC_OK, NULL);
}

void cri_free_map(void **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
}

void cri_reply_err(struct grpc_call *call, const struct err *err)
{
    enum grpc_status st = cri_status_from_errno(err->code);
    if (st == GRPC_INTERNAL)
        log_error("%s: %s", reactor_grpc_call_path(call), err_msg(err));
    else
        log_debug("%s: %s", reactor_grpc_call_path(call), err_msg(err));
    reactor_grpc_call_finish(call, st, err_msg(err));
}

static void on_grpc_call(void *data, struct grpc_call *call, const char *path, const uint8_t *msg,
                         size_t len)
{
    struct cri *cri = data;
    const ProtobufCMethodDescriptor *method = find_method(path);
    char m[1200];
    if (!method) {
        snprintf(m, sizeof(m), "unknown method %s", path);
        reactor_grpc_call_finish(call, GRPC_UNIMPLEMENTED, m);
        return;
    }
    cri_handler_fn fn = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
        if (strcmp(handlers[i].path, path) == 0)
            fn = handlers[i].fn;
    if (!fn) {
        snprintf(m, sizeof(m), "method %s is not implemented by crib", path);
        reactor_grpc_call_finish(call, GRPC_UNIMPLEMENTED, m);
        return;
    }
    ProtobufCMessage *req = protobuf_c_message_unpack(method->input, NULL, len, msg);
    if (!req) {
        snprintf(m, sizeof(m), "malformed request: cannot decode %s", method->input->name);
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT, m);
        return;
    }
    log_trace("call %s", path);
    fn(cri, call, req);
    protobuf_c_message_free_unpacked(req, NULL);
}

const struct reactor_server_ops cri_server_ops = {
    .grpc_call = on_grpc_call,
    .http_request = cri_http_request,
    .grpc_done = cri_prometheus_call_done,
};

size_t cri_method_count(void)
{
    return ARRAY_SIZE(handlers);
}

const char *cri_method_path(size_t i)
{
    return handlers[i].path;
}

int cri_method_index(const char *path)
{
    for (size_t i = 0; i < ARRAY_SIZE(handlers); i++)
        if (strcmp(handlers[i].path, path) == 0)
            return (int)i;
    return -1;
}

static int start_storage(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    struct storage_opts so = {.allow_devices = cfg->allow_device_nodes,
                              .max_layer_size = (uint64_t)cfg->max_image_size,
                              .min_free = (uint64_t)cfg->min_free_space};
    return storage_new(cri->loop, cfg->root, &so, &cri->storage, err);
}

static int start_images(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    struct image_service_opts io = {
        .root = cfg->root,
        .registries_conf = cfg->registries_conf,
        .certs_dir = cfg->certs_dir,
        .global_auth_file = cfg->global_auth_file,
        .signature_policy = cfg->signature_policy,
        .pull_progress_timeout = (long)cfg->pull_progress_timeout,
        .max_parallel_downloads = (unsigned)cfg->max_parallel_downloads,
        .max_image_size = (uint64_t)cfg->max_image_size,
    };
    return image_service_new(cri->loop, cri->storage, &io, &cri->images, err);
}

static int start_network(struct cri *cri)
{
    const struct config *cfg = cri->cfg;
    struct network_opts no = {
        .conf_dir = cfg->network_dir,
        .plugin_dirs = cfg->plugin_dirs,
        .n_plugin_dirs = cfg->n_plugin_dirs,
        .default_network = cfg->cni_default_network,
    };
    return network_new(cri->loop, &no, &cri->network);
}

static int load_pods(struct cri *cri, struct err *err)
{
    cri->self_exe = fs_self_exe();
    cri->pod_writes = reactor_fileq_new(cri->loop);
    cri->pods_dir = xasprintf("%s/pods", cri->cfg->root);
    cri->pods_run = xasprintf("%s/pods", cri->cfg->runroot);
    int r = cri_pods_load(cri, err);
    if (r == 0)
        cri_pods_check(cri);
    if (r == 0)
        cri_pods_undo_unfinished(cri);
    return r;
}

static int start_monitor(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    struct monitor_opts mo = {
        .log_to_journald = cfg->log_to_journald,
        .journald_socket = cfg->journald_socket,
        .log_size_max = cfg->log_size_max,
        .pids = cri->pids,
        .keeper = cri->keeper,
    };
    return monitor_new(cri->loop, &mo, &cri->monitor, err);
}

static int load_containers(struct cri *cri, struct err *err)
{
    cri->oom_score_adj_min = oci_oom_score_adj_self();
    oci_lsm_detect(&cri->lsm);
    cri->ctr_writes = reactor_fileq_new(cri->loop);
    cri->ctrs_dir = xasprintf("%s/containers", cri->cfg->root);
    cri->ctrs_run = xasprintf("%s/containers", cri->cfg->runroot);
    int r = cri_ctrs_load(cri, err);
    if (r == 0)
        cri_ctrs_undo_unfinished(cri);
    /* Images and containers hold their layers now: the rest can go. */
    if (r == 0)
        storage_prune(cri->storage);
    return r;
}

int cri_new(uv_loop_t *loop, const struct config *cfg, struct reactor_keeper *keeper,
            struct cri **ret, struct err *err)
{
    struct cri *cri = xcalloc(1, sizeof(*cri));
    cri->loop = loop;
    cri->keeper = keeper;
    cri->pids = reactor_pids_new(loop);
    reactor_pids_set_keeper(cri->pids, keeper);
    cri->cfg = cfg;
    int r = start_storage(cri, err);
    if (r == 0)
        r = start_images(cri, err);
    if (r == 0)
        r = start_network(cri);
    if (r == 0)
        r = load_pods(cri, err);
    if (r == 0)
        r = start_monitor(cri, err);
    if (r == 0)
        r = load_containers(cri, err);
    if (r == 0)
        r = cri_stream_start(cri, err);
    if (r == 0)
        r = cri_prometheus_start(cri, err);
    if (r < 0) {
        cri_free(cri);
        return r;
    }
    *ret = cri;
    return 0;
}

void cri_set_server(struct cri *cri, struct reactor_server *srv)
{
    cri->srv = srv;
}

void cri_shutdown(struct cri *cri)
{
    cri->shutting_down = true;
    if (cri->monitor)
        monitor_shutdown(cri->monitor);
    cri_events_shutdown(cri);
    cri_stream_stop(cri);
    cri_prometheus_stop(cri);
    image_service_shutdown(cri->images);
    cri_ctrs_shutdown(cri);
    cri_pods_shutdown(cri);
    reactor_pids_close(cri->pids);
    network_shutdown(cri->network);
}

void cri_free(struct cri *cri)
{
    if (!cri)
        return;
    if (cri->monitor)
        monitor_shutdown(cri->monitor); /* a start that failed drops nothing the keeper holds */
    image_service_free(cri->images);
    storage_free(cri->storage);
    cri_ctrs_free(cri);
    cri_pods_free(cri);
    network_free(cri->network);
    monitor_free(cri->monitor);
    reactor_pids_free(cri->pids);
    reactor_fileq_free(cri->pod_writes);
    reactor_fileq_free(cri->ctr_writes);
    free(cri->ctrs_dir);
    free(cri->ctrs_run);
    free(cri->pods_dir);
    free(cri->pods_run);
    free(cri->self_exe);
    free(cri->pod_cidr);
    cri_prometheus_free(cri);
    free(cri);
}
