/* The server core: handshake, per-connection request queues, reads, the write path
 * (prep -> log -> apply -> watches -> reply), sessions and their expiry. See server.h. */
#include "zkfsd/server.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"

enum preq_state { PQ_READ, PQ_INFLIGHT, PQ_DONE };

/* A request waiting for its turn on its connection. */
struct preq {
    struct preq *next;
    enum preq_state state;
    int32_t xid, type;
    struct zk_request req;  /* PQ_READ: decoded, borrowing frame */
    uint8_t *frame;         /* PQ_READ: owned copy of the frame */
    int32_t err;            /* PQ_DONE */
    struct txn_result res;  /* PQ_DONE after a commit */
    struct txn *txn;        /* PQ_DONE: the applied txn (res borrows its paths) */
    int64_t start_mono;
    bool sync_wait;         /* follower: a sync waiting for the leader (then PQ_READ) */
    bool remote;            /* follower: forwarded to the leader, no ptxn points at it */
};

/* A txn on its way to durability. */
struct ptxn {
    struct ptxn *next;
    struct txn txn;
    struct zconn *conn; /* holds a reference; NULL for server-made txns (expiry) and for
                           requests forwarded by other members */
    struct preq *pq;
    int64_t from;       /* leader: the member a forwarded request came from, else 0 */
};

static void conn_ref(struct zconn *c) { c->refs++; }
static void free_early(struct zconn *c);
static void conn_unref(struct zconn *c)
{
    if (--c->refs == 0) {
        free_early(c);
        acl_auth_free(&c->auth);
        free(c);
    }
}

/* ---------------- output ---------------- */

static void send_buf(struct server *s, struct zconn *c, struct jbuf *b)
{
    if (c->closed || b->oom)
        return;
    s->io.send(s->io.ctx, c, b->p, b->len);
    c->st.packets_sent++;
    s->st.packets_sent++;
}

static void begin_reply(struct jbuf *b, size_t *off, int32_t xid, int64_t zxid, int32_t err)
{
    jb_init(b);
    *off = jw_frame_begin(b);
    jw_int(b, xid);
    jw_long(b, zxid);
    jw_int(b, err);
}

static void send_reply(struct server *s, struct zconn *c, int32_t xid, int32_t err, const struct zk_response *body)
{
    struct jbuf b;
    size_t off;
    begin_reply(&b, &off, xid, server_last_zxid(s), err);
    if (body && err == ZOK)
        jute_write_response(&b, body);
    jw_frame_end(&b, off);
    if ((int64_t)b.len - 4 > s->opts.max_buffer) {
        /* the client could not read it; ZooKeeper's clients treat it as a protocol error */
        LOG_WARN("reply of %zu bytes to session 0x%" PRIx64 " exceeds jute.maxbuffer; closing", b.len,
                 (uint64_t)c->session);
        jb_free(&b);
        s->io.close(s->io.ctx, c);
        return;
    }
    send_buf(s, c, &b);
    jb_free(&b);
    c->st.last_zxid = server_last_zxid(s);
    c->st.last_response_ms = s->now_wall;
}

static void fire(void *ctx, void *w, int event, const char *path)
{
    struct server *s = ctx;
    struct zconn *c = w;
    struct jbuf b;
    size_t off;
    begin_reply(&b, &off, ZXID_WATCH_EVENT, -1, ZOK);
    jw_int(&b, event);
    jw_int(&b, ZSTATE_SYNC_CONNECTED);
    jw_string(&b, path);
    jw_frame_end(&b, off);
    send_buf(s, c, &b);
    jb_free(&b);
}

static void tree_event(void *ctx, const char *path, int event)
{
    struct server *s = ctx;
    watch_trigger(s->watches, path, event, fire, s);
}

/* ---------------- lifecycle ---------------- */

struct server *server_new(const struct server_opts *opts, const struct server_io *io, int64_t now_mono,
                          int64_t now_wall)
{
    struct server *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->opts = *opts;
    s->io = *io;
    s->now_mono = now_mono;
    s->now_wall = now_wall;
    s->st.started_ms = now_wall;
    s->st.lat_min = INT64_MAX;
    /* ZooKeeper derives passwords from a fixed secret too, so any restart can check them */
    static const uint8_t secret[16] = {0xb3, 0x41, 0x5c, 0x00, 0x7a, 0x6b, 0x66, 0x73,
                                       0x2d, 0x73, 0x65, 0x73, 0x73, 0x69, 0x6f, 0x6e};
    memcpy(s->secret, secret, sizeof(secret));
    if (tree_init(&s->tree) < 0)
        goto fail_tree;
    prep_init(&s->prep, &s->tree);
    s->prep.ttl_enabled = opts->ttl_enabled;
    if (!(s->sessions = sess_new(opts->tick_ms, opts->server_id, now_wall)))
        goto fail_sess;
    if (!(s->watches = watch_new()))
        goto fail_watch;
    return s;
fail_watch:
    sess_free(s->sessions);
fail_sess:
    prep_destroy(&s->prep);
    tree_destroy(&s->tree);
fail_tree:
    free(s);
    return NULL;
}

static void drop_pending(struct server *s);

static void preq_free(struct preq *q)
{
    jute_free_request(&q->req);
    free(q->frame);
    txn_result_free(&q->res);
    if (q->txn) {
        txn_free(q->txn);
        free(q->txn);
    }
    free(q);
}

void server_free(struct server *s)
{
    if (!s)
        return;
    while (s->conns) {
        struct zconn *c = s->conns;
        c->closed = true;
        server_conn_closed(s, c);
    }
    /* txns never made durable: their requests were left to them by the closed connections */
    drop_pending(s);
    watch_free(s->watches);
    sess_free(s->sessions);
    prep_destroy(&s->prep);
    tree_destroy(&s->tree);
    free(s->touched);
    free(s);
}

void server_set_time(struct server *s, int64_t now_mono, int64_t now_wall)
{
    s->now_mono = now_mono;
    s->now_wall = now_wall;
}

struct zconn *server_conn_open(struct server *s, void *io, const char *ip, int port)
{
    struct zconn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->srv = s;
    c->io = io;
    c->refs = 1;
    snprintf(c->remote_ip, sizeof(c->remote_ip), "%s", ip);
    snprintf(c->remote, sizeof(c->remote), "%s:%d", ip, port);
    c->st.established_ms = s->now_wall;
    c->st.lat_min = INT64_MAX;
    if (acl_auth_add_id(&c->auth, "ip", ip) != ZOK) {
        free(c);
        return NULL;
    }
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->st.connections_total++;
    return c;
}

void server_conn_closed(struct server *s, struct zconn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else if (s->conns == c)
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
    s->nconns--;
    c->closed = true;
    watch_remove_all(s->watches, c);
    if (c->session) {
        struct zk_session *se = sess_get(s->sessions, c->session);
        if (se && se->owner == c)
            se->owner = NULL;
    }
    /* queued requests die with the connection; in-flight writes still commit */
    struct preq *q = c->qhead;
    while (q) {
        struct preq *n = q->next;
        if (q->state == PQ_INFLIGHT && !q->remote) {
            /* the ptxn still points at q: it frees it on completion */
            q->next = NULL;
        } else {
            preq_free(q);
        }
        q = n;
    }
    c->qhead = c->qtail = NULL;
    c->nqueued = 0;
    conn_unref(c);
}

/* ---------------- sessions ---------------- */

static void close_session_conn(struct server *s, int64_t session, const char *why)
{
    for (struct zconn *c = s->conns; c; c = c->next)
        if (c->session == session && !c->closed) {
            LOG_INFO("closing connection %s of session 0x%" PRIx64 ": %s", c->remote, (uint64_t)session, why);
            s->io.close(s->io.ctx, c);
            c->closing = true;
        }
}

static void submit(struct server *s, struct txn *x, struct zconn *c, struct preq *pq, int64_t from);
static void replay_early(struct server *s, struct zconn *c);

/* Followers and observers hand writes, session creation, revalidation and sync to the leader. */
static bool forwarding(const struct server *s) { return s->mode == SRV_FOLLOWING || s->mode == SRV_OBSERVING; }

/* Touches a session, remembering it for the leader when this server is not the one that
 * expires sessions. */
static int touch(struct server *s, int64_t id)
{
    int rc = sess_touch(s->sessions, id, s->now_mono);
    struct zk_session *se;
    if (rc != ZOK || !forwarding(s) || !(se = sess_get(s->sessions, id)) || se->mark == s->touch_gen + 1)
        return rc;
    if (s->ntouched == s->ctouched) {
        size_t cap = s->ctouched ? 2 * s->ctouched : 64;
        int64_t *p = realloc(s->touched, cap * sizeof(*p));
        if (!p)
            return rc; /* the session's next request will be remembered */
        s->touched = p;
        s->ctouched = cap;
    }
    se->mark = s->touch_gen + 1;
    s->touched[s->ntouched++] = id;
    return rc;
}

size_t server_take_touched(struct server *s, const int64_t **ids)
{
    size_t n = s->ntouched;
    *ids = s->touched;
    s->ntouched = 0;
    s->touch_gen++; /* every mark is stale now */
    return n;
}

static void send_connect_response(struct server *s, struct zconn *c, bool valid)
{
    struct zk_connect_resp r = {0};
    if (valid) {
        r.timeOut = c->timeout;
        r.sessionId = c->session;
        sess_password(c->session, s->secret, r.passwd);
    }
    struct jbuf b;
    jb_init(&b);
    size_t off = jw_frame_begin(&b);
    jute_write_connect_resp(&b, &r, !c->old_client);
    jw_frame_end(&b, off);
    send_buf(s, c, &b);
    jb_free(&b);
    if (!valid) {
        LOG_INFO("invalid session 0x%" PRIx64 " for client %s, probably expired", (uint64_t)c->session,
                 c->remote);
        s->io.close(s->io.ctx, c);
        c->closing = true;
    }
}

static void attach(struct server *s, struct zconn *c, struct zk_session *se);

static int handle_connect(struct server *s, struct zconn *c, const uint8_t *p, size_t n)
{
    struct jrd r;
    struct zk_connect_req cr;
    jr_init(&r, p, n);
    if (jute_read_connect_req(&r, &cr) != ZOK) {
        LOG_WARN("malformed ConnectRequest (%zu bytes) from %s; closing", n, c->remote);
        return -1;
    }
    c->handshaken = true;
    c->old_client = !cr.has_readOnly;
    if (s->mode == SRV_LOOKING) {
        LOG_INFO("refusing client %s: this server is not serving (it has no quorum, or is electing or "
                 "syncing with a leader); the client must try another server",
                 c->remote);
        return -1;
    }
    if (cr.protocolVersion != 0)
        LOG_INFO("client %s speaks protocol version %d; answering as version 0", c->remote, cr.protocolVersion);
    if (cr.lastZxidSeen > server_last_zxid(s)) {
        LOG_INFO("refusing session 0x%" PRIx64 " for client %s: it has seen zxid 0x%" PRIx64
                 ", our last zxid is 0x%" PRIx64 "; client must try another server",
                 (uint64_t)cr.sessionId, c->remote, (uint64_t)cr.lastZxidSeen, (uint64_t)server_last_zxid(s));
        return -1;
    }
    int32_t to = cr.timeOut;
    if (to < s->opts.min_session_timeout)
        to = s->opts.min_session_timeout;
    if (to > s->opts.max_session_timeout)
        to = s->opts.max_session_timeout;
    c->timeout = to;
    if (cr.sessionId == 0) {
        int64_t id = sess_next_id(s->sessions);
        if (forwarding(s)) {
            /* the session exists once the leader's createSession commits */
            c->session = id;
            c->awaiting_session = true;
            uint8_t body[4] = {(uint8_t)(to >> 24), (uint8_t)(to >> 16), (uint8_t)(to >> 8), (uint8_t)to};
            s->repl.forward(s->repl.ctx, id, 0, ZOP_CREATESESSION, body, sizeof(body));
            return 0;
        }
        if (sess_add(s->sessions, id, to, s->now_mono) != ZOK) {
            LOG_ERROR("session id 0x%" PRIx64 " collides with a live session; closing %s", (uint64_t)id, c->remote);
            return -1;
        }
        c->session = id;
        sess_get(s->sessions, id)->owner = c;
        sess_get(s->sessions, id)->holder = s->opts.server_id;
        struct txn *x = calloc(1, sizeof(*x));
        if (!x || prep_create_session(&s->prep, id, to, s->now_wall, x) != ZOK) {
            free(x);
            return -1;
        }
        submit(s, x, c, NULL, 0); /* the ConnectResponse goes out once the session is durable */
        return 0;
    }
    /* reconnect: the password must match and the session must be alive */
    c->session = cr.sessionId;
    uint8_t pw[16];
    sess_password(cr.sessionId, s->secret, pw);
    struct zk_session *se = sess_get(s->sessions, cr.sessionId);
    if (cr.passwd_len != 16 || memcmp(pw, cr.passwd, 16) != 0 || !se || se->closing ||
        touch(s, cr.sessionId) != ZOK) {
        send_connect_response(s, c, false);
        return 0;
    }
    if (forwarding(s)) {
        /* only the leader knows whether the session is still alive */
        c->revalidating = true;
        s->repl.revalidate(s->repl.ctx, cr.sessionId, to);
        return 0;
    }
    se->holder = s->opts.server_id;
    attach(s, c, se);
    return 0;
}

/* The session moves to c: its previous connection, if any, is closed. */
static void attach(struct server *s, struct zconn *c, struct zk_session *se)
{
    for (struct zconn *o = s->conns; o; o = o->next)
        if (o != c && o->session == se->id && !o->closed && !o->closing) {
            LOG_INFO("session 0x%" PRIx64 " reconnected from %s; closing its old connection %s", (uint64_t)se->id,
                     c->remote, o->remote);
            o->closing = true;
            s->io.close(s->io.ctx, o);
        }
    se->owner = c;
    c->ready = true;
    send_connect_response(s, c, true);
    LOG_DEBUG("session 0x%" PRIx64 " reattached from %s, timeout %d", (uint64_t)c->session, c->remote, c->timeout);
}

/* ---------------- reads ---------------- */

/* Looks a read path up as ZooKeeper does: an embedded NUL can match no node. */
static struct znode *lookup(struct server *s, const struct zk_request *q)
{
    if (!q->path || (int32_t)strlen(q->path) != q->pathlen)
        return NULL;
    return tree_get(&s->tree, q->path);
}

static void stat_of(const struct znode *n, struct zk_stat *st) { tree_client_stat(n, st); }

static int read_get_data(struct server *s, struct zconn *c, const struct zk_request *q, struct zk_response *res)
{
    struct znode *n = lookup(s, q);
    if (!n)
        return ZNONODE;
    int rc = acl_check(n->acl, ZPERM_READ, &c->auth);
    if (rc)
        return rc;
    res->type = ZOP_GETDATA;
    res->data = n->data; /* borrowed: the response is written before the tree changes */
    res->datalen = n->datalen;
    if (n->datalen == 0 && !n->data)
        res->data = (uint8_t *)"";
    stat_of(n, &res->stat);
    if (q->watch)
        watch_add(s->watches, n->path, WATCH_DATA, c);
    return ZOK;
}

static int read_children(struct server *s, struct zconn *c, const struct zk_request *q, struct zk_response *res)
{
    struct znode *n = lookup(s, q);
    if (!n)
        return ZNONODE;
    int rc = acl_check(n->acl, ZPERM_READ, &c->auth);
    if (rc)
        return rc;
    const char **names;
    int32_t k = tree_children(n, &names);
    if (k < 0)
        return ZSYSTEMERROR;
    res->type = q->type == ZOP_GETCHILDREN2 ? ZOP_GETCHILDREN2 : ZOP_GETCHILDREN;
    res->children = (char **)names; /* borrowed names, freed array after writing */
    res->nchildren = k;
    stat_of(n, &res->stat);
    if (q->watch)
        watch_add(s->watches, n->path, WATCH_CHILD, c);
    return ZOK;
}

static int read_get_acl(struct server *s, struct zconn *c, const struct zk_request *q, struct zk_response *res,
                        struct zk_acl **hidden)
{
    struct znode *n = lookup(s, q);
    if (!n)
        return ZNONODE;
    int rc = acl_check(n->acl, ZPERM_READ | ZPERM_ADMIN, &c->auth);
    if (rc)
        return rc;
    res->type = ZOP_GETACL;
    res->acl = n->acl->v;
    res->nacl = n->acl->n;
    stat_of(n, &res->stat);
    /* CVE-2019-0201: without ADMIN, digest hashes are not shown */
    if (acl_check(n->acl, ZPERM_ADMIN, &c->auth) != ZOK) {
        if (acl_hide_digests(n->acl->v, n->acl->n, hidden) != ZOK)
            return ZSYSTEMERROR;
        res->acl = *hidden;
    }
    return ZOK;
}

/* A one-shot data or child watch re-armed after a reconnect fires at once when its node is
 * gone or changed after the client's last zxid, as DataTree.setWatches does. */
static void rearm(struct server *s, struct zconn *c, const char *p, int64_t rel, bool child)
{
    struct znode *n = tree_get(&s->tree, p);
    if (!n)
        fire(s, c, ZEV_DELETED, p);
    else if ((child ? n->stat.pzxid : n->stat.mzxid) > rel)
        fire(s, c, child ? ZEV_CHILD : ZEV_CHANGED, p);
    else
        watch_add(s->watches, p, child ? WATCH_CHILD : WATCH_DATA, c);
}

static void set_watches(struct server *s, struct zconn *c, const struct zk_request *q)
{
    for (int k = 0; k < ZW_NKINDS; k++)
        for (int32_t i = 0; i < q->nwatches[k]; i++) {
            const char *p = q->watches[k][i];
            if (!p)
                continue;
            if (k == ZW_DATA || k == ZW_CHILD)
                rearm(s, c, p, q->relZxid, k == ZW_CHILD);
            else if (k == ZW_EXIST && tree_get(&s->tree, p))
                fire(s, c, ZEV_CREATED, p);
            else
                watch_add(s->watches, p,
                          k == ZW_EXIST        ? WATCH_DATA
                          : k == ZW_PERSISTENT ? WATCH_PERSISTENT
                                               : WATCH_PERSISTENT_RECURSIVE,
                          c);
        }
}

static int get_ephemerals(struct server *s, struct zconn *c, const struct zk_request *q, struct zk_response *res)
{
    const struct hmap *set = tree_ephemerals(&s->tree, c->session);
    res->type = ZOP_GETEPHEMERALS;
    if (!set)
        return ZOK;
    res->children = malloc(set->len * sizeof(char *));
    if (!res->children)
        return ZSYSTEMERROR;
    const char *prefix = q->path;
    while (prefix && *prefix == ' ')
        prefix++;
    bool all = !prefix || !*prefix || !strcmp(prefix, "/");
    struct hmap_slot *sl;
    for (size_t i = 0; hmap_next(set, &i, &sl);)
        if (all || strncmp(sl->key, q->path, strlen(q->path)) == 0)
            res->children[res->nchildren++] = sl->key;
    return ZOK;
}

/* ClientInfo per identity: the scheme and the provider's user name (AuthUtil.getClientInfos). */
static int who_am_i(struct zconn *c, struct zk_response *res)
{
    res->type = ZOP_WHOAMI;
    res->clients = calloc((size_t)(c->auth.n > 0 ? c->auth.n : 1), sizeof(*res->clients));
    if (!res->clients)
        return ZSYSTEMERROR;
    for (int i = 0; i < c->auth.n; i++) {
        res->clients[i].scheme = c->auth.ids[i].scheme;
        if (acl_user_name(&c->auth.ids[i], &res->clients[i].id) != ZOK)
            res->clients[i].id = NULL;
        res->nclients++;
    }
    return ZOK;
}

/* Executes a read-class request and sends its reply. */
static void do_read(struct server *s, struct zconn *c, struct preq *pq)
{
    struct zk_request *q = &pq->req;
    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = q->type;
    struct zk_acl *hidden = NULL;
    int rc = ZOK;
    int32_t xid = q->xid;
    bool free_children = false;
    switch (q->type) {
    case ZOP_PING:
        xid = ZXID_PING;
        break;
    case ZOP_EXISTS: {
        if (!q->path) {
            rc = ZMARSHALLINGERROR;
            break;
        }
        if ((int32_t)strlen(q->path) != q->pathlen) {
            rc = ZBADARGUMENTS;
            break;
        }
        /* ZooKeeper 3.8 answers exists without an ACL check (later versions check READ);
         * we keep 3.8's answer, which clients written for it rely on */
        struct znode *n = tree_get(&s->tree, q->path);
        if (q->watch)
            watch_add(s->watches, q->path, WATCH_DATA, c);
        if (!n)
            rc = ZNONODE;
        else
            stat_of(n, &res.stat);
        break;
    }
    case ZOP_GETDATA:
        rc = q->path ? read_get_data(s, c, q, &res) : ZMARSHALLINGERROR;
        break;
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2:
        rc = q->path ? read_children(s, c, q, &res) : ZMARSHALLINGERROR;
        free_children = rc == ZOK;
        break;
    case ZOP_GETACL:
        rc = q->path ? read_get_acl(s, c, q, &res, &hidden) : ZMARSHALLINGERROR;
        break;
    case ZOP_GETALLCHILDRENNUMBER: {
        struct znode *n = lookup(s, q);
        if (!n)
            rc = q->path ? ZNONODE : ZMARSHALLINGERROR;
        else if (!(rc = acl_check(n->acl, ZPERM_READ, &c->auth)))
            res.number = tree_count_descendants(&s->tree, n);
        break;
    }
    case ZOP_SYNC:
        res.path = q->path;
        break;
    case ZOP_SETWATCHES:
    case ZOP_SETWATCHES2:
        set_watches(s, c, q);
        xid = ZXID_SET_WATCHES;
        break;
    case ZOP_ADDWATCH:
        if (!q->path)
            rc = ZMARSHALLINGERROR;
        else if (q->mode == ZADDWATCH_PERSISTENT || q->mode == ZADDWATCH_PERSISTENT_RECURSIVE)
            watch_add(s->watches, q->path,
                      q->mode == ZADDWATCH_PERSISTENT ? WATCH_PERSISTENT : WATCH_PERSISTENT_RECURSIVE, c);
        else
            rc = ZBADARGUMENTS;
        break;
    case ZOP_CHECKWATCHES:
    case ZOP_REMOVEWATCHES:
        if (!q->path)
            rc = ZMARSHALLINGERROR;
        else if (q->mode < ZWT_CHILDREN || q->mode > ZWT_PERSISTENT_RECURSIVE)
            rc = ZBADARGUMENTS;
        else
            rc = q->type == ZOP_CHECKWATCHES ? watch_contains(s->watches, q->path, q->mode, c)
                                             : watch_remove(s->watches, q->path, q->mode, c);
        break;
    case ZOP_GETEPHEMERALS:
        rc = get_ephemerals(s, c, q, &res);
        break;
    case ZOP_WHOAMI:
        rc = who_am_i(c, &res);
        break;
    case ZOP_MULTIREAD: {
        res.results = calloc((size_t)(q->nops > 0 ? q->nops : 1), sizeof(*res.results));
        if (!res.results) {
            rc = ZSYSTEMERROR;
            break;
        }
        res.nresults = q->nops;
        for (int32_t i = 0; i < q->nops; i++) {
            struct zk_request *op = &q->ops[i];
            struct zk_response *sr = &res.results[i];
            int src = !op->path                      ? ZMARSHALLINGERROR
                      : op->type == ZOP_GETDATA     ? read_get_data(s, c, op, sr)
                      : op->type == ZOP_GETCHILDREN ? read_children(s, c, op, sr)
                                                    : ZBADARGUMENTS;
            if (src) {
                memset(sr, 0, sizeof(*sr));
                sr->type = ZOP_ERROR;
                sr->err = src;
            }
        }
        break;
    }
    default:
        rc = ZUNIMPLEMENTED;
        break;
    }
    send_reply(s, c, xid, rc, &res);
    if (free_children)
        free(res.children);
    if (q->type == ZOP_GETEPHEMERALS)
        free(res.children);
    for (int32_t i = 0; i < res.nclients; i++)
        free(res.clients[i].id);
    free(res.clients);
    for (int32_t i = 0; i < res.nresults; i++)
        if (res.results[i].type == ZOP_GETCHILDREN)
            free(res.results[i].children);
    free(res.results);
    jute_free_acls(hidden, hidden ? res.nacl : 0);
}

/* ---------------- the per-connection queue ---------------- */

static void account(struct server *s, struct zconn *c, struct preq *pq)
{
    int64_t lat = s->now_mono - pq->start_mono;
    if (lat < 0)
        lat = 0;
    c->st.lat_sum += lat;
    c->st.lat_count++;
    if (lat < c->st.lat_min)
        c->st.lat_min = lat;
    if (lat > c->st.lat_max)
        c->st.lat_max = lat;
    s->st.lat_sum += lat;
    s->st.lat_count++;
    if (lat < s->st.lat_min)
        s->st.lat_min = lat;
    if (lat > s->st.lat_max)
        s->st.lat_max = lat;
    c->st.last_op = pq->type;
    c->st.last_cxid = pq->xid;
}

static void reply_done(struct server *s, struct zconn *c, struct preq *pq)
{
    struct zk_response res;
    memset(&res, 0, sizeof(res));
    res.type = pq->type;
    int32_t err = pq->err;
    struct txn_result *r = &pq->res;
    switch (pq->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATETTL:
    case ZOP_CREATECONTAINER:
        res.path = (char *)r->path;
        res.stat = r->stat;
        break;
    case ZOP_SETDATA:
    case ZOP_SETACL:
    case ZOP_CHECK:
        res.stat = r->stat;
        break;
    case ZOP_MULTI:
        if (err)
            break;
        res.results = calloc((size_t)(r->nsubs > 0 ? r->nsubs : 1), sizeof(*res.results));
        if (!res.results) {
            err = ZSYSTEMERROR;
            break;
        }
        res.nresults = r->nsubs;
        for (int32_t i = 0; i < r->nsubs; i++) {
            struct txn_result *sr = &r->subs[i];
            struct zk_response *o = &res.results[i];
            o->type = sr->type == ZOP_ERROR || sr->err ? ZOP_ERROR : sr->type;
            o->err = sr->type == ZOP_ERROR ? sr->err : sr->err;
            o->path = (char *)sr->path;
            o->stat = sr->stat;
        }
        break;
    default:
        break;
    }
    send_reply(s, c, pq->xid, err, &res);
    free(res.results);
}

/* Answers everything at the head of the queue that can be answered now. */
static void drain(struct server *s, struct zconn *c)
{
    while (c->qhead && !c->closed) {
        struct preq *pq = c->qhead;
        if (pq->state == PQ_INFLIGHT)
            return;
        c->qhead = pq->next;
        c->nqueued--;
        if (!c->qhead)
            c->qtail = NULL;
        if (pq->state == PQ_READ)
            do_read(s, c, pq);
        else
            reply_done(s, c, pq);
        account(s, c, pq);
        bool close_after = pq->type == ZOP_CLOSESESSION;
        preq_free(pq);
        if (close_after) {
            s->io.close(s->io.ctx, c);
            return;
        }
    }
}

static void enqueue(struct zconn *c, struct preq *pq)
{
    pq->next = NULL;
    c->nqueued++;
    if (c->qtail)
        c->qtail->next = pq;
    else
        c->qhead = pq;
    c->qtail = pq;
}

/* Clients may send requests (auth, setWatches) right behind their ConnectRequest; ZooKeeper
 * stops reading until the session exists, we hold them (bounded) and replay them then. */
#define MAX_EARLY_FRAMES 64
struct early {
    struct early *next;
    size_t n;
    uint8_t p[];
};

static int hold_early(struct server *s, struct zconn *c, const uint8_t *p, size_t n)
{
    size_t count = 0;
    struct early **tail = &c->early;
    for (; *tail; tail = &(*tail)->next)
        count++;
    if (count >= MAX_EARLY_FRAMES) {
        LOG_WARN("%s sent over %d requests before its session was established; closing", c->remote,
                 MAX_EARLY_FRAMES);
        return -1;
    }
    struct early *e = malloc(sizeof(*e) + n);
    if (!e)
        return -1;
    e->next = NULL;
    e->n = n;
    memcpy(e->p, p, n);
    *tail = e;
    c->st.packets_received--; /* counted again when replayed */
    s->st.packets_received--;
    return 0;
}

static void free_early(struct zconn *c)
{
    while (c->early) {
        struct early *e = c->early;
        c->early = e->next;
        free(e);
    }
}

static void replay_early(struct server *s, struct zconn *c)
{
    while (c->early && !c->closed && !c->closing) {
        struct early *e = c->early;
        c->early = e->next;
        if (server_frame(s, c, e->p, e->n) < 0) {
            c->closing = true;
            s->io.close(s->io.ctx, c);
        }
        free(e);
    }
    free_early(c);
}

/* ---------------- the write path ---------------- */

static void submit(struct server *s, struct txn *x, struct zconn *c, struct preq *pq, int64_t from)
{
    struct ptxn *p = calloc(1, sizeof(*p));
    if (!p) {
        /* cannot even queue: the only safe answer is to drop the connection */
        LOG_ERROR("out of memory queueing txn 0x%" PRIx64, (uint64_t)x->zxid);
        txn_free(x);
        free(x);
        if (c)
            s->io.close(s->io.ctx, c);
        return;
    }
    p->txn = *x;
    free(x);
    p->conn = c;
    p->pq = pq;
    p->from = from;
    if (c)
        conn_ref(c);
    if (s->ctail)
        s->ctail->next = p;
    else
        s->chead = p;
    s->ctail = p;
    s->st.outstanding++;
    if (p->txn.zxid == 0) {
        /* a failed multi or a refused request: nothing to log; it completes in order behind
         * earlier txns */
        if (p == s->chead)
            server_durable(s, server_last_zxid(s));
        return;
    }
    if (s->io.log_append)
        s->io.log_append(s->io.log_ctx, &p->txn);
    else
        server_durable(s, p->txn.zxid);
}

/* Session-table side of applying a txn (the tree side is tree_apply). */
static void apply_sessions(struct server *s, const struct txn *x)
{
    if (x->type == ZOP_CREATESESSION && !sess_get(s->sessions, x->session))
        sess_add(s->sessions, x->session, x->timeout, s->now_mono);
    else if (x->type == ZOP_CLOSESESSION)
        sess_remove(s->sessions, x->session);
}

void server_set_log(struct server *s, void (*log_append)(void *log_ctx, const struct txn *x), void *log_ctx)
{
    s->io.log_append = log_append;
    s->io.log_ctx = log_ctx;
}

void server_replay(struct server *s, const struct txn *x)
{
    struct txn_result res;
    tree_apply(&s->tree, x, &res, NULL, NULL);
    if (res.err && x->type != ZOP_MULTI)
        LOG_WARN("replayed txn 0x%" PRIx64 " (%s %s) gave %s", (uint64_t)x->zxid, zop_name(x->type),
                 x->path ? x->path : "", zerr_name(res.err));
    txn_result_free(&res);
    apply_sessions(s, x);
}

void server_recovered(struct server *s) { s->prep.last_zxid = s->tree.last_zxid; }

void server_durable(struct server *s, int64_t zxid)
{
    while (s->chead && s->chead->txn.zxid <= zxid) {
        struct ptxn *p = s->chead;
        s->chead = p->next;
        if (!s->chead)
            s->ctail = NULL;
        s->st.outstanding--;
        struct txn_result res;
        memset(&res, 0, sizeof(res));
        if (p->txn.zxid) {
            tree_apply(&s->tree, &p->txn, &res, tree_event, s);
            apply_sessions(s, &p->txn);
            prep_applied(&s->prep, p->txn.zxid);
            struct zk_session *se;
            if (p->txn.type == ZOP_CREATESESSION && (se = sess_get(s->sessions, p->txn.session)))
                se->holder = p->conn ? s->opts.server_id : p->from;
            if (res.err && p->txn.type != ZOP_MULTI && p->txn.type != ZOP_ERROR)
                LOG_WARN("txn 0x%" PRIx64 " (%s %s) applied with %s", (uint64_t)p->txn.zxid,
                         zop_name(p->txn.type), p->txn.path ? p->txn.path : "", zerr_name(res.err));
        } else if (p->txn.type == ZOP_ERROR) {
            /* a request prep refused, answered in order behind the txns before it */
            res.err = p->pq ? p->pq->err : ZOK;
        } else {
            /* failed multi: per-op error results straight from prep */
            res.type = ZOP_MULTI;
            res.nsubs = p->txn.nsubs;
            res.subs = calloc((size_t)(p->txn.nsubs > 0 ? p->txn.nsubs : 1), sizeof(*res.subs));
            for (int32_t i = 0; res.subs && i < p->txn.nsubs; i++) {
                res.subs[i].type = ZOP_ERROR;
                res.subs[i].err = p->txn.subs[i].err;
            }
        }
        struct zconn *c = p->conn;
        if (p->txn.type == ZOP_CLOSESESSION && !c) /* a client's own close is closed after its reply */
            close_session_conn(s, p->txn.session, "session expired");
        if (c && p->txn.type == ZOP_CREATESESSION) {
            if (!c->closed) {
                c->ready = true;
                send_connect_response(s, c, true);
                LOG_DEBUG("established session 0x%" PRIx64 " for %s, timeout %d", (uint64_t)c->session,
                          c->remote, c->timeout);
                replay_early(s, c);
            }
            txn_result_free(&res);
            txn_free(&p->txn);
        } else if (c && p->pq) {
            struct preq *pq = p->pq;
            c->inflight--;
            pq->res = res;
            pq->err = p->txn.type == ZOP_MULTI ? ZOK : res.err;
            pq->txn = malloc(sizeof(*pq->txn));
            if (pq->txn)
                *pq->txn = p->txn;
            else
                txn_free(&p->txn); /* res paths dangle: answer without them */
            pq->state = PQ_DONE;
            if (c->closed)
                preq_free(pq);
            else
                drain(s, c);
        } else {
            txn_result_free(&res);
            txn_free(&p->txn);
        }
        if (c)
            conn_unref(c);
        free(p);
    }
}

/* ---------------- frames ---------------- */

/* Every op of a write (and every op of a multi) names a path. */
static bool paths_present(const struct zk_request *q)
{
    if (q->type == ZOP_CLOSESESSION)
        return true;
    if (q->type != ZOP_MULTI)
        return q->path != NULL;
    for (int32_t i = 0; i < q->nops; i++)
        if (!q->ops[i].path)
            return false;
    return true;
}

static bool is_read(int32_t type)
{
    switch (type) {
    case ZOP_PING:
    case ZOP_EXISTS:
    case ZOP_GETDATA:
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2:
    case ZOP_GETACL:
    case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_SYNC:
    case ZOP_SETWATCHES:
    case ZOP_SETWATCHES2:
    case ZOP_ADDWATCH:
    case ZOP_CHECKWATCHES:
    case ZOP_REMOVEWATCHES:
    case ZOP_GETEPHEMERALS:
    case ZOP_WHOAMI:
    case ZOP_MULTIREAD:
        return true;
    default:
        return false;
    }
}

static void handle_auth(struct server *s, struct zconn *c, struct zk_request *q)
{
    int rc = ZAUTHFAILED;
    if (q->scheme)
        rc = acl_auth_add(&c->auth, q->scheme, q->auth, q->authlen, s->opts.super_digest);
    struct jbuf b;
    size_t off;
    begin_reply(&b, &off, ZXID_AUTH, 0, rc == ZOK ? ZOK : ZAUTHFAILED);
    jw_frame_end(&b, off);
    send_buf(s, c, &b);
    jb_free(&b);
    if (rc != ZOK) {
        LOG_WARN("authentication failed for scheme '%s' from %s; closing", q->scheme ? q->scheme : "(null)",
                 c->remote);
        c->closing = true;
        s->io.close(s->io.ctx, c);
    }
}

/* A request that fails before reaching the log: answered in its turn on the connection. */
static void answer_error(struct server *s, struct zconn *c, struct preq *pq, int32_t err)
{
    jute_free_request(&pq->req);
    pq->err = err;
    pq->state = PQ_DONE;
    enqueue(c, pq);
    drain(s, c);
}

/* A request answered later: its decoded form must not borrow the caller's frame. */
static int keep_frame(struct preq *pq, const uint8_t *p, size_t n)
{
    uint8_t *copy = malloc(n ? n : 1);
    if (!copy)
        return -1;
    memcpy(copy, p, n);
    jute_free_request(&pq->req);
    struct jrd r;
    jr_init(&r, copy, n);
    pq->req.xid = jr_int(&r);
    pq->req.type = jr_int(&r);
    jute_read_request(&r, &pq->req);
    pq->frame = copy;
    return 0;
}

int server_frame(struct server *s, struct zconn *c, const uint8_t *p, size_t n)
{
    if (c->closed || c->closing)
        return 0;
    c->st.packets_received++;
    s->st.packets_received++;
    if (!c->handshaken)
        return handle_connect(s, c, p, n);
    if (!c->ready)
        return hold_early(s, c, p, n);
    struct jrd r;
    jr_init(&r, p, n);
    struct preq *pq = calloc(1, sizeof(*pq));
    if (!pq)
        return -1;
    pq->start_mono = s->now_mono;
    pq->req.xid = pq->xid = jr_int(&r);
    pq->req.type = pq->type = jr_int(&r);
    if (r.err) {
        LOG_WARN("truncated request header (%zu bytes) from %s; closing", n, c->remote);
        free(pq);
        s->st.bad_frames++;
        return -1;
    }
    touch(s, c->session);
    int rc = jute_read_request(&r, &pq->req);
    if (rc == ZUNIMPLEMENTED || (rc == ZOK && !is_read(pq->type) && !prep_is_write(pq->type) &&
                                 pq->type != ZOP_AUTH)) {
        /* as ZooKeeper: answer UNIMPLEMENTED, then close */
        LOG_WARN("unknown opcode %d (xid %d) from %s, session 0x%" PRIx64 "; answering UNIMPLEMENTED and closing",
                 pq->type, pq->xid, c->remote, (uint64_t)c->session);
        struct jbuf b;
        size_t off;
        begin_reply(&b, &off, pq->xid, -1, ZUNIMPLEMENTED); /* zxid -1: never prepared, as in Java */
        jw_frame_end(&b, off);
        send_buf(s, c, &b);
        jb_free(&b);
        preq_free(pq);
        c->closing = true;
        s->io.close(s->io.ctx, c);
        return 0;
    }
    if (rc != ZOK) {
        /* as ZooKeeper: the request fails with MARSHALLINGERROR, the connection stays */
        LOG_WARN("malformed %s request (xid %d, %zu bytes) from %s, session 0x%" PRIx64
                 ": answering MARSHALLINGERROR",
                 zop_name(pq->type), pq->xid, n, c->remote, (uint64_t)c->session);
        s->st.bad_frames++;
        answer_error(s, c, pq, ZMARSHALLINGERROR);
        return 0;
    }
    if (pq->type == ZOP_AUTH) {
        handle_auth(s, c, &pq->req);
        preq_free(pq);
        return 0;
    }
    if (pq->type == ZOP_SYNC && forwarding(s)) {
        /* answered as a read once this server has applied what the leader had committed */
        if (keep_frame(pq, p, n) < 0) {
            preq_free(pq);
            return -1;
        }
        pq->state = PQ_INFLIGHT;
        pq->sync_wait = true;
        pq->remote = true;
        enqueue(c, pq);
        s->repl.sync(s->repl.ctx, c->session, pq->xid);
        return 0;
    }
    if (is_read(pq->type)) {
        if (!c->qhead) { /* nothing ahead: answer now without copying the frame */
            do_read(s, c, pq);
            account(s, c, pq);
            preq_free(pq);
            return 0;
        }
        /* behind a write of this connection: keep the frame, answer in order */
        if (keep_frame(pq, p, n) < 0) {
            preq_free(pq);
            return -1;
        }
        pq->state = PQ_READ;
        enqueue(c, pq);
        return 0;
    }
    /* a write */
    if (forwarding(s)) {
        if (!paths_present(&pq->req)) {
            answer_error(s, c, pq, ZMARSHALLINGERROR);
            return 0;
        }
        jute_free_request(&pq->req);
        if (pq->type == ZOP_CLOSESESSION)
            c->closing = true;
        struct jbuf b;
        jb_init(&b);
        jw_int(&b, c->auth.n);
        for (int i = 0; i < c->auth.n; i++) {
            jw_string(&b, c->auth.ids[i].scheme);
            jw_string(&b, c->auth.ids[i].id);
        }
        jw_raw(&b, p, n);
        if (b.oom) {
            jb_free(&b);
            preq_free(pq);
            return -1;
        }
        s->repl.forward(s->repl.ctx, c->session, pq->xid, pq->type, b.p, b.len);
        jb_free(&b);
        pq->state = PQ_INFLIGHT;
        pq->remote = true;
        c->inflight++;
        enqueue(c, pq);
        return 0;
    }
    struct txn *x = calloc(1, sizeof(*x));
    if (!x) {
        preq_free(pq);
        return -1;
    }
    if (pq->type == ZOP_CLOSESESSION) {
        rc = prep_close_session(&s->prep, c->session, s->now_wall, x);
        if (rc == ZOK) {
            sess_set_closing(s->sessions, c->session);
            c->closing = true;
        }
    } else {
        struct prep_ctx ctx = {.session = c->session, .cxid = pq->xid, .now = s->now_wall, .auth = &c->auth};
        if (!paths_present(&pq->req))
            rc = ZMARSHALLINGERROR; /* Java fails the whole request on a null path */
        else
            rc = prep_request(&s->prep, &pq->req, &ctx, x);
    }
    jute_free_request(&pq->req);
    if (rc != ZOK && s->chead) {
        /* The error may come from a change still on its way to the log (another session's
         * create, say): as in ZooKeeper, the answer waits behind it, so that what this
         * client reads next agrees with the error it got. */
        memset(x, 0, sizeof(*x));
        x->type = ZOP_ERROR;
        pq->err = rc;
        pq->state = PQ_INFLIGHT;
        c->inflight++;
        enqueue(c, pq);
        submit(s, x, c, pq, 0);
        return 0;
    }
    if (rc != ZOK) {
        free(x);
        answer_error(s, c, pq, rc);
        return 0;
    }
    pq->state = PQ_INFLIGHT;
    c->inflight++;
    enqueue(c, pq);
    submit(s, x, c, pq, 0);
    return 0;
}

/* ---------------- time ---------------- */

static void sweep_containers(struct server *s)
{
    struct hmap_slot *sl;
    char *victims[64];
    int nv = 0;
    for (size_t i = 0; hmap_next(&s->tree.containers, &i, &sl) && nv < 64;) {
        struct znode *n = sl->val;
        if (n->children.len)
            continue;
        int64_t owner = n->stat.ephemeralOwner;
        bool expired_container = owner == ZK_CONTAINER_OWNER && n->stat.cversion > 0;
        bool expired_ttl = owner != ZK_CONTAINER_OWNER && s->now_wall - n->stat.mtime > (owner & ZK_TTL_MAX);
        if (expired_container || expired_ttl)
            victims[nv++] = strdup(n->path);
    }
    for (int i = 0; i < nv; i++) {
        struct txn *x = victims[i] ? calloc(1, sizeof(*x)) : NULL;
        if (x && prep_delete_container(&s->prep, victims[i], s->now_wall, x) == ZOK) {
            LOG_INFO("deleting %s %s", x->path, "(empty container or expired TTL node)");
            submit(s, x, NULL, NULL, 0);
        } else {
            free(x);
        }
        free(victims[i]);
    }
}

int64_t server_tick(struct server *s)
{
    int64_t ids[128];
    size_t n;
    if (s->mode != SRV_STANDALONE && s->mode != SRV_LEADING)
        return INT64_MAX; /* only the leader expires sessions and sweeps containers */
    while ((n = sess_expired(s->sessions, s->now_mono, ids, 128)) > 0) {
        for (size_t i = 0; i < n; i++) {
            struct zk_session *se = sess_get(s->sessions, ids[i]);
            LOG_INFO("expiring session 0x%" PRIx64 ", timeout of %d ms exceeded", (uint64_t)ids[i],
                     se ? se->timeout_ms : 0);
            struct txn *x = calloc(1, sizeof(*x));
            if (x && prep_close_session(&s->prep, ids[i], s->now_wall, x) == ZOK)
                submit(s, x, NULL, NULL, 0);
            else
                free(x);
        }
        if (n < 128)
            break;
    }
    if (s->now_mono - s->last_sweep >= s->opts.container_check_ms) {
        s->last_sweep = s->now_mono;
        sweep_containers(s);
    }
    return sess_next_deadline(s->sessions);
}

/* ---------------- the ensemble ---------------- */

void server_set_repl(struct server *s, const struct server_repl *r) { s->repl = *r; }

static const char *mode_name(enum server_mode m)
{
    static const char *const names[] = {"standalone", "looking", "leader", "follower", "observer"};
    return names[m];
}

/* Txns this server prepared that will now never commit here: their clients are being
 * disconnected, and learn the outcome by reading after they reconnect (the new leader may
 * still commit them, if they reached a quorum). */
static void drop_pending(struct server *s)
{
    while (s->chead) {
        struct ptxn *p = s->chead;
        s->chead = p->next;
        s->st.outstanding--;
        if (p->pq) {
            if (p->conn && !p->conn->closed) {
                p->conn->inflight--;
                p->pq->err = ZCONNECTIONLOSS;
                p->pq->state = PQ_DONE; /* freed with the connection's queue */
            } else {
                preq_free(p->pq);
            }
        }
        txn_free(&p->txn);
        if (p->conn)
            conn_unref(p->conn);
        free(p);
    }
    s->ctail = NULL;
}

static void collect_id(void *ctx, const struct zk_session *se)
{
    struct { int64_t *ids; size_t n; } *acc = ctx;
    acc->ids[acc->n++] = se->id;
}

void server_set_mode(struct server *s, enum server_mode m, uint64_t epoch)
{
    if (m == s->mode && epoch == s->epoch)
        return;
    LOG_INFO("now %s in epoch %" PRIu64 " (was %s in epoch %" PRIu64 "); closing %zu client connections",
             mode_name(m), epoch, mode_name(s->mode), s->epoch, s->nconns);
    for (struct zconn *c = s->conns; c; c = c->next)
        if (!c->closed) {
            c->closing = true;
            s->io.close(s->io.ctx, c);
        }
    drop_pending(s);
    prep_destroy(&s->prep);
    prep_init(&s->prep, &s->tree);
    s->prep.ttl_enabled = s->opts.ttl_enabled;
    s->mode = m;
    s->epoch = epoch;
    s->ntouched = 0;
    s->touch_gen++;
    if (m != SRV_LEADING)
        return;
    s->prep.last_zxid = (int64_t)(epoch << 32);
    /* the sessions' clients pinged the old leader: every session starts a full timeout */
    struct { int64_t *ids; size_t n; } acc = {calloc(sess_count(s->sessions) + 1, sizeof(int64_t)), 0};
    if (!acc.ids) {
        LOG_ERROR("out of memory renewing session timeouts as the new leader");
        return;
    }
    sess_foreach(s->sessions, collect_id, &acc);
    for (size_t i = 0; i < acc.n; i++)
        sess_touch(s->sessions, acc.ids[i], s->now_mono);
    free(acc.ids);
    s->last_sweep = s->now_mono;
}

/* The local connection of session (if any) that is not closed. */
static struct zconn *session_conn(struct server *s, int64_t session)
{
    for (struct zconn *c = s->conns; c; c = c->next)
        if (c->session == session && !c->closed)
            return c;
    return NULL;
}

/* The local client waiting for committed txn x, answered (x and res move to it). Returns
 * false when nobody here waits for it. */
static bool answer_local(struct server *s, struct txn *x, struct txn_result *res)
{
    struct zconn *c = session_conn(s, x->session);
    if (!c)
        return false;
    if (c->awaiting_session && (x->type == ZOP_CREATESESSION || x->type == ZOP_ERROR)) {
        c->awaiting_session = false;
        struct zk_session *se = sess_get(s->sessions, x->session);
        if (x->type == ZOP_ERROR || !se) {
            send_connect_response(s, c, false);
        } else {
            se->owner = c;
            c->ready = true;
            send_connect_response(s, c, true);
            replay_early(s, c);
        }
        return false; /* nothing keeps x */
    }
    struct preq *pq = c->qhead;
    while (pq && !(pq->state == PQ_INFLIGHT && !pq->sync_wait))
        pq = pq->next;
    if (!pq || pq->xid != x->cxid)
        return false;
    c->inflight--;
    pq->remote = false;
    pq->res = *res;
    pq->err = x->type == ZOP_MULTI ? ZOK : res->err;
    pq->txn = x;
    pq->state = PQ_DONE;
    drain(s, c);
    return true;
}

int server_apply_committed(struct server *s, const uint8_t *p, size_t n)
{
    struct txn *x = calloc(1, sizeof(*x));
    if (!x || txn_decode(p, n, x) != ZOK) {
        free(x);
        return -1;
    }
    if (x->zxid <= server_last_zxid(s)) {
        LOG_WARN("committed txn 0x%" PRIx64 " is not after our last zxid 0x%" PRIx64 ": ignored",
                 (uint64_t)x->zxid, (uint64_t)server_last_zxid(s));
        txn_free(x);
        free(x);
        return 0;
    }
    struct txn_result res;
    tree_apply(&s->tree, x, &res, tree_event, s);
    apply_sessions(s, x);
    if (res.err && x->type != ZOP_MULTI && x->type != ZOP_ERROR)
        LOG_WARN("committed txn 0x%" PRIx64 " (%s %s) applied with %s", (uint64_t)x->zxid, zop_name(x->type),
                 x->path ? x->path : "", zerr_name(res.err));
    int64_t session = x->session;
    bool closed = x->type == ZOP_CLOSESESSION;
    if (!answer_local(s, x, &res)) {
        txn_result_free(&res);
        txn_free(x);
        free(x);
        if (closed) /* expired by the leader, or closed through another member */
            close_session_conn(s, session, "session closed");
    }
    return 0;
}

int server_commit(struct server *s, int64_t zxid, const uint8_t *p, size_t n)
{
    struct ptxn *h = s->chead;
    while (h && h->txn.zxid == 0)
        h = h->next;
    if (h && h->txn.zxid == zxid) {
        server_durable(s, zxid);
        return 0;
    }
    if (h) {
        LOG_ERROR("commit of zxid 0x%" PRIx64 " while our next pending txn is 0x%" PRIx64, (uint64_t)zxid,
                  (uint64_t)h->txn.zxid);
        return -1;
    }
    return server_apply_committed(s, p, n);
}

/* Leader: the txn recording a forwarded request's failure, so the member learns it in order. */
static void error_txn(struct server *s, struct txn *x, int64_t session, int32_t cxid, int32_t err)
{
    txn_free(x);
    memset(x, 0, sizeof(*x));
    x->type = ZOP_ERROR;
    x->err = err;
    x->session = session;
    x->cxid = cxid;
    x->time = s->now_wall;
    x->zxid = ++s->prep.last_zxid;
}

/* Leader: prepares a forwarded request (not createSession) into x; returns its error. */
static int prep_remote(struct server *s, int64_t from, int64_t session, int32_t cxid, int32_t op, struct jrd *r,
                       struct txn *x)
{
    struct zk_session *se = sess_get(s->sessions, session);
    if (!se || se->closing)
        return ZSESSIONEXPIRED;
    if (se->holder && se->holder != from)
        return ZSESSIONMOVED;
    se->holder = from;
    sess_touch(s->sessions, session, s->now_mono);
    struct zk_auth auth = {0};
    int32_t k = jr_int(r);
    int rc = r->err || k < 0 || k > 64 ? ZMARSHALLINGERROR : ZOK;
    for (int32_t i = 0; rc == ZOK && i < k; i++) {
        char *scheme = jr_string(r, NULL), *id = jr_string(r, NULL);
        if (r->err || !scheme || !id || acl_auth_add_id(&auth, scheme, id) != ZOK)
            rc = ZMARSHALLINGERROR;
        free(scheme);
        free(id);
    }
    struct zk_request req;
    memset(&req, 0, sizeof(req));
    req.xid = jr_int(r);
    req.type = jr_int(r);
    if (rc == ZOK && (r->err || req.xid != cxid || req.type != op || jute_read_request(r, &req) != ZOK ||
                      !paths_present(&req)))
        rc = ZMARSHALLINGERROR;
    if (rc == ZOK && op == ZOP_CLOSESESSION) {
        rc = prep_close_session(&s->prep, session, s->now_wall, x);
        if (rc == ZOK) {
            x->cxid = cxid; /* the member answers the close that carries it */
            sess_set_closing(s->sessions, session);
        }
    } else if (rc == ZOK) {
        struct prep_ctx ctx = {.session = session, .cxid = cxid, .now = s->now_wall, .auth = &auth};
        rc = prep_request(&s->prep, &req, &ctx, x);
    }
    jute_free_request(&req);
    acl_auth_free(&auth);
    return rc;
}

void server_remote_request(struct server *s, int64_t from, int64_t session, int32_t cxid, int32_t op,
                           const uint8_t *body, size_t n)
{
    if (s->mode != SRV_LEADING)
        return; /* the member gave up on us already: its clients were disconnected */
    struct txn *x = calloc(1, sizeof(*x));
    if (!x) {
        LOG_ERROR("out of memory preparing a request forwarded by member %" PRId64, from);
        return;
    }
    struct jrd r;
    jr_init(&r, body, n);
    int rc;
    if (op == ZOP_CREATESESSION) {
        int32_t to = jr_int(&r);
        if (r.err || jr_remaining(&r) || to <= 0 || sess_get(s->sessions, session))
            rc = ZSESSIONEXPIRED; /* the member refuses the client */
        else
            rc = prep_create_session(&s->prep, session, to, s->now_wall, x);
    } else {
        rc = prep_remote(s, from, session, cxid, op, &r, x);
        if (rc == ZMARSHALLINGERROR)
            LOG_WARN("malformed request forwarded by member %" PRId64 " for session 0x%" PRIx64 " (op %d)", from,
                     (uint64_t)session, op);
    }
    if (rc != ZOK)
        error_txn(s, x, session, cxid, rc);
    else if (x->zxid == 0) /* a failed multi: the member needs its per-op results too */
        x->zxid = ++s->prep.last_zxid;
    submit(s, x, NULL, NULL, from);
}

void server_remote_touch(struct server *s, int64_t from, int64_t session)
{
    struct zk_session *se;
    if (s->mode == SRV_LEADING && (se = sess_get(s->sessions, session)) && (!se->holder || se->holder == from))
        sess_touch(s->sessions, session, s->now_mono);
}

bool server_remote_revalidate(struct server *s, int64_t from, int64_t session)
{
    struct zk_session *se = sess_get(s->sessions, session);
    if (s->mode != SRV_LEADING || !se || se->closing || sess_touch(s->sessions, session, s->now_mono) != ZOK)
        return false;
    if (se->holder != from)
        close_session_conn(s, session, "the session moved to another server");
    se->holder = from;
    se->owner = NULL;
    return true;
}

void server_revalidated(struct server *s, int64_t session, bool valid)
{
    struct zk_session *se = sess_get(s->sessions, session);
    for (struct zconn *c = s->conns; c; c = c->next)
        if (c->session == session && c->revalidating && !c->closed) {
            c->revalidating = false;
            if (valid && se) {
                attach(s, c, se);
                replay_early(s, c); /* setWatches, auth, reads sent behind the ConnectRequest */
            } else
                send_connect_response(s, c, false);
            return;
        }
}

void server_synced(struct server *s, int64_t session, int32_t cxid)
{
    struct zconn *c = session_conn(s, session);
    for (struct preq *pq = c ? c->qhead : NULL; pq; pq = pq->next)
        if (pq->sync_wait && pq->xid == cxid) {
            pq->sync_wait = false;
            pq->remote = false;
            pq->state = PQ_READ;
            drain(s, c);
            return;
        }
}

int server_clear_state(struct server *s)
{
    prep_destroy(&s->prep);
    tree_destroy(&s->tree);
    sess_free(s->sessions);
    s->sessions = sess_new(s->opts.tick_ms, s->opts.server_id, s->now_wall);
    if (tree_init(&s->tree) < 0 || !s->sessions)
        return -1;
    prep_init(&s->prep, &s->tree);
    s->prep.ttl_enabled = s->opts.ttl_enabled;
    return 0;
}
