/* CreateContainer: the rootfs, the runtime spec, the monitor's stdio, then the runtime's
 * `create`; a failure undoes every step done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/id.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "cri/record.h"
#include "image/image.h"
#include "oci/cgroup.h"
#include "storage/storage.h"

struct create_work {
    struct cri *cri;
    struct ctr *c;
    struct grpc_call *call;
    bool rootfs_mounted;
    int pidns_fd; /* a target container's PID namespace, open until `create` returns */
    struct err err;
};

static int write_file(const char *path, const char *text, struct err *err)
{
    /* The bundle lives under the run root: a fast write, inline. */
    int r = fs_write_file(path, text, strlen(text), 0600);
    return r < 0 ? err_set(err, r, "write %s: %s", path, strerror(-r)) : 0;
}

static void close_pidns(struct create_work *w)
{
    if (w->pidns_fd >= 0)
        fs_close_fds(&w->pidns_fd, 1);
}

static void create_cleanup(struct create_work *w)
{
    struct ctr *c = w->c;
    close_pidns(w);
    if (c->mon) {
        monitor_ctr_close(c->mon);
        c->mon = NULL;
    }
    if (w->rootfs_mounted)
        storage_rootfs_remove(w->cri->storage, c->id, c->layers, c->n_layers);
    fs_remove_tree(c->run_dir);
}

static void create_fail(struct create_work *w)
{
    log_error("create container %s in pod %s: %s", w->c->config->metadata->name, w->c->pod_id,
              err_msg(&w->err));
    cri_reply_err(w->call, &w->err);
    LIST_REMOVE(w->cri->creating_ctrs, w->c);
    create_cleanup(w);
    cri_ctr_unref(w->c);
    reactor_grpc_call_unref(w->call);
    err_done(&w->err);
    free(w);
}

static void on_failed_create_deleted(int status, const struct reactor_child_result *res,
                                     struct err *err, void *data)
{
    create_fail(data);
}

static void on_created(int status, const struct reactor_child_result *res, struct err *err,
                       void *data)
{
    struct create_work *w = data;
    struct ctr *c = w->c;
    close_pidns(w); /* the runtime has joined it, or failed */
    if (status == 0) {
        monitor_ctr_created(c->mon);
        cleanup_free char *pidfile = xasprintf("%s/pid", c->run_dir);
        struct buf b = {0};
        status = fs_read_file(pidfile, 64, &b);
        c->pid = status == 0 ? atoi((const char *)b.data) : 0;
        buf_done(&b);
        if (c->pid <= 0)
            status = err_set(&w->err, -EIO, "the runtime left no pid in %s", pidfile);
        else
            status = monitor_ctr_adopt(c->mon, c->pid, &w->err);
        c->pid_start = monitor_proc_start_time(c->pid);
    } else {
        err_set(&w->err, status, "%s", err_msg(err));
    }
    if (status < 0) {
        if (status == -ECANCELED) {
            create_fail(w);
            return;
        }
        /* The runtime may have left its state behind. */
        struct oci_runtime rt;
        struct err e2 = ERR_INIT;
        struct oci_verb v = {.type = OCI_VERB_DELETE, .id = c->id, .del = {.force = true}};
        if (cri_runtime_of(w->cri, c->runtime, &rt, &e2) < 0 ||
            oci_runtime_call(w->cri->loop, &rt, &v, NULL, on_failed_create_deleted, w, NULL, &e2) <
                0)
            create_fail(w);
        err_done(&e2);
        return;
    }
    LIST_REMOVE(w->cri->creating_ctrs, c);
    LIST_PREPEND(w->cri->ctrs, c);
    cri_ctr_created(c);
    Runtime__V1__CreateContainerResponse resp = RUNTIME__V1__CREATE_CONTAINER_RESPONSE__INIT;
    resp.container_id = c->id;
    cri_reply(w->call, &resp.base);
    reactor_grpc_call_unref(w->call);
    err_done(&w->err);
    free(w);
}

/* The PID namespace of t, a running container of pod p, held open as ret_fd: the path handed
 * to the runtime (it takes only a path) is our own fd's, /proc/<cribd>/fd/N, so that a pid
 * reused since cannot redirect the container into another process's namespace. */
static int target_pid_ns(struct pod *p, const char *target_id, struct ctr *t, char *buf, size_t len,
                         int *ret_fd, struct err *err)
{
    if (!t || t->state != CRI_CTR_RUNNING || t->pid <= 0)
        return err_set(err, -ENOENT, "target container `%s` of the PID namespace is not running",
                       target_id);
    if (strcmp(t->pod_id, p->id) != 0)
        return err_set(err, -EINVAL,
                       "target container `%s` of the PID namespace is in pod %s, not in this "
                       "pod (%s)",
                       target_id, t->pod_id, p->id);
    if (monitor_ctr_pid_ns(t->mon, buf, len, ret_fd, err) < 0)
        return err_wrap(err, "target container `%s` of the PID namespace", target_id);
    return 0;
}

/* The PID namespace to join, in ret_path (buf, or NULL for a new one or the node's); ret_host
 * says whether it is the node's. */
static int pid_ns_path(struct cri *cri, struct pod *p, const Runtime__V1__ContainerConfig *cfg,
                       char *buf, size_t len, const char **ret_path, bool *ret_host, int *ret_fd,
                       struct err *err)
{
    const Runtime__V1__NamespaceOption *ns = cfg->linux && cfg->linux->security_context
                                                 ? cfg->linux->security_context->namespace_options
                                                 : NULL;
    *ret_path = NULL;
    *ret_host = p->host_pid;
    switch (ns ? ns->pid : RUNTIME__V1__NAMESPACE_MODE__POD) {
    case RUNTIME__V1__NAMESPACE_MODE__NODE:
        *ret_host = true;
        return 0;
    case RUNTIME__V1__NAMESPACE_MODE__CONTAINER:
        *ret_host = false;
        return 0;
    case RUNTIME__V1__NAMESPACE_MODE__TARGET: {
        *ret_host = false;
        int r = target_pid_ns(p, ns->target_id, cri_ctr_find(cri, ns->target_id), buf, len, ret_fd,
                              err);
        *ret_path = r == 0 ? buf : NULL;
        return r;
    }
    default:
        break;
    }
    if (p->pod_pid && p->infra_pid > 0) {
        snprintf(buf, len, "/proc/%d/ns/pid", p->infra_pid);
        *ret_path = buf;
    }
    return 0;
}

static char *cgroups_path_of(struct cri *cri, struct pod *p, const char *id)
{
    if (strcmp(cri->cfg->cgroup_manager, "systemd") == 0) {
        const char *parent = p->config->linux && *p->config->linux->cgroup_parent
                                 ? p->config->linux->cgroup_parent
                                 : "system.slice";
        return xasprintf("%s:crib:%s", parent, id);
    }
    return xasprintf("%s/crib-%s", *p->cgroup_parent ? p->cgroup_parent : "/crib", id);
}

static char *oom_file_of(const char *cgroups_path)
{
    cleanup_free char *path = oci_cgroup_fs_path(cgroups_path);
    if (!path)
        return NULL;
    if (oci_cgroup_is_v2())
        return xasprintf("/sys/fs/cgroup%s/memory.events", path);
    return xasprintf("/sys/fs/cgroup/memory%s/memory.oom_control", path);
}

static int check_create(struct cri *cri, const Runtime__V1__CreateContainerRequest *r,
                        struct pod **ret_pod, struct err *err)
{
    const Runtime__V1__ContainerConfig *cfg = r->config;
    if (!cfg || !cfg->metadata || !*cfg->metadata->name)
        return err_set(err, -EINVAL, "container config with metadata.name is required");
    if (!cfg->image || !*cfg->image->image)
        return err_set(err, -EINVAL, "container config has no image");
    if (cfg->linux && oci_resources_check(cfg->linux->resources, oci_cgroup_is_v2(), err) < 0)
        return err->code;
    struct pod *p = cri_pod_find(cri, r->pod_sandbox_id);
    if (!p)
        return err_set(err, -ENOENT, "pod sandbox `%s` not found", r->pod_sandbox_id);
    if (p->state != POD_READY)
        return err_set(err, -EINVAL, "pod sandbox %s is not ready", p->id);
    struct ctr *lists[] = {cri->ctrs, cri->creating_ctrs};
    for (size_t i = 0; i < 2; i++)
        for (struct ctr *c = lists[i]; c; c = c->next)
            if (strcmp(c->pod_id, p->id) == 0 &&
                strcmp(c->config->metadata->name, cfg->metadata->name) == 0 &&
                c->config->metadata->attempt == cfg->metadata->attempt)
                return err_set(err, -EEXIST,
                               "container `%s` attempt %u already exists in pod %s as %s",
                               cfg->metadata->name, cfg->metadata->attempt, p->id, c->id);
    *ret_pod = p;
    return 0;
}

/* The pod's namespaces and files a container of it joins and mounts (NULL: none). */
struct pod_paths {
    char *netns, *ipcns, *utsns;
    char *hostname, *hosts, *resolv, *shm;
    char host[256]; /* the pod's hostname, "" if unreadable */
};

static void pod_paths_init(struct pod_paths *pp, const struct pod *p)
{
    *pp = (struct pod_paths){0};
    if (p->pinned & NETWORK_NS_NET)
        pp->netns = xasprintf("%s/ns/net", p->run_dir);
    if (p->pinned & NETWORK_NS_IPC)
        pp->ipcns = xasprintf("%s/ns/ipc", p->run_dir);
    if (p->pinned & NETWORK_NS_UTS)
        pp->utsns = xasprintf("%s/ns/uts", p->run_dir);
    pp->hostname = xasprintf("%s/hostname", p->run_dir);
    pp->hosts = xasprintf("%s/hosts", p->run_dir);
    pp->resolv = xasprintf("%s/resolv.conf", p->run_dir);
    pp->shm = p->shm_mounted ? xasprintf("%s/shm", p->run_dir)
              : p->host_ipc  ? xstrdup("/dev/shm")
                             : NULL;
    struct buf hb = {0};
    if (fs_read_file(pp->hostname, sizeof(pp->host) - 1, &hb) == 0) {
        snprintf(pp->host, sizeof(pp->host), "%s", (const char *)hb.data);
        pp->host[strcspn(pp->host, "\n")] = '\0';
    }
    buf_done(&hb);
}

static void pod_paths_done(struct pod_paths *pp)
{
    free(pp->netns);
    free(pp->ipcns);
    free(pp->utsns);
    free(pp->hostname);
    free(pp->hosts);
    free(pp->resolv);
    free(pp->shm);
}

/* The PID namespace the container joins: path NULL for a new one or the node's (host). */
struct pid_ns {
    char buf[64];
    const char *path;
    bool host;
};

/* The runtime spec of the container in res (its cgroup chosen on the way). */
static int generate_spec(struct create_work *w, struct pod *p, const struct image_record *img,
                         const char *rootfs, const struct pid_ns *pidns,
                         struct oci_spec_result *res)
{
    struct cri *cri = w->cri;
    struct ctr *c = w->c;
    struct pod_paths pp;
    pod_paths_init(&pp, p);
    c->cgroups_path = cgroups_path_of(cri, p, c->id);
    c->oom_file = oom_file_of(c->cgroups_path);
    struct oci_spec_params sp = {
        .id = c->id,
        .pod_id = p->id,
        .config = c->config,
        .pod_config = p->config,
        .image_config = img->config,
        .image_name = c->image_name,
        .rootfs = rootfs,
        .netns_path = pp.netns,
        .ipcns_path = pp.ipcns,
        .utsns_path = pp.utsns,
        .pidns_path = pidns->path,
        .host_pid = pidns->host,
        .hostname_path = pp.hostname,
        .hosts_path = pp.hosts,
        .resolv_path = pp.resolv,
        .shm_path = pp.shm,
        .hostname = pp.host,
        .cgroups_path = c->cgroups_path,
        .oom_score_adj_min = cri->oom_score_adj_min,
        .pids_limit = cri->cfg->pids_limit,
        .lsm = cri->lsm,
        .seccomp_profile_root = cri->cfg->seccomp_profile_root,
        .seccomp = true,
    };
    int r = oci_spec_generate(&sp, res, &w->err);
    pod_paths_done(&pp);
    return r;
}

/* Generate the spec and write it to the bundle's config.json. */
static int write_spec(struct create_work *w, struct pod *p, const struct image_record *img,
                      const char *rootfs, const struct pid_ns *pidns)
{
    struct cri *cri = w->cri;
    struct ctr *c = w->c;
    const Runtime__V1__ContainerConfig *cfg = c->config;
    struct oci_spec_result res = {0};
    int r = generate_spec(w, p, img, rootfs, pidns, &res);
    if (r < 0)
        return r;
    if (res.oom_score_clamped)
        log_info("container %s: oom_score_adj %lld raised to %d, the daemon's own (no "
                 "CAP_SYS_RESOURCE to lower it)",
                 c->config->metadata->name,
                 cfg->linux && cfg->linux->resources
                     ? (long long)cfg->linux->resources->oom_score_adj
                     : 0LL,
                 cri->oom_score_adj_min);
    c->stop_signal = xstrdup(res.stop_signal);
    c->stop_signo = res.stop_signo;
    cleanup_free char *json = cJSON_PrintUnformatted(res.spec);
    oci_spec_result_done(&res);
    cleanup_free char *spec_path = xasprintf("%s/config.json", c->run_dir);
    return write_file(spec_path, json, &w->err);
}

/* Everything `create` needs: the run directory, the rootfs, the PID namespace, config.json and
 * the monitor with the container's stdio. */
static int prepare(struct create_work *w, struct pod *p, const struct image_record *img)
{
    struct cri *cri = w->cri;
    struct ctr *c = w->c;
    int r = fs_mkdir_p(c->run_dir, 0700);
    if (r < 0)
        return err_set(&w->err, r, "run directory %s: %s", c->run_dir, strerror(-r));
    /* For a daemon that finds this directory without a record: whose runtime state to delete. */
    cleanup_free char *handler = xasprintf("%s/handler", c->run_dir);
    r = write_file(handler, c->runtime, &w->err);
    if (r < 0)
        return r;
    cleanup_free char *rootfs = NULL;
    r = storage_rootfs_mount(cri->storage, c->id, c->layers, c->n_layers, &rootfs, &w->err);
    if (r < 0)
        return r;
    w->rootfs_mounted = true;
    struct pid_ns pidns = {0};
    r = pid_ns_path(cri, p, c->config, pidns.buf, sizeof(pidns.buf), &pidns.path, &pidns.host,
                    &w->pidns_fd, &w->err);
    if (r < 0)
        return r;
    r = write_spec(w, p, img, rootfs, &pidns);
    if (r < 0)
        return r;
    struct monitor_ctr_opts mo = cri_ctr_monitor_opts(c, p);
    return monitor_ctr_new(cri->monitor, &mo, &c->mon, &w->err);
}

static void start_create(struct create_work *w)
{
    struct ctr *c = w->c;
    struct oci_runtime rt;
    int r = cri_runtime_of(w->cri, c->runtime, &rt, &w->err);
    if (r < 0) {
        create_fail(w);
        return;
    }
    int fds[3];
    monitor_ctr_stdio(c->mon, fds);
    cleanup_free char *pidfile = xasprintf("%s/pid", c->run_dir);
    cleanup_free char *log = xasprintf("%s/runtime.log", c->run_dir);
    const char *console = monitor_ctr_console_socket(c->mon);
    struct oci_verb v = {
        .type = OCI_VERB_CREATE,
        .id = c->id,
        .create = {.bundle = c->run_dir, .pid_file = pidfile, .console_socket = console},
    };
    struct oci_runtime_opts o = {.stdio_fds = fds, .log_path = log};
    if (oci_runtime_call(w->cri->loop, &rt, &v, &o, on_created, w, NULL, &w->err) < 0)
        create_fail(w);
}

void cri_create_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__CreateContainerRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct pod *p = NULL;
    if (check_create(cri, r, &p, &err) < 0) {
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    const struct image_record *img = image_store_find(cri->images, r->config->image->image, &err);
    if (!img) {
        if (!err.code)
            err_set(&err, -ENOENT, "image `%s` not found", r->config->image->image);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct ctr *c = xcalloc(1, sizeof(*c));
    c->cri = cri;
    c->refs = 1;
    c->state = CRI_CTR_CREATED; /* the first state, entered once the runtime has created it */
    c->id = id_new();
    c->pod_id = xstrdup(p->id);
    c->config = cri_ctr_config_copy(r->config);
    c->created_at = now_unix_ns();
    c->image_id = xstrdup(img->id);
    c->image_ref = xstrdup(img->n_digests ? img->digests[0] : img->id);
    c->image_name = xstrdup(img->n_names ? img->names[0] : r->config->image->image);
    c->layers = xcalloc(img->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < img->n_layers; i++)
        c->layers[i] = xstrdup(img->layers[i]);
    c->n_layers = img->n_layers;
    c->run_dir = xasprintf("%s/%s", cri->ctrs_run, c->id);
    const char *logdir = p->config->log_directory;
    const char *logpath = r->config->log_path;
    c->log_path = *logpath ? logpath[0] == '/' || !*logdir ? xstrdup(logpath)
                                                           : xasprintf("%s/%s", logdir, logpath)
                           : xstrdup("");
    c->runtime = xstrdup(p->handler);
    LIST_PREPEND(cri->creating_ctrs, c);
    struct create_work *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->c = c;
    w->call = reactor_grpc_call_ref(call);
    w->pidns_fd = -1;
    if (prepare(w, p, img) < 0) {
        create_fail(w);
        return;
    }
    start_create(w);
}
