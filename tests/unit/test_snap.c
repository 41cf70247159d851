/* Unit tests of snapshots and of recovery as a whole (snapshot + log replay). A tree of
 * hundreds of znodes (ephemerals of several sessions, containers, TTL and sequential nodes,
 * ACLs, null and empty data, a deep chain, the system nodes changed) is built with prep and
 * tree_apply as the server builds it; a snapshot of it loads into a fresh tree equal node by
 * node (path, data, ACL, internal and client Stat, children, ephemeral and container indexes)
 * with the live sessions. Damaged newest snapshots fall back to an older valid one, none
 * valid is an error, retention keeps the newest N and only the logs they do not need. The
 * bytes a leader sends (SNAP sync) are the file's very bytes and load as the tree; saved, they
 * are a snapshot like any other and the newer ones go; truncated, damaged or forged bytes are
 * refused without crashing, reading past them or allocating what their lengths claim. Last,
 * a random workload is logged while forked snapshots are taken, and recovery (newest valid
 * snapshot + replay after its zxid) rebuilds the same tree; replaying txns the snapshot
 * already holds is detected by tree_apply and leaves the same tree. Every test works in its
 * own mkdtemp directory, removed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/zerr.h"
#include "zkfsd/acl.h"
#include "zkfsd/crc32c.h"
#include "zkfsd/prep.h"
#include "zkfsd/session.h"
#include "zkfsd/snap.h"
#include "zkfsd/tree.h"
#include "zkfsd/txn.h"
#include "zkfsd/wal.h"

/* In the sanitizer build undefined behaviour stops the run instead of scrolling past. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

#define T0 1700000000000LL
#define TICK 100
#define NOW_MONO 5000 /* the monotonic clock at recovery */
#define S1 0x0100000000000001LL
#define S2 0x0100000000000002LL
#define S3 0x0100000000000003LL
#define S4 0x0100000000000004LL
#define ALICE "alice:4FyxLkaQXUEZdqwnR8oPdtgjFFo="

// clang-format off
#define ACL(p, s, i) {(p), {(char *)(s), (char *)(i)}}
// clang-format on
static struct zk_acl alice_acl[2] = {ACL(ZPERM_ALL, "digest", ALICE), ACL(ZPERM_READ, "world", "anyone")};
static struct zk_acl ip_acl[2] = {ACL(ZPERM_READ, "ip", "10.0.0.0/8"), ACL(ZPERM_ALL, "digest", ALICE)};
static struct zk_acl root_acl[2] = {ACL(ZPERM_ALL, "world", "anyone"), ACL(ZPERM_ADMIN, "digest", ALICE)};

/* ---------- directories and captured stderr ---------- */

struct fx {
    char dir[64];
    char snapdir[96], logdir[96];
};

/* The stderr of the code under test, captured to check its warnings. A failed assertion
 * leaves the capture open: teardown then restores stderr and shows what was captured. */
static int saved_stderr = -1;
static FILE *capture_file;

static void capture_begin(void)
{
    assert_int_equal(saved_stderr, -1);
    fflush(stderr);
    if (!capture_file)
        capture_file = tmpfile();
    assert_non_null(capture_file);
    assert_int_equal(ftruncate(fileno(capture_file), 0), 0);
    assert_int_equal(lseek(fileno(capture_file), 0, SEEK_SET), 0);
    saved_stderr = dup(2);
    assert_true(saved_stderr >= 0);
    assert_true(dup2(fileno(capture_file), 2) == 2);
}

/* Ends the capture; returns what was written (malloc'd, NUL-terminated). */
static char *capture_end(void)
{
    if (saved_stderr < 0)
        return NULL;
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    saved_stderr = -1;
    long n = lseek(fileno(capture_file), 0, SEEK_END);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (s && n > 0 && pread(fileno(capture_file), s, (size_t)n, 0) != n)
        s[0] = 0;
    return s;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    if (!f)
        return -1;
    strcpy(f->dir, "/tmp/zkfs-test-snap-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
    snprintf(f->snapdir, sizeof(f->snapdir), "%s/snap", f->dir);
    snprintf(f->logdir, sizeof(f->logdir), "%s/log", f->dir);
    if (mkdir(f->snapdir, 0755) < 0 || mkdir(f->logdir, 0755) < 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    char *left = capture_end();
    if (left && *left)
        fprintf(stderr, "---- captured stderr of the failed test ----\n%s----\n", left);
    free(left);
    nftw(f->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static uint8_t *read_all(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    uint8_t *p = malloc((size_t)st.st_size + 1);
    assert_non_null(p);
    assert_int_equal(pread(fd, p, (size_t)st.st_size, 0), st.st_size);
    close(fd);
    *len = (size_t)st.st_size;
    return p;
}

static void write_all_to(const char *path, const void *p, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void snap_name(char *out, size_t n, const char *dir, int64_t zxid)
{
    snprintf(out, n, "%s/snapshot.%" PRIx64, dir, (uint64_t)zxid);
}

/* ---------- comparing trees and session tables ---------- */

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The first of the eleven Stat fields that differs, or NULL. */
static const char *stat_diff(const struct zk_stat *a, const struct zk_stat *b)
{
#define SAME(f)        \
    if (a->f != b->f)  \
        return #f;
    SAME(czxid) SAME(mzxid) SAME(ctime) SAME(mtime) SAME(version) SAME(cversion) SAME(aversion)
    SAME(ephemeralOwner) SAME(dataLength) SAME(numChildren) SAME(pzxid)
#undef SAME
    return NULL;
}

/* Same entries in the same order (the sets come from different caches: compare contents). */
static int acl_equal(const struct zk_acl_set *a, const struct zk_acl_set *b)
{
    if (a->n != b->n)
        return 0;
    for (int32_t i = 0; i < a->n; i++)
        if (a->v[i].perms != b->v[i].perms || !str_eq(a->v[i].id.scheme, b->v[i].id.scheme) ||
            !str_eq(a->v[i].id.id, b->v[i].id.id))
            return 0;
    return 1;
}

/* Is every key of a in b (both maps of borrowed paths)? */
static int keys_within(const struct hmap *a, const struct hmap *b)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(a, &i, &s);)
        if (!hmap_get(b, s->key, s->klen))
            return 0;
    return 1;
}

/* 0 when a and b are equal node by node (path, data, ACL, the internal Stat and the Stat
 * clients see, parent and children) and in their indexes (ephemerals by session, containers
 * and TTL nodes, last zxid, size); else -1 with the first difference in why. */
static int tree_diff(const struct ztree *a, const struct ztree *b, char *why, size_t n)
{
    if (tree_node_count(a) != tree_node_count(b))
        return snprintf(why, n, "%zu znodes vs %zu", tree_node_count(a), tree_node_count(b)), -1;
    if (a->last_zxid != b->last_zxid)
        return snprintf(why, n, "last zxid 0x%" PRIx64 " vs 0x%" PRIx64, (uint64_t)a->last_zxid,
                        (uint64_t)b->last_zxid),
               -1;
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&a->nodes, &i, &s);) {
        const struct znode *x = s->val, *y = tree_get(b, x->path);
        const char *d;
        if (!y)
            return snprintf(why, n, "%s is missing", x->path), -1;
        if (x->datalen != y->datalen)
            return snprintf(why, n, "%s: datalen %d vs %d", x->path, x->datalen, y->datalen), -1;
        if (x->datalen > 0 && memcmp(x->data, y->data, (size_t)x->datalen) != 0)
            return snprintf(why, n, "%s: data differs", x->path), -1;
        if (!acl_equal(x->acl, y->acl))
            return snprintf(why, n, "%s: ACL differs", x->path), -1;
        if ((d = stat_diff(&x->stat, &y->stat)))
            return snprintf(why, n, "%s: internal stat %s differs", x->path, d), -1;
        struct zk_stat cx, cy;
        tree_client_stat(x, &cx);
        tree_client_stat(y, &cy);
        if ((d = stat_diff(&cx, &cy)))
            return snprintf(why, n, "%s: client stat %s differs", x->path, d), -1;
        if ((x->parent == NULL) != (y->parent == NULL) || (x->parent && strcmp(x->parent->path, y->parent->path)))
            return snprintf(why, n, "%s: parent differs", x->path), -1;
        if (x->children.len != y->children.len || !keys_within(&x->children, &y->children))
            return snprintf(why, n, "%s: children differ", x->path), -1;
    }
    if (a->ephemerals.len != b->ephemerals.len)
        return snprintf(why, n, "ephemerals of %zu sessions vs %zu", a->ephemerals.len, b->ephemerals.len), -1;
    for (size_t i = 0; hmap_next(&a->ephemerals, &i, &s);) {
        const struct hmap *ea = s->val, *eb = hmap_get(&b->ephemerals, s->key, s->klen);
        if (!eb || ea->len != eb->len || !keys_within(ea, eb))
            return snprintf(why, n, "the ephemerals of a session differ"), -1;
    }
    if (a->containers.len != b->containers.len || !keys_within(&a->containers, &b->containers))
        return snprintf(why, n, "containers and TTL nodes differ"), -1;
    if (a->data_bytes != b->data_bytes)
        return snprintf(why, n, "data_bytes %" PRId64 " vs %" PRId64, a->data_bytes, b->data_bytes), -1;
    return 0;
}

static void assert_trees_equal(const struct ztree *a, const struct ztree *b, const char *what)
{
    char why[512];
    if (tree_diff(a, b, why, sizeof(why)) != 0)
        fail_msg("%s: %s", what, why);
}

struct sess_list {
    int n;
    struct {
        int64_t id;
        int32_t timeout;
        int closing;
    } v[64];
};

static void collect_session(void *ctx, const struct zk_session *s)
{
    struct sess_list *l = ctx;
    assert_true(l->n < 64);
    l->v[l->n].id = s->id;
    l->v[l->n].timeout = s->timeout_ms;
    l->v[l->n].closing = s->closing;
    l->n++;
}

/* b holds exactly a's sessions with their timeouts, none closing, each with a full timeout
 * from NOW_MONO. A closing session counts: ZooKeeper's snapshot holds every session until its
 * closeSession txn is applied (ZKDatabase.sessionsWithTimeouts), since until then the txn may
 * still be lost with a crash, and the session must then expire again after recovery. */
static void assert_sessions_restored(const struct sess_table *a, const struct sess_table *b)
{
    struct sess_list la = {0}, lb = {0};
    sess_foreach(a, collect_session, &la);
    sess_foreach(b, collect_session, &lb);
    for (int i = 0; i < la.n; i++) {
        const struct zk_session *s = sess_get(b, la.v[i].id);
        if (!s)
            fail_msg("session 0x%" PRIx64 " was not restored", (uint64_t)la.v[i].id);
        assert_int_equal(s->timeout_ms, la.v[i].timeout);
        assert_false(s->closing);
        assert_true(s->expire_at >= NOW_MONO + s->timeout_ms && s->expire_at <= NOW_MONO + s->timeout_ms + TICK);
    }
    assert_int_equal(lb.n, la.n);
}

/* ---------- building trees the way the server does ---------- */

/* A server's state without the network: tree, prep, sessions, and optionally a log that
 * every txn goes to before it is applied. */
struct world {
    struct ztree t;
    struct prep p;
    struct sess_table *s;
    struct zk_auth auth; /* alice: every ACL used here lets her do anything */
    int64_t upto;        /* txns past this zxid are not made (INT64_MAX: all) */
    int32_t cxid;
    struct wal *wal;
    int64_t appended; /* the last zxid given to the log */
};

static void world_init(struct world *w, int64_t upto)
{
    memset(w, 0, sizeof(*w));
    assert_int_equal(tree_init(&w->t), 0);
    prep_init(&w->p, &w->t);
    w->p.ttl_enabled = 1;
    w->s = sess_new(TICK, 1, T0);
    assert_non_null(w->s);
    acl_auth_init(&w->auth);
    assert_int_equal(acl_auth_add_id(&w->auth, "digest", ALICE), ZOK);
    w->upto = upto;
}

static void world_free(struct world *w)
{
    prep_destroy(&w->p);
    tree_destroy(&w->t);
    sess_free(w->s);
    acl_auth_free(&w->auth);
}

/* The session table's share of a txn, as the server applies it. */
static void apply_sessions(struct sess_table *s, const struct txn *x)
{
    if (x->type == ZOP_CREATESESSION && !sess_get(s, x->session))
        assert_int_equal(sess_add(s, x->session, x->timeout, NOW_MONO), ZOK);
    else if (x->type == ZOP_CLOSESESSION)
        sess_remove(s, x->session);
}

/* Logs (when there is a log) and applies a prepared txn, which must fit the tree. */
static void commit(struct world *w, struct txn *x)
{
    if (w->wal) {
        wal_append(w->wal, x);
        w->appended = x->zxid;
    }
    struct txn_result res;
    tree_apply(&w->t, x, &res, NULL, NULL);
    if (res.err)
        fail_msg("txn 0x%" PRIx64 " (%s %s) did not apply: %s", (uint64_t)x->zxid, zop_name(x->type),
                 x->path ? x->path : "", zerr_name(res.err));
    txn_result_free(&res);
    apply_sessions(w->s, x);
    prep_applied(&w->p, x->zxid);
    txn_free(x);
}

static int done(const struct world *w)
{
    return w->p.last_zxid >= w->upto;
}

/* Prepares q for session and commits it; returns prep's answer (a failed multi is ZOK with
 * nothing committed). Past w->upto nothing is done. */
static int submit(struct world *w, int64_t session, const struct zk_request *q)
{
    if (done(w))
        return ZOK;
    struct prep_ctx ctx = {.session = session, .cxid = ++w->cxid, .now = T0 + 10 * w->p.last_zxid, .auth = &w->auth};
    struct txn x;
    int rc = prep_request(&w->p, q, &ctx, &x);
    if (rc)
        return rc;
    if (!x.zxid) { /* a failed multi: nothing to log or apply */
        txn_free(&x);
        return ZOK;
    }
    commit(w, &x);
    return ZOK;
}

static void open_session(struct world *w, int64_t id, int32_t timeout)
{
    if (done(w))
        return;
    struct txn x;
    assert_int_equal(prep_create_session(&w->p, id, timeout, T0 + 10 * w->p.last_zxid, &x), ZOK);
    commit(w, &x);
}

static void close_session(struct world *w, int64_t id)
{
    if (done(w))
        return;
    struct txn x;
    assert_int_equal(prep_close_session(&w->p, id, T0 + 10 * w->p.last_zxid, &x), ZOK);
    commit(w, &x);
}

static struct zk_request request(int32_t type, const char *path)
{
    return (struct zk_request){.type = type,
                               .path = (char *)path,
                               .pathlen = (int32_t)strlen(path),
                               .datalen = -1,
                               .version = -1,
                               .acl = (struct zk_acl *)OPEN_ACL_UNSAFE,
                               .nacl = ZK_IDS_ACL_LEN};
}

/* A create with data (NULL: null data; "" empty), an ACL (NULL: open) and a mode. */
static void must_create(struct world *w, int64_t session, const char *path, const char *data, struct zk_acl *acl,
                        int32_t nacl, int32_t mode)
{
    struct zk_request q = request(ZOP_CREATE, path);
    q.flags = mode;
    if (data) {
        q.data = (const uint8_t *)data;
        q.datalen = (int32_t)strlen(data);
    }
    if (acl) {
        q.acl = acl;
        q.nacl = nacl;
    }
    if (mode == ZMODE_PERSISTENT_WITH_TTL || mode == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL) {
        q.type = ZOP_CREATETTL;
        q.ttl = 5000;
    }
    int rc = submit(w, session, &q);
    if (rc)
        fail_msg("create %s: %s", path, zerr_name(rc));
}

static void must(struct world *w, int64_t session, struct zk_request q)
{
    int rc = submit(w, session, &q);
    if (rc)
        fail_msg("%s %s: %s", zop_name(q.type), q.path ? q.path : "", zerr_name(rc));
}

static struct zk_request set_data(const char *path, const char *data)
{
    struct zk_request q = request(ZOP_SETDATA, path);
    if (data) {
        q.data = (const uint8_t *)data;
        q.datalen = (int32_t)strlen(data);
    }
    return q;
}

/* The tree of the snapshot tests, the same every time; stops after w->upto. Sessions S1, S2
 * and S4 stay with their ephemerals, S3 is closed (its ephemerals go). */
static void build(struct world *w)
{
    char path[512], data[128];
    open_session(w, S1, 4000);
    open_session(w, S2, 6000);
    open_session(w, S3, 8000);
    open_session(w, S4, 10000);
    must_create(w, S1, "/app", "app", NULL, 0, ZMODE_PERSISTENT);
    must_create(w, S1, "/app/cfg", NULL, NULL, 0, ZMODE_PERSISTENT);
    must_create(w, S1, "/app/empty", "", NULL, 0, ZMODE_PERSISTENT);
    must_create(w, S1, "/secure", "s", alice_acl, 2, ZMODE_PERSISTENT);
    must_create(w, S1, "/secure/mine", "m", (struct zk_acl *)CREATOR_ALL_ACL, 1, ZMODE_PERSISTENT);
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/app/n%03d", i);
        int len = (i * 3) % 97;
        for (int k = 0; k < len; k++)
            data[k] = (char)('a' + (i + k) % 26);
        data[len] = 0;
        struct zk_acl *acl = i % 3 == 0 ? NULL : i % 3 == 1 ? alice_acl : ip_acl;
        must_create(w, S2, path, i % 7 == 0 ? NULL : i % 7 == 1 ? "" : data, acl, 2, ZMODE_PERSISTENT);
    }
    /* a chain 60 deep */
    strcpy(path, "/deep");
    must_create(w, S1, path, "0", NULL, 0, ZMODE_PERSISTENT);
    for (int d = 0; d < 60; d++) {
        size_t l = strlen(path);
        snprintf(path + l, sizeof(path) - l, "/d%d", d);
        must_create(w, S1, path, d % 2 ? "x" : NULL, NULL, 0, ZMODE_PERSISTENT);
    }
    must_create(w, S1, "/eph", NULL, NULL, 0, ZMODE_PERSISTENT);
    const int64_t owners[] = {S1, S2, S3, S4};
    const int counts[] = {15, 15, 5, 3};
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < counts[o]; i++) {
            snprintf(path, sizeof(path), "/eph/s%d-%02d", o + 1, i);
            must_create(w, owners[o], path, i % 2 ? "e" : "", NULL, 0, ZMODE_EPHEMERAL);
        }
    for (int i = 0; i < 5; i++)
        must_create(w, S1, "/app/lock-", "l", NULL, 0, ZMODE_EPHEMERAL_SEQUENTIAL);
    must_create(w, S1, "/seq", NULL, NULL, 0, ZMODE_PERSISTENT);
    for (int i = 0; i < 20; i++)
        must_create(w, S2, "/seq/q-", i % 2 ? "q" : NULL, NULL, 0, ZMODE_PERSISTENT_SEQUENTIAL);
    must_create(w, S1, "/cont", NULL, NULL, 0, ZMODE_CONTAINER);
    must_create(w, S1, "/cont/c1", "c", NULL, 0, ZMODE_PERSISTENT);
    must_create(w, S1, "/ttl1", "t", NULL, 0, ZMODE_PERSISTENT_WITH_TTL);
    must_create(w, S1, "/ttlseq-", NULL, NULL, 0, ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL);
    /* versions, data changes to null and empty, ACL versions */
    for (int i = 0; i < 50; i++) {
        snprintf(path, sizeof(path), "/app/n%03d", i);
        for (int r = 0; r <= i % 4; r++) {
            snprintf(data, sizeof(data), "v%d-%d", i, r);
            must(w, S2, set_data(path, r == 2 ? NULL : r == 3 ? "" : data));
        }
    }
    for (int i = 50; i < 60; i++) {
        snprintf(path, sizeof(path), "/app/n%03d", i);
        struct zk_request q = request(ZOP_SETACL, path);
        q.acl = i % 2 ? ip_acl : alice_acl;
        q.nacl = 2;
        must(w, S2, q);
        if (i % 3 == 0)
            must(w, S2, q);
    }
    /* the system nodes change too: a snapshot must overwrite them on load */
    struct zk_request q = request(ZOP_SETACL, "/");
    q.acl = root_acl;
    q.nacl = 2;
    must(w, S1, q);
    must(w, S1, set_data("/zookeeper", "zk-data"));
    must(w, S1, set_data("/zookeeper/quota", ""));
    /* deletes: cversion and numChildren part ways */
    for (int i = 100; i < 120; i++) {
        snprintf(path, sizeof(path), "/app/n%03d", i);
        must(w, S2, request(ZOP_DELETE, path));
    }
    for (int i = 0; i < 20; i += 3) {
        snprintf(path, sizeof(path), "/seq/q-%010d", i);
        must(w, S2, request(ZOP_DELETE, path));
    }
    /* a multi */
    struct zk_request ops[5] = {request(ZOP_CREATE, "/multi"), request(ZOP_CREATE, "/multi/a"),
                                set_data("/app/n001", "multi"), request(ZOP_DELETE, "/app/n120"),
                                request(ZOP_CHECK, "/app/n002")};
    struct zk_request m = {.type = ZOP_MULTI, .ops = ops, .nops = 5};
    must(w, S1, m);
    close_session(w, S3);
}

/* ---------- snapshots ---------- */

static void load_into(const char *dir, struct ztree *t, struct sess_table **s, int64_t *zxid, int *rc, char *err,
                      size_t errlen)
{
    assert_int_equal(tree_init(t), 0);
    *s = sess_new(TICK, 1, T0);
    assert_non_null(*s);
    err[0] = 0;
    *rc = snap_load_latest(dir, t, *s, NOW_MONO, zxid, err, errlen);
}

static void test_snapshot_roundtrip(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    build(&a);
    assert_true(tree_node_count(&a.t) > 300);
    assert_true(tree_ephemerals(&a.t, S1) && tree_ephemerals(&a.t, S2) && tree_ephemerals(&a.t, S4));
    assert_null(tree_ephemerals(&a.t, S3));
    char err[512] = "", path[256];
    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0 + 777, err, sizeof(err)), 0);
    snap_name(path, sizeof(path), f->snapdir, a.t.last_zxid);
    assert_true(exists(path));
    strcat(path, ".tmp");
    assert_false(exists(path)); /* renamed into place */

    struct ztree b;
    struct sess_table *sb;
    int64_t zxid = -1;
    int rc;
    capture_begin();
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    char *out = capture_end();
    if (rc)
        fail_msg("snap_load_latest: %s", err);
    assert_null(strstr(out, "WARN"));
    free(out);
    assert_int_equal(zxid, a.t.last_zxid);
    assert_trees_equal(&a.t, &b, "loaded snapshot");
    assert_sessions_restored(a.s, sb);
    assert_null(sess_get(sb, S3)); /* closed by a txn */
    assert_int_equal(sess_count(sb), 3);
    /* spot checks of what the comparison covers */
    assert_int_equal(tree_get(&b, "/app/cfg")->datalen, -1);
    assert_int_equal(tree_get(&b, "/app/empty")->datalen, 0);
    assert_int_equal(tree_get(&b, "/")->acl->n, 2);
    assert_int_equal(tree_get(&b, "/zookeeper")->datalen, 7);
    assert_int_equal(tree_ephemerals(&b, S1)->len, 20);
    assert_int_equal(tree_ephemerals(&b, S4)->len, 3);
    assert_int_equal(b.containers.len, 3);
    assert_int_equal(tree_get(&b, "/deep/d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/"
                                  "d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/d31/d32/d33/d34/d35/d36/d37/d38/d39/d40/"
                                  "d41/d42/d43/d44/d45/d46/d47/d48/d49/d50/d51/d52/d53/d54/d55/d56/d57/d58/d59")
                         ->datalen,
                     1);

    /* the dump: one line per session and per znode, then the zxid and time */
    char *text = NULL;
    size_t tlen = 0;
    FILE *dump = open_memstream(&text, &tlen);
    snap_name(path, sizeof(path), f->snapdir, a.t.last_zxid);
    assert_int_equal(snap_dump(path, dump), 0);
    fclose(dump);
    size_t nodes = 0, sessions = 0;
    for (char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        nodes += *l == '/';
        sessions += !strncmp(l, "session 0x", 10);
    }
    assert_int_equal(nodes, tree_node_count(&a.t));
    assert_int_equal(sessions, 3);
    char want[128];
    snprintf(want, sizeof(want), "zxid=0x%" PRIx64 " taken at %" PRId64 "\n", (uint64_t)a.t.last_zxid, (int64_t)(T0 + 777));
    assert_non_null(strstr(text, want));
    assert_non_null(strstr(text, "\n/app/n051 "));
    free(text);

    tree_destroy(&b);
    sess_free(sb);
    world_free(&a);
}

/* A session marked closing stays in the snapshot: the server marks it when it prepares the
 * close (expiry or the client's closeSession), and a snapshot forked before that txn is
 * durable, followed by a crash that loses the txn, must still restore the session so that its
 * ephemerals expire after recovery (ZooKeeper keeps every session until its close is
 * applied). */
static void test_snapshot_keeps_closing_sessions(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    build(&a);
    struct txn x; /* the close is prepared (and would be queued to the log) ... */
    assert_int_equal(prep_close_session(&a.p, S4, T0, &x), ZOK);
    assert_int_equal(sess_set_closing(a.s, S4), ZOK);
    char err[512];
    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
    txn_free(&x); /* ... and lost with a crash before it was durable */
    struct ztree b;
    struct sess_table *sb;
    int64_t zxid;
    int rc;
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(tree_ephemerals(&b, S4)->len, 3);
    int restored = sess_get(sb, S4) != NULL;
    if (restored)
        assert_sessions_restored(a.s, sb);
    tree_destroy(&b);
    sess_free(sb);
    world_free(&a);
    if (!restored)
        fail_msg("closing session 0x%" PRIx64 " is not in the snapshot: after a crash its 3 ephemerals "
                 "have no session that could ever expire them",
                 (uint64_t)S4);
}

/* The initial tree alone (zxid 0) makes a snapshot that loads as itself. */
static void test_snapshot_of_initial_tree(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    char err[512] = "";
    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
    struct ztree b;
    struct sess_table *sb;
    int64_t zxid = -1;
    int rc;
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(zxid, 0);
    assert_trees_equal(&a.t, &b, "initial tree");
    assert_int_equal(sess_count(sb), 0);
    tree_destroy(&b);
    sess_free(sb);
    world_free(&a);
}

/* No snapshot at all: a fresh start, zxid 0, the tree untouched. */
static void test_no_snapshot(void **state)
{
    struct fx *f = *state;
    struct ztree b, init;
    struct sess_table *sb;
    int64_t zxid = -1;
    int rc;
    char err[512];
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    assert_int_equal(rc, 0);
    assert_int_equal(zxid, 0);
    assert_int_equal(tree_init(&init), 0);
    assert_trees_equal(&init, &b, "no snapshot");
    tree_destroy(&init);
    tree_destroy(&b);
    sess_free(sb);
}

/* A damaged newest snapshot (any byte flipped, cut short) is skipped with a warning naming it,
 * and the older valid one is loaded; with every snapshot damaged loading fails and says so. */
static void test_damaged_snapshot_falls_back(void **state)
{
    struct fx *f = *state;
    const int64_t z1 = 200;
    struct world old, full;
    world_init(&old, z1);
    build(&old);
    world_init(&full, INT64_MAX);
    build(&full);
    assert_int_equal(old.t.last_zxid, z1);
    assert_true(full.t.last_zxid > z1);
    char err[512], older[256], newest[256];
    assert_int_equal(snap_write(f->snapdir, &old.t, old.s, T0 + 1, err, sizeof(err)), 0);
    assert_int_equal(snap_write(f->snapdir, &full.t, full.s, T0 + 2, err, sizeof(err)), 0);
    snap_name(older, sizeof(older), f->snapdir, z1);
    snap_name(newest, sizeof(newest), f->snapdir, full.t.last_zxid);
    size_t len, olen;
    uint8_t *img = read_all(newest, &len);
    uint8_t *oimg = read_all(older, &olen);

    /* flipped bytes all over: the header, the sessions, the nodes, the trailer and its CRC */
    size_t offs[64];
    int n = 0;
    for (size_t o = 0; o < 40; o += 3)
        offs[n++] = o;
    for (size_t o = 40; o < len - 8 && n < 56; o += len / 40)
        offs[n++] = o;
    for (size_t o = len - 8; o < len; o++)
        offs[n++] = o;
    for (int i = 0; i <= n; i++) {
        uint8_t *p = malloc(len);
        memcpy(p, img, len);
        size_t plen = len;
        if (i < n)
            p[offs[i]] ^= 0x10;
        else
            plen = len / 2; /* cut short */
        write_all_to(newest, p, plen);
        free(p);
        struct ztree b;
        struct sess_table *sb;
        int64_t zxid = -1;
        int rc;
        capture_begin();
        load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
        char *out = capture_end();
        if (rc)
            fail_msg("damage at %zu: no fallback: %s", i < n ? offs[i] : plen, err);
        assert_int_equal(zxid, z1);
        assert_non_null(strstr(out, "WARN"));
        assert_non_null(strstr(out, newest));
        free(out);
        assert_trees_equal(&old.t, &b, "fallback snapshot");
        assert_sessions_restored(old.s, sb);
        tree_destroy(&b);
        sess_free(sb);
    }

    /* a leftover temp file of an unfinished newer snapshot is not a snapshot: no warning */
    write_all_to(newest, img, len);
    char tmp[300];
    snap_name(tmp, sizeof(tmp), f->snapdir, full.t.last_zxid + 100);
    strcat(tmp, ".tmp");
    write_all_to(tmp, img, len / 3);
    {
        struct ztree b;
        struct sess_table *sb;
        int64_t zxid = -1;
        int rc;
        capture_begin();
        load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
        char *out = capture_end();
        assert_int_equal(rc, 0);
        assert_int_equal(zxid, full.t.last_zxid);
        assert_null(strstr(out, "WARN"));
        free(out);
        assert_trees_equal(&full.t, &b, "newest snapshot");
        tree_destroy(&b);
        sess_free(sb);
    }

    /* every snapshot damaged: -1 and a message; the tree stays as tree_init made it */
    img[len / 2] ^= 1;
    write_all_to(newest, img, len);
    oimg[olen / 3] ^= 1;
    write_all_to(older, oimg, olen);
    {
        struct ztree b, init;
        struct sess_table *sb;
        int64_t zxid = -1;
        int rc;
        capture_begin();
        load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
        char *out = capture_end();
        assert_int_equal(rc, -1);
        assert_non_null(strstr(err, "no valid snapshot"));
        assert_non_null(strstr(out, older));
        assert_non_null(strstr(out, newest));
        free(out);
        assert_int_equal(tree_init(&init), 0);
        assert_trees_equal(&init, &b, "nothing loaded");
        assert_int_equal(sess_count(sb), 0);
        tree_destroy(&init);
        tree_destroy(&b);
        sess_free(sb);
    }
    free(img);
    free(oimg);
    world_free(&old);
    world_free(&full);
}

/* A snapshot whose checksum verifies but whose content does not parse (here: one node more
 * announced than written, the CRC recomputed) is an error, not a fallback: the tree may be
 * half loaded by then. */
static void test_snapshot_that_does_not_parse(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, 50);
    build(&a);
    char err[512], path[256];
    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
    snap_name(path, sizeof(path), f->snapdir, a.t.last_zxid);
    size_t len;
    uint8_t *img = read_all(path, &len);
    /* header: "ZKSN", version, zxid, time, session count, sessions (12 bytes each), node count */
    int32_t ns = (int32_t)((uint32_t)img[24] << 24 | (uint32_t)img[25] << 16 | (uint32_t)img[26] << 8 | img[27]);
    assert_int_equal(ns, sess_count(a.s));
    size_t at = 28 + 12 * (size_t)ns + 7; /* the node count's low byte */
    img[at]++;
    uint32_t crc = crc32c(0, img, len - 4);
    img[len - 4] = (uint8_t)(crc >> 24), img[len - 3] = (uint8_t)(crc >> 16);
    img[len - 2] = (uint8_t)(crc >> 8), img[len - 1] = (uint8_t)crc;
    write_all_to(path, img, len);
    struct ztree b;
    struct sess_table *sb;
    int64_t zxid;
    int rc;
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "does not parse"));
    tree_destroy(&b);
    sess_free(sb);
    char *text = NULL;
    size_t tlen = 0;
    FILE *dump = open_memstream(&text, &tlen);
    assert_int_equal(snap_dump(path, dump), -1);
    fclose(dump);
    assert_non_null(strstr(text, "DOES NOT PARSE"));
    free(text);
    free(img);
    world_free(&a);
}

/* Retention: the newest `keep` snapshots stay; a log file goes only when every txn it can
 * hold (up to where the next file starts) is at or before the oldest snapshot kept; the
 * newest log file always stays. */
static void test_snap_purge(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    char err[512], path[256];
    const int64_t snaps[] = {0x10, 0x20, 0x30, 0x40};
    for (int i = 0; i < 4; i++) {
        a.t.last_zxid = snaps[i];
        assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
    }
    snap_name(path, sizeof(path), f->snapdir, 0x50);
    strcat(path, ".tmp");
    write_all_to(path, "x", 1);
    const int64_t logs[] = {0x1, 0x8, 0x18, 0x25, 0x31, 0x38, 0x45};
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof(path), "%s/log.%" PRIx64, f->logdir, (uint64_t)logs[i]);
        write_all_to(path, "", 0);
    }
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 5), 0);
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 4), 0);
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 0), 0);
    /* keep 2: 0x30 is the oldest kept; log.25 holds at most 0x25..0x30: it goes too */
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 2), 2 + 4);
    const struct {
        int64_t zxid;
        int present;
    } want_snaps[] = {{0x10, 0}, {0x20, 0}, {0x30, 1}, {0x40, 1}},
      want_logs[] = {{0x1, 0}, {0x8, 0}, {0x18, 0}, {0x25, 0}, {0x31, 1}, {0x38, 1}, {0x45, 1}};
    for (int i = 0; i < 4; i++) {
        snap_name(path, sizeof(path), f->snapdir, want_snaps[i].zxid);
        assert_int_equal(exists(path), want_snaps[i].present);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof(path), "%s/log.%" PRIx64, f->logdir, (uint64_t)want_logs[i].zxid);
        if (exists(path) != want_logs[i].present)
            fail_msg("log.%" PRIx64 " should %s", (uint64_t)want_logs[i].zxid,
                     want_logs[i].present ? "stay" : "be gone");
    }
    snap_name(path, sizeof(path), f->snapdir, 0x50);
    strcat(path, ".tmp");
    assert_true(exists(path)); /* not a snapshot: not counted, not removed */
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 2), 0);
    /* keep 1: 0x40; log.31 (up to 0x37) goes, log.38 holds 0x41 and stays */
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 1), 1 + 1);
    snprintf(path, sizeof(path), "%s/log.38", f->logdir);
    assert_true(exists(path));
    snprintf(path, sizeof(path), "%s/log.31", f->logdir);
    assert_false(exists(path));
    /* the newest log file stays even when it starts before every snapshot */
    a.t.last_zxid = 0x90;
    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
    assert_int_equal(snap_purge(f->snapdir, f->logdir, 1), 1 + 1);
    snprintf(path, sizeof(path), "%s/log.45", f->logdir);
    assert_true(exists(path));
    world_free(&a);
}

/* Retention counts valid snapshots only: when the newest `keep` snapshots are damaged (a
 * writer bug, a bad disk), purging must not delete the only valid one and the logs it needs
 * (ZooKeeper's PurgeTxnLog keeps the newest N valid snapshots). */
static void test_purge_keeps_valid_snapshots(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    char err[512], path[256];
    for (int64_t z = 0x10; z <= 0x40; z += 0x10) {
        a.t.last_zxid = z;
        assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0, err, sizeof(err)), 0);
        if (z == 0x10)
            continue;
        snap_name(path, sizeof(path), f->snapdir, z);
        size_t len;
        uint8_t *img = read_all(path, &len);
        img[len / 2] ^= 0x08;
        write_all_to(path, img, len);
        free(img);
    }
    for (int64_t z = 0x1; z <= 0x41; z += 0x10) {
        snprintf(path, sizeof(path), "%s/log.%" PRIx64, f->logdir, (uint64_t)z);
        write_all_to(path, "", 0);
    }
    capture_begin();
    int removed = snap_purge(f->snapdir, f->logdir, 3);
    struct ztree b;
    struct sess_table *sb;
    int64_t zxid = -1;
    int rc;
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    free(capture_end());
    tree_destroy(&b);
    sess_free(sb);
    world_free(&a);
    snprintf(path, sizeof(path), "%s/log.1", f->logdir);
    if (removed != 0 || rc != 0 || zxid != 0x10 || !exists(path))
        fail_msg("purge keeping 3 removed %d files; recovery now gives %d (zxid 0x%" PRIx64 ") %s",
                 removed, rc, (uint64_t)zxid, err);
}

/* ---------- snapshots as bytes: a leader's SNAP sync ---------- */

/* Only the sanitizer runtime lets a test see allocations (weak: absent in the plain build). */
int __sanitizer_install_malloc_and_free_hooks(void (*m)(const volatile void *, size_t),
                                              void (*f)(const volatile void *)) __attribute__((weak));
static size_t largest_alloc;

static void note_alloc(const volatile void *p, size_t n)
{
    (void)p;
    if (n > largest_alloc)
        largest_alloc = n;
}

static void note_free(const volatile void *p)
{
    (void)p;
}

/* Starts recording the largest allocation in largest_alloc; returns 0 when this build
 * cannot see allocations. */
static int watch_allocs(void)
{
    static int installed;
    if (!installed && __sanitizer_install_malloc_and_free_hooks)
        installed = __sanitizer_install_malloc_and_free_hooks(note_alloc, note_free) != 0;
    largest_alloc = 0;
    return installed;
}

static void encode_world(const struct world *w, int64_t now_wall, uint8_t **p, size_t *len)
{
    char err[512];
    if (snap_encode(&w->t, w->s, now_wall, p, len, err, sizeof(err)))
        fail_msg("snap_encode: %s", err);
}

/* Loads bytes into a fresh tree and session table; returns what snap_load_bytes does. */
static int load_bytes_into(const uint8_t *p, size_t n, struct ztree *t, struct sess_table **s, int64_t *zxid,
                           char *err, size_t errlen)
{
    assert_int_equal(tree_init(t), 0);
    *s = sess_new(TICK, 1, T0);
    assert_non_null(*s);
    err[0] = 0;
    return snap_load_bytes(p, n, t, *s, NOW_MONO, zxid, err, errlen);
}

/* A copy of exactly n bytes, so that the sanitizer build sees any read past them. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);
    assert_non_null(q);
    memcpy(q, p, n);
    return q;
}

/* Makes the CRC match again, as a peer forging bytes would. */
static void reseal(uint8_t *img, size_t len)
{
    uint32_t crc = crc32c(0, img, len - 4);
    img[len - 4] = (uint8_t)(crc >> 24), img[len - 3] = (uint8_t)(crc >> 16);
    img[len - 2] = (uint8_t)(crc >> 8), img[len - 1] = (uint8_t)crc;
}

static int dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

/* Encoded bytes load as the tree and sessions they came from, and are the very bytes of the
 * file snap_write stores for the same tree and time; three large nodes take the image past
 * the 1 MB chunks in which the file is written and checksummed. */
static void test_encode_roundtrip(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, INT64_MAX);
    build(&a);
    char *big = malloc(600001);
    assert_non_null(big);
    for (int i = 0; i < 3; i++) {
        char path[32];
        memset(big, 'a' + i, 600000);
        big[600000] = 0;
        snprintf(path, sizeof(path), "/big%d", i);
        must_create(&a, S1, path, big, NULL, 0, ZMODE_PERSISTENT);
    }
    free(big);
    uint8_t *img;
    size_t len;
    encode_world(&a, T0 + 777, &img, &len);
    assert_true(len > 3 * 600000);

    struct ztree b;
    struct sess_table *sb;
    int64_t zxid = -1;
    char err[512], path[256];
    if (load_bytes_into(img, len, &b, &sb, &zxid, err, sizeof(err)))
        fail_msg("snap_load_bytes: %s", err);
    assert_int_equal(zxid, a.t.last_zxid);
    assert_trees_equal(&a.t, &b, "loaded bytes");
    assert_sessions_restored(a.s, sb);
    assert_int_equal(sess_count(sb), 3);
    assert_int_equal(tree_get(&b, "/big2")->datalen, 600000);
    tree_destroy(&b);
    sess_free(sb);

    assert_int_equal(snap_write(f->snapdir, &a.t, a.s, T0 + 777, err, sizeof(err)), 0);
    snap_name(path, sizeof(path), f->snapdir, a.t.last_zxid);
    size_t flen;
    uint8_t *file = read_all(path, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(file, img, len);
    free(file);
    free(img);
    world_free(&a);
}

/* Saved bytes are a snapshot file like any other: the same bytes under the usual name, no
 * temp file left, loaded by recovery. Snapshots newer than it (from a history the leader's
 * state does not contain) go, valid or damaged; older ones stay; one of the same zxid (another
 * history's) is replaced. */
static void test_snap_save(void **state)
{
    struct fx *f = *state;
    struct world old, mid, full;
    world_init(&old, 100);
    build(&old);
    world_init(&mid, 300);
    build(&mid);
    world_init(&full, INT64_MAX);
    build(&full);
    assert_true(full.t.last_zxid > 300);
    char err[512], p_old[256], p_mid[256], p_full[256], p_bad[256], tmp[300];
    snap_name(p_old, sizeof(p_old), f->snapdir, 100);
    snap_name(p_mid, sizeof(p_mid), f->snapdir, 300);
    snap_name(p_full, sizeof(p_full), f->snapdir, full.t.last_zxid);
    snap_name(p_bad, sizeof(p_bad), f->snapdir, full.t.last_zxid + 0x100);
    assert_int_equal(snap_write(f->snapdir, &old.t, old.s, T0, err, sizeof(err)), 0);
    assert_int_equal(snap_write(f->snapdir, &full.t, full.s, T0, err, sizeof(err)), 0);
    write_all_to(p_mid, "another history", 15);
    write_all_to(p_bad, "damaged", 7);

    uint8_t *img;
    size_t len;
    encode_world(&mid, T0 + 3, &img, &len);
    capture_begin();
    int rc = snap_save(f->snapdir, img, len, err, sizeof(err));
    free(capture_end());
    if (rc)
        fail_msg("snap_save: %s", err);
    assert_true(exists(p_old));
    assert_false(exists(p_full));
    assert_false(exists(p_bad));
    snprintf(tmp, sizeof(tmp), "%s.tmp", p_mid);
    assert_false(exists(tmp));
    size_t flen;
    uint8_t *file = read_all(p_mid, &flen);
    assert_int_equal(flen, len);
    assert_memory_equal(file, img, len);
    free(file);
    assert_int_equal(dir_entries(f->snapdir), 2);

    struct ztree b;
    struct sess_table *sb;
    int64_t zxid = -1;
    capture_begin();
    load_into(f->snapdir, &b, &sb, &zxid, &rc, err, sizeof(err));
    free(capture_end());
    if (rc)
        fail_msg("snap_load_latest: %s", err);
    assert_int_equal(zxid, 300);
    assert_trees_equal(&mid.t, &b, "saved snapshot");
    assert_sessions_restored(mid.s, sb);
    tree_destroy(&b);
    sess_free(sb);

    /* saving it again changes nothing */
    assert_int_equal(snap_save(f->snapdir, img, len, err, sizeof(err)), 0);
    assert_int_equal(dir_entries(f->snapdir), 2);
    free(img);
    world_free(&old);
    world_free(&mid);
    world_free(&full);
}

/* Damaged bytes are refused by snap_load_bytes and snap_save alike, and nothing is stored:
 * every truncation, and a flipped bit at every offset. With the CRC forged to match, a flip
 * may well be accepted (a data byte), but nothing crashes or reads past the bytes (the
 * sanitizer build checks), and what snap_load_bytes accepts snap_save accepts too (checked
 * at every 29th offset: a save that succeeds costs two fsyncs). */
static void test_damaged_bytes_refused(void **state)
{
    struct fx *f = *state;
    struct world a;
    world_init(&a, 60);
    build(&a);
    uint8_t *img;
    size_t len;
    encode_world(&a, T0, &img, &len);
    char err[512];
    struct ztree b;
    struct sess_table *sb;
    int64_t zxid;
    for (size_t n = 0; n < len; n++) {
        uint8_t *q = exact_copy(img, n);
        if (load_bytes_into(q, n, &b, &sb, &zxid, err, sizeof(err)) == 0)
            fail_msg("the first %zu of %zu bytes load", n, len);
        tree_destroy(&b);
        sess_free(sb);
        if (snap_save(f->snapdir, q, n, err, sizeof(err)) == 0)
            fail_msg("the first %zu of %zu bytes are saved", n, len);
        free(q);
    }
    for (size_t o = 0; o < len; o++) {
        uint8_t *q = exact_copy(img, len);
        q[o] ^= (uint8_t)(1u << (o % 8));
        if (load_bytes_into(q, len, &b, &sb, &zxid, err, sizeof(err)) == 0)
            fail_msg("a flipped bit at %zu of %zu loads", o, len);
        assert_non_null(strstr(err, "checksum"));
        tree_destroy(&b);
        sess_free(sb);
        if (snap_save(f->snapdir, q, len, err, sizeof(err)) == 0)
            fail_msg("a flipped bit at %zu of %zu is saved", o, len);
        free(q);
    }
    assert_int_equal(dir_entries(f->snapdir), 0);

    int accepted = 0;
    capture_begin();
    for (size_t o = 0; o < len - 4; o++) {
        uint8_t *q = exact_copy(img, len);
        q[o] ^= (uint8_t)(1u << (o % 8));
        reseal(q, len);
        int loaded = load_bytes_into(q, len, &b, &sb, &zxid, err, sizeof(err)) == 0;
        tree_destroy(&b);
        sess_free(sb);
        if (o % 29 == 0 && snap_save(f->snapdir, q, len, err, sizeof(err)) != 0 && loaded && zxid >= 0)
            fail_msg("forged flip at %zu loads but is not saved: %s", o, err);
        accepted += loaded;
        free(q);
    }
    free(capture_end());
    assert_true(accepted > 0 && accepted < (int)len - 4);
    free(img);
    world_free(&a);
}

/* Lengths and counts a hostile peer could put in well-sealed bytes are checked against the
 * bytes present before anything is allocated for them: each is refused with no allocation
 * near its size (seen in the sanitizer build). */
static void test_hostile_lengths_refused(void **state)
{
    struct fx *f = *state;
    /* A valid snapshot of one session and the root alone, noting where its lengths are. */
    struct jbuf b;
    jb_init(&b);
    jw_raw(&b, "ZKSN", 4);
    jw_int(&b, 1);
    jw_long(&b, 0x10);
    jw_long(&b, T0);
    size_t at_nsess = b.len;
    jw_int(&b, 1);
    jw_long(&b, S1);
    jw_int(&b, 4000);
    size_t at_nnodes = b.len;
    jw_long(&b, 1);
    size_t at_path = b.len;
    jw_string(&b, "/");
    size_t at_data = b.len;
    jw_buffer(&b, "d", 1);
    size_t at_nacl = b.len;
    jw_int(&b, 1);
    jw_int(&b, ZPERM_ALL);
    size_t at_scheme = b.len;
    jw_string(&b, "world");
    jw_string(&b, "anyone");
    for (int i = 0; i < 4; i++)
        jw_long(&b, 1); /* czxid, mzxid, ctime, mtime */
    for (int i = 0; i < 3; i++)
        jw_int(&b, 0); /* version, cversion, aversion */
    jw_long(&b, 0);    /* ephemeralOwner */
    jw_long(&b, 1);    /* pzxid */
    jw_raw(&b, "ZKSE", 4);
    jw_int(&b, 0);
    assert_false(b.oom);
    reseal(b.p, b.len);
    char err[512];
    struct ztree t;
    struct sess_table *s;
    int64_t zxid;
    assert_int_equal(load_bytes_into(b.p, b.len, &t, &s, &zxid, err, sizeof(err)), 0);
    assert_int_equal(tree_get(&t, "/")->datalen, 1);
    assert_non_null(sess_get(s, S1));
    tree_destroy(&t);
    sess_free(s);

    const struct {
        size_t at;
        int wide;
        int64_t v;
        const char *what;
    } bad[] = {
        {at_nsess, 0, INT32_MAX, "session count"}, {at_nsess, 0, -1, "negative session count"},
        {at_nnodes, 1, INT64_MAX, "node count"},   {at_nnodes, 1, -1, "negative node count"},
        {at_path, 0, INT32_MAX, "path length"},    {at_data, 0, INT32_MAX - 15, "data length"},
        {at_data, 0, -2, "negative data length"},  {at_nacl, 0, JUTE_MAX_VECTOR, "ACL count"},
        {at_nacl, 0, INT32_MAX, "huge ACL count"}, {at_scheme, 0, INT32_MAX, "ACL scheme length"},
    };
    int watched = watch_allocs();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t *q = exact_copy(b.p, b.len);
        for (int k = bad[i].wide ? 7 : 3, sh = 0; k >= 0; k--, sh += 8)
            q[bad[i].at + (size_t)k] = (uint8_t)((uint64_t)bad[i].v >> sh);
        reseal(q, b.len);
        assert_int_equal(tree_init(&t), 0);
        s = sess_new(TICK, 1, T0);
        assert_non_null(s);
        largest_alloc = 0;
        int rc = snap_load_bytes(q, b.len, &t, s, NOW_MONO, &zxid, err, sizeof(err));
        tree_destroy(&t);
        sess_free(s);
        if (rc == 0)
            fail_msg("a hostile %s loads", bad[i].what);
        assert_non_null(strstr(err, "does not parse"));
        if (snap_save(f->snapdir, q, b.len, err, sizeof(err)) == 0)
            fail_msg("a hostile %s is saved", bad[i].what);
        if (watched && largest_alloc > 65536)
            fail_msg("a hostile %s made an allocation of %zu bytes", bad[i].what, largest_alloc);
        free(q);
    }
    assert_int_equal(dir_entries(f->snapdir), 0);
    jb_free(&b);
}

/* ---------- recovery: snapshot + log ---------- */

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

static int64_t wait_durable(struct wal *w, int64_t zxid)
{
    for (;;) {
        int64_t d = wal_durable(w);
        if (d >= zxid)
            return d;
        struct pollfd pfd = {.fd = wal_notify_fd(w), .events = POLLIN};
        if (poll(&pfd, 1, 60000) != 1)
            fail_msg("no durability notification for zxid 0x%" PRIx64, (uint64_t)zxid);
    }
}

/* A random node of the tree (each equally likely). */
static const struct znode *pick(const struct ztree *t, uint64_t *rng)
{
    size_t k = rnd(rng) % tree_node_count(t);
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->nodes, &i, &s);)
        if (!k--)
            return s->val;
    return t->root;
}

/* Fills q with a random write on a random node (path storage in buf); may well fail in prep. */
static void random_op(struct world *w, uint64_t *rng, int in_multi, struct zk_request *q, char *buf, size_t buflen,
                      uint8_t *data)
{
    static struct zk_acl *acls[] = {(struct zk_acl *)OPEN_ACL_UNSAFE, alice_acl, ip_acl};
    static const int nacls[] = {1, 2, 2};
    const struct znode *n = pick(&w->t, rng);
    uint64_t r = rnd(rng) % 100;
    int32_t type = r < 50 ? ZOP_CREATE : r < 68 ? ZOP_DELETE : r < 88 ? ZOP_SETDATA : in_multi ? ZOP_CHECK : ZOP_SETACL;
    if (type == ZOP_CREATE)
        snprintf(buf, buflen, "%s/c%u", n->pathlen > 1 ? n->path : "", (unsigned)(rnd(rng) % 12));
    else
        snprintf(buf, buflen, "%s", n->path);
    *q = request(type, buf);
    int a = (int)(rnd(rng) % 3);
    q->acl = acls[a];
    q->nacl = nacls[a];
    uint64_t d = rnd(rng) % 10;
    if (d == 0) {
        q->datalen = -1;
    } else if (d == 1) {
        q->data = data;
        q->datalen = 0;
    } else {
        q->datalen = (int32_t)(rnd(rng) % 48);
        for (int32_t i = 0; i < q->datalen; i++)
            data[i] = (uint8_t)rnd(rng);
        q->data = data;
    }
    if (rnd(rng) % 4 == 0) /* sometimes the exact version */
        q->version = type == ZOP_SETACL ? n->stat.aversion : n->stat.version;
    if (type == ZOP_CREATE) {
        static const int32_t modes[] = {ZMODE_PERSISTENT,           ZMODE_PERSISTENT,      ZMODE_EPHEMERAL,
                                        ZMODE_PERSISTENT_SEQUENTIAL, ZMODE_EPHEMERAL_SEQUENTIAL, ZMODE_CONTAINER,
                                        ZMODE_PERSISTENT_WITH_TTL};
        q->flags = modes[rnd(rng) % 7];
        if (q->flags == ZMODE_PERSISTENT_WITH_TTL) {
            q->type = ZOP_CREATETTL;
            q->ttl = 1 + (int64_t)(rnd(rng) % 100000);
        } else if (rnd(rng) % 3 == 0) {
            q->type = ZOP_CREATE2;
        }
    }
}

struct live {
    int64_t ids[16];
    int n;
    int64_t next;
};

/* One random step: a session opened or closed, a container swept, a write or a multi. */
static void random_step(struct world *w, uint64_t *rng, struct live *l)
{
    char bufs[4][600];
    uint8_t datas[4][64];
    uint64_t r = rnd(rng) % 100;
    if (l->n < 2 || (r < 4 && l->n < 16)) {
        int64_t id = l->next++;
        open_session(w, id, (int32_t)(2000 + rnd(rng) % 28000));
        l->ids[l->n++] = id;
        return;
    }
    int64_t session = l->ids[rnd(rng) % (uint64_t)l->n];
    if (r < 8) {
        close_session(w, session);
        for (int i = 0; i < l->n; i++)
            if (l->ids[i] == session)
                l->ids[i] = l->ids[--l->n];
        return;
    }
    if (r < 11) { /* the container sweeper: an empty container or any TTL node */
        struct hmap_slot *s;
        for (size_t i = 0; hmap_next(&w->t.containers, &i, &s);) {
            const struct znode *n = s->val;
            if (n->children.len)
                continue;
            struct txn x;
            if (prep_delete_container(&w->p, n->path, T0 + 10 * w->p.last_zxid, &x) == ZOK) {
                commit(w, &x);
                return;
            }
        }
        return;
    }
    struct zk_request q;
    if (r < 80) {
        random_op(w, rng, 0, &q, bufs[0], sizeof(bufs[0]), datas[0]);
        submit(w, session, &q);
        return;
    }
    struct zk_request ops[4];
    int nops = 2 + (int)(rnd(rng) % 3);
    for (int i = 0; i < nops; i++)
        random_op(w, rng, 1, &ops[i], bufs[i], sizeof(bufs[i]), datas[i]);
    q = (struct zk_request){.type = ZOP_MULTI, .ops = ops, .nops = nops};
    submit(w, session, &q);
}

/* What a replay applied, and how many txns did not fit the tree. */
struct recovery {
    struct ztree *t;
    struct sess_table *s;
    int64_t applied, errors, nodeexists;
    int64_t upto; /* txns past this zxid are skipped (0: none) */
};

/* Applies a replayed txn as the server does (server_replay): a txn that does not fit the
 * tree is reported by tree_apply and counted here; the tree must stay consistent. */
static int recover_one(void *ctx, const struct txn *x)
{
    struct recovery *r = ctx;
    if (r->upto && x->zxid > r->upto)
        return 0;
    struct txn_result res;
    tree_apply(r->t, x, &res, NULL, NULL);
    if (res.err) {
        r->errors++;
        if (res.err == ZNODEEXISTS)
            r->nodeexists++;
        for (int32_t i = 0; i < res.nsubs; i++)
            r->nodeexists += res.subs[i].err == ZNODEEXISTS;
    }
    txn_result_free(&res);
    apply_sessions(r->s, x);
    r->applied++;
    return 0;
}

/* The tree and sessions the log alone gives from the initial tree, up to zxid upto (0: all). */
static void replay_from_scratch(const struct fx *f, int64_t upto, struct ztree *t, struct sess_table **s)
{
    assert_int_equal(tree_init(t), 0);
    *s = sess_new(TICK, 1, T0);
    struct recovery r = {.t = t, .s = *s, .upto = upto};
    char err[512];
    int64_t last;
    capture_begin();
    int rc = wal_replay(f->logdir, 0, recover_one, &r, &last, err, sizeof(err));
    free(capture_end());
    if (rc)
        fail_msg("wal_replay: %s", err);
    assert_int_equal(r.errors, 0);
}

/* Recovers as storage_open does: the newest valid snapshot, then the log after it (or after
 * `after` when it is >= 0). */
static void recover(const struct fx *f, int64_t after, struct ztree *t, struct sess_table **s, struct recovery *r,
                    int64_t *snap_zxid, int64_t *last)
{
    char err[512];
    int rc;
    load_into(f->snapdir, t, s, snap_zxid, &rc, err, sizeof(err));
    if (rc)
        fail_msg("snap_load_latest: %s", err);
    memset(r, 0, sizeof(*r));
    r->t = t;
    r->s = *s;
    capture_begin();
    rc = wal_replay(f->logdir, after >= 0 ? after : *snap_zxid, recover_one, r, last, err, sizeof(err));
    free(capture_end());
    if (rc)
        fail_msg("wal_replay: %s", err);
}

/* Logs a random workload while two snapshots are taken by forked children (as the server
 * takes them: the log rolls to a new file, the child writes the tree it was forked with,
 * the parent goes on); then recovers from the directories and compares. */
static void replay_equivalence(struct fx *f, uint64_t seed)
{
    uint64_t rng = seed;
    struct world a;
    world_init(&a, INT64_MAX);
    struct wal_opts o = {.dir = f->logdir, .force_sync = 1, .prealloc_bytes = 65536};
    char err[512];
    a.wal = wal_open(&o, 1, err, sizeof(err));
    if (!a.wal)
        fail_msg("wal_open: %s", err);
    struct live l = {.next = 0x0200000000000001LL};
    const int steps = 3000;
    int64_t snap_zxid[2] = {0, 0};
    pid_t child[2] = {0, 0};
    for (int i = 0; i < steps; i++) {
        random_step(&a, &rng, &l);
        if (i % 25 == 24 && a.appended)
            wait_durable(a.wal, a.appended);
        int k = i == steps / 3 ? 0 : i == 2 * steps / 3 ? 1 : -1;
        if (k < 0)
            continue;
        /* the server snapshots once what it applied is durable (it applies nothing before) */
        wait_durable(a.wal, a.appended);
        wal_roll(a.wal);
        snap_zxid[k] = a.t.last_zxid;
        fflush(NULL);
        child[k] = fork();
        assert_true(child[k] >= 0);
        if (child[k] == 0) {
            char cerr[512];
            _exit(snap_write(f->snapdir, &a.t, a.s, T0 + k, cerr, sizeof(cerr)) ? 1 : 0);
        }
    }
    wait_durable(a.wal, a.appended);
    wal_close(a.wal);
    a.wal = NULL;
    for (int k = 0; k < 2; k++) {
        int status;
        assert_int_equal(waitpid(child[k], &status, 0), child[k]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_true(snap_zxid[0] > 0 && snap_zxid[1] > snap_zxid[0] && a.t.last_zxid > snap_zxid[1]);
    assert_true(tree_node_count(&a.t) > 50);

    /* recovery: the newest snapshot + the log after it */
    struct ztree b;
    struct sess_table *sb;
    struct recovery r;
    int64_t z, last;
    recover(f, -1, &b, &sb, &r, &z, &last);
    assert_int_equal(z, snap_zxid[1]);
    assert_int_equal(last, a.t.last_zxid);
    assert_int_equal(r.applied, a.t.last_zxid - snap_zxid[1]);
    assert_int_equal(r.errors, 0);
    assert_trees_equal(&a.t, &b, "snapshot + log");
    assert_sessions_restored(a.s, sb);
    tree_destroy(&b);
    sess_free(sb);

    /* Snapshots here are exact, not fuzzy: a forked child writes the tree as it was at one
     * zxid, so recovery never re-applies a txn the snapshot already holds (wal_replay skips
     * every record <= the snapshot's zxid, counted above). Replaying the overlap would not be
     * idempotent (a delete and re-create of a child moves the parent's cversion again), which
     * is why zkfsd does not take fuzzy snapshots. */

    /* the log alone rebuilds the same tree from the initial one */
    replay_from_scratch(f, 0, &b, &sb);
    assert_trees_equal(&a.t, &b, "the whole log");
    assert_sessions_restored(a.s, sb);
    tree_destroy(&b);
    sess_free(sb);

    /* a crash that tore the last record: recovery gives the state just before it */
    char **names;
    int64_t *starts;
    int nf = zk_list_files(f->logdir, "log.", &names, &starts);
    assert_true(nf >= 3);
    size_t len;
    uint8_t *img = read_all(names[nf - 1], &len);
    size_t at = WAL_HEADER_LEN, prev = 0; /* the last record starts at prev, ends at at */
    while (at + 8 <= len && (img[at] | img[at + 1] | img[at + 2] | img[at + 3])) {
        prev = at;
        at += 8 + ((size_t)img[at] << 24 | (size_t)img[at + 1] << 16 | (size_t)img[at + 2] << 8 | img[at + 3]);
    }
    assert_true(prev > 0);
    write_all_to(names[nf - 1], img, prev + (at - prev) / 2);
    recover(f, -1, &b, &sb, &r, &z, &last);
    assert_int_equal(last, a.t.last_zxid - 1);
    struct ztree ref;
    struct sess_table *sref;
    replay_from_scratch(f, a.t.last_zxid - 1, &ref, &sref);
    assert_trees_equal(&ref, &b, "recovery after a torn last record");
    assert_sessions_restored(sref, sb);
    tree_destroy(&ref);
    sess_free(sref);
    tree_destroy(&b);
    sess_free(sb);
    write_all_to(names[nf - 1], img, len);
    free(img);
    zk_free_list(names, starts, nf);

    /* the newest snapshot gone (say, damaged): the older one + a longer replay */
    char newest[256], aside[300];
    snap_name(newest, sizeof(newest), f->snapdir, snap_zxid[1]);
    snprintf(aside, sizeof(aside), "%s.aside", newest);
    assert_int_equal(rename(newest, aside), 0);
    recover(f, -1, &b, &sb, &r, &z, &last);
    assert_int_equal(z, snap_zxid[0]);
    assert_int_equal(r.errors, 0);
    assert_trees_equal(&a.t, &b, "older snapshot + log");
    tree_destroy(&b);
    sess_free(sb);
    assert_int_equal(rename(aside, newest), 0);

    /* retention keeps the newest snapshot and the logs after it: recovery is unchanged */
    int removed = snap_purge(f->snapdir, f->logdir, 1);
    assert_true(removed >= 2); /* the older snapshot and at least the first log file */
    recover(f, -1, &b, &sb, &r, &z, &last);
    assert_int_equal(z, snap_zxid[1]);
    assert_int_equal(r.errors, 0);
    assert_trees_equal(&a.t, &b, "after purge");
    tree_destroy(&b);
    sess_free(sb);
    /* while the history before the snapshot is gone for good */
    struct recovery dummy = {0};
    assert_int_equal(tree_init(&b), 0);
    sb = sess_new(TICK, 1, T0);
    dummy.t = &b;
    dummy.s = sb;
    assert_int_equal(wal_replay(f->logdir, 0, recover_one, &dummy, &last, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing"));
    tree_destroy(&b);
    sess_free(sb);
    world_free(&a);
}

static void test_replay_equivalence_seed1(void **state)
{
    replay_equivalence(*state, 0x243f6a8885a308d3ull);
}

static void test_replay_equivalence_seed2(void **state)
{
    replay_equivalence(*state, 0x13198a2e03707344ull);
}

static void test_replay_equivalence_seed3(void **state)
{
    replay_equivalence(*state, 0xa4093822299f31d0ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_snapshot_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_keeps_closing_sessions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_of_initial_tree, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_snapshot_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_that_does_not_parse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snap_purge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_keeps_valid_snapshots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_encode_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snap_save, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_bytes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hostile_lengths_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_equivalence_seed1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_equivalence_seed2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_equivalence_seed3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
