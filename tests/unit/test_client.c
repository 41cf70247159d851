/* Unit tests for client/conn: the client library's pure session state machine, driven with
 * a fake clock and scripted server bytes (built with the jute codec), checking the bytes it
 * sends and the effects it queues: connect strings, handshake, pings and timeouts, FIFO
 * reply matching, connection loss, reconnect with the same session and the watches re-armed,
 * expiry, auth, chroot, watch registration and dispatch, close, bounds on frames.
 *
 * The Makefile links unit tests with common/, zkfsd/ and replication/ only, so the module
 * under test is compiled in here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* the state machine's own file: the tests reach its internal helpers (be32, TTL_MAX) */
#include "client/conn.c"

/* ------------------------------------------------------------------ harness */

static int64_t T; /* the fake clock */

#define MAXE 128
struct effs {
    struct zc_effect v[MAXE];
    int n;
};

static void drain(struct zc_conn *c, struct effs *e)
{
    e->n = 0;
    while (e->n < MAXE && zc_next_effect(c, &e->v[e->n]))
        e->n++;
}

static void effs_clear(struct effs *e)
{
    for (int i = 0; i < e->n; i++)
        zc_effect_clear(&e->v[i]);
    e->n = 0;
}

/* Index of the i-th (from 0) effect of kind k, or -1. */
static int find(const struct effs *e, enum zc_eff_kind k, int i)
{
    for (int j = 0; j < e->n; j++)
        if (e->v[j].kind == k && i-- == 0)
            return j;
    return -1;
}

static int count(const struct effs *e, enum zc_eff_kind k)
{
    int n = 0;
    for (int j = 0; j < e->n; j++)
        n += e->v[j].kind == k;
    return n;
}

/* The frames the core wrote, copied out and split. */
static struct {
    uint8_t *buf;
    size_t len;
    size_t off[256], flen[256];
    int n;
} FR;

static int take_output(struct zc_conn *c)
{
    size_t len;
    const uint8_t *p = zc_output(c, &len);
    free(FR.buf);
    FR.buf = malloc(len + 1);
    assert_non_null(FR.buf);
    if (len)
        memcpy(FR.buf, p, len);
    FR.len = len;
    zc_output_consumed(c, len);
    FR.n = 0;
    size_t at = 0;
    while (at + 4 <= len) {
        uint32_t n = be32(FR.buf + at);
        assert_true(at + 4 + n <= len);
        FR.off[FR.n] = at + 4;
        FR.flen[FR.n++] = n;
        at += 4 + n;
    }
    assert_int_equal(at, len);
    return FR.n;
}

/* Decodes output frame i as a request (header and body), as a server would. */
static void frame_req(int i, struct zk_request *q)
{
    struct jrd r;
    assert_true(i < FR.n);
    memset(q, 0, sizeof(*q));
    jr_init(&r, FR.buf + FR.off[i], FR.flen[i]);
    q->xid = jr_int(&r);
    q->type = jr_int(&r);
    assert_int_equal(jute_read_request(&r, q), ZOK);
    assert_int_equal(jr_remaining(&r), 0);
}

static void frame_connect_req(int i, struct zk_connect_req *cr)
{
    struct jrd r;
    jr_init(&r, FR.buf + FR.off[i], FR.flen[i]);
    assert_int_equal(jute_read_connect_req(&r, cr), ZOK);
}

static void feed_buf(struct zc_conn *c, uint32_t gen, struct jbuf *b)
{
    assert_false(b->oom);
    zc_on_data(c, gen, T, b->p, b->len);
    jb_free(b);
}

static void feed_connect_resp(struct zc_conn *c, uint32_t gen, int32_t timeout, int64_t sid)
{
    struct jbuf b;
    struct zk_connect_resp r;
    memset(&r, 0, sizeof(r));
    r.timeOut = timeout;
    r.sessionId = sid;
    memcpy(r.passwd, "0123456789abcdef", 16);
    jb_init(&b);
    size_t off = jw_frame_begin(&b);
    jute_write_connect_resp(&b, &r, true);
    jw_frame_end(&b, off);
    feed_buf(c, gen, &b);
}

static void reply_bytes(struct jbuf *b, int32_t xid, int64_t zxid, int32_t err, const struct zk_response *res)
{
    size_t off = jw_frame_begin(b);
    jw_int(b, xid);
    jw_long(b, zxid);
    jw_int(b, err);
    if (res)
        jute_write_response(b, res);
    jw_frame_end(b, off);
}

static void feed_reply(struct zc_conn *c, uint32_t gen, int32_t xid, int64_t zxid, int32_t err,
                       const struct zk_response *res)
{
    struct jbuf b;
    jb_init(&b);
    reply_bytes(&b, xid, zxid, err, res);
    feed_buf(c, gen, &b);
}

static void feed_event(struct zc_conn *c, uint32_t gen, int32_t type, const char *path)
{
    struct jbuf b;
    jb_init(&b);
    size_t off = jw_frame_begin(&b);
    jw_int(&b, ZXID_WATCH_EVENT);
    jw_long(&b, -1);
    jw_int(&b, 0);
    jw_int(&b, type);
    jw_int(&b, ZSTATE_SYNC_CONNECTED);
    jw_string(&b, path);
    jw_frame_end(&b, off);
    feed_buf(c, gen, &b);
}

static void w_a(void) {}
static void w_b(void) {}
static void w_session(void) {}
static const struct zc_watcher WA = {w_a, NULL};
static const struct zc_watcher WB = {w_b, NULL};
static const struct zc_watcher WS = {w_session, NULL};

static struct zc_conn *mk(const char *cs, uint64_t seed)
{
    struct zc_config cfg;
    int err = -1;
    memset(&cfg, 0, sizeof(cfg));
    cfg.session_timeout = 30000;
    cfg.seed = seed;
    cfg.session_watcher = WS;
    struct zc_conn *c = zc_new(cs, &cfg, &err);
    assert_non_null(c);
    assert_int_equal(err, ZOK);
    return c;
}

/* Completes TCP and the handshake of attempt gen with the given negotiated timeout. Effects
 * of the handshake are left queued. */
static void connect_gen(struct zc_conn *c, uint32_t gen, int32_t timeout, int64_t sid)
{
    zc_on_connected(c, gen, T);
    assert_int_equal(take_output(c), 1);
    feed_connect_resp(c, gen, timeout, sid);
    assert_int_equal(zc_state(c), ZSTATE_SYNC_CONNECTED);
}

/* The same for the pending CONNECT (effects before it are dropped); returns its gen. */
static uint32_t connect_up(struct zc_conn *c, int32_t timeout, int64_t sid)
{
    struct effs e;
    drain(c, &e);
    int i = find(&e, ZC_EFF_CONNECT, 0);
    assert_true(i >= 0);
    uint32_t gen = e.v[i].gen;
    effs_clear(&e);
    connect_gen(c, gen, timeout, sid);
    return gen;
}

static struct zc_conn *connected(const char *cs, uint32_t *gen)
{
    struct effs e;
    struct zc_conn *c = mk(cs, 1);
    T = 1000;
    zc_start(c, T);
    *gen = connect_up(c, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    take_output(c);
    return c;
}

static int submit_path(struct zc_conn *c, int32_t type, const char *path, const struct zc_watcher *w, void *cookie)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = type;
    q.path = (char *)path;
    return zc_submit(c, T, &q, w, 0, cookie);
}

static int submit_create(struct zc_conn *c, const char *path, int mode, void *cookie)
{
    struct zk_request q;
    static struct zk_acl acl = {ZPERM_ALL, {(char *)"world", (char *)"anyone"}};
    memset(&q, 0, sizeof(q));
    q.type = ZOP_CREATE2;
    q.path = (char *)path;
    q.data = (const uint8_t *)"d";
    q.datalen = 1;
    q.acl = &acl;
    q.nacl = 1;
    q.flags = mode;
    return zc_submit(c, T, &q, NULL, 0, cookie);
}

static int C1, C2, C3, C4; /* cookies */

/* ------------------------------------------------------------------ tests */

static void test_connect_string(void **state)
{
    (void)state;
    struct zc_hostlist hl;
    const char *why;
    assert_int_equal(zc_parse_connect_string("h1:2182, h2 ,[::1]:2183,[fe80::1],10.0.0.1:/app/x", &hl, &why), ZOK);
    assert_int_equal(hl.n, 5);
    assert_string_equal(hl.hosts[0].host, "h1");
    assert_int_equal(hl.hosts[0].port, 2182);
    assert_string_equal(hl.hosts[1].host, "h2");
    assert_int_equal(hl.hosts[1].port, 2181);
    assert_string_equal(hl.hosts[2].host, "::1");
    assert_int_equal(hl.hosts[2].port, 2183);
    assert_string_equal(hl.hosts[3].host, "fe80::1");
    assert_int_equal(hl.hosts[3].port, 2181);
    assert_string_equal(hl.hosts[4].host, "10.0.0.1");
    assert_int_equal(hl.hosts[4].port, 2181);
    assert_string_equal(hl.chroot, "/app/x");
    zc_hostlist_free(&hl);

    assert_int_equal(zc_parse_connect_string("127.0.0.1:2181/", &hl, NULL), ZOK);
    assert_null(hl.chroot); /* "/" is no chroot */
    zc_hostlist_free(&hl);

    assert_int_equal(zc_parse_connect_string("h:1/a/", &hl, &why), ZBADARGUMENTS);
    assert_non_null(why);
    assert_int_equal(zc_parse_connect_string("h:1/a/../b", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string(" , ,/app", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("h:0", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("h:65536", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("h:12a", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("[::1", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string("[::1]x", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string(":2181", &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(zc_parse_connect_string(NULL, &hl, NULL), ZBADARGUMENTS);
    assert_int_equal(hl.n, 0);

    int err;
    assert_null(zc_new("h:1/bad/", NULL, &err));
    assert_int_equal(err, ZBADARGUMENTS);
}

static void test_shuffle_is_seeded(void **state)
{
    (void)state;
    const char *cs = "a:1,b:2,c:3,d:4,e:5,f:6";
    struct zc_conn *x = mk(cs, 42), *y = mk(cs, 42);
    int differs = 0;
    for (uint64_t s = 1; s < 20 && !differs; s++) {
        struct zc_conn *z = mk(cs, s);
        for (int i = 0; i < 6; i++)
            differs |= strcmp(zc_hosts(z)->hosts[i].host, zc_hosts(x)->hosts[i].host) != 0;
        zc_free(z);
    }
    assert_true(differs);
    int seen = 0;
    for (int i = 0; i < 6; i++) {
        assert_string_equal(zc_hosts(x)->hosts[i].host, zc_hosts(y)->hosts[i].host);
        seen |= 1 << (zc_hosts(x)->hosts[i].host[0] - 'a');
        assert_int_equal(zc_hosts(x)->hosts[i].port, zc_hosts(x)->hosts[i].host[0] - 'a' + 1);
    }
    assert_int_equal(seen, 0x3f);
    zc_free(x);
    zc_free(y);
}

static void test_handshake(void **state)
{
    (void)state;
    struct effs e;
    struct zc_conn *c = mk("127.0.0.1:2181", 7);
    T = 100;
    assert_int_equal(zc_next_deadline(c), -1);
    zc_start(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].kind, ZC_EFF_CONNECT);
    assert_int_equal(e.v[0].host, 0);
    uint32_t gen = e.v[0].gen;
    effs_clear(&e);
    assert_int_equal(zc_next_deadline(c), 100 + 30000); /* connect timeout: timeout / 1 host */

    zc_on_connected(c, gen + 1, T); /* a stale attempt is ignored */
    assert_int_equal(take_output(c), 0);
    zc_on_connected(c, gen, T);
    assert_int_equal(take_output(c), 1);
    struct zk_connect_req cr;
    frame_connect_req(0, &cr);
    assert_int_equal(cr.protocolVersion, 0);
    assert_int_equal(cr.lastZxidSeen, 0);
    assert_int_equal(cr.timeOut, 30000);
    assert_int_equal(cr.sessionId, 0);
    assert_int_equal(cr.passwd_len, 16);
    assert_true(cr.has_readOnly);
    assert_false(cr.readOnly);

    /* the response split at every byte still parses */
    struct jbuf b;
    struct zk_connect_resp r;
    memset(&r, 0, sizeof(r));
    r.timeOut = 4000;
    r.sessionId = 0x55;
    memcpy(r.passwd, "ABCDEFGHIJKLMNOP", 16);
    jb_init(&b);
    size_t off = jw_frame_begin(&b);
    jute_write_connect_resp(&b, &r, false); /* without the readOnly byte */
    jw_frame_end(&b, off);
    for (size_t i = 0; i < b.len; i++)
        zc_on_data(c, gen, T, b.p + i, 1);
    jb_free(&b);

    assert_int_equal(zc_state(c), ZSTATE_SYNC_CONNECTED);
    assert_int_equal(zc_session_id(c), 0x55);
    assert_memory_equal(zc_session_passwd(c), "ABCDEFGHIJKLMNOP", 16);
    assert_int_equal(zc_timeout(c), 4000);
    drain(c, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.v[0].kind, ZC_EFF_STATE);
    assert_int_equal(e.v[0].state, ZSTATE_SYNC_CONNECTED);
    assert_int_equal(e.v[1].kind, ZC_EFF_WATCH);
    assert_ptr_equal(e.v[1].watcher.fn, w_session);
    assert_int_equal(e.v[1].type, ZEV_NONE);
    assert_int_equal(e.v[1].state, ZSTATE_SYNC_CONNECTED);
    assert_null(e.v[1].path);
    effs_clear(&e);
    zc_free(c);
}

static void test_ping_and_read_timeout(void **state)
{
    (void)state;
    struct effs e;
    struct zc_conn *c = mk("h1:1,h2:2", 3);
    T = 0;
    zc_start(c, T);
    uint32_t gen = connect_up(c, 3000, 9); /* ping every 1000, read timeout 2000 */
    drain(c, &e);
    effs_clear(&e);
    assert_int_equal(zc_next_deadline(c), 1000);
    T = 999;
    zc_tick(c, T);
    assert_int_equal(take_output(c), 0);
    T = 1000;
    zc_tick(c, T);
    assert_int_equal(take_output(c), 1);
    struct zk_request q;
    frame_req(0, &q);
    assert_int_equal(q.xid, ZXID_PING);
    assert_int_equal(q.type, ZOP_PING);
    jute_free_request(&q);
    assert_int_equal(zc_outstanding(c), 0); /* pings are not matched in FIFO */

    /* sending a request postpones the next ping */
    T = 1500;
    assert_int_equal(submit_path(c, ZOP_SYNC, "/", NULL, &C1), ZOK);
    take_output(c);
    assert_int_equal(zc_next_deadline(c), 2000); /* read timeout from the handshake at 0 */
    feed_reply(c, gen, ZXID_PING, 5, 0, NULL);   /* anything heard resets it */
    assert_int_equal(zc_next_deadline(c), 2500); /* now the ping at 1500 + 1000 */
    T = 2500;
    zc_tick(c, T);
    assert_int_equal(take_output(c), 1);
    drain(c, &e);
    assert_int_equal(e.n, 0);

    /* silence for 2/3 of the timeout: the connection is dropped, the request fails */
    T = 1500 + 2000;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    assert_int_equal(e.v[0].gen, gen);
    int r = find(&e, ZC_EFF_REPLY, 0);
    assert_true(r > 0);
    assert_ptr_equal(e.v[r].cookie, &C1);
    assert_int_equal(e.v[r].rc, ZCONNECTIONLOSS);
    int s = find(&e, ZC_EFF_STATE, 0);
    assert_true(s > r); /* requests fail before the state event, as in the Java client */
    assert_int_equal(e.v[s].state, ZSTATE_DISCONNECTED);
    int k = find(&e, ZC_EFF_CONNECT, 0);
    assert_true(k > s);
    assert_int_equal(e.v[k].gen, gen + 1);
    assert_int_equal(e.v[k].host, 1); /* the other host */
    assert_int_equal(zc_state(c), ZSTATE_DISCONNECTED);
    effs_clear(&e);
    zc_free(c);
}

static void test_fifo_replies(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h:1", &gen);
    assert_int_equal(submit_create(c, "/a", ZMODE_PERSISTENT, &C1), ZOK);
    assert_int_equal(submit_path(c, ZOP_GETDATA, "/a", NULL, &C2), ZOK);
    assert_int_equal(submit_path(c, ZOP_DELETE, "/b", NULL, &C3), ZOK);
    assert_int_equal(take_output(c), 3);
    struct zk_request q[3];
    for (int i = 0; i < 3; i++)
        frame_req(i, &q[i]);
    assert_int_equal(q[0].type, ZOP_CREATE2);
    assert_string_equal(q[0].path, "/a");
    assert_int_equal(q[1].type, ZOP_GETDATA);
    assert_false(q[1].watch);
    assert_int_equal(q[2].type, ZOP_DELETE);
    assert_true(q[0].xid < q[1].xid && q[1].xid < q[2].xid);
    assert_int_equal(zc_outstanding(c), 3);

    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_CREATE2;
    res.path = (char *)"/a";
    res.stat.czxid = 10;
    feed_reply(c, gen, q[0].xid, 10, 0, &res);
    /* interleaved: a notification, a ping, an auth reply with nothing pending */
    feed_event(c, gen, ZEV_CHANGED, "/zzz");
    feed_reply(c, gen, ZXID_PING, 10, 0, NULL);
    feed_reply(c, gen, ZXID_AUTH, 10, 0, NULL);
    memset(&res, 0, sizeof(res));
    res.type = ZOP_GETDATA;
    res.data = (uint8_t *)"xyz";
    res.datalen = 3;
    res.stat.version = 4;
    feed_reply(c, gen, q[1].xid, 11, 0, &res);
    feed_reply(c, gen, q[2].xid, 12, ZNONODE, NULL);
    assert_int_equal(zc_last_zxid(c), 12);
    drain(c, &e);
    assert_int_equal(e.n, 3);
    assert_ptr_equal(e.v[0].cookie, &C1);
    assert_int_equal(e.v[0].rc, ZOK);
    assert_int_equal(e.v[0].op, ZOP_CREATE2);
    assert_string_equal(e.v[0].res.path, "/a");
    assert_int_equal(e.v[0].res.stat.czxid, 10);
    assert_ptr_equal(e.v[1].cookie, &C2);
    assert_int_equal(e.v[1].res.datalen, 3);
    assert_memory_equal(e.v[1].res.data, "xyz", 3);
    assert_int_equal(e.v[1].res.stat.version, 4);
    assert_ptr_equal(e.v[2].cookie, &C3);
    assert_int_equal(e.v[2].rc, ZNONODE);
    effs_clear(&e);
    for (int i = 0; i < 3; i++)
        jute_free_request(&q[i]);
    assert_int_equal(zc_outstanding(c), 0);
    zc_free(c);
}

/* Several replies in one read, and a read ending inside a length prefix. */
static void test_frames_across_reads(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request q;
    struct zc_conn *c = connected("h:1", &gen);
    int32_t xid[4];
    for (int i = 0; i < 4; i++)
        submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    assert_int_equal(take_output(c), 4);
    for (int i = 0; i < 4; i++) {
        frame_req(i, &q);
        xid[i] = q.xid;
        jute_free_request(&q);
    }
    struct jbuf b;
    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_SYNC;
    res.path = (char *)"/";
    jb_init(&b);
    for (int i = 0; i < 4; i++)
        reply_bytes(&b, xid[i], 7, 0, &res);
    size_t one = b.len / 4;
    zc_on_data(c, gen, T, b.p, 2 * one + 2); /* two whole frames and half a length */
    drain(c, &e);
    assert_int_equal(e.n, 2);
    effs_clear(&e);
    zc_on_data(c, gen, T, b.p + 2 * one + 2, 3); /* the rest of the length, a byte of body */
    drain(c, &e);
    assert_int_equal(e.n, 0);
    zc_on_data(c, gen, T, b.p + 2 * one + 5, b.len - 2 * one - 5);
    drain(c, &e);
    assert_int_equal(e.n, 2);
    assert_string_equal(e.v[1].res.path, "/");
    effs_clear(&e);
    jb_free(&b);
    assert_int_equal(zc_outstanding(c), 0);
    zc_free(c);
}

static void test_xid_mismatch_disconnects(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1,h2:2", &gen);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    submit_path(c, ZOP_SYNC, "/", NULL, &C2);
    take_output(c);
    struct zk_request q;
    frame_req(1, &q);
    feed_reply(c, gen, q.xid, 5, 0, NULL); /* the second reply first */
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    assert_int_equal(count(&e, ZC_EFF_REPLY), 2);
    assert_int_equal(e.v[find(&e, ZC_EFF_REPLY, 0)].rc, ZCONNECTIONLOSS);
    assert_ptr_equal(e.v[find(&e, ZC_EFF_REPLY, 0)].cookie, &C1);
    assert_ptr_equal(e.v[find(&e, ZC_EFF_REPLY, 1)].cookie, &C2);
    assert_int_equal(count(&e, ZC_EFF_CONNECT), 1);
    uint32_t gen2 = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);
    /* bytes still arriving on the dropped connection are ignored */
    feed_reply(c, gen, 1, 5, 0, NULL);
    drain(c, &e);
    assert_int_equal(e.n, 0);

    /* a reply when nothing is outstanding is a protocol error too */
    gen = gen2;
    connect_gen(c, gen, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    feed_reply(c, gen, 77, 5, 0, NULL);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    effs_clear(&e);
    zc_free(c);
}

static void test_oversized_and_bad_frames(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1,h2:2", &gen);
    /* a length above jute.maxbuffer is refused before anything is allocated */
    uint8_t big[4] = {0x00, 0x10, 0x00, 0x00}; /* 1 MiB > 1048575 */
    zc_on_data(c, gen, T, big, 2);
    drain(c, &e);
    assert_int_equal(e.n, 0);
    zc_on_data(c, gen, T, big + 2, 2);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    gen = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);

    connect_gen(c, gen, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    uint8_t neg[8] = {0xff, 0xff, 0xff, 0xf0, 1, 2, 3, 4};
    zc_on_data(c, gen, T, neg, sizeof(neg));
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    gen = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);

    /* a reply shorter than its header */
    connect_gen(c, gen, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    uint8_t shortf[8] = {0, 0, 0, 4, 0, 0, 0, 1};
    zc_on_data(c, gen, T, shortf, sizeof(shortf));
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    gen = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);

    /* a body that does not decode fails its request with MARSHALLINGERROR */
    connect_gen(c, gen, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    take_output(c);
    submit_path(c, ZOP_GETDATA, "/x", NULL, &C1);
    take_output(c);
    struct zk_request q;
    frame_req(0, &q);
    struct jbuf b;
    jb_init(&b);
    size_t off = jw_frame_begin(&b);
    jw_int(&b, q.xid);
    jw_long(&b, 3);
    jw_int(&b, 0);
    jw_int(&b, 1000); /* data length beyond the frame */
    jw_frame_end(&b, off);
    feed_buf(c, gen, &b);
    jute_free_request(&q);
    drain(c, &e);
    int r = find(&e, ZC_EFF_REPLY, 0);
    assert_int_equal(e.v[r].rc, ZMARSHALLINGERROR);
    assert_true(find(&e, ZC_EFF_CLOSE, 0) >= 0);
    gen = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);

    /* a frame exactly at the bound is accepted (the reply to a big getData) */
    connect_gen(c, gen, 6000, 0x1234);
    drain(c, &e);
    effs_clear(&e);
    take_output(c);
    submit_path(c, ZOP_GETDATA, "/x", NULL, &C1);
    take_output(c);
    frame_req(0, &q);
    static uint8_t blob[ZK_DEFAULT_MAXBUFFER];
    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_GETDATA;
    res.data = blob;
    res.datalen = ZK_DEFAULT_MAXBUFFER - 16 - 4 - JUTE_STAT_LEN;
    jb_init(&b);
    reply_bytes(&b, q.xid, 4, 0, &res);
    assert_int_equal(b.len, 4 + ZK_DEFAULT_MAXBUFFER);
    /* in two pieces, through the reassembly buffer */
    zc_on_data(c, gen, T, b.p, 100);
    zc_on_data(c, gen, T, b.p + 100, b.len - 100);
    jb_free(&b);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].rc, ZOK);
    assert_int_equal(e.v[0].res.datalen, res.datalen);
    effs_clear(&e);
    zc_free(c);
}

static void test_connection_loss_queue_and_reconnect(void **state)
{
    (void)state;
    struct effs e;
    struct zc_conn *c = mk("h1:1,h2:2,h3:3", 5);
    T = 0;
    zc_start(c, T);
    uint32_t gen = connect_up(c, 6000, 0x77);
    drain(c, &e);
    effs_clear(&e);
    int first = zc_current_host(c);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    take_output(c);
    struct zk_request q;
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 0x500, 0, &(struct zk_response){.type = ZOP_SYNC, .path = (char *)"/"});
    jute_free_request(&q);
    submit_path(c, ZOP_EXISTS, "/y", NULL, &C2);
    take_output(c);
    drain(c, &e);
    effs_clear(&e);

    T = 100;
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    assert_int_equal(find(&e, ZC_EFF_CLOSE, 0), -1); /* the shell reported it: no CLOSE back */
    int r = find(&e, ZC_EFF_REPLY, 0);
    assert_ptr_equal(e.v[r].cookie, &C2);
    assert_int_equal(e.v[r].rc, ZCONNECTIONLOSS);
    int k = find(&e, ZC_EFF_CONNECT, 0);
    assert_int_equal(e.v[k].host, (first + 1) % 3); /* the next host, at once */
    uint32_t gen2 = e.v[k].gen;
    effs_clear(&e);
    zc_on_disconnected(c, gen, T); /* repeated, stale: ignored */
    drain(c, &e);
    assert_int_equal(e.n, 0);

    /* submitted while disconnected: queued, not sent */
    assert_int_equal(submit_path(c, ZOP_GETDATA, "/q1", NULL, &C3), ZOK);
    assert_int_equal(submit_path(c, ZOP_GETDATA, "/q2", NULL, &C4), ZOK);
    assert_int_equal(zc_queued(c), 2);
    assert_int_equal(take_output(c), 0);

    zc_on_connected(c, gen2, T);
    assert_int_equal(take_output(c), 1);
    struct zk_connect_req cr;
    frame_connect_req(0, &cr);
    assert_int_equal(cr.sessionId, 0x77); /* the same session */
    assert_memory_equal(cr.passwd, "0123456789abcdef", 16);
    assert_int_equal(cr.lastZxidSeen, 0x500);
    assert_int_equal(take_output(c), 0); /* nothing before the ConnectResponse */
    feed_connect_resp(c, gen2, 6000, 0x77);
    assert_int_equal(take_output(c), 2);
    struct zk_request a, b;
    frame_req(0, &a);
    frame_req(1, &b);
    assert_string_equal(a.path, "/q1");
    assert_string_equal(b.path, "/q2");
    assert_true(a.xid < b.xid);
    assert_int_equal(zc_queued(c), 0);
    assert_int_equal(zc_outstanding(c), 2);
    feed_reply(c, gen2, a.xid, 0x501, ZNONODE, NULL);
    feed_reply(c, gen2, b.xid, 0x501, ZNONODE, NULL);
    jute_free_request(&a);
    jute_free_request(&b);
    drain(c, &e);
    assert_int_equal(e.v[find(&e, ZC_EFF_REPLY, 0)].cookie == &C3, 1);
    assert_int_equal(e.v[find(&e, ZC_EFF_REPLY, 1)].cookie == &C4, 1);
    effs_clear(&e);
    zc_free(c);
}

static void test_queued_request_times_out(void **state)
{
    (void)state;
    struct effs e;
    struct zc_conn *c = mk("h1:1", 5);
    T = 0;
    assert_int_equal(submit_path(c, ZOP_SYNC, "/", NULL, &C1), ZOK); /* before zc_start: queued */
    zc_start(c, T);
    drain(c, &e);
    uint32_t gen = e.v[0].gen;
    effs_clear(&e);
    T = 10;
    zc_on_disconnected(c, gen, T); /* refused: the only host, so a pause */
    drain(c, &e);
    assert_int_equal(e.n, 0);
    int64_t d = zc_next_deadline(c);
    assert_true(d >= 10 + ZC_RECONNECT_PAUSE_MS && d < 10 + 2 * ZC_RECONNECT_PAUSE_MS);
    T = d - 1;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 0);
    T = d;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].kind, ZC_EFF_CONNECT);
    gen = e.v[0].gen;
    effs_clear(&e);
    /* the connect attempt times out after timeout / hosts */
    /* meanwhile the queued request waited a whole session timeout: it fails */
    T = 29999;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 0);
    assert_int_equal(zc_next_deadline(c), 30000);
    T = 30000;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].cookie, &C1);
    assert_int_equal(e.v[0].rc, ZCONNECTIONLOSS);
    effs_clear(&e);
    assert_int_equal(zc_next_deadline(c), d + 30000);
    T = d + 30000 - 1;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.n, 0);
    T = d + 30000;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    assert_int_equal(e.v[0].gen, gen);
    effs_clear(&e);
    zc_free(c);
}

/* Registers watches of every kind, answering each request. */
static void register_all(struct zc_conn *c, uint32_t gen)
{
    struct zk_request q;
    struct effs e;
    struct zk_response res;
    int64_t zxid = 0x100;
    memset(&res, 0, sizeof(res));

    submit_path(c, ZOP_GETDATA, "/d", &WA, NULL);
    submit_path(c, ZOP_EXISTS, "/missing", &WA, NULL);
    submit_path(c, ZOP_EXISTS, "/present", &WB, NULL);
    submit_path(c, ZOP_GETCHILDREN2, "/p", &WA, NULL);
    submit_path(c, ZOP_GETDATA, "/nonode", &WA, NULL); /* fails: no watch */
    struct zk_request aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = ZOP_ADDWATCH;
    aw.path = (char *)"/per";
    aw.mode = ZADDWATCH_PERSISTENT;
    assert_int_equal(zc_submit(c, T, &aw, &WA, 0, NULL), ZOK);
    aw.path = (char *)"/rec";
    aw.mode = ZADDWATCH_PERSISTENT_RECURSIVE;
    assert_int_equal(zc_submit(c, T, &aw, &WB, 0, NULL), ZOK);
    assert_int_equal(take_output(c), 7);
    for (int i = 0; i < 7; i++) {
        frame_req(i, &q);
        int32_t err = 0;
        memset(&res, 0, sizeof(res));
        res.type = q.type;
        if (q.type == ZOP_EXISTS || q.type == ZOP_GETDATA || q.type == ZOP_GETCHILDREN2)
            assert_true(q.watch);
        if (!strcmp(q.path, "/missing") || !strcmp(q.path, "/nonode"))
            err = ZNONODE;
        feed_reply(c, gen, q.xid, zxid++, err, err ? NULL : &res);
        jute_free_request(&q);
    }
    drain(c, &e);
    assert_int_equal(e.n, 0); /* no cookies */
    assert_int_equal(zc_watch_count(c, ZW_DATA), 2);
    assert_int_equal(zc_watch_count(c, ZW_EXIST), 1);
    assert_int_equal(zc_watch_count(c, ZW_CHILD), 1);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT), 1);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT_RECURSIVE), 1);
}

static int has(char **v, int32_t n, const char *s)
{
    for (int32_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return 1;
    return 0;
}

static void test_reconnect_rearms_watches(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1,h2:2", &gen);
    assert_int_equal(zc_add_auth(c, T, "digest", "u:p", 3, &C1), ZOK);
    take_output(c);
    feed_reply(c, gen, ZXID_AUTH, 0, 0, NULL);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].cookie, &C1);
    assert_int_equal(e.v[0].op, ZOP_AUTH);
    assert_int_equal(e.v[0].rc, ZOK);
    effs_clear(&e);
    register_all(c, gen);
    int64_t last = zc_last_zxid(c);
    assert_int_equal(last, 0x106);

    /* the connection drops; every watcher (deduplicated) hears DISCONNECTED */
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    assert_int_equal(count(&e, ZC_EFF_WATCH), 3); /* session, WA, WB */
    for (int i = 0; i < e.n; i++)
        if (e.v[i].kind == ZC_EFF_WATCH) {
            assert_int_equal(e.v[i].type, ZEV_NONE);
            assert_int_equal(e.v[i].state, ZSTATE_DISCONNECTED);
        }
    int k = find(&e, ZC_EFF_CONNECT, 0);
    uint32_t gen2 = e.v[k].gen;
    effs_clear(&e);

    zc_on_connected(c, gen2, T);
    take_output(c);
    struct zk_connect_req cr;
    frame_connect_req(0, &cr);
    assert_int_equal(cr.sessionId, 0x1234);
    assert_int_equal(cr.lastZxidSeen, last);
    feed_connect_resp(c, gen2, 6000, 0x1234);
    assert_int_equal(take_output(c), 2);
    struct zk_request a, sw;
    frame_req(0, &a);
    assert_int_equal(a.xid, ZXID_AUTH);
    assert_int_equal(a.type, ZOP_AUTH);
    assert_string_equal(a.scheme, "digest");
    assert_int_equal(a.authlen, 3);
    assert_memory_equal(a.auth, "u:p", 3);
    frame_req(1, &sw);
    assert_int_equal(sw.xid, ZXID_SET_WATCHES);
    assert_int_equal(sw.type, ZOP_SETWATCHES2);
    assert_int_equal(sw.relZxid, last);
    assert_int_equal(sw.nwatches[ZW_DATA], 2);
    assert_true(has(sw.watches[ZW_DATA], 2, "/d"));
    assert_true(has(sw.watches[ZW_DATA], 2, "/present"));
    assert_int_equal(sw.nwatches[ZW_EXIST], 1);
    assert_string_equal(sw.watches[ZW_EXIST][0], "/missing");
    assert_int_equal(sw.nwatches[ZW_CHILD], 1);
    assert_string_equal(sw.watches[ZW_CHILD][0], "/p");
    assert_int_equal(sw.nwatches[ZW_PERSISTENT], 1);
    assert_string_equal(sw.watches[ZW_PERSISTENT][0], "/per");
    assert_int_equal(sw.nwatches[ZW_PERSISTENT_RECURSIVE], 1);
    assert_string_equal(sw.watches[ZW_PERSISTENT_RECURSIVE][0], "/rec");
    jute_free_request(&a);
    jute_free_request(&sw);
    /* the auth's completion ran already: the replayed auth's answer reports nothing */
    feed_reply(c, gen2, ZXID_AUTH, 0, 0, NULL);
    feed_reply(c, gen2, ZXID_SET_WATCHES, 0x106, 0, NULL);
    drain(c, &e);
    assert_int_equal(count(&e, ZC_EFF_REPLY), 0);
    assert_int_equal(count(&e, ZC_EFF_STATE), 1);
    effs_clear(&e);
    assert_int_equal(zc_outstanding(c), 0);

    /* a watch the server fires at once after SetWatches reaches the registered watcher */
    feed_event(c, gen2, ZEV_CREATED, "/missing");
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].watcher.fn, w_a);
    assert_int_equal(e.v[0].type, ZEV_CREATED);
    assert_string_equal(e.v[0].path, "/missing");
    effs_clear(&e);
    zc_free(c);
}

static void test_setwatches_v1_and_fallback(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request sw;
    struct zc_conn *c = connected("h1:1,h2:2", &gen);
    /* only one-shot watches: SetWatches, which every server version knows */
    submit_path(c, ZOP_GETDATA, "/d", &WA, NULL);
    take_output(c);
    frame_req(0, &sw);
    feed_reply(c, gen, sw.xid, 9, 0, &(struct zk_response){.type = ZOP_GETDATA});
    jute_free_request(&sw);
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    uint32_t gen2 = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);
    zc_on_connected(c, gen2, T);
    take_output(c);
    feed_connect_resp(c, gen2, 6000, 0x1234);
    assert_int_equal(take_output(c), 1);
    frame_req(0, &sw);
    assert_int_equal(sw.type, ZOP_SETWATCHES);
    assert_int_equal(sw.relZxid, 9);
    assert_int_equal(sw.nwatches[ZW_DATA], 1);
    jute_free_request(&sw);
    feed_reply(c, gen2, ZXID_SET_WATCHES, 9, 0, NULL);

    /* add a persistent watch; on the next reconnect the server refuses SetWatches2 */
    struct zk_request aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = ZOP_ADDWATCH;
    aw.path = (char *)"/per";
    aw.mode = ZADDWATCH_PERSISTENT;
    zc_submit(c, T, &aw, &WB, 0, NULL);
    take_output(c);
    frame_req(0, &sw);
    feed_reply(c, gen2, sw.xid, 10, 0, &(struct zk_response){.type = ZOP_ADDWATCH});
    jute_free_request(&sw);
    zc_on_disconnected(c, gen2, T);
    drain(c, &e);
    uint32_t gen3 = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);
    zc_on_connected(c, gen3, T);
    take_output(c);
    feed_connect_resp(c, gen3, 6000, 0x1234);
    assert_int_equal(take_output(c), 1);
    frame_req(0, &sw);
    assert_int_equal(sw.type, ZOP_SETWATCHES2);
    jute_free_request(&sw);
    drain(c, &e);
    effs_clear(&e);
    feed_reply(c, gen3, ZXID_SET_WATCHES, 10, ZUNIMPLEMENTED, NULL);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].watcher.fn, w_b);
    assert_int_equal(e.v[0].type, ZEV_PERSISTENT_WATCH_REMOVED);
    assert_string_equal(e.v[0].path, "/per");
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT), 0);
    assert_int_equal(take_output(c), 1); /* the one-shot ones again, with SetWatches */
    frame_req(0, &sw);
    assert_int_equal(sw.type, ZOP_SETWATCHES);
    assert_int_equal(sw.relZxid, 10);
    assert_string_equal(sw.watches[ZW_DATA][0], "/d");
    jute_free_request(&sw);
    zc_free(c);
}

static void test_expiry(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1,h2:2", &gen);
    submit_path(c, ZOP_GETDATA, "/d", &WA, NULL);
    take_output(c);
    struct zk_request q;
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 9, 0, &(struct zk_response){.type = ZOP_GETDATA});
    jute_free_request(&q);
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    uint32_t gen2 = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1); /* waits for the reconnect */
    zc_on_connected(c, gen2, T);
    take_output(c);
    feed_connect_resp(c, gen2, 0, 0); /* timeOut 0: the session is gone */
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    assert_int_equal(e.v[0].gen, gen2);
    assert_int_equal(e.v[1].kind, ZC_EFF_STATE);
    assert_int_equal(e.v[1].state, ZSTATE_EXPIRED);
    assert_int_equal(count(&e, ZC_EFF_WATCH), 2); /* session watcher and WA */
    int r = find(&e, ZC_EFF_REPLY, 0);
    assert_true(r > find(&e, ZC_EFF_WATCH, 1)); /* the event first, as in the Java client */
    assert_ptr_equal(e.v[r].cookie, &C1);
    assert_int_equal(e.v[r].rc, ZSESSIONEXPIRED);
    effs_clear(&e);
    assert_int_equal(zc_state(c), ZSTATE_EXPIRED);
    assert_true(zc_is_dead(c));
    assert_int_equal(take_output(c), 0);
    assert_int_equal(zc_next_deadline(c), -1);
    assert_int_equal(submit_path(c, ZOP_SYNC, "/", NULL, &C2), ZSESSIONEXPIRED);
    assert_int_equal(zc_add_auth(c, T, "digest", "a:b", 3, NULL), ZSESSIONEXPIRED);
    assert_int_equal(zc_close(c, T, &C3), ZOK); /* completes at once */
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].cookie, &C3);
    effs_clear(&e);
    zc_free(c);
}

static void test_auth_failed(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1", &gen);
    submit_path(c, ZOP_SYNC, "/", NULL, &C2);
    assert_int_equal(zc_add_auth(c, T, "bogus", "x", 1, &C1), ZOK);
    assert_int_equal(zc_add_auth(c, T, "", "x", 1, &C1), ZBADARGUMENTS);
    take_output(c);
    /* the auth reply overtakes the outstanding request (the server answers auth at once) */
    feed_reply(c, gen, ZXID_AUTH, 0, ZAUTHFAILED, NULL);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    assert_int_equal(e.v[1].state, ZSTATE_AUTH_FAILED);
    int r0 = find(&e, ZC_EFF_REPLY, 0), r1 = find(&e, ZC_EFF_REPLY, 1);
    assert_ptr_equal(e.v[r0].cookie, &C2);
    assert_int_equal(e.v[r0].rc, ZAUTHFAILED);
    assert_ptr_equal(e.v[r1].cookie, &C1);
    assert_int_equal(e.v[r1].rc, ZAUTHFAILED);
    effs_clear(&e);
    assert_int_equal(zc_state(c), ZSTATE_AUTH_FAILED);
    assert_int_equal(submit_path(c, ZOP_SYNC, "/", NULL, &C2), ZAUTHFAILED);
    zc_free(c);
}

static void test_chroot(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request q;
    struct zc_conn *c = connected("h1:1,h2:2/app", &gen);
    submit_create(c, "/x", ZMODE_PERSISTENT_SEQUENTIAL, &C1);
    submit_path(c, ZOP_GETDATA, "/", &WA, &C2);
    submit_path(c, ZOP_GETEPHEMERALS, "/", NULL, &C3);
    struct zk_request ops[2];
    memset(ops, 0, sizeof(ops));
    static struct zk_acl acl = {ZPERM_ALL, {(char *)"world", (char *)"anyone"}};
    ops[0].type = ZOP_CREATE;
    ops[0].path = (char *)"/m";
    ops[0].acl = &acl;
    ops[0].nacl = 1;
    ops[0].datalen = -1;
    ops[1].type = ZOP_DELETE;
    ops[1].path = (char *)"/n";
    ops[1].version = -1;
    struct zk_request m;
    memset(&m, 0, sizeof(m));
    m.type = ZOP_MULTI;
    m.ops = ops;
    m.nops = 2;
    assert_int_equal(zc_submit(c, T, &m, NULL, 0, &C4), ZOK);
    assert_int_equal(take_output(c), 4);
    int32_t xid[4];
    for (int i = 0; i < 4; i++) {
        frame_req(i, &q);
        xid[i] = q.xid;
        if (i == 0)
            assert_string_equal(q.path, "/app/x");
        if (i == 1)
            assert_string_equal(q.path, "/app");
        if (i == 2)
            assert_string_equal(q.path, "/app");
        if (i == 3) {
            assert_int_equal(q.nops, 2);
            assert_string_equal(q.ops[0].path, "/app/m");
            assert_string_equal(q.ops[1].path, "/app/n");
        }
        jute_free_request(&q);
    }
    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_CREATE2;
    res.path = (char *)"/app/x0000000003";
    feed_reply(c, gen, xid[0], 5, 0, &res);
    memset(&res, 0, sizeof(res));
    res.type = ZOP_GETDATA;
    feed_reply(c, gen, xid[1], 5, 0, &res);
    char *eph[] = {(char *)"/app/e1", (char *)"/apple/e2", (char *)"/app", (char *)"/other"};
    memset(&res, 0, sizeof(res));
    res.type = ZOP_GETEPHEMERALS;
    res.children = eph;
    res.nchildren = 4;
    feed_reply(c, gen, xid[2], 5, 0, &res);
    struct zk_response sub[2];
    memset(sub, 0, sizeof(sub));
    sub[0].type = ZOP_CREATE;
    sub[0].path = (char *)"/app/m";
    sub[1].type = ZOP_DELETE;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_MULTI;
    res.results = sub;
    res.nresults = 2;
    feed_reply(c, gen, xid[3], 6, 0, &res);
    feed_event(c, gen, ZEV_CHANGED, "/app");
    drain(c, &e);
    assert_int_equal(e.n, 5);
    assert_string_equal(e.v[0].res.path, "/x0000000003");
    assert_int_equal(e.v[2].res.nchildren, 2);
    assert_string_equal(e.v[2].res.children[0], "/e1");
    assert_string_equal(e.v[2].res.children[1], "/");
    assert_int_equal(e.v[3].rc, ZOK);
    assert_int_equal(e.v[3].res.nresults, 2);
    assert_string_equal(e.v[3].res.results[0].path, "/m");
    assert_int_equal(e.v[4].kind, ZC_EFF_WATCH);
    assert_string_equal(e.v[4].path, "/"); /* the chroot itself is the client's root */
    effs_clear(&e);

    /* SetWatches carries server paths */
    submit_path(c, ZOP_EXISTS, "/w", &WA, NULL);
    take_output(c);
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 7, ZNONODE, NULL);
    jute_free_request(&q);
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    uint32_t gen2 = e.v[find(&e, ZC_EFF_CONNECT, 0)].gen;
    effs_clear(&e);
    zc_on_connected(c, gen2, T);
    take_output(c);
    feed_connect_resp(c, gen2, 6000, 0x1234);
    take_output(c);
    frame_req(0, &q);
    assert_int_equal(q.type, ZOP_SETWATCHES);
    assert_string_equal(q.watches[ZW_EXIST][0], "/app/w");
    jute_free_request(&q);
    zc_free(c);
}

static void test_watch_rules_and_dispatch(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zc_conn *c = connected("h1:1", &gen);
    register_all(c, gen);
    /* the same watcher twice on one path is one registration */
    submit_path(c, ZOP_GETDATA, "/d", &WA, NULL);
    take_output(c);
    struct zk_request q;
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 0x200, 0, &(struct zk_response){.type = ZOP_GETDATA});
    jute_free_request(&q);
    assert_int_equal(zc_watch_count(c, ZW_DATA), 2);

    /* NodeDataChanged: data watchers only, once */
    feed_event(c, gen, ZEV_CHANGED, "/d");
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].watcher.fn, w_a);
    assert_int_equal(e.v[0].type, ZEV_CHANGED);
    assert_int_equal(e.v[0].state, ZSTATE_SYNC_CONNECTED);
    effs_clear(&e);
    feed_event(c, gen, ZEV_CHANGED, "/d"); /* one-shot: gone */
    drain(c, &e);
    assert_int_equal(e.n, 0);

    /* child event: child watchers; recursive watches never get NodeChildrenChanged */
    feed_event(c, gen, ZEV_CHILD, "/p");
    feed_event(c, gen, ZEV_CHILD, "/rec");
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].type, ZEV_CHILD);
    assert_string_equal(e.v[0].path, "/p");
    effs_clear(&e);

    /* exists on a present node set a data watch: NodeDeleted reaches it */
    feed_event(c, gen, ZEV_DELETED, "/present");
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].watcher.fn, w_b);
    effs_clear(&e);

    /* persistent watches stay; recursive ones cover descendants */
    for (int i = 0; i < 2; i++) {
        feed_event(c, gen, ZEV_CHANGED, "/per");
        feed_event(c, gen, ZEV_CREATED, "/rec/a/b");
        feed_event(c, gen, ZEV_DELETED, "/rec");
        feed_event(c, gen, ZEV_CHANGED, "/recx");      /* not under /rec */
        feed_event(c, gen, ZEV_CHANGED, "/per/child"); /* not recursive */
        drain(c, &e);
        assert_int_equal(e.n, 3);
        assert_ptr_equal(e.v[0].watcher.fn, w_a);
        assert_string_equal(e.v[0].path, "/per");
        assert_ptr_equal(e.v[1].watcher.fn, w_b);
        assert_string_equal(e.v[1].path, "/rec/a/b");
        assert_int_equal(e.v[1].type, ZEV_CREATED);
        assert_string_equal(e.v[2].path, "/rec");
        assert_int_equal(e.v[2].type, ZEV_DELETED);
        effs_clear(&e);
    }

    /* a watcher registered as data and persistent on one path hears an event once */
    struct zk_request aw;
    memset(&aw, 0, sizeof(aw));
    aw.type = ZOP_ADDWATCH;
    aw.path = (char *)"/d";
    aw.mode = ZADDWATCH_PERSISTENT;
    zc_submit(c, T, &aw, &WA, 0, NULL);
    submit_path(c, ZOP_EXISTS, "/d", &WA, NULL);
    take_output(c);
    for (int i = 0; i < 2; i++) {
        frame_req(i, &q);
        feed_reply(c, gen, q.xid, 0x300, 0, &(struct zk_response){.type = q.type});
        jute_free_request(&q);
    }
    feed_event(c, gen, ZEV_CHANGED, "/d");
    drain(c, &e);
    assert_int_equal(e.n, 1);
    effs_clear(&e);

    /* unknown event types are ignored, a malformed event drops the connection */
    feed_event(c, gen, 42, "/d");
    drain(c, &e);
    assert_int_equal(e.n, 0);
    feed_event(c, gen, ZEV_CHANGED, NULL);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    effs_clear(&e);
    zc_free(c);
}

static void test_remove_watches(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request q, rw;
    struct zc_conn *c = connected("h1:1", &gen);
    register_all(c, gen);
    /* one watcher: checkWatches; the server agrees; the watcher hears DATA_WATCH_REMOVED */
    memset(&rw, 0, sizeof(rw));
    rw.type = ZOP_CHECKWATCHES;
    rw.path = (char *)"/d";
    rw.mode = ZWT_DATA;
    assert_int_equal(zc_submit(c, T, &rw, &WA, 0, &C1), ZOK);
    take_output(c);
    frame_req(0, &q);
    assert_int_equal(q.type, ZOP_CHECKWATCHES);
    assert_int_equal(q.mode, ZWT_DATA);
    feed_reply(c, gen, q.xid, 1, 0, NULL);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.v[0].kind, ZC_EFF_WATCH);
    assert_int_equal(e.v[0].type, ZEV_DATA_WATCH_REMOVED);
    assert_string_equal(e.v[0].path, "/d");
    assert_ptr_equal(e.v[1].cookie, &C1);
    assert_int_equal(e.v[1].rc, ZOK);
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_DATA), 1);

    /* the server says NOWATCHER and local is off: the registration stays */
    rw.type = ZOP_REMOVEWATCHES;
    rw.path = (char *)"/p";
    rw.mode = ZWT_CHILDREN;
    zc_submit(c, T, &rw, NULL, 0, &C2);
    take_output(c);
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 1, ZNOWATCHER, NULL);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].rc, ZNOWATCHER);
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_CHILD), 1);

    /* server OK but nothing registered locally: NOWATCHER */
    rw.path = (char *)"/zz";
    zc_submit(c, T, &rw, NULL, 0, &C2);
    take_output(c);
    frame_req(0, &q);
    feed_reply(c, gen, q.xid, 1, 0, NULL);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.v[0].rc, ZNOWATCHER);
    effs_clear(&e);

    /* a server before 3.9 rejects the persistent watcher types with MARSHALLINGERROR: the
     * client asks again with checkWatches(ANY) and removes its own registration */
    rw.type = ZOP_REMOVEWATCHES;
    rw.path = (char *)"/per";
    rw.mode = ZWT_PERSISTENT;
    assert_int_equal(zc_submit(c, T, &rw, NULL, 0, &C4), ZOK);
    take_output(c);
    frame_req(0, &q);
    assert_int_equal(q.type, ZOP_REMOVEWATCHES);
    assert_int_equal(q.mode, ZWT_PERSISTENT);
    feed_reply(c, gen, q.xid, 1, ZMARSHALLINGERROR, NULL);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 0);
    assert_int_equal(take_output(c), 1);
    frame_req(0, &q);
    assert_int_equal(q.type, ZOP_CHECKWATCHES);
    assert_int_equal(q.mode, ZWT_ANY);
    assert_string_equal(q.path, "/per");
    assert_int_equal(zc_outstanding(c), 1);
    feed_reply(c, gen, q.xid, 1, 0, NULL);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.v[0].type, ZEV_PERSISTENT_WATCH_REMOVED);
    assert_ptr_equal(e.v[1].cookie, &C4);
    assert_int_equal(e.v[1].rc, ZOK);
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT), 0);
    /* from then on such removals go out as checkWatches(ANY) at once */
    rw.path = (char *)"/rec";
    rw.mode = ZWT_PERSISTENT_RECURSIVE;
    assert_int_equal(zc_submit(c, T, &rw, &WB, 0, &C4), ZOK);
    take_output(c);
    frame_req(0, &q);
    assert_int_equal(q.type, ZOP_CHECKWATCHES);
    assert_int_equal(q.mode, ZWT_ANY);
    feed_reply(c, gen, q.xid, 1, ZMARSHALLINGERROR, NULL); /* no second retry */
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_int_equal(e.v[0].rc, ZMARSHALLINGERROR);
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT_RECURSIVE), 1);

    /* local removal while disconnected: at once, events in DISCONNECTED state */
    zc_on_disconnected(c, gen, T);
    drain(c, &e);
    effs_clear(&e);
    rw.path = (char *)"/rec";
    rw.mode = ZWT_ANY;
    assert_int_equal(zc_submit(c, T, &rw, NULL, 1, &C3), ZOK);
    drain(c, &e);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.v[0].type, ZEV_PERSISTENT_WATCH_REMOVED);
    assert_int_equal(e.v[0].state, ZSTATE_DISCONNECTED);
    assert_int_equal(e.v[1].rc, ZOK);
    effs_clear(&e);
    assert_int_equal(zc_watch_count(c, ZW_PERSISTENT_RECURSIVE), 0);
    assert_int_equal(zc_queued(c), 0);
    zc_free(c);
}

static void test_close(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request q;
    struct zc_conn *c = connected("h1:1", &gen);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    assert_int_equal(zc_close(c, T, &C2), ZOK);
    assert_int_equal(zc_close(c, T, &C3), ZCLOSING);
    assert_int_equal(submit_path(c, ZOP_SYNC, "/", NULL, &C3), ZCLOSING);
    assert_int_equal(zc_state(c), ZSTATE_CLOSED);
    assert_int_equal(take_output(c), 2);
    struct zk_request s;
    frame_req(0, &s);
    frame_req(1, &q);
    assert_int_equal(q.type, ZOP_CLOSESESSION);
    feed_reply(c, gen, s.xid, 3, 0, &(struct zk_response){.type = ZOP_SYNC, .path = (char *)"/"});
    drain(c, &e);
    assert_int_equal(e.n, 1);
    assert_ptr_equal(e.v[0].cookie, &C1);
    effs_clear(&e);
    feed_reply(c, gen, q.xid, 4, 0, NULL);
    jute_free_request(&q);
    jute_free_request(&s);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    int r = find(&e, ZC_EFF_REPLY, 0);
    assert_ptr_equal(e.v[r].cookie, &C2);
    assert_int_equal(e.v[r].rc, ZOK);
    assert_int_equal(r, e.n - 1); /* the close completes last */
    effs_clear(&e);
    assert_true(zc_is_dead(c));
    zc_free(c);

    /* no reply within the read timeout: closed anyway, ZCONNECTIONLOSS */
    c = connected("h1:1", &gen);
    zc_close(c, T, &C2);
    take_output(c);
    T += 4000;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    r = find(&e, ZC_EFF_REPLY, 0);
    assert_int_equal(e.v[r].rc, ZCONNECTIONLOSS);
    effs_clear(&e);
    zc_free(c);

    /* closing while disconnected: queued requests fail with ZCLOSING */
    c = connected("h1:1", &gen);
    zc_on_disconnected(c, gen, T);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    drain(c, &e);
    effs_clear(&e);
    zc_close(c, T, &C2);
    drain(c, &e);
    assert_ptr_equal(e.v[0].cookie, &C1);
    assert_int_equal(e.v[0].rc, ZCLOSING);
    r = find(&e, ZC_EFF_REPLY, 1);
    assert_ptr_equal(e.v[r].cookie, &C2);
    assert_int_equal(e.v[r].rc, ZCONNECTIONLOSS); /* the session is left to expire */
    effs_clear(&e);
    zc_free(c);

    /* abort fails everything with ZCLOSING */
    c = connected("h1:1", &gen);
    submit_path(c, ZOP_SYNC, "/", NULL, &C1);
    zc_abort(c);
    drain(c, &e);
    assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
    r = find(&e, ZC_EFF_REPLY, 0);
    assert_int_equal(e.v[r].rc, ZCLOSING);
    effs_clear(&e);
    zc_free(c);
}

static void test_validation(void **state)
{
    (void)state;
    uint32_t gen;
    struct zk_request q;
    static struct zk_acl acl = {ZPERM_ALL, {(char *)"world", (char *)"anyone"}};
    struct zc_conn *c = connected("h1:1", &gen);
    assert_int_equal(submit_path(c, ZOP_GETDATA, "noslash", NULL, &C1), ZBADARGUMENTS);
    assert_int_equal(submit_path(c, ZOP_GETDATA, "/a/", NULL, &C1), ZBADARGUMENTS);
    assert_int_equal(submit_path(c, ZOP_GETDATA, NULL, NULL, &C1), ZBADARGUMENTS);
    assert_int_equal(submit_path(c, ZOP_PING, "/", NULL, &C1), ZBADARGUMENTS);
    assert_int_equal(submit_path(c, ZOP_CHECK, "/", NULL, &C1), ZBADARGUMENTS); /* multi only */
    assert_int_equal(submit_create(c, "/a/", ZMODE_PERSISTENT, &C1), ZBADARGUMENTS);
    assert_int_equal(submit_create(c, "/a/", ZMODE_PERSISTENT_SEQUENTIAL, &C1), ZOK); /* "/a/0000000001" */
    assert_int_equal(submit_create(c, "/a", ZMODE_CONTAINER, &C1), ZBADARGUMENTS);    /* needs createContainer */
    memset(&q, 0, sizeof(q));
    q.type = ZOP_CREATE2;
    q.path = (char *)"/a";
    q.datalen = -1;
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZINVALIDACL);
    q.type = ZOP_CREATETTL;
    q.acl = &acl;
    q.nacl = 1;
    q.flags = ZMODE_PERSISTENT_WITH_TTL;
    q.ttl = 0;
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZBADARGUMENTS);
    q.ttl = TTL_MAX + 1;
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZBADARGUMENTS);
    q.ttl = TTL_MAX;
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZOK);
    /* addWatch needs a watcher */
    memset(&q, 0, sizeof(q));
    q.type = ZOP_ADDWATCH;
    q.path = (char *)"/a";
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZBADARGUMENTS);
    q.mode = 7;
    assert_int_equal(zc_submit(c, T, &q, &WA, 0, &C1), ZBADARGUMENTS);
    /* multi: only write ops; multiRead: only reads */
    struct zk_request op, m;
    memset(&op, 0, sizeof(op));
    op.type = ZOP_GETDATA;
    op.path = (char *)"/a";
    memset(&m, 0, sizeof(m));
    m.type = ZOP_MULTI;
    m.ops = &op;
    m.nops = 1;
    assert_int_equal(zc_submit(c, T, &m, NULL, 0, &C1), ZBADARGUMENTS);
    m.type = ZOP_MULTIREAD;
    assert_int_equal(zc_submit(c, T, &m, NULL, 0, &C1), ZOK);
    op.path = (char *)"bad";
    assert_int_equal(zc_submit(c, T, &m, NULL, 0, &C1), ZBADARGUMENTS);
    /* a request above the bound is refused instead of killing the connection */
    static uint8_t blob[ZK_DEFAULT_MAXBUFFER];
    memset(&q, 0, sizeof(q));
    q.type = ZOP_SETDATA;
    q.path = (char *)"/a";
    q.data = blob;
    q.datalen = sizeof(blob);
    size_t before = zc_outstanding(c);
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZBADARGUMENTS);
    assert_int_equal(zc_outstanding(c), before);
    q.datalen = 1000;
    assert_int_equal(zc_submit(c, T, &q, NULL, 0, &C1), ZOK);
    assert_int_equal(take_output(c), 4);
    frame_req(3, &q);
    assert_int_equal(q.type, ZOP_SETDATA);
    assert_int_equal(q.datalen, 1000);
    jute_free_request(&q);
    zc_free(c);
}

static void test_multi_result(void **state)
{
    (void)state;
    uint32_t gen;
    struct effs e;
    struct zk_request q, ops[3], m;
    static struct zk_acl acl = {ZPERM_ALL, {(char *)"world", (char *)"anyone"}};
    struct zc_conn *c = connected("h1:1", &gen);
    memset(ops, 0, sizeof(ops));
    ops[0].type = ZOP_CREATE2;
    ops[0].path = (char *)"/a";
    ops[0].acl = &acl;
    ops[0].nacl = 1;
    ops[1].type = ZOP_CHECK;
    ops[1].path = (char *)"/b";
    ops[1].version = 3;
    ops[2].type = ZOP_SETDATA;
    ops[2].path = (char *)"/c";
    memset(&m, 0, sizeof(m));
    m.type = ZOP_MULTI;
    m.ops = ops;
    m.nops = 3;
    assert_int_equal(zc_submit(c, T, &m, NULL, 0, &C1), ZOK);
    take_output(c);
    frame_req(0, &q);
    assert_int_equal(q.nops, 3);
    assert_int_equal(q.ops[1].type, ZOP_CHECK);
    assert_int_equal(q.ops[1].version, 3);
    struct zk_response sub[3], res;
    memset(sub, 0, sizeof(sub));
    for (int i = 0; i < 3; i++)
        sub[i].type = ZOP_ERROR;
    sub[0].err = ZOK;
    sub[1].err = ZBADVERSION;
    sub[2].err = ZRUNTIMEINCONSISTENCY;
    memset(&res, 0, sizeof(res));
    res.type = ZOP_MULTI;
    res.results = sub;
    res.nresults = 3;
    feed_reply(c, gen, q.xid, 5, 0, &res);
    jute_free_request(&q);
    drain(c, &e);
    assert_int_equal(e.v[0].rc, ZBADVERSION);
    assert_int_equal(e.v[0].res.nresults, 3);
    assert_int_equal(e.v[0].res.results[1].err, ZBADVERSION);
    assert_int_equal(e.v[0].res.results[2].err, ZRUNTIMEINCONSISTENCY);
    effs_clear(&e);
    zc_free(c);
}

static void test_host_rotation_and_pause(void **state)
{
    (void)state;
    struct effs e;
    struct zc_conn *c = mk("a:1,b:2,c:3", 11);
    T = 0;
    zc_start(c, T);
    int hosts[3];
    for (int i = 0; i < 3; i++) {
        drain(c, &e);
        assert_int_equal(e.n, 1);
        assert_int_equal(e.v[0].kind, ZC_EFF_CONNECT);
        hosts[i] = e.v[0].host;
        uint32_t gen = e.v[0].gen;
        effs_clear(&e);
        if (i == 1) {
            /* this one accepts TCP but never answers the handshake: timeout / 3 hosts */
            zc_on_connected(c, gen, T);
            take_output(c);
            assert_int_equal(zc_next_deadline(c), T + 10000);
            T += 10000;
            zc_tick(c, T);
            drain(c, &e);
            assert_int_equal(e.n, 2);
            assert_int_equal(e.v[0].kind, ZC_EFF_CLOSE);
            assert_int_equal(e.v[1].kind, ZC_EFF_CONNECT); /* the third host, at once */
            hosts[2] = e.v[1].host;
            gen = e.v[1].gen;
            effs_clear(&e);
            zc_on_disconnected(c, gen, T);
            break;
        }
        zc_on_disconnected(c, gen, T);
    }
    assert_int_equal(hosts[0], 0);
    assert_int_equal(hosts[1], 1);
    assert_int_equal(hosts[2], 2);
    /* all three failed in a row: a pause before the first again */
    drain(c, &e);
    assert_int_equal(e.n, 0);
    int64_t d = zc_next_deadline(c);
    assert_true(d >= T + ZC_RECONNECT_PAUSE_MS && d < T + 2 * ZC_RECONNECT_PAUSE_MS);
    T = d;
    zc_tick(c, T);
    drain(c, &e);
    assert_int_equal(e.v[0].host, 0);
    effs_clear(&e);
    zc_free(c);
}

int main(void)
{
    log_set_level(LOG_LVL_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_string),
        cmocka_unit_test(test_shuffle_is_seeded),
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_ping_and_read_timeout),
        cmocka_unit_test(test_fifo_replies),
        cmocka_unit_test(test_frames_across_reads),
        cmocka_unit_test(test_xid_mismatch_disconnects),
        cmocka_unit_test(test_oversized_and_bad_frames),
        cmocka_unit_test(test_connection_loss_queue_and_reconnect),
        cmocka_unit_test(test_queued_request_times_out),
        cmocka_unit_test(test_reconnect_rearms_watches),
        cmocka_unit_test(test_setwatches_v1_and_fallback),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_auth_failed),
        cmocka_unit_test(test_chroot),
        cmocka_unit_test(test_watch_rules_and_dispatch),
        cmocka_unit_test(test_remove_watches),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_multi_result),
        cmocka_unit_test(test_host_rotation_and_pause),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(FR.buf);
    return rc;
}
