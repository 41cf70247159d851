/* libevent driver for the client port; see net.h. */
#include "zkfsd/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "common/clock.h"
#include "common/hmap.h"
#include "common/log.h"
#include "common/zerr.h"

/* Output above this stops reading from that client until it drains: a client that never
 * reads cannot make us buffer without bound. */
#define OUT_HIGH_WATER (4u << 20)
#define OUT_LOW_WATER (1u << 20)

struct nconn {
    struct net *net;
    struct nconn *next, *prev; /* the net's list, so shutdown can free every connection */
    struct bufferevent *bev;
    struct zconn *zc;
    char ip[ACL_IP_ID_MAX];
    int closing;   /* close requested: flush, then free */
    int throttled; /* reading paused for back-pressure */
    struct event *defer; /* pending free after a close with nothing left to flush */
};

struct net {
    struct event_base *base;
    struct evconnlistener *lst;
    struct event *timer, *sigint, *sigterm;
    struct server *srv;
    const struct zk_config *cfg;
    struct hmap per_ip; /* ip -> (count as pointer-sized integer) */
    struct nconn *conns;
    int port;
};

static void tick_clock(struct net *n) { server_set_time(n->srv, mono_ms(), wall_ms()); }

static void ip_count(struct net *n, const char *ip, int delta)
{
    intptr_t c = (intptr_t)hmap_gets(&n->per_ip, ip) + delta;
    if (c <= 0)
        hmap_dels(&n->per_ip, ip);
    else
        hmap_puts(&n->per_ip, ip, (void *)c);
}

static void nconn_free(struct nconn *nc)
{
    struct net *n = nc->net;
    if (nc->zc) {
        tick_clock(n);
        server_conn_closed(n->srv, nc->zc);
        nc->zc = NULL;
    }
    ip_count(n, nc->ip, -1);
    if (nc->prev)
        nc->prev->next = nc->next;
    else
        n->conns = nc->next;
    if (nc->next)
        nc->next->prev = nc->prev;
    if (nc->defer)
        event_free(nc->defer);
    bufferevent_free(nc->bev);
    free(nc);
}

static void deferred_free(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    nconn_free(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
    struct nconn *nc = arg;
    if (nc->closing) {
        if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
            nconn_free(nc);
        return;
    }
    if (nc->throttled && evbuffer_get_length(bufferevent_get_output(bev)) <= OUT_LOW_WATER) {
        nc->throttled = 0;
        bufferevent_enable(bev, EV_READ);
    }
}

/* Flushes what is queued, then frees; never frees inside the caller's stack frame. */
static void nconn_close(struct nconn *nc)
{
    if (nc->closing)
        return;
    nc->closing = 1;
    bufferevent_disable(nc->bev, EV_READ);
    if (evbuffer_get_length(bufferevent_get_output(nc->bev)) == 0) {
        struct timeval zero = {0, 0};
        nc->defer = evtimer_new(nc->net->base, deferred_free, nc);
        if (nc->defer)
            evtimer_add(nc->defer, &zero);
    } else {
        bufferevent_setwatermark(nc->bev, EV_WRITE, 0, 0);
    }
}

static void io_send(void *ctx, struct zconn *c, const uint8_t *p, size_t len)
{
    (void)ctx;
    struct nconn *nc = c->io;
    if (!nc || (nc->closing && !nc->zc))
        return;
    struct evbuffer *out = bufferevent_get_output(nc->bev);
    evbuffer_add(out, p, len);
    if (!nc->throttled && !nc->closing && evbuffer_get_length(out) > OUT_HIGH_WATER) {
        nc->throttled = 1;
        bufferevent_disable(nc->bev, EV_READ);
        bufferevent_setwatermark(nc->bev, EV_WRITE, OUT_LOW_WATER, 0);
    }
}

static void io_close(void *ctx, struct zconn *c)
{
    (void)ctx;
    if (c->io)
        nconn_close(c->io);
}

static const char *const FOURLW[] = {"conf", "cons", "crst", "dirs", "dump", "envi", "gtmk", "ruok", "stmk",
                                     "srst", "srvr", "stat", "wchc", "wchp", "wchs", "mntr", "isro", "hash"};

static int is_4lw(const char *w)
{
    for (size_t i = 0; i < sizeof(FOURLW) / sizeof(*FOURLW); i++)
        if (memcmp(w, FOURLW[i], 4) == 0)
            return 1;
    return 0;
}

static void answer_4lw(struct nconn *nc, const char *w)
{
    struct net *n = nc->net;
    char cmd[5];
    memcpy(cmd, w, 4);
    cmd[4] = 0;
    char *text = NULL;
    if (!config_4lw_allowed(n->cfg, cmd)) {
        if (asprintf(&text, "%s is not executed because it is not in the whitelist.\n", cmd) < 0)
            text = NULL;
    } else if (!strcmp(cmd, "conf")) {
        struct config_runtime rt = CONFIG_RUNTIME_INIT;
        rt.client_port = n->port;
        int len = config_dump(n->cfg, &rt, NULL, 0);
        if (len >= 0 && (text = malloc((size_t)len + 1)))
            config_dump(n->cfg, &rt, text, (size_t)len + 1);
    } else if (!strcmp(cmd, "dirs")) {
        int64_t data, log;
        config_dir_sizes(n->cfg, &data, &log);
        if (asprintf(&text, "datadir_size: %" PRId64 "\nlogdir_size: %" PRId64 "\n", data, log) < 0)
            text = NULL;
    } else {
        text = server_4lw(n->srv, cmd, NULL);
        if (!text && asprintf(&text, "Unknown command %s\n", cmd) < 0)
            text = NULL;
    }
    LOG_DEBUG("four-letter word '%s' from %s", cmd, nc->ip);
    if (text)
        evbuffer_add(bufferevent_get_output(nc->bev), text, strlen(text));
    free(text);
    nconn_close(nc);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
    struct nconn *nc = arg;
    struct net *n = nc->net;
    struct evbuffer *in = bufferevent_get_input(bev);
    tick_clock(n);
    while (!nc->closing && !nc->throttled) {
        size_t avail = evbuffer_get_length(in);
        if (avail < 4)
            return;
        uint8_t hdr[4];
        evbuffer_copyout(in, hdr, 4);
        if (!nc->zc->handshaken && is_4lw((const char *)hdr)) {
            answer_4lw(nc, (const char *)hdr);
            return;
        }
        int32_t len = (int32_t)((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]);
        if (len < 0 || len > n->cfg->jute_maxbuffer) {
            LOG_WARN("closing connection from %s: frame length %d is outside 0..%d (jute.maxbuffer)", nc->ip, len,
                     n->cfg->jute_maxbuffer);
            n->srv->st.bad_frames++;
            nconn_close(nc);
            return;
        }
        if (avail < 4 + (size_t)len) {
            /* wake up only when the whole frame is here */
            bufferevent_setwatermark(bev, EV_READ, 4 + (size_t)len, 0);
            return;
        }
        bufferevent_setwatermark(bev, EV_READ, 0, 0);
        uint8_t *frame = evbuffer_pullup(in, 4 + (ssize_t)len);
        int rc = frame ? server_frame(n->srv, nc->zc, frame + 4, (size_t)len) : -1;
        evbuffer_drain(in, 4 + (size_t)len);
        if (rc < 0) {
            n->srv->st.bad_frames++;
            nconn_close(nc);
            return;
        }
    }
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct nconn *nc = arg;
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        if (what & BEV_EVENT_ERROR)
            LOG_DEBUG("connection from %s: %s", nc->ip, strerror(EVUTIL_SOCKET_ERROR()));
        size_t left = evbuffer_get_length(bufferevent_get_input(nc->bev));
        if (left > 0 && !nc->closing)
            LOG_WARN("connection from %s closed in the middle of a frame: truncated frame of %s (%zu bytes unread)",
                     nc->ip, nc->zc && nc->zc->handshaken ? "a request" : "its handshake", left);
        nconn_free(nc);
    }
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l, (void)salen;
    struct net *n = arg;
    char ip[ACL_IP_ID_MAX] = "?";
    int port = 0;
    /* Java's spelling of the peer (no ::ffff: prefix), so ip ACLs match as in ZooKeeper */
    if (acl_ip_id(sa, ip, sizeof(ip)) != ZOK)
        snprintf(ip, sizeof(ip), "?");
    if (sa->sa_family == AF_INET)
        port = ntohs(((struct sockaddr_in *)sa)->sin_port);
    else if (sa->sa_family == AF_INET6)
        port = ntohs(((struct sockaddr_in6 *)sa)->sin6_port);
    intptr_t have = (intptr_t)hmap_gets(&n->per_ip, ip);
    if (n->cfg->max_client_cnxns > 0 && have >= n->cfg->max_client_cnxns) {
        LOG_WARN("too many connections from %s - max is %d", ip, n->cfg->max_client_cnxns);
        evutil_closesocket(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct nconn *nc = calloc(1, sizeof(*nc));
    struct bufferevent *bev = nc ? bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE) : NULL;
    if (!bev) {
        LOG_ERROR("out of memory accepting a connection from %s", ip);
        free(nc);
        evutil_closesocket(fd);
        return;
    }
    nc->net = n;
    nc->bev = bev;
    snprintf(nc->ip, sizeof(nc->ip), "%s", ip);
    tick_clock(n);
    nc->zc = server_conn_open(n->srv, nc, ip, port);
    if (!nc->zc) {
        bufferevent_free(bev);
        free(nc);
        return;
    }
    ip_count(n, ip, +1);
    nc->next = n->conns;
    if (n->conns)
        n->conns->prev = nc;
    n->conns = nc;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, nc);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
    (void)l, (void)arg;
    /* typically EMFILE: keep serving the connections we have */
    LOG_WARN("accept failed: %s", strerror(EVUTIL_SOCKET_ERROR()));
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct net *n = arg;
    tick_clock(n);
    server_tick(n->srv);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    struct net *n = arg;
    LOG_INFO("signal %d: shutting down", (int)sig);
    event_base_loopbreak(n->base);
}

struct net *net_new(const struct zk_config *cfg)
{
    struct net *n = calloc(1, sizeof(*n));
    if (!n)
        return NULL;
    n->cfg = cfg;
    hmap_init(&n->per_ip);
    n->base = event_base_new();
    if (!n->base)
        goto fail;
    struct server_opts o = {
        .tick_ms = cfg->tick_time,
        .min_session_timeout = cfg->min_session_timeout,
        .max_session_timeout = cfg->max_session_timeout,
        .max_buffer = cfg->jute_maxbuffer,
        .super_digest = cfg->super_digest[0] ? cfg->super_digest : NULL,
        .ttl_enabled = cfg->extended_types_enabled != 0,
        .container_check_ms = cfg->container_check_ms,
        .server_id = config_is_quorum(cfg) ? cfg->myid : 0,
    };
    struct server_io io = {.ctx = n, .send = io_send, .close = io_close, .log_append = NULL};
    n->srv = server_new(&o, &io, mono_ms(), wall_ms());
    if (!n->srv)
        goto fail;

    const char *addr = cfg->client_port_address[0] ? cfg->client_port_address : "0.0.0.0";
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char spec[300];
    snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, cfg->client_port);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
        LOG_ERROR("clientPortAddress '%s' is not a numeric IPv4 or IPv6 address", addr);
        goto fail;
    }
    n->lst = evconnlistener_new_bind(n->base, accept_cb, n, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                     cfg->client_port_listen_backlog > 0 ? cfg->client_port_listen_backlog : 1024,
                                     (struct sockaddr *)&ss, sslen);
    if (!n->lst) {
        LOG_ERROR("cannot listen on %s: %s", spec, strerror(errno));
        goto fail;
    }
    evconnlistener_set_error_cb(n->lst, accept_error_cb);
    struct sockaddr_storage bound;
    socklen_t blen = sizeof(bound);
    getsockname(evconnlistener_get_fd(n->lst), (struct sockaddr *)&bound, &blen);
    n->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                : ((struct sockaddr_in *)&bound)->sin_port);
    LOG_INFO("serving clients on %s:%d (tickTime %d ms, sessions %d..%d ms, jute.maxbuffer %d)", addr, n->port,
             cfg->tick_time, cfg->min_session_timeout, cfg->max_session_timeout, cfg->jute_maxbuffer);

    /* session expiry needs tickTime granularity at most; finer keeps expiry prompt */
    int period = cfg->tick_time / 4;
    period = period < 10 ? 10 : period > 500 ? 500 : period;
    struct timeval tv = {period / 1000, (period % 1000) * 1000};
    n->timer = event_new(n->base, -1, EV_PERSIST, timer_cb, n);
    n->sigint = evsignal_new(n->base, SIGINT, signal_cb, n);
    n->sigterm = evsignal_new(n->base, SIGTERM, signal_cb, n);
    if (!n->timer || !n->sigint || !n->sigterm)
        goto fail;
    event_add(n->timer, &tv);
    event_add(n->sigint, NULL);
    event_add(n->sigterm, NULL);
    return n;
fail:
    net_free(n);
    return NULL;
}

int net_port(const struct net *n) { return n->port; }
struct server *net_server(struct net *n) { return n->srv; }
struct event_base *net_base(struct net *n) { return n->base; }

int net_run(struct net *n)
{
    signal(SIGPIPE, SIG_IGN);
    return event_base_dispatch(n->base) < 0 ? -1 : 0;
}

void net_free(struct net *n)
{
    if (!n)
        return;
    if (n->lst)
        evconnlistener_free(n->lst);
    if (n->timer)
        event_free(n->timer);
    if (n->sigint)
        event_free(n->sigint);
    if (n->sigterm)
        event_free(n->sigterm);
    while (n->conns)
        nconn_free(n->conns);
    server_free(n->srv);
    if (n->base)
        event_base_free(n->base);
    hmap_free(&n->per_ip);
    free(n);
}
