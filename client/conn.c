/* The client session state machine (see conn.h): connect string, handshake, FIFO reply
 * matching, pings and timeouts, reconnects, auth replay, the watch registry and chroot
 * translation. Pure: no I/O, no clock, no callbacks; decisions leave as output bytes and
 * queued effects. */
#include "client/conn.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/path.h"
#include "common/zerr.h"

#define DEFAULT_TIMEOUT 30000
#define DEFAULT_PORT 2181
/* EphemeralType.TTL.maxValue(): the TTL lives in the low 40 bits of ephemeralOwner. */
#define TTL_MAX INT64_C(0x000000FFFFFFFFFF)

enum cst {
    CS_INIT,       /* zc_start not called yet */
    CS_CONNECTING, /* ZC_EFF_CONNECT issued, waiting for zc_on_connected */
    CS_HANDSHAKE,  /* ConnectRequest sent, waiting for the ConnectResponse */
    CS_CONNECTED,
    CS_BACKOFF, /* every host failed in a row: waiting for retry_at */
    CS_CLOSING, /* closeSession sent */
    CS_CLOSED,  /* terminal states from here on */
    CS_EXPIRED,
    CS_AUTHFAILED,
};

/* One queued effect. alloc is what to free once it is popped: the node itself, or the
 * pending request the node is embedded in (so completing a request never allocates). */
struct effnode {
    struct effnode *next;
    void *alloc;
    struct zc_effect e;
};

/* The watchers registered on one server path for one kind. */
struct wlist {
    int32_t n, cap;
    struct zc_watcher *v;
};

/* A request from submission to completion: queued (frame held) while disconnected, then
 * sent and waiting in FIFO order for its reply. */
struct pending {
    struct pending *next;
    struct effnode node;
    int32_t xid, type;
    void *cookie;
    int64_t queued_at;
    uint8_t *frame; /* the encoded frame while unsent */
    size_t framelen;
    struct zc_watcher w; /* watcher to register, or to remove (removeWatches/checkWatches) */
    int32_t mode;        /* addWatch mode, or removeWatches/checkWatches watcher type */
    int local;
    int retried;          /* a persistent-type removal already asked again as checkWatches(ANY) */
    char *spath;          /* server path the (de)registration applies to */
    char **sw[ZW_NKINDS]; /* internal SetWatches(2): the batch carried, to resend it */
    int32_t nsw[ZW_NKINDS];
    int64_t relzxid; /* ... and the zxid it was relative to */
};

struct pqueue {
    struct pending *head, *tail;
    size_t n;
};

struct auth {
    struct auth *next;
    char *scheme;
    uint8_t *cred;
    int32_t len;
    struct effnode *node; /* its REPLY effect until delivered (NULL: none wanted) */
};

struct zc_conn {
    struct zc_hostlist hl;
    uint64_t rng;
    int32_t req_timeout; /* what we ask for */
    int32_t timeout;     /* negotiated, or req_timeout before the first handshake */
    size_t max_frame;
    int64_t session_id;
    uint8_t passwd[ZK_PASSWD_LEN];
    int64_t last_zxid;
    struct zc_watcher session_watcher;

    enum cst st;
    uint32_t gen;
    int host;  /* index of the current or last attempt, -1 before the first */
    int fails; /* consecutive failed attempts since the last handshake */
    int64_t attempt_start, last_recv, last_send, retry_at;
    int32_t next_xid;

    uint8_t lenbuf[4]; /* frame reassembly */
    size_t lenhave;
    uint8_t *frame;
    size_t flen, fhave;
    struct jbuf out;
    size_t out_off;

    struct pqueue sent, unsent;
    struct auth *auths, **auth_tail;
    int32_t auth_sent, auth_answered; /* on the current connection */
    struct hmap watches[ZW_NKINDS];   /* server path -> struct wlist */
    int sw2_unsupported, sw2_closes;
    int persistent_wt_unsupported; /* the server rejects watcher types 4 and 5 (before 3.9) */

    struct effnode *eh, **et;
    struct effnode *close_node; /* zc_close's REPLY until delivered */
    int close_wanted;
};

/* ------------------------------------------------------------------ helpers */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static int conn_open(enum cst st)
{
    return st == CS_CONNECTING || st == CS_HANDSHAKE || st == CS_CONNECTED || st == CS_CLOSING;
}

static int dead(enum cst st)
{
    return st == CS_CLOSED || st == CS_EXPIRED || st == CS_AUTHFAILED;
}

static int32_t connect_timeout(const struct zc_conn *c)
{
    int32_t t = c->timeout / c->hl.n;
    return t > 0 ? t : 1;
}
static int32_t read_timeout(const struct zc_conn *c)
{
    int32_t t = (int32_t)((int64_t)c->timeout * 2 / 3);
    return t > 0 ? t : 1;
}
static int32_t ping_interval(const struct zc_conn *c)
{
    int32_t t = c->timeout / 3;
    return t > 0 ? t : 1;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int same_watcher(const struct zc_watcher *a, const struct zc_watcher *b)
{
    return a->fn == b->fn && a->ctx == b->ctx;
}

/* ------------------------------------------------------------------ effects */

static void eff_push(struct zc_conn *c, struct effnode *n)
{
    n->next = NULL;
    *c->et = n;
    c->et = &n->next;
}

/* Connection and state effects are a few bytes each and must not be lost (a lost CLOSE
 * leaks a socket, a lost STATE hangs a waiter): failing to allocate one aborts. */
static struct effnode *eff_new_ctl(enum zc_eff_kind kind)
{
    struct effnode *n = calloc(1, sizeof(*n));
    if (!n) {
        LOG_ERROR("zkc: out of memory for a connection effect");
        abort();
    }
    n->alloc = n;
    n->e.kind = kind;
    return n;
}

static void push_connect(struct zc_conn *c)
{
    struct effnode *n = eff_new_ctl(ZC_EFF_CONNECT);
    n->e.gen = c->gen;
    n->e.host = c->host;
    eff_push(c, n);
}

static void push_close(struct zc_conn *c)
{
    struct effnode *n = eff_new_ctl(ZC_EFF_CLOSE);
    n->e.gen = c->gen;
    eff_push(c, n);
}

/* A watch event for one watcher; dropped (and logged) when out of memory, which loses that
 * one notification as a lost packet would. */
static void push_watch(struct zc_conn *c, const struct zc_watcher *w, int type, int state, const char *path)
{
    struct effnode *n = calloc(1, sizeof(*n));
    char *pc = NULL;
    if (!n || (path && !(pc = strdup(path)))) {
        free(n);
        LOG_ERROR("zkc: out of memory: watch event %d for %s dropped", type, path ? path : "(none)");
        return;
    }
    n->alloc = n;
    n->e.kind = ZC_EFF_WATCH;
    n->e.watcher = *w;
    n->e.type = type;
    n->e.state = state;
    n->e.path = pc;
    eff_push(c, n);
}

int zc_next_effect(struct zc_conn *c, struct zc_effect *out)
{
    struct effnode *n = c->eh;
    if (!n)
        return 0;
    c->eh = n->next;
    if (!c->eh)
        c->et = &c->eh;
    *out = n->e;
    free(n->alloc);
    return 1;
}

int zc_has_effects(const struct zc_conn *c)
{
    return c->eh != NULL;
}

void zc_effect_clear(struct zc_effect *e)
{
    jute_free_response(&e->res);
    free(e->path);
    memset(e, 0, sizeof(*e));
}

/* ------------------------------------------------------------------ watcher sets */

/* A set of distinct watchers collected for one event, in first-seen order. */
struct wset {
    struct hmap seen;
    struct zc_watcher *v;
    size_t n, cap;
};

static void wset_init(struct wset *s)
{
    memset(s, 0, sizeof(*s));
    hmap_init(&s->seen);
}
static void wset_free(struct wset *s)
{
    hmap_free(&s->seen);
    free(s->v);
}

static void wset_add(struct wset *s, const struct zc_watcher *w)
{
    uint8_t key[sizeof(zc_fnptr) + sizeof(void *)];
    if (!w->fn)
        return;
    memcpy(key, &w->fn, sizeof(w->fn));
    memcpy(key + sizeof(w->fn), &w->ctx, sizeof(w->ctx));
    if (hmap_get(&s->seen, key, sizeof(key)))
        return;
    if (s->n == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 8;
        struct zc_watcher *nv = realloc(s->v, ncap * sizeof(*nv));
        if (!nv)
            goto oom;
        s->v = nv;
        s->cap = ncap;
    }
    if (hmap_put(&s->seen, key, sizeof(key), s, NULL))
        goto oom;
    s->v[s->n++] = *w;
    return;
oom:
    LOG_ERROR("zkc: out of memory collecting watchers: one watcher misses an event");
}

static void wset_add_list(struct wset *s, const struct wlist *l)
{
    for (int32_t i = 0; l && i < l->n; i++)
        wset_add(s, &l->v[i]);
}

static void wset_deliver(struct zc_conn *c, const struct wset *s, int type, int state, const char *path)
{
    for (size_t i = 0; i < s->n; i++)
        push_watch(c, &s->v[i], type, state, path);
}

/* ------------------------------------------------------------------ watch registry */

static void wlist_free(struct wlist *l)
{
    if (l) {
        free(l->v);
        free(l);
    }
}

static int wreg_add(struct zc_conn *c, int kind, const char *spath, const struct zc_watcher *w)
{
    struct hmap *m = &c->watches[kind];
    struct wlist *l = hmap_gets(m, spath);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l)
            return ZSYSTEMERROR;
        if (hmap_puts(m, spath, l)) {
            free(l);
            return ZSYSTEMERROR;
        }
    }
    for (int32_t i = 0; i < l->n; i++)
        if (same_watcher(&l->v[i], w))
            return ZOK;
    if (l->n == l->cap) {
        int32_t ncap = l->cap ? l->cap * 2 : 2;
        struct zc_watcher *nv = realloc(l->v, (size_t)ncap * sizeof(*nv));
        if (!nv) {
            if (l->n == 0)
                wlist_free(hmap_dels(m, spath));
            return ZSYSTEMERROR;
        }
        l->v = nv;
        l->cap = ncap;
    }
    l->v[l->n++] = *w;
    return ZOK;
}

static void wreg_register(struct zc_conn *c, int kind, const char *spath, const struct zc_watcher *w)
{
    if (wreg_add(c, kind, spath, w) != ZOK)
        LOG_ERROR("zkc: out of memory registering a watch on %s: it will not be delivered", spath);
}

/* Removes one watcher from (kind, spath); returns 1 when it was there. */
static int wreg_remove_one(struct zc_conn *c, int kind, const char *spath, const struct zc_watcher *w)
{
    struct wlist *l = hmap_gets(&c->watches[kind], spath);
    if (!l)
        return 0;
    for (int32_t i = 0; i < l->n; i++) {
        if (same_watcher(&l->v[i], w)) {
            memmove(&l->v[i], &l->v[i + 1], (size_t)(l->n - i - 1) * sizeof(*l->v));
            if (--l->n == 0)
                wlist_free(hmap_dels(&c->watches[kind], spath));
            return 1;
        }
    }
    return 0;
}

static void wreg_clear(struct zc_conn *c)
{
    for (int k = 0; k < ZW_NKINDS; k++) {
        struct hmap_slot *slot;
        for (size_t i = 0; hmap_next(&c->watches[k], &i, &slot);)
            wlist_free(slot->val);
        hmap_free(&c->watches[k]);
        hmap_init(&c->watches[k]);
    }
}

static int wreg_empty(const struct zc_conn *c)
{
    for (int k = 0; k < ZW_NKINDS; k++)
        if (c->watches[k].len)
            return 0;
    return 1;
}

/* Connection state change: the shell hears it as ZC_EFF_STATE, the session watcher and every
 * registered watcher as a ZEV_NONE event (ZooKeeper's clients send session events to all
 * outstanding watchers, since none of them will fire while disconnected). */
static void notify_state(struct zc_conn *c, int state)
{
    struct effnode *n = eff_new_ctl(ZC_EFF_STATE);
    n->e.state = state;
    eff_push(c, n);
    struct wset s;
    wset_init(&s);
    wset_add(&s, &c->session_watcher);
    for (int k = 0; k < ZW_NKINDS; k++) {
        struct hmap_slot *slot;
        for (size_t i = 0; hmap_next(&c->watches[k], &i, &slot);)
            wset_add_list(&s, slot->val);
    }
    wset_deliver(c, &s, ZEV_NONE, state, NULL);
    wset_free(&s);
}

/* ------------------------------------------------------------------ pending requests */

static void pq_push(struct pqueue *q, struct pending *p)
{
    p->next = NULL;
    if (q->tail)
        q->tail->next = p;
    else
        q->head = p;
    q->tail = p;
    q->n++;
}

static struct pending *pq_pop(struct pqueue *q)
{
    struct pending *p = q->head;
    if (p) {
        q->head = p->next;
        if (!q->head)
            q->tail = NULL;
        q->n--;
        p->next = NULL;
    }
    return p;
}

static void pending_release(struct pending *p)
{
    free(p->frame);
    p->frame = NULL;
    free(p->spath);
    p->spath = NULL;
    for (int k = 0; k < ZW_NKINDS; k++) {
        jute_free_strings(p->sw[k], p->nsw[k]);
        p->sw[k] = NULL;
        p->nsw[k] = 0;
    }
}

/* Finishes p: a REPLY effect when a cookie wants one (res, if any, moves into it). */
static void complete(struct zc_conn *c, struct pending *p, int rc, struct zk_response *res)
{
    pending_release(p);
    if (!p->cookie) {
        if (res)
            jute_free_response(res);
        free(p);
        return;
    }
    struct effnode *n = &p->node;
    memset(n, 0, sizeof(*n));
    n->alloc = p;
    n->e.kind = ZC_EFF_REPLY;
    n->e.cookie = p->cookie;
    n->e.rc = rc;
    n->e.op = p->type;
    if (res)
        n->e.res = *res;
    else
        n->e.res.type = p->type;
    eff_push(c, n);
}

static char *client_path_dup(const struct zc_conn *c, const char *spath)
{
    return strdup(path_strip_chroot(c->hl.chroot, spath));
}

/* The watch kinds a removeWatches/checkWatches type covers, and the event each removal
 * reports (ZKWatchManager.removeWatcher). */
static int removal_kinds(int32_t type, int kinds[ZW_NKINDS], int events[ZW_NKINDS])
{
    int n = 0;
    if (type == ZWT_CHILDREN || type == ZWT_ANY)
        kinds[n] = ZW_CHILD, events[n++] = ZEV_CHILD_WATCH_REMOVED;
    if (type == ZWT_DATA || type == ZWT_ANY) {
        kinds[n] = ZW_DATA, events[n++] = ZEV_DATA_WATCH_REMOVED;
        kinds[n] = ZW_EXIST, events[n++] = ZEV_DATA_WATCH_REMOVED;
    }
    if (type == ZWT_PERSISTENT || type == ZWT_ANY)
        kinds[n] = ZW_PERSISTENT, events[n++] = ZEV_PERSISTENT_WATCH_REMOVED;
    if (type == ZWT_PERSISTENT_RECURSIVE || type == ZWT_ANY)
        kinds[n] = ZW_PERSISTENT_RECURSIVE, events[n++] = ZEV_PERSISTENT_WATCH_REMOVED;
    return n;
}

/* The client half of removeWatches/checkWatches once the server answered rc (or could not
 * be asked: rc ZCONNECTIONLOSS): without `local` a server error is the result; otherwise the
 * matching registrations go, their watchers hear a *_WATCH_REMOVED event, and the result
 * is ZOK, or ZNOWATCHER when nothing matched (WatchDeregistration / ZKWatchManager). */
static int deregister(struct zc_conn *c, struct pending *p, int rc)
{
    if (!p->local && rc != ZOK)
        return rc;
    int kinds[ZW_NKINDS], events[ZW_NKINDS];
    int nk = removal_kinds(p->mode, kinds, events);
    int state = (rc == ZCONNECTIONLOSS || rc == ZSESSIONEXPIRED) ? ZSTATE_DISCONNECTED : ZSTATE_SYNC_CONNECTED;
    char *cpath = client_path_dup(c, p->spath);
    int removed = 0;
    struct wset s[3]; /* by event: child, data, persistent */
    for (int i = 0; i < 3; i++)
        wset_init(&s[i]);
    for (int i = 0; i < nk; i++) {
        int si = events[i] == ZEV_CHILD_WATCH_REMOVED ? 0 : events[i] == ZEV_DATA_WATCH_REMOVED ? 1 : 2;
        if (p->w.fn) {
            if (wreg_remove_one(c, kinds[i], p->spath, &p->w)) {
                wset_add(&s[si], &p->w);
                removed = 1;
            }
        } else {
            struct wlist *l = hmap_dels(&c->watches[kinds[i]], p->spath);
            if (l && l->n)
                removed = 1;
            wset_add_list(&s[si], l);
            wlist_free(l);
        }
    }
    static const int ev[3] = {ZEV_CHILD_WATCH_REMOVED, ZEV_DATA_WATCH_REMOVED, ZEV_PERSISTENT_WATCH_REMOVED};
    for (int i = 0; i < 3; i++) {
        wset_deliver(c, &s[i], ev[i], state, cpath ? cpath : p->spath);
        wset_free(&s[i]);
    }
    free(cpath);
    return removed ? ZOK : ZNOWATCHER;
}

static int is_watch_removal(int32_t type)
{
    return type == ZOP_REMOVEWATCHES || type == ZOP_CHECKWATCHES;
}

/* Fails p with rc because its reply will never come (connection loss, expiry, close). */
static void fail_pending(struct zc_conn *c, struct pending *p, int rc)
{
    if (is_watch_removal(p->type))
        rc = deregister(c, p, rc);
    complete(c, p, rc, NULL);
}

static void fail_queue(struct zc_conn *c, struct pqueue *q, int rc)
{
    struct pending *p;
    while ((p = pq_pop(q)))
        fail_pending(c, p, rc);
}

/* ------------------------------------------------------------------ output */

static int32_t alloc_xid(struct zc_conn *c)
{
    int32_t x = c->next_xid;
    /* negative xids are the protocol's special ones; wrap before reaching them */
    c->next_xid = x == INT32_MAX ? 1 : x + 1;
    return x;
}

static void send_request(struct zc_conn *c, int64_t now, const struct zk_request *q)
{
    size_t off = jw_frame_begin(&c->out);
    jute_write_request(&c->out, q);
    jw_frame_end(&c->out, off);
    c->last_send = now;
}

static void reset_io(struct zc_conn *c)
{
    jb_reset(&c->out);
    c->out_off = 0;
    free(c->frame);
    c->frame = NULL;
    c->lenhave = c->flen = c->fhave = 0;
}

const uint8_t *zc_output(const struct zc_conn *c, size_t *len)
{
    *len = c->out.len - c->out_off;
    return c->out.p ? c->out.p + c->out_off : NULL;
}

void zc_output_consumed(struct zc_conn *c, size_t n)
{
    assert(n <= c->out.len - c->out_off);
    c->out_off += n;
    if (c->out_off == c->out.len) {
        jb_reset(&c->out);
        c->out_off = 0;
    }
}

/* ------------------------------------------------------------------ connection lifecycle */

static void start_attempt(struct zc_conn *c, int64_t now)
{
    c->gen++;
    c->host = (c->host + 1) % c->hl.n;
    c->st = CS_CONNECTING;
    c->attempt_start = now;
    push_connect(c);
}

/* After a failed attempt: the next host at once, or a pause once every host failed in a row
 * (ZooKeeper's clients pause about a second, the Java one with random jitter). */
static void schedule_next(struct zc_conn *c, int64_t now)
{
    if (c->fails % c->hl.n == 0) {
        c->st = CS_BACKOFF;
        c->retry_at = now + ZC_RECONNECT_PAUSE_MS + (int64_t)(splitmix64(&c->rng) % ZC_RECONNECT_PAUSE_MS);
    } else {
        start_attempt(c, now);
    }
}

static void auth_complete(struct zc_conn *c, struct auth *a, int rc)
{
    struct effnode *n = a->node;
    if (!n)
        return;
    a->node = NULL;
    n->e.rc = rc;
    eff_push(c, n);
}

static void fail_auths(struct zc_conn *c, int rc)
{
    for (struct auth *a = c->auths; a; a = a->next)
        auth_complete(c, a, rc);
}

static void deliver_close(struct zc_conn *c, int rc)
{
    struct effnode *n = c->close_node;
    if (!n)
        return;
    c->close_node = NULL;
    n->e.rc = rc;
    eff_push(c, n);
}

/* Drops every persistent registration because the server cannot re-arm them (it lacks
 * SetWatches2); their watchers hear PERSISTENT_WATCH_REMOVED. */
static void sw2_fallback(struct zc_conn *c, int state)
{
    if (!c->sw2_unsupported)
        LOG_WARN("zkc: the server does not support SetWatches2: re-arming one-shot watches with "
                 "SetWatches; persistent watches cannot be restored and are removed");
    c->sw2_unsupported = 1;
    for (int k = ZW_PERSISTENT; k <= ZW_PERSISTENT_RECURSIVE; k++) {
        struct hmap_slot *slot;
        for (size_t i = 0; hmap_next(&c->watches[k], &i, &slot);) {
            struct wlist *l = slot->val;
            const char *cp = path_strip_chroot(c->hl.chroot, slot->key);
            for (int32_t j = 0; j < l->n; j++)
                push_watch(c, &l->v[j], ZEV_PERSISTENT_WATCH_REMOVED, state, cp);
            wlist_free(l);
        }
        hmap_free(&c->watches[k]);
        hmap_init(&c->watches[k]);
    }
}

/* The terminal end of a close (or abort): everything still waiting fails with ZCLOSING. */
static void finish_close(struct zc_conn *c, int rc, int io_gone)
{
    if (!io_gone && conn_open(c->st))
        push_close(c);
    reset_io(c);
    c->st = CS_CLOSED;
    fail_queue(c, &c->sent, ZCLOSING);
    fail_queue(c, &c->unsent, ZCLOSING);
    fail_auths(c, ZCLOSING);
    notify_state(c, ZSTATE_CLOSED);
    wreg_clear(c);
    deliver_close(c, rc);
}

/* Session expired or authentication failed: the handle is dead. As in the Java client the
 * state event comes first, then every waiting request fails with rc. */
static void go_dead(struct zc_conn *c, enum cst st, int rc)
{
    if (conn_open(c->st))
        push_close(c);
    reset_io(c);
    c->st = st;
    notify_state(c, st == CS_EXPIRED ? ZSTATE_EXPIRED : ZSTATE_AUTH_FAILED);
    fail_queue(c, &c->sent, rc);
    fail_queue(c, &c->unsent, rc);
    fail_auths(c, rc);
    wreg_clear(c);
    deliver_close(c, ZOK);
}

/* The current connection is gone (tell_shell: the core decided, so the shell must close
 * it). Requests sent on it fail with ZCONNECTIONLOSS, then the watchers hear DISCONNECTED
 * (the Java client's order), then the next host is tried. */
static void conn_lost(struct zc_conn *c, int64_t now, int tell_shell, const char *why)
{
    enum cst was = c->st;
    assert(conn_open(was));
    if (tell_shell)
        push_close(c);
    reset_io(c);
    if (was == CS_CLOSING) {
        finish_close(c, ZCONNECTIONLOSS, 1);
        return;
    }
    LOG_INFO("zkc: connection to %s:%u (session 0x%" PRIx64 ") ended: %s", c->hl.hosts[c->host].host,
             c->hl.hosts[c->host].port, (uint64_t)c->session_id, why);
    int sw2_unanswered = 0;
    for (struct pending *p = c->sent.head; p; p = p->next)
        if (p->type == ZOP_SETWATCHES2)
            sw2_unanswered = 1;
    c->st = CS_BACKOFF; /* not open any more, whatever follows */
    fail_queue(c, &c->sent, ZCONNECTIONLOSS);
    /* A server without SetWatches2 may just close: twice in a row means it does not have it. */
    if (sw2_unanswered && ++c->sw2_closes >= 2 && !c->sw2_unsupported)
        sw2_fallback(c, ZSTATE_DISCONNECTED);
    if (was == CS_CONNECTED)
        notify_state(c, ZSTATE_DISCONNECTED);
    c->fails++;
    schedule_next(c, now);
}

static void protocol_error(struct zc_conn *c, int64_t now, const char *why)
{
    LOG_WARN("zkc: protocol error from %s:%u: %s", c->hl.hosts[c->host].host, c->hl.hosts[c->host].port, why);
    conn_lost(c, now, 1, why);
}

/* The output buffer could not grow: what it holds is incomplete, so the connection is
 * unusable. */
static void check_out_oom(struct zc_conn *c, int64_t now)
{
    if (c->out.oom && conn_open(c->st))
        conn_lost(c, now, 1, "out of memory for output");
    else if (c->out.oom)
        reset_io(c);
}

/* ------------------------------------------------------------------ after the handshake */

static void send_auth(struct zc_conn *c, int64_t now, const struct auth *a)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.xid = ZXID_AUTH;
    q.type = ZOP_AUTH;
    q.authType = 0;
    q.scheme = a->scheme;
    q.auth = a->cred;
    q.authlen = a->len;
    send_request(c, now, &q);
}

/* Appends s to a growing string vector; 0 or -1 (out of memory). */
static int strv_add(char ***v, int32_t *n, int32_t *cap, const char *s)
{
    if (*n == *cap) {
        int32_t ncap = *cap ? *cap * 2 : 16;
        char **nv = realloc(*v, (size_t)ncap * sizeof(*nv));
        if (!nv)
            return -1;
        *v = nv;
        *cap = ncap;
    }
    char *d = strdup(s);
    if (!d)
        return -1;
    (*v)[(*n)++] = d;
    return 0;
}

/* Sends one SetWatches (or SetWatches2 when it carries persistent watches, as the Java
 * client chooses, so older servers keep working) with the batch in sw, which it takes. */
static void send_set_watches_batch(struct zc_conn *c, int64_t now, int64_t rel, char **sw[ZW_NKINDS],
                                   int32_t nsw[ZW_NKINDS])
{
    struct pending *p = calloc(1, sizeof(*p));
    if (!p) {
        LOG_ERROR("zkc: out of memory: some watches are not re-armed");
        for (int k = 0; k < ZW_NKINDS; k++)
            jute_free_strings(sw[k], nsw[k]);
        return;
    }
    int v2 = nsw[ZW_PERSISTENT] > 0 || nsw[ZW_PERSISTENT_RECURSIVE] > 0;
    p->xid = ZXID_SET_WATCHES;
    p->type = v2 ? ZOP_SETWATCHES2 : ZOP_SETWATCHES;
    p->queued_at = now;
    p->relzxid = rel;
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.xid = p->xid;
    q.type = p->type;
    q.relZxid = rel;
    for (int k = 0; k < ZW_NKINDS; k++) {
        p->sw[k] = sw[k];
        p->nsw[k] = nsw[k];
        q.watches[k] = sw[k];
        q.nwatches[k] = nsw[k];
    }
    send_request(c, now, &q);
    pq_push(&c->sent, p);
}

/* Re-arms every registered watch on the new connection, relative to the last zxid seen so
 * the server fires at once those whose node changed meanwhile. Batches stay below
 * ZC_SET_WATCHES_MAX_LENGTH path bytes. */
static void send_set_watches(struct zc_conn *c, int64_t now)
{
    if (c->sw2_unsupported && (c->watches[ZW_PERSISTENT].len || c->watches[ZW_PERSISTENT_RECURSIVE].len))
        sw2_fallback(c, ZSTATE_SYNC_CONNECTED);
    if (wreg_empty(c))
        return;
    char **sw[ZW_NKINDS] = {0};
    int32_t nsw[ZW_NKINDS] = {0}, cap[ZW_NKINDS] = {0};
    size_t batch = 0;
    for (int k = 0; k < ZW_NKINDS; k++) {
        struct hmap_slot *slot;
        for (size_t i = 0; hmap_next(&c->watches[k], &i, &slot);) {
            if (strv_add(&sw[k], &nsw[k], &cap[k], slot->key)) {
                LOG_ERROR("zkc: out of memory: the watch on %s is not re-armed", slot->key);
                continue;
            }
            batch += slot->klen;
            if (batch >= ZC_SET_WATCHES_MAX_LENGTH) {
                send_set_watches_batch(c, now, c->last_zxid, sw, nsw);
                memset(sw, 0, sizeof(sw));
                memset(nsw, 0, sizeof(nsw));
                memset(cap, 0, sizeof(cap));
                batch = 0;
            }
        }
    }
    int any = 0;
    for (int k = 0; k < ZW_NKINDS; k++)
        any |= nsw[k] > 0;
    if (any)
        send_set_watches_batch(c, now, c->last_zxid, sw, nsw);
    else
        for (int k = 0; k < ZW_NKINDS; k++)
            free(sw[k]);
}

/* ConnectResponse received on a live session: auth packets first, then the watches, then
 * whatever was submitted while disconnected, in submission order. */
static void prime(struct zc_conn *c, int64_t now)
{
    c->auth_sent = c->auth_answered = 0;
    for (struct auth *a = c->auths; a; a = a->next) {
        send_auth(c, now, a);
        c->auth_sent++;
    }
    send_set_watches(c, now);
    struct pending *p;
    while ((p = pq_pop(&c->unsent))) {
        jw_raw(&c->out, p->frame, p->framelen);
        free(p->frame);
        p->frame = NULL;
        pq_push(&c->sent, p);
        c->last_send = now;
    }
}

static void on_connect_response(struct zc_conn *c, int64_t now, const uint8_t *f, size_t n)
{
    struct jrd r;
    struct zk_connect_resp resp;
    bool has_ro;
    jr_init(&r, f, n);
    if (jute_read_connect_resp(&r, &resp, &has_ro) != ZOK) {
        protocol_error(c, now, "malformed ConnectResponse");
        return;
    }
    if (resp.timeOut <= 0) {
        LOG_WARN("zkc: session 0x%" PRIx64 " has expired", (uint64_t)c->session_id);
        go_dead(c, CS_EXPIRED, ZSESSIONEXPIRED);
        return;
    }
    if (c->session_id && resp.sessionId != c->session_id)
        LOG_WARN("zkc: asked to resume session 0x%" PRIx64 ", the server gave 0x%" PRIx64, (uint64_t)c->session_id,
                 (uint64_t)resp.sessionId);
    c->session_id = resp.sessionId;
    memcpy(c->passwd, resp.passwd, sizeof(c->passwd));
    c->timeout = resp.timeOut;
    c->st = CS_CONNECTED;
    c->fails = 0;
    c->last_recv = c->last_send = now;
    LOG_INFO("zkc: session 0x%" PRIx64 " established on %s:%u, timeout %d ms", (uint64_t)c->session_id,
             c->hl.hosts[c->host].host, c->hl.hosts[c->host].port, c->timeout);
    notify_state(c, ZSTATE_SYNC_CONNECTED);
    prime(c, now);
}

/* ------------------------------------------------------------------ replies */

static void strip_in_place(const struct zc_conn *c, char *spath)
{
    if (!spath || !c->hl.chroot)
        return;
    const char *cp = path_strip_chroot(c->hl.chroot, spath);
    if (cp == spath)
        LOG_WARN("zkc: the server returned %s, outside the chroot %s", spath, c->hl.chroot);
    else
        memmove(spath, cp, strlen(cp) + 1); /* cp is a suffix of spath, or the static "/" */
}

/* getEphemerals matches a string prefix, so with a chroot it can return names that only
 * look like they are under it ("/apple" for "/app"): keep what is really under the chroot. */
static void filter_ephemerals(const struct zc_conn *c, struct zk_response *res)
{
    if (!c->hl.chroot)
        return;
    int32_t j = 0;
    for (int32_t i = 0; i < res->nchildren; i++) {
        char *s = res->children[i];
        const char *cp = s ? path_strip_chroot(c->hl.chroot, s) : NULL;
        if (!s || cp == s) {
            free(s);
            continue;
        }
        memmove(s, cp, strlen(cp) + 1);
        res->children[j++] = s;
    }
    res->nchildren = j;
}

/* multi's result: the first error other than the RUNTIMEINCONSISTENCY reported for the ops
 * after the failing one (as the C client computes it). */
static int multi_rc(const struct zk_response *res)
{
    int rc = ZOK;
    for (int32_t i = 0; i < res->nresults; i++) {
        int e = res->results[i].err;
        if (e != ZOK && e != ZRUNTIMEINCONSISTENCY)
            return e;
        if (e != ZOK)
            rc = e;
    }
    return rc;
}

static void on_set_watches_reply(struct zc_conn *c, int64_t now, struct pending *p, int rc)
{
    if (p->type == ZOP_SETWATCHES2 && rc == ZOK) {
        c->sw2_closes = 0;
    } else if (p->type == ZOP_SETWATCHES2) {
        /* The server refused SetWatches2 (an older server answers UNIMPLEMENTED): drop the
         * persistent watches and re-arm the one-shot ones of this batch with SetWatches. */
        LOG_WARN("zkc: SetWatches2 failed: %s", zerr_name(rc));
        sw2_fallback(c, ZSTATE_SYNC_CONNECTED);
        if (p->nsw[ZW_DATA] || p->nsw[ZW_EXIST] || p->nsw[ZW_CHILD]) {
            char **sw[ZW_NKINDS] = {p->sw[ZW_DATA], p->sw[ZW_EXIST], p->sw[ZW_CHILD], NULL, NULL};
            int32_t nsw[ZW_NKINDS] = {p->nsw[ZW_DATA], p->nsw[ZW_EXIST], p->nsw[ZW_CHILD], 0, 0};
            for (int k = ZW_DATA; k <= ZW_CHILD; k++)
                p->sw[k] = NULL, p->nsw[k] = 0;
            send_set_watches_batch(c, now, p->relzxid, sw, nsw);
        }
    } else if (rc != ZOK) {
        LOG_WARN("zkc: SetWatches failed: %s; some watches are not re-armed", zerr_name(rc));
    }
    complete(c, p, rc, NULL);
}

static int persistent_wtype(int32_t mode)
{
    return mode == ZWT_PERSISTENT || mode == ZWT_PERSISTENT_RECURSIVE;
}

/* ZooKeeper before 3.9 knows only the CHILDREN, DATA and ANY watcher types and answers
 * MARSHALLINGERROR to the persistent ones; there the client can only check with ANY that
 * the path has a watch (checkWatches leaves the server's watches alone, which removeWatches
 * with ANY would not: it would drop the one-shot ones too) and remove its registrations;
 * the server-side persistent watch lasts until the next reconnect, its events unheard. */
static void send_removal_compat(struct zc_conn *c, int64_t now, struct pending *p)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    p->retried = 1;
    p->type = ZOP_CHECKWATCHES;
    p->xid = alloc_xid(c);
    q.xid = p->xid;
    q.type = ZOP_CHECKWATCHES;
    q.path = p->spath;
    q.mode = ZWT_ANY;
    send_request(c, now, &q);
    pq_push(&c->sent, p);
}

static void on_reply(struct zc_conn *c, int64_t now, struct pending *p, int32_t err, struct jrd *r)
{
    struct zk_response res;
    int rc = err;
    memset(&res, 0, sizeof(res));
    res.type = p->type;
    if (err == ZOK && jute_read_response(r, p->type, &res) != ZOK) {
        jute_free_response(&res);
        res.type = p->type;
        complete(c, p, ZMARSHALLINGERROR, &res);
        protocol_error(c, now, "malformed reply body");
        return;
    }
    switch (p->type) {
    case ZOP_CLOSESESSION:
        complete(c, p, rc, &res);
        finish_close(c, ZOK, 0);
        return;
    case ZOP_SETWATCHES:
    case ZOP_SETWATCHES2:
        jute_free_response(&res);
        on_set_watches_reply(c, now, p, rc);
        return;
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
    case ZOP_SYNC:
        strip_in_place(c, res.path);
        break;
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        for (int32_t i = 0; i < res.nresults; i++)
            strip_in_place(c, res.results[i].path);
        if (p->type == ZOP_MULTI && rc == ZOK)
            rc = multi_rc(&res);
        break;
    case ZOP_GETEPHEMERALS:
        filter_ephemerals(c, &res);
        break;
    case ZOP_EXISTS:
        /* exists sets a data watch on an existing node and an exist watch on a missing one */
        if (p->w.fn && rc == ZOK)
            wreg_register(c, ZW_DATA, p->spath, &p->w);
        else if (p->w.fn && rc == ZNONODE)
            wreg_register(c, ZW_EXIST, p->spath, &p->w);
        break;
    case ZOP_GETDATA:
        if (p->w.fn && rc == ZOK)
            wreg_register(c, ZW_DATA, p->spath, &p->w);
        break;
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2:
        if (p->w.fn && rc == ZOK)
            wreg_register(c, ZW_CHILD, p->spath, &p->w);
        break;
    case ZOP_ADDWATCH:
        if (p->w.fn && (rc == ZOK || rc == ZNONODE))
            wreg_register(c, p->mode == ZADDWATCH_PERSISTENT ? ZW_PERSISTENT : ZW_PERSISTENT_RECURSIVE, p->spath,
                          &p->w);
        break;
    case ZOP_REMOVEWATCHES:
    case ZOP_CHECKWATCHES:
        if (rc == ZMARSHALLINGERROR && persistent_wtype(p->mode) && !p->retried) {
            if (!c->persistent_wt_unsupported)
                LOG_INFO("zkc: the server does not know persistent watcher types: removing persistent "
                         "watches on the client side only");
            c->persistent_wt_unsupported = 1;
            jute_free_response(&res);
            send_removal_compat(c, now, p);
            return;
        }
        rc = deregister(c, p, rc);
        break;
    default:
        break;
    }
    complete(c, p, rc, &res);
}

/* Adds the persistent watchers an event on spath reaches: persistent ones on the node
 * itself, recursive ones on it or any ancestor (never for NodeChildrenChanged, which
 * recursive watches do not report). */
static void collect_persistent(struct zc_conn *c, struct wset *s, const char *spath, int type)
{
    wset_add_list(s, hmap_gets(&c->watches[ZW_PERSISTENT], spath));
    if (type == ZEV_CHILD || c->watches[ZW_PERSISTENT_RECURSIVE].len == 0)
        return;
    size_t len = strlen(spath);
    for (;;) {
        wset_add_list(s, hmap_get(&c->watches[ZW_PERSISTENT_RECURSIVE], spath, len));
        if (len <= 1)
            break;
        len = path_parent_len(spath, len);
        if (len == 0)
            break;
    }
}

static struct wlist *take(struct zc_conn *c, int kind, const char *spath)
{
    return hmap_dels(&c->watches[kind], spath);
}

static void on_notification(struct zc_conn *c, int64_t now, struct jrd *r)
{
    int32_t type = jr_int(r);
    int32_t state = jr_int(r);
    char *spath = jr_string(r, NULL);
    if (r->err || !spath) {
        free(spath);
        protocol_error(c, now, "malformed watch event");
        return;
    }
    struct wset s;
    wset_init(&s);
    struct wlist *l[3] = {NULL, NULL, NULL};
    switch (type) {
    case ZEV_CREATED:
    case ZEV_CHANGED:
        l[0] = take(c, ZW_DATA, spath);
        l[1] = take(c, ZW_EXIST, spath);
        break;
    case ZEV_CHILD:
        l[0] = take(c, ZW_CHILD, spath);
        break;
    case ZEV_DELETED:
        l[0] = take(c, ZW_DATA, spath);
        l[1] = take(c, ZW_EXIST, spath); /* cannot normally exist; the Java client fires it too */
        l[2] = take(c, ZW_CHILD, spath);
        break;
    default:
        LOG_WARN("zkc: ignoring a watch event of unknown type %d on %s", type, spath);
        wset_free(&s);
        free(spath);
        return;
    }
    for (int i = 0; i < 3; i++) {
        wset_add_list(&s, l[i]);
        wlist_free(l[i]);
    }
    collect_persistent(c, &s, spath, type);
    wset_deliver(c, &s, type, state, path_strip_chroot(c->hl.chroot, spath));
    wset_free(&s);
    free(spath);
}

static void on_auth_reply(struct zc_conn *c, int32_t err)
{
    if (c->auth_answered >= c->auth_sent) {
        LOG_WARN("zkc: auth reply without an auth request (%s)", zerr_name(err));
        return;
    }
    struct auth *a = c->auths;
    for (int32_t i = 0; i < c->auth_answered; i++)
        a = a->next;
    c->auth_answered++;
    if (err == ZAUTHFAILED) {
        LOG_WARN("zkc: authentication failed (scheme %s)", a->scheme);
        go_dead(c, CS_AUTHFAILED, ZAUTHFAILED);
        return;
    }
    auth_complete(c, a, err);
}

static void on_reply_frame(struct zc_conn *c, int64_t now, const uint8_t *f, size_t n)
{
    struct jrd r;
    jr_init(&r, f, n);
    int32_t xid = jr_int(&r);
    int64_t zxid = jr_long(&r);
    int32_t err = jr_int(&r);
    if (r.err) {
        protocol_error(c, now, "reply shorter than its header");
        return;
    }
    switch (xid) {
    case ZXID_WATCH_EVENT:
        on_notification(c, now, &r);
        return;
    case ZXID_PING:
        return;
    case ZXID_AUTH:
        on_auth_reply(c, err);
        return;
    default:
        break;
    }
    struct pending *p = c->sent.head;
    if (!p || p->xid != xid) {
        char why[96];
        if (p)
            snprintf(why, sizeof(why), "xid out of order: got %d, expected %d", xid, p->xid);
        else
            snprintf(why, sizeof(why), "reply with xid %d when nothing is outstanding", xid);
        protocol_error(c, now, why);
        return;
    }
    pq_pop(&c->sent);
    if (zxid > 0)
        c->last_zxid = zxid;
    on_reply(c, now, p, err, &r);
}

static void process_frame(struct zc_conn *c, int64_t now, const uint8_t *f, size_t n)
{
    if (c->st == CS_HANDSHAKE)
        on_connect_response(c, now, f, n);
    else if (c->st == CS_CONNECTED || c->st == CS_CLOSING)
        on_reply_frame(c, now, f, n);
}

static int receiving(enum cst st)
{
    return st == CS_HANDSHAKE || st == CS_CONNECTED || st == CS_CLOSING;
}

void zc_on_data(struct zc_conn *c, uint32_t gen, int64_t now, const void *data, size_t n)
{
    const uint8_t *b = data;
    if (gen != c->gen || !receiving(c->st))
        return;
    c->last_recv = now;
    while (n > 0 && gen == c->gen && receiving(c->st)) {
        if (c->lenhave < 4) {
            if (c->lenhave == 0 && n >= 4) {
                /* Whole frames straight from the caller's bytes: no copy. */
                uint32_t len = be32(b);
                if (len > c->max_frame || len > INT32_MAX) {
                    protocol_error(c, now, "frame length out of range");
                    break;
                }
                if (n - 4 >= len) {
                    b += 4;
                    n -= 4;
                    process_frame(c, now, b, len);
                    b += len;
                    n -= len;
                    continue;
                }
            }
            size_t k = 4 - c->lenhave < n ? 4 - c->lenhave : n;
            memcpy(c->lenbuf + c->lenhave, b, k);
            c->lenhave += k;
            b += k;
            n -= k;
            if (c->lenhave < 4)
                break;
            uint32_t len = be32(c->lenbuf);
            if (len > c->max_frame || len > INT32_MAX) {
                protocol_error(c, now, "frame length out of range");
                break;
            }
            c->frame = malloc(len ? len : 1);
            if (!c->frame) {
                conn_lost(c, now, 1, "out of memory for a frame");
                break;
            }
            c->flen = len;
            c->fhave = 0;
        } else {
            size_t k = c->flen - c->fhave < n ? c->flen - c->fhave : n;
            memcpy(c->frame + c->fhave, b, k);
            c->fhave += k;
            b += k;
            n -= k;
        }
        if (c->lenhave == 4 && c->fhave == c->flen) {
            uint8_t *f = c->frame;
            size_t fl = c->flen;
            c->frame = NULL;
            c->lenhave = c->flen = c->fhave = 0;
            process_frame(c, now, f, fl);
            free(f);
        }
    }
    check_out_oom(c, now);
}

/* ------------------------------------------------------------------ connect string */

void zc_hostlist_free(struct zc_hostlist *hl)
{
    for (int i = 0; i < hl->n; i++)
        free(hl->hosts[i].host);
    free(hl->hosts);
    free(hl->chroot);
    memset(hl, 0, sizeof(*hl));
}

static int parse_port(const char *s, size_t n, uint16_t *port)
{
    uint32_t v = 0;
    if (n == 0 || n > 5)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (v == 0 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* One trimmed, non-empty entry e[0..n). */
static int parse_host(const char *e, size_t n, struct zc_host *h, const char **why)
{
    const char *host = e;
    size_t hlen = n;
    uint16_t port = DEFAULT_PORT;
    if (e[0] == '[') {
        const char *close = memchr(e, ']', n);
        if (!close) {
            *why = "'[' without a matching ']'";
            return ZBADARGUMENTS;
        }
        host = e + 1;
        hlen = (size_t)(close - host);
        size_t rest = n - (size_t)(close + 1 - e);
        if (rest > 0) {
            if (close[1] != ':' || parse_port(close + 2, rest - 1, &port)) {
                *why = "bad port after ']'";
                return ZBADARGUMENTS;
            }
        }
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (e[i] == ':')
                colon = e + i;
        if (colon) {
            hlen = (size_t)(colon - e);
            size_t plen = n - hlen - 1;
            if (plen > 0 && parse_port(colon + 1, plen, &port)) {
                *why = "bad port";
                return ZBADARGUMENTS;
            }
        }
    }
    if (hlen == 0) {
        *why = "empty host name";
        return ZBADARGUMENTS;
    }
    h->host = strndup(host, hlen);
    if (!h->host) {
        *why = "out of memory";
        return ZSYSTEMERROR;
    }
    h->port = port;
    return ZOK;
}

int zc_parse_connect_string(const char *s, struct zc_hostlist *out, const char **why)
{
    const char *dummy;
    int rc = ZOK;
    if (!why)
        why = &dummy;
    *why = NULL;
    memset(out, 0, sizeof(*out));
    if (!s) {
        *why = "no connect string";
        return ZBADARGUMENTS;
    }
    const char *slash = strchr(s, '/');
    size_t hostpart = slash ? (size_t)(slash - s) : strlen(s);
    if (slash && strcmp(slash, "/") != 0) {
        if (path_validate(slash, strlen(slash), 0, why) != ZOK)
            return ZBADARGUMENTS;
        out->chroot = strdup(slash);
        if (!out->chroot) {
            *why = "out of memory";
            return ZSYSTEMERROR;
        }
    }
    int cap = 0;
    size_t i = 0;
    while (i <= hostpart) {
        size_t j = i;
        while (j < hostpart && s[j] != ',')
            j++;
        size_t a = i, z = j;
        while (a < z && isspace((unsigned char)s[a]))
            a++;
        while (z > a && isspace((unsigned char)s[z - 1]))
            z--;
        if (z > a) {
            if (out->n == cap) {
                int ncap = cap ? cap * 2 : 4;
                struct zc_host *nh = realloc(out->hosts, (size_t)ncap * sizeof(*nh));
                if (!nh) {
                    *why = "out of memory";
                    rc = ZSYSTEMERROR;
                    goto fail;
                }
                out->hosts = nh;
                cap = ncap;
            }
            rc = parse_host(s + a, z - a, &out->hosts[out->n], why);
            if (rc != ZOK)
                goto fail;
            out->n++;
        }
        i = j + 1;
    }
    if (out->n == 0) {
        *why = "no host in the connect string";
        rc = ZBADARGUMENTS;
        goto fail;
    }
    return ZOK;
fail:
    zc_hostlist_free(out);
    return rc;
}

/* ------------------------------------------------------------------ construction */

struct zc_conn *zc_new(const char *connect_string, const struct zc_config *cfg, int *err)
{
    struct zc_config dflt;
    const char *why = NULL;
    int rc;
    memset(&dflt, 0, sizeof(dflt));
    if (!cfg)
        cfg = &dflt;
    if (cfg->session_timeout < 0) {
        *err = ZBADARGUMENTS;
        return NULL;
    }
    struct zc_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        *err = ZSYSTEMERROR;
        return NULL;
    }
    rc = zc_parse_connect_string(connect_string, &c->hl, &why);
    if (rc != ZOK) {
        LOG_WARN("zkc: bad connect string \"%s\": %s", connect_string ? connect_string : "(null)", why);
        free(c);
        *err = rc;
        return NULL;
    }
    c->rng = cfg->seed;
    /* StaticHostProvider shuffles its list once, so clients spread over the ensemble. */
    for (int i = c->hl.n - 1; i > 0; i--) {
        int j = (int)(splitmix64(&c->rng) % (uint64_t)(i + 1));
        struct zc_host t = c->hl.hosts[i];
        c->hl.hosts[i] = c->hl.hosts[j];
        c->hl.hosts[j] = t;
    }
    c->req_timeout = cfg->session_timeout ? cfg->session_timeout : DEFAULT_TIMEOUT;
    c->timeout = c->req_timeout;
    c->max_frame = cfg->max_frame ? cfg->max_frame : ZK_DEFAULT_MAXBUFFER;
    c->session_id = cfg->session_id;
    if (cfg->session_id)
        memcpy(c->passwd, cfg->passwd, sizeof(c->passwd));
    c->session_watcher = cfg->session_watcher;
    c->st = CS_INIT;
    c->host = -1;
    c->next_xid = 1;
    jb_init(&c->out);
    c->auth_tail = &c->auths;
    for (int k = 0; k < ZW_NKINDS; k++)
        hmap_init(&c->watches[k]);
    c->et = &c->eh;
    *err = ZOK;
    return c;
}

static void free_queue(struct pqueue *q)
{
    struct pending *p;
    while ((p = pq_pop(q))) {
        pending_release(p);
        free(p);
    }
}

void zc_free(struct zc_conn *c)
{
    if (!c)
        return;
    struct zc_effect e;
    while (zc_next_effect(c, &e))
        zc_effect_clear(&e);
    free_queue(&c->sent);
    free_queue(&c->unsent);
    while (c->auths) {
        struct auth *a = c->auths;
        c->auths = a->next;
        free(a->scheme);
        free(a->cred);
        free(a->node);
        free(a);
    }
    wreg_clear(c);
    for (int k = 0; k < ZW_NKINDS; k++)
        hmap_free(&c->watches[k]);
    free(c->close_node);
    jb_free(&c->out);
    free(c->frame);
    zc_hostlist_free(&c->hl);
    free(c);
}

/* ------------------------------------------------------------------ events */

void zc_start(struct zc_conn *c, int64_t now)
{
    if (c->st == CS_INIT)
        start_attempt(c, now);
}

void zc_on_connected(struct zc_conn *c, uint32_t gen, int64_t now)
{
    if (gen != c->gen || c->st != CS_CONNECTING)
        return;
    struct zk_connect_req r;
    memset(&r, 0, sizeof(r));
    r.protocolVersion = 0;
    r.lastZxidSeen = c->last_zxid;
    r.timeOut = c->req_timeout;
    r.sessionId = c->session_id;
    memcpy(r.passwd, c->passwd, sizeof(r.passwd));
    r.passwd_len = ZK_PASSWD_LEN;
    r.readOnly = false; /* we never accept a read-only server */
    r.has_readOnly = true;
    c->st = CS_HANDSHAKE;
    c->attempt_start = c->last_recv = now;
    size_t off = jw_frame_begin(&c->out);
    jute_write_connect_req(&c->out, &r);
    jw_frame_end(&c->out, off);
    c->last_send = now;
    check_out_oom(c, now);
}

void zc_on_disconnected(struct zc_conn *c, uint32_t gen, int64_t now)
{
    if (gen != c->gen || !conn_open(c->st))
        return;
    conn_lost(c, now, 0, c->st == CS_CONNECTING ? "connect failed" : "closed");
}

static void expire_unsent(struct zc_conn *c, int64_t now)
{
    while (c->unsent.head && now - c->unsent.head->queued_at >= c->timeout)
        fail_pending(c, pq_pop(&c->unsent), ZCONNECTIONLOSS);
}

void zc_tick(struct zc_conn *c, int64_t now)
{
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        if (now - c->attempt_start >= connect_timeout(c))
            conn_lost(c, now, 1, "connect timeout");
        break;
    case CS_CONNECTED:
        if (now - c->last_recv >= read_timeout(c))
            conn_lost(c, now, 1, "read timeout");
        else if (now - c->last_send >= ping_interval(c)) {
            struct zk_request q;
            memset(&q, 0, sizeof(q));
            q.xid = ZXID_PING;
            q.type = ZOP_PING;
            send_request(c, now, &q);
        }
        break;
    case CS_CLOSING:
        if (now - c->last_recv >= read_timeout(c))
            finish_close(c, ZCONNECTIONLOSS, 0);
        break;
    case CS_BACKOFF:
        if (now >= c->retry_at)
            start_attempt(c, now);
        break;
    default:
        break;
    }
    if (!dead(c->st))
        expire_unsent(c, now);
    check_out_oom(c, now);
}

static int64_t dmin(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int64_t zc_next_deadline(const struct zc_conn *c)
{
    int64_t d = -1;
    switch (c->st) {
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        d = c->attempt_start + connect_timeout(c);
        break;
    case CS_CONNECTED:
        d = dmin(c->last_recv + read_timeout(c), c->last_send + ping_interval(c));
        break;
    case CS_CLOSING:
        d = c->last_recv + read_timeout(c);
        break;
    case CS_BACKOFF:
        d = c->retry_at;
        break;
    default:
        break;
    }
    if (!dead(c->st) && c->unsent.head)
        d = dmin(d, c->unsent.head->queued_at + c->timeout);
    return d;
}

/* ------------------------------------------------------------------ submission */

static int refusal(const struct zc_conn *c)
{
    switch (c->st) {
    case CS_EXPIRED:
        return ZSESSIONEXPIRED;
    case CS_AUTHFAILED:
        return ZAUTHFAILED;
    case CS_CLOSING:
    case CS_CLOSED:
        return ZCLOSING;
    default:
        return c->close_wanted ? ZCLOSING : ZOK;
    }
}

static int valid_path(const char *p, int seq)
{
    return p && path_validate(p, strlen(p), seq, NULL) == ZOK;
}

static int is_sequential(int32_t flags)
{
    return flags == ZMODE_PERSISTENT_SEQUENTIAL || flags == ZMODE_EPHEMERAL_SEQUENTIAL ||
           flags == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL;
}

static int check_acl(const struct zk_acl *acl, int32_t n)
{
    if (!acl || n <= 0)
        return ZINVALIDACL;
    for (int32_t i = 0; i < n; i++)
        if (!acl[i].id.scheme || !acl[i].id.id)
            return ZINVALIDACL;
    return ZOK;
}

/* The client-side checks of ZooKeeper's clients: mode and opcode agree (as
 * ZooKeeper.setCreateHeader picks them), TTL within EphemeralType's range, a valid path
 * (the sequential form for sequential modes), a non-empty ACL. */
static int check_create(const struct zk_request *q)
{
    switch (q->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
        if (q->flags < ZMODE_PERSISTENT || q->flags > ZMODE_EPHEMERAL_SEQUENTIAL)
            return ZBADARGUMENTS;
        break;
    case ZOP_CREATECONTAINER:
        if (q->flags != ZMODE_CONTAINER)
            return ZBADARGUMENTS;
        break;
    case ZOP_CREATETTL:
        if (q->flags != ZMODE_PERSISTENT_WITH_TTL && q->flags != ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL)
            return ZBADARGUMENTS;
        if (q->ttl <= 0 || q->ttl > TTL_MAX)
            return ZBADARGUMENTS;
        break;
    default:
        return ZBADARGUMENTS;
    }
    if (!valid_path(q->path, is_sequential(q->flags)))
        return ZBADARGUMENTS;
    if (q->datalen > 0 && !q->data)
        return ZBADARGUMENTS;
    return check_acl(q->acl, q->nacl);
}

enum { TOP, IN_MULTI, IN_MULTIREAD };

static int check_op(const struct zk_request *q, int where)
{
    switch (q->type) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATECONTAINER:
    case ZOP_CREATETTL:
        return where == IN_MULTIREAD ? ZBADARGUMENTS : check_create(q);
    case ZOP_CHECK:
        if (where != IN_MULTI)
            return ZBADARGUMENTS;
        return valid_path(q->path, 0) ? ZOK : ZBADARGUMENTS;
    case ZOP_DELETE:
    case ZOP_SETDATA:
        if (where == IN_MULTIREAD || (q->datalen > 0 && !q->data))
            return ZBADARGUMENTS;
        return valid_path(q->path, 0) ? ZOK : ZBADARGUMENTS;
    case ZOP_GETDATA:
    case ZOP_GETCHILDREN:
        if (where == IN_MULTI)
            return ZBADARGUMENTS;
        return valid_path(q->path, 0) ? ZOK : ZBADARGUMENTS;
    case ZOP_EXISTS:
    case ZOP_GETCHILDREN2:
    case ZOP_GETACL:
    case ZOP_SYNC:
    case ZOP_GETALLCHILDRENNUMBER:
    case ZOP_GETEPHEMERALS:
        if (where != TOP)
            return ZBADARGUMENTS;
        return valid_path(q->path, 0) ? ZOK : ZBADARGUMENTS;
    case ZOP_SETACL:
        if (where != TOP || !valid_path(q->path, 0))
            return ZBADARGUMENTS;
        return check_acl(q->acl, q->nacl);
    case ZOP_ADDWATCH:
        if (where != TOP || !valid_path(q->path, 0))
            return ZBADARGUMENTS;
        return q->mode == ZADDWATCH_PERSISTENT || q->mode == ZADDWATCH_PERSISTENT_RECURSIVE ? ZOK : ZBADARGUMENTS;
    case ZOP_REMOVEWATCHES:
    case ZOP_CHECKWATCHES:
        if (where != TOP || !valid_path(q->path, 0))
            return ZBADARGUMENTS;
        return q->mode >= ZWT_CHILDREN && q->mode <= ZWT_PERSISTENT_RECURSIVE ? ZOK : ZBADARGUMENTS;
    case ZOP_MULTI:
    case ZOP_MULTIREAD:
        if (where != TOP || q->nops < 0 || (q->nops > 0 && !q->ops))
            return ZBADARGUMENTS;
        for (int32_t i = 0; i < q->nops; i++) {
            int rc = check_op(&q->ops[i], q->type == ZOP_MULTI ? IN_MULTI : IN_MULTIREAD);
            if (rc != ZOK)
                return rc;
        }
        return ZOK;
    case ZOP_WHOAMI:
        return where == TOP ? ZOK : ZBADARGUMENTS;
    default:
        return ZBADARGUMENTS;
    }
}

static char *server_path(const struct zc_conn *c, const char *path)
{
    size_t n = strlen(path) + (c->hl.chroot ? strlen(c->hl.chroot) : 0) + 1;
    char *s = malloc(n);
    if (s && path_prepend_chroot(c->hl.chroot, path, s, n) != ZOK) {
        free(s);
        s = NULL;
    }
    return s;
}

static void free_server_req(struct zk_request *s)
{
    free(s->path);
    for (int32_t i = 0; i < s->nops; i++)
        free(s->ops[i].path);
    free(s->ops);
}

/* A shallow copy of q with server paths (its own allocations: path, ops and their paths). */
static int to_server(const struct zc_conn *c, const struct zk_request *q, struct zk_request *s)
{
    *s = *q;
    s->path = NULL;
    s->ops = NULL;
    s->nops = 0;
    s->watch = false;
    if (q->path) {
        if (!(s->path = server_path(c, q->path)))
            goto oom;
        s->pathlen = (int32_t)strlen(s->path);
    }
    if (q->nops > 0) {
        s->ops = calloc((size_t)q->nops, sizeof(*s->ops));
        if (!s->ops)
            goto oom;
        for (int32_t i = 0; i < q->nops; i++) {
            s->ops[i] = q->ops[i];
            s->ops[i].path = NULL;
            s->ops[i].ops = NULL;
            s->ops[i].nops = 0;
            s->ops[i].watch = false;
            s->nops = i + 1;
            if (!(s->ops[i].path = server_path(c, q->ops[i].path)))
                goto oom;
            s->ops[i].pathlen = (int32_t)strlen(s->ops[i].path);
        }
    }
    return ZOK;
oom:
    free_server_req(s);
    return ZSYSTEMERROR;
}

static int watchable(int32_t type)
{
    return type == ZOP_EXISTS || type == ZOP_GETDATA || type == ZOP_GETCHILDREN || type == ZOP_GETCHILDREN2;
}

int zc_submit(struct zc_conn *c, int64_t now, const struct zk_request *req, const struct zc_watcher *w, int local,
              void *cookie)
{
    struct zk_request s;
    struct pending *p = NULL;
    struct jbuf own;
    int rc = refusal(c);
    if (rc != ZOK)
        return rc;
    if (!req)
        return ZBADARGUMENTS;
    rc = check_op(req, TOP);
    if (rc != ZOK)
        return rc;
    int has_w = w && w->fn;
    if (req->type == ZOP_ADDWATCH && !has_w)
        return ZBADARGUMENTS;
    rc = to_server(c, req, &s);
    if (rc != ZOK)
        return rc;
    p = calloc(1, sizeof(*p));
    if (!p)
        goto oom;
    p->type = req->type;
    p->cookie = cookie;
    p->queued_at = now;
    if (watchable(req->type) && has_w) {
        s.watch = true;
        p->w = *w;
    }
    if (req->type == ZOP_ADDWATCH || is_watch_removal(req->type)) {
        if (has_w)
            p->w = *w;
        p->mode = req->mode;
        p->local = is_watch_removal(req->type) && local;
    }
    if (p->w.fn || is_watch_removal(req->type)) {
        if (!(p->spath = strdup(s.path)))
            goto oom;
    }
    if (is_watch_removal(req->type) && p->local && c->st != CS_CONNECTED) {
        /* The server cannot be asked now: a local removal proceeds at once, as the Java
         * client's does when the request fails with a connection loss. */
        free_server_req(&s);
        fail_pending(c, p, ZCONNECTIONLOSS);
        return ZOK;
    }
    if (is_watch_removal(req->type) && persistent_wtype(req->mode) && c->persistent_wt_unsupported) {
        p->retried = 1;
        p->type = s.type = ZOP_CHECKWATCHES;
        s.mode = ZWT_ANY;
    }
    p->xid = alloc_xid(c);
    s.xid = p->xid;
    if (c->st == CS_CONNECTED) {
        size_t base = c->out.len;
        size_t off = jw_frame_begin(&c->out);
        jute_write_request(&c->out, &s);
        jw_frame_end(&c->out, off);
        if (c->out.oom || c->out.len - base - 4 > c->max_frame) {
            rc = c->out.oom ? ZSYSTEMERROR : ZBADARGUMENTS;
            c->out.len = base;
            c->out.oom = 0;
            goto fail;
        }
        c->last_send = now;
        pq_push(&c->sent, p);
    } else {
        jb_init(&own);
        size_t off = jw_frame_begin(&own);
        jute_write_request(&own, &s);
        jw_frame_end(&own, off);
        if (own.oom || own.len - 4 > c->max_frame) {
            rc = own.oom ? ZSYSTEMERROR : ZBADARGUMENTS;
            jb_free(&own);
            goto fail;
        }
        p->frame = own.p;
        p->framelen = own.len;
        pq_push(&c->unsent, p);
    }
    free_server_req(&s);
    return ZOK;
oom:
    rc = ZSYSTEMERROR;
fail:
    if (p) {
        pending_release(p);
        free(p);
    }
    free_server_req(&s);
    return rc;
}

int zc_add_auth(struct zc_conn *c, int64_t now, const char *scheme, const void *cred, int32_t credlen, void *cookie)
{
    int rc = refusal(c);
    if (rc != ZOK)
        return rc;
    if (!scheme || !scheme[0] || credlen < 0 || (credlen > 0 && !cred) || (size_t)credlen > c->max_frame)
        return ZBADARGUMENTS;
    struct auth *a = calloc(1, sizeof(*a));
    if (!a)
        return ZSYSTEMERROR;
    a->scheme = strdup(scheme);
    a->cred = malloc(credlen ? (size_t)credlen : 1);
    if (cookie) {
        a->node = calloc(1, sizeof(*a->node));
        if (a->node) {
            a->node->alloc = a->node;
            a->node->e.kind = ZC_EFF_REPLY;
            a->node->e.cookie = cookie;
            a->node->e.op = ZOP_AUTH;
            a->node->e.res.type = ZOP_AUTH;
        }
    }
    if (!a->scheme || !a->cred || (cookie && !a->node)) {
        free(a->scheme);
        free(a->cred);
        free(a->node);
        free(a);
        return ZSYSTEMERROR;
    }
    if (credlen)
        memcpy(a->cred, cred, (size_t)credlen);
    a->len = credlen;
    *c->auth_tail = a;
    c->auth_tail = &a->next;
    if (c->st == CS_CONNECTED) {
        send_auth(c, now, a);
        c->auth_sent++;
        check_out_oom(c, now);
    }
    return ZOK;
}

int zc_close(struct zc_conn *c, int64_t now, void *cookie)
{
    if (c->st == CS_CLOSING || c->st == CS_CLOSED || c->close_wanted)
        return ZCLOSING;
    if (cookie) {
        c->close_node = calloc(1, sizeof(*c->close_node));
        if (!c->close_node)
            return ZSYSTEMERROR;
        c->close_node->alloc = c->close_node;
        c->close_node->e.kind = ZC_EFF_REPLY;
        c->close_node->e.cookie = cookie;
        c->close_node->e.op = ZOP_CLOSESESSION;
        c->close_node->e.res.type = ZOP_CLOSESESSION;
    }
    c->close_wanted = 1;
    if (c->st == CS_EXPIRED || c->st == CS_AUTHFAILED) {
        deliver_close(c, ZOK);
        return ZOK;
    }
    if (c->st == CS_CONNECTED) {
        struct pending *p = calloc(1, sizeof(*p));
        if (p) {
            fail_queue(c, &c->unsent, ZCLOSING);
            p->xid = alloc_xid(c);
            p->type = ZOP_CLOSESESSION;
            p->queued_at = now;
            struct zk_request q;
            memset(&q, 0, sizeof(q));
            q.xid = p->xid;
            q.type = ZOP_CLOSESESSION;
            send_request(c, now, &q);
            pq_push(&c->sent, p);
            c->st = CS_CLOSING;
            c->last_recv = now; /* wait at most a read timeout for the answer */
            check_out_oom(c, now);
            return ZOK;
        }
        LOG_ERROR("zkc: out of memory closing session 0x%" PRIx64 ": it will expire instead", (uint64_t)c->session_id);
    }
    /* No connection to ask on: a session we had will expire on the server by itself. */
    finish_close(c, c->session_id ? ZCONNECTIONLOSS : ZOK, 0);
    return ZOK;
}

void zc_abort(struct zc_conn *c)
{
    if (dead(c->st))
        return;
    finish_close(c, ZCLOSING, 0);
}

/* ------------------------------------------------------------------ inspection */

int zc_state(const struct zc_conn *c)
{
    switch (c->st) {
    case CS_CONNECTED:
        return ZSTATE_SYNC_CONNECTED;
    case CS_CLOSING:
    case CS_CLOSED:
        return ZSTATE_CLOSED;
    case CS_EXPIRED:
        return ZSTATE_EXPIRED;
    case CS_AUTHFAILED:
        return ZSTATE_AUTH_FAILED;
    default:
        return ZSTATE_DISCONNECTED;
    }
}

int zc_is_dead(const struct zc_conn *c)
{
    return dead(c->st);
}
int64_t zc_session_id(const struct zc_conn *c)
{
    return c->session_id;
}
const uint8_t *zc_session_passwd(const struct zc_conn *c)
{
    return c->passwd;
}
int32_t zc_timeout(const struct zc_conn *c)
{
    return c->timeout;
}
int64_t zc_last_zxid(const struct zc_conn *c)
{
    return c->last_zxid;
}
const struct zc_hostlist *zc_hosts(const struct zc_conn *c)
{
    return &c->hl;
}
int zc_current_host(const struct zc_conn *c)
{
    return c->host;
}
size_t zc_outstanding(const struct zc_conn *c)
{
    return c->sent.n;
}
size_t zc_queued(const struct zc_conn *c)
{
    return c->unsent.n;
}
size_t zc_watch_count(const struct zc_conn *c, int kind)
{
    return kind >= 0 && kind < ZW_NKINDS ? c->watches[kind].len : 0;
}
