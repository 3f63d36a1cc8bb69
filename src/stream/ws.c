/* The WebSocket transport (RFC 6455 framing by wslay) with the Kubernetes channel protocols:
 * each message carries one channel, as a leading byte (channel.k8s.io, v4, v5) or a leading digit
 * before base64 text (base64.channel.k8s.io). v5 adds the close signal: channel 255 with the
 * number of the channel the client closes. */
#include <errno.h>
#include <string.h>

#include <wslay/wslay.h>

#include "common/base64.h"
#include "common/macro.h"
#include "stream/stream-internal.h"

#define WS_MAX_MSG (4u << 20)
#define CH_CLOSE 255

struct ws_conn {
    struct stream_conn *c;
    wslay_event_context_ptr ctx;
    const uint8_t *in; /* bytes being fed */
    size_t in_len;
    struct buf scratch;
    bool closed_by_client;
    bool malformed;  /* a message that is not of the negotiated framing */
    bool busy, dead; /* inside wslay; freed on the way out */
};

int stream_ws_decode(bool base64, const uint8_t *msg, size_t len, struct buf *out)
{
    out->len = 0;
    if (len == 0)
        return -EPROTO;
    if (!base64) {
        buf_append(out, msg + 1, len - 1);
        return msg[0];
    }
    if (msg[0] < '0' || msg[0] > '9')
        return -EPROTO;
    if (base64_decode((const char *)msg + 1, len - 1, out) < 0)
        return -EPROTO;
    return msg[0] - '0';
}

void stream_ws_encode(bool base64, int chan, const void *data, size_t len, struct buf *out)
{
    out->len = 0;
    if (!base64) {
        uint8_t ch = (uint8_t)chan;
        buf_append(out, &ch, 1);
        buf_append(out, data, len);
        return;
    }
    size_t n = base64_encoded_len(len);
    buf_reserve(out, 1 + n);
    out->data[0] = (uint8_t)('0' + chan);
    base64_encode_to(data, len, (char *)out->data + 1);
    out->len = 1 + n;
}

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *b, size_t len, int flags, void *ud)
{
    struct ws_conn *ws = ud;
    if (ws->in_len == 0 || ws->dead) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < ws->in_len ? len : ws->in_len;
    memcpy(b, ws->in, n);
    ws->in += n;
    ws->in_len -= n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *ud)
{
    struct ws_conn *ws = ud;
    if (!ws->dead)
        stream_conn_write(ws->c, data, len);
    return (ssize_t)len;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    struct ws_conn *ws = ud;
    struct stream_conn *c = ws->c;
    if (ws->dead || ws->malformed)
        return;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        ws->closed_by_client = true;
        return;
    }
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    if (arg->msg_length == 0)
        return; /* an empty message carries nothing */
    int chan = stream_ws_decode(c->base64, arg->msg, arg->msg_length, &ws->scratch);
    if (chan < 0) {
        ws->malformed = true;
        return;
    }
    if (chan == CH_CLOSE && c->version >= 5) {
        if (ws->scratch.len >= 1)
            stream_session_eof(c, ws->scratch.data[0]);
        return;
    }
    stream_session_data(c, chan, ws->scratch.data, ws->scratch.len);
}

int stream_ws_open(struct stream_conn *c)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = on_recv, .send_callback = on_send, .on_msg_recv_callback = on_msg};
    struct ws_conn *ws = xcalloc(1, sizeof(*ws));
    ws->c = c;
    if (wslay_event_context_server_init(&ws->ctx, &cbs, ws) != 0) {
        free(ws);
        return -ENOMEM;
    }
    wslay_event_config_set_max_recv_msg_length(ws->ctx, WS_MAX_MSG);
    c->ws = ws;
    return 0;
}

static void ws_free(struct ws_conn *ws)
{
    wslay_event_context_free(ws->ctx);
    buf_done(&ws->scratch);
    free(ws);
}

void stream_ws_free(struct stream_conn *c)
{
    struct ws_conn *ws = c->ws;
    if (!ws)
        return;
    c->ws = NULL;
    if (ws->busy)
        ws->dead = true;
    else
        ws_free(ws);
}

static void flush(struct stream_conn *c)
{
    if (c->ws && wslay_event_want_write(c->ws->ctx))
        wslay_event_send(c->ws->ctx);
}

int stream_ws_feed(struct stream_conn *c, const uint8_t *data, size_t len)
{
    struct ws_conn *ws = c->ws;
    ws->in = data;
    ws->in_len = len;
    ws->busy = true;
    int r = wslay_event_recv(ws->ctx);
    ws->busy = false;
    if (ws->dead) { /* the session closed the connection meanwhile */
        ws_free(ws);
        return 0;
    }
    ws->in_len = 0;
    flush(c); /* pongs, and the answer to a close */
    if (r != 0)
        return -EPROTO;
    if (ws->malformed && wslay_event_get_write_enabled(ws->ctx)) {
        static const char why[] = "malformed channel message";
        wslay_event_queue_close(ws->ctx, WSLAY_CODE_INVALID_FRAME_PAYLOAD_DATA,
                                (const uint8_t *)why, sizeof(why) - 1);
        flush(c);
    }
    if (ws->closed_by_client || ws->malformed) {
        stream_session_gone(c);
        stream_conn_finish(c);
    }
    return 0;
}

void stream_ws_send(struct stream_conn *c, int chan, const void *data, size_t len)
{
    struct ws_conn *ws = c->ws;
    if (!ws || !wslay_event_get_write_enabled(ws->ctx))
        return;
    stream_ws_encode(c->base64, chan, data, len, &ws->scratch);
    struct wslay_event_msg m = {.opcode = c->base64 ? WSLAY_TEXT_FRAME : WSLAY_BINARY_FRAME,
                                .msg = ws->scratch.data,
                                .msg_length = ws->scratch.len};
    wslay_event_queue_msg(ws->ctx, &m);
    flush(c);
}

void stream_ws_finish(struct stream_conn *c)
{
    if (c->ws && wslay_event_get_write_enabled(c->ws->ctx)) {
        wslay_event_queue_close(c->ws->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
        flush(c);
    }
    stream_conn_finish(c);
}

size_t stream_ws_queued(struct stream_conn *c)
{
    return c->ws ? wslay_event_get_queued_msg_length(c->ws->ctx) : 0;
}
