/* Session table with tick-bucketed expiry; see session.h. */
#include "zkfsd/session.h"

#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/zerr.h"
#include "zkfsd/digest.h"
#include "zkfsd/txn.h"

struct sess_table {
    struct hmap byid;    /* id -> struct zk_session* */
    struct hmap buckets; /* deadline -> struct zk_session* (head of a bucket list) */
    int64_t tick;
    int64_t next_id;
    int64_t next_expiry; /* the next bucket to look at */
};

/* ExpiryQueue.roundToNextInterval */
static int64_t round_up(const struct sess_table *t, int64_t time) { return (time / t->tick + 1) * t->tick; }

struct sess_table *sess_new(int32_t tick_ms, int64_t server_id, int64_t now_wall_ms)
{
    struct sess_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    hmap_init(&t->byid);
    hmap_init(&t->buckets);
    t->tick = tick_ms > 0 ? tick_ms : 1;
    t->next_id = (int64_t)(((uint64_t)now_wall_ms << 24) >> 8) | (int64_t)((uint64_t)server_id << 56);
    if (t->next_id == ZK_CONTAINER_OWNER)
        t->next_id++;
    t->next_expiry = INT64_MAX;
    return t;
}

void sess_free(struct sess_table *t)
{
    if (!t)
        return;
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->byid, &i, &s);)
        free(s->val);
    hmap_free(&t->byid);
    hmap_free(&t->buckets);
    free(t);
}

int64_t sess_next_id(struct sess_table *t)
{
    int64_t id;
    do {
        id = t->next_id++;
    } while (id == 0 || id == ZK_CONTAINER_OWNER || hmap_get64(&t->byid, id));
    return id;
}

static void unbucket(struct sess_table *t, struct zk_session *s)
{
    if (!s->expire_at)
        return;
    if (s->bprev)
        s->bprev->bnext = s->bnext;
    else if (s->bnext)
        hmap_put64(&t->buckets, s->expire_at, s->bnext);
    else
        hmap_del64(&t->buckets, s->expire_at);
    if (s->bnext)
        s->bnext->bprev = s->bprev;
    s->bprev = s->bnext = NULL;
    s->expire_at = 0;
}

static int bucket(struct sess_table *t, struct zk_session *s, int64_t at)
{
    struct zk_session *head = hmap_get64(&t->buckets, at);
    if (hmap_put64(&t->buckets, at, s) < 0)
        return ZSYSTEMERROR;
    s->bnext = head;
    s->bprev = NULL;
    if (head)
        head->bprev = s;
    s->expire_at = at;
    if (at < t->next_expiry)
        t->next_expiry = at;
    return ZOK;
}

int sess_add(struct sess_table *t, int64_t id, int32_t timeout_ms, int64_t now_ms)
{
    if (hmap_get64(&t->byid, id))
        return ZNODEEXISTS;
    struct zk_session *s = calloc(1, sizeof(*s));
    if (!s)
        return ZSYSTEMERROR;
    s->id = id;
    s->timeout_ms = timeout_ms;
    if (hmap_put64(&t->byid, id, s) < 0 || bucket(t, s, round_up(t, now_ms + timeout_ms)) != ZOK) {
        hmap_del64(&t->byid, id);
        free(s);
        return ZSYSTEMERROR;
    }
    return ZOK;
}

struct zk_session *sess_get(const struct sess_table *t, int64_t id) { return hmap_get64(&t->byid, id); }

int sess_touch(struct sess_table *t, int64_t id, int64_t now_ms)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s || s->closing)
        return ZSESSIONEXPIRED;
    int64_t at = round_up(t, now_ms + s->timeout_ms);
    if (at == s->expire_at)
        return ZOK;
    unbucket(t, s);
    return bucket(t, s, at);
}

int sess_set_closing(struct sess_table *t, int64_t id)
{
    struct zk_session *s = hmap_get64(&t->byid, id);
    if (!s)
        return ZSESSIONEXPIRED;
    unbucket(t, s);
    s->closing = 1;
    return ZOK;
}

int sess_remove(struct sess_table *t, int64_t id)
{
    struct zk_session *s = hmap_del64(&t->byid, id);
    if (!s)
        return ZSESSIONEXPIRED;
    unbucket(t, s);
    free(s);
    return ZOK;
}

size_t sess_expired(struct sess_table *t, int64_t now_ms, int64_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && t->next_expiry <= now_ms) {
        struct zk_session *s = hmap_get64(&t->buckets, t->next_expiry);
        if (!s) {
            /* empty bucket: step to the next tick, or jump when nothing is bucketed */
            t->next_expiry = t->buckets.len ? t->next_expiry + t->tick : INT64_MAX;
            continue;
        }
        unbucket(t, s);
        s->closing = 1;
        out[n++] = s->id;
    }
    return n;
}

int64_t sess_next_deadline(const struct sess_table *t) { return t->buckets.len ? t->next_expiry : INT64_MAX; }

void sess_password(int64_t id, const uint8_t secret[16], uint8_t out[16])
{
    uint8_t msg[24], md[20];
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

size_t sess_count(const struct sess_table *t) { return t->byid.len; }
