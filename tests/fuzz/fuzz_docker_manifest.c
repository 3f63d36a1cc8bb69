/* libFuzzer target for a `docker save` archive's manifest.json (image_docker_manifest_parse):
 * checks what a successful parse promises (bounded lists, relative paths that stay inside),
 * frees everything. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "image/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

static void check_path(const char *p)
{
    check(p && p[0] && p[0] != '/');
    check(strcmp(p, "..") != 0 && strncmp(p, "../", 3) != 0 && !strstr(p, "/../"));
    size_t n = strlen(p);
    check(n < 3 || strcmp(p + n - 3, "/..") != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct image_docker_entry *v;
    size_t n;
    struct err err = ERR_INIT;
    int r = image_docker_manifest_parse(data, size, &v, &n, &err);
    if (r < 0) {
        check(r == err.code && err.msg && !v && n == 0);
    } else {
        check(v && n >= 1 && n <= IMAGE_DOCKER_IMAGES_MAX);
        for (size_t i = 0; i < n; i++) {
            check_path(v[i].config);
            check(v[i].n_layers <= IMAGE_MANIFEST_ENTRIES_MAX);
            check(v[i].n_repo_tags <= IMAGE_MANIFEST_ENTRIES_MAX);
            for (size_t k = 0; k < v[i].n_layers; k++)
                check_path(v[i].layers[k]);
            for (size_t k = 0; k < v[i].n_repo_tags; k++)
                check(v[i].repo_tags[k] != NULL);
        }
    }
    image_docker_entries_free(v, n);
    err_done(&err);
    return 0;
}
