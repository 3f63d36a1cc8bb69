/* The layer store: each image layer unpacked once into a directory keyed by its chain ID, in
 * overlayfs form; reference counts; disk usage. */
#ifndef CRIB_STORAGE_H
#define CRIB_STORAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"

struct storage;

struct storage_opts {
    bool allow_devices;      /* device nodes in layers */
    uint64_t max_layer_size; /* bytes a layer may uncompress to (max_image_size); 0: 64 GiB */
    uint64_t min_free;       /* bytes to leave free on the store's filesystem; 0: no floor */
};

/* Open the store under root (root/layers, root/tmp); removes leftovers of interrupted unpacks. */
int storage_new(uv_loop_t *loop, const char *root, const struct storage_opts *opts,
                struct storage **ret, struct err *err);
void storage_free(struct storage *s);

/* "sha256:<hex>" chain ID of diff_id on top of parent (NULL for the first layer). */
char *storage_chain_id(const char *parent_chain_id, const char *diff_id);
bool storage_layer_exists(struct storage *s, const char *chain_id);
/* The layer's directory (root/layers/<hex>/diff); the caller frees it. */
char *storage_layer_dir(struct storage *s, const char *chain_id);

typedef void (*storage_unpack_cb)(int status, const char *msg, void *data);
/* Unpack the layer blob at blob_path (tar, gzip or zstd) as chain_id, on the thread pool; the
 * uncompressed content must hash to diff_id. Concurrent unpacks of one chain ID share the work.
 * The callback gets 0, or a negative errno and a message. */
void storage_layer_unpack(struct storage *s, const char *blob_path, const char *diff_id,
                          const char *chain_id, storage_unpack_cb cb, void *data);

/* Bytes the layer's tar stream uncompressed to (recorded when it was unpacked; 0 for a layer
 * unpacked before sizes were recorded). A small read, inline. */
uint64_t storage_layer_size(struct storage *s, const char *chain_id);
/* -ENOSPC and a message when the store's filesystem has less than min_free bytes free. One
 * statvfs, inline. */
int storage_check_free(struct storage *s, struct err *err);

/* Layers are kept while referenced (by images, later by containers); the last unref removes
 * the directory on the thread pool. References are counted in memory: the image store
 * re-establishes them at start. */
void storage_layer_ref(struct storage *s, const char *chain_id);
void storage_layer_unref(struct storage *s, const char *chain_id);
/* Remove layer directories that nothing references (after images and containers have
 * loaded). */
void storage_prune(struct storage *s);

typedef void (*storage_usage_cb)(int status, uint64_t bytes, uint64_t inodes, void *data);
/* Bytes and inodes used by the layers, walked on the thread pool. */
void storage_usage(struct storage *s, storage_usage_cb cb, void *data);
const char *storage_tmp_dir(struct storage *s);

/* Mount the root filesystem of container id at root/overlay-containers/<id>/merged: an overlay of
 * the layers (chain IDs, bottom first) under a writable layer of the container's own. The layers
 * are referenced until storage_rootfs_remove. Called again (after a restart) it keeps the writable
 * layer and the mount if it is still there. */
int storage_rootfs_mount(struct storage *s, const char *id, char *const *layers, size_t n,
                         char **ret_path, struct err *err);
/* Unmount, drop the layer references and delete the writable layer (on the thread pool).
 * Returns the unmount's error, if any (the rest is done anyway). */
int storage_rootfs_remove(struct storage *s, const char *id, char *const *layers, size_t n);
const char *storage_layers_dir(struct storage *s);
/* The writable layer (overlay upper directory) of container id. */
char *storage_rootfs_upper(struct storage *s, const char *id);

#endif
