/* The jute wire codec of ZooKeeper's client protocol (protocol version 0): primitives
 * (big-endian int/long/bool, length-prefixed buffers and strings, vectors) and the records
 * of zookeeper.jute that travel on the client port, decoded into one request shape and one
 * response shape per opcode. Decoders never trust a length: every count and size is bounded
 * by the bytes actually remaining before anything is allocated. */
#ifndef ZKFS_JUTE_H
#define ZKFS_JUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- records shared by server and client ---- */
struct zk_stat {
    int64_t czxid, mzxid, ctime, mtime;
    int32_t version, cversion, aversion;
    int64_t ephemeralOwner;
    int32_t dataLength, numChildren;
    int64_t pzxid;
};
#define JUTE_STAT_LEN 68

struct zk_id {
    char *scheme;
    char *id;
};
struct zk_acl {
    int32_t perms;
    struct zk_id id;
};

/* ---- writer: a growable buffer; allocation failure is sticky and checked once ---- */
struct jbuf {
    uint8_t *p;
    size_t len, cap;
    int oom;
};
void jb_init(struct jbuf *b);
void jb_free(struct jbuf *b);
void jb_reset(struct jbuf *b);
/* Appends raw bytes. */
void jw_raw(struct jbuf *b, const void *p, size_t n);
void jw_int(struct jbuf *b, int32_t v);
void jw_long(struct jbuf *b, int64_t v);
void jw_bool(struct jbuf *b, bool v);
/* len < 0 encodes a null buffer (length -1); len 0 an empty one, whatever p is. */
void jw_buffer(struct jbuf *b, const void *p, int32_t len);
/* NULL encodes a null string (length -1). */
void jw_string(struct jbuf *b, const char *s);
void jw_stat(struct jbuf *b, const struct zk_stat *st);
void jw_acls(struct jbuf *b, const struct zk_acl *v, int32_t n);
void jw_strings(struct jbuf *b, char *const *v, int32_t n);
/* Starts a length-prefixed frame: returns the offset to hand to jw_frame_end. */
size_t jw_frame_begin(struct jbuf *b);
/* Fills in the 4-byte length of the frame started at off. */
void jw_frame_end(struct jbuf *b, size_t off);

/* ---- reader over a fixed byte range; the first error is sticky (r->err = ZMARSHALLINGERROR) ---- */
struct jrd {
    const uint8_t *p;
    size_t len, pos;
    int err;
};
void jr_init(struct jrd *r, const void *p, size_t len);
int32_t jr_int(struct jrd *r);
int64_t jr_long(struct jrd *r);
bool jr_bool(struct jrd *r);
/* Zero-copy: *data points into the reader's bytes (NULL with *len = -1 for null). */
void jr_buffer(struct jrd *r, const uint8_t **data, int32_t *len);
/* Returns a malloc'd NUL-terminated copy (NULL for a null string, or on error; check r->err).
 * *len (may be NULL) receives the byte length, which may include embedded NULs. */
char *jr_string(struct jrd *r, int32_t *len);
void jr_stat(struct jrd *r, struct zk_stat *st);
/* Vectors: *v is malloc'd (NULL when empty or null); free with jute_free_acls / jute_free_strings. */
void jr_acls(struct jrd *r, struct zk_acl **v, int32_t *n);
void jr_strings(struct jrd *r, char ***v, int32_t *n);
size_t jr_remaining(const struct jrd *r);

void jute_free_acls(struct zk_acl *v, int32_t n);
void jute_free_strings(char **v, int32_t n);

/* ---- session establishment ---- */
struct zk_connect_req {
    int32_t protocolVersion;
    int64_t lastZxidSeen;
    int32_t timeOut;
    int64_t sessionId;
    uint8_t passwd[16];
    int32_t passwd_len; /* as sent; valid sessions use 16 */
    bool readOnly;
    bool has_readOnly; /* older clients omit the trailing byte */
};
struct zk_connect_resp {
    int32_t protocolVersion;
    int32_t timeOut;
    int64_t sessionId;
    uint8_t passwd[16];
    bool readOnly;
};
int jute_read_connect_req(struct jrd *r, struct zk_connect_req *c);
void jute_write_connect_req(struct jbuf *b, const struct zk_connect_req *c);
int jute_read_connect_resp(struct jrd *r, struct zk_connect_resp *c, bool *has_readOnly);
/* with_readOnly: append the readOnly byte (only to clients that sent one). */
void jute_write_connect_resp(struct jbuf *b, const struct zk_connect_resp *c, bool with_readOnly);

/* ---- requests ---- */
enum { ZW_DATA, ZW_EXIST, ZW_CHILD, ZW_PERSISTENT, ZW_PERSISTENT_RECURSIVE, ZW_NKINDS };

/* One decoded request body; which fields are meaningful depends on type. */
struct zk_request {
    int32_t xid;
    int32_t type;
    char *path;           /* most ops; prefixPath for getEphemerals */
    int32_t pathlen;      /* byte length of path (may include NULs: validation rejects them) */
    const uint8_t *data;  /* create/setData: points into the frame being decoded */
    int32_t datalen;      /* -1 for null */
    int32_t version;      /* setData, delete, check, setACL */
    int32_t flags;        /* create: CreateMode flag */
    int64_t ttl;          /* createTTL */
    bool watch;           /* exists, getData, getChildren(2) */
    int32_t mode;         /* addWatch mode; checkWatches/removeWatches watcher type */
    struct zk_acl *acl;   /* create, setACL */
    int32_t nacl;
    int64_t relZxid;      /* setWatches(2) */
    char **watches[ZW_NKINDS];
    int32_t nwatches[ZW_NKINDS];
    int32_t authType;     /* auth */
    char *scheme;
    const uint8_t *auth;
    int32_t authlen;
    struct zk_request *ops; /* multi, multiRead */
    int32_t nops;
};

/* Decodes the body of a request of the given opcode (the RequestHeader already read into
 * req->xid/type by the caller). Returns ZOK, ZMARSHALLINGERROR for malformed or truncated
 * input, or ZUNIMPLEMENTED for an opcode without a body layout. On error req is left freeable.
 * Byte pointers (data, auth) point into r's buffer, which must outlive req. */
int jute_read_request(struct jrd *r, struct zk_request *req);
/* As MultiOperationRecord: a multi carries writes only (create*, delete, setData, check), a
 * multiRead reads only (getData, getChildren); anything else makes the request malformed. */
bool jute_op_in_multi(int32_t multi_type, int32_t op_type);

/* Encodes header + body of req (the client side and tests). */
void jute_write_request(struct jbuf *b, const struct zk_request *req);
/* Frees what jute_read_request allocated (not req itself). */
void jute_free_request(struct zk_request *req);

/* ---- responses ---- */
struct zk_response {
    int32_t type;          /* opcode the response answers (in multi: the sub-op type, or -1 for error) */
    int32_t err;           /* multi sub-result error */
    char *path;            /* create, create2, sync */
    struct zk_stat stat;   /* create2, exists, setData, setACL, getData, getChildren2, getACL */
    uint8_t *data;         /* getData (malloc'd copy) */
    int32_t datalen;
    char **children;       /* getChildren(2), getEphemerals */
    int32_t nchildren;
    struct zk_acl *acl;    /* getACL */
    int32_t nacl;
    int32_t number;        /* getAllChildrenNumber, checkWatches ... */
    struct zk_id *clients; /* whoAmI: scheme in id.scheme, user in id.id */
    int32_t nclients;
    struct zk_response *results; /* multi, multiRead */
    int32_t nresults;
};

/* Encodes the body of a successful response of res->type (no ReplyHeader). */
void jute_write_response(struct jbuf *b, const struct zk_response *res);
/* Decodes a response body of the given opcode into res (allocations freed by jute_free_response). */
int jute_read_response(struct jrd *r, int32_t type, struct zk_response *res);
void jute_free_response(struct zk_response *res);

/* Upper bound on vector element counts accepted from the wire, beyond the bytes check. */
#define JUTE_MAX_VECTOR (1 << 24)

#endif
