/* The container state machine's transition table: pure, so that the unit test walks every state
 * and event without a loop. */
#include "cri/ctr-state.h"

#define X CRI_CTR_INVALID

/* Rows are states, columns events: start, exit, stop, kill, remove, restart-adopt. Stop and kill
 * leave the state alone (the exit moves it); they are refused where nothing can be signalled. */
static const enum cri_ctr_state table[CRI_CTR_N_STATES][CRI_CTR_N_EVENTS] = {
    [CRI_CTR_CREATED] = {CRI_CTR_RUNNING, CRI_CTR_EXITED, CRI_CTR_CREATED, CRI_CTR_CREATED, X,
                         CRI_CTR_CREATED},
    [CRI_CTR_RUNNING] = {X, CRI_CTR_EXITED, CRI_CTR_RUNNING, CRI_CTR_RUNNING, X, CRI_CTR_RUNNING},
    /* start: the init ended before the runtime's `start` returned. */
    [CRI_CTR_EXITED] = {CRI_CTR_EXITED, X, X, X, CRI_CTR_REMOVED, X},
    [CRI_CTR_UNKNOWN] = {X, X, X, X, CRI_CTR_REMOVED, X},
    [CRI_CTR_REMOVED] = {X, X, X, X, X, X},
};

#undef X

enum cri_ctr_state cri_ctr_next(enum cri_ctr_state s, enum cri_ctr_event ev)
{
    if ((int)s < 0 || (int)s >= CRI_CTR_N_STATES || (int)ev < 0 || (int)ev >= CRI_CTR_N_EVENTS)
        return CRI_CTR_INVALID;
    return table[s][ev];
}

bool cri_ctr_state_live(enum cri_ctr_state s)
{
    return cri_ctr_next(s, CRI_CTR_EVENT_EXIT) != CRI_CTR_INVALID;
}

const char *cri_ctr_state_name(enum cri_ctr_state s)
{
    static const char *const names[CRI_CTR_N_STATES] = {"created", "running", "exited", "unknown",
                                                        "removed"};
    return (int)s >= 0 && (int)s < CRI_CTR_N_STATES ? names[s] : "invalid";
}

const char *cri_ctr_event_name(enum cri_ctr_event ev)
{
    static const char *const names[CRI_CTR_N_EVENTS] = {"start", "exit",   "stop",
                                                        "kill",  "remove", "restart-adopt"};
    return (int)ev >= 0 && (int)ev < CRI_CTR_N_EVENTS ? names[ev] : "invalid";
}
