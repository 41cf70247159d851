/* ZooKeeper path validation and helpers; see path.h for the contracts. */
#include "common/path.h"

#include <assert.h>
#include <string.h>

#include "common/zerr.h"

/* The Java server judges the UTF-16 string its UTF-8 decoder produced. Only the first
 * UTF-16 unit of each sequence matters: a 4-byte sequence starts with a high surrogate,
 * which is already forbidden, and the scan stops at the first forbidden unit. Malformed
 * input becomes U+FFFD just as Java's decoder (REPLACE action) makes it. */
#define REPLACEMENT 0xFFFDu

/* Bytes of the virtual string: the path, then "1" when validating a sequential prefix. */
struct vstr {
    const unsigned char *p;
    size_t len;  /* real bytes */
    size_t vlen; /* len, plus 1 for the sequential suffix */
};

static unsigned at(const struct vstr *s, size_t i)
{
    assert(i < s->vlen);
    return i < s->len ? s->p[i] : '1';
}

static int cont(const struct vstr *s, size_t i, unsigned lo, unsigned hi)
{
    if (i >= s->vlen)
        return 0;
    unsigned b = at(s, i);
    return b >= lo && b <= hi;
}

/* Decodes the sequence at s[i]: returns its first UTF-16 unit and stores in *n the bytes
 * consumed (malformed input consumes one byte; the count only matters for valid input). */
static unsigned decode_unit(const struct vstr *s, size_t i, size_t *n)
{
    unsigned b0 = at(s, i);
    *n = 1;
    if (b0 < 0x80)
        return b0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        if (!cont(s, i + 1, 0x80, 0xBF))
            return REPLACEMENT;
        *n = 2;
        return ((b0 & 0x1F) << 6) | (at(s, i + 1) & 0x3F);
    }
    if (b0 >= 0xE0 && b0 <= 0xEF) {
        /* E0 needs A0.. (no overlongs); ED needs ..9F (no encoded surrogates) */
        unsigned lo = b0 == 0xE0 ? 0xA0 : 0x80, hi = b0 == 0xED ? 0x9F : 0xBF;
        if (!cont(s, i + 1, lo, hi) || !cont(s, i + 2, 0x80, 0xBF))
            return REPLACEMENT;
        *n = 3;
        return ((b0 & 0x0F) << 12) | ((at(s, i + 1) & 0x3F) << 6) | (at(s, i + 2) & 0x3F);
    }
    if (b0 >= 0xF0 && b0 <= 0xF4) {
        unsigned lo = b0 == 0xF0 ? 0x90 : 0x80, hi = b0 == 0xF4 ? 0x8F : 0xBF;
        if (!cont(s, i + 1, lo, hi) || !cont(s, i + 2, 0x80, 0xBF) || !cont(s, i + 3, 0x80, 0xBF))
            return REPLACEMENT;
        *n = 4;
        unsigned cp =
            ((b0 & 0x07) << 18) | ((at(s, i + 1) & 0x3F) << 12) | ((at(s, i + 2) & 0x3F) << 6) | (at(s, i + 3) & 0x3F);
        return 0xD800 + ((cp - 0x10000) >> 10); /* high surrogate */
    }
    return REPLACEMENT; /* stray continuation byte, C0/C1, F5..FF */
}

static int forbidden_unit(unsigned c)
{
    return (c > 0x0000 && c <= 0x001F) || (c >= 0x007F && c <= 0x009F) || (c >= 0xD800 && c <= 0xF8FF) ||
           (c >= 0xFFF0 && c <= 0xFFFF);
}

static int refuse(const char **why, const char *reason)
{
    if (why)
        *why = reason;
    return ZBADARGUMENTS;
}

int path_validate(const char *path, size_t len, int sequential, const char **why)
{
    if (why)
        *why = NULL;
    if (!path)
        return refuse(why, "Path cannot be null");
    struct vstr s = {(const unsigned char *)path, len, len + (sequential ? 1 : 0)};
    if (s.vlen == 0)
        return refuse(why, "Path length must be > 0");
    if (at(&s, 0) != '/')
        return refuse(why, "Path must start with / character");
    if (s.vlen == 1)
        return ZOK; /* the root */
    /* A '/' byte is always the character '/', even after malformed bytes. */
    if (at(&s, s.vlen - 1) == '/')
        return refuse(why, "Path must not end with / character");

    /* '/', '.' and NUL are ASCII, so "previous" and "next" characters around them can be
     * looked at byte-wise; the multi-byte characters only need their first unit. */
    unsigned last = '/', before_last = 0;
    size_t n;
    for (size_t i = 1; i < s.vlen; i += n) {
        unsigned c = decode_unit(&s, i, &n);
        int next_is_end_or_slash = i + 1 == s.vlen || at(&s, i + 1) == '/';
        if (c == 0)
            return refuse(why, "null character not allowed");
        if (c == '/' && last == '/')
            return refuse(why, "empty node name specified");
        if (c == '.' && last == '.') {
            if (before_last == '/' && next_is_end_or_slash)
                return refuse(why, "relative paths not allowed");
        } else if (c == '.') {
            if (last == '/' && next_is_end_or_slash)
                return refuse(why, "relative paths not allowed");
        } else if (forbidden_unit(c)) {
            return refuse(why, "invalid character");
        }
        before_last = last;
        last = c;
    }
    return ZOK;
}

size_t path_parent_len(const char *path, size_t len)
{
    if (!path || len < 2 || path[0] != '/')
        return 0;
    size_t i = len - 1;
    while (i > 0 && path[i] != '/')
        i--;
    return i == 0 ? 1 : i;
}

int path_parent(const char *path, char *out, size_t outsz)
{
    if (out && outsz > 0)
        out[0] = '\0';
    if (!path || !out)
        return ZBADARGUMENTS;
    size_t plen = path_parent_len(path, strlen(path));
    if (plen == 0 || plen + 1 > outsz)
        return ZBADARGUMENTS;
    memcpy(out, path, plen);
    out[plen] = '\0';
    return ZOK;
}

const char *path_basename(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

int path_is_ancestor_or_self(const char *anc, const char *path)
{
    if (!anc || !path || anc[0] != '/')
        return 0;
    if (anc[1] == '\0')
        return path[0] == '/';
    size_t alen = strlen(anc);
    if (anc[alen - 1] == '/' || strncmp(anc, path, alen) != 0)
        return 0;
    return path[alen] == '\0' || path[alen] == '/';
}

/* Copies the concatenation of up to three pieces into out, or fails without a partial
 * result when it does not fit. */
static int concat3(char *out, size_t outsz, const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    if (outsz == 0)
        return ZBADARGUMENTS;
    /* each length is below the size of its own object, so the sums cannot wrap */
    if (la + lb + lc >= outsz) {
        out[0] = '\0';
        return ZBADARGUMENTS;
    }
    memcpy(out, a, la);
    memcpy(out + la, b, lb);
    memcpy(out + la + lb, c, lc);
    out[la + lb + lc] = '\0';
    return ZOK;
}

int path_join(const char *parent, const char *name, char *out, size_t outsz)
{
    if (!parent || !name || !out || parent[0] != '/' || name[0] == '/') {
        if (out && outsz > 0)
            out[0] = '\0';
        return ZBADARGUMENTS;
    }
    if (name[0] == '\0')
        return concat3(out, outsz, parent, "", "");
    size_t pl = strlen(parent);
    const char *sep = parent[pl - 1] == '/' ? "" : "/";
    return concat3(out, outsz, parent, sep, name);
}

static int no_chroot(const char *chroot)
{
    return !chroot || chroot[0] == '\0' || (chroot[0] == '/' && chroot[1] == '\0');
}

int path_prepend_chroot(const char *chroot, const char *path, char *out, size_t outsz)
{
    if (!path || !out) {
        if (out && outsz > 0)
            out[0] = '\0';
        return ZBADARGUMENTS;
    }
    if (no_chroot(chroot))
        return concat3(out, outsz, path, "", "");
    if (path[0] == '/' && path[1] == '\0')
        return concat3(out, outsz, chroot, "", "");
    return concat3(out, outsz, chroot, path, "");
}

const char *path_strip_chroot(const char *chroot, const char *server_path)
{
    if (!server_path || no_chroot(chroot))
        return server_path;
    size_t cl = strlen(chroot);
    if (strncmp(server_path, chroot, cl) != 0)
        return server_path;
    if (server_path[cl] == '\0')
        return "/";
    if (server_path[cl] != '/')
        return server_path;
    return server_path + cl;
}
