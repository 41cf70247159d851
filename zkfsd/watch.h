/* The watch table, as ZooKeeper's pair of WatchManagers in DataTree (dataWatches and
 * childWatches, server/watch/WatchManager.java): one-shot data and child watches plus the
 * persistent and persistent-recursive watches of addWatch. A pure state machine: a watcher is
 * an opaque pointer (a server connection) that the table never dereferences; firing calls
 * back into the caller.
 *
 * Where each kind of watch lives (DataTree.addWatch, getData/statNode/getChildren):
 *   WATCH_DATA (getData, exists)      the data table, one-shot (WatcherMode.STANDARD)
 *   WATCH_CHILD (getChildren)         the child table, one-shot
 *   WATCH_PERSISTENT                  both tables (WatcherMode.PERSISTENT)
 *   WATCH_PERSISTENT_RECURSIVE        the data table only, which is why it never sees
 *                                     NodeChildrenChanged
 * A watcher may hold several kinds on one path; each (table, path, watcher) keeps the set of
 * its modes, as WatchStats does.
 *
 * What one watch_trigger(path, event) tells:
 *   ZEV_CREATED, ZEV_CHANGED  every watcher in the data table on path (one-shot modes are
 *                             consumed), and persistent-recursive watchers on any ancestor
 *                             of path up to "/"
 *   ZEV_DELETED               the same, plus every watcher in the child table on path
 *                             (their one-shot modes consumed too)
 *   ZEV_CHILD                 every watcher in the child table on path, nothing else: no
 *                             ancestors, so recursive watches never get it
 * Each watcher is told at most once per call, however many of its watches match (ZooKeeper
 * passes the data table's watchers as `suppress` to the child table on delete); every
 * matching one-shot watch is consumed even when its watcher was already told. Events carry
 * the path given, also for an ancestor's recursive watch.
 *
 * What the caller must trigger per change of the tree, in this order (DataTree.createNode,
 * deleteNode, setData), for every change a txn makes (each sub-op of a multi, each ephemeral
 * a closed session loses, each container or TTL node removed):
 *   create P   watch_trigger(P, ZEV_CREATED); watch_trigger(parent(P), ZEV_CHILD)
 *   delete P   watch_trigger(P, ZEV_DELETED); watch_trigger(parent(P), ZEV_CHILD)
 *   setData P  watch_trigger(P, ZEV_CHANGED)   (also when the data did not change)
 *   setACL, and anything else: nothing
 * The parent of "/a" is "/". setWatches after a reconnect is the caller's (DataTree.setWatches:
 * fire at once or watch_add, per kind); so is refusing watches for a closed connection. */
#ifndef ZKFS_WATCH_H
#define ZKFS_WATCH_H

#include <stddef.h>

enum watch_kind { WATCH_DATA, WATCH_CHILD, WATCH_PERSISTENT, WATCH_PERSISTENT_RECURSIVE };

struct watch_table;

/* Told once per watcher per trigger: event is the ZEV_* given to watch_trigger, path the
 * path given (valid during the call only). */
typedef void (*watch_fire_fn)(void *ctx, void *w, int event, const char *path);

/* Returns an empty table, or NULL when out of memory. */
struct watch_table *watch_new(void);
/* Frees the table and its watches (NULL is accepted); watchers are not touched. */
void watch_free(struct watch_table *t);

/* Registers a watch of kind on path for w (the table copies path). Adding a kind w already
 * has there changes nothing. Returns ZOK; ZBADARGUMENTS when path or w is NULL or kind is
 * unknown; ZSYSTEMERROR when out of memory (the table is unchanged). */
int watch_add(struct watch_table *t, const char *path, enum watch_kind kind, void *w);

/* Applies one event to the table (see above): first every watcher to tell is collected and
 * the consumed one-shot watches are removed, then fn(ctx, w, event, path) is called once per
 * watcher, so fn may call back into the table (anything but watch_free). Returns how many
 * watchers were told. An event type other than ZEV_CREATED/DELETED/CHANGED/CHILD or a NULL
 * path tells nobody. When out of memory a watcher that cannot be recorded is not told and
 * keeps its one-shot watch (logged). */
size_t watch_trigger(struct watch_table *t, const char *path, int event, watch_fire_fn fn, void *ctx);

/* removeWatches for w on path (DataTree.removeWatch). type is a ZWT_* of common/zerr.h:
 *   ZWT_CHILDREN              the one-shot child watch
 *   ZWT_DATA                  the one-shot data watch (getData/exists)
 *   ZWT_PERSISTENT            the persistent watch (both tables)
 *   ZWT_PERSISTENT_RECURSIVE  the persistent-recursive watch
 *   ZWT_ANY                   every watch w has on path, of every kind
 * Other kinds w holds on path stay. Returns ZOK when something was removed, ZNOWATCHER when
 * w had no such watch (as the server answers NOWATCHER), ZBADARGUMENTS for an unknown type
 * or NULL path. Never allocates. */
int watch_remove(struct watch_table *t, const char *path, int type, void *w);

/* checkWatches for w on path (DataTree.containsWatcher), with watch_remove's mapping of
 * types, except that ZWT_PERSISTENT looks at the data table only, as ZooKeeper does (both
 * tables always agree on it). Returns ZOK, ZNOWATCHER, or ZBADARGUMENTS as watch_remove. */
int watch_contains(const struct watch_table *t, const char *path, int type, void *w);

/* Forgets every watch of w (its connection closed: DataTree.removeCnxn). Costs only w's own
 * watches, through a per-watcher index. Unknown watchers are ignored. */
void watch_remove_all(struct watch_table *t, void *w);

/* For `wchs`, which like ZooKeeper's (DataTree.dumpWatchesSummary) describes the data table
 * only: watchers holding a watch in it, paths with a watch in it, and (path, watcher) pairs
 * in it. O(1). */
void watch_stats(const struct watch_table *t, size_t *watchers, size_t *paths, size_t *total);
/* For mntr's zk_watch_count (DataTree.getWatchCount): (path, watcher) pairs in both tables.
 * O(1). */
size_t watch_count(const struct watch_table *t);
/* For `wchc`: fn(ctx, w, path) for every (path, watcher) pair of the data table, all pairs of
 * one watcher in a row (no particular order otherwise). fn must not modify the table. */
void watch_foreach_watcher(const struct watch_table *t, void (*fn)(void *ctx, void *w, const char *path), void *ctx);
/* For `wchp`: fn(ctx, path, w) for every (path, watcher) pair of the data table, all pairs of
 * one path in a row, the path pointer the same within a row. fn must not modify the table. */
void watch_foreach_path(const struct watch_table *t, void (*fn)(void *ctx, const char *path, void *w), void *ctx);

#endif
