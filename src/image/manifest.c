/* Manifests, indexes and image configs: strict cJSON-based parsing of what a registry serves, the
 * media types crib can run, and platform selection in an index. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/macro.h"
#include "image/manifest.h"
#include "image/ref.h"

/* Longest string from a document quoted back in a message. */
#define QUOTE_MAX 100
/* Longest media type accepted (RFC 6838 allows 127 + '/' + 127). */
#define MEDIA_TYPE_MAX 255
/* Most platforms listed in "no image for ..." messages. */
#define AVAILABLE_MAX 16

enum doc_type {
    DOC_GENERIC, /* no, a generic or an unknown content type: the document decides */
    DOC_DOCKER_MANIFEST,
    DOC_DOCKER_LIST,
    DOC_OCI_MANIFEST,
    DOC_OCI_INDEX,
    DOC_SCHEMA1,
};

static const char *const doc_media_types[] = {
    [DOC_DOCKER_MANIFEST] = IMAGE_MEDIA_DOCKER_MANIFEST,
    [DOC_DOCKER_LIST] = IMAGE_MEDIA_DOCKER_LIST,
    [DOC_OCI_MANIFEST] = IMAGE_MEDIA_OCI_MANIFEST,
    [DOC_OCI_INDEX] = IMAGE_MEDIA_OCI_INDEX,
};

static const char *const config_media_types[] = {
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.config.v1+json",
};

static const char *const layer_media_types[] = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
};

static const char schema1_msg[] =
    "Docker schema 1 manifests are not supported; re-push the image with a current client";

static bool in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

/* The first QUOTE_MAX bytes of s for "%.*s" in messages. */
static int qlen(const char *s)
{
    size_t n = strlen(s);
    return (int)(n > QUOTE_MAX ? QUOTE_MAX : n);
}

/* A media type, with parameters (";charset=utf-8") and surrounding blanks ignored. */
static enum doc_type classify(const char *type, size_t n)
{
    while (n > 0 && (type[0] == ' ' || type[0] == '\t')) {
        type++;
        n--;
    }
    while (n > 0 && (type[n - 1] == ' ' || type[n - 1] == '\t'))
        n--;
    for (size_t i = 0; i < ARRAY_SIZE(doc_media_types); i++)
        if (doc_media_types[i] && strlen(doc_media_types[i]) == n &&
            strncasecmp(type, doc_media_types[i], n) == 0)
            return (enum doc_type)i;
    static const char *const v1[] = {"application/vnd.docker.distribution.manifest.v1+json",
                                     "application/vnd.docker.distribution.manifest.v1+prettyjws"};
    for (size_t i = 0; i < ARRAY_SIZE(v1); i++)
        if (strlen(v1[i]) == n && strncasecmp(type, v1[i], n) == 0)
            return DOC_SCHEMA1;
    return DOC_GENERIC;
}

static enum doc_type classify_header(const char *content_type)
{
    if (!content_type)
        return DOC_GENERIC;
    return classify(content_type, strcspn(content_type, ";"));
}

/* Parse JSON text of exactly len bytes (no NUL inside, nothing after the value but blanks). */
static int parse_json(const void *data, size_t len, const char *what, cJSON **ret, struct err *err)
{
    *ret = NULL;
    if (memchr(data, '\0', len))
        return err_set(err, -EINVAL, "%s is not valid JSON: it contains a NUL byte", what);
    cleanup_free char *text = xmalloc(len + 1);
    memcpy(text, data, len);
    text[len] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, true);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t)(end - text) : 0;
        return err_set(err, -EINVAL, "%s is not valid JSON (error at byte %zu)", what, at);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return err_set(err, -EINVAL, "%s is not a JSON object", what);
    }
    *ret = root;
    return 0;
}

/* Refuse objects where a key we read is written twice, in any case: Go's encoding/json matches
 * keys case-insensitively and keeps the last, cJSON keeps the first. */
static int check_unique(const cJSON *obj, const char *const *keys, size_t n, const char *what,
                        struct err *err)
{
    for (size_t k = 0; k < n; k++) {
        unsigned seen = 0;
        for (const cJSON *c = obj->child; c; c = c->next)
            if (c->string && strcasecmp(c->string, keys[k]) == 0)
                seen++;
        if (seen > 1)
            return err_set(err, -EINVAL, "%s: key `%s` appears more than once", what, keys[k]);
    }
    return 0;
}

static const cJSON *get(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* An optional string member: NULL when absent or null; -EINVAL when of another type. */
static int get_opt_string(const cJSON *obj, const char *key, const char *what, char **ret,
                          struct err *err)
{
    const cJSON *v = get(obj, key);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v))
        return err_set(err, -EINVAL, "%s%s%s must be a string", what, *what ? "." : "", key);
    free(*ret);
    *ret = xstrdup(v->valuestring);
    return 0;
}

static bool as_size(const cJSON *v, int64_t *ret)
{
    if (!cJSON_IsNumber(v))
        return false;
    double d = v->valuedouble;
    /* 2^53: beyond it a JSON number no longer names one integer */
    if (!(d >= 0 && d <= 9007199254740992.0) || (double)(int64_t)d != d)
        return false;
    *ret = (int64_t)d;
    return true;
}

static void platform_done(struct image_platform *p)
{
    free(p->os);
    free(p->architecture);
    free(p->variant);
}

static void descriptor_done(struct image_descriptor *d)
{
    free(d->media_type);
    free(d->digest);
    platform_done(&d->platform);
    memset(d, 0, sizeof(*d));
}

static int parse_platform(const cJSON *p, const char *what, struct image_platform *ret,
                          struct err *err)
{
    static const char *const keys[] = {"os", "architecture", "variant"};
    if (!p || cJSON_IsNull(p))
        return 0;
    cleanup_free char *w = xasprintf("%s.platform", what);
    if (!cJSON_IsObject(p))
        return err_set(err, -EINVAL, "%s must be an object", w);
    int r = check_unique(p, keys, ARRAY_SIZE(keys), w, err);
    for (size_t i = 0; r == 0 && i < ARRAY_SIZE(keys); i++) {
        char **field = i == 0 ? &ret->os : i == 1 ? &ret->architecture : &ret->variant;
        r = get_opt_string(p, keys[i], w, field, err);
    }
    if (r == 0 && (!ret->os || !ret->architecture))
        r = err_set(err, -EINVAL, "%s needs `os` and `architecture`", w);
    return r;
}

/* A descriptor: mediaType, digest and size required; platform only where allowed. */
static int parse_descriptor(const cJSON *o, const char *what, bool with_platform,
                            struct image_descriptor *d, struct err *err)
{
    static const char *const keys[] = {"mediaType", "digest", "size", "platform"};
    if (!cJSON_IsObject(o))
        return err_set(err, -EINVAL, "%s must be an object", what);
    int r = check_unique(o, keys, ARRAY_SIZE(keys), what, err);
    if (r < 0)
        return r;
    const cJSON *mt = get(o, "mediaType"), *dg = get(o, "digest"), *sz = get(o, "size");
    if (!cJSON_IsString(mt) || mt->valuestring[0] == '\0')
        return err_set(err, -EINVAL, "%s: mediaType is missing or not a string", what);
    if (strlen(mt->valuestring) > MEDIA_TYPE_MAX)
        return err_set(err, -EINVAL, "%s: mediaType is longer than %d bytes", what, MEDIA_TYPE_MAX);
    if (!cJSON_IsString(dg))
        return err_set(err, -EINVAL, "%s: digest is missing or not a string", what);
    if (!image_digest_valid(dg->valuestring))
        return err_set(err, -EINVAL, "%s: invalid digest `%.*s`", what, qlen(dg->valuestring),
                       dg->valuestring);
    if (!sz)
        return err_set(err, -EINVAL, "%s: size is missing", what);
    if (!as_size(sz, &d->size))
        return err_set(err, -EINVAL, "%s: size must be an integer from 0 to 2^53", what);
    d->media_type = xstrdup(mt->valuestring);
    d->digest = xstrdup(dg->valuestring);
    /* the spec allows a platform on any descriptor; only an index entry's means something */
    if (with_platform)
        return parse_platform(get(o, "platform"), what, &d->platform, err);
    return 0;
}

static int parse_config_descriptor(const cJSON *root, struct image_manifest *m, struct err *err)
{
    const cJSON *c = get(root, "config");
    if (!c)
        return err_set(err, -EINVAL, "manifest has no config");
    int r = parse_descriptor(c, "config", false, &m->config, err);
    if (r < 0)
        return r;
    if (!in_list(m->config.media_type, config_media_types, ARRAY_SIZE(config_media_types)))
        return err_set(err, -EINVAL, "not a container image: config media type %.*s",
                       qlen(m->config.media_type), m->config.media_type);
    return 0;
}

/* The array member key with at most IMAGE_MANIFEST_ENTRIES_MAX items; NULL when absent or null
 * (an error when required). */
static int get_array(const cJSON *root, const char *key, bool required, const cJSON **ret,
                     size_t *ret_n, struct err *err)
{
    const cJSON *a = get(root, key);
    *ret = NULL;
    *ret_n = 0;
    if (!a || cJSON_IsNull(a)) {
        if (required)
            return err_set(err, -EINVAL, "`%s` is missing", key);
        return 0;
    }
    if (!cJSON_IsArray(a))
        return err_set(err, -EINVAL, "`%s` must be an array", key);
    size_t n = 0;
    for (const cJSON *c = a->child; c; c = c->next)
        if (++n > IMAGE_MANIFEST_ENTRIES_MAX)
            return err_set(err, -EINVAL, "too many entries in `%s` (at most %d)", key,
                           IMAGE_MANIFEST_ENTRIES_MAX);
    *ret = a;
    *ret_n = n;
    return 0;
}

static int parse_layers(const cJSON *root, struct image_manifest *m, struct err *err)
{
    const cJSON *a;
    size_t n;
    int r = get_array(root, "layers", true, &a, &n, err);
    if (r < 0)
        return r;
    m->layers = xcalloc(n, sizeof(*m->layers));
    size_t i = 0;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        char what[32];
        snprintf(what, sizeof(what), "layer %zu", i);
        m->n_layers = i + 1;
        r = parse_descriptor(c, what, false, &m->layers[i], err);
        if (r < 0)
            return r;
        const char *t = m->layers[i].media_type;
        if (!in_list(t, layer_media_types, ARRAY_SIZE(layer_media_types)))
            return err_set(err, -EINVAL, "layer %zu: unsupported media type %.*s", i, qlen(t), t);
    }
    return 0;
}

static int parse_entries(const cJSON *root, struct image_manifest *m, struct err *err)
{
    const cJSON *a;
    size_t n;
    int r = get_array(root, "manifests", true, &a, &n, err);
    if (r < 0)
        return r;
    m->manifests = xcalloc(n, sizeof(*m->manifests));
    size_t i = 0;
    for (const cJSON *c = a->child; c; c = c->next, i++) {
        char what[32];
        snprintf(what, sizeof(what), "manifest %zu", i);
        m->n_manifests = i + 1;
        r = parse_descriptor(c, what, true, &m->manifests[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

static int check_schema_version(const cJSON *root, struct err *err)
{
    const cJSON *v = get(root, "schemaVersion");
    if (!v)
        return err_set(err, -EINVAL, "manifest has no schemaVersion");
    if (!cJSON_IsNumber(v))
        return err_set(err, -EINVAL, "schemaVersion must be a number");
    if (v->valuedouble == 1)
        return err_set(err, -EINVAL, "%s", schema1_msg);
    if (v->valuedouble != 2)
        return err_set(err, -EINVAL, "unsupported schemaVersion %g (only 2 is)", v->valuedouble);
    return 0;
}

/* What the document is, from its mediaType, the Content-Type and its shape. */
static int document_type(const cJSON *root, enum doc_type header, enum doc_type *ret,
                         struct err *err)
{
    const cJSON *mt = get(root, "mediaType");
    enum doc_type body = DOC_GENERIC;
    if (mt && !cJSON_IsNull(mt)) {
        if (!cJSON_IsString(mt))
            return err_set(err, -EINVAL, "mediaType must be a string");
        body = classify(mt->valuestring, strlen(mt->valuestring));
        if (body == DOC_SCHEMA1)
            return err_set(err, -EINVAL, "%s", schema1_msg);
        if (body == DOC_GENERIC)
            return err_set(err, -EINVAL, "unsupported manifest media type %.*s",
                           qlen(mt->valuestring), mt->valuestring);
        if (header != DOC_GENERIC && header != body)
            return err_set(err, -EINVAL,
                           "the registry sent Content-Type %s for a document of type %s",
                           doc_media_types[header], doc_media_types[body]);
    }
    bool has_index = get(root, "manifests") != NULL;
    bool has_image = get(root, "config") != NULL || get(root, "layers") != NULL;
    if (has_index && has_image)
        return err_set(err, -EINVAL,
                       "document has both `manifests` and `config`/`layers`: it "
                       "is neither a manifest nor an index");
    *ret = body != DOC_GENERIC ? body : header;
    if (*ret == DOC_GENERIC && (has_index || has_image))
        *ret = has_index ? DOC_OCI_INDEX : DOC_OCI_MANIFEST;
    if (*ret == DOC_GENERIC)
        return err_set(err, -EINVAL,
                       "document is neither a manifest nor an index (no "
                       "mediaType, no `manifests`, no `config`)");
    bool is_index = *ret == DOC_DOCKER_LIST || *ret == DOC_OCI_INDEX;
    if (is_index ? has_image : has_index)
        return err_set(err, -EINVAL, "a document of type %s must not have `%s`",
                       doc_media_types[*ret], is_index ? "config`/`layers" : "manifests");
    return 0;
}

static int parse_manifest(const cJSON *root, enum doc_type header, struct image_manifest *m,
                          struct err *err)
{
    static const char *const keys[] = {"schemaVersion", "mediaType", "config", "layers",
                                       "manifests"};
    int r = check_unique(root, keys, ARRAY_SIZE(keys), "manifest", err);
    if (r < 0)
        return r;
    r = check_schema_version(root, err);
    if (r < 0)
        return r;
    enum doc_type type = DOC_GENERIC;
    r = document_type(root, header, &type, err);
    if (r < 0)
        return r;
    m->media_type = xstrdup(doc_media_types[type]);
    if (type == DOC_DOCKER_LIST || type == DOC_OCI_INDEX) {
        m->kind = IMAGE_INDEX;
        return parse_entries(root, m, err);
    }
    m->kind = IMAGE_MANIFEST;
    r = parse_config_descriptor(root, m, err);
    if (r < 0)
        return r;
    return parse_layers(root, m, err);
}

int image_manifest_parse(const char *content_type, const void *data, size_t len,
                         struct image_manifest *ret, struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > IMAGE_MANIFEST_MAX)
        return err_set(err, -EFBIG, "manifest is larger than %u bytes", IMAGE_MANIFEST_MAX);
    enum doc_type header = classify_header(content_type);
    if (header == DOC_SCHEMA1)
        return err_set(err, -EINVAL, "%s", schema1_msg);
    cJSON *root;
    int r = parse_json(data, len, "manifest", &root, err);
    if (r < 0)
        return r;
    r = parse_manifest(root, header, ret, err);
    cJSON_Delete(root);
    if (r < 0)
        image_manifest_done(ret);
    return r;
}

void image_manifest_done(struct image_manifest *m)
{
    free(m->media_type);
    descriptor_done(&m->config);
    for (size_t i = 0; i < m->n_layers; i++)
        descriptor_done(&m->layers[i]);
    free(m->layers);
    for (size_t i = 0; i < m->n_manifests; i++)
        descriptor_done(&m->manifests[i]);
    free(m->manifests);
    memset(m, 0, sizeof(*m));
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

enum image_layer_compression image_layer_compression(const char *media_type)
{
    if (!media_type)
        return IMAGE_LAYER_NONE;
    if (ends_with(media_type, "+gzip") || ends_with(media_type, ".tar.gzip"))
        return IMAGE_LAYER_GZIP;
    if (ends_with(media_type, "+zstd") || ends_with(media_type, ".tar.zstd"))
        return IMAGE_LAYER_ZSTD;
    return IMAGE_LAYER_NONE;
}

/* ---- platform selection ---- */

/* An architecture and variant in the names indexes use. */
struct plat {
    const char *arch;
    const char *variant; /* NULL: none */
};

static struct plat normalise(const char *arch, const char *variant)
{
    static const struct {
        const char *from, *arch, *variant;
    } aliases[] = {
        {"x86_64", "amd64", NULL}, {"x86-64", "amd64", NULL}, {"aarch64", "arm64", NULL},
        {"armhf", "arm", "v7"},    {"armel", "arm", "v6"},    {"armv7l", "arm", "v7"},
        {"armv7", "arm", "v7"},    {"armv6l", "arm", "v6"},   {"armv6", "arm", "v6"},
        {"armv5tel", "arm", "v5"}, {"i386", "386", NULL},     {"i486", "386", NULL},
        {"i586", "386", NULL},     {"i686", "386", NULL},
    };
    struct plat p = {arch, variant && variant[0] ? variant : NULL};
    for (size_t i = 0; i < ARRAY_SIZE(aliases); i++) {
        if (strcmp(arch, aliases[i].from) == 0) {
            p.arch = aliases[i].arch;
            if (!p.variant)
                p.variant = aliases[i].variant;
            break;
        }
    }
    /* arm64 is v8 and amd64 is v1 unless said otherwise */
    if (p.variant && ((strcmp(p.arch, "arm64") == 0 && strcasecmp(p.variant, "v8") == 0) ||
                      (strcmp(p.arch, "amd64") == 0 && strcasecmp(p.variant, "v1") == 0)))
        p.variant = NULL;
    return p;
}

/* "vN" or "N" as a number from 1 to 99, or 0. */
static int arm_level(const char *v)
{
    if (v[0] == 'v' || v[0] == 'V')
        v++;
    if (v[0] < '1' || v[0] > '9' || (v[1] && (v[1] < '0' || v[1] > '9' || v[2])))
        return 0;
    return v[1] ? (v[0] - '0') * 10 + (v[1] - '0') : v[0] - '0';
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcasecmp(a, b) == 0);
}

/* How well an entry of arch/variant e serves a request for w: 0 best, -1 not at all. */
static int plat_rank(struct plat w, struct plat e)
{
    if (strcmp(w.arch, e.arch) != 0)
        return -1;
    if (strcmp(w.arch, "arm") == 0) {
        /* an arm entry with no variant is v7, as containerd reads it */
        int want = w.variant ? arm_level(w.variant) : 7;
        int have = e.variant ? arm_level(e.variant) : 7;
        if (want == 0 || have == 0)
            return same(w.variant, e.variant) ? 0 : -1;
        return have >= 5 && have <= want ? want - have : -1;
    }
    if (same(w.variant, e.variant))
        return 0;
    /* an entry without variant runs on any variant of its architecture */
    return w.variant && !e.variant ? 1 : -1;
}

static bool is_image_entry(const struct image_descriptor *d)
{
    return strcmp(d->media_type, IMAGE_MEDIA_DOCKER_MANIFEST) == 0 ||
           strcmp(d->media_type, IMAGE_MEDIA_OCI_MANIFEST) == 0;
}

static bool usable_entry(const struct image_descriptor *d)
{
    return is_image_entry(d) && d->platform.os && d->platform.architecture &&
           strcmp(d->platform.os, "unknown") != 0;
}

static char *platform_string(const char *os, const char *arch, const char *variant)
{
    return xasprintf("%.*s/%.*s%s%.*s", qlen(os), os, qlen(arch), arch, variant ? "/" : "",
                     variant ? qlen(variant) : 0, variant ? variant : "");
}

/* "linux/arm64, linux/s390x": the distinct usable platforms of the index, or "none". */
static char *available(const struct image_manifest *index)
{
    struct buf b = {0};
    size_t listed = 0;
    for (size_t i = 0; i < index->n_manifests; i++) {
        const struct image_platform *p = &index->manifests[i].platform;
        if (!usable_entry(&index->manifests[i]))
            continue;
        cleanup_free char *s = platform_string(p->os, p->architecture, p->variant);
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++) {
            const struct image_platform *q = &index->manifests[k].platform;
            dup = usable_entry(&index->manifests[k]) && strcmp(q->os, p->os) == 0 &&
                  strcmp(q->architecture, p->architecture) == 0 && same(q->variant, p->variant);
        }
        if (dup)
            continue;
        if (listed++ == AVAILABLE_MAX) {
            buf_puts(&b, ", ...");
            break;
        }
        buf_printf(&b, "%s%s", listed > 1 ? ", " : "", s);
    }
    if (b.len == 0)
        buf_puts(&b, "none");
    return buf_steal(&b);
}

int image_index_select(const struct image_manifest *index, const char *os, const char *arch,
                       const char *variant, const struct image_descriptor **ret, struct err *err)
{
    *ret = NULL;
    if (index->kind != IMAGE_INDEX)
        return err_set(err, -EINVAL, "not an index");
    struct plat want = normalise(arch, variant);
    int best = -1;
    for (size_t i = 0; i < index->n_manifests; i++) {
        const struct image_descriptor *d = &index->manifests[i];
        if (!usable_entry(d) || strcmp(d->platform.os, os) != 0)
            continue;
        int rank = plat_rank(want, normalise(d->platform.architecture, d->platform.variant));
        if (rank >= 0 && (best < 0 || rank < best)) {
            best = rank;
            *ret = d;
        }
    }
    if (*ret)
        return 0;
    cleanup_free char *have = available(index);
    cleanup_free char *wanted = platform_string(os, arch, variant);
    return err_set(err, -ENOENT, "no image for %s in the index (available: %s)", wanted, have);
}

void image_platform_host(const char **ret_os, const char **ret_arch, const char **ret_variant)
{
    *ret_os = "linux";
    *ret_variant = NULL;
#if defined(__x86_64__)
    *ret_arch = "amd64";
#elif defined(__aarch64__)
    *ret_arch = "arm64";
#elif defined(__arm__)
    *ret_arch = "arm";
#if defined(__ARM_ARCH) && __ARM_ARCH >= 7
    *ret_variant = "v7";
#elif defined(__ARM_ARCH) && __ARM_ARCH == 6
    *ret_variant = "v6";
#else
    *ret_variant = "v5";
#endif
#elif defined(__i386__)
    *ret_arch = "386";
#elif defined(__powerpc64__) && defined(__LITTLE_ENDIAN__)
    *ret_arch = "ppc64le";
#elif defined(__powerpc64__)
    *ret_arch = "ppc64";
#elif defined(__s390x__)
    *ret_arch = "s390x";
#elif defined(__riscv) && defined(__riscv_xlen) && __riscv_xlen == 64
    *ret_arch = "riscv64";
#elif defined(__loongarch64)
    *ret_arch = "loong64";
#elif defined(__mips64) && defined(__MIPSEL__)
    *ret_arch = "mips64le";
#else
#error "unknown architecture: add its OCI name to image_platform_host()"
#endif
}

/* ---- image config ---- */

static void strings_free(char **s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* The number of entries of an array or object of the config, counted up to one past
 * IMAGE_CONFIG_LIST_MAX (then an error in err). */
static size_t count_entries(const cJSON *a, const char *what, const char *key, struct err *err)
{
    size_t n = 0;
    for (const cJSON *c = a->child; c; c = c->next) {
        if (++n > IMAGE_CONFIG_LIST_MAX) {
            err_set(err, -EINVAL, "too many entries in %s.%s (at most %d)", what, key,
                    IMAGE_CONFIG_LIST_MAX);
            break;
        }
    }
    return n;
}

/* An optional array of strings (absent or null: none). */
static int get_strings(const cJSON *obj, const char *key, const char *what, char ***ret,
                       size_t *ret_n, struct err *err)
{
    const cJSON *a = get(obj, key);
    if (!a || cJSON_IsNull(a))
        return 0;
    if (!cJSON_IsArray(a))
        return err_set(err, -EINVAL, "%s.%s must be an array of strings", what, key);
    size_t n = count_entries(a, what, key, err);
    if (n > IMAGE_CONFIG_LIST_MAX)
        return err->code;
    *ret = xcalloc(n ? n : 1, sizeof(char *));
    for (const cJSON *c = a->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return err_set(err, -EINVAL, "%s.%s must be an array of strings", what, key);
        (*ret)[(*ret_n)++] = xstrdup(c->valuestring);
    }
    return 0;
}

/* The keys of an optional object ({"80/tcp": {}}), and with values the string values. */
static int get_keys(const cJSON *obj, const char *key, const char *what, char ***ret_keys,
                    char ***ret_values, size_t *ret_n, struct err *err)
{
    const cJSON *o = get(obj, key);
    if (!o || cJSON_IsNull(o))
        return 0;
    if (!cJSON_IsObject(o))
        return err_set(err, -EINVAL, "%s.%s must be an object", what, key);
    size_t n = count_entries(o, what, key, err);
    if (n > IMAGE_CONFIG_LIST_MAX)
        return err->code;
    *ret_keys = xcalloc(n ? n : 1, sizeof(char *));
    if (ret_values)
        *ret_values = xcalloc(n ? n : 1, sizeof(char *));
    for (const cJSON *c = o->child; c; c = c->next) {
        if (ret_values && !cJSON_IsString(c) && !cJSON_IsNull(c))
            return err_set(err, -EINVAL, "%s.%s[\"%.*s\"] must be a string", what, key,
                           qlen(c->string), c->string);
        if (ret_values)
            (*ret_values)[*ret_n] = xstrdup(cJSON_IsString(c) ? c->valuestring : "");
        (*ret_keys)[(*ret_n)++] = xstrdup(c->string);
    }
    return 0;
}

static int parse_container_config(const cJSON *cfg, struct image_config *c, struct err *err)
{
    static const char *const keys[] = {"User", "WorkingDir", "StopSignal",   "Env",   "Entrypoint",
                                       "Cmd",  "Volumes",    "ExposedPorts", "Labels"};
    if (!cfg || cJSON_IsNull(cfg))
        return 0;
    if (!cJSON_IsObject(cfg))
        return err_set(err, -EINVAL, "config must be an object");
    int r = check_unique(cfg, keys, ARRAY_SIZE(keys), "config", err);
    if (r == 0)
        r = get_opt_string(cfg, "User", "config", &c->user, err);
    if (r == 0)
        r = get_opt_string(cfg, "WorkingDir", "config", &c->working_dir, err);
    if (r == 0)
        r = get_opt_string(cfg, "StopSignal", "config", &c->stop_signal, err);
    if (r == 0)
        r = get_strings(cfg, "Env", "config", &c->env, &c->n_env, err);
    if (r == 0)
        r = get_strings(cfg, "Entrypoint", "config", &c->entrypoint, &c->n_entrypoint, err);
    if (r == 0)
        r = get_strings(cfg, "Cmd", "config", &c->cmd, &c->n_cmd, err);
    if (r == 0)
        r = get_keys(cfg, "Volumes", "config", &c->volumes, NULL, &c->n_volumes, err);
    if (r == 0)
        r = get_keys(cfg, "ExposedPorts", "config", &c->exposed_ports, NULL, &c->n_exposed_ports,
                     err);
    if (r == 0)
        r = get_keys(cfg, "Labels", "config", &c->label_keys, &c->label_values, &c->n_labels, err);
    return r;
}

static int parse_rootfs(const cJSON *rootfs, struct image_config *c, struct err *err)
{
    static const char *const keys[] = {"type", "diff_ids"};
    if (!rootfs)
        return err_set(err, -EINVAL, "image config has no rootfs");
    if (!cJSON_IsObject(rootfs))
        return err_set(err, -EINVAL, "rootfs must be an object");
    int r = check_unique(rootfs, keys, ARRAY_SIZE(keys), "rootfs", err);
    if (r < 0)
        return r;
    const cJSON *type = get(rootfs, "type");
    if (!cJSON_IsString(type))
        return err_set(err, -EINVAL, "rootfs.type is missing or not a string");
    if (strcmp(type->valuestring, "layers") != 0)
        return err_set(err, -EINVAL, "rootfs.type must be `layers`, not `%.*s`",
                       qlen(type->valuestring), type->valuestring);
    const cJSON *ids;
    size_t n;
    r = get_array(rootfs, "diff_ids", true, &ids, &n, err);
    if (r < 0)
        return err_wrap(err, "rootfs");
    c->diff_ids = xcalloc(n, sizeof(char *));
    for (const cJSON *id = ids->child; id; id = id->next) {
        if (!cJSON_IsString(id) || !image_digest_valid(id->valuestring))
            return err_set(err, -EINVAL, "rootfs.diff_ids[%zu]: invalid digest `%.*s`",
                           c->n_diff_ids, cJSON_IsString(id) ? qlen(id->valuestring) : 0,
                           cJSON_IsString(id) ? id->valuestring : "");
        c->diff_ids[c->n_diff_ids++] = xstrdup(id->valuestring);
    }
    return 0;
}

static int parse_image_config(const cJSON *root, struct image_config *c, struct err *err)
{
    static const char *const keys[] = {"architecture", "os",     "variant",
                                       "created",      "config", "rootfs"};
    int r = check_unique(root, keys, ARRAY_SIZE(keys), "image config", err);
    if (r == 0)
        r = get_opt_string(root, "architecture", "", &c->architecture, err);
    if (r == 0)
        r = get_opt_string(root, "os", "", &c->os, err);
    if (r == 0)
        r = get_opt_string(root, "variant", "", &c->variant, err);
    if (r == 0)
        r = get_opt_string(root, "created", "", &c->created, err);
    if (r == 0)
        r = parse_container_config(get(root, "config"), c, err);
    if (r == 0)
        r = parse_rootfs(get(root, "rootfs"), c, err);
    return r;
}

int image_config_parse(const void *data, size_t len, struct image_config *ret, struct err *err)
{
    memset(ret, 0, sizeof(*ret));
    if (len > IMAGE_CONFIG_MAX)
        return err_set(err, -EFBIG, "image config is larger than %u bytes", IMAGE_CONFIG_MAX);
    cJSON *root;
    int r = parse_json(data, len, "image config", &root, err);
    if (r < 0)
        return r;
    r = parse_image_config(root, ret, err);
    cJSON_Delete(root);
    if (r < 0)
        image_config_done(ret);
    return r;
}

void image_config_done(struct image_config *c)
{
    free(c->architecture);
    free(c->os);
    free(c->variant);
    free(c->user);
    free(c->working_dir);
    free(c->stop_signal);
    strings_free(c->env, c->n_env);
    strings_free(c->entrypoint, c->n_entrypoint);
    strings_free(c->cmd, c->n_cmd);
    strings_free(c->volumes, c->n_volumes);
    strings_free(c->exposed_ports, c->n_exposed_ports);
    strings_free(c->label_keys, c->n_labels);
    strings_free(c->label_values, c->n_labels);
    strings_free(c->diff_ids, c->n_diff_ids);
    free(c->created);
    memset(c, 0, sizeof(*c));
}

/* ---- docker save manifest.json ---- */

static bool safe_rel(const char *p)
{
    if (!*p || p[0] == '/')
        return false;
    for (const char *s = p; s; s = strchr(s, '/')) {
        if (*s == '/')
            s++;
        if (strncmp(s, "..", 2) == 0 && (s[2] == '/' || s[2] == '\0'))
            return false;
    }
    return true;
}

/* The optional array of strings key of entry i (paths: each a safe relative path). */
static int docker_strings(const cJSON *e, size_t i, const char *key, bool paths, char ***ret,
                          size_t *ret_n, struct err *err)
{
    const cJSON *a = get(e, key);
    if (!a || cJSON_IsNull(a))
        return paths ? err_set(err, -EINVAL, "manifest.json[%zu]: `%s` is missing", i, key) : 0;
    if (!cJSON_IsArray(a))
        return err_set(err, -EINVAL, "manifest.json[%zu]: `%s` must be an array", i, key);
    size_t n = 0;
    for (const cJSON *c = a->child; c; c = c->next)
        if (++n > IMAGE_MANIFEST_ENTRIES_MAX)
            return err_set(err, -EINVAL,
                           "manifest.json[%zu]: too many entries in `%s` (at most %d)", i, key,
                           IMAGE_MANIFEST_ENTRIES_MAX);
    *ret = xcalloc(n ? n : 1, sizeof(char *));
    for (const cJSON *c = a->child; c; c = c->next) {
        if (!cJSON_IsString(c))
            return err_set(err, -EINVAL, "manifest.json[%zu]: `%s` must hold strings", i, key);
        if (paths && !safe_rel(c->valuestring))
            return err_set(err, -EINVAL, "manifest.json[%zu]: bad layer path `%.*s`", i,
                           qlen(c->valuestring), c->valuestring);
        (*ret)[(*ret_n)++] = xstrdup(c->valuestring);
    }
    return 0;
}

static int docker_entry(const cJSON *e, size_t i, struct image_docker_entry *out, struct err *err)
{
    static const char *const keys[] = {"Config", "Layers", "RepoTags"};
    if (!cJSON_IsObject(e))
        return err_set(err, -EINVAL, "manifest.json[%zu] is not an object", i);
    int r = check_unique(e, keys, ARRAY_SIZE(keys), "manifest.json", err);
    if (r < 0)
        return r;
    const cJSON *cfg = get(e, "Config");
    if (!cJSON_IsString(cfg) || !safe_rel(cfg->valuestring))
        return err_set(err, -EINVAL, "manifest.json[%zu]: `Config` must be a relative path", i);
    out->config = xstrdup(cfg->valuestring);
    r = docker_strings(e, i, "Layers", true, &out->layers, &out->n_layers, err);
    if (r == 0)
        r = docker_strings(e, i, "RepoTags", false, &out->repo_tags, &out->n_repo_tags, err);
    return r;
}

int image_docker_manifest_parse(const void *data, size_t len, struct image_docker_entry **ret,
                                size_t *ret_n, struct err *err)
{
    *ret = NULL;
    *ret_n = 0;
    if (len > IMAGE_MANIFEST_MAX)
        return err_set(err, -EFBIG, "manifest.json is larger than %u bytes", IMAGE_MANIFEST_MAX);
    if (memchr(data, '\0', len))
        return err_set(err, -EINVAL, "manifest.json is not valid JSON: it contains a NUL byte");
    cleanup_free char *text = xstrndup(data, len);
    cJSON *root = cJSON_ParseWithOpts(text, NULL, true);
    size_t n = 0;
    for (const cJSON *c = cJSON_IsArray(root) ? root->child : NULL; c; c = c->next)
        n++;
    if (n == 0 || n > IMAGE_DOCKER_IMAGES_MAX) {
        cJSON_Delete(root);
        return err_set(err, -EINVAL, "manifest.json: not a list of 1 to %d images",
                       IMAGE_DOCKER_IMAGES_MAX);
    }
    struct image_docker_entry *v = xcalloc(n, sizeof(*v));
    size_t i = 0;
    int r = 0;
    for (const cJSON *c = root->child; c && r == 0; c = c->next, i++)
        r = docker_entry(c, i, &v[i], err);
    cJSON_Delete(root);
    if (r < 0) {
        image_docker_entries_free(v, n);
        return r;
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

void image_docker_entries_free(struct image_docker_entry *e, size_t n)
{
    for (size_t i = 0; e && i < n; i++) {
        free(e[i].config);
        strings_free(e[i].layers, e[i].n_layers);
        strings_free(e[i].repo_tags, e[i].n_repo_tags);
    }
    free(e);
}
