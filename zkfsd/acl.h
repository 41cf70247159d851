/* ZooKeeper's ACL model as a pure module (no I/O, no locking): interned reference-counted
 * ACL lists for the tree, a connection's authenticated ids, addAuth for the built-in
 * schemes, the permission check (ZooKeeperServer.checkACL), the validation and expansion
 * of ACLs given to create/setACL (PrepRequestProcessor.fixupACL), and the hiding of digest
 * hashes from getACL callers without ADMIN (the CVE-2019-0201 fix).
 *
 * The providers are those a default Java server registers: "ip" and "digest". "world" and
 * "super" have no provider: world:anyone is special-cased, "super" is only ever an
 * authenticated id (added by a digest addAuth matching the configured superDigest), and
 * "auth" is only meaningful in an ACL being set, where it expands to the caller's ids.
 *
 * ACL lists use struct zk_acl / struct zk_id from common/jute.h; a list this module hands
 * out as a malloc'd array (acl_fixup, acl_hide_digests) is freed with jute_free_acls. */
#ifndef ZKFS_ACL_H
#define ZKFS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "common/hmap.h"
#include "common/jute.h"

/* ZooDefs.Ids: each list has one entry. Never write through their string pointers. */
extern const struct zk_id ANYONE_ID_UNSAFE;    /* world:anyone */
extern const struct zk_id AUTH_IDS;            /* auth: (empty id) */
extern const struct zk_acl OPEN_ACL_UNSAFE[1]; /* ALL for world:anyone */
extern const struct zk_acl READ_ACL_UNSAFE[1]; /* READ for world:anyone */
extern const struct zk_acl CREATOR_ALL_ACL[1]; /* ALL for auth: (the creator's ids) */
#define ZK_IDS_ACL_LEN 1

/* ---- interned ACL lists ---- */

/* An immutable ACL list shared by every znode that has it. The strings of v[] live inside
 * the same allocation; never modify them. Compare two sets of one cache by pointer. */
struct zk_acl_set {
    int32_t n;
    int refs; /* references handed out by acl_intern / acl_retain */
    size_t keylen;
    const uint8_t *key; /* canonical encoding, the cache's key (inside this allocation) */
    struct zk_acl v[];
};

/* Interns equal lists (same entries in the same order, compared byte for byte) so that a
 * tree with a million znodes keeps a handful of ACL lists. Not thread-safe. */
struct acl_cache {
    struct hmap map; /* canonical encoding -> struct zk_acl_set *; iterate with hmap_next */
};

/* Initialises an empty cache (allocates nothing). */
void acl_cache_init(struct acl_cache *c);
/* Frees the cache and every set still in it, whatever its count: pointers obtained from
 * it are invalid afterwards. */
void acl_cache_free(struct acl_cache *c);
/* Number of distinct lists currently interned. */
size_t acl_cache_size(const struct acl_cache *c);
/* Returns a new reference to the set equal to v[0..n) (copied; v stays the caller's),
 * creating it on first use. n may be 0 (an empty list, which allows everything); strings
 * may be NULL and are kept NULL. Returns NULL when out of memory, when n < 0 or n >
 * JUTE_MAX_VECTOR, or when v is NULL with n > 0. */
struct zk_acl_set *acl_intern(struct acl_cache *c, const struct zk_acl *v, int32_t n);
/* Adds a reference to s and returns it. */
struct zk_acl_set *acl_retain(struct zk_acl_set *s);
/* Drops one reference; the last one removes s from the cache and frees it. NULL is a no-op. */
void acl_release(struct acl_cache *c, struct zk_acl_set *s);

/* ---- a connection's authenticated ids (ServerCnxn.authInfo) ---- */

/* A set of ids in insertion order. Zero-initialised (or acl_auth_init) means empty. The
 * server adds ("ip", acl_ip_id of the peer) when the connection is accepted and digest
 * credentials through acl_auth_add. */
struct zk_auth {
    int n;
    struct zk_id *ids; /* n entries, strings owned by the set */
};

void acl_auth_init(struct zk_auth *a);
/* Frees the ids and leaves a empty. */
void acl_auth_free(struct zk_auth *a);
/* Adds a copy of (scheme, id) unless an equal id is present. Returns ZOK (also when it was
 * already present), ZBADARGUMENTS for a NULL string, ZSYSTEMERROR when out of memory (a
 * unchanged). */
int acl_auth_add_id(struct zk_auth *a, const char *scheme, const char *id);
/* True when (scheme, id) is in a. */
bool acl_auth_has(const struct zk_auth *a, const char *scheme, const char *id);
/* Makes dst (which must be empty or freed) an independent copy of src, e.g. to snapshot
 * a connection's ids into a request (Request.authInfo). ZOK or ZSYSTEMERROR (dst empty). */
int acl_auth_copy(struct zk_auth *dst, const struct zk_auth *src);

/* addAuth (the auth packet, xid -4). For scheme "digest" the bytes are turned into a
 * string as the Java server does (digest_java_utf8), then ("digest",
 * digest_generate(bytes)) is added, preceded by ("super", "") when super_digest (the
 * configured "super:BASE64HASH", may be NULL) equals that digest. Any bytes are
 * acceptable credentials, the empty string included. For scheme "ip" the Java provider
 * re-adds the peer address, which the connection already holds, so nothing changes.
 * Returns ZOK; ZAUTHFAILED for a NULL or unknown scheme (including "world", "super",
 * "auth", "sasl"), for null credentials (len < 0, which the Java server fails on) and for
 * a user name containing a NUL byte (our ids are C strings; truncating one would name a
 * different principal, so it is refused where Java would accept it); ZSYSTEMERROR when
 * out of memory. The server replies AUTHFAILED and closes the connection on failure. */
int acl_auth_add(struct zk_auth *auth, const char *scheme, const uint8_t *data, int32_t len, const char *super_digest);

/* Longest id acl_ip_id can produce, NUL included ("ffff:...:ffff%4294967295"). */
#define ACL_IP_ID_MAX 64
/* Writes the id of the "ip" scheme for a peer address exactly as Java's
 * InetAddress.getHostAddress() spells it: dotted quad for IPv4 and IPv4-mapped IPv6;
 * otherwise eight lower-case hex groups without zero compression, plus "%scope" when the
 * scope id is non-zero (which makes such peers match no ip ACL, as in Java). Returns ZOK,
 * or ZBADARGUMENTS for another address family or when outsz < ACL_IP_ID_MAX. */
int acl_ip_id(const struct sockaddr *sa, char *out, size_t outsz);

/* ---- providers (exposed for the server's whoAmI and for tests) ---- */

/* IPAuthenticationProvider.isValid: "addr" or "addr/bits" with addr IPv4 dotted (four
 * decimal parts 0..255) or IPv6 (hex groups, at most one "::", no embedded IPv4) and bits
 * within the address length. Numbers follow Java's Integer.parseInt (a leading '+' or '-'
 * is accepted, so "-0" is 0 and the IPv6 group "-1" is ffff), restricted to ASCII digits. */
bool acl_ip_valid(const char *expr);
/* IPAuthenticationProvider.matches: whether the peer id (as made by acl_ip_id) lies in
 * the network expr; false whenever either side does not parse or the families differ. */
bool acl_ip_matches(const char *id, const char *expr);
/* DigestAuthenticationProvider.isValid: Java's id.split(":") has exactly two parts, i.e.
 * after dropping trailing ':' exactly one ':' remains ("user:hash", ":hash", "u:h::"). */
bool acl_digest_valid(const char *id);
/* AuthenticationProvider.getUserName for whoAmI: the text before the first ':' for
 * "digest", the id for "ip", "" for schemes without a provider ("super"). Returns a
 * malloc'd string in *out, or ZSYSTEMERROR (*out = NULL) when out of memory. */
int acl_user_name(const struct zk_id *id, char **out);

/* ---- the rules ---- */

/* ZooKeeperServer.checkACL (without skipACL, which is the caller's to honour): ZOK when
 * the list is NULL or empty, when auth holds a "super" id, or when an entry whose perms
 * share a bit with perm (perm may combine bits: getACL asks READ|ADMIN) is world:anyone
 * or matches an id of auth of the same scheme (digest: equal strings; ip: acl_ip_matches).
 * Entries of other schemes match nothing. Otherwise ZNOAUTH. auth may be NULL (no ids). */
int acl_check(const struct zk_acl_set *acl, int32_t perm, const struct zk_auth *auth);
/* The same on a plain list (e.g. one being prepared and not yet interned). */
int acl_check_list(const struct zk_acl *v, int32_t n, int32_t perm, const struct zk_auth *auth);

/* PrepRequestProcessor.fixupACL for create and setACL: removes duplicate entries (first
 * occurrence kept), then checks each remaining entry in order: world must be
 * "world:anyone"; "auth" is replaced by one entry per authenticated id of auth whose
 * provider says isAuthenticated (digest ids: not ip, not super) with the entry's perms,
 * and is invalid when there is none; "digest" ids must satisfy acl_digest_valid, "ip" ids
 * acl_ip_valid; other schemes are invalid. Perms are not checked (as in Java). The result
 * is not de-duplicated again. On ZOK *out is a malloc'd list of *nout entries (free with
 * jute_free_acls). Errors (*out = NULL, *nout = 0): ZINVALIDACL for a NULL or empty list
 * and the rules above; ZMARSHALLINGERROR where the Java server hits a null string (a NULL
 * scheme compared while removing duplicates, a NULL id with scheme world/digest/ip or
 * compared while removing duplicates: Java reports such NullPointerExceptions as
 * MARSHALLINGERROR); ZSYSTEMERROR when out of memory. auth may be NULL. */
int acl_fixup(const struct zk_acl *in, int32_t n, const struct zk_auth *auth, struct zk_acl **out, int32_t *nout);

/* The getACL answer for a caller without ADMIN: a copy of in[0..n) where each "digest" id
 * has every ':' and the rest of its line replaced by ":x" (Java's replaceAll(":.*", ":x"),
 * '.' stopping at line terminators), so "user:hash" becomes "user:x". On ZOK *out is a
 * malloc'd list (NULL when n == 0; free with jute_free_acls); ZSYSTEMERROR when out of
 * memory (*out = NULL). */
int acl_hide_digests(const struct zk_acl *in, int32_t n, struct zk_acl **out);

#endif
