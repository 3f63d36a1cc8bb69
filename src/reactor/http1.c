/* HTTP/1.1 requests parsed with llhttp; each complete request is routed and answered in order. */
#include <string.h>

#include <llhttp.h>

#include "common/macro.h"
#include "reactor/http1.h"

struct http1_session {
    llhttp_t parser;
    llhttp_settings_t settings;
    http1_handler_fn fn;
    void *data;
    struct buf target;
    size_t header_bytes;
    size_t body_bytes;
    int reject;      /* status to answer instead of routing (413, 414, 431), 0 if none */
    struct buf *out; /* where responses go during a feed */
    bool close;
};

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    default:
        return "Unknown";
    }
}

void reactor_http1_write_response(struct buf *out, int status, const char *type,
                                  const struct buf *body, bool head, bool close)
{
    size_t len = body ? body->len : 0;
    buf_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n", status,
               reason(status), type, len, close ? "Connection: close\r\n" : "");
    if (len && !head)
        buf_append(out, body->data, len);
}

static void put_response(struct http1_session *s, int status, const char *type,
                         const struct buf *body, bool head)
{
    reactor_http1_write_response(s->out, status, type, body, head, s->close);
}

static void put_error(struct http1_session *s, int status)
{
    struct buf body = {0};
    buf_printf(&body, "%d %s\n", status, reason(status));
    put_response(s, status, "text/plain; charset=utf-8", &body, false);
    buf_done(&body);
}

static struct http1_session *from_parser(llhttp_t *p)
{
    return container_of(p, struct http1_session, parser);
}

static int on_message_begin(llhttp_t *p)
{
    struct http1_session *s = from_parser(p);
    s->target.len = 0;
    s->header_bytes = 0;
    s->body_bytes = 0;
    s->reject = 0;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct http1_session *s = from_parser(p);
    if (s->target.len + len > HTTP1_MAX_TARGET) {
        s->reject = 414;
        return 0;
    }
    buf_append(&s->target, at, len);
    return 0;
}

static int on_header_bytes(llhttp_t *p, const char *at, size_t len)
{
    struct http1_session *s = from_parser(p);
    s->header_bytes += len;
    if (s->header_bytes > HTTP1_MAX_HEADERS && !s->reject)
        s->reject = 431;
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http1_session *s = from_parser(p);
    s->body_bytes += len;
    if (s->body_bytes > HTTP1_MAX_BODY && !s->reject)
        s->reject = 413;
    return 0;
}

static void route(struct http1_session *s, const char *method, bool head)
{
    char *target = (char *)s->target.data;
    if (!target || target[0] != '/') {
        put_error(s, 400);
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (strlen(target) != s->target.len - (q ? strlen(q) + 1 : 0)) {
        put_error(s, 400); /* a NUL inside the target */
        return;
    }
    struct http1_request req = {.method = method, .path = target, .query = q ? q : ""};
    struct http1_response resp = {.status = 404, .content_type = "text/plain; charset=utf-8"};
    s->fn(s->data, &req, &resp);
    if (resp.status == 0) {
        /* Answered later by the server (reactor_http1_reply_send): read no further requests. */
        s->close = true;
        buf_done(&resp.body);
        return;
    }
    if (resp.status >= 400 && resp.body.len == 0)
        buf_printf(&resp.body, "%d %s\n", resp.status, reason(resp.status));
    put_response(s, resp.status, resp.content_type, &resp.body, head);
    buf_done(&resp.body);
}

static int on_message_complete(llhttp_t *p)
{
    struct http1_session *s = from_parser(p);
    if (!llhttp_should_keep_alive(p))
        s->close = true;
    const char *method = llhttp_method_name((llhttp_method_t)p->method);
    buf_append(&s->target, "", 0); /* NUL-terminate */
    if (s->reject) {
        s->close = true;
        put_error(s, s->reject);
    } else {
        route(s, method, p->method == HTTP_HEAD);
    }
    return s->close ? HPE_PAUSED : 0;
}

struct http1_session *reactor_http1_session_new(http1_handler_fn fn, void *data)
{
    struct http1_session *s = xcalloc(1, sizeof(*s));
    llhttp_settings_init(&s->settings);
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_bytes;
    s->settings.on_header_value = on_header_bytes;
    s->settings.on_body = on_body;
    s->settings.on_message_complete = on_message_complete;
    llhttp_init(&s->parser, HTTP_REQUEST, &s->settings);
    s->fn = fn;
    s->data = data;
    return s;
}

void reactor_http1_session_free(struct http1_session *s)
{
    if (!s)
        return;
    buf_done(&s->target);
    free(s);
}

int reactor_http1_session_feed(struct http1_session *s, const uint8_t *data, size_t len,
                               struct buf *out)
{
    if (s->close)
        return 1;
    s->out = out;
    llhttp_errno_t e = llhttp_execute(&s->parser, (const char *)data, len);
    if (e == HPE_PAUSED_UPGRADE) {
        s->close = true; /* answered already; no protocol switch on this socket */
    } else if (e != HPE_OK && e != HPE_PAUSED) {
        s->close = true;
        put_error(s, 400);
    }
    s->out = NULL;
    return s->close ? 1 : 0;
}
