/* Unit tests for src/image/manifest.c: Docker schema 2 and OCI manifests and indexes, what is
 * refused and why, platform selection, image configs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "image/manifest.h"

#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define HEX_D "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
#define DG_A "sha256:" HEX_A
#define DG_B "sha256:" HEX_B
#define DG_C "sha256:" HEX_C
#define DG_D "sha256:" HEX_D

#define DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"

static const char docker_manifest[] =
    "{\n"
    "   \"schemaVersion\": 2,\n"
    "   \"mediaType\": \"application/vnd.docker.distribution.manifest.v2+json\",\n"
    "   \"config\": {\n"
    "      \"mediaType\": \"application/vnd.docker.container.image.v1+json\",\n"
    "      \"size\": 1457,\n"
    "      \"digest\": \"" DG_A "\"\n"
    "   },\n"
    "   \"layers\": [\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.diff.tar.gzip\",\n"
    "         \"size\": 2591575,\n"
    "         \"digest\": \"" DG_B "\"\n"
    "      },\n"
    "      {\n"
    "         \"mediaType\": \"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip\",\n"
    "         \"size\": 0,\n"
    "         \"digest\": \"" DG_C "\",\n"
    "         \"urls\": [\"https://example.com/layer\"]\n"
    "      }\n"
    "   ]\n"
    "}\n";

/* An OCI index: an attestation first, then amd64, arm64/v8, arm/v6, arm/v7, s390x. */
static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DG_D "\","
    "\"size\":839,\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"},"
    "\"annotations\":{\"vnd.docker.reference.type\":\"attestation-manifest\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DG_A "\","
    "\"size\":528,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DG_B "\","
    "\"size\":528,\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:" HEX_C
    "\",\"size\":528,\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v6\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
    "1111111111111111111111111111111111111111111111111111111111111111\",\"size\":528,"
    "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:"
    "2222222222222222222222222222222222222222222222222222222222222222\",\"size\":528,"
    "\"platform\":{\"architecture\":\"s390x\",\"os\":\"linux\"}}"
    "]}";

static void parse_ok(const char *content_type, const char *text, struct image_manifest *m)
{
    struct err err = ERR_INIT;
    int r = image_manifest_parse(content_type, text, strlen(text), m, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    err_done(&err);
}

static void expect_manifest_error(const char *content_type, const char *text, int code,
                                  const char *want)
{
    struct image_manifest m;
    struct err err = ERR_INIT;
    int r = image_manifest_parse(content_type, text, strlen(text), &m, &err);
    if (r != code || strcmp(err_msg(&err), want) != 0)
        print_error("got  %d `%s`\nwant %d `%s`\n", r, err_msg(&err), code, want);
    assert_int_equal(r, code);
    assert_string_equal(err_msg(&err), want);
    assert_null(m.media_type);
    assert_null(m.layers);
    assert_null(m.manifests);
    assert_int_equal(m.n_layers, 0);
    err_done(&err);
}

/* A manifest with one config and one layer of the given media types. */
static char *manifest_with(const char *config_type, const char *layer_type)
{
    return xasprintf("{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\","
                     "\"config\":{\"mediaType\":\"%s\",\"digest\":\"" DG_A "\",\"size\":2},"
                     "\"layers\":[{\"mediaType\":\"%s\",\"digest\":\"" DG_B "\",\"size\":3}]}",
                     config_type, layer_type);
}

static void test_docker_manifest(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(IMAGE_MEDIA_DOCKER_MANIFEST, docker_manifest, &m);
    assert_int_equal(m.kind, IMAGE_MANIFEST);
    assert_string_equal(m.media_type, IMAGE_MEDIA_DOCKER_MANIFEST);
    assert_string_equal(m.config.media_type, DOCKER_CONFIG);
    assert_string_equal(m.config.digest, DG_A);
    assert_int_equal(m.config.size, 1457);
    assert_int_equal(m.n_layers, 2);
    assert_string_equal(m.layers[0].digest, DG_B);
    assert_int_equal(m.layers[0].size, 2591575);
    assert_int_equal(m.layers[1].size, 0);
    assert_int_equal(image_layer_compression(m.layers[0].media_type), IMAGE_LAYER_GZIP);
    assert_int_equal(image_layer_compression(m.layers[1].media_type), IMAGE_LAYER_GZIP);
    assert_null(m.manifests);
    image_manifest_done(&m);
    image_manifest_done(&m); /* twice is harmless */
}

static void test_oci_manifest_layer_types(void **state UNUSED)
{
    static const struct {
        const char *type;
        enum image_layer_compression c;
    } layers[] = {
        {"application/vnd.oci.image.layer.v1.tar", IMAGE_LAYER_NONE},
        {"application/vnd.oci.image.layer.v1.tar+gzip", IMAGE_LAYER_GZIP},
        {"application/vnd.oci.image.layer.v1.tar+zstd", IMAGE_LAYER_ZSTD},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar", IMAGE_LAYER_NONE},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IMAGE_LAYER_GZIP},
        {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", IMAGE_LAYER_ZSTD},
        {"application/vnd.docker.image.rootfs.diff.tar.gzip", IMAGE_LAYER_GZIP},
        {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IMAGE_LAYER_GZIP},
    };
    for (size_t i = 0; i < ARRAY_SIZE(layers); i++) {
        cleanup_free char *doc = manifest_with(OCI_CONFIG, layers[i].type);
        struct image_manifest m;
        parse_ok(IMAGE_MEDIA_OCI_MANIFEST, doc, &m);
        assert_string_equal(m.media_type, IMAGE_MEDIA_OCI_MANIFEST);
        assert_string_equal(m.layers[0].media_type, layers[i].type);
        assert_int_equal(image_layer_compression(m.layers[0].media_type), layers[i].c);
        image_manifest_done(&m);
    }
    /* a Docker config in an OCI manifest is fine too */
    cleanup_free char *doc = manifest_with(DOCKER_CONFIG, OCI_LAYER_GZIP);
    struct image_manifest m;
    parse_ok(NULL, doc, &m);
    image_manifest_done(&m);
}

static void test_content_type_decides(void **state UNUSED)
{
    /* an OCI manifest without mediaType: the header, or else the shape, decides */
    const char *doc = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG "\","
                      "\"digest\":\"" DG_A "\",\"size\":1},\"layers\":[]}";
    struct image_manifest m;
    parse_ok(IMAGE_MEDIA_OCI_MANIFEST, doc, &m);
    assert_string_equal(m.media_type, IMAGE_MEDIA_OCI_MANIFEST);
    assert_int_equal(m.n_layers, 0);
    image_manifest_done(&m);
    parse_ok(IMAGE_MEDIA_DOCKER_MANIFEST, doc, &m);
    assert_string_equal(m.media_type, IMAGE_MEDIA_DOCKER_MANIFEST);
    image_manifest_done(&m);
    parse_ok("application/json", doc, &m);
    assert_string_equal(m.media_type, IMAGE_MEDIA_OCI_MANIFEST);
    image_manifest_done(&m);
    parse_ok(NULL, doc, &m);
    assert_int_equal(m.kind, IMAGE_MANIFEST);
    image_manifest_done(&m);
    /* parameters and case in the header do not matter */
    parse_ok("Application/VND.docker.distribution.manifest.v2+json; charset=utf-8", docker_manifest,
             &m);
    image_manifest_done(&m);
    parse_ok("text/plain", docker_manifest, &m);
    assert_string_equal(m.media_type, IMAGE_MEDIA_DOCKER_MANIFEST);
    image_manifest_done(&m);
}

static void test_media_type_mismatch(void **state UNUSED)
{
    expect_manifest_error(IMAGE_MEDIA_OCI_MANIFEST, docker_manifest, -EINVAL,
                          "the registry sent Content-Type " IMAGE_MEDIA_OCI_MANIFEST
                          " for a document of type " IMAGE_MEDIA_DOCKER_MANIFEST);
    expect_manifest_error(IMAGE_MEDIA_OCI_MANIFEST, oci_index, -EINVAL,
                          "the registry sent Content-Type " IMAGE_MEDIA_OCI_MANIFEST
                          " for a document of type " IMAGE_MEDIA_OCI_INDEX);
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.foo+json\","
                          "\"layers\":[]}",
                          -EINVAL, "unsupported manifest media type application/vnd.foo+json");
}

static void test_docker_manifest_list(void **state UNUSED)
{
    const char *doc =
        "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MEDIA_DOCKER_LIST "\",\"manifests\":["
        "{\"mediaType\":\"" IMAGE_MEDIA_DOCKER_MANIFEST "\",\"size\":7143,\"digest\":\"" DG_A
        "\",\"platform\":{\"architecture\":\"ppc64le\",\"os\":\"linux\"}},"
        "{\"mediaType\":\"" IMAGE_MEDIA_DOCKER_MANIFEST "\",\"size\":7682,\"digest\":\"" DG_B
        "\",\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\",\"features\":[\"sse4\"]}}"
        "]}";
    struct image_manifest m;
    parse_ok(IMAGE_MEDIA_DOCKER_LIST, doc, &m);
    assert_int_equal(m.kind, IMAGE_INDEX);
    assert_string_equal(m.media_type, IMAGE_MEDIA_DOCKER_LIST);
    assert_int_equal(m.n_manifests, 2);
    assert_int_equal(m.manifests[0].size, 7143);
    assert_string_equal(m.manifests[0].platform.architecture, "ppc64le");
    assert_string_equal(m.manifests[1].platform.os, "linux");
    assert_null(m.manifests[1].platform.variant);
    assert_null(m.config.digest);
    const struct image_descriptor *d;
    struct err err = ERR_INIT;
    assert_int_equal(image_index_select(&m, "linux", "amd64", NULL, &d, &err), 0);
    assert_string_equal(d->digest, DG_B);
    image_manifest_done(&m);
}

static void test_oci_index(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(IMAGE_MEDIA_OCI_INDEX, oci_index, &m);
    assert_int_equal(m.kind, IMAGE_INDEX);
    assert_int_equal(m.n_manifests, 6);
    assert_string_equal(m.manifests[2].platform.variant, "v8");
    assert_string_equal(m.manifests[0].platform.os, "unknown");
    image_manifest_done(&m);
    /* no mediaType and a generic header: `manifests` makes it an OCI index */
    const char *bare = "{\"schemaVersion\":2,\"manifests\":[]}";
    parse_ok("application/octet-stream", bare, &m);
    assert_int_equal(m.kind, IMAGE_INDEX);
    assert_string_equal(m.media_type, IMAGE_MEDIA_OCI_INDEX);
    assert_int_equal(m.n_manifests, 0);
    image_manifest_done(&m);
}

static void test_schema1_refused(void **state UNUSED)
{
    const char *msg =
        "Docker schema 1 manifests are not supported; re-push the image with a current client";
    const char *v1 = "{\"schemaVersion\":1,\"name\":\"library/busybox\",\"tag\":\"latest\","
                     "\"architecture\":\"amd64\",\"fsLayers\":[{\"blobSum\":\"" DG_A "\"}],"
                     "\"history\":[{\"v1Compatibility\":\"{}\"}]}";
    expect_manifest_error(NULL, v1, -EINVAL, msg);
    expect_manifest_error("application/vnd.docker.distribution.manifest.v1+prettyjws", v1, -EINVAL,
                          msg);
    expect_manifest_error("application/vnd.docker.distribution.manifest.v1+json", "{}", -EINVAL,
                          msg);
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"mediaType\":"
                          "\"application/vnd.docker.distribution.manifest.v1+json\"}",
                          -EINVAL, msg);
}

static void test_schema_version(void **state UNUSED)
{
    expect_manifest_error(NULL, "{\"mediaType\":\"" IMAGE_MEDIA_OCI_INDEX "\",\"manifests\":[]}",
                          -EINVAL, "manifest has no schemaVersion");
    expect_manifest_error(NULL, "{\"schemaVersion\":3,\"manifests\":[]}", -EINVAL,
                          "unsupported schemaVersion 3 (only 2 is)");
    expect_manifest_error(NULL, "{\"schemaVersion\":\"2\",\"manifests\":[]}", -EINVAL,
                          "schemaVersion must be a number");
}

static void test_artifact_config_refused(void **state UNUSED)
{
    cleanup_free char *helm = manifest_with("application/vnd.cncf.helm.config.v1+json",
                                            "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    expect_manifest_error(IMAGE_MEDIA_OCI_MANIFEST, helm, -EINVAL,
                          "not a container image: config media type "
                          "application/vnd.cncf.helm.config.v1+json");
    cleanup_free char *empty =
        manifest_with("application/vnd.oci.empty.v1+json", "application/vnd.example+type");
    expect_manifest_error(NULL, empty, -EINVAL,
                          "not a container image: config media type "
                          "application/vnd.oci.empty.v1+json");
    expect_manifest_error(NULL, "{\"schemaVersion\":2,\"layers\":[]}", -EINVAL,
                          "manifest has no config");
}

static void test_unknown_layer_refused(void **state UNUSED)
{
    cleanup_free char *enc =
        manifest_with(OCI_CONFIG, "application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
    expect_manifest_error(NULL, enc, -EINVAL,
                          "layer 0: unsupported media type "
                          "application/vnd.oci.image.layer.v1.tar+gzip+encrypted");
    cleanup_free char *plugin = manifest_with(OCI_CONFIG, "application/vnd.docker.plugin.v1+json");
    expect_manifest_error(NULL, plugin, -EINVAL,
                          "layer 0: unsupported media type application/vnd.docker.plugin.v1+json");
}

static void test_bad_digests(void **state UNUSED)
{
    cleanup_free char *doc = xstrdup(docker_manifest);
    /* uppercase hex in the second layer's digest */
    char *p = strstr(doc, HEX_B);
    p[10] = 'B';
    cleanup_free char *want = xasprintf("layer 0: invalid digest `sha256:%.64s`", p);
    expect_manifest_error(NULL, doc, -EINVAL, want);
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG
                          "\",\"digest\":\"md5:abc\",\"size\":1},\"layers\":[]}",
                          -EINVAL, "config: invalid digest `md5:abc`");
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG
                          "\",\"size\":1},\"layers\":[]}",
                          -EINVAL, "config: digest is missing or not a string");
    expect_manifest_error(
        NULL,
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST
        "\",\"digest\":\"sha256:12\",\"size\":1}]}",
        -EINVAL, "manifest 0: invalid digest `sha256:12`");
}

static void test_sizes(void **state UNUSED)
{
    static const struct {
        const char *size, *msg;
    } cases[] = {
        {"-1", "layer 0: size must be an integer from 0 to 2^53"},
        {"1.5", "layer 0: size must be an integer from 0 to 2^53"},
        {"\"12\"", "layer 0: size must be an integer from 0 to 2^53"},
        {"1e300", "layer 0: size must be an integer from 0 to 2^53"},
        {"null", "layer 0: size must be an integer from 0 to 2^53"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cleanup_free char *doc = xasprintf(
            "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG "\",\"digest\":\"" DG_A
            "\",\"size\":1},\"layers\":[{\"mediaType\":\"" OCI_LAYER_GZIP "\",\"digest\":\"" DG_B
            "\",\"size\":%s}]}",
            cases[i].size);
        expect_manifest_error(NULL, doc, -EINVAL, cases[i].msg);
    }
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG
                          "\",\"digest\":\"" DG_A "\"},\"layers\":[]}",
                          -EINVAL, "config: size is missing");
    cleanup_free char *big =
        xasprintf("{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG
                  "\",\"digest\":\"" DG_A "\",\"size\":9007199254740992},\"layers\":[]}");
    struct image_manifest m;
    parse_ok(NULL, big, &m);
    assert_true(m.config.size == 9007199254740992LL);
    image_manifest_done(&m);
}

/* A manifest with n identical layers, or an index with n entries. */
static char *many(size_t n, bool index)
{
    struct buf b = {0};
    if (index)
        buf_puts(&b, "{\"schemaVersion\":2,\"manifests\":[");
    else
        buf_puts(&b, "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" OCI_CONFIG
                     "\",\"digest\":\"" DG_A "\",\"size\":1},\"layers\":[");
    for (size_t i = 0; i < n; i++)
        buf_printf(&b, "%s{\"mediaType\":\"%s\",\"digest\":\"" DG_B "\",\"size\":1}", i ? "," : "",
                   index ? IMAGE_MEDIA_OCI_MANIFEST : OCI_LAYER_GZIP);
    buf_puts(&b, "]}");
    return buf_steal(&b);
}

static void test_limits(void **state UNUSED)
{
    cleanup_free char *ok = many(1000, false);
    cleanup_free char *over = many(1001, false);
    cleanup_free char *index_over = many(1001, true);
    struct image_manifest m;
    parse_ok(NULL, ok, &m);
    assert_int_equal(m.n_layers, 1000);
    image_manifest_done(&m);
    expect_manifest_error(NULL, over, -EINVAL, "too many entries in `layers` (at most 1000)");
    expect_manifest_error(NULL, index_over, -EINVAL,
                          "too many entries in `manifests` (at most 1000)");

    size_t len = IMAGE_MANIFEST_MAX + 1;
    char *huge = xmalloc(len);
    memset(huge, ' ', len);
    struct err err = ERR_INIT;
    assert_int_equal(image_manifest_parse(NULL, huge, len, &m, &err), -EFBIG);
    assert_string_equal(err_msg(&err), "manifest is larger than 4194304 bytes");
    free(huge);
    err_done(&err);
}

static void test_bad_json(void **state UNUSED)
{
    expect_manifest_error(NULL, "", -EINVAL, "manifest is not valid JSON (error at byte 0)");
    expect_manifest_error(NULL, "{\"schemaVersion\":2,", -EINVAL,
                          "manifest is not valid JSON (error at byte 19)");
    expect_manifest_error(NULL, "{\"schemaVersion\":2} x", -EINVAL,
                          "manifest is not valid JSON (error at byte 20)");
    expect_manifest_error(NULL, "[1,2]", -EINVAL, "manifest is not a JSON object");
    struct image_manifest m;
    struct err err = ERR_INIT;
    const char nul[] = "{\"schemaVersion\":2}\0{}";
    assert_int_equal(image_manifest_parse(NULL, nul, sizeof(nul) - 1, &m, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "manifest is not valid JSON: it contains a NUL byte");
    err_done(&err);
    /* the length is respected: no NUL terminator is needed */
    assert_int_equal(image_manifest_parse(NULL, docker_manifest, 10, &m, &err), -EINVAL);
    err_done(&err);
}

static void test_ambiguous_documents(void **state UNUSED)
{
    expect_manifest_error(
        NULL, "{\"schemaVersion\":2,\"manifests\":[],\"layers\":[],\"config\":{}}", -EINVAL,
        "document has both `manifests` and `config`/`layers`: it is neither a "
        "manifest nor an index");
    expect_manifest_error(IMAGE_MEDIA_DOCKER_LIST, "{\"schemaVersion\":2,\"layers\":[]}", -EINVAL,
                          "a document of type " IMAGE_MEDIA_DOCKER_LIST
                          " must not have `config`/`layers`");
    expect_manifest_error(
        NULL,
        "{\"schemaVersion\":2,\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\",\"manifests\":[]}",
        -EINVAL, "a document of type " IMAGE_MEDIA_OCI_MANIFEST " must not have `manifests`");
    expect_manifest_error(NULL, "{\"schemaVersion\":2}", -EINVAL,
                          "document is neither a manifest nor an index (no mediaType, no "
                          "`manifests`, no `config`)");
    /* the same key twice (in any case) could be read differently by another parser */
    expect_manifest_error(NULL, "{\"schemaVersion\":2,\"manifests\":[],\"Manifests\":[]}", -EINVAL,
                          "manifest: key `manifests` appears more than once");
    expect_manifest_error(NULL,
                          "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":"
                          "\"" DG_A "\",\"digest\":\"" DG_B "\",\"size\":1}]}",
                          -EINVAL, "manifest 0: key `digest` appears more than once");
}

static void test_descriptor_shapes(void **state UNUSED)
{
    expect_manifest_error(NULL, "{\"schemaVersion\":2,\"manifests\":{}}", -EINVAL,
                          "`manifests` must be an array");
    expect_manifest_error(NULL, "{\"schemaVersion\":2,\"manifests\":[1]}", -EINVAL,
                          "manifest 0 must be an object");
    expect_manifest_error(
        NULL, "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" DG_A "\",\"size\":1}]}", -EINVAL,
        "manifest 0: mediaType is missing or not a string");
    expect_manifest_error(
        NULL,
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DG_A
        "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}",
        -EINVAL, "manifest 0.platform needs `os` and `architecture`");
    expect_manifest_error(
        NULL,
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" DG_A
        "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":1}}]}",
        -EINVAL, "manifest 0.platform.architecture must be a string");
    expect_manifest_error(NULL, "{\"schemaVersion\":2,\"config\":{}}", -EINVAL,
                          "config: mediaType is missing or not a string");
}

static const struct image_descriptor *select_ok(const struct image_manifest *m, const char *arch,
                                                const char *variant)
{
    const struct image_descriptor *d = NULL;
    struct err err = ERR_INIT;
    int r = image_index_select(m, "linux", arch, variant, &d, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    assert_non_null(d);
    err_done(&err);
    return d;
}

static void test_select_amd64(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(NULL, oci_index, &m);
    assert_string_equal(select_ok(&m, "amd64", NULL)->digest, DG_A);
    assert_string_equal(select_ok(&m, "x86_64", NULL)->digest, DG_A);
    assert_string_equal(select_ok(&m, "amd64", "v1")->digest, DG_A);
    /* a plain amd64 image serves an amd64/v3 machine */
    assert_string_equal(select_ok(&m, "amd64", "v3")->digest, DG_A);
    assert_string_equal(select_ok(&m, "s390x", NULL)->platform.architecture, "s390x");
    image_manifest_done(&m);
}

static void test_select_arm64(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(NULL, oci_index, &m);
    assert_string_equal(select_ok(&m, "arm64", NULL)->digest, DG_B);
    assert_string_equal(select_ok(&m, "arm64", "v8")->digest, DG_B);
    assert_string_equal(select_ok(&m, "aarch64", NULL)->digest, DG_B);
    image_manifest_done(&m);
    /* an entry without variant serves arm64 v8 the same */
    const char *idx =
        "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST
        "\",\"digest\":\"" DG_C "\",\"size\":1,\"platform\":{\"os\":\"linux\","
        "\"architecture\":\"arm64\"}}]}";
    parse_ok(NULL, idx, &m);
    assert_string_equal(select_ok(&m, "arm64", "v8")->digest, DG_C);
    image_manifest_done(&m);
}

static void test_select_arm_variants(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(NULL, oci_index, &m);
    const char *v7 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    /* v6 comes first in the index, yet v7 is preferred */
    assert_string_equal(select_ok(&m, "arm", NULL)->digest, v7);
    assert_string_equal(select_ok(&m, "arm", "v7")->digest, v7);
    assert_string_equal(select_ok(&m, "armhf", NULL)->digest, v7);
    assert_string_equal(select_ok(&m, "arm", "v6")->digest, DG_C);
    assert_string_equal(select_ok(&m, "armv6l", NULL)->digest, DG_C);
    assert_string_equal(select_ok(&m, "arm", "v8")->digest, v7);
    const struct image_descriptor *d;
    struct err err = ERR_INIT;
    assert_int_equal(image_index_select(&m, "linux", "arm", "v5", &d, &err), -ENOENT);
    assert_null(d);
    err_done(&err);
    image_manifest_done(&m);

    /* only v5 and v6 available: an arm machine with no variant takes v6 */
    const char *idx = "{\"schemaVersion\":2,\"manifests\":["
                      "{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\",\"digest\":\"" DG_A
                      "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
                      "\"variant\":\"v5\"}},"
                      "{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\",\"digest\":\"" DG_B
                      "\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\","
                      "\"variant\":\"v6\"}}]}";
    parse_ok(NULL, idx, &m);
    assert_string_equal(select_ok(&m, "arm", NULL)->digest, DG_B);
    assert_string_equal(select_ok(&m, "arm", "v5")->digest, DG_A);
    image_manifest_done(&m);
}

static void test_select_skips_unknown_and_non_images(void **state UNUSED)
{
    const char *idx =
        "{\"schemaVersion\":2,\"manifests\":["
        "{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\",\"digest\":\"" DG_A "\",\"size\":1,"
        "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
        "{\"mediaType\":\"application/vnd.example.sbom+json\",\"digest\":\"" DG_B "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
        "{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST "\",\"digest\":\"" DG_D "\",\"size\":1},"
        "{\"mediaType\":\"" IMAGE_MEDIA_DOCKER_MANIFEST "\",\"digest\":\"" DG_C "\",\"size\":1,"
        "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}}]}";
    struct image_manifest m;
    parse_ok(NULL, idx, &m);
    assert_string_equal(select_ok(&m, "amd64", NULL)->digest, DG_C);
    const struct image_descriptor *d;
    struct err err = ERR_INIT;
    assert_int_equal(image_index_select(&m, "unknown", "unknown", NULL, &d, &err), -ENOENT);
    assert_string_equal(err_msg(&err),
                        "no image for unknown/unknown in the index (available: linux/amd64)");
    err_done(&err);
    image_manifest_done(&m);
}

static void test_select_none_matching(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(NULL, oci_index, &m);
    const struct image_descriptor *d = (void *)1;
    struct err err = ERR_INIT;
    assert_int_equal(image_index_select(&m, "linux", "riscv64", NULL, &d, &err), -ENOENT);
    assert_null(d);
    assert_string_equal(err_msg(&err),
                        "no image for linux/riscv64 in the index (available: linux/amd64, "
                        "linux/arm64/v8, linux/arm/v6, linux/arm/v7, linux/s390x)");
    assert_int_equal(image_index_select(&m, "windows", "amd64", NULL, &d, &err), -ENOENT);
    assert_non_null(strstr(err_msg(&err), "no image for windows/amd64 in the index"));
    assert_int_equal(image_index_select(&m, "linux", "amd64", "v3", &d, &err), 0);
    image_manifest_done(&m);

    /* duplicates are listed once; an index of attestations only has none */
    parse_ok(NULL,
             "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" IMAGE_MEDIA_OCI_MANIFEST
             "\",\"digest\":\"" DG_A "\",\"size\":1,\"platform\":{\"os\":\"unknown\","
             "\"architecture\":\"unknown\"}}]}",
             &m);
    assert_int_equal(image_index_select(&m, "linux", "arm", "v7", &d, &err), -ENOENT);
    assert_string_equal(err_msg(&err), "no image for linux/arm/v7 in the index (available: none)");
    image_manifest_done(&m);
    cleanup_free char *dups = many(3, true);
    /* many() entries have no platform: nothing usable */
    parse_ok(NULL, dups, &m);
    assert_int_equal(image_index_select(&m, "linux", "amd64", NULL, &d, &err), -ENOENT);
    assert_string_equal(err_msg(&err), "no image for linux/amd64 in the index (available: none)");
    image_manifest_done(&m);
    err_done(&err);
}

static void test_select_on_manifest(void **state UNUSED)
{
    struct image_manifest m;
    parse_ok(NULL, docker_manifest, &m);
    const struct image_descriptor *d;
    struct err err = ERR_INIT;
    assert_int_equal(image_index_select(&m, "linux", "amd64", NULL, &d, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "not an index");
    err_done(&err);
    image_manifest_done(&m);
}

static void test_platform_host(void **state UNUSED)
{
    const char *os, *arch, *variant;
    image_platform_host(&os, &arch, &variant);
    assert_string_equal(os, "linux");
#if defined(__x86_64__)
    assert_string_equal(arch, "amd64");
    assert_null(variant);
#elif defined(__aarch64__)
    assert_string_equal(arch, "arm64");
#endif
    /* what the host says must select the host's entry of a typical index */
    struct image_manifest m;
    parse_ok(NULL, oci_index, &m);
    const struct image_descriptor *d;
    struct err err = ERR_INIT;
    int r = image_index_select(&m, os, arch, variant, &d, &err);
    if (strcmp(arch, "amd64") == 0 || strcmp(arch, "arm64") == 0)
        assert_int_equal(r, 0);
    err_done(&err);
    image_manifest_done(&m);
}

static const char docker_config[] =
    "{\"architecture\":\"amd64\",\"config\":{\"Hostname\":\"\",\"User\":\"nobody:nogroup\","
    "\"ExposedPorts\":{\"80/tcp\":{},\"443/tcp\":{}},"
    "\"Env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
    "\"NGINX_VERSION=1.25.3\"],\"Cmd\":[\"nginx\",\"-g\",\"daemon off;\"],"
    "\"Entrypoint\":[\"/docker-entrypoint.sh\"],\"Volumes\":{\"/var/cache/nginx\":{}},"
    "\"WorkingDir\":\"/srv\",\"Labels\":{\"maintainer\":\"NGINX <docker-maint@nginx.com>\","
    "\"org.opencontainers.image.version\":\"1.25.3\"},\"StopSignal\":\"SIGQUIT\","
    "\"ArgsEscaped\":true},\"created\":\"2023-11-01T12:34:56.123456789Z\","
    "\"history\":[{\"created\":\"2023-11-01T12:34:56Z\",\"created_by\":\"/bin/sh\"}],"
    "\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG_A "\",\"" DG_B "\"]},"
    "\"docker_version\":\"20.10.23\"}";

static void config_ok(const char *text, struct image_config *c)
{
    struct err err = ERR_INIT;
    int r = image_config_parse(text, strlen(text), c, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
}

static void expect_config_error(const char *text, const char *want)
{
    struct image_config c;
    struct err err = ERR_INIT;
    int r = image_config_parse(text, strlen(text), &c, &err);
    if (r != -EINVAL || strcmp(err_msg(&err), want) != 0)
        print_error("got  %d `%s`\nwant `%s`\n", r, err_msg(&err), want);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err_msg(&err), want);
    assert_null(c.env);
    assert_null(c.diff_ids);
    assert_null(c.architecture);
    err_done(&err);
}

static void test_config_docker(void **state UNUSED)
{
    struct image_config c;
    config_ok(docker_config, &c);
    assert_string_equal(c.architecture, "amd64");
    assert_string_equal(c.os, "linux");
    assert_null(c.variant);
    assert_string_equal(c.user, "nobody:nogroup");
    assert_string_equal(c.working_dir, "/srv");
    assert_string_equal(c.stop_signal, "SIGQUIT");
    assert_int_equal(c.n_env, 2);
    assert_string_equal(c.env[1], "NGINX_VERSION=1.25.3");
    assert_int_equal(c.n_entrypoint, 1);
    assert_string_equal(c.entrypoint[0], "/docker-entrypoint.sh");
    assert_int_equal(c.n_cmd, 3);
    assert_string_equal(c.cmd[2], "daemon off;");
    assert_int_equal(c.n_volumes, 1);
    assert_string_equal(c.volumes[0], "/var/cache/nginx");
    assert_int_equal(c.n_exposed_ports, 2);
    assert_string_equal(c.exposed_ports[0], "80/tcp");
    assert_string_equal(c.exposed_ports[1], "443/tcp");
    assert_int_equal(c.n_labels, 2);
    assert_string_equal(c.label_keys[0], "maintainer");
    assert_string_equal(c.label_values[0], "NGINX <docker-maint@nginx.com>");
    assert_string_equal(c.label_keys[1], "org.opencontainers.image.version");
    assert_int_equal(c.n_diff_ids, 2);
    assert_string_equal(c.diff_ids[0], DG_A);
    assert_string_equal(c.created, "2023-11-01T12:34:56.123456789Z");
    image_config_done(&c);
    image_config_done(&c);
}

static void test_config_nulls(void **state UNUSED)
{
    struct image_config c;
    config_ok("{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"config\":null,"
              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
              &c);
    assert_string_equal(c.variant, "v8");
    assert_null(c.user);
    assert_null(c.env);
    assert_int_equal(c.n_env, 0);
    assert_int_equal(c.n_diff_ids, 0);
    assert_null(c.created);
    image_config_done(&c);
    config_ok("{\"created\":null,\"config\":{\"User\":null,\"Env\":null,\"Cmd\":null,"
              "\"Entrypoint\":null,\"Volumes\":null,\"ExposedPorts\":null,\"WorkingDir\":null,"
              "\"Labels\":{\"a\":null,\"b\":\"x\"},\"StopSignal\":null},"
              "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG_C "\"]}}",
              &c);
    assert_null(c.architecture);
    assert_null(c.cmd);
    assert_int_equal(c.n_labels, 2);
    assert_string_equal(c.label_values[0], "");
    assert_string_equal(c.label_values[1], "x");
    assert_int_equal(c.n_diff_ids, 1);
    image_config_done(&c);
}

static void test_config_rootfs_errors(void **state UNUSED)
{
    expect_config_error("{\"os\":\"linux\"}", "image config has no rootfs");
    expect_config_error("{\"rootfs\":{\"type\":\"layers\"}}", "rootfs: `diff_ids` is missing");
    expect_config_error("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":null}}",
                        "rootfs: `diff_ids` is missing");
    expect_config_error("{\"rootfs\":{\"type\":\"squashfs\",\"diff_ids\":[]}}",
                        "rootfs.type must be `layers`, not `squashfs`");
    expect_config_error("{\"rootfs\":{\"diff_ids\":[]}}", "rootfs.type is missing or not a string");
    expect_config_error("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DG_A
                        "\",\"sha256:xyz\"]}}",
                        "rootfs.diff_ids[1]: invalid digest `sha256:xyz`");
    expect_config_error("{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[7]}}",
                        "rootfs.diff_ids[0]: invalid digest ``");
    expect_config_error("{\"rootfs\":[]}", "rootfs must be an object");
}

static void test_config_type_errors(void **state UNUSED)
{
    const char *rootfs = "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}";
    cleanup_free char *env = xasprintf("{\"config\":{\"Env\":\"A=B\"},%s}", rootfs);
    cleanup_free char *cmd = xasprintf("{\"config\":{\"Cmd\":[\"a\",1]},%s}", rootfs);
    cleanup_free char *user = xasprintf("{\"config\":{\"User\":0},%s}", rootfs);
    cleanup_free char *labels = xasprintf("{\"config\":{\"Labels\":{\"a\":1}},%s}", rootfs);
    cleanup_free char *ports = xasprintf("{\"config\":{\"ExposedPorts\":[\"80\"]},%s}", rootfs);
    cleanup_free char *arch = xasprintf("{\"architecture\":1,%s}", rootfs);
    cleanup_free char *cfg = xasprintf("{\"config\":[],%s}", rootfs);
    cleanup_free char *dup = xasprintf("{\"config\":{\"Cmd\":[\"a\"],\"cmd\":[\"b\"]},%s}", rootfs);
    expect_config_error(env, "config.Env must be an array of strings");
    expect_config_error(cmd, "config.Cmd must be an array of strings");
    expect_config_error(user, "config.User must be a string");
    expect_config_error(labels, "config.Labels[\"a\"] must be a string");
    expect_config_error(ports, "config.ExposedPorts must be an object");
    expect_config_error(arch, "architecture must be a string");
    expect_config_error(cfg, "config must be an object");
    expect_config_error(dup, "config: key `Cmd` appears more than once");
    expect_config_error("[]", "image config is not a JSON object");
    expect_config_error("{", "image config is not valid JSON (error at byte 1)");
}

/* A config whose field (an array, or with object_value an object of such values) has n
 * entries. */
static char *config_with_list(const char *field, const char *object_value, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fprintf(f, "{\"config\":{\"%s\":%c", field, object_value ? '{' : '[');
    for (size_t i = 0; i < n; i++) {
        if (object_value)
            fprintf(f, "%s\"K%zu\":%s", i ? "," : "", i, object_value);
        else
            fprintf(f, "%s\"K%zu=v\"", i ? "," : "", i);
    }
    fprintf(f, "%c},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}", object_value ? '}' : ']');
    assert_int_equal(fclose(f), 0);
    return text;
}

/* Every list read from an image config has a bound; more is an error naming the field. */
static void test_config_list_caps(void **state UNUSED)
{
    static const struct {
        const char *field, *object_value;
    } lists[] = {{"Env", NULL},     {"Entrypoint", NULL},   {"Cmd", NULL},
                 {"Volumes", "{}"}, {"ExposedPorts", "{}"}, {"Labels", "\"v\""}};
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++) {
        cleanup_free char *most =
            config_with_list(lists[i].field, lists[i].object_value, IMAGE_CONFIG_LIST_MAX);
        struct image_config c;
        config_ok(most, &c);
        size_t counts[] = {c.n_env,     c.n_entrypoint,    c.n_cmd,
                           c.n_volumes, c.n_exposed_ports, c.n_labels};
        assert_int_equal(counts[i], IMAGE_CONFIG_LIST_MAX);
        image_config_done(&c);

        cleanup_free char *over =
            config_with_list(lists[i].field, lists[i].object_value, IMAGE_CONFIG_LIST_MAX + 1);
        cleanup_free char *want = xasprintf("too many entries in config.%s (at most %d)",
                                            lists[i].field, IMAGE_CONFIG_LIST_MAX);
        expect_config_error(over, want);
    }
}

static void expect_docker_error(const char *text, const char *want)
{
    struct image_docker_entry *v;
    size_t n;
    struct err err = ERR_INIT;
    int r = image_docker_manifest_parse(text, strlen(text), &v, &n, &err);
    if (r != -EINVAL || strcmp(err_msg(&err), want) != 0)
        print_error("got  %d `%s`\nwant `%s`\n", r, err_msg(&err), want);
    assert_int_equal(r, -EINVAL);
    assert_string_equal(err_msg(&err), want);
    assert_null(v);
    assert_int_equal(n, 0);
    err_done(&err);
}

/* A `docker save` manifest.json: paths stay inside, lists are bounded. */
static void test_docker_manifest_json(void **state UNUSED)
{
    const char *ok = "[{\"Config\":\"c.json\",\"RepoTags\":[\"busybox:latest\"],"
                     "\"Layers\":[\"a/layer.tar\",\"b..c/layer.tar\"]},"
                     "{\"Config\":\"d.json\",\"Layers\":[]}]";
    struct image_docker_entry *v;
    size_t n;
    struct err err = ERR_INIT;
    assert_int_equal(image_docker_manifest_parse(ok, strlen(ok), &v, &n, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(v[0].config, "c.json");
    assert_int_equal(v[0].n_layers, 2);
    assert_string_equal(v[0].layers[1], "b..c/layer.tar");
    assert_int_equal(v[0].n_repo_tags, 1);
    assert_string_equal(v[0].repo_tags[0], "busybox:latest");
    assert_int_equal(v[1].n_layers, 0);
    assert_int_equal(v[1].n_repo_tags, 0);
    image_docker_entries_free(v, n);

    expect_docker_error("[]", "manifest.json: not a list of 1 to 256 images");
    expect_docker_error("{}", "manifest.json: not a list of 1 to 256 images");
    expect_docker_error("[{\"Config\":\"../c.json\",\"Layers\":[]}]",
                        "manifest.json[0]: `Config` must be a relative path");
    expect_docker_error("[{\"Config\":\"c\",\"Layers\":[]},{\"Config\":\"c\",\"Layers\":"
                        "[\"a/../../x\"]}]",
                        "manifest.json[1]: bad layer path `a/../../x`");
    expect_docker_error("[{\"Config\":\"c\"}]", "manifest.json[0]: `Layers` is missing");
    expect_docker_error("[{\"Config\":\"c\",\"Layers\":[],\"RepoTags\":[1]}]",
                        "manifest.json[0]: `RepoTags` must hold strings");
    char *many = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&many, &len);
    assert_non_null(f);
    fputs("[{\"Config\":\"c\",\"Layers\":[],\"RepoTags\":[", f);
    for (int i = 0; i <= IMAGE_MANIFEST_ENTRIES_MAX; i++)
        fprintf(f, "%s\"t:%d\"", i ? "," : "", i);
    fputs("]}]", f);
    assert_int_equal(fclose(f), 0);
    expect_docker_error(many, "manifest.json[0]: too many entries in `RepoTags` (at most 1000)");
    free(many);
}

static void test_layer_compression(void **state UNUSED)
{
    assert_int_equal(image_layer_compression(NULL), IMAGE_LAYER_NONE);
    assert_int_equal(image_layer_compression("application/vnd.oci.image.layer.v1.tar"),
                     IMAGE_LAYER_NONE);
    assert_int_equal(image_layer_compression("application/vnd.docker.image.rootfs.diff.tar.zstd"),
                     IMAGE_LAYER_ZSTD);
    assert_int_equal(image_layer_compression(DOCKER_LAYER), IMAGE_LAYER_GZIP);
    assert_int_equal(image_layer_compression(OCI_LAYER_GZIP), IMAGE_LAYER_GZIP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker_manifest),
        cmocka_unit_test(test_oci_manifest_layer_types),
        cmocka_unit_test(test_content_type_decides),
        cmocka_unit_test(test_media_type_mismatch),
        cmocka_unit_test(test_docker_manifest_list),
        cmocka_unit_test(test_oci_index),
        cmocka_unit_test(test_schema1_refused),
        cmocka_unit_test(test_schema_version),
        cmocka_unit_test(test_artifact_config_refused),
        cmocka_unit_test(test_unknown_layer_refused),
        cmocka_unit_test(test_bad_digests),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_ambiguous_documents),
        cmocka_unit_test(test_descriptor_shapes),
        cmocka_unit_test(test_select_amd64),
        cmocka_unit_test(test_select_arm64),
        cmocka_unit_test(test_select_arm_variants),
        cmocka_unit_test(test_select_skips_unknown_and_non_images),
        cmocka_unit_test(test_select_none_matching),
        cmocka_unit_test(test_select_on_manifest),
        cmocka_unit_test(test_platform_host),
        cmocka_unit_test(test_config_docker),
        cmocka_unit_test(test_config_nulls),
        cmocka_unit_test(test_config_rootfs_errors),
        cmocka_unit_test(test_config_type_errors),
        cmocka_unit_test(test_layer_compression),
        cmocka_unit_test(test_config_list_caps),
        cmocka_unit_test(test_docker_manifest_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
