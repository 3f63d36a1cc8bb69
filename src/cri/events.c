/* GetContainerEvents: a server-streaming call per subscriber, open until the client leaves. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/container.h"
#include "cri/cri-internal.h"
#include "cri/pod.h"

struct event_sub {
    struct cri *cri;
    struct grpc_call *call;
    struct event_sub *prev, *next;
};

static void sub_remove(struct event_sub *sub)
{
    struct cri *cri = sub->cri;
    LIST_REMOVE(cri->event_subs, sub);
    reactor_grpc_call_on_cancel(sub->call, NULL, NULL);
    reactor_grpc_call_unref(sub->call);
    free(sub);
}

static void on_cancel(struct grpc_call *call, void *data)
{
    sub_remove(data);
}

void cri_get_container_events(struct cri *cri, struct grpc_call *call, const ProtobufCMessage *req)
{
    if (cri->shutting_down) {
        reactor_grpc_call_finish(call, GRPC_UNAVAILABLE, "crib is shutting down");
        return;
    }
    struct event_sub *sub = xcalloc(1, sizeof(*sub));
    sub->cri = cri;
    sub->call = reactor_grpc_call_ref(call);
    LIST_PREPEND(cri->event_subs, sub);
    reactor_grpc_call_on_cancel(call, on_cancel, sub);
}

void cri_events_publish(struct cri *cri, const char *id, const struct pod *p,
                        Runtime__V1__ContainerEventType type)
{
    if (!cri->event_subs)
        return;
    Runtime__V1__ContainerEventResponse ev = RUNTIME__V1__CONTAINER_EVENT_RESPONSE__INIT;
    ev.container_id = (char *)id;
    ev.container_event_type = type;
    ev.created_at = now_unix_ns();
    /* The pod's status and all its containers' as they are now (a deleted container is no
     * longer among them): the kubelet's evented PLEG takes its pod status from the event. */
    struct pod_status_msg pm;
    cri_pod_status_fill(p, &pm);
    ev.pod_sandbox_status = &pm.st;
    size_t n = 0;
    for (struct ctr *c = cri->ctrs; c; c = c->next)
        n += strcmp(c->pod_id, p->id) == 0;
    cleanup_free struct ctr_status_msg *cm = xcalloc(n + 1, sizeof(*cm));
    cleanup_free Runtime__V1__ContainerStatus **sts = xcalloc(n + 1, sizeof(*sts));
    for (struct ctr *c = cri->ctrs; c; c = c->next) {
        if (strcmp(c->pod_id, p->id) != 0)
            continue;
        cri_ctr_status_fill(c, &cm[ev.n_containers_statuses]);
        sts[ev.n_containers_statuses] = &cm[ev.n_containers_statuses].st;
        ev.n_containers_statuses++;
    }
    ev.containers_statuses = sts;
    size_t len = protobuf_c_message_get_packed_size(&ev.base);
    cleanup_free uint8_t *bytes = xmalloc(len);
    protobuf_c_message_pack(&ev.base, bytes);
    for (size_t i = 0; i < ev.n_containers_statuses; i++)
        cri_ctr_status_done(&cm[i]);
    cri_pod_status_done(&pm);
    /* A pod's events are of one size near enough: the backlog in bytes over this event's size
     * says how many are queued. */
    size_t max = (size_t)cri->cfg->events_backlog_max * len;
    for (struct event_sub *sub = cri->event_subs, *next; sub; sub = next) {
        next = sub->next;
        if (reactor_grpc_call_backlog(sub->call) >= max) {
            log_warn("GetContainerEvents: dropping a subscriber %" PRId64 " events behind",
                     cri->cfg->events_backlog_max);
            reactor_grpc_call_abort(sub->call);
            sub_remove(sub);
        } else if (reactor_grpc_call_send(sub->call, bytes, len) < 0) {
            sub_remove(sub);
        }
    }
}

void cri_events_shutdown(struct cri *cri)
{
    while (cri->event_subs) {
        struct event_sub *sub = cri->event_subs;
        reactor_grpc_call_finish(sub->call, GRPC_UNAVAILABLE, "crib is shutting down");
        sub_remove(sub);
    }
}
