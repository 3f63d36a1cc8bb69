/* HTTP/1.1 server side, as a pure session over the request parser (reactor.h): bytes in,
 * response bytes out. Internal to reactor/ (and its tests and fuzzers). */
#ifndef CRIB_REACTOR_HTTP1_H
#define CRIB_REACTOR_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "reactor/reactor.h"

#define HTTP1_MAX_TARGET 8192
#define HTTP1_MAX_HEADERS 16384
#define HTTP1_MAX_BODY 65536

typedef void (*http1_handler_fn)(void *data, const struct http1_request *req,
                                 struct http1_response *resp);

struct http1_session;

struct http1_session *reactor_http1_session_new(http1_handler_fn fn, void *data);
void reactor_http1_session_free(struct http1_session *s);
/* Parse request bytes and append the responses to out. Returns 0 to go on reading, 1 when the
 * connection must be closed once out is written (Connection: close, or a bad request). */
int reactor_http1_session_feed(struct http1_session *s, const uint8_t *data, size_t len,
                               struct buf *out);

#endif
