/* The OCI runtime spec (config.json) of a container: the image config merged with the CRI's
 * ContainerConfig the way the kubelet expects, in the pod's namespaces. The process (args, env,
 * user, limits, capabilities, seccomp) and the namespaces are here; the mounts and devices are in
 * spec-mounts.c. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/resource.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/cgroup.h"
#include "oci/oci.h"
#include "oci/spec-internal.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define NOFILE_DEFAULT 1048576.0 /* CRI-O's */

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

static const Runtime__V1__LinuxContainerSecurityContext *
security_context(const Runtime__V1__ContainerConfig *c)
{
    return c->linux ? c->linux->security_context : NULL;
}

/* ---- signals ---- */

static const struct {
    const char *name;
    int num;
} signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},     {"QUIT", SIGQUIT}, {"ILL", SIGILL},
    {"TRAP", SIGTRAP}, {"ABRT", SIGABRT},   {"IOT", SIGIOT},   {"BUS", SIGBUS},
    {"FPE", SIGFPE},   {"KILL", SIGKILL},   {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},
    {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM}, {"TERM", SIGTERM},
    {"STKFLT", 16},    {"CHLD", SIGCHLD},   {"CLD", SIGCHLD},  {"CONT", SIGCONT},
    {"STOP", SIGSTOP}, {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},
    {"URG", SIGURG},   {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM},
    {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},     {"POLL", SIGPOLL},
    {"PWR", SIGPWR},   {"SYS", SIGSYS},
};

/* Digits only (no sign, no blanks), at most 4 of them. */
static int small_number(const char *s)
{
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 4 || s[n])
        return -1;
    return atoi(s);
}

/* Numbers are 1 to 31 and glibc's real-time range: 32 and 33 belong to the C library's
 * threads. RTMIN+n and RTMAX-n count from glibc's SIGRTMIN and SIGRTMAX, as Docker does. */
int oci_signal_parse(const char *s)
{
    if (!s || !*s)
        return -EINVAL;
    int v = small_number(s);
    if (v >= 0)
        return (v >= 1 && v <= SIGSYS) || (v >= SIGRTMIN && v <= SIGRTMAX) ? v : -EINVAL;
    const char *n = strncasecmp(s, "SIG", 3) == 0 ? s + 3 : s;
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (strcasecmp(n, signals[i].name) == 0)
            return signals[i].num;
    bool min = strncasecmp(n, "RTMIN", 5) == 0, max = strncasecmp(n, "RTMAX", 5) == 0;
    if (!min && !max)
        return -EINVAL;
    int off = 0;
    if (n[5]) {
        if (n[5] != (min ? '+' : '-') || (off = small_number(n + 6)) < 0)
            return -EINVAL;
    }
    int num = min ? SIGRTMIN + off : SIGRTMAX - off;
    return num >= SIGRTMIN && num <= SIGRTMAX ? num : -EINVAL;
}

/* The name oci_signal_parse reads back: "SIGTERM", "SIGRTMIN+3". */
static char *signal_name(int num)
{
    for (size_t i = 0; i < ARRAY_SIZE(signals); i++)
        if (signals[i].num == num)
            return xasprintf("SIG%s", signals[i].name);
    if (num == SIGRTMIN)
        return xstrdup("SIGRTMIN");
    return xasprintf("SIGRTMIN+%d", num - SIGRTMIN);
}

/* The CRI's own stop signal by its enum name: "SIGNAL_SIGQUIT", "SIGNAL_SIGRTMINPLUS3",
 * "SIGNAL_SIGRTMAXMINUS2". */
static int cri_signal(Runtime__V1__Signal s)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&runtime__v1__signal__descriptor, (int)s);
    if (!v || strncmp(v->name, "SIGNAL_", 7) != 0)
        return -EINVAL;
    const char *n = v->name + 7, *plus = strstr(n, "PLUS"), *minus = strstr(n, "MINUS");
    char name[32];
    if (plus)
        snprintf(name, sizeof(name), "%.*s+%s", (int)(plus - n), n, plus + 4);
    else if (minus)
        snprintf(name, sizeof(name), "%.*s-%s", (int)(minus - n), n, minus + 5);
    else
        snprintf(name, sizeof(name), "%s", n);
    return oci_signal_parse(name);
}

/* ContainerConfig.stop_signal (Kubernetes' ContainerStopSignals) when set, else the image's
 * STOPSIGNAL, else SIGTERM. */
static int stop_signal(const Runtime__V1__ContainerConfig *c, const cJSON *ic,
                       struct oci_spec_result *ret, struct err *err)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ic, "StopSignal"));
    int signo;
    if (c->stop_signal != RUNTIME__V1__SIGNAL__SIGNAL_RUNTIME_DEFAULT) {
        if ((signo = cri_signal(c->stop_signal)) < 0)
            return err_set(err, -EINVAL, "stop signal %d is not a signal", (int)c->stop_signal);
    } else if ((signo = oci_signal_parse(nonempty(s) ? s : "SIGTERM")) < 0) {
        return err_set(err, -EINVAL, "the image's stop signal `%s` is not a signal", s);
    }
    ret->stop_signo = signo;
    ret->stop_signal = signal_name(signo);
    return 0;
}

/* ---- resources ---- */

static void add_cpu(cJSON *o, const Runtime__V1__LinuxContainerResources *r)
{
    if (!r->cpu_shares && !r->cpu_quota && !r->cpu_period && !nonempty(r->cpuset_cpus) &&
        !nonempty(r->cpuset_mems))
        return;
    cJSON *cpu = cJSON_AddObjectToObject(o, "cpu");
    if (r->cpu_shares)
        cJSON_AddNumberToObject(cpu, "shares", (double)r->cpu_shares);
    if (r->cpu_quota)
        cJSON_AddNumberToObject(cpu, "quota", (double)r->cpu_quota);
    if (r->cpu_period)
        cJSON_AddNumberToObject(cpu, "period", (double)r->cpu_period);
    if (nonempty(r->cpuset_cpus))
        cJSON_AddStringToObject(cpu, "cpus", r->cpuset_cpus);
    if (nonempty(r->cpuset_mems))
        cJSON_AddStringToObject(cpu, "mems", r->cpuset_mems);
}

/* oom_score_adj is the process's (process.oomScoreAdj), not a cgroup's: it is not here. */
int oci_oom_score_adj_self(void)
{
    struct buf b = {0};
    int v = 0;
    if (fs_read_file("/proc/self/oom_score_adj", 64, &b) == 0)
        v = atoi((const char *)b.data);
    buf_done(&b);
    return v;
}

/* A unified key names a controller's file in the container's own cgroup: "memory.high", never a
 * path, nor a cgroup.* file (which would move processes or change the tree, not limit them). */
static int check_unified(const Runtime__V1__LinuxContainerResources__UnifiedEntry *u,
                         struct err *err)
{
    const char *k = u->key, *dot = strchr(k, '.');
    size_t n = strlen(k);
    if (n == 0 || n > 64 || !dot || dot == k || !dot[1] ||
        strspn(k, "abcdefghijklmnopqrstuvwxyz0123456789_.") != n || strstr(k, ".."))
        return err_set(err, -EINVAL,
                       "unified cgroup setting `%s`: not a controller's file name "
                       "(CONTROLLER.FILE, as memory.high)",
                       k);
    if (strncmp(k, "cgroup.", 7) == 0)
        return err_set(err, -EINVAL,
                       "unified cgroup setting `%s`: cgroup.* files are not "
                       "resources",
                       k);
    if (strlen(u->value) > 4096 || strchr(u->value, '\n'))
        return err_set(err, -EINVAL,
                       "unified cgroup setting `%s`: its value must be one line "
                       "of at most 4096 bytes",
                       k);
    return 0;
}

int oci_resources_check(const Runtime__V1__LinuxContainerResources *r, bool v2, struct err *err)
{
    if (!r)
        return 0;
    if (r->cpu_shares < 0 || r->memory_limit_in_bytes < 0 || r->cpu_quota < -1)
        return err_set(err, -EINVAL,
                       "negative resources: cpu_shares %lld, cpu_quota %lld, "
                       "memory_limit_in_bytes %lld",
                       (long long)r->cpu_shares, (long long)r->cpu_quota,
                       (long long)r->memory_limit_in_bytes);
    if (r->cpu_period && (r->cpu_period < 1000 || r->cpu_period > 1000000))
        return err_set(err, -EINVAL, "cpu_period %lld µs is outside 1000..1000000",
                       (long long)r->cpu_period);
    if (r->cpu_quota > 0 && r->cpu_quota < 1000)
        return err_set(err, -EINVAL, "cpu_quota %lld µs is below the kernel's 1000",
                       (long long)r->cpu_quota);
    if (r->memory_swap_limit_in_bytes > 0 && r->memory_limit_in_bytes > 0 &&
        r->memory_swap_limit_in_bytes < r->memory_limit_in_bytes)
        return err_set(err, -EINVAL,
                       "memory_swap_limit_in_bytes %lld (memory and swap) is below "
                       "memory_limit_in_bytes %lld",
                       (long long)r->memory_swap_limit_in_bytes,
                       (long long)r->memory_limit_in_bytes);
    for (size_t i = 0; i < r->n_unified; i++)
        if (check_unified(r->unified[i], err) < 0)
            return err->code;
    if (r->n_unified && !v2)
        return err_set(err, -EINVAL,
                       "unified cgroup settings (%s, ...) need cgroup v2, and this node has v1",
                       r->unified[0]->key);
    return 0;
}

cJSON *oci_spec_resources(const Runtime__V1__LinuxContainerResources *r, int oom_score_adj_min,
                          int64_t pids_limit)
{
    cJSON *o = cJSON_CreateObject();
    if (r) {
        add_cpu(o, r);
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

/* ---- process: args, env, cwd ---- */

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

/* The kubelet's rules (and Docker's): command replaces the Entrypoint, args replace the Cmd,
 * and a command given without args drops the image's Cmd too. */
static int make_args(const Runtime__V1__ContainerConfig *c, const cJSON *ic, cJSON *proc,
                     struct err *err)
{
    cJSON *args = cJSON_AddArrayToObject(proc, "args");
    for (size_t i = 0; i < c->n_command; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(c->command[i]));
    if (!c->n_command)
        append_json_strings(args, cJSON_GetObjectItemCaseSensitive(ic, "Entrypoint"));
    for (size_t i = 0; i < c->n_args; i++)
        cJSON_AddItemToArray(args, cJSON_CreateString(c->args[i]));
    if (!c->n_command && !c->n_args)
        append_json_strings(args, cJSON_GetObjectItemCaseSensitive(ic, "Cmd"));
    if (cJSON_GetArraySize(args) == 0)
        return err_set(err, -EINVAL,
                       "no command specified: the image has no Entrypoint or Cmd "
                       "and the container config has no command");
    return 0;
}

static cJSON *env_find(cJSON *env, const char *key, size_t key_len)
{
    cJSON *x;
    cJSON_ArrayForEach(x, env)
    {
        if (strncmp(x->valuestring, key, key_len) == 0 && x->valuestring[key_len] == '=')
            return x;
    }
    return NULL;
}

static bool env_has(cJSON *env, const char *key)
{
    return env_find(env, key, strlen(key)) != NULL;
}

/* The environment is merged from lists of any length (an image's Env, the CRI's envs): the
 * candidates are collected in order, then sorted by key, so that finding each key's first
 * place and last value costs O(n log n), not a scan of the list per variable. */
struct env_item {
    char *kv; /* "K=V" */
    size_t key_len;
    size_t seq;     /* place among the candidates */
    bool if_absent; /* a default: dropped when an earlier candidate has the key */
};

struct env_merge {
    struct env_item *v;
    size_t n, cap;
};

static void env_add(struct env_merge *m, char *kv, size_t key_len, bool if_absent)
{
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
    }
    m->v[m->n] = (struct env_item){kv, key_len, m->n, if_absent};
    m->n++;
}

static void env_merge_done(struct env_merge *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->v[i].kv);
    free(m->v);
}

static int cmp_key(const struct env_item *x, const struct env_item *y)
{
    int c = memcmp(x->kv, y->kv, x->key_len < y->key_len ? x->key_len : y->key_len);
    if (c == 0 && x->key_len != y->key_len)
        c = x->key_len < y->key_len ? -1 : 1;
    return c;
}

static int cmp_env_item(const void *a, const void *b)
{
    const struct env_item *x = a, *y = b;
    int c = cmp_key(x, y);
    return c ? c : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Each key once, at the place of its first candidate, with the value of its last. */
static void env_merge_into(struct env_merge *m, cJSON *env)
{
    cleanup_free const char **at = xcalloc(m->n ? m->n : 1, sizeof(char *));
    qsort(m->v, m->n, sizeof(*m->v), cmp_env_item);
    for (size_t i = 0, j; i < m->n; i = j) {
        const struct env_item *last = &m->v[i];
        for (j = i + 1; j < m->n && cmp_key(&m->v[j], &m->v[i]) == 0; j++)
            if (!m->v[j].if_absent)
                last = &m->v[j];
        at[m->v[i].seq] = last->kv;
    }
    for (size_t i = 0; i < m->n; i++)
        if (at[i])
            cJSON_AddItemToArray(env, cJSON_CreateString(at[i]));
}

static void env_add_image(struct env_merge *m, const cJSON *image_env)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, image_env)
    {
        const char *eq = cJSON_IsString(x) ? strchr(x->valuestring, '=') : NULL;
        if (eq && eq != x->valuestring)
            env_add(m, xstrdup(x->valuestring), (size_t)(eq - x->valuestring), false);
    }
}

static int env_add_cri(struct env_merge *m, const Runtime__V1__ContainerConfig *c, struct err *err)
{
    for (size_t i = 0; i < c->n_envs; i++) {
        const Runtime__V1__KeyValue *kv = c->envs[i];
        if (!nonempty(kv->key))
            continue;
        if (strchr(kv->key, '=') || (kv->value.len && memchr(kv->value.data, '\0', kv->value.len)))
            return err_set(err, -EINVAL,
                           "environment variable `%s` has a '=' in its name or a "
                           "NUL byte in its value",
                           kv->key);
        env_add(m,
                xasprintf("%s=%.*s", kv->key, (int)kv->value.len,
                          kv->value.len ? (const char *)kv->value.data : ""),
                strlen(kv->key), false);
    }
    return 0;
}

/* The image's Env, then ours (PATH if missing, HOSTNAME, TERM for a tty), then the CRI's, each
 * replacing the same key in place. HOME is added with the user (make_user). */
static int make_env(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc, struct err *err)
{
    cJSON *env = cJSON_AddArrayToObject(proc, "env");
    struct env_merge m = {0};
    env_add_image(&m, cJSON_GetObjectItemCaseSensitive(ic, "Env"));
    env_add(&m, xstrdup(DEFAULT_PATH), 4, true);
    if (nonempty(p->hostname))
        env_add(&m, xasprintf("HOSTNAME=%s", p->hostname), 8, false);
    if (p->config->tty)
        env_add(&m, xstrdup("TERM=xterm"), 4, true);
    int r = env_add_cri(&m, p->config, err);
    if (r == 0)
        env_merge_into(&m, env);
    env_merge_done(&m);
    return r;
}

/* ---- process: user ---- */

static int check_id(int64_t v, const char *what, struct err *err)
{
    if (v < 0 || v > (int64_t)UINT32_MAX - 1)
        return err_set(err, -EINVAL, "%s %lld is out of range", what, (long long)v);
    return 0;
}

/* The user spec for oci_user_resolve: run_as_user, else run_as_username, else the image's
 * User; run_as_group replaces the group of any of them. */
static int user_spec(const Runtime__V1__LinuxContainerSecurityContext *sc, const cJSON *ic,
                     char **ret, struct err *err)
{
    const char *image_user = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ic, "User"));
    cleanup_free char *spec = NULL;
    if (sc && sc->run_as_user) {
        if (check_id(sc->run_as_user->value, "run_as_user", err) < 0)
            return err->code;
        spec = xasprintf("%lld", (long long)sc->run_as_user->value);
    } else if (sc && nonempty(sc->run_as_username)) {
        spec = xstrdup(sc->run_as_username);
    } else {
        spec = xstrdup(image_user ? image_user : "");
    }
    if (sc && sc->run_as_group && !sc->run_as_user && !nonempty(sc->run_as_username))
        return err_set(err, -EINVAL, "run_as_group needs run_as_user or run_as_username");
    if (sc && sc->run_as_group) {
        if (check_id(sc->run_as_group->value, "run_as_group", err) < 0)
            return err->code;
        spec[strcspn(spec, ":")] = '\0';
        char *with = xasprintf("%s:%lld", *spec ? spec : "0", (long long)sc->run_as_group->value);
        free(spec);
        spec = with;
    }
    *ret = TAKE_PTR(spec);
    return 0;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void add_gids(cJSON *user, uint32_t gid, const uint32_t *gids, size_t n)
{
    cJSON *a = NULL;
    for (size_t i = 0; i < n; i++) {
        if (gids[i] == gid)
            continue;
        if (!a)
            a = cJSON_AddArrayToObject(user, "additionalGids");
        cJSON_AddItemToArray(a, cJSON_CreateNumber(gids[i]));
    }
}

static int make_user(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc, struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = security_context(p->config);
    cleanup_free char *spec = NULL;
    if (user_spec(sc, ic, &spec, err) < 0)
        return err->code;
    size_t n_extra = sc ? sc->n_supplemental_groups : 0;
    cleanup_free uint32_t *extra = xcalloc(n_extra + 1, sizeof(uint32_t));
    for (size_t i = 0; i < n_extra; i++) {
        if (check_id(sc->supplemental_groups[i], "supplemental group", err) < 0)
            return err->code;
        extra[i] = (uint32_t)sc->supplemental_groups[i];
    }
    struct oci_user u;
    int r = oci_user_resolve(p->rootfs, spec, extra, n_extra, &u, err);
    if (r < 0)
        return r;
    cJSON *user = cJSON_AddObjectToObject(proc, "user");
    cJSON_AddNumberToObject(user, "uid", u.uid);
    cJSON_AddNumberToObject(user, "gid", u.gid);
    if (sc && sc->supplemental_groups_policy == RUNTIME__V1__SUPPLEMENTAL_GROUPS_POLICY__Strict) {
        /* Strict: only the groups the pod asks for, not the image's /etc/group memberships */
        if (n_extra) {
            qsort(extra, n_extra, sizeof(uint32_t), cmp_u32);
            size_t k = 0;
            for (size_t i = 0; i < n_extra; i++)
                if (k == 0 || extra[k - 1] != extra[i])
                    extra[k++] = extra[i];
            n_extra = k;
        }
        add_gids(user, u.gid, extra, n_extra);
    } else {
        add_gids(user, u.gid, u.additional_gids, u.n_additional_gids);
    }
    cJSON *env = cJSON_GetObjectItemCaseSensitive(proc, "env");
    if (!env_has(env, "HOME")) {
        cleanup_free char *home = xasprintf("HOME=%s", u.home);
        cJSON_AddItemToArray(env, cJSON_CreateString(home));
    }
    oci_user_done(&u);
    return 0;
}

/* ---- process: limits ---- */

/* RLIMIT_NOFILE at CRI-O's 1048576. runc raises a hard limit above its own only with
 * CAP_SYS_RESOURCE, which it has when our bounding set has it, and never above fs.nr_open;
 * asking for more fails the start, so the value is trimmed to what runc can set. */
static double nofile_limit(void)
{
    double limit = NOFILE_DEFAULT;
    struct rlimit own;
    if (cap_get_bound(CAP_SYS_RESOURCE) != 1 && getrlimit(RLIMIT_NOFILE, &own) == 0 &&
        own.rlim_max != RLIM_INFINITY && (double)own.rlim_max < limit)
        limit = (double)own.rlim_max;
    struct buf b = {0};
    if (fs_read_file("/proc/sys/fs/nr_open", 32, &b) == 0) {
        double nr_open = strtod((const char *)b.data, NULL);
        if (nr_open > 0 && nr_open < limit)
            limit = nr_open;
    }
    buf_done(&b);
    return limit;
}

static int make_oom_and_rlimits(const struct oci_spec_params *p, cJSON *proc,
                                struct oci_spec_result *ret, struct err *err)
{
    const Runtime__V1__LinuxContainerResources *res =
        p->config->linux ? p->config->linux->resources : NULL;
    int64_t oom = res ? res->oom_score_adj : 0;
    if (oom < -1000 || oom > 1000)
        return err_set(err, -EINVAL, "oom_score_adj %lld is out of range", (long long)oom);
    if (oom < p->oom_score_adj_min) {
        /* the daemon cannot go below its own value without CAP_SYS_RESOURCE */
        oom = p->oom_score_adj_min;
        ret->oom_score_clamped = true;
    }
    cJSON_AddNumberToObject(proc, "oomScoreAdj", (double)oom);
    double nofile = nofile_limit();
    cJSON *rl = cJSON_CreateObject();
    cJSON_AddStringToObject(rl, "type", "RLIMIT_NOFILE");
    cJSON_AddNumberToObject(rl, "hard", nofile);
    cJSON_AddNumberToObject(rl, "soft", nofile);
    cJSON_AddItemToArray(cJSON_AddArrayToObject(proc, "rlimits"), rl);
    return 0;
}

/* ---- security: capabilities, seccomp, AppArmor, masked paths ---- */

/* The deprecated string fields, read in one place. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
static const char *deprecated_seccomp(const Runtime__V1__LinuxContainerSecurityContext *sc)
{
    return sc->seccomp_profile_path;
}
#pragma GCC diagnostic pop

static int make_caps(const struct oci_spec_params *p, bool privileged, cJSON *proc, char ***ret,
                     struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = security_context(p->config);
    const Runtime__V1__Capability *cap = sc ? sc->capabilities : NULL;
    char **caps = NULL;
    int r = oci_caps_resolve(cap ? cap->add_capabilities : NULL, cap ? cap->n_add_capabilities : 0,
                             cap ? cap->drop_capabilities : NULL,
                             cap ? cap->n_drop_capabilities : 0, privileged, &caps, err);
    if (r < 0)
        return r;
    size_t n = 0;
    while (caps[n])
        n++;
    /* inheritable and ambient stay empty, as containerd and CRI-O leave them: a process of a
     * non-root user thus has no capabilities left after its execve, only the bounding set (the
     * usual Kubernetes behaviour; add_ambient_capabilities is not supported) */
    cJSON *c = cJSON_AddObjectToObject(proc, "capabilities");
    cJSON_AddItemToObject(c, "bounding", strings(caps, n));
    cJSON_AddItemToObject(c, "effective", strings(caps, n));
    cJSON_AddItemToObject(c, "permitted", strings(caps, n));
    *ret = caps;
    return 0;
}

static int load_local_seccomp(const struct oci_spec_params *p, const char *ref, cJSON *linux_,
                              struct err *err)
{
    if (!nonempty(ref))
        return err_set(err, -EINVAL, "a Localhost seccomp profile needs a path");
    if (ref[0] != '/' && !nonempty(p->seccomp_profile_root))
        return err_set(err, -EINVAL,
                       "seccomp profile `%s` is relative and no seccomp profile root is set", ref);
    cleanup_free char *path =
        ref[0] == '/' ? xstrdup(ref) : xasprintf("%s/%s", p->seccomp_profile_root, ref);
    cJSON *prof = NULL;
    int r = oci_seccomp_load_profile(path, &prof, err);
    if (r < 0)
        return r;
    cJSON_AddItemToObject(linux_, "seccomp", prof);
    return 0;
}

/* From the SecurityProfile, or else the deprecated string ("runtime/default", "docker/default",
 * "localhost/<path>", "unconfined", ""). Unconfined or nothing: no filter. */
static int make_seccomp(const struct oci_spec_params *p, char *const *caps, cJSON *linux_,
                        struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = security_context(p->config);
    if (!sc)
        return 0;
    if (sc->seccomp) {
        switch (sc->seccomp->profile_type) {
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__RuntimeDefault:
            cJSON_AddItemToObject(linux_, "seccomp", oci_seccomp_default_profile(caps));
            return 0;
        case RUNTIME__V1__SECURITY_PROFILE__PROFILE_TYPE__Localhost:
            return load_local_seccomp(p, sc->seccomp->localhost_ref, linux_, err);
        default:
            return 0;
        }
    }
    const char *old = deprecated_seccomp(sc);
    if (!nonempty(old) || strcmp(old, "unconfined") == 0)
        return 0;
    if (strcmp(old, "runtime/default") == 0 || strcmp(old, "docker/default") == 0) {
        cJSON_AddItemToObject(linux_, "seccomp", oci_seccomp_default_profile(caps));
        return 0;
    }
    if (strncmp(old, "localhost/", 10) == 0)
        return load_local_seccomp(p, old + 10, linux_, err);
    return err_set(err, -EINVAL, "unknown seccomp profile `%s`", old);
}

static void add_paths(cJSON *linux_, const char *key, char *const *v, size_t n,
                      const char *const *def, size_t n_def)
{
    cJSON *a = cJSON_AddArrayToObject(linux_, key);
    for (size_t i = 0; i < (n ? n : n_def); i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(n ? v[i] : def[i]));
}

static int make_security(const struct oci_spec_params *p, bool privileged, cJSON *proc,
                         cJSON *linux_, struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = security_context(p->config);
    char **caps = NULL;
    int r = make_caps(p, privileged, proc, &caps, err);
    if (r < 0)
        return r;
    cJSON_AddBoolToObject(proc, "noNewPrivileges", sc && sc->no_new_privs);
    if (!privileged && p->seccomp)
        r = make_seccomp(p, caps, linux_, err);
    oci_strv_free(caps);
    if (r < 0)
        return r;
    r = oci_lsm_apply(&p->lsm, sc, proc, linux_, err);
    if (r < 0)
        return r;
    if (!privileged) {
        add_paths(linux_, "maskedPaths", sc ? sc->masked_paths : NULL, sc ? sc->n_masked_paths : 0,
                  masked_default, ARRAY_SIZE(masked_default));
        add_paths(linux_, "readonlyPaths", sc ? sc->readonly_paths : NULL,
                  sc ? sc->n_readonly_paths : 0, readonly_default, ARRAY_SIZE(readonly_default));
    }
    return 0;
}

/* ---- linux ---- */

static void add_ns(cJSON *a, const char *type, const char *path)
{
    cJSON *n = cJSON_CreateObject();
    cJSON_AddStringToObject(n, "type", type);
    if (path)
        cJSON_AddStringToObject(n, "path", path);
    cJSON_AddItemToArray(a, n);
}

/* No "hostname": the uts namespace is the pod's (joined) or the host's, never a new one, and
 * the runtime refuses a hostname without a uts namespace of the container's own. */
static int make_linux(const struct oci_spec_params *p, bool privileged, cJSON *linux_,
                      struct err *err)
{
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
    /* on v1 a cgroup namespace would show the container a root it cannot use */
    if (oci_cgroup_is_v2())
        add_ns(ns, "cgroup", NULL);
    if (p->cgroups_path)
        cJSON_AddStringToObject(linux_, "cgroupsPath", p->cgroups_path);
    const Runtime__V1__LinuxContainerResources *res =
        p->config->linux ? p->config->linux->resources : NULL;
    cJSON *resources = oci_spec_resources(res, p->oom_score_adj_min, p->pids_limit);
    cJSON_AddItemToObject(linux_, "resources", resources);
    int r = oci_spec_devices_make(p, privileged, linux_, resources, err);
    if (r < 0)
        return r;
    const Runtime__V1__LinuxPodSandboxConfig *pl = p->pod_config ? p->pod_config->linux : NULL;
    if (pl && pl->n_sysctls) {
        cJSON *s = cJSON_AddObjectToObject(linux_, "sysctl");
        for (size_t i = 0; i < pl->n_sysctls; i++)
            cJSON_AddStringToObject(s, pl->sysctls[i]->key, pl->sysctls[i]->value);
    }
    return 0;
}

/* ---- the spec ---- */

static void make_annotations(const struct oci_spec_params *p, cJSON *spec)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON *a = cJSON_AddObjectToObject(spec, "annotations");
    for (size_t i = 0; i < c->n_annotations; i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(a, c->annotations[i]->key);
        cJSON_AddStringToObject(a, c->annotations[i]->key, c->annotations[i]->value);
    }
    const Runtime__V1__PodSandboxMetadata *pm = p->pod_config ? p->pod_config->metadata : NULL;
    const struct {
        const char *k, *v;
    } ours[] = {
        {"io.kubernetes.cri.container-type", "container"},
        {"io.kubernetes.cri.sandbox-id", p->pod_id},
        {"io.kubernetes.cri.container-name", c->metadata ? c->metadata->name : NULL},
        {"io.kubernetes.cri.image-name", p->image_name},
        {"io.kubernetes.cri.sandbox-name", pm ? pm->name : NULL},
        {"io.kubernetes.cri.sandbox-namespace", pm ? pm->namespace_ : NULL},
        {"io.kubernetes.cri.sandbox-uid", pm ? pm->uid : NULL},
    };
    for (size_t i = 0; i < ARRAY_SIZE(ours); i++) {
        cJSON_DeleteItemFromObjectCaseSensitive(a, ours[i].k);
        cJSON_AddStringToObject(a, ours[i].k, ours[i].v ? ours[i].v : "");
    }
}

static int make_process(const struct oci_spec_params *p, const cJSON *ic, cJSON *proc,
                        struct oci_spec_result *ret, struct err *err)
{
    const Runtime__V1__ContainerConfig *c = p->config;
    cJSON_AddBoolToObject(proc, "terminal", c->tty);
    int r = make_args(c, ic, proc, err);
    if (r == 0)
        r = make_env(p, ic, proc, err);
    if (r < 0)
        return r;
    const char *wd = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ic, "WorkingDir"));
    cJSON_AddStringToObject(proc, "cwd",
                            nonempty(c->working_dir) ? c->working_dir
                            : nonempty(wd)           ? wd
                                                     : "/");
    r = make_user(p, ic, proc, err);
    if (r == 0)
        r = make_oom_and_rlimits(p, proc, ret, err);
    return r;
}

static int parse_image_config(const char *text, cJSON **ret, struct err *err)
{
    *ret = NULL;
    if (!text)
        return 0;
    *ret = cJSON_Parse(text);
    if (!*ret || !cJSON_IsObject(*ret)) {
        cJSON_Delete(*ret);
        *ret = NULL;
        return err_set(err, -EINVAL, "the image config is not a JSON object");
    }
    return 0;
}

int oci_spec_generate(const struct oci_spec_params *p, struct oci_spec_result *ret, struct err *err)
{
    const Runtime__V1__LinuxContainerSecurityContext *sc = security_context(p->config);
    bool privileged = sc && sc->privileged;
    cJSON *img;
    *ret = (struct oci_spec_result){0};
    int r = parse_image_config(p->image_config, &img, err);
    if (r < 0)
        return r;
    const cJSON *ic = cJSON_GetObjectItemCaseSensitive(img, "config");

    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "ociVersion", "1.0.2");
    cJSON *root = cJSON_AddObjectToObject(spec, "root");
    cJSON_AddStringToObject(root, "path", p->rootfs);
    cJSON_AddBoolToObject(root, "readonly", sc && sc->readonly_rootfs);
    cJSON *proc = cJSON_AddObjectToObject(spec, "process");
    cJSON *linux_ = cJSON_CreateObject();
    r = make_process(p, ic, proc, ret, err);
    if (r == 0)
        r = oci_spec_mounts_make(p, privileged, spec, linux_, err);
    cJSON_AddItemToObject(spec, "linux", linux_);
    if (r == 0)
        r = make_linux(p, privileged, linux_, err);
    if (r == 0)
        r = make_security(p, privileged, proc, linux_, err);
    if (r == 0)
        r = stop_signal(p->config, ic, ret, err);
    if (r == 0)
        make_annotations(p, spec);
    cJSON_Delete(img);
    if (r < 0) {
        cJSON_Delete(spec);
        oci_spec_result_done(ret);
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
