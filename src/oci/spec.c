/* The OCI runtime spec (config.json) of a container: the image config merged with the CRI's
 * ContainerConfig the way the kubelet expects, in the pod's namespaces. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/cgroup.h"
#include "oci/oci.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define DEVICES_MAX 4096

static const char *const masked_default[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
};
static const char *const readonly_default[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
};

/* ---- signals ---- */

static const struct {
    const char *name;
    int num;
} signals[] = {
    {"HUP", SIGHUP},     {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
    {"TRAP", SIGTRAP},   {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
    {"FPE", SIGFPE},     {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2},   {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
    {"STKFLT", 16},      {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
    {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
    {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
    {"SYS", SIGSYS},
};

int oci_signal_parse(const char *s)
{
    if (!s || !*s)
        return -EINVAL;
    char *end;
    long v = strtol(s, &end, 10);
    if (!*end)
        return v > 0 && v <= SIGRTMAX ? (int)v : -EINVAL;
    const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (strcasecmp(n, signals[i].name) == 0)
            return signals[i].num;
    bool min = strncasecmp(n, "RTMIN", 5) == 0, max = strncasecmp(n, "RTMAX", 5) == 0;
    if (!min && !max)
        return -EINVAL;
    const char *rest = n + 5;
    long off = 0;
    if (*rest) {
        if ((min && *rest != '+') || (max && *rest != '-'))
            return -EINVAL;
        off = strtol(rest + 1, &end, 10);
        if (*end || off < 0)
            return -EINVAL;
    }
    long num = min ? SIGRTMIN + off : SIGRTMAX - off;
    return num >= SIGRTMIN && num <= SIGRTMAX ? (int)num : -EINVAL;
}

static char *signal_name(int num)
{
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (signals[i].num == num)
            return xasprintf("SIG%s", signals[i].name);
    return xasprintf("SIGRTMIN+%d", num - SIGRTMIN);
}

/* ---- resources ---- */

cJSON *oci_spec_resources(const Runtime__V1__LinuxContainerResources *r, int oom_score_adj_min,
                          int64_t pids_limit)
{
    cJSON *o = cJSON_CreateObject();
    if (r) {
        if (r->cpu_shares || r->cpu_quota || r->cpu_period || *r->cpuset_cpus || *r->cpuset_mems) {
            cJSON *cpu = cJSON_AddObjectToObject(o, "cpu");
            if (r->cpu_shares)
                cJSON_AddNumberToObject(cpu, "shares", (double)r->cpu_shares);
            if (r->cpu_quota)
                cJSON_AddNumberToObject(cpu, "quota", (double)r->cpu_quota);
            if (r->cpu_period)
                cJSON_AddNumberToObject(cpu, "period", (double)r->cpu_period);
            if (*r->cpuset_cpus)
                cJSON_AddStringToObject(cpu, "cpus", r->cpuset_cpus);
            if (*r->cpuset_mems)
                cJSON_AddStringToObject(cpu, "mems", r->cpuset_mems);
        }
        if (r->memory_limit_in_bytes || r->memory_swap_limit_in_bytes) {
            cJSON *mem = cJSON_AddObjectToObject(o, "memory");
            if (r->memory_limit_in_bytes)
                cJSON_AddNumberToObject(mem, "limit", (double)r->memory_limit_in_bytes);
            if (r->memory_swap_limit_in_bytes)
                cJSON_AddNumberToObject(mem, "swap", (double)r->memory_swap_limit_in_bytes);
        }
        if (r->n_hugepage_limits) {
            cJSON *h = cJSON_AddArrayToObject(o, "hugepageLimits");
            for (size_t i = 0; i < r->n_hugepage_limits; i++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "pageSize", r->hugepage_limits[i]->page_size);
                cJSON_AddNumberToObject(e, "limit", (double)r->hugepage_limits[i]->limit);
                cJSON_AddItemToArray(h, e);
            }
        }
        if (r->n_unified) {
            cJSON *u = cJSON_AddObjectToObject(o, "unified");
            for (size_t i = 0; i < r->n_unified; i++)
                cJSON_AddStringToObject(u, r->unified[i]->key, r->unified[i]->value);
        }
    }
    if (pids_limit > 0) {
        cJSON *p = cJSON_AddObjectToObject(o, "pids");
        cJSON_AddNumberToObject(p, "limit", (double)pids_limit);
    }
    return o;
}

/* ---- process ---- */

static cJSON *strings(char *const *v, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    return a;
}

static void append_json_strings(cJSON *dst, const cJSON *src)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, src)
    {
        if (cJSON_IsString(x))
            cJSON_AddItemToArray(dst, cJSON_CreateString(x->valuestring));
    }
}

static int make_args(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc, struct err *err)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *args = cJSON_AddArrayToObject(proc, "args");
    if (c->n_command) {
        for (size_t i = 0; i < c->n_command; i++)
            cJSON_AddItemToArray(args, cJSON_CreateString(c->command[i]));
    } else {
        append_json_strings(args, cJSON_GetObjectItem(ic, "Entrypoint"));
    }
    if (c->n_args) {
        for (size_t i = 0; i < c->n_args; i++)
            cJSON_AddItemToArray(args, cJSON_CreateString(c->args[i]));
    } else if (!c->n_command) {
        append_json_strings(args, cJSON_GetObjectItem(ic, "Cmd"));
    }
    if (cJSON_GetArraySize(args) == 0)
        return err_set(err, -EINVAL,
                       "no command specified: the image has no Entrypoint or Cmd "
                       "and the container config has no command");
    return 0;
}

/* Set key=value in env (an array of "K=V"), replacing an existing key in place. */
static void env_set(cJSON *env, const char *kv, size_t key_len)
{
    cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, env)
    {
        if (strncmp(x->valuestring, kv, key_len) == 0 && x->valuestring[key_len] == '=') {
            cJSON_ReplaceItemInArray(env, i, cJSON_CreateString(kv));
            return;
        }
        i++;
    }
    cJSON_AddItemToArray(env, cJSON_CreateString(kv));
}

static bool env_has(const cJSON *env, const char *key)
{
    size_t n = strlen(key);
    const cJSON *x;
    cJSON_ArrayForEach(x, env)
    {
        if (strncmp(x->valuestring, key, n) == 0 && x->valuestring[n] == '=')
            return true;
    }
    return false;
}

static int make_env(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc, struct err *err)
{
    cJSON *env = cJSON_AddArrayToObject(proc, "env");
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItem(ic, "Env"))
    {
        const char *eq = cJSON_IsString(x) ? strchr(x->valuestring, '=') : NULL;
        if (eq && eq != x->valuestring)
            env_set(env, x->valuestring, (size_t)(eq - x->valuestring));
    }
    if (!env_has(env, "PATH"))
        env_set(env, DEFAULT_PATH, 4);
    if (p->hostname && *p->hostname) {
        cleanup_free char *h = xasprintf("HOSTNAME=%s", p->hostname);
        env_set(env, h, 8);
    }
    if (p->config->tty && !env_has(env, "TERM"))
        env_set(env, "TERM=xterm", 4);
    for (size_t i = 0; i < p->config->n_envs; i++) {
        const Runtime__V1__KeyValue *kv = p->config->envs[i];
        if (!*kv->key)
            continue;
        if (strchr(kv->key, '=') || memchr(kv->value.data, '\0', kv->value.len))
            return err_set(err, -EINVAL,
                           "environment variable `%s` has a '=' in its name or a "
                           "NUL byte in its value",
                           kv->key);
        cleanup_free char *s =
            xasprintf("%s=%.*s", kv->key, (int)kv->value.len, (const char *)kv->value.data);
        env_set(env, s, strlen(kv->key));
    }
    return 0;
}

static int make_user(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc, struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        p->config->linux ? p->config->linux->security_context : NULL;
    const char *image_user = cJSON_GetStringValue(cJSON_GetObjectItem(ic, "User"));
    cleanup_free char *spec = NULL;
    if (sc && sc->run_as_user) {
        if (sc->run_as_user->value < 0 || sc->run_as_user->value > UINT32_MAX - 1)
            return err_set(err, -EINVAL, "run_as_user %lld is out of range",
                           (long long)sc->run_as_user->value);
        spec = xasprintf("%lld", (long long)sc->run_as_user->value);
    } else if (sc && *sc->run_as_username) {
        spec = xstrdup(sc->run_as_username);
    } else {
        spec = xstrdup(image_user ? image_user : "");
    }
    if (sc && sc->run_as_group) {
        if (sc->run_as_group->value < 0 || sc->run_as_group->value > UINT32_MAX - 1)
            return err_set(err, -EINVAL, "run_as_group %lld is out of range",
                           (long long)sc->run_as_group->value);
        char *colon = strchr(spec, ':');
        if (colon)
            *colon = '\0';
        char *with = xasprintf("%s:%lld", *spec ? spec : "0", (long long)sc->run_as_group->value);
        free(spec);
        spec = with;
    }
    size_t n_extra = sc ? sc->n_supplemental_groups : 0;
    cleanup_free uint32_t *extra = xcalloc(n_extra + 1, sizeof(uint32_t));
    for (size_t i = 0; i < n_extra; i++) {
        if (sc->supplemental_groups[i] < 0 || sc->supplemental_groups[i] > UINT32_MAX - 1)
            return err_set(err, -EINVAL, "supplemental group %lld is out of range",
                           (long long)sc->supplemental_groups[i]);
        extra[i] = (uint32_t)sc->supplemental_groups[i];
    }
    struct oci_user u;
    int r = oci_user_resolve(p->rootfs, spec, extra, n_extra, &u, err);
    if (r < 0)
        return r;
    cJSON *user = cJSON_AddObjectToObject(proc, "user");
    cJSON_AddNumberToObject(user, "uid", u.uid);
    cJSON_AddNumberToObject(user, "gid", u.gid);
    if (u.n_additional_gids) {
        cJSON *g = cJSON_AddArrayToObject(user, "additionalGids");
        for (size_t i = 0; i < u.n_additional_gids; i++)
            cJSON_AddItemToArray(g, cJSON_CreateNumber(u.additional_gids[i]));
    }
    cJSON *env = cJSON_GetObjectItem(proc, "env");
    if (!env_has(env, "HOME")) {
        cleanup_free char *home = xasprintf("HOME=%s", u.home);
        env_set(env, home, 4);
    }
    oci_user_done(&u);
    return 0;
}

/* ---- mounts ---- */

static void add_mount(cJSON *mounts, const char *dst, const char *type, const char *src,
                      const char *opts)
{
    /* A later mount on the same destination replaces an earlier one. */
    cJSON *x;
    int i = 0;
    cJSON_ArrayForEach(x, mounts)
    {
        if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(x, "destination")), dst) == 0) {
            cJSON_DeleteItemFromArray(mounts, i);
            break;
        }
        i++;
    }
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "destination", dst);
    cJSON_AddStringToObject(m, "type", type);
    cJSON_AddStringToObject(m, "source", src);
    cJSON *o = cJSON_AddArrayToObject(m, "options");
    cleanup_free char *s = xstrdup(opts);
    char *save = NULL;
    for (char *t = strtok_r(s, ",", &save); t; t = strtok_r(NULL, ",", &save))
        cJSON_AddItemToArray(o, cJSON_CreateString(t));
    cJSON_AddItemToArray(mounts, m);
}

static bool cri_mounts_cover(const Runtime__V1__ContainerConfig *c, const char *dst)
{
    for (size_t i = 0; i < c->n_mounts; i++)
        if (strcmp(c->mounts[i]->container_path, dst) == 0)
            return true;
    return false;
}

static size_t depth(const char *path)
{
    size_t n = 0;
    for (const char *p = path; *p; p++)
        n += *p == '/' && p[1] && p[1] != '/';
    return n;
}

static int by_depth(const void *a, const void *b)
{
    const Runtime__V1__Mount *x = *(Runtime__V1__Mount *const *)a;
    const Runtime__V1__Mount *y = *(Runtime__V1__Mount *const *)b;
    size_t dx = depth(x->container_path), dy = depth(y->container_path);
    return dx < dy ? -1 : dx > dy;
}

static int make_mounts(const struct oci_spec_params *p, cJSON *spec, cJSON *linux_, bool privileged,
                       struct err *err)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *m = cJSON_AddArrayToObject(spec, "mounts");
    add_mount(m, "/proc", "proc", "proc", "nosuid,noexec,nodev");
    add_mount(m, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k");
    add_mount(m, "/dev/pts", "devpts", "devpts",
              "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
    if (p->shm_path)
        add_mount(m, "/dev/shm", "bind", p->shm_path, "rbind,rw");
    else
        add_mount(m, "/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k");
    add_mount(m, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev");
    add_mount(m, "/sys", "sysfs", "sysfs",
              privileged ? "nosuid,noexec,nodev,rw" : "nosuid,noexec,nodev,ro");
    add_mount(m, "/sys/fs/cgroup", "cgroup", "cgroup",
              privileged ? "nosuid,noexec,nodev,relatime,rw" : "nosuid,noexec,nodev,relatime,ro");
    const struct {
        const char *dst, *src;
    } files[] = {{"/etc/hostname", p->hostname_path},
                 {"/etc/hosts", p->hosts_path},
                 {"/etc/resolv.conf", p->resolv_path}};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++)
        if (files[i].src && !cri_mounts_cover(c, files[i].dst))
            add_mount(m, files[i].dst, "bind", files[i].src, "rbind,rw");
    cleanup_free Runtime__V1__Mount **sorted = xcalloc(c->n_mounts + 1, sizeof(*sorted));
    if (c->n_mounts) {
        memcpy(sorted, c->mounts, c->n_mounts * sizeof(*sorted));
        qsort(sorted, c->n_mounts, sizeof(*sorted), by_depth); /* parents first */
    }
    const char *rootfs_prop = NULL;
    for (size_t i = 0; i < c->n_mounts; i++) {
        const Runtime__V1__Mount *cm = sorted[i];
        if (cm->container_path[0] != '/')
            return err_set(err, -EINVAL, "mount destination `%s` is not an absolute path",
                           cm->container_path);
        if (cm->host_path[0] != '/')
            return err_set(err, -EINVAL, "mount source `%s` is not an absolute path",
                           cm->host_path);
        if (cm->recursive_read_only)
            return err_set(err, -EINVAL,
                           "mount %s: recursive read-only mounts are not "
                           "supported by the runtime",
                           cm->container_path);
        struct stat st;
        if (stat(cm->host_path, &st) < 0) {
            int r = errno == ENOENT ? fs_mkdir_p(cm->host_path, 0755) : -errno;
            if (r < 0)
                return err_set(err, r, "mount source %s: %s", cm->host_path, strerror(-r));
        }
        const char *prop = "rprivate";
        if (cm->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_HOST_TO_CONTAINER) {
            prop = "rslave";
            if (!rootfs_prop)
                rootfs_prop = "rslave";
        } else if (cm->propagation == RUNTIME__V1__MOUNT_PROPAGATION__PROPAGATION_BIDIRECTIONAL) {
            prop = "rshared";
            rootfs_prop = "rshared";
        }
        cleanup_free char *opts = xasprintf("rbind,%s,%s", cm->readonly ? "ro" : "rw", prop);
        add_mount(m, cm->container_path, "bind", cm->host_path, opts);
    }
    if (rootfs_prop)
        cJSON_AddStringToObject(linux_, "rootfsPropagation", rootfs_prop);
    return 0;
}

/* ---- devices ---- */

struct dev_ctx {
    cJSON *devices, *rules;
    size_t n;
};

static int add_device(struct dev_ctx *d, const char *host, const char *ctr, const char *perms,
                      bool quiet, struct err *err)
{
    struct stat st;
    if (stat(host, &st) < 0)
        return quiet ? 0 : err_set(err, -errno, "device %s: %s", host, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        DIR *dir = opendir(host);
        if (!dir)
            return quiet ? 0 : err_set(err, -errno, "device %s: %s", host, strerror(errno));
        struct dirent *e;
        int r = 0;
        while (r == 0 && (e = readdir(dir))) {
            if (e->d_name[0] == '.' || e->d_type == DT_LNK)
                continue;
            if (quiet && (strcmp(e->d_name, "pts") == 0 || strcmp(e->d_name, "shm") == 0 ||
                          strcmp(e->d_name, "mqueue") == 0 || strcmp(e->d_name, "fd") == 0))
                continue;
            cleanup_free char *h = xasprintf("%s/%s", host, e->d_name);
            cleanup_free char *c = xasprintf("%s/%s", ctr, e->d_name);
            r = add_device(d, h, c, perms, true, err);
        }
        closedir(dir);
        return r;
    }
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return quiet ? 0 : err_set(err, -EINVAL, "%s is not a device", host);
    if (quiet && (strcmp(ctr, "/dev/console") == 0 || strcmp(ctr, "/dev/ptmx") == 0))
        return 0;
    if (++d->n > DEVICES_MAX)
        return err_set(err, -E2BIG, "more than %d devices", DEVICES_MAX);
    const char *type = S_ISCHR(st.st_mode) ? "c" : "b";
    cJSON *dev = cJSON_CreateObject();
    cJSON_AddStringToObject(dev, "path", ctr);
    cJSON_AddStringToObject(dev, "type", type);
    cJSON_AddNumberToObject(dev, "major", major(st.st_rdev));
    cJSON_AddNumberToObject(dev, "minor", minor(st.st_rdev));
    cJSON_AddNumberToObject(dev, "fileMode", st.st_mode & 07777);
    cJSON_AddNumberToObject(dev, "uid", st.st_uid);
    cJSON_AddNumberToObject(dev, "gid", st.st_gid);
    cJSON_AddItemToArray(d->devices, dev);
    cJSON *rule = cJSON_CreateObject();
    cJSON_AddBoolToObject(rule, "allow", true);
    cJSON_AddStringToObject(rule, "type", type);
    cJSON_AddNumberToObject(rule, "major", major(st.st_rdev));
    cJSON_AddNumberToObject(rule, "minor", minor(st.st_rdev));
    cJSON_AddStringToObject(rule, "access", perms);
    cJSON_AddItemToArray(d->rules, rule);
    return 0;
}

static int make_devices(const struct oci_spec_params *p, cJSON *linux_, cJSON *resources,
                        bool privileged, struct err *err)
{
    struct dev_ctx d = {
        .devices = cJSON_AddArrayToObject(linux_, "devices"),
        .rules = cJSON_AddArrayToObject(resources, "devices"),
    };
    cJSON *deny = cJSON_CreateObject();
    cJSON_AddBoolToObject(deny, "allow", false);
    cJSON_AddStringToObject(deny, "access", "rwm");
    cJSON_AddItemToArray(d.rules, deny);
    if (privileged) {
        int r = add_device(&d, "/dev", "/dev", "rwm", true, err);
        if (r < 0)
            return r;
        cJSON *all = cJSON_CreateObject();
        cJSON_AddBoolToObject(all, "allow", true);
        cJSON_AddStringToObject(all, "access", "rwm");
        cJSON_AddItemToArray(d.rules, all);
    }
    for (size_t i = 0; i < p->config->n_devices; i++) {
        const Runtime__V1__Device *dev = p->config->devices[i];
        const char *perms = *dev->permissions ? dev->permissions : "rwm";
        if (strspn(perms, "rwm") != strlen(perms))
            return err_set(err, -EINVAL, "device %s: permissions `%s` are not a subset of rwm",
                           dev->host_path, perms);
        if (dev->host_path[0] != '/' || dev->container_path[0] != '/')
            return err_set(err, -EINVAL, "device paths must be absolute: `%s` -> `%s`",
                           dev->host_path, dev->container_path);
        int r = add_device(&d, dev->host_path, dev->container_path, perms, false, err);
        if (r < 0)
            return r;
    }
    return 0;
}

/* ---- security ---- */

static int make_seccomp(const struct oci_spec_params *p, char *const *caps, cJSON *linux_,
                        struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = p->config->linux->security_context;
    int type = -1;
    const char *local = NULL;
    if (sc->seccomp) {
        type = (int)sc->seccomp->profile_type;
        local = sc->seccomp->localhost_ref;
    }
    if (type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault) {
        cJSON_AddItemToObject(linux_, "seccomp", oci_seccomp_default_profile(caps));
    } else if (type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost) {
        if (!local || !*local)
            return err_set(err, -EINVAL, "a Localhost seccomp profile needs a path");
        cleanup_free char *path =
            local[0] == '/' ? xstrdup(local) : xasprintf("%s/%s", p->seccomp_profile_root, local);
        cJSON *prof = NULL;
        int r = oci_seccomp_load_profile(path, &prof, err);
        if (r < 0)
            return r;
        cJSON_AddItemToObject(linux_, "seccomp", prof);
    }
    return 0;
}

static void add_paths(cJSON *linux_, const char *key, char *const *v, size_t n,
                      const char *const *def, size_t n_def)
{
    cJSON *a = cJSON_AddArrayToObject(linux_, key);
    if (n) {
        for (size_t i = 0; i < n; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    } else {
        for (size_t i = 0; i < n_def; i++)
            cJSON_AddItemToArray(a, cJSON_CreateString(def[i]));
    }
}

static int make_security(const struct oci_spec_params *p, cJSON *proc, cJSON *linux_,
                         bool privileged, struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        p->config->linux ? p->config->linux->security_context : NULL;
    const Runtime__V1__Capability *cap = sc ? sc->capabilities : NULL;
    char **caps = NULL;
    int r = oci_caps_resolve(cap ? cap->add_capabilities : NULL, cap ? cap->n_add_capabilities : 0,
                             cap ? cap->drop_capabilities : NULL,
                             cap ? cap->n_drop_capabilities : 0, privileged, &caps, err);
    if (r < 0)
        return r;
    cJSON *c = cJSON_AddObjectToObject(proc, "capabilities");
    size_t n = 0;
    while (caps[n])
        n++;
    cJSON_AddItemToObject(c, "bounding", strings(caps, n));
    cJSON_AddItemToObject(c, "effective", strings(caps, n));
    cJSON_AddItemToObject(c, "permitted", strings(caps, n));
    cJSON_AddBoolToObject(proc, "noNewPrivileges", sc && sc->no_new_privs);
    if (sc && !privileged && p->seccomp)
        r = make_seccomp(p, caps, linux_, err);
    oci_strv_free(caps);
    if (r < 0)
        return r;
    if (sc && sc->apparmor && p->apparmor &&
        sc->apparmor->profile_type == RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost)
        cJSON_AddStringToObject(proc, "apparmorProfile", sc->apparmor->localhost_ref);
    if (!privileged) {
        add_paths(linux_, "maskedPaths", sc ? sc->masked_paths : NULL, sc ? sc->n_masked_paths : 0,
                  masked_default, ARRAY_SIZE(masked_default));
        add_paths(linux_, "readonlyPaths", sc ? sc->readonly_paths : NULL,
                  sc ? sc->n_readonly_paths : 0, readonly_default, ARRAY_SIZE(readonly_default));
    }
    return 0;
}

/* ---- the spec ---- */

static void add_ns(cJSON *a, const char *type, const char *path)
{
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "type", type);
    if (path)
        cJSON_AddStringToObject(n, "path", path);
    cJSON_AddItemToArray(a, n);
}

static void make_annotations(const struct oci_spec_params *p, cJSON *spec)
{
    cJSON *a = cJSON_AddObjectToObject(spec, "annotations");
    for (size_t i = 0; i < p->config->n_annotations; i++)
        cJSON_AddStringToObject(a, p->config->annotations[i]->key,
                                p->config->annotations[i]->value);
    const Runtime__V1__PodSandboxMetadata *pm = p->pod_config->metadata;
    const struct {
        const char *k, *v;
    } ours[] = {{"io.kubernetes.cri.container-type", "container"},
                {"io.kubernetes.cri.sandbox-id", p->pod_id},
                {"io.kubernetes.cri.container-name", p->config->metadata->name},
                {"io.kubernetes.cri.image-name", p->image_name ? p->image_name : ""},
                {"io.kubernetes.cri.sandbox-name", pm ? pm->name : ""},
                {"io.kubernetes.cri.sandbox-namespace", pm ? pm->namespace_ : ""},
                {"io.kubernetes.cri.sandbox-uid", pm ? pm->uid : ""}};
    for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(a, ours[i].k);
        cJSON_AddStringToObject(a, ours[i].k, ours[i].v);
    }
}

static int make_process(const struct oci_spec_params *p, const cJSON *ic, cJSON *spec,
                        struct oci_spec_result *ret, struct err *err)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *proc = cJSON_AddObjectToObject(spec, "process");
    cJSON_AddBoolToObject(proc, "terminal", c->tty);
    int r = make_args(p, ic, proc, err);
    if (r < 0)
        return r;
    r = make_env(p, ic, proc, err);
    if (r < 0)
        return r;
    const char *wd = cJSON_GetStringValue(cJSON_GetObjectItem(ic, "WorkingDir"));
    cJSON_AddStringToObject(proc, "cwd", *c->working_dir ? c->working_dir : wd && *wd ? wd : "/");
    r = make_user(p, ic, proc, err);
    if (r < 0)
        return r;
    const Runtime__V1__LinuxContainerResources *res = c->linux ? c->linux->resources : NULL;
    int64_t oom = res ? res->oom_score_adj : 0;
    if (oom < -1000 || oom > 1000)
        return err_set(err, -EINVAL, "oom_score_adj %lld is out of range", (long long)oom);
    if (oom < p->oom_score_adj_min) {
        oom = p->oom_score_adj_min;
        ret->oom_score_clamped = true;
    }
    cJSON_AddNumberToObject(proc, "oomScoreAdj", (double)oom);
    /* CRI-O's 1048576 open files, as far as our own hard limit goes: raising it needs
     * CAP_SYS_RESOURCE, which a node may not give us. */
    struct rlimit own;
    double nofile_max = 1048576;
    if (getrlimit(RLIMIT_NOFILE, &own) == 0 && own.rlim_max != RLIM_INFINITY &&
        (double)own.rlim_max < nofile_max)
        nofile_max = (double)own.rlim_max;
    cJSON *rl = cJSON_AddArrayToObject(proc, "rlimits");
    cJSON *nofile = cJSON_CreateObject();
    cJSON_AddStringToObject(nofile, "type", "RLIMIT_NOFILE");
    cJSON_AddNumberToObject(nofile, "hard", nofile_max);
    cJSON_AddNumberToObject(nofile, "soft", nofile_max);
    cJSON_AddItemToArray(rl, nofile);
    return 0;
}

static int make_linux(const struct oci_spec_params *p, cJSON *spec, bool privileged,
                      struct err *err)
{
    cJSON *linux_ = cJSON_AddObjectToObject(spec, "linux");
    cJSON *ns = cJSON_AddArrayToObject(linux_, "namespaces");
    if (!p->host_pid)
        add_ns(ns, "pid", p->pidns_path);
    if (p->netns_path)
        add_ns(ns, "network", p->netns_path);
    if (p->ipcns_path)
        add_ns(ns, "ipc", p->ipcns_path);
    if (p->utsns_path)
        add_ns(ns, "uts", p->utsns_path);
    add_ns(ns, "mount", NULL);
    if (oci_cgroup_is_v2())
        add_ns(ns, "cgroup", NULL);
    if (p->cgroups_path)
        cJSON_AddStringToObject(linux_, "cgroupsPath", p->cgroups_path);
    const Runtime__V1__LinuxContainerResources *res =
        p->config->linux ? p->config->linux->resources : NULL;
    cJSON *resources = oci_spec_resources(res, p->oom_score_adj_min, p->pids_limit);
    cJSON_AddItemToObject(linux_, "resources", resources);
    int r = make_devices(p, linux_, resources, privileged, err);
    if (r < 0)
        return r;
    const Runtime__V1__LinuxPodSandboxConfig *pl = p->pod_config->linux;
    if (pl && pl->n_sysctls) {
        cJSON *s = cJSON_AddObjectToObject(linux_, "sysctl");
        for (size_t i = 0; i < pl->n_sysctls; i++)
            cJSON_AddStringToObject(s, pl->sysctls[i]->key, pl->sysctls[i]->value);
    }
    return 0;
}

int oci_spec_generate(const struct oci_spec_params *p, struct oci_spec_result *ret, struct err *err)
{
    *ret = (struct oci_spec_result){0};
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *img = p->image_config ? cJSON_Parse(p->image_config) : NULL;
    const cJSON *ic = cJSON_GetObjectItem(img, "config");
    const Runtime__V1__LinuxContainerSecurityContext *sc =
        c->linux ? c->linux->security_context : NULL;
    bool privileged = sc && sc->privileged;
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "ociVersion", "1.0.2");
    cJSON *root = cJSON_AddObjectToObject(spec, "root");
    cJSON_AddStringToObject(root, "path", p->rootfs);
    cJSON_AddBoolToObject(root, "readonly", sc && sc->readonly_rootfs);
    int r = make_process(p, ic, spec, ret, err);
    if (r == 0)
        r = make_linux(p, spec, privileged, err);
    if (r == 0)
        r = make_mounts(p, spec, cJSON_GetObjectItem(spec, "linux"), privileged, err);
    if (r == 0)
        r = make_security(p, cJSON_GetObjectItem(spec, "process"),
                          cJSON_GetObjectItem(spec, "linux"), privileged, err);
    if (r == 0)
        make_annotations(p, spec);
    if (r == 0) {
        const char *ss = cJSON_GetStringValue(cJSON_GetObjectItem(ic, "StopSignal"));
        int signo = oci_signal_parse(ss && *ss ? ss : "SIGTERM");
        if (signo < 0)
            r = err_set(err, -EINVAL, "the image's stop signal `%s` is not a signal", ss);
        else {
            ret->stop_signo = signo;
            ret->stop_signal = signal_name(signo);
        }
    }
    cJSON_Delete(img);
    if (r < 0) {
        cJSON_Delete(spec);
        free(ret->stop_signal);
        *ret = (struct oci_spec_result){0};
        return r;
    }
    ret->spec = spec;
    return 0;
}

void oci_spec_result_done(struct oci_spec_result *r)
{
    cJSON_Delete(r->spec);
    free(r->stop_signal);
    *r = (struct oci_spec_result){0};
}
