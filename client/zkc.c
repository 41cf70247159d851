/* The public API of the client library (see zkc.h): builds requests for the core, runs the
 * core's effects (network actions through the driver, completions and watchers for the
 * caller) from the event loop, and the blocking layer. */
#include "client/zkc.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "client/conn.h"
#include "client/io.h"
#include "common/log.h"

struct zkc {
    struct event_base *base;
    int own_base;
    struct zc_conn *c;
    struct zio *io;
    struct event *kick; /* runs the pump from the loop after an API call */
    int dispatching;    /* > 0 while a completion or watcher runs */
    int doomed;         /* an async close finished: free at the end of this pump */
    int waiting;        /* a blocking wait runs the loop: it frees a doomed handle */
    int async_close;    /* zkc_close_async was accepted */
};

/* What a request's cookie points to. */
struct call {
    zkc_done_fn done;
    void *ctx;
    zkc_t *zh;
    int close_async; /* zkc_close_async's: free the handle after done */
};

const struct zk_acl zkc_open_acl_unsafe[1] = {{ZPERM_ALL, {(char *)"world", (char *)"anyone"}}};
const struct zk_acl zkc_read_acl_unsafe[1] = {{ZPERM_READ, {(char *)"world", (char *)"anyone"}}};
const struct zk_acl zkc_creator_all_acl[1] = {{ZPERM_ALL, {(char *)"auth", (char *)""}}};

/* ------------------------------------------------------------------ effects */

static void destroy(zkc_t *zh);

static void run_effect(zkc_t *zh, struct zc_effect *e)
{
    switch (e->kind) {
    case ZC_EFF_CONNECT: {
        const struct zc_host *h = &zc_hosts(zh->c)->hosts[e->host];
        zio_connect(zh->io, e->gen, h->host, h->port);
        break;
    }
    case ZC_EFF_CLOSE:
        zio_close(zh->io, e->gen);
        break;
    case ZC_EFF_STATE:
        break; /* zkc_state reads the core; watchers get ZC_EFF_WATCH */
    case ZC_EFF_WATCH: {
        zkc_watcher_fn fn = (zkc_watcher_fn)e->watcher.fn;
        zh->dispatching++;
        fn(zh, e->type, e->state, e->path, e->watcher.ctx);
        zh->dispatching--;
        break;
    }
    case ZC_EFF_REPLY: {
        struct call *call = e->cookie;
        if (call->done) {
            zh->dispatching++;
            call->done(zh, e->rc, &e->res, call->ctx);
            zh->dispatching--;
        }
        if (call->close_async)
            zh->doomed = 1;
        free(call);
        break;
    }
    }
}

/* Drains the core: effects in order, then its output, again while flushing produced more
 * (a failed write), then the timer. Runs only from libevent callbacks. */
static void pump(void *arg)
{
    zkc_t *zh = arg;
    struct zc_effect e;
    do {
        while (zc_next_effect(zh->c, &e)) {
            run_effect(zh, &e);
            zc_effect_clear(&e);
        }
        zio_flush(zh->io);
    } while (zc_has_effects(zh->c));
    zio_arm_timer(zh->io);
    if (zh->doomed && !zh->waiting)
        destroy(zh);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pump(arg);
}

/* API calls only feed the core; the loop runs the effects right after, so a completion
 * never runs inside the call that submitted it. */
static void kick(zkc_t *zh)
{
    event_active(zh->kick, EV_READ, 0);
}

/* Frees everything; pending cookies still queued are freed without being called. */
static void destroy(zkc_t *zh)
{
    struct zc_effect e;
    zio_free(zh->io);
    if (zh->c) {
        zc_abort(zh->c);
        while (zc_next_effect(zh->c, &e)) {
            if (e.kind == ZC_EFF_REPLY)
                free(e.cookie);
            zc_effect_clear(&e);
        }
        zc_free(zh->c);
    }
    if (zh->kick)
        event_free(zh->kick);
    if (zh->own_base && zh->base)
        event_base_free(zh->base);
    free(zh);
}

/* ------------------------------------------------------------------ handle */

zkc_t *zkc_new(struct event_base *base, const char *connect_string, const struct zkc_options *opt,
               zkc_watcher_fn watcher, void *ctx, int *err)
{
    struct zc_config cfg;
    int dummy;
    if (!err)
        err = &dummy;
    memset(&cfg, 0, sizeof(cfg));
    if (opt) {
        if (opt->session_timeout_ms < 0) {
            *err = ZBADARGUMENTS;
            return NULL;
        }
        cfg.session_timeout = opt->session_timeout_ms;
        cfg.seed = opt->seed;
        cfg.max_frame = opt->max_buffer;
        cfg.session_id = opt->session_id;
        memcpy(cfg.passwd, opt->passwd, sizeof(cfg.passwd));
    }
    if (!cfg.seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cfg.seed = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
    }
    cfg.session_watcher.fn = (zc_fnptr)watcher;
    cfg.session_watcher.ctx = ctx;
    zkc_t *zh = calloc(1, sizeof(*zh));
    if (!zh) {
        *err = ZSYSTEMERROR;
        return NULL;
    }
    zh->c = zc_new(connect_string, &cfg, err);
    if (!zh->c) {
        free(zh);
        return NULL;
    }
    zh->base = base;
    if (!base) {
        zh->base = event_base_new();
        zh->own_base = 1;
    }
    if (zh->base) {
        zh->io = zio_new(zh->base, zh->c, pump, zh);
        zh->kick = event_new(zh->base, -1, 0, kick_cb, zh);
    }
    if (!zh->base || !zh->io || !zh->kick) {
        destroy(zh);
        *err = ZSYSTEMERROR;
        return NULL;
    }
    zc_start(zh->c, zio_now());
    kick(zh);
    *err = ZOK;
    return zh;
}

int zkc_state(const zkc_t *zh)
{
    return zc_state(zh->c);
}

int64_t zkc_session_id(const zkc_t *zh, uint8_t passwd[ZK_PASSWD_LEN])
{
    if (passwd)
        memcpy(passwd, zc_session_passwd(zh->c), ZK_PASSWD_LEN);
    return zc_session_id(zh->c);
}

int32_t zkc_session_timeout(const zkc_t *zh)
{
    return zc_timeout(zh->c);
}
const char *zkc_current_server(zkc_t *zh)
{
    return zio_peer(zh->io);
}
struct event_base *zkc_event_base(const zkc_t *zh)
{
    return zh->base;
}

/* ------------------------------------------------------------------ submission */

static struct call *new_call(zkc_t *zh, zkc_done_fn done, void *ctx)
{
    struct call *call = calloc(1, sizeof(*call));
    if (call) {
        call->done = done;
        call->ctx = ctx;
        call->zh = zh;
    }
    return call;
}

static int submit(zkc_t *zh, const struct zk_request *q, zkc_watcher_fn w, void *wctx, int local, zkc_done_fn done,
                  void *ctx)
{
    struct zc_watcher zw = {(zc_fnptr)w, wctx};
    if (zh->doomed)
        return ZCLOSING;
    /* Every accepted request gets a cookie, so the core always reports its end (a removal's
     * local effects need the reply even when nobody waits). */
    struct call *call = new_call(zh, done, ctx);
    if (!call)
        return ZSYSTEMERROR;
    int rc = zc_submit(zh->c, zio_now(), q, w ? &zw : NULL, local, call);
    if (rc != ZOK) {
        free(call);
        return rc;
    }
    kick(zh);
    return ZOK;
}

static int path_op(zkc_t *zh, int32_t type, const char *path, zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = type;
    q.path = (char *)path;
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

static int create_opcode(int mode)
{
    if (mode == ZMODE_PERSISTENT_WITH_TTL || mode == ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL)
        return ZOP_CREATETTL;
    return mode == ZMODE_CONTAINER ? ZOP_CREATECONTAINER : ZOP_CREATE2;
}

void zkc_op_create(struct zk_request *op, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl,
                   int32_t nacl, int mode, int64_t ttl)
{
    memset(op, 0, sizeof(*op));
    op->type = create_opcode(mode);
    op->path = (char *)path;
    op->data = data;
    op->datalen = data || datalen > 0 ? datalen : -1;
    op->acl = (struct zk_acl *)acl;
    op->nacl = nacl;
    op->flags = mode;
    op->ttl = op->type == ZOP_CREATETTL ? ttl : 0;
}

void zkc_op_delete(struct zk_request *op, const char *path, int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZOP_DELETE;
    op->path = (char *)path;
    op->version = version;
}

void zkc_op_set_data(struct zk_request *op, const char *path, const void *data, int32_t datalen, int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZOP_SETDATA;
    op->path = (char *)path;
    op->data = data;
    op->datalen = data || datalen > 0 ? datalen : -1;
    op->version = version;
}

void zkc_op_check(struct zk_request *op, const char *path, int32_t version)
{
    memset(op, 0, sizeof(*op));
    op->type = ZOP_CHECK;
    op->path = (char *)path;
    op->version = version;
}

void zkc_op_get_data(struct zk_request *op, const char *path)
{
    memset(op, 0, sizeof(*op));
    op->type = ZOP_GETDATA;
    op->path = (char *)path;
}

void zkc_op_get_children(struct zk_request *op, const char *path)
{
    memset(op, 0, sizeof(*op));
    op->type = ZOP_GETCHILDREN;
    op->path = (char *)path;
}

int zkc_create(zkc_t *zh, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl, int32_t nacl,
               int mode, int64_t ttl, zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    if (mode < ZMODE_PERSISTENT || mode > ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL || datalen < -1)
        return ZBADARGUMENTS;
    zkc_op_create(&q, path, data, datalen, acl, nacl, mode, ttl);
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

int zkc_delete(zkc_t *zh, const char *path, int32_t version, zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    zkc_op_delete(&q, path, version);
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

static int watch_op(zkc_t *zh, int32_t type, const char *path, zkc_watcher_fn w, void *wctx, zkc_done_fn done,
                    void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = type;
    q.path = (char *)path;
    return submit(zh, &q, w, wctx, 0, done, ctx);
}

int zkc_exists(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx)
{
    return watch_op(zh, ZOP_EXISTS, path, watcher, wctx, done, ctx);
}

int zkc_get_data(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx)
{
    return watch_op(zh, ZOP_GETDATA, path, watcher, wctx, done, ctx);
}

int zkc_get_children(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done, void *ctx)
{
    return watch_op(zh, ZOP_GETCHILDREN2, path, watcher, wctx, done, ctx);
}

int zkc_set_data(zkc_t *zh, const char *path, const void *data, int32_t datalen, int32_t version, zkc_done_fn done,
                 void *ctx)
{
    struct zk_request q;
    if (datalen < -1)
        return ZBADARGUMENTS;
    zkc_op_set_data(&q, path, data, datalen, version);
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

int zkc_get_acl(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx)
{
    return path_op(zh, ZOP_GETACL, path, done, ctx);
}

int zkc_set_acl(zkc_t *zh, const char *path, int32_t version, const struct zk_acl *acl, int32_t nacl, zkc_done_fn done,
                void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = ZOP_SETACL;
    q.path = (char *)path;
    q.version = version;
    q.acl = (struct zk_acl *)acl;
    q.nacl = nacl;
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

int zkc_sync(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx)
{
    return path_op(zh, ZOP_SYNC, path, done, ctx);
}

static int multi_op(zkc_t *zh, int32_t type, const struct zk_request *ops, int32_t nops, zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = type;
    q.ops = (struct zk_request *)ops;
    q.nops = nops;
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

int zkc_multi(zkc_t *zh, const struct zk_request *ops, int32_t nops, zkc_done_fn done, void *ctx)
{
    return multi_op(zh, ZOP_MULTI, ops, nops, done, ctx);
}

int zkc_multi_read(zkc_t *zh, const struct zk_request *ops, int32_t nops, zkc_done_fn done, void *ctx)
{
    return multi_op(zh, ZOP_MULTIREAD, ops, nops, done, ctx);
}

int zkc_add_watch(zkc_t *zh, const char *path, int mode, zkc_watcher_fn watcher, void *wctx, zkc_done_fn done,
                  void *ctx)
{
    struct zk_request q;
    if (!watcher)
        return ZBADARGUMENTS;
    memset(&q, 0, sizeof(q));
    q.type = ZOP_ADDWATCH;
    q.path = (char *)path;
    q.mode = mode;
    return submit(zh, &q, watcher, wctx, 0, done, ctx);
}

int zkc_remove_watches(zkc_t *zh, const char *path, int wtype, zkc_watcher_fn watcher, void *wctx, int local,
                       zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = watcher ? ZOP_CHECKWATCHES : ZOP_REMOVEWATCHES;
    q.path = (char *)path;
    q.mode = wtype;
    return submit(zh, &q, watcher, wctx, local, done, ctx);
}

int zkc_add_auth(zkc_t *zh, const char *scheme, const void *cred, int32_t credlen, zkc_done_fn done, void *ctx)
{
    if (zh->doomed)
        return ZCLOSING;
    struct call *call = done ? new_call(zh, done, ctx) : NULL;
    if (done && !call)
        return ZSYSTEMERROR;
    int rc = zc_add_auth(zh->c, zio_now(), scheme, cred, credlen, call);
    if (rc != ZOK) {
        free(call);
        return rc;
    }
    kick(zh);
    return ZOK;
}

int zkc_get_ephemerals(zkc_t *zh, const char *prefix, zkc_done_fn done, void *ctx)
{
    return path_op(zh, ZOP_GETEPHEMERALS, prefix, done, ctx);
}

int zkc_get_all_children_number(zkc_t *zh, const char *path, zkc_done_fn done, void *ctx)
{
    return path_op(zh, ZOP_GETALLCHILDRENNUMBER, path, done, ctx);
}

int zkc_whoami(zkc_t *zh, zkc_done_fn done, void *ctx)
{
    struct zk_request q;
    memset(&q, 0, sizeof(q));
    q.type = ZOP_WHOAMI;
    return submit(zh, &q, NULL, NULL, 0, done, ctx);
}

/* ------------------------------------------------------------------ blocking layer */

static void flag_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until *done, the handle's state satisfies want_state (when not NULL), an
 * async close finished (the handle is then freed here, outside the loop), or timeout_ms
 * passes (< 0: no limit). Returns ZOK (done or state reached), ZCLOSING (the handle was
 * freed: do not touch it), ZOPERATIONTIMEOUT, or ZSYSTEMERROR (the loop failed). */
static int run_until(zkc_t *zh, const int *done, int (*want_state)(const zkc_t *), int timeout_ms)
{
    struct event_base *base = zh->base;
    struct event *t = NULL;
    int timed_out = 0, rc = ZOK;
    if (timeout_ms >= 0) {
        struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
        t = evtimer_new(base, flag_cb, &timed_out);
        if (!t || evtimer_add(t, &tv) != 0) {
            if (t)
                event_free(t);
            return ZSYSTEMERROR;
        }
    }
    zh->waiting = 1;
    for (;;) {
        if (zh->doomed) {
            rc = ZCLOSING;
            break;
        }
        if ((done && *done) || (want_state && want_state(zh)))
            break;
        if (timed_out) {
            rc = ZOPERATIONTIMEOUT;
            break;
        }
        int r = event_base_loop(base, EVLOOP_ONCE);
        if (r != 0 && !zh->doomed && !(done && *done)) {
            /* -1: failure; 1: nothing left to wait for, which would spin */
            LOG_ERROR("zkc: the event loop %s", r < 0 ? "failed" : "has no events left");
            rc = ZSYSTEMERROR;
            break;
        }
    }
    zh->waiting = 0;
    if (t)
        event_free(t);
    if (zh->doomed)
        destroy(zh);
    return rc;
}

struct waiter {
    int done;
    int rc;
    struct zk_response res;
};

static void wait_done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct waiter *w = ctx;
    (void)zh;
    w->rc = rc;
    /* Take the answer: the dispatcher frees what is left in *res, which is then nothing. */
    w->res = *res;
    memset((struct zk_response *)res, 0, sizeof(*res));
    w->done = 1;
}

/* Waits for a request submitted with rc; hands its answer to res or frees it. */
static int wait_end(zkc_t *zh, int rc, struct waiter *w, struct zk_response *res)
{
    if (res)
        memset(res, 0, sizeof(*res));
    if (rc != ZOK)
        return rc;
    rc = run_until(zh, &w->done, NULL, -1);
    if (rc != ZOK && rc != ZCLOSING && !w->done) {
        /* The loop broke with the request outstanding: its waiter lives on this stack, so
         * the handle must finish it before returning. */
        zc_abort(zh->c);
        pump(zh);
    }
    if (res)
        *res = w->res;
    else
        jute_free_response(&w->res);
    return w->rc;
}

#define WAIT_BEGIN(zh)                                                                                                 \
    struct waiter wt;                                                                                                  \
    memset(&wt, 0, sizeof(wt));                                                                                        \
    if ((zh)->dispatching)                                                                                             \
        return ZAPIERROR;

static int connected_or_dead(const zkc_t *zh)
{
    int s = zc_state(zh->c);
    return s == ZSTATE_SYNC_CONNECTED || zc_is_dead(zh->c);
}

int zkc_wait_connected(zkc_t *zh, int timeout_ms)
{
    if (zh->dispatching)
        return ZAPIERROR;
    int rc = run_until(zh, NULL, connected_or_dead, timeout_ms);
    if (rc != ZOK)
        return rc;
    switch (zc_state(zh->c)) {
    case ZSTATE_SYNC_CONNECTED:
        return ZOK;
    case ZSTATE_EXPIRED:
        return ZSESSIONEXPIRED;
    case ZSTATE_AUTH_FAILED:
        return ZAUTHFAILED;
    default:
        return ZCLOSING;
    }
}

int zkc_run_for(zkc_t *zh, int ms)
{
    if (zh->dispatching)
        return ZAPIERROR;
    int rc = run_until(zh, NULL, NULL, ms < 0 ? 0 : ms);
    return rc == ZOPERATIONTIMEOUT ? ZOK : rc;
}

int zkc_create_wait(zkc_t *zh, const char *path, const void *data, int32_t datalen, const struct zk_acl *acl,
                    int32_t nacl, int mode, int64_t ttl, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_create(zh, path, data, datalen, acl, nacl, mode, ttl, wait_done, &wt), &wt, res);
}

int zkc_delete_wait(zkc_t *zh, const char *path, int32_t version)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_delete(zh, path, version, wait_done, &wt), &wt, NULL);
}

int zkc_exists_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_exists(zh, path, watcher, wctx, wait_done, &wt), &wt, res);
}

int zkc_get_data_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_get_data(zh, path, watcher, wctx, wait_done, &wt), &wt, res);
}

int zkc_set_data_wait(zkc_t *zh, const char *path, const void *data, int32_t datalen, int32_t version,
                      struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_set_data(zh, path, data, datalen, version, wait_done, &wt), &wt, res);
}

int zkc_get_children_wait(zkc_t *zh, const char *path, zkc_watcher_fn watcher, void *wctx, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_get_children(zh, path, watcher, wctx, wait_done, &wt), &wt, res);
}

int zkc_get_acl_wait(zkc_t *zh, const char *path, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_get_acl(zh, path, wait_done, &wt), &wt, res);
}

int zkc_set_acl_wait(zkc_t *zh, const char *path, int32_t version, const struct zk_acl *acl, int32_t nacl)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_set_acl(zh, path, version, acl, nacl, wait_done, &wt), &wt, NULL);
}

int zkc_sync_wait(zkc_t *zh, const char *path)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_sync(zh, path, wait_done, &wt), &wt, NULL);
}

int zkc_multi_wait(zkc_t *zh, const struct zk_request *ops, int32_t nops, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_multi(zh, ops, nops, wait_done, &wt), &wt, res);
}

int zkc_multi_read_wait(zkc_t *zh, const struct zk_request *ops, int32_t nops, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_multi_read(zh, ops, nops, wait_done, &wt), &wt, res);
}

int zkc_add_watch_wait(zkc_t *zh, const char *path, int mode, zkc_watcher_fn watcher, void *wctx)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_add_watch(zh, path, mode, watcher, wctx, wait_done, &wt), &wt, NULL);
}

int zkc_remove_watches_wait(zkc_t *zh, const char *path, int wtype, zkc_watcher_fn watcher, void *wctx, int local)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_remove_watches(zh, path, wtype, watcher, wctx, local, wait_done, &wt), &wt, NULL);
}

int zkc_add_auth_wait(zkc_t *zh, const char *scheme, const void *cred, int32_t credlen)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_add_auth(zh, scheme, cred, credlen, wait_done, &wt), &wt, NULL);
}

int zkc_get_ephemerals_wait(zkc_t *zh, const char *prefix, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_get_ephemerals(zh, prefix, wait_done, &wt), &wt, res);
}

int zkc_get_all_children_number_wait(zkc_t *zh, const char *path, int32_t *number)
{
    struct zk_response res;
    WAIT_BEGIN(zh);
    int rc = wait_end(zh, zkc_get_all_children_number(zh, path, wait_done, &wt), &wt, &res);
    if (number)
        *number = rc == ZOK ? res.number : 0;
    jute_free_response(&res);
    return rc;
}

int zkc_whoami_wait(zkc_t *zh, struct zk_response *res)
{
    WAIT_BEGIN(zh);
    return wait_end(zh, zkc_whoami(zh, wait_done, &wt), &wt, res);
}

/* ------------------------------------------------------------------ close */

int zkc_close(zkc_t *zh)
{
    if (zh->dispatching)
        return ZAPIERROR;
    if (zh->doomed || zh->async_close)
        return ZCLOSING; /* zkc_close_async frees it */
    struct waiter wt;
    memset(&wt, 0, sizeof(wt));
    struct call *call = new_call(zh, wait_done, &wt);
    int rc = call ? zc_close(zh->c, zio_now(), call) : ZSYSTEMERROR;
    if (rc != ZOK) {
        free(call);
        zc_abort(zh->c); /* out of memory or already closing: end it here */
        wt.rc = rc == ZCLOSING ? ZOK : rc;
        wt.done = 1;
    } else {
        kick(zh);
        /* Bounded: the core gives the server at most a read timeout to answer. */
        run_until(zh, &wt.done, NULL, -1);
    }
    jute_free_response(&wt.res);
    int result = wt.done ? wt.rc : ZCONNECTIONLOSS;
    destroy(zh);
    return result;
}

int zkc_close_async(zkc_t *zh, zkc_done_fn done, void *ctx)
{
    if (zh->own_base)
        return ZAPIERROR;
    if (zh->doomed || zh->async_close)
        return ZCLOSING;
    struct call *call = new_call(zh, done, ctx);
    if (!call)
        return ZSYSTEMERROR;
    call->close_async = 1;
    int rc = zc_close(zh->c, zio_now(), call);
    if (rc != ZOK) {
        free(call);
        return rc;
    }
    zh->async_close = 1;
    kick(zh);
    return ZOK;
}
