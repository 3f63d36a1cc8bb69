/* libFuzzer target for the SPDY/3.1 parser: the input is fed whole and in pieces its first bytes
 * choose; both must see the same frames and end the same way, every frame must be well formed,
 * and the frames seen, written back out by a writer, must parse to the same frames again. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "stream/spdy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
    struct buf log; /* the frames, unambiguously; DATA chunks of a stream run together */
    bool in_data;   /* the last entry was DATA on data_stream, not yet FIN */
    uint32_t data_stream;
    struct spdy_writer *w; /* when set, each frame is written back out to again */
    struct buf again;
};

static void log_u32(struct buf *log, uint32_t v)
{
    buf_append(log, &v, sizeof(v));
}

static void log_bytes(struct buf *log, const void *p, size_t n)
{
    log_u32(log, (uint32_t)n);
    buf_append(log, p, n);
}

static void check_frame(const struct spdy_frame *f)
{
    if (f->stream_id > 0x7fffffff || f->assoc_id > 0x7fffffff || f->last_good_id > 0x7fffffff ||
        f->delta > 0x7fffffff || f->priority > 7)
        abort();
    if (f->n_headers > SPDY_MAX_HEADERS)
        abort();
    for (size_t i = 0; i < f->n_headers; i++) {
        const struct spdy_header *h = &f->headers[i];
        if (h->name[0] == 0 || h->value[h->value_len] != 0)
            abort();
        for (const char *c = h->name; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                abort();
        if (stream_spdy_header_find(f->headers, f->n_headers, h->name) != h)
            abort(); /* duplicates are refused */
    }
    for (size_t i = 0; i < f->n_settings; i++)
        if (f->settings[i].id > 0xffffff)
            abort();
}

static void write_again(struct seen *s, const struct spdy_frame *f)
{
    struct buf *out = &s->again;
    switch (f->type) {
    case SPDY_DATA:
        stream_spdy_write_data(out, f->stream_id, f->flags, f->data, f->len);
        break;
    case SPDY_SYN_STREAM:
        stream_spdy_write_syn_stream(s->w, out, f->stream_id, f->assoc_id, f->priority, f->flags,
                                     f->headers, f->n_headers);
        break;
    case SPDY_SYN_REPLY:
        stream_spdy_write_syn_reply(s->w, out, f->stream_id, f->flags, f->headers, f->n_headers);
        break;
    case SPDY_HEADERS:
        stream_spdy_write_headers(s->w, out, f->stream_id, f->flags, f->headers, f->n_headers);
        break;
    case SPDY_RST_STREAM:
        stream_spdy_write_rst_stream(out, f->stream_id, f->status);
        break;
    case SPDY_SETTINGS:
        stream_spdy_write_settings(out, f->settings, f->n_settings);
        break;
    case SPDY_PING:
        stream_spdy_write_ping(out, f->ping_id);
        break;
    case SPDY_GOAWAY:
        stream_spdy_write_goaway(out, f->last_good_id, f->status);
        break;
    case SPDY_WINDOW_UPDATE:
        stream_spdy_write_window_update(out, f->stream_id, f->delta);
        break;
    }
}

static int on_frame(void *data, const struct spdy_frame *f)
{
    struct seen *s = data;
    check_frame(f);
    if (s->w)
        write_again(s, f);

    if (f->type == SPDY_DATA) {
        if (!s->in_data || s->data_stream != f->stream_id) {
            buf_append(&s->log, "D", 1);
            log_u32(&s->log, f->stream_id);
        }
        s->in_data = true;
        s->data_stream = f->stream_id;
        /* byte by byte, each tagged, so chunk boundaries leave no trace */
        for (size_t i = 0; i < f->len; i++) {
            uint8_t d[2] = {'d', f->data[i]};
            buf_append(&s->log, d, sizeof(d));
        }
        if (f->flags & SPDY_FLAG_FIN) {
            buf_append(&s->log, "F", 1);
            s->in_data = false;
        }
        return 0;
    }
    s->in_data = false;
    /* only what a writer can reproduce: it sends these frames' flags as 0 */
    uint8_t t = (uint8_t)f->type;
    buf_append(&s->log, "C", 1);
    buf_append(&s->log, &t, 1);
    bool has_flags =
        f->type == SPDY_SYN_STREAM || f->type == SPDY_SYN_REPLY || f->type == SPDY_HEADERS;
    buf_append(&s->log, has_flags ? &f->flags : (const uint8_t *)"", 1);
    uint32_t fields[] = {f->stream_id, f->assoc_id,     f->priority, f->status,
                         f->ping_id,   f->last_good_id, f->delta};
    buf_append(&s->log, fields, sizeof(fields));
    log_u32(&s->log, (uint32_t)f->n_headers);
    for (size_t i = 0; i < f->n_headers; i++) {
        log_bytes(&s->log, f->headers[i].name, strlen(f->headers[i].name));
        log_bytes(&s->log, f->headers[i].value, f->headers[i].value_len);
    }
    log_u32(&s->log, (uint32_t)f->n_settings);
    for (size_t i = 0; i < f->n_settings; i++) {
        uint32_t e[] = {f->settings[i].flags, f->settings[i].id, f->settings[i].value};
        buf_append(&s->log, e, sizeof(e));
    }
    return 0;
}

static uint32_t next(uint32_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static bool same(const struct buf *a, const struct buf *b)
{
    return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    uint32_t seed = 0x9e3779b9u ^ (uint32_t)data[0] << 8 ^ data[1];
    size_t max_piece = 1 + data[0] % 64;
    const uint8_t *in = data + 2;
    size_t len = size - 2;

    /* whole, writing every frame back out as it goes */
    struct seen whole = {.w = stream_spdy_writer_new()};
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, &whole);
    int rc = stream_spdy_parser_feed(p, in, len);
    char err[256];
    snprintf(err, sizeof(err), "%s", stream_spdy_parser_error(p));
    if ((rc != 0 && rc != -EPROTO) || (rc == 0) != (err[0] == 0))
        abort();
    stream_spdy_parser_free(p);

    /* in pieces (empty ones too): the same frames, the same end */
    struct seen split = {0};
    p = stream_spdy_parser_new(on_frame, &split);
    int rc2 = 0;
    for (size_t off = 0; off < len && rc2 == 0;) {
        size_t n = next(&seed) % (max_piece + 1);
        if (n > len - off)
            n = len - off;
        rc2 = stream_spdy_parser_feed(p, in + off, n);
        off += n;
    }
    if (rc2 != rc || strcmp(err, stream_spdy_parser_error(p)) != 0 || !same(&whole.log, &split.log))
        abort();
    /* a dead parser stays dead */
    if (rc && stream_spdy_parser_feed(p, in, len) != rc)
        abort();
    stream_spdy_parser_free(p);

    /* written back out, the frames parse the same (unless our compressor did worse than the
     * peer's and a block outgrew the control frame cap) */
    struct seen again = {0};
    p = stream_spdy_parser_new(on_frame, &again);
    int rc3 = stream_spdy_parser_feed(p, whole.again.data, whole.again.len);
    if (rc3 != 0 && !strstr(stream_spdy_parser_error(p), "over the limit of 65536"))
        abort();
    if (rc3 == 0 && !same(&whole.log, &again.log))
        abort();
    stream_spdy_parser_free(p);

    stream_spdy_writer_free(whole.w);
    buf_done(&whole.log);
    buf_done(&whole.again);
    buf_done(&split.log);
    buf_done(&again.log);
    return 0;
}
