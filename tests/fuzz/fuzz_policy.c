/* libFuzzer target for policy.json (image_policy_parse): a policy that parses answers every
 * decision with accept, reject or "not supported", always with a message for the last two. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/macro.h"
#include "image/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void decide(const struct image_policy *p, const char *transport, const char *name)
{
    struct err err = ERR_INIT;
    int r = image_policy_check(p, transport, name, &err);
    check(r == 0 || ((r == -EACCES || r == -ENOTSUP) && err.msg));
    err_done(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const checks[][2] = {
        {"docker", "docker.io/library/busybox:latest"},
        {"docker", "registry.example.com:5000/ns/app@sha256:"
                   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"atomic", "a.b.example.com/x/y:z"},
        {"oci", "/var/lib/images/app"},
        {"oci-archive", "/tmp/app.tar"},
        {"docker-archive", "/tmp/app.tar"},
        {"dir", "/"},
    };
    struct image_policy *p = NULL;
    struct err err = ERR_INIT;
    int r = image_policy_parse((const char *)data, size, "policy.json", &p, &err);
    if (r < 0) {
        check(r == err.code && err.msg);
    } else {
        check(p != NULL);
        for (size_t i = 0; i < ARRAY_SIZE(checks); i++)
            decide(p, checks[i][0], checks[i][1]);
    }
    image_policy_free(p);
    err_done(&err);
    return 0;
}
