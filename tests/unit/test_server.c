/* The server core driven without sockets: frames in, bytes out, the clock and the log
 * completion in the test's hands. Covers the handshake, session reconnect and expiry, reply
 * ordering behind pending writes, the watch-before-reply guarantee, failed multis in order,
 * and the close on an unknown opcode. Then the ensemble hooks: a leader and followers wired
 * by hand in one process (forwarded requests, commits, revalidation, sync, SESSIONMOVED,
 * expiry by the leader only, mode changes, touched sessions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/jute.h"
#include "common/zerr.h"
#include "zkfsd/server.h"
#include "zkfsd/txn.h"

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

static void sink_init(struct sink *k)
{
    memset(k, 0, sizeof(*k));
    jb_init(&k->out);
}

/* A connection to s whose bytes go to k (emptied first). */
static struct zconn *conn_open(struct server *s, struct sink *k, int port)
{
    sink_init(k);
    struct zconn *c = server_conn_open(s, k, "127.0.0.1", port);
    assert_non_null(c);
    return c;
}

static struct zconn *open_conn(struct rig *r, struct sink *k) { return conn_open(r->s, k, 40000); }

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

/* Hands s a ConnectRequest on c (sid 0: for a new session); returns server_frame's result. */
static int frame_connect(struct server *s, struct zconn *c, int64_t sid, const uint8_t *pw, int32_t timeout,
                         int with_ro)
{
    struct zk_connect_req cr = {.timeOut = timeout, .sessionId = sid, .passwd_len = 16, .has_readOnly = with_ro};
    if (pw)
        memcpy(cr.passwd, pw, 16);
    struct jbuf b;
    jb_init(&b);
    jute_write_connect_req(&b, &cr);
    int rc = server_frame(s, c, b.p, b.len);
    jb_free(&b);
    return rc;
}

static void send_connect(struct rig *r, struct zconn *c, int64_t sid, const uint8_t *pw, int with_ro)
{
    assert_int_equal(frame_connect(r->s, c, sid, pw, 30000, with_ro), 0);
}

/* The next frame, a ConnectResponse; *len (when len is not NULL) is its length. */
static struct zk_connect_resp read_connect(struct sink *k, size_t *len)
{
    struct jrd rd;
    assert_true(next_frame(k, &rd));
    if (len)
        *len = rd.len;
    struct zk_connect_resp resp;
    bool has_ro;
    assert_int_equal(jute_read_connect_resp(&rd, &resp, &has_ro), ZOK);
    return resp;
}

/* Hands s the request q on c; s must take it. */
static void frame_req(struct server *s, struct zconn *c, const struct zk_request *q)
{
    struct jbuf b;
    jb_init(&b);
    jute_write_request(&b, q);
    assert_int_equal(server_frame(s, c, b.p, b.len), 0);
    jb_free(&b);
}

static void send_req(struct rig *r, struct zconn *c, struct zk_request *q) { frame_req(r->s, c, q); }

/* Reads the next reply header: returns its xid, sets *err and (when zxid is not NULL) *zxid,
 * and leaves rd positioned at the body. */
static int32_t reply_z(struct sink *k, struct jrd *rd, int32_t *err, int64_t *zxid)
{
    assert_true(next_frame(k, rd));
    int32_t xid = jr_int(rd);
    int64_t z = jr_long(rd);
    if (zxid)
        *zxid = z;
    *err = jr_int(rd);
    return xid;
}

static int32_t read_reply(struct sink *k, struct jrd *rd, int32_t *err) { return reply_z(k, rd, err, NULL); }

/* rd is at a getData reply's body: the data must be data. */
static void check_data(struct jrd *rd, const char *data)
{
    struct zk_response res;
    assert_int_equal(jute_read_response(rd, ZOP_GETDATA, &res), ZOK);
    assert_int_equal(res.datalen, (int32_t)strlen(data));
    assert_memory_equal(res.data, data, strlen(data));
    jute_free_response(&res);
}

/* A multi whose second op fails (a delete of a missing node), and the check of its reply. */
static struct zk_request failing_ops[3] = {
    {.type = ZOP_CHECK, .path = "/m", .pathlen = 2, .version = 0},
    {.type = ZOP_DELETE, .path = "/missing", .pathlen = 8, .version = -1},
    {.type = ZOP_SETDATA, .path = "/m", .pathlen = 2, .datalen = -1, .version = -1},
};

static void check_failed_multi(struct jrd *rd)
{
    struct zk_response res;
    assert_int_equal(jute_read_response(rd, ZOP_MULTI, &res), ZOK);
    assert_int_equal(res.nresults, 3);
    assert_int_equal(res.results[0].err, ZOK);
    assert_int_equal(res.results[1].err, ZNONODE);
    assert_int_equal(res.results[2].err, ZRUNTIMEINCONSISTENCY);
    jute_free_response(&res);
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
    check_data(&rd, "v1");
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
    struct zk_request mu = {.xid = 2, .type = ZOP_MULTI, .ops = failing_ops, .nops = 3};
    send_req(r, c, &mu);
    struct jrd rd;
    assert_false(next_frame(&k, &rd));
    server_durable(r->s, r->appended);
    int32_t err;
    assert_int_equal(read_reply(&k, &rd, &err), 1);
    assert_int_equal(read_reply(&k, &rd, &err), 2);
    assert_int_equal(err, ZOK);
    check_failed_multi(&rd);
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

/* ---------------- a tiny in-memory ensemble ----------------
 *
 * Two or three cores in one process, wired by hand the way quorum.c wires them: a member's
 * repl.forward reaches the leader's server_remote_request at once (from = the member's id),
 * the leader's log_append captures every txn's encoding (txn_encode, as quorum.c's propose),
 * and committing delivers the captured txns in zxid order through server_commit, to each
 * member when the test says so. Revalidations and syncs are only recorded: the test plays
 * the leader's answer (server_remote_revalidate / server_revalidated, server_synced). */

#define ENS_MAX 3
#define ENS_LOG 256
#define ENS_REC 64
#define ENS_SINKS 16

struct fwd_rec {
    int64_t session;
    int32_t cxid, op;
    uint8_t *body;
    size_t n;
};

struct ens;

struct member {
    struct ens *e;
    struct server *s;
    int64_t id;
    size_t applied; /* log entries delivered to this member */
    int hold;       /* forwards are recorded but not relayed to the leader */
    struct fwd_rec fwd[ENS_REC];
    size_t nfwd;
    int64_t reval_session[ENS_REC];
    int32_t reval_timeout[ENS_REC];
    size_t nreval;
    int64_t sync_session[ENS_REC];
    int32_t sync_cxid[ENS_REC];
    size_t nsync;
};

struct logent {
    int64_t zxid, session;
    int32_t type, cxid;
    uint8_t *p;
    size_t n;
};

struct ens {
    int64_t mono, wall;
    struct member m[ENS_MAX];
    int n, leader;
    struct logent log[ENS_LOG];
    size_t nlog;
    struct sink sinks[ENS_SINKS]; /* what the cores sent the connections mopen opened */
    int nsinks;
};

static int ens_port = 41000;

static void ens_forward(void *ctx, int64_t session, int32_t cxid, int32_t op, const uint8_t *body, size_t n)
{
    struct member *m = ctx;
    assert_true(m->nfwd < ENS_REC);
    struct fwd_rec *f = &m->fwd[m->nfwd++];
    f->session = session;
    f->cxid = cxid;
    f->op = op;
    f->n = n;
    f->body = malloc(n ? n : 1);
    assert_non_null(f->body);
    memcpy(f->body, body, n);
    if (!m->hold)
        server_remote_request(m->e->m[m->e->leader].s, m->id, session, cxid, op, f->body, f->n);
}

static void ens_revalidate(void *ctx, int64_t session, int32_t timeout)
{
    struct member *m = ctx;
    assert_true(m->nreval < ENS_REC);
    m->reval_session[m->nreval] = session;
    m->reval_timeout[m->nreval++] = timeout;
}

static void ens_sync(void *ctx, int64_t session, int32_t cxid)
{
    struct member *m = ctx;
    assert_true(m->nsync < ENS_REC);
    m->sync_session[m->nsync] = session;
    m->sync_cxid[m->nsync++] = cxid;
}

static void ens_describe(void *ctx, int kind, char *buf, size_t n)
{
    struct member *m = ctx;
    static const char *const names[] = {"standalone", "looking", "leader", "follower", "observer"};
    if (kind == 0)
        snprintf(buf, n, "Mode: %s\nMember: %d\n", names[m->s->mode], (int)m->id);
    else
        snprintf(buf, n, "zk_server_state\t%s\n", names[m->s->mode]);
}

/* The leader's log: only the leader prepares txns, and it numbers them as zab would (the
 * next zxid of its epoch, or the first of a new epoch): quorum.c aborts on any other. */
static void ens_log(void *ctx, const struct txn *x)
{
    struct member *m = ctx;
    struct ens *e = m->e;
    assert_int_equal((int)(m - e->m), e->leader);
    assert_int_equal(m->s->mode, SRV_LEADING);
    assert_true(e->nlog < ENS_LOG);
    int64_t prev = e->nlog ? e->log[e->nlog - 1].zxid : 0;
    if (e->nlog && (x->zxid >> 32) == (prev >> 32)) {
        assert_int_equal(x->zxid, prev + 1);
    } else {
        assert_true(x->zxid > prev);
        assert_int_equal(x->zxid & 0xffffffffLL, 1);
    }
    struct jbuf b;
    jb_init(&b);
    txn_encode(&b, x);
    assert_false(b.oom);
    struct logent *l = &e->log[e->nlog++];
    l->zxid = x->zxid;
    l->session = x->session;
    l->type = x->type;
    l->cxid = x->cxid;
    l->p = b.p;
    l->n = b.len;
}

static struct ens *ens_new(int n)
{
    struct ens *e = calloc(1, sizeof(*e));
    assert_non_null(e);
    e->n = n;
    e->leader = 0;
    e->mono = 1000;
    e->wall = 1700000000000LL;
    for (int i = 0; i < n; i++) {
        struct member *m = &e->m[i];
        m->e = e;
        m->id = i + 1;
        struct server_opts o = {.tick_ms = 100, .min_session_timeout = 200, .max_session_timeout = 2000,
                                .max_buffer = ZK_DEFAULT_MAXBUFFER, .container_check_ms = 60000,
                                .server_id = m->id};
        struct server_io io = {.ctx = m, .send = io_send, .close = io_close, .log_append = ens_log, .log_ctx = m};
        m->s = server_new(&o, &io, e->mono, e->wall);
        assert_non_null(m->s);
        struct server_repl r = {.ctx = m, .forward = ens_forward, .revalidate = ens_revalidate, .sync = ens_sync,
                                .describe = ens_describe};
        server_set_repl(m->s, &r);
        server_set_mode(m->s, i == 0 ? SRV_LEADING : SRV_FOLLOWING, 1);
    }
    return e;
}

static void ens_free(struct ens *e)
{
    for (int i = 0; i < e->n; i++) {
        server_free(e->m[i].s);
        for (size_t k = 0; k < e->m[i].nfwd; k++)
            free(e->m[i].fwd[k].body);
    }
    for (size_t k = 0; k < e->nlog; k++)
        free(e->log[k].p);
    for (int i = 0; i < e->nsinks; i++)
        jb_free(&e->sinks[i].out);
    free(e);
}

/* Each ensemble test gets a fresh ensemble (2 or 3 members, member 1 leading) as its
 * state, freed after it whether it passed or not. */
static int ens2_setup(void **state)
{
    *state = ens_new(2);
    return 0;
}

static int ens3_setup(void **state)
{
    *state = ens_new(3);
    return 0;
}

static int ens_teardown(void **state)
{
    ens_free(*state);
    return 0;
}

static void ens_advance(struct ens *e, int64_t ms)
{
    e->mono += ms;
    e->wall += ms;
    for (int i = 0; i < e->n; i++)
        server_set_time(e->m[i].s, e->mono, e->wall);
}

/* The ensemble committed everything up to log entry `upto` (exclusive): member i learns it. */
static void deliver(struct ens *e, int i, size_t upto)
{
    struct member *m = &e->m[i];
    while (m->applied < upto && m->applied < e->nlog) {
        struct logent *l = &e->log[m->applied++];
        assert_int_equal(server_commit(m->s, l->zxid, l->p, l->n), 0);
    }
}

/* Everything logged commits everywhere, the leader first (it may log more as it answers). */
static void commit_all(struct ens *e)
{
    for (int changed = 1; changed;) {
        changed = 0;
        for (int k = 0; k < e->n; k++) {
            int i = (e->leader + k) % e->n;
            if (e->m[i].applied < e->nlog) {
                deliver(e, i, e->nlog);
                changed = 1;
            }
        }
    }
}

/* A new connection to member m; *k is set to its sink, which the ensemble owns (ens_free
 * frees it, also when a test fails). */
static struct zconn *mopen(struct member *m, struct sink **k)
{
    struct ens *e = m->e;
    assert_true(e->nsinks < ENS_SINKS);
    *k = &e->sinks[e->nsinks++];
    return conn_open(m->s, *k, ens_port++);
}

/* The driver lets go of the connection (the client left, or after io.close). */
static void mclose(struct member *m, struct zconn *c) { server_conn_closed(m->s, c); }

static int mconnect(struct member *m, struct zconn *c, int64_t sid, const uint8_t *pw, int32_t timeout)
{
    return frame_connect(m->s, c, sid, pw, timeout, 1);
}

/* A new connection to m that has sent its ConnectRequest (sid 0: for a new session). */
static struct zconn *mdial(struct member *m, struct sink **k, int64_t sid, const uint8_t *pw, int32_t timeout)
{
    struct zconn *c = mopen(m, k);
    assert_int_equal(mconnect(m, c, sid, pw, timeout), 0);
    return c;
}

static void mreq(struct member *m, struct zconn *c, const struct zk_request *q) { frame_req(m->s, c, q); }

/* The next frame must be the reply to xid with error err; rd is left at its body. */
static void expect_reply(struct sink *k, struct jrd *rd, int32_t xid, int32_t err)
{
    int32_t e;
    assert_int_equal(reply_z(k, rd, &e, NULL), xid);
    assert_int_equal(e, err);
}

/* The same, and the reply header carries zxid. */
static void expect_reply_z(struct sink *k, struct jrd *rd, int32_t xid, int32_t err, int64_t zxid)
{
    int32_t e;
    int64_t z;
    assert_int_equal(reply_z(k, rd, &e, &z), xid);
    assert_int_equal(e, err);
    assert_int_equal(z, zxid);
}

static void expect_event(struct sink *k, int32_t type, const char *path)
{
    struct jrd rd;
    expect_reply(k, &rd, ZXID_WATCH_EVENT, ZOK);
    assert_int_equal(jr_int(&rd), type);
    assert_int_equal(jr_int(&rd), ZSTATE_SYNC_CONNECTED);
    char *p = jr_string(&rd, NULL);
    assert_non_null(p);
    assert_string_equal(p, path);
    free(p);
}

static void expect_path_reply(struct sink *k, int32_t xid, int32_t type, const char *path)
{
    struct jrd rd;
    expect_reply(k, &rd, xid, ZOK);
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, type, &res), ZOK);
    assert_non_null(res.path);
    assert_string_equal(res.path, path);
    jute_free_response(&res);
}

static void expect_nothing(struct sink *k)
{
    struct jrd rd;
    assert_false(next_frame(k, &rd));
}

static struct zk_connect_resp expect_connect(struct sink *k) { return read_connect(k, NULL); }

/* The next frame must be the invalid-session answer (no session, timeout 0), and k closed. */
static void expect_refused(struct sink *k)
{
    struct zk_connect_resp r = expect_connect(k);
    assert_int_equal(r.sessionId, 0);
    assert_int_equal(r.timeOut, 0);
    assert_true(k->closed);
}

/* The leader finds session sid alive for member m (which revalidates a reconnect to it), m
 * learns it: the next frame on k must be the ConnectResponse for sid. */
static struct zk_connect_resp expect_revalidated(struct ens *e, struct member *m, struct sink *k, int64_t sid)
{
    assert_true(server_remote_revalidate(e->m[e->leader].s, m->id, sid));
    server_revalidated(m->s, sid, true);
    struct zk_connect_resp r = expect_connect(k);
    assert_int_equal(r.sessionId, sid);
    return r;
}

/* A client session established through member i (committed everywhere). */
static struct zconn *msession(struct ens *e, int i, struct sink **k, struct zk_connect_resp *out)
{
    struct member *m = &e->m[i];
    struct zconn *c = mdial(m, k, 0, NULL, 30000);
    commit_all(e);
    struct zk_connect_resp r = expect_connect(*k);
    assert_true(r.sessionId != 0);
    assert_int_equal(r.sessionId, c->session);
    assert_int_equal(r.timeOut, 2000);
    if (out)
        *out = r;
    return c;
}

static struct zk_request mk_create(int32_t xid, const char *path, const char *data, int32_t flags)
{
    struct zk_request q = {.xid = xid, .type = ZOP_CREATE, .path = (char *)path, .pathlen = (int32_t)strlen(path),
                           .data = (const uint8_t *)data, .datalen = data ? (int32_t)strlen(data) : -1,
                           .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1, .flags = flags};
    return q;
}

static struct zk_request mk_path(int32_t xid, int32_t type, const char *path)
{
    struct zk_request q = {.xid = xid, .type = type, .path = (char *)path, .pathlen = (int32_t)strlen(path),
                           .version = -1, .datalen = -1};
    return q;
}

static struct zk_request mk_set(int32_t xid, const char *path, const char *data, int32_t version)
{
    struct zk_request q = {.xid = xid, .type = ZOP_SETDATA, .path = (char *)path, .pathlen = (int32_t)strlen(path),
                           .data = (const uint8_t *)data, .datalen = (int32_t)strlen(data), .version = version};
    return q;
}

/* Decodes a captured log entry (the caller frees with txn_free). */
static void log_txn(struct ens *e, size_t i, struct txn *x)
{
    assert_true(i < e->nlog);
    assert_int_equal(txn_decode(e->log[i].p, e->log[i].n, x), ZOK);
}

static struct znode *node(struct member *m, const char *path) { return tree_get(&m->s->tree, path); }

/* 1. A client connecting to a follower: its createSession goes to the leader, and it is
 * answered only once the follower applies the commit; frames sent right behind the
 * ConnectRequest wait for the session and are answered after the ConnectResponse. */
static void test_ens_follower_creates_session(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *k;
    struct zconn *c = mdial(F, &k, 0, NULL, 30000);
    struct zk_request ex = mk_path(1, ZOP_EXISTS, "/zookeeper");
    mreq(F, c, &ex); /* right behind the ConnectRequest, as clients do */

    assert_int_equal(F->nfwd, 1);
    struct fwd_rec *f = &F->fwd[0];
    assert_int_equal(f->op, ZOP_CREATESESSION);
    assert_int_equal(f->cxid, 0);
    assert_int_equal(f->n, 4);
    struct jrd rd;
    jr_init(&rd, f->body, f->n);
    assert_int_equal(jr_int(&rd), 2000); /* the negotiated (clamped) timeout */
    int64_t sid = f->session;
    assert_true(sid != 0);
    assert_int_equal((uint64_t)sid >> 56, 2); /* the follower's id space */
    assert_null(sess_get(F->s->sessions, sid));

    /* the leader logged a createSession numbered (1 << 32) + 1 */
    assert_int_equal(e->nlog, 1);
    assert_int_equal(e->log[0].type, ZOP_CREATESESSION);
    assert_int_equal(e->log[0].zxid, ((int64_t)1 << 32) + 1);
    assert_int_equal(e->log[0].session, sid);
    expect_nothing(k);

    /* committed on the leader only: the follower's client still waits */
    deliver(e, 0, e->nlog);
    struct zk_session *ls = sess_get(L->s->sessions, sid);
    assert_non_null(ls);
    assert_int_equal(ls->holder, 2);
    assert_int_equal(ls->timeout_ms, 2000);
    expect_nothing(k);
    assert_false(k->closed);

    deliver(e, 1, e->nlog);
    struct zk_connect_resp r = expect_connect(k);
    assert_int_equal(r.sessionId, sid);
    assert_int_equal(r.timeOut, 2000);
    uint8_t pw[16];
    sess_password(sid, L->s->secret, pw);
    assert_memory_equal(r.passwd, pw, 16);
    assert_non_null(sess_get(F->s->sessions, sid));
    assert_int_equal(sess_get(F->s->sessions, sid)->timeout_ms, 2000);
    /* the early exists, answered after the session with the follower's zxid */
    expect_reply_z(k, &rd, 1, ZOK, e->log[0].zxid);
    expect_nothing(k);
    assert_false(k->closed);
    assert_int_equal(e->nlog, 1); /* nothing else was forwarded: the exists is a local read */
    assert_int_equal(F->nfwd, 1);

    /* srvr on a member shows the driver's lines */
    char *srvr = server_4lw(F->s, "srvr", NULL);
    assert_non_null(srvr);
    assert_non_null(strstr(srvr, "Mode: follower"));
    free(srvr);
}

/* 1b. The leader refusing a forwarded createSession (an error txn) makes the follower send
 * the invalid-session answer and close. */
static void test_ens_follower_session_refused(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    F->hold = 1;
    struct sink *k;
    mdial(F, &k, 0, NULL, 30000);
    assert_int_equal(F->nfwd, 1);
    /* a body the leader must refuse: timeout 0 */
    uint8_t body[4] = {0, 0, 0, 0};
    server_remote_request(L->s, 2, F->fwd[0].session, 0, ZOP_CREATESESSION, body, 4);
    assert_int_equal(e->nlog, 1);
    assert_int_equal(e->log[0].type, ZOP_ERROR);
    assert_true(e->log[0].zxid != 0);
    commit_all(e);
    expect_refused(k);
    assert_null(sess_get(F->s->sessions, F->fwd[0].session));
    assert_null(sess_get(L->s->sessions, F->fwd[0].session));
}

/* 2. Writes through a follower: forwarded with the connection's identities (the leader
 * checks ACLs and fixes up auth ACLs with them), answered once committed with the leader's
 * path, reads queued behind them answered after them; watches fire on the follower. */
static void test_ens_follower_write_path(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *ka, *kb, *kl;
    struct zconn *a = msession(e, 1, &ka, NULL);
    struct zconn *b = msession(e, 1, &kb, NULL);
    struct zconn *l = msession(e, 0, &kl, NULL);
    struct jrd rd;

    struct zk_request au = {.xid = ZXID_AUTH, .type = ZOP_AUTH, .scheme = "digest",
                            .auth = (const uint8_t *)"alice:secret", .authlen = 12};
    mreq(F, a, &au);
    expect_reply(ka, &rd, ZXID_AUTH, ZOK);

    /* b watches for /acl to appear, l (on the leader) too */
    struct zk_request ex = mk_path(1, ZOP_EXISTS, "/acl");
    ex.watch = true;
    mreq(F, b, &ex);
    expect_reply(kb, &rd, 1, ZNONODE);
    mreq(L, l, &ex);
    expect_reply(kl, &rd, 1, ZNONODE);

    size_t nf = F->nfwd, nl = e->nlog;
    struct zk_request cr = mk_create(1, "/acl", "v1", ZMODE_PERSISTENT);
    cr.acl = (struct zk_acl *)CREATOR_ALL_ACL;
    mreq(F, a, &cr);
    struct zk_request gd = mk_path(2, ZOP_GETDATA, "/acl");
    mreq(F, a, &gd);
    struct zk_request sq = mk_create(3, "/seq-", "s", ZMODE_PERSISTENT_SEQUENTIAL);
    mreq(F, a, &sq);

    /* two writes forwarded (the read stays local), each with the identities and the frame */
    assert_int_equal(F->nfwd, nf + 2);
    struct fwd_rec *f = &F->fwd[nf];
    assert_int_equal(f->op, ZOP_CREATE);
    assert_int_equal(f->cxid, 1);
    assert_int_equal(f->session, a->session);
    jr_init(&rd, f->body, f->n);
    assert_int_equal(jr_int(&rd), 2);
    char *digest_id = NULL;
    int saw_ip = 0;
    for (int i = 0; i < 2; i++) {
        char *sch = jr_string(&rd, NULL), *id = jr_string(&rd, NULL);
        assert_non_null(sch);
        assert_non_null(id);
        if (!strcmp(sch, "ip")) {
            assert_string_equal(id, "127.0.0.1");
            saw_ip = 1;
            free(id);
        } else {
            assert_string_equal(sch, "digest");
            assert_memory_equal(id, "alice:", 6);
            digest_id = id;
        }
        free(sch);
    }
    assert_true(saw_ip);
    assert_non_null(digest_id);
    assert_int_equal(jr_int(&rd), 1);         /* xid */
    assert_int_equal(jr_int(&rd), ZOP_CREATE); /* type */
    char *p = jr_string(&rd, NULL);
    assert_string_equal(p, "/acl");
    free(p);
    assert_int_equal(F->fwd[nf + 1].op, ZOP_CREATE);
    assert_int_equal(F->fwd[nf + 1].cxid, 3);
    assert_int_equal(e->nlog, nl + 2);
    assert_int_equal(e->log[nl].type, ZOP_CREATE);
    assert_int_equal(e->log[nl].cxid, 1);
    assert_int_equal(e->log[nl].session, a->session);

    /* nothing before the commit reaches the follower */
    deliver(e, 0, e->nlog);
    assert_non_null(node(L, "/acl"));
    assert_null(node(F, "/acl"));
    expect_nothing(ka);
    expect_nothing(kb);
    expect_event(kl, ZEV_CREATED, "/acl"); /* the leader's own watcher fired on its commit */

    deliver(e, 1, e->nlog);
    expect_event(kb, ZEV_CREATED, "/acl");
    expect_nothing(kb);
    expect_reply_z(ka, &rd, 1, ZOK, e->log[nl].zxid);
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, ZOP_CREATE, &res), ZOK);
    assert_string_equal(res.path, "/acl");
    jute_free_response(&res);
    expect_reply(ka, &rd, 2, ZOK); /* the read queued behind the create sees it */
    check_data(&rd, "v1");
    /* the sequential name is the one the leader chose */
    struct txn sx;
    log_txn(e, nl + 1, &sx);
    assert_int_equal(sx.type, ZOP_CREATE);
    assert_int_equal(strlen(sx.path), strlen("/seq-") + 10);
    assert_memory_equal(sx.path, "/seq-", 5);
    expect_path_reply(ka, 3, ZOP_CREATE, sx.path);
    expect_nothing(ka);

    /* both trees agree, and the auth ACL holds the forwarded digest identity */
    for (int i = 0; i < 2; i++) {
        struct znode *n = node(&e->m[i], "/acl");
        assert_non_null(n);
        assert_int_equal(n->acl->n, 1);
        assert_string_equal(n->acl->v[0].id.scheme, "digest");
        assert_string_equal(n->acl->v[0].id.id, digest_id);
        assert_int_equal(n->stat.czxid, e->log[nl].zxid);
        assert_non_null(node(&e->m[i], sx.path));
    }
    txn_free(&sx);
    free(digest_id);

    /* the leader checks the ACL with the forwarded identities: b has none that match */
    struct zk_request ch = mk_create(2, "/acl/child", NULL, ZMODE_PERSISTENT);
    mreq(F, b, &ch);
    ch.xid = 4;
    mreq(F, a, &ch);
    commit_all(e);
    expect_reply(kb, &rd, 2, ZNOAUTH);
    expect_path_reply(ka, 4, ZOP_CREATE, "/acl/child");
    assert_non_null(node(F, "/acl/child"));
    assert_non_null(node(L, "/acl/child"));
    assert_int_equal(server_last_zxid(F->s), server_last_zxid(L->s));
}

/* 3. Failing writes through a follower become error txns with zxids on the leader, and the
 * follower's client gets the errors in order with a later successful write and a read. A
 * leader-local error waits behind the leader's pending txns. */
static void test_ens_follower_errors_in_order(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *ka, *kl;
    struct zconn *a = msession(e, 1, &ka, NULL);
    struct zconn *l = msession(e, 0, &kl, NULL);
    struct jrd rd;
    struct zk_request cr = mk_create(1, "/x", "0", ZMODE_PERSISTENT);
    mreq(F, a, &cr);
    commit_all(e);
    expect_path_reply(ka, 1, ZOP_CREATE, "/x");

    size_t nl = e->nlog;
    cr.xid = 10;
    mreq(F, a, &cr); /* NODEEXISTS */
    struct zk_request de = mk_path(11, ZOP_DELETE, "/missing");
    mreq(F, a, &de); /* NONODE */
    struct zk_request sd = mk_set(12, "/x", "bad", 5);
    mreq(F, a, &sd); /* BADVERSION */
    struct zk_request ok = mk_set(13, "/x", "good", 0);
    mreq(F, a, &ok);
    struct zk_request gd = mk_path(14, ZOP_GETDATA, "/x");
    mreq(F, a, &gd);
    /* a leader-local failure behind pending txns: answered after them, never logged */
    struct zk_request de2 = mk_path(7, ZOP_DELETE, "/missing2");
    mreq(L, l, &de2);
    expect_nothing(kl);

    assert_int_equal(e->nlog, nl + 4);
    const int32_t want[3] = {ZNODEEXISTS, ZNONODE, ZBADVERSION};
    for (int i = 0; i < 3; i++) {
        struct txn x;
        assert_int_equal(e->log[nl + i].type, ZOP_ERROR);
        assert_int_equal(e->log[nl + i].cxid, 10 + i);
        assert_int_equal(e->log[nl + i].session, a->session);
        log_txn(e, nl + i, &x);
        assert_int_equal(x.err, want[i]);
        txn_free(&x);
    }
    assert_int_equal(e->log[nl + 3].type, ZOP_SETDATA);

    deliver(e, 0, e->nlog);
    expect_reply(kl, &rd, 7, ZNONODE);
    expect_nothing(ka);
    deliver(e, 1, e->nlog);
    for (int i = 0; i < 3; i++) /* each error carries its txn's zxid */
        expect_reply_z(ka, &rd, 10 + i, want[i], e->log[nl + i].zxid);
    expect_reply(ka, &rd, 13, ZOK);
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, ZOP_SETDATA, &res), ZOK);
    assert_int_equal(res.stat.version, 1);
    jute_free_response(&res);
    expect_reply(ka, &rd, 14, ZOK);
    check_data(&rd, "good");
    expect_nothing(ka);
    for (int i = 0; i < 2; i++) {
        struct znode *n = node(&e->m[i], "/x");
        assert_int_equal(n->stat.version, 1);
        assert_int_equal(n->datalen, 4);
    }
    assert_int_equal(server_last_zxid(F->s), e->log[e->nlog - 1].zxid);
}

/* 4. A multi through a follower: a failed one is a logged txn whose per-op results reach the
 * client; a successful one answers with each op's result. */
static void test_ens_follower_multi(void **state)
{
    struct ens *e = *state;
    struct member *F = &e->m[1];
    struct sink *k;
    struct zconn *c = msession(e, 1, &k, NULL);
    struct jrd rd;
    struct zk_request cr = mk_create(1, "/m", NULL, ZMODE_PERSISTENT);
    mreq(F, c, &cr);
    struct zk_request mu = {.xid = 2, .type = ZOP_MULTI, .ops = failing_ops, .nops = 3};
    size_t nl = e->nlog;
    mreq(F, c, &mu);
    assert_int_equal(e->nlog, nl + 1);
    assert_int_equal(e->log[nl].type, ZOP_MULTI);
    assert_true(e->log[nl].zxid != 0);
    expect_nothing(k);
    commit_all(e);
    expect_path_reply(k, 1, ZOP_CREATE, "/m");
    expect_reply(k, &rd, 2, ZOK);
    check_failed_multi(&rd);
    for (int i = 0; i < 2; i++)
        assert_int_equal(node(&e->m[i], "/m")->stat.version, 0); /* nothing of it applied */

    struct zk_request ops2[2] = {
        {.type = ZOP_CREATE, .path = "/m/a", .pathlen = 4, .datalen = -1,
         .acl = (struct zk_acl *)OPEN_ACL_UNSAFE, .nacl = 1},
        {.type = ZOP_SETDATA, .path = "/m", .pathlen = 2, .data = (const uint8_t *)"z", .datalen = 1,
         .version = 0},
    };
    struct zk_request mu2 = {.xid = 3, .type = ZOP_MULTI, .ops = ops2, .nops = 2};
    mreq(F, c, &mu2);
    commit_all(e);
    expect_reply(k, &rd, 3, ZOK);
    struct zk_response res;
    assert_int_equal(jute_read_response(&rd, ZOP_MULTI, &res), ZOK);
    assert_int_equal(res.nresults, 2);
    assert_int_equal(res.results[0].type, ZOP_CREATE);
    assert_string_equal(res.results[0].path, "/m/a");
    assert_int_equal(res.results[1].type, ZOP_SETDATA);
    assert_int_equal(res.results[1].stat.version, 1);
    jute_free_response(&res);
    for (int i = 0; i < 2; i++) {
        assert_non_null(node(&e->m[i], "/m/a"));
        assert_int_equal(node(&e->m[i], "/m")->stat.version, 1);
    }
}

/* 5. sync on a follower waits for the leader's answer, in order with the connection's other
 * requests, and its reply carries the path. */
static void test_ens_follower_sync(void **state)
{
    struct ens *e = *state;
    struct member *F = &e->m[1];
    struct sink *k;
    struct zconn *c = msession(e, 1, &k, NULL);
    struct jrd rd;
    size_t nl = e->nlog;
    struct zk_request sy = mk_path(3, ZOP_SYNC, "/s");
    mreq(F, c, &sy);
    struct zk_request gd = mk_path(4, ZOP_GETDATA, "/zookeeper");
    mreq(F, c, &gd);
    assert_int_equal(F->nsync, 1);
    assert_int_equal(F->sync_session[0], c->session);
    assert_int_equal(F->sync_cxid[0], 3);
    assert_int_equal(e->nlog, nl); /* a sync is no txn */
    assert_int_equal(F->nfwd, 1);  /* nor a forwarded request (only the createSession was) */
    expect_nothing(k);
    server_synced(F->s, c->session, 99); /* not this sync */
    server_synced(F->s, c->session + 1, 3); /* not this session */
    expect_nothing(k);
    server_synced(F->s, c->session, 3);
    expect_path_reply(k, 3, ZOP_SYNC, "/s");
    expect_reply(k, &rd, 4, ZOK);
    expect_nothing(k);

    /* behind a pending write: the synced answer still waits for the write's commit */
    struct zk_request cr = mk_create(5, "/after", NULL, ZMODE_PERSISTENT);
    mreq(F, c, &cr);
    sy.xid = 6;
    mreq(F, c, &sy);
    assert_int_equal(F->nsync, 2);
    server_synced(F->s, c->session, 6);
    expect_nothing(k);
    commit_all(e);
    expect_path_reply(k, 5, ZOP_CREATE, "/after");
    expect_path_reply(k, 6, ZOP_SYNC, "/s");
    expect_nothing(k);

    /* the commit of the create does not answer a sync queued before it */
    sy.xid = 7;
    mreq(F, c, &sy);
    cr = mk_create(8, "/after2", NULL, ZMODE_PERSISTENT);
    mreq(F, c, &cr);
    commit_all(e);
    expect_nothing(k); /* the sync is at the head and unanswered */
    server_synced(F->s, c->session, 7);
    expect_path_reply(k, 7, ZOP_SYNC, "/s");
    expect_path_reply(k, 8, ZOP_CREATE, "/after2");
    expect_nothing(k);
}

/* 6. closeSession through a follower: the reply, then the close; the ephemerals are gone
 * everywhere. The leader's expiry of a follower's session closes the follower's connection
 * once the close commits there; a follower never expires sessions itself. */
static void test_ens_close_and_expiry(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *ka, *kb;
    struct zconn *a = msession(e, 1, &ka, NULL);
    struct zconn *b = msession(e, 1, &kb, NULL);
    int64_t sa = a->session, sb = b->session;
    struct jrd rd;
    struct zk_request cr = mk_create(1, "/eph-a", NULL, ZMODE_EPHEMERAL);
    mreq(F, a, &cr);
    cr = mk_create(1, "/eph-b", NULL, ZMODE_EPHEMERAL);
    mreq(F, b, &cr);
    commit_all(e);
    expect_path_reply(ka, 1, ZOP_CREATE, "/eph-a");
    expect_path_reply(kb, 1, ZOP_CREATE, "/eph-b");
    assert_int_equal(node(F, "/eph-a")->stat.ephemeralOwner, sa);
    struct zk_request ex = mk_path(2, ZOP_EXISTS, "/eph-a");
    ex.watch = true;
    mreq(F, b, &ex);
    expect_reply(kb, &rd, 2, ZOK);

    size_t nl = e->nlog;
    struct zk_request cl = {.xid = 9, .type = ZOP_CLOSESESSION};
    mreq(F, a, &cl);
    assert_int_equal(e->nlog, nl + 1);
    assert_int_equal(e->log[nl].type, ZOP_CLOSESESSION);
    assert_int_equal(e->log[nl].session, sa);
    struct zk_request ping = {.xid = ZXID_PING, .type = ZOP_PING};
    mreq(F, a, &ping); /* nothing more is taken from a closing connection */
    expect_nothing(ka);
    assert_false(ka->closed);
    commit_all(e);
    expect_reply(ka, &rd, 9, ZOK);
    expect_nothing(ka);
    assert_true(ka->closed);
    for (int i = 0; i < 2; i++) {
        assert_null(node(&e->m[i], "/eph-a"));
        assert_null(sess_get(e->m[i].s->sessions, sa));
        assert_non_null(node(&e->m[i], "/eph-b"));
    }
    expect_event(kb, ZEV_DELETED, "/eph-a");
    mclose(F, a);

    /* b goes silent; time passes far beyond its timeout */
    nl = e->nlog;
    ens_advance(e, 2500);
    assert_int_equal(server_tick(F->s), INT64_MAX); /* the follower expires nothing */
    assert_int_equal(e->nlog, nl);
    assert_false(kb->closed);
    assert_non_null(sess_get(F->s->sessions, sb));
    server_tick(L->s);
    assert_int_equal(e->nlog, nl + 1);
    assert_int_equal(e->log[nl].type, ZOP_CLOSESESSION);
    assert_int_equal(e->log[nl].session, sb);
    deliver(e, 0, e->nlog);
    assert_null(node(L, "/eph-b"));
    assert_false(kb->closed); /* not before the follower applies the close */
    assert_non_null(node(F, "/eph-b"));
    deliver(e, 1, e->nlog);
    assert_true(kb->closed);
    assert_null(node(F, "/eph-b"));
    assert_null(sess_get(F->s->sessions, sb));
    assert_null(sess_get(L->s->sessions, sb));
    expect_nothing(kb); /* no reply for a close b never asked for */
}

/* 7. A reconnect to a follower: only the leader knows whether the session lives; the client
 * waits for its answer. The leader's revalidation for another member closes its own
 * connection of the session. */
static void test_ens_reconnect_revalidate(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *k1, *k2, *k3, *k4, *kl;
    struct zk_connect_resp r1;
    struct zconn *c1 = msession(e, 1, &k1, &r1);
    int64_t sid = r1.sessionId;
    mclose(F, c1); /* the client lost its connection */

    /* the right password: the leader is asked, nothing is answered before */
    struct zconn *c2 = mdial(F, &k2, sid, r1.passwd, 1000);
    assert_int_equal(F->nreval, 1);
    assert_int_equal(F->reval_session[0], sid);
    assert_int_equal(F->reval_timeout[0], 1000);
    expect_nothing(k2);
    server_revalidated(F->s, sid + 1, true); /* another session's answer */
    expect_nothing(k2);
    struct zk_connect_resp r2 = expect_revalidated(e, F, k2, sid);
    assert_int_equal(r2.timeOut, 1000);
    assert_memory_equal(r2.passwd, r1.passwd, 16);
    assert_false(k2->closed);
    struct zk_request cr = mk_create(1, "/back", NULL, ZMODE_PERSISTENT);
    mreq(F, c2, &cr);
    commit_all(e);
    expect_path_reply(k2, 1, ZOP_CREATE, "/back");

    /* the client reconnects to the same member while c2 is still open: c2 is closed once
     * the new connection is validated, not before */
    struct sink *k5;
    struct zconn *c5 = mdial(F, &k5, sid, r1.passwd, 30000);
    assert_int_equal(F->nreval, 2);
    assert_false(k2->closed);
    expect_revalidated(e, F, k5, sid);
    assert_true(k2->closed);
    assert_false(k5->closed);
    mclose(F, c2);
    cr = mk_create(2, "/back2", NULL, ZMODE_PERSISTENT);
    mreq(F, c5, &cr);
    commit_all(e);
    expect_path_reply(k5, 2, ZOP_CREATE, "/back2");

    /* the leader says the session is gone: the expired-session answer and a close */
    mdial(F, &k3, sid, r1.passwd, 30000);
    assert_int_equal(F->nreval, 3);
    expect_nothing(k3);
    server_revalidated(F->s, sid, false);
    expect_refused(k3);

    /* a wrong password or an unknown session is refused at once, the leader not asked */
    uint8_t bad[16];
    memcpy(bad, r1.passwd, 16);
    bad[3] ^= 0x40;
    struct zconn *c4 = mdial(F, &k4, sid, bad, 30000);
    assert_int_equal(F->nreval, 3);
    expect_refused(k4);
    mclose(F, c4);
    uint8_t pw5[16];
    sess_password(sid + 77, F->s->secret, pw5);
    mdial(F, &k4, sid + 77, pw5, 30000);
    assert_int_equal(F->nreval, 3);
    expect_refused(k4);

    /* the leader's side: a session held by its own client moves to member 2 */
    struct zk_connect_resp rl;
    struct zconn *l = msession(e, 0, &kl, &rl);
    assert_int_equal(sess_get(L->s->sessions, rl.sessionId)->holder, 1);
    assert_true(server_remote_revalidate(L->s, 2, rl.sessionId));
    assert_true(kl->closed);
    assert_int_equal(sess_get(L->s->sessions, rl.sessionId)->holder, 2);
    /* unknown sessions are not alive; members other than the leader answer nothing */
    assert_false(server_remote_revalidate(L->s, 2, rl.sessionId + 1000));
    assert_false(server_remote_revalidate(F->s, 2, sid));
    (void)l;
}

/* 7b. Clients send requests (setWatches, auth, a read) right behind their ConnectRequest.
 * On a follower, the frames that arrive while the reconnect is being revalidated must be
 * answered once the session is re-established, as they are for a new session (1.).
 * (server_revalidated once attached without replaying them.) */
static void test_ens_revalidate_replays_early_frames(void **state)
{
    struct ens *e = *state;
    struct member *F = &e->m[1];
    struct sink *k1, *k2;
    struct zk_connect_resp r1;
    struct zconn *c1 = msession(e, 1, &k1, &r1);
    mclose(F, c1);
    struct zconn *c2 = mdial(F, &k2, r1.sessionId, r1.passwd, 30000);
    struct zk_request ex = mk_path(5, ZOP_EXISTS, "/zookeeper");
    mreq(F, c2, &ex); /* right behind the ConnectRequest */
    assert_int_equal(F->nreval, 1);
    expect_nothing(k2);
    expect_revalidated(e, F, k2, r1.sessionId);
    assert_false(k2->closed);
    struct jrd rd;
    expect_reply(k2, &rd, 5, ZOK);
}

/* 8. A request forwarded by a member that no longer holds the session: ZSESSIONMOVED,
 * delivered to that member's connection, nothing applied, the new holder unaffected. */
static void test_ens_session_moved(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F2 = &e->m[1], *F3 = &e->m[2];
    struct sink *k3, *k2;
    struct zk_connect_resp r;
    struct zconn *c3 = msession(e, 2, &k3, &r); /* created through member 3 */
    int64_t sid = r.sessionId;
    assert_int_equal(sess_get(L->s->sessions, sid)->holder, 3);
    for (int i = 0; i < 3; i++)
        assert_non_null(sess_get(e->m[i].s->sessions, sid));
    struct jrd rd;
    struct zk_request cr = mk_create(1, "/mv", NULL, ZMODE_PERSISTENT);
    mreq(F3, c3, &cr);
    commit_all(e);
    expect_path_reply(k3, 1, ZOP_CREATE, "/mv");

    /* the client moves to member 2; its old connection to member 3 is still open there */
    struct zconn *c2 = mdial(F2, &k2, sid, r.passwd, 30000);
    assert_int_equal(F2->nreval, 1);
    expect_revalidated(e, F2, k2, sid);
    assert_int_equal(sess_get(L->s->sessions, sid)->holder, 2);

    size_t nl = e->nlog;
    struct zk_request sd = mk_set(20, "/mv", "late", -1);
    mreq(F3, c3, &sd);
    assert_int_equal(e->nlog, nl + 1);
    struct txn x;
    assert_int_equal(e->log[nl].type, ZOP_ERROR);
    log_txn(e, nl, &x);
    assert_int_equal(x.err, ZSESSIONMOVED);
    assert_int_equal(x.cxid, 20);
    txn_free(&x);
    commit_all(e);
    expect_reply(k3, &rd, 20, ZSESSIONMOVED);
    expect_nothing(k2);
    for (int i = 0; i < 3; i++)
        assert_int_equal(node(&e->m[i], "/mv")->stat.version, 0);
    assert_int_equal(sess_get(L->s->sessions, sid)->holder, 2); /* still member 2's */

    /* the new holder writes as usual */
    sd.xid = 21;
    mreq(F2, c2, &sd);
    commit_all(e);
    expect_reply(k2, &rd, 21, ZOK);
    expect_nothing(k3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(node(&e->m[i], "/mv")->stat.version, 1);

    /* the same straight at the leader: from member 3 for member 2's session */
    nl = e->nlog;
    struct jbuf b;
    jb_init(&b);
    jw_int(&b, 0);
    struct zk_request dl = mk_path(22, ZOP_DELETE, "/mv");
    jute_write_request(&b, &dl);
    server_remote_request(L->s, 3, sid, 22, ZOP_DELETE, b.p, b.len);
    jb_free(&b);
    assert_int_equal(e->nlog, nl + 1);
    log_txn(e, nl, &x);
    assert_int_equal(x.type, ZOP_ERROR);
    assert_int_equal(x.err, ZSESSIONMOVED);
    txn_free(&x);
    commit_all(e);
    expect_nothing(k3); /* nobody here awaits xid 22 */
    expect_nothing(k2);
    assert_non_null(node(F2, "/mv"));
}

/* 9. Leaving a serving mode closes every client connection and refuses new ones; a new
 * leader numbers its txns from its epoch and gives every session a fresh timeout. */
static void test_ens_mode_changes(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *kf, *kl, *kn, *kw;
    struct zconn *f = msession(e, 1, &kf, NULL);
    struct zconn *l = msession(e, 0, &kl, NULL);
    int64_t sf = f->session, sl = l->session;
    size_t committed = e->nlog;
    struct jrd rd;
    /* writes still waiting for a commit */
    struct zk_request cr = mk_create(1, "/lp", NULL, ZMODE_PERSISTENT);
    mreq(L, l, &cr);
    cr = mk_create(1, "/fp", NULL, ZMODE_PERSISTENT);
    mreq(F, f, &cr);
    assert_int_equal(e->nlog, committed + 2);
    /* and a connection still establishing its session through the follower */
    struct zconn *w = mdial(F, &kw, 0, NULL, 30000);
    assert_int_equal(e->nlog, committed + 3);

    server_set_mode(F->s, SRV_LOOKING, 0);
    assert_true(kf->closed);
    assert_true(kw->closed);
    assert_false(kl->closed);
    server_set_mode(L->s, SRV_LOOKING, 0);
    assert_true(kl->closed);
    assert_null(L->s->chead); /* its pending txns are forgotten */
    assert_int_equal(L->s->st.outstanding, 0);
    expect_nothing(kl);
    expect_nothing(kf);
    expect_nothing(kw);
    /* a closing connection takes no more requests */
    struct zk_request ping = {.xid = ZXID_PING, .type = ZOP_PING};
    mreq(L, l, &ping);
    expect_nothing(kl);
    /* new clients are refused */
    struct zconn *n = mopen(F, &kn);
    assert_int_equal(mconnect(F, n, 0, NULL, 30000), -1);
    expect_nothing(kn);
    mclose(F, n);
    n = mopen(L, &kn);
    assert_int_equal(mconnect(L, n, 0, NULL, 30000), -1);
    mclose(L, n);
    /* a leader that stepped down ignores forwarded requests */
    uint8_t body[4] = {0, 0, 0x07, 0xd0};
    server_remote_request(L->s, 2, sf + 5, 0, ZOP_CREATESESSION, body, 4);
    assert_int_equal(e->nlog, committed + 3);
    mclose(F, f);
    mclose(F, w);
    mclose(L, l);
    /* the new epoch never commits the old uncommitted proposals */
    for (size_t i = committed; i < e->nlog; i++)
        free(e->log[i].p);
    e->nlog = committed;
    assert_null(node(L, "/lp"));
    assert_null(node(F, "/fp"));

    /* 1900 ms of the sessions' 2000 have passed when member 1 leads epoch 5 */
    ens_advance(e, 1900);
    server_set_mode(L->s, SRV_LEADING, 5);
    server_set_mode(F->s, SRV_FOLLOWING, 5);
    assert_int_equal(server_tick(F->s), INT64_MAX);
    ens_advance(e, 1000);
    server_tick(L->s); /* a fresh timeout: neither session expires yet */
    assert_int_equal(e->nlog, committed);
    assert_non_null(sess_get(L->s->sessions, sf));
    assert_non_null(sess_get(L->s->sessions, sl));
    struct zconn *c = mdial(L, &kn, 0, NULL, 30000);
    assert_int_equal(e->nlog, committed + 1);
    assert_int_equal(e->log[committed].type, ZOP_CREATESESSION);
    assert_int_equal(e->log[committed].zxid, ((int64_t)5 << 32) + 1);
    commit_all(e);
    assert_int_equal(expect_connect(kn).sessionId, c->session);
    assert_non_null(sess_get(F->s->sessions, c->session));
    cr = mk_create(2, "/e5", NULL, ZMODE_PERSISTENT);
    mreq(L, c, &cr);
    assert_int_equal(e->log[committed + 1].zxid, ((int64_t)5 << 32) + 2);
    commit_all(e);
    expect_path_reply(kn, 2, ZOP_CREATE, "/e5");
    assert_int_equal(server_last_zxid(F->s), ((int64_t)5 << 32) + 2);
    assert_non_null(node(F, "/e5"));
    /* the old sessions run out a full timeout after the election */
    ens_advance(e, 1200);
    server_tick(L->s);
    int expired = 0;
    for (size_t i = committed + 2; i < e->nlog; i++)
        if (e->log[i].type == ZOP_CLOSESESSION)
            expired++;
    assert_int_equal(expired, 2);
    (void)rd;
}

/* 10. A follower remembers each session its clients touched once per round, for the
 * leader's pings; the leader takes touches only from the session's holder. */
static void test_ens_touched_sessions(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *ka, *kb, *kl;
    struct zconn *a = msession(e, 1, &ka, NULL);
    struct zconn *b = msession(e, 1, &kb, NULL);
    struct zconn *l = msession(e, 0, &kl, NULL);
    int64_t sa = a->session, sb = b->session;
    const int64_t *ids;
    size_t n = server_take_touched(F->s, &ids);
    (void)n; /* whatever establishing them left */
    struct jrd rd;
    struct zk_request ping = {.xid = ZXID_PING, .type = ZOP_PING};
    mreq(F, a, &ping);
    mreq(F, a, &ping);
    mreq(F, b, &ping);
    struct zk_request gd = mk_path(3, ZOP_GETDATA, "/zookeeper");
    mreq(F, a, &gd);
    expect_reply(ka, &rd, ZXID_PING, ZOK);
    expect_reply(ka, &rd, ZXID_PING, ZOK);
    expect_reply(kb, &rd, ZXID_PING, ZOK);
    expect_reply(ka, &rd, 3, ZOK);
    n = server_take_touched(F->s, &ids);
    assert_int_equal(n, 2);
    assert_true((ids[0] == sa && ids[1] == sb) || (ids[0] == sb && ids[1] == sa));
    assert_int_equal(server_take_touched(F->s, &ids), 0);
    mreq(F, b, &ping);
    mreq(F, b, &ping);
    n = server_take_touched(F->s, &ids);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], sb);
    /* the leader's own clients are not remembered: the leader expires them itself */
    mreq(L, l, &ping);
    assert_int_equal(server_take_touched(L->s, &ids), 0);

    /* the leader: touches from the holder (member 2) keep a alive, b is not touched */
    size_t nl = e->nlog;
    for (int i = 0; i < 5; i++) {
        ens_advance(e, 500);
        server_remote_touch(L->s, 2, sa);
        server_remote_touch(L->s, 3, sb); /* not b's holder: ignored */
        mreq(L, l, &ping);
        server_tick(L->s);
    }
    assert_int_equal(e->nlog, nl + 1);
    assert_int_equal(e->log[nl].type, ZOP_CLOSESESSION);
    assert_int_equal(e->log[nl].session, sb);
    commit_all(e);
    assert_true(kb->closed);
    assert_false(ka->closed);
    assert_non_null(sess_get(L->s->sessions, sa));
    assert_null(sess_get(F->s->sessions, sb));
    /* after a mode change the follower starts a fresh round */
    mreq(F, a, &ping);
    server_set_mode(F->s, SRV_FOLLOWING, 2);
    assert_int_equal(server_take_touched(F->s, &ids), 0);
}

/* server_commit and server_apply_committed refuse what they cannot apply, and a txn
 * committed twice is applied (and answered) once. */
static void test_ens_commit_checks(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *F = &e->m[1];
    struct sink *k;
    struct zconn *c = msession(e, 1, &k, NULL);
    struct zk_request cr = mk_create(1, "/once", NULL, ZMODE_PERSISTENT);
    mreq(F, c, &cr);
    size_t i = e->nlog - 1;
    /* the leader's next pending txn is log[i]: a commit of another zxid is a bug */
    assert_int_equal(server_commit(L->s, e->log[i].zxid + 1, e->log[i].p, e->log[i].n), -1);
    uint8_t junk[3] = {1, 2, 3};
    assert_int_equal(server_apply_committed(F->s, junk, sizeof(junk)), -1);
    assert_int_equal(server_commit(F->s, e->log[i].zxid, junk, sizeof(junk)), -1);
    commit_all(e);
    expect_path_reply(k, 1, ZOP_CREATE, "/once");
    int64_t cz = node(F, "/once")->stat.czxid;
    assert_int_equal(server_commit(F->s, e->log[i].zxid, e->log[i].p, e->log[i].n), 0); /* again: ignored */
    expect_nothing(k);
    assert_int_equal(node(F, "/once")->stat.czxid, cz);
    assert_int_equal(server_last_zxid(F->s), e->log[i].zxid);
}

/* An observer forwards and applies exactly as a follower does. */
static void test_ens_observer(void **state)
{
    struct ens *e = *state;
    struct member *L = &e->m[0], *O = &e->m[1];
    server_set_mode(O->s, SRV_OBSERVING, 1);
    struct sink *k;
    struct zconn *c = msession(e, 1, &k, NULL);
    assert_int_equal(O->fwd[0].op, ZOP_CREATESESSION);
    struct zk_request cr = mk_create(1, "/obs", "o", ZMODE_EPHEMERAL);
    mreq(O, c, &cr);
    assert_int_equal(O->nfwd, 2);
    expect_nothing(k);
    commit_all(e);
    expect_path_reply(k, 1, ZOP_CREATE, "/obs");
    assert_non_null(node(L, "/obs"));
    assert_non_null(node(O, "/obs"));
    ens_advance(e, 5000);
    assert_int_equal(server_tick(O->s), INT64_MAX);
    assert_false(k->closed);
}

/* server_clear_state leaves an empty tree and session table, ready for a snapshot. */
static void test_ens_clear_state(void **state)
{
    struct ens *e = *state;
    struct member *F = &e->m[1];
    struct sink *k;
    struct zconn *c = msession(e, 1, &k, NULL);
    struct zk_request cr = mk_create(1, "/gone", NULL, ZMODE_PERSISTENT);
    mreq(F, c, &cr);
    commit_all(e);
    expect_path_reply(k, 1, ZOP_CREATE, "/gone");
    int64_t sid = c->session;
    server_set_mode(F->s, SRV_LOOKING, 0);
    mclose(F, c);
    assert_int_equal(server_clear_state(F->s), 0);
    assert_null(node(F, "/gone"));
    assert_non_null(node(F, "/zookeeper"));
    assert_null(sess_get(F->s->sessions, sid));
    assert_int_equal(sess_count(F->s->sessions), 0);
    assert_int_equal(server_last_zxid(F->s), 0);
}

/* An ensemble test of n members (ens<n>_setup). */
#define ENS_TEST(f, n) cmocka_unit_test_setup_teardown(f, ens##n##_setup, ens_teardown)

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
        ENS_TEST(test_ens_follower_creates_session, 2),
        ENS_TEST(test_ens_follower_session_refused, 2),
        ENS_TEST(test_ens_follower_write_path, 2),
        ENS_TEST(test_ens_follower_errors_in_order, 2),
        ENS_TEST(test_ens_follower_multi, 2),
        ENS_TEST(test_ens_follower_sync, 2),
        ENS_TEST(test_ens_close_and_expiry, 2),
        ENS_TEST(test_ens_reconnect_revalidate, 2),
        ENS_TEST(test_ens_revalidate_replays_early_frames, 2),
        ENS_TEST(test_ens_session_moved, 3),
        ENS_TEST(test_ens_mode_changes, 2),
        ENS_TEST(test_ens_touched_sessions, 3),
        ENS_TEST(test_ens_commit_checks, 2),
        ENS_TEST(test_ens_observer, 2),
        ENS_TEST(test_ens_clear_state, 2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
