/* The server core: ZooKeeper's request pipeline over the pure tree, session table, watch table
 * and prep, driven by events (a decoded frame arrived, a connection closed, time passed, txns
 * became durable) and producing effects through the io callbacks (send bytes, close). No
 * sockets, no clock reads: net.c feeds it, tests can drive it directly.
 *
 * Ordering rules it keeps, as ZooKeeper does: replies on a connection leave in request order;
 * a read issued after a write on the same connection sees that write; a watch event reaches a
 * client before any reply that shows the change; txns apply in zxid order. */
#ifndef ZKFS_SERVER_H
#define ZKFS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zkfsd/acl.h"
#include "zkfsd/prep.h"
#include "zkfsd/session.h"
#include "zkfsd/tree.h"
#include "zkfsd/watch.h"

struct zconn;
struct server;

/* What the server is in its ensemble. LOOKING: not serving (no quorum, electing or syncing):
 * client connections are refused. Only STANDALONE and LEADING prepare txns, expire sessions
 * and sweep containers; FOLLOWING and OBSERVING forward writes to the leader and apply what
 * it commits. */
enum server_mode { SRV_STANDALONE = 0, SRV_LOOKING, SRV_LEADING, SRV_FOLLOWING, SRV_OBSERVING };

/* The ensemble driver's side (quorum.c); all NULL in standalone. Calls are requests: the
 * answers come back through server_apply_committed, server_revalidated, server_synced.
 *
 * A forwarded request's body: int32 count, count x (string scheme, string id) of the
 * connection's identities, then the request frame as the client sent it (xid, type,
 * body). For ZOP_CREATESESSION the body is the int32 negotiated timeout. */
struct server_repl {
    void *ctx;
    void (*forward)(void *ctx, int64_t session, int32_t cxid, int32_t op, const uint8_t *body, size_t n);
    void (*revalidate)(void *ctx, int64_t session, int32_t timeout);
    void (*sync)(void *ctx, int64_t session, int32_t cxid);
    /* Appends the ensemble's lines to `srvr` (kind 0: "Mode: ...") or `mntr` (kind 1). */
    void (*describe)(void *ctx, int kind, char *buf, size_t n);
};

/* What the core asks of its driver. */
struct server_io {
    void *ctx;
    /* Queue bytes for the connection (the core never blocks). */
    void (*send)(void *ctx, struct zconn *c, const uint8_t *p, size_t n);
    /* Close the connection once its queued bytes are written. */
    void (*close)(void *ctx, struct zconn *c);
    /* Hand a prepared txn to the log; the driver later calls server_durable(zxid). NULL means
     * in-memory: the txn counts as durable at once. */
    void (*log_append)(void *log_ctx, const struct txn *x);
    void *log_ctx;
};

struct server_opts {
    int32_t tick_ms;
    int32_t min_session_timeout, max_session_timeout;
    int32_t max_buffer;         /* jute.maxbuffer */
    const char *super_digest;   /* "super:base64", or NULL */
    bool ttl_enabled;           /* extendedTypesEnabled */
    int32_t container_check_ms; /* how often empty containers and expired TTL nodes are swept */
    int64_t server_id;          /* 0 standalone */
};

/* Per-connection statistics shown by `cons`. */
struct zconn_stats {
    uint64_t packets_received, packets_sent;
    int64_t established_ms; /* wall */
    int32_t last_cxid;
    int64_t last_zxid;
    int32_t last_op;
    int64_t last_response_ms; /* wall */
    int64_t lat_min, lat_max, lat_sum, lat_count; /* ms */
};

struct zconn {
    struct server *srv;
    void *io;              /* the driver's handle */
    char remote[ACL_IP_ID_MAX + 8]; /* "127.0.0.1:54321" */
    char remote_ip[ACL_IP_ID_MAX];
    int refs;
    bool closed;           /* the driver let go; nothing more is sent */
    bool handshaken;       /* ConnectRequest seen */
    bool ready;            /* session established: requests accepted */
    bool closing;          /* closeSession/expiry under way: no more requests */
    bool old_client;       /* no readOnly byte in its ConnectRequest */
    bool awaiting_session; /* follower: its createSession went to the leader */
    bool revalidating;     /* follower: the leader is asked whether its session lives */
    int64_t session;
    int32_t timeout;
    struct zk_auth auth;
    struct preq *qhead, *qtail; /* requests in arrival order, not yet answered */
    int inflight;               /* writes of this connection awaiting commit */
    size_t nqueued;             /* requests in qhead..qtail */
    struct early *early;        /* frames that arrived before the session was established */
    struct zconn_stats st;
    struct zconn *next, *prev;
};

struct server_stats {
    uint64_t packets_received, packets_sent, outstanding;
    int64_t lat_min, lat_max, lat_sum, lat_count;
    uint64_t connections_total, bad_frames;
    int64_t started_ms;
};

struct server {
    struct server_opts opts;
    struct server_io io;
    struct ztree tree;
    struct prep prep;
    struct sess_table *sessions;
    struct watch_table *watches;
    struct zconn *conns; /* all live connections */
    size_t nconns;
    struct ptxn *chead, *ctail; /* txns prepared, awaiting durability, in zxid order */
    int64_t now_mono, now_wall;  /* set by the driver before every event */
    int64_t last_sweep;          /* monotonic time of the last container sweep */
    uint8_t secret[16];          /* session password key */
    struct server_stats st;
    enum server_mode mode;
    uint64_t epoch;              /* the ensemble epoch of the mode */
    struct server_repl repl;
    /* follower: sessions touched since the driver last took them (for the leader's pings) */
    int64_t *touched;
    size_t ntouched, ctouched;
    uint32_t touch_gen;
};

/* Creates the core with the initial tree; returns NULL when out of memory. */
struct server *server_new(const struct server_opts *opts, const struct server_io *io, int64_t now_mono,
                          int64_t now_wall);
void server_free(struct server *s);

/* Attaches the transaction log (after recovery): from now on every txn goes through it. */
void server_set_log(struct server *s, void (*log_append)(void *log_ctx, const struct txn *x), void *log_ctx);
/* Recovery: applies a txn read back from the log (no replies, no watches; sessions restart
 * their timeouts from the current time). */
void server_replay(struct server *s, const struct txn *x);
/* Recovery is over: new txns continue after the last replayed zxid. */
void server_recovered(struct server *s);

/* Time passes: the driver calls this before each event. */
void server_set_time(struct server *s, int64_t now_mono, int64_t now_wall);

/* A new client connection (remote "ip:port"); the core holds one reference until closed. */
struct zconn *server_conn_open(struct server *s, void *io, const char *remote_ip, int remote_port);
/* The connection is gone (peer closed, error, or after io->close): releases its watches and
 * detaches its session, which lives on until its timeout. */
void server_conn_closed(struct server *s, struct zconn *c);

/* One complete frame (without its length prefix) from the client. The bytes are copied if
 * needed. Returns 0, or -1 when the connection must be closed (malformed frame: logged). */
int server_frame(struct server *s, struct zconn *c, const uint8_t *p, size_t n);

/* Expires sessions whose deadline passed and sweeps empty containers / expired TTL nodes;
 * returns the monotonic time of the next deadline (for the driver's timer). */
int64_t server_tick(struct server *s);

/* Every txn up to zxid is durable: apply, fire watches, answer. */
void server_durable(struct server *s, int64_t zxid);

/* The zxid of the last applied txn (reply headers carry it). */
static inline int64_t server_last_zxid(const struct server *s) { return s->tree.last_zxid; }

/* ---- ensemble (see quorum.c) ---- */

void server_set_repl(struct server *s, const struct server_repl *r);
/* Enters mode in epoch. Any change closes every client connection (clients reconnect to a
 * serving member, where their global sessions live on) and forgets txns still waiting for a
 * commit here (their connections are closed with them); LEADING starts numbering at
 * epoch << 32 and gives every session a fresh timeout (no expiry for a failover). */
void server_set_mode(struct server *s, enum server_mode m, uint64_t epoch);
/* A txn the leader committed (its encoding): applied in order, watches fire, and a local
 * client waiting for it (its write, its createSession) is answered. Not for txns this
 * server prepared itself (server_durable). -1 when the bytes do not decode. */
int server_apply_committed(struct server *s, const uint8_t *p, size_t n);
/* The ensemble committed zxid (p, n: its encoding): completes this server's own pending
 * txn of that zxid (server_durable), or applies it as server_apply_committed does. -1 when
 * the bytes do not decode, or when it contradicts this server's pending txns (a bug). */
int server_commit(struct server *s, int64_t zxid, const uint8_t *p, size_t n);
/* Leader: a request forwarded by member `from` (body as in struct server_repl): prepared
 * like a local one, and every outcome, errors included, becomes a txn that the member
 * learns from its commit. */
void server_remote_request(struct server *s, int64_t from, int64_t session, int32_t cxid, int32_t op,
                           const uint8_t *body, size_t n);
/* Leader: member `from` saw traffic of session (its pings). */
void server_remote_touch(struct server *s, int64_t from, int64_t session);
/* Leader: is session alive for a client reconnecting at member `from`? If so it is touched
 * and now held there (its connections here are closed: the session moved). */
bool server_remote_revalidate(struct server *s, int64_t from, int64_t session);
/* Follower: the leader's answers to server_repl.revalidate / .sync. */
void server_revalidated(struct server *s, int64_t session, bool valid);
void server_synced(struct server *s, int64_t session, int32_t cxid);
/* Follower: takes the sessions touched since the last call (*ids valid until the next). */
size_t server_take_touched(struct server *s, const int64_t **ids);
/* Discards the tree and session table for fresh empty ones (a snapshot is installed next).
 * Returns -1 when out of memory (fatal for the caller). */
int server_clear_state(struct server *s);

/* Formats the answer to a four-letter word into a malloc'd string (the caller frees), or
 * returns NULL for an unknown word. Whitelisting is the driver's job. */
char *server_4lw(struct server *s, const char *cmd, const char *config_text);

#endif
