/* ListMetricDescriptors, ListPodSandboxMetrics and StreamPodSandboxMetrics: the cAdvisor metrics
 * a kubelet serves on /metrics/cadvisor when it takes them from the runtime, answered from the
 * sample the stats calls take (stats.c). The kubelet reads the descriptors once and passes every
 * value on unconverted: values are in the unit the name says (seconds truncated, bytes), and each
 * metric has exactly its descriptor's labels. */
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "cri/stats.h"

/* The sets included_pod_metrics names; last_seen is always there. */
enum group { G_ALWAYS, G_CPU, G_MEMORY, G_NETWORK, G_DISK, G_OOM, G_PROCESS, G_PRESSURE, G_SPEC };
static const char *const group_names[] = {
    [G_CPU] = "cpu", [G_MEMORY] = "memory",   [G_NETWORK] = "network",   [G_DISK] = "disk",
    [G_OOM] = "oom", [G_PROCESS] = "process", [G_PRESSURE] = "pressure", [G_SPEC] = "spec",
};

enum metric {
    M_LAST_SEEN,
    M_CPU_USAGE,
    M_CPU_USER,
    M_CPU_SYSTEM,
    M_CFS_PERIODS,
    M_CFS_THROTTLED_PERIODS,
    M_CFS_THROTTLED_SECONDS,
    M_MEM_USAGE,
    M_MEM_WORKING_SET,
    M_MEM_RSS,
    M_MEM_CACHE,
    M_MEM_MAPPED_FILE,
    M_MEM_SWAP,
    M_MEM_FAILURES,
    M_NET_RX_BYTES,
    M_NET_RX_PACKETS,
    M_NET_RX_DROPPED,
    M_NET_RX_ERRORS,
    M_NET_TX_BYTES,
    M_NET_TX_PACKETS,
    M_NET_TX_DROPPED,
    M_NET_TX_ERRORS,
    M_FS_USAGE,
    M_FS_LIMIT,
    M_FS_INODES_TOTAL,
    M_FS_INODES_FREE,
    M_OOM_EVENTS,
    M_PROCESSES,
    M_THREADS_MAX,
    M_CPU_WAITING,
    M_CPU_STALLED,
    M_MEM_WAITING,
    M_MEM_STALLED,
    M_IO_WAITING,
    M_IO_STALLED,
    M_SPEC_CPU_PERIOD,
    M_SPEC_CPU_QUOTA,
    M_SPEC_CPU_SHARES,
    M_SPEC_MEMORY_LIMIT,
    M_START_TIME,
    N_METRICS
};

struct desc {
    const char *name, *help;
    enum group group;
    bool gauge;
    const char *extra[2]; /* label keys after the base ones */
};

static const struct desc descs[N_METRICS] = {
    [M_LAST_SEEN] = {"container_last_seen",
                     "When the container was last seen (unix seconds).",
                     G_ALWAYS,
                     true,
                     {NULL}},
    [M_CPU_USAGE] =
        {"container_cpu_usage_seconds_total", "CPU time used, in seconds.", G_CPU, false, {"cpu"}},
    [M_CPU_USER] = {"container_cpu_user_seconds_total",
                    "CPU time used in user mode, in seconds.",
                    G_CPU,
                    false,
                    {NULL}},
    [M_CPU_SYSTEM] = {"container_cpu_system_seconds_total",
                      "CPU time used in kernel mode, in seconds.",
                      G_CPU,
                      false,
                      {NULL}},
    [M_CFS_PERIODS] = {"container_cpu_cfs_periods_total",
                       "CFS enforcement periods elapsed.",
                       G_CPU,
                       false,
                       {NULL}},
    [M_CFS_THROTTLED_PERIODS] = {"container_cpu_cfs_throttled_periods_total",
                                 "CFS enforcement periods in which the container was throttled.",
                                 G_CPU,
                                 false,
                                 {NULL}},
    [M_CFS_THROTTLED_SECONDS] = {"container_cpu_cfs_throttled_seconds_total",
                                 "Time the container was throttled, in seconds.",
                                 G_CPU,
                                 false,
                                 {NULL}},
    [M_MEM_USAGE] = {"container_memory_usage_bytes",
                     "Memory in use, page cache included.",
                     G_MEMORY,
                     true,
                     {NULL}},
    [M_MEM_WORKING_SET] = {"container_memory_working_set_bytes",
                           "Memory in use minus inactive page cache.",
                           G_MEMORY,
                           true,
                           {NULL}},
    [M_MEM_RSS] =
        {"container_memory_rss", "Anonymous memory (RSS), in bytes.", G_MEMORY, true, {NULL}},
    [M_MEM_CACHE] = {"container_memory_cache", "Page cache, in bytes.", G_MEMORY, true, {NULL}},
    [M_MEM_MAPPED_FILE] =
        {"container_memory_mapped_file", "Memory-mapped files, in bytes.", G_MEMORY, true, {NULL}},
    [M_MEM_SWAP] = {"container_memory_swap", "Swap in use, in bytes.", G_MEMORY, true, {NULL}},
    [M_MEM_FAILURES] = {"container_memory_failures_total",
                        "Page faults.",
                        G_MEMORY,
                        false,
                        {"failure_type", "scope"}},
    [M_NET_RX_BYTES] = {"container_network_receive_bytes_total",
                        "Bytes received.",
                        G_NETWORK,
                        false,
                        {"interface"}},
    [M_NET_RX_PACKETS] = {"container_network_receive_packets_total",
                          "Packets received.",
                          G_NETWORK,
                          false,
                          {"interface"}},
    [M_NET_RX_DROPPED] = {"container_network_receive_packets_dropped_total",
                          "Packets dropped on receive.",
                          G_NETWORK,
                          false,
                          {"interface"}},
    [M_NET_RX_ERRORS] = {"container_network_receive_errors_total",
                         "Errors on receive.",
                         G_NETWORK,
                         false,
                         {"interface"}},
    [M_NET_TX_BYTES] =
        {"container_network_transmit_bytes_total", "Bytes sent.", G_NETWORK, false, {"interface"}},
    [M_NET_TX_PACKETS] = {"container_network_transmit_packets_total",
                          "Packets sent.",
                          G_NETWORK,
                          false,
                          {"interface"}},
    [M_NET_TX_DROPPED] = {"container_network_transmit_packets_dropped_total",
                          "Packets dropped on send.",
                          G_NETWORK,
                          false,
                          {"interface"}},
    [M_NET_TX_ERRORS] = {"container_network_transmit_errors_total",
                         "Errors on send.",
                         G_NETWORK,
                         false,
                         {"interface"}},
    [M_FS_USAGE] = {"container_fs_usage_bytes",
                    "Bytes written to the container's writable layer.",
                    G_DISK,
                    true,
                    {NULL}},
    [M_FS_LIMIT] = {"container_fs_limit_bytes",
                    "Size of the file system of the writable layer.",
                    G_DISK,
                    true,
                    {NULL}},
    [M_FS_INODES_TOTAL] = {"container_fs_inodes_total",
                           "Inodes of the file system of the writable layer.",
                           G_DISK,
                           true,
                           {NULL}},
    [M_FS_INODES_FREE] = {"container_fs_inodes_free",
                          "Free inodes of the file system of the writable layer.",
                          G_DISK,
                          true,
                          {NULL}},
    [M_OOM_EVENTS] = {"container_oom_events_total",
                      "Processes the out-of-memory killer ended in the container.",
                      G_OOM,
                      false,
                      {NULL}},
    [M_PROCESSES] =
        {"container_processes", "Tasks in the container's cgroup.", G_PROCESS, true, {NULL}},
    [M_THREADS_MAX] = {"container_threads_max",
                       "The container's task limit (pids.max); 0 is none.",
                       G_PROCESS,
                       true,
                       {NULL}},
    [M_CPU_WAITING] = {"container_pressure_cpu_waiting_seconds_total",
                       "Time some tasks waited for CPU (PSI some), in seconds.",
                       G_PRESSURE,
                       false,
                       {NULL}},
    [M_CPU_STALLED] = {"container_pressure_cpu_stalled_seconds_total",
                       "Time all tasks waited for CPU (PSI full), in seconds.",
                       G_PRESSURE,
                       false,
                       {NULL}},
    [M_MEM_WAITING] = {"container_pressure_memory_waiting_seconds_total",
                       "Time some tasks waited for memory (PSI some), in seconds.",
                       G_PRESSURE,
                       false,
                       {NULL}},
    [M_MEM_STALLED] = {"container_pressure_memory_stalled_seconds_total",
                       "Time all tasks waited for memory (PSI full), in seconds.",
                       G_PRESSURE,
                       false,
                       {NULL}},
    [M_IO_WAITING] = {"container_pressure_io_waiting_seconds_total",
                      "Time some tasks waited for I/O (PSI some), in seconds.",
                      G_PRESSURE,
                      false,
                      {NULL}},
    [M_IO_STALLED] = {"container_pressure_io_stalled_seconds_total",
                      "Time all tasks waited for I/O (PSI full), in seconds.",
                      G_PRESSURE,
                      false,
                      {NULL}},
    [M_SPEC_CPU_PERIOD] =
        {"container_spec_cpu_period", "The CFS period asked for (µs).", G_SPEC, true, {NULL}},
    [M_SPEC_CPU_QUOTA] =
        {"container_spec_cpu_quota", "The CFS quota asked for (µs).", G_SPEC, true, {NULL}},
    [M_SPEC_CPU_SHARES] =
        {"container_spec_cpu_shares", "The CPU shares asked for.", G_SPEC, true, {NULL}},
    [M_SPEC_MEMORY_LIMIT] = {"container_spec_memory_limit_bytes",
                             "The memory limit asked for; 0 is none.",
                             G_SPEC,
                             true,
                             {NULL}},
    [M_START_TIME] = {"container_start_time_seconds",
                      "When the container started (unix seconds).",
                      G_SPEC,
                      true,
                      {NULL}},
};

/* id, image, namespace, pod, container; the extra keys follow. */
static const char *const base_keys[] = {"id", "image", "namespace", "pod", "container"};
#define N_BASE ARRAY_SIZE(base_keys)
#define MAX_LABELS (N_BASE + 2)

/* The sets included_pod_metrics enables, one bit each. */
static unsigned groups_of(const struct config *cfg)
{
    unsigned mask = 1u << G_ALWAYS;
    for (size_t i = 0; i < cfg->n_included_pod_metrics; i++) {
        const char *name = cfg->included_pod_metrics[i];
        if (strcmp(name, "all") == 0)
            return ~0u;
        for (size_t g = 0; g < ARRAY_SIZE(group_names); g++)
            if (group_names[g] && strcmp(group_names[g], name) == 0)
                mask |= 1u << g;
    }
    return mask;
}

static size_t n_keys(const struct desc *d)
{
    return N_BASE + (d->extra[0] != NULL) + (d->extra[1] != NULL);
}

void cri_list_metric_descriptors(struct cri *cri, struct grpc_call *call,
                                 const ProtobufCMessage *req)
{
    (void)req;
    unsigned groups = groups_of(cri->cfg);
    Runtime__V1__MetricDescriptor ds[N_METRICS], *ptrs[N_METRICS];
    char *keys[N_METRICS][MAX_LABELS];
    size_t n = 0;
    for (size_t i = 0; i < N_METRICS; i++) {
        const struct desc *d = &descs[i];
        if (!(groups & (1u << d->group)))
            continue;
        ds[n] = (Runtime__V1__MetricDescriptor)RUNTIME__V1__METRIC_DESCRIPTOR__INIT;
        ds[n].name = (char *)d->name;
        ds[n].help = (char *)d->help;
        size_t k = 0;
        for (; k < N_BASE; k++)
            keys[n][k] = (char *)base_keys[k];
        for (size_t x = 0; x < 2 && d->extra[x]; x++)
            keys[n][k++] = (char *)d->extra[x];
        ds[n].label_keys = keys[n];
        ds[n].n_label_keys = k;
        ptrs[n] = &ds[n];
        n++;
    }
    Runtime__V1__ListMetricDescriptorsResponse resp =
        RUNTIME__V1__LIST_METRIC_DESCRIPTORS_RESPONSE__INIT;
    resp.descriptors = ptrs;
    resp.n_descriptors = n;
    cri_reply(call, &resp.base);
}

/* ---- the metrics of one sample ---- */

struct mval {
    Runtime__V1__Metric m;
    Runtime__V1__UInt64Value v;
    char *labels[MAX_LABELS];
};

struct mlist {
    unsigned groups;
    struct mval *v;
    size_t n, cap;
};

/* The pointers inside each value are set once the list stops growing (fix_pointers). */
static void emit(struct mlist *l, enum metric k, int64_t at, char *const *base, uint64_t value,
                 const char *x0, const char *x1)
{
    const struct desc *d = &descs[k];
    if (!(l->groups & (1u << d->group)))
        return;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 64;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    struct mval *v = &l->v[l->n++];
    v->m = (Runtime__V1__Metric)RUNTIME__V1__METRIC__INIT;
    v->v = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
    v->v.value = value;
    v->m.name = (char *)d->name;
    v->m.timestamp = at;
    v->m.metric_type =
        d->gauge ? RUNTIME__V1__METRIC_TYPE__GAUGE : RUNTIME__V1__METRIC_TYPE__COUNTER;
    memcpy(v->labels, base, N_BASE * sizeof(*base));
    v->labels[N_BASE] = (char *)x0;
    v->labels[N_BASE + 1] = (char *)x1;
    v->m.n_label_values = n_keys(d);
}

#define NS 1000000000ULL

static void emit_cgroup(struct mlist *l, const struct cg_sample *s, char *const *base)
{
    const struct oci_cgroup_stats *cg = &s->cg;
    int64_t at = s->at;
    if (s->rc < 0)
        return;
    if (cg->have_cpu)
        emit(l, M_CPU_USAGE, at, base, cg->cpu_usage_ns / NS, "total", NULL);
    if (cg->have_cpu_split) {
        emit(l, M_CPU_USER, at, base, cg->cpu_user_ns / NS, NULL, NULL);
        emit(l, M_CPU_SYSTEM, at, base, cg->cpu_system_ns / NS, NULL, NULL);
    }
    if (cg->have_throttling) {
        emit(l, M_CFS_PERIODS, at, base, cg->cpu_periods, NULL, NULL);
        emit(l, M_CFS_THROTTLED_PERIODS, at, base, cg->cpu_throttled_periods, NULL, NULL);
        emit(l, M_CFS_THROTTLED_SECONDS, at, base, cg->cpu_throttled_ns / NS, NULL, NULL);
    }
    if (cg->have_memory) {
        emit(l, M_MEM_USAGE, at, base, cg->mem_usage, NULL, NULL);
        emit(l, M_MEM_WORKING_SET, at, base, cg->mem_working_set, NULL, NULL);
        emit(l, M_MEM_RSS, at, base, cg->mem_rss, NULL, NULL);
        emit(l, M_MEM_CACHE, at, base, cg->mem_cache, NULL, NULL);
        emit(l, M_MEM_MAPPED_FILE, at, base, cg->mem_mapped_file, NULL, NULL);
        /* memory.stat's counters are the hierarchy's (v1 total_*, v2) */
        emit(l, M_MEM_FAILURES, at, base, cg->mem_pgfault, "pgfault", "hierarchy");
        emit(l, M_MEM_FAILURES, at, base, cg->mem_pgmajfault, "pgmajfault", "hierarchy");
    }
    if (cg->have_swap)
        emit(l, M_MEM_SWAP, at, base, cg->swap_usage, NULL, NULL);
    if (cg->have_oom)
        emit(l, M_OOM_EVENTS, at, base, cg->oom_kills, NULL, NULL);
    if (cg->have_pids) {
        emit(l, M_PROCESSES, at, base, cg->pids, NULL, NULL);
        emit(l, M_THREADS_MAX, at, base, cg->pids_limit, NULL, NULL);
    }
    static const struct {
        size_t off;
        enum metric some, full;
    } psi[] = {
        {offsetof(struct oci_cgroup_stats, cpu_psi), M_CPU_WAITING, M_CPU_STALLED},
        {offsetof(struct oci_cgroup_stats, memory_psi), M_MEM_WAITING, M_MEM_STALLED},
        {offsetof(struct oci_cgroup_stats, io_psi), M_IO_WAITING, M_IO_STALLED},
    };
    for (size_t i = 0; i < ARRAY_SIZE(psi); i++) {
        const struct oci_psi *p = (const void *)((const char *)cg + psi[i].off);
        if (p->have)
            emit(l, psi[i].some, at, base, p->some.total_us / 1000000, NULL, NULL);
        if (p->have_full)
            emit(l, psi[i].full, at, base, p->full.total_us / 1000000, NULL, NULL);
    }
}

static void emit_spec(struct mlist *l, const struct ctr *c, int64_t at, char *const *base)
{
    const Runtime__V1__LinuxContainerResources *r =
        c->config->linux ? c->config->linux->resources : NULL;
    if (r) {
        if (r->cpu_period > 0)
            emit(l, M_SPEC_CPU_PERIOD, at, base, (uint64_t)r->cpu_period, NULL, NULL);
        if (r->cpu_quota > 0)
            emit(l, M_SPEC_CPU_QUOTA, at, base, (uint64_t)r->cpu_quota, NULL, NULL);
        if (r->cpu_shares > 0)
            emit(l, M_SPEC_CPU_SHARES, at, base, (uint64_t)r->cpu_shares, NULL, NULL);
    }
    emit(l, M_SPEC_MEMORY_LIMIT, at, base,
         r && r->memory_limit_in_bytes > 0 ? (uint64_t)r->memory_limit_in_bytes : 0, NULL, NULL);
    int64_t started = c->started_at ? c->started_at : c->created_at;
    emit(l, M_START_TIME, at, base, (uint64_t)(started / (int64_t)NS), NULL, NULL);
}

static void emit_ctr(struct mlist *l, const struct stats_work *w, const struct ctr_item *it,
                     char *const *base)
{
    const struct ctr *c = it->c;
    int64_t at = it->s.at;
    emit(l, M_LAST_SEEN, at, base, (uint64_t)(at / (int64_t)NS), NULL, NULL);
    emit_cgroup(l, &it->s, base);
    if (c->fs_walked_at)
        emit(l, M_FS_USAGE, at, base, c->fs_bytes, NULL, NULL);
    if (w->have_space) {
        emit(l, M_FS_LIMIT, at, base, w->fs_size, NULL, NULL);
        emit(l, M_FS_INODES_TOTAL, at, base, w->fs_inodes, NULL, NULL);
        emit(l, M_FS_INODES_FREE, at, base, w->fs_inodes_free, NULL, NULL);
    }
    emit_spec(l, c, at, base);
}

static void emit_net(struct mlist *l, const struct pod_item *it, char *const *base)
{
    for (size_t i = 0; i < it->n_ifs; i++) {
        const struct network_if_usage *u = &it->ifs[i];
        if (strcmp(u->name, "lo") == 0)
            continue;
        int64_t at = it->net_at;
        emit(l, M_NET_RX_BYTES, at, base, u->rx_bytes, u->name, NULL);
        emit(l, M_NET_RX_PACKETS, at, base, u->rx_packets, u->name, NULL);
        emit(l, M_NET_RX_DROPPED, at, base, u->rx_dropped, u->name, NULL);
        emit(l, M_NET_RX_ERRORS, at, base, u->rx_errors, u->name, NULL);
        emit(l, M_NET_TX_BYTES, at, base, u->tx_bytes, u->name, NULL);
        emit(l, M_NET_TX_PACKETS, at, base, u->tx_packets, u->name, NULL);
        emit(l, M_NET_TX_DROPPED, at, base, u->tx_dropped, u->name, NULL);
        emit(l, M_NET_TX_ERRORS, at, base, u->tx_errors, u->name, NULL);
    }
}

static size_t pack_metrics(void *const *list, size_t k, uint8_t **ret)
{
    Runtime__V1__StreamPodSandboxMetricsResponse r =
        RUNTIME__V1__STREAM_POD_SANDBOX_METRICS_RESPONSE__INIT;
    r.pod_sandbox_metrics = (Runtime__V1__PodSandboxMetrics **)list;
    r.n_pod_sandbox_metrics = k;
    *ret = xmalloc(protobuf_c_message_get_packed_size(&r.base) + 1);
    return protobuf_c_message_pack(&r.base, *ret);
}

/* Where each pod's and container's metrics are in the list: [start, end). */
struct range {
    size_t start, end;
};

void cri_metrics_reply(struct stats_work *w)
{
    struct cri *cri = w->cri;
    struct mlist l = {.groups = groups_of(cri->cfg)};
    struct pod **pods = xcalloc(w->n_pods + 1, sizeof(*pods));
    struct range *pod_r = xcalloc(w->n_pods + 1, sizeof(*pod_r));
    struct range *ctr_r = xcalloc(w->n_ctrs + 1, sizeof(*ctr_r));
    bool *ctr_in = xcalloc(w->n_ctrs + 1, sizeof(*ctr_in));
    for (size_t i = 0; i < w->n_pods; i++) {
        struct pod_item *it = &w->pods[i];
        struct pod *p = pods[i] = cri_pod_find(cri, it->id);
        if (!p)
            continue; /* removed since the sample was asked for */
        Runtime__V1__PodSandboxMetadata *md = p->config->metadata;
        char *base[N_BASE] = {p->id, "", md->namespace_, md->name, "POD"};
        pod_r[i].start = l.n;
        if (it->have_net)
            emit_net(&l, it, base);
        pod_r[i].end = l.n;
        for (size_t j = it->first_ctr; j < it->first_ctr + it->n_ctrs; j++) {
            struct ctr_item *ci = &w->ctrs[j];
            struct ctr *c = ci->c;
            /* Those with a cgroup: created or running, and still there */
            if (c->state != CRI_CTR_CREATED && c->state != CRI_CTR_RUNNING)
                continue;
            ctr_in[j] = true;
            char *cbase[N_BASE] = {c->id, c->image_name, md->namespace_, md->name,
                                   c->config->metadata->name};
            ctr_r[j].start = l.n;
            emit_ctr(&l, w, ci, cbase);
            ctr_r[j].end = l.n;
        }
    }
    /* The list is complete: point each metric at its own parts, and the messages at them. */
    Runtime__V1__Metric **mptrs = xcalloc(l.n + 1, sizeof(*mptrs));
    for (size_t i = 0; i < l.n; i++) {
        l.v[i].m.label_values = l.v[i].labels;
        l.v[i].m.value = &l.v[i].v;
        mptrs[i] = &l.v[i].m;
    }
    Runtime__V1__PodSandboxMetrics *pm = xcalloc(w->n_pods + 1, sizeof(*pm));
    Runtime__V1__PodSandboxMetrics **pm_ptrs = xcalloc(w->n_pods + 1, sizeof(*pm_ptrs));
    Runtime__V1__ContainerMetrics *cm = xcalloc(w->n_ctrs + 1, sizeof(*cm));
    Runtime__V1__ContainerMetrics **cm_ptrs = xcalloc(w->n_ctrs + 1, sizeof(*cm_ptrs));
    size_t n_pm = 0, n_cm = 0;
    for (size_t i = 0; i < w->n_pods; i++) {
        if (!pods[i])
            continue;
        Runtime__V1__PodSandboxMetrics *m = &pm[n_pm];
        *m = (Runtime__V1__PodSandboxMetrics)RUNTIME__V1__POD_SANDBOX_METRICS__INIT;
        m->pod_sandbox_id = pods[i]->id;
        m->metrics = mptrs + pod_r[i].start;
        m->n_metrics = pod_r[i].end - pod_r[i].start;
        m->container_metrics = cm_ptrs + n_cm;
        struct pod_item *it = &w->pods[i];
        for (size_t j = it->first_ctr; j < it->first_ctr + it->n_ctrs; j++) {
            if (!ctr_in[j])
                continue;
            Runtime__V1__ContainerMetrics *c = &cm[n_cm];
            *c = (Runtime__V1__ContainerMetrics)RUNTIME__V1__CONTAINER_METRICS__INIT;
            c->container_id = w->ctrs[j].c->id;
            c->metrics = mptrs + ctr_r[j].start;
            c->n_metrics = ctr_r[j].end - ctr_r[j].start;
            cm_ptrs[n_cm++] = c;
            m->n_container_metrics++;
        }
        pm_ptrs[n_pm++] = m;
    }
    if (w->kind == METRICS_STREAM) {
        cri_stats_stream_batches(w->call, (void *const *)pm_ptrs, n_pm, pack_metrics);
    } else {
        Runtime__V1__ListPodSandboxMetricsResponse resp =
            RUNTIME__V1__LIST_POD_SANDBOX_METRICS_RESPONSE__INIT;
        resp.pod_metrics = pm_ptrs;
        resp.n_pod_metrics = n_pm;
        cri_reply(w->call, &resp.base);
    }
    free(pm);
    free(pm_ptrs);
    free(cm);
    free(cm_ptrs);
    free(mptrs);
    free(l.v);
    free(pods);
    free(pod_r);
    free(ctr_r);
    free(ctr_in);
}

void cri_list_pod_sandbox_metrics(struct cri *cri, struct grpc_call *call,
                                  const ProtobufCMessage *req)
{
    (void)req;
    cri_stats_sample_pods(cri, call, METRICS_LIST);
}

void cri_stream_pod_sandbox_metrics(struct cri *cri, struct grpc_call *call,
                                    const ProtobufCMessage *req)
{
    (void)req;
    cri_stats_sample_pods(cri, call, METRICS_STREAM);
}
