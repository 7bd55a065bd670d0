/* queue_add.c — adds jobs in batches: every add of a loop turn waits in the batch of the jobs
 * that share its queue and options, and the batches leave at the end of the turn (a check
 * handle, with an idle handle so a turn that ends in a timer does not sleep first), each as one
 * add script carrying the shared options once and jobId and data per job. */
#include "queue.h"
#include "queue_int.h"

#include <stdlib.h>
#include <string.h>

#define BATCH_MAX 500 /* jobs per script call: bounds the script's run and its reply */
#define SHARED 10     /* values 0..9 of a job: name, now, then the options a batch shares */
#define SPLIT_MIN 8   /* a batch's answer resumes its adders in two halves from 2 x this */

struct queue_add_req {
    queue_add_cb cb; /* NULL once abandoned */
    void *ud;
    queue_add_req_t *next;
    char *id; /* a deferred answer (adder_defer): the id, or NULL for an error */
    size_t id_len;
    int created;
    size_t len[12];
    const char *argv[12]; /* into bytes */
    char bytes[];
};

typedef struct batch {
    queue_adder_t *a;
    queue_add_req_t *head, **tail;
    int n, nids; /* jobs, and those of them with a jobId */
    struct batch *next;
} batch_t;

struct queue_adder {
    uv_loop_t *loop;
    redis_client_t *client;
    uv_check_t turn;
    uv_idle_t kick;
    batch_t *open;             /* batches of this turn */
    queue_add_req_t *later;    /* answered, their callbacks deferred to the turn's end */
    queue_consumer_t *watcher; /* told of ready jobs sent (queue_adder_watch) */
    int closing, handles;
};

/* Where the next job's answer is in a batch's reply: add.lua answers the number of the first job
 * it numbered (the others follow in order), then whether each job with a jobId was created. */
typedef struct {
    const redisReply *reply; /* NULL: the batch failed */
    long long number;
    size_t flag;
} answer_t;

/* The batch's reply as an answer, or one that fails every job when the reply is not add.lua's
 * for these n jobs, nids of them with a jobId. */
static answer_t answer_of(const redisReply *reply, int nids)
{
    answer_t at = {NULL, 0, 1};
    if (!reply || reply->type != REDIS_REPLY_ARRAY || reply->elements != 1 + (size_t)nids)
        return at;
    for (size_t i = 0; i < reply->elements; i++)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER)
            return at;
    at.reply = reply;
    at.number = reply->element[0]->integer;
    return at;
}

/* Job r's id (into buf when it is a new number) and whether it was created; moves at on. */
static size_t answer_next(answer_t *at, const queue_add_req_t *r, char buf[24], const char **id,
                          int *created)
{
    if (r->len[10] > 0) {
        *id = r->argv[10];
        *created = (int)at->reply->element[at->flag++]->integer;
        return r->len[10];
    }
    *id = buf;
    *created = 1;
    return (size_t)snprintf(buf, 24, "%lld", at->number++);
}

/* Ends r: its callback, unless abandoned, with the job's id or an error. */
static void req_done(queue_add_req_t *r, const char *id, size_t len, int created, int err,
                     const char *message)
{
    if (r->cb)
        r->cb(id, len, created, err, message, r->ud);
    free(r);
}

/* Ends every add from r on: each with its answer, or all with the batch's error when at is NULL
 * or failed. */
static void req_done_all(queue_add_req_t *r, answer_t *at, const redisReply *reply, int err)
{
    const char *why = reply && reply->type == REDIS_REPLY_ERROR ? reply->str : NULL;
    queue_add_req_t *next;
    for (; r; r = next) {
        next = r->next;
        if (at && at->reply) {
            char buf[24];
            const char *id;
            int created;
            size_t len = answer_next(at, r, buf, &id, &created);
            req_done(r, id, len, created, 0, NULL);
        } else {
            req_done(r, NULL, 0, 0, err ? err : REDIS_EREPLY, why);
        }
    }
}

static void adder_on_turn(uv_check_t *h);
static void adder_on_kick(uv_idle_t *h);

/* Keeps r's answer for the turn's end; 0, or -1 when it can't be kept. */
static int adder_defer(queue_adder_t *a, queue_add_req_t *r, const char *id, size_t len,
                       int created)
{
    if (!(r->id = malloc(len + 1)))
        return -1;
    memcpy(r->id, id, len);
    r->id[len] = '\0';
    r->id_len = len;
    r->created = created;
    r->next = a->later;
    a->later = r;
    uv_check_start(&a->turn, adder_on_turn);
    uv_idle_start(&a->kick, adder_on_kick);
    return 0;
}

/* A batch's answer. The adders waiting on it resume at once, but for a large batch only the
 * first half: the rest resume at the end of the turn, after the adds of the first half have
 * been written. Redis then runs the first half's script while this worker resumes the second
 * half, instead of both taking turns idling (the adders of a turn wait on one script). */
static void adder_answer(queue_adder_t *a, const batch_t *b, const redisReply *reply, int err)
{
    answer_t at = answer_of(err ? NULL : reply, b->nids);
    queue_add_req_t *r = b->head, *next;
    if (!at.reply || b->n < 2 * SPLIT_MIN || a->closing) {
        req_done_all(r, &at, reply, err);
        return;
    }
    for (int k = 0; r; r = next, k++) {
        next = r->next;
        char buf[24];
        const char *id;
        int created;
        size_t len = answer_next(&at, r, buf, &id, &created);
        if (k < b->n / 2 || !r->cb || adder_defer(a, r, id, len, created) < 0)
            req_done(r, id, len, created, 0, NULL);
    }
}

/* Runs the deferred callbacks (their coroutines may add again: new batches). */
static void adder_fire_later(queue_adder_t *a)
{
    queue_add_req_t *r = a->later, *next;
    a->later = NULL;
    for (; r; r = next) {
        next = r->next;
        char *id = r->id;
        if (id)
            req_done(r, id, r->id_len, r->created, 0, NULL);
        else
            req_done(r, NULL, 0, 0, REDIS_EUNAVAILABLE, NULL);
        free(id);
    }
}

static void batch_on_reply(const redisReply *reply, int err, void *ud)
{
    batch_t *b = ud;
    adder_answer(b->a, b, reply, err);
    free(b);
}

static void batch_send(batch_t *b)
{
    queue_adder_t *a = b->a;
    int argc = SHARED + 2 * b->n, i = SHARED;
    const char **argv = malloc((size_t)argc * (sizeof(char *) + sizeof(size_t)));
    int rc = REDIS_ENOMEM;
    if (argv) {
        size_t *len = (size_t *)(argv + argc);
        /* "now" is the first job's: every job of the batch was added in this loop turn */
        memcpy(argv, b->head->argv, SHARED * sizeof(*argv));
        memcpy(len, b->head->len, SHARED * sizeof(*len));
        for (queue_add_req_t *r = b->head; r; r = r->next)
            for (int k = SHARED; k < 12; k++, i++) {
                argv[i] = r->argv[k];
                len[i] = r->len[k];
            }
        /* the queue key comes from the first job's name: every job of a batch has it */
        char name[QUEUE_NAME_MAX + 1];
        memcpy(name, b->head->argv[0], b->head->len[0]);
        name[b->head->len[0]] = '\0';
        /* shared value 2 is the delay: "0", the jobs are ready (read before b may be gone) */
        int ready = b->head->len[2] == 1 && b->head->argv[2][0] == '0';
        rc =
            queue_eval(a->client, QUEUE_SCRIPT_ADD, name, argc, argv, len, batch_on_reply, b, NULL);
        free(argv);
        if (rc == 0 && ready && a->watcher)
            qc_added(a->watcher, a->client, name);
    }
    if (rc < 0) {
        req_done_all(b->head, NULL, NULL, rc);
        free(b);
    }
}

static void adder_flush(queue_adder_t *a)
{
    batch_t *b = a->open, *next;
    a->open = NULL;
    for (; b; b = next) {
        next = b->next;
        batch_send(b);
    }
}

static void adder_on_turn(uv_check_t *h)
{
    queue_adder_t *a = h->data;
    uv_idle_stop(&a->kick);
    uv_check_stop(&a->turn);
    adder_flush(a);
    if (a->later) { /* write the first half's adds now, then resume the second half */
        redis_client_flush(a->client);
        adder_fire_later(a);
        adder_flush(a);
    }
}

/* Active until the turn ran: the loop does not block in poll before it (queue_consumer.c). */
static void adder_on_kick(uv_idle_t *h)
{
    (void)h;
}

/* Whether job r may join batch b: same queue and options (every shared value but "now"). */
static int batch_fits(const batch_t *b, const char *const argv[12], const size_t len[12])
{
    const queue_add_req_t *h = b->head;
    if (b->n >= BATCH_MAX)
        return 0;
    for (int k = 0; k < SHARED; k++)
        if (k != 1 && (h->len[k] != len[k] || memcmp(h->argv[k], argv[k], len[k]) != 0))
            return 0;
    return 1;
}

int queue_adder_add(queue_adder_t *a, const char *const argv[12], const size_t len[12],
                    queue_add_cb cb, void *ud, queue_add_req_t **out)
{
    if (out)
        *out = NULL;
    if (a->closing)
        return REDIS_EUNAVAILABLE;
    if (len[0] == 0 || len[0] > QUEUE_NAME_MAX)
        return REDIS_EINVAL;
    size_t total = 0;
    for (int k = 0; k < 12; k++)
        total += len[k];
    queue_add_req_t *r = malloc(sizeof(*r) + total);
    if (!r)
        return REDIS_ENOMEM;
    r->cb = cb;
    r->ud = ud;
    r->next = NULL;
    r->id = NULL;
    char *p = r->bytes;
    for (int k = 0; k < 12; k++) {
        memcpy(p, argv[k], len[k]);
        r->argv[k] = p;
        r->len[k] = len[k];
        p += len[k];
    }
    batch_t *b = a->open; /* a full batch waits for the turn's end */
    while (b && !batch_fits(b, argv, len))
        b = b->next;
    if (!b) {
        if (!(b = calloc(1, sizeof(*b)))) {
            free(r);
            return REDIS_ENOMEM;
        }
        b->a = a;
        b->tail = &b->head;
        b->next = a->open;
        a->open = b;
        uv_check_start(&a->turn, adder_on_turn);
        uv_idle_start(&a->kick, adder_on_kick);
    }
    *b->tail = r;
    b->tail = &r->next;
    b->n++;
    b->nids += len[10] > 0;
    if (out)
        *out = r;
    return 0;
}

void queue_adder_watch(queue_adder_t *a, queue_consumer_t *c)
{
    if (a)
        a->watcher = c;
}

void queue_add_abandon(queue_add_req_t *r)
{
    if (r)
        r->cb = NULL;
}

static void adder_on_closed(uv_handle_t *h)
{
    queue_adder_t *a = h->data;
    if (--a->handles == 0)
        free(a);
}

int queue_adder_new(uv_loop_t *loop, redis_client_t *client, queue_adder_t **out)
{
    queue_adder_t *a = calloc(1, sizeof(*a));
    if (!a)
        return REDIS_ENOMEM;
    a->loop = loop;
    a->client = client;
    uv_check_init(loop, &a->turn);
    uv_idle_init(loop, &a->kick);
    a->turn.data = a->kick.data = a;
    a->handles = 2;
    *out = a;
    return 0;
}

void queue_adder_close(queue_adder_t *a)
{
    if (!a || a->closing)
        return;
    a->closing = 1;
    for (queue_add_req_t *r = a->later; r; r = r->next) {
        free(r->id);
        r->id = NULL;
    }
    adder_fire_later(a);
    batch_t *b = a->open, *next;
    a->open = NULL;
    for (; b; b = next) {
        next = b->next;
        req_done_all(b->head, NULL, NULL, REDIS_EUNAVAILABLE);
        free(b);
    }
    uv_close((uv_handle_t *)&a->turn, adder_on_closed);
    uv_close((uv_handle_t *)&a->kick, adder_on_closed);
}
