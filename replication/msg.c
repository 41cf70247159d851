/* Peer-message codec: one layout table drives both directions; decoding scans the msgpack
 * bytes for well-formedness and sizes (allocating nothing) before msgpack-c unpacks them,
 * then checks the object against the layout of its type. */
#include "replication/msg.h"

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

/* ---------------- layouts ---------------- */

enum field_kind {
    F_END = 0, /* terminates a layout */
    F_U64,
    F_I32,
    F_BOOL,
    F_STATE,
    F_BIN,      /* pointer + length; exact != 0: exactly that many bytes */
    F_SESSIONS, /* the PING array */
};

struct field {
    uint8_t kind;
    uint8_t exact;
    uint16_t off;     /* of the value (or pointer) in struct peer_msg */
    uint16_t len_off; /* of the length (F_BIN, F_SESSIONS) */
};

#define PM_MAX_FIELDS 6 /* VOTE */

struct layout {
    const char *name;
    struct field f[PM_MAX_FIELDS + 1];
};

// clang-format off
#define OFF(x) ((uint16_t)offsetof(struct peer_msg, x))
#define U64(x) {F_U64, 0, OFF(x), 0}
#define I32(x) {F_I32, 0, OFF(x), 0}
#define BOOL(x) {F_BOOL, 0, OFF(x), 0}
#define STATE(x) {F_STATE, 0, OFF(x), 0}
#define BIN(x) {F_BIN, 0, OFF(x), OFF(x##_len)}
#define FIXED(x, n) {F_BIN, (n), OFF(x), OFF(x##_len)}
#define SESSIONS {F_SESSIONS, 0, OFF(sessions), OFF(nsessions)}

static const struct layout layouts[PM_TYPE_MAX + 1] = {
    [PM_CHALLENGE]    = {"CHALLENGE",    {FIXED(nonce, PM_NONCE_LEN)}},
    [PM_HELLO]        = {"HELLO",        {U64(server_id), FIXED(proof, PM_PROOF_LEN), BOOL(observer)}},
    [PM_VOTE]         = {"VOTE",         {U64(leader), U64(zxid), U64(peer_epoch), U64(round), STATE(state),
                                           U64(from)}},
    [PM_FOLLOWERINFO] = {"FOLLOWERINFO", {U64(accepted_epoch), U64(last_zxid), BOOL(observer)}},
    [PM_LEADERINFO]   = {"LEADERINFO",   {U64(epoch)}},
    [PM_ACKEPOCH]     = {"ACKEPOCH",     {U64(current_epoch), U64(last_zxid)}},
    [PM_DIFF]         = {"DIFF",         {U64(zxid)}},
    [PM_TRUNC]        = {"TRUNC",        {U64(zxid)}},
    [PM_SNAP]         = {"SNAP",         {U64(zxid), U64(total_len)}},
    [PM_SNAPCHUNK]    = {"SNAPCHUNK",    {BIN(data)}},
    [PM_NEWLEADER]    = {"NEWLEADER",    {U64(zxid)}},
    [PM_ACK]          = {"ACK",          {U64(zxid)}},
    [PM_UPTODATE]     = {"UPTODATE",     {{F_END, 0, 0, 0}}},
    [PM_PROPOSAL]     = {"PROPOSAL",     {U64(zxid), BIN(txn)}},
    [PM_COMMIT]       = {"COMMIT",       {U64(zxid)}},
    [PM_INFORM]       = {"INFORM",       {U64(zxid), BIN(txn)}},
    [PM_PING]         = {"PING",         {SESSIONS}},
    [PM_REQUEST]      = {"REQUEST",      {U64(session_id), I32(cxid), I32(op), BIN(body)}},
    [PM_REVALIDATE]   = {"REVALIDATE",   {U64(session_id), I32(timeout_ms)}},
    [PM_REVALIDATED]  = {"REVALIDATED",  {U64(session_id), BOOL(valid)}},
    [PM_SYNC]         = {"SYNC",         {U64(session_id), I32(cxid)}},
    [PM_SYNCED]       = {"SYNCED",       {U64(session_id), I32(cxid)}},
};
// clang-format on

static const struct layout *layout_of(uint64_t type)
{
    if (type < 1 || type > PM_TYPE_MAX || !layouts[type].name)
        return NULL;
    return &layouts[type];
}

static size_t nfields(const struct layout *l)
{
    size_t n = 0;
    while (n < PM_MAX_FIELDS && l->f[n].kind != F_END)
        n++;
    return n;
}

const char *msg_type_name(int type)
{
    const struct layout *l = type > 0 ? layout_of((uint64_t)type) : NULL;
    return l ? l->name : "UNKNOWN";
}

/* Field access by offset: each offset is that of a member of exactly the accessed type. */
#define AT(m, f, T) ((T *)((char *)(m) + (f)->off))
#define CAT(m, f, T) ((const T *)((const char *)(m) + (f)->off))
#define LEN_AT(m, f) ((size_t *)((char *)(m) + (f)->len_off))
#define CLEN_AT(m, f) ((const size_t *)((const char *)(m) + (f)->len_off))

/* ---------------- encoding ---------------- */

static void put32(uint8_t *at, uint32_t v)
{
    at[0] = (uint8_t)(v >> 24);
    at[1] = (uint8_t)(v >> 16);
    at[2] = (uint8_t)(v >> 8);
    at[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

/* Refuses what the decoder would refuse, before anything is packed. */
static int check_fields(const struct peer_msg *m, const struct layout *l)
{
    for (const struct field *f = l->f; f->kind != F_END; f++) {
        switch (f->kind) {
        case F_STATE:
            if (*CAT(m, f, uint8_t) > PEER_OBSERVING)
                return ZBADARGUMENTS;
            break;
        case F_BIN: {
            const uint8_t *p = *CAT(m, f, uint8_t *);
            size_t n = *CLEN_AT(m, f);
            if ((f->exact && n != f->exact) || (n && !p) || n > UINT32_MAX)
                return ZBADARGUMENTS;
            break;
        }
        case F_SESSIONS:
            if (m->nsessions > PM_MAX_SESSIONS || (m->nsessions && !m->sessions))
                return ZBADARGUMENTS;
            break;
        default:
            break;
        }
    }
    return ZOK;
}

static int pack_field(msgpack_packer *pk, const struct peer_msg *m, const struct field *f)
{
    int rc = 0;
    switch (f->kind) {
    case F_U64:
        return msgpack_pack_uint64(pk, *CAT(m, f, uint64_t));
    case F_I32:
        return msgpack_pack_int32(pk, *CAT(m, f, int32_t));
    case F_BOOL:
        return *CAT(m, f, bool) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case F_STATE:
        return msgpack_pack_uint8(pk, *CAT(m, f, uint8_t));
    case F_BIN: {
        size_t n = *CLEN_AT(m, f);
        rc = msgpack_pack_bin(pk, n);
        if (rc == 0 && n)
            rc = msgpack_pack_bin_body(pk, *CAT(m, f, uint8_t *), n);
        return rc;
    }
    case F_SESSIONS:
        rc = msgpack_pack_array(pk, m->nsessions);
        for (size_t i = 0; rc == 0 && i < m->nsessions; i++) {
            rc = msgpack_pack_array(pk, 2);
            if (rc == 0)
                rc = msgpack_pack_uint64(pk, m->sessions[i].session_id);
            if (rc == 0)
                rc = msgpack_pack_int32(pk, m->sessions[i].timeout_ms);
        }
        return rc;
    default:
        return -1;
    }
}

int msg_encode(const struct peer_msg *m, uint8_t **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    const struct layout *l = m->type > 0 ? layout_of((uint64_t)m->type) : NULL;
    if (!l)
        return ZBADARGUMENTS;
    int rc = check_fields(m, l);
    if (rc != ZOK)
        return rc;

    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    static const char prefix[PM_HDR_LEN];
    int bad = msgpack_sbuffer_write(&sb, prefix, sizeof(prefix));
    if (!bad)
        bad = msgpack_pack_array(&pk, 1 + nfields(l));
    if (!bad)
        bad = msgpack_pack_uint64(&pk, (uint64_t)m->type);
    for (const struct field *f = l->f; !bad && f->kind != F_END; f++)
        bad = pack_field(&pk, m, f);
    if (bad) {
        msgpack_sbuffer_destroy(&sb);
        return ZSYSTEMERROR;
    }
    if (sb.size - PM_HDR_LEN > UINT32_MAX) {
        msgpack_sbuffer_destroy(&sb);
        return ZBADARGUMENTS;
    }
    put32((uint8_t *)sb.data, (uint32_t)(sb.size - PM_HDR_LEN));
    size_t n = sb.size;
    char *p = msgpack_sbuffer_release(&sb);
    char *shrunk = realloc(p, n); /* the sbuffer grows in steps of 8 KB */
    *out = (uint8_t *)(shrunk ? shrunk : p);
    *len = n;
    return ZOK;
}

/* ---------------- framing ---------------- */

int msg_frame_len(const uint8_t *buf, size_t have, size_t max, size_t *total)
{
    if (have < PM_HDR_LEN)
        return 0;
    uint32_t n = get32(buf);
    if (n > max)
        return -1;
#if SIZE_MAX <= UINT32_MAX
    if (n > SIZE_MAX - PM_HDR_LEN)
        return -1;
#endif
    if (have - PM_HDR_LEN < n)
        return 0;
    *total = PM_HDR_LEN + (size_t)n;
    return 1;
}

/* ---------------- decoding ---------------- */

/* Walks the msgpack bytes p[0..len) without allocating: ZOK when they are exactly one
 * well-formed object within the bounds documented in msg.h, ZMARSHALLINGERROR otherwise.
 * Every container's count is checked against the bytes left (each element takes at least
 * one byte) before msgpack-c, which allocates from that count, ever sees it. */
static int mp_scan(const uint8_t *p, size_t len)
{
    uint64_t left[PM_MAX_DEPTH + 1]; /* objects still to read at each open level */
    int depth = 0;
    size_t pos = 0, objects = 0;
    left[0] = 1;
    for (;;) {
        while (left[depth] == 0) {
            if (depth == 0)
                return pos == len ? ZOK : ZMARSHALLINGERROR; /* trailing bytes */
            depth--;
        }
        left[depth]--;
        if (pos >= len || ++objects > PM_MAX_OBJECTS)
            return ZMARSHALLINGERROR;
        uint8_t b = p[pos++];
        size_t fixed = 0; /* bytes that follow unconditionally */
        size_t lenw = 0;  /* width of a length or count field that follows */
        int per = 0;      /* containers: objects per counted entry (1 array, 2 map) */
        uint64_t n = 0;   /* raw length or container count */
        if (b <= 0x7f || b >= 0xe0) {
            /* fixint */
        } else if (b <= 0x8f) {
            per = 2, n = b & 0x0f;
        } else if (b <= 0x9f) {
            per = 1, n = b & 0x0f;
        } else if (b <= 0xbf) {
            n = b & 0x1f;
        } else {
            switch (b) {
            case 0xc0: /* nil */
            case 0xc2: /* false */
            case 0xc3: /* true */
                break;
            case 0xc4: /* bin8 */
            case 0xd9: /* str8 */
                lenw = 1;
                break;
            case 0xc5:
            case 0xda:
                lenw = 2;
                break;
            case 0xc6:
            case 0xdb:
                lenw = 4;
                break;
            case 0xc7: /* ext8, 16, 32: length, type byte, data */
                lenw = 1, fixed = 1;
                break;
            case 0xc8:
                lenw = 2, fixed = 1;
                break;
            case 0xc9:
                lenw = 4, fixed = 1;
                break;
            case 0xcc: /* uint8, int8 */
            case 0xd0:
                fixed = 1;
                break;
            case 0xcd:
            case 0xd1:
                fixed = 2;
                break;
            case 0xca: /* float32 */
            case 0xce:
            case 0xd2:
                fixed = 4;
                break;
            case 0xcb: /* float64 */
            case 0xcf:
            case 0xd3:
                fixed = 8;
                break;
            case 0xd4: /* fixext 1, 2, 4, 8, 16: type byte and data */
                fixed = 2;
                break;
            case 0xd5:
                fixed = 3;
                break;
            case 0xd6:
                fixed = 5;
                break;
            case 0xd7:
                fixed = 9;
                break;
            case 0xd8:
                fixed = 17;
                break;
            case 0xdc: /* array16, array32 */
                per = 1, lenw = 2;
                break;
            case 0xdd:
                per = 1, lenw = 4;
                break;
            case 0xde: /* map16, map32 */
                per = 2, lenw = 2;
                break;
            case 0xdf:
                per = 2, lenw = 4;
                break;
            default: /* 0xc1: never used */
                return ZMARSHALLINGERROR;
            }
        }
        if (lenw) {
            if (len - pos < lenw)
                return ZMARSHALLINGERROR;
            for (size_t i = 0; i < lenw; i++)
                n = n << 8 | p[pos + i];
            pos += lenw;
        }
        if (per) {
            if (depth >= PM_MAX_DEPTH || n > PM_MAX_SESSIONS || n * (uint64_t)per > len - pos)
                return ZMARSHALLINGERROR;
            if (n)
                left[++depth] = n * (uint64_t)per;
        } else {
            if (len - pos < fixed || len - pos - fixed < n)
                return ZMARSHALLINGERROR;
            pos += fixed + (size_t)n;
        }
    }
}

static int get_u64(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return ZMARSHALLINGERROR; /* msgpack-c reports every value >= 0 as positive */
    *v = o->via.u64;
    return ZOK;
}

static int get_i32(const msgpack_object *o, int32_t *v)
{
    if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER && o->via.u64 <= INT32_MAX)
        *v = (int32_t)o->via.u64;
    else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER && o->via.i64 >= INT32_MIN)
        *v = (int32_t)o->via.i64;
    else
        return ZMARSHALLINGERROR;
    return ZOK;
}

static int get_sessions(const msgpack_object *o, struct peer_msg *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size > PM_MAX_SESSIONS)
        return ZMARSHALLINGERROR;
    size_t n = o->via.array.size;
    if (n == 0)
        return ZOK;
    m->sessions = calloc(n, sizeof(*m->sessions));
    if (!m->sessions)
        return ZSYSTEMERROR;
    m->nsessions = n;
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *pair = &o->via.array.ptr[i];
        if (pair->type != MSGPACK_OBJECT_ARRAY || pair->via.array.size != 2 ||
            get_u64(&pair->via.array.ptr[0], &m->sessions[i].session_id) != ZOK ||
            get_i32(&pair->via.array.ptr[1], &m->sessions[i].timeout_ms) != ZOK)
            return ZMARSHALLINGERROR;
    }
    return ZOK;
}

static int get_field(const msgpack_object *o, const struct field *f, size_t max_frame, struct peer_msg *m)
{
    switch (f->kind) {
    case F_U64:
        return get_u64(o, AT(m, f, uint64_t));
    case F_I32:
        return get_i32(o, AT(m, f, int32_t));
    case F_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN)
            return ZMARSHALLINGERROR;
        *AT(m, f, bool) = o->via.boolean;
        return ZOK;
    case F_STATE:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > PEER_OBSERVING)
            return ZMARSHALLINGERROR;
        *AT(m, f, uint8_t) = (uint8_t)o->via.u64;
        return ZOK;
    case F_BIN: {
        if (o->type != MSGPACK_OBJECT_BIN)
            return ZMARSHALLINGERROR;
        size_t n = o->via.bin.size;
        if (n > max_frame || (f->exact && n != f->exact))
            return ZMARSHALLINGERROR;
        if (n == 0)
            return ZOK;
        uint8_t *copy = malloc(n);
        if (!copy)
            return ZSYSTEMERROR;
        memcpy(copy, o->via.bin.ptr, n);
        *AT(m, f, uint8_t *) = copy;
        *LEN_AT(m, f) = n;
        return ZOK;
    }
    case F_SESSIONS:
        return get_sessions(o, m);
    default:
        return ZMARSHALLINGERROR;
    }
}

static int from_object(const msgpack_object *o, size_t max_frame, struct peer_msg *m)
{
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size == 0)
        return ZMARSHALLINGERROR;
    const msgpack_object *v = o->via.array.ptr;
    const struct layout *l = v[0].type == MSGPACK_OBJECT_POSITIVE_INTEGER ? layout_of(v[0].via.u64) : NULL;
    if (!l || o->via.array.size != 1 + nfields(l))
        return ZMARSHALLINGERROR;
    m->type = (int)v[0].via.u64;
    for (size_t i = 0; l->f[i].kind != F_END; i++) {
        int rc = get_field(&v[1 + i], &l->f[i], max_frame, m);
        if (rc != ZOK)
            return rc;
    }
    return ZOK;
}

int msg_decode(const uint8_t *frame, size_t len, size_t max_frame, struct peer_msg *m)
{
    memset(m, 0, sizeof(*m));
    if (!frame || len < PM_HDR_LEN)
        return ZMARSHALLINGERROR;
    uint32_t n = get32(frame);
    if (n > max_frame)
        return ZBADARGUMENTS;
    if (len - PM_HDR_LEN != n)
        return ZMARSHALLINGERROR;
    const uint8_t *p = frame + PM_HDR_LEN;
    int rc = mp_scan(p, n);
    if (rc != ZOK)
        return rc;

    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack_next(&u, (const char *)p, n, &off);
    if (ur == MSGPACK_UNPACK_SUCCESS && off == n)
        rc = from_object(&u.data, max_frame, m);
    else if (ur == MSGPACK_UNPACK_NOMEM_ERROR || ur == MSGPACK_UNPACK_PARSE_ERROR)
        rc = ZSYSTEMERROR; /* the bytes scanned well-formed: only an allocation can fail */
    else
        rc = ZMARSHALLINGERROR;
    msgpack_unpacked_destroy(&u);
    if (rc != ZOK)
        msg_free(m);
    return rc;
}

void msg_free(struct peer_msg *m)
{
    free(m->nonce);
    free(m->proof);
    free(m->data);
    free(m->txn);
    free(m->body);
    free(m->sessions);
    memset(m, 0, sizeof(*m));
}
