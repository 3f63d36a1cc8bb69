/* The streaming server's HTTP/1.1 side: the upgrade request parsed with llhttp (only the headers
 * the handshake needs are kept, every size capped), protocol negotiation and the WebSocket
 * accept key. Pure: bytes in, fields out. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "common/base64.h"
#include "common/macro.h"
#include "stream/stream-internal.h"

#define FIELD_MAX 64
#define VALUE_MAX 4096

static struct stream_handshake *from_parser(llhttp_t *p)
{
    return container_of(p, struct stream_handshake, parser);
}

static int fail(struct stream_handshake *hs, int status)
{
    if (!hs->status)
        hs->status = status;
    return HPE_USER;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    struct stream_handshake *hs = from_parser(p);
    if (hs->target.len + len > STREAM_HS_MAX_TARGET)
        return fail(hs, 414);
    buf_append(&hs->target, at, len);
    return 0;
}

static int count_header(struct stream_handshake *hs, size_t len)
{
    hs->header_bytes += len;
    return hs->header_bytes > STREAM_HS_MAX_HEADERS ? fail(hs, 431) : 0;
}

static int on_field(llhttp_t *p, const char *at, size_t len)
{
    struct stream_handshake *hs = from_parser(p);
    if (count_header(hs, len))
        return HPE_USER;
    if (hs->field.len + len <= FIELD_MAX) /* longer names are none we want */
        buf_append(&hs->field, at, len);
    else
        hs->field.len = FIELD_MAX + 1;
    return 0;
}

static int on_value(llhttp_t *p, const char *at, size_t len)
{
    struct stream_handshake *hs = from_parser(p);
    if (count_header(hs, len))
        return HPE_USER;
    if (hs->value.len + len > VALUE_MAX)
        return fail(hs, 431);
    buf_append(&hs->value, at, len);
    return 0;
}

static bool field_is(const struct stream_handshake *hs, const char *name)
{
    return hs->field.len == strlen(name) &&
           strncasecmp((char *)hs->field.data, name, hs->field.len) == 0;
}

static void set_once(char **dst, const struct buf *v)
{
    if (*dst)
        return; /* the first one counts */
    *dst = xstrndup((const char *)v->data ? (const char *)v->data : "", v->len);
}

static void add_list(struct buf *list, const struct buf *v)
{
    if (list->len)
        buf_append(list, ",", 1);
    buf_append(list, v->data, v->len);
}

static int on_value_complete(llhttp_t *p)
{
    struct stream_handshake *hs = from_parser(p);
    if (memchr(hs->value.data, '\0', hs->value.len))
        return fail(hs, 400);
    if (field_is(hs, "upgrade"))
        set_once(&hs->upgrade, &hs->value);
    else if (field_is(hs, "connection"))
        set_once(&hs->connection, &hs->value);
    else if (field_is(hs, "sec-websocket-key"))
        set_once(&hs->ws_key, &hs->value);
    else if (field_is(hs, "sec-websocket-version"))
        set_once(&hs->ws_version, &hs->value);
    else if (field_is(hs, "sec-websocket-protocol"))
        add_list(&hs->ws_protocols, &hs->value);
    else if (field_is(hs, "x-stream-protocol-version"))
        add_list(&hs->protocols, &hs->value);
    hs->field.len = 0;
    hs->value.len = 0;
    return 0;
}

static int on_headers_complete(llhttp_t *p)
{
    struct stream_handshake *hs = from_parser(p);
    hs->method = xstrdup(llhttp_method_name((llhttp_method_t)p->method));
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    return fail(from_parser(p), 400); /* an upgrade request has no body */
}

static int on_message_complete(llhttp_t *p)
{
    struct stream_handshake *hs = from_parser(p);
    hs->complete = true;
    buf_append(&hs->target, "", 1);
    hs->target.len--;
    return HPE_PAUSED;
}

void stream_handshake_init(struct stream_handshake *hs)
{
    memset(hs, 0, sizeof(*hs));
    llhttp_settings_init(&hs->settings);
    hs->settings.on_url = on_url;
    hs->settings.on_header_field = on_field;
    hs->settings.on_header_value = on_value;
    hs->settings.on_header_value_complete = on_value_complete;
    hs->settings.on_headers_complete = on_headers_complete;
    hs->settings.on_body = on_body;
    hs->settings.on_message_complete = on_message_complete;
    llhttp_init(&hs->parser, HTTP_REQUEST, &hs->settings);
}

void stream_handshake_done(struct stream_handshake *hs)
{
    buf_done(&hs->target);
    buf_done(&hs->field);
    buf_done(&hs->value);
    buf_done(&hs->ws_protocols);
    buf_done(&hs->protocols);
    free(hs->method);
    free(hs->upgrade);
    free(hs->connection);
    free(hs->ws_key);
    free(hs->ws_version);
    memset(hs, 0, sizeof(*hs));
}

int stream_handshake_feed(struct stream_handshake *hs, const uint8_t *data, size_t len,
                          size_t *consumed)
{
    *consumed = 0;
    if (hs->complete)
        return 1;
    if (hs->status)
        return -EPROTO;
    llhttp_errno_t e = llhttp_execute(&hs->parser, (const char *)data, len);
    if (hs->complete) {
        const char *pos = llhttp_get_error_pos(&hs->parser);
        *consumed = pos ? (size_t)(pos - (const char *)data) : len;
        if (*consumed > len)
            *consumed = len;
        return 1;
    }
    if (e == HPE_OK) {
        *consumed = len;
        return 0;
    }
    if (!hs->status)
        hs->status = 400;
    return -EPROTO;
}

void stream_handshake_target(const struct stream_handshake *hs, const char **ret_path,
                             const char **ret_query)
{
    const char *t = hs->target.data ? (const char *)hs->target.data : "";
    const char *q = strchr(t, '?');
    *ret_path = t;
    *ret_query = q ? q + 1 : "";
}

/* The next comma-separated item of *p, trimmed, into item (capped); false at the end. */
static bool next_item(const char **p, char *item, size_t cap)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t' || *s == ',')
        s++;
    if (!*s)
        return false;
    const char *e = s;
    while (*e && *e != ',')
        e++;
    *p = e;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - s);
    if (n >= cap)
        n = 0; /* too long to be one of ours */
    memcpy(item, s, n);
    item[n] = '\0';
    return true;
}

const char *stream_protocol_pick(const char *client_list, const char *const *supported)
{
    char item[64];
    const char *p = client_list ? client_list : "";
    while (next_item(&p, item, sizeof(item)))
        for (size_t i = 0; supported[i]; i++)
            if (strcmp(item, supported[i]) == 0)
                return supported[i];
    return NULL;
}

void stream_ws_accept(const char *key, char ret[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char md[SHA_DIGEST_LENGTH];
    struct buf in = {0};
    buf_puts(&in, key);
    buf_append(&in, guid, sizeof(guid) - 1);
    SHA1(in.data, in.len, md);
    buf_done(&in);
    base64_encode_to(md, SHA_DIGEST_LENGTH, ret);
}

static const char *reason(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 414:
        return "URI Too Long";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 503:
        return "Service Unavailable";
    default:
        return "Error";
    }
}

void stream_http_error(struct buf *out, int status, const char *msg)
{
    size_t len = strlen(msg) + 1;
    buf_printf(out,
               "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
               "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
               status, reason(status), len, msg);
}
