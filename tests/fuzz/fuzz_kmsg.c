/* libFuzzer target for /dev/kmsg records: a cgroup found must lie inside the record's first line,
 * right after the first ",task_memcg=" of an "oom-kill:" message, and end at a ",task=". */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "monitor/kmsg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rec = malloc(size ? size : 1); /* exactly size bytes: ASan sees any read past them */
    memcpy(rec, data, size);
    const char *p;
    size_t n;
    if (monitor_kmsg_oom_memcg(rec, size, &p, &n)) {
        const char *semi = memchr(rec, ';', size);
        const char *nl = memchr(semi, '\n', size - (size_t)(semi - rec));
        const char *end = nl ? nl : rec + size;
        const char *field = memmem(semi, (size_t)(end - semi), ",task_memcg=", 12);
        if (semi - rec >= 64 || strncmp(semi + 1, "oom-kill:", 9) != 0 || !field ||
            p != field + 12 || n == 0 || *p != '/' || p + n + 6 > end ||
            memcmp(p + n, ",task=", 6) != 0 || memmem(p, n, ",task=", 6))
            abort();
    }
    free(rec);
    return 0;
}
