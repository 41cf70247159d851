/* The watch table: ZooKeeper's trigger matrix (each event type x each watch kind x where the
 * watch sits relative to the event's path), one-shot versus persistent watches, recursive
 * watches and child events, one event per watcher per trigger, the per-change recipe of
 * watch.h as DataTree applies it, removeWatches/checkWatches for every watcher type,
 * closing a watcher, re-entrant callbacks and the four-letter-word counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "zkfsd/watch.h"

/* Watchers are opaque pointers: addresses in this array are their identities. */
static char W[6000];
#define A ((void *)&W[0])
#define B ((void *)&W[1])
#define C ((void *)&W[2])
#define D ((void *)&W[3])

#define MAXF 64

struct fired {
    int n;
    void *w[MAXF];
    int ev[MAXF];
    char path[MAXF][64];
};

static void rec(void *ctx, void *w, int event, const char *path)
{
    struct fired *f = ctx;
    assert_true(f->n < MAXF);
    f->w[f->n] = w;
    f->ev[f->n] = event;
    snprintf(f->path[f->n], sizeof(f->path[0]), "%s", path);
    f->n++;
}

/* How many events one trigger gives `who` (asserting at most one, of the right type/path). */
static int fires(struct watch_table *t, const char *path, int event, void *who)
{
    struct fired f = {0};
    size_t told = watch_trigger(t, path, event, rec, &f);
    assert_int_equal(told, (size_t)f.n);
    int k = 0;
    for (int i = 0; i < f.n; i++) {
        assert_int_equal(f.ev[i], event);
        assert_string_equal(f.path[i], path);
        for (int j = 0; j < i; j++)
            assert_ptr_not_equal(f.w[i], f.w[j]); /* at most one event per watcher */
        if (f.w[i] == who)
            k++;
    }
    return k;
}

/* Whether f holds exactly the event (w, ev, path). */
static int has(const struct fired *f, void *w, int ev, const char *path)
{
    int k = 0;
    for (int i = 0; i < f->n; i++)
        if (f->w[i] == w && f->ev[i] == ev && !strcmp(f->path[i], path))
            k++;
    return k;
}

/* ---------------- the matrix ---------------- */

static const int EVENTS[4] = {ZEV_CREATED, ZEV_DELETED, ZEV_CHANGED, ZEV_CHILD};
static const int WT_OF_KIND[4] = {ZWT_DATA, ZWT_CHILDREN, ZWT_PERSISTENT, ZWT_PERSISTENT_RECURSIVE};

struct place {
    const char *name;
    const char *watch; /* where the watch is set */
    const char *event; /* the path the event is triggered on */
};

static const struct place PLACES[] = {
    {"node", "/a/b/c", "/a/b/c"},
    {"parent", "/a/b", "/a/b/c"},
    {"ancestor", "/a", "/a/b/c"},
    {"root above", "/", "/a/b/c"},
    {"root itself", "/", "/"},
    {"child (below the event)", "/a/b/c/d", "/a/b/c"},
    {"name prefix, not ancestor", "/a/b/c", "/a/b/cd"},
    {"sibling", "/a/b/x", "/a/b/c"},
};
#define NPLACES (sizeof(PLACES) / sizeof(*PLACES))

/* Expected events per kind x place, one character per event type in the order
 * NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged. */
static const char *const EXPECT[4][NPLACES] = {
    /* WATCH_DATA (getData/exists): the data table, its own path only */
    {"1110", "0000", "0000", "0000", "1110", "0000", "0000", "0000"},
    /* WATCH_CHILD (getChildren): child events of its path, and the path's deletion */
    {"0101", "0000", "0000", "0000", "0101", "0000", "0000", "0000"},
    /* WATCH_PERSISTENT: both tables, its own path only */
    {"1111", "0000", "0000", "0000", "1111", "0000", "0000", "0000"},
    /* WATCH_PERSISTENT_RECURSIVE: the data table, its path and every descendant; never
     * NodeChildrenChanged */
    {"1110", "1110", "1110", "1110", "1110", "0000", "0000", "0000"},
};

static void test_trigger_matrix(void **state)
{
    (void)state;
    for (int kind = 0; kind < 4; kind++)
        for (size_t p = 0; p < NPLACES; p++)
            for (int e = 0; e < 4; e++) {
                const struct place *pl = &PLACES[p];
                int want = EXPECT[kind][p][e] == '1';
                int one_shot = kind == WATCH_DATA || kind == WATCH_CHILD;
                struct watch_table *t = watch_new();
                assert_non_null(t);
                assert_int_equal(watch_add(t, pl->watch, (enum watch_kind)kind, A), ZOK);
                /* an unrelated watcher elsewhere changes nothing */
                assert_int_equal(watch_add(t, "/zz", WATCH_PERSISTENT_RECURSIVE, B), ZOK);
                int got = fires(t, pl->event, EVENTS[e], A);
                if (got != want)
                    fail_msg("kind %d on %s, event %d on %s (%s): expected %d, got %d", kind, pl->watch, EVENTS[e],
                             pl->event, pl->name, want, got);
                /* a one-shot watch is consumed by firing; anything else stays */
                int kept = !(want && one_shot);
                assert_int_equal(watch_contains(t, pl->watch, WT_OF_KIND[kind], A), kept ? ZOK : ZNOWATCHER);
                assert_int_equal(watch_contains(t, pl->watch, ZWT_ANY, A), kept ? ZOK : ZNOWATCHER);
                /* a second identical event: persistent watches fire again, one-shot ones not */
                assert_int_equal(fires(t, pl->event, EVENTS[e], A), want && !one_shot);
                watch_free(t);
            }
}

/* ---------------- the per-change recipe of watch.h ---------------- */

static void parent_of(const char *p, char *out)
{
    strcpy(out, p);
    char *s = strrchr(out, '/');
    if (s == out)
        s[1] = 0;
    else
        *s = 0;
}

static void tree_create(struct watch_table *t, const char *p, struct fired *f)
{
    char parent[64];
    parent_of(p, parent);
    watch_trigger(t, p, ZEV_CREATED, rec, f);
    watch_trigger(t, parent, ZEV_CHILD, rec, f);
}

static void tree_delete(struct watch_table *t, const char *p, struct fired *f)
{
    char parent[64];
    parent_of(p, parent);
    watch_trigger(t, p, ZEV_DELETED, rec, f);
    watch_trigger(t, parent, ZEV_CHILD, rec, f);
}

static void tree_set(struct watch_table *t, const char *p, struct fired *f)
{
    watch_trigger(t, p, ZEV_CHANGED, rec, f);
}

static void test_tree_changes(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    /* A: exists("/x") on a missing node; B: getChildren("/"); C: recursive on "/";
     * D: persistent on "/" */
    watch_add(t, "/x", WATCH_DATA, A);
    watch_add(t, "/", WATCH_CHILD, B);
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, C);
    watch_add(t, "/", WATCH_PERSISTENT, D);
    struct fired f = {0};
    tree_create(t, "/x", &f);
    assert_int_equal(f.n, 4);
    assert_int_equal(has(&f, A, ZEV_CREATED, "/x"), 1);
    assert_int_equal(has(&f, B, ZEV_CHILD, "/"), 1);
    assert_int_equal(has(&f, C, ZEV_CREATED, "/x"), 1); /* the recursive one: the node event */
    assert_int_equal(has(&f, D, ZEV_CHILD, "/"), 1);    /* the persistent one: the child event */
    /* the node event comes before the parent's child event */
    assert_ptr_equal(f.w[0], A);

    /* A: getData("/x") and getChildren("/x"); B: getChildren("/") again */
    watch_add(t, "/x", WATCH_DATA, A);
    watch_add(t, "/x", WATCH_CHILD, A);
    watch_add(t, "/", WATCH_CHILD, B);
    memset(&f, 0, sizeof(f));
    tree_set(t, "/x", &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(has(&f, A, ZEV_CHANGED, "/x"), 1);
    assert_int_equal(has(&f, C, ZEV_CHANGED, "/x"), 1);
    /* A's child watch survived setData; its data watch is gone: re-arm it */
    assert_int_equal(watch_contains(t, "/x", ZWT_CHILDREN, A), ZOK);
    assert_int_equal(watch_contains(t, "/x", ZWT_DATA, A), ZNOWATCHER);
    watch_add(t, "/x", WATCH_DATA, A);
    memset(&f, 0, sizeof(f));
    tree_delete(t, "/x", &f);
    /* A once (data and child watch both consumed), C for the node, B and D for "/" */
    assert_int_equal(f.n, 4);
    assert_int_equal(has(&f, A, ZEV_DELETED, "/x"), 1);
    assert_int_equal(has(&f, C, ZEV_DELETED, "/x"), 1);
    assert_int_equal(has(&f, B, ZEV_CHILD, "/"), 1);
    assert_int_equal(has(&f, D, ZEV_CHILD, "/"), 1);
    assert_int_equal(watch_contains(t, "/x", ZWT_ANY, A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/", ZWT_CHILDREN, B), ZNOWATCHER);

    /* deep create: only the recursive watch on "/" hears about /x/y; child watch on /x */
    watch_add(t, "/x", WATCH_CHILD, A);
    memset(&f, 0, sizeof(f));
    tree_create(t, "/x/y", &f);
    assert_int_equal(f.n, 2);
    assert_int_equal(has(&f, C, ZEV_CREATED, "/x/y"), 1);
    assert_int_equal(has(&f, A, ZEV_CHILD, "/x"), 1);
    watch_free(t);
}

/* ---------------- one-shot, persistent, dedup ---------------- */

static void test_one_shot_and_persistent(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/a", WATCH_DATA, A);
    watch_add(t, "/a", WATCH_PERSISTENT, B);
    struct fired f = {0};
    assert_int_equal(watch_trigger(t, "/a", ZEV_CHANGED, rec, &f), 2);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, A), 0); /* one-shot: gone */
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, B), 1);
    assert_int_equal(fires(t, "/a", ZEV_CHILD, B), 1); /* persistent: stays, child events too */
    assert_int_equal(fires(t, "/a", ZEV_DELETED, B), 1);
    /* a one-shot watch on top of a persistent one: one event, the one-shot part goes */
    watch_add(t, "/a", WATCH_DATA, B);
    watch_add(t, "/a", WATCH_CHILD, B);
    assert_int_equal(watch_contains(t, "/a", ZWT_DATA, B), ZOK);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, B), 1);
    assert_int_equal(watch_contains(t, "/a", ZWT_DATA, B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a", ZWT_CHILDREN, B), ZOK); /* not a child event */
    assert_int_equal(fires(t, "/a", ZEV_CHILD, B), 1);
    assert_int_equal(watch_contains(t, "/a", ZWT_CHILDREN, B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a", ZWT_PERSISTENT, B), ZOK);
    /* persistent and recursive on the same path: still one event */
    watch_add(t, "/a", WATCH_PERSISTENT_RECURSIVE, B);
    assert_int_equal(fires(t, "/a", ZEV_CREATED, B), 1);
    assert_int_equal(fires(t, "/a/q", ZEV_CREATED, B), 1);
    assert_int_equal(fires(t, "/a", ZEV_CHILD, B), 1); /* from the persistent watch */
    watch_free(t);
}

static void test_one_event_per_watcher(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    /* deletion of /a/b: data, child, persistent and two ancestors' recursive watches all
     * match A */
    watch_add(t, "/a/b", WATCH_DATA, A);
    watch_add(t, "/a/b", WATCH_CHILD, A);
    watch_add(t, "/a/b", WATCH_PERSISTENT, A);
    watch_add(t, "/a", WATCH_PERSISTENT_RECURSIVE, A);
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, A);
    watch_add(t, "/a/b", WATCH_CHILD, B);
    watch_add(t, "/a", WATCH_PERSISTENT_RECURSIVE, C);
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, C);
    struct fired f = {0};
    assert_int_equal(watch_trigger(t, "/a/b", ZEV_DELETED, rec, &f), 3);
    assert_int_equal(f.n, 3);
    assert_int_equal(has(&f, A, ZEV_DELETED, "/a/b"), 1);
    assert_int_equal(has(&f, B, ZEV_DELETED, "/a/b"), 1);
    assert_int_equal(has(&f, C, ZEV_DELETED, "/a/b"), 1);
    /* every one-shot watch that matched is consumed, even the child watch of A whose event
     * was suppressed because A had already been told (ZooKeeper's `suppress`) */
    assert_int_equal(watch_contains(t, "/a/b", ZWT_DATA, A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_CHILDREN, A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_CHILDREN, B), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/a/b", ZWT_PERSISTENT, A), ZOK);
    assert_int_equal(watch_contains(t, "/a", ZWT_PERSISTENT_RECURSIVE, A), ZOK);
    /* adding a watch twice is one watch */
    watch_add(t, "/q", WATCH_DATA, D);
    watch_add(t, "/q", WATCH_DATA, D);
    size_t before = watch_count(t);
    watch_add(t, "/q", WATCH_DATA, D);
    assert_int_equal(watch_count(t), before);
    assert_int_equal(fires(t, "/q", ZEV_CHANGED, D), 1);
    assert_int_equal(fires(t, "/q", ZEV_CHANGED, D), 0);
    watch_free(t);
}

static void test_unknown_events_and_args(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    assert_int_equal(watch_add(t, "/a", WATCH_DATA, A), ZOK);
    assert_int_equal(watch_add(t, "/a", (enum watch_kind)9, A), ZBADARGUMENTS);
    assert_int_equal(watch_add(t, NULL, WATCH_DATA, A), ZBADARGUMENTS);
    assert_int_equal(watch_add(t, "/a", WATCH_DATA, NULL), ZBADARGUMENTS);
    struct fired f = {0};
    assert_int_equal(watch_trigger(t, "/a", ZEV_NONE, rec, &f), 0);
    assert_int_equal(watch_trigger(t, "/a", ZEV_DATA_WATCH_REMOVED, rec, &f), 0);
    assert_int_equal(watch_trigger(t, NULL, ZEV_CHANGED, rec, &f), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(watch_contains(t, "/a", ZWT_DATA, A), ZOK); /* untouched */
    assert_int_equal(watch_remove(t, "/a", 0, A), ZBADARGUMENTS);
    assert_int_equal(watch_remove(t, "/a", 6, A), ZBADARGUMENTS);
    assert_int_equal(watch_contains(t, "/a", 0, A), ZBADARGUMENTS);
    assert_int_equal(watch_contains(t, NULL, ZWT_ANY, A), ZBADARGUMENTS);
    /* a relative (invalid) path has no ancestors: no walk, no crash */
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, B);
    assert_int_equal(fires(t, "rel/x", ZEV_CHANGED, B), 0);
    assert_int_equal(fires(t, "", ZEV_CHANGED, B), 0);
    watch_free(t);
}

/* ---------------- removeWatches / checkWatches ---------------- */

static const int TYPES[5] = {ZWT_CHILDREN, ZWT_DATA, ZWT_ANY, ZWT_PERSISTENT, ZWT_PERSISTENT_RECURSIVE};

/* Whether a watcher type covers a watch kind (DataTree.removeWatch/containsWatcher). */
static const int COVERS[5][4] = {
    /* WATCH_DATA, WATCH_CHILD, WATCH_PERSISTENT, WATCH_PERSISTENT_RECURSIVE */
    {0, 1, 0, 0}, /* ZWT_CHILDREN */
    {1, 0, 0, 0}, /* ZWT_DATA */
    {1, 1, 1, 1}, /* ZWT_ANY */
    {0, 0, 1, 0}, /* ZWT_PERSISTENT */
    {0, 0, 0, 1}, /* ZWT_PERSISTENT_RECURSIVE */
};

static void test_remove_contains_matrix(void **state)
{
    (void)state;
    for (int ti = 0; ti < 5; ti++)
        for (int kind = 0; kind < 4; kind++) {
            int type = TYPES[ti], want = COVERS[ti][kind];
            struct watch_table *t = watch_new();
            watch_add(t, "/p", (enum watch_kind)kind, A);
            watch_add(t, "/p", (enum watch_kind)kind, B);   /* another watcher's stays */
            watch_add(t, "/p/q", (enum watch_kind)kind, A); /* and another path's */
            if (watch_contains(t, "/p", type, A) != (want ? ZOK : ZNOWATCHER))
                fail_msg("contains type %d, kind %d: expected %d", type, kind, want);
            assert_int_equal(watch_contains(t, "/p", type, C), ZNOWATCHER);
            assert_int_equal(watch_contains(t, "/nowhere", type, A), ZNOWATCHER);
            if (watch_remove(t, "/p", type, A) != (want ? ZOK : ZNOWATCHER))
                fail_msg("remove type %d, kind %d: expected %d", type, kind, want);
            /* removed means gone in every table; not covered means untouched */
            assert_int_equal(watch_contains(t, "/p", ZWT_ANY, A), want ? ZNOWATCHER : ZOK);
            assert_int_equal(watch_remove(t, "/p", type, A), ZNOWATCHER);
            assert_int_equal(watch_remove(t, "/p", type, C), ZNOWATCHER);
            assert_int_equal(watch_contains(t, "/p", ZWT_ANY, B), ZOK);
            assert_int_equal(watch_contains(t, "/p/q", ZWT_ANY, A), ZOK);
            /* a removed watch no longer fires, whatever the event */
            if (want)
                for (int e = 0; e < 4; e++)
                    assert_int_equal(fires(t, "/p", EVENTS[e], A), 0);
            watch_free(t);
        }
}

static void test_remove_keeps_other_kinds(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/p", WATCH_DATA, A);
    watch_add(t, "/p", WATCH_CHILD, A);
    watch_add(t, "/p", WATCH_PERSISTENT, A);
    watch_add(t, "/p", WATCH_PERSISTENT_RECURSIVE, A);
    for (int ti = 0; ti < 5; ti++)
        if (TYPES[ti] != ZWT_ANY)
            assert_int_equal(watch_contains(t, "/p", TYPES[ti], A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_CHILDREN, A), ZOK);
    assert_int_equal(watch_contains(t, "/p", ZWT_CHILDREN, A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/p", ZWT_DATA, A), ZOK);
    /* persistent still gives child events though the one-shot child watch is gone */
    assert_int_equal(fires(t, "/p", ZEV_CHILD, A), 1);
    assert_int_equal(watch_remove(t, "/p", ZWT_DATA, A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_PERSISTENT, A), ZOK);
    /* only the recursive watch is left: no child events any more, data events still */
    assert_int_equal(watch_contains(t, "/p", ZWT_PERSISTENT, A), ZNOWATCHER);
    assert_int_equal(fires(t, "/p", ZEV_CHILD, A), 0);
    assert_int_equal(fires(t, "/p/x", ZEV_CHANGED, A), 1);
    assert_int_equal(watch_remove(t, "/p", ZWT_PERSISTENT_RECURSIVE, A), ZOK);
    assert_int_equal(fires(t, "/p/x", ZEV_CHANGED, A), 0);
    assert_int_equal(watch_contains(t, "/p", ZWT_ANY, A), ZNOWATCHER);
    assert_int_equal(watch_count(t), 0);
    /* ANY removes every kind at once */
    watch_add(t, "/p", WATCH_DATA, A);
    watch_add(t, "/p", WATCH_CHILD, A);
    watch_add(t, "/p", WATCH_PERSISTENT_RECURSIVE, A);
    assert_int_equal(watch_remove(t, "/p", ZWT_ANY, A), ZOK);
    assert_int_equal(watch_remove(t, "/p", ZWT_ANY, A), ZNOWATCHER);
    assert_int_equal(watch_count(t), 0);
    size_t w, p, total;
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w + p + total, 0);
    assert_int_equal(fires(t, "/p/x", ZEV_CHANGED, A), 0);
    watch_free(t);
}

/* ---------------- closing a watcher, stats, iteration ---------------- */

struct pairs {
    int n;
    void *w[32];
    const char *path[32];
};

static void by_watcher(void *ctx, void *w, const char *path)
{
    struct pairs *x = ctx;
    assert_true(x->n < 32);
    x->w[x->n] = w;
    x->path[x->n++] = path;
}

static void by_path(void *ctx, const char *path, void *w)
{
    by_watcher(ctx, w, path);
}

/* Each key of the walk appears in one run: once it changes, it never comes back. */
static void assert_grouped(const void *const *keys, int n)
{
    for (int i = 1; i < n; i++)
        if (keys[i] != keys[i - 1])
            for (int j = 0; j < i - 1; j++)
                assert_ptr_not_equal(keys[j], keys[i]);
}

static void test_remove_all_stats_iteration(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/a", WATCH_DATA, A);
    watch_add(t, "/b", WATCH_DATA, A);
    watch_add(t, "/b", WATCH_CHILD, A);
    watch_add(t, "/a", WATCH_DATA, B);
    watch_add(t, "/c", WATCH_CHILD, B);
    watch_add(t, "/d", WATCH_PERSISTENT_RECURSIVE, B);
    watch_add(t, "/e", WATCH_PERSISTENT, C);
    watch_add(t, "/f", WATCH_CHILD, D); /* D is only in the child table */
    /* wchs describes the data table, as ZooKeeper: A on /a,/b; B on /a,/d; C on /e */
    size_t w, p, total;
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w, 3);
    assert_int_equal(p, 4);
    assert_int_equal(total, 5);
    assert_int_equal(watch_count(t), 9); /* both tables, for mntr */

    struct pairs x = {0};
    watch_foreach_watcher(t, by_watcher, &x);
    assert_int_equal(x.n, 5);
    assert_grouped((const void *const *)x.w, x.n);
    for (int i = 0; i < x.n; i++)
        assert_true(x.w[i] != D);
    x = (struct pairs){0};
    watch_foreach_path(t, by_path, &x);
    assert_int_equal(x.n, 5);
    assert_grouped((const void *const *)x.path, x.n);
    int on_a = 0;
    for (int i = 0; i < x.n; i++)
        if (!strcmp(x.path[i], "/a"))
            on_a++;
    assert_int_equal(on_a, 2);

    watch_remove_all(t, A);
    assert_int_equal(watch_contains(t, "/a", ZWT_ANY, A), ZNOWATCHER);
    assert_int_equal(watch_contains(t, "/b", ZWT_ANY, A), ZNOWATCHER);
    assert_int_equal(fires(t, "/b", ZEV_CHILD, A), 0);
    assert_int_equal(watch_count(t), 6);
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w, 2);
    assert_int_equal(p, 3); /* /a (B), /d, /e */
    assert_int_equal(total, 3);
    assert_int_equal(fires(t, "/a", ZEV_CHANGED, B), 1); /* B's own stay */
    watch_remove_all(t, B);
    watch_remove_all(t, C);
    assert_int_equal(watch_count(t), 1);
    assert_int_equal(fires(t, "/d/x", ZEV_CREATED, B), 0);
    watch_remove_all(t, D);
    assert_int_equal(watch_count(t), 0);
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w + p + total, 0);
    watch_remove_all(t, D); /* nothing left: harmless */
    watch_remove_all(t, &W[100]);
    /* a watcher can come back after being removed */
    assert_int_equal(watch_add(t, "/a", WATCH_DATA, A), ZOK);
    assert_int_equal(fires(t, "/a", ZEV_DELETED, A), 1);
    watch_free(t);
}

struct tally {
    int *seen; /* events per watcher, by index in W */
    size_t n;
};

static void tally(void *ctx, void *w, int event, const char *path)
{
    struct tally *c = ctx;
    (void)event, (void)path;
    c->seen[(char *)w - W]++;
    c->n++;
}

static void test_many_watchers(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    enum { N = 5000 };
    for (int i = 0; i < N; i++) {
        assert_int_equal(watch_add(t, "/hot", WATCH_DATA, &W[i]), ZOK);
        assert_int_equal(watch_add(t, "/hot", WATCH_CHILD, &W[i]), ZOK);
        char path[32];
        snprintf(path, sizeof(path), "/own/%d", i);
        assert_int_equal(watch_add(t, path, i % 2 ? WATCH_PERSISTENT : WATCH_PERSISTENT_RECURSIVE, &W[i]), ZOK);
    }
    assert_int_equal(watch_count(t), 2 * N + N + N / 2);
    /* everybody once, though each has a data and a child watch on the deleted node */
    int *seen = calloc(N, sizeof(int));
    assert_non_null(seen);
    struct tally c = {seen, 0};
    assert_int_equal(watch_trigger(t, "/hot", ZEV_DELETED, tally, &c), N);
    assert_int_equal(c.n, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_int_equal(watch_count(t), N + N / 2);
    /* closing every other watcher */
    for (int i = 0; i < N; i += 2)
        watch_remove_all(t, &W[i]);
    assert_int_equal(watch_count(t), N / 2 * 2); /* the odd ones' persistent watches, 2 tables */
    size_t w, p, total;
    watch_stats(t, &w, &p, &total);
    assert_int_equal(w, N / 2);
    assert_int_equal(p, N / 2);
    free(seen);
    watch_free(t); /* frees what is left */
}

/* ---------------- re-entrant callbacks ---------------- */

struct reenter {
    struct watch_table *t;
    int n, nested;
};

static void reentrant(void *ctx, void *w, int event, const char *path)
{
    struct reenter *r = ctx;
    r->n++;
    /* the server may close a connection, re-arm a watch or apply another change from here */
    watch_remove_all(r->t, w);
    watch_add(r->t, path, WATCH_DATA, w);
    if (!r->nested++) {
        struct fired f = {0};
        /* D's data watch, and C's recursive watch on "/" (C's own callback has not run yet) */
        assert_int_equal(watch_trigger(r->t, "/other", ZEV_CHANGED, rec, &f), 2);
        assert_int_equal(has(&f, D, ZEV_CHANGED, "/other"), 1);
        assert_int_equal(has(&f, C, ZEV_CHANGED, "/other"), 1);
    }
    (void)event;
}

static void test_reentrant_callback(void **state)
{
    (void)state;
    struct watch_table *t = watch_new();
    watch_add(t, "/r", WATCH_DATA, A);
    watch_add(t, "/r", WATCH_PERSISTENT, B);
    watch_add(t, "/", WATCH_PERSISTENT_RECURSIVE, C);
    watch_add(t, "/other", WATCH_DATA, D);
    struct reenter r = {t, 0, 0};
    assert_int_equal(watch_trigger(t, "/r", ZEV_CHANGED, reentrant, &r), 3);
    assert_int_equal(r.n, 3); /* all told, though each callback rewrote the table */
    /* each now holds just the data watch the callback re-armed */
    assert_int_equal(watch_count(t), 3);
    for (void *w = A; w != D; w = (char *)w + 1)
        assert_int_equal(watch_contains(t, "/r", ZWT_DATA, w), ZOK);
    assert_int_equal(watch_contains(t, "/", ZWT_ANY, C), ZNOWATCHER);
    watch_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trigger_matrix),
        cmocka_unit_test(test_tree_changes),
        cmocka_unit_test(test_one_shot_and_persistent),
        cmocka_unit_test(test_one_event_per_watcher),
        cmocka_unit_test(test_unknown_events_and_args),
        cmocka_unit_test(test_remove_contains_matrix),
        cmocka_unit_test(test_remove_keeps_other_kinds),
        cmocka_unit_test(test_remove_all_stats_iteration),
        cmocka_unit_test(test_many_watchers),
        cmocka_unit_test(test_reentrant_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
