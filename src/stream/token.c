/* One-time streaming tokens: 32 random bytes each, valid once and until they expire. */
#include <errno.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/list.h"
#include "common/macro.h"
#include "stream/stream-internal.h"

struct stream_token {
    struct stream_token *prev, *next;
    char id[STREAM_TOKEN_LEN + 1];
    uint64_t expires_ms;
    struct stream_request *req;
};

void stream_tokens_init(struct stream_tokens *t)
{
    memset(t, 0, sizeof(*t));
}

static void drop(struct stream_tokens *t, struct stream_token *k)
{
    LIST_REMOVE(t->head, k);
    t->n--;
    stream_request_free(k->req);
    free(k);
}

void stream_tokens_done(struct stream_tokens *t)
{
    while (t->head)
        drop(t, t->head);
}

static void sweep(struct stream_tokens *t, uint64_t now_ms)
{
    for (struct stream_token *k = t->head, *next; k; k = next) {
        next = k->next;
        if (k->expires_ms <= now_ms)
            drop(t, k);
    }
}

int stream_tokens_add(struct stream_tokens *t, struct stream_request *req, uint64_t expires_ms,
                      char ret_token[STREAM_TOKEN_LEN + 1])
{
    static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (t->n >= STREAM_TOKENS_MAX) {
        stream_request_free(req);
        return -EAGAIN;
    }
    unsigned char raw[33] = {0};
    if (RAND_bytes(raw, 32) != 1) {
        stream_request_free(req);
        return -EIO;
    }
    struct stream_token *k = xcalloc(1, sizeof(*k));
    /* 32 bytes are 256 bits: 43 base64 digits of 6 bits (the last one holds 4). */
    for (size_t i = 0; i < STREAM_TOKEN_LEN; i++) {
        size_t bit = i * 6, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)raw[byte] << 8 | raw[byte + 1]) >> (10 - shift);
        k->id[i] = b64url[v & 63];
    }
    k->expires_ms = expires_ms;
    k->req = req;
    LIST_PREPEND(t->head, k);
    t->n++;
    memcpy(ret_token, k->id, sizeof(k->id));
    return 0;
}

struct stream_request *stream_tokens_take(struct stream_tokens *t, const char *token,
                                          uint64_t now_ms)
{
    sweep(t, now_ms);
    if (strlen(token) != STREAM_TOKEN_LEN)
        return NULL;
    for (struct stream_token *k = t->head; k; k = k->next) {
        if (CRYPTO_memcmp(k->id, token, STREAM_TOKEN_LEN) != 0)
            continue;
        struct stream_request *req = TAKE_PTR(k->req);
        drop(t, k);
        return req;
    }
    return NULL;
}
