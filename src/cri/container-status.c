/* ContainerStatus and ListContainers: what the container registry holds, as the CRI reports it. */
#include <errno.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/buf.h"
#include "common/fsutil.h"
#include "common/macro.h"
#include "cri/container.h"

/* config.json is read back for the verbose status. */
#define SPEC_MAX (4u << 20)

static Runtime__V1__ContainerState proto_state(enum cri_ctr_state s)
{
    switch (s) {
    case CRI_CTR_CREATED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_CREATED;
    case CRI_CTR_RUNNING:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_RUNNING;
    case CRI_CTR_EXITED:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_EXITED;
    default:
        return RUNTIME__V1__CONTAINER_STATE__CONTAINER_UNKNOWN;
    }
}

static char *status_info(struct ctr *c)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "pid", c->pid);
    cJSON_AddStringToObject(j, "sandboxID", c->pod_id);
    cJSON_AddStringToObject(j, "runtime", c->runtime);
    cJSON_AddStringToObject(j, "bundle", c->run_dir);
    cJSON_AddStringToObject(j, "cgroupsPath", c->cgroups_path);
    cleanup_free char *spec_path = xasprintf("%s/config.json", c->run_dir);
    struct buf b = {0};
    if (fs_read_file(spec_path, SPEC_MAX, &b) == 0) {
        cJSON *spec = cJSON_Parse((const char *)b.data);
        if (spec)
            cJSON_AddItemToObject(j, "runtimeSpec", spec);
    }
    buf_done(&b);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

void cri_ctr_status_fill(struct ctr *c, struct ctr_status_msg *m)
{
    const Runtime__V1__ContainerConfig *cfg = c->config;
    Runtime__V1__ContainerStatus st = RUNTIME__V1__CONTAINER_STATUS__INIT;
    Runtime__V1__ImageSpec image = RUNTIME__V1__IMAGE_SPEC__INIT;
    Runtime__V1__ContainerResources res = RUNTIME__V1__CONTAINER_RESOURCES__INIT;
    m->st = st;
    m->image = image;
    m->res = res;
    m->st.id = c->id;
    m->st.metadata = cfg->metadata;
    m->st.state = proto_state(c->state);
    m->st.created_at = c->created_at;
    m->st.started_at = c->started_at;
    m->st.finished_at = c->finished_at;
    m->st.exit_code = c->exit_code;
    m->image.image = c->image_name;
    m->st.image = &m->image;
    m->st.image_ref = c->image_ref;
    m->st.image_id = c->image_id;
    m->st.reason = c->reason ? c->reason : "";
    m->st.message = c->message ? c->message : "";
    CRI_COPY_MAP(m->st.labels, m->st.n_labels, cfg->labels, cfg->n_labels,
                 RUNTIME__V1__CONTAINER_STATUS__LABELS_ENTRY__INIT);
    CRI_COPY_MAP(m->st.annotations, m->st.n_annotations, cfg->annotations, cfg->n_annotations,
                 RUNTIME__V1__CONTAINER_STATUS__ANNOTATIONS_ENTRY__INIT);
    m->st.mounts = cfg->mounts;
    m->st.n_mounts = cfg->n_mounts;
    m->st.log_path = c->log_path;
    if (cfg->linux && cfg->linux->resources) {
        m->res.linux = cfg->linux->resources;
        m->st.resources = &m->res;
    }
}

void cri_ctr_status_done(struct ctr_status_msg *m)
{
    cri_free_map((void **)m->st.labels, m->st.n_labels);
    cri_free_map((void **)m->st.annotations, m->st.n_annotations);
}

void cri_container_status(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ContainerStatusRequest *r = (const void *)req;
    struct ctr *c = cri_ctr_find(cri, r->container_id);
    if (!c) {
        struct err err = ERR_INIT;
        err_set(&err, -ENOENT, "container `%s` not found", r->container_id);
        cri_reply_err(call, &err);
        err_done(&err);
        return;
    }
    struct ctr_status_msg m;
    cri_ctr_status_fill(c, &m);
    Runtime__V1__ContainerStatusResponse resp = RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INIT;
    resp.status = &m.st;
    Runtime__V1__ContainerStatusResponse__InfoEntry info =
        RUNTIME__V1__CONTAINER_STATUS_RESPONSE__INFO_ENTRY__INIT;
    Runtime__V1__ContainerStatusResponse__InfoEntry *infos[1] = {&info};
    cleanup_free char *info_json = NULL;
    if (r->verbose) {
        info_json = status_info(c);
        info.key = "info";
        info.value = info_json;
        resp.info = infos;
        resp.n_info = 1;
    }
    cri_reply(call, &resp.base);
    cri_ctr_status_done(&m);
}

static bool ctr_matches(const struct ctr *c, const Runtime__V1__ContainerFilter *f)
{
    if (!f)
        return true;
    if (*f->id && strncmp(c->id, f->id, strlen(f->id)) != 0)
        return false;
    if (*f->pod_sandbox_id && strncmp(c->pod_id, f->pod_sandbox_id, strlen(f->pod_sandbox_id)))
        return false;
    if (f->state && proto_state(c->state) != f->state->state)
        return false;
    for (size_t i = 0; i < f->n_label_selector; i++) {
        bool found = false;
        for (size_t k = 0; k < c->config->n_labels && !found; k++)
            found = strcmp(c->config->labels[k]->key, f->label_selector[i]->key) == 0 &&
                    strcmp(c->config->labels[k]->value, f->label_selector[i]->value) == 0;
        if (!found)
            return false;
    }
    return true;
}

void cri_list_containers(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    const Runtime__V1__ListContainersRequest *r = (const void *)req;
    size_t n = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        n++;
    Runtime__V1__Container *items = xcalloc(n + 1, sizeof(*items));
    Runtime__V1__ImageSpec *images = xcalloc(n + 1, sizeof(*images));
    Runtime__V1__Container **ptrs = xcalloc(n + 1, sizeof(*ptrs));
    size_t k = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (!ctr_matches(c, r->filter))
            continue;
        Runtime__V1__Container *it = &items[k];
        *it = (Runtime__V1__Container)RUNTIME__V1__CONTAINER__INIT;
        images[k] = (Runtime__V1__ImageSpec)RUNTIME__V1__IMAGE_SPEC__INIT;
        images[k].image = c->image_name;
        it->id = c->id;
        it->pod_sandbox_id = c->pod_id;
        it->metadata = c->config->metadata;
        it->image = &images[k];
        it->image_ref = c->image_ref;
        it->image_id = c->image_id;
        it->state = proto_state(c->state);
        it->created_at = c->created_at;
        CRI_COPY_MAP(it->labels, it->n_labels, c->config->labels, c->config->n_labels,
                     RUNTIME__V1__CONTAINER__LABELS_ENTRY__INIT);
        CRI_COPY_MAP(it->annotations, it->n_annotations, c->config->annotations,
                     c->config->n_annotations, RUNTIME__V1__CONTAINER__ANNOTATIONS_ENTRY__INIT);
        ptrs[k++] = it;
    }
    Runtime__V1__ListContainersResponse resp = RUNTIME__V1__LIST_CONTAINERS_RESPONSE__INIT;
    resp.containers = ptrs;
    resp.n_containers = k;
    cri_reply(call, &resp.base);
    for (size_t i = 0; i < k; i++) {
        cri_free_map((void **)items[i].labels, items[i].n_labels);
        cri_free_map((void **)items[i].annotations, items[i].n_annotations);
    }
    free(items);
    free(images);
    free(ptrs);
}
