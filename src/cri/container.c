/* Containers: CreateContainer, StartContainer, StopContainer, RemoveContainer, ContainerStatus,
 * ListContainers, their records and their reload after a restart. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "common/id.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "cri/record.h"
#include "image/image.h"
#include "oci/cgroup.h"
#include "storage/storage.h"

#define RECORD_MAX (4u << 20)

/* A call waiting for the container's exit. */
struct ctr_exit_waiter {
    void (*fn)(struct ctr *c, void *data);
    void *data;
    struct ctr_exit_waiter *next;
};

/* ---- registry ---- */

struct ctr *cri_ctr_find(struct cri *cri, const char *id)
{
    size_t n = strlen(id);
    if (n == 0)
        return NULL;
    struct ctr *found = NULL;
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (strcmp(c->id, id) == 0)
            return c;
        if (strncmp(c->id, id, n) == 0) {
            if (found)
                return NULL; /* an ambiguous prefix finds nothing */
            found = c;
        }
    }
    return found;
}

static void ctr_free(struct ctr *c)
{
    free(c->id);
    free(c->pod_id);
    if (c->config)
        protobuf_c_message_free_unpacked(&c->config->base, NULL);
    free(c->reason);
    free(c->message);
    free(c->image_id);
    free(c->image_ref);
    free(c->image_name);
    for (size_t i = 0; i < c->n_layers; i++)
        free(c->layers[i]);
    free(c->layers);
    free(c->run_dir);
    free(c->log_path);
    free(c->runtime);
    free(c->cgroups_path);
    free(c->oom_file);
    free(c->stop_signal);
    free(c);
}

struct ctr *cri_ctr_ref(struct ctr *c)
{
    c->refs++;
    return c;
}

void cri_ctr_unref(struct ctr *c)
{
    if (--c->refs == 0)
        ctr_free(c);
}

int cri_runtime_of(struct cri *cri, const char *handler, struct oci_runtime *ret, struct err *err)
{
    const struct config_runtime *rt =
        config_runtime_find(cri->cfg, *handler ? handler : cri->cfg->default_runtime);
    if (!rt)
        return err_set(err, -EINVAL, "runtime handler `%s` is not configured", handler);
    oci_runtime_init(ret, *rt->runtime_path ? rt->runtime_path : rt->name, rt->runtime_root,
                     120000);
    return 0;
}

/* ---- records ---- */

static void on_written(int status, const char *path, void *data)
{
    if (status < 0)
        log_error("record %s: %s", path, strerror(-status));
}

void cri_ctr_persist(struct ctr *c)
{
    cleanup_free char *path = cri_ctr_record_path(c->cri, c->id);
    reactor_fileq_put(c->cri->ctr_writes, path, cri_ctr_record_format(c), on_written, NULL);
}

/* ---- events ---- */

static void publish(struct ctr *c, Runtime__V1__ContainerEventType type)
{
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    ev.container_id = c->id;
    ev.container_event_type = type;
    ev.created_at = now_unix_ns();
    cri_events_publish(c->cri, &ev);
}

/* ---- the per-container queue (opqueue.c); each waiting call holds a ref ---- */

static void op_done(struct ctr *c)
{
    cri_opqueue_done(&c->ops, c);
    cri_ctr_unref(c);
}

static void enqueue(struct cri *cri, struct grpc_call *call, const char *id, cri_op_fn fn,
                    int64_t arg, bool missing_ok)
{
    struct ctr *c = cri_ctr_find(cri, id);
    if (!c) {
        if (missing_ok) {
            fn(NULL, call, arg);
            return;
        }
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "container `%s` not found", id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    cri_ctr_ref(c); /* dropped by op_done */
    cri_opqueue_add(&c->ops, c, fn, call, arg);
}

/* ---- exits ---- */

static void wake_exit_waiters(struct ctr *c)
{
    while (c->exit_waiters) {
        struct ctr_exit_waiter *w = c->exit_waiters;
        c->exit_waiters = w->next;
        w->fn(c, w->data);
        free(w);
    }
}

static void wait_exit(struct ctr *c, void (*fn)(struct ctr *c, void *data), void *data)
{
    if (!cri_ctr_state_live(c->state)) {
        fn(c, data);
        return;
    }
    struct ctr_exit_waiter *w = xcalloc(1, sizeof(*w));
    w->fn = fn;
    w->data = data;
    w->next = c->exit_waiters;
    c->exit_waiters = w;
}

static void stop_kill_timer(struct ctr *c);

/* ---- the state machine ----
 * cri_ctr_next (ctr-state.c) says where an event leads; ctr_fire moves the container there and
 * runs the side effects of the state entered. Nothing else assigns c->state, but for a new
 * container (created) and a record read back after a restart (its own state). */

/* What an exit event carries into enter_exited. */
struct ctr_exit {
    int64_t finished_at;
    int32_t exit_code;
    const char *reason;
    const char *message; /* NULL: none */
};

static void enter_created(struct ctr *c)
{
    cri_ctr_persist(c);
    log_info("container %s (%s) created in pod %s", c->id, c->config->metadata->name, c->pod_id);
    publish(c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_CREATED_EVENT);
}

static void enter_running(struct ctr *c)
{
    c->started_at = now_unix_ns();
    cri_ctr_persist(c);
    log_info("container %s started", c->id);
    publish(c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT);
}

static void enter_exited(struct ctr *c, const struct ctr_exit *x)
{
    c->finished_at = x->finished_at;
    c->exit_code = x->exit_code;
    free(c->reason);
    free(c->message);
    c->reason = xstrdup(x->reason);
    c->message = x->message ? xstrdup(x->message) : NULL;
    stop_kill_timer(c);
    cri_ctr_persist(c);
    publish(c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STOPPED_EVENT);
    cri_ctr_ref(c);
    wake_exit_waiters(c);
    cri_ctr_unref(c);
}

/* The record's removal is queued by remove_finish, which answers once it is done. */
static void enter_removed(struct ctr *c)
{
    struct cri *cri = c->cri;
    LIST_REMOVE(cri->ctrs, c);
    log_info("container %s removed", c->id);
    publish(c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_DELETED_EVENT);
}

/* Apply ev (x: what an exit carries, else NULL). 0, or -EINVAL when the event does not apply in
 * the container's state and nothing changed. A new state's side effects run on entering it; an
 * event that leaves the state as it is runs none. */
static int ctr_fire(struct ctr *c, enum cri_ctr_event ev, const struct ctr_exit *x)
{
    enum cri_ctr_state from = c->state, to = cri_ctr_next(from, ev);
    if (to == CRI_CTR_INVALID) {
        log_debug("container %s: %s ignored when %s", c->id, cri_ctr_event_name(ev),
                  cri_ctr_state_name(from));
        return -EINVAL;
    }
    log_debug("container %s: %s -> %s on %s", c->id, cri_ctr_state_name(from),
              cri_ctr_state_name(to), cri_ctr_event_name(ev));
    c->state = to;
    if (to == from)
        return 0;
    switch (to) {
    case CRI_CTR_RUNNING:
        enter_running(c);
        break;
    case CRI_CTR_EXITED:
        enter_exited(c, x);
        break;
    case CRI_CTR_REMOVED:
        enter_removed(c);
        break;
    default: /* created is entered by a new container, unknown only from a record */
        break;
    }
    return 0;
}

static void on_ctr_exit(struct monitor_ctr *m, const struct monitor_exit *e, void *data)
{
    struct ctr *c = data;
    struct ctr_exit x = {.finished_at = e->finished_at, .exit_code = e->exit_code};
    if (!e->status_known) {
        x.exit_code = 255;
        x.reason = "Error";
        x.message = "the exit status is not known: the container ended while another cribd "
                    "process was its parent";
    } else if (e->oom_killed) {
        x.reason = "OOMKilled";
    } else {
        x.reason = e->exit_code == 0 ? "Completed" : "Error";
    }
    log_info("container %s exited: %s, exit code %d", c->id, x.reason, x.exit_code);
    ctr_fire(c, CRI_CTR_EVENT_EXIT, &x);
}

static void on_rest_killed(int status, const struct reactor_child_result *res, struct err *err,
                           void *data)
{
    struct ctr *c = data;
    if (status < 0)
        log_warn("container %s: kill what its init left behind: %s", c->id, err_msg(err));
    cri_ctr_unref(c);
}

/* The init has ended. What it left behind in a shared PID namespace (the pod's or the node's;
 * in its own the kernel kills them) would keep running and hold its stdio open: it is killed,
 * as containerd's shim does with `kill --all`. */
static void on_ctr_init_exit(struct monitor_ctr *m, void *data)
{
    struct ctr *c = data;
    struct err err = ERR_INIT;
    struct oci_runtime rt;
    struct oci_verb v = {
        .type = OCI_VERB_KILL, .id = c->id, .kill = {.signo = SIGKILL, .all = true}};
    int r = cri_runtime_of(c->cri, c->runtime, &rt, &err);
    if (r == 0) {
        cri_ctr_ref(c); /* until on_rest_killed */
        r = oci_runtime_call(c->cri->loop, &rt, &v, NULL, on_rest_killed, c, NULL, &err);
        if (r < 0)
            cri_ctr_unref(c);
    }
    if (r < 0)
        log_warn("container %s: kill what its init left behind: %s", c->id, err_msg(&err));
    err_done(&err);
}

static int send_signal(struct ctr *c, int sig)
{
    if (c->pid <= 0 || monitor_proc_start_time(c->pid) != c->pid_start)
        return -ESRCH;
    return kill(c->pid, sig) < 0 ? -errno : 0;
}

static void on_kill_timer_closed(uv_handle_t *h)
{
    free(h);
}

static void stop_kill_timer(struct ctr *c)
{
    if (c->sig_timer) {
        uv_close((uv_handle_t *)c->sig_timer, on_kill_timer_closed);
        c->sig_timer = NULL;
    }
    if (!c->kill_timer)
        return;
    uv_close((uv_handle_t *)c->kill_timer, on_kill_timer_closed);
    c->kill_timer = NULL;
}

/* Whether pid has a handler for sig (SigCgt in /proc/<pid>/status). */
static bool catches_signal(int pid, int sig)
{
    cleanup_free char *path = xasprintf("/proc/%d/status", pid);
    struct buf b = {0};
    bool caught = false;
    if (fs_read_file(path, 65536, &b) == 0) {
        const char *p = strstr((const char *)b.data, "\nSigCgt:");
        caught = p && (strtoull(p + 9, NULL, 16) >> (sig - 1)) & 1;
    }
    buf_done(&b);
    return caught;
}

/* Whether pid is still the runtime's init, between `start` returning and the exec of the
 * container's process: runc's init is a Go program, which catches every signal, so one sent then
 * is taken by it and gone at the exec. */
static bool before_exec(int pid)
{
    cleanup_free char *path = xasprintf("/proc/%d/comm", pid);
    struct buf b = {0};
    bool init = fs_read_file(path, 64, &b) == 0 && strncmp((char *)b.data, "runc:[", 6) == 0;
    buf_done(&b);
    return init;
}

/* Send the stop signal to the container's own process; true when nothing is left to do. A PID 1
 * ignores signals it has no handler for: stopped right after it started, it may not have
 * installed its handler yet, and the signal is sent again once it has. */
static bool stop_signal_step(struct ctr *c)
{
    if (before_exec(c->pid))
        return false;
    bool caught = catches_signal(c->pid, c->stop_signo);
    if (!c->sig_sent || caught)
        send_signal(c, c->stop_signo);
    c->sig_sent = true;
    return caught;
}

static void on_sig_retry(uv_timer_t *t)
{
    struct ctr *c = t->data;
    if (stop_signal_step(c)) {
        uv_close((uv_handle_t *)c->sig_timer, on_kill_timer_closed);
        c->sig_timer = NULL;
    }
}

static void on_kill_timer(uv_timer_t *t)
{
    struct ctr *c = t->data;
    log_info("container %s did not stop in time: SIGKILL", c->id);
    if (c->sig_timer) {
        uv_close((uv_handle_t *)c->sig_timer, on_kill_timer_closed);
        c->sig_timer = NULL;
    }
    send_signal(c, SIGKILL);
    stop_kill_timer(c);
}

/* Signal the container to stop, and SIGKILL it after timeout seconds (at once if 0). */
static void start_stop(struct ctr *c, int64_t timeout)
{
    if (ctr_fire(c, timeout <= 0 ? CRI_CTR_EVENT_KILL : CRI_CTR_EVENT_STOP, NULL) < 0)
        return;
    /* A created container's process is still the runtime's init: nothing to stop gracefully. */
    if (timeout <= 0 || c->state == CRI_CTR_CREATED) {
        send_signal(c, SIGKILL);
        return;
    }
    c->sig_sent = false;
    if (!stop_signal_step(c) && !c->sig_timer) {
        c->sig_timer = xcalloc(1, sizeof(*c->sig_timer));
        uv_timer_init(c->cri->loop, c->sig_timer);
        c->sig_timer->data = c;
        uv_timer_start(c->sig_timer, on_sig_retry, 50, 50);
    }
    if (!c->kill_timer) {
        c->kill_timer = xcalloc(1, sizeof(*c->kill_timer));
        uv_timer_init(c->cri->loop, c->kill_timer);
        c->kill_timer->data = c;
    }
    uint64_t ms = (uint64_t)timeout > UINT64_MAX / 1000 ? UINT64_MAX : (uint64_t)timeout * 1000;
    uv_timer_start(c->kill_timer, on_kill_timer, ms, 0);
}

/* ---- CreateContainer ---- */

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
        close(TAKE_FD(w->pidns_fd));
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
    log_debug("container %s: -> %s on create", c->id, cri_ctr_state_name(c->state));
    enter_created(c);
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
    int pidfd = monitor_ctr_pidfd(t->mon);
    if (pidfd < 0)
        return err_set(err, -ENOENT, "target container `%s` of the PID namespace has ended",
                       target_id);
    cleanup_free char *path = xasprintf("/proc/%d/ns/pid", t->pid);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(err, -ENOENT, "target container `%s` of the PID namespace: %s: %s",
                       target_id, path, strerror(errno));
    /* Alive after the open: the pid was still the process behind the pidfd when we opened. */
    if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
        return err_set(err, -ENOENT, "target container `%s` of the PID namespace has ended",
                       target_id);
    snprintf(buf, len, "/proc/%d/fd/%d", (int)getpid(), fd);
    *ret_fd = TAKE_FD(fd);
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
    if (cgroups_path[0] != '/')
        return NULL;
    if (oci_cgroup_is_v2())
        return xasprintf("/sys/fs/cgroup%s/memory.events", cgroups_path);
    return xasprintf("/sys/fs/cgroup/memory%s/memory.oom_control", cgroups_path);
}

static int check_create(struct cri *cri, const Runtime__V1__CreateContainerRequest *r,
                        struct pod **ret_pod, struct err *err)
{
    const Runtime__V1__ContainerConfig *cfg = r->config;
    if (!cfg || !cfg->metadata || !*cfg->metadata->name)
        return err_set(err, -EINVAL, "container config with metadata.name is required");
    if (!cfg->image || !*cfg->image->image)
        return err_set(err, -EINVAL, "container config has no image");
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

/* What the monitor of c, a container of p, is made with (a new one, or one re-adopted). */
static struct monitor_ctr_opts monitor_opts(struct ctr *c, const struct pod *p)
{
    return (struct monitor_ctr_opts){
        .id = c->id,
        .name = c->config->metadata->name,
        .pod_namespace = p->config->metadata->namespace_,
        .pod_name = p->config->metadata->name,
        .pod_uid = p->config->metadata->uid,
        .run_dir = c->run_dir,
        .log_path = c->log_path,
        .log_dir = p->config->log_directory,
        .oom_file = c->oom_file,
        .tty = c->config->tty,
        .open_stdin = c->config->stdin,
        .on_exit = on_ctr_exit,
        .on_init_exit = on_ctr_init_exit,
        .data = c,
    };
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
    struct monitor_ctr_opts mo = monitor_opts(c, p);
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

/* ---- StartContainer ---- */

struct start_work {
    struct ctr *c;
    struct grpc_call *call;
};

/* The init ended before the runtime's `start` returned: it did start. */
static void started_after_exit(struct ctr *c)
{
    if (c->started_at == 0)
        c->started_at = c->finished_at;
    cri_ctr_persist(c);
    log_info("container %s started", c->id);
    publish(c, RUNTIME__V1__CONTAINER_EVENT_TYPE__CONTAINER_STARTED_EVENT);
}

static void on_start_done(int status, const struct reactor_child_result *res, struct err *err,
                          void *data)
{
    struct start_work *w = data;
    struct ctr *c = w->c;
    if (status < 0) {
        log_error("start container %s: %s", c->id, err_msg(err));
        cri_reply_err(w->call, err);
    } else {
        enum cri_ctr_state was = c->state;
        ctr_fire(c, CRI_CTR_EVENT_START, NULL);
        if (c->state == was)
            started_after_exit(c);
        Runtime__V1__StartContainerResponse resp = RUNTIME__V1__START_CONTAINER_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
    }
    reactor_grpc_call_unref(w->call);
    free(w);
    op_done(c);
}

static void op_start(void *obj, struct grpc_call *call, int64_t arg)
{
    struct ctr *c = obj;
    struct err err = ERR_INIT;
    struct oci_runtime rt;
    if (c->state != CRI_CTR_CREATED) {
        err_set(&err, -EINVAL, "container %s is %s, not created", c->id,
                cri_ctr_state_name(c->state));
        goto fail;
    }
    if (cri_runtime_of(c->cri, c->runtime, &rt, &err) < 0)
        goto fail;
    struct start_work *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->call = reactor_grpc_call_ref(call);
    struct oci_verb v = {.type = OCI_VERB_START, .id = c->id};
    if (oci_runtime_call(c->cri->loop, &rt, &v, NULL, on_start_done, w, NULL, &err) < 0) {
        reactor_grpc_call_unref(w->call);
        free(w);
        goto fail;
    }
    return;
fail:
    cri_reply_err(call, &err);
    err_done(&err);
    op_done(c);
}

void cri_start_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__StartContainerRequest *r = (const void *)req;
    enqueue(cri, call, r->container_id, op_start, 0, false);
}

/* ---- StopContainer ---- */

static void on_stopped(struct ctr *c, void *data)
{
    struct grpc_call *call = data;
    Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
    cri_reply(call, &resp.base);
    reactor_grpc_call_unref(call);
    op_done(c);
}

static void op_stop(void *obj, struct grpc_call *call, int64_t timeout)
{
    struct ctr *c = obj;
    if (cri_ctr_next(c->state, CRI_CTR_EVENT_STOP) == CRI_CTR_INVALID) { /* nothing to stop */
        Runtime__V1__StopContainerResponse resp = RUNTIME__V1__STOP_CONTAINER_RESPONSE__INIT;
        cri_reply(call, &resp.base);
        op_done(c);
        return;
    }
    log_info("stopping container %s with %s, %llds before SIGKILL", c->id, c->stop_signal,
             (long long)timeout);
    start_stop(c, timeout);
    wait_exit(c, on_stopped, reactor_grpc_call_ref(call));
}

void cri_stop_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__StopContainerRequest *r = (const void *)req;
    enqueue(cri, call, r->container_id, op_stop, r->timeout, false);
}

/* ---- RemoveContainer ---- */

struct remove_work {
    struct ctr *c;
    struct grpc_call *call; /* NULL when the pod removes its containers */
    void (*done)(void *data);
    void *data;
};

/* The record is gone from disk: only now is the removal answered, so that a crash after the
 * answer cannot bring the container back. */
static void on_record_removed(int status, const char *path, void *data)
{
    struct remove_work *w = data;
    struct ctr *c = w->c;
    if (status < 0)
        log_error("container %s: remove %s: %s", c->id, path, strerror(-status));
    if (w->call) {
        Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
        cri_reply(w->call, &resp.base);
        reactor_grpc_call_unref(w->call);
    }
    if (w->done)
        w->done(w->data);
    free(w);
    op_done(c);
    cri_ctr_unref(c); /* the registry's */
}

static void remove_finish(struct remove_work *w)
{
    struct ctr *c = w->c;
    struct cri *cri = c->cri;
    if (c->mon) {
        monitor_ctr_close(c->mon);
        c->mon = NULL;
    }
    monitor_ctr_remove_files(c->run_dir);
    int r = storage_rootfs_remove(cri->storage, c->id, c->layers, c->n_layers);
    if (r < 0)
        log_error("container %s: unmount its rootfs: %s", c->id, strerror(-r));
    fs_remove_tree(c->run_dir);
    ctr_fire(c, CRI_CTR_EVENT_REMOVE, NULL);
    /* Calls still waiting for this container find it gone, and drop their refs. */
    for (size_t n = cri_opqueue_clear(&c->ops, NULL, "container was removed"); n > 0; n--)
        cri_ctr_unref(c);
    cleanup_free char *path = cri_ctr_record_path(cri, c->id);
    reactor_fileq_put(cri->ctr_writes, path, NULL, on_record_removed, w);
}

static void on_deleted(int status, const struct reactor_child_result *res, struct err *err,
                       void *data)
{
    struct remove_work *w = data;
    if (status < 0 && status != -ECANCELED)
        log_error("container %s: %s", w->c->id, err_msg(err)); /* removed anyway */
    remove_finish(w);
}

static void remove_exited(struct ctr *c, void *data)
{
    struct remove_work *w = data;
    struct oci_runtime rt;
    struct err err = ERR_INIT;
    struct oci_verb v = {.type = OCI_VERB_DELETE, .id = c->id, .del = {.force = true}};
    if (cri_runtime_of(c->cri, c->runtime, &rt, &err) < 0 ||
        oci_runtime_call(c->cri->loop, &rt, &v, NULL, on_deleted, w, NULL, &err) < 0) {
        log_error("container %s: %s", c->id, err_msg(&err));
        remove_finish(w);
    }
    err_done(&err);
}

static void start_remove(struct ctr *c, struct grpc_call *call, void (*done)(void *), void *data)
{
    struct remove_work *w = xcalloc(1, sizeof(*w));
    w->c = c;
    w->call = call ? reactor_grpc_call_ref(call) : NULL;
    w->done = done;
    w->data = data;
    start_stop(c, 0);
    wait_exit(c, remove_exited, w);
}

static void op_remove(void *obj, struct grpc_call *call, int64_t arg)
{
    struct ctr *c = obj;
    if (!c) {
        Runtime__V1__RemoveContainerResponse resp = RUNTIME__V1__REMOVE_CONTAINER_RESPONSE__INIT;
        cri_reply(call, &resp.base);
        return;
    }
    start_remove(c, call, NULL, NULL);
}

void cri_remove_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__RemoveContainerRequest *r = (const void *)req;
    enqueue(cri, call, r->container_id, op_remove, 0, true);
}

/* ---- the pod's containers ---- */

struct pod_sweep {
    unsigned pending;
    void (*done)(void *data);
    void *data;
};

static void sweep_one_done(void *data)
{
    struct pod_sweep *s = data;
    if (--s->pending == 0) {
        s->done(s->data);
        free(s);
    }
}

static void sweep_exited(struct ctr *c, void *data)
{
    sweep_one_done(data);
}

void cri_ctrs_stop_pod(struct cri *cri, const char *pod_id, bool remove, void (*done)(void *data),
                       void *data)
{
    struct pod_sweep *s = xcalloc(1, sizeof(*s));
    s->done = done;
    s->data = data;
    s->pending = 1;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        if (strcmp(c->pod_id, pod_id) == 0)
            s->pending++;
    for (struct ctr *c = cri->ctrs, *next; c; c = next) {
        next = c->next;
        if (strcmp(c->pod_id, pod_id) != 0)
            continue;
        if (remove) {
            cri_ctr_ref(c); /* dropped by op_done */
            cri_opqueue_take(&c->ops);
            start_remove(c, NULL, sweep_one_done, s);
        } else {
            start_stop(c, 0);
            wait_exit(c, sweep_exited, s);
        }
    }
    sweep_one_done(s);
}

bool cri_ctrs_in_pod(struct cri *cri, const char *pod_id)
{
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        if (strcmp(c->pod_id, pod_id) == 0)
            return true;
    return false;
}

/* ---- ContainerStatus and ListContainers ---- */

static Runtime__V1__ContainerState proto_state(enum cri_ctr_state s)
{
    switch (s) {
    case CRI_CTR_CREATED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    case CRI_CTR_RUNNING:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    case CRI_CTR_EXITED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    default:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
    }
}

/* The config's label and annotation entries share the layout of every other map entry type. */
#define COPY_MAP(dst, n_dst, src, n_src, init)                                                     \
    do {                                                                                           \
        (n_dst) = (n_src);                                                                         \
        (dst) = xcalloc((n_src) + 1, sizeof(*(dst)));                                              \
        for (size_t i_ = 0; i_ < (n_src); i_++) {                                                  \
            (dst)[i_] = xmalloc(sizeof(*(dst)[i_]));                                               \
            *(dst)[i_] = (typeof(*(dst)[i_]))init;                                                 \
            (dst)[i_]->key = (src)[i_]->key;                                                       \
            (dst)[i_]->value = (src)[i_]->value;                                                   \
        }                                                                                          \
    } while (0)

static void free_map(void **entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i]);
    free(entries);
}

static char *status_info(struct ctr *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "pid", c->pid);
    cJSON_AddStringToObject(j, "sandboxID", c->pod_id);
    cJSON_AddStringToObject(j, "runtime", c->runtime);
    cJSON_AddStringToObject(j, "bundle", c->run_dir);
    cJSON_AddStringToObject(j, "cgroupsPath", c->cgroups_path);
    cleanup_free char *spec_path = xasprintf("%s/config.json", c->run_dir);
    struct buf b = {0};
    if (fs_read_file(spec_path, RECORD_MAX, &b) == 0) {
        cJSON *spec = cJSON_Parse((const char *)b.data);
        if (spec)
            cJSON_AddItemToObject(j, "runtimeSpec", spec);
    }
    buf_done(&b);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

void cri_container_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ContainerStatusRequest *r = (const void *)req;
    struct ctr *c = cri_ctr_find(cri, r->container_id);
    if (!c) {
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "container `%s` not found", r->container_id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    const Runtime__V1__ContainerConfig *cfg = c->config;
    Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__ContainerResources res = RUNTIME__V1__CONTAINER_RESOURCES__INIT;
    st.id = c->id;
    st.metadata = cfg->metadata;
    st.state = proto_state(c->state);
    st.created_at = c->created_at;
    st.started_at = c->started_at;
    st.finished_at = c->finished_at;
    st.exit_code = c->exit_code;
    image.image = c->image_name;
    st.image = &image;
    st.image_ref = c->image_ref;
    st.image_id = c->image_id;
    st.reason = c->reason ? c->reason : "";
    st.message = c->message ? c->message : "";
    COPY_MAP(st.labels, st.n_labels, cfg->labels, cfg->n_labels,
             RUNTIME__V1__CONTAINER_STATUS__LABELS_ENTRY__INIT);
    COPY_MAP(st.annotations, st.n_annotations, cfg->annotations, cfg->n_annotations,
             RUNTIME__V1__CONTAINER_STATUS__ANNOTATIONS_ENTRY__INIT);
    st.mounts = cfg->mounts;
    st.n_mounts = cfg->n_mounts;
    st.log_path = c->log_path;
    if (cfg->linux && cfg->linux->resources) {
        res.linux = cfg->linux->resources;
        st.resources = &res;
    }
    Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    resp.status = &st;
    Runtime__V1__ContainerStatusResponse__InfoEntry info =
        RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__ContainerStatusResponse__InfoEntry *infos[1] = {&info};
    cleanup_free char *info_json = NULL;
    if (r->verbose) {
        info_json = status_info(c);
        info.key = "info";
        info.value = info_json;
        resp.info = infos;
        resp.n_info = 1;
    }
    cri_reply(call, &resp.base);
    free_map((void **)st.labels, st.n_labels);
    free_map((void **)st.annotations, st.n_annotations);
}

static bool ctr_matches(const struct ctr *c, const Runtime__V1__ContainerFilter *f)
{
    if (!f)
        return true;
    if (*f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
        return false;
    if (*f->pod_sandbox_id && strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)))
        return false;
    if (f->state && proto_state(c->state) != f->state->state)
        return false;
    for (size_t i = 0; i < f->n_label_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < c->config->n_labels && !found; k++)
            found = strcmp(c->config->labels[k]->key, f->label_selector[i]->key) == 0 &&
                    strcmp(c->config->labels[k]->value, f->label_selector[i]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}

void cri_list_containers(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListContainersRequest *r = (const void *)req;
    size_t n = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        n++;
    Runtime__V1__Container *items = xcalloc(n + 1, sizeof(*items));
    Runtime__V1__ImageSpec *images = xcalloc(n + 1, sizeof(*images));
    Runtime__V1__Container **ptrs = xcalloc(n + 1, sizeof(*ptrs));
    size_t k = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (!ctr_matches(c, r->filter))
            continue;
        Runtime__V1__Container *it = &items[k];
        *it = (Runtime__V1__Container)RUNTIME__V1__CONTAINER__INIT;
        images[k] = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
        images[k].image = c->image_name;
        it->id = c->id;
        it->pod_sandbox_id = c->pod_id;
        it->metadata = c->config->metadata;
        it->image = &images[k];
        it->image_ref = c->image_ref;
        it->image_id = c->image_id;
        it->state = proto_state(c->state);
        it->created_at = c->created_at;
        COPY_MAP(it->labels, it->n_labels, c->config->labels, c->config->n_labels,
                 RUNTIME__V1__CONTAINER__LABELS_ENTRY__INIT);
        COPY_MAP(it->annotations, it->n_annotations, c->config->annotations,
                 c->config->n_annotations, RUNTIME__V1__CONTAINER__ANNOTATIONS_ENTRY__INIT);
        ptrs[k++] = it;
    }
    Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    resp.containers = ptrs;
    resp.n_containers = k;
    cri_reply(call, &resp.base);
    for (size_t i = 0; i < k; i++) {
        free_map((void **)items[i].labels, items[i].n_labels);
        free_map((void **)items[i].annotations, items[i].n_annotations);
    }
    free(items);
    free(images);
    free(ptrs);
}

/* ---- reload after a restart ---- */

/* A container that was created or running when the daemon stopped: watch it again if its
 * process is still there, else it exited while nobody watched. */
static void readopt(struct cri *cri, struct ctr *c)
{
    struct err err = ERR_INIT;
    struct pod *p = cri_pod_find(cri, c->pod_id);
    /* A pod that lost its run state (a reboot): whatever has this pid now is not ours. */
    bool lost = p && p->lost;
    bool alive = !lost && c->pid > 0 && monitor_proc_start_time(c->pid) == c->pid_start;
    if (alive && p) {
        struct monitor_ctr_opts mo = monitor_opts(c, p);
        mo.reopen = true;
        if (monitor_ctr_new(cri->monitor, &mo, &c->mon, &err) == 0 &&
            monitor_ctr_adopt(c->mon, c->pid, &err) == 0) {
            log_info("container %s: watching process %d again", c->id, c->pid);
            ctr_fire(c, CRI_CTR_EVENT_RESTART_ADOPT, NULL);
            err_done(&err);
            return;
        }
        log_error("container %s: %s", c->id, err_msg(&err));
        err_done(&err);
        return;
    }
    /* Nobody subscribes to events yet, nor waits for this exit. */
    struct ctr_exit x = {
        .finished_at = now_unix_ns(),
        .exit_code = 255,
        .reason = "Error",
        .message = lost ? "the node rebooted (or the run root was cleared) while the container ran"
                        : "the container ended while cribd was not running",
    };
    ctr_fire(c, CRI_CTR_EVENT_EXIT, &x);
}

int cri_ctrs_load(struct cri *cri, struct err *err)
{
    int r = fs_mkdir_p(cri->ctrs_dir, 0700);
    if (r == 0)
        r = fs_mkdir_p(cri->ctrs_run, 0711);
    if (r < 0)
        return err_set(err, r, "container directories: %s", strerror(-r));
    struct dirent **names = NULL;
    int n = scandir(cri->ctrs_dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        const char *name = names[i]->d_name;
        size_t len = strlen(name);
        if (len > 5 && strcmp(name + len - 5, ".json") == 0) {
            cleanup_free char *path = xasprintf("%s/%s", cri->ctrs_dir, name);
            struct buf b = {0};
            struct ctr *c = NULL;
            if (fs_read_file(path, RECORD_MAX, &b) == 0)
                c = cri_ctr_record_parse(cri, (const char *)b.data);
            buf_done(&b);
            if (!c) {
                log_error("container record %s is unreadable: left alone", path);
            } else {
                cleanup_free char *rootfs = NULL;
                struct err e2 = ERR_INIT;
                if (storage_rootfs_mount(cri->storage, c->id, c->layers, c->n_layers, &rootfs,
                                         &e2) < 0)
                    log_error("container %s: %s", c->id, err_msg(&e2));
                err_done(&e2);
                LIST_PREPEND(cri->ctrs, c);
                if (cri_ctr_state_live(c->state))
                    readopt(cri, c);
            }
        }
        free(names[i]);
    }
    free(names);
    return 0;
}

void cri_ctrs_shutdown(struct cri *cri)
{
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        stop_kill_timer(c);
        if (c->mon) {
            monitor_ctr_close(c->mon);
            c->mon = NULL;
        }
    }
}

void cri_ctrs_free(struct cri *cri)
{
    while (cri->ctrs) {
        struct ctr *c = cri->ctrs;
        LIST_REMOVE(cri->ctrs, c);
        while (c->exit_waiters) {
            struct ctr_exit_waiter *w = c->exit_waiters;
            c->exit_waiters = w->next;
            free(w);
        }
        ctr_free(c);
    }
}
