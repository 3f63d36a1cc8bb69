/* The CRI services: decode requests, validate, call the modules, encode replies and statuses. */
#ifndef CRIB_CRI_H
#define CRIB_CRI_H

#include <uv.h>

#include "common/config.h"
#include "reactor/reactor.h"

struct cri;

/* Open the stores under the configured root; fails with a message in err. keeper: the keeper
 * this daemon runs under, or NULL. */
int cri_new(uv_loop_t *loop, const struct config *cfg, struct reactor_keeper *keeper,
            struct cri **ret, struct err *err);
/* End long-lived calls (event streams), cancel pulls, close outgoing connections; the loop can
 * then drain. Must run (on the loop) before cri_free. */
void cri_shutdown(struct cri *cri);
void cri_free(struct cri *cri);
/* The server whose counters /info reports (optional). */
void cri_set_server(struct cri *cri, struct reactor_server *srv);
/* The reactor_server_ops for the CRI socket; data is the struct cri. */
extern const struct reactor_server_ops cri_server_ops;

#endif
