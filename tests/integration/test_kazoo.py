#!/usr/bin/python3
"""kazoo (a ZooKeeper client nobody here wrote) against a real server: CRUD and every error,
the 11 Stat fields, sequential names, ephemerals on close and on expiry, session resumption,
one-shot / persistent / recursive watches and their ordering, multi, ACLs, sync, the
four-letter words and their whitelist, and the tree and sessions after a restart or kill -9.

Expected values are ZooKeeper 3.8's, checked against the Apache ZooKeeper 3.8 server
(ZKFS_SERVER=apache); the default runs them against bin/zkfsd. Where kazoo 2.8 lacks an
operation (addWatch) or normalises what it sends (paths), tests/lib/jute.py speaks the wire
protocol directly.
"""
import base64
import hashlib
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jute  # noqa: E402
import zktest  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.exceptions import (  # noqa: E402
    AuthFailedError, BadArgumentsError, BadVersionError, ConnectionLoss, InvalidACLError, NoAuthError,
    NoChildrenForEphemeralsError, NodeExistsError, NoNodeError, NotEmptyError, RolledBackError,
    RuntimeInconsistency)
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.security import ACL, Id, make_acl, make_digest_acl  # noqa: E402

SUPER_DIGEST = "super:" + base64.b64encode(hashlib.sha1(b"super:secret").digest()).decode()
# A short tick makes session expiry quick: sessions may be 1..10 s (2 and 20 ticks).
KAZOO_CONFIG = {"DigestAuthenticationProvider.superDigest": SUPER_DIGEST}
TICK = 500


class Base(zktest.ServerTest):
    SERVER_CONFIG = KAZOO_CONFIG
    TICK_TIME = TICK

    def events_collector(self):
        """A watch callback that records events, and the list it fills."""
        got = []
        lock = threading.Lock()

        def cb(ev):
            with lock:
                got.append(ev)
        return cb, got

    def wait_events(self, got, n, what="watch events"):
        wait_until(lambda: len(got) >= n, 10.0, "%d %s (got %r)" % (n, what, got))
        return got


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Crud(Base):
    def test_create_get_set_delete(self):
        zk = self.zk
        p = self.p("node")
        self.assertEqual(zk.create(p, b"hello"), p)
        data, st = zk.get(p)
        self.assertEqual(data, b"hello")
        self.assertEqual(st.version, 0)
        st2 = zk.set(p, b"world")
        self.assertEqual(st2.version, 1)
        self.assertEqual(zk.get(p)[0], b"world")
        self.assertTrue(zk.exists(p))
        zk.delete(p)
        self.assertIsNone(zk.exists(p))

    def test_binary_and_empty_data_round_trip(self):
        blob = bytes(range(256)) * 4 + b"\0\0"
        self.zk.create(self.p("b"), blob)
        self.assertEqual(self.zk.get(self.p("b"))[0], blob)
        self.zk.create(self.p("e"))
        data, st = self.zk.get(self.p("e"))
        self.assertEqual(data, b"")
        self.assertEqual(st.dataLength, 0)
        self.zk.set(self.p("e"), b"")
        self.assertEqual(self.zk.get(self.p("e"))[0], b"")

    def test_no_node(self):
        zk = self.zk
        missing = self.p("missing")
        for call in (lambda: zk.get(missing), lambda: zk.set(missing, b"x"), lambda: zk.delete(missing),
                     lambda: zk.get_children(missing), lambda: zk.get_acls(missing),
                     lambda: zk.set_acls(missing, [make_acl("world", "anyone", all=True)]),
                     lambda: zk.create(missing + "/child")):
            with self.assertRaises(NoNodeError):
                call()
        self.assertIsNone(zk.exists(missing))

    def test_node_exists(self):
        self.zk.create(self.p("a"))
        with self.assertRaises(NodeExistsError):
            self.zk.create(self.p("a"))
        with self.assertRaises(NodeExistsError):
            self.zk.create(self.p("a"), ephemeral=True)
        with self.assertRaises(NodeExistsError):
            self.zk.create("/")
        with self.assertRaises(NodeExistsError):
            self.zk.create("/zookeeper")

    def test_bad_version(self):
        zk = self.zk
        p = self.p("v")
        zk.create(p)
        with self.assertRaises(BadVersionError):
            zk.set(p, b"x", version=1)
        with self.assertRaises(BadVersionError):
            zk.delete(p, version=3)
        with self.assertRaises(BadVersionError):
            zk.set_acls(p, [make_acl("world", "anyone", all=True)], version=2)
        self.assertEqual(zk.set(p, b"x", version=0).version, 1)
        self.assertEqual(zk.set(p, b"y", version=1).version, 2)
        self.assertEqual(zk.set(p, b"z", version=-1).version, 3)
        zk.delete(p, version=3)
        self.assertIsNone(zk.exists(p))

    def test_not_empty(self):
        self.zk.create(self.p("a", "b"), makepath=True)
        with self.assertRaises(NotEmptyError):
            self.zk.delete(self.p("a"))
        self.zk.delete(self.p("a"), recursive=True)
        self.assertIsNone(self.zk.exists(self.p("a")))

    def test_no_children_for_ephemerals(self):
        e = self.p("eph")
        self.zk.create(e, ephemeral=True)
        with self.assertRaises(NoChildrenForEphemeralsError):
            self.zk.create(e + "/c")
        with self.assertRaises(NoChildrenForEphemeralsError):
            self.zk.create(e + "/c", sequence=True)
        with self.assertRaises(NoChildrenForEphemeralsError):
            self.zk.create(e + "/c", ephemeral=True)

    def test_invalid_paths_bad_arguments(self):
        # Paths kazoo sends unchanged; ZooKeeper's PathUtils rejects each character.
        for bad in ("\x01b", "\x00", "\x1f", "b\x7f", "b\x85", "b\x9f", "\ue000", "\uf8ff", "\ufff0", "\uffff"):
            with self.subTest(path=repr(bad)):
                with self.assertRaises(BadArgumentsError):
                    self.zk.create(self.p(bad))
        # Dots are only invalid as whole components; these are names.
        for ok in (".b", "..b", "b.", "..."):
            self.assertEqual(self.zk.create(self.p(ok)), self.p(ok))

    def test_invalid_paths_on_the_wire(self):
        # kazoo normalises these away, so send them verbatim. Codes as ZooKeeper 3.8 answers
        # (the parent lookup comes before some of the name checks, hence NONODE for some).
        r = self.raw()
        root = self.root
        cases = [
            ("", jute.ZBADARGUMENTS), ("a", jute.ZBADARGUMENTS), ("//", jute.ZBADARGUMENTS),
            ("/.", jute.ZBADARGUMENTS), ("/..", jute.ZBADARGUMENTS),
            (root + "/", jute.ZBADARGUMENTS), (root + "/.", jute.ZBADARGUMENTS),
            (root + "/..", jute.ZBADARGUMENTS), (root + "//b", jute.ZNONODE),
            (root + "/../b", jute.ZNONODE), (root + "/./b", jute.ZNONODE), (root + "/b/", jute.ZNONODE),
        ]
        for path, want in cases:
            with self.subTest(path=path):
                self.assertEqual(r.create(path)[0], want)
        for path in ("", "a"):
            self.assertEqual(r.delete(path)[0], jute.ZBADARGUMENTS, path)
        self.assertEqual(r.delete("/")[0], jute.ZBADARGUMENTS)
        self.assertEqual(r.delete("/zookeeper")[0], jute.ZBADARGUMENTS)
        self.assertEqual(r.exists("a")[0], jute.ZNONODE)
        self.assertEqual(r.get_children(root)[1], [])

    def test_reserved_zookeeper_subtree(self):
        zk = self.zk
        self.assertEqual(sorted(zk.get_children("/zookeeper")), ["config", "quota"])
        with self.assertRaises(NoAuthError):  # /zookeeper/config is read-only for world
            zk.set("/zookeeper/config", b"x")
        acl, _ = zk.get_acls("/zookeeper/config")
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acl], [(1, "world", "anyone")])
        with self.assertRaises(BadArgumentsError):
            zk.delete("/zookeeper/quota")

    def test_sequential_names_count_child_creations(self):
        # ZooKeeper keeps a per-parent counter of child creations and names sequential
        # children by it; the cversion clients see is that counter * 2 - numChildren (so
        # it grows with creates and deletes alike) and is not the sequence number.
        zk = self.zk
        par = self.p("seq")
        zk.create(par)
        names = [zk.create(par + "/n-", sequence=True) for _ in range(3)]
        self.assertEqual(names, ["%s/n-%010d" % (par, i) for i in range(3)])
        self.assertEqual(zk.exists(par).cversion, 3)
        zk.delete(names[1])
        zk.delete(names[2])
        self.assertEqual(zk.exists(par).cversion, 5)
        self.assertEqual(zk.create(par + "/n-", sequence=True), "%s/n-%010d" % (par, 3))
        # A plain child counts as a creation; ephemeral-sequential shares the counter.
        zk.create(par + "/plain")
        self.assertEqual(zk.create(par + "/e-", ephemeral=True, sequence=True), "%s/e-%010d" % (par, 5))
        st = zk.exists(par)
        self.assertEqual((st.cversion, st.numChildren), (8, 4))
        # Deleting every child and starting again does not reuse numbers.
        for c in zk.get_children(par):
            zk.delete(par + "/" + c)
        self.assertEqual(zk.exists(par).cversion, 12)
        self.assertEqual(zk.create(par + "/n-", sequence=True), "%s/n-%010d" % (par, 6))

    def test_sequential_with_empty_prefix(self):
        # A sequential create of "parent/" names the child by the number alone.
        r = self.raw()
        self.assertEqual(r.create(self.root + "/", flags=2), (0, self.root + "/0000000000"))
        self.assertEqual(r.create(self.root + "/", flags=2), (0, self.root + "/0000000001"))

    def test_create_modes_on_the_wire(self):
        r = self.raw()
        self.assertEqual(r.create(self.p("cont"), flags=4)[0], jute.ZOK)  # container
        # TTL modes need extendedTypesEnabled: UNIMPLEMENTED otherwise; undefined flags: BADARGUMENTS.
        self.assertEqual(r.create(self.p("ttl"), flags=5)[0], jute.ZUNIMPLEMENTED)
        self.assertEqual(r.create(self.p("ttl"), flags=6)[0], jute.ZUNIMPLEMENTED)
        for flags in (7, 99, -1):
            self.assertEqual(r.create(self.p("bad"), flags=flags)[0], jute.ZBADARGUMENTS, flags)

    def test_get_children_include_data(self):
        zk = self.zk
        for n in ("a", "b", "c"):
            zk.create(self.p(n))
        children, st = zk.get_children(self.root, include_data=True)
        self.assertEqual(sorted(children), ["a", "b", "c"])
        self.assertEqual(st, zk.exists(self.root))
        self.assertEqual(st.numChildren, 3)
        self.assertEqual(st.cversion, 3)

    def test_sync_gives_read_after_write_across_clients(self):
        other = self.client()
        p = self.p("s")
        self.assertEqual(self.zk.sync(self.root), self.root)
        self.zk.create(p, b"1")
        self.assertEqual(other.sync(p), p)
        self.assertEqual(other.get(p)[0], b"1")
        # sync does not check that the node exists.
        self.assertEqual(self.zk.sync(self.p("nope")), self.p("nope"))

    def test_large_data_at_and_over_jute_maxbuffer(self):
        zk = self.zk
        big = os.urandom(1024 * 1024 - 200)  # fits in a 1,048,575-byte packet with its header
        zk.create(self.p("big"), big)
        self.assertEqual(zk.get(self.p("big"))[0], big)
        self.assertEqual(zk.exists(self.p("big")).dataLength, len(big))
        # Over jute.maxbuffer: the server drops the connection (ZooKeeper: "Len error").
        with self.assertRaises(ConnectionLoss):
            zk.create(self.p("huge"), b"x" * (1024 * 1024 + 10))
        wait_until(lambda: zk.state == KazooState.CONNECTED, 15, "kazoo to reconnect")
        self.assertIsNone(zk.retry(zk.exists, self.p("huge")))
        self.assertEqual(zk.retry(zk.get, self.p("big"))[0], big)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class StatFields(Base):
    def assert_time_plausible(self, ms, before, after):
        # The server runs on this machine; a generous margin for clock reading granularity.
        self.assertGreaterEqual(ms, int(before * 1000) - 5000)
        self.assertLessEqual(ms, int(after * 1000) + 5000)

    def test_stat_after_create(self):
        before = time.time()
        self.zk.create(self.p("n"), b"12345")
        after = time.time()
        st = self.zk.exists(self.p("n"))
        self.assertGreater(st.czxid, 0)
        self.assertEqual(st.mzxid, st.czxid)
        self.assertEqual(st.pzxid, st.czxid)
        self.assertEqual(st.ctime, st.mtime)
        self.assert_time_plausible(st.ctime, before, after)
        self.assertEqual((st.version, st.cversion, st.aversion), (0, 0, 0))
        self.assertEqual(st.ephemeralOwner, 0)
        self.assertEqual(st.dataLength, 5)
        self.assertEqual(st.numChildren, 0)
        self.assertEqual(self.zk.get(self.p("n"))[1], st)

    def test_stat_after_set(self):
        p = self.p("n")
        self.zk.create(p, b"a")
        st0 = self.zk.exists(p)
        st1 = self.zk.set(p, b"abc")
        self.assertEqual(st1, self.zk.exists(p))
        self.assertEqual(st1.czxid, st0.czxid)
        self.assertGreater(st1.mzxid, st0.mzxid)
        self.assertEqual(st1.pzxid, st0.pzxid)  # data changes leave pzxid alone
        self.assertEqual(st1.ctime, st0.ctime)
        self.assertGreaterEqual(st1.mtime, st0.mtime)
        self.assertEqual(st1.version, 1)
        self.assertEqual((st1.cversion, st1.aversion), (0, 0))
        self.assertEqual(st1.dataLength, 3)
        st2 = self.zk.set(p, b"")
        self.assertGreater(st2.mzxid, st1.mzxid)
        self.assertEqual((st2.version, st2.dataLength), (2, 0))

    def test_stat_children_cversion_pzxid(self):
        par = self.p("par")
        self.zk.create(par, b"d")
        st0 = self.zk.exists(par)
        self.zk.create(par + "/c1")
        c1 = self.zk.exists(par + "/c1")
        st1 = self.zk.exists(par)
        self.assertEqual(st1.cversion, st0.cversion + 1)
        self.assertEqual(st1.numChildren, 1)
        self.assertEqual(st1.pzxid, c1.czxid)
        self.assertEqual((st1.mzxid, st1.version, st1.dataLength), (st0.mzxid, st0.version, 1))
        # Changing a child's data is not a change of the parent's children.
        self.zk.set(par + "/c1", b"x")
        self.assertEqual(self.zk.exists(par), st1)
        self.zk.create(par + "/c2")
        self.zk.delete(par + "/c1")
        st2 = self.zk.exists(par)
        self.assertEqual(st2.cversion, st0.cversion + 3)
        self.assertEqual(st2.numChildren, 1)
        self.assertGreater(st2.pzxid, self.zk.exists(par + "/c2").czxid)  # the delete's zxid
        self.zk.create(self.p("later"))
        self.assertGreater(self.zk.exists(self.p("later")).czxid, st2.pzxid)
        self.assertEqual(st2.mzxid, st0.mzxid)

    def test_stat_aversion(self):
        p = self.p("acl")
        self.zk.create(p)
        st0 = self.zk.exists(p)
        st1 = self.zk.set_acls(p, [make_acl("world", "anyone", all=True)], version=0)
        self.assertEqual(st1.aversion, 1)
        self.assertEqual((st1.version, st1.cversion, st1.mzxid), (st0.version, st0.cversion, st0.mzxid))
        self.assertEqual(self.zk.get_acls(p)[1], st1)
        with self.assertRaises(BadVersionError):
            self.zk.set_acls(p, [make_acl("world", "anyone", all=True)], version=0)

    def test_ephemeral_owner_is_session_id(self):
        p = self.p("e")
        self.zk.create(p, b"xy", ephemeral=True)
        st = self.zk.exists(p)
        self.assertEqual(st.ephemeralOwner, self.zk.client_id[0])
        self.assertNotEqual(st.ephemeralOwner, 0)
        self.assertEqual(st.dataLength, 2)
        other = self.client()
        self.assertEqual(other.exists(p).ephemeralOwner, self.zk.client_id[0])

    def test_zxids_increase_with_every_write(self):
        zxids = []
        for i in range(5):
            self.zk.create(self.p("z%d" % i))
            zxids.append(self.zk.exists(self.p("z%d" % i)).czxid)
            zxids.append(self.zk.set(self.p("z%d" % i), b"x").mzxid)
        self.assertEqual(zxids, sorted(set(zxids)))

    def test_reply_zxid_never_decreases(self):
        r = self.raw()
        seen = []
        for i in range(5):
            hdr, _ = r.wait_reply(r.send(jute.OP_CREATE, jute.Writer().ustring(self.p("r%d" % i)).buffer(b"")
                                         .acls(jute.OPEN_ACL_UNSAFE).int(0).bytes()))
            seen.append(hdr.zxid)
            hdr, _ = r.wait_reply(r.send(jute.OP_EXISTS, jute.Writer().ustring(self.root).bool(False).bytes()))
            seen.append(hdr.zxid)
        self.assertEqual(seen, sorted(seen))
        self.assertEqual(seen[0], r.exists(self.p("r0"))[1].czxid)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Sessions(Base):
    def test_ephemerals_vanish_when_session_closes(self):
        other = self.client()
        e = other.create(self.p("e"), ephemeral=True)
        es = other.create(self.p("es-"), ephemeral=True, sequence=True)
        self.assertEqual(es, self.p("es-%010d" % 1))
        sid = other.client_id[0]
        self.assertEqual(self.zk.exists(e).ephemeralOwner, sid)
        self.assertEqual(self.zk.exists(es).ephemeralOwner, sid)
        other.stop()
        # closeSession is answered after its deletes are applied: no waiting needed.
        self.zk.sync(self.root)
        self.assertIsNone(self.zk.exists(e))
        self.assertIsNone(self.zk.exists(es))
        self.assertEqual(self.zk.get_children(self.root), [])

    def test_ephemerals_vanish_when_session_expires(self):
        # A client frozen with SIGSTOP keeps its socket open but stops pinging: only the
        # server's session expiry can remove its ephemerals.
        child = zktest.KazooChild(self.hostport, timeout=1.0)
        try:
            e = child.cmd("create", path=self.p("e"), ephemeral=True)
            es = child.cmd("create", path=self.p("es-"), ephemeral=True, sequence=True)
            sid, _ = child.client_id()
            self.assertEqual(self.zk.exists(e).ephemeralOwner, sid)
            child.freeze()
            wait_until(lambda: self.zk.exists(e) is None and self.zk.exists(es) is None, 30,
                       "the expired session's ephemerals to vanish")
            n = len(child.states)
            child.thaw()
            # When it runs again the client learns its session expired (LOST), then starts a
            # new one.
            lost = child.wait_state("LOST", 30, since=n)
            child.wait_state("CONNECTED", 30, since=lost)
            new_sid, _ = child.client_id()
            self.assertNotEqual(new_sid, sid)
            self.assertIsNone(child.cmd("exists", path=e))
        finally:
            child.close()

    def test_resume_session_from_second_client(self):
        # The first client dies without closing its session (kill -9); a second KazooClient
        # given its client_id continues the same session: ephemerals survive.
        child = zktest.KazooChild(self.hostport, timeout=10.0)
        try:
            e = child.cmd("create", path=self.p("e"), ephemeral=True)
            sid, pw = child.client_id()
        finally:
            child.kill9()
        resumed = self.client(client_id=(sid, pw))
        self.assertEqual(resumed.client_id[0], sid)
        st = resumed.exists(e)
        self.assertIsNotNone(st)
        self.assertEqual(st.ephemeralOwner, sid)
        e2 = resumed.create(self.p("e2"), ephemeral=True)
        self.assertEqual(self.zk.exists(e2).ephemeralOwner, sid)
        resumed.stop()
        self.zk.sync(self.root)
        self.assertIsNone(self.zk.exists(e))
        self.assertIsNone(self.zk.exists(e2))

    def test_resume_session_on_the_wire(self):
        r = self.raw(timeout_ms=10000)
        self.assertEqual(r.create(self.p("e"), flags=1), (0, self.p("e")))
        sid, pw = r.session_id, r.passwd
        r.close()  # no closeSession
        r2 = self.raw(timeout_ms=10000, session_id=sid, passwd=pw)
        self.assertEqual(r2.session_id, sid)
        self.assertEqual(r2.passwd, pw)
        self.assertEqual(r2.exists(self.p("e"))[1].ephemeralOwner, sid)
        self.assertEqual(r2.close_session(), 0)
        self.zk.sync(self.root)
        self.assertIsNone(self.zk.exists(self.p("e")))

    def test_wrong_password_is_refused(self):
        r = self.raw(timeout_ms=10000)
        r.create(self.p("e"), flags=1)
        bad = bytes(b ^ 0xFF for b in r.passwd)
        with self.assertRaisesRegex(jute.ProtocolError, "session expired"):
            jute.RawClient(self.hostport, timeout_ms=10000, session_id=r.session_id, passwd=bad)
        # The session itself lives on (ZooKeeper does drop its current connection, before it
        # checks the password), and the right password still resumes it.
        self.assertEqual(self.zk.exists(self.p("e")).ephemeralOwner, r.session_id)
        r2 = self.raw(timeout_ms=10000, session_id=r.session_id, passwd=r.passwd)
        self.assertEqual(r2.exists(self.p("e"))[1].ephemeralOwner, r.session_id)

    def test_expired_session_cannot_be_resumed(self):
        r = self.raw(timeout_ms=1000)
        self.assertLessEqual(r.timeout_ms, 2000)
        r.create(self.p("e"), flags=1)
        sid, pw = r.session_id, r.passwd
        r.close()
        wait_until(lambda: self.zk.exists(self.p("e")) is None, 30, "the session to expire")
        with self.assertRaisesRegex(jute.ProtocolError, "session expired"):
            jute.RawClient(self.hostport, timeout_ms=10000, session_id=sid, passwd=pw)
        # kazoo, given the dead session, gets SESSIONEXPIRED and starts a new session (its
        # state was LOST already: no listener call).
        zk = self.client(client_id=(sid, pw))
        wait_until(lambda: zk.connected and zk.client_id and zk.client_id[0] != sid, 15, "a new session")
        self.assertIsNone(zk.exists(self.p("e")))

    def test_bogus_session_id_is_expired(self):
        bogus = 0x7123456789ABCDEF
        with self.assertRaisesRegex(jute.ProtocolError, "session expired"):
            jute.RawClient(self.hostport, session_id=bogus, passwd=b"\x01" * 16)
        zk = self.client(client_id=(bogus, b"\x01" * 16))
        wait_until(lambda: zk.connected and zk.client_id and zk.client_id[0] != bogus, 15, "a new session")
        zk.create(self.p("after"))

    def test_session_timeout_negotiation(self):
        # Bounds are 2 and 20 ticks by default.
        self.assertEqual(self.raw(timeout_ms=100).timeout_ms, 2 * TICK)
        self.assertEqual(self.raw(timeout_ms=3000).timeout_ms, 3000)
        self.assertEqual(self.raw(timeout_ms=600000).timeout_ms, 20 * TICK)

    def test_handshake_with_and_without_read_only_byte(self):
        a = jute.RawClient(self.hostport, read_only=None)
        b = jute.RawClient(self.hostport, read_only=False)
        try:
            self.assertNotEqual(a.session_id, b.session_id)
            self.assertEqual(a.exists(self.root)[0], 0)
            self.assertEqual(b.exists(self.root)[0], 0)
            self.assertEqual(a.ping(), 0)
        finally:
            a.close_session()
            b.close_session()

    def test_unknown_opcode_is_unimplemented_and_closes(self):
        r = self.raw()
        xid = r.send(999)
        kind, hdr, _ = r.read()
        self.assertEqual((kind, hdr.xid, hdr.err), ("reply", xid, jute.ZUNIMPLEMENTED))
        self.assertTrue(jute.wait_closed(r.sock, 10))
        # Only the connection ends: the session can be resumed.
        r2 = self.raw(session_id=r.session_id, passwd=r.passwd)
        self.assertEqual(r2.session_id, r.session_id)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Watches(Base):
    def test_data_watch_fires_once(self):
        p = self.p("d")
        self.zk.create(p)
        cb, got = self.events_collector()
        self.zk.get(p, watch=cb)
        other = self.client()
        other.set(p, b"1")
        self.wait_events(got, 1)
        self.assertEqual((got[0].type, got[0].path), ("CHANGED", p))
        other.set(p, b"2")
        # A barrier: a later watch on the same connection fires after any pending event.
        cb2, got2 = self.events_collector()
        self.zk.exists(self.p("barrier"), watch=cb2)
        other.create(self.p("barrier"))
        self.wait_events(got2, 1)
        self.assertEqual(len(got), 1, got)

    def test_child_watch(self):
        cb, got = self.events_collector()
        self.assertEqual(self.zk.get_children(self.root, watch=cb), [])
        other = self.client()
        other.create(self.p("c"))
        self.wait_events(got, 1)
        self.assertEqual((got[0].type, got[0].path), ("CHILD", self.root))
        # A child's data change is not a children change; nor does the fired watch rearm.
        other.set(self.p("c"), b"x")
        other.delete(self.p("c"))
        cb2, got2 = self.events_collector()
        self.zk.exists(self.p("barrier"), watch=cb2)
        other.create(self.p("barrier"))
        self.wait_events(got2, 1)
        self.assertEqual(len(got), 1, got)

    def test_exists_watch_on_missing_node_fires_created(self):
        cb, got = self.events_collector()
        self.assertIsNone(self.zk.exists(self.p("later"), watch=cb))
        self.client().create(self.p("later"))
        self.wait_events(got, 1)
        self.assertEqual((got[0].type, got[0].path), ("CREATED", self.p("later")))

    def test_exists_watch_fires_changed_and_deleted(self):
        p = self.p("x")
        self.zk.create(p)
        other = self.client()
        cb, got = self.events_collector()
        self.zk.exists(p, watch=cb)
        other.set(p, b"1")
        self.wait_events(got, 1)
        self.zk.exists(p, watch=cb)
        other.delete(p)
        self.wait_events(got, 2)
        self.assertEqual([(e.type, e.path) for e in got], [("CHANGED", p), ("DELETED", p)])

    def test_delete_fires_data_and_child_watches(self):
        p = self.p("x")
        self.zk.create(p)
        dcb, dgot = self.events_collector()
        ccb, cgot = self.events_collector()
        pcb, pgot = self.events_collector()
        self.zk.get(p, watch=dcb)
        self.zk.get_children(p, watch=ccb)
        self.zk.get_children(self.root, watch=pcb)
        self.client().delete(p)
        self.wait_events(dgot, 1)
        self.wait_events(cgot, 1)
        self.wait_events(pgot, 1)
        self.assertEqual((dgot[0].type, dgot[0].path), ("DELETED", p))
        self.assertEqual((cgot[0].type, cgot[0].path), ("DELETED", p))
        self.assertEqual((pgot[0].type, pgot[0].path), ("CHILD", self.root))

    def test_every_watching_client_is_notified(self):
        p = self.p("x")
        self.zk.create(p)
        clients = [self.client() for _ in range(3)]
        gots = []
        for c in clients:
            cb, got = self.events_collector()
            c.get(p, watch=cb)
            gots.append(got)
        self.zk.set(p, b"!")
        for got in gots:
            self.wait_events(got, 1)
            self.assertEqual((got[0].type, got[0].path), ("CHANGED", p))

    def test_event_arrives_before_the_reply_that_shows_the_change(self):
        p = self.p("o")
        self.zk.create(p, b"0")
        r = self.raw()
        self.assertEqual(r.get_data(p, watch=True)[1][0], b"0")
        self.assertEqual(r.get_children(self.root, watch=True)[0], 0)
        self.assertIsNone(r.exists(self.p("new"), watch=True)[1])
        self.zk.set(p, b"1")
        self.zk.create(self.p("new"))
        r.frames.clear()
        err, (data, st) = r.get_data(p)
        self.assertEqual((err, data, st.version), (0, b"1", 1))
        # All three notifications precede the reply to the read sent after the writes.
        kinds = [f[0] for f in r.frames]
        self.assertEqual(kinds, ["event", "event", "event", "reply"], r.frames)
        evs = [f[1] for f in r.frames[:3]]
        self.assertEqual(evs[0], jute.WatchEvent(jute.EV_NODE_DATA_CHANGED, 3, p))
        self.assertEqual(sorted((e.type, e.path) for e in evs[1:]),
                         [(jute.EV_NODE_CREATED, self.p("new")), (jute.EV_NODE_CHILDREN_CHANGED, self.root)])

    def test_watch_is_one_shot_on_the_wire(self):
        p = self.p("o")
        self.zk.create(p)
        r = self.raw()
        r.get_data(p, watch=True)
        for i in range(3):
            self.zk.set(p, b"%d" % i)
        r.frames.clear()
        r.exists(self.root)
        self.assertEqual(r.frames[:-1], [("event", jute.WatchEvent(jute.EV_NODE_DATA_CHANGED, 3, p))])

    def test_persistent_watch(self):
        p = self.p("p")
        self.zk.create(p)
        r = self.raw()
        self.assertEqual(r.add_watch(p, jute.ADDWATCH_PERSISTENT), (0, None))
        zk = self.zk
        zk.set(p, b"1")
        zk.create(p + "/c")
        zk.set(p, b"2")
        zk.set(p + "/c", b"x")  # not recursive: nothing
        zk.delete(p + "/c")
        zk.delete(p)
        zk.create(p)  # the watch outlives the node
        r.frames.clear()
        r.exists(self.root)
        evs = [(f[1].type, f[1].path) for f in r.frames if f[0] == "event"]
        self.assertEqual(evs, [(jute.EV_NODE_DATA_CHANGED, p), (jute.EV_NODE_CHILDREN_CHANGED, p),
                               (jute.EV_NODE_DATA_CHANGED, p), (jute.EV_NODE_CHILDREN_CHANGED, p),
                               (jute.EV_NODE_DELETED, p), (jute.EV_NODE_CREATED, p)])
        self.assertEqual(r.frames[-1][0], "reply")

    def test_persistent_recursive_watch(self):
        q = self.p("q")
        self.zk.create(q)
        r = self.raw()
        self.assertEqual(r.add_watch(q, jute.ADDWATCH_PERSISTENT_RECURSIVE), (0, None))
        zk = self.zk
        zk.create(q + "/c")
        zk.set(q + "/c", b"1")
        zk.create(q + "/c/d")
        zk.delete(q + "/c/d")
        zk.set(q, b"x")
        zk.delete(q + "/c")
        zk.create(self.p("q2"))  # a sibling sharing the prefix is not below q
        zk.delete(q)
        zk.create(q)
        r.frames.clear()
        r.exists(self.root)
        evs = [(f[1].type, f[1].path) for f in r.frames if f[0] == "event"]
        # Never NodeChildrenChanged in recursive mode.
        self.assertEqual(evs, [(jute.EV_NODE_CREATED, q + "/c"), (jute.EV_NODE_DATA_CHANGED, q + "/c"),
                               (jute.EV_NODE_CREATED, q + "/c/d"), (jute.EV_NODE_DELETED, q + "/c/d"),
                               (jute.EV_NODE_DATA_CHANGED, q), (jute.EV_NODE_DELETED, q + "/c"),
                               (jute.EV_NODE_DELETED, q), (jute.EV_NODE_CREATED, q)])

    def test_persistent_watch_on_missing_node_and_with_one_shot(self):
        m = self.p("m")
        o = self.p("o")
        self.zk.create(o)
        r = self.raw()
        self.assertEqual(r.add_watch(m, jute.ADDWATCH_PERSISTENT)[0], 0)
        r.get_data(o, watch=True)
        self.assertEqual(r.add_watch(o, jute.ADDWATCH_PERSISTENT)[0], 0)
        self.zk.create(m)
        self.zk.set(o, b"1")
        self.zk.set(o, b"2")
        r.frames.clear()
        r.exists(self.root)
        evs = [(f[1].type, f[1].path) for f in r.frames if f[0] == "event"]
        # One notification per change even with two watches on o on this connection.
        self.assertEqual(evs, [(jute.EV_NODE_CREATED, m), (jute.EV_NODE_DATA_CHANGED, o),
                               (jute.EV_NODE_DATA_CHANGED, o)])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Transactions(Base):
    def test_multi_success_results(self):
        zk = self.zk
        zk.create(self.p("old"))
        t = zk.transaction()
        t.create(self.p("a"), b"A")
        t.create(self.p("a", "b"))
        t.set_data(self.root, b"r", version=0)
        t.check(self.p("a"), 0)
        t.delete(self.p("old"))
        t.create(self.p("s-"), sequence=True)
        res = t.commit()
        self.assertEqual(res[0], self.p("a"))
        self.assertEqual(res[1], self.p("a", "b"))
        # setData's stat is the root as it was at that point of the transaction.
        self.assertEqual((res[2].version, res[2].numChildren, res[2].cversion), (1, 2, 2))
        self.assertEqual(res[2].mzxid, zk.exists(self.root).mzxid)
        self.assertIs(res[3], True)
        self.assertIs(res[4], True)
        # The third child ever created under the root.
        self.assertEqual(res[5], self.p("s-%010d" % 2))
        self.assertEqual(zk.get(self.p("a"))[0], b"A")
        self.assertIsNone(zk.exists(self.p("old")))
        # One transaction, one zxid.
        self.assertEqual(zk.exists(self.p("a")).czxid, zk.exists(self.p("a", "b")).czxid)
        self.assertEqual(zk.exists(self.p("a")).czxid, res[2].mzxid)

    def test_multi_failure_results_and_rollback(self):
        zk = self.zk
        before = zk.exists(self.root)
        t = zk.transaction()
        t.create(self.p("x"))
        t.set_data(self.root, b"changed")
        t.check(self.root, 99)
        t.create(self.p("y"))
        t.delete(self.p("nope"))
        res = t.commit()
        self.assertEqual([type(r) for r in res],
                         [RolledBackError, RolledBackError, BadVersionError, RuntimeInconsistency,
                          RuntimeInconsistency])
        self.assertIsNone(zk.exists(self.p("x")))
        self.assertIsNone(zk.exists(self.p("y")))
        self.assertEqual(zk.exists(self.root), before)
        self.assertEqual(zk.get(self.root)[0], b"")

    def test_multi_failure_first_and_last(self):
        zk = self.zk
        zk.create(self.p("e"))
        t = zk.transaction()
        t.create(self.p("e"))
        t.create(self.p("f"))
        self.assertEqual([type(r) for r in t.commit()], [NodeExistsError, RuntimeInconsistency])
        t = zk.transaction()
        t.create(self.p("f"))
        t.create(self.p("g"))
        t.delete(self.p("missing"))
        self.assertEqual([type(r) for r in t.commit()], [RolledBackError, RolledBackError, NoNodeError])
        self.assertEqual(zk.get_children(self.root), ["e"])

    def test_multi_errors_of_each_kind(self):
        zk = self.zk
        zk.create(self.p("full", "c"), makepath=True)
        zk.create(self.p("eph"), ephemeral=True)
        cases = [
            (lambda t: t.delete(self.p("full")), NotEmptyError),
            (lambda t: t.create(self.p("eph", "c")), NoChildrenForEphemeralsError),
            (lambda t: t.set_data(self.p("full"), b"", version=5), BadVersionError),
            (lambda t: t.check(self.p("nope"), 0), NoNodeError),
            (lambda t: t.create(self.p("bad\x01")), BadArgumentsError),
        ]
        for add, exc in cases:
            with self.subTest(exc=exc.__name__):
                t = zk.transaction()
                t.create(self.p("tmp"))
                add(t)
                self.assertEqual([type(r) for r in t.commit()], [RolledBackError, exc])
                self.assertIsNone(zk.exists(self.p("tmp")))

    def test_multi_ops_see_earlier_ops(self):
        zk = self.zk
        t = zk.transaction()
        t.create(self.p("a"))
        t.create(self.p("a", "b"))
        t.set_data(self.p("a", "b"), b"x", version=0)
        t.check(self.p("a", "b"), 1)
        t.delete(self.p("a", "b"), version=1)
        t.delete(self.p("a"))
        res = t.commit()
        self.assertEqual(res[:2], [self.p("a"), self.p("a", "b")], res)
        self.assertEqual(res[3:], [True, True, True])
        self.assertIsNone(zk.exists(self.p("a")))

    def test_multi_fires_watches_after_commit(self):
        cb, got = self.events_collector()
        self.zk.exists(self.p("w"), watch=cb)
        t = self.client().transaction()
        t.create(self.p("w"))
        t.set_data(self.p("w"), b"1")
        t.commit()
        self.wait_events(got, 1)
        self.assertEqual((got[0].type, got[0].path), ("CREATED", self.p("w")))

    def test_failed_multi_fires_no_watch(self):
        r = self.raw()
        r.exists(self.p("w"), watch=True)
        t = self.zk.transaction()
        t.create(self.p("w"))
        t.check(self.root, 42)
        t.commit()
        r.frames.clear()
        r.exists(self.root)
        self.assertEqual([f[0] for f in r.frames], ["reply"])

    def test_empty_multi(self):
        self.assertEqual(self.zk.transaction().commit(), [])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Acls(Base):
    def test_digest_acl_and_add_auth(self):
        p = self.p("d")
        self.zk.create(p, b"secret", acl=[make_digest_acl("user", "pw", all=True)])
        anon = self.client()
        for call in (lambda c: c.get(p), lambda c: c.set(p, b"x"), lambda c: c.get_children(p),
                     lambda c: c.create(p + "/c"), lambda c: c.get_acls(p),
                     lambda c: c.set_acls(p, [make_acl("world", "anyone", all=True)])):
            with self.assertRaises(NoAuthError):
                call(anon)
            with self.assertRaises(NoAuthError):
                call(self.zk)  # the creator is not authenticated either
        wrong = self.client()
        wrong.add_auth("digest", "user:wrong")
        with self.assertRaises(NoAuthError):
            wrong.get(p)
        authed = self.client()
        authed.add_auth("digest", "user:pw")
        self.assertEqual(authed.get(p)[0], b"secret")
        authed.set(p, b"new")
        authed.create(p + "/c")
        authed.delete(p + "/c")
        # Delete is the parent's permission: anyone may delete p itself (root is open).
        anon.delete(p)

    def test_read_only_world_acl(self):
        p = self.p("ro")
        self.zk.create(p, b"v", acl=[make_acl("world", "anyone", read=True)])
        self.assertEqual(self.zk.get(p)[0], b"v")
        self.assertEqual(self.zk.get_children(p), [])
        with self.assertRaises(NoAuthError):
            self.zk.set(p, b"x")
        with self.assertRaises(NoAuthError):
            self.zk.create(p + "/c")
        with self.assertRaises(NoAuthError):
            self.zk.set_acls(p, [make_acl("world", "anyone", all=True)])

    def test_delete_needs_delete_on_parent(self):
        p = self.p("nodel")
        self.zk.create(p, acl=[make_acl("world", "anyone", read=True, create=True)])
        self.zk.create(p + "/c")
        with self.assertRaises(NoAuthError):
            self.zk.delete(p + "/c")

    def test_zero_permissions(self):
        p = self.p("none")
        self.zk.create(p, acl=[ACL(0, Id("world", "anyone"))])
        with self.assertRaises(NoAuthError):
            self.zk.get(p)

    def test_get_acl_hides_digest_without_admin(self):
        digest_id = make_digest_acl("user", "pw", all=True).id.id
        self.assertTrue(digest_id.startswith("user:"))
        p = self.p("h")
        self.zk.create(p, acl=[make_acl("world", "anyone", read=True), make_digest_acl("user", "pw", all=True)])
        acl, _ = self.zk.get_acls(p)  # world READ lets anyone ask, but not see the hash
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acl],
                         [(1, "world", "anyone"), (31, "digest", "user:x")])
        authed = self.client()
        authed.add_auth("digest", "user:pw")
        acl, _ = authed.get_acls(p)  # ADMIN through the digest: the hash is shown
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acl],
                         [(1, "world", "anyone"), (31, "digest", digest_id)])
        q = self.p("rw")
        authed.create(q, acl=[make_digest_acl("user", "pw", read=True, write=True)])
        acl, _ = authed.get_acls(q)  # READ but no ADMIN: hidden even from its owner
        self.assertEqual([(a.perms, a.id.id) for a in acl], [(3, "user:x")])

    def test_auth_scheme_acl(self):
        with self.assertRaises(InvalidACLError):  # "auth" needs an authenticated identity
            self.zk.create(self.p("a"), acl=[ACL(31, Id("auth", ""))])
        authed = self.client()
        authed.add_auth("digest", "user:pw")
        authed.create(self.p("a"), acl=[ACL(31, Id("auth", ""))])
        acl, _ = authed.get_acls(self.p("a"))
        self.assertEqual([(a.perms, a.id.scheme, a.id.id) for a in acl],
                         [(31, "digest", make_digest_acl("user", "pw").id.id)])
        with self.assertRaises(NoAuthError):
            self.zk.get(self.p("a"))

    def test_invalid_acls(self):
        for acl in ([make_acl("digest", "nocolon", all=True)], [make_acl("foo", "bar", all=True)],
                    [make_acl("world", "someone", all=True)], [make_acl("ip", "notanip", all=True)]):
            with self.subTest(acl=acl):
                with self.assertRaises(InvalidACLError):
                    self.zk.create(self.p("bad"), acl=acl)
        self.zk.create(self.p("ok"))
        with self.assertRaises(InvalidACLError):
            self.zk.set_acls(self.p("ok"), [])

    def test_ip_acl(self):
        self.zk.create(self.p("lo"), b"1", acl=[make_acl("ip", "127.0.0.1", read=True)])
        self.assertEqual(self.zk.get(self.p("lo"))[0], b"1")
        with self.assertRaises(NoAuthError):
            self.zk.set(self.p("lo"), b"2")
        self.zk.create(self.p("net"), acl=[make_acl("ip", "127.0.0.0/8", all=True)])
        self.zk.set(self.p("net"), b"ok")
        self.zk.create(self.p("far"), acl=[make_acl("ip", "10.0.0.1", all=True)])
        with self.assertRaises(NoAuthError):
            self.zk.get(self.p("far"))

    def test_super_digest(self):
        p = self.p("s")
        self.zk.create(p, b"x", acl=[make_digest_acl("user", "pw", all=True)])
        su = self.client()
        su.add_auth("digest", "super:secret")
        self.assertEqual(su.get(p)[0], b"x")
        su.set(p, b"y")
        acl, _ = su.get_acls(p)
        self.assertEqual(acl[0].id.id, make_digest_acl("user", "pw").id.id)

    def test_set_acl_takes_effect(self):
        p = self.p("c")
        self.zk.create(p, b"x")
        self.zk.set_acls(p, [make_digest_acl("user", "pw", all=True)])
        with self.assertRaises(NoAuthError):
            self.zk.get(p)
        authed = self.client()
        authed.add_auth("digest", "user:pw")
        authed.set_acls(p, [make_acl("world", "anyone", all=True)])
        self.assertEqual(self.zk.get(p)[0], b"x")

    def test_unknown_auth_scheme_fails(self):
        bad = self.client()
        with self.assertRaises(AuthFailedError):
            bad.add_auth("nosuchscheme", "x")
        # Other sessions are unaffected.
        self.assertTrue(self.zk.exists(self.root))


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Restart(Base):
    # A server of its own (restarted and killed here); a small snapCount so that the tree
    # comes back from a snapshot plus a log tail.
    SERVER_CONFIG = dict(KAZOO_CONFIG, snapCount="40")

    def test_tree_and_sessions_survive_kill_9(self):
        zk = self.zk
        for i in range(60):
            zk.create(self.p("n%02d" % i), b"v%d" % i)
        zk.set(self.p("n00"), b"changed")
        zk.delete(self.p("n59"))
        seq = zk.create(self.p("s-"), sequence=True)
        eph = zk.create(self.p("eph"), b"mine", ephemeral=True)
        closed = self.client()
        gone = closed.create(self.p("gone"), ephemeral=True)
        closed.stop()
        abandoned = self.raw(timeout_ms=2 * TICK)
        self.assertEqual(abandoned.create(self.p("abandoned"), flags=1)[0], 0)
        abandoned.close()  # no closeSession: the session must expire on its own
        before = {c: zk.exists(self.p(c)) for c in zk.get_children(self.root)}
        root_before = zk.exists(self.root)
        sid = zk.client_id[0]

        self.server.kill9()
        self.server.start()
        # kazoo reconnects by itself, with its session.
        wait_until(lambda: zk.connected, 30, "kazoo to reconnect")
        self.assertEqual(zk.retry(zk.get, self.p("n00"))[0], b"changed")
        self.assertEqual(zk.client_id[0], sid)
        self.assertEqual(zk.exists(eph).ephemeralOwner, sid)
        self.assertEqual(zk.get(eph)[0], b"mine")
        self.assertIsNone(zk.exists(gone))
        self.assertIsNone(zk.exists(self.p("n59")))
        for c, st in before.items():
            if c in ("abandoned",):
                continue
            self.assertEqual(zk.exists(self.p(c)), st, c)
        self.assertEqual(zk.get(self.p("n42"))[0], b"v42")
        # The abandoned session was restored too, and then expires.
        wait_until(lambda: zk.exists(self.p("abandoned")) is None, 30, "the abandoned session to expire")
        # Counters continue: the next sequential number and the next zxid.
        root_after = zk.exists(self.root)
        n = zk.create(self.p("s-"), sequence=True)
        self.assertGreater(n, seq)
        self.assertGreater(zk.exists(n).czxid, root_before.pzxid)
        self.assertGreater(zk.exists(n).czxid, root_after.pzxid)

    def test_clean_restart(self):
        zk = self.zk
        zk.create(self.p("keep"), b"1")
        st = zk.exists(self.p("keep"))
        self.server.restart()
        wait_until(lambda: zk.connected, 30, "kazoo to reconnect")
        self.assertEqual(zk.retry(zk.exists, self.p("keep")), st)


# ---------------------------------------------------------------------------------------------
def parse_kv(text, sep):
    out = {}
    for line in text.splitlines():
        if sep in line:
            k, v = line.split(sep, 1)
            out[k.strip()] = v.strip()
    return out


@zktest.per_kind
class FourLetterWords(Base):
    # A server of its own: counts of watches, sessions and znodes must not see other tests.
    SERVER_CONFIG = dict(KAZOO_CONFIG, **{"4lw.commands.whitelist": "*", "maxClientCnxns": "60"})
    CREATE_ROOT = False

    def test_ruok_isro(self):
        self.assertEqual(self.server.fourlw("ruok"), "imok")
        self.assertEqual(self.server.fourlw("isro"), "rw")

    def test_srvr_and_stat(self):
        zk = self.client()
        zk.create("/srvr-%s" % uuid.uuid4().hex[:6])
        zxid = zk.exists("/").pzxid
        for word in ("srvr", "stat"):
            text = self.server.fourlw(word)
            kv = parse_kv(text, ": ")
            self.assertTrue(text.startswith("Zookeeper version: 3."), text)
            for key in ("Latency min/avg/max", "Received", "Sent", "Connections", "Outstanding", "Zxid", "Mode",
                        "Node count"):
                self.assertIn(key, kv, text)
            self.assertEqual(kv["Mode"], "standalone")
            self.assertRegex(kv["Latency min/avg/max"], r"^\d+/[\d.]+/\d+$")
            self.assertGreaterEqual(int(kv["Zxid"], 16), zxid)
            self.assertGreaterEqual(int(kv["Connections"]), 2)  # zk and this one
        self.assertIn("Clients:\n /127.0.0.1:", text)

    def test_mntr(self):
        zk = self.client()
        base = parse_kv(self.server.fourlw("mntr"), "\t")
        for key in ("zk_version", "zk_server_state", "zk_avg_latency", "zk_max_latency", "zk_min_latency",
                    "zk_packets_received", "zk_packets_sent", "zk_num_alive_connections", "zk_outstanding_requests",
                    "zk_znode_count", "zk_watch_count", "zk_ephemerals_count", "zk_approximate_data_size",
                    "zk_open_file_descriptor_count", "zk_max_file_descriptor_count", "zk_global_sessions"):
            self.assertIn(key, base)
        self.assertEqual(base["zk_server_state"], "standalone")
        r = "/mntr-%s" % uuid.uuid4().hex[:6]
        zk.create(r, b"12345")
        zk.create(r + "/e", ephemeral=True)
        zk.get(r, watch=lambda e: None)
        after = parse_kv(self.server.fourlw("mntr"), "\t")
        self.assertEqual(int(after["zk_znode_count"]), int(base["zk_znode_count"]) + 2)
        self.assertEqual(int(after["zk_ephemerals_count"]), int(base["zk_ephemerals_count"]) + 1)
        self.assertEqual(int(after["zk_watch_count"]), int(base["zk_watch_count"]) + 1)
        self.assertEqual(int(after["zk_approximate_data_size"]),
                         int(base["zk_approximate_data_size"]) + 5 + len(r) + len(r + "/e"))
        self.assertGreater(int(after["zk_packets_received"]), int(base["zk_packets_received"]))

    def test_conf(self):
        kv = parse_kv(self.server.fourlw("conf"), "=")
        self.assertEqual(kv["clientPort"], str(self.server.port))
        self.assertEqual(kv["tickTime"], str(TICK))
        self.assertEqual(kv["minSessionTimeout"], str(2 * TICK))
        self.assertEqual(kv["maxSessionTimeout"], str(20 * TICK))
        self.assertEqual(kv["maxClientCnxns"], "60")
        self.assertEqual(kv["dataDir"], os.path.join(self.server.data_dir, "version-2"))
        self.assertEqual(kv["serverId"], "0")

    def test_cons(self):
        zk = self.client()
        sid = zk.client_id[0]
        text = self.server.fourlw("cons")
        lines = [l for l in text.splitlines() if "sid=0x%x," % sid in l]
        self.assertEqual(len(lines), 1, text)
        self.assertRegex(lines[0], r"^ /127\.0\.0\.1:\d+\[1\]\(queued=\d+,recved=\d+,sent=\d+,sid=0x[0-9a-f]+,"
                                   r"lop=\w+,est=\d+,to=\d+,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,"
                                   r"llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)$")
        self.assertIn(",to=10000,", lines[0])

    def test_wchs_counts_data_watches(self):
        # ZooKeeper's wchs/wchc/wchp report the data-watch table only (getData/exists);
        # child watches count in mntr's zk_watch_count but not here.
        # Sessions of earlier tests are closed; their watches go with their connections.
        wait_until(lambda: self.server.fourlw("wchs").strip() == "0 connections watching 0 paths\nTotal watches:0",
                   10, "no data watches left from earlier tests")
        a = self.client()
        b = self.client()
        r = "/wchs-%s" % uuid.uuid4().hex[:6]
        a.create(r)
        a.get(r, watch=lambda e: None)
        a.exists(r + "/missing", watch=lambda e: None)
        b.get(r, watch=lambda e: None)
        b.get_children(r, watch=lambda e: None)
        text = self.server.fourlw("wchs")
        self.assertEqual(text.strip(), "2 connections watching 2 paths\nTotal watches:3")
        wchc = self.server.fourlw("wchc")
        self.assertIn("0x%x\n\t" % a.client_id[0], wchc)
        self.assertIn("\t%s/missing\n" % r, wchc)
        wchp = self.server.fourlw("wchp")
        self.assertIn("%s\n\t0x" % r, wchp)

    def test_dump(self):
        zk = self.client()
        sid = zk.client_id[0]
        e = "/dump-%s" % uuid.uuid4().hex[:6]
        zk.create(e, ephemeral=True)
        text = self.server.fourlw("dump")
        self.assertTrue(text.startswith("SessionTracker dump:\n"), text)
        head, _, eph = text.partition("ephemeral nodes dump:\n")
        self.assertIn("0x%x" % sid, head)
        self.assertIn("Sessions with Ephemerals (1):\n0x%x:\n\t%s\n" % (sid, e), eph)

    def test_envi(self):
        text = self.server.fourlw("envi")
        self.assertTrue(text.startswith("Environment:\n"), text)
        kv = parse_kv(text, "=")
        for key in ("zookeeper.version", "host.name", "java.version", "os.name", "os.arch", "os.version",
                    "user.name", "user.dir"):
            self.assertIn(key, kv, text)
        self.assertEqual(kv["user.dir"], self.server.dir)

    def test_unknown_word_closes(self):
        self.assertEqual(self.server.fourlw("xyzw"), "")
        self.assertEqual(self.server.fourlw("ruok"), "imok")


@zktest.per_kind
class Whitelist(Base):
    SERVER_CONFIG = {"4lw.commands.whitelist": "ruok, stat"}
    CREATE_ROOT = False

    def test_not_whitelisted_words_are_refused(self):
        self.assertEqual(self.server.fourlw("ruok"), "imok")
        self.assertIn("Clients:", self.server.fourlw("stat"))
        self.assertIn("Mode: standalone", self.server.fourlw("srvr"))  # srvr is always allowed
        for w in ("mntr", "conf", "cons", "wchs", "dump", "isro", "envi", "crst", "srst", "wchc", "wchp", "dirs"):
            self.assertEqual(self.server.fourlw(w), "%s is not executed because it is not in the whitelist.\n" % w)
        # The protocol is unaffected.
        zk = self.client()
        self.assertTrue(zk.exists("/"))


if __name__ == "__main__":
    zktest.main()
