/* The CRI socket: a unix listener (conn.c) whose connections speak gRPC (HTTP/2) or HTTP/1.1,
 * told apart by the HTTP/2 client preface; backpressure and graceful shutdown. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/list.h"
#include "common/macro.h"
#include "reactor/http1.h"
#include "reactor/reactor-internal.h"

static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
#define PREFACE_LEN (sizeof(preface) - 1)

static void server_maybe_done(struct reactor_server *srv);

struct http1_reply {
    struct conn *conn; /* NULL once the connection is gone */
    int refs;
};

static void reply_unref(struct http1_reply *r)
{
    if (--r->refs == 0)
        free(r);
}

static size_t queued(const struct conn *c)
{
    return reactor_conn_queued(c->rc);
}

static void on_writable(void *data)
{
    struct conn *c = data;
    if (c->h2)
        reactor_grpc_session_flush(c->h2);
    if (c->closing)
        return;
    if (queued(c) < CONN_WRITE_HIGH / 2)
        reactor_server_conn_read_resume(c);
    if (queued(c) == 0 && c->close_after_write)
        reactor_server_conn_close(c);
    else
        reactor_server_conn_idle_check(c);
}

void reactor_server_conn_write(struct conn *c, const uint8_t *data, size_t len)
{
    reactor_conn_write(c->rc, data, len);
}

static void on_closed(void *data)
{
    struct conn *c = data;
    struct reactor_server *srv = c->srv;
    LIST_REMOVE(srv->conns, c);
    srv->stats.connections--;
    buf_done(&c->sniff);
    free(c);
    server_maybe_done(srv);
}

static void on_close(void *data)
{
    struct conn *c = data;
    c->closing = true;
    if (c->awaiting) {
        c->awaiting->conn = NULL;
        reply_unref(TAKE_PTR(c->awaiting));
    }
    /* Cancelling calls can run handler code; the conn stays valid until its closed callback. */
    reactor_grpc_session_free(c->h2);
    c->h2 = NULL;
    reactor_http1_session_free(c->http1);
    c->http1 = NULL;
}

void reactor_server_conn_close(struct conn *c)
{
    reactor_conn_close(c->rc);
}

void reactor_server_conn_read_pause(struct conn *c)
{
    reactor_conn_read_pause(c->rc);
}

void reactor_server_conn_read_resume(struct conn *c)
{
    reactor_conn_read_resume(c->rc);
}

static void http1_feed(struct conn *c, const uint8_t *data, size_t len)
{
    struct buf out = {0};
    int r = reactor_http1_session_feed(c->http1, data, len, &out);
    reactor_server_conn_write(c, out.data, out.len);
    buf_done(&out);
    if (r == 1) {
        reactor_server_conn_read_pause(c);
        if (c->awaiting)
            return; /* closed after the deferred response */
        c->close_after_write = true;
        if (queued(c) == 0)
            reactor_server_conn_close(c);
    }
}

struct http1_reply *reactor_http1_reply_keep(struct http1_reply *r)
{
    r->refs++;
    return r;
}

void reactor_http1_reply_send(struct http1_reply *r, int status, const char *content_type,
                              const struct buf *body)
{
    struct conn *c = r->conn;
    if (c && c->awaiting == r) {
        struct buf out = {0};
        reactor_http1_write_response(&out, status, content_type, body, false, true);
        reactor_server_conn_write(c, out.data, out.len);
        buf_done(&out);
        c->awaiting = NULL;
        r->conn = NULL;
        reply_unref(r); /* the connection's link */
        c->close_after_write = true;
        if (queued(c) == 0)
            reactor_server_conn_close(c);
    }
    reply_unref(r);
}

static void http1_route(void *data, const struct http1_request *req, struct http1_response *resp)
{
    struct conn *c = data;
    struct http1_reply *r = xcalloc(1, sizeof(*r));
    r->conn = c;
    r->refs = 1;
    struct http1_request with_reply = *req;
    with_reply.reply = r;
    c->srv->ops.http_request(c->srv->data, &with_reply, resp);
    if (resp->status == 0 && r->refs > 1) {
        c->awaiting = r; /* the first reference stays as the connection's link */
        return;
    }
    reply_unref(r);
    if (resp->status == 0)
        resp->status = 500; /* deferred without keeping the reply: a router bug */
}

static void feed(struct conn *c, const uint8_t *data, size_t len)
{
    if (c->proto == CONN_SNIFF && c->srv->cfg.http1_only) {
        c->proto = CONN_HTTP1;
        c->http1 = reactor_http1_session_new(http1_route, c);
    }
    if (c->proto == CONN_SNIFF) {
        size_t take = PREFACE_LEN - c->sniff.len;
        if (take > len)
            take = len;
        buf_append(&c->sniff, data, take);
        data += take;
        len -= take;
        bool prefix = memcmp(c->sniff.data, preface, c->sniff.len) == 0;
        if (prefix && c->sniff.len < PREFACE_LEN)
            return;
        if (prefix) {
            c->proto = CONN_H2;
            c->h2 = reactor_grpc_session_new(c);
        } else {
            c->proto = CONN_HTTP1;
            c->http1 = reactor_http1_session_new(http1_route, c);
        }
        struct buf first = c->sniff;
        memset(&c->sniff, 0, sizeof(c->sniff));
        feed(c, first.data, first.len);
        buf_done(&first);
        if (c->closing || len == 0)
            return;
    }
    if (c->proto == CONN_H2) {
        if (reactor_grpc_session_feed(c->h2, data, len) < 0)
            reactor_server_conn_close(c);
    } else if (!c->close_after_write) {
        http1_feed(c, data, len);
    }
}

static void on_data(void *data, const uint8_t *bytes, size_t len)
{
    struct conn *c = data;
    feed(c, bytes, len);
    if (c->closing)
        return;
    if (queued(c) > CONN_WRITE_HIGH)
        reactor_server_conn_read_pause(c);
    reactor_server_conn_idle_check(c);
}

static const struct reactor_conn_ops conn_ops = {
    .data = on_data,
    .writable = on_writable,
    .close = on_close,
    .closed = on_closed,
};

static void *on_accept(void *data, struct reactor_conn *rc)
{
    struct reactor_server *srv = data;
    if (srv->draining)
        return NULL;
    struct conn *c = xcalloc(1, sizeof(*c));
    c->rc = rc;
    c->srv = srv;
    LIST_PREPEND(srv->conns, c);
    srv->stats.connections++;
    srv->stats.connections_total++;
    return c;
}

/* A socket file left by a crash is replaced; one with a live listener is refused. */
static int check_stale(const char *path, struct err *err)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : err_set(err, -errno, "stat %s: %s", path, strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return err_set(err, -EEXIST, "%s exists and is not a socket", path);
    cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return err_set(err, -errno, "socket: %s", strerror(errno));
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
        return err_set(err, -EADDRINUSE, "%s: another daemon is listening on this socket", path);
    if (errno != ECONNREFUSED && errno != ENOENT)
        return err_set(err, -errno, "probe %s: %s", path, strerror(errno));
    if (unlink(path) < 0 && errno != ENOENT)
        return err_set(err, -errno, "remove stale socket %s: %s", path, strerror(errno));
    return 0;
}

static int mkdir_parents(const char *path)
{
    cleanup_free char *p = xstrdup(path);
    for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    return 0;
}

static int server_listen(uv_loop_t *loop, const struct reactor_server_config *cfg,
                         const struct reactor_server_ops *ops, void *data,
                         struct reactor_server **ret_server, struct err *err)
{
    struct reactor_server *srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->cfg = *cfg;
    srv->path = cfg->path ? xstrdup(cfg->path) : NULL;
    srv->cfg.path = srv->path;
    srv->cfg.addr = NULL; /* the caller's; the listener has bound it */
    srv->ops = *ops;
    srv->data = data;
    uv_timer_init(loop, &srv->shutdown_timer);
    struct reactor_listener_config lc = {
        .path = cfg->path, .mode = cfg->mode, .addr = cfg->addr, .backlog = 511};
    int r = reactor_listener_start(loop, &lc, &conn_ops, on_accept, srv, &srv->listener);
    if (r < 0) {
        err_set(err, r, "listen on %s: %s", cfg->path ? cfg->path : "its TCP address",
                uv_strerror(r));
        srv->draining = srv->listener_closed = true;
        server_maybe_done(srv);
        return r;
    }
    *ret_server = srv;
    return 0;
}

int reactor_server_start(uv_loop_t *loop, const struct reactor_server_config *cfg,
                         const struct reactor_server_ops *ops, void *data,
                         struct reactor_server **ret_server, struct err *err)
{
    if (!cfg->path)
        return server_listen(loop, cfg, ops, data, ret_server, err);
    struct sockaddr_un sa;
    if (strlen(cfg->path) >= sizeof(sa.sun_path))
        return err_set(err, -ENAMETOOLONG, "socket path %s is longer than %zu bytes", cfg->path,
                       sizeof(sa.sun_path) - 1);
    int r = mkdir_parents(cfg->path);
    if (r < 0)
        return err_set(err, r, "create the directory of %s: %s", cfg->path, strerror(-r));
    r = check_stale(cfg->path, err);
    if (r < 0)
        return r;
    return server_listen(loop, cfg, ops, data, ret_server, err);
}

int reactor_server_port(const struct reactor_server *srv)
{
    return srv->listener ? reactor_listener_port(srv->listener) : -1;
}

void reactor_server_conn_idle_check(struct conn *c)
{
    if (!c->srv->draining || c->closing)
        return;
    if (c->proto == CONN_H2 && reactor_grpc_session_idle(c->h2) && queued(c) == 0)
        reactor_server_conn_close(c);
}

static void on_timer_close(uv_handle_t *h)
{
    struct reactor_server *srv =
        container_of((uv_timer_t *)h, struct reactor_server, shutdown_timer);
    if (srv->done)
        srv->done(srv->done_data);
    free(srv->path);
    free(srv);
}

/* The server frees itself once the listener is closed and every connection is gone. */
static void server_maybe_done(struct reactor_server *srv)
{
    if (!srv->draining || srv->conns || !srv->listener_closed || srv->timer_closing)
        return;
    srv->timer_closing = true;
    uv_close((uv_handle_t *)&srv->shutdown_timer, on_timer_close);
}

static void on_listener_close(void *data)
{
    struct reactor_server *srv = data;
    srv->listener_closed = true;
    server_maybe_done(srv);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    struct reactor_server *srv = container_of(t, struct reactor_server, shutdown_timer);
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        reactor_server_conn_close(c);
    }
}

void reactor_server_shutdown(struct reactor_server *srv, uint64_t timeout_ms,
                             void (*done)(void *data), void *data)
{
    srv->draining = true;
    srv->done = done;
    srv->done_data = data;
    if (srv->listener) {
        reactor_listener_close(TAKE_PTR(srv->listener), on_listener_close, srv);
        if (srv->path)
            unlink(srv->path);
    }
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->closing)
            continue; /* its close callback is pending */
        if (c->proto == CONN_H2) {
            reactor_grpc_session_drain(c->h2);
            reactor_server_conn_idle_check(c);
        } else if (c->proto == CONN_HTTP1 && queued(c)) {
            c->close_after_write = true;
        } else {
            reactor_server_conn_close(c);
        }
    }
    uv_timer_start(&srv->shutdown_timer, on_shutdown_timeout, timeout_ms, 0);
}

void reactor_server_stats(const struct reactor_server *srv, struct reactor_stats *ret_stats)
{
    *ret_stats = srv->stats;
}
