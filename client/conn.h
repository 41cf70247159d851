/* The pure session state machine of the client library: everything a ZooKeeper client must
 * decide, with no sockets, no clock and no callbacks of its own. The I/O shell (client/io.c)
 * feeds it events — a connection attempt succeeded or ended, bytes arrived, time passed, the
 * caller submitted a request — and drains what it decided: bytes to write (zc_output), and a
 * FIFO of effects (connect to host i, close the connection, complete a request, deliver a
 * watch or state event) that the shell carries out in order.
 *
 * What it implements, as ZooKeeper's Java and C clients do:
 *  - the connect string "h1:2181,[::1]:2182,h3/chroot" (default port 2181, chroot validated),
 *    hosts shuffled with the caller's seed and tried in turn;
 *  - the handshake (ConnectRequest with the last zxid seen, the session id and password when
 *    resuming), the negotiated timeout, SESSIONEXPIRED (a ConnectResponse with timeOut <= 0)
 *    as a terminal state;
 *  - pings when nothing was sent for timeout/3, a read timeout at 2/3 of the timeout and a
 *    connect timeout of timeout/number-of-hosts, each ending the connection and moving on to
 *    the next host (after a 1-2 s pause once every host has failed in a row);
 *  - xids, and replies matched strictly in FIFO order (a mismatch is a protocol error that
 *    ends the connection); requests outstanding when a connection ends fail with
 *    ZCONNECTIONLOSS; requests submitted while disconnected wait and are sent after the next
 *    handshake (they fail with ZCONNECTIONLOSS if that takes longer than the session timeout);
 *  - auth packets (xid -4) replayed on every new connection; AUTHFAILED is terminal;
 *  - the client side of watches: one-shot data/exist/child registrations made only when the
 *    reply says the server set them, persistent and persistent-recursive ones (addWatch),
 *    re-armed on every new connection with SetWatches/SetWatches2 relative to the last zxid
 *    seen, notifications dispatched to the registered watchers (one-shot ones dropped as they
 *    fire), connection state events delivered to every watcher, removeWatches/checkWatches;
 *  - chroot prepended to every request path and stripped from created names, sync paths,
 *    ephemeral lists and event paths;
 *  - every length from the server bounded before anything is allocated.
 *
 * Time is an int64_t of milliseconds from any monotonic origin, passed with every event.
 * Not thread-safe: one thread drives a zc_conn. */
#ifndef ZKFS_CLIENT_CONN_H
#define ZKFS_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "common/jute.h"

struct zc_conn;

/* A watcher as the core sees it: an identity it stores, compares and hands back, never
 * calls. Two registrations with the same fn and ctx are the same watcher (registered once,
 * notified once per event), as in ZooKeeper's clients. fn is the shell's callback type,
 * stored as an opaque function pointer. */
typedef void (*zc_fnptr)(void);
struct zc_watcher {
    zc_fnptr fn; /* NULL: no watcher */
    void *ctx;
};

/* One server address of the connect string: host without brackets, port. */
struct zc_host {
    char *host;
    uint16_t port;
};

/* A parsed connect string. */
struct zc_hostlist {
    struct zc_host *hosts;
    int n;
    char *chroot; /* NULL when none ("/" counts as none) */
};

/* Parses "host[:port][,host[:port]...][/chroot]" as ZooKeeper's ConnectStringParser does:
 * entries are trimmed and empty ones skipped, IPv6 literals are written "[addr]" or
 * "[addr]:port", otherwise the port follows the last ':' ("host:" keeps the default), the
 * port defaults to 2181, everything from the first '/' on is the chroot and must be a valid
 * path (path_validate) unless it is "/".
 * On success out owns malloc'd memory (free with zc_hostlist_free) and ZOK is returned.
 * Returns ZBADARGUMENTS for an empty host list, a bad port or host, or an invalid chroot
 * (out is then empty; *why, when why is not NULL, receives a static English reason), or
 * ZSYSTEMERROR when out of memory. */
int zc_parse_connect_string(const char *s, struct zc_hostlist *out, const char **why);
/* Frees what zc_parse_connect_string allocated and empties hl. */
void zc_hostlist_free(struct zc_hostlist *hl);

/* Parameters of zc_new. Zero fields take the defaults shown. */
struct zc_config {
    int32_t session_timeout; /* requested timeout in ms (30000); the server clamps it */
    uint64_t seed;           /* shuffles the host list and jitters the reconnect pause */
    size_t max_frame;        /* largest frame accepted from or sent to the server, the
                                client's jute.maxbuffer (ZK_DEFAULT_MAXBUFFER) */
    int64_t session_id;      /* non-zero: resume this session with passwd */
    uint8_t passwd[16];
    struct zc_watcher session_watcher; /* receives every connection state event */
};

/* Creates a state machine for connect_string. Nothing happens until zc_start. Returns NULL
 * with *err set (ZBADARGUMENTS for a bad connect string or config, ZSYSTEMERROR when out
 * of memory). */
struct zc_conn *zc_new(const char *connect_string, const struct zc_config *cfg, int *err);
/* Frees the machine, undelivered effects included, without producing effects: cookies of
 * requests still pending are dropped, so a shell that owns memory behind them should first
 * run zc_abort (or zc_close to the end) and drain the effects. NULL is accepted. */
void zc_free(struct zc_conn *c);

/* ---- events in ---- */

/* Begins: queues the first ZC_EFF_CONNECT. Calling it again does nothing. */
void zc_start(struct zc_conn *c, int64_t now);
/* The connection attempt gen (from a ZC_EFF_CONNECT) is established: the core writes the
 * ConnectRequest to the output. Events naming an old gen are ignored. */
void zc_on_connected(struct zc_conn *c, uint32_t gen, int64_t now);
/* Bytes arrived on connection gen (any split: the core reassembles frames). */
void zc_on_data(struct zc_conn *c, uint32_t gen, int64_t now, const void *p, size_t n);
/* Connection gen failed to connect or ended (EOF, error). The shell must not report a
 * connection it was told to close by ZC_EFF_CLOSE. */
void zc_on_disconnected(struct zc_conn *c, uint32_t gen, int64_t now);
/* Time passed: pings, read/connect timeouts, reconnect pauses, stale queued requests. */
void zc_tick(struct zc_conn *c, int64_t now);
/* The next time zc_tick has something to do (absolute, same clock), or -1 for never. */
int64_t zc_next_deadline(const struct zc_conn *c);

/* Submits a request whose paths are the caller's (client-side) paths; the core validates
 * them as ZooKeeper's clients do, prepends the chroot, assigns the xid and encodes it at
 * once: req and everything it points to are only read during the call.
 * Allowed types: create, create2, createContainer, createTTL, delete, exists, getData,
 * setData, getACL, setACL, getChildren, getChildren2, sync, multi (create*, delete, setData,
 * check ops), multiRead (getData, getChildren ops), addWatch, removeWatches, checkWatches,
 * getEphemerals, getAllChildrenNumber, whoAmI. req->xid and req->watch are ignored.
 * w (may be NULL or have fn NULL): for exists/getData/getChildren(2) the watcher to register
 * if the server sets the watch (the request then asks for one); for addWatch the watcher to
 * register (required); for removeWatches/checkWatches the watcher to remove, or none for
 * all watchers of req->mode's type on the path. local (removeWatches/checkWatches only):
 * remove the local registrations even when the server cannot be asked or answers an error.
 * cookie: returned in the request's ZC_EFF_REPLY; NULL means no reply effect is wanted.
 * Returns ZOK (exactly one ZC_EFF_REPLY will follow if cookie is not NULL), or without any
 * effect: ZBADARGUMENTS (invalid path, mode, TTL, op type, or a frame above max_frame),
 * ZINVALIDACL (create/setACL with no ACL), ZSESSIONEXPIRED / ZAUTHFAILED (the handle is
 * dead), ZCLOSING (zc_close was called), ZSYSTEMERROR (out of memory). */
int zc_submit(struct zc_conn *c, int64_t now, const struct zk_request *req, const struct zc_watcher *w, int local,
              void *cookie);

/* Adds credentials (auth packet, xid -4) sent now if connected and again after every
 * reconnect; cookie's ZC_EFF_REPLY comes with the first answer (ZOK or ZAUTHFAILED, which
 * also kills the handle) or when the handle dies. scheme and cred are copied.
 * Returns ZOK, ZBADARGUMENTS (scheme NULL or empty, credlen < 0 or too long), ZSESSIONEXPIRED,
 * ZAUTHFAILED, ZCLOSING, ZSYSTEMERROR. */
int zc_add_auth(struct zc_conn *c, int64_t now, const char *scheme, const void *cred, int32_t credlen, void *cookie);

/* Closes the session: when connected, sends closeSession and lets the replies of requests
 * already sent arrive first; requests not yet sent fail with ZCLOSING. cookie's ZC_EFF_REPLY
 * comes last, with ZOK (the server confirmed, or there was no session to close) or
 * ZCONNECTIONLOSS (the connection ended first; the session will expire on the server).
 * Returns ZOK, or ZCLOSING when already closing or closed (no effect). On a handle already
 * dead (expired, auth failed) it completes at once with ZOK. */
int zc_close(struct zc_conn *c, int64_t now, void *cookie);
/* Ends everything now, without telling the server: every pending request and auth fails
 * with ZCLOSING, the connection is closed, the state becomes ZSTATE_CLOSED. Idempotent. */
void zc_abort(struct zc_conn *c);

/* ---- effects out ---- */

enum zc_eff_kind {
    ZC_EFF_CONNECT, /* open connection gen to hosts[host] (closing any current one first) */
    ZC_EFF_CLOSE,   /* close connection gen; report nothing more about it */
    ZC_EFF_REPLY,   /* a request, auth or close finished: cookie, rc, res */
    ZC_EFF_WATCH,   /* call watcher with (type, state, path) */
    ZC_EFF_STATE,   /* the session state changed to state (for the shell's bookkeeping;
                       the watchers get it as ZC_EFF_WATCH with type ZEV_NONE) */
};

struct zc_effect {
    enum zc_eff_kind kind;
    uint32_t gen;              /* CONNECT, CLOSE */
    int host;                  /* CONNECT: index into zc_hosts() */
    void *cookie;              /* REPLY */
    int rc;                    /* REPLY */
    int32_t op;                /* REPLY: the opcode answered (ZOP_AUTH for auth, ZOP_CLOSESESSION) */
    struct zk_response res;    /* REPLY: decoded body when rc allows, client paths; owned */
    struct zc_watcher watcher; /* WATCH */
    int type;                  /* WATCH: ZEV_* */
    int state;                 /* WATCH, STATE: ZSTATE_* */
    char *path;                /* WATCH: client path, owned (NULL for state events) */
};

/* Pops the oldest effect into *out (which the caller then owns: release with
 * zc_effect_clear). Returns 1, or 0 when there is none. */
int zc_next_effect(struct zc_conn *c, struct zc_effect *out);
/* Frees what a popped effect owns (res, path) and zeroes it. */
void zc_effect_clear(struct zc_effect *e);
/* 1 when effects are waiting. */
int zc_has_effects(const struct zc_conn *c);

/* Bytes to write on the current connection, in order; valid until the next call into the
 * core. zc_output_consumed(c, n) drops the first n. Output is discarded whenever the core
 * closes a connection, so it always belongs to the current one. */
const uint8_t *zc_output(const struct zc_conn *c, size_t *len);
void zc_output_consumed(struct zc_conn *c, size_t n);

/* ---- inspection ---- */

/* ZSTATE_SYNC_CONNECTED, ZSTATE_DISCONNECTED (connecting or waiting to), ZSTATE_EXPIRED,
 * ZSTATE_AUTH_FAILED or ZSTATE_CLOSED (also while closing). */
int zc_state(const struct zc_conn *c);
/* 1 once the state is final (expired, auth failed, closed): nothing more will happen. */
int zc_is_dead(const struct zc_conn *c);
/* The session id: 0 until the first handshake (or the one given to resume). */
int64_t zc_session_id(const struct zc_conn *c);
/* The 16-byte session password (valid while c lives). */
const uint8_t *zc_session_passwd(const struct zc_conn *c);
/* Negotiated timeout once connected, else the requested one. */
int32_t zc_timeout(const struct zc_conn *c);
/* The zxid of the last reply matched (sent as lastZxidSeen and SetWatches' relativeZxid). */
int64_t zc_last_zxid(const struct zc_conn *c);
/* The parsed connect string, hosts in the shuffled order ZC_EFF_CONNECT indexes. */
const struct zc_hostlist *zc_hosts(const struct zc_conn *c);
/* The host index of the current (or last) connection attempt, -1 before the first. */
int zc_current_host(const struct zc_conn *c);
/* Number of requests sent and awaiting replies, and of requests queued while disconnected. */
size_t zc_outstanding(const struct zc_conn *c);
size_t zc_queued(const struct zc_conn *c);
/* Number of client paths registered for a watch kind (ZW_DATA .. ZW_PERSISTENT_RECURSIVE). */
size_t zc_watch_count(const struct zc_conn *c, int kind);

/* Pause after every host failed in a row, plus up to as much again of seeded jitter. */
#define ZC_RECONNECT_PAUSE_MS 1000
/* SetWatches batches stop growing past this many path bytes (as the Java client does), so
 * no packet exceeds the server's jute.maxbuffer. */
#define ZC_SET_WATCHES_MAX_LENGTH (128 * 1024)

#endif
