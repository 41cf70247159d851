/* Snapshot writing, loading, dumping and retention; see snap.h. */
#include "zkfsd/snap.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jute.h"
#include "common/log.h"
#include "common/zerr.h"
#include "zkfsd/crc32c.h"
#include "zkfsd/wal.h"

#define CHUNK (1 << 20)

/* Where the encoder's bytes go: a file, written out (and checksummed) every CHUNK so that a
 * forked child's memory stays small, or memory (fd < 0), where the buffer is the result. */
struct out {
    int fd;
    struct jbuf b;
    size_t summed; /* bytes of b already in crc */
    uint32_t crc;
    int failed;
};

/* Writes p[0..n) to fd; returns 0 or an errno. */
static int write_full(int fd, const uint8_t *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, p + off, n - off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        off += (size_t)k;
    }
    return 0;
}

static void flush_out(struct out *o)
{
    if (o->b.oom && !o->failed)
        o->failed = ENOMEM;
    if (o->failed)
        return;
    o->crc = crc32c(o->crc, o->b.p + o->summed, o->b.len - o->summed);
    o->summed = o->b.len;
    if (o->fd < 0)
        return;
    o->failed = write_full(o->fd, o->b.p, o->b.len);
    jb_reset(&o->b);
    o->summed = 0;
}

struct sess_ctx {
    struct out *o;
};

static void put_session(void *ctx, const struct zk_session *s)
{
    /* A closing session is kept too: its closeSession txn may not be durable yet, and if a
     * crash loses it the session must expire again after recovery, or nothing would ever
     * remove its ephemerals (ZooKeeper likewise keeps a session until the close is applied). */
    struct out *o = ((struct sess_ctx *)ctx)->o;
    jw_long(&o->b, s->id);
    jw_int(&o->b, s->timeout_ms);
}

static void count_session(void *ctx, const struct zk_session *s)
{
    (void)s;
    (*(int32_t *)ctx)++;
}

static void put_node(struct out *o, const struct znode *n)
{
    jw_string(&o->b, n->path);
    jw_buffer(&o->b, n->data, n->datalen);
    jw_acls(&o->b, n->acl->v, n->acl->n);
    const struct zk_stat *s = &n->stat;
    jw_long(&o->b, s->czxid);
    jw_long(&o->b, s->mzxid);
    jw_long(&o->b, s->ctime);
    jw_long(&o->b, s->mtime);
    jw_int(&o->b, s->version);
    jw_int(&o->b, s->cversion);
    jw_int(&o->b, s->aversion);
    jw_long(&o->b, s->ephemeralOwner);
    jw_long(&o->b, s->pzxid);
    if (o->b.len - o->summed >= CHUNK)
        flush_out(o);
}

/* The one encoder of the format (snap.h): the whole snapshot of t into o; o->failed tells. */
static void encode(struct out *o, const struct ztree *t, const struct sess_table *s, int64_t now_wall)
{
    jw_raw(&o->b, "ZKSN", 4);
    jw_int(&o->b, 1);
    jw_long(&o->b, t->last_zxid);
    jw_long(&o->b, now_wall);
    int32_t nsess = 0;
    sess_foreach(s, count_session, &nsess);
    jw_int(&o->b, nsess);
    struct sess_ctx sc = {o};
    sess_foreach(s, put_session, &sc);
    jw_long(&o->b, (int64_t)tree_node_count(t));
    /* parent-first, iteratively: trees can be deep */
    size_t cap = 1024, sp = 0;
    const struct znode **stack = malloc(cap * sizeof(*stack));
    if (!stack)
        o->failed = ENOMEM;
    else
        stack[sp++] = t->root;
    while (sp && !o->failed) {
        const struct znode *n = stack[--sp];
        put_node(o, n);
        struct hmap_slot *sl;
        for (size_t i = 0; hmap_next(&n->children, &i, &sl);) {
            if (sp == cap) {
                const struct znode **ns = realloc(stack, cap * 2 * sizeof(*ns));
                if (!ns) {
                    o->failed = ENOMEM;
                    break;
                }
                stack = ns;
                cap *= 2;
            }
            stack[sp++] = sl->val;
        }
    }
    free(stack);
    jw_raw(&o->b, "ZKSE", 4);
    flush_out(o);
    uint8_t crc[4] = {o->crc >> 24, o->crc >> 16, o->crc >> 8, o->crc};
    jw_raw(&o->b, crc, 4);
    o->summed = o->b.len; /* the checksum does not cover itself */
    flush_out(o);
}

/* A snapshot file being written: the temp file, open as fd, and its final name. */
struct tmpfile {
    int fd;
    char tmp[4200], final[4096];
};

static int create_tmp(const char *dir, int64_t zxid, struct tmpfile *f, char *err, size_t errlen)
{
    snprintf(f->final, sizeof(f->final), "%s/snapshot.%" PRIx64, dir, (uint64_t)zxid);
    snprintf(f->tmp, sizeof(f->tmp), "%s.tmp", f->final);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", f->tmp, strerror(errno));
        return -1;
    }
    return 0;
}

/* Closes the temp file and, unless writing it failed (failed: an errno, or 0), puts it in
 * place: fsync, rename, directory fsync, so that a crash leaves the complete file or none.
 * On failure the temp file is removed. */
static int store_tmp(struct tmpfile *f, int failed, const char *dir, char *err, size_t errlen)
{
    if (!failed && fsync(f->fd) < 0)
        failed = errno;
    if (close(f->fd) < 0 && !failed)
        failed = errno;
    if (!failed && rename(f->tmp, f->final) < 0)
        failed = errno;
    if (!failed && zk_fsync_dir(dir) < 0)
        failed = errno;
    if (failed) {
        snprintf(err, errlen, "writing snapshot %s failed: %s", f->final, strerror(failed));
        unlink(f->tmp);
        return -1;
    }
    return 0;
}

int snap_write(const char *dir, const struct ztree *t, const struct sess_table *s, int64_t now_wall, char *err,
               size_t errlen)
{
    struct tmpfile f;
    if (create_tmp(dir, t->last_zxid, &f, err, errlen) < 0)
        return -1;
    struct out o = {.fd = f.fd};
    jb_init(&o.b);
    encode(&o, t, s, now_wall);
    jb_free(&o.b);
    return store_tmp(&f, o.failed, dir, err, errlen);
}

int snap_encode(const struct ztree *t, const struct sess_table *s, int64_t now_wall, uint8_t **out, size_t *len,
                char *err, size_t errlen)
{
    struct out o = {.fd = -1};
    jb_init(&o.b);
    encode(&o, t, s, now_wall);
    if (o.failed) {
        snprintf(err, errlen, "encoding snapshot 0x%" PRIx64 " failed: %s", (uint64_t)t->last_zxid,
                 strerror(o.failed));
        jb_free(&o.b);
        return -1;
    }
    *out = o.b.p;
    *len = o.b.len;
    return 0;
}

/* ---------------- reading ---------------- */

struct snapfile {
    const uint8_t *p;
    size_t len;
};

/* The checks every snapshot passes before it is parsed, file or bytes (what names it). */
static int verify_snap(const struct snapfile *f, const char *what, char *err, size_t errlen)
{
    if (f->len < 36) {
        snprintf(err, errlen, "%s is truncated (%zu bytes)", what, f->len);
        return -1;
    }
    const uint8_t *end = f->p + f->len - 8;
    uint32_t stored = (uint32_t)end[4] << 24 | (uint32_t)end[5] << 16 | (uint32_t)end[6] << 8 | end[7];
    if (memcmp(f->p, "ZKSN", 4) != 0 || memcmp(end, "ZKSE", 4) != 0 ||
        crc32c(0, f->p, f->len - 4) != stored) {
        snprintf(err, errlen, "%s fails its checksum (damaged or incomplete)", what);
        return -1;
    }
    return 0;
}

static int open_snap(const char *file, struct snapfile *f, char *err, size_t errlen)
{
    f->p = NULL;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    f->len = (size_t)st.st_size;
    if (f->len < 36) { /* nothing worth mapping: verify_snap says why */
        close(fd);
        return verify_snap(f, file, err, errlen);
    }
    void *p = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map %s: %s", file, strerror(errno));
        return -1;
    }
    f->p = p;
    if (verify_snap(f, file, err, errlen) < 0) {
        munmap((void *)f->p, f->len);
        f->p = NULL;
        return -1;
    }
    return 0;
}

/* Walks a verified snapshot: sessions and nodes through the callbacks (either may be NULL). */
static int parse_snap(const struct snapfile *f, int64_t *zxid, int64_t *time,
                      void (*on_session)(void *ctx, int64_t id, int32_t timeout),
                      int (*on_node)(void *ctx, const char *path, const uint8_t *data, int32_t datalen,
                                     const struct zk_acl *acl, int32_t nacl, const struct zk_stat *st),
                      void *ctx)
{
    struct jrd r;
    jr_init(&r, f->p + 4, f->len - 12);
    if (jr_int(&r) != 1)
        return -1;
    *zxid = jr_long(&r);
    *time = jr_long(&r);
    int32_t ns = jr_int(&r);
    if (r.err || ns < 0 || (size_t)ns > jr_remaining(&r) / 12)
        return -1;
    for (int32_t i = 0; i < ns; i++) {
        int64_t id = jr_long(&r);
        int32_t to = jr_int(&r);
        if (on_session && !r.err)
            on_session(ctx, id, to);
    }
    int64_t nn = jr_long(&r);
    if (r.err || nn < 0)
        return -1;
    for (int64_t i = 0; i < nn && !r.err; i++) {
        char *path = jr_string(&r, NULL);
        const uint8_t *data;
        int32_t dlen;
        jr_buffer(&r, &data, &dlen);
        struct zk_acl *acl;
        int32_t nacl;
        jr_acls(&r, &acl, &nacl);
        struct zk_stat st = {0};
        st.czxid = jr_long(&r);
        st.mzxid = jr_long(&r);
        st.ctime = jr_long(&r);
        st.mtime = jr_long(&r);
        st.version = jr_int(&r);
        st.cversion = jr_int(&r);
        st.aversion = jr_int(&r);
        st.ephemeralOwner = jr_long(&r);
        st.pzxid = jr_long(&r);
        int rc = 0;
        if (!r.err && path && on_node)
            rc = on_node(ctx, path, data, dlen, acl, nacl, &st);
        free(path);
        jute_free_acls(acl, nacl);
        if (rc < 0 || !path)
            return -1;
    }
    return r.err || jr_remaining(&r) != 0 ? -1 : 0;
}

struct load_ctx {
    struct ztree *t;
    struct sess_table *s;
    int64_t now;
};

static void load_session(void *ctx, int64_t id, int32_t timeout)
{
    struct load_ctx *c = ctx;
    sess_add(c->s, id, timeout, c->now);
}

static int load_node(void *ctx, const char *path, const uint8_t *data, int32_t datalen, const struct zk_acl *acl,
                     int32_t nacl, const struct zk_stat *st)
{
    return tree_restore_node(((struct load_ctx *)ctx)->t, path, data, datalen, acl, nacl, st);
}

/* Loads a verified snapshot into t and s; -1 when it does not parse (t may be half-loaded). */
static int load_snap(const struct snapfile *f, struct ztree *t, struct sess_table *s, int64_t now_mono,
                     int64_t *zxid)
{
    struct load_ctx c = {t, s, now_mono};
    int64_t time;
    if (parse_snap(f, zxid, &time, load_session, load_node, &c) < 0)
        return -1;
    t->last_zxid = *zxid;
    return 0;
}

int snap_load_latest(const char *dir, struct ztree *t, struct sess_table *s, int64_t now_mono, int64_t *zxid,
                     char *err, size_t errlen)
{
    char **names;
    int64_t *zx;
    *zxid = 0;
    int n = zk_list_files(dir, "snapshot.", &names, &zx);
    if (n < 0) {
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = n ? -1 : 0;
    for (int i = n - 1; i >= 0; i--) {
        struct snapfile f;
        char why[512];
        if (open_snap(names[i], &f, why, sizeof(why)) < 0) {
            LOG_WARN("skipping snapshot: %s", why);
            snprintf(err, errlen, "no valid snapshot in %s (newest problem: %s)", dir, why);
            continue;
        }
        int ok = load_snap(&f, t, s, now_mono, zxid) == 0;
        munmap((void *)f.p, f.len);
        if (!ok) {
            /* the tree may be half-loaded: no fallback from here */
            snprintf(err, errlen, "snapshot %s verifies but does not parse", names[i]);
            rc = -1;
            break;
        }
        LOG_INFO("loaded snapshot %s: zxid 0x%" PRIx64 ", %zu znodes, %zu sessions", names[i], (uint64_t)*zxid,
                 tree_node_count(t), sess_count(s));
        rc = 0;
        break;
    }
    zk_free_list(names, zx, n);
    return rc;
}

/* what messages call snapshot bytes that are not a file */
#define IMAGE "snapshot image"

int snap_load_bytes(const uint8_t *p, size_t n, struct ztree *t, struct sess_table *s, int64_t now_mono,
                    int64_t *zxid, char *err, size_t errlen)
{
    struct snapfile f = {p, n};
    if (verify_snap(&f, IMAGE, err, errlen) < 0)
        return -1;
    if (load_snap(&f, t, s, now_mono, zxid) < 0) {
        snprintf(err, errlen, IMAGE " verifies but does not parse");
        return -1;
    }
    return 0;
}

int snap_save(const char *dir, const uint8_t *p, size_t n, char *err, size_t errlen)
{
    struct snapfile f = {p, n};
    int64_t zxid, time;
    if (verify_snap(&f, IMAGE, err, errlen) < 0)
        return -1;
    /* walking it without callbacks checks every count and length */
    if (parse_snap(&f, &zxid, &time, NULL, NULL, NULL) < 0) {
        snprintf(err, errlen, IMAGE " verifies but does not parse");
        return -1;
    }
    /* no tree has one: it would sort before every snapshot and name a file never loaded */
    if (zxid < 0) {
        snprintf(err, errlen, IMAGE " has a negative zxid");
        return -1;
    }
    struct tmpfile tf;
    if (create_tmp(dir, zxid, &tf, err, errlen) < 0 || store_tmp(&tf, write_full(tf.fd, p, n), dir, err, errlen) < 0)
        return -1;
    /* The newer ones go only once this one is stored: a crash or failure in between leaves
     * the newest snapshot what it was before, never an older one. */
    char **names;
    int64_t *zx;
    int k = zk_list_files(dir, "snapshot.", &names, &zx);
    if (k < 0) {
        snprintf(err, errlen, "cannot read %s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0, removed = 0;
    for (int i = 0; i < k && !rc; i++) {
        if (zx[i] <= zxid)
            continue;
        if (unlink(names[i]) < 0 && errno != ENOENT) {
            snprintf(err, errlen, "cannot remove %s: %s", names[i], strerror(errno));
            rc = -1;
        } else {
            LOG_INFO("removed snapshot %s: newer than the snapshot 0x%" PRIx64 " that replaces it", names[i],
                     (uint64_t)zxid);
            removed++;
        }
    }
    zk_free_list(names, zx, k);
    /* durably gone, or a power loss could bring one back to be loaded instead */
    if (removed && zk_fsync_dir(dir) < 0) {
        snprintf(err, errlen, "cannot sync %s: %s", dir, strerror(errno));
        rc = -1;
    }
    return rc;
}

static void dump_session(void *ctx, int64_t id, int32_t timeout)
{
    fprintf(ctx, "session 0x%" PRIx64 " timeout=%dms\n", (uint64_t)id, timeout);
}

static int dump_node(void *ctx, const char *path, const uint8_t *data, int32_t datalen, const struct zk_acl *acl,
                     int32_t nacl, const struct zk_stat *st)
{
    (void)data;
    FILE *out = ctx;
    fprintf(out,
            "%s data=%d czxid=0x%" PRIx64 " mzxid=0x%" PRIx64 " pzxid=0x%" PRIx64
            " version=%d cversion=%d aversion=%d owner=0x%" PRIx64 " acl=",
            path, datalen, (uint64_t)st->czxid, (uint64_t)st->mzxid, (uint64_t)st->pzxid, st->version, st->cversion,
            st->aversion, (uint64_t)st->ephemeralOwner);
    for (int32_t i = 0; i < nacl; i++)
        fprintf(out, "%s%s:%s:%d", i ? "," : "", acl[i].id.scheme ? acl[i].id.scheme : "",
                acl[i].id.id ? acl[i].id.id : "", acl[i].perms);
    fputc('\n', out);
    return 0;
}

int snap_dump(const char *file, FILE *out)
{
    struct snapfile f;
    char err[512];
    if (open_snap(file, &f, err, sizeof(err)) < 0) {
        fprintf(out, "%s\n", err);
        return -1;
    }
    int64_t zxid, time;
    fprintf(out, "snapshot %s\n", file);
    int rc = parse_snap(&f, &zxid, &time, dump_session, dump_node, out);
    fprintf(out, "zxid=0x%" PRIx64 " taken at %" PRId64 "%s\n", (uint64_t)zxid, time, rc ? " (DOES NOT PARSE)" : "");
    munmap((void *)f.p, f.len);
    return rc;
}

int snap_purge(const char *snapdir, const char *logdir, int keep)
{
    char **sn, **ln;
    int64_t *sz, *lz;
    int removed = 0;
    int ns = zk_list_files(snapdir, "snapshot.", &sn, &sz);
    if (ns <= keep || keep < 1) {
        if (ns >= 0)
            zk_free_list(sn, sz, ns);
        return 0;
    }
    /* Retention counts valid snapshots only (as ZooKeeper's findNValidSnapshots): were the
     * newest files damaged, counting them would delete the only snapshot that recovery can
     * use, and the logs it needs. Damaged files newer than the oldest kept one stay. */
    int valid = 0, cut = -1;
    for (int i = ns - 1; i >= 0 && cut < 0; i--) {
        struct snapfile f;
        char why[512];
        if (open_snap(sn[i], &f, why, sizeof(why)) < 0) {
            LOG_WARN("retention: not counting %s", why);
            continue;
        }
        munmap((void *)f.p, f.len);
        if (++valid == keep)
            cut = i;
    }
    if (cut < 0) {
        zk_free_list(sn, sz, ns);
        return 0;
    }
    int64_t oldest_kept = sz[cut];
    for (int i = 0; i < cut; i++)
        if (unlink(sn[i]) == 0) {
            LOG_INFO("purged old snapshot %s", sn[i]);
            removed++;
        }
    zk_free_list(sn, sz, ns);
    int nl = zk_list_files(logdir, "log.", &ln, &lz);
    for (int i = 0; i + 1 < nl; i++)
        if (lz[i + 1] <= oldest_kept + 1 && unlink(ln[i]) == 0) {
            LOG_INFO("purged old log %s", ln[i]);
            removed++;
        }
    if (nl >= 0)
        zk_free_list(ln, lz, nl);
    return removed;
}
