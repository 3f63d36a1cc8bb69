/* Shared between image/'s files: the service state, layer fetches, the store's internals. */
#ifndef CRIB_IMAGE_INTERNAL_H
#define CRIB_IMAGE_INTERNAL_H

#include "image/authfile.h"
#include "image/image.h"
#include "image/policy.h"
#include "image/registries.h"
#include "image/registry.h"
#include "reactor/reactor.h"

struct layer_fetch;

struct image_service {
    uv_loop_t *loop;
    struct storage *storage;
    char *images_dir;
    struct registries_conf reg;
    struct image_policy *policy;
    char *policy_path;
    struct image_authfile *authfile; /* global_auth_file, or NULL */
    struct reactor_http *http;
    struct registry_client *client;
    struct image_record *images;
    struct image_pull *pulls;
    struct layer_fetch *fetches;
    unsigned downloads_active, max_downloads;
    uint64_t max_image_size;
    struct reactor_fileq *writes; /* record writes, in order */
    struct image_pull_counters counters;
};

/* store.c */
int image_store_load(struct image_service *s, struct err *err);
typedef void (*store_done_cb)(int status, void *data);
/* Add a pulled image (taking rec): names move to it from other images; an image already stored
 * under the same ID gains the names and digests. The record is durable when cb runs. */
void image_store_add(struct image_service *s, struct image_record *rec, store_done_cb cb,
                     void *data, const struct image_record **ret_stored);
void image_store_record_free(struct image_record *rec);
void image_store_free_all(struct image_service *s);

/* pull.c */
void image_pulls_cancel_all(struct image_service *s);

#endif
