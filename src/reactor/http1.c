/* HTTP/1.1 over llhttp: the request parser (caps, the target, headers for who wants them), the
 * CRI socket's sessions above it, whose requests are routed and answered in order, and the
 * responses. The streaming server parses its upgrade request with the same parser. */
#include <errno.h>
#include <string.h>

#include <llhttp.h>

#include "common/macro.h"
#include "reactor/http1.h"

/* ---- the request parser ---- */

struct reactor_http1_parser {
    llhttp_t ll;
    const struct reactor_http1_parser_ops *ops;
    void *data;
    struct buf target;
    struct buf name, value; /* the header under way, with ops->header only */
    size_t header_bytes;
    size_t body_bytes;
    int status; /* the first rule the request broke, 0 if none */
};

static struct reactor_http1_parser *from_llhttp(llhttp_t *ll)
{
    return container_of(ll, struct reactor_http1_parser, ll);
}

/* The request broke a rule: the first status counts. */
static int refuse(struct reactor_http1_parser *p, int status)
{
    if (!p->status)
        p->status = status;
    return p->ops->stop_at_error ? HPE_USER : 0;
}

static const char *terminated(struct buf *b)
{
    buf_append(b, "", 0);
    return (const char *)b->data;
}

static int on_message_begin(llhttp_t *ll)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    p->target.len = 0;
    p->name.len = 0;
    p->value.len = 0;
    p->header_bytes = 0;
    p->body_bytes = 0;
    p->status = 0;
    return 0;
}

static int on_url(llhttp_t *ll, const char *at, size_t len)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    if (p->target.len + len > p->ops->max_target)
        return refuse(p, 414);
    buf_append(&p->target, at, len);
    return 0;
}

static int count_header(struct reactor_http1_parser *p, size_t len)
{
    p->header_bytes += len;
    return p->header_bytes > p->ops->max_headers ? refuse(p, 431) : 0;
}

static int on_header_field(llhttp_t *ll, const char *at, size_t len)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    int r = count_header(p, len);
    if (p->ops->header && !p->status)
        buf_append(&p->name, at, len);
    return r;
}

static int on_header_value(llhttp_t *ll, const char *at, size_t len)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    int r = count_header(p, len);
    if (!p->ops->header || p->status)
        return r;
    if (p->value.len + len > p->ops->max_value)
        return refuse(p, 431);
    buf_append(&p->value, at, len);
    return 0;
}

static int on_header_value_complete(llhttp_t *ll)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    int r = 0;
    if (p->ops->header && !p->status) {
        if (p->value.len && memchr(p->value.data, '\0', p->value.len))
            r = refuse(p, 400); /* it could not be handed over as a string */
        else
            p->ops->header(p->data, terminated(&p->name), terminated(&p->value), p->value.len);
    }
    p->name.len = 0;
    p->value.len = 0;
    return r;
}

static int on_body(llhttp_t *ll, const char *at, size_t len)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    if (!p->ops->max_body)
        return refuse(p, 400); /* none may come */
    p->body_bytes += len;
    return p->body_bytes > p->ops->max_body ? refuse(p, 413) : 0;
}

static int on_message_complete(llhttp_t *ll)
{
    struct reactor_http1_parser *p = from_llhttp(ll);
    struct reactor_http1_message m = {
        .method = llhttp_method_name((llhttp_method_t)ll->method),
        .target = terminated(&p->target),
        .target_len = p->target.len,
        .header_bytes = p->header_bytes,
        .keep_alive = llhttp_should_keep_alive(ll),
        .status = p->status,
    };
    return p->ops->complete(p->data, &m) ? HPE_PAUSED : 0;
}

/* llhttp keeps a pointer to it: one table for every parser. */
static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

static void parser_init(struct reactor_http1_parser *p, const struct reactor_http1_parser_ops *ops,
                        void *data)
{
    memset(p, 0, sizeof(*p));
    llhttp_init(&p->ll, HTTP_REQUEST, &settings);
    p->ops = ops;
    p->data = data;
}

static void parser_done(struct reactor_http1_parser *p)
{
    buf_done(&p->target);
    buf_done(&p->name);
    buf_done(&p->value);
}

struct reactor_http1_parser *reactor_http1_parser_new(const struct reactor_http1_parser_ops *ops,
                                                      void *data)
{
    struct reactor_http1_parser *p = xmalloc(sizeof(*p));
    parser_init(p, ops, data);
    return p;
}

void reactor_http1_parser_free(struct reactor_http1_parser *p)
{
    if (!p)
        return;
    parser_done(p);
    free(p);
}

int reactor_http1_parser_feed(struct reactor_http1_parser *p, const uint8_t *data, size_t len,
                              size_t *ret_used)
{
    *ret_used = 0;
    llhttp_errno_t e = llhttp_execute(&p->ll, (const char *)data, len);
    if (e == HPE_OK) {
        *ret_used = len;
        return 0;
    }
    if (e == HPE_PAUSED || e == HPE_PAUSED_UPGRADE) {
        const char *pos = llhttp_get_error_pos(&p->ll);
        size_t used = pos ? (size_t)(pos - (const char *)data) : len;
        *ret_used = used < len ? used : len;
        return 1;
    }
    if (!p->status)
        p->status = 400;
    return -EPROTO;
}

int reactor_http1_parser_status(const struct reactor_http1_parser *p)
{
    return p->status;
}

/* ---- responses ---- */

static const char *reason(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Payload Too Large";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
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

/* ---- sessions: the CRI socket's requests, routed and answered in order ---- */

struct http1_session {
    struct reactor_http1_parser parser;
    http1_handler_fn fn;
    void *data;
    struct buf *out; /* where responses go during a feed */
    bool close;
};

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

static void route(struct http1_session *s, const char *method, bool head)
{
    struct buf *t = &s->parser.target; /* NUL-terminated: ours to cut at the query */
    char *target = (char *)t->data;
    if (!target || target[0] != '/') {
        put_error(s, 400);
        return;
    }
    char *q = strchr(target, '?');
    if (q)
        *q++ = '\0';
    if (strlen(target) != t->len - (q ? strlen(q) + 1 : 0)) {
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

static bool on_request(void *data, const struct reactor_http1_message *m)
{
    struct http1_session *s = data;
    if (!m->keep_alive)
        s->close = true;
    if (m->status) {
        s->close = true;
        put_error(s, m->status);
    } else {
        route(s, m->method, strcmp(m->method, "HEAD") == 0);
    }
    return s->close; /* stop: nothing after this request is read */
}

static const struct reactor_http1_parser_ops session_ops = {
    .max_target = HTTP1_MAX_TARGET,
    .max_headers = HTTP1_MAX_HEADERS,
    .max_body = HTTP1_MAX_BODY,
    /* Requests are answered in turn: one over a cap is read to its end and answered then. */
    .stop_at_error = false,
    .complete = on_request,
};

struct http1_session *reactor_http1_session_new(http1_handler_fn fn, void *data)
{
    struct http1_session *s = xcalloc(1, sizeof(*s));
    parser_init(&s->parser, &session_ops, s);
    s->fn = fn;
    s->data = data;
    return s;
}

void reactor_http1_session_free(struct http1_session *s)
{
    if (!s)
        return;
    parser_done(&s->parser);
    free(s);
}

int reactor_http1_session_feed(struct http1_session *s, const uint8_t *data, size_t len,
                               struct buf *out)
{
    if (s->close)
        return 1;
    s->out = out;
    size_t used;
    int r = reactor_http1_parser_feed(&s->parser, data, len, &used);
    if (r == 1) {
        /* After a request that closes, or an upgrade (answered already; no protocol switch on
         * this socket). */
        s->close = true;
    } else if (r < 0) {
        s->close = true;
        put_error(s, 400);
    }
    s->out = NULL;
    return s->close ? 1 : 0;
}
