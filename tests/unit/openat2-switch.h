/* For unit tests linked with -Wl,--wrap=syscall and openat2-switch.c: openat2 answers ENOSYS, as
 * on a kernel before 5.6, while no_openat2 is set; openat2_calls counts the attempts. */
#ifndef CRIB_TESTS_OPENAT2_SWITCH_H
#define CRIB_TESTS_OPENAT2_SWITCH_H

#include <stdbool.h>

extern bool no_openat2;
extern unsigned openat2_calls;

#endif
