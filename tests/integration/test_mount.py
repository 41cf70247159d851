#!/usr/bin/python3
"""bin/zkfs-mount (fuse/README.md is the contract) against a real server, with kazoo as the
other client that changes the tree behind the mount's back and checks what the mount did:

- mapping: directories, files, DIR/.data, virtual NAME.lock files, files that stay files
  while empty; errors (ENOENT EEXIST ENOTEMPTY EACCES EFBIG ENOTSUP EPERM EINVAL); atomic
  rename of a leaf;
- the name suffixes .ephemeral / .sequential / both, and learning a sequential name from
  the open descriptor (user.zk.name), also with concurrent creates;
- stat and every user.zk.* extended attribute against kazoo's ZnodeStat, modes from ACLs;
- buffered writes: >> read-modify-writes, a conflicting change fails close with EAGAIN;
- caching and invalidation (data, children, shape changes), inotify events for changes made
  elsewhere (latency printed, not asserted);
- flock on NAME.lock against kazoo's Lock / ReadLock / WriteLock recipes, shared locks,
  interrupted waiters, a killed holder; two mounts of one server;
- unmount closes the session, daemonized start, start failures, the ro option, connection
  loss (EIO, then recovery) and session expiry (EIO, ESTALE, a new session).

Each test runs against every server kind ZKFS_SERVER selects (zkfsd, apache or both; this
suite defaults to both, since the mount must work against Apache ZooKeeper as well). A
test's mounts are chrooted to its own fresh node (HOST:PORT/t-...), so the mount's root is
self.root. Mounts run in the foreground (-f) unless a test is about daemonizing; each is
unmounted (fusermount3 -u, then -uz) in tearDown and at exit. A watchdog kills the mounts of
a test that runs too long, so a hung mount fails the test instead of hanging the suite.
"""
import errno
import fcntl
import os
import re
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
os.environ.setdefault("ZKFS_SERVER", "both")
import mount as zkmount  # noqa: E402
import zkserver  # noqa: E402
import zktest  # noqa: E402
from mount import kill_group, read, try_read  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.exceptions import LockTimeout  # noqa: E402
from kazoo.security import make_acl  # noqa: E402

# Sessions may be 1..10 s on these servers (2 and 20 ticks): the expiry test is quick, and
# session_timeout=10000 is honoured.
TICK = 500
MOUNT_OPTIONS = "session_timeout=10000"
TEST_BUDGET = 100.0  # seconds; then the watchdog kills the test's mounts
SHORT = 2.0  # how long a change made elsewhere may take to show through the mount

LOCK_RX = re.compile(r"^[0-9a-f]{32}__lock__\d{10}$")
RLOCK_RX = re.compile(r"^[0-9a-f]{32}__rlock__\d{10}$")
HEX_FIELDS = ("czxid", "mzxid", "pzxid", "ephemeralOwner")
DEC_FIELDS = ("ctime", "mtime", "version", "cversion", "aversion", "dataLength", "numChildren")
XATTRS = tuple("user.zk." + f for f in HEX_FIELDS + DEC_FIELDS + ("name", "path", "acl"))

WORLD_R = [make_acl("world", "anyone", read=True)]


# ---------------------------------------------------------------------------------------------
# helpers

def write(path, data, mode="wb"):
    with open(path, mode) as f:
        f.write(data)


def quiet(pred):
    """pred() for polling: an OSError counts as false."""
    def f():
        try:
            return pred()
        except OSError:
            return False
    return f


def call_errno(fn, *args):
    """The errno fn(*args) fails with, or 0."""
    try:
        r = fn(*args)
        if isinstance(r, int) and fn is os.open:
            os.close(r)
    except OSError as e:
        return e.errno
    return 0


def io_errno(path, data, flags, mode=0o644):
    """open + write(s) + close; the errno of the first step that fails, or 0."""
    try:
        fd = os.open(path, flags, mode)
    except OSError as e:
        return e.errno
    err = 0
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view[:65536])
            view = view[n:]
    except OSError as e:
        err = e.errno
    try:
        os.close(fd)
    except OSError as e:
        err = err or e.errno
    return err


def read_errno(path):
    try:
        read(path)
    except OSError as e:
        return e.errno
    return 0


def xattr(path, name):
    return os.getxattr(path, name).decode("utf-8").rstrip("\n\0")


def fd_name(fd):
    """The name the node open on fd got (README: race-free name learning)."""
    return xattr("/proc/self/fd/%d" % fd, "user.zk.name")


def zk_xattrs(path):
    return {n: xattr(path, n) for n in os.listxattr(path) if n.startswith("user.zk.")}


def stat_mismatches(x, zst):
    """The user.zk.* attributes in x that do not match kazoo's ZnodeStat (a list of text)."""
    bad = []
    for f in HEX_FIELDS:
        v = x.get("user.zk." + f)
        if v is None or not re.match(r"^0x[0-9a-fA-F]+$", v) or int(v, 16) != getattr(zst, f):
            bad.append("%s=%r (kazoo: 0x%x)" % (f, v, getattr(zst, f)))
    for f in DEC_FIELDS:
        v = x.get("user.zk." + f)
        if v is None or not re.match(r"^-?\d+$", v) or int(v) != getattr(zst, f):
            bad.append("%s=%r (kazoo: %d)" % (f, v, getattr(zst, f)))
    return bad


def acl_text(acl):
    """ACLs as the README writes them: scheme:id:perms, perms from cdrwa."""
    out = []
    for a in acl:
        perms = "".join(c for c, bit in (("c", 4), ("d", 8), ("r", 1), ("w", 2), ("a", 16)) if a.perms & bit)
        out.append("%s:%s:%s" % (a.id.scheme, a.id.id, perms))
    return out


def default_signals():
    """In a child before exec: SIGINT and SIGTERM as by default, even if whoever runs the
    suite ignores them (a background job), so that tests can kill children with them."""
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, signal.SIG_DFL)


# ---------------------------------------------------------------------------------------------
class Base(zkmount.MountTest, zktest.ServerTest):
    TICK_TIME = TICK
    TEST_BUDGET = TEST_BUDGET
    CHILD_PREEXEC = staticmethod(default_signals)

    def setUp(self):
        self._mounts = []
        self._procs = []
        self._m = None
        self._watchdog = None
        super().setUp()
        self.addCleanup(self._release)
        self.tmp = tempfile.mkdtemp(prefix="zkfs-mt-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.start_watchdog()

    def _release(self):
        self.release_procs()
        for m in self._mounts:
            m.cleanup()
        self._mounts = []

    def tearDown(self):
        self._release()
        super().tearDown()

    # mounts ---------------------------------------------------------------------------------
    def mount(self, chroot=None, options=MOUNT_OPTIONS, foreground=True, hostport=None, start=True):
        connect = (hostport or self.hostport) + (self.root if chroot is None else chroot)
        m = zkmount.Mount(connect, options, foreground, name="mount-%d-%s" % (len(self._mounts), self.KIND),
                          test_id=self.id())
        self._mounts.append(m)
        if start:
            m.start()
        return m

    @property
    def m(self):
        """The test's default mount (of self.root), started on first use."""
        if self._m is None:
            self._m = self.mount()
        return self._m

    def mp(self, *parts):
        return self.m.path(*parts)

    # processes (run_cmd: zkmount.MountTest) -------------------------------------------------
    def sh(self, script, timeout=30.0):
        rc, out, err = self.run_cmd(["sh", "-c", script], timeout)
        self.assertEqual(rc, 0, "sh -c %r: status %d, stderr %r" % (script, rc, err))
        return out

    def flock(self, *args, timeout=30.0):
        return self.run_cmd(["flock"] + list(args), timeout)[0]

    def bg(self, args):
        p = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True, preexec_fn=default_signals)
        self._procs.append(p)
        return p

    def holder(self, lockfile, *flags):
        """A background `flock [flags] lockfile` that holds the lock (a marker file appears
        once it has it) until killed. Returns (Popen, marker path)."""
        marker = os.path.join(self.tmp, "held-%s" % uuid.uuid4().hex[:8])
        p = self.bg(["flock"] + list(flags) + [lockfile, "sh", "-c", "touch %s; exec sleep 30" % shlex.quote(marker)])
        return p, marker

    def wait_held(self, p, marker, timeout=10.0):
        wait_until(lambda: os.path.exists(marker) or p.poll() is not None, timeout, "the flock holder to get its lock")
        self.assertTrue(os.path.exists(marker), "flock exited with status %s instead of holding" % p.returncode)

    def visible(self, *names, m=None):
        """Waits until the mount (default: self.m) shows each name (a path relative to its
        root): a change made elsewhere reaches the mount through its watch, a little later."""
        m = m or self.m
        for n in names:
            wait_until(lambda: os.path.lexists(m.path(n)), SHORT, "%s to show through the mount" % n)

    # assertions -----------------------------------------------------------------------------
    def assertErrno(self, want, fn, *args):
        got = call_errno(fn, *args)
        self.assertEqual(got, want, "%s%r: %s, want %s" % (getattr(fn, "__name__", fn), args,
                                                            errno.errorcode.get(got, got) if got else "success",
                                                            errno.errorcode[want]))

    def children(self, *parts):
        return sorted(self.zk.get_children(self.p(*parts)))

    def wait_children(self, want, *parts, timeout=5.0):
        want = sorted(want)
        wait_until(lambda: self.children(*parts) == want, timeout,
                   lambda: "children of %s to be %r (are %r)" % (self.p(*parts), want, self.children(*parts)))


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Mapping(Base):
    def test_mapping(self):
        zk = self.zk
        # mkdir: a znode with no data, a directory.
        os.mkdir(self.mp("d"))
        data, st = zk.get(self.p("d"))
        self.assertEqual((data, st.dataLength, st.numChildren, st.ephemeralOwner), (b"", 0, 0, 0))
        self.assertTrue(stat.S_ISDIR(os.stat(self.mp("d")).st_mode))
        # echo x > f: a znode whose data arrives at close; a regular file.
        self.sh("echo x > %s" % shlex.quote(self.mp("f")))
        self.assertEqual(zk.get(self.p("f"))[0], b"x\n")
        self.assertEqual(read(self.mp("f")), b"x\n")
        st = os.stat(self.mp("f"))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, 2)
        self.assertEqual(self.sh("cat %s" % shlex.quote(self.mp("f"))), "x\n")
        # Made elsewhere: no data and no children is a directory, data is a file.
        zk.create(self.p("kd"))
        zk.create(self.p("kf"), b"kazoo file")
        self.visible("kd", "kf")
        self.assertTrue(os.path.isdir(self.mp("kd")))
        self.assertEqual(os.listdir(self.mp("kd")), [])
        self.assertTrue(os.path.isfile(self.mp("kf")))
        self.assertEqual(read(self.mp("kf")), b"kazoo file")
        # A node with data and children: a directory, its data in .data.
        zk.create(self.p("dd"), b"dir data")
        zk.create(self.p("dd", "c"), b"c")
        self.visible("dd/c")
        self.assertTrue(os.path.isdir(self.mp("dd")))
        self.assertEqual(os.listdir(self.mp("dd")), ["c"])
        self.assertTrue(stat.S_ISREG(os.stat(self.mp("dd", ".data")).st_mode))
        self.assertEqual(read(self.mp("dd", ".data")), b"dir data")
        self.assertEqual(os.stat(self.mp("dd", ".data")).st_size, 8)
        write(self.mp("dd", ".data"), b"new dir data")
        self.assertEqual(zk.get(self.p("dd"))[0], b"new dir data")
        self.assertEqual(read(self.mp("dd", ".data")), b"new dir data")
        self.assertEqual(self.children("dd"), ["c"])  # .data is no znode
        self.assertTrue(os.path.isdir(self.mp("dd")))
        # The mount's root is the chroot node: its data is /.data.
        zk.set(self.root, b"root data")
        wait_until(lambda: try_read(self.mp(".data")) == b"root data", SHORT, "the root's .data")
        # A file created through the mount stays a file while empty (a znode with no data).
        os.close(os.open(self.mp("empty"), os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
        self.sh("touch %s" % shlex.quote(self.mp("touched")))
        for name in ("empty", "touched"):
            data, zst = zk.get(self.p(name))
            self.assertEqual((data, zst.dataLength, zst.numChildren), (b"", 0, 0), name)
            os.listdir(self.mp())
            st = os.stat(self.mp(name))
            self.assertTrue(stat.S_ISREG(st.st_mode), "%s: mode %o" % (name, st.st_mode))
            self.assertEqual(st.st_size, 0)
            self.assertEqual(read(self.mp(name)), b"")
        # NAME.lock: a virtual empty file beside any node, never listed, never a znode.
        self.assertEqual(self.flock("-n", self.mp("d.lock"), "true"), 0)
        st = os.stat(self.mp("kd.lock"))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, 0)
        names = sorted(os.listdir(self.mp()))
        self.assertEqual(names, ["d", "dd", "empty", "f", "kd", "kf", "touched"])
        self.assertEqual(names, self.children())
        for n in names:
            if os.path.isdir(self.mp(n)):
                listed = os.listdir(self.mp(n))
                self.assertNotIn(".data", listed)
                self.assertEqual([x for x in listed if x.endswith(".lock")], [])
        self.assertIsNone(zk.exists(self.p("d.lock")))
        self.assertIsNone(zk.exists(self.p("kd.lock")))
        self.assertIsNone(zk.exists(self.p("dd", ".data")))
        wait_until(lambda: self.children("d") == [], SHORT, "the lock's node under d to go")
        self.assertTrue(os.path.isdir(self.mp("d")))
        # rm and rmdir delete; the usual tools work.
        os.unlink(self.mp("f"))
        self.assertIsNone(zk.exists(self.p("f")))
        os.rmdir(self.mp("d"))
        self.assertIsNone(zk.exists(self.p("d")))
        self.assertFalse(os.path.exists(self.mp("f")))
        self.assertErrno(errno.EISDIR, os.unlink, self.mp("kd"))
        self.assertErrno(errno.ENOTDIR, os.rmdir, self.mp("kf"))
        blob = os.urandom(100 * 1024)
        src = os.path.join(self.tmp, "blob")
        write(src, blob)
        self.sh("cp %s %s && mkdir -p %s" % (shlex.quote(src), shlex.quote(self.mp("copy")),
                                            shlex.quote(self.mp("t1", "t2", "t3"))))
        self.assertEqual(zk.get(self.p("copy"))[0], blob)
        self.assertIsNotNone(zk.exists(self.p("t1", "t2", "t3")))
        out = os.path.join(self.tmp, "back")
        self.sh("cp %s %s && rm -r %s" % (shlex.quote(self.mp("copy")), shlex.quote(out), shlex.quote(self.mp("t1"))))
        self.assertEqual(read(out), blob)
        self.assertIsNone(zk.exists(self.p("t1")))
        self.assertEqual(sorted(os.listdir(self.mp())), ["copy", "dd", "empty", "kd", "kf", "touched"])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Errors(Base):
    def test_errors(self):
        zk = self.zk
        mp = self.mp
        # NONODE: ENOENT.
        for fn, args in ((os.stat, (mp("missing"),)), (read, (mp("missing"),)), (os.unlink, (mp("missing"),)),
                         (os.rmdir, (mp("missing"),)), (os.listdir, (mp("missing"),)),
                         (os.open, (mp("missing", "x"), os.O_CREAT | os.O_WRONLY, 0o644)),
                         (os.mkdir, (mp("missing", "x"),))):
            self.assertErrno(errno.ENOENT, fn, *args)
        # NODEEXISTS: EEXIST (O_EXCL), also for a node the mount first saw as missing.
        zk.create(self.p("f"), b"data")
        zk.create(self.p("d"))
        self.assertErrno(errno.EEXIST, os.open, mp("f"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        self.assertErrno(errno.EEXIST, os.mkdir, mp("f"))
        self.assertErrno(errno.EEXIST, os.mkdir, mp("d"))
        self.assertFalse(os.path.exists(mp("late")))
        zk.create(self.p("late"), b"late")
        self.assertErrno(errno.EEXIST, os.open, mp("late"), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        self.assertEqual(zk.get(self.p("f"))[0], b"data")
        self.assertEqual(zk.get(self.p("late"))[0], b"late")
        # NOTEMPTY: ENOTEMPTY.
        zk.create(self.p("full", "kid"), b"k", makepath=True)
        self.visible("full/kid")
        self.assertErrno(errno.ENOTEMPTY, os.rmdir, mp("full"))
        self.assertIsNotNone(zk.exists(self.p("full", "kid")))
        # NOAUTH: EACCES. Read-only for world: writes fail, nothing changes.
        zk.create(self.p("ro"), b"ro", acl=WORLD_R)
        self.visible("ro")
        self.assertEqual(read(mp("ro")), b"ro")
        self.assertEqual(io_errno(mp("ro"), b"changed", os.O_WRONLY | os.O_TRUNC), errno.EACCES)
        self.assertEqual(io_errno(mp("ro"), b"more", os.O_WRONLY | os.O_APPEND), errno.EACCES)
        self.assertErrno(errno.EACCES, os.truncate, mp("ro"), 1)
        self.assertEqual(zk.get(self.p("ro"))[0], b"ro")
        # ... no READ: reading fails.
        zk.create(self.p("wo"), b"secret", acl=[make_acl("world", "anyone", write=True, delete=True, admin=True)])
        self.visible("wo")
        self.assertEqual(read_errno(mp("wo")), errno.EACCES)
        # ... no CREATE on the parent: mkdir and create fail.
        zk.create(self.p("nocreate"), acl=[make_acl("world", "anyone", read=True, write=True, delete=True,
                                                    admin=True)])
        self.visible("nocreate")
        self.assertErrno(errno.EACCES, os.mkdir, mp("nocreate", "x"))
        self.assertEqual(io_errno(mp("nocreate", "y"), b"y", os.O_CREAT | os.O_WRONLY), errno.EACCES)
        self.assertEqual(self.children("nocreate"), [])
        # Data larger than the server accepts: EFBIG, and not all of it stored.
        big = os.urandom(1 << 20)
        self.assertEqual(io_errno(mp("big"), big, os.O_CREAT | os.O_WRONLY | os.O_TRUNC), errno.EFBIG)
        zst = zk.exists(self.p("big"))
        if zst is not None:
            self.assertLess(zst.dataLength, 1 << 20)
        # ... while large data within the limit round-trips, written in small pieces.
        ok = os.urandom(700 * 1024)
        fd = os.open(mp("ok"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            for i in range(0, len(ok), 5000):
                self.assertEqual(os.write(fd, ok[i:i + 5000]), len(ok[i:i + 5000]))
        finally:
            os.close(fd)
        self.assertEqual(zk.get(self.p("ok"))[0], ok)
        self.assertEqual(read(mp("ok")), ok)
        # mv of a node with children: ENOTSUP, nothing changes.
        self.assertErrno(errno.ENOTSUP, os.rename, mp("full"), mp("full2"))
        self.assertIsNotNone(zk.exists(self.p("full", "kid")))
        self.assertIsNone(zk.exists(self.p("full2")))
        # NOCHILDRENFOREPHEMERALS: EPERM.
        os.mkdir(mp("eph.ephemeral"))
        self.assertNotEqual(zk.exists(self.p("eph")).ephemeralOwner, 0)
        self.assertErrno(errno.EPERM, os.mkdir, mp("eph", "c"))
        self.assertEqual(io_errno(mp("eph", "f"), b"f", os.O_CREAT | os.O_WRONLY), errno.EPERM)
        # BADARGUMENTS (a name ZooKeeper refuses): EINVAL.
        self.assertErrno(errno.EINVAL, os.mkdir, mp("bad\x01name"))
        self.assertNotIn("bad\x01name", self.children())
        # The session survived all of it.
        os.mkdir(mp("after"))
        self.assertIsNotNone(zk.exists(self.p("after")))

    def test_rename_leaf_is_one_atomic_multi(self):
        zk = self.zk
        acl = [make_acl("world", "anyone", read=True, write=True, delete=True, admin=True)]
        zk.create(self.p("leaf"), b"payload", acl=acl)
        zk.create(self.p("sub"))
        self.visible("leaf", "sub")
        self.assertEqual(read(self.mp("leaf")), b"payload")
        os.rename(self.mp("leaf"), self.mp("sub", "moved"))
        self.assertIsNone(zk.exists(self.p("leaf")))
        data, st = zk.get(self.p("sub", "moved"))
        self.assertEqual(data, b"payload")
        self.assertEqual(acl_text(zk.get_acls(self.p("sub", "moved"))[0]), acl_text(acl))
        # One transaction: the delete of the old name has the create's zxid.
        self.assertEqual(zk.exists(self.root).pzxid, st.czxid)
        self.assertEqual(zk.exists(self.p("sub")).pzxid, st.czxid)
        self.assertFalse(os.path.exists(self.mp("leaf")))
        self.assertEqual(read(self.mp("sub", "moved")), b"payload")
        self.assertEqual(os.listdir(self.mp("sub")), ["moved"])
        # A leaf directory (no data, no children) and a file written through the mount.
        os.mkdir(self.mp("emptydir"))
        os.rename(self.mp("emptydir"), self.mp("emptydir2"))
        self.assertIsNone(zk.exists(self.p("emptydir")))
        self.assertIsNotNone(zk.exists(self.p("emptydir2")))
        self.assertTrue(os.path.isdir(self.mp("emptydir2")))
        write(self.mp("mine"), b"mine")
        os.rename(self.mp("mine"), self.mp("mine2"))
        self.assertEqual(zk.get(self.p("mine2"))[0], b"mine")
        self.assertIsNone(zk.exists(self.p("mine")))
        self.assertEqual(sorted(os.listdir(self.mp())), ["emptydir2", "mine2", "sub"])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Suffixes(Base):
    def test_suffixes(self):
        zk = self.zk
        mp = self.mp
        os.mkdir(mp("q"))
        # .ephemeral: the node lives as long as the mount's session.
        fd = os.open(mp("e.ephemeral"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            self.assertEqual(fd_name(fd), "e")
            self.assertIn(xattr("/proc/self/fd/%d" % fd, "user.zk.path"), ("/e", self.root + "/e"))
            os.write(fd, b"eph")
        finally:
            os.close(fd)
        data, st = zk.get(self.p("e"))
        self.assertEqual(data, b"eph")
        owner = st.ephemeralOwner
        self.assertNotEqual(owner, 0)
        self.assertIsNone(zk.exists(self.p("e.ephemeral")))
        self.assertEqual(read(mp("e")), b"eph")
        os.mkdir(mp("ed.ephemeral"))
        self.assertEqual(zk.exists(self.p("ed")).ephemeralOwner, owner)
        self.assertTrue(os.path.isdir(mp("ed")))
        # .sequential: prefix + the parent's 10-digit counter, learnt from the descriptor.
        fd = os.open(mp("q", "task-.sequential"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
        try:
            seq = fd_name(fd)
            os.write(fd, b"payload\n")
        finally:
            os.close(fd)
        self.assertRegex(seq, r"^task-\d{10}$")
        data, st = zk.get(self.p("q", seq))
        self.assertEqual((data, st.ephemeralOwner), (b"payload\n", 0))
        self.assertEqual(read(mp("q", seq)), b"payload\n")
        # mkdir with a suffix: list the parent to learn the name.
        os.mkdir(mp("q", "dir-.sequential"))
        dirs = [n for n in os.listdir(mp("q")) if n.startswith("dir-")]
        self.assertEqual(len(dirs), 1, os.listdir(mp("q")))
        self.assertRegex(dirs[0], r"^dir-\d{10}$")
        self.assertEqual(zk.get(self.p("q", dirs[0]))[0], b"")
        self.assertTrue(os.path.isdir(mp("q", dirs[0])))
        # Both suffixes, in either order: ephemeral and sequential.
        made = [seq, dirs[0]]
        for suffix in (".ephemeral.sequential", ".sequential.ephemeral"):
            fd = os.open(mp("q", "es-" + suffix), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            try:
                name = fd_name(fd)
                os.write(fd, suffix.encode())
            finally:
                os.close(fd)
            self.assertRegex(name, r"^es-\d{10}$", suffix)
            data, st = zk.get(self.p("q", name))
            self.assertEqual(data, suffix.encode())
            self.assertEqual(st.ephemeralOwner, owner, suffix)
            made.append(name)
        # The counter is the parent's: one number per creation, in order.
        nums = [int(n[-10:]) for n in made]
        self.assertEqual(nums, sorted(set(nums)))
        self.assertEqual(sorted(os.listdir(mp("q"))), sorted(made))
        self.assertEqual(self.children("q"), sorted(made))
        for n in self.children() + self.children("q"):
            self.assertNotIn("ephemeral", n)
            self.assertNotIn("sequential", n)

    def test_concurrent_sequential_names(self):
        os.mkdir(self.mp("q"))
        n = 8
        barrier = threading.Barrier(n)
        names = [None] * n
        errors = []

        def worker(i):
            try:
                barrier.wait(15)
                fd = os.open(self.mp("q", "job-.sequential"), os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
                try:
                    name = fd_name(fd)
                    os.write(fd, ("worker %d\n" % i).encode())
                finally:
                    os.close(fd)
                names[i] = name
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append("worker %d: %r" % (i, e))
        threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(len(set(names)), n, names)
        for i, name in enumerate(names):
            self.assertRegex(name, r"^job-\d{10}$")
            # Each descriptor named the node it wrote: the data is that worker's.
            self.assertEqual(self.zk.get(self.p("q", name))[0], ("worker %d\n" % i).encode(), name)
        self.assertEqual(self.children("q"), sorted(names))
        self.assertEqual(sorted(os.listdir(self.mp("q"))), sorted(names))


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class StatXattrs(Base):
    def test_stat_and_xattrs(self):
        zk = self.zk
        mp = self.mp
        acl = [make_acl("world", "anyone", read=True, write=True), make_acl("ip", "127.0.0.1", all=True)]
        zk.create(self.p("s"), b"hello", acl=acl)
        zk.set(self.p("s"), b"hello!")
        zk.set_acls(self.p("s"), acl)  # aversion 1 (before the mount sees the node)
        _, zst = zk.get(self.p("s"))
        self.assertEqual((zst.version, zst.aversion), (1, 1))
        self.visible("s")
        st = os.stat(mp("s"))
        self.assertTrue(stat.S_ISREG(st.st_mode))
        self.assertEqual(st.st_size, zst.dataLength)
        self.assertEqual(st.st_size, 6)
        with self.subTest("st_nlink of a file"):
            self.assertEqual(st.st_nlink, 1)
        self.assertEqual(int(st.st_mtime), zst.mtime // 1000)
        self.assertEqual(int(st.st_ctime), zst.ctime // 1000)
        names = os.listxattr(mp("s"))
        for n in XATTRS:
            self.assertIn(n, names)
        x = zk_xattrs(mp("s"))
        self.assertEqual(stat_mismatches(x, zst), [])
        self.assertEqual(x["user.zk.name"], "s")
        self.assertIn(x["user.zk.path"], ("/s", self.root + "/s"))
        self.assertEqual(x["user.zk.acl"].splitlines(), ["world:anyone:rw", "ip:127.0.0.1:cdrwa"])
        # A write through the mount: a new version, and the attributes follow.
        write(mp("s"), b"changed")
        _, zst2 = zk.get(self.p("s"))
        self.assertEqual(zst2.version, 2)
        x2 = zk_xattrs(mp("s"))
        self.assertGreater(int(x2["user.zk.version"]), int(x["user.zk.version"]))
        self.assertEqual(stat_mismatches(x2, zst2), [])
        self.assertEqual(os.stat(mp("s")).st_size, 7)
        # A directory: child counts and versions.
        os.mkdir(mp("d"))
        os.mkdir(mp("d", "a"))
        write(mp("d", "b"), b"bee")
        self.assertEqual(zk.exists(self.p("d")).numChildren, 2)
        wait_until(lambda: stat_mismatches(zk_xattrs(mp("d")), zk.exists(self.p("d"))) == [], SHORT,
                   lambda: "d's attributes to match kazoo's: %s"
                   % stat_mismatches(zk_xattrs(mp("d")), zk.exists(self.p("d"))))
        st_d = os.stat(mp("d"))
        self.assertTrue(stat.S_ISDIR(st_d.st_mode))
        with self.subTest("st_nlink of a directory"):
            self.assertEqual(st_d.st_nlink, 1)
        self.assertEqual(xattr(mp("d"), "user.zk.acl").splitlines(), acl_text(zk.get_acls(self.p("d"))[0]))
        self.assertEqual(stat_mismatches(zk_xattrs(mp("d", "b")), zk.exists(self.p("d", "b"))), [])
        # An ephemeral: its owner is the mount's session.
        os.mkdir(mp("e.ephemeral"))
        owner = zk.exists(self.p("e")).ephemeralOwner
        self.assertNotEqual(owner, 0)
        self.assertEqual(int(xattr(mp("e"), "user.zk.ephemeralOwner"), 16), owner)
        self.assertEqual(stat_mismatches(zk_xattrs(mp("e")), zk.exists(self.p("e"))), [])
        # st_ino: unique, and stable across lookups and changes.
        paths = [mp(), mp("s"), mp("d"), mp("d", "a"), mp("d", "b"), mp("e")]
        inos = [os.stat(p).st_ino for p in paths]
        self.assertEqual(len(set(inos)), len(inos), inos)
        os.listdir(mp())
        os.listdir(mp("d"))
        self.assertEqual([os.lstat(p).st_ino for p in paths], inos)
        zk.set(self.p("d", "b"), b"changed elsewhere")
        wait_until(lambda: try_read(mp("d", "b")) == b"changed elsewhere", SHORT, "the change to d/b")
        self.assertEqual([os.stat(p).st_ino for p in paths], inos)
        # Modes from the ACL for this session.
        self.assertEqual(os.stat(mp("s")).st_mode & 0o600, 0o600)
        self.assertEqual(st_d.st_mode & 0o700, 0o700)
        zk.create(self.p("rofile"), b"r", acl=WORLD_R)
        zk.create(self.p("rodir"), acl=WORLD_R)
        self.visible("rofile", "rodir")
        self.assertEqual(os.stat(mp("rofile")).st_mode & 0o600, 0o400)
        st_ro = os.stat(mp("rodir"))
        self.assertTrue(stat.S_ISDIR(st_ro.st_mode))
        self.assertEqual(st_ro.st_mode & 0o700, 0o500)
        self.assertEqual(xattr(mp("rofile"), "user.zk.acl").splitlines(), ["world:anyone:r"])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Writes(Base):
    def test_append_read_modify_write_and_conflicts(self):
        zk = self.zk
        a = self.mp("a")
        zk.create(self.p("a"), b"one\n")
        self.visible("a")
        self.sh("echo two >> %s" % shlex.quote(a))
        self.assertEqual(zk.get(self.p("a"))[0], b"one\ntwo\n")
        write(a, b"three\n", "ab")
        self.assertEqual(zk.get(self.p("a"))[0], b"one\ntwo\nthree\n")
        # O_RDWR without O_TRUNC starts from the current data.
        fd = os.open(a, os.O_RDWR)
        try:
            self.assertEqual(os.read(fd, 4), b"one\n")
            os.pwrite(fd, b"ONE", 0)
        finally:
            os.close(fd)
        self.assertEqual(zk.get(self.p("a"))[0], b"ONE\ntwo\nthree\n")
        self.assertEqual(read(a), b"ONE\ntwo\nthree\n")
        # A change elsewhere between open and close: close fails with EAGAIN, nothing written.
        fd = os.open(a, os.O_WRONLY | os.O_APPEND)
        os.write(fd, b"four\n")
        zk.set(self.p("a"), b"other\n")
        with self.assertRaises(OSError) as cm:
            os.close(fd)
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        self.assertEqual(zk.get(self.p("a"))[0], b"other\n")
        wait_until(lambda: try_read(a) == b"other\n", SHORT, "the mount to show kazoo's data")
        fd = os.open(a, os.O_RDWR)
        os.pwrite(fd, b"X", 0)
        zk.set(self.p("a"), b"third party\n")
        with self.assertRaises(OSError) as cm:
            os.close(fd)
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        self.assertEqual(zk.get(self.p("a"))[0], b"third party\n")
        # Appending after a change elsewhere starts from that change.
        wait_until(lambda: try_read(a) == b"third party\n", SHORT, "the mount to show kazoo's data")
        self.sh("echo appended >> %s" % shlex.quote(a))
        self.assertEqual(zk.get(self.p("a"))[0], b"third party\nappended\n")
        # O_TRUNC replaces the whole content.
        write(a, b"replaced\n")
        data, zst = zk.get(self.p("a"))
        self.assertEqual(data, b"replaced\n")
        # truncate sets the length at once (one setData).
        os.truncate(a, 4)
        data, zst2 = zk.get(self.p("a"))
        self.assertEqual(data, b"repl")
        self.assertEqual(zst2.version, zst.version + 1)
        self.assertEqual(os.stat(a).st_size, 4)
        self.assertEqual(read(a), b"repl")
        # A file made through the mount, truncated to nothing, stays a file.
        write(self.mp("mine"), b"mine")
        os.truncate(self.mp("mine"), 0)
        self.assertEqual(zk.get(self.p("mine"))[0], b"")
        self.assertTrue(stat.S_ISREG(os.stat(self.mp("mine")).st_mode))


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Caching(Base):
    def test_changes_elsewhere_invalidate(self):
        zk = self.zk
        mp = self.mp
        zk.create(self.p("c"), b"v1")
        self.visible("c")
        self.assertEqual(read(mp("c")), b"v1")
        self.assertEqual(read(mp("c")), b"v1")
        # Data.
        t0 = time.monotonic()
        zk.set(self.p("c"), b"v2 is longer")
        wait_until(lambda: try_read(mp("c")) == b"v2 is longer", SHORT, lambda: "new data (cat shows %r)"
                   % try_read(mp("c")))
        sys.stderr.write("[data change visible after %.0f ms] " % ((time.monotonic() - t0) * 1000))
        self.assertEqual(os.stat(mp("c")).st_size, 12)
        zk.set(self.p("c"), b"v3")
        wait_until(lambda: try_read(mp("c")) == b"v3", SHORT, lambda: "shorter data (cat shows %r)"
                   % try_read(mp("c")))
        self.assertEqual(os.stat(mp("c")).st_size, 2)
        # Children: creates and deletes, also of a name looked up before as missing.
        self.assertEqual(os.listdir(mp()), ["c"])
        self.assertFalse(os.path.exists(mp("n")))
        zk.create(self.p("n"), b"new")
        wait_until(quiet(lambda: "n" in os.listdir(mp())), SHORT, "listdir to show a new node")
        wait_until(lambda: try_read(mp("n")) == b"new", SHORT, "the new node's data")
        zk.delete(self.p("n"))
        wait_until(quiet(lambda: "n" not in os.listdir(mp())), SHORT, "listdir to drop a deleted node")
        self.assertFalse(os.path.exists(mp("n")))
        self.assertErrno(errno.ENOENT, read, mp("n"))
        zk.create(self.p("sub"))
        self.visible("sub")
        self.assertEqual(os.listdir(mp("sub")), [])
        zk.create(self.p("sub", "x"))
        wait_until(quiet(lambda: os.listdir(mp("sub")) == ["x"]), SHORT, "a new grandchild")
        zk.delete(self.p("c"))
        wait_until(lambda: not os.path.exists(mp("c")), SHORT, "a deleted file to go")
        # Shape: a file that gets a child becomes a directory, and a file again without it.
        zk.create(self.p("shape"), b"data")
        self.visible("shape")
        self.assertTrue(os.path.isfile(mp("shape")))
        self.assertEqual(read(mp("shape")), b"data")
        zk.create(self.p("shape", "kid"))
        wait_until(lambda: os.path.isdir(mp("shape")), SHORT, "a file with a child to become a directory")
        self.assertEqual(os.listdir(mp("shape")), ["kid"])
        self.assertEqual(read(mp("shape", ".data")), b"data")
        zk.delete(self.p("shape", "kid"))
        wait_until(lambda: os.path.isfile(mp("shape")), SHORT, "a directory with data and no child to be a file")
        self.assertEqual(read(mp("shape")), b"data")
        # A directory that gets data becomes a file.
        zk.create(self.p("dir"))
        self.visible("dir")
        self.assertTrue(os.path.isdir(mp("dir")))
        self.assertEqual(os.listdir(mp("dir")), [])
        zk.set(self.p("dir"), b"now a file")
        wait_until(lambda: os.path.isfile(mp("dir")), SHORT, "a directory that got data to become a file")
        self.assertEqual(read(mp("dir")), b"now a file")
        self.assertEqual(sorted(os.listdir(mp())), ["dir", "shape", "sub"])


# ---------------------------------------------------------------------------------------------
def cons_recved(server, sid):
    """How many requests the server has received on the connection of session sid (from
    the cons four-letter word), or None."""
    for line in server.fourlw("cons").splitlines():
        m = re.search(r"\((.*)\)", line)
        if not m:
            continue
        kv = dict(f.split("=", 1) for f in m.group(1).split(",") if "=" in f)
        if "sid" in kv and int(kv["sid"], 16) == sid:
            return int(kv["recved"])
    return None


@zktest.per_kind
class Traffic(Base):
    def test_unchanged_reads_stay_local(self):
        zk = self.zk
        zk.create(self.p("d", "f"), b"data", makepath=True)
        zk.create(self.p("g"), b"g" * 5000)
        self.visible("d/f", "g")
        os.mkdir(self.mp("e.ephemeral"))
        sid = zk.exists(self.p("e")).ephemeralOwner

        def browse():
            self.assertEqual(sorted(os.listdir(self.mp())), ["d", "e", "g"])
            self.assertEqual(os.listdir(self.mp("d")), ["f"])
            self.assertEqual(read(self.mp("d", "f")), b"data")
            self.assertEqual(read(self.mp("g")), b"g" * 5000)
            os.stat(self.mp("d", "f"))
            os.stat(self.mp("g"))
        browse()
        before = cons_recved(self.server, sid)
        self.assertIsNotNone(before, "no connection of session 0x%x in cons" % sid)
        for _ in range(30):
            browse()
        self.sh("ls -lR %s >/dev/null && cat %s %s >/dev/null" % (shlex.quote(self.mp()), shlex.quote(self.mp("d", "f")),
                                                                  shlex.quote(self.mp("g"))))
        after = cons_recved(self.server, sid)
        # A ping or two may fall in the window; 30 rounds of ls and cat must not show.
        self.assertLessEqual(after - before, 2, "ls and cat of unchanged nodes sent %d requests" % (after - before))


@zktest.per_kind
class InotifyEvents(Base):
    def test_inotify_reports_changes_elsewhere(self):
        zk = self.zk
        zk.create(self.p("w", "f"), b"1", makepath=True)
        zk.create(self.p("w", "g"), b"g")
        w = self.mp("w")
        self.visible("w/f", "w/g")
        self.assertEqual(sorted(os.listdir(w)), ["f", "g"])
        self.assertEqual(read(self.mp("w", "f")), b"1")
        ino = zkmount.Inotify(self, w, self.mp("w", "g"), timeout=SHORT)
        lat = []

        def step(what, op, event, path):
            since = len(ino.lines)
            t0 = time.monotonic()
            op()
            t = ino.wait(event, path, since)
            lat.append("%s %.0f ms" % (what, (t - t0) * 1000))
        step("MODIFY", lambda: zk.set(self.p("w", "f"), b"22"), "MODIFY", self.mp("w", "f"))
        step("CREATE", lambda: zk.create(self.p("w", "n"), b"n"), "CREATE", self.mp("w", "n"))
        step("CREATE dir", lambda: zk.create(self.p("w", "sub")), "CREATE", self.mp("w", "sub"))
        step("DELETE", lambda: zk.delete(self.p("w", "n")), "DELETE", self.mp("w", "n"))
        step("DELETE_SELF", lambda: zk.delete(self.p("w", "g")), "DELETE_SELF", self.mp("w", "g"))
        ino.wait("DELETE", self.mp("w", "g"), 0)
        sys.stderr.write("[inotify latency: %s] " % ", ".join(lat))
        # The events matched what the mount now shows.
        self.assertEqual(read(self.mp("w", "f")), b"22")
        self.assertEqual(sorted(os.listdir(w)), ["f", "sub"])
        ino.stop()


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Locks(Base):
    def test_flock_against_kazoo_lock(self):
        zk = self.zk
        os.mkdir(self.mp("locks"))
        lx = self.mp("locks", "x.lock")
        # Free: flock -n succeeds; NAME is created if missing; no waiter node stays.
        self.assertEqual(self.flock("-n", lx, "true"), 0)
        self.assertIsNotNone(zk.exists(self.p("locks", "x")))
        self.assertIsNone(zk.exists(self.p("locks", "x.lock")))
        self.wait_children([], "locks", "x")
        self.assertNotIn("x.lock", os.listdir(self.mp("locks")))
        # Held by kazoo's Lock: -n fails at once, -w 1 gives up after a second.
        lock = zk.Lock(self.p("locks", "x"), "kazoo")
        self.assertTrue(lock.acquire(timeout=5))
        t0 = time.monotonic()
        self.assertEqual(self.flock("-n", lx, "true"), 1)
        self.assertLess(time.monotonic() - t0, 5.0)
        self.wait_children([lock.node], "locks", "x")
        t0 = time.monotonic()
        self.assertEqual(self.flock("-w", "1", lx, "true"), 1)
        took = time.monotonic() - t0
        self.assertGreaterEqual(took, 0.9)
        self.assertLess(took, 6.0)
        self.wait_children([lock.node], "locks", "x")
        # A waiter queues behind kazoo (a __lock__ node after kazoo's) and gets it on release.
        w, marker = self.holder(lx)
        wait_until(lambda: len(self.children("locks", "x")) == 2 or w.poll() is not None, 5.0, "the waiter's node")
        waiter = [c for c in self.children("locks", "x") if c != lock.node]
        self.assertEqual(len(waiter), 1)
        self.assertRegex(waiter[0], LOCK_RX)
        self.assertGreater(int(waiter[0][-10:]), int(lock.node[-10:]))
        self.assertNotEqual(zk.exists(self.p("locks", "x", waiter[0])).ephemeralOwner, 0)
        self.assertFalse(os.path.exists(marker))
        lock.release()
        self.wait_held(w, marker)
        self.assertEqual(self.children("locks", "x"), waiter)
        kill_group(w)
        w.wait(5)
        self.wait_children([], "locks", "x")
        self.assertEqual(self.flock("-n", lx, "true"), 0)
        # Held through the mount: kazoo's Lock, WriteLock and ReadLock cannot get it.
        ly = self.mp("locks", "y.lock")
        h, marker = self.holder(ly)
        self.wait_held(h, marker)
        held = self.children("locks", "y")
        self.assertEqual(len(held), 1, held)
        self.assertRegex(held[0], LOCK_RX)
        for recipe in (zk.Lock, zk.WriteLock, zk.ReadLock):
            kl = recipe(self.p("locks", "y"))
            try:
                got = kl.acquire(timeout=1)
            except LockTimeout:
                got = False
            self.assertFalse(got, recipe)
        self.wait_children(held, "locks", "y")
        # kill -9 of the holder releases the lock.
        kill_group(h)
        h.wait(5)
        self.wait_children([], "locks", "y")
        kl = zk.Lock(self.p("locks", "y"))
        self.assertTrue(kl.acquire(timeout=5))
        kl.release()

    def test_shared_locks_and_interrupted_waiters(self):
        zk = self.zk
        os.mkdir(self.mp("locks"))
        lz = self.mp("locks", "z.lock")
        # Two shared holders at once, __rlock__ nodes; an exclusive flock cannot get in.
        s1, m1 = self.holder(lz, "-s")
        self.wait_held(s1, m1)
        s2, m2 = self.holder(lz, "-s")
        self.wait_held(s2, m2)
        self.assertEqual(self.flock("-s", "-n", lz, "true"), 0)
        # (its node goes when the mount handles the release, just after flock exits)
        wait_until(lambda: len(self.children("locks", "z")) == 2, 5.0,
                   lambda: "the two holders' nodes only (%r)" % self.children("locks", "z"))
        kids = self.children("locks", "z")
        for k in kids:
            self.assertRegex(k, RLOCK_RX)
        self.assertEqual(self.flock("-n", lz, "true"), 1)
        # kazoo: ReadLock is compatible, WriteLock is not.
        rl = zk.ReadLock(self.p("locks", "z"))
        self.assertTrue(rl.acquire(timeout=5))
        rl.release()
        wl = zk.WriteLock(self.p("locks", "z"))
        try:
            got = wl.acquire(timeout=1)
        except LockTimeout:
            got = False
        self.assertFalse(got)
        self.wait_children(kids, "locks", "z")
        kill_group(s1)
        kill_group(s2)
        s1.wait(5)
        s2.wait(5)
        self.wait_children([], "locks", "z")
        # Waiters killed while waiting (Ctrl-C, SIGTERM) leave no node behind.
        kl = zk.Lock(self.p("locks", "w"))
        self.assertTrue(kl.acquire(timeout=5))
        lw = self.mp("locks", "w.lock")
        for flags, sig, rx in (([], signal.SIGINT, LOCK_RX), ([], signal.SIGTERM, LOCK_RX),
                               (["-s"], signal.SIGINT, RLOCK_RX)):
            with self.subTest(flags=flags, sig=sig):
                w = self.bg(["flock"] + flags + [lw, "true"])
                wait_until(lambda: len(self.children("locks", "w")) == 2 or w.poll() is not None, 5.0,
                           "the waiter's node")
                waiter = [c for c in self.children("locks", "w") if c != kl.node]
                self.assertEqual(len(waiter), 1)
                self.assertRegex(waiter[0], rx)
                self.assertIsNone(w.poll())
                os.kill(w.pid, sig)
                try:
                    rc = w.wait(5)
                except subprocess.TimeoutExpired:
                    rc = None
                self.assertIsNotNone(rc, "flock did not die of %s while waiting" % sig)
                self.assertNotEqual(rc, 0)
                self.wait_children([kl.node], "locks", "w", timeout=3.0)
        kl.release()
        self.assertEqual(self.flock("-n", lw, "true"), 0)

    def test_fcntl_locks(self):
        zk = self.zk
        os.mkdir(self.mp("locks"))
        fd = os.open(self.mp("locks", "p.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # Exclusive POSIX lock on the whole file: a __lock__ node; kazoo cannot get in.
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            kids = self.children("locks", "p") if zk.exists(self.p("locks", "p")) else []
            self.assertEqual(len(kids), 1, "an exclusive fcntl lock on locks/p.lock made no lock node under "
                             "locks/p (children: %r)" % kids)
            self.assertRegex(kids[0], LOCK_RX)
            kl = zk.Lock(self.p("locks", "p"))
            try:
                got = kl.acquire(timeout=1)
            except LockTimeout:
                got = False
            self.assertFalse(got)
            fcntl.lockf(fd, fcntl.LOCK_UN)
            self.wait_children([], "locks", "p")
            # Held by kazoo: a non-blocking lock fails, and leaves no node.
            self.assertTrue(kl.acquire(timeout=5))
            with self.assertRaises(OSError) as cm:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.assertIn(cm.exception.errno, (errno.EAGAIN, errno.EACCES))
            self.wait_children([kl.node], "locks", "p")
            # A blocking lock waits for kazoo's release.
            got = []
            t = threading.Thread(target=lambda: (fcntl.lockf(fd, fcntl.LOCK_EX), got.append(time.monotonic())),
                                 daemon=True)
            t.start()
            wait_until(lambda: len(self.children("locks", "p")) == 2, 5.0, "the fcntl waiter's node")
            self.assertEqual(got, [])
            released = time.monotonic()
            kl.release()
            t.join(10)
            self.assertEqual(len(got), 1, "the blocking fcntl lock was not granted after kazoo released")
            self.assertGreaterEqual(got[0], released)
            fcntl.lockf(fd, fcntl.LOCK_UN)
            self.wait_children([], "locks", "p")
            # Shared: a __rlock__ node, compatible with kazoo's ReadLock.
            fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            kids = self.children("locks", "p")
            self.assertEqual(len(kids), 1, kids)
            self.assertRegex(kids[0], RLOCK_RX)
            rl = zk.ReadLock(self.p("locks", "p"))
            self.assertTrue(rl.acquire(timeout=5))
            rl.release()
        finally:
            os.close(fd)  # closing releases the process's POSIX locks
        self.wait_children([], "locks", "p")


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class TwoMounts(Base):
    def test_two_mounts_of_one_server(self):
        zk = self.zk
        a = self.m
        b = self.mount()
        # A change through A shows through B.
        write(a.path("f"), b"one")
        wait_until(lambda: try_read(b.path("f")) == b"one", SHORT,
                   lambda: "B to see the file A wrote (B: isdir %s, read %r)"
                   % (os.path.isdir(b.path("f")), try_read(b.path("f"))))
        write(a.path("f"), b"two")
        wait_until(lambda: try_read(b.path("f")) == b"two", SHORT, "B to see A's write")
        os.mkdir(a.path("d"))
        wait_until(quiet(lambda: "d" in os.listdir(b.path())), SHORT, "B to see A's mkdir")
        self.assertTrue(os.path.isdir(b.path("d")))
        # st_ino is derived from the node: the same in both mounts.
        self.assertEqual(os.stat(a.path("d")).st_ino, os.stat(b.path("d")).st_ino)
        self.assertEqual(os.stat(a.path("f")).st_ino, os.stat(b.path("f")).st_ino)
        # An empty file made through A is a node without data: a directory for B.
        os.close(os.open(a.path("empty"), os.O_CREAT | os.O_WRONLY, 0o644))
        self.assertTrue(stat.S_ISREG(os.stat(a.path("empty")).st_mode))
        wait_until(quiet(lambda: os.path.isdir(b.path("empty"))), SHORT, "B to see A's empty file as a directory")
        os.unlink(a.path("f"))
        wait_until(lambda: not os.path.exists(b.path("f")), SHORT, "B to see A's unlink")
        # Each mount is its own session.
        os.mkdir(a.path("ea.ephemeral"))
        os.mkdir(b.path("eb.ephemeral"))
        oa, ob = zk.exists(self.p("ea")).ephemeralOwner, zk.exists(self.p("eb")).ephemeralOwner
        self.assertNotEqual(oa, 0)
        self.assertNotEqual(ob, 0)
        self.assertNotEqual(oa, ob)
        # flock excludes across the mounts.
        os.mkdir(a.path("locks"))
        h, marker = self.holder(a.path("locks", "m.lock"))
        self.wait_held(h, marker)
        self.assertEqual(self.flock("-n", b.path("locks", "m.lock"), "true"), 1)
        w, marker2 = self.holder(b.path("locks", "m.lock"))
        wait_until(lambda: len(self.children("locks", "m")) == 2 or w.poll() is not None, 5.0, "B's waiter node")
        self.assertFalse(os.path.exists(marker2))
        kill_group(h)
        h.wait(5)
        self.wait_held(w, marker2)
        self.assertEqual(self.flock("-n", a.path("locks", "m.lock"), "true"), 1)
        kill_group(w)
        w.wait(5)
        self.wait_children([], "locks", "m")
        self.assertEqual(self.flock("-n", a.path("locks", "m.lock"), "true"), 0)


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Lifecycle(Base):
    def test_unmount_ends_the_session(self):
        zk = self.zk
        m = self.mount()
        fd = os.open(m.path("e.ephemeral"), os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, b"e")
        os.close(fd)
        os.mkdir(m.path("d.ephemeral"))
        os.mkdir(m.path("keep"))
        owner = zk.exists(self.p("e")).ephemeralOwner
        self.assertNotEqual(owner, 0)
        self.assertEqual(zk.exists(self.p("d")).ephemeralOwner, owner)
        rc, _, err = self.run_cmd(["fusermount3", "-u", m.mountpoint])
        self.assertEqual(rc, 0, err)
        t0 = time.monotonic()
        # The session timeout is 10 s: only a closed session loses its ephemerals this fast.
        wait_until(lambda: zk.exists(self.p("e")) is None and zk.exists(self.p("d")) is None, 3.0,
                   "the mount's ephemeral nodes to go")
        sys.stderr.write("[ephemerals gone %.0f ms after unmount] " % ((time.monotonic() - t0) * 1000))
        self.assertIsNotNone(zk.exists(self.p("keep")))
        self.assertEqual(m.wait_exit(10.0), 0)
        self.assertFalse(m.mounted())
        self.assertFalse(os.path.ismount(m.mountpoint))

    def test_daemonized_mount(self):
        zk = self.zk
        zk.create(self.p("pre"), b"before the mount")
        m = self.mount(foreground=False)
        self.assertEqual(m.returncode, 0)
        # Up and connected when the program returns: no polling.
        self.assertTrue(m.mounted())
        self.assertTrue(os.path.ismount(m.mountpoint))
        self.assertEqual(read(m.path("pre")), b"before the mount")
        self.assertIsNotNone(m.daemon_pid, "no zkfs-mount process serves %s" % m.mountpoint)
        os.mkdir(m.path("e.ephemeral"))
        self.assertNotEqual(zk.exists(self.p("e")).ephemeralOwner, 0)
        rc, _, err = self.run_cmd(["fusermount3", "-u", m.mountpoint])
        self.assertEqual(rc, 0, err)
        wait_until(lambda: not zkmount.pid_alive(m.daemon_pid), 10.0, "the daemon to exit after unmount")
        wait_until(lambda: zk.exists(self.p("e")) is None, 3.0, "the daemon's ephemeral to go")
        self.assertFalse(m.mounted())

    def test_start_failures(self):
        exe = zkmount.mount_path()
        if not os.access(exe, os.X_OK):
            self.fail("%s is not built" % exe)
        # A mountpoint that does not exist.
        missing = os.path.join(self.tmp, "no", "such", "dir")
        rc, out, err = self.run_cmd([exe, "-o", MOUNT_OPTIONS, self.hostport + self.root, missing])
        self.assertEqual(rc, 1, (out, err))
        self.assertNotEqual((out + err).strip(), "", "no message")
        # No server: it fails (status 1, a message) instead of mounting.
        m = self.mount(hostport="127.0.0.1:%d" % zkserver.free_port(), chroot="",
                       options="session_timeout=2000", foreground=False, start=False)
        with self.assertRaises(zkmount.MountError):
            m.start(timeout=30.0)
        self.assertEqual(m.returncode, 1, m.start_output)
        self.assertNotEqual(m.start_output.strip(), "", "no message")
        self.assertFalse(m.mounted())

    def test_documented_options(self):
        zk = self.zk
        zk.create(self.p("f"), b"data")
        fsname = "zkfs-test-%s" % uuid.uuid4().hex[:6]
        for opts in ("session_timeout=10000,ro", "fsname=%s,default_permissions" % fsname):
            with self.subTest(options=opts):
                try:
                    m = self.mount(options=opts)
                except zkmount.MountError as e:
                    self.fail("-o %s: %s" % (opts, e))
                self.assertEqual(read(m.path("f")), b"data")
                if "fsname" in opts:
                    self.assertEqual(m.entry()["source"], fsname)
                m.unmount()

    def test_read_only_mount(self):
        zk = self.zk
        zk.create(self.p("f"), b"data")
        zk.create(self.p("d"))
        m = self.mount(options=MOUNT_OPTIONS + ",ro")
        self.assertEqual(read(m.path("f")), b"data")
        self.assertEqual(sorted(os.listdir(m.path())), ["d", "f"])
        self.assertErrno(errno.EROFS, os.mkdir, m.path("new"))
        self.assertEqual(io_errno(m.path("f"), b"x", os.O_WRONLY | os.O_TRUNC), errno.EROFS)
        self.assertEqual(io_errno(m.path("f"), b"x", os.O_WRONLY | os.O_APPEND), errno.EROFS)
        self.assertEqual(io_errno(m.path("g"), b"x", os.O_CREAT | os.O_WRONLY), errno.EROFS)
        self.assertErrno(errno.EROFS, os.unlink, m.path("f"))
        self.assertErrno(errno.EROFS, os.rmdir, m.path("d"))
        self.assertErrno(errno.EROFS, os.rename, m.path("f"), m.path("f2"))
        self.assertErrno(errno.EROFS, os.truncate, m.path("f"), 1)
        self.assertEqual(zk.get(self.p("f"))[0], b"data")
        self.assertEqual(self.children(), ["d", "f"])


# ---------------------------------------------------------------------------------------------
@zktest.per_kind
class Failures(Base):
    def test_connection_loss_eio_then_recovery(self):
        srv = zkserver.ZkServer(self.KIND, tick_time=TICK, name="eio-" + self.KIND)
        self.addCleanup(srv.cleanup)
        srv.start()
        zk2 = self.client(hosts=srv.hostport)
        # A request waiting for a connection fails with EIO after at most a session timeout.
        # A long session: it must outlive the restart (Apache takes a while to serve again).
        m = self.mount(hostport=srv.hostport, chroot="", options="session_timeout=10000")
        self.addCleanup(m.cleanup)  # before the server goes
        os.mkdir(m.path("a"))
        os.mkdir(m.path("e.ephemeral"))
        owner = zk2.exists("/e").ephemeralOwner
        self.assertNotEqual(owner, 0)
        srv.kill9()
        t0 = time.monotonic()
        self.assertErrno(errno.EIO, os.mkdir, m.path("b"))
        took = time.monotonic() - t0
        sys.stderr.write("[EIO after %.1f s] " % took)
        self.assertLess(took, 10.0 + 6.0)
        srv.start()
        tries = []

        def works():
            name = "c-%d" % len(tries)
            tries.append(name)
            try:
                os.mkdir(m.path(name))
                return name
            except OSError as e:
                if e.errno != errno.EIO:
                    raise
                return None
        made = wait_until(works, 20.0, "the mount to work again after the server came back")
        wait_until(lambda: zk2.connected, 20.0, "kazoo to reconnect")
        self.assertIsNotNone(zk2.exists("/" + made))
        # The session survived the outage, and the failed mkdir did not happen later.
        self.assertEqual(zk2.exists("/e").ephemeralOwner, owner)
        self.assertIsNone(zk2.exists("/b"))
        self.assertTrue(os.path.isdir(m.path("a")))

    def test_session_expiry(self):
        zk = self.zk
        zk.create(self.p("cached"), b"before")
        m = self.mount(options="session_timeout=2000")
        self.assertEqual(read(m.path("cached")), b"before")
        fd = os.open(m.path("eph.ephemeral"), os.O_CREAT | os.O_WRONLY, 0o644)
        open_fd = True
        try:
            os.write(fd, b"pending")  # buffered until close
            owner = zk.exists(self.p("eph")).ephemeralOwner
            self.assertNotEqual(owner, 0)
            # Frozen, the mount sends no pings: the server expires its session.
            m.freeze()
            t0 = time.monotonic()
            wait_until(lambda: zk.exists(self.p("eph")) is None, 20.0, "the server to expire the mount's session")
            sys.stderr.write("[expired after %.1f s] " % (time.monotonic() - t0))
            zk.set(self.p("cached"), b"changed while expired")
            zk.create(self.p("during"), b"d")
            m.thaw()

            # A new session is made; until then operations fail with EIO.
            def recovered():
                try:
                    return "during" in os.listdir(m.path())
                except OSError as e:
                    if e.errno != errno.EIO:
                        raise
                    return False
            wait_until(recovered, 20.0, "the mount to list what changed during the expiry")
            wait_until(lambda: try_read(m.path("cached")) == b"changed while expired", SHORT,
                       lambda: "data changed during the expiry (cat shows %r)" % try_read(m.path("cached")))
            self.assertEqual(read(m.path("during")), b"d")
            wait_until(lambda: not os.path.exists(m.path("eph")), SHORT, "the vanished ephemeral to go")
            # The open file of the ephemeral that vanished: ESTALE.
            err = 0
            try:
                os.write(fd, b" more")
            except OSError as e:
                err = e.errno
            open_fd = False
            try:
                os.close(fd)
            except OSError as e:
                err = err or e.errno
            self.assertEqual(err, errno.ESTALE, errno.errorcode.get(err, err))
            self.assertIsNone(zk.exists(self.p("eph")))
            # The new session owns the new ephemerals.
            os.mkdir(m.path("eph2.ephemeral"))
            owner2 = zk.exists(self.p("eph2")).ephemeralOwner
            self.assertNotEqual(owner2, 0)
            self.assertNotEqual(owner2, owner)
        finally:
            if m.frozen:
                m.thaw()
            if open_fd:
                try:
                    os.close(fd)
                except OSError:
                    pass


if __name__ == "__main__":
    zkmount.main("mount")
