/* Exec, Attach and PortForward: the calls hand out a URL of the streaming server (stream/), and
 * this file is that server's backend: `runc exec` children wired to a session, the container's
 * own stdio for attach, sockets in the pod's network namespace for port-forward. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* ---- exec sessions: a command run by the runtime per session (oci/exec.c) ---- */

struct exec_sess {
    struct cri *cri;
    struct stream_proc *p; /* NULL once the session has released us */
    struct oci_exec_proc *proc;
    struct monitor_console *console;
    char *ctr_id;
    bool starting; /* the runtime has not told yet whether the command runs */
};

static void exec_sess_free(struct exec_sess *x)
{
    monitor_console_close(x->console);
    oci_exec_proc_release(x->proc);
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

static void on_proc_exit(struct oci_exec_proc *proc, const struct reactor_pid_exit *e, void *data)
{
    struct exec_sess *x = data;
    end_session(x, e->status_known ? e->exit_code : 0,
                e->status_known ? NULL : "the command's exit status is unknown");
    exec_sess_free(x);
}

static void on_started(struct oci_exec_proc *proc, int status, const struct oci_exec_started *s,
                       struct err *err, void *data)
{
    struct exec_sess *x = data;
    x->starting = false;
    if (status == 0 && s->pid == 0) {
        /* The runtime could not start the command: say why rather than "255". */
        err_set(err, -EIO, "%s", s->why ? s->why : "the runtime could not start the command");
        end_session(x, s->runtime_status, err_msg(err));
        exec_sess_free(x);
    } else if (status < 0) {
        end_session(x, 0, err_msg(err));
        exec_sess_free(x);
    }
}

/* The pty's master of a tty command: the session's while it lasts; else closed by the console,
 * and the command gets SIGHUP. */
static bool on_exec_master(int master, void *data)
{
    struct exec_sess *x = data;
    if (!x->p)
        return false;
    stream_proc_set_pty(x->p, master);
    return true;
}

static void exec_fail(struct stream_proc *p, struct exec_sess *x, struct err *err)
{
    log_warn("exec in container %s: %s", x->ctr_id, err_msg(err));
    x->p = NULL;
    stream_proc_exit(p, 0, err_msg(err));
    exec_sess_free(x);
}

/* The command's stdio (a console, or pipes), then the runtime; our ends of the pipes belong to
 * the session. */
static int start_exec(struct exec_sess *x, struct ctr *c, const struct oci_runtime *rt,
                      const struct stream_request *req, struct err *err)
{
    size_t n = 0;
    while (req->cmd[n])
        n++;
    if (req->tty &&
        monitor_console_new(x->cri->loop, c->run_dir, on_exec_master, x, &x->console, err) < 0)
        return err->code;
    struct oci_exec_opts o = {
        .id = c->id,
        .run_dir = c->run_dir,
        .cmd = req->cmd,
        .n_cmd = n,
        .tty = req->tty,
        .console_socket = x->console ? monitor_console_path(x->console) : NULL,
        .pipes = {req->in, req->out, req->err},
        .runtime_log = true,
        .timeout_ms = UINT64_MAX / 2, /* an interactive command runs as long as it likes */
        .pids = x->cri->pids,
        .started = on_started,
        .exited = on_proc_exit,
        .data = x,
    };
    int ours[3];
    int r = oci_exec_proc_start(x->cri->loop, rt, &o, ours, &x->proc, err);
    if (r < 0)
        return r;
    x->starting = true;
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
    stream_proc_set_backend(p, x);
    struct ctr *c = cri_ctr_running(cri, req->container_id, &err);
    struct oci_runtime rt;
    if (!c || cri_runtime_of(cri, c->runtime, &rt, &err) < 0 ||
        start_exec(x, c, &rt, req, &err) < 0) {
        exec_fail(p, x, &err);
        err_done(&err);
    }
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
    /* The client left while the runtime was starting the command: end it once it runs. Later, a
     * command without a tty sees its pipes close; a tty's gets SIGHUP as its pty closes. */
    if (x->starting && !x->console)
        oci_exec_proc_kill(x->proc);
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
        fs_close_fds(&fd, 1);
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
