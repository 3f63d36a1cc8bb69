/* Outgoing HTTP(S) on the loop: libcurl's multi-socket interface with its sockets watched by
 * uv_poll handles and its timeouts by a uv_timer. No thread per transfer, no blocking call. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/macro.h"
#include "reactor/reactor.h"

#define ERROR_BODY_MAX (64u * 1024)

struct reactor_http {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;  /* curl's timeout */
    uv_timer_t reaper; /* finishes cancelled requests outside curl's callbacks */
    struct reactor_http_req *reqs;
    struct http_sock *socks;
};

struct http_sock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct reactor_http *h;
    struct http_sock *prev, *next;
};

struct reactor_http_req {
    struct reactor_http *h;
    CURL *easy;
    struct curl_slist *headers;
    struct reactor_http_opts opts;
    char *url;
    reactor_http_cb cb;
    void *data;
    struct reactor_http_result res;
    char errbuf[CURL_ERROR_SIZE];
    bool cancelled;
    bool resolving; /* the host's name is being looked up (uv_getaddrinfo) */
    bool orphaned;  /* reported and detached while resolving: freed by the lookup's callback */
    uv_getaddrinfo_t gai;
    char *host, *resolve_prefix; /* the name looked up; "host:port:" */
    struct curl_slist *resolved; /* CURLOPT_RESOLVE: "host:port:addr,..." */
    bool data_failed;            /* on_data refused a chunk */
    int data_error;
    struct reactor_http_req *prev, *next;
};

static void check_done(struct reactor_http *h);

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct http_sock *s = container_of(p, struct http_sock, poll);
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    struct reactor_http *h = s->h;
    curl_multi_socket_action(h->multi, s->fd, flags, &running);
    check_done(h);
}

static void free_sock(uv_handle_t *handle)
{
    free(container_of((uv_poll_t *)handle, struct http_sock, poll));
}

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct reactor_http *h = userp;
    struct http_sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            LIST_REMOVE(h->socks, s);
            uv_poll_stop(&s->poll);
            uv_close((uv_handle_t *)&s->poll, free_sock);
            curl_multi_assign(h->multi, fd, NULL);
        }
        return 0;
    }
    if (!s) {
        s = xcalloc(1, sizeof(*s));
        s->fd = fd;
        s->h = h;
        if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
            free(s);
            return -1;
        }
        curl_multi_assign(h->multi, fd, s);
        LIST_PREPEND(h->socks, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&s->poll, events, on_poll);
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    struct reactor_http *h = container_of(t, struct reactor_http, timer);
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct reactor_http *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->timer);
    else
        uv_timer_start(&h->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static void result_done(struct reactor_http_result *r)
{
    buf_done(&r->body);
    free(r->content_type);
    free(r->www_authenticate);
    free(r->docker_content_digest);
    free(r->location);
    free(r->effective_url);
}

static void req_free(struct reactor_http_req *r)
{
    if (r->resolving) {
        r->orphaned = true; /* the lookup's callback frees it */
        uv_cancel((uv_req_t *)&r->gai);
        return;
    }
    curl_slist_free_all(r->headers);
    curl_slist_free_all(r->resolved);
    free(r->host);
    free(r->resolve_prefix);
    curl_easy_cleanup(r->easy);
    result_done(&r->res);
    free(r->url);
    free(r);
}

/* Detach from curl and report; r is freed afterwards. */
static void req_complete(struct reactor_http_req *r, CURLcode code)
{
    struct reactor_http *h = r->h;
    curl_multi_remove_handle(h->multi, r->easy);
    LIST_REMOVE(h->reqs, r);
    int status = 0;
    r->res.curl_code = (int)code;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->res.status);
    char *eff = NULL;
    if (curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK && eff)
        r->res.effective_url = xstrdup(eff);
    if (r->cancelled) {
        status = -ECANCELED;
    } else if (r->data_failed) {
        status = r->data_error;
    } else if (code != CURLE_OK) {
        status = code == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
        r->res.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(code);
    }
    r->cb(status, &r->res, r->data);
    req_free(r);
}

static void check_done(struct reactor_http *h)
{
    CURLMsg *msg;
    int pending;
    while ((msg = curl_multi_info_read(h->multi, &pending))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct reactor_http_req *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        req_complete(r, msg->data.result);
    }
}

static char *header_value(const char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return NULL;
    const char *v = line + n + 1;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    return xstrndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t n, void *userp)
{
    struct reactor_http_req *r = userp;
    size_t len = size * n;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a redirect or a 100): forget the previous one's headers. */
        result_done(&r->res);
        memset(&r->res, 0, sizeof(r->res));
        return len;
    }
    static const struct {
        const char *name;
        size_t offset;
    } wanted[] = {
        {"Content-Type", offsetof(struct reactor_http_result, content_type)},
        {"WWW-Authenticate", offsetof(struct reactor_http_result, www_authenticate)},
        {"Docker-Content-Digest", offsetof(struct reactor_http_result, docker_content_digest)},
        {"Location", offsetof(struct reactor_http_result, location)},
    };
    for (size_t i = 0; i < ARRAY_SIZE(wanted); i++) {
        char *v = header_value(line, len, wanted[i].name);
        if (v) {
            char **field = (char **)(void *)((char *)&r->res + wanted[i].offset);
            free(*field);
            *field = v;
        }
    }
    return len;
}

static size_t on_write(char *data, size_t size, size_t n, void *userp)
{
    struct reactor_http_req *r = userp;
    size_t len = size * n;
    if (r->cancelled)
        return 0; /* aborts the transfer */
    long status = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    r->res.bytes += len;
    if (r->opts.on_data && status >= 200 && status < 300) {
        int e = r->opts.on_data((const uint8_t *)data, len, r->data);
        if (e < 0) {
            r->data_failed = true;
            r->data_error = e;
            return 0;
        }
        return len;
    }
    size_t max = r->opts.on_data ? ERROR_BODY_MAX : r->opts.max_body;
    if (r->res.body.len + len > max) {
        r->data_failed = true;
        r->data_error = -EFBIG;
        return 0;
    }
    buf_append(&r->res.body, data, len);
    return len;
}

/* Transfer sockets close-on-exec: libcurl opens them without it, and runc, CNI plugins and
 * our own subcommands are spawned while transfers run. */
static curl_socket_t open_socket(void *data, curlsocktype purpose, struct curl_sockaddr *a)
{
    (void)data, (void)purpose;
    return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

struct reactor_http *reactor_http_new(uv_loop_t *loop)
{
    struct reactor_http *h = xcalloc(1, sizeof(*h));
    h->loop = loop;
    h->multi = curl_multi_init();
    if (!h->multi)
        abort();
    /* libcurl makes the multi handle's wakeup socketpair without SOCK_CLOEXEC. */
    fs_cloexec_from(3);
    uv_timer_init(loop, &h->timer);
    uv_timer_init(loop, &h->reaper);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 8L);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    return h;
}

static void on_reaper(uv_timer_t *t)
{
    struct reactor_http *h = container_of(t, struct reactor_http, reaper);
    for (struct reactor_http_req *r = h->reqs, *next; r; r = next) {
        next = r->next;
        if (r->cancelled && !r->resolving)
            req_complete(r, CURLE_ABORTED_BY_CALLBACK);
    }
}

void reactor_http_cancel(struct reactor_http_req *r)
{
    if (r->cancelled)
        return;
    r->cancelled = true;
    /* curl handles may not be removed from inside curl's callbacks: finish on the next tick. */
    uv_timer_start(&r->h->reaper, on_reaper, 0, 0);
}

static void set_opts(struct reactor_http_req *r)
{
    const struct reactor_http_opts *o = &r->opts;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_USERAGENT, "crib/" PACKAGE_VERSION);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (o->method && strcmp(o->method, "HEAD") == 0)
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (o->post_body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(o->post_body));
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->post_body);
    }
    if (o->insecure_tls) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (o->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, o->ca_file);
    if (o->ca_dir)
        curl_easy_setopt(e, CURLOPT_CAPATH, o->ca_dir);
    if (o->cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, o->cert_file);
    if (o->key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, o->key_file);
    if (o->low_speed_seconds > 0) {
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, o->low_speed_seconds);
    }
    if (o->connect_timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
    if (o->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
}

/* ---- names looked up on the loop ---- */

/* Host names are looked up through uv_getaddrinfo and handed to curl as CURLOPT_RESOLVE, so
 * that curl never resolves: its threaded resolver makes a socketpair without close-on-exec for
 * every lookup, which a child spawned meanwhile would inherit (and DESIGN.md has DNS on the
 * loop). Every request names its host itself: nothing follows redirects inside curl. */
static void on_resolved(uv_getaddrinfo_t *gai, int status, struct addrinfo *res)
{
    struct reactor_http_req *r = container_of(gai, struct reactor_http_req, gai);
    r->resolving = false;
    if (r->orphaned) {
        uv_freeaddrinfo(res);
        req_free(r);
        return;
    }
    if (r->cancelled || status < 0) {
        uv_freeaddrinfo(res);
        if (status < 0 && !r->cancelled)
            snprintf(r->errbuf, sizeof(r->errbuf), "resolve %s: %s", r->host, uv_strerror(status));
        req_complete(r, r->cancelled ? CURLE_ABORTED_BY_CALLBACK : CURLE_COULDNT_RESOLVE_HOST);
        return;
    }
    struct buf line = {0};
    buf_printf(&line, "%s", r->resolve_prefix);
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        char ip[INET6_ADDRSTRLEN];
        if (uv_ip_name(a->ai_addr, ip, sizeof(ip)) != 0)
            continue;
        buf_printf(&line, a->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
                   line.len > strlen(r->resolve_prefix) ? "," : "", ip);
    }
    uv_freeaddrinfo(res);
    r->resolved = curl_slist_append(NULL, (char *)line.data);
    buf_done(&line);
    curl_easy_setopt(r->easy, CURLOPT_RESOLVE, r->resolved);
    curl_multi_add_handle(r->h->multi, r->easy);
}

static void resolve_start(struct reactor_http_req *r)
{
    CURLU *u = curl_url();
    char *host = NULL, *port = NULL;
    if (curl_url_set(u, CURLUPART_URL, r->url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        unsigned char addr[sizeof(struct in6_addr)];
        bool literal = host[0] == '[' || inet_pton(AF_INET, host, addr) == 1;
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
        if (!literal) {
            r->host = xstrdup(host);
            r->resolve_prefix = xasprintf("%s:%s:", host, port);
            r->resolving =
                uv_getaddrinfo(r->h->loop, &r->gai, on_resolved, host, port, &hints) == 0;
        }
    }
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    if (!r->resolving)
        curl_multi_add_handle(r->h->multi, r->easy); /* an address, or curl's own error */
}

struct reactor_http_req *reactor_http_start(struct reactor_http *h,
                                            const struct reactor_http_opts *opts,
                                            reactor_http_cb cb, void *data)
{
    struct reactor_http_req *r = xcalloc(1, sizeof(*r));
    r->h = h;
    r->opts = *opts;
    r->opts.headers = NULL; /* copied into the slist below */
    r->url = xstrdup(opts->url);
    r->cb = cb;
    r->data = data;
    r->easy = curl_easy_init();
    if (!r->easy)
        abort();
    set_opts(r);
    for (const char *const *hdr = opts->headers; hdr && *hdr; hdr++)
        r->headers = curl_slist_append(r->headers, *hdr);
    if (r->headers)
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
    LIST_PREPEND(h->reqs, r);
    resolve_start(r);
    return r;
}

static void on_reaper_closed(uv_handle_t *handle)
{
    /* Close callbacks run in uv_close order: the timer's has run already. */
    free(container_of((uv_timer_t *)handle, struct reactor_http, reaper));
}

void reactor_http_free(struct reactor_http *h)
{
    if (!h)
        return;
    while (h->reqs) {
        h->reqs->cancelled = true;
        req_complete(h->reqs, CURLE_ABORTED_BY_CALLBACK);
    }
    curl_multi_cleanup(h->multi);
    while (h->socks) {
        struct http_sock *s = h->socks;
        LIST_REMOVE(h->socks, s);
        uv_close((uv_handle_t *)&s->poll, free_sock);
    }
    uv_close((uv_handle_t *)&h->timer, NULL);
    uv_close((uv_handle_t *)&h->reaper, on_reaper_closed);
}
