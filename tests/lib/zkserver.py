"""Starts and stops ZooKeeper-protocol servers for the integration tests.

Two kinds, driven the same way through a generated zoo.cfg in a fresh temporary directory
on a free port of 127.0.0.1:
  "zkfsd"  - this repository's bin/zkfsd (override with env ZKFSD=path);
  "apache" - Apache ZooKeeper 3.8 from the Debian `zookeeper` package, the reference.
A server is ready when `ruok` answers (polled, never a fixed sleep). Every server runs in
its own process group and is registered here, so stop_all() (also run at exit) kills what
this process started - and nothing else. Logs: ZkServer.log_path (zkfsd's stderr, or
ZooKeeper's log4j file).

ZKFS_SERVER=zkfsd|apache|both selects the kinds a test runs against (selected_kinds()).
"""
import atexit
import glob
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KINDS = ("zkfsd", "apache")

_servers = []  # every ZkServer created by this process, for stop_all() and log tails


def selected_kinds():
    """The server kinds chosen by env ZKFS_SERVER (zkfsd, apache or both; default zkfsd)."""
    v = os.environ.get("ZKFS_SERVER", "zkfsd").strip().lower()
    if v == "both":
        return list(KINDS)
    if v not in KINDS:
        raise SystemExit("ZKFS_SERVER must be zkfsd, apache or both (got %r)" % v)
    return [v]


def build_dir():
    """$BUILD (default build/rel), as an absolute path (relative paths are from the repo root)."""
    b = os.environ.get("BUILD", "build/rel")
    return b if os.path.isabs(b) else os.path.join(REPO, b)


def zkfsd_path():
    p = os.environ.get("ZKFSD", os.path.join(REPO, "bin", "zkfsd"))
    return p if os.path.isabs(p) else os.path.join(REPO, p)


def free_port():
    """A TCP port of 127.0.0.1 nobody listens on now (the kernel picks it)."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def fourlw(hostport, cmd, timeout=5.0):
    """Sends a four-letter word and returns the whole answer (the server closes after it)."""
    host, port = hostport.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.sendall(cmd.encode() if isinstance(cmd, str) else cmd)
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                c = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks).decode("utf-8", "replace")


def apache_classpath():
    jars = ["zookeeper", "zookeeper-jute", "slf4j-api", "slf4j-log4j12", "log4j-1.2", "commons-cli",
            "commons-io"]
    paths = ["/usr/share/java/%s.jar" % j for j in jars]
    # The unversioned netty-*.jar links (the versioned ones are the same classes).
    paths += sorted(p for p in glob.glob("/usr/share/java/netty-*.jar") if not re.search(r"-\d", os.path.basename(p)))
    missing = [p for p in paths[:7] if not os.path.exists(p)]
    if missing:
        raise RuntimeError("Apache ZooKeeper is not installed (missing %s; run: make deps)" % ", ".join(missing))
    return ":".join(paths)


class ServerError(Exception):
    pass


def server_command(kind, cfg_path, log_path, heap="512m", java_opts=()):
    """The command line of a server of kind with the config file cfg_path: bin/zkfsd, or
    Apache ZooKeeper's QuorumPeerMain logging to log_path (its log4j.properties is written
    beside cfg_path), java with -Xmx<heap> and java_opts."""
    if kind == "zkfsd":
        exe = zkfsd_path()
        if not os.access(exe, os.X_OK):
            raise ServerError("%s is not built (run: make bin/zkfsd)" % exe)
        return [exe, cfg_path]
    props = os.path.join(os.path.dirname(cfg_path), "log4j.properties")
    with open(props, "w") as f:
        f.write("log4j.rootLogger=INFO, FILE\n"
                "log4j.appender.FILE=org.apache.log4j.FileAppender\n"
                "log4j.appender.FILE.File=%s\n"
                "log4j.appender.FILE.Append=true\n"
                "log4j.appender.FILE.layout=org.apache.log4j.PatternLayout\n"
                "log4j.appender.FILE.layout.ConversionPattern=%%d{ISO8601} %%-5p [%%t:%%C{1}@%%L] - %%m%%n\n"
                % log_path)
    # Client JIT only and the serial collector: a test server lives seconds, and starts
    # in about one second this way.
    return (["java", "-Xmx" + heap, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
             "-Dlog4j.configuration=file:" + props, "-Dzookeeper.jmx.log4j.disable=true"] + list(java_opts)
            + ["-cp", apache_classpath(), "org.apache.zookeeper.server.quorum.QuorumPeerMain", cfg_path])


class ServerLog:
    """The log of a server process (ZkServer, ensemble.Member): log_path, and stdout_path
    (Apache's stdout, beside its log4j file; zkfsd writes everything to log_path)."""

    def log_size(self):
        """The log's current size: pass it to log_text/wait_log to look only at newer lines."""
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def log_text(self, since=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        """The last n lines of the log, then of stdout_path (when there is one)."""
        lines = self.log_text().splitlines()
        try:
            with open(self.stdout_path, errors="replace") as f:
                lines += ["[stdout] " + l for l in f.read().splitlines()]
        except OSError:
            pass
        return "\n".join(lines[-n:])


class ZkServer(ServerLog):
    """One server process. Config keys in `extra` are appended to zoo.cfg (they override the
    defaults). `env` adds environment variables (e.g. ZKFS_LOG=debug for zkfsd)."""

    def __init__(self, kind, extra=None, tick_time=2000, env=None, name=None):
        if kind not in KINDS:
            raise ValueError("unknown server kind %r" % kind)
        self.kind = kind
        self.extra = dict(extra or {})
        self.tick_time = tick_time
        self.env = dict(env or {})
        self.name = name or kind
        self.dir = tempfile.mkdtemp(prefix="zkfs-it-%s-" % kind)
        self.data_dir = os.path.join(self.dir, "data")
        os.makedirs(self.data_dir)
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")  # apache only
        self.port = None
        self.proc = None
        self.starts = 0
        _servers.append(self)

    @property
    def hostport(self):
        return "127.0.0.1:%d" % self.port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def _write_cfg(self):
        cfg = {
            "tickTime": str(self.tick_time),
            "dataDir": self.data_dir,
            "clientPort": str(self.port),
            "clientPortAddress": "127.0.0.1",
            "4lw.commands.whitelist": "*",
            "admin.enableServer": "false",
        }
        for k, v in self.extra.items():
            if v is None:
                cfg.pop(k, None)
            else:
                cfg[k] = str(v)
        with open(self.cfg_path, "w") as f:
            for k, v in cfg.items():
                f.write("%s=%s\n" % (k, v))

    def start(self, timeout=None):
        """Starts the server (on the same port and dataDir as before if it ran already) and
        waits until it answers ruok. Returns host:port."""
        if self.proc and self.proc.poll() is None:
            raise ServerError("%s already running" % self.name)
        timeout = timeout or (60.0 if self.kind == "apache" else 20.0)
        keep_port = self.port is not None
        for attempt in range(5):
            if not keep_port:
                self.port = free_port()
            self._write_cfg()
            cmd = server_command(self.kind, self.cfg_path, self.log_path)
            env = dict(os.environ)
            env.update(self.env)
            out = open(self.log_path if self.kind == "zkfsd" else self.stdout_path, "ab")
            try:
                self.proc = subprocess.Popen(cmd, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, env=env, start_new_session=True)
            finally:
                out.close()
            self.starts += 1
            if self._wait_ready(timeout):
                return self.hostport
            rc = self.proc.poll()
            self._kill(signal.SIGKILL)
            # A port taken between free_port() and the bind: try another one.
            if rc is not None and not keep_port and attempt < 4 and self._port_conflict():
                continue
            raise ServerError("%s did not answer ruok on %s within %.0f s (exit status %s); log tail:\n%s"
                              % (self.name, self.hostport, timeout, rc, self.log_tail()))
        raise ServerError("%s: no free port" % self.name)

    def _port_conflict(self):
        return re.search(r"(?i)address already in use", self.log_text()) is not None

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                ans = fourlw(self.hostport, "ruok", timeout=2.0)
                # imok, or the whitelist refusal when a test left ruok out: both are a server.
                # ZooKeeper says imok while still loading its database; srvr tells (and
                # is never refused by the whitelist).
                if ans == "imok" or "not in the whitelist" in ans:
                    if "not currently serving" not in fourlw(self.hostport, "srvr", timeout=2.0):
                        return True
            except OSError:
                pass
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)
        return False

    def _kill(self, sig):
        if not self.proc:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)  # the group we created (start_new_session)
            except ProcessLookupError:
                pass

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status (None if never started)."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self._kill(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill(signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def kill9(self):
        """SIGKILL (a crash); waits for the process to be gone."""
        if self.proc and self.proc.poll() is None:
            self._kill(signal.SIGKILL)
            self.proc.wait()

    def restart(self, kill=False):
        """Stops (or kill -9s) the server and starts it again on the same port and dataDir."""
        if kill:
            self.kill9()
        else:
            self.stop()
        return self.start()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def fourlw(self, cmd, timeout=5.0):
        return fourlw(self.hostport, cmd, timeout)

    def rss_kb(self):
        """The server's resident set size (VmRSS) in kB, or None if it is gone."""
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, TypeError):
            return None
        return None

    def wait_log(self, pattern, since=0, timeout=10.0):
        """Polls the log (from offset since) until a line matches the regex; returns the line
        or None after timeout."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.log_text(since).splitlines():
                if rx.search(line):
                    return line
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.05)

    SANITIZER_RX = re.compile(r"(runtime error:|ERROR: AddressSanitizer|ERROR: LeakSanitizer|"
                              r"WARNING: ThreadSanitizer|SUMMARY: UndefinedBehaviorSanitizer)")

    def sanitizer_reports(self, since=0):
        """Lines of the log (from offset since) where a sanitizer reported an error: a
        sanitized zkfsd does not always die of them (UBSan goes on)."""
        return [l for l in self.log_text(since).splitlines() if self.SANITIZER_RX.search(l)]

    def cleanup(self):
        """Stops the server and removes its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def all_servers():
    return list(_servers)


def stop_all(remove_dirs=True):
    """Stops every server this process started (and removes their directories unless told
    not to)."""
    for s in _servers:
        try:
            s.stop()
        except Exception:  # noqa: BLE001 - best effort at exit
            s.kill9()
        if remove_dirs:
            shutil.rmtree(s.dir, ignore_errors=True)


def remove_all_dirs():
    for s in _servers:
        shutil.rmtree(s.dir, ignore_errors=True)


def _at_exit():
    # Kill first (no waiting on a stuck server at exit), then remove.
    for s in _servers:
        if s.alive():
            s.kill9()
        shutil.rmtree(s.dir, ignore_errors=True)


atexit.register(_at_exit)

_shared = {}


def shared_server(kind, **kw):
    """One server per kind and configuration for the whole test script, started on first use."""
    key = (kind, repr(sorted(kw.items(), key=lambda kv: kv[0])))
    s = _shared.get(key)
    if s is None or not s.alive():
        if s is None:
            s = ZkServer(kind, name="shared-" + kind, **kw)
            _shared[key] = s
        s.start()
    return s
