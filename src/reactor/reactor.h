/* The loop's services: listeners and their connections (TLS, write queues), the CRI socket (gRPC
 * over HTTP/2 and HTTP/1.1, told apart by the HTTP/2 preface), gRPC calls, the HTTP/1.1 request
 * parser, and child processes with timeouts. Knows nothing of CRI. */
#ifndef CRIB_REACTOR_H
#define CRIB_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"

enum grpc_status {
    GRPC_OK = 0,
    GRPC_CANCELLED = 1,
    GRPC_UNKNOWN = 2,
    GRPC_INVALID_ARGUMENT = 3,
    GRPC_DEADLINE_EXCEEDED = 4,
    GRPC_NOT_FOUND = 5,
    GRPC_ALREADY_EXISTS = 6,
    GRPC_PERMISSION_DENIED = 7,
    GRPC_RESOURCE_EXHAUSTED = 8,
    GRPC_FAILED_PRECONDITION = 9,
    GRPC_ABORTED = 10,
    GRPC_OUT_OF_RANGE = 11,
    GRPC_UNIMPLEMENTED = 12,
    GRPC_INTERNAL = 13,
    GRPC_UNAVAILABLE = 14,
    GRPC_DATA_LOSS = 15,
    GRPC_UNAUTHENTICATED = 16,
};

/* One gRPC call (an HTTP/2 stream). The server holds a reference until the stream closes; a
 * handler that answers later takes its own with reactor_grpc_call_ref. */
struct grpc_call;
typedef void (*grpc_cancel_fn)(struct grpc_call *call, void *data);

struct grpc_call *reactor_grpc_call_ref(struct grpc_call *call);
void reactor_grpc_call_unref(struct grpc_call *call);
/* Queue one response message (unary: once; server-streaming: any number). -ECANCELED when the
 * call is gone, -EMSGSIZE over the send limit (the call is then finished with RESOURCE_EXHAUSTED).
 */
int reactor_grpc_call_send(struct grpc_call *call, const uint8_t *msg, size_t len);
/* Response bytes queued and not yet taken by HTTP/2 flow control: how far the client is behind. */
size_t reactor_grpc_call_backlog(const struct grpc_call *call);
/* End the call at once, dropping what is queued: RST_STREAM ENHANCE_YOUR_CALM, which gRPC
 * clients read as RESOURCE_EXHAUSTED (trailers would wait behind the queued messages). */
void reactor_grpc_call_abort(struct grpc_call *call);
/* End the call with a status and message (trailers). Only the first finish counts. */
void reactor_grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *msg);
/* Called once if the client goes away or the deadline passes before the call is finished. */
void reactor_grpc_call_on_cancel(struct grpc_call *call, grpc_cancel_fn fn, void *data);
bool reactor_grpc_call_is_done(const struct grpc_call *call);
const char *reactor_grpc_call_path(const struct grpc_call *call);

struct http1_reply;

/* An HTTP/1.1 request as the router sees it, and the response it fills in. A router that answers
 * later sets resp->status to 0, keeps req->reply with reactor_http1_reply_keep and calls
 * reactor_http1_reply_send once; the connection then serves no further request. */
struct http1_request {
    const char *method;
    const char *path;  /* the request target without the query */
    const char *query; /* after '?', or "" */
    struct http1_reply *reply;
};

struct http1_response {
    int status;
    const char *content_type;
    struct buf body;
};

struct http1_reply *reactor_http1_reply_keep(struct http1_reply *r);
/* Send the response (if the client is still there) and drop the kept reference. */
void reactor_http1_reply_send(struct http1_reply *r, int status, const char *content_type,
                              const struct buf *body);

/* ---- http1.c: HTTP/1.1 requests parsed with llhttp, and responses ---- */

/* A request read to its end. */
struct reactor_http1_message {
    const char *method;
    const char *target; /* NUL-terminated */
    size_t target_len;
    size_t header_bytes; /* its header names and values */
    bool keep_alive;
    int status; /* 0, or the status of the first rule it broke (stop_at_error false) */
};

/* A request parser's rules and hooks. A request that breaks a rule gets the status to answer it
 * with: 400 (bad syntax, a body where none may be, a NUL byte in a header value), 413 (a body past
 * max_body), 414 (a target past max_target), 431 (names and values past max_headers, or one value
 * past max_value). */
struct reactor_http1_parser_ops {
    size_t max_target;
    size_t max_headers;
    size_t max_body;  /* 0: a request with a body is bad */
    size_t max_value; /* one header's value, with header */
    /* Stop at the first broken rule (the streaming upgrade answers at once), rather than read the
     * request to its end and hand it to complete with its status (a server answering in turn). */
    bool stop_at_error;
    /* Optional: each header once its value ends, both NUL-terminated. */
    void (*header)(void *data, const char *name, const char *value, size_t value_len);
    /* A request read to its end. True stops the parser there: what follows is not its to read
     * (the connection closes, or has switched protocols). */
    bool (*complete)(void *data, const struct reactor_http1_message *m);
};

/* The HTTP/1.1 request parser, pure: bytes in, the requests out through the hooks (data is
 * theirs). The CRI socket's HTTP/1.1 sessions and the streaming server's upgrade use it. */
struct reactor_http1_parser;
struct reactor_http1_parser *reactor_http1_parser_new(const struct reactor_http1_parser_ops *ops,
                                                      void *data);
void reactor_http1_parser_free(struct reactor_http1_parser *p);
/* Parse request bytes: 0 when all were taken; 1 when the parser stopped after a request (complete
 * said so, or the request upgrades the connection) and *ret_used bytes were its, the rest not;
 * -EPROTO for a bad request (reactor_http1_parser_status says which). Feed no more after 1 or
 * -EPROTO. */
int reactor_http1_parser_feed(struct reactor_http1_parser *p, const uint8_t *data, size_t len,
                              size_t *ret_used);
int reactor_http1_parser_status(const struct reactor_http1_parser *p);

/* Format one response: the status line, Content-Type, Content-Length, Connection: close when
 * close, then the body (not for a HEAD request's answer: head). */
void reactor_http1_write_response(struct buf *out, int status, const char *type,
                                  const struct buf *body, bool head, bool close);

struct reactor_server_ops {
    /* A complete request message arrived for path. */
    void (*grpc_call)(void *data, struct grpc_call *call, const char *path, const uint8_t *msg,
                      size_t len);
    void (*http_request)(void *data, const struct http1_request *req, struct http1_response *resp);
    /* Optional: a call grpc_call was handed ended with status (the client's going away is
     * CANCELLED), elapsed_ns after it was handed. */
    void (*grpc_done)(void *data, const char *path, enum grpc_status status, uint64_t elapsed_ns);
};

struct reactor_server_config {
    const char *path;            /* unix socket, or */
    const struct sockaddr *addr; /* a TCP address (path NULL) */
    bool http1_only;             /* HTTP/1.1 requests only, no gRPC */
    unsigned mode;               /* socket file mode, e.g. 0660 */
    size_t max_recv_msg_size;
    size_t max_send_msg_size;
};

struct reactor_stats {
    uint64_t connections;       /* open now */
    uint64_t connections_total; /* accepted since start */
    uint64_t calls;             /* gRPC calls alive now (streams or handler references) */
    uint64_t calls_total;
};

struct reactor_server;

int reactor_server_start(uv_loop_t *loop, const struct reactor_server_config *cfg,
                         const struct reactor_server_ops *ops, void *data,
                         struct reactor_server **ret_server, struct err *err);
/* Stop accepting, let connections finish their calls for up to timeout_ms, then close them all,
 * remove the socket and call done. The server frees itself after done. */
void reactor_server_shutdown(struct reactor_server *srv, uint64_t timeout_ms,
                             void (*done)(void *data), void *data);
void reactor_server_stats(const struct reactor_server *srv, struct reactor_stats *ret_stats);
/* The bound TCP port of a server on a TCP address. */
int reactor_server_port(const struct reactor_server *srv);

/* ---- conn.c: our listeners and their connections ---- */

/* A server TLS context for a listener (OpenSSL over memory BIOs, tls.c). The messages name the
 * certificate and the key after the settings they came from. */
struct reactor_tls_config {
    const char *cert, *key;           /* PEM files */
    const char *cert_name, *key_name; /* e.g. "stream_tls_cert" */
};
struct reactor_tls;
int reactor_tls_new(const struct reactor_tls_config *cfg, struct reactor_tls **ret,
                    struct err *err);
void reactor_tls_free(struct reactor_tls *t);

/* One accepted connection: the socket, TLS when its listener has it, a write queue, reading that
 * can be paused, an orderly finish with linger, and close. The owner's data comes back in each
 * callback. */
struct reactor_conn;
struct reactor_conn_ops {
    /* Bytes from the peer: plaintext under TLS, where len is 0 when only TLS records came. */
    void (*data)(void *data, const uint8_t *bytes, size_t len);
    /* A write reached the socket: reactor_conn_queued is lower now. */
    void (*writable)(void *data);
    /* The connection closes (the peer went away, a read, write or TLS error, the linger ended, or
     * reactor_conn_close): once, at once. Writes are dropped from now on. */
    void (*close)(void *data);
    /* Its handles are closed: the last callback; the owner may free data. */
    void (*closed)(void *data);
};
/* A new connection: return the owner's data for it, or NULL to refuse it. Reading starts when
 * this returns. */
typedef void *(*reactor_accept_fn)(void *data, struct reactor_conn *c);

struct reactor_listener_config {
    const char *path;            /* a unix socket (its directory exists, no stale file), or */
    unsigned mode;               /* its file mode */
    const struct sockaddr *addr; /* a TCP address */
    int backlog;
    struct reactor_tls *tls; /* taken, also on failure; NULL: plain */
};
struct reactor_listener;
/* Bind and listen. A negative errno when that fails (a unix socket file made is removed). */
int reactor_listener_start(uv_loop_t *loop, const struct reactor_listener_config *cfg,
                           const struct reactor_conn_ops *ops, reactor_accept_fn accept, void *data,
                           struct reactor_listener **ret);
/* The bound TCP port. */
int reactor_listener_port(const struct reactor_listener *l);
/* Stop accepting; done (optional) runs once the listener is closed and freed. Its connections
 * stay. */
void reactor_listener_close(struct reactor_listener *l, void (*done)(void *data), void *data);

/* Copy len bytes into the write queue (through TLS when on). A failed write closes. */
void reactor_conn_write(struct reactor_conn *c, const void *bytes, size_t len);
/* Bytes handed to the socket and not yet written. */
size_t reactor_conn_queued(const struct reactor_conn *c);
void reactor_conn_read_pause(struct reactor_conn *c);
void reactor_conn_read_resume(struct reactor_conn *c);
/* Everything is queued: end TLS, send a FIN once it is written, read until the peer closes too
 * (closing with unread input would send a reset, which can make the peer drop our last bytes),
 * and close then or after linger_ms. Reading can no longer be paused. */
void reactor_conn_finish(struct reactor_conn *c, uint64_t linger_ms);
/* Close now (the close callback runs from inside). */
void reactor_conn_close(struct reactor_conn *c);
/* The peer's address; ss_family 0 when there is none (a unix socket) or it is unknown. */
void reactor_conn_peer(const struct reactor_conn *c, struct sockaddr_storage *ret_addr);

/* A child process with captured output and a timeout (SIGTERM, then SIGKILL after a grace). */
struct reactor_child_result {
    int64_t exit_status; /* -1 if killed by a signal */
    int term_signal;
    bool timed_out;
    const char *out; /* captured stdout, NUL-terminated, capped */
    size_t out_len;
    const char *err_out; /* captured stderr */
    size_t err_len;
    bool truncated; /* stdout or stderr was over out_max */
};

typedef void (*reactor_child_cb)(int status, const struct reactor_child_result *res, void *data);

struct reactor_child;

struct reactor_child_opts {
    char *const *argv;      /* argv[0]: a path, or a name looked up in PATH */
    char *const *env;       /* NULL: the daemon's environment */
    const void *stdin_data; /* written to the child's stdin, which is then closed */
    size_t stdin_len;
    uint64_t timeout_ms; /* 0: none */
    /* NULL, or the child's stdin, stdout and stderr as fds it inherits (-1 for one: as above,
     * captured or ignored). The caller keeps its fds. */
    const int *stdio_fds;
    size_t out_max; /* cap of the captured stdout and of stderr; 0: 64 KiB */
};
/* As reactor_child_spawn, with an environment and stdin. */
int reactor_child_start(uv_loop_t *loop, const struct reactor_child_opts *o, reactor_child_cb cb,
                        void *data, struct reactor_child **ret_child);
/* Spawn argv[0] (a path, or a name looked up in PATH) with a timeout. Returns a negative errno
 * if the process could not start (cb is then never called); otherwise cb runs once, with 0 and
 * the result, or -ECANCELED after reactor_child_cancel. */
int reactor_child_spawn(uv_loop_t *loop, char *const *argv, uint64_t timeout_ms,
                        reactor_child_cb cb, void *data, struct reactor_child **ret_child);
/* Stop waiting: the child is killed, cb is called with -ECANCELED. */
void reactor_child_cancel(struct reactor_child *child);

/* Reaping of orphans that reach the daemon (the child subreaper) and that nobody claims: on
 * SIGCHLD, by pid, after a grace period in which their owner may still claim them. */
/* ---- pidfd.c: processes watched through a pidfd ---- */

/* Every watch of one owner (the daemon), so that shutdown closes them all. */
struct reactor_pids;
struct reactor_keeper;
struct reactor_pids *reactor_pids_new(uv_loop_t *loop);
/* At shutdown: close every watch (no callback runs any more) and refuse new ones. */
void reactor_pids_close(struct reactor_pids *pids);
/* Once the loop has closed them. NULL-safe. */
void reactor_pids_free(struct reactor_pids *pids);
/* A process that is not our child (adopted after a restart: the keeper's) has its status from
 * the keeper, waited for a short while if it has not told it yet. */
void reactor_pids_set_keeper(struct reactor_pids *pids, struct reactor_keeper *k);

struct reactor_pid_exit {
    bool status_known; /* false when neither we nor the keeper could reap it */
    int exit_code;     /* 128 + signal when killed by one */
    int signal;        /* 0 unless killed by a signal */
    int64_t ns;        /* when it ended (unix ns), or 0: now */
};
typedef void (*reactor_pid_cb)(const struct reactor_pid_exit *e, void *data);
struct reactor_pid;
/* Watch pid: cb runs once when it ends. Our child is reaped here (by its pidfd, never by pid)
 * and its status given. -errno when it cannot be watched (gone already). The watch frees itself
 * once the process has ended. */
int reactor_pid_watch(struct reactor_pids *pids, int pid, reactor_pid_cb cb, void *data,
                      struct reactor_pid **ret);
/* The pidfd while the process runs, else -1. */
int reactor_pid_fd(const struct reactor_pid *w);
/* Send sig through the pidfd (never to a pid reused since); -ESRCH once it has ended. */
int reactor_pid_signal(const struct reactor_pid *w, int sig);
/* The owner has gone: no callback; the process is still reaped when it ends. */
void reactor_pid_forget(struct reactor_pid *w);

struct reactor_sweeper;
int reactor_sweeper_start(uv_loop_t *loop, struct reactor_sweeper **ret);
/* Close its handles (freed once closed; a scan in flight is waited for). NULL-safe. */
void reactor_sweeper_stop(struct reactor_sweeper *s);

/* ---- keeper.c: the keeper this daemon runs under (cribd-keeper) ---- */

/* It holds fds for us while no daemon runs (a container's FIFO ends, its pty master), so that a
 * writer never gets EPIPE, and hands them to the next daemon. Every call is a no-op with k NULL
 * (the daemon runs alone). */
struct reactor_keeper;
/* The keeper named by CRIB_KEEPER_FD, with what it held for the previous daemon; *ret NULL when
 * there is none. Blocking: at start. */
int reactor_keeper_open(struct reactor_keeper **ret, struct err *err);
/* Have the keeper hold copies of fds under key (at most 4), replacing what it held there. */
int reactor_keeper_hold(struct reactor_keeper *k, const char *key, const int *fds, size_t n);
void reactor_keeper_drop(struct reactor_keeper *k, const char *key);
/* The fds held under key when this daemon started (ours to close), once; how many. */
size_t reactor_keeper_take(struct reactor_keeper *k, const char *key, int *fds, size_t max);
/* Start-up is over: what this daemon neither took nor held again is dropped, the keeper learns
 * that we serve, and the exits it tells from now on are read on the loop. */
void reactor_keeper_ready(struct reactor_keeper *k, uv_loop_t *loop);
/* Ask the keeper (our parent) to upgrade: it stops this daemon, execs the keeper binary now at
 * its path and starts the daemon binary now at ours. -ENOTSUP without a keeper. */
int reactor_keeper_upgrade(struct reactor_keeper *k);
/* At shutdown: stop reading (the handle closes with the loop). */
void reactor_keeper_close(struct reactor_keeper *k);
/* The exits of the processes the keeper reaped (those a dead daemon left to it: it is their
 * parent). cb learns of each as it is told (its pid); reactor_keeper_exit_of gives it. */
typedef void (*reactor_keeper_exit_cb)(int pid, void *data);
void reactor_keeper_on_exit(struct reactor_keeper *k, reactor_keeper_exit_cb cb, void *data);
/* The latest exit of pid the keeper told that came at or after since_ns (unix ns): its status
 * and time. False if there is none. */
bool reactor_keeper_exit_of(const struct reactor_keeper *k, int pid, int64_t since_ns,
                            struct reactor_pid_exit *ret, int64_t *ret_ns);
/* How many times the keeper restarted the daemon, and how the last one ended ("" if none). */
unsigned reactor_keeper_restarts(const struct reactor_keeper *k);
const char *reactor_keeper_last_exit(const struct reactor_keeper *k);
void reactor_keeper_free(struct reactor_keeper *k);

/* Ordered durable file updates on the thread pool (records of images, pods, containers). */
struct reactor_fileq;
typedef void (*reactor_fileq_cb)(int status, const char *path, void *data);
struct reactor_fileq *reactor_fileq_new(uv_loop_t *loop);
/* Free an idle queue (the loop has run to its end, so no job is left). */
void reactor_fileq_free(struct reactor_fileq *q);
/* Write content (taken; NULL removes the file) to path atomically, after every earlier job of the
 * queue; cb (optional) runs when it is on disk. */
void reactor_fileq_put(struct reactor_fileq *q, const char *path, char *content,
                       reactor_fileq_cb cb, void *data);

/* Outgoing HTTP(S) through libcurl on the loop. */
struct reactor_http;
struct reactor_http_req;

struct reactor_http_opts {
    const char *method; /* "GET" (default) or "HEAD"; a post_body makes it a POST */
    const char *url;
    const char *post_body;      /* application/x-www-form-urlencoded body, copied */
    const char *const *headers; /* NULL-terminated "Name: value" lines */
    bool insecure_tls;          /* do not verify the server's certificate */
    const char *ca_file, *ca_dir, *cert_file, *key_file;
    size_t max_body; /* in-memory body cap (without on_data); over it the request fails -EFBIG */
    /* Body of a 2xx response, chunk by chunk; a negative return fails the request with it. Other
     * responses' bodies go to the result's body (capped at 64 KiB). */
    int (*on_data)(const uint8_t *data, size_t len, void *data_arg);
    long low_speed_seconds; /* fail with -ETIMEDOUT when no byte arrives for this long; 0 off */
    long connect_timeout_ms;
    long timeout_ms; /* the whole transfer; 0 none */
};

struct reactor_http_result {
    long status; /* HTTP status of the last response */
    int curl_code;
    const char *error; /* transport error text, when the callback's status is -EIO/-ETIMEDOUT */
    struct buf body;
    char *content_type, *www_authenticate, *docker_content_digest, *location, *effective_url;
    uint64_t bytes;
};

/* status: 0 when a response arrived (any HTTP status), -EIO/-ETIMEDOUT for transport failures,
 * -ECANCELED after reactor_http_cancel, or what on_data returned. */
typedef void (*reactor_http_cb)(int status, struct reactor_http_result *res, void *data);

struct reactor_http *reactor_http_new(uv_loop_t *loop);
/* Cancel every request (their callbacks run with -ECANCELED) and close the handles. */
void reactor_http_free(struct reactor_http *h);
struct reactor_http_req *reactor_http_start(struct reactor_http *h,
                                            const struct reactor_http_opts *opts,
                                            reactor_http_cb cb, void *data);
/* The callback runs later (not from inside this call) with -ECANCELED. */
void reactor_http_cancel(struct reactor_http_req *req);

#endif
