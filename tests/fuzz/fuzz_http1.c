/* libFuzzer target: arbitrary bytes through the HTTP/1.1 session, split at a fuzzer-chosen point,
 * with the daemon's routing shape (200 with a body, 404 otherwise). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "reactor/http1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void handler(void *data, const struct http1_request *req, struct http1_response *resp)
{
    if (strcmp(req->path, "/info") == 0 && strcmp(req->method, "GET") == 0) {
        resp->status = 200;
        resp->content_type = "application/json";
        buf_printf(&resp->body, "{\"q\":\"%s\"}", req->query);
    } else {
        resp->status = 404;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct http1_session *s = reactor_http1_session_new(handler, NULL);
    struct buf out = {0};
    size_t split = size ? data[0] % (size + 1) : 0;
    if (reactor_http1_session_feed(s, data, split, &out) == 0)
        reactor_http1_session_feed(s, data + split, size - split, &out);
    buf_done(&out);
    reactor_http1_session_free(s);
    return 0;
}
