/* Unit tests for containers-policy.json(5) in src/image/policy.c: strict parsing with JSON
 * locations in errors, scope selection per transport, and the verdicts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "image/policy.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define ACCEPT "[{\"type\": \"insecureAcceptAnything\"}]"
#define REJECT "[{\"type\": \"reject\"}]"
#define SIGNED "[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k.gpg\"}]"

static struct image_policy *parse_ok(const char *text)
{
    struct image_policy *p = NULL;
    struct err err = ERR_INIT;
    int r = image_policy_parse(text, strlen(text), "policy.json", &p, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    assert_non_null(p);
    err_done(&err);
    return p;
}

static void expect_code(const char *text, size_t len, int code, const char *want)
{
    struct image_policy *p = (struct image_policy *)&p; /* must be reset to NULL */
    struct err err = ERR_INIT;
    int r = image_policy_parse(text, len, "policy.json", &p, &err);
    assert_int_equal(r, code);
    assert_null(p);
    if (strcmp(err_msg(&err), want) != 0)
        print_error("got  `%s`\nwant `%s`\n", err_msg(&err), want);
    assert_string_equal(err_msg(&err), want);
    err_done(&err);
}

/* Parsing text must fail with -EINVAL and exactly this message. */
static void expect_error(const char *text, const char *want)
{
    expect_code(text, strlen(text), -EINVAL, want);
}

/* A requirement list inside {"default": ...} must fail with "policy.json: " + want. */
static void expect_req_error(const char *reqs, const char *want)
{
    cleanup_free char *text = xasprintf("{\"default\": %s}", reqs);
    cleanup_free char *full = xasprintf("policy.json: %s", want);
    expect_error(text, full);
}

/* The verdict must be want: "accept", or "<errno name>: <message>". */
static void expect_verdict(const struct image_policy *p, const char *transport, const char *name,
                           const char *want)
{
    struct err err = ERR_INIT;
    int r = image_policy_check(p, transport, name, &err);
    const char *code = r == 0          ? ""
                       : r == -EACCES  ? "EACCES: "
                       : r == -ENOTSUP ? "ENOTSUP: "
                                       : "?: ";
    cleanup_free char *got = xasprintf("%s%s", code, r == 0 ? "accept" : err_msg(&err));
    err_done(&err);
    if (strcmp(got, want) != 0)
        print_error("%s:%s\ngot  `%s`\nwant `%s`\n", transport, name, got, want);
    assert_string_equal(got, want);
}

/* Shorthand: rejected by policy.json with this scope description. */
#define REJECTED(scope) "EACCES: rejected by policy.json (" scope ")"
#define UNSUPPORTED(type, scope)                                                                   \
    "ENOTSUP: signature verification (" type                                                       \
    ") is not supported yet: required by policy.json (" scope ")"

static void test_accept_all(void **state UNUSED)
{
    struct image_policy *p = image_policy_accept_all();
    expect_verdict(p, "docker", "docker.io/library/busybox:latest", "accept");
    expect_verdict(p, "oci-archive", "/srv/a.tar", "accept");
    expect_verdict(p, "docker-archive", "/srv/b.tar", "accept");
    image_policy_free(p);
    image_policy_free(NULL);
}

static void test_docker_scope_precedence(void **state UNUSED)
{
    struct image_policy *p = parse_ok("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                                      "\"docker.io/library/busybox:1.36\": " REJECT ","
                                      "\"docker.io/library/busybox@sha256:" D64 "\": " REJECT ","
                                      "\"docker.io/library/busybox\": " REJECT ","
                                      "\"docker.io/library\": " REJECT ","
                                      "\"docker.io\": " REJECT ","
                                      "\"\": " REJECT "}}}");
    expect_verdict(p, "docker", "docker.io/library/busybox:1.36",
                   REJECTED("transports.docker scope `docker.io/library/busybox:1.36`"));
    expect_verdict(p, "docker", "docker.io/library/busybox@sha256:" D64,
                   REJECTED("transports.docker scope `docker.io/library/busybox@sha256:" D64 "`"));
    expect_verdict(p, "docker", "docker.io/library/busybox:latest",
                   REJECTED("transports.docker scope `docker.io/library/busybox`"));
    expect_verdict(p, "docker", "docker.io/library/alpine:3",
                   REJECTED("transports.docker scope `docker.io/library`"));
    expect_verdict(p, "docker", "docker.io/user/app:1",
                   REJECTED("transports.docker scope `docker.io`"));
    expect_verdict(p, "docker", "quay.io/a/b:1", REJECTED("transports.docker scope \"\""));
    /* other transports fall to the global default */
    expect_verdict(p, "oci", "/srv/x", "accept");
    image_policy_free(p);
}

static void test_docker_scopes_match_whole_components(void **state UNUSED)
{
    struct image_policy *p = parse_ok("{\"default\": " REJECT ", \"transports\": {\"docker\": {"
                                      "\"docker.io/lib\": " ACCEPT ", \"quay.io\": " ACCEPT ","
                                      "\"registry.local:5000/team/app\": " ACCEPT "}}}");
    expect_verdict(p, "docker", "docker.io/library/x:1", REJECTED("default"));
    expect_verdict(p, "docker", "docker.io/lib/x:1", "accept");
    expect_verdict(p, "docker", "quay.io.evil.com/x:1", REJECTED("default"));
    expect_verdict(p, "docker", "quay.io:443/x:1", REJECTED("default"));
    expect_verdict(p, "docker", "registry.local:5000/team/app:v2", "accept");
    expect_verdict(p, "docker", "registry.local:5000/team/app/sub:v2", "accept");
    expect_verdict(p, "docker", "registry.local:5000/team/application:v2", REJECTED("default"));
    image_policy_free(p);
}

static void test_wildcards(void **state UNUSED)
{
    struct image_policy *p =
        parse_ok("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"*.example.com\": " REJECT ", \"*.b.example.com\": " REJECT ","
                 "\"a.b.example.com/ns\": " REJECT "}}}");
    expect_verdict(p, "docker", "a.b.example.com/x:1",
                   REJECTED("transports.docker scope `*.b.example.com`"));
    expect_verdict(p, "docker", "c.example.com/x:1",
                   REJECTED("transports.docker scope `*.example.com`"));
    /* the port is not part of what a wildcard matches */
    expect_verdict(p, "docker", "a.b.example.com:5000/x:1",
                   REJECTED("transports.docker scope `*.b.example.com`"));
    /* "*.example.com" is for subdomains, not example.com itself */
    expect_verdict(p, "docker", "example.com/x:1", "accept");
    /* a namespace is more specific than any wildcard */
    expect_verdict(p, "docker", "a.b.example.com/ns/x:1",
                   REJECTED("transports.docker scope `a.b.example.com/ns`"));
    image_policy_free(p);
}

static void test_every_requirement_must_accept(void **state UNUSED)
{
    struct image_policy *p = parse_ok("{\"default\": " REJECT "}");
    expect_verdict(p, "docker", "quay.io/a/b:1", REJECTED("default"));
    expect_verdict(p, "oci", "/srv/x", REJECTED("default"));
    image_policy_free(p);
    p = parse_ok("{\"default\": [{\"type\": \"insecureAcceptAnything\"}, {\"type\": \"reject\"}]}");
    expect_verdict(p, "docker", "quay.io/a/b:1", REJECTED("default"));
    image_policy_free(p);
    p = parse_ok("{\"default\": [{\"type\": \"insecureAcceptAnything\"}, "
                 "{\"type\": \"insecureAcceptAnything\"}]}");
    expect_verdict(p, "docker", "quay.io/a/b:1", "accept");
    image_policy_free(p);
}

static void test_signatures_not_supported(void **state UNUSED)
{
    struct image_policy *p =
        parse_ok("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"docker.io/library\": " SIGNED ","
                 "\"quay.io\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/c.pub\"}],"
                 "\"gcr.io\": [{\"type\": \"sigstoreSigned\", \"keyPath\": \"/c.pub\"}, "
                 "{\"type\": \"reject\"}]}}}");
    expect_verdict(p, "docker", "docker.io/library/busybox:1",
                   "ENOTSUP: signature verification (signedBy) is not supported yet: required by "
                   "policy.json (transports.docker scope `docker.io/library`)");
    expect_verdict(p, "docker", "quay.io/a/b:1",
                   UNSUPPORTED("sigstoreSigned", "transports.docker scope `quay.io`"));
    /* a reject in the list decides before the missing verification matters */
    expect_verdict(p, "docker", "gcr.io/a/b:1", REJECTED("transports.docker scope `gcr.io`"));
    image_policy_free(p);
}

static void test_path_scopes(void **state UNUSED)
{
    struct image_policy *p =
        parse_ok("{\"default\": " ACCEPT ", \"transports\": {"
                 "\"oci\": {\"/srv/images\": " REJECT ", \"/srv/images/app\": " ACCEPT ","
                 "\"\": " SIGNED "},"
                 "\"oci-archive\": {\"/srv/archives/a.tar\": " REJECT "}}}");
    expect_verdict(p, "oci", "/srv/images/app", "accept");
    expect_verdict(p, "oci", "/srv/images/app/", "accept");
    expect_verdict(p, "oci", "/srv/images/app/v1", "accept");
    expect_verdict(p, "oci", "/srv/images/other", REJECTED("transports.oci scope `/srv/images`"));
    expect_verdict(p, "oci", "/srv/images", REJECTED("transports.oci scope `/srv/images`"));
    /* a path prefix counts only at a directory boundary */
    expect_verdict(p, "oci", "/srv/imagesX/a",
                   UNSUPPORTED("signedBy", "transports.oci scope \"\""));
    expect_verdict(p, "oci-archive", "/srv/archives/a.tar",
                   REJECTED("transports.oci-archive scope `/srv/archives/a.tar`"));
    expect_verdict(p, "oci-archive", "/srv/archives/b.tar", "accept");
    expect_verdict(p, "oci-archive", "archives/a.tar", "accept");
    image_policy_free(p);
}

static void test_docker_archive_default_scope_only(void **state UNUSED)
{
    struct image_policy *p = parse_ok("{\"default\": " ACCEPT ", \"transports\": {"
                                      "\"docker-archive\": {\"\": " REJECT "}}}");
    expect_verdict(p, "docker-archive", "/srv/a.tar",
                   REJECTED("transports.docker-archive scope \"\""));
    image_policy_free(p);
}

static void test_unknown_transport(void **state UNUSED)
{
    /* scopes of transports crib does not know are accepted unchecked; only "" can apply */
    struct image_policy *p =
        parse_ok("{\"default\": " REJECT ", \"transports\": {"
                 "\"containers-storage\": {\"[overlay@/var/lib/containers/storage]\": " ACCEPT ","
                 "\"\": " SIGNED "}, \"sif\": {}}}");
    expect_verdict(p, "containers-storage", "[overlay@/var/lib/containers/storage]",
                   UNSUPPORTED("signedBy", "transports.containers-storage scope \"\""));
    /* a transport with no matching scope falls to the global default */
    expect_verdict(p, "sif", "/srv/a.sif", REJECTED("default"));
    image_policy_free(p);
}

static void test_scope_validation(void **state UNUSED)
{
    const char *wild = "a wildcard must be `*.` followed by a host name, without port or path "
                       "(`*.example.com`)";
    const char *cases[][3] = {
        {"docker", "example*.*.com", wild},
        {"docker", "*.example.com:5000", wild},
        {"docker", "*.example.com/ns", wild},
        {"docker", "*.", wild},
        {"oci", "srv/images", "must be an absolute path"},
        {"oci-archive", "/", "`/` is not allowed; use the default scope \"\""},
        {"docker-archive", "/srv/a.tar", "this transport supports only the default scope \"\""},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cleanup_free char *text =
            xasprintf("{\"default\": " ACCEPT ", \"transports\": {\"%s\": {\"%s\": " REJECT "}}}",
                      cases[i][0], cases[i][1]);
        cleanup_free char *want = xasprintf("policy.json: transports.%s: invalid scope `%s`: %s",
                                            cases[i][0], cases[i][1], cases[i][2]);
        expect_error(text, want);
    }
}

static void test_document_errors(void **state UNUSED)
{
    expect_error("[]", "policy.json: a policy must be an object, not array");
    expect_error("{}", "policy.json: a policy needs `default`");
    expect_error("{\"transports\": {}}", "policy.json: a policy needs `default`");
    expect_error("{\"default\": " ACCEPT ", \"Transports\": {}}",
                 "policy.json: unknown field `Transports` in a policy");
    expect_error("{\"default\": {\"type\": \"reject\"}}",
                 "policy.json: default: a list of requirements must be an array, not object");
    expect_error("{\"default\": []}",
                 "policy.json: default: a list of requirements must not be empty");
    expect_error("{\"default\": " ACCEPT ", \"transports\": []}",
                 "policy.json: transports: `transports` must be an object, not array");
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": " REJECT "}}",
                 "policy.json: transports.docker: a transport must be an object, not array");
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"quay.io\": []}}}",
                 "policy.json: transports.docker[\"quay.io\"]: a list of requirements must not be "
                 "empty");
}

static void test_json_syntax_error(void **state UNUSED)
{
    expect_error("{\n  \"default\": [\n    {\"type\": \"reject\"},\n  ]\n}",
                 "policy.json:4:3: not valid JSON");
    expect_error("{\"default\": " ACCEPT "} {}", "policy.json:1:51: not valid JSON");
    expect_error("", "policy.json:1:1: not valid JSON");
}

static void test_size_limit_and_nul(void **state UNUSED)
{
    size_t n = IMAGE_POLICY_MAX_BYTES + 1;
    char *big = xmalloc(n);
    memset(big, ' ', n);
    expect_code(big, n, -EFBIG,
                "policy.json: 1048577 bytes, more than the limit of 1048576 for a policy");
    free(big);
    expect_code("{\"default\": []}\0", 16, -EINVAL,
                "policy.json: not valid JSON: it contains a NUL byte");
}

static void test_big_policy_accepted(void **state UNUSED)
{
    /* many scopes, near the size limit: parsing (and the duplicate check) stays fast */
    char *text = xmalloc(IMAGE_POLICY_MAX_BYTES + 128);
    size_t len = (size_t)sprintf(text, "{\"default\": " REJECT ", \"transports\": {\"docker\": {");
    unsigned i;
    for (i = 0; len < IMAGE_POLICY_MAX_BYTES - 100; i++)
        len += (size_t)sprintf(text + len, "\"r%u.example.com\": " ACCEPT ",", i);
    len += (size_t)sprintf(text + len, "\"\": " REJECT "}}}");
    assert_true(len <= IMAGE_POLICY_MAX_BYTES);
    struct image_policy *p = parse_ok(text);
    cleanup_free char *last = xasprintf("r%u.example.com/a/b:1", i - 1);
    expect_verdict(p, "docker", last, "accept");
    expect_verdict(p, "docker", "quay.io/a:1", REJECTED("transports.docker scope \"\""));
    image_policy_free(p);
    free(text);
}

static void test_duplicate_keys(void **state UNUSED)
{
    expect_error("{\"default\": " ACCEPT ", \"default\": " REJECT "}",
                 "policy.json: duplicate key `default`");
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"quay.io\": " ACCEPT ", \"gcr.io\": " ACCEPT ", \"quay.io\": " REJECT "}}}",
                 "policy.json: transports.docker: duplicate key `quay.io`");
    expect_req_error("[{\"type\": \"reject\", \"type\": \"insecureAcceptAnything\"}]",
                     "default[0]: duplicate key `type`");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\", "
                     "\"signedIdentity\": {\"type\": \"matchExact\", \"type\": \"matchExact\"}}]",
                     "default[0].signedIdentity: duplicate key `type`");
}

static void test_requirement_errors(void **state UNUSED)
{
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"docker.io/library\": [{\"type\": \"acceptAll\"}]}}}",
                 "policy.json: transports.docker[\"docker.io/library\"][0]: unknown requirement "
                 "type `acceptAll`");
    expect_req_error("[{\"type\": \"reject\"}, {}]", "default[1]: a requirement needs a `type`");
    expect_req_error("[{\"type\": 1}]", "default[0].type: must be a string, not number");
    expect_req_error("[\"reject\"]", "default[0]: a requirement must be an object, not string");
    expect_req_error("[{\"type\": \"reject\", \"keyPath\": \"/k\"}]",
                     "default[0]: unknown field `keyPath` in a `reject` requirement");
    expect_req_error("[{\"type\": \"insecureAcceptAnything\", \"Type\": \"reject\"}]",
                     "default[0]: unknown field `Type` in an `insecureAcceptAnything` "
                     "requirement");
    expect_req_error("[{\"type\": \"signedBaseLayer\"}]",
                     "default[0]: unknown requirement type `signedBaseLayer`");
}

static void test_signed_by_errors(void **state UNUSED)
{
    expect_req_error("[{\"type\": \"signedBy\", \"keyPath\": \"/k\"}]",
                     "default[0]: a `signedBy` requirement needs `keyType`");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"X509Certificates\", "
                     "\"keyPath\": \"/k\"}]",
                     "default[0].keyType: unsupported key type `X509Certificates`: only "
                     "`GPGKeys` is supported");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\"}]",
                     "default[0]: a `signedBy` requirement needs exactly one of `keyPath`, "
                     "`keyPaths`, `keyData` (found none)");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\", "
                     "\"keyData\": \"Zm9v\"}]",
                     "default[0]: a `signedBy` requirement needs exactly one of `keyPath`, "
                     "`keyPaths`, `keyData` (found `keyPath`, `keyData`)");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPaths\": []}]",
                     "default[0].keyPaths: must not be empty");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                     "\"keyPaths\": [\"/a\", 2]}]",
                     "default[0].keyPaths[1]: must be a string, not number");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"\"}]",
                     "default[0].keyPath: must not be empty");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                     "\"keyData\": \"not base64!\"}]",
                     "default[0].keyData: not valid base64");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyData\": \"Zm9\"}]",
                     "default[0].keyData: not valid base64");
}

static void test_signed_identity(void **state UNUSED)
{
    const char *ok[] = {
        "{\"type\": \"matchExact\"}",
        "{\"type\": \"matchRepoDigestOrExact\"}",
        "{\"type\": \"matchRepository\"}",
        "{\"type\": \"exactReference\", \"dockerReference\": \"docker.io/library/busybox:1\"}",
        "{\"type\": \"exactReference\", \"dockerReference\": \"quay.io/a@sha256:" D64 "\"}",
        "{\"type\": \"exactRepository\", \"dockerRepository\": \"vendor.example/product\"}",
        ("{\"type\": \"remapIdentity\", \"prefix\": \"private-mirror:5000/vendor-mirror\", "
         "\"signedPrefix\": \"vendor.example.com\"}"),
    };
    for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
        cleanup_free char *text =
            xasprintf("{\"default\": [{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", "
                      "\"keyData\": \"Zm9vYg==\", \"signedIdentity\": %s}]}",
                      ok[i]);
        image_policy_free(parse_ok(text));
    }
#define SB "[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/k\", "
    expect_req_error(SB "\"signedIdentity\": {\"type\": \"matchAll\"}}]",
                     "default[0].signedIdentity: unknown identity type `matchAll`");
    expect_req_error(SB "\"signedIdentity\": \"matchExact\"}]",
                     "default[0].signedIdentity: an identity must be an object, not string");
    expect_req_error(SB "\"signedIdentity\": {}}]",
                     "default[0].signedIdentity: an identity needs a `type`");
    expect_req_error(SB "\"signedIdentity\": {\"type\": \"exactReference\", "
                        "\"dockerReference\": \"quay.io/a/b\"}}]",
                     "default[0].signedIdentity.dockerReference: `quay.io/a/b` has neither a tag "
                     "nor a digest");
    expect_req_error(SB "\"signedIdentity\": {\"type\": \"exactRepository\"}}]",
                     "default[0].signedIdentity: an `exactRepository` identity needs "
                     "`dockerRepository`");
    expect_req_error(SB "\"signedIdentity\": {\"type\": \"remapIdentity\", \"prefix\": "
                        "\"quay.io/a\"}}]",
                     "default[0].signedIdentity: a `remapIdentity` identity needs "
                     "`signedPrefix`");
    expect_req_error(SB "\"signedIdentity\": {\"type\": \"matchExact\", \"prefix\": \"x\"}}]",
                     "default[0].signedIdentity: unknown field `prefix` in a `matchExact` "
                     "identity");
}

static void test_sigstore_accepted_forms(void **state UNUSED)
{
    struct image_policy *p = parse_ok(
        "{\"default\": " REJECT ", \"transports\": {\"docker\": {"
        "\"a.io\": [{\"type\": \"sigstoreSigned\", \"keyPaths\": [\"/1.pub\", \"/2.pub\"]}],"
        "\"b.io\": [{\"type\": \"sigstoreSigned\", \"keyDatas\": [\"Zm9v\"], "
        "\"rekorPublicKeyData\": \"Zm9v\", \"signedIdentity\": {\"type\": \"matchRepository\"}}],"
        "\"c.io\": [{\"type\": \"sigstoreSigned\", \"fulcio\": {\"caPath\": \"/f.pem\", "
        "\"oidcIssuer\": \"https://github.com/login/oauth\", \"subjectEmail\": \"u@example.com\"},"
        " \"rekorPublicKeyPath\": \"/rekor.pub\"}],"
        "\"d.io\": [{\"type\": \"sigstoreSigned\", \"pki\": {\"caRootsPath\": \"/r.pem\", "
        "\"caIntermediatesData\": \"Zm9v\", \"subjectHostname\": \"h.example.com\"}}]}}}");
    expect_verdict(p, "docker", "c.io/a:1",
                   UNSUPPORTED("sigstoreSigned", "transports.docker scope `c.io`"));
    image_policy_free(p);
}

static void test_sigstore_errors(void **state UNUSED)
{
#define SS "default[0]: a `sigstoreSigned` requirement "
#define SOURCES "`keyPath`, `keyPaths`, `keyData`, `keyDatas`, `fulcio`, `pki`"
#define REKOR                                                                                      \
    "`rekorPublicKeyPath`, `rekorPublicKeyPaths`, `rekorPublicKeyData`, `rekorPublicKeyDatas`"
#define F "\"fulcio\": {\"caPath\": \"/f\", \"oidcIssuer\": \"i\", \"subjectEmail\": \"e\"}"
    expect_req_error("[{\"type\": \"sigstoreSigned\"}]",
                     SS "needs exactly one of " SOURCES " (found none)");
    expect_req_error(
        "[{\"type\": \"sigstoreSigned\", \"keyDatas\": [\"Zm9v\"], \"keyPath\": \"/k\"}]",
        SS "needs exactly one of " SOURCES " (found `keyPath`, `keyDatas`)");
    expect_req_error("[{\"type\": \"sigstoreSigned\", " F "}]",
                     SS "with `fulcio` needs at least one of " REKOR);
    expect_req_error("[{\"type\": \"sigstoreSigned\", " F ", \"rekorPublicKeyPath\": \"/r\", "
                     "\"rekorPublicKeyData\": \"Zm9v\"}]",
                     SS "takes at most one of " REKOR " (found `rekorPublicKeyPath`, "
                        "`rekorPublicKeyData`)");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"fulcio\": {\"caPath\": \"/f\", "
                     "\"subjectEmail\": \"e\"}, \"rekorPublicKeyPath\": \"/r\"}]",
                     "default[0].fulcio: `fulcio` needs `oidcIssuer`");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"fulcio\": {\"caPath\": \"/f\", "
                     "\"caData\": \"Zm9v\", \"oidcIssuer\": \"i\", \"subjectEmail\": \"e\"}}]",
                     "default[0].fulcio: `fulcio` needs exactly one of `caPath`, `caData` (found "
                     "`caPath`, `caData`)");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"fulcio\": []}]",
                     "default[0].fulcio: `fulcio` must be an object, not array");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"pki\": {\"caRootsPath\": \"/r\", "
                     "\"subjectEmail\": \"e\"}, \"rekorPublicKeyPath\": \"/r\"}]",
                     "default[0]: a `sigstoreSigned` requirement with `pki` cannot use "
                     "`rekorPublicKeyPath`");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"pki\": {\"caRootsPath\": \"/r\"}}]",
                     "default[0].pki: `pki` needs at least one of `subjectEmail`, "
                     "`subjectHostname`");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"pki\": {\"caRootsPath\": \"/r\", "
                     "\"subjectEmail\": \"e\", \"caRoots\": \"x\"}}]",
                     "default[0].pki: unknown field `caRoots` in `pki`");
}

static void test_value_types(void **state UNUSED)
{
    expect_error("{\"default\": null}",
                 "policy.json: default: a list of requirements must be an array, not null");
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {\"\": true}}}",
                 "policy.json: transports.docker[\"\"]: a list of requirements must be an array, "
                 "not boolean");
    expect_req_error("[[{\"type\": \"reject\"}]]",
                     "default[0]: a requirement must be an object, not array");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": 7}]",
                     "default[0].keyPath: must be a string, not number");
    expect_req_error("[{\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPaths\": \"/k\"}]",
                     "default[0].keyPaths: must be an array of strings, not string");
    expect_req_error("[{\"type\": \"sigstoreSigned\", \"keyDatas\": [\"Zm9v\", \"???\"]}]",
                     "default[0].keyDatas[1]: not valid base64");
}

static void test_base64(void **state UNUSED)
{
    const char *good[] = {"Zm9v", "Zm8=", "Zg==", "Zm9v\\nYmFy", "Zm9v\\r\\nYmE="};
    for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
        cleanup_free char *text = xasprintf(
            "{\"default\": [{\"type\": \"sigstoreSigned\", \"keyData\": \"%s\"}]}", good[i]);
        image_policy_free(parse_ok(text));
    }
    const char *bad[] = {"Zg=", "Z===", "Zm9v=Zm9v", "Zm9v-_", "Zm9"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        cleanup_free char *reqs =
            xasprintf("[{\"type\": \"sigstoreSigned\", \"keyData\": \"%s\"}]", bad[i]);
        expect_req_error(reqs, "default[0].keyData: not valid base64");
    }
}

static void test_tag_and_digest_names(void **state UNUSED)
{
    struct image_policy *p =
        parse_ok("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"localhost:5000/app:v1\": " REJECT ", \"localhost:5000/app\": " SIGNED "}}}");
    expect_verdict(p, "docker", "localhost:5000/app:v1",
                   REJECTED("transports.docker scope `localhost:5000/app:v1`"));
    /* the same image by digest is a different identity: the repository scope applies */
    expect_verdict(p, "docker", "localhost:5000/app@sha256:" D64,
                   UNSUPPORTED("signedBy", "transports.docker scope `localhost:5000/app`"));
    expect_verdict(p, "docker", "localhost:5000/app:v1@sha256:" D64,
                   UNSUPPORTED("signedBy", "transports.docker scope `localhost:5000/app`"));
    /* a port is not a tag */
    expect_verdict(p, "docker", "localhost:5000/other:v1", "accept");
    image_policy_free(p);
}

/* The man page's "reasonably locked-down system", made valid JSON (no comments). */
static const char man_page_policy[] =
    "{\"default\": [{\"type\": \"reject\"}],\n"
    " \"transports\": {\n"
    "  \"docker\": {\n"
    "   \"docker.io/openshift\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "   \"docker.io/library/busybox\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "   \"*.temporary-project.example.com\": [{\"type\": \"insecureAcceptAnything\"}],\n"
    "   \"hostname:5000/myns/sigstore-signed-with-full-references\": [\n"
    "    {\"type\": \"sigstoreSigned\", \"keyPath\": \"/path/to/sigstore-pubkey.pub\"}]},\n"
    "  \"dir\": {\"\": [{\"type\": \"insecureAcceptAnything\"}]},\n"
    "  \"atomic\": {\n"
    "   \"hostname:5000/vendor/product\": [\n"
    "    {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": \"/path/to/vendor.gpg\",\n"
    "     \"signedIdentity\": {\"type\": \"exactRepository\",\n"
    "                        \"dockerRepository\": \"vendor-hostname/product/repository\"}},\n"
    "    {\"type\": \"signedBy\", \"keyType\": \"GPGKeys\", \"keyPath\": "
    "\"/path/to/reviewer.gpg\"}]}}}\n";

static void test_man_page_example(void **state UNUSED)
{
    struct image_policy *p = parse_ok(man_page_policy);
    expect_verdict(p, "docker", "docker.io/openshift/hello-openshift:latest", "accept");
    expect_verdict(p, "docker", "docker.io/library/busybox:latest", "accept");
    expect_verdict(p, "docker", "docker.io/library/alpine:latest", REJECTED("default"));
    expect_verdict(p, "docker", "build.temporary-project.example.com/x:1", "accept");
    expect_verdict(p, "docker", "hostname:5000/myns/sigstore-signed-with-full-references:v1",
                   UNSUPPORTED("sigstoreSigned",
                               "transports.docker scope "
                               "`hostname:5000/myns/sigstore-signed-with-full-references`"));
    expect_verdict(p, "dir", "/tmp/anything", "accept");
    expect_verdict(
        p, "atomic", "hostname:5000/vendor/product:1",
        UNSUPPORTED("signedBy", "transports.atomic scope `hostname:5000/vendor/product`"));
    image_policy_free(p);
}

static void test_locations_quote_odd_keys(void **state UNUSED)
{
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"docker\": {"
                 "\"we\\\"ird\\n\": [{\"type\": \"nope\\t\"}]}}}",
                 "policy.json: transports.docker[\"we\\\"ird\\x0a\"][0]: unknown requirement "
                 "type `nope\\x09`");
    expect_error("{\"default\": " ACCEPT ", \"transports\": {\"my transport\": {"
                 "\"x\": [1]}}}",
                 "policy.json: transports[\"my transport\"][\"x\"][0]: a requirement must be an "
                 "object, not number");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_all),
        cmocka_unit_test(test_docker_scope_precedence),
        cmocka_unit_test(test_docker_scopes_match_whole_components),
        cmocka_unit_test(test_wildcards),
        cmocka_unit_test(test_every_requirement_must_accept),
        cmocka_unit_test(test_signatures_not_supported),
        cmocka_unit_test(test_path_scopes),
        cmocka_unit_test(test_docker_archive_default_scope_only),
        cmocka_unit_test(test_unknown_transport),
        cmocka_unit_test(test_scope_validation),
        cmocka_unit_test(test_document_errors),
        cmocka_unit_test(test_json_syntax_error),
        cmocka_unit_test(test_size_limit_and_nul),
        cmocka_unit_test(test_big_policy_accepted),
        cmocka_unit_test(test_duplicate_keys),
        cmocka_unit_test(test_requirement_errors),
        cmocka_unit_test(test_signed_by_errors),
        cmocka_unit_test(test_signed_identity),
        cmocka_unit_test(test_sigstore_accepted_forms),
        cmocka_unit_test(test_sigstore_errors),
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_tag_and_digest_names),
        cmocka_unit_test(test_man_page_example),
        cmocka_unit_test(test_locations_quote_odd_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
