/* The session table with a fake clock: ids, timeouts rounded to tick buckets, touches,
 * expiry reported once, closing sessions, passwords. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "zkfsd/session.h"

#define TICK 100

static void test_ids_unique_and_carry_server_id(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 5, 1700000000000LL);
    int64_t a = sess_next_id(t), b = sess_next_id(t);
    assert_true(a != b && a != 0 && b != 0);
    assert_int_equal((uint64_t)a >> 56, 5);
    /* a later start (the wall clock moved on) gives different ids */
    struct sess_table *u = sess_new(TICK, 5, 1700000999000LL);
    assert_true(sess_next_id(u) != a);
    /* an id in use is skipped */
    assert_int_equal(sess_add(t, a + 2, 1000, 0), ZOK);
    assert_true(sess_next_id(t) != a + 2);
    sess_free(u);
    sess_free(t);
}

static void test_expiry_rounded_to_ticks(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 1, 1000, 1050), ZOK); /* deadline 2050 -> bucket 2100 */
    assert_int_equal(sess_get(t, 1)->expire_at, 2100);
    assert_int_equal(sess_next_deadline(t), 2100);
    int64_t out[4];
    assert_int_equal(sess_expired(t, 2099, out, 4), 0);
    assert_int_equal(sess_expired(t, 2100, out, 4), 1);
    assert_int_equal(out[0], 1);
    /* reported once, then closing: not touchable, not reported again */
    assert_int_equal(sess_expired(t, 5000, out, 4), 0);
    assert_true(sess_get(t, 1)->closing);
    assert_int_equal(sess_touch(t, 1, 5000), ZSESSIONEXPIRED);
    assert_int_equal(sess_next_deadline(t), INT64_MAX);
    assert_int_equal(sess_remove(t, 1), ZOK);
    assert_null(sess_get(t, 1));
    assert_int_equal(sess_remove(t, 1), ZSESSIONEXPIRED);
    sess_free(t);
}

static void test_touch_postpones(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    assert_int_equal(sess_add(t, 7, 500, 0), ZOK);
    int64_t out[4];
    for (int64_t now = 100; now <= 3000; now += 100) {
        assert_int_equal(sess_touch(t, 7, now), ZOK);
        assert_int_equal(sess_expired(t, now, out, 4), 0);
    }
    assert_int_equal(sess_expired(t, 3000 + 600, out, 4), 1);
    assert_int_equal(sess_touch(t, 99, 0), ZSESSIONEXPIRED); /* unknown */
    assert_int_equal(sess_add(t, 7, 500, 0), ZNODEEXISTS);
    sess_free(t);
}

static void test_many_sessions_and_batches(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    for (int64_t id = 1; id <= 1000; id++)
        assert_int_equal(sess_add(t, id, (int32_t)(id % 10 + 1) * 1000, 0), ZOK);
    assert_int_equal(sess_count(t), 1000);
    /* close one explicitly: it never expires */
    assert_int_equal(sess_set_closing(t, 10), ZOK);
    int64_t out[64];
    size_t total = 0, n;
    char seen[1001] = {0};
    int64_t now = 0;
    while (now < 20000) {
        now += 250;
        while ((n = sess_expired(t, now, out, 64)) > 0) {
            for (size_t i = 0; i < n; i++) {
                assert_false(seen[out[i]]);
                seen[out[i]] = 1;
                /* never before its deadline */
                assert_true(now >= (out[i] % 10 + 1) * 1000);
            }
            total += n;
        }
    }
    assert_int_equal(total, 999);
    assert_false(seen[10]);
    sess_free(t);
}

struct counter {
    int n, closing;
};

static void count(void *ctx, const struct zk_session *s)
{
    struct counter *c = ctx;
    c->n++;
    c->closing += s->closing;
}

static void test_foreach_and_password(void **state)
{
    (void)state;
    struct sess_table *t = sess_new(TICK, 0, 0);
    sess_add(t, 1, 1000, 0);
    sess_add(t, 2, 1000, 0);
    sess_set_closing(t, 2);
    struct counter c = {0};
    sess_foreach(t, count, &c);
    assert_int_equal(c.n, 2);
    assert_int_equal(c.closing, 1);
    uint8_t k1[16] = {1}, k2[16] = {2}, a[16], b[16], x[16];
    sess_password(42, k1, a);
    sess_password(42, k1, b);
    assert_memory_equal(a, b, 16); /* deterministic: any restart can check it */
    sess_password(43, k1, x);
    assert_memory_not_equal(a, x, 16);
    sess_password(42, k2, x);
    assert_memory_not_equal(a, x, 16);
    sess_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_unique_and_carry_server_id),
        cmocka_unit_test(test_expiry_rounded_to_ticks),
        cmocka_unit_test(test_touch_postpones),
        cmocka_unit_test(test_many_sessions_and_batches),
        cmocka_unit_test(test_foreach_and_password),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
