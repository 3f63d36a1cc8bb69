/* CNI network configuration lists and plugin results (CNI spec 1.0.0 and CONVENTIONS.md): parsing,
 * choosing the network in a directory, building a plugin's stdin, reading its result or error. */
#ifndef CRIB_NETWORK_CNI_CONF_H
#define CRIB_NETWORK_CNI_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common/err.h"

/* Largest configuration file or plugin result accepted. */
#define CNI_CONF_MAX_BYTES ((size_t)1 << 20)
/* Most plugins in one list. */
#define CNI_CONF_MAX_PLUGINS 64

struct cni_conflist {
    char *name, *cni_version;
    char *path;      /* the file it came from */
    cJSON *json;     /* owned: the whole document in conflist form */
    cJSON **plugins; /* borrowed from json: each plugin's object, in order */
    size_t n_plugins;
    bool disable_check; /* "disableCheck" */
};

/* Parse a .conflist, or a .conf / .json with a single plugin (turned into a one-plugin list);
 * a document with a "plugins" key is a list whatever its file name, one named *.conflist must
 * have it. Checks: one JSON object and nothing after it; cniVersion a string; name a valid network
 * name (a letter or digit, then letters, digits, '_', '.', '-'; at most 255 bytes); plugins a
 * non-empty array of at most CNI_CONF_MAX_PLUGINS objects, each with a string "type" that is a
 * plain file name, an optional "capabilities" object of booleans; disableCheck a boolean; none of
 * these keys twice (in any case). filename is used in messages ("10-net.conflist:3:7: not valid
 * JSON", "10-net.conflist: plugins[1]: `type` is missing") and kept in ret->path.
 * -EINVAL, or -EFBIG for text over CNI_CONF_MAX_BYTES. */
int network_cni_conflist_parse(const char *text, size_t len, const char *filename,
                               struct cni_conflist *ret, struct err *err);
void network_cni_conflist_done(struct cni_conflist *c);

/* Pick the network from dir as the CRI runtimes do: files ending .conf, .conflist or .json, sorted
 * by name (bytewise); the one whose name is default_name if given (not NULL or ""), else the
 * first that parses.
 * Files that do not parse (or are not regular files) are skipped. -ENOENT with
 * "no CNI configuration file in DIR" when there are none, "no CNI network `x` in DIR" when
 * default_name is not found, "no valid CNI configuration in DIR" when none parses; the last two
 * go on to name each skipped file and why. -errno when dir cannot be read. */
int network_cni_conflist_pick(const char *dir, const char *default_name, struct cni_conflist *ret,
                              struct err *err);

struct cni_port_mapping {
    int32_t host_port, container_port;
    const char *protocol; /* "tcp", "udp", "sctp" (any case; NULL: "tcp") */
    const char *host_ip;  /* NULL or "": all addresses */
};

struct cni_runtime_config {
    const struct cni_port_mapping *port_mappings; /* those with host_port <= 0 are left out */
    size_t n_port_mappings;
    /* bits/s and bits; 0 = none. A rate without burst gets 4294967295 (as in containerd and
     * CRI-O): the bandwidth plugin refuses a rate alone. */
    int64_t ingress_rate, ingress_burst, egress_rate, egress_burst;
    const char *pod_cidr; /* ipRanges: [[{"subnet": pod_cidr}]] when set */
};

/* The stdin for plugin i of c: the plugin's own object without "capabilities", with "cniVersion"
 * and "name" of the list, "runtimeConfig" holding only the capabilities the plugin declares true
 * and rc (may be NULL) has data for (portMappings as [{hostPort, containerPort, protocol,
 * hostIP?}], bandwidth as {ingressRate, ingressBurst, egressRate, egressBurst}, ipRanges), and
 * "prevResult" parsed from prev_result when it is a JSON object (left out otherwise: check a
 * plugin's output with network_cni_result_ips). Any "runtimeConfig" or "prevResult" in the file is
 * replaced. Returns an allocated JSON string; i must be below c->n_plugins (abort otherwise). */
char *network_cni_plugin_stdin(const struct cni_conflist *c, size_t i, const char *prev_result,
                               const struct cni_runtime_config *rc);

/* A plugin's result (CNI 0.3.x, 0.4.0, 1.0.0): the IP addresses without prefix length, in order
 * and in canonical form ("10.88.0.5", "fd00::5"). -EINVAL with a message for a result that is not
 * a JSON object, has an "ips" that is not an array of objects with a string "address" in CIDR
 * form, or is a 0.1/0.2 result. An empty or absent "ips" (Go plugins omit an empty one) gives no
 * addresses when the result has a string "cniVersion". -EFBIG over CNI_CONF_MAX_BYTES.
 * Free with free() for each address and the array. */
int network_cni_result_ips(const char *json, size_t len, char ***ret_ips, size_t *ret_n,
                           struct err *err);

/* The message of a plugin's error output ({"code": N, "msg": "...", "details": "..."}) as
 * "msg: details (code N)" ("msg (code N)" without details; each part cut at 4 KiB), or NULL when
 * stdout_text is not a JSON object with a numeric "code" and a string "msg". */
char *network_cni_error_message(const char *stdout_text, size_t len);

/* CNI_ARGS for a Kubernetes pod: "IgnoreUnknown=1;K8S_POD_NAMESPACE=..;K8S_POD_NAME=..;
 * K8S_POD_INFRA_CONTAINER_ID=..;K8S_POD_UID=..". A value containing ';' or '=' is refused with
 * -EINVAL. */
int network_cni_args_k8s(const char *ns, const char *name, const char *infra_id, const char *uid,
                         char **ret, struct err *err);

#endif
