/* Unit tests for the container state machine's transition table: every state against every
 * event, written out once here as the expected table, without a loop. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cri/ctr-state.h"

#define X CRI_CTR_INVALID
#define C CRI_CTR_CREATED
#define R CRI_CTR_RUNNING
#define E CRI_CTR_EXITED
#define D CRI_CTR_REMOVED

/* Columns: start, exit, stop, kill, remove, restart-adopt. */
static const enum cri_ctr_state want[CRI_CTR_N_STATES][CRI_CTR_N_EVENTS] = {
    [CRI_CTR_CREATED] = {R, E, C, C, X, C}, [CRI_CTR_RUNNING] = {X, E, R, R, X, R},
    [CRI_CTR_EXITED] = {E, X, X, X, D, X},  [CRI_CTR_UNKNOWN] = {X, X, X, X, D, X},
    [CRI_CTR_REMOVED] = {X, X, X, X, X, X},
};

static void test_every_state_and_event(void **state)
{
    (void)state;
    for (int s = 0; s < CRI_CTR_N_STATES; s++)
        for (int ev = 0; ev < CRI_CTR_N_EVENTS; ev++) {
            enum cri_ctr_state got = cri_ctr_next((enum cri_ctr_state)s, (enum cri_ctr_event)ev);
            if (got != want[s][ev])
                fail_msg("%s on %s: got %s, want %s", cri_ctr_event_name((enum cri_ctr_event)ev),
                         cri_ctr_state_name((enum cri_ctr_state)s), cri_ctr_state_name(got),
                         cri_ctr_state_name(want[s][ev]));
        }
}

static void test_the_exit_moves_a_live_container(void **state)
{
    (void)state;
    /* Stop and kill only signal: the state changes when the exit comes. */
    enum cri_ctr_state s = cri_ctr_next(CRI_CTR_CREATED, CRI_CTR_EVENT_START);
    assert_int_equal(s, CRI_CTR_RUNNING);
    s = cri_ctr_next(s, CRI_CTR_EVENT_STOP);
    assert_int_equal(s, CRI_CTR_RUNNING);
    s = cri_ctr_next(s, CRI_CTR_EVENT_KILL);
    assert_int_equal(s, CRI_CTR_RUNNING);
    s = cri_ctr_next(s, CRI_CTR_EVENT_EXIT);
    assert_int_equal(s, CRI_CTR_EXITED);
    s = cri_ctr_next(s, CRI_CTR_EVENT_REMOVE);
    assert_int_equal(s, CRI_CTR_REMOVED);
}

static void test_start_after_the_exit_keeps_it_exited(void **state)
{
    (void)state;
    /* The init may end before the runtime's `start` returns. */
    enum cri_ctr_state s = cri_ctr_next(CRI_CTR_CREATED, CRI_CTR_EVENT_EXIT);
    assert_int_equal(s, CRI_CTR_EXITED);
    assert_int_equal(cri_ctr_next(s, CRI_CTR_EVENT_START), CRI_CTR_EXITED);
}

static void test_live_states(void **state)
{
    (void)state;
    assert_true(cri_ctr_state_live(CRI_CTR_CREATED));
    assert_true(cri_ctr_state_live(CRI_CTR_RUNNING));
    assert_false(cri_ctr_state_live(CRI_CTR_EXITED));
    assert_false(cri_ctr_state_live(CRI_CTR_UNKNOWN));
    assert_false(cri_ctr_state_live(CRI_CTR_REMOVED));
    assert_false(cri_ctr_state_live(CRI_CTR_INVALID));
}

static void test_out_of_range_is_invalid(void **state)
{
    (void)state;
    assert_int_equal(cri_ctr_next(CRI_CTR_INVALID, CRI_CTR_EVENT_START), CRI_CTR_INVALID);
    assert_int_equal(cri_ctr_next((enum cri_ctr_state)CRI_CTR_N_STATES, CRI_CTR_EVENT_EXIT),
                     CRI_CTR_INVALID);
    assert_int_equal(cri_ctr_next(CRI_CTR_RUNNING, (enum cri_ctr_event)CRI_CTR_N_EVENTS),
                     CRI_CTR_INVALID);
    assert_int_equal(cri_ctr_next(CRI_CTR_RUNNING, (enum cri_ctr_event) - 1), CRI_CTR_INVALID);
}

static void test_names(void **state)
{
    (void)state;
    /* The record stores these names: they must not change. */
    assert_string_equal(cri_ctr_state_name(CRI_CTR_CREATED), "created");
    assert_string_equal(cri_ctr_state_name(CRI_CTR_RUNNING), "running");
    assert_string_equal(cri_ctr_state_name(CRI_CTR_EXITED), "exited");
    assert_string_equal(cri_ctr_state_name(CRI_CTR_UNKNOWN), "unknown");
    assert_string_equal(cri_ctr_state_name(CRI_CTR_REMOVED), "removed");
    assert_string_equal(cri_ctr_state_name(CRI_CTR_INVALID), "invalid");
    const char *events[] = {"start", "exit", "stop", "kill", "remove", "restart-adopt"};
    for (int ev = 0; ev < CRI_CTR_N_EVENTS; ev++)
        assert_string_equal(cri_ctr_event_name((enum cri_ctr_event)ev), events[ev]);
    assert_string_equal(cri_ctr_event_name((enum cri_ctr_event)CRI_CTR_N_EVENTS), "invalid");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_state_and_event),
        cmocka_unit_test(test_the_exit_moves_a_live_container),
        cmocka_unit_test(test_start_after_the_exit_keeps_it_exited),
        cmocka_unit_test(test_live_states),
        cmocka_unit_test(test_out_of_range_is_invalid),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
