/* Inside the stream module: the upgrade handshake, client connections, their transports
 * (WebSocket, SPDY) and the sessions above them (remotecommand, port-forward). */
#ifndef CRIB_STREAM_INTERNAL_H
#define CRIB_STREAM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "common/buf.h"
#include "common/list.h"
#include "reactor/reactor.h"
#include "stream/stream.h"

/* ---- handshake.c: the HTTP/1.1 upgrade request, parsed without I/O (reactor/'s parser) ---- */

#define STREAM_HS_MAX_HEADERS 16384
#define STREAM_HS_MAX_TARGET 4096

struct stream_handshake {
    struct reactor_http1_parser *parser;
    struct buf target;   /* once complete: the request target, NUL-terminated */
    size_t header_bytes; /* once complete: its header names and values */
    char *method, *upgrade, *connection, *ws_key, *ws_version;
    struct buf ws_protocols; /* every Sec-WebSocket-Protocol value, comma-separated */
    struct buf protocols;    /* every X-Stream-Protocol-Version value, comma-separated */
    bool complete;
    int status; /* an HTTP error to answer with (400, 414, 431), 0 if none */
};

void stream_handshake_init(struct stream_handshake *hs);
void stream_handshake_done(struct stream_handshake *hs);
/* Feed request bytes. Returns 1 once the request is complete (*consumed says how many bytes it
 * took; the rest belong to the upgraded protocol), 0 to read more, -EPROTO when it is bad
 * (hs->status is the HTTP status to answer). */
int stream_handshake_feed(struct stream_handshake *hs, const uint8_t *data, size_t len,
                          size_t *consumed);
/* The first protocol in the client's comma-separated list that is in supported (NULL-ended);
 * NULL if none. */
const char *stream_protocol_pick(const char *client_list, const char *const *supported);
/* The Sec-WebSocket-Accept value of a key (RFC 6455 4.2.2), 28 characters. */
void stream_ws_accept(const char *key, char ret[29]);
/* The request target's path and query. */
void stream_handshake_target(const struct stream_handshake *hs, const char **ret_path,
                             const char **ret_query);
void stream_http_error(struct buf *out, int status, const char *msg);

/* ---- token.c ---- */

#define STREAM_TOKEN_LEN 43 /* 32 random bytes, base64url without padding */
#define STREAM_TOKENS_MAX 4096

struct stream_token;
struct stream_tokens {
    struct stream_token *head;
    size_t n;
};
void stream_tokens_init(struct stream_tokens *t);
void stream_tokens_done(struct stream_tokens *t);
/* Store req (taken) under a new token, valid until expires_ms (loop time). */
int stream_tokens_add(struct stream_tokens *t, struct stream_request *req, uint64_t expires_ms,
                      char ret_token[STREAM_TOKEN_LEN + 1]);
/* Take the request of a token that is valid at now_ms (removing it: single use); NULL if it is
 * unknown, used or expired. Expired tokens are dropped on the way. */
struct stream_request *stream_tokens_take(struct stream_tokens *t, const char *token,
                                          uint64_t now_ms);

/* ---- server.c: connections ---- */

/* Channel numbers, as the WebSocket protocols number them. remotecommand: */
enum { CH_STDIN = 0, CH_STDOUT = 1, CH_STDERR = 2, CH_ERROR = 3, CH_RESIZE = 4, CH_RC_MAX = 5 };
/* port-forward: 2i is the data and 2i+1 the error channel of the i-th port (or SPDY pair). */

/* Past this many bytes queued for the client, a session stops reading what it forwards. */
#define STREAM_HIGH_WATER (1u << 20)
/* An attach client this far behind is dropped (the container is never held up). */
#define STREAM_DROP_WATER (8u << 20)

enum stream_proto { PROTO_HANDSHAKE, PROTO_WS, PROTO_SPDY };

struct stream_server {
    uv_loop_t *loop;
    struct reactor_listener *listener;
    uv_timer_t sweep;
    const struct stream_ops *ops;
    void *data;
    struct stream_tokens tokens;
    struct stream_conn *conns;
    char *base_url;
    uint64_t token_ttl_ms, idle_ms;
    uint64_t handshake_ms;
    uint64_t exec_drain_ms;
    size_t max_handshakes, max_handshakes_per_peer;
    int handles;
    bool closing;
    struct stream_counters counters;
};

struct ws_conn;
struct spdy_conn;
struct pf_session;

struct stream_conn {
    struct stream_server *srv;
    struct stream_conn *prev, *next;
    struct reactor_conn *sock;    /* the socket, TLS, the write queue and the linger */
    uv_timer_t idle;              /* the handshake deadline, then the idle timeout */
    struct sockaddr_storage peer; /* ss_family 0 if unknown */
    int handles;                  /* the timer and sock */
    bool closing, finishing;
    struct stream_handshake hs;
    enum stream_proto proto;
    struct stream_request *req;
    int version; /* remotecommand protocol version: 1..5 */
    bool base64; /* WebSocket base64.channel.k8s.io */
    struct ws_conn *ws;
    struct spdy_conn *spdy;
    struct stream_proc *rc;
    struct pf_session *pf;
    bool want_drain; /* tell the session when what is queued goes low */
    bool counted;    /* its session started: in the counters */
};

/* Raw bytes to the client (through TLS when on). */
void stream_conn_write(struct stream_conn *c, const void *data, size_t len);
/* Bytes waiting to reach the client (transport queues included). */
size_t stream_conn_queued(struct stream_conn *c);
/* Close the connection once what is queued has been written. */
void stream_conn_finish(struct stream_conn *c);
/* Close it now (the session is told through its gone callback). */
void stream_conn_abort(struct stream_conn *c);
/* Stop / resume reading from the client (the process's stdin is full). */
void stream_conn_pause_input(struct stream_conn *c, bool pause);

/* A session's view of the transport: channel numbers as above. */
void stream_chan_send(struct stream_conn *c, int chan, const void *data, size_t len);
void stream_chan_close(struct stream_conn *c, int chan);
/* The session is over: end the transport (close frame, GOAWAY) and the connection. */
void stream_chan_finish(struct stream_conn *c);

/* Transport → session. */
void stream_session_start(struct stream_conn *c);
void stream_session_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len);
void stream_session_eof(struct stream_conn *c, int chan);
void stream_session_drain(struct stream_conn *c);
void stream_session_gone(struct stream_conn *c);

/* ---- ws.c ---- */
int stream_ws_open(struct stream_conn *c);
int stream_ws_feed(struct stream_conn *c, const uint8_t *data, size_t len);
void stream_ws_send(struct stream_conn *c, int chan, const void *data, size_t len);
void stream_ws_finish(struct stream_conn *c);
size_t stream_ws_queued(struct stream_conn *c);
void stream_ws_free(struct stream_conn *c);
/* The channel protocols: a message's channel byte (or digit) and payload, pure. Returns the
 * channel, or -EPROTO. Base64 payloads are decoded into out. */
int stream_ws_decode(bool base64, const uint8_t *msg, size_t len, struct buf *out);
void stream_ws_encode(bool base64, int chan, const void *data, size_t len, struct buf *out);

/* ---- spdy-conn.c ---- */
int stream_spdy_open(struct stream_conn *c);
int stream_spdy_feed(struct stream_conn *c, const uint8_t *data, size_t len);
void stream_spdy_send(struct stream_conn *c, int chan, const void *data, size_t len);
void stream_spdy_close_chan(struct stream_conn *c, int chan);
void stream_spdy_finish(struct stream_conn *c);
size_t stream_spdy_queued(struct stream_conn *c);
void stream_spdy_free(struct stream_conn *c);

/* ---- portforward.c ---- */
void stream_pf_start(struct stream_conn *c);
/* SPDY: the client opened the data or error stream of a connection to port. */
void stream_pf_stream(struct stream_conn *c, int chan, int port);
void stream_pf_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len);
void stream_pf_eof(struct stream_conn *c, int chan);
void stream_pf_drain(struct stream_conn *c);
void stream_pf_gone(struct stream_conn *c);

/* ---- remotecommand.c ---- */
void stream_rc_start(struct stream_conn *c);
void stream_rc_data(struct stream_conn *c, int chan, const uint8_t *data, size_t len);
void stream_rc_eof(struct stream_conn *c, int chan);
void stream_rc_drain(struct stream_conn *c);
void stream_rc_gone(struct stream_conn *c);
/* The error stream's content for an exit (v4+: a Status object; before: text). */
void stream_rc_status(int version, int exit_code, const char *msg, struct buf *out);
/* Parse complete {"Width":W,"Height":H} objects from buffered resize bytes; the parsed bytes
 * are removed. Returns the number of sizes found (the last one in ret_w/ret_h). */
int stream_rc_resize_parse(struct buf *b, uint16_t *ret_w, uint16_t *ret_h);

#endif
