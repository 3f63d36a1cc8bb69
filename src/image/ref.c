/* Image references: parsing and printing name[:tag][@digest] per the distribution reference
 * grammar, Docker Hub normalisation (docker.io, library/), digest syntax. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "image/ref.h"

/* Longest reference text considered at all: a maximal name, tag and sha512 digest fit. */
#define REF_TEXT_MAX 1024
#define TAG_MAX 128
/* Longest part of the user's text quoted back in a message. */
#define QUOTE_MAX 300

static bool is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool is_lower_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!is_lower_hex(s[i]))
            return false;
    return true;
}

static int fail(struct err *err, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -EINVAL "invalid image reference `what`: reason", quoting at most QUOTE_MAX bytes of what. */
static int fail(struct err *err, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *reason = xvasprintf(fmt, ap);
    va_end(ap);
    size_t n = strlen(what);
    return err_set(err, -EINVAL, "invalid image reference `%.*s%s`: %s",
                   (int)(n > QUOTE_MAX ? QUOTE_MAX : n), what, n > QUOTE_MAX ? "..." : "", reason);
}

bool image_digest_valid(const char *digest)
{
    if (!digest)
        return false;
    size_t n = strlen(digest);
    if (strncmp(digest, "sha256:", 7) == 0)
        return n == 7 + 64 && all_lower_hex(digest + 7, 64);
    if (strncmp(digest, "sha512:", 7) == 0)
        return n == 7 + 128 && all_lower_hex(digest + 7, 128);
    return false;
}

static int check_digest(const char *ref, const char *d, struct err *err)
{
    if (image_digest_valid(d))
        return 0;
    const char *colon = strchr(d, ':');
    if (!colon)
        return fail(err, ref, "digest `%s` is not of the form algorithm:hex", d);
    size_t alg = (size_t)(colon - d);
    size_t want = 0;
    if (alg == 6 && strncmp(d, "sha256", 6) == 0)
        want = 64;
    else if (alg == 6 && strncmp(d, "sha512", 6) == 0)
        want = 128;
    else
        return fail(err, ref, "unsupported digest algorithm `%.*s` (sha256 and sha512 are)",
                    (int)(alg > 32 ? 32 : alg), d);
    return fail(err, ref, "a %.6s digest needs %zu lowercase hex digits", d, want);
}

static int check_tag(const char *ref, const char *tag, size_t n, struct err *err)
{
    if (n == 0)
        return fail(err, ref, "empty tag");
    if (n > TAG_MAX)
        return fail(err, ref, "tag longer than %d characters", TAG_MAX);
    if (!is_alnum(tag[0]) && tag[0] != '_')
        return fail(err, ref, "tag must start with a letter, digit or '_'");
    for (size_t i = 1; i < n; i++)
        if (!is_alnum(tag[i]) && tag[i] != '_' && tag[i] != '.' && tag[i] != '-')
            return fail(err, ref, "invalid character `%c` in tag", tag[i]);
    return 0;
}

/* One path component: [a-z0-9]+ ((. | _ | __ | -+) [a-z0-9]+)* */
static int check_component(const char *ref, const char *c, size_t n, struct err *err)
{
    if (n == 0)
        return fail(err, ref, "empty path component in repository name");
    for (size_t i = 0; i < n; i++) {
        char ch = c[i];
        if (ch >= 'A' && ch <= 'Z')
            return fail(err, ref, "repository name must be lowercase");
        if (!is_lower_alnum(ch) && ch != '.' && ch != '_' && ch != '-')
            return fail(err, ref, "invalid character `%c` in repository name", ch);
    }
    if (!is_lower_alnum(c[0]) || !is_lower_alnum(c[n - 1]))
        return fail(err, ref,
                    "repository path component `%.*s` must start and end with a letter or digit",
                    (int)n, c);
    for (size_t i = 0; i < n;) {
        if (is_lower_alnum(c[i])) {
            i++;
            continue;
        }
        size_t run = 0;
        while (i + run < n && c[i + run] == c[i])
            run++;
        bool ok = c[i] == '-' || run == 1 || (c[i] == '_' && run == 2);
        if (!ok || !is_lower_alnum(c[i + run]))
            return fail(err, ref, "invalid separator in repository path component `%.*s`", (int)n,
                        c);
        i += run;
    }
    return 0;
}

static int check_path(const char *ref, const char *p, size_t n, struct err *err)
{
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/')
            continue;
        int r = check_component(ref, p + start, i - start, err);
        if (r < 0)
            return r;
        start = i + 1;
    }
    return 0;
}

/* domain-component := [a-zA-Z0-9] | [a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9] */
static bool host_valid(const char *h, size_t n)
{
    size_t start = 0;
    if (n == 0)
        return false;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && h[i] != '.') {
            if (!is_alnum(h[i]) && h[i] != '-')
                return false;
            continue;
        }
        if (i == start || h[start] == '-' || h[i - 1] == '-')
            return false;
        start = i + 1;
    }
    return true;
}

static bool ipv6_valid(const char *h, size_t n)
{
    char buf[64];
    struct in6_addr addr;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, h, n);
    buf[n] = '\0';
    return inet_pton(AF_INET6, buf, &addr) == 1;
}

static bool port_valid(const char *p, size_t n)
{
    unsigned v = 0;
    if (n == 0 || n > 5)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static int check_domain(const char *ref, const char *d, size_t n, struct err *err)
{
    size_t host_end;
    if (n > 0 && d[0] == '[') {
        const char *close = memchr(d, ']', n);
        if (!close || !ipv6_valid(d + 1, (size_t)(close - d - 1)))
            return fail(err, ref, "invalid IPv6 address in registry `%.*s`", (int)n, d);
        host_end = (size_t)(close - d) + 1;
        if (host_end < n && d[host_end] != ':')
            return fail(err, ref, "invalid registry `%.*s`", (int)n, d);
    } else {
        const char *colon = memchr(d, ':', n);
        host_end = colon ? (size_t)(colon - d) : n;
        if (!host_valid(d, host_end))
            return fail(err, ref, "invalid registry host `%.*s`", (int)host_end, d);
    }
    if (host_end < n && !port_valid(d + host_end + 1, n - host_end - 1))
        return fail(err, ref, "invalid port `%.*s` in registry `%.*s`", (int)(n - host_end - 1),
                    d + host_end + 1, (int)n, d);
    return 0;
}

bool image_ref_domain_valid(const char *domain)
{
    struct err e = ERR_INIT;
    int r = check_domain(domain, domain, strlen(domain), &e);
    err_done(&e);
    return r == 0;
}

bool image_ref_path_valid(const char *path)
{
    struct err e = ERR_INIT;
    int r = check_path(path, path, strlen(path), &e);
    err_done(&e);
    return r == 0;
}

/* The first component of a name names a registry (Docker's splitDockerDomain rule). */
static bool is_domain_like(const char *c, size_t n)
{
    if (n == 9 && strncmp(c, "localhost", 9) == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (c[i] == '.' || c[i] == ':' || (c[i] >= 'A' && c[i] <= 'Z'))
            return true;
    return false;
}

/* Docker Hub's aliases and the library/ namespace for its single-component names; checks the
 * length of the result. Takes ownership of domain and path. */
void image_ref_docker_hub(char **domain, char **path)
{
    if (strcmp(*domain, "index.docker.io") == 0) {
        free(*domain);
        *domain = xstrdup("docker.io");
    }
    if (strcmp(*domain, "docker.io") == 0 && !strchr(*path, '/')) {
        char *p = xasprintf("library/%s", *path);
        free(*path);
        *path = p;
    }
}

static int normalise(const char *ref, char *domain, char *path, struct image_ref *ret,
                     struct err *err)
{
    image_ref_docker_hub(&domain, &path);
    size_t n = strlen(domain) + 1 + strlen(path);
    if (n > IMAGE_REF_NAME_MAX) {
        free(domain);
        free(path);
        return fail(err, ref, "repository name longer than %d characters", IMAGE_REF_NAME_MAX);
    }
    ret->domain = domain;
    ret->path = path;
    return 0;
}

static bool looks_like_id(const char *s, size_t n)
{
    if (n == 64 && all_lower_hex(s, 64))
        return true;
    return n == 7 + 64 && strncmp(s, "sha256:", 7) == 0 && all_lower_hex(s + 7, 64);
}

/* Split name (s[0..n)) into domain and path and check both. */
static int parse_name(const char *s, size_t n, struct image_ref *ret, struct err *err)
{
    if (n == 0)
        return fail(err, s, "missing repository name");
    const char *slash = memchr(s, '/', n);
    size_t first = slash ? (size_t)(slash - s) : n;
    if (!slash || !is_domain_like(s, first)) {
        int r = check_path(s, s, n, err);
        if (r < 0)
            return r;
        if (n > IMAGE_REF_NAME_MAX)
            return fail(err, s, "repository name longer than %d characters", IMAGE_REF_NAME_MAX);
        ret->path = xstrndup(s, n);
        return 0;
    }
    int r = check_domain(s, s, first, err);
    if (r < 0)
        return r;
    r = check_path(s, slash + 1, n - first - 1, err);
    if (r < 0)
        return r;
    return normalise(s, xstrndup(s, first), xstrndup(slash + 1, n - first - 1), ret, err);
}

static int parse(const char *s, struct image_ref *ret, struct err *err)
{
    size_t len = strlen(s);
    if (len == 0)
        return err_set(err, -EINVAL, "invalid image reference: empty");
    if (len > REF_TEXT_MAX)
        return fail(err, s, "longer than %d characters", REF_TEXT_MAX);
    if (looks_like_id(s, len))
        return fail(err, s, "looks like an image ID, not a name");
    const char *at = strchr(s, '@');
    size_t name_end = at ? (size_t)(at - s) : len;
    if (at) {
        int r = check_digest(s, at + 1, err);
        if (r < 0)
            return r;
        ret->digest = xstrdup(at + 1);
    }
    const char *slash = memrchr(s, '/', name_end);
    size_t from = slash ? (size_t)(slash - s) : 0;
    const char *colon = memchr(s + from, ':', name_end - from);
    if (colon) {
        size_t tag_len = name_end - (size_t)(colon - s) - 1;
        int r = check_tag(s, colon + 1, tag_len, err);
        if (r < 0)
            return r;
        ret->tag = xstrndup(colon + 1, tag_len);
        name_end = (size_t)(colon - s);
    }
    return parse_name(s, name_end, ret, err);
}

int image_ref_parse(const char *s, struct image_ref *ret, struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (!s)
        return err_set(err, -EINVAL, "invalid image reference: empty");
    int r = parse(s, ret, err);
    if (r < 0)
        image_ref_done(ret);
    return r;
}

int image_ref_qualify(const struct image_ref *short_ref, const char *domain, struct image_ref *ret,
                      struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (short_ref->domain) {
        domain = short_ref->domain;
    } else {
        if (!domain || !image_ref_domain_valid(domain))
            return err_set(err, -EINVAL, "invalid registry `%s` for `%s`",
                           domain ? domain : "(null)", short_ref->path);
    }
    cleanup_free char *name = xasprintf("%s/%s", domain, short_ref->path);
    int r = normalise(name, xstrdup(domain), xstrdup(short_ref->path), ret, err);
    if (r < 0)
        return r;
    ret->tag = short_ref->tag ? xstrdup(short_ref->tag) : NULL;
    ret->digest = short_ref->digest ? xstrdup(short_ref->digest) : NULL;
    return 0;
}

char *image_ref_name(const struct image_ref *r)
{
    if (!r->domain)
        return xstrdup(r->path);
    return xasprintf("%s/%s", r->domain, r->path);
}

char *image_ref_string(const struct image_ref *r)
{
    cleanup_free char *name = image_ref_name(r);
    const char *tag = image_ref_tag(r);
    return xasprintf("%s%s%s%s%s", name, tag ? ":" : "", tag ? tag : "", r->digest ? "@" : "",
                     r->digest ? r->digest : "");
}

const char *image_ref_tag(const struct image_ref *r)
{
    if (r->tag)
        return r->tag;
    return r->digest ? NULL : "latest";
}

void image_ref_done(struct image_ref *r)
{
    free(r->domain);
    free(r->path);
    free(r->tag);
    free(r->digest);
    memset(r, 0, sizeof(*r));
}
