/* The mount's tables, with no I/O: the inodes the kernel holds (nodeid -> path, kind, shape,
 * lookup count) and the cache of what the server said about each path (Stat, ACL bits, data,
 * children), which watch events invalidate. Owned by the event-loop thread; not
 * thread-safe. */
#ifndef ZKFS_FUSE_INODE_H
#define ZKFS_FUSE_INODE_H

#include <stddef.h>
#include <stdint.h>

#include "common/hmap.h"
#include "common/jute.h"

/* What the server said about one path. Each part has its own validity flag. */
struct node {
    char *path;
    int have_stat;
    struct zk_stat stat;
    int32_t world_perms; /* perms of world:anyone in its ACL; -1 unknown (NOAUTH on getACL) */
    int have_acl;
    int have_data;
    uint8_t *data;
    int32_t datalen;
    int have_children;
    char **children; /* names, in the server's order */
    int32_t nchildren;
    struct hmap child_set; /* names -> (void *)1, for membership when have_children */
    int created_as_file;   /* this mount created it as a file: it stays a file */
    int wdata, wchild;     /* one-shot mode: a data / child watch is armed on it */
};

enum inode_kind { INODE_NODE = 0, INODE_DATA, INODE_LOCK };

struct inode {
    uint64_t nodeid;
    enum inode_kind kind;
    char *path;       /* the znode (for DATA: the directory's node; for LOCK: the locked node) */
    int is_dir;       /* the shape the kernel was told (never changes for a nodeid) */
    uint64_t nlookup; /* kernel references */
    uint64_t st_ino;
    int detached; /* no longer the inode of its path (deleted, or the shape changed) */
    int nopen;    /* open files */
    /* The data version (mzxid) the kernel's page cache may hold for it, when known: an
     * open keeps the page cache only if the node still has that version. */
    int kdata_valid;
    int64_t kdata_mzxid;
};

struct itable {
    struct hmap by_id;  /* nodeid -> inode */
    struct hmap by_key; /* kind char + path -> inode (current ones only) */
    struct hmap nodes;  /* path -> node */
    /* paths this mount created as files and that still exist: the node cache may forget a
     * node (the kernel forgot it, a reconnect dropped the cache), not what we made, so an
     * empty file we made never turns into a directory under its writer */
    struct hmap as_file;
    uint64_t next_id;
};

/* Remembers that this mount created path as a file (see as_file); forgotten when the path
 * is gone (itable_gone) or for a new session (itable_forget_files). */
void itable_mark_file(struct itable *t, const char *path);
void itable_forget_files(struct itable *t);

/* Initialises the tables with the root inode (nodeid 1, a directory on "/"). */
int itable_init(struct itable *t);
void itable_free(struct itable *t);

struct inode *itable_get(const struct itable *t, uint64_t nodeid);
/* The current inode of (kind, path), or NULL. */
struct inode *itable_find(const struct itable *t, enum inode_kind kind, const char *path);
/* The inode of (kind, path) with the given shape, made if there is none (nlookup 0). When
 * the current one has the other shape it is detached and a new one (a new nodeid) made, so
 * the kernel never sees a nodeid change type. NULL when out of memory. */
struct inode *itable_obtain(struct itable *t, enum inode_kind kind, const char *path, int is_dir, uint64_t st_ino);
/* Moves a node inode to newpath (a rename: the kernel keeps the nodeid at the new name);
 * whatever inode newpath had is detached. -1 when out of memory (in is detached instead). */
int itable_move(struct itable *t, struct inode *in, const char *newpath);
/* Detaches the current inodes of path (every kind): later lookups make new ones. */
void itable_detach_path(struct itable *t, const char *path);
/* Drops n kernel references; frees the inode when none is left and no file is open.
 * The root is never freed. */
void itable_forget(struct itable *t, uint64_t nodeid, uint64_t n);
/* Frees an inode whose last open file closed, if the kernel holds no reference. */
void itable_maybe_free(struct itable *t, struct inode *in);

/* The cached node of path, or NULL. */
struct node *itable_node(const struct itable *t, const char *path);
/* The cached node of path, made empty if missing; NULL when out of memory. */
struct node *itable_node_make(struct itable *t, const char *path);
/* Drops everything cached about path (the entry itself stays, flags kept). */
void node_invalidate(struct node *n);
void node_set_stat(struct node *n, const struct zk_stat *st);
/* Replaces the cached data (copied). -1 when out of memory (data marked unknown). */
int node_set_data(struct node *n, const uint8_t *data, int32_t len);
/* Replaces the cached children (copied). -1 when out of memory (children unknown). */
int node_set_children(struct node *n, char *const *names, int32_t count);
/* Adds or removes one child name in a valid cached list (no-op when the list is unknown). */
void node_child_add(struct node *n, const char *name);
void node_child_del(struct node *n, const char *name);
/* 1 when the valid cached list has name, 0 when it lacks it, -1 when the list is unknown. */
int node_has_child(const struct node *n, const char *name);
/* Drops the cached data (a newer version exists). */
void node_forget_data(struct node *n);
/* A child named by path came (add) or went: its parent's cached listing follows, and the
 * parent's Stat (numChildren, cversion, pzxid) is stale. */
void itable_parent_child(struct itable *t, const char *path, int add);
/* path was deleted: its inodes are detached, its node forgotten, its parent's listing
 * updated. */
void itable_gone(struct itable *t, const char *path);
/* Forgets the cached node of path entirely. */
void itable_node_drop(struct itable *t, const char *path);
/* Invalidates every cached node (after a new session). */
void itable_invalidate_all(struct itable *t);

#endif
