/* Unit tests for registries.conf v2 in src/image/registries.c: applying documents and drop-ins,
 * prefix matching, mirrors and rewriting, blocked and insecure registries, errors with positions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "image/registries.h"

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void apply_ok(struct registries_conf *c, const char *name, const char *text)
{
    struct err err = ERR_INIT;
    int r = image_registries_conf_apply(c, name, text, strlen(text), &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    err_done(&err);
}

static struct registries_conf *load(const char *text)
{
    struct registries_conf *c = xmalloc(sizeof(*c));
    image_registries_conf_init(c);
    apply_ok(c, "registries.conf", text);
    return c;
}

static void unload(struct registries_conf *c)
{
    image_registries_conf_done(c);
    free(c);
}

/* Applying text must fail with -EINVAL and exactly this message. */
static void expect_error(const char *text, const char *want)
{
    struct registries_conf c;
    struct err err = ERR_INIT;
    image_registries_conf_init(&c);
    int r = image_registries_conf_apply(&c, "r.conf", text, strlen(text), &err);
    assert_int_equal(r, -EINVAL);
    if (strcmp(err_msg(&err), want) != 0)
        print_error("got  `%s`\nwant `%s`\n", err_msg(&err), want);
    assert_string_equal(err_msg(&err), want);
    assert_int_equal(c.n_entries, 0);
    assert_int_equal(c.n_search, 0);
    assert_int_equal(c.n_aliases, 0);
    image_registries_conf_done(&c);
    err_done(&err);
}

/* The endpoints for reference s, as "name" or "name (insecure)" or "mirror name ...", joined
 * by ", ". */
static char *endpoints(const struct registries_conf *c, const char *s)
{
    struct image_ref ref;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse(s, &ref, &err), 0);
    struct registries_endpoint *ep;
    size_t n;
    int r = image_registries_conf_endpoints(c, &ref, &ep, &n, &err);
    image_ref_done(&ref);
    if (r < 0) {
        char *msg = xasprintf("error %d: %s", r, err_msg(&err));
        err_done(&err);
        return msg;
    }
    char *out = xstrdup("");
    for (size_t i = 0; i < n; i++) {
        cleanup_free char *joined = xasprintf("%s/%s", ep[i].domain, ep[i].path);
        assert_string_equal(joined, ep[i].name);
        char *next = xasprintf("%s%s%s%s%s", out, i ? ", " : "", ep[i].mirror ? "mirror " : "",
                               ep[i].name, ep[i].insecure ? " (insecure)" : "");
        free(out);
        out = next;
    }
    image_registries_endpoints_free(ep, n);
    return out;
}

static void expect_endpoints(const struct registries_conf *c, const char *ref, const char *want)
{
    cleanup_free char *got = endpoints(c, ref);
    if (strcmp(got, want) != 0)
        print_error("%s:\ngot  `%s`\nwant `%s`\n", ref, got, want);
    assert_string_equal(got, want);
}

static void test_empty(void **state UNUSED)
{
    struct registries_conf *c = load("");
    assert_int_equal(c->n_entries, 0);
    assert_int_equal(c->n_search, 0);
    assert_int_equal(c->short_name_mode, REGISTRIES_SHORT_NAME_PERMISSIVE);
    assert_null(image_registries_conf_find(c, "docker.io/library/busybox"));
    expect_endpoints(c, "docker.io/busybox:1", "docker.io/library/busybox");
    expect_endpoints(c, "localhost:5000/x", "localhost:5000/x");
    unload(c);
}

static void test_search_registries(void **state UNUSED)
{
    struct registries_conf *c =
        load("unqualified-search-registries = [\"registry.fedoraproject.org\", \"docker.io\", "
             "\"localhost:5000/\"]\n");
    assert_int_equal(c->n_search, 3);
    assert_string_equal(c->search[0], "registry.fedoraproject.org");
    assert_string_equal(c->search[1], "docker.io");
    assert_string_equal(c->search[2], "localhost:5000"); /* trailing slash dropped */
    /* a drop-in without the key keeps the list; with it, replaces; [] clears */
    apply_ok(c, "a.conf", "short-name-mode = \"enforcing\"\n");
    assert_int_equal(c->n_search, 3);
    apply_ok(c, "b.conf", "unqualified-search-registries = [\"quay.io\"]\n");
    assert_int_equal(c->n_search, 1);
    assert_string_equal(c->search[0], "quay.io");
    apply_ok(c, "c.conf", "unqualified-search-registries = []\n");
    assert_int_equal(c->n_search, 0);
    unload(c);
}

static void test_search_errors(void **state UNUSED)
{
    expect_error("unqualified-search-registries = [\"quay.io\", \"quay.io/ns\"]\n",
                 "r.conf:1:45: `unqualified-search-registries`: `quay.io/ns` is not a registry "
                 "host[:port]");
    expect_error("unqualified-search-registries = [\"quay.io\", 1]\n",
                 "r.conf:1:45: `unqualified-search-registries` must be an array of strings");
    expect_error("unqualified-search-registries = \"quay.io\"\n",
                 "r.conf:1:33: `unqualified-search-registries` must be of type array, not string");
}

static void test_mirrors_in_order(void **state UNUSED)
{
    /* the example of containers-registries.conf(5) */
    struct registries_conf *c = load("unqualified-search-registries = [\"example.com\"]\n"
                                     "[[registry]]\n"
                                     "prefix = \"example.com/foo\"\n"
                                     "insecure = false\n"
                                     "blocked = false\n"
                                     "location = \"internal-registry-for-example.com/bar\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"example-mirror-0.local/mirror-for-foo\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"example-mirror-1.local/mirrors/foo\"\n"
                                     "insecure = true\n"
                                     "[[registry]]\n"
                                     "location = \"registry.com\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"mirror.registry.com\"\n");
    assert_int_equal(c->n_entries, 2);
    expect_endpoints(c, "example.com/foo/image:latest",
                     "mirror example-mirror-0.local/mirror-for-foo/image, "
                     "mirror example-mirror-1.local/mirrors/foo/image (insecure), "
                     "internal-registry-for-example.com/bar/image");
    expect_endpoints(c, "registry.com/image:latest",
                     "mirror mirror.registry.com/image, registry.com/image");
    unload(c);
}

static void test_prefix_rewriting(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "prefix = \"example.com/foo\"\n"
                                     "location = \"mirror.io/bar\"\n");
    expect_endpoints(c, "example.com/foo/app:1", "mirror.io/bar/app");
    expect_endpoints(c, "example.com/foo/a/b/c", "mirror.io/bar/a/b/c");
    expect_endpoints(c, "example.com/foo", "mirror.io/bar");
    /* a prefix matches whole components only */
    expect_endpoints(c, "example.com/foobar/app", "example.com/foobar/app");
    expect_endpoints(c, "example.com/app", "example.com/app");
    unload(c);
}

static void test_prefix_defaults_to_location(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\nlocation = \"quay.io/\"\ninsecure = true\n");
    assert_int_equal(c->n_entries, 1);
    assert_string_equal(c->entries[0].prefix, "quay.io");
    assert_string_equal(c->entries[0].location, "quay.io");
    assert_string_equal(c->entries[0].origin, "registries.conf");
    expect_endpoints(c, "quay.io/a/b", "quay.io/a/b (insecure)");
    /* the domain matches as a whole: quay.io does not cover quay.io:8443 or quay.iox */
    expect_endpoints(c, "quay.io:8443/a/b", "quay.io:8443/a/b");
    expect_endpoints(c, "quay.iox/a/b", "quay.iox/a/b");
    unload(c);
}

static void test_wildcard_prefix(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "prefix = \"*.example.com\"\n"
                                     "insecure = true\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"mirror.local/example\"\n");
    assert_string_equal(c->entries[0].location, "");
    /* no location: the name is used as it is, mirrors replace the matched host */
    expect_endpoints(c, "foo.example.com/app:1",
                     "mirror mirror.local/example/app, foo.example.com/app (insecure)");
    expect_endpoints(c, "a.b.example.com/ns/app",
                     "mirror mirror.local/example/ns/app, a.b.example.com/ns/app (insecure)");
    assert_non_null(image_registries_conf_find(c, "foo.example.com:5000/app"));
    assert_null(image_registries_conf_find(c, "example.com/app"));
    assert_null(image_registries_conf_find(c, "fooexample.com/app"));
    assert_null(image_registries_conf_find(c, "foo.example.com.evil.io/app"));
    assert_null(image_registries_conf_find(c, "quay.io/foo.example.com"));
    unload(c);
}

static void test_wildcard_with_location(void **state UNUSED)
{
    struct registries_conf *c =
        load("[[registry]]\nprefix = \"*.corp.local\"\nlocation = \"proxy.corp.local\"\n");
    expect_endpoints(c, "team1.corp.local/app", "proxy.corp.local/app");
    unload(c);
}

static void test_longest_prefix(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "prefix = \"docker.io\"\nlocation = \"hub-mirror.local\"\n"
                                     "[[registry]]\n"
                                     "prefix = \"docker.io/library/busybox\"\n"
                                     "location = \"bb.local/busybox\"\n"
                                     "[[registry]]\n"
                                     "prefix = \"docker.io/library\"\n"
                                     "location = \"lib.local/official\"\n"
                                     "[[registry]]\n"
                                     "prefix = \"*.io\"\n"
                                     "blocked = true\n");
    expect_endpoints(c, "busybox",
                     "error -22: `busybox` is a short name; qualify it before "
                     "looking up its registry");
    expect_endpoints(c, "docker.io/busybox:1", "bb.local/busybox");
    expect_endpoints(c, "docker.io/library/nginx", "lib.local/official/nginx");
    expect_endpoints(c, "docker.io/user/app", "hub-mirror.local/user/app");
    /* "*.io" is shorter than "docker.io", so docker.io wins; other .io registries are blocked */
    const struct registries_entry *e = image_registries_conf_find(c, "quay.io/a/b");
    assert_non_null(e);
    assert_string_equal(e->prefix, "*.io");
    unload(c);
}

static void test_blocked(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "prefix = \"docker.io/library/evil\"\n"
                                     "location = \"docker.io/library/evil\"\n"
                                     "blocked = true\n");
    struct image_ref ref;
    struct err err = ERR_INIT;
    assert_int_equal(image_ref_parse("docker.io/evil:1", &ref, &err), 0);
    struct registries_endpoint *ep = (void *)1;
    size_t n = 7;
    assert_int_equal(image_registries_conf_endpoints(c, &ref, &ep, &n, &err), -EACCES);
    assert_null(ep);
    assert_int_equal(n, 0);
    assert_string_equal(err_msg(&err), "registry `docker.io/library/evil` is blocked by prefix "
                                       "`docker.io/library/evil` in registries.conf");
    image_ref_done(&ref);
    err_done(&err);
    expect_endpoints(c, "docker.io/library/evil2", "docker.io/library/evil2");
    unload(c);
}

static void test_insecure_flags(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "location = \"localhost:5000\"\n"
                                     "insecure = true\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"secure-mirror.local\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"plain-mirror.local:8080\"\n"
                                     "insecure = true\n");
    const struct registries_entry *e = image_registries_conf_find(c, "localhost:5000/x");
    assert_non_null(e);
    assert_true(e->insecure);
    assert_int_equal(e->n_mirrors, 2);
    assert_false(e->mirrors[0].insecure);
    assert_true(e->mirrors[1].insecure);
    expect_endpoints(c, "localhost:5000/x",
                     "mirror secure-mirror.local/x, mirror plain-mirror.local:8080/x (insecure), "
                     "localhost:5000/x (insecure)");
    unload(c);
}

static void test_mirror_by_digest_only(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "location = \"quay.io\"\n"
                                     "mirror-by-digest-only = true\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"m.local\"\n");
    assert_true(c->entries[0].mirror_by_digest_only);
    expect_endpoints(c, "quay.io/a:1", "quay.io/a");
    expect_endpoints(c, "quay.io/a@sha256:" D64, "mirror m.local/a, quay.io/a");
    expect_endpoints(c, "quay.io/a:1@sha256:" D64, "mirror m.local/a, quay.io/a");
    unload(c);
}

static void test_pull_from_mirror(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "location = \"quay.io\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"digests.local\"\n"
                                     "pull-from-mirror = \"digest-only\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"tags.local\"\n"
                                     "pull-from-mirror = \"tag-only\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"all.local\"\n"
                                     "pull-from-mirror = \"all\"\n");
    assert_int_equal(c->entries[0].mirrors[0].pull_from, REGISTRIES_PULL_DIGEST_ONLY);
    assert_int_equal(c->entries[0].mirrors[1].pull_from, REGISTRIES_PULL_TAG_ONLY);
    assert_int_equal(c->entries[0].mirrors[2].pull_from, REGISTRIES_PULL_ALL);
    expect_endpoints(c, "quay.io/a:1", "mirror tags.local/a, mirror all.local/a, quay.io/a");
    expect_endpoints(c, "quay.io/a@sha256:" D64,
                     "mirror digests.local/a, mirror all.local/a, quay.io/a");
    unload(c);
}

static void test_pull_from_mirror_errors(void **state UNUSED)
{
    expect_error("[[registry]]\nlocation = \"quay.io\"\nmirror-by-digest-only = true\n"
                 "[[registry.mirror]]\nlocation = \"m.local\"\npull-from-mirror = \"all\"\n",
                 "r.conf:1:1: [[registry]] `quay.io`: `mirror-by-digest-only` and a mirror's "
                 "`pull-from-mirror` cannot be set together");
    expect_error("[[registry]]\nlocation = \"quay.io\"\n"
                 "[[registry.mirror]]\nlocation = \"m.local\"\npull-from-mirror = \"some\"\n",
                 "r.conf:5:20: `pull-from-mirror` must be all, digest-only or tag-only, not "
                 "`some`");
    expect_error("[[registry]]\nlocation = \"quay.io\"\npull-from-mirror = \"all\"\n",
                 "r.conf:3:1: `pull-from-mirror` belongs in a [[registry.mirror]], not in "
                 "[[registry]]");
}

static void test_drop_in_replaces_same_prefix(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "location = \"quay.io\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"old-mirror.local\"\n"
                                     "[[registry]]\n"
                                     "location = \"gcr.io\"\n"
                                     "insecure = true\n");
    apply_ok(c, "/etc/containers/registries.conf.d/10-mirror.conf",
             "[[registry]]\n"
             "prefix = \"quay.io\"\n"
             "location = \"quay.io\"\n"
             "[[registry.mirror]]\n"
             "location = \"new-mirror.local\"\n"
             "[[registry]]\n"
             "location = \"ghcr.io\"\n");
    assert_int_equal(c->n_entries, 3);
    expect_endpoints(c, "quay.io/a", "mirror new-mirror.local/a, quay.io/a");
    expect_endpoints(c, "gcr.io/a", "gcr.io/a (insecure)");
    expect_endpoints(c, "ghcr.io/a", "ghcr.io/a");
    const struct registries_entry *e = image_registries_conf_find(c, "quay.io/a");
    assert_string_equal(e->origin, "/etc/containers/registries.conf.d/10-mirror.conf");
    /* within one document too, the later entry wins */
    apply_ok(c, "x.conf",
             "[[registry]]\nlocation = \"gcr.io\"\n[[registry]]\nlocation = \"gcr.io\"\n"
             "blocked = true\n");
    assert_int_equal(c->n_entries, 3);
    expect_endpoints(c, "gcr.io/a",
                     "error -13: registry `gcr.io/a` is blocked by prefix `gcr.io` in x.conf");
    unload(c);
}

static void test_unknown_keys(void **state UNUSED)
{
    expect_error("unqualified-search-registries = []\n\nfoo = 1\n",
                 "r.conf:3:1: unknown key `foo`");
    expect_error("[[registry]]\nlocation = \"quay.io\"\n  insecur = true\n",
                 "r.conf:3:3: unknown key `insecur` in [[registry]]");
    expect_error("[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m\"\n"
                 "priority = 1\n",
                 "r.conf:5:1: unknown key `priority` in [[registry.mirror]]");
    expect_error("[registry]\nlocation = \"quay.io\"\n",
                 "r.conf:1:2: `registry` must be an array of tables ([[registry]])");
}

static void test_v1_refused(void **state UNUSED)
{
    expect_error("[registries.search]\nregistries = ['docker.io']\n",
                 "r.conf:1:2: registries.conf version 1 ([registries.search], "
                 "[registries.insecure], [registries.block]) is not supported; use version 2 "
                 "(unqualified-search-registries and [[registry]] tables)");
}

static void test_type_errors(void **state UNUSED)
{
    expect_error("[[registry]]\nlocation = \"quay.io\"\ninsecure = \"yes\"\n",
                 "r.conf:3:12: `insecure` must be of type boolean, not string");
    expect_error("[[registry]]\nlocation = 5\n",
                 "r.conf:2:12: `location` must be of type string, not integer");
    expect_error("[[registry]]\nlocation = \"quay.io\"\nmirror = \"m.local\"\n",
                 "r.conf:3:10: `mirror` must be an array of tables ([[registry.mirror]])");
    expect_error("[[registry]]\nlocation = \"quay.io\"\nmirror = [\"m.local\"]\n",
                 "r.conf:3:11: `mirror` must be an array of tables ([[registry.mirror]])");
    expect_error("short-name-mode = true\n",
                 "r.conf:1:19: `short-name-mode` must be of type string, not boolean");
}

static void test_location_validation(void **state UNUSED)
{
    expect_error("[[registry]]\nlocation = \"https://quay.io\"\n",
                 "r.conf:2:12: invalid location `https://quay.io`: URI schemes are not supported");
    expect_error("[[registry]]\nlocation = \"\"\n",
                 "r.conf:1:1: a [[registry]] needs a non-empty `location` or `prefix`");
    expect_error("[[registry]]\nprefix = \"quay.io/ns\"\n",
                 "r.conf:1:1: [[registry]] with prefix `quay.io/ns` needs a non-empty `location` "
                 "(only a wildcard prefix such as `*.example.com` may go without)");
    expect_error("[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\ninsecure = true\n",
                 "r.conf:3:1: a [[registry.mirror]] needs a non-empty `location`");
    expect_error("[[registry]]\nlocation = \"quay.io/Upper\"\n",
                 "r.conf:2:12: invalid location `quay.io/Upper`: invalid repository path "
                 "(lowercase components separated by `/`)");
    expect_error("[[registry]]\nlocation = \"bad_host/x\"\n",
                 "r.conf:2:12: invalid location `bad_host/x`: not a registry host[:port] followed "
                 "by an optional repository path");
    expect_error("[[registry]]\nlocation = \"*.quay.io\"\n",
                 "r.conf:2:12: invalid location `*.quay.io`: a wildcard is only allowed as `*.` "
                 "at the start of a prefix (`*.example.com`)");
}

static void test_prefix_validation(void **state UNUSED)
{
    const char *wild = "a wildcard prefix must be `*.` followed by a host name, without port or "
                       "path";
    cleanup_free char *m1 = xasprintf("r.conf:2:10: invalid prefix `*.example.com/foo`: %s", wild);
    cleanup_free char *m2 = xasprintf("r.conf:2:10: invalid prefix `*.example.com:5000`: %s", wild);
    expect_error("[[registry]]\nprefix = \"*.example.com/foo\"\n", m1);
    expect_error("[[registry]]\nprefix = \"*.example.com:5000\"\n", m2);
    expect_error("[[registry]]\nprefix = \"example.*.com\"\nlocation = \"x.com\"\n",
                 "r.conf:2:10: invalid prefix `example.*.com`: a wildcard is only allowed as `*.` "
                 "at the start of a prefix (`*.example.com`)");
    expect_error("[[registry]]\nprefix = \"quay.io/a:v1\"\nlocation = \"x.com/a\"\n",
                 "r.conf:2:10: invalid prefix `quay.io/a:v1`: tags and digests are not supported "
                 "here");
    expect_error("[[registry]]\nprefix = \"quay.io/a@sha256:" D64 "\"\nlocation = \"x.com/a\"\n",
                 "r.conf:2:10: invalid prefix `quay.io/a@sha256:" D64
                 "`: tags and digests are not supported here");
}

static void test_short_name_mode(void **state UNUSED)
{
    struct registries_conf *c = load("short-name-mode = \"enforcing\"\n");
    assert_int_equal(c->short_name_mode, REGISTRIES_SHORT_NAME_ENFORCING);
    apply_ok(c, "b", "short-name-mode = \"disabled\"\n");
    assert_int_equal(c->short_name_mode, REGISTRIES_SHORT_NAME_DISABLED);
    apply_ok(c, "c", "short-name-mode = \"\"\n"); /* empty: unchanged */
    assert_int_equal(c->short_name_mode, REGISTRIES_SHORT_NAME_DISABLED);
    apply_ok(c, "d", "short-name-mode = \"permissive\"\n");
    assert_int_equal(c->short_name_mode, REGISTRIES_SHORT_NAME_PERMISSIVE);
    unload(c);
    expect_error("short-name-mode = \"strict\"\n",
                 "r.conf:1:19: `short-name-mode` must be enforcing, permissive or disabled, not "
                 "`strict`");
}

static void test_aliases(void **state UNUSED)
{
    struct registries_conf *c = load("[aliases]\n"
                                     "\"busybox\" = \"docker.io/busybox\"\n"
                                     "\"fedora\" = \"registry.fedoraproject.org/fedora\"\n"
                                     "\"foo/bar\" = \"quay.io/foo/bar\"\n");
    assert_int_equal(c->n_aliases, 3);
    assert_string_equal(image_registries_conf_alias(c, "busybox"), "docker.io/library/busybox");
    assert_string_equal(image_registries_conf_alias(c, "foo/bar"), "quay.io/foo/bar");
    assert_null(image_registries_conf_alias(c, "nginx"));
    /* a later file replaces one alias, erases another with "", adds a third */
    apply_ok(c, "short-name-aliases.conf",
             "[aliases]\n\"busybox\" = \"quay.io/prometheus/busybox\"\n\"fedora\" = \"\"\n"
             "\"nginx\" = \"docker.io/library/nginx\"\n\"never\" = \"\"\n");
    assert_int_equal(c->n_aliases, 3);
    assert_string_equal(image_registries_conf_alias(c, "busybox"), "quay.io/prometheus/busybox");
    assert_null(image_registries_conf_alias(c, "fedora"));
    assert_null(image_registries_conf_alias(c, "never"));
    assert_string_equal(image_registries_conf_alias(c, "nginx"), "docker.io/library/nginx");
    assert_string_equal(image_registries_conf_alias(c, "foo/bar"), "quay.io/foo/bar");
    unload(c);
}

static void test_alias_errors(void **state UNUSED)
{
    expect_error("[aliases]\n\"quay.io/x\" = \"quay.io/x\"\n",
                 "r.conf:2:1: alias `quay.io/x` must be a short name without registry, tag or "
                 "digest");
    expect_error("[aliases]\n\"localhost/x\" = \"quay.io/x\"\n",
                 "r.conf:2:1: alias `localhost/x` must be a short name without registry, tag or "
                 "digest");
    expect_error("[aliases]\n\"x:1\" = \"quay.io/x\"\n",
                 "r.conf:2:1: alias `x:1` must be a short name without registry, tag or digest");
    expect_error("[aliases]\nx = \"quay.io/x:1\"\n",
                 "r.conf:2:5: alias `x`: `quay.io/x:1` must be a fully qualified name without "
                 "tag or digest");
    expect_error("[aliases]\nx = \"x\"\n",
                 "r.conf:2:5: alias `x`: `x` must be a fully qualified name without tag or "
                 "digest");
    expect_error("[aliases]\nX = \"quay.io/x\"\n",
                 "r.conf:2:1: alias `X`: invalid image reference `X`: repository name must be "
                 "lowercase");
    expect_error("[aliases]\nx = 1\n", "r.conf:2:5: alias `x` must be a string");
}

static void test_toml_error_position(void **state UNUSED)
{
    expect_error("[[registry]]\nlocation = \"quay.io\n", "r.conf:2:20: unterminated string");
}

static void test_failed_apply_changes_nothing(void **state UNUSED)
{
    struct registries_conf *c = load("unqualified-search-registries = [\"quay.io\"]\n"
                                     "[[registry]]\nlocation = \"quay.io\"\n"
                                     "[aliases]\nx = \"quay.io/x\"\n");
    struct err err = ERR_INIT;
    const char *bad = "unqualified-search-registries = [\"docker.io\"]\n"
                      "[[registry]]\nlocation = \"quay.io\"\nblocked = true\n"
                      "[aliases]\nx = \"\"\n"
                      "[[registry]]\nlocation = \"https://gcr.io\"\n";
    assert_int_equal(image_registries_conf_apply(c, "bad.conf", bad, strlen(bad), &err), -EINVAL);
    err_done(&err);
    assert_int_equal(c->n_search, 1);
    assert_string_equal(c->search[0], "quay.io");
    assert_int_equal(c->n_entries, 1);
    assert_false(c->entries[0].blocked);
    assert_string_equal(image_registries_conf_alias(c, "x"), "quay.io/x");
    unload(c);
}

static void test_docker_io_rewriting(void **state UNUSED)
{
    struct registries_conf *c = load("[[registry]]\n"
                                     "prefix = \"docker.io\"\n"
                                     "location = \"docker.io\"\n"
                                     "[[registry.mirror]]\n"
                                     "location = \"mirror.gcr.io\"\n"
                                     "[[registry]]\n"
                                     "prefix = \"hub.local\"\n"
                                     "location = \"index.docker.io\"\n"
                                     "[[registry]]\n"
                                     "prefix = \"example.com/foo/bar\"\n"
                                     "location = \"mirror.io\"\n");
    expect_endpoints(c, "docker.io/busybox:1.36",
                     "mirror mirror.gcr.io/library/busybox, docker.io/library/busybox");
    /* rewriting onto Docker Hub applies its library/ rule */
    expect_endpoints(c, "hub.local/alpine", "docker.io/library/alpine");
    expect_endpoints(c, "hub.local/user/app", "docker.io/user/app");
    /* a prefix naming a whole repository rewritten to a bare host leaves no path */
    expect_endpoints(c, "example.com/foo/bar",
                     "error -22: rewriting `example.com/foo/bar` gives `mirror.io`, which has no "
                     "repository path");
    expect_endpoints(c, "example.com/foo/bar/baz", "mirror.io/baz");
    unload(c);
}

static void test_ignored_keys(void **state UNUSED)
{
    struct registries_conf *c =
        load("credential-helpers = [\"containers-auth.json\", \"ecr-login\"]\n"
             "additional-layer-store-auth-helper = \"helper\"\n");
    assert_int_equal(c->n_entries, 0);
    unload(c);
    expect_error("credential-helpers = [1]\n",
                 "r.conf:1:23: `credential-helpers` must be an array of strings");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_search_registries),
        cmocka_unit_test(test_search_errors),
        cmocka_unit_test(test_mirrors_in_order),
        cmocka_unit_test(test_prefix_rewriting),
        cmocka_unit_test(test_prefix_defaults_to_location),
        cmocka_unit_test(test_wildcard_prefix),
        cmocka_unit_test(test_wildcard_with_location),
        cmocka_unit_test(test_longest_prefix),
        cmocka_unit_test(test_blocked),
        cmocka_unit_test(test_insecure_flags),
        cmocka_unit_test(test_mirror_by_digest_only),
        cmocka_unit_test(test_pull_from_mirror),
        cmocka_unit_test(test_pull_from_mirror_errors),
        cmocka_unit_test(test_drop_in_replaces_same_prefix),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_v1_refused),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_location_validation),
        cmocka_unit_test(test_prefix_validation),
        cmocka_unit_test(test_short_name_mode),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_alias_errors),
        cmocka_unit_test(test_toml_error_position),
        cmocka_unit_test(test_failed_apply_changes_nothing),
        cmocka_unit_test(test_docker_io_rewriting),
        cmocka_unit_test(test_ignored_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
