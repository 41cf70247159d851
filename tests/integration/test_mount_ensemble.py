#!/usr/bin/python3
"""bin/zkfs-mount over a 3-member ensemble (the connect string of all three), with kill -9
of the leader while the mount is in use; kazoo is the other client that checks the result.
Each test runs twice: with the mount's session on the leader (the member that dies) and on
a follower (which loses its leader and drops its clients); the client shuffles the connect
string, so a test mounts again until the session lands where it wants it.

1. a writer thread writes files through the mount (open/write/close of dir/f<n>, content
   "<n>\\n", like `echo n > dir/f<n>`) while the leader is killed: operations may fail
   meanwhile (EIO: no server within the session timeout), a failed attempt is retried and
   an attempt counts as acknowledged only when its close succeeded; writes succeed again
   within 30 s of the crash; afterwards every acknowledged file is on every surviving
   member with its content (read after sync), nothing is there that was never attempted,
   and `ls` and reads through the mount show them all. (A failed attempt can leave an
   empty node, which the mount shows as a directory: the retry fails with EISDIR, the n is
   given up and checked to be that empty node; see Writer.)
2. the mount keeps its session through the leader's death: an ephemeral made through the
   mount (NAME.ephemeral, fuse/README.md) is still there, still the mount's session's,
   also after a whole session timeout; a new one made after the crash belongs to that same
   session; and the watches still work: changes kazoo makes after the crash show through
   the mount (cat) and inotifywait on a directory of the mount reports them.

Each test makes its own ensemble (tests/lib/ensemble.py) of every kind ZKFS_SERVER selects
(this suite defaults to both: the mount must work over Apache ZooKeeper ensembles too) and
mounts its own fresh node (CONNECT/mnt-...), in the foreground, session_timeout=10000. Waits
are polls with deadlines; the only time limits asserted are liveness ones. A watchdog
kills the test's mounts and processes if it runs too long (a hung mount fails the test
instead of hanging the suite). Mounts are unmounted in tearDown and at exit, the
ensembles killed after them.
"""
import errno
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ.setdefault("ZKFS_SERVER", "both")
import ensemble  # noqa: E402
import mount as zkmount  # noqa: E402
import zkserver  # noqa: E402
import zktest  # noqa: E402
from mount import read, try_read  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

TICK = 500
SESSION_MS = 10000  # 20 ticks: the most the servers grant
MOUNT_OPTIONS = "session_timeout=%d" % SESSION_MS
NEW_LEADER_WITHIN = 20.0
RECOVER_WITHIN = 30.0  # after the crash, the mount works again within this
SEEN_WITHIN = 10.0  # a change made elsewhere shows through the mount within this
TEST_BUDGET = 180.0  # seconds; then the watchdog kills the test's mounts and processes
MOUNT_TRIES = 30  # mounts until one's session is where the test wants it (each: 1/3 or 2/3)
# What an operation of the mount may fail with while the ensemble has no leader (README:
# connection loss, no server within the session timeout). Anything else fails the test.
TRANSIENT = {errno.EIO}


def try_listdir(path):
    try:
        return os.listdir(path)
    except OSError:
        return None


def write_file(path, data):
    """open(O_CREAT|O_TRUNC) + write + close, as `echo > path` does. None when every step
    succeeded (the close too: that is when the mount applies the data), else (step, errno)
    of the first failure."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except OSError as e:
        return ("open", e.errno)
    err = None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    except OSError as e:
        err = ("write", e.errno)
    try:
        os.close(fd)
    except OSError as e:
        err = err or ("close", e.errno)
    return err


def conn_retry():
    return KazooRetry(max_tries=-1, delay=0.05, backoff=1.5, max_jitter=0.2, max_delay=0.5)


def errno_names(failures):
    counts = {}
    for f in failures:
        k = "%s:%s" % (f[1], errno.errorcode.get(f[2], f[2]))
        counts[k] = counts.get(k, 0) + 1
    return counts


class Writer(threading.Thread):
    """Writes dir/f<n> = "<n>\\n" for n = 0, 1, ... until stopped; a failed attempt is
    retried (same n). acked: (n, time) of the attempts whose close succeeded; failures:
    (n, step, errno, time) of the others.

    A failed attempt may leave the node f<n> behind without data: its create committed
    but the reply was lost (open failed), or its setData was lost (close failed). An empty
    node is a directory (fuse/README.md), unless this mount created it as a file and the
    kernel still holds its inode, which the mount's reconnect invalidation undoes; so the
    retry's open fails with EISDIR. Such an n is given up (left_empty) and the writer goes
    on with n + 1; the test checks that each is an empty node whose first failure was a
    transient one."""

    def __init__(self, dirpath):
        super().__init__(daemon=True)
        self.dir = dirpath
        self.acked = []
        self.failures = []
        self.left_empty = []
        self.attempted = set()
        self.halt = threading.Event()

    @staticmethod
    def content(n):
        return b"%d\n" % n

    def run(self):
        n = 0
        failed_n = None  # the n whose attempt failed last
        while not self.halt.is_set():
            self.attempted.add(n)
            err = write_file(os.path.join(self.dir, "f%d" % n), self.content(n))
            now = time.monotonic()
            if err is None:
                self.acked.append((n, now))
                n += 1
                continue
            self.failures.append((n, err[0], err[1], now))
            if err == ("open", errno.EISDIR) and failed_n == n:
                self.left_empty.append(n)
                n += 1
                continue
            failed_n = n
            self.halt.wait(0.05)  # retry pacing, not a wait for anything

    def stop(self, timeout=30.0):
        self.halt.set()
        self.join(timeout)
        return not self.is_alive()


# ---------------------------------------------------------------------------------------------
class Base(zkmount.MountTest):
    KIND = "zkfsd"
    TEST_BUDGET = TEST_BUDGET

    def setUp(self):
        self._clients = []
        self._mounts = []
        self._procs = []
        self._writers = []
        self.start_watchdog()

    def tearDown(self):
        # Before the ensemble goes (addCleanup runs after tearDown): writers, processes,
        # mounts (their sessions close), kazoo clients.
        for w in self._writers:
            w.halt.set()
        self.release_procs()
        for m in self._mounts:
            try:
                m.cleanup()
            except Exception:  # noqa: BLE001 - best effort
                pass
        self._mounts = []
        for w in self._writers:
            w.join(10)
        for c in reversed(self._clients):
            zktest.stop_client(c)
        self._clients = []

    # ensemble and clients ---------------------------------------------------------------------
    def make(self):
        e = ensemble.Ensemble(self.KIND, 3, tick_time=TICK)
        e.owner = self.id()
        self.addCleanup(e.cleanup)
        e.start()
        return e

    def client(self, hosts):
        c = KazooClient(hosts=hosts, timeout=SESSION_MS / 1000.0, connection_retry=conn_retry())
        self._clients.append(c)
        c.start(timeout=20)
        return c

    def drop(self, zk):
        zktest.stop_client(zk)
        if zk in self._clients:
            self._clients.remove(zk)

    def mount(self, e, root):
        m = zkmount.Mount(e.connect_string() + root, MOUNT_OPTIONS, foreground=True,
                          name="mount-%d-%s" % (len(self._mounts), self.KIND), test_id=self.id())
        self._mounts.append(m)
        m.start(timeout=30.0)
        return m

    def setup_mount(self, on_leader):
        """A started ensemble, a kazoo client of all members, and a fresh node mounted with
        the connect string of all members, its session on the leader (on_leader true) or on
        a follower: the client shuffles the connect string, so the test mounts again until
        the mount's session lands where it should (cons of the members tells). Returns
        (ensemble, root, mount, kazoo, the mount's session id, the member it is on)."""
        e = self.make()
        zk = self.client(e.connect_string())
        root = "/mnt-%s-%s" % (self._testMethodName.replace("test_", "")[:24], uuid.uuid4().hex[:8])
        zk.create(root)
        leader = e.leader()
        self.assertIsNotNone(leader, e.modes())
        seen = []
        for attempt in range(MOUNT_TRIES):
            m = self.mount(e, root)
            sid = self.mount_session(m, zk, root, "who")
            on = wait_until(lambda: self.member_of(e, sid), 10.0, "a member to list the mount's session in cons")
            self.assertEqual(len(on), 1, "members listing session 0x%x: %s" % (sid, on))
            seen.append(on[0])
            if (on[0] == leader) == bool(on_leader):
                return e, root, m, zk, sid, on[0]
            m.cleanup()  # its session closes; mount again
            self._mounts.remove(m)
            wait_until(lambda: zk.exists(root + "/who") is None, 10.0, "the unmounted session's ephemeral to go")
        self.fail("%d mounts never had their session on %s (leader %d; they were on %s)"
                  % (MOUNT_TRIES, "the leader" if on_leader else "a follower", leader, seen))

    def mount_session(self, m, zk, root, name):
        """Makes the ephemeral directory NAME through the mount; returns its owner (the
        mount's session)."""
        os.mkdir(m.path(name + ".ephemeral"))
        zk.sync(root)  # kazoo may be on another member than the mount
        st = zk.exists(root + "/" + name)
        self.assertIsNotNone(st, "mkdir %s.ephemeral made no node %s" % (name, name))
        self.assertNotEqual(st.ephemeralOwner, 0)
        return st.ephemeralOwner

    @staticmethod
    def member_of(e, sid):
        """The running members whose `cons` lists session sid."""
        hits = []
        for i in e.running():
            try:
                if "sid=0x%x," % sid in zkserver.fourlw(e.hostport(i), "cons", timeout=2.0):
                    hits.append(i)
            except OSError:
                pass
        return hits

    def assert_mount_alive(self, m):
        self.assertTrue(m.alive(), "zkfs-mount exited (status %s); log:\n%s"
                        % (m.proc.poll() if m.proc else None, m.log_tail()))
        self.assertTrue(m.mounted(), "%s is no longer mounted" % m.mountpoint)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class WritesThroughLeaderCrash(Base):
    def test_acknowledged_writes_survive_kill9_of_the_leader_the_mount_is_on(self):
        self._writes_through_leader_crash(on_leader=True)

    def test_acknowledged_writes_survive_kill9_of_the_leader_from_a_follower(self):
        self._writes_through_leader_crash(on_leader=False)

    def _writes_through_leader_crash(self, on_leader):
        e, root, m, zk, sid, on = self.setup_mount(on_leader)
        os.mkdir(m.path("dir"))
        w = Writer(m.path("dir"))
        self._writers.append(w)
        w.start()
        wait_until(lambda: len(w.acked) >= 20 or not w.is_alive(), 30, "20 acknowledged writes before the crash")
        self.assertEqual(w.failures, [], "writes failed before the crash")
        leader = e.leader()
        self.assertEqual(leader == on, on_leader, "the leader changed (modes %s)" % e.modes())
        at_kill = len(w.acked)
        t_kill = time.monotonic()
        e.kill9(leader)
        new = e.wait_leader(NEW_LEADER_WITHIN, exclude=[leader])
        self.assertNotEqual(new, leader)
        # The writer goes on: 20 more acknowledged writes within RECOVER_WITHIN of the crash.
        wait_until(lambda: len(w.acked) >= at_kill + 20 or not w.is_alive(),
                   max(1.0, t_kill + RECOVER_WITHIN - time.monotonic()),
                   lambda: "20 more acknowledged writes within %.0f s of the crash (%d at the crash, %d now; "
                   "failures %s; mount alive %s)" % (RECOVER_WITHIN, at_kill, len(w.acked),
                                                     errno_names(w.failures), m.alive()))
        self.assertTrue(w.stop(), "the writer thread is stuck in a system call")
        self.assert_mount_alive(m)
        times = [t_kill] + [t for _, t in w.acked[at_kill:]]
        pause = max(b - a for a, b in zip(times, times[1:]))
        sys.stderr.write("[mount on member %s, killed leader %d, new leader %d; longest pause between acknowledged "
                         "writes after the crash %.2f s; %d acknowledged, %d failed attempts %s, given up (left "
                         "empty) %s] " % (on, leader, new, pause, len(w.acked), len(w.failures),
                                          errno_names(w.failures), w.left_empty))
        # Every failure is a transient one, or the EISDIR of a retry after one (Writer).
        first = {}
        for f in w.failures:
            first.setdefault(f[0], f)
        odd = [f for f in w.failures if f[2] not in TRANSIENT and
               not (f[1:3] == ("open", errno.EISDIR) and f[0] in w.left_empty and first[f[0]][2] in TRANSIENT)]
        self.assertEqual(odd, [], "attempts failed with other errors than %s: (n, step, errno, t) %s"
                         % ([errno.errorcode[x] for x in TRANSIENT], odd[:10]))
        acked = [n for n, _ in w.acked]
        names = {"f%d" % n for n in acked}
        attempted = {"f%d" % n for n in w.attempted}
        self.assertFalse(set(acked) & set(w.left_empty))
        # On every surviving member, after sync: each acknowledged file with its content,
        # nothing that was never written.
        survivors = e.running()
        self.assertEqual(len(survivors), 2)
        for i in survivors:
            zi = self.client(e.hostport(i))
            zi.sync(root + "/dir")
            kids = set(zi.get_children(root + "/dir"))
            self.assertEqual(sorted(names - kids, key=lambda s: int(s[1:])), [],
                             "member %d lacks acknowledged files" % i)
            self.assertEqual(sorted(kids - attempted), [], "member %d has files nobody wrote" % i)
            got = [a.get(timeout=30)[0] for a in [zi.get_async("%s/dir/f%d" % (root, n)) for n in acked]]
            bad = [(n, g) for n, g in zip(acked, got) if g != Writer.content(n)]
            self.assertEqual(bad, [], "member %d: acknowledged files with other contents (n, data)" % i)
            for n in w.left_empty:  # what made the retries fail with EISDIR: an empty node
                data, st = zi.get("%s/dir/f%d" % (root, n))
                self.assertEqual((data, st.numChildren), (b"", 0), "member %d: f%d, given up after EISDIR" % (i, n))
            self.drop(zi)
        # Through the mount: ls lists them all, and each reads back.
        rc, out, err = self.run_cmd(["ls", "-1", m.path("dir")])
        self.assertEqual(rc, 0, "ls %s: %s" % (m.path("dir"), err))
        listed = set(out.split())
        self.assertEqual(sorted(names - listed, key=lambda s: int(s[1:])), [], "ls through the mount lacks files")
        self.assertEqual(sorted(listed - attempted), [], "ls through the mount lists files nobody wrote")
        bad = [(n, try_read(m.path("dir", "f%d" % n))) for n in acked]
        bad = [(n, g) for n, g in bad if g != Writer.content(n)]
        self.assertEqual(bad, [], "reads through the mount: (n, data)")
        self.assert_mount_alive(m)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class SessionThroughLeaderCrash(Base):
    def test_mount_on_the_leader_keeps_session_and_watches_through_its_kill9(self):
        self._session_through_leader_crash(on_leader=True)

    def test_mount_on_a_follower_keeps_session_and_watches_through_kill9_of_the_leader(self):
        self._session_through_leader_crash(on_leader=False)

    def _session_through_leader_crash(self, on_leader):
        e, root, m, zk, sid, on = self.setup_mount(on_leader)
        # An ephemeral file made through the mount: its owner is the mount's session.
        self.assertIsNone(write_file(m.path("e.ephemeral"), b"eph"))
        zk.sync(root)
        st = zk.exists(root + "/e")
        self.assertIsNotNone(st)
        self.assertEqual(st.ephemeralOwner, sid)
        # Nodes kazoo made, seen (and so cached) through the mount, watched with inotify.
        zk.create(root + "/w/f", b"before", makepath=True)
        zk.create(root + "/w/g", b"g0")
        wait_until(lambda: try_read(m.path("w", "f")) == b"before" and try_read(m.path("w", "g")) == b"g0",
                   SEEN_WITHIN, "kazoo's w/f and w/g to show through the mount")
        self.assertEqual(sorted(os.listdir(m.path("w"))), ["f", "g"])
        wdir = m.path("w")
        ino = zkmount.Inotify(self, wdir, timeout=SEEN_WITHIN)
        # inotify works before the crash (else the check after it would prove nothing).
        since = len(ino.lines)
        zk.set(root + "/w/g", b"g1")
        ino.wait("MODIFY", m.path("w", "g"), since)
        wait_until(lambda: try_read(m.path("w", "g")) == b"g1", SEEN_WITHIN, "w/g's new data through the mount")
        leader = e.leader()
        self.assertEqual(leader == on, on_leader, "the leader changed (modes %s)" % e.modes())
        e.kill9(leader)
        t_kill = time.monotonic()
        new = e.wait_leader(NEW_LEADER_WITHIN, exclude=[leader])
        survivors = e.running()
        # The mount works again (a create commits through the new leader), in the same
        # session: the new ephemeral's owner is the old one's.
        tries = []

        def made():
            tries.append(1)
            try:
                os.mkdir(m.path("e2.ephemeral"))
                return True
            except OSError as ex:
                if ex.errno == errno.EEXIST:  # an earlier try committed but its reply was lost
                    return True
                if ex.errno not in TRANSIENT:
                    raise
                return False
        wait_until(made, max(1.0, t_kill + RECOVER_WITHIN - time.monotonic()),
                   lambda: "mkdir through the mount to work again after the crash (%d tries; mount alive %s)"
                   % (len(tries), m.alive()))
        took = time.monotonic() - t_kill
        zs = self.client(e.connect_string(survivors))
        zs.sync(root)
        st2 = zs.exists(root + "/e2")
        self.assertIsNotNone(st2, "mkdir e2.ephemeral succeeded but there is no node e2")
        self.assertEqual(st2.ephemeralOwner, sid, "the mount's new ephemeral is another session's: a new session")
        now_on = self.member_of(e, sid)
        sys.stderr.write("[mount on member %s, killed leader %d, new leader %d; mount on %s after; mkdir worked "
                         "again %.2f s after the crash (%d tries)] " % (on, leader, new, now_on, took, len(tries)))
        self.assertEqual(len(now_on), 1, "members listing the mount's session in cons: %s" % now_on)
        self.assertIn(now_on[0], survivors)
        # The ephemeral made before the crash is still there, the same session's, on every
        # surviving member.
        for i in survivors:
            zi = self.client(e.hostport(i))
            zi.sync(root)
            data, st_i = zi.get(root + "/e")
            self.assertEqual((data, st_i.ephemeralOwner), (b"eph", sid), "member %d: e" % i)
            self.assertEqual(zi.exists(root + "/e2").ephemeralOwner, sid, "member %d: e2" % i)
            self.drop(zi)
        self.assertEqual(try_read(m.path("e")), b"eph")
        # Changes made after the crash reach the mount through its watch: read w/f first
        # (cached again if the reconnect dropped the caches), then change it elsewhere.
        self.assertEqual(read(m.path("w", "f")), b"before")
        since = len(ino.lines)
        zs.set(root + "/w/f", b"after")
        ino.wait("MODIFY", m.path("w", "f"), since)
        wait_until(lambda: try_read(m.path("w", "f")) == b"after", SEEN_WITHIN,
                   lambda: "kazoo's change of w/f after the crash to show through the mount (cat shows %r)"
                   % try_read(m.path("w", "f")))
        rc, out, err = self.run_cmd(["cat", m.path("w", "f")])
        self.assertEqual((rc, out), (0, "after"), err)
        since = len(ino.lines)
        zs.create(root + "/w/n", b"new")
        ino.wait("CREATE", m.path("w", "n"), since)
        wait_until(lambda: try_read(m.path("w", "n")) == b"new", SEEN_WITHIN, "w/n through the mount")
        since = len(ino.lines)
        zs.delete(root + "/w/g")
        ino.wait("DELETE", m.path("w", "g"), since)
        wait_until(lambda: sorted(try_listdir(wdir) or []) == ["f", "n"], SEEN_WITHIN,
                   lambda: "ls w to show f and n (shows %s)" % try_listdir(wdir))
        # The mount's own session still holds the ephemerals, past a whole session timeout
        # after the crash (an unrenewed session would have expired by now).
        wait_until(lambda: time.monotonic() - t_kill > SESSION_MS / 1000.0 + 2 * TICK / 1000.0,
                   SESSION_MS / 1000.0 + 5, "a session timeout to pass since the crash")
        zs.sync(root)
        self.assertEqual(zs.exists(root + "/e").ephemeralOwner, sid)
        self.assertEqual(zs.exists(root + "/e2").ephemeralOwner, sid)
        self.assert_mount_alive(m)


# ---------------------------------------------------------------------------------------------
def _ensemble_logs(bad):
    for e in ensemble.all_ensembles():
        if e.owner in bad:
            print("==== %s (test %s), dir %s ====" % (e.name, e.owner, e.dir))
            print(e.log_tails(60))


if __name__ == "__main__":
    zkmount.main("mount-ensemble", log_lines=60, on_failed=_ensemble_logs, cleanup=ensemble.cleanup_all)
