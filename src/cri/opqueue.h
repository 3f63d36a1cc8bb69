/* The per-object operation queue of cri/ (opqueue.c): calls on one pod or one container run one
 * at a time, in the order they came; different objects run concurrently. */
#ifndef CRIB_CRI_OPQUEUE_H
#define CRIB_CRI_OPQUEUE_H

#include <stdbool.h>
#include <stdint.h>

#include "reactor/reactor.h"

/* An operation on obj for call (which it refs if it keeps it); obj is NULL for an operation
 * that runs although its object is gone (see cri_opqueue_clear). It ends with cri_opqueue_done. */
typedef void (*cri_op_fn)(void *obj, struct grpc_call *call, int64_t arg);

struct cri_op;

/* Embedded in its object. */
struct cri_opqueue {
    bool busy;           /* an operation runs: others wait in line */
    struct cri_op *head; /* the operations waiting, first to run first */
};

/* Queue fn(obj, call, arg) behind the operations waiting (a ref on call until it runs), and run
 * it at once if none runs. */
void cri_opqueue_add(struct cri_opqueue *q, void *obj, cri_op_fn fn, struct grpc_call *call,
                     int64_t arg);
/* An operation that did not come through the queue runs on its object (a new object's creation,
 * a pod removing its containers): the queued ones wait for it too. */
void cri_opqueue_take(struct cri_opqueue *q);
/* The running operation is over: the next one, if any, runs on obj. */
void cri_opqueue_done(struct cri_opqueue *q, void *obj);
/* The object is gone: each waiting call for gone_ok runs with no object, every other one is
 * finished with NOT_FOUND and msg. The number of calls taken out of the queue. */
size_t cri_opqueue_clear(struct cri_opqueue *q, cri_op_fn gone_ok, const char *msg);

#endif
