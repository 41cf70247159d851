/* What the mount does when the server tells it something: session state changes (connected,
 * disconnected, expired: a new session), and the events of the persistent recursive watch
 * on the mount's root, which invalidate the node cache and the kernel's caches and, for a
 * change made by another client, raise the matching inotify event through the notifier. */
#include <ctype.h>
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/zerr.h"
#include "fuse/mount.h"
#include "fuse/shape.h"

/* ---------- the mount's own changes ---------- */

/* A change this mount has in flight on a path, and the events it took for its own echo. */
struct inflight {
    int count;
    int suppressed; /* bit (1 << event type) per event not shown to the kernel */
};

static void replay(struct mount *m, int type, const char *path);

void inflight_begin(struct mount *m, const char *path, int seq)
{
    struct hmap *h = seq ? &m->inflight_seq : &m->inflight;
    struct inflight *f = hmap_gets(h, path);
    if (!f) {
        f = calloc(1, sizeof(*f));
        if (!f || hmap_puts(h, path, f) < 0) {
            free(f);
            return;
        }
    }
    f->count++;
}

void inflight_end(struct mount *m, const char *path, int seq, int rc)
{
    struct hmap *h = seq ? &m->inflight_seq : &m->inflight;
    struct inflight *f = hmap_gets(h, path);
    if (!f)
        return;
    int suppressed = f->suppressed;
    if (--f->count <= 0) {
        hmap_dels(h, path);
        free(f);
    } else if (rc != ZOK) {
        f->suppressed = 0;
    }
    /* Our change failed (NODEEXISTS, NONODE, BADVERSION: another client's change won), so
     * the events we took for ours were theirs: show them now. */
    if (rc != ZOK && suppressed && !seq)
        for (int type = ZEV_CREATED; type <= ZEV_CHANGED; type++)
            if (suppressed & (1 << type))
                replay(m, type, path);
}

/* Is an event on path (most likely) the echo of a change this mount is making? ZooKeeper
 * sends a connection the events of its own change before the reply, so the change is still
 * in flight when its event arrives. Records what it took, for inflight_end. */
static int is_own(struct mount *m, const char *path, int type)
{
    struct inflight *f = hmap_gets(&m->inflight, path);
    if (f) {
        f->suppressed |= 1 << type;
        return 1;
    }
    struct hmap_slot *s;
    size_t plen = strlen(path);
    for (size_t i = 0; hmap_next(&m->inflight_seq, &i, &s);) {
        if (plen < s->klen + 10 || memcmp(path, s->key, s->klen) != 0)
            continue;
        const char *d = path + s->klen;
        int digits = 1;
        for (; *d; d++)
            digits &= isdigit((unsigned char)*d) || *d == '-';
        if (digits)
            return 1;
    }
    return 0;
}

/* ---------- kernel invalidation ---------- */

static int kernel_knows(const struct inode *in)
{
    return in && (in->nlookup > 0 || in->nodeid == 1);
}

/* The kernel holds path with the other shape: forget its inode and entry, so the next lookup
 * sees the new shape. */
void events_reshape(struct mount *m, struct inode *in)
{
    char parent[4096];
    const char *name;
    struct inode *pin =
        shape_split(in->path, parent, sizeof(parent), &name) == 0 ? itable_find(&m->it, INODE_NODE, parent) : NULL;
    LOG_DEBUG("%s changed shape: invalidating it", in->path);
    if (pin)
        notify_push(m->nt, NJ_INVAL_ENTRY, pin->nodeid, NULL, name, 0, 0);
    notify_push(m->nt, NJ_INVAL_INODE, in->nodeid, NULL, NULL, 0, 0);
    itable_detach_path(&m->it, in->path);
}

/* The node at in->path changed shape (a file that got a child, an empty directory that got
 * data): the kernel must see the old one go and the new one come, which also tells inotify
 * watchers (IN_DELETE, IN_CREATE, and IN_MODIFY for data). */
static void reshape_notify(struct mount *m, struct inode *in, const struct zk_stat *st, int now_dir)
{
    struct tombstone *t = calloc(1, sizeof(*t));
    if (!t) {
        events_reshape(m, in);
        return;
    }
    t->is_dir = in->is_dir;
    t->st_ino = in->st_ino;
    t->stat = *st;
    void *old = NULL;
    if (hmap_put(&m->pending_delete, in->path, strlen(in->path), t, &old) < 0) {
        free(t);
        events_reshape(m, in);
        return;
    }
    free(old);
    LOG_DEBUG("%s changed shape: showing it as a %s", in->path, now_dir ? "directory" : "file");
    char *path = strdup(in->path);
    if (!path)
        return;
    notify_push(m->nt, NJ_UNLINK, 0, path, NULL, 0, in->is_dir);
    hmap_puts(&m->pending_create, path, (void *)1);
    notify_push(m->nt, NJ_MKNOD, 0, path, NULL, 0, now_dir);
    if (!now_dir)
        notify_push(m->nt, NJ_TRUNCATE, 0, path, NULL, st->dataLength > 0 ? st->dataLength : 0, 0);
    free(path);
}

/* Tells the kernel to drop everything it caches (a new session, or events missed while
 * disconnected: a persistent watch is re-armed without catching up). */
static void invalidate_everything(struct mount *m)
{
    itable_invalidate_all(&m->it);
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&m->it.by_id, &i, &s);) {
        struct inode *in = s->val;
        if (!kernel_knows(in))
            continue;
        notify_push(m->nt, NJ_INVAL_INODE, in->nodeid, NULL, NULL, 0, 0);
        if (in->nodeid == 1 || in->detached)
            continue;
        char parent[4096];
        const char *name;
        if (shape_split(in->path, parent, sizeof(parent), &name) < 0)
            continue;
        struct inode *pin = itable_find(&m->it, INODE_NODE, parent);
        if (pin) {
            char vname[4200];
            if (in->kind == INODE_DATA)
                snprintf(vname, sizeof(vname), "%s", SHAPE_DATA_NAME);
            else
                snprintf(vname, sizeof(vname), "%s%s", name, in->kind == INODE_LOCK ? SHAPE_LOCK_SUFFIX : "");
            struct inode *dir = in->kind == INODE_DATA ? itable_find(&m->it, INODE_NODE, in->path) : pin;
            if (dir)
                notify_push(m->nt, NJ_INVAL_ENTRY, dir->nodeid, NULL, vname, 0, 0);
        }
    }
}

/* ---------- node events ---------- */

/* An event, or a path, waiting for the reply of the request made about it. */
struct ev {
    struct mount *m;
    int type, own;
    char path[];
};

static struct ev *ev_new(struct mount *m, int type, const char *path)
{
    size_t len = strlen(path) + 1;
    struct ev *e = calloc(1, sizeof(*e) + len);
    if (e) {
        e->m = m;
        e->type = type;
        memcpy(e->path, path, len);
    }
    return e;
}

static void parent_checked(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct ev *e = ctx;
    struct mount *m = e->m;
    struct inode *in = itable_find(&m->it, INODE_NODE, e->path);
    if (rc == ZOK) {
        struct node *n = itable_node_make(&m->it, e->path);
        if (n) {
            node_set_stat(n, &res->stat);
            int now_dir = shape_is_dir(&n->stat, n->created_as_file);
            if (in && kernel_knows(in) && in->nodeid != 1 && now_dir != in->is_dir)
                reshape_notify(m, in, &n->stat, now_dir);
        }
    }
    free(e);
}

/* After a child came or went: has the parent's shape changed (a file that got a child, a
 * directory with data that lost its last one)? */
static void check_parent(struct mount *m, const char *parent)
{
    struct inode *pin = itable_find(&m->it, INODE_NODE, parent);
    if (!kernel_knows(pin) || pin->nodeid == 1)
        return;
    struct ev *e = ev_new(m, 0, parent);
    if (e && zkc_exists(m->zh, parent, NULL, NULL, parent_checked, e) != ZOK)
        free(e);
}

static void on_created(struct mount *m, const struct ev *e, int rc, const struct zk_stat *st)
{
    if (e->own)
        return; /* the create's reply updates everything, or replays this if it failed */
    char parent[4096];
    const char *name;
    if (shape_split(e->path, parent, sizeof(parent), &name) < 0)
        return;
    itable_parent_child(&m->it, e->path, 1);
    if (rc == ZOK) {
        struct node *n = itable_node_make(&m->it, e->path);
        if (n)
            node_set_stat(n, st);
    }
    struct inode *pin = itable_find(&m->it, INODE_NODE, parent);
    if (kernel_knows(pin))
        notify_push(m->nt, NJ_INVAL_INODE, pin->nodeid, NULL, NULL, 0, 0); /* its cached listing */
    if (rc == ZOK && kernel_knows(pin) && pin->is_dir) {
        int is_dir = shape_is_dir(st, 0);
        hmap_puts(&m->pending_create, e->path, (void *)1);
        notify_push(m->nt, NJ_INVAL_ENTRY, pin->nodeid, NULL, name, 0, 0);
        notify_push(m->nt, NJ_MKNOD, 0, e->path, NULL, 0, is_dir);
    }
    check_parent(m, parent);
}

static void on_deleted(struct mount *m, const struct ev *e)
{
    if (e->own)
        return; /* likewise: the delete's reply */
    char parent[4096];
    const char *name;
    if (shape_split(e->path, parent, sizeof(parent), &name) < 0)
        return;
    struct inode *in = itable_find(&m->it, INODE_NODE, e->path);
    struct inode *pin = itable_find(&m->it, INODE_NODE, parent);
    struct node *n = itable_node(&m->it, e->path);
    if (kernel_knows(pin))
        notify_push(m->nt, NJ_INVAL_INODE, pin->nodeid, NULL, NULL, 0, 0); /* its cached listing */
    if (kernel_knows(in) || kernel_knows(pin)) {
        struct tombstone *t = calloc(1, sizeof(*t));
        if (t) {
            if (n && n->have_stat)
                t->stat = n->stat;
            t->is_dir = in ? in->is_dir : n && n->have_stat ? shape_is_dir(&n->stat, n->created_as_file) : 0;
            t->st_ino = in ? in->st_ino : shape_ino(t->stat.czxid, e->path);
            void *old = NULL;
            if (hmap_put(&m->pending_delete, e->path, strlen(e->path), t, &old) < 0)
                free(t);
            else
                free(old);
            notify_push(m->nt, NJ_UNLINK, 0, e->path, NULL, 0, t->is_dir);
        }
    }
    /* open files of the node see it gone */
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&m->open_files, &i, &s);) {
        struct ofile *of = s->val;
        if (of->eph_owner && strcmp(of->path, e->path) == 0)
            of->stale = 1;
    }
    itable_gone(&m->it, e->path);
    check_parent(m, parent);
}

static void on_changed(struct mount *m, const struct ev *e, int rc, const struct zk_stat *st)
{
    struct node *n = itable_node(&m->it, e->path);
    if (n) {
        if (rc == ZOK)
            node_set_stat(n, st);
        else
            node_invalidate(n);
        node_forget_data(n);
    }
    struct inode *din = itable_find(&m->it, INODE_DATA, e->path);
    if (din && !e->own)
        notify_push(m->nt, NJ_INVAL_INODE, din->nodeid, NULL, NULL, 0, 0);
    if (e->own || rc != ZOK)
        return;
    struct inode *in = itable_find(&m->it, INODE_NODE, e->path);
    int is_dir = shape_is_dir(st, n && n->created_as_file);
    if (kernel_knows(in) && in->nodeid != 1 && in->is_dir != is_dir) {
        reshape_notify(m, in, st, is_dir);
        return;
    }
    if (kernel_knows(in))
        notify_push(m->nt, NJ_INVAL_INODE, in->nodeid, NULL, NULL, 0, 0);
    char parent[4096];
    const char *name;
    if (!kernel_knows(in) && (shape_split(e->path, parent, sizeof(parent), &name) < 0 ||
                              !kernel_knows(itable_find(&m->it, INODE_NODE, parent))))
        return;
    /* IN_MODIFY: truncate to the size it has now (answered without touching the server) */
    if (!is_dir) {
        notify_push(m->nt, NJ_TRUNCATE, 0, e->path, NULL, st->dataLength > 0 ? st->dataLength : 0, 0);
    } else if (kernel_knows(in)) {
        char dp[4200];
        snprintf(dp, sizeof(dp), "%s/%s", strcmp(e->path, "/") == 0 ? "" : e->path, SHAPE_DATA_NAME);
        notify_push(m->nt, NJ_TRUNCATE, 0, dp, NULL, st->dataLength > 0 ? st->dataLength : 0, 0);
    }
}

static void ev_stat(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct ev *e = ctx;
    struct mount *m = e->m;
    const struct zk_stat *st = rc == ZOK ? &res->stat : NULL;
    if (m->oneshot && rc == ZOK) {
        struct node *n = itable_node(&m->it, e->path);
        if (n)
            n->wdata = 1;
    }
    switch (e->type) {
    case ZEV_CREATED:
        on_created(m, e, rc, st);
        break;
    case ZEV_DELETED:
        on_deleted(m, e);
        break;
    case ZEV_CHANGED:
        on_changed(m, e, rc, st);
        break;
    }
    free(e);
}

/* What an event makes stale goes at once, so that a lookup, open or read in the meantime
 * asks the server instead of the cache; the kernel hears of it after the event's own
 * round trip (ev_stat), in order. */
static void forget_at_once(struct mount *m, int type, const char *path)
{
    struct node *n = itable_node(&m->it, path);
    if (type == ZEV_CHANGED && n) {
        n->have_stat = 0;
        node_forget_data(n);
    } else if (type == ZEV_CREATED) {
        itable_parent_child(&m->it, path, 1);
    } else if (type == ZEV_DELETED) {
        itable_parent_child(&m->it, path, 0);
        if (n)
            node_invalidate(n);
    }
}

/* ---------- one-shot watches (servers without persistent recursive watches) ---------- */

static void on_armed_node(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)res;
    struct ev *a = ctx;
    struct node *n = rc == ZOK || rc == ZNONODE ? itable_node_make(&a->m->it, a->path) : NULL;
    if (n) /* exists sets a watch either way */
        n->wdata = 1;
    free(a);
}

static void on_armed_children(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct ev *a = ctx;
    struct node *n = rc == ZOK ? itable_node_make(&a->m->it, a->path) : NULL;
    if (n && node_set_children(n, res->children, res->nchildren) == 0)
        n->wchild = 1;
    free(a);
}

void events_watch_node(struct mount *m, const char *path)
{
    /* a data (or exist) watch for its data and existence, a child watch for its children
     * (and so its shape: a file that gets a child becomes a directory) */
    struct ev *a = ev_new(m, 0, path);
    if (a && zkc_exists(m->zh, path, events_node, m, on_armed_node, a) != ZOK)
        free(a);
    struct node *n = itable_node(&m->it, path);
    if (n && n->wchild)
        return;
    a = ev_new(m, 0, path);
    if (a && zkc_get_children(m->zh, path, events_node, m, on_armed_children, a) != ZOK)
        free(a);
}

/* A child watch fired: list the children again (setting the watch again) and show the
 * difference as creations and deletions. */
static void on_children_again(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    struct ev *a = ctx;
    struct mount *m = a->m;
    struct node *n = itable_node(&m->it, a->path);
    if (rc != ZOK || !n) {
        free(a);
        return;
    }
    char **added = calloc((size_t)res->nchildren + 1, sizeof(char *));
    char **gone = calloc((size_t)n->nchildren + 1, sizeof(char *));
    int nadded = 0, ngone = 0;
    if (n->have_children && added && gone) {
        struct hmap now;
        hmap_init(&now);
        for (int32_t i = 0; i < res->nchildren; i++) {
            hmap_puts(&now, res->children[i], (void *)1);
            if (!node_has_child(n, res->children[i]))
                added[nadded++] = strdup(res->children[i]);
        }
        for (int32_t i = 0; i < n->nchildren; i++)
            if (!hmap_gets(&now, n->children[i]))
                gone[ngone++] = strdup(n->children[i]);
        hmap_free(&now);
    }
    node_set_stat(n, &res->stat);
    if (node_set_children(n, res->children, res->nchildren) == 0)
        n->wchild = 1;
    char path[4200];
    for (int i = 0; i < nadded + ngone; i++) {
        int is_add = i < nadded;
        char *name = is_add ? added[i] : gone[i - nadded];
        if (!name)
            continue;
        snprintf(path, sizeof(path), "%s/%s", strcmp(a->path, "/") == 0 ? "" : a->path, name);
        int type = is_add ? ZEV_CREATED : ZEV_DELETED;
        if (!is_own(m, path, type)) {
            forget_at_once(m, type, path);
            replay(m, type, path);
        }
        free(name);
    }
    free(added);
    free(gone);
    check_parent(m, a->path); /* its own shape may have changed with its children */
    free(a);
}

static void children_changed(struct mount *m, const char *path)
{
    struct node *n = itable_node(&m->it, path);
    if (n)
        n->wchild = 0;
    struct ev *a = ev_new(m, 0, path);
    if (a && zkc_get_children(m->zh, path, events_node, m, on_children_again, a) != ZOK)
        free(a);
}

void events_node(zkc_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)state;
    struct mount *m = ctx;
    if (type == ZEV_PERSISTENT_WATCH_REMOVED) {
        LOG_WARN("the recursive watch on the root was removed: caching off until the next session");
        m->recursive_watch = 0;
        invalidate_everything(m);
        return;
    }
    if (type == ZEV_CHILD && m->oneshot) {
        children_changed(m, path);
        return;
    }
    if (type != ZEV_CREATED && type != ZEV_DELETED && type != ZEV_CHANGED)
        return;
    struct ev *e = ev_new(m, type, path);
    if (!e)
        return;
    e->own = is_own(m, path, type);
    LOG_DEBUG("event %d on %s%s", type, path, e->own ? " (ours)" : "");
    if (!e->own)
        forget_at_once(m, type, path);
    /* Every event goes through one request (the node's fresh Stat), so that events are
     * handled in the order they came, each with what it needs; with one-shot watches the
     * same request sets the node's watch again. */
    struct node *n = itable_node(&m->it, path);
    if (n && m->oneshot)
        n->wdata = 0;
    if (zkc_exists(zh, path, m->oneshot ? events_node : NULL, m, ev_stat, e) != ZOK)
        ev_stat(zh, ZCONNECTIONLOSS, NULL, e);
}

static void replay(struct mount *m, int type, const char *path)
{
    struct ev *e = ev_new(m, type, path);
    if (!e)
        return;
    LOG_DEBUG("event %d on %s was another client's: showing it", type, path);
    if (zkc_exists(m->zh, path, NULL, NULL, ev_stat, e) != ZOK)
        ev_stat(m->zh, ZCONNECTIONLOSS, NULL, e);
}

static void on_armed(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    (void)res;
    struct mount *m = ctx;
    m->watch_answered = 1;
    if (rc == ZOK) {
        m->recursive_watch = 1;
        LOG_DEBUG("persistent recursive watch armed on the root");
    } else {
        m->recursive_watch = 0;
        m->oneshot = 1;
        LOG_WARN("the server refused a persistent recursive watch (%s): one-shot watches on every node instead",
                 zerr_name(rc));
    }
}

void events_arm(struct mount *m)
{
    if (m->opts.oneshot_watches) {
        m->oneshot = 1;
        m->watch_answered = 1;
        return;
    }
    if (zkc_add_watch(m->zh, "/", ZADDWATCH_PERSISTENT_RECURSIVE, events_node, m, on_armed, m) != ZOK)
        LOG_WARN("cannot arm the recursive watch");
}

/* ---------- session state ---------- */

static void new_session(evutil_socket_t fd, short what, void *arg);

void events_session(zkc_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)path;
    struct mount *m = ctx;
    if (type != ZEV_NONE || zh != m->zh)
        return;
    switch (state) {
    case ZSTATE_SYNC_CONNECTED:
        if (!m->session_id || m->session_id != zkc_session_id(zh, NULL)) {
            m->session_id = zkc_session_id(zh, NULL);
            LOG_INFO("connected to %s, session 0x%" PRIx64 " (timeout %d ms)", zkc_current_server(zh),
                     (uint64_t)m->session_id, zkc_session_timeout(zh));
        } else if (m->was_disconnected) {
            LOG_INFO("reconnected to %s, session 0x%" PRIx64, zkc_current_server(zh), (uint64_t)m->session_id);
            /* changes made while disconnected raised no event: start over */
            invalidate_everything(m);
        }
        m->was_disconnected = 0;
        break;
    case ZSTATE_DISCONNECTED:
        if (!m->was_disconnected)
            LOG_WARN("disconnected from %s; reconnecting", zkc_current_server(zh) ? zkc_current_server(zh) : "?");
        m->was_disconnected = 1;
        break;
    case ZSTATE_EXPIRED:
    case ZSTATE_AUTH_FAILED:
        if (m->exiting)
            break;
        LOG_WARN("session 0x%" PRIx64 " %s: its ephemeral nodes and locks are gone; starting a new session",
                 (uint64_t)m->session_id, state == ZSTATE_EXPIRED ? "expired" : "failed authentication");
        /* the handle is dead; replace it from the loop, outside its own callback */
        event_base_once(m->base, -1, EV_TIMEOUT, new_session, m, NULL);
        break;
    default:
        break;
    }
}

static void closed_old(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)rc, (void)res, (void)ctx;
}

static void new_session(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct mount *m = arg;
    int64_t old = m->session_id;
    lock_session_lost(m);
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&m->open_files, &i, &s);) {
        struct ofile *of = s->val;
        if (of->eph_owner && of->eph_owner == old)
            of->stale = 1;
    }
    zkc_t *dead = m->zh;
    struct zkc_options o = {.session_timeout_ms = m->opts.session_timeout_ms};
    int err;
    m->zh = zkc_new(m->base, m->opts.connect, &o, events_session, m, &err);
    if (!m->zh) {
        LOG_ERROR("cannot start a new session: %s", zerr_name(err));
        m->zh = dead;
        return;
    }
    zkc_close_async(dead, closed_old, NULL);
    m->session_id = 0;
    m->recursive_watch = 0;
    itable_forget_files(&m->it); /* a new session: what we made may be anyone's now */
    invalidate_everything(m);
    events_arm(m);
}
