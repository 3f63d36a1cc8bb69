/* Unit tests for cri/'s per-object operation queue (cri/opqueue.c): one operation at a time, in
 * order; the next runs when one is done; a removed object's waiting calls are finished. The gRPC
 * calls are stand-ins: ref, unref and finish are wrapped (-Wl,--wrap). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cri/opqueue.h"

/* A stand-in call: its refs and how it was finished. */
struct grpc_call {
    int refs;
    int finished; /* a gRPC status + 1, 0 if not finished */
    char msg[64];
};

struct grpc_call *__wrap_reactor_grpc_call_ref(struct grpc_call *call);
void __wrap_reactor_grpc_call_unref(struct grpc_call *call);
void __wrap_reactor_grpc_call_finish(struct grpc_call *call, enum grpc_status status,
                                     const char *msg);

struct grpc_call *__wrap_reactor_grpc_call_ref(struct grpc_call *call)
{
    call->refs++;
    return call;
}

void __wrap_reactor_grpc_call_unref(struct grpc_call *call)
{
    assert_true(call->refs > 0);
    call->refs--;
}

void __wrap_reactor_grpc_call_finish(struct grpc_call *call, enum grpc_status status,
                                     const char *msg)
{
    call->finished = (int)status + 1;
    snprintf(call->msg, sizeof(call->msg), "%s", msg);
}

/* What ran, in order: the arg of each operation, and the object it got. */
static int64_t ran[8];
static void *ran_on[8];
static size_t n_ran;
static struct cri_opqueue *sync_queue; /* an operation that is done before it returns */

static void op_record(void *obj, struct grpc_call *call, int64_t arg)
{
    assert_true(call->refs > 0);
    ran_on[n_ran] = obj;
    ran[n_ran++] = arg;
    if (sync_queue)
        cri_opqueue_done(sync_queue, obj);
}

static void op_other(void *obj, struct grpc_call *call, int64_t arg)
{
    op_record(obj, call, arg);
}

static int reset(void **state)
{
    (void)state;
    n_ran = 0;
    sync_queue = NULL;
    memset(ran, 0, sizeof(ran));
    return 0;
}

static void test_one_at_a_time_in_order(void **state)
{
    (void)state;
    struct cri_opqueue q = {0};
    int obj;
    struct grpc_call a = {.refs = 1}, b = {.refs = 1}, c = {.refs = 1};
    cri_opqueue_add(&q, &obj, op_record, &a, 1);
    assert_int_equal(n_ran, 1); /* nothing was running: it ran at once */
    assert_true(q.busy);
    assert_int_equal(a.refs, 1); /* the queue's ref is dropped once it ran */
    cri_opqueue_add(&q, &obj, op_record, &b, 2);
    cri_opqueue_add(&q, &obj, op_record, &c, 3);
    assert_int_equal(n_ran, 1);
    assert_int_equal(b.refs, 2); /* waiting calls are held */
    cri_opqueue_done(&q, &obj);
    assert_int_equal(n_ran, 2);
    assert_int_equal(ran[1], 2);
    assert_ptr_equal(ran_on[1], &obj);
    assert_int_equal(b.refs, 1);
    cri_opqueue_done(&q, &obj);
    assert_int_equal(n_ran, 3);
    assert_int_equal(ran[2], 3);
    cri_opqueue_done(&q, &obj);
    assert_false(q.busy);
    assert_null(q.head);
    assert_int_equal(c.refs, 1);
}

/* An operation done before it returns lets the next run, still in order. */
static void test_done_inside_the_operation(void **state)
{
    (void)state;
    struct cri_opqueue q = {0};
    int obj;
    struct grpc_call a = {.refs = 1}, b = {.refs = 1};
    cri_opqueue_take(&q);
    cri_opqueue_add(&q, &obj, op_record, &a, 1);
    cri_opqueue_add(&q, &obj, op_record, &b, 2);
    assert_int_equal(n_ran, 0); /* taken: the queue waits */
    sync_queue = &q;
    cri_opqueue_done(&q, &obj);
    assert_int_equal(n_ran, 2);
    assert_int_equal(ran[0], 1);
    assert_int_equal(ran[1], 2);
    assert_false(q.busy);
    assert_int_equal(a.refs + b.refs, 2);
}

static void test_clear(void **state)
{
    (void)state;
    struct cri_opqueue q = {0};
    int obj;
    struct grpc_call a = {.refs = 1}, b = {.refs = 1}, c = {.refs = 1}, d = {.refs = 1};
    cri_opqueue_add(&q, &obj, op_record, &a, 1);
    cri_opqueue_add(&q, &obj, op_other, &b, 2);
    cri_opqueue_add(&q, &obj, op_record, &c, 3);
    cri_opqueue_add(&q, &obj, op_other, &d, 4);
    assert_int_equal(cri_opqueue_clear(&q, op_other, "gone"), 3);
    assert_null(q.head);
    /* op_other ran with no object; the others were finished with NOT_FOUND. */
    assert_int_equal(n_ran, 3);
    assert_int_equal(ran[1], 2);
    assert_null(ran_on[1]);
    assert_int_equal(ran[2], 4);
    assert_null(ran_on[2]);
    assert_int_equal(b.finished, 0);
    assert_int_equal(c.finished, GRPC_NOT_FOUND + 1);
    assert_string_equal(c.msg, "gone");
    assert_int_equal(b.refs + c.refs + d.refs, 3);
    /* Without gone_ok every waiting call is finished. */
    struct grpc_call e = {.refs = 1};
    cri_opqueue_add(&q, &obj, op_other, &e, 5);
    assert_int_equal(cri_opqueue_clear(&q, NULL, "removed"), 1);
    assert_int_equal(e.finished, GRPC_NOT_FOUND + 1);
    assert_int_equal(e.refs, 1);
    assert_int_equal(cri_opqueue_clear(&q, NULL, "removed"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_one_at_a_time_in_order, reset),
        cmocka_unit_test_setup(test_done_inside_the_operation, reset),
        cmocka_unit_test_setup(test_clear, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
