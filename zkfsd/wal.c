/* Transaction log: group-commit writer thread, recovery scan with torn-tail repair, dump. */
#include "zkfsd/wal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <assert.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"
#include "zkfsd/crc32c.h"

static const char MAGIC[4] = {'Z', 'K', 'F', 'L'};

struct wal {
    struct wal_opts o;
    char *dir;
    int fd;              /* current file, -1 before the first batch */
    char path[4096];     /* its name, for messages */
    int64_t off;         /* bytes written in it */
    int64_t alloc_end;   /* bytes reserved for it */
    int notify;          /* eventfd */
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct jbuf pending; /* encoded records waiting for the writer */
    int64_t pending_first, pending_last;
    int roll;
    int stop;
    _Atomic int64_t durable;
    int64_t next_zxid;   /* checked by wal_append: the log has no holes */
    struct jbuf scratch; /* main thread's encoding buffer */
};

static uint32_t get32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
}

/* A log I/O error: never retried, never acknowledged past. */
#define fatal(...) log_fatal(WAL_EXIT_STATUS, "FATAL transaction log error (nothing not yet durable is acknowledged): " __VA_ARGS__)

int zk_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* ---------------- the writer ---------------- */

static void write_all(struct wal *w, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t k = pwrite(w->fd, p, n, w->off);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fatal("write to %s at offset %" PRId64 " failed: %s", w->path, w->off, strerror(errno));
        }
        p += k;
        n -= (size_t)k;
        w->off += k;
    }
}

static void new_file(struct wal *w, int64_t first_zxid)
{
    if (w->fd >= 0) {
        /* the old file is complete: everything in it was synced with its batch */
        if (close(w->fd) < 0)
            fatal("close of %s failed: %s", w->path, strerror(errno));
    }
    snprintf(w->path, sizeof(w->path), "%s/log.%" PRIx64, w->dir, (uint64_t)first_zxid);
    w->fd = open(w->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (w->fd < 0)
        fatal("cannot create %s: %s", w->path, strerror(errno));
    w->off = 0;
    w->alloc_end = 0;
    uint8_t hdr[WAL_HEADER_LEN] = {0};
    memcpy(hdr, MAGIC, 4);
    put32(hdr + 4, 1); /* version; the dbid (8 bytes) stays 0 */
    write_all(w, hdr, sizeof(hdr));
    if (fsync(w->fd) < 0)
        fatal("fsync of new log file %s failed: %s", w->path, strerror(errno));
    if (zk_fsync_dir(w->dir) < 0)
        fatal("fsync of directory %s failed: %s", w->dir, strerror(errno));
    LOG_INFO("transaction log: new file %s", w->path);
}

/* Reserves space ahead, so a full disk shows up here, before anything is acknowledged. */
static void reserve(struct wal *w, size_t n)
{
    if (w->off + (int64_t)n <= w->alloc_end || w->o.prealloc_bytes <= 0)
        return;
    int64_t end = w->alloc_end + w->o.prealloc_bytes;
    if (end < w->off + (int64_t)n)
        end = w->off + (int64_t)n + w->o.prealloc_bytes;
    int rc = posix_fallocate(w->fd, 0, end);
    if (rc == ENOSPC)
        fatal("disk full: cannot preallocate %s to %" PRId64 " bytes", w->path, end);
    if (rc != 0 && rc != EOPNOTSUPP && rc != EINVAL)
        fatal("preallocation of %s failed: %s", w->path, strerror(rc));
    w->alloc_end = end;
}

static void *writer(void *arg)
{
    struct wal *w = arg;
    struct jbuf batch;
    jb_init(&batch);
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->pending.len && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        if (!w->pending.len)
            break;
        struct jbuf t = batch;
        batch = w->pending;
        w->pending = t;
        w->pending.len = 0;
        int64_t first = w->pending_first, last = w->pending_last;
        int roll = w->roll;
        w->roll = 0;
        w->pending_first = 0;
        pthread_mutex_unlock(&w->mu);

        if (w->fd < 0 || roll || w->off >= w->o.roll_bytes)
            new_file(w, first);
        reserve(w, batch.len);
        write_all(w, batch.p, batch.len);
        if (w->o.force_sync && fdatasync(w->fd) < 0)
            fatal("fdatasync of %s failed: %s", w->path, strerror(errno));
        atomic_store(&w->durable, last);
        uint64_t one = 1;
        if (write(w->notify, &one, sizeof(one)) < 0 && errno != EAGAIN)
            fatal("eventfd write failed: %s", strerror(errno));
        pthread_mutex_lock(&w->mu);
    }
    pthread_mutex_unlock(&w->mu);
    jb_free(&batch);
    return NULL;
}

struct wal *wal_open(const struct wal_opts *o, int64_t next_zxid, char *err, size_t errlen)
{
    struct wal *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->o = *o;
    if (w->o.roll_bytes <= 0)
        w->o.roll_bytes = 64 << 20;
    w->dir = strdup(o->dir);
    w->fd = -1;
    w->next_zxid = next_zxid;
    atomic_store(&w->durable, next_zxid - 1);
    jb_init(&w->pending);
    jb_init(&w->scratch);
    w->notify = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (!w->dir || w->notify < 0) {
        snprintf(err, errlen, "cannot create the log's eventfd: %s", strerror(errno));
        goto fail;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thr, NULL, writer, w) != 0) {
        snprintf(err, errlen, "cannot start the log writer thread");
        goto fail;
    }
    return w;
fail:
    if (w->notify >= 0)
        close(w->notify);
    free(w->dir);
    free(w);
    return NULL;
}

int wal_notify_fd(const struct wal *w) { return w->notify; }

int64_t wal_durable(struct wal *w)
{
    uint64_t v;
    while (read(w->notify, &v, sizeof(v)) > 0)
        ;
    return atomic_load(&w->durable);
}

/* The one queueing path, for encoded txns wherever they come from. */
static void queue_record(struct wal *w, int64_t zxid, const uint8_t *txn, size_t n)
{
    assert(wal_zxid_follows(w->next_zxid - 1, zxid));
    w->next_zxid = zxid + 1;
    if (n > WAL_MAX_RECORD)
        fatal("txn 0x%" PRIx64 " encodes to %zu bytes, over the record limit", (uint64_t)zxid, n);
    uint8_t hdr[8];
    put32(hdr, (uint32_t)n);
    put32(hdr + 4, crc32c(0, txn, n));
    pthread_mutex_lock(&w->mu);
    jw_raw(&w->pending, hdr, sizeof(hdr));
    jw_raw(&w->pending, txn, n);
    if (w->pending.oom)
        fatal("out of memory queueing txn 0x%" PRIx64, (uint64_t)zxid);
    if (!w->pending_first)
        w->pending_first = zxid;
    w->pending_last = zxid;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void wal_append(struct wal *w, const struct txn *x)
{
    struct jbuf *b = &w->scratch;
    jb_reset(b);
    txn_encode(b, x);
    if (b->oom)
        fatal("out of memory encoding txn 0x%" PRIx64, (uint64_t)x->zxid);
    queue_record(w, x->zxid, b->p, b->len);
}

void wal_append_bytes(struct wal *w, int64_t zxid, const uint8_t *txn, size_t n)
{
    /* txn_encode starts with the zxid: a cheap check that the bytes are the txn meant */
    assert(n >= 8 && (int64_t)((uint64_t)get32(txn) << 32 | get32(txn + 4)) == zxid);
    queue_record(w, zxid, txn, n);
}

void wal_roll(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    w->roll = 1;
    pthread_mutex_unlock(&w->mu);
}

void wal_close(struct wal *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thr, NULL);
    if (w->fd >= 0) {
        if (fdatasync(w->fd) < 0)
            LOG_ERROR("fdatasync of %s at shutdown failed: %s", w->path, strerror(errno));
        close(w->fd);
    }
    close(w->notify);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    jb_free(&w->pending);
    jb_free(&w->scratch);
    free(w->dir);
    free(w);
}

/* ---------------- listing ---------------- */

static int cmp_idx(const void *a, const void *b, void *arg)
{
    const int64_t *z = arg;
    int64_t x = z[*(const int *)a], y = z[*(const int *)b];
    return x < y ? -1 : x > y;
}

int zk_list_files(const char *dir, const char *prefix, char ***names_out, int64_t **zxids_out)
{
    *names_out = NULL;
    *zxids_out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    size_t plen = strlen(prefix);
    int n = 0, cap = 0;
    char **names = NULL;
    int64_t *zx = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, plen) != 0)
            continue;
        const char *hex = e->d_name + plen;
        char *end;
        errno = 0;
        unsigned long long v = strtoull(hex, &end, 16);
        if (!*hex || *end || errno)
            continue; /* e.g. a snapshot's .tmp file */
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, (size_t)cap * sizeof(*names));
            zx = realloc(zx, (size_t)cap * sizeof(*zx));
            if (!names || !zx) {
                closedir(d);
                return -1;
            }
        }
        names[n] = malloc(strlen(dir) + strlen(e->d_name) + 2);
        if (!names[n])
            break;
        sprintf(names[n], "%s/%s", dir, e->d_name);
        zx[n++] = (int64_t)v;
    }
    closedir(d);
    /* sort both arrays by zxid */
    int *idx = malloc((size_t)(n ? n : 1) * sizeof(*idx));
    char **sn = malloc((size_t)(n ? n : 1) * sizeof(*sn));
    int64_t *sz = malloc((size_t)(n ? n : 1) * sizeof(*sz));
    for (int i = 0; i < n; i++)
        idx[i] = i;
    qsort_r(idx, (size_t)n, sizeof(*idx), cmp_idx, zx);
    for (int i = 0; i < n; i++) {
        sn[i] = names[idx[i]];
        sz[i] = zx[idx[i]];
    }
    free(idx);
    free(names);
    free(zx);
    *names_out = sn;
    *zxids_out = sz;
    return n;
}

void zk_free_list(char **names, int64_t *zxids, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
    free(zxids);
}

/* ---------------- reading ---------------- */

struct mapped {
    const uint8_t *p;
    size_t len;
};

static int map_file(const char *file, struct mapped *m, char *err, size_t errlen)
{
    m->p = NULL;
    m->len = 0;
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", file, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        snprintf(err, errlen, "cannot stat %s: %s", file, strerror(errno));
        close(fd);
        return -1;
    }
    m->len = (size_t)st.st_size;
    if (m->len) {
        void *p = mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            snprintf(err, errlen, "cannot map %s: %s", file, strerror(errno));
            close(fd);
            return -1;
        }
        m->p = p;
    }
    close(fd);
    return 0;
}

static void unmap_file(struct mapped *m)
{
    if (m->p)
        munmap((void *)m->p, m->len);
}

enum rec_state { REC_OK, REC_END, REC_BAD };

/* Examines the record at off: REC_OK with the decoded txn and its total size, REC_END at a
 * zero length or the end of the file, REC_BAD for anything else. */
static enum rec_state read_record(const struct mapped *m, size_t off, struct txn *x, size_t *size)
{
    if (m->len - off < 8)
        return m->len == off || !memcmp(m->p + off, "\0\0\0\0", m->len - off < 4 ? m->len - off : 4) ? REC_END
                                                                                                      : REC_BAD;
    uint32_t len = get32(m->p + off), crc = get32(m->p + off + 4);
    if (len == 0 && crc == 0)
        return REC_END;
    if (len == 0 || len > WAL_MAX_RECORD || len > m->len - off - 8)
        return REC_BAD;
    if (crc32c(0, m->p + off + 8, len) != crc)
        return REC_BAD;
    if (txn_decode(m->p + off + 8, len, x) != ZOK)
        return REC_BAD;
    *size = 8 + len;
    return REC_OK;
}

/* After a bad or zeroed record at off: is there any valid record later in the file? Runs of
 * zeros (the preallocated rest of the file) are skipped quickly: a record's length is not
 * zero, so its first non-zero byte lies within its first four. */
static int valid_record_after(const struct mapped *m, size_t off)
{
    for (size_t o = off + 1; o + 8 <= m->len; o++) {
        if (m->p[o] == 0) {
            size_t z = o;
            while (z < m->len && m->p[z] == 0)
                z++;
            if (z >= m->len)
                return 0;
            o = z >= o + 3 ? z - 3 : o;
        }
        uint32_t len = get32(m->p + o);
        if (len == 0 || len > WAL_MAX_RECORD || len > m->len - o - 8)
            continue;
        struct txn x;
        size_t size;
        if (read_record(m, o, &x, &size) == REC_OK) {
            txn_free(&x);
            return 1;
        }
    }
    return 0;
}

/* The log files of dir by first zxid, or -1 with a message. */
static int list_logs(const char *dir, char ***names, int64_t **starts, char *err, size_t errlen)
{
    int n = zk_list_files(dir, "log.", names, starts);
    if (n < 0)
        snprintf(err, errlen, "cannot read log directory %s: %s", dir, strerror(errno));
    return n;
}

int wal_replay(const char *dir, int64_t after, int (*fn)(void *ctx, const struct txn *x), void *ctx, int64_t *last,
               char *err, size_t errlen)
{
    char **names;
    int64_t *starts;
    *last = after;
    int n = list_logs(dir, &names, &starts, err, errlen);
    if (n < 0)
        return -1;
    /* skip files wholly before the snapshot: a file is needed if the next one starts after it */
    int first = 0;
    for (int i = 0; i + 1 < n; i++)
        if (starts[i + 1] <= after + 1)
            first = i + 1;
    int rc = 0;
    int64_t prev = -1; /* zxid of the last record read */
    for (int i = first; i < n && rc == 0; i++) {
        struct mapped m;
        if (map_file(names[i], &m, err, errlen) < 0) {
            rc = -1;
            break;
        }
        int is_last = i == n - 1;
        if (m.len < WAL_HEADER_LEN || memcmp(m.p, MAGIC, 4) != 0 || get32(m.p + 4) != 1) {
            if (is_last && m.len < WAL_HEADER_LEN) {
                /* a crash while creating the newest file: nothing in it was acknowledged */
                LOG_WARN("log file %s is shorter than its header (%zu bytes): removing it", names[i], m.len);
                unmap_file(&m);
                if (unlink(names[i]) < 0) {
                    snprintf(err, errlen, "cannot remove %s: %s", names[i], strerror(errno));
                    rc = -1;
                }
                break;
            }
            snprintf(err, errlen, "log file %s has a bad header", names[i]);
            unmap_file(&m);
            rc = -1;
            break;
        }
        size_t off = WAL_HEADER_LEN;
        int records = 0;
        for (;;) {
            struct txn x;
            size_t size = 0;
            enum rec_state st = read_record(&m, off, &x, &size);
            if (st == REC_END && valid_record_after(&m, off)) {
                /* zeros where a record was, with records after them: data was lost there */
                snprintf(err, errlen,
                         "log file %s is zeroed at offset %zu (after zxid 0x%" PRIx64
                         ") with valid records after it: refusing to start with a hole in the history",
                         names[i], off, (uint64_t)(prev < 0 ? 0 : prev));
                rc = -1;
                break;
            }
            if (st == REC_END)
                break;
            if (st == REC_BAD) {
                if (!is_last || valid_record_after(&m, off)) {
                    snprintf(err, errlen,
                             "log file %s is corrupt at offset %zu (after zxid 0x%" PRIx64
                             ") with valid records after it: refusing to start with a hole in the history",
                             names[i], off, (uint64_t)(prev < 0 ? 0 : prev));
                    rc = -1;
                    break;
                }
                LOG_WARN("log file %s: torn record at offset %zu after zxid 0x%" PRIx64
                         " (a write cut short by a crash, never acknowledged): truncating it",
                         names[i], off, (uint64_t)(prev < 0 ? 0 : prev));
                if (truncate(names[i], (off_t)off) < 0) {
                    snprintf(err, errlen, "cannot truncate %s: %s", names[i], strerror(errno));
                    rc = -1;
                }
                break;
            }
            if (prev >= 0 && !wal_zxid_follows(prev, x.zxid)) {
                snprintf(err, errlen,
                         "log file %s at offset %zu: zxid 0x%" PRIx64 " follows 0x%" PRIx64
                         ": transactions are missing",
                         names[i], off, (uint64_t)x.zxid, (uint64_t)prev);
                txn_free(&x);
                rc = -1;
                break;
            }
            if (prev < 0 && x.zxid > after && !wal_zxid_follows(after, x.zxid)) {
                snprintf(err, errlen,
                         "the logs start at zxid 0x%" PRIx64 " but the snapshot ends at 0x%" PRIx64
                         ": transactions are missing",
                         (uint64_t)x.zxid, (uint64_t)after);
                txn_free(&x);
                rc = -1;
                break;
            }
            prev = x.zxid;
            if (x.zxid > after) {
                if (fn(ctx, &x) < 0) {
                    snprintf(err, errlen, "replay of zxid 0x%" PRIx64 " from %s failed", (uint64_t)x.zxid, names[i]);
                    rc = -1;
                }
                *last = x.zxid;
            }
            txn_free(&x);
            if (rc)
                break;
            off += size;
            records++;
        }
        unmap_file(&m);
        if (rc == 0 && is_last && records == 0) {
            /* created by a roll just before a crash: holds nothing, and its name is the one the
             * next file needs */
            LOG_INFO("log file %s holds no records: removing it", names[i]);
            if (unlink(names[i]) < 0) {
                snprintf(err, errlen, "cannot remove %s: %s", names[i], strerror(errno));
                rc = -1;
            }
        }
    }
    zk_free_list(names, starts, n);
    return rc;
}

/* ---------------- truncation ---------------- */

/* The readable records of m from off on: what truncation drops of it. */
static int count_records(const struct mapped *m, size_t off)
{
    int n = 0;
    struct txn x;
    size_t size;
    while (read_record(m, off, &x, &size) == REC_OK) {
        txn_free(&x);
        off += size;
        n++;
    }
    return n;
}

int wal_truncate(const char *dir, int64_t after, char *err, size_t errlen)
{
    char **names;
    int64_t *starts;
    int n = list_logs(dir, &names, &starts, err, errlen);
    if (n < 0)
        return -1;
    /* the file holding `after` is the last one named at or before it; none: every file goes */
    int hold = -1;
    for (int i = 0; i < n; i++)
        if (starts[i] <= after)
            hold = i;
    /* read everything first, so that a refusal changes nothing */
    int rc = 0, dropped = 0;
    size_t cut = WAL_HEADER_LEN;
    for (int i = hold < 0 ? 0 : hold; i < n && rc == 0; i++) {
        struct mapped m;
        if (map_file(names[i], &m, err, errlen) < 0) {
            rc = -1;
            break;
        }
        int header_ok = m.len >= WAL_HEADER_LEN && memcmp(m.p, MAGIC, 4) == 0 && get32(m.p + 4) == 1;
        if (i > hold) {
            /* wholly dropped: damage in it goes with it */
            if (header_ok)
                dropped += count_records(&m, WAL_HEADER_LEN);
            unmap_file(&m);
            continue;
        }
        if (!header_ok) {
            snprintf(err, errlen, "log file %s has a bad header", names[i]);
            unmap_file(&m);
            rc = -1;
            break;
        }
        size_t off = WAL_HEADER_LEN;
        int64_t prev = -1;
        for (;;) {
            struct txn x;
            size_t size = 0;
            enum rec_state st = read_record(&m, off, &x, &size);
            if (st == REC_OK) {
                int64_t z = x.zxid;
                txn_free(&x);
                if (z > after)
                    break; /* `after` itself is not logged: cut before what follows it */
                prev = z;
                off += size;
                if (z == after)
                    break;
                continue;
            }
            if (st == REC_END && !valid_record_after(&m, off))
                break; /* the log ends before `after`: nothing of this file goes */
            /* the kept part would end in damage, or drop the valid records after it */
            snprintf(err, errlen,
                     "log file %s is %s at offset %zu (after zxid 0x%" PRIx64 "), before zxid 0x%" PRIx64
                     ": refusing to truncate there",
                     names[i], st == REC_END ? "zeroed" : "corrupt", off, (uint64_t)(prev < 0 ? 0 : prev),
                     (uint64_t)after);
            rc = -1;
            break;
        }
        if (rc == 0) {
            cut = off;
            dropped += count_records(&m, off);
        }
        unmap_file(&m);
    }
    /* Newest file first, each removal synced before the next and before the cut: a crash
     * midway leaves a prefix of the log. The other order could leave the kept part followed
     * by a later file whose first zxid starts a new epoch, which replay would accept. */
    for (int i = n - 1; i > hold && rc == 0; i--) {
        if (unlink(names[i]) < 0) {
            snprintf(err, errlen, "cannot remove %s: %s", names[i], strerror(errno));
            rc = -1;
        } else if (zk_fsync_dir(dir) < 0) {
            snprintf(err, errlen, "fsync of directory %s failed: %s", dir, strerror(errno));
            rc = -1;
        }
    }
    if (rc == 0 && hold >= 0) {
        int fd = open(names[hold], O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)cut) < 0 || fsync(fd) < 0) {
            snprintf(err, errlen, "cannot truncate %s to %zu bytes: %s", names[hold], cut, strerror(errno));
            rc = -1;
        }
        if (fd >= 0)
            close(fd);
    }
    if (rc == 0)
        LOG_INFO("transaction log: dropped %d txns after zxid 0x%" PRIx64, dropped, (uint64_t)after);
    zk_free_list(names, starts, n);
    return rc < 0 ? -1 : dropped;
}

int wal_dump(const char *file, FILE *out)
{
    struct mapped m;
    char err[512];
    if (map_file(file, &m, err, sizeof(err)) < 0) {
        fprintf(out, "%s\n", err);
        return -1;
    }
    if (m.len < WAL_HEADER_LEN || memcmp(m.p, MAGIC, 4) != 0) {
        fprintf(out, "%s: not a zkfs transaction log\n", file);
        unmap_file(&m);
        return -1;
    }
    fprintf(out, "transaction log %s, version %u\n", file, get32(m.p + 4));
    size_t off = WAL_HEADER_LEN;
    int rc = 0, count = 0;
    for (;;) {
        struct txn x;
        size_t size;
        enum rec_state st = read_record(&m, off, &x, &size);
        if (st == REC_END)
            break;
        if (st == REC_BAD) {
            fprintf(out, "damaged record at offset %zu\n", off);
            rc = -1;
            break;
        }
        fprintf(out, "%8zu ", off);
        txn_print(out, &x);
        txn_free(&x);
        off += size;
        count++;
    }
    fprintf(out, "%d records, %zu bytes used of %zu\n", count, off, m.len);
    unmap_file(&m);
    return rc;
}
