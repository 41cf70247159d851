/* The libevent driver of the client library: the thin I/O shell around the pure state
 * machine of client/conn.h. It owns at most one TCP connection (a bufferevent), resolves and
 * connects nonblockingly (IPv4 or IPv6; host names through getaddrinfo, which blocks for the
 * lookup), trying each address of a host in turn, feeds the bytes, connection events and
 * timer ticks to the core, writes the core's output and keeps one timer armed for the
 * core's next deadline. After every event it fed, it calls the owner's pump hook, which
 * drains the core's effects (calling back into zio_connect / zio_close) and then
 * zio_flush / zio_arm_timer. */
#ifndef ZKFS_CLIENT_IO_H
#define ZKFS_CLIENT_IO_H

#include <stdint.h>

struct event_base;
struct zc_conn;
struct zio;

/* The owner's hook, called as the last action of every libevent callback of the driver;
 * it may free the driver (zio_free) and everything else. */
typedef void (*zio_pump_fn)(void *arg);

/* Creates a driver for core c on base. Returns NULL when out of memory. */
struct zio *zio_new(struct event_base *base, struct zc_conn *c, zio_pump_fn pump, void *arg);
/* Closes any connection and frees the driver; safe from within the driver's callbacks
 * (only through the pump hook, which runs last). NULL is accepted. */
void zio_free(struct zio *io);

/* Carries out ZC_EFF_CONNECT: closes any current connection, resolves host and starts a
 * nonblocking connect for attempt gen. Every outcome reaches the core later as
 * zc_on_connected or zc_on_disconnected(gen) — also a failure detected at once (resolution,
 * socket), reported before this returns. */
void zio_connect(struct zio *io, uint32_t gen, const char *host, uint16_t port);
/* Carries out ZC_EFF_CLOSE: drops the connection of attempt gen (unsent output included)
 * without reporting it to the core. A stale gen is ignored. */
void zio_close(struct zio *io, uint32_t gen);
/* Hands the core's pending output to the socket. */
void zio_flush(struct zio *io);
/* Arms the timer for zc_next_deadline (or disarms it). */
void zio_arm_timer(struct zio *io);
/* "host:port" of the current attempt, or NULL. */
const char *zio_peer(const struct zio *io);

/* Milliseconds of CLOCK_MONOTONIC: the core's clock. */
int64_t zio_now(void);

#endif
