"""Runs bin/zkfs-mount for the integration tests (tests/integration/test_mount.py).

Mount(connect) makes a fresh temporary mountpoint and starts the mount on it: in the
foreground (`-f`, the default: the test keeps the Popen, so it can freeze, thaw or kill -9
the mount) or daemonized (the program's own way: it returns once mounted; the daemon is
then found by its unique mountpoint in /proc). Readiness is polled (the mountpoint in
/proc/self/mountinfo, then os.path.ismount), never waited for with a fixed sleep.

Every Mount is registered here: unmount_all() (also run at exit) unmounts what this process
mounted - `fusermount3 -u`, then `fusermount3 -uz` if that fails - and kills, by pid, the
mount processes it started. Nothing else is touched.

ZKFS_MOUNT=path overrides bin/zkfs-mount; ZKFS_MOUNT_OPTS adds -o options to every mount
(watches=oneshot runs the suite on one-shot watches); ZKFS_MOUNT_DEBUG=1 adds -d (every FUSE request
in the mount's log, ZkMount.log_path).

Also what the mount suites (test_mount.py, test_mount_ensemble.py) share: read/try_read,
kill_group, Inotify, the MountTest mixin (the test's mounts and processes, its watchdog,
run_cmd) and main().
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import zkserver
import zktest

_mounts = []  # every Mount created by this process


def mount_path():
    p = os.environ.get("ZKFS_MOUNT", os.path.join(zkserver.REPO, "bin", "zkfs-mount"))
    return p if os.path.isabs(p) else os.path.join(zkserver.REPO, p)


class MountError(Exception):
    pass


def _unescape(s):
    # /proc/self/mountinfo escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and len(s[i + 1:i + 4]) == 3 and s[i + 1:i + 4].isdigit():
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mount_entry(mountpoint):
    """The /proc/self/mountinfo entry of mountpoint as a dict (dev "major:minor", fstype,
    source, options), or None when nothing is mounted there. Reads no file of the mount
    (a stuck mount cannot hang it)."""
    mountpoint = os.path.realpath(mountpoint)
    found = None
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                a = left.split()
                b = right.split()
                if len(a) < 6 or len(b) < 2:
                    continue
                if _unescape(a[4]) == mountpoint:
                    found = {"dev": a[2], "options": a[5], "fstype": b[0], "source": _unescape(b[1]),
                             "super": b[2] if len(b) > 2 else ""}
    except OSError:
        return None
    return found  # the last one: the one on top


def fusermount_u(mountpoint, timeout=15.0):
    """`fusermount3 -u`, and `fusermount3 -uz` when that fails. Returns the status of the
    first (0: a clean unmount)."""
    def run(args):
        try:
            return subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            return -1
    rc = run(["fusermount3", "-u", mountpoint])
    if rc != 0 and mount_entry(mountpoint) is not None:
        run(["fusermount3", "-uz", mountpoint])
    return rc


def _find_daemon(mountpoint, exe):
    """The pid of a zkfs-mount process whose command line names mountpoint (ours: the
    mountpoint is a fresh temporary directory), or None."""
    base = os.path.basename(exe)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                args = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if args and os.path.basename(args[0]) in (base, "zkfs", "zkfs-mount") and mountpoint in args[1:]:
            return int(d)
    return None


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
    except OSError:
        return False
    return st.rpartition(")")[2].split()[0] != "Z"


class Mount:
    """One zkfs-mount of CONNECT (host:port[/chroot]) on a fresh temporary directory.

    options: the -o string. foreground: run with -f and keep the Popen (else the program
    daemonizes itself and returns once mounted). Attributes: mountpoint, log_path,
    proc (foreground), pid, returncode (of the daemonizing start)."""

    def __init__(self, connect, options="session_timeout=10000", foreground=True, name=None, test_id=None):
        self.connect = connect
        self.options = options
        self.foreground = foreground
        self.name = name or "mount"
        self.test_id = test_id
        self.dir = tempfile.mkdtemp(prefix="zkfs-mnt-")
        self.mountpoint = os.path.join(self.dir, "mnt")
        os.mkdir(self.mountpoint)
        self.log_path = os.path.join(self.dir, "mount.log")
        self.proc = None
        self.daemon_pid = None
        self.returncode = None
        self.start_output = ""
        self.frozen = False
        self.unmounted = False
        _mounts.append(self)

    # ---------------------------------------------------------------------------------------
    def command(self):
        exe = mount_path()
        cmd = [exe]
        if self.foreground:
            cmd.append("-f")
        if os.environ.get("ZKFS_MOUNT_DEBUG"):
            cmd.append("-d")
        opts = ",".join(o for o in (self.options, os.environ.get("ZKFS_MOUNT_OPTS", "")) if o)
        if opts:
            cmd += ["-o", opts]
        return cmd + [self.connect, self.mountpoint]

    def start(self, timeout=20.0):
        exe = mount_path()
        if not os.access(exe, os.X_OK):
            raise MountError("%s is not built (run: make bin/zkfs-mount)" % exe)
        if self.foreground:
            out = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=out,
                                             stderr=subprocess.STDOUT, start_new_session=True)
            finally:
                out.close()
            self.wait_mounted(timeout)
        else:
            # The program returns once the mount is up and the session connected: no polling.
            try:
                r = subprocess.run(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, timeout=timeout, start_new_session=True)
            except subprocess.TimeoutExpired:
                self.daemon_pid = _find_daemon(self.mountpoint, exe)
                raise MountError("%s did not return within %.0f s" % (" ".join(self.command()), timeout))
            self.returncode = r.returncode
            self.start_output = r.stdout.decode("utf-8", "replace")
            with open(self.log_path, "ab") as f:
                f.write(r.stdout)
            self.daemon_pid = _find_daemon(self.mountpoint, exe)
            if r.returncode != 0:
                raise MountError("%s exited with status %d: %s" % (" ".join(self.command()), r.returncode,
                                                                  self.start_output.strip()))
        return self

    def wait_mounted(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise MountError("zkfs-mount exited with status %s before mounting %s; log:\n%s"
                                 % (self.proc.returncode, self.mountpoint, self.log_tail()))
            if self.mounted() and os.path.ismount(self.mountpoint):
                return
            if time.monotonic() >= deadline:
                raise MountError("%s not mounted after %.0f s; log:\n%s" % (self.mountpoint, timeout, self.log_tail()))
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    # ---------------------------------------------------------------------------------------
    @property
    def pid(self):
        if self.proc is not None:
            return self.proc.pid
        return self.daemon_pid

    def alive(self):
        if self.proc is not None:
            return self.proc.poll() is None
        return self.daemon_pid is not None and pid_alive(self.daemon_pid)

    def mounted(self):
        e = mount_entry(self.mountpoint)
        return e is not None and e["fstype"].startswith("fuse")

    def entry(self):
        return mount_entry(self.mountpoint)

    def path(self, *parts):
        return os.path.join(self.mountpoint, *parts)

    def signal(self, sig):
        pid = self.pid
        if pid is None or not self.alive():
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    def freeze(self):
        """SIGSTOP: the mount answers nothing and sends no pings (the session expires).
        Do not touch the mount's files while it is frozen."""
        self.signal(signal.SIGSTOP)
        self.frozen = True

    def thaw(self):
        self.signal(signal.SIGCONT)
        self.frozen = False

    def kill9(self):
        """SIGKILL the mount process (pending requests fail with ENOTCONN); the dead mount
        stays until unmount()."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGKILL)
        self.wait_exit(10.0)

    def wait_exit(self, timeout):
        """Waits for the mount process to end; returns its status (None for a daemon, or if
        it is still running)."""
        deadline = time.monotonic() + timeout
        if self.proc is not None:
            try:
                return self.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                return None
        while self.daemon_pid is not None and pid_alive(self.daemon_pid):
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)
        return None

    def unmount(self, timeout=10.0):
        """`fusermount3 -u` (then -uz if that fails), waits for the process to end, kills it
        if it does not. Returns fusermount3 -u's status (None if nothing was mounted)."""
        if self.frozen:
            self.thaw()
        rc = None
        if self.mounted():
            rc = fusermount_u(self.mountpoint)
        if self.alive() and self.wait_exit(timeout) is None and self.alive():
            self.signal(signal.SIGKILL)
            self.wait_exit(5.0)
        if self.mounted():  # a dead or stuck mount
            fusermount_u(self.mountpoint)
        self.unmounted = True
        return rc

    def cleanup(self, remove=False):
        try:
            self.unmount()
        finally:
            if self.proc is not None:
                for f in (self.proc.stdout, self.proc.stderr):
                    if f:
                        f.close()
            try:
                os.rmdir(self.mountpoint)
            except OSError:
                pass
            if remove:
                shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])


def all_mounts():
    return list(_mounts)


def unmount_all(remove=False):
    for m in _mounts:
        try:
            m.cleanup(remove=remove)
        except Exception:  # noqa: BLE001 - best effort
            pass


def remove_all_dirs():
    for m in _mounts:
        if not m.mounted():
            shutil.rmtree(m.dir, ignore_errors=True)


def _at_exit():
    for m in _mounts:
        try:
            if m.frozen:
                m.thaw()
            if m.alive():
                m.signal(signal.SIGKILL)
            if m.mounted():
                fusermount_u(m.mountpoint, timeout=5.0)
        except Exception:  # noqa: BLE001
            pass
    remove_all_dirs()


atexit.register(_at_exit)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def try_read(path):
    """The file's contents, or None if reading fails (for polling)."""
    try:
        return read(path)
    except OSError:
        return None


def kill_group(p, sig=signal.SIGKILL):
    """Signals the process group of a Popen started with start_new_session (our own), while
    its leader runs (a flock holder and its `sleep` go together)."""
    if p.poll() is not None:
        return
    try:
        os.killpg(p.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class Inotify:
    """inotifywait -m on paths of the mount; lines are collected with their arrival time.
    The process is added to test._procs (MountTest kills it); timeout is wait()'s default."""

    def __init__(self, test, *paths, timeout=2.0):
        self.lines = []
        self.err = []
        self.timeout = timeout
        self.p = subprocess.Popen(["inotifywait", "-m", "-e", "modify,create,delete,delete_self",
                                   "--format", "%e %w%f"] + list(paths),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, bufsize=1, start_new_session=True)
        test._procs.append(self.p)
        for stream, sink in ((self.p.stdout, self.lines), (self.p.stderr, self.err)):
            threading.Thread(target=self._reader, args=(stream, sink), daemon=True).start()
        zktest.wait_until(lambda: any("Watches established" in l for _, l in self.err) or self.p.poll() is not None,
                          15.0, "inotifywait to set up its watches")
        if self.p.poll() is not None:
            raise AssertionError("inotifywait failed: %s" % " ".join(l for _, l in self.err))

    @staticmethod
    def _reader(stream, sink):
        for line in stream:
            sink.append((time.monotonic(), line.rstrip("\n")))

    def wait(self, event, path, since, timeout=None):
        """The arrival time of the first line at index >= since whose events include event
        and whose path is path; AssertionError after timeout (default: self.timeout)."""
        def find():
            for t, line in self.lines[since:]:
                ev, _, p = line.partition(" ")
                if event in ev.split(",") and p.rstrip("/") == path.rstrip("/"):
                    return t
            return None
        return zktest.wait_until(find, self.timeout if timeout is None else timeout,
                                 lambda: "inotify %s %s (saw %r)" % (event, path, [l for _, l in self.lines[since:]]))

    def stop(self):
        kill_group(self.p)
        self.p.wait(5)


class MountTest:
    """Mixin for the mount suites' test cases: self._mounts (the test's Mounts) and
    self._procs (the Popens it started, each in a session of its own); start_watchdog()
    makes a watchdog that kills them all if the test runs over TEST_BUDGET seconds (a hung
    mount fails the test instead of hanging the suite); release_procs() cancels it and
    kills the processes; run_cmd() runs a command to its end (CHILD_PREEXEC: its
    preexec_fn)."""

    TEST_BUDGET = 100.0
    CHILD_PREEXEC = None

    def start_watchdog(self):
        self._watchdog = Watchdog(self.TEST_BUDGET, self._on_watchdog)

    def _on_watchdog(self):
        sys.stderr.write("\nwatchdog: %s ran over %.0f s: killing its mounts and processes\n"
                         % (self.id(), self.TEST_BUDGET))
        for p in list(self._procs):
            kill_group(p)
        for m in list(self._mounts):
            m.kill9()

    def release_procs(self):
        if self._watchdog:
            self._watchdog.cancel()
        for p in self._procs:
            kill_group(p)
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdout, p.stderr):
                if f:
                    try:
                        f.close()
                    except Exception:  # noqa: BLE001
                        pass
        self._procs = []

    def run_cmd(self, args, timeout=30.0):
        """Runs a command to its end; returns (status, stdout, stderr)."""
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, preexec_fn=self.CHILD_PREEXEC)
        self._procs.append(p)
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(p)
            p.communicate()
            self.fail("%s did not finish within %.0f s" % (" ".join(args), timeout))
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


class Watchdog:
    """Calls fire() once if not cancelled within seconds: a test stuck in a system call on
    a hung mount is freed by killing the mount (its requests then fail with ENOTCONN)."""

    def __init__(self, seconds, fire):
        self.fired = False

        def run():
            self.fired = True
            fire()
        self._t = threading.Timer(seconds, run)
        self._t.daemon = True
        self._t.start()

    def cancel(self):
        self._t.cancel()


def main(prefix="mount", module="__main__", log_lines=30, on_failed=None, cleanup=None):
    """zktest.main with the mounts: runs the module's tests, unmounts everything (then runs
    cleanup(), when given), prints the mount log tails (log_lines lines) of failed tests,
    then what on_failed(ids of the failed tests) prints, when given, and the server log
    tails, then "<prefix>: N passed, N failed" as the last line; exits 1 on failure."""
    t0 = time.monotonic()

    def failed(bad):
        for m in _mounts:
            if m.test_id in bad and m.log_text().strip():
                print("---- %s log tail (%s, %s) ----" % (m.name, m.test_id, m.log_path))
                print(m.log_tail(log_lines))
        if on_failed:
            on_failed(bad)

    def clean():
        unmount_all()  # first: the sessions close while their servers run
        if cleanup:
            cleanup()

    def after():
        remove_all_dirs()
        print("(%.1f s)" % (time.monotonic() - t0))

    zktest.main(module, prefix=prefix, on_failed=failed, cleanup=clean, after=after)
