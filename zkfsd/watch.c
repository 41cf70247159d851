/* Watch tables: per table (data, child) a map from path to the list of links on it, one
 * link per (table, path, watcher) carrying that pair's modes (ZooKeeper's watchTable and
 * WatchStats); per watcher a map from path to its link in each table (ZooKeeper's
 * watch2Paths), which makes lookups O(1) however many watchers share a path and closing a
 * connection cost only its own watches. Paths are stored once, inline in their path entry,
 * and borrowed as keys by every map that needs them. See watch.h for the semantics. */
#include "zkfsd/watch.h"

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/path.h"
#include "common/zerr.h"

enum { T_DATA, T_CHILD, T_N };

/* WatcherMode flags, as WatchStats keeps them */
#define M_STD 1u  /* STANDARD: one-shot */
#define M_PERS 2u /* PERSISTENT */
#define M_REC 4u  /* PERSISTENT_RECURSIVE (data table only) */
#define M_ALL (M_STD | M_PERS | M_REC)

struct wwatcher;

/* A path with at least one watch in one table. */
struct wpath {
    struct wlink *head, *tail; /* links of the watchers on it, oldest first */
    size_t n;                  /* links */
    size_t nrec;               /* links with M_REC: ancestors with none are skipped */
    size_t len;                /* strlen(path) */
    char path[];               /* the key of the table's map and of the watchers' maps */
};

/* One watcher's watches on one path in one table. */
struct wlink {
    struct wpath *p;
    struct wwatcher *ww;
    struct wlink *prev, *next; /* on p */
    unsigned modes;            /* M_* , never 0 while linked */
    int tab;
};

/* A watcher with at least one watch. */
struct wwatcher {
    void *w;                /* the opaque watcher; &w is its key in the watcher map */
    struct hmap links[T_N]; /* path -> struct wlink*, keys borrowed from the wpath */
    uint64_t mark;          /* the trigger that last collected it */
};

struct watch_table {
    struct hmap paths[T_N]; /* path -> struct wpath* (keys borrowed from the wpath) */
    struct hmap watchers;   /* watcher pointer bytes -> struct wwatcher* (borrowed key) */
    size_t nlinks[T_N];     /* (path, watcher) pairs per table */
    size_t nwatching[T_N];  /* watchers with a link in the table */
    size_t nrec;            /* links with M_REC: when 0 no trigger walks the ancestors */
    uint64_t epoch;         /* trigger counter, for the per-watcher dedup marks */
    void **buf;             /* watchers collected by the current trigger (reused) */
    size_t cap;
};

/* The largest collection buffer kept between triggers (bigger ones are freed after use). */
#define KEEP_BUF 1024

struct watch_table *watch_new(void)
{
    struct watch_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    for (int i = 0; i < T_N; i++)
        hmap_init(&t->paths[i]);
    hmap_init(&t->watchers);
    return t;
}

void watch_free(struct watch_table *t)
{
    if (!t)
        return;
    struct hmap_slot *s, *k;
    /* links first (found through the watchers), then watchers, then the paths they borrow */
    for (size_t i = 0; hmap_next(&t->watchers, &i, &s);) {
        struct wwatcher *ww = s->val;
        for (int tab = 0; tab < T_N; tab++) {
            for (size_t j = 0; hmap_next(&ww->links[tab], &j, &k);)
                free(k->val);
            hmap_free(&ww->links[tab]);
        }
        free(ww);
    }
    hmap_free(&t->watchers);
    for (int tab = 0; tab < T_N; tab++) {
        for (size_t i = 0; hmap_next(&t->paths[tab], &i, &s);)
            free(s->val);
        hmap_free(&t->paths[tab]);
    }
    free(t->buf);
    free(t);
}

/* ---------------- lookups and bookkeeping ---------------- */

static struct wwatcher *watcher_get(const struct watch_table *t, void *w)
{
    return hmap_get(&t->watchers, &w, sizeof(w));
}

static struct wlink *link_get(const struct watch_table *t, int tab, const char *path, void *w)
{
    struct wwatcher *ww = watcher_get(t, w);
    return ww ? hmap_get(&ww->links[tab], path, strlen(path)) : NULL;
}

/* Frees ww when it holds no watch any more. */
static void watcher_gc(struct watch_table *t, struct wwatcher *ww)
{
    if (ww->links[T_DATA].len || ww->links[T_CHILD].len)
        return;
    hmap_del(&t->watchers, &ww->w, sizeof(ww->w));
    for (int tab = 0; tab < T_N; tab++)
        hmap_free(&ww->links[tab]);
    free(ww);
}

/* Frees p when no watch is on it any more. */
static void path_gc(struct watch_table *t, int tab, struct wpath *p)
{
    if (p->n)
        return;
    hmap_del(&t->paths[tab], p->path, p->len);
    free(p);
}

/* Unlinks and frees l; its path and watcher go too when l was their last link. */
static void link_free(struct watch_table *t, struct wlink *l)
{
    struct wpath *p = l->p;
    struct wwatcher *ww = l->ww;
    int tab = l->tab;
    if (l->prev)
        l->prev->next = l->next;
    else
        p->head = l->next;
    if (l->next)
        l->next->prev = l->prev;
    else
        p->tail = l->prev;
    p->n--;
    if (l->modes & M_REC) {
        p->nrec--;
        t->nrec--;
    }
    /* the watcher's key is the path's memory: delete it before the path can go */
    hmap_del(&ww->links[tab], p->path, p->len);
    t->nlinks[tab]--;
    if (!ww->links[tab].len)
        t->nwatching[tab]--;
    free(l);
    path_gc(t, tab, p);
    watcher_gc(t, ww);
}

/* Sets l's modes; none left frees it. Never allocates. */
static void link_set_modes(struct watch_table *t, struct wlink *l, unsigned modes)
{
    assert(!(modes & M_REC) || l->tab == T_DATA);
    if ((l->modes & M_REC) && !(modes & M_REC)) {
        l->p->nrec--;
        t->nrec--;
    } else if (!(l->modes & M_REC) && (modes & M_REC)) {
        l->p->nrec++;
        t->nrec++;
    }
    l->modes = modes;
    if (!modes)
        link_free(t, l);
}

/* Adds modes to (tab, path, w), creating what is missing. Returns ZOK or ZSYSTEMERROR (then
 * nothing changed). */
static int add_modes(struct watch_table *t, int tab, const char *path, void *w, unsigned modes)
{
    size_t len = strlen(path);
    struct wwatcher *ww = watcher_get(t, w);
    struct wlink *l = ww ? hmap_get(&ww->links[tab], path, len) : NULL;
    if (l) {
        link_set_modes(t, l, l->modes | modes);
        return ZOK;
    }
    if (!ww) {
        if (!(ww = calloc(1, sizeof(*ww))))
            return ZSYSTEMERROR;
        ww->w = w;
        for (int i = 0; i < T_N; i++)
            hmap_init(&ww->links[i]);
        if (hmap_put_borrowed(&t->watchers, &ww->w, sizeof(ww->w), ww) < 0) {
            free(ww);
            return ZSYSTEMERROR;
        }
    }
    struct wpath *p = hmap_get(&t->paths[tab], path, len);
    if (!p) {
        if (len > SIZE_MAX - sizeof(*p) - 1 || !(p = calloc(1, sizeof(*p) + len + 1)))
            goto fail_path;
        p->len = len;
        memcpy(p->path, path, len + 1);
        if (hmap_put_borrowed(&t->paths[tab], p->path, len, p) < 0) {
            free(p);
            goto fail_path;
        }
    }
    if (!(l = calloc(1, sizeof(*l))))
        goto fail_link;
    if (hmap_put_borrowed(&ww->links[tab], p->path, len, l) < 0) {
        free(l);
        goto fail_link;
    }
    l->p = p;
    l->ww = ww;
    l->tab = tab;
    l->prev = p->tail;
    if (p->tail)
        p->tail->next = l;
    else
        p->head = l;
    p->tail = l;
    p->n++;
    if (ww->links[tab].len == 1)
        t->nwatching[tab]++;
    t->nlinks[tab]++;
    link_set_modes(t, l, modes);
    return ZOK;
fail_link:
    path_gc(t, tab, p);
fail_path:
    watcher_gc(t, ww);
    return ZSYSTEMERROR;
}

int watch_add(struct watch_table *t, const char *path, enum watch_kind kind, void *w)
{
    if (!path || !w)
        return ZBADARGUMENTS;
    switch (kind) {
    case WATCH_DATA:
        return add_modes(t, T_DATA, path, w, M_STD);
    case WATCH_CHILD:
        return add_modes(t, T_CHILD, path, w, M_STD);
    case WATCH_PERSISTENT: {
        struct wlink *l = link_get(t, T_CHILD, path, w);
        unsigned before = l ? l->modes : 0;
        int rc = add_modes(t, T_CHILD, path, w, M_PERS);
        if (rc != ZOK)
            return rc;
        rc = add_modes(t, T_DATA, path, w, M_PERS);
        if (rc != ZOK) /* undo the child half: lowering modes never allocates */
            link_set_modes(t, link_get(t, T_CHILD, path, w), before);
        return rc;
    }
    case WATCH_PERSISTENT_RECURSIVE:
        return add_modes(t, T_DATA, path, w, M_REC);
    }
    return ZBADARGUMENTS;
}

/* ---------------- triggering ---------------- */

/* Records ww for the current trigger unless already recorded. Returns 0 when it could not be
 * recorded (out of memory), 1 otherwise. */
static int collect(struct watch_table *t, size_t *n, struct wwatcher *ww)
{
    if (ww->mark == t->epoch)
        return 1;
    if (*n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 16;
        void **nb = realloc(t->buf, ncap * sizeof(*nb));
        if (!nb) {
            LOG_ERROR("watch table: out of memory collecting watchers; one is not told this event");
            return 0;
        }
        t->buf = nb;
        t->cap = ncap;
    }
    t->buf[(*n)++] = ww->w;
    ww->mark = t->epoch;
    return 1;
}

/* Every watcher on the exact path in tab; one-shot modes are consumed. */
static void collect_path(struct watch_table *t, int tab, const char *path, size_t *n)
{
    struct wpath *p = hmap_get(&t->paths[tab], path, strlen(path));
    if (!p)
        return;
    /* the last link's removal frees p: the loop reads nothing of p after it */
    for (struct wlink *l = p->head, *next; l; l = next) {
        next = l->next;
        if (collect(t, n, l->ww) && (l->modes & M_STD))
            link_set_modes(t, l, l->modes & ~M_STD);
    }
}

/* Persistent-recursive watchers on the strict ancestors of path, up to "/". */
static void collect_ancestors(struct watch_table *t, const char *path, size_t *n)
{
    for (size_t len = path_parent_len(path, strlen(path)); len; len = path_parent_len(path, len)) {
        struct wpath *p = hmap_get(&t->paths[T_DATA], path, len);
        if (!p || !p->nrec)
            continue;
        for (struct wlink *l = p->head; l; l = l->next)
            if (l->modes & M_REC)
                collect(t, n, l->ww);
    }
}

size_t watch_trigger(struct watch_table *t, const char *path, int event, watch_fire_fn fn, void *ctx)
{
    if (!path)
        return 0;
    size_t n = 0;
    t->epoch++;
    switch (event) {
    case ZEV_CREATED:
    case ZEV_CHANGED:
    case ZEV_DELETED:
        collect_path(t, T_DATA, path, &n);
        if (t->nrec)
            collect_ancestors(t, path, &n);
        if (event == ZEV_DELETED)
            collect_path(t, T_CHILD, path, &n);
        break;
    case ZEV_CHILD:
        collect_path(t, T_CHILD, path, &n);
        break;
    default:
        return 0;
    }
    if (!n)
        return 0;
    /* detach the buffer so fn may trigger again (a nested trigger grows a buffer of its own) */
    void **v = t->buf;
    size_t cap = t->cap;
    t->buf = NULL;
    t->cap = 0;
    for (size_t i = 0; i < n; i++)
        fn(ctx, v[i], event, path);
    if (!t->buf && cap <= KEEP_BUF) {
        t->buf = v;
        t->cap = cap;
    } else {
        free(v);
    }
    return n;
}

/* ---------------- removeWatches, checkWatches ---------------- */

/* The modes a ZWT_* type covers in each table; 0 for an unknown type. */
static int type_masks(int type, unsigned *data, unsigned *child)
{
    switch (type) {
    case ZWT_CHILDREN:
        *data = 0, *child = M_STD;
        return 1;
    case ZWT_DATA:
        *data = M_STD, *child = 0;
        return 1;
    case ZWT_PERSISTENT:
        *data = M_PERS, *child = M_PERS;
        return 1;
    case ZWT_PERSISTENT_RECURSIVE:
        *data = M_REC, *child = 0;
        return 1;
    case ZWT_ANY:
        *data = M_ALL, *child = M_ALL;
        return 1;
    }
    return 0;
}

int watch_remove(struct watch_table *t, const char *path, int type, void *w)
{
    unsigned mask[T_N];
    if (!path || !type_masks(type, &mask[T_DATA], &mask[T_CHILD]))
        return ZBADARGUMENTS;
    int removed = 0;
    for (int tab = T_CHILD; tab >= T_DATA; tab--) {
        struct wlink *l = link_get(t, tab, path, w);
        if (l && (l->modes & mask[tab])) {
            removed = 1;
            link_set_modes(t, l, l->modes & ~mask[tab]);
        }
    }
    return removed ? ZOK : ZNOWATCHER;
}

int watch_contains(const struct watch_table *t, const char *path, int type, void *w)
{
    unsigned mask[T_N];
    if (!path || !type_masks(type, &mask[T_DATA], &mask[T_CHILD]))
        return ZBADARGUMENTS;
    if (type == ZWT_PERSISTENT)
        mask[T_CHILD] = 0; /* DataTree.containsWatcher asks the data table only */
    for (int tab = 0; tab < T_N; tab++) {
        struct wlink *l = link_get(t, tab, path, w);
        if (l && (l->modes & mask[tab]))
            return ZOK;
    }
    return ZNOWATCHER;
}

void watch_remove_all(struct watch_table *t, void *w)
{
    struct wwatcher *ww = watcher_get(t, w);
    if (!ww)
        return;
    for (int tab = 0; tab < T_N; tab++) {
        /* link_free deletes from this map (backward shift moves entries): restart each time;
         * the last link frees ww itself */
        while (ww->links[tab].len) {
            struct hmap_slot *s;
            size_t i = 0;
            hmap_next(&ww->links[tab], &i, &s);
            int last = ww->links[T_DATA].len + ww->links[T_CHILD].len == 1;
            link_free(t, s->val);
            if (last)
                return;
        }
    }
}

/* ---------------- four-letter words ---------------- */

void watch_stats(const struct watch_table *t, size_t *watchers, size_t *paths, size_t *total)
{
    *watchers = t->nwatching[T_DATA];
    *paths = t->paths[T_DATA].len;
    *total = t->nlinks[T_DATA];
}

size_t watch_count(const struct watch_table *t)
{
    return t->nlinks[T_DATA] + t->nlinks[T_CHILD];
}

void watch_foreach_watcher(const struct watch_table *t, void (*fn)(void *ctx, void *w, const char *path), void *ctx)
{
    struct hmap_slot *s, *k;
    for (size_t i = 0; hmap_next(&t->watchers, &i, &s);) {
        struct wwatcher *ww = s->val;
        for (size_t j = 0; hmap_next(&ww->links[T_DATA], &j, &k);)
            fn(ctx, ww->w, ((struct wlink *)k->val)->p->path);
    }
}

void watch_foreach_path(const struct watch_table *t, void (*fn)(void *ctx, const char *path, void *w), void *ctx)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->paths[T_DATA], &i, &s);) {
        const struct wpath *p = s->val;
        for (const struct wlink *l = p->head; l; l = l->next)
            fn(ctx, p->path, l->ww->w);
    }
}
