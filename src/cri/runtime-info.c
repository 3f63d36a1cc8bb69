/* Version, Status (real runtime and network readiness checks), RuntimeConfig and
 * UpdateRuntimeConfig. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"
#include "network/network.h"

#define PROBE_TIMEOUT_MS 5000
#define CNI_CONF_MAX (1u << 20)

struct status_waiter {
    struct cri *cri;
    struct grpc_call *call;
    bool verbose;
    struct status_waiter *next;
};

void cri_version(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    Runtime__V1__VersionResponse resp = RUNTIME__V1__VERSION_RESPONSE__INIT;
    resp.version = "0.1.0";
    resp.runtime_name = "crib";
    resp.runtime_version = PACKAGE_VERSION;
    resp.runtime_api_version = "v1";
    cri_reply(call, &resp.base);
}

void cri_runtime_config(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    Runtime__V1__RuntimeConfigResponse resp = RUNTIME__V1__RUNTIME_CONFIG_RESPONSE__INIT;
    Runtime__V1__LinuxRuntimeConfiguration lin = RUNTIME__V1__LINUX_RUNTIME_CONFIGURATION__INIT;
    lin.cgroup_driver = strcmp(cri->cfg->cgroup_manager, "systemd") == 0
                            ? RUNTIME__V1__CGROUP_DRIVER__SYSTEMD
                            : RUNTIME__V1__CGROUP_DRIVER__CGROUPFS;
    resp.linux = &lin;
    cri_reply(call, &resp.base);
}

void cri_update_runtime_config(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__UpdateRuntimeConfigRequest *r = (const void *)req;
    if (r->runtime_config && r->runtime_config->network_config) {
        const char *cidr = r->runtime_config->network_config->pod_cidr;
        if (!cri->pod_cidr || strcmp(cri->pod_cidr, cidr) != 0) {
            log_info("pod CIDR set to `%s`", cidr);
            free(cri->pod_cidr);
            cri->pod_cidr = xstrdup(cidr);
        }
    }
    Runtime__V1__UpdateRuntimeConfigResponse resp =
        RUNTIME__V1__UPDATE_RUNTIME_CONFIG_RESPONSE__INIT;
    cri_reply(call, &resp.base);
}

/* ---- runtime readiness: the default runtime binary runs ---- */

static void add_condition(Runtime__V1__RuntimeStatus *st, Runtime__V1__RuntimeCondition *c,
                          const char *type, bool ok, const char *reason, const char *msg)
{
    c->type = (char *)type;
    c->status = ok;
    c->reason = ok ? "" : (char *)reason;
    c->message = ok ? "" : (char *)msg;
    st->conditions[st->n_conditions++] = c;
}

static void reply_status(struct cri *cri, struct grpc_call *call, bool runtime_ok,
                         const char *runtime_msg, const char *runtime_version, bool verbose)
{
    cleanup_free char *net_msg = NULL;
    bool net_ok = network_ready(cri->network, &net_msg);
    Runtime__V1__StatusResponse resp = RUNTIME__V1__STATUS_RESPONSE__INIT;
    Runtime__V1__RuntimeStatus st = RUNTIME__V1__RUNTIME_STATUS__INIT;
    Runtime__V1__RuntimeCondition conds[2] = {RUNTIME__V1__RUNTIME_CONDITION__INIT,
                                              RUNTIME__V1__RUNTIME_CONDITION__INIT};
    Runtime__V1__RuntimeCondition *cond_ptrs[2];
    st.conditions = cond_ptrs;
    add_condition(&st, &conds[0], "RuntimeReady", runtime_ok, "RuntimeNotReady", runtime_msg);
    add_condition(&st, &conds[1], "NetworkReady", net_ok, "NetworkPluginNotReady", net_msg);
    resp.status = &st;

    size_t n = cri->cfg->n_runtimes;
    cleanup_free Runtime__V1__RuntimeHandler *hs = xcalloc(n, sizeof(*hs));
    cleanup_free Runtime__V1__RuntimeHandler **hp = xcalloc(n, sizeof(*hp));
    Runtime__V1__RuntimeHandlerFeatures hf = RUNTIME__V1__RUNTIME_HANDLER_FEATURES__INIT;
    for (size_t i = 0; i < n; i++) {
        Runtime__V1__RuntimeHandler init = RUNTIME__V1__RUNTIME_HANDLER__INIT;
        hs[i] = init;
        hs[i].name = cri->cfg->runtimes[i].name;
        hs[i].features = &hf;
        hp[i] = &hs[i];
    }
    resp.runtime_handlers = hp;
    resp.n_runtime_handlers = n;
    Runtime__V1__RuntimeFeatures feat = RUNTIME__V1__RUNTIME_FEATURES__INIT;
    resp.features = &feat;

    Runtime__V1__StatusResponse__InfoEntry entry = RUNTIME__V1__STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__StatusResponse__InfoEntry *entries[1] = {&entry};
    cleanup_free char *info = NULL;
    if (verbose) {
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "defaultRuntime", cri->cfg->default_runtime);
        cJSON_AddStringToObject(j, "runtimeVersion", runtime_version ? runtime_version : "");
        cJSON_AddStringToObject(j, "networkDir", cri->cfg->network_dir);
        cJSON_AddStringToObject(j, "cgroupManager", cri->cfg->cgroup_manager);
        cJSON_AddBoolToObject(j, "apparmor", cri->lsm.apparmor);
        cJSON_AddBoolToObject(j, "selinux", cri->lsm.selinux);
        info = cJSON_PrintUnformatted(j);
        cJSON_Delete(j);
        entry.key = "config";
        entry.value = info;
        resp.info = entries;
        resp.n_info = 1;
    }
    cri_reply(call, &resp.base);
}

static void on_probe_done(int status, const struct reactor_child_result *res, void *data)
{
    struct cri *cri = data;
    const struct config_runtime *rt = config_runtime_find(cri->cfg, cri->cfg->default_runtime);
    cri->status_probe = NULL;
    cleanup_free char *msg = NULL;
    cleanup_free char *version = NULL;
    bool ok = false;
    if (status < 0) {
        msg = xasprintf("runtime %s: probe cancelled", rt->name);
    } else if (res->timed_out) {
        msg = xasprintf("runtime %s: `--version` did not answer within %ums", rt->name,
                        PROBE_TIMEOUT_MS);
    } else if (res->exit_status != 0) {
        msg = xasprintf("runtime %s: `--version` failed (exit %lld, signal %d): %.*s", rt->name,
                        (long long)res->exit_status, res->term_signal, (int)res->err_len,
                        res->err_out);
    } else {
        ok = true;
        size_t line = strcspn(res->out, "\n");
        version = xstrndup(res->out, line);
    }
    struct status_waiter *w = cri->status_waiters;
    cri->status_waiters = NULL;
    while (w) {
        struct status_waiter *next = w->next;
        reactor_grpc_call_on_cancel(w->call, NULL, NULL);
        if (!reactor_grpc_call_is_done(w->call))
            reply_status(cri, w->call, ok, msg, version, w->verbose);
        reactor_grpc_call_unref(w->call);
        free(w);
        w = next;
    }
}

static void on_waiter_cancel(struct grpc_call *call, void *data)
{
    struct status_waiter *w = data;
    struct status_waiter **pp = &w->cri->status_waiters;
    while (*pp && *pp != w)
        pp = &(*pp)->next;
    if (*pp)
        *pp = w->next;
    reactor_grpc_call_unref(w->call);
    free(w);
}

void cri_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__StatusRequest *r = (const void *)req;
    const struct config_runtime *rt = config_runtime_find(cri->cfg, cri->cfg->default_runtime);
    if (!cri->status_probe) {
        cleanup_free char *bin = oci_runtime_binary(rt->runtime_path, rt->name);
        if (!bin) {
            cleanup_free char *msg =
                xasprintf("runtime %s: binary not found in PATH (set runtime_path)", rt->name);
            reply_status(cri, call, false, msg, NULL, r->verbose);
            return;
        }
        int e = oci_runtime_version(cri->loop, bin, PROBE_TIMEOUT_MS, on_probe_done, cri,
                                    &cri->status_probe);
        if (e < 0) {
            cleanup_free char *msg =
                xasprintf("runtime %s: cannot run %s: %s", rt->name, bin, uv_strerror(e));
            reply_status(cri, call, false, msg, NULL, r->verbose);
            return;
        }
    }
    struct status_waiter *w = xcalloc(1, sizeof(*w));
    w->cri = cri;
    w->call = reactor_grpc_call_ref(call);
    w->verbose = r->verbose;
    w->next = cri->status_waiters;
    cri->status_waiters = w;
    reactor_grpc_call_on_cancel(call, on_waiter_cancel, w);
}
