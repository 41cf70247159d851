/* The mount benchmark's reference: the same operations as tests/bench/mount.sh does through
 * the mount, done directly with our client library (client/zkc.h), one at a time as the
 * shell commands do them.
 *
 *   zkcbench HOST:PORT ROOT setup N_LS N_CAT   builds ROOT/ls (N_LS empty children) and
 *                                              ROOT/cat (N_CAT files of 100 bytes), pipelined
 *   zkcbench HOST:PORT ROOT ls                 one getChildren of ROOT/ls
 *   zkcbench HOST:PORT ROOT cat                getData of every child of ROOT/cat, in turn
 *   zkcbench HOST:PORT ROOT createdelete N     N creates under ROOT/cd, then N deletes
 *
 * Prints "ms=<elapsed of the measured part> count=<items>"; exit 1 on any error. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/zkc.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int pending, failures;

static void done(zkc_t *zh, int rc, const struct zk_response *res, void *ctx)
{
    (void)zh, (void)res, (void)ctx;
    pending--;
    if (rc != ZOK && rc != ZNODEEXISTS)
        failures++;
}

static void must(int rc, const char *what)
{
    if (rc != ZOK && rc != ZNODEEXISTS) {
        fprintf(stderr, "zkcbench: %s: %s\n", what, zerr_name(rc));
        exit(1);
    }
}

/* Creates n children name%06d of parent with data, 512 in flight at most. */
static void fill(zkc_t *zh, const char *parent, int n, const char *data, int32_t len)
{
    char path[512];
    for (int i = 0; i < n; i++) {
        while (pending >= 512)
            zkc_run_for(zh, 1);
        snprintf(path, sizeof(path), "%s/n%06d", parent, i);
        must(zkc_create(zh, path, data, len, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, done, NULL), "create");
        pending++;
    }
    while (pending > 0)
        zkc_run_for(zh, 1);
    if (failures) {
        fprintf(stderr, "zkcbench: %d creates failed\n", failures);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: zkcbench HOST:PORT ROOT setup N_LS N_CAT | ls | cat | createdelete N\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int err;
    zkc_t *zh = zkc_new(NULL, argv[1], NULL, NULL, NULL, &err);
    if (!zh || zkc_wait_connected(zh, 10000) != ZOK) {
        fprintf(stderr, "zkcbench: cannot connect to %s\n", argv[1]);
        return 1;
    }
    const char *root = argv[2], *cmd = argv[3];
    char a[512], b[512];
    snprintf(a, sizeof(a), "%s/ls", root);
    snprintf(b, sizeof(b), "%s/cat", root);
    double t0 = now_ms();
    long count = 0;
    if (!strcmp(cmd, "setup") && argc == 6) {
        must(zkc_create_wait(zh, root, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL), "create root");
        must(zkc_create_wait(zh, a, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL), "create ls");
        must(zkc_create_wait(zh, b, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL), "create cat");
        char data[100];
        memset(data, 'x', sizeof(data));
        fill(zh, a, atoi(argv[4]), "", 0);
        fill(zh, b, atoi(argv[5]), data, sizeof(data));
        count = atol(argv[4]) + atol(argv[5]);
    } else if (!strcmp(cmd, "ls")) {
        struct zk_response res;
        must(zkc_get_children_wait(zh, a, NULL, NULL, &res), "getChildren");
        count = res.nchildren;
        jute_free_response(&res);
    } else if (!strcmp(cmd, "cat")) {
        struct zk_response kids;
        must(zkc_get_children_wait(zh, b, NULL, NULL, &kids), "getChildren");
        t0 = now_ms(); /* as for the mount: the shell lists the directory (its glob) untimed */
        for (int32_t i = 0; i < kids.nchildren; i++) {
            char p[600];
            struct zk_response res;
            snprintf(p, sizeof(p), "%s/%s", b, kids.children[i]);
            must(zkc_get_data_wait(zh, p, NULL, NULL, &res), "getData");
            count += res.datalen;
            jute_free_response(&res);
        }
        jute_free_response(&kids);
    } else if (!strcmp(cmd, "createdelete") && argc == 5) {
        char cd[512], p[600];
        snprintf(cd, sizeof(cd), "%s/cd", root);
        must(zkc_create_wait(zh, cd, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL), "create cd");
        t0 = now_ms();
        int n = atoi(argv[4]);
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof(p), "%s/f%d", cd, i);
            must(zkc_create_wait(zh, p, "", 0, zkc_open_acl_unsafe, 1, ZMODE_PERSISTENT, 0, NULL), "create");
        }
        for (int i = 0; i < n; i++) {
            snprintf(p, sizeof(p), "%s/f%d", cd, i);
            must(zkc_delete_wait(zh, p, -1), "delete");
        }
        count = n;
    } else {
        fprintf(stderr, "zkcbench: bad command\n");
        return 2;
    }
    printf("ms=%.1f count=%ld\n", now_ms() - t0, count);
    zkc_close(zh);
    return 0;
}
