/* Shared between cri/'s files: the service state, handlers and reply helpers. */
#ifndef CRIB_CRI_INTERNAL_H
#define CRIB_CRI_INTERNAL_H

#include <protobuf-c/protobuf-c.h>

#include "common/err.h"
#include "common/metrics.h"
#include "cri/cri.h"
#include "oci/oci.h"
#include "proto/runtime.pb-c.h"

/* The largest pod or container record read back at start. */
#define CRI_RECORD_MAX (4u << 20)

struct status_waiter;
struct event_sub;
struct pod;

/* stats.c: a container's or pod's previous CPU sample, and the rate it gave. */
struct stats_cpu_prev {
    uint64_t ns;
    int64_t at; /* unix ns; 0: none yet */
    uint64_t nano_cores;
    bool have_rate;
};

/* prometheus.c: one CRI method's calls, as they ended. */
struct cri_op_stats {
    uint64_t calls;
    uint64_t errors[17]; /* by gRPC status; [0] stays 0 */
    struct metrics_hist latency;
};

/* prometheus.c: OOM kills of containers of one name. */
struct cri_oom_count {
    char *name;
    uint64_t n;
};

struct cri {
    uv_loop_t *loop;
    const struct config *cfg;
    struct reactor_server *srv;
    struct reactor_keeper *keeper; /* NULL when the daemon runs without one */
    /* Status: one runtime probe at a time; calls wait for it. */
    struct status_waiter *status_waiters;
    struct reactor_child *status_probe;
    struct event_sub *event_subs;
    char *pod_cidr;
    bool shutting_down;
    struct storage *storage;
    struct image_service *images;
    struct network *network;
    struct pod *pods;     /* the pod registry */
    struct pod *creating; /* RunPodSandbox calls in flight */
    struct reactor_fileq *pod_writes;
    char *pods_dir; /* root/pods: records */
    char *pods_run; /* runroot/pods: namespaces, files, shm */
    char *self_exe; /* this binary, for its subcommands */
    struct monitor *monitor;
    struct ctr *ctrs;          /* the container registry */
    struct ctr *creating_ctrs; /* CreateContainer calls in flight */
    struct reactor_fileq *ctr_writes;
    char *ctrs_dir;            /* root/containers: records */
    char *ctrs_run;            /* runroot/containers: bundles, FIFOs */
    int oom_score_adj_min;     /* the daemon's own oom_score_adj */
    struct oci_lsm lsm;        /* AppArmor and SELinux on this host */
    struct reactor_pids *pids; /* every process watched through a pidfd */
    struct stream_server *stream;
    /* prometheus.c */
    struct cri_op_stats *op_stats; /* one per method of service.c's table */
    uint64_t oom_total;
    struct cri_oom_count *oom_by_name;
    size_t n_oom_by_name;
    struct reactor_server *metrics_srv; /* the TCP listener, or NULL */
    uv_timer_t *lag_timer;
    uint64_t lag_expected; /* uv_hrtime of the next tick */
    struct metrics_hist loop_lag;
};

typedef void (*cri_handler_fn)(struct cri *cri, struct grpc_call *call,
                               const ProtobufCMessage *req);

/* Pack and send resp, then finish the call with OK. */
void cri_reply(struct grpc_call *call, const ProtobufCMessage *resp);
/* Finish the call with the gRPC status for err's errno and its message. */
void cri_reply_err(struct grpc_call *call, const struct err *err);

/* The config's label and annotation entries share the layout of every other map entry type. */
#define CRI_COPY_MAP(dst, n_dst, src, n_src, init)                                                 \
    do {                                                                                           \
        (n_dst) = (n_src);                                                                         \
        (dst) = xcalloc((n_src) + 1, sizeof(*(dst)));                                              \
        for (size_t i_ = 0; i_ < (n_src); i_++) {                                                  \
            (dst)[i_] = xmalloc(sizeof(*(dst)[i_]));                                               \
            *(dst)[i_] = (typeof(*(dst)[i_]))init;                                                 \
            (dst)[i_]->key = (src)[i_]->key;                                                       \
            (dst)[i_]->value = (src)[i_]->value;                                                   \
        }                                                                                          \
    } while (0)

/* Free what CRI_COPY_MAP made. */
void cri_free_map(void **entries, size_t n);
enum grpc_status cri_status_from_errno(int code);

/* runtime-info.c */
void cri_version(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_runtime_config(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_update_runtime_config(struct cri *cri, struct grpc_call *call,
                               const ProtobufCMessage *req);

/* events.c */
void cri_get_container_events(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
/* Tell every GetContainerEvents subscriber of type for id: a container of pod p, or p itself
 * (id is p's; the kubelet takes a DELETED event for the pod's id as the pod's removal). */
void cri_events_publish(struct cri *cri, const char *id, const struct pod *p,
                        Runtime__V1__ContainerEventType type);
void cri_events_shutdown(struct cri *cri);

/* image.c */
void cri_image_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_list_images(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_remove_image(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_pull_image(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_image_fs_info(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);

/* pod.c */
void cri_run_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_stop_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_remove_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_pod_sandbox_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_list_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
int cri_pods_load(struct cri *cri, struct err *err);
void cri_pods_free(struct cri *cri);
void cri_pods_shutdown(struct cri *cri);
void cri_pods_check(struct cri *cri);
/* After a restart: undo what CreateContainer calls a daemon's death interrupted had made. */
void cri_ctrs_undo_unfinished(struct cri *cri);
/* After a restart: undo what RunPodSandbox calls a daemon's death interrupted had made. */
void cri_pods_undo_unfinished(struct cri *cri);

struct pod *cri_pod_find(struct cri *cri, const char *id);

/* container-create.c */
void cri_create_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
/* container.c */
void cri_start_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_stop_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_remove_container(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
/* container-status.c */
void cri_container_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_list_containers(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
/* stats.c */
void cri_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_list_container_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_pod_sandbox_stats(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_list_pod_sandbox_stats(struct cri *cri, struct grpc_call *call,
                                const ProtobufCMessage *req);
void cri_stream_container_stats(struct cri *cri, struct grpc_call *call,
                                const ProtobufCMessage *req);
void cri_stream_pod_sandbox_stats(struct cri *cri, struct grpc_call *call,
                                  const ProtobufCMessage *req);
/* pod-metrics.c */
void cri_list_metric_descriptors(struct cri *cri, struct grpc_call *call,
                                 const ProtobufCMessage *req);
void cri_list_pod_sandbox_metrics(struct cri *cri, struct grpc_call *call,
                                  const ProtobufCMessage *req);
void cri_stream_pod_sandbox_metrics(struct cri *cri, struct grpc_call *call,
                                    const ProtobufCMessage *req);
/* container.c */
int cri_ctrs_load(struct cri *cri, struct err *err);
void cri_ctrs_shutdown(struct cri *cri);
void cri_ctrs_free(struct cri *cri);
/* Kill the pod's containers (and with remove, remove them); done runs when they are gone. */
void cri_ctrs_stop_pod(struct cri *cri, const char *pod_id, bool remove, void (*done)(void *data),
                       void *data);
bool cri_ctrs_in_pod(struct cri *cri, const char *pod_id);

/* http.c */
void cri_http_request(void *data, const struct http1_request *req, struct http1_response *resp);

/* service.c: the methods of the CRI it routes (paths, in table order). */
size_t cri_method_count(void);
const char *cri_method_path(size_t i);
/* The index of path in that table, or -1. */
int cri_method_index(const char *path);

/* prometheus.c */
int cri_prometheus_start(struct cri *cri, struct err *err);
void cri_prometheus_stop(struct cri *cri);
void cri_prometheus_free(struct cri *cri);
/* A call the CRI socket handled ended (reactor_server_ops.grpc_done). */
void cri_prometheus_call_done(void *data, const char *path, enum grpc_status status,
                              uint64_t elapsed_ns);
/* A container was OOM-killed. */
void cri_prometheus_oom(struct cri *cri, const char *name);
/* The exposition; GET (or HEAD) /metrics answered with it. */
void cri_prometheus_write(struct cri *cri, struct buf *out);
void cri_prometheus_request(struct cri *cri, const struct http1_request *req,
                            struct http1_response *resp);
#endif
