/* Unit tests of replication/msg, the peer-message codec: the exact bytes of sample frames;
 * every message type round-tripped with edge values (0, UINT64_MAX, 2^32, INT32_MIN/MAX,
 * negative int32s, empty bins and bins of every msgpack size class, empty, 1000-entry and
 * largest-allowed PINGs), decode(encode(x)) == x and re-encoding gives the same bytes;
 * msgpack packed here independently of the encoder, by this file's own table of layouts,
 * decodes to what it says; msg_frame_len fed a stream byte by byte and in random chunks;
 * every truncation of every encoded frame rejected as incomplete or malformed (with its
 * own length prefix and with the prefix fixed up); length prefixes above the maximum refused
 * from the 4 prefix bytes alone; hostile array/map/bin/str/ext counts and lengths, deep
 * nesting and the session cap refused before msgpack-c allocates from them; wrong msgpack
 * types, out-of-range integers, wrong arity, unknown types, trailing bytes and values that
 * are not arrays all ZMARSHALLINGERROR with nothing left to free; the encoder's refusals;
 * and a seeded fuzz loop of random frames and mutations of valid ones. Frames under test
 * sit in allocations of their exact size so that the sanitizer build sees any overread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <msgpack.h>

#include "common/zerr.h"
#include "replication/msg.h"

/* In the sanitizer build an allocation above 64 MB aborts the run instead of returning
 * NULL, so a decoder that let msgpack-c allocate from a hostile count (and then failed
 * gracefully) cannot pass unnoticed; in the plain build such an allocation fails and the
 * decoder would answer ZSYSTEMERROR where the tests expect ZMARSHALLINGERROR. The largest
 * legitimate allocation here (the slots of a PING of PM_MAX_SESSIONS) is 24 MB. A 32 MB
 * quarantine (instead of 256) still catches any use of a buffer the codec freed, and keeps
 * the fuzz loop's 8 KB msgpack zones from costing a second of page faults. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
    return "max_allocation_size_mb=64:allocator_may_return_null=0:quarantine_size_mb=32";
}

/* ---------- helpers ---------- */

#define MAXF (1u << 24) /* max_frame used unless a test is about the maximum */

static const struct peer_msg zero_msg;

/* A copy of p[0..n) in an allocation of exactly n bytes, so that ASan sees any overread. */
static uint8_t *exact_copy(const void *p, size_t n)
{
    uint8_t *c = malloc(n ? n : 1);
    assert_non_null(c);
    if (n)
        memcpy(c, p, n);
    return c;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Decodes a copy of exactly n bytes; on error m must be left all zero. */
static int decode_copy(const uint8_t *p, size_t n, size_t max, struct peer_msg *m)
{
    uint8_t *c = exact_copy(p, n);
    int rc = msg_decode(c, n, max, m);
    free(c);
    if (rc != ZOK)
        assert_memory_equal(m, &zero_msg, sizeof(*m));
    return rc;
}

/* Frames a payload (prefix = its length) and decodes it. */
static int decode_payload(const void *payload, size_t n, struct peer_msg *m)
{
    uint8_t *f = malloc(n + 4);
    assert_non_null(f);
    set_be32(f, (uint32_t)n);
    if (n)
        memcpy(f + 4, payload, n);
    int rc = decode_copy(f, n + 4, MAXF, m);
    free(f);
    return rc;
}

/* Decodes a payload that must be refused as malformed. */
static void assert_payload_malformed(const void *payload, size_t n, const char *what)
{
    struct peer_msg m;
    int rc = decode_payload(payload, n, &m);
    if (rc != ZMARSHALLINGERROR) {
        msg_free(&m);
        fail_msg("%s: expected ZMARSHALLINGERROR, got %d", what, rc);
    }
}

static void assert_buf(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    assert_int_equal(alen, blen);
    if (alen)
        assert_memory_equal(a, b, alen);
}

static void assert_msg_equal(const struct peer_msg *a, const struct peer_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_true(a->server_id == b->server_id);
    assert_true(a->leader == b->leader);
    assert_true(a->zxid == b->zxid);
    assert_true(a->peer_epoch == b->peer_epoch);
    assert_true(a->round == b->round);
    assert_true(a->from == b->from);
    assert_int_equal(a->state, b->state);
    assert_true(a->accepted_epoch == b->accepted_epoch);
    assert_true(a->last_zxid == b->last_zxid);
    assert_true(a->epoch == b->epoch);
    assert_true(a->current_epoch == b->current_epoch);
    assert_true(a->total_len == b->total_len);
    assert_true(a->session_id == b->session_id);
    assert_int_equal(a->observer, b->observer);
    assert_int_equal(a->valid, b->valid);
    assert_int_equal(a->cxid, b->cxid);
    assert_int_equal(a->op, b->op);
    assert_int_equal(a->timeout_ms, b->timeout_ms);
    assert_buf(a->nonce, a->nonce_len, b->nonce, b->nonce_len);
    assert_buf(a->proof, a->proof_len, b->proof, b->proof_len);
    assert_buf(a->data, a->data_len, b->data, b->data_len);
    assert_buf(a->txn, a->txn_len, b->txn, b->txn_len);
    assert_buf(a->body, a->body_len, b->body, b->body_len);
    assert_int_equal(a->nsessions, b->nsessions);
    for (size_t i = 0; i < a->nsessions; i++) {
        assert_true(a->sessions[i].session_id == b->sessions[i].session_id);
        assert_int_equal(a->sessions[i].timeout_ms, b->sessions[i].timeout_ms);
    }
}

/* xorshift64*: the fuzz loop and the chunked stream are reproducible from the seed. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint64_t rnd(void)
{
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545f4914f6cdd1dULL;
}

/* ---------- the sample corpus: every type, 7 variants of edge values ---------- */

#define NVAR 7
static const uint64_t U[NVAR] = {0, UINT64_MAX, 1ULL << 32, 127, 0xffffffffULL, 128, 65536};
static const int32_t I[NVAR] = {0, INT32_MIN, -1, INT32_MAX, -33, -32, 128};
/* bin lengths: empty, bin8, bin16 (300, 65535), bin32 (70000), bin8/bin16 edges */
static const size_t BL[NVAR] = {0, 1, 300, 70000, 255, 256, 65535};
/* PING sizes: empty, edge values, 1000, and the fixarray/array16 edges */
static const size_t PL[NVAR] = {0, 3, 1000, 1, 2, 15, 16};

static uint8_t pattern[70000 + NVAR];
static struct msg_session edge_sessions[3] = {{0, INT32_MIN}, {UINT64_MAX, INT32_MAX}, {1ULL << 63, -1}};
static struct msg_session many_sessions[1000];

static void init_data(void)
{
    for (size_t i = 0; i < sizeof(pattern); i++)
        pattern[i] = (uint8_t)(i * 31 + 7 + (i >> 8));
    for (size_t i = 0; i < 1000; i++) {
        many_sessions[i].session_id = (uint64_t)i * 0x9e3779b97f4a7c15ULL;
        many_sessions[i].timeout_ms = (int32_t)(i * 7919) - 500000;
    }
}

/* Variant v of a message of the given type: only the type's own fields are set. */
static struct peer_msg sample(int type, int v)
{
    struct peer_msg m = {.type = type};
    uint64_t u0 = U[v], u1 = U[(v + 1) % NVAR], u2 = U[(v + 2) % NVAR], u3 = U[(v + 3) % NVAR];
    int32_t i0 = I[v], i1 = I[(v + 1) % NVAR];
    bool b = v & 1;
    uint8_t *bin = pattern + v; /* a different byte pattern per variant */
    size_t bl = BL[v];
    switch (type) {
    case PM_CHALLENGE:
        m.nonce = bin, m.nonce_len = PM_NONCE_LEN;
        break;
    case PM_HELLO:
        m.server_id = u0, m.proof = bin, m.proof_len = PM_PROOF_LEN, m.observer = b;
        break;
    case PM_VOTE:
        m.leader = u0, m.zxid = u1, m.peer_epoch = u2, m.round = u3, m.state = (uint8_t)(v % 4);
        m.from = U[(v + 4) % NVAR];
        break;
    case PM_FOLLOWERINFO:
        m.accepted_epoch = u0, m.last_zxid = u1, m.observer = b;
        break;
    case PM_LEADERINFO:
        m.epoch = u0;
        break;
    case PM_ACKEPOCH:
        m.current_epoch = u0, m.last_zxid = u1;
        break;
    case PM_DIFF:
    case PM_TRUNC:
    case PM_NEWLEADER:
    case PM_ACK:
    case PM_COMMIT:
        m.zxid = u0;
        break;
    case PM_SNAP:
        m.zxid = u0, m.total_len = u1;
        break;
    case PM_SNAPCHUNK:
        m.data = bl ? bin : NULL, m.data_len = bl;
        break;
    case PM_UPTODATE:
        break;
    case PM_PROPOSAL:
    case PM_INFORM:
        m.zxid = u0, m.txn = bl ? bin : NULL, m.txn_len = bl;
        break;
    case PM_PING:
        m.nsessions = PL[v];
        m.sessions = PL[v] == 0 ? NULL : PL[v] == 3 ? edge_sessions : many_sessions;
        break;
    case PM_REQUEST:
        m.session_id = u0, m.cxid = i0, m.op = i1, m.body = bl ? bin : NULL, m.body_len = bl;
        break;
    case PM_REVALIDATE:
        m.session_id = u0, m.timeout_ms = i0;
        break;
    case PM_REVALIDATED:
        m.session_id = u0, m.valid = b;
        break;
    case PM_SYNC:
    case PM_SYNCED:
        m.session_id = u0, m.cxid = i0;
        break;
    default:
        fail_msg("no sample for type %d", type);
    }
    return m;
}

struct frame {
    struct peer_msg msg;
    uint8_t *p;
    size_t len;
};
#define NCORPUS (PM_TYPE_MAX * NVAR)
static struct frame corpus[NCORPUS];

static void encode_corpus(void)
{
    init_data();
    size_t k = 0;
    for (int t = 1; t <= PM_TYPE_MAX; t++)
        for (int v = 0; v < NVAR; v++, k++) {
            corpus[k].msg = sample(t, v);
            assert_int_equal(msg_encode(&corpus[k].msg, &corpus[k].p, &corpus[k].len), ZOK);
        }
}

static int setup(void **state)
{
    (void)state;
    encode_corpus();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCORPUS; k++)
        free(corpus[k].p);
    return 0;
}

/* ---------- exact bytes ---------- */

static void assert_encodes_to(const struct peer_msg *m, const char *hex)
{
    uint8_t want[256];
    size_t n = 0;
    for (const char *h = hex; *h; h++) {
        if (*h == ' ')
            continue;
        unsigned x;
        assert_int_equal(sscanf(h, "%2x", &x), 1);
        want[n++] = (uint8_t)x;
        h++;
    }
    uint8_t *out;
    size_t len;
    assert_int_equal(msg_encode(m, &out, &len), ZOK);
    assert_buf(out, len, want, n);
    struct peer_msg back;
    assert_int_equal(decode_copy(want, n, MAXF, &back), ZOK);
    assert_msg_equal(m, &back);
    msg_free(&back);
    free(out);
}

/* The wire format, pinned: other implementations (and tests in other languages) are
 * written from these bytes. */
static void test_exact_bytes(void **state)
{
    (void)state;
    assert_encodes_to(&(struct peer_msg){.type = PM_ACK, .zxid = 5}, "00000003 92 0c 05");
    assert_encodes_to(&(struct peer_msg){.type = PM_UPTODATE}, "00000002 91 0d");
    assert_encodes_to(&(struct peer_msg){.type = PM_VOTE,
                                         .leader = 1,
                                         .zxid = 0x100000002ULL,
                                         .peer_epoch = 1,
                                         .round = 7,
                                         .state = PEER_LEADING,
                                         .from = 3},
                      "00000010 97 03 01 cf0000000100000002 01 07 02 03");
    struct msg_session s = {0x1234, -1};
    assert_encodes_to(&(struct peer_msg){.type = PM_PING, .sessions = &s, .nsessions = 1},
                      "00000008 92 11 91 92 cd1234 ff");
    assert_encodes_to(&(struct peer_msg){.type = PM_PING}, "00000003 92 11 90");
    assert_encodes_to(
        &(struct peer_msg){
            .type = PM_REQUEST, .session_id = 1, .cxid = -2, .op = 4, .body = (uint8_t *)"ab", .body_len = 2},
        "00000009 95 12 01 fe 04 c4 02 6162");
    uint8_t nonce[16];
    memset(nonce, 0xaa, sizeof(nonce));
    assert_encodes_to(&(struct peer_msg){.type = PM_CHALLENGE, .nonce = nonce, .nonce_len = 16},
                      "00000014 92 01 c4 10 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    uint8_t proof[20];
    memset(proof, 0x55, sizeof(proof));
    assert_encodes_to(
        &(struct peer_msg){.type = PM_HELLO, .server_id = 2, .proof = proof, .proof_len = 20, .observer = true},
        "0000001a 94 02 02 c4 14 5555555555555555555555555555555555555555 c3");
    assert_encodes_to(&(struct peer_msg){.type = PM_REVALIDATED, .session_id = UINT64_MAX, .valid = false},
                      "0000000c 93 14 cfffffffffffffffff c2");
    assert_encodes_to(&(struct peer_msg){.type = PM_SYNC, .session_id = 0, .cxid = INT32_MIN},
                      "00000008 93 15 00 d280000000");
}

/* ---------- round trips ---------- */

static void check_roundtrip(const struct frame *f)
{
    assert_true(f->len >= 4);
    assert_int_equal(be32(f->p), f->len - 4);
    struct peer_msg m;
    int rc = decode_copy(f->p, f->len, f->len - 4, &m); /* max_frame = N exactly is enough */
    if (rc != ZOK)
        fail_msg("%s: decode gave %d", msg_type_name(f->msg.type), rc);
    assert_msg_equal(&f->msg, &m);
    /* decoded buffers are owned copies, and empty ones are NULL */
    if (m.data_len == 0)
        assert_null(m.data);
    if (m.txn_len == 0)
        assert_null(m.txn);
    if (m.body_len == 0)
        assert_null(m.body);
    if (m.nsessions == 0)
        assert_null(m.sessions);
    if (m.txn_len)
        assert_ptr_not_equal(m.txn, f->msg.txn);
    uint8_t *again;
    size_t alen;
    assert_int_equal(msg_encode(&m, &again, &alen), ZOK);
    assert_buf(again, alen, f->p, f->len);
    free(again);
    msg_free(&m);
    assert_memory_equal(&m, &zero_msg, sizeof(m));
    msg_free(&m); /* twice is harmless */
    /* one byte less of max_frame: refused, as too large */
    assert_int_equal(decode_copy(f->p, f->len, f->len - 5, &m), ZBADARGUMENTS);
}

static void test_roundtrip_every_type(void **state)
{
    (void)state;
    int seen[PM_TYPE_MAX + 1] = {0};
    int ping0 = 0, ping1000 = 0;
    for (size_t k = 0; k < NCORPUS; k++) {
        check_roundtrip(&corpus[k]);
        seen[corpus[k].msg.type]++;
        if (corpus[k].msg.type == PM_PING) {
            ping0 += corpus[k].msg.nsessions == 0;
            ping1000 += corpus[k].msg.nsessions == 1000;
        }
    }
    for (int t = 1; t <= PM_TYPE_MAX; t++)
        assert_int_equal(seen[t], NVAR);
    assert_true(ping0 && ping1000);
    /* every VOTE state */
    for (int s = PEER_LOOKING; s <= PEER_OBSERVING; s++) {
        struct frame f = {.msg = {.type = PM_VOTE, .leader = 9, .state = (uint8_t)s}};
        assert_int_equal(msg_encode(&f.msg, &f.p, &f.len), ZOK);
        check_roundtrip(&f);
        free(f.p);
    }
}

static void assert_encode_refused(const struct peer_msg *m)
{
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal(msg_encode(m, &out, &len), ZBADARGUMENTS);
    assert_null(out);
    assert_int_equal(len, 0);
}

/* [17, array32 of n pairs [0, 0]], built by hand: 3 bytes a pair. */
static uint8_t *zero_ping(size_t n, size_t *plen)
{
    *plen = 2 + 5 + 3 * n;
    uint8_t *p = malloc(*plen);
    assert_non_null(p);
    p[0] = 0x92;
    p[1] = PM_PING;
    p[2] = 0xdd;
    set_be32(p + 3, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        memcpy(p + 7 + 3 * i, "\x92\x00\x00", 3);
    return p;
}

/* The largest PING allowed (PM_MAX_SESSIONS sessions) encodes and decodes; with one more
 * session the encoder refuses it, and the decoder refuses it from the count header alone
 * although every pair that follows is valid. */
static void test_ping_session_cap(void **state)
{
    (void)state;
    size_t n = PM_MAX_SESSIONS, plen;
    struct msg_session *s = calloc(n + 1, sizeof(*s));
    assert_non_null(s);
    uint8_t *p = zero_ping(n, &plen);
    struct peer_msg in = {.type = PM_PING, .sessions = s, .nsessions = n};
    uint8_t *out;
    size_t len;
    assert_int_equal(msg_encode(&in, &out, &len), ZOK);
    assert_buf(out + 4, len - 4, p, plen);
    struct peer_msg m;
    assert_int_equal(msg_decode(out, len, len - 4, &m), ZOK);
    assert_int_equal(m.nsessions, n);
    msg_free(&m);
    free(out);
    free(p);

    in.nsessions = n + 1;
    assert_encode_refused(&in);
    p = zero_ping(n + 1, &plen);
    assert_payload_malformed(p, plen, "PING of PM_MAX_SESSIONS + 1 valid pairs");
    free(p);
    free(s);
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *const names[] = {NULL,       "CHALLENGE",  "HELLO",       "VOTE",   "FOLLOWERINFO", "LEADERINFO",
                                        "ACKEPOCH", "DIFF",       "TRUNC",       "SNAP",   "SNAPCHUNK",    "NEWLEADER",
                                        "ACK",      "UPTODATE",   "PROPOSAL",    "COMMIT", "INFORM",       "PING",
                                        "REQUEST",  "REVALIDATE", "REVALIDATED", "SYNC",   "SYNCED"};
    for (int t = 1; t <= PM_TYPE_MAX; t++)
        assert_string_equal(msg_type_name(t), names[t]);
    const int bad[] = {0, -1, PM_TYPE_MAX + 1, 255, INT32_MAX, INT32_MIN};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_string_equal(msg_type_name(bad[i]), "UNKNOWN");
}

static void test_encode_refusals(void **state)
{
    (void)state;
    const int bad_types[] = {0, -1, PM_TYPE_MAX + 1, 1000};
    for (size_t i = 0; i < 4; i++)
        assert_encode_refused(&(struct peer_msg){.type = bad_types[i]});
    uint8_t b[32] = {0};
    const size_t nonce_lens[] = {0, 15, 17, 32};
    for (size_t i = 0; i < 4; i++)
        assert_encode_refused(&(struct peer_msg){.type = PM_CHALLENGE, .nonce = b, .nonce_len = nonce_lens[i]});
    assert_encode_refused(&(struct peer_msg){.type = PM_CHALLENGE, .nonce_len = 16}); /* NULL */
    const size_t proof_lens[] = {0, 16, 19, 21};
    for (size_t i = 0; i < 4; i++)
        assert_encode_refused(&(struct peer_msg){.type = PM_HELLO, .proof = b, .proof_len = proof_lens[i]});
    assert_encode_refused(&(struct peer_msg){.type = PM_HELLO, .proof_len = 20});
    assert_encode_refused(&(struct peer_msg){.type = PM_VOTE, .state = PEER_OBSERVING + 1});
    assert_encode_refused(&(struct peer_msg){.type = PM_VOTE, .state = 255});
    assert_encode_refused(&(struct peer_msg){.type = PM_SNAPCHUNK, .data_len = 1});
    assert_encode_refused(&(struct peer_msg){.type = PM_PROPOSAL, .txn_len = 5});
    assert_encode_refused(&(struct peer_msg){.type = PM_INFORM, .txn_len = 5});
    assert_encode_refused(&(struct peer_msg){.type = PM_REQUEST, .body_len = 2});
    assert_encode_refused(&(struct peer_msg){.type = PM_PING, .nsessions = 1});
    /* fields of other types are ignored: a bad nonce does not spoil an ACK */
    uint8_t *out;
    size_t len;
    assert_int_equal(msg_encode(&(struct peer_msg){.type = PM_ACK, .nonce_len = 3, .state = 9}, &out, &len), ZOK);
    free(out);
}

/* ---------- framing ---------- */

static void test_frame_len(void **state)
{
    (void)state;
    size_t total = 12345;
    assert_int_equal(msg_frame_len(NULL, 0, MAXF, &total), 0);
    const uint8_t *ack = corpus[(PM_ACK - 1) * NVAR].p; /* 00000003 92 0c 00 */
    size_t acklen = corpus[(PM_ACK - 1) * NVAR].len;
    assert_int_equal(acklen, 7);
    for (size_t have = 0; have < acklen; have++)
        assert_int_equal(msg_frame_len(ack, have, MAXF, &total), 0);
    assert_int_equal(total, 12345); /* untouched unless complete */
    assert_int_equal(msg_frame_len(ack, acklen, MAXF, &total), 1);
    assert_int_equal(total, acklen);
    /* a frame followed by more bytes is still one frame of its own size */
    uint8_t two[14];
    memcpy(two, ack, 7);
    memcpy(two + 7, ack, 7);
    assert_int_equal(msg_frame_len(two, sizeof(two), MAXF, &total), 1);
    assert_int_equal(total, 7);
    /* max bounds N: N == max passes, N == max + 1 is too large from the 4 prefix bytes on */
    assert_int_equal(msg_frame_len(ack, acklen, 3, &total), 1);
    total = 12345;
    for (size_t have = 4; have <= acklen; have++)
        assert_int_equal(msg_frame_len(ack, have, 2, &total), -1);
    assert_int_equal(total, 12345);
    static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    uint8_t *h = exact_copy(huge, 4);
    assert_int_equal(msg_frame_len(h, 4, MAXF, &total), -1);
    assert_int_equal(msg_frame_len(h, 3, MAXF, &total), 0);
    assert_int_equal(msg_frame_len(h, 4, UINT32_MAX, &total), 0); /* allowed, so wait for it */
    free(h);
    /* N = 0 is a complete (empty, malformed) frame: msg_decode refuses it */
    static const uint8_t empty[4] = {0};
    assert_int_equal(msg_frame_len(empty, 4, MAXF, &total), 1);
    assert_int_equal(total, 4);
    struct peer_msg m;
    assert_int_equal(decode_copy(empty, 4, MAXF, &m), ZMARSHALLINGERROR);
    assert_int_equal(decode_copy(empty, 4, 0, &m), ZMARSHALLINGERROR);
}

/* All corpus frames back to back, delivered byte by byte, then in random chunks: the reader
 * sees "need more" until each frame is whole, and gets every message back in order. */
static void feed_stream(const uint8_t *stream, size_t slen, int chunked)
{
    size_t start = 0, have = 0, k = 0;
    while (have < slen) {
        size_t step = chunked ? 1 + rnd() % 20000 : 1;
        have = have + step > slen ? slen : have + step;
        while (start < have) {
            size_t total = 0;
            int r = msg_frame_len(stream + start, have - start, MAXF, &total);
            assert_int_not_equal(r, -1);
            if (r == 0) {
                assert_true(k < NCORPUS && have - start < corpus[k].len);
                break;
            }
            assert_true(k < NCORPUS);
            assert_int_equal(total, corpus[k].len);
            struct peer_msg m;
            assert_int_equal(decode_copy(stream + start, total, MAXF, &m), ZOK);
            assert_msg_equal(&corpus[k].msg, &m);
            msg_free(&m);
            start += total;
            k++;
        }
    }
    assert_int_equal(k, NCORPUS);
    assert_int_equal(start, slen);
}

static void test_frame_len_streaming(void **state)
{
    (void)state;
    size_t slen = 0;
    for (size_t k = 0; k < NCORPUS; k++)
        slen += corpus[k].len;
    uint8_t *stream = malloc(slen);
    assert_non_null(stream);
    size_t at = 0;
    for (size_t k = 0; k < NCORPUS; k++) {
        memcpy(stream + at, corpus[k].p, corpus[k].len);
        at += corpus[k].len;
    }
    feed_stream(stream, slen, 0);
    feed_stream(stream, slen, 1);
    free(stream);
}

/* ---------- truncations ---------- */

/* Every strict prefix of a frame: msg_frame_len says "need more", msg_decode refuses it as
 * is and also with its length prefix rewritten to claim exactly the bytes present. Frames
 * above 4 KB are cut at every point of their first 1024 and last 64 bytes and at a stride
 * of 1021 between (their middles are bin bytes or more of the same PING pairs). */
static void check_truncations(const struct frame *f)
{
    uint8_t *buf = malloc(f->len);
    assert_non_null(buf);
    for (size_t cut = 0; cut < f->len; cut++) {
        if (f->len > 4096 && cut > 1024 && cut < f->len - 64 && cut % 1021)
            continue;
        size_t total;
        assert_int_equal(msg_frame_len(f->p, cut, MAXF, &total), 0);
        struct peer_msg m;
        int rc = decode_copy(f->p, cut, MAXF, &m);
        if (rc != ZMARSHALLINGERROR)
            fail_msg("%s cut at %zu of %zu: got %d", msg_type_name(f->msg.type), cut, f->len, rc);
        if (cut < 4)
            continue;
        memcpy(buf, f->p, cut);
        set_be32(buf, (uint32_t)(cut - 4));
        assert_int_equal(msg_frame_len(buf, cut, MAXF, &total), 1);
        rc = decode_copy(buf, cut, MAXF, &m);
        if (rc != ZMARSHALLINGERROR)
            fail_msg("%s cut at %zu of %zu, prefix fixed: got %d", msg_type_name(f->msg.type), cut, f->len, rc);
    }
    free(buf);
}

static void test_every_truncation(void **state)
{
    (void)state;
    for (size_t k = 0; k < NCORPUS; k++)
        check_truncations(&corpus[k]);
}

/* ---------- hostile sizes ---------- */

/* A prefix above max_frame is refused from the prefix alone: the 4-byte copy would make
 * ASan report any read past it. */
static void test_oversized_prefix(void **state)
{
    (void)state;
    struct peer_msg m;
    static const uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_copy(huge, 4, MAXF, &m), ZBADARGUMENTS);
    assert_int_equal(decode_copy(huge, 4, 0, &m), ZBADARGUMENTS);
    static const uint8_t one[5] = {0, 0, 0, 1, 0x90};
    assert_int_equal(decode_copy(one, 4, 0, &m), ZBADARGUMENTS);
    /* length mismatches are malformed, not too large */
    const struct frame *f = &corpus[(PM_SNAP - 1) * NVAR + 1];
    assert_int_equal(decode_copy(f->p, f->len - 1, MAXF, &m), ZMARSHALLINGERROR);
    assert_int_equal(decode_copy(f->p, 3, MAXF, &m), ZMARSHALLINGERROR);
    assert_int_equal(msg_decode(NULL, 0, MAXF, &m), ZMARSHALLINGERROR);
    assert_memory_equal(&m, &zero_msg, sizeof(m));
}

struct hostile {
    const char *what;
    size_t len;
    const uint8_t *p;
};
// clang-format off
#define H(what, ...) {what, sizeof((const uint8_t[]){__VA_ARGS__}), (const uint8_t[]){__VA_ARGS__}}
// clang-format on

/* Counts and lengths the frame cannot hold. msgpack-c allocates an array's or map's slots
 * from its count header before reading any element (up to 2^32 - 1 slots of 24 bytes):
 * these must be refused before it sees them. */
static void test_hostile_counts(void **state)
{
    (void)state;
    const struct hostile cases[] = {
        H("array32 of 2^32-1 alone", 0xdd, 0xff, 0xff, 0xff, 0xff),
        H("array32 of 2^32-1, two elements", 0xdd, 0xff, 0xff, 0xff, 0xff, 0x11, 0x90),
        H("array32 of 2^31", 0xdd, 0x80, 0x00, 0x00, 0x00, 0x11, 0x90),
        H("array16 of 65535", 0xdc, 0xff, 0xff, 0x11, 0x90, 1, 2, 3, 4, 5, 6, 7, 8),
        H("fixarray of 15, 14 elements", 0x9f, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13),
        H("array one longer than the bytes", 0x93, 0x0e, 0x01),
        H("PING sessions array32 of 2^32-1", 0x92, 0x11, 0xdd, 0xff, 0xff, 0xff, 0xff, 0x92, 0x01, 0x02),
        H("PING pair array32 of 2^32-1", 0x92, 0x11, 0x91, 0xdd, 0xff, 0xff, 0xff, 0xff),
        H("map32 of 2^32-1", 0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02),
        H("map16 of 2 entries, 3 objects", 0x92, 0x11, 0xde, 0x00, 0x02, 0x01, 0x02, 0x03),
        H("fixmap of 1 entry, key only", 0x92, 0x11, 0x81, 0x01),
        H("bin32 of 2^32-1", 0x92, 0x0a, 0xc6, 0xff, 0xff, 0xff, 0xff, 0x00),
        H("bin32 of 5, 4 bytes", 0x92, 0x0a, 0xc6, 0x00, 0x00, 0x00, 0x05, 1, 2, 3, 4),
        H("bin16 of 65535", 0x92, 0x0a, 0xc5, 0xff, 0xff, 1, 2, 3),
        H("bin8 of 3, 2 bytes", 0x92, 0x0a, 0xc4, 0x03, 1, 2),
        H("bin8 length missing", 0x92, 0x0a, 0xc4),
        H("bin32 length cut", 0x92, 0x0a, 0xc6, 0x00, 0x00),
        H("str32 of 2^32-1", 0x92, 0x0a, 0xdb, 0xff, 0xff, 0xff, 0xff, 0x41),
        H("fixstr of 31, 1 byte", 0x92, 0x0a, 0xbf, 0x41),
        H("ext32 of 2^32-1", 0x92, 0x0a, 0xc9, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00),
        H("ext8 type byte missing", 0x92, 0x0a, 0xc7, 0x00),
        H("fixext16, 3 bytes", 0x92, 0x0a, 0xd8, 0x01, 0x02, 0x03),
        H("uint64 cut", 0x92, 0x0c, 0xcf, 0x00, 0x00, 0x00, 0x00),
        H("float64 cut", 0x92, 0x0c, 0xcb, 0x00),
        H("the never-used byte 0xc1", 0x92, 0x0c, 0xc1),
        H("array16 count cut", 0xdc, 0x00),
        H("nesting of 4 containers", 0x92, 0x11, 0x91, 0x91, 0x92, 0x01, 0x02),
        H("an empty container at depth 4", 0x92, 0x11, 0x91, 0x91, 0x90),
        H("a map at depth 4", 0x92, 0x11, 0x91, 0x91, 0x80),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_payload_malformed(cases[i].p, cases[i].len, cases[i].what);

    /* nesting 3 deep is what PING needs, and is fine */
    static const uint8_t ok[] = {0x92, 0x11, 0x91, 0x92, 0x01, 0x02};
    struct peer_msg m;
    assert_int_equal(decode_payload(ok, sizeof(ok), &m), ZOK);
    assert_int_equal(m.nsessions, 1);
    msg_free(&m);

    /* 100000 nested arrays: refused at the fourth, no recursion, no allocation */
    size_t deep = 100001;
    uint8_t *d = malloc(deep);
    assert_non_null(d);
    memset(d, 0x91, deep - 1);
    d[deep - 1] = 0x01;
    assert_payload_malformed(d, deep, "100000 nested arrays");
    free(d);
    assert_payload_malformed("", 0, "empty payload");

    /* [17, [[1, 2, 3] x 2^20]]: every count within its caps and its bytes, nesting 3 deep,
     * but 4 * 2^20 objects, more than the largest PING has (PM_MAX_OBJECTS). The layout
     * check would refuse it too; the object cap only makes the refusal come before
     * msgpack-c unpacks (and allocates for) 4 million objects. */
    size_t n = PM_MAX_SESSIONS, plen = 2 + 5 + 4 * n;
    uint8_t *p = malloc(plen);
    assert_non_null(p);
    p[0] = 0x92;
    p[1] = PM_PING;
    p[2] = 0xdd;
    set_be32(p + 3, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        memcpy(p + 7 + 4 * i, "\x93\x01\x02\x03", 4);
    assert_payload_malformed(p, plen, "PING of 2^20 triples");
    free(p);
}

/* ---------- wrong types, arity, unknown types, trailing bytes ---------- */

/* This file's own statement of the layouts, independent of msg.c's table:
 * u uint64, i int32, b bool, s state, n nonce, p proof, d bin, S sessions. */
// clang-format off
static const char *const spec[PM_TYPE_MAX + 1] = {
    [PM_CHALLENGE] = "n",     [PM_HELLO] = "upb",      [PM_VOTE] = "uuuusu", [PM_FOLLOWERINFO] = "uub",
    [PM_LEADERINFO] = "u",    [PM_ACKEPOCH] = "uu",    [PM_DIFF] = "u",      [PM_TRUNC] = "u",
    [PM_SNAP] = "uu",         [PM_SNAPCHUNK] = "d",    [PM_NEWLEADER] = "u", [PM_ACK] = "u",
    [PM_UPTODATE] = "",       [PM_PROPOSAL] = "ud",    [PM_COMMIT] = "u",    [PM_INFORM] = "ud",
    [PM_PING] = "S",          [PM_REQUEST] = "uiid",   [PM_REVALIDATE] = "ui", [PM_REVALIDATED] = "ub",
    [PM_SYNC] = "ui",         [PM_SYNCED] = "ui",
};
// clang-format on

static void pack_bin_of(msgpack_packer *pk, size_t n)
{
    msgpack_pack_bin(pk, n);
    if (n)
        msgpack_pack_bin_body(pk, pattern, n);
}

static void pack_str_of(msgpack_packer *pk, size_t n)
{
    msgpack_pack_str(pk, n);
    if (n)
        msgpack_pack_str_body(pk, pattern, n);
}

static void pack_good(msgpack_packer *pk, char kind)
{
    switch (kind) {
    case 'u':
        msgpack_pack_uint64(pk, 7);
        break;
    case 'i':
        msgpack_pack_int32(pk, -7);
        break;
    case 'b':
        msgpack_pack_true(pk);
        break;
    case 's':
        msgpack_pack_uint8(pk, PEER_OBSERVING);
        break;
    case 'n':
        pack_bin_of(pk, PM_NONCE_LEN);
        break;
    case 'p':
        pack_bin_of(pk, PM_PROOF_LEN);
        break;
    case 'd':
        pack_bin_of(pk, 3);
        break;
    case 'S':
        msgpack_pack_array(pk, 2);
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, 1);
        msgpack_pack_int32(pk, 2);
        msgpack_pack_array(pk, 2);
        msgpack_pack_uint64(pk, UINT64_MAX);
        msgpack_pack_int32(pk, INT32_MIN);
        break;
    default:
        fail();
    }
}

static void pack_scalar(msgpack_packer *pk, int which)
{
    switch (which) {
    case 0:
        msgpack_pack_uint64(pk, 1);
        break;
    case 1:
        msgpack_pack_int64(pk, -1);
        break;
    case 2:
        msgpack_pack_uint64(pk, (uint64_t)INT32_MAX + 1);
        break;
    case 3:
        msgpack_pack_int64(pk, (int64_t)INT32_MIN - 1);
        break;
    case 4:
        msgpack_pack_nil(pk);
        break;
    case 5:
        msgpack_pack_true(pk);
        break;
    case 6:
        pack_str_of(pk, 1);
        break;
    case 7:
        msgpack_pack_double(pk, 1.0);
        break;
    case 8:
        pack_bin_of(pk, 1);
        break;
    default:
        msgpack_pack_int32(pk, 5);
        break;
    }
}

/* A PING pair of two pack_scalar values. */
static void pack_pair(msgpack_packer *pk, int a, int b)
{
    msgpack_pack_array(pk, 2);
    pack_scalar(pk, a);
    pack_scalar(pk, b);
}

/* Variant v of a wrong value for a field of the given kind; returns 0 past the last one. */
static int pack_bad(msgpack_packer *pk, char kind, int v)
{
    switch (v) { /* wrong for every kind */
    case 0:
        msgpack_pack_nil(pk);
        return 1;
    case 1:
        msgpack_pack_double(pk, 7.0);
        return 1;
    case 2:
        msgpack_pack_float(pk, 7.0f);
        return 1;
    case 3:
        msgpack_pack_map(pk, 0);
        return 1;
    case 4:
        msgpack_pack_map(pk, 1);
        msgpack_pack_uint64(pk, 1);
        msgpack_pack_uint64(pk, 2);
        return 1;
    case 5:
        msgpack_pack_ext(pk, 1, 1);
        msgpack_pack_ext_body(pk, "x", 1);
        return 1;
    case 6:
        pack_str_of(pk, kind == 'p' ? PM_PROOF_LEN : kind == 'n' ? PM_NONCE_LEN : 3);
        return 1;
    default:
        break;
    }
    v -= 7;
    switch (kind) {
    case 'u':
        switch (v) {
        case 0:
            msgpack_pack_true(pk);
            return 1;
        case 1:
            msgpack_pack_int8(pk, -1);
            return 1;
        case 2:
            msgpack_pack_int64(pk, INT64_MIN);
            return 1;
        case 3:
            msgpack_pack_int8(pk, -100);
            return 1;
        case 4:
            msgpack_pack_array(pk, 0);
            return 1;
        case 5:
            pack_bin_of(pk, 1);
            return 1;
        case 6:
            msgpack_pack_array(pk, 1);
            msgpack_pack_uint64(pk, 7);
            return 1;
        }
        return 0;
    case 'i':
        switch (v) {
        case 0:
            msgpack_pack_uint64(pk, (uint64_t)INT32_MAX + 1);
            return 1;
        case 1:
            msgpack_pack_int64(pk, (int64_t)INT32_MIN - 1);
            return 1;
        case 2:
            msgpack_pack_uint64(pk, UINT64_MAX);
            return 1;
        case 3:
            msgpack_pack_int64(pk, INT64_MIN);
            return 1;
        case 4:
            msgpack_pack_false(pk);
            return 1;
        case 5:
            pack_bin_of(pk, 4);
            return 1;
        case 6:
            msgpack_pack_array(pk, 0);
            return 1;
        }
        return 0;
    case 'b':
        switch (v) {
        case 0:
            msgpack_pack_uint64(pk, 0);
            return 1;
        case 1:
            msgpack_pack_uint64(pk, 1);
            return 1;
        case 2:
            msgpack_pack_int8(pk, -1);
            return 1;
        case 3:
            pack_bin_of(pk, 1);
            return 1;
        case 4:
            msgpack_pack_array(pk, 1);
            msgpack_pack_true(pk);
            return 1;
        }
        return 0;
    case 's':
        switch (v) {
        case 0:
            msgpack_pack_uint64(pk, PEER_OBSERVING + 1);
            return 1;
        case 1:
            msgpack_pack_uint64(pk, 255);
            return 1;
        case 2:
            msgpack_pack_uint64(pk, 256 + PEER_LEADING); /* not truncated to a uint8 */
            return 1;
        case 3:
            msgpack_pack_uint64(pk, UINT64_MAX);
            return 1;
        case 4:
            msgpack_pack_int8(pk, -1);
            return 1;
        case 5:
            msgpack_pack_true(pk);
            return 1;
        }
        return 0;
    case 'n':
    case 'p': {
        size_t want = kind == 'n' ? PM_NONCE_LEN : PM_PROOF_LEN;
        switch (v) {
        case 0:
            pack_bin_of(pk, want - 1);
            return 1;
        case 1:
            pack_bin_of(pk, want + 1);
            return 1;
        case 2:
            pack_bin_of(pk, 0);
            return 1;
        case 3:
            pack_bin_of(pk, kind == 'n' ? PM_PROOF_LEN : PM_NONCE_LEN);
            return 1;
        case 4:
            msgpack_pack_array(pk, want);
            for (size_t i = 0; i < want; i++)
                msgpack_pack_uint64(pk, 1);
            return 1;
        case 5:
            msgpack_pack_uint64(pk, 0);
            return 1;
        }
        return 0;
    }
    case 'd':
        switch (v) {
        case 0:
            msgpack_pack_uint64(pk, 3);
            return 1;
        case 1:
            msgpack_pack_true(pk);
            return 1;
        case 2:
            msgpack_pack_array(pk, 3);
            for (int i = 0; i < 3; i++)
                msgpack_pack_uint64(pk, 1);
            return 1;
        case 3:
            msgpack_pack_array(pk, 0);
            return 1;
        }
        return 0;
    case 'S': {
        /* [good pair, then the bad part] */
        if (v > 16)
            return 0;
        if (v == 0) {
            msgpack_pack_uint64(pk, 0);
            return 1;
        }
        if (v == 1) {
            pack_bin_of(pk, 2);
            return 1;
        }
        if (v == 2) {
            msgpack_pack_true(pk);
            return 1;
        }
        msgpack_pack_array(pk, 2);
        pack_pair(pk, 0, 9);
        switch (v) {
        case 3: /* an element that is not a pair */
            msgpack_pack_uint64(pk, 1);
            break;
        case 4:
            msgpack_pack_array(pk, 1);
            msgpack_pack_uint64(pk, 1);
            break;
        case 5:
            msgpack_pack_array(pk, 3);
            msgpack_pack_uint64(pk, 1);
            msgpack_pack_int32(pk, 2);
            msgpack_pack_int32(pk, 3);
            break;
        case 6:
            msgpack_pack_array(pk, 0);
            break;
        case 7:
            msgpack_pack_map(pk, 1);
            msgpack_pack_uint64(pk, 1);
            msgpack_pack_int32(pk, 2);
            break;
        case 8: /* session id negative */
            pack_pair(pk, 1, 9);
            break;
        case 9: /* timeout beyond int32 */
            pack_pair(pk, 0, 2);
            break;
        case 10:
            pack_pair(pk, 0, 3);
            break;
        case 11:
            pack_pair(pk, 4, 9);
            break;
        case 12:
            pack_pair(pk, 0, 5);
            break;
        case 13:
            pack_pair(pk, 6, 9);
            break;
        case 14:
            pack_pair(pk, 7, 9);
            break;
        case 15:
            pack_pair(pk, 0, 8);
            break;
        case 16:
            pack_pair(pk, 0, 7);
            break;
        }
        return 1;
    }
    }
    return 0;
}

/* Packs [type, fields of kinds...] into sb: field bad_at (if >= 0) replaced by bad variant
 * bad_v; extra fields appended (or, negative, dropped from the end). Returns 0 when the
 * bad variant does not exist. */
static int pack_message(msgpack_sbuffer *sb, uint64_t type, const char *kinds, int bad_at, int bad_v, int extra)
{
    msgpack_sbuffer_clear(sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    int n = (int)strlen(kinds);
    int count = n + extra;
    msgpack_pack_array(&pk, (size_t)(1 + count));
    msgpack_pack_uint64(&pk, type);
    for (int i = 0; i < count; i++) {
        if (i >= n)
            msgpack_pack_uint64(&pk, 0);
        else if (i == bad_at) {
            if (!pack_bad(&pk, kinds[i], bad_v))
                return 0;
        } else
            pack_good(&pk, kinds[i]);
    }
    return 1;
}

/* Messages packed here from spec[] decode, and re-encode to the very same bytes: the two
 * layout tables agree field by field. */
static void test_independent_layouts(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int t = 1; t <= PM_TYPE_MAX; t++) {
        assert_non_null(spec[t]);
        pack_message(&sb, (uint64_t)t, spec[t], -1, 0, 0);
        struct peer_msg m;
        int rc = decode_payload(sb.data, sb.size, &m);
        if (rc != ZOK)
            fail_msg("%s as packed from spec: %d", msg_type_name(t), rc);
        uint8_t *out;
        size_t len;
        assert_int_equal(msg_encode(&m, &out, &len), ZOK);
        assert_buf(out + 4, len - 4, (const uint8_t *)sb.data, sb.size);
        free(out);
        msg_free(&m);
    }
    msgpack_sbuffer_destroy(&sb);
}

static void test_wrong_field_types(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    int checked = 0;
    for (int t = 1; t <= PM_TYPE_MAX; t++) {
        int n = (int)strlen(spec[t]);
        for (int at = 0; at < n; at++)
            for (int v = 0; pack_message(&sb, (uint64_t)t, spec[t], at, v, 0); v++) {
                char what[96];
                snprintf(what, sizeof(what), "%s field %d ('%c') bad variant %d", msg_type_name(t), at, spec[t][at], v);
                assert_payload_malformed(sb.data, sb.size, what);
                checked++;
            }
    }
    assert_true(checked > 300);
    msgpack_sbuffer_destroy(&sb);
}

/* Any integer encoding of an in-range value is accepted (msgpack-c reports every value >= 0
 * as positive, whatever its format); a negative one never is for an unsigned field. */
static void test_integer_encodings(void **state)
{
    (void)state;
    struct peer_msg m;
    static const uint8_t ack_u64[] = {0x92, 0x0c, 0xcf, 0, 0, 0, 0, 0, 0, 0, 5};
    assert_int_equal(decode_payload(ack_u64, sizeof(ack_u64), &m), ZOK);
    assert_true(m.zxid == 5);
    static const uint8_t ack_i64[] = {0x92, 0x0c, 0xd3, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal(decode_payload(ack_i64, sizeof(ack_i64), &m), ZOK);
    assert_true(m.zxid == (uint64_t)INT64_MAX);
    static const uint8_t ack_i8[] = {0x92, 0x0c, 0xd0, 0x05};
    assert_int_equal(decode_payload(ack_i8, sizeof(ack_i8), &m), ZOK);
    assert_true(m.zxid == 5);
    static const uint8_t ack_neg[] = {0x92, 0x0c, 0xd0, 0xfb};
    assert_payload_malformed(ack_neg, sizeof(ack_neg), "ACK zxid -5 as int8");
    static const uint8_t ack_negfix[] = {0x92, 0x0c, 0xff};
    assert_payload_malformed(ack_negfix, sizeof(ack_negfix), "ACK zxid -1");
    /* int32 fields: the extremes in wide formats, and one past them */
    static const uint8_t sync_min[] = {0x93, 0x15, 0x00, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0};
    assert_int_equal(decode_payload(sync_min, sizeof(sync_min), &m), ZOK);
    assert_int_equal(m.cxid, INT32_MIN);
    static const uint8_t sync_max[] = {0x93, 0x15, 0x00, 0xcf, 0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff};
    assert_int_equal(decode_payload(sync_max, sizeof(sync_max), &m), ZOK);
    assert_int_equal(m.cxid, INT32_MAX);
    static const uint8_t sync_over[] = {0x93, 0x15, 0x00, 0xce, 0x80, 0, 0, 0};
    assert_payload_malformed(sync_over, sizeof(sync_over), "cxid 2^31");
    static const uint8_t sync_under[] = {0x93, 0x15, 0x00, 0xd3, 0xff, 0xff, 0xff, 0xff, 0x7f, 0xff, 0xff, 0xff};
    assert_payload_malformed(sync_under, sizeof(sync_under), "cxid -2^31-1");
    /* the type itself in a wide format */
    static const uint8_t up_wide[] = {0x91, 0xcd, 0x00, 0x0d};
    assert_int_equal(decode_payload(up_wide, sizeof(up_wide), &m), ZOK);
    assert_int_equal(m.type, PM_UPTODATE);
    /* bins in a wider size class than needed, and empty */
    static const uint8_t chunk32[] = {0x92, 0x0a, 0xc6, 0, 0, 0, 2, 0xab, 0xcd};
    assert_int_equal(decode_payload(chunk32, sizeof(chunk32), &m), ZOK);
    assert_int_equal(m.data_len, 2);
    assert_int_equal(m.data[1], 0xcd);
    msg_free(&m);
    static const uint8_t chunk0[] = {0x92, 0x0a, 0xc5, 0, 0};
    assert_int_equal(decode_payload(chunk0, sizeof(chunk0), &m), ZOK);
    assert_int_equal(m.data_len, 0);
    assert_null(m.data);
}

static void test_wrong_arity(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    for (int t = 1; t <= PM_TYPE_MAX; t++) {
        int n = (int)strlen(spec[t]);
        const int deltas[] = {-1, 1, 2, -n}; /* -n: the type alone */
        for (int d = 0; d < 4; d++) {
            if (n + deltas[d] < 0 || deltas[d] == 0)
                continue;
            pack_message(&sb, (uint64_t)t, spec[t], -1, 0, deltas[d]);
            char what[64];
            snprintf(what, sizeof(what), "%s with %d fields", msg_type_name(t), n + deltas[d]);
            assert_payload_malformed(sb.data, sb.size, what);
        }
    }
    msgpack_sbuffer_destroy(&sb);
}

static void test_unknown_types(void **state)
{
    (void)state;
    const struct hostile cases[] = {
        H("type 0", 0x91, 0x00),
        H("type 0 with a field", 0x92, 0x00, 0x05),
        H("type 23", 0x91, 0x17),
        H("type 23 with a field", 0x92, 0x17, 0x05),
        H("type 127", 0x92, 0x7f, 0x05),
        H("type 2^32 + 12", 0x92, 0xcf, 0, 0, 0, 1, 0, 0, 0, 0x0c, 0x05),
        H("type UINT64_MAX", 0x91, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
        H("type -1", 0x91, 0xff),
        H("type -12", 0x92, 0xf4, 0x05),
        H("type as str", 0x92, 0xa1, 0x0c, 0x05),
        H("type as bin", 0x92, 0xc4, 0x01, 0x0c, 0x05),
        H("type as true", 0x91, 0xc3),
        H("type as nil", 0x91, 0xc0),
        H("type as float", 0x92, 0xcb, 0x40, 0x28, 0, 0, 0, 0, 0, 0, 0x05),
        H("type as array", 0x92, 0x91, 0x0c, 0x05),
        H("empty array", 0x90),
        H("a bare integer", 0x0c),
        H("a bare nil", 0xc0),
        H("a map", 0x81, 0x0c, 0x05),
        H("a bin", 0xc4, 0x02, 0x0c, 0x05),
        H("a str", 0xa2, 0x0c, 0x05),
        H("an ext", 0xd4, 0x0c, 0x05),
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_payload_malformed(cases[i].p, cases[i].len, cases[i].what);
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    static const uint8_t tails[][4] = {{1, 0x00}, {1, 0xc0}, {1, 0x91}, {2, 0x92, 0x0c}, {3, 0x92, 0x0c, 0x05}};
    for (size_t k = 0; k < NCORPUS; k += 3) {
        const struct frame *f = &corpus[k];
        if (f->len > 4096)
            continue;
        for (size_t t = 0; t < sizeof(tails) / sizeof(tails[0]); t++) {
            size_t extra = tails[t][0];
            uint8_t *b = malloc(f->len + extra);
            assert_non_null(b);
            memcpy(b, f->p, f->len);
            memcpy(b + f->len, tails[t] + 1, extra);
            struct peer_msg m;
            /* bytes after the frame, prefix unchanged */
            assert_int_equal(decode_copy(b, f->len + extra, MAXF, &m), ZMARSHALLINGERROR);
            /* bytes after the array, inside the frame */
            set_be32(b, (uint32_t)(f->len + extra - 4));
            int rc = decode_copy(b, f->len + extra, MAXF, &m);
            if (rc != ZMARSHALLINGERROR)
                fail_msg("%s + %zu trailing bytes: got %d", msg_type_name(f->msg.type), extra, rc);
            free(b);
        }
    }
}

/* A decode that fails part way (after bins or sessions were allocated) frees them. ASan's
 * leak checker reports anything left over at exit. */
static void test_failure_after_allocation(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    pack_message(&sb, PM_HELLO, "upb", 2, 0, 0); /* proof decoded, observer nil */
    assert_payload_malformed(sb.data, sb.size, "HELLO with a bad observer after its proof");
    pack_message(&sb, PM_PING, "S", 0, 8, 0); /* sessions allocated, second pair bad */
    assert_payload_malformed(sb.data, sb.size, "PING with a bad second pair");
    msgpack_sbuffer_destroy(&sb);
}

/* ---------- fuzz ---------- */

static const uint8_t interesting[] = {0x00, 0x01, 0x05, 0x0c, 0x11, 0x16, 0x17, 0x7f, 0x80, 0x81, 0x8f, 0x90,
                                      0x91, 0x92, 0x97, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5,
                                      0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xd0, 0xd3, 0xd4,
                                      0xd8, 0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};

static uint8_t fuzz_byte(void)
{
    uint64_t r = rnd();
    return (r & 1) ? (uint8_t)(r >> 8) : interesting[(r >> 8) % sizeof(interesting)];
}

/* A random value for a field of the given kind, in a random msgpack encoding. */
static void gen_value(msgpack_packer *pk, char kind)
{
    uint64_t r = rnd(), v = r & 8 ? U[(r >> 4) % NVAR] : rnd() >> (rnd() % 64);
    switch (kind) {
    case 'u':
        switch ((r >> 8) % 6) {
        case 0:
            msgpack_pack_fix_uint64(pk, v);
            return;
        case 1:
            msgpack_pack_fix_uint32(pk, (uint32_t)v);
            return;
        case 2:
            msgpack_pack_fix_uint8(pk, (uint8_t)v);
            return;
        case 3:
            msgpack_pack_fix_int64(pk, (int64_t)(v >> 1));
            return;
        default:
            msgpack_pack_uint64(pk, v);
            return;
        }
    case 'i':
        if ((r >> 8) % 3 == 0)
            msgpack_pack_fix_int32(pk, (int32_t)v);
        else if ((r >> 8) % 3 == 1)
            msgpack_pack_fix_int64(pk, (int32_t)v);
        else
            msgpack_pack_int32(pk, I[(r >> 12) % NVAR]);
        return;
    case 'b':
        (r >> 8) & 1 ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
        return;
    case 's':
        msgpack_pack_uint8(pk, (uint8_t)((r >> 8) % 4));
        return;
    case 'n':
    case 'p':
    case 'd':
        pack_bin_of(pk, kind == 'n' ? PM_NONCE_LEN : kind == 'p' ? PM_PROOF_LEN : (r >> 8) % 24);
        return;
    case 'S': {
        size_t n = (r >> 8) % 4;
        msgpack_pack_array(pk, n);
        for (size_t i = 0; i < n; i++) {
            msgpack_pack_array(pk, 2);
            gen_value(pk, 'u');
            gen_value(pk, 'i');
        }
        return;
    }
    }
}

/* A packer target of fixed size: the fuzz loop allocates nothing of its own. */
struct fixbuf {
    uint8_t *p;
    size_t len, cap;
    int over;
};

static int fixbuf_write(void *data, const char *b, size_t n)
{
    struct fixbuf *f = data;
    if (f->over || n > f->cap - f->len) {
        f->over = 1;
        return -1;
    }
    memcpy(f->p + f->len, b, n);
    f->len += n;
    return 0;
}

/* A message of a random type (sometimes unknown) generated from spec[], each field valid
 * with probability 7/8, otherwise replaced by one to three random bytes. Returns its size,
 * or SIZE_MAX when it does not fit in cap bytes. */
static size_t gen_message(uint8_t *out, size_t cap)
{
    struct fixbuf fb = {out, 0, cap, 0};
    msgpack_packer pk;
    msgpack_packer_init(&pk, &fb, fixbuf_write);
    uint64_t type = 1 + rnd() % (PM_TYPE_MAX + 2);
    const char *kinds = type <= PM_TYPE_MAX ? spec[type] : "uu";
    size_t n = strlen(kinds);
    msgpack_pack_array(&pk, 1 + n + (rnd() % 16 == 0));
    msgpack_pack_uint64(&pk, type);
    for (size_t i = 0; i < n; i++) {
        if (rnd() % 8) {
            gen_value(&pk, kinds[i]);
        } else {
            uint8_t junk[3];
            size_t nj = 1 + rnd() % 3;
            for (size_t j = 0; j < nj; j++)
                junk[j] = fuzz_byte();
            fixbuf_write(&fb, (const char *)junk, nj);
        }
    }
    return fb.over ? SIZE_MAX : fb.len;
}

/* Decodes one fuzzed frame; a success must re-encode and decode to the same message. */
static int fuzz_one(const uint8_t *buf, size_t len, size_t max)
{
    size_t total = 0;
    int fl = msg_frame_len(buf, len, max, &total);
    struct peer_msg m;
    int rc = decode_copy(buf, len, max, &m);
    if (rc != ZOK && rc != ZMARSHALLINGERROR && rc != ZBADARGUMENTS)
        fail_msg("decode returned %d", rc);
    if (fl == -1)
        assert_int_equal(rc, ZBADARGUMENTS);
    if (rc == ZBADARGUMENTS)
        assert_int_equal(fl, -1);
    if (rc == ZOK) {
        assert_int_equal(fl, 1);
        assert_int_equal(total, len);
        uint8_t *out;
        size_t olen;
        assert_int_equal(msg_encode(&m, &out, &olen), ZOK);
        struct peer_msg back;
        assert_int_equal(decode_copy(out, olen, olen, &back), ZOK);
        assert_msg_equal(&m, &back);
        msg_free(&back);
        free(out);
        msg_free(&m);
    }
    return rc;
}

static void test_fuzz(void **state)
{
    (void)state;
    rng = 0x5eed5eed12345678ULL;
    uint8_t buf[600];
    size_t small[NCORPUS], nsmall = 0;
    for (size_t k = 0; k < NCORPUS; k++)
        if (corpus[k].len <= 500)
            small[nsmall++] = k;
    assert_true(nsmall > 50);
    int ok_random = 0, ok_mutated = 0;
    for (int iter = 0; iter < 100000; iter++) {
        size_t len;
        if (iter & 1) { /* random: bytes, or messages generated from spec[] with random faults */
            size_t n = rnd() % 2 ? gen_message(buf + 4, sizeof(buf) - 4) : rnd() % 40;
            if (n == SIZE_MAX)
                n = 0;
            else if (n < 40 && !(rnd() % 3)) /* pure noise */
                for (size_t i = 0; i < n; i++)
                    buf[4 + i] = fuzz_byte();
            uint64_t r = rnd() % 10;
            set_be32(buf, r < 8 ? (uint32_t)n : r == 8 ? (uint32_t)rnd() : (uint32_t)(n + 1));
            len = 4 + n;
        } else { /* mutations of a valid frame */
            const struct frame *f = &corpus[small[rnd() % nsmall]];
            memcpy(buf, f->p, f->len);
            len = f->len;
            int nmut = 1 + (int)(rnd() % 4);
            for (int k = 0; k < nmut; k++) {
                size_t at = 4 + (len > 4 ? rnd() % (len - 4) : 0);
                switch (rnd() % 6) {
                case 0:
                case 1: /* overwrite */
                    if (at < len)
                        buf[at] = fuzz_byte();
                    break;
                case 2: /* insert */
                    if (len < sizeof(buf)) {
                        memmove(buf + at + 1, buf + at, len - at);
                        buf[at] = fuzz_byte();
                        len++;
                    }
                    break;
                case 3: /* delete */
                    if (at < len) {
                        memmove(buf + at, buf + at + 1, len - at - 1);
                        len--;
                    }
                    break;
                case 4: /* truncate */
                    len = at;
                    break;
                case 5: /* flip a bit */
                    if (at < len)
                        buf[at] ^= (uint8_t)(1u << (rnd() % 8));
                    break;
                }
            }
            if (rnd() % 4)
                set_be32(buf, (uint32_t)(len - 4));
        }
        size_t max = rnd() % 16 ? MAXF : rnd() % 64;
        int rc = fuzz_one(buf, len, max);
        if (rc == ZOK)
            *((iter & 1) ? &ok_random : &ok_mutated) += 1;
    }
    /* the loop reaches the layouts, not only the scanner */
    assert_true(ok_random > 100);
    assert_true(ok_mutated > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_ping_session_cap),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_encode_refusals),
        cmocka_unit_test(test_frame_len),
        cmocka_unit_test(test_frame_len_streaming),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_oversized_prefix),
        cmocka_unit_test(test_hostile_counts),
        cmocka_unit_test(test_independent_layouts),
        cmocka_unit_test(test_wrong_field_types),
        cmocka_unit_test(test_integer_encodings),
        cmocka_unit_test(test_wrong_arity),
        cmocka_unit_test(test_unknown_types),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_failure_after_allocation),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
