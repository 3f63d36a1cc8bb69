/* Unit tests for image references in src/image/ref.c: normalisation, the grammar's corners and the
 * messages for malformed references. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "image/ref.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D128 D64 D64

/* Parse s, which must succeed, and compare every field (NULL means absent). */
static void expect_ref(const char *s, const char *domain, const char *path, const char *tag,
                       const char *digest)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    int rc = image_ref_parse(s, &r, &err);
    if (rc < 0)
        print_error("%s: %s\n", s, err_msg(&err));
    assert_int_equal(rc, 0);
    if (domain)
        assert_string_equal(r.domain, domain);
    else
        assert_null(r.domain);
    assert_string_equal(r.path, path);
    if (tag)
        assert_string_equal(r.tag, tag);
    else
        assert_null(r.tag);
    if (digest)
        assert_string_equal(r.digest, digest);
    else
        assert_null(r.digest);
    image_ref_done(&r);
    err_done(&err);
}

/* Parse s, which must fail with -EINVAL and a message containing want. */
static void expect_bad(const char *s, const char *want)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    int rc = image_ref_parse(s, &r, &err);
    assert_int_equal(rc, -EINVAL);
    assert_null(r.domain);
    assert_null(r.path);
    assert_null(r.tag);
    assert_null(r.digest);
    if (!strstr(err_msg(&err), want))
        print_error("%s: got `%s`, want `%s`\n", s, err_msg(&err), want);
    assert_non_null(strstr(err_msg(&err), want));
    err_done(&err);
}

/* Parse s and print it back with image_ref_string(). */
static void expect_printed(const char *s, const char *want)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse(s, &r, &err), 0);
    cleanup_free char *out = image_ref_string(&r);
    assert_string_equal(out, want);
    image_ref_done(&r);
}

static void test_short_names(void **state UNUSED)
{
    expect_ref("busybox", NULL, "busybox", NULL, NULL);
    expect_ref("busybox:1.36", NULL, "busybox", "1.36", NULL);
    expect_ref("foo/bar", NULL, "foo/bar", NULL, NULL);
    expect_ref("library/busybox", NULL, "library/busybox", NULL, NULL);
    expect_ref("a/b/c/d:v1", NULL, "a/b/c/d", "v1", NULL);
}

static void test_docker_io_library(void **state UNUSED)
{
    expect_ref("docker.io/busybox", "docker.io", "library/busybox", NULL, NULL);
    expect_ref("docker.io/library/busybox", "docker.io", "library/busybox", NULL, NULL);
    expect_ref("docker.io/user/app:1", "docker.io", "user/app", "1", NULL);
    expect_ref("index.docker.io/busybox", "docker.io", "library/busybox", NULL, NULL);
    expect_ref("index.docker.io/user/app", "docker.io", "user/app", NULL, NULL);
    /* other registries never get library/ */
    expect_ref("quay.io/busybox", "quay.io", "busybox", NULL, NULL);
}

static void test_qualified_names(void **state UNUSED)
{
    expect_ref("registry.k8s.io/pause:3.9", "registry.k8s.io", "pause", "3.9", NULL);
    expect_ref("quay.io/a/b/c", "quay.io", "a/b/c", NULL, NULL);
    expect_ref("localhost/x", "localhost", "x", NULL, NULL);
    expect_ref("127.0.0.1/x:y", "127.0.0.1", "x", "y", NULL);
    expect_ref("my-registry.example.com/team/app", "my-registry.example.com", "team/app", NULL,
               NULL);
}

static void test_ports(void **state UNUSED)
{
    expect_ref("localhost:5000/x", "localhost:5000", "x", NULL, NULL);
    expect_ref("127.0.0.1:5000/a/b:c", "127.0.0.1:5000", "a/b", "c", NULL);
    expect_ref("registry:443/app", "registry:443", "app", NULL, NULL);
    expect_bad("localhost:0/x", "invalid port `0`");
    expect_bad("localhost:65536/x", "invalid port `65536`");
    expect_bad("localhost:50a/x", "invalid port");
    expect_bad("localhost:/x", "invalid port");
}

static void test_tag_port_ambiguity(void **state UNUSED)
{
    /* the colon after the last slash is a tag; before it, a port */
    expect_ref("localhost:5000/a:b", "localhost:5000", "a", "b", NULL);
    /* with no slash there is no domain: localhost:5000 is the image localhost, tag 5000 */
    expect_ref("localhost:5000", NULL, "localhost", "5000", NULL);
    expect_ref("example.com:5000/ns/app:5000", "example.com:5000", "ns/app", "5000", NULL);
}

static void test_domain_detection(void **state UNUSED)
{
    /* a first component with no dot, colon, or uppercase, that is not localhost: a namespace */
    expect_ref("myhost/app", NULL, "myhost/app", NULL, NULL);
    /* Docker's rule: a repository cannot have uppercase, so this is a registry host */
    expect_ref("MyHost/app", "MyHost", "app", NULL, NULL);
    expect_ref("localhostx/app", NULL, "localhostx/app", NULL, NULL);
}

static void test_digests(void **state UNUSED)
{
    expect_ref("busybox@sha256:" D64, NULL, "busybox", NULL, "sha256:" D64);
    expect_ref("quay.io/a/b:v1@sha256:" D64, "quay.io", "a/b", "v1", "sha256:" D64);
    expect_ref("localhost:5000/a@sha512:" D128, "localhost:5000", "a", NULL, "sha512:" D128);
}

static void test_bad_digests(void **state UNUSED)
{
    expect_bad("busybox@sha256:abc", "a sha256 digest needs 64 lowercase hex digits");
    expect_bad("busybox@sha256:" D64 "00", "a sha256 digest needs 64 lowercase hex digits");
    expect_bad("busybox@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
               "a sha256 digest needs 64 lowercase hex digits");
    expect_bad("busybox@sha512:" D64, "a sha512 digest needs 128 lowercase hex digits");
    expect_bad("busybox@md5:0123456789abcdef0123456789abcdef",
               "unsupported digest algorithm `md5`");
    expect_bad("busybox@" D64, "is not of the form algorithm:hex");
    expect_bad("busybox@", "is not of the form algorithm:hex");
    expect_bad("busybox@sha256:" D64 "@sha256:" D64, "a sha256 digest needs");
}

static void test_uppercase(void **state UNUSED)
{
    expect_bad("BusyBox", "repository name must be lowercase");
    expect_bad("quay.io/Foo/bar", "repository name must be lowercase");
    expect_bad("docker.io/library/Busybox:latest", "repository name must be lowercase");
    /* tags may have uppercase */
    expect_ref("busybox:Latest", NULL, "busybox", "Latest", NULL);
}

static void test_separators(void **state UNUSED)
{
    expect_ref("ns/a.b_c__d-e---f", NULL, "ns/a.b_c__d-e---f", NULL, NULL);
    /* with a dot in the first component it is a registry host, where _ is not allowed */
    expect_bad("a.b_c/g", "invalid registry host `a.b_c`");
    expect_bad("a___b", "invalid separator in repository path component `a___b`");
    expect_bad("a..b", "invalid separator");
    expect_bad("a.-b", "invalid separator");
    expect_bad("-ab", "must start and end with a letter or digit");
    expect_bad("ab_", "must start and end with a letter or digit");
    expect_bad("quay.io/.hidden", "must start and end with a letter or digit");
    expect_bad("a+b", "invalid character `+` in repository name");
    expect_bad("a b", "invalid character ` ` in repository name");
}

static void test_empty_components(void **state UNUSED)
{
    expect_bad("foo//bar", "empty path component");
    expect_bad("foo/", "empty path component");
    expect_bad("/foo", "empty path component");
    expect_bad("quay.io/", "empty path component");
    expect_bad("quay.io//a", "empty path component");
    expect_bad(":tag", "missing repository name");
    expect_bad("@sha256:" D64, "missing repository name");
    expect_bad("", "empty");
}

static void test_bad_tags(void **state UNUSED)
{
    char tag[200];
    memset(tag, 'a', sizeof(tag));
    tag[sizeof(tag) - 1] = '\0';
    cleanup_free char *long_tag = xasprintf("busybox:%.129s", tag);
    cleanup_free char *max_tag = xasprintf("busybox:%.128s", tag);
    expect_bad(long_tag, "tag longer than 128 characters");
    expect_ref(max_tag, NULL, "busybox", tag + sizeof(tag) - 129, NULL);
    expect_bad("busybox:", "empty tag");
    expect_bad("busybox:.x", "tag must start with a letter, digit or '_'");
    expect_bad("busybox:-x", "tag must start with a letter, digit or '_'");
    /* the colon is before the last slash, so busybox:a is a registry with a bad port */
    expect_bad("busybox:a/b", "invalid port `a` in registry `busybox:a`");
    expect_bad("busybox:a:b", "invalid character `:` in tag");
    expect_bad("busybox:a+b", "invalid character `+` in tag");
    expect_ref("busybox:_x.y-z", NULL, "busybox", "_x.y-z", NULL);
}

static void test_bad_domains(void **state UNUSED)
{
    expect_bad("-bad.com/x", "invalid registry host `-bad.com`");
    expect_bad("bad-.com/x", "invalid registry host `bad-.com`");
    expect_bad("a..com/x", "invalid registry host `a..com`");
    expect_bad("a_b.com/x", "invalid registry host `a_b.com`");
    expect_bad(".com/x", "invalid registry host `.com`");
}

static void test_ipv6(void **state UNUSED)
{
    expect_ref("[::1]:5000/app:v1", "[::1]:5000", "app", "v1", NULL);
    expect_ref("[fe80::1]/app", "[fe80::1]", "app", NULL, NULL);
    expect_bad("[zz::1]:5000/app", "invalid IPv6 address in registry `[zz::1]:5000`");
    expect_bad("[::1/app", "invalid IPv6 address");
    expect_bad("[::1]x/app", "invalid registry `[::1]x`");
}

static void test_too_long(void **state UNUSED)
{
    char comp[300];
    memset(comp, 'a', sizeof(comp));
    comp[sizeof(comp) - 1] = '\0';
    /* quay.io/ (8) + 247 = 255: the maximum */
    cleanup_free char *max = xasprintf("quay.io/%.247s", comp);
    cleanup_free char *over = xasprintf("quay.io/%.248s", comp);
    cleanup_free char *short_over = xasprintf("%.256s", comp);
    expect_ref(max, "quay.io", comp + sizeof(comp) - 248, NULL, NULL);
    expect_bad(over, "repository name longer than 255 characters");
    expect_bad(short_over, "repository name longer than 255 characters");
    /* docker.io/ + library/ + 237 = 255; one more only overflows after library/ is added */
    cleanup_free char *lib_max = xasprintf("docker.io/%.237s", comp);
    cleanup_free char *lib_over = xasprintf("docker.io/%.238s", comp);
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse(lib_max, &r, &err), 0);
    image_ref_done(&r);
    expect_bad(lib_over, "repository name longer than 255 characters");
    char huge[2000];
    memset(huge, 'a', sizeof(huge));
    huge[sizeof(huge) - 1] = '\0';
    expect_bad(huge, "longer than 1024 characters");
}

static void test_error_quotes_reference(void **state UNUSED)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("quay.io/Foo", &r, &err), -EINVAL);
    assert_string_equal(err_msg(&err),
                        "invalid image reference `quay.io/Foo`: repository name must be lowercase");
    err_done(&err);
    /* a long input is cut in the message */
    char huge[2000];
    memset(huge, 'a', sizeof(huge));
    huge[sizeof(huge) - 1] = '\0';
    assert_int_equal(image_ref_parse(huge, &r, &err), -EINVAL);
    assert_true(strlen(err_msg(&err)) < 400);
    assert_non_null(strstr(err_msg(&err), "...`"));
    err_done(&err);
}

static void test_image_ids(void **state UNUSED)
{
    expect_bad(D64, "looks like an image ID");
    expect_bad("sha256:" D64, "looks like an image ID");
    /* not quite an ID: 63 hex digits is an ordinary short name, uppercase is not an ID */
    expect_ref("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", NULL,
               "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde", NULL, NULL);
    expect_bad("0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
               "must be lowercase");
    /* "sha256:<short>" is the image sha256 with a tag */
    expect_ref("sha256:abc", NULL, "sha256", "abc", NULL);
}

static void test_null_input(void **state UNUSED)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse(NULL, &r, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "invalid image reference: empty");
    err_done(&err);
}

static void test_string(void **state UNUSED)
{
    expect_printed("busybox", "busybox:latest");
    expect_printed("docker.io/busybox", "docker.io/library/busybox:latest");
    expect_printed("quay.io/a/b:v1", "quay.io/a/b:v1");
    expect_printed("quay.io/a/b@sha256:" D64, "quay.io/a/b@sha256:" D64);
    expect_printed("quay.io/a/b:v1@sha256:" D64, "quay.io/a/b:v1@sha256:" D64);
    expect_printed("localhost:5000/a:b", "localhost:5000/a:b");
}

static void test_name_and_tag(void **state UNUSED)
{
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("index.docker.io/nginx", &r, &err), 0);
    cleanup_free char *name = image_ref_name(&r);
    assert_string_equal(name, "docker.io/library/nginx");
    assert_string_equal(image_ref_tag(&r), "latest");
    image_ref_done(&r);

    assert_int_equal(image_ref_parse("nginx@sha256:" D64, &r, &err), 0);
    cleanup_free char *short_name = image_ref_name(&r);
    assert_string_equal(short_name, "nginx");
    assert_null(image_ref_tag(&r));
    image_ref_done(&r);

    assert_int_equal(image_ref_parse("nginx:1.25", &r, &err), 0);
    assert_string_equal(image_ref_tag(&r), "1.25");
    image_ref_done(&r);
    image_ref_done(&r); /* done twice is harmless */
}

static void test_qualify(void **state UNUSED)
{
    struct image_ref s, q;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("busybox:1.36", &s, &err), 0);
    assert_int_equal(image_ref_qualify(&s, "docker.io", &q, &err), 0);
    cleanup_free char *a = image_ref_string(&q);
    assert_string_equal(a, "docker.io/library/busybox:1.36");
    image_ref_done(&q);
    assert_int_equal(image_ref_qualify(&s, "quay.io", &q, &err), 0);
    cleanup_free char *b = image_ref_string(&q);
    assert_string_equal(b, "quay.io/busybox:1.36");
    image_ref_done(&q);
    assert_int_equal(image_ref_qualify(&s, "index.docker.io", &q, &err), 0);
    assert_string_equal(q.domain, "docker.io");
    assert_string_equal(q.path, "library/busybox");
    image_ref_done(&q);
    assert_int_equal(image_ref_qualify(&s, "localhost:5000", &q, &err), 0);
    cleanup_free char *c = image_ref_name(&q);
    assert_string_equal(c, "localhost:5000/busybox");
    image_ref_done(&q);
    image_ref_done(&s);

    assert_int_equal(image_ref_parse("foo/bar@sha256:" D64, &s, &err), 0);
    assert_int_equal(image_ref_qualify(&s, "docker.io", &q, &err), 0);
    cleanup_free char *d = image_ref_string(&q);
    assert_string_equal(d, "docker.io/foo/bar@sha256:" D64);
    image_ref_done(&q);
    image_ref_done(&s);
}

static void test_qualify_errors(void **state UNUSED)
{
    struct image_ref s, q;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("busybox", &s, &err), 0);
    assert_int_equal(image_ref_qualify(&s, "bad host", &q, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "invalid registry `bad host` for `busybox`");
    assert_null(q.path);
    assert_int_equal(image_ref_qualify(&s, "", &q, &err), -EINVAL);
    image_ref_done(&s);

    char comp[300];
    memset(comp, 'a', sizeof(comp));
    comp[sizeof(comp) - 1] = '\0';
    cleanup_free char *long_short = xasprintf("%.250s", comp);
    assert_int_equal(image_ref_parse(long_short, &s, &err), 0);
    assert_int_equal(image_ref_qualify(&s, "quay.io", &q, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "repository name longer than 255 characters"));
    image_ref_done(&s);

    /* a qualified ref is copied */
    assert_int_equal(image_ref_parse("quay.io/x:1", &s, &err), 0);
    assert_int_equal(image_ref_qualify(&s, "docker.io", &q, &err), 0);
    assert_string_equal(q.domain, "quay.io");
    assert_string_equal(q.tag, "1");
    image_ref_done(&q);
    image_ref_done(&s);
    err_done(&err);
}

static void test_digest_valid(void **state UNUSED)
{
    assert_true(image_digest_valid("sha256:" D64));
    assert_true(image_digest_valid("sha512:" D128));
    assert_false(image_digest_valid(NULL));
    assert_false(image_digest_valid(""));
    assert_false(image_digest_valid("sha256:"));
    assert_false(image_digest_valid("sha256:" D128));
    assert_false(image_digest_valid("sha512:" D64));
    assert_false(image_digest_valid("SHA256:" D64));
    assert_false(image_digest_valid("sha384:" D64));
    assert_false(image_digest_valid(D64));
    assert_false(image_digest_valid("sha256:" D64 " "));
    assert_false(image_digest_valid(
        "sha256:g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"));
}

static void test_domain_and_path_valid(void **state UNUSED)
{
    assert_true(image_ref_domain_valid("docker.io"));
    assert_true(image_ref_domain_valid("localhost:5000"));
    assert_true(image_ref_domain_valid("[::1]:5000"));
    assert_true(image_ref_domain_valid("myhost"));
    assert_false(image_ref_domain_valid(""));
    assert_false(image_ref_domain_valid("a/b"));
    assert_false(image_ref_domain_valid("https://x"));
    assert_false(image_ref_domain_valid("x:"));
    assert_true(image_ref_path_valid("library/busybox"));
    assert_false(image_ref_path_valid("Library/busybox"));
    assert_false(image_ref_path_valid(""));
    assert_false(image_ref_path_valid("a:b"));
}

static void test_error_replaced(void **state UNUSED)
{
    /* an err reused across calls carries only the latest message */
    struct image_ref r;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("A", &r, &err), -EINVAL);
    assert_int_equal(image_ref_parse("a:", &r, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "invalid image reference `a:`: empty tag");
    assert_int_equal(err.code, -EINVAL);
    err_done(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_names),
        cmocka_unit_test(test_docker_io_library),
        cmocka_unit_test(test_qualified_names),
        cmocka_unit_test(test_ports),
        cmocka_unit_test(test_tag_port_ambiguity),
        cmocka_unit_test(test_domain_detection),
        cmocka_unit_test(test_digests),
        cmocka_unit_test(test_bad_digests),
        cmocka_unit_test(test_uppercase),
        cmocka_unit_test(test_separators),
        cmocka_unit_test(test_empty_components),
        cmocka_unit_test(test_bad_tags),
        cmocka_unit_test(test_bad_domains),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_error_quotes_reference),
        cmocka_unit_test(test_image_ids),
        cmocka_unit_test(test_null_input),
        cmocka_unit_test(test_string),
        cmocka_unit_test(test_name_and_tag),
        cmocka_unit_test(test_qualify),
        cmocka_unit_test(test_qualify_errors),
        cmocka_unit_test(test_digest_valid),
        cmocka_unit_test(test_domain_and_path_valid),
        cmocka_unit_test(test_error_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
