/* flock on a virtual lock file NAME.lock: ZooKeeper's lock recipe on the node NAME, with
 * kazoo's node names (shape.h), so shell scripts and kazoo programs exclude each other.
 * One lockreq per open file: create NAME if needed, create an ephemeral sequential
 * contender, list the contenders, wait (an exists watch) on the predecessor only, and list
 * again when it goes. A lockreq is referenced by the open file and by every request or
 * watch in flight for it, and freed when the last reference goes. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>

#include "common/log.h"
#include "common/zerr.h"
#include "fuse/mount.h"
#include "fuse/shape.h"

enum lock_state { LS_IDLE, LS_ACQUIRING, LS_WAITING, LS_HELD };

struct lockreq {
    struct mount *m;
    zkc_t *zh;             /* the session the contender node belongs to */
    struct lockreq **slot; /* where the open file keeps it; NULL once released */
    fuse_req_t req;        /* the flock request waiting for an answer, or NULL */
    int refs;
    enum lock_state state;
    int shared, nonblock;
    int abandoned;            /* released, interrupted or failed: delete the contender, stop */
    char *lockpath;           /* the node NAME */
    char *prefix;             /* "<32 hex>__lock__" or "<32 hex>__rlock__" */
    char *node;               /* our contender's name, once created */
    char *watched;            /* the predecessor path we hold an exists watch on */
    struct lockreq *next_all; /* every live lockreq of the mount, for a lost session */
};

static struct lockreq *all_locks;

static void lr_put(struct lockreq *lr)
{
    if (--lr->refs > 0)
        return;
    struct lockreq **pp = &all_locks;
    while (*pp && *pp != lr)
        pp = &(*pp)->next_all;
    if (*pp)
        *pp = lr->next_all;
    free(lr->lockpath);
    free(lr->prefix);
    free(lr->node);
    free(lr->watched);
    free(lr);
}

static void answer(struct lockreq *lr, int err)
{
    if (lr->req) {
        fuse_req_t req = lr->req;
        lr->req = NULL;
        fuse_reply_err(req, err);
    }
}

static void list_contenders(struct lockreq *lr);

static void deleted_node(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)res;
    struct lockreq *lr = ctx;
    if (rc != ZOK && rc != ZNONODE)
        LOG_WARN("lock %s: cannot delete contender %s (%s); it goes with the session", lr->lockpath,
                 lr->node ? lr->node : "?", zerr_name(rc));
    lr_put(lr);
}

static void unwatched(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)rc, (void)res;
    lr_put(ctx);
}

static void on_predecessor(zkc_t *zh, int type, int state, const char *path, void *ctx);

/* Stops everything: the watch, the contender node. The caller answers the request. */
static void abandon(struct lockreq *lr)
{
    struct mount *m = lr->m;
    if (lr->abandoned)
        return;
    lr->abandoned = 1;
    lr->state = LS_IDLE;
    if (lr->zh != m->zh)
        return; /* an old session: the server dropped its nodes and watches */
    if (lr->watched) {
        lr->refs++;
        if (zkc_remove_watches(m->zh, lr->watched, ZWT_DATA, on_predecessor, lr, 1, unwatched, lr) != ZOK)
            lr->refs--;
        free(lr->watched);
        lr->watched = NULL;
    }
    if (lr->node) {
        char path[4200];
        shape_child_path(lr->lockpath, lr->node, path, sizeof(path));
        lr->refs++;
        if (zkc_delete(m->zh, path, -1, deleted_node, lr) != ZOK)
            lr->refs--;
    }
}

static void fail(struct lockreq *lr, int err)
{
    abandon(lr);
    answer(lr, err);
}

static void on_predecessor(zkc_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh, (void)state;
    struct lockreq *lr = ctx;
    if (type == ZEV_NONE)
        return; /* state changes reach every watcher; a dead session is lock_session_lost's */
    if (lr->watched && path && strcmp(lr->watched, path) == 0) {
        free(lr->watched);
        lr->watched = NULL;
    }
    if (type != ZEV_DATA_WATCH_REMOVED && lr->state == LS_WAITING && !lr->abandoned)
        list_contenders(lr);
    lr_put(lr); /* the watch's reference: it fired or was removed */
}

static void on_exists_pred(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)res;
    struct lockreq *lr = ctx;
    if (rc == ZNONODE && !lr->abandoned) {
        /* gone already: the exist watch it left would fire only at a re-creation */
        char *w = lr->watched;
        lr->watched = NULL;
        lr->refs++;
        if (zkc_remove_watches(lr->m->zh, w, ZWT_DATA, on_predecessor, lr, 1, unwatched, lr) != ZOK)
            lr->refs--;
        free(w);
        list_contenders(lr);
    } else if (rc != ZOK && rc != ZNONODE) {
        /* no watch was set: drop its reference */
        free(lr->watched);
        lr->watched = NULL;
        lr_put(lr);
        if (!lr->abandoned)
            fail(lr, shape_errno(rc));
    }
    lr_put(lr);
}

static void on_children(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct lockreq *lr = ctx;
    if (lr->abandoned) {
        lr_put(lr);
        return;
    }
    if (rc != ZOK) {
        fail(lr, shape_errno(rc));
        lr_put(lr);
        return;
    }
    if (!lr->node) {
        /* the create's reply was lost with a connection: find our node by its prefix */
        for (int32_t i = 0; i < res->nchildren && !lr->node; i++)
            if (strncmp(res->children[i], lr->prefix, strlen(lr->prefix)) == 0)
                lr->node = strdup(res->children[i]);
        if (!lr->node) {
            fail(lr, EIO);
            lr_put(lr);
            return;
        }
    }
    int p = shape_lock_predecessor(res->children, res->nchildren, lr->node, lr->shared);
    if (p == -2) {
        LOG_WARN("lock %s: our contender %s vanished", lr->lockpath, lr->node);
        free(lr->node);
        lr->node = NULL;
        fail(lr, EIO);
    } else if (p == -1) {
        lr->state = LS_HELD;
        LOG_DEBUG("lock %s: held (%s)", lr->lockpath, lr->node);
        answer(lr, 0);
    } else if (lr->nonblock) {
        fail(lr, EWOULDBLOCK);
    } else {
        lr->state = LS_WAITING;
        char path[4200];
        shape_child_path(lr->lockpath, res->children[p], path, sizeof(path));
        free(lr->watched);
        lr->watched = strdup(path);
        lr->refs += 2; /* the watch and the request */
        if (!lr->watched || zkc_exists(zh, path, on_predecessor, lr, on_exists_pred, lr) != ZOK) {
            lr->refs -= 2;
            free(lr->watched);
            lr->watched = NULL;
            fail(lr, EIO);
        }
    }
    lr_put(lr);
}

static void list_contenders(struct lockreq *lr)
{
    lr->refs++;
    if (zkc_get_children(lr->m->zh, lr->lockpath, NULL, NULL, on_children, lr) != ZOK) {
        lr->refs--;
        fail(lr, EIO);
    }
}

static void on_contender(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct lockreq *lr = ctx;
    if (rc == ZOK) {
        const char *slash = strrchr(res->path, '/');
        lr->node = strdup(slash ? slash + 1 : res->path);
    }
    if (lr->abandoned) {
        /* interrupted while the create was on its way: remove what it made */
        lr->abandoned = 0;
        abandon(lr);
    } else if (rc == ZOK || rc == ZCONNECTIONLOSS) {
        list_contenders(lr);
    } else {
        fail(lr, shape_errno(rc));
    }
    lr_put(lr);
}

static void create_contender(struct lockreq *lr)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", strcmp(lr->lockpath, "/") == 0 ? "" : lr->lockpath, lr->prefix);
    lr->refs++;
    if (zkc_create(lr->m->zh, path, "", 0, zkc_open_acl_unsafe, 1, ZMODE_EPHEMERAL_SEQUENTIAL, 0, on_contender, lr) !=
        ZOK) {
        lr->refs--;
        fail(lr, EIO);
    }
}

static void on_ensured(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)res;
    struct lockreq *lr = ctx;
    if (lr->abandoned)
        ;
    else if (rc == ZOK || rc == ZNODEEXISTS)
        create_contender(lr);
    else
        fail(lr, shape_errno(rc));
    lr_put(lr);
}

static void on_interrupt(fuse_req_t req, void *data)
{
    struct lockreq *lr = data;
    if (lr->req != req)
        return;
    LOG_DEBUG("lock %s: wait interrupted", lr->lockpath);
    fail(lr, EINTR);
}

static void release_slot(struct lockreq **slot)
{
    struct lockreq *lr = *slot;
    if (!lr)
        return;
    *slot = NULL;
    lr->slot = NULL;
    fail(lr, EINTR);
    lr_put(lr);
}

void lock_request(struct mount *m, fuse_req_t req, struct ofile *of, int op, int posix)
{
    int mode = op & (LOCK_SH | LOCK_EX | LOCK_UN);
    struct lockreq **slot = posix ? &of->plock : &of->lock;
    struct lockreq *lr = *slot;
    if (mode == LOCK_UN) {
        release_slot(slot);
        fuse_reply_err(req, 0);
        return;
    }
    if (m->opts.read_only) {
        fuse_reply_err(req, EROFS);
        return;
    }
    int shared = mode == LOCK_SH;
    if (lr && lr->req) {
        fuse_reply_err(req, EDEADLK);
        return;
    }
    if (lr && lr->state == LS_HELD && lr->shared == shared && lr->zh == m->zh) {
        fuse_reply_err(req, 0);
        return;
    }
    if (lr) /* a conversion: flock(2) releases and then takes, not atomically */
        release_slot(slot);
    lr = calloc(1, sizeof(*lr));
    if (!lr || !(lr->lockpath = strdup(of->path)) || !(lr->prefix = malloc(48))) {
        if (lr) {
            free(lr->lockpath);
            free(lr);
        }
        fuse_reply_err(req, ENOMEM);
        return;
    }
    uint8_t rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (uint8_t)(random() >> 8);
    char *p = lr->prefix;
    for (size_t i = 0; i < sizeof(rnd); i++)
        p += sprintf(p, "%02x", rnd[i]);
    strcpy(p, shared ? "__rlock__" : "__lock__");
    lr->m = m;
    lr->zh = m->zh;
    lr->slot = slot;
    lr->req = req;
    lr->refs = 1; /* the open file's */
    lr->shared = shared;
    lr->nonblock = (op & LOCK_NB) != 0;
    lr->state = LS_ACQUIRING;
    lr->next_all = all_locks;
    all_locks = lr;
    *slot = lr;
    fuse_req_interrupt_func(req, on_interrupt, lr);
    if (!lr->req)
        return; /* interrupted at once */
    lr->refs++;
    if (zkc_create(m->zh, lr->lockpath, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, on_ensured, lr) != ZOK) {
        lr->refs--;
        fail(lr, EIO);
    }
}

void lock_release(struct mount *m, struct ofile *of, int which)
{
    (void)m;
    if (!of)
        return;
    if (which & 1)
        release_slot(&of->lock);
    if (which & 2)
        release_slot(&of->plock);
}

/* The answer to F_GETLK: would a lock of this kind wait? */
struct testreq {
    fuse_req_t req;
    struct flock fl;
    char *own; /* our contender under this open file, if any */
};

static void on_test_children(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct testreq *t = ctx;
    if (rc != ZOK && rc != ZNONODE) {
        fuse_reply_err(t->req, shape_errno(rc));
    } else {
        int shared = t->fl.l_type == F_RDLCK, conflict = F_UNLCK;
        for (int32_t i = 0; rc == ZOK && i < res->nchildren; i++) {
            const char *c = res->children[i];
            if (t->own && strcmp(c, t->own) == 0)
                continue;
            size_t len = strlen(c);
            if (len < 10)
                continue;
            if (strstr(c, "__lock__"))
                conflict = F_WRLCK;
            else if (strstr(c, "__rlock__") && !shared && conflict == F_UNLCK)
                conflict = F_RDLCK;
        }
        t->fl.l_type = (short)conflict;
        t->fl.l_whence = SEEK_SET;
        t->fl.l_start = 0;
        t->fl.l_len = 0;
        t->fl.l_pid = 0; /* a holder elsewhere has no pid here */
        fuse_reply_lock(t->req, &t->fl);
    }
    free(t->own);
    free(t);
}

void lock_test(struct mount *m, fuse_req_t req, struct ofile *of, const struct flock *fl)
{
    struct testreq *t = calloc(1, sizeof(*t));
    if (!t) {
        fuse_reply_err(req, ENOMEM);
        return;
    }
    t->req = req;
    t->fl = *fl;
    if (of->plock && of->plock->node)
        t->own = strdup(of->plock->node);
    if (zkc_get_children(m->zh, of->path, NULL, NULL, on_test_children, t) != ZOK) {
        free(t->own);
        free(t);
        fuse_reply_err(req, EIO);
    }
}

void lock_session_lost(struct mount *m)
{
    for (struct lockreq *lr = all_locks; lr; lr = lr->next_all) {
        if (lr->zh != m->zh || lr->abandoned)
            continue;
        if (lr->state == LS_HELD)
            LOG_WARN("lock %s: lost with the session", lr->lockpath);
        lr->abandoned = 1;
        lr->state = LS_IDLE;
        answer(lr, EIO);
    }
}
