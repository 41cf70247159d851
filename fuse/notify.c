/* The notifier thread (see notify.h): a FIFO of jobs under a mutex, run one at a time. */
#define FUSE_USE_VERSION 314
#include "fuse/notify.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"

struct job {
    struct job *next;
    enum notify_job_kind kind;
    uint64_t nodeid;
    int64_t size;
    int is_dir;
    char *path, *name;
};

struct notifier {
    struct fuse_session *se;
    const char *mountpoint;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *head, *tail;
    int stop;
    pid_t tid;
    int started;
};

static void job_free(struct job *j)
{
    free(j->path);
    free(j->name);
    free(j);
}

static void run(struct notifier *nt, struct job *j)
{
    char full[8192];
    if (j->path) {
        int k = snprintf(full, sizeof(full), "%s%s", nt->mountpoint, strcmp(j->path, "/") == 0 ? "" : j->path);
        if (k < 0 || (size_t)k >= sizeof(full))
            return;
    }
    int rc = 0;
    switch (j->kind) {
    case NJ_INVAL_INODE:
        rc = fuse_lowlevel_notify_inval_inode(nt->se, j->nodeid, 0, 0);
        break;
    case NJ_INVAL_ENTRY:
        rc = fuse_lowlevel_notify_inval_entry(nt->se, j->nodeid, j->name, strlen(j->name));
        break;
    case NJ_TRUNCATE:
        rc = truncate(full, (off_t)j->size) < 0 ? -errno : 0;
        break;
    case NJ_MKNOD:
        rc = (j->is_dir ? mkdir(full, 0755) : mknod(full, S_IFREG | 0644, 0)) < 0 ? -errno : 0;
        break;
    case NJ_UNLINK:
        rc = (j->is_dir ? rmdir(full) : unlink(full)) < 0 ? -errno : 0;
        break;
    }
    /* ENOENT (the kernel never had it) and EEXIST (it knows already) are the normal races */
    if (rc < 0 && rc != -ENOENT && rc != -EEXIST && rc != -ENOTDIR)
        LOG_DEBUG("notifier: job %d on %s: %s", (int)j->kind, j->path ? j->path : "(inode)", strerror(-rc));
}

static void *loop(void *arg)
{
    struct notifier *nt = arg;
    pthread_mutex_lock(&nt->mu);
    nt->tid = (pid_t)syscall(SYS_gettid);
    pthread_cond_broadcast(&nt->cv);
    for (;;) {
        while (!nt->head && !nt->stop)
            pthread_cond_wait(&nt->cv, &nt->mu);
        if (nt->stop)
            break;
        struct job *j = nt->head;
        nt->head = j->next;
        if (!nt->head)
            nt->tail = NULL;
        pthread_mutex_unlock(&nt->mu);
        run(nt, j);
        job_free(j);
        pthread_mutex_lock(&nt->mu);
    }
    pthread_mutex_unlock(&nt->mu);
    return NULL;
}

struct notifier *notify_start(struct fuse_session *se, const char *mountpoint)
{
    struct notifier *nt = calloc(1, sizeof(*nt));
    if (!nt)
        return NULL;
    nt->se = se;
    nt->mountpoint = mountpoint;
    pthread_mutex_init(&nt->mu, NULL);
    pthread_cond_init(&nt->cv, NULL);
    if (pthread_create(&nt->thread, NULL, loop, nt) != 0) {
        free(nt);
        return NULL;
    }
    nt->started = 1;
    pthread_mutex_lock(&nt->mu);
    while (!nt->tid)
        pthread_cond_wait(&nt->cv, &nt->mu);
    pthread_mutex_unlock(&nt->mu);
    return nt;
}

void notify_stop(struct notifier *nt)
{
    if (!nt)
        return;
    pthread_mutex_lock(&nt->mu);
    nt->stop = 1;
    pthread_cond_broadcast(&nt->cv);
    pthread_mutex_unlock(&nt->mu);
    /* a job may be inside a system call on the mount, which ends with the unmount */
    pthread_join(nt->thread, NULL);
    while (nt->head) {
        struct job *j = nt->head;
        nt->head = j->next;
        job_free(j);
    }
    pthread_mutex_destroy(&nt->mu);
    pthread_cond_destroy(&nt->cv);
    free(nt);
}

pid_t notify_tid(const struct notifier *nt)
{
    return nt ? nt->tid : 0;
}

void notify_push(struct notifier *nt, enum notify_job_kind kind, uint64_t nodeid, const char *path, const char *name,
                 int64_t size, int is_dir)
{
    if (!nt)
        return;
    struct job *j = calloc(1, sizeof(*j));
    if (!j)
        return;
    j->kind = kind;
    j->nodeid = nodeid;
    j->size = size;
    j->is_dir = is_dir;
    j->path = path ? strdup(path) : NULL;
    j->name = name ? strdup(name) : NULL;
    if ((path && !j->path) || (name && !j->name)) {
        job_free(j);
        return;
    }
    pthread_mutex_lock(&nt->mu);
    if (nt->tail)
        nt->tail->next = j;
    else
        nt->head = j;
    nt->tail = j;
    pthread_cond_signal(&nt->cv);
    pthread_mutex_unlock(&nt->mu);
}
