/* jute codec implementation: primitives, then one request and one response layout per opcode. */
#include "common/jute.h"

#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

/* ---------------- writer ---------------- */

void jb_init(struct jbuf *b) { memset(b, 0, sizeof(*b)); }
void jb_free(struct jbuf *b)
{
    free(b->p);
    jb_init(b);
}
void jb_reset(struct jbuf *b)
{
    b->len = 0;
    b->oom = 0;
}

static uint8_t *jb_room(struct jbuf *b, size_t n)
{
    if (b->oom)
        return NULL;
    if (b->len + n > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;
        while (ncap < b->len + n)
            ncap *= 2;
        uint8_t *np = realloc(b->p, ncap);
        if (!np) {
            b->oom = 1;
            return NULL;
        }
        b->p = np;
        b->cap = ncap;
    }
    uint8_t *at = b->p + b->len;
    b->len += n;
    return at;
}

void jw_raw(struct jbuf *b, const void *p, size_t n)
{
    uint8_t *at = jb_room(b, n);
    if (at && n)
        memcpy(at, p, n);
}

static void put32(uint8_t *at, uint32_t v)
{
    at[0] = v >> 24;
    at[1] = v >> 16;
    at[2] = v >> 8;
    at[3] = v;
}

void jw_int(struct jbuf *b, int32_t v)
{
    uint8_t *at = jb_room(b, 4);
    if (at)
        put32(at, (uint32_t)v);
}

void jw_long(struct jbuf *b, int64_t v)
{
    uint8_t *at = jb_room(b, 8);
    if (at) {
        put32(at, (uint32_t)((uint64_t)v >> 32));
        put32(at + 4, (uint32_t)v);
    }
}

void jw_bool(struct jbuf *b, bool v)
{
    uint8_t *at = jb_room(b, 1);
    if (at)
        *at = v ? 1 : 0;
}

void jw_buffer(struct jbuf *b, const void *p, int32_t len)
{
    if (len < 0 || (!p && len > 0)) {
        jw_int(b, -1);
        return;
    }
    jw_int(b, len);
    jw_raw(b, p, (size_t)len);
}

void jw_string(struct jbuf *b, const char *s)
{
    if (!s)
        jw_int(b, -1);
    else
        jw_buffer(b, s, (int32_t)strlen(s));
}

void jw_stat(struct jbuf *b, const struct zk_stat *st)
{
    jw_long(b, st->czxid);
    jw_long(b, st->mzxid);
    jw_long(b, st->ctime);
    jw_long(b, st->mtime);
    jw_int(b, st->version);
    jw_int(b, st->cversion);
    jw_int(b, st->aversion);
    jw_long(b, st->ephemeralOwner);
    jw_int(b, st->dataLength);
    jw_int(b, st->numChildren);
    jw_long(b, st->pzxid);
}

void jw_acls(struct jbuf *b, const struct zk_acl *v, int32_t n)
{
    jw_int(b, n);
    for (int32_t i = 0; i < n; i++) {
        jw_int(b, v[i].perms);
        jw_string(b, v[i].id.scheme);
        jw_string(b, v[i].id.id);
    }
}

void jw_strings(struct jbuf *b, char *const *v, int32_t n)
{
    jw_int(b, n);
    for (int32_t i = 0; i < n; i++)
        jw_string(b, v[i]);
}

size_t jw_frame_begin(struct jbuf *b)
{
    size_t off = b->len;
    jw_int(b, 0);
    return off;
}

void jw_frame_end(struct jbuf *b, size_t off)
{
    if (!b->oom)
        put32(b->p + off, (uint32_t)(b->len - off - 4));
}

/* ---------------- reader ---------------- */

void jr_init(struct jrd *r, const void *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->pos = 0;
    r->err = 0;
}

size_t jr_remaining(const struct jrd *r) { return r->err ? 0 : r->len - r->pos; }

static const uint8_t *jr_take(struct jrd *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = ZMARSHALLINGERROR;
        return NULL;
    }
    const uint8_t *at = r->p + r->pos;
    r->pos += n;
    return at;
}

static uint32_t get32(const uint8_t *at)
{
    return (uint32_t)at[0] << 24 | (uint32_t)at[1] << 16 | (uint32_t)at[2] << 8 | at[3];
}

int32_t jr_int(struct jrd *r)
{
    const uint8_t *at = jr_take(r, 4);
    return at ? (int32_t)get32(at) : 0;
}

int64_t jr_long(struct jrd *r)
{
    const uint8_t *at = jr_take(r, 8);
    return at ? (int64_t)((uint64_t)get32(at) << 32 | get32(at + 4)) : 0;
}

bool jr_bool(struct jrd *r)
{
    const uint8_t *at = jr_take(r, 1);
    return at ? *at != 0 : false;
}

void jr_buffer(struct jrd *r, const uint8_t **data, int32_t *len)
{
    int32_t n = jr_int(r);
    *data = NULL;
    *len = -1;
    if (r->err || n == -1) /* -1 is null; any other negative length is malformed, as in jute */
        return;
    if (n < 0) {
        r->err = ZMARSHALLINGERROR;
        return;
    }
    const uint8_t *at = jr_take(r, (size_t)n);
    if (at) {
        *data = at;
        *len = n;
    }
}

char *jr_string(struct jrd *r, int32_t *len)
{
    const uint8_t *d;
    int32_t n;
    jr_buffer(r, &d, &n);
    if (len)
        *len = n;
    if (!d)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->err = ZMARSHALLINGERROR;
        return NULL;
    }
    memcpy(s, d, (size_t)n);
    s[n] = 0;
    return s;
}

void jr_stat(struct jrd *r, struct zk_stat *st)
{
    st->czxid = jr_long(r);
    st->mzxid = jr_long(r);
    st->ctime = jr_long(r);
    st->mtime = jr_long(r);
    st->version = jr_int(r);
    st->cversion = jr_int(r);
    st->aversion = jr_int(r);
    st->ephemeralOwner = jr_long(r);
    st->dataLength = jr_int(r);
    st->numChildren = jr_int(r);
    st->pzxid = jr_long(r);
}

/* Reads a vector count and checks it against the bytes left (each element needs at least
 * min_elem bytes), so a hostile count cannot make us allocate. Returns -1 for null/empty. */
static int32_t jr_count(struct jrd *r, size_t min_elem)
{
    int32_t n = jr_int(r);
    if (r->err)
        return -1;
    if (n < 0)
        return -1;
    if (n > JUTE_MAX_VECTOR || (size_t)n * min_elem > r->len - r->pos) {
        r->err = ZMARSHALLINGERROR;
        return -1;
    }
    return n;
}

void jr_acls(struct jrd *r, struct zk_acl **v, int32_t *n)
{
    *v = NULL;
    *n = 0;
    int32_t c = jr_count(r, 12);
    if (c <= 0)
        return;
    struct zk_acl *a = calloc((size_t)c, sizeof(*a));
    if (!a) {
        r->err = ZMARSHALLINGERROR;
        return;
    }
    int32_t i;
    for (i = 0; i < c && !r->err; i++) {
        a[i].perms = jr_int(r);
        a[i].id.scheme = jr_string(r, NULL);
        a[i].id.id = jr_string(r, NULL);
    }
    *v = a;
    *n = i;
}

void jr_strings(struct jrd *r, char ***v, int32_t *n)
{
    *v = NULL;
    *n = 0;
    int32_t c = jr_count(r, 4);
    if (c <= 0)
        return;
    char **a = calloc((size_t)c, sizeof(*a));
    if (!a) {
        r->err = ZMARSHALLINGERROR;
        return;
    }
    int32_t i;
    for (i = 0; i < c && !r->err; i++)
        a[i] = jr_string(r, NULL);
    *v = a;
    *n = i;
}

void jute_free_acls(struct zk_acl *v, int32_t n)
{
    if (!v)
        return;
    for (int32_t i = 0; i < n; i++) {
        free(v[i].id.scheme);
        free(v[i].id.id);
    }
    free(v);
}

void jute_free_strings(char **v, int32_t n)
{
    if (!v)
        return;
    for (int32_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------- connect ---------------- */

int jute_read_connect_req(struct jrd *r, struct zk_connect_req *c)
{
    memset(c, 0, sizeof(*c));
    c->protocolVersion = jr_int(r);
    c->lastZxidSeen = jr_long(r);
    c->timeOut = jr_int(r);
    c->sessionId = jr_long(r);
    const uint8_t *pw;
    int32_t pwlen;
    jr_buffer(r, &pw, &pwlen);
    if (r->err)
        return ZMARSHALLINGERROR;
    c->passwd_len = pwlen;
    if (pwlen > 0)
        memcpy(c->passwd, pw, pwlen > 16 ? 16 : (size_t)pwlen);
    if (jr_remaining(r) >= 1) {
        c->readOnly = jr_bool(r);
        c->has_readOnly = true;
    }
    return r->err ? ZMARSHALLINGERROR : ZOK;
}

void jute_write_connect_req(struct jbuf *b, const struct zk_connect_req *c)
{
    jw_int(b, c->protocolVersion);
    jw_long(b, c->lastZxidSeen);
    jw_int(b, c->timeOut);
    jw_long(b, c->sessionId);
    jw_buffer(b, c->passwd, c->passwd_len < 0 ? 16 : (c->passwd_len > 16 ? 16 : c->passwd_len));
    if (c->has_readOnly)
        jw_bool(b, c->readOnly);
}

int jute_read_connect_resp(struct jrd *r, struct zk_connect_resp *c, bool *has_readOnly)
{
    memset(c, 0, sizeof(*c));
    c->protocolVersion = jr_int(r);
    c->timeOut = jr_int(r);
    c->sessionId = jr_long(r);
    const uint8_t *pw;
    int32_t pwlen;
    jr_buffer(r, &pw, &pwlen);
    if (pwlen > 0)
        memcpy(c->passwd, pw, pwlen > 16 ? 16 : (size_t)pwlen);
    *has_readOnly = false;
    if (!r->err && jr_remaining(r) >= 1) {
        c->readOnly = jr_bool(r);
        *has_readOnly = true;
    }
    return r->err ? ZMARSHALLINGERROR : ZOK;
}

void jute_write_connect_resp(struct jbuf *b, const struct zk_connect_resp *c, bool with_readOnly)
{
    jw_int(b, c->protocolVersion);
    jw_int(b, c->timeOut);
    jw_long(b, c->sessionId);
    jw_buffer(b, c->passwd, 16);
    if (with_readOnly)
        jw_bool(b, c->readOnly);
}

/* ---------------- requests ---------------- */

static int read_multi(struct jrd *r, struct zk_request *req);

bool jute_op_in_multi(int32_t multi_type, int32_t op_type)
{
    switch (op_type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATETTL:
    case ZOP_CREATECONTAINER:
    case ZOP_DELETE:
    case ZOP_SETDATA:
    case ZOP_CHECK:
        return multi_type == ZOP_MULTI;
    case ZOP_GETCHILDREN:
    case ZOP_GETDATA:
        return multi_type == ZOP_MULTIREAD;
    default:
        return false;
    }
}

/* The next capacity of a multi's op array holding n entries, when one more has arrived: at
 * most what the remaining bytes could still hold (every further entry has a 9-byte header),
 * so a hostile stream cannot make us allocate ahead of its own length. -1 past the limit. */
static int32_t grow_to(int32_t cap, int32_t n, size_t remaining)
{
    size_t want = cap ? (size_t)cap * 2 : 4;
    size_t room = (size_t)n + 1 + remaining / 9;
    if (want > room)
        want = room;
    if (want <= (size_t)n || want > JUTE_MAX_VECTOR)
        return -1;
    return (int32_t)want;
}
static void write_multi(struct jbuf *b, const struct zk_request *req);

/* Body layouts by opcode; header (xid, type) excluded. */
static int read_body(struct jrd *r, struct zk_request *q)
{
    switch (q->type) {
    case ZOP_EXISTS:
    case ZOP_GETDATA:
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2:
        q->path = jr_string(r, &q->pathlen);
        q->watch = jr_bool(r);
        break;
    case ZOP_SETDATA:
        q->path = jr_string(r, &q->pathlen);
        jr_buffer(r, &q->data, &q->datalen);
        q->version = jr_int(r);
        break;
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        q->path = jr_string(r, &q->pathlen);
        jr_buffer(r, &q->data, &q->datalen);
        jr_acls(r, &q->acl, &q->nacl);
        q->flags = jr_int(r);
        if (q->type == ZOP_CREATETTL)
            q->ttl = jr_long(r);
        break;
    case ZOP_DELETE:
    case ZOP_CHECK:
        q->path = jr_string(r, &q->pathlen);
        q->version = jr_int(r);
        break;
    case ZOP_DELETECONTAINER:
    case ZOP_SYNC:
    case ZOP_GETACL:
    case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_GETEPHEMERALS:
        q->path = jr_string(r, &q->pathlen);
        break;
    case ZOP_SETACL:
        q->path = jr_string(r, &q->pathlen);
        jr_acls(r, &q->acl, &q->nacl);
        q->version = jr_int(r);
        break;
    case ZOP_ADDWATCH:
    case ZOP_CHECKWATCHES:
    case ZOP_REMOVEWATCHES:
        q->path = jr_string(r, &q->pathlen);
        q->mode = jr_int(r);
        break;
    case ZOP_SETWATCHES:
    case ZOP_SETWATCHES2: {
        int kinds = q->type == ZOP_SETWATCHES ? 3 : ZW_NKINDS;
        q->relZxid = jr_long(r);
        for (int k = 0; k < kinds && !r->err; k++)
            jr_strings(r, &q->watches[k], &q->nwatches[k]);
        break;
    }
    case ZOP_AUTH:
        q->authType = jr_int(r);
        q->scheme = jr_string(r, NULL);
        jr_buffer(r, &q->auth, &q->authlen);
        break;
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        return read_multi(r, q);
    case ZOP_PING:
    case ZOP_CLOSESESSION:
    case ZOP_WHOAMI:
        break;
    default:
        return ZUNIMPLEMENTED;
    }
    return r->err ? ZMARSHALLINGERROR : ZOK;
}

int jute_read_request(struct jrd *r, struct zk_request *req)
{
    return read_body(r, req);
}

/* A multi is a sequence of (MultiHeader{type, done=false, err}, body) closed by a header with
 * done=true. The count is not sent, so the array grows; each op consumes at least 9 bytes. */
static int read_multi(struct jrd *r, struct zk_request *q)
{
    int32_t cap = 0;
    for (;;) {
        int32_t type = jr_int(r);
        bool done = jr_bool(r);
        (void)jr_int(r);
        if (r->err)
            return ZMARSHALLINGERROR;
        if (done)
            return ZOK;
        if (q->nops == cap) {
            int32_t ncap = grow_to(cap, q->nops, jr_remaining(r));
            if (ncap < 0)
                return r->err = ZMARSHALLINGERROR;
            struct zk_request *n = realloc(q->ops, (size_t)ncap * sizeof(*n));
            if (!n)
                return r->err = ZMARSHALLINGERROR;
            q->ops = n;
            cap = ncap;
        }
        struct zk_request *op = &q->ops[q->nops++];
        memset(op, 0, sizeof(*op));
        op->type = type;
        op->xid = q->xid;
        if (!jute_op_in_multi(q->type, type))
            return r->err = ZMARSHALLINGERROR;
        int rc = read_body(r, op);
        if (rc)
            return rc;
    }
}

static void write_body(struct jbuf *b, const struct zk_request *q)
{
    switch (q->type) {
    case ZOP_EXISTS:
    case ZOP_GETDATA:
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2:
        jw_string(b, q->path);
        jw_bool(b, q->watch);
        break;
    case ZOP_SETDATA:
        jw_string(b, q->path);
        jw_buffer(b, q->data, q->datalen);
        jw_int(b, q->version);
        break;
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        jw_string(b, q->path);
        jw_buffer(b, q->data, q->datalen);
        jw_acls(b, q->acl, q->nacl);
        jw_int(b, q->flags);
        if (q->type == ZOP_CREATETTL)
            jw_long(b, q->ttl);
        break;
    case ZOP_DELETE:
    case ZOP_CHECK:
        jw_string(b, q->path);
        jw_int(b, q->version);
        break;
    case ZOP_DELETECONTAINER:
    case ZOP_SYNC:
    case ZOP_GETACL:
    case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_GETEPHEMERALS:
        jw_string(b, q->path);
        break;
    case ZOP_SETACL:
        jw_string(b, q->path);
        jw_acls(b, q->acl, q->nacl);
        jw_int(b, q->version);
        break;
    case ZOP_ADDWATCH:
    case ZOP_CHECKWATCHES:
    case ZOP_REMOVEWATCHES:
        jw_string(b, q->path);
        jw_int(b, q->mode);
        break;
    case ZOP_SETWATCHES:
    case ZOP_SETWATCHES2: {
        int kinds = q->type == ZOP_SETWATCHES ? 3 : ZW_NKINDS;
        jw_long(b, q->relZxid);
        for (int k = 0; k < kinds; k++)
            jw_strings(b, q->watches[k], q->nwatches[k]);
        break;
    }
    case ZOP_AUTH:
        jw_int(b, q->authType);
        jw_string(b, q->scheme);
        jw_buffer(b, q->auth, q->authlen);
        break;
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        write_multi(b, q);
        break;
    default:
        break;
    }
}

static void write_multi(struct jbuf *b, const struct zk_request *q)
{
    for (int32_t i = 0; i < q->nops; i++) {
        jw_int(b, q->ops[i].type);
        jw_bool(b, false);
        jw_int(b, -1);
        write_body(b, &q->ops[i]);
    }
    jw_int(b, -1);
    jw_bool(b, true);
    jw_int(b, -1);
}

void jute_write_request(struct jbuf *b, const struct zk_request *req)
{
    jw_int(b, req->xid);
    jw_int(b, req->type);
    write_body(b, req);
}

void jute_free_request(struct zk_request *q)
{
    free(q->path);
    free(q->scheme);
    jute_free_acls(q->acl, q->nacl);
    for (int k = 0; k < ZW_NKINDS; k++)
        jute_free_strings(q->watches[k], q->nwatches[k]);
    for (int32_t i = 0; i < q->nops; i++)
        jute_free_request(&q->ops[i]);
    free(q->ops);
    memset(q, 0, sizeof(*q));
}

/* ---------------- responses ---------------- */

static void write_multi_resp(struct jbuf *b, const struct zk_response *res);
static int read_multi_resp(struct jrd *r, struct zk_response *res);

void jute_write_response(struct jbuf *b, const struct zk_response *s)
{
    switch (s->type) {
    case ZOP_CREATE:
    case ZOP_SYNC:
        jw_string(b, s->path);
        break;
    case ZOP_CREATE2:
    case ZOP_CREATETTL:
    case ZOP_CREATECONTAINER:
        jw_string(b, s->path);
        jw_stat(b, &s->stat);
        break;
    case ZOP_EXISTS:
    case ZOP_SETDATA:
    case ZOP_SETACL:
    case ZOP_CHECK:
        jw_stat(b, &s->stat);
        break;
    case ZOP_GETDATA:
        jw_buffer(b, s->data, s->datalen);
        jw_stat(b, &s->stat);
        break;
    case ZOP_GETCHILDREN:
    case ZOP_GETEPHEMERALS:
        jw_strings(b, s->children, s->nchildren);
        break;
    case ZOP_GETCHILDREN2:
        jw_strings(b, s->children, s->nchildren);
        jw_stat(b, &s->stat);
        break;
    case ZOP_GETACL:
        jw_acls(b, s->acl, s->nacl);
        jw_stat(b, &s->stat);
        break;
    case ZOP_GETALLCHILDRENNUMBER:
        jw_int(b, s->number);
        break;
    case ZOP_ADDWATCH: /* ErrorResponse(0), as the Java server sends */
    case ZOP_ERROR:
        jw_int(b, s->type == ZOP_ERROR ? s->err : 0);
        break;
    case ZOP_WHOAMI:
        jw_int(b, s->nclients);
        for (int32_t i = 0; i < s->nclients; i++) {
            jw_string(b, s->clients[i].scheme);
            jw_string(b, s->clients[i].id);
        }
        break;
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        write_multi_resp(b, s);
        break;
    default: /* delete, setWatches, auth, ping, close, checkWatches, removeWatches: no body */
        break;
    }
}

/* Sub-results inside a multi use the multi wire types: create -> CreateResponse,
 * create2/TTL/container -> Create2Response, error -> ErrorResponse. */
static void write_multi_resp(struct jbuf *b, const struct zk_response *res)
{
    for (int32_t i = 0; i < res->nresults; i++) {
        const struct zk_response *s = &res->results[i];
        int32_t t = s->type;
        if (t == ZOP_CREATETTL || t == ZOP_CREATECONTAINER)
            t = ZOP_CREATE2;
        if (t == ZOP_DELETECONTAINER)
            t = ZOP_DELETE;
        jw_int(b, t);
        jw_bool(b, false);
        jw_int(b, t == ZOP_ERROR ? s->err : 0);
        if (t == ZOP_CHECK) /* CheckResult has no body inside multi */
            continue;
        struct zk_response tmp = *s;
        tmp.type = t;
        jute_write_response(b, &tmp);
    }
    jw_int(b, -1);
    jw_bool(b, true);
    jw_int(b, -1);
}

int jute_read_response(struct jrd *r, int32_t type, struct zk_response *s)
{
    memset(s, 0, sizeof(*s));
    s->type = type;
    const uint8_t *d;
    switch (type) {
    case ZOP_CREATE:
    case ZOP_SYNC:
        s->path = jr_string(r, NULL);
        break;
    case ZOP_CREATE2:
    case ZOP_CREATETTL:
    case ZOP_CREATECONTAINER:
        s->path = jr_string(r, NULL);
        jr_stat(r, &s->stat);
        break;
    case ZOP_EXISTS:
    case ZOP_SETDATA:
    case ZOP_SETACL:
    case ZOP_CHECK:
        jr_stat(r, &s->stat);
        break;
    case ZOP_GETDATA:
        jr_buffer(r, &d, &s->datalen);
        if (d) {
            s->data = malloc((size_t)s->datalen + 1);
            if (!s->data)
                return r->err = ZMARSHALLINGERROR;
            memcpy(s->data, d, (size_t)s->datalen);
            s->data[s->datalen] = 0;
        }
        jr_stat(r, &s->stat);
        break;
    case ZOP_GETCHILDREN:
    case ZOP_GETEPHEMERALS:
        jr_strings(r, &s->children, &s->nchildren);
        break;
    case ZOP_GETCHILDREN2:
        jr_strings(r, &s->children, &s->nchildren);
        jr_stat(r, &s->stat);
        break;
    case ZOP_GETACL:
        jr_acls(r, &s->acl, &s->nacl);
        jr_stat(r, &s->stat);
        break;
    case ZOP_GETALLCHILDRENNUMBER:
        s->number = jr_int(r);
        break;
    case ZOP_ADDWATCH:
    case ZOP_ERROR:
        s->err = jr_int(r);
        break;
    case ZOP_WHOAMI: {
        int32_t c = jr_count(r, 8);
        if (c > 0) {
            s->clients = calloc((size_t)c, sizeof(*s->clients));
            if (!s->clients)
                return r->err = ZMARSHALLINGERROR;
            for (s->nclients = 0; s->nclients < c && !r->err; s->nclients++) {
                s->clients[s->nclients].scheme = jr_string(r, NULL);
                s->clients[s->nclients].id = jr_string(r, NULL);
            }
        }
        break;
    }
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        return read_multi_resp(r, s);
    default:
        break;
    }
    return r->err ? ZMARSHALLINGERROR : ZOK;
}

static int read_multi_resp(struct jrd *r, struct zk_response *res)
{
    int32_t cap = 0;
    for (;;) {
        int32_t type = jr_int(r);
        bool done = jr_bool(r);
        int32_t err = jr_int(r);
        if (r->err)
            return ZMARSHALLINGERROR;
        if (done)
            return ZOK;
        if (res->nresults == cap) {
            int32_t ncap = grow_to(cap, res->nresults, jr_remaining(r));
            if (ncap < 0)
                return r->err = ZMARSHALLINGERROR;
            struct zk_response *n = realloc(res->results, (size_t)ncap * sizeof(*n));
            if (!n)
                return r->err = ZMARSHALLINGERROR;
            res->results = n;
            cap = ncap;
        }
        struct zk_response *s = &res->results[res->nresults++];
        switch (type) { /* the result kinds a multi or multiRead can carry; they never nest */
        case ZOP_CREATE:
        case ZOP_CREATE2:
        case ZOP_DELETE:
        case ZOP_SETDATA:
        case ZOP_CHECK:
        case ZOP_GETCHILDREN:
        case ZOP_GETDATA:
        case ZOP_ERROR:
            break;
        default:
            memset(s, 0, sizeof(*s));
            return r->err = ZMARSHALLINGERROR;
        }
        if (type == ZOP_CHECK || type == ZOP_DELETE) {
            memset(s, 0, sizeof(*s));
            s->type = type;
        } else if (jute_read_response(r, type, s)) {
            return ZMARSHALLINGERROR;
        }
        s->err = type == ZOP_ERROR ? s->err : err;
    }
}

void jute_free_response(struct zk_response *s)
{
    free(s->path);
    free(s->data);
    jute_free_strings(s->children, s->nchildren);
    jute_free_acls(s->acl, s->nacl);
    for (int32_t i = 0; i < s->nclients; i++) {
        free(s->clients[i].scheme);
        free(s->clients[i].id);
    }
    free(s->clients);
    for (int32_t i = 0; i < s->nresults; i++)
        jute_free_response(&s->results[i]);
    free(s->results);
    memset(s, 0, sizeof(*s));
}
