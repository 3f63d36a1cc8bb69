/* Unit tests for reactor/'s connections: bytes in and out with the queued count, the finish (our
 * FIN, then close at the peer's EOF or after the linger), a refused connection, and callbacks
 * once each, so that the loop closes with no handle left. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "reactor/reactor.h"

struct side {
    uv_loop_t loop;
    char dir[64], path[96];
    struct reactor_listener *l;
    struct reactor_conn *conn;
    bool refuse, echo_and_finish;
    uint64_t linger_ms;
    char got[64];
    size_t got_len;
    int accepts, writable, closes, closed, listener_done;
    size_t queued_after_write;
    /* the client */
    uv_pipe_t client;
    uv_connect_t connect;
    uv_write_t write;
    bool client_reads;
    char client_got[64];
    size_t client_got_len;
    bool client_eof;
    uint64_t closed_at, finished_at;
};

static void on_data(void *data, const uint8_t *bytes, size_t len)
{
    struct side *s = data;
    assert_true(s->got_len + len <= sizeof(s->got));
    memcpy(s->got + s->got_len, bytes, len);
    s->got_len += len;
    if (s->echo_and_finish && s->got_len >= 4) {
        reactor_conn_write(s->conn, "pong", 4);
        s->queued_after_write = reactor_conn_queued(s->conn);
        reactor_conn_finish(s->conn, s->linger_ms);
        s->finished_at = uv_now(&s->loop);
        reactor_conn_read_pause(s->conn); /* refused once finishing: the peer's EOF is awaited */
    }
}

static void on_writable(void *data)
{
    ((struct side *)data)->writable++;
}

static void on_close(void *data)
{
    ((struct side *)data)->closes++;
}

static void on_client_closed(uv_handle_t *h)
{
}

static void on_closed(void *data)
{
    struct side *s = data;
    s->closed++;
    s->closed_at = uv_now(&s->loop);
    if (!uv_is_closing((uv_handle_t *)&s->client))
        uv_close((uv_handle_t *)&s->client, on_client_closed);
}

static const struct reactor_conn_ops ops = {
    .data = on_data, .writable = on_writable, .close = on_close, .closed = on_closed};

static void on_listener_done(void *data)
{
    ((struct side *)data)->listener_done++;
}

static void *on_accept(void *data, struct reactor_conn *c)
{
    struct side *s = data;
    s->accepts++;
    reactor_listener_close(s->l, on_listener_done, s); /* one connection per test */
    if (s->refuse)
        return NULL;
    s->conn = c;
    struct sockaddr_storage peer;
    reactor_conn_peer(c, &peer);
    assert_int_equal(peer.ss_family, 0); /* a unix socket */
    return s;
}

static void on_client_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    static char buffer[256];
    *b = uv_buf_init(buffer, sizeof(buffer));
}

static void on_client_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    struct side *s = container_of((uv_pipe_t *)st, struct side, client);
    if (n > 0) {
        memcpy(s->client_got + s->client_got_len, b->base, (size_t)n);
        s->client_got_len += (size_t)n;
    } else if (n < 0) {
        s->client_eof = true;
        if (!uv_is_closing((uv_handle_t *)st))
            uv_close((uv_handle_t *)st, on_client_closed);
    }
}

static void on_client_written(uv_write_t *w, int status)
{
    /* A refused connection may be gone before the write. */
}

static void on_connected(uv_connect_t *req, int status)
{
    struct side *s = container_of(req, struct side, connect);
    assert_int_equal(status, 0);
    uv_buf_t b = uv_buf_init((char *)"ping", 4);
    assert_int_equal(uv_write(&s->write, (uv_stream_t *)&s->client, &b, 1, on_client_written), 0);
    if (s->client_reads)
        uv_read_start((uv_stream_t *)&s->client, on_client_alloc, on_client_read);
}

static void run(struct side *s)
{
    uv_loop_init(&s->loop);
    snprintf(s->dir, sizeof(s->dir), "/tmp/crib-conn-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    snprintf(s->path, sizeof(s->path), "%s/sock", s->dir);
    struct reactor_listener_config cfg = {.path = s->path, .mode = 0600, .backlog = 8};
    assert_int_equal(reactor_listener_start(&s->loop, &cfg, &ops, on_accept, s, &s->l), 0);
    uv_pipe_init(&s->loop, &s->client, 0);
    uv_pipe_connect(&s->connect, &s->client, s->path, on_connected);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&s->loop), 0);
    unlink(s->path);
    rmdir(s->dir);
    assert_int_equal(s->accepts, 1);
    assert_int_equal(s->listener_done, 1);
}

/* The peer reads our answer and the FIN, then closes: we close at its EOF, not at the linger. */
static void test_echo_finish_peer_closes(void **state)
{
    struct side *s = calloc(1, sizeof(*s));
    s->echo_and_finish = s->client_reads = true;
    s->linger_ms = 60000;
    run(s);
    assert_int_equal(s->got_len, 4);
    assert_memory_equal(s->got, "ping", 4);
    assert_int_equal(s->queued_after_write, 4);
    assert_int_equal(s->writable, 1);
    assert_int_equal(s->client_got_len, 4);
    assert_memory_equal(s->client_got, "pong", 4);
    assert_true(s->client_eof);
    assert_int_equal(s->closes, 1);
    assert_int_equal(s->closed, 1);
    assert_true(s->closed_at - s->finished_at < 60000);
    free(s);
}

/* A peer that never closes is closed after the linger. */
static void test_linger_ends_a_silent_peer(void **state)
{
    struct side *s = calloc(1, sizeof(*s));
    s->echo_and_finish = true;
    s->linger_ms = 50;
    run(s);
    assert_int_equal(s->closes, 1);
    assert_int_equal(s->closed, 1);
    assert_true(s->closed_at - s->finished_at >= 50);
    free(s);
}

/* A refused connection is closed with no callback. */
static void test_refused(void **state)
{
    struct side *s = calloc(1, sizeof(*s));
    s->refuse = s->client_reads = true;
    run(s);
    assert_true(s->client_eof);
    assert_int_equal(s->got_len, 0);
    assert_int_equal(s->closes + s->closed + s->writable, 0);
    free(s);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as cribd: a write to a refused connection fails with EPIPE */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_finish_peer_closes),
        cmocka_unit_test(test_linger_ends_a_silent_peer),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
