/* zkfs-mount: mounts one ZooKeeper session as a filesystem (see fuse/README.md). Parses the
 * command line, connects, arms the recursive watch, mounts, daemonizes, then runs one libevent
 * loop for both /dev/fuse and the ZooKeeper connection until unmounted or signalled. */
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"
#include "fuse/mount.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zkfs-mount [-f] [-d] [-o opt[,opt...]] CONNECT_STRING MOUNTPOINT\n"
               "  CONNECT_STRING  host:port[,host:port...][/chroot]\n"
               "  -f              stay in the foreground\n"
               "  -d              debug: log every FUSE request (implies -f)\n"
               "  -o session_timeout=MS  requested session timeout (30000)\n"
               "  -o ro                  read-only\n"
               "  -o log=FILE            where a daemonized mount logs (default: discarded)\n"
               "  -o watches=oneshot     one-shot watches per node, as for servers without addWatch\n"
               "  -o ...                 FUSE options (allow_other, default_permissions, fsname=...)\n");
}

struct cli {
    int foreground, debug;
    char *log_file;
    char fuse_opts[4096];
};

/* Splits -o options into ours (into m->opts and cli) and FUSE's (cli->fuse_opts). */
static int parse_opts(const char *s, struct mount *m, struct cli *c)
{
    char *copy = strdup(s), *save = NULL;
    if (!copy)
        return -1;
    for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
        if (!strncmp(o, "session_timeout=", 16)) {
            char *end;
            long v = strtol(o + 16, &end, 10);
            if (*end || v <= 0 || v > INT32_MAX) {
                fprintf(stderr, "zkfs-mount: bad session_timeout '%s'\n", o + 16);
                free(copy);
                return -1;
            }
            m->opts.session_timeout_ms = (int32_t)v;
            continue;
        }
        if (!strcmp(o, "watches=oneshot")) {
            m->opts.oneshot_watches = 1;
            continue;
        }
        if (!strncmp(o, "log=", 4)) {
            free(c->log_file);
            c->log_file = strdup(o + 4);
            continue;
        }
        /* accepted from mount(8) and fstab, meaningless here */
        if (!strcmp(o, "_netdev") || !strcmp(o, "auto") || !strcmp(o, "noauto") || !strcmp(o, "user") ||
            !strcmp(o, "nouser") || !strcmp(o, "users") || !strcmp(o, "defaults") || !strcmp(o, "rw"))
            continue;
        if (!strcmp(o, "ro"))
            m->opts.read_only = 1;
        size_t used = strlen(c->fuse_opts);
        snprintf(c->fuse_opts + used, sizeof(c->fuse_opts) - used, "%s%s", used ? "," : "", o);
    }
    free(copy);
    return 0;
}

static void on_fuse(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct mount *m = arg;
    static struct fuse_buf buf;
    int res = fuse_session_receive_buf(m->se, &buf);
    if (res == -EINTR || res == -EAGAIN)
        return;
    if (res <= 0 || fuse_session_exited(m->se)) {
        if (res < 0)
            LOG_ERROR("reading /dev/fuse: %s", strerror(-res));
        event_base_loopbreak(m->base);
        return;
    }
    fuse_session_process_buf(m->se, &buf);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct mount *m = arg;
    LOG_INFO("signal %d: unmounting", (int)sig);
    m->exiting = 1;
    fuse_session_exit(m->se);
    event_base_loopbreak(m->base);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    *(int *)arg = 1;
}

/* Runs the loop until the session is connected and the server answered the recursive watch
 * (either way), or timeout_ms passed. */
static int wait_ready(struct mount *m, int timeout_ms)
{
    int expired = 0;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    struct event *t = evtimer_new(m->base, on_deadline, &expired);
    evtimer_add(t, &tv);
    int asked = 0;
    while (!expired && !m->watch_answered) {
        int st = zkc_state(m->zh);
        if (st == ZSTATE_EXPIRED || st == ZSTATE_AUTH_FAILED || st == ZSTATE_CLOSED)
            break;
        if (st == ZSTATE_SYNC_CONNECTED && !asked) {
            events_arm(m);
            asked = 1;
            if (m->watch_answered)
                break; /* one-shot mode answers at once */
        }
        event_base_loop(m->base, EVLOOP_ONCE);
    }
    event_free(t);
    return zkc_state(m->zh) == ZSTATE_SYNC_CONNECTED && m->watch_answered ? 0 : -1;
}

int main(int argc, char **argv)
{
    static struct mount mnt;
    struct mount *m = &mnt;
    struct cli c = {0};
    m->opts.session_timeout_ms = 30000;
    m->opts.max_data = ZK_DEFAULT_MAXBUFFER - 1024; /* room for the path and the header */
    log_set_component("zkfs-mount");
    const char *lvl = getenv("ZKFS_LOG");
    if (lvl && log_parse_level(lvl) >= 0)
        log_set_level((enum log_level)log_parse_level(lvl));
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-f")) {
            c.foreground = 1;
        } else if (!strcmp(a, "-d")) {
            c.debug = c.foreground = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") && i + 1 < argc) {
            if (parse_opts(argv[++i], m, &c) < 0)
                return 1;
        } else if (!strncmp(a, "-o", 2) && a[2]) {
            if (parse_opts(a + 2, m, &c) < 0)
                return 1;
        } else if (!strcmp(a, "-n") || !strcmp(a, "-s") || !strcmp(a, "-v")) {
            /* from mount(8) running us as mount.fuse.zkfs: no mtab, sloppy, verbose */
        } else if ((!strcmp(a, "-t") || !strcmp(a, "-N")) && i + 1 < argc) {
            i++; /* the type (fuse.zkfs) and mount namespace mount(8) passes */
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "zkfs-mount: unknown option %s\n", a);
            usage(stderr);
            return 1;
        } else if (npos < 2) {
            pos[npos++] = a;
        } else {
            usage(stderr);
            return 1;
        }
    }
    if (npos != 2) {
        usage(stderr);
        return 1;
    }
    char mp[PATH_MAX];
    struct stat st;
    if (!realpath(pos[1], mp) || stat(mp, &st) < 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "zkfs-mount: mountpoint %s: %s\n", pos[1], errno ? strerror(errno) : "not a directory");
        return 1;
    }
    m->opts.connect = strdup(pos[0]);
    m->opts.mountpoint = strdup(mp);
    signal(SIGPIPE, SIG_IGN);
    if (itable_init(&m->it) < 0)
        return 1;
    hmap_init(&m->inflight);
    hmap_init(&m->inflight_seq);
    hmap_init(&m->pending_create);
    hmap_init(&m->pending_delete);
    hmap_init(&m->open_files);

    m->base = event_base_new();
    struct zkc_options zo = {.session_timeout_ms = m->opts.session_timeout_ms};
    int err;
    m->zh = m->base ? zkc_new(m->base, m->opts.connect, &zo, events_session, m, &err) : NULL;
    if (!m->zh) {
        fprintf(stderr, "zkfs-mount: bad connect string '%s'\n", m->opts.connect);
        return 1;
    }
    if (wait_ready(m, m->opts.session_timeout_ms) < 0) {
        fprintf(stderr, "zkfs-mount: cannot reach ZooKeeper at %s\n", m->opts.connect);
        return 1;
    }

    /* a connect string to an ensemble has commas, which separate -o options unless escaped */
    char esc[8200], fsname[8300];
    size_t k = 0;
    for (const char *p = m->opts.connect; *p && k + 3 < sizeof(esc); p++) {
        if (*p == ',' || *p == '\\')
            esc[k++] = '\\';
        esc[k++] = *p;
    }
    esc[k] = 0;
    snprintf(fsname, sizeof(fsname), "fsname=%s,subtype=zkfs,default_permissions", esc);
    /* default_permissions lets the kernel check the modes the ACLs give, for users other
     * than root; fsname shows the connect string in mount(8) and /proc/mounts */
    struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
    fuse_opt_add_arg(&args, argv[0]);
    if (c.debug)
        fuse_opt_add_arg(&args, "-d");
    fuse_opt_add_arg(&args, "-o");
    fuse_opt_add_arg(&args, fsname);
    if (c.fuse_opts[0]) {
        fuse_opt_add_arg(&args, "-o");
        fuse_opt_add_arg(&args, c.fuse_opts);
    }
    m->se = fuse_session_new(&args, &zkfs_ops, sizeof(zkfs_ops), m);
    fuse_opt_free_args(&args);
    if (!m->se || fuse_session_mount(m->se, m->opts.mountpoint) != 0) {
        fprintf(stderr, "zkfs-mount: cannot mount at %s\n", m->opts.mountpoint);
        return 1;
    }
    if (!c.foreground) {
        if (fuse_daemonize(0) != 0)
            return 1;
        event_reinit(m->base);
        if (c.log_file) {
            int fd = open(c.log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd >= 0) {
                dup2(fd, 2);
                close(fd);
            }
        }
    }
    m->nt = notify_start(m->se, m->opts.mountpoint);
    if (!m->nt) {
        LOG_ERROR("cannot start the notifier thread");
        fuse_session_unmount(m->se);
        return 1;
    }
    LOG_INFO("mounted %s at %s (session 0x%" PRIx64 "%s)", m->opts.connect, m->opts.mountpoint, (uint64_t)m->session_id,
             m->recursive_watch ? "" : ", no recursive watch: caching off");

    struct event *fev = event_new(m->base, fuse_session_fd(m->se), EV_READ | EV_PERSIST, on_fuse, m);
    struct event *sigs[3];
    const int signo[3] = {SIGINT, SIGTERM, SIGHUP};
    for (int i = 0; i < 3; i++) {
        sigs[i] = evsignal_new(m->base, signo[i], on_signal, m);
        event_add(sigs[i], NULL);
    }
    event_add(fev, NULL);
    event_base_dispatch(m->base);

    m->exiting = 1;
    event_free(fev);
    for (int i = 0; i < 3; i++)
        event_free(sigs[i]);
    fuse_session_unmount(m->se);
    notify_stop(m->nt);
    m->nt = NULL;
    int rc = zkc_close(m->zh);
    LOG_INFO("unmounted %s; session closed%s", m->opts.mountpoint, rc == ZOK ? "" : " (unconfirmed)");
    fuse_session_destroy(m->se);
    return 0;
}
