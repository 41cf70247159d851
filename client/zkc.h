/* zkc: the project's ZooKeeper client library (the base of zkfs-mount). It speaks
 * ZooKeeper's client protocol to zkfsd or to Apache ZooKeeper 3.6+ and does not use
 * libzookeeper: the session logic is the pure state machine of client/conn.h and the
 * network is libevent (client/io.h).
 *
 * Model. A handle (zkc_t) is one session over one TCP connection at a time, driven by a
 * libevent event_base. Calls are asynchronous: each returns at once with ZOK, meaning its
 * completion will run exactly once later from the event loop, or with an error code and
 * the completion will never run. A small blocking layer (the *_wait functions) runs the
 * loop until the answer arrives, for tools and tests.
 *
 * Threads: a handle is not thread-safe. Call it only from the thread that runs its
 * event_base (for a handle with its own base, the thread calling the *_wait functions).
 * The *_wait functions and zkc_close must not be called from a completion or a watcher
 * (they return ZAPIERROR there).
 *
 * Paths are the caller's: with a chroot in the connect string ("h:2181/app") every path
 * given is under the chroot and every path returned (created names, sync, ephemerals, watch
 * events) has it removed. Paths are validated as ZooKeeper's clients do (ZBADARGUMENTS).
 *
 * Errors are the codes of common/zerr.h, ZooKeeper's: server answers (ZNONODE, ZNODEEXISTS,
 * ZBADVERSION, ZNOAUTH, ZNOTEMPTY, ZNOCHILDRENFOREPHEMERALS, ZINVALIDACL, ZUNIMPLEMENTED...)
 * plus the client's own: ZCONNECTIONLOSS (the connection ended while the request was
 * outstanding, or it waited a session timeout for one; the outcome of a write is then
 * unknown), ZSESSIONEXPIRED and ZAUTHFAILED (the handle is dead), ZCLOSING (the handle is
 * closing), ZBADARGUMENTS (invalid argument, rejected before sending), ZINVALIDACL (empty
 * ACL), ZSYSTEMERROR (out of memory), ZMARSHALLINGERROR (the server's reply could not be
 * decoded; the connection is dropped), ZNOWATCHER (removeWatches found nothing),
 * ZOPERATIONTIMEOUT (a *_wait timeout), ZAPIERROR (a call made where it is not allowed).
 *
 * Writes to a socket whose peer went away raise SIGPIPE: programs using zkc should ignore
 * SIGPIPE, as libevent programs generally do. */
#ifndef ZKFS_CLIENT_ZKC_H
#define ZKFS_CLIENT_ZKC_H

#include <stddef.h>
#include <stdint.h>

#include "common/jute.h"
#include "common/zerr.h"

struct event_base;
typedef struct zkc zkc_t;

/* A watcher. type is ZEV_CREATED, ZEV_DELETED, ZEV_CHANGED, ZEV_CHILD, a *_WATCH_REMOVED
 * type after removeWatches, or ZEV_NONE for a connection state change; state is
 * ZSTATE_SYNC_CONNECTED for node events, else the new state (ZSTATE_SYNC_CONNECTED,
 * ZSTATE_DISCONNECTED, ZSTATE_EXPIRED, ZSTATE_AUTH_FAILED, ZSTATE_CLOSED). path is the client
 * path of the node (NULL for state events), valid during the call only.
 * A watcher is identified by (fn, ctx): registering the same pair twice on a path is one
 * registration, notified once. One-shot watches (exists, get_data, get_children) fire at
 * most once and only if the request that set them succeeded (exists also on ZNONODE);
 * persistent ones (zkc_add_watch) fire until removed. Every state change is delivered to the
 * session watcher and to every watcher still registered (as ZooKeeper does, since
 * registered watches cannot fire while disconnected). Watches survive reconnects: they are
 * re-armed on the new server, which fires at once those whose node changed meanwhile. */
typedef void (*zkc_watcher_fn)(zkc_t *zh, int type, int state, const char *path, void *ctx);

/* A completion. rc is ZOK or an error code (see above); res is the decoded answer, owned by
 * the library and valid during the call only (copy what you keep):
 *   create:            res->path (the created name, sequential suffix included), res->stat
 *   delete, set_acl's rc only; set_data, exists: res->stat (exists: rc ZNONODE when absent)
 *   get_data:          res->data (NULL for a null datum), res->datalen (-1 for null), res->stat
 *   get_children:      res->children[0..nchildren), res->stat
 *   get_acl:           res->acl[0..nacl), res->stat
 *   sync:              res->path
 *   get_ephemerals:    res->children (full client paths)
 *   get_all_children_number: res->number
 *   whoami:            res->clients[0..nclients) (scheme in .scheme, user in .id)
 *   multi, multi_read: res->results[0..nresults), one per op with its own err and fields;
 *                      for multi rc is the failing op's error (all-or-nothing), for
 *                      multi_read rc is ZOK and each result carries its own err
 * When rc is not ZOK, res holds nothing else (except results for a failed multi). */
typedef void (*zkc_done_fn)(zkc_t *zh, int rc, const struct zk_response *res, void *ctx);

struct zkc_options {
    int32_t session_timeout_ms; /* requested (30000); the server clamps it */
    uint64_t seed;              /* host shuffle; 0 = from the clock and pid */
    size_t max_buffer;          /* largest packet accepted or sent (ZK_DEFAULT_MAXBUFFER,
                                   the client's jute.maxbuffer) */
    int64_t session_id;         /* non-zero: resume this session */
    uint8_t passwd[ZK_PASSWD_LEN];
};

/* Creates a handle and starts connecting. base: the event_base to run on, or NULL for a
 * private one (then only the *_wait functions run the loop). connect_string:
 * "host[:port],host[:port]/chroot" (port 2181 by default; "[v6addr]:port"). Host names are
 * resolved with getaddrinfo when each connection attempt starts, which blocks the loop for
 * the lookup; numeric addresses never block. opt may be NULL. watcher (may be NULL) gets
 * every state change; it is also a valid watcher for the watch arguments below.
 * Returns NULL with *err = ZBADARGUMENTS (bad connect string or options) or ZSYSTEMERROR. */
zkc_t *zkc_new(struct event_base *base, const char *connect_string, const struct zkc_options *opt,
               zkc_watcher_fn watcher, void *ctx, int *err);

/* Closes the session (closeSession, waiting for the replies of requests already sent and at
 * most about 2/3 of the session timeout for the server), fails what is left with ZCLOSING,
 * and frees the handle and everything it owns (its private base included). Blocking; must
 * not be called from a callback. Returns ZOK, or ZCONNECTIONLOSS when the server could not
 * confirm (the session then expires on its own), or ZAPIERROR (called from a callback:
 * nothing done; use zkc_close_async). */
int zkc_close(zkc_t *zh);
/* Starts the close; done (may be NULL) runs when it is finished (rc as for zkc_close), and
 * the handle is freed right after done returns. Only for handles on a caller's event_base
 * (ZAPIERROR otherwise); returns ZOK or ZCLOSING (already closing). */
int zkc_close_async(zkc_t *zh, zkc_done_fn done, void *ctx);

/* ---- state ---- */

/* ZSTATE_SYNC_CONNECTED, ZSTATE_DISCONNECTED (connecting), ZSTATE_EXPIRED,
 * ZSTATE_AUTH_FAILED or ZSTATE_CLOSED. */
int zkc_state(const zkc_t *zh);
/* Session id (0 before the first connection) and its 16-byte password (copied to passwd
 * when not NULL), to resume the session from another handle via zkc_options. */
int64_t zkc_session_id(const zkc_t *zh, uint8_t passwd[ZK_PASSWD_LEN]);
/* The negotiated session timeout in ms (the requested one before the first connection). */
int32_t zkc_session_timeout(const zkc_t *zh);
/* "host:port" of the server of the current or last connection attempt (static storage of
 * the handle, valid until the next call into it), or NULL before the first attempt. */
const char *zkc_current_server(zkc_t *zh);
/* The event_base the handle runs on. */
struct event_base *zkc_event_base(const zkc_t *zh);

/* ---- ACLs ---- */
extern const struct zk_acl zkc_open_acl_unsafe[1]; /* world:anyone, all permissions */
extern const struct zk_acl zkc_read_acl_unsafe[1]; /* world:anyone, read */
extern const struct zk_acl zkc_creator_all_acl[1]; /* auth:, all (needs an added auth) */

/* ---- operations (asynchronous) ----
 * Common contract: path and every buffer are read during the call only (copied as needed).
 * done may be NULL (fire and forget). Return ZOK (done will run once) or, with done never
 * run: ZBADARGUMENTS, ZINVALIDACL, ZSESSIONEXPIRED, ZAUTHFAILED, ZCLOSING, ZSYSTEMERROR.
 * Requests made while disconnected wait for the next connection (ZCONNECTIONLOSS after a
 * session timeout without one). Completions run in submission order. */

/* mode: ZMODE_PERSISTENT, _EPHEMERAL, _PERSISTENT_SEQUENTIAL, _EPHEMERAL_SEQUENTIAL,
 * _CONTAINER, _PERSISTENT_WITH_TTL or _PERSISTENT_SEQUENTIAL_WITH_TTL; ttl in ms for the TTL
 * modes (1 .. 2^40-1), ignored otherwise. datalen -1 sends a null datum. */
int zkc_create(zkc_t *zh, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl, int32_t nacl,
               int mode, int64_t ttl, zkc_done_fn done, void *ctx);
/* version -1 matches any version. */
int zkc_delete(zkc_t *zh, const char *path, int32_t version, zkc_done_fn done, void *ctx);
/* watcher (NULL: none) is registered when the answer is ZOK (a data watch) or ZNONODE (an
 * exist watch, fired by the creation). */
int zkc_exists(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx);
int zkc_get_data(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx);
int zkc_set_data(zkc_t *zh, const char *path, const void *data, int32_t datalen, int32_t version, zkc_done_fn done,
                 void *ctx);
/* getChildren2: names and the parent's stat; watcher fires on child creation/deletion or
 * the node's deletion. */
int zkc_get_children(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx);
int zkc_get_acl(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx);
/* version: the expected aversion, -1 for any; acl must not be empty (ZINVALIDACL). */
int zkc_set_acl(zkc_t *zh, const char *path, int32_t version, const struct zk_acl *acl, int32_t nacl, zkc_done_fn done,
                void *ctx);
/* Makes the connected server catch up with the leader, so that reads after the completion
 * see every write acknowledged before the sync (read-after-write across clients). */
int zkc_sync(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx);
/* ops: built with the zkc_op_* helpers below (create, delete, set_data, check for multi;
 * get_data, get_children for multi_read); read during the call only. */
int zkc_multi(zkc_t *zh, const struct zk_request *ops, int32_t nops, zkc_done_fn done, void *ctx);
int zkc_multi_read(zkc_t *zh, const struct zk_request *ops, int32_t nops, zkc_done_fn done, void *ctx);
/* mode ZADDWATCH_PERSISTENT or ZADDWATCH_PERSISTENT_RECURSIVE; watcher required. */
int zkc_add_watch(zkc_t *zh, const char *path, int mode, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done,
                  void *ctx);
/* wtype: ZWT_CHILDREN, ZWT_DATA (data and exist watches), ZWT_ANY, ZWT_PERSISTENT or
 * ZWT_PERSISTENT_RECURSIVE. watcher NULL removes every watcher of that type on path
 * (removeWatches); otherwise only (watcher, wctx) (checkWatches, as the Java client). The
 * removed watchers hear ZEV_CHILD_WATCH_REMOVED, ZEV_DATA_WATCH_REMOVED or
 * ZEV_PERSISTENT_WATCH_REMOVED. local: remove the local registrations even when the server
 * cannot be reached or answers an error. rc ZNOWATCHER when nothing matched. */
int zkc_remove_watches(zkc_t *zh, const char *path, int wtype, zkc_watcher_fn watcher, void *wctx, int local,
                       zkc_done_fn done, void *ctx);
/* Adds credentials ("digest", "user:password") for this session, sent again after every
 * reconnect. done gets ZOK or ZAUTHFAILED, which kills the handle (as in ZooKeeper). */
int zkc_add_auth(zkc_t *zh, const char *scheme, const void *cred, int32_t credlen, zkc_done_fn done, void *ctx);
/* The session's ephemeral nodes whose path starts with the string prefix ("/" for all;
 * with a chroot, only those under it, which the Java client does not filter). */
int zkc_get_ephemerals(zkc_t *zh, const char *prefix, zkc_done_fn done, void *ctx);
/* The number of all descendants of path. */
int zkc_get_all_children_number(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx);
/* The identities the server associates with this connection (ip, digest users...). */
int zkc_whoami(zkc_t *zh, zkc_done_fn done, void *ctx);

/* Multi op builders: fill *op (zeroed first), keeping the pointers given (which must stay
 * valid until zkc_multi / zkc_multi_read is called). */
void zkc_op_create(struct zk_request *op, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl,
                   int32_t nacl, int mode, int64_t ttl);
void zkc_op_delete(struct zk_request *op, const char *path, int32_t version);
void zkc_op_set_data(struct zk_request *op, const char *path, const void *data, int32_t datalen, int32_t version);
void zkc_op_check(struct zk_request *op, const char *path, int32_t version);
void zkc_op_get_data(struct zk_request *op, const char *path);
void zkc_op_get_children(struct zk_request *op, const char *path);

/* ---- blocking layer ----
 * Each runs the handle's event loop until its answer arrives and returns the rc the
 * completion would get (or the synchronous error). When res is not NULL it receives the
 * answer, which the caller then owns: free it with jute_free_response. Watchers and other
 * completions run meanwhile. ZAPIERROR when called from a callback. */

/* Waits until the session is connected (ZOK), dead (ZSESSIONEXPIRED, ZAUTHFAILED,
 * ZCLOSING) or timeout_ms passed (ZOPERATIONTIMEOUT; < 0 waits forever). */
int zkc_wait_connected(zkc_t *zh, int timeout_ms);
/* Runs the event loop for up to ms milliseconds (to let watchers run). */
int zkc_run_for(zkc_t *zh, int ms);
int zkc_create_wait(zkc_t *zh, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl,
                    int32_t nacl, int mode, int64_t ttl, struct zk_response *res);
int zkc_delete_wait(zkc_t *zh, const char *path, int32_t version);
int zkc_exists_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res);
int zkc_get_data_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res);
int zkc_set_data_wait(zkc_t *zh, const char *path, const void *data, int32_t datalen, int32_t version,
                      struct zk_response *res);
int zkc_get_children_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res);
int zkc_get_acl_wait(zkc_t *zh, const char *path, struct zk_response *res);
int zkc_set_acl_wait(zkc_t *zh, const char *path, int32_t version, const struct zk_acl *acl, int32_t nacl);
int zkc_sync_wait(zkc_t *zh, const char *path);
int zkc_multi_wait(zkc_t *zh, const struct zk_request *ops, int32_t nops, struct zk_response *res);
int zkc_multi_read_wait(zkc_t *zh, const struct zk_request *ops, int32_t nops, struct zk_response *res);
int zkc_add_watch_wait(zkc_t *zh, const char *path, int mode, zkc_watcher_fn watcher, void *wctx);
int zkc_remove_watches_wait(zkc_t *zh, const char *path, int wtype, zkc_watcher_fn watcher, void *wctx, int local);
int zkc_add_auth_wait(zkc_t *zh, const char *scheme, const void *cred, int32_t credlen);
int zkc_get_ephemerals_wait(zkc_t *zh, const char *prefix, struct zk_response *res);
int zkc_get_all_children_number_wait(zkc_t *zh, const char *path, int32_t *number);
int zkc_whoami_wait(zkc_t *zh, struct zk_response *res);

#endif
