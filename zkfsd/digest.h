/* Credentials of ZooKeeper's "digest" scheme: SHA-1 and base64 (written here so the server
 * needs no crypto library), the Java String round trip that the server applies to auth
 * bytes before hashing them, and the "user:BASE64(SHA1(user:password))" id itself. Pure
 * functions, no allocation. */
#ifndef ZKFS_DIGEST_H
#define ZKFS_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20
#define SHA1_BLOCK 64

struct sha1_ctx {
    uint32_t h[5];
    uint64_t nbytes;         /* total bytes hashed so far */
    uint8_t buf[SHA1_BLOCK]; /* pending partial block */
    size_t nbuf;
};

/* Starts a new hash. */
void sha1_init(struct sha1_ctx *c);
/* Feeds n bytes (p may be NULL when n == 0). */
void sha1_update(struct sha1_ctx *c, const void *p, size_t n);
/* Writes the 20-byte digest; the context must be re-initialised before reuse. */
void sha1_final(struct sha1_ctx *c, uint8_t out[SHA1_LEN]);
/* One-shot SHA-1 of n bytes. */
void sha1(const void *p, size_t n, uint8_t out[SHA1_LEN]);

/* Length of the padded base64 text of n bytes, without the NUL. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes the standard (RFC 4648, '+' '/' and '=' padding) base64 of in[0..n) plus a NUL
 * into out. Returns ZOK, or ZBADARGUMENTS (nothing written) when outsz < BASE64_LEN(n) + 1. */
int base64_encode(const void *in, size_t n, char *out, size_t outsz);

/* The Java server turns auth bytes into a String with the platform charset (UTF-8 here)
 * and hashes that String's UTF-8 bytes, so malformed input is hashed as if each malformed
 * piece were U+FFFD, grouped the way the JDK's decoder groups them (checked against JDK 17).
 * Writes that byte form of in[0..n) to out, which must hold 3 * n bytes (a lone byte can
 * become the three bytes of U+FFFD); valid UTF-8 is copied unchanged. Returns the length
 * written. ASCII bytes, ':' in particular, are never swallowed by a malformed sequence. */
size_t digest_java_utf8(const uint8_t *in, size_t n, uint8_t *out);

/* Length of BASE64(SHA1(..)). */
#define DIGEST_HASH_B64_LEN BASE64_LEN(SHA1_LEN)

/* DigestAuthenticationProvider.generateDigest: from "user:password" (len bytes, the UTF-8
 * form of the Java string) writes "user:" + BASE64(SHA1(all len bytes)) and a NUL, where
 * user is the text before the FIRST ':' (the whole input when there is none; the password
 * may itself contain ':'). out needs (bytes before the first ':') + 1 + DIGEST_HASH_B64_LEN
 * + 1 bytes. Returns ZOK, or ZBADARGUMENTS (nothing written) when out is too small. */
int digest_generate(const char *user_colon_password, size_t len, char *out, size_t outsz);

#endif
