/* The sample stats.c takes on the thread pool (cgroup files, writable layers, the pods' interface
 * counters), shared with pod-metrics.c, which answers the metrics calls from the same sample. */
#ifndef CRIB_CRI_STATS_H
#define CRIB_CRI_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cri/cri-internal.h"
#include "network/network.h"
#include "oci/cgroup-stats.h"

/* A writable layer is walked again once its last walk is this old. */
#define FS_WALK_TTL_NS (2 * 1000000000LL)
/* Interfaces reported per pod. */
#define MAX_IFS 16
/* The interface CNI gives a pod (CNI_IFNAME). */
#define DEFAULT_IF "eth0"
/* Server-streaming answers go in messages of at most this many bytes (one item at least): far
 * below any client's limit however many containers and pods a node runs. */
#define BATCH_BYTES (1u << 20)

/* One cgroup's sample: the path copied on the loop, the files read on the pool. */
struct cg_sample {
    char *cgroup; /* below each hierarchy's root; NULL: none (not created yet, or gone) */
    bool cached;  /* taken from the stats cache: nothing to read */
    struct oci_cgroup_stats cg;
    int rc;
    int64_t at; /* unix ns */
};

/* A container's or pod's last sample, served again while it is younger than
 * stats_collection_period (a pod's network with it). */
struct stats_cache {
    int64_t taken; /* monotonic ns */
    struct oci_cgroup_stats cg;
    int rc;
    int64_t at;
    struct network_if_usage ifs[MAX_IFS];
    size_t n_ifs;
    bool have_net;
    int64_t net_at;
};

struct ctr_item {
    struct ctr *c;
    struct cg_sample s;
    char *upper; /* to walk; NULL: the cached walk is fresh */
    uint64_t fs_bytes, fs_inodes;
    int fs_rc;
};

struct pod_item {
    char *id; /* found again on the loop: the pod may be gone by then */
    struct cg_sample s;
    int net_pid; /* a process in the pod's network namespace; 0: none */
    struct network_if_usage ifs[MAX_IFS];
    size_t n_ifs;
    bool have_net;
    int64_t net_at;
    size_t first_ctr, n_ctrs; /* its containers in the work's ctrs */
};

enum stats_kind {
    ONE_CTR,
    CTR_LIST,
    CTR_STREAM,
    ONE_POD,
    POD_LIST,
    POD_STREAM,
    METRICS_LIST,
    METRICS_STREAM
};

/* A sample is read in this many pieces at most (libuv's pool has 4 threads by default). */
#define STATS_CHUNKS 4

/* A piece of a sample: the containers [ctr0, ctr1) and the pods [pod0, pod1). */
struct stats_chunk {
    uv_work_t req;
    struct stats_work *w;
    size_t ctr0, ctr1, pod0, pod1;
};

struct stats_work {
    struct stats_chunk *chunks; /* the first also finds the store's mount point and space */
    size_t pending;             /* chunks not read yet */
    struct cri *cri;
    struct grpc_call *call;
    bool v2;
    enum stats_kind kind;
    char *root;       /* the layer store: its mount point is the writable layers' fs_id */
    char *mountpoint; /* found on the pool */
    bool have_space;  /* the store's file system: its size, its inodes and those free */
    uint64_t fs_size, fs_inodes, fs_inodes_free;
    struct ctr_item *ctrs;
    size_t n_ctrs;
    struct pod_item *pods;
    size_t n_pods;
};

/* A batch list[0..k) as one response message, packed. */
typedef size_t (*pack_batch_fn)(void *const *list, size_t k, uint8_t **ret);
/* Send list[0..n) in messages of at most BATCH_BYTES, then finish the call. */
void cri_stats_stream_batches(struct grpc_call *call, void *const *list, size_t n,
                              pack_batch_fn pack);

/* stats.c: sample every pod and its containers, then answer with cri_metrics_reply (kind is
 * METRICS_LIST or METRICS_STREAM). */
void cri_stats_sample_pods(struct cri *cri, struct grpc_call *call, enum stats_kind kind);

/* pod-metrics.c: answer ListPodSandboxMetrics or StreamPodSandboxMetrics from the sample. */
void cri_metrics_reply(struct stats_work *w);

#endif
