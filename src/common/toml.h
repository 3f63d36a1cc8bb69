/* A small TOML v1.0 parser (no date/time values) for cribd's configuration: pure functions over a
 * buffer, no I/O. */
#ifndef CRIB_COMMON_TOML_H
#define CRIB_COMMON_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kind of a parsed value. */
enum toml_type { TOML_STRING, TOML_INT, TOML_FLOAT, TOML_BOOL, TOML_ARRAY, TOML_TABLE };

/* One key of a table and its value. */
struct toml_kv;

/* A parsed value; every one of them is owned by the root returned by toml_parse(). */
struct toml_value {
    enum toml_type type;
    unsigned line, col; /* 1-based position where the value starts */
    union {
        char *s;   /* TOML_STRING, NUL-terminated UTF-8 (never contains NUL) */
        int64_t i; /* TOML_INT */
        double f;  /* TOML_FLOAT */
        bool b;    /* TOML_BOOL */
        struct {
            struct toml_value **items;
            size_t n;
        } arr; /* TOML_ARRAY */
        struct {
            struct toml_kv *items;
            size_t n;
        } tab; /* TOML_TABLE, in document order */
    } u;
};

/* A key of a table, where it was written, and its value. */
struct toml_kv {
    char *key;
    unsigned line, col; /* where the key was written */
    struct toml_value *val;
};

/* Why and where a document was rejected. */
struct toml_error {
    unsigned line, col; /* 1-based */
    char msg[160];      /* e.g. "unterminated string", "duplicate key `a`" */
};

/* Parse a whole document. Returns 0 and *ret_root (a TOML_TABLE) or -EINVAL with *err filled. */
int toml_parse(const char *text, size_t len, struct toml_value **ret_root, struct toml_error *err);
/* Free a root returned by toml_parse(); NULL-safe, recursive. */
void toml_value_free(struct toml_value *v);
/* Look up a direct child of a table by key; NULL if absent or t is not a table. */
const struct toml_value *toml_table_get(const struct toml_value *t, const char *key);
/* Look up a dotted path of plain keys ("crib.api.listen") through nested tables. */
const struct toml_value *toml_table_get_path(const struct toml_value *t, const char *path);
/* A newly allocated TOML basic string literal for UTF-8 s, with quotes and escapes: "a\"b". */
char *toml_quote(const char *s);
/* The name of a type for messages: "string", "integer", "float", "boolean", "array", "table". */
const char *toml_type_name(enum toml_type t);

#endif
