/* The oci module: the OCI runtime spec generated from CRI configs and the image config (users
 * from the rootfs, capabilities, seccomp), and the driver of OCI runtime binaries. */
#ifndef CRIB_OCI_H
#define CRIB_OCI_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "proto/runtime.pb-c.h"
#include "reactor/reactor.h"

/* ---- caps.c: capabilities ---- */

/* Free a NULL-terminated string array. NULL-safe. */
void oci_strv_free(char **v);
/* The capabilities of a container: the default set (as CRI-O's: CHOWN, DAC_OVERRIDE, FSETID,
 * FOWNER, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, KILL), then drop, then add. Names are
 * taken with or without "CAP_", in any case; "ALL" means every capability libcap knows. A name
 * libcap does not know fails with -EINVAL "unknown capability `NAME`". privileged: every
 * capability. Returns a sorted NULL-terminated array of "CAP_..." names.
 * "ALL" applies before the named entries (add ALL + drop CHOWN: all but CHOWN), and "every
 * capability" (ALL, privileged, and the default set too) is limited to the daemon's bounding
 * set: runc cannot grant more, and asking fails the container's start. */
int oci_caps_resolve(char *const *add, size_t n_add, char *const *drop, size_t n_drop,
                     bool privileged, char ***ret, struct err *err);

/* ---- lsm.c: AppArmor and SELinux ---- */

struct oci_lsm {
    bool apparmor; /* enabled, with its filesystem to load profiles through */
    bool selinux;  /* selinuxfs mounted */
};

/* What the host runs, from /sys. */
void oci_lsm_detect(struct oci_lsm *ret);
/* The container's AppArmor profile (process.apparmorProfile) and SELinux labels
 * (process.selinuxLabel, linux.mountLabel). A Localhost AppArmor profile on a host without
 * AppArmor is -EOPNOTSUPP; RuntimeDefault and Unconfined are accepted anywhere; SELinux options
 * are checked and then applied only where SELinux runs. */
int oci_lsm_apply(const struct oci_lsm *host, const Runtime__V1__LinuxContainerSecurityContext *sc,
                  cJSON *proc, cJSON *linux_, struct err *err);
/* The pod's own request: a Localhost AppArmor profile needs AppArmor on the host. */
int oci_lsm_check_sandbox(const struct oci_lsm *host,
                          const Runtime__V1__LinuxSandboxSecurityContext *sc, struct err *err);

/* ---- seccomp.c: seccomp profiles ---- */

/* The built-in RuntimeDefault profile as an OCI `linux.seccomp` object: every syscall allowed
 * except those that escape or damage the node (mount, unshare, setns, kexec, modules, bpf, ...);
 * new namespaces through clone refused; the calls a capability in caps (NULL-terminated
 * "CAP_..." names) legitimately needs are allowed again, as Docker's profile does. */
cJSON *oci_seccomp_default_profile(char *const *caps);
/* Read a Localhost profile file (the OCI `linux.seccomp` form, or Docker's form with
 * "names"/"archMap") and return it as an OCI `linux.seccomp` object. Actions and architectures
 * are checked; -EINVAL/-ENOENT with the file name and what is wrong. */
int oci_seccomp_load_profile(const char *path, cJSON **ret, struct err *err);

/* ---- users.c: users and groups from the rootfs ---- */

struct oci_user {
    uint32_t uid, gid;
    uint32_t *additional_gids; /* sorted, unique, without gid */
    size_t n_additional_gids;
    char *home; /* from passwd, or "/" */
};
/* Resolve spec ("", "name", "uid", "name:group", "uid:gid", "name:gid", "uid:group") against
 * the rootfs' /etc/passwd and /etc/group, read beneath rootfs (symlinks resolved inside it).
 * "" is root. A numeric uid needs no passwd entry (gid 0 then, unless passwd has it); a name
 * that is not found fails with -ENOENT "user `NAME` not found in /etc/passwd of the image".
 * Additional gids: the groups in /etc/group listing the user's name, plus extra_gids.
 * A numeric id that is negative or above 4294967294 fails with -EINVAL; missing files count as
 * empty, one that is not a regular file or is above 4 MiB fails. */
int oci_user_resolve(const char *rootfs, const char *spec, const uint32_t *extra_gids,
                     size_t n_extra, struct oci_user *ret, struct err *err);
void oci_user_done(struct oci_user *u);

/* ---- spec.c: the runtime spec ---- */

struct oci_spec_params {
    const char *id;     /* container ID */
    const char *pod_id; /* sandbox ID */
    const Runtime__V1__ContainerConfig *config;
    const Runtime__V1__PodSandboxConfig *pod_config;
    const char *image_config; /* the image config JSON (with its "config" object), or NULL */
    const char *image_name;   /* for the annotations */
    const char *rootfs;       /* the mounted root filesystem (absolute) */
    /* Namespaces to join (paths such as /run/crib/pods/<id>/ns/net or /proc/<pid>/ns/pid). For
     * net/ipc/uts NULL means the host's; for pid, NULL and !host_pid means a new one. */
    const char *netns_path, *ipcns_path, *utsns_path, *pidns_path;
    bool host_pid;
    /* The pod's files, bind-mounted unless the CRI mounts cover the path; NULL to skip. */
    const char *hostname_path; /* -> /etc/hostname */
    const char *hosts_path;    /* -> /etc/hosts */
    const char *resolv_path;   /* -> /etc/resolv.conf */
    const char *shm_path;      /* -> /dev/shm (else a private tmpfs) */
    const char *hostname;      /* process env HOSTNAME and the uts hostname when utsns is new */
    const char *cgroups_path;  /* linux.cgroupsPath as the runtime wants it */
    int oom_score_adj_min;     /* lower requests are raised to this (the daemon's own value) */
    int64_t pids_limit;        /* > 0: linux.resources.pids.limit */
    struct oci_lsm lsm;        /* what the host enforces */
    const char *seccomp_profile_root; /* relative Localhost profiles are resolved here */
    bool seccomp;                     /* the host supports seccomp */
};

struct oci_spec_result {
    cJSON *spec;            /* config.json */
    char *stop_signal;      /* the image's STOPSIGNAL ("SIGTERM" if none), normalised "SIGxxx" */
    int stop_signo;         /* its number */
    bool oom_score_clamped; /* the requested oom_score_adj was raised to oom_score_adj_min */
};

/* Build the runtime spec of a container. -EINVAL with a message for a config that cannot be
 * honoured (no command, bad user, unknown capability, device that does not exist, ...). */
int oci_spec_generate(const struct oci_spec_params *p, struct oci_spec_result *ret,
                      struct err *err);
void oci_spec_result_done(struct oci_spec_result *r);
/* -EINVAL with a message for resources no cgroup takes: negative or out-of-range values, a swap
 * limit below the memory limit, unified settings on a v1 node or with a key that is not a
 * controller's file (CONTROLLER.FILE, never cgroup.*). */
int oci_resources_check(const Runtime__V1__LinuxContainerResources *r, bool v2, struct err *err);
/* The linux.resources object for `runc update` (and the spec) from CRI resources. */
cJSON *oci_spec_resources(const Runtime__V1__LinuxContainerResources *r, int oom_score_adj_min,
                          int64_t pids_limit);
/* The daemon's own oom_score_adj (0 when it cannot be read): no container gets a lower one. */
int oci_oom_score_adj_self(void);
/* Signal number of "SIGTERM", "TERM", "15", "SIGRTMIN+3"; -EINVAL if not a signal. */
int oci_signal_parse(const char *s);

/* ---- runtime.c: the OCI runtime binary behind typed verbs ---- */

/* Which command line the binary speaks. runc's is the reference: crun, runsc and kata-runtime
 * copy it, and where one departs from it the difference is spelled out in runtime.c alone. */
enum oci_runtime_kind {
    OCI_RUNTIME_RUNC, /* runc, and any runtime not known to differ from it */
    OCI_RUNTIME_CRUN,
};

struct oci_runtime {
    const char *path; /* a path, or a name looked up in PATH */
    const char *root; /* its --root, or NULL for its default */
    uint64_t timeout_ms;
    enum oci_runtime_kind kind;
    bool systemd_cgroup; /* --systemd-cgroup: cgroupsPath is SLICE:PREFIX:NAME, a scope */
};

/* path, root and timeout_ms as given; kind from the binary's name; no systemd cgroups. */
/* Whether the process at pid is still the runtime's own init, between `start` returning and the
 * exec of the container's process. runc's init is a Go program that catches every signal: one
 * sent to it then is taken and gone at the exec. */
bool oci_runtime_init_pending(int pid);
void oci_runtime_init(struct oci_runtime *rt, const char *path, const char *root,
                      uint64_t timeout_ms);

enum oci_verb_type {
    OCI_VERB_CREATE,
    OCI_VERB_START,
    OCI_VERB_KILL,
    OCI_VERB_DELETE,
    OCI_VERB_EXEC,
    OCI_VERB_UPDATE,
    OCI_VERB_STATE,
    OCI_VERB_PAUSE,
    OCI_VERB_RESUME,
    OCI_VERB_CHECKPOINT,
    OCI_VERB_RESTORE,
};

struct oci_create {
    const char *bundle;
    const char *pid_file;       /* NULL: none */
    const char *console_socket; /* NULL: the container's stdio is the runtime's */
};
struct oci_kill {
    int signo;
    bool all; /* every process of the container, not only its init */
};
struct oci_delete {
    bool force; /* a running container too (killed first) */
};
struct oci_exec {
    const char *process_path; /* the process.json */
    const char *pid_file;     /* NULL: none */
    /* The runtime hands the pty's master to this socket; only with detach (runc refuses it
     * otherwise: attached, it keeps the pty itself). */
    const char *console_socket;
    bool detach; /* the runtime exits once the command runs, rather than with it */
};
struct oci_update {
    const char *resources; /* linux.resources JSON, given on the runtime's stdin */
};
struct oci_checkpoint {
    const char *image_path;
    const char *work_path; /* NULL: the image path */
    bool leave_running;
};
struct oci_restore {
    const char *bundle;
    const char *image_path;
    const char *work_path;      /* NULL: the image path */
    const char *pid_file;       /* NULL: none */
    const char *console_socket; /* only with detach, as for exec */
    bool detach;
};

/* One command for the runtime: the verb, the container and the verb's own options. */
struct oci_verb {
    enum oci_verb_type type;
    const char *id;
    union {
        struct oci_create create;
        struct oci_kill kill;
        struct oci_delete del;
        struct oci_exec exec;
        struct oci_update update;
        struct oci_checkpoint checkpoint;
        struct oci_restore restore;
    };
};

#define OCI_RUNTIME_ARGV_MAX 32

/* A runtime's command line, built without side effects; oci_runtime_argv_done frees it. */
struct oci_runtime_argv {
    char *v[OCI_RUNTIME_ARGV_MAX + 1]; /* NULL-terminated; into rt, v, log_path and itself */
    size_t n;
    char signal[16];
    char *owned; /* a string made for this command line, or NULL */
};

/* The command line of verb v for runtime rt: RUNTIME [--root R] [--log L --log-format json]
 * VERB [its flags] ID [...]. log_path: NULL for none; failures are then read from it.
 * -EINVAL for options the runtime refuses together (a console socket without detach). */
int oci_runtime_argv_build(const struct oci_runtime *rt, const struct oci_verb *v,
                           const char *log_path, struct oci_runtime_argv *ret, struct err *err);
void oci_runtime_argv_done(struct oci_runtime_argv *a);

/* How one command's process is wired, beyond its command line. */
struct oci_runtime_opts {
    const int *stdio_fds; /* NULL, or the runtime's stdin/stdout/stderr (create, exec) */
    const char *log_path; /* --log FILE --log-format json; failures are read from it */
    size_t out_max;       /* captured output cap */
    uint64_t timeout_ms;  /* 0: the runtime's own */
};

/* The callback gets 0 and the result when the runtime exited 0, or for exec whenever it ran
 * (attached, the exit status is the command's; detached, a non-zero one means the runtime could
 * not start it); otherwise a negative errno (-ETIMEDOUT after the timeout, -EIO when it failed)
 * and err saying "<runtime> <verb>: <its error message>"; -ECANCELED after
 * reactor_child_cancel. */
typedef void (*oci_runtime_cb)(int status, const struct reactor_child_result *res, struct err *err,
                               void *data);
/* The error a runtime wrote to its --log file (JSON lines), or NULL. */
char *oci_runtime_log_error(const char *path);
/* The runtime's binary: path when set, else name looked up in $PATH; NULL when not found. */
char *oci_runtime_binary(const char *path, const char *name);
/* Run `bin --version` (the runtime answers, or does not); as reactor_child_spawn. */
int oci_runtime_version(uv_loop_t *loop, const char *bin, uint64_t timeout_ms, reactor_child_cb cb,
                        void *data, struct reactor_child **ret);
/* Run verb v on the loop. o may be NULL. */
int oci_runtime_call(uv_loop_t *loop, const struct oci_runtime *rt, const struct oci_verb *v,
                     const struct oci_runtime_opts *o, oci_runtime_cb cb, void *data,
                     struct reactor_child **ret_child, struct err *err);

/* ---- exec.c: a command run in a running container ---- */

struct oci_exec_proc;
/* The runtime is done. status < 0 (err says why): it failed, and nothing more comes. Else either
 * pid > 0, the command runs and `exited` follows, or pid is 0: the runtime could not start it,
 * with runtime_status (its exit status, 128 + a signal that killed it) and why (its --log error,
 * or NULL; the message is on the command's stderr without a log). */
struct oci_exec_started {
    int pid;
    int runtime_status;
    const char *why;
};
typedef void (*oci_exec_started_cb)(struct oci_exec_proc *x, int status,
                                    const struct oci_exec_started *s, struct err *err, void *data);
typedef void (*oci_exec_exited_cb)(struct oci_exec_proc *x, const struct reactor_pid_exit *e,
                                   void *data);
struct oci_exec_opts {
    const char *id;      /* the container */
    const char *run_dir; /* its bundle: config.json is read, the exec's files are made here */
    char *const *cmd;
    size_t n_cmd;
    bool tty;                   /* process.terminal */
    const char *console_socket; /* with tty: where the runtime sends the pty's master */
    bool pipes[3];       /* without a console: a pipe for stdin, stdout, stderr; else /dev/null */
    bool runtime_log;    /* the runtime logs to a file, read for why it could not start it */
    uint64_t timeout_ms; /* the runtime's own run; 0: its default */
    struct reactor_pids *pids; /* where the command is watched */
    oci_exec_started_cb started;
    oci_exec_exited_cb exited; /* once the command has ended (its status), if it started */
    void *data;
};
/* Start the command. ret_fds: our ends of the pipes asked for (the write end of stdin, the read
 * ends of stdout and stderr; -1 for the others), ours to close. The strings of o are not kept. */
int oci_exec_proc_start(uv_loop_t *loop, const struct oci_runtime *rt,
                        const struct oci_exec_opts *o, int ret_fds[3], struct oci_exec_proc **ret,
                        struct err *err);
/* SIGKILL to the command through its pidfd, now or once the runtime has told its pid. */
void oci_exec_proc_kill(struct oci_exec_proc *x);
/* The owner lets go: no callback runs any more; the command is still reaped when it ends, and
 * the exec's files are removed then. NULL-safe. */
void oci_exec_proc_release(struct oci_exec_proc *x);

#endif
