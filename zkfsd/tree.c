/* The znode tree and tree_apply, ZooKeeper's DataTree.processTxn in C. */
#include "zkfsd/tree.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

static void noev(void *ctx, const char *path, int event) { (void)ctx, (void)path, (void)event; }

/* One allocation: the node with its path after it (a path never changes). */
static struct znode *node_new(const char *path, size_t len)
{
    struct znode *n = calloc(1, sizeof(*n) + len + 1);
    if (!n)
        return NULL;
    n->path = (char *)(n + 1);
    memcpy(n->path, path, len);
    n->path[len] = 0;
    n->pathlen = len;
    const char *slash = strrchr(n->path, '/');
    n->name = (len == 1) ? n->path + 1 : slash + 1;
    n->datalen = -1;
    hmap_init(&n->children);
    return n;
}

static void node_free(struct ztree *t, struct znode *n)
{
    if (n->acl)
        acl_release(&t->acls, n->acl);
    hmap_free(&n->children);
    free(n->data);
    free(n);
}

static int set_data(struct ztree *t, struct znode *n, const uint8_t *data, int32_t len)
{
    uint8_t *copy = NULL;
    if (len > 0) {
        copy = malloc((size_t)len);
        if (!copy)
            return -1;
        memcpy(copy, data, (size_t)len);
    }
    t->data_bytes += (len > 0 ? len : 0) - (n->datalen > 0 ? n->datalen : 0);
    free(n->data);
    n->data = copy;
    n->datalen = len < 0 ? -1 : len;
    n->stat.dataLength = len > 0 ? len : 0;
    return 0;
}

/* Links a fresh node under parent (or as root when parent is NULL). */
static int link_node(struct ztree *t, struct znode *parent, struct znode *n)
{
    /* the maps borrow the node's own path and name as keys */
    if (hmap_put_borrowed(&t->nodes, n->path, n->pathlen, n) < 0)
        return -1;
    if (parent) {
        if (hmap_put_borrowed(&parent->children, n->name, n->pathlen - (size_t)(n->name - n->path), n) < 0) {
            hmap_del(&t->nodes, n->path, n->pathlen);
            return -1;
        }
        parent->stat.numChildren = (int32_t)parent->children.len;
    }
    n->parent = parent;
    t->data_bytes += (int64_t)n->pathlen;
    return 0;
}

static int add_system_node(struct ztree *t, const char *path, const struct zk_acl *acl, int32_t nacl)
{
    struct znode *n = node_new(path, strlen(path));
    if (!n)
        return -1;
    n->acl = acl_intern(&t->acls, acl, nacl);
    n->datalen = 0; /* ZooKeeper's system nodes hold empty (not null) data */
    struct znode *parent = NULL;
    if (strcmp(path, "/") != 0) {
        char pp[64];
        size_t plen = (size_t)(strrchr(path, '/') - path);
        memcpy(pp, path, plen);
        pp[plen] = 0;
        parent = tree_get(t, pp);
    }
    if (!n->acl || link_node(t, parent, n) < 0) {
        node_free(t, n);
        return -1;
    }
    if (!parent)
        t->root = n;
    return 0;
}

int tree_init(struct ztree *t)
{
    memset(t, 0, sizeof(*t));
    hmap_init(&t->nodes);
    hmap_init(&t->ephemerals);
    hmap_init(&t->containers);
    acl_cache_init(&t->acls);
    if (add_system_node(t, "/", OPEN_ACL_UNSAFE, 1) < 0 ||
        add_system_node(t, "/zookeeper", OPEN_ACL_UNSAFE, 1) < 0 ||
        add_system_node(t, "/zookeeper/quota", OPEN_ACL_UNSAFE, 1) < 0 ||
        add_system_node(t, "/zookeeper/config", READ_ACL_UNSAFE, 1) < 0) {
        tree_destroy(t);
        return -1;
    }
    tree_get(t, "/zookeeper/config")->stat.aversion = -1; /* as ZooKeeper 3.8 shows it */
    return 0;
}

void tree_destroy(struct ztree *t)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->nodes, &i, &s);)
        node_free(t, s->val);
    for (size_t i = 0; hmap_next(&t->ephemerals, &i, &s);) {
        hmap_free(s->val);
        free(s->val);
    }
    hmap_free(&t->nodes);
    hmap_free(&t->ephemerals);
    hmap_free(&t->containers);
    acl_cache_free(&t->acls);
    memset(t, 0, sizeof(*t));
}

void tree_client_stat(const struct znode *n, struct zk_stat *out)
{
    *out = n->stat;
    out->numChildren = (int32_t)n->children.len;
    out->dataLength = n->datalen > 0 ? n->datalen : 0;
    out->cversion = (int32_t)((uint32_t)n->stat.cversion * 2u - (uint32_t)out->numChildren);
    /* container and TTL markers are the server's business: clients see 0 (copyStat) */
    if (!zk_owner_is_session(out->ephemeralOwner))
        out->ephemeralOwner = 0;
}

struct znode *tree_get(const struct ztree *t, const char *path)
{
    if (path[0] == 0)
        return t->root;
    return hmap_gets(&t->nodes, path);
}

size_t tree_node_count(const struct ztree *t) { return t->nodes.len; }

const struct hmap *tree_ephemerals(const struct ztree *t, int64_t session)
{
    return hmap_get64(&t->ephemerals, session);
}

static int track_ephemeral(struct ztree *t, struct znode *n)
{
    int64_t owner = n->stat.ephemeralOwner;
    if (!owner)
        return 0;
    if (!zk_owner_is_session(owner))
        return hmap_put_borrowed(&t->containers, n->path, n->pathlen, n);
    struct hmap *set = hmap_get64(&t->ephemerals, owner);
    if (!set) {
        set = calloc(1, sizeof(*set));
        if (!set || hmap_put64(&t->ephemerals, owner, set) < 0) {
            free(set);
            return -1;
        }
    }
    return hmap_put_borrowed(set, n->path, n->pathlen, n);
}

static void untrack_ephemeral(struct ztree *t, struct znode *n)
{
    int64_t owner = n->stat.ephemeralOwner;
    if (!owner)
        return;
    if (!zk_owner_is_session(owner)) {
        hmap_del(&t->containers, n->path, n->pathlen);
        return;
    }
    struct hmap *set = hmap_get64(&t->ephemerals, owner);
    if (!set)
        return;
    hmap_del(set, n->path, n->pathlen);
    if (!set->len) {
        hmap_del64(&t->ephemerals, owner);
        hmap_free(set);
        free(set);
    }
}

/* "/a/b" -> parent "/a"; "/a" -> "/" (the name ZooKeeper uses when it fires watches). */
static const char *parent_event_path(const struct znode *parent) { return parent->path; }

static int apply_create(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    const char *path = x->path;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || path[1] == 0)
        return ZBADARGUMENTS;
    size_t plen = (size_t)(slash - path);
    char *ppath = strndup(path, plen);
    if (!ppath)
        return ZSYSTEMERROR;
    struct znode *parent = tree_get(t, ppath);
    free(ppath);
    if (!parent)
        return ZNONODE;
    if (hmap_gets(&parent->children, slash + 1))
        return ZNODEEXISTS;
    struct znode *n = node_new(path, strlen(path));
    if (!n)
        return ZSYSTEMERROR;
    n->acl = acl_intern(&t->acls, x->acl, x->nacl);
    if (!n->acl || set_data(t, n, x->data, x->datalen) < 0)
        goto oom;
    n->stat.czxid = n->stat.mzxid = n->stat.pzxid = x->zxid;
    n->stat.ctime = n->stat.mtime = x->time;
    n->stat.ephemeralOwner = x->ephemeralOwner;
    if (link_node(t, parent, n) < 0)
        goto oom;
    if (track_ephemeral(t, n) < 0) {
        hmap_dels(&parent->children, n->name);
        hmap_del(&t->nodes, n->path, n->pathlen);
        goto oom;
    }
    int32_t pcv = x->parentCVersion;
    if (pcv == -1)
        pcv = parent->stat.cversion + 1;
    if (pcv > parent->stat.cversion) {
        parent->stat.cversion = pcv;
        parent->stat.pzxid = x->zxid;
    }
    res->path = x->path; /* not the node's: a later op of the same multi may delete it */
    tree_client_stat(n, &res->stat);
    ev(ctx, n->path, ZEV_CREATED);
    ev(ctx, parent_event_path(parent), ZEV_CHILD);
    return ZOK;
oom:
    node_free(t, n);
    return ZSYSTEMERROR;
}

static int delete_node(struct ztree *t, struct znode *n, int64_t zxid, tree_event_fn ev, void *ctx)
{
    struct znode *parent = n->parent;
    assert(parent && n->children.len == 0);
    hmap_dels(&parent->children, n->name);
    parent->stat.numChildren = (int32_t)parent->children.len;
    if (zxid > parent->stat.pzxid)
        parent->stat.pzxid = zxid;
    hmap_del(&t->nodes, n->path, n->pathlen);
    untrack_ephemeral(t, n);
    t->data_bytes -= (int64_t)n->pathlen + (n->datalen > 0 ? n->datalen : 0);
    ev(ctx, n->path, ZEV_DELETED);
    ev(ctx, parent_event_path(parent), ZEV_CHILD);
    node_free(t, n);
    return ZOK;
}

static int apply_delete(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    struct znode *n = x->path ? tree_get(t, x->path) : NULL;
    if (!n || n == t->root)
        return ZNONODE;
    if (n->children.len)
        return ZNOTEMPTY;
    res->path = x->path;
    return delete_node(t, n, x->zxid, ev, ctx);
}

static int apply_set_data(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    struct znode *n = x->path ? tree_get(t, x->path) : NULL;
    if (!n)
        return ZNONODE;
    if (set_data(t, n, x->data, x->datalen) < 0)
        return ZSYSTEMERROR;
    n->stat.version = x->version;
    n->stat.mzxid = x->zxid;
    n->stat.mtime = x->time;
    res->path = x->path;
    tree_client_stat(n, &res->stat);
    ev(ctx, n->path, ZEV_CHANGED);
    return ZOK;
}

static int apply_set_acl(struct ztree *t, const struct txn *x, struct txn_result *res)
{
    struct znode *n = x->path ? tree_get(t, x->path) : NULL;
    if (!n)
        return ZNONODE;
    struct zk_acl_set *acl = acl_intern(&t->acls, x->acl, x->nacl);
    if (!acl)
        return ZSYSTEMERROR;
    acl_release(&t->acls, n->acl);
    n->acl = acl;
    n->stat.aversion = x->version;
    res->path = x->path;
    tree_client_stat(n, &res->stat);
    return ZOK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Deletes every ephemeral of the session, in path order so all replicas fire the same events. */
static int apply_close_session(struct ztree *t, const struct txn *x, tree_event_fn ev, void *ctx)
{
    struct hmap *set = hmap_get64(&t->ephemerals, x->session);
    if (!set)
        return ZOK;
    size_t n = set->len;
    char **paths = calloc(n, sizeof(*paths));
    if (!paths)
        return ZSYSTEMERROR;
    struct hmap_slot *s;
    size_t k = 0;
    for (size_t i = 0; hmap_next(set, &i, &s) && k < n;)
        if (!(paths[k++] = strdup(s->key)))
            break;
    qsort(paths, k, sizeof(*paths), cmp_str);
    /* set may be freed by the last untrack, so re-look nodes up by path */
    for (size_t i = 0; i < k; i++) {
        struct znode *z = paths[i] ? tree_get(t, paths[i]) : NULL;
        if (z && z->stat.ephemeralOwner == x->session && z->children.len == 0)
            delete_node(t, z, x->zxid, ev, ctx);
        free(paths[i]);
    }
    free(paths);
    return ZOK;
}

static void apply_one(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx);

static void apply_multi(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    res->subs = calloc((size_t)(x->nsubs > 0 ? x->nsubs : 1), sizeof(*res->subs));
    if (!res->subs) {
        res->err = ZSYSTEMERROR;
        return;
    }
    res->nsubs = x->nsubs;
    for (int32_t i = 0; i < x->nsubs; i++) {
        const struct txn *sx = &x->subs[i];
        struct txn_result *sr = &res->subs[i];
        apply_one(t, sx, sr, ev, ctx);
        if (sr->err && !res->err)
            res->err = sr->err;
    }
}

static void apply_one(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    memset(res, 0, sizeof(*res));
    res->type = x->type;
    switch (x->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        res->err = apply_create(t, x, res, ev, ctx);
        break;
    case ZOP_DELETE:
    case ZOP_DELETECONTAINER:
        res->err = apply_delete(t, x, res, ev, ctx);
        break;
    case ZOP_SETDATA:
        res->err = apply_set_data(t, x, res, ev, ctx);
        break;
    case ZOP_SETACL:
        res->err = apply_set_acl(t, x, res);
        break;
    case ZOP_CHECK:
        res->path = x->path;
        break;
    case ZOP_CLOSESESSION:
        res->err = apply_close_session(t, x, ev, ctx);
        break;
    case ZOP_CREATESESSION:
        break;
    case ZOP_ERROR:
        res->err = x->err;
        break;
    case ZOP_MULTI:
        apply_multi(t, x, res, ev, ctx);
        break;
    default:
        res->err = ZUNIMPLEMENTED;
        break;
    }
}

void tree_apply(struct ztree *t, const struct txn *x, struct txn_result *res, tree_event_fn ev, void *ctx)
{
    apply_one(t, x, res, ev ? ev : noev, ctx);
    if (x->zxid > t->last_zxid)
        t->last_zxid = x->zxid;
}

int tree_restore_node(struct ztree *t, const char *path, const uint8_t *data, int32_t datalen,
                      const struct zk_acl *acl, int32_t nacl, const struct zk_stat *st)
{
    struct znode *n = tree_get(t, path);
    struct zk_acl_set *set = acl_intern(&t->acls, acl, nacl);
    if (!set)
        return -1;
    if (!n) {
        const char *slash = strrchr(path, '/');
        if (!slash || path[1] == 0) {
            acl_release(&t->acls, set);
            return -1;
        }
        char *pp = strndup(path, (size_t)(slash - path));
        struct znode *parent = pp ? tree_get(t, pp) : NULL;
        free(pp);
        if (!parent || !(n = node_new(path, strlen(path)))) {
            acl_release(&t->acls, set);
            return -1;
        }
        if (link_node(t, parent, n) < 0) {
            acl_release(&t->acls, set);
            node_free(t, n);
            return -1;
        }
    } else {
        untrack_ephemeral(t, n);
    }
    if (n->acl)
        acl_release(&t->acls, n->acl);
    n->acl = set;
    if (set_data(t, n, data, datalen) < 0)
        return -1;
    int32_t nchildren = n->stat.numChildren;
    n->stat = *st;
    n->stat.numChildren = nchildren;
    n->stat.dataLength = datalen > 0 ? datalen : 0;
    if (n->parent)
        n->parent->stat.numChildren = (int32_t)n->parent->children.len;
    return track_ephemeral(t, n);
}

int32_t tree_children(const struct znode *n, const char ***out)
{
    *out = NULL;
    if (!n->children.len)
        return 0;
    const char **v = malloc(n->children.len * sizeof(*v));
    if (!v)
        return -1;
    struct hmap_slot *s;
    int32_t k = 0;
    for (size_t i = 0; hmap_next(&n->children, &i, &s);)
        v[k++] = ((struct znode *)s->val)->name;
    *out = v;
    return k;
}

int32_t tree_count_descendants(const struct ztree *t, const struct znode *n)
{
    if (n == t->root)
        return (int32_t)t->nodes.len - 1;
    int32_t c = 0;
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&n->children, &i, &s);)
        c += 1 + tree_count_descendants(t, s->val);
    return c;
}
