/* Watch tables: two path-indexed tables (data, child) whose entries carry a set of modes per
 * watcher, as ZooKeeper's WatchStats, plus a per-watcher index so closing a connection costs
 * only its own watches. See watch.h for the semantics. */
#include "zkfsd/watch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/zerr.h"

enum { T_DATA, T_CHILD, T_N };
#define M_STD 1u
#define M_PERS 2u
#define M_REC 4u

struct watch_table {
    struct hmap paths[T_N]; /* path -> struct hmap* (watcher pointer bytes -> modes as pointer) */
    struct hmap index;      /* watcher pointer bytes -> struct hmap* of "<table digit><path>" */
    size_t nrec;            /* persistent-recursive watches: when 0, no ancestor walk */
};

struct watch_table *watch_new(void)
{
    struct watch_table *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    for (int i = 0; i < T_N; i++)
        hmap_init(&t->paths[i]);
    hmap_init(&t->index);
    return t;
}

static void free_nested(struct hmap *m)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(m, &i, &s);) {
        hmap_free(s->val);
        free(s->val);
    }
    hmap_free(m);
}

void watch_free(struct watch_table *t)
{
    if (!t)
        return;
    for (int i = 0; i < T_N; i++)
        free_nested(&t->paths[i]);
    free_nested(&t->index);
    free(t);
}

static unsigned get_modes(const struct watch_table *t, int tab, const char *path, void *w)
{
    struct hmap *ws = hmap_gets(&t->paths[tab], path);
    return ws ? (unsigned)(uintptr_t)hmap_get(ws, &w, sizeof(w)) : 0;
}

/* Index key: the table digit, then the path. */
static char *index_key(int tab, const char *path, size_t *len)
{
    size_t pl = strlen(path);
    char *k = malloc(pl + 2);
    if (!k)
        return NULL;
    k[0] = (char)('0' + tab);
    memcpy(k + 1, path, pl + 1);
    *len = pl + 1;
    return k;
}

/* Sets the modes of (tab, path, w); 0 removes the entry. Returns 0 or -1 (out of memory). */
static int set_modes(struct watch_table *t, int tab, const char *path, void *w, unsigned modes)
{
    unsigned old = get_modes(t, tab, path, w);
    if (old == modes)
        return 0;
    size_t klen;
    char *key = index_key(tab, path, &klen);
    if (!key)
        return -1;
    struct hmap *ws = hmap_gets(&t->paths[tab], path);
    struct hmap *idx = hmap_get(&t->index, &w, sizeof(w));
    int rc = 0;
    if (modes) {
        if (!ws) {
            ws = calloc(1, sizeof(*ws));
            if (!ws || hmap_puts(&t->paths[tab], path, ws) < 0) {
                free(ws);
                rc = -1;
                goto out;
            }
        }
        if (!idx) {
            idx = calloc(1, sizeof(*idx));
            if (!idx || hmap_put(&t->index, &w, sizeof(w), idx, NULL) < 0) {
                free(idx);
                rc = -1;
                goto out;
            }
        }
        if (hmap_put(ws, &w, sizeof(w), (void *)(uintptr_t)modes, NULL) < 0 ||
            hmap_put(idx, key, klen, NULL, NULL) < 0) {
            rc = -1;
            goto out;
        }
    } else {
        hmap_del(ws, &w, sizeof(w));
        if (!ws->len) {
            hmap_dels(&t->paths[tab], path);
            hmap_free(ws);
            free(ws);
        }
        if (idx) {
            hmap_del(idx, key, klen);
            if (!idx->len) {
                hmap_del(&t->index, &w, sizeof(w));
                hmap_free(idx);
                free(idx);
            }
        }
    }
    if ((old & M_REC) && !(modes & M_REC))
        t->nrec--;
    if (!(old & M_REC) && (modes & M_REC))
        t->nrec++;
out:
    free(key);
    return rc;
}

int watch_add(struct watch_table *t, const char *path, enum watch_kind kind, void *w)
{
    switch (kind) {
    case WATCH_DATA:
        return set_modes(t, T_DATA, path, w, get_modes(t, T_DATA, path, w) | M_STD);
    case WATCH_CHILD:
        return set_modes(t, T_CHILD, path, w, get_modes(t, T_CHILD, path, w) | M_STD);
    case WATCH_PERSISTENT:
        if (set_modes(t, T_DATA, path, w, get_modes(t, T_DATA, path, w) | M_PERS) < 0)
            return -1;
        return set_modes(t, T_CHILD, path, w, get_modes(t, T_CHILD, path, w) | M_PERS);
    case WATCH_PERSISTENT_RECURSIVE:
        /* only in the data table: recursive watches never see child events */
        return set_modes(t, T_DATA, path, w, get_modes(t, T_DATA, path, w) | M_REC);
    }
    return -1;
}

/* The watchers one trigger collects, in order, without duplicates. */
struct fired {
    void **v;
    size_t n, cap;
};

static int fired_has(const struct fired *f, void *w)
{
    for (size_t i = 0; i < f->n; i++)
        if (f->v[i] == w)
            return 1;
    return 0;
}

static void fired_add(struct fired *f, void *w)
{
    if (fired_has(f, w))
        return;
    if (f->n == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : 8;
        void **nv = realloc(f->v, ncap * sizeof(*nv));
        if (!nv)
            return; /* out of memory: this watcher misses the event, the table stays sound */
        f->v = nv;
        f->cap = ncap;
    }
    f->v[f->n++] = w;
}

/* Exact path: every watcher fires, one-shot modes are dropped. */
static void collect_exact(struct watch_table *t, int tab, const char *path, struct fired *f)
{
    struct hmap *ws = hmap_gets(&t->paths[tab], path);
    if (!ws)
        return;
    size_t n = ws->len, k = 0;
    void **who = malloc(n * sizeof(*who));
    unsigned *modes = malloc(n * sizeof(*modes));
    if (!who || !modes)
        goto out;
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(ws, &i, &s);) {
        memcpy(&who[k], s->key, sizeof(void *));
        modes[k++] = (unsigned)(uintptr_t)s->val;
    }
    for (size_t i = 0; i < k; i++) {
        fired_add(f, who[i]);
        if (modes[i] & M_STD)
            set_modes(t, tab, path, who[i], modes[i] & ~M_STD);
    }
out:
    free(who);
    free(modes);
}

/* Ancestors: only persistent-recursive watches, never for child events. */
static void collect_ancestors(struct watch_table *t, const char *path, struct fired *f)
{
    size_t len = strlen(path);
    char *p = malloc(len + 1);
    if (!p)
        return;
    memcpy(p, path, len + 1);
    while (len > 1) {
        char *slash = strrchr(p, '/');
        if (slash == p)
            slash[1] = 0, len = 1;
        else
            *slash = 0, len = (size_t)(slash - p);
        struct hmap *ws = hmap_gets(&t->paths[T_DATA], p);
        struct hmap_slot *s;
        if (ws)
            for (size_t i = 0; hmap_next(ws, &i, &s);)
                if ((uintptr_t)s->val & M_REC) {
                    void *w;
                    memcpy(&w, s->key, sizeof(w));
                    fired_add(f, w);
                }
    }
    free(p);
}

size_t watch_trigger(struct watch_table *t, const char *path, int event, watch_fire_fn fn, void *ctx)
{
    struct fired f = {0};
    if (event == ZEV_CHILD) {
        collect_exact(t, T_CHILD, path, &f);
    } else {
        collect_exact(t, T_DATA, path, &f);
        if (t->nrec)
            collect_ancestors(t, path, &f);
        if (event == ZEV_DELETED)
            collect_exact(t, T_CHILD, path, &f);
    }
    for (size_t i = 0; i < f.n; i++)
        fn(ctx, f.v[i], event, path);
    free(f.v);
    return f.n;
}

static int drop(struct watch_table *t, int tab, const char *path, void *w, unsigned mask)
{
    unsigned m = get_modes(t, tab, path, w);
    if (!(m & mask))
        return 0;
    set_modes(t, tab, path, w, m & ~mask);
    return 1;
}

int watch_remove(struct watch_table *t, const char *path, int type, void *w)
{
    int removed = 0;
    switch (type) {
    case ZWT_CHILDREN:
        removed = drop(t, T_CHILD, path, w, M_STD);
        break;
    case ZWT_DATA:
        removed = drop(t, T_DATA, path, w, M_STD);
        break;
    case ZWT_PERSISTENT:
        removed = drop(t, T_CHILD, path, w, M_PERS);
        removed |= drop(t, T_DATA, path, w, M_PERS);
        break;
    case ZWT_PERSISTENT_RECURSIVE:
        removed = drop(t, T_DATA, path, w, M_REC);
        break;
    case ZWT_ANY:
        removed = drop(t, T_CHILD, path, w, M_STD | M_PERS | M_REC);
        removed |= drop(t, T_DATA, path, w, M_STD | M_PERS | M_REC);
        break;
    }
    return removed ? ZOK : ZNOWATCHER;
}

int watch_contains(struct watch_table *t, const char *path, int type, void *w)
{
    int has = 0;
    switch (type) {
    case ZWT_CHILDREN:
        has = get_modes(t, T_CHILD, path, w) & M_STD;
        break;
    case ZWT_DATA:
        has = get_modes(t, T_DATA, path, w) & M_STD;
        break;
    case ZWT_PERSISTENT:
        has = get_modes(t, T_DATA, path, w) & M_PERS;
        break;
    case ZWT_PERSISTENT_RECURSIVE:
        has = get_modes(t, T_DATA, path, w) & M_REC;
        break;
    case ZWT_ANY:
        has = get_modes(t, T_CHILD, path, w) || get_modes(t, T_DATA, path, w);
        break;
    }
    return has ? ZOK : ZNOWATCHER;
}

void watch_remove_all(struct watch_table *t, void *w)
{
    struct hmap *idx = hmap_get(&t->index, &w, sizeof(w));
    if (!idx)
        return;
    /* set_modes edits idx, so restart the scan after each removal; the last frees idx */
    for (;;) {
        struct hmap_slot *s;
        size_t i = 0;
        if (!hmap_next(idx, &i, &s))
            break;
        int tab = s->key[0] - '0';
        char *path = strdup(s->key + 1);
        if (!path)
            return;
        int last = idx->len == 1;
        set_modes(t, tab, path, w, 0);
        free(path);
        if (last)
            return;
    }
}

void watch_stats(const struct watch_table *t, size_t *watchers, size_t *paths, size_t *total)
{
    struct hmap seen;
    hmap_init(&seen);
    *paths = t->paths[T_DATA].len;
    *total = 0;
    struct hmap_slot *s, *k;
    for (size_t i = 0; hmap_next(&t->paths[T_DATA], &i, &s);) {
        *total += ((struct hmap *)s->val)->len;
        for (size_t j = 0; hmap_next(s->val, &j, &k);)
            hmap_put(&seen, k->key, k->klen, NULL, NULL);
    }
    *watchers = seen.len;
    hmap_free(&seen);
}

size_t watch_count(const struct watch_table *t)
{
    size_t total = 0;
    struct hmap_slot *s;
    for (int tab = 0; tab < T_N; tab++)
        for (size_t i = 0; hmap_next(&t->paths[tab], &i, &s);)
            total += ((struct hmap *)s->val)->len;
    return total;
}

void watch_foreach_watcher(const struct watch_table *t, void (*fn)(void *ctx, void *w, const char *path), void *ctx)
{
    struct hmap_slot *s, *k;
    for (size_t i = 0; hmap_next(&t->index, &i, &s);) {
        void *w;
        memcpy(&w, s->key, sizeof(w));
        for (size_t j = 0; hmap_next(s->val, &j, &k);)
            if (k->key[0] == '0' + T_DATA)
                fn(ctx, w, k->key + 1);
    }
}

void watch_foreach_path(const struct watch_table *t, void (*fn)(void *ctx, const char *path, void *w), void *ctx)
{
    struct hmap_slot *s, *k;
    for (size_t i = 0; hmap_next(&t->paths[T_DATA], &i, &s);)
        for (size_t j = 0; hmap_next(s->val, &j, &k);) {
            void *w;
            memcpy(&w, k->key, sizeof(w));
            fn(ctx, s->key, w);
        }
}
