/* Shared between the reactor's files: a client connection on the CRI socket and the server, TLS
 * under a connection. */
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

/* A client of the CRI socket: the protocol above a connection (conn.c). */
struct conn {
    struct reactor_conn *rc;
    struct reactor_server *srv;
    enum conn_proto proto;
    struct buf sniff; /* first bytes, until the protocol is known */
    struct grpc_session *h2;
    struct http1_session *http1;
    bool closing;
    bool close_after_write;       /* HTTP/1.1 "Connection: close" */
    struct http1_reply *awaiting; /* a response the router sends later */
    struct conn *prev, *next;     /* the server's list */
};

struct reactor_server {
    uv_loop_t *loop;
    struct reactor_listener *listener;
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
void reactor_server_conn_write(struct conn *c, const uint8_t *data, size_t len);
void reactor_server_conn_close(struct conn *c);
void reactor_server_conn_read_pause(struct conn *c);
void reactor_server_conn_read_resume(struct conn *c);
/* Called by protocols when a connection may have gone idle (for draining). */
void reactor_server_conn_idle_check(struct conn *c);

/* TLS per connection (tls.c) */
struct reactor_tls_conn;
struct reactor_tls_conn *reactor_tls_conn_new(struct reactor_tls *t);
void reactor_tls_conn_free(struct reactor_tls_conn *tc);
/* Ciphertext from the peer: plaintext for us into plain, records to send back (handshake)
 * into cipher. -EPIPE at the peer's close_notify, -EPROTO when TLS fails. */
int reactor_tls_feed(struct reactor_tls_conn *tc, const uint8_t *data, size_t len,
                     struct buf *plain, struct buf *cipher);
int reactor_tls_write(struct reactor_tls_conn *tc, const void *data, size_t len,
                      struct buf *cipher);
void reactor_tls_close(struct reactor_tls_conn *tc, struct buf *cipher);

/* HTTP/2 (grpc.c) */
#define CONN_WRITE_HIGH (256u * 1024)
struct grpc_session *reactor_grpc_session_new(struct conn *c);
int reactor_grpc_session_feed(struct grpc_session *s, const uint8_t *data, size_t len);
void reactor_grpc_session_flush(struct grpc_session *s);
void reactor_grpc_session_drain(struct grpc_session *s);
bool reactor_grpc_session_idle(struct grpc_session *s);
/* The connection is gone: cancel every call, free the session. */
void reactor_grpc_session_free(struct grpc_session *s);

#endif
