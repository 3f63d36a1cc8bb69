/* gRPC length-prefixed messages, grpc-timeout and grpc-message: pure functions over buffers. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "reactor/grpc-frame.h"

void reactor_grpc_frame_reader_init(struct grpc_frame_reader *r, size_t max)
{
    memset(r, 0, sizeof(*r));
    r->max = max;
}

void reactor_grpc_frame_reader_done(struct grpc_frame_reader *r)
{
    buf_done(&r->cur);
    free(r->first);
    r->first = NULL;
}

static void complete_msg(struct grpc_frame_reader *r)
{
    if (r->n_msgs == 0) {
        r->first_len = r->cur.len;
        r->first = r->cur.len ? buf_steal(&r->cur) : xmalloc(1);
    }
    buf_done(&r->cur);
    r->n_msgs++;
    r->in_msg = false;
    r->hdr_len = 0;
}

int reactor_grpc_frame_reader_feed(struct grpc_frame_reader *r, const uint8_t *data, size_t len)
{
    while (len > 0) {
        if (!r->in_msg) {
            size_t take = GRPC_FRAME_HEADER - r->hdr_len;
            if (take > len)
                take = len;
            memcpy(r->hdr + r->hdr_len, data, take);
            r->hdr_len += take;
            data += take;
            len -= take;
            if (r->hdr_len < GRPC_FRAME_HEADER)
                return 0;
            if (r->hdr[0] == 1)
                return -ENOTSUP;
            if (r->hdr[0] != 0)
                return -EPROTO;
            r->want = (size_t)r->hdr[1] << 24 | (size_t)r->hdr[2] << 16 | (size_t)r->hdr[3] << 8 |
                      (size_t)r->hdr[4];
            if (r->want > r->max)
                return -EMSGSIZE;
            /* No reservation up front: a client may announce a size it never sends. */
            r->in_msg = true;
            if (r->want == 0)
                complete_msg(r);
            continue;
        }
        size_t take = r->want - r->cur.len;
        if (take > len)
            take = len;
        if (r->n_msgs == 0)
            buf_append(&r->cur, data, take);
        else
            r->cur.len += take; /* messages after the first are only counted */
        data += take;
        len -= take;
        if (r->cur.len == r->want)
            complete_msg(r);
    }
    return 0;
}

bool reactor_grpc_frame_reader_idle(const struct grpc_frame_reader *r)
{
    return !r->in_msg && r->hdr_len == 0;
}

void reactor_grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER], uint32_t len)
{
    out[0] = 0;
    out[1] = (uint8_t)(len >> 24);
    out[2] = (uint8_t)(len >> 16);
    out[3] = (uint8_t)(len >> 8);
    out[4] = (uint8_t)len;
}

int reactor_grpc_timeout_parse(const char *s, size_t len, uint64_t *ret_ms)
{
    /* TimeoutValue is 1 to 8 ASCII digits, then one unit letter. */
    if (len < 2 || len > 9)
        return -EINVAL;
    uint64_t v = 0;
    for (size_t i = 0; i + 1 < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    switch (s[len - 1]) {
    case 'H':
        *ret_ms = v * 3600 * 1000;
        return 0;
    case 'M':
        *ret_ms = v * 60 * 1000;
        return 0;
    case 'S':
        *ret_ms = v * 1000;
        return 0;
    case 'm':
        *ret_ms = v;
        return 0;
    case 'u':
        *ret_ms = (v + 999) / 1000;
        return 0;
    case 'n':
        *ret_ms = (v + 999999) / 1000000;
        return 0;
    default:
        return -EINVAL;
    }
}

void reactor_grpc_message_encode(const char *msg, struct buf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p >= 0x20 && *p <= 0x7e && *p != '%') {
            buf_append(out, p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            buf_append(out, e, 3);
        }
    }
}
