/* Errors that reach a user: a negative errno plus a message built up with context. */
#ifndef CRIB_COMMON_ERR_H
#define CRIB_COMMON_ERR_H

struct err {
    int code;  /* negative errno, 0 when unset */
    char *msg; /* owned, NULL when unset */
};

#define ERR_INIT                                                                                   \
    {                                                                                              \
        0, NULL                                                                                    \
    }

/* Set the error (replacing any earlier one); returns code, which must be negative. */
int err_set(struct err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefix the message with context ("pull `x`: " + msg); returns err->code. */
int err_wrap(struct err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Release the message; the err can be reused. */
void err_done(struct err *err);
const char *err_msg(const struct err *err);

#endif
