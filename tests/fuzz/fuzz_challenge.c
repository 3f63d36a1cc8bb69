/* libFuzzer target for the WWW-Authenticate parser (image_registry_challenge_parse): a parsed
 * challenge must be sane, and written out again with every value quoted it must parse back to
 * the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/macro.h"
#include "image/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quoted(struct buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    buf_printf(b, ", %s=\"", key);
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            buf_append(b, "\\", 1);
        buf_append(b, v, 1);
    }
    buf_append(b, "\"", 1);
}

static bool same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cleanup_free char *h = xstrndup((const char *)data, size);
    struct registry_challenge ch;
    if (image_registry_challenge_parse(h, &ch) < 0) {
        /* a failed parse leaves nothing behind */
        if (ch.scheme || ch.realm || ch.service || ch.scope)
            abort();
        return 0;
    }
    if (!ch.scheme || !*ch.scheme || strchr(ch.scheme, ' '))
        abort();

    struct buf b = {0};
    buf_printf(&b, "%s ", ch.scheme);
    quoted(&b, "realm", ch.realm);
    quoted(&b, "service", ch.service);
    quoted(&b, "scope", ch.scope);
    cleanup_free char *again = buf_steal(&b);
    struct registry_challenge ch2;
    if (image_registry_challenge_parse(again, &ch2) < 0)
        abort();
    if (!same(ch.scheme, ch2.scheme) || !same(ch.realm, ch2.realm) ||
        !same(ch.service, ch2.service) || !same(ch.scope, ch2.scope))
        abort();
    image_registry_challenge_done(&ch);
    image_registry_challenge_done(&ch2);
    return 0;
}
