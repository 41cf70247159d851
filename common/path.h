/* ZooKeeper znode paths: validation exactly as the Java server judges a path it decoded
 * from the wire (PathUtils.validatePath), and small string helpers for parents, names,
 * ancestry and a client's chroot. Shared by the server and the client library.
 * A path is absolute, '/'-separated, without a trailing '/' except for the root "/". */
#ifndef ZKFS_PATH_H
#define ZKFS_PATH_H

#include <stddef.h>

/* Validates the path bytes path[0..len) as received on the wire (UTF-8, not necessarily
 * NUL-terminated; len counts any embedded NUL bytes). When sequential is non-zero the
 * path is judged as path + "1", the way ZooKeeper validates the prefix of a sequential
 * create (so "/a/" is acceptable there).
 * The Java server first decodes the bytes to UTF-16, so this function reproduces the
 * consequences: malformed UTF-8 (stray continuation bytes, truncated or overlong
 * sequences, encoded surrogates, code points above U+10FFFF) becomes U+FFFD, which lies in
 * the forbidden U+FFF0..U+FFFF range, and every 4-byte sequence becomes a surrogate pair,
 * which lies in the forbidden U+D800..U+F8FF range. Also forbidden: U+0000, U+0001..U+001F,
 * U+007F..U+009F, empty names ("//"), "." and ".." names, a trailing '/', and anything
 * not starting with '/'. path may be NULL (invalid).
 * Returns ZOK or ZBADARGUMENTS; when why is not NULL it receives a static English reason
 * for a refusal (Java's wording, without the position) or NULL on success. */
int path_validate(const char *path, size_t len, int sequential, const char **why);

/* Length of the parent's prefix of path[0..len): 1 for "/a" (the parent is "/"), 2 for
 * "/a/b" ("/a"). Returns 0 when path has no parent: the root "/", an empty string, or a
 * string without '/' at offset 0. The parent of a valid path is path[0..result). */
size_t path_parent_len(const char *path, size_t len);

/* Writes the NUL-terminated parent of the NUL-terminated path into out: "/a/b" -> "/a",
 * "/a" -> "/". An outsz of strlen(path) + 1 always suffices. Returns ZOK, or
 * ZBADARGUMENTS when path is NULL, has no parent (see path_parent_len) or out is too
 * small (out then holds "" when outsz > 0). */
int path_parent(const char *path, char *out, size_t outsz);

/* Returns the last name of path, a pointer into path itself: "/a/b" -> "b", "/a" -> "a",
 * "/" -> "" (the terminating NUL of path). A string without '/' is returned whole. */
const char *path_basename(const char *path);

/* Returns 1 when anc is path itself or one of its ancestors ("/" is the ancestor of every
 * absolute path; "/a" is an ancestor of "/a/b" but not of "/ab"), else 0. Both are
 * NUL-terminated; a trailing '/' on anc other than the root is not accepted. */
int path_is_ancestor_or_self(const char *anc, const char *path);

/* Writes parent + "/" + name into out without doubling the separator at the root:
 * ("/", "a") -> "/a", ("/a", "b") -> "/a/b", ("/a", "") -> "/a". name may itself contain
 * '/' (a relative path) but must not start with one. The result is not validated; out
 * must not overlap the inputs (the same holds for path_parent and path_prepend_chroot).
 * Returns ZOK, or ZBADARGUMENTS when an argument is NULL, parent does not start with '/',
 * name starts with '/', or the result plus its NUL does not fit in outsz. */
int path_join(const char *parent, const char *name, char *out, size_t outsz);

/* Client side of a chroot ("host:2181/app"), as the Java and C clients do it. chroot is
 * NULL, "" or "/" for none, else a valid path without a trailing '/'.
 * path_prepend_chroot writes the server-side path for a client path into out:
 * ("/app", "/") -> "/app", ("/app", "/x") -> "/app/x", (NULL, "/x") -> "/x".
 * Returns ZOK, or ZBADARGUMENTS when path is NULL or the result does not fit in outsz. */
int path_prepend_chroot(const char *chroot, const char *path, char *out, size_t outsz);

/* The client-side path for a path the server returned (a created name, a watch event):
 * the chroot itself maps to "/", a path below it loses the chroot prefix, and a path not
 * under the chroot (which a correct server never sends; the C client logs it) is returned
 * unchanged, including "/apple" for chroot "/app". The result points into server_path or
 * at a static "/"; it is NULL only when server_path is. */
const char *path_strip_chroot(const char *chroot, const char *server_path);

#endif
