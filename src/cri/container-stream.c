/* Exec, Attach and PortForward: the calls hand out a URL of the streaming server (stream/), and
 * this file is that server's backend: `runc exec` children wired to a session, the container's
 * own stdio for attach, sockets in the pod's network namespace for port-forward. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "network/network.h"
#include "stream/stream.h"

static void reply_err(struct grpc_call *call, struct err *err)
{
    cri_reply_err(call, err);
    err_done(err);
}

static int check_streams(bool in, bool out, bool err_wanted, bool tty, struct err *err)
{
    if (!in && !out && !err_wanted)
        return err_set(err, -EINVAL, "one of stdin, stdout and stderr must be requested");
    if (tty && err_wanted)
        return err_set(err, -EINVAL,
                       "tty and stderr cannot both be requested (a tty has one "
                       "output stream)");
    return 0;
}

static void reply_url(struct cri *cri, struct grpc_call *call, struct stream_request *sr,
                      ProtobufCMessage *resp, char **url_field)
{
    struct err err = ERR_INIT;
    if (!cri->stream) {
        stream_request_free(sr);
        err_set(&err, -EAGAIN, "the streaming server is not running");
        return reply_err(call, &err);
    }
    char *url;
    if (stream_server_url(cri->stream, sr, &url, &err) < 0)
        return reply_err(call, &err);
    *url_field = url;
    cri_reply(call, resp);
    free(url);
}

void cri_exec(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ExecRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_exec_target(cri, r->container_id, r->n_cmd, &err);
    if (!c)
        return reply_err(call, &err);
    if (check_streams(r->stdin, r->stdout, r->stderr, r->tty, &err) < 0)
        return reply_err(call, &err);
    struct stream_request *sr = xcalloc(1, sizeof(*sr));
    sr->kind = STREAM_EXEC;
    sr->container_id = xstrdup(c->id);
    sr->cmd = xcalloc(r->n_cmd + 1, sizeof(*sr->cmd));
    for (size_t i = 0; i < r->n_cmd; i++)
        sr->cmd[i] = xstrdup(r->cmd[i]);
    sr->tty = r->tty;
    sr->in = r->stdin;
    sr->out = r->stdout;
    sr->err = r->stderr;
    Runtime__V1__ExecResponse resp = RUNTIME__V1__EXEC_RESPONSE__INIT;
    reply_url(cri, call, sr, &resp.base, &resp.url);
}

void cri_attach(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__AttachRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_running(cri, r->container_id, &err);
    if (!c)
        return reply_err(call, &err);
    if (check_streams(r->stdin, r->stdout, r->stderr, r->tty, &err) < 0)
        return reply_err(call, &err);
    if (r->stdin && !c->config->stdin) {
        err_set(&err, -EINVAL, "container %s was not created with stdin", c->id);
        return reply_err(call, &err);
    }
    struct stream_request *sr = xcalloc(1, sizeof(*sr));
    sr->kind = STREAM_ATTACH;
    sr->container_id = xstrdup(c->id);
    sr->tty = c->config->tty; /* the container's stdio decides, not the request */
    sr->in = r->stdin;
    sr->out = r->stdout;
    sr->err = r->stderr && !c->config->tty;
    Runtime__V1__AttachResponse resp = RUNTIME__V1__ATTACH_RESPONSE__INIT;
    reply_url(cri, call, sr, &resp.base, &resp.url);
}

void cri_port_forward(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__PortForwardRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct pod *pod = cri_pod_find(cri, r->pod_sandbox_id);
    if (!pod) {
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", r->pod_sandbox_id);
        return reply_err(call, &err);
    }
    if (pod->state != POD_READY) {
        err_set(&err, -EINVAL, "pod sandbox %s is not ready", pod->id);
        return reply_err(call, &err);
    }
    for (size_t i = 0; i < r->n_port; i++) {
        if (r->port[i] < 1 || r->port[i] > 65535) {
            err_set(&err, -EINVAL, "port %d is out of range", r->port[i]);
            return reply_err(call, &err);
        }
    }
    struct stream_request *sr = xcalloc(1, sizeof(*sr));
    sr->kind = STREAM_PORTFORWARD;
    sr->pod_id = xstrdup(pod->id);
    sr->n_ports = r->n_port;
    sr->ports = xcalloc(r->n_port + 1, sizeof(*sr->ports));
    if (r->n_port)
        memcpy(sr->ports, r->port, r->n_port * sizeof(*sr->ports));
    Runtime__V1__PortForwardResponse resp = RUNTIME__V1__PORT_FORWARD_RESPONSE__INIT;
    reply_url(cri, call, sr, &resp.base, &resp.url);
}

/* ---- exec sessions: a `runc exec` child per session ---- */

struct exec_sess {
    struct cri *cri;
    struct stream_proc *p; /* NULL once the session has released us */
    struct reactor_child *child;
    struct monitor_console *console;
    char *process_path, *log_path, *pid_path;
    char *ctr_id;
    bool running;
    int pid;    /* the process, once the detached runtime has started it */
    int master; /* tty: kept until the session takes it */
};

static void exec_sess_free(struct exec_sess *x)
{
    monitor_console_close(x->console);
    if (x->master >= 0)
        close(x->master);
    if (x->pid_path)
        unlink(x->pid_path);
    free(x->pid_path);
    if (x->process_path)
        unlink(x->process_path);
    if (x->log_path)
        unlink(x->log_path);
    free(x->process_path);
    free(x->log_path);
    free(x->ctr_id);
    free(x);
}

static void end_session(struct exec_sess *x, int code, const char *msg)
{
    if (!x->p)
        return;
    struct stream_proc *p = x->p;
    x->p = NULL;
    stream_proc_exit(p, code, msg);
}

static void on_proc_exit(const struct reactor_pid_exit *e, void *data)
{
    struct exec_sess *x = data;
    x->running = false;
    end_session(x, e->status_known ? e->exit_code : 0,
                e->status_known ? NULL : "the command's exit status is unknown");
    exec_sess_free(x);
}

/* An exec's runtime runs detached: it exits once the command runs, which is then watched through
 * a pidfd (it is ours as the subreaper). Attached, runc would wait for the end of its copies of
 * the command's output, which anything the command left running in the background holds open. */
static void on_started(int status, const struct reactor_child_result *res, struct exec_sess *x,
                       struct err *err)
{
    struct buf b = {0};
    int pid = 0;
    if (status == 0 && res->exit_status != 0) {
        /* The runtime could not start the command: say why rather than "255". */
        cleanup_free char *why = x->log_path ? oci_runtime_log_error(x->log_path) : NULL;
        err_set(err, -EIO, "%s", why ? why : "the runtime could not start the command");
        x->running = false;
        end_session(x, (int)res->exit_status, err_msg(err));
        exec_sess_free(x);
        return;
    }
    if (status == 0 && fs_read_file(x->pid_path, 64, &b) == 0)
        pid = atoi((const char *)b.data);
    buf_done(&b);
    if (status == 0 && pid <= 0)
        status = err_set(err, -EIO, "runtime left no pid in %s", x->pid_path);
    if (status == 0 && (status = reactor_pid_watch(x->cri->pids, pid, on_proc_exit, x, NULL)) < 0)
        err_set(err, status, "watch process %d: %s", pid, strerror(-status));
    if (status < 0) {
        x->running = false;
        end_session(x, 0, err_msg(err));
        exec_sess_free(x);
        return;
    }
    x->pid = pid;
    if (x->p && x->master >= 0) {
        int again = fcntl(x->master, F_DUPFD_CLOEXEC, 0);
        stream_proc_set_fds(x->p, x->master, again, -1);
    } else if (x->master >= 0) {
        close(x->master); /* the client left: the command gets SIGHUP */
    }
    x->master = -1;
}

static void on_exec_exit(int status, const struct reactor_child_result *res, struct err *err,
                         void *data)
{
    struct exec_sess *x = data;
    x->child = NULL;
    on_started(status, res, x, err);
}

static void on_exec_master(int master, void *data)
{
    struct exec_sess *x = data;
    if (x->master >= 0)
        close(x->master);
    x->master = master; /* handed over once the runtime is done (on_tty_started) */
}

static void exec_fail(struct stream_proc *p, struct exec_sess *x, struct err *err)
{
    log_warn("exec in container %s: %s", x->ctr_id, err_msg(err));
    x->p = NULL;
    stream_proc_exit(p, 0, err_msg(err));
    exec_sess_free(x);
}

/* Pipes for a command without a tty: the child's ends blocking, ours nonblocking for the loop.
 * Streams the client did not ask for go to /dev/null. On failure the caller closes what is open. */
static int open_exec_pipes(const struct stream_request *req, int fds[3], int ours[3],
                           struct err *err)
{
    for (int i = 0; i < 3; i++) {
        bool wanted = i == 0 ? req->in : i == 1 ? req->out : req->err;
        int pp[2];
        if (!wanted) {
            fds[i] = open("/dev/null", (i ? O_WRONLY : O_RDONLY) | O_CLOEXEC);
            continue;
        }
        if (pipe2(pp, O_CLOEXEC) < 0)
            return err_set(err, -errno, "pipe: %s", strerror(errno));
        fds[i] = i == 0 ? pp[0] : pp[1];
        ours[i] = i == 0 ? pp[1] : pp[0];
    }
    return 0;
}

static void close_fds(const int fds[3])
{
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* `runc exec --detach` with the command's stdio on fds, or on the console; on_exec_exit follows. */
static int call_exec(struct exec_sess *x, struct ctr *c, const struct oci_runtime *rt, int *fds,
                     struct err *err)
{
    const char *console = x->console ? monitor_console_path(x->console) : NULL;
    x->pid_path = xasprintf("%s.pid", x->process_path);
    struct oci_verb v = {
        .type = OCI_VERB_EXEC,
        .id = c->id,
        .exec = {.process_path = x->process_path,
                 .pid_file = x->pid_path,
                 .console_socket = console,
                 .detach = true},
    };
    struct oci_runtime_opts o = {
        .stdio_fds = console ? NULL : fds,
        .log_path = x->log_path,
        .timeout_ms = UINT64_MAX / 2, /* an interactive command runs as long as it likes */
    };
    return oci_runtime_call(x->cri->loop, rt, &v, &o, on_exec_exit, x, &x->child, err);
}

/* The command's stdio (a console, or pipes), then the runtime; once it runs, our ends of the pipes
 * belong to the session. */
static int start_exec(struct exec_sess *x, struct ctr *c, const struct oci_runtime *rt,
                      const struct stream_request *req, struct err *err)
{
    int fds[3] = {-1, -1, -1}, ours[3] = {-1, -1, -1};
    int r;
    if (req->tty)
        r = monitor_console_new(x->cri->loop, c->run_dir, on_exec_master, x, &x->console, err);
    else
        r = open_exec_pipes(req, fds, ours, err);
    if (r >= 0)
        r = call_exec(x, c, rt, fds, err);
    close_fds(fds);
    if (r < 0) {
        close_fds(ours);
        return r;
    }
    x->running = true;
    if (!x->console)
        stream_proc_set_fds(x->p, ours[0], ours[1], ours[2]);
    return 0;
}

static void backend_exec(void *data, struct stream_proc *p, const struct stream_request *req)
{
    struct cri *cri = data;
    struct err err = ERR_INIT;
    struct exec_sess *x = xcalloc(1, sizeof(*x));
    x->cri = cri;
    x->p = p;
    x->ctr_id = xstrdup(req->container_id);
    x->master = -1;
    stream_proc_set_backend(p, x);
    struct ctr *c = cri_ctr_running(cri, req->container_id, &err);
    struct oci_runtime rt;
    size_t n = 0;
    while (req->cmd[n])
        n++;
    if (!c || cri_runtime_of(cri, c->runtime, &rt, &err) < 0)
        goto fail;
    x->process_path = cri_exec_process_file(c, req->cmd, n, req->tty, &err);
    if (!x->process_path)
        goto fail;
    x->log_path = xasprintf("%s.log", x->process_path);
    if (start_exec(x, c, &rt, req, &err) < 0)
        goto fail;
    return;
fail:
    exec_fail(p, x, &err);
    err_done(&err);
}

/* ---- attach: the container's own stdio, held by the monitor ---- */

struct attach_sess {
    struct stream_proc *p;
    struct monitor_attach *a;
    char *ctr_id;
    bool stdin_once;
};

static void attach_output(int fd, const char *data, size_t len, void *arg)
{
    struct attach_sess *x = arg;
    stream_proc_output(x->p, fd, data, len);
}

static void attach_end(void *arg)
{
    struct attach_sess *x = arg;
    x->a = NULL; /* freed by the monitor */
    stream_proc_exit(x->p, 0, NULL);
}

static void backend_attach(void *data, struct stream_proc *p, const struct stream_request *req)
{
    struct cri *cri = data;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_running(cri, req->container_id, &err);
    if (c && !c->mon)
        err_set(&err, -EINVAL, "container %s is not watched by this daemon", c->id);
    if (!c || !c->mon) {
        stream_proc_exit(p, 0, err_msg(&err));
        err_done(&err);
        return;
    }
    struct attach_sess *x = xcalloc(1, sizeof(*x));
    x->p = p;
    x->ctr_id = xstrdup(c->id);
    x->stdin_once = c->config->stdin_once;
    stream_proc_set_backend(p, x);
    x->a = monitor_ctr_attach(c->mon, attach_output, attach_end, x);
    if (!x->a) {
        stream_proc_exit(p, 0, "the container has exited");
        return;
    }
    /* stdin, and for a tty the pty master for resizes even without stdin. */
    if (req->in || req->tty) {
        int in = monitor_ctr_input_fd(c->mon);
        if (in >= 0)
            stream_proc_set_fds(p, in, -1, -1);
    }
}

static void backend_stdin_closed(void *data, struct stream_proc *p)
{
    struct cri *cri = data;
    struct attach_sess *x = stream_proc_backend(p);
    if (!x || !x->ctr_id || !x->stdin_once)
        return;
    struct ctr *c = cri_ctr_find(cri, x->ctr_id);
    if (c && c->mon)
        monitor_ctr_close_stdin(c->mon);
}

/* ---- the server's backend ---- */

static void backend_release(void *data, struct stream_proc *p)
{
    void *b = stream_proc_backend(p);
    if (!b)
        return;
    if (stream_proc_kind(p) == STREAM_ATTACH) {
        struct attach_sess *x = b;
        monitor_attach_close(x->a);
        free(x->ctr_id);
        free(x);
        return;
    }
    struct exec_sess *x = b;
    x->p = NULL;
    if (x->master >= 0) {
        close(x->master);
        x->master = -1;
    }
    /* The client left before the command ended: end it (runc passes the signal on; a tty's
     * command gets SIGHUP when the session closes the pty). */
    if (x->running && x->child && !x->console)
        reactor_child_cancel(x->child);
}

/* ---- port-forward: a socket in the pod's network namespace ---- */

struct pf_connect {
    stream_connect_cb cb;
    void *data;
    char *gone; /* the pod went away after the URL was made */
};

static void on_pod_socket(int fd, struct err *err, void *data)
{
    struct pf_connect *w = data;
    if (w->gone && fd >= 0) {
        close(fd);
        fd = err_set(err, -ENOENT, "pod sandbox %s is gone", w->gone);
    }
    w->cb(fd, err, w->data);
    free(w->gone);
    free(w);
}

static void backend_connect(void *data, const struct stream_request *req, uint16_t port,
                            stream_connect_cb cb, void *cb_data)
{
    struct cri *cri = data;
    struct pod *pod = cri_pod_find(cri, req->pod_id);
    struct pf_connect *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->data = cb_data;
    if (!pod || pod->state != POD_READY) {
        /* Told after a round through the pool, so that cb never runs inside connect. */
        w->gone = xstrdup(req->pod_id);
        network_socket_in(cri->loop, NULL, AF_INET, on_pod_socket, w);
        return;
    }
    cleanup_free char *netns = pod->host_network ? NULL : xasprintf("%s/ns/net", pod->run_dir);
    network_socket_in(cri->loop, netns, AF_INET, on_pod_socket, w);
}

static const struct stream_ops ops = {
    .exec = backend_exec,
    .attach = backend_attach,
    .stdin_closed = backend_stdin_closed,
    .release = backend_release,
    .connect = backend_connect,
};

int cri_stream_start(struct cri *cri, struct err *err)
{
    const struct config *cfg = cri->cfg;
    struct stream_config sc = {
        .address = cfg->stream_address,
        .port = (int)cfg->stream_port,
        .tls_cert = cfg->stream_enable_tls ? cfg->stream_tls_cert : NULL,
        .tls_key = cfg->stream_enable_tls ? cfg->stream_tls_key : NULL,
        .token_ttl_ms = (uint64_t)cfg->stream_token_ttl * 1000,
        .idle_timeout_ms = (uint64_t)cfg->stream_idle_timeout * 1000,
        .handshake_timeout_ms = (uint64_t)cfg->stream_handshake_timeout * 1000,
        .exec_drain_ms = (uint64_t)cfg->drain_exec_io_timeout * 1000,
        .max_handshakes = (size_t)cfg->stream_max_handshakes,
        .max_handshakes_per_peer = (size_t)cfg->stream_max_handshakes_per_peer,
    };
    return stream_server_start(cri->loop, &sc, &ops, cri, &cri->stream, err);
}

void cri_stream_stop(struct cri *cri)
{
    stream_server_close(cri->stream);
    cri->stream = NULL;
}
