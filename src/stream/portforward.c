/* The port-forward session: each pair of channels (data 2i, error 2i+1) is one TCP connection to
 * a port inside the pod, made by the backend; bytes are relayed both ways with backpressure, and
 * a failure is told on the pair's error channel. Over WebSocket the ports come from the query
 * and every channel starts with its port (2 bytes, little-endian); over SPDY the client opens a
 * pair of streams per connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "stream/stream-internal.h"

#define READ_CHUNK 32768
#define MAX_PAIRS 128

struct pf_pair {
    struct pf_session *pf;
    int idx;
    uint16_t port;
    uv_tcp_t tcp;
    bool has_tcp, connecting, connected, reading, client_eof, sock_eof, failed, done;
    struct buf early; /* client data before the connection is up */
    uv_connect_t conn_req;
};

struct pf_session {
    struct stream_conn *c; /* NULL once the client is gone */
    struct stream_server *srv;
    struct pf_pair *pairs[MAX_PAIRS];
    size_t n;
    int refs; /* the session, plus each pair with an open handle or a connect under way */
};

static void pf_unref(struct pf_session *pf)
{
    if (--pf->refs > 0)
        return;
    for (size_t i = 0; i < pf->n; i++) {
        buf_done(&pf->pairs[i]->early);
        free(pf->pairs[i]);
    }
    free(pf);
}

static void on_tcp_closed(uv_handle_t *h)
{
    struct pf_pair *p = h->data;
    pf_unref(p->pf);
}

static void close_tcp(struct pf_pair *p)
{
    if (!p->has_tcp)
        return;
    p->has_tcp = p->reading = false;
    uv_close((uv_handle_t *)&p->tcp, on_tcp_closed);
}

/* The pair is over: both directions ended, or it failed. */
static void pair_done(struct pf_pair *p)
{
    if (p->done)
        return;
    p->done = true;
    close_tcp(p);
    struct stream_conn *c = p->pf->c;
    if (!c)
        return;
    stream_chan_close(c, 2 * p->idx);
    stream_chan_close(c, 2 * p->idx + 1);
    if (c->proto != PROTO_WS)
        return;
    /* A WebSocket carries fixed ports: when every one is done, so is the session. */
    for (size_t i = 0; i < p->pf->n; i++)
        if (!p->pf->pairs[i]->done)
            return;
    stream_chan_finish(c);
}

static void pair_fail(struct pf_pair *p, const char *msg)
{
    struct stream_conn *c = p->pf->c;
    p->failed = true;
    if (c) {
        char text[512];
        snprintf(text, sizeof(text), "error forwarding port %u: %s", p->port, msg);
        stream_chan_send(c, 2 * p->idx + 1, text, strlen(text));
    }
    pair_done(p);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[READ_CHUNK];
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_sock_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void set_reading(struct pf_pair *p, bool on)
{
    if (!p->connected || !p->has_tcp || p->sock_eof || p->reading == on)
        return;
    if (on)
        p->reading = uv_read_start((uv_stream_t *)&p->tcp, on_alloc, on_sock_read) == 0;
    else {
        uv_read_stop((uv_stream_t *)&p->tcp);
        p->reading = false;
    }
}

static void on_sock_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct pf_pair *p = container_of((uv_tcp_t *)s, struct pf_pair, tcp);
    struct stream_conn *c = p->pf->c;
    if (n > 0) {
        if (!c)
            return;
        stream_chan_send(c, 2 * p->idx, b->base, (size_t)n);
        if (p->pf->c && stream_conn_queued(p->pf->c) >= STREAM_HIGH_WATER)
            for (size_t i = 0; i < p->pf->n; i++)
                set_reading(p->pf->pairs[i], false);
        return;
    }
    if (n == 0)
        return;
    p->sock_eof = true;
    p->reading = false;
    uv_read_stop(s);
    if (n != UV_EOF) {
        pair_fail(p, uv_strerror((int)n));
        return;
    }
    /* The pod's side is done: so is the pair, as the kubelet's forwarder ends (clients wait
     * for the error stream to end before they close their connection). */
    pair_done(p);
}

struct sock_write {
    uv_write_t req;
    struct pf_pair *p;
    char data[];
};

static void on_sock_written(uv_write_t *req, int status)
{
    struct sock_write *w = container_of(req, struct sock_write, req);
    struct pf_pair *p = w->p;
    free(w);
    struct stream_conn *c = p->pf->c;
    if (status < 0 && status != UV_ECANCELED && !p->done)
        pair_fail(p, uv_strerror(status));
    if (c && p->has_tcp && p->tcp.write_queue_size < STREAM_HIGH_WATER / 2)
        stream_conn_pause_input(c, false);
}

static void write_sock(struct pf_pair *p, const uint8_t *data, size_t len)
{
    struct sock_write *w = xmalloc_flex(sizeof(*w), len);
    memcpy(w->data, data, len);
    w->p = p;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&p->tcp, &b, 1, on_sock_written) < 0) {
        free(w);
        pair_fail(p, "write failed");
        return;
    }
    struct stream_conn *c = p->pf->c;
    if (c && p->tcp.write_queue_size >= STREAM_HIGH_WATER)
        stream_conn_pause_input(c, true);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    free(req);
}

static void shutdown_sock(struct pf_pair *p)
{
    uv_shutdown_t *req = xcalloc(1, sizeof(*req));
    if (uv_shutdown(req, (uv_stream_t *)&p->tcp, on_shutdown) < 0)
        free(req);
}

static void on_connected(uv_connect_t *req, int status)
{
    struct pf_pair *p = container_of(req, struct pf_pair, conn_req);
    p->connecting = false;
    if (status == UV_ECANCELED || p->done)
        return;
    if (status < 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "connect to port %u in the pod: %s", p->port,
                 uv_strerror(status));
        pair_fail(p, msg);
        return;
    }
    p->connected = true;
    if (p->early.len)
        write_sock(p, p->early.data, p->early.len);
    buf_done(&p->early);
    if (p->client_eof && !p->done)
        shutdown_sock(p);
    set_reading(p, true);
}

static void on_socket(int fd, struct err *err, void *data)
{
    struct pf_pair *p = data;
    struct pf_session *pf = p->pf;
    if (fd >= 0 && (p->done || !pf->c)) {
        close(fd);
        fd = -1;
    } else if (fd < 0 && !p->done) {
        pair_fail(p, err_msg(err));
    }
    if (fd >= 0) {
        uv_tcp_init(pf->srv->loop, &p->tcp);
        p->tcp.data = p;
        p->has_tcp = true;
        pf->refs++; /* until the handle is closed */
        struct sockaddr_in sa;
        uv_ip4_addr("127.0.0.1", p->port, &sa);
        int r = uv_tcp_open(&p->tcp, fd);
        if (r < 0)
            close(fd);
        if (r == 0)
            r = uv_tcp_connect(&p->conn_req, &p->tcp, (struct sockaddr *)&sa, on_connected);
        if (r < 0)
            pair_fail(p, uv_strerror(r));
        else
            p->connecting = true;
    }
    pf_unref(pf); /* the connect's reference */
}

static struct pf_pair *pair_new(struct pf_session *pf, int idx, uint16_t port)
{
    if (pf->n == MAX_PAIRS)
        return NULL;
    struct pf_pair *p = xcalloc(1, sizeof(*p));
    p->pf = pf;
    p->idx = idx;
    p->port = port;
    pf->pairs[pf->n++] = p;
    pf->refs++;
    pf->srv->ops->connect(pf->srv->data, pf->c->req, port, on_socket, p);
    return p;
}

static struct pf_pair *pair_of(struct pf_session *pf, int chan)
{
    for (size_t i = 0; i < pf->n; i++)
        if (pf->pairs[i]->idx == chan / 2)
            return pf->pairs[i];
    return NULL;
}

void stream_pf_start(struct stream_conn *c)
{
    struct pf_session *pf = xcalloc(1, sizeof(*pf));
    pf->c = c;
    pf->srv = c->srv;
    pf->refs = 1;
    c->pf = pf;
    if (c->proto != PROTO_WS)
        return;
    for (size_t i = 0; i < c->req->n_ports && i < MAX_PAIRS; i++) {
        uint16_t port = (uint16_t)c->req->ports[i];
        uint8_t le[2] = {(uint8_t)(port & 0xff), (uint8_t)(port >> 8)};
        stream_chan_send(c, (int)(2 * i), le, 2);
        stream_chan_send(c, (int)(2 * i + 1), le, 2);
        pair_new(pf, (int)i, port);
    }
}

void stream_pf_stream(struct stream_conn *c, int chan, int port)
{
    struct pf_session *pf = c->pf;
    if (!pf || pair_of(pf, chan))
        return;
    if (!pair_new(pf, chan / 2, (uint16_t)port)) {
        stream_chan_send(c, chan | 1, "too many connections", 20);
        stream_chan_close(c, chan & ~1);
        stream_chan_close(c, chan | 1);
    }
}

void stream_pf_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len)
{
    struct pf_pair *p = c->pf ? pair_of(c->pf, chan) : NULL;
    if (!p || p->done || (chan & 1) || p->client_eof || len == 0)
        return; /* the error channel carries nothing from the client */
    if (p->connected) {
        write_sock(p, data, len);
    } else {
        buf_append(&p->early, data, len);
        if (p->early.len >= STREAM_HIGH_WATER)
            stream_conn_pause_input(c, true);
    }
}

void stream_pf_eof(struct stream_conn *c, int chan)
{
    struct pf_pair *p = c->pf ? pair_of(c->pf, chan) : NULL;
    if (!p || p->done || (chan & 1) || p->client_eof)
        return;
    p->client_eof = true;
    if (p->connected)
        shutdown_sock(p);
    if (p->sock_eof)
        pair_done(p);
}

void stream_pf_drain(struct stream_conn *c)
{
    struct pf_session *pf = c->pf;
    for (size_t i = 0; pf && i < pf->n; i++)
        set_reading(pf->pairs[i], true);
}

void stream_pf_gone(struct stream_conn *c)
{
    struct pf_session *pf = c->pf;
    if (!pf)
        return;
    c->pf = NULL;
    pf->c = NULL;
    for (size_t i = 0; i < pf->n; i++) {
        pf->pairs[i]->done = true;
        close_tcp(pf->pairs[i]);
    }
    pf_unref(pf);
}
