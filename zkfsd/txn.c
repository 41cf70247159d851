/* Txn lifetime and the txn's byte encoding (jute primitives), shared by the transaction log,
 * snapshots' replay and, later, replication. */
#include "zkfsd/txn.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "common/zerr.h"

void txn_free(struct txn *x)
{
    free(x->path);
    free(x->data);
    jute_free_acls(x->acl, x->nacl);
    for (int32_t i = 0; i < x->nsubs; i++)
        txn_free(&x->subs[i]);
    free(x->subs);
    memset(x, 0, sizeof(*x));
}

void txn_result_free(struct txn_result *r)
{
    for (int32_t i = 0; i < r->nsubs; i++)
        txn_result_free(&r->subs[i]);
    free(r->subs);
    memset(r, 0, sizeof(*r));
}

static void write_body(struct jbuf *b, const struct txn *x)
{
    jw_int(b, x->type);
    switch (x->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        jw_string(b, x->path);
        jw_buffer(b, x->data, x->datalen);
        jw_acls(b, x->acl, x->nacl);
        jw_long(b, x->ephemeralOwner);
        jw_long(b, x->ttl);
        jw_int(b, x->parentCVersion);
        break;
    case ZOP_DELETE:
    case ZOP_DELETECONTAINER:
        jw_string(b, x->path);
        break;
    case ZOP_SETDATA:
        jw_string(b, x->path);
        jw_buffer(b, x->data, x->datalen);
        jw_int(b, x->version);
        break;
    case ZOP_SETACL:
        jw_string(b, x->path);
        jw_acls(b, x->acl, x->nacl);
        jw_int(b, x->version);
        break;
    case ZOP_CHECK:
        jw_string(b, x->path);
        jw_int(b, x->version);
        break;
    case ZOP_CREATESESSION:
        jw_int(b, x->timeout);
        break;
    case ZOP_ERROR:
        jw_int(b, x->err);
        break;
    case ZOP_MULTI:
        jw_int(b, x->nsubs);
        for (int32_t i = 0; i < x->nsubs; i++)
            write_body(b, &x->subs[i]);
        break;
    default: /* closeSession: the header says it all */
        break;
    }
}

void txn_encode(struct jbuf *b, const struct txn *x)
{
    jw_long(b, x->zxid);
    jw_long(b, x->time);
    jw_long(b, x->session);
    jw_int(b, x->cxid);
    write_body(b, x);
}

static int copy_buf(struct jrd *r, uint8_t **out, int32_t *len)
{
    const uint8_t *d;
    jr_buffer(r, &d, len);
    *out = NULL;
    if (d && *len > 0) {
        *out = malloc((size_t)*len);
        if (!*out)
            return r->err = ZMARSHALLINGERROR;
        memcpy(*out, d, (size_t)*len);
    }
    return r->err;
}

static int read_body(struct jrd *r, struct txn *x, int depth)
{
    x->type = jr_int(r);
    switch (x->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        x->path = jr_string(r, NULL);
        copy_buf(r, &x->data, &x->datalen);
        jr_acls(r, &x->acl, &x->nacl);
        x->ephemeralOwner = jr_long(r);
        x->ttl = jr_long(r);
        x->parentCVersion = jr_int(r);
        break;
    case ZOP_DELETE:
    case ZOP_DELETECONTAINER:
        x->path = jr_string(r, NULL);
        break;
    case ZOP_SETDATA:
        x->path = jr_string(r, NULL);
        copy_buf(r, &x->data, &x->datalen);
        x->version = jr_int(r);
        break;
    case ZOP_SETACL:
        x->path = jr_string(r, NULL);
        jr_acls(r, &x->acl, &x->nacl);
        x->version = jr_int(r);
        break;
    case ZOP_CHECK:
        x->path = jr_string(r, NULL);
        x->version = jr_int(r);
        break;
    case ZOP_CREATESESSION:
        x->timeout = jr_int(r);
        break;
    case ZOP_ERROR:
        x->err = jr_int(r);
        break;
    case ZOP_CLOSESESSION:
        break;
    case ZOP_MULTI: {
        int32_t n = jr_int(r);
        /* a sub-txn takes at least 4 bytes; a multi never nests */
        if (r->err || depth > 0 || n < 0 || (size_t)n > jr_remaining(r) / 4)
            return r->err = ZMARSHALLINGERROR;
        x->subs = calloc((size_t)(n ? n : 1), sizeof(*x->subs));
        if (!x->subs)
            return r->err = ZMARSHALLINGERROR;
        for (x->nsubs = 0; x->nsubs < n && !r->err; x->nsubs++) {
            struct txn *s = &x->subs[x->nsubs];
            s->zxid = x->zxid;
            s->time = x->time;
            s->session = x->session;
            s->cxid = x->cxid;
            read_body(r, s, depth + 1);
        }
        break;
    }
    default:
        return r->err = ZMARSHALLINGERROR;
    }
    return r->err ? ZMARSHALLINGERROR : ZOK;
}

int txn_decode(const uint8_t *p, size_t n, struct txn *x)
{
    struct jrd r;
    jr_init(&r, p, n);
    memset(x, 0, sizeof(*x));
    x->datalen = -1;
    x->zxid = jr_long(&r);
    x->time = jr_long(&r);
    x->session = jr_long(&r);
    x->cxid = jr_int(&r);
    if (r.err || read_body(&r, x, 0) != ZOK || jr_remaining(&r) != 0) {
        txn_free(x);
        return ZMARSHALLINGERROR;
    }
    return ZOK;
}

static void print_body(FILE *out, const struct txn *x)
{
    fprintf(out, "%s", zop_name(x->type));
    if (x->path)
        fprintf(out, " %s", x->path);
    switch (x->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        fprintf(out, " data=%d bytes acl=%d owner=0x%" PRIx64 " parentCVersion=%d", x->datalen, x->nacl,
                (uint64_t)x->ephemeralOwner, x->parentCVersion);
        break;
    case ZOP_SETDATA:
        fprintf(out, " data=%d bytes version=%d", x->datalen, x->version);
        break;
    case ZOP_SETACL:
        fprintf(out, " acl=%d aversion=%d", x->nacl, x->version);
        break;
    case ZOP_CHECK:
        fprintf(out, " version=%d", x->version);
        break;
    case ZOP_CREATESESSION:
        fprintf(out, " timeout=%d", x->timeout);
        break;
    case ZOP_ERROR:
        fprintf(out, " err=%s", zerr_name(x->err));
        break;
    case ZOP_MULTI:
        fprintf(out, " [");
        for (int32_t i = 0; i < x->nsubs; i++) {
            fprintf(out, i ? "; " : "");
            print_body(out, &x->subs[i]);
        }
        fprintf(out, "]");
        break;
    default:
        break;
    }
}

void txn_print(FILE *out, const struct txn *x)
{
    fprintf(out, "zxid=0x%" PRIx64 " time=%" PRId64 " session=0x%" PRIx64 " cxid=%d ", (uint64_t)x->zxid, x->time,
            (uint64_t)x->session, x->cxid);
    print_body(out, x);
    fputc('\n', out);
}
