/* Unit tests for src/stream/spdy.c: every frame type through writer and parser (whole and byte by
 * byte), the session-wide compression context, DATA chunking, malformed input, and header blocks
 * as Go's spdystream (kubectl, crictl) writes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/macro.h"
#include "stream/spdy.h"

/* What the callback saw, as text. DATA chunks of one stream run together, so a log does not
 * depend on how the input was split. */
struct rec {
    struct buf log;
    bool in_data;
    uint32_t data_stream;
    size_t calls;
    size_t data_calls;
    int stop_with; /* returned from the callback when nonzero */
};

static void log_bytes(struct buf *log, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        if (b[i] >= 0x20 && b[i] < 0x7f && b[i] != '\\')
            buf_append(log, &b[i], 1);
        else
            buf_printf(log, "\\x%02x", b[i]);
    }
}

static int on_frame(void *data, const struct spdy_frame *f)
{
    struct rec *r = data;
    r->calls++;
    if (f->type == SPDY_DATA) {
        r->data_calls++;
        if (!r->in_data || r->data_stream != f->stream_id)
            buf_printf(&r->log, "DATA %u:", f->stream_id);
        r->in_data = true;
        r->data_stream = f->stream_id;
        log_bytes(&r->log, f->data, f->len);
        if (f->flags & SPDY_FLAG_FIN) {
            buf_puts(&r->log, " FIN\n");
            r->in_data = false;
        }
        return r->stop_with;
    }
    if (r->in_data)
        buf_puts(&r->log, "\n");
    r->in_data = false;
    switch (f->type) {
    case SPDY_SYN_STREAM:
        buf_printf(&r->log, "SYN_STREAM %u assoc=%u prio=%u flags=%u", f->stream_id, f->assoc_id,
                   f->priority, f->flags);
        break;
    case SPDY_SYN_REPLY:
        buf_printf(&r->log, "SYN_REPLY %u flags=%u", f->stream_id, f->flags);
        break;
    case SPDY_HEADERS:
        buf_printf(&r->log, "HEADERS %u flags=%u", f->stream_id, f->flags);
        break;
    case SPDY_RST_STREAM:
        buf_printf(&r->log, "RST_STREAM %u status=%u", f->stream_id, f->status);
        break;
    case SPDY_SETTINGS:
        buf_printf(&r->log, "SETTINGS");
        for (size_t i = 0; i < f->n_settings; i++)
            buf_printf(&r->log, " %u:%u=%u", f->settings[i].flags, f->settings[i].id,
                       f->settings[i].value);
        break;
    case SPDY_PING:
        buf_printf(&r->log, "PING %u", f->ping_id);
        break;
    case SPDY_GOAWAY:
        buf_printf(&r->log, "GOAWAY %u status=%u", f->last_good_id, f->status);
        break;
    case SPDY_WINDOW_UPDATE:
        buf_printf(&r->log, "WINDOW_UPDATE %u +%u", f->stream_id, f->delta);
        break;
    default:
        fail_msg("unexpected frame type %d", f->type);
    }
    for (size_t i = 0; i < f->n_headers; i++) {
        buf_printf(&r->log, " %s=", f->headers[i].name);
        log_bytes(&r->log, f->headers[i].value, f->headers[i].value_len);
        assert_int_equal(f->headers[i].value[f->headers[i].value_len], 0);
    }
    buf_puts(&r->log, "\n");
    return r->stop_with;
}

static const char *log_text(struct rec *r)
{
    buf_reserve(&r->log, 0);
    r->log.data[r->log.len] = 0;
    return (const char *)r->log.data;
}

/* Parse in one piece, then in one-byte pieces; both must log the same and return the same. */
static int parse_both(const struct buf *in, struct rec *whole, char *err, size_t err_size)
{
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, whole);
    int rc = stream_spdy_parser_feed(p, in->data, in->len);
    snprintf(err, err_size, "%s", stream_spdy_parser_error(p));
    stream_spdy_parser_free(p);

    struct rec bytes = {0};
    p = stream_spdy_parser_new(on_frame, &bytes);
    int rc2 = 0;
    for (size_t i = 0; i < in->len && rc2 == 0; i++)
        rc2 = stream_spdy_parser_feed(p, in->data + i, 1);
    assert_int_equal(rc, rc2);
    assert_string_equal(err, stream_spdy_parser_error(p));
    assert_string_equal(log_text(whole), log_text(&bytes));
    stream_spdy_parser_free(p);
    buf_done(&bytes.log);
    return rc;
}

static void expect_log(const struct buf *in, const char *want)
{
    struct rec r = {0};
    char err[256];
    assert_int_equal(parse_both(in, &r, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    assert_string_equal(log_text(&r), want);
    buf_done(&r.log);
}

/* Parse in both ways, expecting -EPROTO with a message containing msg. */
static void expect_eproto(const struct buf *in, const char *msg)
{
    struct rec r = {0};
    char err[256];
    assert_int_equal(parse_both(in, &r, err, sizeof(err)), -EPROTO);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" does not say \"%s\"", err, msg);
    buf_done(&r.log);
}

#define HDR(n, v)                                                                                  \
    {                                                                                              \
        (char *)(n), (char *)(v), sizeof(v) - 1                                                    \
    }

static void test_control_round_trip(void **state)
{
    struct spdy_writer *w = stream_spdy_writer_new();
    struct buf b = {0};
    const struct spdy_header syn[] = {HDR("streamtype", "stdout"), HDR("port", "8080"),
                                      HDR("Multi", "a\0b"), HDR("empty", "")};
    const struct spdy_header reply[] = {HDR(":status", "200")};
    const struct spdy_header trailers[] = {HDR("x-exit", "0")};
    const struct spdy_setting settings[] = {
        {0, SPDY_SETTINGS_INITIAL_WINDOW_SIZE, 65536}, {1, 4, 100}, {3, 0xffffff, 0xffffffff}};

    stream_spdy_write_syn_stream(w, &b, 1, 0, 0, 0, syn, ARRAY_SIZE(syn));
    stream_spdy_write_syn_stream(w, &b, 0xfffffffd, 0x80000001, 7,
                                 SPDY_FLAG_FIN | SPDY_FLAG_UNIDIRECTIONAL, NULL, 0);
    stream_spdy_write_syn_reply(w, &b, 3, SPDY_FLAG_FIN, reply, ARRAY_SIZE(reply));
    stream_spdy_write_headers(w, &b, 5, 0, trailers, ARRAY_SIZE(trailers));
    stream_spdy_write_rst_stream(&b, 7, SPDY_FLOW_CONTROL_ERROR);
    stream_spdy_write_rst_stream(&b, 0xffffffff, SPDY_FRAME_TOO_LARGE);
    stream_spdy_write_settings(&b, settings, ARRAY_SIZE(settings));
    stream_spdy_write_settings(&b, NULL, 0);
    stream_spdy_write_ping(&b, 0xfffffffe);
    stream_spdy_write_goaway(&b, 9, 2);
    stream_spdy_write_window_update(&b, 0, 0x7fffffff);
    stream_spdy_write_window_update(&b, 1, 0xffffffff);

    expect_log(&b, "SYN_STREAM 1 assoc=0 prio=0 flags=0 streamtype=stdout port=8080 "
                   "multi=a\\x00b empty=\n"
                   "SYN_STREAM 2147483645 assoc=1 prio=7 flags=3\n"
                   "SYN_REPLY 3 flags=1 :status=200\n"
                   "HEADERS 5 flags=0 x-exit=0\n"
                   "RST_STREAM 7 status=7\n"
                   "RST_STREAM 2147483647 status=11\n"
                   "SETTINGS 0:7=65536 1:4=100 3:16777215=4294967295\n"
                   "SETTINGS\n"
                   "PING 4294967294\n"
                   "GOAWAY 9 status=2\n"
                   "WINDOW_UPDATE 0 +2147483647\n"
                   "WINDOW_UPDATE 1 +2147483647\n");

    /* fixed layouts, byte for byte (spec 2.6) */
    b.len = 0;
    stream_spdy_write_rst_stream(&b, 7, SPDY_CANCEL);
    assert_int_equal(b.len, 16);
    assert_memory_equal(b.data, "\x80\x03\x00\x03\x00\x00\x00\x08\0\0\0\x07\0\0\0\x05", 16);
    b.len = 0;
    stream_spdy_write_window_update(&b, 0, 1000);
    assert_memory_equal(b.data, "\x80\x03\x00\x09\x00\x00\x00\x08\0\0\0\0\0\0\x03\xe8", 16);
    b.len = 0;
    stream_spdy_write_ping(&b, 1);
    assert_int_equal(b.len, 12);
    assert_memory_equal(b.data, "\x80\x03\x00\x06\x00\x00\x00\x04\0\0\0\x01", 12);
    b.len = 0;
    stream_spdy_write_goaway(&b, 3, 0);
    assert_memory_equal(b.data, "\x80\x03\x00\x07\x00\x00\x00\x08\0\0\0\x03\0\0\0\0", 16);
    b.len = 0;
    stream_spdy_write_settings(&b, &settings[1], 1);
    assert_int_equal(b.len, 20);
    assert_memory_equal(b.data, "\x80\x03\x00\x04\x00\x00\x00\x0c\0\0\0\x01\x01\0\0\x04\0\0\0\x64",
                        20);
    /* SYN_STREAM: ids, priority in the top 3 bits, slot 0, then a zlib stream whose header names
     * the SPDY/3 dictionary by its adler32 */
    struct spdy_writer *w2 = stream_spdy_writer_new();
    b.len = 0;
    stream_spdy_write_syn_stream(w2, &b, 1, 0, 5, SPDY_FLAG_FIN, syn, 1);
    assert_memory_equal(b.data, "\x80\x03\x00\x01\x01", 5);
    assert_int_equal((size_t)(b.data[5] << 16 | b.data[6] << 8 | b.data[7]), b.len - 8);
    assert_memory_equal(b.data + 8, "\0\0\0\x01\0\0\0\0\xa0\0", 10);
    assert_int_equal(b.data[18], 0x78);
    assert_true(b.data[19] & 0x20); /* FDICT */
    assert_memory_equal(b.data + 20, "\xe3\xc6\xa7\xc2", 4);
    stream_spdy_writer_free(w2);

    buf_done(&b);
    stream_spdy_writer_free(w);
}

static void test_shared_compression_context(void **state)
{
    struct spdy_writer *w = stream_spdy_writer_new();
    struct buf b = {0};
    const struct spdy_header h[] = {HDR(":status", "200"), HDR(":version", "HTTP/1.1"),
                                    HDR("x-stream-protocol-version", "v4.channel.k8s.io")};
    stream_spdy_write_syn_reply(w, &b, 1, 0, h, ARRAY_SIZE(h));
    size_t first = b.len;
    stream_spdy_write_syn_reply(w, &b, 3, 0, h, ARRAY_SIZE(h));
    /* the second block refers back to the first */
    assert_true(b.len - first < first);
    expect_log(&b, "SYN_REPLY 1 flags=0 :status=200 :version=HTTP/1.1 "
                   "x-stream-protocol-version=v4.channel.k8s.io\n"
                   "SYN_REPLY 3 flags=0 :status=200 :version=HTTP/1.1 "
                   "x-stream-protocol-version=v4.channel.k8s.io\n");

    /* so a parser that did not see the first cannot read the second */
    struct buf second = {0};
    buf_append(&second, b.data + first, b.len - first);
    expect_eproto(&second, "header block");

    buf_done(&second);
    buf_done(&b);
    stream_spdy_writer_free(w);
}

static void test_data_chunks(void **state)
{
    struct buf b = {0};
    stream_spdy_write_data(&b, 1, SPDY_FLAG_FIN, (const uint8_t *)"0123456789", 10);

    struct rec r = {0};
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, &r);
    /* header and 3 bytes, then 7: two chunks, FIN only on the second */
    assert_int_equal(stream_spdy_parser_feed(p, b.data, 11), 0);
    assert_int_equal(r.data_calls, 1);
    assert_string_equal(log_text(&r), "DATA 1:012");
    assert_int_equal(stream_spdy_parser_feed(p, b.data + 11, 7), 0);
    assert_int_equal(r.data_calls, 2);
    assert_string_equal(log_text(&r), "DATA 1:0123456789 FIN\n");
    stream_spdy_parser_free(p);
    buf_done(&r.log);

    /* byte by byte: one callback per byte, no FIN before the last */
    struct rec one = {0};
    p = stream_spdy_parser_new(on_frame, &one);
    for (size_t i = 0; i < b.len; i++)
        assert_int_equal(stream_spdy_parser_feed(p, b.data + i, 1), 0);
    assert_int_equal(one.data_calls, 10);
    assert_string_equal(log_text(&one), "DATA 1:0123456789 FIN\n");
    stream_spdy_parser_free(p);
    buf_done(&one.log);

    /* empty frames: one callback each, with len 0 */
    b.len = 0;
    stream_spdy_write_data(&b, 3, SPDY_FLAG_FIN, NULL, 0);
    stream_spdy_write_data(&b, 5, 0, NULL, 0);
    stream_spdy_write_data(&b, 0x80000007, 0, (const uint8_t *)"ab", 2);
    stream_spdy_write_data(&b, 7, SPDY_FLAG_FIN, (const uint8_t *)"c\n", 2);
    assert_int_equal(b.len, 36);
    assert_memory_equal(b.data, "\0\0\0\x03\x01\0\0\0", 8);
    struct rec z = {0};
    p = stream_spdy_parser_new(on_frame, &z);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), 0);
    assert_int_equal(z.data_calls, 4);
    assert_string_equal(log_text(&z), "DATA 3: FIN\nDATA 5:DATA 7:abc\\x0a FIN\n");
    stream_spdy_parser_free(p);
    buf_done(&z.log);
    buf_done(&b);
}

/* Checks a large payload as it streams past, without keeping it. */
struct big {
    size_t seen, calls, fins;
};

static int on_big(void *data, const struct spdy_frame *f)
{
    struct big *g = data;
    assert_int_equal(f->type, SPDY_DATA);
    assert_int_equal(f->stream_id, 9);
    for (size_t i = 0; i < f->len; i++)
        if (f->data[i] != (uint8_t)((g->seen + i) * 7))
            fail_msg("byte %zu differs", g->seen + i);
    g->seen += f->len;
    g->calls++;
    if (f->flags & SPDY_FLAG_FIN) {
        g->fins++;
        assert_int_equal(g->seen, SPDY_MAX_FRAME_LEN + 11);
    }
    return 0;
}

static void test_large_data(void **state)
{
    size_t n = SPDY_MAX_FRAME_LEN + 11;
    uint8_t *d = xmalloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i * 7);
    struct buf b = {0};
    stream_spdy_write_data(&b, 9, SPDY_FLAG_FIN, d, n);
    assert_int_equal(b.len, n + 16);
    /* first frame full and without FIN, the second has the rest and FIN */
    assert_memory_equal(b.data, "\0\0\0\x09\0\xff\xff\xff", 8);
    assert_memory_equal(b.data + 8 + SPDY_MAX_FRAME_LEN, "\0\0\0\x09\x01\0\0\x0b", 8);

    /* whole: one callback per frame */
    struct big g = {0};
    struct spdy_parser *p = stream_spdy_parser_new(on_big, &g);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), 0);
    stream_spdy_parser_free(p);
    assert_int_equal(g.calls, 2);
    assert_int_equal(g.fins, 1);

    /* in 64 KiB reads, as from a socket: chunks as they come, nothing buffered */
    g = (struct big){0};
    p = stream_spdy_parser_new(on_big, &g);
    for (size_t off = 0; off < b.len; off += 65536) {
        size_t k = b.len - off < 65536 ? b.len - off : 65536;
        assert_int_equal(stream_spdy_parser_feed(p, b.data + off, k), 0);
    }
    stream_spdy_parser_free(p);
    assert_int_equal(g.seen, n);
    assert_int_equal(g.calls, 258);
    assert_int_equal(g.fins, 1);
    buf_done(&b);
    free(d);
}

/* A frame around a header block we compress ourselves, to say what our writer never would. */
static void raw_header_frame(struct buf *out, uint16_t type, const void *plain, size_t len)
{
    z_stream zs = {0};
    assert_int_equal(deflateInit(&zs, Z_DEFAULT_COMPRESSION), Z_OK);
    /* a fresh parser asks for the dictionary only when the stream names one: omitting it here
     * still gives a valid block */
    uint8_t z[4096];
    zs.next_in = (Bytef *)(uintptr_t)plain;
    zs.avail_in = (uInt)len;
    zs.next_out = z;
    zs.avail_out = sizeof(z);
    assert_int_equal(deflate(&zs, Z_SYNC_FLUSH), Z_OK);
    size_t zlen = sizeof(z) - zs.avail_out;
    deflateEnd(&zs);

    size_t pre = type == SPDY_SYN_STREAM ? 10 : 4;
    size_t flen = pre + zlen;
    uint8_t h[18] = {0x80, 3, 0, (uint8_t)type, 0, 0, (uint8_t)(flen >> 8), (uint8_t)flen, 0x80,
                     0,    0, 1}; /* stream id with the high bit set: masked */
    buf_append(out, h, 8 + pre);
    buf_append(out, z, zlen);
}

static void test_header_block_parsing(void **state)
{
    struct buf b = {0};
    /* names fold to lower case; the top bit of the stream id is not part of it */
    // clang-format off
    static const char upper[] = "\0\0\0\x01" "\0\0\0\x0a" "StreamType" "\0\0\0\x05" "error";
    // clang-format on
    raw_header_frame(&b, SPDY_HEADERS, upper, sizeof(upper) - 1);
    expect_log(&b, "HEADERS 1 flags=0 streamtype=error\n");

    b.len = 0;
    raw_header_frame(&b, SPDY_SYN_REPLY, "\0\0\0\0", 4);
    expect_log(&b, "SYN_REPLY 1 flags=0\n");
    b.len = 0;
    raw_header_frame(&b, SPDY_SYN_STREAM, "\0\0\0\0", 4);
    expect_log(&b, "SYN_STREAM 1 assoc=0 prio=0 flags=0\n");

    const struct {
        const char *plain;
        size_t len;
        const char *msg;
    } bad[] = {
#define BAD(lit, msg) {lit, sizeof(lit) - 1, msg}
        /* one case a line, each length and string its own literal */
        // clang-format off
        BAD("\0\0\0", "no header count"),
        BAD("", "no header count"),
        BAD("\0\0\0\x01" "\0\0\0\0" "\0\0\0\0", "empty header name"),
        BAD("\0\0\0\x01" "\0\0\0\x02" "a\0" "\0\0\0\0", "NUL byte"),
        BAD("\0\0\0\x02" "\0\0\0\x01" "a" "\0\0\0\0" "\0\0\0\x01" "A" "\0\0\0\0",
            "duplicate header `a`"),
        BAD("\0\0\0\x01" "\0\0\0\x01" "a" "\0\0\0\x02" "b", "value of 2 bytes overruns"),
        BAD("\0\0\0\x01" "\0\0\0\x09" "a" "\0\0\0\0", "name of 9 bytes overruns"),
        BAD("\0\0\0\x01" "\0\0\0\x01" "a" "\0\0\0\0" "x", "1 bytes after its last header"),
        BAD("\0\0\0\x02" "\0\0\0\x01" "a" "\0\0\0\0" "\0\0\0", "cannot hold 2 headers"),
        BAD("\0\0\0\x02" "\0\0\0\x08" "abcdefgh" "\0\0\0\0" "\0\0\0\x01" "b" "\0\0",
            "ends inside a value length"),
        BAD("\0\0\x04\x01", "1025 headers, over the limit of 1024"),
        BAD("\xff\xff\xff\xff", "4294967295 headers, over the limit"),
    // clang-format on
#undef BAD
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        b.len = 0;
        raw_header_frame(&b, i % 2 ? SPDY_SYN_STREAM : SPDY_HEADERS, bad[i].plain, bad[i].len);
        expect_eproto(&b, bad[i].msg);
    }
    buf_done(&b);
}

static void test_header_limits(void **state)
{
    struct spdy_writer *w = stream_spdy_writer_new();
    struct buf b = {0};

    /* 1024 headers pass, 1025 do not */
    struct spdy_header *h = xcalloc(1025, sizeof(*h));
    char(*names)[8] = xcalloc(1025, sizeof(*names));
    for (size_t i = 0; i < 1025; i++) {
        snprintf(names[i], sizeof(names[i]), "h%zu", i);
        h[i] = (struct spdy_header){names[i], (char *)"v", 1};
    }
    stream_spdy_write_headers(w, &b, 1, 0, h, 1024);
    struct rec r = {0};
    char err[256];
    assert_int_equal(parse_both(&b, &r, err, sizeof(err)), 0);
    assert_int_equal(r.calls, 1);
    buf_done(&r.log);
    stream_spdy_writer_free(w);

    w = stream_spdy_writer_new();
    b.len = 0;
    stream_spdy_write_headers(w, &b, 1, 0, h, 1025);
    expect_eproto(&b, "1025 headers, over the limit of 1024");
    stream_spdy_writer_free(w);

    /* a block that compresses well but inflates past 256 KiB */
    size_t vlen = 300 * 1024;
    char *v = xmalloc(vlen);
    memset(v, 'a', vlen);
    struct spdy_header big = {(char *)"big", v, vlen};
    w = stream_spdy_writer_new();
    b.len = 0;
    stream_spdy_write_syn_stream(w, &b, 1, 0, 0, 0, &big, 1);
    assert_true(b.len < SPDY_MAX_CONTROL_LEN);
    expect_eproto(&b, "decompresses to over 262144 bytes");
    stream_spdy_writer_free(w);

    /* just under the limit is fine: 4 + 4 + 3 + 4 + value */
    w = stream_spdy_writer_new();
    b.len = 0;
    big.value_len = SPDY_MAX_HEADER_BLOCK - 15;
    stream_spdy_write_syn_stream(w, &b, 1, 0, 0, 0, &big, 1);
    r = (struct rec){0};
    assert_int_equal(parse_both(&b, &r, err, sizeof(err)), 0);
    assert_int_equal(r.calls, 1);
    buf_done(&r.log);
    stream_spdy_writer_free(w);

    /* and one byte more is not */
    w = stream_spdy_writer_new();
    b.len = 0;
    big.value_len++;
    stream_spdy_write_syn_stream(w, &b, 1, 0, 0, 0, &big, 1);
    expect_eproto(&b, "decompresses to over");
    stream_spdy_writer_free(w);

    free(v);
    free(names);
    free(h);
    buf_done(&b);
}

static void append(struct buf *b, const char *bytes, size_t n)
{
    buf_append(b, bytes, n);
}
#define APPEND(b, lit) append((b), (lit), sizeof(lit) - 1)

static void test_malformed_frames(void **state)
{
    const struct {
        const char *bytes;
        size_t len;
        const char *msg;
    } bad[] = {
#define BAD(lit, msg) {lit, sizeof(lit) - 1, msg}
        BAD("\x80\x02\x00\x06\0\0\0\x04\0\0\0\x01", "SPDY version 2, not 3"),
        BAD("\x80\x04\x00\xff\0\0\0\x00", "SPDY version 4, not 3"),
        BAD("\xff\xff\x00\x01\0\0\0\x00", "SPDY version 32767"),
        BAD("\x80\x03\x00\x06\0\0\0\x05\0\0\0\x01\0", "PING of 5 bytes, not 4"),
        BAD("\x80\x03\x00\x06\0\0\0\x03\0\0\0", "PING of 3 bytes, not 4"),
        BAD("\x80\x03\x00\x03\0\0\0\x04\0\0\0\x01", "RST_STREAM of 4 bytes, not 8"),
        BAD("\x80\x03\x00\x09\0\0\0\x04\0\0\0\x01", "WINDOW_UPDATE of 4 bytes, not 8"),
        BAD("\x80\x03\x00\x09\0\0\0\x0c", "WINDOW_UPDATE of 12 bytes, not 8"),
        BAD("\x80\x03\x00\x07\0\0\0\x04\0\0\0\x01", "GOAWAY of 4 bytes, not 8"),
        BAD("\x80\x03\x00\x01\0\0\0\x09", "SYN_STREAM of 9 bytes is shorter than 10"),
        BAD("\x80\x03\x00\x02\0\0\0\x03", "SYN_REPLY of 3 bytes is shorter than 4"),
        BAD("\x80\x03\x00\x08\0\0\0\x00", "HEADERS of 0 bytes is shorter than 4"),
        BAD("\x80\x03\x00\x04\0\0\0\x05", "SETTINGS of 5 bytes is not 4 plus 8 per entry"),
        BAD("\x80\x03\x00\x04\0\0\0\x00", "SETTINGS of 0 bytes"),
        BAD("\x80\x03\x00\x04\0\0\0\x0c\0\0\0\x02\0\0\0\x07\0\0\0\x01",
            "SETTINGS of 12 bytes claims 2 entries"),
        BAD("\x80\x03\x00\x04\0\0\0\x04\0\0\0\x01", "SETTINGS of 4 bytes claims 1 entries"),
        BAD("\x80\x03\x00\x01\0\x01\0\x01", "SYN_STREAM of 65537 bytes is over the limit of 65536"),
        BAD("\x80\x03\x00\x02\0\xff\xff\xff", "SYN_REPLY of 16777215 bytes is over the limit"),
        BAD("\x80\x03\x00\x02\0\0\0\x0a\0\0\0\x01garbag", "does not decompress"),
#undef BAD
    };
    struct buf b = {0};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        b.len = 0;
        /* a good frame first, so the error is not just at the start */
        stream_spdy_write_ping(&b, 1);
        append(&b, bad[i].bytes, bad[i].len);
        expect_eproto(&b, bad[i].msg);
    }

    /* dead after an error: later input is refused with the same error */
    struct rec r = {0};
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, &r);
    assert_string_equal(stream_spdy_parser_error(p), "");
    b.len = 0;
    APPEND(&b, "\x80\x02\x00\x06\0\0\0\x04\0\0\0\x01");
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), -EPROTO);
    b.len = 0;
    stream_spdy_write_ping(&b, 2);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), -EPROTO);
    assert_int_equal(r.calls, 0);
    assert_string_equal(stream_spdy_parser_error(p), "control frame of SPDY version 2, not 3");
    stream_spdy_parser_free(p);
    buf_done(&r.log);
    buf_done(&b);
}

static void test_unknown_control_skipped(void **state)
{
    struct buf b = {0};
    APPEND(&b, "\x80\x03\x00\x05\0\0\0\0");                 /* NOOP, gone in SPDY/3 */
    APPEND(&b, "\x80\x03\xf0\x00\x07\0\0\x06\0\0\0\x01zz"); /* spdy-transport's X-Forwarded-For */
    APPEND(&b, "\x80\x03\x00\x0a\0\0\0\x03xyz");            /* CREDENTIAL */
    stream_spdy_write_ping(&b, 5);
    APPEND(&b, "\x80\x03\xff\xff\0\0\0\x02..");
    stream_spdy_write_data(&b, 1, SPDY_FLAG_FIN, (const uint8_t *)"x", 1);
    expect_log(&b, "PING 5\nDATA 1:x FIN\n");

    /* an unknown frame longer than the control cap is skipped without buffering it */
    b.len = 0;
    APPEND(&b, "\x80\x03\x00\xee\0\x10\0\0");
    buf_reserve(&b, 0x100000);
    memset(b.data + b.len, 0xaa, 0x100000);
    b.len += 0x100000;
    stream_spdy_write_ping(&b, 6);
    expect_log(&b, "PING 6\n");
    buf_done(&b);
}

static void test_callback_stops(void **state)
{
    struct buf b = {0};
    stream_spdy_write_ping(&b, 1);
    stream_spdy_write_ping(&b, 2);
    stream_spdy_write_data(&b, 1, 0, (const uint8_t *)"abc", 3);
    struct rec r = {.stop_with = -ECONNRESET};
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, &r);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), -ECONNRESET);
    assert_int_equal(r.calls, 1);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), -ECONNRESET);
    assert_int_equal(r.calls, 1);
    assert_string_equal(stream_spdy_parser_error(p), "");
    stream_spdy_parser_free(p);

    /* a positive return is not a stop */
    struct rec pos = {.stop_with = 1};
    p = stream_spdy_parser_new(on_frame, &pos);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), 0);
    assert_string_equal(log_text(&pos), "PING 1\nPING 2\nDATA 1:abc");
    stream_spdy_parser_free(p);
    stream_spdy_parser_free(NULL);
    stream_spdy_writer_free(NULL);
    buf_done(&r.log);
    buf_done(&pos.log);
    buf_done(&b);
}

/* Two SYN_STREAMs from one moby/spdystream Framer (vendored in cri-tools; what kubectl and crictl
 * send), dumped by a Go program: {"Streamtype": "stdout"} on stream 1, then
 * {"Streamtype": "stderr"} on stream 3, assoc 1, priority 7, FIN. */
static const uint8_t go_syn_streams[] = {
    0x80, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x78, 0xf9, 0xe3, 0xc6, 0xa7, 0xc2, 0x62, 0x60, 0x60, 0x60, 0x04, 0xa7, 0xb3, 0x92,
    0xa2, 0xd4, 0xc4, 0x5c, 0x68, 0x51, 0xc2, 0x56, 0x5c, 0x92, 0x92, 0x5f, 0x5a, 0x02, 0x00, 0x00,
    0x00, 0xff, 0xff, 0x80, 0x03, 0x00, 0x01, 0x01, 0x00, 0x00, 0x15, 0x00, 0x00, 0x00, 0x03, 0x00,
    0x00, 0x00, 0x01, 0xe0, 0x00, 0xc2, 0x29, 0x97, 0x5a, 0x54, 0x04, 0x00, 0x00, 0x00, 0xff, 0xff,
};

static void test_go_spdystream_golden(void **state)
{
    struct buf b = {0};
    buf_append(&b, go_syn_streams, sizeof(go_syn_streams));
    /* the first block names the dictionary by adler32 (0xe3c6a7c2) and compresses against it,
     * so this only parses if our table is the spec's, byte for byte */
    expect_log(&b, "SYN_STREAM 1 assoc=0 prio=0 flags=0 streamtype=stdout\n"
                   "SYN_STREAM 3 assoc=1 prio=7 flags=1 streamtype=stderr\n");

    struct rec r = {0};
    struct spdy_parser *p = stream_spdy_parser_new(on_frame, &r);
    assert_int_equal(stream_spdy_parser_feed(p, b.data, b.len), 0);
    stream_spdy_parser_free(p);
    buf_done(&r.log);
    buf_done(&b);
}

/* The npm spdy-transport's SPDY/3.1 framer (header compression on: a 2 KiB zlib window), dumped
 * by a node script: SYN_REPLY, SETTINGS, a session WINDOW_UPDATE, HEADERS, RST_STREAM. */
static const uint8_t node_frames[] = {
    0x80, 0x03, 0x00, 0x02, 0x00, 0x00, 0x00, 0x48, 0x00, 0x00, 0x00, 0x01, 0x38, 0xac, 0xe3, 0xc6,
    0xa7, 0xc2, 0x02, 0x25, 0x3a, 0x06, 0x06, 0x06, 0xc9, 0x0a, 0xdd, 0xe2, 0x92, 0xa2, 0xd4, 0xc4,
    0x5c, 0xdd, 0x82, 0xa2, 0xfc, 0x92, 0xfc, 0xe4, 0xfc, 0x1c, 0x5d, 0x44, 0x0a, 0x15, 0x2c, 0x33,
    0xd1, 0x4b, 0xce, 0x48, 0xcc, 0xcb, 0x4b, 0xcd, 0xd1, 0xcb, 0xb6, 0x28, 0xd6, 0xcb, 0xcc, 0x07,
    0xa5, 0x60, 0x2b, 0x2c, 0xc9, 0x9a, 0xc3, 0x0a, 0x4b, 0xba, 0x06, 0x00, 0x00, 0x00, 0xff, 0xff,
    0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x04,
    0x00, 0x00, 0x00, 0x64, 0x01, 0x00, 0x00, 0x07, 0x00, 0x04, 0x00, 0x00, 0x80, 0x03, 0x00, 0x09,
    0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x00, 0x00, 0x80, 0x03, 0x00, 0x08,
    0x00, 0x00, 0x00, 0x1a, 0x00, 0x00, 0x00, 0x01, 0x62, 0x60, 0x60, 0x60, 0x04, 0x27, 0x65, 0xb0,
    0x05, 0xd0, 0xd2, 0x8a, 0x35, 0x15, 0x14, 0x97, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0x80, 0x03,
    0x00, 0x03, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x05,
};

static void test_spdy_transport_golden(void **state)
{
    struct buf b = {0};
    buf_append(&b, node_frames, sizeof(node_frames));
    expect_log(&b, "SYN_REPLY 1 flags=0 x-stream-protocol-version=v4.channel.k8s.io :status=200 OK "
                   ":version=HTTP/1.1\n"
                   "SETTINGS 1:4=100 1:7=262144\n"
                   "WINDOW_UPDATE 0 +983040\n"
                   "HEADERS 1 flags=0 streamtype=error\n"
                   "RST_STREAM 3 status=5\n");
    buf_done(&b);
}

/* The zlib header of our first block names the dictionary by its adler32: the value every peer
 * computes over the spec's 1423 bytes (moby/spdystream's and spdy-transport's copies agree). */
static void test_dictionary_id(void **state)
{
    struct spdy_writer *w = stream_spdy_writer_new();
    struct buf b = {0};
    stream_spdy_write_headers(w, &b, 1, 0, NULL, 0);
    uint32_t ours = (uint32_t)b.data[14] << 24 | (uint32_t)b.data[15] << 16 |
                    (uint32_t)b.data[16] << 8 | b.data[17];
    assert_int_equal(ours, 0xe3c6a7c2);
    expect_log(&b, "HEADERS 1 flags=0\n");
    buf_done(&b);
    stream_spdy_writer_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_round_trip),
        cmocka_unit_test(test_shared_compression_context),
        cmocka_unit_test(test_data_chunks),
        cmocka_unit_test(test_large_data),
        cmocka_unit_test(test_header_block_parsing),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_malformed_frames),
        cmocka_unit_test(test_unknown_control_skipped),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_go_spdystream_golden),
        cmocka_unit_test(test_spdy_transport_golden),
        cmocka_unit_test(test_dictionary_id),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
