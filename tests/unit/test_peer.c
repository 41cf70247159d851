/* The peer network (replication/peer.c) on real loopback sockets, three members on
 * 127.0.0.1-3 in one event loop: every pair connects and authenticates, messages arrive
 * intact and in order, a member with the wrong secret or an unknown id is refused, an
 * oversized length prefix or garbage on the quorum port closes only that connection, and a
 * member that goes away is reported down and reconnects when it is back. Waits poll the
 * loop with a deadline; nothing sleeps. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/zerr.h"
#include "replication/peer.h"

#define N 3

struct node {
    uint64_t id;
    struct peer_net *pn;
    int up[N + 2], down[N + 2];
    int got;
    uint64_t last_zxid[N + 2];
    int in_order;
};

static struct event_base *base;
static struct node nodes[N + 1];
static struct peer_addr members[N + 1];
static const uint8_t SECRET[] = "ensemble secret";

static void cb_up(void *ctx, uint64_t id) { ((struct node *)ctx)->up[id]++; }
static void cb_down(void *ctx, uint64_t id) { ((struct node *)ctx)->down[id]++; }
static void cb_msg(void *ctx, uint64_t id, const struct peer_msg *m)
{
    struct node *n = ctx;
    n->got++;
    if (m->type == PM_PROPOSAL) {
        if (m->zxid != n->last_zxid[id] + 1)
            n->in_order = 0;
        n->last_zxid[id] = m->zxid;
    }
}
static const struct peer_net_cb CB = {cb_up, cb_down, cb_msg};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until pred() or ms pass; returns pred(). */
static int run_until(int (*pred)(void), int ms)
{
    int64_t end = now_ms() + ms;
    struct timeval tv = {0, 10000};
    while (!pred() && now_ms() < end) {
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    return pred();
}

static uint16_t free_port(const char *host)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, host, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static void start(int i, const uint8_t *secret, size_t len)
{
    char err[256];
    nodes[i].id = (uint64_t)i;
    nodes[i].in_order = 1;
    nodes[i].pn = peer_net_new(base, (uint64_t)i, members + 1, N, secret, len, 1 << 20, &CB, &nodes[i], err,
                               sizeof(err));
    if (!nodes[i].pn)
        fail_msg("peer_net_new: %s", err);
}

static int all_up(void)
{
    for (int i = 1; i <= N; i++)
        for (int j = 1; j <= N; j++)
            if (i != j && (!nodes[i].pn || !peer_net_is_up(nodes[i].pn, (uint64_t)j)))
                return 0;
    return 1;
}

static int setup(void **state)
{
    (void)state;
    base = event_base_new();
    memset(nodes, 0, sizeof(nodes));
    for (int i = 1; i <= N; i++) {
        members[i].id = (uint64_t)i;
        snprintf(members[i].host, sizeof(members[i].host), "127.0.0.%d", i);
        members[i].port = free_port(members[i].host);
    }
    for (int i = 1; i <= N; i++)
        start(i, SECRET, sizeof(SECRET));
    return run_until(all_up, 10000) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 1; i <= N; i++)
        peer_net_free(nodes[i].pn);
    event_base_free(base);
    return 0;
}

static int got_all;
static int arrived(void) { return nodes[3].got >= got_all && nodes[1].got >= 1; }

static void test_messages_in_order(void **state)
{
    (void)state;
    for (int i = 1; i <= N; i++)
        for (int j = 1; j <= N; j++)
            if (i != j)
                assert_int_equal(nodes[i].up[j], 1);
    uint8_t txn[5000];
    memset(txn, 'x', sizeof(txn));
    for (uint64_t z = 1; z <= 1000; z++) {
        struct peer_msg m = {.type = PM_PROPOSAL, .zxid = z, .txn = txn, .txn_len = (z % 7) * 700};
        assert_int_equal(peer_net_send(nodes[1].pn, 3, &m), ZOK);
    }
    struct peer_msg back = {.type = PM_ACK, .zxid = 1000};
    assert_int_equal(peer_net_send(nodes[3].pn, 1, &back), ZOK);
    got_all = 1000;
    assert_true(run_until(arrived, 10000));
    assert_true(nodes[3].in_order);
    assert_int_equal(nodes[3].last_zxid[1], 1000);
    /* no connection: the message is refused, not queued */
    struct peer_msg m = {.type = PM_ACK, .zxid = 1};
    assert_int_equal(peer_net_send(nodes[1].pn, 9, &m), ZCONNECTIONLOSS);
}

static struct node intruder;
static long refused2, refused3;
static int intruder_refused(void)
{
    return peer_net_refused(nodes[2].pn) > refused2 && peer_net_refused(nodes[3].pn) > refused3;
}

static void test_wrong_secret_refused(void **state)
{
    (void)state;
    /* server 1 restarted with another secret: 2 and 3 refuse it; it never counts as up there */
    peer_net_free(nodes[1].pn);
    nodes[1].pn = NULL;
    memset(&intruder, 0, sizeof(intruder));
    char err[256];
    intruder.pn = peer_net_new(base, 1, members + 1, N, (const uint8_t *)"guess", 5, 1 << 20, &CB, &intruder, err,
                               sizeof(err));
    assert_non_null(intruder.pn);
    int before2 = nodes[2].up[1], before3 = nodes[3].up[1];
    refused2 = peer_net_refused(nodes[2].pn);
    refused3 = peer_net_refused(nodes[3].pn);
    assert_true(run_until(intruder_refused, 10000));
    assert_false(peer_net_is_up(intruder.pn, 2)); /* not welcomed: never up on its side either */
    assert_false(peer_net_is_up(intruder.pn, 3));
    assert_int_equal(nodes[2].up[1], before2);
    assert_int_equal(nodes[3].up[1], before3);
    assert_false(peer_net_is_up(nodes[2].pn, 1));
    /* the others still talk */
    assert_true(peer_net_is_up(nodes[2].pn, 3));
    peer_net_free(intruder.pn);
    /* the real server 1 comes back and is let in */
    start(1, SECRET, sizeof(SECRET));
    assert_true(run_until(all_up, 10000));
}

static int closed_fd = -1;
static int raw_closed(void)
{
    char b[256];
    ssize_t k = recv(closed_fd, b, sizeof(b), MSG_DONTWAIT);
    return k == 0;
}

static void raw_attack(const uint8_t *bytes, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(members[3].port)};
    inet_pton(AF_INET, "127.0.0.3", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(send(fd, bytes, len, 0), (ssize_t)len);
    closed_fd = fd;
    assert_true(run_until(raw_closed, 10000)); /* a challenge, then the close */
    close(fd);
}

static void test_hostile_input(void **state)
{
    (void)state;
    const uint8_t huge[] = {0x40, 0x00, 0x00, 0x00};       /* a 1 GiB frame */
    const uint8_t garbage[] = {0, 0, 0, 3, 0xc1, 0xc1, 0xc1}; /* not msgpack */
    const uint8_t unknown[] = {0, 0, 0, 3, 0x92, 0x02, 0x07}; /* HELLO with the wrong shape */
    raw_attack(huge, sizeof(huge));
    raw_attack(garbage, sizeof(garbage));
    raw_attack(unknown, sizeof(unknown));
    /* members are unaffected */
    assert_true(all_up());
    struct peer_msg m = {.type = PM_PROPOSAL, .zxid = 1001};
    nodes[3].got = 0;
    assert_int_equal(peer_net_send(nodes[1].pn, 3, &m), ZOK);
    got_all = 1;
    assert_true(run_until(arrived, 5000) || nodes[3].got >= 1);
}

static int two_down(void) { return nodes[1].down[2] > 0 && nodes[3].down[2] > 0; }

static void test_down_and_reconnect(void **state)
{
    (void)state;
    memset(nodes[1].down, 0, sizeof(nodes[1].down));
    memset(nodes[3].down, 0, sizeof(nodes[3].down));
    peer_net_free(nodes[2].pn);
    nodes[2].pn = NULL;
    assert_true(run_until(two_down, 10000));
    assert_false(peer_net_is_up(nodes[1].pn, 2));
    start(2, SECRET, sizeof(SECRET));
    assert_true(run_until(all_up, 10000)); /* server 1 reconnects (backoff), 3 accepts */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_messages_in_order),
        cmocka_unit_test(test_wrong_secret_refused),
        cmocka_unit_test(test_hostile_input),
        cmocka_unit_test(test_down_and_reconnect),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
