/* ZAB-style replication as one pure state machine: fast leader election, discovery (a new
 * epoch above any a quorum accepted), synchronisation (DIFF, TRUNC or SNAP to the leader's
 * history, NEWLEADER acknowledged by a quorum before anything new is proposed) and atomic
 * broadcast (PROPOSAL, ACK, COMMIT in zxid order; INFORM for observers).
 *
 * No I/O, no clock, no threads: zab_step() takes one event with the current (monotonic)
 * time and appends effects (messages to send, log appends and truncations, epochs to
 * persist, commits to apply, snapshots to send or install) for the driver to carry out in
 * order. The driver reports back with events (a message received, a peer connected or lost,
 * the log durable up to a zxid, a tick). Transactions are opaque byte strings here.
 *
 * Channels are assumed FIFO and lossless while connected (TCP): a lost message means a lost
 * connection, reported as ZE_PEER_DOWN, after which the two sides start over. */
#ifndef ZKFS_REPLICATION_ZAB_H
#define ZKFS_REPLICATION_ZAB_H

#include <stddef.h>
#include <stdint.h>

#include "replication/msg.h"

#define ZAB_MAX_PEERS 16

enum zab_role { ZAB_LOOKING = 0, ZAB_FOLLOWING = 1, ZAB_LEADING = 2, ZAB_OBSERVING = 3 };

/* Peer messages: the wire's numbering (msg.h's PM_*); the fields each uses here:
 *   PM_VOTE         leader, zxid, epoch (the vote's peer epoch), round, state
 *   PM_FOLLOWERINFO epoch (accepted), zxid (last logged), observer
 *   PM_LEADERINFO   epoch (the new one)
 *   PM_ACKEPOCH     epoch (current), zxid (last logged)
 *   PM_DIFF         zxid: proposals after it follow
 *   PM_TRUNC        zxid: drop the log after it; proposals follow
 *   PM_SNAP         zxid: a snapshot at zxid follows (the driver streams it)
 *   PM_NEWLEADER    zxid = epoch << 32
 *   PM_ACK          zxid: logged durably up to it (NEWLEADER's zxid: that one)
 *   PM_UPTODATE
 *   PM_PROPOSAL     zxid, txn
 *   PM_COMMIT       zxid: everything up to it is committed
 *   PM_INFORM       zxid, txn: committed (observers)
 *   PM_PING */

struct zab_msg {
    int type;
    uint64_t leader, zxid, epoch, round;
    int state, observer;
    const uint8_t *txn; /* borrowed: valid during zab_step / until the effects are drained */
    size_t txnlen;
};

struct zab_config {
    uint64_t my_id;
    int nvoters;
    uint64_t voters[ZAB_MAX_PEERS];
    int nobservers;
    uint64_t observers[ZAB_MAX_PEERS];
    int64_t tick_ms;
    int init_limit, sync_limit; /* in ticks, as zoo.cfg */
    int64_t finalize_ms;        /* how long a quorum's vote must stand before deciding (200) */
    size_t max_window;          /* txns kept in memory for DIFF; older followers get SNAP */
};

enum zab_event_kind {
    ZE_START,     /* after zab_new: starts the election */
    ZE_TICK,      /* time passed */
    ZE_RECV,      /* msg from peer */
    ZE_PEER_UP,   /* a connection to peer exists (either direction) */
    ZE_PEER_DOWN, /* it broke: messages in flight are lost */
    ZE_DURABLE,   /* the log is durable up to zxid */
    ZE_PROPOSE,   /* (leader) a new txn: txn/txnlen; refused with -1 unless established */
    ZE_SNAP_DONE, /* (follower) the snapshot announced by ZM_SNAP is installed */
};

struct zab_event {
    enum zab_event_kind kind;
    uint64_t peer;
    struct zab_msg msg;
    uint64_t zxid;
    const uint8_t *txn;
    size_t txnlen;
};

enum zab_effect_kind {
    ZX_SEND,             /* peer, msg (txn borrowed from the state machine's window) */
    ZX_LOG_APPEND,       /* zxid, txn: append (not yet durable: report ZE_DURABLE later) */
    ZX_LOG_TRUNCATE,     /* zxid: drop every logged txn after it */
    ZX_PERSIST_EPOCHS,   /* epoch = accepted, zxid = current epoch: write both atomically */
    ZX_COMMIT,           /* zxid, txn: apply it (in zxid order, exactly once) */
    ZX_SEND_SNAPSHOT,    /* peer, zxid: stream the committed state at zxid (after ZM_SNAP) */
    ZX_INSTALL_SNAPSHOT, /* zxid: replace state and log with the snapshot being received */
    ZX_ROLE,             /* role changed to epoch=role (for the driver's mode and clients) */
};

struct zab_effect {
    enum zab_effect_kind kind;
    uint64_t peer;
    struct zab_msg msg;
    uint64_t zxid, epoch;
    const uint8_t *txn;
    size_t txnlen;
};

struct zab;

/* The persistent state the driver recovered: both epochs and the last logged txns (the
 * newest up to max_window, in zxid order; first_zxid - 1 is the zxid of the state they
 * start from, i.e. the snapshot's). Everything logged counts as durable. Copies what it
 * keeps. NULL when out of memory or the configuration is invalid (my_id neither a voter
 * nor an observer, duplicate ids, more than ZAB_MAX_PEERS). */
struct zab *zab_new(const struct zab_config *cfg, uint64_t accepted_epoch, uint64_t current_epoch, uint64_t base_zxid,
                    uint64_t committed_zxid, const uint64_t *zxids, const uint8_t *const *txns, const size_t *lens,
                    size_t n, int64_t now_ms);
void zab_free(struct zab *z);

/* Feeds one event. Effects are appended to the state machine's queue (see zab_effects).
 * Returns 0, or -1 for a refused ZE_PROPOSE (not an established leader). */
int zab_step(struct zab *z, const struct zab_event *ev, int64_t now_ms);

/* The queued effects, oldest first; they stay valid until zab_effects_clear, which the
 * driver calls after carrying them out. */
const struct zab_effect *zab_effects(const struct zab *z, size_t *n);
void zab_effects_clear(struct zab *z);

/* When the driver should call again with ZE_TICK at the latest. */
int64_t zab_next_deadline(const struct zab *z);

/* Introspection for the driver's four-letter words and for tests. */
enum zab_role zab_role(const struct zab *z);
uint64_t zab_leader(const struct zab *z); /* 0 when none */
int zab_established(const struct zab *z); /* leader: a quorum acknowledged NEWLEADER */
int zab_serving(const struct zab *z);     /* follower/observer: UPTODATE received */
uint64_t zab_current_epoch(const struct zab *z);
uint64_t zab_accepted_epoch(const struct zab *z);
uint64_t zab_last_zxid(const struct zab *z);
uint64_t zab_committed_zxid(const struct zab *z);
/* Leader: followers in sync (NEWLEADER acknowledged), voters among them. */
int zab_synced_followers(const struct zab *z, int *voters);
/* The i-th other member (0 <= i): its id, whether it is connected, whether it is a voter,
 * and, on a leader, whether it is in sync and how many logged txns it has not acknowledged
 * yet (observers: not yet sent). Returns 0, or -1 past the last member. */
int zab_peer_status(const struct zab *z, int i, uint64_t *id, int *up, int *voter, int *synced, uint64_t *lag);

#endif
