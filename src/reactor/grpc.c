/* gRPC over HTTP/2 with nghttp2's mem_recv/mem_send on a libuv connection: one struct grpc_call
 * per stream, deadlines, trailers, server-streaming responses, cancellation and GOAWAY. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nghttp2/nghttp2.h>

#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "reactor/grpc-frame.h"
#include "reactor/reactor-internal.h"

#define MAX_STREAMS 1000
#define MAX_HEADER_BYTES 16384
#define MAX_PATH 1024
#define STREAM_WINDOW (1u << 20)
/* Request bytes one connection may hold in calls not yet answered, as multiples of the largest
 * message: auto window updates let a client keep sending, so flow control alone bounds nothing
 * (1000 streams of 16 MiB each). */
#define CONN_HELD_MSGS 4

struct grpc_session {
    struct conn *conn;
    nghttp2_session *ng;
    struct grpc_call *calls;
    bool busy; /* inside mem_recv/mem_send: no re-entry, flush later */
    bool want_flush;
    bool broken;  /* a protocol error: close once flushed */
    bool in_feed; /* reactor_grpc_session_feed is on the stack: it closes the connection itself */
    size_t held;  /* request bytes received by calls still open */
};

struct grpc_call {
    int refs;
    struct reactor_server *srv;
    struct grpc_session *sess; /* NULL once the stream or the connection is gone */
    int32_t stream_id;
    char *path;
    bool post;
    bool grpc_content;
    bool has_timeout;
    uint64_t timeout_ms;
    size_t header_bytes;
    size_t held; /* what this call counts in its session's held */
    struct grpc_frame_reader reader;
    bool request_done;
    bool dispatched;
    bool handed;   /* to the handler: its end is reported to grpc_done */
    bool reported; /* grpc_done was told */
    uint64_t handed_at;
    bool headers_sent;
    bool finished;
    bool deferred;
    bool cancelled;
    bool timer_active;
    enum grpc_status status;
    char *status_msg;
    struct buf out;
    size_t out_off;
    grpc_cancel_fn cancel_fn;
    void *cancel_data;
    uv_timer_t timer;
    struct grpc_call *prev, *next;
};

static void session_flush(struct grpc_session *s);

/* ---- calls ---- */

struct grpc_call *reactor_grpc_call_ref(struct grpc_call *call)
{
    call->refs++;
    return call;
}

static void call_free(uv_handle_t *h)
{
    struct grpc_call *call = container_of((uv_timer_t *)h, struct grpc_call, timer);
    reactor_grpc_frame_reader_done(&call->reader);
    buf_done(&call->out);
    free(call->path);
    free(call->status_msg);
    free(call);
}

void reactor_grpc_call_unref(struct grpc_call *call)
{
    if (!call || --call->refs > 0)
        return;
    call->srv->stats.calls--;
    uv_close((uv_handle_t *)&call->timer, call_free);
}

bool reactor_grpc_call_is_done(const struct grpc_call *call)
{
    return call->finished || call->cancelled || !call->sess;
}

const char *reactor_grpc_call_path(const struct grpc_call *call)
{
    return call->path ? call->path : "";
}

void reactor_grpc_call_on_cancel(struct grpc_call *call, grpc_cancel_fn fn, void *data)
{
    call->cancel_fn = fn;
    call->cancel_data = data;
}

static void call_cancel(struct grpc_call *call)
{
    if (call->cancelled)
        return;
    call->cancelled = true;
    if (call->cancel_fn) {
        reactor_grpc_call_ref(call);
        call->cancel_fn(call, call->cancel_data);
        reactor_grpc_call_unref(call);
    }
}

static void call_stop_timer(struct grpc_call *call)
{
    if (call->timer_active) {
        uv_timer_stop(&call->timer);
        call->timer_active = false;
    }
}

static ssize_t on_data_read(nghttp2_session *ng, int32_t stream_id, uint8_t *buf, size_t length,
                            uint32_t *flags, nghttp2_data_source *src, void *user)
{
    struct grpc_call *call = src->ptr;
    size_t avail = call->out.len - call->out_off;
    size_t n = avail < length ? avail : length;
    if (n) {
        memcpy(buf, call->out.data + call->out_off, n);
        call->out_off += n;
        if (call->out_off == call->out.len)
            call->out.len = call->out_off = 0;
    }
    if (call->out.len == 0 && call->finished) {
        char status[16];
        struct buf msg = {0};
        snprintf(status, sizeof(status), "%d", (int)call->status);
        reactor_grpc_message_encode(call->status_msg ? call->status_msg : "", &msg);
        nghttp2_nv nv[2] = {
            {(uint8_t *)"grpc-status", (uint8_t *)status, 11, strlen(status), NGHTTP2_NV_FLAG_NONE},
            {(uint8_t *)"grpc-message", msg.data ? msg.data : (uint8_t *)"", 12, msg.len,
             NGHTTP2_NV_FLAG_NONE},
        };
        *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
        int r = nghttp2_submit_trailer(ng, stream_id, nv, msg.len ? 2 : 1);
        buf_done(&msg);
        if (r < 0)
            return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
        return (ssize_t)n;
    }
    if (n == 0) {
        call->deferred = true;
        return NGHTTP2_ERR_DEFERRED;
    }
    return (ssize_t)n;
}

static void submit_headers(struct grpc_call *call, bool trailers_only, int http_status)
{
    char status[16], code[16];
    struct buf msg = {0};
    snprintf(code, sizeof(code), "%d", http_status);
    nghttp2_nv nv[5];
    size_t n = 0;
#define NV(k, v, vl)                                                                               \
    nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), (vl), NGHTTP2_NV_FLAG_NONE}
    NV(":status", code, strlen(code));
    NV("content-type", "application/grpc", 16);
    if (trailers_only) {
        snprintf(status, sizeof(status), "%d", (int)call->status);
        NV("grpc-status", status, strlen(status));
        reactor_grpc_message_encode(call->status_msg ? call->status_msg : "", &msg);
        if (msg.len)
            NV("grpc-message", msg.data, msg.len);
    }
#undef NV
    nghttp2_data_provider dp = {.source.ptr = call, .read_callback = on_data_read};
    nghttp2_submit_response(call->sess->ng, call->stream_id, nv, n, trailers_only ? NULL : &dp);
    buf_done(&msg);
    call->headers_sent = true;
}

int reactor_grpc_call_send(struct grpc_call *call, const uint8_t *msg, size_t len)
{
    if (reactor_grpc_call_is_done(call))
        return -ECANCELED;
    if (len > call->srv->cfg.max_send_msg_size) {
        char m[128];
        snprintf(m, sizeof(m), "response message larger than max (%zu vs. %zu)", len,
                 call->srv->cfg.max_send_msg_size);
        reactor_grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED, m);
        return -EMSGSIZE;
    }
    uint8_t hdr[GRPC_FRAME_HEADER];
    reactor_grpc_frame_header(hdr, (uint32_t)len);
    buf_append(&call->out, hdr, sizeof(hdr));
    buf_append(&call->out, msg, len);
    if (!call->headers_sent) {
        submit_headers(call, false, 200);
    } else if (call->deferred) {
        call->deferred = false;
        nghttp2_session_resume_data(call->sess->ng, call->stream_id);
    }
    session_flush(call->sess);
    return 0;
}

size_t reactor_grpc_call_backlog(const struct grpc_call *call)
{
    return call->out.len - call->out_off;
}

/* Tell the server's owner how a call it handled ended, once. */
static void call_report(struct grpc_call *call, enum grpc_status status)
{
    if (!call->handed || call->reported || !call->srv->ops.grpc_done)
        return;
    call->reported = true;
    call->srv->ops.grpc_done(call->srv->data, call->path, status, uv_hrtime() - call->handed_at);
}

void reactor_grpc_call_abort(struct grpc_call *call)
{
    if (call->finished)
        return;
    call->finished = true;
    call_report(call, GRPC_RESOURCE_EXHAUSTED);
    call_stop_timer(call);
    buf_done(&call->out);
    call->out_off = 0;
    if (call->sess) {
        nghttp2_submit_rst_stream(call->sess->ng, NGHTTP2_FLAG_NONE, call->stream_id,
                                  NGHTTP2_ENHANCE_YOUR_CALM);
        session_flush(call->sess);
    }
}

static void call_finish_http(struct grpc_call *call, enum grpc_status status, const char *msg,
                             int http_status)
{
    if (call->finished)
        return;
    call->finished = true;
    call_report(call, status);
    call->status = status;
    call->status_msg = xstrdup(msg ? msg : "");
    call_stop_timer(call);
    struct grpc_session *s = call->sess;
    if (!s)
        return;
    if (!call->headers_sent) {
        submit_headers(call, true, http_status);
    } else if (call->deferred) {
        call->deferred = false;
        nghttp2_session_resume_data(s->ng, call->stream_id);
    }
    session_flush(s);
}

void reactor_grpc_call_finish(struct grpc_call *call, enum grpc_status status, const char *msg)
{
    call_finish_http(call, status, msg, 200);
}

static void on_deadline(uv_timer_t *t)
{
    struct grpc_call *call = container_of(t, struct grpc_call, timer);
    call->timer_active = false;
    char m[64];
    snprintf(m, sizeof(m), "deadline exceeded after %" PRIu64 "ms", call->timeout_ms);
    reactor_grpc_call_ref(call);
    reactor_grpc_call_finish(call, GRPC_DEADLINE_EXCEEDED, m);
    call_cancel(call);
    reactor_grpc_call_unref(call);
}

/* The stream is gone (closed, reset, or the connection died). */
static void call_detach(struct grpc_call *call)
{
    struct grpc_session *s = call->sess;
    if (!s)
        return;
    LIST_REMOVE(s->calls, call);
    s->held -= call->held;
    call->held = 0;
    call->sess = NULL;
    call_stop_timer(call);
    if (!call->finished) {
        call_report(call, GRPC_CANCELLED);
        call_cancel(call);
    }
    reactor_grpc_call_unref(call); /* the stream's reference */
}

static void call_dispatch(struct grpc_call *call)
{
    if (call->finished || call->dispatched)
        return;
    call->dispatched = true;
    if (!call->post) {
        call_finish_http(call, GRPC_UNIMPLEMENTED, "gRPC requires the POST method", 405);
        return;
    }
    if (!call->grpc_content) {
        call_finish_http(call, GRPC_INTERNAL, "content-type must be application/grpc", 415);
        return;
    }
    struct grpc_frame_reader *r = &call->reader;
    if (r->n_msgs == 0 || !reactor_grpc_frame_reader_idle(r)) {
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
                                 r->n_msgs ? "truncated request message"
                                           : "request carries no message");
        return;
    }
    if (r->n_msgs > 1) {
        reactor_grpc_call_finish(call, GRPC_INVALID_ARGUMENT,
                                 "a unary request carries one message");
        return;
    }
    call->handed = true;
    call->handed_at = uv_hrtime();
    call->srv->ops.grpc_call(call->srv->data, call, reactor_grpc_call_path(call), r->first,
                             r->first_len);
}

/* ---- nghttp2 callbacks ---- */

static struct grpc_call *stream_call(nghttp2_session *ng, int32_t stream_id)
{
    return nghttp2_session_get_stream_user_data(ng, stream_id);
}

static int on_begin_headers(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    struct grpc_session *s = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct grpc_call *call = xcalloc(1, sizeof(*call));
    call->refs = 1;
    call->srv = s->conn->srv;
    call->sess = s;
    call->stream_id = frame->hd.stream_id;
    reactor_grpc_frame_reader_init(&call->reader, call->srv->cfg.max_recv_msg_size);
    uv_timer_init(call->srv->loop, &call->timer);
    LIST_PREPEND(s->calls, call);
    call->srv->stats.calls++;
    call->srv->stats.calls_total++;
    nghttp2_session_set_stream_user_data(ng, frame->hd.stream_id, call);
    return 0;
}

static bool name_is(const uint8_t *name, size_t len, const char *want)
{
    return len == strlen(want) && memcmp(name, want, len) == 0;
}

static int on_header(nghttp2_session *ng, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct grpc_call *call = stream_call(ng, frame->hd.stream_id);
    if (!call || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0; /* trailers from the client carry nothing we use */
    call->header_bytes += namelen + valuelen + 32;
    if (call->header_bytes > MAX_HEADER_BYTES)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    if (name_is(name, namelen, ":path")) {
        free(call->path);
        call->path = xstrndup((const char *)value, valuelen < MAX_PATH ? valuelen : MAX_PATH);
    } else if (name_is(name, namelen, ":method")) {
        call->post = name_is(value, valuelen, "POST");
    } else if (name_is(name, namelen, "content-type")) {
        call->grpc_content = valuelen >= 16 && memcmp(value, "application/grpc", 16) == 0 &&
                             (valuelen == 16 || value[16] == '+' || value[16] == ';');
    } else if (name_is(name, namelen, "grpc-timeout")) {
        call->has_timeout =
            reactor_grpc_timeout_parse((const char *)value, valuelen, &call->timeout_ms) == 0;
    }
    return 0;
}

static int on_frame_recv(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA)
        return 0;
    struct grpc_call *call = stream_call(ng, frame->hd.stream_id);
    if (!call)
        return 0;
    if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST &&
        call->has_timeout && !call->finished) {
        call->timer_active = true;
        uv_timer_start(&call->timer, on_deadline, call->timeout_ms, 0);
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) {
        call->request_done = true;
        call_dispatch(call);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *ng, uint8_t flags, int32_t stream_id, const uint8_t *data,
                         size_t len, void *user)
{
    struct grpc_session *s = user;
    struct grpc_call *call = stream_call(ng, stream_id);
    if (!call || call->finished)
        return 0;
    size_t max = CONN_HELD_MSGS * call->srv->cfg.max_recv_msg_size;
    if (s->held + len > max) {
        char m[128];
        snprintf(m, sizeof(m), "the connection holds more than %zu bytes of unanswered requests",
                 max);
        reactor_grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED, m);
        return 0;
    }
    s->held += len;
    call->held += len;
    int r = reactor_grpc_frame_reader_feed(&call->reader, data, len);
    if (r == -EMSGSIZE) {
        char m[128];
        snprintf(m, sizeof(m), "received message larger than max (%zu vs. %zu)", call->reader.want,
                 call->reader.max);
        reactor_grpc_call_finish(call, GRPC_RESOURCE_EXHAUSTED, m);
    } else if (r == -ENOTSUP) {
        reactor_grpc_call_finish(call, GRPC_UNIMPLEMENTED, "compressed messages are not supported");
    } else if (r < 0) {
        reactor_grpc_call_finish(call, GRPC_INTERNAL, "malformed gRPC message framing");
    }
    return 0;
}

static int on_frame_send(nghttp2_session *ng, const nghttp2_frame *frame, void *user)
{
    /* Answered before the request was complete (an error, a deadline): stop the upload. */
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct grpc_call *call = stream_call(ng, frame->hd.stream_id);
        if (call && !call->request_done)
            nghttp2_submit_rst_stream(ng, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *ng, int32_t stream_id, uint32_t error_code, void *user)
{
    struct grpc_call *call = stream_call(ng, stream_id);
    if (call) {
        nghttp2_session_set_stream_user_data(ng, stream_id, NULL);
        call_detach(call);
    }
    return 0;
}

/* ---- the session ---- */

static nghttp2_session_callbacks *callbacks(void)
{
    static nghttp2_session_callbacks *cbs;
    if (!cbs) {
        /* Built once and kept for the life of the process. */
        if (nghttp2_session_callbacks_new(&cbs) != 0)
            abort();
        nghttp2_session_callbacks_set_on_begin_headers_callback(cbs, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
        nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
        nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
    }
    return cbs;
}

struct grpc_session *reactor_grpc_session_new(struct conn *c)
{
    struct grpc_session *s = xcalloc(1, sizeof(*s));
    s->conn = c;
    nghttp2_option *opt;
    if (nghttp2_option_new(&opt) != 0)
        abort();
    nghttp2_option_set_max_send_header_block_length(opt, 65536);
    /* grpc-go sends the socket path as :authority ("/run/crib/crib.sock"), which nghttp2's HTTP
     * checks reject; gRPC needs none of them (the call checks :method, :path, content-type). */
    nghttp2_option_set_no_http_messaging(opt, 1);
    if (nghttp2_session_server_new2(&s->ng, callbacks(), s, opt) != 0)
        abort();
    nghttp2_option_del(opt);
    nghttp2_settings_entry iv[] = {
        {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, MAX_STREAMS},
        {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, STREAM_WINDOW},
        {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, MAX_HEADER_BYTES},
    };
    nghttp2_submit_settings(s->ng, NGHTTP2_FLAG_NONE, iv, ARRAY_SIZE(iv));
    nghttp2_session_set_local_window_size(s->ng, NGHTTP2_FLAG_NONE, 0, 4 * STREAM_WINDOW);
    return s;
}

static void session_flush(struct grpc_session *s)
{
    if (!s)
        return;
    if (s->busy) {
        s->want_flush = true;
        return;
    }
    struct conn *c = s->conn;
    struct buf out = {0};
    s->busy = true;
    do {
        s->want_flush = false;
        while (reactor_conn_queued(c->rc) + out.len < CONN_WRITE_HIGH) {
            const uint8_t *data;
            ssize_t n = nghttp2_session_mem_send(s->ng, &data);
            if (n < 0) {
                s->broken = true;
                break;
            }
            if (n == 0)
                break;
            buf_append(&out, data, (size_t)n);
        }
    } while (s->want_flush && !s->broken);
    s->busy = false;
    reactor_server_conn_write(c, out.data, out.len);
    buf_done(&out);
    if (s->broken && !s->in_feed)
        reactor_server_conn_close(c);
}

void reactor_grpc_session_flush(struct grpc_session *s)
{
    session_flush(s);
}

int reactor_grpc_session_feed(struct grpc_session *s, const uint8_t *data, size_t len)
{
    s->busy = s->in_feed = true;
    ssize_t n = nghttp2_session_mem_recv(s->ng, data, len);
    s->busy = false;
    if (n < 0) {
        log_debug("grpc: connection error: %s", nghttp2_strerror((int)n));
        s->broken = true;
    }
    session_flush(s);
    s->in_feed = false;
    if (s->broken)
        return -EPROTO;
    if (!nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng) &&
        reactor_conn_queued(s->conn->rc) == 0)
        return -ECONNRESET; /* GOAWAY exchanged and nothing left */
    return 0;
}

void reactor_grpc_session_drain(struct grpc_session *s)
{
    nghttp2_submit_goaway(s->ng, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(s->ng),
                          NGHTTP2_NO_ERROR, NULL, 0);
    session_flush(s);
}

bool reactor_grpc_session_idle(struct grpc_session *s)
{
    return !nghttp2_session_want_read(s->ng) && !nghttp2_session_want_write(s->ng);
}

void reactor_grpc_session_free(struct grpc_session *s)
{
    if (!s)
        return;
    while (s->calls) {
        struct grpc_call *call = s->calls;
        nghttp2_session_set_stream_user_data(s->ng, call->stream_id, NULL);
        call_detach(call);
    }
    nghttp2_session_del(s->ng);
    free(s);
}
