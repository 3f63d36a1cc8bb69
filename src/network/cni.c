/* CNI plugins run for pods: ADD through the chain of the chosen network (undone on failure),
 * DEL in reverse with the saved configuration and result; each plugin a child process with a
 * timeout, the configuration on its stdin (CNI spec 1.0). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/metrics.h"
#include "common/log.h"
#include "common/macro.h"
#include "network/cni-conf.h"
#include "network/network.h"
#include "reactor/reactor.h"

struct network {
    uv_loop_t *loop;
    char *conf_dir, *default_network;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    char *cni_path; /* plugin_dirs joined with ':' */
    uint64_t timeout_ms;
    uv_fs_event_t watch; /* inotify on conf_dir: a change is picked up without a restart */
    bool watching;
    bool shut;          /* after network_shutdown: no new handles */
    char *cached;       /* the picked configuration, until the directory changes */
    char *cached_error; /* or why none was usable */
    struct network_cni_counters counters;
};

/* The network to use now: from the cache, or picked again after a change of the directory. */
static int current_conflist(struct network *n, struct cni_conflist *ret, struct err *err)
{
    if (!n->cached && !n->cached_error) {
        struct cni_conflist c;
        struct err e = ERR_INIT;
        if (network_cni_conflist_pick(n->conf_dir, *n->default_network ? n->default_network : NULL,
                                      &c, &e) < 0) {
            n->cached_error = xstrdup(err_msg(&e));
        } else {
            n->cached = cJSON_PrintUnformatted(c.json);
            log_info("CNI network `%s` from %s", c.name, c.path ? c.path : n->conf_dir);
            network_cni_conflist_done(&c);
        }
        err_done(&e);
    }
    if (n->cached_error)
        return err_set(err, -ENOENT, "%s", n->cached_error);
    return network_cni_conflist_parse(n->cached, strlen(n->cached), "CNI configuration", ret, err);
}

static void on_conf_dir_change(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct network *n = container_of(h, struct network, watch);
    free(TAKE_PTR(n->cached));
    free(TAKE_PTR(n->cached_error));
}

static void start_watch(struct network *n)
{
    /* A directory that does not exist yet cannot be watched: then it is read on every use. */
    if (n->shut)
        return;
    uv_fs_event_init(n->loop, &n->watch);
    n->watching = uv_fs_event_start(&n->watch, on_conf_dir_change, n->conf_dir, 0) == 0;
    if (!n->watching)
        uv_close((uv_handle_t *)&n->watch, NULL);
}

enum cni_cmd {
    CNI_ADD = NETWORK_CNI_ADD,
    CNI_DEL = NETWORK_CNI_DEL,
    CNI_CHECK = NETWORK_CNI_CHECK
};

struct cni_op {
    struct network *n;
    enum cni_cmd cmd;
    struct cni_conflist conf;
    char *conf_text;
    size_t next;       /* ADD: the next plugin to run; DEL: one past it */
    size_t added;      /* ADD: plugins that succeeded */
    bool rolling_back; /* ADD failed: DELs of the chain are running */
    char *result;      /* ADD: the latest result; DEL: the saved one */
    char *id, *netns, *cni_args;
    struct cni_port_mapping *ports;
    size_t n_ports;
    char *pod_cidr;
    int64_t ingress, egress;
    struct err err;
    network_add_cb add_cb;
    network_done_cb del_cb;
    void *data;
    uint64_t started; /* uv_hrtime */
};

void network_attachment_done(struct network_attachment *a)
{
    free(a->conflist);
    free(a->result);
    for (size_t i = 0; i < a->n_ips; i++)
        free(a->ips[i]);
    free(a->ips);
    memset(a, 0, sizeof(*a));
}

int network_new(uv_loop_t *loop, const struct network_opts *o, struct network **ret)
{
    struct network *n = xcalloc(1, sizeof(*n));
    n->loop = loop;
    n->conf_dir = xstrdup(o->conf_dir);
    n->default_network = xstrdup(o->default_network ? o->default_network : "");
    n->plugin_dirs = xcalloc(o->n_plugin_dirs ? o->n_plugin_dirs : 1, sizeof(char *));
    struct buf path = {0};
    for (size_t i = 0; i < o->n_plugin_dirs; i++) {
        n->plugin_dirs[i] = xstrdup(o->plugin_dirs[i]);
        buf_printf(&path, "%s%s", i ? ":" : "", o->plugin_dirs[i]);
    }
    n->n_plugin_dirs = o->n_plugin_dirs;
    n->cni_path = buf_steal(&path);
    n->timeout_ms = o->timeout_ms ? o->timeout_ms : 60000;
    start_watch(n);
    *ret = n;
    return 0;
}

void network_free(struct network *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n_plugin_dirs; i++)
        free(n->plugin_dirs[i]);
    free(n->plugin_dirs);
    free(n->cni_path);
    free(n->cached);
    free(n->cached_error);
    free(n->conf_dir);
    free(n->default_network);
    free(n);
}

void network_shutdown(struct network *n)
{
    if (n)
        n->shut = true;
    if (n && n->watching) {
        uv_close((uv_handle_t *)&n->watch, NULL);
        n->watching = false;
    }
}

/* Without a watch (the directory was missing), nothing cached can be trusted. */
static void refresh_unwatched(struct network *n)
{
    if (n->watching)
        return;
    free(TAKE_PTR(n->cached));
    free(TAKE_PTR(n->cached_error));
    start_watch(n); /* the directory may exist by now */
}

bool network_ready(struct network *n, char **ret_msg)
{
    struct cni_conflist c;
    struct err err = ERR_INIT;
    refresh_unwatched(n);
    int r = current_conflist(n, &c, &err);
    if (r < 0) {
        *ret_msg = xstrdup(err_msg(&err));
        err_done(&err);
        return false;
    }
    network_cni_conflist_done(&c);
    return true;
}

static char *find_plugin(struct network *n, const char *type)
{
    for (size_t i = 0; i < n->n_plugin_dirs; i++) {
        char *p = xasprintf("%s/%s", n->plugin_dirs[i], type);
        if (access(p, X_OK) == 0)
            return p;
        free(p);
    }
    return NULL;
}

static void op_free(struct cni_op *op)
{
    network_cni_conflist_done(&op->conf);
    free(op->conf_text);
    free(op->result);
    free(op->id);
    free(op->netns);
    free(op->cni_args);
    for (size_t i = 0; i < op->n_ports; i++) {
        free((char *)op->ports[i].protocol);
        free((char *)op->ports[i].host_ip);
    }
    free(op->ports);
    free(op->pod_cidr);
    err_done(&op->err);
    free(op);
}

const struct network_cni_counters *network_cni_counters(const struct network *n)
{
    return &n->counters;
}

static void op_finish(struct cni_op *op)
{
    struct network_cni_counters *c = &op->n->counters;
    metrics_hist_observe(&c->latency[op->cmd], &metrics_latency_buckets,
                         (double)(uv_hrtime() - op->started) / 1e9);
    if (op->err.code < 0)
        c->errors[op->cmd]++;
    if (op->add_cb) {
        struct network_attachment att = {0};
        int status = op->err.code;
        if (status == 0) {
            att.conflist = TAKE_PTR(op->conf_text);
            att.result = op->result ? xstrdup(op->result) : xstrdup("{}");
            struct err e = ERR_INIT;
            if (network_cni_result_ips(att.result, strlen(att.result), &att.ips, &att.n_ips, &e) <
                0) {
                status = err_set(&op->err, e.code, "network `%s`: %s", op->conf.name, err_msg(&e));
                /* The result is unusable: the plugins' work stays for DEL by the caller. */
            }
            err_done(&e);
        }
        op->add_cb(status, status == 0 ? &att : NULL, &op->err, op->data);
        network_attachment_done(&att);
    } else {
        op->del_cb(op->err.code, &op->err, op->data);
    }
    op_free(op);
}

static void run_next(struct cni_op *op);

static void on_plugin_exit(int status, const struct reactor_child_result *res, void *data)
{
    struct cni_op *op = data;
    bool del = op->cmd == CNI_DEL || op->rolling_back;
    bool check = op->cmd == CNI_CHECK;
    size_t i = del ? op->next : op->next - 1;
    const char *type = cJSON_GetObjectItemCaseSensitive(op->conf.plugins[i], "type")->valuestring;
    int failed = status < 0 || res->timed_out || res->exit_status != 0;
    if (failed && !op->err.code) {
        cleanup_free char *msg =
            status < 0 ? NULL : network_cni_error_message(res->out, res->out_len);
        const char *why = status < 0       ? strerror(-status)
                          : res->timed_out ? "timed out"
                          : msg            ? msg
                          : res->err_len   ? res->err_out
                                           : "failed with no message";
        err_set(&op->err, -EIO, "CNI network `%s`: plugin %s %s: %.*s", op->conf.name, type,
                del     ? "DEL"
                : check ? "CHECK"
                        : "ADD",
                (int)strcspn(why, "\n"), why);
    }
    if (check) {
        if (failed)
            op->next = op->conf.n_plugins; /* the first failure is the answer */
    } else if (!del) {
        if (failed) {
            /* Undo the whole chain, the failed plugin included (CNI spec). */
            op->rolling_back = true;
            op->next = op->added + 1;
        } else {
            op->added++;
            free(op->result);
            op->result = xstrndup(res->out, res->out_len);
        }
    }
    run_next(op);
}

static void run_plugin(struct cni_op *op, size_t i, const char *command)
{
    const char *type = cJSON_GetObjectItemCaseSensitive(op->conf.plugins[i], "type")->valuestring;
    cleanup_free char *bin = find_plugin(op->n, type);
    if (!bin) {
        if (!op->err.code)
            err_set(&op->err, -ENOENT, "CNI network `%s`: plugin `%s` not found in %s",
                    op->conf.name, type, op->n->cni_path);
        struct reactor_child_result fake = {.exit_status = 1, .out = "", .err_out = ""};
        on_plugin_exit(0, &fake, op);
        return;
    }
    struct cni_runtime_config rc = {
        .port_mappings = op->ports,
        .n_port_mappings = op->n_ports,
        .ingress_rate = op->ingress,
        .egress_rate = op->egress,
        .pod_cidr = op->pod_cidr,
    };
    cleanup_free char *input = network_cni_plugin_stdin(&op->conf, i, op->result, &rc);
    cleanup_free char *e_cmd = xasprintf("CNI_COMMAND=%s", command);
    cleanup_free char *e_id = xasprintf("CNI_CONTAINERID=%s", op->id);
    cleanup_free char *e_ns = xasprintf("CNI_NETNS=%s", op->netns);
    cleanup_free char *e_args = xasprintf("CNI_ARGS=%s", op->cni_args);
    cleanup_free char *e_path = xasprintf("CNI_PATH=%s", op->n->cni_path);
    const char *path = getenv("PATH");
    cleanup_free char *e_syspath =
        xasprintf("PATH=%s", path ? path : "/usr/sbin:/usr/bin:/sbin:/bin");
    char *env[] = {e_cmd, e_id, e_ns, e_args, e_path, "CNI_IFNAME=eth0", e_syspath, NULL};
    char *argv[] = {bin, NULL};
    struct reactor_child_opts o = {
        .argv = argv,
        .env = env,
        .stdin_data = input,
        .stdin_len = strlen(input),
        .timeout_ms = op->n->timeout_ms,
    };
    log_debug("CNI %s %s for %s", command, type, op->id);
    int r = reactor_child_start(op->n->loop, &o, on_plugin_exit, op, NULL);
    if (r < 0)
        on_plugin_exit(r, NULL, op);
}

static void run_next(struct cni_op *op)
{
    if (op->cmd == CNI_CHECK) {
        if (op->next < op->conf.n_plugins) {
            run_plugin(op, op->next++, "CHECK");
            return;
        }
    } else if (op->cmd == CNI_ADD && !op->rolling_back) {
        if (op->next < op->conf.n_plugins) {
            run_plugin(op, op->next++, "ADD");
            return;
        }
    } else if (op->next > 0) {
        run_plugin(op, --op->next, "DEL");
        return;
    }
    op_finish(op);
}

static struct cni_op *op_new(struct network *n, const struct network_pod *pod, enum cni_cmd cmd,
                             struct err *err)
{
    struct cni_op *op = xcalloc(1, sizeof(*op));
    op->n = n;
    op->cmd = cmd;
    op->started = uv_hrtime();
    op->id = xstrdup(pod->id);
    op->netns = xstrdup(pod->netns);
    if (network_cni_args_k8s(pod->namespace_, pod->name, pod->id, pod->uid, &op->cni_args, err) <
        0) {
        op_free(op);
        return NULL;
    }
    op->ports = xcalloc(pod->n_ports ? pod->n_ports : 1, sizeof(*op->ports));
    for (size_t i = 0; i < pod->n_ports; i++) {
        op->ports[i].host_port = pod->ports[i].host_port;
        op->ports[i].container_port = pod->ports[i].container_port;
        op->ports[i].protocol = xstrdup(pod->ports[i].protocol ? pod->ports[i].protocol : "tcp");
        op->ports[i].host_ip = pod->ports[i].host_ip ? xstrdup(pod->ports[i].host_ip) : NULL;
    }
    op->n_ports = pod->n_ports;
    op->pod_cidr = pod->pod_cidr && *pod->pod_cidr ? xstrdup(pod->pod_cidr) : NULL;
    op->ingress = pod->ingress_rate;
    op->egress = pod->egress_rate;
    return op;
}

/* An operation on the configuration in use now; NULL with err when there is none. */
static struct cni_op *op_current(struct network *n, const struct network_pod *pod, enum cni_cmd cmd,
                                 struct err *err)
{
    struct cni_op *op = op_new(n, pod, cmd, err);
    refresh_unwatched(n);
    if (op && current_conflist(n, &op->conf, err) < 0) {
        op_free(op);
        return NULL;
    }
    return op;
}

void network_add(struct network *n, const struct network_pod *pod, network_add_cb cb, void *data)
{
    struct err err = ERR_INIT;
    struct cni_op *op = op_current(n, pod, CNI_ADD, &err);
    if (!op) {
        cb(err.code, NULL, &err, data);
        err_done(&err);
        return;
    }
    op->conf_text = cJSON_PrintUnformatted(op->conf.json);
    op->add_cb = cb;
    op->data = data;
    run_next(op);
}

static void start_saved(struct network *n, const struct network_pod *pod,
                        const struct network_attachment *att, enum cni_cmd cmd, network_done_cb cb,
                        void *data);

void network_del(struct network *n, const struct network_pod *pod,
                 const struct network_attachment *att, network_done_cb cb, void *data)
{
    start_saved(n, pod, att, CNI_DEL, cb, data);
}

void network_del_current(struct network *n, const struct network_pod *pod, network_done_cb cb,
                         void *data)
{
    struct err err = ERR_INIT;
    struct cni_op *op = op_current(n, pod, CNI_DEL, &err);
    if (!op) {
        cb(err.code, &err, data);
        err_done(&err);
        return;
    }
    op->next = op->conf.n_plugins;
    op->del_cb = cb;
    op->data = data;
    run_next(op);
}

void network_check(struct network *n, const struct network_pod *pod,
                   const struct network_attachment *att, network_done_cb cb, void *data)
{
    start_saved(n, pod, att, CNI_CHECK, cb, data);
}

static void start_saved(struct network *n, const struct network_pod *pod,
                        const struct network_attachment *att, enum cni_cmd cmd, network_done_cb cb,
                        void *data)
{
    struct err err = ERR_INIT;
    struct cni_op *op = op_new(n, pod, cmd, &err);
    int r = op ? network_cni_conflist_parse(att->conflist, strlen(att->conflist),
                                            "saved configuration", &op->conf, &err)
               : err.code;
    if (r < 0) {
        cb(r, &err, data);
        err_done(&err);
        if (op)
            op_free(op);
        return;
    }
    op->result = att->result ? xstrdup(att->result) : NULL;
    op->next = cmd == CNI_DEL ? op->conf.n_plugins : 0;
    /* CHECK exists from CNI 0.4.0 on, and a network may opt out of it. */
    const char *v = op->conf.cni_version;
    bool before_check = strncmp(v, "0.", 2) == 0 && strcmp(v, "0.4.0") != 0;
    if (cmd == CNI_CHECK && (op->conf.disable_check || before_check))
        op->next = op->conf.n_plugins;
    op->del_cb = cb;
    op->data = data;
    run_next(op);
}
