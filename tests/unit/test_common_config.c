/* Unit tests for configuration: defaults, TOML application, drop-ins, validation, output. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"

static int apply(struct config *cfg, const char *text, struct err *err)
{
    return config_apply_toml(cfg, "test.conf", text, strlen(text), err);
}

static void test_defaults_are_valid(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(config_validate(&cfg, &err), 0);
    assert_string_equal(cfg.listen, "/run/crib/crib.sock");
    assert_string_equal(cfg.root, "/var/lib/crib");
    assert_string_equal(cfg.default_runtime, "runc");
    assert_string_equal(cfg.cgroup_manager, "cgroupfs");
    assert_int_equal(cfg.grpc_max_recv_msg_size, 16 << 20);
    assert_int_equal(cfg.n_plugin_dirs, 2);
    assert_non_null(config_runtime_find(&cfg, "runc"));
    config_done(&cfg);
}

static void test_values_applied(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg,
                           "[crib]\nroot = \"/tmp/r\"\n"
                           "[crib.api]\nlisten = '/tmp/s.sock'\ngrpc_max_recv_msg_size = 2048\n"
                           "[crib.runtime]\nlog_level = \"debug\"\nlog_to_journald = true\n"
                           "[crib.network]\nplugin_dirs = [\"/a\", \"/b\", \"/c\"]\n",
                           &err),
                     0);
    assert_string_equal(cfg.root, "/tmp/r");
    assert_string_equal(cfg.listen, "/tmp/s.sock");
    assert_int_equal(cfg.grpc_max_recv_msg_size, 2048);
    assert_string_equal(cfg.log_level, "debug");
    assert_true(cfg.log_to_journald);
    assert_int_equal(cfg.n_plugin_dirs, 3);
    assert_string_equal(cfg.plugin_dirs[2], "/c");
    config_done(&cfg);
}

static void test_dotted_keys_work_like_tables(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg, "crib.api.listen = \"/x.sock\"\n", &err), 0);
    assert_string_equal(cfg.listen, "/x.sock");
    config_done(&cfg);
}

static void test_runtimes_table(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg,
                           "[crib.runtime]\ndefault_runtime = \"crun\"\n"
                           "[crib.runtime.runtimes.crun]\nruntime_path = \"/usr/bin/crun\"\n"
                           "[crib.runtime.runtimes.runc]\nruntime_root = \"/run/r\"\n",
                           &err),
                     0);
    assert_int_equal(config_validate(&cfg, &err), 0);
    const struct config_runtime *crun = config_runtime_find(&cfg, "crun");
    assert_non_null(crun);
    assert_string_equal(crun->runtime_path, "/usr/bin/crun");
    assert_string_equal(crun->runtime_root, "/run/crun");
    assert_string_equal(config_runtime_find(&cfg, "runc")->runtime_root, "/run/r");
    assert_int_equal(cfg.n_runtimes, 2);
    config_done(&cfg);
}

static void test_unknown_option_named_with_position(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg, "[crib.api]\n\n  lisen = \"/x\"\n", &err), -EINVAL);
    assert_string_equal(err_msg(&err), "test.conf:3:3: unknown option `crib.api.lisen`");
    err_done(&err);
    assert_int_equal(apply(&cfg, "[cri]\nroot = \"/x\"\n", &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "unknown option `cri`"));
    err_done(&err);
    config_done(&cfg);
}

static void test_wrong_type_refused(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg, "[crib.api]\nlisten = 5\n", &err), -EINVAL);
    assert_string_equal(err_msg(&err), "test.conf:2:10: `listen` must be of type string");
    err_done(&err);
    assert_int_equal(apply(&cfg, "[crib.network]\nplugin_dirs = [\"/a\", 1]\n", &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "array of strings"));
    err_done(&err);
    assert_int_equal(apply(&cfg, "[crib.runtime.runtimes.x]\nruntime_pth = \"/a\"\n", &err),
                     -EINVAL);
    assert_non_null(strstr(err_msg(&err), "unknown option `runtime_pth` in runtime `x`"));
    err_done(&err);
    config_done(&cfg);
}

static void test_syntax_error_has_position(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(apply(&cfg, "[crib]\nroot = \"/x\n", &err), -EINVAL);
    assert_int_equal(strncmp(err_msg(&err), "test.conf:2:", 12), 0);
    err_done(&err);
    config_done(&cfg);
}

static void test_validate_rejects_bad_values(void **state)
{
    static const char *const bad[] = {
        "[crib.runtime]\nlog_level = \"loud\"\n",
        "[crib.runtime]\ncgroup_manager = \"none\"\n",
        "[crib.runtime]\ndefault_runtime = \"kata\"\n",
        "[crib.api]\ngrpc_max_recv_msg_size = 10\n",
        "[crib.api]\nlisten = \"relative.sock\"\n",
        "[crib.runtime.runtimes.runc]\nruntime_type = \"vm\"\n",
        "[crib.stats]\nincluded_pod_metrics = [\"cpu\", \"hugetlb\"]\n",
        "[crib.stats]\nincluded_pod_metrics = [\"all\", \"cpu\"]\n",
        "[crib.stats]\nstats_collection_period = -1\n",
        "[crib.metrics]\nmetrics_port = 70000\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct config cfg;
        struct err err = ERR_INIT;
        config_init(&cfg);
        assert_int_equal(apply(&cfg, bad[i], &err), 0);
        assert_int_equal(config_validate(&cfg, &err), -EINVAL);
        assert_non_null(err.msg);
        err_done(&err);
        config_done(&cfg);
    }
}

static void test_written_toml_round_trips(void **state)
{
    struct config a, b;
    struct err err = ERR_INIT;
    config_init(&a);
    assert_int_equal(apply(&a,
                           "[crib]\nroot = \"/odd \\\"path\\\"\"\n"
                           "[crib.runtime.runtimes.\"my rt\"]\nruntime_path = \"/bin/x\"\n",
                           &err),
                     0);
    struct buf out1 = {0}, out2 = {0};
    config_write_toml(&a, &out1);
    config_init(&b);
    assert_int_equal(config_apply_toml(&b, "dump", (char *)out1.data, out1.len, &err), 0);
    config_write_toml(&b, &out2);
    assert_int_equal(out1.len, out2.len);
    assert_memory_equal(out1.data, out2.data, out1.len);
    assert_string_equal(b.root, "/odd \"path\"");
    assert_non_null(config_runtime_find(&b, "my rt"));
    buf_done(&out1);
    buf_done(&out2);
    config_done(&a);
    config_done(&b);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_dropins_applied_in_name_order(void **state)
{
    char dir[] = "/tmp/crib-config-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char main_path[64], d[128], p[256];
    snprintf(main_path, sizeof(main_path), "%s/crib.conf", dir);
    snprintf(d, sizeof(d), "%s.d", main_path);
    write_file(main_path, "[crib]\nroot = \"/main\"\nrunroot = \"/main-run\"\n");
    assert_int_equal(mkdir(d, 0755), 0);
    snprintf(p, sizeof(p), "%s/20-b.conf", d);
    write_file(p, "[crib]\nroot = \"/b\"\n");
    snprintf(p, sizeof(p), "%s/10-a.conf", d);
    write_file(p, "[crib]\nroot = \"/a\"\nlog_dir = \"/a-logs\"\n");
    snprintf(p, sizeof(p), "%s/30-ignored.txt", d);
    write_file(p, "this is not toml");

    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, main_path, true, &err), 0);
    assert_string_equal(cfg.root, "/b");
    assert_string_equal(cfg.runroot, "/main-run");
    assert_string_equal(cfg.log_dir, "/a-logs");
    config_done(&cfg);

    snprintf(p, sizeof(p), "%s/40-broken.conf", d);
    write_file(p, "[crib\n");
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, main_path, true, &err), -EINVAL);
    assert_non_null(strstr(err_msg(&err), "40-broken.conf:1:"));
    err_done(&err);
    config_done(&cfg);

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_missing_file(void **state)
{
    struct config cfg;
    struct err err = ERR_INIT;
    config_init(&cfg);
    assert_int_equal(config_load(&cfg, "/nonexistent/crib.conf", false, &err), 0);
    assert_int_equal(config_load(&cfg, "/nonexistent/crib.conf", true, &err), -ENOENT);
    assert_non_null(strstr(err_msg(&err), "/nonexistent/crib.conf"));
    err_done(&err);
    config_done(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_valid),
        cmocka_unit_test(test_values_applied),
        cmocka_unit_test(test_dotted_keys_work_like_tables),
        cmocka_unit_test(test_runtimes_table),
        cmocka_unit_test(test_unknown_option_named_with_position),
        cmocka_unit_test(test_wrong_type_refused),
        cmocka_unit_test(test_syntax_error_has_position),
        cmocka_unit_test(test_validate_rejects_bad_values),
        cmocka_unit_test(test_written_toml_round_trips),
        cmocka_unit_test(test_dropins_applied_in_name_order),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
