/* ZAB as a pure state machine (see zab.h). One function per message kind and role; the
 * effects queue owns copies of every txn it mentions, so the driver may carry out effects
 * after the state machine has moved on.
 *
 * Safety rests on three rules, each enforced in one place:
 * - a new epoch is one above every epoch a quorum has accepted (decide_epoch), and a
 *   follower never acknowledges an epoch below one it accepted (on_leaderinfo);
 * - a leader proposes nothing before a quorum holds its whole history (on_ack of NEWLEADER),
 *   and a follower whose history is ahead of the leader's makes it step down (on_ackepoch);
 * - commits go in zxid order and only past a quorum of durable ACKs (try_commit). */
#include "replication/zab.h"

#include <stdlib.h>
#include <string.h>

struct vote {
    uint64_t leader, zxid, epoch;
};

struct entry {
    uint64_t zxid;
    uint8_t *txn;
    size_t len;
};

enum fphase { FP_NONE = 0, FP_INFO, FP_LEADERINFO, FP_ACKEPOCH, FP_SYNCED, FP_NEWLEADER_ACKED, FP_UPTODATE };

struct peer {
    uint64_t id;
    int voter, up;
    /* the last notification it sent (election) */
    int have_vote, state;
    struct vote v;
    uint64_t round;
    /* leader side */
    enum fphase phase;
    uint64_t f_accepted, f_current, f_last, acked, sent_upto, commit_sent, sync_upto;
    int observer;
    int64_t last_heard;
};

struct zab {
    struct zab_config cfg;
    enum zab_role role;
    int64_t now;
    uint64_t accepted_epoch, current_epoch;
    struct entry *log;
    size_t nlog, cap;
    uint64_t base_zxid; /* the state before log[0] */
    uint64_t last_zxid, durable_zxid, committed_zxid;
    /* election */
    uint64_t round;
    struct vote vote;
    int64_t finalize_at, next_resend;
    /* role */
    uint64_t leader_id;
    int64_t deadline, next_ping;
    /* leader */
    uint64_t new_epoch;
    int epoch_decided, epoch_quorum, established;
    uint32_t counter;
    /* follower */
    int fphase; /* 0 info sent, 1 ackepoch sent, 2 NEWLEADER got, 3 up to date */
    uint64_t newleader_zxid, commit_target;
    int need_newleader_ack;
    int64_t last_heard_leader;
    int npeers;
    struct peer peers[2 * ZAB_MAX_PEERS];
    struct zab_effect *fx;
    size_t nfx, capfx;
};

static int quorum(const struct zab *z)
{
    return z->cfg.nvoters / 2 + 1;
}

static int is_voter(const struct zab *z, uint64_t id)
{
    for (int i = 0; i < z->cfg.nvoters; i++)
        if (z->cfg.voters[i] == id)
            return 1;
    return 0;
}

static struct peer *peer(struct zab *z, uint64_t id)
{
    for (int i = 0; i < z->npeers; i++)
        if (z->peers[i].id == id)
            return &z->peers[i];
    return NULL;
}

static int better(const struct vote *a, const struct vote *b)
{
    if (a->epoch != b->epoch)
        return a->epoch > b->epoch;
    if (a->zxid != b->zxid)
        return a->zxid > b->zxid;
    return a->leader > b->leader;
}

static int same_vote(const struct vote *a, const struct vote *b)
{
    return a->leader == b->leader && a->zxid == b->zxid && a->epoch == b->epoch;
}

/* ---------- effects ---------- */

static struct zab_effect *push(struct zab *z, enum zab_effect_kind kind)
{
    if (z->nfx == z->capfx) {
        size_t cap = z->capfx ? 2 * z->capfx : 64;
        struct zab_effect *p = realloc(z->fx, cap * sizeof(*p));
        if (!p)
            abort(); /* no way to carry on consistently without the effect */
        z->fx = p;
        z->capfx = cap;
    }
    struct zab_effect *e = &z->fx[z->nfx++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static const uint8_t *copy_txn(const uint8_t *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    if (!c)
        abort();
    if (n)
        memcpy(c, p, n);
    return c;
}

static void send_msg(struct zab *z, uint64_t to, const struct zab_msg *m)
{
    struct zab_effect *e = push(z, ZX_SEND);
    e->peer = to;
    e->msg = *m;
    if (m->txn) {
        e->msg.txn = copy_txn(m->txn, m->txnlen);
        e->txn = e->msg.txn;
        e->txnlen = m->txnlen;
    }
}

static void send_simple(struct zab *z, uint64_t to, int type, uint64_t zxid)
{
    struct zab_msg m = {.type = type, .zxid = zxid};
    send_msg(z, to, &m);
}

static void persist_epochs(struct zab *z)
{
    struct zab_effect *e = push(z, ZX_PERSIST_EPOCHS);
    e->epoch = z->accepted_epoch;
    e->zxid = z->current_epoch;
}

static void set_role(struct zab *z, enum zab_role r)
{
    z->role = r;
    push(z, ZX_ROLE)->epoch = (uint64_t)r;
}

/* ---------- the log window ---------- */

static long find(const struct zab *z, uint64_t zxid)
{
    size_t lo = 0, hi = z->nlog;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (z->log[mid].zxid < zxid)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < z->nlog && z->log[lo].zxid == zxid ? (long)lo : -1;
}

static void append(struct zab *z, uint64_t zxid, const uint8_t *txn, size_t len, int effect)
{
    if (z->nlog == z->cap) {
        size_t cap = z->cap ? 2 * z->cap : 256;
        struct entry *p = realloc(z->log, cap * sizeof(*p));
        if (!p)
            abort();
        z->log = p;
        z->cap = cap;
    }
    struct entry *e = &z->log[z->nlog++];
    e->zxid = zxid;
    e->len = len;
    e->txn = (uint8_t *)copy_txn(txn, len);
    z->last_zxid = zxid;
    if (effect) {
        struct zab_effect *x = push(z, ZX_LOG_APPEND);
        x->zxid = zxid;
        x->txn = copy_txn(txn, len);
        x->txnlen = len;
    }
}

/* Keeps at most max_window committed entries (uncommitted ones always stay). */
static void trim(struct zab *z)
{
    size_t drop = 0;
    while (z->nlog - drop > z->cfg.max_window && z->log[drop].zxid <= z->committed_zxid)
        drop++;
    if (!drop)
        return;
    z->base_zxid = z->log[drop - 1].zxid;
    for (size_t i = 0; i < drop; i++)
        free(z->log[i].txn);
    memmove(z->log, z->log + drop, (z->nlog - drop) * sizeof(*z->log));
    z->nlog -= drop;
}

/* Applies every logged entry up to target that is durable here. */
static void commit_upto(struct zab *z, uint64_t target)
{
    if (target > z->durable_zxid)
        target = z->durable_zxid;
    if (target <= z->committed_zxid)
        return;
    long i = 0;
    while ((size_t)i < z->nlog && z->log[i].zxid <= z->committed_zxid)
        i++;
    for (; (size_t)i < z->nlog && z->log[i].zxid <= target; i++) {
        struct zab_effect *e = push(z, ZX_COMMIT);
        e->zxid = z->log[i].zxid;
        e->txn = copy_txn(z->log[i].txn, z->log[i].len);
        e->txnlen = z->log[i].len;
        z->committed_zxid = z->log[i].zxid;
    }
    trim(z);
}

/* ---------- election ---------- */

static struct vote self_vote(const struct zab *z)
{
    struct vote v = {.leader = z->cfg.my_id, .zxid = z->last_zxid, .epoch = z->current_epoch};
    return v;
}

static void send_vote(struct zab *z, uint64_t to)
{
    struct zab_msg m = {.type = PM_VOTE, .round = z->round, .state = z->role};
    if (z->role == ZAB_LOOKING) {
        m.leader = z->vote.leader;
        m.zxid = z->vote.zxid;
        m.epoch = z->vote.epoch;
    } else {
        /* out of the election: who leads, in which epoch */
        m.leader = z->leader_id;
        m.zxid = z->last_zxid;
        m.epoch = z->role == ZAB_LEADING && z->epoch_decided ? z->new_epoch : z->accepted_epoch;
    }
    send_msg(z, to, &m);
}

static void broadcast_vote(struct zab *z)
{
    for (int i = 0; i < z->npeers; i++)
        if (z->peers[i].up && (z->peers[i].voter || z->role != ZAB_LOOKING))
            send_vote(z, z->peers[i].id);
    z->next_resend = z->now + 2 * z->cfg.tick_ms;
}

static void reset_followers(struct zab *z)
{
    for (int i = 0; i < z->npeers; i++) {
        struct peer *p = &z->peers[i];
        p->phase = FP_NONE;
        p->acked = p->sent_upto = p->commit_sent = p->sync_upto = 0;
    }
}

static void go_looking(struct zab *z)
{
    set_role(z, ZAB_LOOKING);
    z->leader_id = 0;
    z->established = z->epoch_decided = z->epoch_quorum = 0;
    z->fphase = 0;
    z->need_newleader_ack = 0;
    z->commit_target = 0;
    reset_followers(z);
    z->round++;
    z->vote = self_vote(z);
    z->finalize_at = 0;
    for (int i = 0; i < z->npeers; i++)
        z->peers[i].have_vote = 0;
    broadcast_vote(z);
}

/* Discovery's first step, to the leader chosen: what epoch this one accepted, how far its
 * log goes. */
static void send_followerinfo(struct zab *z)
{
    struct zab_msg m = {.type = PM_FOLLOWERINFO,
                        .epoch = z->accepted_epoch,
                        .zxid = z->last_zxid,
                        .observer = !is_voter(z, z->cfg.my_id)};
    send_msg(z, z->leader_id, &m);
}

static void become_follower(struct zab *z, uint64_t leader)
{
    set_role(z, is_voter(z, z->cfg.my_id) ? ZAB_FOLLOWING : ZAB_OBSERVING);
    z->leader_id = leader;
    z->fphase = 0;
    z->need_newleader_ack = 0;
    z->commit_target = 0;
    z->deadline = z->now + (int64_t)z->cfg.init_limit * z->cfg.tick_ms;
    z->last_heard_leader = z->now;
    struct peer *p = peer(z, leader);
    if (p && p->up)
        send_followerinfo(z);
}

static void decide_epoch(struct zab *z);

static void become_leader(struct zab *z)
{
    set_role(z, ZAB_LEADING);
    z->leader_id = z->cfg.my_id;
    z->established = z->epoch_decided = z->epoch_quorum = 0;
    z->deadline = z->now + (int64_t)z->cfg.init_limit * z->cfg.tick_ms;
    z->next_ping = z->now;
    for (int i = 0; i < z->npeers; i++) {
        struct peer *p = &z->peers[i];
        /* FOLLOWERINFO that came while we were still deciding stays valid */
        p->phase = p->phase == FP_INFO && p->up ? FP_INFO : FP_NONE;
        p->acked = p->sent_upto = p->commit_sent = p->sync_upto = 0;
    }
    decide_epoch(z);
}

/* Does a quorum of voters (this one included when it is a voter) stand on z->vote? */
static int vote_has_quorum(struct zab *z)
{
    int n = is_voter(z, z->cfg.my_id);
    for (int i = 0; i < z->npeers; i++) {
        struct peer *p = &z->peers[i];
        n += p->voter && p->have_vote && p->state == ZAB_LOOKING && p->round == z->round && same_vote(&p->v, &z->vote);
    }
    return n >= quorum(z);
}

static void decide(struct zab *z)
{
    if (z->vote.leader == z->cfg.my_id && is_voter(z, z->cfg.my_id))
        become_leader(z);
    else
        become_follower(z, z->vote.leader);
}

/* A notification from outside the election: join the leader a quorum follows, if the leader
 * itself says it leads. */
static void try_join(struct zab *z, uint64_t leader, uint64_t epoch)
{
    struct peer *l = peer(z, leader);
    if (!l || !l->have_vote || l->state != ZAB_LEADING || l->v.leader != leader)
        return;
    int n = 0;
    for (int i = 0; i < z->npeers; i++) {
        struct peer *p = &z->peers[i];
        n += p->voter && p->have_vote && (p->state == ZAB_FOLLOWING || p->state == ZAB_LEADING) &&
             p->v.leader == leader && p->v.epoch == epoch;
    }
    if (n >= quorum(z)) {
        z->vote.leader = leader;
        z->vote.epoch = epoch;
        become_follower(z, leader);
    }
}

static void on_vote(struct zab *z, struct peer *p, const struct zab_msg *m)
{
    p->have_vote = 1;
    p->state = m->state;
    p->round = m->round;
    p->v.leader = m->leader;
    p->v.zxid = m->zxid;
    p->v.epoch = m->epoch;
    if (z->role != ZAB_LOOKING) {
        if (m->state == ZAB_LOOKING)
            send_vote(z, p->id); /* tell it who leads */
        return;
    }
    if (m->state != ZAB_LOOKING) {
        try_join(z, m->leader, m->epoch);
        return;
    }
    if (!p->voter)
        return; /* an observer looking: it counts for nothing */
    if (m->round > z->round) {
        z->round = m->round;
        for (int i = 0; i < z->npeers; i++)
            if (z->peers[i].state == ZAB_LOOKING && z->peers[i].round < m->round)
                z->peers[i].have_vote = 0;
        struct vote mine = self_vote(z);
        z->vote = better(&p->v, &mine) ? p->v : mine;
        z->finalize_at = 0;
        broadcast_vote(z);
    } else if (m->round < z->round) {
        p->have_vote = 0;
        send_vote(z, p->id);
        return;
    } else if (better(&p->v, &z->vote)) {
        z->vote = p->v;
        z->finalize_at = 0;
        broadcast_vote(z);
    }
    if (vote_has_quorum(z)) {
        if (!z->finalize_at)
            z->finalize_at = z->now + z->cfg.finalize_ms;
    } else {
        z->finalize_at = 0;
    }
}

/* ---------- leader: discovery and synchronisation ---------- */

static int count_phase(const struct zab *z, enum fphase at_least)
{
    int n = 1; /* the leader */
    for (int i = 0; i < z->npeers; i++)
        n += z->peers[i].voter && !z->peers[i].observer && z->peers[i].up && z->peers[i].phase >= at_least;
    return n;
}

static void send_leaderinfo(struct zab *z, struct peer *p)
{
    struct zab_msg m = {.type = PM_LEADERINFO, .epoch = z->new_epoch};
    send_msg(z, p->id, &m);
    p->phase = FP_LEADERINFO;
}

static void decide_epoch(struct zab *z)
{
    if (z->epoch_decided || count_phase(z, FP_INFO) < quorum(z))
        return;
    uint64_t e = z->accepted_epoch;
    for (int i = 0; i < z->npeers; i++)
        if (z->peers[i].up && z->peers[i].phase >= FP_INFO && z->peers[i].f_accepted > e)
            e = z->peers[i].f_accepted;
    z->new_epoch = e + 1;
    z->accepted_epoch = z->new_epoch;
    persist_epochs(z);
    z->epoch_decided = 1;
    for (int i = 0; i < z->npeers; i++)
        if (z->peers[i].up && z->peers[i].phase == FP_INFO)
            send_leaderinfo(z, &z->peers[i]);
}

/* The zxid up to which the follower's log agrees with ours, or UINT64_MAX when only a
 * snapshot can bring it back (see the reasoning in zab.h's neighbour, README). Logs agree
 * on the history every epoch started from, and within an epoch both hold prefixes of the
 * same leader's proposals. */
static uint64_t common_point(const struct zab *z, uint64_t f)
{
    if (f < z->base_zxid)
        return UINT64_MAX;
    if (f == z->base_zxid || find(z, f) >= 0)
        return f;
    uint64_t fe = f >> 32, lmax = 0, before = 0;
    int have_fe = 0, have_before = 0;
    for (size_t i = 0; i < z->nlog; i++) {
        uint64_t e = z->log[i].zxid >> 32;
        if (e == fe) {
            have_fe = 1;
            lmax = z->log[i].zxid;
        } else if (e < fe) {
            have_before = 1;
            before = z->log[i].zxid;
        }
    }
    if (have_fe) {
        /* our epoch-fe proposals may continue below the window: they agree too */
        return f < lmax ? f : lmax;
    }
    if (have_before)
        return before;
    return (z->base_zxid >> 32) < fe ? z->base_zxid : UINT64_MAX;
}

static void send_proposals_after(struct zab *z, struct peer *p, uint64_t after)
{
    for (size_t i = 0; i < z->nlog; i++)
        if (z->log[i].zxid > after) {
            struct zab_msg m = {
                .type = PM_PROPOSAL, .zxid = z->log[i].zxid, .txn = z->log[i].txn, .txnlen = z->log[i].len};
            send_msg(z, p->id, &m);
            p->sent_upto = z->log[i].zxid;
        }
}

static void sync_follower(struct zab *z, struct peer *p)
{
    uint64_t f = p->f_last, c = common_point(z, f);
    p->sent_upto = 0;
    if (c == UINT64_MAX) {
        send_simple(z, p->id, PM_SNAP, z->committed_zxid);
        struct zab_effect *e = push(z, ZX_SEND_SNAPSHOT);
        e->peer = p->id;
        e->zxid = z->committed_zxid;
        p->sent_upto = z->committed_zxid;
        send_proposals_after(z, p, z->committed_zxid);
    } else if (c == f) {
        send_simple(z, p->id, PM_DIFF, f);
        p->sent_upto = f;
        send_proposals_after(z, p, f);
    } else {
        send_simple(z, p->id, PM_TRUNC, c);
        p->sent_upto = c;
        send_proposals_after(z, p, c);
    }
    p->sync_upto = z->last_zxid;
    p->commit_sent = 0;
    p->phase = FP_SYNCED;
    send_simple(z, p->id, PM_NEWLEADER, z->new_epoch << 32);
}

static void on_followerinfo(struct zab *z, struct peer *p, const struct zab_msg *m)
{
    p->phase = FP_INFO;
    p->f_accepted = m->epoch;
    p->f_last = m->zxid;
    p->observer = m->observer || !p->voter;
    p->last_heard = z->now;
    if (z->role != ZAB_LEADING)
        return; /* kept for when this one decides to lead */
    if (z->epoch_decided)
        send_leaderinfo(z, p);
    else
        decide_epoch(z);
}

static void on_ackepoch(struct zab *z, struct peer *p, const struct zab_msg *m)
{
    if (z->role != ZAB_LEADING || p->phase != FP_LEADERINFO)
        return;
    p->f_current = m->epoch;
    p->f_last = m->zxid;
    p->phase = FP_ACKEPOCH;
    if (!p->observer && (m->epoch > z->current_epoch || (m->epoch == z->current_epoch && m->zxid > z->last_zxid))) {
        /* a voter's history is ahead of ours: we must not lead */
        go_looking(z);
        return;
    }
    if (!z->epoch_quorum) {
        if (count_phase(z, FP_ACKEPOCH) < quorum(z))
            return;
        z->epoch_quorum = 1;
        /* the leader takes its own NEWLEADER: its history is the new epoch's */
        z->current_epoch = z->new_epoch;
        persist_epochs(z);
        z->counter = 0;
        for (int i = 0; i < z->npeers; i++)
            if (z->peers[i].up && z->peers[i].phase == FP_ACKEPOCH)
                sync_follower(z, &z->peers[i]);
        return;
    }
    sync_follower(z, p);
}

static void send_commits(struct zab *z, struct peer *p)
{
    if (p->phase < FP_SYNCED || !p->up)
        return;
    uint64_t c = z->committed_zxid;
    if (!p->observer) {
        if (c > p->commit_sent && p->phase >= FP_NEWLEADER_ACKED) {
            send_simple(z, p->id, PM_COMMIT, c);
            p->commit_sent = c;
        }
        return;
    }
    /* observers: COMMIT what they got as proposals while syncing, INFORM the rest */
    uint64_t upto = c < p->sent_upto ? c : p->sent_upto;
    if (upto > p->commit_sent && p->phase >= FP_NEWLEADER_ACKED) {
        send_simple(z, p->id, PM_COMMIT, upto);
        p->commit_sent = upto;
    }
    if (p->phase < FP_UPTODATE)
        return;
    for (size_t i = 0; i < z->nlog; i++) {
        uint64_t x = z->log[i].zxid;
        if (x > p->sent_upto && x <= c) {
            struct zab_msg m = {.type = PM_INFORM, .zxid = x, .txn = z->log[i].txn, .txnlen = z->log[i].len};
            send_msg(z, p->id, &m);
            p->sent_upto = x;
            p->commit_sent = x;
        }
    }
}

static void uptodate(struct zab *z, struct peer *p)
{
    p->phase = FP_NEWLEADER_ACKED;
    send_commits(z, p);
    send_simple(z, p->id, PM_UPTODATE, 0);
    p->phase = FP_UPTODATE;
}

static void try_commit(struct zab *z)
{
    if (z->role != ZAB_LEADING || !z->established)
        return;
    uint64_t best = z->committed_zxid;
    for (size_t i = z->nlog; i-- > 0;) {
        uint64_t x = z->log[i].zxid;
        if (x <= z->committed_zxid)
            break;
        int n = z->durable_zxid >= x;
        for (int k = 0; k < z->npeers; k++) {
            struct peer *p = &z->peers[k];
            n += p->voter && !p->observer && p->up && p->phase >= FP_NEWLEADER_ACKED && p->acked >= x;
        }
        if (n >= quorum(z)) {
            best = x;
            break;
        }
    }
    if (best == z->committed_zxid)
        return;
    commit_upto(z, best);
    for (int k = 0; k < z->npeers; k++)
        send_commits(z, &z->peers[k]);
}

static void establish_if_quorum(struct zab *z)
{
    if (z->established || !z->epoch_quorum || z->durable_zxid < z->last_zxid ||
        count_phase(z, FP_NEWLEADER_ACKED) < quorum(z))
        return;
    z->established = 1;
    /* the whole history is committed in the new epoch */
    commit_upto(z, z->last_zxid);
    for (int i = 0; i < z->npeers; i++) {
        struct peer *p = &z->peers[i];
        if (p->up && p->phase == FP_NEWLEADER_ACKED)
            uptodate(z, p);
    }
}

static void on_ack(struct zab *z, struct peer *p, const struct zab_msg *m)
{
    if (z->role != ZAB_LEADING)
        return;
    p->last_heard = z->now;
    if (m->zxid == z->new_epoch << 32 && p->phase == FP_SYNCED) {
        p->phase = FP_NEWLEADER_ACKED;
        if (p->sync_upto > p->acked)
            p->acked = p->sync_upto;
        if (z->established)
            uptodate(z, p);
        else
            establish_if_quorum(z);
        try_commit(z);
        return;
    }
    if (p->phase >= FP_NEWLEADER_ACKED && m->zxid > p->acked && m->zxid <= z->last_zxid) {
        p->acked = m->zxid;
        try_commit(z);
    }
}

/* ---------- follower ---------- */

static void follower_ack_if_ready(struct zab *z)
{
    if (z->need_newleader_ack && z->durable_zxid >= z->last_zxid) {
        z->need_newleader_ack = 0;
        send_simple(z, z->leader_id, PM_ACK, z->newleader_zxid);
    }
}

static void follower_apply(struct zab *z)
{
    if (z->fphase == 3)
        commit_upto(z, z->commit_target);
}

static void truncate_log(struct zab *z, uint64_t to)
{
    while (z->nlog && z->log[z->nlog - 1].zxid > to) {
        free(z->log[z->nlog - 1].txn);
        z->nlog--;
    }
    z->last_zxid = z->nlog ? z->log[z->nlog - 1].zxid : z->base_zxid;
    if (z->durable_zxid > z->last_zxid)
        z->durable_zxid = z->last_zxid;
    push(z, ZX_LOG_TRUNCATE)->zxid = to;
}

static void on_leader_msg(struct zab *z, const struct zab_msg *m)
{
    z->last_heard_leader = z->now;
    switch (m->type) {
    case PM_LEADERINFO:
        if (z->fphase != 0)
            return;
        if (m->epoch < z->accepted_epoch) {
            go_looking(z); /* a stale leader: we accepted a newer epoch */
            return;
        }
        if (m->epoch > z->accepted_epoch) {
            z->accepted_epoch = m->epoch;
            persist_epochs(z);
        }
        z->fphase = 1;
        {
            struct zab_msg a = {.type = PM_ACKEPOCH, .epoch = z->current_epoch, .zxid = z->last_zxid};
            send_msg(z, z->leader_id, &a);
        }
        return;
    case PM_DIFF:
        return;
    case PM_TRUNC:
        if (m->zxid < z->committed_zxid) {
            go_looking(z); /* never drop what we applied */
            return;
        }
        truncate_log(z, m->zxid);
        return;
    case PM_SNAP: {
        for (size_t i = 0; i < z->nlog; i++)
            free(z->log[i].txn);
        z->nlog = 0;
        z->base_zxid = z->last_zxid = z->durable_zxid = z->committed_zxid = m->zxid;
        push(z, ZX_INSTALL_SNAPSHOT)->zxid = m->zxid;
        return;
    }
    case PM_PROPOSAL:
    case PM_INFORM:
        if (m->zxid <= z->last_zxid)
            return;
        append(z, m->zxid, m->txn, m->txnlen, 1);
        if (m->type == PM_INFORM) {
            if (m->zxid > z->commit_target)
                z->commit_target = m->zxid;
            follower_apply(z);
        }
        return;
    case PM_NEWLEADER:
        if (z->fphase != 1)
            return;
        z->current_epoch = z->accepted_epoch;
        persist_epochs(z);
        z->newleader_zxid = m->zxid;
        z->need_newleader_ack = 1;
        z->fphase = 2;
        follower_ack_if_ready(z);
        return;
    case PM_COMMIT:
        if (m->zxid > z->commit_target)
            z->commit_target = m->zxid;
        follower_apply(z);
        return;
    case PM_UPTODATE:
        if (z->fphase != 2)
            return;
        z->fphase = 3;
        follower_apply(z);
        return;
    case PM_PING:
        send_simple(z, z->leader_id, PM_PING, z->durable_zxid);
        return;
    default:
        return;
    }
}

/* ---------- events ---------- */

static void on_tick(struct zab *z)
{
    int64_t t = z->cfg.tick_ms;
    switch (z->role) {
    case ZAB_LOOKING:
        if (z->finalize_at && z->now >= z->finalize_at) {
            if (vote_has_quorum(z)) {
                decide(z);
                return;
            }
            z->finalize_at = 0;
        }
        if (z->now >= z->next_resend)
            broadcast_vote(z);
        return;
    case ZAB_LEADING:
        if (!z->established) {
            if (z->now >= z->deadline)
                go_looking(z);
            return;
        }
        {
            int n = 1;
            for (int i = 0; i < z->npeers; i++) {
                struct peer *p = &z->peers[i];
                n += p->voter && !p->observer && p->up && p->phase >= FP_NEWLEADER_ACKED &&
                     z->now - p->last_heard <= (int64_t)z->cfg.sync_limit * t;
            }
            if (n < quorum(z)) {
                go_looking(z); /* lost the quorum: stop accepting writes */
                return;
            }
        }
        if (z->now >= z->next_ping) {
            for (int i = 0; i < z->npeers; i++)
                if (z->peers[i].up && z->peers[i].phase >= FP_SYNCED)
                    send_simple(z, z->peers[i].id, PM_PING, z->committed_zxid);
            z->next_ping = z->now + t / 2;
        }
        return;
    case ZAB_FOLLOWING:
    case ZAB_OBSERVING:
        if ((z->fphase < 3 && z->now >= z->deadline) ||
            (z->fphase == 3 && z->now - z->last_heard_leader > (int64_t)z->cfg.sync_limit * t))
            go_looking(z);
        return;
    }
}

int zab_step(struct zab *z, const struct zab_event *ev, int64_t now_ms)
{
    if (now_ms > z->now)
        z->now = now_ms;
    struct peer *p =
        ev->kind == ZE_RECV || ev->kind == ZE_PEER_UP || ev->kind == ZE_PEER_DOWN ? peer(z, ev->peer) : NULL;
    switch (ev->kind) {
    case ZE_START:
        go_looking(z);
        break;
    case ZE_TICK:
        break;
    case ZE_PEER_UP:
        if (!p)
            break;
        p->up = 1;
        p->last_heard = z->now;
        if (z->role == ZAB_LOOKING)
            send_vote(z, p->id);
        else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && p->id == z->leader_id && z->fphase == 0)
            send_followerinfo(z);
        break;
    case ZE_PEER_DOWN:
        if (!p)
            break;
        p->up = 0;
        p->have_vote = 0;
        p->phase = FP_NONE;
        if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && p->id == z->leader_id)
            go_looking(z);
        break;
    case ZE_DURABLE:
        if (ev->zxid > z->durable_zxid)
            z->durable_zxid = ev->zxid < z->last_zxid ? ev->zxid : z->last_zxid;
        if (z->role == ZAB_LEADING) {
            establish_if_quorum(z);
            try_commit(z);
        } else if (z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) {
            follower_ack_if_ready(z);
            if (z->fphase == 3 && z->role == ZAB_FOLLOWING)
                send_simple(z, z->leader_id, PM_ACK, z->durable_zxid);
            follower_apply(z);
        }
        break;
    case ZE_PROPOSE:
        if (z->role != ZAB_LEADING || !z->established || z->counter == UINT32_MAX)
            return -1;
        {
            uint64_t zxid = z->new_epoch << 32 | ++z->counter;
            append(z, zxid, ev->txn, ev->txnlen, 1);
            for (int i = 0; i < z->npeers; i++) {
                struct peer *q = &z->peers[i];
                if (q->up && q->phase >= FP_SYNCED && !q->observer) {
                    struct zab_msg m = {.type = PM_PROPOSAL, .zxid = zxid, .txn = ev->txn, .txnlen = ev->txnlen};
                    send_msg(z, q->id, &m);
                    q->sent_upto = zxid;
                }
            }
        }
        break;
    case ZE_RECV:
        if (!p)
            break; /* not a member: the driver refuses those before us */
        if (ev->msg.type == PM_VOTE) {
            on_vote(z, p, &ev->msg);
        } else if (ev->msg.type == PM_FOLLOWERINFO) {
            on_followerinfo(z, p, &ev->msg);
        } else if (z->role == ZAB_LEADING) {
            p->last_heard = z->now;
            if (ev->msg.type == PM_ACKEPOCH)
                on_ackepoch(z, p, &ev->msg);
            else if (ev->msg.type == PM_ACK)
                on_ack(z, p, &ev->msg);
        } else if ((z->role == ZAB_FOLLOWING || z->role == ZAB_OBSERVING) && p->id == z->leader_id) {
            on_leader_msg(z, &ev->msg);
        }
        break;
    case ZE_SNAP_DONE:
        break;
    }
    on_tick(z);
    return 0;
}

/* ---------- construction, queries ---------- */

struct zab *zab_new(const struct zab_config *cfg, uint64_t accepted_epoch, uint64_t current_epoch, uint64_t base_zxid,
                    uint64_t committed_zxid, const uint64_t *zxids, const uint8_t *const *txns, const size_t *lens,
                    size_t n, int64_t now_ms)
{
    if (cfg->nvoters < 1 || cfg->nvoters > ZAB_MAX_PEERS || cfg->nobservers < 0 || cfg->nobservers > ZAB_MAX_PEERS ||
        cfg->tick_ms <= 0)
        return NULL;
    uint64_t all[2 * ZAB_MAX_PEERS];
    int nall = 0, me = 0;
    for (int i = 0; i < cfg->nvoters; i++)
        all[nall++] = cfg->voters[i];
    for (int i = 0; i < cfg->nobservers; i++)
        all[nall++] = cfg->observers[i];
    for (int i = 0; i < nall; i++) {
        me += all[i] == cfg->my_id;
        for (int j = 0; j < i; j++)
            if (all[i] == all[j] || all[i] == 0)
                return NULL;
    }
    if (me != 1)
        return NULL;
    struct zab *z = calloc(1, sizeof(*z));
    if (!z)
        return NULL;
    z->cfg = *cfg;
    if (!z->cfg.max_window)
        z->cfg.max_window = 10000;
    if (!z->cfg.finalize_ms)
        z->cfg.finalize_ms = 200;
    z->now = now_ms;
    z->accepted_epoch = accepted_epoch;
    z->current_epoch = current_epoch;
    z->base_zxid = z->last_zxid = z->durable_zxid = base_zxid;
    for (size_t i = 0; i < n; i++)
        if (zxids[i] > z->last_zxid)
            append(z, zxids[i], txns[i], lens[i], 0);
    z->durable_zxid = z->last_zxid;
    z->committed_zxid = committed_zxid < base_zxid      ? base_zxid
                        : committed_zxid > z->last_zxid ? z->last_zxid
                                                        : committed_zxid;
    for (int i = 0; i < nall; i++) {
        if (all[i] == cfg->my_id)
            continue;
        struct peer *p = &z->peers[z->npeers++];
        p->id = all[i];
        p->voter = is_voter(z, all[i]);
    }
    z->role = ZAB_LOOKING;
    return z;
}

void zab_free(struct zab *z)
{
    if (!z)
        return;
    zab_effects_clear(z);
    free(z->fx);
    for (size_t i = 0; i < z->nlog; i++)
        free(z->log[i].txn);
    free(z->log);
    free(z);
}

const struct zab_effect *zab_effects(const struct zab *z, size_t *n)
{
    *n = z->nfx;
    return z->fx;
}

void zab_effects_clear(struct zab *z)
{
    for (size_t i = 0; i < z->nfx; i++)
        free((void *)z->fx[i].txn);
    z->nfx = 0;
}

int64_t zab_next_deadline(const struct zab *z)
{
    int64_t t = z->now + z->cfg.tick_ms / 2;
    if (z->role == ZAB_LOOKING && z->finalize_at && z->finalize_at < t)
        t = z->finalize_at;
    return t;
}

enum zab_role zab_role(const struct zab *z)
{
    return z->role;
}
uint64_t zab_leader(const struct zab *z)
{
    return z->role == ZAB_LOOKING ? 0 : z->leader_id;
}
int zab_established(const struct zab *z)
{
    return z->role == ZAB_LEADING && z->established;
}
int zab_serving(const struct zab *z)
{
    return z->role == ZAB_LEADING ? z->established : (z->role != ZAB_LOOKING && z->fphase == 3);
}
uint64_t zab_current_epoch(const struct zab *z)
{
    return z->current_epoch;
}
uint64_t zab_accepted_epoch(const struct zab *z)
{
    return z->accepted_epoch;
}
uint64_t zab_last_zxid(const struct zab *z)
{
    return z->last_zxid;
}
uint64_t zab_committed_zxid(const struct zab *z)
{
    return z->committed_zxid;
}

int zab_synced_followers(const struct zab *z, int *voters)
{
    int n = 0, v = 0;
    for (int i = 0; i < z->npeers; i++)
        if (z->peers[i].up && z->peers[i].phase >= FP_NEWLEADER_ACKED) {
            n++;
            v += !z->peers[i].observer;
        }
    if (voters)
        *voters = v;
    return n;
}

int zab_peer_status(const struct zab *z, int i, uint64_t *id, int *up, int *voter, int *synced, uint64_t *lag)
{
    if (i < 0 || i >= z->npeers)
        return -1;
    const struct peer *p = &z->peers[i];
    *id = p->id;
    *up = p->up;
    *voter = p->voter;
    *synced = z->role == ZAB_LEADING && p->up && p->phase >= FP_NEWLEADER_ACKED;
    uint64_t upto = p->observer ? p->sent_upto : p->acked, n = 0;
    for (size_t k = z->nlog; k-- > 0 && z->log[k].zxid > upto;)
        n++;
    *lag = *synced ? n : 0;
    return 0;
}
