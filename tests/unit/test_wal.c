/* Unit tests of the transaction log and what it is built on: CRC-32C (standard check values,
 * incremental == one-shot, agreement with a bitwise reference), the txn codec (every txn type
 * round-trips; every truncation and any trailing byte is rejected without a leak), and the log
 * itself through its public API only: group commit observed through the notification
 * descriptor (poll, never sleep), rolls and preallocation, replay after a snapshot zxid, the
 * damage replay must refuse (a bad record with valid ones after it, a bad record in an older
 * file, a hole in the zxids, bad headers) and the damage it must repair (a torn tail, at every
 * byte offset of the last record, cut short or followed by garbage or zeros), the dump, the
 * file listing, and the fatal exit on a write failure without acknowledging what was lost.
 * For an ensemble: zxids that jump to a new epoch (and holes across epochs still refused),
 * encoded txns queued as-is (the same files as wal_append), and truncation after a zxid.
 * Every test works in its own mkdtemp directory, removed afterwards. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jute.h"
#include "common/zerr.h"
#include "zkfsd/crc32c.h"
#include "zkfsd/txn.h"
#include "zkfsd/wal.h"

/* In the sanitizer build undefined behaviour stops the run instead of scrolling past. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

/* ---------- txns for the codec and the log ---------- */

#define T0 1700000000000LL
#define SESS 0x1000000000000abcLL
#define ALICE "alice:4FyxLkaQXUEZdqwnR8oPdtgjFFo="

/* Kinds of txn make_txn builds: every type, with null, empty and binary data, zero to three
 * ACL entries, and multis with mixed, error-only and no sub-txns. */
enum {
    K_CREATE,          /* data, 1 ACL, persistent */
    K_CREATE2_EMPTY,   /* empty data, 2 ACLs, ephemeral */
    K_CONTAINER_NULL,  /* null data, 3 ACLs, container marker */
    K_TTL,             /* 300+ bytes of binary data (zero bytes included), TTL marker */
    K_CREATE_NOACL,    /* an empty ACL list */
    K_DELETE,
    K_DELETECONTAINER,
    K_SETDATA,         /* 200+ bytes */
    K_SETDATA_NULL,
    K_SETDATA_EMPTY,
    K_SETACL,
    K_CHECK,
    K_CREATESESSION,
    K_CLOSESESSION,
    K_ERROR,
    K_MULTI,           /* mixed sub-txns */
    K_MULTI_ERRORS,    /* a failed multi's shape: error sub-txns only */
    K_MULTI_EMPTY,
    NKINDS
};

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    assert_non_null(d);
    return d;
}

static void fill_acls(struct txn *x, int n)
{
    static const struct {
        int32_t perms;
        const char *scheme, *id;
    } pool[] = {
        {ZPERM_ALL, "world", "anyone"},
        {ZPERM_READ | ZPERM_ADMIN, "digest", ALICE},
        {ZPERM_CREATE | ZPERM_DELETE, "ip", "10.0.0.0/8"},
    };
    x->nacl = n;
    x->acl = NULL;
    if (!n)
        return;
    x->acl = calloc((size_t)n, sizeof(*x->acl));
    assert_non_null(x->acl);
    for (int i = 0; i < n; i++) {
        x->acl[i].perms = pool[i].perms;
        x->acl[i].id.scheme = xstrdup(pool[i].scheme);
        x->acl[i].id.id = xstrdup(pool[i].id);
    }
}

/* len < 0: null data; 0: empty; otherwise bytes that depend on seed and include zeros. */
static void fill_data(struct txn *x, int32_t len, int64_t seed)
{
    x->datalen = len < 0 ? -1 : len;
    x->data = NULL;
    if (len <= 0)
        return;
    x->data = malloc((size_t)len);
    assert_non_null(x->data);
    for (int32_t i = 0; i < len; i++)
        x->data[i] = (uint8_t)(i % 5 == 0 ? 0 : (seed * 31 + i * 7) & 0xff);
}

static void make_txn(int kind, int64_t zxid, struct txn *x);

static void make_multi(struct txn *x, int64_t zxid, const int *kinds, int n)
{
    x->type = ZOP_MULTI;
    x->nsubs = n;
    x->subs = calloc((size_t)(n ? n : 1), sizeof(*x->subs));
    assert_non_null(x->subs);
    /* sub-txns share the multi's header: make_txn derives it from the zxid alone */
    for (int i = 0; i < n; i++)
        make_txn(kinds[i], zxid, &x->subs[i]);
}

/* A txn of the given kind whose every field is derived from zxid; fields the type does not
 * carry stay 0 (and data null), as txn_decode leaves them. Owns its memory (txn_free). */
static void make_txn(int kind, int64_t zxid, struct txn *x)
{
    char path[64];
    memset(x, 0, sizeof(*x));
    x->zxid = zxid;
    x->time = T0 + zxid * 3;
    x->session = SESS + zxid % 3;
    x->cxid = (int32_t)(zxid * 2 + 1);
    x->datalen = -1;
    snprintf(path, sizeof(path), "/k%d/n%" PRId64, kind, zxid);
    switch (kind) {
    case K_CREATE:
        x->type = ZOP_CREATE;
        fill_data(x, (int32_t)(5 + zxid % 50), zxid);
        fill_acls(x, 1);
        x->parentCVersion = (int32_t)(zxid % 1000);
        break;
    case K_CREATE2_EMPTY:
        x->type = ZOP_CREATE2;
        fill_data(x, 0, zxid);
        fill_acls(x, 2);
        x->ephemeralOwner = x->session;
        x->parentCVersion = -5; /* cversions wrap: any int32 must survive */
        break;
    case K_CONTAINER_NULL:
        x->type = ZOP_CREATECONTAINER;
        fill_acls(x, 3);
        x->ephemeralOwner = ZK_CONTAINER_OWNER;
        x->parentCVersion = INT32_MAX;
        break;
    case K_TTL:
        x->type = ZOP_CREATETTL;
        fill_data(x, (int32_t)(300 + zxid % 200), zxid);
        fill_acls(x, 1);
        x->ttl = 60000 + zxid;
        x->ephemeralOwner = ZK_TTL_MARKER | x->ttl;
        x->parentCVersion = 7;
        break;
    case K_CREATE_NOACL:
        x->type = ZOP_CREATE;
        fill_data(x, 1, zxid);
        x->parentCVersion = INT32_MIN;
        break;
    case K_DELETE:
        x->type = ZOP_DELETE;
        break;
    case K_DELETECONTAINER:
        x->type = ZOP_DELETECONTAINER;
        break;
    case K_SETDATA:
        x->type = ZOP_SETDATA;
        fill_data(x, (int32_t)(200 + (zxid * 37) % 500), zxid);
        x->version = (int32_t)(zxid % 7);
        break;
    case K_SETDATA_NULL:
        x->type = ZOP_SETDATA;
        x->version = 0;
        break;
    case K_SETDATA_EMPTY:
        x->type = ZOP_SETDATA;
        fill_data(x, 0, zxid);
        x->version = INT32_MAX;
        break;
    case K_SETACL:
        x->type = ZOP_SETACL;
        fill_acls(x, 2);
        x->version = 3;
        break;
    case K_CHECK:
        x->type = ZOP_CHECK;
        x->version = -1;
        break;
    case K_CREATESESSION:
        x->type = ZOP_CREATESESSION;
        x->timeout = 30000;
        break;
    case K_CLOSESESSION:
        x->type = ZOP_CLOSESESSION;
        break;
    case K_ERROR:
        x->type = ZOP_ERROR;
        x->err = ZNONODE;
        break;
    case K_MULTI: {
        static const int kinds[] = {K_CREATE,  K_SETDATA,        K_DELETE,        K_CHECK,
                                    K_SETACL,  K_CONTAINER_NULL, K_SETDATA_EMPTY, K_SETDATA_NULL,
                                    K_TTL,     K_CREATE2_EMPTY,  K_DELETECONTAINER};
        make_multi(x, zxid, kinds, (int)(sizeof(kinds) / sizeof(kinds[0])));
        break;
    }
    case K_MULTI_ERRORS: {
        static const int kinds[] = {K_ERROR, K_ERROR, K_ERROR};
        make_multi(x, zxid, kinds, 3);
        x->subs[0].err = ZOK;
        x->subs[1].err = ZNODEEXISTS;
        x->subs[2].err = ZRUNTIMEINCONSISTENCY;
        break;
    }
    case K_MULTI_EMPTY:
        make_multi(x, zxid, NULL, 0);
        break;
    default:
        fail_msg("no txn kind %d", kind);
    }
    if (x->type != ZOP_CREATESESSION && x->type != ZOP_CLOSESESSION && x->type != ZOP_ERROR &&
        x->type != ZOP_MULTI)
        x->path = xstrdup(path);
}

/* The txn logged under zxid in the log tests: every kind in turn. */
static void gen_txn(int64_t zxid, struct txn *x)
{
    make_txn((int)(zxid % NKINDS), zxid, x);
}

static int str_eq(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static int carries_data(int32_t type)
{
    return type == ZOP_CREATE || type == ZOP_CREATE2 || type == ZOP_CREATECONTAINER || type == ZOP_CREATETTL ||
           type == ZOP_SETDATA;
}

/* NULL when a and b are equal in every field their type carries, else the first field that
 * differs (datalen is meaningless for types without data). */
static const char *txn_diff(const struct txn *a, const struct txn *b)
{
#define SAME(f)          \
    if (a->f != b->f)    \
        return #f;
    SAME(type) SAME(zxid) SAME(time) SAME(session) SAME(cxid)
    if (!str_eq(a->path, b->path))
        return "path";
    if (carries_data(a->type)) {
        SAME(datalen)
        if (a->datalen > 0 && memcmp(a->data, b->data, (size_t)a->datalen) != 0)
            return "data";
    }
    SAME(nacl)
    for (int32_t i = 0; i < a->nacl; i++)
        if (a->acl[i].perms != b->acl[i].perms || !str_eq(a->acl[i].id.scheme, b->acl[i].id.scheme) ||
            !str_eq(a->acl[i].id.id, b->acl[i].id.id))
            return "acl";
    SAME(ephemeralOwner) SAME(ttl) SAME(parentCVersion) SAME(version) SAME(timeout) SAME(err) SAME(nsubs)
    for (int32_t i = 0; i < a->nsubs; i++)
        if (txn_diff(&a->subs[i], &b->subs[i]))
            return "subs";
#undef SAME
    return NULL;
}

/* ---------- files, directories, captured stderr ---------- */

struct fx {
    char dir[64];
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
    return s; /* the file is kept for the next capture */
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
    strcpy(f->dir, "/tmp/zkfs-test-wal-XXXXXX");
    if (!mkdtemp(f->dir)) {
        free(f);
        return -1;
    }
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

static int64_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void log_name(char *out, size_t n, const char *dir, int64_t first)
{
    snprintf(out, n, "%s/log.%" PRIx64, dir, (uint64_t)first);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The record offsets of a log file image (the documented format: a 16-byte header, then
 * [u32 length][u32 crc][txn] until a zero length or the end); off[n] = the end of the last. */
static int record_offsets(const uint8_t *p, size_t len, size_t *off, int max)
{
    size_t o = WAL_HEADER_LEN;
    int n = 0;
    while (o + 8 <= len && be32(p + o) != 0) {
        assert_true(n < max);
        off[n++] = o;
        o += 8 + be32(p + o);
        assert_true(o <= len);
    }
    off[n] = o;
    return n;
}

/* ---------- the log through its API ---------- */

static struct wal *open_log(const char *dir, int force_sync, int64_t prealloc, int64_t roll, int64_t next)
{
    struct wal_opts o = {.dir = dir, .force_sync = force_sync, .prealloc_bytes = prealloc, .roll_bytes = roll};
    char err[256] = "";
    struct wal *w = wal_open(&o, next, err, sizeof(err));
    if (!w)
        fail_msg("wal_open: %s", err);
    return w;
}

/* Waits, with poll(2) on the notification descriptor, until zxid is durable; returns the
 * durable zxid reported. Durability must arrive: a minute without it fails the test. */
static int64_t wait_durable(struct wal *w, int64_t zxid)
{
    for (;;) {
        int64_t d = wal_durable(w);
        if (d >= zxid)
            return d;
        struct pollfd pfd = {.fd = wal_notify_fd(w), .events = POLLIN};
        int rc = poll(&pfd, 1, 60000);
        if (rc != 1)
            fail_msg("no durability notification for zxid 0x%" PRIx64 " (poll %d, durable 0x%" PRIx64 ")",
                     (uint64_t)zxid, rc, (uint64_t)d);
    }
}

static void append_range(struct wal *w, int64_t from, int64_t to)
{
    for (int64_t z = from; z <= to; z++) {
        struct txn x;
        gen_txn(z, &x);
        wal_append(w, &x);
        txn_free(&x);
    }
}

/* Logs first..last through a real log in batches of `batch` txns, each waited for, and
 * starts a new file (wal_roll) at every zxid of rolls[] (0-terminated, may be NULL). */
static void write_log(const char *dir, int64_t first, int64_t last, int batch, const int64_t *rolls, int force_sync,
                      int64_t prealloc)
{
    struct wal *w = open_log(dir, force_sync, prealloc, 0, first);
    int r = 0;
    for (int64_t z = first; z <= last;) {
        while (rolls && rolls[r] && rolls[r] < z)
            r++;
        if (rolls && rolls[r] == z && z != first) {
            wal_roll(w);
            r++;
        }
        int64_t end = z + batch - 1;
        if (end > last)
            end = last;
        if (rolls && rolls[r] && rolls[r] <= end)
            end = rolls[r] - 1;
        append_range(w, z, end);
        assert_true(wait_durable(w, end) == end);
        z = end + 1;
    }
    wal_close(w);
}

/* What a replay delivered: it checks order and content against gen_txn as it goes. */
struct seen {
    int64_t first, next; /* first zxid delivered, the zxid expected next */
    int64_t count;
    char bad[256];       /* the first problem, "" when none */
    int64_t fail_at;     /* the callback returns -1 at this zxid (0: never) */
    void (*gen)(int64_t zxid, struct txn *x); /* what was logged under zxid (NULL: gen_txn) */
};

static int on_txn(void *ctx, const struct txn *x)
{
    struct seen *s = ctx;
    if (!s->count)
        s->first = x->zxid;
    if (x->zxid != s->next && !s->bad[0])
        snprintf(s->bad, sizeof(s->bad), "zxid 0x%" PRIx64 " delivered, 0x%" PRIx64 " expected", (uint64_t)x->zxid,
                 (uint64_t)s->next);
    struct txn want;
    (s->gen ? s->gen : gen_txn)(x->zxid, &want);
    const char *d = txn_diff(&want, x);
    if (d && !s->bad[0])
        snprintf(s->bad, sizeof(s->bad), "zxid 0x%" PRIx64 " differs in %s", (uint64_t)x->zxid, d);
    txn_free(&want);
    s->next = x->zxid + 1;
    s->count++;
    return s->fail_at && x->zxid == s->fail_at ? -1 : 0;
}

/* Replays dir after `after`; returns wal_replay's result, with what it delivered in *s. */
static int replay(const char *dir, int64_t after, struct seen *s, int64_t *last, char *err, size_t errlen)
{
    struct seen keep = *s;
    memset(s, 0, sizeof(*s));
    s->fail_at = keep.fail_at;
    s->gen = keep.gen;
    s->next = after + 1;
    err[0] = 0;
    return wal_replay(dir, after, on_txn, s, last, err, errlen);
}

/* Replays dir after `after`, which must succeed and deliver exactly after+1..want_last as gen
 * made them (NULL: gen_txn), with no warning (captured stderr holds no WARN line). */
static void replay_expect_gen(const char *dir, int64_t after, int64_t want_last, void (*gen)(int64_t, struct txn *))
{
    struct seen s = {.gen = gen};
    int64_t last = -1;
    char err[512];
    capture_begin();
    int rc = replay(dir, after, &s, &last, err, sizeof(err));
    char *out = capture_end();
    if (rc != 0)
        fail_msg("replay of %s after 0x%" PRIx64 " failed: %s", dir, (uint64_t)after, err);
    if (s.bad[0])
        fail_msg("replay after 0x%" PRIx64 ": %s", (uint64_t)after, s.bad);
    int64_t want_count = want_last > after ? want_last - after : 0;
    assert_int_equal(s.count, want_count);
    if (want_count)
        assert_int_equal(s.first, after + 1);
    assert_int_equal(last, want_last > after ? want_last : after);
    if (strstr(out, "WARN"))
        fail_msg("unexpected warning: %s", out);
    free(out);
}

static void replay_expect(const char *dir, int64_t after, int64_t want_last)
{
    replay_expect_gen(dir, after, want_last, NULL);
}

/* ---------- CRC-32C ---------- */

static uint32_t crc32c_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1)));
    }
    return ~c;
}

static void test_crc32c_check_values(void **state)
{
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* RFC 3720 B.4 (iSCSI), 32-byte vectors: long enough for the 8-byte hardware steps */
    uint8_t b[32];
    memset(b, 0, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x8A9136AAu);
    memset(b, 0xff, sizeof(b));
    assert_int_equal(crc32c(0, b, 32), 0x62A8AB43u);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)i;
    assert_int_equal(crc32c(0, b, 32), 0x46DD794Eu);
    for (int i = 0; i < 32; i++)
        b[i] = (uint8_t)(31 - i);
    assert_int_equal(crc32c(0, b, 32), 0x113FDB5Cu);
}

static void test_crc32c_incremental_and_reference(void **state)
{
    (void)state;
    enum { N = 1031 };
    uint8_t buf[N + 8];
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof(buf); i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        buf[i] = (uint8_t)r;
    }
    /* every length at every alignment agrees with the bitwise definition */
    for (size_t align = 0; align < 8; align++)
        for (size_t n = 0; n <= 300; n++)
            assert_int_equal(crc32c(0, buf + align, n), crc32c_bitwise(buf + align, n));
    uint32_t whole = crc32c(0, buf, N);
    assert_int_equal(whole, crc32c_bitwise(buf, N));
    /* continuing over any split gives the one-shot value */
    for (size_t s = 0; s <= N; s++)
        assert_int_equal(crc32c(crc32c(0, buf, s), buf + s, N - s), whole);
    for (size_t s = 0; s <= N; s += 7)
        for (size_t t = s; t <= N; t += 61)
            assert_int_equal(crc32c(crc32c(crc32c(0, buf, s), buf + s, t - s), buf + t, N - t), whole);
    /* one byte at a time */
    uint32_t c = 0;
    for (size_t i = 0; i < N; i++)
        c = crc32c(c, buf + i, 1);
    assert_int_equal(c, whole);
}

/* ---------- the txn codec ---------- */

static void encode(const struct txn *x, struct jbuf *b)
{
    jb_init(b);
    txn_encode(b, x);
    assert_false(b->oom);
}

static void test_txn_roundtrip_every_type(void **state)
{
    (void)state;
    for (int k = 0; k < NKINDS; k++) {
        struct txn x, y;
        struct jbuf b, b2;
        make_txn(k, 0x100000000LL + k, &x);
        encode(&x, &b);
        assert_int_equal(txn_decode(b.p, b.len, &y), ZOK);
        const char *d = txn_diff(&x, &y);
        if (d)
            fail_msg("kind %d (%s): decoded txn differs in %s", k, zop_name(x.type), d);
        /* null and empty data stay distinct */
        if (carries_data(x.type))
            assert_int_equal(y.datalen, x.datalen);
        /* and the decoded txn encodes to the same bytes */
        encode(&y, &b2);
        assert_int_equal(b2.len, b.len);
        assert_memory_equal(b2.p, b.p, b.len);
        jb_free(&b2);
        txn_free(&y);
        txn_free(&x);
        jb_free(&b);
    }
}

static void test_txn_truncated_and_trailing_rejected(void **state)
{
    (void)state;
    static const struct txn zero;
    for (int k = 0; k < NKINDS; k++) {
        struct txn x, y;
        struct jbuf b;
        make_txn(k, 77 + k, &x);
        encode(&x, &b);
        /* every proper prefix, the empty one included */
        for (size_t n = 0; n < b.len; n++) {
            memset(&y, 0xa5, sizeof(y));
            if (txn_decode(b.p, n, &y) != ZMARSHALLINGERROR)
                fail_msg("kind %d (%s): a prefix of %zu of %zu bytes decodes", k, zop_name(x.type), n, b.len);
            assert_memory_equal(&y, &zero, sizeof(y)); /* left empty: nothing to free, nothing leaked */
        }
        /* trailing bytes, zero or not */
        uint8_t *p = malloc(b.len + 8);
        assert_non_null(p);
        memcpy(p, b.p, b.len);
        for (size_t extra = 1; extra <= 8; extra++) {
            memset(p + b.len, extra & 1 ? 0 : 0x7f, extra);
            memset(&y, 0xa5, sizeof(y));
            assert_int_equal(txn_decode(p, b.len + extra, &y), ZMARSHALLINGERROR);
            assert_memory_equal(&y, &zero, sizeof(y));
        }
        free(p);
        txn_free(&x);
        jb_free(&b);
    }
}

/* Encodings no encoder produces: unknown types, nested multis, bad counts and lengths. */
static void test_txn_malformed_rejected(void **state)
{
    (void)state;
    static const struct txn zero;
    struct jbuf b;
    struct txn y;
    const int32_t bad_types[] = {ZOP_GETDATA, ZOP_NOTIFY, 99, -2, ZOP_SETWATCHES};
    for (size_t i = 0; i < sizeof(bad_types) / sizeof(bad_types[0]); i++) {
        jb_init(&b);
        jw_long(&b, 1), jw_long(&b, 2), jw_long(&b, 3), jw_int(&b, 4);
        jw_int(&b, bad_types[i]);
        assert_int_equal(txn_decode(b.p, b.len, &y), ZMARSHALLINGERROR);
        assert_memory_equal(&y, &zero, sizeof(y));
        jb_free(&b);
    }
    /* a multi inside a multi */
    jb_init(&b);
    jw_long(&b, 1), jw_long(&b, 2), jw_long(&b, 3), jw_int(&b, 4);
    jw_int(&b, ZOP_MULTI), jw_int(&b, 1), jw_int(&b, ZOP_MULTI), jw_int(&b, 0);
    assert_int_equal(txn_decode(b.p, b.len, &y), ZMARSHALLINGERROR);
    assert_memory_equal(&y, &zero, sizeof(y));
    jb_free(&b);
    /* sub-txn counts that are negative or larger than the bytes could hold */
    const int32_t counts[] = {-1, INT32_MIN, 3, INT32_MAX};
    for (size_t i = 0; i < 4; i++) {
        jb_init(&b);
        jw_long(&b, 1), jw_long(&b, 2), jw_long(&b, 3), jw_int(&b, 4);
        jw_int(&b, ZOP_MULTI), jw_int(&b, counts[i]), jw_int(&b, ZOP_CLOSESESSION), jw_int(&b, ZOP_CLOSESESSION);
        assert_int_equal(txn_decode(b.p, b.len, &y), ZMARSHALLINGERROR);
        assert_memory_equal(&y, &zero, sizeof(y));
        jb_free(&b);
    }
    /* a data length below -1, and one past the end, after a path that was allocated */
    const int32_t lens[] = {-2, 1000};
    for (size_t i = 0; i < 2; i++) {
        jb_init(&b);
        jw_long(&b, 1), jw_long(&b, 2), jw_long(&b, 3), jw_int(&b, 4);
        jw_int(&b, ZOP_SETDATA), jw_string(&b, "/a"), jw_int(&b, lens[i]), jw_int(&b, 0);
        assert_int_equal(txn_decode(b.p, b.len, &y), ZMARSHALLINGERROR);
        assert_memory_equal(&y, &zero, sizeof(y));
        jb_free(&b);
    }
}

static void test_txn_print(void **state)
{
    (void)state;
    for (int k = 0; k < NKINDS; k++) {
        struct txn x;
        make_txn(k, 0xabc0 + k, &x);
        char *text = NULL;
        size_t len = 0;
        FILE *out = open_memstream(&text, &len);
        assert_non_null(out);
        txn_print(out, &x);
        fclose(out);
        /* one line naming the zxid, the session, the type and the path */
        char want[64];
        assert_non_null(strchr(text, '\n'));
        assert_true(strchr(text, '\n') == text + len - 1);
        snprintf(want, sizeof(want), "zxid=0x%" PRIx64 " ", (uint64_t)x.zxid);
        assert_non_null(strstr(text, want));
        snprintf(want, sizeof(want), "session=0x%" PRIx64 " ", (uint64_t)x.session);
        assert_non_null(strstr(text, want));
        assert_non_null(strstr(text, zop_name(x.type)));
        if (x.path)
            assert_non_null(strstr(text, x.path));
        for (int32_t i = 0; i < x.nsubs; i++) {
            assert_non_null(strstr(text, zop_name(x.subs[i].type)));
            if (x.subs[i].path)
                assert_non_null(strstr(text, x.subs[i].path));
        }
        free(text);
        txn_free(&x);
    }
}

/* ---------- log round trips ---------- */

/* Many batches, durability observed through the descriptor, then replay sees them all. */
static void roundtrip(const char *dir, int force_sync)
{
    struct wal *w = open_log(dir, force_sync, 0, 0, 1);
    /* before anything is logged, everything before next_zxid counts as durable */
    assert_int_equal(wal_durable(w), 0);
    int64_t z = 1;
    for (int batch = 0; batch < 40; batch++) {
        int n = 1 + (batch * 7) % 23;
        append_range(w, z, z + n - 1);
        z += n;
        int64_t d = wait_durable(w, z - 1);
        assert_int_equal(d, z - 1); /* never beyond what was appended */
    }
    int64_t last = z - 1;
    /* durable means in the file: the dump reads every record while the log is still open */
    char **names;
    int64_t *zx;
    int n = zk_list_files(dir, "log.", &names, &zx);
    assert_int_equal(n, 1);
    assert_int_equal(zx[0], 1);
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    assert_int_equal(wal_dump(names[0], out), 0);
    fclose(out);
    char want[64];
    snprintf(want, sizeof(want), "\n%" PRId64 " records, ", last);
    assert_non_null(strstr(text, want));
    free(text);
    zk_free_list(names, zx, n);
    wal_close(w);
    replay_expect(dir, 0, last);
    /* and again: a replay changes nothing in a sound log */
    replay_expect(dir, 0, last);
}

static void test_log_roundtrip_force_sync(void **state)
{
    roundtrip(((struct fx *)*state)->dir, 1);
}

static void test_log_roundtrip_no_sync(void **state)
{
    roundtrip(((struct fx *)*state)->dir, 0);
}

/* wal_close writes what is still queued: nothing appended is lost by a clean shutdown. */
static void test_log_close_flushes_queue(void **state)
{
    struct fx *f = *state;
    struct wal *w = open_log(f->dir, 1, 0, 0, 1);
    append_range(w, 1, 500);
    wal_close(w);
    replay_expect(f->dir, 0, 500);
}

/* wal_roll starts a file per batch boundary asked for, named after its first zxid; replay
 * crosses them, and after=K delivers exactly K+1.. for every K. */
static void test_log_roll_and_replay_after(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 12, 30, 31, 45, 0};
    write_log(f->dir, 1, 60, 4, rolls, 1, 0);
    char **names;
    int64_t *zx;
    int n = zk_list_files(f->dir, "log.", &names, &zx);
    const int64_t starts[] = {1, 11, 12, 30, 31, 45};
    assert_int_equal(n, 6);
    for (int i = 0; i < n; i++) {
        char want[128];
        log_name(want, sizeof(want), f->dir, starts[i]);
        assert_int_equal(zx[i], starts[i]);
        assert_string_equal(names[i], want);
    }
    zk_free_list(names, zx, n);
    for (int64_t after = 0; after <= 63; after++)
        replay_expect(f->dir, after, 60);
}

/* roll_bytes starts new files by size (only at batch boundaries); preallocation leaves a
 * zero tail that replay reads as the end, without a warning and without changing the file. */
static void test_log_roll_by_size_and_prealloc(void **state)
{
    struct fx *f = *state;
    struct wal *w = open_log(f->dir, 1, 4096, 3000, 1);
    for (int64_t z = 1; z <= 300; z += 6) {
        append_range(w, z, z + 5);
        wait_durable(w, z + 5);
    }
    wal_close(w);
    char **names;
    int64_t *zx;
    int n = zk_list_files(f->dir, "log.", &names, &zx);
    assert_true(n >= 3);
    int64_t sizes[64];
    assert_true(n <= 64);
    for (int i = 0; i < n; i++) {
        size_t len, off[512];
        uint8_t *p = read_all(names[i], &len);
        int recs = record_offsets(p, len, off, 511);
        assert_true(recs > 0);
        struct txn x;
        assert_int_equal(txn_decode(p + off[0] + 8, be32(p + off[0]), &x), ZOK);
        assert_int_equal(x.zxid, zx[i]); /* named after its first record */
        txn_free(&x);
        if (i + 1 < n)
            assert_true(off[recs] >= 3000); /* only a full file is left behind */
        /* preallocated: the file is larger than what was written, and the rest is zeros */
        assert_true(len >= 4096);
        assert_true(len >= off[recs]);
        for (size_t j = off[recs]; j < len; j++)
            assert_int_equal(p[j], 0);
        sizes[i] = (int64_t)len;
        free(p);
    }
    replay_expect(f->dir, 0, 300);
    for (int i = 0; i < n; i++)
        assert_int_equal(file_size(names[i]), sizes[i]);
    replay_expect(f->dir, 150, 300);
    zk_free_list(names, zx, n);
}

/* After recovery the log continues in a new file at the next zxid, and replay reads both. */
static void test_log_continues_after_recovery(void **state)
{
    struct fx *f = *state;
    write_log(f->dir, 1, 50, 10, NULL, 0, 8192);
    replay_expect(f->dir, 0, 50);
    write_log(f->dir, 51, 80, 7, NULL, 0, 8192);
    replay_expect(f->dir, 0, 80);
    replay_expect(f->dir, 50, 80);
    char path[128];
    log_name(path, sizeof(path), f->dir, 51);
    assert_true(file_size(path) > 0);
}

/* The callback can stop the replay: -1 with a message, nothing after it delivered. */
static void test_replay_callback_abort(void **state)
{
    struct fx *f = *state;
    write_log(f->dir, 1, 20, 5, NULL, 0, 0);
    struct seen s = {.fail_at = 7};
    int64_t last;
    char err[512];
    assert_int_equal(replay(f->dir, 0, &s, &last, err, sizeof(err)), -1);
    assert_int_equal(s.count, 7);
    assert_non_null(strstr(err, "0x7"));
    s.fail_at = 0;
    replay_expect(f->dir, 0, 20);
}

/* Files wholly at or before `after` are not needed (they may have been purged); a missing
 * file that is needed is a hole. */
static void test_replay_after_purged_files(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 5, rolls, 0, 0);
    char path[128];
    log_name(path, sizeof(path), f->dir, 1);
    assert_int_equal(unlink(path), 0);
    replay_expect(f->dir, 10, 30);
    replay_expect(f->dir, 17, 30);
    struct seen s = {0};
    int64_t last;
    char err[512];
    for (int64_t after = 0; after < 10; after++) {
        assert_int_equal(replay(f->dir, after, &s, &last, err, sizeof(err)), -1);
        assert_int_equal(s.count, 0);
        assert_non_null(strstr(err, "missing"));
    }
}

/* ---------- damage replay must refuse ---------- */

/* A flipped byte anywhere in a record of the newest file that has valid records after it is
 * not a torn write: replay fails, naming the file and the record's offset, and leaves the
 * file as it was. */
static void test_corrupt_record_mid_last_file_fails(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 3, rolls, 0, 0);
    char path[128];
    log_name(path, sizeof(path), f->dir, 21);
    size_t len, off[32];
    uint8_t *img = read_all(path, &len);
    int recs = record_offsets(img, len, off, 31);
    assert_int_equal(recs, 10);
    const int victim = 4; /* zxid 25, with 26..30 after it */
    for (size_t b = off[victim]; b < off[victim + 1]; b++) {
        uint8_t *p = malloc(len);
        memcpy(p, img, len);
        p[b] ^= 0xff;
        write_all_to(path, p, len);
        struct seen s = {0};
        int64_t last;
        char err[512], want[64];
        capture_begin();
        int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
        free(capture_end());
        if (rc != -1)
            fail_msg("flipped byte at %zu (record at %zu) not detected", b, off[victim]);
        assert_non_null(strstr(err, path));
        snprintf(want, sizeof(want), "offset %zu", off[victim]);
        if (!strstr(err, want))
            fail_msg("message does not give the record's offset %zu: %s", off[victim], err);
        assert_string_equal(s.bad, "");
        assert_int_equal(s.count, 24); /* the records before it, nothing after */
        size_t len2;
        uint8_t *now = read_all(path, &len2);
        assert_int_equal(len2, len);
        assert_memory_equal(now, p, len);
        free(now);
        free(p);
    }
    write_all_to(path, img, len);
    replay_expect(f->dir, 0, 30);
    free(img);
}

/* A zeroed record header (8 zero bytes, as a zeroed sector leaves it) or a wholly zeroed
 * record in the middle of the newest file, with valid records after it, is not the clean end
 * of the log: replay must refuse (-1 naming the file and offset) rather than drop the
 * acknowledged txns after it. The same damage in an older file is refused too. */
static void test_zeroed_record_mid_last_file_fails(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 3, rolls, 0, 4096);
    char path[128];
    log_name(path, sizeof(path), f->dir, 21);
    size_t len, off[32];
    uint8_t *img = read_all(path, &len);
    assert_int_equal(record_offsets(img, len, off, 31), 10);
    const int victim = 4; /* zxid 25, with 26..30 after it */
    int failures = 0;
    char why[512] = "";
    for (int whole = 0; whole < 2; whole++) {
        uint8_t *p = malloc(len);
        memcpy(p, img, len);
        memset(p + off[victim], 0, whole ? off[victim + 1] - off[victim] : 8);
        write_all_to(path, p, len);
        free(p);
        struct seen s = {0};
        int64_t last;
        char err[512], want[64];
        capture_begin();
        int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
        free(capture_end());
        snprintf(want, sizeof(want), "offset %zu", off[victim]);
        if (rc != -1 || !strstr(err, path) || !strstr(err, want)) {
            failures++;
            snprintf(why, sizeof(why), "zeroed %s of the record at %zu: replay returned %d with %" PRId64
                     " txns (up to 0x%" PRIx64 "), err \"%s\"",
                     whole ? "all" : "the header", off[victim], rc, s.count, (uint64_t)last, err);
        }
        write_all_to(path, img, len);
    }
    free(img);
    /* the same damage in an older file is refused (the zxids then have a hole) */
    log_name(path, sizeof(path), f->dir, 11);
    img = read_all(path, &len);
    assert_int_equal(record_offsets(img, len, off, 31), 10);
    uint8_t *p = malloc(len);
    memcpy(p, img, len);
    memset(p + off[4], 0, 8);
    write_all_to(path, p, len);
    struct seen s = {0};
    int64_t last;
    char err[512];
    capture_begin();
    assert_int_equal(replay(f->dir, 0, &s, &last, err, sizeof(err)), -1);
    free(capture_end());
    assert_non_null(strstr(err, "zeroed at offset"));
    write_all_to(path, img, len);
    free(p);
    free(img);
    if (failures)
        fail_msg("%s", why);
}

/* Damage in a file that is not the newest is never a torn tail, wherever it is: in a middle
 * record, in its last record, or a file cut short inside its last record. */
static void test_corrupt_record_in_older_file_fails(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 4, rolls, 0, 0);
    char path[128];
    log_name(path, sizeof(path), f->dir, 11);
    size_t len, off[32];
    uint8_t *img = read_all(path, &len);
    int recs = record_offsets(img, len, off, 31);
    assert_int_equal(recs, 10);
    struct {
        size_t at;     /* byte flipped, or the length cut to */
        int cut;
        size_t record; /* the offset the message must name */
        int64_t delivered;
    } cases[] = {
        {off[3] + 9, 0, off[3], 13},
        {off[0] + 2, 0, off[0], 10},
        {off[9] + 12, 0, off[9], 19},
        {off[9] + 5, 1, off[9], 19},
        {off[9] + 8 + (off[10] - off[9] - 8) / 2, 1, off[9], 19},
        {off[10] - 1, 1, off[9], 19},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t *p = malloc(len);
        memcpy(p, img, len);
        size_t plen = len;
        if (cases[i].cut)
            plen = cases[i].at;
        else
            p[cases[i].at] ^= 0x01;
        write_all_to(path, p, plen);
        struct seen s = {0};
        int64_t last;
        char err[512], want[64];
        capture_begin();
        int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
        free(capture_end());
        if (rc != -1)
            fail_msg("case %zu: damage in an older file not detected", i);
        assert_non_null(strstr(err, path));
        snprintf(want, sizeof(want), "offset %zu", cases[i].record);
        if (!strstr(err, want))
            fail_msg("case %zu: message does not give offset %zu: %s", i, cases[i].record, err);
        assert_int_equal(s.count, cases[i].delivered);
        assert_int_equal(file_size(path), (int64_t)plen); /* not "repaired" */
        free(p);
    }
    write_all_to(path, img, len);
    replay_expect(f->dir, 0, 30);
    free(img);
}

/* A missing file in the middle is a hole in the history: refused, whatever `after` is below
 * the hole; skipping the whole hole (after at or past its end) is fine. */
static void test_hole_in_zxids_fails(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 31, 0};
    write_log(f->dir, 1, 40, 5, rolls, 0, 0);
    char path[128];
    log_name(path, sizeof(path), f->dir, 21);
    assert_int_equal(unlink(path), 0);
    for (int64_t after = 0; after < 30; after++) {
        struct seen s = {0};
        int64_t last;
        char err[512];
        assert_int_equal(replay(f->dir, after, &s, &last, err, sizeof(err)), -1);
        if (!strstr(err, "missing"))
            fail_msg("after %" PRId64 ": %s", after, err);
        assert_int_equal(s.count, after < 20 ? 20 - after : 0);
    }
    replay_expect(f->dir, 30, 40);
}

/* Headers: a bad one fails replay, except a newest file shorter than a header (a crash while
 * creating it), which is removed with a warning so the log can continue under its name. */
static void test_bad_headers(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 5, rolls, 0, 0);
    char older[128], newest[128];
    log_name(older, sizeof(older), f->dir, 11);
    log_name(newest, sizeof(newest), f->dir, 21);
    const char *files[] = {older, newest};
    for (int fi = 0; fi < 2; fi++) {
        size_t len;
        uint8_t *img = read_all(files[fi], &len);
        const size_t flips[] = {0, 3, 7}; /* magic, magic, version */
        for (int i = 0; i < 3; i++) {
            uint8_t *p = malloc(len);
            memcpy(p, img, len);
            p[flips[i]] ^= 0x20;
            write_all_to(files[fi], p, len);
            struct seen s = {0};
            int64_t last;
            char err[512];
            capture_begin();
            int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
            free(capture_end());
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, files[fi]));
            assert_non_null(strstr(err, "header"));
            assert_int_equal(file_size(files[fi]), (int64_t)len);
            free(p);
        }
        /* shorter than a header */
        write_all_to(files[fi], img, 9);
        struct seen s = {0};
        int64_t last;
        char err[512];
        capture_begin();
        int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
        char *out = capture_end();
        if (fi == 0) {
            assert_int_equal(rc, -1);
            assert_non_null(strstr(err, older));
            write_all_to(files[fi], img, len);
        } else {
            if (rc != 0)
                fail_msg("a newest file shorter than its header: %s", err);
            assert_int_equal(s.count, 20);
            assert_int_equal(last, 20);
            assert_non_null(strstr(out, "WARN"));
            assert_non_null(strstr(out, newest));
            assert_int_equal(file_size(newest), -1); /* removed */
            replay_expect(f->dir, 0, 20);
            /* the log continues under the removed file's name */
            write_log(f->dir, 21, 25, 5, NULL, 0, 0);
            replay_expect(f->dir, 0, 25);
        }
        free(out);
        free(img);
    }
}

/* ---------- torn tails ---------- */

enum tear { TEAR_CUT, TEAR_GARBAGE, TEAR_ZEROS };
static const char *tear_name[] = {"cut", "garbage", "zeros"};

/* Writes img[0..end) to path damaged from byte p on: cut there, or the rest overwritten.
 * Returns 0 when the overwrite changed nothing (zeros over a record ending in zero bytes). */
static int write_torn(const char *path, const uint8_t *img, size_t p, size_t end, enum tear how, uint64_t *rng)
{
    uint8_t *b = malloc(end ? end : 1);
    assert_non_null(b);
    memcpy(b, img, p);
    for (size_t i = p; i < end; i++) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        b[i] = how == TEAR_ZEROS ? 0 : (uint8_t)(*rng | 1);
    }
    int changed = how == TEAR_CUT || memcmp(b + p, img + p, end - p) != 0;
    write_all_to(path, b, how == TEAR_CUT ? p : end);
    free(b);
    return changed;
}

/* Tears the record at off[j] of the newest file (as if it were the last one written) at
 * every byte offset, three ways; each time replay must deliver exactly the records before it,
 * repair the file, and a second replay must agree without a warning. Returns the cases run. */
static int tear_every_offset(const char *dir, const char *path, const uint8_t *img, const size_t *off, int j,
                             int64_t first_in_file, int64_t prefix_last, int check_continue)
{
    uint64_t rng = 0x2545f4914f6cdd1dull + (uint64_t)j;
    int64_t want_last = first_in_file + j - 1; /* the record before the torn one */
    if (j == 0)
        want_last = prefix_last;
    int runs = 0;
    for (int how = TEAR_CUT; how <= TEAR_ZEROS; how++) {
        for (size_t p = off[j]; p < off[j + 1]; p++) {
            if (!write_torn(path, img, p, off[j + 1], how, &rng))
                continue; /* the record is intact: not a tear */
            struct seen s = {0};
            int64_t last;
            char err[512];
            capture_begin();
            int rc = replay(dir, 0, &s, &last, err, sizeof(err));
            char *out = capture_end();
            if (rc != 0)
                fail_msg("%s at byte %zu of the record at %zu: replay failed: %s", tear_name[how], p, off[j], err);
            if (s.bad[0] || s.count != want_last || last != want_last)
                fail_msg("%s at byte %zu of the record at %zu: delivered %" PRId64 " records up to 0x%" PRIx64
                         " (want 0x%" PRIx64 ") %s",
                         tear_name[how], p, off[j], s.count, (uint64_t)last, (uint64_t)want_last, s.bad);
            /* a warning, when there is one, says where and what */
            if (strstr(out, "WARN")) {
                char want[64];
                snprintf(want, sizeof(want), "offset %zu", off[j]);
                assert_non_null(strstr(out, path));
                assert_non_null(strstr(out, want));
            }
            free(out);
            /* repaired: the torn bytes are gone or read as the end of the file */
            int64_t size = file_size(path);
            if (j == 0) {
                assert_int_equal(size, -1); /* held nothing else: removed */
            } else {
                assert_true(size >= (int64_t)off[j]);
                size_t len;
                uint8_t *now = read_all(path, &len);
                assert_memory_equal(now, img, off[j]);
                for (size_t i = off[j]; i < len && i < off[j] + 4; i++)
                    if (now[i] != 0)
                        fail_msg("%s at byte %zu: replay left a non-zero length at %zu", tear_name[how], p, off[j]);
                free(now);
            }
            capture_begin();
            rc = replay(dir, 0, &s, &last, err, sizeof(err));
            out = capture_end();
            if (rc != 0 || s.bad[0] || s.count != want_last || last != want_last)
                fail_msg("%s at byte %zu: second replay differs (%s %s)", tear_name[how], p, err, s.bad);
            if (strstr(out, "WARN"))
                fail_msg("%s at byte %zu: second replay warns: %s", tear_name[how], p, out);
            free(out);
            /* and the log can go on from there */
            if (check_continue && p == off[j] + (off[j + 1] - off[j]) / 2) {
                write_log(dir, want_last + 1, want_last + 3, 3, NULL, 0, 0);
                replay_expect(dir, 0, want_last + 3);
                char next[128];
                log_name(next, sizeof(next), dir, want_last + 1);
                if (strcmp(next, path) != 0)
                    assert_int_equal(unlink(next), 0);
            }
            runs++;
        }
    }
    return runs;
}

/* The newest file (after two older ones) holds one record of every kind; each in turn is
 * made the last one written and torn at every offset. The first one torn leaves a file that
 * holds nothing: it is removed and the log continues under the same name. */
static void test_torn_tail_every_offset(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    const int64_t last = 20 + NKINDS;
    write_log(f->dir, 1, last, 3, rolls, 1, 0);
    char path[128];
    log_name(path, sizeof(path), f->dir, 21);
    size_t len, off[64];
    uint8_t *img = read_all(path, &len);
    int recs = record_offsets(img, len, off, 63);
    assert_int_equal(recs, NKINDS);
    int runs = 0;
    int big = 0;
    for (int j = 0; j < recs; j++) {
        big |= off[j + 1] - off[j] > 256 + 8; /* a length with a non-zero second byte */
        runs += tear_every_offset(f->dir, path, img, off, j, 21, 20, j % 4 == 0);
    }
    assert_true(big);
    assert_true(runs > 3 * 1000);
    free(img);
}

/* A real preallocated file torn mid-batch: the unwritten part is zeros up to the
 * preallocated size, and garbage may stand where the record was cut. */
static void test_torn_tail_preallocated(void **state)
{
    struct fx *f = *state;
    write_log(f->dir, 1, 40, 4, NULL, 1, 65536);
    char path[128];
    log_name(path, sizeof(path), f->dir, 1);
    size_t len, off[64];
    uint8_t *img = read_all(path, &len);
    assert_true(len >= 65536);
    int recs = record_offsets(img, len, off, 63);
    assert_int_equal(recs, 40);
    const int j = 39;
    uint64_t rng = 42;
    for (int how = TEAR_CUT; how <= TEAR_ZEROS; how++)
        for (size_t p = off[j]; p < off[j + 1]; p += 3) {
            uint8_t *b = malloc(len);
            memcpy(b, img, len);
            for (size_t i = p; i < off[j + 1]; i++) {
                rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
                b[i] = how == TEAR_GARBAGE ? (uint8_t)(rng | 1) : 0;
            }
            int changed = how == TEAR_CUT || memcmp(b, img, len) != 0;
            write_all_to(path, b, how == TEAR_CUT ? p : len);
            free(b);
            if (!changed)
                continue;
            struct seen s = {0};
            int64_t last;
            char err[512];
            capture_begin();
            int rc = replay(f->dir, 0, &s, &last, err, sizeof(err));
            free(capture_end());
            if (rc != 0 || s.count != 39 || s.bad[0])
                fail_msg("%s at %zu: rc %d, %" PRId64 " records: %s %s", tear_name[how], p, rc, s.count, err, s.bad);
            replay_expect(f->dir, 0, 39);
        }
    free(img);
}

/* ---------- ensembles: epochs, encoded txns, truncation ---------- */

#define ZX(epoch, counter) ((int64_t)(epoch) << 32 | (counter))

/* Fills zs with runs of epoch << 32 | 1..count (runs[i] = {epoch, count}); returns how many. */
static int epoch_seq(int64_t *zs, int max, const int64_t (*runs)[2], int nruns)
{
    int n = 0;
    for (int r = 0; r < nruns; r++)
        for (int64_t c = 1; c <= runs[r][1]; c++) {
            assert_true(n < max);
            zs[n++] = ZX(runs[r][0], c);
        }
    return n;
}

static void append_one(struct wal *w, int64_t zxid, int as_bytes)
{
    struct txn x;
    gen_txn(zxid, &x);
    if (as_bytes) {
        struct jbuf b;
        encode(&x, &b);
        wal_append_bytes(w, zxid, b.p, b.len);
        jb_free(&b);
    } else {
        wal_append(w, &x);
    }
    txn_free(&x);
}

/* Logs zs[0..n) through a real log opened at next, in batches of `batch` txns, each waited
 * for, starting a new file before every index of rolls[] (ascending, 0-terminated, may be
 * NULL); as_bytes: through wal_append_bytes. */
static void write_seq(const char *dir, int64_t next, const int64_t *zs, int n, int batch, const int *rolls,
                      int as_bytes, int64_t prealloc)
{
    struct wal *w = open_log(dir, 1, prealloc, 0, next);
    assert_int_equal(wal_durable(w), next - 1);
    int r = 0;
    for (int i = 0; i < n; i++) {
        if (rolls && rolls[r] == i) {
            wal_roll(w);
            r++;
        }
        append_one(w, zs[i], as_bytes);
        if ((i + 1) % batch == 0 || i + 1 == n || (rolls && rolls[r] == i + 1))
            assert_true(wait_durable(w, zs[i]) == zs[i]);
    }
    wal_close(w);
}

/* What a replay delivered, against an expected zxid sequence. */
struct seq {
    const int64_t *want;
    int n, got;
    char bad[256];
};

static int on_seq(void *ctx, const struct txn *x)
{
    struct seq *q = ctx;
    if (!q->bad[0] && (q->got >= q->n || x->zxid != q->want[q->got]))
        snprintf(q->bad, sizeof(q->bad), "zxid 0x%" PRIx64 " delivered as txn %d", (uint64_t)x->zxid, q->got);
    struct txn want;
    gen_txn(x->zxid, &want);
    const char *d = txn_diff(&want, x);
    if (d && !q->bad[0])
        snprintf(q->bad, sizeof(q->bad), "zxid 0x%" PRIx64 " differs in %s", (uint64_t)x->zxid, d);
    txn_free(&want);
    q->got++;
    return 0;
}

/* Replays dir after `after`, which must succeed, without a warning, and deliver exactly the
 * zxids of zs[0..n) above `after`, in order, as gen_txn made them. */
static void replay_expect_seq(const char *dir, int64_t after, const int64_t *zs, int n)
{
    int k = 0;
    while (k < n && zs[k] <= after)
        k++;
    struct seq q = {.want = zs + k, .n = n - k};
    int64_t last = -1;
    char err[512] = "";
    capture_begin();
    int rc = wal_replay(dir, after, on_seq, &q, &last, err, sizeof(err));
    char *out = capture_end();
    if (rc != 0)
        fail_msg("replay of %s after 0x%" PRIx64 " failed: %s", dir, (uint64_t)after, err);
    if (q.bad[0])
        fail_msg("replay after 0x%" PRIx64 ": %s", (uint64_t)after, q.bad);
    assert_int_equal(q.got, n - k);
    assert_int_equal(last, n > k ? zs[n - 1] : after);
    if (strstr(out, "WARN"))
        fail_msg("unexpected warning: %s", out);
    free(out);
}

/* Replays dir after `after`, which must fail for missing transactions. */
static void replay_expect_missing(const char *dir, int64_t after)
{
    struct seq q = {0};
    int64_t last;
    char err[512] = "";
    capture_begin();
    int rc = wal_replay(dir, after, on_seq, &q, &last, err, sizeof(err));
    free(capture_end());
    if (rc != -1 || !strstr(err, "missing"))
        fail_msg("replay of %s after 0x%" PRIx64 ": rc %d, err \"%s\"", dir, (uint64_t)after, rc, err);
}

static void test_zxid_follows(void **state)
{
    (void)state;
    assert_true(wal_zxid_follows(0, 1));
    assert_true(wal_zxid_follows(41, 42));
    assert_false(wal_zxid_follows(41, 41));
    assert_false(wal_zxid_follows(41, 43));
    assert_false(wal_zxid_follows(42, 41));
    assert_true(wal_zxid_follows(ZX(1, 9), ZX(1, 10)));
    assert_true(wal_zxid_follows(ZX(1, 9), ZX(2, 1)));
    assert_true(wal_zxid_follows(ZX(1, 9), ZX(7, 1)));
    assert_true(wal_zxid_follows(5, ZX(1, 1)));
    assert_true(wal_zxid_follows(ZX(2, 0), ZX(2, 1))); /* a new leader's snapshot zxid */
    assert_false(wal_zxid_follows(ZX(1, 9), ZX(2, 2)));
    assert_false(wal_zxid_follows(ZX(1, 9), ZX(2, 0)));
    assert_false(wal_zxid_follows(ZX(2, 1), ZX(2, 1)));
    assert_false(wal_zxid_follows(ZX(2, 5), ZX(1, 1)));
    assert_false(wal_zxid_follows(ZX(2, 5), ZX(2, 1)));
}

/* Epoch jumps, within a batch, at a batch boundary, at a roll and as the first record after
 * wal_open, are logged and replayed in order, from any `after`; a snapshot may end anywhere
 * in an epoch (or at a new leader's counter 0) before the next epoch's first txn. */
static void test_log_epoch_jumps(void **state)
{
    struct fx *f = *state;
    const int64_t runs[][2] = {{0, 4}, {1, 6}, {2, 1}, {3, 5}, {9, 7}};
    int64_t zs[64];
    int n = epoch_seq(zs, 64, runs, 5);
    const int rolls[] = {11, 0}; /* the jump to epoch 3 starts a file; the others do not */
    write_seq(f->dir, 1, zs, 16, 3, rolls, 0, 4096);
    /* the first record after wal_open may start a new epoch */
    write_seq(f->dir, ZX(3, 6), zs + 16, n - 16, 4, NULL, 0, 0);
    char **names;
    int64_t *zx;
    int nf = zk_list_files(f->dir, "log.", &names, &zx);
    assert_int_equal(nf, 3);
    assert_int_equal(zx[0], 1);
    assert_int_equal(zx[1], ZX(3, 1));
    assert_int_equal(zx[2], ZX(9, 1));
    zk_free_list(names, zx, nf);
    replay_expect_seq(f->dir, 0, zs, n);
    for (int i = 0; i < n; i++)
        replay_expect_seq(f->dir, zs[i], zs, n);
    replay_expect_seq(f->dir, ZX(1, 30), zs, n); /* epoch 1's end in a snapshot, not logged */
    replay_expect_seq(f->dir, ZX(3, 0), zs, n);
    replay_expect_seq(f->dir, ZX(9, 0), zs, n);
}

/* Runs fn(dir) in a child whose stderr goes to errlog; returns its wait status. */
static int run_child(void (*fn)(const char *dir), const char *dir, const char *errlog)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (e < 0 || dup2(e, 2) < 0)
            _exit(23);
        fn(dir);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void child_append_hole(const char *dir)
{
    struct wal *w = open_log(dir, 0, 0, 0, ZX(1, 1));
    append_one(w, ZX(1, 1), 0);
    append_one(w, ZX(1, 3), 0);
}

static void child_append_epoch_hole(const char *dir)
{
    struct wal *w = open_log(dir, 0, 0, 0, ZX(1, 1));
    append_one(w, ZX(1, 1), 1);
    append_one(w, ZX(2, 2), 1);
}

static void child_append_over_limit(const char *dir)
{
    struct wal *w = open_log(dir, 0, 0, 0, ZX(1, 1));
    uint8_t *big = calloc(1, WAL_MAX_RECORD + 1);
    if (!big)
        _exit(25);
    big[3] = 1, big[7] = 1; /* the zxid, big-endian, as txn_encode starts */
    wal_append_bytes(w, ZX(1, 1), big, WAL_MAX_RECORD + 1);
}

/* A hole is still a hole across epochs: wal_append and wal_append_bytes assert (the build
 * keeps asserts), and replay refuses a log with one, between records or between the
 * snapshot and the first record. An over-long encoded txn is fatal. */
static void test_epoch_holes_refused(void **state)
{
    struct fx *f = *state;
    char errlog[128];
    snprintf(errlog, sizeof(errlog), "%s/stderr", f->dir);
    void (*aborts[])(const char *) = {child_append_hole, child_append_epoch_hole};
    for (int i = 0; i < 2; i++) {
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/a%d", f->dir, i);
        assert_int_equal(mkdir(dir, 0755), 0);
        int status = run_child(aborts[i], dir, errlog);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
            fail_msg("child %d: status 0x%x, want SIGABRT", i, status);
    }
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/big", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    int status = run_child(child_append_over_limit, dir, errlog);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != WAL_EXIT_STATUS)
        fail_msg("over-limit child: status 0x%x, want exit %d", status, WAL_EXIT_STATUS);
    size_t elen;
    char *etext = (char *)read_all(errlog, &elen);
    etext[elen] = 0;
    assert_non_null(strstr(etext, "over the record limit"));
    free(etext);

    /* holes written by separate logs: e|1 e|2, then e|4, (e+1)|2 or (e+1)|0 */
    const int64_t head[] = {ZX(1, 1), ZX(1, 2)};
    const int64_t tails[] = {ZX(1, 4), ZX(2, 2), ZX(2, 0)};
    for (int i = 0; i < 3; i++) {
        snprintf(dir, sizeof(dir), "%s/h%d", f->dir, i);
        assert_int_equal(mkdir(dir, 0755), 0);
        write_seq(dir, ZX(1, 1), head, 2, 2, NULL, 0, 0);
        write_seq(dir, tails[i], tails + i, 1, 1, NULL, 0, 0);
        replay_expect_missing(dir, 0);
        replay_expect_missing(dir, ZX(1, 1));
        /* a snapshot covering the hole skips it ((e+1)|0 is e|0xffffffff + 1) */
        replay_expect_seq(dir, tails[i] - 1, tails + i, 1);
    }
    /* between the snapshot and the first record */
    snprintf(dir, sizeof(dir), "%s/s", f->dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    const int64_t jump[] = {ZX(2, 1), ZX(2, 2)};
    write_seq(dir, ZX(2, 1), jump, 2, 2, NULL, 0, 0);
    replay_expect_seq(dir, ZX(1, 7), jump, 2);
    replay_expect_seq(dir, 0, jump, 2);
    char path[160];
    log_name(path, sizeof(path), dir, ZX(2, 1));
    assert_int_equal(unlink(path), 0);
    const int64_t late[] = {ZX(3, 2)};
    write_seq(dir, ZX(3, 2), late, 1, 1, NULL, 0, 0);
    replay_expect_missing(dir, ZX(2, 5));
    replay_expect_missing(dir, ZX(3, 0));
    replay_expect_seq(dir, ZX(3, 1), late, 1);
}

/* Every file of a and b (the same names, in zxid order) is byte for byte the same. */
static void expect_same_logs(const char *a, const char *b)
{
    char **na, **nb;
    int64_t *za, *zb;
    int n = zk_list_files(a, "log.", &na, &za);
    assert_true(n > 0);
    assert_int_equal(zk_list_files(b, "log.", &nb, &zb), n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(za[i], zb[i]);
        size_t la, lb;
        uint8_t *pa = read_all(na[i], &la), *pb = read_all(nb[i], &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, la);
        free(pa);
        free(pb);
    }
    zk_free_list(na, za, n);
    zk_free_list(nb, zb, n);
}

/* Encoded txns queued with wal_append_bytes make the very files wal_append makes (rolls,
 * preallocation and an epoch jump included), and replay reads them back. */
static void test_append_bytes_same_files(void **state)
{
    struct fx *f = *state;
    const int64_t runs[][2] = {{1, 2 * NKINDS}, {4, NKINDS + 3}};
    int64_t zs[128];
    int n = epoch_seq(zs, 128, runs, 2);
    const int rolls[] = {7, 2 * NKINDS + 5, 0};
    char dir[2][128];
    for (int i = 0; i < 2; i++) {
        snprintf(dir[i], sizeof(dir[i]), "%s/%s", f->dir, i ? "bytes" : "txns");
        assert_int_equal(mkdir(dir[i], 0755), 0);
        write_seq(dir[i], zs[0], zs, n, 4, rolls, i, 8192);
    }
    expect_same_logs(dir[0], dir[1]);
    replay_expect_seq(dir[1], 0, zs, n);
}

/* Truncates dir after `after`, which must succeed, drop want txns and say so. */
static void truncate_expect(const char *dir, int64_t after, int want)
{
    char err[512] = "", line[128];
    capture_begin();
    int rc = wal_truncate(dir, after, err, sizeof(err));
    char *out = capture_end();
    if (rc != want)
        fail_msg("truncate of %s after 0x%" PRIx64 ": %d, want %d (%s)", dir, (uint64_t)after, rc, want, err);
    snprintf(line, sizeof(line), "INFO  [zkfs] transaction log: dropped %d txns after zxid 0x%" PRIx64 "\n", want,
             (uint64_t)after);
    if (!strstr(out, line))
        fail_msg("no \"%s\" in: %s", line, out);
    free(out);
}

/* The end of the record of zxid in a log file (the file must hold it). */
static size_t record_end(const char *path, int64_t zxid)
{
    size_t len, off[256];
    uint8_t *p = read_all(path, &len);
    int n = record_offsets(p, len, off, 255);
    for (int i = 0; i < n; i++) {
        struct txn x;
        assert_int_equal(txn_decode(p + off[i] + 8, be32(p + off[i]), &x), ZOK);
        int64_t z = x.zxid;
        txn_free(&x);
        if (z == zxid) {
            free(p);
            return off[i + 1];
        }
    }
    fail_msg("%s does not hold zxid 0x%" PRIx64, path, (uint64_t)zxid);
    return 0;
}

/* Truncation anywhere: inside a file, at either end of one, past the last txn (drops
 * nothing), before the first (drops everything), at a zxid the log skipped over in an epoch
 * jump. The file holding `after` ends right after its record (no preallocated zeros left),
 * later files are gone, and the log continues from there (in a new epoch too): replay sees
 * the kept txns, then the new ones. */
static void test_truncate(void **state)
{
    struct fx *f = *state;
    /* files (one per roll): 1..10 | 11..20 | 21..24 1:1..1:4 | 1:5..1:7 2:1..2:9 */
    const int64_t runs[][2] = {{0, 24}, {1, 7}, {2, 9}};
    int64_t zs[64];
    int n = epoch_seq(zs, 64, runs, 3);
    const int rolls[] = {10, 20, 28, 0};
    const struct {
        int64_t after;
        int dropped, files;
        int64_t hold;         /* the first zxid of the file cut (0: none left) */
        int64_t next, add[3]; /* then logged: wal_open at next, add[] (0-terminated) */
    } cases[] = {
        {15, n - 15, 2, 11, 16, {16, 17, 0}},
        {20, n - 20, 2, 11, 21, {21, 0}},
        {21, n - 21, 3, 21, 22, {ZX(5, 1), ZX(5, 2), 0}},
        {ZX(1, 4), 9 + 3, 3, 21, ZX(1, 5), {ZX(3, 1), 0}},
        {ZX(1, 5), 9 + 2, 4, ZX(1, 5), ZX(1, 6), {ZX(1, 6), ZX(1, 7), ZX(1, 8)}},
        {ZX(1, 30), 9, 4, ZX(1, 5), ZX(1, 31), {ZX(6, 1), 0}},
        {ZX(2, 9), 0, 4, ZX(1, 5), ZX(2, 10), {ZX(2, 10), 0}},
        {ZX(7, 3), 0, 4, ZX(1, 5), ZX(7, 4), {ZX(8, 1), 0}},
        {0, n, 0, 0, 1, {1, 2, 0}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char dir[128];
        snprintf(dir, sizeof(dir), "%s/c%zu", f->dir, c);
        assert_int_equal(mkdir(dir, 0755), 0);
        write_seq(dir, 1, zs, n, 3, rolls, 0, 4096);
        int64_t after = cases[c].after;
        truncate_expect(dir, after, cases[c].dropped);
        char **names;
        int64_t *zx;
        int nf = zk_list_files(dir, "log.", &names, &zx);
        assert_int_equal(nf, cases[c].files);
        if (nf) {
            assert_int_equal(zx[nf - 1], cases[c].hold);
            int64_t kept = zs[0];
            for (int i = 0; i < n && zs[i] <= after; i++)
                kept = zs[i];
            assert_int_equal(file_size(names[nf - 1]), (int64_t)record_end(names[nf - 1], kept));
        }
        zk_free_list(names, zx, nf);
        int k = 0;
        int64_t want[64];
        while (k < n && zs[k] <= after)
            want[k] = zs[k], k++;
        replay_expect_seq(dir, 0, want, k);
        /* again: nothing more goes */
        truncate_expect(dir, after, 0);
        int m = 0;
        while (m < 3 && cases[c].add[m])
            want[k + m] = cases[c].add[m], m++;
        write_seq(dir, cases[c].next, want + k, m, 2, NULL, c % 2, 0);
        replay_expect_seq(dir, 0, want, k + m);
        replay_expect_seq(dir, want[k], want, k + m);
    }
}

/* Damage before `after` is reached (a flipped byte, a zeroed record with valid ones after
 * it, a bad header) is refused with the file and offset, and nothing changes; damage past
 * `after` is dropped with what follows it, uncounted. */
static void test_truncate_refuses_damage(void **state)
{
    struct fx *f = *state;
    const int64_t rolls[] = {11, 21, 0};
    write_log(f->dir, 1, 30, 3, rolls, 0, 4096);
    char path[128], older[128], newest[128];
    log_name(path, sizeof(path), f->dir, 11);
    log_name(older, sizeof(older), f->dir, 1);
    log_name(newest, sizeof(newest), f->dir, 21);
    size_t len, olen, nlen, off[32];
    uint8_t *img = read_all(path, &len);
    uint8_t *oimg = read_all(older, &olen), *nimg = read_all(newest, &nlen);
    assert_int_equal(record_offsets(img, len, off, 31), 10);
    const struct {
        size_t at, n; /* bytes overwritten with `with`, or flipped by it */
        int flip;
        uint8_t with;
        size_t record; /* the offset the message names (0: a header) */
    } cases[] = {
        {off[2] + 11, 1, 1, 0x40, off[2]},       /* a CRC mismatch */
        {off[2], 2, 0, 0x7f, off[2]},            /* a length past the limit */
        {off[2], 8, 0, 0, off[2]},               /* a zeroed record header, valid records after it */
        {off[4], off[5] - off[4], 0, 0, off[4]}, /* the record of `after` itself zeroed */
        {1, 1, 1, 0x20, 0},                      /* the magic */
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        uint8_t *p = malloc(len);
        memcpy(p, img, len);
        for (size_t i = cases[c].at; i < cases[c].at + cases[c].n; i++)
            p[i] = cases[c].flip ? p[i] ^ cases[c].with : cases[c].with;
        write_all_to(path, p, len);
        char err[512] = "", want[64];
        capture_begin();
        int rc = wal_truncate(f->dir, 15, err, sizeof(err));
        char *out = capture_end();
        if (rc != -1)
            fail_msg("case %zu: truncate returned %d", c, rc);
        assert_non_null(strstr(err, path));
        if (cases[c].record)
            snprintf(want, sizeof(want), "offset %zu", cases[c].record);
        else
            snprintf(want, sizeof(want), "header");
        if (!strstr(err, want))
            fail_msg("case %zu: no \"%s\" in: %s", c, want, err);
        assert_null(strstr(out, "dropped"));
        free(out);
        /* nothing changed */
        size_t l;
        uint8_t *now = read_all(path, &l);
        assert_int_equal(l, len);
        assert_memory_equal(now, p, len);
        free(now);
        now = read_all(older, &l);
        assert_int_equal(l, olen);
        assert_memory_equal(now, oimg, olen);
        free(now);
        now = read_all(newest, &l);
        assert_int_equal(l, nlen);
        assert_memory_equal(now, nimg, nlen);
        free(now);
        free(p);
    }
    /* right after `after`: the damaged 16 and the rest of its file go uncounted, 21..30 counted */
    img[off[5] + 9] ^= 1;
    write_all_to(path, img, len);
    truncate_expect(f->dir, 15, 10);
    assert_int_equal(file_size(newest), -1);
    assert_int_equal(file_size(path), (int64_t)off[5]);
    replay_expect(f->dir, 0, 15);
    write_log(f->dir, 16, 18, 3, NULL, 0, 0);
    replay_expect(f->dir, 0, 18);
    free(img);
    free(oimg);
    free(nimg);
}

/* ---------- dump, listing, directory sync ---------- */

static void test_wal_dump(void **state)
{
    struct fx *f = *state;
    write_log(f->dir, 1, NKINDS, 5, NULL, 0, 4096);
    char path[128];
    log_name(path, sizeof(path), f->dir, 1);
    size_t len, off[64];
    uint8_t *img = read_all(path, &len);
    int recs = record_offsets(img, len, off, 63);
    assert_int_equal(recs, NKINDS);
    char *text = NULL;
    size_t tlen = 0;
    FILE *out = open_memstream(&text, &tlen);
    assert_int_equal(wal_dump(path, out), 0);
    fclose(out);
    /* a title, one line per record (its offset, then txn_print's line), a summary */
    char want[256];
    snprintf(want, sizeof(want), "transaction log %s, version 1\n", path);
    assert_true(strncmp(text, want, strlen(want)) == 0);
    for (int i = 0; i < recs; i++) {
        snprintf(want, sizeof(want), "\n%8zu zxid=0x%x ", off[i], i + 1);
        if (!strstr(text, want))
            fail_msg("no line for the record at %zu in:\n%s", off[i], text);
    }
    snprintf(want, sizeof(want), "\n%d records, %zu bytes used of %zu\n", recs, off[recs], len);
    assert_non_null(strstr(text, want));
    int lines = 0;
    for (char *c = text; *c; c++)
        lines += *c == '\n';
    assert_int_equal(lines, recs + 2);
    free(text);
    /* damaged: what could be read, then where it stopped */
    img[off[6] + 10] ^= 0x40;
    write_all_to(path, img, len);
    text = NULL;
    out = open_memstream(&text, &tlen);
    assert_int_equal(wal_dump(path, out), -1);
    fclose(out);
    snprintf(want, sizeof(want), "damaged record at offset %zu\n", off[6]);
    assert_non_null(strstr(text, want));
    snprintf(want, sizeof(want), "\n6 records, ");
    assert_non_null(strstr(text, want));
    free(text);
    /* not a log at all */
    write_all_to(path, "ZKSNxxxxxxxxxxxxxxxxxxxx", 24);
    text = NULL;
    out = open_memstream(&text, &tlen);
    assert_int_equal(wal_dump(path, out), -1);
    fclose(out);
    assert_non_null(strstr(text, "not a zkfs transaction log"));
    free(text);
    free(img);
}

static void test_list_files(void **state)
{
    struct fx *f = *state;
    const char *names[] = {"log.a", "log.2", "log.10", "log.ffffffffff", "log.1f.tmp", "log.", "logx1",
                           "snapshot.5", "log.zz", "xlog.3"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", f->dir, names[i]);
        write_all_to(p, "", 0);
    }
    char **got;
    int64_t *zx;
    int n = zk_list_files(f->dir, "log.", &got, &zx);
    /* sorted by zxid, not by name; anything that is not prefix + hex ignored */
    const char *want[] = {"log.2", "log.a", "log.10", "log.ffffffffff"};
    const int64_t wantz[] = {2, 10, 16, 0xffffffffffLL};
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++) {
        char p[128];
        snprintf(p, sizeof(p), "%s/%s", f->dir, want[i]);
        assert_string_equal(got[i], p);
        assert_int_equal(zx[i], wantz[i]);
    }
    zk_free_list(got, zx, n);
    n = zk_list_files(f->dir, "snapshot.", &got, &zx);
    assert_int_equal(n, 1);
    assert_int_equal(zx[0], 5);
    zk_free_list(got, zx, n);
    char missing[128];
    snprintf(missing, sizeof(missing), "%s/none", f->dir);
    assert_int_equal(zk_list_files(missing, "log.", &got, &zx), -1);
    assert_int_equal(zk_fsync_dir(f->dir), 0);
    assert_int_equal(zk_fsync_dir(missing), -1);
}

/* ---------- write failures are fatal ---------- */

static void gen_ttl(int64_t zxid, struct txn *x)
{
    make_txn(K_TTL, zxid, x); /* about 500 bytes each */
}

/* The child side: logs batches until the log dies, reporting each durable zxid on fd. */
static void child_log_until_death(const char *dir, int64_t prealloc, int fd)
{
    struct wal_opts o = {.dir = dir, .force_sync = 1, .prealloc_bytes = prealloc, .roll_bytes = 0};
    char err[256];
    struct wal *w = wal_open(&o, 1, err, sizeof(err));
    if (!w)
        _exit(20);
    for (int64_t z = 1; z < 100000; z += 5) {
        for (int64_t k = z; k < z + 5; k++) {
            struct txn x;
            gen_ttl(k, &x);
            wal_append(w, &x);
            txn_free(&x);
        }
        int64_t d;
        while ((d = wal_durable(w)) < z + 4) {
            struct pollfd pfd = {.fd = wal_notify_fd(w), .events = POLLIN};
            if (poll(&pfd, 1, 60000) != 1)
                _exit(21);
        }
        if (write(fd, &d, sizeof(d)) != sizeof(d))
            _exit(22);
    }
    _exit(0); /* never: the file size limit is far below this */
}

/* A write failure (here the file size limit, with and without preallocation) ends the process
 * with status 3 and a FATAL message; every zxid it reported durable is in the log, which
 * replays (its torn tail repaired). A log file that already exists is fatal as well. */
static void test_write_failure_is_fatal(void **state)
{
    struct fx *f = *state;
    for (int variant = 0; variant < 3; variant++) {
        char dir[128], errlog[160];
        snprintf(dir, sizeof(dir), "%s/v%d", f->dir, variant);
        snprintf(errlog, sizeof(errlog), "%s/stderr%d", f->dir, variant);
        assert_int_equal(mkdir(dir, 0755), 0);
        if (variant == 2) {
            char existing[160];
            log_name(existing, sizeof(existing), dir, 1);
            write_all_to(existing, "", 0);
        }
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(pfd[0]);
            int e = open(errlog, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (e < 0 || dup2(e, 2) < 0)
                _exit(23);
            signal(SIGXFSZ, SIG_IGN); /* make the limit an EFBIG error, as a full disk is ENOSPC */
            struct rlimit rl = {40000, 40000};
            if (variant < 2 && setrlimit(RLIMIT_FSIZE, &rl) < 0)
                _exit(24);
            child_log_until_death(dir, variant == 1 ? 16384 : 0, pfd[1]);
        }
        close(pfd[1]);
        int64_t acked = 0, d;
        while (read(pfd[0], &d, sizeof(d)) == sizeof(d)) {
            assert_true(d > acked);
            acked = d;
        }
        close(pfd[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != WAL_EXIT_STATUS)
            fail_msg("variant %d: child status 0x%x, want exit %d", variant, status, WAL_EXIT_STATUS);
        size_t elen;
        char *etext = (char *)read_all(errlog, &elen);
        etext[elen] = 0;
        assert_non_null(strstr(etext, "FATAL"));
        free(etext);
        if (variant == 2) {
            assert_int_equal(acked, 0);
            continue;
        }
        assert_true(acked >= 5); /* it did log before the limit */
        struct seen s = {.gen = gen_ttl};
        int64_t last;
        char err[512];
        capture_begin();
        int rc = replay(dir, 0, &s, &last, err, sizeof(err));
        free(capture_end());
        if (rc != 0 || s.bad[0])
            fail_msg("variant %d: replay after the failure: %s %s", variant, err, s.bad);
        if (last < acked)
            fail_msg("variant %d: zxid 0x%" PRIx64 " was reported durable but the log ends at 0x%" PRIx64, variant,
                     (uint64_t)acked, (uint64_t)last);
        replay_expect_gen(dir, 0, last, gen_ttl);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_check_values),
        cmocka_unit_test(test_crc32c_incremental_and_reference),
        cmocka_unit_test(test_txn_roundtrip_every_type),
        cmocka_unit_test(test_txn_truncated_and_trailing_rejected),
        cmocka_unit_test(test_txn_malformed_rejected),
        cmocka_unit_test(test_txn_print),
        cmocka_unit_test_setup_teardown(test_log_roundtrip_force_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_roundtrip_no_sync, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_close_flushes_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_roll_and_replay_after, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_roll_by_size_and_prealloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_continues_after_recovery, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_callback_abort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replay_after_purged_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record_mid_last_file_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zeroed_record_mid_last_file_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_record_in_older_file_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hole_in_zxids_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_headers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_every_offset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_preallocated, setup, teardown),
        cmocka_unit_test(test_zxid_follows),
        cmocka_unit_test_setup_teardown(test_log_epoch_jumps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epoch_holes_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_bytes_same_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncate_refuses_damage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_failure_is_fatal, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
