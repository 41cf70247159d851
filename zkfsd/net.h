/* The client-port driver: a libevent listener, length-prefixed framing with jute.maxbuffer
 * enforced before anything is buffered, four-letter words, per-IP connection limits,
 * back-pressure on clients that do not read, and the clock and timer that feed the core.
 * All protocol decisions are the core's (server.c); this file only moves bytes. */
#ifndef ZKFS_NET_H
#define ZKFS_NET_H

#include "zkfsd/config.h"
#include "zkfsd/server.h"

struct net;

/* Binds the client port of cfg and builds the server core. Returns NULL (logged) on failure. */
struct net *net_new(const struct zk_config *cfg);
/* Runs until SIGINT/SIGTERM; returns 0 on a clean stop. */
int net_run(struct net *n);
void net_free(struct net *n);
/* The core and the event base, for the storage driver. */
struct server *net_server(struct net *n);
struct event_base *net_base(struct net *n);
/* The port actually bound (useful with clientPort=0). */
int net_port(const struct net *n);

#endif
