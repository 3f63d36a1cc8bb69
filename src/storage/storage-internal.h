/* Shared between storage/'s files: the store's state. */
#ifndef CRIB_STORAGE_INTERNAL_H
#define CRIB_STORAGE_INTERNAL_H

#include <stdbool.h>
#include <uv.h>

#include "storage/storage.h"

struct unpack;

struct layer_ref {
    char *chain_id;
    unsigned refs;
    struct layer_ref *prev, *next;
};

struct storage {
    uv_loop_t *loop;
    char *root, *layers, *tmp;
    struct storage_opts opts;
    struct unpack *unpacks;
    struct layer_ref *refs;
    unsigned pending_work; /* pool jobs not yet completed */
    bool freeing;
    unsigned tmp_seq;
};

/* Move dir (named name) into tmp/ at once and delete it on the thread pool. */
void storage_remove_later(struct storage *s, const char *dir, const char *name);

#endif
