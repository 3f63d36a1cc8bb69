/* CRI log framing: container output cut into "<time> <stream> <P|F> <text>\n" records, the
 * format the kubelet reads (containerd's cri logger, same split rule). */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "monitor/logline.h"

/* The records are the same however the stream is cut into reads: a part of max bytes is written
 * as "P" only once a byte that is not '\n' follows it, so a line of exactly max bytes is a single
 * "F" record, and an "F" after "P" parts is never empty. pending therefore holds up to max
 * bytes. */

struct frame {
    char ts[40];
    size_t ts_len;
    const char *stream;
    size_t stream_len;
    struct buf *out;
    monitor_logline_fn fn;
    void *fn_data;
};

void monitor_logline_init(struct monitor_logline *l, const char *stream, size_t max)
{
    l->stream = stream;
    l->max = max ? max : MONITOR_LOG_LINE_MAX;
    l->pending = (struct buf){0};
}

void monitor_logline_done(struct monitor_logline *l)
{
    buf_done(&l->pending);
}

size_t monitor_log_timestamp(int64_t ns, char *out)
{
    int64_t sec = ns / 1000000000, frac = ns % 1000000000;
    struct tm tm;

    if (frac < 0) {
        frac += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    if (!gmtime_r(&t, &tm))
        memset(&tm, 0, sizeof(tm));
    int n = snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%09dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return n < 0 ? 0 : (size_t)n;
}

static size_t record_overhead(const struct frame *f)
{
    /* "<ts> <stream> P " and "\n" */
    return f->ts_len + 1 + f->stream_len + 3 + 1;
}

/* One record whose text is a (from pending) followed by b (from the input). */
static void emit(const struct frame *f, bool partial, const void *a, size_t alen, const void *b,
                 size_t blen)
{
    struct buf *out = f->out;
    /* reserved up front by the caller: a no-op unless its estimate was short */
    buf_reserve(out, record_overhead(f) + alen + blen);
    char *p = (char *)out->data + out->len;
    memcpy(p, f->ts, f->ts_len);
    p += f->ts_len;
    *p++ = ' ';
    memcpy(p, f->stream, f->stream_len);
    p += f->stream_len;
    *p++ = ' ';
    *p++ = partial ? 'P' : 'F';
    *p++ = ' ';
    char *text = p;
    if (alen)
        memcpy(p, a, alen);
    p += alen;
    if (blen)
        memcpy(p, b, blen);
    p += blen;
    *p++ = '\n';
    *p = '\0';
    out->len = (size_t)(p - (char *)out->data);
    if (f->fn)
        f->fn(text, alen + blen, partial, f->fn_data);
}

static void frame_init(struct frame *f, const struct monitor_logline *l, int64_t now_ns,
                       struct buf *out, monitor_logline_fn fn, void *fn_data)
{
    f->ts_len = monitor_log_timestamp(now_ns, f->ts);
    f->stream = l->stream;
    f->stream_len = strlen(l->stream);
    f->out = out;
    f->fn = fn;
    f->fn_data = fn_data;
}

void monitor_logline_feed(struct monitor_logline *l, const char *data, size_t len, int64_t now_ns,
                          struct buf *out, monitor_logline_fn fn, void *fn_data)
{
    struct frame f;
    const size_t max = l->max;

    if (len == 0)
        return;
    const char *p = data, *end = data + len;
    frame_init(&f, l, now_ns, out, fn, fn_data);

    /* One reservation for the whole chunk: every "F" record uses up a '\n' and every "P" record
     * max bytes of text. */
    size_t newlines = 0;
    for (const char *q = p; (q = memchr(q, '\n', (size_t)(end - q))); q++)
        newlines++;
    size_t text = l->pending.len + len;
    buf_reserve(out, text + (newlines + text / max + 1) * record_overhead(&f));

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t seg = (size_t)((nl ? nl : end) - p);

        if (l->pending.len) {
            if (l->pending.len + seg > max) {
                /* the line goes on past max: its first part is the pending bytes plus the
                 * start of this segment */
                size_t take = max - l->pending.len;
                emit(&f, true, l->pending.data, l->pending.len, p, take);
                l->pending.len = 0;
                p += take;
                seg -= take;
            } else if (nl) {
                emit(&f, false, l->pending.data, l->pending.len, p, seg);
                l->pending.len = 0;
                p = nl + 1;
                continue;
            } else {
                buf_append(&l->pending, p, seg);
                break;
            }
        }
        for (; seg > max; seg -= max, p += max)
            emit(&f, true, NULL, 0, p, max);
        if (!nl) {
            /* at most max bytes of an unfinished line wait for the next read */
            buf_append(&l->pending, p, seg);
            break;
        }
        emit(&f, false, NULL, 0, p, seg);
        p = nl + 1;
    }
}

void monitor_logline_flush(struct monitor_logline *l, int64_t now_ns, struct buf *out,
                           monitor_logline_fn fn, void *fn_data)
{
    struct frame f;

    if (l->pending.len == 0)
        return;
    frame_init(&f, l, now_ns, out, fn, fn_data);
    emit(&f, false, l->pending.data, l->pending.len, NULL, 0);
    buf_done(&l->pending);
}

/* ---- records planned over raw bytes ---- */

static bool plan_add(struct monitor_rec *recs, size_t n_recs, size_t *n, size_t len, char tag,
                     bool nl)
{
    if (*n == n_recs)
        return false;
    recs[(*n)++] = (struct monitor_rec){.len = len, .tag = tag, .nl = nl};
    return true;
}

size_t monitor_logline_plan(const char *data, size_t len, size_t max, bool end,
                            struct monitor_rec *recs, size_t n_recs, size_t *taken)
{
    size_t n = 0, off = 0;
    while (off < len) {
        const char *p = data + off;
        const char *nl = memchr(p, '\n', len - off);
        size_t seg = (size_t)((nl ? nl : data + len) - p);
        while (seg > max && plan_add(recs, n_recs, &n, max, 'P', true)) {
            off += max;
            seg -= max;
        }
        if (seg > max)
            break; /* out of room */
        if (nl) {
            if (!plan_add(recs, n_recs, &n, seg + 1, 'F', false))
                break;
            off += seg + 1;
        } else {
            /* an unfinished line waits for its end, unless nothing more will come */
            if (end && seg && plan_add(recs, n_recs, &n, seg, 'F', true))
                off += seg;
            break;
        }
    }
    *taken = off;
    return n;
}

void monitor_logline_render(const char *data, const struct monitor_rec *recs, size_t n,
                            const char *stream, int64_t now_ns, struct buf *out,
                            monitor_logline_fn fn, void *fn_data)
{
    struct frame f;
    struct monitor_logline l = {.stream = stream};
    frame_init(&f, &l, now_ns, out, fn, fn_data);
    for (size_t i = 0; i < n; i++) {
        size_t text = recs[i].len - (recs[i].nl ? 0 : 1); /* without the line's own '\n' */
        emit(&f, recs[i].tag == 'P', data, text, NULL, 0);
        data += recs[i].len;
    }
}
