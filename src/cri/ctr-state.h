/* The container state machine of cri/: its states, the events that move them and the pure
 * transition table. No loop, no I/O: container.c applies a transition and runs the side effects
 * of the state entered (enter_<state>()). */
#ifndef CRIB_CRI_CTR_STATE_H
#define CRIB_CRI_CTR_STATE_H

#include <stdbool.h>

enum cri_ctr_state {
    CRI_CTR_INVALID = -1, /* cri_ctr_next: the event does not apply in this state */
    CRI_CTR_CREATED,      /* the runtime's `create` has returned; first state of a container */
    CRI_CTR_RUNNING,
    CRI_CTR_EXITED,
    CRI_CTR_UNKNOWN, /* a record whose state we cannot read */
    CRI_CTR_REMOVED, /* out of the registry and its record deleted; never persisted */
};
#define CRI_CTR_N_STATES (CRI_CTR_REMOVED + 1)

enum cri_ctr_event {
    CRI_CTR_EVENT_START,         /* the runtime's `start` returned success */
    CRI_CTR_EVENT_EXIT,          /* the init's exit is known (monitor/, or found gone at reload) */
    CRI_CTR_EVENT_STOP,          /* the stop signal, SIGKILL after a grace period */
    CRI_CTR_EVENT_KILL,          /* SIGKILL now */
    CRI_CTR_EVENT_REMOVE,        /* RemoveContainer (or the pod's removal) is done with it */
    CRI_CTR_EVENT_RESTART_ADOPT, /* after a restart, the init is found and watched again */
};
#define CRI_CTR_N_EVENTS (CRI_CTR_EVENT_RESTART_ADOPT + 1)

/* The state after event in state s, or CRI_CTR_INVALID. Out-of-range arguments are invalid. */
enum cri_ctr_state cri_ctr_next(enum cri_ctr_state s, enum cri_ctr_event ev);
/* Whether the container's init may still run: an exit can still come. */
bool cri_ctr_state_live(enum cri_ctr_state s);
/* "created", "running", "exited", "unknown" (as in the record), "removed"; "invalid". */
const char *cri_ctr_state_name(enum cri_ctr_state s);
/* "start", "exit", "stop", "kill", "remove", "restart-adopt"; "invalid". */
const char *cri_ctr_event_name(enum cri_ctr_event ev);

#endif
