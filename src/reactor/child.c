/* Child processes with captured output and a timeout: uv_spawn, two pipes, a timer. The caller's
 * callback runs once every handle is closed. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "reactor/reactor.h"

#define CHILD_OUT_MAX (64u * 1024)
#define CHILD_KILL_GRACE_MS 2000

struct child_stream {
    uv_pipe_t pipe;
    struct buf data;
    struct reactor_child *child;
};

struct reactor_child {
    uv_process_t proc;
    uv_pipe_t in;
    uv_write_t in_write;
    uv_shutdown_t in_shutdown;
    char *in_data;
    struct child_stream out, err;
    uv_timer_t timer;
    int open_handles;
    bool exited;
    bool timed_out;
    bool cancelled;
    bool term_sent;
    int64_t exit_status;
    int term_signal;
    int spawn_error;
    size_t out_max;
    bool truncated;
    reactor_child_cb cb;
    void *data;
};

static void finish(struct reactor_child *c)
{
    struct reactor_child_result res = {
        .exit_status = c->term_signal ? -1 : c->exit_status,
        .term_signal = c->term_signal,
        .timed_out = c->timed_out,
        .truncated = c->truncated,
    };
    buf_append(&c->out.data, "", 0);
    buf_append(&c->err.data, "", 0);
    res.out = (const char *)c->out.data.data;
    res.out_len = c->out.data.len;
    res.err_out = (const char *)c->err.data.data;
    res.err_len = c->err.data.len;
    if (!c->spawn_error)
        c->cb(c->cancelled ? -ECANCELED : 0, c->cancelled ? NULL : &res, c->data);
    buf_done(&c->out.data);
    buf_done(&c->err.data);
    free(c->in_data);
    free(c);
}

static void on_handle_close(uv_handle_t *h)
{
    struct reactor_child *c = h->data;
    if (--c->open_handles == 0)
        finish(c);
}

static void close_handle(struct reactor_child *c, uv_handle_t *h)
{
    if (!uv_is_closing(h)) {
        h->data = c;
        uv_close(h, on_handle_close);
    }
}

static void maybe_close_timer(struct reactor_child *c)
{
    if (c->exited && uv_is_closing((uv_handle_t *)&c->out.pipe) &&
        uv_is_closing((uv_handle_t *)&c->err.pipe))
        close_handle(c, (uv_handle_t *)&c->timer);
}

static void on_timer(uv_timer_t *t);

static void on_child_exit(uv_process_t *p, int64_t status, int sig)
{
    struct reactor_child *c = container_of(p, struct reactor_child, proc);
    c->exited = true;
    c->exit_status = status;
    c->term_signal = sig;
    close_handle(c, (uv_handle_t *)&c->proc);
    /* The pipes close at EOF, so output written just before exit is not lost; a grandchild that
     * keeps them open gets a second before they are closed anyway. */
    uv_timer_start(&c->timer, on_timer, 1000, 0);
    maybe_close_timer(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[16384]; /* one loop thread: on_read consumes it before the next alloc */
    b->base = buffer;
    b->len = sizeof(buffer);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    struct child_stream *cs = container_of((uv_pipe_t *)s, struct child_stream, pipe);
    if (n < 0) {
        close_handle(cs->child, (uv_handle_t *)&cs->pipe);
        maybe_close_timer(cs->child);
        return;
    }
    size_t room = cs->child->out_max - cs->data.len;
    if ((size_t)n > room)
        cs->child->truncated = true;
    buf_append(&cs->data, b->base, (size_t)n < room ? (size_t)n : room);
}

static void on_timer(uv_timer_t *t)
{
    struct reactor_child *c = container_of(t, struct reactor_child, timer);
    if (c->exited) {
        close_handle(c, (uv_handle_t *)&c->out.pipe);
        close_handle(c, (uv_handle_t *)&c->err.pipe);
        close_handle(c, (uv_handle_t *)&c->timer);
        return;
    }
    if (!c->term_sent) {
        c->term_sent = true;
        c->timed_out = true;
        uv_process_kill(&c->proc, SIGTERM);
        uv_timer_start(&c->timer, on_timer, CHILD_KILL_GRACE_MS, 0);
    } else {
        uv_process_kill(&c->proc, SIGKILL);
    }
}

static void on_stdin_shutdown(uv_shutdown_t *req, int status)
{
    struct reactor_child *c = container_of(req, struct reactor_child, in_shutdown);
    close_handle(c, (uv_handle_t *)&c->in);
}

static void on_stdin_written(uv_write_t *req, int status)
{
    struct reactor_child *c = container_of(req, struct reactor_child, in_write);
    /* A child that exits without reading its input is not an error here. */
    if (status < 0 || uv_shutdown(&c->in_shutdown, (uv_stream_t *)&c->in, on_stdin_shutdown) < 0)
        close_handle(c, (uv_handle_t *)&c->in);
}

static struct reactor_child *child_new(uv_loop_t *loop, const struct reactor_child_opts *o,
                                       reactor_child_cb cb, void *data)
{
    struct reactor_child *c = xcalloc(1, sizeof(*c));
    c->cb = cb;
    c->data = data;
    c->out.child = c->err.child = c;
    c->out_max = o->out_max ? o->out_max : CHILD_OUT_MAX;
    uv_pipe_init(loop, &c->in, 0);
    uv_pipe_init(loop, &c->out.pipe, 0);
    uv_pipe_init(loop, &c->err.pipe, 0);
    uv_timer_init(loop, &c->timer);
    return c;
}

/* Each of stdin, stdout and stderr: the caller's fd when it gave one (given[i]), else a pipe of
 * ours (stdin only when there is input to write, else nothing). */
static void set_stdio(struct reactor_child *c, const struct reactor_child_opts *o,
                      uv_stdio_container_t stdio[3], bool given[3])
{
    stdio[0] = (uv_stdio_container_t){.flags = o->stdin_data ? UV_CREATE_PIPE | UV_READABLE_PIPE
                                                             : UV_IGNORE,
                                      .data.stream = (uv_stream_t *)&c->in};
    stdio[1] = (uv_stdio_container_t){.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
                                      .data.stream = (uv_stream_t *)&c->out.pipe};
    stdio[2] = (uv_stdio_container_t){.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE,
                                      .data.stream = (uv_stream_t *)&c->err.pipe};
    for (int i = 0; i < 3; i++)
        given[i] = false;
    for (int i = 0; o->stdio_fds && i < 3; i++) {
        if (o->stdio_fds[i] >= 0) {
            stdio[i].flags = UV_INHERIT_FD;
            stdio[i].data.fd = o->stdio_fds[i];
            given[i] = true;
        }
    }
}

/* The process handle must still be closed after a failed spawn; the last close frees c. */
static int spawn_failed(struct reactor_child *c, int r)
{
    c->spawn_error = r;
    close_handle(c, (uv_handle_t *)&c->proc);
    close_handle(c, (uv_handle_t *)&c->in);
    close_handle(c, (uv_handle_t *)&c->out.pipe);
    close_handle(c, (uv_handle_t *)&c->err.pipe);
    close_handle(c, (uv_handle_t *)&c->timer);
    return r;
}

/* The child runs: our pipes in place of the caller's fds close unused, the input is written, the
 * output read, the timeout armed. */
static void start_io(struct reactor_child *c, const struct reactor_child_opts *o,
                     const bool given[3])
{
    for (int i = 0; i < 3; i++) {
        uv_handle_t *h = i == 0   ? (uv_handle_t *)&c->in
                         : i == 1 ? (uv_handle_t *)&c->out.pipe
                                  : (uv_handle_t *)&c->err.pipe;
        if (given[i])
            close_handle(c, h);
    }
    if (given[0]) {
        /* stdin is the caller's fd */
    } else if (o->stdin_data) {
        c->in_data = xmalloc(o->stdin_len ? o->stdin_len : 1);
        memcpy(c->in_data, o->stdin_data, o->stdin_len);
        uv_buf_t b = uv_buf_init(c->in_data, (unsigned)o->stdin_len);
        if (uv_write(&c->in_write, (uv_stream_t *)&c->in, &b, 1, on_stdin_written) < 0)
            close_handle(c, (uv_handle_t *)&c->in);
    } else {
        close_handle(c, (uv_handle_t *)&c->in);
    }
    if (!given[1])
        uv_read_start((uv_stream_t *)&c->out.pipe, on_alloc, on_read);
    if (!given[2])
        uv_read_start((uv_stream_t *)&c->err.pipe, on_alloc, on_read);
    if (o->timeout_ms)
        uv_timer_start(&c->timer, on_timer, o->timeout_ms, 0);
}

int reactor_child_start(uv_loop_t *loop, const struct reactor_child_opts *o, reactor_child_cb cb,
                        void *data, struct reactor_child **ret_child)
{
    struct reactor_child *c = child_new(loop, o, cb, data);
    uv_stdio_container_t stdio[3];
    bool given[3];
    set_stdio(c, o, stdio, given);
    uv_process_options_t opts = {
        .exit_cb = on_child_exit,
        .file = o->argv[0],
        .args = (char **)o->argv,
        .env = (char **)o->env,
        .stdio_count = 3,
        .stdio = stdio,
    };
    int r = uv_spawn(loop, &c->proc, &opts);
    c->open_handles = 5;
    if (r < 0)
        return spawn_failed(c, r);
    start_io(c, o, given);
    if (ret_child)
        *ret_child = c;
    return 0;
}

int reactor_child_spawn(uv_loop_t *loop, char *const *argv, uint64_t timeout_ms,
                        reactor_child_cb cb, void *data, struct reactor_child **ret_child)
{
    struct reactor_child_opts o = {.argv = argv, .timeout_ms = timeout_ms};
    return reactor_child_start(loop, &o, cb, data, ret_child);
}

void reactor_child_cancel(struct reactor_child *c)
{
    if (c->cancelled)
        return;
    c->cancelled = true;
    if (!c->exited) {
        c->term_sent = true;
        uv_process_kill(&c->proc, SIGTERM);
        uv_timer_start(&c->timer, on_timer, CHILD_KILL_GRACE_MS, 0);
    }
}
