/* The peer-message codec of zkfsd's ZAB-style replication: the messages servers exchange for
 * authentication, leader election, discovery, synchronisation and broadcast.
 *
 * Wire format: each message is one frame, a 4-byte big-endian length N followed by N bytes
 * holding exactly one msgpack array [type, field1, field2, ...]. type is a positive integer
 * (enum msg_type); the fields follow in the order of the table below, with these msgpack types:
 *   uint64  a non-negative integer (any msgpack integer encoding of a value in 0..UINT64_MAX)
 *   int32   an integer in INT32_MIN..INT32_MAX
 *   bool    msgpack true/false (not 0/1)
 *   bin     msgpack bin (never str), for nonce and proof of an exact size
 *   state   a non-negative integer 0..3 (enum peer_state)
 *
 *    1 CHALLENGE    nonce (bin, 16 bytes)
 *    2 HELLO        server_id, proof (bin, 20 bytes), observer (bool)
 *    3 VOTE         leader, zxid, peer_epoch, round, state, from
 *    4 FOLLOWERINFO accepted_epoch, last_zxid, observer (bool)
 *    5 LEADERINFO   epoch
 *    6 ACKEPOCH     current_epoch, last_zxid
 *    7 DIFF         zxid (the leader's last committed zxid; proposals follow)
 *    8 TRUNC        zxid
 *    9 SNAP         zxid, total_len (bytes of snapshot that follow in SNAPCHUNKs)
 *   10 SNAPCHUNK    data (bin)
 *   11 NEWLEADER    zxid
 *   12 ACK          zxid
 *   13 UPTODATE     (no fields)
 *   14 PROPOSAL     zxid, txn (bin, opaque)
 *   15 COMMIT       zxid
 *   16 INFORM       zxid, txn (bin): a committed txn, for observers
 *   17 PING         sessions: array of [session_id (uint64), timeout_ms (int32)] pairs
 *   18 REQUEST      session_id, cxid (int32), op (int32), body (bin): a forwarded client request
 *   19 REVALIDATE   session_id, timeout_ms (int32)
 *   20 REVALIDATED  session_id, valid (bool)
 *   21 SYNC         session_id, cxid (int32)
 *   22 SYNCED       session_id, cxid (int32)
 * All other scalar fields are uint64. Example: ACK of zxid 5 is 00 00 00 03 92 0c 05.
 *
 * Decoding treats its input as hostile. Before msgpack-c sees a byte, the payload is scanned
 * without allocating: it must be exactly one well-formed msgpack object, nested at most
 * PM_MAX_DEPTH containers deep, every str/bin/ext length within the bytes left, every
 * array/map count at most what the bytes left could hold and at most PM_MAX_SESSIONS, and
 * at most PM_MAX_OBJECTS objects in all. So msgpack-c (which allocates an array's slots from
 * its count header) never allocates more than what the largest legitimate PING needs. Then
 * the object is checked against the layout of its type: exact arity, exact msgpack types,
 * integer ranges, bin sizes. */
#ifndef ZKFS_REPLICATION_MSG_H
#define ZKFS_REPLICATION_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names start with PM_ ("peer message"): <sys/socket.h> owns MSG_TRUNC and the other MSG_
 * flags, and the peer driver includes both. */
enum msg_type {
    PM_CHALLENGE = 1,
    PM_HELLO = 2,
    PM_VOTE = 3,
    PM_FOLLOWERINFO = 4,
    PM_LEADERINFO = 5,
    PM_ACKEPOCH = 6,
    PM_DIFF = 7,
    PM_TRUNC = 8,
    PM_SNAP = 9,
    PM_SNAPCHUNK = 10,
    PM_NEWLEADER = 11,
    PM_ACK = 12,
    PM_UPTODATE = 13,
    PM_PROPOSAL = 14,
    PM_COMMIT = 15,
    PM_INFORM = 16,
    PM_PING = 17,
    PM_REQUEST = 18,
    PM_REVALIDATE = 19,
    PM_REVALIDATED = 20,
    PM_SYNC = 21,
    PM_SYNCED = 22,
};
#define PM_TYPE_MAX PM_SYNCED

/* A server's state in a VOTE (ZooKeeper's QuorumPeer.ServerState). */
enum peer_state {
    PEER_LOOKING = 0,
    PEER_FOLLOWING = 1,
    PEER_LEADING = 2,
    PEER_OBSERVING = 3,
};

#define PM_HDR_LEN 4    /* the big-endian length prefix */
#define PM_NONCE_LEN 16 /* CHALLENGE.nonce */
#define PM_PROOF_LEN 20 /* HELLO.proof: a SHA-1 digest */
/* Sanity caps beyond the frame size: sessions in one PING (also the largest msgpack array or
 * map count the decoder accepts), nesting depth, msgpack objects in one frame. */
#define PM_MAX_SESSIONS (1 << 20)
#define PM_MAX_DEPTH 3
#define PM_MAX_OBJECTS (3 * (size_t)PM_MAX_SESSIONS + 8)

/* One session in a PING. */
struct msg_session {
    uint64_t session_id;
    int32_t timeout_ms;
};

/* One peer message. Which fields are meaningful depends on type (see the table above); the
 * others are ignored by msg_encode and zero after msg_decode. Byte buffers are pointer +
 * length: after msg_decode they are malloc'd copies owned by the message (NULL when the
 * length is 0) and released by msg_free; msg_encode only reads them. */
struct peer_msg {
    int type;                /* enum msg_type */
    uint64_t server_id;      /* HELLO */
    uint64_t leader;         /* VOTE */
    uint64_t zxid;           /* VOTE, DIFF, TRUNC, SNAP, NEWLEADER, ACK, PROPOSAL, COMMIT, INFORM */
    uint64_t peer_epoch;     /* VOTE */
    uint64_t round;          /* VOTE: the election round */
    uint64_t from;           /* VOTE: the sender's server id */
    uint8_t state;           /* VOTE: enum peer_state */
    uint64_t accepted_epoch; /* FOLLOWERINFO */
    uint64_t last_zxid;      /* FOLLOWERINFO, ACKEPOCH */
    uint64_t epoch;          /* LEADERINFO */
    uint64_t current_epoch;  /* ACKEPOCH */
    uint64_t total_len;      /* SNAP */
    uint64_t session_id;     /* REQUEST, REVALIDATE, REVALIDATED, SYNC, SYNCED */
    bool observer;           /* HELLO, FOLLOWERINFO */
    bool valid;              /* REVALIDATED */
    int32_t cxid;            /* REQUEST, SYNC, SYNCED */
    int32_t op;              /* REQUEST: the client opcode */
    int32_t timeout_ms;      /* REVALIDATE */
    /* Byte buffers: CHALLENGE's nonce (PM_NONCE_LEN bytes), HELLO's proof (PM_PROOF_LEN
     * bytes), SNAPCHUNK's data, PROPOSAL's and INFORM's txn, REQUEST's body (the request as
     * received on the client port). */
    uint8_t *nonce, *proof, *data, *txn, *body;
    size_t nonce_len, proof_len, data_len, txn_len, body_len;
    struct msg_session *sessions; /* PING: malloc'd after msg_decode (NULL when empty) */
    size_t nsessions;
};

/* Encodes m as one whole frame, length prefix included. On ZOK *out is a malloc'd buffer of
 * *len bytes that the caller frees with free(). Errors: ZBADARGUMENTS for an unknown type, a
 * nonce or proof not of its exact size, a state above PEER_OBSERVING, a NULL buffer with a
 * non-zero length, more than PM_MAX_SESSIONS sessions, or a frame whose N would not fit in
 * 32 bits; ZSYSTEMERROR when out of memory. On error *out is NULL and *len 0. */
int msg_encode(const struct peer_msg *m, uint8_t **out, size_t *len);

/* For a streaming reader: looks at the first have bytes of buf (buf may be NULL when have is
 * 0). Returns 0 when fewer than a whole frame are there yet (fewer than 4 bytes, or fewer
 * than 4 + N); 1 when buf begins with a whole frame, its size 4 + N in *total; -1 when N
 * exceeds max (known as soon as the 4 prefix bytes are there: refuse the peer, allocate
 * nothing). max bounds N, the bytes after the prefix. *total is only written on 1. Nothing
 * about the payload is checked here: msg_decode does that. */
int msg_frame_len(const uint8_t *buf, size_t have, size_t max, size_t *total);

/* Decodes exactly one complete frame of len bytes (prefix included: len must be 4 + N, as
 * msg_frame_len reports). Returns ZOK with m filled in (release with msg_free);
 * ZBADARGUMENTS when N > max_frame (nothing after the prefix is read or allocated);
 * ZMARSHALLINGERROR when malformed: len not 4 + N, the payload not exactly one msgpack
 * array, an unknown type, wrong arity, a field of the wrong msgpack type or out of range,
 * a nonce or proof of the wrong size, a size or count the frame cannot hold or beyond the
 * caps above; ZSYSTEMERROR when out of memory. On any error m is zeroed and holds nothing
 * to free (msg_free on it is harmless). frame is only read, and may be freed on return. */
int msg_decode(const uint8_t *frame, size_t len, size_t max_frame, struct peer_msg *m);

/* Frees the buffers of a message filled by msg_decode and zeroes it; harmless on a zeroed
 * message, and on a message freed already. Not for messages whose buffers the caller
 * pointed at memory of its own (those are never msg_free'd). */
void msg_free(struct peer_msg *m);

/* The message type's name ("VOTE"), or "UNKNOWN". Never NULL. */
const char *msg_type_name(int type);

#endif
