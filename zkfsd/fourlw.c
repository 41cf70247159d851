/* The four-letter words (ruok, srvr, stat, mntr, cons, wchs, wchc, wchp, dump, envi, isro,
 * srst, crst), formatted as ZooKeeper 3.8 formats them so monitoring scripts written for
 * ZooKeeper keep working. `conf` and `dirs` are the driver's (it owns the configuration). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <dirent.h>
#include <unistd.h>

#include "common/zerr.h"
#include "zkfsd/server.h"

#define ZKFS_VERSION "3.8.0-zkfs-0.1"

struct text {
    char *p;
    size_t len, cap;
    int oom;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = 1;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap ? t->cap * 2 : 1024;
        while (ncap <= t->len + (size_t)n)
            ncap *= 2;
        char *np = realloc(t->p, ncap);
        if (!np) {
            t->oom = 1;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
}

/* ZooKeeper's DataTree holds the root under "" and "/", and its counts include both; monitoring
 * built on those numbers expects 5 on an empty tree. */
static size_t zk_node_count(const struct server *s) { return tree_node_count(&s->tree) + 1; }

static const char *op_short(int32_t op)
{
    switch (op) {
    case ZOP_CREATE:
    case ZOP_CREATE2:
    case ZOP_CREATETTL:
    case ZOP_CREATECONTAINER: return "CREA";
    case ZOP_DELETE: return "DELE";
    case ZOP_EXISTS: return "EXIS";
    case ZOP_GETDATA: return "GETD";
    case ZOP_SETDATA: return "SETD";
    case ZOP_GETACL: return "GETA";
    case ZOP_SETACL: return "SETA";
    case ZOP_GETCHILDREN:
    case ZOP_GETCHILDREN2: return "GETC";
    case ZOP_SYNC: return "SYNC";
    case ZOP_PING: return "PING";
    case ZOP_MULTI: return "MULT";
    case ZOP_MULTIREAD: return "MLTR";
    case ZOP_SETWATCHES: return "SETW";
    case ZOP_SETWATCHES2: return "STW2";
    case ZOP_CLOSESESSION: return "CLOS";
    case ZOP_ADDWATCH: return "ADDW";
    case ZOP_WHOAMI: return "HOMI";
    case 0: return "NA";
    default: return "OTHR";
    }
}

static void conn_line(struct text *t, const struct zconn *c, int full)
{
    add(t, " /%s[%d](queued=%zu,recved=%" PRIu64 ",sent=%" PRIu64, c->remote, c->ready ? 1 : 0, c->nqueued,
        c->st.packets_received, c->st.packets_sent);
    if (full) {
        int64_t cnt = c->st.lat_count;
        add(t,
            ",sid=0x%" PRIx64 ",lop=%s,est=%" PRId64 ",to=%d,lcxid=0x%x,lzxid=0x%" PRIx64 ",lresp=%" PRId64
            ",llat=%d,minlat=%" PRId64 ",avglat=%" PRId64 ",maxlat=%" PRId64,
            (uint64_t)c->session, op_short(c->st.last_op), c->st.established_ms, c->timeout,
            (uint32_t)c->st.last_cxid, (uint64_t)c->st.last_zxid, c->st.last_response_ms, 0,
            cnt ? c->st.lat_min : 0, cnt ? c->st.lat_sum / cnt : 0, c->st.lat_max);
    }
    add(t, ")\n");
}

/* The ensemble driver's lines (mode, epoch, followers and their lag), or the standalone one. */
static void repl_lines(struct text *t, const struct server *s, int kind, const char *standalone)
{
    if (!s->repl.describe) {
        add(t, "%s", standalone);
        return;
    }
    char buf[4096];
    buf[0] = 0;
    s->repl.describe(s->repl.ctx, kind, buf, sizeof(buf));
    add(t, "%s", buf);
}

static void latency(struct text *t, const struct server *s)
{
    int64_t cnt = (int64_t)s->st.lat_count;
    add(t, "Latency min/avg/max: %" PRId64 "/%.4f/%" PRId64 "\n", cnt ? s->st.lat_min : 0,
        cnt ? (double)s->st.lat_sum / (double)cnt : 0.0, s->st.lat_max);
}

static void srvr(struct text *t, const struct server *s, int with_clients)
{
    add(t, "Zookeeper version: %s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
    if (with_clients) {
        add(t, "Clients:\n");
        for (const struct zconn *c = s->conns; c; c = c->next)
            conn_line(t, c, 0);
        add(t, "\n");
    }
    latency(t, s);
    add(t, "Received: %" PRIu64 "\n", s->st.packets_received);
    add(t, "Sent: %" PRIu64 "\n", s->st.packets_sent);
    add(t, "Connections: %zu\n", s->nconns);
    add(t, "Outstanding: %" PRIu64 "\n", s->st.outstanding);
    add(t, "Zxid: 0x%" PRIx64 "\n", (uint64_t)server_last_zxid(s));
    repl_lines(t, s, 0, "Mode: standalone\n");
    add(t, "Node count: %zu\n", zk_node_count(s));
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 3; /* ".", ".." and the directory's own fd */
}

static void mntr(struct text *t, struct server *s)
{
    size_t wtotal = watch_count(s->watches);
    size_t ephemerals = 0;
    struct hmap_slot *sl;
    for (size_t i = 0; hmap_next(&s->tree.ephemerals, &i, &sl);)
        ephemerals += ((struct hmap *)sl->val)->len;
    struct rlimit rl = {0};
    getrlimit(RLIMIT_NOFILE, &rl);
    int64_t cnt = (int64_t)s->st.lat_count;
    add(t, "zk_version\t%s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
    repl_lines(t, s, 1, "zk_server_state\tstandalone\n");
    add(t, "zk_avg_latency\t%.4f\n", cnt ? (double)s->st.lat_sum / (double)cnt : 0.0);
    add(t, "zk_max_latency\t%" PRId64 "\n", s->st.lat_max);
    add(t, "zk_min_latency\t%" PRId64 "\n", cnt ? s->st.lat_min : 0);
    add(t, "zk_packets_received\t%" PRIu64 "\n", s->st.packets_received);
    add(t, "zk_packets_sent\t%" PRIu64 "\n", s->st.packets_sent);
    add(t, "zk_num_alive_connections\t%zu\n", s->nconns);
    add(t, "zk_outstanding_requests\t%" PRIu64 "\n", s->st.outstanding);
    add(t, "zk_znode_count\t%zu\n", zk_node_count(s));
    add(t, "zk_watch_count\t%zu\n", wtotal);
    add(t, "zk_ephemerals_count\t%zu\n", ephemerals);
    add(t, "zk_approximate_data_size\t%" PRId64 "\n", s->tree.data_bytes);
    add(t, "zk_open_file_descriptor_count\t%d\n", count_fds());
    add(t, "zk_max_file_descriptor_count\t%llu\n", (unsigned long long)rl.rlim_cur);
    add(t, "zk_global_sessions\t%zu\n", sess_count(s->sessions));
    add(t, "zk_bad_frames\t%" PRIu64 "\n", s->st.bad_frames);
    add(t, "zk_connections_total\t%" PRIu64 "\n", s->st.connections_total);
    add(t, "zk_last_zxid\t0x%" PRIx64 "\n", (uint64_t)server_last_zxid(s));
}

struct wctx {
    struct text *t;
    const void *last;
};

static void wchc_one(void *ctx, void *w, const char *path)
{
    struct wctx *x = ctx;
    const struct zconn *c = w;
    if (x->last != w)
        add(x->t, "0x%" PRIx64 "\n", (uint64_t)c->session);
    x->last = w;
    add(x->t, "\t%s\n", path);
}

static void wchp_one(void *ctx, const char *path, void *w)
{
    struct wctx *x = ctx;
    const struct zconn *c = w;
    if (x->last != (const void *)path)
        add(x->t, "%s\n", path);
    x->last = path;
    add(x->t, "\t0x%" PRIx64 "\n", (uint64_t)c->session);
}

struct dctx {
    struct text *t;
};

static void dump_session(void *ctx, const struct zk_session *se)
{
    struct dctx *d = ctx;
    add(d->t, "0x%" PRIx64 "\t%dms\t%s\n", (uint64_t)se->id, se->timeout_ms, se->closing ? "closing" : "active");
}

static void envi(struct text *t)
{
    struct utsname u;
    char host[256] = "unknown", cwd[4096] = "";
    uname(&u);
    gethostname(host, sizeof(host));
    if (!getcwd(cwd, sizeof(cwd)))
        cwd[0] = 0;
    const char *user = getenv("USER");
    add(t, "Environment:\n");
    add(t, "zookeeper.version=%s, built on %s %s UTC\n", ZKFS_VERSION, __DATE__, __TIME__);
    add(t, "host.name=%s\n", host);
    add(t, "java.version=none (zkfsd is written in C)\n");
    add(t, "os.name=%s\n", u.sysname);
    add(t, "os.arch=%s\n", u.machine);
    add(t, "os.version=%s\n", u.release);
    add(t, "user.name=%s\n", user ? user : "unknown");
    add(t, "user.dir=%s\n", cwd);
    add(t, "process.id=%d\n", (int)getpid());
}

char *server_4lw(struct server *s, const char *cmd, const char *config_text)
{
    struct text t = {0};
    if (s->mode == SRV_LOOKING && (!strcmp(cmd, "srvr") || !strcmp(cmd, "stat") || !strcmp(cmd, "mntr") ||
                                   !strcmp(cmd, "isro") || !strcmp(cmd, "cons"))) {
        /* ZooKeeper's words when the server is not running */
        add(&t, !strcmp(cmd, "isro") ? "null" : "This ZooKeeper instance is not currently serving requests\n");
    } else if (!strcmp(cmd, "ruok")) {
        add(&t, "imok");
    } else if (!strcmp(cmd, "srvr")) {
        srvr(&t, s, 0);
    } else if (!strcmp(cmd, "stat")) {
        srvr(&t, s, 1);
    } else if (!strcmp(cmd, "mntr")) {
        mntr(&t, s);
    } else if (!strcmp(cmd, "isro")) {
        add(&t, "rw");
    } else if (!strcmp(cmd, "cons")) {
        for (const struct zconn *c = s->conns; c; c = c->next)
            conn_line(&t, c, 1);
        add(&t, "\n");
    } else if (!strcmp(cmd, "crst")) {
        for (struct zconn *c = s->conns; c; c = c->next) {
            int64_t est = c->st.established_ms;
            memset(&c->st, 0, sizeof(c->st));
            c->st.established_ms = est;
            c->st.lat_min = INT64_MAX;
        }
        add(&t, "Connection stats reset.\n");
    } else if (!strcmp(cmd, "srst")) {
        s->st.packets_received = s->st.packets_sent = 0;
        s->st.lat_min = INT64_MAX;
        s->st.lat_max = s->st.lat_sum = s->st.lat_count = 0;
        add(&t, "Server stats reset.\n");
    } else if (!strcmp(cmd, "wchs")) {
        size_t wconns = 0, wpaths = 0, wtotal = 0;
        watch_stats(s->watches, &wconns, &wpaths, &wtotal);
        add(&t, "%zu connections watching %zu paths\nTotal watches:%zu\n", wconns, wpaths, wtotal);
    } else if (!strcmp(cmd, "wchc")) {
        struct wctx x = {&t, NULL};
        watch_foreach_watcher(s->watches, wchc_one, &x);
    } else if (!strcmp(cmd, "wchp")) {
        struct wctx x = {&t, NULL};
        watch_foreach_path(s->watches, wchp_one, &x);
    } else if (!strcmp(cmd, "dump")) {
        struct dctx d = {&t};
        add(&t, "SessionTracker dump:\nGlobal Sessions(%zu):\n", sess_count(s->sessions));
        sess_foreach(s->sessions, dump_session, &d);
        add(&t, "ephemeral nodes dump:\nSessions with Ephemerals (%zu):\n", s->tree.ephemerals.len);
        struct hmap_slot *sl, *pl;
        for (size_t i = 0; hmap_next(&s->tree.ephemerals, &i, &sl);) {
            int64_t id;
            memcpy(&id, sl->key, sizeof(id));
            add(&t, "0x%" PRIx64 ":\n", (uint64_t)id);
            for (size_t j = 0; hmap_next(sl->val, &j, &pl);)
                add(&t, "\t%s\n", pl->key);
        }
        add(&t, "Connections dump:\nConnections Sets (%zu):\n", s->nconns);
    } else if (!strcmp(cmd, "envi")) {
        envi(&t);
    } else if (!strcmp(cmd, "conf") && config_text) {
        add(&t, "%s", config_text);
    } else {
        free(t.p);
        return NULL;
    }
    if (t.oom) {
        free(t.p);
        return NULL;
    }
    return t.p;
}
