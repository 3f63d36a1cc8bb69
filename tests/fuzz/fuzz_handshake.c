/* libFuzzer target for the streaming server's upgrade path: the request parser fed in pieces
 * the first byte chooses, then protocol negotiation and the accept key over what it parsed.
 * Whatever the bytes, the parser ends in one of its three answers and holds no more than its
 * caps. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stream/stream-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const sup[] = {"v5.channel.k8s.io", "v4.channel.k8s.io",
                                      "portforward.k8s.io", "channel.k8s.io", NULL};
    if (size < 1)
        return 0;
    size_t piece = data[0] % 16 + 1;
    data++;
    size--;
    struct stream_handshake hs;
    stream_handshake_init(&hs);
    size_t off = 0;
    int r = 0;
    while (off < size && r == 0) {
        size_t n = size - off < piece ? size - off : piece, used = 0;
        r = stream_handshake_feed(&hs, data + off, n, &used);
        if (used > n)
            abort();
        off += used;
    }
    if (r < 0 && (hs.status < 400 || hs.status > 499))
        abort();
    if (hs.target.len > STREAM_HS_MAX_TARGET || hs.header_bytes > STREAM_HS_MAX_HEADERS + 65536)
        abort();
    if (r == 1) {
        const char *path, *query;
        stream_handshake_target(&hs, &path, &query);
        if (strlen(path) != hs.target.len)
            abort();
        stream_protocol_pick((const char *)hs.protocols.data, sup);
        stream_protocol_pick((const char *)hs.ws_protocols.data, sup);
        if (hs.ws_key) {
            char acc[29];
            stream_ws_accept(hs.ws_key, acc);
            if (strlen(acc) != 28)
                abort();
        }
        struct buf out = {0};
        stream_http_error(&out, 400, path);
        buf_done(&out);
    }
    stream_handshake_done(&hs);
    return 0;
}
