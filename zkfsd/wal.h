/* The transaction log: append-only files "log.<first zxid in hex>" in dataLogDir/version-2,
 * each a 16-byte header ("ZKFL", version, dbid) then records [u32 length][u32 CRC-32C][txn],
 * big-endian, in zxid order with no gaps (wal_zxid_follows). A writer thread does group commit:
 * every record appended while the previous fsync ran goes out in the next write + fdatasync,
 * and only then is durability reported, through a file descriptor the event loop watches. Files
 * are preallocated in preAllocSize steps; a zero length marks the end of the written part.
 * Any write or sync failure (a full disk included) is fatal: logged, then the process exits
 * with status 3 without acknowledging anything it could not make durable. */
#ifndef ZKFS_WAL_H
#define ZKFS_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zkfsd/txn.h"

#define WAL_HEADER_LEN 16
#define WAL_MAX_RECORD (64 << 20) /* no txn comes near: a datum is at most jute.maxbuffer */
#define WAL_EXIT_STATUS 3

struct wal_opts {
    const char *dir;        /* dataLogDir/version-2, created by the caller */
    int force_sync;         /* fdatasync before reporting durability (forceSync) */
    int64_t prealloc_bytes; /* file growth step (preAllocSize), 0 = none */
    int64_t roll_bytes;     /* start a new file once this one is larger */
};

struct wal;

/* In an ensemble zxid = epoch << 32 | counter, and a new epoch's first txn has counter 1, so
 * the log may jump from any zxid to the start of a later epoch: next directly follows prev when
 * it is prev + 1 or such a jump. A standalone log (epoch 0) only ever takes the first form. */
static inline int wal_zxid_follows(int64_t prev, int64_t next)
{
    uint64_t p = (uint64_t)prev, x = (uint64_t)next; /* unsigned: no overflow, no signed shift */
    return x == p + 1 || (x >> 32 > p >> 32 && (x & 0xffffffffu) == 1);
}

/* Starts the writer; the first record appended must carry next_zxid, or any zxid that follows
 * next_zxid - 1 (wal_zxid_follows: a new epoch), and so must each one after it (the files after
 * recovery continue there in a new file). NULL with a message in err on failure. */
struct wal *wal_open(const struct wal_opts *o, int64_t next_zxid, char *err, size_t errlen);
/* Readable whenever durability advanced; then call wal_durable. */
int wal_notify_fd(const struct wal *w);
/* Drains the notification and returns the highest zxid known durable. */
int64_t wal_durable(struct wal *w);
/* Queues a txn (encoded now; x stays the caller's). Never blocks on the disk. */
void wal_append(struct wal *w, const struct txn *x);
/* Queues txn[0..n), a txn as txn_encode encodes it (as an ensemble receives it), exactly as
 * wal_append queues the txn it encodes to; the bytes stay the caller's. The caller guarantees
 * they decode and carry zxid (only the zxid is asserted): replay takes a record that does not
 * decode for damage, or for a torn tail. Fatal if n > WAL_MAX_RECORD. Never blocks on the disk. */
void wal_append_bytes(struct wal *w, int64_t zxid, const uint8_t *txn, size_t n);
/* The next batch starts a new file (called when a snapshot is taken). */
void wal_roll(struct wal *w);
/* Writes and syncs what is queued, stops the writer, frees. */
void wal_close(struct wal *w);

/* Recovery: replays every logged txn with zxid > after, in order, through fn (which borrows
 * the txn and returns 0, or -1 to abort). A torn record at the tail of the newest file is cut
 * off (logged with file, offset and the last good zxid); any other damage — a bad record with
 * valid ones after it, a hole in the zxids, a bad header — returns -1 with a message in err
 * and changes nothing. *last receives the highest zxid seen (after, if none). */
int wal_replay(const char *dir, int64_t after, int (*fn)(void *ctx, const struct txn *x), void *ctx, int64_t *last,
               char *err, size_t errlen);

/* With no writer open on dir, drops every logged txn with zxid > after (a follower told by its
 * leader to truncate): files that start after it are removed, the one holding it is cut right
 * after its record (preallocated zeros included); each change is synced. A damaged record
 * before `after` is reached (or a file that cannot be read) returns -1 with a message in err
 * and changes nothing; a failure while changing (-1 too) or a crash leaves a shorter prefix of
 * the log, and truncating again completes it. Returns the number of txns dropped (readable
 * records: damage past `after` goes uncounted). The log then continues with wal_open(after + 1,
 * or a zxid that follows after). */
int wal_truncate(const char *dir, int64_t after, char *err, size_t errlen);

/* Prints a log file in readable form, one txn per line; returns 0, or -1 on a damaged file
 * (after printing what could be read and where it stopped). */
int wal_dump(const char *file, FILE *out);

/* Lists "<prefix><hex zxid>" files of dir sorted by zxid (ascending). *names (malloc'd, each
 * malloc'd) and *zxids receive n entries. Returns n, or -1 when dir cannot be read. */
int zk_list_files(const char *dir, const char *prefix, char ***names, int64_t **zxids);
void zk_free_list(char **names, int64_t *zxids, int n);
/* fsyncs a directory (after creating or renaming a file in it). Returns 0 or -1 (errno set). */
int zk_fsync_dir(const char *dir);

#endif
