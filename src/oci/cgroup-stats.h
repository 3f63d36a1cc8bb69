/* A cgroup's usage as the CRI's stats report it, read from its files: v1 (cpuacct, memory and pids
 * hierarchies) or v2 (one directory). Plain file reads: callers run them on the thread pool. */
#ifndef CRIB_OCI_CGROUP_STATS_H
#define CRIB_OCI_CGROUP_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Pressure stall information of one resource: "some" and "full" lines. */
struct oci_psi_line {
    double avg10, avg60, avg300;
    uint64_t total_us;
};
struct oci_psi {
    bool have, have_full;
    struct oci_psi_line some, full;
};

struct oci_cgroup_stats {
    bool have_cpu;
    uint64_t cpu_usage_ns;
    bool have_cpu_split; /* user and system time */
    uint64_t cpu_user_ns, cpu_system_ns;
    bool have_throttling; /* the CFS bandwidth counters */
    uint64_t cpu_periods, cpu_throttled_periods, cpu_throttled_ns;
    bool have_memory;
    uint64_t mem_usage, mem_working_set, mem_rss, mem_pgfault, mem_pgmajfault;
    uint64_t mem_cache, mem_mapped_file; /* page cache (file), mapped files */
    uint64_t mem_limit;                  /* 0: none */
    bool have_oom;
    uint64_t oom_kills; /* processes the OOM killer ended in the cgroup */
    bool have_swap;
    uint64_t swap_usage;
    uint64_t swap_limit; /* 0: none */
    bool have_pids;
    uint64_t pids;
    uint64_t pids_limit;                        /* 0: none */
    struct oci_psi cpu_psi, memory_psi, io_psi; /* v2 only */
};

/* Read the cgroup at path (below each hierarchy's root) under root ("/sys/fs/cgroup", or a
 * fixture's), v2 or v1 as told. What cannot be read stays unset (have_* false); -ENOENT when
 * nothing at all can (the cgroup is gone). */
int oci_cgroup_stats_read(const char *root, const char *path, bool v2,
                          struct oci_cgroup_stats *out);

/* The value of "KEY VALUE" lines (memory.stat, cpu.stat); false when key is missing. */
bool oci_cgroup_stat_value(const char *text, const char *key, uint64_t *ret);
/* A PSI file ("some avg10=... avg60=... avg300=... total=...", and "full ..."). */
bool oci_cgroup_parse_psi(const char *text, struct oci_psi *ret);

#endif
