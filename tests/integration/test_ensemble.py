#!/usr/bin/python3
"""Ensembles (ZAB quorum mode) with real processes on loopback, driven with kazoo:

1. a write through any member is read on every other one after sync (3 and 5 members);
2. kill -9 of the leader during a stream of concurrent creates: a new leader serves, every
   acknowledged create is on every member exactly once, nothing unacknowledged is invented,
   and the old leader has the same children once it is back;
3. a stopped follower, and one whose data was wiped, catch up when restarted;
4. an iptables partition isolates the leader: the majority elects another and takes writes,
   the isolated one stops leading and refuses writes, and rejoins with them after healing;
5. an observer reads what voters wrote, says observer, and never votes (2 of 3 voters
   down: nobody leads, writes fail);
6. a kazoo session survives kill -9 of the member it is connected to (follower, leader):
   same session, ephemeral still there, never LOST;
7. a minority cannot commit: srvr says it is not serving, a write fails, and is not there
   once the majority is back;
8. Apache ZooKeeper's C client (zkc_scenario failover, given every member) keeps its session
   through kill -9 of the member it is connected to (a follower, the leader), and, on a
   follower, through kill -9 of the leader: its retried create succeeds, same session, its
   ephemeral still its own.

Every test makes its own ensemble (tests/lib/ensemble.py) of ZKFS_SERVER's kind(s)
(both by default: zkfsd, and Apache ZooKeeper 3.8 as the reference the suite is proven
against; ZKFS_SERVER=zkfsd or apache selects one). Waits are polls with generous deadlines; the only time limits asserted are
liveness ones (e.g. a new leader serves within 20 s).
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ.setdefault("ZKFS_SERVER", "both")
import ensemble  # noqa: E402
import zkserver  # noqa: E402
import zktest  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import (  # noqa: E402
    ConnectionClosedError, ConnectionLoss, NotReadOnlyCallError, OperationTimeoutError, SessionExpiredError)
from kazoo.handlers.threading import KazooTimeoutError  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

TICK = 500
SESSION_TIMEOUT = 10.0  # seconds; 20 ticks, the most the servers grant
# What a write to a member without a quorum may end in (never success).
WRITE_FAILURES = (ConnectionLoss, SessionExpiredError, ConnectionClosedError, NotReadOnlyCallError,
                  OperationTimeoutError, KazooTimeoutError)
# A wiped follower must be sent a snapshot: how each kind's log says so (None: not checked).
SNAP_LOG_RX = {"zkfsd": r"SNAP", "apache": r"Getting a snapshot from leader"}
NEW_LEADER_WITHIN = 20.0


def conn_retry():
    """Reconnect forever, quickly: members come and go in these tests."""
    return KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_jitter=0.2, max_delay=0.5)


def tree(zk, root):
    """{path: (data, version)} of root's subtree, read after a sync of root."""
    zk.sync(root)
    out = {}
    todo = [root]
    while todo:
        p = todo.pop()
        data, stat = zk.get(p)
        out[p] = (data, stat.version)
        todo.extend(p + "/" + c for c in zk.get_children(p))
    return out


def try_write(zk, path, timeout=5.0):
    """Creates path; True if the client was told it succeeded, False if it failed as a write
    without a quorum may (connection loss, not read-only, timeout)."""
    try:
        zk.create_async(path, b"must not commit").get(timeout=timeout)
        return True
    except WRITE_FAILURES:
        return False


class Base:
    KIND = "zkfsd"

    def setUp(self):
        self._clients = []

    def tearDown(self):
        for c in reversed(self._clients):
            zktest.stop_client(c)
        self._clients = []

    def make(self, n_voters=3, n_observers=0):
        """A started ensemble, killed (and its iptables rules removed) after the test."""
        e = ensemble.Ensemble(self.KIND, n_voters, n_observers, tick_time=TICK)
        e.owner = self.id()
        self.addCleanup(e.cleanup)
        e.start()
        return e

    def client(self, hosts, start=True, **kw):
        kw.setdefault("timeout", SESSION_TIMEOUT)
        kw.setdefault("connection_retry", conn_retry())
        c = KazooClient(hosts=hosts, **kw)
        self._clients.append(c)
        if start:
            c.start(timeout=20)
        return c

    def pinned(self, e, i):
        """A client that only knows member i."""
        return self.client(e.hostport(i))

    def drop(self, zk):
        zktest.stop_client(zk)
        if zk in self._clients:
            self._clients.remove(zk)

    def fresh_write(self, e, i, path):
        """try_write through a new client of member i only (False too when it cannot connect
        within 5 s); the client is dropped after."""
        fresh = self.client(e.hostport(i), start=False)
        try:
            fresh.start(timeout=5)
            return try_write(fresh, path)
        except KazooTimeoutError:
            return False
        finally:
            self.drop(fresh)

    def connected_member(self, e, zk):
        """The member whose `cons` lists zk's session (exactly one must)."""
        sid = "sid=0x%x," % zk.client_id[0]

        def find():
            hits = []
            for i in e.running():
                try:
                    if sid in zkserver.fourlw(e.hostport(i), "cons", timeout=2.0):
                        hits.append(i)
                except OSError:
                    pass
            return hits[0] if len(hits) == 1 else None
        return wait_until(find, 10.0, "exactly one member to list session %s in cons" % sid)

    def assert_trees_equal(self, e, root, ids, expected=None):
        """Every member in ids has the same subtree under root (after sync), equal to
        expected when given. Returns the tree."""
        trees = {}
        for i in ids:
            zk = self.pinned(e, i)
            trees[i] = tree(zk, root)
            self.drop(zk)
        ref = expected if expected is not None else trees[ids[0]]
        for i, t in trees.items():
            if t != ref:
                missing = sorted(set(ref) - set(t))[:10]
                extra = sorted(set(t) - set(ref))[:10]
                differ = sorted(p for p in set(ref) & set(t) if ref[p] != t[p])[:10]
                self.fail("member %d (%s) has a different %s tree: missing %s, extra %s, different %s"
                          % (i, e.mode(i), root, missing, extra, differ))
        return ref


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Replication(Base):
    def _write_read_everywhere(self, n):
        e = self.make(n)
        modes = e.modes()
        self.assertEqual(sorted(modes.values()), ["follower"] * (n - 1) + ["leader"], modes)
        zks = {i: self.pinned(e, i) for i in e.ids}
        for i in e.ids:
            self.assertEqual(self.connected_member(e, zks[i]), i)
        zks[e.ids[0]].create("/w")
        # Through every member in turn, the leader and each follower (which forward writes).
        for i in e.ids:
            path = "/w/via%d" % i
            zks[i].create(path, b"created through %d" % i)
            zks[i].set("/w", b"last set through %d" % i)
            for j in e.others(i):
                zks[j].sync(path)
                self.assertEqual(zks[j].get(path)[0], b"created through %d" % i, "read on member %d" % j)
                self.assertEqual(zks[j].get("/w")[0], b"last set through %d" % i, "read on member %d" % j)
        expected = {"/w": (b"last set through %d" % e.ids[-1], n)}
        expected.update({"/w/via%d" % i: (b"created through %d" % i, 0) for i in e.ids})
        self.assert_trees_equal(e, "/w", e.ids, expected)

    def test_write_through_one_read_on_all(self):
        self._write_read_everywhere(3)

    def test_write_through_one_read_on_all_5_members(self):
        self._write_read_everywhere(5)


# ---------------------------------------------------------------------------------------------
class _Stream:
    """One writer thread's record: creates acknowledged, creates whose outcome is unknown
    (connection lost or timed out while in flight), and unexpected errors."""

    def __init__(self, t):
        self.t = t
        self.acked = []
        self.uncertain = []
        self.errors = []


@zktest.per_kind
class LeaderCrash(Base):
    THREADS = 4

    def test_kill9_leader_during_concurrent_creates(self):
        e = self.make()
        setup = self.client(e.connect_string())
        setup.create("/stream")
        old = e.leader()
        self.assertIsNotNone(old)
        stop = threading.Event()
        recs = [_Stream(t) for t in range(self.THREADS)]
        zks = [self.client(e.connect_string()) for _ in recs]

        def writer(rec, zk):
            n = 0
            while not stop.is_set():
                path = "/stream/t%d-%d" % (rec.t, n)
                n += 1
                try:
                    zk.create_async(path, path.encode()).get(timeout=20)
                    rec.acked.append(path)
                except (ConnectionLoss, SessionExpiredError, ConnectionClosedError, OperationTimeoutError,
                        KazooTimeoutError):
                    rec.uncertain.append(path)
                    deadline = time.monotonic() + 30
                    while not stop.is_set() and not zk.connected and time.monotonic() < deadline:
                        time.sleep(0.02)
                except Exception as ex:  # noqa: BLE001 - e.g. NodeExists: no path is created twice
                    rec.errors.append("%s: %r" % (path, ex))
                    return

        threads = [threading.Thread(target=writer, args=(r, z), daemon=True) for r, z in zip(recs, zks)]
        for th in threads:
            th.start()
        try:
            wait_until(lambda: all(len(r.acked) >= 20 for r in recs) or any(r.errors for r in recs), 30,
                       "20 acknowledged creates per writer before the crash")
            self.assertEqual([r.errors for r in recs], [[]] * len(recs))
            at_kill = [len(r.acked) for r in recs]
            e.kill9(old)
            new = e.wait_leader(NEW_LEADER_WITHIN, exclude=[old])
            self.assertNotEqual(new, old)
            # The stream goes on through the new leader.
            wait_until(lambda: all(len(r.acked) >= k + 20 for r, k in zip(recs, at_kill)) or
                       any(r.errors for r in recs), 40,
                       lambda: "20 more acknowledged creates per writer after the crash (%s at the crash, now %s)"
                       % (at_kill, [len(r.acked) for r in recs]))
        finally:
            stop.set()
            for th in threads:
                th.join(30)
        self.assertFalse(any(th.is_alive() for th in threads), "a writer thread is stuck")
        self.assertEqual([r.errors for r in recs], [[]] * len(recs))
        acked = [p for r in recs for p in r.acked]
        uncertain = set(p for r in recs for p in r.uncertain)
        self.assertEqual(len(acked), len(set(acked)))
        for z in zks:
            self.drop(z)

        def check(ids):
            lists = {}
            for i in ids:
                zk = self.pinned(e, i)
                zk.sync("/stream")
                kids = zk.get_children("/stream")
                self.assertEqual(len(kids), len(set(kids)), "member %d lists a child twice" % i)
                names = set("/stream/" + k for k in kids)
                missing = sorted(set(acked) - names)
                self.assertEqual(missing, [], "member %d lacks acknowledged creates" % i)
                invented = sorted(names - set(acked) - uncertain)
                self.assertEqual(invented, [], "member %d has creates nobody made" % i)
                got = [a.get(timeout=20)[0] for a in [zk.get_async(p) for p in acked]]
                self.assertEqual(got, [p.encode() for p in acked], "member %d: data" % i)
                lists[i] = sorted(kids)
                self.drop(zk)
            first = lists[ids[0]]
            for i in ids[1:]:
                self.assertEqual(lists[i], first, "members %d and %d differ under /stream" % (ids[0], i))

        survivors = e.running()
        self.assertEqual(len(survivors), 2)
        e.wait_stable(30, ids=survivors)
        check(survivors)
        e.start_member(old)
        e.wait_mode(old, lambda m: m == "follower", 30, "the old leader to rejoin as a follower")
        check(e.ids)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class CatchUp(Base):
    def _writes(self, zk, root, tag, n=60):
        """Creates, sets and deletes under root; returns the tree they leave."""
        exp = {}
        zk.create(root, tag.encode())
        exp[root] = (tag.encode(), 0)
        for k in range(n):
            p = "%s/n%03d" % (root, k)
            zk.create(p, b"%s %d" % (tag.encode(), k))
            exp[p] = (b"%s %d" % (tag.encode(), k), 0)
        for k in range(0, n, 2):
            p = "%s/n%03d" % (root, k)
            zk.set(p, b"set %d" % k)
            exp[p] = (b"set %d" % k, 1)
        for k in range(0, n, 3):
            p = "%s/n%03d" % (root, k)
            zk.delete(p)
            del exp[p]
        zk.create(root + "/deep/er/est", b"leaf", makepath=True)
        exp.update({root + "/deep": (b"", 0), root + "/deep/er": (b"", 0), root + "/deep/er/est": (b"leaf", 0)})
        return exp

    def _bulk(self, zk, root, n):
        """n creates under root, pipelined (enough to put a member far behind); returns the tree."""
        zk.create(root)
        exp = {root: (b"", 0)}
        paths = ["%s/b%04d" % (root, k) for k in range(n)]
        for a in [zk.create_async(p, p.encode()) for p in paths]:
            a.get(timeout=30)
        exp.update({p: (p.encode(), 0) for p in paths})
        return exp

    def _follower_and_writes(self):
        """A started ensemble, one of its followers, the other members, a client of those,
        and the tree of 20 writes made through it under /before: (e, f, rest, zk, before)."""
        e = self.make()
        f = e.followers()[0]
        rest = e.others(f)
        zk = self.client(e.connect_string(rest))
        return e, f, rest, zk, self._writes(zk, "/before", "before", 20)

    def _rejoins(self, e, f, rest, what, trees):
        """Starts member f again: it must follow (what: the wait's description), then have
        each of trees (root: expected tree) as the members rest have it."""
        e.start_member(f)
        e.wait_mode(f, lambda m: m == "follower", 30, what)
        for root, exp in trees.items():
            self.assert_trees_equal(e, root, [f] + rest, exp)

    def test_stopped_follower_catches_up(self):
        e, f, rest, zk, before = self._follower_and_writes()
        e.stop(f)
        during = self._writes(zk, "/during", "during")
        self._rejoins(e, f, rest, "the restarted follower to follow", {"/before": before, "/during": during})
        # and it keeps following: a write after it is back reaches it
        zk.create("/after", b"after")
        zf = self.pinned(e, f)
        zf.sync("/after")
        self.assertEqual(zf.get("/after")[0], b"after")

    def test_wiped_follower_catches_up(self):
        e, f, rest, zk, before = self._follower_and_writes()
        e.kill9(f)
        e.wipe(f)
        self.assertEqual(sorted(os.listdir(e.member(f).data_dir)), ["myid"])
        during = self._writes(zk, "/during", "during")
        # More txns than a leader keeps for a DIFF (zkfsd: 500): the follower needs a SNAP.
        bulk = self._bulk(zk, "/bulk", 700)
        since = e.member(f).log_size()
        self._rejoins(e, f, rest, "the wiped follower to follow", {"/before": before, "/during": during, "/bulk": bulk})
        rx = SNAP_LOG_RX.get(self.KIND)
        if rx:
            self.assertRegex(e.member(f).log_text(since), rx, "the wiped follower's log does not mention %r" % rx)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Partition(Base):
    def setUp(self):
        super().setUp()
        why = ensemble.Ensemble.partition_unavailable()
        if why:
            self.skipTest(why)

    def test_isolated_leader_steps_down_and_rejoins(self):
        e = self.make()
        zk = self.client(e.connect_string())
        zk.create("/p")
        zk.create("/p/before", b"before")
        old = e.leader()
        zk_old = self.pinned(e, old)  # connected before the partition
        e.isolate(old)
        majority = e.others(old)
        new = e.wait_leader(NEW_LEADER_WITHIN, exclude=[old])
        self.assertIn(new, majority)
        # The majority takes writes.
        zk_maj = self.client(e.connect_string(majority))
        during = ["during-%d" % k for k in range(20)]
        for name in during:
            zk_maj.create("/p/" + name, name.encode())
        # The isolated member stops leading and refuses writes.
        e.wait_mode(old, lambda m: m != "leader", NEW_LEADER_WITHIN, "the isolated old leader to stop leading")
        self.assertFalse(try_write(zk_old, "/p/lost-old-client"),
                         "a write through the isolated old leader succeeded (modes %s)" % e.modes())
        self.drop(zk_old)  # nothing may send the queued create later
        told = self.fresh_write(e, old, "/p/lost-new-client")
        self.assertFalse(told, "a write through the isolated old leader succeeded (modes %s)" % e.modes())
        self.assertNotEqual(e.mode(old), "leader")
        self.assertEqual(e.mode(new), "leader")
        # Heal: it rejoins as a follower and has the majority's writes.
        e.heal()
        e.wait_mode(old, lambda m: m == "follower", 30, "the old leader to rejoin as a follower")
        e.wait_stable(30, ids=e.ids)
        want = sorted(["before"] + during)
        for i in e.ids:
            zi = self.pinned(e, i)
            zi.sync("/p")
            self.assertEqual(sorted(zi.get_children("/p")), want, "member %d" % i)
            self.assertEqual(zi.get("/p/during-19")[0], b"during-19")
            self.drop(zi)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Observer(Base):
    def test_observer_reads_and_never_votes(self):
        e = self.make(3, 1)
        (o,) = e.observers()
        self.assertEqual(e.mode(o), "observer")
        self.assertIn("Mode: observer", e.srvr(o))
        leader = e.leader()
        followers = e.followers()
        self.assertEqual(len(followers), 2)
        zv = self.pinned(e, followers[0])
        zo = self.pinned(e, o)
        zv.create("/o")
        zv.create("/o/a", b"through a voter")
        zo.sync("/o/a")
        self.assertEqual(zo.get("/o/a")[0], b"through a voter")
        zo.create("/o/b", b"through the observer")  # observers forward writes
        zv.sync("/o/b")
        self.assertEqual(zv.get("/o/b")[0], b"through the observer")
        # 2 of the 3 voters down: the last voter and the observer must not form a quorum.
        last = followers[1]
        e.kill9(leader)
        e.kill9(followers[0])
        self.drop(zv)
        e.wait_mode(last, lambda m: m is None, NEW_LEADER_WITHIN, "the last voter to stop serving")
        e.wait_mode(o, lambda m: m is None, NEW_LEADER_WITHIN, "the observer to stop serving")
        # Several election rounds: nobody ever leads, the observer stays up.
        deadline = time.monotonic() + 8 * TICK / 1000.0
        while time.monotonic() < deadline:
            self.assertTrue(e.alive(o))
            modes = e.modes([last, o])
            self.assertEqual(modes, {last: None, o: None}, "with 1 of 3 voters up")
            time.sleep(0.1)
        self.assertTrue(e.not_serving(o), e.srvr(o))
        told = try_write(zo, "/o/lost")
        self.drop(zo)
        self.assertFalse(told, "a write succeeded with 1 of 3 voters up")
        # The voters come back: service resumes, the observer observes again.
        e.start_member(leader, wait=False)
        e.start_member(followers[0], wait=False)
        e.wait_stable(60, ids=e.ids)
        self.assertEqual(e.mode(o), "observer")
        zo = self.pinned(e, o)
        zo.create("/o/c", b"after")
        self.assert_trees_equal(e, "/o", e.ids, {
            "/o": (b"", 0), "/o/a": (b"through a voter", 0), "/o/b": (b"through the observer", 0),
            "/o/c": (b"after", 0)})


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class SessionFailover(Base):
    def _failover(self, kill_leader):
        e = self.make()
        leader = e.leader()
        target = leader if kill_leader else e.followers()[0]
        order = [target] + e.others(target)
        states = []
        zk = self.client(e.connect_string(order), start=False, randomize_hosts=False)
        zk.add_listener(lambda s: states.append(s))
        zk.start(timeout=20)
        self.assertEqual(self.connected_member(e, zk), target)
        sid, _ = zk.client_id
        zk.create("/eph", b"mine", ephemeral=True)
        mark = len(states)
        e.kill9(target)
        if kill_leader:
            e.wait_leader(NEW_LEADER_WITHIN, exclude=[target])
        wait_until(lambda: KazooState.SUSPENDED in states[mark:], 20, lambda: "SUSPENDED (states %s)" % states)
        wait_until(lambda: zk.connected and states[-1] == KazooState.CONNECTED, 30,
                   lambda: "the client to reconnect (states %s)" % states)
        self.assertNotIn(KazooState.LOST, states)
        self.assertEqual(zk.client_id[0], sid, "a new session")
        now = self.connected_member(e, zk)
        self.assertNotEqual(now, target)
        stat = zk.exists("/eph")
        self.assertIsNotNone(stat, "the ephemeral is gone")
        self.assertEqual(stat.ephemeralOwner, sid)
        # Everybody agrees, and the session still works for writes.
        zk.create("/eph2", b"after", ephemeral=True)
        for i in e.running():
            zi = self.pinned(e, i)
            zi.sync("/eph2")
            for p in ("/eph", "/eph2"):
                st = zi.exists(p)
                self.assertIsNotNone(st, "member %d lacks %s" % (i, p))
                self.assertEqual(st.ephemeralOwner, sid, "member %d: %s owner" % (i, p))
            self.drop(zi)
        # The crashed member comes back knowing the session too.
        e.start_member(target)
        e.wait_stable(30, ids=e.ids)
        zt = self.pinned(e, target)
        zt.sync("/eph")
        st = zt.exists("/eph")
        self.assertIsNotNone(st)
        self.assertEqual(st.ephemeralOwner, sid)
        self.assertNotIn(KazooState.LOST, states)
        self.assertEqual(zk.client_id[0], sid)

    def test_session_survives_kill9_of_its_follower(self):
        self._failover(kill_leader=False)

    def test_session_survives_kill9_of_the_leader(self):
        self._failover(kill_leader=True)


# ---------------------------------------------------------------------------------------------
def scenario_binary():
    """Apache ZooKeeper's C client driven by tests/integration/zkc_scenario.c."""
    return os.path.join(zkserver.build_dir(), "tests", "zkc_scenario")


class _Scenario:
    """One zkc_scenario process in its own process group: a thread collects its stdout
    lines, its stderr goes to a file; stdin stays open for the scenario's "go" line."""

    def __init__(self, args, err_path):
        self.lines = []
        self.eof = False
        self.err_path = err_path
        self._err = open(err_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._err,
                                     text=True, bufsize=1, start_new_session=True)
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()

    def _reader(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
        self.eof = True

    def wait_line(self, prefix, timeout):
        """The first line that starts with prefix (waits for it); AssertionError if the
        scenario ends without it or after timeout."""
        def find():
            for line in self.lines:
                if line.startswith(prefix):
                    return line
            if self.eof:
                raise AssertionError("zkc_scenario ended without a %r line (exit status %s); output %r; stderr:\n%s"
                                     % (prefix, self.proc.poll(), self.lines, self.stderr_tail()))
            return None
        return wait_until(find, timeout, lambda: "zkc_scenario to print %r (output so far %r)" % (prefix, self.lines))

    def send(self, text):
        try:
            self.proc.stdin.write(text)
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass  # it ended: its output says why

    def finish(self, timeout):
        """Waits for the scenario to end and its output to be read; returns its exit status."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("zkc_scenario did not finish within %.0f s; output %r; stderr:\n%s"
                                 % (timeout, self.lines, self.stderr_tail()))
        self._t.join(10)
        return rc

    def stderr_tail(self, n=15):
        try:
            with open(self.err_path, errors="replace") as f:
                return "\n".join(f.read().splitlines()[-n:])
        except OSError:
            return ""

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self._err):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass


@zktest.per_kind
class CClientFailover(Base):
    """zkc_scenario failover: Apache ZooKeeper's C client (libzookeeper_mt) given the connect
    string of every member, creates ROOT/fo-eph (ephemeral), tells which member it is on,
    then the test kills a member and the client must carry on with the same session. The
    client shuffles the connect string: the test starts scenarios (each with its own ROOT;
    the ones it does not use are killed) until one is on the kind of member it wants."""

    EXPECTED_AFTER = ["create_after_failover ZOK", "same_session 1",
                      "ephemeral_after_failover ZOK owner_is_session=1", "state CONNECTED", "done"]
    TRIES = 30  # scenarios until one is on a leader (1 in 3) or a follower (2 in 3)

    def _start_on(self, e, zk, on_leader):
        """A scenario whose session is on the leader (on_leader) or on a follower, after its
        "ready" line. Returns (scenario, its ROOT, the member it is on, the leader)."""
        exe = scenario_binary()
        if not os.access(exe, os.X_OK):
            self.fail("%s is not built (run: make %s)" % (exe, os.path.relpath(exe, zkserver.REPO)))
        by_addr = {e.hostport(i): i for i in e.ids}
        leader = e.leader()
        self.assertIsNotNone(leader, e.modes())
        seen = []
        for k in range(self.TRIES):
            root = "/zkc-failover-%d" % k
            zk.create(root)
            sc = _Scenario([exe, e.connect_string(), "failover", root],
                           os.path.join(e.dir, "zkc_scenario-%d.stderr" % k))
            self.addCleanup(sc.kill)
            self.assertEqual(sc.wait_line("create_ephemeral", 30), "create_ephemeral ZOK R/fo-eph", sc.stderr_tail())
            ready = sc.wait_line("ready", 30)
            addr = ready.split(" ", 1)[1] if " " in ready else ""
            self.assertIn(addr, by_addr, "the scenario's member %r is none of %s" % (addr, by_addr))
            on = by_addr[addr]
            seen.append(on)
            if (on == leader) == on_leader:
                # Cross-checks: the ephemeral is the C client's session's, and that member
                # serves it.
                zk.sync(root)  # kazoo may be on another member than the C client
                owner = zk.exists(root + "/fo-eph").ephemeralOwner
                self.assertNotEqual(owner, 0)
                self.assertIn("sid=0x%x," % owner, zkserver.fourlw(e.hostport(on), "cons", timeout=5.0),
                              "member %d (%s) does not list the C client's session" % (on, addr))
                self.assertEqual(e.leader(), leader, e.modes())
                return sc, root, on, leader
            sc.kill()  # its session expires later; its ROOT is not used again
        self.fail("%d scenarios never had their session on %s (leader %d; they were on %s)"
                  % (self.TRIES, "the leader" if on_leader else "a follower", leader, seen))

    def _c_failover(self, on_leader, kill_leader):
        e = self.make()
        zk = self.client(e.connect_string())
        sc, root, on, leader = self._start_on(e, zk, on_leader)
        target = leader if kill_leader else on
        sys.stderr.write("[C client on member %d (%s), killing member %d (%s)] "
                         % (on, "leader" if on == leader else "follower", target,
                            "leader" if target == leader else "follower"))
        e.kill9(target)
        sc.send("go\n")
        rc = sc.finish(90)
        took = [l for l in sc.stderr_tail(50).splitlines() if l.startswith("failover took")]
        if took:
            sys.stderr.write("[%s] " % took[-1])
        self.assertEqual(sc.lines[2:], self.EXPECTED_AFTER,
                         "zkc_scenario after killing member %d: exit status %s, output %r; stderr:\n%s"
                         % (target, rc, sc.lines, sc.stderr_tail()))
        self.assertEqual(rc, 0, sc.stderr_tail())
        # Every survivor has the create; the scenario closed its session at the end, so its
        # ephemeral goes (the close is a committed txn, like any other).
        survivors = e.running()
        self.assertEqual(len(survivors), 2)
        e.wait_stable(30, ids=survivors)

        def check(i):
            zi = self.pinned(e, i)
            zi.sync(root)
            self.assertIsNotNone(zi.exists(root + "/fo-after"), "member %d lacks %s/fo-after" % (i, root))

            def gone():
                zi.sync(root)
                return zi.exists(root + "/fo-eph") is None
            wait_until(gone, SESSION_TIMEOUT + 10, "member %d to drop the closed session's ephemeral" % i)
            self.drop(zi)
        for i in survivors:
            check(i)
        # The killed member comes back and learns all of it.
        e.start_member(target)
        e.wait_stable(30, ids=e.ids)
        check(target)

    def test_c_client_survives_kill9_of_its_follower(self):
        self._c_failover(on_leader=False, kill_leader=False)

    def test_c_client_survives_kill9_of_its_leader(self):
        self._c_failover(on_leader=True, kill_leader=True)

    def test_c_client_on_a_follower_survives_kill9_of_the_leader(self):
        self._c_failover(on_leader=False, kill_leader=True)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Minority(Base):
    def test_minority_cannot_commit(self):
        e = self.make()
        r = e.followers()[0]
        down = e.others(r)
        zr = self.pinned(e, r)
        zr.create("/m")
        zr.create("/m/before")
        for i in down:
            e.stop(i)
        e.wait_mode(r, lambda m: m is None, NEW_LEADER_WITHIN, "the lone member to stop serving")
        self.assertIn(ensemble.NOT_SERVING, e.srvr(r))
        told = try_write(zr, "/m/lost")
        self.drop(zr)  # nothing may send the queued create later
        self.assertTrue(e.not_serving(r), e.srvr(r))
        told2 = self.fresh_write(e, r, "/m/lost2")
        for i in down:
            e.start_member(i, wait=False)
        e.wait_stable(60, ids=e.ids)
        zr = self.pinned(e, r)
        zr.create("/m/after")
        for i in e.ids:
            zi = self.pinned(e, i)
            zi.sync("/m")
            kids = set(zi.get_children("/m"))
            self.assertIn("before", kids)
            self.assertIn("after", kids)
            # A write its client was told succeeded must be there; one that failed must not.
            self.assertEqual("lost" in kids, told, "member %d: /m/lost present=%s, client told ok=%s"
                             % (i, "lost" in kids, told))
            self.assertEqual("lost2" in kids, told2, "member %d: /m/lost2" % i)
            self.drop(zi)
        self.assertFalse(told or told2, "a write succeeded with 1 of 3 members up")


def _on_failed(bad):
    for e in ensemble.all_ensembles():
        if e.owner in bad:
            print("==== %s (test %s), dir %s ====" % (e.name, e.owner, e.dir))
            rules = e.partition_rules()
            if rules:
                print(rules)
            print(e.log_tails(40))


if __name__ == "__main__":
    zktest.main(on_failed=_on_failed, cleanup=ensemble.cleanup_all)
