/* Request preparation (ZooKeeper's PrepRequestProcessor.pRequest2Txn), with outstanding
 * change records so that pipelined writes see each other before they are applied. */
#include "zkfsd/prep.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/path.h"
#include "common/zerr.h"

/* What prep knows about a path: the tree's node, overlaid by pending txns. */
struct chrec {
    char *path;
    int64_t zxid;
    int exists;
    struct zk_stat stat;
    int32_t nchildren;
    struct zk_acl_set *acl; /* a reference in the tree's acl cache */
    struct chrec *next;
};

void prep_init(struct prep *p, struct ztree *tree)
{
    memset(p, 0, sizeof(*p));
    p->tree = tree;
    hmap_init(&p->latest);
    p->last_zxid = tree->last_zxid;
}

static void rec_free(struct prep *p, struct chrec *c)
{
    if (c->acl)
        acl_release(&p->tree->acls, c->acl);
    free(c->path);
    free(c);
}

void prep_destroy(struct prep *p)
{
    struct chrec *c = p->head;
    while (c) {
        struct chrec *n = c->next;
        rec_free(p, c);
        c = n;
    }
    hmap_free(&p->latest);
    memset(p, 0, sizeof(*p));
}

int prep_is_write(int32_t type)
{
    switch (type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
    case ZOP_DELETE:
    case ZOP_DELETECONTAINER:
    case ZOP_SETDATA:
    case ZOP_SETACL:
    case ZOP_CHECK:
    case ZOP_MULTI:
    case ZOP_CLOSESESSION:
        return 1;
    default:
        return 0;
    }
}

/* The current view of path: fills *out (borrowing the acl) and returns 1 if the node exists. */
static int view(struct prep *p, const char *path, struct chrec *out)
{
    struct chrec *c = hmap_gets(&p->latest, path);
    if (c) {
        *out = *c;
        return c->exists;
    }
    struct znode *n = tree_get(p->tree, path);
    if (!n)
        return 0;
    memset(out, 0, sizeof(*out));
    out->exists = 1;
    out->stat = n->stat;
    out->nchildren = (int32_t)n->children.len;
    out->acl = n->acl;
    return 1;
}

/* Records the new state of a path for later preps (the record takes its own acl reference). */
static int add_rec(struct prep *p, const char *path, int64_t zxid, const struct chrec *st)
{
    struct chrec *c = calloc(1, sizeof(*c));
    if (!c)
        return ZSYSTEMERROR;
    *c = *st;
    c->next = NULL;
    c->zxid = zxid;
    c->path = strdup(path);
    if (!c->path) {
        free(c);
        return ZSYSTEMERROR;
    }
    if (c->acl)
        acl_retain(c->acl);
    if (hmap_puts(&p->latest, c->path, c) < 0) {
        rec_free(p, c);
        return ZSYSTEMERROR;
    }
    if (p->tail)
        p->tail->next = c;
    else
        p->head = c;
    p->tail = c;
    return ZOK;
}

/* Drops the records added after `mark` (a failed multi), restoring each path's previous view. */
static void rollback(struct prep *p, struct chrec *mark)
{
    struct chrec *c = mark ? mark->next : p->head;
    if (mark)
        mark->next = NULL;
    else
        p->head = NULL;
    p->tail = mark;
    while (c) {
        struct chrec *n = c->next;
        if (hmap_gets(&p->latest, c->path) == c) {
            struct chrec *prev = NULL;
            for (struct chrec *o = p->head; o; o = o->next)
                if (strcmp(o->path, c->path) == 0)
                    prev = o;
            if (prev)
                hmap_puts(&p->latest, c->path, prev);
            else
                hmap_dels(&p->latest, c->path);
        }
        rec_free(p, c);
        c = n;
    }
}

void prep_applied(struct prep *p, int64_t zxid)
{
    while (p->head && p->head->zxid <= zxid) {
        struct chrec *c = p->head;
        p->head = c->next;
        if (!p->head)
            p->tail = NULL;
        if (hmap_gets(&p->latest, c->path) == c)
            hmap_dels(&p->latest, c->path);
        rec_free(p, c);
    }
}

/* ZooKeeper's checkAndIncVersion: -1 matches anything; the version wraps past -1 to 0. */
static int check_version(int32_t current, int32_t expected, int32_t *next)
{
    if (expected != -1 && expected != current)
        return ZBADVERSION;
    int32_t n = (int32_t)((uint32_t)current + 1);
    *next = n == -1 ? 0 : n;
    return ZOK;
}

static int validate(const char *path, int32_t len, int seq)
{
    if (!path || len < 0)
        return ZBADARGUMENTS;
    const char *why = NULL;
    int rc = path_validate(path, (size_t)len, seq, &why);
    if (rc)
        LOG_INFO("invalid path '%s': %s", path, why ? why : "rejected");
    return rc;
}

/* The parent path as ZooKeeper takes it: everything before the last '/', "" for "/a". */
static int parent_of(const char *path, int32_t len, char **parent)
{
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (!slash || (int32_t)strlen(path) != len)
        return ZBADARGUMENTS; /* no slash, or an embedded NUL */
    *parent = strndup(path, (size_t)(slash - path));
    return *parent ? ZOK : ZSYSTEMERROR;
}

static int is_special(const char *path)
{
    return !strcmp(path, "/") || !strcmp(path, "/zookeeper") || !strcmp(path, "/zookeeper/quota") ||
           !strcmp(path, "/zookeeper/config");
}

static int copy_data(struct txn *x, const uint8_t *data, int32_t len)
{
    x->datalen = len < 0 ? -1 : len;
    x->data = NULL;
    if (len > 0) {
        x->data = malloc((size_t)len);
        if (!x->data)
            return ZSYSTEMERROR;
        memcpy(x->data, data, (size_t)len);
    }
    return ZOK;
}

static void begin(struct txn *x, int32_t type, int64_t zxid, const struct prep_ctx *ctx)
{
    memset(x, 0, sizeof(*x));
    x->type = type;
    x->zxid = zxid;
    x->time = ctx->now;
    x->session = ctx->session;
    x->cxid = ctx->cxid;
    x->datalen = -1;
}

static int prep_create(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                       struct txn *x)
{
    int rc;
    int32_t flags = q->flags;
    int type = q->type;
    if (flags < ZMODE_PERSISTENT || flags > ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL)
        return ZBADARGUMENTS;
    int is_ttl = flags == ZMODE_PERSISTENT_WITH_TTL || flags == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    int is_seq = flags == ZMODE_PERSISTENT_SEQUENTIAL || flags == ZMODE_EPHEMERAL_SEQUENTIAL ||
                 flags == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
    int is_eph = flags == ZMODE_EPHEMERAL || flags == ZMODE_EPHEMERAL_SEQUENTIAL;
    int is_container = flags == ZMODE_CONTAINER;
    int64_t ttl = type == ZOP_CREATETTL ? q->ttl : -1;
    if (is_ttl && !p->ttl_enabled)
        return ZUNIMPLEMENTED;
    if (is_ttl ? (ttl <= 0 || ttl > ZK_TTL_MAX) : ttl >= 0)
        return ZBADARGUMENTS;
    char *parent = NULL;
    if ((rc = parent_of(q->path, q->pathlen, &parent)))
        return rc;
    struct zk_acl *acl = NULL;
    int32_t nacl = 0;
    struct chrec prec;
    char *path = NULL;
    if ((rc = acl_fixup(q->acl, q->nacl, ctx->auth, &acl, &nacl)))
        goto out;
    if (!view(p, parent, &prec)) {
        rc = ZNONODE;
        goto out;
    }
    if ((rc = acl_check(prec.acl, ZPERM_CREATE, ctx->auth)))
        goto out;
    size_t plen = strlen(q->path);
    path = malloc(plen + 12);
    if (!path) {
        rc = ZSYSTEMERROR;
        goto out;
    }
    memcpy(path, q->path, plen + 1);
    if (is_seq)
        snprintf(path + plen, 12, "%010d", prec.stat.cversion);
    if ((rc = validate(path, (int32_t)strlen(path), 0)))
        goto out;
    struct chrec nrec;
    if (view(p, path, &nrec)) {
        rc = ZNODEEXISTS;
        goto out;
    }
    if (zk_owner_is_session(prec.stat.ephemeralOwner)) {
        rc = ZNOCHILDRENFOREPHEMERALS;
        goto out;
    }
    int64_t owner = is_container ? ZK_CONTAINER_OWNER
                    : is_ttl     ? (ZK_TTL_MARKER | ttl)
                    : is_eph     ? ctx->session
                                 : 0;
    int txtype = type;
    if (type == ZOP_CREATE && is_container)
        txtype = ZOP_CREATECONTAINER;
    begin(x, txtype, zxid, ctx);
    x->path = path;
    path = NULL;
    x->acl = acl;
    x->nacl = nacl;
    acl = NULL;
    nacl = 0;
    x->ephemeralOwner = owner;
    x->ttl = is_ttl ? ttl : 0;
    x->parentCVersion = (int32_t)((uint32_t)prec.stat.cversion + 1u); /* wraps as Java's int does */
    if ((rc = copy_data(x, q->data, q->datalen)))
        goto fail_txn;
    /* parent: one more child, new cversion, pzxid */
    prec.nchildren++;
    prec.stat.cversion = x->parentCVersion;
    prec.stat.pzxid = zxid;
    prec.stat.numChildren = prec.nchildren;
    if ((rc = add_rec(p, parent, zxid, &prec)))
        goto fail_txn;
    memset(&nrec, 0, sizeof(nrec));
    nrec.exists = 1;
    nrec.stat.czxid = nrec.stat.mzxid = nrec.stat.pzxid = zxid;
    nrec.stat.ctime = nrec.stat.mtime = ctx->now;
    nrec.stat.ephemeralOwner = owner;
    nrec.acl = acl_intern(&p->tree->acls, x->acl, x->nacl);
    if (!nrec.acl) {
        rc = ZSYSTEMERROR;
        goto fail_txn;
    }
    rc = add_rec(p, x->path, zxid, &nrec);
    acl_release(&p->tree->acls, nrec.acl);
    if (rc)
        goto fail_txn;
    free(parent);
    return ZOK;
fail_txn:
    txn_free(x);
out:
    free(path);
    jute_free_acls(acl, nacl);
    free(parent);
    return rc;
}

static int prep_delete(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                       struct txn *x)
{
    char *parent = NULL;
    int rc = parent_of(q->path, q->pathlen, &parent);
    if (rc)
        return rc;
    struct chrec prec, nrec;
    if (is_special(q->path)) {
        rc = ZBADARGUMENTS;
        goto out;
    }
    if (!view(p, parent, &prec)) {
        rc = ZNONODE;
        goto out;
    }
    if (q->type == ZOP_DELETE && (rc = acl_check(prec.acl, ZPERM_DELETE, ctx->auth)))
        goto out;
    if (!view(p, q->path, &nrec)) {
        rc = ZNONODE;
        goto out;
    }
    int32_t next;
    if (q->type == ZOP_DELETE && (rc = check_version(nrec.stat.version, q->version, &next)))
        goto out;
    if (nrec.nchildren > 0) {
        rc = ZNOTEMPTY;
        goto out;
    }
    if (q->type == ZOP_DELETECONTAINER && zk_owner_is_session(nrec.stat.ephemeralOwner)) {
        rc = ZBADVERSION;
        goto out;
    }
    begin(x, q->type, zxid, ctx);
    if (!(x->path = strdup(q->path))) {
        rc = ZSYSTEMERROR;
        goto out;
    }
    prec.nchildren--;
    prec.stat.numChildren = prec.nchildren;
    prec.stat.pzxid = zxid;
    struct chrec gone = {.exists = 0};
    if ((rc = add_rec(p, parent, zxid, &prec)) || (rc = add_rec(p, q->path, zxid, &gone)))
        txn_free(x);
out:
    free(parent);
    return rc;
}

/* The checks setData and check share, in ZooKeeper's order: path, existence, permission,
 * version. Fills *rec with the node's view and *next with its next version. */
static int check_node(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int32_t perm,
                      struct chrec *rec, int32_t *next)
{
    int rc;
    if ((rc = validate(q->path, q->pathlen, 0)))
        return rc;
    if (!view(p, q->path, rec))
        return ZNONODE;
    if ((rc = acl_check(rec->acl, perm, ctx->auth)))
        return rc;
    return check_version(rec->stat.version, q->version, next);
}

static int prep_set_data(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                         struct txn *x)
{
    struct chrec rec;
    int32_t next;
    int rc = check_node(p, q, ctx, ZPERM_WRITE, &rec, &next);
    if (rc)
        return rc;
    begin(x, ZOP_SETDATA, zxid, ctx);
    x->version = next;
    if (!(x->path = strdup(q->path)) || copy_data(x, q->data, q->datalen)) {
        txn_free(x);
        return ZSYSTEMERROR;
    }
    rec.stat.version = next;
    rec.stat.mtime = ctx->now;
    rec.stat.mzxid = zxid;
    if ((rc = add_rec(p, q->path, zxid, &rec)))
        txn_free(x);
    return rc;
}

static int prep_set_acl(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                        struct txn *x)
{
    int rc;
    struct chrec rec;
    int32_t next;
    struct zk_acl *acl = NULL;
    int32_t nacl = 0;
    if ((rc = validate(q->path, q->pathlen, 0)))
        return rc;
    if ((rc = acl_fixup(q->acl, q->nacl, ctx->auth, &acl, &nacl)))
        return rc;
    if (!view(p, q->path, &rec)) {
        rc = ZNONODE;
        goto out;
    }
    if ((rc = acl_check(rec.acl, ZPERM_ADMIN, ctx->auth)))
        goto out;
    if ((rc = check_version(rec.stat.aversion, q->version, &next)))
        goto out;
    begin(x, ZOP_SETACL, zxid, ctx);
    x->version = next;
    if (!(x->path = strdup(q->path))) {
        rc = ZSYSTEMERROR;
        goto out;
    }
    x->acl = acl;
    x->nacl = nacl;
    acl = NULL;
    nacl = 0;
    rec.stat.aversion = next;
    rec.acl = acl_intern(&p->tree->acls, x->acl, x->nacl);
    if (!rec.acl) {
        txn_free(x);
        return ZSYSTEMERROR;
    }
    rc = add_rec(p, q->path, zxid, &rec);
    acl_release(&p->tree->acls, rec.acl);
    if (rc)
        txn_free(x);
out:
    jute_free_acls(acl, nacl);
    return rc;
}

static int prep_check(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                      struct txn *x)
{
    struct chrec rec;
    int32_t next;
    int rc = check_node(p, q, ctx, ZPERM_READ, &rec, &next);
    if (rc)
        return rc;
    begin(x, ZOP_CHECK, zxid, ctx);
    x->version = q->version;
    if (!(x->path = strdup(q->path)))
        return ZSYSTEMERROR;
    return ZOK;
}

static int prep_one(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                    struct txn *x)
{
    switch (q->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        return prep_create(p, q, ctx, zxid, x);
    case ZOP_DELETE:
    case ZOP_DELETECONTAINER:
        return prep_delete(p, q, ctx, zxid, x);
    case ZOP_SETDATA:
        return prep_set_data(p, q, ctx, zxid, x);
    case ZOP_SETACL:
        return prep_set_acl(p, q, ctx, zxid, x);
    case ZOP_CHECK:
        return prep_check(p, q, ctx, zxid, x);
    default:
        return ZUNIMPLEMENTED;
    }
}

static int prep_multi(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, int64_t zxid,
                      struct txn *x)
{
    for (int32_t i = 0; i < q->nops; i++)
        if (!jute_op_in_multi(ZOP_MULTI, q->ops[i].type))
            return ZMARSHALLINGERROR; /* reads or anything else: the whole request, as in Java */
    begin(x, ZOP_MULTI, zxid, ctx);
    x->subs = calloc((size_t)(q->nops > 0 ? q->nops : 1), sizeof(*x->subs));
    if (!x->subs)
        return ZSYSTEMERROR;
    x->nsubs = q->nops;
    struct chrec *mark = p->tail;
    int failed_at = -1, failure = ZOK;
    for (int32_t i = 0; i < q->nops; i++) {
        const struct zk_request *op = &q->ops[i];
        int rc = prep_one(p, op, ctx, zxid, &x->subs[i]);
        if (rc) {
            failed_at = i;
            failure = rc;
            break;
        }
    }
    if (failed_at < 0)
        return ZOK;
    /* ZooKeeper's per-op results: 0 before the failure, its code, RUNTIMEINCONSISTENCY after */
    LOG_DEBUG("multi from session 0x%llx aborted at op %d: %s", (unsigned long long)ctx->session, failed_at,
              zerr_name(failure));
    rollback(p, mark);
    for (int32_t i = 0; i < q->nops; i++) {
        txn_free(&x->subs[i]);
        begin(&x->subs[i], ZOP_ERROR, 0, ctx);
        x->subs[i].err = i < failed_at ? ZOK : i == failed_at ? failure : ZRUNTIMEINCONSISTENCY;
    }
    x->zxid = 0;
    return ZOK;
}

int prep_request(struct prep *p, const struct zk_request *q, const struct prep_ctx *ctx, struct txn *x)
{
    memset(x, 0, sizeof(*x));
    int64_t zxid = p->last_zxid + 1;
    int rc = q->type == ZOP_MULTI ? prep_multi(p, q, ctx, zxid, x) : prep_one(p, q, ctx, zxid, x);
    if (rc) {
        txn_free(x);
        return rc;
    }
    if (x->zxid)
        p->last_zxid = zxid;
    return ZOK;
}

int prep_create_session(struct prep *p, int64_t session, int32_t timeout, int64_t now, struct txn *x)
{
    struct prep_ctx ctx = {.session = session, .now = now};
    begin(x, ZOP_CREATESESSION, ++p->last_zxid, &ctx);
    x->timeout = timeout;
    return ZOK;
}

int prep_close_session(struct prep *p, int64_t session, int64_t now, struct txn *x)
{
    struct prep_ctx ctx = {.session = session, .now = now};
    int64_t zxid = p->last_zxid + 1;
    /* the session's ephemerals as they will be when this txn applies: the tree's, plus pending
     * creates, minus pending deletes; each becomes a deletion record so later preps see it gone */
    struct hmap paths;
    hmap_init(&paths);
    const struct hmap *set = tree_ephemerals(p->tree, session);
    struct hmap_slot *s;
    if (set)
        for (size_t i = 0; hmap_next(set, &i, &s);)
            hmap_puts(&paths, s->key, NULL);
    for (struct chrec *c = p->head; c; c = c->next)
        if (c->exists && c->stat.ephemeralOwner == session)
            hmap_puts(&paths, c->path, NULL);
    int rc = ZOK;
    for (size_t i = 0; hmap_next(&paths, &i, &s);) {
        struct chrec rec, prec;
        if (!view(p, s->key, &rec) || rec.stat.ephemeralOwner != session)
            continue;
        char *parent = strndup(s->key, (size_t)(strrchr(s->key, '/') - s->key));
        if (!parent) {
            rc = ZSYSTEMERROR;
            break;
        }
        if (view(p, parent, &prec)) {
            prec.nchildren--;
            prec.stat.numChildren = prec.nchildren;
            prec.stat.pzxid = zxid;
            rc = add_rec(p, parent, zxid, &prec);
        }
        free(parent);
        struct chrec gone = {.exists = 0};
        if (rc || (rc = add_rec(p, s->key, zxid, &gone)))
            break;
    }
    hmap_free(&paths);
    if (rc)
        return rc;
    begin(x, ZOP_CLOSESESSION, zxid, &ctx);
    p->last_zxid = zxid;
    return ZOK;
}

int prep_delete_container(struct prep *p, const char *path, int64_t now, struct txn *x)
{
    struct zk_request q = {.type = ZOP_DELETECONTAINER, .path = (char *)path, .pathlen = (int32_t)strlen(path)};
    struct prep_ctx ctx = {.now = now};
    return prep_request(p, &q, &ctx, x);
}
