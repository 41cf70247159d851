/* Durability for one server: recovery at start (newest valid snapshot + log replay), the
 * transaction log behind the core's log_append, snapshots every snapCount txns taken by a
 * forked child, and autopurge. The event loop learns of durable txns through the log's
 * notification descriptor and hands them to server_durable. */
#ifndef ZKFS_STORAGE_H
#define ZKFS_STORAGE_H

#include <event2/event.h>

#include "zkfsd/config.h"
#include "zkfsd/server.h"

struct storage;

/* An ensemble member's use of its storage (quorum.c). Its log holds proposals, not all of
 * them committed: recovery applies only the snapshot and hands every later logged txn to
 * `logged` (the leader decides which of them committed); durability is reported to
 * `durable` instead of the server core, and txns reach the log through storage_append. */
struct storage_repl {
    void *ctx;
    int (*logged)(void *ctx, const struct txn *x); /* 0, or -1 to refuse to start */
    void (*durable)(void *ctx, int64_t zxid);
};

/* Recovers the server's state from cfg's directories (creating them when absent), then starts
 * the log and registers its events on base. repl is NULL for a standalone server. Returns
 * NULL with a message in err when the data cannot be trusted or the directories cannot be
 * used: the server must not start then. */
struct storage *storage_open(const struct zk_config *cfg, struct server *srv, struct event_base *base,
                             const struct storage_repl *repl, char *err, size_t errlen);

/* Ensemble: queues an encoded txn for the log (durability is reported later). */
void storage_append(struct storage *st, int64_t zxid, const uint8_t *txn, size_t n);
/* Ensemble: drops every logged txn after zxid (the leader's TRUNC). Everything up to zxid is
 * durable on return. Any failure is fatal (logged, exit status 3): the log is the truth. */
void storage_truncate(struct storage *st, int64_t zxid);
/* Ensemble: replaces the server's state and the whole log by a snapshot received from the
 * leader: verified, saved, loaded, the old log deleted. Fatal on any failure (a member with
 * half a state must not serve; restarted, it syncs again). */
void storage_install(struct storage *st, const uint8_t *snap, size_t n);
/* The directory of snapshots (dataDir/version-2), where the epoch files live too. */
const char *storage_dir(const struct storage *st);
/* Flushes and syncs the log, waits for a running snapshot, frees. */
void storage_close(struct storage *st);

#endif
