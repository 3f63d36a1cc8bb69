/* Ordered durable file updates: atomic writes and removals run on the thread pool one at a time,
 * in the order they were asked for, so that the last state asked for is the one on disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fsutil.h"
#include "common/macro.h"
#include "reactor/reactor.h"

struct fileq_job {
    char *path;
    char *content; /* NULL: remove the file */
    int status;
    reactor_fileq_cb cb;
    void *data;
    struct fileq_job *next;
};

struct reactor_fileq {
    uv_loop_t *loop;
    uv_work_t work;
    struct fileq_job *head, *tail;
    bool running;
};

struct reactor_fileq *reactor_fileq_new(uv_loop_t *loop)
{
    struct reactor_fileq *q = xcalloc(1, sizeof(*q));
    q->loop = loop;
    return q;
}

void reactor_fileq_free(struct reactor_fileq *q)
{
    free(q);
}

static void job_run(uv_work_t *w)
{
    struct reactor_fileq *q = container_of(w, struct reactor_fileq, work);
    struct fileq_job *j = q->head;
    if (j->content)
        j->status = fs_write_atomic(j->path, j->content, strlen(j->content), 0600);
    else
        j->status = unlink(j->path) < 0 && errno != ENOENT ? -errno : 0;
}

static void job_next(struct reactor_fileq *q);

static void on_job_done(uv_work_t *w, int status)
{
    struct reactor_fileq *q = container_of(w, struct reactor_fileq, work);
    struct fileq_job *j = q->head;
    q->head = j->next;
    if (!q->head)
        q->tail = NULL;
    q->running = false;
    if (j->cb)
        j->cb(j->status, j->path, j->data);
    free(j->path);
    free(j->content);
    free(j);
    job_next(q);
}

static void job_next(struct reactor_fileq *q)
{
    if (q->running || !q->head)
        return;
    q->running = true;
    uv_queue_work(q->loop, &q->work, job_run, on_job_done);
}

void reactor_fileq_put(struct reactor_fileq *q, const char *path, char *content,
                       reactor_fileq_cb cb, void *data)
{
    struct fileq_job *j = xcalloc(1, sizeof(*j));
    j->path = xstrdup(path);
    j->content = content;
    j->cb = cb;
    j->data = data;
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    job_next(q);
}
