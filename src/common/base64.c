/* Standard base64 with padding. Our own codec rather than EVP_DecodeBlock, which accepts
 * padding anywhere, counts it as zero bytes and leaves every caller to fix the length up. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "common/base64.h"
#include "common/macro.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encoded_len(size_t len)
{
    if (len / 3 >= SIZE_MAX / 4 - 1)
        abort(); /* no buffer of that size exists */
    return (len + 2) / 3 * 4;
}

void base64_encode_to(const void *data, size_t len, char *out)
{
    const uint8_t *p = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        out[o++] = alphabet[v >> 18];
        out[o++] = alphabet[(v >> 12) & 63];
        out[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    out[o] = 0;
}

char *base64_encode(const void *data, size_t len)
{
    char *out = xmalloc(base64_encoded_len(len) + 1);
    base64_encode_to(data, len, out);
    return out;
}

static int value_of(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(const char *in, size_t len, struct buf *out)
{
    if (len % 4)
        return -EINVAL;
    size_t pad = 0;
    if (len >= 1 && in[len - 1] == '=')
        pad = len >= 2 && in[len - 2] == '=' ? 2 : 1;
    for (size_t i = 0; i < len - pad; i++)
        if (value_of(in[i]) < 0)
            return -EINVAL;
    size_t n = len / 4 * 3 - pad;
    buf_reserve(out, n);
    uint8_t *o = out->data + out->len;
    for (size_t i = 0, k = 0; i < len; i += 4) {
        uint32_t v = 0;
        for (size_t j = 0; j < 4; j++)
            v = v << 6 | (uint32_t)(in[i + j] == '=' ? 0 : value_of(in[i + j]));
        uint8_t bytes[3] = {(uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
        for (size_t j = 0; j < 3 && k < n; j++)
            o[k++] = bytes[j];
    }
    out->len += n;
    out->data[out->len] = 0;
    return 0;
}
