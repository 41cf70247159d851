/* The peer network (see peer.h): a listener, one slot per member, bufferevents with framing
 * and the challenge/response handshake, reconnect timers with exponential backoff. */
#include "replication/peer.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "common/zerr.h"
#include "zkfsd/digest.h"

#define MAX_MEMBERS 32
#define OUT_LIMIT (64u << 20)
#define HANDSHAKE_MS 5000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct peer_net;

/* A connection: accepted (id unknown until HELLO) or outgoing to a known member. */
struct conn {
    struct peer_net *pn;
    struct bufferevent *bev;
    struct event *timer; /* handshake deadline */
    int outgoing, authed, hello_sent;
    uint64_t id; /* known for outgoing ones; from HELLO for accepted ones */
    uint8_t nonce[PM_NONCE_LEN];
    char remote[96];
    size_t allowance;  /* bytes a bulk transfer may queue beyond OUT_LIMIT (peer_net_allow) */
    struct conn *next; /* pending accepted connections */
};

struct slot {
    struct peer_addr addr;
    struct conn *conn; /* the authenticated connection, or the outgoing attempt */
    struct event *retry;
    int backoff_ms;
};

struct peer_net {
    struct event_base *base;
    uint64_t my_id;
    struct peer_addr me;
    struct slot slots[MAX_MEMBERS];
    int nslots;
    uint8_t *secret;
    size_t secret_len;
    size_t max_frame;
    struct peer_net_cb cb;
    void *ctx;
    struct evconnlistener *listener;
    struct conn *pending; /* accepted, not yet authenticated */
    long refused;         /* handshakes refused (unknown id, wrong proof, bad frames) */
};

static struct slot *slot_of(struct peer_net *pn, uint64_t id)
{
    for (int i = 0; i < pn->nslots; i++)
        if (pn->slots[i].addr.id == id)
            return &pn->slots[i];
    return NULL;
}

static void proof_of(const struct peer_net *pn, const uint8_t nonce[PM_NONCE_LEN], uint64_t id,
                     uint8_t out[PM_PROOF_LEN])
{
    struct sha1_ctx c;
    uint8_t be[8];
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(id >> (56 - 8 * i));
    sha1_init(&c);
    sha1_update(&c, pn->secret, pn->secret_len);
    sha1_update(&c, nonce, PM_NONCE_LEN);
    sha1_update(&c, be, 8);
    sha1_final(&c, out);
}

static void schedule_retry(struct peer_net *pn, struct slot *s);

static void unlink_pending(struct peer_net *pn, struct conn *c)
{
    for (struct conn **pp = &pn->pending; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            return;
        }
}

/* Closes c; tells the driver when it was the authenticated connection of its member. */
static void conn_close(struct conn *c, const char *why)
{
    struct peer_net *pn = c->pn;
    struct slot *s = c->id ? slot_of(pn, c->id) : NULL;
    int was_up = s && s->conn == c && c->authed;
    if (why) {
        char who[48] = "";
        if (c->id)
            snprintf(who, sizeof(who), " (server %llu)", (unsigned long long)c->id);
        LOG_WARN("peer %s%s: %s", c->remote, who, why);
    }
    if (s && s->conn == c)
        s->conn = NULL;
    unlink_pending(pn, c);
    if (c->timer)
        event_free(c->timer);
    bufferevent_free(c->bev);
    free(c);
    if (was_up && pn->cb.down)
        pn->cb.down(pn->ctx, s->addr.id);
    if (s && s->addr.id > pn->my_id && !s->conn)
        schedule_retry(pn, s); /* ours to reconnect */
}

static int send_on(struct conn *c, const struct peer_msg *m)
{
    uint8_t *frame;
    size_t len;
    int rc = msg_encode(m, &frame, &len);
    if (rc != ZOK)
        return rc;
    rc = bufferevent_write(c->bev, frame, len) == 0 ? ZOK : ZSYSTEMERROR;
    free(frame);
    return rc;
}

static void become_up(struct conn *c)
{
    struct peer_net *pn = c->pn;
    struct slot *s = slot_of(pn, c->id);
    if (s->conn && s->conn != c) {
        /* a newer connection from the same member replaces the old one */
        struct conn *old = s->conn;
        s->conn = NULL;
        int old_authed = old->authed;
        old->id = 0; /* closing it must not touch the slot */
        conn_close(old, NULL);
        if (old_authed && pn->cb.down)
            pn->cb.down(pn->ctx, s->addr.id);
    }
    s->conn = c;
    c->authed = 1;
    s->backoff_ms = 0;
    unlink_pending(pn, c);
    if (c->timer) {
        event_free(c->timer);
        c->timer = NULL;
    }
    LOG_INFO("peer server %llu at %s: connected", (unsigned long long)c->id, c->remote);
    if (pn->cb.up)
        pn->cb.up(pn->ctx, c->id);
}

/* Handles one decoded frame. Returns -1 when c was closed. */
static int on_frame(struct conn *c, const struct peer_msg *m)
{
    struct peer_net *pn = c->pn;
    if (c->authed) {
        if (pn->cb.msg)
            pn->cb.msg(pn->ctx, c->id, m);
        return 0;
    }
    if (c->outgoing) {
        if (c->hello_sent && m->type == PM_PING) {
            become_up(c); /* the acceptor's welcome: our proof was accepted */
            return 0;
        }
        if (c->hello_sent || m->type != PM_CHALLENGE) {
            conn_close(c, "sent something else than a challenge and a welcome");
            return -1;
        }
        uint8_t proof[PM_PROOF_LEN];
        proof_of(pn, m->nonce, pn->my_id, proof);
        struct peer_msg h = {.type = PM_HELLO, .server_id = pn->my_id, .proof = proof, .proof_len = PM_PROOF_LEN};
        if (send_on(c, &h) != ZOK) {
            conn_close(c, "cannot send hello");
            return -1;
        }
        c->hello_sent = 1;
        return 0;
    }
    if (m->type != PM_HELLO) {
        conn_close(c, "sent something else than hello");
        return -1;
    }
    struct slot *s = slot_of(pn, m->server_id);
    if (!s || m->server_id == pn->my_id || m->server_id > pn->my_id) {
        pn->refused++;
        char why[96];
        snprintf(why, sizeof(why), "refused: server id %llu is not a member that connects to us",
                 (unsigned long long)m->server_id);
        conn_close(c, why);
        return -1;
    }
    uint8_t want[PM_PROOF_LEN];
    proof_of(pn, c->nonce, m->server_id, want);
    if (m->proof_len != PM_PROOF_LEN || memcmp(want, m->proof, PM_PROOF_LEN) != 0) {
        pn->refused++;
        char why[96];
        snprintf(why, sizeof(why), "refused: server %llu failed authentication (wrong shared secret?)",
                 (unsigned long long)m->server_id);
        conn_close(c, why);
        return -1;
    }
    c->id = m->server_id;
    struct peer_msg welcome = {.type = PM_PING};
    if (send_on(c, &welcome) != ZOK) {
        conn_close(c, "cannot send the welcome");
        return -1;
    }
    become_up(c);
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    for (;;) {
        size_t have = evbuffer_get_length(in), total = 0;
        if (have < PM_HDR_LEN)
            return;
        const uint8_t *p = evbuffer_pullup(in, PM_HDR_LEN);
        if (msg_frame_len(p, PM_HDR_LEN, c->pn->max_frame, &total) < 0) {
            conn_close(c, "frame longer than the limit: closing");
            return;
        }
        size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
        if (have < PM_HDR_LEN + n)
            return; /* the rest of the frame is still on its way */
        p = evbuffer_pullup(in, (ev_ssize_t)(PM_HDR_LEN + n));
        struct peer_msg m;
        if (!p || msg_decode(p, PM_HDR_LEN + n, c->pn->max_frame, &m) != ZOK) {
            conn_close(c, "malformed frame: closing");
            return;
        }
        evbuffer_drain(in, PM_HDR_LEN + n);
        int closed = on_frame(c, &m) < 0;
        msg_free(&m);
        if (closed)
            return;
    }
}

/* The output drained: a bulk transfer announced with peer_net_allow is over. */
static void on_write(struct bufferevent *bev, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    c->allowance = 0;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    struct conn *c = arg;
    if (what & BEV_EVENT_CONNECTED) {
        bufferevent_enable(c->bev, EV_READ | EV_WRITE);
        return;
    }
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        conn_close(c, c->authed ? "connection lost" : (what & BEV_EVENT_EOF) ? "closed" : "cannot connect");
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    conn_close(arg, "no handshake in time: closing");
}

static struct conn *conn_new(struct peer_net *pn, struct bufferevent *bev, int outgoing)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->pn = pn;
    c->bev = bev;
    c->outgoing = outgoing;
    c->timer = evtimer_new(pn->base, on_handshake_timeout, c);
    struct timeval tv = {HANDSHAKE_MS / 1000, (HANDSHAKE_MS % 1000) * 1000};
    if (c->timer)
        evtimer_add(c->timer, &tv);
    bufferevent_setcb(bev, on_read, on_write, on_event, c);
    /* a bounded backlog: a peer that stops reading is dropped, not buffered for ever */
    bufferevent_setwatermark(bev, EV_READ, 0, pn->max_frame + PM_HDR_LEN + 1024);
    return c;
}

/* Proposals and ACKs are small and latency-bound: Nagle's delay would add to every commit. */
static void no_delay(evutil_socket_t fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
    (void)l, (void)salen;
    struct peer_net *pn = arg;
    no_delay(fd);
    struct bufferevent *bev = bufferevent_socket_new(pn->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct conn *c = bev ? conn_new(pn, bev, 0) : NULL;
    if (!c) {
        if (bev)
            bufferevent_free(bev);
        else
            close(fd);
        return;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, c->remote, sizeof(c->remote));
    c->next = pn->pending;
    pn->pending = c;
    if (getrandom(c->nonce, sizeof(c->nonce), 0) != (ssize_t)sizeof(c->nonce))
        for (size_t i = 0; i < sizeof(c->nonce); i++)
            c->nonce[i] = (uint8_t)random();
    struct peer_msg ch = {.type = PM_CHALLENGE, .nonce = c->nonce, .nonce_len = PM_NONCE_LEN};
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    if (send_on(c, &ch) != ZOK)
        conn_close(c, "cannot send the challenge");
}

static void connect_to(struct peer_net *pn, struct slot *s)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(s->addr.port)};
    struct sockaddr_in from = {.sin_family = AF_INET};
    if (inet_pton(AF_INET, s->addr.host, &to.sin_addr) != 1 || inet_pton(AF_INET, pn->me.host, &from.sin_addr) != 1)
        return;
    evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        schedule_retry(pn, s);
        return;
    }
    /* from our own address, so that each member is told apart (and can be partitioned) */
    if (bind(fd, (struct sockaddr *)&from, sizeof(from)) < 0) {
        LOG_WARN("peer server %llu: cannot bind %s for the connection: %s", (unsigned long long)s->addr.id,
                 pn->me.host, strerror(errno));
        close(fd);
        schedule_retry(pn, s);
        return;
    }
    evutil_make_socket_nonblocking(fd);
    no_delay(fd);
    struct bufferevent *bev = bufferevent_socket_new(pn->base, fd, BEV_OPT_CLOSE_ON_FREE);
    struct conn *c = bev ? conn_new(pn, bev, 1) : NULL;
    if (!c) {
        if (bev)
            bufferevent_free(bev);
        else
            close(fd);
        schedule_retry(pn, s);
        return;
    }
    c->id = s->addr.id;
    snprintf(c->remote, sizeof(c->remote), "%s:%u", s->addr.host, s->addr.port);
    s->conn = c;
    if (bufferevent_socket_connect(bev, (struct sockaddr *)&to, sizeof(to)) < 0)
        conn_close(c, "cannot connect");
}

static void retry_cb(evutil_socket_t fd, short what, void *arg);

struct retry_arg {
    struct peer_net *pn;
    struct slot *s;
};

static void schedule_retry(struct peer_net *pn, struct slot *s)
{
    if (!s->retry) {
        struct retry_arg *ra = malloc(sizeof(*ra));
        if (!ra)
            return;
        ra->pn = pn;
        ra->s = s;
        s->retry = evtimer_new(pn->base, retry_cb, ra);
        if (!s->retry) {
            free(ra);
            return;
        }
    }
    s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (s->backoff_ms > BACKOFF_MAX_MS)
        s->backoff_ms = BACKOFF_MAX_MS;
    struct timeval tv = {s->backoff_ms / 1000, (s->backoff_ms % 1000) * 1000};
    evtimer_add(s->retry, &tv);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct retry_arg *ra = arg;
    if (!ra->s->conn)
        connect_to(ra->pn, ra->s);
}

struct peer_net *peer_net_new(struct event_base *base, uint64_t my_id, const struct peer_addr *members, int n,
                              const uint8_t *secret, size_t secret_len, size_t max_frame, const struct peer_net_cb *cb,
                              void *ctx, char *err, size_t errlen)
{
    if (n < 1 || n > MAX_MEMBERS || !secret_len) {
        snprintf(err, errlen, "peer network: %d members (1..%d) and a non-empty secret are needed", n, MAX_MEMBERS);
        return NULL;
    }
    struct peer_net *pn = calloc(1, sizeof(*pn));
    if (!pn || !(pn->secret = malloc(secret_len))) {
        free(pn);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(pn->secret, secret, secret_len);
    pn->secret_len = secret_len;
    pn->base = base;
    pn->my_id = my_id;
    pn->max_frame = max_frame;
    pn->cb = *cb;
    pn->ctx = ctx;
    int found = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < i; j++)
            if (members[j].id == members[i].id) {
                snprintf(err, errlen, "peer network: server id %llu appears twice", (unsigned long long)members[i].id);
                peer_net_free(pn);
                return NULL;
            }
        if (members[i].id == my_id) {
            pn->me = members[i];
            found = 1;
            continue;
        }
        pn->slots[pn->nslots++].addr = members[i];
    }
    if (!found) {
        snprintf(err, errlen, "peer network: my id %llu is not among the members", (unsigned long long)my_id);
        peer_net_free(pn);
        return NULL;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(pn->me.port)};
    if (inet_pton(AF_INET, pn->me.host, &sin.sin_addr) != 1) {
        snprintf(err, errlen, "peer network: '%s' is not an IPv4 address", pn->me.host);
        peer_net_free(pn);
        return NULL;
    }
    pn->listener = evconnlistener_new_bind(base, on_accept, pn, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 64,
                                           (struct sockaddr *)&sin, sizeof(sin));
    if (!pn->listener) {
        snprintf(err, errlen, "peer network: cannot listen on %s:%u: %s", pn->me.host, pn->me.port, strerror(errno));
        peer_net_free(pn);
        return NULL;
    }
    for (int i = 0; i < pn->nslots; i++)
        if (pn->slots[i].addr.id > my_id)
            connect_to(pn, &pn->slots[i]);
    return pn;
}

int peer_net_send(struct peer_net *pn, uint64_t id, const struct peer_msg *m)
{
    struct slot *s = slot_of(pn, id);
    if (!s || !s->conn || !s->conn->authed)
        return ZCONNECTIONLOSS;
    if (evbuffer_get_length(bufferevent_get_output(s->conn->bev)) > OUT_LIMIT + s->conn->allowance) {
        conn_close(s->conn, "not reading: more than 64 MiB queued for it, dropping the connection");
        return ZCONNECTIONLOSS;
    }
    return send_on(s->conn, m);
}

void peer_net_allow(struct peer_net *pn, uint64_t id, size_t bytes)
{
    struct slot *s = slot_of(pn, id);
    if (s && s->conn && s->conn->authed)
        s->conn->allowance += bytes;
}

long peer_net_refused(const struct peer_net *pn) { return pn->refused; }

int peer_net_is_up(const struct peer_net *pn, uint64_t id)
{
    for (int i = 0; i < pn->nslots; i++)
        if (pn->slots[i].addr.id == id)
            return pn->slots[i].conn && pn->slots[i].conn->authed;
    return 0;
}

void peer_net_free(struct peer_net *pn)
{
    if (!pn)
        return;
    pn->cb.down = NULL;
    while (pn->pending)
        conn_close(pn->pending, NULL);
    for (int i = 0; i < pn->nslots; i++) {
        struct slot *s = &pn->slots[i];
        if (s->retry) {
            struct retry_arg *ra = event_get_callback_arg(s->retry);
            event_free(s->retry);
            free(ra);
            s->retry = NULL;
        }
        if (s->conn) {
            struct conn *c = s->conn;
            s->conn = NULL;
            c->id = 0;
            conn_close(c, NULL);
        }
    }
    if (pn->listener)
        evconnlistener_free(pn->listener);
    free(pn->secret);
    free(pn);
}
