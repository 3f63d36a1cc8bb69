/* PullImage: resolve the name (search registries, mirrors), fetch and verify the manifest (and
 * the platform's manifest from an index), the config, and the layers — downloaded concurrently
 * with a bound, hashed while written, shared between pulls, unpacked on the thread pool — then
 * record the image. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "image/image-internal.h"
#include "image/manifest.h"
#include "image/ref.h"

#define CONFIG_MAX (8u << 20)
/* Blob bytes written between two looks at the image filesystem's free space. */
#define FREE_CHECK_BYTES (8 << 20)
#define ACCEPT_MANIFESTS                                                                           \
    "application/vnd.oci.image.index.v1+json, "                                                    \
    "application/vnd.docker.distribution.manifest.list.v2+json, "                                  \
    "application/vnd.oci.image.manifest.v1+json, "                                                 \
    "application/vnd.docker.distribution.manifest.v2+json"

enum pull_state { PULL_MANIFEST, PULL_PLATFORM_MANIFEST, PULL_CONFIG, PULL_LAYERS, PULL_STORE };

struct layer_wait {
    struct image_pull *pull;
    size_t index;
    struct layer_wait *prev, *next;
};

/* One layer being downloaded and unpacked, shared by every pull that needs it. */
struct layer_fetch {
    struct image_service *s;
    char *chain_id, *digest, *diff_id;
    int64_t size;
    struct registry_target target;
    char *domain, *path;
    struct registry_auth auth;
    bool started, unpacking;
    struct registry_req *req;
    int fd;
    char *tmp_path;
    EVP_MD_CTX *md;
    int64_t got, unchecked;
    struct err nospace; /* why the download stopped for want of space */
    struct layer_wait *waiters;
    struct layer_fetch *prev, *next;
};

struct image_pull {
    struct image_service *s;
    char *spec;
    struct registry_auth auth; /* the kubelet's */
    /* The registry host the kubelet's credentials are for: server_address, or the image's own
     * registry; NULL for a short name resolved through the unqualified-search registries. */
    char *auth_host;
    bool searched;
    struct registry_auth node_auth; /* the current endpoint's, from global_auth_file */
    image_pull_cb cb;
    void *data;
    enum pull_state state;
    struct image_ref ref;
    struct image_ref *cands;
    size_t n_cands, i_cand;
    struct registries_endpoint *eps;
    size_t n_eps, i_ep;
    struct registry_target target;
    struct image_ref cur; /* the candidate being tried */
    struct registry_req *req;
    char *manifest_digest;
    struct image_manifest man;
    struct image_config cfg;
    char *config_text;
    char **chain_ids;
    size_t n_chain_ids;
    /* Layers this pull holds a reference on (found present, or unpacked for it): released when
     * the pull ends, so that a failed pull's layers go unless an image uses them. */
    bool *held;
    size_t layers_left;
    uint64_t unpacked; /* bytes its layers uncompress to, as far as they are in */
    struct layer_wait *waits;
    struct err err;
    struct buf tried; /* "endpoint: error; ..." for the final message */
    bool done;
    bool starting; /* inside image_pull_start: it frees a pull that ended at once */
    struct image_pull *prev, *next;
};

static void pull_fail(struct image_pull *p, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void try_endpoint(struct image_pull *p);

/* ---- completion ---- */

static void waits_drop(struct image_pull *p);

static void pull_free(struct image_pull *p)
{
    free(p->spec);
    image_registry_auth_done(&p->auth);
    free(p->auth_host);
    image_registry_auth_done(&p->node_auth);
    image_ref_done(&p->ref);
    for (size_t i = 0; i < p->n_cands; i++)
        image_ref_done(&p->cands[i]);
    free(p->cands);
    image_registries_endpoints_free(p->eps, p->n_eps);
    image_ref_done(&p->cur);
    for (size_t i = 0; i < p->n_chain_ids; i++) {
        if (p->held[i])
            storage_layer_unref(p->s->storage, p->chain_ids[i]);
        free(p->chain_ids[i]);
    }
    free(p->chain_ids);
    free(p->held);
    free(p->manifest_digest);
    image_manifest_done(&p->man);
    image_config_done(&p->cfg);
    free(p->config_text);
    err_done(&p->err);
    buf_done(&p->tried);
    free(p);
}

const char *const image_pull_reason_names[IMAGE_PULL_REASONS] = {
    [IMAGE_PULL_NOT_FOUND] = "not_found", [IMAGE_PULL_DENIED] = "denied",
    [IMAGE_PULL_INVALID] = "invalid",     [IMAGE_PULL_TOO_LARGE] = "too_large",
    [IMAGE_PULL_NO_SPACE] = "no_space",   [IMAGE_PULL_NETWORK] = "network",
    [IMAGE_PULL_TIMEOUT] = "timeout",     [IMAGE_PULL_CANCELLED] = "cancelled",
    [IMAGE_PULL_OTHER] = "other",
};

static enum image_pull_reason reason_of(int status)
{
    switch (-status) {
    case ENOENT:
        return IMAGE_PULL_NOT_FOUND;
    case EACCES:
    case EPERM:
        return IMAGE_PULL_DENIED;
    case EINVAL:
    case EBADMSG:
    case EPROTO:
        return IMAGE_PULL_INVALID;
    case EFBIG:
        return IMAGE_PULL_TOO_LARGE;
    case ENOSPC:
        return IMAGE_PULL_NO_SPACE;
    case ETIMEDOUT:
        return IMAGE_PULL_TIMEOUT;
    case ECANCELED:
        return IMAGE_PULL_CANCELLED;
    case EIO:
    case ECONNREFUSED:
    case ECONNRESET:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
        return IMAGE_PULL_NETWORK;
    default:
        return IMAGE_PULL_OTHER;
    }
}

const struct image_pull_counters *image_pull_counters(const struct image_service *s)
{
    return &s->counters;
}

static void pull_complete(struct image_pull *p, int status, const char *image_id)
{
    if (p->done)
        return;
    p->done = true;
    if (status == 0)
        p->s->counters.successes++;
    else
        p->s->counters.failures[reason_of(status)]++;
    /* A request in flight keeps p alive: its callback sees p->done and frees p. */
    bool outstanding = p->req != NULL;
    if (outstanding)
        image_registry_req_cancel(p->req);
    waits_drop(p);
    LIST_REMOVE(p->s->pulls, p);
    p->cb(status, image_id, &p->err, p->data);
    if (!outstanding && !p->starting)
        pull_free(p);
}

static void pull_fail(struct image_pull *p, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *m = xvasprintf(fmt, ap);
    va_end(ap);
    err_set(&p->err, code, "pull `%s`: %s", p->spec, m);
    pull_complete(p, code, NULL);
}

/* ---- store ---- */

/* The record is durable. A RemoveImage may have come since image_store_add (the record's removal is
 * queued behind its write): the pull still stored the image and answers with its ID. */
static void on_stored(int status, void *data)
{
    struct image_pull *p = data;
    if (status < 0) {
        pull_fail(p, status, "record the image: %s", strerror(-status));
        return;
    }
    log_info("pulled %s as %s", p->spec, p->man.config.digest);
    pull_complete(p, 0, p->man.config.digest);
}

static void layers_complete(struct image_pull *p)
{
    p->state = PULL_STORE;
    struct image_record *rec = xcalloc(1, sizeof(*rec));
    rec->id = xstrdup(p->man.config.digest);
    cleanup_free char *name = image_ref_name(&p->cur);
    if (p->cur.tag || !p->cur.digest) {
        rec->names = xcalloc(1, sizeof(char *));
        rec->names[rec->n_names++] = xasprintf("%s:%s", name, image_ref_tag(&p->cur));
    }
    rec->digests = xcalloc(1, sizeof(char *));
    rec->digests[rec->n_digests++] = xasprintf("%s@%s", name, p->manifest_digest);
    rec->n_layers = p->man.n_layers;
    rec->layers = xcalloc(rec->n_layers, sizeof(char *));
    uint64_t size = (uint64_t)p->man.config.size;
    for (size_t i = 0; i < rec->n_layers; i++) {
        rec->layers[i] = xstrdup(p->chain_ids[i]);
        size += (uint64_t)p->man.layers[i].size;
    }
    rec->size = size;
    rec->manifest_digest = xstrdup(p->manifest_digest);
    rec->config = TAKE_PTR(p->config_text);
    rec->user = p->cfg.user ? xstrdup(p->cfg.user) : xstrdup("");
    rec->pulled_at = (int64_t)time(NULL);
    image_store_add(p->s, rec, on_stored, p, NULL);
}

/* ---- layer fetches ---- */

/* Count layer i of p, now held, against max_image_size. False when that fails the pull (which
 * may be freed then). */
static bool count_layer(struct image_pull *p, size_t i)
{
    p->unpacked += storage_layer_size(p->s->storage, p->chain_ids[i]);
    if (p->unpacked <= p->s->max_image_size)
        return true;
    pull_fail(p, -EFBIG, "the image unpacks to more than %" PRIu64 " bytes (max_image_size)",
              p->s->max_image_size);
    return false;
}

static void fetch_free(struct layer_fetch *f)
{
    if (f->fd >= 0)
        close(f->fd);
    if (f->tmp_path)
        unlink(f->tmp_path);
    EVP_MD_CTX_free(f->md);
    err_done(&f->nospace);
    free(f->tmp_path);
    free(f->chain_id);
    free(f->digest);
    free(f->diff_id);
    free(f->domain);
    free(f->path);
    image_registry_auth_done(&f->auth);
    free(f);
}

static void fetch_start_next(struct image_service *s);

/* Tell every waiting pull; the fetch is gone afterwards. */
static void fetch_finish(struct layer_fetch *f, int status, const char *msg)
{
    struct image_service *s = f->s;
    LIST_REMOVE(s->fetches, f);
    if (f->started && !f->unpacking)
        s->downloads_active--; /* failed while downloading */
    /* The downloaded blob goes before anyone hears of the outcome. */
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp_path)
        unlink(f->tmp_path);
    free(f->tmp_path);
    f->tmp_path = NULL;
    /* A hold of the fetch's own while the waiters take theirs: a layer nobody waits for any more
     * (its pulls failed) is removed at the end. */
    if (status == 0)
        storage_layer_ref(s->storage, f->chain_id);
    while (f->waiters) {
        struct layer_wait *w = f->waiters;
        LIST_REMOVE(f->waiters, w);
        struct image_pull *p = w->pull;
        size_t idx = w->index;
        free(w);
        if (status < 0) {
            pull_fail(p, status, "layer %zu (%s): %s", idx + 1, f->digest, msg);
            continue;
        }
        storage_layer_ref(s->storage, f->chain_id);
        p->held[idx] = true;
        if (count_layer(p, idx) && --p->layers_left == 0)
            layers_complete(p);
    }
    if (status == 0)
        storage_layer_unref(s->storage, f->chain_id);
    fetch_free(f);
    fetch_start_next(s);
}

static void on_unpacked(int status, const char *msg, void *data)
{
    fetch_finish(data, status, msg);
}

static int fetch_on_data(const uint8_t *data, size_t len, void *arg)
{
    struct layer_fetch *f = arg;
    f->got += (int64_t)len;
    f->s->counters.bytes += len;
    if (f->got > f->size)
        return -EFBIG;
    f->unchecked += (int64_t)len;
    if (f->unchecked >= FREE_CHECK_BYTES) {
        f->unchecked = 0;
        if (storage_check_free(f->s->storage, &f->nospace) < 0)
            return -ENOSPC;
    }
    EVP_DigestUpdate(f->md, data, len);
    /* Chunks of at most curl's buffer into the page cache: small, fast writes, inline. */
    while (len > 0) {
        ssize_t n = write(f->fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static void fetch_on_restart(void *arg)
{
    struct layer_fetch *f = arg;
    f->got = 0;
    if (ftruncate(f->fd, 0) == 0)
        lseek(f->fd, 0, SEEK_SET);
    EVP_DigestInit_ex(f->md, digest_md(f->digest), NULL);
}

static void on_blob(int status, struct reactor_http_result *res, struct err *err, void *data)
{
    struct layer_fetch *f = data;
    f->req = NULL;
    if (status == -EFBIG) {
        fetch_finish(f, -EINVAL, "blob is larger than the manifest says");
        return;
    }
    if (status < 0 && f->nospace.code) {
        fetch_finish(f, f->nospace.code, err_msg(&f->nospace));
        return;
    }
    if (status < 0) {
        fetch_finish(f, status, err_msg(err));
        return;
    }
    if (f->got != f->size) {
        cleanup_free char *m = xasprintf("size mismatch: got %lld bytes, the manifest says %lld",
                                         (long long)f->got, (long long)f->size);
        fetch_finish(f, -EINVAL, m);
        return;
    }
    cleanup_free char *got =
        digest_final(f->md, strncmp(f->digest, "sha512:", 7) == 0 ? "sha512" : "sha256");
    if (strcmp(got, f->digest) != 0) {
        cleanup_free char *m = xasprintf("digest mismatch: content is %s", got);
        fetch_finish(f, -EINVAL, m);
        return;
    }
    close(f->fd);
    f->fd = -1;
    f->s->downloads_active--;
    f->unpacking = true;
    storage_layer_unpack(f->s->storage, f->tmp_path, f->diff_id, f->chain_id, on_unpacked, f);
    fetch_start_next(f->s);
}

static void fetch_begin(struct layer_fetch *f)
{
    struct image_service *s = f->s;
    f->started = true;
    s->downloads_active++;
    if (storage_check_free(s->storage, &f->nospace) < 0) {
        fetch_finish(f, f->nospace.code, err_msg(&f->nospace));
        return;
    }
    static unsigned seq;
    f->tmp_path = xasprintf("%s/blob-%u-%s", storage_tmp_dir(s->storage), ++seq, f->digest + 7);
    f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        cleanup_free char *m = xasprintf("create %s: %s", f->tmp_path, strerror(errno));
        free(f->tmp_path);
        f->tmp_path = NULL;
        fetch_finish(f, -errno, m);
        return;
    }
    f->md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(f->md, digest_md(f->digest), NULL);
    cleanup_free char *what = xasprintf("blobs/%s", f->digest);
    struct registry_get_opts o = {.on_data = fetch_on_data, .on_restart = fetch_on_restart};
    f->req = image_registry_get(s->client, &f->target, what, &o, on_blob, f);
}

static void fetch_start_next(struct image_service *s)
{
    bool again = true;
    while (again && s->downloads_active < s->max_downloads) {
        again = false;
        for (struct layer_fetch *f = s->fetches; f; f = f->next) {
            if (!f->started) {
                fetch_begin(f); /* may change the list: look again from the start */
                again = true;
                break;
            }
        }
    }
}

static void wait_for_layer(struct image_pull *p, size_t i)
{
    struct image_service *s = p->s;
    const struct image_descriptor *d = &p->man.layers[i];
    struct layer_fetch *f;
    for (f = s->fetches; f; f = f->next)
        if (strcmp(f->chain_id, p->chain_ids[i]) == 0)
            break;
    if (!f) {
        f = xcalloc(1, sizeof(*f));
        f->s = s;
        f->fd = -1;
        f->chain_id = xstrdup(p->chain_ids[i]);
        f->digest = xstrdup(d->digest);
        f->diff_id = xstrdup(p->cfg.diff_ids[i]);
        f->size = d->size;
        f->domain = xstrdup(p->target.domain);
        f->path = xstrdup(p->target.path);
        /* The credentials chosen for this endpoint, not simply the kubelet's. */
        const struct registry_auth *a = p->target.auth;
        if (a) {
            f->auth.username = a->username ? xstrdup(a->username) : NULL;
            f->auth.password = a->password ? xstrdup(a->password) : NULL;
            f->auth.identity_token = a->identity_token ? xstrdup(a->identity_token) : NULL;
            f->auth.registry_token = a->registry_token ? xstrdup(a->registry_token) : NULL;
        }
        f->target = (struct registry_target){f->domain, f->path, p->target.insecure, &f->auth};
        /* Appended: layers start in image order. */
        struct layer_fetch **tail = &s->fetches;
        struct layer_fetch *last = NULL;
        while (*tail) {
            last = *tail;
            tail = &(*tail)->next;
        }
        *tail = f;
        f->prev = last;
    }
    struct layer_wait *w = xcalloc(1, sizeof(*w));
    w->pull = p;
    w->index = i;
    LIST_PREPEND(f->waiters, w);
}

/* A pull that ends stops waiting; a fetch nobody waits for any more is cancelled. */
static void waits_drop(struct image_pull *p)
{
    struct image_service *s = p->s;
    for (struct layer_fetch *f = s->fetches, *next; f; f = next) {
        next = f->next;
        for (struct layer_wait *w = f->waiters, *wn; w; w = wn) {
            wn = w->next;
            if (w->pull == p) {
                LIST_REMOVE(f->waiters, w);
                free(w);
            }
        }
        if (!f->waiters && !f->unpacking) {
            if (f->req) {
                image_registry_req_cancel(
                    f->req); /* on_blob then finishes it, with no one to tell */
            } else if (!f->started) {
                LIST_REMOVE(s->fetches, f);
                fetch_free(f);
            }
        }
    }
}

static void fetch_layers(struct image_pull *p)
{
    p->state = PULL_LAYERS;
    size_t n = p->man.n_layers;
    p->chain_ids = xcalloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        p->chain_ids[i] = storage_chain_id(i ? p->chain_ids[i - 1] : NULL, p->cfg.diff_ids[i]);
    p->n_chain_ids = n;
    p->held = xcalloc(n ? n : 1, sizeof(bool));
    p->layers_left = 0;
    for (size_t i = 0; i < n; i++) {
        if (storage_layer_exists(p->s->storage, p->chain_ids[i])) {
            p->s->counters.layers_reused++;
            storage_layer_ref(p->s->storage, p->chain_ids[i]);
            p->held[i] = true;
            if (!count_layer(p, i))
                return; /* failed; waits taken so far were dropped */
        } else {
            p->layers_left++;
            wait_for_layer(p, i);
        }
    }
    if (p->layers_left == 0) {
        layers_complete(p);
        return;
    }
    fetch_start_next(p->s);
}

/* ---- manifest and config ---- */

static void request(struct image_pull *p, const char *what, const char *accept, size_t max,
                    registry_cb cb)
{
    struct registry_get_opts o = {.accept = accept, .max_body = max};
    p->req = image_registry_get(p->s->client, &p->target, what, &o, cb, p);
}

/* The request in flight has answered. True when the pull ended meanwhile: it is freed now (the
 * request kept it alive) and the answer is dropped. */
static bool request_answered(struct image_pull *p)
{
    p->req = NULL;
    if (!p->done)
        return false;
    pull_free(p);
    return true;
}

static void on_config(int status, struct reactor_http_result *res, struct err *err, void *data)
{
    struct image_pull *p = data;
    if (request_answered(p))
        return;
    if (status < 0) {
        pull_fail(p, status, "config %s: %s", p->man.config.digest, err_msg(err));
        return;
    }
    cleanup_free char *got = digest_of(p->man.config.digest, res->body.data, res->body.len);
    if (strcmp(got, p->man.config.digest) != 0 || (int64_t)res->body.len != p->man.config.size) {
        pull_fail(p, -EINVAL, "config %s: digest or size mismatch (content is %s, %zu bytes)",
                  p->man.config.digest, got, res->body.len);
        return;
    }
    struct err e = ERR_INIT;
    if (image_config_parse(res->body.data, res->body.len, &p->cfg, &e) < 0) {
        pull_fail(p, e.code, "config: %s", err_msg(&e));
        err_done(&e);
        return;
    }
    if (p->cfg.n_diff_ids != p->man.n_layers) {
        pull_fail(p, -EINVAL, "the config lists %zu layers, the manifest %zu", p->cfg.n_diff_ids,
                  p->man.n_layers);
        return;
    }
    p->config_text = xstrndup((const char *)res->body.data, res->body.len);
    fetch_layers(p);
}

static void on_manifest(int status, struct reactor_http_result *res, struct err *err, void *data);

static void got_manifest(struct image_pull *p, const struct reactor_http_result *res)
{
    image_manifest_done(&p->man);
    struct err e = ERR_INIT;
    if (image_manifest_parse(res->content_type, res->body.data, res->body.len, &p->man, &e) < 0) {
        pull_fail(p, e.code, "%s", err_msg(&e));
        err_done(&e);
        return;
    }
    if (p->man.kind == IMAGE_INDEX) {
        if (p->state == PULL_PLATFORM_MANIFEST) {
            pull_fail(p, -EINVAL, "an index refers to another index");
            return;
        }
        const char *os, *arch, *variant;
        const struct image_descriptor *d;
        image_platform_host(&os, &arch, &variant);
        if (image_index_select(&p->man, os, arch, variant, &d, &e) < 0) {
            pull_fail(p, e.code, "%s", err_msg(&e));
            err_done(&e);
            return;
        }
        free(p->manifest_digest);
        p->manifest_digest = xstrdup(d->digest);
        p->state = PULL_PLATFORM_MANIFEST;
        cleanup_free char *what = xasprintf("manifests/%s", d->digest);
        request(p, what, ACCEPT_MANIFESTS, IMAGE_MANIFEST_MAX, on_manifest);
        return;
    }
    p->state = PULL_CONFIG;
    cleanup_free char *what = xasprintf("blobs/%s", p->man.config.digest);
    request(p, what, NULL, CONFIG_MAX, on_config);
}

static void next_endpoint(struct image_pull *p, int status, const char *msg);
static void on_manifest(int status, struct reactor_http_result *res, struct err *err, void *data);

static void on_manifest(int status, struct reactor_http_result *res, struct err *err, void *data)
{
    struct image_pull *p = data;
    if (request_answered(p))
        return;
    if (status < 0) {
        if (p->state == PULL_MANIFEST)
            next_endpoint(p, status, err_msg(err));
        else
            pull_fail(p, status, "%s", err_msg(err));
        return;
    }
    /* The manifest is addressed by its digest: check it, whatever we asked by. */
    const char *want = p->state == PULL_PLATFORM_MANIFEST ? p->manifest_digest : p->cur.digest;
    cleanup_free char *got = digest_of(want, res->body.data, res->body.len);
    if (want && strcmp(got, want) != 0) {
        pull_fail(p, -EINVAL, "manifest digest mismatch: asked for %s, content is %s", want, got);
        return;
    }
    if (!want && res->docker_content_digest &&
        digest_md(res->docker_content_digest) == EVP_sha256() &&
        strcmp(res->docker_content_digest, got) != 0) {
        pull_fail(p, -EINVAL, "manifest digest mismatch: the registry says %s, content is %s",
                  res->docker_content_digest, got);
        return;
    }
    if (p->state == PULL_MANIFEST) {
        free(p->manifest_digest);
        p->manifest_digest = TAKE_PTR(got);
    }
    got_manifest(p, res);
}

static void request_manifest(struct image_pull *p)
{
    p->state = PULL_MANIFEST;
    cleanup_free char *what =
        xasprintf("manifests/%s", p->cur.digest ? p->cur.digest : image_ref_tag(&p->cur));
    struct registry_get_opts o = {.accept = ACCEPT_MANIFESTS, .max_body = IMAGE_MANIFEST_MAX};
    p->req = image_registry_get(p->s->client, &p->target, what, &o, on_manifest, p);
}

static void auth_from_cri(struct registry_auth *a, const struct image_auth *in);

static bool has_creds(const struct registry_auth *a)
{
    return a->username || a->identity_token || a->registry_token;
}

/* The kubelet's credentials go only to the registry host they were given for, and never to a
 * mirror (issue 14 item 6); any other endpoint gets the node's, from global_auth_file. */
static const struct registry_auth *endpoint_auth(struct image_pull *p,
                                                 const struct registries_endpoint *ep)
{
    if (has_creds(&p->auth) && !ep->mirror && p->auth_host &&
        strcasecmp(p->auth_host, ep->domain) == 0)
        return &p->auth;
    image_registry_auth_done(&p->node_auth);
    const struct image_auth *a = image_authfile_find(p->s->authfile, ep->domain, ep->path);
    if (!a)
        return NULL;
    auth_from_cri(&p->node_auth, a);
    return &p->node_auth;
}

/* Why the kubelet's credentials were not sent to the endpoint, for an "unauthorized" message. */
static char *withheld_note(const struct image_pull *p, const struct registries_endpoint *ep)
{
    if (!has_creds(&p->auth) || p->target.auth == &p->auth)
        return xstrdup("");
    if (ep->mirror)
        return xstrdup(" (the pull's credentials are not sent to mirrors)");
    if (!p->auth_host)
        return xstrdup(" (the pull's credentials name no registry: they are not sent to "
                       "unqualified-search registries)");
    return xasprintf(" (the pull's credentials are for `%s`)", p->auth_host);
}

/* Try the current candidate's next endpoint, then the next candidate. */
static void try_endpoint(struct image_pull *p)
{
    while (p->i_cand < p->n_cands) {
        if (!p->eps) {
            image_ref_done(&p->cur);
            const struct image_ref *c = &p->cands[p->i_cand];
            p->cur = (struct image_ref){xstrdup(c->domain), xstrdup(c->path),
                                        c->tag ? xstrdup(c->tag) : NULL,
                                        c->digest ? xstrdup(c->digest) : NULL};
            struct err e = ERR_INIT;
            cleanup_free char *full = image_ref_string(&p->cur);
            int r = image_policy_check(p->s->policy, "docker", full, &e);
            if (r == 0)
                r = image_registries_conf_endpoints(&p->s->reg, &p->cur, &p->eps, &p->n_eps, &e);
            if (r == -EACCES || r == -ENOTSUP)
                r = -EPERM; /* a decision of the node's configuration, not missing credentials */
            if (r < 0) {
                err_set(&p->err, r, "pull `%s`: %s", p->spec, err_msg(&e));
                err_done(&e);
                pull_complete(p, r, NULL);
                return;
            }
            p->i_ep = 0;
        }
        if (p->i_ep < p->n_eps) {
            const struct registries_endpoint *ep = &p->eps[p->i_ep];
            p->target =
                (struct registry_target){ep->domain, ep->path, ep->insecure, endpoint_auth(p, ep)};
            request_manifest(p);
            return;
        }
        image_registries_endpoints_free(p->eps, p->n_eps);
        p->eps = NULL;
        p->n_eps = 0;
        p->i_cand++;
    }
    cleanup_free char *tried = xstrndup((const char *)p->tried.data, p->tried.len);
    pull_fail(p, p->err.code ? p->err.code : -ENOENT, "%s", tried);
}

static void next_endpoint(struct image_pull *p, int status, const char *msg)
{
    const struct registries_endpoint *ep = &p->eps[p->i_ep];
    cleanup_free char *note = status == -EACCES ? withheld_note(p, ep) : xstrdup("");
    buf_printf(&p->tried, "%s%s%s: %s%s", p->tried.len ? "; " : "", ep->mirror ? "mirror " : "",
               ep->name, msg, note);
    /* The most telling failure wins: anything but "not found". */
    if (p->err.code == 0 || p->err.code == -ENOENT)
        p->err.code = status;
    p->i_ep++;
    try_endpoint(p);
}

/* ---- start ---- */

static void auth_from_cri(struct registry_auth *a, const struct image_auth *in)
{
    if (!in)
        return;
    if (in->username && *in->username) {
        a->username = xstrdup(in->username);
        a->password = xstrdup(in->password ? in->password : "");
    } else if (in->auth && *in->auth) {
        struct buf dec = {0};
        if (base64_decode(in->auth, strlen(in->auth), &dec) == 0) {
            char *colon = memchr(dec.data, ':', dec.len);
            if (colon) {
                a->username = xstrndup((char *)dec.data, (size_t)(colon - (char *)dec.data));
                a->password = xstrdup(colon + 1);
            }
        }
        buf_done(&dec);
    }
    if (in->identity_token && *in->identity_token)
        a->identity_token = xstrdup(in->identity_token);
    if (in->registry_token && *in->registry_token)
        a->registry_token = xstrdup(in->registry_token);
}

static int candidates(struct image_pull *p, struct err *err)
{
    const struct registries_conf *reg = &p->s->reg;
    if (p->ref.domain) {
        p->cands = xcalloc(1, sizeof(*p->cands));
        p->cands[0] = (struct image_ref){xstrdup(p->ref.domain), xstrdup(p->ref.path),
                                         p->ref.tag ? xstrdup(p->ref.tag) : NULL,
                                         p->ref.digest ? xstrdup(p->ref.digest) : NULL};
        p->n_cands = 1;
        return 0;
    }
    const char *alias = image_registries_conf_alias(reg, p->ref.path);
    if (alias) {
        cleanup_free char *full =
            xasprintf("%s%s%s%s%s", alias, p->ref.tag ? ":" : "", p->ref.tag ? p->ref.tag : "",
                      p->ref.digest ? "@" : "", p->ref.digest ? p->ref.digest : "");
        p->cands = xcalloc(1, sizeof(*p->cands));
        p->n_cands = 1;
        return image_ref_parse(full, &p->cands[0], err);
    }
    p->searched = true;
    static const char *const fallback[] = {"docker.io"};
    const char *const *search = reg->n_search ? (const char *const *)reg->search : fallback;
    size_t n = reg->n_search ? reg->n_search : 1;
    p->cands = xcalloc(n, sizeof(*p->cands));
    for (size_t i = 0; i < n; i++) {
        int r = image_ref_qualify(&p->ref, search[i], &p->cands[p->n_cands], err);
        if (r < 0)
            return r;
        p->n_cands++;
    }
    return 0;
}

struct image_pull *image_pull_start(struct image_service *s, const char *spec,
                                    const struct image_auth *auth, image_pull_cb cb, void *data)
{
    struct image_pull *p = xcalloc(1, sizeof(*p));
    p->s = s;
    p->spec = xstrdup(spec);
    p->cb = cb;
    p->data = data;
    auth_from_cri(&p->auth, auth);
    LIST_PREPEND(s->pulls, p);
    struct err e = ERR_INIT;
    int r = image_ref_parse(spec, &p->ref, &e);
    if (r == 0)
        r = candidates(p, &e);
    if (r < 0) {
        err_set(&p->err, r, "invalid image reference `%s`: %s", spec, err_msg(&e));
        err_done(&e);
        pull_complete(p, r, NULL);
        return NULL;
    }
    if (auth && auth->server_address && *auth->server_address)
        p->auth_host = image_auth_host(auth->server_address);
    else if (!p->searched)
        p->auth_host = xstrdup(p->cands[0].domain);
    p->starting = true;
    try_endpoint(p);
    p->starting = false;
    if (p->done) {
        if (!p->req)
            pull_free(p);
        return NULL;
    }
    return p;
}

void image_pull_cancel(struct image_pull *p)
{
    /* Once the layers are in, the record is being written: let that finish and report. */
    if (!p || p->done || p->state == PULL_STORE)
        return;
    err_set(&p->err, -ECANCELED, "pull `%s`: cancelled", p->spec);
    pull_complete(p, -ECANCELED, NULL);
}

void image_pulls_cancel_all(struct image_service *s)
{
    for (struct image_pull *p = s->pulls, *next; p; p = next) {
        next = p->next;
        image_pull_cancel(p);
    }
}
