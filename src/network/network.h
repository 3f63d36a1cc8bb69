/* Pod networking: namespaces pinned by a short-lived cribd subcommand (no infra process) and
 * CNI plugins run for each pod. */
#ifndef CRIB_NETWORK_H
#define CRIB_NETWORK_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common/metrics.h"
#include "common/err.h"

/* ---- namespaces ---- */

enum network_ns { NETWORK_NS_NET = 1, NETWORK_NS_IPC = 2, NETWORK_NS_UTS = 4 };

struct network_pin_opts {
    const char *self_exe; /* the cribd binary, which runs `cribd ns-pin` */
    const char *dir;      /* the pin files go to dir/net, dir/ipc, dir/uts */
    unsigned namespaces;  /* NETWORK_NS_* */
    const char *hostname; /* set in the new UTS namespace */
    char *const *sysctls; /* "key=value", applied inside the new namespaces */
    size_t n_sysctls;
};

typedef void (*network_done_cb)(int status, struct err *err, void *data);
/* Create and pin the namespaces (a child process, with a timeout). */
int network_ns_pin(uv_loop_t *loop, const struct network_pin_opts *o, network_done_cb cb,
                   void *data);
/* Unmount and remove the pin files under dir (what exists of them). Fast syscalls, inline. */
int network_ns_unpin(const char *dir, struct err *err);
/* The `cribd ns-pin` subcommand itself (runs in its own process). */
int network_ns_pin_main(int argc, char **argv);
/* Whether a sysctl may be set for a pod, and in which namespace; -EINVAL with the reason. */
int network_sysctl_check(const char *key, bool host_network, bool host_ipc, struct err *err);

/* ---- the infra process of a shared PID namespace ---- */

typedef void (*network_infra_cb)(int status, int pid, struct err *err, void *data);
/* Start `cribd infra`: a PID 1 in a new PID namespace, in the pod's namespaces pinned under
 * nsdir, with no privilege and an empty root of its own; cb gets its pid (in ours). */
int network_infra_start(uv_loop_t *loop, const char *self_exe, const char *nsdir,
                        network_infra_cb cb, void *data);
/* The `cribd infra` subcommand itself. */
int network_infra_main(int argc, char **argv);
/* SIGKILL the infra process pid, if the pid is still that process (not a recycled pid). */
void network_infra_kill(int pid);
/* SIGKILL the helpers started for nsdir (`cribd infra` and `cribd ns-pin`, of a pod whose
 * RunPodSandbox was cut short: nobody recorded their pids) and wait until each has ended. */
void network_helpers_kill_of(const char *nsdir);

/* ---- the pod's files under its run directory ---- */

/* A pod's DNSConfig: resolv.conf's search, nameserver and options lines. */
struct network_dns {
    char *const *servers;
    size_t n_servers;
    char *const *searches;
    size_t n_searches;
    char *const *options;
    size_t n_options;
};

/* The pod's hostname: the node's on the host network; else wanted when set, else the node's (as
 * containerd does); "localhost" when the node's cannot be read. buf holds the node's. */
const char *network_pod_files_hostname(bool host_network, const char *wanted, char *buf,
                                       size_t len);
/* dir/hostname, dir/hosts (localhost, and each of ips as hostname) and dir/resolv.conf (from
 * dns, or the node's when dns is NULL or empty). Small files, inline. */
int network_pod_files_write(const char *dir, const char *hostname, char *const *ips, size_t n_ips,
                            const struct network_dns *dns, struct err *err);
/* The pod's /dev/shm: a tmpfs at dir/shm. */
int network_pod_files_mount_shm(const char *dir, struct err *err);
/* Detach dir/shm; not being mounted is no error. */
int network_pod_files_unmount_shm(const char *dir, struct err *err);
/* Remove the pod files, dir/shm, dir/ns (when empty) and dir itself. */
int network_pod_files_remove(const char *dir, struct err *err);
/* Whether what the pod keeps under dir is gone, as after a reboot (/run is a tmpfs): dir, a
 * namespace pin of pinned (NETWORK_NS_*) that is no longer an nsfs mount, or a mounted shm. */
bool network_pod_files_gone(const char *dir, unsigned pinned, bool shm_mounted);

/* ---- CNI ---- */

/* A nonblocking TCP socket of family (AF_INET, AF_INET6) in the network namespace at netns
 * (NULL: the node's), made on the thread pool; cb gets it (ours) or a negative errno. */
typedef void (*network_socket_cb)(int fd, struct err *err, void *data);
void network_socket_in(uv_loop_t *loop, const char *netns, int family, network_socket_cb cb,
                       void *data);

struct network;

struct network_opts {
    const char *conf_dir;
    char *const *plugin_dirs;
    size_t n_plugin_dirs;
    const char *default_network; /* "" for the first by name */
    uint64_t timeout_ms;         /* per plugin */
};

struct network_port {
    int32_t host_port, container_port;
    const char *protocol; /* "tcp", "udp", "sctp" */
    const char *host_ip;
};

struct network_pod {
    const char *id;    /* CNI_CONTAINERID */
    const char *netns; /* CNI_NETNS */
    const char *name, *namespace_, *uid;
    const struct network_port *ports;
    size_t n_ports;
    const char *pod_cidr;
    int64_t ingress_rate, egress_rate; /* bits/s, 0 none */
};

struct network_attachment {
    char *conflist; /* the configuration used, kept for DEL */
    char *result;   /* the ADD result, kept for DEL and CHECK */
    char **ips;
    size_t n_ips;
};

void network_attachment_done(struct network_attachment *a);

int network_new(uv_loop_t *loop, const struct network_opts *opts, struct network **ret);
/* Close the loop handles (on the loop, before network_free). */
void network_shutdown(struct network *n);
void network_free(struct network *n);

typedef void (*network_add_cb)(int status, struct network_attachment *att, struct err *err,
                               void *data);
/* ADD through every plugin of the chosen network, in order; on failure the plugins that
 * succeeded are DELeted before the callback. */
void network_add(struct network *n, const struct network_pod *pod, network_add_cb cb, void *data);
/* DEL in reverse order with the saved configuration and result; a failing DEL is reported but
 * every plugin is still called. */
void network_del(struct network *n, const struct network_pod *pod,
                 const struct network_attachment *att, network_done_cb cb, void *data);
/* DEL with the configuration in use now and no previous result: for an ADD that a daemon's death
 * interrupted (nothing was saved), as the CNI spec lets DEL run on what may not exist. */
void network_del_current(struct network *n, const struct network_pod *pod, network_done_cb cb,
                         void *data);
/* CHECK through the chain with the saved configuration and result (nothing when the network
 * disables it or predates CNI 0.4.0). */
void network_check(struct network *n, const struct network_pod *pod,
                   const struct network_attachment *att, network_done_cb cb, void *data);
/* Whether a usable network configuration is there now (for Status), with the reason if not. */
bool network_ready(struct network *n, char **ret_msg);

/* ---- netdev.c: interface counters ---- */

struct network_if_usage {
    char name[32];
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};
/* The interfaces of /proc/PID/net/dev's text (at most max; malformed lines skipped). */
size_t network_netdev_parse(const char *text, size_t len, struct network_if_usage *out, size_t max);

/* CNI operations (a whole chain's ADD, CHECK or DEL, its rollback included), for the metrics. */
enum network_cni_op { NETWORK_CNI_ADD, NETWORK_CNI_DEL, NETWORK_CNI_CHECK, NETWORK_CNI_OPS };
struct network_cni_counters {
    struct metrics_hist latency[NETWORK_CNI_OPS]; /* seconds, metrics_latency_buckets */
    uint64_t errors[NETWORK_CNI_OPS];
};
const struct network_cni_counters *network_cni_counters(const struct network *n);
#endif
