/* libFuzzer target for /proc/PID/net/dev text: every interface found has a name of 1..31 bytes
 * without ':' or NUL, taken from the input, and at most max are returned. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "network/network.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1); /* exactly size bytes: ASan sees any read past them */
    memcpy(text, data, size);
    struct network_if_usage u[4];
    size_t n = network_netdev_parse(text, size, u, 4);
    if (n > 4)
        abort();
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(u[i].name);
        if (len == 0 || len > 31 || strchr(u[i].name, ':') || !memmem(text, size, u[i].name, len))
            abort();
    }
    free(text);
    return 0;
}
