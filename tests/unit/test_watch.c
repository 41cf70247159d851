/* The watch table: ZooKeeper's trigger matrix (event type x watch kind x where the watch sits),
 * one-shot versus persistent, recursive watches and child events, one event per watcher per
 * trigger, removeWatches/checkWatches by watcher type, closing a watcher, the 4lw counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "zkfsd/watch.h"

struct fired {
    int n;
    void *w[16];
    int ev[16];
    char path[16][64];
};

static void rec(void *ctx, void *w, int event, const char *path)
{
    struct fired *f = ctx;
    assert_true(f->n < 16);
    f->w[f->n] = w;
    f->ev[f->n] = event;
    strncpy(f->path[f->n], path, 63);
    f->path[f->n][63] = 0;
    f->n++;
}

static int A, B; /* two watchers: their addresses are the identities */

static int fires(struct watch_table *t, const char *path, int event, void *who)
{
    struct fired f = {0};
    watch_trigger(t, path, event, rec, &f);
    int k = 0;
    for (int i = 0; i < f.n; i++)
        if (f.w[i] == who) {
            assert_int_equal(f.ev[i], event);
            assert_string_equal(f.path[i], path);
            k++;
        }
    assert_true(k <= 1); /* at most one event per watcher per trigger */
    return k;
}

/* Expected outcome of one trigger for one kind of watch placed on `at`. */
struct row {
    enum watch_kind kind;
    const char *at;
    const char *path;
    int event;
    int fires;
};

static void test_trigger_matrix(void **state)
{
    (void)state;
    static const struct row rows[] = {
        /* data watches (getData/exists): created, deleted, changed on their path only */
        {WATCH_DATA, "/a", "/a", ZEV_CREATED, 1},
        {WATCH_DATA, "/a", "/a", ZEV_DELETED, 1},
        {WATCH_DATA, "/a", "/a", ZEV_CHANGED, 1},
        {WATCH_DATA, "/a", "/a", ZEV_CHILD, 0},
        {WATCH_DATA, "/a", "/a/b", ZEV_CHANGED, 0},
        {WATCH_DATA, "/a/b", "/a", ZEV_CHANGED, 0},
        /* child watches: child events of their path, and the deletion of the path */
        {WATCH_CHILD, "/a", "/a", ZEV_CHILD, 1},
        {WATCH_CHILD, "/a", "/a", ZEV_DELETED, 1},
        {WATCH_CHILD, "/a", "/a", ZEV_CHANGED, 0},
        {WATCH_CHILD, "/a", "/a", ZEV_CREATED, 0},
        {WATCH_CHILD, "/a", "/a/b", ZEV_CHILD, 0},
        /* persistent: every event on its own path, nothing below */
        {WATCH_PERSISTENT, "/a", "/a", ZEV_CREATED, 1},
        {WATCH_PERSISTENT, "/a", "/a", ZEV_DELETED, 1},
        {WATCH_PERSISTENT, "/a", "/a", ZEV_CHANGED, 1},
        {WATCH_PERSISTENT, "/a", "/a", ZEV_CHILD, 1},
        {WATCH_PERSISTENT, "/a", "/a/b", ZEV_CHANGED, 0},
        /* recursive: data events on the path and every descendant, never child events */
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a", ZEV_CHANGED, 1},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a/b", ZEV_CREATED, 1},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a/b/c", ZEV_DELETED, 1},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a/b", ZEV_CHANGED, 1},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a", ZEV_CHILD, 0},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/a/b", ZEV_CHILD, 0},
        {WATCH_PERSISTENT_RECURSIVE, "/a", "/ab", ZEV_CHANGED, 0}, /* a sibling, not a child */
        {WATCH_PERSISTENT_RECURSIVE, "/", "/x/y", ZEV_CREATED, 1},
        {WATCH_PERSISTENT_RECURSIVE, "/a/b", "/a", ZEV_CHANGED, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(*rows); i++) {
        const struct row *r = &rows[i];
        struct watch_table *t = watch_new();
        assert_int_equal(watch_add(t, r->at, r->kind, &A), 0);
        if (fires(t, r->path, r->event, &A) != r->fires)
            fail_msg("row %zu: kind %d on %s, event %d on %s: expected %d", i, r->kind, r->at, r->event, r->path,
                     r->fires);
        watch_free(t);
    }
}

static void test_one_shot_and_persistent(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/a", WATCH_DATA, &A);
    watch_add(t, "/a", WATCH_PERSISTENT, &B);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &A), 1);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &A), 0); /* one-shot: gone */
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &B), 1);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &B), 1); /* persistent: stays */
    /* a data watch on top of a persistent one: the one-shot part goes, the persistent stays */
    watch_add(t, "/a", WATCH_DATA, &B);
    assert_int_equal(watch_contains(t, "/a", ZWT_DATA, &B), ZOK);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &B), 1);
    assert_int_equal(watch_contains(t, "/a", ZWT_DATA, &B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a", ZWT_PERSISTENT, &B), ZOK);
    watch_free(t);
}

static void test_one_event_per_watcher(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    /* deletion: data, child, persistent and an ancestor's recursive watch all match A */
    watch_add(t, "/a/b", WATCH_DATA, &A);
    watch_add(t, "/a/b", WATCH_CHILD, &A);
    watch_add(t, "/a/b", WATCH_PERSISTENT, &A);
    watch_add(t, "/a", WATCH_PERSISTENT_RECURSIVE, &A);
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, &A);
    watch_add(t, "/a/b", WATCH_CHILD, &B);
    struct fired f = {0};
    assert_int_equal(watch_trigger(t, "/a/b", ZEV_DELETED, rec, &f), 2);
    assert_int_equal(f.n, 2);
    assert_true((f.w[0] == &A && f.w[1] == &B) || (f.w[0] == &B && f.w[1] == &A));
    /* both one-shot kinds of A are consumed, B's child watch too */
    assert_int_equal(watch_contains(t, "/a/b", ZWT_DATA, &A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_CHILDREN, &A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_CHILDREN, &B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_PERSISTENT, &A), ZOK);
    watch_free(t);
}

static void test_remove_and_contains_by_type(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/p", WATCH_DATA, &A);
    watch_add(t, "/p", WATCH_CHILD, &A);
    watch_add(t, "/p", WATCH_PERSISTENT, &A);
    watch_add(t, "/p", WATCH_PERSISTENT_RECURSIVE, &A);
    for (int type = ZWT_CHILDREN; type <= ZWT_PERSISTENT_RECURSIVE; type++)
        assert_int_equal(watch_contains(t, "/p", type, &A), ZOK);
    assert_int_equal(watch_contains(t, "/p", ZWT_ANY, &B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/q", ZWT_ANY, &A), ZNOWATCHER);
    assert_int_equal(watch_remove(t, "/p", ZWT_CHILDREN, &A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_CHILDREN, &A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/p", ZWT_DATA, &A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_DATA, &A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_PERSISTENT_RECURSIVE, &A), ZOK);
    assert_int_equal(fires(t, "/p/x", ZEV_CHANGED, &A), 0); /* recursive gone */
    assert_int_equal(watch_remove(t, "/p", ZWT_PERSISTENT, &A), ZOK);
    assert_int_equal(watch_contains(t, "/p", ZWT_ANY, &A), ZNOWATCHER);
    /* ANY removes every kind at once */
    watch_add(t, "/p", WATCH_DATA, &A);
    watch_add(t, "/p", WATCH_CHILD, &A);
    assert_int_equal(watch_remove(t, "/p", ZWT_ANY, &A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_ANY, &A), ZNOWATCHER);
    size_t w, p, total;
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w + p + total, 0);
    watch_free(t);
}

static void test_remove_all_and_stats(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/a", WATCH_DATA, &A);
    watch_add(t, "/b", WATCH_DATA, &A);
    watch_add(t, "/b", WATCH_CHILD, &A);
    watch_add(t, "/a", WATCH_DATA, &B);
    watch_add(t, "/c", WATCH_CHILD, &B);
    watch_add(t, "/d", WATCH_PERSISTENT_RECURSIVE, &B);
    size_t w, p, total;
    /* wchs counts the data table, as ZooKeeper: A on /a,/b; B on /a,/d */
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w, 2);
    assert_int_equal(p, 3);
    assert_int_equal(total, 4);
    assert_int_equal(watch_count(t), 6); /* both tables, for mntr */
    watch_remove_all(t, &A);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, &A), 0);
    assert_int_equal(fires(t, "/b", ZEV_CHILD, &A), 0);
    assert_int_equal(watch_count(t), 2); /* B's one-shot on /a fired above: /c and /d remain */
    watch_remove_all(t, &B);
    assert_int_equal(watch_count(t), 0);
    assert_int_equal(fires(t, "/d/x", ZEV_CREATED, &B), 0);
    watch_remove_all(t, &B); /* nothing left: harmless */
    watch_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trigger_matrix),
        cmocka_unit_test(test_one_shot_and_persistent),
        cmocka_unit_test(test_one_event_per_watcher),
        cmocka_unit_test(test_remove_and_contains_by_type),
        cmocka_unit_test(test_remove_all_and_stats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
