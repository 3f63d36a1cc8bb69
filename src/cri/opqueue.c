/* One queue of operations per pod or container: what each waiting call is to run, started one
 * after the other as the previous one ends. */
#include <stdlib.h>

#include "common/macro.h"
#include "cri/opqueue.h"

struct cri_op {
    cri_op_fn fn;
    struct grpc_call *call;
    int64_t arg;
    struct cri_op *next;
};

static void run_next(struct cri_opqueue *q, void *obj)
{
    if (q->busy || !q->head)
        return;
    struct cri_op *op = q->head;
    q->head = op->next;
    q->busy = true;
    op->fn(obj, op->call, op->arg);
    reactor_grpc_call_unref(op->call);
    free(op);
}

void cri_opqueue_add(struct cri_opqueue *q, void *obj, cri_op_fn fn, struct grpc_call *call,
                     int64_t arg)
{
    struct cri_op *op = xcalloc(1, sizeof(*op));
    op->fn = fn;
    op->call = reactor_grpc_call_ref(call);
    op->arg = arg;
    struct cri_op **tail = &q->head;
    while (*tail)
        tail = &(*tail)->next;
    *tail = op;
    run_next(q, obj);
}

void cri_opqueue_take(struct cri_opqueue *q)
{
    q->busy = true;
}

void cri_opqueue_done(struct cri_opqueue *q, void *obj)
{
    q->busy = false;
    run_next(q, obj);
}

size_t cri_opqueue_clear(struct cri_opqueue *q, cri_op_fn gone_ok, const char *msg)
{
    size_t n = 0;
    while (q->head) {
        struct cri_op *op = q->head;
        q->head = op->next;
        if (gone_ok && op->fn == gone_ok)
            op->fn(NULL, op->call, op->arg);
        else
            reactor_grpc_call_finish(op->call, GRPC_NOT_FOUND, msg);
        reactor_grpc_call_unref(op->call);
        free(op);
        n++;
    }
    return n;
}
