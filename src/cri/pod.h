/* The pod registry of cri/: pods, their persisted records, and the RuntimeService's pod calls. */
#ifndef CRIB_CRI_POD_H
#define CRIB_CRI_POD_H

#include <stdbool.h>
#include <stdint.h>

#include "cri/opqueue.h"
#include "network/network.h"
#include "proto/runtime.pb-c.h"

enum pod_state { POD_READY, POD_NOTREADY };

struct stats_cache;

struct pod {
    struct cri *cri;
    char *id;
    int64_t created_at; /* unix ns */
    enum pod_state state;
    char *handler;
    Runtime__V1__PodSandboxConfig *config; /* owned, unpacked */
    char *config_b64;                      /* what the record keeps */
    char *run_dir;                         /* runroot/pods/<id> */
    unsigned pinned;                       /* NETWORK_NS_* pinned under run_dir/ns */
    bool host_network, host_ipc, host_pid, pod_pid;
    bool network_added;
    struct network_attachment att;
    bool shm_mounted;
    char *cgroup_parent;    /* relative to each hierarchy's root, "" if none */
    char **cgroups_created; /* cgroup directories made for this pod, removed with it */
    size_t n_cgroups_created;
    int infra_pid; /* PID 1 of a shared PID namespace (NamespaceMode POD), or 0 */
    bool lost;     /* its run state did not survive (a reboot): NOTREADY, containers exited */
    struct reactor_pid *infra_watch;
    struct cri_opqueue ops;          /* one operation at a time, the others wait */
    struct stats_cpu_prev prev_cpu;  /* stats.c: the previous CPU sample (usage_nano_cores) */
    struct stats_cache *stats_cache; /* stats.c: the last sample, served again within the period */
    struct pod *prev, *next;
};

/* A pod's status as the CRI reports it, with the storage its pointers use (pod-status.c). It
 * points into p and into itself: it is not copied, and lives no longer than p. */
struct pod_status_msg {
    Runtime__V1__PodSandboxStatus st;
    Runtime__V1__PodSandboxNetworkStatus net;
    Runtime__V1__PodIP *extra, **extra_ptrs;
    Runtime__V1__LinuxPodSandboxStatus lin;
    Runtime__V1__Namespace ns;
    Runtime__V1__NamespaceOption nso;
};
void cri_pod_status_fill(const struct pod *p, struct pod_status_msg *m);
void cri_pod_status_done(struct pod_status_msg *m);

/* Free p and what it owns (NULL-safe); its infra watch is forgotten. */
void cri_pod_free(struct pod *p);

#endif
