/* PodSandboxStatus and ListPodSandbox: what the pod registry knows, encoded for the kubelet. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/macro.h"
#include "cri/cri-internal.h"
#include "cri/pod.h"

static Runtime__V1__PodSandboxState proto_state(const struct pod *p)
{
    return p->state == POD_READY ? RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_READY
                                 : RUNTIME__V1__POD_SANDBOX_STATE__SANDBOX_NOTREADY;
}

/* The pod's IPs, when it is ready: the first, and the others in extra (room for all). */
static void network_status(const struct pod *p, Runtime__V1__PodSandboxNetworkStatus *net,
                           Runtime__V1__PodIP *extra, Runtime__V1__PodIP **extra_ptrs)
{
    size_t n_extra = p->att.n_ips > 1 ? p->att.n_ips - 1 : 0;
    if (p->state != POD_READY || !p->att.n_ips)
        return;
    net->ip = p->att.ips[0];
    for (size_t i = 0; i < n_extra; i++) {
        Runtime__V1__PodIP init = RUNTIME__V1__POD_IP__INIT;
        extra[i] = init;
        extra[i].ip = p->att.ips[i + 1];
        extra_ptrs[i] = &extra[i];
    }
    net->additional_ips = extra_ptrs;
    net->n_additional_ips = n_extra;
}

/* The verbose info: run directory, infra pid, cgroup parent, pinned namespaces, CNI result. */
static char *status_info(const struct pod *p)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "runDir", p->run_dir);
    if (p->infra_pid)
        cJSON_AddNumberToObject(j, "infraPid", p->infra_pid);
    cJSON_AddStringToObject(j, "cgroupParent", p->cgroup_parent ? p->cgroup_parent : "");
    cJSON *pins = cJSON_AddObjectToObject(j, "namespaces");
    static const struct {
        unsigned flag;
        const char *name;
    } names[] = {{NETWORK_NS_NET, "net"}, {NETWORK_NS_IPC, "ipc"}, {NETWORK_NS_UTS, "uts"}};
    for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
        cleanup_free char *path = xasprintf("%s/ns/%s", p->run_dir, names[i].name);
        if (p->pinned & names[i].flag)
            cJSON_AddStringToObject(pins, names[i].name, path);
    }
    if (p->network_added) {
        cJSON_AddItemToObject(j, "cniResult", cJSON_Parse(p->att.result));
        cJSON *conf = cJSON_Parse(p->att.conflist);
        cJSON_AddStringToObject(j, "cniNetwork",
                                cJSON_GetStringValue(cJSON_GetObjectItem(conf, "name")));
        cJSON_Delete(conf);
    }
    char *json = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return json;
}

static void status_of(const struct pod *p, Runtime__V1__PodSandboxStatus *st)
{
    const Runtime__V1__PodSandboxConfig *c = p->config;
    st->id = p->id;
    st->metadata = c->metadata;
    st->state = proto_state(p);
    st->created_at = p->created_at;
    st->runtime_handler = p->handler;
    st->labels = (Runtime__V1__PodSandboxStatus__LabelsEntry **)c->labels;
    st->n_labels = c->n_labels;
    st->annotations = (Runtime__V1__PodSandboxStatus__AnnotationsEntry **)c->annotations;
    st->n_annotations = c->n_annotations;
}

void cri_pod_status_fill(const struct pod *p, struct pod_status_msg *m)
{
    Runtime__V1__PodSandboxStatus st = RUNTIME__V1__POD_SANDBOX_STATUS__INIT;
    Runtime__V1__PodSandboxNetworkStatus net = RUNTIME__V1__POD_SANDBOX_NETWORK_STATUS__INIT;
    Runtime__V1__LinuxPodSandboxStatus lin = RUNTIME__V1__LINUX_POD_SANDBOX_STATUS__INIT;
    Runtime__V1__Namespace ns = RUNTIME__V1__NAMESPACE__INIT;
    Runtime__V1__NamespaceOption nso = RUNTIME__V1__NAMESPACE_OPTION__INIT;
    m->st = st;
    m->net = net;
    m->lin = lin;
    m->ns = ns;
    m->nso = nso;
    status_of(p, &m->st);
    size_t n_extra = p->att.n_ips > 1 ? p->att.n_ips - 1 : 0;
    m->extra = xcalloc(n_extra + 1, sizeof(*m->extra));
    m->extra_ptrs = xcalloc(n_extra + 1, sizeof(*m->extra_ptrs));
    network_status(p, &m->net, m->extra, m->extra_ptrs);
    m->st.network = &m->net;
    const Runtime__V1__LinuxPodSandboxConfig *l = p->config->linux;
    if (l && l->security_context && l->security_context->namespace_options)
        m->nso = *l->security_context->namespace_options;
    m->ns.options = &m->nso;
    m->lin.namespaces = &m->ns;
    m->st.linux = &m->lin;
}

void cri_pod_status_done(struct pod_status_msg *m)
{
    free(m->extra);
    free(m->extra_ptrs);
}

void cri_pod_sandbox_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__PodSandboxStatusRequest *r = (const void *)req;
    struct pod *p = cri_pod_find(cri, r->pod_sandbox_id);
    if (!p) {
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "pod sandbox `%s` not found", r->pod_sandbox_id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct pod_status_msg m;
    cri_pod_status_fill(p, &m);
    Runtime__V1__PodSandboxStatusResponse resp = RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INIT;
    resp.status = &m.st;
    resp.timestamp = now_unix_ns();
    Runtime__V1__PodSandboxStatusResponse__InfoEntry info =
        RUNTIME__V1__POD_SANDBOX_STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__PodSandboxStatusResponse__InfoEntry *infos[1] = {&info};
    char *json = NULL;
    if (r->verbose) {
        json = status_info(p);
        info.key = "info";
        info.value = json;
        resp.info = infos;
        resp.n_info = 1;
    }
    cri_reply(call, &resp.base);
    cJSON_free(json);
    cri_pod_status_done(&m);
}

static bool labels_match(const Runtime__V1__PodSandboxConfig *c,
                         const Runtime__V1__PodSandboxFilter *f)
{
    for (size_t i = 0; i < f->n_label_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < c->n_labels && !found; k++)
            found = strcmp(c->labels[k]->key, f->label_selector[i]->key) == 0 &&
                    strcmp(c->labels[k]->value, f->label_selector[i]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}

void cri_list_pod_sandbox(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListPodSandboxRequest *r = (const void *)req;
    const Runtime__V1__PodSandboxFilter *f = r->filter;
    size_t n = 0;
    for (struct pod *p = cri->pods; p; p = p->next)
        n++;
    cleanup_free Runtime__V1__PodSandbox *items = xcalloc(n + 1, sizeof(*items));
    cleanup_free Runtime__V1__PodSandbox **ptrs = xcalloc(n + 1, sizeof(*ptrs));
    size_t k = 0;
    for (struct pod *p = cri->pods; p; p = p->next) {
        if (f && *f->id && strncmp(p->id, f->id, strlen(f->id)) != 0)
            continue;
        if (f && f->state && f->state->state != proto_state(p))
            continue;
        if (f && !labels_match(p->config, f))
            continue;
        Runtime__V1__PodSandbox init = RUNTIME__V1__POD_SANDBOX__INIT;
        items[k] = init;
        items[k].id = p->id;
        items[k].metadata = p->config->metadata;
        items[k].state = proto_state(p);
        items[k].created_at = p->created_at;
        items[k].labels = (Runtime__V1__PodSandbox__LabelsEntry **)p->config->labels;
        items[k].n_labels = p->config->n_labels;
        items[k].annotations = (Runtime__V1__PodSandbox__AnnotationsEntry **)p->config->annotations;
        items[k].n_annotations = p->config->n_annotations;
        items[k].runtime_handler = p->handler;
        ptrs[k] = &items[k];
        k++;
    }
    Runtime__V1__ListPodSandboxResponse resp = RUNTIME__V1__LIST_POD_SANDBOX_RESPONSE__INIT;
    resp.items = ptrs;
    resp.n_items = k;
    cri_reply(call, &resp.base);
}
