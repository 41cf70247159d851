/* zkfsd's configuration: ZooKeeper's zoo.cfg (Java properties syntax) read with the
 * rules of QuorumPeerConfig.parseProperties and the system properties zoo.cfg sets
 * (snapCount, preAllocSize, forceSync, 4lw.commands.whitelist...), the embedded default
 * used when zkfsd runs without a file, and the `conf` four-letter word's dump.
 * A file that ZooKeeper would reject is rejected, with the file, line, key and value named;
 * values ZooKeeper silently accepts but that cannot work (negative ports, "forceSync=NO")
 * are rejected too. */
#ifndef ZKFS_CONFIG_H
#define ZKFS_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ZooKeeper keeps snapshots and logs in this subdirectory of dataDir / dataLogDir; the
 * `conf` output names it, so the storage code should use the same. */
#define ZK_DATA_SUBDIR "version-2"

#define ZK_CFG_PATH_MAX 4096   /* dataDir, dataLogDir, the file name */
#define ZK_CFG_HOST_MAX 256    /* a host name (253) or an IPv6 literal, plus NUL */
#define ZK_CFG_SECRET_MAX 1024 /* superDigest, zkfs.quorum.secret */
#define ZK_MAX_SERVER_ID 255   /* session ids carry the server id in their top byte */

/* ZooKeeper's tickTime when a file does not set it (ZooKeeperServer.DEFAULT_TICK_TIME);
 * the embedded default uses the sample zoo.cfg's 2000 instead. */
#define ZK_DEFAULT_TICK_TIME 3000

enum zk_peer_type { ZK_PEER_PARTICIPANT = 0, ZK_PEER_OBSERVER = 1 }; /* LearnerType ordinals */

/* One `server.N=host:quorumPort:electionPort[:type][;[clientHost:]clientPort]` line. */
struct zk_server_entry {
    int64_t id;                        /* N, 0..ZK_MAX_SERVER_ID */
    char host[ZK_CFG_HOST_MAX];        /* IPv6 literals without their brackets */
    int quorum_port;                   /* followers connect to the leader here, 1..65535 */
    int election_port;                 /* leader election, 1..65535, != quorum_port */
    int observer;                      /* 1 for ":observer", 0 for a participant */
    int has_client;                    /* the line had a client part */
    char client_host[ZK_CFG_HOST_MAX]; /* "0.0.0.0" when the client part is a bare port */
    int client_port;                   /* 0..65535 when has_client */
};

struct zk_config {
    char source[ZK_CFG_PATH_MAX]; /* the file read, "" for the embedded default */
    int tick_time;                /* ms, > 0 */
    char data_dir[ZK_CFG_PATH_MAX];
    char data_log_dir[ZK_CFG_PATH_MAX];        /* = data_dir unless set */
    int client_port;                           /* 0..65535 (0: any free port), -1 if none */
    char client_port_address[ZK_CFG_HOST_MAX]; /* "" = all interfaces */
    int client_port_listen_backlog;            /* -1 = the system's default */
    int max_client_cnxns;                      /* per client IP; 0 = unlimited */
    int min_session_timeout;                   /* ms; 2 x tick_time unless set */
    int max_session_timeout;                   /* ms; 20 x tick_time unless set */
    int init_limit;                            /* ticks; required in an ensemble */
    int sync_limit;                            /* ticks; required in an ensemble */
    int snap_count;                            /* txns between snapshots, >= 2 */
    int64_t prealloc_size_kb;                  /* log file growth step; 0 = none */
    int force_sync;                            /* fsync the log before acknowledging */
    int snap_retain_count;                     /* >= 3 */
    int64_t purge_interval_ms;                 /* autopurge period; 0 = never */
    uint32_t fourlw_mask;                      /* enabled four-letter words, see below */
    int jute_maxbuffer;                        /* largest packet / znode datum, bytes */
    char super_digest[ZK_CFG_SECRET_MAX];      /* "super:<base64 sha1>", "" = none */
    int readonly_enabled;                      /* readonlymode.enabled */
    int extended_types_enabled;                /* extendedTypesEnabled: TTL nodes */
    int container_check_ms;                    /* znode.container.checkIntervalMs (60000) */
    int peer_type;                             /* enum zk_peer_type */
    int standalone_enabled;                    /* a single participant runs standalone */
    int quorum_listen_on_all_ips;              /* bind quorum/election ports on 0.0.0.0 */
    char quorum_secret[ZK_CFG_SECRET_MAX];     /* zkfs.quorum.secret, "" = none */
    int64_t myid;                              /* from dataDir/myid; -1 when absent */
    int64_t config_version;                    /* the "version" key (hex), 0 if none */
    struct zk_server_entry *servers;           /* sorted by id; owned, see config_free */
    size_t nservers;
};

/* Fills c with the embedded default used when zkfsd runs without arguments: standalone,
 * clients on 127.0.0.1:2181, dataDir "./zkfsd-data", and the sample zoo.cfg's tickTime
 * 2000, initLimit 10, syncLimit 5; ZooKeeper's defaults for everything else. Allocates
 * nothing, so c needs no config_free (calling it is harmless). */
void config_defaults(struct zk_config *c);

/* Reads the zoo.cfg-style file into c (which need not be initialised) and validates it as
 * ZooKeeper does: dataDir required, a client port required (clientPort, or this server's
 * client part of its server line), minSessionTimeout <= maxSessionTimeout, server lines
 * well formed with distinct ids, myid read from dataDir when the file exists and required
 * in an ensemble, initLimit and syncLimit required in an ensemble. Unknown keys and
 * ZooKeeper keys zkfsd does not implement are logged with LOG_WARN and ignored.
 * Returns 0, or -1 with a one-line message naming the file, line, key and value in err
 * (errlen bytes, may be 0). On failure c holds nothing that needs freeing; on success
 * release it with config_free. */
int config_load(struct zk_config *c, const char *file, char *err, size_t errlen);

/* 1 when c describes an ensemble member (QuorumPeerConfig.isDistributed: more than one
 * participant, or standaloneEnabled=false), 0 for a standalone server. */
int config_is_quorum(const struct zk_config *c);

/* The entry of server id, or NULL. */
const struct zk_server_entry *config_server(const struct zk_config *c, int64_t id);

/* Frees what config_load allocated and empties the server list; c may be reused. */
void config_free(struct zk_config *c);

/* 1 when the four-letter word cmd ("ruok") may be answered, else 0. Like ZooKeeper,
 * "srvr" is always allowed and "isro" is when readonlymode.enabled is true. Without a
 * 4lw.commands.whitelist key the set is "ruok, srvr, stat, mntr, isro"; "*" allows every
 * word ZooKeeper knows (conf cons crst dirs dump envi gtmk ruok stmk srst srvr stat wchc
 * wchp wchs mntr isro hash). */
int config_4lw_allowed(const struct zk_config *c, const char *cmd);

/* What `conf` prints that the configuration alone does not know. Start from
 * CONFIG_RUNTIME_INIT and set what the server knows; negative fields take the default. */
struct config_runtime {
    int client_port;        /* the bound port (differs when clientPort=0); < 0: configured */
    int64_t data_dir_size;  /* bytes under dataDir/version-2; < 0: measured now */
    int64_t data_log_size;  /* bytes under dataLogDir/version-2; < 0: measured now */
    int64_t config_version; /* the membership version printed last; < 0: c->config_version */
};
#define CONFIG_RUNTIME_INIT ((struct config_runtime){-1, -1, -1, -1})

/* Writes the effective configuration as ZooKeeper's `conf` four-letter word prints it
 * (ZooKeeperServer.dumpConf, plus QuorumZooKeeperServer's lines and the membership in an
 * ensemble): "key=value" lines, directories absolute with "/version-2" appended. Secrets
 * are never printed. rt may be NULL (all of its defaults). config_fdump returns 0 or -1 on
 * a write error; config_dump writes at most bufsz bytes including a NUL and returns the
 * length the whole text needs (like snprintf), or -1 when out of memory. */
/* Bytes in dataDir/version-2 and dataLogDir/version-2 (the `dirs` four-letter word). */
void config_dir_sizes(const struct zk_config *c, int64_t *data, int64_t *log);

int config_fdump(const struct zk_config *c, const struct config_runtime *rt, FILE *f);
int config_dump(const struct zk_config *c, const struct config_runtime *rt, char *buf, size_t bufsz);

#endif
