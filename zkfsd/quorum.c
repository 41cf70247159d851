/* The ensemble driver (see quorum.h). Thin: every protocol decision is zab.c's, every state
 * change the server core's; this file maps events and effects between them, in order.
 *
 * Effects are carried out in the order zab_step queued them. Carrying one out may feed the
 * state machine again (a commit answers a client whose queued write is then proposed): such
 * nested steps only append effects, which the same loop then carries out. */
#include "zkfsd/quorum.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/zerr.h"
#include "replication/msg.h"
#include "replication/peer.h"
#include "replication/zab.h"
#include "zkfsd/snap.h"
#include "zkfsd/storage.h"
#include "zkfsd/wal.h"

_Static_assert((int)ZAB_LOOKING == (int)PEER_LOOKING && (int)ZAB_FOLLOWING == (int)PEER_FOLLOWING &&
                   (int)ZAB_LEADING == (int)PEER_LEADING && (int)ZAB_OBSERVING == (int)PEER_OBSERVING,
               "zab roles and vote states differ");

#define MAX_FRAME (64u << 20)         /* the peer network's bound on one message */
#define SNAP_CHUNK (1u << 20)         /* snapshot bytes per SNAPCHUNK */
#define SNAP_MAX ((uint64_t)4 << 30) /* a snapshot larger than this is refused */

struct pending_sync {
    int64_t session, target;
    int32_t cxid;
};

struct quorum {
    const struct zk_config *cfg;
    struct server *srv;
    struct event_base *base;
    struct storage *st;
    struct zab *z;
    struct peer_net *pn;
    struct event *timer;
    uint64_t my_id;
    int pumping;
    /* recovery: the txns logged after the snapshot */
    uint64_t *zxids;
    uint8_t **txns;
    size_t *lens, nlog, caplog;
    /* a snapshot being received from the leader */
    uint8_t *snap;
    uint64_t snap_len, snap_have, snap_zxid;
    int snap_active;
    /* follower: the highest zxid the leader said committed, and syncs waiting to reach it */
    uint64_t commit_seen;
    struct pending_sync *syncs;
    size_t nsyncs, capsyncs;
};

static void set_time(struct quorum *q) { server_set_time(q->srv, mono_ms(), wall_ms()); }

/* The member cannot go on without risking its log or its state: it stops (exit status 3,
 * as for a log error); restarted, it recovers and syncs with the leader again. */
#define fatal(...) log_fatal(WAL_EXIT_STATUS, __VA_ARGS__)

/* ---------------- epoch files ---------------- */

/* ZooKeeper's names, in dataDir/version-2: a decimal number each, replaced atomically. */
static int read_epoch(const char *dir, const char *name, uint64_t *out, char *err, size_t errlen)
{
    char path[4300], buf[64];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    char *end;
    if (n > 0)
        buf[n] = 0;
    unsigned long long v = n > 0 ? strtoull(buf, &end, 10) : 0;
    if (n <= 0 || end == buf || (*end && *end != '\n') || v > UINT32_MAX) {
        snprintf(err, errlen, "%s does not hold an epoch (a decimal number)", path);
        return -1;
    }
    *out = v;
    return 1;
}

static void write_epoch(const char *dir, const char *name, uint64_t v)
{
    char path[4300], tmp[4320], buf[32];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int len = snprintf(buf, sizeof(buf), "%" PRIu64 "\n", v);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, buf, (size_t)len) != len || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, path) < 0 ||
        zk_fsync_dir(dir) < 0)
        fatal("cannot persist the epoch file %s (an epoch must never go back): %s", path, strerror(errno));
}

/* ---------------- sending ---------------- */

static void send_msg(struct quorum *q, uint64_t to, const struct peer_msg *m)
{
    int rc = peer_net_send(q->pn, to, m);
    if (rc != ZOK && rc != ZCONNECTIONLOSS)
        LOG_WARN("cannot send %s to member %" PRIu64 ": %s", msg_type_name(m->type), to, zerr_name(rc));
}

/* The leader's committed state at zxid, after the SNAP header: it is the tree as it stands,
 * since the leader applies every commit before carrying out the next effect. */
static void send_snapshot(struct quorum *q, uint64_t to, uint64_t zxid)
{
    struct server *s = q->srv;
    if ((uint64_t)server_last_zxid(s) != zxid) {
        LOG_ERROR("asked to send the snapshot of zxid 0x%" PRIx64 " while the tree is at 0x%" PRIx64, zxid,
                  (uint64_t)server_last_zxid(s));
        abort(); /* the state machine and the tree disagree: a bug, never send a wrong state */
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    char err[512];
    int64_t t0 = mono_ms();
    if (snap_encode(&s->tree, s->sessions, wall_ms(), &buf, &len, err, sizeof(err)) < 0)
        fatal("cannot encode a snapshot for a follower: %s", err);
    struct peer_msg m = {.type = PM_SNAP, .zxid = zxid, .total_len = len};
    send_msg(q, to, &m);
    /* the whole state goes out at once, ahead of the proposals that follow it */
    peer_net_allow(q->pn, to, len + len / 16 + 4096);
    for (size_t off = 0; off < len; off += SNAP_CHUNK) {
        struct peer_msg c = {.type = PM_SNAPCHUNK, .data = buf + off, .data_len = len - off < SNAP_CHUNK ? len - off : SNAP_CHUNK};
        send_msg(q, to, &c);
    }
    LOG_INFO("sent member %" PRIu64 " a SNAP of zxid 0x%" PRIx64 ": %zu bytes, %zu znodes (encoded in %" PRId64 " ms)",
             to, zxid, len, tree_node_count(&s->tree), mono_ms() - t0);
    free(buf);
}

static void send_zab(struct quorum *q, uint64_t to, const struct zab_msg *zm)
{
    struct peer_msg m = {.type = zm->type};
    switch (zm->type) {
    case PM_VOTE:
        m.leader = zm->leader;
        m.zxid = zm->zxid;
        m.peer_epoch = zm->epoch;
        m.round = zm->round;
        m.state = (uint8_t)zm->state;
        m.from = q->my_id;
        break;
    case PM_FOLLOWERINFO:
        m.accepted_epoch = zm->epoch;
        m.last_zxid = zm->zxid;
        m.observer = zm->observer != 0;
        break;
    case PM_LEADERINFO:
        m.epoch = zm->epoch;
        break;
    case PM_ACKEPOCH:
        m.current_epoch = zm->epoch;
        m.last_zxid = zm->zxid;
        break;
    case PM_SNAP:
        send_snapshot(q, to, zm->zxid);
        return;
    case PM_DIFF:
    case PM_TRUNC:
        LOG_INFO("syncing member %" PRIu64 " by %s from zxid 0x%" PRIx64, to, zm->type == PM_DIFF ? "DIFF" : "TRUNC",
                 zm->zxid);
        m.zxid = zm->zxid;
        break;
    case PM_PROPOSAL:
    case PM_INFORM:
        m.zxid = zm->zxid;
        m.txn = (uint8_t *)zm->txn;
        m.txn_len = zm->txnlen;
        break;
    case PM_PING: {
        /* a follower's answer carries the sessions its clients kept alive */
        const int64_t *ids;
        size_t n = zab_role(q->z) == ZAB_LEADING ? 0 : server_take_touched(q->srv, &ids);
        struct msg_session *ss = n ? calloc(n, sizeof(*ss)) : NULL;
        size_t k = 0;
        for (size_t i = 0; ss && i < n; i++) {
            struct zk_session *se = sess_get(q->srv->sessions, ids[i]);
            if (se)
                ss[k++] = (struct msg_session){(uint64_t)ids[i], se->timeout_ms};
        }
        m.sessions = ss;
        m.nsessions = k;
        send_msg(q, to, &m);
        free(ss);
        return;
    }
    default:
        m.zxid = zm->zxid;
        break;
    }
    send_msg(q, to, &m);
}

/* ---------------- the state machine ---------------- */

static void pump(struct quorum *q);

static void step(struct quorum *q, const struct zab_event *ev)
{
    zab_step(q->z, ev, mono_ms());
    pump(q);
}

static void flush_syncs(struct quorum *q)
{
    size_t k = 0;
    for (size_t i = 0; i < q->nsyncs; i++) {
        struct pending_sync *p = &q->syncs[i];
        if (server_last_zxid(q->srv) >= p->target)
            server_synced(q->srv, p->session, p->cxid);
        else
            q->syncs[k++] = *p;
    }
    q->nsyncs = k;
}

static void drop_snapshot(struct quorum *q)
{
    free(q->snap);
    q->snap = NULL;
    q->snap_active = 0;
    q->snap_len = q->snap_have = 0;
}

static void carry_out(struct quorum *q, const struct zab_effect *e)
{
    switch (e->kind) {
    case ZX_SEND:
        send_zab(q, e->peer, &e->msg);
        break;
    case ZX_LOG_APPEND:
        storage_append(q->st, (int64_t)e->zxid, e->txn, e->txnlen);
        break;
    case ZX_LOG_TRUNCATE: {
        LOG_INFO("the leader truncates our log after zxid 0x%" PRIx64, e->zxid);
        storage_truncate(q->st, (int64_t)e->zxid);
        struct zab_event ev = {.kind = ZE_DURABLE, .zxid = e->zxid};
        zab_step(q->z, &ev, mono_ms());
        break;
    }
    case ZX_PERSIST_EPOCHS:
        /* accepted first: a crash in between leaves current <= accepted, as the protocol needs */
        write_epoch(storage_dir(q->st), "acceptedEpoch", e->epoch);
        write_epoch(storage_dir(q->st), "currentEpoch", e->zxid);
        break;
    case ZX_COMMIT:
        if (server_commit(q->srv, (int64_t)e->zxid, e->txn, e->txnlen) < 0)
            fatal("cannot apply committed txn 0x%" PRIx64 " (see above); rather than diverge", e->zxid);
        break;
    case ZX_SEND_SNAPSHOT:
        break; /* streamed right behind its SNAP message */
    case ZX_INSTALL_SNAPSHOT:
        if (!q->snap || q->snap_zxid != e->zxid)
            fatal("asked to install the snapshot of zxid 0x%" PRIx64 ", which was not received", e->zxid);
        storage_install(q->st, q->snap, q->snap_len);
        if ((uint64_t)server_last_zxid(q->srv) != e->zxid)
            fatal("the leader's snapshot does not hold zxid 0x%" PRIx64 ", which it announced", e->zxid);
        drop_snapshot(q);
        break;
    case ZX_ROLE:
        LOG_INFO("ensemble role: %s",
                 (const char *[]){"looking", "following", "leading", "observing"}[e->epoch < 4 ? e->epoch : 0]);
        break;
    }
}

static void rearm(struct quorum *q)
{
    int64_t wait = zab_next_deadline(q->z) - mono_ms();
    if (wait < 1)
        wait = 1;
    struct timeval tv = {wait / 1000, (wait % 1000) * 1000};
    evtimer_add(q->timer, &tv);
}

/* The server's mode follows the protocol: it serves only as an established leader or a
 * follower the leader declared up to date. */
static void follow_role(struct quorum *q)
{
    enum zab_role r = zab_role(q->z);
    enum server_mode m = !zab_serving(q->z)     ? SRV_LOOKING
                         : r == ZAB_LEADING   ? SRV_LEADING
                         : r == ZAB_FOLLOWING ? SRV_FOLLOWING
                                              : SRV_OBSERVING;
    if (m != SRV_FOLLOWING && m != SRV_OBSERVING) {
        q->nsyncs = 0;
        q->commit_seen = 0;
    }
    if (r != ZAB_FOLLOWING && r != ZAB_OBSERVING && q->snap_active)
        drop_snapshot(q);
    server_set_mode(q->srv, m, m == SRV_LOOKING ? 0 : zab_current_epoch(q->z));
}

static void pump(struct quorum *q)
{
    if (q->pumping)
        return;
    q->pumping = 1;
    for (size_t i = 0;; i++) {
        size_t n;
        const struct zab_effect *fx = zab_effects(q->z, &n);
        if (i >= n)
            break;
        struct zab_effect e = fx[i]; /* nested steps may move the queue */
        carry_out(q, &e);
    }
    zab_effects_clear(q->z);
    follow_role(q);
    flush_syncs(q);
    q->pumping = 0;
    rearm(q);
}

/* ---------------- events ---------------- */

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct quorum *q = arg;
    set_time(q);
    struct zab_event ev = {.kind = ZE_TICK};
    step(q, &ev);
}

static void on_up(void *ctx, uint64_t id)
{
    struct quorum *q = ctx;
    set_time(q);
    LOG_INFO("member %" PRIu64 " connected", id);
    struct zab_event ev = {.kind = ZE_PEER_UP, .peer = id};
    step(q, &ev);
}

static void on_down(void *ctx, uint64_t id)
{
    struct quorum *q = ctx;
    set_time(q);
    LOG_INFO("member %" PRIu64 " disconnected", id);
    if (id == zab_leader(q->z) && q->snap_active)
        drop_snapshot(q);
    struct zab_event ev = {.kind = ZE_PEER_DOWN, .peer = id};
    step(q, &ev);
}

static void on_durable(void *ctx, int64_t zxid)
{
    struct quorum *q = ctx;
    struct zab_event ev = {.kind = ZE_DURABLE, .zxid = (uint64_t)zxid};
    step(q, &ev);
}

/* SNAP and its chunks: the bytes are collected, then the state machine hears of the SNAP. */
static void on_snap_msg(struct quorum *q, uint64_t from, const struct peer_msg *m)
{
    if (from != zab_leader(q->z) || zab_role(q->z) == ZAB_LEADING)
        return;
    if (m->type == PM_SNAP) {
        drop_snapshot(q);
        if (m->total_len == 0 || m->total_len > SNAP_MAX) {
            LOG_ERROR("the leader announced a snapshot of %" PRIu64 " bytes: refused", m->total_len);
            return;
        }
        q->snap_active = 1;
        q->snap_len = m->total_len;
        q->snap_zxid = m->zxid;
        LOG_INFO("receiving a SNAP of zxid 0x%" PRIx64 " (%" PRIu64 " bytes) from the leader", m->zxid, m->total_len);
        return;
    }
    if (!q->snap_active || m->data_len > q->snap_len - q->snap_have) {
        LOG_ERROR("unexpected snapshot chunk of %zu bytes from the leader: dropped", m->data_len);
        drop_snapshot(q);
        return;
    }
    uint8_t *p = realloc(q->snap, q->snap_have + m->data_len);
    if (!p)
        fatal("out of memory receiving the leader's snapshot");
    q->snap = p;
    memcpy(q->snap + q->snap_have, m->data, m->data_len);
    q->snap_have += m->data_len;
    if (q->snap_have < q->snap_len)
        return;
    q->snap_active = 0;
    struct zab_event ev = {.kind = ZE_RECV, .peer = from, .msg = {.type = PM_SNAP, .zxid = q->snap_zxid}};
    step(q, &ev);
}

static void on_msg(void *ctx, uint64_t from, const struct peer_msg *m)
{
    struct quorum *q = ctx;
    set_time(q);
    struct server *s = q->srv;
    int leading = zab_established(q->z);
    int from_leader = from == zab_leader(q->z) && zab_role(q->z) != ZAB_LEADING;
    if (q->snap_active && m->type != PM_SNAPCHUNK) {
        LOG_ERROR("%s from member %" PRIu64 " in the middle of a snapshot: snapshot dropped", msg_type_name(m->type),
                  from);
        drop_snapshot(q);
    }
    switch (m->type) {
    case PM_SNAP:
    case PM_SNAPCHUNK:
        on_snap_msg(q, from, m);
        return;
    case PM_REQUEST:
        if (leading)
            server_remote_request(s, (int64_t)from, (int64_t)m->session_id, m->cxid, m->op, m->body, m->body_len);
        pump(q);
        return;
    case PM_REVALIDATE:
        if (leading) {
            struct peer_msg r = {.type = PM_REVALIDATED,
                                 .session_id = m->session_id,
                                 .valid = server_remote_revalidate(s, (int64_t)from, (int64_t)m->session_id)};
            send_msg(q, from, &r);
        }
        return;
    case PM_REVALIDATED:
        if (from_leader)
            server_revalidated(s, (int64_t)m->session_id, m->valid);
        pump(q);
        return;
    case PM_SYNC:
        /* every commit before it went out on this connection already */
        if (leading) {
            struct peer_msg r = {.type = PM_SYNCED, .session_id = m->session_id, .cxid = m->cxid};
            send_msg(q, from, &r);
        }
        return;
    case PM_SYNCED:
        if (!from_leader)
            return;
        if (q->nsyncs == q->capsyncs) {
            size_t cap = q->capsyncs ? 2 * q->capsyncs : 16;
            struct pending_sync *p = realloc(q->syncs, cap * sizeof(*p));
            if (!p) {
                LOG_ERROR("out of memory queueing a sync; its client will time out");
                return;
            }
            q->syncs = p;
            q->capsyncs = cap;
        }
        q->syncs[q->nsyncs++] = (struct pending_sync){(int64_t)m->session_id, (int64_t)q->commit_seen, m->cxid};
        flush_syncs(q);
        pump(q);
        return;
    case PM_PING:
        if (leading)
            for (size_t i = 0; i < m->nsessions; i++)
                server_remote_touch(s, (int64_t)from, (int64_t)m->sessions[i].session_id);
        break;
    case PM_COMMIT:
    case PM_INFORM:
        if (from_leader && m->zxid > q->commit_seen)
            q->commit_seen = m->zxid;
        break;
    case PM_CHALLENGE:
    case PM_HELLO:
        return; /* the peer network's own */
    default:
        break;
    }
    struct zab_event ev = {.kind = ZE_RECV, .peer = from};
    struct zab_msg *zm = &ev.msg;
    zm->type = m->type;
    zm->zxid = m->zxid;
    switch (m->type) {
    case PM_VOTE:
        if (m->from != from)
            return; /* a vote speaks for its sender only */
        zm->leader = m->leader;
        zm->epoch = m->peer_epoch;
        zm->round = m->round;
        zm->state = m->state;
        break;
    case PM_FOLLOWERINFO:
        zm->epoch = m->accepted_epoch;
        zm->zxid = m->last_zxid;
        zm->observer = m->observer;
        break;
    case PM_LEADERINFO:
        zm->epoch = m->epoch;
        break;
    case PM_ACKEPOCH:
        zm->epoch = m->current_epoch;
        zm->zxid = m->last_zxid;
        break;
    case PM_PROPOSAL:
    case PM_INFORM:
        zm->txn = m->txn;
        zm->txnlen = m->txn_len;
        break;
    default:
        break;
    }
    step(q, &ev);
}

/* ---------------- the server's requests ---------------- */

static void propose(void *ctx, const struct txn *x)
{
    struct quorum *q = ctx;
    struct jbuf b;
    jb_init(&b);
    txn_encode(&b, x);
    if (b.oom)
        fatal("out of memory encoding a proposal");
    struct zab_event ev = {.kind = ZE_PROPOSE, .txn = b.p, .txnlen = b.len};
    if (zab_step(q->z, &ev, mono_ms()) < 0) {
        /* leadership is being lost: the server drops its pending txns when its mode follows */
        LOG_WARN("txn 0x%" PRIx64 " not proposed: this member no longer leads an established epoch",
                 (uint64_t)x->zxid);
    } else if (zab_last_zxid(q->z) != (uint64_t)x->zxid) {
        LOG_ERROR("proposal numbered 0x%" PRIx64 " by the protocol but 0x%" PRIx64 " by the server",
                  zab_last_zxid(q->z), (uint64_t)x->zxid);
        abort();
    }
    jb_free(&b);
    pump(q);
}

static void forward(void *ctx, int64_t session, int32_t cxid, int32_t op, const uint8_t *body, size_t n)
{
    struct quorum *q = ctx;
    struct peer_msg m = {
        .type = PM_REQUEST, .session_id = (uint64_t)session, .cxid = cxid, .op = op, .body = (uint8_t *)body, .body_len = n};
    send_msg(q, zab_leader(q->z), &m);
}

static void revalidate(void *ctx, int64_t session, int32_t timeout)
{
    struct quorum *q = ctx;
    struct peer_msg m = {.type = PM_REVALIDATE, .session_id = (uint64_t)session, .timeout_ms = timeout};
    send_msg(q, zab_leader(q->z), &m);
}

static void sync_req(void *ctx, int64_t session, int32_t cxid)
{
    struct quorum *q = ctx;
    struct peer_msg m = {.type = PM_SYNC, .session_id = (uint64_t)session, .cxid = cxid};
    send_msg(q, zab_leader(q->z), &m);
}

static void describe(void *ctx, int kind, char *buf, size_t n)
{
    struct quorum *q = ctx;
    static const char *const names[] = {"looking", "follower", "leader", "observer"};
    const char *mode = names[zab_role(q->z)];
    size_t len = 0;
#define PUT(...)                                                                                                      \
    do {                                                                                                              \
        int k_ = snprintf(buf + len, len < n ? n - len : 0, __VA_ARGS__);                                             \
        if (k_ > 0)                                                                                                   \
            len += (size_t)k_;                                                                                        \
    } while (0)
    if (kind == 0) {
        PUT("Mode: %s\n", mode);
        PUT("Epoch: %" PRIu64 "\n", zab_current_epoch(q->z));
        if (zab_role(q->z) != ZAB_LEADING)
            PUT("Leader: %" PRIu64 "\n", zab_leader(q->z));
        return;
    }
    int voters = 0, synced = zab_synced_followers(q->z, &voters);
    PUT("zk_server_state\t%s\n", mode);
    PUT("zk_epoch\t%" PRIu64 "\n", zab_current_epoch(q->z));
    PUT("zk_accepted_epoch\t%" PRIu64 "\n", zab_accepted_epoch(q->z));
    PUT("zk_last_logged_zxid\t0x%" PRIx64 "\n", zab_last_zxid(q->z));
    PUT("zk_committed_zxid\t0x%" PRIx64 "\n", zab_committed_zxid(q->z));
    PUT("zk_quorum_refused_handshakes\t%ld\n", peer_net_refused(q->pn));
    if (zab_role(q->z) == ZAB_LEADING) {
        PUT("zk_followers\t%d\n", synced);
        PUT("zk_synced_followers\t%d\n", voters);
        PUT("zk_synced_non_voting_followers\t%d\n", synced - voters);
        PUT("zk_pending_syncs\t0\n");
        uint64_t id, lag;
        int up, voter, insync;
        for (int i = 0; zab_peer_status(q->z, i, &id, &up, &voter, &insync, &lag) == 0; i++)
            PUT("zk_follower_%" PRIu64 "\t%s %s lag=%" PRIu64 "\n", id, voter ? "participant" : "observer",
                insync ? "synced" : up ? "connected" : "down", lag);
    }
#undef PUT
}

/* ---------------- construction ---------------- */

static int logged(void *ctx, const struct txn *x)
{
    struct quorum *q = ctx;
    if (q->nlog == q->caplog) {
        size_t cap = q->caplog ? 2 * q->caplog : 1024;
        uint64_t *z = realloc(q->zxids, cap * sizeof(*z));
        if (z)
            q->zxids = z;
        uint8_t **t = realloc(q->txns, cap * sizeof(*t));
        if (t)
            q->txns = t;
        size_t *l = realloc(q->lens, cap * sizeof(*l));
        if (l)
            q->lens = l;
        if (!z || !t || !l)
            return -1;
        q->caplog = cap;
    }
    struct jbuf b;
    jb_init(&b);
    txn_encode(&b, x);
    if (b.oom)
        return -1;
    q->zxids[q->nlog] = (uint64_t)x->zxid;
    q->txns[q->nlog] = b.p; /* the buffer moves to the array */
    q->lens[q->nlog] = b.len;
    q->nlog++;
    return 0;
}

static void free_recovered(struct quorum *q)
{
    for (size_t i = 0; i < q->nlog; i++)
        free(q->txns[i]);
    free(q->zxids);
    free(q->txns);
    free(q->lens);
    q->zxids = NULL;
    q->txns = NULL;
    q->lens = NULL;
    q->nlog = q->caplog = 0;
}

static int resolve(const char *host, char *out, size_t outlen)
{
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    int rc = getnameinfo(res->ai_addr, res->ai_addrlen, out, (socklen_t)outlen, NULL, 0, NI_NUMERICHOST);
    freeaddrinfo(res);
    return rc ? -1 : 0;
}

struct quorum *quorum_open(const struct zk_config *cfg, struct server *srv, struct event_base *base, char *err,
                           size_t errlen)
{
    struct quorum *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    q->cfg = cfg;
    q->srv = srv;
    q->base = base;
    q->my_id = (uint64_t)cfg->myid;

    struct zab_config zc = {.my_id = q->my_id,
                            .tick_ms = cfg->tick_time,
                            .init_limit = cfg->init_limit,
                            .sync_limit = cfg->sync_limit,
                            /* ZooKeeper's commitLogCount: a follower further behind gets a SNAP */
                            .max_window = 500};
    struct peer_addr members[2 * ZAB_MAX_PEERS];
    int nmembers = 0;
    for (size_t i = 0; i < cfg->nservers; i++) {
        const struct zk_server_entry *e = &cfg->servers[i];
        if (nmembers == 2 * ZAB_MAX_PEERS || (e->observer ? zc.nobservers : zc.nvoters) == ZAB_MAX_PEERS) {
            snprintf(err, errlen, "more than %d voters or %d observers", ZAB_MAX_PEERS, ZAB_MAX_PEERS);
            goto fail;
        }
        if (e->observer)
            zc.observers[zc.nobservers++] = (uint64_t)e->id;
        else
            zc.voters[zc.nvoters++] = (uint64_t)e->id;
        struct peer_addr *a = &members[nmembers++];
        a->id = (uint64_t)e->id;
        a->port = (uint16_t)e->quorum_port;
        if (resolve(e->host, a->host, sizeof(a->host)) < 0) {
            snprintf(err, errlen, "server.%" PRId64 "=%s: not an IPv4 address or a name that resolves to one",
                     e->id, e->host);
            goto fail;
        }
    }
    const struct zk_server_entry *me = config_server(cfg, cfg->myid);
    if (me && me->observer != (cfg->peer_type == ZK_PEER_OBSERVER))
        LOG_WARN("server.%" PRId64 " is %s in the server list but peerType says otherwise; the server list wins",
                 cfg->myid, me->observer ? "an observer" : "a participant");

    struct storage_repl sr = {.ctx = q, .logged = logged, .durable = on_durable};
    q->st = storage_open(cfg, srv, base, &sr, err, errlen);
    if (!q->st)
        goto fail;
    uint64_t last = q->nlog ? q->zxids[q->nlog - 1] : (uint64_t)server_last_zxid(srv);
    uint64_t accepted = last >> 32, current = last >> 32;
    int ra = read_epoch(storage_dir(q->st), "acceptedEpoch", &accepted, err, errlen);
    int rc = ra < 0 ? -1 : read_epoch(storage_dir(q->st), "currentEpoch", &current, err, errlen);
    if (ra < 0 || rc < 0)
        goto fail;
    if (current > accepted || (last >> 32) > current) {
        snprintf(err, errlen,
                 "epoch files disagree with the log (accepted %" PRIu64 ", current %" PRIu64 ", last zxid 0x%" PRIx64
                 ")",
                 accepted, current, last);
        goto fail;
    }
    q->z = zab_new(&zc, accepted, current, (uint64_t)server_last_zxid(srv), (uint64_t)server_last_zxid(srv),
                   q->zxids, (const uint8_t *const *)q->txns, q->lens, q->nlog, mono_ms());
    if (!q->z) {
        snprintf(err, errlen, "invalid ensemble (myid %" PRId64 " not among the server lines?)", cfg->myid);
        goto fail;
    }
    LOG_INFO("member %" PRIu64 " of %d voters and %d observers: accepted epoch %" PRIu64 ", current epoch %" PRIu64
             ", state at zxid 0x%" PRIx64 ", %zu logged txns after it awaiting the leader",
             q->my_id, zc.nvoters, zc.nobservers, accepted, current, (uint64_t)server_last_zxid(srv), q->nlog);
    free_recovered(q);

    char secret[ZK_CFG_SECRET_MAX + 64];
    if (cfg->quorum_secret[0]) {
        snprintf(secret, sizeof(secret), "%s", cfg->quorum_secret);
    } else {
        LOG_WARN("no zkfs.quorum.secret in the configuration: any process that can reach the quorum ports can "
                 "join this ensemble; set the same secret on every member");
        snprintf(secret, sizeof(secret), "zkfs-ensemble-without-a-secret");
    }
    LOG_INFO("election and replication share each member's quorum port; the electionPort of server.N lines is not "
             "used");
    struct peer_net_cb cb = {.up = on_up, .down = on_down, .msg = on_msg};
    q->pn = peer_net_new(base, q->my_id, members, nmembers, (const uint8_t *)secret, strlen(secret), MAX_FRAME, &cb,
                         q, err, errlen);
    if (!q->pn)
        goto fail;
    q->timer = evtimer_new(base, on_timer, q);
    if (!q->timer) {
        snprintf(err, errlen, "cannot create the ensemble timer");
        goto fail;
    }
    struct server_repl repl = {
        .ctx = q, .forward = forward, .revalidate = revalidate, .sync = sync_req, .describe = describe};
    server_set_repl(srv, &repl);
    server_set_log(srv, propose, q);
    server_set_mode(srv, SRV_LOOKING, 0);
    struct zab_event ev = {.kind = ZE_START};
    step(q, &ev);
    return q;
fail:
    free_recovered(q);
    quorum_close(q);
    return NULL;
}

void quorum_close(struct quorum *q)
{
    if (!q)
        return;
    peer_net_free(q->pn);
    if (q->timer)
        event_free(q->timer);
    storage_close(q->st);
    zab_free(q->z);
    drop_snapshot(q);
    free(q->syncs);
    free(q);
}
