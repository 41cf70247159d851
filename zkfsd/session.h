/* The session table, as ZooKeeper's SessionTrackerImpl with its ExpiryQueue: sessions by id,
 * each filed under a deadline rounded up to the next tick (so sessions expire in batches, with
 * up to a tick of grace), the batches kept in deadline order so that finding what expired
 * costs only what expired and the driver's timer can sleep until the exact next deadline.
 * A pure state machine: no I/O, no clock reads; the current time (monotonic, in ms) is an
 * argument. Not thread-safe: the server's event loop owns it. */
#ifndef ZKFS_SESSION_H
#define ZKFS_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct sess_bucket;

struct zk_session {
    int64_t id;
    int32_t timeout_ms;
    /* The deadline bucket (a multiple of the tick) the session is filed under, or was filed
     * under when it was reported expired. */
    int64_t expire_at;
    /* closeSession or expiry under way: touches are refused from now on. */
    int closing;
    /* The connection holding the session (opaque), NULL when detached. The table never
     * dereferences it; the server sets it (directly or through sess_set_owner). */
    void *owner;
    /* Ensemble: the member whose client connection holds the session (ZSESSIONMOVED for
     * requests from elsewhere), 0 when unknown; and a mark for the server's own use
     * (batching touches for the leader). The table never reads either. */
    int64_t holder;
    uint32_t mark;
    /* private to session.c: the bucket list the session sits in (NULL once reported) */
    struct sess_bucket *bucket;
    struct zk_session *bprev, *bnext;
};

struct sess_table;

/* Creates an empty table whose deadlines round up to multiples of tick_ms (tickTime).
 * The first id is ZooKeeper's SessionTrackerImpl.initializeNextSessionId: the low byte of
 * server_id in the top byte, the low 40 bits of now_ms in the next five bytes, two zero low
 * bytes. ZooKeeper seeds from its elapsed-time clock; pass wall-clock ms here, which unlike a
 * monotonic clock also moves on across reboots, so ids are not handed out twice. The caller
 * validates server_id (ZooKeeper allows 0..254 when TTL nodes are enabled: a 0xff top byte
 * would read as a TTL owner). Returns NULL when tick_ms <= 0 or out of memory. */
struct sess_table *sess_new(int32_t tick_ms, int64_t server_id, int64_t now_ms);
/* Frees the table and every session in it (NULL is accepted). Owners are not touched. */
void sess_free(struct sess_table *t);

/* Allocates the next session id (ZooKeeper's nextSessionId.getAndIncrement), skipping 0 (the
 * "new session" id of a ConnectRequest), the container owner id and ids in the table. Does
 * not add the session. */
int64_t sess_next_id(struct sess_table *t);

/* Adds a live session due at now_ms + timeout_ms rounded up to the next tick (a deadline on
 * a tick boundary still moves to the next one, as ExpiryQueue.roundToNextInterval).
 * Returns ZOK; ZNODEEXISTS when id is present (unchanged); ZBADARGUMENTS for id 0 or a
 * negative timeout; ZSYSTEMERROR when out of memory (table unchanged). */
int sess_add(struct sess_table *t, int64_t id, int32_t timeout_ms, int64_t now_ms);

/* Returns the session, or NULL. The pointer stays valid until sess_remove/sess_free of it;
 * callers may change owner but must change nothing else. */
struct zk_session *sess_get(const struct sess_table *t, int64_t id);

/* Moves the deadline to now_ms + timeout rounded up to the next tick (every request and
 * ping does this). Returns ZOK; ZSESSIONEXPIRED when the session is unknown or closing;
 * ZSYSTEMERROR when out of memory (the session keeps its old deadline). */
int sess_touch(struct sess_table *t, int64_t id, int64_t now_ms);

/* Marks the session closing (its closeSession is under way): no more touches. As in
 * ZooKeeper it stays filed under its deadline, so a close that has not been applied by then
 * is reported by sess_expired (once) and can be retried. Returns ZOK, or ZSESSIONEXPIRED
 * when unknown. */
int sess_set_closing(struct sess_table *t, int64_t id);

/* Forgets the session (its closeSession was applied) and frees it. Returns ZOK, or
 * ZSESSIONEXPIRED when unknown. */
int sess_remove(struct sess_table *t, int64_t id);

/* Writes into out (up to max ids) the sessions whose deadline is <= now_ms, earliest
 * deadline first, takes them out of the deadline queue and marks them closing, so each is
 * reported exactly once; the caller then closes them (ZooKeeperServer.expire). Closing
 * sessions are reported too when their deadline passes before sess_remove (see
 * sess_set_closing). Returns the count; call again while it returns max. */
size_t sess_expired(struct sess_table *t, int64_t now_ms, int64_t *out, size_t max);

/* The earliest deadline of a queued session (the driver's next timer), or INT64_MAX when no
 * session is queued. Exact: buckets emptied by touches or removals do not count. */
int64_t sess_next_deadline(const struct sess_table *t);

/* ZooKeeper's SessionTrackerImpl.checkSession as a global session sees it: ZSESSIONEXPIRED
 * when the session is unknown or closing, ZSESSIONMOVED when another connection owns it;
 * otherwise takes ownership for owner when it has none and returns ZOK. */
int sess_check(struct sess_table *t, int64_t id, void *owner);
/* setOwner: ZSESSIONEXPIRED when unknown or closing; otherwise owner (may be NULL) becomes
 * the owner and ZOK is returned. */
int sess_set_owner(struct sess_table *t, int64_t id, void *owner);

/* A session's password, derived rather than stored so any restart can check it (ZooKeeper
 * seeds java.util.Random with id ^ a fixed secret): the first 16 bytes of
 * SHA-1(secret[0..16) || id as 8 big-endian bytes). The derivation is fixed, so clients keep
 * their sessions across upgrades; with a fixed secret, as in ZooKeeper, anyone knowing the
 * secret and an id can compute its password. */
void sess_password(int64_t id, const uint8_t secret[16], uint8_t out[16]);

/* Calls fn for every session, in no particular order (for snapshots, `cons`, `dump`). fn
 * must not add or remove sessions. */
void sess_foreach(const struct sess_table *t, void (*fn)(void *ctx, const struct zk_session *s), void *ctx);

/* Calls fn for every queued session in deadline order, grouped by bucket (s->expire_at
 * tells the bucket), as ExpiryQueue.dump lists them for `dump`. Sessions already reported
 * expired are not queued and not listed. fn must not modify the table. Returns ZOK, or
 * ZSYSTEMERROR when out of memory (nothing was called). */
int sess_foreach_by_deadline(const struct sess_table *t, void (*fn)(void *ctx, const struct zk_session *s), void *ctx);

/* Sessions in the table, closing ones included. */
size_t sess_count(const struct sess_table *t);
/* Distinct deadlines sessions are queued under (the "Sets" count of ZooKeeper's dump). */
size_t sess_bucket_count(const struct sess_table *t);

#endif
