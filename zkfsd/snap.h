/* Snapshots: the whole tree and session table at one zxid, in "snapshot.<zxid hex>" files of
 * dataDir/version-2. Written by a forked child from its copy-on-write image of the server, so
 * the image is exact (not fuzzy) and clients stall only for the fork itself; written to a temp
 * file, fsynced, renamed, directory fsynced. Format: header ("ZKSN", version, zxid, time),
 * sessions, nodes parent-first, then "ZKSE" and a CRC-32C of everything before it. */
#ifndef ZKFS_SNAP_H
#define ZKFS_SNAP_H

#include <stdint.h>
#include <stdio.h>

#include "zkfsd/session.h"
#include "zkfsd/tree.h"

/* Writes the snapshot of t (at t->last_zxid) and sessions into dir. Returns 0, or -1 with a
 * message in err (the temp file is removed). */
int snap_write(const char *dir, const struct ztree *t, const struct sess_table *s, int64_t now_wall, char *err,
               size_t errlen);

/* The bytes snap_write would store for t at t->last_zxid, in one malloc'd buffer for the
 * caller to free (a leader's SNAP sync sends them). Returns 0, or -1 with a message. */
int snap_encode(const struct ztree *t, const struct sess_table *s, int64_t now_wall, uint8_t **out, size_t *len,
                char *err, size_t errlen);

/* Verifies the snapshot bytes p[0..n) as a file is verified (magic, trailer, CRC-32C, version,
 * every count and length against the bytes present: they may come from the network) and loads
 * them into t (fresh from tree_init) and s as snap_load_latest does. *zxid = the snapshot's.
 * Returns 0, or -1 with a message; t and s may then hold part of the snapshot: discard them. */
int snap_load_bytes(const uint8_t *p, size_t n, struct ztree *t, struct sess_table *s, int64_t now_mono,
                    int64_t *zxid, char *err, size_t errlen);

/* Verifies p[0..n) as snap_load_bytes does, short of building the tree (so a snapshot whose
 * nodes do not fit together, which snap_encode never makes, passes: install with
 * snap_load_bytes first), and stores it in dir as snap_write stores its file. Then removes the
 * snapshots in dir newer than it: the state it holds replaces ours, and a newer one would be
 * from a history it does not contain. Returns 0, or -1 with a message (dir is unchanged when
 * the snapshot itself could not be stored). */
int snap_save(const char *dir, const uint8_t *p, size_t n, char *err, size_t errlen);

/* Loads the newest snapshot that verifies into t (fresh from tree_init) and s, giving each
 * session a full timeout from now_mono. A damaged newer snapshot is skipped with a warning
 * when an older valid one exists. *zxid = the snapshot's zxid, 0 when there is none.
 * Returns 0, or -1 with a message when snapshots exist but none is valid. */
int snap_load_latest(const char *dir, struct ztree *t, struct sess_table *s, int64_t now_mono, int64_t *zxid,
                     char *err, size_t errlen);

/* Prints a snapshot in readable form; 0, or -1 when damaged. */
int snap_dump(const char *file, FILE *out);

/* Deletes all but the newest `keep` snapshots in snapdir and the log files in logdir that only
 * hold txns older than the oldest snapshot kept (autopurge). Returns the files removed. */
int snap_purge(const char *snapdir, const char *logdir, int keep);

#endif
