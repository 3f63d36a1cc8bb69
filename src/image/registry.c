/* Registry client over reactor_http: /v2/ ping, http fallback for insecure registries, Basic and
 * Bearer token auth with a token cache, retries with backoff, certs.d per registry. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "image/registry.h"

#define MAX_ATTEMPTS 3
#define MAX_REDIRECTS 10
#define BACKOFF_MS 250
#define AUX_BODY_MAX (64u * 1024) /* a /v2/ ping's or a token server's answer */

struct host {
    char *domain;
    bool use_http; /* an insecure registry that speaks plain HTTP */
    bool pinged;
    char *ca_file, *cert_file, *key_file;
    struct host *prev, *next;
};

/* Tokens are cached per registry, scope and credentials: a token fetched with one pod's pull
 * secret must never serve a pull made with other (or no) credentials. */
struct token {
    char *domain, *scope, *who, *token;
    uint64_t expires; /* uv_now() ms */
    struct token *prev, *next;
};

struct registry_client {
    uv_loop_t *loop;
    struct reactor_http *http;
    char *certs_dir;
    long low_speed_seconds;
    struct host *hosts;
    struct token *tokens;
};

enum req_state { REQ_PING, REQ_TOKEN, REQ_GET, REQ_BACKOFF, REQ_DONE };

struct registry_req {
    struct registry_client *c;
    char *domain, *path, *what, *accept, *scope;
    bool insecure;
    const struct registry_auth *auth;
    char *who; /* auth_fingerprint(auth): the token cache key's third part */
    struct registry_get_opts opts;
    registry_cb cb;
    void *data;
    enum req_state state;
    int attempt, redirects;
    bool auth_tried, basic, cancelled;
    char *bearer;
    char *url;        /* of the current request */
    char *note;       /* said with an "unauthorized" failure: credentials held back, and why */
    struct host *tls; /* certs.d of a token realm's or redirect's host: not cached */
    struct reactor_http_req *http;
    uv_timer_t timer;
    struct err err;
};

/* ---- helpers ---- */

static char *url_escape(const char *s)
{
    struct buf b = {0};
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || strchr("-._~", *p))
            buf_append(&b, p, 1);
        else
            buf_printf(&b, "%%%02X", *p);
    }
    return buf_steal(&b);
}

/* The first message of a registry's {"errors":[{"code":..,"message":..}]} body. */
static char *registry_message(const struct buf *body)
{
    if (!body->len)
        return xstrdup("");
    cleanup_free char *text = xstrndup((const char *)body->data, body->len);
    cJSON *j = cJSON_Parse(text);
    cJSON *errs = cJSON_GetObjectItemCaseSensitive(j, "errors");
    cJSON *first = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
    cJSON *code = cJSON_GetObjectItemCaseSensitive(first, "code");
    cJSON *msg = cJSON_GetObjectItemCaseSensitive(first, "message");
    char *out;
    if (cJSON_IsString(msg))
        out = xasprintf("%s%s%s", cJSON_IsString(code) ? code->valuestring : "",
                        cJSON_IsString(code) ? ": " : "", msg->valuestring);
    else
        out = xstrndup(text, strcspn(text, "\n") < 200 ? strcspn(text, "\n") : 200);
    cJSON_Delete(j);
    return out;
}

void image_registry_auth_done(struct registry_auth *a)
{
    free(a->username);
    free(a->password);
    free(a->identity_token);
    free(a->registry_token);
    memset(a, 0, sizeof(*a));
}

/* ---- challenges ---- */

void image_registry_challenge_done(struct registry_challenge *c)
{
    free(c->scheme);
    free(c->realm);
    free(c->service);
    free(c->scope);
    memset(c, 0, sizeof(*c));
}

int image_registry_challenge_parse(const char *h, struct registry_challenge *ret)
{
    memset(ret, 0, sizeof(*ret));
    while (*h == ' ')
        h++;
    size_t n = strcspn(h, " ");
    if (n == 0)
        return -EINVAL;
    ret->scheme = xstrndup(h, n);
    h += n;
    while (*h) {
        while (*h == ' ' || *h == ',')
            h++;
        size_t kn = strcspn(h, "= ,");
        if (kn == 0 || h[kn] != '=')
            break;
        cleanup_free char *key = xstrndup(h, kn);
        h += kn + 1;
        struct buf v = {0};
        if (*h == '"') {
            for (h++; *h && *h != '"'; h++) {
                if (*h == '\\' && h[1])
                    h++;
                buf_append(&v, h, 1);
            }
            if (*h != '"') {
                buf_done(&v);
                image_registry_challenge_done(ret);
                return -EINVAL;
            }
            h++;
        } else {
            size_t vn = strcspn(h, ", ");
            buf_append(&v, h, vn);
            h += vn;
        }
        char **field = strcasecmp(key, "realm") == 0     ? &ret->realm
                       : strcasecmp(key, "service") == 0 ? &ret->service
                       : strcasecmp(key, "scope") == 0   ? &ret->scope
                                                         : NULL;
        if (field) {
            free(*field);
            *field = buf_steal(&v);
        }
        buf_done(&v);
    }
    return 0;
}

/* ---- hosts and tokens ---- */

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

static void host_free(struct host *h)
{
    if (!h)
        return;
    free(h->domain);
    free(h->ca_file);
    free(h->cert_file);
    free(h->key_file);
    free(h);
}

/* "host[:port]" of an http or https URL (the port only when written), NULL for anything
 * else. curl parses it, so that we judge the host curl will connect to. */
static char *url_domain(const char *url, bool *ret_https)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *port = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
        (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0)) {
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
            port = NULL;
        out = port ? xasprintf("%s:%s", host, port) : xstrdup(host);
        *ret_https = strcmp(scheme, "https") == 0;
    }
    curl_free(scheme);
    curl_free(host);
    curl_free(port);
    curl_url_cleanup(u);
    return out;
}

/* location resolved against base (a redirect's Location may be relative). */
static char *url_resolve(const char *base, const char *location)
{
    CURLU *u = curl_url();
    char *url = NULL, *out = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &url, 0) == CURLUE_OK)
        out = xstrdup(url);
    curl_free(url);
    curl_url_cleanup(u);
    return out;
}

/* The host part of "host[:port]" ("[::1]:5000" included). */
static char *domain_host(const char *domain)
{
    cleanup_free char *url = xasprintf("http://%s/", domain);
    bool https;
    char *d = url_domain(url, &https);
    if (d && d[0] != '[')
        d[strcspn(d, ":")] = '\0';
    else if (d)
        d[strcspn(d, "]") + 1] = '\0';
    return d;
}

/* certs_dir/<domain>/: *.crt are CAs, *.cert + *.key a client certificate (certs.d(5)). */
static void load_certs(struct registry_client *c, struct host *h)
{
    if (!c->certs_dir || !*c->certs_dir)
        return;
    cleanup_free char *dir = xasprintf("%s/%s", c->certs_dir, h->domain);
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *p = xasprintf("%s/%s", dir, e->d_name);
        char **field = has_suffix(e->d_name, ".crt")    ? &h->ca_file
                       : has_suffix(e->d_name, ".cert") ? &h->cert_file
                       : has_suffix(e->d_name, ".key")  ? &h->key_file
                                                        : NULL;
        if (field && !*field)
            *field = TAKE_PTR(p);
        free(p);
    }
    closedir(d);
}

static struct host *get_host(struct registry_client *c, const char *domain)
{
    for (struct host *h = c->hosts; h; h = h->next)
        if (strcmp(h->domain, domain) == 0)
            return h;
    struct host *h = xcalloc(1, sizeof(*h));
    h->domain = xstrdup(domain);
    load_certs(c, h);
    LIST_PREPEND(c->hosts, h);
    return h;
}

/* A digest of the credentials, "" for anonymous pulls. */
static char *auth_fingerprint(const struct registry_auth *a)
{
    if (!a || (!a->username && !a->identity_token && !a->registry_token))
        return xstrdup("");
    cleanup_free char *all = xasprintf(
        "%s\n%s\n%s\n%s", a->username ? a->username : "", a->password ? a->password : "",
        a->identity_token ? a->identity_token : "", a->registry_token ? a->registry_token : "");
    return digest_of(NULL, all, strlen(all));
}

static void token_free(struct token *t)
{
    free(t->domain);
    free(t->scope);
    free(t->who);
    free(t->token);
    free(t);
}

static const char *cached_token(struct registry_client *c, const char *domain, const char *scope,
                                const char *who)
{
    uint64_t now = uv_now(c->loop);
    for (struct token *t = c->tokens; t; t = t->next)
        if (strcmp(t->domain, domain) == 0 && strcmp(t->scope, scope) == 0 &&
            strcmp(t->who, who) == 0 && t->expires > now)
            return t->token;
    return NULL;
}

static void cache_token(struct registry_client *c, const char *domain, const char *scope,
                        const char *who, const char *token, uint64_t ttl_ms)
{
    for (struct token *t = c->tokens, *next; t; t = next) {
        next = t->next;
        if ((strcmp(t->domain, domain) == 0 && strcmp(t->scope, scope) == 0 &&
             strcmp(t->who, who) == 0) ||
            t->expires <= uv_now(c->loop)) {
            LIST_REMOVE(c->tokens, t);
            token_free(t);
        }
    }
    struct token *t = xcalloc(1, sizeof(*t));
    t->domain = xstrdup(domain);
    t->scope = xstrdup(scope);
    t->who = xstrdup(who);
    t->token = xstrdup(token);
    t->expires = uv_now(c->loop) + ttl_ms;
    LIST_PREPEND(c->tokens, t);
}

struct registry_client *image_registry_client_new(uv_loop_t *loop, struct reactor_http *http,
                                                  const struct registry_client_opts *opts)
{
    struct registry_client *c = xcalloc(1, sizeof(*c));
    c->loop = loop;
    c->http = http;
    c->certs_dir = opts->certs_dir ? xstrdup(opts->certs_dir) : NULL;
    c->low_speed_seconds = opts->low_speed_seconds;
    return c;
}

void image_registry_client_free(struct registry_client *c)
{
    if (!c)
        return;
    while (c->hosts) {
        struct host *h = c->hosts;
        LIST_REMOVE(c->hosts, h);
        host_free(h);
    }
    while (c->tokens) {
        struct token *t = c->tokens;
        LIST_REMOVE(c->tokens, t);
        token_free(t);
    }
    free(c->certs_dir);
    free(c);
}

/* ---- requests ---- */

static void req_send(struct registry_req *r);

static void on_timer_closed(uv_handle_t *h)
{
    struct registry_req *r = container_of((uv_timer_t *)h, struct registry_req, timer);
    free(r->url);
    free(r->note);
    host_free(r->tls);
    err_done(&r->err);
    free(r->domain);
    free(r->path);
    free(r->what);
    free(r->accept);
    free(r->scope);
    free(r->who);
    free(r->bearer);
    free(r);
}

static void req_finish(struct registry_req *r, int status, struct reactor_http_result *res)
{
    r->state = REQ_DONE;
    if (r->cancelled && status != 0)
        status = -ECANCELED;
    if (status < 0 && !r->err.msg)
        err_set(&r->err, status, "%s", strerror(-status));
    r->cb(status, res, &r->err, r->data);
    uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

static int fail(struct registry_req *r, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct registry_req *r, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *m = xvasprintf(fmt, ap);
    va_end(ap);
    const char *note = code == -EACCES && r->note ? r->note : "";
    if (r->state == REQ_TOKEN) {
        bool https;
        cleanup_free char *realm = r->url ? url_domain(r->url, &https) : NULL;
        return err_set(&r->err, code, "token for %s/%s from %s: %s%s", r->domain, r->path,
                       realm ? realm : "the realm", m, note);
    }
    if (r->state == REQ_PING)
        return err_set(&r->err, code, "GET %s/v2/: %s", r->domain, m);
    return err_set(&r->err, code, "GET %s/v2/%s/%s: %s%s", r->domain, r->path, r->what, m, note);
}

static void on_backoff(uv_timer_t *t)
{
    struct registry_req *r = container_of(t, struct registry_req, timer);
    if (r->cancelled) {
        fail(r, -ECANCELED, "cancelled");
        req_finish(r, -ECANCELED, NULL);
        return;
    }
    req_send(r);
}

static bool retry_later(struct registry_req *r)
{
    if (++r->attempt >= MAX_ATTEMPTS || r->cancelled)
        return false;
    r->state = REQ_BACKOFF;
    uv_timer_start(&r->timer, on_backoff, (uint64_t)BACKOFF_MS << (r->attempt - 1), 0);
    return true;
}

static int req_on_data(const uint8_t *data, size_t len, void *arg)
{
    struct registry_req *r = arg;
    return r->opts.on_data(data, len, r->data);
}

static void on_token(int status, struct reactor_http_result *res, void *data);
static void on_response(int status, struct reactor_http_result *res, void *data);
static void send_get(struct registry_req *r, const char *url, bool with_auth);

/* TLS settings belong to the host they were made for: a registry's "insecure" and its certs.d
 * entry are not used for its token realm or a redirect's host, which get their own certs.d
 * entry (looked up afresh: hosts named by a registry are not remembered) and full verification.
 * Redirects are followed here, not by curl, to keep to that. */
static void start_http(struct registry_req *r, const char *url, const char *const *headers,
                       bool stream, const char *post, reactor_http_cb cb)
{
    bool https;
    cleanup_free char *domain = url_domain(url, &https);
    bool own = !domain || strcasecmp(domain, r->domain) == 0;
    struct host *h;
    if (own) {
        h = get_host(r->c, r->domain);
    } else {
        host_free(r->tls);
        r->tls = h = xcalloc(1, sizeof(*h));
        h->domain = TAKE_PTR(domain);
        load_certs(r->c, h);
    }
    if (url != r->url) {
        free(r->url);
        r->url = xstrdup(url);
    }
    struct reactor_http_opts o = {
        .url = url,
        .headers = headers,
        .post_body = post,
        .insecure_tls = r->insecure && own,
        .ca_file = h->ca_file,
        .cert_file = h->cert_file,
        .key_file = h->key_file,
        /* A ping or token request made for a streamed blob download has a body of its own. */
        .max_body = stream                ? 0
                    : r->state == REQ_GET ? r->opts.max_body
                                          : AUX_BODY_MAX,
        .on_data = stream ? req_on_data : NULL,
        .low_speed_seconds = r->c->low_speed_seconds,
        .connect_timeout_ms = 30000,
    };
    r->http = reactor_http_start(r->c->http, &o, cb, r);
}

static void req_send(struct registry_req *r)
{
    struct host *h = get_host(r->c, r->domain);
    const char *scheme = h->use_http ? "http" : "https";
    if (!h->pinged) {
        r->state = REQ_PING;
        cleanup_free char *url = xasprintf("%s://%s/v2/", scheme, r->domain);
        start_http(r, url, NULL, false, NULL, on_response);
        return;
    }
    r->state = REQ_GET;
    r->redirects = 0;
    if (r->opts.on_restart && r->opts.on_data)
        r->opts.on_restart(r->data);
    cleanup_free char *url = xasprintf("%s://%s/v2/%s/%s", scheme, r->domain, r->path, r->what);
    send_get(r, url, true);
}

/* A GET of the request's object at url; with_auth: url is the registry's own. */
static void send_get(struct registry_req *r, const char *url, bool with_auth)
{
    cleanup_free char *accept = r->accept ? xasprintf("Accept: %s", r->accept) : NULL;
    cleanup_free char *authz = NULL;
    const char *token = r->bearer ? r->bearer : cached_token(r->c, r->domain, r->scope, r->who);
    if (!with_auth) {
        /* nothing of ours goes to a redirect's host */
    } else if (token) {
        authz = xasprintf("Authorization: Bearer %s", token);
    } else if (r->basic && r->auth && r->auth->username) {
        cleanup_free char *up =
            xasprintf("%s:%s", r->auth->username, r->auth->password ? r->auth->password : "");
        cleanup_free char *b = base64_encode(up, strlen(up));
        authz = xasprintf("Authorization: Basic %s", b);
    }
    const char *headers[3] = {NULL};
    size_t n = 0;
    if (accept)
        headers[n++] = accept;
    if (authz)
        headers[n++] = authz;
    start_http(r, url, headers, r->opts.on_data != NULL, NULL, on_response);
}

/* Blob downloads are often redirected to a storage service: follow, with no credentials and
 * the new host's own TLS settings, unless it is the registry itself, over the same scheme. */
static void follow_redirect(struct registry_req *r, const char *location)
{
    bool https = false;
    cleanup_free char *next = url_resolve(r->url, location);
    cleanup_free char *domain = next ? url_domain(next, &https) : NULL;
    if (!domain) {
        fail(r, -EIO, "redirected to `%.200s`, not an http(s) URL", location);
        req_finish(r, -EIO, NULL);
        return;
    }
    if (++r->redirects > MAX_REDIRECTS) {
        fail(r, -EIO, "more than %d redirects", MAX_REDIRECTS);
        req_finish(r, -EIO, NULL);
        return;
    }
    bool own = strcasecmp(domain, r->domain) == 0 && https != get_host(r->c, r->domain)->use_http;
    send_get(r, next, own);
}

static void fetch_token(struct registry_req *r, const struct registry_challenge *ch)
{
    r->state = REQ_TOKEN;
    const struct registry_auth *a = r->auth;
    if (a && a->registry_token && *a->registry_token) {
        free(r->bearer);
        r->bearer = xstrdup(a->registry_token);
        req_send(r);
        return;
    }
    if (ch->scope) {
        free(r->scope);
        r->scope = xstrdup(ch->scope);
    }
    /* Credentials go to a realm over https, or over plain http only to the registry's own host
     * when the registry itself speaks plain http: never in clear text to another host. */
    free(r->url);
    r->url = xstrdup(ch->realm); /* for messages */
    bool https = false;
    cleanup_free char *realm_domain = url_domain(ch->realm, &https);
    if (!realm_domain) {
        fail(r, -EACCES, "the token realm `%.200s` is not an http(s) URL", ch->realm);
        req_finish(r, -EACCES, NULL);
        return;
    }
    cleanup_free char *realm_host = domain_host(realm_domain);
    cleanup_free char *own_host = domain_host(r->domain);
    bool creds_ok = https || (realm_host && own_host && strcasecmp(realm_host, own_host) == 0 &&
                              get_host(r->c, r->domain)->use_http);
    if (!creds_ok && a && (a->username || (a->identity_token && *a->identity_token))) {
        free(r->note);
        r->note = xasprintf(" (credentials are not sent to the plain-HTTP token realm on %s)",
                            realm_domain);
        a = NULL;
    }
    cleanup_free char *service = url_escape(ch->service ? ch->service : "");
    cleanup_free char *scope = url_escape(r->scope);
    cleanup_free char *authz = NULL;
    cleanup_free char *url = NULL;
    cleanup_free char *post = NULL;
    if (a && a->identity_token && *a->identity_token) {
        /* OAuth2 refresh-token grant, as docker login's identity tokens need. */
        cleanup_free char *rt = url_escape(a->identity_token);
        url = xstrdup(ch->realm);
        post = xasprintf("grant_type=refresh_token&refresh_token=%s&service=%s&scope=%s"
                         "&client_id=crib",
                         rt, service, scope);
    } else {
        url = xasprintf("%s%sservice=%s&scope=%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
                        service, scope);
        if (a && a->username) {
            cleanup_free char *up = xasprintf("%s:%s", a->username, a->password ? a->password : "");
            cleanup_free char *b = base64_encode(up, strlen(up));
            authz = xasprintf("Authorization: Basic %s", b);
        }
    }
    const char *headers[2] = {authz, NULL};
    start_http(r, url, headers, false, post, on_token);
}

static void on_token(int status, struct reactor_http_result *res, void *data)
{
    struct registry_req *r = data;
    r->http = NULL;
    if (status < 0 || r->cancelled) {
        fail(r, status < 0 ? status : -ECANCELED, "%s",
             res->error ? res->error : strerror(-status));
        req_finish(r, status < 0 ? status : -ECANCELED, res);
        return;
    }
    if (res->status < 200 || res->status >= 300) {
        cleanup_free char *m = registry_message(&res->body);
        fail(r, -EACCES, "token server answered %ld: %s", res->status, m);
        req_finish(r, -EACCES, res);
        return;
    }
    cleanup_free char *text = xstrndup((const char *)res->body.data, res->body.len);
    cJSON *j = cJSON_Parse(text);
    cJSON *tok = cJSON_GetObjectItemCaseSensitive(j, "token");
    if (!cJSON_IsString(tok))
        tok = cJSON_GetObjectItemCaseSensitive(j, "access_token");
    cJSON *exp = cJSON_GetObjectItemCaseSensitive(j, "expires_in");
    if (!cJSON_IsString(tok) || !*tok->valuestring) {
        cJSON_Delete(j);
        fail(r, -EACCES, "token server sent no token");
        req_finish(r, -EACCES, res);
        return;
    }
    double ttl = cJSON_IsNumber(exp) && exp->valuedouble > 0 ? exp->valuedouble : 60;
    cache_token(r->c, r->domain, r->scope, r->who, tok->valuestring, (uint64_t)(ttl * 1000 * 0.9));
    free(r->bearer);
    r->bearer = xstrdup(tok->valuestring);
    cJSON_Delete(j);
    req_send(r);
}

static void on_auth_challenge(struct registry_req *r, struct reactor_http_result *res)
{
    struct registry_challenge ch;
    if (!res->www_authenticate || image_registry_challenge_parse(res->www_authenticate, &ch) < 0) {
        fail(r, -EACCES, "unauthorized and no usable WWW-Authenticate challenge");
        req_finish(r, -EACCES, res);
        return;
    }
    r->auth_tried = true;
    if (strcasecmp(ch.scheme, "Bearer") == 0 && ch.realm) {
        fetch_token(r, &ch);
    } else if (strcasecmp(ch.scheme, "Basic") == 0 && r->auth && r->auth->username) {
        r->basic = true;
        req_send(r);
    } else {
        fail(r, -EACCES, "the registry asks for %s credentials and none were given", ch.scheme);
        req_finish(r, -EACCES, res);
    }
    image_registry_challenge_done(&ch);
}

static bool is_protocol_mismatch(int curl_code)
{
    /* An https request to a plain-HTTP port fails in the TLS handshake. */
    return curl_code == CURLE_SSL_CONNECT_ERROR || curl_code == CURLE_RECV_ERROR ||
           curl_code == CURLE_GOT_NOTHING || curl_code == CURLE_UNSUPPORTED_PROTOCOL ||
           curl_code == CURLE_WEIRD_SERVER_REPLY;
}

static void on_transport_error(struct registry_req *r, int status, struct reactor_http_result *res)
{
    struct host *h = get_host(r->c, r->domain);
    if (r->insecure && !h->use_http && r->redirects == 0 && is_protocol_mismatch(res->curl_code)) {
        h->use_http = true;
        req_send(r);
        return;
    }
    /* A failed write of a streamed body (digest mismatch, disk) is not retried here, nor is a
     * transfer that made no progress for pull_progress_timeout: that is the limit. */
    if (res->curl_code != CURLE_WRITE_ERROR && res->curl_code != CURLE_OPERATION_TIMEDOUT &&
        retry_later(r))
        return;
    fail(r, status, "%s", res->error ? res->error : strerror(-status));
    req_finish(r, status, res);
}

static void on_response(int status, struct reactor_http_result *res, void *data)
{
    struct registry_req *r = data;
    r->http = NULL;
    if (r->cancelled) {
        req_finish(r, -ECANCELED, res);
        return;
    }
    if (status < 0) {
        on_transport_error(r, status, res);
        return;
    }
    long code = res->status;
    if (r->state == REQ_PING) {
        if (code >= 500 && retry_later(r))
            return;
        get_host(r->c, r->domain)->pinged = true;
        req_send(r);
        return;
    }
    if (code >= 200 && code < 300) {
        req_finish(r, 0, res);
        return;
    }
    if (code >= 300 && code < 400 && res->location) {
        follow_redirect(r, res->location);
        return;
    }
    if (code == 401 && !r->auth_tried) {
        on_auth_challenge(r, res);
        return;
    }
    if ((code >= 500 || code == 429) && retry_later(r))
        return;
    cleanup_free char *m = registry_message(&res->body);
    int e = code == 404 ? -ENOENT : code == 401 || code == 403 ? -EACCES : -EIO;
    fail(r, e, "HTTP %ld%s%s", code, *m ? ": " : "", m);
    req_finish(r, e, res);
}

struct registry_req *image_registry_get(struct registry_client *c, const struct registry_target *t,
                                        const char *what, const struct registry_get_opts *o,
                                        registry_cb cb, void *data)
{
    struct registry_req *r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->domain = xstrdup(t->domain);
    r->path = xstrdup(t->path);
    r->what = xstrdup(what);
    r->insecure = t->insecure;
    r->auth = t->auth;
    r->who = auth_fingerprint(t->auth);
    r->opts = *o;
    r->accept = o->accept ? xstrdup(o->accept) : NULL;
    r->scope = xasprintf("repository:%s:pull", t->path);
    r->cb = cb;
    r->data = data;
    uv_timer_init(c->loop, &r->timer);
    req_send(r);
    return r;
}

void image_registry_req_cancel(struct registry_req *r)
{
    if (r->cancelled || r->state == REQ_DONE)
        return;
    r->cancelled = true;
    if (r->http)
        reactor_http_cancel(r->http);
    else
        uv_timer_start(&r->timer, on_backoff, 0, 0); /* reports -ECANCELED on the next tick */
}
