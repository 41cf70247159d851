/* Durability driver: recovery, log, snapshots, purge; see storage.h. */
#include "zkfsd/storage.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "zkfsd/snap.h"
#include "zkfsd/wal.h"

struct storage {
    const struct zk_config *cfg;
    struct server *srv;
    struct event_base *base;
    struct wal *wal;
    char snapdir[4200], logdir[4200];
    struct event *notify_ev, *child_ev, *purge_ev;
    int64_t since_snap;   /* txns logged since the last snapshot began */
    int64_t snap_at;      /* threshold for the next one (randomised like ZooKeeper's) */
    int snap_wanted;
    pid_t child;          /* snapshot writer, 0 when none */
    int64_t child_zxid;
    struct storage_repl repl; /* ensemble; repl.durable NULL when standalone */
    struct wal_opts wo;
};

static int mkdirs(const char *dir)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s", dir);
    for (char *p = tmp + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(tmp, 0755) < 0 && errno != EEXIST ? -1 : 0;
}

/* ZooKeeper takes a snapshot after snapCount/2 + random(snapCount/2) txns so that ensemble
 * members do not all snapshot at once. */
static void next_threshold(struct storage *st)
{
    int64_t half = st->cfg->snap_count / 2;
    st->snap_at = half + (half > 0 ? random() % half : 0) + 1;
}

static void log_append(void *ctx, const struct txn *x)
{
    struct storage *st = ctx;
    wal_append(st->wal, x);
    if (++st->since_snap >= st->snap_at)
        st->snap_wanted = 1;
}

static void start_snapshot(struct storage *st)
{
    st->snap_wanted = 0;
    st->since_snap = 0;
    next_threshold(st);
    /* the logs after this point go to a new file, so retention can drop whole files */
    wal_roll(st->wal);
    int64_t zxid = server_last_zxid(st->srv);
    int64_t t0 = mono_ms();
    pid_t pid = fork();
    if (pid < 0) {
        LOG_WARN("cannot fork the snapshot writer: %s; will retry after more txns", strerror(errno));
        return;
    }
    if (pid == 0) {
        /* the child owns a frozen copy of the tree: write it and leave without cleanup */
        char err[1024];
        log_set_component("zkfsd-snapshot");
        int rc = snap_write(st->snapdir, &st->srv->tree, st->srv->sessions, wall_ms(), err, sizeof(err));
        if (rc < 0)
            LOG_ERROR("%s", err);
        _exit(rc < 0 ? 1 : 0);
    }
    st->child = pid;
    st->child_zxid = zxid;
    /* the fork is the only pause clients see: it copies page tables, not the tree */
    LOG_INFO("snapshot of zxid 0x%" PRIx64 " started (pid %d; the fork paused the server %" PRId64 " ms)",
             (uint64_t)zxid, (int)pid, mono_ms() - t0);
}

static void on_durable(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct storage *st = arg;
    server_set_time(st->srv, mono_ms(), wall_ms());
    if (st->repl.durable)
        st->repl.durable(st->repl.ctx, wal_durable(st->wal));
    else
        server_durable(st->srv, wal_durable(st->wal));
    if (st->snap_wanted && !st->child)
        start_snapshot(st);
}

static void reap(struct storage *st, int block)
{
    if (!st->child)
        return;
    int status;
    pid_t p = waitpid(st->child, &status, block ? 0 : WNOHANG);
    if (p != st->child)
        return;
    st->child = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        LOG_INFO("snapshot of zxid 0x%" PRIx64 " written", (uint64_t)st->child_zxid);
    else
        LOG_ERROR("snapshot of zxid 0x%" PRIx64 " failed (status %d); the log still holds everything",
                  (uint64_t)st->child_zxid, status);
}

static void on_child(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    reap(arg, 0);
}

static void on_purge(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct storage *st = arg;
    int n = snap_purge(st->snapdir, st->logdir, st->cfg->snap_retain_count);
    LOG_INFO("autopurge: removed %d files, keeping the newest %d snapshots", n, st->cfg->snap_retain_count);
}

static int replay_one(void *ctx, const struct txn *x)
{
    server_replay(ctx, x);
    return 0;
}

/* (Re)starts the log writer and its notification event, the next record following zxid. */
static int start_wal(struct storage *st, int64_t last, char *err, size_t errlen)
{
    st->wal = wal_open(&st->wo, last + 1, err, errlen);
    if (!st->wal)
        return -1;
    st->notify_ev = event_new(st->base, wal_notify_fd(st->wal), EV_READ | EV_PERSIST, on_durable, st);
    if (!st->notify_ev || event_add(st->notify_ev, NULL) < 0) {
        snprintf(err, errlen, "cannot register the log's events");
        return -1;
    }
    return 0;
}

static void stop_wal(struct storage *st)
{
    if (st->notify_ev)
        event_free(st->notify_ev);
    st->notify_ev = NULL;
    wal_close(st->wal);
    st->wal = NULL;
}

static void fatal_storage(const char *what, const char *err)
{
    log_fatal(WAL_EXIT_STATUS, "%s: %s; stopping (the log must stay the truth)", what, err);
}

void storage_append(struct storage *st, int64_t zxid, const uint8_t *txn, size_t n)
{
    wal_append_bytes(st->wal, zxid, txn, n);
    if (++st->since_snap >= st->snap_at)
        st->snap_wanted = 1;
}

void storage_truncate(struct storage *st, int64_t zxid)
{
    char err[1024];
    reap(st, 1); /* a snapshot child of a state being rewound is not worth keeping */
    stop_wal(st);
    int dropped = wal_truncate(st->logdir, zxid, err, sizeof(err));
    if (dropped < 0)
        fatal_storage("cannot truncate the log", err);
    if (start_wal(st, zxid, err, sizeof(err)) < 0)
        fatal_storage("cannot reopen the log", err);
}

void storage_install(struct storage *st, const uint8_t *snap, size_t n)
{
    char err[1024];
    reap(st, 1);
    stop_wal(st);
    /* loaded first: bytes that do not make a tree never reach the disk */
    int64_t zxid = 0;
    if (server_clear_state(st->srv) < 0 ||
        snap_load_bytes(snap, n, &st->srv->tree, st->srv->sessions, mono_ms(), &zxid, err, sizeof(err)) < 0)
        fatal_storage("cannot load the leader's snapshot", err);
    server_recovered(st->srv);
    /* zxid 0 is never a txn's: every logged txn goes, the snapshot holds the history. The
     * log goes before the save: a crash in between leaves an older committed state to sync
     * from, while the reverse could leave the new snapshot followed by another history. */
    if (wal_truncate(st->logdir, 0, err, sizeof(err)) < 0)
        fatal_storage("cannot clear the log for the leader's snapshot", err);
    if (snap_save(st->snapdir, snap, n, err, sizeof(err)) < 0)
        fatal_storage("cannot save the leader's snapshot", err);
    st->since_snap = 0;
    LOG_INFO("installed the leader's snapshot of zxid 0x%" PRIx64 ": %zu znodes, %zu sessions", (uint64_t)zxid,
             tree_node_count(&st->srv->tree), sess_count(st->srv->sessions));
    if (start_wal(st, zxid, err, sizeof(err)) < 0)
        fatal_storage("cannot reopen the log", err);
}

const char *storage_dir(const struct storage *st) { return st->snapdir; }

struct storage *storage_open(const struct zk_config *cfg, struct server *srv, struct event_base *base,
                             const struct storage_repl *repl, char *err, size_t errlen)
{
    struct storage *st = calloc(1, sizeof(*st));
    if (!st) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    st->cfg = cfg;
    st->srv = srv;
    st->base = base;
    if (repl)
        st->repl = *repl;
    snprintf(st->snapdir, sizeof(st->snapdir), "%s/%s", cfg->data_dir, ZK_DATA_SUBDIR);
    snprintf(st->logdir, sizeof(st->logdir), "%s/%s", cfg->data_log_dir[0] ? cfg->data_log_dir : cfg->data_dir,
             ZK_DATA_SUBDIR);
    if (mkdirs(st->snapdir) < 0 || mkdirs(st->logdir) < 0) {
        snprintf(err, errlen, "cannot create %s or %s: %s", st->snapdir, st->logdir, strerror(errno));
        goto fail;
    }
    srandom((unsigned)(wall_ms() ^ getpid()));
    next_threshold(st);

    int64_t t0 = mono_ms();
    server_set_time(srv, t0, wall_ms());
    int64_t snap_zxid, last;
    if (snap_load_latest(st->snapdir, &srv->tree, srv->sessions, t0, &snap_zxid, err, errlen) < 0)
        goto fail;
    if (wal_replay(st->logdir, snap_zxid, repl ? repl->logged : replay_one, repl ? repl->ctx : (void *)srv, &last,
                   err, errlen) < 0)
        goto fail;
    server_recovered(srv);
    LOG_INFO("recovered zxid 0x%" PRIx64 " (snapshot 0x%" PRIx64 " + logged txns up to 0x%" PRIx64 "%s): %zu "
             "znodes, %zu sessions, in %" PRId64 " ms",
             (uint64_t)server_last_zxid(srv), (uint64_t)snap_zxid, (uint64_t)last,
             repl ? ", to be committed by the ensemble" : "", tree_node_count(&srv->tree), sess_count(srv->sessions),
             mono_ms() - t0);
    if (!cfg->force_sync)
        LOG_WARN("forceSync=no: the log is NOT synced before acknowledging; a power loss can lose acknowledged "
                 "writes. Use this only for tests and benchmarks.");

    st->wo = (struct wal_opts){.dir = st->logdir,
                               .force_sync = cfg->force_sync,
                               .prealloc_bytes = cfg->prealloc_size_kb * 1024,
                               .roll_bytes = 64 << 20};
    if (start_wal(st, last, err, errlen) < 0)
        goto fail;
    st->child_ev = evsignal_new(base, SIGCHLD, on_child, st);
    if (!st->child_ev || event_add(st->child_ev, NULL) < 0) {
        snprintf(err, errlen, "cannot register the log's events");
        goto fail;
    }
    if (cfg->purge_interval_ms > 0) {
        st->purge_ev = event_new(base, -1, EV_PERSIST, on_purge, st);
        struct timeval tv = {cfg->purge_interval_ms / 1000, (cfg->purge_interval_ms % 1000) * 1000};
        if (!st->purge_ev || event_add(st->purge_ev, &tv) < 0) {
            snprintf(err, errlen, "cannot schedule autopurge");
            goto fail;
        }
    }
    if (!repl)
        server_set_log(srv, log_append, st);
    return st;
fail:
    storage_close(st);
    return NULL;
}

void storage_close(struct storage *st)
{
    if (!st)
        return;
    reap(st, 1);
    if (st->notify_ev)
        event_free(st->notify_ev);
    if (st->child_ev)
        event_free(st->child_ev);
    if (st->purge_ev)
        event_free(st->purge_ev);
    wal_close(st->wal);
    free(st);
}
