/* GetContainerEvents: a server-streaming call per subscriber, open until the client leaves. */
#include <inttypes.h>
#include <stdlib.h>

#include "common/list.h"
#include "common/log.h"
#include "common/macro.h"
#include "cri/cri-internal.h"

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

void cri_events_publish(struct cri *cri, const Runtime__V1__ContainerEventResponse *ev)
{
    size_t len = protobuf_c_message_get_packed_size(&ev->base);
    cleanup_free uint8_t *bytes = xmalloc(len);
    protobuf_c_message_pack(&ev->base, bytes);
    /* Events are of one size near enough: the backlog in bytes says how many are queued. */
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
