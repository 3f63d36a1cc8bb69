/* libFuzzer target for the WebSocket transport's input: the bytes are a client's frames (the
 * first byte picks binary or base64 channel framing), parsed by wslay as the server parses them,
 * and every message goes through the channel decoder. A decoded payload is never longer than
 * its message, and re-encoding it decodes to the same bytes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <wslay/wslay.h>

#include "common/base64.h"
#include "stream/stream-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
    const uint8_t *in;
    size_t len;
    bool base64;
    struct buf dec, enc, again;
};

static ssize_t on_recv(wslay_event_context_ptr ctx, uint8_t *b, size_t len, int flags, void *ud)
{
    (void)flags;
    struct feed *f = ud;
    if (f->len == 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    size_t n = len < f->len ? len : f->len;
    memcpy(b, f->in, n);
    f->in += n;
    f->len -= n;
    return (ssize_t)n;
}

static ssize_t on_send(wslay_event_context_ptr ctx, const uint8_t *d, size_t len, int flags,
                       void *ud)
{
    (void)ctx, (void)d, (void)flags, (void)ud;
    return (ssize_t)len;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *ud)
{
    (void)ctx;
    struct feed *f = ud;
    if (arg->opcode != WSLAY_TEXT_FRAME && arg->opcode != WSLAY_BINARY_FRAME)
        return;
    int chan = stream_ws_decode(f->base64, arg->msg, arg->msg_length, &f->dec);
    if (chan < 0)
        return;
    if (chan > 255 || f->dec.len >= arg->msg_length)
        abort();
    if (f->base64 && chan > 9)
        abort();
    stream_ws_encode(f->base64, chan, f->dec.data, f->dec.len, &f->enc);
    if (stream_ws_decode(f->base64, f->enc.data, f->enc.len, &f->again) != chan ||
        f->again.len != f->dec.len || memcmp(f->again.data, f->dec.data, f->dec.len) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = on_recv, .send_callback = on_send, .on_msg_recv_callback = on_msg};
    if (size < 1)
        return 0;
    struct feed f = {.in = data + 1, .len = size - 1, .base64 = data[0] & 1};
    /* The same bytes straight through the decoder too, as one message. */
    int chan = stream_ws_decode(f.base64, f.in, f.len, &f.dec);
    if (chan >= 0 && f.dec.len >= f.len)
        abort();
    wslay_event_context_ptr ctx;
    if (wslay_event_context_server_init(&ctx, &cbs, &f) != 0)
        abort();
    wslay_event_config_set_max_recv_msg_length(ctx, 1u << 20);
    wslay_event_recv(ctx);
    wslay_event_context_free(ctx);
    buf_done(&f.dec);
    buf_done(&f.enc);
    buf_done(&f.again);
    return 0;
}
