/* zkc_scenario: scenarios run through Apache ZooKeeper's own C client (libzookeeper_mt, the
 * sync API), printing one line per step, so that tests/integration/test_cclient.py can check
 * that a client nobody here wrote gets ZooKeeper's answers from a server.
 *
 *   zkc_scenario HOST:PORT SCENARIO ROOT
 * SCENARIO is crud, watch, multi, acl, session or failover; ROOT is an existing znode under
 * which the scenario works. failover (HOST:PORT a list of an ensemble's members) makes an
 * ephemeral, prints "ready <host:port it is connected to>", waits for a line on stdin (the
 * test kills that member meanwhile), then retries a create for up to 30 s and reports whether
 * the session survived. Lines are "<step> <rc name> [details]"; "fatal ..." and exit status 2
 * when the scenario itself cannot go on (no connection). Test-only: links only against the
 * C client, never against zkfs code. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
/* The sync API of libzookeeper_mt is declared only for THREADED builds. */
#ifndef THREADED
#define THREADED 1
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <zookeeper.h>

#define WAIT_MS 15000
#define MAX_EVENTS 64

static const char *g_host;
static const char *g_root;

static const char *rel(const char *path);

/* ZooKeeper's name for a return code (zerror() gives prose, the test wants the name). */
static const char *rcname(int rc)
{
    switch (rc) {
    case ZOK: return "ZOK";
    case ZSYSTEMERROR: return "ZSYSTEMERROR";
    case ZRUNTIMEINCONSISTENCY: return "ZRUNTIMEINCONSISTENCY";
    case ZDATAINCONSISTENCY: return "ZDATAINCONSISTENCY";
    case ZCONNECTIONLOSS: return "ZCONNECTIONLOSS";
    case ZMARSHALLINGERROR: return "ZMARSHALLINGERROR";
    case ZUNIMPLEMENTED: return "ZUNIMPLEMENTED";
    case ZOPERATIONTIMEOUT: return "ZOPERATIONTIMEOUT";
    case ZBADARGUMENTS: return "ZBADARGUMENTS";
    case ZINVALIDSTATE: return "ZINVALIDSTATE";
    case ZAPIERROR: return "ZAPIERROR";
    case ZNONODE: return "ZNONODE";
    case ZNOAUTH: return "ZNOAUTH";
    case ZBADVERSION: return "ZBADVERSION";
    case ZNOCHILDRENFOREPHEMERALS: return "ZNOCHILDRENFOREPHEMERALS";
    case ZNODEEXISTS: return "ZNODEEXISTS";
    case ZNOTEMPTY: return "ZNOTEMPTY";
    case ZSESSIONEXPIRED: return "ZSESSIONEXPIRED";
    case ZINVALIDCALLBACK: return "ZINVALIDCALLBACK";
    case ZINVALIDACL: return "ZINVALIDACL";
    case ZAUTHFAILED: return "ZAUTHFAILED";
    case ZCLOSING: return "ZCLOSING";
    case ZNOTHING: return "ZNOTHING";
    case ZSESSIONMOVED: return "ZSESSIONMOVED";
    default: return "ZUNKNOWN";
    }
}

static const char *event_name(int type)
{
    if (type == ZOO_CREATED_EVENT)
        return "CREATED";
    if (type == ZOO_DELETED_EVENT)
        return "DELETED";
    if (type == ZOO_CHANGED_EVENT)
        return "CHANGED";
    if (type == ZOO_CHILD_EVENT)
        return "CHILD";
    if (type == ZOO_SESSION_EVENT)
        return "SESSION";
    if (type == ZOO_NOTWATCHING_EVENT)
        return "NOTWATCHING";
    return "UNKNOWN";
}

static const char *state_name(int state)
{
    if (state == ZOO_CONNECTED_STATE)
        return "CONNECTED";
    if (state == ZOO_EXPIRED_SESSION_STATE)
        return "EXPIRED_SESSION";
    if (state == ZOO_AUTH_FAILED_STATE)
        return "AUTH_FAILED";
    if (state == ZOO_CONNECTING_STATE)
        return "CONNECTING";
    if (state == ZOO_ASSOCIATING_STATE)
        return "ASSOCIATING";
    return "OTHER";
}

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints one result line (stdout is flushed at once: the test may read a partial run). */
static void out(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatal(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("fatal ");
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    exit(2);
}

/* Watch events and session states, filled by the client's completion thread. */
struct evq {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state; /* the last session state seen */
    int n;
    struct {
        int type;
        char path[512];
    } ev[MAX_EVENTS];
};

static struct evq *evq_new(void)
{
    struct evq *q = calloc(1, sizeof(*q));
    if (!q)
        fatal("out of memory");
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv, NULL);
    return q;
}

static void deadline_in(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* The one watcher for both session events and node watches: ctx is the handle's evq. */
static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    struct evq *q = ctx;
    pthread_mutex_lock(&q->mu);
    if (type == ZOO_SESSION_EVENT) {
        q->state = state;
    } else if (q->n < MAX_EVENTS) {
        q->ev[q->n].type = type;
        snprintf(q->ev[q->n].path, sizeof(q->ev[q->n].path), "%s", path ? path : "");
        q->n++;
    }
    pthread_cond_broadcast(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

/* Waits for the next node event and prints "<step> <TYPE> <path>", or "<step> TIMEOUT". */
static void expect_event(struct evq *q, const char *step)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_mutex_lock(&q->mu);
    while (q->n == 0)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
            break;
    if (q->n == 0) {
        pthread_mutex_unlock(&q->mu);
        out("%s TIMEOUT", step);
        return;
    }
    int type = q->ev[0].type;
    char path[512];
    snprintf(path, sizeof(path), "%s", q->ev[0].path);
    memmove(&q->ev[0], &q->ev[1], sizeof(q->ev[0]) * (size_t)(q->n - 1));
    q->n--;
    pthread_mutex_unlock(&q->mu);
    out("%s %s %s", step, event_name(type), rel(path));
}

/* Waits until the session state is one of CONNECTED, EXPIRED_SESSION, AUTH_FAILED; returns it
 * (0 on timeout). */
static int wait_state(struct evq *q)
{
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_mutex_lock(&q->mu);
    while (q->state != ZOO_CONNECTED_STATE && q->state != ZOO_EXPIRED_SESSION_STATE &&
           q->state != ZOO_AUTH_FAILED_STATE)
        if (pthread_cond_timedwait(&q->cv, &q->mu, &ts) == ETIMEDOUT)
            break;
    int s = q->state;
    pthread_mutex_unlock(&q->mu);
    return s == ZOO_CONNECTED_STATE || s == ZOO_EXPIRED_SESSION_STATE || s == ZOO_AUTH_FAILED_STATE ? s : 0;
}

struct conn {
    zhandle_t *zh;
    struct evq *q;
};

/* Opens a session (or resumes clientid) and waits for its outcome; *state gets it. The
 * handle is returned even when the session expired, so the caller can report it. */
static struct conn open_session(const clientid_t *cid, int timeout_ms, int *state)
{
    struct conn c = {NULL, evq_new()};
    c.zh = zookeeper_init(g_host, watcher, timeout_ms, cid, c.q, 0);
    if (!c.zh)
        fatal("zookeeper_init(%s): %s", g_host, strerror(errno));
    *state = wait_state(c.q);
    return c;
}

static struct conn connect_or_die(void)
{
    int st;
    struct conn c = open_session(NULL, 10000, &st);
    if (st != ZOO_CONNECTED_STATE)
        fatal("no session with %s (state %s)", g_host, st ? state_name(st) : "timeout");
    return c;
}

static void close_conn(struct conn *c)
{
    if (c->zh)
        zookeeper_close(c->zh);
    c->zh = NULL;
}

/* root + "/" + name in a static rotating buffer (a few live at once). */
static const char *P(const char *name)
{
    static char bufs[8][512];
    static int i;
    char *b = bufs[i++ % 8];
    snprintf(b, sizeof(bufs[0]), "%s/%s", g_root, name);
    return b;
}

/* Prints a path with the root replaced by "R", so lines do not depend on the root's name. */
static const char *rel(const char *path)
{
    static char bufs[4][512];
    static int i;
    char *b = bufs[i++ % 4];
    size_t n = strlen(g_root);
    if (strncmp(path, g_root, n) == 0)
        snprintf(b, sizeof(bufs[0]), "R%s", path + n);
    else
        snprintf(b, sizeof(bufs[0]), "%s", path);
    return b;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void step_create(zhandle_t *zh, const char *step, const char *path, const char *data, int flags,
                        struct ACL_vector *acl)
{
    char made[512];
    int rc = zoo_create(zh, path, data, data ? (int)strlen(data) : -1, acl ? acl : &ZOO_OPEN_ACL_UNSAFE, flags,
                        made, sizeof(made));
    if (rc == ZOK)
        out("%s %s %s", step, rcname(rc), rel(made));
    else
        out("%s %s", step, rcname(rc));
}

static void step_get(zhandle_t *zh, const char *step, const char *path)
{
    char buf[256];
    int len = sizeof(buf) - 1;
    struct Stat st;
    int rc = zoo_get(zh, path, 0, buf, &len, &st);
    if (rc != ZOK) {
        out("%s %s", step, rcname(rc));
        return;
    }
    buf[len < 0 ? 0 : len] = 0;
    out("%s %s data=%s version=%d dataLength=%d numChildren=%d", step, rcname(rc), buf, st.version,
        st.dataLength, st.numChildren);
}

static void step_children(zhandle_t *zh, const char *step, const char *path)
{
    struct String_vector sv = {0, NULL};
    struct Stat st;
    int rc = zoo_get_children2(zh, path, 0, &sv, &st);
    if (rc != ZOK) {
        out("%s %s", step, rcname(rc));
        return;
    }
    qsort(sv.data, (size_t)sv.count, sizeof(char *), cmp_str);
    char list[2048] = "";
    size_t used = 0;
    for (int i = 0; i < sv.count && used < sizeof(list); i++)
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? "," : "", sv.data[i]);
    out("%s %s children=%s numChildren=%d cversion=%d", step, rcname(rc), list, st.numChildren, st.cversion);
    deallocate_String_vector(&sv);
}

static void scenario_crud(void)
{
    struct conn c = connect_or_die();
    zhandle_t *zh = c.zh;
    step_create(zh, "create", P("a"), "hello", ZOO_PERSISTENT, NULL);
    step_create(zh, "create_again", P("a"), "x", ZOO_PERSISTENT, NULL);
    step_create(zh, "create_no_parent", P("missing/x"), "x", ZOO_PERSISTENT, NULL);
    step_get(zh, "get", P("a"));
    struct Stat st;
    int rc = zoo_set2(zh, P("a"), "world", 5, 0, &st);
    out("set %s version=%d", rcname(rc), st.version);
    rc = zoo_set(zh, P("a"), "stale", 5, 0);
    out("set_stale %s", rcname(rc));
    step_get(zh, "get_after_set", P("a"));
    step_get(zh, "get_missing", P("nope"));

    char made[512];
    struct Stat cst;
    rc = zoo_create2(zh, P("a/c1"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, made, sizeof(made), &cst);
    out("create2 %s %s czxid_eq_mzxid=%d version=%d", rcname(rc), rel(made), cst.czxid == cst.mzxid, cst.version);
    out("delete_not_empty %s", rcname(zoo_delete(zh, P("a"), -1)));
    out("delete_bad_version %s", rcname(zoo_delete(zh, P("a/c1"), 5)));
    out("delete %s", rcname(zoo_delete(zh, P("a/c1"), 0)));
    out("exists_deleted %s", rcname(zoo_exists(zh, P("a/c1"), 0, &st)));
    for (int i = 0; i < 3; i++)
        step_create(zh, "create_seq", P("a/s-"), "", ZOO_PERSISTENT_SEQUENTIAL, NULL);
    step_children(zh, "children", P("a"));

    step_create(zh, "create_ephemeral", P("e"), "", ZOO_EPHEMERAL, NULL);
    step_create(zh, "create_under_ephemeral", P("e/c"), "", ZOO_PERSISTENT, NULL);
    step_create(zh, "create_ephemeral_seq", P("es-"), "", ZOO_EPHEMERAL_SEQUENTIAL, NULL);
    rc = zoo_exists(zh, P("e"), 0, &st);
    out("exists_ephemeral %s owner_is_self=%d", rcname(rc), st.ephemeralOwner == zoo_client_id(zh)->client_id);

    step_create(zh, "create_relative", "relative", "", ZOO_PERSISTENT, NULL);
    step_create(zh, "create_ctrl_char", P("a\x01"), "", ZOO_PERSISTENT, NULL);
    step_create(zh, "create_dot", P("."), "", ZOO_PERSISTENT, NULL);

    /* Half a megabyte each way. */
    size_t big = 500000;
    char *data = malloc(big), *back = malloc(big);
    if (!data || !back)
        fatal("out of memory");
    for (size_t i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    step_create(zh, "create_big", P("big"), NULL, ZOO_PERSISTENT, NULL);
    rc = zoo_set(zh, P("big"), data, (int)big, -1);
    int len = (int)big;
    int rc2 = zoo_get(zh, P("big"), 0, back, &len, &st);
    out("big %s %s len=%d same=%d", rcname(rc), rcname(rc2), len, len == (int)big && !memcmp(data, back, big));
    free(data);
    free(back);

    step_children(zh, "zookeeper_children", "/zookeeper");
    close_conn(&c);
}

static void scenario_watch(void)
{
    struct conn c = connect_or_die(), w = connect_or_die();
    zhandle_t *zh = c.zh, *other = w.zh;
    struct Stat st;
    int rc = zoo_wexists(zh, P("w"), watcher, c.q, &st);
    out("wexists_missing %s", rcname(rc));
    step_create(other, "other_create", P("w"), "0", ZOO_PERSISTENT, NULL);
    expect_event(c.q, "event_created");

    char buf[64];
    int len = sizeof(buf);
    rc = zoo_wget(zh, P("w"), watcher, c.q, buf, &len, &st);
    out("wget %s", rcname(rc));
    out("other_set %s", rcname(zoo_set(other, P("w"), "1", 1, -1)));
    expect_event(c.q, "event_changed");
    /* One-shot: this change notifies nobody. */
    out("other_set_again %s", rcname(zoo_set(other, P("w"), "2", 1, -1)));

    struct String_vector sv = {0, NULL};
    rc = zoo_wget_children2(zh, g_root, watcher, c.q, &sv, &st);
    deallocate_String_vector(&sv);
    out("wget_children2 %s", rcname(rc));
    step_create(other, "other_create_child", P("w2"), "", ZOO_PERSISTENT, NULL);
    expect_event(c.q, "event_child");

    rc = zoo_wexists(zh, P("w"), watcher, c.q, &st);
    out("wexists %s", rcname(rc));
    out("other_delete %s", rcname(zoo_delete(other, P("w"), -1)));
    expect_event(c.q, "event_deleted");

    /* A last watch as a barrier: had a one-shot watch fired twice, its event would come first. */
    rc = zoo_wexists(zh, P("barrier"), watcher, c.q, &st);
    out("wexists_barrier %s", rcname(rc));
    step_create(other, "other_create_barrier", P("barrier"), "", ZOO_PERSISTENT, NULL);
    expect_event(c.q, "event_barrier");
    close_conn(&w);
    close_conn(&c);
}

static void print_multi(const char *step, int rc, int n, zoo_op_result_t *res)
{
    out("%s %s", step, rcname(rc));
    for (int i = 0; i < n; i++)
        out("%s_result %d %s", step, i, rcname(res[i].err));
}

static void scenario_multi(void)
{
    struct conn c = connect_or_die();
    zhandle_t *zh = c.zh;
    char p1[512], p2[512];
    struct Stat st;
    zoo_op_t ops[5];
    zoo_op_result_t res[5];
    zoo_create_op_init(&ops[0], P("m1"), "x", 1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1, sizeof(p1));
    zoo_create_op_init(&ops[1], P("m1/c"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2, sizeof(p2));
    zoo_set_op_init(&ops[2], P("m1"), "y", 1, 0, &st);
    zoo_check_op_init(&ops[3], P("m1"), 1);
    zoo_delete_op_init(&ops[4], P("m1/c"), 0);
    int rc = zoo_multi(zh, 5, ops, res);
    print_multi("multi_ok", rc, 5, res);
    if (rc == ZOK)
        out("multi_ok_paths %s %s version=%d", rel(p1), rel(p2), st.version);
    step_get(zh, "get_m1", P("m1"));
    step_children(zh, "children_m1", P("m1"));

    zoo_create_op_init(&ops[0], P("m2"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p1, sizeof(p1));
    zoo_check_op_init(&ops[1], P("m1"), 99);
    zoo_create_op_init(&ops[2], P("m3"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT, p2, sizeof(p2));
    rc = zoo_multi(zh, 3, ops, res);
    print_multi("multi_fail", rc, 3, res);
    out("exists_m2 %s", rcname(zoo_exists(zh, P("m2"), 0, &st)));
    out("exists_m3 %s", rcname(zoo_exists(zh, P("m3"), 0, &st)));

    zoo_delete_op_init(&ops[0], P("m1"), -1);
    zoo_delete_op_init(&ops[1], P("m1"), -1);
    rc = zoo_multi(zh, 2, ops, res);
    print_multi("multi_double_delete", rc, 2, res);
    close_conn(&c);
}

struct auth_wait {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done, rc;
};

static void auth_done(int rc, const void *data)
{
    struct auth_wait *a = (struct auth_wait *)data;
    pthread_mutex_lock(&a->mu);
    a->done = 1;
    a->rc = rc;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

/* zoo_add_auth is asynchronous only: waits for its completion; returns its rc. */
static int add_auth(zhandle_t *zh, const char *scheme, const char *cred)
{
    struct auth_wait a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
    int rc = zoo_add_auth(zh, scheme, cred, (int)strlen(cred), auth_done, &a);
    if (rc != ZOK)
        return rc;
    struct timespec ts;
    deadline_in(&ts, WAIT_MS);
    pthread_mutex_lock(&a.mu);
    while (!a.done)
        if (pthread_cond_timedwait(&a.cv, &a.mu, &ts) == ETIMEDOUT)
            break;
    rc = a.done ? a.rc : ZOPERATIONTIMEOUT;
    pthread_mutex_unlock(&a.mu);
    return rc;
}

static void print_acl(const char *step, zhandle_t *zh, const char *path)
{
    struct ACL_vector acl = {0, NULL};
    struct Stat st;
    int rc = zoo_get_acl(zh, path, &acl, &st);
    if (rc != ZOK) {
        out("%s %s", step, rcname(rc));
        return;
    }
    out("%s %s count=%d aversion=%d", step, rcname(rc), acl.count, st.aversion);
    for (int i = 0; i < acl.count; i++)
        out("%s_entry %d %s %s", step, acl.data[i].perms, acl.data[i].id.scheme, acl.data[i].id.id);
    deallocate_ACL_vector(&acl);
}

static void scenario_acl(void)
{
    struct conn anon = connect_or_die(), user = connect_or_die();
    out("add_auth %s", rcname(add_auth(user.zh, "digest", "user:pw")));
    step_create(user.zh, "create_creator_all", P("priv"), "secret", ZOO_PERSISTENT, &ZOO_CREATOR_ALL_ACL);
    step_get(anon.zh, "anon_get", P("priv"));
    out("anon_set %s", rcname(zoo_set(anon.zh, P("priv"), "x", 1, -1)));
    step_create(anon.zh, "anon_create_child", P("priv/c"), "", ZOO_PERSISTENT, NULL);
    step_get(user.zh, "user_get", P("priv"));
    print_acl("user_get_acl", user.zh, P("priv"));
    print_acl("anon_get_acl", anon.zh, P("priv"));

    step_create(anon.zh, "create_read_only", P("ro"), "v", ZOO_PERSISTENT, &ZOO_READ_ACL_UNSAFE);
    step_get(anon.zh, "ro_get", P("ro"));
    out("ro_set %s", rcname(zoo_set(anon.zh, P("ro"), "x", 1, -1)));
    step_create(anon.zh, "anon_creator_all", P("x"), "", ZOO_PERSISTENT, &ZOO_CREATOR_ALL_ACL);

    out("set_acl %s", rcname(zoo_set_acl(user.zh, P("priv"), 0, &ZOO_OPEN_ACL_UNSAFE)));
    out("set_acl_stale %s", rcname(zoo_set_acl(user.zh, P("priv"), 0, &ZOO_OPEN_ACL_UNSAFE)));
    step_get(anon.zh, "anon_get_after_set_acl", P("priv"));
    print_acl("anon_get_acl_after", anon.zh, P("priv"));

    struct conn bad = connect_or_die();
    out("add_auth_unknown_scheme %s", rcname(add_auth(bad.zh, "nosuchscheme", "x")));
    out("bad_state %s", state_name(zoo_state(bad.zh)));
    close_conn(&bad);
    close_conn(&user);
    close_conn(&anon);
}

static void scenario_session(void)
{
    /* A child process opens the session, makes an ephemeral and exits without closing the
     * session: the connection drops, the session lives on. */
    int fds[2];
    if (pipe(fds) < 0)
        fatal("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        fatal("fork: %s", strerror(errno));
    if (pid == 0) {
        close(fds[0]);
        struct conn c = connect_or_die();
        char made[512];
        int rc = zoo_create(c.zh, P("eph"), "", 0, &ZOO_OPEN_ACL_UNSAFE, ZOO_EPHEMERAL, made, sizeof(made));
        clientid_t cid = *zoo_client_id(c.zh);
        if (rc != ZOK)
            cid.client_id = 0;
        if (write(fds[1], &cid, sizeof(cid)) != (ssize_t)sizeof(cid))
            _exit(3);
        _exit(0); /* no zookeeper_close: the session must outlive us */
    }
    close(fds[1]);
    clientid_t cid;
    ssize_t got = read(fds[0], &cid, sizeof(cid));
    close(fds[0]);
    int status;
    waitpid(pid, &status, 0);
    if (got != (ssize_t)sizeof(cid) || cid.client_id == 0)
        fatal("the child could not create its session and ephemeral");
    out("child_session_made 1");

    int st;
    struct conn r = open_session(&cid, 10000, &st);
    out("resume %s same_session=%d", state_name(st), zoo_client_id(r.zh)->client_id == cid.client_id);
    struct Stat s;
    int rc = zoo_exists(r.zh, P("eph"), 0, &s);
    out("resumed_exists %s owner_is_session=%d", rcname(rc), s.ephemeralOwner == cid.client_id);
    step_create(r.zh, "resumed_create_ephemeral", P("eph2"), "", ZOO_EPHEMERAL, NULL);
    close_conn(&r); /* closes the session: both ephemerals go */

    struct conn v = connect_or_die();
    out("after_close_eph %s", rcname(zoo_exists(v.zh, P("eph"), 0, &s)));
    out("after_close_eph2 %s", rcname(zoo_exists(v.zh, P("eph2"), 0, &s)));
    close_conn(&v);

    /* Resuming the closed session, or one that never existed: expired. */
    struct conn old = open_session(&cid, 10000, &st);
    out("resume_closed %s", st ? state_name(st) : "TIMEOUT");
    close_conn(&old);
    clientid_t bogus;
    memset(&bogus, 0, sizeof(bogus));
    bogus.client_id = 0x7123456789abcdefLL;
    memset(bogus.passwd, 1, sizeof(bogus.passwd));
    struct conn b = open_session(&bogus, 10000, &st);
    out("resume_bogus %s", st ? state_name(st) : "TIMEOUT");
    out("bogus_get %s", rcname(zoo_exists(b.zh, "/", 0, &s)));
    close_conn(&b);
}

static void scenario_failover(void)
{
    struct conn c = connect_or_die();
    clientid_t cid = *zoo_client_id(c.zh);
    step_create(c.zh, "create_ephemeral", P("fo-eph"), "", ZOO_EPHEMERAL, NULL);
    struct sockaddr_storage sa;
    socklen_t salen = sizeof(sa);
    char host[64] = "?";
    if (zookeeper_get_connected_host(c.zh, (struct sockaddr *)&sa, &salen) && sa.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&sa;
        char ip[32];
        inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
        snprintf(host, sizeof(host), "%s:%d", ip, ntohs(in->sin_port));
    }
    out("ready %s", host);
    fflush(stdout);
    char line[64];
    if (!fgets(line, sizeof(line), stdin))
        fatal("no go line on stdin");
    /* the member is gone: the client must find another one within its session timeout */
    int rc = ZCONNECTIONLOSS;
    char made[512];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 600; i++) {
        rc = zoo_create(c.zh, P("fo-after"), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0, made, sizeof(made));
        if (rc != ZCONNECTIONLOSS && rc != ZOPERATIONTIMEOUT && rc != ZINVALIDSTATE)
            break;
        usleep(50000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out("create_after_failover %s", rcname(rc));
    fprintf(stderr, "failover took %.2f s\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
    out("same_session %d", zoo_client_id(c.zh)->client_id == cid.client_id);
    struct Stat st;
    rc = zoo_exists(c.zh, P("fo-eph"), 0, &st);
    out("ephemeral_after_failover %s owner_is_session=%d", rcname(rc), st.ephemeralOwner == cid.client_id);
    out("state %s", state_name(zoo_state(c.zh)));
    close_conn(&c);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s HOST:PORT crud|watch|multi|acl|session ROOT\n", argv[0]);
        return 2;
    }
    g_host = argv[1];
    g_root = argv[3];
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
    zoo_set_log_stream(stderr);
    const char *s = argv[2];
    if (!strcmp(s, "crud"))
        scenario_crud();
    else if (!strcmp(s, "watch"))
        scenario_watch();
    else if (!strcmp(s, "multi"))
        scenario_multi();
    else if (!strcmp(s, "acl"))
        scenario_acl();
    else if (!strcmp(s, "session"))
        scenario_session();
    else if (!strcmp(s, "failover"))
        scenario_failover();
    else {
        fprintf(stderr, "unknown scenario %s\n", s);
        return 2;
    }
    out("done");
    return 0;
}
