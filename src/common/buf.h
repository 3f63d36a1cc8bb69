/* A growable byte buffer. */
#ifndef CRIB_COMMON_BUF_H
#define CRIB_COMMON_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf {
    uint8_t *data;
    size_t len;
    size_t cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *data, size_t len);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes. */
void buf_consume(struct buf *b, size_t n);
/* Hand the bytes to the caller, NUL-terminated; the buffer is left empty. */
char *buf_steal(struct buf *b);
void buf_done(struct buf *b);

#endif
