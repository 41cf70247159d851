/* Unit tests of common/jute, the client-port codec: primitives, ConnectRequest/Response
 * with and without the trailing readOnly byte, every request opcode and every response
 * layout round-tripped (decode(encode(x)) == x and re-encoding gives the same bytes), null
 * strings and buffers, every truncation of every record rejected with ZMARSHALLINGERROR,
 * and hostile lengths and counts rejected before anything proportional is allocated.
 * Layouts are those of zookeeper.jute and MultiResponse.serialize; BinaryInputArchive
 * decides what a length may be (-1 is null, any other negative length is an error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/wait.h>
#include <unistd.h>

#include "common/jute.h"
#include "common/zerr.h"

/* In the sanitizer build an allocation above 64 MB aborts the run instead of returning
 * NULL, so a decoder that trusted a hostile count (and then failed gracefully on calloc)
 * cannot pass unnoticed. No legitimate allocation here comes near that. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=64:allocator_may_return_null=0";
}

/* ---------- helpers ---------- */

// clang-format off
#define ACL(p, s, i) {(p), {(char *)(s), (char *)(i)}}
// clang-format on

static struct zk_acl two_acls[2] = {ACL(ZPERM_ALL, "world", "anyone"), ACL(ZPERM_READ, "digest", "u:HASH=")};

static struct zk_stat sample_stat(int64_t k)
{
    return (struct zk_stat){.czxid = 0x100000001LL * k,
                            .mzxid = -k,
                            .ctime = 1700000000123LL + k,
                            .mtime = INT64_MAX - k,
                            .version = (int32_t)k,
                            .cversion = -3,
                            .aversion = INT32_MIN,
                            .ephemeralOwner = (int64_t)0x8000000000000001ULL,
                            .dataLength = 5,
                            .numChildren = 7,
                            .pzxid = 0x7fffffff00000000LL};
}

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b)
        assert_ptr_equal(a, b);
    else
        assert_string_equal(a, b);
}

static void assert_bytes(const uint8_t *a, int32_t alen, const uint8_t *b, int32_t blen)
{
    assert_int_equal(alen, blen);
    if (alen > 0)
        assert_memory_equal(a, b, (size_t)alen);
}

static void assert_acls_equal(const struct zk_acl *a, int32_t na, const struct zk_acl *b, int32_t nb)
{
    assert_int_equal(na, nb);
    for (int32_t i = 0; i < na; i++) {
        assert_int_equal(a[i].perms, b[i].perms);
        assert_str_or_null(a[i].id.scheme, b[i].id.scheme);
        assert_str_or_null(a[i].id.id, b[i].id.id);
    }
}

static void assert_strings_equal(char *const *a, int32_t na, char *const *b, int32_t nb)
{
    assert_int_equal(na, nb);
    for (int32_t i = 0; i < na; i++)
        assert_str_or_null(a[i], b[i]);
}

static void assert_stat_equal(const struct zk_stat *a, const struct zk_stat *b)
{
    assert_int_equal(a->czxid, b->czxid);
    assert_int_equal(a->mzxid, b->mzxid);
    assert_int_equal(a->ctime, b->ctime);
    assert_int_equal(a->mtime, b->mtime);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->cversion, b->cversion);
    assert_int_equal(a->aversion, b->aversion);
    assert_int_equal(a->ephemeralOwner, b->ephemeralOwner);
    assert_int_equal(a->dataLength, b->dataLength);
    assert_int_equal(a->numChildren, b->numChildren);
    assert_int_equal(a->pzxid, b->pzxid);
}

/* A copy of p[0..n) in an allocation of exactly n bytes, so that ASan sees any overread. */
static uint8_t *exact_copy(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    memcpy(c, p, n);
    return c;
}

/* ---------- requests ---------- */

static struct zk_request rq(int32_t type, const char *path)
{
    return (struct zk_request){
        .xid = 77, .type = type, .path = (char *)path, .pathlen = path ? (int32_t)strlen(path) : -1};
}

static struct zk_request rq_data(int32_t type, const char *path, const char *data, int32_t datalen)
{
    struct zk_request q = rq(type, path);
    q.data = (const uint8_t *)data;
    q.datalen = datalen;
    return q;
}

static void assert_request_equal(const struct zk_request *a, const struct zk_request *b, int top)
{
    if (top) /* sub-ops of a multi carry the multi's xid */
        assert_int_equal(a->xid, b->xid);
    assert_int_equal(a->type, b->type);
    assert_str_or_null(a->path, b->path);
    assert_int_equal(a->pathlen, b->pathlen);
    assert_bytes(a->data, a->datalen, b->data, b->datalen);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->ttl, b->ttl);
    assert_int_equal(a->watch, b->watch);
    assert_int_equal(a->mode, b->mode);
    assert_acls_equal(a->acl, a->nacl, b->acl, b->nacl);
    assert_int_equal(a->relZxid, b->relZxid);
    for (int k = 0; k < ZW_NKINDS; k++)
        assert_strings_equal(a->watches[k], a->nwatches[k], b->watches[k], b->nwatches[k]);
    assert_int_equal(a->authType, b->authType);
    assert_str_or_null(a->scheme, b->scheme);
    assert_bytes(a->auth, a->authlen, b->auth, b->authlen);
    assert_int_equal(a->nops, b->nops);
    for (int32_t i = 0; i < a->nops; i++)
        assert_request_equal(&a->ops[i], &b->ops[i], 0);
}

/* Decodes a whole request packet body: RequestHeader, then the body; anything left over
 * counts as an error here since every test packet is exactly one request. */
static int decode_request(const uint8_t *p, size_t n, struct zk_request *q)
{
    struct jrd r;
    jr_init(&r, p, n);
    memset(q, 0, sizeof(*q));
    q->xid = jr_int(&r);
    q->type = jr_int(&r);
    if (r.err)
        return ZMARSHALLINGERROR;
    int rc = jute_read_request(&r, q);
    return rc == ZOK && jr_remaining(&r) ? ZSYSTEMERROR : rc;
}

/* Every strict prefix of a packet is rejected, and whatever was decoded is freed. */
static void check_request_truncations(const uint8_t *p, size_t n)
{
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *c = exact_copy(p, cut);
        struct zk_request q;
        int rc = decode_request(c, cut, &q);
        if (rc != ZMARSHALLINGERROR)
            fail_msg("request type %d cut at %zu of %zu bytes: got %d", q.type, cut, n, rc);
        jute_free_request(&q);
        free(c);
    }
}

/* Encodes in, decodes it, compares field by field and byte for byte, then truncates. */
static void check_request(const struct zk_request *in)
{
    struct jbuf b, again;
    jb_init(&b);
    jb_init(&again);
    jute_write_request(&b, in);
    assert_false(b.oom);
    struct zk_request out;
    uint8_t *wire = exact_copy(b.p, b.len);
    assert_int_equal(decode_request(wire, b.len, &out), ZOK);
    assert_request_equal(in, &out, 1);
    jute_write_request(&again, &out);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.p, b.p, b.len);
    jute_free_request(&out);
    free(wire);
    check_request_truncations(b.p, b.len);
    jb_free(&b);
    jb_free(&again);
}

static void test_request_simple_ops(void **state)
{
    (void)state;
    struct zk_request q;
    const int32_t watched[] = {ZOP_EXISTS, ZOP_GETDATA, ZOP_GETCHILDREN, ZOP_GETCHILDREN2};
    for (int i = 0; i < 4; i++) {
        q = rq(watched[i], "/some/path");
        check_request(&q);
        q.watch = true;
        check_request(&q);
    }
    const int32_t path_only[] = {ZOP_SYNC, ZOP_GETACL, ZOP_GETALLCHILDRENNUMBER, ZOP_GETEPHEMERALS,
                                 ZOP_DELETECONTAINER};
    for (int i = 0; i < 5; i++) {
        q = rq(path_only[i], "/p");
        check_request(&q);
    }
    q = rq(ZOP_GETEPHEMERALS, "/"); /* prefixPath */
    check_request(&q);
    q = rq(ZOP_DELETE, "/d");
    q.version = -1;
    check_request(&q);
    q.version = INT32_MAX;
    check_request(&q);
    q = rq(ZOP_CHECK, "/c");
    q.version = 12;
    check_request(&q);
    q = rq(ZOP_ADDWATCH, "/w");
    q.mode = ZADDWATCH_PERSISTENT_RECURSIVE;
    check_request(&q);
    q = rq(ZOP_CHECKWATCHES, "/w");
    q.mode = ZWT_DATA;
    check_request(&q);
    q = rq(ZOP_REMOVEWATCHES, "/w");
    q.mode = ZWT_ANY;
    check_request(&q);
    /* no body at all */
    const int32_t bodiless[] = {ZOP_PING, ZOP_CLOSESESSION, ZOP_WHOAMI};
    for (int i = 0; i < 3; i++) {
        q = rq(bodiless[i], NULL);
        q.pathlen = 0;
        check_request(&q);
    }
}

static void test_request_create_family(void **state)
{
    (void)state;
    const int32_t types[] = {ZOP_CREATE, ZOP_CREATE2, ZOP_CREATECONTAINER, ZOP_CREATETTL};
    for (int i = 0; i < 4; i++) {
        struct zk_request q = rq_data(types[i], "/app/node-", "payload\0with NUL", 16);
        q.acl = two_acls;
        q.nacl = 2;
        q.flags = types[i] == ZOP_CREATETTL ? ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL : ZMODE_EPHEMERAL_SEQUENTIAL;
        if (types[i] == ZOP_CREATETTL)
            q.ttl = 0x123456789aLL;
        check_request(&q);
        q.datalen = -1; /* null data */
        q.data = NULL;
        check_request(&q);
        q.data = (const uint8_t *)"";
        q.datalen = 0; /* empty, not null */
        check_request(&q);
        q.nacl = 0; /* an empty ACL vector (prep refuses it, the codec does not) */
        q.acl = NULL;
        check_request(&q);
    }
}

static void test_request_set_data_and_acl(void **state)
{
    (void)state;
    struct zk_request q = rq_data(ZOP_SETDATA, "/s", "\x00\x01\x02\xff", 4);
    q.version = 3;
    check_request(&q);
    q = rq_data(ZOP_SETDATA, "/s", NULL, -1);
    q.version = -1;
    check_request(&q);

    q = rq(ZOP_SETACL, "/s");
    q.acl = two_acls;
    q.nacl = 2;
    q.version = 9;
    check_request(&q);
    struct zk_acl odd[1] = {ACL(0, NULL, "")}; /* null scheme, empty id: the codec carries both */
    q.acl = odd;
    q.nacl = 1;
    check_request(&q);
}

static void test_request_set_watches(void **state)
{
    (void)state;
    char *data[] = {"/a", "/b/c"}, *exist[] = {"/x"}, *child[] = {"/", "/a", "/q"}, *pers[] = {"/p"},
         *rec[] = {"/r1", "/r2"};
    struct zk_request q = rq(ZOP_SETWATCHES, NULL);
    q.pathlen = 0;
    q.relZxid = 0x500000007LL;
    q.watches[ZW_DATA] = data;
    q.nwatches[ZW_DATA] = 2;
    q.watches[ZW_EXIST] = exist;
    q.nwatches[ZW_EXIST] = 1;
    q.watches[ZW_CHILD] = child;
    q.nwatches[ZW_CHILD] = 3;
    check_request(&q);
    q.type = ZOP_SETWATCHES2;
    q.watches[ZW_PERSISTENT] = pers;
    q.nwatches[ZW_PERSISTENT] = 1;
    q.watches[ZW_PERSISTENT_RECURSIVE] = rec;
    q.nwatches[ZW_PERSISTENT_RECURSIVE] = 2;
    check_request(&q);

    /* setWatches has three vectors, setWatches2 five: encode an empty one of each */
    struct zk_request e = rq(ZOP_SETWATCHES, NULL);
    e.pathlen = 0;
    struct jbuf b;
    jb_init(&b);
    jute_write_request(&b, &e);
    assert_int_equal(b.len, 4 + 4 + 8 + 3 * 4);
    jb_reset(&b);
    e.type = ZOP_SETWATCHES2;
    jute_write_request(&b, &e);
    assert_int_equal(b.len, 4 + 4 + 8 + 5 * 4);
    jb_free(&b);
}

static void test_request_auth(void **state)
{
    (void)state;
    struct zk_request q = rq(ZOP_AUTH, NULL);
    q.pathlen = 0;
    q.authType = 0;
    q.scheme = "digest";
    q.auth = (const uint8_t *)"user:secret";
    q.authlen = 11;
    check_request(&q);
    q.auth = NULL;
    q.authlen = -1;
    check_request(&q);
}

static void test_request_multi(void **state)
{
    (void)state;
    struct zk_request ops[7] = {
        rq_data(ZOP_CREATE, "/m", "d", 1),
        rq_data(ZOP_CREATE2, "/m/seq-", NULL, -1),
        rq_data(ZOP_CREATETTL, "/m/ttl", "", 0),
        rq_data(ZOP_CREATECONTAINER, "/m/c", "cc", 2),
        rq_data(ZOP_SETDATA, "/m", "new", 3),
        rq(ZOP_CHECK, "/m"),
        rq(ZOP_DELETE, "/m/c"),
    };
    for (int i = 0; i < 4; i++) {
        ops[i].acl = two_acls;
        ops[i].nacl = 2;
    }
    ops[1].flags = ZMODE_PERSISTENT_SEQUENTIAL;
    ops[2].flags = ZMODE_PERSISTENT_WITH_TTL;
    ops[2].ttl = 60000;
    ops[3].flags = ZMODE_CONTAINER;
    ops[4].version = 4;
    ops[5].version = 5;
    ops[6].version = -1;
    for (int i = 0; i < 7; i++)
        ops[i].xid = 77;
    struct zk_request q = rq(ZOP_MULTI, NULL);
    q.pathlen = 0;
    q.ops = ops;
    q.nops = 7;
    check_request(&q);
    q.nops = 0; /* just the done header */
    check_request(&q);

    struct zk_request reads[3] = {rq(ZOP_GETDATA, "/m"), rq(ZOP_GETCHILDREN, "/"), rq(ZOP_GETDATA, "/x")};
    for (int i = 0; i < 3; i++)
        reads[i].xid = 77;
    q = rq(ZOP_MULTIREAD, NULL);
    q.pathlen = 0;
    q.ops = reads;
    q.nops = 3;
    check_request(&q);

    /* the wire form: MultiHeader{type, done=false, err=-1} per op, MultiHeader{-1, true, -1} */
    struct jbuf b;
    jb_init(&b);
    q.nops = 1;
    jute_write_request(&b, &q);
    static const uint8_t want[] = {0,    0,    0,    77,   0,   0,    0,    22,         /* xid, multiRead */
                                   0,    0,    0,    4,    0,   0xff, 0xff, 0xff, 0xff, /* getData header */
                                   0,    0,    0,    2,    '/', 'm',  0,                /* path, watch */
                                   0xff, 0xff, 0xff, 0xff, 1,   0xff, 0xff, 0xff, 0xff};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));
    jb_free(&b);
}

/* Ops that have no place inside a multi (a nested multi, a sync, a watch op) are refused. */
static void test_request_multi_foreign_ops(void **state)
{
    (void)state;
    const int32_t bad[] = {ZOP_MULTI, ZOP_MULTIREAD, ZOP_SYNC, ZOP_EXISTS, ZOP_SETACL, ZOP_AUTH, 999, -1};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jbuf b;
        jb_init(&b);
        jw_int(&b, 1);
        jw_int(&b, ZOP_MULTI);
        jw_int(&b, bad[i]);
        jw_bool(&b, false);
        jw_int(&b, -1);
        jw_string(&b, "/x"); /* a plausible body */
        jw_int(&b, -1);
        jw_bool(&b, true);
        jw_int(&b, -1);
        struct zk_request q;
        assert_int_equal(decode_request(b.p, b.len, &q), ZMARSHALLINGERROR);
        jute_free_request(&q);
        jb_free(&b);
    }
}

/* Encodes a multi (or multiRead) of the given ops, well formed op by op, and decodes it. */
static int decode_multi_of(int32_t type, struct zk_request *ops, int32_t n)
{
    struct zk_request q = rq(type, NULL);
    q.ops = ops;
    q.nops = n;
    struct jbuf b;
    jb_init(&b);
    jute_write_request(&b, &q);
    struct zk_request out;
    int rc = decode_request(b.p, b.len, &out);
    jute_free_request(&out);
    jb_free(&b);
    return rc;
}

/* BUG (common/jute.c, read_multi): MultiOperationRecord.deserialize (3.8.0 and later) takes
 * create, create2, createContainer, createTTL, delete, setData, check, getChildren and
 * getData only, and refuses a record that mixes reads (getChildren, getData) with writes
 * ("Mixing different kind of ops"); both are IOExceptions, answered MARSHALLINGERROR.
 * read_multi also accepts deleteContainer (whose prep skips the ACL check) and mixed
 * records, which then reach prep. */
static void test_request_multi_kinds(void **state)
{
    (void)state;
    struct zk_request ops[2] = {rq(ZOP_DELETE, "/x"), rq(ZOP_DELETECONTAINER, "/y")};
    ops[0].version = -1;
    assert_int_equal(decode_multi_of(ZOP_MULTI, ops, 1), ZOK);
    assert_int_equal(decode_multi_of(ZOP_MULTI, ops, 2), ZMARSHALLINGERROR);
    assert_int_equal(decode_multi_of(ZOP_MULTI, ops + 1, 1), ZMARSHALLINGERROR);

    struct zk_request mixed[2] = {rq_data(ZOP_CREATE, "/m", "d", 1), rq(ZOP_GETDATA, "/m")};
    mixed[0].acl = two_acls;
    mixed[0].nacl = 2;
    assert_int_equal(decode_multi_of(ZOP_MULTI, mixed, 2), ZMARSHALLINGERROR);
    assert_int_equal(decode_multi_of(ZOP_MULTIREAD, mixed, 2), ZMARSHALLINGERROR);
    struct zk_request mixed2[2] = {rq(ZOP_GETCHILDREN, "/"), rq(ZOP_CHECK, "/m")};
    assert_int_equal(decode_multi_of(ZOP_MULTIREAD, mixed2, 2), ZMARSHALLINGERROR);
    assert_int_equal(decode_multi_of(ZOP_MULTIREAD, mixed2, 1), ZOK);
}

static void test_request_unknown_opcode(void **state)
{
    (void)state;
    const int32_t types[] = {999, ZOP_RECONFIG, ZOP_SASL, ZOP_NOTIFY, ZOP_CREATESESSION};
    for (int i = 0; i < 5; i++) {
        struct jbuf b;
        jb_init(&b);
        jw_int(&b, 5);
        jw_int(&b, types[i]);
        jw_string(&b, "/x");
        struct zk_request q;
        assert_int_equal(decode_request(b.p, b.len, &q), ZUNIMPLEMENTED);
        jute_free_request(&q);
        jb_free(&b);
    }
}

/* ---------- null strings, buffers and vectors ---------- */

static void test_null_values(void **state)
{
    (void)state;
    /* null path (-1) decodes as NULL with pathlen -1, and is distinct from "" */
    struct zk_request q = rq(ZOP_GETDATA, NULL);
    check_request(&q);
    q = rq(ZOP_GETDATA, "");
    check_request(&q);

    /* a null vector (-1) and an empty one both decode as no elements */
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 1);
    jw_int(&b, ZOP_SETACL);
    jw_string(&b, "/a");
    jw_int(&b, -1); /* acl: null */
    jw_int(&b, 4);
    struct zk_request out;
    assert_int_equal(decode_request(b.p, b.len, &out), ZOK);
    assert_null(out.acl);
    assert_int_equal(out.nacl, 0);
    assert_int_equal(out.version, 4);
    jute_free_request(&out);

    /* strings inside a vector may be null */
    jb_reset(&b);
    char *names[3] = {"a", NULL, ""};
    jw_strings(&b, names, 3);
    struct jrd r;
    jr_init(&r, b.p, b.len);
    char **v;
    int32_t n;
    jr_strings(&r, &v, &n);
    assert_int_equal(r.err, 0);
    assert_strings_equal(v, n, names, 3);
    jute_free_strings(v, n);
    jb_free(&b);

    /* jr_string reports the byte length, embedded NULs included */
    static const uint8_t s[] = {0, 0, 0, 3, 'a', 0, 'b', 0xff, 0xff, 0xff, 0xff};
    jr_init(&r, s, sizeof(s));
    int32_t len;
    char *str = jr_string(&r, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(str, "a\0b", 4);
    free(str);
    assert_null(jr_string(&r, &len));
    assert_int_equal(len, -1);
    assert_int_equal(r.err, 0);
    assert_int_equal(jr_remaining(&r), 0);
}

/* ---------- primitives ---------- */

static void test_primitives(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 0x01020304);
    jw_int(&b, -2);
    jw_long(&b, 0x0102030405060708LL);
    jw_long(&b, INT64_MIN);
    jw_bool(&b, true);
    jw_bool(&b, false);
    jw_buffer(&b, "xy", 2);
    jw_buffer(&b, "ignored", -1);
    jw_buffer(&b, "", 0);
    jw_string(&b, NULL);
    jw_string(&b, "hi");
    static const uint8_t want[] = {1,    2,    3, 4, 0xff, 0xff, 0xff, 0xfe, 1,    2,    3, 4, 5, 6,   7,   8,    0x80,
                                   0,    0,    0, 0, 0,    0,    0,    1,    0,    0,    0, 0, 2, 'x', 'y', 0xff, 0xff,
                                   0xff, 0xff, 0, 0, 0,    0,    0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2,   'h', 'i'};
    assert_int_equal(b.len, sizeof(want));
    assert_memory_equal(b.p, want, sizeof(want));

    struct jrd r;
    jr_init(&r, b.p, b.len);
    assert_int_equal(jr_int(&r), 0x01020304);
    assert_int_equal(jr_int(&r), -2);
    assert_int_equal(jr_long(&r), 0x0102030405060708LL);
    assert_int_equal(jr_long(&r), INT64_MIN);
    assert_true(jr_bool(&r));
    assert_false(jr_bool(&r));
    const uint8_t *d;
    int32_t n;
    jr_buffer(&r, &d, &n);
    assert_int_equal(n, 2);
    assert_ptr_equal(d, b.p + 30); /* zero-copy */
    jr_buffer(&r, &d, &n);
    assert_null(d);
    assert_int_equal(n, -1);
    jr_buffer(&r, &d, &n);
    assert_non_null(d);
    assert_int_equal(n, 0);
    assert_null(jr_string(&r, &n));
    char *s = jr_string(&r, &n);
    assert_string_equal(s, "hi");
    free(s);
    assert_int_equal(jr_remaining(&r), 0);
    assert_int_equal(r.err, 0);
    /* reading past the end is sticky */
    assert_int_equal(jr_int(&r), 0);
    assert_int_equal(r.err, ZMARSHALLINGERROR);
    assert_int_equal(jr_remaining(&r), 0);

    /* a bool is any non-zero byte */
    static const uint8_t two = 2;
    jr_init(&r, &two, 1);
    assert_true(jr_bool(&r));

    /* Stat is 68 bytes in field order */
    jb_reset(&b);
    struct zk_stat st = sample_stat(3), back;
    jw_stat(&b, &st);
    assert_int_equal(b.len, JUTE_STAT_LEN);
    assert_memory_equal(b.p, "\x00\x00\x00\x03\x00\x00\x00\x03", 8); /* czxid */
    jr_init(&r, b.p, b.len);
    jr_stat(&r, &back);
    assert_int_equal(r.err, 0);
    assert_stat_equal(&back, &st);

    /* frames: a 4-byte big-endian length in front */
    jb_reset(&b);
    size_t off = jw_frame_begin(&b);
    jw_string(&b, "abc");
    jw_frame_end(&b, off);
    assert_int_equal(b.len, 11);
    assert_memory_equal(b.p,
                        "\x00\x00\x00\x07\x00\x00\x00\x03"
                        "abc",
                        11);
    jb_free(&b);
}

/* ---------- connect ---------- */

static void test_connect_request(void **state)
{
    (void)state;
    struct zk_connect_req c = {.protocolVersion = 0,
                               .lastZxidSeen = 0x300000009LL,
                               .timeOut = 30000,
                               .sessionId = 0x1234567890abcdefLL,
                               .passwd_len = 16,
                               .readOnly = true,
                               .has_readOnly = true};
    for (int i = 0; i < 16; i++)
        c.passwd[i] = (uint8_t)(0xf0 + i);
    for (int with_ro = 1; with_ro >= 0; with_ro--) {
        c.has_readOnly = with_ro;
        c.readOnly = with_ro;
        struct jbuf b;
        jb_init(&b);
        jute_write_connect_req(&b, &c);
        assert_int_equal(b.len, 44 + (size_t)with_ro);
        struct jrd r;
        struct zk_connect_req out;
        jr_init(&r, b.p, b.len);
        assert_int_equal(jute_read_connect_req(&r, &out), ZOK);
        assert_int_equal(jr_remaining(&r), 0);
        assert_int_equal(out.protocolVersion, c.protocolVersion);
        assert_int_equal(out.lastZxidSeen, c.lastZxidSeen);
        assert_int_equal(out.timeOut, c.timeOut);
        assert_int_equal(out.sessionId, c.sessionId);
        assert_memory_equal(out.passwd, c.passwd, 16);
        assert_int_equal(out.passwd_len, 16);
        assert_int_equal(out.readOnly, c.readOnly);
        assert_int_equal(out.has_readOnly, c.has_readOnly);
        /* every cut before the password ends fails; at 44 the readOnly byte is just absent */
        for (size_t cut = 0; cut < b.len; cut++) {
            uint8_t *p = exact_copy(b.p, cut);
            jr_init(&r, p, cut);
            int rc = jute_read_connect_req(&r, &out);
            if (cut < 44) {
                assert_int_equal(rc, ZMARSHALLINGERROR);
            } else {
                assert_int_equal(rc, ZOK);
                assert_false(out.has_readOnly);
                assert_false(out.readOnly);
            }
            free(p);
        }
        jb_free(&b);
    }

    /* a new session sends an all-zero password; an empty one is carried as such */
    c.passwd_len = 0;
    c.has_readOnly = false;
    struct jbuf b;
    jb_init(&b);
    jute_write_connect_req(&b, &c);
    assert_int_equal(b.len, 28);
    struct jrd r;
    struct zk_connect_req out;
    jr_init(&r, b.p, b.len);
    assert_int_equal(jute_read_connect_req(&r, &out), ZOK);
    assert_int_equal(out.passwd_len, 0);
    jb_free(&b);

    /* a longer password is reported by its length (the server refuses it), not overflowed */
    static const uint8_t long_pw[] = {0, 0, 0, 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0x75, 0x30, 0,
                                      0, 0, 0, 0,  0,  0,  1,  0,  0,  0,  20, 1,  2,  3,  4,    5,    6,
                                      7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 1};
    jr_init(&r, long_pw, sizeof(long_pw));
    assert_int_equal(jute_read_connect_req(&r, &out), ZOK);
    assert_int_equal(out.passwd_len, 20);
    assert_int_equal(out.passwd[15], 16);
    assert_true(out.has_readOnly);
    assert_int_equal(out.sessionId, 1);
    assert_int_equal(out.timeOut, 30000);
}

static void test_connect_response(void **state)
{
    (void)state;
    struct zk_connect_resp c = {.protocolVersion = 0, .timeOut = 4000, .sessionId = -5, .readOnly = true};
    memcpy(c.passwd, "0123456789abcdef", 16);
    for (int with_ro = 1; with_ro >= 0; with_ro--) {
        struct jbuf b;
        jb_init(&b);
        jute_write_connect_resp(&b, &c, with_ro);
        assert_int_equal(b.len, 36 + (size_t)with_ro);
        struct jrd r;
        struct zk_connect_resp out;
        bool has_ro;
        jr_init(&r, b.p, b.len);
        assert_int_equal(jute_read_connect_resp(&r, &out, &has_ro), ZOK);
        assert_int_equal(has_ro, with_ro);
        assert_int_equal(out.timeOut, 4000);
        assert_int_equal(out.sessionId, -5);
        assert_memory_equal(out.passwd, c.passwd, 16);
        assert_int_equal(out.readOnly, with_ro);
        for (size_t cut = 0; cut < b.len; cut++) {
            uint8_t *p = exact_copy(b.p, cut);
            jr_init(&r, p, cut);
            int rc = jute_read_connect_resp(&r, &out, &has_ro);
            assert_int_equal(rc, cut < 36 ? ZMARSHALLINGERROR : ZOK);
            free(p);
        }
        jb_free(&b);
    }
}

/* ---------- responses ---------- */

static void assert_response_equal(const struct zk_response *a, const struct zk_response *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->err, b->err);
    assert_str_or_null(a->path, b->path);
    assert_stat_equal(&a->stat, &b->stat);
    assert_bytes(a->data, a->datalen, b->data, b->datalen);
    assert_strings_equal(a->children, a->nchildren, b->children, b->nchildren);
    assert_acls_equal(a->acl, a->nacl, b->acl, b->nacl);
    assert_int_equal(a->number, b->number);
    assert_int_equal(a->nclients, b->nclients);
    for (int32_t i = 0; i < a->nclients; i++) {
        assert_str_or_null(a->clients[i].scheme, b->clients[i].scheme);
        assert_str_or_null(a->clients[i].id, b->clients[i].id);
    }
    assert_int_equal(a->nresults, b->nresults);
    for (int32_t i = 0; i < a->nresults; i++)
        assert_response_equal(&a->results[i], &b->results[i]);
}

/* Encodes in, decodes it as in->type, compares, re-encodes, then truncates everywhere. */
static void check_response(const struct zk_response *in)
{
    struct jbuf b, again;
    jb_init(&b);
    jb_init(&again);
    jute_write_response(&b, in);
    assert_false(b.oom);
    uint8_t *wire = exact_copy(b.p, b.len);
    struct jrd r;
    struct zk_response out;
    jr_init(&r, wire, b.len);
    assert_int_equal(jute_read_response(&r, in->type, &out), ZOK);
    assert_int_equal(jr_remaining(&r), 0);
    assert_response_equal(in, &out);
    jute_write_response(&again, &out);
    assert_int_equal(again.len, b.len);
    assert_memory_equal(again.p, b.p, b.len);
    jute_free_response(&out);
    free(wire);
    for (size_t cut = 0; cut < b.len; cut++) {
        uint8_t *p = exact_copy(b.p, cut);
        jr_init(&r, p, cut);
        int rc = jute_read_response(&r, in->type, &out);
        if (rc != ZMARSHALLINGERROR)
            fail_msg("response type %d cut at %zu of %zu bytes: got %d", in->type, cut, b.len, rc);
        jute_free_response(&out);
        free(p);
    }
    jb_free(&b);
    jb_free(&again);
}

static void test_response_layouts(void **state)
{
    (void)state;
    struct zk_response s = {.type = ZOP_CREATE, .path = "/app/node-0000000007"};
    check_response(&s);
    s.type = ZOP_SYNC;
    check_response(&s);
    const int32_t with_stat[] = {ZOP_CREATE2, ZOP_CREATETTL, ZOP_CREATECONTAINER};
    for (int i = 0; i < 3; i++) {
        s = (struct zk_response){.type = with_stat[i], .path = "/c", .stat = sample_stat(i)};
        check_response(&s);
    }
    const int32_t stat_only[] = {ZOP_EXISTS, ZOP_SETDATA, ZOP_SETACL};
    for (int i = 0; i < 3; i++) {
        s = (struct zk_response){.type = stat_only[i], .stat = sample_stat(10 + i)};
        check_response(&s);
    }

    uint8_t bytes[] = {0, 1, 2, 0xff};
    s = (struct zk_response){.type = ZOP_GETDATA, .data = bytes, .datalen = 4, .stat = sample_stat(4)};
    check_response(&s);
    s.data = NULL; /* null data */
    s.datalen = -1;
    check_response(&s);
    s.data = (uint8_t *)"";
    s.datalen = 0;
    check_response(&s);

    char *kids[] = {"a", "b-0000000001", "zookeeper"};
    const int32_t listing[] = {ZOP_GETCHILDREN, ZOP_GETEPHEMERALS, ZOP_GETCHILDREN2};
    for (int i = 0; i < 3; i++) {
        s = (struct zk_response){.type = listing[i], .children = kids, .nchildren = 3};
        if (listing[i] == ZOP_GETCHILDREN2)
            s.stat = sample_stat(5);
        check_response(&s);
        s.nchildren = 0;
        s.children = NULL;
        check_response(&s);
    }

    s = (struct zk_response){.type = ZOP_GETACL, .acl = two_acls, .nacl = 2, .stat = sample_stat(6)};
    check_response(&s);
    s = (struct zk_response){.type = ZOP_GETALLCHILDRENNUMBER, .number = 123456};
    check_response(&s);
    s = (struct zk_response){.type = ZOP_ADDWATCH}; /* ErrorResponse(0) */
    check_response(&s);
    s = (struct zk_response){.type = ZOP_ERROR, .err = ZNONODE};
    check_response(&s);
    struct zk_id ids[2] = {{"ip", "127.0.0.1"}, {"digest", "alice"}};
    s = (struct zk_response){.type = ZOP_WHOAMI, .clients = ids, .nclients = 2};
    check_response(&s);

    /* these answers have no body */
    const int32_t bodiless[] = {ZOP_DELETE, ZOP_SETWATCHES, ZOP_SETWATCHES2,  ZOP_CHECKWATCHES,   ZOP_REMOVEWATCHES,
                                ZOP_AUTH,   ZOP_PING,       ZOP_CLOSESESSION, ZOP_DELETECONTAINER};
    for (size_t i = 0; i < sizeof(bodiless) / sizeof(bodiless[0]); i++) {
        struct jbuf b;
        jb_init(&b);
        s = (struct zk_response){.type = bodiless[i], .path = "/ignored", .stat = sample_stat(1)};
        jute_write_response(&b, &s);
        assert_int_equal(b.len, 0);
        struct jrd r;
        struct zk_response out;
        jr_init(&r, b.p, 0);
        assert_int_equal(jute_read_response(&r, bodiless[i], &out), ZOK);
        jute_free_response(&out);
        jb_free(&b);
    }
}

static void test_response_multi(void **state)
{
    (void)state;
    char *kids[] = {"x", "y"};
    struct zk_response ok[5] = {
        {.type = ZOP_CREATE, .path = "/m"},
        {.type = ZOP_CREATE2, .path = "/m/s-0000000001", .stat = sample_stat(2)},
        {.type = ZOP_DELETE},
        {.type = ZOP_CHECK},
        {.type = ZOP_SETDATA, .stat = sample_stat(3)},
    };
    struct zk_response s = {.type = ZOP_MULTI, .results = ok, .nresults = 5};
    check_response(&s);

    /* a failed multi: every result an error, ZooKeeper's 0 / code / RUNTIMEINCONSISTENCY */
    struct zk_response failed[3] = {{.type = ZOP_ERROR, .err = ZOK},
                                    {.type = ZOP_ERROR, .err = ZNODEEXISTS},
                                    {.type = ZOP_ERROR, .err = ZRUNTIMEINCONSISTENCY}};
    s.results = failed;
    s.nresults = 3;
    check_response(&s);
    s.nresults = 0;
    check_response(&s);

    struct zk_response reads[3] = {
        {.type = ZOP_GETDATA, .data = (uint8_t *)"v", .datalen = 1, .stat = sample_stat(4)},
        {.type = ZOP_GETCHILDREN, .children = kids, .nchildren = 2},
        {.type = ZOP_ERROR, .err = ZNONODE},
    };
    s = (struct zk_response){.type = ZOP_MULTIREAD, .results = reads, .nresults = 3};
    check_response(&s);

    /* the wire form: MultiHeader{type, false, err} + body; the error code is in both the
     * header and the ErrorResponse; createTTL/createContainer answer as create2 and
     * deleteContainer as delete, as in FinalRequestProcessor */
    struct zk_response mixed[3] = {{.type = ZOP_CREATECONTAINER, .path = "/c"},
                                   {.type = ZOP_DELETECONTAINER},
                                   {.type = ZOP_ERROR, .err = ZBADVERSION}};
    s = (struct zk_response){.type = ZOP_MULTI, .results = mixed, .nresults = 3};
    struct jbuf b;
    jb_init(&b);
    jute_write_response(&b, &s);
    struct jbuf want;
    jb_init(&want);
    jw_int(&want, ZOP_CREATE2);
    jw_bool(&want, false);
    jw_int(&want, 0);
    jw_string(&want, "/c");
    struct zk_stat zero = {0};
    jw_stat(&want, &zero);
    jw_int(&want, ZOP_DELETE);
    jw_bool(&want, false);
    jw_int(&want, 0);
    jw_int(&want, ZOP_ERROR);
    jw_bool(&want, false);
    jw_int(&want, ZBADVERSION);
    jw_int(&want, ZBADVERSION);
    jw_int(&want, -1);
    jw_bool(&want, true);
    jw_int(&want, -1);
    assert_int_equal(b.len, want.len);
    assert_memory_equal(b.p, want.p, b.len);
    jb_free(&b);
    jb_free(&want);
}

/* Multis of every size up to 70 small ops (check/delete "/x") and responses of as many
 * bodiless results: the growth of the op array is bounded by the bytes still to come, and
 * that bound must count the ops already read (it once refused a multi of 5 checks). */
static void test_multi_of_every_size(void **state)
{
    (void)state;
    struct zk_request ops[70];
    struct zk_response results[70];
    for (int i = 0; i < 70; i++) {
        ops[i] = rq(i % 2 ? ZOP_CHECK : ZOP_DELETE, "/x");
        ops[i].xid = 77;
        ops[i].version = i;
        results[i] = (struct zk_response){.type = i % 2 ? ZOP_CHECK : ZOP_DELETE};
    }
    for (int32_t n = 1; n <= 70; n++) {
        struct zk_request q = rq(ZOP_MULTI, NULL);
        q.pathlen = 0;
        q.ops = ops;
        q.nops = n;
        struct jbuf b;
        jb_init(&b);
        jute_write_request(&b, &q);
        struct zk_request out;
        int rc = decode_request(b.p, b.len, &out);
        if (rc != ZOK)
            fail_msg("a multi of %d ops: %d", n, rc);
        assert_request_equal(&q, &out, 1);
        jute_free_request(&out);

        struct zk_response s = {.type = ZOP_MULTI, .results = results, .nresults = n}, back;
        jb_reset(&b);
        jute_write_response(&b, &s);
        struct jrd r;
        jr_init(&r, b.p, b.len);
        rc = jute_read_response(&r, ZOP_MULTI, &back);
        if (rc != ZOK)
            fail_msg("a multi response of %d results: %d", n, rc);
        assert_response_equal(&s, &back);
        jute_free_response(&back);
        jb_free(&b);
    }
}

/* ---------- hostile input ---------- */

/* A getData request whose path length field is len, followed by a few bytes. */
static int decode_path_len(int32_t len)
{
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 1);
    jw_int(&b, ZOP_GETDATA);
    jw_int(&b, len);
    jw_raw(&b, "/abc\0", 5);
    struct zk_request q;
    int rc = decode_request(b.p, b.len, &q);
    jute_free_request(&q);
    jb_free(&b);
    return rc;
}

static void test_hostile_string_lengths(void **state)
{
    (void)state;
    assert_int_equal(decode_path_len(INT32_MAX), ZMARSHALLINGERROR);
    assert_int_equal(decode_path_len(0x10000000), ZMARSHALLINGERROR);
    assert_int_equal(decode_path_len(6), ZMARSHALLINGERROR);
    assert_int_equal(decode_path_len(4), ZOK); /* "/abc" then watch = 0 */

    /* huge buffer lengths: setData data, auth bytes, the connect password */
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 1);
    jw_int(&b, ZOP_SETDATA);
    jw_string(&b, "/a");
    jw_int(&b, INT32_MAX);
    jw_int(&b, 0);
    struct zk_request q;
    assert_int_equal(decode_request(b.p, b.len, &q), ZMARSHALLINGERROR);
    jute_free_request(&q);
    jb_reset(&b);
    jw_int(&b, ZXID_AUTH);
    jw_int(&b, ZOP_AUTH);
    jw_int(&b, 0);
    jw_string(&b, "digest");
    jw_int(&b, 0x7ffffff0);
    assert_int_equal(decode_request(b.p, b.len, &q), ZMARSHALLINGERROR);
    jute_free_request(&q);
    jb_reset(&b);
    struct zk_connect_req c = {.timeOut = 1, .passwd_len = 16};
    jute_write_connect_req(&b, &c);
    b.p[24] = 0x7f; /* the password length */
    struct jrd r;
    struct zk_connect_req out;
    jr_init(&r, b.p, b.len);
    assert_int_equal(jute_read_connect_req(&r, &out), ZMARSHALLINGERROR);
    jb_free(&b);
}

/* Only -1 means null: BinaryInputArchive.checkLength throws for any other negative length,
 * so ZooKeeper answers such a packet with MARSHALLINGERROR. */
static void test_hostile_negative_lengths(void **state)
{
    (void)state;
    assert_int_equal(decode_path_len(-1), ZSYSTEMERROR); /* null, then 5 bytes left over */
    assert_int_equal(decode_path_len(-2), ZMARSHALLINGERROR);
    assert_int_equal(decode_path_len(INT32_MIN), ZMARSHALLINGERROR);

    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 1);
    jw_int(&b, ZOP_SETDATA);
    jw_string(&b, "/a");
    jw_int(&b, -7); /* data */
    jw_int(&b, 0);
    struct zk_request q;
    assert_int_equal(decode_request(b.p, b.len, &q), ZMARSHALLINGERROR);
    jute_free_request(&q);
    jb_free(&b);
}

/* A count the remaining bytes cannot hold is refused before any element is read (and so
 * before the array is allocated); counts up to 2^31-1 must not reach calloc. */
static void test_hostile_vector_counts(void **state)
{
    (void)state;
    const int32_t counts[] = {INT32_MAX, INT32_MAX - 1, JUTE_MAX_VECTOR + 1, JUTE_MAX_VECTOR, 1000};
    for (int i = 0; i < 5; i++) {
        struct jbuf b;
        jb_init(&b);
        jw_int(&b, counts[i]);
        for (int k = 0; k < 3; k++) { /* three genuine elements, then the bytes run out */
            jw_int(&b, ZPERM_ALL);
            jw_string(&b, "world");
            jw_string(&b, "anyone");
        }
        struct jrd r;
        jr_init(&r, b.p, b.len);
        struct zk_acl *acl;
        int32_t nacl;
        jr_acls(&r, &acl, &nacl);
        assert_int_equal(r.err, ZMARSHALLINGERROR);
        assert_int_equal(r.pos, 4);
        jute_free_acls(acl, nacl);

        char **v;
        int32_t n;
        jr_init(&r, b.p, b.len);
        jr_strings(&r, &v, &n);
        assert_int_equal(r.err, ZMARSHALLINGERROR);
        assert_int_equal(r.pos, 4);
        jute_free_strings(v, n);

        /* the same inside records: create's ACL, setWatches, getChildren, whoAmI */
        struct jbuf p;
        jb_init(&p);
        jw_int(&p, 1);
        jw_int(&p, ZOP_CREATE);
        jw_string(&p, "/a");
        jw_buffer(&p, NULL, -1);
        jw_raw(&p, b.p, b.len);
        struct zk_request q;
        assert_int_equal(decode_request(p.p, p.len, &q), ZMARSHALLINGERROR);
        jute_free_request(&q);
        jb_reset(&p);
        jw_int(&p, ZXID_SET_WATCHES);
        jw_int(&p, ZOP_SETWATCHES2);
        jw_long(&p, 0);
        jw_int(&p, 0);
        jw_raw(&p, b.p, b.len);
        assert_int_equal(decode_request(p.p, p.len, &q), ZMARSHALLINGERROR);
        jute_free_request(&q);
        const int32_t rtypes[] = {ZOP_GETCHILDREN, ZOP_GETACL, ZOP_WHOAMI};
        for (int t = 0; t < 3; t++) {
            struct zk_response s;
            jr_init(&r, b.p, b.len);
            assert_int_equal(jute_read_response(&r, rtypes[t], &s), ZMARSHALLINGERROR);
            jute_free_response(&s);
        }
        jb_free(&p);
        jb_free(&b);
    }

    /* negative counts other than -1 are empty vectors (BinaryIndex.done is n <= 0) */
    static const uint8_t neg[] = {0xff, 0xff, 0xff, 0xfb};
    struct jrd r;
    jr_init(&r, neg, sizeof(neg));
    char **v;
    int32_t n;
    jr_strings(&r, &v, &n);
    assert_int_equal(r.err, 0);
    assert_int_equal(n, 0);
    assert_null(v);
}

/* A multi without its closing header, however long, is refused and freed. */
static void test_hostile_unterminated_multi(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 1);
    jw_int(&b, ZOP_MULTI);
    for (int i = 0; i < 5000; i++) {
        jw_int(&b, ZOP_CHECK);
        jw_bool(&b, false);
        jw_int(&b, -1);
        jw_string(&b, "/x");
        jw_int(&b, i);
    }
    struct zk_request q;
    assert_int_equal(decode_request(b.p, b.len, &q), ZMARSHALLINGERROR);
    jute_free_request(&q);
    /* the response side */
    jb_reset(&b);
    for (int i = 0; i < 5000; i++) {
        jw_int(&b, ZOP_DELETE);
        jw_bool(&b, false);
        jw_int(&b, 0);
    }
    struct jrd r;
    struct zk_response s;
    jr_init(&r, b.p, b.len);
    assert_int_equal(jute_read_response(&r, ZOP_MULTI, &s), ZMARSHALLINGERROR);
    jute_free_response(&s);
    jb_free(&b);
}

/* Decodes the hostile response in a child process: the verdict is the child's exit code
 * (0 = rejected cleanly, 1 = accepted), a crash shows as a signal. */
static int decode_response_in_child(const struct jbuf *b, int32_t type)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct jrd r;
        struct zk_response s;
        jr_init(&r, b->p, b->len);
        int rc = jute_read_response(&r, type, &s);
        jute_free_response(&s);
        _exit(rc == ZMARSHALLINGERROR ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* MultiResponse.deserialize accepts only create, create2, delete, setData, check,
 * getChildren, getData and error sub-results (IOException for any other type). A decoder
 * that let a sub-result be a multi again would recurse once per 9-byte MultiHeader: a 1 MB
 * response of ~116000 nested levels overflows the stack, so this runs in a child process. */
static void test_hostile_nested_multi_response(void **state)
{
    (void)state;
    struct jbuf b;
    jb_init(&b);
    while (b.len + 9 <= ZK_DEFAULT_MAXBUFFER) {
        jw_int(&b, ZOP_MULTI);
        jw_bool(&b, false);
        jw_int(&b, 0);
    }
    assert_int_equal(decode_response_in_child(&b, ZOP_MULTI), 0);
    /* and a foreign sub-result type is refused even when the packet is well formed */
    jb_reset(&b);
    jw_int(&b, ZOP_SETWATCHES);
    jw_bool(&b, false);
    jw_int(&b, 0);
    jw_int(&b, -1);
    jw_bool(&b, true);
    jw_int(&b, -1);
    assert_int_equal(decode_response_in_child(&b, ZOP_MULTI), 0);
    jb_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_primitives),
        cmocka_unit_test(test_connect_request),
        cmocka_unit_test(test_connect_response),
        cmocka_unit_test(test_request_simple_ops),
        cmocka_unit_test(test_request_create_family),
        cmocka_unit_test(test_request_set_data_and_acl),
        cmocka_unit_test(test_request_set_watches),
        cmocka_unit_test(test_request_auth),
        cmocka_unit_test(test_request_multi),
        cmocka_unit_test(test_request_multi_foreign_ops),
        cmocka_unit_test(test_request_multi_kinds),
        cmocka_unit_test(test_request_unknown_opcode),
        cmocka_unit_test(test_null_values),
        cmocka_unit_test(test_response_layouts),
        cmocka_unit_test(test_response_multi),
        cmocka_unit_test(test_multi_of_every_size),
        cmocka_unit_test(test_hostile_string_lengths),
        cmocka_unit_test(test_hostile_negative_lengths),
        cmocka_unit_test(test_hostile_vector_counts),
        cmocka_unit_test(test_hostile_unterminated_multi),
        cmocka_unit_test(test_hostile_nested_multi_response),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
