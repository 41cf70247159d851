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

/* Formats the answer to a four-letter word into a malloc'd string (the caller frees), or
 * returns NULL for an unknown word. Whitelisting is the driver's job. */
char *server_4lw(struct server *s, const char *cmd, const char *config_text);

#endif
