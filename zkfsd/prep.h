/* Request preparation: turns a client write into a fully decided txn, or an error code,
 * exactly as ZooKeeper's PrepRequestProcessor decides it (same checks, same order, so the
 * same error wins). Writes may be prepared while earlier txns are still on their way to the
 * disk or the quorum, so prep sees the tree plus its own outstanding change records
 * (ZooKeeper's outstandingChanges): two pipelined creates of one path cannot both succeed.
 * Pure: the wall time is passed in. */
#ifndef ZKFS_PREP_H
#define ZKFS_PREP_H

#include <stdint.h>

#include "common/hmap.h"
#include "common/jute.h"
#include "zkfsd/acl.h"
#include "zkfsd/tree.h"
#include "zkfsd/txn.h"

struct chrec;

struct prep {
    struct ztree *tree;
    struct hmap latest;        /* path -> newest struct chrec for that path */
    struct chrec *head, *tail; /* every outstanding record, in zxid order */
    int64_t last_zxid;         /* highest zxid handed out */
    int ttl_enabled;           /* zoo.cfg extendedTypesEnabled: TTL nodes allowed */
};

struct prep_ctx {
    int64_t session;
    int32_t cxid;
    int64_t now;                 /* wall clock, ms since the epoch */
    const struct zk_auth *auth;  /* the connection's identities */
};

/* Binds prep to a tree whose last applied zxid starts the numbering. */
void prep_init(struct prep *p, struct ztree *tree);
void prep_destroy(struct prep *p);

/* Is this opcode a write that becomes a txn? */
int prep_is_write(int32_t type);

/* Prepares req. On ZOK *out is a txn owning its memory (free with txn_free) with a fresh zxid.
 * A failed multi also returns ZOK, with out->type ZOP_MULTI, out->zxid 0 and every sub-txn of
 * type ZOP_ERROR carrying ZooKeeper's per-op codes; it changes nothing and needs no logging.
 * Any other failure returns the error code and leaves no trace. */
int prep_request(struct prep *p, const struct zk_request *req, const struct prep_ctx *ctx, struct txn *out);

/* Prepares the closing of a session (explicit close or expiry): a ZOP_CLOSESESSION txn. */
int prep_close_session(struct prep *p, int64_t session, int64_t now, struct txn *out);
/* Prepares a createSession txn carrying the negotiated timeout. */
int prep_create_session(struct prep *p, int64_t session, int32_t timeout, int64_t now, struct txn *out);
/* Prepares the deletion of an empty container or expired TTL node by the server itself. */
int prep_delete_container(struct prep *p, const char *path, int64_t now, struct txn *out);

/* Forgets the change records of every txn up to zxid, once it has been applied to the tree. */
void prep_applied(struct prep *p, int64_t zxid);

#endif
