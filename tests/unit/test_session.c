/* The session table against a fake clock: ids (time-based, server id in the top byte, never
 * reused), deadlines rounded up to tick buckets, touches, closing sessions, expiry reported
 * exactly once in deadline order, the exact next deadline, ownership checks, passwords and
 * iteration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "zkfsd/session.h"
#include "zkfsd/txn.h"

#define TICK 100

static void test_new_rejects_bad_tick(void **state)
{
    (void)state;
    assert_null(sess_new(0, 1, 0));
    assert_null(sess_new(-5, 1, 0));
    sess_free(NULL); /* harmless */
}

static void test_ids_time_based(void **state)
{
    (void)state;
    const int64_t now = 1700000000123LL;
    struct sess_table *t = sess_new(TICK, 5, now);
    int64_t a = sess_next_id(t), b = sess_next_id(t);
    /* SessionTrackerImpl.initializeNextSessionId: server id, 40 bits of time, 16 zero bits */
    assert_int_equal((uint64_t)a, (5ULL << 56) | (((uint64_t)now & 0xffffffffffULL) << 16));
    assert_int_equal(b, a + 1);
    assert_int_equal((uint64_t)a >> 56, 5);
    /* a later start gives a disjoint range, so a restart does not hand out old ids */
    struct sess_table *u = sess_new(TICK, 5, now + 1);
    int64_t c = sess_next_id(u);
    assert_int_equal(c, a + 65536);
    /* another server, same instant: other ids */
    struct sess_table *v = sess_new(TICK, 6, now);
    assert_int_equal((uint64_t)sess_next_id(v) >> 56, 6);
    /* the top byte belongs to the server id alone, whatever the clock's high bits */
    struct sess_table *w = sess_new(TICK, 1, INT64_MAX);
    assert_int_equal((uint64_t)sess_next_id(w) >> 56, 1);
    sess_free(w);
    sess_free(v);
    sess_free(u);
    sess_free(t);
}

static void test_ids_unique_and_skip_reserved(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 1, 1700000000000LL);
    /* 1000 ids in a row are distinct and increasing */
    int64_t prev = sess_next_id(t);
    for (int i = 0; i < 1000; i++) {
        int64_t id = sess_next_id(t);
        assert_true(id > prev);
        prev = id;
    }
    /* an id already in the table (say, restored from a snapshot) is skipped */
    assert_int_equal(sess_add(t, prev + 1, 1000, 0), ZOK);
    assert_int_equal(sess_add(t, prev + 2, 1000, 0), ZOK);
    assert_int_equal(sess_next_id(t), prev + 3);
    sess_free(t);

    /* server 0x80 at time 0 would start at the container owner id: skipped */
    t = sess_new(TICK, 0x80, 0);
    int64_t id = sess_next_id(t);
    assert_true(id != ZK_CONTAINER_OWNER);
    assert_int_equal((uint64_t)id >> 56, 0x80);
    sess_free(t);

    /* server 0 at time 0 would start at 0, the "new session" id: skipped */
    t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_next_id(t), 1);
    sess_free(t);
}

static void test_add_errors(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 7, 1000, 0), ZOK);
    assert_int_equal(sess_add(t, 7, 3000, 0), ZNODEEXISTS);
    assert_int_equal(sess_get(t, 7)->timeout_ms, 1000); /* unchanged */
    assert_int_equal(sess_add(t, 0, 1000, 0), ZBADARGUMENTS);
    assert_int_equal(sess_add(t, 8, -1, 0), ZBADARGUMENTS);
    assert_int_equal(sess_count(t), 1);
    assert_null(sess_get(t, 8));
    struct zk_session *s = sess_get(t, 7);
    assert_non_null(s);
    assert_int_equal(s->id, 7);
    assert_false(s->closing);
    assert_null(s->owner);
    sess_free(t);
}

static void test_bucket_rounding(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    /* ExpiryQueue.roundToNextInterval: the next boundary strictly after now + timeout */
    assert_int_equal(sess_add(t, 1, 1000, 1050), ZOK); /* 2050 -> 2100 */
    assert_int_equal(sess_get(t, 1)->expire_at, 2100);
    assert_int_equal(sess_add(t, 2, 1000, 1000), ZOK); /* 2000 is a boundary -> 2100 */
    assert_int_equal(sess_get(t, 2)->expire_at, 2100);
    assert_int_equal(sess_add(t, 3, 1000, 1099), ZOK); /* 2099 -> 2100 */
    assert_int_equal(sess_get(t, 3)->expire_at, 2100);
    assert_int_equal(sess_add(t, 4, 1000, 1100), ZOK); /* 2100 -> 2200 */
    assert_int_equal(sess_get(t, 4)->expire_at, 2200);
    assert_int_equal(sess_add(t, 5, 0, 0), ZOK); /* no timeout: the next tick */
    assert_int_equal(sess_get(t, 5)->expire_at, 100);
    assert_int_equal(sess_bucket_count(t), 3);
    /* a touch within the same bucket changes nothing */
    assert_int_equal(sess_touch(t, 1, 1099), ZOK);
    assert_int_equal(sess_get(t, 1)->expire_at, 2100);
    assert_int_equal(sess_bucket_count(t), 3);
    /* deadlines are multiples of the tick whatever the timeout */
    for (int64_t id = 10; id < 60; id++) {
        assert_int_equal(sess_add(t, id, (int32_t)(id * 37), id * 13), ZOK);
        int64_t at = sess_get(t, id)->expire_at;
        assert_int_equal(at % TICK, 0);
        assert_true(at > id * 13 + id * 37 && at <= id * 13 + id * 37 + TICK);
    }
    sess_free(t);
}

static void test_expiry_with_fake_clock(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    int64_t out[8];
    assert_int_equal(sess_expired(t, INT64_MAX, out, 8), 0);
    assert_int_equal(sess_add(t, 1, 1000, 1050), ZOK); /* due 2100 */
    assert_int_equal(sess_next_deadline(t), 2100);
    assert_int_equal(sess_expired(t, 2099, out, 8), 0);
    assert_false(sess_get(t, 1)->closing);
    assert_int_equal(sess_expired(t, 2100, out, 8), 1);
    assert_int_equal(out[0], 1);
    /* reported once; closing now: not touchable, still in the table until removed */
    assert_true(sess_get(t, 1)->closing);
    assert_int_equal(sess_expired(t, 2100, out, 8), 0);
    assert_int_equal(sess_expired(t, 1000000, out, 8), 0);
    assert_int_equal(sess_touch(t, 1, 2100), ZSESSIONEXPIRED);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    assert_int_equal(sess_count(t), 1);
    assert_int_equal(sess_remove(t, 1), ZOK);
    assert_null(sess_get(t, 1));
    assert_int_equal(sess_remove(t, 1), ZSESSIONEXPIRED);
    assert_int_equal(sess_count(t), 0);
    sess_free(t);
}

static void test_touch_postpones(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 7, 500, 0), ZOK); /* due 600 */
    int64_t out[4];
    /* pings every 100 ms keep it alive for as long as they come */
    for (int64_t now = 100; now <= 3000; now += 100) {
        assert_int_equal(sess_expired(t, now, out, 4), 0);
        assert_int_equal(sess_touch(t, 7, now), ZOK);
        assert_int_equal(sess_get(t, 7)->expire_at, now + 600);
        assert_int_equal(sess_next_deadline(t), now + 600);
        assert_int_equal(sess_bucket_count(t), 1); /* the old bucket went away */
    }
    /* then silence: due at 3600, not a moment before */
    assert_int_equal(sess_expired(t, 3599, out, 4), 0);
    assert_int_equal(sess_expired(t, 3600, out, 4), 1);
    assert_int_equal(out[0], 7);
    assert_int_equal(sess_touch(t, 99, 0), ZSESSIONEXPIRED); /* unknown */
    sess_free(t);
}

static void test_closing_sessions(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 1, 1000, 0), ZOK); /* due 1100 */
    assert_int_equal(sess_add(t, 2, 2000, 0), ZOK); /* due 2100 */
    assert_int_equal(sess_set_closing(t, 1), ZOK);
    assert_int_equal(sess_set_closing(t, 99), ZSESSIONEXPIRED);
    assert_true(sess_get(t, 1)->closing);
    /* a closing session cannot be touched: its deadline stays */
    assert_int_equal(sess_touch(t, 1, 900), ZSESSIONEXPIRED);
    assert_int_equal(sess_get(t, 1)->expire_at, 1100);
    /* as in ZooKeeper it stays queued: a close not applied by its deadline is reported once */
    assert_int_equal(sess_next_deadline(t), 1100);
    int64_t out[4];
    assert_int_equal(sess_expired(t, 1100, out, 4), 1);
    assert_int_equal(out[0], 1);
    assert_int_equal(sess_expired(t, 5000, out, 4), 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(sess_expired(t, 9000, out, 4), 0);
    /* a close applied in time (removed) is never reported */
    assert_int_equal(sess_add(t, 3, 1000, 10000), ZOK);
    assert_int_equal(sess_set_closing(t, 3), ZOK);
    assert_int_equal(sess_remove(t, 3), ZOK);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    assert_int_equal(sess_expired(t, 20000, out, 4), 0);
    sess_free(t);
}

static void test_next_deadline_exact(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 1, 1000, 0), ZOK); /* 1100 */
    assert_int_equal(sess_add(t, 2, 3000, 0), ZOK); /* 3100 */
    assert_int_equal(sess_add(t, 3, 2000, 0), ZOK); /* 2100 */
    assert_int_equal(sess_next_deadline(t), 1100);
    /* removal of the earliest: the next one, not an empty bucket */
    assert_int_equal(sess_remove(t, 1), ZOK);
    assert_int_equal(sess_next_deadline(t), 2100);
    /* a touch moving the earliest later */
    assert_int_equal(sess_touch(t, 3, 1500), ZOK); /* 3600 */
    assert_int_equal(sess_next_deadline(t), 3100);
    assert_int_equal(sess_bucket_count(t), 2);
    int64_t out[4];
    assert_int_equal(sess_expired(t, 3100, out, 4), 1);
    assert_int_equal(out[0], 2);
    assert_int_equal(sess_next_deadline(t), 3600);
    assert_int_equal(sess_expired(t, 3600, out, 4), 1);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    assert_int_equal(sess_bucket_count(t), 0);
    sess_free(t);
}

static void test_many_sessions_batches_in_order(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    enum { N = 2000 };
    for (int64_t id = 1; id <= N; id++)
        assert_int_equal(sess_add(t, id, (int32_t)((id * 7919) % 10 + 1) * 1000 + (int32_t)(id % 97), 0), ZOK);
    assert_int_equal(sess_count(t), N);
    /* some touched along the way, some removed before their deadline */
    char *seen = calloc(N + 1, 1);
    assert_non_null(seen);
    int64_t out[64], last_due = 0;
    size_t total = 0, removed = 0, n;
    for (int64_t now = 0; now < 30000; now += 250) {
        if (now == 500)
            for (int64_t id = 1; id <= N; id += 10)
                assert_int_equal(sess_touch(t, id, now), ZOK);
        if (now == 750)
            for (int64_t id = 5; id <= N; id += 50, removed++)
                assert_int_equal(sess_remove(t, id), ZOK);
        int64_t next = sess_next_deadline(t);
        while ((n = sess_expired(t, now, out, 64)) > 0) {
            for (size_t i = 0; i < n; i++) {
                struct zk_session *s = sess_get(t, out[i]);
                assert_non_null(s);
                assert_false(seen[out[i]]); /* once */
                seen[out[i]] = 1;
                assert_true(s->closing);
                assert_true(s->expire_at <= now);      /* never early */
                assert_true(s->expire_at >= next);     /* the deadline announced was the first */
                assert_true(s->expire_at >= last_due); /* in deadline order */
                last_due = s->expire_at;
            }
            total += n;
        }
        assert_true(sess_next_deadline(t) > now);
    }
    assert_int_equal(total + removed, N);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    free(seen);
    sess_free(t);
}

static void test_expired_respects_max(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    for (int64_t id = 1; id <= 10; id++)
        assert_int_equal(sess_add(t, id, 1000, 0), ZOK); /* one bucket */
    int64_t out[3];
    size_t n, total = 0;
    while ((n = sess_expired(t, 1100, out, 3)) > 0) {
        assert_true(n <= 3);
        total += n;
    }
    assert_int_equal(total, 10);
    assert_int_equal(sess_expired(t, 1100, out, 0), 0);
    sess_free(t);
}

static void test_owner_checks(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    int c1, c2;
    assert_int_equal(sess_add(t, 1, 1000, 0), ZOK);
    assert_int_equal(sess_check(t, 1, &c1), ZOK); /* takes ownership */
    assert_ptr_equal(sess_get(t, 1)->owner, &c1);
    assert_int_equal(sess_check(t, 1, &c1), ZOK);
    assert_int_equal(sess_check(t, 1, &c2), ZSESSIONMOVED);
    assert_int_equal(sess_set_owner(t, 1, &c2), ZOK);
    assert_int_equal(sess_check(t, 1, &c2), ZOK);
    assert_int_equal(sess_set_owner(t, 1, NULL), ZOK);
    assert_int_equal(sess_check(t, 1, &c1), ZOK);
    assert_int_equal(sess_check(t, 2, &c1), ZSESSIONEXPIRED);
    assert_int_equal(sess_set_owner(t, 2, &c1), ZSESSIONEXPIRED);
    sess_set_closing(t, 1);
    assert_int_equal(sess_check(t, 1, &c1), ZSESSIONEXPIRED);
    assert_int_equal(sess_set_owner(t, 1, &c1), ZSESSIONEXPIRED);
    sess_free(t);
}

static void test_password(void **state)
{
    (void)state;
    uint8_t k1[16] = {1}, k2[16] = {2}, a[16], b[16], x[16];
    sess_password(42, k1, a);
    sess_password(42, k1, b);
    assert_memory_equal(a, b, 16); /* deterministic: any restart can check it */
    sess_password(43, k1, x);
    assert_memory_not_equal(a, x, 16);
    sess_password(42, k2, x);
    assert_memory_not_equal(a, x, 16);
    /* the documented derivation, pinned so passwords survive upgrades:
     * SHA-1(16 zero bytes || 00 00 00 00 00 00 00 01)[0..16) */
    static const uint8_t zero[16] = {0};
    static const uint8_t want[16] = {0xa4, 0xfa, 0x64, 0x7d, 0xef, 0xa2, 0x21, 0xe1,
                                     0xf7, 0x20, 0xc8, 0x56, 0xfd, 0x89, 0x39, 0x73};
    sess_password(1, zero, x);
    assert_memory_equal(x, want, 16);
}

struct walk {
    int n, closing;
    int64_t last_at;
    int ordered;
};

static void count(void *ctx, const struct zk_session *s)
{
    struct walk *c = ctx;
    c->n++;
    c->closing += s->closing;
}

static void ordered(void *ctx, const struct zk_session *s)
{
    struct walk *c = ctx;
    c->n++;
    if (s->expire_at < c->last_at)
        c->ordered = 0;
    c->last_at = s->expire_at;
}

static void test_foreach(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    for (int64_t id = 1; id <= 50; id++)
        assert_int_equal(sess_add(t, id, (int32_t)((id * 31) % 17) * 100, 0), ZOK);
    sess_set_closing(t, 2);
    struct walk c = {0};
    sess_foreach(t, count, &c);
    assert_int_equal(c.n, 50);
    assert_int_equal(c.closing, 1);
    struct walk o = {.ordered = 1};
    assert_int_equal(sess_foreach_by_deadline(t, ordered, &o), ZOK);
    assert_int_equal(o.n, 50);
    assert_true(o.ordered);
    /* reported sessions are no longer queued */
    int64_t out[64];
    size_t n = sess_expired(t, 500, out, 64);
    assert_true(n > 0);
    o = (struct walk){.ordered = 1};
    assert_int_equal(sess_foreach_by_deadline(t, ordered, &o), ZOK);
    assert_int_equal(o.n, 50 - (int)n);
    sess_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_rejects_bad_tick),
        cmocka_unit_test(test_ids_time_based),
        cmocka_unit_test(test_ids_unique_and_skip_reserved),
        cmocka_unit_test(test_add_errors),
        cmocka_unit_test(test_bucket_rounding),
        cmocka_unit_test(test_expiry_with_fake_clock),
        cmocka_unit_test(test_touch_postpones),
        cmocka_unit_test(test_closing_sessions),
        cmocka_unit_test(test_next_deadline_exact),
        cmocka_unit_test(test_many_sessions_batches_in_order),
        cmocka_unit_test(test_expired_respects_max),
        cmocka_unit_test(test_owner_checks),
        cmocka_unit_test(test_password),
        cmocka_unit_test(test_foreach),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
