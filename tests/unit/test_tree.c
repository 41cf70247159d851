/* Unit tests of zkfsd/tree: the initial tree, and tree_apply of hand-built txns (create,
 * delete, setData, setACL, check, closeSession, multi) with their effects on all eleven Stat
 * fields of the node and its parent, the watch events in ZooKeeper's order, the bookkeeping
 * of ephemerals, containers and TTL nodes, and txns that do not fit the tree (replay), which
 * must fail without leaving the tree inconsistent. Expected values follow ZooKeeper's
 * DataTree.createNode/deleteNode/setData/setACL/processTxn and DataNode.copyStat. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/zerr.h"
#include "zkfsd/acl.h"
#include "zkfsd/tree.h"
#include "zkfsd/txn.h"

/* ---------- helpers ---------- */

#define T0 1700000000000LL /* the wall time of zxid 0; txn z happens at T0 + z */
#define SESSION_A 0x1000000000000011LL
#define SESSION_B 0x1000000000000022LL

/* The events tree_apply reported, as text: "created /a, child /". */
struct evlog {
    char text[1024];
};

static void on_event(void *ctx, const char *path, int event)
{
    struct evlog *l = ctx;
    const char *name = event == ZEV_CREATED   ? "created"
                       : event == ZEV_DELETED ? "deleted"
                       : event == ZEV_CHANGED ? "changed"
                       : event == ZEV_CHILD   ? "child"
                                              : "?";
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof(l->text) - n, "%s%s %s", n ? ", " : "", name, path);
}

static struct txn tx(int32_t type, int64_t zxid, const char *path)
{
    return (struct txn){.type = type,
                        .zxid = zxid,
                        .time = T0 + zxid,
                        .session = SESSION_A,
                        .path = (char *)path,
                        .datalen = -1,
                        .parentCVersion = -1};
}

/* A create txn as prep makes it; data NULL means null data. The strings stay the caller's
 * (tree_apply copies what it keeps), so these txns are never passed to txn_free. */
static struct txn tx_create(int64_t zxid, const char *path, const char *data, int64_t owner)
{
    struct txn x = tx(ZOP_CREATE, zxid, path);
    x.data = (uint8_t *)data;
    x.datalen = data ? (int32_t)strlen(data) : -1;
    x.acl = (struct zk_acl *)OPEN_ACL_UNSAFE;
    x.nacl = 1;
    x.ephemeralOwner = owner;
    return x;
}

static struct txn tx_set_data(int64_t zxid, const char *path, const char *data, int32_t version)
{
    struct txn x = tx(ZOP_SETDATA, zxid, path);
    x.data = (uint8_t *)data;
    x.datalen = data ? (int32_t)strlen(data) : -1;
    x.version = version;
    return x;
}

/* Applies x, returns its error and, when ev is given, appends the events to it. */
static int apply(struct ztree *t, const struct txn *x, struct evlog *ev)
{
    struct txn_result res;
    tree_apply(t, x, &res, ev ? on_event : NULL, ev);
    int err = res.err;
    txn_result_free(&res);
    return err;
}

static void must_apply(struct ztree *t, struct txn x)
{
    assert_int_equal(apply(t, &x, NULL), ZOK);
}

/* Compares all eleven fields, one assertion each, so a failure names the field's line. */
static void check_stat(const struct zk_stat *got, struct zk_stat want)
{
    assert_int_equal(got->czxid, want.czxid);
    assert_int_equal(got->mzxid, want.mzxid);
    assert_int_equal(got->ctime, want.ctime);
    assert_int_equal(got->mtime, want.mtime);
    assert_int_equal(got->version, want.version);
    assert_int_equal(got->cversion, want.cversion);
    assert_int_equal(got->aversion, want.aversion);
    assert_int_equal(got->ephemeralOwner, want.ephemeralOwner);
    assert_int_equal(got->dataLength, want.dataLength);
    assert_int_equal(got->numChildren, want.numChildren);
    assert_int_equal(got->pzxid, want.pzxid);
}

/* The Stat a client would be shown for path (which must exist). */
static struct zk_stat cstat(const struct ztree *t, const char *path)
{
    struct znode *n = tree_get(t, path);
    assert_non_null(n);
    struct zk_stat st;
    tree_client_stat(n, &st);
    return st;
}

static int acl_is(const struct znode *n, const struct zk_acl *want)
{
    return n->acl->n == 1 && n->acl->v[0].perms == want->perms && !strcmp(n->acl->v[0].id.scheme, want->id.scheme) &&
           !strcmp(n->acl->v[0].id.id, want->id.id);
}

/* Every structural invariant the tree promises after any tree_apply: the path map and the
 * child maps describe the same tree, counts are current, and the ephemeral and container
 * indexes list exactly the nodes whose ephemeralOwner says so. */
static void check_consistent(const struct ztree *t)
{
    struct hmap_slot *s, *c;
    size_t children = 0, sessions_owned = 0, marked = 0;
    assert_ptr_equal(tree_get(t, "/"), t->root);
    assert_null(t->root->parent);
    for (size_t i = 0; hmap_next(&t->nodes, &i, &s);) {
        struct znode *n = s->val;
        assert_string_equal(s->key, n->path);
        assert_int_equal(n->pathlen, strlen(n->path));
        assert_int_equal(n->stat.numChildren, n->children.len);
        assert_int_equal(n->stat.dataLength, n->datalen > 0 ? n->datalen : 0);
        assert_non_null(n->acl);
        for (size_t j = 0; hmap_next(&n->children, &j, &c);) {
            struct znode *k = c->val;
            assert_ptr_equal(k->parent, n);
            assert_ptr_equal(tree_get(t, k->path), k);
            assert_string_equal(c->key, k->name);
            children++;
        }
        if (n != t->root) {
            assert_non_null(n->parent);
            assert_ptr_equal(hmap_gets(&n->parent->children, n->name), n);
        }
        int64_t owner = n->stat.ephemeralOwner;
        if (zk_owner_is_session(owner)) {
            const struct hmap *set = tree_ephemerals(t, owner);
            assert_non_null(set);
            assert_ptr_equal(hmap_gets(set, n->path), n);
            sessions_owned++;
        } else if (owner) {
            assert_ptr_equal(hmap_gets(&t->containers, n->path), n);
            marked++;
        }
    }
    assert_int_equal(children + 1, tree_node_count(t));
    size_t listed = 0;
    for (size_t i = 0; hmap_next(&t->ephemerals, &i, &s);) {
        const struct hmap *set = s->val;
        assert_true(set->len > 0); /* an emptied set is dropped */
        listed += set->len;
    }
    assert_int_equal(listed, sessions_owned);
    assert_int_equal(t->containers.len, marked);
}

static int setup(void **state)
{
    struct ztree *t = malloc(sizeof(*t));
    if (!t || tree_init(t) < 0)
        return -1;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ztree *t = *state;
    check_consistent(t);
    tree_destroy(t);
    free(t);
    return 0;
}

/* ---------- the initial tree ---------- */

static void test_initial_tree(void **state)
{
    struct ztree *t = *state;
    const char *paths[] = {"/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config"};
    assert_int_equal(tree_node_count(t), 4);
    assert_int_equal(t->last_zxid, 0);
    for (int i = 0; i < 4; i++) {
        struct znode *n = tree_get(t, paths[i]);
        assert_non_null(n);
        assert_string_equal(n->path, paths[i]);
        /* empty data, not null, like DataTree's system nodes */
        assert_int_equal(n->datalen, 0);
        /* StatPersisted all zero, except /zookeeper/config: DataTree sets its ACL with version -1 */
        check_stat(&n->stat, (struct zk_stat){.aversion = i == 3 ? -1 : 0, .numChildren = i == 0 ? 1 : i == 1 ? 2 : 0});
        assert_true(acl_is(n, i == 3 ? READ_ACL_UNSAFE : OPEN_ACL_UNSAFE));
    }
    assert_ptr_equal(tree_get(t, ""), t->root); /* ZooKeeper's alias, the parent of "/a" */
    assert_null(tree_get(t, "/zookeeper/"));
    assert_null(tree_get(t, "/nothing"));
    assert_string_equal(t->root->name, "");
    assert_string_equal(tree_get(t, "/zookeeper/quota")->name, "quota");
    assert_ptr_equal(tree_get(t, "/zookeeper/quota")->parent, tree_get(t, "/zookeeper"));
    assert_ptr_equal(tree_get(t, "/zookeeper")->parent, t->root);

    /* clients see cversion as creates + deletes: 2 * 0 - numChildren ("stat /" says -1) */
    struct zk_stat st = cstat(t, "/");
    check_stat(&st, (struct zk_stat){.cversion = -1, .numChildren = 1});
    st = cstat(t, "/zookeeper");
    check_stat(&st, (struct zk_stat){.cversion = -2, .numChildren = 2});
    st = cstat(t, "/zookeeper/config");
    check_stat(&st, (struct zk_stat){.aversion = -1});

    /* getAllChildrenNumber("/") counts the system nodes */
    assert_int_equal(tree_count_descendants(t, t->root), 3);
    assert_int_equal(tree_count_descendants(t, tree_get(t, "/zookeeper")), 2);
    assert_null(tree_ephemerals(t, SESSION_A));
    assert_int_equal(t->containers.len, 0);
}

/* ---------- create ---------- */

static void test_create_stats_and_events(void **state)
{
    struct ztree *t = *state;
    struct evlog ev = {{0}};
    struct txn x = tx_create(5, "/a", "hello", 0);
    x.parentCVersion = 1;
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CREATE);
    assert_string_equal(res.path, "/a");
    check_stat(&res.stat,
               (struct zk_stat){.czxid = 5, .mzxid = 5, .ctime = T0 + 5, .mtime = T0 + 5, .dataLength = 5, .pzxid = 5});
    txn_result_free(&res);
    assert_string_equal(ev.text, "created /a, child /");
    assert_int_equal(t->last_zxid, 5);

    struct znode *a = tree_get(t, "/a");
    assert_non_null(a);
    assert_string_equal(a->name, "a");
    assert_ptr_equal(a->parent, t->root);
    assert_int_equal(a->datalen, 5);
    assert_memory_equal(a->data, "hello", 5);
    assert_true(acl_is(a, OPEN_ACL_UNSAFE));
    check_stat(&a->stat,
               (struct zk_stat){.czxid = 5, .mzxid = 5, .ctime = T0 + 5, .mtime = T0 + 5, .dataLength = 5, .pzxid = 5});

    /* the parent: one more child, cversion from the txn, pzxid; mzxid/version untouched */
    check_stat(&t->root->stat, (struct zk_stat){.cversion = 1, .numChildren = 2, .pzxid = 5});
    struct zk_stat st = cstat(t, "/");
    check_stat(&st, (struct zk_stat){.cversion = 0, .numChildren = 2, .pzxid = 5});

    /* a grandchild: the events name the parent's own path */
    memset(&ev, 0, sizeof(ev));
    x = tx_create(6, "/a/b", "", 0);
    x.parentCVersion = 1;
    assert_int_equal(apply(t, &x, &ev), ZOK);
    assert_string_equal(ev.text, "created /a/b, child /a");
    st = cstat(t, "/a");
    check_stat(&st, (struct zk_stat){.czxid = 5,
                                     .mzxid = 5,
                                     .ctime = T0 + 5,
                                     .mtime = T0 + 5,
                                     .cversion = 1,
                                     .dataLength = 5,
                                     .numChildren = 1,
                                     .pzxid = 6});
    assert_int_equal(tree_get(t, "/a")->stat.cversion, 1);
    assert_int_equal(tree_node_count(t), 6);
}

/* parentCVersion -1 means "the parent's plus one"; a lower one (replay over a snapshot
 * that already has later children) leaves cversion and pzxid alone, as createNode does. */
static void test_create_parent_cversion(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(1, "/p", NULL, 0));
    struct txn x = tx_create(2, "/p/a", NULL, 0); /* -1 */
    must_apply(t, x);
    assert_int_equal(tree_get(t, "/p")->stat.cversion, 1);
    assert_int_equal(tree_get(t, "/p")->stat.pzxid, 2);
    x = tx_create(3, "/p/b", NULL, 0);
    x.parentCVersion = 10;
    must_apply(t, x);
    assert_int_equal(tree_get(t, "/p")->stat.cversion, 10);
    assert_int_equal(tree_get(t, "/p")->stat.pzxid, 3);
    x = tx_create(4, "/p/c", NULL, 0);
    x.parentCVersion = 7;
    must_apply(t, x);
    assert_int_equal(tree_get(t, "/p")->stat.cversion, 10);
    assert_int_equal(tree_get(t, "/p")->stat.pzxid, 3);
    assert_int_equal(tree_get(t, "/p")->stat.numChildren, 3);
    assert_int_equal(tree_get(t, "/p/c")->stat.czxid, 4);
    struct zk_stat st = cstat(t, "/p");
    assert_int_equal(st.cversion, 2 * 10 - 3);
}

static void test_create2_ttl_container_results(void **state)
{
    struct ztree *t = *state;
    struct txn x = tx_create(3, "/c", "x", ZK_CONTAINER_OWNER);
    x.type = ZOP_CREATECONTAINER;
    struct txn_result res;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CREATECONTAINER);
    assert_string_equal(res.path, "/c");
    assert_int_equal(res.stat.czxid, 3);
    txn_result_free(&res);

    x = tx_create(4, "/t", NULL, ZK_TTL_MARKER | 5000);
    x.type = ZOP_CREATETTL;
    x.ttl = 5000;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CREATETTL);
    txn_result_free(&res);

    x = tx_create(5, "/c2", "yy", 0);
    x.type = ZOP_CREATE2;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CREATE2);
    check_stat(&res.stat,
               (struct zk_stat){.czxid = 5, .mzxid = 5, .ctime = T0 + 5, .mtime = T0 + 5, .dataLength = 2, .pzxid = 5});
    txn_result_free(&res);
}

/* ---------- data ---------- */

static void test_null_and_empty_data(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(1, "/null", NULL, 0));
    must_apply(t, tx_create(2, "/empty", "", 0));
    struct znode *n = tree_get(t, "/null"), *e = tree_get(t, "/empty");
    assert_int_equal(n->datalen, -1);
    assert_null(n->data);
    assert_int_equal(e->datalen, 0);
    assert_int_equal(n->stat.dataLength, 0);
    assert_int_equal(e->stat.dataLength, 0);

    /* setData keeps the distinction both ways */
    must_apply(t, tx_set_data(3, "/null", "", 1));
    must_apply(t, tx_set_data(4, "/empty", NULL, 1));
    assert_int_equal(n->datalen, 0);
    assert_int_equal(e->datalen, -1);
    assert_null(e->data);
    must_apply(t, tx_set_data(5, "/null", "abc", 2));
    assert_int_equal(n->datalen, 3);
    assert_memory_equal(n->data, "abc", 3);
    assert_int_equal(cstat(t, "/null").dataLength, 3);
    must_apply(t, tx_set_data(6, "/null", NULL, 3));
    assert_int_equal(n->datalen, -1);
    assert_int_equal(cstat(t, "/null").dataLength, 0);
}

static void test_set_data(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(2, "/a", "old", 0));
    must_apply(t, tx_create(3, "/a/k", NULL, 0));
    struct zk_stat root_before = t->root->stat, a_before = tree_get(t, "/a")->stat;

    struct evlog ev = {{0}};
    struct txn x = tx_set_data(9, "/a", "brand new", 7); /* the txn carries the new version */
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_SETDATA);
    assert_string_equal(res.path, "/a");
    struct zk_stat want = {.czxid = 2,
                           .mzxid = 9,
                           .ctime = T0 + 2,
                           .mtime = T0 + 9,
                           .version = 7,
                           .cversion = 1,
                           .dataLength = 9,
                           .numChildren = 1,
                           .pzxid = 3};
    check_stat(&res.stat, want);
    txn_result_free(&res);
    struct zk_stat st = cstat(t, "/a");
    check_stat(&st, want);
    assert_string_equal(ev.text, "changed /a"); /* no child event on the parent */
    assert_memory_equal(tree_get(t, "/a")->data, "brand new", 9);
    assert_memory_equal(&t->root->stat, &root_before, sizeof(root_before));
    assert_int_equal(tree_get(t, "/a")->stat.cversion, a_before.cversion);
    assert_int_equal(t->last_zxid, 9);
}

/* ---------- delete ---------- */

static void test_delete(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(2, "/a", "v", 0));
    must_apply(t, tx_create(3, "/a/b", NULL, 0));
    must_apply(t, tx_create(4, "/a/c", NULL, 0));
    struct zk_stat a_before = tree_get(t, "/a")->stat;

    struct evlog ev = {{0}};
    struct txn x = tx(ZOP_DELETE, 8, "/a/b");
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_DELETE);
    assert_string_equal(res.path, "/a/b");
    txn_result_free(&res);
    assert_string_equal(ev.text, "deleted /a/b, child /a");
    assert_null(tree_get(t, "/a/b"));
    assert_int_equal(tree_node_count(t), 6);

    /* parent: one child fewer, pzxid; the internal cversion counts creates only, so the
     * client's cversion (creates + deletes) is 2 * 2 - 1 = 3 */
    struct znode *a = tree_get(t, "/a");
    assert_int_equal(a->stat.cversion, a_before.cversion);
    struct zk_stat st = cstat(t, "/a");
    check_stat(&st, (struct zk_stat){.czxid = 2,
                                     .mzxid = 2,
                                     .ctime = T0 + 2,
                                     .mtime = T0 + 2,
                                     .cversion = 3,
                                     .dataLength = 1,
                                     .numChildren = 1,
                                     .pzxid = 8});

    /* a delete with a zxid below the parent's pzxid (replay) does not lower it */
    x = tx(ZOP_DELETE, 6, "/a/c");
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_int_equal(a->stat.pzxid, 8);
    assert_int_equal(a->stat.numChildren, 0);

    /* a child of the root: the parent event names "/" */
    memset(&ev, 0, sizeof(ev));
    x = tx(ZOP_DELETE, 9, "/a");
    assert_int_equal(apply(t, &x, &ev), ZOK);
    assert_string_equal(ev.text, "deleted /a, child /");
    assert_int_equal(t->root->stat.pzxid, 9);
    assert_int_equal(t->root->stat.numChildren, 1);
    assert_int_equal(tree_node_count(t), 4);

    /* deleteContainer is applied the same way */
    must_apply(t, tx_create(10, "/c", NULL, ZK_CONTAINER_OWNER));
    x = tx(ZOP_DELETECONTAINER, 11, "/c");
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_null(tree_get(t, "/c"));
}

/* ---------- setACL, check ---------- */

static void test_set_acl(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(2, "/a", "d", 0));
    size_t sets = acl_cache_size(&t->acls);
    struct zk_stat before = tree_get(t, "/a")->stat;

    struct evlog ev = {{0}};
    struct txn x = tx(ZOP_SETACL, 5, "/a");
    x.acl = (struct zk_acl *)READ_ACL_UNSAFE;
    x.nacl = 1;
    x.version = 1;
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_SETACL);
    assert_string_equal(res.path, "/a");
    /* only aversion changes: setACL touches neither mzxid nor mtime */
    struct zk_stat want = before;
    want.aversion = 1;
    check_stat(&res.stat, want);
    txn_result_free(&res);
    assert_string_equal(ev.text, ""); /* setACL fires no watch */
    assert_true(acl_is(tree_get(t, "/a"), READ_ACL_UNSAFE));
    /* READ_ACL was interned already (for /zookeeper/config): no new set */
    assert_int_equal(acl_cache_size(&t->acls), sets);

    /* an interned list lives as long as a node uses it */
    struct zk_acl mine[1] = {{ZPERM_READ | ZPERM_WRITE, {(char *)"digest", (char *)"u:h"}}};
    x.acl = mine;
    x.version = 2;
    x.zxid = 6;
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_int_equal(acl_cache_size(&t->acls), sets + 1);
    assert_string_equal(tree_get(t, "/a")->acl->v[0].id.id, "u:h");
    x = tx(ZOP_DELETE, 7, "/a");
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_int_equal(acl_cache_size(&t->acls), sets);
}

static void test_check_changes_nothing(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(2, "/a", "d", 0));
    struct zk_stat before = tree_get(t, "/a")->stat;
    struct evlog ev = {{0}};
    struct txn x = tx(ZOP_CHECK, 3, "/a");
    x.version = 0;
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CHECK);
    assert_string_equal(res.path, "/a");
    txn_result_free(&res);
    assert_string_equal(ev.text, "");
    assert_memory_equal(&tree_get(t, "/a")->stat, &before, sizeof(before));

    /* createSession changes no node; an error txn reports its code */
    x = tx(ZOP_CREATESESSION, 4, NULL);
    x.timeout = 30000;
    assert_int_equal(apply(t, &x, &ev), ZOK);
    x = tx(ZOP_ERROR, 5, NULL);
    x.err = ZNONODE;
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    assert_string_equal(ev.text, "");
    assert_int_equal(tree_node_count(t), 5);
}

/* ---------- ephemerals, containers, TTL ---------- */

static void test_ephemerals_and_close_session(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(1, "/a", NULL, 0));
    must_apply(t, tx_create(2, "/e1", "x", SESSION_A));
    must_apply(t, tx_create(3, "/a/e2", NULL, SESSION_A));
    must_apply(t, tx_create(4, "/a/e3", NULL, SESSION_A));
    must_apply(t, tx_create(5, "/b", NULL, SESSION_B));
    assert_int_equal(cstat(t, "/e1").ephemeralOwner, SESSION_A);
    const struct hmap *set = tree_ephemerals(t, SESSION_A);
    assert_non_null(set);
    assert_int_equal(set->len, 3);
    assert_non_null(hmap_gets(set, "/a/e2"));
    assert_int_equal(tree_ephemerals(t, SESSION_B)->len, 1);
    assert_int_equal(t->containers.len, 0);

    /* an explicit delete untracks */
    struct txn x = tx(ZOP_DELETE, 6, "/a/e3");
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_int_equal(tree_ephemerals(t, SESSION_A)->len, 2);
    check_consistent(t);

    /* closeSession deletes the session's ephemerals, in path order, with its zxid */
    struct evlog ev = {{0}};
    x = tx(ZOP_CLOSESESSION, 7, NULL);
    x.session = SESSION_A;
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_CLOSESESSION);
    txn_result_free(&res);
    assert_string_equal(ev.text, "deleted /a/e2, child /a, deleted /e1, child /");
    assert_null(tree_get(t, "/e1"));
    assert_null(tree_get(t, "/a/e2"));
    assert_null(tree_ephemerals(t, SESSION_A));
    assert_int_equal(tree_get(t, "/a")->stat.pzxid, 7);
    assert_int_equal(t->root->stat.pzxid, 7);
    assert_int_equal(t->root->stat.numChildren, 3); /* /zookeeper, /a, /b */
    assert_non_null(tree_get(t, "/b"));
    assert_int_equal(tree_ephemerals(t, SESSION_B)->len, 1);
    check_consistent(t);

    /* a session without ephemerals: nothing happens */
    memset(&ev, 0, sizeof(ev));
    x.zxid = 8;
    assert_int_equal(apply(t, &x, &ev), ZOK);
    assert_string_equal(ev.text, "");
    assert_int_equal(tree_node_count(t), 6);
    assert_int_equal(t->last_zxid, 8);

    /* the last ephemeral of B goes with its delete, and so does B's set */
    x = tx(ZOP_DELETE, 9, "/b");
    assert_int_equal(apply(t, &x, NULL), ZOK);
    assert_null(tree_ephemerals(t, SESSION_B));
}

static void test_containers_and_ttl_tracked(void **state)
{
    struct ztree *t = *state;
    struct txn x = tx_create(1, "/c", NULL, ZK_CONTAINER_OWNER);
    x.type = ZOP_CREATECONTAINER;
    must_apply(t, x);
    x = tx_create(2, "/t", NULL, ZK_TTL_MARKER | 1000);
    x.type = ZOP_CREATETTL;
    x.ttl = 1000;
    must_apply(t, x);
    must_apply(t, tx_create(3, "/c/child", NULL, SESSION_A)); /* containers may have children */
    assert_int_equal(t->containers.len, 2);
    assert_ptr_equal(hmap_gets(&t->containers, "/c"), tree_get(t, "/c"));
    assert_ptr_equal(hmap_gets(&t->containers, "/t"), tree_get(t, "/t"));
    /* the markers stay in the node (snapshots and prep need them), not in any session */
    assert_int_equal(tree_get(t, "/c")->stat.ephemeralOwner, ZK_CONTAINER_OWNER);
    assert_int_equal(tree_get(t, "/t")->stat.ephemeralOwner, ZK_TTL_MARKER | 1000);
    assert_null(tree_ephemerals(t, ZK_CONTAINER_OWNER));
    assert_null(tree_ephemerals(t, ZK_TTL_MARKER | 1000));
    assert_int_equal(t->ephemerals.len, 1);
    check_consistent(t);

    x = tx(ZOP_DELETE, 4, "/c/child");
    must_apply(t, x);
    x = tx(ZOP_DELETECONTAINER, 5, "/c");
    must_apply(t, x);
    x = tx(ZOP_DELETE, 6, "/t");
    must_apply(t, x);
    assert_int_equal(t->containers.len, 0);
    assert_int_equal(t->ephemerals.len, 0);
}

/* ZooKeeper shows clients ephemeralOwner 0 for container and TTL nodes (DataNode.copyStat:
 * getClientEphemeralOwner is 0 unless EphemeralType.get says NORMAL), although the node
 * keeps its marker. */
static void test_client_stat_hides_container_and_ttl_markers(void **state)
{
    struct ztree *t = *state;
    struct txn x = tx_create(1, "/c", NULL, ZK_CONTAINER_OWNER);
    x.type = ZOP_CREATECONTAINER;
    struct txn_result res;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.stat.ephemeralOwner, 0); /* the create2-style answer */
    txn_result_free(&res);
    x = tx_create(2, "/t", NULL, ZK_TTL_MARKER | 1000);
    x.type = ZOP_CREATETTL;
    x.ttl = 1000;
    must_apply(t, x);
    must_apply(t, tx_create(3, "/e", NULL, SESSION_A));
    assert_int_equal(cstat(t, "/c").ephemeralOwner, 0);
    assert_int_equal(cstat(t, "/t").ephemeralOwner, 0);
    assert_int_equal(cstat(t, "/e").ephemeralOwner, SESSION_A);
}

/* ---------- multi ---------- */

static void test_multi(void **state)
{
    struct ztree *t = *state;
    struct txn subs[5] = {
        tx_create(20, "/m", "parent", 0), tx_create(20, "/m/c", NULL, 0), tx_set_data(20, "/m/c", "child", 1),
        tx(ZOP_CHECK, 20, "/m"),          tx(ZOP_DELETE, 20, "/m/c"),
    };
    subs[1].type = ZOP_CREATE2;
    struct txn x = tx(ZOP_MULTI, 20, NULL);
    x.subs = subs;
    x.nsubs = 5;
    struct evlog ev = {{0}};
    struct txn_result res;
    tree_apply(t, &x, &res, on_event, &ev);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.type, ZOP_MULTI);
    assert_int_equal(res.nsubs, 5);
    int types[5] = {ZOP_CREATE, ZOP_CREATE2, ZOP_SETDATA, ZOP_CHECK, ZOP_DELETE};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(res.subs[i].err, ZOK);
        assert_int_equal(res.subs[i].type, types[i]);
    }
    /* results keep the txn's path although a later op deleted the node */
    assert_string_equal(res.subs[1].path, "/m/c");
    assert_int_equal(res.subs[1].stat.czxid, 20);
    assert_int_equal(res.subs[2].stat.version, 1);
    assert_int_equal(res.subs[2].stat.dataLength, 5);
    txn_result_free(&res);
    assert_string_equal(ev.text, "created /m, child /, created /m/c, child /m, changed /m/c, deleted /m/c, child /m");
    assert_null(tree_get(t, "/m/c"));
    struct zk_stat st = cstat(t, "/m");
    check_stat(
        &st,
        (struct zk_stat){
            .czxid = 20, .mzxid = 20, .ctime = T0 + 20, .mtime = T0 + 20, .cversion = 2, .dataLength = 6, .pzxid = 20});
    assert_int_equal(t->last_zxid, 20);
}

/* A multi replayed over a tree it does not fit: as in DataTree.processTxn each sub-txn is
 * applied on its own, the failing ones report their code, the multi the first of them. */
static void test_multi_replay_partial(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(1, "/x", NULL, 0));
    struct txn subs[3] = {tx_create(2, "/y", NULL, 0), tx_create(2, "/x", "dup", 0), tx(ZOP_DELETE, 2, "/gone")};
    struct txn x = tx(ZOP_MULTI, 2, NULL);
    x.subs = subs;
    x.nsubs = 3;
    struct txn_result res;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZNODEEXISTS);
    assert_int_equal(res.nsubs, 3);
    assert_int_equal(res.subs[0].err, ZOK);
    assert_int_equal(res.subs[1].err, ZNODEEXISTS);
    assert_int_equal(res.subs[2].err, ZNONODE);
    txn_result_free(&res);
    assert_non_null(tree_get(t, "/y"));
    assert_int_equal(tree_get(t, "/x")->datalen, -1);
    check_consistent(t);

    /* an empty multi is fine, and a failed multi as prep emits it (all error sub-txns) */
    x.nsubs = 0;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZOK);
    assert_int_equal(res.nsubs, 0);
    txn_result_free(&res);
    struct txn errs[3] = {tx(ZOP_ERROR, 0, NULL), tx(ZOP_ERROR, 0, NULL), tx(ZOP_ERROR, 0, NULL)};
    errs[1].err = ZBADVERSION;
    errs[2].err = ZRUNTIMEINCONSISTENCY;
    x.subs = errs;
    x.nsubs = 3;
    tree_apply(t, &x, &res, NULL, NULL);
    assert_int_equal(res.err, ZBADVERSION);
    assert_int_equal(res.subs[0].err, ZOK);
    assert_int_equal(res.subs[2].err, ZRUNTIMEINCONSISTENCY);
    txn_result_free(&res);
}

/* ---------- txns that do not fit (replay) ---------- */

static void test_replay_errors_leave_tree_consistent(void **state)
{
    struct ztree *t = *state;
    must_apply(t, tx_create(1, "/a", "keep", 0));
    must_apply(t, tx_create(2, "/a/b", NULL, SESSION_A));
    struct zk_stat root_before = t->root->stat, a_before = tree_get(t, "/a")->stat;
    size_t count = tree_node_count(t);
    struct evlog ev = {{0}};

    struct txn x = tx_create(3, "/missing/c", NULL, 0);
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    x = tx_create(4, "/a", "other", SESSION_B);
    assert_int_equal(apply(t, &x, &ev), ZNODEEXISTS);
    x = tx(ZOP_DELETE, 5, "/a");
    assert_int_equal(apply(t, &x, &ev), ZNOTEMPTY);
    x = tx(ZOP_DELETE, 6, "/a/none");
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    x = tx(ZOP_DELETE, 7, "/");
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    x = tx_set_data(8, "/none", "x", 1);
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    x = tx(ZOP_SETACL, 9, "/none");
    x.acl = (struct zk_acl *)OPEN_ACL_UNSAFE;
    x.nacl = 1;
    assert_int_equal(apply(t, &x, &ev), ZNONODE);
    x = tx(42, 10, "/a"); /* not a txn type */
    assert_int_equal(apply(t, &x, &ev), ZUNIMPLEMENTED);

    assert_string_equal(ev.text, "");
    assert_int_equal(tree_node_count(t), count);
    assert_memory_equal(&t->root->stat, &root_before, sizeof(root_before));
    assert_memory_equal(&tree_get(t, "/a")->stat, &a_before, sizeof(a_before));
    assert_memory_equal(tree_get(t, "/a")->data, "keep", 4);
    assert_int_equal(tree_get(t, "/a")->stat.ephemeralOwner, 0);
    assert_int_equal(tree_ephemerals(t, SESSION_A)->len, 1);
    assert_null(tree_ephemerals(t, SESSION_B));
    assert_int_equal(t->last_zxid, 10); /* applied, if only as a failure */
    check_consistent(t);

    /* and the tree keeps working */
    must_apply(t, tx_create(11, "/a/c", NULL, 0));
    assert_int_equal(tree_get(t, "/a")->stat.numChildren, 2);
}

/* ---------- queries ---------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void test_children_and_descendants(void **state)
{
    struct ztree *t = *state;
    const char *paths[] = {"/a", "/a/x", "/a/y", "/a/y/1", "/a/y/2", "/a/z", "/b"};
    for (int i = 0; i < 7; i++)
        must_apply(t, tx_create(i + 1, paths[i], NULL, 0));

    const char **names;
    int32_t n = tree_children(tree_get(t, "/a"), &names);
    assert_int_equal(n, 3);
    qsort(names, (size_t)n, sizeof(*names), cmp_name); /* unordered, as getChildren is */
    assert_string_equal(names[0], "x");
    assert_string_equal(names[1], "y");
    assert_string_equal(names[2], "z");
    free(names);
    n = tree_children(t->root, &names);
    assert_int_equal(n, 3);
    qsort(names, (size_t)n, sizeof(*names), cmp_name);
    assert_string_equal(names[0], "a");
    assert_string_equal(names[1], "b");
    assert_string_equal(names[2], "zookeeper");
    free(names);
    assert_int_equal(tree_children(tree_get(t, "/a/x"), &names), 0);
    assert_null(names);

    assert_int_equal(tree_count_descendants(t, tree_get(t, "/a")), 5);
    assert_int_equal(tree_count_descendants(t, tree_get(t, "/a/y")), 2);
    assert_int_equal(tree_count_descendants(t, tree_get(t, "/a/y/1")), 0);
    assert_int_equal(tree_count_descendants(t, tree_get(t, "/b")), 0);
    assert_int_equal(tree_count_descendants(t, t->root), 3 + 7);
    assert_int_equal(tree_node_count(t), 4 + 7);

    struct txn x = tx(ZOP_DELETE, 8, "/a/y/2");
    must_apply(t, x);
    assert_int_equal(tree_count_descendants(t, tree_get(t, "/a")), 4);
    assert_int_equal(tree_count_descendants(t, t->root), 9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_initial_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_stats_and_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_parent_cversion, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create2_ttl_container_results, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_and_empty_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_data, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_acl, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_changes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ephemerals_and_close_session, setup, teardown),
        cmocka_unit_test_setup_teardown(test_containers_and_ttl_tracked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_stat_hides_container_and_ttl_markers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi, setup, teardown),
        cmocka_unit_test_setup_teardown(test_multi_replay_partial, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_errors_leave_tree_consistent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_children_and_descendants, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
