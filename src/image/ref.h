/* Image references (name[:tag][@digest]) as the distribution reference grammar defines them, with
 * Docker Hub's normalisation; pure string functions. */
#ifndef CRIB_IMAGE_REF_H
#define CRIB_IMAGE_REF_H

#include <stdbool.h>

#include "common/err.h"

/* Longest repository name ("domain/path") the grammar allows. */
#define IMAGE_REF_NAME_MAX 255

struct image_ref {
    char *domain; /* "docker.io", "registry.k8s.io", "127.0.0.1:5000"; NULL for a short name */
    char *path;   /* "library/busybox" (for docker.io single-component names "library/" is added);
                     for a short name the path as written ("busybox", "foo/bar") */
    char *tag;    /* NULL if none was written */
    char *digest; /* "sha256:<64 hex>" or "sha512:<128 hex>", NULL if none */
};

/* Parse name[:tag][@digest]. The first component of a name with a '/' is a domain when it has a
 * '.' or ':', is "localhost", or has an uppercase letter (Docker's rule: a repository cannot);
 * otherwise the name is short (domain NULL) and is resolved later through the
 * unqualified-search registries. "docker.io/busybox" -> docker.io/library/busybox;
 * "index.docker.io" is docker.io. A bracketed IPv6 host ("[::1]:5000") is accepted. A malformed
 * reference is -EINVAL with the reason (uppercase in the repository, bad tag, bad digest, empty
 * component, too long, ...). A bare 64-hex string or "sha256:<64 hex>" is -EINVAL "looks like an
 * image ID" so that the caller can try it as an ID. *ret is zeroed on failure. */
int image_ref_parse(const char *s, struct image_ref *ret, struct err *err);
/* Qualify a short name with a registry domain (applies the docker.io library/ rule); a ref that
 * is already qualified is copied unchanged. */
int image_ref_qualify(const struct image_ref *short_ref, const char *domain, struct image_ref *ret,
                      struct err *err);
/* "domain/path" ("path" for a short name). */
char *image_ref_name(const struct image_ref *r);
/* "domain/path:tag", "domain/path@digest" or "domain/path:tag@digest"; a ref with neither tag
 * nor digest prints ":latest". */
char *image_ref_string(const struct image_ref *r);
/* The tag, or "latest" when neither tag nor digest was written; NULL for a digest-only ref. */
const char *image_ref_tag(const struct image_ref *r);
void image_ref_done(struct image_ref *r);
/* Docker Hub's rules: index.docker.io is docker.io, whose one-component paths get "library/".
 * Replaces the strings in place. */
void image_ref_docker_hub(char **domain, char **path);
/* "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>". */
bool image_digest_valid(const char *digest);
/* host[:port] as the grammar allows a registry domain ("registry.k8s.io", "localhost:5000",
 * "[::1]:5000"). */
bool image_ref_domain_valid(const char *domain);
/* A repository path: lowercase components separated by '/' (no domain, tag or digest). */
bool image_ref_path_valid(const char *path);

#endif
