/* RunPodSandbox, StopPodSandbox, RemovePodSandbox: pods with pinned namespaces, CNI networking,
 * pod files (network/pod-files.c), persisted records; operations on one pod run one at a time,
 * different pods concurrently. PodSandboxStatus and ListPodSandbox are in pod-status.c. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/id.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"
#include "cri/pod.h"
#include "cri/record.h"
#include "oci/cgroup.h"

enum pod_op { OP_STOP, OP_REMOVE };

/* An operation in flight on one pod. */
struct pod_work {
    struct cri *cri;
    struct pod *pod;
    struct grpc_call *call;
    enum pod_op op; /* for stop/remove */
    bool creating;  /* RunPodSandbox */
    struct err err;
};

/* ---- the pod object ---- */

void cri_pod_free(struct pod *p)
{
    if (!p)
        return;
    reactor_pid_forget(p->infra_watch);
    free(p->id);
    free(p->handler);
    if (p->config)
        protobuf_c_message_free_unpacked(&p->config->base, NULL);
    free(p->config_b64);
    free(p->run_dir);
    network_attachment_done(&p->att);
    free(p->cgroup_parent);
    free(p->stats_cache);
    for (size_t i = 0; i < p->n_cgroups_created; i++)
        free(p->cgroups_created[i]);
    free(p->cgroups_created);
    free(p);
}

/* ---- lookup ---- */

struct pod *cri_pod_find(struct cri *cri, const char *id)
{
    size_t n = strlen(id);
    if (n == 0)
        return NULL;
    struct pod *found = NULL;
    for (struct pod *p = cri->pods; p; p = p->next) {
        if (strcmp(p->id, id) == 0)
            return p;
        if (strncmp(p->id, id, n) == 0) {
            if (found)
                return NULL; /* an ambiguous prefix finds nothing */
            found = p;
        }
    }
    return found;
}

/* ---- pod files (network/pod-files.c) ---- */

static const char *pod_hostname(const struct pod *p, char *buf, size_t len)
{
    return network_pod_files_hostname(p->host_network, p->config->hostname, buf, len);
}

static int write_pod_files(struct pod *p, struct err *err)
{
    char host[256];
    const Runtime__V1__DNSConfig *d = p->config->dns_config;
    struct network_dns dns = {0};
    if (d)
        dns = (struct network_dns){d->servers,    d->n_servers, d->searches,
                                   d->n_searches, d->options,   d->n_options};
    return network_pod_files_write(p->run_dir, pod_hostname(p, host, sizeof(host)), p->att.ips,
                                   p->att.n_ips, d ? &dns : NULL, err);
}

static int mount_shm(struct pod *p, struct err *err)
{
    int r = network_pod_files_mount_shm(p->run_dir, err);
    if (r == 0)
        p->shm_mounted = true;
    return r;
}

static void on_infra_exit(const struct reactor_pid_exit *e, void *data)
{
    struct pod *p = data;
    p->infra_watch = NULL;
    log_warn("pod %s: its infra process %d ended", p->id, p->infra_pid);
    p->infra_pid = 0;
}

static void watch_infra(struct cri *cri, struct pod *p)
{
    if (p->infra_pid > 0 &&
        reactor_pid_watch(cri->pids, p->infra_pid, on_infra_exit, p, &p->infra_watch) < 0)
        p->infra_watch = NULL; /* gone already: found out when the pod is next used */
}

/* Stop the infra process, if the pid is still that process (not a recycled pid). */
static void kill_infra(struct pod *p)
{
    reactor_pid_forget(TAKE_PTR(p->infra_watch));
    if (p->infra_pid <= 0)
        return;
    network_infra_kill(p->infra_pid);
    p->infra_pid = 0;
}

static void unmount_shm(struct pod *p)
{
    struct err e = ERR_INIT;
    if (p->shm_mounted && network_pod_files_unmount_shm(p->run_dir, &e) < 0)
        log_warn("pod %s: %s", p->id, err_msg(&e));
    err_done(&e);
    p->shm_mounted = false;
}

/* Remove the pod's run directory: a handful of small files, inline. */
static void remove_run_dir(struct pod *p)
{
    struct err e = ERR_INIT;
    cleanup_free char *cgroups = xasprintf("%s/cgroups", p->run_dir);
    unlink(cgroups); /* the journal of make_cgroup_parent */
    if (network_pod_files_remove(p->run_dir, &e) < 0)
        log_warn("pod %s: %s", p->id, err_msg(&e));
    err_done(&e);
}

/* A bandwidth annotation ("10M", "1Gi", "500k"): bits per second, 0 when absent or bad. */
static int64_t bandwidth(const Runtime__V1__PodSandboxConfig *c, const char *key)
{
    for (size_t i = 0; i < c->n_annotations; i++) {
        if (strcmp(c->annotations[i]->key, key) != 0)
            continue;
        char *end;
        double v = strtod(c->annotations[i]->value, &end);
        static const struct {
            const char *suffix;
            double mult;
        } units[] = {{"", 1},           {"k", 1e3},           {"M", 1e6},
                     {"G", 1e9},        {"T", 1e12},          {"Ki", 1024.0},
                     {"Mi", 1048576.0}, {"Gi", 1073741824.0}, {"Ti", 1099511627776.0}};
        for (size_t u = 0; u < ARRAY_SIZE(units); u++)
            if (strcmp(end, units[u].suffix) == 0 && v > 0 && v * units[u].mult < 9e18)
                return (int64_t)(v * units[u].mult);
        log_warn("pod annotation %s=`%s` is not a bandwidth: ignored", key,
                 c->annotations[i]->value);
    }
    return 0;
}

static struct network_pod net_pod(struct pod *p, struct network_port *ports, char *netns,
                                  const char *cidr)
{
    const Runtime__V1__PodSandboxConfig *c = p->config;
    static const char *const protos[] = {"tcp", "udp", "sctp"};
    for (size_t i = 0; i < c->n_port_mappings; i++) {
        const Runtime__V1__PortMapping *m = c->port_mappings[i];
        ports[i] = (struct network_port){m->host_port, m->container_port,
                                         protos[(unsigned)m->protocol < 3 ? m->protocol : 0],
                                         m->host_ip && *m->host_ip ? m->host_ip : NULL};
    }
    return (struct network_pod){
        .id = p->id,
        .netns = netns,
        .name = c->metadata->name,
        .namespace_ = c->metadata->namespace_,
        .uid = c->metadata->uid,
        .ports = ports,
        .n_ports = c->n_port_mappings,
        .pod_cidr = cidr,
        .ingress_rate = bandwidth(c, "kubernetes.io/ingress-bandwidth"),
        .egress_rate = bandwidth(c, "kubernetes.io/egress-bandwidth"),
    };
}

/* ---- persistence ---- */

static void on_pod_written(int status, const char *path, void *data)
{
    if (status < 0)
        log_error("pod record %s: %s", path, strerror(-status));
}

static void persist(struct cri *cri, struct pod *p, reactor_fileq_cb cb, void *data)
{
    cleanup_free char *path = cri_pod_record_path(cri, p->id);
    reactor_fileq_put(cri->pod_writes, path, cri_pod_record_format(p), cb ? cb : on_pod_written,
                      data);
}

/* ---- RunPodSandbox ---- */

static void work_free(struct pod_work *w)
{
    err_done(&w->err);
    reactor_grpc_call_unref(w->call);
    free(w);
}

static void run_failed_cleanup_done(struct pod_work *w)
{
    struct pod *p = w->pod;
    struct err e = ERR_INIT;
    kill_infra(p);
    unmount_shm(p);
    if (p->pinned) {
        cleanup_free char *nsdir = xasprintf("%s/ns", p->run_dir);
        network_ns_unpin(nsdir, &e);
        err_done(&e);
    }
    remove_run_dir(p);
    oci_cgroup_remove(TAKE_PTR(p->cgroups_created), p->n_cgroups_created);
    p->n_cgroups_created = 0;
    log_warn("RunPodSandbox %s/%s: %s", p->config->metadata->namespace_, p->config->metadata->name,
             err_msg(&w->err));
    cri_reply_err(w->call, &w->err);
    LIST_REMOVE(w->cri->creating, p);
    cri_pod_free(p);
    work_free(w);
}

static void on_run_undone(int status, struct err *err, void *data)
{
    struct pod_work *w = data;
    if (status < 0)
        log_warn("pod %s: undo network: %s", w->pod->id, err_msg(err));
    run_failed_cleanup_done(w);
}

static void run_fail(struct pod_work *w)
{
    struct pod *p = w->pod;
    if (p->network_added) {
        cleanup_free struct network_port *ports =
            xcalloc(p->config->n_port_mappings + 1, sizeof(*ports));
        cleanup_free char *netns = xasprintf("%s/ns/net", p->run_dir);
        struct network_pod np = net_pod(p, ports, netns, w->cri->pod_cidr);
        p->network_added = false;
        network_del(w->cri->network, &np, &p->att, on_run_undone, w);
        return;
    }
    run_failed_cleanup_done(w);
}

static void on_run_persisted(int status, const char *path, void *data)
{
    struct pod_work *w = data;
    struct pod *p = w->pod;
    if (status < 0) {
        err_set(&w->err, status, "record pod: %s", strerror(-status));
        run_fail(w);
        return;
    }
    LIST_REMOVE(w->cri->creating, p);
    LIST_PREPEND(w->cri->pods, p);
    log_info("pod %s/%s ready as %s%s%s", p->config->metadata->namespace_,
             p->config->metadata->name, p->id, p->att.n_ips ? " with IP " : "",
             p->att.n_ips ? p->att.ips[0] : "");
    cri_events_publish(w->cri, p->id, p,
                       RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT);
    cri_events_publish(w->cri, p->id, p,
                       RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT);
    Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
    resp.pod_sandbox_id = p->id;
    cri_reply(w->call, &resp.base);
    cri_opqueue_done(&p->ops, p); /* RunPodSandbox had it from pod_new */
    work_free(w);
}

static void run_finish(struct pod_work *w)
{
    struct pod *p = w->pod;
    if (write_pod_files(p, &w->err) < 0 || (!p->host_ipc && mount_shm(p, &w->err) < 0)) {
        run_fail(w);
        return;
    }
    p->state = POD_READY;
    persist(w->cri, p, on_run_persisted, w);
}

static void on_network_added(int status, struct network_attachment *att, struct err *err,
                             void *data)
{
    struct pod_work *w = data;
    if (status < 0) {
        err_set(&w->err, status, "%s", err_msg(err));
        run_fail(w);
        return;
    }
    w->pod->att = *att;
    memset(att, 0, sizeof(*att)); /* taken */
    w->pod->network_added = true;
    run_finish(w);
}

static void start_network(struct pod_work *w);

static void on_infra(int status, int pid, struct err *err, void *data)
{
    struct pod_work *w = data;
    if (status < 0) {
        err_set(&w->err, status, "%s", err_msg(err));
        run_fail(w);
        return;
    }
    w->pod->infra_pid = pid;
    watch_infra(w->cri, w->pod);
    start_network(w);
}

static void on_pinned(int status, struct err *err, void *data)
{
    struct pod_work *w = data;
    struct pod *p = w->pod;
    if (status < 0) {
        err_set(&w->err, status, "%s", err_msg(err));
        p->pinned = 0;
        run_fail(w);
        return;
    }
    if (p->pod_pid) {
        cleanup_free char *nsdir = xasprintf("%s/ns", p->run_dir);
        int r = network_infra_start(w->cri->loop, w->cri->self_exe, nsdir, on_infra, w);
        if (r < 0) {
            err_set(&w->err, r, "start the infra process: %s", uv_strerror(r));
            run_fail(w);
        }
        return;
    }
    start_network(w);
}

static void start_network(struct pod_work *w)
{
    struct pod *p = w->pod;
    if (p->host_network) {
        run_finish(w);
        return;
    }
    cleanup_free struct network_port *ports =
        xcalloc(p->config->n_port_mappings + 1, sizeof(*ports));
    cleanup_free char *netns = xasprintf("%s/ns/net", p->run_dir);
    struct network_pod np = net_pod(p, ports, netns, w->cri->pod_cidr);
    network_add(w->cri->network, &np, on_network_added, w);
}

static int check_config(struct cri *cri, const Runtime__V1__RunPodSandboxRequest *r,
                        const struct config_runtime **ret_rt, struct err *err)
{
    const Runtime__V1__PodSandboxConfig *c = r->config;
    if (!c || !c->metadata || !*c->metadata->name || !*c->metadata->namespace_ ||
        !*c->metadata->uid)
        return err_set(err, -EINVAL,
                       "RunPodSandbox needs metadata with a name, a namespace and "
                       "a uid");
    if (c->hostname && strlen(c->hostname) > 64)
        return err_set(err, -EINVAL, "hostname `%s` is longer than 64 characters", c->hostname);
    const char *handler = *r->runtime_handler ? r->runtime_handler : cri->cfg->default_runtime;
    *ret_rt = config_runtime_find(cri->cfg, handler);
    if (!*ret_rt) {
        struct buf known = {0};
        for (size_t i = 0; i < cri->cfg->n_runtimes; i++)
            buf_printf(&known, "%s%s", i ? ", " : "", cri->cfg->runtimes[i].name);
        buf_append(&known, "", 0);
        int rc = err_set(err, -EINVAL, "unknown runtime handler `%s` (known: %s)", handler,
                         (char *)known.data);
        buf_done(&known);
        return rc;
    }
    const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
    if (l && *l->cgroup_parent) {
        cleanup_free char *path = NULL;
        int rc = oci_cgroup_parent_path(cri->cfg->cgroup_manager, l->cgroup_parent, &path, err);
        if (rc < 0)
            return rc;
    }
    const Runtime__V1__NamespaceOption *ns =
        l && l->security_context ? l->security_context->namespace_options : NULL;
    bool host_net = ns && ns->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    bool host_ipc = ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    for (size_t i = 0; l && i < l->n_sysctls; i++) {
        int rc = network_sysctl_check(l->sysctls[i]->key, host_net, host_ipc, err);
        if (rc < 0)
            return rc;
    }
    int rc = oci_lsm_check_sandbox(&cri->lsm, l ? l->security_context : NULL, err);
    if (rc < 0)
        return rc;
    for (const struct pod *p = cri->pods; p; p = p->next) {
        const Runtime__V1__PodSandboxMetadata *m = p->config->metadata;
        if (strcmp(m->name, c->metadata->name) == 0 &&
            strcmp(m->namespace_, c->metadata->namespace_) == 0 &&
            strcmp(m->uid, c->metadata->uid) == 0 && m->attempt == c->metadata->attempt)
            return err_set(err, -EEXIST, "pod %s/%s (uid %s, attempt %u) exists already as %s",
                           m->namespace_, m->name, m->uid, m->attempt, p->id);
    }
    return 0;
}

/* A pod for the request, not ready, owning a copy of its config. */
static struct pod *pod_new(struct cri *cri, const Runtime__V1__RunPodSandboxRequest *r,
                           const struct config_runtime *rt)
{
    struct pod *p = xcalloc(1, sizeof(*p));
    p->id = id_new();
    p->created_at = now_unix_ns();
    p->state = POD_NOTREADY;
    p->handler = xstrdup(rt->name);
    p->config = cri_pod_config_copy(r->config, &p->config_b64);
    p->run_dir = xasprintf("%s/%s", cri->pods_run, p->id);
    p->cri = cri;
    cri_opqueue_take(&p->ops); /* until RunPodSandbox is done */
    cri_pod_namespaces_read(p);
    return p;
}

/* The pod's cgroup parent, made where missing (and removed with the pod) by the cgroupfs driver. */
static int make_cgroup_parent(struct cri *cri, struct pod *p, struct err *err)
{
    const char *cgp = p->config->linux ? p->config->linux->cgroup_parent : "";
    p->cgroup_parent = xstrdup("");
    if (!*cgp)
        return 0;
    free(p->cgroup_parent);
    p->cgroup_parent = NULL;
    int rc = oci_cgroup_parent_path(cri->cfg->cgroup_manager, cgp, &p->cgroup_parent, err);
    /* systemd's slices are its own: it makes one when the first scope goes in it (runc asks for
     * each container's over D-Bus), and drops it once empty. */
    if (rc == 0 && strcmp(cri->cfg->cgroup_manager, "systemd") != 0) {
        /* Named in the run directory first, for an undo if the daemon dies before the record. */
        cleanup_free char *journal = xasprintf("%s/cgroups", p->run_dir);
        rc = oci_cgroup_ensure(p->cgroup_parent, journal, &p->cgroups_created,
                               &p->n_cgroups_created, err);
    }
    return rc;
}

/* Pin the namespaces the pod does not share with the node (on_pinned goes on from there). */
static void pin_namespaces(struct pod_work *w, const char *nsdir)
{
    struct cri *cri = w->cri;
    struct pod *p = w->pod;
    unsigned want = (p->host_network ? 0 : NETWORK_NS_NET | NETWORK_NS_UTS) |
                    (p->host_ipc ? 0 : NETWORK_NS_IPC);
    if (!want) {
        on_pinned(0, NULL, w);
        return;
    }
    const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
    size_t n_sysctls = l ? l->n_sysctls : 0;
    cleanup_free char **sysctls = xcalloc(n_sysctls + 1, sizeof(char *));
    for (size_t i = 0; i < n_sysctls; i++)
        sysctls[i] = xasprintf("%s=%s", l->sysctls[i]->key, l->sysctls[i]->value);
    char host[256];
    struct network_pin_opts po = {
        .self_exe = cri->self_exe,
        .dir = nsdir,
        .namespaces = want,
        .hostname = pod_hostname(p, host, sizeof(host)),
        .sysctls = sysctls,
        .n_sysctls = n_sysctls,
    };
    p->pinned = want;
    int rc = network_ns_pin(cri->loop, &po, on_pinned, w);
    for (size_t i = 0; i < n_sysctls; i++)
        free(sysctls[i]);
    if (rc < 0) {
        err_set(&w->err, rc, "start the namespace helper %s: %s", cri->self_exe, uv_strerror(rc));
        p->pinned = 0;
        run_fail(w);
    }
}

void cri_run_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__RunPodSandboxRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    const struct config_runtime *rt = NULL;
    if (check_config(cri, r, &rt, &err) < 0) {
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct pod *p = pod_new(cri, r, rt);
    LIST_PREPEND(cri->creating, p);

    struct pod_work *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->pod = p;
    w->call = reactor_grpc_call_ref(call);
    w->creating = true;
    cleanup_free char *nsdir = xasprintf("%s/ns", p->run_dir);
    int rc = fs_mkdir_p(nsdir, 0711);
    if (rc < 0) {
        err_set(&w->err, rc, "create %s: %s", nsdir, strerror(-rc));
        run_fail(w);
        return;
    }
    if (make_cgroup_parent(cri, p, &w->err) < 0) {
        run_fail(w);
        return;
    }
    pin_namespaces(w, nsdir);
}

/* ---- Stop and Remove ---- */

static void op_remove(void *obj, struct grpc_call *call, int64_t arg);

/* The removed pod's record is gone from disk: only now is the removal answered, so that a crash
 * after the answer cannot bring the pod back. */
static void on_removed_record(int status, const char *path, void *data)
{
    struct pod_work *w = data;
    struct pod *p = w->pod;
    if (status < 0)
        log_error("pod %s: remove %s: %s", p->id, path, strerror(-status));
    Runtime__V1__RemovePodSandboxResponse ok = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
    cri_reply(w->call, &ok.base);
    /* Calls still waiting for this pod find it gone: a removal has nothing left to do. */
    cri_opqueue_clear(&p->ops, op_remove, "pod sandbox was removed");
    cri_pod_free(p);
    work_free(w);
}

static void op_done(struct pod_work *w, int status)
{
    struct cri *cri = w->cri;
    struct pod *p = w->pod;
    if (status == 0 && w->op == OP_REMOVE) {
        /* Everything goes before the reply: the caller may look right after. */
        remove_run_dir(p);
        oci_cgroup_remove(TAKE_PTR(p->cgroups_created), p->n_cgroups_created);
        p->n_cgroups_created = 0;
        log_info("pod %s removed", p->id);
        LIST_REMOVE(cri->pods, p);
        cri_events_publish(cri, p->id, p,
                           RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
        cleanup_free char *path = cri_pod_record_path(cri, p->id);
        reactor_fileq_put(cri->pod_writes, path, NULL, on_removed_record, w);
        return;
    }
    if (status < 0) {
        cri_reply_err(w->call, &w->err);
    } else {
        Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
    }
    cri_opqueue_done(&p->ops, p);
    work_free(w);
}

static void on_stop_persisted(int status, const char *path, void *data)
{
    struct pod_work *w = data;
    if (status < 0) {
        err_set(&w->err, status, "record pod %s: %s", w->pod->id, strerror(-status));
        op_done(w, status);
        return;
    }
    op_done(w, 0);
}

static void stop_local(struct pod_work *w)
{
    struct pod *p = w->pod;
    kill_infra(p);
    unmount_shm(p);
    if (p->pinned) {
        cleanup_free char *nsdir = xasprintf("%s/ns", p->run_dir);
        if (network_ns_unpin(nsdir, &w->err) < 0) {
            op_done(w, w->err.code);
            return;
        }
        p->pinned = 0;
    }
    if (p->state == POD_READY) {
        log_info("pod %s stopped", p->id);
        p->state = POD_NOTREADY;
        cri_events_publish(w->cri, p->id, p,
                           RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
    }
    persist(w->cri, p, on_stop_persisted, w);
}

static void on_network_deleted(int status, struct err *err, void *data)
{
    struct pod_work *w = data;
    if (status < 0) {
        err_set(&w->err, status, "stop pod %s: %s", w->pod->id, err_msg(err));
        op_done(w, status);
        return;
    }
    w->pod->network_added = false;
    network_attachment_done(&w->pod->att);
    stop_local(w);
}

static void on_ctrs_stopped(void *data)
{
    struct pod_work *w = data;
    struct cri *cri = w->cri;
    struct pod *p = w->pod;
    if (p->network_added) {
        cleanup_free struct network_port *ports =
            xcalloc(p->config->n_port_mappings + 1, sizeof(*ports));
        cleanup_free char *netns = xasprintf("%s/ns/net", p->run_dir);
        struct network_pod np = net_pod(p, ports, netns, cri->pod_cidr);
        network_del(cri->network, &np, &p->att, on_network_deleted, w);
        return;
    }
    stop_local(w);
}

static void start_op(struct pod *p, enum pod_op op, struct grpc_call *call)
{
    struct pod_work *w = xcalloc(1, sizeof(*w));
    w->cri = p->cri;
    w->pod = p;
    w->op = op;
    w->call = reactor_grpc_call_ref(call);
    /* The pod's containers go first: they live in its namespaces. */
    cri_ctrs_stop_pod(p->cri, p->id, op == OP_REMOVE, on_ctrs_stopped, w);
}

static void op_stop(void *obj, struct grpc_call *call, int64_t arg)
{
    start_op(obj, OP_STOP, call);
}

/* With no pod (not found, or removed while this waited), there is nothing left to remove. */
static void op_remove(void *obj, struct grpc_call *call, int64_t arg)
{
    if (!obj) {
        Runtime__V1__RemovePodSandboxResponse ok = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
        cri_reply(call, &ok.base);
        return;
    }
    start_op(obj, OP_REMOVE, call);
}

static void enqueue(struct cri *cri, struct grpc_call *call, const char *id, cri_op_fn fn)
{
    struct pod *p = cri_pod_find(cri, id);
    if (!p) {
        if (fn == op_remove) {
            op_remove(NULL, call, 0);
            return;
        }
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    cri_opqueue_add(&p->ops, p, fn, call, 0);
}

void cri_stop_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__StopPodSandboxRequest *r = (const void *)req;
    enqueue(cri, call, r->pod_sandbox_id, op_stop);
}

void cri_remove_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__RemovePodSandboxRequest *r = (const void *)req;
    enqueue(cri, call, r->pod_sandbox_id, op_remove);
}

/* ---- start-up and shutdown ---- */

/* The kernel's id of this boot, or NULL. CRIB_BOOT_ID_FILE names another file to read it from:
 * only the tests set it, to play a reboot; nothing else does. */
static char *boot_id(void)
{
    const char *path = getenv("CRIB_BOOT_ID_FILE");
    struct buf b = {0};
    char *id = NULL;
    if (fs_read_file(path && *path ? path : "/proc/sys/kernel/random/boot_id", 128, &b) == 0) {
        const char *s = (const char *)b.data;
        size_t n = strcspn(s, "\n");
        id = n ? xstrndup(s, n) : NULL;
    }
    buf_done(&b);
    return id;
}

/* Whether the node rebooted since the last daemon ran (as far as the recorded boot id says);
 * the current boot id is recorded for the next one. */
static bool rebooted(struct cri *cri)
{
    cleanup_free char *path = xasprintf("%s/boot_id", cri->cfg->root);
    cleanup_free char *now = boot_id();
    struct buf was = {0};
    bool changed = false;
    if (now && fs_read_file(path, 128, &was) == 0) {
        const char *s = (const char *)was.data;
        changed = strlen(now) != strcspn(s, "\n") || strncmp(s, now, strlen(now)) != 0;
    }
    buf_done(&was);
    int r = now ? fs_write_atomic(path, now, strlen(now), 0644) : 0;
    if (r < 0)
        log_warn("record the boot id in %s: %s", path, strerror(-r));
    return changed;
}

/* A pod whose run state is gone cannot run containers any more: NOTREADY, so that the kubelet
 * makes a new one; Stop and Remove still undo the rest (CNI DEL releases its address). */
static void mark_lost(struct cri *cri, struct pod *p, bool boot_changed)
{
    p->lost = true;
    p->infra_pid = 0; /* a pid of another boot, or of a PID namespace that is gone */
    if (p->state != POD_READY)
        return;
    log_warn("pod %s: %s: not ready any more", p->id,
             boot_changed ? "the node rebooted since it was started"
                          : "its namespaces under the run root are gone");
    p->state = POD_NOTREADY;
    cri_events_publish(cri, p->id, p, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
    persist(cri, p, NULL, NULL);
}

struct pods_load {
    struct cri *cri;
    bool boot_changed;
};

static void load_pod(const char *path, const char *text, int read_error, void *data)
{
    struct pods_load *l = data;
    struct cri *cri = l->cri;
    struct pod *p = text ? cri_pod_record_parse(cri, text) : NULL;
    if (!p) {
        log_warn("pod record %s is unreadable: left alone", path);
        return;
    }
    LIST_PREPEND(cri->pods, p);
    if (l->boot_changed || network_pod_files_gone(p->run_dir, p->pinned, p->shm_mounted))
        mark_lost(cri, p, l->boot_changed);
    watch_infra(cri, p);
}

int cri_pods_load(struct cri *cri, struct err *err)
{
    int r = fs_mkdir_p(cri->pods_dir, 0700);
    if (r == 0)
        r = fs_mkdir_p(cri->pods_run, 0711);
    if (r < 0)
        return err_set(err, r, "create pod directories: %s", strerror(-r));
    struct pods_load l = {.cri = cri, .boot_changed = rebooted(cri)};
    r = fs_load_records(cri->pods_dir, CRI_RECORD_MAX, load_pod, &l);
    return r < 0 ? err_set(err, r, "read %s: %s", cri->pods_dir, strerror(-r)) : 0;
}

struct check_ctx {
    struct cri *cri;
    char *id;
};

static void on_checked(int status, struct err *err, void *data)
{
    struct check_ctx *c = data;
    if (status < 0)
        log_warn("pod %s: its network fails CNI CHECK after a restart: %s", c->id, err_msg(err));
    else
        log_debug("pod %s: CNI CHECK passed", c->id);
    free(c->id);
    free(c);
}

/* ---- RunPodSandbox calls a daemon's death interrupted ---- */

/* Their pods have a run directory and no record (the record is written last): what they made
 * is undone, the network first (host-local gives the address back, the veth goes with the
 * namespace), then the pins, the /dev/shm tmpfs and the files. */
struct unfinished {
    char *id, *dir;
};

static void unfinished_undo_local(struct unfinished *u)
{
    struct err e = ERR_INIT;
    cleanup_free char *nsdir = xasprintf("%s/ns", u->dir);
    cleanup_free char *cgroups = xasprintf("%s/cgroups", u->dir);
    network_helpers_kill_of(nsdir); /* a walk of /proc, inline: only for a pod a crash cut short */
    oci_cgroup_remove_journaled(cgroups);
    unlink(cgroups);
    if (network_ns_unpin(nsdir, &e) < 0 || network_pod_files_unmount_shm(u->dir, &e) < 0 ||
        network_pod_files_remove(u->dir, &e) < 0)
        log_warn("pod %s (unfinished): %s", u->id, err_msg(&e));
    else
        log_info("pod %s: its RunPodSandbox did not finish: undone", u->id);
    err_done(&e);
    free(u->id);
    free(u->dir);
    free(u);
}

static void on_unfinished_deleted(int status, struct err *err, void *data)
{
    struct unfinished *u = data;
    if (status < 0)
        log_warn("pod %s (unfinished): CNI DEL: %s", u->id, err_msg(err));
    unfinished_undo_local(u);
}

static bool is_pod_id(const char *s)
{
    size_t n = strlen(s);
    return n == 64 && strspn(s, "0123456789abcdef") == n;
}

void cri_pods_undo_unfinished(struct cri *cri)
{
    char **names = fs_dir_names(cri->pods_run);
    for (char **name = names; *name; name++) {
        if (is_pod_id(*name) && !cri_pod_find(cri, *name)) {
            struct unfinished *u = xcalloc(1, sizeof(*u));
            u->id = xstrdup(*name);
            u->dir = xasprintf("%s/%s", cri->pods_run, *name);
            if (network_pod_files_gone(u->dir, NETWORK_NS_NET, false)) {
                unfinished_undo_local(u); /* never got as far as the network */
            } else {
                cleanup_free char *netns = xasprintf("%s/ns/net", u->dir);
                struct network_pod np = {.id = u->id,
                                         .netns = netns,
                                         .name = "",
                                         .namespace_ = "",
                                         .uid = "",
                                         .pod_cidr = cri->pod_cidr};
                network_del_current(cri->network, &np, on_unfinished_deleted, u);
            }
        }
        free(*name);
    }
    free(names);
}

/* After a restart: ask the plugins whether each ready pod's network is still as they set it. */
void cri_pods_check(struct cri *cri)
{
    for (struct pod *p = cri->pods; p; p = p->next) {
        if (p->state != POD_READY || !p->network_added)
            continue;
        cleanup_free struct network_port *ports =
            xcalloc(p->config->n_port_mappings + 1, sizeof(*ports));
        cleanup_free char *netns = xasprintf("%s/ns/net", p->run_dir);
        struct network_pod np = net_pod(p, ports, netns, cri->pod_cidr);
        struct check_ctx *c = xcalloc(1, sizeof(*c));
        c->cri = cri;
        c->id = xstrdup(p->id);
        network_check(cri->network, &np, &p->att, on_checked, c);
    }
}

void cri_pods_free(struct cri *cri)
{
    while (cri->pods) {
        struct pod *p = cri->pods;
        LIST_REMOVE(cri->pods, p);
        cri_pod_free(p);
    }
}

void cri_pods_shutdown(struct cri *cri)
{
    for (struct pod *p = cri->pods; p; p = p->next)
        p->infra_watch = NULL; /* the watches close with cri->pids */
}
