/* Random object ids. getrandom(2) blocks only before the kernel's pool is first seeded, which
 * is long past by the time the daemon runs. */
#include <stdint.h>
#include <stdio.h>
#include <sys/random.h>

#include "common/id.h"
#include "common/macro.h"

char *id_new(void)
{
    uint8_t raw[32];
    if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
        abort();
    char *s = xmalloc(2 * sizeof(raw) + 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s + 2 * i, 3, "%02x", raw[i]);
    return s;
}
