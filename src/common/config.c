/* Configuration loading: defaults, TOML documents applied in order, validation, TOML output. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/config.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/toml.h"

#define CONFIG_FILE_MAX (1u << 20)

enum opt_type { OPT_STRING, OPT_INT, OPT_BOOL, OPT_STRINGS };

struct opt {
    const char *table; /* "crib", "crib.api", ... */
    const char *key;
    enum opt_type type;
    size_t offset;
    size_t count_offset; /* OPT_STRINGS: where the count lives */
};

#define O(t, k, ty, field)                                                                         \
    {                                                                                              \
        t, #k, ty, offsetof(struct config, field), 0                                               \
    }
static const struct opt opts[] = {
    O("crib", root, OPT_STRING, root),
    O("crib", runroot, OPT_STRING, runroot),
    O("crib", storage_driver, OPT_STRING, storage_driver),
    O("crib", log_dir, OPT_STRING, log_dir),
    O("crib.api", listen, OPT_STRING, listen),
    O("crib.api", grpc_max_recv_msg_size, OPT_INT, grpc_max_recv_msg_size),
    O("crib.api", grpc_max_send_msg_size, OPT_INT, grpc_max_send_msg_size),
    O("crib.api", shutdown_timeout, OPT_INT, shutdown_timeout),
    O("crib.api", events_backlog_max, OPT_INT, events_backlog_max),
    O("crib.api", stream_address, OPT_STRING, stream_address),
    O("crib.api", stream_port, OPT_INT, stream_port),
    O("crib.api", stream_enable_tls, OPT_BOOL, stream_enable_tls),
    O("crib.api", stream_tls_cert, OPT_STRING, stream_tls_cert),
    O("crib.api", stream_tls_key, OPT_STRING, stream_tls_key),
    O("crib.api", stream_token_ttl, OPT_INT, stream_token_ttl),
    O("crib.api", stream_idle_timeout, OPT_INT, stream_idle_timeout),
    O("crib.api", stream_handshake_timeout, OPT_INT, stream_handshake_timeout),
    O("crib.api", stream_max_handshakes, OPT_INT, stream_max_handshakes),
    O("crib.api", stream_max_handshakes_per_peer, OPT_INT, stream_max_handshakes_per_peer),
    O("crib.runtime", log_level, OPT_STRING, log_level),
    O("crib.runtime", default_runtime, OPT_STRING, default_runtime),
    O("crib.runtime", cgroup_manager, OPT_STRING, cgroup_manager),
    O("crib.runtime", log_size_max, OPT_INT, log_size_max),
    O("crib.runtime", log_to_journald, OPT_BOOL, log_to_journald),
    O("crib.runtime", journald_socket, OPT_STRING, journald_socket),
    O("crib.runtime", pids_limit, OPT_INT, pids_limit),
    O("crib.runtime", seccomp_profile_root, OPT_STRING, seccomp_profile_root),
    O("crib.runtime", drain_exec_io_timeout, OPT_INT, drain_exec_io_timeout),
    O("crib.image", registries_conf, OPT_STRING, registries_conf),
    O("crib.image", certs_dir, OPT_STRING, certs_dir),
    O("crib.image", global_auth_file, OPT_STRING, global_auth_file),
    O("crib.image", signature_policy, OPT_STRING, signature_policy),
    O("crib.image", pull_progress_timeout, OPT_INT, pull_progress_timeout),
    O("crib.image", max_parallel_downloads, OPT_INT, max_parallel_downloads),
    O("crib.image", allow_device_nodes, OPT_BOOL, allow_device_nodes),
    O("crib.image", max_image_size, OPT_INT, max_image_size),
    O("crib.image", min_free_space, OPT_INT, min_free_space),
    {"crib.network", "plugin_dirs", OPT_STRINGS, offsetof(struct config, plugin_dirs),
     offsetof(struct config, n_plugin_dirs)},
    O("crib.network", network_dir, OPT_STRING, network_dir),
    O("crib.network", cni_default_network, OPT_STRING, cni_default_network),
    {"crib.stats", "included_pod_metrics", OPT_STRINGS,
     offsetof(struct config, included_pod_metrics),
     offsetof(struct config, n_included_pod_metrics)},
    O("crib.stats", stats_collection_period, OPT_INT, stats_collection_period),
    O("crib.metrics", enable_metrics, OPT_BOOL, enable_metrics),
    O("crib.metrics", metrics_host, OPT_STRING, metrics_host),
    O("crib.metrics", metrics_port, OPT_INT, metrics_port),
};
#undef O

static const char *const runtime_keys[] = {"runtime_path", "runtime_root", "runtime_type"};

static void set_string(char **field, const char *value)
{
    free(*field);
    *field = xstrdup(value);
}

static void set_strings(char ***field, size_t *n, const char *const *values, size_t count)
{
    for (size_t i = 0; i < *n; i++)
        free((*field)[i]);
    free(*field);
    *field = xcalloc(count, sizeof(char *));
    for (size_t i = 0; i < count; i++)
        (*field)[i] = xstrdup(values[i]);
    *n = count;
}

static struct config_runtime *runtime_get(struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_runtimes; i++)
        if (strcmp(cfg->runtimes[i].name, name) == 0)
            return &cfg->runtimes[i];
    cfg->runtimes = xrealloc(cfg->runtimes, (cfg->n_runtimes + 1) * sizeof(*cfg->runtimes));
    struct config_runtime *rt = &cfg->runtimes[cfg->n_runtimes++];
    rt->name = xstrdup(name);
    rt->runtime_path = xstrdup("");
    rt->runtime_root = xasprintf("/run/%s", name);
    rt->runtime_type = xstrdup("oci");
    return rt;
}

void config_init(struct config *cfg)
{
    static const char *const plugin_dirs[] = {"/opt/cni/bin", "/usr/lib/cni"};
    static const char *const all_metrics[] = {"all"};
    memset(cfg, 0, sizeof(*cfg));
    cfg->root = xstrdup("/var/lib/crib");
    cfg->runroot = xstrdup("/run/crib");
    cfg->storage_driver = xstrdup("overlay");
    cfg->log_dir = xstrdup("/var/log/crib/pods");
    cfg->listen = xstrdup("/run/crib/crib.sock");
    cfg->grpc_max_recv_msg_size = 16 << 20;
    cfg->grpc_max_send_msg_size = 16 << 20;
    cfg->shutdown_timeout = 10;
    cfg->events_backlog_max = 1000;
    cfg->stream_address = xstrdup("127.0.0.1");
    cfg->stream_tls_cert = xstrdup("");
    cfg->stream_tls_key = xstrdup("");
    cfg->stream_token_ttl = 60;
    cfg->stream_idle_timeout = 4 * 3600;
    cfg->stream_handshake_timeout = 30;
    cfg->stream_max_handshakes = 256;
    cfg->stream_max_handshakes_per_peer = 64;
    cfg->log_level = xstrdup("info");
    cfg->default_runtime = xstrdup("runc");
    cfg->cgroup_manager = xstrdup("cgroupfs");
    cfg->log_size_max = -1;
    cfg->log_to_journald = false;
    cfg->journald_socket = xstrdup("/run/systemd/journal/socket");
    cfg->pids_limit = 0;
    cfg->seccomp_profile_root = xstrdup("/var/lib/kubelet/seccomp");
    cfg->drain_exec_io_timeout = 1;
    set_strings(&cfg->plugin_dirs, &cfg->n_plugin_dirs, plugin_dirs, ARRAY_SIZE(plugin_dirs));
    set_strings(&cfg->included_pod_metrics, &cfg->n_included_pod_metrics, all_metrics,
                ARRAY_SIZE(all_metrics));
    cfg->stats_collection_period = 0;
    cfg->enable_metrics = false;
    cfg->metrics_host = xstrdup("127.0.0.1");
    cfg->metrics_port = 9090;
    cfg->registries_conf = xstrdup("/etc/containers/registries.conf");
    cfg->certs_dir = xstrdup("/etc/containers/certs.d");
    cfg->global_auth_file = xstrdup("");
    cfg->signature_policy = xstrdup("/etc/containers/policy.json");
    cfg->pull_progress_timeout = 60;
    cfg->max_parallel_downloads = 3;
    cfg->allow_device_nodes = true;
    cfg->max_image_size = INT64_C(64) << 30;
    cfg->min_free_space = INT64_C(256) << 20;
    cfg->network_dir = xstrdup("/etc/cni/net.d/");
    cfg->cni_default_network = xstrdup("");
    runtime_get(cfg, "runc");
}

void config_done(struct config *cfg)
{
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        void *field = (char *)cfg + opts[i].offset;
        if (opts[i].type == OPT_STRING) {
            free(*(char **)field);
        } else if (opts[i].type == OPT_STRINGS) {
            size_t *n = (size_t *)(void *)((char *)cfg + opts[i].count_offset);
            set_strings((char ***)field, n, NULL, 0);
            free(*(char ***)field);
        }
    }
    for (size_t i = 0; i < cfg->n_runtimes; i++) {
        free(cfg->runtimes[i].name);
        free(cfg->runtimes[i].runtime_path);
        free(cfg->runtimes[i].runtime_root);
        free(cfg->runtimes[i].runtime_type);
    }
    free(cfg->runtimes);
    memset(cfg, 0, sizeof(*cfg));
}

static int fail_at(struct err *err, const char *name, const struct toml_value *v, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static int fail_at(struct err *err, const char *name, const struct toml_value *v, const char *fmt,
                   ...)
{
    va_list ap;
    va_start(ap, fmt);
    cleanup_free char *what = xvasprintf(fmt, ap);
    va_end(ap);
    return err_set(err, -EINVAL, "%s:%u:%u: %s", name, v->line, v->col, what);
}

static int apply_opt(struct config *cfg, const char *name, const struct opt *o,
                     const struct toml_value *v, struct err *err)
{
    static const enum toml_type want[] = {TOML_STRING, TOML_INT, TOML_BOOL, TOML_ARRAY};
    void *field = (char *)cfg + o->offset;
    if (v->type != want[o->type])
        return fail_at(err, name, v, "`%s` must be of type %s", o->key,
                       toml_type_name(want[o->type]));
    switch (o->type) {
    case OPT_STRING:
        set_string(field, v->u.s);
        break;
    case OPT_INT:
        *(int64_t *)field = v->u.i;
        break;
    case OPT_BOOL:
        *(bool *)field = v->u.b;
        break;
    case OPT_STRINGS: {
        cleanup_free const char **items = xcalloc(v->u.arr.n, sizeof(char *));
        for (size_t i = 0; i < v->u.arr.n; i++) {
            if (v->u.arr.items[i]->type != TOML_STRING)
                return fail_at(err, name, v->u.arr.items[i], "`%s` must be an array of strings",
                               o->key);
            items[i] = v->u.arr.items[i]->u.s;
        }
        size_t *n = (size_t *)(void *)((char *)cfg + o->count_offset);
        set_strings(field, n, items, v->u.arr.n);
        break;
    }
    }
    return 0;
}

static int apply_runtime(struct config *cfg, const char *name, const struct toml_kv *kv,
                         struct err *err)
{
    if (kv->val->type != TOML_TABLE)
        return fail_at(err, name, kv->val, "runtime `%s` must be a table", kv->key);
    if (kv->key[0] == '\0')
        return fail_at(err, name, kv->val, "a runtime needs a name");
    struct config_runtime *rt = runtime_get(cfg, kv->key);
    char **fields[] = {&rt->runtime_path, &rt->runtime_root, &rt->runtime_type};
    const struct toml_value *t = kv->val;
    for (size_t i = 0; i < t->u.tab.n; i++) {
        const struct toml_kv *f = &t->u.tab.items[i];
        size_t k;
        for (k = 0; k < ARRAY_SIZE(runtime_keys); k++)
            if (strcmp(f->key, runtime_keys[k]) == 0)
                break;
        if (k == ARRAY_SIZE(runtime_keys))
            return fail_at(err, name, f->val, "unknown option `%s` in runtime `%s`", f->key,
                           kv->key);
        if (f->val->type != TOML_STRING)
            return fail_at(err, name, f->val, "`%s` must be of type string", f->key);
        set_string(fields[k], f->val->u.s);
    }
    return 0;
}

static int apply_table(struct config *cfg, const char *name, const char *path,
                       const struct toml_value *t, struct err *err);

static int apply_kv(struct config *cfg, const char *name, const char *path,
                    const struct toml_kv *kv, struct err *err)
{
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
        if (strcmp(opts[i].table, path) == 0 && strcmp(opts[i].key, kv->key) == 0)
            return apply_opt(cfg, name, &opts[i], kv->val, err);

    cleanup_free char *sub = xasprintf("%s%s%s", path, *path ? "." : "", kv->key);
    if (strcmp(sub, "crib.runtime.runtimes") == 0 && kv->val->type == TOML_TABLE) {
        for (size_t i = 0; i < kv->val->u.tab.n; i++) {
            int r = apply_runtime(cfg, name, &kv->val->u.tab.items[i], err);
            if (r < 0)
                return r;
        }
        return 0;
    }
    static const char *const tables[] = {"crib",         "crib.api",   "crib.runtime", "crib.image",
                                         "crib.network", "crib.stats", "crib.metrics"};
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
        if (strcmp(tables[i], sub) == 0 && kv->val->type == TOML_TABLE)
            return apply_table(cfg, name, sub, kv->val, err);
    return err_set(err, -EINVAL, "%s:%u:%u: unknown option `%s`", name, kv->line, kv->col, sub);
}

static int apply_table(struct config *cfg, const char *name, const char *path,
                       const struct toml_value *t, struct err *err)
{
    for (size_t i = 0; i < t->u.tab.n; i++) {
        int r = apply_kv(cfg, name, path, &t->u.tab.items[i], err);
        if (r < 0)
            return r;
    }
    return 0;
}

int config_apply_toml(struct config *cfg, const char *name, const char *text, size_t len,
                      struct err *err)
{
    struct toml_error terr;
    struct toml_value *root = NULL;
    if (toml_parse(text, len, &root, &terr) < 0)
        return err_set(err, -EINVAL, "%s:%u:%u: %s", name, terr.line, terr.col, terr.msg);
    int r = apply_table(cfg, name, "", root, err);
    toml_value_free(root);
    return r;
}

static int load_file(struct config *cfg, const char *path, bool required, struct err *err)
{
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT && !required)
            return 0;
        return err_set(err, -errno, "open %s: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return err_set(err, -errno, "stat %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return err_set(err, -EISDIR, "%s is a directory", path);
    /* Read to EOF (not st_size): /dev/null and pipes are fine as configuration. */
    struct buf text = {0};
    for (;;) {
        buf_reserve(&text, 65536);
        ssize_t n = read(fd, text.data + text.len, 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            buf_done(&text);
            return err_set(err, -errno, "read %s: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        text.len += (size_t)n;
        if (text.len > CONFIG_FILE_MAX) {
            buf_done(&text);
            return err_set(err, -EFBIG, "%s: larger than %u bytes", path, CONFIG_FILE_MAX);
        }
    }
    log_debug("config: loading %s", path);
    int r = config_apply_toml(cfg, path, (const char *)text.data, text.len, err);
    buf_done(&text);
    return r;
}

static int conf_filter(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return d->d_name[0] != '.' && n > 5 && strcmp(d->d_name + n - 5, ".conf") == 0;
}

int config_load(struct config *cfg, const char *path, bool required, struct err *err)
{
    int r = load_file(cfg, path, required, err);
    if (r < 0)
        return r;
    cleanup_free char *dir = xasprintf("%s.d", path);
    struct dirent **names = NULL;
    int n = scandir(dir, &names, conf_filter, alphasort);
    if (n < 0)
        return errno == ENOENT || errno == ENOTDIR
                   ? 0
                   : err_set(err, -errno, "scan %s: %s", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        if (r == 0) {
            cleanup_free char *p = xasprintf("%s/%s", dir, names[i]->d_name);
            r = load_file(cfg, p, true, err);
        }
        free(names[i]);
    }
    free(names);
    return r;
}

const struct config_runtime *config_runtime_find(const struct config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_runtimes; i++)
        if (strcmp(cfg->runtimes[i].name, name) == 0)
            return &cfg->runtimes[i];
    return NULL;
}

static int need_absolute(const char *key, const char *value, struct err *err)
{
    if (value[0] != '/')
        return err_set(err, -EINVAL, "`%s` must be an absolute path, not `%s`", key, value);
    return 0;
}

/* The names that must be one of a few. */
/* included_pod_metrics: the sets pod-metrics.c knows, or "all" alone. */
static int check_metric_sets(const struct config *cfg, struct err *err)
{
    static const char *const sets[] = {"cpu", "memory",  "network",  "disk",
                                       "oom", "process", "pressure", "spec"};
    for (size_t i = 0; i < cfg->n_included_pod_metrics; i++) {
        const char *name = cfg->included_pod_metrics[i];
        bool known = false;
        for (size_t k = 0; k < ARRAY_SIZE(sets) && !known; k++)
            known = strcmp(sets[k], name) == 0;
        if (strcmp(name, "all") == 0 && cfg->n_included_pod_metrics > 1)
            return err_set(err, -EINVAL, "`included_pod_metrics`: `all` must be alone");
        if (!known && strcmp(name, "all") != 0)
            return err_set(err, -EINVAL,
                           "`included_pod_metrics`: `%s` is not one of all, cpu, memory, network, "
                           "disk, oom, process, pressure, spec",
                           name);
    }
    return 0;
}

static int check_names(const struct config *cfg, struct err *err)
{
    enum log_level level;
    if (log_level_parse(cfg->log_level, &level) < 0)
        return err_set(err, -EINVAL,
                       "`log_level` must be one of error, warn, info, debug, trace; not `%s`",
                       cfg->log_level);
    if (strcmp(cfg->cgroup_manager, "cgroupfs") != 0 && strcmp(cfg->cgroup_manager, "systemd") != 0)
        return err_set(err, -EINVAL, "`cgroup_manager` must be cgroupfs or systemd, not `%s`",
                       cfg->cgroup_manager);
    if (!config_runtime_find(cfg, cfg->default_runtime))
        return err_set(err, -EINVAL, "`default_runtime` `%s` is not in the runtimes table",
                       cfg->default_runtime);
    for (size_t i = 0; i < cfg->n_runtimes; i++)
        if (strcmp(cfg->runtimes[i].runtime_type, "oci") != 0)
            return err_set(err, -EINVAL, "runtime `%s`: runtime_type must be oci, not `%s`",
                           cfg->runtimes[i].name, cfg->runtimes[i].runtime_type);
    return check_metric_sets(cfg, err);
}

/* The numbers out of range, in order: the first one found is reported. */
static int check_ranges(const struct config *cfg, struct err *err)
{
    const struct {
        bool bad;
        const char *msg;
    } checks[] = {
        {cfg->grpc_max_recv_msg_size < 1024 || cfg->grpc_max_recv_msg_size > (1 << 30) ||
             cfg->grpc_max_send_msg_size < 1024 || cfg->grpc_max_send_msg_size > (1 << 30),
         "grpc message size limits must be between 1 KiB and 1 GiB"},
        {cfg->pull_progress_timeout < 0 || cfg->max_parallel_downloads < 1 ||
             cfg->max_parallel_downloads > 64,
         "`pull_progress_timeout` must be >= 0 and `max_parallel_downloads` between 1 and 64"},
        {cfg->log_size_max >= 0 && cfg->log_size_max < 8192,
         "`log_size_max` must be negative (no limit) or at least 8192 bytes"},
        {cfg->events_backlog_max < 1 || cfg->events_backlog_max > 1000000,
         "`events_backlog_max` must be between 1 and 1000000"},
        {cfg->max_image_size < 1 || cfg->min_free_space < 0,
         "`max_image_size` must be at least 1 byte and `min_free_space` >= 0"},
        {cfg->shutdown_timeout < 0 || cfg->shutdown_timeout > 3600,
         "`shutdown_timeout` must be between 0 and 3600 seconds"},
        {cfg->stream_port < 0 || cfg->stream_port > 65535,
         "`stream_port` must be between 0 and 65535"},
        {cfg->stream_token_ttl < 1 || cfg->stream_token_ttl > 86400,
         "`stream_token_ttl` must be between 1 and 86400 seconds"},
        {cfg->stream_idle_timeout < 0, "`stream_idle_timeout` must be >= 0"},
        {cfg->metrics_port < 0 || cfg->metrics_port > 65535,
         "`metrics_port` must be between 0 and 65535"},
        {cfg->stats_collection_period < 0 || cfg->stats_collection_period > 3600,
         "`stats_collection_period` must be between 0 and 3600 seconds"},
        {cfg->drain_exec_io_timeout < 1 || cfg->drain_exec_io_timeout > 3600,
         "`drain_exec_io_timeout` must be between 1 and 3600 seconds"},
        {cfg->stream_handshake_timeout < 1 || cfg->stream_handshake_timeout > 3600,
         "`stream_handshake_timeout` must be between 1 and 3600 seconds"},
        {cfg->stream_max_handshakes < 1 || cfg->stream_max_handshakes > 65536 ||
             cfg->stream_max_handshakes_per_peer < 1 ||
             cfg->stream_max_handshakes_per_peer > cfg->stream_max_handshakes,
         "`stream_max_handshakes` must be between 1 and 65536 and "
         "`stream_max_handshakes_per_peer` between 1 and it"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
        if (checks[i].bad)
            return err_set(err, -EINVAL, "%s", checks[i].msg);
    return 0;
}

static int check_paths(const struct config *cfg, struct err *err)
{
    const char *paths[][2] = {{"root", cfg->root},
                              {"runroot", cfg->runroot},
                              {"log_dir", cfg->log_dir},
                              {"listen", cfg->listen},
                              {"network_dir", cfg->network_dir}};
    for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
        int r = need_absolute(paths[i][0], paths[i][1], err);
        if (r < 0)
            return r;
    }
    return 0;
}

int config_validate(const struct config *cfg, struct err *err)
{
    int r;
    if ((r = check_names(cfg, err)) < 0 || (r = check_ranges(cfg, err)) < 0)
        return r;
    if (cfg->stream_enable_tls && (!*cfg->stream_tls_cert || !*cfg->stream_tls_key))
        return err_set(err, -EINVAL,
                       "`stream_enable_tls` needs `stream_tls_cert` and `stream_tls_key`");
    return check_paths(cfg, err);
}

static void put_value(struct buf *out, const struct config *cfg, const struct opt *o)
{
    const void *field = (const char *)cfg + o->offset;
    cleanup_free char *q = NULL;
    switch (o->type) {
    case OPT_STRING:
        q = toml_quote(*(char *const *)field);
        buf_printf(out, "%s = %s\n", o->key, q);
        break;
    case OPT_INT:
        buf_printf(out, "%s = %lld\n", o->key, (long long)*(const int64_t *)field);
        break;
    case OPT_BOOL:
        buf_printf(out, "%s = %s\n", o->key, *(const bool *)field ? "true" : "false");
        break;
    case OPT_STRINGS: {
        size_t n = *(const size_t *)(const void *)((const char *)cfg + o->count_offset);
        char *const *items = *(char **const *)field;
        buf_printf(out, "%s = [", o->key);
        for (size_t i = 0; i < n; i++) {
            cleanup_free char *s = toml_quote(items[i]);
            buf_printf(out, "%s%s", i ? ", " : "", s);
        }
        buf_puts(out, "]\n");
        break;
    }
    }
}

void config_write_toml(const struct config *cfg, struct buf *out)
{
    const char *table = NULL;
    for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
        if (!table || strcmp(table, opts[i].table) != 0) {
            if (table && strcmp(table, "crib.runtime") == 0) {
                for (size_t k = 0; k < cfg->n_runtimes; k++) {
                    const struct config_runtime *rt = &cfg->runtimes[k];
                    cleanup_free char *n = toml_quote(rt->name);
                    cleanup_free char *p = toml_quote(rt->runtime_path);
                    cleanup_free char *r = toml_quote(rt->runtime_root);
                    cleanup_free char *t = toml_quote(rt->runtime_type);
                    buf_printf(out,
                               "\n[crib.runtime.runtimes.%s]\nruntime_path = %s\n"
                               "runtime_root = %s\nruntime_type = %s\n",
                               n, p, r, t);
                }
            }
            table = opts[i].table;
            buf_printf(out, "%s[%s]\n", i ? "\n" : "", table);
        }
        put_value(out, cfg, &opts[i]);
    }
}
