"""unittest glue for the integration tests: a runner that ends with the line
"N passed, N failed" (what tests/run.sh counts), a base TestCase that shares one server
per kind for the whole script, and per_kind() to run a test class against every kind
chosen by ZKFS_SERVER.

Usage in a test script:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
    import zktest
    @zktest.per_kind
    class Crud(zktest.ServerTest): ...
    if __name__ == "__main__": zktest.main()
"""
import atexit
import logging
import os
import signal
import sys
import threading
import time
import unittest
import uuid

import zkserver

# The kazoo import is kept out of module scope for scripts that do not need it.


def _on_signal(signum, frame):
    # SystemExit unwinds through finally blocks and runs atexit (which kills our servers).
    raise SystemExit(128 + signum)


def install_signal_handlers():
    for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(s, _on_signal)


def per_kind(mixin):
    """Class decorator: for each selected server kind, defines a unittest.TestCase
    <Name>_<kind> in the mixin's module with KIND set; the mixin itself (which must not
    derive from unittest.TestCase) is not run."""
    mod = sys.modules[mixin.__module__]
    for kind in zkserver.selected_kinds():
        name = "%s_%s" % (mixin.__name__, kind)
        setattr(mod, name, type(name, (mixin, unittest.TestCase), {"KIND": kind, "__module__": mixin.__module__}))
    return mixin


def wait_until(pred, timeout=10.0, what="condition"):
    """Polls pred() until it is truthy; returns its value, raises AssertionError after timeout
    (what, or what() if callable, describes the condition in the message)."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what() if callable(what) else what))
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


class ServerTest:
    """Mixin for tests that talk to one shared server of self.KIND. Subclasses may set
    SERVER_CONFIG (extra zoo.cfg keys) and TICK_TIME. Provides self.server, self.hostport,
    self.root (a fresh unique path, created) and self.client(**kw) (a started KazooClient,
    stopped at tearDown)."""

    KIND = "zkfsd"
    SERVER_CONFIG = {}
    TICK_TIME = 2000
    CREATE_ROOT = True

    def setUp(self):
        self.server = zkserver.shared_server(self.KIND, extra=self.SERVER_CONFIG, tick_time=self.TICK_TIME)
        self.hostport = self.server.hostport
        self._log_from = self.server.log_size()
        self._clients = []
        self.root = "/t-%s-%s" % (self._testMethodName.replace("test_", ""), uuid.uuid4().hex[:8])
        if self.CREATE_ROOT:
            self.zk = self.client()
            self.zk.create(self.root)
        self.addCleanup(self._check_server_alive)

    def _check_server_alive(self):
        if not self.server.alive():
            rc = self.server.proc.returncode
            self.fail("the %s server died during the test (exit status %s); log tail:\n%s"
                      % (self.KIND, rc, self.server.log_tail()))
        reports = self.server.sanitizer_reports(self._log_from)
        if reports:
            self.fail("sanitizer reports in the server's log during the test:\n%s" % "\n".join(reports[:20]))

    def tearDown(self):
        for c in reversed(self._clients):
            stop_client(c)
        self._clients = []

    def client(self, start=True, **kw):
        from kazoo.client import KazooClient
        kw.setdefault("timeout", 10.0)
        hosts = kw.pop("hosts", self.hostport)
        c = KazooClient(hosts=hosts, **kw)
        self._clients.append(c)
        if start:
            c.start(timeout=15)
        return c

    def raw(self, **kw):
        """A started jute.RawClient (closed at tearDown)."""
        import jute
        c = jute.RawClient(self.hostport, **kw)
        self.addCleanup(c.close)
        return c

    def p(self, *parts):
        """A path under self.root."""
        return "/".join((self.root,) + parts)


def stop_client(c):
    """Stops and closes a KazooClient, ignoring errors (it may be expired or closed)."""
    try:
        c.stop()
    except Exception:  # noqa: BLE001
        pass
    try:
        c.close()
    except Exception:  # noqa: BLE001
        pass


_children = []  # KazooChild processes, killed at exit


class KazooChild:
    """A KazooClient in a child process (tests/lib/kazoo_child.py) that the test can freeze
    (SIGSTOP), thaw (SIGCONT) or kill -9. Lines it prints are JSON; state changes are
    collected in self.states."""

    def __init__(self, hostport, timeout=10.0):
        import json
        import queue
        import subprocess
        self._json = json
        self._q = queue.Queue()
        self.states = []
        here = os.path.dirname(os.path.abspath(__file__))
        self.proc = subprocess.Popen([sys.executable, os.path.join(here, "kazoo_child.py"), hostport, str(timeout)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1, start_new_session=True)
        _children.append(self)
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        self.wait_state("CONNECTED", 20.0)

    def _reader(self):
        for line in self.proc.stdout:
            try:
                obj = self._json.loads(line)
            except ValueError:
                continue
            if obj.get("event") == "state":
                self.states.append(obj["state"])
            else:
                self._q.put(obj)
        self._q.put({"error": "EOF"})

    def wait_state(self, state, timeout=20.0, since=0):
        """Waits until state is reported at index >= since of self.states; returns its index."""
        def seen():
            for i in range(since, len(self.states)):
                if self.states[i] == state:
                    return i + 1
            return 0
        return wait_until(seen, timeout, "the child kazoo client to report state %s (saw %s)"
                          % (state, self.states)) - 1

    def cmd(self, op, timeout=20.0, **kw):
        import queue
        kw["op"] = op
        self.proc.stdin.write(self._json.dumps(kw) + "\n")
        self.proc.stdin.flush()
        try:
            ans = self._q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("child kazoo client did not answer %r within %.0f s" % (kw, timeout))
        if "error" in ans:
            raise ChildError(ans["error"])
        return ans["ok"]

    def client_id(self):
        sid, pw = self.cmd("client_id")
        return sid, bytes.fromhex(pw)

    def signal(self, sig):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def freeze(self):
        self.signal(signal.SIGSTOP)

    def thaw(self):
        self.signal(signal.SIGCONT)

    def kill9(self):
        self.signal(signal.SIGKILL)
        self.proc.wait()

    def close(self):
        if self.proc.poll() is None:
            self.signal(signal.SIGCONT)
            try:
                self.cmd("quit", timeout=10.0)
                self.proc.wait(10.0)
            except Exception:  # noqa: BLE001
                pass
        self.kill9()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass


class ChildError(Exception):
    """An exception raised by a kazoo call in a KazooChild (its class name is the message)."""


def _kill_children():
    for c in _children:
        if c.proc.poll() is None:
            c.signal(signal.SIGKILL)


atexit.register(_kill_children)


class _Result(unittest.TextTestResult):
    pass


def main(module="__main__", prefix=None, on_failed=None, cleanup=None, after=None):
    """Runs the module's tests; prints the server log tails if anything failed, stops every
    server, then prints "N passed, N failed" (after "<prefix>: " when given) as the last line
    and exits 1 on failure. Hooks for suites with more to look after (the mounts):
    on_failed(ids of the failed tests) prints more before the server logs, cleanup() runs
    before the servers stop, after() once they are stopped."""
    install_signal_handlers()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # kazoo logs every expected connection drop at WARNING or ERROR: keep the output readable.
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)
    argv = [a for a in sys.argv[1:]]
    loader = unittest.TestLoader()
    mod = sys.modules[module]
    if argv:
        suite = loader.loadTestsFromNames(argv, mod)
    else:
        suite = loader.loadTestsFromModule(mod)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=_Result)
    passed = failed = 0
    try:
        result = runner.run(suite)
        # A test that fails and then also fails a cleanup check is one failed test.
        # (subTest failures count once, for their test).
        bad = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
        bad |= {t.id() for t in result.unexpectedSuccesses}
        failed = len(bad)
        passed = max(result.testsRun - failed - len(result.skipped), 0)
        if failed:
            if on_failed:
                on_failed(bad)
            for s in zkserver.all_servers():
                print("---- %s log tail (%s) ----" % (s.name, s.log_path))
                print(s.log_tail(40))
    except BaseException as e:  # noqa: BLE001 - interrupted: still report and clean up
        print("interrupted: %r" % (e,))
        failed += 1
    finally:
        if cleanup:
            cleanup()
        _kill_children()
        zkserver.stop_all(remove_dirs=False)
    # A sanitized server reports leaks when it exits, after every test has passed.
    for s in zkserver.all_servers():
        reports = s.sanitizer_reports()
        if reports:
            print("FAIL: sanitizer reports in the log of %s (%s):" % (s.name, s.log_path))
            print("\n".join(reports[:40]))
            failed += 1
    zkserver.remove_all_dirs()
    if after:
        after()
    sys.stdout.flush()
    # Let kazoo's threads (already stopped) finish writing before the closing line.
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join(2.0)
    print("%s%d passed, %d failed" % (prefix + ": " if prefix else "", passed, failed))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1 if failed else 0)


atexit.register(zkserver.stop_all)
