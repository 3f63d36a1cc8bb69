/* SPDY/3.1 frame codec: a byte-level parser that hands out frames (DATA unbuffered, in chunks) and
 * writers that append frames to a buffer; header blocks go through one zlib stream per direction,
 * primed with the SPDY/3 dictionary, as the spec's compression context spans the session. */
#define ZLIB_CONST
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/macro.h"
#include "stream/spdy.h"

/* The header compression dictionary of SPDY Protocol Draft 3, section 2.6.10.1: length-prefixed
 * header names and common values, then a run of status codes, dates and media types. Every peer
 * primes zlib with exactly these 1423 bytes (adler32 0xe3c6a7c2). Each word is its own literal so
 * that no escape swallows the letters after it. Laid out by hand, as a table. */
// clang-format off
static const char dictionary[] =
    "\0\0\0\x07" "options" "\0\0\0\x04" "head" "\0\0\0\x04" "post" "\0\0\0\x03" "put"
    "\0\0\0\x06" "delete" "\0\0\0\x05" "trace" "\0\0\0\x06" "accept" "\0\0\0\x0e" "accept-charset"
    "\0\0\0\x0f" "accept-encoding" "\0\0\0\x0f" "accept-language" "\0\0\0\x0d" "accept-ranges"
    "\0\0\0\x03" "age" "\0\0\0\x05" "allow" "\0\0\0\x0d" "authorization"
    "\0\0\0\x0d" "cache-control" "\0\0\0\x0a" "connection" "\0\0\0\x0c" "content-base"
    "\0\0\0\x10" "content-encoding" "\0\0\0\x10" "content-language" "\0\0\0\x0e" "content-length"
    "\0\0\0\x10" "content-location" "\0\0\0\x0b" "content-md5" "\0\0\0\x0d" "content-range"
    "\0\0\0\x0c" "content-type" "\0\0\0\x04" "date" "\0\0\0\x04" "etag" "\0\0\0\x06" "expect"
    "\0\0\0\x07" "expires" "\0\0\0\x04" "from" "\0\0\0\x04" "host" "\0\0\0\x08" "if-match"
    "\0\0\0\x11" "if-modified-since" "\0\0\0\x0d" "if-none-match" "\0\0\0\x08" "if-range"
    "\0\0\0\x13" "if-unmodified-since" "\0\0\0\x0d" "last-modified" "\0\0\0\x08" "location"
    "\0\0\0\x0c" "max-forwards" "\0\0\0\x06" "pragma" "\0\0\0\x12" "proxy-authenticate"
    "\0\0\0\x13" "proxy-authorization" "\0\0\0\x05" "range" "\0\0\0\x07" "referer"
    "\0\0\0\x0b" "retry-after" "\0\0\0\x06" "server" "\0\0\0\x02" "te" "\0\0\0\x07" "trailer"
    "\0\0\0\x11" "transfer-encoding" "\0\0\0\x07" "upgrade" "\0\0\0\x0a" "user-agent"
    "\0\0\0\x04" "vary" "\0\0\0\x03" "via" "\0\0\0\x07" "warning" "\0\0\0\x10" "www-authenticate"
    "\0\0\0\x06" "method" "\0\0\0\x03" "get" "\0\0\0\x06" "status" "\0\0\0\x06" "200 OK"
    "\0\0\0\x07" "version" "\0\0\0\x08" "HTTP/1.1" "\0\0\0\x03" "url" "\0\0\0\x06" "public"
    "\0\0\0\x0a" "set-cookie" "\0\0\0\x0a" "keep-alive" "\0\0\0\x06" "origin"
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information" "204 No Content" "301 Moved Permanently"
    "400 Bad Request" "401 Unauthorized" "403 Forbidden" "404 Not Found"
    "500 Internal Server Error" "501 Not Implemented" "503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 "
    "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,"
    "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch"
    "charset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
// clang-format on
#define DICTIONARY_LEN (sizeof(dictionary) - 1)

_Static_assert(sizeof(dictionary) - 1 == 1423, "SPDY/3 dictionary is 1423 bytes");

#define HEAD_LEN 8
#define STREAM_ID_MASK 0x7fffffffu

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint32_t rd31(const uint8_t *b)
{
    return rd32(b) & STREAM_ID_MASK;
}

static void put32(struct buf *out, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    buf_append(out, b, sizeof(b));
}

static void patch32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

/* ---- parser ---- */

enum parse_state {
    S_HEAD,    /* collecting the 8-byte frame header */
    S_CONTROL, /* buffering a known control frame's body */
    S_SKIP,    /* consuming an unknown control frame's body */
    S_DATA,    /* handing out a DATA frame's payload as it arrives */
};

struct spdy_parser {
    spdy_frame_fn fn;
    void *data;
    enum parse_state state;
    uint8_t head[HEAD_LEN];
    size_t head_len;

    /* the frame being read */
    uint16_t type;
    uint8_t flags;
    uint32_t stream_id; /* DATA */
    size_t left;        /* body bytes still to come */
    struct buf body;    /* a control frame's body, at most SPDY_MAX_CONTROL_LEN */

    z_stream zs;
    /* the decompressed header block, usable size block_cap, allocated one byte more so the last
     * value can be NUL-terminated in place */
    uint8_t *block;
    size_t block_cap;
    struct spdy_header *headers;
    size_t headers_cap;
    struct spdy_setting *settings;
    size_t settings_cap;

    int dead; /* once set, what every feed returns */
    char error[160];
};

static int fail(struct spdy_parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct spdy_parser *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    return -EPROTO;
}

static const char *type_name(uint16_t type)
{
    switch (type) {
    case SPDY_SYN_STREAM:
        return "SYN_STREAM";
    case SPDY_SYN_REPLY:
        return "SYN_REPLY";
    case SPDY_RST_STREAM:
        return "RST_STREAM";
    case SPDY_SETTINGS:
        return "SETTINGS";
    case SPDY_PING:
        return "PING";
    case SPDY_GOAWAY:
        return "GOAWAY";
    case SPDY_HEADERS:
        return "HEADERS";
    case SPDY_WINDOW_UPDATE:
        return "WINDOW_UPDATE";
    default:
        return NULL;
    }
}

struct spdy_parser *stream_spdy_parser_new(spdy_frame_fn fn, void *data)
{
    struct spdy_parser *p = xcalloc(1, sizeof(*p));
    p->fn = fn;
    p->data = data;
    if (inflateInit(&p->zs) != Z_OK)
        abort(); /* only out of memory */
    return p;
}

void stream_spdy_parser_free(struct spdy_parser *p)
{
    if (!p)
        return;
    inflateEnd(&p->zs);
    buf_done(&p->body);
    free(p->block);
    free(p->headers);
    free(p->settings);
    free(p);
}

const char *stream_spdy_parser_error(const struct spdy_parser *p)
{
    return p->error;
}

/* Inflate a header block into p->block; *ret_len is its decompressed size. */
static int inflate_block(struct spdy_parser *p, const uint8_t *in, size_t len, size_t *ret_len)
{
    size_t used = 0;
    p->zs.next_in = in;
    p->zs.avail_in = (uInt)len; /* len <= SPDY_MAX_CONTROL_LEN */
    for (;;) {
        if (used == p->block_cap) {
            /* one byte past the limit tells "over" from "exactly at" */
            if (p->block_cap > SPDY_MAX_HEADER_BLOCK)
                return fail(p, "header block decompresses to over %u bytes", SPDY_MAX_HEADER_BLOCK);
            size_t cap = p->block_cap ? 2 * p->block_cap : 4096;
            if (cap > SPDY_MAX_HEADER_BLOCK + 1)
                cap = SPDY_MAX_HEADER_BLOCK + 1;
            p->block = xrealloc(p->block, cap + 1);
            p->block_cap = cap;
        }
        p->zs.next_out = p->block + used;
        p->zs.avail_out = (uInt)(p->block_cap - used);
        int z = inflate(&p->zs, Z_SYNC_FLUSH);
        used = p->block_cap - p->zs.avail_out;
        if (z == Z_NEED_DICT) {
            if (inflateSetDictionary(&p->zs, (const Bytef *)dictionary, DICTIONARY_LEN) != Z_OK)
                return fail(p, "header block wants a dictionary other than SPDY/3's");
            continue;
        }
        if (z == Z_STREAM_END || z == Z_BUF_ERROR) {
            /* the compressor's stream ended, or no progress is left to make: any input still
             * unread can never be decompressed */
            if (p->zs.avail_in != 0)
                return fail(p, "header block has %u bytes past the end of its zlib stream",
                            p->zs.avail_in);
            break;
        }
        if (z != Z_OK)
            return fail(p, "header block does not decompress: %s",
                        p->zs.msg ? p->zs.msg : "zlib error");
        /* inflate stops early only when it runs out of room */
        if (p->zs.avail_in == 0 && p->zs.avail_out != 0)
            break;
    }
    *ret_len = used;
    return 0;
}

/* Take one length-prefixed string at *off. The length's first byte, once read, becomes the NUL
 * ending the string before it, so names and values are C strings without a copy. */
static int take_string(struct spdy_parser *p, uint8_t *b, size_t len, size_t *off, const char *what,
                       char **ret, size_t *ret_len)
{
    if (len - *off < 4)
        return fail(p, "header block ends inside a %s length", what);
    uint32_t n = rd32(b + *off);
    b[*off] = 0;
    *off += 4;
    if (n > len - *off)
        return fail(p, "header %s of %u bytes overruns the block", what, n);
    *ret = (char *)b + *off;
    *ret_len = n;
    *off += n;
    return 0;
}

static int parse_block(struct spdy_parser *p, uint8_t *b, size_t len, struct spdy_frame *f)
{
    if (len < 4)
        return fail(p, "header block of %zu bytes has no header count", len);
    uint32_t count = rd32(b);
    if (count > SPDY_MAX_HEADERS)
        return fail(p, "header block has %u headers, over the limit of %u", count,
                    SPDY_MAX_HEADERS);
    if ((size_t)count * 8 > len - 4)
        return fail(p, "header block of %zu bytes cannot hold %u headers", len, count);
    if (count > p->headers_cap) {
        p->headers = xrealloc(p->headers, count * sizeof(*p->headers));
        p->headers_cap = count;
    }

    size_t off = 4;
    for (uint32_t i = 0; i < count; i++) {
        struct spdy_header *h = &p->headers[i];
        size_t name_len;
        int r = take_string(p, b, len, &off, "name", &h->name, &name_len);
        if (r < 0)
            return r;
        if (name_len == 0)
            return fail(p, "empty header name");
        if (memchr(h->name, 0, name_len))
            return fail(p, "header name contains a NUL byte");
        /* names are lower case on the wire (spec 2.6.10); be lenient and fold them */
        for (size_t j = 0; j < name_len; j++)
            if (h->name[j] >= 'A' && h->name[j] <= 'Z')
                h->name[j] = (char)(h->name[j] - 'A' + 'a');
        r = take_string(p, b, len, &off, "value", &h->value, &h->value_len);
        if (r < 0)
            return r;
    }
    if (off != len)
        return fail(p, "header block has %zu bytes after its last header", len - off);
    b[len] = 0; /* ends the last value; block has a byte to spare */

    /* counts are capped, so the quadratic check stays cheap */
    for (uint32_t i = 1; i < count; i++)
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(p->headers[i].name, p->headers[j].name) == 0)
                return fail(p, "duplicate header `%.64s`", p->headers[i].name);

    f->headers = p->headers;
    f->n_headers = count;
    return 0;
}

static int decode_headers(struct spdy_parser *p, const uint8_t *in, size_t len,
                          struct spdy_frame *f)
{
    size_t n = 0;
    int r = inflate_block(p, in, len, &n);
    if (r < 0)
        return r;
    return parse_block(p, p->block, n, f);
}

static int decode_settings(struct spdy_parser *p, const uint8_t *b, size_t len,
                           struct spdy_frame *f)
{
    uint32_t count = rd32(b);
    if ((size_t)count != (len - 4) / 8)
        return fail(p, "SETTINGS of %zu bytes claims %u entries", len, count);
    if (count > p->settings_cap) {
        p->settings = xrealloc(p->settings, count * sizeof(*p->settings));
        p->settings_cap = count;
    }
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *e = b + 4 + 8 * (size_t)i;
        p->settings[i].flags = e[0];
        p->settings[i].id = rd32(e) & 0xffffffu;
        p->settings[i].value = rd32(e + 4);
    }
    f->settings = p->settings;
    f->n_settings = count;
    return 0;
}

/* A control frame's body is complete in p->body: decode it and hand it out. */
static int on_control(struct spdy_parser *p)
{
    const uint8_t *b = p->body.data;
    size_t len = p->body.len;
    struct spdy_frame f = {.type = (enum spdy_type)p->type, .flags = p->flags};
    int r = 0;

    switch (p->type) {
    case SPDY_SYN_STREAM:
        f.stream_id = rd31(b);
        f.assoc_id = rd31(b + 4);
        f.priority = (uint8_t)(b[8] >> 5); /* then 5 unused bits and the slot byte */
        r = decode_headers(p, b + 10, len - 10, &f);
        break;
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
        f.stream_id = rd31(b);
        r = decode_headers(p, b + 4, len - 4, &f);
        break;
    case SPDY_RST_STREAM:
        f.stream_id = rd31(b);
        f.status = rd32(b + 4);
        break;
    case SPDY_SETTINGS:
        r = decode_settings(p, b, len, &f);
        break;
    case SPDY_PING:
        f.ping_id = rd32(b);
        break;
    case SPDY_GOAWAY:
        f.last_good_id = rd31(b);
        f.status = rd32(b + 4);
        break;
    case SPDY_WINDOW_UPDATE:
        f.stream_id = rd31(b);
        f.delta = rd31(b + 4);
        break;
    default:
        abort(); /* on_head only buffers known types */
    }
    if (r < 0)
        return r;
    return p->fn(p->data, &f);
}

/* Fixed or minimum body lengths, checked before buffering anything. */
static int check_control_len(struct spdy_parser *p, uint16_t type, uint32_t len)
{
    const char *name = type_name(type);
    if (len > SPDY_MAX_CONTROL_LEN)
        return fail(p, "%s of %u bytes is over the limit of %u", name, len, SPDY_MAX_CONTROL_LEN);
    switch (type) {
    case SPDY_SYN_STREAM:
        if (len < 10)
            return fail(p, "%s of %u bytes is shorter than 10", name, len);
        break;
    case SPDY_SYN_REPLY:
    case SPDY_HEADERS:
        if (len < 4)
            return fail(p, "%s of %u bytes is shorter than 4", name, len);
        break;
    case SPDY_SETTINGS:
        if (len < 4 || (len - 4) % 8 != 0)
            return fail(p, "%s of %u bytes is not 4 plus 8 per entry", name, len);
        break;
    case SPDY_PING:
        if (len != 4)
            return fail(p, "%s of %u bytes, not 4", name, len);
        break;
    default: /* RST_STREAM, GOAWAY (SPDY/3 adds its status), WINDOW_UPDATE */
        if (len != 8)
            return fail(p, "%s of %u bytes, not 8", name, len);
        break;
    }
    return 0;
}

static int emit_data(struct spdy_parser *p, const uint8_t *d, size_t n, bool last)
{
    struct spdy_frame f = {
        .type = SPDY_DATA,
        .flags = last ? p->flags : (uint8_t)(p->flags & ~SPDY_FLAG_FIN),
        .stream_id = p->stream_id,
        .data = d,
        .len = n,
    };
    return p->fn(p->data, &f);
}

/* The 8-byte header is complete: decide what the body is. */
static int on_head(struct spdy_parser *p)
{
    const uint8_t *h = p->head;
    uint32_t len = rd32(h + 4) & 0xffffffu;
    p->flags = h[4];
    p->left = len;

    if (!(h[0] & 0x80)) {
        p->stream_id = rd31(h);
        if (len == 0) {
            p->state = S_HEAD;
            return emit_data(p, NULL, 0, true);
        }
        p->state = S_DATA;
        return 0;
    }

    unsigned version = (unsigned)(h[0] & 0x7f) << 8 | h[1];
    if (version != SPDY_VERSION)
        return fail(p, "control frame of SPDY version %u, not %u", version, SPDY_VERSION);
    p->type = (uint16_t)(h[2] << 8 | h[3]);
    if (!type_name(p->type)) {
        /* spec 2.2.1: unknown control frames are ignored */
        p->state = len ? S_SKIP : S_HEAD;
        return 0;
    }
    int r = check_control_len(p, p->type, len);
    if (r < 0)
        return r;
    p->body.len = 0;
    buf_reserve(&p->body, len);
    p->state = S_CONTROL; /* every known type has a body */
    return 0;
}

int stream_spdy_parser_feed(struct spdy_parser *p, const uint8_t *data, size_t len)
{
    if (p->dead)
        return p->dead;

    size_t off = 0;
    int r = 0;
    while (r >= 0 && off < len) {
        size_t avail = len - off, n;
        switch (p->state) {
        case S_HEAD:
            n = HEAD_LEN - p->head_len < avail ? HEAD_LEN - p->head_len : avail;
            memcpy(p->head + p->head_len, data + off, n);
            p->head_len += n;
            off += n;
            if (p->head_len == HEAD_LEN) {
                p->head_len = 0;
                r = on_head(p);
            }
            break;
        case S_CONTROL:
            n = p->left < avail ? p->left : avail;
            buf_append(&p->body, data + off, n);
            p->left -= n;
            off += n;
            if (p->left == 0) {
                p->state = S_HEAD;
                r = on_control(p);
                p->body.len = 0;
            }
            break;
        case S_SKIP:
            n = p->left < avail ? p->left : avail;
            p->left -= n;
            off += n;
            if (p->left == 0)
                p->state = S_HEAD;
            break;
        case S_DATA:
            n = p->left < avail ? p->left : avail;
            p->left -= n;
            off += n;
            if (p->left == 0)
                p->state = S_HEAD;
            r = emit_data(p, data + off - n, n, p->left == 0);
            break;
        }
    }
    if (r < 0)
        p->dead = r; /* the byte count consumed is lost, so there is no resuming */
    return r < 0 ? r : 0;
}

/* ---- writer ---- */

struct spdy_writer {
    z_stream zs;
    struct buf plain; /* the header block before compression */
};

struct spdy_writer *stream_spdy_writer_new(void)
{
    struct spdy_writer *w = xcalloc(1, sizeof(*w));
    if (deflateInit(&w->zs, Z_DEFAULT_COMPRESSION) != Z_OK ||
        deflateSetDictionary(&w->zs, (const Bytef *)dictionary, DICTIONARY_LEN) != Z_OK)
        abort(); /* only out of memory */
    return w;
}

void stream_spdy_writer_free(struct spdy_writer *w)
{
    if (!w)
        return;
    deflateEnd(&w->zs);
    buf_done(&w->plain);
    free(w);
}

static void put_control_head(struct buf *out, uint16_t type, uint8_t flags, uint32_t len)
{
    uint8_t h[HEAD_LEN] = {0x80,  SPDY_VERSION,         (uint8_t)(type >> 8), (uint8_t)type,
                           flags, (uint8_t)(len >> 16), (uint8_t)(len >> 8),  (uint8_t)len};
    buf_append(out, h, sizeof(h));
}

static uint32_t check_u32(size_t n)
{
    if (n > UINT32_MAX)
        abort(); /* a caller's bug: nothing we send comes near */
    return (uint32_t)n;
}

/* Append the compressed header block; the frame's start is patched with its final length. */
static void put_block(struct spdy_writer *w, struct buf *out, size_t frame_start,
                      const struct spdy_header *h, size_t n)
{
    w->plain.len = 0;
    put32(&w->plain, check_u32(n));
    for (size_t i = 0; i < n; i++) {
        size_t name_len = strlen(h[i].name);
        put32(&w->plain, check_u32(name_len));
        size_t at = w->plain.len;
        buf_append(&w->plain, h[i].name, name_len);
        for (size_t j = at; j < w->plain.len; j++)
            if (w->plain.data[j] >= 'A' && w->plain.data[j] <= 'Z')
                w->plain.data[j] = (uint8_t)(w->plain.data[j] - 'A' + 'a');
        put32(&w->plain, check_u32(h[i].value_len));
        buf_append(&w->plain, h[i].value, h[i].value_len);
    }

    w->zs.next_in = w->plain.data;
    w->zs.avail_in = check_u32(w->plain.len);
    /* Z_SYNC_FLUSH ends each block on a byte boundary so the peer can inflate it whole, while
     * the dictionary and history carry over to the next block (spec 2.6.10.1) */
    do {
        buf_reserve(out, 256 + w->plain.len / 2);
        size_t room = out->cap - out->len - 1; /* buf keeps a byte for its NUL */
        if (room > UINT32_MAX)
            room = UINT32_MAX;
        w->zs.next_out = out->data + out->len;
        w->zs.avail_out = (uInt)room;
        int z = deflate(&w->zs, Z_SYNC_FLUSH);
        if (z != Z_OK && z != Z_BUF_ERROR)
            abort(); /* cannot happen with a valid stream */
        out->len += room - w->zs.avail_out;
    } while (w->zs.avail_out == 0);
    out->data[out->len] = 0;

    size_t len = out->len - frame_start - HEAD_LEN;
    if (len > SPDY_MAX_FRAME_LEN)
        abort(); /* a caller's bug, see spdy.h */
    out->data[frame_start + 5] = (uint8_t)(len >> 16);
    out->data[frame_start + 6] = (uint8_t)(len >> 8);
    out->data[frame_start + 7] = (uint8_t)len;
}

void stream_spdy_write_syn_stream(struct spdy_writer *w, struct buf *out, uint32_t id,
                                  uint32_t assoc, uint8_t prio, uint8_t flags,
                                  const struct spdy_header *h, size_t n)
{
    size_t start = out->len;
    put_control_head(out, SPDY_SYN_STREAM, flags, 0);
    put32(out, id & STREAM_ID_MASK);
    put32(out, assoc & STREAM_ID_MASK);
    uint8_t prio_slot[2] = {(uint8_t)((prio & 7) << 5), 0};
    buf_append(out, prio_slot, sizeof(prio_slot));
    put_block(w, out, start, h, n);
}

static void write_reply_like(struct spdy_writer *w, struct buf *out, uint16_t type, uint32_t id,
                             uint8_t flags, const struct spdy_header *h, size_t n)
{
    size_t start = out->len;
    put_control_head(out, type, flags, 0);
    put32(out, id & STREAM_ID_MASK);
    put_block(w, out, start, h, n);
}

void stream_spdy_write_syn_reply(struct spdy_writer *w, struct buf *out, uint32_t id, uint8_t flags,
                                 const struct spdy_header *h, size_t n)
{
    write_reply_like(w, out, SPDY_SYN_REPLY, id, flags, h, n);
}

void stream_spdy_write_headers(struct spdy_writer *w, struct buf *out, uint32_t id, uint8_t flags,
                               const struct spdy_header *h, size_t n)
{
    write_reply_like(w, out, SPDY_HEADERS, id, flags, h, n);
}

void stream_spdy_write_data(struct buf *out, uint32_t id, uint8_t flags, const uint8_t *d,
                            size_t len)
{
    do {
        size_t n = len < SPDY_MAX_FRAME_LEN ? len : SPDY_MAX_FRAME_LEN;
        uint8_t f = n == len ? flags : (uint8_t)(flags & ~SPDY_FLAG_FIN);
        uint8_t h[HEAD_LEN];
        patch32(h, id & STREAM_ID_MASK);
        patch32(h + 4, (uint32_t)f << 24 | (uint32_t)n);
        buf_append(out, h, sizeof(h));
        if (n > 0) {
            buf_append(out, d, n);
            d += n;
            len -= n;
        }
    } while (len > 0);
}

void stream_spdy_write_rst_stream(struct buf *out, uint32_t id, uint32_t status)
{
    put_control_head(out, SPDY_RST_STREAM, 0, 8);
    put32(out, id & STREAM_ID_MASK);
    put32(out, status);
}

void stream_spdy_write_settings(struct buf *out, const struct spdy_setting *s, size_t n)
{
    if (n > (SPDY_MAX_FRAME_LEN - 4) / 8)
        abort(); /* a caller's bug: there are a handful of settings */
    put_control_head(out, SPDY_SETTINGS, 0, (uint32_t)(4 + 8 * n));
    put32(out, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put32(out, (uint32_t)s[i].flags << 24 | (s[i].id & 0xffffffu));
        put32(out, s[i].value);
    }
}

void stream_spdy_write_ping(struct buf *out, uint32_t id)
{
    put_control_head(out, SPDY_PING, 0, 4);
    put32(out, id);
}

void stream_spdy_write_goaway(struct buf *out, uint32_t last_good, uint32_t status)
{
    put_control_head(out, SPDY_GOAWAY, 0, 8);
    put32(out, last_good & STREAM_ID_MASK);
    put32(out, status);
}

void stream_spdy_write_window_update(struct buf *out, uint32_t id, uint32_t delta)
{
    put_control_head(out, SPDY_WINDOW_UPDATE, 0, 8);
    put32(out, id & STREAM_ID_MASK);
    put32(out, delta & STREAM_ID_MASK);
}

const struct spdy_header *stream_spdy_header_find(const struct spdy_header *h, size_t n,
                                                  const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(h[i].name, name) == 0)
            return &h[i];
    return NULL;
}
