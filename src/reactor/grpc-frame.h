/* gRPC wire pieces that need no I/O: the length-prefixed message reader, grpc-timeout and
 * grpc-message encoding. Internal to reactor/ (and its unit tests). */
#ifndef CRIB_REACTOR_GRPC_FRAME_H
#define CRIB_REACTOR_GRPC_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define GRPC_FRAME_HEADER 5

/* Collects the messages of one request body. Keeps the first message; counts the rest. */
struct grpc_frame_reader {
    size_t max; /* largest message accepted */
    uint8_t hdr[GRPC_FRAME_HEADER];
    size_t hdr_len; /* header bytes of the current message seen so far */
    size_t want;    /* length of the current message */
    struct buf cur; /* the current message's bytes */
    bool in_msg;    /* header complete, collecting the body */
    size_t n_msgs;  /* completed messages */
    uint8_t *first; /* the first complete message (owned) */
    size_t first_len;
};

void reactor_grpc_frame_reader_init(struct grpc_frame_reader *r, size_t max);
void reactor_grpc_frame_reader_done(struct grpc_frame_reader *r);
/* Feed body bytes. 0, or -EMSGSIZE (a message longer than max was announced), -EPROTO (bad flag
 * byte), -ENOTSUP (a compressed message). After an error the reader must not be fed again. */
int reactor_grpc_frame_reader_feed(struct grpc_frame_reader *r, const uint8_t *data, size_t len);
/* True when no message is half-received. */
bool reactor_grpc_frame_reader_idle(const struct grpc_frame_reader *r);
/* Write the 5-byte prefix of an uncompressed message of len bytes. */
void reactor_grpc_frame_header(uint8_t out[GRPC_FRAME_HEADER], uint32_t len);
/* Parse a grpc-timeout value ("100m", "5S", ...) into milliseconds (rounded up). -EINVAL. */
int reactor_grpc_timeout_parse(const char *s, size_t len, uint64_t *ret_ms);
/* Percent-encode a grpc-message value as the gRPC HTTP/2 spec asks. */
void reactor_grpc_message_encode(const char *msg, struct buf *out);

#endif
