/* The records of cri/: a pod's and a container's JSON (what a restart reads back, so its format
 * stays as records already on disk have it), and the copies of their CRI configs. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/base64.h"
#include "common/buf.h"
#include "common/macro.h"
#include "cri/record.h"

/* A list of strings as a JSON array under key. */
static void add_strings(cJSON *j, const char *key, char *const *v, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(j, key);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
}

/* ---- containers ---- */

char *cri_ctr_record_path(struct cri *cri, const char *id)
{
    return xasprintf("%s/%s.json", cri->ctrs_dir, id);
}

static char *b64_config(const Runtime__V1__ContainerConfig *cfg)
{
    size_t len = protobuf_c_message_get_packed_size(&cfg->base);
    cleanup_free uint8_t *bytes = xmalloc(len + 1);
    protobuf_c_message_pack(&cfg->base, bytes);
    return base64_encode(bytes, len);
}

char *cri_ctr_record_format(const struct ctr *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", c->id);
    cJSON_AddStringToObject(j, "pod_id", c->pod_id);
    cJSON_AddStringToObject(j, "state", cri_ctr_state_name(c->state));
    cJSON_AddNumberToObject(j, "created_at", (double)c->created_at);
    cJSON_AddNumberToObject(j, "started_at", (double)c->started_at);
    cJSON_AddNumberToObject(j, "finished_at", (double)c->finished_at);
    cJSON_AddNumberToObject(j, "exit_code", c->exit_code);
    cJSON_AddStringToObject(j, "reason", c->reason ? c->reason : "");
    cJSON_AddStringToObject(j, "message", c->message ? c->message : "");
    cJSON_AddStringToObject(j, "image_id", c->image_id);
    cJSON_AddStringToObject(j, "image_ref", c->image_ref);
    cJSON_AddStringToObject(j, "image_name", c->image_name);
    add_strings(j, "layers", c->layers, c->n_layers);
    cJSON_AddStringToObject(j, "log_path", c->log_path);
    cJSON_AddStringToObject(j, "runtime", c->runtime);
    cJSON_AddStringToObject(j, "cgroups_path", c->cgroups_path);
    cJSON_AddStringToObject(j, "oom_file", c->oom_file ? c->oom_file : "");
    cJSON_AddStringToObject(j, "stop_signal", c->stop_signal);
    cJSON_AddNumberToObject(j, "pid", c->pid);
    cJSON_AddNumberToObject(j, "pid_start", (double)c->pid_start);
    cleanup_free char *cfg = b64_config(c->config);
    cJSON_AddStringToObject(j, "config", cfg);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

Runtime__V1__ContainerConfig *cri_ctr_config_copy(const Runtime__V1__ContainerConfig *cfg)
{
    size_t len = protobuf_c_message_get_packed_size(&cfg->base);
    cleanup_free uint8_t *bytes = xmalloc(len + 1);
    protobuf_c_message_pack(&cfg->base, bytes);
    return runtime__v1__container_config__unpack(NULL, len, bytes);
}

static const char *str_of(const cJSON *j, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(j, key));
    return s ? s : "";
}

static int64_t num_of(const cJSON *j, const char *key)
{
    return (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, key));
}

/* The state a record names; removed is never written. */
static enum cri_ctr_state state_of(const char *s)
{
    for (int i = CRI_CTR_CREATED; i <= CRI_CTR_UNKNOWN; i++)
        if (strcmp(cri_ctr_state_name((enum cri_ctr_state)i), s) == 0)
            return (enum cri_ctr_state)i;
    return CRI_CTR_UNKNOWN;
}

struct ctr *cri_ctr_record_parse(struct cri *cri, const char *text)
{
    cJSON *j = cJSON_Parse(text);
    const char *cfg_b64 = str_of(j, "config");
    struct buf raw = {0};
    Runtime__V1__ContainerConfig *cfg =
        base64_decode(cfg_b64, strlen(cfg_b64), &raw) == 0 && raw.len > 0
            ? runtime__v1__container_config__unpack(NULL, raw.len, raw.data)
            : NULL;
    buf_done(&raw);
    if (!j || !cfg || !cfg->metadata || !*str_of(j, "id")) {
        cJSON_Delete(j);
        if (cfg)
            protobuf_c_message_free_unpacked(&cfg->base, NULL);
        return NULL;
    }
    struct ctr *c = xcalloc(1, sizeof(*c));
    c->cri = cri;
    c->refs = 1;
    c->config = cfg;
    c->id = xstrdup(str_of(j, "id"));
    c->pod_id = xstrdup(str_of(j, "pod_id"));
    c->state = state_of(str_of(j, "state")); /* the machine resumes where the record left it */
    c->created_at = num_of(j, "created_at");
    c->started_at = num_of(j, "started_at");
    c->finished_at = num_of(j, "finished_at");
    c->exit_code = (int32_t)num_of(j, "exit_code");
    c->reason = xstrdup(str_of(j, "reason"));
    c->message = xstrdup(str_of(j, "message"));
    c->image_id = xstrdup(str_of(j, "image_id"));
    c->image_ref = xstrdup(str_of(j, "image_ref"));
    c->image_name = xstrdup(str_of(j, "image_name"));
    const cJSON *layers = cJSON_GetObjectItem(j, "layers");
    c->n_layers = (size_t)cJSON_GetArraySize(layers);
    c->layers = xcalloc(c->n_layers + 1, sizeof(char *));
    for (size_t i = 0; i < c->n_layers; i++)
        c->layers[i] = xstrdup(cJSON_GetStringValue(cJSON_GetArrayItem(layers, (int)i)) ?: "");
    c->run_dir = xasprintf("%s/%s", cri->ctrs_run, c->id);
    c->log_path = xstrdup(str_of(j, "log_path"));
    c->runtime = xstrdup(str_of(j, "runtime"));
    c->cgroups_path = xstrdup(str_of(j, "cgroups_path"));
    c->oom_file = *str_of(j, "oom_file") ? xstrdup(str_of(j, "oom_file")) : NULL;
    c->stop_signal = xstrdup(*str_of(j, "stop_signal") ? str_of(j, "stop_signal") : "SIGTERM");
    int signo = oci_signal_parse(c->stop_signal);
    c->stop_signo = signo > 0 ? signo : SIGTERM;
    c->pid = (int)num_of(j, "pid");
    c->pid_start = num_of(j, "pid_start");
    cJSON_Delete(j);
    return c;
}

/* ---- pods ---- */

char *cri_pod_record_path(struct cri *cri, const char *id)
{
    return xasprintf("%s/%s.json", cri->pods_dir, id);
}

char *cri_pod_record_format(const struct pod *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", p->id);
    cJSON_AddNumberToObject(j, "created_at", (double)p->created_at);
    cJSON_AddStringToObject(j, "state", p->state == POD_READY ? "ready" : "notready");
    cJSON_AddStringToObject(j, "runtime_handler", p->handler);
    cJSON_AddNumberToObject(j, "pinned", p->pinned);
    cJSON_AddBoolToObject(j, "shm_mounted", p->shm_mounted);
    cJSON_AddNumberToObject(j, "infra_pid", p->infra_pid);
    cJSON_AddStringToObject(j, "cgroup_parent", p->cgroup_parent);
    add_strings(j, "cgroups_created", p->cgroups_created, p->n_cgroups_created);
    cJSON_AddBoolToObject(j, "network_added", p->network_added);
    if (p->network_added) {
        cJSON_AddStringToObject(j, "cni_config", p->att.conflist);
        cJSON_AddStringToObject(j, "cni_result", p->att.result);
        add_strings(j, "ips", p->att.ips, p->att.n_ips);
    }
    cJSON_AddStringToObject(j, "config", p->config_b64);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

Runtime__V1__PodSandboxConfig *cri_pod_config_copy(const Runtime__V1__PodSandboxConfig *cfg,
                                                   char **ret_b64)
{
    size_t len = protobuf_c_message_get_packed_size(&cfg->base);
    cleanup_free uint8_t *packed = xmalloc(len ? len : 1);
    protobuf_c_message_pack(&cfg->base, packed);
    *ret_b64 = base64_encode(packed, len);
    return (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
        &runtime__v1__pod_sandbox_config__descriptor, NULL, len, packed);
}

void cri_pod_namespaces_read(struct pod *p)
{
    const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
    const Runtime__V1__NamespaceOption *ns =
        l && l->security_context ? l->security_context->namespace_options : NULL;
    p->host_network = ns && ns->network == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->host_ipc = ns && ns->ipc == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->host_pid = ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__NODE;
    p->pod_pid = ns && ns->pid == RUNTIME__V1__NAMESPACE_MODE__POD;
}

/* The strings of the array under key (other items are passed over), NULL-terminated. */
static char **strings_of(const cJSON *j, const char *key, size_t *ret_n)
{
    const cJSON *a = cJSON_GetObjectItem(j, key);
    char **v = xcalloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(char *));
    size_t n = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, a)
    {
        if (cJSON_IsString(item))
            v[n++] = xstrdup(item->valuestring);
    }
    *ret_n = n;
    return v;
}

/* The CNI attachment of a record: network_added only with a configuration and a result. */
static void parse_attachment(struct pod *p, const cJSON *j)
{
    p->network_added = cJSON_IsTrue(cJSON_GetObjectItem(j, "network_added"));
    const char *conf = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cni_config"));
    const char *res = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cni_result"));
    if (!p->network_added || !conf || !res) {
        p->network_added = false;
        return;
    }
    p->att.conflist = xstrdup(conf);
    p->att.result = xstrdup(res);
    p->att.ips = strings_of(j, "ips", &p->att.n_ips);
}

struct pod *cri_pod_record_parse(struct cri *cri, const char *text)
{
    cJSON *j = cJSON_Parse(text);
    const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(j, "id"));
    const char *cfg = cJSON_GetStringValue(cJSON_GetObjectItem(j, "config"));
    const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(j, "state"));
    const char *handler = cJSON_GetStringValue(cJSON_GetObjectItem(j, "runtime_handler"));
    struct pod *p = NULL;
    if (id && cfg && state && handler && strlen(id) == 64) {
        struct buf raw = {0};
        Runtime__V1__PodSandboxConfig *c =
            base64_decode(cfg, strlen(cfg), &raw) == 0
                ? (Runtime__V1__PodSandboxConfig *)protobuf_c_message_unpack(
                      &runtime__v1__pod_sandbox_config__descriptor, NULL, raw.len, raw.data)
                : NULL;
        buf_done(&raw);
        if (c && c->metadata) {
            p = xcalloc(1, sizeof(*p));
            p->cri = cri;
            p->id = xstrdup(id);
            p->config = c;
            p->config_b64 = xstrdup(cfg);
            p->handler = xstrdup(handler);
            p->state = strcmp(state, "ready") == 0 ? POD_READY : POD_NOTREADY;
            p->created_at = (int64_t)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "created_at"));
            p->pinned = (unsigned)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "pinned"));
            p->shm_mounted = cJSON_IsTrue(cJSON_GetObjectItem(j, "shm_mounted"));
            p->infra_pid = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(j, "infra_pid"));
            const char *cgp = cJSON_GetStringValue(cJSON_GetObjectItem(j, "cgroup_parent"));
            p->cgroup_parent = xstrdup(cgp ? cgp : "");
            /* The cgroup directories the pod made. */
            p->cgroups_created = strings_of(j, "cgroups_created", &p->n_cgroups_created);
            parse_attachment(p, j);
            p->run_dir = xasprintf("%s/%s", cri->pods_run, p->id);
            cri_pod_namespaces_read(p);
        } else if (c) {
            protobuf_c_message_free_unpacked(&c->base, NULL);
        }
    }
    cJSON_Delete(j);
    return p;
}
