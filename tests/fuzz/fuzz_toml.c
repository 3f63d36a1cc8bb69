/* libFuzzer target for the TOML parser: parse, walk what was found (lookups, quoting round trips),
 * free. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* toml_quote() must produce a literal that parses back to the same string. */
static void check_quote(const char *s)
{
    cleanup_free char *q = toml_quote(s);
    cleanup_free char *doc = xasprintf("k = %s", q);
    struct toml_value *root = NULL;
    struct toml_error err;
    if (toml_parse(doc, strlen(doc), &root, &err) < 0)
        abort();
    const struct toml_value *v = toml_table_get(root, "k");
    if (!v || v->type != TOML_STRING || strcmp(v->u.s, s) != 0)
        abort();
    toml_value_free(root);
}

static void walk(const struct toml_value *v, size_t *budget)
{
    if (*budget == 0)
        return;
    (*budget)--;
    if (v->line == 0 || v->col == 0 || !toml_type_name(v->type))
        abort();
    if (v->type == TOML_STRING) {
        check_quote(v->u.s);
    } else if (v->type == TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            walk(v->u.arr.items[i], budget);
    } else if (v->type == TOML_TABLE) {
        for (size_t i = 0; i < v->u.tab.n; i++) {
            const struct toml_kv *kv = &v->u.tab.items[i];
            /* keys are unique, so a lookup finds exactly this entry */
            if (toml_table_get(v, kv->key) != kv->val)
                abort();
            check_quote(kv->key);
            walk(kv->val, budget);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct toml_value *root = NULL;
    struct toml_error err;
    if (toml_parse((const char *)data, size, &root, &err) < 0) {
        if (root || err.line == 0 || err.col == 0 || err.msg[0] == '\0')
            abort();
        return 0;
    }
    size_t budget = 4096;
    walk(root, &budget);
    toml_table_get_path(root, "a.b.c");
    toml_value_free(root);
    return 0;
}
