"""Durability of zkfsd, with real processes and kazoo:

- crash: clients keep thousands of creates and setData in flight, zkfsd is killed with
  SIGKILL at a seeded random moment and restarted; every acknowledged operation must be there
  with the right data and version, and every node must show a prefix of its own history
  (nothing invented, nothing reordered). Several seeds.
- disk full: the transaction log lives on a small tmpfs; zkfsd must stop with a clear message
  and a non-zero status instead of acknowledging, and after the disk is given more room it
  restarts with every acknowledged write.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from kazoo.client import KazooClient
from kazoo.retry import KazooRetry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ZKFSD = os.path.join(ROOT, "bin", "zkfsd")
LOGDUMP = os.path.join(ROOT, "bin", "zkfs-logdump")
sys.path.insert(0, os.path.join(ROOT, "tests", "lib"))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fourlw(port, word, timeout=1.0):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                d = s.recv(4096)
                if not d:
                    return out.decode(errors="replace")
                out += d
    except OSError:
        return None


class Server:
    """One zkfsd process on a free port with its own data directories."""

    def __init__(self, workdir, extra=None, log_dir=None):
        self.dir = workdir
        self.port = free_port()
        self.cfg = os.path.join(workdir, "zoo.cfg")
        lines = [
            "tickTime=500",
            "dataDir=%s" % os.path.join(workdir, "data"),
            "clientPort=%d" % self.port,
            "clientPortAddress=127.0.0.1",
            "maxClientCnxns=0",
            "4lw.commands.whitelist=*",
        ]
        if log_dir:
            lines.append("dataLogDir=%s" % log_dir)
        lines += ["%s=%s" % kv for kv in (extra or {}).items()]
        with open(self.cfg, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.logs = []

    def start(self, wait=True):
        log = os.path.join(self.dir, "zkfsd.%d.log" % len(self.logs))
        self.logs.append(log)
        with open(log, "w") as out:
            self.proc = subprocess.Popen([ZKFSD, self.cfg], stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        if wait:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError("zkfsd exited with %s:\n%s" % (self.proc.returncode, self.log_text()))
                if fourlw(self.port, "ruok", 0.2) == "imok":
                    return
                time.sleep(0.02)
            raise AssertionError("zkfsd did not answer ruok")

    def log_text(self):
        if not self.logs:
            return ""
        with open(self.logs[-1]) as f:
            return f.read()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


def client(port, timeout=10.0):
    z = KazooClient(hosts="127.0.0.1:%d" % port, timeout=timeout,
                    connection_retry=KazooRetry(max_tries=0), command_retry=KazooRetry(max_tries=0))
    z.start(timeout=15)
    return z


class Load:
    """Keeps creates and setData in flight on several sessions; records what was acknowledged.

    Node /d/w{c}-{i} gets data b"c" at create (version 0), then setData number k writes b"v%d" % k
    and makes version k; all of a node's operations go through one session, in order."""

    def __init__(self, port, clients=3, window=200, sets_per_node=3):
        self.zs = [client(port) for _ in range(clients)]
        self.zs[0].ensure_path("/d")
        self.window = window
        self.sets = sets_per_node
        self.lock = threading.Lock()
        self.acked_create = set()
        self.acked_version = {}  # path -> highest acknowledged setData number
        self.issued = {}  # path -> number of setData issued
        self.stop_flag = threading.Event()
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(c, z), daemon=True) for c, z in enumerate(self.zs)]

    def run(self, c, z):
        sem = threading.Semaphore(self.window)
        i = 0
        while not self.stop_flag.is_set():
            path = "/d/w%d-%d" % (c, i)
            i += 1
            ops = [("create", None)] + [("set", k) for k in range(1, self.sets + 1)]
            for kind, k in ops:
                if not sem.acquire(timeout=0.5):
                    if self.stop_flag.is_set():
                        return
                    sem.acquire()
                try:
                    if kind == "create":
                        res = z.create_async(path, b"c")
                    else:
                        with self.lock:
                            self.issued[path] = k
                        res = z.set_async(path, b"v%d" % k)
                except Exception:
                    sem.release()
                    return  # connection gone: the server died
                res.rawlink(lambda r, path=path, kind=kind, k=k: self.done(r, path, kind, k, sem))

    def done(self, r, path, kind, k, sem):
        sem.release()
        if not r.successful():
            return
        with self.lock:
            if kind == "create":
                self.acked_create.add(path)
            else:
                self.acked_version[path] = max(self.acked_version.get(path, 0), k)

    def start(self):
        for t in self.threads:
            t.start()

    def stop(self):
        self.stop_flag.set()
        for z in self.zs:
            try:
                z.stop()
                z.close()
            except Exception:
                pass
        for t in self.threads:
            t.join(5)

    def acked_ops(self):
        return len(self.acked_create) + sum(self.acked_version.values())


def check_history(tc, z, load):
    """Every acknowledged op is present; every node shows a prefix of its own history."""
    present = set("/d/" + n for n in z.get_children("/d"))
    missing = sorted(load.acked_create - present)
    tc.assertEqual(missing, [], "acknowledged creates lost after the crash")
    for path in present:
        data, st = z.get(path)
        v = st.version
        tc.assertEqual(data, b"c" if v == 0 else b"v%d" % v, "%s: data does not match version %d" % (path, v))
        tc.assertGreaterEqual(v, load.acked_version.get(path, 0), "%s: acknowledged setData lost" % path)
        tc.assertLessEqual(v, load.issued.get(path, 0), "%s: version beyond anything issued" % path)
    for path, k in load.acked_version.items():
        tc.assertIn(path, present, "%s had acknowledged writes but is gone" % path)


class CrashTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zkfs-crash-")
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            s.kill9()
        outcome = getattr(self, "_outcome", None)
        failed = outcome is not None and any(e for _, e in getattr(outcome.result, "errors", []) + getattr(
            outcome.result, "failures", []) if _ is self)
        if failed:
            for s in self.servers:
                for log in s.logs:
                    with open(log) as f:
                        print("---- %s (tail) ----\n%s" % (log, "".join(f.readlines()[-15:])))
        shutil.rmtree(self.tmp, ignore_errors=True)

    def crash_once(self, seed):
        rng = random.Random(seed)
        work = os.path.join(self.tmp, "seed%d" % seed)
        os.makedirs(work)
        srv = Server(work, {"snapCount": str(rng.choice([200, 1000, 100000])), "preAllocSize": "1024"})
        self.servers.append(srv)
        srv.start()
        load = Load(srv.port)
        load.start()
        # let load build up, then kill at a random moment; wait on acknowledged work, not time
        target = rng.randint(1500, 6000)
        deadline = time.monotonic() + 60
        while load.acked_ops() < target and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(rng.random() * 0.2)
        srv.kill9()
        load.stop()
        acked = load.acked_ops()
        self.assertGreater(acked, 1000, "the load never got going")
        srv.start()
        z = client(srv.port)
        try:
            check_history(self, z, load)
        finally:
            z.stop()
            z.close()
        # a second restart (now from whatever snapshot/log the first one left) agrees too
        srv.stop()
        self.assertEqual(srv.proc.returncode, 0, srv.log_text())
        srv.start()
        z = client(srv.port)
        try:
            check_history(self, z, load)
        finally:
            z.stop()
            z.close()
        srv.stop()
        print("seed %d: %d acknowledged ops survived kill -9" % (seed, acked))

    def test_crash_seed_1(self):
        self.crash_once(1)

    def test_crash_seed_2(self):
        self.crash_once(2)

    def test_crash_seed_3(self):
        self.crash_once(3)


class DiskFullTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="zkfs-diskfull-")
        self.mnt = os.path.join(self.tmp, "logdisk")
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", self.mnt], capture_output=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs here: %s" % r.stderr.decode().strip())
        self.srv = None

    def tearDown(self):
        if self.srv:
            self.srv.kill9()
        subprocess.run(["umount", "-l", self.mnt], capture_output=True)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_disk_full_stops_and_loses_nothing(self):
        self.srv = srv = Server(self.tmp, {"preAllocSize": "256", "snapCount": "100000"}, log_dir=self.mnt)
        srv.start()
        z = client(srv.port)
        acked = {}
        payload = b"x" * 2000
        err = None
        for i in range(100000):
            path = "/f%d" % i
            try:
                z.create(path, payload + b"%d" % i)
                acked[path] = payload + b"%d" % i
            except Exception as e:  # the server went away: what it acknowledged must survive
                err = e
                break
        try:
            z.stop()
            z.close()
        except Exception:
            pass
        self.assertIsNotNone(err, "4 MB of log filled without an error")
        srv.proc.wait(20)
        self.assertNotEqual(srv.proc.returncode, 0, "zkfsd must exit non-zero when its log disk is full")
        log = srv.log_text()
        self.assertIn("disk full", log.lower() + "", "no clear log line about the full disk:\n" + log[-2000:])
        self.assertGreater(len(acked), 100)
        # give the disk room and restart: everything acknowledged is there
        subprocess.run(["mount", "-o", "remount,size=64m", self.mnt], check=True)
        srv.start()
        z = client(srv.port)
        try:
            for path, data in acked.items():
                self.assertEqual(z.get(path)[0], data, path)
        finally:
            z.stop()
            z.close()
        print("disk full after %d acknowledged creates; all present after restart" % len(acked))


class LogdumpTest(unittest.TestCase):
    def test_logdump_prints_log_and_snapshot(self):
        tmp = tempfile.mkdtemp(prefix="zkfs-logdump-")
        srv = Server(tmp, {"snapCount": "50"})
        try:
            srv.start()
            z = client(srv.port)
            for i in range(120):
                z.create("/l%d" % i, b"d")
            z.stop()
            z.close()
            srv.stop()
            vdir = os.path.join(tmp, "data", "version-2")
            logs = sorted(f for f in os.listdir(vdir) if f.startswith("log."))
            snaps = sorted(f for f in os.listdir(vdir) if f.startswith("snapshot."))
            self.assertTrue(logs and snaps, os.listdir(vdir))
            out = subprocess.run([LOGDUMP] + [os.path.join(vdir, f) for f in logs], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("create /l119", out.stdout)
            out = subprocess.run([LOGDUMP, os.path.join(vdir, snaps[-1])], capture_output=True, text=True)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn("/zookeeper", out.stdout)
            # a damaged file is reported as such
            bad = os.path.join(tmp, "bad")
            with open(os.path.join(vdir, logs[-1]), "rb") as f:
                blob = bytearray(f.read())
            blob[40] ^= 0xFF
            with open(bad, "wb") as f:
                f.write(blob)
            out = subprocess.run([LOGDUMP, bad], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1, out.stdout)
            self.assertIn("damaged record", out.stdout)
        finally:
            srv.kill9()
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    failed = len(result.failures) + len(result.errors)
    print("%d passed, %d failed" % (result.testsRun - failed - len(result.skipped), failed))
    sys.exit(1 if failed else 0)
