/* The image module: references, registries configuration, the registry client, pulls with
 * verified concurrent downloads, and the image store. */
#ifndef CRIB_IMAGE_H
#define CRIB_IMAGE_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/err.h"
#include "storage/storage.h"

struct image_service;

struct image_service_opts {
    const char *root;             /* records go to root/images */
    const char *registries_conf;  /* registries.conf(5) path; its .d directory is read too */
    const char *certs_dir;        /* /etc/containers/certs.d */
    const char *global_auth_file; /* containers-auth.json(5); "" or missing: none */
    const char *signature_policy; /* containers-policy.json(5); missing: accept anything */
    long pull_progress_timeout;   /* seconds without a byte before a download fails; 0 off */
    unsigned max_parallel_downloads;
    uint64_t max_image_size; /* bytes an image's layers may uncompress to, together; 0 none */
};

/* A stored image. Read-only for callers; valid until the next change of the store. */
struct image_record {
    char *id;     /* "sha256:<hex>": the config digest */
    char **names; /* repo tags, "docker.io/library/busybox:latest" */
    size_t n_names;
    char **digests; /* repo digests, "docker.io/library/busybox@sha256:..." */
    size_t n_digests;
    char **layers; /* chain IDs, bottom first */
    size_t n_layers;
    char *manifest_digest;
    char *config;      /* the image config JSON as pulled */
    char *user;        /* config.User */
    uint64_t size;     /* config + compressed layers, as the manifest says */
    int64_t pulled_at; /* unix seconds */
    struct image_record *prev, *next;
};

int image_service_new(uv_loop_t *loop, struct storage *storage,
                      const struct image_service_opts *opts, struct image_service **ret,
                      struct err *err);
/* Cancel pulls in flight (their callbacks run with -ECANCELED) and close outgoing connections,
 * on the loop. Required before image_service_free, which runs after the loop has ended. */
void image_service_shutdown(struct image_service *s);
void image_service_free(struct image_service *s);

const struct image_record *image_store_first(struct image_service *s);
/* Find by ID ("sha256:<hex>", "<hex>", or a unique hex prefix of at least 3 characters), by
 * name ("busybox", "docker.io/library/busybox:latest") or by digest reference. NULL if none;
 * -EINVAL in err for a spec that is neither an ID nor a valid reference. */
const struct image_record *image_store_find(struct image_service *s, const char *spec,
                                            struct err *err);
/* Remove an image: its record, and its layers when nothing else uses them. */
int image_store_remove(struct image_service *s, const struct image_record *img, struct err *err);

/* The kubelet's AuthConfig. server_address names the registry the credentials are for
 * ("quay.io", "https://index.docker.io/v1/"); empty: the image's own registry. */
struct image_auth {
    const char *username, *password, *auth, *identity_token, *registry_token;
    const char *server_address;
};
struct image_pull;
typedef void (*image_pull_cb)(int status, const char *image_id, struct err *err, void *data);
/* Pull ref (short names go through the unqualified-search registries) with optional
 * credentials. The callback runs exactly once: 0 and the image's ID (only the ID: a RemoveImage
 * may have removed the image again by then), or a negative errno and err
 * (-EINVAL bad reference, -ENOENT not found, -EACCES unauthorized, -EPERM blocked or refused by the
 * signature policy, -EIO, ...). It may
 * run before image_pull_start returns (which then returns NULL) and inside image_pull_cancel. */
struct image_pull *image_pull_start(struct image_service *s, const char *ref,
                                    const struct image_auth *auth, image_pull_cb cb, void *data);
void image_pull_cancel(struct image_pull *p);

/* Why pulls failed, for the metrics (from the errno a pull ended with). */
enum image_pull_reason {
    IMAGE_PULL_NOT_FOUND,
    IMAGE_PULL_DENIED, /* unauthorized, or the signature policy */
    IMAGE_PULL_INVALID,
    IMAGE_PULL_TOO_LARGE,
    IMAGE_PULL_NO_SPACE,
    IMAGE_PULL_NETWORK,
    IMAGE_PULL_TIMEOUT,
    IMAGE_PULL_CANCELLED,
    IMAGE_PULL_OTHER,
    IMAGE_PULL_REASONS
};
extern const char *const image_pull_reason_names[IMAGE_PULL_REASONS];
struct image_pull_counters {
    uint64_t bytes;         /* layer bytes downloaded */
    uint64_t successes;     /* pulls that stored their image */
    uint64_t layers_reused; /* layers a pull found in the store already */
    uint64_t failures[IMAGE_PULL_REASONS];
};
const struct image_pull_counters *image_pull_counters(const struct image_service *s);

/* Load images from an OCI image layout (a directory or a tar of one) or a `docker save`
 * archive at path, verified as a pull is. name (optional) names an image the archive leaves
 * unnamed. The callback runs once, later, with the stored images. */
typedef void (*image_load_cb)(int status, const struct image_record *const *imgs, size_t n,
                              struct err *err, void *data);
void image_load_start(struct image_service *s, const char *path, const char *name, image_load_cb cb,
                      void *data);

typedef void (*image_usage_cb)(int status, uint64_t bytes, uint64_t inodes, void *data);
void image_store_usage(struct image_service *s, image_usage_cb cb, void *data);
const char *image_store_root(struct image_service *s);

#endif
