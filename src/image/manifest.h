/* Image manifests, indexes (Docker schema 2 and OCI) and image configs: strict parsing of the JSON
 * documents a registry serves, and picking this machine's entry out of an index. No I/O. */
#ifndef CRIB_IMAGE_MANIFEST_H
#define CRIB_IMAGE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define IMAGE_MANIFEST_MAX (4u << 20)
/* Image configs carry history and labels; they may be somewhat larger than manifests. */
#define IMAGE_CONFIG_MAX (8u << 20)
/* Most layers in a manifest and entries in an index. */
#define IMAGE_MANIFEST_ENTRIES_MAX 1000
/* Most entries in each list of an image config (Env, Entrypoint, Cmd, Volumes, ExposedPorts,
 * Labels): far more than any real image has, and what every container of the image then
 * carries through its spec. */
#define IMAGE_CONFIG_LIST_MAX 10000

#define IMAGE_MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define IMAGE_MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define IMAGE_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define IMAGE_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
/* What to send in Accept: when fetching a manifest by tag or digest. */
#define IMAGE_MANIFEST_ACCEPT                                                                      \
    IMAGE_MEDIA_OCI_INDEX ", " IMAGE_MEDIA_DOCKER_LIST ", " IMAGE_MEDIA_OCI_MANIFEST               \
                          ", " IMAGE_MEDIA_DOCKER_MANIFEST

enum image_manifest_kind { IMAGE_MANIFEST, IMAGE_INDEX };

struct image_platform {
    char *os, *architecture, *variant; /* as written; NULL when absent */
};

struct image_descriptor {
    char *media_type;
    char *digest;
    int64_t size;
    struct image_platform platform; /* index entries only */
};

struct image_manifest {
    enum image_manifest_kind kind;
    char *media_type;                /* one of the four IMAGE_MEDIA_* types */
    struct image_descriptor config;  /* IMAGE_MANIFEST */
    struct image_descriptor *layers; /* IMAGE_MANIFEST */
    size_t n_layers;
    struct image_descriptor *manifests; /* IMAGE_INDEX */
    size_t n_manifests;
};

enum image_layer_compression { IMAGE_LAYER_NONE, IMAGE_LAYER_GZIP, IMAGE_LAYER_ZSTD };

/* Parse a manifest or index. content_type is the HTTP Content-Type (may be NULL or a generic
 * type like application/json; then the document's mediaType decides, and without one the
 * presence of `manifests` or `config`/`layers`). Checks: schemaVersion 2 (schema 1 is refused
 * with "Docker schema 1 manifests are not supported; re-push the image with a current client"),
 * mediaType consistent with content_type when both are specific, no document that is both a
 * manifest and an index, known media types for config (Docker container config / OCI config;
 * anything else (e.g. a Helm chart or artifact) refused "not a container image: config media
 * type X"), known layer media types (Docker rootfs.diff.tar.gzip, OCI layer .tar, .tar+gzip,
 * .tar+zstd; the nondistributable/foreign variants too; anything else refused naming it), every
 * digest valid, sizes >= 0 and present, at most IMAGE_MANIFEST_ENTRIES_MAX layers / index
 * entries, input at most IMAGE_MANIFEST_MAX (-EFBIG). Keys read that appear twice (in any case)
 * are refused, so no two parsers can read different documents out of one. *ret is zeroed on
 * failure. */
int image_manifest_parse(const char *content_type, const void *data, size_t len,
                         struct image_manifest *ret, struct err *err);
void image_manifest_done(struct image_manifest *m);
/* From a layer media type: IMAGE_LAYER_GZIP for +gzip/.tar.gzip, IMAGE_LAYER_ZSTD for
 * +zstd/.tar.zstd, otherwise IMAGE_LAYER_NONE. */
enum image_layer_compression image_layer_compression(const char *media_type);

/* Pick the entry of an index for os/architecture/variant (variant may be NULL). Architecture
 * names normalised (x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7, i686 -> 386); arm64 with
 * no variant matches v8; arm with no variant prefers v7, then v6, then v5 (and arm/vN accepts
 * vN down to v5); an entry without variant serves a request with one. Only entries that are
 * image manifests count; entries with platform os "unknown" (attestations) never match; among
 * equally good entries the first wins. -ENOENT "no image for linux/amd64 in the index
 * (available: linux/arm64, linux/s390x)" when none fits. */
int image_index_select(const struct image_manifest *index, const char *os, const char *arch,
                       const char *variant, const struct image_descriptor **ret, struct err *err);
/* This machine's platform as an index speaks of it ("linux", "amd64", NULL), from compile-time
 * defines. */
void image_platform_host(const char **ret_os, const char **ret_arch, const char **ret_variant);

struct image_config {
    char *architecture, *os, *variant;
    char *user, *working_dir, *stop_signal;
    char **env;
    size_t n_env;
    char **entrypoint;
    size_t n_entrypoint;
    char **cmd;
    size_t n_cmd;
    char **volumes; /* keys of config.Volumes */
    size_t n_volumes;
    char **exposed_ports; /* keys of config.ExposedPorts: "80/tcp" */
    size_t n_exposed_ports;
    char **label_keys, **label_values;
    size_t n_labels;
    char **diff_ids; /* rootfs.diff_ids, each a valid digest */
    size_t n_diff_ids;
    char *created; /* RFC 3339 string as written, or NULL */
};

/* Parse an image config (Docker or OCI), at most IMAGE_CONFIG_MAX bytes. rootfs.type must be
 * "layers"; diff_ids required and valid (at most IMAGE_MANIFEST_ENTRIES_MAX); config fields
 * optional (null allowed; a null label value reads as ""), each list at most
 * IMAGE_CONFIG_LIST_MAX entries ("too many entries in config.Env (at most 10000)"). *ret is
 * zeroed on failure. */
int image_config_parse(const void *data, size_t len, struct image_config *ret, struct err *err);
void image_config_done(struct image_config *c);

/* One image of a `docker save` archive's manifest.json. */
struct image_docker_entry {
    char *config;  /* path of the config beneath the archive's root */
    char **layers; /* paths of the layer tars beneath the root, bottom first */
    size_t n_layers;
    char **repo_tags; /* as written */
    size_t n_repo_tags;
};
/* Most images in one manifest.json. */
#define IMAGE_DOCKER_IMAGES_MAX 256

/* Parse a `docker save` manifest.json (at most IMAGE_MANIFEST_MAX bytes): a non-empty list of
 * at most IMAGE_DOCKER_IMAGES_MAX objects, each with Config (a path) and Layers (at most
 * IMAGE_MANIFEST_ENTRIES_MAX paths) and optional RepoTags (at most IMAGE_MANIFEST_ENTRIES_MAX
 * strings). Paths are relative and never name `..`; they are not checked against files here.
 * *ret and *ret_n are NULL and 0 on failure. */
int image_docker_manifest_parse(const void *data, size_t len, struct image_docker_entry **ret,
                                size_t *ret_n, struct err *err);
void image_docker_entries_free(struct image_docker_entry *e, size_t n);

#endif
