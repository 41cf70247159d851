/* The ensemble's peer network: one authenticated TCP connection per pair of members, over
 * libevent, carrying the length-framed msgpack messages of msg.h. The member with the lower
 * id connects (from its own address, so that members on 127.0.0.x can be told apart and
 * partitioned), the higher one accepts; a lost connection is retried with backoff. Peers
 * authenticate by a shared secret: the acceptor sends a random CHALLENGE, the connector
 * answers HELLO with its id and SHA-1(secret || nonce || id), and the acceptor welcomes it
 * with an empty PING (only then is either side up); unknown ids, wrong proofs,
 * oversized or malformed frames and silent handshakes close the connection with a log line,
 * and nothing else is affected. Thin I/O shell: the protocol is zab.c's. */
#ifndef ZKFS_REPLICATION_PEER_H
#define ZKFS_REPLICATION_PEER_H

#include <stddef.h>
#include <stdint.h>

#include "replication/msg.h"

struct event_base;
struct peer_net;

struct peer_addr {
    uint64_t id;
    char host[64]; /* numeric IPv4 address */
    uint16_t port; /* its quorum port */
};

struct peer_net_cb {
    void (*up)(void *ctx, uint64_t id);   /* a connection to id is authenticated */
    void (*down)(void *ctx, uint64_t id); /* it is gone: messages in flight are lost */
    /* a message from id; m is valid during the call only */
    void (*msg)(void *ctx, uint64_t id, const struct peer_msg *m);
};

/* Listens on my own address and port (my_id's entry in members, which lists every member,
 * this one included) and starts connecting to the members with higher ids. max_frame bounds
 * every frame received (checked before allocating). secret: the shared secret (copied).
 * Returns NULL with a message in err when the configuration is invalid or the port cannot be
 * bound. */
struct peer_net *peer_net_new(struct event_base *base, uint64_t my_id, const struct peer_addr *members, int n,
                              const uint8_t *secret, size_t secret_len, size_t max_frame, const struct peer_net_cb *cb,
                              void *ctx, char *err, size_t errlen);

/* Queues m for id. ZOK; ZCONNECTIONLOSS when no authenticated connection to id exists (the
 * message is dropped: the protocol starts over after a down/up); ZBADARGUMENTS when m does
 * not encode; ZSYSTEMERROR when out of memory. A peer that lets more than 64 MiB queue up is
 * disconnected. */
int peer_net_send(struct peer_net *pn, uint64_t id, const struct peer_msg *m);

/* Lets the next `bytes` queued for id go beyond the 64 MiB limit: a bulk transfer the caller
 * has bounded itself (a snapshot for a follower), queued at once. The allowance ends when
 * the connection's output has drained. */
void peer_net_allow(struct peer_net *pn, uint64_t id, size_t bytes);

/* Is an authenticated connection to id up? */
int peer_net_is_up(const struct peer_net *pn, uint64_t id);

/* How many handshakes were refused (unknown ids, wrong proofs), for `mntr` and tests. */
long peer_net_refused(const struct peer_net *pn);

/* Closes every connection (no down callbacks) and frees everything. NULL is accepted. */
void peer_net_free(struct peer_net *pn);

#endif
