/* The streaming server: a TCP listener (reactor/), one-time URLs, the upgrade handshake with its
 * deadline and caps, and the connection under each session (backpressure, idle timeout). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "stream/stream-internal.h"

/* After our last byte, how long a client gets to close its side before we close ours. */
#define LINGER_MS 5000

static const char *const rc_spdy_protocols[] = {"v4.channel.k8s.io", "v3.channel.k8s.io",
                                                "v2.channel.k8s.io", "channel.k8s.io", NULL};
static const char *const pf_spdy_protocols[] = {"portforward.k8s.io", NULL};
static const char *const rc_ws_protocols[] = {"v5.channel.k8s.io",        "v4.channel.k8s.io",
                                              "v4.base64.channel.k8s.io", "base64.channel.k8s.io",
                                              "channel.k8s.io",           NULL};
static const char *const pf_ws_protocols[] = {"v4.channel.k8s.io", "v4.base64.channel.k8s.io",
                                              "base64.channel.k8s.io", "channel.k8s.io", NULL};

void stream_request_free(struct stream_request *r)
{
    if (!r)
        return;
    free(r->container_id);
    for (char **a = r->cmd; a && *a; a++)
        free(*a);
    free(r->cmd);
    free(r->pod_id);
    free(r->ports);
    free(r);
}

/* ---- connections: the socket, TLS and the write queue are reactor/'s (conn.c) ---- */

static void conn_close(struct stream_conn *c);

static void maybe_free_conn(struct stream_conn *c)
{
    if (c->handles > 0)
        return;
    stream_handshake_done(&c->hs);
    stream_request_free(c->req);
    free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    struct stream_conn *c = h->data;
    c->handles--;
    maybe_free_conn(c);
}

static void on_conn_closed(void *data)
{
    struct stream_conn *c = data;
    c->sock = NULL; /* freed after this callback */
    c->handles--;
    maybe_free_conn(c);
}

/* Traffic restarts the idle timeout, and only that: the handshake deadline and the linger hold
 * whatever the client sends (the deadline does not repeat, so uv_timer_again leaves it alone;
 * the linger is reactor_conn_finish's own timer). */
static void touch(struct stream_conn *c)
{
    if (c->srv->idle_ms && !c->closing && !c->finishing && c->proto != PROTO_HANDSHAKE)
        uv_timer_again(&c->idle);
}

static void on_writable(void *data)
{
    struct stream_conn *c = data;
    touch(c);
    if (c->want_drain && stream_conn_queued(c) < STREAM_HIGH_WATER / 2) {
        c->want_drain = false;
        stream_session_drain(c);
    }
}

void stream_conn_write(struct stream_conn *c, const void *data, size_t len)
{
    if (c->closing)
        return;
    reactor_conn_write(c->sock, data, len);
}

size_t stream_conn_queued(struct stream_conn *c)
{
    size_t n = c->sock ? reactor_conn_queued(c->sock) : 0;
    if (c->proto == PROTO_WS)
        n += stream_ws_queued(c);
    else if (c->proto == PROTO_SPDY)
        n += stream_spdy_queued(c);
    if (n >= STREAM_HIGH_WATER)
        c->want_drain = true;
    return n;
}

static void free_transport(struct stream_conn *c)
{
    if (c->proto == PROTO_WS)
        stream_ws_free(c);
    else if (c->proto == PROTO_SPDY)
        stream_spdy_free(c);
}

/* The connection closes, whoever closed it: the session hears that the client is gone. */
static void on_conn_close(void *data)
{
    struct stream_conn *c = data;
    c->closing = true;
    if (c->counted)
        c->srv->counters.active[c->req->kind]--; /* the server may go before c is freed */
    stream_session_gone(c);
    free_transport(c);
    LIST_REMOVE(c->srv->conns, c);
    uv_close((uv_handle_t *)&c->idle, on_timer_closed);
}

static void conn_close(struct stream_conn *c)
{
    if (!c->closing)
        reactor_conn_close(c->sock);
}

void stream_conn_abort(struct stream_conn *c)
{
    conn_close(c);
}

static void on_idle(uv_timer_t *t);

/* The upgrade is done: from now on the idle timeout applies, not the handshake deadline. */
static void start_idle(struct stream_conn *c)
{
    uint64_t ms = c->srv->idle_ms;
    if (ms)
        uv_timer_start(&c->idle, on_idle, ms, ms);
    else
        uv_timer_stop(&c->idle);
}

/* Everything is queued: close once it is written and the client has closed too, or after
 * LINGER_MS (reactor_conn_finish). */
void stream_conn_finish(struct stream_conn *c)
{
    if (c->closing || c->finishing)
        return;
    c->finishing = true;
    uv_timer_stop(&c->idle); /* the linger replaces the deadline or the idle timeout */
    reactor_conn_finish(c->sock, LINGER_MS);
}

void stream_conn_pause_input(struct stream_conn *c, bool pause)
{
    if (c->closing)
        return;
    if (pause)
        reactor_conn_read_pause(c->sock);
    else
        reactor_conn_read_resume(c->sock);
}

/* ---- the handshake ---- */

static void refuse(struct stream_conn *c, int status, const char *msg)
{
    struct buf out = {0};
    stream_http_error(&out, status, msg);
    stream_conn_write(c, out.data, out.len);
    buf_done(&out);
    stream_conn_finish(c);
}

/* "/exec/<token>" and so on: the kind and the token. */
static int parse_path(const char *path, enum stream_kind *ret_kind, char *token, size_t cap)
{
    static const struct {
        const char *prefix;
        enum stream_kind kind;
    } kinds[] = {{"/exec/", STREAM_EXEC},
                 {"/attach/", STREAM_ATTACH},
                 {"/portforward/", STREAM_PORTFORWARD}};
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(path, kinds[i].prefix, n) != 0)
            continue;
        const char *t = path + n;
        size_t len = strcspn(t, "?/");
        if (len == 0 || len >= cap || (t[len] == '/' && t[len + 1] != '\0' && t[len + 1] != '?'))
            return -ENOENT;
        memcpy(token, t, len);
        token[len] = '\0';
        *ret_kind = kinds[i].kind;
        return 0;
    }
    return -ENOENT;
}

/* port-forward over WebSocket names its ports in the query: port=80&port=8080. */
static int query_ports(struct stream_request *req, const char *query, struct err *err)
{
    size_t n = 0;
    int32_t ports[64];
    for (const char *p = query; p && *p;) {
        size_t len = strcspn(p, "&");
        if (len > 5 && strncmp(p, "port=", 5) == 0) {
            char num[8] = {0};
            size_t vl = len - 5;
            char *end;
            if (vl >= sizeof(num))
                return err_set(err, -EINVAL, "bad port in query");
            memcpy(num, p + 5, vl);
            long v = strtol(num, &end, 10);
            if (*end || v < 1 || v > 65535)
                return err_set(err, -EINVAL, "bad port `%s` in query", num);
            if (n == ARRAY_SIZE(ports))
                return err_set(err, -EINVAL, "more than %zu ports", ARRAY_SIZE(ports));
            ports[n++] = (int32_t)v;
        }
        p += len;
        if (*p == '&')
            p++;
    }
    if (n == 0)
        return err_set(err, -EINVAL, "query parameter `port` is required");
    free(req->ports);
    req->ports = xmalloc(n * sizeof(*ports));
    memcpy(req->ports, ports, n * sizeof(*ports));
    req->n_ports = n;
    return 0;
}

static void rc_version(struct stream_conn *c, const char *proto)
{
    c->version = 1;
    if (strncmp(proto, "v5.", 3) == 0)
        c->version = 5;
    else if (strncmp(proto, "v4.", 3) == 0)
        c->version = 4;
    else if (strncmp(proto, "v3.", 3) == 0)
        c->version = 3;
    else if (strncmp(proto, "v2.", 3) == 0)
        c->version = 2;
    c->base64 = strstr(proto, "base64.") != NULL;
}

static void upgrade_ws(struct stream_conn *c)
{
    const struct stream_handshake *hs = &c->hs;
    if (!hs->ws_key || strlen(hs->ws_key) != 24 || !hs->ws_version ||
        strcmp(hs->ws_version, "13") != 0) {
        refuse(c, 400, "websocket upgrade needs Sec-WebSocket-Key and Sec-WebSocket-Version 13");
        return;
    }
    const char *proto = "";
    if (hs->ws_protocols.len) {
        const char *const *sup =
            c->req->kind == STREAM_PORTFORWARD ? pf_ws_protocols : rc_ws_protocols;
        proto = stream_protocol_pick((const char *)hs->ws_protocols.data, sup);
        if (!proto) {
            refuse(c, 400, "none of the websocket protocols offered is supported");
            return;
        }
    }
    if (c->req->kind == STREAM_PORTFORWARD) {
        const char *path, *query;
        stream_handshake_target(hs, &path, &query);
        struct err e = ERR_INIT;
        if (query_ports(c->req, query, &e) < 0) {
            refuse(c, 400, err_msg(&e));
            err_done(&e);
            return;
        }
    }
    rc_version(c, proto);
    char accept[29];
    stream_ws_accept(hs->ws_key, accept);
    struct buf out = {0};
    buf_printf(&out,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
               accept);
    if (*proto)
        buf_printf(&out, "Sec-WebSocket-Protocol: %s\r\n", proto);
    buf_puts(&out, "\r\n");
    stream_conn_write(c, out.data, out.len);
    buf_done(&out);
    c->proto = PROTO_WS;
    start_idle(c);
    if (stream_ws_open(c) < 0) {
        stream_conn_abort(c);
        return;
    }
    stream_session_start(c);
}

static void upgrade_spdy(struct stream_conn *c)
{
    const char *const *sup =
        c->req->kind == STREAM_PORTFORWARD ? pf_spdy_protocols : rc_spdy_protocols;
    const char *proto = stream_protocol_pick((const char *)c->hs.protocols.data, sup);
    if (!proto) {
        struct buf out = {0}, msg = {0};
        buf_printf(&msg, "unable to upgrade: unable to negotiate protocol: client supports [%s]",
                   c->hs.protocols.len ? (const char *)c->hs.protocols.data : "");
        buf_printf(&out, "HTTP/1.1 403 Forbidden\r\n");
        for (size_t i = 0; sup[i]; i++)
            buf_printf(&out, "X-Accepted-Stream-Protocol-Versions: %s\r\n", sup[i]);
        buf_printf(&out,
                   "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: close\r\n\r\n%s",
                   msg.len, (const char *)msg.data);
        stream_conn_write(c, out.data, out.len);
        buf_done(&out);
        buf_done(&msg);
        stream_conn_finish(c);
        return;
    }
    rc_version(c, proto);
    struct buf out = {0};
    buf_printf(&out,
               "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
               "X-Stream-Protocol-Version: %s\r\n\r\n",
               proto);
    stream_conn_write(c, out.data, out.len);
    buf_done(&out);
    c->proto = PROTO_SPDY;
    start_idle(c);
    stream_spdy_open(c);
    /* The session starts once the client has opened the streams it needs. */
}

static void handshake_done(struct stream_conn *c)
{
    const char *path, *query;
    stream_handshake_target(&c->hs, &path, &query);
    char token[STREAM_TOKEN_LEN + 2];
    enum stream_kind kind;
    if (parse_path(path, &kind, token, sizeof(token)) < 0) {
        refuse(c, 404, "no such streaming endpoint");
        return;
    }
    c->req = stream_tokens_take(&c->srv->tokens, token, uv_now(c->srv->loop));
    if (!c->req) {
        refuse(c, 404, "unknown or expired streaming token (it is valid once)");
        return;
    }
    if (c->req->kind != kind) {
        refuse(c, 404, "the token is not for this endpoint");
        return;
    }
    const char *up = c->hs.upgrade ? c->hs.upgrade : "";
    if (strcasecmp(up, "websocket") == 0)
        upgrade_ws(c);
    else if (strcasecmp(up, "SPDY/3.1") == 0)
        upgrade_spdy(c);
    else
        refuse(c, 400, "the request must upgrade to SPDY/3.1 or websocket");
}

static void feed(struct stream_conn *c, const uint8_t *data, size_t len)
{
    if (c->finishing)
        return; /* the session is over: what comes now is dropped */
    if (c->proto == PROTO_HANDSHAKE) {
        size_t used;
        int r = stream_handshake_feed(&c->hs, data, len, &used);
        if (r < 0) {
            refuse(c, c->hs.status, "bad request");
            return;
        }
        if (r == 0)
            return;
        handshake_done(c);
        data += used;
        len -= used;
        if (c->closing || c->finishing || len == 0)
            return;
    }
    int r = 0;
    if (c->proto == PROTO_WS)
        r = stream_ws_feed(c, data, len);
    else if (c->proto == PROTO_SPDY)
        r = stream_spdy_feed(c, data, len);
    if (r < 0)
        stream_conn_abort(c);
}

/* Bytes from the client (len 0: only TLS records came, traffic all the same). */
static void on_data(void *data, const uint8_t *bytes, size_t len)
{
    struct stream_conn *c = data;
    touch(c);
    if (len)
        feed(c, bytes, len);
}

static void on_idle(uv_timer_t *t)
{
    struct stream_conn *c = t->data;
    if (c->proto == PROTO_HANDSHAKE) /* debug: a flood must not flood the log */
        log_debug("streaming handshake not done in %" PRIu64 " ms: closed", c->srv->handshake_ms);
    else
        log_info("streaming session idle for %" PRIu64 " s: closed", c->srv->idle_ms / 1000);
    conn_close(c);
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
                      &((const struct sockaddr_in *)b)->sin_addr, sizeof(struct in_addr)) == 0;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
                      &((const struct sockaddr_in6 *)b)->sin6_addr, sizeof(struct in6_addr)) == 0;
    return false;
}

/* The connections other than c that have not upgraded yet (from c's address only, if
 * same_peer): how many, and the oldest (the list is newest first). */
static size_t count_handshakes(struct stream_server *srv, struct stream_conn *c, bool same_peer,
                               struct stream_conn **ret_oldest)
{
    size_t n = 0;
    *ret_oldest = NULL;
    for (struct stream_conn *o = srv->conns; o; o = o->next) {
        if (o == c || o->proto != PROTO_HANDSHAKE)
            continue;
        if (same_peer && (!c->peer.ss_family || !same_host(&o->peer, &c->peer)))
            continue;
        n++;
        *ret_oldest = o;
    }
    return n;
}

/* Make room for c, which has not upgraded yet: past the caps the oldest such connection goes. A
 * client that means to upgrade does so in milliseconds, so the oldest are the ones that dribble
 * or stall; a new client always gets its chance. */
static void limit_handshakes(struct stream_server *srv, struct stream_conn *c)
{
    struct stream_conn *oldest;
    if (count_handshakes(srv, c, true, &oldest) >= srv->max_handshakes_per_peer) {
        log_debug("too many streaming handshakes from one address: the oldest is closed");
        conn_close(oldest);
    }
    if (count_handshakes(srv, c, false, &oldest) >= srv->max_handshakes) {
        log_debug("too many streaming handshakes: the oldest is closed");
        conn_close(oldest);
    }
}

static const struct reactor_conn_ops conn_ops = {
    .data = on_data,
    .writable = on_writable,
    .close = on_conn_close,
    .closed = on_conn_closed,
};

static void *on_accept(void *data, struct reactor_conn *sock)
{
    struct stream_server *srv = data;
    struct stream_conn *c = xcalloc(1, sizeof(*c));
    c->srv = srv;
    c->sock = sock;
    stream_handshake_init(&c->hs);
    uv_timer_init(srv->loop, &c->idle);
    c->idle.data = c;
    c->handles = 2;
    LIST_PREPEND(srv->conns, c);
    reactor_conn_peer(sock, &c->peer);
    limit_handshakes(srv, c);
    /* The upgrade must be done by this deadline, however the bytes trickle in (no repeat: traffic
     * does not extend it); the idle timeout replaces it at the upgrade. */
    uv_timer_start(&c->idle, on_idle, srv->handshake_ms, 0);
    return c; /* reading starts now */
}

/* ---- the server ---- */

static void on_srv_closed(void *data)
{
    struct stream_server *srv = data;
    if (--srv->handles > 0)
        return;
    stream_tokens_done(&srv->tokens);
    free(srv->base_url);
    free(srv);
}

static void on_sweep_closed(uv_handle_t *h)
{
    on_srv_closed(h->data);
}

static void on_sweep(uv_timer_t *t)
{
    struct stream_server *srv = t->data;
    /* Taking an impossible token sweeps the expired ones. */
    stream_tokens_take(&srv->tokens, "", uv_now(srv->loop));
}

int stream_server_start(uv_loop_t *loop, const struct stream_config *cfg,
                        const struct stream_ops *ops, void *data, struct stream_server **ret,
                        struct err *err)
{
    struct sockaddr_storage ss;
    bool v6 = strchr(cfg->address, ':') != NULL;
    int r = v6 ? uv_ip6_addr(cfg->address, cfg->port, (struct sockaddr_in6 *)&ss)
               : uv_ip4_addr(cfg->address, cfg->port, (struct sockaddr_in *)&ss);
    if (r < 0)
        return err_set(err, -EINVAL, "stream_address `%s` is not an IP address", cfg->address);
    struct reactor_tls *tls = NULL;
    if (cfg->tls_cert && cfg->tls_key) {
        struct reactor_tls_config tc = {.cert = cfg->tls_cert,
                                        .key = cfg->tls_key,
                                        .cert_name = "stream_tls_cert",
                                        .key_name = "stream_tls_key"};
        r = reactor_tls_new(&tc, &tls, err);
        if (r < 0)
            return r;
    }
    struct stream_server *srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->ops = ops;
    srv->data = data;
    srv->token_ttl_ms = cfg->token_ttl_ms;
    srv->idle_ms = cfg->idle_timeout_ms;
    srv->handshake_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : 30000;
    srv->exec_drain_ms = cfg->exec_drain_ms ? cfg->exec_drain_ms : 1000;
    srv->max_handshakes = cfg->max_handshakes ? cfg->max_handshakes : 256;
    srv->max_handshakes_per_peer =
        cfg->max_handshakes_per_peer ? cfg->max_handshakes_per_peer : srv->max_handshakes;
    stream_tokens_init(&srv->tokens);
    uv_timer_init(loop, &srv->sweep);
    srv->sweep.data = srv;
    srv->handles = 1;
    struct reactor_listener_config lc = {
        .addr = (struct sockaddr *)&ss, .backlog = 128, .tls = tls};
    r = reactor_listener_start(loop, &lc, &conn_ops, on_accept, srv, &srv->listener);
    if (r == 0)
        srv->handles++;
    if (r < 0) {
        err_set(err, r, "streaming server on %s port %d: %s", cfg->address, cfg->port,
                uv_strerror(r));
        stream_server_close(srv);
        return r;
    }
    int port = reactor_listener_port(srv->listener);
    srv->base_url = xasprintf("%s://%s%s%s:%d", tls ? "https" : "http", v6 ? "[" : "", cfg->address,
                              v6 ? "]" : "", port);
    uv_timer_start(&srv->sweep, on_sweep, srv->token_ttl_ms, srv->token_ttl_ms);
    log_info("streaming server on %s", srv->base_url);
    *ret = srv;
    return 0;
}

int stream_server_url(struct stream_server *srv, struct stream_request *req, char **ret_url,
                      struct err *err)
{
    static const char *const paths[] = {"exec", "attach", "portforward"};
    enum stream_kind kind = req->kind;
    char token[STREAM_TOKEN_LEN + 1];
    int r = stream_tokens_add(&srv->tokens, req, uv_now(srv->loop) + srv->token_ttl_ms, token);
    if (r == -EAGAIN)
        return err_set(err, r, "too many streaming URLs outstanding (%d)", STREAM_TOKENS_MAX);
    if (r < 0)
        return err_set(err, r, "streaming token: %s", strerror(-r));
    *ret_url = xasprintf("%s/%s/%s", srv->base_url, paths[kind], token);
    return 0;
}

void stream_server_close(struct stream_server *srv)
{
    if (!srv || srv->closing)
        return;
    srv->closing = true;
    while (srv->conns)
        conn_close(srv->conns);
    if (srv->listener)
        reactor_listener_close(TAKE_PTR(srv->listener), on_srv_closed, srv);
    uv_close((uv_handle_t *)&srv->sweep, on_sweep_closed);
}

/* ---- transport dispatch ---- */

void stream_chan_send(struct stream_conn *c, int chan, const void *data, size_t len)
{
    if (c->closing)
        return;
    if (c->proto == PROTO_WS && !c->finishing)
        stream_ws_send(c, chan, data, len);
    else if (c->proto == PROTO_SPDY)
        stream_spdy_send(c, chan, data, len);
}

void stream_chan_close(struct stream_conn *c, int chan)
{
    /* WebSocket channels have no half-close of their own: the session ends them all at once. */
    if (!c->closing && c->proto == PROTO_SPDY)
        stream_spdy_close_chan(c, chan);
}

void stream_chan_finish(struct stream_conn *c)
{
    if (c->proto == PROTO_WS)
        stream_ws_finish(c);
    else if (c->proto == PROTO_SPDY)
        stream_spdy_finish(c);
    else
        stream_conn_finish(c);
}

void stream_session_start(struct stream_conn *c)
{
    if (!c->counted) {
        c->counted = true;
        c->srv->counters.total[c->req->kind]++;
        c->srv->counters.active[c->req->kind]++;
    }
    if (c->req->kind == STREAM_PORTFORWARD)
        stream_pf_start(c);
    else
        stream_rc_start(c);
}

void stream_session_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len)
{
    if (c->req->kind == STREAM_PORTFORWARD)
        stream_pf_data(c, chan, data, len);
    else
        stream_rc_data(c, chan, data, len);
}

void stream_session_eof(struct stream_conn *c, int chan)
{
    if (c->req->kind == STREAM_PORTFORWARD)
        stream_pf_eof(c, chan);
    else
        stream_rc_eof(c, chan);
}

void stream_session_drain(struct stream_conn *c)
{
    if (!c->req)
        return;
    if (c->req->kind == STREAM_PORTFORWARD)
        stream_pf_drain(c);
    else
        stream_rc_drain(c);
}

void stream_session_gone(struct stream_conn *c)
{
    if (!c->req)
        return;
    if (c->req->kind == STREAM_PORTFORWARD)
        stream_pf_gone(c);
    else
        stream_rc_gone(c);
}

const struct stream_counters *stream_server_counters(const struct stream_server *srv)
{
    return &srv->counters;
}
