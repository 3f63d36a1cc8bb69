/* ContainerStats and ListContainerStats: each container's cgroup files and writable layer, read
 * on the thread pool (never on the loop); usage_nano_cores from the previous sample kept with the
 * container. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/fsutil.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "oci/cgroup-stats.h"
#include "oci/cgroup.h"
#include "storage/storage.h"

/* A writable layer is walked again once its last walk is this old. */
#define FS_WALK_TTL_NS (2 * 1000000000LL)

/* One container's sample: its inputs copied on the loop, filled on the pool. */
struct item {
    struct ctr *c;
    char *cgroup; /* below each hierarchy's root; NULL: none (not created yet, or gone) */
    char *upper;  /* to walk; NULL: the cached walk is fresh */
    struct oci_cgroup_stats cg;
    int cg_rc;
    uint64_t fs_bytes, fs_inodes;
    int fs_rc;
    int64_t at; /* unix ns */
};

struct stats_work {
    uv_work_t req;
    struct cri *cri;
    struct grpc_call *call;
    bool v2, single;
    char *root;       /* the layer store: its mount point is the writable layers' fs_id */
    char *mountpoint; /* found on the pool */
    struct item *items;
    size_t n;
};

static void do_sample(uv_work_t *req)
{
    struct stats_work *w = container_of(req, struct stats_work, req);
    w->mountpoint = fs_mount_point(w->root);
    for (size_t i = 0; i < w->n; i++) {
        struct item *it = &w->items[i];
        it->at = now_unix_ns();
        it->cg_rc = it->cgroup ? oci_cgroup_stats_read("/sys/fs/cgroup", it->cgroup, w->v2, &it->cg)
                               : -ENOENT;
        if (it->upper)
            it->fs_rc = fs_usage(it->upper, &it->fs_bytes, &it->fs_inodes);
    }
}

/* The protobuf of one sample: every message it points to lives here. */
struct pb_stats {
    Runtime__V1__ContainerStats s;
    Runtime__V1__ContainerAttributes attr;
    Runtime__V1__CpuUsage cpu;
    Runtime__V1__MemoryUsage mem;
    Runtime__V1__SwapUsage swap;
    Runtime__V1__IoUsage io;
    Runtime__V1__FilesystemUsage fs;
    Runtime__V1__FilesystemIdentifier fs_id;
    Runtime__V1__UInt64Value v[12];
    size_t n_v;
    Runtime__V1__PsiStats psi[3];
    Runtime__V1__PsiData psi_data[6];
};

static Runtime__V1__UInt64Value *u64(struct pb_stats *p, uint64_t value)
{
    Runtime__V1__UInt64Value *v = &p->v[p->n_v++];
    *v = (Runtime__V1__UInt64Value)RUNTIME__V1__UINT64_VALUE__INIT;
    v->value = value;
    return v;
}

static Runtime__V1__PsiStats *psi(struct pb_stats *p, size_t k, const struct oci_psi *from)
{
    if (!from->have)
        return NULL;
    Runtime__V1__PsiStats *s = &p->psi[k];
    *s = (Runtime__V1__PsiStats)RUNTIME__V1__PSI_STATS__INIT;
    const struct oci_psi_line *lines[2] = {&from->some, from->have_full ? &from->full : NULL};
    for (size_t j = 0; j < 2; j++) {
        if (!lines[j])
            continue;
        Runtime__V1__PsiData *d = &p->psi_data[2 * k + j];
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

/* The CPU rate since the container's previous sample (kept for the next one). */
static bool nano_cores(struct ctr *c, const struct item *it, uint64_t *ret)
{
    bool have =
        c->prev_cpu_at > 0 && it->at > c->prev_cpu_at && it->cg.cpu_usage_ns >= c->prev_cpu_ns;
    if (have)
        *ret = (uint64_t)((double)(it->cg.cpu_usage_ns - c->prev_cpu_ns) * 1e9 /
                          (double)(it->at - c->prev_cpu_at));
    c->prev_cpu_ns = it->cg.cpu_usage_ns;
    c->prev_cpu_at = it->at;
    return have;
}

static void fill(struct pb_stats *p, struct stats_work *w, struct item *it)
{
    struct ctr *c = it->c;
    const struct oci_cgroup_stats *cg = &it->cg;
    *p = (struct pb_stats){.s = RUNTIME__V1__CONTAINER_STATS__INIT,
                           .attr = RUNTIME__V1__CONTAINER_ATTRIBUTES__INIT};
    p->attr.id = c->id;
    p->attr.metadata = c->config->metadata;
    CRI_COPY_MAP(p->attr.labels, p->attr.n_labels, c->config->labels, c->config->n_labels,
                 RUNTIME__V1__CONTAINER_ATTRIBUTES__LABELS_ENTRY__INIT);
    CRI_COPY_MAP(p->attr.annotations, p->attr.n_annotations, c->config->annotations,
                 c->config->n_annotations,
                 RUNTIME__V1__CONTAINER_ATTRIBUTES__ANNOTATIONS_ENTRY__INIT);
    p->s.attributes = &p->attr;
    if (it->cg_rc == 0 && cg->have_cpu) {
        p->cpu = (Runtime__V1__CpuUsage)RUNTIME__V1__CPU_USAGE__INIT;
        p->cpu.timestamp = it->at;
        p->cpu.usage_core_nano_seconds = u64(p, cg->cpu_usage_ns);
        uint64_t rate;
        if (nano_cores(c, it, &rate))
            p->cpu.usage_nano_cores = u64(p, rate);
        p->cpu.psi = psi(p, 0, &cg->cpu_psi);
        p->s.cpu = &p->cpu;
    }
    if (it->cg_rc == 0 && cg->have_memory) {
        p->mem = (Runtime__V1__MemoryUsage)RUNTIME__V1__MEMORY_USAGE__INIT;
        p->mem.timestamp = it->at;
        p->mem.working_set_bytes = u64(p, cg->mem_working_set);
        p->mem.usage_bytes = u64(p, cg->mem_usage);
        p->mem.rss_bytes = u64(p, cg->mem_rss);
        p->mem.page_faults = u64(p, cg->mem_pgfault);
        p->mem.major_page_faults = u64(p, cg->mem_pgmajfault);
        if (cg->mem_limit)
            p->mem.available_bytes = u64(
                p, cg->mem_limit > cg->mem_working_set ? cg->mem_limit - cg->mem_working_set : 0);
        p->mem.psi = psi(p, 1, &cg->memory_psi);
        p->s.memory = &p->mem;
    }
    if (it->cg_rc == 0 && cg->have_swap) {
        p->swap = (Runtime__V1__SwapUsage)RUNTIME__V1__SWAP_USAGE__INIT;
        p->swap.timestamp = it->at;
        p->swap.swap_usage_bytes = u64(p, cg->swap_usage);
        if (cg->swap_limit)
            p->swap.swap_available_bytes =
                u64(p, cg->swap_limit > cg->swap_usage ? cg->swap_limit - cg->swap_usage : 0);
        p->s.swap = &p->swap;
    }
    if (it->cg_rc == 0 && cg->io_psi.have) {
        p->io = (Runtime__V1__IoUsage)RUNTIME__V1__IO_USAGE__INIT;
        p->io.timestamp = it->at;
        p->io.psi = psi(p, 2, &cg->io_psi);
        p->s.io = &p->io;
    }
    if (it->upper && it->fs_rc == 0) {
        c->fs_bytes = it->fs_bytes;
        c->fs_inodes = it->fs_inodes;
        c->fs_walked_at = (int64_t)uv_hrtime();
    }
    if (c->fs_walked_at) {
        p->fs = (Runtime__V1__FilesystemUsage)RUNTIME__V1__FILESYSTEM_USAGE__INIT;
        p->fs_id = (Runtime__V1__FilesystemIdentifier)RUNTIME__V1__FILESYSTEM_IDENTIFIER__INIT;
        p->fs_id.mountpoint = w->mountpoint ? w->mountpoint : w->root;
        p->fs.timestamp = it->at;
        p->fs.fs_id = &p->fs_id;
        p->fs.used_bytes = u64(p, c->fs_bytes);
        p->fs.inodes_used = u64(p, c->fs_inodes);
        p->s.writable_layer = &p->fs;
    } else if (it->upper) {
        log_debug("container %s: its writable layer: %s", c->id, strerror(-it->fs_rc));
    }
}

static void on_sampled(uv_work_t *req, int status)
{
    struct stats_work *w = container_of(req, struct stats_work, req);
    (void)status; /* a cancelled walk still answers, with what is cached */
    struct pb_stats *pbs = xcalloc(w->n + 1, sizeof(*pbs));
    Runtime__V1__ContainerStats **list = xcalloc(w->n + 1, sizeof(*list));
    for (size_t i = 0; i < w->n; i++) {
        fill(&pbs[i], w, &w->items[i]);
        list[i] = &pbs[i].s;
    }
    if (w->single) {
        Runtime__V1__ContainerStatsResponse resp = RUNTIME__V1__CONTAINER_STATS_RESPONSE__INIT;
        resp.stats = list[0];
        cri_reply(w->call, &resp.base);
    } else {
        Runtime__V1__ListContainerStatsResponse resp =
            RUNTIME__V1__LIST_CONTAINER_STATS_RESPONSE__INIT;
        resp.stats = list;
        resp.n_stats = w->n;
        cri_reply(w->call, &resp.base);
    }
    for (size_t i = 0; i < w->n; i++) {
        cri_free_map((void **)pbs[i].attr.labels, pbs[i].attr.n_labels);
        cri_free_map((void **)pbs[i].attr.annotations, pbs[i].attr.n_annotations);
        free(w->items[i].cgroup);
        free(w->items[i].upper);
        cri_ctr_unref(w->items[i].c);
    }
    free(pbs);
    free(list);
    reactor_grpc_call_unref(w->call);
    free(w->items);
    free(w->root);
    free(w->mountpoint);
    free(w);
}

static void add_item(struct stats_work *w, struct ctr *c)
{
    struct item *it = &w->items[w->n++];
    it->c = cri_ctr_ref(c);
    /* The cgroup exists while the container has a process: once created, until removed. */
    if (c->cgroups_path && c->state != CRI_CTR_EXITED)
        it->cgroup = oci_cgroup_fs_path(c->cgroups_path);
    int64_t now = (int64_t)uv_hrtime();
    if (!c->fs_walked_at || now - c->fs_walked_at >= FS_WALK_TTL_NS)
        it->upper = storage_rootfs_upper(c->cri->storage, c->id);
}

static void sample(struct cri *cri, struct grpc_call *call, struct stats_work *w)
{
    w->cri = cri;
    w->call = reactor_grpc_call_ref(call);
    w->v2 = oci_cgroup_is_v2();
    w->root = xstrdup(storage_layers_dir(cri->storage));
    uv_queue_work(cri->loop, &w->req, do_sample, on_sampled);
}

void cri_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ContainerStatsRequest *r = (const void *)req;
    struct err err = ERR_INIT;
    struct ctr *c = cri_ctr_find(cri, r->container_id);
    if (!c) {
        err_set(&err, -ENOENT, "container `%s` not found", r->container_id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct stats_work *w = xcalloc(1, sizeof(*w));
    w->single = true;
    w->items = xcalloc(1, sizeof(*w->items));
    add_item(w, c);
    sample(cri, call, w);
}

static bool matches(const struct ctr *c, const Runtime__V1__ContainerStatsFilter *f)
{
    if (!f)
        return true;
    if (*f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
        return false;
    if (*f->pod_sandbox_id && strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)))
        return false;
    for (size_t i = 0; i < f->n_label_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < c->config->n_labels && !found; k++)
            found = strcmp(c->config->labels[k]->key, f->label_selector[i]->key) == 0 &&
                    strcmp(c->config->labels[k]->value, f->label_selector[i]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}

void cri_list_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListContainerStatsRequest *r = (const void *)req;
    size_t n = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        n++;
    struct stats_work *w = xcalloc(1, sizeof(*w));
    w->items = xcalloc(n + 1, sizeof(*w->items));
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        if (matches(c, r->filter))
            add_item(w, c);
    sample(cri, call, w);
}
