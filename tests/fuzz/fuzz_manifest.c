/* libFuzzer target for the image module's parsers: the input as a manifest or index under each
 * Content-Type, as an image config, and (when short) as an image reference; checks what a
 * successful parse promises, frees everything. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "image/manifest.h"
#include "image/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_descriptor(const struct image_descriptor *d)
{
    check(d->media_type && d->media_type[0]);
    check(image_digest_valid(d->digest));
    check(d->size >= 0);
}

static void check_select(const struct image_manifest *m, const char *os, const char *arch,
                         const char *variant)
{
    const struct image_descriptor *d = NULL;
    struct err err = ERR_INIT;
    int r = image_index_select(m, os, arch, variant, &d, &err);
    if (r == 0) {
        check(d >= m->manifests && d < m->manifests + m->n_manifests);
        check(d->platform.os && strcmp(d->platform.os, os) == 0);
    } else {
        check(r == -ENOENT && !d && err.msg);
    }
    err_done(&err);
}

static void check_manifest(const struct image_manifest *m)
{
    check(m->media_type != NULL);
    check(m->n_layers <= IMAGE_MANIFEST_ENTRIES_MAX);
    check(m->n_manifests <= IMAGE_MANIFEST_ENTRIES_MAX);
    if (m->kind == IMAGE_MANIFEST) {
        check(m->n_manifests == 0);
        check_descriptor(&m->config);
        for (size_t i = 0; i < m->n_layers; i++) {
            check_descriptor(&m->layers[i]);
            image_layer_compression(m->layers[i].media_type);
        }
        return;
    }
    check(m->n_layers == 0 && !m->config.digest);
    for (size_t i = 0; i < m->n_manifests; i++)
        check_descriptor(&m->manifests[i]);
    const char *os, *arch, *variant;
    image_platform_host(&os, &arch, &variant);
    check_select(m, os, arch, variant);
    check_select(m, "linux", "arm", NULL);
    check_select(m, "linux", "arm64", "v8");
    check_select(m, "linux", "x86_64", NULL);
}

static void fuzz_manifest(const char *content_type, const uint8_t *data, size_t size)
{
    struct image_manifest m;
    struct err err = ERR_INIT;
    int r = image_manifest_parse(content_type, data, size, &m, &err);
    if (r == 0)
        check_manifest(&m);
    else
        check(r == err.code && err.msg && !m.media_type && !m.layers && !m.manifests);
    image_manifest_done(&m);
    err_done(&err);
}

static void fuzz_config(const uint8_t *data, size_t size)
{
    struct image_config c;
    struct err err = ERR_INIT;
    int r = image_config_parse(data, size, &c, &err);
    if (r == 0) {
        check(c.n_diff_ids <= IMAGE_MANIFEST_ENTRIES_MAX);
        for (size_t i = 0; i < c.n_diff_ids; i++)
            check(image_digest_valid(c.diff_ids[i]));
        for (size_t i = 0; i < c.n_labels; i++)
            check(c.label_keys[i] && c.label_values[i]);
    } else {
        check(r == err.code && err.msg && !c.diff_ids && !c.env);
    }
    image_config_done(&c);
    err_done(&err);
}

/* A reference that parses prints as one that parses back to the same text. */
static void fuzz_ref(const uint8_t *data, size_t size)
{
    if (size > 1100 || memchr(data, '\0', size))
        return;
    cleanup_free char *s = xstrndup((const char *)data, size);
    struct image_ref r, again;
    struct err err = ERR_INIT;
    if (image_ref_parse(s, &r, &err) < 0) {
        check(err.msg && !r.path);
        err_done(&err);
        return;
    }
    check(r.path && (!r.digest || image_digest_valid(r.digest)));
    cleanup_free char *printed = image_ref_string(&r);
    check(image_ref_parse(printed, &again, &err) == 0);
    cleanup_free char *reprinted = image_ref_string(&again);
    check(strcmp(printed, reprinted) == 0);
    if (!r.domain) {
        struct image_ref q;
        if (image_ref_qualify(&r, "docker.io", &q, &err) == 0)
            check(strcmp(q.domain, "docker.io") == 0);
        image_ref_done(&q);
    }
    image_ref_done(&again);
    image_ref_done(&r);
    err_done(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const types[] = {
        NULL,
        "application/json",
        IMAGE_MEDIA_DOCKER_MANIFEST,
        IMAGE_MEDIA_DOCKER_LIST,
        IMAGE_MEDIA_OCI_MANIFEST,
        IMAGE_MEDIA_OCI_INDEX "; charset=utf-8",
    };
    for (size_t i = 0; i < ARRAY_SIZE(types); i++)
        fuzz_manifest(types[i], data, size);
    fuzz_config(data, size);
    fuzz_ref(data, size);
    return 0;
}
