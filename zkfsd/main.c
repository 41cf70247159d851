/* zkfsd: the server program. `zkfsd` runs a standalone server on 127.0.0.1:2181 with its data
 * in ./zkfsd-data; `zkfsd zoo.cfg` reads ZooKeeper's configuration format, server.N lines
 * making it an ensemble member. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "common/log.h"
#include "zkfsd/config.h"
#include "zkfsd/net.h"
#include "zkfsd/quorum.h"
#include "zkfsd/storage.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: zkfsd [zoo.cfg]\n"
               "  Without a file: standalone on 127.0.0.1:2181, data in ./zkfsd-data.\n"
               "  With a file: ZooKeeper's zoo.cfg keys (tickTime, dataDir, clientPort, ...).\n"
               "  Log verbosity: ZKFS_LOG=debug|info|warn|error (default info).\n");
}

int main(int argc, char **argv)
{
    log_set_component("zkfsd");
    if (argc > 2 || (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))) {
        usage(argc > 2 ? stderr : stdout);
        return argc > 2 ? 2 : 0;
    }
    static struct zk_config cfg;
    char err[1024];
    if (argc == 2) {
        if (config_load(&cfg, argv[1], err, sizeof(err)) < 0) {
            LOG_ERROR("invalid configuration: %s", err);
            return 2;
        }
    } else {
        config_defaults(&cfg);
        LOG_INFO("no configuration file given: embedded default (standalone, 127.0.0.1:%d, dataDir %s)",
                 cfg.client_port, cfg.data_dir);
    }
    /* every client is a descriptor: take what the hard limit allows, as the JVM does */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct net *n = net_new(&cfg);
    if (!n) {
        config_free(&cfg);
        return 1;
    }
    int quorum = config_is_quorum(&cfg);
    struct storage *st = NULL;
    struct quorum *q = NULL;
    if (quorum)
        q = quorum_open(&cfg, net_server(n), net_base(n), err, sizeof(err));
    else
        st = storage_open(&cfg, net_server(n), net_base(n), NULL, err, sizeof(err));
    if (!st && !q) {
        LOG_ERROR("cannot start: %s", err);
        net_free(n);
        config_free(&cfg);
        return 1;
    }
    int rc = net_run(n);
    quorum_close(q);
    storage_close(st);
    net_free(n);
    config_free(&cfg);
    LOG_INFO("stopped");
    return rc ? 1 : 0;
}
