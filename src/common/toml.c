/* TOML v1.0 parser without date/time values: a hand-written recursive descent over a buffer,
 * with capped nesting and the spec's rules on redefining keys and tables. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml.h"

#define MAX_DEPTH 64     /* nested arrays and inline tables */
#define MAX_KEY_PARTS 64 /* parts of one dotted key or table header */
#define INDEX_MIN 8      /* tables with this many keys get a hash index */

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

/* A growable string for string values and toml_quote(). */
struct sbuf {
    char *p;
    size_t len, cap;
};

static void sbuf_done(struct sbuf *b)
{
    free(b->p);
}
#define cleanup_sbuf __attribute__((cleanup(sbuf_done)))

static void sbuf_push(struct sbuf *b, char c)
{
    if (b->len == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 32;
        b->p = xrealloc(b->p, b->cap);
    }
    b->p[b->len++] = c;
}

static void sbuf_fill(struct sbuf *b, char c, size_t n)
{
    while (n--)
        sbuf_push(b, c);
}

static void sbuf_puts(struct sbuf *b, const char *s)
{
    while (*s)
        sbuf_push(b, *s++);
}

static char *sbuf_take(struct sbuf *b)
{
    sbuf_push(b, '\0');
    b->len = b->cap = 0;
    return TAKE_PTR(b->p);
}

struct parser {
    const char *s;
    size_t len, pos;
    unsigned line, col; /* of s[pos]; columns count characters, not bytes */
    struct toml_error *err;
    struct node *root;
    struct node *cur; /* the table that key/value lines go into */
};

static int peek_at(const struct parser *ps, size_t off)
{
    return off < ps->len - ps->pos ? (unsigned char)ps->s[ps->pos + off] : -1;
}

static int peek(const struct parser *ps)
{
    return peek_at(ps, 0);
}

static void advance(struct parser *ps)
{
    unsigned char c = (unsigned char)ps->s[ps->pos++];
    if (c == '\n') {
        ps->line++;
        ps->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        ps->col++;
    }
}

static void advance_n(struct parser *ps, size_t n)
{
    while (n--)
        advance(ps);
}

__attribute__((format(printf, 4, 5))) static int fail_at(struct parser *ps, unsigned line,
                                                         unsigned col, const char *fmt, ...)
{
    va_list ap;
    ps->err->line = line;
    ps->err->col = col;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}
#define fail(ps, ...) fail_at(ps, (ps)->line, (ps)->col, __VA_ARGS__)

static bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static bool is_bare(int c)
{
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == '-';
}

static bool is_ctrl(int c)
{
    return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
}

static bool at_newline(const struct parser *ps)
{
    return peek(ps) == '\n' || (peek(ps) == '\r' && peek_at(ps, 1) == '\n');
}

static void skip_newline(struct parser *ps)
{
    if (peek(ps) == '\r')
        advance(ps);
    advance(ps);
}

static void skip_ws(struct parser *ps)
{
    while (peek(ps) == ' ' || peek(ps) == '\t')
        advance(ps);
}

/* Length of a well-formed UTF-8 sequence at s (n bytes available), 0 if malformed. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xBF;
    size_t len;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        len = 2;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        len = 3;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        len = 4;
    else
        return 0;
    if (s[0] == 0xE0)
        lo = 0xA0; /* overlong */
    else if (s[0] == 0xED)
        hi = 0x9F; /* surrogates */
    else if (s[0] == 0xF0)
        lo = 0x90; /* overlong */
    else if (s[0] == 0xF4)
        hi = 0x8F; /* above U+10FFFF */
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* The input is a (text, len) pair: find NULs and broken UTF-8 before anything else looks at it. */
static int check_encoding(struct parser *ps)
{
    const unsigned char *s = (const unsigned char *)ps->s;
    while (ps->pos < ps->len) {
        if (s[ps->pos] == 0)
            return fail(ps, "NUL byte in input");
        size_t n = utf8_len(s + ps->pos, ps->len - ps->pos);
        if (n == 0)
            return fail(ps, "invalid UTF-8");
        advance_n(ps, n);
    }
    ps->pos = 0;
    ps->line = ps->col = 1;
    return 0;
}

static int skip_comment(struct parser *ps)
{
    for (advance(ps); peek(ps) >= 0 && !at_newline(ps); advance(ps))
        if (is_ctrl(peek(ps)))
            return fail(ps, "control character in comment");
    return 0;
}

/* Whitespace, newlines and comments, as allowed between array elements. */
static int skip_blank(struct parser *ps)
{
    for (;;) {
        skip_ws(ps);
        if (peek(ps) == '#') {
            int r = skip_comment(ps);
            if (r < 0)
                return r;
        } else if (at_newline(ps)) {
            skip_newline(ps);
        } else if (peek(ps) == '\r') {
            return fail(ps, "carriage return not followed by newline");
        } else {
            return 0;
        }
    }
}

/* The end of a key/value or header line: whitespace, an optional comment, newline or EOF. */
static int parse_line_end(struct parser *ps, const char *what)
{
    skip_ws(ps);
    if (peek(ps) == '#') {
        int r = skip_comment(ps);
        if (r < 0)
            return r;
    }
    if (peek(ps) < 0)
        return 0;
    if (at_newline(ps)) {
        skip_newline(ps);
        return 0;
    }
    if (peek(ps) == '\r')
        return fail(ps, "carriage return not followed by newline");
    return fail(ps, "expected newline after %s", what);
}

static int hex_value(int c)
{
    if (is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void put_utf8(struct sbuf *b, uint32_t cp)
{
    if (cp < 0x80) {
        sbuf_push(b, (char)cp);
    } else if (cp < 0x800) {
        sbuf_push(b, (char)(0xC0 | (cp >> 6)));
        sbuf_push(b, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        sbuf_push(b, (char)(0xE0 | (cp >> 12)));
        sbuf_push(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sbuf_push(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        sbuf_push(b, (char)(0xF0 | (cp >> 18)));
        sbuf_push(b, (char)(0x80 | ((cp >> 12) & 0x3F)));
        sbuf_push(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        sbuf_push(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* \uXXXX or \UXXXXXXXX; (line, col) is the backslash. */
static int parse_unicode(struct parser *ps, unsigned digits, unsigned line, unsigned col,
                         struct sbuf *b)
{
    uint32_t cp = 0;
    advance(ps);
    for (unsigned i = 0; i < digits; i++) {
        int d = hex_value(peek(ps));
        if (d < 0)
            return fail_at(ps, line, col, "invalid unicode escape");
        cp = cp * 16 + (uint32_t)d;
        advance(ps);
    }
    if (cp == 0)
        return fail_at(ps, line, col, "NUL (\\u0000) is not allowed in strings");
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return fail_at(ps, line, col, "unicode escape is not a scalar value");
    put_utf8(b, cp);
    return 0;
}

/* A backslash ending a line of a multi-line string eats all whitespace and newlines after it. */
static int trim_line_ending(struct parser *ps, unsigned line, unsigned col)
{
    skip_ws(ps);
    if (!at_newline(ps))
        return fail_at(ps, line, col, "invalid escape sequence");
    for (;;) {
        if (peek(ps) == ' ' || peek(ps) == '\t')
            advance(ps);
        else if (at_newline(ps))
            skip_newline(ps);
        else
            return 0;
    }
}

static int parse_escape(struct parser *ps, bool multi, struct sbuf *b)
{
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    unsigned line = ps->line, col = ps->col;
    advance(ps);
    int c = peek(ps);
    const char *p = c > 0 ? strchr(from, c) : NULL;
    if (p) {
        sbuf_push(b, to[p - from]);
        advance(ps);
        return 0;
    }
    if (c == 'u' || c == 'U')
        return parse_unicode(ps, c == 'u' ? 4 : 8, line, col, b);
    if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r'))
        return trim_line_ending(ps, line, col);
    return fail_at(ps, line, col, "invalid escape sequence");
}

/* One literal character (or newline) of a string body. */
static int string_char(struct parser *ps, bool multi, struct sbuf *b)
{
    int c = peek(ps);
    if (c < 0)
        return fail(ps, "unterminated string");
    if (at_newline(ps)) {
        if (!multi)
            return fail(ps, "unterminated string");
        skip_newline(ps);
        sbuf_push(b, '\n');
        return 0;
    }
    if (is_ctrl(c))
        return fail(ps, "control character in string");
    sbuf_push(b, (char)c);
    advance(ps);
    return 0;
}

static size_t quote_run(const struct parser *ps, int quote)
{
    size_t n = 0;
    while (peek_at(ps, n) == quote)
        n++;
    return n;
}

/* Any of the four string forms; quote is '"' (basic) or '\'' (literal). */
static int parse_string(struct parser *ps, int quote, bool multi, char **ret)
{
    cleanup_sbuf struct sbuf b = {0};
    advance_n(ps, multi ? 3 : 1);
    if (multi && at_newline(ps))
        skip_newline(ps);
    for (;;) {
        int c = peek(ps), r;
        if (c == quote && !multi) {
            advance(ps);
            break;
        }
        if (c == quote) {
            /* Up to two quotes may sit right before the closing delimiter. */
            size_t n = quote_run(ps, quote);
            size_t body = n >= 3 ? (n > 5 ? 2 : n - 3) : n;
            sbuf_fill(&b, (char)quote, body);
            advance_n(ps, n >= 3 ? body + 3 : n);
            if (n >= 3)
                break;
            continue;
        }
        if (c == '\\' && quote == '"')
            r = parse_escape(ps, multi, &b);
        else
            r = string_char(ps, multi, &b);
        if (r < 0)
            return r;
    }
    *ret = sbuf_take(&b);
    return 0;
}

struct key_part {
    char *name;
    unsigned line, col;
};

/* A dotted key as written, or the name in a table header. */
struct key {
    size_t n;
    struct key_part part[MAX_KEY_PARTS];
};

static void key_done(struct key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->part[i].name);
}
#define cleanup_key __attribute__((cleanup(key_done)))

/* "a.b.c" for messages, from the parts up to and including part upto. */
static const char *key_name(const struct key *k, size_t upto, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i <= upto && len < size; i++) {
        int r = snprintf(buf + len, size - len, "%s%s", i ? "." : "", k->part[i].name);
        if (r < 0)
            break;
        len += (size_t)r;
    }
    return buf;
}

static int parse_key_part(struct parser *ps, struct key_part *part)
{
    int c = peek(ps);
    part->line = ps->line;
    part->col = ps->col;
    if (c == '"' || c == '\'')
        return parse_string(ps, c, false, &part->name);
    size_t n = 0;
    while (is_bare(peek_at(ps, n)))
        n++;
    if (n == 0)
        return fail(ps, "expected a key");
    part->name = xstrndup(ps->s + ps->pos, n);
    advance_n(ps, n);
    return 0;
}

/* Parts separated by dots, whitespace allowed around the dots; eats trailing whitespace. */
static int parse_key(struct parser *ps, struct key *k)
{
    for (;;) {
        skip_ws(ps);
        if (k->n == MAX_KEY_PARTS)
            return fail(ps, "nesting too deep");
        int r = parse_key_part(ps, &k->part[k->n]);
        if (r < 0)
            return r;
        k->n++;
        skip_ws(ps);
        if (peek(ps) != '.')
            return 0;
        advance(ps);
    }
}

static int parse_value(struct parser *ps, unsigned depth, struct node **ret);

/* The parent table of the last part of a dotted key in t, creating tables on the way. */
static int resolve_dotted(struct parser *ps, struct node *t, const struct key *k, struct node **ret)
{
    char name[96];
    for (size_t i = 0; i + 1 < k->n; i++) {
        const struct key_part *p = &k->part[i];
        struct toml_value *child = table_find(t, p->name);
        if (!child) {
            struct node *c = node_new(TOML_TABLE, p->line, p->col, NODE_DOTTED);
            table_add(t, xstrdup(p->name), p->line, p->col, c);
            t = c;
            continue;
        }
        if (child->type != TOML_TABLE)
            return fail_at(ps, p->line, p->col, "key `%s` is not a table",
                           key_name(k, i, name, sizeof(name)));
        t = NODE(child);
        if (t->flags & NODE_INLINE)
            return fail_at(ps, p->line, p->col, "cannot extend inline table `%s`",
                           key_name(k, i, name, sizeof(name)));
        if (t->flags & NODE_HEADER)
            return fail_at(ps, p->line, p->col, "cannot extend table `%s` with dotted keys",
                           key_name(k, i, name, sizeof(name)));
        t->flags |= NODE_DOTTED;
    }
    const struct key_part *last = &k->part[k->n - 1];
    if (table_find(t, last->name))
        return fail_at(ps, last->line, last->col, "duplicate key `%s`",
                       key_name(k, k->n - 1, name, sizeof(name)));
    *ret = t;
    return 0;
}

/* key = value, into table t. */
static int parse_keyval(struct parser *ps, struct node *t, unsigned depth)
{
    cleanup_key struct key k = {.n = 0};
    struct node *parent = NULL;
    struct node *val = NULL;
    int r = parse_key(ps, &k);
    if (r < 0)
        return r;
    if (peek(ps) != '=')
        return fail(ps, "expected `=` after key");
    advance(ps);
    skip_ws(ps);
    r = resolve_dotted(ps, t, &k, &parent);
    if (r < 0)
        return r;
    r = parse_value(ps, depth, &val);
    if (r < 0)
        return r;
    struct key_part *last = &k.part[k.n - 1];
    table_add(parent, TAKE_PTR(last->name), last->line, last->col, val);
    return 0;
}

static int parse_array(struct parser *ps, unsigned depth, struct node **ret)
{
    cleanup_node struct node *a = node_new(TOML_ARRAY, ps->line, ps->col, 0);
    advance(ps);
    for (;;) {
        struct node *item = NULL;
        int r = skip_blank(ps);
        if (r < 0)
            return r;
        if (peek(ps) == ']')
            break;
        r = parse_value(ps, depth, &item);
        if (r < 0)
            return r;
        array_push(a, item);
        r = skip_blank(ps);
        if (r < 0)
            return r;
        if (peek(ps) == ']')
            break;
        if (peek(ps) < 0)
            return fail(ps, "unterminated array");
        if (peek(ps) != ',')
            return fail(ps, "expected `,` or `]` in array");
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
        return fail(ps, "newline in inline table");
    if (peek(ps) < 0)
        return fail(ps, "unterminated inline table");
    if (after_comma && peek(ps) == '}')
        return fail(ps, "trailing comma in inline table");
    if (!after_comma && peek(ps) != ',' && peek(ps) != '}')
        return fail(ps, "expected `,` or `}` in inline table");
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

/* A number or boolean as written: one run of token characters, all ASCII, on one line. */
struct numtok {
    const char *t;
    size_t n;
    unsigned line, col;
};

static int num_fail(struct parser *ps, const struct numtok *tk, size_t i, const char *msg)
{
    return fail_at(ps, tk->line, tk->col + (unsigned)i, "%s", msg);
}

/* Digits of base with single underscores between them, from t[*i]; leaves *i after them. */
static int scan_digits(struct parser *ps, const struct numtok *tk, size_t *i, int base)
{
    size_t start = *i;
    bool prev_digit = false;
    for (; *i < tk->n; (*i)++) {
        int d = hex_value(tk->t[*i]);
        if (d >= 0 && d < base)
            prev_digit = true;
        else if (tk->t[*i] == '_' && prev_digit)
            prev_digit = false;
        else if (tk->t[*i] == '_')
            return num_fail(ps, tk, *i, "invalid underscore in number");
        else
            break;
    }
    if (*i == start)
        return num_fail(ps, tk, *i, "invalid number");
    if (!prev_digit)
        return num_fail(ps, tk, *i - 1, "invalid underscore in number");
    return 0;
}

/* Digits already checked by scan_digits(); limit is the largest magnitude allowed. */
static int accumulate(struct parser *ps, const struct numtok *tk, size_t from, int base,
                      uint64_t limit, uint64_t *ret)
{
    uint64_t v = 0;
    for (size_t i = from; i < tk->n; i++) {
        if (tk->t[i] == '_')
            continue;
        uint64_t d = (uint64_t)hex_value(tk->t[i]);
        if (v > (limit - d) / (uint64_t)base)
            return num_fail(ps, tk, 0, "integer out of range");
        v = v * (uint64_t)base + d;
    }
    *ret = v;
    return 0;
}

static int parse_radix(struct parser *ps, const struct numtok *tk, struct node *v)
{
    int base = tk->t[1] == 'x' ? 16 : tk->t[1] == 'o' ? 8 : 2;
    size_t i = 2;
    uint64_t u = 0;
    int r = scan_digits(ps, tk, &i, base);
    if (r < 0)
        return r;
    if (i != tk->n)
        return num_fail(ps, tk, i, "invalid number");
    r = accumulate(ps, tk, 2, base, INT64_MAX, &u);
    if (r < 0)
        return r;
    v->v.u.i = (int64_t)u;
    return 0;
}

static int make_float(struct parser *ps, const struct numtok *tk, struct node *v)
{
    cleanup_free char *clean = xmalloc(tk->n + 1);
    size_t len = 0;
    for (size_t i = 0; i < tk->n; i++)
        if (tk->t[i] != '_')
            clean[len++] = tk->t[i];
    clean[len] = '\0';
    errno = 0;
    v->v.type = TOML_FLOAT;
    v->v.u.f = strtod(clean, NULL);
    if (errno == ERANGE && isinf(v->v.u.f))
        return num_fail(ps, tk, 0, "float out of range");
    return 0;
}

static int make_int(struct parser *ps, const struct numtok *tk, size_t from, bool neg,
                    struct node *v)
{
    uint64_t u = 0;
    int r = accumulate(ps, tk, from, 10, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u);
    if (r < 0)
        return r;
    v->v.u.i = neg && u ? -(int64_t)(u - 1) - 1 : (int64_t)u;
    return 0;
}

static int parse_number(struct parser *ps, const struct numtok *tk, struct node *v)
{
    const char *t = tk->t;
    size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0, int_start = i;
    bool neg = t[0] == '-', is_float = false;
    if (tk->n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        v->v.type = TOML_FLOAT;
        v->v.u.f = t[i] == 'i' ? INFINITY : NAN;
        v->v.u.f = neg ? -v->v.u.f : v->v.u.f;
        return 0;
    }
    if (tk->n >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'o' || t[1] == 'b'))
        return parse_radix(ps, tk, v);
    int r = scan_digits(ps, tk, &i, 10);
    if (r < 0)
        return r;
    if (t[int_start] == '0' && i - int_start > 1)
        return num_fail(ps, tk, int_start, "leading zeros are not allowed");
    if (i < tk->n && t[i] == '.') {
        is_float = true;
        i++;
        if ((r = scan_digits(ps, tk, &i, 10)) < 0)
            return r;
    }
    if (i < tk->n && (t[i] == 'e' || t[i] == 'E')) {
        is_float = true;
        i++;
        if (i < tk->n && (t[i] == '+' || t[i] == '-'))
            i++;
        if ((r = scan_digits(ps, tk, &i, 10)) < 0)
            return r;
    }
    if (i != tk->n)
        return num_fail(ps, tk, i, "invalid number");
    return is_float ? make_float(ps, tk, v) : make_int(ps, tk, int_start, neg, v);
}

static bool looks_like_datetime(const struct parser *ps)
{
    size_t n = 0;
    while (n < 4 && is_digit(peek_at(ps, n)))
        n++;
    return (n == 4 && peek_at(ps, 4) == '-') || (n >= 2 && peek_at(ps, 2) == ':');
}

static bool is_token_char(int c)
{
    return is_bare(c) || c == '+' || c == '.';
}

/* true, false, integers and floats: one run of token characters. */
static int parse_scalar(struct parser *ps, struct node **ret)
{
    struct numtok tk = {.t = ps->s + ps->pos, .line = ps->line, .col = ps->col};
    if (looks_like_datetime(ps))
        return fail(ps, "date/time values are not supported");
    while (is_token_char(peek_at(ps, tk.n)))
        tk.n++;
    cleanup_node struct node *v = node_new(TOML_INT, tk.line, tk.col, 0);
    bool t = tk.n == 4 && memcmp(tk.t, "true", 4) == 0;
    if (t || (tk.n == 5 && memcmp(tk.t, "false", 5) == 0)) {
        v->v.type = TOML_BOOL;
        v->v.u.b = t;
    } else if (is_digit(tk.t[0]) || tk.t[0] == '+' || tk.t[0] == '-' ||
               (tk.n == 3 && (memcmp(tk.t, "inf", 3) == 0 || memcmp(tk.t, "nan", 3) == 0))) {
        int r = parse_number(ps, &tk, v);
        if (r < 0)
            return r;
    } else {
        return fail(ps, "invalid value");
    }
    advance_n(ps, tk.n);
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
        int r = parse_string(ps, c, multi, &s);
        if (r < 0)
            return r;
        *ret = node_new(TOML_STRING, line, col, 0);
        (*ret)->v.u.s = s;
        return 0;
    }
    if ((c == '[' || c == '{') && depth >= MAX_DEPTH)
        return fail(ps, "nesting too deep");
    if (c == '[')
        return parse_array(ps, depth + 1, ret);
    if (c == '{')
        return parse_inline_table(ps, depth + 1, ret);
    if (is_token_char(c))
        return parse_scalar(ps, ret);
    return fail(ps, "expected a value");
}

/* Walk (creating implicit tables) to the parent of a header's last part. */
static int header_parent(struct parser *ps, const struct key *k, struct node **ret)
{
    char name[96];
    struct node *t = ps->root;
    for (size_t i = 0; i + 1 < k->n; i++) {
        const struct key_part *p = &k->part[i];
        struct toml_value *child = table_find(t, p->name);
        if (!child) {
            struct node *c = node_new(TOML_TABLE, p->line, p->col, 0);
            table_add(t, xstrdup(p->name), p->line, p->col, c);
            t = c;
        } else if (child->type == TOML_TABLE && !(NODE(child)->flags & NODE_INLINE)) {
            t = NODE(child);
        } else if (child->type == TOML_TABLE) {
            return fail_at(ps, p->line, p->col, "cannot extend inline table `%s`",
                           key_name(k, i, name, sizeof(name)));
        } else if (child->type == TOML_ARRAY && (NODE(child)->flags & NODE_AOT)) {
            t = NODE(child->u.arr.items[child->u.arr.n - 1]);
        } else {
            return fail_at(ps, p->line, p->col, "key `%s` is not a table",
                           key_name(k, i, name, sizeof(name)));
        }
    }
    *ret = t;
    return 0;
}

/* [a.b.c] or [[a.b.c]]: make ps->cur the table that following keys go into. */
static int define_header(struct parser *ps, const struct key *k, bool aot, unsigned line,
                         unsigned col)
{
    char name[96];
    const struct key_part *p = &k->part[k->n - 1];
    struct node *parent = NULL;
    int r = header_parent(ps, k, &parent);
    if (r < 0)
        return r;
    struct toml_value *v = table_find(parent, p->name);
    key_name(k, k->n - 1, name, sizeof(name));
    if (!v) {
        struct node *c =
            node_new(aot ? TOML_ARRAY : TOML_TABLE, p->line, p->col, aot ? NODE_AOT : NODE_HEADER);
        table_add(parent, xstrdup(p->name), p->line, p->col, c);
        v = &c->v;
    } else if (!aot && v->type == TOML_TABLE) {
        if (NODE(v)->flags & (NODE_HEADER | NODE_DOTTED | NODE_INLINE))
            return fail_at(ps, p->line, p->col, "table `%s` already defined", name);
        NODE(v)->flags |= NODE_HEADER;
    } else if (aot && v->type == TOML_ARRAY && !(NODE(v)->flags & NODE_AOT)) {
        return fail_at(ps, p->line, p->col, "cannot append to static array `%s`", name);
    } else if (!aot || v->type != TOML_ARRAY) {
        return fail_at(ps, p->line, p->col, "key `%s` already defined as %s", name,
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
    cleanup_key struct key k = {.n = 0};
    unsigned line = ps->line, col = ps->col;
    bool aot = peek_at(ps, 1) == '[';
    advance_n(ps, aot ? 2 : 1);
    int r = parse_key(ps, &k);
    if (r < 0)
        return r;
    for (int i = aot ? 2 : 1; i > 0; i--) {
        if (peek(ps) != ']')
            return fail(ps,
                        aot ? "expected `]]` after table name" : "expected `]` after table name");
        advance(ps);
    }
    r = define_header(ps, &k, aot, line, col);
    if (r < 0)
        return r;
    return parse_line_end(ps, "table header");
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
            r = parse_line_end(ps, "comment");
        else if (c == '[')
            r = parse_header(ps);
        else if ((r = parse_keyval(ps, ps->cur, 0)) >= 0)
            r = parse_line_end(ps, "value");
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
    int r = check_encoding(&ps);
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

char *toml_quote(const char *s)
{
    static const char from[] = "\b\t\n\f\r\"\\", to[] = "btnfr\"\\";
    cleanup_sbuf struct sbuf b = {0};
    sbuf_push(&b, '"');
    for (; *s; s++) {
        const char *p = strchr(from, *s);
        if (p) {
            sbuf_push(&b, '\\');
            sbuf_push(&b, to[p - from]);
        } else if (is_ctrl((unsigned char)*s)) {
            char esc[8];
            snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)(unsigned char)*s);
            sbuf_puts(&b, esc);
        } else {
            sbuf_push(&b, *s);
        }
    }
    sbuf_push(&b, '"');
    return sbuf_take(&b);
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
