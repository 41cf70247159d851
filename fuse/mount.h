/* The state of one zkfs mount, shared by its drivers: the FUSE operations (ops.c), the
 * watch-event handling (events.c), the locks (lock.c) and main.c. Everything here is owned
 * by the event-loop thread, which serves both /dev/fuse and the ZooKeeper connection; only
 * the notifier (notify.c) runs on a thread of its own. */
#ifndef ZKFS_FUSE_MOUNT_H
#define ZKFS_FUSE_MOUNT_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdint.h>

#include "client/zkc.h"
#include "common/hmap.h"
#include "fuse/inode.h"
#include "fuse/notify.h"

struct event_base;

struct mount_opts {
    char *connect;    /* connect string with an optional chroot */
    char *mountpoint; /* absolute */
    int32_t session_timeout_ms;
    int read_only;
    size_t max_data;     /* largest data a write may produce (EFBIG beyond) */
    int oneshot_watches; /* -o watches=oneshot: as if the server had no recursive watches */
};

/* A tombstone for a node deleted elsewhere whose deletion the notifier is about to show the
 * kernel: the lookup before its unlink is answered from here. */
struct tombstone {
    int is_dir;
    uint64_t st_ino;
    struct zk_stat stat;
};

struct mount {
    struct mount_opts opts;
    struct event_base *base;
    struct fuse_session *se;
    zkc_t *zh;
    int64_t session_id;  /* of the current session */
    int recursive_watch; /* the persistent recursive watch on the root is armed */
    int watch_answered;  /* the server answered the addWatch (yes or no) */
    int oneshot;         /* no recursive watch: one-shot watches on every node fetched */
    int was_disconnected;
    struct itable it;
    struct notifier *nt;
    struct hmap inflight;       /* exact paths this mount is changing -> count */
    struct hmap inflight_seq;   /* sequential-create prefixes in flight -> count */
    struct hmap pending_create; /* paths the notifier will mknod -> (void *)1 */
    struct hmap pending_delete; /* paths the notifier will unlink -> struct tombstone */
    struct hmap open_files;     /* struct ofile * -> itself, to find them after an expiry */
    int exiting;
};

/* One open file (fi->fh). */
struct ofile {
    uint64_t nodeid;
    enum inode_kind kind;
    char *path; /* the znode whose data it reads and writes */
    int writable;
    uint8_t *buf; /* the contents being written (writable files only) */
    size_t len, cap;
    int have_buf; /* buf holds the contents (else it is fetched on demand) */
    int dirty;
    int32_t version;       /* the version buf was read at (-1: replace whatever is there) */
    int64_t eph_owner;     /* the node's ephemeralOwner when opened */
    int stale;             /* its ephemeral node vanished with an old session: ESTALE */
    struct lockreq *lock;  /* the flock this open file holds or waits for (lock files) */
    struct lockreq *plock; /* the fcntl (POSIX) lock, whole-file, of plock_owner */
    uint64_t plock_owner;
};

/* ops.c */
extern const struct fuse_lowlevel_ops zkfs_ops;
/* The errno for a ZooKeeper code, and a log line for the unexpected ones. */
int mount_errno(int zerr, const char *what, const char *path);

/* events.c: the session watcher and the recursive watch's events. */
void events_session(zkc_t *zh, int type, int state, const char *path, void *ctx);
void events_node(zkc_t *zh, int type, int state, const char *path, void *ctx);
/* The kernel holds in with a shape the node no longer has: invalidate its entry and detach
 * it, so the next lookup makes an inode of the new shape. */
void events_reshape(struct mount *m, struct inode *in);
/* One-shot mode: sets a data (or exist) watch on path, so its cache stays valid. */
void events_watch_node(struct mount *m, const char *path);
/* Arms the persistent recursive watch on the root (again after a new session). */
void events_arm(struct mount *m);
/* Marks a path as being changed by this mount (so its own events raise no inotify); undone
 * by inflight_end with the change's result once the reply arrived: when it failed, the
 * events taken for its echo were another client's and are shown then. seq: path is a
 * sequential-create prefix. */
void inflight_begin(struct mount *m, const char *path, int seq);
void inflight_end(struct mount *m, const char *path, int seq, int rc);

/* lock.c */
struct lockreq;
struct flock;
/* A lock request on a lock file: op is LOCK_SH, LOCK_EX or LOCK_UN, optionally | LOCK_NB;
 * posix: the open file's fcntl lock, else its flock. Replies to req (0, EWOULDBLOCK, EINTR,
 * EIO...). */
void lock_request(struct mount *m, fuse_req_t req, struct ofile *of, int op, int posix);
/* Releases what of holds or waits for (which: 1 the flock, 2 the fcntl lock, 3 both). */
void lock_release(struct mount *m, struct ofile *of, int which);
/* F_GETLK: replies with F_UNLCK, or the kind of lock that would make fl wait. */
void lock_test(struct mount *m, fuse_req_t req, struct ofile *of, const struct flock *fl);
/* The session ended: locks held through it are gone. */
void lock_session_lost(struct mount *m);

#endif
