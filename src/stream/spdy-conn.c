/* The SPDY/3.1 transport of a streaming session: client-created streams named by their
 * `streamtype` header (remotecommand: stdin, stdout, stderr, error, resize; port-forward: data
 * and error pairs joined by `requestid`), mapped onto channel numbers; flow control both ways. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/macro.h"
#include "stream/spdy.h"
#include "stream/stream-internal.h"

#define MAX_STREAMS 256
#define WINDOW_DEFAULT 65536
#define WINDOW_MAX 0x7fffffff
#define DATA_CHUNK 16384
/* Data a client sends before its session is up waits here, up to this much per stream. */
#define EARLY_MAX (1u << 20)

struct spdy_stream {
    uint32_t id;
    int chan;
    bool remote_closed, local_closed;
    int64_t send_window;
    struct buf pending; /* output held back by the client's window */
    bool pending_fin;
    struct buf early; /* input before the session started */
    bool early_fin;
    int64_t request_id; /* port-forward */
    int port;
    bool is_error;
};

struct spdy_conn {
    struct stream_conn *c;
    struct spdy_parser *parser;
    struct spdy_writer *writer;
    struct spdy_stream *streams[MAX_STREAMS];
    size_t n_streams;
    uint32_t last_id;
    int64_t session_window;
    int64_t initial_window;
    bool flow_control; /* the client sent a WINDOW_UPDATE: it counts */
    bool started, goaway_sent;
    size_t pending; /* bytes held back in every stream */
    int pairs;      /* port-forward: pairs made so far */
    struct buf out;
    bool busy, dead;
};

static const char *const rc_types[CH_RC_MAX] = {"stdin", "stdout", "stderr", "error", "resize"};

static void spdy_free(struct spdy_conn *s)
{
    for (size_t i = 0; i < s->n_streams; i++) {
        buf_done(&s->streams[i]->pending);
        buf_done(&s->streams[i]->early);
        free(s->streams[i]);
    }
    stream_spdy_parser_free(s->parser);
    stream_spdy_writer_free(s->writer);
    buf_done(&s->out);
    free(s);
}

void stream_spdy_free(struct stream_conn *c)
{
    struct spdy_conn *s = c->spdy;
    if (!s)
        return;
    c->spdy = NULL;
    if (s->busy)
        s->dead = true;
    else
        spdy_free(s);
}

static void flush_out(struct spdy_conn *s)
{
    if (s->out.len && !s->dead)
        stream_conn_write(s->c, s->out.data, s->out.len);
    s->out.len = 0;
}

static struct spdy_stream *by_id(struct spdy_conn *s, uint32_t id)
{
    for (size_t i = 0; i < s->n_streams; i++)
        if (s->streams[i]->id == id)
            return s->streams[i];
    return NULL;
}

static struct spdy_stream *by_chan(struct spdy_conn *s, int chan)
{
    for (size_t i = 0; i < s->n_streams; i++)
        if (s->streams[i]->chan == chan)
            return s->streams[i];
    return NULL;
}

/* ---- sending ---- */

static void send_data(struct spdy_conn *s, struct spdy_stream *st, const uint8_t *d, size_t len,
                      bool fin)
{
    while (len > 0 || fin) {
        size_t n = len < DATA_CHUNK ? len : DATA_CHUNK;
        if (s->flow_control) {
            int64_t room =
                st->send_window < s->session_window ? st->send_window : s->session_window;
            if (room <= 0 && n > 0)
                break;
            if ((int64_t)n > room)
                n = (size_t)room;
            st->send_window -= (int64_t)n;
            s->session_window -= (int64_t)n;
        }
        bool last = fin && n == len;
        stream_spdy_write_data(&s->out, st->id, last ? SPDY_FLAG_FIN : 0, d, n);
        d += n;
        len -= n;
        if (last) {
            st->local_closed = true;
            fin = false;
        }
    }
    if (len > 0 || fin) { /* the window is shut: keep the rest for a WINDOW_UPDATE */
        buf_append(&st->pending, d, len);
        s->pending += len;
        st->pending_fin = st->pending_fin || fin;
    }
}

static void flush_pending(struct spdy_conn *s)
{
    for (size_t i = 0; i < s->n_streams; i++) {
        struct spdy_stream *st = s->streams[i];
        if (!st->pending.len && !st->pending_fin)
            continue;
        struct buf b = st->pending;
        bool fin = st->pending_fin;
        memset(&st->pending, 0, sizeof(st->pending));
        st->pending_fin = false;
        s->pending -= b.len;
        send_data(s, st, b.data, b.len, fin);
        buf_done(&b);
    }
    flush_out(s);
}

void stream_spdy_send(struct stream_conn *c, int chan, const void *data, size_t len)
{
    struct spdy_conn *s = c->spdy;
    struct spdy_stream *st = s ? by_chan(s, chan) : NULL;
    if (!st || st->local_closed || st->pending_fin || len == 0)
        return;
    if (st->pending.len) { /* behind earlier output still waiting for the window */
        buf_append(&st->pending, data, len);
        s->pending += len;
    } else {
        send_data(s, st, data, len, false);
    }
    flush_out(s);
}

void stream_spdy_close_chan(struct stream_conn *c, int chan)
{
    struct spdy_conn *s = c->spdy;
    struct spdy_stream *st = s ? by_chan(s, chan) : NULL;
    if (!st || st->local_closed || st->pending_fin)
        return;
    if (st->pending.len)
        st->pending_fin = true;
    else
        send_data(s, st, NULL, 0, true);
    flush_out(s);
}

size_t stream_spdy_queued(struct stream_conn *c)
{
    return c->spdy ? c->spdy->pending : 0;
}

static void goaway(struct spdy_conn *s, uint32_t status)
{
    if (s->goaway_sent)
        return;
    s->goaway_sent = true;
    stream_spdy_write_goaway(&s->out, s->last_id, status);
    flush_out(s);
}

void stream_spdy_finish(struct stream_conn *c)
{
    struct spdy_conn *s = c->spdy;
    if (s) {
        for (size_t i = 0; i < s->n_streams; i++)
            stream_spdy_close_chan(c, s->streams[i]->chan);
        /* Output the client's window still holds back goes out as it opens; the connection
         * lingers meanwhile. */
        goaway(s, 0);
    }
    stream_conn_finish(c);
}

/* ---- receiving ---- */

static void reset(struct spdy_conn *s, uint32_t id, uint32_t status)
{
    stream_spdy_write_rst_stream(&s->out, id, status);
    flush_out(s);
}

static const char *header(const struct spdy_frame *f, const char *name)
{
    const struct spdy_header *h = stream_spdy_header_find(f->headers, f->n_headers, name);
    return h ? h->value : NULL;
}

static bool rc_ready(struct spdy_conn *s)
{
    const struct stream_request *r = s->c->req;
    bool need[CH_RC_MAX] = {
        [CH_STDIN] = r->in,
        [CH_STDOUT] = r->out,
        [CH_STDERR] = r->err && !r->tty,
        [CH_ERROR] = true,
        [CH_RESIZE] = r->tty && s->c->version >= 3,
    };
    for (int ch = 0; ch < CH_RC_MAX; ch++)
        if (need[ch] && !by_chan(s, ch))
            return false;
    return true;
}

static void start_session(struct spdy_conn *s)
{
    s->started = true;
    stream_session_start(s->c);
    /* What came early goes to the session now. */
    for (size_t i = 0; i < s->n_streams && !s->dead; i++) {
        struct spdy_stream *st = s->streams[i];
        if (st->early.len)
            stream_session_data(s->c, st->chan, st->early.data, st->early.len);
        buf_done(&st->early);
        if (st->early_fin && !s->dead)
            stream_session_eof(s->c, st->chan);
    }
}

/* port-forward: the channel of a stream, by its request ID; its pair's other stream may have come
 * already. */
static int pf_chan(struct spdy_conn *s, struct spdy_stream *st, const struct spdy_frame *f)
{
    const char *port = header(f, "port"), *rid = header(f, "requestid");
    char *end;
    long p = port ? strtol(port, &end, 10) : 0;
    if (!port || *end || p < 1 || p > 65535)
        return -EINVAL;
    st->port = (int)p;
    st->request_id = rid ? strtoll(rid, &end, 10) : -1;
    if (!rid || *end || st->request_id < 0)
        return -EINVAL;
    for (size_t i = 0; i < s->n_streams; i++) {
        struct spdy_stream *o = s->streams[i];
        if (o->request_id != st->request_id)
            continue;
        if (o->is_error == st->is_error || o->port != st->port)
            return -EINVAL;
        return (o->chan & ~1) | (st->is_error ? 1 : 0);
    }
    int chan = 2 * s->pairs++ + (st->is_error ? 1 : 0);
    return chan;
}

static int on_syn_stream(struct spdy_conn *s, const struct spdy_frame *f)
{
    struct stream_conn *c = s->c;
    if (f->stream_id % 2 == 0 || f->stream_id <= s->last_id) {
        goaway(s, SPDY_PROTOCOL_ERROR);
        return -EPROTO;
    }
    s->last_id = f->stream_id;
    const char *type = header(f, "streamtype");
    if (!type || s->n_streams == MAX_STREAMS || s->goaway_sent) {
        reset(s, f->stream_id,
              s->n_streams == MAX_STREAMS ? SPDY_REFUSED_STREAM : SPDY_PROTOCOL_ERROR);
        return 0;
    }
    struct spdy_stream *st = xcalloc(1, sizeof(*st));
    st->id = f->stream_id;
    st->send_window = s->initial_window;
    st->request_id = -1;
    st->chan = -1;
    if (c->req->kind == STREAM_PORTFORWARD) {
        st->is_error = strcmp(type, "error") == 0;
        if (st->is_error || strcmp(type, "data") == 0)
            st->chan = pf_chan(s, st, f);
    } else {
        for (int ch = 0; ch < CH_RC_MAX; ch++)
            if (strcmp(type, rc_types[ch]) == 0 && !by_chan(s, ch))
                st->chan = ch;
    }
    if (st->chan < 0) {
        free(st);
        reset(s, f->stream_id, SPDY_PROTOCOL_ERROR);
        return 0;
    }
    st->remote_closed = f->flags & SPDY_FLAG_FIN;
    st->early_fin = st->remote_closed;
    s->streams[s->n_streams++] = st;
    /* Replies carry :status for clients that read HTTP semantics into SPDY (spdy-transport);
     * spdystream ignores them. */
    struct spdy_header h[] = {{":status", "200", 3}, {":version", "HTTP/1.1", 8}};
    stream_spdy_write_syn_reply(s->writer, &s->out, st->id, 0, h, ARRAY_SIZE(h));
    flush_out(s);
    if (c->req->kind == STREAM_PORTFORWARD) {
        if (!s->started) {
            s->started = true;
            stream_session_start(c);
        }
        stream_pf_stream(c, st->chan, st->port);
        if (st->remote_closed && !s->dead)
            stream_session_eof(c, st->chan);
    } else if (!s->started && rc_ready(s)) {
        start_session(s);
    }
    return 0;
}

static void update_windows(struct spdy_conn *s, uint32_t id, size_t len)
{
    if (len == 0)
        return;
    /* What we take in is consumed at once (the session applies its own backpressure by not
     * reading the socket): give the client its window back. */
    stream_spdy_write_window_update(&s->out, id, (uint32_t)len);
    stream_spdy_write_window_update(&s->out, 0, (uint32_t)len);
}

static int on_data(struct spdy_conn *s, const struct spdy_frame *f)
{
    struct spdy_stream *st = by_id(s, f->stream_id);
    if (!st || st->remote_closed) {
        if (f->len || (f->flags & SPDY_FLAG_FIN))
            reset(s, f->stream_id, st ? SPDY_STREAM_ALREADY_CLOSED : SPDY_INVALID_STREAM);
        return 0;
    }
    update_windows(s, st->id, f->len);
    flush_out(s);
    bool fin = f->flags & SPDY_FLAG_FIN;
    if (fin)
        st->remote_closed = true;
    if (!s->started) {
        if (st->early.len + f->len > EARLY_MAX)
            return -EPROTO;
        buf_append(&st->early, f->data, f->len);
        st->early_fin = fin;
        return 0;
    }
    if (f->len)
        stream_session_data(s->c, st->chan, f->data, f->len);
    if (fin && !s->dead)
        stream_session_eof(s->c, st->chan);
    return 0;
}

static int on_frame(void *data, const struct spdy_frame *f)
{
    struct spdy_conn *s = data;
    if (s->dead)
        return -ECANCELED;
    switch (f->type) {
    case SPDY_SYN_STREAM:
        return on_syn_stream(s, f);
    case SPDY_DATA:
        return on_data(s, f);
    case SPDY_RST_STREAM: {
        struct spdy_stream *st = by_id(s, f->stream_id);
        if (st && !st->remote_closed) {
            st->remote_closed = st->local_closed = true;
            s->pending -= st->pending.len;
            st->pending.len = 0;
            st->pending_fin = false;
            if (s->started)
                stream_session_eof(s->c, st->chan);
        }
        return 0;
    }
    case SPDY_SETTINGS:
        for (size_t i = 0; i < f->n_settings; i++) {
            if (f->settings[i].id != SPDY_SETTINGS_INITIAL_WINDOW_SIZE ||
                f->settings[i].value > WINDOW_MAX)
                continue;
            int64_t delta = (int64_t)f->settings[i].value - s->initial_window;
            s->initial_window = f->settings[i].value;
            for (size_t j = 0; j < s->n_streams; j++)
                s->streams[j]->send_window += delta;
        }
        return 0;
    case SPDY_WINDOW_UPDATE: {
        s->flow_control = true;
        if (f->stream_id == 0) {
            s->session_window += f->delta;
        } else {
            struct spdy_stream *st = by_id(s, f->stream_id);
            if (st)
                st->send_window += f->delta;
        }
        flush_pending(s);
        if (s->pending < STREAM_HIGH_WATER / 2)
            stream_session_drain(s->c);
        return 0;
    }
    case SPDY_PING:
        stream_spdy_write_ping(&s->out, f->ping_id);
        flush_out(s);
        return 0;
    case SPDY_GOAWAY:
        /* The client is done: it opens no more streams; the session ends as it ends. */
        return 0;
    default:
        return 0;
    }
}

int stream_spdy_open(struct stream_conn *c)
{
    struct spdy_conn *s = xcalloc(1, sizeof(*s));
    s->c = c;
    s->parser = stream_spdy_parser_new(on_frame, s);
    s->writer = stream_spdy_writer_new();
    s->session_window = WINDOW_DEFAULT;
    s->initial_window = WINDOW_DEFAULT;
    c->spdy = s;
    return 0;
}

int stream_spdy_feed(struct stream_conn *c, const uint8_t *data, size_t len)
{
    struct spdy_conn *s = c->spdy;
    s->busy = true;
    int r = stream_spdy_parser_feed(s->parser, data, len);
    s->busy = false;
    if (s->dead) {
        spdy_free(s);
        return 0;
    }
    if (r < 0 && r != -ECANCELED) {
        log_debug("SPDY session: %s", stream_spdy_parser_error(s->parser));
        goaway(s, SPDY_PROTOCOL_ERROR);
        return r;
    }
    return 0;
}
