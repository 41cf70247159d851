/* The mount's pure rules: shapes, suffixes, virtual names, errno mapping, modes, inode
 * numbers and the lock recipe's order. See shape.h. */
#include "fuse/shape.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/hmap.h"
#include "common/zerr.h"

int shape_is_dir(const struct zk_stat *st, int created_as_file)
{
    if (st->numChildren > 0)
        return 1;
    if (created_as_file)
        return 0;
    return st->dataLength <= 0;
}

static int strip(const char *name, size_t *len, const char *suffix)
{
    size_t n = strlen(suffix);
    if (*len >= n && memcmp(name + *len - n, suffix, n) == 0) {
        *len -= n;
        return 1;
    }
    return 0;
}

int shape_parse_suffix(const char *name, char *base, size_t cap, int *mode)
{
    size_t len = strlen(name);
    int eph = 0, seq = 0;
    /* at most one of each, in either order */
    for (int round = 0; round < 2; round++) {
        if (!eph && strip(name, &len, ".ephemeral"))
            eph = 1;
        else if (!seq && strip(name, &len, ".sequential"))
            seq = 1;
    }
    *mode = eph ? (seq ? ZMODE_EPHEMERAL_SEQUENTIAL : ZMODE_EPHEMERAL)
                : (seq ? ZMODE_PERSISTENT_SEQUENTIAL : ZMODE_PERSISTENT);
    if (len + 1 > cap || (len == 0 && !seq))
        return -1;
    memcpy(base, name, len);
    base[len] = '\0';
    return eph || seq;
}

int shape_virtual(const char *name, char *target, size_t cap)
{
    if (strcmp(name, SHAPE_DATA_NAME) == 0)
        return SHAPE_VIRT_DATA;
    size_t len = strlen(name), n = strlen(SHAPE_LOCK_SUFFIX);
    if (len > n && strcmp(name + len - n, SHAPE_LOCK_SUFFIX) == 0) {
        if (len - n + 1 > cap)
            return -1;
        memcpy(target, name, len - n);
        target[len - n] = '\0';
        return SHAPE_VIRT_LOCK;
    }
    return SHAPE_VIRT_NONE;
}

int shape_errno(int zerr)
{
    switch (zerr) {
    case ZOK:
        return 0;
    case ZNONODE:
        return ENOENT;
    case ZNODEEXISTS:
        return EEXIST;
    case ZNOTEMPTY:
        return ENOTEMPTY;
    case ZNOAUTH:
    case ZAUTHFAILED:
        return EACCES;
    case ZBADVERSION:
        return EAGAIN;
    case ZNOCHILDRENFOREPHEMERALS:
        return EPERM;
    case ZBADARGUMENTS:
    case ZINVALIDACL:
        return EINVAL;
    case ZUNIMPLEMENTED:
        return ENOTSUP;
    case ZSYSTEMERROR:
        return ENOMEM;
    case ZQUOTAEXCEEDED:
        return EDQUOT;
    case ZOPERATIONTIMEOUT:
        return ETIMEDOUT;
    default: /* connection loss, session expiry, marshalling, closing: the outcome is unknown */
        return EIO;
    }
}

mode_t shape_perm_bits(const struct zk_acl *acl, int32_t nacl, int is_dir)
{
    if (nacl < 0)
        return is_dir ? 0555 : 0444;
    int32_t perms = 0;
    for (int32_t i = 0; i < nacl; i++)
        if (acl[i].id.scheme && acl[i].id.id && strcmp(acl[i].id.scheme, "world") == 0 &&
            strcmp(acl[i].id.id, "anyone") == 0)
            perms |= acl[i].perms;
    mode_t m = 0;
    if (perms & ZPERM_READ)
        m |= is_dir ? 0555 : 0444;
    if (is_dir ? (perms & (ZPERM_CREATE | ZPERM_DELETE)) : (perms & ZPERM_WRITE))
        m |= 0222;
    return m;
}

uint64_t shape_ino(int64_t czxid, const char *path)
{
    uint64_t h = hmap_hash(path, strlen(path)) ^ ((uint64_t)czxid * 0x9e3779b97f4a7c15ULL);
    /* a final mix so nearby czxids spread over the whole range */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h <= 1 ? h + 2 : h;
}

/* The sequence number of a contender name and which kind it is (0 "__lock__", 1
 * "__rlock__"), or -1 when the name is not a contender. */
static int contender(const char *name, long long *seq)
{
    size_t len = strlen(name);
    const char *digits = NULL;
    if (len >= 10) {
        const char *d = name + len - 10;
        int ok = 1;
        for (int i = 0; i < 10; i++)
            ok &= d[i] >= '0' && d[i] <= '9';
        if (ok)
            digits = d;
    }
    if (!digits)
        return -1;
    const char *tag_end = digits;
    /* a negative counter (after 2^31 creates) shows as a '-' before the 10 digits */
    if (tag_end > name && tag_end[-1] == '-')
        tag_end--;
    size_t head = (size_t)(tag_end - name);
    int kind;
    if (head >= 8 && memcmp(tag_end - 8, "__lock__", 8) == 0)
        kind = 0;
    else if (head >= 9 && memcmp(tag_end - 9, "__rlock__", 9) == 0)
        kind = 1;
    else
        return -1;
    long long v = 0;
    for (int i = 0; i < 10; i++)
        v = v * 10 + (digits[i] - '0');
    *seq = tag_end != digits ? -v : v;
    return kind;
}

int shape_lock_predecessor(char *const *children, int32_t n, const char *self, int shared)
{
    long long self_seq = 0;
    int self_idx = -1;
    for (int32_t i = 0; i < n; i++)
        if (strcmp(children[i], self) == 0)
            self_idx = (int)i;
    if (self_idx < 0 || contender(self, &self_seq) < 0)
        return -2;
    int best = -1;
    long long best_seq = 0;
    for (int32_t i = 0; i < n; i++) {
        long long s;
        int kind = contender(children[i], &s);
        if (kind < 0 || (int)i == self_idx)
            continue;
        if (shared && kind == 1)
            continue; /* readers do not exclude readers */
        /* kazoo orders by the sequence text; equal texts cannot happen under one parent */
        if (s < self_seq && (best < 0 || s > best_seq)) {
            best = (int)i;
            best_seq = s;
        }
    }
    return best;
}

int shape_split(const char *path, char *parent, size_t cap, const char **name)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash[1] == '\0')
        return -1;
    size_t len = slash == path ? 1 : (size_t)(slash - path);
    if (len + 1 > cap)
        return -1;
    memcpy(parent, path, len);
    parent[len] = '\0';
    *name = slash + 1;
    return 0;
}

int shape_child_path(const char *parent, const char *name, char *out, size_t cap)
{
    int k = strcmp(parent, "/") == 0 ? snprintf(out, cap, "/%s", name) : snprintf(out, cap, "%s/%s", parent, name);
    return k < 0 || (size_t)k >= cap ? -1 : 0;
}
