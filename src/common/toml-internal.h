/* What the TOML lexer (toml-lex.c: strings, keys, numbers, blanks) and the document builder
 * (toml.c: tables, arrays, headers, the redefinition rules) share; stays in common/. */
#ifndef CRIB_COMMON_TOML_INTERNAL_H
#define CRIB_COMMON_TOML_INTERNAL_H

#include "common/toml.h"

#define TOML_MAX_KEY_PARTS 64 /* parts of one dotted key or table header */

struct node;

/* The parser's state: the cursor over the buffer, which the lexer moves, and the tables being
 * filled, which only the document builder touches. */
struct parser {
    const char *s;
    size_t len, pos;
    unsigned line, col; /* of s[pos]; columns count characters, not bytes */
    struct toml_error *err;
    struct node *root;
    struct node *cur; /* the table that key/value lines go into */
};

static inline int peek_at(const struct parser *ps, size_t off)
{
    return off < ps->len - ps->pos ? (unsigned char)ps->s[ps->pos + off] : -1;
}

static inline int peek(const struct parser *ps)
{
    return peek_at(ps, 0);
}

static inline void advance(struct parser *ps)
{
    unsigned char c = (unsigned char)ps->s[ps->pos++];
    if (c == '\n') {
        ps->line++;
        ps->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        ps->col++;
    }
}

static inline void advance_n(struct parser *ps, size_t n)
{
    while (n--)
        advance(ps);
}

static inline void skip_ws(struct parser *ps)
{
    while (peek(ps) == ' ' || peek(ps) == '\t')
        advance(ps);
}

/* Fill ps->err with the message at (line, col); returns -EINVAL. */
__attribute__((format(printf, 4, 5))) int toml_lex_fail_at(struct parser *ps, unsigned line,
                                                           unsigned col, const char *fmt, ...);
#define toml_lex_fail(ps, ...) toml_lex_fail_at(ps, (ps)->line, (ps)->col, __VA_ARGS__)

struct toml_key_part {
    char *name;
    unsigned line, col;
};

/* A dotted key as written, or the name in a table header. */
struct toml_key {
    size_t n;
    struct toml_key_part part[TOML_MAX_KEY_PARTS];
};

void toml_key_done(struct toml_key *k);
#define cleanup_key __attribute__((cleanup(toml_key_done)))
/* "a.b.c" for messages, from the parts up to and including part upto. */
const char *toml_key_name(const struct toml_key *k, size_t upto, char *buf, size_t size);

/* Reject NULs and broken UTF-8 in the whole input, then rewind. */
int toml_lex_check_encoding(struct parser *ps);
/* Whitespace, newlines and comments, as allowed between array elements. */
int toml_lex_skip_blank(struct parser *ps);
/* The end of a key/value or header line: whitespace, an optional comment, newline or EOF. */
int toml_lex_line_end(struct parser *ps, const char *what);
/* Any of the four string forms; quote is '"' (basic) or '\'' (literal). */
int toml_lex_string(struct parser *ps, int quote, bool multi, char **ret);
/* Parts separated by dots, whitespace allowed around the dots; eats trailing whitespace. */
int toml_lex_key(struct parser *ps, struct toml_key *k);
/* Whether c starts a scalar (a boolean or a number). */
bool toml_lex_is_token_char(int c);
/* true, false, integers and floats: one run of token characters, into v's type and value. */
int toml_lex_scalar(struct parser *ps, struct toml_value *v);

#endif
