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

/* Recovers the server's state from cfg's directories (creating them when absent), then starts
 * the log and registers its events on base. Returns NULL with a message in err when the data
 * cannot be trusted or the directories cannot be used: the server must not start then. */
struct storage *storage_open(const struct zk_config *cfg, struct server *srv, struct event_base *base, char *err,
                             size_t errlen);
/* Flushes and syncs the log, waits for a running snapshot, frees. */
void storage_close(struct storage *st);

#endif
