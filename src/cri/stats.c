/* ContainerStats, PodSandboxStats, and their List and Stream (batched) forms: cgroup files,
 * writable layers and the pods' interface counters, read on the thread pool (never on the
 * loop); usage_nano_cores from the previous sample kept with each container and pod. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/pod.h"
#include "cri/stats.h"
#include "network/network.h"
#include "oci/cgroup-stats.h"
#include "oci/cgroup.h"
#include "storage/storage.h"

/* ---- stats_collection_period: samples served again ---- */

static int64_t period_ns(struct cri *cri)
{
    return cri->cfg->stats_collection_period * 1000000000LL;
}

/* The cached sample, when stats_collection_period says it is fresh enough. */
static const struct stats_cache *fresh(struct cri *cri, const struct stats_cache *sc)
{
    int64_t period = period_ns(cri);
    return sc && period > 0 && (int64_t)uv_hrtime() - sc->taken < period ? sc : NULL;
}

static void from_cache(struct cg_sample *s, const struct stats_cache *sc)
{
    s->cached = true;
    s->cg = sc->cg;
    s->rc = sc->rc;
    s->at = sc->at;
}

static struct stats_cache *to_cache(struct stats_cache **slot, const struct cg_sample *s)
{
    if (!*slot)
        *slot = xcalloc(1, sizeof(**slot));
    struct stats_cache *sc = *slot;
    sc->taken = (int64_t)uv_hrtime();
    sc->cg = s->cg;
    sc->rc = s->rc;
    sc->at = s->at;
    return sc;
}

static void read_cgroup(struct cg_sample *s, bool v2)
{
    if (s->cached)
        return;
    s->at = now_unix_ns();
    s->rc = s->cgroup ? oci_cgroup_stats_read("/sys/fs/cgroup", s->cgroup, v2, &s->cg) : -ENOENT;
}

static void read_net(struct pod_item *p)
{
    if (!p->net_pid || p->s.cached)
        return;
    cleanup_free char *path = xasprintf("/proc/%d/net/dev", p->net_pid);
    struct buf b = {0};
    p->net_at = now_unix_ns();
    if (fs_read_file(path, 1 << 16, &b) == 0) {
        p->n_ifs = network_netdev_parse((const char *)b.data, b.len, p->ifs, MAX_IFS);
        p->have_net = true;
    }
    buf_done(&b);
}

/* Items a chunk of the sample takes at least: below, one pool thread reads them all. */
#define CHUNK_MIN 16

static void do_chunk(uv_work_t *req)
{
    struct stats_chunk *k = container_of(req, struct stats_chunk, req);
    struct stats_work *w = k->w;
    if (k == &w->chunks[0]) {
        w->mountpoint = fs_mount_point(w->root);
        struct statvfs st;
        if (statvfs(w->root, &st) == 0) {
            w->have_space = true;
            w->fs_size = (uint64_t)st.f_blocks * st.f_frsize;
            w->fs_inodes = st.f_files;
            w->fs_inodes_free = st.f_favail;
        }
    }
    for (size_t i = k->ctr0; i < k->ctr1; i++) {
        struct ctr_item *it = &w->ctrs[i];
        read_cgroup(&it->s, w->v2);
        if (it->upper)
            it->fs_rc = fs_usage(it->upper, &it->fs_bytes, &it->fs_inodes);
    }
    for (size_t i = k->pod0; i < k->pod1; i++) {
        read_cgroup(&w->pods[i].s, w->v2);
        read_net(&w->pods[i]);
    }
}

/* ---- protobuf ---- */

void cri_stats_stream_batches(struct grpc_call *call, void *const *list, size_t n,
                              pack_batch_fn pack)
{
    for (size_t start = 0, k; start < n; start += k) {
        size_t bytes = 0;
        for (k = 0; start + k < n; k++) {
            size_t len = protobuf_c_message_get_packed_size(list[start + k]);
            if (k > 0 && bytes + len > BATCH_BYTES)
                break;
            bytes += len;
        }
        uint8_t *msg;
        size_t len = pack(list + start, k, &msg);
        int r = reactor_grpc_call_send(call, msg, len);
        free(msg);
        if (r < 0)
            return; /* gone, or finished with RESOURCE_EXHAUSTED */
    }
    reactor_grpc_call_finish(call, GRPC_OK, NULL);
}

static size_t pack_ctrs(void *const *list, size_t k, uint8_t **ret)
{
    Runtime__V1__StreamContainerStatsResponse r =
        RUNTIME__V1__STREAM_CONTAINER_STATS_RESPONSE__INIT;
    r.container_stats = (Runtime__V1__ContainerStats **)list;
    r.n_container_stats = k;
    *ret = xmalloc(protobuf_c_message_get_packed_size(&r.base) + 1);
    return protobuf_c_message_pack(&r.base, *ret);
}

static size_t pack_pods(void *const *list, size_t k, uint8_t **ret)
{
    Runtime__V1__StreamPodSandboxStatsResponse r =
        RUNTIME__V1__STREAM_POD_SANDBOX_STATS_RESPONSE__INIT;
    r.pod_sandbox_stats = (Runtime__V1__PodSandboxStats **)list;
    r.n_pod_sandbox_stats = k;
    *ret = xmalloc(protobuf_c_message_get_packed_size(&r.base) + 1);
    return protobuf_c_message_pack(&r.base, *ret);
}

/* Every message of one cgroup's CpuUsage, MemoryUsage, SwapUsage and IoUsage. */
struct pb_usage {
    Runtime__V1__CpuUsage cpu;
    Runtime__V1__MemoryUsage mem;
    Runtime__V1__SwapUsage swap;
    Runtime__V1__IoUsage io;
    bool have_cpu, have_mem, have_swap, have_io;
    Runtime__V1__UInt64Value v[12];
    size_t n_v;
    Runtime__V1__PsiStats psi[3];
    Runtime__V1__PsiData psi_data[6];
};

static Runtime__V1__UInt64Value *u64(Runtime__V1__UInt64Value *v, uint64_t value)
{
    *v = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
    v->value = value;
    return v;
}

static Runtime__V1__PsiStats *psi(struct pb_usage *u, size_t k, const struct oci_psi *from)
{
    if (!from->have)
        return NULL;
    Runtime__V1__PsiStats *s = &u->psi[k];
    *s = (Runtime__V1__PsiStats)RUNTIME__V1__PSI_STATS__INIT;
    const struct oci_psi_line *lines[2] = {&from->some, from->have_full ? &from->full : NULL};
    for (size_t j = 0; j < 2; j++) {
        if (!lines[j])
            continue;
        Runtime__V1__PsiData *d = &u->psi_data[2 * k + j];
        *d = (Runtime__V1__PsiData)RUNTIME__V1__PSI_DATA__INIT;
        d->total = lines[j]->total_us;
        d->avg10 = lines[j]->avg10;
        d->avg60 = lines[j]->avg60;
        d->avg300 = lines[j]->avg300;
        if (j == 0)
            s->some = d;
        else
            s->full = d;
    }
    return s;
}

static void fill_cpu(struct pb_usage *u, const struct cg_sample *s, struct stats_cpu_prev *prev)
{
    const struct oci_cgroup_stats *cg = &s->cg;
    u->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
    u->cpu.timestamp = s->at;
    u->cpu.usage_core_nano_seconds = u64(&u->v[u->n_v++], cg->cpu_usage_ns);
    /* The rate since the previous sample, which this one replaces; a sample served again from
     * the cache keeps the rate it had. */
    if (prev->at > 0 && s->at > prev->at && cg->cpu_usage_ns >= prev->ns) {
        prev->nano_cores =
            (uint64_t)((double)(cg->cpu_usage_ns - prev->ns) * 1e9 / (double)(s->at - prev->at));
        prev->have_rate = true;
    } else if (s->at != prev->at) {
        prev->have_rate = false;
    }
    if (prev->have_rate)
        u->cpu.usage_nano_cores = u64(&u->v[u->n_v++], prev->nano_cores);
    prev->ns = cg->cpu_usage_ns;
    prev->at = s->at;
    u->cpu.psi = psi(u, 0, &cg->cpu_psi);
    u->have_cpu = true;
}

static void fill_memory(struct pb_usage *u, const struct cg_sample *s)
{
    const struct oci_cgroup_stats *cg = &s->cg;
    u->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
    u->mem.timestamp = s->at;
    u->mem.working_set_bytes = u64(&u->v[u->n_v++], cg->mem_working_set);
    u->mem.usage_bytes = u64(&u->v[u->n_v++], cg->mem_usage);
    u->mem.rss_bytes = u64(&u->v[u->n_v++], cg->mem_rss);
    u->mem.page_faults = u64(&u->v[u->n_v++], cg->mem_pgfault);
    u->mem.major_page_faults = u64(&u->v[u->n_v++], cg->mem_pgmajfault);
    if (cg->mem_limit)
        u->mem.available_bytes =
            u64(&u->v[u->n_v++],
                cg->mem_limit > cg->mem_working_set ? cg->mem_limit - cg->mem_working_set : 0);
    u->mem.psi = psi(u, 1, &cg->memory_psi);
    u->have_mem = true;
}

static void fill_usage(struct pb_usage *u, const struct cg_sample *s, struct stats_cpu_prev *prev)
{
    const struct oci_cgroup_stats *cg = &s->cg;
    if (s->rc < 0)
        return;
    if (cg->have_cpu)
        fill_cpu(u, s, prev);
    if (cg->have_memory)
        fill_memory(u, s);
    if (cg->have_swap) {
        u->swap = (Runtime__V1__SwapUsage)RUNTIME__V1__SWAP_USAGE__INIT;
        u->swap.timestamp = s->at;
        u->swap.swap_usage_bytes = u64(&u->v[u->n_v++], cg->swap_usage);
        if (cg->swap_limit)
            u->swap.swap_available_bytes =
                u64(&u->v[u->n_v++],
                    cg->swap_limit > cg->swap_usage ? cg->swap_limit - cg->swap_usage : 0);
        u->have_swap = true;
    }
    if (cg->io_psi.have) {
        u->io = (Runtime__V1__IoUsage)RUNTIME__V1__IO_USAGE__INIT;
        u->io.timestamp = s->at;
        u->io.psi = psi(u, 2, &cg->io_psi);
        u->have_io = true;
    }
}

struct pb_ctr {
    Runtime__V1__ContainerStats s;
    Runtime__V1__ContainerAttributes attr;
    struct pb_usage u;
    Runtime__V1__FilesystemUsage fs;
    Runtime__V1__FilesystemIdentifier fs_id;
    Runtime__V1__UInt64Value fs_v[2];
};

static void fill_ctr(struct pb_ctr *p, const struct stats_work *w, struct ctr_item *it)
{
    struct ctr *c = it->c;
    *p = (struct pb_ctr){.s = RUNTIME__V1__CONTAINER_STATS__INIT,
                         .attr = RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT};
    p->attr.id = c->id;
    p->attr.metadata = c->config->metadata;
    CRI_COPY_MAP(p->attr.labels, p->attr.n_labels, c->config->labels, c->config->n_labels,
                 RUNTIME__V1__CONTAINER_ATTRIBUTES__LABELS_ENTRY__INIT);
    CRI_COPY_MAP(p->attr.annotations, p->attr.n_annotations, c->config->annotations,
                 c->config->n_annotations,
                 RUNTIME__V1__CONTAINER_ATTRIBUTES__ANNOTATIONS_ENTRY__INIT);
    p->s.attributes = &p->attr;
    fill_usage(&p->u, &it->s, &c->prev_cpu);
    p->s.cpu = p->u.have_cpu ? &p->u.cpu : NULL;
    p->s.memory = p->u.have_mem ? &p->u.mem : NULL;
    p->s.swap = p->u.have_swap ? &p->u.swap : NULL;
    p->s.io = p->u.have_io ? &p->u.io : NULL;
    if (c->fs_walked_at) {
        p->fs = (Runtime__V1__FilesystemUsage)RUNTIME__V1__FILESYSTEM_USAGE__INIT;
        p->fs_id = (Runtime__V1__FilesystemIdentifier)RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
        p->fs_id.mountpoint = w->mountpoint ? w->mountpoint : w->root;
        p->fs.timestamp = it->s.at;
        p->fs.fs_id = &p->fs_id;
        p->fs.used_bytes = u64(&p->fs_v[0], c->fs_bytes);
        p->fs.inodes_used = u64(&p->fs_v[1], c->fs_inodes);
        p->s.writable_layer = &p->fs;
    }
}

static void free_ctr(struct pb_ctr *p)
{
    cri_free_map((void **)p->attr.labels, p->attr.n_labels);
    cri_free_map((void **)p->attr.annotations, p->attr.n_annotations);
}

struct pb_pod {
    Runtime__V1__PodSandboxStats s;
    Runtime__V1__PodSandboxAttributes attr;
    Runtime__V1__LinuxPodSandboxStats linux_;
    struct pb_usage u;
    Runtime__V1__NetworkUsage net;
    Runtime__V1__NetworkInterfaceUsage ifs[MAX_IFS];
    Runtime__V1__NetworkInterfaceUsage *if_ptrs[MAX_IFS];
    Runtime__V1__UInt64Value if_v[MAX_IFS * 4];
    Runtime__V1__ProcessUsage proc;
    Runtime__V1__UInt64Value proc_v;
    Runtime__V1__ContainerStats **ctrs;
};

static void fill_net(struct pb_pod *p, const struct pod_item *it)
{
    p->net = (Runtime__V1__NetworkUsage)RUNTIME__V1__NETWORK_USAGE__INIT;
    p->net.timestamp = it->net_at;
    size_t k = 0;
    for (size_t i = 0; i < it->n_ifs; i++) {
        if (strcmp(it->ifs[i].name, "lo") == 0)
            continue;
        Runtime__V1__NetworkInterfaceUsage *f = &p->ifs[k];
        *f = (Runtime__V1__NetworkInterfaceUsage)RUNTIME__V1__NETWORK_INTERFACE_USAGE__INIT;
        f->name = (char *)it->ifs[i].name;
        f->rx_bytes = u64(&p->if_v[4 * k], it->ifs[i].rx_bytes);
        f->rx_errors = u64(&p->if_v[4 * k + 1], it->ifs[i].rx_errors);
        f->tx_bytes = u64(&p->if_v[4 * k + 2], it->ifs[i].tx_bytes);
        f->tx_errors = u64(&p->if_v[4 * k + 3], it->ifs[i].tx_errors);
        if (strcmp(f->name, DEFAULT_IF) == 0)
            p->net.default_interface = f;
        p->if_ptrs[k++] = f;
    }
    p->net.interfaces = p->if_ptrs;
    p->net.n_interfaces = k;
    p->linux_.network = &p->net;
}

/* false when the pod is gone since the sample was asked for */
static bool fill_pod(struct pb_pod *p, struct cri *cri, struct pod_item *it, struct pb_ctr *ctrs)
{
    struct pod *pod = cri_pod_find(cri, it->id);
    if (!pod)
        return false;
    *p = (struct pb_pod){.s = RUNTIME__V1__POD_SANDBOX_STATS__INIT,
                         .attr = RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__INIT,
                         .linux_ = RUNTIME__V1__LINUX_POD_SANDBOX_STATS__INIT};
    const Runtime__V1__PodSandboxConfig *cfg = pod->config;
    p->attr.id = pod->id;
    p->attr.metadata = cfg->metadata;
    CRI_COPY_MAP(p->attr.labels, p->attr.n_labels, cfg->labels, cfg->n_labels,
                 RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__LABELS_ENTRY__INIT);
    CRI_COPY_MAP(p->attr.annotations, p->attr.n_annotations, cfg->annotations, cfg->n_annotations,
                 RUNTIME__V1__POD_SANDBOX_ATTRIBUTES__ANNOTATIONS_ENTRY__INIT);
    p->s.attributes = &p->attr;
    p->s.linux = &p->linux_;
    fill_usage(&p->u, &it->s, &pod->prev_cpu);
    p->linux_.cpu = p->u.have_cpu ? &p->u.cpu : NULL;
    p->linux_.memory = p->u.have_mem ? &p->u.mem : NULL;
    p->linux_.io = p->u.have_io ? &p->u.io : NULL;
    if (it->s.rc == 0 && it->s.cg.have_pids) {
        p->proc = (Runtime__V1__ProcessUsage)RUNTIME__V1__PROCESS_USAGE__INIT;
        p->proc.timestamp = it->s.at;
        p->proc.process_count = u64(&p->proc_v, it->s.cg.pids);
        p->linux_.process = &p->proc;
    }
    if (it->have_net)
        fill_net(p, it);
    p->ctrs = xcalloc(it->n_ctrs + 1, sizeof(*p->ctrs));
    for (size_t i = 0; i < it->n_ctrs; i++)
        p->ctrs[i] = &ctrs[it->first_ctr + i].s;
    p->linux_.containers = p->ctrs;
    p->linux_.n_containers = it->n_ctrs;
    return true;
}

static void free_pod(struct pb_pod *p)
{
    cri_free_map((void **)p->attr.labels, p->attr.n_labels);
    cri_free_map((void **)p->attr.annotations, p->attr.n_annotations);
    free(p->ctrs);
}

static void reply_ctrs(struct stats_work *w, Runtime__V1__ContainerStats **list)
{
    if (w->kind == CTR_STREAM) {
        cri_stats_stream_batches(w->call, (void *const *)list, w->n_ctrs, pack_ctrs);
    } else if (w->kind == ONE_CTR) {
        Runtime__V1__ContainerStatsResponse resp = RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT;
        resp.stats = list[0];
        cri_reply(w->call, &resp.base);
    } else {
        Runtime__V1__ListContainerStatsResponse resp =
            RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT;
        resp.stats = list;
        resp.n_stats = w->n_ctrs;
        cri_reply(w->call, &resp.base);
    }
}

static void reply_pods(struct stats_work *w, struct cri *cri, struct pb_ctr *ctrs)
{
    struct pb_pod *pods = xcalloc(w->n_pods + 1, sizeof(*pods));
    Runtime__V1__PodSandboxStats **list = xcalloc(w->n_pods + 1, sizeof(*list));
    size_t n = 0;
    for (size_t i = 0; i < w->n_pods; i++)
        if (fill_pod(&pods[n], cri, &w->pods[i], ctrs))
            list[n] = &pods[n].s, n++;
    if (w->kind == ONE_POD && n == 0) {
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", w->pods[0].id);
        cri_reply_err(w->call, &err);
        err_done(&err);
    } else if (w->kind == POD_STREAM) {
        cri_stats_stream_batches(w->call, (void *const *)list, n, pack_pods);
    } else if (w->kind == ONE_POD) {
        Runtime__V1__PodSandboxStatsResponse resp = RUNTIME__V1__POD_SANDBOX_STATS_RESPONSE__INIT;
        resp.stats = list[0];
        cri_reply(w->call, &resp.base);
    } else {
        Runtime__V1__ListPodSandboxStatsResponse resp =
            RUNTIME__V1__LIST_POD_SANDBOX_STATS_RESPONSE__INIT;
        resp.stats = list;
        resp.n_stats = n;
        cri_reply(w->call, &resp.base);
    }
    for (size_t i = 0; i < n; i++)
        free_pod(&pods[i]);
    free(pods);
    free(list);
}

/* Every chunk is read: answer. */
static void on_sampled(struct stats_work *w)
{
    struct cri *cri = w->cri;
    for (size_t i = 0; i < w->n_ctrs; i++) {
        struct ctr_item *it = &w->ctrs[i];
        if (it->upper && it->fs_rc == 0) {
            it->c->fs_bytes = it->fs_bytes;
            it->c->fs_inodes = it->fs_inodes;
            it->c->fs_walked_at = (int64_t)uv_hrtime();
        } else if (it->upper) {
            log_debug("container %s: its writable layer: %s", it->c->id, strerror(-it->fs_rc));
        }
        if (period_ns(cri) > 0 && !it->s.cached)
            to_cache(&it->c->stats_cache, &it->s);
    }
    for (size_t i = 0; i < w->n_pods && period_ns(cri) > 0; i++) {
        struct pod_item *it = &w->pods[i];
        struct pod *p = cri_pod_find(cri, it->id);
        if (!p || it->s.cached)
            continue;
        struct stats_cache *sc = to_cache(&p->stats_cache, &it->s);
        memcpy(sc->ifs, it->ifs, sizeof(sc->ifs));
        sc->n_ifs = it->n_ifs;
        sc->have_net = it->have_net;
        sc->net_at = it->net_at;
    }
    struct pb_ctr *ctrs = xcalloc(w->n_ctrs + 1, sizeof(*ctrs));
    Runtime__V1__ContainerStats **list = xcalloc(w->n_ctrs + 1, sizeof(*list));
    bool metrics = w->kind == METRICS_LIST || w->kind == METRICS_STREAM;
    for (size_t i = 0; i < w->n_ctrs && !metrics; i++) {
        fill_ctr(&ctrs[i], w, &w->ctrs[i]);
        list[i] = &ctrs[i].s;
    }
    if (metrics)
        cri_metrics_reply(w);
    else if (w->kind == ONE_CTR || w->kind == CTR_LIST || w->kind == CTR_STREAM)
        reply_ctrs(w, list);
    else
        reply_pods(w, cri, ctrs);
    for (size_t i = 0; i < w->n_ctrs; i++) {
        if (!metrics)
            free_ctr(&ctrs[i]);
        free(w->ctrs[i].s.cgroup);
        free(w->ctrs[i].upper);
        cri_ctr_unref(w->ctrs[i].c);
    }
    for (size_t i = 0; i < w->n_pods; i++) {
        free(w->pods[i].id);
        free(w->pods[i].s.cgroup);
    }
    free(ctrs);
    free(list);
    reactor_grpc_call_unref(w->call);
    free(w->ctrs);
    free(w->pods);
    free(w->root);
    free(w->mountpoint);
    free(w->chunks);
    free(w);
}

static void on_chunk(uv_work_t *req, int status)
{
    struct stats_chunk *k = container_of(req, struct stats_chunk, req);
    (void)status; /* a sample cut short still answers, with what it read */
    if (--k->w->pending == 0)
        on_sampled(k->w);
}

/* ---- the calls ---- */

static void add_ctr(struct stats_work *w, struct ctr *c)
{
    struct ctr_item *it = &w->ctrs[w->n_ctrs++];
    it->c = cri_ctr_ref(c);
    const struct stats_cache *sc = fresh(c->cri, c->stats_cache);
    if (sc)
        from_cache(&it->s, sc);
    /* The cgroup exists while the container has a process: once created, until removed. */
    else if (c->cgroups_path && c->state != CRI_CTR_EXITED)
        it->s.cgroup = oci_cgroup_fs_path(c->cgroups_path);
    int64_t now = (int64_t)uv_hrtime();
    int64_t ttl = period_ns(c->cri) > FS_WALK_TTL_NS ? period_ns(c->cri) : FS_WALK_TTL_NS;
    if (!c->fs_walked_at || now - c->fs_walked_at >= ttl)
        it->upper = storage_rootfs_upper(c->cri->storage, c->id);
}

static struct stats_work *work_new(struct cri *cri, size_t n_ctrs, size_t n_pods)
{
    struct stats_work *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->ctrs = xcalloc(n_ctrs + 1, sizeof(*w->ctrs));
    w->pods = xcalloc(n_pods + 1, sizeof(*w->pods));
    w->v2 = oci_cgroup_is_v2();
    w->root = xstrdup(storage_layers_dir(cri->storage));
    return w;
}

/* Read the sample on the pool: in up to STATS_CHUNKS pieces, which its threads read at once. */
static void sample(struct cri *cri, struct grpc_call *call, struct stats_work *w)
{
    w->call = reactor_grpc_call_ref(call);
    size_t items = w->n_ctrs + w->n_pods;
    size_t n = items / CHUNK_MIN;
    n = n < 1 ? 1 : n > STATS_CHUNKS ? STATS_CHUNKS : n;
    w->chunks = xcalloc(n, sizeof(*w->chunks));
    w->pending = n;
    for (size_t i = 0; i < n; i++) {
        struct stats_chunk *k = &w->chunks[i];
        k->w = w;
        k->ctr0 = w->n_ctrs * i / n;
        k->ctr1 = w->n_ctrs * (i + 1) / n;
        k->pod0 = w->n_pods * i / n;
        k->pod1 = w->n_pods * (i + 1) / n;
    }
    for (size_t i = 0; i < n; i++)
        uv_queue_work(cri->loop, &w->chunks[i].req, do_chunk, on_chunk);
}

static size_t n_ctrs_of(struct cri *cri)
{
    size_t n = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        n++;
    return n;
}

static void reply_not_found(struct grpc_call *call, const char *what, const char *id)
{
    struct err err = ERR_INIT;
    err_set(&err, -ENOENT, "%s `%s` not found", what, id);
    cri_reply_err(call, &err);
    err_done(&err);
}

void cri_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ContainerStatsRequest *r = (const void *)req;
    struct ctr *c = cri_ctr_find(cri, r->container_id);
    if (!c)
        return reply_not_found(call, "container", r->container_id);
    struct stats_work *w = work_new(cri, 1, 0);
    w->kind = ONE_CTR;
    add_ctr(w, c);
    sample(cri, call, w);
}

/* Whether every key and value of a filter's selector is among the labels (whose entry type
 * differs per message). */
#define DEFINE_LABELS_MATCH(name, T)                                                               \
    static bool name(T *const *have, size_t n_have, char *const *keys, char *const *values,        \
                     size_t n)                                                                     \
    {                                                                                              \
        for (size_t i = 0; i < n; i++) {                                                           \
            bool found = false;                                                                    \
            for (size_t k = 0; k < n_have && !found; k++)                                          \
                found =                                                                            \
                    strcmp(have[k]->key, keys[i]) == 0 && strcmp(have[k]->value, values[i]) == 0;  \
            if (!found)                                                                            \
                return false;                                                                      \
        }                                                                                          \
        return true;                                                                               \
    }
DEFINE_LABELS_MATCH(ctr_labels_match, Runtime__V1__ContainerConfig__LabelsEntry)
DEFINE_LABELS_MATCH(pod_labels_match, Runtime__V1__PodSandboxConfig__LabelsEntry)

/* A filter's label selector as two arrays (the entry types differ per message). */
#define SELECTOR(f, keys, values)                                                                  \
    size_t n_sel = (f) ? (f)->n_label_selector : 0;                                                \
    cleanup_free char **keys = xcalloc(n_sel + 1, sizeof(char *));                                 \
    cleanup_free char **values = xcalloc(n_sel + 1, sizeof(char *));                               \
    for (size_t i_ = 0; i_ < n_sel; i_++) {                                                        \
        keys[i_] = (f)->label_selector[i_]->key;                                                   \
        values[i_] = (f)->label_selector[i_]->value;                                               \
    }

static void container_stats_of(struct cri *cri, struct grpc_call *call,
                               const Runtime__V1__ContainerStatsFilter *f, bool stream)
{
    SELECTOR(f, keys, values);
    struct stats_work *w = work_new(cri, n_ctrs_of(cri), 0);
    w->kind = stream ? CTR_STREAM : CTR_LIST;
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (f && *f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
            continue;
        if (f && *f->pod_sandbox_id &&
            strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)) != 0)
            continue;
        if (ctr_labels_match(c->config->labels, c->config->n_labels, keys, values, n_sel))
            add_ctr(w, c);
    }
    sample(cri, call, w);
}

void cri_list_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    container_stats_of(cri, call, ((const Runtime__V1__ListContainerStatsRequest *)req)->filter,
                       false);
}

void cri_stream_container_stats(struct cri *cri, struct grpc_call *call,
                                const ProtobufCMessage *req)
{
    container_stats_of(cri, call, ((const Runtime__V1__StreamContainerStatsRequest *)req)->filter,
                       true);
}

/* A pod and its containers; the network from a process in its namespace (its infra, or one of
 * its running containers). */
static void add_pod(struct stats_work *w, struct cri *cri, struct pod *p)
{
    struct pod_item *it = &w->pods[w->n_pods++];
    it->id = xstrdup(p->id);
    const struct stats_cache *sc = fresh(cri, p->stats_cache);
    if (sc) {
        from_cache(&it->s, sc);
        memcpy(it->ifs, sc->ifs, sizeof(it->ifs));
        it->n_ifs = sc->n_ifs;
        it->have_net = sc->have_net;
        it->net_at = sc->net_at;
    } else if (p->cgroup_parent && *p->cgroup_parent) {
        it->s.cgroup = xstrdup(p->cgroup_parent);
    }
    it->net_pid = p->host_network ? 0 : p->infra_pid;
    it->first_ctr = w->n_ctrs;
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (strcmp(c->pod_id, p->id) != 0)
            continue;
        add_ctr(w, c);
        if (!it->net_pid && !p->host_network && c->state == CRI_CTR_RUNNING && c->pid > 0)
            it->net_pid = c->pid;
    }
    it->n_ctrs = w->n_ctrs - it->first_ctr;
}

void cri_pod_sandbox_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__PodSandboxStatsRequest *r = (const void *)req;
    struct pod *p = cri_pod_find(cri, r->pod_sandbox_id);
    if (!p)
        return reply_not_found(call, "pod sandbox", r->pod_sandbox_id);
    struct stats_work *w = work_new(cri, n_ctrs_of(cri), 1);
    w->kind = ONE_POD;
    add_pod(w, cri, p);
    sample(cri, call, w);
}

static void pod_stats_of(struct cri *cri, struct grpc_call *call,
                         const Runtime__V1__PodSandboxStatsFilter *f, bool stream)
{
    SELECTOR(f, keys, values);
    size_t n = 0;
    for (struct pod *p = cri->pods; p; p = p->next)
        n++;
    struct stats_work *w = work_new(cri, n_ctrs_of(cri), n);
    w->kind = stream ? POD_STREAM : POD_LIST;
    for (struct pod *p = cri->pods; p; p = p->next) {
        if (f && *f->id && strncmp(p->id, f->id, strlen(f->id)) != 0)
            continue;
        if (pod_labels_match(p->config->labels, p->config->n_labels, keys, values, n_sel))
            add_pod(w, cri, p);
    }
    sample(cri, call, w);
}

void cri_list_pod_sandbox_stats(struct cri *cri, struct grpc_call *call,
                                const ProtobufCMessage *req)
{
    pod_stats_of(cri, call, ((const Runtime__V1__ListPodSandboxStatsRequest *)req)->filter, false);
}

void cri_stream_pod_sandbox_stats(struct cri *cri, struct grpc_call *call,
                                  const ProtobufCMessage *req)
{
    pod_stats_of(cri, call, ((const Runtime__V1__StreamPodSandboxStatsRequest *)req)->filter, true);
}

void cri_stats_sample_pods(struct cri *cri, struct grpc_call *call, enum stats_kind kind)
{
    size_t n = 0;
    for (struct pod *p = cri->pods; p; p = p->next)
        n++;
    struct stats_work *w = work_new(cri, n_ctrs_of(cri), n);
    w->kind = kind;
    for (struct pod *p = cri->pods; p; p = p->next)
        add_pod(w, cri, p);
    sample(cri, call, w);
}
