/* Object ids: 64 lowercase hex digits of 256 random bits, as the CRI's pods and containers and
 * Docker's have. */
#ifndef CRIB_COMMON_ID_H
#define CRIB_COMMON_ID_H

/* A new id (the kernel's random source; a failure to read it aborts). */
char *id_new(void);

#endif
