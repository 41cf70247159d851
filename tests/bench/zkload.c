/* zkload: a load generator for ZooKeeper-compatible servers, driven through Apache
 * ZooKeeper's own C client (asynchronous API), so that zkfsd and Apache ZooKeeper are
 * measured by exactly the same client code. It opens N sessions, keeps K requests in
 * flight on each (K = 1: one at a time; K = 64: pipelined), measures throughput and
 * latency percentiles with the monotonic clock, and prints one machine-readable line:
 *
 *   op=get clients=4 outstanding=64 size=100 ops=812345 errors=0 secs=3.000 \
 *   ops_per_sec=270781.7 p50_us=812.0 p99_us=2101.0 p999_us=3307.0 max_us=9120.4 \
 *   mean_us=901.2 all_ops=1083010 status=ok
 *
 * ops counts the successful operations of the measured phase, all_ops those of the whole
 * run including warm-up and drain (to divide a server's CPU time by).
 * Errors are counted, never retried silently nor ignored: the line then says
 * status=errors and lists the codes (error_codes=ZCONNECTIONLOSS:3,...), and the exit
 * status is 1. Setup failures (cannot connect, cannot create the working nodes) print
 * status=failed with a reason and exit 2. Usage errors exit 64.
 *
 * Threading: the C client runs an I/O thread and a completion thread per handle. Every
 * completion of a client runs on that client's completion thread, which immediately
 * issues the next request with the same slot; so per-client statistics have a single
 * writer, and the main thread reads them only after the client's in-flight count has
 * dropped to zero (release/acquire on that counter). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The synchronous calls used for setup exist only in the multi-threaded library, which
 * the Makefile links (-lzookeeper_mt); its header hides them unless THREADED is set. */
#ifndef THREADED
#define THREADED
#endif
#include <zookeeper.h>

enum op_kind { OP_CREATE = 0, OP_GET, OP_SET, OP_MIXED };
static const char *const op_names[] = {"create", "get", "set", "mixed"};

/* Phases of a run. Completions record statistics only in MEASURE; they stop issuing new
 * requests from STOP on; after CLOSING (drain timed out) they touch nothing but the
 * in-flight counter, because their requests were already counted as stuck. */
enum phase { PH_WARMUP = 0, PH_MEASURE, PH_STOP, PH_CLOSING };

/* A log-linear latency histogram in nanoseconds: exact below 64 ns, then 64 buckets per
 * power of two (relative error under 1.6%), covering the whole uint64 range. */
#define HIST_SUB 64
#define HIST_BUCKETS (HIST_SUB * 58 + HIST_SUB)

struct hist {
    uint64_t count;
    uint64_t sum_ns;
    uint64_t max_ns;
    uint64_t b[HIST_BUCKETS];
};

/* Error codes are small negative ints (ZOK..-127) plus our own check failures; any
 * code outside the table is folded into the last slot and reported as "other". */
#define ERR_SLOTS 160
#define ERR_BADDATA (-150) /* get returned a value whose length differs from -d */
#define ERR_STUCK (-151)   /* no reply before the drain deadline */

struct client;

/* One in-flight request; each client owns `outstanding` of them and reuses each slot
 * for the next request as soon as its reply arrives. */
struct slot {
    struct client *c;
    uint64_t t0_ns;
    int op; /* OP_CREATE, OP_GET or OP_SET (mixed is decided per request) */
};

struct client {
    int idx;
    zhandle_t *zh;
    char dir[512]; /* this client's working node */

    pthread_mutex_t mu; /* session state and error counts */
    pthread_cond_t cv;
    int state;          /* last session state seen by the watcher */
    atomic_int expired; /* the session expired or authentication failed */

    atomic_uint_fast64_t seq;     /* requests issued, names creates and picks keys */
    atomic_int inflight;          /* requests queued and not yet completed */
    atomic_uint_fast64_t quota;   /* op-count mode: requests this client may still issue */
    atomic_uint_fast64_t last_ns; /* completion time of the latest counted op */

    /* Written by the completion thread only. */
    uint64_t ok;     /* successful operations in the measured phase */
    uint64_t all_ok; /* successful operations in every phase (for CPU per operation) */
    struct hist h;

    /* Under mu: a request the library refuses to queue is counted by the issuing
     * thread, which may be the main thread during the first burst. */
    uint64_t errors;
    uint64_t err_count[ERR_SLOTS];

    struct slot *slots;
};

struct opts {
    const char *server;
    enum op_kind op;
    int clients;
    int outstanding;
    int size;
    double duration; /* seconds; used unless total_ops > 0 */
    uint64_t total_ops;
    double warmup;
    const char *base;
    int keys;
    int read_pct;
    int timeout_ms;
    int cleanup;
    int verbose;
};

static struct opts O = {
    .server = "127.0.0.1:2181",
    .op = OP_GET,
    .clients = 1,
    .outstanding = 1,
    .size = 100,
    .duration = 5.0,
    .total_ops = 0,
    .warmup = 0.0,
    .base = "/zkload",
    .keys = 16,
    .read_pct = 90,
    .timeout_ms = 30000,
    .cleanup = 0,
    .verbose = 0,
};

static atomic_int g_phase = PH_WARMUP;
static char *g_data;  /* the payload of creates and sets, O.size bytes */
static struct client *g_clients;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u),
                          .tv_nsec = (long)(ns % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* ---- histogram ---- */

static int hist_index(uint64_t v)
{
    if (v < HIST_SUB)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int shift = msb - 6; /* v >> shift lies in [64, 128) */
    return HIST_SUB * shift + (int)(v >> shift);
}

/* The midpoint of bucket i, the best single estimate of the values it holds. */
static double hist_value(int i)
{
    if (i < 2 * HIST_SUB)
        return (double)i;
    int shift = i / HIST_SUB - 1;
    uint64_t lower = (uint64_t)(i - HIST_SUB * shift) << shift;
    return (double)lower + (double)((uint64_t)1 << shift) / 2.0;
}

static void hist_add(struct hist *h, uint64_t v)
{
    int i = hist_index(v);
    if (i >= HIST_BUCKETS)
        i = HIST_BUCKETS - 1;
    h->b[i]++;
    h->count++;
    h->sum_ns += v;
    if (v > h->max_ns)
        h->max_ns = v;
}

static void hist_merge(struct hist *dst, const struct hist *src)
{
    for (int i = 0; i < HIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    dst->sum_ns += src->sum_ns;
    if (src->max_ns > dst->max_ns)
        dst->max_ns = src->max_ns;
}

/* The value at quantile q (0 < q <= 1) in nanoseconds, 0 for an empty histogram. */
static double hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0.0;
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            double v = hist_value(i);
            return v > (double)h->max_ns ? (double)h->max_ns : v;
        }
    }
    return (double)h->max_ns;
}

/* ---- errors ---- */

static int err_slot(int rc)
{
    int s = -rc;
    return (s > 0 && s < ERR_SLOTS) ? s : 0;
}

static const char *err_name(int rc)
{
    switch (rc) {
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
    case ZSESSIONMOVED: return "ZSESSIONMOVED";
    case ZNOTREADONLY: return "ZNOTREADONLY";
    case ZTHROTTLEDOP: return "ZTHROTTLEDOP";
    case ERR_BADDATA: return "BADDATA";
    case ERR_STUCK: return "STUCK";
    default: return NULL;
    }
}

static void count_error(struct client *c, int rc)
{
    pthread_mutex_lock(&c->mu);
    c->errors++;
    c->err_count[err_slot(rc)]++;
    pthread_mutex_unlock(&c->mu);
    if (O.verbose)
        fprintf(stderr, "zkload: client %d: error %d (%s)\n", c->idx, rc, zerror(rc));
}

/* ---- the request loop ---- */

static void on_create(int rc, const char *value, const void *data);
static void on_get(int rc, const char *value, int value_len, const struct Stat *stat,
                   const void *data);
static void on_set(int rc, const struct Stat *stat, const void *data);

/* A deterministic mix of the request number, so that mixed workloads choose get or set
 * without shared random state between the main and completion threads. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Issues the next request on slot s. Returns 1 if a request is now in flight, 0 if the
 * client is done (stop phase, quota used up, or the library refused the request, which
 * is counted as an error). Called from the main thread for the first requests and from
 * the client's completion thread afterwards. */
static int issue(struct slot *s)
{
    struct client *c = s->c;
    if (atomic_load(&g_phase) >= PH_STOP || atomic_load(&c->expired))
        return 0;
    if (O.total_ops > 0) {
        uint_fast64_t q = atomic_load(&c->quota);
        do {
            if (q == 0)
                return 0;
        } while (!atomic_compare_exchange_weak(&c->quota, &q, q - 1));
    }
    uint64_t n = atomic_fetch_add(&c->seq, 1);
    int op = (int)O.op;
    if (op == OP_MIXED)
        op = (mix64(n) % 100) < (uint64_t)O.read_pct ? OP_GET : OP_SET;
    s->op = op;

    char path[600];
    int rc;
    atomic_fetch_add(&c->inflight, 1);
    s->t0_ns = now_ns();
    switch (op) {
    case OP_CREATE:
        snprintf(path, sizeof path, "%s/n%" PRIu64, c->dir, n);
        rc = zoo_acreate(c->zh, path, g_data, O.size, &ZOO_OPEN_ACL_UNSAFE, 0, on_create, s);
        break;
    case OP_GET:
        snprintf(path, sizeof path, "%s/k%" PRIu64, c->dir, n % (uint64_t)O.keys);
        rc = zoo_aget(c->zh, path, 0, on_get, s);
        break;
    default:
        snprintf(path, sizeof path, "%s/k%" PRIu64, c->dir, n % (uint64_t)O.keys);
        rc = zoo_aset(c->zh, path, g_data, O.size, -1, on_set, s);
        break;
    }
    if (rc != ZOK) {
        /* The library calls no completion for a request it did not queue. */
        count_error(c, rc);
        if (rc == ZINVALIDSTATE)
            atomic_store(&c->expired, 1);
        atomic_fetch_sub_explicit(&c->inflight, 1, memory_order_release);
        return 0;
    }
    return 1;
}

/* Common tail of every completion: record, then reuse the slot. */
static void complete(struct slot *s, int rc)
{
    struct client *c = s->c;
    uint64_t t1 = now_ns();
    int ph = atomic_load(&g_phase);
    if (ph != PH_CLOSING) {
        if (rc != ZOK) {
            count_error(c, rc);
            if (rc == ZSESSIONEXPIRED || rc == ZAUTHFAILED || rc == ZINVALIDSTATE)
                atomic_store(&c->expired, 1);
        } else {
            c->all_ok++;
        }
        if (rc == ZOK && ph == PH_MEASURE) {
            c->ok++;
            hist_add(&c->h, t1 - s->t0_ns);
            atomic_store(&c->last_ns, t1);
        }
        if (ph < PH_STOP) {
            /* While disconnected the library fails queued requests at once; without a
             * pause this would spin, burning the CPU the server under test needs. */
            if (rc != ZOK)
                sleep_ns(10000000);
            issue(s);
        }
    }
    atomic_fetch_sub_explicit(&c->inflight, 1, memory_order_release);
}

static void on_create(int rc, const char *value, const void *data)
{
    (void)value;
    complete((struct slot *)data, rc);
}

static void on_get(int rc, const char *value, int value_len, const struct Stat *stat,
                   const void *data)
{
    (void)value;
    (void)stat;
    if (rc == ZOK && value_len != O.size)
        rc = ERR_BADDATA;
    complete((struct slot *)data, rc);
}

static void on_set(int rc, const struct Stat *stat, const void *data)
{
    (void)stat;
    complete((struct slot *)data, rc);
}

/* ---- sessions and setup ---- */

static void watcher(zhandle_t *zh, int type, int state, const char *path, void *ctx)
{
    (void)zh;
    (void)path;
    struct client *c = ctx;
    if (type != ZOO_SESSION_EVENT || c == NULL)
        return;
    pthread_mutex_lock(&c->mu);
    c->state = state;
    if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE)
        atomic_store(&c->expired, 1);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until c's session is connected. Returns 0, or -1 after timeout_ms or expiry. */
static int wait_connected(struct client *c, int timeout_ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&c->mu);
    while (c->state != ZOO_CONNECTED_STATE && !atomic_load(&c->expired) && rc == 0)
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &dl);
    int ok = c->state == ZOO_CONNECTED_STATE;
    pthread_mutex_unlock(&c->mu);
    return ok ? 0 : -1;
}

/* Creates path and its missing ancestors (persistent, empty). 0 or the ZooKeeper error. */
static int create_all(zhandle_t *zh, const char *path)
{
    char buf[512];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof buf || path[0] != '/')
        return ZBADARGUMENTS;
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        int rc = zoo_create(zh, buf, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        buf[i] = saved;
        if (rc != ZOK && rc != ZNODEEXISTS)
            return rc;
    }
    return ZOK;
}

/* Creates the client's working node and, for reads and writes, its keys with -d bytes
 * of data. Synchronous: setup is not measured. Returns 0 or the ZooKeeper error. */
static int setup_client(struct client *c)
{
    int rc = zoo_create(c->zh, c->dir, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
    if (rc != ZOK)
        return rc;
    if (O.op == OP_CREATE)
        return ZOK;
    for (int k = 0; k < O.keys; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/k%d", c->dir, k);
        rc = zoo_create(c->zh, path, g_data, O.size, &ZOO_OPEN_ACL_UNSAFE, 0, NULL, 0);
        if (rc != ZOK)
            return rc;
    }
    return ZOK;
}

/* Cleanup deletes are pipelined like the load itself; a shared counter and condvar are
 * enough since cleanup is not measured. */
static pthread_mutex_t del_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t del_cv = PTHREAD_COND_INITIALIZER;
static int del_inflight;
static int del_errors;

static void on_delete(int rc, const void *data)
{
    (void)data;
    pthread_mutex_lock(&del_mu);
    del_inflight--;
    if (rc != ZOK && rc != ZNONODE)
        del_errors++;
    pthread_cond_broadcast(&del_cv);
    pthread_mutex_unlock(&del_mu);
}

/* Deletes the client's working node and everything under it. Returns the number of
 * deletes that failed. */
static int cleanup_client(struct client *c)
{
    struct String_vector kids = {0, NULL};
    int rc = zoo_get_children(c->zh, c->dir, 0, &kids);
    if (rc == ZNONODE)
        return 0;
    if (rc != ZOK)
        return 1;
    del_errors = 0;
    for (int i = 0; i < kids.count; i++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", c->dir, kids.data[i]);
        pthread_mutex_lock(&del_mu);
        while (del_inflight >= 256)
            pthread_cond_wait(&del_cv, &del_mu);
        del_inflight++;
        pthread_mutex_unlock(&del_mu);
        if (zoo_adelete(c->zh, path, -1, on_delete, NULL) != ZOK) {
            pthread_mutex_lock(&del_mu);
            del_inflight--;
            del_errors++;
            pthread_mutex_unlock(&del_mu);
        }
    }
    deallocate_String_vector(&kids);
    pthread_mutex_lock(&del_mu);
    while (del_inflight > 0)
        pthread_cond_wait(&del_cv, &del_mu);
    int errs = del_errors;
    pthread_mutex_unlock(&del_mu);
    rc = zoo_delete(c->zh, c->dir, -1);
    if (rc != ZOK && rc != ZNONODE)
        errs++;
    return errs;
}

/* ---- options ---- */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: zkload [options]\n"
        "  -s, --server HOSTS       connect string (default 127.0.0.1:2181)\n"
        "  -o, --op OP              create | get | set | mixed (default get)\n"
        "  -c, --clients N          concurrent sessions, each its own handle (default 1)\n"
        "  -n, --outstanding N      requests in flight per session (default 1)\n"
        "  -d, --size BYTES         data size of creates/sets and of the read keys (default 100)\n"
        "  -t, --duration SECS      measured time (default 5)\n"
        "  -N, --ops N              run exactly N operations in total instead of -t\n"
        "  -W, --warmup SECS        unmeasured load before measuring (duration mode only)\n"
        "  -p, --path PATH          base path; each session works under PATH/<pid>-c<i>\n"
        "                           (default /zkload)\n"
        "  -k, --keys N             nodes per session read/written by get/set/mixed (default 16)\n"
        "  -r, --read-pct P         mixed: percentage of gets, the rest are sets (default 90)\n"
        "  -T, --timeout MS         session timeout (default 30000)\n"
        "  -x, --cleanup            delete the working nodes afterwards\n"
        "  -v, --verbose            print each error and the client library's warnings\n"
        "Prints one line: op= clients= outstanding= size= ops= errors= secs= ops_per_sec=\n"
        "p50_us= p99_us= p999_us= max_us= mean_us= all_ops= status=ok|errors|failed [...].\n"
        "Exit status: 0 ok, 1 errors during the run, 2 setup failed, 64 bad usage.\n");
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_secs(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv)
{
    static const struct option lo[] = {
        {"server", required_argument, 0, 's'},  {"op", required_argument, 0, 'o'},
        {"clients", required_argument, 0, 'c'}, {"outstanding", required_argument, 0, 'n'},
        {"size", required_argument, 0, 'd'},    {"duration", required_argument, 0, 't'},
        {"ops", required_argument, 0, 'N'},     {"warmup", required_argument, 0, 'W'},
        {"path", required_argument, 0, 'p'},    {"keys", required_argument, 0, 'k'},
        {"read-pct", required_argument, 0, 'r'}, {"timeout", required_argument, 0, 'T'},
        {"cleanup", no_argument, 0, 'x'},       {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},          {0, 0, 0, 0},
    };
    int ch;
    long v;
    while ((ch = getopt_long(argc, argv, "s:o:c:n:d:t:N:W:p:k:r:T:xvh", lo, NULL)) != -1) {
        switch (ch) {
        case 's': O.server = optarg; break;
        case 'o': {
            int found = 0;
            for (int i = 0; i < 4; i++)
                if (strcmp(optarg, op_names[i]) == 0) {
                    O.op = (enum op_kind)i;
                    found = 1;
                }
            if (!found) {
                fprintf(stderr, "zkload: unknown op '%s'\n", optarg);
                return -1;
            }
            break;
        }
        case 'c':
            if (parse_long(optarg, 1, 1024, &v) < 0)
                goto bad;
            O.clients = (int)v;
            break;
        case 'n':
            if (parse_long(optarg, 1, 65536, &v) < 0)
                goto bad;
            O.outstanding = (int)v;
            break;
        case 'd':
            /* jute.maxbuffer is 1,048,575 bytes for the whole packet; leave room for
             * the header and path so the server, not our framing, decides. */
            if (parse_long(optarg, 0, 1048575, &v) < 0)
                goto bad;
            O.size = (int)v;
            break;
        case 't':
            if (parse_secs(optarg, 0.001, 86400.0, &O.duration) < 0)
                goto bad;
            break;
        case 'N':
            if (parse_long(optarg, 1, LONG_MAX, &v) < 0)
                goto bad;
            O.total_ops = (uint64_t)v;
            break;
        case 'W':
            if (parse_secs(optarg, 0.0, 3600.0, &O.warmup) < 0)
                goto bad;
            break;
        case 'p': O.base = optarg; break;
        case 'k':
            if (parse_long(optarg, 1, 1000000, &v) < 0)
                goto bad;
            O.keys = (int)v;
            break;
        case 'r':
            if (parse_long(optarg, 0, 100, &v) < 0)
                goto bad;
            O.read_pct = (int)v;
            break;
        case 'T':
            if (parse_long(optarg, 1, 3600000, &v) < 0)
                goto bad;
            O.timeout_ms = (int)v;
            break;
        case 'x': O.cleanup = 1; break;
        case 'v': O.verbose = 1; break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
        continue;
    bad:
        fprintf(stderr, "zkload: bad value '%s' for -%c\n", optarg, ch);
        return -1;
    }
    if (optind != argc) {
        fprintf(stderr, "zkload: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    size_t bl = strlen(O.base);
    if (bl < 2 || bl > 400 || O.base[0] != '/' || O.base[bl - 1] == '/') {
        fprintf(stderr, "zkload: base path must be absolute, not /, at most 400 bytes, "
                        "without a trailing slash\n");
        return -1;
    }
    if (O.total_ops > 0 && O.warmup > 0) {
        fprintf(stderr, "zkload: -W applies to duration mode only\n");
        return -1;
    }
    return 0;
}

/* ---- report ---- */

static void print_header(void)
{
    printf("op=%s clients=%d outstanding=%d size=%d", op_names[O.op], O.clients,
           O.outstanding, O.size);
    if (O.op == OP_MIXED)
        printf(" read_pct=%d", O.read_pct);
}

static void print_failed(const char *reason, int rc)
{
    print_header();
    printf(" ops=0 errors=1 secs=0 ops_per_sec=0 status=failed reason=%s", reason);
    if (rc != ZOK) {
        const char *n = err_name(rc);
        if (n)
            printf(" error_codes=%s:1", n);
        else
            printf(" error_codes=%d:1", rc);
    }
    printf("\n");
    fflush(stdout);
}

/* Prints the result line; returns the number of errors it reported. */
static uint64_t print_report(double secs, uint64_t stuck)
{
    struct hist *h = calloc(1, sizeof *h);
    uint64_t ok = 0, all_ok = 0, errors = stuck;
    uint64_t errc[ERR_SLOTS] = {0};
    if (h == NULL) {
        print_failed("out_of_memory", ZOK);
        return 1;
    }
    for (int i = 0; i < O.clients; i++) {
        struct client *c = &g_clients[i];
        hist_merge(h, &c->h);
        ok += c->ok;
        all_ok += c->all_ok;
        pthread_mutex_lock(&c->mu);
        errors += c->errors;
        for (int j = 0; j < ERR_SLOTS; j++)
            errc[j] += c->err_count[j];
        pthread_mutex_unlock(&c->mu);
    }
    errc[err_slot(ERR_STUCK)] += stuck;
    double mean = h->count ? (double)h->sum_ns / (double)h->count : 0.0;
    print_header();
    printf(" ops=%" PRIu64 " errors=%" PRIu64 " secs=%.3f ops_per_sec=%.1f"
           " p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f"
           " all_ops=%" PRIu64 " status=%s",
           ok, errors, secs, secs > 0 ? (double)ok / secs : 0.0,
           hist_quantile(h, 0.50) / 1000.0, hist_quantile(h, 0.99) / 1000.0,
           hist_quantile(h, 0.999) / 1000.0, (double)h->max_ns / 1000.0, mean / 1000.0,
           all_ok, errors ? "errors" : "ok");
    if (errors) {
        const char *sep = " error_codes=";
        for (int j = 0; j < ERR_SLOTS; j++) {
            if (errc[j] == 0)
                continue;
            const char *n = j == 0 ? "other" : err_name(-j);
            if (n)
                printf("%s%s:%" PRIu64, sep, n, errc[j]);
            else
                printf("%s%d:%" PRIu64, sep, -j, errc[j]);
            sep = ",";
        }
    }
    printf("\n");
    fflush(stdout);
    free(h);
    return errors;
}

/* ---- main ---- */

static int all_idle(void)
{
    for (int i = 0; i < O.clients; i++)
        if (atomic_load_explicit(&g_clients[i].inflight, memory_order_acquire) != 0)
            return 0;
    return 1;
}

static uint64_t total_inflight(void)
{
    uint64_t n = 0;
    for (int i = 0; i < O.clients; i++) {
        int f = atomic_load_explicit(&g_clients[i].inflight, memory_order_acquire);
        n += f > 0 ? (uint64_t)f : 0;
    }
    return n;
}

int main(int argc, char **argv)
{
    int status = 2;
    int nclients_init = 0;

    if (parse_opts(argc, argv) < 0)
        return 64;
    zoo_set_debug_level(O.verbose ? ZOO_LOG_LEVEL_WARN : ZOO_LOG_LEVEL_ERROR);

    g_data = malloc(O.size > 0 ? (size_t)O.size : 1);
    g_clients = calloc((size_t)O.clients, sizeof *g_clients);
    if (g_data == NULL || g_clients == NULL) {
        print_failed("out_of_memory", ZOK);
        goto out;
    }
    for (int i = 0; i < O.size; i++)
        g_data[i] = (char)('a' + i % 26);

    /* Connect every session first, so that the load starts on all of them at once. */
    for (int i = 0; i < O.clients; i++) {
        struct client *c = &g_clients[i];
        c->idx = i;
        pthread_mutex_init(&c->mu, NULL);
        pthread_cond_init(&c->cv, NULL);
        c->state = 0;
        snprintf(c->dir, sizeof c->dir, "%s/%ld-c%d", O.base, (long)getpid(), i);
        c->slots = calloc((size_t)O.outstanding, sizeof *c->slots);
        if (c->slots == NULL) {
            print_failed("out_of_memory", ZOK);
            goto out;
        }
        nclients_init++;
        c->zh = zookeeper_init(O.server, watcher, O.timeout_ms, NULL, c, 0);
        if (c->zh == NULL) {
            fprintf(stderr, "zkload: zookeeper_init(%s): %s\n", O.server, strerror(errno));
            print_failed("init", ZOK);
            goto out;
        }
        /* By default the library resolves the connect string again on every turn of its
         * I/O loop (getaddrinfo, a netlink dump, /etc/hosts reads): that would make the
         * client, not the server, the bottleneck. Resolve once, at init. */
        zoo_set_servers_resolution_delay(c->zh, -1);
    }
    for (int i = 0; i < O.clients; i++) {
        if (wait_connected(&g_clients[i], 15000) < 0) {
            fprintf(stderr, "zkload: session %d did not connect to %s\n", i, O.server);
            print_failed("connect", ZCONNECTIONLOSS);
            goto out;
        }
    }
    int rc = create_all(g_clients[0].zh, O.base);
    if (rc != ZOK) {
        fprintf(stderr, "zkload: cannot create %s: %s\n", O.base, zerror(rc));
        print_failed("setup", rc);
        goto out;
    }
    for (int i = 0; i < O.clients; i++) {
        rc = setup_client(&g_clients[i]);
        if (rc != ZOK) {
            fprintf(stderr, "zkload: cannot set up %s: %s\n", g_clients[i].dir, zerror(rc));
            print_failed("setup", rc);
            goto out;
        }
    }

    /* Quotas: the total split evenly, the remainder to the first sessions. */
    if (O.total_ops > 0)
        for (int i = 0; i < O.clients; i++)
            atomic_store(&g_clients[i].quota,
                         O.total_ops / (uint64_t)O.clients +
                             ((uint64_t)i < O.total_ops % (uint64_t)O.clients ? 1 : 0));

    atomic_store(&g_phase, O.warmup > 0 ? PH_WARMUP : PH_MEASURE);
    uint64_t t_start = now_ns();
    for (int i = 0; i < O.clients; i++) {
        struct client *c = &g_clients[i];
        for (int j = 0; j < O.outstanding; j++) {
            c->slots[j].c = c;
            if (!issue(&c->slots[j]))
                break;
        }
    }
    if (O.warmup > 0) {
        sleep_ns((uint64_t)(O.warmup * 1e9));
        t_start = now_ns();
        atomic_store(&g_phase, PH_MEASURE);
    }

    uint64_t t_end;
    /* A run that makes no progress for this long is declared stuck. */
    uint64_t stall_ns = (uint64_t)O.timeout_ms * 2000000u + 5000000000u;
    if (O.total_ops == 0) {
        sleep_ns((uint64_t)(O.duration * 1e9));
        atomic_store(&g_phase, PH_STOP);
        t_end = now_ns();
    } else {
        /* Op-count mode ends at the last counted completion; poll coarsely, the end
         * time itself comes from the completions. */
        uint64_t last_progress = now_ns(), last_done = 0;
        while (!all_idle()) {
            sleep_ns(2000000);
            uint64_t done = 0;
            for (int i = 0; i < O.clients; i++)
                done += atomic_load(&g_clients[i].seq);
            uint64_t t = now_ns();
            if (done != last_done) {
                last_done = done;
                last_progress = t;
            } else if (t - last_progress > stall_ns) {
                break;
            }
        }
        atomic_store(&g_phase, PH_STOP);
        t_end = t_start;
        for (int i = 0; i < O.clients; i++) {
            uint64_t l = atomic_load(&g_clients[i].last_ns);
            if (l > t_end)
                t_end = l;
        }
    }

    /* Drain: replies still owed are awaited (and their errors counted) but not timed. */
    uint64_t drain_start = now_ns();
    while (!all_idle() && now_ns() - drain_start < stall_ns)
        sleep_ns(1000000);
    uint64_t stuck = total_inflight();
    if (stuck)
        atomic_store(&g_phase, PH_CLOSING);

    if (O.cleanup && !stuck) {
        int errs = 0;
        for (int i = 0; i < O.clients; i++)
            errs += cleanup_client(&g_clients[i]);
        if (errs)
            fprintf(stderr, "zkload: cleanup: %d deletes failed\n", errs);
    }

    status = print_report((double)(t_end - t_start) / 1e9, stuck) ? 1 : 0;

out:
    atomic_store(&g_phase, PH_CLOSING);
    for (int i = 0; i < nclients_init; i++) {
        struct client *c = &g_clients[i];
        if (c->zh)
            zookeeper_close(c->zh);
        free(c->slots);
        pthread_mutex_destroy(&c->mu);
        pthread_cond_destroy(&c->cv);
    }
    free(g_clients);
    free(g_data);
    return status;
}
