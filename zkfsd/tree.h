/* The znode tree: nodes by path, children, Stat, ACLs (interned), ephemerals by session,
 * containers and TTL nodes. Pure: no I/O and no clock; every change arrives as a txn whose
 * effects were decided by prep, and tree_apply reports each node event through a callback
 * so the caller can fire watches. Applying the same txn sequence to equal trees gives equal
 * trees (the property replication and recovery rely on). */
#ifndef ZKFS_TREE_H
#define ZKFS_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "common/jute.h"
#include "zkfsd/acl.h"
#include "zkfsd/txn.h"

struct znode {
    char *path;  /* "/" for the root; stored right after the node, in the same allocation */
    size_t pathlen;
    const char *name; /* last component, points into path ("" for root) */
    struct znode *parent;
    uint8_t *data;    /* NULL when null or empty; see datalen */
    int32_t datalen;  /* -1 for null data */
    struct zk_acl_set *acl;
    struct zk_stat stat; /* numChildren and dataLength kept current */
    struct hmap children; /* name -> struct znode* */
};

struct ztree {
    struct hmap nodes; /* path -> struct znode* */
    struct znode *root;
    struct acl_cache acls;
    struct hmap ephemerals; /* session id -> struct hmap* (path -> struct znode*) */
    struct hmap containers; /* path -> node: containers and TTL nodes, for the sweeper */
    int64_t last_zxid;      /* highest zxid applied */
    int64_t data_bytes;     /* approximate size of paths + data, for mntr */
};

/* Events reported by tree_apply: (path, ZEV_CREATED / ZEV_DELETED / ZEV_CHANGED / ZEV_CHILD). */
typedef void (*tree_event_fn)(void *ctx, const char *path, int event);

/* Builds the initial tree ZooKeeper starts with: "/", "/zookeeper", "/zookeeper/quota",
 * "/zookeeper/config" (READ-only to the world). Returns 0, or -1 when out of memory. */
int tree_init(struct ztree *t);
void tree_destroy(struct ztree *t);

/* The Stat a client sees (DataNode.copyStat). Internally cversion counts child creates
 * (sequential names come from it); clients see creates plus deletes: 2*cversion - numChildren.
 * Container and TTL markers in ephemeralOwner show as 0. */
void tree_client_stat(const struct znode *n, struct zk_stat *out);

/* Looks a node up by path ("" is accepted as the root, as ZooKeeper's parent of "/a"). */
struct znode *tree_get(const struct ztree *t, const char *path);

/* Applies a txn: creates/deletes/sets, fills *res (stat, err, multi sub-results), and calls
 * ev for every node event in the order ZooKeeper fires them. A txn that does not fit the tree
 * (replay over a fuzzy snapshot) yields res->err != 0 and leaves the tree consistent.
 * The txn's path strings are borrowed by res; free res with txn_result_free. */
void tree_apply(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx);

/* Restores one node from a snapshot with its stored Stat (internal cversion): the parent must
 * exist (snapshots list parents first); an existing node (the system ones) is overwritten.
 * Returns 0, or -1 when the parent is missing or memory runs out. */
int tree_restore_node(struct ztree *t, const char *path, const uint8_t *data, int32_t datalen,
                      const struct zk_acl *acl, int32_t nacl, const struct zk_stat *st);

/* The children of n as a malloc'd array of borrowed name pointers (valid until the next
 * change); returns the count, or -1 when out of memory. */
int32_t tree_children(const struct znode *n, const char ***out);
/* Number of nodes under path, not counting path itself (getAllChildrenNumber). */
int32_t tree_count_descendants(const struct ztree *t, const struct znode *n);
/* The ephemeral paths a session owns (a borrowed set: path -> node), or NULL. */
const struct hmap *tree_ephemerals(const struct ztree *t, int64_t session);
size_t tree_node_count(const struct ztree *t);

#endif
