#!/usr/bin/python3
"""The project's own client library (client/: zkc.h over the conn.c state machine and the
io.c libevent driver) against a real server, through its driver program client/zkc_demo.c
($BUILD/tests/zkc_demo): CRUD and errors, one-shot / persistent / recursive watches and
their removal, multi and multiRead, ephemerals, TTL nodes, chroot, session resumption and expiry,
auth, the asynchronous API on a caller's event_base, pings keeping an idle short session
alive, and reconnects across a server restart with the watches re-armed (also while the
client was frozen, so SetWatches must fire them from the last zxid seen).

Expected lines are ZooKeeper 3.8's answers, checked against the Apache ZooKeeper 3.8 server
(ZKFS_SERVER=apache or both); the default runs them against bin/zkfsd.
"""
import os
import signal
import subprocess
import sys
import threading
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import zkserver  # noqa: E402
import zktest  # noqa: E402
from zktest import wait_until  # noqa: E402

DEMO = os.path.join(zkserver.build_dir(), "tests", "zkc_demo")

EXPECTED = {
    "crud": """
create OK /a
create-again NODEEXISTS
create-noparent NONODE
create-empty OK /empty
get OK 'hello' version=0 dataLength=5
get-empty OK '' version=0 dataLength=0
set OK version=1 cversion=0 dataLength=5 numChildren=0
set-badversion BADVERSION
exists OK version=1 cversion=0 dataLength=5 numChildren=0
exists-missing NONODE
create-seq OK /a/s-0000000000
create-seq OK /a/s-0000000001
children OK [s-0000000000,s-0000000001] numChildren=2
all-children-number OK 4
delete-notempty NOTEMPTY
delete-badversion BADVERSION
delete OK
delete-missing NONODE
getacl OK world:anyone:31 aversion=0
setacl OK
setacl-badversion NOAUTH
set-readonly NOAUTH
setacl-empty INVALIDACL
sync OK
create-container OK /cont
create-ttl UNIMPLEMENTED
create-badpath BADARGUMENTS
whoami OK n=1 scheme=ip
create-big OK
get-big OK 524288 same
close OK
""",
    "watch": """
create OK /w
get-watch OK '0' version=0 dataLength=1
exists-watch NONODE
children-watch OK [w] numChildren=1
get-watch-missing NONODE
set-by-other OK
event W1 CHANGED /w
set-by-other-again OK
create-by-other OK /new
event W2 CREATED /new
event W3 CHILD .
create-by-other OK /none
addwatch-recursive OK
addwatch-persistent OK
create-by-other OK /r
create-by-other OK /r/x
set-by-other OK
set-by-other OK
delete-by-other OK
event W4 CREATED /r
event W4 CREATED /r/x
event W6 CHANGED /w
event W4 CHANGED /w
event W6 CHANGED /w
event W4 CHANGED /w
event W4 DELETED /r/x
event W4 PERSISTENT_WATCH_REMOVED .
removewatches OK
event W6 PERSISTENT_WATCH_REMOVED /w
removeallwatches OK
create-by-other OK /r/y
removewatches-none NOWATCHER
get-watch OK
event W1 DATA_WATCH_REMOVED /w
removewatches-one OK
removewatches-local-none NOWATCHER
children-watch OK
delete-by-other OK
delete-by-other OK
event W7 CHILD /r
events 14
close OK
close OK
""",
    "multi": """
multi OK n=4
  create /m1
  create /m20000000001
  setData version=1
  check
multi-fail NONODE n=3
  err OK
  err NONODE
  err RUNTIMEINCONSISTENCY
exists-rolled-back NONODE
multi-check BADVERSION
  err BADVERSION
multi-empty OK n=0
multiread OK n=3
  getData 'c'
  getChildren n=2
  err NONODE
close OK
""",
    "ephemeral": """
create-ephemeral OK /e1
create-ephemeral-seq OK /e-0000000001
create-under-ephemeral NOCHILDRENFOREPHEMERALS
create-persistent OK /p
ephemerals OK [/e-0000000001,/e1] numChildren=0
ephemerals-main OK n=0
exists OK owner=eph
close-eph OK
event W1 DELETED /e1
exists-after-close NONODE
children OK [p] numChildren=1
close OK
""",
    "chroot": """
create OK /c0000000000
create-plain OK /d
create-root NODEEXISTS
exists-watch OK
children OK [c0000000000,d] numChildren=2
get-root OK '' version=0 dataLength=0
set-outside OK
set-outside OK
create-outside OK /e
event CW CHANGED /d
event CR CHANGED /
event CC CHILD /
sync OK
create-ephemeral OK /eph
ephemerals OK [/eph] numChildren=0
close OK
close OK
""",
    "session": """
create-ephemeral OK /s
resume OK same-session
exists-from-resumed OK
close-resumed OK
exists-after-close NONODE
old-handle SESSIONEXPIRED state=EXPIRED
close-old OK
resume-closed SESSIONEXPIRED state=EXPIRED
after-expiry SESSIONEXPIRED
close-expired OK
close OK
""",
    "auth": """
addauth OK
create-creator-all OK
create-creator-all-noauth INVALIDACL
get-other NOAUTH
get-self OK
whoami OK digest-user=1
addauth-bad AUTHFAILED state=AUTH_FAILED
after-authfailed AUTHFAILED
close-other OK
delete OK
close OK
""",
    "idle": """
timeout OK 4000
after-idle OK same-session=1 disconnects=0
close OK
""",
    "ttl": """
create-ttl OK /t
create-ttl-seq OK /ts-0000000001
exists OK ephemeralOwner=0x0
multi-ttl OK n=1
  create /tm
create-ttl-zero BADARGUMENTS
close OK
""",
    "async": """
async-creates OK n=250 bad=0
close-async-start OK
close-async OK
closed 1
""",
}


def lines(text):
    return [x for x in text.strip("\n").split("\n")]


class Demo:
    """A running zkc_demo whose stdout lines are collected by a thread."""

    def __init__(self, hostport, scenario, root):
        if not os.access(DEMO, os.X_OK):
            raise AssertionError("%s is not built (make %s)" % (DEMO, os.path.relpath(DEMO, zkserver.REPO)))
        self.proc = subprocess.Popen([DEMO, hostport, scenario, root], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        self.out = []
        self.err = []
        self._t = threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True)
        self._e = threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True)
        self._t.start()
        self._e.start()

    @staticmethod
    def _read(f, into):
        for line in f:
            into.append(line.rstrip("\n"))

    def wait_line(self, line, timeout=60.0, since=0):
        """Waits until `line` appears at index >= since; returns its index."""
        def seen():
            for i in range(since, len(self.out)):
                if self.out[i] == line:
                    return i + 1
            return 0
        return wait_until(seen, timeout, lambda: "zkc_demo to print %r (got %r, stderr %r)"
                          % (line, self.out, self.err[-20:])) - 1

    def finish(self, timeout=120.0):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("zkc_demo did not finish in %.0f s; output %r" % (timeout, self.out))
        self._t.join(5.0)
        self._e.join(5.0)
        return rc

    def signal(self, sig):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self):
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def sanitizer_reports(self):
        """Lines of a sanitized build's reports (UBSan does not change the exit status)."""
        return [x for x in self.err if "runtime error" in x or "Sanitizer" in x]


class Base:
    TICK_TIME = 2000

    def run_demo(self, scenario, hostport=None, root=None):
        root = root or self.root
        d = Demo(hostport or self.hostport, scenario, root)
        self.addCleanup(d.kill)
        rc = d.finish()
        self.assertEqual(rc, 0, "zkc_demo %s exited with %s; output:\n%s\nstderr:\n%s"
                         % (scenario, rc, "\n".join(d.out), "\n".join(d.err[-40:])))
        self.assertEqual(d.sanitizer_reports(), [])
        return d.out


@zktest.per_kind
class Scenarios(Base, zktest.ServerTest):
    def check(self, scenario):
        self.assertEqual(self.run_demo(scenario), lines(EXPECTED[scenario]))

    def test_crud(self):
        self.check("crud")

    def test_watch(self):
        self.check("watch")

    def test_multi(self):
        self.check("multi")

    def test_ephemeral(self):
        self.check("ephemeral")

    def test_chroot(self):
        self.check("chroot")

    def test_session(self):
        self.check("session")

    def test_auth(self):
        self.check("auth")

    def test_async(self):
        self.check("async")
        self.assertEqual(len(self.zk.get_children(self.root)), 250)

    def test_idle_session_kept_alive_by_pings(self):
        self.check("idle")

    def test_unreachable_then_bad_hosts(self):
        # A dead host and an unresolvable one first: the library moves on to the live one.
        dead = "127.0.0.1:%d" % zkserver.free_port()
        hosts = "%s,no-such-host.invalid:2181,%s" % (dead, self.hostport)
        out = self.run_demo("multi", hostport=hosts)
        self.assertEqual(out, lines(EXPECTED["multi"]))


@zktest.per_kind
class ExtendedTypes(Base, zktest.ServerTest):
    SERVER_CONFIG = {"extendedTypesEnabled": "true"}

    def test_ttl(self):
        self.assertEqual(self.run_demo("ttl"), lines(EXPECTED["ttl"]))


STATE_LINES = ("state main ",)


@zktest.per_kind
class Reconnect(Base, zktest.ServerTest):
    """A dedicated server per test, restarted under a connected client."""

    def setUp(self):
        # not the shared server: this one gets restarted
        self.server = zkserver.ZkServer(self.KIND, tick_time=self.TICK_TIME, name="restart-" + self.KIND)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.hostport = self.server.hostport
        self._clients = []
        self.root = "/t-%s-%s" % (self._testMethodName.replace("test_", ""), uuid.uuid4().hex[:8])
        self.zk = self.client()
        self.zk.create(self.root)

    def start_armed(self):
        d = Demo(self.hostport, "reconnect", self.root)
        self.addCleanup(d.kill)
        d.wait_line("armed")
        return d

    def events(self, d):
        return sorted(x for x in d.out if x.startswith("event "))

    def states(self, d):
        return [x.split()[2] for x in d.out if x.startswith(STATE_LINES)]

    def change(self):
        zk = self.client()
        zk.set(self.root + "/w", b"changed")
        zk.create(self.root + "/c")
        zk.create(self.root + "/d/x")
        zk.stop()

    def finish(self, d):
        rc = d.finish()
        self.assertEqual(rc, 0, "zkc_demo exited with %s; output:\n%s\nstderr:\n%s"
                         % (rc, "\n".join(d.out), "\n".join(d.err[-40:])))
        self.assertEqual(d.sanitizer_reports(), [])
        self.assertIn("same-session 1", d.out)
        self.assertIn("get OK 'changed' version=1 dataLength=7", d.out)

    def test_restart_then_change(self):
        d = self.start_armed()
        self.server.restart()
        # the library reconnects by itself (same session), re-arms, then the change comes
        wait_until(lambda: self.states(d).count("CONNECTED") >= 2, 30.0, lambda: "reconnect (%r)" % d.out)
        self.change()
        self.finish(d)
        self.assertEqual(self.states(d)[:3], ["CONNECTED", "DISCONNECTED", "CONNECTED"])
        self.assertEqual(self.events(d), sorted([
            "event W1 CHANGED /w", "event W4 CHANGED /w", "event W3 CREATED /c", "event W4 CREATED /c",
            "event W2 CHILD /d", "event W4 CREATED /d/x"]))

    def test_change_while_client_frozen(self):
        # The client cannot see the restart nor the change: SetWatches, relative to the last
        # zxid it saw, must fire the one-shot watches when it reconnects. Persistent watches
        # are re-armed without catching up (ZooKeeper's semantics), so the recursive W4 hears
        # only what the catch-up events of the one-shot watches carry (the client hands an
        # event to every watcher it matches), not the creation of /d/x.
        d = self.start_armed()
        d.signal(signal.SIGSTOP)
        try:
            self.server.restart()
            self.change()
        finally:
            d.signal(signal.SIGCONT)
        self.finish(d)
        self.assertEqual(self.states(d)[:3], ["CONNECTED", "DISCONNECTED", "CONNECTED"])
        self.assertEqual(self.events(d), sorted([
            "event W1 CHANGED /w", "event W4 CHANGED /w", "event W3 CREATED /c", "event W4 CREATED /c",
            "event W2 CHILD /d"]))


if __name__ == "__main__":
    zktest.main()
