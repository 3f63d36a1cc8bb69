/* The remotecommand session behind exec and attach: the client's stdin to the process, its
 * output to the client (with backpressure), resizes to the pty, and at the end the exit on the
 * error stream (a Status object from v4 on, text before). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/macro.h"
#include "stream/stream-internal.h"

#define READ_CHUNK 32768
#define RESIZE_MAX 4096

struct out_pipe {
    uv_pipe_t pipe;
    bool open, reading;
    int chan;
    struct stream_proc *p;
};

struct stream_proc {
    struct stream_conn *c; /* NULL once the client is gone */
    struct stream_server *srv;
    void *backend;
    enum stream_kind kind;
    bool tty, want_in;
    bool released, ended, backend_gone;
    struct out_pipe out, err;
    /* After the process has ended: its output is read on (with the same backpressure) until EOF
     * or until this timer, then the exit goes to the client. */
    uv_timer_t drain;
    bool drain_open;
    int exit_code;
    char *exit_msg;
    uv_pipe_t in;
    bool in_open, in_eof;
    int tty_fd;            /* the pty master (a descriptor the in pipe owns), -1 if none */
    struct buf pending_in; /* stdin that came before the fds */
    struct buf resize;
    uint16_t width, height; /* the last size asked for, applied once there is a pty */
    int handles;
};

static void maybe_free(struct stream_proc *p)
{
    if (!p->released || p->handles > 0)
        return;
    buf_done(&p->pending_in);
    buf_done(&p->resize);
    free(p->exit_msg);
    free(p);
}

static void on_closed(uv_handle_t *h)
{
    struct stream_proc *p = h->data;
    p->handles--;
    maybe_free(p);
}

static void close_out(struct out_pipe *o)
{
    if (!o->open)
        return;
    o->open = o->reading = false;
    uv_close((uv_handle_t *)&o->pipe, on_closed);
}

static void close_in(struct stream_proc *p)
{
    if (!p->in_open)
        return;
    p->in_open = false;
    p->tty_fd = -1;
    uv_close((uv_handle_t *)&p->in, on_closed);
}

/* The backend is done with p (the process ended, or the client left): it forgets p. */
static void release_backend(struct stream_proc *p)
{
    if (p->backend_gone)
        return;
    p->backend_gone = true;
    p->srv->ops->release(p->srv->data, p);
    p->backend = NULL;
}

/* The session is over for us: let the backend forget p and close what is left. */
static void release(struct stream_proc *p)
{
    if (p->released)
        return;
    p->released = true;
    close_in(p);
    close_out(&p->out);
    close_out(&p->err);
    if (p->drain_open) {
        p->drain_open = false;
        uv_close((uv_handle_t *)&p->drain, on_closed);
    }
    if (p->c)
        p->c->rc = NULL;
    p->c = NULL;
    release_backend(p);
    maybe_free(p);
}

static void finish_exit(struct stream_proc *p);

/* ---- output ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[READ_CHUNK];
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b);

static void set_reading(struct out_pipe *o, bool on)
{
    if (!o->open || o->reading == on)
        return;
    if (on)
        o->reading = uv_read_start((uv_stream_t *)&o->pipe, on_alloc, on_out_read) == 0;
    else {
        uv_read_stop((uv_stream_t *)&o->pipe);
        o->reading = false;
    }
}

static void send_out(struct stream_proc *p, int chan, const void *data, size_t len)
{
    if (!p->c)
        return;
    stream_chan_send(p->c, chan, data, len);
    if (p->c && stream_conn_queued(p->c) >= STREAM_HIGH_WATER) {
        set_reading(&p->out, false); /* until the client catches up: stream_rc_drain */
        set_reading(&p->err, false);
    }
}

static void on_out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct out_pipe *o = container_of((uv_pipe_t *)s, struct out_pipe, pipe);
    if (n > 0) {
        send_out(o->p, o->chan, b->base, (size_t)n);
    } else if (n < 0) { /* EOF, or EIO from a pty whose other side is gone */
        close_out(o);
        if (o->p->ended && !o->p->out.open && !o->p->err.open)
            finish_exit(o->p);
    }
}

static void open_out(struct stream_proc *p, struct out_pipe *o, int fd, int chan)
{
    o->p = p;
    o->chan = chan;
    uv_pipe_init(p->srv->loop, &o->pipe, 0);
    o->pipe.data = p;
    p->handles++;
    o->open = true;
    if (uv_pipe_open(&o->pipe, fd) < 0) {
        close(fd);
        close_out(o);
        return;
    }
    set_reading(o, true);
}

void stream_rc_drain(struct stream_conn *c)
{
    struct stream_proc *p = c->rc;
    if (!p)
        return;
    set_reading(&p->out, true);
    set_reading(&p->err, true);
}

void stream_proc_output(struct stream_proc *p, int fd, const void *data, size_t len)
{
    if (!p->c || p->ended)
        return;
    if ((fd == 1 && !p->c->req->out) || (fd == 2 && !p->c->req->err))
        return;
    stream_chan_send(p->c, fd == 2 && !p->tty ? CH_STDERR : CH_STDOUT, data, len);
    if (p->c && stream_conn_queued(p->c) >= STREAM_DROP_WATER)
        stream_conn_abort(p->c); /* never hold the container up for a slow client */
}

/* ---- input ---- */

static void apply_size(struct stream_proc *p)
{
    if (p->tty_fd < 0 || !p->width || !p->height)
        return;
    struct winsize ws = {.ws_row = p->height, .ws_col = p->width};
    ioctl(p->tty_fd, TIOCSWINSZ, &ws);
}

struct in_write {
    uv_write_t req;
    size_t len;
    char data[];
};

static void maybe_close_in(struct stream_proc *p)
{
    if (!p->in_eof || !p->in_open || p->in.write_queue_size > 0)
        return;
    if (p->tty) /* the pty stays: resizes still reach it, and stdin closing is the backend's */
        return;
    close_in(p);
}

static void on_in_written(uv_write_t *req, int status)
{
    struct in_write *w = container_of(req, struct in_write, req);
    struct stream_proc *p = req->data;
    free(w);
    if (status < 0) { /* the process closed its stdin: what comes next is dropped */
        p->want_in = false;
        close_in(p);
    }
    if (p->c && p->in.write_queue_size < STREAM_HIGH_WATER / 2)
        stream_conn_pause_input(p->c, false);
    maybe_close_in(p);
}

static void write_in(struct stream_proc *p, const uint8_t *data, size_t len)
{
    if (!p->in_open) {
        if (p->want_in && !p->ended)
            buf_append(&p->pending_in, data, len);
        if (p->c && p->pending_in.len >= STREAM_HIGH_WATER)
            stream_conn_pause_input(p->c, true);
        return;
    }
    struct in_write *w = xmalloc(sizeof(*w) + len);
    memcpy(w->data, data, len);
    w->len = len;
    w->req.data = p;
    uv_buf_t b = uv_buf_init(w->data, (unsigned)len);
    if (uv_write(&w->req, (uv_stream_t *)&p->in, &b, 1, on_in_written) < 0) {
        free(w);
        return;
    }
    if (p->c && p->in.write_queue_size >= STREAM_HIGH_WATER)
        stream_conn_pause_input(p->c, true);
}

void stream_proc_set_fds(struct stream_proc *p, int in_fd, int out_fd, int err_fd)
{
    if (p->released) {
        for (int fd, i = 0; i < 3; i++)
            if ((fd = i == 0 ? in_fd : i == 1 ? out_fd : err_fd) >= 0)
                close(fd);
        return;
    }
    if (in_fd >= 0) {
        uv_pipe_init(p->srv->loop, &p->in, 0);
        p->in.data = p;
        p->handles++;
        p->in_open = true;
        if (uv_pipe_open(&p->in, in_fd) < 0) {
            close(in_fd);
            close_in(p);
        } else if (p->tty) {
            p->tty_fd = in_fd;
            apply_size(p);
        }
    }
    if (out_fd >= 0)
        open_out(p, &p->out, out_fd, CH_STDOUT);
    if (err_fd >= 0)
        open_out(p, &p->err, err_fd, CH_STDERR);
    if (p->pending_in.len) {
        struct buf b = p->pending_in;
        memset(&p->pending_in, 0, sizeof(p->pending_in));
        if (p->want_in)
            write_in(p, b.data, b.len);
        buf_done(&b);
        if (p->c)
            stream_conn_pause_input(p->c, false);
    }
    maybe_close_in(p);
}

void stream_proc_set_pty(struct stream_proc *p, int master)
{
    int again = fcntl(master, F_DUPFD_CLOEXEC, 0);
    stream_proc_set_fds(p, master, again, -1);
}

void stream_rc_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len)
{
    struct stream_proc *p = c->rc;
    if (!p || p->ended)
        return;
    if (chan == CH_STDIN && p->want_in && !p->in_eof) {
        write_in(p, data, len);
    } else if (chan == CH_RESIZE && p->tty) {
        if (p->resize.len + len > RESIZE_MAX) {
            p->resize.len = 0; /* not a stream of sizes: forget it */
            return;
        }
        buf_append(&p->resize, data, len);
        if (stream_rc_resize_parse(&p->resize, &p->width, &p->height) > 0)
            apply_size(p);
    }
}

void stream_rc_eof(struct stream_conn *c, int chan)
{
    struct stream_proc *p = c->rc;
    if (!p || chan != CH_STDIN || p->in_eof)
        return;
    p->in_eof = true;
    p->want_in = p->in_open; /* nothing more is buffered for later */
    maybe_close_in(p);
    if (c->req->in)
        p->srv->ops->stdin_closed(p->srv->data, p);
}

int stream_rc_resize_parse(struct buf *b, uint16_t *ret_w, uint16_t *ret_h)
{
    int found = 0;
    size_t start = 0;
    for (;;) {
        while (start < b->len && b->data[start] != '{')
            start++;
        size_t i = start;
        int depth = 0;
        bool in_str = false, esc = false, done = false;
        for (; i < b->len && !done; i++) {
            char ch = (char)b->data[i];
            if (in_str) {
                esc = !esc && ch == '\\';
                if (ch == '"' && !esc)
                    in_str = false;
            } else if (ch == '"') {
                in_str = true;
            } else if (ch == '{') {
                depth++;
            } else if (ch == '}' && --depth == 0) {
                done = true;
            }
        }
        if (!done)
            break;
        cJSON *j = cJSON_ParseWithLength((const char *)b->data + start, i - start);
        const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, "Width");
        const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "Height");
        if (cJSON_IsNumber(w) && cJSON_IsNumber(h) && w->valuedouble >= 0 &&
            w->valuedouble <= 65535 && h->valuedouble >= 0 && h->valuedouble <= 65535) {
            *ret_w = (uint16_t)w->valuedouble;
            *ret_h = (uint16_t)h->valuedouble;
            found++;
        }
        cJSON_Delete(j);
        start = i;
    }
    buf_consume(b, start);
    return found;
}

/* ---- the session ---- */

void stream_rc_start(struct stream_conn *c)
{
    struct stream_proc *p = xcalloc(1, sizeof(*p));
    p->c = c;
    p->srv = c->srv;
    p->tty = c->req->tty;
    p->want_in = c->req->in;
    p->kind = c->req->kind;
    p->tty_fd = -1;
    c->rc = p;
    if (c->proto == PROTO_WS) {
        /* The WebSocket protocols tell the client the session is up with an empty message on
         * the lowest channel it reads. */
        int chan = c->req->out ? CH_STDOUT : c->req->err && !c->req->tty ? CH_STDERR : CH_ERROR;
        stream_chan_send(c, chan, "", 0);
    }
    if (c->req->kind == STREAM_EXEC)
        p->srv->ops->exec(p->srv->data, p, c->req);
    else
        p->srv->ops->attach(p->srv->data, p, c->req);
}

void stream_rc_gone(struct stream_conn *c)
{
    struct stream_proc *p = c->rc;
    if (!p)
        return;
    c->rc = NULL;
    p->c = NULL;
    release(p);
}

void stream_rc_status(int version, int exit_code, const char *msg, struct buf *out)
{
    out->len = 0;
    if (!msg && exit_code == 0) {
        if (version >= 4)
            buf_puts(out, "{\"metadata\":{},\"status\":\"Success\"}");
        return;
    }
    char text[256];
    if (msg)
        snprintf(text, sizeof(text), "%s", msg);
    else
        snprintf(text, sizeof(text), "command terminated with non-zero exit code: exit status %d",
                 exit_code);
    if (version < 4) {
        buf_puts(out, text);
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddObjectToObject(j, "metadata");
    cJSON_AddStringToObject(j, "status", "Failure");
    cJSON_AddStringToObject(j, "message", msg ? msg : text);
    if (msg) {
        cJSON_AddStringToObject(j, "reason", "InternalError");
    } else {
        char code[16];
        snprintf(code, sizeof(code), "%d", exit_code);
        cJSON_AddStringToObject(j, "reason", "NonZeroExitCode");
        cJSON *causes = cJSON_AddArrayToObject(cJSON_AddObjectToObject(j, "details"), "causes");
        cJSON *cause = cJSON_CreateObject();
        cJSON_AddStringToObject(cause, "reason", "ExitCode");
        cJSON_AddStringToObject(cause, "message", code);
        cJSON_AddItemToArray(causes, cause);
    }
    char *s = cJSON_PrintUnformatted(j);
    buf_puts(out, s);
    cJSON_free(s);
    cJSON_Delete(j);
}

/* The output is all read (or the drain time is up): the exit goes to the client, and the
 * session ends. */
static void finish_exit(struct stream_proc *p)
{
    if (p->released)
        return;
    struct stream_conn *c = p->c;
    if (c) {
        struct buf st = {0};
        stream_rc_status(c->version, p->exit_code, p->exit_msg, &st);
        if (st.len)
            stream_chan_send(c, CH_ERROR, st.data, st.len);
        buf_done(&st);
        for (int ch = CH_STDOUT; ch <= CH_ERROR; ch++)
            stream_chan_close(c, ch);
        stream_chan_finish(c);
    }
    release(p);
}

static void on_drain_timeout(uv_timer_t *t)
{
    finish_exit(t->data); /* a process the command left behind holds its output open */
}

void stream_proc_exit(struct stream_proc *p, int exit_code, const char *msg)
{
    if (p->ended || p->released)
        return;
    p->ended = true;
    p->exit_code = exit_code;
    p->exit_msg = msg ? xstrdup(msg) : NULL;
    release_backend(p); /* the backend is done with p, even if the client is not yet */
    close_in(p);
    if (!p->out.open && !p->err.open) {
        finish_exit(p);
        return;
    }
    /* What the process wrote is read as before, under the client's backpressure, until EOF; a
     * process it left behind with the pipes open (`yes &`) gets drain_ms, as containerd's
     * drain_exec_sync_io_timeout does. */
    uv_timer_init(p->srv->loop, &p->drain);
    p->drain.data = p;
    p->drain_open = true;
    p->handles++;
    uv_timer_start(&p->drain, on_drain_timeout, p->srv->exec_drain_ms, 0);
}

void stream_proc_set_backend(struct stream_proc *p, void *backend)
{
    p->backend = backend;
}

void *stream_proc_backend(const struct stream_proc *p)
{
    return p->backend;
}

enum stream_kind stream_proc_kind(const struct stream_proc *p)
{
    return p->kind;
}
