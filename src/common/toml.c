/* TOML v1.0 parser without date/time values: a hand-written recursive descent over a buffer,
 * with capped nesting and the spec's rules on redefining keys and tables. This file builds the
 * document (tables, arrays, headers); toml-lex.c reads its tokens. */
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml-internal.h"

#define MAX_DEPTH 64 /* nested arrays and inline tables */
#define INDEX_MIN 8  /* tables with this many keys get a hash index */

enum {
    NODE_HEADER = 1 << 0, /* table defined by [header] or [[header]] */
    NODE_DOTTED = 1 << 1, /* table defined by dotted keys */
    NODE_INLINE = 1 << 2, /* inline table: closed once written */
    NODE_AOT = 1 << 3,    /* array created by [[header]]: open to appending */
};

/* Every value lives inside a node, which keeps what the parser needs to enforce the
 * redefinition rules and to find keys in big tables without a quadratic scan. */
struct node {
    struct toml_value v;
    unsigned flags;
    size_t cap;       /* allocated items of an array or table */
    size_t *index;    /* table: open addressing, item index + 1, 0 = empty slot */
    size_t index_cap; /* a power of two, at least twice the item count */
};

#define NODE(val) container_of(val, struct node, v)

static void node_freep(struct node **n)
{
    if (*n)
        toml_value_free(&(*n)->v);
}
#define cleanup_node __attribute__((cleanup(node_freep)))

static struct node *node_new(enum toml_type type, unsigned line, unsigned col, unsigned flags)
{
    struct node *n = xcalloc(1, sizeof(*n));
    n->v.type = type;
    n->v.line = line;
    n->v.col = col;
    n->flags = flags;
    return n;
}

static size_t hash_key(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return (size_t)(h ^ (h >> 29));
}

static void index_insert(struct node *t, size_t item)
{
    size_t mask = t->index_cap - 1;
    size_t h = hash_key(t->v.u.tab.items[item].key) & mask;
    while (t->index[h])
        h = (h + 1) & mask;
    t->index[h] = item + 1;
}

static void index_rebuild(struct node *t)
{
    size_t cap = 16;
    while (cap < 2 * t->v.u.tab.n + 2)
        cap *= 2;
    free(t->index);
    t->index = xcalloc(cap, sizeof(*t->index));
    t->index_cap = cap;
    for (size_t i = 0; i < t->v.u.tab.n; i++)
        index_insert(t, i);
}

static struct toml_value *table_find(const struct node *t, const char *key)
{
    const struct toml_kv *items = t->v.u.tab.items;
    if (t->index) {
        size_t mask = t->index_cap - 1;
        for (size_t h = hash_key(key) & mask; t->index[h]; h = (h + 1) & mask)
            if (strcmp(items[t->index[h] - 1].key, key) == 0)
                return items[t->index[h] - 1].val;
        return NULL;
    }
    for (size_t i = 0; i < t->v.u.tab.n; i++)
        if (strcmp(items[i].key, key) == 0)
            return items[i].val;
    return NULL;
}

/* Takes ownership of key and val. */
static void table_add(struct node *t, char *key, unsigned line, unsigned col, struct node *val)
{
    size_t n = t->v.u.tab.n;
    if (n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 2;
        t->v.u.tab.items = xrealloc(t->v.u.tab.items, t->cap * sizeof(struct toml_kv));
    }
    t->v.u.tab.items[n] = (struct toml_kv){.key = key, .line = line, .col = col, .val = &val->v};
    t->v.u.tab.n = n + 1;
    if (n + 1 < INDEX_MIN)
        return;
    if (!t->index || 2 * (n + 1) > t->index_cap)
        index_rebuild(t);
    else
        index_insert(t, n);
}

static void array_push(struct node *a, struct node *val)
{
    if (a->v.u.arr.n == a->cap) {
        a->cap = a->cap ? 2 * a->cap : 4;
        a->v.u.arr.items = xrealloc(a->v.u.arr.items, a->cap * sizeof(struct toml_value *));
    }
    a->v.u.arr.items[a->v.u.arr.n++] = &val->v;
}
static int parse_value(struct parser *ps, unsigned depth, struct node **ret);

/* The parent table of the last part of a dotted key in t, creating tables on the way. */
static int resolve_dotted(struct parser *ps, struct node *t, const struct toml_key *k,
                          struct node **ret)
{
    char name[96];
    for (size_t i = 0; i + 1 < k->n; i++) {
        const struct toml_key_part *p = &k->part[i];
        struct toml_value *child = table_find(t, p->name);
        if (!child) {
            struct node *c = node_new(TOML_TABLE, p->line, p->col, NODE_DOTTED);
            table_add(t, xstrdup(p->name), p->line, p->col, c);
            t = c;
            continue;
        }
        if (child->type != TOML_TABLE)
            return toml_lex_fail_at(ps, p->line, p->col, "key `%s` is not a table",
                                    toml_key_name(k, i, name, sizeof(name)));
        t = NODE(child);
        if (t->flags & NODE_INLINE)
            return toml_lex_fail_at(ps, p->line, p->col, "cannot extend inline table `%s`",
                                    toml_key_name(k, i, name, sizeof(name)));
        if (t->flags & NODE_HEADER)
            return toml_lex_fail_at(ps, p->line, p->col,
                                    "cannot extend table `%s` with dotted keys",
                                    toml_key_name(k, i, name, sizeof(name)));
        t->flags |= NODE_DOTTED;
    }
    const struct toml_key_part *last = &k->part[k->n - 1];
    if (table_find(t, last->name))
        return toml_lex_fail_at(ps, last->line, last->col, "duplicate key `%s`",
                                toml_key_name(k, k->n - 1, name, sizeof(name)));
    *ret = t;
    return 0;
}

/* key = value, into table t. */
static int parse_keyval(struct parser *ps, struct node *t, unsigned depth)
{
    cleanup_key struct toml_key k = {.n = 0};
    struct node *parent = NULL;
    struct node *val = NULL;
    int r = toml_lex_key(ps, &k);
    if (r < 0)
        return r;
    if (peek(ps) != '=')
        return toml_lex_fail(ps, "expected `=` after key");
    advance(ps);
    skip_ws(ps);
    r = resolve_dotted(ps, t, &k, &parent);
    if (r < 0)
        return r;
    r = parse_value(ps, depth, &val);
    if (r < 0)
        return r;
    struct toml_key_part *last = &k.part[k.n - 1];
    table_add(parent, TAKE_PTR(last->name), last->line, last->col, val);
    return 0;
}

static int parse_array(struct parser *ps, unsigned depth, struct node **ret)
{
    cleanup_node struct node *a = node_new(TOML_ARRAY, ps->line, ps->col, 0);
    advance(ps);
    for (;;) {
        struct node *item = NULL;
        int r = toml_lex_skip_blank(ps);
        if (r < 0)
            return r;
        if (peek(ps) == ']')
            break;
        r = parse_value(ps, depth, &item);
        if (r < 0)
            return r;
        array_push(a, item);
        r = toml_lex_skip_blank(ps);
        if (r < 0)
            return r;
        if (peek(ps) == ']')
            break;
        if (peek(ps) < 0)
            return toml_lex_fail(ps, "unterminated array");
        if (peek(ps) != ',')
            return toml_lex_fail(ps, "expected `,` or `]` in array");
        advance(ps);
    }
    advance(ps);
    *ret = TAKE_PTR(a);
    return 0;
}

/* Inline tables hold on one line and take no trailing comma (TOML 1.0). */
static int inline_sep(struct parser *ps, bool after_comma)
{
    skip_ws(ps);
    if (peek(ps) == '\n' || peek(ps) == '\r')
        return toml_lex_fail(ps, "newline in inline table");
    if (peek(ps) < 0)
        return toml_lex_fail(ps, "unterminated inline table");
    if (after_comma && peek(ps) == '}')
        return toml_lex_fail(ps, "trailing comma in inline table");
    if (!after_comma && peek(ps) != ',' && peek(ps) != '}')
        return toml_lex_fail(ps, "expected `,` or `}` in inline table");
    return 0;
}

static int parse_inline_table(struct parser *ps, unsigned depth, struct node **ret)
{
    cleanup_node struct node *t = node_new(TOML_TABLE, ps->line, ps->col, NODE_INLINE);
    int r;
    advance(ps);
    skip_ws(ps);
    while (peek(ps) != '}') {
        if ((r = inline_sep(ps, true)) < 0 || (r = parse_keyval(ps, t, depth)) < 0 ||
            (r = inline_sep(ps, false)) < 0)
            return r;
        if (peek(ps) == ',') {
            advance(ps);
            if ((r = inline_sep(ps, true)) < 0)
                return r;
        }
    }
    advance(ps);
    *ret = TAKE_PTR(t);
    return 0;
}

/* true, false, integers and floats. */
static int parse_scalar(struct parser *ps, struct node **ret)
{
    cleanup_node struct node *v = node_new(TOML_INT, ps->line, ps->col, 0);
    int r = toml_lex_scalar(ps, &v->v);
    if (r < 0)
        return r;
    *ret = TAKE_PTR(v);
    return 0;
}

static int parse_value(struct parser *ps, unsigned depth, struct node **ret)
{
    int c = peek(ps);
    unsigned line = ps->line, col = ps->col;
    if (c == '"' || c == '\'') {
        bool multi = peek_at(ps, 1) == c && peek_at(ps, 2) == c;
        char *s = NULL;
        int r = toml_lex_string(ps, c, multi, &s);
        if (r < 0)
            return r;
        *ret = node_new(TOML_STRING, line, col, 0);
        (*ret)->v.u.s = s;
        return 0;
    }
    if ((c == '[' || c == '{') && depth >= MAX_DEPTH)
        return toml_lex_fail(ps, "nesting too deep");
    if (c == '[')
        return parse_array(ps, depth + 1, ret);
    if (c == '{')
        return parse_inline_table(ps, depth + 1, ret);
    if (toml_lex_is_token_char(c))
        return parse_scalar(ps, ret);
    return toml_lex_fail(ps, "expected a value");
}

/* Walk (creating implicit tables) to the parent of a header's last part. */
static int header_parent(struct parser *ps, const struct toml_key *k, struct node **ret)
{
    char name[96];
    struct node *t = ps->root;
    for (size_t i = 0; i + 1 < k->n; i++) {
        const struct toml_key_part *p = &k->part[i];
        struct toml_value *child = table_find(t, p->name);
        if (!child) {
            struct node *c = node_new(TOML_TABLE, p->line, p->col, 0);
            table_add(t, xstrdup(p->name), p->line, p->col, c);
            t = c;
        } else if (child->type == TOML_TABLE && !(NODE(child)->flags & NODE_INLINE)) {
            t = NODE(child);
        } else if (child->type == TOML_TABLE) {
            return toml_lex_fail_at(ps, p->line, p->col, "cannot extend inline table `%s`",
                                    toml_key_name(k, i, name, sizeof(name)));
        } else if (child->type == TOML_ARRAY && (NODE(child)->flags & NODE_AOT)) {
            t = NODE(child->u.arr.items[child->u.arr.n - 1]);
        } else {
            return toml_lex_fail_at(ps, p->line, p->col, "key `%s` is not a table",
                                    toml_key_name(k, i, name, sizeof(name)));
        }
    }
    *ret = t;
    return 0;
}

/* [a.b.c] or [[a.b.c]]: make ps->cur the table that following keys go into. */
static int define_header(struct parser *ps, const struct toml_key *k, bool aot, unsigned line,
                         unsigned col)
{
    char name[96];
    const struct toml_key_part *p = &k->part[k->n - 1];
    struct node *parent = NULL;
    int r = header_parent(ps, k, &parent);
    if (r < 0)
        return r;
    struct toml_value *v = table_find(parent, p->name);
    toml_key_name(k, k->n - 1, name, sizeof(name));
    if (!v) {
        struct node *c =
            node_new(aot ? TOML_ARRAY : TOML_TABLE, p->line, p->col, aot ? NODE_AOT : NODE_HEADER);
        table_add(parent, xstrdup(p->name), p->line, p->col, c);
        v = &c->v;
    } else if (!aot && v->type == TOML_TABLE) {
        if (NODE(v)->flags & (NODE_HEADER | NODE_DOTTED | NODE_INLINE))
            return toml_lex_fail_at(ps, p->line, p->col, "table `%s` already defined", name);
        NODE(v)->flags |= NODE_HEADER;
    } else if (aot && v->type == TOML_ARRAY && !(NODE(v)->flags & NODE_AOT)) {
        return toml_lex_fail_at(ps, p->line, p->col, "cannot append to static array `%s`", name);
    } else if (!aot || v->type != TOML_ARRAY) {
        return toml_lex_fail_at(ps, p->line, p->col, "key `%s` already defined as %s", name,
                                toml_type_name(v->type));
    }
    if (!aot) {
        ps->cur = NODE(v);
        return 0;
    }
    ps->cur = node_new(TOML_TABLE, line, col, NODE_HEADER);
    array_push(NODE(v), ps->cur);
    return 0;
}

static int parse_header(struct parser *ps)
{
    cleanup_key struct toml_key k = {.n = 0};
    unsigned line = ps->line, col = ps->col;
    bool aot = peek_at(ps, 1) == '[';
    advance_n(ps, aot ? 2 : 1);
    int r = toml_lex_key(ps, &k);
    if (r < 0)
        return r;
    for (int i = aot ? 2 : 1; i > 0; i--) {
        if (peek(ps) != ']')
            return toml_lex_fail(ps, aot ? "expected `]]` after table name"
                                         : "expected `]` after table name");
        advance(ps);
    }
    r = define_header(ps, &k, aot, line, col);
    if (r < 0)
        return r;
    return toml_lex_line_end(ps, "table header");
}

static int parse_document(struct parser *ps)
{
    for (;;) {
        int r;
        skip_ws(ps);
        int c = peek(ps);
        if (c < 0)
            return 0;
        if (c == '#' || c == '\n' || c == '\r')
            r = toml_lex_line_end(ps, "comment");
        else if (c == '[')
            r = parse_header(ps);
        else if ((r = parse_keyval(ps, ps->cur, 0)) >= 0)
            r = toml_lex_line_end(ps, "value");
        if (r < 0)
            return r;
    }
}

int toml_parse(const char *text, size_t len, struct toml_value **ret_root, struct toml_error *err)
{
    struct toml_error ignored;
    struct parser ps = {.s = text, .len = len, .line = 1, .col = 1, .err = err ? err : &ignored};
    memset(ps.err, 0, sizeof(*ps.err));
    *ret_root = NULL;
    int r = toml_lex_check_encoding(&ps);
    if (r < 0)
        return r;
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0)
        ps.pos = 3; /* a byte order mark */
    cleanup_node struct node *root = node_new(TOML_TABLE, 1, 1, NODE_HEADER);
    ps.root = ps.cur = root;
    r = parse_document(&ps);
    if (r < 0)
        return r;
    *ret_root = &TAKE_PTR(root)->v;
    return 0;
}

void toml_value_free(struct toml_value *v)
{
    if (!v)
        return;
    struct node *n = NODE(v);
    if (v->type == TOML_STRING) {
        free(v->u.s);
    } else if (v->type == TOML_ARRAY) {
        for (size_t i = 0; i < v->u.arr.n; i++)
            toml_value_free(v->u.arr.items[i]);
        free(v->u.arr.items);
    } else if (v->type == TOML_TABLE) {
        for (size_t i = 0; i < v->u.tab.n; i++) {
            free(v->u.tab.items[i].key);
            toml_value_free(v->u.tab.items[i].val);
        }
        free(v->u.tab.items);
    }
    free(n->index);
    free(n);
}

const struct toml_value *toml_table_get(const struct toml_value *t, const char *key)
{
    if (!t || t->type != TOML_TABLE || !key)
        return NULL;
    return table_find(container_of(t, const struct node, v), key);
}

const struct toml_value *toml_table_get_path(const struct toml_value *t, const char *path)
{
    if (!path)
        return NULL;
    for (;;) {
        const char *dot = strchr(path, '.');
        if (!dot)
            return toml_table_get(t, path);
        cleanup_free char *part = xstrndup(path, (size_t)(dot - path));
        t = toml_table_get(t, part);
        path = dot + 1;
    }
}

const char *toml_type_name(enum toml_type t)
{
    switch (t) {
    case TOML_STRING:
        return "string";
    case TOML_INT:
        return "integer";
    case TOML_FLOAT:
        return "float";
    case TOML_BOOL:
        return "boolean";
    case TOML_ARRAY:
        return "array";
    case TOML_TABLE:
        return "table";
    }
    return "unknown";
}
