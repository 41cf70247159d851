/* The inode table and node cache of the mount. See inode.h. */
#include "fuse/inode.h"

#include "common/log.h"
#include "fuse/shape.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

static const char KIND_CHAR[] = {'n', 'd', 'l'};

/* The by_key key: the kind's letter then the path, in buf (or a heap copy when long). */
static char *make_key(enum inode_kind kind, const char *path, char *buf, size_t cap, size_t *len)
{
    size_t n = strlen(path);
    char *k = n + 2 <= cap ? buf : malloc(n + 2);
    if (!k)
        return NULL;
    k[0] = KIND_CHAR[kind];
    memcpy(k + 1, path, n + 1);
    *len = n + 1;
    return k;
}

static void free_key(char *k, char *buf)
{
    if (k != buf)
        free(k);
}

int itable_init(struct itable *t)
{
    memset(t, 0, sizeof(*t));
    hmap_init(&t->by_id);
    hmap_init(&t->by_key);
    hmap_init(&t->nodes);
    hmap_init(&t->as_file);
    t->next_id = 2;
    struct inode *root = calloc(1, sizeof(*root));
    if (!root)
        return -1;
    root->nodeid = 1;
    root->kind = INODE_NODE;
    root->path = strdup("/");
    root->is_dir = 1;
    root->st_ino = 1;
    root->nlookup = 1;
    if (!root->path || hmap_put64(&t->by_id, 1, root) < 0 || hmap_put(&t->by_key, "n/", 2, root, NULL) < 0) {
        free(root->path);
        free(root);
        return -1;
    }
    return 0;
}

static void node_free(struct node *n)
{
    node_invalidate(n);
    hmap_free(&n->child_set);
    free(n->path);
    free(n);
}

void itable_free(struct itable *t)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->by_id, &i, &s);) {
        struct inode *in = s->val;
        free(in->path);
        free(in);
    }
    for (size_t i = 0; hmap_next(&t->nodes, &i, &s);)
        node_free(s->val);
    hmap_free(&t->by_id);
    hmap_free(&t->by_key);
    hmap_free(&t->nodes);
    hmap_free(&t->as_file);
}

struct inode *itable_get(const struct itable *t, uint64_t nodeid)
{
    return hmap_get64(&t->by_id, (int64_t)nodeid);
}

struct inode *itable_find(const struct itable *t, enum inode_kind kind, const char *path)
{
    char buf[256];
    size_t len;
    char *k = make_key(kind, path, buf, sizeof(buf), &len);
    if (!k)
        return NULL;
    struct inode *in = hmap_get(&t->by_key, k, len);
    free_key(k, buf);
    return in;
}

/* Takes in out of by_key, if it is the inode there for its kind and path. */
static void unkey(struct itable *t, struct inode *in)
{
    char buf[256];
    size_t len;
    char *k = make_key(in->kind, in->path, buf, sizeof(buf), &len);
    if (!k)
        return;
    if (hmap_get(&t->by_key, k, len) == in)
        hmap_del(&t->by_key, k, len);
    free_key(k, buf);
}

static void detach(struct itable *t, struct inode *in)
{
    if (in->detached || in->nodeid == 1)
        return;
    unkey(t, in);
    in->detached = 1;
    itable_maybe_free(t, in);
}

struct inode *itable_obtain(struct itable *t, enum inode_kind kind, const char *path, int is_dir, uint64_t st_ino)
{
    struct inode *in = itable_find(t, kind, path);
    if (in && (in->is_dir == is_dir || in->nodeid == 1)) {
        if (st_ino && in->nodeid != 1)
            in->st_ino = st_ino;
        return in;
    }
    if (in)
        detach(t, in);
    in = calloc(1, sizeof(*in));
    if (!in)
        return NULL;
    in->path = strdup(path);
    in->kind = kind;
    in->is_dir = is_dir;
    in->st_ino = st_ino;
    in->nodeid = t->next_id++;
    char buf[256];
    size_t len;
    char *k = in->path ? make_key(kind, path, buf, sizeof(buf), &len) : NULL;
    if (!k || hmap_put64(&t->by_id, (int64_t)in->nodeid, in) < 0) {
        if (k)
            free_key(k, buf);
        free(in->path);
        free(in);
        return NULL;
    }
    if (hmap_put(&t->by_key, k, len, in, NULL) < 0) {
        hmap_del64(&t->by_id, (int64_t)in->nodeid);
        free_key(k, buf);
        free(in->path);
        free(in);
        return NULL;
    }
    free_key(k, buf);
    return in;
}

int itable_move(struct itable *t, struct inode *in, const char *newpath)
{
    struct inode *old = itable_find(t, in->kind, newpath);
    if (old && old != in)
        detach(t, old);
    unkey(t, in);
    char buf[256];
    size_t len;
    char *p = strdup(newpath);
    char *k = p ? make_key(in->kind, p, buf, sizeof(buf), &len) : NULL;
    if (!k || hmap_put(&t->by_key, k, len, in, NULL) < 0) {
        if (k)
            free_key(k, buf);
        free(p);
        in->detached = 1;
        return -1;
    }
    free_key(k, buf);
    free(in->path);
    in->path = p;
    in->detached = 0;
    return 0;
}

void itable_detach_path(struct itable *t, const char *path)
{
    for (int kind = INODE_NODE; kind <= INODE_LOCK; kind++) {
        struct inode *in = itable_find(t, (enum inode_kind)kind, path);
        if (in)
            detach(t, in);
    }
}

void itable_maybe_free(struct itable *t, struct inode *in)
{
    if (in->nodeid == 1 || in->nlookup > 0 || in->nopen > 0)
        return;
    if (!in->detached) {
        /* forgotten by the kernel: the cached node goes too, unless another kind still
         * refers to the path (a directory's .data or lock file) */
        unkey(t, in);
        int others = 0;
        for (int kind = INODE_NODE; kind <= INODE_LOCK; kind++)
            others += itable_find(t, (enum inode_kind)kind, in->path) != NULL;
        if (!others && in->kind == INODE_NODE)
            itable_node_drop(t, in->path);
    }
    hmap_del64(&t->by_id, (int64_t)in->nodeid);
    free(in->path);
    free(in);
}

void itable_forget(struct itable *t, uint64_t nodeid, uint64_t n)
{
    struct inode *in = itable_get(t, nodeid);
    if (!in)
        return;
    in->nlookup = in->nlookup > n ? in->nlookup - n : 0;
    itable_maybe_free(t, in);
}

struct node *itable_node(const struct itable *t, const char *path)
{
    return hmap_gets(&t->nodes, path);
}

struct node *itable_node_make(struct itable *t, const char *path)
{
    struct node *n = hmap_gets(&t->nodes, path);
    if (n)
        return n;
    n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->path = strdup(path);
    n->world_perms = -1;
    n->created_as_file = hmap_gets(&t->as_file, path) != NULL;
    hmap_init(&n->child_set);
    if (!n->path || hmap_put_borrowed(&t->nodes, n->path, strlen(n->path), n) < 0) {
        free(n->path);
        free(n);
        return NULL;
    }
    return n;
}

static void drop_children(struct node *n)
{
    for (int32_t i = 0; i < n->nchildren; i++)
        free(n->children[i]);
    free(n->children);
    n->children = NULL;
    n->nchildren = 0;
    n->have_children = 0;
    hmap_free(&n->child_set);
    hmap_init(&n->child_set);
}

void node_invalidate(struct node *n)
{
    n->wdata = n->wchild = 0;
    n->have_stat = 0;
    n->have_acl = 0;
    free(n->data);
    n->data = NULL;
    n->datalen = 0;
    n->have_data = 0;
    drop_children(n);
}

void node_forget_data(struct node *n)
{
    free(n->data);
    n->data = NULL;
    n->have_data = 0;
}

void node_set_stat(struct node *n, const struct zk_stat *st)
{
    if (n->have_stat && (st->mzxid != n->stat.mzxid || st->czxid != n->stat.czxid))
        node_forget_data(n); /* a newer version than the data we hold */
    if (n->have_stat && (st->pzxid != n->stat.pzxid || st->czxid != n->stat.czxid))
        drop_children(n);
    n->stat = *st;
    n->have_stat = 1;
}

int node_set_data(struct node *n, const uint8_t *data, int32_t len)
{
    node_forget_data(n);
    n->datalen = len > 0 ? len : 0;
    if (len > 0) {
        n->data = malloc((size_t)len);
        if (!n->data)
            return -1;
        memcpy(n->data, data, (size_t)len);
    }
    n->have_data = 1;
    return 0;
}

int node_set_children(struct node *n, char *const *names, int32_t count)
{
    drop_children(n);
    if (count > 0) {
        n->children = calloc((size_t)count, sizeof(char *));
        if (!n->children)
            return -1;
    }
    if (hmap_reserve(&n->child_set, (size_t)count) < 0)
        goto oom;
    for (int32_t i = 0; i < count; i++) {
        n->children[i] = strdup(names[i]);
        if (!n->children[i])
            goto oom;
        n->nchildren = i + 1;
        if (hmap_put_borrowed(&n->child_set, n->children[i], strlen(n->children[i]), (void *)1) < 0)
            goto oom;
    }
    n->have_children = 1;
    return 0;
oom:
    drop_children(n);
    return -1;
}

void node_child_add(struct node *n, const char *name)
{
    if (!n->have_children || hmap_gets(&n->child_set, name))
        return;
    char **v = realloc(n->children, (size_t)(n->nchildren + 1) * sizeof(char *));
    char *c = strdup(name);
    if (!v || !c) {
        free(c);
        if (v)
            n->children = v;
        drop_children(n);
        return;
    }
    n->children = v;
    n->children[n->nchildren++] = c;
    if (hmap_put_borrowed(&n->child_set, c, strlen(c), (void *)1) < 0)
        drop_children(n);
}

void node_child_del(struct node *n, const char *name)
{
    if (!n->have_children || !hmap_gets(&n->child_set, name))
        return;
    hmap_dels(&n->child_set, name);
    for (int32_t i = 0; i < n->nchildren; i++)
        if (strcmp(n->children[i], name) == 0) {
            free(n->children[i]);
            memmove(n->children + i, n->children + i + 1, (size_t)(n->nchildren - i - 1) * sizeof(char *));
            n->nchildren--;
            break;
        }
}

int node_has_child(const struct node *n, const char *name)
{
    if (!n->have_children)
        return -1;
    return hmap_gets(&n->child_set, name) != NULL;
}

void itable_parent_child(struct itable *t, const char *path, int add)
{
    char parent[4096];
    const char *name;
    if (shape_split(path, parent, sizeof(parent), &name) < 0)
        return;
    struct node *pn = itable_node(t, parent);
    if (!pn)
        return;
    if (add)
        node_child_add(pn, name);
    else
        node_child_del(pn, name);
    pn->have_stat = 0;
}

void itable_mark_file(struct itable *t, const char *path)
{
    if (hmap_puts(&t->as_file, path, (void *)1) < 0)
        LOG_WARN("out of memory remembering that %s was created as a file", path);
}

void itable_forget_files(struct itable *t)
{
    hmap_free(&t->as_file);
    hmap_init(&t->as_file);
}

void itable_gone(struct itable *t, const char *path)
{
    hmap_dels(&t->as_file, path);
    itable_detach_path(t, path);
    itable_node_drop(t, path);
    itable_parent_child(t, path, 0);
}

void itable_node_drop(struct itable *t, const char *path)
{
    struct node *n = hmap_gets(&t->nodes, path);
    if (!n)
        return;
    hmap_dels(&t->nodes, path);
    node_free(n);
}

void itable_invalidate_all(struct itable *t)
{
    struct hmap_slot *s;
    for (size_t i = 0; hmap_next(&t->nodes, &i, &s);) {
        struct node *n = s->val;
        node_invalidate(n);
    }
}
