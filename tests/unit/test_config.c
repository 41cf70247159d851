/* Unit tests for zkfsd/config: zoo.cfg syntax (java.util.Properties), every key and its
 * invalid values, ZooKeeper's cross-key rules, server lines and myid, the four-letter-word
 * whitelist, and the `conf` dump. Files live in a mkdtemp directory removed afterwards. */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "zkfsd/config.h"

static char tmpdir[256];
static char cfgpath[512];
static char datadir[512];
static char errbuf[1024];
static char captured[16384];
static int saved_stderr = -1;

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "%s", "/tmp/zkfs-test-config-XXXXXX");
    if (!mkdtemp(tmpdir))
        return -1;
    snprintf(cfgpath, sizeof(cfgpath), "%s/zoo.cfg", tmpdir);
    snprintf(datadir, sizeof(datadir), "%s/data", tmpdir);
    return mkdir(datadir, 0700);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_file(const char *path, const char *body, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(body, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_myid(const char *text)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/myid", datadir);
    write_file(p, text, strlen(text));
}

/* The log goes to fd 2; tests that check warnings redirect it into a file. */
static void capture_start(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/stderr.log", tmpdir);
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static const char *capture_end(void)
{
    char p[600];
    snprintf(p, sizeof(p), "%s/stderr.log", tmpdir);
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(captured, 1, sizeof(captured) - 1, f);
    captured[n] = '\0';
    fclose(f);
    return captured;
}

/* Loads body (with "@DATA@" replaced by the data directory) as zoo.cfg. */
static int load_str(struct zk_config *c, const char *body)
{
    char text[8192];
    size_t o = 0;
    for (const char *s = body; *s && o + 600 < sizeof(text);) {
        if (strncmp(s, "@DATA@", 6) == 0) {
            o += (size_t)snprintf(text + o, sizeof(text) - o, "%s", datadir);
            s += 6;
        } else {
            text[o++] = *s++;
        }
    }
    text[o] = '\0';
    write_file(cfgpath, text, o);
    errbuf[0] = '\0';
    return config_load(c, cfgpath, errbuf, sizeof(errbuf));
}

static void load_ok(struct zk_config *c, const char *body)
{
    if (load_str(c, body) != 0)
        fail_msg("config_load failed: %s", errbuf);
}

/* Loads body and expects a refusal whose message contains the config file's name and
 * every string given (NULL-terminated). */
static void expect_fail(const char *body, ...)
{
    struct zk_config c;
    capture_start();
    int r = load_str(&c, body);
    capture_end();
    if (r != -1)
        fail_msg("expected a refusal for:\n%s", body);
    assert_non_null(strstr(errbuf, cfgpath));
    va_list ap;
    va_start(ap, body);
    for (const char *want; (want = va_arg(ap, const char *)) != NULL;)
        if (!strstr(errbuf, want))
            fail_msg("error \"%s\" lacks \"%s\" (config:\n%s)", errbuf, want, body);
    va_end(ap);
    assert_null(c.servers);
    assert_int_equal(c.nservers, 0);
}

#define BASE "dataDir=@DATA@\nclientPort=2181\n"

/* ------------------------------------------------------------------ defaults */

static void test_embedded_default(void **state)
{
    (void)state;
    struct zk_config c;
    memset(&c, 0x5a, sizeof(c));
    config_defaults(&c);
    assert_string_equal(c.source, "");
    assert_int_equal(c.tick_time, 2000);
    assert_string_equal(c.data_dir, "./zkfsd-data");
    assert_string_equal(c.data_log_dir, "./zkfsd-data");
    assert_int_equal(c.client_port, 2181);
    assert_string_equal(c.client_port_address, "127.0.0.1");
    assert_int_equal(c.client_port_listen_backlog, -1);
    assert_int_equal(c.max_client_cnxns, 60);
    assert_int_equal(c.min_session_timeout, 4000);
    assert_int_equal(c.max_session_timeout, 40000);
    assert_int_equal(c.init_limit, 10);
    assert_int_equal(c.sync_limit, 5);
    assert_int_equal(c.snap_count, 100000);
    assert_int_equal(c.prealloc_size_kb, 65536);
    assert_int_equal(c.force_sync, 1);
    assert_int_equal(c.snap_retain_count, 3);
    assert_int_equal(c.purge_interval_ms, 0);
    assert_int_equal(c.jute_maxbuffer, 1048575);
    assert_string_equal(c.super_digest, "");
    assert_int_equal(c.readonly_enabled, 0);
    assert_int_equal(c.peer_type, ZK_PEER_PARTICIPANT);
    assert_int_equal(c.standalone_enabled, 1);
    assert_int_equal(c.quorum_listen_on_all_ips, 0);
    assert_string_equal(c.quorum_secret, "");
    assert_int_equal(c.myid, -1);
    assert_int_equal(c.config_version, 0);
    assert_null(c.servers);
    assert_int_equal(c.nservers, 0);
    assert_false(config_is_quorum(&c));
    const char *on[] = {"ruok", "srvr", "stat", "mntr", "isro"};
    const char *off[] = {"conf", "cons", "dump", "wchs", "envi", "crst", "srst", "hash", "xxxx", ""};
    for (size_t i = 0; i < sizeof(on) / sizeof(*on); i++)
        assert_true(config_4lw_allowed(&c, on[i]));
    for (size_t i = 0; i < sizeof(off) / sizeof(*off); i++)
        assert_false(config_4lw_allowed(&c, off[i]));
    assert_false(config_4lw_allowed(&c, NULL));
    config_free(&c); /* harmless */
}

/* A minimal file gets ZooKeeper's defaults, including tickTime 3000 (DEFAULT_TICK_TIME). */
static void test_minimal_file(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, BASE);
    assert_string_equal(c.source, cfgpath);
    assert_string_equal(c.data_dir, datadir);
    assert_string_equal(c.data_log_dir, datadir);
    assert_int_equal(c.client_port, 2181);
    assert_string_equal(c.client_port_address, "");
    assert_int_equal(c.tick_time, 3000);
    assert_int_equal(c.min_session_timeout, 6000);
    assert_int_equal(c.max_session_timeout, 60000);
    assert_int_equal(c.max_client_cnxns, 60);
    assert_int_equal(c.init_limit, 0);
    assert_int_equal(c.sync_limit, 0);
    assert_int_equal(c.snap_count, 100000);
    assert_int_equal(c.prealloc_size_kb, 65536);
    assert_int_equal(c.force_sync, 1);
    assert_int_equal(c.snap_retain_count, 3);
    assert_int_equal(c.purge_interval_ms, 0);
    assert_int_equal(c.jute_maxbuffer, 1048575);
    assert_int_equal(c.myid, -1);
    assert_false(config_is_quorum(&c));
    assert_true(config_4lw_allowed(&c, "ruok"));
    assert_false(config_4lw_allowed(&c, "conf"));
    config_free(&c);
}

/* The sample zoo.cfg ZooKeeper ships, verbatim apart from dataDir. */
static void test_sample_zoo_cfg(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, "# The number of milliseconds of each tick\n"
                "tickTime=2000\n"
                "# The number of ticks that the initial \n"
                "# synchronization phase can take\n"
                "initLimit=10\n"
                "# The number of ticks that can pass between \n"
                "# sending a request and getting an acknowledgement\n"
                "syncLimit=5\n"
                "# the directory where the snapshot is stored.\n"
                "dataDir=@DATA@\n"
                "# the port at which the clients will connect\n"
                "clientPort=2181\n"
                "#maxClientCnxns=60\n"
                "#autopurge.snapRetainCount=3\n"
                "#autopurge.purgeInterval=1\n"
                "## Metrics Providers\n"
                "#metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider\n");
    assert_int_equal(c.tick_time, 2000);
    assert_int_equal(c.init_limit, 10);
    assert_int_equal(c.sync_limit, 5);
    assert_int_equal(c.min_session_timeout, 4000);
    assert_int_equal(c.max_session_timeout, 40000);
    config_free(&c);
}

/* ------------------------------------------------------------------ every key */

static void test_every_key(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, "tickTime=500\n"
                         "dataDir=@DATA@\n"
                         "dataLogDir=@DATA@/log\n"
                         "clientPort=12181\n"
                         "clientPortAddress=127.0.0.2\n"
                         "clientPortListenBacklog=128\n"
                         "maxClientCnxns=0\n"
                         "minSessionTimeout=1500\n"
                         "maxSessionTimeout=90000\n"
                         "initLimit=7\n"
                         "syncLimit=3\n"
                         "electionAlg=3\n"
                         "quorumListenOnAllIPs=TRUE\n"
                         "snapCount=5000\n"
                         "preAllocSize=1024\n"
                         "forceSync=no\n"
                         "autopurge.snapRetainCount=7\n"
                         "autopurge.purgeInterval=2\n"
                         "4lw.commands.whitelist=conf, cons\n"
                         "jute.maxbuffer=4194304\n"
                         "DigestAuthenticationProvider.superDigest=super:D/InIHSb7yEEbrWz8b9l71RjZJU=\n"
                         "readonlymode.enabled=true\n"
                         "peerType=participant\n"
                         "standaloneEnabled=true\n"
                         "reconfigEnabled=false\n"
                         "zkfs.quorum.secret=s3cret value\n"
                         "version=1a\n");
    const char *log = capture_end();
    if (r != 0)
        fail_msg("%s", errbuf);
    assert_null(strstr(log, "unknown key"));
    assert_int_equal(c.tick_time, 500);
    assert_string_equal(c.data_dir, datadir);
    char want[600];
    snprintf(want, sizeof(want), "%s/log", datadir);
    assert_string_equal(c.data_log_dir, want);
    assert_int_equal(c.client_port, 12181);
    assert_string_equal(c.client_port_address, "127.0.0.2");
    assert_int_equal(c.client_port_listen_backlog, 128);
    assert_int_equal(c.max_client_cnxns, 0);
    assert_int_equal(c.min_session_timeout, 1500);
    assert_int_equal(c.max_session_timeout, 90000);
    assert_int_equal(c.init_limit, 7);
    assert_int_equal(c.sync_limit, 3);
    assert_int_equal(c.quorum_listen_on_all_ips, 1);
    assert_int_equal(c.snap_count, 5000);
    assert_int_equal(c.prealloc_size_kb, 1024);
    assert_int_equal(c.force_sync, 0);
    assert_int_equal(c.snap_retain_count, 7);
    assert_int_equal(c.purge_interval_ms, 2 * 3600 * 1000);
    assert_true(config_4lw_allowed(&c, "conf"));
    assert_true(config_4lw_allowed(&c, "cons"));
    assert_true(config_4lw_allowed(&c, "srvr")); /* always */
    assert_true(config_4lw_allowed(&c, "isro")); /* readonly mode */
    assert_false(config_4lw_allowed(&c, "ruok"));
    assert_false(config_4lw_allowed(&c, "stat"));
    assert_int_equal(c.jute_maxbuffer, 4194304);
    assert_string_equal(c.super_digest, "super:D/InIHSb7yEEbrWz8b9l71RjZJU=");
    assert_int_equal(c.readonly_enabled, 1);
    assert_int_equal(c.peer_type, ZK_PEER_PARTICIPANT);
    assert_int_equal(c.standalone_enabled, 1);
    assert_string_equal(c.quorum_secret, "s3cret value");
    assert_int_equal(c.config_version, 0x1a);
    assert_false(config_is_quorum(&c));
    config_free(&c);
}

static void test_prefixed_keys(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, BASE "zookeeper.DigestAuthenticationProvider.superDigest=super:abc=\n"
                     "zookeeper.readonlymode.enabled=true\n");
    assert_string_equal(c.super_digest, "super:abc=");
    assert_int_equal(c.readonly_enabled, 1);
    config_free(&c);
}

static void test_clamped_values(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, BASE "autopurge.snapRetainCount=1\nsnapCount=1\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_int_equal(c.snap_retain_count, 3);
    assert_int_equal(c.snap_count, 2);
    assert_non_null(strstr(log, "autopurge.snapRetainCount"));
    assert_non_null(strstr(log, "snapCount should be 2 or more"));
    config_free(&c);
}

static void test_purge_interval_units(void **state)
{
    (void)state;
    static const struct {
        const char *v;
        int64_t ms;
    } cases[] = {
        {"0", 0},       {"1", 3600000},   {"24", 86400000}, {"500ms", 500},  {"500MS", 500},   {"10s", 10000},
        {"10S", 10000}, {"30m", 1800000}, {"2h", 7200000},  {"2H", 7200000}, {"1d", 86400000}, {"24d", 24LL * 86400000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char body[256];
        struct zk_config c;
        snprintf(body, sizeof(body), BASE "autopurge.purgeInterval=%s\n", cases[i].v);
        load_ok(&c, body);
        assert_int_equal(c.purge_interval_ms, cases[i].ms);
        config_free(&c);
    }
}

static void test_session_timeouts(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, BASE "tickTime=1000\nminSessionTimeout=3000\n");
    assert_int_equal(c.min_session_timeout, 3000);
    assert_int_equal(c.max_session_timeout, 20000);
    config_free(&c);
    load_ok(&c, BASE "tickTime=1000\nmaxSessionTimeout=5000\n");
    assert_int_equal(c.min_session_timeout, 2000);
    assert_int_equal(c.max_session_timeout, 5000);
    config_free(&c);
    load_ok(&c, BASE "minSessionTimeout=-1\nmaxSessionTimeout=-1\ntickTime=100\n");
    assert_int_equal(c.min_session_timeout, 200);
    assert_int_equal(c.max_session_timeout, 2000);
    config_free(&c);
    load_ok(&c, BASE "minSessionTimeout=7000\nmaxSessionTimeout=7000\n");
    assert_int_equal(c.min_session_timeout, 7000);
    assert_int_equal(c.max_session_timeout, 7000);
    config_free(&c);
    /* Java's int arithmetic would wrap; we clamp */
    load_ok(&c, BASE "tickTime=2147483647\n");
    assert_int_equal(c.min_session_timeout, 2147483647);
    assert_int_equal(c.max_session_timeout, 2147483647);
    config_free(&c);
    expect_fail(BASE "minSessionTimeout=5000\nmaxSessionTimeout=4000\n", ":3:", "minSessionTimeout", "5000", "4000",
                NULL);
    expect_fail(BASE "tickTime=2000\nminSessionTimeout=50000\n", ":4:", "50000", "40000", NULL);
    expect_fail(BASE "tickTime=2000\nmaxSessionTimeout=3000\n", ":4:", "4000", "3000", NULL);
}

static void test_client_port_zero_and_ipv6(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, "dataDir=@DATA@\nclientPort=0\nclientPortAddress=[::1]\n");
    assert_int_equal(c.client_port, 0);
    assert_string_equal(c.client_port_address, "::1");
    config_free(&c);
    load_ok(&c, "dataDir=@DATA@\nclientPort=65535\nclientPortAddress=localhost\n");
    assert_int_equal(c.client_port, 65535);
    assert_string_equal(c.client_port_address, "localhost");
    config_free(&c);
}

/* ------------------------------------------------------------------ syntax */

static void test_properties_syntax(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, "# comment\n"
                "! another comment\n"
                "   # indented comment\n"
                "\n"
                "   \t \n"
                "dataDir = @DATA@   \n"
                "\tclientPort:\t2182\n"
                "tickTime 1000\n"
                "maxClientCnxns   =   7\n"
                "initLimit=\\\n"
                "    12\n"
                "syncLimit=\\u0034\n"
                "zkfs.quorum.secret=a\\tb\\\\c\\=d\\u00e9#not a comment\n"
                "DigestAuthenticationProvider.superDigest = super:x\\\n"
                "   # continued, not a comment\n"
                "# a comment line does not continue \\\n"
                "snapCount=10\n");
    assert_string_equal(c.data_dir, datadir);
    assert_int_equal(c.client_port, 2182);
    assert_int_equal(c.tick_time, 1000);
    assert_int_equal(c.max_client_cnxns, 7);
    assert_int_equal(c.init_limit, 12);
    assert_int_equal(c.sync_limit, 4);
    assert_int_equal(c.snap_count, 10);
    assert_string_equal(c.quorum_secret, "a\tb\\c=d\xc3\xa9#not a comment");
    assert_string_equal(c.super_digest, "super:x# continued, not a comment");
    config_free(&c);

    /* blanks, then one ':' or '=' separate key and value: a second one belongs to the value */
    expect_fail(BASE "minSessionTimeout : =2500\n", ":3:", "minSessionTimeout", "=2500", NULL);
}

static void test_line_endings(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, "dataDir=@DATA@\r\nclientPort=2183\r\ntickTime=900\rmaxClientCnxns=9");
    assert_int_equal(c.client_port, 2183);
    assert_int_equal(c.tick_time, 900);
    assert_int_equal(c.max_client_cnxns, 9);
    config_free(&c);
    /* the line numbers in messages count \r\n, \r and \n alike */
    expect_fail("dataDir=@DATA@\r\nclientPort=2183\rtickTime=x\n", ":3:", "tickTime", NULL);
    /* a continuation at the end of the file */
    load_ok(&c, BASE "tickTime=12\\\n");
    assert_int_equal(c.tick_time, 12);
    config_free(&c);
    /* a continuation followed by an empty line ends the logical line */
    load_ok(&c, BASE "tickTime=13\\\n\nmaxClientCnxns=4\n");
    assert_int_equal(c.tick_time, 13);
    assert_int_equal(c.max_client_cnxns, 4);
    config_free(&c);
}

static void test_duplicate_key_last_wins(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, BASE "tickTime=1000\ntickTime=1500\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_int_equal(c.tick_time, 1500);
    assert_non_null(strstr(log, "tickTime repeats line 3"));
    config_free(&c);
    /* an invalid value overridden later is never judged, as with Properties */
    load_ok(&c, BASE "tickTime=bad\ntickTime=1700\n");
    assert_int_equal(c.tick_time, 1700);
    config_free(&c);
}

static void test_unknown_keys(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, BASE "frobnicate=7\nadmin.serverPort=8080\nlocalSessionsEnabled=true\n"
                              "a\\=b=c\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_non_null(strstr(log, "WARN"));
    assert_non_null(strstr(log, ":3: unknown key frobnicate ignored"));
    assert_non_null(strstr(log, ":4: key admin.serverPort ignored"));
    assert_non_null(strstr(log, ":5: key localSessionsEnabled ignored"));
    assert_non_null(strstr(log, ":6: unknown key a=b ignored"));
    config_free(&c);
}

static void test_bad_files(void **state)
{
    (void)state;
    struct zk_config c;
    char missing[600];
    snprintf(missing, sizeof(missing), "%s/nope.cfg", tmpdir);
    assert_int_equal(config_load(&c, missing, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, missing));
    assert_non_null(strstr(errbuf, "No such file"));
    assert_int_equal(config_load(&c, NULL, errbuf, sizeof(errbuf)), -1);
    /* no error buffer is fine */
    assert_int_equal(config_load(&c, missing, NULL, 0), -1);

    write_file(cfgpath, "dataDir=/x\nclient\0Port=1\n", 25);
    assert_int_equal(config_load(&c, cfgpath, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, ":2: contains a NUL byte"));

    /* a directory is not a configuration file */
    assert_int_equal(config_load(&c, tmpdir, errbuf, sizeof(errbuf)), -1);
    assert_non_null(strstr(errbuf, tmpdir));

    expect_fail(BASE "tickTime=\\u12\n", ":3:", "malformed \\uxxxx", NULL);
    expect_fail(BASE "tickTime=\\u0000\n", ":3:", "NUL", NULL);
    expect_fail(BASE "zkfs.quorum.secret=\\uD800x\n", ":3:", "\\uDC00", NULL);
    expect_fail(BASE "zkfs.quorum.secret=\\uDC00\n", ":3:", "unpaired", NULL);
    /* a truncated error buffer still ends in NUL */
    char small[16];
    memset(small, 'x', sizeof(small));
    assert_int_equal(config_load(&c, missing, small, sizeof(small)), -1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
}

/* ------------------------------------------------------------------ invalid values */

static void test_invalid_values(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *key;
        const char *value;
        const char *why;
    } cases[] = {
        {"clientPort=abc", "clientPort", "abc", "not an integer"},
        {"clientPort=", "clientPort", "''", "not an integer"},
        {"clientPort=65536", "clientPort", "65536", "between 0 and 65535"},
        {"clientPort=-1", "clientPort", "-1", "between 0 and 65535"},
        {"clientPort=21 81", "clientPort", "21 81", "not an integer"},
        {"clientPort=0x50", "clientPort", "0x50", "not an integer"},
        {"clientPort=99999999999999999999", "clientPort", "9999", "between"},
        {"clientPortAddress=", "clientPortAddress", "''", "empty"},
        {"clientPortAddress=[]", "clientPortAddress", "[]", "empty"},
        {"clientPortListenBacklog=-2", "clientPortListenBacklog", "-2", "between -1"},
        {"tickTime=-1", "tickTime", "-1", "between 1 and"},
        {"tickTime=0", "tickTime", "'0'", "between 1 and"},
        {"tickTime=2000ms", "tickTime", "2000ms", "not an integer"},
        {"tickTime=2147483648", "tickTime", "2147483648", "between 1 and 2147483647"},
        {"dataDir=", "dataDir", "''", "empty"},
        {"dataLogDir=", "dataLogDir", "''", "empty"},
        {"maxClientCnxns=-5", "maxClientCnxns", "-5", "between 0"},
        {"maxClientCnxns=many", "maxClientCnxns", "many", "not an integer"},
        {"minSessionTimeout=-2", "minSessionTimeout", "-2", "between -1"},
        {"maxSessionTimeout=abc", "maxSessionTimeout", "abc", "not an integer"},
        {"initLimit=-1", "initLimit", "-1", "between 0"},
        {"syncLimit=x", "syncLimit", "'x'", "not an integer"},
        {"electionAlg=1", "electionAlg", "'1'", "only electionAlg 3"},
        {"electionAlg=fast", "electionAlg", "fast", "not an integer"},
        {"peerType=leader", "peerType", "leader", "participant or observer"},
        {"standaloneEnabled=yes", "standaloneEnabled", "yes", "'true' or 'false'"},
        {"quorumListenOnAllIPs=1", "quorumListenOnAllIPs", "'1'", "'true' or 'false'"},
        {"readonlymode.enabled=on", "readonlymode.enabled", "on", "'true' or 'false'"},
        {"reconfigEnabled=maybe", "reconfigEnabled", "maybe", "'true' or 'false'"},
        {"multiAddress.enabled=perhaps", "multiAddress.enabled", "perhaps", "'true' or 'false'"},
        {"autopurge.snapRetainCount=x", "autopurge.snapRetainCount", "'x'", "not an integer"},
        {"autopurge.purgeInterval=x", "autopurge.purgeInterval", "'x'", "suffix"},
        {"autopurge.purgeInterval=", "autopurge.purgeInterval", "''", "empty"},
        {"autopurge.purgeInterval=-1", "autopurge.purgeInterval", "-1", "negative"},
        {"autopurge.purgeInterval=5y", "autopurge.purgeInterval", "5y", "suffix"},
        {"autopurge.purgeInterval=h", "autopurge.purgeInterval", "'h'", "not a time interval"},
        {"autopurge.purgeInterval=1000h", "autopurge.purgeInterval", "1000h", "longer than"},
        {"autopurge.purgeInterval=597", "autopurge.purgeInterval", "597", "longer than"},
        {"snapCount=many", "snapCount", "many", "not an integer"},
        {"preAllocSize=-1", "preAllocSize", "-1", "between 0"},
        {"preAllocSize=64M", "preAllocSize", "64M", "not an integer"},
        {"forceSync=true", "forceSync", "true", "'yes' or 'no'"},
        {"forceSync=NO", "forceSync", "NO", "'yes' or 'no'"},
        {"forceSync=", "forceSync", "''", "'yes' or 'no'"},
        {"jute.maxbuffer=0", "jute.maxbuffer", "'0'", "between 1"},
        {"jute.maxbuffer=-1", "jute.maxbuffer", "-1", "between 1"},
        {"jute.maxbuffer=1M", "jute.maxbuffer", "1M", "not an integer"},
        {"DigestAuthenticationProvider.superDigest=nocolon", "superDigest", "nocolon", "user:"},
        {"DigestAuthenticationProvider.superDigest=", "superDigest", "''", "empty"},
        {"zkfs.quorum.secret=", "zkfs.quorum.secret", "''", "empty"},
        {"version=xyz", "version", "xyz", "hexadecimal"},
        {"version=-1", "version", "-1", "hexadecimal"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char body[512];
        snprintf(body, sizeof(body), BASE "%s\n", cases[i].line);
        expect_fail(body, ":3:", cases[i].key, cases[i].value, cases[i].why, NULL);
    }
    char longval[ZK_CFG_PATH_MAX + 64];
    memset(longval, 'd', sizeof(longval));
    memcpy(longval, "dataDir=/", 9);
    snprintf(longval + sizeof(longval) - 2, 2, "\n");
    expect_fail(longval, ":1:", "dataDir", "longer than 4095 bytes", NULL);
}

static void test_structural_keys(void **state)
{
    (void)state;
    expect_fail(BASE "dynamicConfigFile=/etc/zoo.cfg.dynamic\n", ":3:", "dynamicConfigFile", "not supported", NULL);
    expect_fail(BASE "group.1=1:2:3\n", ":3:", "group.1", "hierarchical", NULL);
    expect_fail(BASE "weight.1=1\n", ":3:", "weight.1", "hierarchical", NULL);
}

/* ------------------------------------------------------------------ relationships */

static void test_required_keys(void **state)
{
    (void)state;
    expect_fail("clientPort=2181\n", "dataDir is not set", NULL);
    expect_fail("dataDir=@DATA@\n", "clientPort is not set", NULL);
    expect_fail("dataDir=@DATA@\nclientPortAddress=127.0.0.1\n",
                ":2:", "clientPortAddress is set but clientPort is not set", NULL);
}

static void test_relative_dir_warning(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, "dataDir=relative/dir\ndataLogDir=./fine\nclientPort=1\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_non_null(strstr(log, "relative/dir is relative"));
    assert_null(strstr(log, "./fine is relative"));
    config_free(&c);
}

/* ------------------------------------------------------------------ server lines */

#define QUORUM3                                                                                                        \
    "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=@DATA@\nclientPort=2181\n"                                      \
    "server.1=zk1.example:2888:3888\n"                                                                                 \
    "server.2=10.0.0.2:2889:3889:participant;2182\n"                                                                   \
    "server.3=[fe80::1]:2890:3890:observer;[::1]:2183\n"                                                               \
    "server.4=zk4:2891:3891;127.0.0.1:2184\n"

static void test_servers_parsed(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("1\n");
    load_ok(&c, QUORUM3);
    assert_true(config_is_quorum(&c));
    assert_int_equal(c.myid, 1);
    assert_int_equal(c.nservers, 4);
    const struct zk_server_entry *s = config_server(&c, 1);
    assert_non_null(s);
    assert_string_equal(s->host, "zk1.example");
    assert_int_equal(s->quorum_port, 2888);
    assert_int_equal(s->election_port, 3888);
    assert_false(s->observer);
    assert_false(s->has_client);
    s = config_server(&c, 2);
    assert_string_equal(s->host, "10.0.0.2");
    assert_int_equal(s->quorum_port, 2889);
    assert_int_equal(s->election_port, 3889);
    assert_false(s->observer);
    assert_true(s->has_client);
    assert_string_equal(s->client_host, "0.0.0.0");
    assert_int_equal(s->client_port, 2182);
    s = config_server(&c, 3);
    assert_string_equal(s->host, "fe80::1");
    assert_true(s->observer);
    assert_string_equal(s->client_host, "::1");
    assert_int_equal(s->client_port, 2183);
    s = config_server(&c, 4);
    assert_string_equal(s->client_host, "127.0.0.1");
    assert_int_equal(s->client_port, 2184);
    assert_null(config_server(&c, 5));
    /* server 1's line has no client part: clientPort applies */
    assert_int_equal(c.client_port, 2181);
    assert_int_equal(c.peer_type, ZK_PEER_PARTICIPANT);
    config_free(&c);
    assert_null(c.servers);
    assert_int_equal(c.nservers, 0);
    config_free(&c);
}

static void test_servers_sorted_and_cased(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("  7 \r\n");
    load_ok(&c, "initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=2181\n"
                "server.9=h9:1:2:OBSERVER\nserver.7=h7:1:2:Participant\nserver.+0=h0:1:2\n");
    assert_int_equal(c.myid, 7);
    assert_int_equal(c.nservers, 3);
    assert_int_equal(c.servers[0].id, 0);
    assert_int_equal(c.servers[1].id, 7);
    assert_int_equal(c.servers[2].id, 9);
    assert_true(c.servers[2].observer);
    assert_true(config_is_quorum(&c));
    config_free(&c);
}

static void test_client_address_from_server_line(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("2");
    /* no clientPort: server 2's line gives it */
    load_ok(&c, "initLimit=5\nsyncLimit=2\ndataDir=@DATA@\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888;127.0.0.1:3181\nserver.3=c:2888:3888\n");
    assert_int_equal(c.client_port, 3181);
    assert_string_equal(c.client_port_address, "127.0.0.1");
    config_free(&c);
    /* agreeing static settings are fine; a wildcard static address only compares ports */
    load_ok(&c, "initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=3181\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888;127.0.0.1:3181\nserver.3=c:2888:3888\n");
    assert_string_equal(c.client_port_address, "127.0.0.1");
    config_free(&c);
    load_ok(&c, "initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=3181\nclientPortAddress=127.0.0.1\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888;127.0.0.1:3181\nserver.3=c:2888:3888\n");
    config_free(&c);
    expect_fail("initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=2181\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888;3181\nserver.3=c:2888:3888\n",
                "client address", "id 2", "2181", "3181", "line 6", NULL);
    expect_fail("initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=3181\nclientPortAddress=10.1.1.1\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888;127.0.0.1:3181\nserver.3=c:2888:3888\n",
                "10.1.1.1:3181", "127.0.0.1:3181", NULL);
    /* no clientPort and this server's line has no client part */
    expect_fail("initLimit=5\nsyncLimit=2\ndataDir=@DATA@\n"
                "server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n",
                "clientPort is not set", NULL);
}

static void test_peer_type_from_server_list(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("3");
    capture_start();
    int r = load_str(&c, "initLimit=5\nsyncLimit=2\ndataDir=@DATA@\nclientPort=2181\npeerType=participant\n"
                         "server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888:observer\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_int_equal(c.peer_type, ZK_PEER_OBSERVER);
    assert_non_null(strstr(log, "does not match"));
    config_free(&c);
}

static void test_bad_server_lines(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        const char *want1, *want2;
    } cases[] = {
        {"server.x=h:2888:3888", "server.x", "not a number"},
        {"server.=h:2888:3888", "server.", "not a number"},
        {"server.-1=h:2888:3888", "server.-1", "between 0 and 255"},
        {"server.256=h:2888:3888", "server.256", "between 0 and 255"},
        {"server.1=h:2888", "h:2888", "host:quorumPort:electionPort"},
        {"server.1=h", "'h'", "host:quorumPort"},
        {"server.1=", "''", "host:quorumPort"},
        {"server.1=h:2888:3888:leader", "leader", "peer type"},
        {"server.1=h:2888:3888:participant:x", "x", "too many"},
        {"server.1=h:abc:3888", "quorum port 'abc'", "not a number"},
        {"server.1=h:2888:xyz", "election port 'xyz'", "not a number"},
        {"server.1=h:0:3888", "quorum port 0", "out of range"},
        {"server.1=h:2888:65536", "election port 65536", "out of range"},
        {"server.1=h:2888:2888", "h:2888:2888", "must be different"},
        {"server.1=:2888:3888", ":2888:3888", "empty host"},
        {"server.1=h:2888:3888;x", "client port 'x'", "not a number"},
        {"server.1=h:2888:3888;h:1:2", "client address", "too many"},
        {"server.1=h:2888:3888;:2181", "empty client host", NULL},
        {"server.1=h:2888:3888;70000", "client port 70000", "out of range"},
        {"server.1=h:2888:3888;1;2;3", "h:2888:3888;1;2;3", "host:quorumPort"},
        {"server.1=[::1:2888:3888", "no matching ']'", NULL},
        {"server.1=[::1]2888:3888", "[::1]2888:3888", "port after"},
        {"server.1=[::1]:", "port after", NULL},
        {"server.1=h1:2888:3888|h2:2888:3888", "multiAddress", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        char body[512];
        snprintf(body, sizeof(body), BASE "%s\n", cases[i].line);
        expect_fail(body, ":3:", cases[i].want1, cases[i].want2, NULL);
    }
}

static void test_duplicate_server_ids(void **state)
{
    (void)state;
    expect_fail(BASE "server.1=a:2888:3888\nserver.1=b:2888:3888\n", ":4:", "server.1", "duplicate server id", "line 3",
                NULL);
    expect_fail(BASE "server.1=a:2888:3888\nserver.2=c:2888:3888\nserver.01=b:2888:3888\n", ":5:", "server.01",
                "duplicate server id 1", "line 3", NULL);
}

static void test_quorum_rules(void **state)
{
    (void)state;
    struct zk_config c;
    const char *three = "server.1=a:2888:3888\nserver.2=b:2888:3888\nserver.3=c:2888:3888\n";
    char body[1024];

    /* myid missing in an ensemble */
    snprintf(body, sizeof(body), "initLimit=5\nsyncLimit=2\n" BASE "%s", three);
    expect_fail(body, "myid file is missing", datadir, NULL);

    write_myid("4\n");
    expect_fail(body, "myid 4", "server.4", NULL);
    write_myid("one\n");
    expect_fail(body, "serverid 'one'", "not a number", NULL);
    write_myid("");
    expect_fail(body, "serverid ''", NULL);

    write_myid("2\n");
    snprintf(body, sizeof(body), "syncLimit=2\n" BASE "%s", three);
    expect_fail(body, "initLimit is not set", NULL);
    snprintf(body, sizeof(body), "initLimit=2\n" BASE "%s", three);
    expect_fail(body, "syncLimit is not set", NULL);

    /* a single participant runs standalone: myid and the limits are not needed */
    char p[600];
    snprintf(p, sizeof(p), "%s/myid", datadir);
    unlink(p);
    capture_start();
    int r = load_str(&c, BASE "server.1=a:2888:3888\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_false(config_is_quorum(&c));
    assert_non_null(strstr(log, "only one server specified"));
    config_free(&c);

    /* ... unless standaloneEnabled=false: then it is an ensemble of one */
    write_myid("1");
    load_ok(&c, "standaloneEnabled=false\ninitLimit=5\nsyncLimit=2\n" BASE "server.1=a:2888:3888\n");
    assert_true(config_is_quorum(&c));
    config_free(&c);
    expect_fail("standaloneEnabled=false\n" BASE, "standaloneEnabled=false", "participant", NULL);

    expect_fail(BASE "server.1=a:2888:3888:observer\n", "observers without participants", NULL);
    expect_fail(BASE "server.1=a:2888:3888\nserver.2=b:2888:3888:observer\n", "observers without a quorum", NULL);

    /* two participants are a (fragile) ensemble */
    write_myid("2");
    capture_start();
    r = load_str(&c, "initLimit=5\nsyncLimit=2\n" BASE "server.1=a:2888:3888\nserver.2=b:2888:3888\n");
    log = capture_end();
    assert_int_equal(r, 0);
    assert_true(config_is_quorum(&c));
    assert_non_null(strstr(log, "no server failure will be tolerated"));
    config_free(&c);

    /* a myid file in a standalone setup is read (and must be a number), as in Java */
    write_myid("x");
    expect_fail(BASE, "serverid 'x'", NULL);
    write_myid("42");
    load_ok(&c, BASE);
    assert_int_equal(c.myid, 42);
    assert_false(config_is_quorum(&c));
    config_free(&c);
}

static void test_secure_client_part_ignored(void **state)
{
    (void)state;
    struct zk_config c;
    capture_start();
    int r = load_str(&c, BASE "server.1=a:2888:3888;2181;2281\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_non_null(strstr(log, "secure client port ignored"));
    config_free(&c);
}

/* ------------------------------------------------------------------ 4lw */

static void test_whitelist(void **state)
{
    (void)state;
    struct zk_config c;
    load_ok(&c, BASE "4lw.commands.whitelist=*\n");
    const char *all[] = {"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
                         "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"};
    for (size_t i = 0; i < sizeof(all) / sizeof(*all); i++)
        assert_true(config_4lw_allowed(&c, all[i]));
    assert_false(config_4lw_allowed(&c, "abcd"));
    assert_false(config_4lw_allowed(&c, "ruokx"));
    config_free(&c);

    load_ok(&c, BASE "4lw.commands.whitelist=stat, ruok ,,conf\n");
    assert_true(config_4lw_allowed(&c, "stat"));
    assert_true(config_4lw_allowed(&c, "ruok"));
    assert_true(config_4lw_allowed(&c, "conf"));
    assert_true(config_4lw_allowed(&c, "srvr"));
    assert_false(config_4lw_allowed(&c, "mntr"));
    assert_false(config_4lw_allowed(&c, "isro"));
    config_free(&c);

    load_ok(&c, BASE "4lw.commands.whitelist=ruok, *\n");
    assert_true(config_4lw_allowed(&c, "dump"));
    config_free(&c);

    /* empty: only what ZooKeeper always enables */
    load_ok(&c, BASE "4lw.commands.whitelist=\n");
    assert_true(config_4lw_allowed(&c, "srvr"));
    assert_false(config_4lw_allowed(&c, "ruok"));
    assert_false(config_4lw_allowed(&c, "isro"));
    config_free(&c);
    load_ok(&c, BASE "4lw.commands.whitelist=\nreadonlymode.enabled=true\n");
    assert_true(config_4lw_allowed(&c, "isro"));
    config_free(&c);

    capture_start();
    int r = load_str(&c, BASE "4lw.commands.whitelist=ruok, nope, Stat\n");
    const char *log = capture_end();
    assert_int_equal(r, 0);
    assert_non_null(strstr(log, "unknown four-letter word 'nope'"));
    assert_non_null(strstr(log, "unknown four-letter word 'Stat'")); /* case matters */
    assert_true(config_4lw_allowed(&c, "ruok"));
    assert_false(config_4lw_allowed(&c, "stat"));
    config_free(&c);
}

/* ------------------------------------------------------------------ conf */

static void test_dump_standalone(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("3");
    load_ok(&c, "dataDir=@DATA@\nclientPort=2181\ntickTime=2000\nzkfs.quorum.secret=hush\n"
                "DigestAuthenticationProvider.superDigest=super:xyz\n");
    struct config_runtime rt = CONFIG_RUNTIME_INIT;
    rt.client_port = 40000;
    rt.data_dir_size = 123;
    rt.data_log_size = 456;
    char out[4096], want[4096];
    int n = config_dump(&c, &rt, out, sizeof(out));
    snprintf(want, sizeof(want),
             "clientPort=40000\n"
             "secureClientPort=-1\n"
             "dataDir=%s/version-2\n"
             "dataDirSize=123\n"
             "dataLogDir=%s/version-2\n"
             "dataLogSize=456\n"
             "tickTime=2000\n"
             "maxClientCnxns=60\n"
             "minSessionTimeout=4000\n"
             "maxSessionTimeout=40000\n"
             "clientPortListenBacklog=-1\n"
             "serverId=0\n",
             datadir, datadir);
    assert_string_equal(out, want);
    assert_int_equal(n, (int)strlen(want));
    assert_null(strstr(out, "hush"));
    assert_null(strstr(out, "xyz"));

    /* snprintf-like truncation */
    char tiny[11];
    assert_int_equal(config_dump(&c, &rt, tiny, sizeof(tiny)), n);
    assert_string_equal(tiny, "clientPort");
    assert_int_equal(config_dump(&c, &rt, NULL, 0), n);

    /* without runtime facts: configured port, sizes measured under version-2 */
    char sub[600], file[700];
    snprintf(sub, sizeof(sub), "%s/version-2", datadir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof(file), "%s/log.1", sub);
    write_file(file, "0123456789", 10);
    snprintf(sub, sizeof(sub), "%s/version-2/nested", datadir);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(file, sizeof(file), "%s/snap.1", sub);
    write_file(file, "abc", 3);
    n = config_dump(&c, NULL, out, sizeof(out));
    assert_true(n > 0);
    assert_non_null(strstr(out, "clientPort=2181\n"));
    assert_non_null(strstr(out, "dataDirSize=13\n"));
    assert_non_null(strstr(out, "dataLogSize=13\n"));

    /* FILE* form */
    char path[600];
    snprintf(path, sizeof(path), "%s/dump.txt", tmpdir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    assert_int_equal(config_fdump(&c, NULL, f), 0);
    rewind(f);
    char back[4096];
    size_t m = fread(back, 1, sizeof(back) - 1, f);
    back[m] = '\0';
    fclose(f);
    assert_string_equal(back, out);
    config_free(&c);
}

static void test_dump_relative_dir(void **state)
{
    (void)state;
    struct zk_config c;
    config_defaults(&c);
    char old[1024], cwd[1024], out[4096], want[2048];
    assert_non_null(getcwd(old, sizeof(old)));
    assert_int_equal(chdir(tmpdir), 0);
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    int n = config_dump(&c, NULL, out, sizeof(out));
    assert_int_equal(chdir(old), 0);
    assert_true(n > 0);
    snprintf(want, sizeof(want), "dataDir=%s/./zkfsd-data/version-2\n", cwd);
    assert_non_null(strstr(out, want));
    assert_non_null(strstr(out, "dataDirSize=0\n")); /* absent directory */
    assert_non_null(strstr(out, "clientPort=2181\n"));
    assert_non_null(strstr(out, "tickTime=2000\nmaxClientCnxns=60\nminSessionTimeout=4000\n"));
    /* "dir//x/" becomes "dir/x" as java.io.File normalises it */
    snprintf(c.data_dir, sizeof(c.data_dir), "%s", "/var//lib/zk/");
    assert_true(config_dump(&c, NULL, out, sizeof(out)) > 0);
    assert_non_null(strstr(out, "dataDir=/var/lib/zk/version-2\n"));
}

static void test_dump_quorum(void **state)
{
    (void)state;
    struct zk_config c;
    write_myid("2");
    load_ok(&c, "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=@DATA@\n"
                "maxClientCnxns=100\nversion=100000000\n"
                "server.3=[fe80::1]:2890:3890:observer;[::1]:2183\n"
                "server.1=zk1:2888:3888\n"
                "server.2=zk2:2889:3889;0.0.0.0:2182\n"
                "server.4=zk4:2891:3891\n");
    struct config_runtime rt = CONFIG_RUNTIME_INIT;
    rt.data_dir_size = 0;
    rt.data_log_size = 0;
    char out[4096], want[4096];
    config_dump(&c, &rt, out, sizeof(out));
    snprintf(want, sizeof(want),
             "clientPort=2182\n"
             "secureClientPort=-1\n"
             "dataDir=%s/version-2\n"
             "dataDirSize=0\n"
             "dataLogDir=%s/version-2\n"
             "dataLogSize=0\n"
             "tickTime=2000\n"
             "maxClientCnxns=100\n"
             "minSessionTimeout=4000\n"
             "maxSessionTimeout=40000\n"
             "clientPortListenBacklog=-1\n"
             "serverId=2\n"
             "initLimit=10\n"
             "syncLimit=5\n"
             "electionAlg=3\n"
             "electionPort=3889\n"
             "quorumPort=2889\n"
             "peerType=0\n"
             "membership: \n"
             "server.1=zk1:2888:3888:participant\n"
             "server.2=zk2:2889:3889:participant;0.0.0.0:2182\n"
             "server.3=[fe80::1]:2890:3890:observer;[::1]:2183\n"
             "server.4=zk4:2891:3891:participant\n"
             "version=100000000",
             datadir, datadir);
    assert_string_equal(out, want);
    /* the runtime may know a newer membership version */
    rt.config_version = 0x200000005LL;
    config_dump(&c, &rt, out, sizeof(out));
    assert_non_null(strstr(out, "\nversion=200000005"));
    config_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_embedded_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_minimal_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sample_zoo_cfg, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefixed_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clamped_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_interval_units, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_port_zero_and_ipv6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_properties_syntax, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_endings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_key_last_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_files, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_structural_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_required_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_relative_dir_warning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servers_parsed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_servers_sorted_and_cased, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_address_from_server_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_type_from_server_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_server_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_server_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quorum_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_secure_client_part_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whitelist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_standalone, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_relative_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dump_quorum, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
