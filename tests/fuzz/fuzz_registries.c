/* libFuzzer target for registries.conf (image_registries_conf_apply): the input as a main file and
 * again as a drop-in over it; a configuration that applies gives endpoints for qualified names
 * (or refuses them with a message) and leaves the configuration as it was when it fails. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "image/registries.h"

#define INPUT_MAX (1u << 20) /* what cribd reads of one file */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void endpoints(const struct registries_conf *c, const char *ref_text)
{
    struct image_ref ref;
    struct err err = ERR_INIT;
    if (image_ref_parse(ref_text, &ref, &err) < 0)
        abort();
    struct registries_endpoint *eps = NULL;
    size_t n = 0;
    int r = image_registries_conf_endpoints(c, &ref, &eps, &n, &err);
    if (r == 0) {
        check(n >= 1);
        for (size_t i = 0; i < n; i++)
            check(eps[i].name && eps[i].domain && eps[i].path);
    } else {
        check(err.msg && !eps);
    }
    image_registries_endpoints_free(eps, n);
    image_ref_done(&ref);
    err_done(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > INPUT_MAX)
        return 0;
    struct registries_conf c;
    image_registries_conf_init(&c);
    struct err err = ERR_INIT;
    for (int pass = 0; pass < 2; pass++) {
        size_t entries = c.n_entries, search = c.n_search;
        int r = image_registries_conf_apply(&c, pass ? "drop-in.conf" : "registries.conf",
                                            (const char *)data, size, &err);
        if (r < 0) {
            check(r == err.code && err.msg);
            check(c.n_entries == entries && c.n_search == search);
            err_done(&err);
        }
    }
    endpoints(&c, "docker.io/library/busybox:latest");
    endpoints(&c, "registry.example.com:5000/ns/app@sha256:"
                  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    endpoints(&c, "a.b.example.com/x/y:z");
    const char *alias = image_registries_conf_alias(&c, "busybox");
    check(!alias || *alias);
    image_registries_conf_find(&c, "quay.io/org/repo");
    image_registries_conf_done(&c);
    return 0;
}
