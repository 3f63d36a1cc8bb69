/* The stream module: the CRI streaming server. Exec, Attach and PortForward hand out a one-time
 * URL; the client upgrades it to SPDY/3.1 or WebSocket and speaks the kubelet's remotecommand or
 * portforward protocol. The processes and sockets behind a session come from the backend (cri/)
 * through struct stream_ops; this module knows nothing of containers. */
#ifndef CRIB_STREAM_H
#define CRIB_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

enum stream_kind { STREAM_EXEC, STREAM_ATTACH, STREAM_PORTFORWARD, STREAM_KINDS };

/* What a token grants: copied from the CRI request when the URL is made. */
struct stream_request {
    enum stream_kind kind;
    char *container_id; /* exec, attach */
    char **cmd;         /* exec: NULL-terminated */
    bool tty, in, out, err;
    char *pod_id;   /* port-forward */
    int32_t *ports; /* port-forward: the ports the CRI request named (may be none) */
    size_t n_ports;
};
void stream_request_free(struct stream_request *r);

/* The process side of one exec or attach session. */
struct stream_proc;
/* port-forward: a connected socket (ours), or a negative errno with err saying why. */
typedef void (*stream_connect_cb)(int fd, struct err *err, void *data);

struct stream_ops {
    /* A client is connected and its streams are set up: start the exec, or join the container's
     * stdio. Until release, the backend may call stream_proc_set_fds, stream_proc_output and
     * (once) stream_proc_exit. */
    void (*exec)(void *data, struct stream_proc *p, const struct stream_request *req);
    void (*attach)(void *data, struct stream_proc *p, const struct stream_request *req);
    /* The client closed its stdin (attach: the container's stdin closes for stdin_once). */
    void (*stdin_closed)(void *data, struct stream_proc *p);
    /* The session is over (finished, or the client went away): forget p. */
    void (*release)(void *data, struct stream_proc *p);
    /* port-forward: connect to port inside the pod's network namespace; cb is called once,
     * later (not from inside connect). */
    void (*connect)(void *data, const struct stream_request *req, uint16_t port,
                    stream_connect_cb cb, void *cb_data);
};

void stream_proc_set_backend(struct stream_proc *p, void *backend);
enum stream_kind stream_proc_kind(const struct stream_proc *p);
void *stream_proc_backend(const struct stream_proc *p);
/* Hand the session its ends of the process's stdio (taken; -1 for none). For a tty, in_fd is the
 * pty's master (resizes are applied to it) and out_fd another descriptor of it, or -1 when
 * output comes through stream_proc_output. */
void stream_proc_set_fds(struct stream_proc *p, int in_fd, int out_fd, int err_fd);
/* The same for a tty: its pty's master (taken), for input, resizes and output. */
void stream_proc_set_pty(struct stream_proc *p, int master);
/* Output for the client (attach): fd 1 or 2. A client that cannot keep up is dropped. */
void stream_proc_output(struct stream_proc *p, int fd, const void *data, size_t len);
/* The process ended: exit code, or msg when it failed (the client sees it on the error stream).
 * Its output is sent first: read until EOF, or for the exec drain time. The backend's release
 * runs from inside this call. */
void stream_proc_exit(struct stream_proc *p, int exit_code, const char *msg);

struct stream_config {
    const char *address;            /* an IPv4 or IPv6 literal */
    int port;                       /* 0: any free port */
    const char *tls_cert, *tls_key; /* both set: HTTPS */
    uint64_t token_ttl_ms;
    uint64_t idle_timeout_ms; /* 0: none */
    /* Until its upgrade is done a connection has handshake_timeout_ms, and at most
     * max_handshakes such connections (max_handshakes_per_peer from one address) are kept: past
     * that the oldest is closed. */
    uint64_t handshake_timeout_ms;
    /* After an exec's process has ended, how long its output is still read while something it
     * left behind holds the pipes open. */
    uint64_t exec_drain_ms;
    size_t max_handshakes, max_handshakes_per_peer;
};

struct stream_server;

int stream_server_start(uv_loop_t *loop, const struct stream_config *cfg,
                        const struct stream_ops *ops, void *data, struct stream_server **ret,
                        struct err *err);
/* A one-time URL for req (taken, also on failure). -EAGAIN when too many URLs are outstanding. */
int stream_server_url(struct stream_server *srv, struct stream_request *req, char **ret_url,
                      struct err *err);
/* Close the listener and every session; freed once the handles are closed. */
void stream_server_close(struct stream_server *srv);

/* Sessions (exec, attach, port-forward) since start and open now, by kind. */
struct stream_counters {
    uint64_t total[STREAM_KINDS], active[STREAM_KINDS];
};
const struct stream_counters *stream_server_counters(const struct stream_server *srv);

#endif
