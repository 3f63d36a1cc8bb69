/* Shared between the reactor's files: a client connection on the CRI socket and the server. */
#ifndef CRIB_REACTOR_INTERNAL_H
#define CRIB_REACTOR_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/buf.h"
#include "reactor/reactor.h"

struct grpc_session;
struct http1_session;

enum conn_proto { CONN_SNIFF, CONN_H2, CONN_HTTP1 };

struct conn {
    uv_pipe_t pipe;
    struct reactor_server *srv;
    enum conn_proto proto;
    struct buf sniff; /* first bytes, until the protocol is known */
    struct grpc_session *h2;
    struct http1_session *http1;
    size_t write_pending; /* bytes handed to uv_write and not yet written */
    bool reading;
    bool closing;
    bool close_after_write;       /* HTTP/1.1 "Connection: close" */
    struct http1_reply *awaiting; /* a response the router sends later */
    struct conn *prev, *next;     /* the server's list */
};

struct reactor_server {
    uv_loop_t *loop;
    uv_pipe_t listener;
    uv_timer_t shutdown_timer;
    struct reactor_server_config cfg;
    char *path;
    struct reactor_server_ops ops;
    void *data;
    struct conn *conns;
    struct reactor_stats stats;
    bool draining;
    bool listener_closed;
    bool timer_closing;
    void (*done)(void *data);
    void *done_data;
};

/* Copy len bytes into a write request. */
void conn_write(struct conn *c, const uint8_t *data, size_t len);
void conn_close(struct conn *c);
void conn_read_pause(struct conn *c);
void conn_read_resume(struct conn *c);
/* Called by protocols when a connection may have gone idle (for draining). */
void server_conn_idle_check(struct conn *c);

/* HTTP/2 (grpc.c) */
#define CONN_WRITE_HIGH (256u * 1024)
struct grpc_session *grpc_session_new(struct conn *c);
int grpc_session_feed(struct grpc_session *s, const uint8_t *data, size_t len);
void grpc_session_flush(struct grpc_session *s);
void grpc_session_drain(struct grpc_session *s);
bool grpc_session_idle(struct grpc_session *s);
/* The connection is gone: cancel every call, free the session. */
void grpc_session_free(struct grpc_session *s);

#endif
