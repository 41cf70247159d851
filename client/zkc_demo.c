/* zkc_demo: runs scenarios through the project's client library (client/zkc.h) against a
 * real server, printing one line per step, so that tests/integration/test_client_lib.py can
 * check the library against bin/zkfsd and Apache ZooKeeper 3.8 (and a person can watch it).
 *
 *   zkc_demo HOST:PORT SCENARIO ROOT
 * SCENARIO: crud, watch, multi, ephemeral, chroot, session, auth, async, idle, ttl (needs a
 * server with extendedTypesEnabled=true) or reconnect. ROOT
 * is an existing znode under which the scenario works; printed paths are relative to it
 * ("." is ROOT itself). Lines are "<step> <rc name> [details]" and "event <watcher> <type>
 * <path>"; "fatal ..." and exit status 2 when the scenario cannot go on. The reconnect
 * scenario sets one-shot watches W1 (data, ROOT/w), W2 (children, ROOT/d), W3 (exists,
 * ROOT/c) and a recursive W4 on ROOT, prints "armed" and "state <watcher> <state>" lines,
 * and waits (up to 60 s) while the driver restarts the server, sets ROOT/w, creates ROOT/c
 * and ROOT/d/x; once W1..W3 fired it collects what else is in flight and ends after "done".
 * (W2 is not on ROOT itself: Apache ZooKeeper before 3.9 keeps one watch mode per path and
 * connection, so a recursive watch there would swallow a child watch on the same path.) */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "client/zkc.h"
#include "common/log.h"

#define WAIT_MS 20000

static const char *g_host;
static const char *g_root;
static size_t g_rootlen;
static int g_print_states;
static int g_events;
static int g_oneshots; /* bit i-1 set when watcher "Wi" (i = 1..3) fired */

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void fatal(const char *what, int rc)
{
    out("fatal %s %s", what, zerr_name(rc));
    exit(2);
}

/* A path relative to ROOT for printing. */
static const char *rel(const char *p)
{
    if (!p)
        return "(null)";
    if (strncmp(p, g_root, g_rootlen) == 0) {
        if (p[g_rootlen] == '\0')
            return ".";
        if (p[g_rootlen] == '/')
            return p + g_rootlen;
    }
    return p;
}

/* ROOT + suffix, in a rotating static buffer. */
static const char *P(const char *suffix)
{
    static char buf[8][512];
    static int i;
    char *b = buf[i++ % 8];
    snprintf(b, sizeof(buf[0]), "%s%s", g_root, suffix);
    return b;
}

static const char *type_name(int t)
{
    switch (t) {
    case ZEV_NONE:
        return "NONE";
    case ZEV_CREATED:
        return "CREATED";
    case ZEV_DELETED:
        return "DELETED";
    case ZEV_CHANGED:
        return "CHANGED";
    case ZEV_CHILD:
        return "CHILD";
    case ZEV_DATA_WATCH_REMOVED:
        return "DATA_WATCH_REMOVED";
    case ZEV_CHILD_WATCH_REMOVED:
        return "CHILD_WATCH_REMOVED";
    case ZEV_PERSISTENT_WATCH_REMOVED:
        return "PERSISTENT_WATCH_REMOVED";
    default:
        return "UNKNOWN";
    }
}

static const char *state_name(int s)
{
    switch (s) {
    case ZSTATE_SYNC_CONNECTED:
        return "CONNECTED";
    case ZSTATE_DISCONNECTED:
        return "DISCONNECTED";
    case ZSTATE_EXPIRED:
        return "EXPIRED";
    case ZSTATE_AUTH_FAILED:
        return "AUTH_FAILED";
    case ZSTATE_CLOSED:
        return "CLOSED";
    default:
        return "UNKNOWN";
    }
}

/* Watchers print their name (ctx) and the event. */
static void watcher(zkc_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    if (type == ZEV_NONE) {
        if (g_print_states)
            out("state %s %s", (const char *)ctx, state_name(state));
        return;
    }
    g_events++;
    const char *name = ctx;
    if (name[0] == 'W' && name[1] >= '1' && name[1] <= '3' && !name[2])
        g_oneshots |= 1 << (name[1] - '1');
    out("event %s %s %s", name, type_name(type), rel(path));
}

static zkc_t *open_handle(const char *cs, const struct zkc_options *opt, const char *name)
{
    int err;
    zkc_t *zh = zkc_new(NULL, cs, opt, watcher, (void *)name, &err);
    if (!zh)
        fatal("zkc_new", err);
    int rc = zkc_wait_connected(zh, WAIT_MS);
    if (rc != ZOK)
        fatal("connect", rc);
    return zh;
}

static zkc_t *open_main(const char *name)
{
    struct zkc_options opt;
    memset(&opt, 0, sizeof(opt));
    opt.session_timeout_ms = 15000;
    return open_handle(g_host, &opt, name);
}

static void print_stat(const char *step, int rc, const struct zk_stat *st)
{
    if (rc == ZOK)
        out("%s %s version=%d cversion=%d dataLength=%d numChildren=%d", step, zerr_name(rc), st->version, st->cversion,
            st->dataLength, st->numChildren);
    else
        out("%s %s", step, zerr_name(rc));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_children(const char *step, int rc, struct zk_response *res)
{
    char line[4096];
    size_t n = 0;
    if (rc != ZOK) {
        out("%s %s", step, zerr_name(rc));
        return;
    }
    qsort(res->children, (size_t)res->nchildren, sizeof(char *), cmp_str);
    line[0] = 0;
    for (int32_t i = 0; i < res->nchildren && n < sizeof(line) - 256; i++)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "%s%s", i ? "," : "", rel(res->children[i]));
    out("%s %s [%s] numChildren=%d", step, zerr_name(rc), line, res->stat.numChildren);
}

static void print_data(const char *step, int rc, const struct zk_response *res)
{
    if (rc != ZOK)
        out("%s %s", step, zerr_name(rc));
    else if (res->datalen < 0)
        out("%s %s (null) version=%d", step, zerr_name(rc), res->stat.version);
    else
        out("%s %s '%.*s' version=%d dataLength=%d", step, zerr_name(rc), res->datalen, (const char *)res->data,
            res->stat.version, res->stat.dataLength);
}

/* A round trip on zh: every notification the server queued for zh before it arrives first. */
static void flush_at(zkc_t *zh, const char *path)
{
    int rc = zkc_sync_wait(zh, path);
    if (rc != ZOK)
        fatal("sync", rc);
    rc = zkc_exists_wait(zh, path, NULL, NULL, NULL);
    if (rc != ZOK)
        fatal("exists", rc);
}

static void flush(zkc_t *zh)
{
    flush_at(zh, g_root);
}

static int create(zkc_t *zh, const char *step, const char *path, const char *data, int mode)
{
    struct zk_response res;
    int rc = zkc_create_wait(zh, path, data, data ? (int32_t)strlen(data) : -1, zkc_open_acl_unsafe, 1, mode, 0, &res);
    if (rc == ZOK)
        out("%s %s %s", step, zerr_name(rc), rel(res.path));
    else
        out("%s %s", step, zerr_name(rc));
    jute_free_response(&res);
    return rc;
}

/* ------------------------------------------------------------------ scenarios */

static void scenario_crud(void)
{
    zkc_t *zh = open_main("main");
    struct zk_response res;
    int rc;
    create(zh, "create", P("/a"), "hello", ZMODE_PERSISTENT);
    create(zh, "create-again", P("/a"), "x", ZMODE_PERSISTENT);
    create(zh, "create-noparent", P("/x/y"), "x", ZMODE_PERSISTENT);
    create(zh, "create-empty", P("/empty"), "", ZMODE_PERSISTENT);
    rc = zkc_get_data_wait(zh, P("/a"), NULL, NULL, &res);
    print_data("get", rc, &res);
    jute_free_response(&res);
    rc = zkc_get_data_wait(zh, P("/empty"), NULL, NULL, &res);
    print_data("get-empty", rc, &res);
    jute_free_response(&res);
    rc = zkc_set_data_wait(zh, P("/a"), "world", 5, 0, &res);
    print_stat("set", rc, &res.stat);
    jute_free_response(&res);
    rc = zkc_set_data_wait(zh, P("/a"), "again", 5, 0, &res);
    print_stat("set-badversion", rc, &res.stat);
    jute_free_response(&res);
    rc = zkc_exists_wait(zh, P("/a"), NULL, NULL, &res);
    print_stat("exists", rc, &res.stat);
    jute_free_response(&res);
    rc = zkc_exists_wait(zh, P("/nope"), NULL, NULL, &res);
    print_stat("exists-missing", rc, &res.stat);
    jute_free_response(&res);
    create(zh, "create-seq", P("/a/s-"), "1", ZMODE_PERSISTENT_SEQUENTIAL);
    create(zh, "create-seq", P("/a/s-"), "2", ZMODE_PERSISTENT_SEQUENTIAL);
    rc = zkc_get_children_wait(zh, P("/a"), NULL, NULL, &res);
    print_children("children", rc, &res);
    jute_free_response(&res);
    int32_t n = -1;
    rc = zkc_get_all_children_number_wait(zh, g_root, &n);
    out("all-children-number %s %d", zerr_name(rc), n);
    out("delete-notempty %s", zerr_name(zkc_delete_wait(zh, P("/a"), -1)));
    out("delete-badversion %s", zerr_name(zkc_delete_wait(zh, P("/a/s-0000000000"), 5)));
    out("delete %s", zerr_name(zkc_delete_wait(zh, P("/a/s-0000000000"), 0)));
    out("delete-missing %s", zerr_name(zkc_delete_wait(zh, P("/a/s-0000000000"), -1)));
    rc = zkc_get_acl_wait(zh, P("/a"), &res);
    if (rc == ZOK && res.nacl == 1)
        out("getacl %s %s:%s:%d aversion=%d", zerr_name(rc), res.acl[0].id.scheme, res.acl[0].id.id, res.acl[0].perms,
            res.stat.aversion);
    else
        out("getacl %s nacl=%d", zerr_name(rc), res.nacl);
    jute_free_response(&res);
    out("setacl %s", zerr_name(zkc_set_acl_wait(zh, P("/a"), 0, zkc_read_acl_unsafe, 1)));
    out("setacl-badversion %s", zerr_name(zkc_set_acl_wait(zh, P("/a"), 0, zkc_read_acl_unsafe, 1)));
    rc = zkc_set_data_wait(zh, P("/a"), "no", 2, -1, NULL);
    out("set-readonly %s", zerr_name(rc));
    out("setacl-empty %s", zerr_name(zkc_set_acl_wait(zh, P("/a"), -1, zkc_read_acl_unsafe, 0)));
    out("sync %s", zerr_name(zkc_sync_wait(zh, P("/a"))));
    create(zh, "create-container", P("/cont"), "c", ZMODE_CONTAINER);
    rc = zkc_create_wait(zh, P("/ttl"), "t", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_WITH_TTL, 1000, NULL);
    out("create-ttl %s", zerr_name(rc)); /* TTL nodes are disabled by default: UNIMPLEMENTED */
    rc = zkc_create_wait(zh, "relative", "x", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL);
    out("create-badpath %s", zerr_name(rc));
    rc = zkc_whoami_wait(zh, &res);
    out("whoami %s n=%d scheme=%s", zerr_name(rc), res.nclients, res.nclients ? res.clients[0].scheme : "-");
    jute_free_response(&res);
    /* a 512 KiB datum, through the frame reassembly */
    static char big[512 * 1024];
    memset(big, 'z', sizeof(big));
    rc = zkc_create_wait(zh, P("/big"), big, (int32_t)sizeof(big), zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL);
    out("create-big %s", zerr_name(rc));
    rc = zkc_get_data_wait(zh, P("/big"), NULL, NULL, &res);
    out("get-big %s %d %s", zerr_name(rc), res.datalen,
        rc == ZOK && res.datalen == (int32_t)sizeof(big) && !memcmp(res.data, big, sizeof(big)) ? "same" : "differs");
    jute_free_response(&res);
    out("close %s", zerr_name(zkc_close(zh)));
}

static void scenario_watch(void)
{
    zkc_t *zh = open_main("main"), *other = open_main("other");
    struct zk_response res;
    int rc;
    create(zh, "create", P("/w"), "0", ZMODE_PERSISTENT);
    rc = zkc_get_data_wait(zh, P("/w"), watcher, "W1", &res);
    print_data("get-watch", rc, &res);
    jute_free_response(&res);
    rc = zkc_exists_wait(zh, P("/new"), watcher, "W2", NULL);
    out("exists-watch %s", zerr_name(rc));
    rc = zkc_get_children_wait(zh, g_root, watcher, "W3", &res);
    print_children("children-watch", rc, &res);
    jute_free_response(&res);
    rc = zkc_get_data_wait(zh, P("/none"), watcher, "W5", NULL); /* fails: no watch set */
    out("get-watch-missing %s", zerr_name(rc));
    out("set-by-other %s", zerr_name(zkc_set_data_wait(other, P("/w"), "1", 1, -1, NULL)));
    flush(zh);
    out("set-by-other-again %s", zerr_name(zkc_set_data_wait(other, P("/w"), "2", 1, -1, NULL)));
    flush(zh); /* one-shot: nothing more */
    create(other, "create-by-other", P("/new"), "n", ZMODE_PERSISTENT);
    flush(zh);
    create(other, "create-by-other", P("/none"), "n", ZMODE_PERSISTENT);
    flush(zh);

    rc = zkc_add_watch_wait(zh, g_root, ZADDWATCH_PERSISTENT_RECURSIVE, watcher, "W4");
    out("addwatch-recursive %s", zerr_name(rc));
    rc = zkc_add_watch_wait(zh, P("/w"), ZADDWATCH_PERSISTENT, watcher, "W6");
    out("addwatch-persistent %s", zerr_name(rc));
    create(other, "create-by-other", P("/r"), "r", ZMODE_PERSISTENT);
    create(other, "create-by-other", P("/r/x"), "x", ZMODE_PERSISTENT);
    out("set-by-other %s", zerr_name(zkc_set_data_wait(other, P("/w"), "3", 1, -1, NULL)));
    out("set-by-other %s", zerr_name(zkc_set_data_wait(other, P("/w"), "4", 1, -1, NULL)));
    out("delete-by-other %s", zerr_name(zkc_delete_wait(other, P("/r/x"), -1)));
    flush(zh);
    rc = zkc_remove_watches_wait(zh, g_root, ZWT_PERSISTENT_RECURSIVE, watcher, "W4", 0);
    out("removewatches %s", zerr_name(rc));
    rc = zkc_remove_watches_wait(zh, P("/w"), ZWT_ANY, NULL, NULL, 0);
    out("removeallwatches %s", zerr_name(rc));
    create(other, "create-by-other", P("/r/y"), "y", ZMODE_PERSISTENT);
    flush(zh);
    rc = zkc_remove_watches_wait(zh, P("/r"), ZWT_DATA, NULL, NULL, 0);
    out("removewatches-none %s", zerr_name(rc));
    rc = zkc_get_data_wait(zh, P("/w"), watcher, "W1", NULL);
    out("get-watch %s", zerr_name(rc));
    rc = zkc_remove_watches_wait(zh, P("/w"), ZWT_DATA, watcher, "W1", 0);
    out("removewatches-one %s", zerr_name(rc));
    rc = zkc_remove_watches_wait(zh, P("/w"), ZWT_CHILDREN, watcher, "W1", 1);
    out("removewatches-local-none %s", zerr_name(rc));
    /* a child watch sees the deletion of its node */
    rc = zkc_get_children_wait(zh, P("/r"), watcher, "W7", NULL);
    out("children-watch %s", zerr_name(rc));
    out("delete-by-other %s", zerr_name(zkc_delete_wait(other, P("/r/y"), -1)));
    out("delete-by-other %s", zerr_name(zkc_delete_wait(other, P("/r"), -1)));
    flush(zh);
    out("events %d", g_events);
    out("close %s", zerr_name(zkc_close(other)));
    out("close %s", zerr_name(zkc_close(zh)));
}

static void print_results(const struct zk_response *res)
{
    for (int32_t i = 0; i < res->nresults; i++) {
        const struct zk_response *r = &res->results[i];
        if (r->type == ZOP_ERROR)
            out("  err %s", zerr_name(r->err));
        else if (r->type == ZOP_CREATE || r->type == ZOP_CREATE2)
            out("  create %s", rel(r->path));
        else if (r->type == ZOP_SETDATA)
            out("  setData version=%d", r->stat.version);
        else if (r->type == ZOP_GETDATA)
            out("  getData '%.*s'", r->datalen < 0 ? 0 : r->datalen, r->data ? (const char *)r->data : "");
        else if (r->type == ZOP_GETCHILDREN)
            out("  getChildren n=%d", r->nchildren);
        else
            out("  %s", zop_name(r->type));
    }
}

static void scenario_multi(void)
{
    zkc_t *zh = open_main("main");
    struct zk_request ops[4];
    struct zk_response res;
    int rc;
    zkc_op_create(&ops[0], P("/m1"), "a", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0);
    zkc_op_create(&ops[1], P("/m2"), "b", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_SEQUENTIAL, 0);
    zkc_op_set_data(&ops[2], P("/m1"), "c", 1, 0);
    zkc_op_check(&ops[3], P("/m1"), 1);
    rc = zkc_multi_wait(zh, ops, 4, &res);
    out("multi %s n=%d", zerr_name(rc), res.nresults);
    print_results(&res);
    jute_free_response(&res);
    zkc_op_create(&ops[0], P("/m3"), "a", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0);
    zkc_op_delete(&ops[1], P("/nope"), -1);
    zkc_op_create(&ops[2], P("/m4"), "a", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0);
    rc = zkc_multi_wait(zh, ops, 3, &res);
    out("multi-fail %s n=%d", zerr_name(rc), res.nresults);
    print_results(&res);
    jute_free_response(&res);
    out("exists-rolled-back %s", zerr_name(zkc_exists_wait(zh, P("/m3"), NULL, NULL, NULL)));
    zkc_op_check(&ops[0], P("/m1"), 0);
    rc = zkc_multi_wait(zh, ops, 1, &res);
    out("multi-check %s", zerr_name(rc));
    print_results(&res);
    jute_free_response(&res);
    rc = zkc_multi_wait(zh, ops, 0, &res);
    out("multi-empty %s n=%d", zerr_name(rc), res.nresults);
    jute_free_response(&res);
    zkc_op_get_data(&ops[0], P("/m1"));
    zkc_op_get_children(&ops[1], g_root);
    zkc_op_get_data(&ops[2], P("/nope"));
    rc = zkc_multi_read_wait(zh, ops, 3, &res);
    out("multiread %s n=%d", zerr_name(rc), res.nresults);
    print_results(&res);
    jute_free_response(&res);
    out("close %s", zerr_name(zkc_close(zh)));
}

static void scenario_ephemeral(void)
{
    zkc_t *zh = open_main("main"), *eph = open_main("eph");
    struct zk_response res;
    int rc;
    create(eph, "create-ephemeral", P("/e1"), "e", ZMODE_EPHEMERAL);
    create(eph, "create-ephemeral-seq", P("/e-"), "e", ZMODE_EPHEMERAL_SEQUENTIAL);
    create(eph, "create-under-ephemeral", P("/e1/child"), "c", ZMODE_PERSISTENT);
    create(zh, "create-persistent", P("/p"), "p", ZMODE_PERSISTENT);
    rc = zkc_get_ephemerals_wait(eph, g_root, &res);
    print_children("ephemerals", rc, &res);
    jute_free_response(&res);
    rc = zkc_get_ephemerals_wait(zh, "/", &res);
    out("ephemerals-main %s n=%d", zerr_name(rc), res.nchildren);
    jute_free_response(&res);
    rc = zkc_exists_wait(zh, P("/e1"), watcher, "W1", &res);
    out("exists %s owner=%s", zerr_name(rc), res.stat.ephemeralOwner == zkc_session_id(eph, NULL) ? "eph" : "other");
    jute_free_response(&res);
    out("close-eph %s", zerr_name(zkc_close(eph)));
    flush(zh);
    out("exists-after-close %s", zerr_name(zkc_exists_wait(zh, P("/e1"), NULL, NULL, NULL)));
    rc = zkc_get_children_wait(zh, g_root, NULL, NULL, &res);
    print_children("children", rc, &res);
    jute_free_response(&res);
    out("close %s", zerr_name(zkc_close(zh)));
}

static void scenario_chroot(void)
{
    char cs[1024];
    struct zk_response res;
    int rc;
    zkc_t *zh = open_main("main");
    snprintf(cs, sizeof(cs), "%s%s", g_host, g_root);
    zkc_t *ch = open_handle(cs, NULL, "chroot");
    rc = zkc_create_wait(ch, "/c", "x", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_SEQUENTIAL, 0, &res);
    out("create %s %s", zerr_name(rc), res.path ? res.path : "-");
    jute_free_response(&res);
    create(ch, "create-plain", "/d", "d", ZMODE_PERSISTENT);
    create(ch, "create-root", "/", "r", ZMODE_PERSISTENT);
    rc = zkc_exists_wait(ch, "/d", watcher, "CW", NULL);
    out("exists-watch %s", zerr_name(rc));
    rc = zkc_get_children_wait(ch, "/", watcher, "CC", &res);
    print_children("children", rc, &res);
    jute_free_response(&res);
    rc = zkc_get_data_wait(ch, "/", watcher, "CR", &res);
    print_data("get-root", rc, &res);
    jute_free_response(&res);
    out("set-outside %s", zerr_name(zkc_set_data_wait(zh, P("/d"), "y", 1, -1, NULL)));
    out("set-outside %s", zerr_name(zkc_set_data_wait(zh, g_root, "z", 1, -1, NULL)));
    create(zh, "create-outside", P("/e"), "e", ZMODE_PERSISTENT);
    flush_at(ch, "/");
    out("sync %s", zerr_name(zkc_sync_wait(ch, "/d")));
    create(ch, "create-ephemeral", "/eph", "e", ZMODE_EPHEMERAL);
    rc = zkc_get_ephemerals_wait(ch, "/", &res);
    print_children("ephemerals", rc, &res);
    jute_free_response(&res);
    out("close %s", zerr_name(zkc_close(ch)));
    out("close %s", zerr_name(zkc_close(zh)));
}

static void scenario_session(void)
{
    struct zkc_options o;
    zkc_t *zh = open_main("main"), *a = open_main("a");
    int rc;
    create(a, "create-ephemeral", P("/s"), "s", ZMODE_EPHEMERAL);
    memset(&o, 0, sizeof(o));
    o.session_timeout_ms = 15000;
    o.session_id = zkc_session_id(a, o.passwd);
    zkc_t *b = open_handle(g_host, &o, "b");
    out("resume %s %s", zerr_name(ZOK), zkc_session_id(b, NULL) == o.session_id ? "same-session" : "new-session");
    out("exists-from-resumed %s", zerr_name(zkc_exists_wait(b, P("/s"), NULL, NULL, NULL)));
    out("close-resumed %s", zerr_name(zkc_close(b)));
    flush(zh);
    out("exists-after-close %s", zerr_name(zkc_exists_wait(zh, P("/s"), NULL, NULL, NULL)));
    /* the first handle's connection was taken over, then the session closed: it expires */
    rc = zkc_exists_wait(a, g_root, NULL, NULL, NULL);
    while (rc == ZCONNECTIONLOSS)
        rc = zkc_exists_wait(a, g_root, NULL, NULL, NULL);
    out("old-handle %s state=%s", zerr_name(rc), state_name(zkc_state(a)));
    out("close-old %s", zerr_name(zkc_close(a)));
    o.passwd[0] ^= 0xff;
    int err;
    zkc_t *c = zkc_new(NULL, g_host, &o, watcher, "c", &err);
    rc = zkc_wait_connected(c, WAIT_MS);
    out("resume-closed %s state=%s", zerr_name(rc), state_name(zkc_state(c)));
    out("after-expiry %s", zerr_name(zkc_sync_wait(c, "/")));
    out("close-expired %s", zerr_name(zkc_close(c)));
    out("close %s", zerr_name(zkc_close(zh)));
}

static void scenario_auth(void)
{
    zkc_t *zh = open_main("main"), *other = open_main("other");
    int rc = zkc_add_auth_wait(zh, "digest", "user:secret", 11);
    out("addauth %s", zerr_name(rc));
    rc = zkc_create_wait(zh, P("/priv"), "p", 1, zkc_creator_all_acl, 1, ZMODE_PERSISTENT, 0, NULL);
    out("create-creator-all %s", zerr_name(rc));
    rc = zkc_create_wait(other, P("/priv2"), "p", 1, zkc_creator_all_acl, 1, ZMODE_PERSISTENT, 0, NULL);
    out("create-creator-all-noauth %s", zerr_name(rc));
    out("get-other %s", zerr_name(zkc_get_data_wait(other, P("/priv"), NULL, NULL, NULL)));
    out("get-self %s", zerr_name(zkc_get_data_wait(zh, P("/priv"), NULL, NULL, NULL)));
    struct zk_response res;
    rc = zkc_whoami_wait(zh, &res);
    int has_digest = 0;
    for (int32_t i = 0; i < res.nclients; i++)
        has_digest |= !strcmp(res.clients[i].scheme, "digest") && !strcmp(res.clients[i].id, "user");
    out("whoami %s digest-user=%d", zerr_name(rc), has_digest);
    jute_free_response(&res);
    rc = zkc_add_auth_wait(other, "nosuchscheme", "x", 1);
    out("addauth-bad %s state=%s", zerr_name(rc), state_name(zkc_state(other)));
    out("after-authfailed %s", zerr_name(zkc_sync_wait(other, "/")));
    out("close-other %s", zerr_name(zkc_close(other)));
    out("delete %s", zerr_name(zkc_delete_wait(zh, P("/priv"), -1)));
    out("close %s", zerr_name(zkc_close(zh)));
}

/* The asynchronous API on the caller's own event_base: many requests in flight, their
 * completions in submission order, then zkc_close_async. */
struct async_state {
    int next_expected, done, bad, closed;
    struct event_base *base;
};

static void async_done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct async_state *s = ctx;
    (void)zh;
    (void)res;
    int i = s->done++;
    if (rc != ZOK || i != s->next_expected)
        s->bad++;
    s->next_expected++;
}

static struct async_state *g_async;

static void async_seq_done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh;
    (void)ctx;
    /* sequence numbers follow the submission order, one apart (nothing else changes ROOT) */
    static long last = -1;
    const char *name = rc == ZOK && res->path ? rel(res->path) : "";
    long seq = strncmp(name, "/q-", 3) == 0 ? strtol(name + 3, NULL, 10) : -2;
    if (seq < 0 || (last >= 0 && seq != last + 1))
        g_async->bad++;
    last = seq;
    g_async->done++;
}

static void async_closed(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    struct async_state *s = ctx;
    (void)zh;
    (void)res;
    s->closed = 1;
    out("close-async %s", zerr_name(rc));
    event_base_loopbreak(s->base);
}

static void scenario_async(void)
{
    struct async_state s;
    int err;
    memset(&s, 0, sizeof(s));
    g_async = &s;
    s.base = event_base_new();
    zkc_t *zh = zkc_new(s.base, g_host, NULL, watcher, "async", &err);
    if (!zh)
        fatal("zkc_new", err);
    /* submitted before the connection exists: queued, sent after the handshake */
    int n = 0;
    for (int i = 0; i < 200; i++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/n%d", g_root, i);
        if (zkc_create(zh, p, "v", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, async_done, &s) == ZOK)
            n++;
    }
    for (int i = 0; i < 50; i++)
        if (zkc_create(zh, P("/q-"), "v", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_SEQUENTIAL, 0, async_seq_done,
                       NULL) == ZOK)
            n++;
    while (s.done < n)
        if (event_base_loop(s.base, EVLOOP_ONCE) != 0)
            fatal("loop", ZSYSTEMERROR);
    out("async-creates %s n=%d bad=%d", zerr_name(ZOK), s.done, s.bad);
    out("close-async-start %s", zerr_name(zkc_close_async(zh, async_closed, &s)));
    event_base_dispatch(s.base);
    out("closed %d", s.closed);
    event_base_free(s.base);
}

/* TTL nodes, on a server started with extendedTypesEnabled=true. */
static void scenario_ttl(void)
{
    zkc_t *zh = open_main("main");
    struct zk_response res;
    struct zk_request op;
    int rc = zkc_create_wait(zh, P("/t"), "t", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_WITH_TTL, 60000, &res);
    out("create-ttl %s %s", zerr_name(rc), rel(res.path));
    jute_free_response(&res);
    rc = zkc_create_wait(zh, P("/ts-"), "t", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_SEQUENTIAL_WITH_TTL, 60000,
                         &res);
    out("create-ttl-seq %s %s", zerr_name(rc), rel(res.path));
    jute_free_response(&res);
    rc = zkc_exists_wait(zh, P("/t"), NULL, NULL, &res);
    /* the server keeps the TTL in ephemeralOwner but shows clients 0 (DataNode.copyStat) */
    out("exists %s ephemeralOwner=0x%llx", zerr_name(rc), (unsigned long long)res.stat.ephemeralOwner);
    jute_free_response(&res);
    zkc_op_create(&op, P("/tm"), "t", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_WITH_TTL, 5000);
    rc = zkc_multi_wait(zh, &op, 1, &res);
    out("multi-ttl %s n=%d", zerr_name(rc), res.nresults);
    print_results(&res);
    jute_free_response(&res);
    rc = zkc_create_wait(zh, P("/bad"), "t", 1, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT_WITH_TTL, 0, NULL);
    out("create-ttl-zero %s", zerr_name(rc));
    out("close %s", zerr_name(zkc_close(zh)));
}

/* A short session left idle for 2.5 timeouts: the pings keep it (and its connection) alive. */
static int g_disconnects;
static void idle_watcher(zkc_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    (void)ctx;
    if (type == ZEV_NONE && state != ZSTATE_SYNC_CONNECTED)
        g_disconnects++;
}

static void scenario_idle(void)
{
    struct zkc_options o;
    int err;
    memset(&o, 0, sizeof(o));
    o.session_timeout_ms = 4000;
    zkc_t *zh = zkc_new(NULL, g_host, &o, idle_watcher, NULL, &err);
    if (!zh)
        fatal("zkc_new", err);
    int rc = zkc_wait_connected(zh, WAIT_MS);
    if (rc != ZOK)
        fatal("connect", rc);
    int64_t sid = zkc_session_id(zh, NULL);
    int32_t t = zkc_session_timeout(zh);
    out("timeout %s %d", zerr_name(rc), t);
    zkc_run_for(zh, t * 5 / 2);
    out("after-idle %s same-session=%d disconnects=%d", zerr_name(zkc_exists_wait(zh, g_root, NULL, NULL, NULL)),
        zkc_session_id(zh, NULL) == sid, g_disconnects);
    out("close %s", zerr_name(zkc_close(zh)));
}

/* Watches set, then the driver restarts the server and changes ROOT/w and creates ROOT/c:
 * the library reconnects with the same session and re-arms the watches. */
static void scenario_reconnect(void)
{
    struct zk_response res;
    g_print_states = 1;
    zkc_t *zh = open_main("main");
    create(zh, "create", P("/w"), "0", ZMODE_PERSISTENT);
    create(zh, "create", P("/d"), "0", ZMODE_PERSISTENT);
    int64_t sid = zkc_session_id(zh, NULL);
    out("get-watch %s", zerr_name(zkc_get_data_wait(zh, P("/w"), watcher, "W1", NULL)));
    out("children-watch %s", zerr_name(zkc_get_children_wait(zh, P("/d"), watcher, "W2", NULL)));
    out("exists-watch %s", zerr_name(zkc_exists_wait(zh, P("/c"), watcher, "W3", NULL)));
    out("addwatch %s", zerr_name(zkc_add_watch_wait(zh, g_root, ZADDWATCH_PERSISTENT_RECURSIVE, watcher, "W4")));
    out("armed");
    /* the one-shot watches must fire, through the reconnect */
    for (int i = 0; i < 600 && g_oneshots != 7; i++)
        zkc_run_for(zh, 100);
    flush(zh);
    int rc = zkc_get_data_wait(zh, P("/w"), NULL, NULL, &res);
    print_data("get", rc, &res);
    jute_free_response(&res);
    out("same-session %d", zkc_session_id(zh, NULL) == sid);
    out("events %d", g_events);
    out("done");
    g_print_states = 0;
    out("close %s", zerr_name(zkc_close(zh)));
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr,
                "usage: %s HOST:PORT crud|watch|multi|ephemeral|chroot|session|auth|async|idle|ttl|reconnect ROOT\n",
                argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lvl = getenv("ZKFS_LOG") ? log_parse_level(getenv("ZKFS_LOG")) : -1;
    log_set_level(lvl < 0 ? LOG_LVL_ERROR : (enum log_level)lvl);
    log_set_component("zkc_demo");
    g_host = argv[1];
    g_root = argv[3];
    g_rootlen = strlen(g_root);
    const char *s = argv[2];
    if (!strcmp(s, "crud"))
        scenario_crud();
    else if (!strcmp(s, "watch"))
        scenario_watch();
    else if (!strcmp(s, "multi"))
        scenario_multi();
    else if (!strcmp(s, "ephemeral"))
        scenario_ephemeral();
    else if (!strcmp(s, "chroot"))
        scenario_chroot();
    else if (!strcmp(s, "session"))
        scenario_session();
    else if (!strcmp(s, "auth"))
        scenario_auth();
    else if (!strcmp(s, "async"))
        scenario_async();
    else if (!strcmp(s, "reconnect"))
        scenario_reconnect();
    else if (!strcmp(s, "idle"))
        scenario_idle();
    else if (!strcmp(s, "ttl"))
        scenario_ttl();
    else {
        fprintf(stderr, "unknown scenario %s\n", s);
        return 2;
    }
    return 0;
}
