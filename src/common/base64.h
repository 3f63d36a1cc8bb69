/* Standard base64 (RFC 4648 section 4, with padding), strict on input: records, the kubelet's
 * auth strings and base64.channel.k8s.io frames are all decoded here. */
#ifndef CRIB_COMMON_BASE64_H
#define CRIB_COMMON_BASE64_H

#include <stddef.h>

#include "common/buf.h"

/* Characters base64_encode writes for len bytes (without the NUL). */
size_t base64_encoded_len(size_t len);
/* Encode into out, which has room for base64_encoded_len(len) + 1 bytes; NUL-terminated. */
void base64_encode_to(const void *data, size_t len, char *out);
/* The same into a new string. */
char *base64_encode(const void *data, size_t len);
/* Append the bytes of in to out. The input must be whole quads of the alphabet, with '=' only
 * as the last one or two characters: anything else is -EINVAL and out is left as it was. */
int base64_decode(const char *in, size_t len, struct buf *out);

#endif
