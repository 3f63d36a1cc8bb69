/* The streaming server's HTTP/1.1 side: the upgrade request, parsed with reactor/'s HTTP/1.1
 * parser (only the headers the handshake needs are kept, every size capped), protocol negotiation
 * and the WebSocket accept key. Pure: bytes in, fields out. */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>

#include "common/base64.h"
#include "common/macro.h"
#include "stream/stream-internal.h"

#define VALUE_MAX 4096

static void set_once(char **dst, const char *value, size_t len)
{
    if (*dst)
        return; /* the first one counts */
    *dst = xstrndup(value, len);
}

static void add_list(struct buf *list, const char *value, size_t len)
{
    if (list->len)
        buf_append(list, ",", 1);
    buf_append(list, value, len);
}

static void on_header(void *data, const char *name, const char *value, size_t len)
{
    struct stream_handshake *hs = data;
    if (strcasecmp(name, "upgrade") == 0)
        set_once(&hs->upgrade, value, len);
    else if (strcasecmp(name, "connection") == 0)
        set_once(&hs->connection, value, len);
    else if (strcasecmp(name, "sec-websocket-key") == 0)
        set_once(&hs->ws_key, value, len);
    else if (strcasecmp(name, "sec-websocket-version") == 0)
        set_once(&hs->ws_version, value, len);
    else if (strcasecmp(name, "sec-websocket-protocol") == 0)
        add_list(&hs->ws_protocols, value, len);
    else if (strcasecmp(name, "x-stream-protocol-version") == 0)
        add_list(&hs->protocols, value, len);
}

static bool on_request(void *data, const struct reactor_http1_message *m)
{
    struct stream_handshake *hs = data;
    hs->complete = true;
    hs->method = xstrdup(m->method);
    buf_append(&hs->target, m->target, m->target_len);
    hs->header_bytes = m->header_bytes;
    return true; /* what follows belongs to the upgraded protocol */
}

static const struct reactor_http1_parser_ops upgrade_request = {
    .max_target = STREAM_HS_MAX_TARGET,
    .max_headers = STREAM_HS_MAX_HEADERS,
    .max_body = 0, /* an upgrade request has no body */
    .max_value = VALUE_MAX,
    .stop_at_error = true,
    .header = on_header,
    .complete = on_request,
};

void stream_handshake_init(struct stream_handshake *hs)
{
    memset(hs, 0, sizeof(*hs));
    hs->parser = reactor_http1_parser_new(&upgrade_request, hs);
}

void stream_handshake_done(struct stream_handshake *hs)
{
    reactor_http1_parser_free(hs->parser);
    buf_done(&hs->target);
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
    int r = reactor_http1_parser_feed(hs->parser, data, len, consumed);
    if (r < 0)
        hs->status = reactor_http1_parser_status(hs->parser);
    return r;
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

void stream_http_error(struct buf *out, int status, const char *msg)
{
    struct buf body = {0};
    buf_printf(&body, "%s\n", msg);
    reactor_http1_write_response(out, status, "text/plain; charset=utf-8", &body, false, true);
    buf_done(&body);
}
