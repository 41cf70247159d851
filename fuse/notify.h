/* The notifier thread: tells the kernel what changed on the server. It performs the kernel
 * invalidations (which may block on a directory lock, so never on the loop thread) and the
 * system calls on the mount itself that make inotify fire for a change made elsewhere
 * (../shared/notes/fuse-inotify.md): truncate for IN_MODIFY, mknod/mkdir for IN_CREATE,
 * unlink/rmdir for IN_DELETE. The loop thread recognises the requests these calls cause by
 * the caller's thread id (notify_tid) and answers them from what it knows. */
#ifndef ZKFS_FUSE_NOTIFY_H
#define ZKFS_FUSE_NOTIFY_H

#include <stdint.h>
#include <sys/types.h>

struct fuse_session;
struct notifier;

enum notify_job_kind {
    NJ_INVAL_INODE, /* nodeid: attributes and page cache */
    NJ_INVAL_ENTRY, /* parent, name: the kernel's dentry */
    NJ_TRUNCATE,    /* path, size: IN_MODIFY */
    NJ_MKNOD,       /* path, is_dir: IN_CREATE */
    NJ_UNLINK,      /* path, is_dir: IN_DELETE (+ IN_DELETE_SELF) */
};

/* Starts the thread for session se mounted at mountpoint (both must outlive it). NULL when
 * out of memory or the thread cannot start. */
struct notifier *notify_start(struct fuse_session *se, const char *mountpoint);
/* Stops the thread (pending jobs are dropped) and frees it. */
void notify_stop(struct notifier *nt);
/* The notifier thread's id, as fuse_req_ctx(req)->pid shows it. */
pid_t notify_tid(const struct notifier *nt);

/* Queues a job; never blocks on the thread's work. path is the znode path (the mount's
 * root is "/") and is copied; name likewise. Jobs run in order. Out of memory: dropped. */
void notify_push(struct notifier *nt, enum notify_job_kind kind, uint64_t nodeid, const char *path, const char *name,
                 int64_t size, int is_dir);

#endif
