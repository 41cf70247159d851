#!/usr/bin/python3
"""Hostile input on the client port: garbage, bad length prefixes, truncated frames,
requests before the handshake, unknown opcodes, undecodable request bodies, a client that
sends one byte at a time, a thousand connections at once.

After each: the server is alive and says something about it in its log, its memory stays
bounded (zkfsd only: VmRSS at most 64 MiB over its size at the start; a JVM's heap is its
own business), and one ordinary kazoo client, connected throughout, is still served on the
same session without ever having been disconnected.

What the server must answer is what Apache ZooKeeper 3.8 answers (checked with
ZKFS_SERVER=apache): a length outside 0..jute.maxbuffer, a request before the handshake or
an undecodable ConnectRequest closes the connection; an unknown opcode gets UNIMPLEMENTED
and the connection is closed (the session lives on); an undecodable request body after the
handshake gets MARSHALLINGERROR for its xid and the connection stays usable.
"""
import os
import random
import resource
import socket
import struct
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jute  # noqa: E402
import zkserver  # noqa: E402
import zktest  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402

RSS_SLACK_KB = 64 * 1024
N_IDLE = 1000


def raise_nofile(want):
    """Raises this process's open-file limit (the servers we start inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


NOFILE = raise_nofile(8192)

# Log lines each kind writes about each event (regexes).
LOG = {
    "zkfsd": {
        "negative": r"frame length -5 is outside",
        "huge": r"frame length 1073741824 is outside",
        "text": r"frame length 1195725856 is outside",
        "bad_connect": r"(?i)malformed ConnectRequest",
        "invalid_session": r"(?i)invalid session 0xffffffffffffffff",
        "before_handshake": r"(?i)malformed ConnectRequest \(14 bytes\)",
        "truncated_before": r"truncated frame",
        "truncated_after": r"(?i)(middle of a frame|truncated)",
        "unknown_op": r"unknown opcode 999",
        "bad_body": r"(?i)malformed getData",
        "bad_create": r"(?i)malformed create",
        "bad_buffer": r"(?i)malformed setData",
    },
    "apache": {
        "negative": r"advertised length of -5",
        "huge": r"advertised length of 1073741824",
        "text": r"advertised length of 1195725856",
        "bad_connect": r"(?i)unreasonable length|Len error|Failed to process",
        "invalid_session": r"Invalid session 0xffffffffffffffff",
        "before_handshake": r"(?i)exception|error|invalid",
        "truncated_before": r"Unable to read additional data from client",
        "truncated_after": r"Unable to read additional data from client",
        "unknown_op": r"unknown type 999",
        "bad_body": r"Failed to process .*type:getData",
        "bad_create": r"Failed to process .*type:create",
        "bad_buffer": r"Failed to process .*type:setData",
    },
}


@zktest.per_kind
class Hostile:
    @classmethod
    def setUpClass(cls):
        # Every connection comes from 127.0.0.1: lift the per-IP limit for the idle test.
        cls.server = zkserver.shared_server(cls.KIND, extra={"maxClientCnxns": "0"})
        cls.states = []
        cls.zk = KazooClient(hosts=cls.server.hostport, timeout=10.0)
        cls.zk.add_listener(cls.states.append)
        cls.zk.start(timeout=15)
        cls.session = cls.zk.client_id[0]
        cls.zk.ensure_path("/hostile")
        cls.rss0 = cls.server.rss_kb()

    @classmethod
    def tearDownClass(cls):
        zktest.stop_client(cls.zk)

    def setUp(self):
        self.hostport = self.server.hostport
        self.log_from = self.server.log_size()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass

    # -- helpers --------------------------------------------------------------------------
    def connect(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        self.socks.append(s)
        return s

    def raw(self, **kw):
        r = jute.RawClient(self.hostport, **kw)
        self.socks.append(r.sock)
        return r

    def assert_closed(self, sock, what):
        self.assertTrue(jute.wait_closed(sock, 10), "the server did not close the connection after %s" % what)

    def assert_logged(self, key):
        pat = LOG[self.KIND][key]
        line = self.server.wait_log(pat, since=self.log_from, timeout=10)
        self.assertIsNotNone(line, "no log line matching %r; log since the test began:\n%s"
                             % (pat, self.server.log_text(self.log_from)[-3000:]))

    def reply_to(self, r, xid, what):
        """The reply to xid; a test failure (not an error) if the server hung up instead."""
        try:
            hdr, _ = r.wait_reply(xid)
        except jute.ProtocolError as e:
            self.fail("%s: no reply (%s); ZooKeeper answers MARSHALLINGERROR and keeps the connection" % (what, e))
        return hdr

    def assert_healthy(self):
        """Alive, memory bounded, and the ordinary client served on its original session."""
        self.assertTrue(self.server.alive(), "server died (exit status %s); log tail:\n%s"
                        % (self.server.proc.returncode, self.server.log_tail()))
        reports = self.server.sanitizer_reports(self.log_from)
        self.assertEqual(reports, [], "sanitizer reports in the server's log")
        if self.KIND == "zkfsd" and self.rss0:
            rss = self.server.rss_kb()
            self.assertLess(rss - self.rss0, RSS_SLACK_KB, "VmRSS grew from %d kB to %d kB" % (self.rss0, rss))
        p = "/hostile/ok-" + uuid.uuid4().hex[:8]
        self.zk.create(p, b"fine")
        self.assertEqual(self.zk.get(p)[0], b"fine")
        self.zk.delete(p)
        self.assertEqual(self.zk.client_id[0], self.session)
        self.assertEqual([s for s in self.states if s != "CONNECTED"], [],
                         "the ordinary client was disconnected: %s" % self.states)

    # -- before the handshake -------------------------------------------------------------
    def test_negative_length_prefix(self):
        s = self.connect()
        s.sendall(struct.pack(">i", -5))
        self.assert_closed(s, "a negative length")
        self.assert_logged("negative")
        self.assert_healthy()

    def test_one_gib_length_prefix(self):
        s = self.connect()
        s.sendall(struct.pack(">i", 1 << 30) + b"\0" * 4096)
        self.assert_closed(s, "a 1 GiB length")
        self.assert_logged("huge")
        self.assert_healthy()

    def test_text_garbage(self):
        s = self.connect()
        s.sendall(b"GET / HTTP/1.1\r\nHost: zk\r\n\r\n")
        self.assert_closed(s, "an HTTP request")
        self.assert_logged("text")
        self.assert_healthy()

    def test_random_garbage_frames(self):
        rnd = random.Random(20261122)
        for i in range(20):
            s = self.connect()
            body = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(1, 300)))
            # A plausible length so the server has to parse the body as a ConnectRequest.
            s.sendall(struct.pack(">i", len(body)) + body)
            try:
                jute.read_frame(s, 10)  # a "session expired" answer is fine too
            except jute.ProtocolError:
                pass
            self.assert_closed(s, "random frame %d" % i)
        self.assert_healthy()

    def test_unreasonable_password_length(self):
        s = self.connect()
        body = jute.Writer().int(0).long(0).int(30000).long(0).int(0x7FFFFFFF).bytes() + b"\xab" * 60
        s.sendall(jute.frame(body))
        self.assert_closed(s, "a ConnectRequest with a 2 GiB password")
        self.assert_logged("bad_connect")
        self.assert_healthy()

    def test_connect_with_all_ones(self):
        s = self.connect()
        s.sendall(jute.frame(b"\xff" * 100))
        resp = jute.Reader(jute.read_frame(s, 10))
        resp.int()
        self.assertEqual((resp.int(), resp.long()), (0, 0), "expected the 'invalid session' answer")
        self.assert_closed(s, "a ConnectRequest for session -1")
        self.assert_logged("invalid_session")
        self.assert_healthy()

    def test_request_before_handshake(self):
        s = self.connect()
        s.sendall(jute.frame(jute.Writer().int(1).int(jute.OP_GETDATA).ustring("/").bool(False).bytes()))
        try:
            jute.read_frame(s, 10)
            self.fail("the server answered a getData sent instead of the handshake")
        except jute.ProtocolError:
            pass
        self.assert_closed(s, "a request before the handshake")
        self.assert_logged("before_handshake")
        self.assert_healthy()

    def test_truncated_frame_then_close_before_handshake(self):
        s = self.connect()
        s.sendall(jute.frame(jute.connect_request())[:20])
        s.close()
        self.assert_logged("truncated_before")
        self.assert_healthy()

    def test_slow_handshake_one_byte_at_a_time(self):
        s = self.connect()
        for b in jute.frame(jute.connect_request(timeout_ms=10000, read_only=False)):
            s.sendall(bytes([b]))
            time.sleep(0.01)  # pacing the bytes is the point: each must arrive alone
        r = jute.Reader(jute.read_frame(s, 10))
        self.assertEqual(r.int(), 0)
        self.assertEqual(r.int(), 10000)
        sid = r.long()
        self.assertNotEqual(sid, 0)
        # And a request the same way.
        for b in jute.frame(jute.Writer().int(1).int(jute.OP_EXISTS).ustring("/hostile").bool(False).bytes()):
            s.sendall(bytes([b]))
            time.sleep(0.01)
        rep = jute.Reader(jute.read_frame(s, 10))
        self.assertEqual((rep.int(), rep.long() > 0, rep.int()), (1, True, 0))
        self.assertEqual(rep.stat().numChildren >= 0, True)
        self.assert_healthy()

    def test_idle_connections(self):
        # A thousand clients connect at once, shake hands and then sit idle (ZooKeeper closes
        # connections that stay without a session for 10 s, so the idle ones are sessions,
        # with the longest timeout: they never ping), plus a hundred that never send a byte.
        self.assertGreaterEqual(NOFILE, N_IDLE + 200, "cannot raise RLIMIT_NOFILE enough")
        base = int(zktest_mntr(self.server)["zk_num_alive_connections"])
        for _ in range(N_IDLE):
            self.connect().sendall(jute.frame(jute.connect_request(timeout_ms=40000)))
        sids = set()
        for s in self.socks:
            r = jute.Reader(jute.read_frame(s, 60))
            r.int()
            r.int()
            sids.add(r.long())
        self.assertEqual(len(sids), N_IDLE)
        self.assertNotIn(0, sids)
        seen = []

        def held():
            seen.append(int(zktest_mntr(self.server)["zk_num_alive_connections"]))
            return seen[-1] >= base + N_IDLE
        wait_until(held, 60, lambda: "the server to hold %d more connections than %d (saw %s)"
                   % (N_IDLE, base, seen[-3:]))
        self.assert_healthy()
        for _ in range(100):
            self.connect()
        self.assert_healthy()
        for s in self.socks:
            s.close()
        self.socks = []
        wait_until(lambda: int(zktest_mntr(self.server)["zk_num_alive_connections"]) <= base + 5, 60,
                   "the server to notice the closed connections")
        self.assert_healthy()

    # -- after the handshake --------------------------------------------------------------
    def test_truncated_frame_then_close_after_handshake(self):
        r = self.raw()
        r.sock.sendall(jute.frame(jute.Writer().int(1).int(jute.OP_EXISTS).ustring("/hostile").bool(False)
                                  .bytes())[:9])
        r.sock.close()
        self.assert_logged("truncated_after")
        self.assert_healthy()

    def test_length_over_maxbuffer_after_handshake(self):
        r = self.raw()
        r.sock.sendall(struct.pack(">i", 1048576) + b"\0" * 64)
        self.assert_closed(r.sock, "a frame one byte over jute.maxbuffer")
        self.assert_healthy()

    def test_unknown_opcode(self):
        r = self.raw()
        xid = r.send(999, b"\0" * 16)
        kind, hdr, _ = r.read()
        self.assertEqual((kind, hdr.xid, hdr.err), ("reply", xid, jute.ZUNIMPLEMENTED))
        self.assert_closed(r.sock, "an unknown opcode")
        self.assert_logged("unknown_op")
        # The session survives its connection.
        r2 = self.raw(session_id=r.session_id, passwd=r.passwd)
        self.assertEqual(r2.exists("/hostile")[0], 0)
        self.assert_healthy()

    def test_undecodable_request_body(self):
        r = self.raw()
        # getData whose path claims 2 GiB: never allocate it, answer MARSHALLINGERROR.
        xid = r.send(jute.OP_GETDATA, struct.pack(">i", 0x7FFFFFFF) + b"/a")
        hdr = self.reply_to(r, xid, "getData with a 2 GiB path length")
        self.assertEqual(hdr.err, jute.ZMARSHALLINGERROR)
        self.assertEqual(r.exists("/hostile")[0], 0, "the connection should stay usable")
        self.assert_logged("bad_body")
        self.assert_healthy()

    def test_huge_acl_count(self):
        r = self.raw()
        xid = r.send(jute.OP_CREATE, jute.Writer().ustring("/hostile/x").buffer(b"").int(0x7FFFFFF0).bytes())
        hdr = self.reply_to(r, xid, "create with 2^31 ACL entries")
        self.assertEqual(hdr.err, jute.ZMARSHALLINGERROR)
        self.assertIsNone(self.zk.exists("/hostile/x"))
        self.assert_logged("bad_create")
        self.assert_healthy()

    def test_negative_buffer_length(self):
        r = self.raw()
        self.zk.create("/hostile/buf", b"keep")
        # -1 means null; any other negative length is malformed.
        xid = r.send(jute.OP_SETDATA, jute.Writer().ustring("/hostile/buf").int(-7).int(-1).bytes())
        hdr = self.reply_to(r, xid, "setData with data length -7")
        self.assertEqual(hdr.err, jute.ZMARSHALLINGERROR)
        self.assertEqual(self.zk.get("/hostile/buf")[0], b"keep")
        self.assert_logged("bad_buffer")
        self.zk.delete("/hostile/buf")
        self.assert_healthy()

    def test_empty_request_body(self):
        r = self.raw()
        hdr = self.reply_to(r, r.send(jute.OP_GETDATA, b""), "getData with an empty body")
        self.assertEqual(hdr.err, jute.ZMARSHALLINGERROR)
        self.assertEqual(r.exists("/")[0], 0)
        self.assert_healthy()

    def test_pipelined_flood_then_close(self):
        # Many requests written at once, then the socket closed without reading the replies.
        r = self.raw()
        burst = b"".join(jute.frame(jute.Writer().int(i + 1).int(jute.OP_GETDATA).ustring("/hostile").bool(False)
                                    .bytes()) for i in range(5000))
        r.sock.sendall(burst)
        r.sock.close()
        self.assert_healthy()


def zktest_mntr(server):
    out = {}
    for line in server.fourlw("mntr").splitlines():
        if "\t" in line:
            k, v = line.split("\t", 1)
            out[k] = v
    return out


if __name__ == "__main__":
    zktest.main()
