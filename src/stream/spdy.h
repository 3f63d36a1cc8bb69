/* SPDY/3.1 frame codec (the framing under kubectl exec/attach/port-forward): a byte-level parser
 * and frame writers over buffers, with no I/O, in nghttp2's mem_recv/mem_send style. */
#ifndef CRIB_STREAM_SPDY_H
#define CRIB_STREAM_SPDY_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SPDY_VERSION 3

enum spdy_type {
    SPDY_DATA = 0,
    SPDY_SYN_STREAM = 1,
    SPDY_SYN_REPLY = 2,
    SPDY_RST_STREAM = 3,
    SPDY_SETTINGS = 4,
    SPDY_PING = 6,
    SPDY_GOAWAY = 7,
    SPDY_HEADERS = 8,
    SPDY_WINDOW_UPDATE = 9,
};

#define SPDY_FLAG_FIN 0x01
#define SPDY_FLAG_UNIDIRECTIONAL 0x02

enum spdy_rst {
    SPDY_PROTOCOL_ERROR = 1,
    SPDY_INVALID_STREAM = 2,
    SPDY_REFUSED_STREAM = 3,
    SPDY_UNSUPPORTED_VERSION = 4,
    SPDY_CANCEL = 5,
    SPDY_INTERNAL_ERROR = 6,
    SPDY_FLOW_CONTROL_ERROR = 7,
    SPDY_STREAM_IN_USE = 8,
    SPDY_STREAM_ALREADY_CLOSED = 9,
    SPDY_FRAME_TOO_LARGE = 11,
};

#define SPDY_SETTINGS_INITIAL_WINDOW_SIZE 7

/* The largest DATA payload one frame can carry (24-bit length). */
#define SPDY_MAX_FRAME_LEN 0xffffffu
/* Parser limits: a control frame body, a decompressed header block, headers in one block. */
#define SPDY_MAX_CONTROL_LEN (64u * 1024)
#define SPDY_MAX_HEADER_BLOCK (256u * 1024)
#define SPDY_MAX_HEADERS 1024u

/* name is NUL-terminated; value is too (at value[value_len]), and may itself hold NUL-separated
 * values. */
struct spdy_header {
    char *name;
    char *value;
    size_t value_len;
};

struct spdy_setting {
    uint8_t flags;
    uint32_t id;
    uint32_t value;
};

/* One frame (or, for DATA, one chunk of a frame) as the parser hands it out. Pointers are valid
 * only during the callback. */
struct spdy_frame {
    enum spdy_type type;
    uint8_t flags;       /* for a DATA chunk: FIN only on the frame's last chunk */
    uint32_t stream_id;  /* DATA, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE */
    uint32_t assoc_id;   /* SYN_STREAM */
    uint8_t priority;    /* SYN_STREAM, 0..7 */
    const uint8_t *data; /* DATA chunk */
    size_t len;
    uint32_t status; /* RST_STREAM status code, GOAWAY status */
    uint32_t ping_id, last_good_id, delta;
    /* SYN_STREAM/SYN_REPLY/HEADERS, decompressed, names lower-case */
    const struct spdy_header *headers;
    size_t n_headers;
    const struct spdy_setting *settings;
    size_t n_settings;
};

/* A negative return stops the parser; stream_spdy_parser_feed returns it. */
typedef int (*spdy_frame_fn)(void *data, const struct spdy_frame *f);

struct spdy_parser;
struct spdy_parser *stream_spdy_parser_new(spdy_frame_fn fn, void *data);
void stream_spdy_parser_free(struct spdy_parser *p);
/* Consume all of data (any split: one byte at a time works). Returns 0, a negative value the
 * callback returned, or -EPROTO on a protocol error (bad version, bad lengths, a header block that
 * does not decompress or parse, too large), after which the session is dead and every later call
 * returns the same error; stream_spdy_parser_error(p) then says what was wrong in one line. */
int stream_spdy_parser_feed(struct spdy_parser *p, const uint8_t *data, size_t len);
/* "" while no protocol error has happened. */
const char *stream_spdy_parser_error(const struct spdy_parser *p);

/* Owns the deflate context shared by every header block a session sends. Header names are sent
 * lower-cased; a header block must compress to under 16 MiB (ours are a few bytes). */
struct spdy_writer;
struct spdy_writer *stream_spdy_writer_new(void);
void stream_spdy_writer_free(struct spdy_writer *w);
void stream_spdy_write_syn_stream(struct spdy_writer *w, struct buf *out, uint32_t id,
                                  uint32_t assoc, uint8_t prio, uint8_t flags,
                                  const struct spdy_header *h, size_t n);
void stream_spdy_write_syn_reply(struct spdy_writer *w, struct buf *out, uint32_t id, uint8_t flags,
                                 const struct spdy_header *h, size_t n);
void stream_spdy_write_headers(struct spdy_writer *w, struct buf *out, uint32_t id, uint8_t flags,
                               const struct spdy_header *h, size_t n);
/* Splits a payload over SPDY_MAX_FRAME_LEN into several frames, FIN (if asked) on the last. */
void stream_spdy_write_data(struct buf *out, uint32_t id, uint8_t flags, const uint8_t *d,
                            size_t len);
void stream_spdy_write_rst_stream(struct buf *out, uint32_t id, uint32_t status);
void stream_spdy_write_settings(struct buf *out, const struct spdy_setting *s, size_t n);
void stream_spdy_write_ping(struct buf *out, uint32_t id);
void stream_spdy_write_goaway(struct buf *out, uint32_t last_good, uint32_t status);
/* id 0 is the session's window (SPDY/3.1). */
void stream_spdy_write_window_update(struct buf *out, uint32_t id, uint32_t delta);

/* Look up a header by (lower-case) name; NULL if absent. */
const struct spdy_header *stream_spdy_header_find(const struct spdy_header *h, size_t n,
                                                  const char *name);

#endif
