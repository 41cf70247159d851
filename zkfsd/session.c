/* Session table: sessions by id, plus ExpiryQueue's deadline buckets. Buckets are found by
 * deadline through a hash map (touches) and ordered by a binary min-heap that tracks each
 * bucket's position, so an emptied bucket leaves at once and the heap's top is always the
 * exact next deadline. See session.h for the contracts. */
#include "zkfsd/session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/zerr.h"
#include "zkfsd/digest.h"
#include "zkfsd/txn.h"

/* The sessions due at one deadline. */
struct sess_bucket {
    int64_t at;              /* also the bucket map's (borrowed) key */
    size_t heap_idx;         /* position in the heap */
    size_t n;                /* sessions in the list */
    struct zk_session *head; /* doubly linked through bprev/bnext */
};

struct sess_table {
    struct hmap byid;          /* id -> struct zk_session* */
    struct hmap buckets;       /* deadline -> struct sess_bucket* */
    struct sess_bucket **heap; /* min-heap on at */
    size_t nheap, capheap;
    int64_t tick;
    int64_t next_id;
};

/* ExpiryQueue.roundToNextInterval: the next tick boundary strictly after time. */
static int64_t round_up(const struct sess_table *t, int64_t time)
{
    return (time / t->tick + 1) * t->tick;
}

/* ---------------- the heap of buckets ---------------- */

static void heap_set(struct sess_table *t, size_t i, struct sess_bucket *b)
{
    t->heap[i] = b;
    b->heap_idx = i;
}

static void heap_up(struct sess_table *t, size_t i)
{
    struct sess_bucket *b = t->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (t->heap[p]->at <= b->at)
            break;
        heap_set(t, i, t->heap[p]);
        i = p;
    }
    heap_set(t, i, b);
}

static void heap_down(struct sess_table *t, size_t i)
{
    struct sess_bucket *b = t->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nheap)
            break;
        if (c + 1 < t->nheap && t->heap[c + 1]->at < t->heap[c]->at)
            c++;
        if (b->at <= t->heap[c]->at)
            break;
        heap_set(t, i, t->heap[c]);
        i = c;
    }
    heap_set(t, i, b);
}

static void heap_remove(struct sess_table *t, struct sess_bucket *b)
{
    size_t i = b->heap_idx;
    assert(i < t->nheap && t->heap[i] == b);
    struct sess_bucket *last = t->heap[--t->nheap];
    if (last == b)
        return;
    heap_set(t, i, last);
    heap_up(t, i);
    heap_down(t, last->heap_idx);
}

/* ---------------- buckets ---------------- */

/* Returns the bucket for deadline at, creating it; NULL when out of memory (nothing changed). */
static struct sess_bucket *bucket_get(struct sess_table *t, int64_t at)
{
    struct sess_bucket *b = hmap_get64(&t->buckets, at);
    if (b)
        return b;
    if (t->nheap == t->capheap) {
        size_t ncap = t->capheap ? t->capheap * 2 : 16;
        struct sess_bucket **nh = realloc(t->heap, ncap * sizeof(*nh));
        if (!nh)
            return NULL;
        t->heap = nh;
        t->capheap = ncap;
    }
    b = calloc(1, sizeof(*b));
    if (!b)
        return NULL;
    b->at = at;
    if (hmap_put_borrowed(&t->buckets, &b->at, sizeof(b->at), b) < 0) {
        free(b);
        return NULL;
    }
    heap_set(t, t->nheap++, b);
    heap_up(t, b->heap_idx);
    return b;
}

static void bucket_drop(struct sess_table *t, struct sess_bucket *b)
{
    assert(b->n == 0 && !b->head);
    heap_remove(t, b);
    hmap_del64(&t->buckets, b->at);
    free(b);
}

static void enqueue(struct sess_bucket *b, struct zk_session *s)
{
    assert(!s->bucket);
    s->bucket = b;
    s->expire_at = b->at;
    s->bprev = NULL;
    s->bnext = b->head;
    if (b->head)
        b->head->bprev = s;
    b->head = s;
    b->n++;
}

/* Takes s out of its bucket (if any), dropping the bucket when it empties. */
static void dequeue(struct sess_table *t, struct zk_session *s)
{
    struct sess_bucket *b = s->bucket;
    if (!b)
        return;
    if (s->bprev)
        s->bprev->bnext = s->bnext;
    else
        b->head = s->bnext;
    if (s->bnext)
        s->bnext->bprev = s->bprev;
    s->bprev = s->bnext = NULL;
    s->bucket = NULL;
    if (--b->n == 0)
        bucket_drop(t, b);
}

/* ---------------- the table ---------------- */

struct sess_table *sess_new(int32_t tick_ms, int64_t server_id, int64_t now_ms)
{
    if (tick_ms <= 0)
        return NULL;
    struct sess_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    hmap_init(&t->byid);
    hmap_init(&t->buckets);
    t->tick = tick_ms;
    /* 40 bits of time in bytes 1..5 (logical shift, so the top byte is the server's alone) */
    uint64_t id = ((uint64_t)now_ms << 24) >> 8;
    id |= (uint64_t)server_id << 56;
    t->next_id = (int64_t)id;
    if (t->next_id == ZK_CONTAINER_OWNER)
        t->next_id++;
    return t;
}

void sess_free(struct sess_table *t)
{
    if (!t)
        return;
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->byid, &i, &s);)
        free(s->val);
    for (size_t i = 0; i < t->nheap; i++)
        free(t->heap[i]);
    free(t->heap);
    hmap_free(&t->byid);
    hmap_free(&t->buckets);
    free(t);
}

int64_t sess_next_id(struct sess_table *t)
{
    int64_t id;
    do {
        id = t->next_id;
        t->next_id = (int64_t)((uint64_t)t->next_id + 1); /* wraps without UB */
    } while (id == 0 || id == ZK_CONTAINER_OWNER || hmap_get64(&t->byid, id));
    return id;
}

int sess_add(struct sess_table *t, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
    if (id == 0 || timeout_ms < 0)
        return ZBADARGUMENTS;
    if (hmap_get64(&t->byid, id))
        return ZNODEEXISTS;
    struct zk_session *s = calloc(1, sizeof(*s));
    if (!s)
        return ZSYSTEMERROR;
    s->id = id;
    s->timeout_ms = timeout_ms;
    struct sess_bucket *b = bucket_get(t, round_up(t, now_ms + timeout_ms));
    if (!b)
        goto fail_bucket;
    if (hmap_put64(&t->byid, id, s) < 0)
        goto fail_put;
    enqueue(b, s);
    return ZOK;
fail_put:
    if (b->n == 0)
        bucket_drop(t, b);
fail_bucket:
    free(s);
    return ZSYSTEMERROR;
}

struct zk_session *sess_get(const struct sess_table *t, int64_t id)
{
    return hmap_get64(&t->byid, id);
}

int sess_touch(struct sess_table *t, int64_t id, int64_t now_ms)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s || s->closing)
        return ZSESSIONEXPIRED;
    assert(s->bucket); /* only sess_expired unqueues, and it marks closing */
    int64_t at = round_up(t, now_ms + s->timeout_ms);
    if (at == s->expire_at)
        return ZOK;
    /* the new bucket first: when that fails the session keeps its place */
    struct sess_bucket *b = bucket_get(t, at);
    if (!b)
        return ZSYSTEMERROR;
    dequeue(t, s);
    enqueue(b, s);
    return ZOK;
}

int sess_set_closing(struct sess_table *t, int64_t id)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s)
        return ZSESSIONEXPIRED;
    s->closing = 1;
    return ZOK;
}

int sess_remove(struct sess_table *t, int64_t id)
{
    struct zk_session *s = hmap_del64(&t->byid, id);
    if (!s)
        return ZSESSIONEXPIRED;
    dequeue(t, s);
    free(s);
    return ZOK;
}

size_t sess_expired(struct sess_table *t, int64_t now_ms, int64_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && t->nheap && t->heap[0]->at <= now_ms) {
        struct zk_session *s = t->heap[0]->head;
        assert(s);
        dequeue(t, s); /* drops the bucket with its last session */
        s->closing = 1;
        out[n++] = s->id;
    }
    return n;
}

int64_t sess_next_deadline(const struct sess_table *t)
{
    return t->nheap ? t->heap[0]->at : INT64_MAX;
}

int sess_check(struct sess_table *t, int64_t id, void *owner)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s || s->closing)
        return ZSESSIONEXPIRED;
    if (!s->owner)
        s->owner = owner;
    else if (s->owner != owner)
        return ZSESSIONMOVED;
    return ZOK;
}

int sess_set_owner(struct sess_table *t, int64_t id, void *owner)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s || s->closing)
        return ZSESSIONEXPIRED;
    s->owner = owner;
    return ZOK;
}

void sess_password(int64_t id, const uint8_t secret[16], uint8_t out[16])
{
    uint8_t msg[24], md[SHA1_LEN];
    memcpy(msg, secret, 16);
    for (int i = 0; i < 8; i++)
        msg[16 + i] = (uint8_t)((uint64_t)id >> (56 - 8 * i));
    sha1(msg, sizeof(msg), md);
    memcpy(out, md, 16);
}

void sess_foreach(const struct sess_table *t, void (*fn)(void *ctx, const struct zk_session *s), void *ctx)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->byid, &i, &s);)
        fn(ctx, s->val);
}

static int cmp_bucket(const void *a, const void *b)
{
    int64_t x = (*(struct sess_bucket *const *)a)->at, y = (*(struct sess_bucket *const *)b)->at;
    return (x > y) - (x < y);
}

int sess_foreach_by_deadline(const struct sess_table *t, void (*fn)(void *ctx, const struct zk_session *s), void *ctx)
{
    if (!t->nheap)
        return ZOK;
    struct sess_bucket **v = malloc(t->nheap * sizeof(*v));
    if (!v)
        return ZSYSTEMERROR;
    memcpy(v, t->heap, t->nheap * sizeof(*v));
    qsort(v, t->nheap, sizeof(*v), cmp_bucket);
    for (size_t i = 0; i < t->nheap; i++)
        for (const struct zk_session *s = v[i]->head; s; s = s->bnext)
            fn(ctx, s);
    free(v);
    return ZOK;
}

size_t sess_count(const struct sess_table *t)
{
    return t->byid.len;
}

size_t sess_bucket_count(const struct sess_table *t)
{
    return t->nheap;
}
