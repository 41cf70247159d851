/* The mount's pure rules, with no I/O: which znodes are directories and which are files,
 * the name suffixes that choose a create mode, the virtual names (".data", "NAME.lock"),
 * ZooKeeper error -> errno, the mode bits an ACL gives, stable inode numbers, and the lock
 * recipe's contender order (kazoo's). Everything here is unit-tested in test_shape.c. */
#ifndef ZKFS_FUSE_SHAPE_H
#define ZKFS_FUSE_SHAPE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/jute.h"

/* The hidden file in every directory that holds the directory node's own data. */
#define SHAPE_DATA_NAME ".data"
/* The suffix of the virtual lock file beside every node. */
#define SHAPE_LOCK_SUFFIX ".lock"

/* A znode with children, or with no data, is a directory; one with data and no children a
 * file. A node this mount created as a file stays one (created_as_file). */
int shape_is_dir(const struct zk_stat *st, int created_as_file);

/* Parses the create suffixes ".ephemeral", ".sequential" and both in either order off the
 * end of name. Writes the bare name (NUL-terminated, at most cap bytes with the NUL) to
 * base and the create mode (ZMODE_PERSISTENT, _EPHEMERAL, _PERSISTENT_SEQUENTIAL,
 * _EPHEMERAL_SEQUENTIAL) to *mode. Returns 1 when a suffix was found, 0 when not (base =
 * name, mode persistent), -1 when the name does not fit or the bare name is empty for a
 * non-sequential mode (".sequential" alone is fine: the server names the node "0000000042"). */
int shape_parse_suffix(const char *name, char *base, size_t cap, int *mode);

/* The virtual names: ".data" -> SHAPE_VIRT_DATA; "NAME.lock" with NAME non-empty ->
 * SHAPE_VIRT_LOCK with NAME written to target (cap bytes with the NUL; -1 when it does not
 * fit); else SHAPE_VIRT_NONE. */
enum shape_virt { SHAPE_VIRT_NONE = 0, SHAPE_VIRT_DATA, SHAPE_VIRT_LOCK };
int shape_virtual(const char *name, char *target, size_t cap);

/* The errno (positive) for a ZooKeeper error code, as fuse/README.md documents. ZOK -> 0. */
int shape_errno(int zerr);

/* The permission bits (rwx for user, group and other alike: ZooKeeper's ACLs know no local
 * users) that the ACL grants to a session whose identities match world:anyone: READ -> r
 * (and x on directories), WRITE -> w on files, CREATE or DELETE -> w on directories. An
 * ACL that cannot be read (nacl < 0) gives r-x/r-- as a guess the server still checks. */
mode_t shape_perm_bits(const struct zk_acl *acl, int32_t nacl, int is_dir);

/* A stable inode number for a node: a mix of its czxid and path (czxid alone repeats for
 * nodes made by one multi). Never 0 or 1 (1 is the mount's root). */
uint64_t shape_ino(int64_t czxid, const char *path);

/* Lock recipe (kazoo's Lock/WriteLock/ReadLock, so both sides exclude each other): a
 * contender is a child whose name ends in "__lock__" or "__rlock__" followed by a 10-digit
 * (possibly negative) sequence number. Exclusive contenders wait for every earlier
 * "__lock__" and "__rlock__"; shared ones for every earlier "__lock__". Returns the index in
 * children of the node that `self` must wait for (the latest earlier excluding contender),
 * -1 when self holds the lock, or -2 when self is not among the children. */
int shape_lock_predecessor(char *const *children, int32_t n, const char *self, int shared);

/* Splits path ("/a/b") into its parent ("/a", or "/" for "/b", written to parent, cap bytes
 * with the NUL) and *name, pointing into path ("b"). -1 for the root, a path without a
 * slash, or a parent that does not fit. */
int shape_split(const char *path, char *parent, size_t cap, const char **name);

/* Writes a full znode path for name under parent ("/" + name at the root). Returns 0, or -1
 * when it does not fit in cap bytes. */
int shape_child_path(const char *parent, const char *name, char *out, size_t cap);

#endif
