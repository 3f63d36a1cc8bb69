/* The container registry of cri/: containers, their persisted records, and the RuntimeService's
 * container calls. */
#ifndef CRIB_CRI_CONTAINER_H
#define CRIB_CRI_CONTAINER_H

#include <stdbool.h>
#include <stdint.h>

#include "cri/cri-internal.h"
#include "cri/ctr-state.h"
#include "cri/opqueue.h"
#include "monitor/monitor.h"
#include "oci/oci.h"
#include "proto/runtime.pb-c.h"

struct ctr_exit_waiter;
struct stats_cache;

struct ctr {
    struct cri *cri;
    char *id, *pod_id;
    Runtime__V1__ContainerConfig *config;        /* owned, unpacked; resources follow updates */
    enum cri_ctr_state state;                    /* moved by ctr_fire (container.c) only */
    int64_t created_at, started_at, finished_at; /* unix ns */
    int32_t exit_code;
    char *reason, *message;
    char *image_id;   /* "sha256:<hex>" */
    char *image_ref;  /* a repo digest of the image, else its ID */
    char *image_name; /* what the config asked for */
    char **layers;    /* chain IDs under the rootfs */
    size_t n_layers;
    char *run_dir;  /* runroot/containers/<id>: bundle, FIFOs */
    char *log_path; /* the CRI log file, "" if none */
    char *runtime;  /* runtime handler name */
    char *cgroups_path, *oom_file;
    char *stop_signal;
    int stop_signo;
    int pid;
    int64_t pid_start; /* monitor_proc_start_time of pid */
    struct monitor_ctr *mon;
    unsigned refs;
    struct cri_opqueue ops; /* one operation at a time, the others wait */
    struct ctr_exit_waiter *exit_waiters;
    uv_timer_t *kill_timer;
    uv_timer_t *sig_timer; /* sends the stop signal once PID 1 can take it */
    bool sig_sent;         /* the stop signal went to the container's own process */
    /* stats.c: the previous CPU sample (usage_nano_cores), the last sample, the writable
     * layer's last walk */
    struct stats_cpu_prev prev_cpu;
    struct stats_cache *stats_cache; /* the last sample, served again within the period */
    uint64_t fs_bytes, fs_inodes;
    int64_t fs_walked_at; /* monotonic ns; 0: never */
    struct ctr *prev, *next;
};

/* A container's status as the CRI reports it (container-status.c). It points into c and into
 * itself: it is not copied, and lives no longer than c. */
struct ctr_status_msg {
    Runtime__V1__ContainerStatus st;
    Runtime__V1__ImageSpec image;
    Runtime__V1__ContainerResources res;
};
void cri_ctr_status_fill(struct ctr *c, struct ctr_status_msg *m);
void cri_ctr_status_done(struct ctr_status_msg *m);

/* The runtime of a handler name. */
int cri_runtime_of(struct cri *cri, const char *handler, struct oci_runtime *ret, struct err *err);
struct ctr *cri_ctr_find(struct cri *cri, const char *id);
struct ctr *cri_ctr_ref(struct ctr *c);
void cri_ctr_unref(struct ctr *c);
void cri_ctr_persist(struct ctr *c);
struct pod;
/* What the monitor of c, a container of p, is made with (a new one, or one re-adopted). */
struct monitor_ctr_opts cri_ctr_monitor_opts(struct ctr *c, const struct pod *p);
/* The runtime's `create` has returned: the container enters created (record, event). */
void cri_ctr_created(struct ctr *c);

/* container-exec.c */
/* The container, if it exists and runs; else NULL and err says which is wrong. */
struct ctr *cri_ctr_running(struct cri *cri, const char *id, struct err *err);
/* The running container an exec of n_cmd arguments goes to; NULL with err when there is none
 * or no command. */
struct ctr *cri_ctr_exec_target(struct cri *cri, const char *id, size_t n_cmd, struct err *err);
void cri_exec_sync(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_update_container_resources(struct cri *cri, struct grpc_call *call,
                                    const ProtobufCMessage *req);
void cri_reopen_container_log(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);

/* container-stream.c: Exec, Attach, PortForward and the streaming server's backend. */
void cri_exec(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_attach(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
void cri_port_forward(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req);
int cri_stream_start(struct cri *cri, struct err *err);
void cri_stream_stop(struct cri *cri);

#endif
