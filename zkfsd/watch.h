/* The watch table, as ZooKeeper's WatchManager pair (dataWatches, childWatches) of
 * server/watch/: one-shot data and child watches, persistent and persistent-recursive ones.
 * Pure: a watcher is an opaque pointer (a connection); firing calls back into the caller.
 *
 * What the caller triggers per tree change (tree_apply's events map to exactly this):
 *   create:  watch_trigger(path, ZEV_CREATED) and watch_trigger(parent, ZEV_CHILD)
 *   delete:  watch_trigger(path, ZEV_DELETED) and watch_trigger(parent, ZEV_CHILD)
 *   setData: watch_trigger(path, ZEV_CHANGED)
 * ZEV_DELETED also fires the child watches of the deleted path; persistent watches get every
 * event on their own path; persistent-recursive watches get created/deleted/changed events on
 * their path and every descendant, never ZEV_CHILD. A watcher receives at most one event per
 * trigger, and one-shot watches are gone once fired. */
#ifndef ZKFS_WATCH_H
#define ZKFS_WATCH_H

#include <stddef.h>

enum watch_kind { WATCH_DATA, WATCH_CHILD, WATCH_PERSISTENT, WATCH_PERSISTENT_RECURSIVE };

struct watch_table;

typedef void (*watch_fire_fn)(void *ctx, void *w, int event, const char *path);

/* Returns an empty table, or NULL when out of memory. */
struct watch_table *watch_new(void);
void watch_free(struct watch_table *t);

/* Registers a watch (WATCH_DATA serves getData and exists). Idempotent. Returns 0, or -1 when
 * out of memory (the table is unchanged). */
int watch_add(struct watch_table *t, const char *path, enum watch_kind kind, void *w);

/* Fires the watches an event on path concerns (see the header comment); returns how many
 * watchers were told. fn must not modify the table. */
size_t watch_trigger(struct watch_table *t, const char *path, int event, watch_fire_fn fn, void *ctx);

/* removeWatches for one watcher: type is ZWT_CHILDREN, ZWT_DATA, ZWT_ANY, ZWT_PERSISTENT or
 * ZWT_PERSISTENT_RECURSIVE (common/zerr.h), with DataTree.removeWatch's mapping. Returns ZOK
 * when something was removed, ZNOWATCHER otherwise. */
int watch_remove(struct watch_table *t, const char *path, int type, void *w);
/* checkWatches: ZOK when the watcher has such a watch on path, ZNOWATCHER otherwise. */
int watch_contains(struct watch_table *t, const char *path, int type, void *w);

/* Forgets every watch of w (its connection closed). Cost: the watcher's own watches. */
void watch_remove_all(struct watch_table *t, void *w);

/* For `wchs`, which like ZooKeeper's reports the data-watch table only (getData, exists,
 * persistent): watchers in it, its paths, and its (path, watcher) pairs. */
void watch_stats(const struct watch_table *t, size_t *watchers, size_t *paths, size_t *total);
/* For mntr's zk_watch_count: (path, watcher) pairs of both tables. */
size_t watch_count(const struct watch_table *t);
/* For `wchc`: fn(ctx, w, path) for every data-table watch, grouped by watcher. */
void watch_foreach_watcher(const struct watch_table *t, void (*fn)(void *ctx, void *w, const char *path), void *ctx);
/* For `wchp`: fn(ctx, path, w) for every data-table watch, grouped by path. */
void watch_foreach_path(const struct watch_table *t, void (*fn)(void *ctx, const char *path, void *w), void *ctx);

#endif
