/* The session table, as ZooKeeper's SessionTrackerImpl with its ExpiryQueue: sessions by id,
 * deadlines rounded up to tick buckets so that finding the expired ones costs only what
 * expired. Pure: the current (monotonic) time in ms is passed in. */
#ifndef ZKFS_SESSION_H
#define ZKFS_SESSION_H

#include <stddef.h>
#include <stdint.h>

struct zk_session {
    int64_t id;
    int32_t timeout_ms;
    int64_t expire_at; /* the bucket the session sits in (a multiple of the tick) */
    int closing;       /* closeSession or expiry under way: not touchable, not reported again */
    void *owner;       /* the connection holding it, NULL when detached */
    struct zk_session *bprev, *bnext; /* bucket list */
};

struct sess_table;

/* server_id goes into the top byte of every id; now_wall_ms seeds the rest so ids do not
 * repeat across restarts (SessionTrackerImpl.initializeNextSessionId). NULL when out of memory. */
struct sess_table *sess_new(int32_t tick_ms, int64_t server_id, int64_t now_wall_ms);
void sess_free(struct sess_table *t);

/* Allocates the next id (does not add it). */
int64_t sess_next_id(struct sess_table *t);
/* Adds a live session expiring timeout_ms after now. ZNODEEXISTS if present, ZSYSTEMERROR on OOM. */
int sess_add(struct sess_table *t, int64_t id, int32_t timeout_ms, int64_t now_ms);
struct zk_session *sess_get(const struct sess_table *t, int64_t id);
/* Pushes the deadline to now + timeout. ZSESSIONEXPIRED when unknown or closing. */
int sess_touch(struct sess_table *t, int64_t id, int64_t now_ms);
/* Marks closing: no further touches, never reported as expired. ZSESSIONEXPIRED when unknown. */
int sess_set_closing(struct sess_table *t, int64_t id);
/* Forgets the session. ZSESSIONEXPIRED when unknown. */
int sess_remove(struct sess_table *t, int64_t id);
/* Fills out (up to max) with ids whose deadline passed, marking them closing so each is
 * reported once; returns the count (call again while it returns max). */
size_t sess_expired(struct sess_table *t, int64_t now_ms, int64_t *out, size_t max);
/* The earliest time a session may expire, INT64_MAX when none can. */
int64_t sess_next_deadline(const struct sess_table *t);
/* A session's password: the first 16 bytes of SHA-1(secret || id), so any server holding the
 * secret can check it without storing it (ZooKeeper derives its passwords the same way). */
void sess_password(int64_t id, const uint8_t secret[16], uint8_t out[16]);
/* Calls fn for every session (no modification of t during the walk). */
void sess_foreach(const struct sess_table *t, void (*fn)(void *ctx, const struct zk_session *s), void *ctx);
size_t sess_count(const struct sess_table *t);

#endif
