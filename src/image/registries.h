/* registries.conf (containers-registries.conf(5), version 2): search registries, per-prefix
 * mirrors, rewriting, insecure and blocked registries, short-name aliases. Pure: the caller reads
 * the files and hands their text in. */
#ifndef CRIB_IMAGE_REGISTRIES_H
#define CRIB_IMAGE_REGISTRIES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "image/ref.h"

/* pull-from-mirror: which pulls a mirror serves. */
enum registries_pull_from {
    REGISTRIES_PULL_ALL, /* "all", the default */
    REGISTRIES_PULL_DIGEST_ONLY,
    REGISTRIES_PULL_TAG_ONLY,
};

/* short-name-mode; crib never prompts, so enforcing and permissive differ only in name. */
enum registries_short_name_mode {
    REGISTRIES_SHORT_NAME_PERMISSIVE, /* the default */
    REGISTRIES_SHORT_NAME_ENFORCING,
    REGISTRIES_SHORT_NAME_DISABLED,
};

struct registries_mirror {
    char *location;
    bool insecure;
    enum registries_pull_from pull_from; /* pull-from-mirror */
};

struct registries_entry {
    char *prefix;   /* defaults to location; "*.example.com" matches subdomains */
    char *location; /* "" only for a wildcard prefix: no rewriting */
    bool insecure;
    bool blocked;
    bool mirror_by_digest_only; /* mirrors serve only pulls by digest */
    struct registries_mirror *mirrors;
    size_t n_mirrors;
    char *origin; /* name of the document that defined the entry, for messages */
};

struct registries_conf {
    char **search; /* unqualified-search-registries */
    size_t n_search;
    struct registries_entry *entries;
    size_t n_entries;
    enum registries_short_name_mode short_name_mode;
    char **alias_names;  /* [aliases]: short name ("busybox", "foo/bar") ... */
    char **alias_values; /* ... to a fully qualified name without tag or digest */
    size_t n_aliases;
};

struct registries_endpoint {
    char *
        name; /* repository name rewritten for this endpoint: "mirror.local:5000/library/busybox" */
    char *domain; /* "mirror.local:5000" */
    char *path;   /* "library/busybox" */
    bool insecure;
    bool mirror;
};

void image_registries_conf_init(struct registries_conf *c);
/* Apply one document (main file or a drop-in; later documents add entries, and a later entry
 * with the same prefix replaces the earlier one; unqualified-search-registries and
 * short-name-mode replace when present; aliases merge, an empty value removing one). name is
 * used in errors: "file:line:col: ...". Unknown keys are errors. v1 tables ([registries.search]
 * etc.) are refused with a message saying v1 is not supported. credential-helpers and
 * additional-layer-store-auth-helper are checked for type and ignored. On failure c is left as
 * it was. */
int image_registries_conf_apply(struct registries_conf *c, const char *name, const char *text,
                                size_t len, struct err *err);
void image_registries_conf_done(struct registries_conf *c);
/* The entry whose prefix matches the name "domain/path" best (longest prefix; a prefix matches
 * the name itself or the name followed by "/"; "*.example.com" matches any subdomain of
 * example.com, with or without a port), or NULL. */
const struct registries_entry *image_registries_conf_find(const struct registries_conf *c,
                                                          const char *name);
/* The fully qualified name an alias maps a short name (without tag or digest) to, or NULL. */
const char *image_registries_conf_alias(const struct registries_conf *c, const char *short_name);
/* Endpoints to try for a fully qualified ref, in order: the mirrors that serve this kind of pull
 * (by tag or by digest, per mirror-by-digest-only and pull-from-mirror), then the primary
 * location (prefix rewritten to location). -EACCES "registry `x` is blocked by prefix `p` in
 * <file>" when the entry is blocked; -EINVAL for a short name. With no matching entry: one
 * endpoint, the name itself, secure. */
int image_registries_conf_endpoints(const struct registries_conf *c, const struct image_ref *ref,
                                    struct registries_endpoint **ret, size_t *ret_n,
                                    struct err *err);
void image_registries_endpoints_free(struct registries_endpoint *e, size_t n);

#endif
