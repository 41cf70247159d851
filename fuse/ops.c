/* The FUSE low-level operations of zkfs-mount. Each one is answered asynchronously: it
 * starts ZooKeeper requests on the mount's zkc handle and replies to the kernel from their
 * completions, so one thread serves every process at once. What the server said is kept in
 * the node cache (inode.h), which the recursive watch keeps current (events.c); requests
 * made by the notifier thread (notify.h) are answered from what the mount already knows. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"
#include "fuse/mount.h"
#include "fuse/shape.h"

/* How long the kernel may trust entries and attributes: long, since watch events invalidate
 * them; 0 without a recursive watch (a server without addWatch). */
#define LONG_TIMEOUT 3600.0
/* The largest znode path the mount builds (ZooKeeper's own limit is the packet size). */
#define MAX_PATH 4096

static struct mount *M(fuse_req_t req)
{
    return fuse_req_userdata(req);
}

static int from_notifier(struct mount *m, fuse_req_t req)
{
    return m->nt && fuse_req_ctx(req)->pid == notify_tid(m->nt);
}

static int cache_ok(const struct mount *m)
{
    return m->recursive_watch || m->oneshot;
}
static double timeout_of(const struct mount *m)
{
    return cache_ok(m) ? LONG_TIMEOUT : 0.0;
}

/* Is what the node cache holds of n kept current by a watch? With the recursive watch,
 * always; with one-shot watches, while the node's data (or child) watch is armed. */
static int stat_fresh(const struct mount *m, const struct node *n)
{
    return n && n->have_stat && n->have_acl && (m->recursive_watch || (m->oneshot && n->wdata));
}
static int data_fresh(const struct mount *m, const struct node *n)
{
    return n && n->have_data && n->have_stat && (m->recursive_watch || (m->oneshot && n->wdata));
}
static int children_fresh(const struct mount *m, const struct node *n)
{
    return n && n->have_children && (m->recursive_watch || (m->oneshot && n->wchild));
}
/* The watcher one-shot watches are set with (events.c), or none with the recursive one. */
static zkc_watcher_fn oneshot_watcher(const struct mount *m)
{
    return m->oneshot ? events_node : NULL;
}

int mount_errno(int zerr, const char *what, const char *path)
{
    int e = shape_errno(zerr);
    if (e == EIO || e == ENOMEM)
        LOG_WARN("%s %s: %s", what, path ? path : "", zerr_name(zerr));
    return e;
}

/* ---------- request contexts ---------- */

struct rq;
typedef void (*cont_fn)(struct rq *q, int rc);

struct rq {
    struct mount *m;
    fuse_req_t req;
    uint64_t nodeid, parent;
    char *path, *path2, *name;
    int flags, zmode, is_dir, suffixed;
    mode_t mode;
    struct fuse_file_info fi;
    int have_fi;
    struct stat attr;
    int to_set;
    size_t size;
    off_t off;
    cont_fn next;
    /* rename */
    uint8_t *data;
    int32_t datalen, version, dst_version;
    struct zk_acl *acl;
    int32_t nacl;
    int64_t owner;
};

static struct rq *rq_new(fuse_req_t req, const char *path)
{
    struct rq *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    q->m = M(req);
    q->req = req;
    if (path && !(q->path = strdup(path))) {
        free(q);
        return NULL;
    }
    return q;
}

static void rq_free(struct rq *q)
{
    free(q->path);
    free(q->path2);
    free(q->name);
    free(q->data);
    jute_free_acls(q->acl, q->nacl);
    free(q);
}

/* Ends q with the errno of rc when rc is an error: returns 1 then (q is freed). */
static int rq_failed(struct rq *q, int rc, const char *what)
{
    if (rc == ZOK)
        return 0;
    fuse_reply_err(q->req, mount_errno(rc, what, q->path));
    rq_free(q);
    return 1;
}

/* The inode of ino, or NULL after replying ESTALE (the kernel holds a forgotten nodeid). */
static struct inode *inode_or_stale(fuse_req_t req, fuse_ino_t ino)
{
    struct inode *in = itable_get(&M(req)->it, ino);
    if (!in)
        fuse_reply_err(req, ESTALE);
    return in;
}

/* ---------- attributes ---------- */

static mode_t perm_bits(const struct node *n, int is_dir)
{
    if (!n || n->world_perms < 0)
        return shape_perm_bits(NULL, -1, is_dir);
    struct zk_acl a = {.perms = n->world_perms, .id = {.scheme = "world", .id = "anyone"}};
    return shape_perm_bits(&a, 1, is_dir);
}

static void ms_to_ts(int64_t ms, struct timespec *ts)
{
    ts->tv_sec = (time_t)(ms / 1000);
    ts->tv_nsec = (long)(ms % 1000) * 1000000L;
}

static void fill_attr(struct mount *m, const struct inode *in, const struct node *n, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_ino = in->st_ino;
    st->st_uid = getuid();
    st->st_gid = getgid();
    st->st_blksize = 4096;
    st->st_nlink = 1;
    if (in->kind == INODE_LOCK) {
        st->st_mode = S_IFREG | 0666;
        return;
    }
    const struct zk_stat *z = n && n->have_stat ? &n->stat : NULL;
    int is_dir = in->kind == INODE_NODE && in->is_dir;
    mode_t perm = perm_bits(n, is_dir);
    if (m->opts.read_only)
        perm &= (mode_t)~0222;
    st->st_mode = (is_dir ? S_IFDIR : S_IFREG) | perm;
    st->st_nlink = 1; /* for directories too: "not counted", as find(1) understands it */
    if (z) {
        if (!is_dir)
            st->st_size = z->dataLength > 0 ? z->dataLength : 0;
        st->st_blocks = (st->st_size + 511) / 512;
        ms_to_ts(z->mtime, &st->st_mtim);
        ms_to_ts(z->mtime, &st->st_atim);
        ms_to_ts(z->ctime, &st->st_ctim);
    }
}

static uint64_t ino_of(int kind, const char *path, const struct zk_stat *st)
{
    if (kind == INODE_NODE && strcmp(path, "/") == 0)
        return 1;
    char buf[MAX_PATH + 8];
    snprintf(buf, sizeof(buf), "%s%s", kind == INODE_DATA ? "data:" : kind == INODE_LOCK ? "lock:" : "", path);
    return shape_ino(st ? st->czxid : 0, buf);
}

static void ofile_free(struct mount *m, struct ofile *of);

/* The entry the kernel gets for in; taking it counts as a kernel reference. */
static void take_entry(struct mount *m, struct inode *in, const struct node *n, double timeout,
                       struct fuse_entry_param *e)
{
    memset(e, 0, sizeof(*e));
    e->ino = in->nodeid;
    e->generation = 1;
    fill_attr(m, in, n, &e->attr);
    e->attr_timeout = timeout;
    e->entry_timeout = timeout;
    in->nlookup++;
}

/* Replies with an entry for in (taking a kernel reference). */
static void reply_entry(struct mount *m, fuse_req_t req, struct inode *in, const struct node *n, double timeout)
{
    struct fuse_entry_param e;
    take_entry(m, in, n, timeout, &e);
    if (fuse_reply_entry(req, &e) != 0)
        itable_forget(&m->it, in->nodeid, 1);
}

/* Replies to a create with the entry for in and the open file of (direct I/O when writable:
 * see reply_open); undoes both when the kernel no longer waits. */
static void reply_create(struct mount *m, fuse_req_t req, struct fuse_file_info *fi, struct inode *in,
                         const struct node *n, struct ofile *of, double timeout)
{
    struct fuse_entry_param e;
    take_entry(m, in, n, timeout, &e);
    fi->fh = (uint64_t)(uintptr_t)of;
    fi->keep_cache = 0;
    fi->direct_io = of->writable;
    in->kdata_valid = 0;
    if (fuse_reply_create(req, &e, fi) != 0) {
        itable_forget(&m->it, in->nodeid, 1);
        ofile_free(m, of);
    }
}

static void reply_negative(fuse_req_t req, double timeout)
{
    struct fuse_entry_param e;
    memset(&e, 0, sizeof(e));
    e.entry_timeout = timeout;
    fuse_reply_entry(req, &e);
}

/* ---------- fetching a node's Stat (and ACL) ---------- */

static void on_exists_stat(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    if (rc == ZOK) {
        struct node *n = itable_node_make(&q->m->it, q->path2 ? q->path2 : q->path);
        if (!n) {
            q->next(q, ZSYSTEMERROR);
            return;
        }
        node_set_stat(n, &res->stat);
        n->world_perms = -1;
        n->have_acl = 1;
    }
    q->next(q, rc);
}

static void on_acl_stat(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct rq *q = ctx;
    const char *path = q->path2 ? q->path2 : q->path;
    if (rc == ZNOAUTH) {
        /* no READ or ADMIN: the Stat is still ours to see */
        rc = zkc_exists(zh, path, NULL, NULL, on_exists_stat, q);
        if (rc != ZOK)
            q->next(q, rc);
        return;
    }
    if (rc == ZOK) {
        struct node *n = itable_node_make(&q->m->it, path);
        if (!n) {
            q->next(q, ZSYSTEMERROR);
            return;
        }
        node_set_stat(n, &res->stat);
        int32_t perms = 0;
        for (int32_t i = 0; i < res->nacl; i++)
            if (res->acl[i].id.scheme && res->acl[i].id.id && !strcmp(res->acl[i].id.scheme, "world") &&
                !strcmp(res->acl[i].id.id, "anyone"))
                perms |= res->acl[i].perms;
        n->world_perms = perms;
        n->have_acl = 1;
    }
    q->next(q, rc);
}

/* Makes sure the node cache has the Stat of path (q->path2 when set, else q->path), then
 * calls next with ZOK or the error. */
static void need_stat(struct rq *q, cont_fn next)
{
    const char *path = q->path2 ? q->path2 : q->path;
    q->next = next;
    struct node *n = itable_node(&q->m->it, path);
    if (stat_fresh(q->m, n)) {
        next(q, ZOK);
        return;
    }
    if (q->m->oneshot)
        events_watch_node(q->m, path); /* arms a watch, answered before the ACL below */
    int rc = zkc_get_acl(q->m->zh, path, on_acl_stat, q);
    if (rc != ZOK)
        next(q, rc);
}

static void on_get_data(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    if (rc == ZOK) {
        struct node *n = itable_node_make(&q->m->it, q->path);
        if (!n || (node_set_stat(n, &res->stat), node_set_data(n, res->data, res->datalen) < 0)) {
            q->next(q, ZSYSTEMERROR);
            return;
        }
        if (q->m->oneshot)
            n->wdata = 1;
    }
    q->next(q, rc);
}

/* Makes sure the node cache has the data of q->path (fresh from the server when fresh). */
static void need_data(struct rq *q, int fresh, cont_fn next)
{
    q->next = next;
    struct node *n = itable_node(&q->m->it, q->path);
    if (!fresh && data_fresh(q->m, n)) {
        next(q, ZOK);
        return;
    }
    int rc = zkc_get_data(q->m->zh, q->path, oneshot_watcher(q->m), q->m, on_get_data, q);
    if (rc != ZOK)
        next(q, rc);
}

/* A lookup is usually followed by a read of the node (cat, source, grep): its data is asked
 * for right behind the Stat, in the same round trip, and cached. */
struct prefetch {
    struct mount *m;
    char path[];
};

static void on_prefetch(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct prefetch *p = ctx;
    struct node *n = rc == ZOK ? itable_node(&p->m->it, p->path) : NULL;
    /* only onto the Stat that came with the lookup: a later change has invalidated it */
    if (n && n->have_stat && n->stat.mzxid == res->stat.mzxid && !n->have_data)
        node_set_data(n, res->data, res->datalen);
    free(p);
}

static void prefetch_data(struct mount *m, const char *path)
{
    size_t len = strlen(path) + 1;
    struct prefetch *p = malloc(sizeof(*p) + len);
    if (!p)
        return;
    p->m = m;
    memcpy(p->path, path, len);
    if (zkc_get_data(m->zh, path, NULL, NULL, on_prefetch, p) != ZOK)
        free(p);
}

/* ---------- init ---------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
    (void)userdata;
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    if (conn->capable & FUSE_CAP_FLOCK_LOCKS)
        conn->want |= FUSE_CAP_FLOCK_LOCKS;
    if (conn->capable & FUSE_CAP_POSIX_LOCKS)
        conn->want |= FUSE_CAP_POSIX_LOCKS;
    /* requests are small: splicing them through a pipe costs more syscalls than it saves */
    conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

/* ---------- lookup ---------- */

static int child_of(struct mount *m, fuse_ino_t parent, const char *name, char *out, struct inode **pin)
{
    struct inode *p = itable_get(&m->it, parent);
    if (!p)
        return ESTALE;
    if (p->kind != INODE_NODE || !p->is_dir)
        return ENOTDIR;
    if (pin)
        *pin = p;
    if (shape_child_path(p->path, name, out, MAX_PATH) < 0)
        return ENAMETOOLONG;
    return 0;
}

static void lookup_done(struct rq *q, int rc)
{
    struct mount *m = q->m;
    if (rc == ZNONODE) {
        reply_negative(q->req, timeout_of(m));
    } else if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "lookup", q->path));
    } else {
        struct node *n = itable_node(&m->it, q->path);
        int is_dir = q->is_dir == INODE_DATA ? 0 : shape_is_dir(&n->stat, n->created_as_file);
        enum inode_kind kind = q->is_dir == INODE_DATA ? INODE_DATA : INODE_NODE;
        struct inode *in = itable_obtain(&m->it, kind, q->path, is_dir, ino_of(kind, q->path, &n->stat));
        if (!in)
            fuse_reply_err(q->req, ENOMEM);
        else
            reply_entry(m, q->req, in, n, timeout_of(m));
    }
    rq_free(q);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct mount *m = M(req);
    char path[MAX_PATH], target[MAX_PATH];
    struct inode *p;
    int e = child_of(m, parent, name, path, &p);
    if (e) {
        fuse_reply_err(req, e);
        return;
    }
    int virt = shape_virtual(name, target, sizeof(target));
    if (virt == SHAPE_VIRT_LOCK) {
        char lp[MAX_PATH];
        if (shape_child_path(p->path, target, lp, sizeof(lp)) < 0) {
            fuse_reply_err(req, ENAMETOOLONG);
            return;
        }
        struct inode *in = itable_obtain(&m->it, INODE_LOCK, lp, 0, ino_of(INODE_LOCK, lp, NULL));
        if (!in)
            fuse_reply_err(req, ENOMEM);
        else
            reply_entry(m, req, in, NULL, LONG_TIMEOUT);
        return;
    }
    int zmode;
    if (virt == SHAPE_VIRT_NONE && shape_parse_suffix(name, target, sizeof(target), &zmode) != 0) {
        /* a create suffix never names a node: always absent, never cached */
        reply_negative(req, 0);
        return;
    }
    if (virt == SHAPE_VIRT_NONE && from_notifier(m, req)) {
        struct tombstone *t = hmap_gets(&m->pending_delete, path);
        if (t) {
            struct inode *in = itable_obtain(&m->it, INODE_NODE, path, t->is_dir, t->st_ino);
            struct node fake = {.have_stat = 1, .stat = t->stat, .world_perms = -1};
            if (!in)
                fuse_reply_err(req, ENOMEM);
            else
                reply_entry(m, req, in, &fake, 0);
            return;
        }
        if (hmap_gets(&m->pending_create, path)) {
            reply_negative(req, 0);
            return;
        }
    }
    const char *npath = virt == SHAPE_VIRT_DATA ? p->path : path;
    struct node *pn = itable_node(&m->it, p->path);
    if (virt == SHAPE_VIRT_NONE && children_fresh(m, pn) && node_has_child(pn, name) == 0) {
        reply_negative(req, timeout_of(m));
        return;
    }
    struct rq *q = rq_new(req, npath);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->is_dir = virt == SHAPE_VIRT_DATA ? INODE_DATA : INODE_NODE; /* the kind wanted */
    struct node *n = itable_node(&m->it, npath);
    int fetching = !stat_fresh(m, n);
    need_stat(q, lookup_done);
    if (fetching && m->recursive_watch && !(n && n->have_data))
        prefetch_data(m, npath);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
    itable_forget(&M(req)->it, ino, nlookup);
    fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
    for (size_t i = 0; i < count; i++)
        itable_forget(&M(req)->it, forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
}

/* ---------- getattr / setattr ---------- */

static void reply_attr_of(struct mount *m, fuse_req_t req, struct inode *in)
{
    struct stat st;
    fill_attr(m, in, itable_node(&m->it, in->path), &st);
    fuse_reply_attr(req, &st, in->kind == INODE_LOCK ? LONG_TIMEOUT : timeout_of(m));
}

static void getattr_done(struct rq *q, int rc)
{
    struct mount *m = q->m;
    struct inode *in = itable_get(&m->it, q->nodeid);
    struct node *n = rc == ZOK ? itable_node(&m->it, q->path) : NULL;
    if (!in) {
        fuse_reply_err(q->req, ESTALE);
    } else if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "getattr", q->path));
    } else if (in->kind == INODE_NODE && in->nodeid != 1 && !in->detached &&
               shape_is_dir(&n->stat, n->created_as_file) != in->is_dir) {
        /* the kernel holds it with its old shape: answer as that, briefly, and make the
         * next lookup give a new inode of the new shape */
        struct stat st;
        fill_attr(m, in, n, &st);
        fuse_reply_attr(q->req, &st, 0);
        events_reshape(m, in);
    } else {
        reply_attr_of(m, q->req, in);
    }
    rq_free(q);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)fi;
    struct mount *m = M(req);
    struct inode *in = inode_or_stale(req, ino);
    if (!in)
        return;
    if (in->kind == INODE_LOCK || from_notifier(m, req)) {
        reply_attr_of(m, req, in);
        return;
    }
    struct rq *q = rq_new(req, in->path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->nodeid = ino;
    need_stat(q, getattr_done);
}

static int ensure_cap(struct ofile *of, size_t want)
{
    if (want <= of->cap)
        return 0;
    size_t cap = of->cap ? of->cap : 4096;
    while (cap < want)
        cap *= 2;
    uint8_t *p = realloc(of->buf, cap);
    if (!p)
        return -1;
    of->buf = p;
    of->cap = cap;
    return 0;
}

static void resize_buf(struct ofile *of, size_t len)
{
    if (len > of->len)
        memset(of->buf + of->len, 0, len - of->len);
    of->len = len;
}

static void truncate_set_done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    struct mount *m = q->m;
    inflight_end(m, q->path, 0, rc);
    struct inode *in = itable_get(&m->it, q->nodeid);
    if (rc == ZOK) {
        struct node *n = itable_node_make(&m->it, q->path);
        if (n) {
            node_set_stat(n, &res->stat);
            node_set_data(n, q->data, q->datalen);
        }
    }
    if (rc != ZOK)
        fuse_reply_err(q->req, mount_errno(rc, "truncate", q->path));
    else if (!in)
        fuse_reply_err(q->req, ESTALE);
    else
        reply_attr_of(m, q->req, in);
    rq_free(q);
}

static void truncate_got_data(struct rq *q, int rc)
{
    struct mount *m = q->m;
    if (rq_failed(q, rc, "truncate"))
        return;
    struct node *n = itable_node(&m->it, q->path);
    size_t len = q->size;
    q->data = calloc(1, len ? len : 1);
    if (!q->data) {
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    if (n->datalen > 0)
        memcpy(q->data, n->data, (size_t)n->datalen < len ? (size_t)n->datalen : len);
    q->datalen = (int32_t)len;
    inflight_begin(m, q->path, 0);
    rc = zkc_set_data(m->zh, q->path, q->data, q->datalen, n->stat.version, truncate_set_done, q);
    if (rc != ZOK) {
        inflight_end(m, q->path, 0, rc);
        fuse_reply_err(q->req, mount_errno(rc, "truncate", q->path));
        rq_free(q);
    }
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    struct inode *in = inode_or_stale(req, ino);
    if (!in)
        return;
    if (!(to_set & FUSE_SET_ATTR_SIZE) || from_notifier(m, req) || in->kind == INODE_LOCK) {
        /* modes, owners and times are not ZooKeeper's to keep: accepted and ignored */
        reply_attr_of(m, req, in);
        return;
    }
    if (m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (in->kind == INODE_NODE && in->is_dir) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    if ((uint64_t)attr->st_size > m->opts.max_data) {
        fuse_reply_err(req, EFBIG);
        return;
    }
    struct ofile *of = fi ? (struct ofile *)(uintptr_t)fi->fh : NULL;
    if (of && of->writable && of->have_buf) {
        if (ensure_cap(of, (size_t)attr->st_size) < 0) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        resize_buf(of, (size_t)attr->st_size);
        of->dirty = 1;
        struct stat st;
        fill_attr(m, in, itable_node(&m->it, in->path), &st);
        st.st_size = (off_t)of->len;
        fuse_reply_attr(req, &st, 0);
        return;
    }
    struct rq *q = rq_new(req, in->path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->nodeid = ino;
    q->size = (size_t)attr->st_size;
    need_data(q, 1, truncate_got_data);
}

/* ---------- directories ---------- */

/* An open directory: the listing it reads, taken when reading starts at offset 0 (not at
 * opendir: the kernel dates its readdir cache from the first read, and a listing older than
 * that could be cached as current). */
struct dirsnap {
    char **names;
    int32_t n;
    int taken;
    char *path;
    uint64_t nodeid;
};

static void snap_clear(struct dirsnap *d)
{
    for (int32_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    d->names = NULL;
    d->n = 0;
    d->taken = 0;
}

static int snap_take(struct mount *m, struct dirsnap *d)
{
    struct node *n = itable_node(&m->it, d->path);
    snap_clear(d);
    if (n->nchildren > 0 && !(d->names = calloc((size_t)n->nchildren, sizeof(char *))))
        return -1;
    for (int32_t i = 0; i < n->nchildren; i++)
        if ((d->names[d->n] = strdup(n->children[i])))
            d->n++;
    d->taken = 1;
    if (!cache_ok(m))
        node_invalidate(n);
    return 0;
}

static void fill_dir(struct mount *m, fuse_req_t req, struct dirsnap *d, size_t size, off_t off)
{
    char *buf = malloc(size);
    if (!buf) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    size_t used = 0;
    /* offsets: 1 = after ".", 2 = after "..", 3 + i = after child i */
    for (off_t i = off; i < 2 + d->n; i++) {
        struct stat st;
        memset(&st, 0, sizeof(st));
        const char *name;
        char path[MAX_PATH];
        if (i == 0) {
            name = ".";
            st.st_ino = d->nodeid == 1 ? 1 : ino_of(INODE_NODE, d->path, NULL);
            st.st_mode = S_IFDIR;
        } else if (i == 1) {
            name = "..";
            st.st_ino = 1;
            st.st_mode = S_IFDIR;
        } else {
            name = d->names[i - 2];
            if (shape_child_path(d->path, name, path, sizeof(path)) < 0)
                continue;
            struct node *n = itable_node(&m->it, path);
            struct inode *cin = itable_find(&m->it, INODE_NODE, path);
            if (cin) {
                st.st_ino = cin->st_ino;
                st.st_mode = cin->is_dir ? S_IFDIR : S_IFREG;
            } else if (n && n->have_stat) {
                st.st_ino = ino_of(INODE_NODE, path, &n->stat);
                st.st_mode = shape_is_dir(&n->stat, n->created_as_file) ? S_IFDIR : S_IFREG;
            } else {
                st.st_ino = ino_of(INODE_NODE, path, NULL);
                st.st_mode = 0; /* DT_UNKNOWN: the shape needs a lookup */
            }
        }
        size_t k = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
        if (k > size - used)
            break;
        used += k;
    }
    fuse_reply_buf(req, buf, used);
    free(buf);
}

static void on_children(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    struct mount *m = q->m;
    if (rc == ZOK) {
        struct node *n = itable_node_make(&m->it, q->path);
        if (n) {
            node_set_stat(n, &res->stat);
            if (node_set_children(n, res->children, res->nchildren) < 0)
                rc = ZSYSTEMERROR;
            else if (m->oneshot)
                n->wchild = 1;
        } else {
            rc = ZSYSTEMERROR;
        }
    }
    struct dirsnap *d = (struct dirsnap *)(uintptr_t)q->fi.fh;
    if (rq_failed(q, rc, "readdir"))
        return;
    if (snap_take(m, d) < 0)
        fuse_reply_err(q->req, ENOMEM);
    else
        fill_dir(m, q->req, d, q->size, q->off);
    rq_free(q);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    struct inode *in = inode_or_stale(req, ino);
    if (!in)
        return;
    struct dirsnap *d = calloc(1, sizeof(*d));
    if (!d || !(d->path = strdup(in->path))) {
        free(d);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    d->nodeid = ino;
    fi->fh = (uint64_t)(uintptr_t)d;
    /* the kernel may keep the listing: a change elsewhere invalidates the directory's inode,
     * and its own creates and deletes drop the cache by themselves */
    fi->cache_readdir = cache_ok(m);
    fi->keep_cache = cache_ok(m);
    if (fuse_reply_open(req, fi) != 0) {
        free(d->path);
        free(d);
    }
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)ino;
    struct mount *m = M(req);
    struct dirsnap *d = (struct dirsnap *)(uintptr_t)fi->fh;
    if (off == 0 || !d->taken) {
        struct node *n = itable_node(&m->it, d->path);
        if (children_fresh(m, n)) {
            if (snap_take(m, d) < 0) {
                fuse_reply_err(req, ENOMEM);
                return;
            }
        } else {
            struct rq *q = rq_new(req, d->path);
            if (!q) {
                fuse_reply_err(req, ENOMEM);
                return;
            }
            q->fi = *fi;
            q->size = size;
            q->off = off;
            int rc = zkc_get_children(m->zh, d->path, oneshot_watcher(m), m, on_children, q);
            if (rc != ZOK)
                rq_failed(q, rc, "readdir");
            return;
        }
    }
    fill_dir(m, req, d, size, off);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct dirsnap *d = (struct dirsnap *)(uintptr_t)fi->fh;
    if (d) {
        snap_clear(d);
        free(d->path);
        free(d);
    }
    fuse_reply_err(req, 0);
}

/* ---------- files ---------- */

static struct ofile *ofile_new(struct mount *m, struct inode *in, int writable)
{
    struct ofile *of = calloc(1, sizeof(*of));
    if (!of || !(of->path = strdup(in->path))) {
        free(of);
        return NULL;
    }
    if (hmap_put(&m->open_files, &of, sizeof(of), of, NULL) < 0) {
        free(of->path);
        free(of);
        return NULL;
    }
    of->nodeid = in->nodeid;
    of->kind = in->kind;
    of->writable = writable;
    of->version = -1;
    in->nopen++;
    return of;
}

static void ofile_free(struct mount *m, struct ofile *of)
{
    hmap_del(&m->open_files, &of, sizeof(of));
    struct inode *in = itable_get(&m->it, of->nodeid);
    if (in) {
        in->nopen--;
        itable_maybe_free(&m->it, in);
    }
    free(of->buf);
    free(of->path);
    free(of);
}

/* Fills a writable open file from the node's current data (its version then guards the
 * write-back), or starts it empty (O_TRUNC: whole replacement, any version). */
static int ofile_load(struct ofile *of, const struct node *n, int trunc)
{
    of->have_buf = 1;
    of->len = 0;
    if (trunc) {
        of->dirty = 1;
        of->version = -1;
        return 0;
    }
    of->version = n->stat.version;
    if (n->datalen > 0) {
        if (ensure_cap(of, (size_t)n->datalen) < 0)
            return -1;
        memcpy(of->buf, n->data, (size_t)n->datalen);
        of->len = (size_t)n->datalen;
    }
    return 0;
}

static void reply_open(struct mount *m, fuse_req_t req, struct fuse_file_info *fi, struct ofile *of)
{
    fi->fh = (uint64_t)(uintptr_t)of;
    /* The page cache is kept only when it holds the version the node has now: a change
     * elsewhere is invalidated asynchronously, and an open must not read around that. */
    struct inode *in = itable_get(&m->it, of->nodeid);
    struct node *n = itable_node(&m->it, of->path);
    fi->keep_cache = stat_fresh(m, n) && !of->writable && in && in->kdata_valid && n->stat.mzxid == in->kdata_mzxid;
    if (in && !fi->keep_cache)
        in->kdata_valid = 0;
    /* A writer's buffered data must not reach other readers through the shared page cache
     * before it is applied (they would act on a value that may never be written): writable
     * files bypass it. */
    fi->direct_io = of->kind == INODE_LOCK || of->writable;
    /* nothing to write back and no fcntl lock to drop: close need not wait for us */
    fi->noflush = !of->writable && of->kind != INODE_LOCK;
    if (fuse_reply_open(req, fi) != 0)
        ofile_free(m, of);
}

static void open_done(struct rq *q, int rc)
{
    struct mount *m = q->m;
    struct inode *in = itable_get(&m->it, q->nodeid);
    if (rc != ZOK || !in) {
        fuse_reply_err(q->req, in ? mount_errno(rc, "open", q->path) : ESTALE);
        rq_free(q);
        return;
    }
    struct node *n = itable_node(&m->it, q->path);
    struct ofile *of = ofile_new(m, in, 1);
    if (!of || ofile_load(of, n, 0) < 0) {
        if (of)
            ofile_free(m, of);
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    of->eph_owner = n->stat.ephemeralOwner;
    reply_open(m, q->req, &q->fi, of);
    rq_free(q);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    struct inode *in = inode_or_stale(req, ino);
    if (!in)
        return;
    if (in->kind == INODE_NODE && in->is_dir) {
        fuse_reply_err(req, EISDIR);
        return;
    }
    int writable = (fi->flags & O_ACCMODE) != O_RDONLY && in->kind != INODE_LOCK;
    if (writable && m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (!writable) {
        struct ofile *of = ofile_new(m, in, 0);
        if (!of) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        struct node *n = itable_node(&m->it, in->path);
        of->eph_owner = n && n->have_stat ? n->stat.ephemeralOwner : 0;
        reply_open(m, req, fi, of);
        return;
    }
    if (fi->flags & O_TRUNC) {
        struct ofile *of = ofile_new(m, in, 1);
        if (!of) {
            fuse_reply_err(req, ENOMEM);
            return;
        }
        ofile_load(of, NULL, 1);
        reply_open(m, req, fi, of);
        return;
    }
    struct rq *q = rq_new(req, in->path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->nodeid = ino;
    q->fi = *fi;
    need_data(q, 1, open_done);
}

static void reply_data(fuse_req_t req, const uint8_t *data, size_t len, size_t size, off_t off)
{
    if ((size_t)off >= len)
        fuse_reply_buf(req, NULL, 0);
    else
        fuse_reply_buf(req, (const char *)data + off, len - (size_t)off < size ? len - (size_t)off : size);
}

static void read_done(struct rq *q, int rc)
{
    if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "read", q->path));
    } else {
        struct node *n = itable_node(&q->m->it, q->path);
        struct inode *in = itable_get(&q->m->it, q->nodeid);
        if (in && n->have_stat) {
            in->kdata_valid = 1;
            in->kdata_mzxid = n->stat.mzxid;
        }
        reply_data(q->req, n->data, n->datalen > 0 ? (size_t)n->datalen : 0, q->size, q->off);
        if (!cache_ok(q->m))
            node_invalidate(n);
    }
    rq_free(q);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    if (of->stale) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    if (of->kind == INODE_LOCK) {
        fuse_reply_buf(req, NULL, 0);
        return;
    }
    if (of->have_buf) {
        reply_data(req, of->buf, of->len, size, off);
        return;
    }
    struct rq *q = rq_new(req, of->path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->size = size;
    q->off = off;
    q->nodeid = ino;
    need_data(q, 0, read_done);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    if (of->stale) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    if (of->kind == INODE_LOCK) {
        fuse_reply_write(req, size); /* a lock file takes and forgets what is written */
        return;
    }
    if (!of->writable || !of->have_buf) {
        fuse_reply_err(req, EBADF);
        return;
    }
    if (off < 0 || (uint64_t)off + size > m->opts.max_data) {
        fuse_reply_err(req, EFBIG);
        return;
    }
    size_t end = (size_t)off + size;
    if (ensure_cap(of, end) < 0) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    if (end > of->len)
        resize_buf(of, end);
    memcpy(of->buf + off, buf, size);
    of->dirty = 1;
    fuse_reply_write(req, size);
}

static void kernel_forget_attrs(struct mount *m, const char *path)
{
    for (int kind = INODE_NODE; kind <= INODE_DATA; kind++) {
        struct inode *in = itable_find(&m->it, (enum inode_kind)kind, path);
        if (in && in->nlookup > 0)
            notify_push(m->nt, NJ_INVAL_INODE, in->nodeid, NULL, NULL, 0, 0);
    }
}

struct flushq {
    struct mount *m;
    fuse_req_t req;
    struct ofile *of;
    char *path;
    uint8_t *data;
    int32_t len;
};

static void flush_done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct flushq *f = ctx;
    struct mount *m = f->m;
    inflight_end(m, f->path, 0, rc);
    if (rc == ZOK) {
        struct node *n = itable_node_make(&m->it, f->path);
        if (n) {
            node_set_stat(n, &res->stat);
            node_set_data(n, f->data, f->len);
        }
        /* the file now holds this version: later flushes of the same open file build on it */
        if (f->of && hmap_get(&m->open_files, &f->of, sizeof(f->of)))
            f->of->version = res->stat.version;
        /* a reader's stat while the data was buffered told the kernel the old size: let it
         * ask again */
        kernel_forget_attrs(m, f->path);
    }
    fuse_reply_err(f->req, rc == ZOK                                    ? 0
                           : rc == ZNONODE && f->of && f->of->eph_owner ? ESTALE
                                                                        : mount_errno(rc, "write", f->path));
    free(f->path);
    free(f->data);
    free(f);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    /* a process's fcntl locks go with any close of the file by that process */
    if (of->plock && fi->flush && of->plock_owner == fi->lock_owner)
        lock_release(m, of, 2);
    if (of->stale) {
        fuse_reply_err(req, ESTALE);
        return;
    }
    if (!of->dirty || !of->writable) {
        fuse_reply_err(req, 0);
        return;
    }
    struct flushq *f = calloc(1, sizeof(*f));
    if (f) {
        f->path = strdup(of->path);
        f->data = malloc(of->len ? of->len : 1);
    }
    if (!f || !f->path || !f->data) {
        if (f) {
            free(f->path);
            free(f->data);
        }
        free(f);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    f->m = m;
    f->req = req;
    f->of = of;
    f->len = (int32_t)of->len;
    if (of->len)
        memcpy(f->data, of->buf, of->len);
    of->dirty = 0;
    inflight_begin(m, f->path, 0);
    int rc = zkc_set_data(m->zh, f->path, f->data, f->len, of->version, flush_done, f);
    if (rc != ZOK) {
        inflight_end(m, f->path, 0, rc);
        fuse_reply_err(req, mount_errno(rc, "write", f->path));
        free(f->path);
        free(f->data);
        free(f);
    }
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    lock_release(m, of, 3);
    ofile_free(m, of);
    fuse_reply_err(req, 0);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
    (void)datasync;
    op_flush(req, ino, fi);
}

/* ---------- create, mknod, mkdir ---------- */

/* The kernel's entry for path (and its parent's cached listing) may be wrong: drop them. */
static void kernel_forget_entry(struct mount *m, const char *path)
{
    char parent[MAX_PATH];
    const char *name;
    if (shape_split(path, parent, sizeof(parent), &name) < 0)
        return;
    struct inode *pin = itable_find(&m->it, INODE_NODE, parent);
    if (!pin)
        return;
    notify_push(m->nt, NJ_INVAL_ENTRY, pin->nodeid, NULL, name, 0, 0);
    notify_push(m->nt, NJ_INVAL_INODE, pin->nodeid, NULL, NULL, 0, 0);
}

static void create_reply(struct rq *q, const char *created, const struct zk_stat *st)
{
    struct mount *m = q->m;
    struct node *n = itable_node_make(&m->it, created);
    struct inode *in = NULL;
    if (n) {
        node_set_stat(n, st);
        node_set_data(n, NULL, 0);
        node_set_children(n, NULL, 0);
        n->world_perms = ZPERM_ALL;
        n->have_acl = 1;
        n->created_as_file = !q->is_dir;
        if (!q->is_dir)
            itable_mark_file(&m->it, created);
        in = itable_obtain(&m->it, INODE_NODE, created, q->is_dir, ino_of(INODE_NODE, created, st));
    }
    itable_parent_child(&m->it, created, 1);
    if (m->oneshot)
        events_watch_node(m, created);
    if (!in) {
        fuse_reply_err(q->req, ENOMEM);
        return;
    }
    double t = q->suffixed ? 0 : timeout_of(m);
    if (!q->have_fi) {
        reply_entry(m, q->req, in, n, t);
        return;
    }
    struct ofile *of = ofile_new(m, in, (q->fi.flags & O_ACCMODE) != O_RDONLY);
    if (!of) {
        fuse_reply_err(q->req, ENOMEM);
        return;
    }
    ofile_load(of, n, 0);
    of->eph_owner = st->ephemeralOwner;
    reply_create(m, q->req, &q->fi, in, n, of, t);
}

static void open_existing_after_create(struct rq *q, int rc);

static void on_create(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    struct mount *m = q->m;
    inflight_end(m, q->path, q->zmode & 2, rc);
    if (rc == ZOK) {
        create_reply(q, res->path, &res->stat);
    } else if (rc == ZNODEEXISTS && q->have_fi && !(q->fi.flags & O_EXCL) && !q->suffixed) {
        /* the kernel thought it absent (a stale negative entry): open what is there */
        need_data(q, 1, open_existing_after_create);
        return;
    } else if (rc == ZNONODE) {
        fuse_reply_err(q->req, ENOENT);
    } else {
        if (rc == ZNODEEXISTS) {
            /* made elsewhere: it is in the parent's listing, and the kernel's negative entry
             * is wrong */
            itable_parent_child(&m->it, q->path, 1);
            kernel_forget_entry(m, q->path);
        }
        fuse_reply_err(q->req, mount_errno(rc, "create", q->path));
    }
    rq_free(q);
}

static void open_existing_after_create(struct rq *q, int rc)
{
    struct mount *m = q->m;
    if (rq_failed(q, rc, "create"))
        return;
    struct node *n = itable_node(&m->it, q->path);
    if (shape_is_dir(&n->stat, n->created_as_file)) {
        fuse_reply_err(q->req, EISDIR);
        rq_free(q);
        return;
    }
    struct inode *in = itable_obtain(&m->it, INODE_NODE, q->path, 0, ino_of(INODE_NODE, q->path, &n->stat));
    struct ofile *of = in ? ofile_new(m, in, (q->fi.flags & O_ACCMODE) != O_RDONLY) : NULL;
    if (!of || (of->writable && ofile_load(of, n, (q->fi.flags & O_TRUNC) != 0) < 0)) {
        if (of)
            ofile_free(m, of);
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    of->eph_owner = n->stat.ephemeralOwner;
    reply_create(m, q->req, &q->fi, in, n, of, timeout_of(m));
    rq_free(q);
}

/* Starts a create of name under parent; is_dir: mkdir; fi: create-and-open. */
static void start_create(fuse_req_t req, fuse_ino_t parent, const char *name, int is_dir, struct fuse_file_info *fi)
{
    struct mount *m = M(req);
    if (m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    char target[MAX_PATH];
    int virt = shape_virtual(name, target, sizeof(target));
    if (virt != SHAPE_VIRT_NONE) {
        fuse_reply_err(req, virt < 0 ? ENAMETOOLONG : EEXIST);
        return;
    }
    char base[MAX_PATH], path[MAX_PATH];
    int zmode;
    int suffixed = shape_parse_suffix(name, base, sizeof(base), &zmode);
    if (suffixed < 0) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    struct inode *p;
    int e = child_of(m, parent, base, path, &p);
    if (e) {
        fuse_reply_err(req, e);
        return;
    }
    if (!*base) /* "x/.sequential": the server names it "x/0000000042" */
        snprintf(path, sizeof(path), "%s/", strcmp(p->path, "/") == 0 ? "" : p->path);
    struct rq *q = rq_new(req, path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->is_dir = is_dir;
    q->zmode = zmode;
    q->suffixed = suffixed;
    if (fi) {
        q->fi = *fi;
        q->have_fi = 1;
    }
    inflight_begin(m, path, zmode & 2);
    int rc = zkc_create(m->zh, path, "", 0, zkc_open_acl_unsafe, 1, zmode, 0, on_create, q);
    if (rc != ZOK) {
        inflight_end(m, path, zmode & 2, rc);
        fuse_reply_err(req, mount_errno(rc, "create", path));
        rq_free(q);
    }
}

/* A mknod/mkdir from the notifier: shows the kernel a node created elsewhere. */
static void notifier_created(struct rq *q, int rc)
{
    struct mount *m = q->m;
    hmap_dels(&m->pending_create, q->path);
    if (rc != ZOK) {
        fuse_reply_err(q->req, ENOENT);
        rq_free(q);
        return;
    }
    struct node *n = itable_node(&m->it, q->path);
    int now_dir = shape_is_dir(&n->stat, n->created_as_file);
    if (now_dir != q->is_dir) {
        /* it changed shape since its event (data arrived after the create): show it as it
         * is now, with another mknod/mkdir */
        hmap_puts(&m->pending_create, q->path, (void *)1);
        notify_push(m->nt, NJ_MKNOD, 0, q->path, NULL, 0, now_dir);
        fuse_reply_err(q->req, ENOENT);
        rq_free(q);
        return;
    }
    struct inode *in = itable_obtain(&m->it, INODE_NODE, q->path, q->is_dir, ino_of(INODE_NODE, q->path, &n->stat));
    if (!in)
        fuse_reply_err(q->req, ENOMEM);
    else
        reply_entry(m, q->req, in, n, timeout_of(m));
    rq_free(q);
}

static void notifier_create(fuse_req_t req, fuse_ino_t parent, const char *name, int is_dir)
{
    struct mount *m = M(req);
    char path[MAX_PATH];
    int e = child_of(m, parent, name, path, NULL);
    if (e || !hmap_gets(&m->pending_create, path)) {
        fuse_reply_err(req, e ? e : EEXIST);
        return;
    }
    struct rq *q = rq_new(req, path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->is_dir = is_dir;
    need_stat(q, notifier_created);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, struct fuse_file_info *fi)
{
    (void)mode;
    start_create(req, parent, name, 0, fi);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
    (void)rdev;
    if (from_notifier(M(req), req)) {
        notifier_create(req, parent, name, 0);
        return;
    }
    if (!S_ISREG(mode)) {
        fuse_reply_err(req, EPERM);
        return;
    }
    start_create(req, parent, name, 0, NULL);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
    (void)mode;
    if (from_notifier(M(req), req)) {
        notifier_create(req, parent, name, 1);
        return;
    }
    start_create(req, parent, name, 1, NULL);
}

/* ---------- unlink, rmdir ---------- */

static void on_delete(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    (void)res;
    struct rq *q = ctx;
    inflight_end(q->m, q->path, 0, rc);
    if (rc == ZOK || rc == ZNONODE)
        itable_gone(&q->m->it, q->path);
    if (rc == ZNONODE)
        kernel_forget_entry(q->m, q->path); /* it went elsewhere: the kernel's entry is stale */
    fuse_reply_err(q->req, rc == ZOK ? 0 : mount_errno(rc, "delete", q->path));
    rq_free(q);
}

static void do_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    struct mount *m = M(req);
    char path[MAX_PATH], target[MAX_PATH];
    int e = child_of(m, parent, name, path, NULL);
    if (e) {
        fuse_reply_err(req, e);
        return;
    }
    if (from_notifier(m, req)) {
        /* the node is gone already: let the kernel drop it */
        struct tombstone *t = hmap_dels(&m->pending_delete, path);
        free(t);
        itable_detach_path(&m->it, path);
        fuse_reply_err(req, 0);
        return;
    }
    if (m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (shape_virtual(name, target, sizeof(target)) != SHAPE_VIRT_NONE) {
        fuse_reply_err(req, EPERM);
        return;
    }
    struct rq *q = rq_new(req, path);
    if (!q) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    inflight_begin(m, path, 0);
    int rc = zkc_delete(m->zh, path, -1, on_delete, q);
    if (rc != ZOK) {
        inflight_end(m, path, 0, rc);
        fuse_reply_err(req, mount_errno(rc, "delete", path));
        rq_free(q);
    }
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name);
}
static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
    do_remove(req, parent, name);
}

/* ---------- rename: one multi (create the new name, delete the old one) ---------- */

static void rename_multi(struct rq *q, int replace);

static void on_rename_multi(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    struct mount *m = q->m;
    int replaced = q->dst_version >= 0;
    inflight_end(m, q->path, 0, rc);
    inflight_end(m, q->path2, 0, rc);
    if (rc == ZOK) {
        const struct zk_stat *st = NULL;
        for (int32_t i = 0; i < res->nresults; i++)
            if (res->results[i].type == ZOP_CREATE2 || res->results[i].type == ZOP_CREATE)
                st = &res->results[i].stat;
        struct inode *in = itable_find(&m->it, INODE_NODE, q->path);
        itable_gone(&m->it, q->path2);
        struct node *n = itable_node_make(&m->it, q->path2);
        if (n && st) {
            node_set_stat(n, st);
            node_set_data(n, q->data, q->datalen);
        }
        itable_gone(&m->it, q->path);
        /* itable_gone detached the source inode; the kernel keeps its nodeid at the new
         * name, so move it there */
        if (in) {
            in->detached = 0;
            itable_move(&m->it, in, q->path2);
            if (st)
                in->st_ino = ino_of(INODE_NODE, q->path2, st);
        }
        itable_parent_child(&m->it, q->path2, 1);
        fuse_reply_err(q->req, 0);
    } else if (rc == ZNODEEXISTS && !replaced && !(q->flags & RENAME_NOREPLACE)) {
        /* the new name exists: rename(2) replaces it, if it has no children */
        rename_multi(q, 1);
        return;
    } else {
        fuse_reply_err(q->req, mount_errno(rc, "rename", q->path));
    }
    rq_free(q);
}

static void on_rename_dst(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct rq *q = ctx;
    (void)zh;
    if (rc == ZNONODE) {
        rename_multi(q, 0);
        return;
    }
    if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "rename", q->path2));
        rq_free(q);
        return;
    }
    if (res->stat.numChildren > 0) {
        fuse_reply_err(q->req, ENOTEMPTY);
        rq_free(q);
        return;
    }
    q->dst_version = res->stat.version;
    struct mount *m = q->m;
    struct zk_request ops[3];
    zkc_op_delete(&ops[0], q->path2, q->dst_version);
    int mode = q->owner ? ZMODE_EPHEMERAL : ZMODE_PERSISTENT;
    zkc_op_create(&ops[1], q->path2, q->data, q->datalen, q->acl, q->nacl, mode, 0);
    zkc_op_delete(&ops[2], q->path, q->version);
    inflight_begin(m, q->path, 0);
    inflight_begin(m, q->path2, 0);
    rc = zkc_multi(m->zh, ops, 3, on_rename_multi, q);
    if (rc != ZOK) {
        inflight_end(m, q->path, 0, rc);
        inflight_end(m, q->path2, 0, rc);
        fuse_reply_err(q->req, mount_errno(rc, "rename", q->path));
        rq_free(q);
    }
}

static void rename_multi(struct rq *q, int replace)
{
    struct mount *m = q->m;
    int rc;
    if (replace) {
        rc = zkc_exists(m->zh, q->path2, NULL, NULL, on_rename_dst, q);
    } else {
        q->dst_version = -1;
        struct zk_request ops[2];
        int mode = q->owner ? ZMODE_EPHEMERAL : ZMODE_PERSISTENT;
        zkc_op_create(&ops[0], q->path2, q->data, q->datalen, q->acl, q->nacl, mode, 0);
        zkc_op_delete(&ops[1], q->path, q->version);
        inflight_begin(m, q->path, 0);
        inflight_begin(m, q->path2, 0);
        rc = zkc_multi(m->zh, ops, 2, on_rename_multi, q);
        if (rc != ZOK) {
            inflight_end(m, q->path, 0, rc);
            inflight_end(m, q->path2, 0, rc);
        }
    }
    if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "rename", q->path));
        rq_free(q);
    }
}

static void on_rename_acl(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    if (rc == ZOK && res->stat.version != q->version) {
        rc = ZBADVERSION; /* changed between the two reads: try again */
    }
    if (rq_failed(q, rc, "rename"))
        return;
    q->acl = calloc((size_t)(res->nacl > 0 ? res->nacl : 1), sizeof(struct zk_acl));
    if (!q->acl) {
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    for (int32_t i = 0; i < res->nacl; i++) {
        q->acl[i].perms = res->acl[i].perms;
        q->acl[i].id.scheme = strdup(res->acl[i].id.scheme ? res->acl[i].id.scheme : "");
        q->acl[i].id.id = strdup(res->acl[i].id.id ? res->acl[i].id.id : "");
        q->nacl = i + 1;
    }
    rename_multi(q, 0);
}

static void on_rename_src(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct rq *q = ctx;
    if (rq_failed(q, rc, "rename"))
        return;
    if (res->stat.numChildren > 0) {
        /* ZooKeeper has no rename: moving a subtree would not be atomic */
        LOG_INFO("rename %s: refused, the node has children (ZooKeeper cannot move a subtree atomically)", q->path);
        fuse_reply_err(q->req, ENOTSUP);
        rq_free(q);
        return;
    }
    if (res->stat.ephemeralOwner && res->stat.ephemeralOwner != q->m->session_id) {
        fuse_reply_err(q->req, EPERM); /* another session's ephemeral cannot be re-created */
        rq_free(q);
        return;
    }
    q->owner = res->stat.ephemeralOwner;
    q->version = res->stat.version;
    q->datalen = res->datalen > 0 ? res->datalen : 0;
    q->data = malloc(q->datalen ? (size_t)q->datalen : 1);
    if (!q->data) {
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    if (q->datalen)
        memcpy(q->data, res->data, (size_t)q->datalen);
    rc = zkc_get_acl(zh, q->path, on_rename_acl, q);
    if (rc != ZOK) {
        fuse_reply_err(q->req, mount_errno(rc, "rename", q->path));
        rq_free(q);
    }
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent, const char *newname,
                      unsigned int flags)
{
    struct mount *m = M(req);
    if (m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    if (flags & RENAME_EXCHANGE) {
        fuse_reply_err(req, EINVAL);
        return;
    }
    char from[MAX_PATH], to[MAX_PATH], target[MAX_PATH];
    int e = child_of(m, parent, name, from, NULL);
    if (!e)
        e = child_of(m, newparent, newname, to, NULL);
    if (!e && (shape_virtual(name, target, sizeof(target)) != SHAPE_VIRT_NONE ||
               shape_virtual(newname, target, sizeof(target)) != SHAPE_VIRT_NONE))
        e = EPERM;
    if (e) {
        fuse_reply_err(req, e);
        return;
    }
    if (strcmp(from, to) == 0) {
        fuse_reply_err(req, 0);
        return;
    }
    struct rq *q = rq_new(req, from);
    if (!q || !(q->path2 = strdup(to))) {
        if (q)
            rq_free(q);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->flags = (int)flags;
    int rc = zkc_get_data(m->zh, from, NULL, NULL, on_rename_src, q);
    if (rc != ZOK) {
        fuse_reply_err(req, mount_errno(rc, "rename", from));
        rq_free(q);
    }
}

/* ---------- statfs ---------- */

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
    (void)ino;
    struct statvfs sv;
    memset(&sv, 0, sizeof(sv));
    sv.f_bsize = 4096;
    sv.f_frsize = 4096;
    sv.f_blocks = 1 << 20;
    sv.f_bfree = 1 << 20;
    sv.f_bavail = 1 << 20;
    sv.f_files = 1 << 20;
    sv.f_ffree = 1 << 20;
    sv.f_namemax = 255;
    fuse_reply_statfs(req, &sv);
}

/* ---------- extended attributes: the Stat fields ---------- */

static const char *const XATTRS[] = {"user.zk.czxid",      "user.zk.mzxid",       "user.zk.pzxid",
                                     "user.zk.ctime",      "user.zk.mtime",       "user.zk.version",
                                     "user.zk.cversion",   "user.zk.aversion",    "user.zk.ephemeralOwner",
                                     "user.zk.dataLength", "user.zk.numChildren", "user.zk.name",
                                     "user.zk.path",       "user.zk.acl",         NULL};

static void xattr_reply(fuse_req_t req, const char *val, size_t len, size_t size)
{
    if (size == 0)
        fuse_reply_xattr(req, len);
    else if (size < len)
        fuse_reply_err(req, ERANGE);
    else
        fuse_reply_buf(req, val, len);
}

static void on_xattr_acl(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct rq *q = ctx;
    if (rq_failed(q, rc, "getxattr"))
        return;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        fuse_reply_err(q->req, ENOMEM);
        rq_free(q);
        return;
    }
    for (int32_t i = 0; i < res->nacl; i++) {
        const struct zk_acl *a = &res->acl[i];
        fprintf(f, "%s:%s:%s%s%s%s%s\n", a->id.scheme ? a->id.scheme : "", a->id.id ? a->id.id : "",
                a->perms & ZPERM_CREATE ? "c" : "", a->perms & ZPERM_DELETE ? "d" : "",
                a->perms & ZPERM_READ ? "r" : "", a->perms & ZPERM_WRITE ? "w" : "", a->perms & ZPERM_ADMIN ? "a" : "");
    }
    fclose(f);
    xattr_reply(q->req, out, len, q->size);
    free(out);
    rq_free(q);
}

static void getxattr_done(struct rq *q, int rc)
{
    struct mount *m = q->m;
    if (rq_failed(q, rc, "getxattr"))
        return;
    struct node *n = itable_node(&m->it, q->path);
    const struct zk_stat *s = &n->stat;
    const char *x = q->name + strlen("user.zk.");
    char v[MAX_PATH + 8];
    if (!strcmp(x, "czxid"))
        snprintf(v, sizeof(v), "0x%" PRIx64, (uint64_t)s->czxid);
    else if (!strcmp(x, "mzxid"))
        snprintf(v, sizeof(v), "0x%" PRIx64, (uint64_t)s->mzxid);
    else if (!strcmp(x, "pzxid"))
        snprintf(v, sizeof(v), "0x%" PRIx64, (uint64_t)s->pzxid);
    else if (!strcmp(x, "ephemeralOwner"))
        snprintf(v, sizeof(v), "0x%" PRIx64, (uint64_t)s->ephemeralOwner);
    else if (!strcmp(x, "ctime"))
        snprintf(v, sizeof(v), "%" PRId64, s->ctime);
    else if (!strcmp(x, "mtime"))
        snprintf(v, sizeof(v), "%" PRId64, s->mtime);
    else if (!strcmp(x, "version"))
        snprintf(v, sizeof(v), "%d", s->version);
    else if (!strcmp(x, "cversion"))
        snprintf(v, sizeof(v), "%d", s->cversion);
    else if (!strcmp(x, "aversion"))
        snprintf(v, sizeof(v), "%d", s->aversion);
    else if (!strcmp(x, "dataLength"))
        snprintf(v, sizeof(v), "%d", s->dataLength);
    else if (!strcmp(x, "numChildren"))
        snprintf(v, sizeof(v), "%d", s->numChildren);
    else if (!strcmp(x, "path"))
        snprintf(v, sizeof(v), "%s", q->path);
    else if (!strcmp(x, "name"))
        snprintf(v, sizeof(v), "%s", strcmp(q->path, "/") == 0 ? "/" : strrchr(q->path, '/') + 1);
    else {
        fuse_reply_err(q->req, ENODATA);
        rq_free(q);
        return;
    }
    xattr_reply(q->req, v, strlen(v), q->size);
    rq_free(q);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
    struct mount *m = M(req);
    struct inode *in = inode_or_stale(req, ino);
    if (!in)
        return;
    if (ino == 1 && !strcmp(name, "user.zk.session")) {
        char v[32];
        snprintf(v, sizeof(v), "0x%" PRIx64, (uint64_t)m->session_id);
        xattr_reply(req, v, strlen(v), size);
        return;
    }
    int known = 0;
    for (int i = 0; XATTRS[i]; i++)
        known |= !strcmp(XATTRS[i], name);
    if (!known || in->kind == INODE_LOCK) {
        fuse_reply_err(req, ENODATA);
        return;
    }
    struct rq *q = rq_new(req, in->path);
    if (!q || !(q->name = strdup(name))) {
        if (q)
            rq_free(q);
        fuse_reply_err(req, ENOMEM);
        return;
    }
    q->size = size;
    if (!strcmp(name, "user.zk.acl")) {
        int rc = zkc_get_acl(m->zh, in->path, on_xattr_acl, q);
        if (rc != ZOK) {
            fuse_reply_err(req, mount_errno(rc, "getxattr", in->path));
            rq_free(q);
        }
        return;
    }
    need_stat(q, getxattr_done);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
    struct mount *m = M(req);
    struct inode *in = itable_get(&m->it, ino);
    char buf[1024];
    size_t len = 0;
    if (in && in->kind != INODE_LOCK)
        for (int i = 0; XATTRS[i]; i++) {
            size_t k = strlen(XATTRS[i]) + 1;
            memcpy(buf + len, XATTRS[i], k);
            len += k;
        }
    if (ino == 1) {
        memcpy(buf + len, "user.zk.session", 16);
        len += 16;
    }
    xattr_reply(req, buf, len, size);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value, size_t size, int flags)
{
    (void)ino, (void)name, (void)value, (void)size, (void)flags;
    fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
    (void)ino, (void)name;
    fuse_reply_err(req, ENOTSUP);
}

/* ---------- locks ---------- */

static void op_flock(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, int op)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    if (of->kind != INODE_LOCK) {
        /* locking a node's own file would create children and change its shape */
        fuse_reply_err(req, ENOLCK);
        return;
    }
    lock_request(m, req, of, op, 0);
}

/* fcntl locks: whole-file, on the same recipe (a byte range locks the whole node). */
static void op_getlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock)
{
    (void)ino;
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    if (of->kind != INODE_LOCK) {
        fuse_reply_err(req, ENOLCK);
        return;
    }
    lock_test(M(req), req, of, lock);
}

static void op_setlk(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct flock *lock, int sleep)
{
    (void)ino;
    struct mount *m = M(req);
    struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
    if (of->kind != INODE_LOCK) {
        fuse_reply_err(req, ENOLCK);
        return;
    }
    if (lock->l_type == F_UNLCK) {
        if (of->plock && of->plock_owner == fi->lock_owner)
            lock_release(m, of, 2);
        fuse_reply_err(req, 0);
        return;
    }
    of->plock_owner = fi->lock_owner;
    lock_request(m, req, of, (lock->l_type == F_RDLCK ? LOCK_SH : LOCK_EX) | (sleep ? 0 : LOCK_NB), 1);
}

const struct fuse_lowlevel_ops zkfs_ops = {
    .init = op_init,
    .lookup = op_lookup,
    .forget = op_forget,
    .forget_multi = op_forget_multi,
    .getattr = op_getattr,
    .setattr = op_setattr,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .rename = op_rename,
    .open = op_open,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .statfs = op_statfs,
    .setxattr = op_setxattr,
    .getxattr = op_getxattr,
    .listxattr = op_listxattr,
    .removexattr = op_removexattr,
    .create = op_create,
    .flock = op_flock,
    .getlk = op_getlk,
    .setlk = op_setlk,
};
