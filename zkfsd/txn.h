/* Transactions: the one representation of a state change. prep.c turns a client request into
 * a fully decided txn (exact sequential name, ephemeral owner, new versions); tree.c applies
 * it (deterministic, cannot fail on a consistent tree); the log (next issue) persists it. */
#ifndef ZKFS_TXN_H
#define ZKFS_TXN_H

#include <stdint.h>
#include <stdio.h>

#include "common/jute.h"

struct txn {
    int32_t type;  /* ZOP_CREATE, CREATE2, CREATECONTAINER, CREATETTL, DELETE, DELETECONTAINER,
                      SETDATA, SETACL, CHECK, MULTI, CREATESESSION, CLOSESESSION, ERROR */
    int64_t zxid;
    int64_t time;     /* wall clock ms, decided at prep */
    int64_t session;  /* client session id (TxnHeader.clientId) */
    int32_t cxid;
    char *path;
    uint8_t *data;    /* owned; NULL with datalen -1 for null data */
    int32_t datalen;
    struct zk_acl *acl; /* owned, already fixed up */
    int32_t nacl;
    int64_t ephemeralOwner; /* create: session id, or the container/TTL marker, or 0 */
    int64_t ttl;
    int32_t parentCVersion; /* create: the parent's cversion after this create */
    int32_t version;        /* setData/setACL: the new version; check: the checked version */
    int32_t timeout;        /* createSession */
    int32_t err;            /* ZOP_ERROR */
    struct txn *subs;       /* multi */
    int32_t nsubs;
};

/* Frees everything the txn owns (not the struct itself) and zeroes it. */
void txn_free(struct txn *t);

/* Appends the txn's byte encoding (header fields, type, body; multi sub-txns inline). */
void txn_encode(struct jbuf *b, const struct txn *x);
/* Decodes exactly n bytes into *x (owning its memory). ZOK, or ZMARSHALLINGERROR for
 * malformed, truncated or trailing bytes, with *x left empty. */
int txn_decode(const uint8_t *p, size_t n, struct txn *x);
/* One readable line per txn (zxid, time, session, type, path, details), for zkfs-logdump. */
void txn_print(FILE *out, const struct txn *x);

/* The result of applying a txn: what the reply needs. */
struct txn_result {
    int32_t type;
    int32_t err;
    const char *path; /* borrowed from the txn */
    struct zk_stat stat;
    struct txn_result *subs; /* multi: malloc'd, nsubs entries */
    int32_t nsubs;
};
void txn_result_free(struct txn_result *r);

/* Marker ephemeralOwner values, as ZooKeeper's EphemeralType encodes them. */
#define ZK_CONTAINER_OWNER ((int64_t)0x8000000000000000ULL)
/* TTL: high byte 0xff, next two bytes the extended type (0 = TTL), low 40 bits the ttl in ms */
#define ZK_TTL_MASK ((int64_t)0xffff000000000000ULL)
#define ZK_TTL_MARKER ((int64_t)0xff00000000000000ULL)
#define ZK_TTL_MAX ((int64_t)0x000000ffffffffffLL)
/* Is ephemeralOwner a real session (not 0, not a container or TTL marker)? */
static inline int zk_owner_is_session(int64_t owner)
{
    return owner != 0 && owner != ZK_CONTAINER_OWNER && (owner & ZK_TTL_MASK) != ZK_TTL_MARKER;
}

#endif
