/* The TOML lexer: the encoding check, blanks and comments, the four string forms, keys, and
 * booleans and numbers, over the cursor that toml.c's document builder also moves. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/toml-internal.h"

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

int toml_lex_fail_at(struct parser *ps, unsigned line, unsigned col, const char *fmt, ...)
{
    va_list ap;
    ps->err->line = line;
    ps->err->col = col;
    va_start(ap, fmt);
    vsnprintf(ps->err->msg, sizeof(ps->err->msg), fmt, ap);
    va_end(ap);
    return -EINVAL;
}

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
int toml_lex_check_encoding(struct parser *ps)
{
    const unsigned char *s = (const unsigned char *)ps->s;
    while (ps->pos < ps->len) {
        if (s[ps->pos] == 0)
            return toml_lex_fail(ps, "NUL byte in input");
        size_t n = utf8_len(s + ps->pos, ps->len - ps->pos);
        if (n == 0)
            return toml_lex_fail(ps, "invalid UTF-8");
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
            return toml_lex_fail(ps, "control character in comment");
    return 0;
}

/* Whitespace, newlines and comments, as allowed between array elements. */
int toml_lex_skip_blank(struct parser *ps)
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
            return toml_lex_fail(ps, "carriage return not followed by newline");
        } else {
            return 0;
        }
    }
}

/* The end of a key/value or header line: whitespace, an optional comment, newline or EOF. */
int toml_lex_line_end(struct parser *ps, const char *what)
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
        return toml_lex_fail(ps, "carriage return not followed by newline");
    return toml_lex_fail(ps, "expected newline after %s", what);
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
            return toml_lex_fail_at(ps, line, col, "invalid unicode escape");
        cp = cp * 16 + (uint32_t)d;
        advance(ps);
    }
    if (cp == 0)
        return toml_lex_fail_at(ps, line, col, "NUL (\\u0000) is not allowed in strings");
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return toml_lex_fail_at(ps, line, col, "unicode escape is not a scalar value");
    put_utf8(b, cp);
    return 0;
}

/* A backslash ending a line of a multi-line string eats all whitespace and newlines after it. */
static int trim_line_ending(struct parser *ps, unsigned line, unsigned col)
{
    skip_ws(ps);
    if (!at_newline(ps))
        return toml_lex_fail_at(ps, line, col, "invalid escape sequence");
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
    return toml_lex_fail_at(ps, line, col, "invalid escape sequence");
}

/* One literal character (or newline) of a string body. */
static int string_char(struct parser *ps, bool multi, struct sbuf *b)
{
    int c = peek(ps);
    if (c < 0)
        return toml_lex_fail(ps, "unterminated string");
    if (at_newline(ps)) {
        if (!multi)
            return toml_lex_fail(ps, "unterminated string");
        skip_newline(ps);
        sbuf_push(b, '\n');
        return 0;
    }
    if (is_ctrl(c))
        return toml_lex_fail(ps, "control character in string");
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
int toml_lex_string(struct parser *ps, int quote, bool multi, char **ret)
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

void toml_key_done(struct toml_key *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->part[i].name);
}

const char *toml_key_name(const struct toml_key *k, size_t upto, char *buf, size_t size)
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

static int parse_key_part(struct parser *ps, struct toml_key_part *part)
{
    int c = peek(ps);
    part->line = ps->line;
    part->col = ps->col;
    if (c == '"' || c == '\'')
        return toml_lex_string(ps, c, false, &part->name);
    size_t n = 0;
    while (is_bare(peek_at(ps, n)))
        n++;
    if (n == 0)
        return toml_lex_fail(ps, "expected a key");
    part->name = xstrndup(ps->s + ps->pos, n);
    advance_n(ps, n);
    return 0;
}

/* Parts separated by dots, whitespace allowed around the dots; eats trailing whitespace. */
int toml_lex_key(struct parser *ps, struct toml_key *k)
{
    for (;;) {
        skip_ws(ps);
        if (k->n == TOML_MAX_KEY_PARTS)
            return toml_lex_fail(ps, "nesting too deep");
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

/* A number or boolean as written: one run of token characters, all ASCII, on one line. */
struct numtok {
    const char *t;
    size_t n;
    unsigned line, col;
};

static int num_fail(struct parser *ps, const struct numtok *tk, size_t i, const char *msg)
{
    return toml_lex_fail_at(ps, tk->line, tk->col + (unsigned)i, "%s", msg);
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

static int parse_radix(struct parser *ps, const struct numtok *tk, struct toml_value *v)
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
    v->u.i = (int64_t)u;
    return 0;
}

static int make_float(struct parser *ps, const struct numtok *tk, struct toml_value *v)
{
    cleanup_free char *clean = xmalloc(tk->n + 1);
    size_t len = 0;
    for (size_t i = 0; i < tk->n; i++)
        if (tk->t[i] != '_')
            clean[len++] = tk->t[i];
    clean[len] = '\0';
    errno = 0;
    v->type = TOML_FLOAT;
    v->u.f = strtod(clean, NULL);
    if (errno == ERANGE && isinf(v->u.f))
        return num_fail(ps, tk, 0, "float out of range");
    return 0;
}

static int make_int(struct parser *ps, const struct numtok *tk, size_t from, bool neg,
                    struct toml_value *v)
{
    uint64_t u = 0;
    int r = accumulate(ps, tk, from, 10, neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX, &u);
    if (r < 0)
        return r;
    v->u.i = neg && u ? -(int64_t)(u - 1) - 1 : (int64_t)u;
    return 0;
}

static int parse_number(struct parser *ps, const struct numtok *tk, struct toml_value *v)
{
    const char *t = tk->t;
    size_t i = (t[0] == '+' || t[0] == '-') ? 1 : 0, int_start = i;
    bool neg = t[0] == '-', is_float = false;
    if (tk->n - i == 3 && (memcmp(t + i, "inf", 3) == 0 || memcmp(t + i, "nan", 3) == 0)) {
        v->type = TOML_FLOAT;
        v->u.f = t[i] == 'i' ? INFINITY : NAN;
        v->u.f = neg ? -v->u.f : v->u.f;
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

bool toml_lex_is_token_char(int c)
{
    return is_bare(c) || c == '+' || c == '.';
}

int toml_lex_scalar(struct parser *ps, struct toml_value *v)
{
    struct numtok tk = {.t = ps->s + ps->pos, .line = ps->line, .col = ps->col};
    if (looks_like_datetime(ps))
        return toml_lex_fail(ps, "date/time values are not supported");
    while (toml_lex_is_token_char(peek_at(ps, tk.n)))
        tk.n++;
    v->type = TOML_INT;
    bool t = tk.n == 4 && memcmp(tk.t, "true", 4) == 0;
    if (t || (tk.n == 5 && memcmp(tk.t, "false", 5) == 0)) {
        v->type = TOML_BOOL;
        v->u.b = t;
    } else if (is_digit(tk.t[0]) || tk.t[0] == '+' || tk.t[0] == '-' ||
               (tk.n == 3 && (memcmp(tk.t, "inf", 3) == 0 || memcmp(tk.t, "nan", 3) == 0))) {
        int r = parse_number(ps, &tk, v);
        if (r < 0)
            return r;
    } else {
        return toml_lex_fail(ps, "invalid value");
    }
    advance_n(ps, tk.n);
    return 0;
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
