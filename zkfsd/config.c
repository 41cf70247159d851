/* zoo.cfg reading and validation, the embedded default, and the `conf` dump; see config.h.
 * The file is read with java.util.Properties' rules (logical lines, '\' continuations,
 * escapes, '=' ':' or blanks between key and value) because that is what ZooKeeper's
 * QuorumPeerConfig reads; bytes above 0x7F are kept as they are (Java would read them as
 * ISO-8859-1 and mangle UTF-8 directory names). */
#include "zkfsd/config.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hmap.h"
#include "common/log.h"
#include "common/zerr.h"

#define CFG_FILE_MAX (1 << 20) /* a zoo.cfg is a few hundred bytes; refuse anything huge */
#define MYID_MAX 4096

/* Every four-letter word ZooKeeper knows (FourLetterCommands), one bit each. */
static const char *const fourlw_names[] = {
    "conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
    "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash",
};
#define N_4LW (sizeof(fourlw_names) / sizeof(fourlw_names[0]))
/* zkfs's choice when the whitelist is not configured (ZooKeeper's own is just srvr). */
#define DEFAULT_4LW "ruok, srvr, stat, mntr, isro"

static int fourlw_index(const char *cmd, size_t n)
{
    for (size_t i = 0; i < N_4LW; i++)
        if (n == 4 && memcmp(cmd, fourlw_names[i], 4) == 0)
            return (int)i;
    return -1;
}

/* ZooKeeper settings zkfsd does not implement: named apart from unknown keys so that the
 * warning says the key was understood. Entries ending in '.' are prefixes. */
static const char *const ignored_keys[] = {
    "localSessionsEnabled",
    "localSessionsUpgradingEnabled",
    "secureClientPort",
    "secureClientPortAddress",
    "observerMasterPort",
    "connectToLearnerMasterLimit",
    "syncEnabled",
    "sslQuorum",
    "portUnification",
    "sslQuorumReloadCertFiles",
    "quorum.auth.",
    "quorum.cnxn.threads.size",
    "jvm.pause.",
    "metricsProvider.",
    "multiAddress.reachabilityCheckTimeoutMs",
    "multiAddress.reachabilityCheckEnabled",
    "oraclePath",
    "admin.",
    "globalOutstandingLimit",
    "maxCnxns",
    "snapSizeLimitInKb",
    "txnLogSizeLimitInKb",
    "serverCnxnFactory",
    "authProvider.",
    "ssl.",
    "audit.enable",
    "maxResponseCacheSize",
    "maxGetChildrenResponseCacheSize",
    "fsync.warningthresholdms",
    "electionPortBindRetry",
    "skipACL",
    "sessionRequireClientSASLAuth",
    "enforceQuota",
    "extendedTypesEnabled",
    "emulate353TTLNodes",
    "digest.enabled",
    "closeSessionTxn.enabled",
    "leaderServes",
    "cnxTimeout",
    "tcpKeepAlive",
    "clientTcpKeepAlive",
    "leader.",
    "learner.",
    "flushDelay",
    "maxWriteQueuePollTime",
    "maxBatchSize",
    "requestThrottle",
    "largeRequest",
    "commitLogCount",
    "snapshot.",
    "netty.",
};

static int is_ignored_key(const char *k)
{
    for (size_t i = 0; i < sizeof(ignored_keys) / sizeof(ignored_keys[0]); i++) {
        size_t n = strlen(ignored_keys[i]);
        if (ignored_keys[i][n - 1] == '.' ? strncmp(k, ignored_keys[i], n) == 0 : strcmp(k, ignored_keys[i]) == 0)
            return 1;
    }
    return 0;
}

struct ctx;
struct prop;
static uint32_t whitelist_mask(const char *list, struct ctx *x, const struct prop *p);

/* ---------------------------------------------------------------- defaults */

static void base_defaults(struct zk_config *c)
{
    memset(c, 0, sizeof(*c));
    c->tick_time = ZK_DEFAULT_TICK_TIME;
    c->client_port = -1;
    c->client_port_listen_backlog = -1;
    c->max_client_cnxns = 60;
    c->min_session_timeout = -1;
    c->max_session_timeout = -1;
    c->snap_count = 100000;
    c->prealloc_size_kb = 65536;
    c->force_sync = 1;
    c->snap_retain_count = 3;
    c->purge_interval_ms = 0;
    c->fourlw_mask = whitelist_mask(DEFAULT_4LW, NULL, NULL);
    c->jute_maxbuffer = ZK_DEFAULT_MAXBUFFER;
    c->peer_type = ZK_PEER_PARTICIPANT;
    c->standalone_enabled = 1;
    c->myid = -1;
    c->container_check_ms = 60000;
}

void config_defaults(struct zk_config *c)
{
    base_defaults(c);
    c->tick_time = 2000;
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", "./zkfsd-data");
    snprintf(c->data_log_dir, sizeof(c->data_log_dir), "%s", c->data_dir);
    c->client_port = 2181;
    snprintf(c->client_port_address, sizeof(c->client_port_address), "%s", "127.0.0.1");
    c->min_session_timeout = 2 * c->tick_time;
    c->max_session_timeout = 20 * c->tick_time;
    c->init_limit = 10;
    c->sync_limit = 5;
}

void config_free(struct zk_config *c)
{
    free(c->servers);
    c->servers = NULL;
    c->nservers = 0;
}

int config_is_quorum(const struct zk_config *c)
{
    size_t participants = 0;
    for (size_t i = 0; i < c->nservers; i++)
        participants += !c->servers[i].observer;
    return !c->standalone_enabled || participants > 1;
}

const struct zk_server_entry *config_server(const struct zk_config *c, int64_t id)
{
    for (size_t i = 0; i < c->nservers; i++)
        if (c->servers[i].id == id)
            return &c->servers[i];
    return NULL;
}

int config_4lw_allowed(const struct zk_config *c, const char *cmd)
{
    if (!cmd)
        return 0;
    size_t n = strlen(cmd);
    if (n == 4 && (memcmp(cmd, "srvr", 4) == 0 || (c->readonly_enabled && memcmp(cmd, "isro", 4) == 0)))
        return 1; /* ZooKeeper always adds these two (zkServer.sh and read-only clients use them) */
    int i = fourlw_index(cmd, n);
    return i >= 0 && (c->fourlw_mask & (1u << i));
}

/* ---------------------------------------------------------------- reading the file */

struct prop {
    char *key;
    char *val;
    int line; /* where its logical line starts */
    int dead; /* a later line set the same key */
};

struct ctx {
    struct zk_config *c;
    const char *file;
    char *err;
    size_t errlen;
    struct prop *props;
    size_t nprops, cap;
    struct hmap last; /* key -> index + 1 of its latest prop */
    int server_line[ZK_MAX_SERVER_ID + 1];
    const struct prop *p_data_dir, *p_data_log_dir, *p_client_port, *p_client_addr;
    const struct prop *p_min, *p_max, *p_peer_type;
};

static int failf(struct ctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int failf(struct ctx *x, const char *fmt, ...)
{
    if (x->err && x->errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(x->err, x->errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* "<file>:<line>: <key>: bad value '<value>': <why>" */
static int bad(struct ctx *x, const struct prop *p, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(struct ctx *x, const struct prop *p, const char *fmt, ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    /* a huge value would push the reason out of the caller's buffer */
    int shown = strlen(p->val) > 80 ? 60 : 80;
    return failf(x, "%s:%d: %s: bad value '%.*s%s': %s", x->file, p->line, p->key, shown, p->val,
                 strlen(p->val) > 80 ? "..." : "", why);
}

static int is_blank(int c)
{
    return c == ' ' || c == '\t' || c == '\f';
}

/* One natural line of buf starting at *pos: [*b, *e), terminated by \n, \r or \r\n. */
static int natural_line(const char *buf, size_t len, size_t *pos, size_t *b, size_t *e)
{
    if (*pos >= len)
        return 0;
    size_t i = *pos;
    *b = i;
    while (i < len && buf[i] != '\n' && buf[i] != '\r')
        i++;
    *e = i;
    if (i < len && buf[i] == '\r' && i + 1 < len && buf[i + 1] == '\n')
        i++;
    *pos = i < len ? i + 1 : i;
    return 1;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int read_u4(const char *s, size_t n, size_t i, unsigned *out)
{
    if (i + 4 > n)
        return -1;
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval((unsigned char)s[i + k]);
        if (h < 0)
            return -1;
        v = v << 4 | (unsigned)h;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Properties.loadConvert, then String.trim(): resolves escapes (\uXXXX to UTF-8, \t \n
 * \r \f, any other escaped character stands for itself) and strips bytes <= ' ' at both
 * ends. Returns a malloc'd string, or NULL with *why set. */
static char *unescape_trim(const char *s, size_t n, const char **why)
{
    /* \uXXXX (6 bytes) yields at most 3, a surrogate pair (12) 4: never longer than s */
    char *out = malloc(n + 1), *o = out;
    if (!out) {
        *why = "out of memory";
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        char ch = s[i++];
        if (ch != '\\') {
            *o++ = ch;
            continue;
        }
        if (i >= n)
            break; /* a dangling backslash at the very end stands for nothing */
        ch = s[i++];
        switch (ch) {
        case 't':
            *o++ = '\t';
            break;
        case 'n':
            *o++ = '\n';
            break;
        case 'r':
            *o++ = '\r';
            break;
        case 'f':
            *o++ = '\f';
            break;
        case 'u': {
            unsigned u, lo;
            if (read_u4(s, n, i, &u) < 0)
                goto malformed;
            i += 4;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (i + 6 > n || s[i] != '\\' || s[i + 1] != 'u' || read_u4(s, n, i + 2, &lo) < 0 || lo < 0xDC00 ||
                    lo > 0xDFFF) {
                    *why = "a \\uD800-\\uDBFF escape must be followed by a \\uDC00-\\uDFFF escape";
                    free(out);
                    return NULL;
                }
                i += 6;
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
                *why = "unpaired \\uDC00-\\uDFFF escape";
                free(out);
                return NULL;
            }
            if (u == 0)
                goto nul;
            o += put_utf8(o, u);
            break;
        }
        default:
            *o++ = ch;
            break;
        }
    }
    char *b = out, *e = o;
    while (b < e && (unsigned char)*b <= ' ')
        b++;
    while (e > b && (unsigned char)e[-1] <= ' ')
        e--;
    memmove(out, b, (size_t)(e - b));
    out[e - b] = '\0';
    return out;
malformed:
    *why = "malformed \\uxxxx escape";
    free(out);
    return NULL;
nul:
    *why = "NUL character";
    free(out);
    return NULL;
}

static int add_prop(struct ctx *x, const char *line, size_t n, int lineno)
{
    /* Properties.load0: the key ends at the first unescaped '=', ':' or blank; blanks and
     * at most one '='/':' separate it from the value. */
    size_t klen = 0, vstart = n;
    int has_sep = 0, backslash = 0;
    while (klen < n) {
        char ch = line[klen];
        if ((ch == '=' || ch == ':') && !backslash) {
            vstart = klen + 1;
            has_sep = 1;
            break;
        }
        if (is_blank(ch) && !backslash) {
            vstart = klen + 1;
            break;
        }
        backslash = ch == '\\' ? !backslash : 0;
        klen++;
    }
    while (vstart < n) {
        char ch = line[vstart];
        if (!is_blank(ch)) {
            if (!has_sep && (ch == '=' || ch == ':'))
                has_sep = 1;
            else
                break;
        }
        vstart++;
    }
    const char *why = NULL;
    char *key = unescape_trim(line, klen, &why);
    if (!key)
        return failf(x, "%s:%d: %s in the key", x->file, lineno, why);
    char *val = unescape_trim(line + vstart, n - vstart, &why);
    if (!val) {
        int r = failf(x, "%s:%d: %s: %s in the value", x->file, lineno, key, why);
        free(key);
        return r;
    }
    if (x->nprops == x->cap) {
        size_t ncap = x->cap ? 2 * x->cap : 32;
        struct prop *np = realloc(x->props, ncap * sizeof(*np));
        if (!np) {
            free(key);
            free(val);
            return failf(x, "%s: out of memory", x->file);
        }
        x->props = np;
        x->cap = ncap;
    }
    struct prop *p = &x->props[x->nprops];
    *p = (struct prop){key, val, lineno, 0};
    x->nprops++;

    void *old = NULL;
    if (hmap_put(&x->last, key, strlen(key), (void *)(uintptr_t)x->nprops, &old) < 0)
        return failf(x, "%s: out of memory", x->file);
    if (old) {
        struct prop *prev = &x->props[(uintptr_t)old - 1];
        if (strncmp(key, "server.", 7) == 0)
            return failf(x, "%s:%d: %s: duplicate server id (also on line %d)", x->file, lineno, key, prev->line);
        LOG_WARN("%s:%d: %s repeats line %d; the last value wins", x->file, lineno, key, prev->line);
        prev->dead = 1;
    }
    return 0;
}

/* Splits buf into logical lines as java.util.Properties does and records each pair. */
static int parse_properties(struct ctx *x, const char *buf, size_t len)
{
    char *logical = malloc(len + 1); /* a logical line is never longer than the file */
    if (!logical)
        return failf(x, "%s: out of memory", x->file);
    size_t pos = 0, b, e, ll = 0;
    int lineno = 0, start = 0, cont = 0, rc = 0;
    while (natural_line(buf, len, &pos, &b, &e)) {
        lineno++;
        while (b < e && is_blank(buf[b]))
            b++;
        if (!cont) {
            if (b == e || buf[b] == '#' || buf[b] == '!')
                continue; /* blank or comment; a comment never continues */
            start = lineno;
            ll = 0;
        } else if (b == e) {
            /* an empty line after a continuation ends the logical line */
            cont = 0;
            if ((rc = add_prop(x, logical, ll, start)) < 0)
                break;
            continue;
        }
        size_t nb = 0;
        while (e - nb > b && buf[e - nb - 1] == '\\')
            nb++;
        cont = nb % 2 == 1;
        size_t take = e - b - (cont ? 1 : 0);
        memcpy(logical + ll, buf + b, take);
        ll += take;
        if (!cont && (rc = add_prop(x, logical, ll, start)) < 0)
            break;
    }
    if (rc == 0 && cont)
        rc = add_prop(x, logical, ll, start); /* continuation at end of file */
    free(logical);
    return rc;
}

/* ---------------------------------------------------------------- values */

/* Java's Long.parseLong: an optional sign and decimal digits, nothing else.
 * Returns 0, -1 when it is not an integer, -2 when it does not fit in 64 bits. */
static int parse_long(const char *s, int64_t *out)
{
    int neg = 0;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!*s)
        return -1;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -1;
        unsigned d = (unsigned)(*s - '0');
        if (v > (lim - d) / 10)
            return -2;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

static int get_int(struct ctx *x, const struct prop *p, int64_t lo, int64_t hi, int64_t *out)
{
    int64_t v = 0;
    int r = parse_long(p->val, &v);
    if (r == -1)
        return bad(x, p, "not an integer");
    if (r == -2 || v < lo || v > hi)
        return bad(x, p, "must be between %" PRId64 " and %" PRId64, lo, hi);
    *out = v;
    return 0;
}

static int set_int(struct ctx *x, const struct prop *p, int64_t lo, int64_t hi, int *field)
{
    int64_t v = 0;
    if (get_int(x, p, lo, hi, &v) < 0)
        return -1;
    *field = (int)v;
    return 0;
}

/* QuorumPeerConfig.parseBoolean: "true" or "false" in any case. */
static int set_bool(struct ctx *x, const struct prop *p, int *field)
{
    if (strcasecmp(p->val, "true") == 0)
        *field = 1;
    else if (strcasecmp(p->val, "false") == 0)
        *field = 0;
    else
        return bad(x, p, "choose 'true' or 'false'");
    return 0;
}

static int set_str(struct ctx *x, const struct prop *p, char *field, size_t size, int allow_empty)
{
    size_t n = strlen(p->val);
    if (n == 0 && !allow_empty)
        return bad(x, p, "must not be empty");
    if (n >= size)
        return bad(x, p, "longer than %zu bytes", size - 1);
    memcpy(field, p->val, n + 1);
    return 0;
}

static int set_dir(struct ctx *x, const struct prop *p, char *field)
{
    if (set_str(x, p, field, ZK_CFG_PATH_MAX, 0) < 0)
        return -1;
    if (field[0] != '/' && field[0] != '.') /* VerifyingFileFactory's warning */
        LOG_WARN("%s:%d: %s %s is relative. Prepend ./ to indicate that you're sure!", x->file, p->line, p->key, field);
    return 0;
}

/* A host for a listening address: IPv6 literals may come in brackets. */
static int set_host(struct ctx *x, const struct prop *p, char *field)
{
    const char *v = p->val;
    size_t n = strlen(v);
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        v++;
        n -= 2;
    }
    if (n == 0)
        return bad(x, p, "must not be empty");
    if (n >= ZK_CFG_HOST_MAX)
        return bad(x, p, "longer than %d bytes", ZK_CFG_HOST_MAX - 1);
    memcpy(field, v, n);
    field[n] = '\0';
    return 0;
}

/* Time.parseTimeInterval: a bare number is in the caller's unit (hours for
 * autopurge.purgeInterval, for compatibility), else a suffix ms, s, m, h or d. */
static int set_interval(struct ctx *x, const struct prop *p, int64_t bare_unit_ms, int64_t *field)
{
    const char *v = p->val;
    size_t n = strlen(v);
    if (n == 0)
        return bad(x, p, "empty time interval");
    char num[32];
    int64_t unit;
    size_t nl;
    if (v[n - 1] >= '0' && v[n - 1] <= '9') {
        unit = bare_unit_ms;
        nl = n;
    } else if (n >= 2 && (strcmp(v + n - 2, "ms") == 0 || strcmp(v + n - 2, "MS") == 0)) {
        unit = 1;
        nl = n - 2;
    } else {
        switch (v[n - 1]) {
        case 's':
        case 'S':
            unit = 1000;
            break;
        case 'm':
        case 'M':
            unit = 60 * 1000;
            break;
        case 'h':
        case 'H':
            unit = 3600 * 1000;
            break;
        case 'd':
        case 'D':
            unit = 86400 * 1000;
            break;
        default:
            return bad(x, p, "illegal time interval suffix (use ms, s, m, h or d)");
        }
        nl = n - 1;
    }
    if (nl >= sizeof(num))
        return bad(x, p, "not a time interval");
    memcpy(num, v, nl);
    num[nl] = '\0';
    int64_t k = 0;
    int r = parse_long(num, &k);
    if (r == -1)
        return bad(x, p, "not a time interval");
    if (k < 0)
        return bad(x, p, "must not be negative");
    /* ZooKeeper keeps it in an int of milliseconds */
    if (r == -2 || k > INT32_MAX / unit)
        return bad(x, p, "longer than %d ms", INT32_MAX);
    *field = k * unit;
    return 0;
}

/* The bits of a 4lw.commands.whitelist value: comma-separated, blanks around names
 * ignored, "*" = every known word. Unknown words are logged against p when x is given. */
static uint32_t whitelist_mask(const char *list, struct ctx *x, const struct prop *p)
{
    uint32_t mask = 0;
    const char *s = list;
    while (*s) {
        const char *comma = strchr(s, ',');
        const char *end = comma ? comma : s + strlen(s);
        const char *b = s, *e = end;
        while (b < e && (unsigned char)*b <= ' ')
            b++;
        while (e > b && (unsigned char)e[-1] <= ' ')
            e--;
        size_t n = (size_t)(e - b);
        if (n == 1 && *b == '*') {
            mask = (1u << N_4LW) - 1;
            break;
        }
        if (n > 0) {
            int i = fourlw_index(b, n);
            assert(i >= 0 || x); /* the built-in default names only known words */
            if (i >= 0)
                mask |= 1u << i;
            else if (x)
                LOG_WARN("%s:%d: %s: unknown four-letter word '%.*s' ignored", x->file, p->line, p->key, (int)n, b);
        }
        s = comma ? comma + 1 : end;
    }
    return mask;
}

static int set_whitelist(struct ctx *x, const struct prop *p)
{
    x->c->fourlw_mask = whitelist_mask(p->val, x, p);
    return 0;
}

/* ConfigUtils.getHostAndPort: "[v6]:a:b" or "host:a:b" split at ':' into at most max
 * parts (more fail). Returns the part count, or -1 with *why set. Modifies s. */
static int split_host_parts(char *s, char **parts, int max, const char **why)
{
    int n = 0;
    char *rest = s;
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (!close) {
            *why = "starts with '[' but has no matching ']'";
            return -1;
        }
        if (close[1] == '\0') {
            parts[n++] = s + 1;
            *close = '\0';
            return n;
        }
        if (close[1] != ':' || close[2] == '\0') {
            *why = "needs a port after ']:'";
            return -1;
        }
        *close = '\0';
        parts[n++] = s + 1;
        rest = close + 2;
    }
    for (;;) {
        if (n == max) {
            *why = "too many ':'-separated fields";
            return -1;
        }
        parts[n++] = rest;
        char *colon = strchr(rest, ':');
        if (!colon)
            break;
        *colon = '\0';
        rest = colon + 1;
    }
    return n;
}

static int port_field(struct ctx *x, const struct prop *p, const char *what, const char *s, int lo, int *out)
{
    int64_t v = 0;
    int r = parse_long(s, &v);
    if (r == -1)
        return bad(x, p, "%s '%s' is not a number", what, s);
    if (r == -2 || v < lo || v > 65535)
        return bad(x, p, "%s %s is out of range (%d-65535)", what, s, lo);
    *out = (int)v;
    return 0;
}

static int copy_host(struct ctx *x, const struct prop *p, const char *what, const char *h, char *out)
{
    size_t n = strlen(h);
    if (n == 0)
        return bad(x, p, "empty %s", what);
    if (n >= ZK_CFG_HOST_MAX)
        return bad(x, p, "%s longer than %d bytes", what, ZK_CFG_HOST_MAX - 1);
    memcpy(out, h, n + 1);
    return 0;
}

#define SERVER_FORMAT "expected host:quorumPort:electionPort[:participant|:observer][;[clientHost:]clientPort]"

/* server.N=... (QuorumPeer.QuorumServer's format). */
static int add_server(struct ctx *x, const struct prop *p)
{
    struct zk_config *c = x->c;
    int64_t id = 0;
    int r = parse_long(p->key + 7, &id);
    if (r == -1)
        return failf(x, "%s:%d: %s: the server id '%s' is not a number", x->file, p->line, p->key, p->key + 7);
    if (r == -2 || id < 0 || id > ZK_MAX_SERVER_ID)
        return failf(x, "%s:%d: %s: server ids must be between 0 and %d", x->file, p->line, p->key, ZK_MAX_SERVER_ID);
    if (x->server_line[id])
        return failf(x, "%s:%d: %s: duplicate server id %" PRId64 " (also on line %d)", x->file, p->line, p->key, id,
                     x->server_line[id]);
    x->server_line[id] = p->line;

    struct zk_server_entry s = {.id = id};
    char buf[1024];
    if (strlen(p->val) >= sizeof(buf))
        return bad(x, p, "longer than %zu bytes", sizeof(buf) - 1);
    snprintf(buf, sizeof(buf), "%s", p->val);

    /* server_config ; client_config ; secure_client_config */
    char *sections[3] = {buf, NULL, NULL};
    int nsec = 1;
    for (char *semi = strchr(buf, ';'); semi; semi = strchr(semi + 1, ';')) {
        if (nsec == 3)
            return bad(x, p, SERVER_FORMAT);
        *semi = '\0';
        sections[nsec++] = semi + 1;
    }
    if (strchr(sections[0], '|'))
        return bad(x, p, "multiple addresses per server (multiAddress.enabled) are not supported");

    const char *why = NULL;
    char *parts[4];
    int np = split_host_parts(sections[0], parts, 4, &why);
    if (np < 0)
        return bad(x, p, "%s; %s", why, SERVER_FORMAT);
    if (np < 3)
        return bad(x, p, SERVER_FORMAT);
    if (copy_host(x, p, "host", parts[0], s.host) < 0 ||
        port_field(x, p, "quorum port", parts[1], 1, &s.quorum_port) < 0 ||
        port_field(x, p, "election port", parts[2], 1, &s.election_port) < 0)
        return -1;
    if (s.quorum_port == s.election_port)
        return bad(x, p, "the quorum and election ports must be different");
    if (np == 4) {
        if (strcasecmp(parts[3], "observer") == 0)
            s.observer = 1;
        else if (strcasecmp(parts[3], "participant") != 0)
            return bad(x, p, "unrecognised peer type '%s' (participant or observer)", parts[3]);
    }

    if (sections[1] && sections[1][0]) {
        char *cp[2];
        int nc = split_host_parts(sections[1], cp, 2, &why);
        if (nc < 0)
            return bad(x, p, "client address: %s; %s", why, SERVER_FORMAT);
        s.has_client = 1;
        if (nc == 2) {
            if (copy_host(x, p, "client host", cp[0], s.client_host) < 0)
                return -1;
        } else {
            snprintf(s.client_host, sizeof(s.client_host), "%s", "0.0.0.0");
        }
        if (port_field(x, p, "client port", cp[nc - 1], 0, &s.client_port) < 0)
            return -1;
    }
    if (sections[2] && sections[2][0])
        LOG_WARN("%s:%d: %s: secure client port ignored (zkfsd has no TLS port)", x->file, p->line, p->key);

    assert(c->nservers <= ZK_MAX_SERVER_ID); /* ids are distinct, so at most 256 */
    struct zk_server_entry *ns = realloc(c->servers, (c->nservers + 1) * sizeof(*ns));
    if (!ns)
        return failf(x, "%s: out of memory", x->file);
    c->servers = ns;
    c->servers[c->nservers++] = s;
    return 0;
}

/* Applies one key. */
static int apply(struct ctx *x, const struct prop *p)
{
    struct zk_config *c = x->c;
    const char *k = p->key, *v = p->val;
    int64_t n;

    if (strcmp(k, "dataDir") == 0) {
        x->p_data_dir = p;
        return set_dir(x, p, c->data_dir);
    }
    if (strcmp(k, "dataLogDir") == 0) {
        x->p_data_log_dir = p;
        return set_dir(x, p, c->data_log_dir);
    }
    if (strcmp(k, "clientPort") == 0) {
        x->p_client_port = p;
        return set_int(x, p, 0, 65535, &c->client_port);
    }
    if (strcmp(k, "clientPortAddress") == 0) {
        x->p_client_addr = p;
        return set_host(x, p, c->client_port_address);
    }
    if (strcmp(k, "clientPortListenBacklog") == 0)
        return set_int(x, p, -1, INT32_MAX, &c->client_port_listen_backlog);
    if (strcmp(k, "tickTime") == 0)
        return set_int(x, p, 1, INT32_MAX, &c->tick_time);
    if (strcmp(k, "maxClientCnxns") == 0)
        return set_int(x, p, 0, INT32_MAX, &c->max_client_cnxns);
    if (strcmp(k, "minSessionTimeout") == 0) {
        x->p_min = p;
        return set_int(x, p, -1, INT32_MAX, &c->min_session_timeout);
    }
    if (strcmp(k, "maxSessionTimeout") == 0) {
        x->p_max = p;
        return set_int(x, p, -1, INT32_MAX, &c->max_session_timeout);
    }
    if (strcmp(k, "initLimit") == 0)
        return set_int(x, p, 0, INT32_MAX, &c->init_limit);
    if (strcmp(k, "syncLimit") == 0)
        return set_int(x, p, 0, INT32_MAX, &c->sync_limit);
    if (strcmp(k, "electionAlg") == 0) {
        if (get_int(x, p, INT32_MIN, INT32_MAX, &n) < 0)
            return -1;
        return n == 3 ? 0 : bad(x, p, "only electionAlg 3 is supported");
    }
    if (strcmp(k, "quorumListenOnAllIPs") == 0)
        return set_bool(x, p, &c->quorum_listen_on_all_ips);
    if (strcmp(k, "peerType") == 0) {
        x->p_peer_type = p;
        if (strcasecmp(v, "observer") == 0)
            c->peer_type = ZK_PEER_OBSERVER;
        else if (strcasecmp(v, "participant") == 0)
            c->peer_type = ZK_PEER_PARTICIPANT;
        else
            return bad(x, p, "unrecognised peer type (participant or observer)");
        return 0;
    }
    if (strcmp(k, "standaloneEnabled") == 0)
        return set_bool(x, p, &c->standalone_enabled);
    if (strcmp(k, "reconfigEnabled") == 0) {
        int on = 0;
        if (set_bool(x, p, &on) < 0)
            return -1;
        if (on)
            LOG_WARN("%s:%d: reconfigEnabled=true ignored: zkfsd does not implement reconfig", x->file, p->line);
        return 0;
    }
    if (strcmp(k, "autopurge.snapRetainCount") == 0) {
        if (set_int(x, p, INT32_MIN, INT32_MAX, &c->snap_retain_count) < 0)
            return -1;
        if (c->snap_retain_count < 3) {
            LOG_WARN("%s:%d: invalid autopurge.snapRetainCount %d, defaulting to 3", x->file, p->line,
                     c->snap_retain_count);
            c->snap_retain_count = 3;
        }
        return 0;
    }
    if (strcmp(k, "autopurge.purgeInterval") == 0)
        return set_interval(x, p, 3600 * 1000, &c->purge_interval_ms);
    if (strcmp(k, "snapCount") == 0) {
        if (set_int(x, p, INT32_MIN, INT32_MAX, &c->snap_count) < 0)
            return -1;
        if (c->snap_count < 2) {
            LOG_WARN("%s:%d: snapCount should be 2 or more; now 2", x->file, p->line);
            c->snap_count = 2;
        }
        return 0;
    }
    if (strcmp(k, "preAllocSize") == 0)
        return get_int(x, p, 0, INT64_MAX / 1024, &c->prealloc_size_kb);
    if (strcmp(k, "forceSync") == 0) {
        /* ZooKeeper reads anything but "no" as yes; a typo should not silently mean yes */
        if (strcmp(v, "yes") == 0)
            c->force_sync = 1;
        else if (strcmp(v, "no") == 0)
            c->force_sync = 0;
        else
            return bad(x, p, "choose 'yes' or 'no'");
        return 0;
    }
    if (strcmp(k, "4lw.commands.whitelist") == 0)
        return set_whitelist(x, p);
    if (strcmp(k, "jute.maxbuffer") == 0)
        return set_int(x, p, 1, INT32_MAX, &c->jute_maxbuffer);
    if (strcmp(k, "DigestAuthenticationProvider.superDigest") == 0 ||
        strcmp(k, "zookeeper.DigestAuthenticationProvider.superDigest") == 0) {
        if (set_str(x, p, c->super_digest, sizeof(c->super_digest), 0) < 0)
            return -1;
        return strchr(v, ':') ? 0 : bad(x, p, "expected user:base64digest");
    }
    if (strcmp(k, "readonlymode.enabled") == 0 || strcmp(k, "zookeeper.readonlymode.enabled") == 0)
        return set_bool(x, p, &c->readonly_enabled);
    if (strcmp(k, "extendedTypesEnabled") == 0 || strcmp(k, "zookeeper.extendedTypesEnabled") == 0)
        return set_bool(x, p, &c->extended_types_enabled);
    if (strcmp(k, "znode.container.checkIntervalMs") == 0 ||
        strcmp(k, "zookeeper.znode.container.checkIntervalMs") == 0)
        return set_int(x, p, 1, INT32_MAX, &c->container_check_ms);
    if (strcmp(k, "zkfs.quorum.secret") == 0)
        return set_str(x, p, c->quorum_secret, sizeof(c->quorum_secret), 0);
    if (strcmp(k, "version") == 0) {
        /* QuorumMaj: the membership version, hexadecimal */
        char *end;
        errno = 0;
        unsigned long long ver = strtoull(v, &end, 16);
        if (!*v || *end || errno || v[0] == '-' || v[0] == '+' || ver > INT64_MAX)
            return bad(x, p, "not a hexadecimal version");
        c->config_version = (int64_t)ver;
        return 0;
    }
    if (strncmp(k, "server.", 7) == 0)
        return add_server(x, p);
    if (strncmp(k, "group", 5) == 0 || strncmp(k, "weight", 6) == 0)
        return failf(x, "%s:%d: %s: hierarchical quorums (group/weight) are not supported", x->file, p->line, k);
    if (strcmp(k, "dynamicConfigFile") == 0)
        return failf(x,
                     "%s:%d: %s: dynamic configuration files are not supported; put the "
                     "server.N lines in %s",
                     x->file, p->line, k, x->file);
    if (strcmp(k, "multiAddress.enabled") == 0) {
        int on = 0;
        if (set_bool(x, p, &on) < 0)
            return -1;
        if (on)
            LOG_WARN("%s:%d: multiAddress.enabled=true ignored: zkfsd uses one address per server", x->file, p->line);
        return 0;
    }
    if (is_ignored_key(k)) {
        LOG_WARN("%s:%d: key %s ignored (a ZooKeeper setting zkfsd does not implement)", x->file, p->line, k);
        return 0;
    }
    LOG_WARN("%s:%d: unknown key %s ignored", x->file, p->line, k);
    return 0;
}

/* ---------------------------------------------------------------- relationships */

static int read_myid(struct ctx *x)
{
    struct zk_config *c = x->c;
    char path[ZK_CFG_PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s/myid", c->data_dir);
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0; /* a standalone server needs none; an ensemble checks later */
    FILE *f = fopen(path, "r");
    if (!f)
        return failf(x, "%s: cannot read %s: %s", x->file, path, strerror(errno));
    char line[MYID_MAX];
    if (!fgets(line, sizeof(line), f))
        line[0] = '\0';
    int ioerr = ferror(f);
    fclose(f);
    if (ioerr)
        return failf(x, "%s: cannot read %s", x->file, path);
    char *b = line, *e = line + strlen(line);
    while (b < e && (unsigned char)*b <= ' ')
        b++;
    while (e > b && (unsigned char)e[-1] <= ' ')
        e--;
    *e = '\0';
    if (parse_long(b, &c->myid) < 0)
        return failf(x, "%s: serverid '%s' in %s is not a number", x->file, b, path);
    return 0;
}

static int is_any_address(const char *h)
{
    return !h[0] || strcmp(h, "0.0.0.0") == 0 || strcmp(h, "::") == 0 || strcmp(h, "0:0:0:0:0:0:0:0") == 0;
}

static int cmp_server(const void *a, const void *b)
{
    const struct zk_server_entry *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* QuorumPeerConfig's checks after parsing, in its order. */
static int validate(struct ctx *x)
{
    struct zk_config *c = x->c;
    if (!x->p_data_dir)
        return failf(x, "%s: dataDir is not set", x->file);
    if (!x->p_data_log_dir)
        memcpy(c->data_log_dir, c->data_dir, sizeof(c->data_dir));
    if (!x->p_client_port && x->p_client_addr)
        return failf(x, "%s:%d: clientPortAddress is set but clientPort is not set", x->file, x->p_client_addr->line);

    /* 2 and 20 ticks; clamped where Java's int arithmetic would wrap */
    int64_t min2 = 2 * (int64_t)c->tick_time, max20 = 20 * (int64_t)c->tick_time;
    if (c->min_session_timeout == -1)
        c->min_session_timeout = (int)(min2 > INT32_MAX ? INT32_MAX : min2);
    if (c->max_session_timeout == -1)
        c->max_session_timeout = (int)(max20 > INT32_MAX ? INT32_MAX : max20);
    if (c->min_session_timeout > c->max_session_timeout) {
        const struct prop *p = x->p_min ? x->p_min : x->p_max;
        return failf(x, "%s:%d: minSessionTimeout %d must not be larger than maxSessionTimeout %d%s", x->file, p->line,
                     c->min_session_timeout, c->max_session_timeout,
                     x->p_min && x->p_max ? "" : " (the other one is derived from tickTime)");
    }

    if (c->nservers > 1)
        qsort(c->servers, c->nservers, sizeof(*c->servers), cmp_server);
    size_t participants = 0, observers = 0;
    for (size_t i = 0; i < c->nservers; i++) {
        if (c->servers[i].observer)
            observers++;
        else
            participants++;
    }
    if (participants == 0) {
        if (!c->standalone_enabled)
            return failf(x, "%s: standaloneEnabled=false needs at least one participant server.N line", x->file);
        if (observers > 0)
            return failf(x, "%s: observers without participants is an invalid configuration", x->file);
    } else if (participants == 1 && c->standalone_enabled) {
        LOG_ERROR("%s: invalid configuration, only one server specified (ignoring); running standalone", x->file);
        if (observers > 0)
            return failf(x, "%s: observers without a quorum is an invalid configuration", x->file);
    } else if (participants <= 2) {
        LOG_WARN("%s: no server failure will be tolerated; you need at least 3 servers", x->file);
    } else if (participants % 2 == 0) {
        LOG_WARN("%s: non-optimal configuration, consider an odd number of servers", x->file);
    }

    if (read_myid(x) < 0)
        return -1;
    const struct zk_server_entry *self = c->myid >= 0 ? config_server(c, c->myid) : NULL;
    if (self && self->has_client) {
        /* setupClientPort: the server line's client address wins, but must agree */
        if (x->p_client_port) {
            const char *sh = c->client_port_address;
            int same = is_any_address(sh) ? c->client_port == self->client_port
                                          : strcmp(sh, self->client_host) == 0 && c->client_port == self->client_port;
            if (!same)
                return failf(x,
                             "%s: the client address for this server (id %" PRId64 ") is %s:%d "
                             "in clientPort/clientPortAddress but %s:%d on line %d",
                             x->file, c->myid, sh[0] ? sh : "0.0.0.0", c->client_port, self->client_host,
                             self->client_port, x->server_line[c->myid]);
        }
        c->client_port = self->client_port;
        snprintf(c->client_port_address, sizeof(c->client_port_address), "%s", self->client_host);
    }
    if (c->client_port < 0)
        return failf(x,
                     "%s: clientPort is not set (and no server line gives this server a client "
                     "address)",
                     x->file);

    if (self) {
        int role = self->observer ? ZK_PEER_OBSERVER : ZK_PEER_PARTICIPANT;
        if (role != c->peer_type && x->p_peer_type)
            LOG_WARN("%s:%d: peerType %s does not match server.%" PRId64 "; using the server list", x->file,
                     x->p_peer_type->line, x->p_peer_type->val, c->myid);
        c->peer_type = role;
    }

    if (config_is_quorum(c)) {
        if (c->init_limit == 0)
            return failf(x, "%s: initLimit is not set", x->file);
        if (c->sync_limit == 0)
            return failf(x, "%s: syncLimit is not set", x->file);
        if (c->myid < 0)
            return failf(x,
                         "%s: the myid file is missing: an ensemble member needs %s/myid holding "
                         "its server id",
                         x->file, c->data_dir);
        if (!self)
            return failf(x, "%s: myid %" PRId64 " (from %s/myid) has no server.%" PRId64 " line", x->file, c->myid,
                         c->data_dir, c->myid);
    }
    return 0;
}

int config_load(struct zk_config *c, const char *file, char *err, size_t errlen)
{
    struct ctx x = {.c = c, .file = file ? file : "(null)", .err = err, .errlen = errlen};
    char *buf = NULL;
    FILE *f = NULL;
    int rc = -1;
    base_defaults(c);
    hmap_init(&x.last);
    if (err && errlen)
        err[0] = '\0';
    if (!file) {
        failf(&x, "no configuration file given");
        goto out;
    }
    if (strlen(file) >= sizeof(c->source)) {
        failf(&x, "%s: file name too long", file);
        goto out;
    }
    snprintf(c->source, sizeof(c->source), "%s", file);

    f = fopen(file, "rb");
    if (!f) {
        failf(&x, "%s: cannot open: %s", file, strerror(errno));
        goto out;
    }
    buf = malloc(CFG_FILE_MAX + 1);
    if (!buf) {
        failf(&x, "%s: out of memory", file);
        goto out;
    }
    size_t len = fread(buf, 1, CFG_FILE_MAX + 1, f);
    if (ferror(f)) {
        failf(&x, "%s: read error", file);
        goto out;
    }
    if (len > CFG_FILE_MAX) {
        failf(&x, "%s: larger than %d bytes; not a configuration file?", file, CFG_FILE_MAX);
        goto out;
    }
    const char *nul = memchr(buf, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = buf; q < nul; q++)
            line += *q == '\n';
        failf(&x, "%s:%d: contains a NUL byte; not a text file?", file, line);
        goto out;
    }
    if (parse_properties(&x, buf, len) < 0)
        goto out;
    for (size_t i = 0; i < x.nprops; i++)
        if (!x.props[i].dead && apply(&x, &x.props[i]) < 0)
            goto out;
    if (validate(&x) < 0)
        goto out;
    rc = 0;
out:
    for (size_t i = 0; i < x.nprops; i++) {
        free(x.props[i].key);
        free(x.props[i].val);
    }
    free(x.props);
    hmap_free(&x.last);
    free(buf);
    if (f)
        fclose(f);
    if (rc < 0)
        config_free(c);
    return rc;
}

/* ---------------------------------------------------------------- conf */

/* java.io.File's getAbsolutePath of dir/version-2: the working directory prepended to a
 * relative path, repeated and trailing '/' dropped, "." components kept. */
static void abs_subdir(const char *dir, char *out, size_t outsz)
{
    char cwd[ZK_CFG_PATH_MAX] = "";
    if (dir[0] != '/' && !getcwd(cwd, sizeof(cwd)))
        cwd[0] = '\0';
    char tmp[2 * ZK_CFG_PATH_MAX + 16];
    snprintf(tmp, sizeof(tmp), "%s/%s/%s", cwd, dir, ZK_DATA_SUBDIR);
    size_t o = 0;
    for (size_t i = 0; tmp[i] && o + 1 < outsz; i++) {
        if (tmp[i] == '/' && o > 0 && out[o - 1] == '/')
            continue;
        out[o++] = tmp[i];
    }
    out[o] = '\0';
}

/* ZooKeeperServer.getDirSize: the sizes of all files below dir; 0 if it is no directory. */
static int64_t dir_size(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int64_t total = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        char path[ZK_CFG_PATH_MAX];
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= sizeof(path))
            continue;
        struct stat st;
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 16) /* symlink loops end here */
                total += dir_size(path, depth + 1);
        } else {
            total += st.st_size;
        }
    }
    closedir(d);
    return total;
}

void config_dir_sizes(const struct zk_config *c, int64_t *data, int64_t *log)
{
    char dd[ZK_CFG_PATH_MAX], dl[ZK_CFG_PATH_MAX];
    abs_subdir(c->data_dir, dd, sizeof(dd));
    abs_subdir(c->data_log_dir[0] ? c->data_log_dir : c->data_dir, dl, sizeof(dl));
    *data = dir_size(dd, 0);
    *log = dir_size(dl, 0);
}

/* QuorumServer.delimitedHostString */
static void put_host(FILE *f, const char *h)
{
    fprintf(f, strchr(h, ':') ? "[%s]" : "%s", h);
}

int config_fdump(const struct zk_config *c, const struct config_runtime *rt, FILE *f)
{
    struct config_runtime r = CONFIG_RUNTIME_INIT;
    if (rt)
        r = *rt;
    int quorum = config_is_quorum(c);
    const struct zk_server_entry *self = quorum ? config_server(c, c->myid) : NULL;
    char dd[ZK_CFG_PATH_MAX], dl[ZK_CFG_PATH_MAX];
    abs_subdir(c->data_dir, dd, sizeof(dd));
    abs_subdir(c->data_log_dir, dl, sizeof(dl));

    fprintf(f, "clientPort=%d\n", r.client_port >= 0 ? r.client_port : c->client_port);
    fprintf(f, "secureClientPort=-1\n");
    fprintf(f, "dataDir=%s\n", dd);
    fprintf(f, "dataDirSize=%" PRId64 "\n", r.data_dir_size >= 0 ? r.data_dir_size : dir_size(dd, 0));
    fprintf(f, "dataLogDir=%s\n", dl);
    fprintf(f, "dataLogSize=%" PRId64 "\n", r.data_log_size >= 0 ? r.data_log_size : dir_size(dl, 0));
    fprintf(f, "tickTime=%d\n", c->tick_time);
    fprintf(f, "maxClientCnxns=%d\n", c->max_client_cnxns);
    fprintf(f, "minSessionTimeout=%d\n", c->min_session_timeout);
    fprintf(f, "maxSessionTimeout=%d\n", c->max_session_timeout);
    fprintf(f, "clientPortListenBacklog=%d\n", c->client_port_listen_backlog);
    /* a standalone ZooKeeperServer reports 0 whatever myid says */
    fprintf(f, "serverId=%" PRId64 "\n", quorum ? c->myid : 0);
    if (quorum) {
        fprintf(f, "initLimit=%d\n", c->init_limit);
        fprintf(f, "syncLimit=%d\n", c->sync_limit);
        fprintf(f, "electionAlg=3\n");
        fprintf(f, "electionPort=%d\n", self ? self->election_port : -1);
        fprintf(f, "quorumPort=%d\n", self ? self->quorum_port : -1);
        fprintf(f, "peerType=%d\n", c->peer_type);
        fprintf(f, "membership: \n");
        /* QuorumMaj.toString; Java's HashMap order, which is id order for ids below 16 */
        for (size_t i = 0; i < c->nservers; i++) {
            const struct zk_server_entry *s = &c->servers[i];
            fprintf(f, "server.%" PRId64 "=", s->id);
            put_host(f, s->host);
            fprintf(f, ":%d:%d:%s", s->quorum_port, s->election_port, s->observer ? "observer" : "participant");
            if (s->has_client) {
                fputc(';', f);
                put_host(f, s->client_host);
                fprintf(f, ":%d", s->client_port);
            }
            fputc('\n', f);
        }
        fprintf(f, "version=%" PRIx64, (uint64_t)(r.config_version >= 0 ? r.config_version : c->config_version));
    }
    return ferror(f) ? -1 : 0;
}

int config_dump(const struct zk_config *c, const struct config_runtime *rt, char *buf, size_t bufsz)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        return -1;
    int r = config_fdump(c, rt, f);
    if (fclose(f) != 0 || r < 0 || len > INT_MAX) {
        free(text);
        return -1;
    }
    if (bufsz > 0) {
        size_t n = len < bufsz - 1 ? len : bufsz - 1;
        memcpy(buf, text, n);
        buf[n] = '\0';
    }
    free(text);
    return (int)len;
}
