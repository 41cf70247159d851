/* A deterministic simulator for the ZAB state machine (replication/zab.c): 3, 5 and 7
 * in-memory members on a simulated network of FIFO connections, driven by seeded schedules
 * of message delay, connection loss, partitions, crashes and restarts (keeping or losing an
 * unsynced log tail), with client proposals at whoever leads. After every step it checks:
 *  - at most one leader is ever established per epoch;
 *  - every member applies a prefix of one global committed sequence (same zxids, same
 *    bytes, in order), and what it applies is what its log holds;
 *  - a leader, when established, has applied every txn any member ever applied (nothing
 *    committed is lost);
 * and at the end of each run, with the network healed and everyone up, that a leader is
 * elected, commits new proposals, and every member applies them (liveness).
 * ZAB_SIM_SEEDS (env) sets the number of seeds per ensemble size (default 200, half that for 7
 * members; `make sim` runs 5000). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replication/zab.h"

#define MAXN 7
#define TICK 50

struct item {
    struct item *next;
    int64_t at;
    int is_snap;
    struct zab_msg msg;
    uint8_t *txn;
    /* a snapshot: the sender's applied entries */
    int nsnap;
    uint64_t *szxid;
    char **stxt;
};

struct entry {
    uint64_t zxid;
    char *txt;
};

struct member {
    struct zab *z;
    int alive;
    uint64_t acc, cur;
    struct entry *log;
    int nlog, durable, cap;
    struct entry *applied;
    int napplied, capapplied;
    int64_t durable_at; /* when the pending appends become durable (0: none pending) */
    int64_t restart_at;
};

static struct sim {
    int n;
    uint64_t rng;
    int64_t now;
    struct member m[MAXN];
    int up[MAXN][MAXN];  /* connection i-j exists */
    int cut[MAXN][MAXN]; /* partitioned */
    struct item *qh[MAXN][MAXN], *qt[MAXN][MAXN];
    int64_t qlast[MAXN][MAXN];
    /* the global committed sequence */
    struct entry *g;
    int ng, capg;
    uint64_t leader_of_epoch[1024];
    int proposals;
    int delivering_from;
    /* what the runs exercised, over all seeds (kept across sim_reset) */
    struct {
        long crashes, torn_tails, partitions, drops, truncs, snaps, diffs, elections;
    } seen;
    char why[512];
} S;

static uint64_t rnd(void)
{
    S.rng ^= S.rng << 13;
    S.rng ^= S.rng >> 7;
    S.rng ^= S.rng << 17;
    return S.rng;
}
static int chance(int per_million)
{
    return (int)(rnd() % 1000000) < per_million;
}

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            snprintf(S.why, sizeof(S.why), __VA_ARGS__);                                                               \
            fail_msg("seed run, t=%lld ms: %s", (long long)S.now, S.why);                                              \
        }                                                                                                              \
    } while (0)

static void item_free(struct item *it)
{
    free(it->txn);
    for (int i = 0; i < it->nsnap; i++)
        free(it->stxt[i]);
    free(it->szxid);
    free(it->stxt);
    free(it);
}

static void clear_queue(int a, int b)
{
    struct item *it = S.qh[a][b];
    while (it) {
        struct item *n = it->next;
        item_free(it);
        it = n;
    }
    S.qh[a][b] = S.qt[a][b] = NULL;
}

static void enqueue(int a, int b, struct item *it)
{
    int64_t at = S.now + (int64_t)(rnd() % 4);
    if (at < S.qlast[a][b])
        at = S.qlast[a][b];
    S.qlast[a][b] = at;
    it->at = at;
    if (S.qt[a][b])
        S.qt[a][b]->next = it;
    else
        S.qh[a][b] = it;
    S.qt[a][b] = it;
}

static void step(int i, const struct zab_event *ev);

static void push_entry(struct entry **v, int *n, int *cap, uint64_t zxid, const char *txt)
{
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        *v = realloc(*v, (size_t)*cap * sizeof(**v));
        assert_non_null(*v);
    }
    (*v)[*n].zxid = zxid;
    (*v)[*n].txt = strdup(txt);
    (*n)++;
}

static void free_entries(struct entry *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].txt);
    free(v);
}

/* The committed sequence check for one applied txn. */
static void applied_one(int i, uint64_t zxid, const char *txt)
{
    struct member *mb = &S.m[i];
    CHECK(mb->napplied == 0 || mb->applied[mb->napplied - 1].zxid < zxid, "member %d applied 0x%llx after 0x%llx",
          i + 1, (unsigned long long)zxid, (unsigned long long)mb->applied[mb->napplied - 1].zxid);
    int k = mb->napplied;
    push_entry(&mb->applied, &mb->napplied, &mb->capapplied, zxid, txt);
    if (k < S.ng) {
        CHECK(S.g[k].zxid == zxid && strcmp(S.g[k].txt, txt) == 0,
              "member %d applied #%d as 0x%llx '%s' but it was committed as 0x%llx '%s'", i + 1, k,
              (unsigned long long)zxid, txt, (unsigned long long)S.g[k].zxid, S.g[k].txt);
    } else {
        push_entry(&S.g, &S.ng, &S.capg, zxid, txt);
    }
}

static void carry_out(int i)
{
    struct member *mb = &S.m[i];
    size_t n;
    const struct zab_effect *fx = zab_effects(mb->z, &n);
    /* copy out: handling may step other members, never this one */
    for (size_t k = 0; k < n; k++) {
        const struct zab_effect *e = &fx[k];
        switch (e->kind) {
        case ZX_SEND: {
            int j = (int)e->peer - 1;
            if (!S.up[i][j])
                break;
            S.seen.truncs += e->msg.type == PM_TRUNC;
            S.seen.snaps += e->msg.type == PM_SNAP;
            S.seen.diffs += e->msg.type == PM_DIFF;
            struct item *it = calloc(1, sizeof(*it));
            it->msg = e->msg;
            if (e->msg.txn) {
                it->txn = malloc(e->msg.txnlen + 1);
                memcpy(it->txn, e->msg.txn, e->msg.txnlen);
                it->msg.txn = it->txn;
            }
            enqueue(i, j, it);
            break;
        }
        case ZX_SEND_SNAPSHOT: {
            int j = (int)e->peer - 1;
            if (!S.up[i][j])
                break;
            struct item *it = calloc(1, sizeof(*it));
            it->is_snap = 1;
            it->szxid = calloc((size_t)mb->napplied + 1, sizeof(uint64_t));
            it->stxt = calloc((size_t)mb->napplied + 1, sizeof(char *));
            for (int a = 0; a < mb->napplied && mb->applied[a].zxid <= e->zxid; a++) {
                it->szxid[it->nsnap] = mb->applied[a].zxid;
                it->stxt[it->nsnap++] = strdup(mb->applied[a].txt);
            }
            CHECK(it->nsnap == 0 ? e->zxid == 0 || mb->napplied == 0 || mb->applied[0].zxid > e->zxid
                                 : it->szxid[it->nsnap - 1] == e->zxid,
                  "member %d snapshots at 0x%llx but applied up to something else", i + 1, (unsigned long long)e->zxid);
            enqueue(i, j, it);
            break;
        }
        case ZX_LOG_APPEND: {
            char txt[256];
            snprintf(txt, sizeof(txt), "%.*s", (int)e->txnlen, (const char *)e->txn);
            CHECK(mb->nlog == 0 || mb->log[mb->nlog - 1].zxid < e->zxid, "member %d appends 0x%llx out of order", i + 1,
                  (unsigned long long)e->zxid);
            push_entry(&mb->log, &mb->nlog, &mb->cap, e->zxid, txt);
            if (!mb->durable_at)
                mb->durable_at = S.now + 1 + (int64_t)(rnd() % 5);
            break;
        }
        case ZX_LOG_TRUNCATE:
            CHECK(mb->napplied == 0 || mb->applied[mb->napplied - 1].zxid <= e->zxid,
                  "member %d truncates below what it applied", i + 1);
            while (mb->nlog && mb->log[mb->nlog - 1].zxid > e->zxid) {
                free(mb->log[--mb->nlog].txt);
            }
            if (mb->durable > mb->nlog)
                mb->durable = mb->nlog;
            break;
        case ZX_PERSIST_EPOCHS:
            mb->acc = e->epoch;
            mb->cur = e->zxid;
            break;
        case ZX_COMMIT: {
            char txt[256];
            snprintf(txt, sizeof(txt), "%.*s", (int)e->txnlen, (const char *)e->txn);
            int found = 0;
            for (int a = mb->nlog - 1; a >= 0 && !found; a--)
                if (mb->log[a].zxid == e->zxid) {
                    CHECK(strcmp(mb->log[a].txt, txt) == 0, "member %d commits 0x%llx unlike its log", i + 1,
                          (unsigned long long)e->zxid);
                    CHECK(a < mb->durable, "member %d commits 0x%llx before it is durable", i + 1,
                          (unsigned long long)e->zxid);
                    found = 1;
                }
            CHECK(found, "member %d commits 0x%llx that is not in its log", i + 1, (unsigned long long)e->zxid);
            applied_one(i, e->zxid, txt);
            break;
        }
        case ZX_INSTALL_SNAPSHOT: {
            int from = S.delivering_from;
            struct item *it = S.qh[from][i];
            CHECK(it && it->is_snap, "member %d expects a snapshot from %d", i + 1, from + 1);
            S.qh[from][i] = it->next;
            if (!S.qh[from][i])
                S.qt[from][i] = NULL;
            free_entries(mb->applied, mb->napplied);
            mb->applied = NULL;
            mb->napplied = mb->capapplied = 0;
            free_entries(mb->log, mb->nlog);
            mb->log = NULL;
            mb->nlog = mb->cap = mb->durable = 0;
            for (int a = 0; a < it->nsnap; a++) {
                applied_one(i, it->szxid[a], it->stxt[a]);
                push_entry(&mb->log, &mb->nlog, &mb->cap, it->szxid[a], it->stxt[a]);
            }
            mb->durable = mb->nlog;
            item_free(it);
            break;
        }
        case ZX_ROLE:
            break;
        }
    }
    zab_effects_clear(mb->z);
}

static void step(int i, const struct zab_event *ev)
{
    if (!S.m[i].alive)
        return;
    zab_step(S.m[i].z, ev, S.now);
    carry_out(i);
    /* safety: one established leader per epoch, holding everything committed */
    struct zab *z = S.m[i].z;
    if (zab_established(z)) {
        uint64_t e = zab_current_epoch(z);
        CHECK(e < 1024, "epoch overflow in the test");
        if (!S.leader_of_epoch[e]) {
            S.leader_of_epoch[e] = (uint64_t)i + 1;
            S.seen.elections++;
            CHECK(S.m[i].napplied >= S.ng, "leader %d of epoch %llu has applied %d of %d committed txns", i + 1,
                  (unsigned long long)e, S.m[i].napplied, S.ng);
        }
        CHECK(S.leader_of_epoch[e] == (uint64_t)i + 1, "two leaders in epoch %llu: %llu and %d", (unsigned long long)e,
              (unsigned long long)S.leader_of_epoch[e], i + 1);
    }
}

static void link_set(int a, int b, int up)
{
    if (S.up[a][b] == up)
        return;
    S.up[a][b] = S.up[b][a] = up;
    clear_queue(a, b);
    clear_queue(b, a);
    S.qlast[a][b] = S.qlast[b][a] = 0;
    struct zab_event ea = {.kind = up ? ZE_PEER_UP : ZE_PEER_DOWN, .peer = (uint64_t)b + 1};
    struct zab_event eb = {.kind = up ? ZE_PEER_UP : ZE_PEER_DOWN, .peer = (uint64_t)a + 1};
    step(a, &ea);
    step(b, &eb);
}

static void refresh_links(void)
{
    for (int a = 0; a < S.n; a++)
        for (int b = a + 1; b < S.n; b++)
            link_set(a, b, S.m[a].alive && S.m[b].alive && !S.cut[a][b]);
}

static struct zab_config config(int i)
{
    struct zab_config c;
    memset(&c, 0, sizeof(c));
    c.my_id = (uint64_t)i + 1;
    c.nvoters = S.n;
    for (int k = 0; k < S.n; k++)
        c.voters[k] = (uint64_t)k + 1;
    c.tick_ms = TICK;
    c.init_limit = 10;
    c.sync_limit = 5;
    c.finalize_ms = 20;
    c.max_window = 40; /* small: lagging members get snapshots */
    return c;
}

static void start(int i)
{
    struct member *mb = &S.m[i];
    struct zab_config c = config(i);
    /* what survives: the applied state (as a snapshot) and the log after it */
    uint64_t base = mb->napplied ? mb->applied[mb->napplied - 1].zxid : 0;
    uint64_t *zx = calloc((size_t)mb->nlog + 1, sizeof(*zx));
    const uint8_t **tx = calloc((size_t)mb->nlog + 1, sizeof(*tx));
    size_t *ln = calloc((size_t)mb->nlog + 1, sizeof(*ln));
    size_t k = 0;
    for (int a = 0; a < mb->nlog; a++)
        if (mb->log[a].zxid > base) {
            zx[k] = mb->log[a].zxid;
            tx[k] = (const uint8_t *)mb->log[a].txt;
            ln[k++] = strlen(mb->log[a].txt);
        }
    mb->z = zab_new(&c, mb->acc, mb->cur, base, base, zx, tx, ln, k, S.now);
    assert_non_null(mb->z);
    free(zx);
    free(tx);
    free(ln);
    mb->alive = 1;
    mb->durable = mb->nlog;
    mb->durable_at = 0;
    struct zab_event ev = {.kind = ZE_START};
    step(i, &ev);
}

static void crash(int i)
{
    struct member *mb = &S.m[i];
    mb->alive = 0;
    zab_free(mb->z);
    mb->z = NULL;
    /* an unsynced tail may or may not have reached the disk */
    int keep = mb->durable + (mb->nlog > mb->durable ? (int)(rnd() % (uint64_t)(mb->nlog - mb->durable + 1)) : 0);
    S.seen.crashes++;
    S.seen.torn_tails += keep > mb->durable;
    while (mb->nlog > keep)
        free(mb->log[--mb->nlog].txt);
    mb->durable = mb->nlog;
    mb->restart_at = S.now + 50 + (int64_t)(rnd() % 1500);
    refresh_links();
}

static void deliver(void)
{
    for (int a = 0; a < S.n; a++)
        for (int b = 0; b < S.n; b++) {
            while (S.qh[a][b] && S.qh[a][b]->at <= S.now && S.up[a][b]) {
                struct item *it = S.qh[a][b];
                CHECK(!it->is_snap, "a snapshot arrived without its SNAP message");
                S.qh[a][b] = it->next;
                if (!S.qh[a][b])
                    S.qt[a][b] = NULL;
                struct zab_event ev = {.kind = ZE_RECV, .peer = (uint64_t)a + 1, .msg = it->msg};
                S.delivering_from = a;
                step(b, &ev);
                item_free(it);
            }
        }
}

static int count_leaders(int *who)
{
    int n = 0;
    for (int i = 0; i < S.n; i++)
        if (S.m[i].alive && zab_established(S.m[i].z)) {
            n++;
            *who = i;
        }
    return n;
}

static void propose_at_leader(void)
{
    int who = -1;
    if (!count_leaders(&who))
        return;
    char txt[64];
    snprintf(txt, sizeof(txt), "t%d", ++S.proposals);
    struct zab_event ev = {.kind = ZE_PROPOSE, .txn = (const uint8_t *)txt, .txnlen = strlen(txt)};
    step(who, &ev);
}

/* One millisecond of simulated time; faults when `faults`. */
static void tick_once(int faults)
{
    S.now++;
    deliver();
    for (int i = 0; i < S.n; i++) {
        struct member *mb = &S.m[i];
        if (!mb->alive) {
            if (faults >= 0 && mb->restart_at <= S.now) {
                start(i);
                refresh_links();
            }
            continue;
        }
        if (mb->durable_at && mb->durable_at <= S.now) {
            mb->durable = mb->nlog;
            mb->durable_at = 0;
            struct zab_event ev = {.kind = ZE_DURABLE, .zxid = mb->nlog ? mb->log[mb->nlog - 1].zxid : 0};
            step(i, &ev);
        }
        if (S.now % 10 == i % 10) {
            struct zab_event ev = {.kind = ZE_TICK};
            step(i, &ev);
        }
    }
    if (faults >= 0 && chance(200000))
        propose_at_leader();
    if (faults <= 0)
        return;
    if (chance(300)) { /* a crash */
        int i = (int)(rnd() % (uint64_t)S.n);
        if (S.m[i].alive)
            crash(i);
    }
    if (chance(400)) { /* a partition: one side of a random cut */
        memset(S.cut, 0, sizeof(S.cut));
        int mask = (int)(rnd() % (uint64_t)(1 << S.n));
        for (int a = 0; a < S.n; a++)
            for (int b = 0; b < S.n; b++)
                S.cut[a][b] = ((mask >> a) & 1) != ((mask >> b) & 1);
        S.seen.partitions++;
        refresh_links();
    }
    if (chance(600)) { /* heal */
        memset(S.cut, 0, sizeof(S.cut));
        refresh_links();
    }
    if (chance(300)) { /* one connection drops (a lost message breaks it), then comes back */
        int a = (int)(rnd() % (uint64_t)S.n), b = (int)(rnd() % (uint64_t)S.n);
        if (a != b && S.up[a][b]) {
            S.seen.drops++;
            link_set(a, b, 0);
            refresh_links();
        }
    }
}

static void sim_reset(int n, uint64_t seed)
{
    for (int a = 0; a < MAXN; a++)
        for (int b = 0; b < MAXN; b++)
            clear_queue(a, b);
    for (int i = 0; i < MAXN; i++) {
        zab_free(S.m[i].z);
        free_entries(S.m[i].log, S.m[i].nlog);
        free_entries(S.m[i].applied, S.m[i].napplied);
    }
    free_entries(S.g, S.ng);
    typeof(S.seen) seen = S.seen;
    memset(&S, 0, sizeof(S));
    S.seen = seen;
    S.n = n;
    S.rng = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (int i = 0; i < n; i++)
        start(i);
    refresh_links();
}

static void run_seed(int n, uint64_t seed, int ms)
{
    sim_reset(n, seed);
    for (int t = 0; t < ms; t++)
        tick_once(1);
    /* heal everything and bring everyone back: the ensemble must recover and agree */
    memset(S.cut, 0, sizeof(S.cut));
    refresh_links();
    for (int i = 0; i < n; i++)
        if (!S.m[i].alive)
            S.m[i].restart_at = S.now;
    for (int t = 0; t < 4000; t++)
        tick_once(0);
    int who = -1;
    CHECK(count_leaders(&who) == 1, "seed %llu: no single established leader after healing", (unsigned long long)seed);
    int before = S.proposals;
    for (int k = 0; k < 5; k++)
        propose_at_leader();
    for (int t = 0; t < 2000; t++)
        tick_once(-1);
    CHECK(S.proposals >= before + 5, "proposals refused");
    for (int i = 0; i < n && getenv("ZAB_SIM_DEBUG"); i++)
        fprintf(stderr,
                "member %d: alive %d role %d leader %llu serving %d last 0x%llx committed 0x%llx applied %d acc %llu "
                "cur %llu\n",
                i + 1, S.m[i].alive, zab_role(S.m[i].z), (unsigned long long)zab_leader(S.m[i].z),
                zab_serving(S.m[i].z), (unsigned long long)zab_last_zxid(S.m[i].z),
                (unsigned long long)zab_committed_zxid(S.m[i].z), S.m[i].napplied,
                (unsigned long long)zab_accepted_epoch(S.m[i].z), (unsigned long long)zab_current_epoch(S.m[i].z));
    for (int i = 0; i < n; i++) {
        CHECK(S.m[i].napplied == S.ng, "seed %llu: member %d applied %d of %d after healing", (unsigned long long)seed,
              i + 1, S.m[i].napplied, S.ng);
        CHECK(zab_serving(S.m[i].z), "seed %llu: member %d is not serving", (unsigned long long)seed, i + 1);
    }
    char last[64];
    snprintf(last, sizeof(last), "t%d", S.proposals);
    CHECK(S.ng > 0 && strcmp(S.g[S.ng - 1].txt, last) == 0, "seed %llu: the last proposal was not committed",
          (unsigned long long)seed);
}

static int seeds(void)
{
    const char *e = getenv("ZAB_SIM_SEEDS");
    int n = e ? atoi(e) : 200;
    return n > 0 ? n : 200;
}

static void test_quiet_three(void **state)
{
    (void)state;
    /* no faults: an election, then every proposal committed everywhere */
    sim_reset(3, 1);
    for (int t = 0; t < 3000; t++)
        tick_once(0);
    int who = -1;
    assert_int_equal(count_leaders(&who), 1);
    assert_true(S.ng > 100);
    for (int i = 0; i < 3; i++)
        assert_true(S.m[i].napplied >= S.ng - 5);
}

static void test_seeds_three(void **state)
{
    (void)state;
    for (int s = 1; s <= seeds(); s++)
        run_seed(3, (uint64_t)s, 6000);
}

static void test_seeds_five(void **state)
{
    (void)state;
    for (int s = 1; s <= seeds(); s++)
        run_seed(5, (uint64_t)s + 1000, 6000);
}

static void test_seeds_seven(void **state)
{
    (void)state;
    for (int s = 1; s <= seeds() / 2; s++)
        run_seed(7, (uint64_t)s + 2000, 6000);
}

/* The fault schedules must have reached every path the checks are about. */
static void test_coverage(void **state)
{
    (void)state;
    fprintf(stderr,
            "simulated: %ld leaders established, %ld crashes (%ld keeping part of an unsynced tail), "
            "%ld partitions, %ld dropped connections; sync by %ld DIFF, %ld TRUNC, %ld SNAP\n",
            S.seen.elections, S.seen.crashes, S.seen.torn_tails, S.seen.partitions, S.seen.drops, S.seen.diffs,
            S.seen.truncs, S.seen.snaps);
    assert_true(S.seen.elections > 10);
    assert_true(S.seen.crashes > 10 && S.seen.torn_tails > 0);
    assert_true(S.seen.partitions > 10 && S.seen.drops > 10);
    assert_true(S.seen.diffs > 0 && S.seen.truncs > 0 && S.seen.snaps > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quiet_three), cmocka_unit_test(test_seeds_three), cmocka_unit_test(test_seeds_five),
        cmocka_unit_test(test_seeds_seven), cmocka_unit_test(test_coverage),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    sim_reset(1, 1); /* frees the last run */
    zab_free(S.m[0].z);
    S.m[0].z = NULL;
    return rc;
}
