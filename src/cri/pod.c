/* RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox: pods with
 * pinned namespaces, CNI networking, pod files, persisted records; operations on one pod run one
 * at a time, different pods concurrently. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/base64.h"
#include "common/id.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"
#include "cri/pod.h"
#include "oci/cgroup.h"

#define SHM_SIZE "65536k"

enum pod_op { OP_STOP, OP_REMOVE };

struct pod_waiter {
    enum pod_op op;
    struct grpc_call *call;
    struct pod_waiter *next;
};

/* An operation in flight on one pod. */
struct pod_work {
    struct cri *cri;
    struct pod *pod;
    struct grpc_call *call;
    enum pod_op op; /* for stop/remove */
    bool creating;  /* RunPodSandbox */
    struct err err;
};

static void run_queue(struct cri *cri, struct pod *pod);

/* ---- records ---- */

static char *pod_record_path(struct cri *cri, const char *id)
{
    return xasprintf("%s/%s.json", cri->pods_dir, id);
}

static char *pod_record(const struct pod *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", p->id);
    cJSON_AddNumberToObject(j, "created_at", (double)p->created_at);
    cJSON_AddStringToObject(j, "state", p->state == POD_READY ? "ready" : "notready");
    cJSON_AddStringToObject(j, "runtime_handler", p->handler);
    cJSON_AddNumberToObject(j, "pinned", p->pinned);
    cJSON_AddBoolToObject(j, "shm_mounted", p->shm_mounted);
    cJSON_AddNumberToObject(j, "infra_pid", p->infra_pid);
    cJSON_AddStringToObject(j, "cgroup_parent", p->cgroup_parent);
    cJSON *cg = cJSON_AddArrayToObject(j, "cgroups_created");
    for (size_t i = 0; i < p->n_cgroups_created; i++)
        cJSON_AddItemToArray(cg, cJSON_CreateString(p->cgroups_created[i]));
    cJSON_AddBoolToObject(j, "network_added", p->network_added);
    if (p->network_added) {
        cJSON_AddStringToObject(j, "cni_config", p->att.conflist);
        cJSON_AddStringToObject(j, "cni_result", p->att.result);
        cJSON *ips = cJSON_AddArrayToObject(j, "ips");
        for (size_t i = 0; i < p->att.n_ips; i++)
            cJSON_AddItemToArray(ips, cJSON_CreateString(p->att.ips[i]));
    }
    cJSON_AddStringToObject(j, "config", p->config_b64);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static void pod_free(struct pod *p)
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
    for (size_t i = 0; i < p->n_cgroups_created; i++)
        free(p->cgroups_created[i]);
    free(p->cgroups_created);
    free(p);
}

static void namespaces_of(struct pod *p)
{
    const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
    const Runtime__V1__NamespaceOption *ns =
        l && l->security_context ? l->security_context->namespace_options : NULL;
    p->host_network = ns && ns->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->host_ipc = ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->host_pid = ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->pod_pid = ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__POD;
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

/* ---- pod files ---- */

static int write_small(const char *path, const char *text, struct err *err)
{
    /* A few hundred bytes into a fresh file under the run root: a fast write, inline. */
    int r = fs_write_file(path, text, strlen(text), 0644);
    return r < 0 ? err_set(err, r, "write %s: %s", path, strerror(-r)) : 0;
}

static const char *pod_hostname(const struct pod *p, char *buf, size_t len)
{
    if (p->host_network) {
        if (gethostname(buf, len) == 0)
            return buf;
        return "localhost";
    }
    if (p->config->hostname && *p->config->hostname)
        return p->config->hostname;
    /* As containerd does: the pod's name may be longer than a hostname can be (64). */
    if (gethostname(buf, len) == 0)
        return buf;
    return "localhost";
}

static int write_pod_files(struct pod *p, struct err *err)
{
    char host[256];
    const char *hostname = pod_hostname(p, host, sizeof(host));
    cleanup_free char *path = xasprintf("%s/hostname", p->run_dir);
    cleanup_free char *text = xasprintf("%s\n", hostname);
    int r = write_small(path, text, err);
    if (r < 0)
        return r;
    struct buf hosts = {0};
    buf_puts(&hosts, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (size_t i = 0; i < p->att.n_ips; i++)
        buf_printf(&hosts, "%s\t%s\n", p->att.ips[i], hostname);
    free(path);
    path = xasprintf("%s/hosts", p->run_dir);
    r = write_small(path, (const char *)hosts.data, err);
    buf_done(&hosts);
    if (r < 0)
        return r;
    const Runtime__V1__DNSConfig *dns = p->config->dns_config;
    struct buf resolv = {0};
    if (dns && (dns->n_servers || dns->n_searches || dns->n_options)) {
        if (dns->n_searches) {
            buf_puts(&resolv, "search");
            for (size_t i = 0; i < dns->n_searches; i++)
                buf_printf(&resolv, " %s", dns->searches[i]);
            buf_puts(&resolv, "\n");
        }
        for (size_t i = 0; i < dns->n_servers; i++)
            buf_printf(&resolv, "nameserver %s\n", dns->servers[i]);
        if (dns->n_options) {
            buf_puts(&resolv, "options");
            for (size_t i = 0; i < dns->n_options; i++)
                buf_printf(&resolv, " %s", dns->options[i]);
            buf_puts(&resolv, "\n");
        }
    } else if (fs_read_file("/etc/resolv.conf", 64 * 1024, &resolv) < 0) {
        resolv.len = 0;
    }
    free(path);
    path = xasprintf("%s/resolv.conf", p->run_dir);
    buf_append(&resolv, "", 0);
    r = write_small(path, (const char *)resolv.data, err);
    buf_done(&resolv);
    return r;
}

static int mount_shm(struct pod *p, struct err *err)
{
    cleanup_free char *dir = xasprintf("%s/shm", p->run_dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return err_set(err, -errno, "create %s: %s", dir, strerror(errno));
    if (mount("shm", dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=" SHM_SIZE) <
        0)
        return err_set(err, -errno, "mount the pod's /dev/shm at %s: %s", dir, strerror(errno));
    p->shm_mounted = true;
    return 0;
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
    cleanup_free char *path = xasprintf("/proc/%d/comm", p->infra_pid);
    struct buf comm = {0};
    if (fs_read_file(path, 64, &comm) == 0 && strncmp((char *)comm.data, "crib-infra", 10) == 0)
        kill(p->infra_pid, SIGKILL);
    buf_done(&comm);
    p->infra_pid = 0;
}

static void unmount_shm(struct pod *p)
{
    cleanup_free char *dir = xasprintf("%s/shm", p->run_dir);
    if (p->shm_mounted && umount2(dir, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
        log_warn("pod %s: unmount %s: %s", p->id, dir, strerror(errno));
    p->shm_mounted = false;
}

/* Remove the pod's run directory: a handful of small files, inline. */
static void remove_run_dir(struct pod *p)
{
    static const char *const files[] = {"hostname", "hosts", "resolv.conf"};
    static const char *const dirs[] = {"shm", "ns"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        cleanup_free char *f = xasprintf("%s/%s", p->run_dir, files[i]);
        unlink(f);
    }
    for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
        cleanup_free char *d = xasprintf("%s/%s", p->run_dir, dirs[i]);
        rmdir(d);
    }
    if (rmdir(p->run_dir) < 0 && errno != ENOENT)
        log_warn("pod %s: remove %s: %s", p->id, p->run_dir, strerror(errno));
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
    cleanup_free char *path = pod_record_path(cri, p->id);
    reactor_fileq_put(cri->pod_writes, path, pod_record(p), cb ? cb : on_pod_written, data);
}

/* ---- RunPodSandbox ---- */

static void work_free(struct pod_work *w)
{
    err_done(&w->err);
    grpc_call_unref(w->call);
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
    pod_free(p);
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
    p->busy = false;
    log_info("pod %s/%s ready as %s%s%s", p->config->metadata->namespace_,
             p->config->metadata->name, p->id, p->att.n_ips ? " with IP " : "",
             p->att.n_ips ? p->att.ips[0] : "");
    Runtime__V1__RunPodSandboxResponse resp = RUNTIME__V1__RUN_POD_SANDBOX_RESPONSE__INIT;
    resp.pod_sandbox_id = p->id;
    cri_reply(w->call, &resp.base);
    run_queue(w->cri, p);
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
    struct pod *p = xcalloc(1, sizeof(*p));
    p->id = id_new();
    p->created_at = now_unix_ns();
    p->state = POD_NOTREADY;
    p->handler = xstrdup(rt->name);
    size_t len = protobuf_c_message_get_packed_size(&r->config->base);
    cleanup_free uint8_t *packed = xmalloc(len ? len : 1);
    protobuf_c_message_pack(&r->config->base, packed);
    p->config = (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
        &runtime__v1__pod_sandbox_config__descriptor, NULL, len, packed);
    p->config_b64 = base64_encode(packed, len);
    p->run_dir = xasprintf("%s/%s", cri->pods_run, p->id);
    p->busy = true;
    namespaces_of(p);
    LIST_PREPEND(cri->creating, p);

    struct pod_work *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->pod = p;
    w->call = grpc_call_ref(call);
    w->creating = true;
    cleanup_free char *nsdir = xasprintf("%s/ns", p->run_dir);
    int rc = fs_mkdir_p(nsdir, 0711);
    if (rc < 0) {
        err_set(&w->err, rc, "create %s: %s", nsdir, strerror(-rc));
        run_fail(w);
        return;
    }
    const char *cgp = p->config->linux ? p->config->linux->cgroup_parent : "";
    p->cgroup_parent = xstrdup("");
    if (*cgp) {
        free(p->cgroup_parent);
        p->cgroup_parent = NULL;
        rc = oci_cgroup_parent_path(cri->cfg->cgroup_manager, cgp, &p->cgroup_parent, &w->err);
        if (rc == 0)
            rc = oci_cgroup_ensure(p->cgroup_parent, &p->cgroups_created, &p->n_cgroups_created,
                                   &w->err);
        if (rc < 0) {
            run_fail(w);
            return;
        }
    }
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
    rc = network_ns_pin(cri->loop, &po, on_pinned, w);
    for (size_t i = 0; i < n_sysctls; i++)
        free(sysctls[i]);
    if (rc < 0) {
        err_set(&w->err, rc, "start the namespace helper %s: %s", cri->self_exe, uv_strerror(rc));
        p->pinned = 0;
        run_fail(w);
    }
}

/* ---- Stop and Remove ---- */

static void op_done(struct pod_work *w, int status)
{
    struct cri *cri = w->cri;
    struct pod *p = w->pod;
    bool removed = status == 0 && w->op == OP_REMOVE;
    if (removed) {
        /* Everything goes before the reply: the caller may look right after. */
        cleanup_free char *path = pod_record_path(cri, p->id);
        reactor_fileq_put(cri->pod_writes, path, NULL, NULL, NULL);
        remove_run_dir(p);
        oci_cgroup_remove(TAKE_PTR(p->cgroups_created), p->n_cgroups_created);
        p->n_cgroups_created = 0;
        log_info("pod %s removed", p->id);
        LIST_REMOVE(cri->pods, p);
    }
    if (status < 0) {
        cri_reply_err(w->call, &w->err);
    } else if (w->op == OP_STOP) {
        Runtime__V1__StopPodSandboxResponse resp = RUNTIME__V1__STOP_POD_SANDBOX_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
    } else {
        Runtime__V1__RemovePodSandboxResponse resp = RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
    }
    if (removed) {
        /* Calls still waiting for this pod find it gone. */
        while (p->queue) {
            struct pod_waiter *q = p->queue;
            p->queue = q->next;
            Runtime__V1__RemovePodSandboxResponse ok =
                RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
            if (q->op == OP_REMOVE)
                cri_reply(q->call, &ok.base);
            else
                grpc_call_finish(q->call, GRPC_NOT_FOUND, "pod sandbox was removed");
            grpc_call_unref(q->call);
            free(q);
        }
        pod_free(p);
    } else {
        p->busy = false;
        run_queue(cri, p);
    }
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
    if (p->state == POD_READY)
        log_info("pod %s stopped", p->id);
    p->state = POD_NOTREADY;
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

static void start_op(struct cri *cri, struct pod *p, enum pod_op op, struct grpc_call *call)
{
    struct pod_work *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->pod = p;
    w->op = op;
    w->call = call; /* the reference the queue held */
    p->busy = true;
    /* The pod's containers go first: they live in its namespaces. */
    cri_ctrs_stop_pod(cri, p->id, op == OP_REMOVE, on_ctrs_stopped, w);
}

static void run_queue(struct cri *cri, struct pod *p)
{
    if (p->busy || !p->queue)
        return;
    struct pod_waiter *q = p->queue;
    p->queue = q->next;
    start_op(cri, p, q->op, q->call);
    free(q);
}

static void enqueue(struct cri *cri, struct grpc_call *call, const char *id, enum pod_op op)
{
    struct pod *p = cri_pod_find(cri, id);
    if (!p) {
        if (op == OP_REMOVE) {
            Runtime__V1__RemovePodSandboxResponse ok =
                RUNTIME__V1__REMOVE_POD_SANDBOX_RESPONSE__INIT;
            cri_reply(call, &ok.base);
            return;
        }
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct pod_waiter *q = xcalloc(1, sizeof(*q));
    q->op = op;
    q->call = grpc_call_ref(call);
    struct pod_waiter **tail = &p->queue;
    while (*tail)
        tail = &(*tail)->next;
    *tail = q;
    run_queue(cri, p);
}

void cri_stop_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__StopPodSandboxRequest *r = (const void *)req;
    enqueue(cri, call, r->pod_sandbox_id, OP_STOP);
}

void cri_remove_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__RemovePodSandboxRequest *r = (const void *)req;
    enqueue(cri, call, r->pod_sandbox_id, OP_REMOVE);
}

/* ---- Status and List ---- */

static Runtime__V1__PodSandboxState proto_state(const struct pod *p)
{
    return p->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                 : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}

void cri_pod_sandbox_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__PodSandboxStatusRequest *r = (const void *)req;
    struct pod *p = cri_pod_find(cri, r->pod_sandbox_id);
    if (!p) {
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", r->pod_sandbox_id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    const Runtime__V1__PodSandboxConfig *c = p->config;
    Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
    st.id = p->id;
    st.metadata = c->metadata;
    st.state = proto_state(p);
    st.created_at = p->created_at;
    st.runtime_handler = p->handler;
    st.labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **)c->labels;
    st.n_labels = c->n_labels;
    st.annotations = (Runtime__V1__PodSandboxStatus__AnnotationsEntry **)c->annotations;
    st.n_annotations = c->n_annotations;
    Runtime__V1__PodSandboxNetworkStatus net = RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
    size_t n_extra = p->att.n_ips > 1 ? p->att.n_ips - 1 : 0;
    cleanup_free Runtime__V1__PodIP *extra = xcalloc(n_extra + 1, sizeof(*extra));
    cleanup_free Runtime__V1__PodIP **extra_ptrs = xcalloc(n_extra + 1, sizeof(*extra_ptrs));
    if (p->state == POD_READY && p->att.n_ips) {
        net.ip = p->att.ips[0];
        for (size_t i = 0; i < n_extra; i++) {
            Runtime__V1__PodIP init = RUNTIME__V1__POD_IP__INIT;
            extra[i] = init;
            extra[i].ip = p->att.ips[i + 1];
            extra_ptrs[i] = &extra[i];
        }
        net.additional_ips = extra_ptrs;
        net.n_additional_ips = n_extra;
    }
    st.network = &net;
    Runtime__V1__LinuxPodSandboxStatus lin = RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT;
    Runtime__V1__Namespace ns = RUNTIME__V1__NAMESPACE__INIT;
    Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    const Runtime__V1__LinuxPodSandboxConfig *l = c->linux;
    if (l && l->security_context && l->security_context->namespace_options)
        nso = *l->security_context->namespace_options;
    ns.options = &nso;
    lin.namespaces = &ns;
    st.linux = &lin;
    Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    resp.status = &st;
    resp.timestamp = now_unix_ns();
    Runtime__V1__PodSandboxStatusResponse__InfoEntry info =
        RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__PodSandboxStatusResponse__InfoEntry *infos[1] = {&info};
    char *json = NULL;
    if (r->verbose) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "runDir", p->run_dir);
        if (p->infra_pid)
            cJSON_AddNumberToObject(j, "infraPid", p->infra_pid);
        cJSON_AddStringToObject(j, "cgroupParent", p->cgroup_parent ? p->cgroup_parent : "");
        cJSON *pins = cJSON_AddObjectToObject(j, "namespaces");
        static const struct {
            unsigned flag;
            const char *name;
        } names[] = {{NETWORK_NS_NET, "net"}, {NETWORK_NS_IPC, "ipc"}, {NETWORK_NS_UTS, "uts"}};
        for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
            cleanup_free char *path = xasprintf("%s/ns/%s", p->run_dir, names[i].name);
            if (p->pinned & names[i].flag)
                cJSON_AddStringToObject(pins, names[i].name, path);
        }
        if (p->network_added) {
            cJSON_AddItemToObject(j, "cniResult", cJSON_Parse(p->att.result));
            cJSON *conf = cJSON_Parse(p->att.conflist);
            cJSON_AddStringToObject(j, "cniNetwork",
                                    cJSON_GetStringValue(cJSON_GetObjectItem(conf, "name")));
            cJSON_Delete(conf);
        }
        json = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        info.key = "info";
        info.value = json;
        resp.info = infos;
        resp.n_info = 1;
    }
    cri_reply(call, &resp.base);
    cJSON_free(json);
}

static bool labels_match(const Runtime__V1__PodSandboxConfig *c,
                         const Runtime__V1__PodSandboxFilter *f)
{
    for (size_t i = 0; i < f->n_label_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < c->n_labels && !found; k++)
            found = strcmp(c->labels[k]->key, f->label_selector[i]->key) == 0 &&
                    strcmp(c->labels[k]->value, f->label_selector[i]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}

void cri_list_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListPodSandboxRequest *r = (const void *)req;
    const Runtime__V1__PodSandboxFilter *f = r->filter;
    size_t n = 0;
    for (struct pod *p = cri->pods; p; p = p->next)
        n++;
    cleanup_free Runtime__V1__PodSandbox *items = xcalloc(n + 1, sizeof(*items));
    cleanup_free Runtime__V1__PodSandbox **ptrs = xcalloc(n + 1, sizeof(*ptrs));
    size_t k = 0;
    for (struct pod *p = cri->pods; p; p = p->next) {
        if (f && *f->id && strncmp(p->id, f->id, strlen(f->id)) != 0)
            continue;
        if (f && f->state && f->state->state != proto_state(p))
            continue;
        if (f && !labels_match(p->config, f))
            continue;
        Runtime__V1__PodSandbox init = RUNTIME__V1__POD_SANDBOX__INIT;
        items[k] = init;
        items[k].id = p->id;
        items[k].metadata = p->config->metadata;
        items[k].state = proto_state(p);
        items[k].created_at = p->created_at;
        items[k].labels = (Runtime__V1__PodSandbox__LabelsEntry **)p->config->labels;
        items[k].n_labels = p->config->n_labels;
        items[k].annotations = (Runtime__V1__PodSandbox__AnnotationsEntry **)p->config->annotations;
        items[k].n_annotations = p->config->n_annotations;
        items[k].runtime_handler = p->handler;
        ptrs[k] = &items[k];
        k++;
    }
    Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
    resp.items = ptrs;
    resp.n_items = k;
    cri_reply(call, &resp.base);
}

/* ---- start-up and shutdown ---- */

static struct pod *pod_parse(struct cri *cri, const char *text)
{
    cJSON *j = cJSON_Parse(text);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
    const char *cfg = cJSON_GetStringValue(cJSON_GetObjectItem(j, "config"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
    const char *handler = cJSON_GetStringValue(cJSON_GetObjectItem(j, "runtime_handler"));
    struct pod *p = NULL;
    if (id && cfg && state && handler && strlen(id) == 64) {
        struct buf raw = {0};
        Runtime__V1__PodSandboxConfig *c =
            base64_decode(cfg, strlen(cfg), &raw) == 0
                ? (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
                      &runtime__v1__pod_sandbox_config__descriptor, NULL, raw.len, raw.data)
                : NULL;
        buf_done(&raw);
        if (c && c->metadata) {
            p = xcalloc(1, sizeof(*p));
            p->id = xstrdup(id);
            p->config = c;
            p->config_b64 = xstrdup(cfg);
            p->handler = xstrdup(handler);
            p->state = strcmp(state, "ready") == 0 ? POD_READY : POD_NOTREADY;
            p->created_at = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "created_at"));
            p->pinned = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pinned"));
            p->shm_mounted = cJSON_IsTrue(cJSON_GetObjectItem(j, "shm_mounted"));
            p->infra_pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "infra_pid"));
            const char *cgp = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cgroup_parent"));
            p->cgroup_parent = xstrdup(cgp ? cgp : "");
            const cJSON *cgs = cJSON_GetObjectItem(j, "cgroups_created");
            p->cgroups_created = xcalloc((size_t)cJSON_GetArraySize(cgs) + 1, sizeof(char *));
            const cJSON *cg;
            cJSON_ArrayForEach(cg, cgs)
            {
                if (cJSON_IsString(cg))
                    p->cgroups_created[p->n_cgroups_created++] = xstrdup(cg->valuestring);
            }
            p->network_added = cJSON_IsTrue(cJSON_GetObjectItem(j, "network_added"));
            const char *conf = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cni_config"));
            const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cni_result"));
            if (p->network_added && conf && res) {
                p->att.conflist = xstrdup(conf);
                p->att.result = xstrdup(res);
                const cJSON *ips = cJSON_GetObjectItem(j, "ips");
                p->att.ips = xcalloc((size_t)cJSON_GetArraySize(ips) + 1, sizeof(char *));
                const cJSON *ip;
                cJSON_ArrayForEach(ip, ips)
                {
                    if (cJSON_IsString(ip))
                        p->att.ips[p->att.n_ips++] = xstrdup(ip->valuestring);
                }
            } else {
                p->network_added = false;
            }
            p->run_dir = xasprintf("%s/%s", cri->pods_run, p->id);
            namespaces_of(p);
        } else if (c) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
        }
    }
    cJSON_Delete(j);
    return p;
}

#define NSFS_MAGIC_ 0x6e736673
#define TMPFS_MAGIC_ 0x01021994

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

/* Whether what the pod keeps under the run root is gone, as after a reboot (/run is a tmpfs):
 * its directory, a namespace pin (no longer an nsfs bind mount), its /dev/shm. */
static bool run_state_gone(const struct pod *p)
{
    static const struct {
        unsigned flag;
        const char *name;
    } pins[] = {{NETWORK_NS_NET, "net"}, {NETWORK_NS_IPC, "ipc"}, {NETWORK_NS_UTS, "uts"}};
    struct stat st;
    if (stat(p->run_dir, &st) < 0)
        return true;
    struct statfs fs;
    for (size_t i = 0; i < ARRAY_SIZE(pins); i++) {
        if (!(p->pinned & pins[i].flag))
            continue;
        cleanup_free char *path = xasprintf("%s/ns/%s", p->run_dir, pins[i].name);
        if (statfs(path, &fs) < 0 || fs.f_type != NSFS_MAGIC_)
            return true;
    }
    cleanup_free char *shm = xasprintf("%s/shm", p->run_dir);
    return p->shm_mounted && (statfs(shm, &fs) < 0 || fs.f_type != TMPFS_MAGIC_);
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
    persist(cri, p, NULL, NULL);
}

int cri_pods_load(struct cri *cri, struct err *err)
{
    int r = fs_mkdir_p(cri->pods_dir, 0700);
    if (r == 0)
        r = fs_mkdir_p(cri->pods_run, 0711);
    if (r < 0)
        return err_set(err, r, "create pod directories: %s", strerror(-r));
    bool boot_changed = rebooted(cri);
    struct dirent **names = NULL;
    int n = scandir(cri->pods_dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        cleanup_free char *path = xasprintf("%s/%s", cri->pods_dir, name);
        if (strstr(name, ".tmp-")) {
            unlink(path);
        } else if (len > 5 && strcmp(name + len - 5, ".json") == 0) {
            struct buf text = {0};
            struct pod *p = fs_read_file(path, 4u << 20, &text) == 0
                                ? pod_parse(cri, (const char *)text.data)
                                : NULL;
            buf_done(&text);
            if (p) {
                LIST_PREPEND(cri->pods, p);
                if (boot_changed || run_state_gone(p))
                    mark_lost(cri, p, boot_changed);
                watch_infra(cri, p);
            } else
                log_warn("pod record %s is unreadable: left alone", path);
        }
        free(names[i]);
    }
    free(names);
    return 0;
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
        pod_free(p);
    }
}

void cri_pods_shutdown(struct cri *cri)
{
    for (struct pod *p = cri->pods; p; p = p->next)
        p->infra_watch = NULL; /* the watches close with cri->pids */
}
