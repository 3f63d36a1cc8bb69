/* Offline load for air-gapped nodes: an OCI image layout (directory or tar archive) or a
 * `docker save` archive into the store, through the same checks as a pull: manifest, config and
 * layer digests and sizes, diff IDs at unpack, safe extraction. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "common/digest.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "image/image-internal.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "storage/extract.h"

#define JSON_MAX (4u << 20)
#define MAX_IMAGES IMAGE_DOCKER_IMAGES_MAX

struct load_layer {
    char *path, *diff_id, *chain_id;
};

struct load_image {
    struct image_record *rec; /* handed to the store once the layers are in */
    struct load_layer *layers;
    size_t n_layers;
};

struct image_load {
    struct image_service *s;
    char *path, *name, *tmp_dir, *root;
    const char *transport; /* for the signature policy: oci, oci-archive, docker-archive */
    bool holding;          /* a reference on each layer of imgs */
    int rootfd;
    image_load_cb cb;
    void *data;
    uv_work_t work;
    struct load_image *imgs;
    size_t n_imgs;
    size_t pending;
    int status;
    struct err err;
    char **stored_ids; /* IDs, not records: a RemoveImage may come before the load ends */
};

/* ---- files beneath the layout's root (never through a symlink out of it) ---- */

static int open_beneath(int rootfd, const char *rel)
{
    return fs_open_beneath(rootfd, rel, O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
}

static int read_beneath(struct image_load *l, const char *rel, size_t max, struct buf *out)
{
    cleanup_close int fd = open_beneath(l->rootfd, rel);
    if (fd < 0)
        return err_set(&l->err, fd, "%s: %s", rel, strerror(-fd));
    int r = fs_read_fd(fd, max, out);
    if (r == -EFBIG)
        return err_set(&l->err, r, "%s is larger than %zu bytes", rel, max);
    return r < 0 ? err_set(&l->err, r, "read %s: %s", rel, strerror(-r)) : 0;
}

/* Check a blob file's size and digest (hashing it: this runs on the pool). */
static int verify_blob(struct image_load *l, const char *rel, const char *digest, int64_t size)
{
    bool sha512 = strncmp(digest, "sha512:", 7) == 0;
    cleanup_close int fd = open_beneath(l->rootfd, rel);
    if (fd < 0)
        return err_set(&l->err, fd, "%s: %s", rel, strerror(-fd));
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, sha512 ? EVP_sha512() : EVP_sha256(), NULL);
    int64_t total = 0;
    static __thread char chunk[1 << 16];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
        EVP_DigestUpdate(md, chunk, (size_t)n);
        total += n;
    }
    cleanup_free char *got = digest_final(md, sha512 ? "sha512" : "sha256");
    EVP_MD_CTX_free(md);
    if (n < 0)
        return err_set(&l->err, -errno, "read %s: %s", rel, strerror(errno));
    if (size >= 0 && total != size)
        return err_set(&l->err, -EINVAL, "%s: size mismatch: %lld bytes, the manifest says %lld",
                       rel, (long long)total, (long long)size);
    if (strcmp(got, digest) != 0)
        return err_set(&l->err, -EINVAL, "%s: digest mismatch: content is %s", rel, got);
    return 0;
}

static char *blob_rel(const char *digest)
{
    const char *colon = strchr(digest, ':');
    return xasprintf("blobs/%.*s/%s", (int)(colon - digest), digest, colon + 1);
}

/* ---- building records ---- */

static char *normalise_name(const char *name)
{
    struct image_ref ref, q;
    struct err e = ERR_INIT;
    char *out = NULL;
    if (image_ref_parse(name, &ref, &e) == 0) {
        if (ref.domain) {
            out = image_ref_string(&ref);
        } else if (image_ref_qualify(&ref, "docker.io", &q, &e) == 0) {
            out = image_ref_string(&q);
            image_ref_done(&q);
        }
        image_ref_done(&ref);
    }
    err_done(&e);
    return out;
}

static void add_name(struct image_record *r, char *name)
{
    if (!name)
        return;
    for (size_t i = 0; i < r->n_names; i++) {
        if (strcmp(r->names[i], name) == 0) {
            free(name);
            return;
        }
    }
    r->names = xrealloc(r->names, (r->n_names + 1) * sizeof(char *));
    r->names[r->n_names++] = name;
}

/* A record from a verified config; layers as given (paths beneath the root). */
static int new_image(struct image_load *l, const char *config, size_t config_len,
                     const char *config_digest, char **layer_paths, size_t n_layers,
                     uint64_t layers_size, struct load_image *out)
{
    struct image_config cfg;
    struct err e = ERR_INIT;
    if (image_config_parse(config, config_len, &cfg, &e) < 0) {
        int r = err_set(&l->err, e.code, "config %s: %s", config_digest, err_msg(&e));
        err_done(&e);
        return r;
    }
    if (cfg.n_diff_ids != n_layers) {
        image_config_done(&cfg);
        return err_set(&l->err, -EINVAL, "the config lists %zu layers, the manifest %zu",
                       cfg.n_diff_ids, n_layers);
    }
    struct image_record *r = xcalloc(1, sizeof(*r));
    r->id = xstrdup(config_digest);
    r->config = xstrndup(config, config_len);
    r->user = xstrdup(cfg.user ? cfg.user : "");
    r->size = config_len + layers_size;
    r->pulled_at = (int64_t)time(NULL);
    r->n_layers = n_layers;
    r->layers = xcalloc(n_layers ? n_layers : 1, sizeof(char *));
    out->layers = xcalloc(n_layers ? n_layers : 1, sizeof(*out->layers));
    out->n_layers = n_layers;
    for (size_t i = 0; i < n_layers; i++) {
        r->layers[i] = storage_chain_id(i ? r->layers[i - 1] : NULL, cfg.diff_ids[i]);
        out->layers[i].path = xasprintf("%s/%s", l->root, layer_paths[i]);
        out->layers[i].diff_id = xstrdup(cfg.diff_ids[i]);
        out->layers[i].chain_id = xstrdup(r->layers[i]);
    }
    out->rec = r;
    image_config_done(&cfg);
    return 0;
}

/* ---- OCI image layout ---- */

static const char *annotation(const cJSON *desc, const char *key)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(desc, "annotations");
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static char *oci_name(struct image_load *l, const cJSON *desc)
{
    const char *full = annotation(desc, "io.containerd.image.name");
    const char *ref = annotation(desc, "org.opencontainers.image.ref.name");
    if (full)
        return normalise_name(full);
    if (ref && strpbrk(ref, "/:"))
        return normalise_name(ref);
    if (l->name && ref) {
        cleanup_free char *n = xasprintf("%s:%s", l->name, ref);
        return normalise_name(n);
    }
    return NULL;
}

static int read_manifest(struct image_load *l, const struct image_descriptor *d,
                         struct image_manifest *m)
{
    cleanup_free char *rel = blob_rel(d->digest);
    int r = verify_blob(l, rel, d->digest, d->size);
    struct buf text = {0};
    if (r == 0)
        r = read_beneath(l, rel, IMAGE_MANIFEST_MAX, &text);
    struct err e = ERR_INIT;
    if (r == 0 && image_manifest_parse(d->media_type, text.data, text.len, m, &e) < 0)
        r = err_set(&l->err, e.code, "manifest %s: %s", d->digest, err_msg(&e));
    err_done(&e);
    buf_done(&text);
    return r;
}

/* The manifest an index picks for this machine, into inner; *pick is its descriptor. */
static int select_manifest(struct image_load *l, const struct image_manifest *index,
                           const struct image_descriptor **pick, struct image_manifest *inner)
{
    const char *os, *arch, *variant;
    struct err e = ERR_INIT;
    int r = 0;
    image_platform_host(&os, &arch, &variant);
    if (image_index_select(index, os, arch, variant, pick, &e) < 0)
        r = err_set(&l->err, e.code, "%s", err_msg(&e));
    err_done(&e);
    if (r == 0)
        r = read_manifest(l, *pick, inner);
    if (r == 0 && inner->kind != IMAGE_MANIFEST)
        r = err_set(&l->err, -EINVAL, "an index refers to another index");
    return r;
}

static int read_config(struct image_load *l, const struct image_manifest *man, struct buf *config)
{
    cleanup_free char *crel = blob_rel(man->config.digest);
    int r = verify_blob(l, crel, man->config.digest, man->config.size);
    if (r == 0)
        r = read_beneath(l, crel, IMAGE_CONFIG_MAX, config);
    return r;
}

/* Each layer's path in the layout (every one filled, for the caller to free), checked against its
 * digest and size until one fails; *size adds their sizes. */
static int verify_layers(struct image_load *l, const struct image_manifest *man, char **paths,
                         uint64_t *size)
{
    int r = 0;
    for (size_t i = 0; i < man->n_layers; i++) {
        paths[i] = blob_rel(man->layers[i].digest);
        *size += (uint64_t)man->layers[i].size;
        if (r == 0)
            r = verify_blob(l, paths[i], man->layers[i].digest, man->layers[i].size);
    }
    return r;
}

/* repo@digest for each name of the image that parses as a reference. */
static void add_digests(struct image_record *rec, const char *digest)
{
    for (size_t i = 0; i < rec->n_names; i++) {
        struct image_ref ref;
        struct err e = ERR_INIT;
        if (image_ref_parse(rec->names[i], &ref, &e) == 0) {
            cleanup_free char *repo = image_ref_name(&ref);
            rec->digests = xrealloc(rec->digests, (rec->n_digests + 1) * sizeof(char *));
            rec->digests[rec->n_digests++] = xasprintf("%s@%s", repo, digest);
            image_ref_done(&ref);
        }
        err_done(&e);
    }
}

static int oci_image(struct image_load *l, const struct image_descriptor *d, char *name,
                     struct load_image *out)
{
    struct image_manifest m = {0}, inner = {0};
    const struct image_descriptor *pick = d;
    struct buf config = {0};
    cleanup_free char **paths = NULL;
    uint64_t size = 0;
    int r = read_manifest(l, d, &m);
    if (r == 0 && m.kind == IMAGE_INDEX)
        r = select_manifest(l, &m, &pick, &inner);
    struct image_manifest *man = m.kind == IMAGE_INDEX ? &inner : &m;
    if (r == 0)
        r = read_config(l, man, &config);
    if (r == 0) {
        paths = xcalloc(man->n_layers ? man->n_layers : 1, sizeof(char *));
        r = verify_layers(l, man, paths, &size);
    }
    if (r == 0)
        r = new_image(l, (const char *)config.data, config.len, man->config.digest, paths,
                      man->n_layers, size, out);
    if (r == 0) {
        out->rec->manifest_digest = xstrdup(pick->digest);
        add_name(out->rec, TAKE_PTR(name));
        add_digests(out->rec, pick->digest);
    }
    for (size_t i = 0; paths && i < man->n_layers; i++)
        free(paths[i]);
    free(name);
    buf_done(&config);
    image_manifest_done(&m);
    image_manifest_done(&inner);
    return r;
}

static int oci_layout(struct image_load *l)
{
    struct buf text = {0};
    int r = read_beneath(l, "index.json", JSON_MAX, &text);
    struct image_manifest idx = {0};
    struct err e = ERR_INIT;
    if (r == 0 && image_manifest_parse(IMAGE_MEDIA_OCI_INDEX, text.data, text.len, &idx, &e) < 0)
        r = err_set(&l->err, e.code, "index.json: %s", err_msg(&e));
    err_done(&e);
    cJSON *j = r == 0 ? cJSON_Parse((const char *)text.data) : NULL;
    const cJSON *entries = cJSON_GetObjectItemCaseSensitive(j, "manifests");
    if (r == 0 && idx.n_manifests == 0)
        r = err_set(&l->err, -EINVAL, "index.json lists no image");
    if (r == 0 && idx.n_manifests > MAX_IMAGES)
        r = err_set(&l->err, -EINVAL, "index.json lists more than %d images", MAX_IMAGES);
    if (r == 0)
        l->imgs = xcalloc(idx.n_manifests, sizeof(*l->imgs));
    for (size_t i = 0; r == 0 && i < idx.n_manifests; i++) {
        char *name = oci_name(l, cJSON_GetArrayItem(entries, (int)i));
        if (!name && l->name && idx.n_manifests == 1)
            name = normalise_name(l->name);
        r = oci_image(l, &idx.manifests[i], name, &l->imgs[l->n_imgs]);
        if (r == 0)
            l->n_imgs++;
    }
    cJSON_Delete(j);
    image_manifest_done(&idx);
    buf_done(&text);
    return r;
}

/* ---- docker save ---- */

static int docker_entry(struct image_load *l, const struct image_docker_entry *de,
                        struct load_image *out)
{
    struct buf config = {0};
    int r = read_beneath(l, de->config, IMAGE_CONFIG_MAX, &config);
    uint64_t size = 0;
    for (size_t i = 0; r == 0 && i < de->n_layers; i++) {
        struct stat st;
        cleanup_close int fd = open_beneath(l->rootfd, de->layers[i]);
        if (fd < 0 || fstat(fd, &st) < 0)
            r = err_set(&l->err, -ENOENT, "layer %s is missing", de->layers[i]);
        else
            size += (uint64_t)st.st_size;
    }
    cleanup_free char *id = NULL;
    if (r == 0) {
        id = digest_of(NULL, config.data, config.len);
        /* diff IDs are checked when each layer is unpacked. */
        r = new_image(l, (const char *)config.data, config.len, id, de->layers, de->n_layers, size,
                      out);
    }
    if (r == 0) {
        out->rec->manifest_digest = xstrdup("");
        for (size_t i = 0; i < de->n_repo_tags; i++)
            add_name(out->rec, normalise_name(de->repo_tags[i]));
        if (l->name)
            add_name(out->rec, normalise_name(l->name));
    }
    buf_done(&config);
    return r;
}

static int docker_archive(struct image_load *l)
{
    struct buf text = {0};
    struct image_docker_entry *entries = NULL;
    size_t n = 0;
    int r = read_beneath(l, "manifest.json", JSON_MAX, &text);
    if (r == 0)
        r = image_docker_manifest_parse(text.data, text.len, &entries, &n, &l->err);
    if (r == 0)
        l->imgs = xcalloc(n, sizeof(*l->imgs));
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = docker_entry(l, &entries[i], &l->imgs[l->n_imgs]);
        if (r == 0)
            l->n_imgs++;
    }
    image_docker_entries_free(entries, n);
    buf_done(&text);
    return r;
}

/* ---- the pool job ---- */

static bool exists_beneath(int rootfd, const char *rel)
{
    int fd = open_beneath(rootfd, rel);
    if (fd >= 0)
        close(fd);
    return fd >= 0;
}

static void do_prepare(uv_work_t *w)
{
    struct image_load *l = container_of(w, struct image_load, work);
    struct stat st;
    if (stat(l->path, &st) < 0) {
        l->status = err_set(&l->err, -errno, "%s: %s", l->path, strerror(errno));
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        l->root = xstrdup(l->path);
    } else {
        /* An archive: unpacked (safely) into a private directory first. */
        int r = fs_mkdir_p(l->tmp_dir, 0700);
        cleanup_close int dfd = r == 0 ? open(l->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        cleanup_close int afd = open(l->path, O_RDONLY | O_CLOEXEC);
        struct storage_extract_opts eo = {.allow_devices = false};
        struct storage_extract_stats es;
        struct err e = ERR_INIT;
        if (dfd < 0 || afd < 0)
            r = err_set(&l->err, -errno, "%s: %s", l->path, strerror(errno));
        else if (storage_extract_fd(afd, dfd, &eo, &es, &e) < 0)
            r = err_set(&l->err, e.code, "%s: %s", l->path, err_msg(&e));
        err_done(&e);
        if (r < 0) {
            l->status = r;
            return;
        }
        l->root = xstrdup(l->tmp_dir);
    }
    l->rootfd = open(l->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (l->rootfd < 0) {
        l->status = err_set(&l->err, -errno, "%s: %s", l->root, strerror(errno));
        return;
    }
    bool dir = strcmp(l->root, l->path) == 0;
    if (exists_beneath(l->rootfd, "index.json") && exists_beneath(l->rootfd, "oci-layout")) {
        l->transport = dir ? "oci" : "oci-archive";
        l->status = oci_layout(l);
    } else if (exists_beneath(l->rootfd, "manifest.json")) {
        l->transport = "docker-archive";
        l->status = docker_archive(l);
    } else
        l->status = err_set(&l->err, -EINVAL,
                            "%s is neither an OCI image layout nor a docker save archive", l->path);
}

static void do_cleanup(uv_work_t *w)
{
    struct image_load *l = container_of(w, struct image_load, work);
    fs_remove_tree(l->tmp_dir);
}

static void load_free(struct image_load *l)
{
    for (size_t i = 0; i < l->n_imgs; i++) {
        image_store_record_free(l->imgs[i].rec);
        for (size_t k = 0; k < l->imgs[i].n_layers; k++) {
            free(l->imgs[i].layers[k].path);
            free(l->imgs[i].layers[k].diff_id);
            free(l->imgs[i].layers[k].chain_id);
        }
        free(l->imgs[i].layers);
    }
    free(l->imgs);
    for (size_t i = 0; l->stored_ids && i < l->n_imgs; i++)
        free(l->stored_ids[i]);
    free(l->stored_ids);
    if (l->rootfd >= 0)
        close(l->rootfd);
    free(l->path);
    free(l->name);
    free(l->tmp_dir);
    free(l->root);
    err_done(&l->err);
    free(l);
}

static void on_cleaned(uv_work_t *w, int status)
{
    load_free(container_of(w, struct image_load, work));
}

static void finish(struct image_load *l)
{
    for (size_t i = 0; l->holding && i < l->n_imgs; i++)
        for (size_t k = 0; k < l->imgs[i].n_layers; k++)
            storage_layer_unref(l->s->storage, l->imgs[i].layers[k].chain_id);
    l->holding = false;
    /* Images removed since they were stored are reported by their ID alone. */
    size_t n = l->status == 0 ? l->n_imgs : 0;
    cleanup_free const struct image_record **imgs = xcalloc(n ? n : 1, sizeof(*imgs));
    cleanup_free struct image_record *gone = xcalloc(n ? n : 1, sizeof(*gone));
    for (size_t i = 0; i < n; i++) {
        struct err e = ERR_INIT;
        imgs[i] = image_store_find(l->s, l->stored_ids[i], &e);
        err_done(&e);
        if (!imgs[i]) {
            gone[i].id = l->stored_ids[i];
            imgs[i] = &gone[i];
        }
    }
    l->cb(l->status, l->status == 0 ? imgs : NULL, n, &l->err, l->data);
    if (l->rootfd >= 0)
        close(l->rootfd);
    l->rootfd = -1;
    uv_queue_work(l->s->loop, &l->work, do_cleanup, on_cleaned);
}

static void on_stored(int status, void *data)
{
    struct image_load *l = data;
    if (status < 0 && l->status == 0)
        l->status = err_set(&l->err, status, "record the image: %s", strerror(-status));
    if (--l->pending == 0)
        finish(l);
}

static void store_all(struct image_load *l)
{
    l->stored_ids = xcalloc(l->n_imgs, sizeof(*l->stored_ids));
    l->pending = l->n_imgs;
    for (size_t i = 0; i < l->n_imgs; i++) {
        l->stored_ids[i] = xstrdup(l->imgs[i].rec->id);
        image_store_add(l->s, TAKE_PTR(l->imgs[i].rec), on_stored, l, NULL);
        log_info("loaded %s as %s", l->path, l->stored_ids[i]);
    }
}

static void on_unpacked(int status, const char *msg, void *data)
{
    struct image_load *l = data;
    if (status < 0 && l->status == 0)
        l->status = err_set(&l->err, status, "layer: %s", msg);
    if (--l->pending > 0)
        return;
    if (l->status < 0)
        finish(l);
    else
        store_all(l);
}

static void on_prepared(uv_work_t *w, int status)
{
    struct image_load *l = container_of(w, struct image_load, work);
    if (l->status == 0) {
        int r = image_policy_check(l->s->policy, l->transport, l->path, &l->err);
        if (r < 0)
            l->status = l->err.code = -EPERM;
    }
    if (l->status < 0) {
        err_wrap(&l->err, "load %s", l->path);
        finish(l);
        return;
    }
    l->pending = 1; /* held while the unpacks start */
    /* Every layer is held until the load ends: a failed load's layers then go, unless an image
     * uses them. */
    l->holding = true;
    for (size_t i = 0; i < l->n_imgs; i++) {
        for (size_t k = 0; k < l->imgs[i].n_layers; k++) {
            struct load_layer *ly = &l->imgs[i].layers[k];
            storage_layer_ref(l->s->storage, ly->chain_id);
            if (storage_layer_exists(l->s->storage, ly->chain_id))
                continue;
            l->pending++;
            storage_layer_unpack(l->s->storage, ly->path, ly->diff_id, ly->chain_id, on_unpacked,
                                 l);
        }
    }
    on_unpacked(0, NULL, l);
}

void image_load_start(struct image_service *s, const char *path, const char *name, image_load_cb cb,
                      void *data)
{
    static unsigned seq;
    struct image_load *l = xcalloc(1, sizeof(*l));
    l->s = s;
    l->path = xstrdup(path);
    l->name = name && *name ? xstrdup(name) : NULL;
    l->tmp_dir = xasprintf("%s/load-%u", storage_tmp_dir(s->storage), ++seq);
    l->rootfd = -1;
    l->cb = cb;
    l->data = data;
    uv_queue_work(s->loop, &l->work, do_prepare, on_prepared);
}
