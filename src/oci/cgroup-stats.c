/* A cgroup's usage from its files: see cgroup-stats.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "oci/cgroup-stats.h"

/* v1 reports "no limit" as the largest page-aligned long: anything this large is none. */
#define NO_LIMIT_ABOVE (UINT64_C(1) << 62)

bool oci_cgroup_stat_value(const char *text, const char *key, uint64_t *ret)
{
    size_t n = strlen(key);
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, key, n) != 0 || l[n] != ' ')
            continue;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(l + n + 1, &end, 10);
        if (errno || end == l + n + 1 || (*end != '\n' && *end != '\0') || l[n + 1] == '-')
            return false;
        *ret = v;
        return true;
    }
    return false;
}

static bool psi_line(const char *l, struct oci_psi_line *p)
{
    char *end;
    const char *a10 = strstr(l, "avg10="), *a60 = strstr(l, "avg60="), *a300 = strstr(l, "avg300="),
               *tot = strstr(l, "total=");
    const char *eol = strchr(l, '\n');
    if (!a10 || !a60 || !a300 || !tot || (eol && (tot > eol || a10 > eol)))
        return false;
    p->avg10 = strtod(a10 + 6, NULL);
    p->avg60 = strtod(a60 + 6, NULL);
    p->avg300 = strtod(a300 + 7, NULL);
    errno = 0;
    p->total_us = strtoull(tot + 6, &end, 10);
    return errno == 0 && end != tot + 6 && tot[6] != '-';
}

bool oci_cgroup_parse_psi(const char *text, struct oci_psi *ret)
{
    *ret = (struct oci_psi){0};
    for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
        if (strncmp(l, "some ", 5) == 0)
            ret->have = psi_line(l + 5, &ret->some);
        else if (strncmp(l, "full ", 5) == 0)
            ret->have_full = psi_line(l + 5, &ret->full);
    }
    ret->have_full = ret->have && ret->have_full;
    return ret->have;
}

static char *read_text(const char *root, const char *ctl, const char *path, const char *file)
{
    cleanup_free char *p =
        xasprintf("%s%s%s%s/%s", root, ctl ? "/" : "", ctl ? ctl : "", path, file);
    struct buf b = {0};
    if (fs_read_file(p, 1 << 16, &b) < 0) {
        buf_done(&b);
        return NULL;
    }
    return buf_steal(&b);
}

/* A file holding one number ("max" for none: 0). */
static bool read_number(const char *root, const char *ctl, const char *path, const char *file,
                        uint64_t *ret)
{
    cleanup_free char *t = read_text(root, ctl, path, file);
    if (!t)
        return false;
    if (strncmp(t, "max", 3) == 0) {
        *ret = 0;
        return true;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(t, &end, 10);
    if (errno || end == t || t[0] == '-')
        return false;
    *ret = v >= NO_LIMIT_ABOVE ? 0 : v;
    return true;
}

static bool stat_file(const char *root, const char *ctl, const char *path, const char *file,
                      const char *const *keys, uint64_t *const *vals, size_t n)
{
    cleanup_free char *t = read_text(root, ctl, path, file);
    if (!t)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!oci_cgroup_stat_value(t, keys[i], vals[i]))
            *vals[i] = 0;
    return true;
}

static void psi_file(const char *root, const char *path, const char *file, struct oci_psi *ret)
{
    cleanup_free char *t = read_text(root, NULL, path, file);
    if (t)
        oci_cgroup_parse_psi(t, ret);
}

static uint64_t minus(uint64_t a, uint64_t b)
{
    return a > b ? a - b : 0;
}

static void read_v2(const char *root, const char *path, struct oci_cgroup_stats *s)
{
    uint64_t usec = 0;
    cleanup_free char *cpu = read_text(root, NULL, path, "cpu.stat");
    if (cpu && oci_cgroup_stat_value(cpu, "usage_usec", &usec)) {
        s->have_cpu = true;
        s->cpu_usage_ns = usec * 1000;
    }
    uint64_t user = 0, sys = 0, throttled = 0;
    if (cpu && oci_cgroup_stat_value(cpu, "user_usec", &user) &&
        oci_cgroup_stat_value(cpu, "system_usec", &sys)) {
        s->have_cpu_split = true;
        s->cpu_user_ns = user * 1000;
        s->cpu_system_ns = sys * 1000;
    }
    if (cpu && oci_cgroup_stat_value(cpu, "nr_periods", &s->cpu_periods) &&
        oci_cgroup_stat_value(cpu, "nr_throttled", &s->cpu_throttled_periods) &&
        oci_cgroup_stat_value(cpu, "throttled_usec", &throttled)) {
        s->have_throttling = true;
        s->cpu_throttled_ns = throttled * 1000;
    }
    uint64_t inactive_file = 0;
    if (read_number(root, NULL, path, "memory.current", &s->mem_usage) &&
        stat_file(root, NULL, path, "memory.stat",
                  (const char *const[]){"anon", "inactive_file", "pgfault", "pgmajfault", "file",
                                        "file_mapped"},
                  (uint64_t *const[]){&s->mem_rss, &inactive_file, &s->mem_pgfault,
                                      &s->mem_pgmajfault, &s->mem_cache, &s->mem_mapped_file},
                  6)) {
        s->have_memory = true;
        s->mem_working_set = minus(s->mem_usage, inactive_file);
        if (!read_number(root, NULL, path, "memory.max", &s->mem_limit))
            s->mem_limit = 0;
    }
    if (read_number(root, NULL, path, "memory.swap.current", &s->swap_usage)) {
        s->have_swap = true;
        if (!read_number(root, NULL, path, "memory.swap.max", &s->swap_limit))
            s->swap_limit = 0;
    }
    cleanup_free char *events = read_text(root, NULL, path, "memory.events");
    s->have_oom = events && oci_cgroup_stat_value(events, "oom_kill", &s->oom_kills);
    s->have_pids = read_number(root, NULL, path, "pids.current", &s->pids);
    if (s->have_pids && !read_number(root, NULL, path, "pids.max", &s->pids_limit))
        s->pids_limit = 0;
    psi_file(root, path, "cpu.pressure", &s->cpu_psi);
    psi_file(root, path, "memory.pressure", &s->memory_psi);
    psi_file(root, path, "io.pressure", &s->io_psi);
}

static void read_v1(const char *root, const char *path, struct oci_cgroup_stats *s)
{
    s->have_cpu = read_number(root, "cpuacct", path, "cpuacct.usage", &s->cpu_usage_ns) ||
                  read_number(root, "cpu,cpuacct", path, "cpuacct.usage", &s->cpu_usage_ns);
    /* cpuacct.stat counts in clock ticks */
    cleanup_free char *ticks = read_text(root, "cpuacct", path, "cpuacct.stat");
    if (!ticks)
        ticks = read_text(root, "cpu,cpuacct", path, "cpuacct.stat");
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t user = 0, sys = 0;
    if (ticks && hz > 0 && oci_cgroup_stat_value(ticks, "user", &user) &&
        oci_cgroup_stat_value(ticks, "system", &sys)) {
        s->have_cpu_split = true;
        s->cpu_user_ns = user * (1000000000ULL / (uint64_t)hz);
        s->cpu_system_ns = sys * (1000000000ULL / (uint64_t)hz);
    }
    cleanup_free char *cpu = read_text(root, "cpu", path, "cpu.stat");
    if (!cpu)
        cpu = read_text(root, "cpu,cpuacct", path, "cpu.stat");
    s->have_throttling = cpu && oci_cgroup_stat_value(cpu, "nr_periods", &s->cpu_periods) &&
                         oci_cgroup_stat_value(cpu, "nr_throttled", &s->cpu_throttled_periods) &&
                         oci_cgroup_stat_value(cpu, "throttled_time", &s->cpu_throttled_ns);
    uint64_t inactive_file = 0;
    if (read_number(root, "memory", path, "memory.usage_in_bytes", &s->mem_usage) &&
        stat_file(root, "memory", path, "memory.stat",
                  (const char *const[]){"total_rss", "total_inactive_file", "total_pgfault",
                                        "total_pgmajfault", "total_cache", "total_mapped_file"},
                  (uint64_t *const[]){&s->mem_rss, &inactive_file, &s->mem_pgfault,
                                      &s->mem_pgmajfault, &s->mem_cache, &s->mem_mapped_file},
                  6)) {
        s->have_memory = true;
        s->mem_working_set = minus(s->mem_usage, inactive_file);
        if (!read_number(root, "memory", path, "memory.limit_in_bytes", &s->mem_limit))
            s->mem_limit = 0;
    }
    /* v1 counts memory and swap together */
    uint64_t memsw = 0;
    if (s->have_memory &&
        read_number(root, "memory", path, "memory.memsw.usage_in_bytes", &memsw)) {
        s->have_swap = true;
        s->swap_usage = minus(memsw, s->mem_usage);
        uint64_t memsw_limit = 0;
        if (read_number(root, "memory", path, "memory.memsw.limit_in_bytes", &memsw_limit) &&
            memsw_limit)
            s->swap_limit = minus(memsw_limit, s->mem_limit);
    }
    cleanup_free char *oom = read_text(root, "memory", path, "memory.oom_control");
    s->have_oom = oom && oci_cgroup_stat_value(oom, "oom_kill", &s->oom_kills);
    s->have_pids = read_number(root, "pids", path, "pids.current", &s->pids);
    if (s->have_pids && !read_number(root, "pids", path, "pids.max", &s->pids_limit))
        s->pids_limit = 0;
}

int oci_cgroup_stats_read(const char *root, const char *path, bool v2, struct oci_cgroup_stats *out)
{
    *out = (struct oci_cgroup_stats){0};
    if (v2)
        read_v2(root, path, out);
    else
        read_v1(root, path, out);
    return out->have_cpu || out->have_memory || out->have_pids ? 0 : -ENOENT;
}
