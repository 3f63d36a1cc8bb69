/* Unit tests for src/network/cni-conf.c: parsing .conf/.conflist files, picking the network in a
 * directory, plugin stdin with runtimeConfig, results, error output and CNI_ARGS. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/buf.h"
#include "common/macro.h"
#include "network/cni-conf.h"

#define CONFLIST                                                                                   \
    "{\n"                                                                                          \
    "  \"cniVersion\": \"1.0.0\",\n"                                                               \
    "  \"name\": \"crib\",\n"                                                                      \
    "  \"plugins\": [\n"                                                                           \
    "    {\"type\": \"bridge\", \"bridge\": \"cni0\", \"isGateway\": true,\n"                      \
    "     \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": "                        \
    "\"10.88.0.0/16\"}]]}},\n"                                                                     \
    "    {\"type\": \"portmap\", \"capabilities\": {\"portMappings\": true}, \"snat\": true},\n"   \
    "    {\"type\": \"bandwidth\", \"capabilities\": {\"bandwidth\": true, \"ipRanges\": "         \
    "false}}\n"                                                                                    \
    "  ]\n"                                                                                        \
    "}\n"

#define RESULT                                                                                     \
    "{\"cniVersion\": \"1.0.0\",\n"                                                                \
    " \"interfaces\": [{\"name\": \"eth0\", \"sandbox\": \"/run/netns/x\"}],\n"                    \
    " \"ips\": [{\"address\": \"10.88.0.5/16\", \"gateway\": \"10.88.0.1\", \"interface\": 0},\n"  \
    "         {\"address\": \"fd00:0:0::5/64\", \"interface\": 0}]}\n"

static void parse_ok(const char *text, const char *file, struct cni_conflist *c)
{
    struct err err = ERR_INIT;
    int r = network_cni_conflist_parse(text, strlen(text), file, c, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    err_done(&err);
}

/* Parsing text as file must fail with code and exactly this message. */
static void expect_error(const char *file, const char *text, int code, const char *want)
{
    struct cni_conflist c;
    struct err err = ERR_INIT;
    int r = network_cni_conflist_parse(text, strlen(text), file, &c, &err);
    if (r != code || strcmp(err_msg(&err), want) != 0)
        print_error("got  %d `%s`\nwant %d `%s`\n", r, err_msg(&err), code, want);
    assert_int_equal(r, code);
    assert_string_equal(err_msg(&err), want);
    assert_null(c.json);
    assert_null(c.plugins);
    err_done(&err);
}

static const char *plugin_type(const struct cni_conflist *c, size_t i)
{
    return cJSON_GetObjectItemCaseSensitive(c->plugins[i], "type")->valuestring;
}

/* ---- parsing ---- */

static void test_parse_conflist(void **state UNUSED)
{
    struct cni_conflist c;
    parse_ok(CONFLIST, "10-crib.conflist", &c);
    assert_string_equal(c.name, "crib");
    assert_string_equal(c.cni_version, "1.0.0");
    assert_string_equal(c.path, "10-crib.conflist");
    assert_false(c.disable_check);
    assert_int_equal(c.n_plugins, 3);
    assert_string_equal(plugin_type(&c, 0), "bridge");
    assert_string_equal(plugin_type(&c, 1), "portmap");
    assert_string_equal(plugin_type(&c, 2), "bandwidth");
    /* the plugins are the array elements of the document */
    assert_ptr_equal(c.plugins[0], cJSON_GetArrayItem(cJSON_GetObjectItem(c.json, "plugins"), 0));
    network_cni_conflist_done(&c);
    assert_null(c.json);
}

static void test_parse_single_conf(void **state UNUSED)
{
    struct cni_conflist c;
    const char *text = "{\"cniVersion\": \"0.4.0\", \"name\": \"podman\", \"type\": \"bridge\", "
                       "\"ipam\": {\"type\": \"host-local\"}}";
    parse_ok(text, "87-podman.conf", &c);
    assert_string_equal(c.name, "podman");
    assert_string_equal(c.cni_version, "0.4.0");
    assert_int_equal(c.n_plugins, 1);
    assert_string_equal(plugin_type(&c, 0), "bridge");
    cleanup_free char *s = cJSON_PrintUnformatted(c.json);
    assert_string_equal(s, "{\"cniVersion\":\"0.4.0\",\"name\":\"podman\",\"plugins\":[{"
                           "\"cniVersion\":\"0.4.0\",\"name\":\"podman\",\"type\":\"bridge\","
                           "\"ipam\":{\"type\":\"host-local\"}}]}");
    network_cni_conflist_done(&c);
    /* a list is a list whatever the file is called */
    parse_ok(CONFLIST, "10-crib.json", &c);
    assert_int_equal(c.n_plugins, 3);
    network_cni_conflist_done(&c);
}

static void test_parse_disable_check(void **state UNUSED)
{
    struct cni_conflist c;
    parse_ok("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"disableCheck\": true, "
             "\"plugins\": [{\"type\": \"ptp\"}]}",
             "n.conflist", &c);
    assert_true(c.disable_check);
    network_cni_conflist_done(&c);
    expect_error("n.conflist",
                 "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"disableCheck\": \"true\", "
                 "\"plugins\": [{\"type\": \"ptp\"}]}",
                 -EINVAL, "n.conflist: `disableCheck` must be a boolean, not a string");
}

static void test_parse_invalid_json(void **state UNUSED)
{
    expect_error("10-net.conflist", "{\n  \"cniVersion\": \"1.0.0\",\n  \"name\": ,\n}", -EINVAL,
                 "10-net.conflist:3:11: not valid JSON");
    expect_error("10-net.conflist", "{\"cniVersion\": \"1.0.0\"}\n{}", -EINVAL,
                 "10-net.conflist:2:1: not valid JSON");
    static const char nul[] = "{\"name\": \"a\0b\"}";
    struct cni_conflist c;
    struct err err = ERR_INIT;
    assert_int_equal(network_cni_conflist_parse(nul, sizeof(nul) - 1, "x.conf", &c, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "x.conf:1:12: not valid JSON: it contains a NUL byte");
    err_done(&err);
    expect_error("x.conf", "", -EINVAL, "x.conf:1:1: not valid JSON");
    expect_error("x.conf", "[{\"type\": \"bridge\"}]", -EINVAL, "x.conf: not a JSON object");
}

static void test_parse_too_large(void **state UNUSED)
{
    size_t n = CNI_CONF_MAX_BYTES + 1;
    char *big = xmalloc(n);
    memset(big, ' ', n);
    struct cni_conflist c;
    struct err err = ERR_INIT;
    assert_int_equal(network_cni_conflist_parse(big, n, "big.conf", &c, &err), -EFBIG);
    assert_string_equal(err_msg(&err), "big.conf: 1048577 bytes, more than the limit of 1048576");
    err_done(&err);
    free(big);
}

static void test_parse_version_and_name(void **state UNUSED)
{
    expect_error("a.conf", "{\"name\": \"n\", \"type\": \"ptp\"}", -EINVAL,
                 "a.conf: `cniVersion` is missing");
    expect_error("a.conf", "{\"cniVersion\": 1.0, \"name\": \"n\", \"type\": \"ptp\"}", -EINVAL,
                 "a.conf: `cniVersion` must be a string, not a number");
    expect_error("a.conf", "{\"cniVersion\": \"1.0.0\", \"type\": \"ptp\"}", -EINVAL,
                 "a.conf: `name` is missing");
    expect_error("a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": [], \"type\": \"ptp\"}", -EINVAL,
                 "a.conf: `name` must be a string, not an array");
    expect_error("a.conf", "{\"cniVersion\": \"1.0.0\", \"name\": \"\", \"type\": \"ptp\"}",
                 -EINVAL, "a.conf: `name` is empty");
}

static void expect_bad_name(const char *name)
{
    cleanup_free char *text =
        xasprintf("{\"cniVersion\": \"1.0.0\", \"name\": \"%s\", \"type\": \"ptp\"}", name);
    cleanup_free char *want =
        xasprintf("a.conf: invalid network name `%s`: it must start with a letter or digit, "
                  "followed by letters, digits, `_`, `.` or `-`",
                  name);
    expect_error("a.conf", text, -EINVAL, want);
}

static void test_parse_network_name(void **state UNUSED)
{
    expect_bad_name("-net");
    expect_bad_name("_net");
    expect_bad_name("my net");
    expect_bad_name("a/b");
    expect_bad_name("caf\xc3\xa9");
    struct cni_conflist c;
    parse_ok("{\"cniVersion\": \"1.0.0\", \"name\": \"0My_net.v1-x\", \"type\": \"ptp\"}", "a.conf",
             &c);
    assert_string_equal(c.name, "0My_net.v1-x");
    network_cni_conflist_done(&c);
    char name[300];
    memset(name, 'a', 256);
    name[256] = '\0';
    cleanup_free char *text =
        xasprintf("{\"cniVersion\": \"1.0.0\", \"name\": \"%s\", \"type\": \"ptp\"}", name);
    expect_error("a.conf", text, -EINVAL, "a.conf: network name longer than 255 bytes");
}

static void test_parse_plugins_errors(void **state UNUSED)
{
#define HEAD "{\"cniVersion\": \"1.0.0\", \"name\": \"n\", "
    expect_error("n.conflist", HEAD "\"type\": \"ptp\"}", -EINVAL,
                 "n.conflist: `plugins` is missing");
    expect_error("n.conflist", HEAD "\"plugins\": []}", -EINVAL, "n.conflist: `plugins` is empty");
    expect_error("n.conf", HEAD "\"plugins\": {\"type\": \"ptp\"}}", -EINVAL,
                 "n.conf: `plugins` must be an array, not an object");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": \"ptp\"}, \"portmap\"]}", -EINVAL,
                 "n.conflist: plugins[1]: must be an object, not a string");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": \"ptp\"}, {\"snat\": true}]}",
                 -EINVAL, "n.conflist: plugins[1]: `type` is missing");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": 5}]}", -EINVAL,
                 "n.conflist: plugins[0]: `type` must be a string, not a number");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": \"\"}]}", -EINVAL,
                 "n.conflist: plugins[0]: `type` is empty");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": \"../../tmp/evil\"}]}", -EINVAL,
                 "n.conflist: plugins[0]: invalid plugin type `../../tmp/evil`: it must be a file "
                 "name, without `/`");
    expect_error("n.conflist", HEAD "\"plugins\": [{\"type\": \"..\"}]}", -EINVAL,
                 "n.conflist: plugins[0]: invalid plugin type `..`: it must be a file name, "
                 "without `/`");
    /* a single-plugin file is checked as the plugin, without an index */
    expect_error("n.conf", HEAD "\"snat\": true}", -EINVAL, "n.conf: `type` is missing");
    expect_error("n.conf", HEAD "\"type\": \"/usr/bin/bridge\"}", -EINVAL,
                 "n.conf: invalid plugin type `/usr/bin/bridge`: it must be a file name, without "
                 "`/`");
}

static void test_parse_capabilities(void **state UNUSED)
{
    expect_error("n.conflist",
                 HEAD
                 "\"plugins\": [{\"type\": \"portmap\", \"capabilities\": [\"portMappings\"]}]}",
                 -EINVAL, "n.conflist: plugins[0]: `capabilities` must be an object of booleans");
    expect_error("n.conflist",
                 HEAD "\"plugins\": [{\"type\": \"portmap\", \"capabilities\": {\"portMappings\": "
                      "\"yes\"}}]}",
                 -EINVAL, "n.conflist: plugins[0]: `capabilities` must be an object of booleans");
    expect_error("n.conf", HEAD "\"type\": \"portmap\", \"capabilities\": 1}", -EINVAL,
                 "n.conf: `capabilities` must be an object of booleans");
}

static void test_parse_plugin_limit(void **state UNUSED)
{
    struct buf b = {0};
    buf_puts(&b, HEAD "\"plugins\": [");
    for (int i = 0; i < CNI_CONF_MAX_PLUGINS; i++)
        buf_printf(&b, "%s{\"type\": \"p%d\"}", i ? "," : "", i);
    cleanup_free char *ok = xasprintf("%s]}", (char *)b.data);
    cleanup_free char *bad = xasprintf("%s,{\"type\": \"one-too-many\"}]}", (char *)b.data);
    buf_done(&b);
    struct cni_conflist c;
    parse_ok(ok, "n.conflist", &c);
    assert_int_equal(c.n_plugins, 64);
    assert_string_equal(plugin_type(&c, 63), "p63");
    network_cni_conflist_done(&c);
    expect_error("n.conflist", bad, -EINVAL, "n.conflist: 65 plugins, more than the limit of 64");
}

static void test_parse_repeated_keys(void **state UNUSED)
{
    /* cJSON would read the first, a Go plugin the last */
    expect_error("n.conf",
                 "{\"cniVersion\": \"1.0.0\", \"name\": \"a\", \"name\": \"b\", \"type\": \"ptp\"}",
                 -EINVAL, "n.conf: key `name` appears more than once");
    expect_error("n.conf", HEAD "\"type\": \"ptp\", \"Type\": \"bridge\"}", -EINVAL,
                 "n.conf: key `type` appears more than once");
    expect_error("n.conflist",
                 HEAD "\"plugins\": [{\"type\": \"ptp\"}], \"Plugins\": [{\"type\": \"x\"}]}",
                 -EINVAL, "n.conflist: key `plugins` appears more than once");
    expect_error("n.conflist",
                 HEAD "\"plugins\": [{\"type\": \"ptp\", \"capabilities\": {}, "
                      "\"capabilities\": {\"portMappings\": true}}]}",
                 -EINVAL, "n.conflist: plugins[0]: key `capabilities` appears more than once");
}

/* ---- picking from a directory ---- */

static char *make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = xasprintf("%s/test-cni-conf.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    return dir;
}

static void write_file(const char *dir, const char *name, const char *text)
{
    cleanup_free char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

/* Remove dir, its files and its (empty) subdirectories, then free the name. */
static void remove_dir(char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd(d), de->d_name, 0) < 0)
            assert_int_equal(unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR), 0);
    }
    closedir(d);
    assert_int_equal(rmdir(dir), 0);
    free(dir);
}

static const char *net(const char *name)
{
    static char text[256];
    snprintf(text, sizeof(text),
             "{\"cniVersion\": \"1.0.0\", \"name\": \"%s\", \"plugins\": [{\"type\": \"ptp\"}]}",
             name);
    return text;
}

/* network_cni_conflist_pick must fail with code and exactly want (freed here). */
static void expect_pick_error(const char *dir, const char *default_name, int code, char *want)
{
    struct cni_conflist c;
    struct err err = ERR_INIT;
    int r = network_cni_conflist_pick(dir, default_name, &c, &err);
    if (r != code || strcmp(err_msg(&err), want) != 0)
        print_error("got  %d `%s`\nwant %d `%s`\n", r, err_msg(&err), code, want);
    assert_int_equal(r, code);
    assert_string_equal(err_msg(&err), want);
    assert_null(c.json);
    err_done(&err);
    free(want);
}

static void pick_ok(const char *dir, const char *default_name, struct cni_conflist *c)
{
    struct err err = ERR_INIT;
    int r = network_cni_conflist_pick(dir, default_name, c, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    err_done(&err);
}

static void test_pick_first_by_name(void **state UNUSED)
{
    char *dir = make_dir();
    write_file(dir, "20-b.conflist", net("b"));
    write_file(dir, "99-c.json", net("c"));
    write_file(dir, "10-a.conf.bak", net("old"));
    write_file(dir, "05-readme.txt", "not a configuration");
    write_file(dir, "10-a.conf", net("a"));
    write_file(dir, "10-A.conf", net("upper")); /* bytewise: 'A' sorts before 'a' */
    struct cni_conflist c;
    pick_ok(dir, NULL, &c);
    assert_string_equal(c.name, "upper");
    cleanup_free char *path = xasprintf("%s/10-A.conf", dir);
    assert_string_equal(c.path, path);
    network_cni_conflist_done(&c);
    remove_dir(dir);
}

static void test_pick_default_name(void **state UNUSED)
{
    char *dir = make_dir();
    write_file(dir, "10-a.conflist", net("a"));
    write_file(dir, "20-b.conflist", net("b"));
    write_file(dir, "30-b.conflist", net("b")); /* the first with the name wins */
    struct cni_conflist c;
    pick_ok(dir, "b", &c);
    assert_string_equal(c.name, "b");
    cleanup_free char *path = xasprintf("%s/20-b.conflist", dir);
    assert_string_equal(c.path, path);
    network_cni_conflist_done(&c);
    pick_ok(dir, "", &c); /* empty: the first */
    assert_string_equal(c.name, "a");
    network_cni_conflist_done(&c);
    expect_pick_error(dir, "crib", -ENOENT, xasprintf("no CNI network `crib` in %s", dir));
    remove_dir(dir);
}

static void test_pick_skips_invalid(void **state UNUSED)
{
    char *dir = make_dir();
    write_file(dir, "00-broken.conf", "{\"cniVersion\": \"1.0.0\",");
    write_file(dir, "01-noname.conflist", "{\"cniVersion\": \"1.0.0\", \"plugins\": []}");
    cleanup_free char *sub = xasprintf("%s/02-dir.conf", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(dir, "10-good.conflist", net("good"));
    struct cni_conflist c;
    pick_ok(dir, NULL, &c);
    assert_string_equal(c.name, "good");
    network_cni_conflist_done(&c);
    /* a file that is wanted by name but broken leaves the reason in the message */
    expect_pick_error(
        dir, "other", -ENOENT,
        xasprintf("no CNI network `other` in %s (skipped 00-broken.conf:1:24: not valid JSON; "
                  "01-noname.conflist: `name` is missing; 02-dir.conf: not a regular file)",
                  dir));
    remove_dir(dir);
}

static void test_pick_none_valid(void **state UNUSED)
{
    char *dir = make_dir();
    write_file(dir, "a.conf", "[]");
    write_file(dir, "b.conflist", "{\"cniVersion\": \"1.0.0\", \"name\": \"b\"}");
    expect_pick_error(
        dir, NULL, -ENOENT,
        xasprintf("no valid CNI configuration in %s (skipped a.conf: not a JSON object; "
                  "b.conflist: `plugins` is missing)",
                  dir));
    for (int i = 0; i < 10; i++) {
        char name[32];
        snprintf(name, sizeof(name), "c%d.json", i);
        write_file(dir, name, "{}");
    }
    /* only the first few reasons are spelled out */
    expect_pick_error(
        dir, NULL, -ENOENT,
        xasprintf("no valid CNI configuration in %s (skipped a.conf: not a JSON object; "
                  "b.conflist: `plugins` is missing; c0.json: `cniVersion` is missing; "
                  "c1.json: `cniVersion` is missing; c2.json: `cniVersion` is missing; "
                  "c3.json: `cniVersion` is missing; c4.json: `cniVersion` is missing; "
                  "c5.json: `cniVersion` is missing; and 4 more)",
                  dir));
    remove_dir(dir);
}

static void test_pick_no_files(void **state UNUSED)
{
    char *dir = make_dir();
    expect_pick_error(dir, NULL, -ENOENT, xasprintf("no CNI configuration file in %s", dir));
    write_file(dir, "README", "see 10-crib.conflist.example");
    write_file(dir, "10-crib.conflist.example", net("crib"));
    expect_pick_error(dir, "crib", -ENOENT, xasprintf("no CNI configuration file in %s", dir));
    cleanup_free char *missing = xasprintf("%s/missing", dir);
    expect_pick_error(
        missing, NULL, -ENOENT,
        xasprintf("cannot read CNI configuration directory %s: No such file or directory",
                  missing));
    remove_dir(dir);
}

/* ---- plugin stdin ---- */

static char *stdin_of(size_t i, const char *prev, const struct cni_runtime_config *rc)
{
    struct cni_conflist c;
    parse_ok(CONFLIST, "10-crib.conflist", &c);
    char *s = network_cni_plugin_stdin(&c, i, prev, rc);
    network_cni_conflist_done(&c);
    return s;
}

static void test_stdin_plain(void **state UNUSED)
{
    cleanup_free char *s = stdin_of(0, NULL, NULL);
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"bridge\","
                           "\"bridge\":\"cni0\",\"isGateway\":true,\"ipam\":{\"type\":"
                           "\"host-local\",\"ranges\":[[{\"subnet\":\"10.88.0.0/16\"}]]}}");
    /* capabilities are dropped even when nothing is provided for them */
    cleanup_free char *p = stdin_of(1, NULL, NULL);
    assert_string_equal(p, "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"portmap\","
                           "\"snat\":true}");
}

static void test_stdin_port_mappings(void **state UNUSED)
{
    const struct cni_port_mapping pm[] = {
        {.host_port = 8080, .container_port = 80, .protocol = "TCP"},
        {.host_port = 0, .container_port = 9090, .protocol = "TCP"}, /* no host port: left out */
        {.host_port = 5353, .container_port = 53, .protocol = "udp", .host_ip = "127.0.0.1"},
        {.host_port = 9000, .container_port = 9000, .host_ip = ""},
    };
    struct cni_runtime_config rc = {.port_mappings = pm,
                                    .n_port_mappings = ARRAY_SIZE(pm),
                                    .ingress_rate = 1000,
                                    .pod_cidr = "10.88.0.0/24"};
    cleanup_free char *s = stdin_of(1, NULL, &rc);
    /* bandwidth and ipRanges are not declared by portmap */
    assert_string_equal(
        s, "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"portmap\",\"snat\":true,"
           "\"runtimeConfig\":{\"portMappings\":["
           "{\"hostPort\":8080,\"containerPort\":80,\"protocol\":\"tcp\"},"
           "{\"hostPort\":5353,\"containerPort\":53,\"protocol\":\"udp\",\"hostIP\":\"127.0.0.1\"},"
           "{\"hostPort\":9000,\"containerPort\":9000,\"protocol\":\"tcp\"}]}}");
    /* only mappings without host port: no runtimeConfig at all */
    rc.port_mappings = &pm[1];
    rc.n_port_mappings = 1;
    cleanup_free char *none = stdin_of(1, NULL, &rc);
    assert_null(strstr(none, "runtimeConfig"));
}

static void test_stdin_bandwidth(void **state UNUSED)
{
    struct cni_runtime_config rc = {.ingress_rate = 10000000000000000,
                                    .ingress_burst = 2147483647,
                                    .egress_rate = 1000000,
                                    .egress_burst = 0,
                                    .pod_cidr = "10.88.0.0/24"};
    cleanup_free char *s = stdin_of(2, NULL, &rc);
    /* ipRanges is declared false; integers stay exact, not 1e+16; a rate without burst gets the
     * largest burst the bandwidth plugin takes */
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"bandwidth\","
                           "\"runtimeConfig\":{\"bandwidth\":{\"ingressRate\":10000000000000000,"
                           "\"ingressBurst\":2147483647,\"egressRate\":1000000,"
                           "\"egressBurst\":4294967295}}}");
    struct cni_runtime_config zero = {0};
    cleanup_free char *none = stdin_of(2, NULL, &zero);
    assert_null(strstr(none, "runtimeConfig"));
}

static void test_stdin_ip_ranges(void **state UNUSED)
{
    struct cni_conflist c;
    parse_ok("{\"cniVersion\": \"0.4.0\", \"name\": \"k8s-pod-network\", \"type\": \"host-local\", "
             "\"capabilities\": {\"ipRanges\": true, \"portMappings\": true}}",
             "10-k8s.conf", &c);
    struct cni_runtime_config rc = {.pod_cidr = "10.244.1.0/24"};
    cleanup_free char *s = network_cni_plugin_stdin(&c, 0, NULL, &rc);
    assert_string_equal(s, "{\"cniVersion\":\"0.4.0\",\"name\":\"k8s-pod-network\","
                           "\"type\":\"host-local\",\"runtimeConfig\":{\"ipRanges\":"
                           "[[{\"subnet\":\"10.244.1.0/24\"}]]}}");
    rc.pod_cidr = "";
    cleanup_free char *none = network_cni_plugin_stdin(&c, 0, NULL, &rc);
    assert_string_equal(none, "{\"cniVersion\":\"0.4.0\",\"name\":\"k8s-pod-network\","
                              "\"type\":\"host-local\"}");
    network_cni_conflist_done(&c);
}

static void test_stdin_prev_result(void **state UNUSED)
{
    cleanup_free char *s = stdin_of(2, "{\"cniVersion\":\"1.0.0\",\"ips\":[]}", NULL);
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"bandwidth\","
                           "\"prevResult\":{\"cniVersion\":\"1.0.0\",\"ips\":[]}}");
    /* a plugin's garbage output is left out rather than passed on */
    const char *bare = "{\"cniVersion\":\"1.0.0\",\"name\":\"crib\",\"type\":\"bandwidth\"}";
    cleanup_free char *cut = stdin_of(2, "{\"cniVersion\":", NULL);
    assert_string_equal(cut, bare);
    cleanup_free char *arr = stdin_of(2, "[]", NULL);
    assert_string_equal(arr, bare);
    cleanup_free char *empty = stdin_of(2, "", NULL);
    assert_string_equal(empty, bare);
}

static void test_stdin_replaces_runtime_keys(void **state UNUSED)
{
    struct cni_conflist c;
    parse_ok("{\"cniVersion\": \"1.0.0\", \"name\": \"n\", \"plugins\": [{\"type\": \"portmap\", "
             "\"name\": \"other\", \"CNIVersion\": \"0.1.0\", \"runtimeConfig\": {\"x\": 1}, "
             "\"prevResult\": {\"y\": 2}, \"capabilities\": {\"portMappings\": true}, "
             "\"args\": {\"cni\": {}}}]}",
             "n.conflist", &c);
    const struct cni_port_mapping pm = {.host_port = 80, .container_port = 8080};
    struct cni_runtime_config rc = {.port_mappings = &pm, .n_port_mappings = 1};
    cleanup_free char *s = network_cni_plugin_stdin(&c, 0, "{\"cniVersion\":\"1.0.0\"}", &rc);
    assert_string_equal(s, "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"portmap\","
                           "\"args\":{\"cni\":{}},\"runtimeConfig\":{\"portMappings\":["
                           "{\"hostPort\":80,\"containerPort\":8080,\"protocol\":\"tcp\"}]},"
                           "\"prevResult\":{\"cniVersion\":\"1.0.0\"}}");
    network_cni_conflist_done(&c);
}

/* ---- results, errors, CNI_ARGS ---- */

static void expect_ips(const char *json, const char *want)
{
    char **ips;
    size_t n;
    struct err err = ERR_INIT;
    int r = network_cni_result_ips(json, strlen(json), &ips, &n, &err);
    if (r < 0)
        print_error("%s\n", err_msg(&err));
    assert_int_equal(r, 0);
    struct buf b = {0};
    buf_puts(&b, "");
    for (size_t i = 0; i < n; i++) {
        buf_printf(&b, "%s%s", i ? " " : "", ips[i]);
        free(ips[i]);
    }
    free(ips);
    assert_string_equal((char *)b.data, want);
    buf_done(&b);
}

static void expect_result_error(const char *json, const char *want)
{
    char **ips = (char **)1;
    size_t n = 7;
    struct err err = ERR_INIT;
    assert_int_equal(network_cni_result_ips(json, strlen(json), &ips, &n, &err), -EINVAL);
    if (strcmp(err_msg(&err), want) != 0)
        print_error("got  `%s`\nwant `%s`\n", err_msg(&err), want);
    assert_string_equal(err_msg(&err), want);
    assert_null(ips);
    assert_int_equal(n, 0);
    err_done(&err);
}

static void test_result_ips(void **state UNUSED)
{
    expect_ips(RESULT, "10.88.0.5 fd00::5");
    /* 0.3.1 and 0.4.0 results, as from host-local: "version" in ips is ignored */
    expect_ips("{\"cniVersion\":\"0.3.1\",\"ips\":[{\"version\":\"4\",\"address\":"
               "\"192.168.1.3/24\"}]}",
               "192.168.1.3");
    expect_ips("{\"cniVersion\":\"0.4.0\",\"ips\":[{\"address\":\"::ffff:10.0.0.1/128\"},"
               "{\"address\":\"10.1.2.3/32\"}]}",
               "::ffff:10.0.0.1 10.1.2.3");
    expect_ips("{\"cniVersion\":\"1.0.0\",\"ips\":[]}", "");
    /* Go plugins leave an empty ips out */
    expect_ips("{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"lo\"}]}", "");
}

static void test_result_errors(void **state UNUSED)
{
    expect_result_error("{\"cniVersion\":\"1.0.0\",\n\"ips\":[}",
                        "invalid result: not valid JSON (line 2, column 8)");
    expect_result_error("\"ok\"", "invalid result: not a JSON object");
    expect_result_error("{}", "invalid result: no `ips` array and no `cniVersion`");
    expect_result_error("{\"cniVersion\":\"1.0.0\",\"ips\":{}}",
                        "invalid result: `ips` must be an array, not an object");
    expect_result_error("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.0.0.1/8\"},1]}",
                        "invalid result: ips[1] must be an object, not a number");
    expect_result_error("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"gateway\":\"10.0.0.1\"}]}",
                        "invalid result: ips[0]: `address` is missing");
    expect_result_error("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":null}]}",
                        "invalid result: ips[0]: `address` must be a string, not null");
    static const char *const bad[] = {"10.88.0.5",     "10.88.0.5/33", "10.88.0.5/",
                                      "10.88.0.5/-1",  "fd00::5/129",  "fd00::5%eth0/64",
                                      "10.088.0.5/16", "host/24",      "/24"};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        cleanup_free char *json =
            xasprintf("{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"%s\"}]}", bad[i]);
        cleanup_free char *want =
            xasprintf("invalid result: ips[0]: `%s` is not an address with a prefix length (such "
                      "as 10.88.0.5/16)",
                      bad[i]);
        expect_result_error(json, want);
    }
    const char *old = "invalid result: CNI 0.1/0.2 results (`ip4`, `ip6`) are not supported; use "
                      "cniVersion 0.3.0 or later";
    expect_result_error("{\"cniVersion\":\"0.2.0\",\"ip4\":{\"ip\":\"10.0.0.2/8\"}}", old);
    expect_result_error("{\"cniVersion\":\"0.1.0\"}", old);
    expect_result_error("{\"cniVersion\":\"1.0.0\",\"ips\":[],\"IPs\":[]}",
                        "invalid result: key `ips` appears more than once");
}

static void test_result_too_large(void **state UNUSED)
{
    char **ips;
    size_t n;
    struct err err = ERR_INIT;
    assert_int_equal(network_cni_result_ips("{}", CNI_CONF_MAX_BYTES + 1, &ips, &n, &err), -EFBIG);
    assert_string_equal(err_msg(&err),
                        "invalid result: 1048577 bytes, more than the limit of 1048576");
    err_done(&err);
}

static void expect_message(const char *out, const char *want)
{
    cleanup_free char *m = network_cni_error_message(out, strlen(out));
    if (!want) {
        assert_null(m);
        return;
    }
    assert_non_null(m);
    assert_string_equal(m, want);
}

static void test_error_message(void **state UNUSED)
{
    expect_message("{\"cniVersion\":\"1.0.0\",\"code\":7,\"msg\":\"Invalid Configuration\","
                   "\"details\":\"Network 192.168.0.0/31 too small to allocate from.\"}",
                   "Invalid Configuration: Network 192.168.0.0/31 too small to allocate from. "
                   "(code 7)");
    expect_message("{\"code\":11,\"msg\":\"try again\"}", "try again (code 11)");
    expect_message("{\"code\":11,\"msg\":\"try again\",\"details\":\"\"}", "try again (code 11)");
    expect_message("{\"code\":999,\"msg\":\"\",\"details\":\"plugin specific\"}",
                   "plugin specific (code 999)");
    expect_message("{\"code\":100,\"msg\":\"\"}", "(code 100)");
    expect_message("panic: runtime error: invalid memory address", NULL);
    expect_message("{\"cniVersion\":\"1.0.0\",\"ips\":[]}", NULL);
    expect_message("{\"code\":\"7\",\"msg\":\"x\"}", NULL);
    expect_message("{\"code\":7,\"msg\":{}}", NULL);
    expect_message("", NULL);
}

static void test_error_message_cut(void **state UNUSED)
{
    /* 4095 'x' then a two-byte character across the 4 KiB mark: cut before it */
    char msg[5000];
    memset(msg, 'x', 4095);
    strcpy(msg + 4095, "\xc3\xa9 and more");
    cleanup_free char *out = xasprintf("{\"code\":5,\"msg\":\"%s\"}", msg);
    cleanup_free char *m = network_cni_error_message(out, strlen(out));
    assert_non_null(m);
    assert_int_equal(strlen(m), 4095 + strlen("... (code 5)"));
    assert_string_equal(m + 4095, "... (code 5)");
}

static void test_args_k8s(void **state UNUSED)
{
    char *args;
    struct err err = ERR_INIT;
    assert_int_equal(network_cni_args_k8s("default", "nginx-7c5ddbdf54-x2v9q", "0123abcd",
                                          "6f1c2d3e-aaaa-bbbb-cccc-0123456789ab", &args, &err),
                     0);
    assert_string_equal(args, "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;"
                              "K8S_POD_NAME=nginx-7c5ddbdf54-x2v9q;"
                              "K8S_POD_INFRA_CONTAINER_ID=0123abcd;"
                              "K8S_POD_UID=6f1c2d3e-aaaa-bbbb-cccc-0123456789ab");
    free(args);
    assert_int_equal(network_cni_args_k8s("default", "a;IP=10.0.0.9", "id", "uid", &args, &err),
                     -EINVAL);
    assert_null(args);
    assert_string_equal(err_msg(&err), "CNI_ARGS: K8S_POD_NAME `a;IP=10.0.0.9` contains `;`");
    assert_int_equal(network_cni_args_k8s("ns", "n", "id", "u=1", &args, &err), -EINVAL);
    assert_string_equal(err_msg(&err), "CNI_ARGS: K8S_POD_UID `u=1` contains `=`");
    err_done(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_conflist),
        cmocka_unit_test(test_parse_single_conf),
        cmocka_unit_test(test_parse_disable_check),
        cmocka_unit_test(test_parse_invalid_json),
        cmocka_unit_test(test_parse_too_large),
        cmocka_unit_test(test_parse_version_and_name),
        cmocka_unit_test(test_parse_network_name),
        cmocka_unit_test(test_parse_plugins_errors),
        cmocka_unit_test(test_parse_capabilities),
        cmocka_unit_test(test_parse_plugin_limit),
        cmocka_unit_test(test_parse_repeated_keys),
        cmocka_unit_test(test_pick_first_by_name),
        cmocka_unit_test(test_pick_default_name),
        cmocka_unit_test(test_pick_skips_invalid),
        cmocka_unit_test(test_pick_none_valid),
        cmocka_unit_test(test_pick_no_files),
        cmocka_unit_test(test_stdin_plain),
        cmocka_unit_test(test_stdin_port_mappings),
        cmocka_unit_test(test_stdin_bandwidth),
        cmocka_unit_test(test_stdin_ip_ranges),
        cmocka_unit_test(test_stdin_prev_result),
        cmocka_unit_test(test_stdin_replaces_runtime_keys),
        cmocka_unit_test(test_result_ips),
        cmocka_unit_test(test_result_errors),
        cmocka_unit_test(test_result_too_large),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_error_message_cut),
        cmocka_unit_test(test_args_k8s),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
