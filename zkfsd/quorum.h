/* The ensemble driver: runs zkfsd as a member of a ZAB ensemble. It carries the pure state
 * machine's effects out (replication/zab.c) over the peer network (replication/peer.c), the
 * member's log and snapshots (storage.c) and the server core (server.c), and turns the
 * core's requests (forwarded writes, session revalidation, sync) into peer messages. */
#ifndef ZKFS_QUORUM_H
#define ZKFS_QUORUM_H

#include <event2/event.h>

#include "zkfsd/config.h"
#include "zkfsd/server.h"

struct quorum;

/* Recovers the member's state (snapshot applied; later logged txns handed to the protocol,
 * which commits them once a leader says so), reads the epoch files, listens on this member's
 * quorum port and starts the election. The server does not serve clients until it follows
 * an established leader or leads one. NULL with a message in err when the configuration or
 * the data cannot be used. */
struct quorum *quorum_open(const struct zk_config *cfg, struct server *srv, struct event_base *base, char *err,
                           size_t errlen);
/* Closes the peer connections, flushes the log, frees. NULL is accepted. */
void quorum_close(struct quorum *q);

#endif
