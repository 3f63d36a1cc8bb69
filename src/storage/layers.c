/* The layer store: unpacking on the thread pool (verified against the diff ID), de-duplication
 * of concurrent unpacks, reference counts, removal and disk usage. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <openssl/evp.h>

#define DEFAULT_MAX_LAYER_SIZE (UINT64_C(64) << 30)

#include "common/digest.h"
#include "common/fsutil.h"
#include "common/list.h"
#include "common/macro.h"
#include "storage/extract.h"
#include "storage/storage-internal.h"
#include "storage/storage.h"

struct unpack_waiter {
    storage_unpack_cb cb;
    void *data;
    struct unpack_waiter *next;
};

struct unpack {
    uv_work_t work;
    struct storage *s;
    char *blob_path, *diff_id, *chain_id, *tmp_dir, *final_dir;
    uint64_t size; /* of the uncompressed tar stream */
    int status;
    char *msg;
    struct unpack_waiter *waiters;
    struct unpack *prev, *next;
};

char *storage_chain_id(const char *parent_chain_id, const char *diff_id)
{
    if (!parent_chain_id)
        return xstrdup(diff_id);
    cleanup_free char *in = xasprintf("%s %s", parent_chain_id, diff_id);
    return digest_of(NULL, in, strlen(in));
}

static const char *hex_of(const char *digest)
{
    const char *c = strchr(digest, ':');
    return c ? c + 1 : digest;
}

char *storage_layer_dir(struct storage *s, const char *chain_id)
{
    return xasprintf("%s/%s/diff", s->layers, hex_of(chain_id));
}

bool storage_layer_exists(struct storage *s, const char *chain_id)
{
    cleanup_free char *d = storage_layer_dir(s, chain_id);
    struct stat st;
    return stat(d, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The size file beside a layer's diff/: decimal bytes of its uncompressed tar stream. */
uint64_t storage_layer_size(struct storage *s, const char *chain_id)
{
    cleanup_free char *path = xasprintf("%s/%s/size", s->layers, hex_of(chain_id));
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    char text[32];
    ssize_t n = fd >= 0 ? read(fd, text, sizeof(text) - 1) : -1;
    if (n <= 0)
        return 0;
    text[n] = '\0';
    return strtoull(text, NULL, 10);
}

static uint64_t free_bytes(const struct statvfs *st)
{
    return (uint64_t)st->f_bavail * (uint64_t)st->f_frsize;
}

int storage_check_free(struct storage *s, struct err *err)
{
    struct statvfs st;
    if (!s->opts.min_free || statvfs(s->root, &st) < 0 || free_bytes(&st) >= s->opts.min_free)
        return 0;
    return err_set(err, -ENOSPC,
                   "the image filesystem (%s) has %" PRIu64 " bytes free, less than the %" PRIu64
                   " bytes min_free_space keeps",
                   s->root, free_bytes(&st), s->opts.min_free);
}

const char *storage_tmp_dir(struct storage *s)
{
    return s->tmp;
}

const char *storage_layers_dir(struct storage *s)
{
    return s->layers;
}

int storage_new(uv_loop_t *loop, const char *root, const struct storage_opts *opts,
                struct storage **ret, struct err *err)
{
    struct storage *s = xcalloc(1, sizeof(*s));
    s->loop = loop;
    s->root = xstrdup(root);
    s->layers = xasprintf("%s/layers", root);
    s->tmp = xasprintf("%s/tmp", root);
    s->opts = *opts;
    if (!s->opts.max_layer_size)
        s->opts.max_layer_size = DEFAULT_MAX_LAYER_SIZE;
    /* Start-up, before the loop runs: an interrupted download or unpack leaves only tmp/. */
    int r = fs_remove_tree(s->tmp);
    if (r == 0)
        r = fs_mkdir_p(s->tmp, 0700);
    if (r == 0)
        r = fs_mkdir_p(s->layers, 0700);
    if (r < 0) {
        err_set(err, r, "layer store %s: %s", root, strerror(-r));
        storage_free(s);
        return r;
    }
    *ret = s;
    return 0;
}

void storage_free(struct storage *s)
{
    if (!s)
        return;
    while (s->refs) {
        struct layer_ref *l = s->refs;
        LIST_REMOVE(s->refs, l);
        free(l->chain_id);
        free(l);
    }
    free(s->root);
    free(s->layers);
    free(s->tmp);
    free(s);
}

/* ---- unpacking (pool thread) ---- */

/* The diff ID of the blob at path, and the size of its uncompressed stream; a stream longer
 * than max stops the pass before anything is written. */
static int hash_uncompressed(const char *path, uint64_t max, char **ret_digest, uint64_t *ret_size,
                             char **ret_msg)
{
    uint64_t size = 0;
    struct archive *a = archive_read_new();
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_raw(a);
    archive_read_support_format_empty(a);
    int r = -EINVAL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    struct archive_entry *e;
    if (archive_read_open_filename(a, path, 65536) != ARCHIVE_OK) {
        *ret_msg = xasprintf("open layer blob: %s", archive_error_string(a));
        goto out;
    }
    int hr = archive_read_next_header(a, &e);
    if (hr == ARCHIVE_OK) {
        const void *buf;
        size_t len;
        int64_t off;
        int dr;
        while ((dr = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
            if (len > max - size) {
                r = -EFBIG;
                *ret_msg = xasprintf(
                    "the layer uncompresses to more than %" PRIu64 " bytes (max_image_size)", max);
                goto out;
            }
            size += len;
            EVP_DigestUpdate(md, buf, len);
        }
        if (dr != ARCHIVE_EOF) {
            *ret_msg = xasprintf("decompress layer: %s", archive_error_string(a));
            goto out;
        }
    } else if (hr != ARCHIVE_EOF) {
        *ret_msg = xasprintf("decompress layer: %s", archive_error_string(a));
        goto out;
    }
    *ret_digest = digest_final(md, "sha256");
    *ret_size = size;
    r = 0;
out:
    EVP_MD_CTX_free(md);
    archive_read_free(a);
    return r;
}

static void do_unpack(uv_work_t *w)
{
    struct unpack *u = container_of(w, struct unpack, work);
    cleanup_free char *digest = NULL;
    u->status =
        hash_uncompressed(u->blob_path, u->s->opts.max_layer_size, &digest, &u->size, &u->msg);
    if (u->status < 0)
        return;
    if (strcmp(digest, u->diff_id) != 0) {
        u->status = -EINVAL;
        u->msg = xasprintf("layer content is %s, but the image config says %s", digest, u->diff_id);
        return;
    }
    cleanup_free char *diff = xasprintf("%s/diff", u->tmp_dir);
    int r = fs_mkdir_p(diff, 0755);
    cleanup_close int dfd = r == 0 ? open(diff, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    cleanup_close int bfd = open(u->blob_path, O_RDONLY | O_CLOEXEC);
    if (r < 0 || dfd < 0 || bfd < 0) {
        u->status = r < 0 ? r : -errno;
        u->msg = xasprintf("prepare layer directory: %s", strerror(-u->status));
        return;
    }
    struct storage_extract_opts eo = {.allow_devices = u->s->opts.allow_devices,
                                      .max_bytes = u->s->opts.max_layer_size,
                                      .min_free = u->s->opts.min_free};
    struct storage_extract_stats st;
    struct err err = ERR_INIT;
    u->status = storage_extract_fd(bfd, dfd, &eo, &st, &err);
    if (u->status < 0) {
        u->msg = xstrdup(err_msg(&err));
        err_done(&err);
        return;
    }
    cleanup_free char *size_path = xasprintf("%s/size", u->tmp_dir);
    cleanup_free char *size = xasprintf("%" PRIu64 "\n", u->size);
    r = fs_write_atomic(size_path, size, strlen(size), 0644);
    if (r < 0) {
        u->status = r;
        u->msg = xasprintf("record the layer's size: %s", strerror(-r));
        return;
    }
    /* The layer appears whole or not at all. */
    if (rename(u->tmp_dir, u->final_dir) < 0 && errno != EEXIST && errno != ENOTEMPTY) {
        u->status = -errno;
        u->msg = xasprintf("store layer: %s", strerror(errno));
    }
}

static void unpack_free(struct unpack *u)
{
    free(u->blob_path);
    free(u->diff_id);
    free(u->chain_id);
    free(u->tmp_dir);
    free(u->final_dir);
    free(u->msg);
    free(u);
}

static void cleanup_tmp(uv_work_t *w)
{
    struct unpack *u = container_of(w, struct unpack, work);
    fs_remove_tree(u->tmp_dir);
}

static void notify(struct unpack *u)
{
    LIST_REMOVE(u->s->unpacks, u);
    struct unpack_waiter *wt = u->waiters;
    while (wt) {
        struct unpack_waiter *next = wt->next;
        wt->cb(u->status, u->msg, wt->data);
        free(wt);
        wt = next;
    }
    u->waiters = NULL;
    unpack_free(u);
}

static void on_cleanup_done(uv_work_t *w, int status)
{
    struct unpack *u = container_of(w, struct unpack, work);
    u->s->pending_work--;
    notify(u);
}

static void on_unpack_done(uv_work_t *w, int status)
{
    struct unpack *u = container_of(w, struct unpack, work);
    struct storage *s = u->s;
    s->pending_work--;
    if (status == UV_ECANCELED && u->status == 0) {
        u->status = -ECANCELED;
        u->msg = xstrdup("cancelled");
    }
    if (u->status < 0) {
        /* Nothing of a failed layer is kept: remove the partial tree first, then report. */
        s->pending_work++;
        uv_queue_work(s->loop, &u->work, cleanup_tmp, on_cleanup_done);
        return;
    }
    notify(u);
}

void storage_layer_unpack(struct storage *s, const char *blob_path, const char *diff_id,
                          const char *chain_id, storage_unpack_cb cb, void *data)
{
    struct unpack_waiter *w = xcalloc(1, sizeof(*w));
    w->cb = cb;
    w->data = data;
    for (struct unpack *u = s->unpacks; u; u = u->next) {
        if (strcmp(u->chain_id, chain_id) == 0) {
            w->next = u->waiters;
            u->waiters = w;
            return;
        }
    }
    struct unpack *u = xcalloc(1, sizeof(*u));
    u->s = s;
    u->blob_path = xstrdup(blob_path);
    u->diff_id = xstrdup(diff_id);
    u->chain_id = xstrdup(chain_id);
    u->tmp_dir = xasprintf("%s/layer-%u-%s", s->tmp, ++s->tmp_seq, hex_of(chain_id));
    u->final_dir = xasprintf("%s/%s", s->layers, hex_of(chain_id));
    u->waiters = w;
    LIST_PREPEND(s->unpacks, u);
    s->pending_work++;
    uv_queue_work(s->loop, &u->work, do_unpack, on_unpack_done);
}

/* ---- references ---- */

static struct layer_ref *find_ref(struct storage *s, const char *chain_id)
{
    for (struct layer_ref *l = s->refs; l; l = l->next)
        if (strcmp(l->chain_id, chain_id) == 0)
            return l;
    return NULL;
}

void storage_layer_ref(struct storage *s, const char *chain_id)
{
    struct layer_ref *l = find_ref(s, chain_id);
    if (!l) {
        l = xcalloc(1, sizeof(*l));
        l->chain_id = xstrdup(chain_id);
        LIST_PREPEND(s->refs, l);
    }
    l->refs++;
}

struct removal {
    uv_work_t work;
    struct storage *s;
    char *dir;
};

static void do_remove(uv_work_t *w)
{
    struct removal *r = container_of(w, struct removal, work);
    fs_remove_tree(r->dir);
}

static void on_removed(uv_work_t *w, int status)
{
    struct removal *r = container_of(w, struct removal, work);
    r->s->pending_work--;
    free(r->dir);
    free(r);
}

/* The layer leaves its chain ID at once (a rename into tmp/, inline), so that a pull looking
 * for it right after never finds a half-removed tree; the tree itself goes on the pool (and
 * tmp/ is emptied at start if a crash came first). */
void storage_remove_later(struct storage *s, const char *dir, const char *name)
{
    char *doomed = xasprintf("%s/removing-%u-%s", s->tmp, ++s->tmp_seq, name);
    if (rename(dir, doomed) < 0) {
        free(doomed);
        return;
    }
    struct removal *r = xcalloc(1, sizeof(*r));
    r->s = s;
    r->dir = doomed;
    s->pending_work++;
    uv_queue_work(s->loop, &r->work, do_remove, on_removed);
}

void storage_layer_unref(struct storage *s, const char *chain_id)
{
    struct layer_ref *l = find_ref(s, chain_id);
    if (!l || --l->refs > 0)
        return;
    LIST_REMOVE(s->refs, l);
    cleanup_free char *dir = xasprintf("%s/%s", s->layers, hex_of(chain_id));
    storage_remove_later(s, dir, hex_of(chain_id));
    free(l->chain_id);
    free(l);
}

void storage_prune(struct storage *s)
{
    DIR *d = opendir(s->layers);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        cleanup_free char *id = xasprintf("sha256:%s", e->d_name);
        if (!find_ref(s, id)) {
            cleanup_free char *dir = xasprintf("%s/%s", s->layers, e->d_name);
            storage_remove_later(s, dir, e->d_name);
        }
    }
    closedir(d);
}

struct usage {
    uv_work_t work;
    struct storage *s;
    int status;
    uint64_t bytes, inodes;
    storage_usage_cb cb;
    void *data;
};

static void do_usage(uv_work_t *w)
{
    struct usage *u = container_of(w, struct usage, work);
    u->status = fs_usage(u->s->layers, &u->bytes, &u->inodes);
}

static void on_usage(uv_work_t *w, int status)
{
    struct usage *u = container_of(w, struct usage, work);
    u->s->pending_work--;
    u->cb(status < 0 ? status : u->status, u->bytes, u->inodes, u->data);
    free(u);
}

void storage_usage(struct storage *s, storage_usage_cb cb, void *data)
{
    struct usage *u = xcalloc(1, sizeof(*u));
    u->s = s;
    u->cb = cb;
    u->data = data;
    s->pending_work++;
    uv_queue_work(s->loop, &u->work, do_usage, on_usage);
}
