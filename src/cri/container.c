/* Containers: StartContainer, StopContainer, RemoveContainer, their state machine and their
 * reload after a restart. CreateContainer is in container-create.c, the records in record.c,
 * ContainerStatus and ListContainers in container-status.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "cri/record.h"
#include "storage/storage.h"

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
    free(c->stats_cache);
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
    ret->systemd_cgroup = strcmp(cri->cfg->cgroup_manager, "systemd") == 0;
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
    struct pod *p = cri_pod_find(c->cri, c->pod_id);
    if (p)
        cri_events_publish(c->cri, c->id, p, type);
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
    if (strcmp(x->reason, "OOMKilled") == 0)
        cri_prometheus_oom(c->cri, c->config->metadata->name);
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

/* Reason (and message) of an exit: OOMKilled, Completed or Error; 255 when its status is not
 * known. */
static void exit_reason(struct ctr_exit *x, bool known, bool oom, const char *unknown)
{
    if (!known) {
        x->exit_code = 255;
        x->reason = "Error";
        x->message = unknown;
    } else if (oom) {
        x->reason = "OOMKilled";
    } else {
        x->reason = x->exit_code == 0 ? "Completed" : "Error";
    }
}

static void on_ctr_exit(struct monitor_ctr *m, const struct monitor_exit *e, void *data)
{
    struct ctr *c = data;
    struct ctr_exit x = {.finished_at = e->finished_at, .exit_code = e->exit_code};
    exit_reason(&x, e->status_known, e->oom_killed,
                "the exit status is not known: the container ended while no keeper or daemon "
                "of ours was its parent");
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

/* What the monitor of c, a container of p, is made with (a new one, or one re-adopted). */
struct monitor_ctr_opts cri_ctr_monitor_opts(struct ctr *c, const struct pod *p)
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

/* The runtime's `create` has returned: the container enters its first state. */
void cri_ctr_created(struct ctr *c)
{
    log_debug("container %s: -> %s on create", c->id, cri_ctr_state_name(c->state));
    enter_created(c);
}

static int send_signal(struct ctr *c, int sig)
{
    return monitor_proc_signal(c->pid, c->pid_start, sig);
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

/* Send the stop signal to the container's own process; true when nothing is left to do. A PID 1
 * ignores signals it has no handler for: stopped right after it started, it may not have
 * installed its handler yet, and the signal is sent again once it has. */
static bool stop_signal_step(struct ctr *c)
{
    if (oci_runtime_init_pending(c->pid))
        return false;
    bool caught = monitor_proc_catches(c->pid, c->stop_signo);
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
        struct monitor_ctr_opts mo = cri_ctr_monitor_opts(c, p);
        mo.reopen = true;
        if (monitor_ctr_new(cri->monitor, &mo, &c->mon, &err) == 0 &&
            monitor_ctr_adopt(c->mon, c->pid, &err) == 0) {
            log_info("container %s: watching process %d again", c->id, c->pid);
            ctr_fire(c, CRI_CTR_EVENT_RESTART_ADOPT, NULL);
            /* Started by a daemon that died before its record said so: the runtime's init has
             * made way for the container's process. */
            if (c->state == CRI_CTR_CREATED && !oci_runtime_init_pending(c->pid)) {
                log_info("container %s: started before the restart", c->id);
                ctr_fire(c, CRI_CTR_EVENT_START, NULL);
            }
            err_done(&err);
            return;
        }
        log_error("container %s: %s", c->id, err_msg(&err));
        err_done(&err);
        return;
    }
    /* Ended while no daemon ran: the keeper reaped it and kept its status. Nobody subscribes to
     * events yet, nor waits for this exit. */
    struct reactor_pid_exit e = {.status_known = false};
    int64_t ns = 0;
    bool known =
        !lost && c->pid > 0 && reactor_keeper_exit_of(cri->keeper, c->pid, c->created_at, &e, &ns);
    int64_t finished_at = known ? ns : now_unix_ns();
    if (!lost && p) {
        /* What it wrote while no daemon ran waits in its FIFOs (or pty): logged first. */
        struct monitor_ctr_opts mo = cri_ctr_monitor_opts(c, p);
        mo.reopen = true;
        if (monitor_ctr_new(cri->monitor, &mo, &c->mon, &err) == 0) {
            struct monitor_exit me = {.exit_code = e.exit_code,
                                      .signal = e.signal,
                                      .status_known = known,
                                      .finished_at = finished_at};
            log_info("container %s ended while no daemon ran", c->id);
            monitor_ctr_ended(c->mon, &me);
            return;
        }
        log_warn("container %s: its output since the restart: %s", c->id, err_msg(&err));
        err_done(&err);
        c->mon = NULL;
    }
    struct ctr_exit x = {.finished_at = finished_at, .exit_code = e.exit_code};
    exit_reason(&x, known, known && monitor_oom_seen(cri->monitor, c->oom_file),
                lost ? "the node rebooted (or the run root was cleared) while the container ran"
                     : "the exit status is not known: the container ended while cribd was not "
                       "running, and no keeper kept it");
    log_info("container %s ended while no daemon ran: %s, exit code %d", c->id, x.reason,
             x.exit_code);
    ctr_fire(c, CRI_CTR_EVENT_EXIT, &x);
}

static void load_ctr(const char *path, const char *text, int read_error, void *data)
{
    struct cri *cri = data;
    struct ctr *c = text ? cri_ctr_record_parse(cri, text) : NULL;
    if (!c) {
        log_error("container record %s is unreadable: left alone", path);
        return;
    }
    cleanup_free char *rootfs = NULL;
    struct err e2 = ERR_INIT;
    if (storage_rootfs_mount(cri->storage, c->id, c->layers, c->n_layers, &rootfs, &e2) < 0)
        log_error("container %s: %s", c->id, err_msg(&e2));
    err_done(&e2);
    LIST_PREPEND(cri->ctrs, c);
    if (cri_ctr_state_live(c->state))
        readopt(cri, c);
}

int cri_ctrs_load(struct cri *cri, struct err *err)
{
    int r = fs_mkdir_p(cri->ctrs_dir, 0700);
    if (r == 0)
        r = fs_mkdir_p(cri->ctrs_run, 0711);
    if (r < 0)
        return err_set(err, r, "container directories: %s", strerror(-r));
    r = fs_load_records(cri->ctrs_dir, CRI_RECORD_MAX, load_ctr, cri);
    return r < 0 ? err_set(err, r, "read %s: %s", cri->ctrs_dir, strerror(-r)) : 0;
}

/* ---- CreateContainer calls a daemon's death interrupted ---- */

/* A container run directory without a record (the record is written last): its rootfs is
 * unmounted at once (before the layers are pruned), the runtime's state (and with it the init and
 * the cgroup) is deleted, then the directory. */
struct unfinished_ctr {
    char *id, *run_dir;
};

static void on_unfinished_deleted(int status, const struct reactor_child_result *res,
                                  struct err *err, void *data)
{
    struct unfinished_ctr *u = data;
    int r = fs_remove_tree(u->run_dir);
    if (r < 0)
        log_warn("container %s (unfinished): remove %s: %s", u->id, u->run_dir, strerror(-r));
    else
        log_info("container %s: its CreateContainer did not finish: undone", u->id);
    free(u->id);
    free(u->run_dir);
    free(u);
}

static bool is_ctr_id(const char *s)
{
    size_t n = strlen(s);
    return n == 64 && strspn(s, "0123456789abcdef") == n;
}

static void undo_unfinished(struct cri *cri, const char *id)
{
    struct unfinished_ctr *u = xcalloc(1, sizeof(*u));
    u->id = xstrdup(id);
    u->run_dir = xasprintf("%s/%s", cri->ctrs_run, id);
    storage_rootfs_remove(cri->storage, id, NULL, 0);
    cleanup_free char *path = xasprintf("%s/handler", u->run_dir);
    struct buf handler = {0};
    fs_read_file(path, 256, &handler);
    struct oci_runtime rt;
    struct err err = ERR_INIT;
    struct oci_verb v = {.type = OCI_VERB_DELETE, .id = id, .del = {.force = true}};
    if (cri_runtime_of(cri, handler.data ? (const char *)handler.data : "", &rt, &err) < 0 ||
        oci_runtime_call(cri->loop, &rt, &v, NULL, on_unfinished_deleted, u, NULL, &err) < 0) {
        log_warn("container %s (unfinished): %s", id, err_msg(&err));
        on_unfinished_deleted(0, NULL, NULL, u);
    }
    err_done(&err);
    buf_done(&handler);
}

void cri_ctrs_undo_unfinished(struct cri *cri)
{
    char **names = fs_dir_names(cri->ctrs_run);
    for (char **name = names; *name; name++) {
        if (is_ctr_id(*name) && !cri_ctr_find(cri, *name))
            undo_unfinished(cri, *name);
        free(*name);
    }
    free(names);
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
