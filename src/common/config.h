/* The daemon's configuration: built-in defaults, crib.conf (TOML) and crib.conf.d drop-ins.
 * Option names follow crio.conf(5) where the concept is the same. */
#ifndef CRIB_COMMON_CONFIG_H
#define CRIB_COMMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"

struct config_runtime {
    char *name;
    char *runtime_path; /* "" = look the name up in $PATH */
    char *runtime_root; /* the runtime's --root */
    char *runtime_type; /* "oci" */
};

struct config {
    /* [crib] */
    char *root;
    char *runroot;
    char *storage_driver;
    char *log_dir;
    /* [crib.api] */
    char *listen;
    int64_t grpc_max_recv_msg_size;
    int64_t grpc_max_send_msg_size;
    int64_t shutdown_timeout;   /* seconds to let in-flight calls finish on SIGTERM */
    int64_t events_backlog_max; /* events a GetContainerEvents client may fall behind */
    char *stream_address;       /* the streaming server (exec, attach, port-forward) */
    int64_t stream_port;        /* 0: a free port */
    bool stream_enable_tls;
    char *stream_tls_cert, *stream_tls_key;
    int64_t stream_token_ttl;    /* seconds a streaming URL stays valid */
    int64_t stream_idle_timeout; /* seconds without traffic before a session is closed; 0 never */
    int64_t stream_handshake_timeout;       /* seconds a client has to finish its upgrade */
    int64_t stream_max_handshakes;          /* connections not upgraded yet, in all */
    int64_t stream_max_handshakes_per_peer; /* ... and from one client address */
    /* [crib.runtime] */
    char *log_level;
    char *default_runtime;
    char *cgroup_manager;
    int64_t log_size_max;
    bool log_to_journald;
    char *journald_socket;      /* the journal's native socket */
    int64_t pids_limit;         /* per container; 0: none */
    char *seccomp_profile_root; /* relative Localhost seccomp profiles are found here */
    /* seconds an exec's output is still read after its process ended (something it left
     * behind may hold the pipes open) */
    int64_t drain_exec_io_timeout;
    struct config_runtime *runtimes;
    size_t n_runtimes;
    /* [crib.image] */
    char *registries_conf;
    char *signature_policy;
    char *certs_dir;
    char *global_auth_file; /* containers-auth.json(5): credentials the node has, by registry */
    int64_t pull_progress_timeout; /* seconds without a byte before a download fails; 0 off */
    int64_t max_parallel_downloads;
    bool allow_device_nodes;
    int64_t max_image_size; /* bytes an image's layers may uncompress to, together */
    int64_t min_free_space; /* bytes a pull leaves free on the image filesystem; 0 off */
    /* [crib.network] */
    char *network_dir;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    char *cni_default_network;
    /* [crib.stats] */
    char **included_pod_metrics; /* the metric sets ListPodSandboxMetrics reports; "all" */
    size_t n_included_pod_metrics;
    int64_t stats_collection_period; /* seconds a stats sample is served again; 0: always new */
    /* [crib.metrics] */
    bool enable_metrics; /* Prometheus metrics: GET /metrics on the CRI socket and on TCP */
    char *metrics_host;  /* the TCP listener's IP address; "": none */
    int64_t metrics_port;
};

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/crib/crib.conf"

void config_init(struct config *cfg);
void config_done(struct config *cfg);
/* Apply one TOML document over cfg; name is used in error messages ("file:line:col: ..."). */
int config_apply_toml(struct config *cfg, const char *name, const char *text, size_t len,
                      struct err *err);
/* Read path (missing is fine unless required) and then path.d/ *.conf in name order. */
int config_load(struct config *cfg, const char *path, bool required, struct err *err);
/* Check values that cross options (default_runtime exists, ...). */
int config_validate(const struct config *cfg, struct err *err);
const struct config_runtime *config_runtime_find(const struct config *cfg, const char *name);
/* The effective configuration as a TOML document. */
void config_write_toml(const struct config *cfg, struct buf *out);

#endif
