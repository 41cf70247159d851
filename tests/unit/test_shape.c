/* Unit tests for the mount's pure parts: fuse/shape.c (directory-or-file rule, create
 * suffixes, virtual names, errno mapping, modes from ACLs, inode numbers, the lock recipe's
 * predecessor) and fuse/inode.c (inode table: shapes, lookups and forgets, detach and move;
 * node cache: validity, children lists).
 *
 * The Makefile links unit tests with common/, zkfsd/ and replication/ only, so the modules
 * under test are compiled in here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <sys/stat.h>

#include "common/zerr.h"
#include "fuse/inode.c"
#include "fuse/shape.c"

static void test_shape_rule(void **state)
{
    (void)state;
    struct zk_stat st = {0};
    assert_true(shape_is_dir(&st, 0)); /* no data, no children */
    st.dataLength = -1;
    assert_true(shape_is_dir(&st, 0)); /* null data */
    st.dataLength = 3;
    assert_false(shape_is_dir(&st, 0)); /* data, no children: a file */
    st.numChildren = 1;
    assert_true(shape_is_dir(&st, 0)); /* children win */
    assert_true(shape_is_dir(&st, 1)); /* even for a node created as a file */
    st.numChildren = 0;
    st.dataLength = 0;
    assert_false(shape_is_dir(&st, 1)); /* an empty file this mount made stays a file */
}

static void test_suffixes(void **state)
{
    (void)state;
    char base[64];
    int mode;
    assert_int_equal(shape_parse_suffix("plain", base, sizeof(base), &mode), 0);
    assert_string_equal(base, "plain");
    assert_int_equal(mode, ZMODE_PERSISTENT);
    assert_int_equal(shape_parse_suffix("me.ephemeral", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "me");
    assert_int_equal(mode, ZMODE_EPHEMERAL);
    assert_int_equal(shape_parse_suffix("task-.sequential", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "task-");
    assert_int_equal(mode, ZMODE_PERSISTENT_SEQUENTIAL);
    assert_int_equal(shape_parse_suffix("n_.ephemeral.sequential", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "n_");
    assert_int_equal(mode, ZMODE_EPHEMERAL_SEQUENTIAL);
    assert_int_equal(shape_parse_suffix("n_.sequential.ephemeral", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "n_");
    assert_int_equal(mode, ZMODE_EPHEMERAL_SEQUENTIAL);
    /* each suffix once: a repeated one stays in the name */
    assert_int_equal(shape_parse_suffix("x.ephemeral.ephemeral", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "x.ephemeral");
    assert_int_equal(mode, ZMODE_EPHEMERAL);
    /* a sequential node may have an empty prefix; other modes need a name */
    assert_int_equal(shape_parse_suffix(".sequential", base, sizeof(base), &mode), 1);
    assert_string_equal(base, "");
    assert_int_equal(shape_parse_suffix(".ephemeral", base, sizeof(base), &mode), -1);
    /* only at the end */
    assert_int_equal(shape_parse_suffix("a.ephemeral.txt", base, sizeof(base), &mode), 0);
    assert_string_equal(base, "a.ephemeral.txt");
    /* too long for the buffer */
    assert_int_equal(shape_parse_suffix("abcdefgh", base, 4, &mode), -1);
}

static void test_virtual_names(void **state)
{
    (void)state;
    char t[64];
    assert_int_equal(shape_virtual(".data", t, sizeof(t)), SHAPE_VIRT_DATA);
    assert_int_equal(shape_virtual("deploy.lock", t, sizeof(t)), SHAPE_VIRT_LOCK);
    assert_string_equal(t, "deploy");
    assert_int_equal(shape_virtual(".lock", t, sizeof(t)), SHAPE_VIRT_NONE); /* no NAME */
    assert_int_equal(shape_virtual("a.lock.lock", t, sizeof(t)), SHAPE_VIRT_LOCK);
    assert_string_equal(t, "a.lock");
    assert_int_equal(shape_virtual("data", t, sizeof(t)), SHAPE_VIRT_NONE);
    assert_int_equal(shape_virtual("lock", t, sizeof(t)), SHAPE_VIRT_NONE);
    assert_int_equal(shape_virtual("x.data", t, sizeof(t)), SHAPE_VIRT_NONE);
    assert_int_equal(shape_virtual("abcdefgh.lock", t, 4), -1);
}

static void test_errno_map(void **state)
{
    (void)state;
    assert_int_equal(shape_errno(ZOK), 0);
    assert_int_equal(shape_errno(ZNONODE), ENOENT);
    assert_int_equal(shape_errno(ZNODEEXISTS), EEXIST);
    assert_int_equal(shape_errno(ZNOTEMPTY), ENOTEMPTY);
    assert_int_equal(shape_errno(ZNOAUTH), EACCES);
    assert_int_equal(shape_errno(ZBADVERSION), EAGAIN);
    assert_int_equal(shape_errno(ZNOCHILDRENFOREPHEMERALS), EPERM);
    assert_int_equal(shape_errno(ZBADARGUMENTS), EINVAL);
    assert_int_equal(shape_errno(ZCONNECTIONLOSS), EIO);
    assert_int_equal(shape_errno(ZSESSIONEXPIRED), EIO);
    assert_int_equal(shape_errno(ZOPERATIONTIMEOUT), ETIMEDOUT);
}

static void test_perm_bits(void **state)
{
    (void)state;
    struct zk_acl all = {.perms = ZPERM_ALL, .id = {"world", "anyone"}};
    struct zk_acl ro = {.perms = ZPERM_READ, .id = {"world", "anyone"}};
    struct zk_acl cr[2] = {{.perms = ZPERM_CREATE, .id = {"world", "anyone"}},
                           {.perms = ZPERM_ALL, .id = {"digest", "bob:xyz"}}};
    assert_int_equal(shape_perm_bits(&all, 1, 0), 0666);
    assert_int_equal(shape_perm_bits(&all, 1, 1), 0777);
    assert_int_equal(shape_perm_bits(&ro, 1, 0), 0444);
    assert_int_equal(shape_perm_bits(&ro, 1, 1), 0555);
    /* CREATE makes a directory writable, not a file; digest entries are not ours */
    assert_int_equal(shape_perm_bits(cr, 2, 1), 0222);
    assert_int_equal(shape_perm_bits(cr, 2, 0), 0);
    assert_int_equal(shape_perm_bits(NULL, -1, 1), 0555);
    assert_int_equal(shape_perm_bits(NULL, 0, 0), 0);
}

static void test_ino(void **state)
{
    (void)state;
    /* stable, and distinct for nodes that share a czxid (one multi) */
    assert_int_equal(shape_ino(5, "/a"), shape_ino(5, "/a"));
    assert_true(shape_ino(5, "/a") != shape_ino(5, "/b"));
    assert_true(shape_ino(5, "/a") != shape_ino(6, "/a"));
    for (int64_t z = 0; z < 1000; z++)
        assert_true(shape_ino(z, "/x") > 1);
}

static void test_lock_predecessor(void **state)
{
    (void)state;
    char *kids[] = {"aaaa__lock__0000000003", "bbbb__rlock__0000000001",
                    "cccc__lock__0000000000", "dddd__rlock__0000000004",
                    "lease_holder",           "eeee__lock__0000000006"};
    int32_t n = 6;
    /* the first writer holds it */
    assert_int_equal(shape_lock_predecessor(kids, n, "cccc__lock__0000000000", 0), -1);
    /* a writer waits for the latest earlier contender of either kind */
    assert_int_equal(shape_lock_predecessor(kids, n, "aaaa__lock__0000000003", 0), 1);
    assert_int_equal(shape_lock_predecessor(kids, n, "eeee__lock__0000000006", 0), 3);
    /* a reader waits for the latest earlier writer only */
    assert_int_equal(shape_lock_predecessor(kids, n, "bbbb__rlock__0000000001", 1), 2);
    assert_int_equal(shape_lock_predecessor(kids, n, "dddd__rlock__0000000004", 1), 0);
    /* absent */
    assert_int_equal(shape_lock_predecessor(kids, n, "ffff__lock__0000000009", 0), -2);
    /* readers alone share it */
    char *readers[] = {"a__rlock__0000000000", "b__rlock__0000000001"};
    assert_int_equal(shape_lock_predecessor(readers, 2, "b__rlock__0000000001", 1), -1);
    /* a counter past 2^31 shows negative and sorts before the positives */
    char *wrap[] = {"a__lock__0000000005", "b__lock__-0000000002"};
    assert_int_equal(shape_lock_predecessor(wrap, 2, "a__lock__0000000005", 0), 1);
}

static void test_child_path(void **state)
{
    (void)state;
    char out[16];
    assert_int_equal(shape_child_path("/", "a", out, sizeof(out)), 0);
    assert_string_equal(out, "/a");
    assert_int_equal(shape_child_path("/a", "b", out, sizeof(out)), 0);
    assert_string_equal(out, "/a/b");
    assert_int_equal(shape_child_path("/abcdefgh", "ijklmnop", out, sizeof(out)), -1);
}

static void test_inode_table(void **state)
{
    (void)state;
    struct itable t;
    assert_int_equal(itable_init(&t), 0);
    struct inode *root = itable_get(&t, 1);
    assert_non_null(root);
    assert_string_equal(root->path, "/");
    assert_ptr_equal(itable_find(&t, INODE_NODE, "/"), root);
    /* obtain is idempotent per (kind, path, shape) */
    struct inode *a = itable_obtain(&t, INODE_NODE, "/a", 1, 77);
    assert_non_null(a);
    assert_true(a->nodeid > 1);
    assert_ptr_equal(itable_obtain(&t, INODE_NODE, "/a", 1, 77), a);
    /* other kinds of the same path are other inodes */
    struct inode *ad = itable_obtain(&t, INODE_DATA, "/a", 0, 78);
    struct inode *al = itable_obtain(&t, INODE_LOCK, "/a", 0, 79);
    assert_true(ad != a && al != a && ad != al);
    /* a shape change makes a new nodeid; the old one stays reachable while referenced */
    a->nlookup = 2;
    uint64_t old = a->nodeid;
    struct inode *a2 = itable_obtain(&t, INODE_NODE, "/a", 0, 80);
    assert_true(a2->nodeid != old);
    assert_ptr_equal(itable_get(&t, old), a);
    assert_true(a->detached);
    assert_ptr_equal(itable_find(&t, INODE_NODE, "/a"), a2);
    itable_forget(&t, old, 1);
    assert_non_null(itable_get(&t, old));
    itable_forget(&t, old, 1);
    assert_null(itable_get(&t, old));
    /* open files keep a forgotten inode alive */
    a2->nlookup = 1;
    a2->nopen = 1;
    uint64_t id2 = a2->nodeid;
    itable_forget(&t, id2, 5);
    assert_non_null(itable_get(&t, id2));
    a2->nopen = 0;
    itable_maybe_free(&t, a2);
    assert_null(itable_get(&t, id2));
    assert_null(itable_find(&t, INODE_NODE, "/a"));
    /* move: the nodeid goes to the new path */
    struct inode *b = itable_obtain(&t, INODE_NODE, "/b", 0, 90);
    b->nlookup = 1;
    assert_int_equal(itable_move(&t, b, "/c"), 0);
    assert_ptr_equal(itable_find(&t, INODE_NODE, "/c"), b);
    assert_null(itable_find(&t, INODE_NODE, "/b"));
    assert_string_equal(b->path, "/c");
    /* detach_path: every kind goes */
    itable_detach_path(&t, "/a");
    assert_null(itable_find(&t, INODE_DATA, "/a"));
    assert_null(itable_find(&t, INODE_LOCK, "/a"));
    /* the root is never freed */
    itable_forget(&t, 1, 100);
    assert_non_null(itable_get(&t, 1));
    itable_free(&t);
}

static void test_node_cache(void **state)
{
    (void)state;
    struct itable t;
    assert_int_equal(itable_init(&t), 0);
    struct node *n = itable_node_make(&t, "/q");
    assert_non_null(n);
    assert_ptr_equal(itable_node(&t, "/q"), n);
    assert_int_equal(node_has_child(n, "x"), -1); /* unknown */
    char *names[] = {"a", "b", "c"};
    assert_int_equal(node_set_children(n, names, 3), 0);
    assert_int_equal(node_has_child(n, "b"), 1);
    assert_int_equal(node_has_child(n, "z"), 0);
    node_child_add(n, "z");
    node_child_add(n, "z"); /* once */
    assert_int_equal(n->nchildren, 4);
    node_child_del(n, "a");
    assert_int_equal(node_has_child(n, "a"), 0);
    assert_int_equal(n->nchildren, 3);
    assert_string_equal(n->children[0], "b");
    /* data */
    assert_int_equal(node_set_data(n, (const uint8_t *)"hey", 3), 0);
    assert_true(n->have_data);
    assert_memory_equal(n->data, "hey", 3);
    /* a newer Stat drops data of an older version, and the children when pzxid moved */
    struct zk_stat s1 = {.czxid = 1, .mzxid = 2, .pzxid = 3};
    node_set_stat(n, &s1);
    assert_int_equal(node_set_data(n, (const uint8_t *)"v1", 2), 0);
    assert_int_equal(node_set_children(n, names, 3), 0);
    struct zk_stat s2 = s1;
    s2.mzxid = 9;
    node_set_stat(n, &s2);
    assert_false(n->have_data);
    assert_true(n->have_children);
    s2.pzxid = 10;
    node_set_stat(n, &s2);
    assert_false(n->have_children);
    /* invalidate_all keeps the entries, drops what they knew */
    node_set_data(n, (const uint8_t *)"x", 1);
    itable_invalidate_all(&t);
    assert_false(n->have_stat || n->have_data || n->have_children);
    itable_node_drop(&t, "/q");
    assert_null(itable_node(&t, "/q"));
    itable_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shape_rule),       cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_virtual_names),    cmocka_unit_test(test_errno_map),
        cmocka_unit_test(test_perm_bits),        cmocka_unit_test(test_ino),
        cmocka_unit_test(test_lock_predecessor), cmocka_unit_test(test_child_path),
        cmocka_unit_test(test_inode_table),      cmocka_unit_test(test_node_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
