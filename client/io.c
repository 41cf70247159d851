/* The libevent driver of the client library (see io.h): one bufferevent at a time, a
 * timer for the core's deadlines, nothing decided here. */
#include "client/io.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "client/conn.h"
#include "common/log.h"

struct zio {
    struct event_base *base;
    struct zc_conn *c;
    zio_pump_fn pump;
    void *arg;
    struct event *timer;
    struct bufferevent *bev;
    uint32_t gen;
    int connected;             /* the TCP connection of gen is established */
    struct addrinfo *ai, *cur; /* the host's addresses, and the one being tried */
    char peer[300];
};

int64_t zio_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void drop(struct zio *io)
{
    if (io->bev)
        bufferevent_free(io->bev);
    io->bev = NULL;
    io->connected = 0;
    if (io->ai)
        freeaddrinfo(io->ai);
    io->ai = io->cur = NULL;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct zio *io = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    int64_t now = zio_now();
    size_t n;
    /* The core only queues effects while it reads, so bev stays ours through the loop. */
    while ((n = evbuffer_get_contiguous_space(in)) > 0) {
        const unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
        if (!p)
            break;
        zc_on_data(io->c, io->gen, now, p, n);
        evbuffer_drain(in, n);
    }
    io->pump(io->arg);
}

static int try_addresses(struct zio *io);

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    struct zio *io = arg;
    (void)bev;
    if (what & BEV_EVENT_CONNECTED) {
        int one = 1;
        evutil_socket_t fd = bufferevent_getfd(io->bev);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        io->connected = 1;
        if (bufferevent_enable(io->bev, EV_READ | EV_WRITE) != 0)
            LOG_WARN("zkc: cannot enable reading from %s", io->peer);
        zc_on_connected(io->c, io->gen, zio_now());
        io->pump(io->arg);
        return;
    }
    if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT)))
        return;
    int err = EVUTIL_SOCKET_ERROR();
    if (!io->connected) {
        /* This address refused or failed: the host's next address, if any. */
        LOG_DEBUG("zkc: connecting to %s failed: %s", io->peer, evutil_socket_error_to_string(err));
        bufferevent_free(io->bev);
        io->bev = NULL;
        io->cur = io->cur ? io->cur->ai_next : NULL;
        if (try_addresses(io) == 0) {
            io->pump(io->arg);
            return;
        }
    } else if (what & BEV_EVENT_ERROR) {
        LOG_DEBUG("zkc: connection to %s failed: %s", io->peer, evutil_socket_error_to_string(err));
    }
    drop(io);
    zc_on_disconnected(io->c, io->gen, zio_now());
    io->pump(io->arg);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct zio *io = arg;
    (void)fd;
    (void)what;
    zc_tick(io->c, zio_now());
    io->pump(io->arg);
}

/* Starts a nonblocking connect to io->cur or the addresses after it. Returns 0 when one
 * is under way, -1 when none is left. */
static int try_addresses(struct zio *io)
{
    for (; io->cur; io->cur = io->cur->ai_next) {
        struct bufferevent *bev = bufferevent_socket_new(io->base, -1, BEV_OPT_CLOSE_ON_FREE);
        if (!bev) {
            LOG_ERROR("zkc: out of memory for a connection");
            return -1;
        }
        bufferevent_setcb(bev, on_read, NULL, on_event, io);
        io->bev = bev;
        if (bufferevent_socket_connect(bev, io->cur->ai_addr, (int)io->cur->ai_addrlen) == 0)
            return 0;
        LOG_DEBUG("zkc: connect to %s failed at once: %s", io->peer, strerror(errno));
        bufferevent_free(bev);
        io->bev = NULL;
    }
    return -1;
}

void zio_connect(struct zio *io, uint32_t gen, const char *host, uint16_t port)
{
    struct addrinfo hints, *res = NULL;
    char portstr[8];
    drop(io);
    io->gen = gen;
    if (strchr(host, ':'))
        snprintf(io->peer, sizeof(io->peer), "[%s]:%u", host, port);
    else
        snprintf(io->peer, sizeof(io->peer), "%s:%u", host, port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%u", port);
    /* Blocking resolution (numeric addresses return at once). */
    int rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        LOG_WARN("zkc: cannot resolve %s: %s", host, gai_strerror(rc));
        zc_on_disconnected(io->c, gen, zio_now());
        return;
    }
    io->ai = io->cur = res;
    if (try_addresses(io) != 0) {
        drop(io);
        zc_on_disconnected(io->c, gen, zio_now());
    }
}

void zio_close(struct zio *io, uint32_t gen)
{
    if (gen == io->gen)
        drop(io);
}

void zio_flush(struct zio *io)
{
    size_t len;
    const uint8_t *p = zc_output(io->c, &len);
    if (!len)
        return;
    if (!io->bev || !io->connected) {
        zc_output_consumed(io->c, len); /* cannot happen: the core writes only when connected */
        return;
    }
    if (bufferevent_write(io->bev, p, len) != 0) {
        LOG_ERROR("zkc: out of memory writing to %s", io->peer);
        drop(io);
        zc_on_disconnected(io->c, io->gen, zio_now());
        return;
    }
    zc_output_consumed(io->c, len);
}

void zio_arm_timer(struct zio *io)
{
    int64_t d = zc_next_deadline(io->c);
    if (d < 0) {
        evtimer_del(io->timer);
        return;
    }
    int64_t delay = d - zio_now();
    if (delay < 0)
        delay = 0;
    struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
    evtimer_add(io->timer, &tv);
}

const char *zio_peer(const struct zio *io)
{
    return io->peer[0] ? io->peer : NULL;
}

struct zio *zio_new(struct event_base *base, struct zc_conn *c, zio_pump_fn pump, void *arg)
{
    struct zio *io = calloc(1, sizeof(*io));
    if (!io)
        return NULL;
    io->base = base;
    io->c = c;
    io->pump = pump;
    io->arg = arg;
    io->timer = evtimer_new(base, on_timer, io);
    if (!io->timer) {
        free(io);
        return NULL;
    }
    return io;
}

void zio_free(struct zio *io)
{
    if (!io)
        return;
    drop(io);
    event_free(io->timer);
    free(io);
}
