/* The server core driven without sockets: frames in, bytes out, the clock and the log
 * completion in the test's hands. Covers the handshake, session reconnect and expiry, reply
 * ordering behind pending writes, the watch-before-reply guarantee, failed multis in order,
 * and the close on an unknown opcode. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jute.h"
#include "common/zerr.h"
#include "zkfsd/server.h"

/* What the core sent to one connection. */
struct sink {
    struct jbuf out;
    size_t rpos; /* next unread byte */
    int closed;
};

struct rig {
    struct server *s;
    int64_t mono, wall;
    int async_log;    /* when set, txns wait for rig_durable */
    int64_t appended; /* highest zxid handed to the log */
};

static void io_send(void *ctx, struct zconn *c, const uint8_t *p, size_t n)
{
    (void)ctx;
    jw_raw(&((struct sink *)c->io)->out, p, n);
}
static void io_close(void *ctx, struct zconn *c)
{
    (void)ctx;
    ((struct sink *)c->io)->closed = 1;
}
static void io_log(void *ctx, const struct txn *x)
{
    struct rig *r = ctx;
    r->appended = x->zxid;
    if (!r->async_log)
        server_durable(r->s, x->zxid);
}

static struct rig *rig_new(int async_log)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->mono = 1000;
    r->wall = 1700000000000LL;
    r->async_log = async_log;
    struct server_opts o = {.tick_ms = 100, .min_session_timeout = 200, .max_session_timeout = 2000,
                            .max_buffer = ZK_DEFAULT_MAXBUFFER, .container_check_ms = 60000};
    struct server_io io = {.ctx = r, .send = io_send, .close = io_close, .log_append = io_log, .log_ctx = r};
    r->s = server_new(&o, &io, r->mono, r->wall);
    assert_non_null(r->s);
    return r;
}

static void rig_free(struct rig *r)
{
    server_free(r->s);
    free(r);
}

static void advance(struct rig *r, int64_t ms)
{
    r->mono += ms;
    r->wall += ms;
    server_set_time(r->s, r->mono, r->wall);
}

static struct zconn *open_conn(struct rig *r, struct sink *k)
{
    memset(k, 0, sizeof(*k));
    jb_init(&k->out);
    struct zconn *c = server_conn_open(r->s, k, "127.0.0.1", 40000);
    assert_non_null(c);
    return c;
}

static void close_conn(struct rig *r, struct zconn *c, struct sink *k)
{
    server_conn_closed(r->s, c);
    jb_free(&k->out);
}

/* Next frame the core sent, or 0 when none is complete. */
static int next_frame(struct sink *k, struct jrd *rd)
{
    if (k->out.len - k->rpos < 4)
        return 0;
    const uint8_t *p = k->out.p + k->rpos;
    uint32_t len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    assert_true(k->out.len - k->rpos >= 4 + len);
    jr_init(rd, p + 4, len);
    k->rpos += 4 + len;
    return 1;
}

static void send_connect(struct rig *r, struct zconn *c, int64_t sid, const uint8_t *pw, int with_ro)
{
    struct zk_connect_req cr = {.timeOut = 30000, .sessionId = sid, .passwd_len = 16, .has_readOnly = with_ro};
    if (pw)
        memcpy(cr.passwd, pw, 16);
    struct jbuf b;
    jb_init(&b);
    jute_write_connect_req(&b, &cr);
    assert_int_equal(server_frame(r->s, c, b.p, b.len), 0);
    jb_free(&b);
}

static struct zk_connect_resp read_connect(struct sink *k, size_t *len)
{
    struct jrd rd;
    assert_true(next_frame(k, &rd));
    *len = rd.len;
    struct zk_connect_resp resp;
    bool has_ro;
    assert_int_equal(jute_read_connect_resp(&rd, &resp, &has_ro), ZOK);
    return resp;
}

static void send_req(struct rig *r, struct zconn *c, struct zk_request *q)
{
    struct jbuf b;
    jb_init(&b);
    jute_write_request(&b, q);
    assert_int_equal(server_frame(r->s, c, b.p, b.len), 0);
    jb_free(&b);
}

/* Reads the next reply header; returns its xid and leaves rd positioned at the body. */
static int32_t read_reply(struct sink *k, struct jrd *rd, int32_t *err)
{
    assert_true(next_frame(k, rd));
    int32_t xid = jr_int(rd);
    (void)jr_long(rd);
    *err = jr_int(rd);
    return xid;
}

static struct zconn *session(struct rig *r, struct sink *k)
{
    struct zconn *c = open_conn(r, k);
    send_connect(r, c, 0, NULL, 1);
    if (r->async_log)
        server_durable(r->s, r->appended);
    size_t len;
    struct zk_connect_resp resp = read_connect(k, &len);
    assert_true(resp.sessionId != 0);
    return c;
}

static void test_handshake(void **state)
{
    (void)state;
    struct rig *r = rig_new(0);
    struct sink k1, k2, k3;
    struct zconn *c1 = open_conn(r, &k1);
    send_connect(r, c1, 0, NULL, 1);
    size_t len;
    struct zk_connect_resp a = read_connect(&k1, &len);
    assert_int_equal(len, 37); /* with the readOnly byte, as the client sent one */
    assert_int_equal(a.timeOut, 2000); /* clamped to maxSessionTimeout */
    assert_true(a.sessionId != 0);

    /* same session, right password, old-style client: reattached, no readOnly byte */
    struct zconn *c2 = open_conn(r, &k2);
    send_connect(r, c2, a.sessionId, a.passwd, 0);
    struct zk_connect_resp b = read_connect(&k2, &len);
    assert_int_equal(len, 36);
    assert_int_equal(b.sessionId, a.sessionId);
    assert_memory_equal(b.passwd, a.passwd, 16);
    assert_true(k1.closed); /* the session moved: its old connection is closed */

    /* wrong password: the invalid-session answer (timeout 0) and a close */
    struct zconn *c3 = open_conn(r, &k3);
    uint8_t bad[16];
    memcpy(bad, a.passwd, 16);
    bad[0] ^= 1;
    send_connect(r, c3, a.sessionId, bad, 1);
    struct zk_connect_resp x = read_connect(&k3, &len);
    assert_int_equal(x.timeOut, 0);
    assert_int_equal(x.sessionId, 0);
    assert_true(k3.closed);
    close_conn(r, c1, &k1);
    close_conn(r, c2, &k2);
    close_conn(r, c3, &k3);
    rig_free(r);
}

static void test_reads_wait_for_earlier_writes(void **state)
{
    (void)state;
    struct rig *r = rig_new(1);
    struct sink k;
    struct zconn *c = session(r, &k);
    struct zk_request cr = {.xid = 1, .type = ZOP_CREATE, .path = "/a", .pathlen = 2,
                            .data = (const uint8_t *)"v1", .datalen = 2,
                            .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1};
    send_req(r, c, &cr);
    struct zk_request gd = {.xid = 2, .type = ZOP_GETDATA, .path = "/a", .pathlen = 2};
    send_req(r, c, &gd);
    struct zk_request bad = {.xid = 3, .type = ZOP_DELETE, .path = "/nope", .pathlen = 5, .version = -1};
    send_req(r, c, &bad);
    struct jrd rd;
    assert_false(next_frame(&k, &rd)); /* nothing answered before the create is durable */
    server_durable(r->s, r->appended);
    int32_t err;
    assert_int_equal(read_reply(&k, &rd, &err), 1);
    assert_int_equal(err, ZOK);
    assert_int_equal(read_reply(&k, &rd, &err), 2);
    assert_int_equal(err, ZOK); /* the read saw the create */
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, ZOP_GETDATA, &res), ZOK);
    assert_int_equal(res.datalen, 2);
    assert_memory_equal(res.data, "v1", 2);
    jute_free_response(&res);
    assert_int_equal(read_reply(&k, &rd, &err), 3);
    assert_int_equal(err, ZNONODE);
    close_conn(r, c, &k);
    rig_free(r);
}

static void test_watch_event_before_reply(void **state)
{
    (void)state;
    struct rig *r = rig_new(0);
    struct sink ka, kb;
    struct zconn *a = session(r, &ka);
    struct zconn *b = session(r, &kb);
    struct zk_request cr = {.xid = 1, .type = ZOP_CREATE, .path = "/w", .pathlen = 2, .datalen = -1,
                            .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1};
    send_req(r, a, &cr);
    struct jrd rd;
    int32_t err;
    assert_int_equal(read_reply(&ka, &rd, &err), 1);
    struct zk_request gd = {.xid = 2, .type = ZOP_GETDATA, .path = "/w", .pathlen = 2, .watch = true};
    send_req(r, a, &gd);
    assert_int_equal(read_reply(&ka, &rd, &err), 2);
    /* b changes /w; a reads it afterwards: a must see the event first */
    struct zk_request sd = {.xid = 1, .type = ZOP_SETDATA, .path = "/w", .pathlen = 2,
                            .data = (const uint8_t *)"x", .datalen = 1, .version = -1};
    send_req(r, b, &sd);
    assert_int_equal(read_reply(&kb, &rd, &err), 1);
    assert_int_equal(err, ZOK);
    gd.xid = 3;
    gd.watch = false;
    send_req(r, a, &gd);
    assert_int_equal(read_reply(&ka, &rd, &err), ZXID_WATCH_EVENT);
    assert_int_equal(jr_int(&rd), ZEV_CHANGED);
    assert_int_equal(jr_int(&rd), ZSTATE_SYNC_CONNECTED);
    char *p = jr_string(&rd, NULL);
    assert_string_equal(p, "/w");
    free(p);
    assert_int_equal(read_reply(&ka, &rd, &err), 3);
    /* one-shot: a second change fires nothing */
    sd.xid = 2;
    send_req(r, b, &sd);
    assert_int_equal(read_reply(&kb, &rd, &err), 2);
    assert_false(next_frame(&ka, &rd));
    close_conn(r, a, &ka);
    close_conn(r, b, &kb);
    rig_free(r);
}

static void test_expiry_removes_ephemerals(void **state)
{
    (void)state;
    struct rig *r = rig_new(0);
    struct sink ka, kb;
    struct zconn *a = session(r, &ka);
    struct zconn *b = session(r, &kb);
    struct zk_request cr = {.xid = 1, .type = ZOP_CREATE, .path = "/e", .pathlen = 2, .datalen = -1,
                            .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1, .flags = ZMODE_EPHEMERAL};
    send_req(r, a, &cr);
    struct jrd rd;
    int32_t err;
    assert_int_equal(read_reply(&ka, &rd, &err), 1);
    assert_int_equal(err, ZOK);
    struct zk_request ex = {.xid = 1, .type = ZOP_EXISTS, .path = "/e", .pathlen = 2, .watch = true};
    send_req(r, b, &ex);
    assert_int_equal(read_reply(&kb, &rd, &err), 1);
    assert_int_equal(err, ZOK);
    /* b keeps pinging, a goes silent past its 2000 ms timeout */
    struct zk_request ping = {.xid = ZXID_PING, .type = ZOP_PING};
    for (int i = 0; i < 30 && !ka.closed; i++) {
        advance(r, 100);
        send_req(r, b, &ping);
        assert_int_equal(read_reply(&kb, &rd, &err), ZXID_PING);
        server_tick(r->s);
    }
    assert_true(ka.closed);
    assert_null(tree_get(&r->s->tree, "/e"));
    assert_int_equal(read_reply(&kb, &rd, &err), ZXID_WATCH_EVENT);
    assert_int_equal(jr_int(&rd), ZEV_DELETED);
    close_conn(r, a, &ka);
    close_conn(r, b, &kb);
    rig_free(r);
}

static void test_failed_multi_keeps_order(void **state)
{
    (void)state;
    struct rig *r = rig_new(1);
    struct sink k;
    struct zconn *c = session(r, &k);
    struct zk_request cr = {.xid = 1, .type = ZOP_CREATE, .path = "/m", .pathlen = 2, .datalen = -1,
                            .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1};
    send_req(r, c, &cr);
    struct zk_request ops[3] = {
        {.type = ZOP_CHECK, .path = "/m", .pathlen = 2, .version = 0},
        {.type = ZOP_DELETE, .path = "/missing", .pathlen = 8, .version = -1},
        {.type = ZOP_SETDATA, .path = "/m", .pathlen = 2, .datalen = -1, .version = -1},
    };
    struct zk_request mu = {.xid = 2, .type = ZOP_MULTI, .ops = ops, .nops = 3};
    send_req(r, c, &mu);
    struct jrd rd;
    assert_false(next_frame(&k, &rd));
    server_durable(r->s, r->appended);
    int32_t err;
    assert_int_equal(read_reply(&k, &rd, &err), 1);
    assert_int_equal(read_reply(&k, &rd, &err), 2);
    assert_int_equal(err, ZOK);
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, ZOP_MULTI, &res), ZOK);
    assert_int_equal(res.nresults, 3);
    assert_int_equal(res.results[0].err, ZOK);
    assert_int_equal(res.results[1].err, ZNONODE);
    assert_int_equal(res.results[2].err, ZRUNTIMEINCONSISTENCY);
    jute_free_response(&res);
    close_conn(r, c, &k);
    rig_free(r);
}

static void test_unknown_opcode_closes(void **state)
{
    (void)state;
    struct rig *r = rig_new(0);
    struct sink k;
    struct zconn *c = session(r, &k);
    uint8_t frame[8] = {0, 0, 0, 7, 0, 0, 0, 99};
    assert_int_equal(server_frame(r->s, c, frame, sizeof(frame)), 0);
    struct jrd rd;
    int32_t err;
    assert_int_equal(read_reply(&k, &rd, &err), 7);
    assert_int_equal(err, ZUNIMPLEMENTED);
    assert_true(k.closed);
    close_conn(r, c, &k);
    rig_free(r);
}

static void test_close_session(void **state)
{
    (void)state;
    struct rig *r = rig_new(0);
    struct sink k;
    struct zconn *c = session(r, &k);
    int64_t sid = c->session;
    struct zk_request cl = {.xid = 5, .type = ZOP_CLOSESESSION};
    send_req(r, c, &cl);
    struct jrd rd;
    int32_t err;
    assert_int_equal(read_reply(&k, &rd, &err), 5);
    assert_int_equal(err, ZOK);
    assert_true(k.closed);
    assert_null(sess_get(r->s->sessions, sid));
    close_conn(r, c, &k);
    rig_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_reads_wait_for_earlier_writes),
        cmocka_unit_test(test_watch_event_before_reply),
        cmocka_unit_test(test_expiry_removes_ephemerals),
        cmocka_unit_test(test_failed_multi_keeps_order),
        cmocka_unit_test(test_unknown_opcode_closes),
        cmocka_unit_test(test_close_session),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
