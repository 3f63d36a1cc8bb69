/* Our listeners (a unix socket or TCP, TLS optional) and the connections they accept: the
 * socket, the write queue and its count, pausing reads, the orderly finish with its linger, and
 * close. What the bytes mean is the owner's business (server.c for the CRI socket, stream/). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "reactor/reactor-internal.h"

#define READ_BUF (64u * 1024)

struct reactor_listener {
    union {
        uv_pipe_t pipe;
        uv_tcp_t tcp;
        uv_stream_t stream;
    } h;
    bool is_tcp;
    bool closing;
    struct reactor_conn_ops ops;
    reactor_accept_fn accept;
    void *data;
    struct reactor_tls *tls;
    void (*done)(void *data);
    void *done_data;
};

struct reactor_conn {
    union {
        uv_pipe_t pipe;
        uv_tcp_t tcp;
        uv_stream_t stream;
    } h;
    uv_timer_t linger; /* initialised by the finish */
    bool is_tcp;
    bool reading, closing, finishing;
    int handles;
    size_t queued; /* bytes handed to uv_write and not yet written */
    struct reactor_tls_conn *tls;
    struct reactor_conn_ops ops;
    void *data;
};

struct write_req {
    uv_write_t req;
    struct reactor_conn *conn;
    size_t len;
    char data[];
};

static void on_handle_closed(uv_handle_t *h)
{
    struct reactor_conn *c = h->data;
    if (--c->handles > 0)
        return;
    if (c->data && c->ops.closed)
        c->ops.closed(c->data);
    reactor_tls_conn_free(c->tls);
    free(c);
}

void reactor_conn_close(struct reactor_conn *c)
{
    if (c->closing)
        return;
    c->closing = true;
    if (c->data && c->ops.close)
        c->ops.close(c->data);
    uv_close((uv_handle_t *)&c->h.stream, on_handle_closed);
    if (c->handles > 1)
        uv_close((uv_handle_t *)&c->linger, on_handle_closed);
}

static void on_write(uv_write_t *req, int status)
{
    struct write_req *w = container_of(req, struct write_req, req);
    struct reactor_conn *c = w->conn;
    c->queued -= w->len;
    free(w);
    if (c->closing)
        return;
    if (status < 0) {
        reactor_conn_close(c);
        return;
    }
    if (c->ops.writable)
        c->ops.writable(c->data);
}

static void write_raw(struct reactor_conn *c, const void *data, size_t len)
{
    if (c->closing || len == 0)
        return;
    struct write_req *w = xmalloc_flex(sizeof(*w), len);
    memcpy(w->data, data, len);
    w->conn = c;
    w->len = len;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    int r = uv_write(&w->req, &c->h.stream, &b, 1, on_write);
    if (r < 0) {
        free(w);
        reactor_conn_close(c);
        return;
    }
    c->queued += len;
}

void reactor_conn_write(struct reactor_conn *c, const void *bytes, size_t len)
{
    if (!c->tls) {
        write_raw(c, bytes, len);
        return;
    }
    if (c->closing || len == 0)
        return;
    struct buf cipher = {0};
    int r = reactor_tls_write(c->tls, bytes, len, &cipher);
    write_raw(c, cipher.data, cipher.len);
    buf_done(&cipher);
    if (r < 0)
        reactor_conn_close(c);
}

size_t reactor_conn_queued(const struct reactor_conn *c)
{
    return c->queued;
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    /* One buffer for every connection: read callbacks consume it before returning. */
    static char buffer[READ_BUF];
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct reactor_conn *c = s->data;
    if (n < 0) {
        reactor_conn_close(c);
        return;
    }
    if (!c->tls) {
        c->ops.data(c->data, (const uint8_t *)b->base, (size_t)n);
        return;
    }
    if (n == 0)
        return;
    struct buf plain = {0}, cipher = {0};
    int r = reactor_tls_feed(c->tls, (const uint8_t *)b->base, (size_t)n, &plain, &cipher);
    write_raw(c, cipher.data, cipher.len);
    if (!c->closing)
        c->ops.data(c->data, plain.data, plain.len);
    buf_done(&plain);
    buf_done(&cipher);
    /* After our close_notify, the peer's answer is no reason to stop reading until its EOF. */
    if (r < 0 && !c->finishing)
        reactor_conn_close(c);
}

void reactor_conn_read_pause(struct reactor_conn *c)
{
    if (c->reading && !c->closing && !c->finishing) {
        uv_read_stop(&c->h.stream);
        c->reading = false;
    }
}

void reactor_conn_read_resume(struct reactor_conn *c)
{
    if (!c->reading && !c->closing) {
        if (uv_read_start(&c->h.stream, on_alloc, on_read) == 0)
            c->reading = true;
    }
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    free(req);
}

static void on_linger(uv_timer_t *t)
{
    reactor_conn_close(t->data);
}

void reactor_conn_finish(struct reactor_conn *c, uint64_t linger_ms)
{
    if (c->closing || c->finishing)
        return;
    c->finishing = true;
    reactor_conn_read_resume(c); /* read until the peer's EOF */
    if (c->tls) {
        struct buf cipher = {0};
        reactor_tls_close(c->tls, &cipher);
        write_raw(c, cipher.data, cipher.len);
        buf_done(&cipher);
    }
    uv_shutdown_t *req = xcalloc(1, sizeof(*req));
    if (uv_shutdown(req, &c->h.stream, on_shutdown) < 0) {
        free(req);
        reactor_conn_close(c);
        return;
    }
    uv_timer_init(c->h.stream.loop, &c->linger);
    c->linger.data = c;
    c->handles++;
    uv_timer_start(&c->linger, on_linger, linger_ms, 0);
}

void reactor_conn_peer(const struct reactor_conn *c, struct sockaddr_storage *ret_addr)
{
    int len = sizeof(*ret_addr);
    memset(ret_addr, 0, sizeof(*ret_addr));
    if (!c->is_tcp || uv_tcp_getpeername(&c->h.tcp, (struct sockaddr *)ret_addr, &len) < 0)
        ret_addr->ss_family = 0;
}

static void on_connection(uv_stream_t *s, int status)
{
    struct reactor_listener *l = s->data;
    if (status < 0 || l->closing)
        return;
    struct reactor_conn *c = xcalloc(1, sizeof(*c));
    c->is_tcp = l->is_tcp;
    c->ops = l->ops;
    c->handles = 1;
    if (c->is_tcp)
        uv_tcp_init(s->loop, &c->h.tcp);
    else
        uv_pipe_init(s->loop, &c->h.pipe, 0);
    c->h.stream.data = c;
    if (uv_accept(s, &c->h.stream) < 0) {
        reactor_conn_close(c); /* no owner yet: no callback */
        return;
    }
    if (c->is_tcp)
        uv_tcp_nodelay(&c->h.tcp, 1);
    if (l->tls)
        c->tls = reactor_tls_conn_new(l->tls);
    c->data = l->accept(l->data, c);
    if (!c->data) {
        reactor_conn_close(c);
        return;
    }
    reactor_conn_read_resume(c);
}

static void on_listener_closed(uv_handle_t *h)
{
    struct reactor_listener *l = h->data;
    if (l->done)
        l->done(l->done_data);
    reactor_tls_free(l->tls);
    free(l);
}

int reactor_listener_start(uv_loop_t *loop, const struct reactor_listener_config *cfg,
                           const struct reactor_conn_ops *ops, reactor_accept_fn accept, void *data,
                           struct reactor_listener **ret)
{
    struct reactor_listener *l = xcalloc(1, sizeof(*l));
    l->is_tcp = cfg->addr != NULL;
    l->ops = *ops;
    l->accept = accept;
    l->data = data;
    l->tls = cfg->tls;
    int r;
    if (l->is_tcp) {
        uv_tcp_init(loop, &l->h.tcp);
        r = uv_tcp_bind(&l->h.tcp, cfg->addr, 0);
    } else {
        uv_pipe_init(loop, &l->h.pipe, 0);
        r = uv_pipe_bind(&l->h.pipe, cfg->path);
        if (r == 0 && chmod(cfg->path, cfg->mode) < 0)
            r = -errno;
    }
    l->h.stream.data = l;
    if (r == 0)
        r = uv_listen(&l->h.stream, cfg->backlog, on_connection);
    if (r < 0) {
        if (!l->is_tcp)
            unlink(cfg->path);
        reactor_listener_close(l, NULL, NULL);
        return r;
    }
    *ret = l;
    return 0;
}

int reactor_listener_port(const struct reactor_listener *l)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    if (!l->is_tcp || uv_tcp_getsockname(&l->h.tcp, (struct sockaddr *)&ss, &len) < 0)
        return 0;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

void reactor_listener_close(struct reactor_listener *l, void (*done)(void *data), void *data)
{
    if (l->closing)
        return;
    l->closing = true;
    l->done = done;
    l->done_data = data;
    uv_close((uv_handle_t *)&l->h.stream, on_listener_closed);
}
