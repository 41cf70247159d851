#!/usr/bin/python3
"""Differential test: one script of operations run through kazoo (and, for what kazoo will
not send, the raw wire client) against Apache ZooKeeper 3.8 and against zkfsd; every result
and error code must be the same.

What legitimately differs is normalised away: zxids are replaced by their rank among the
zxids the section observed (ZooKeeper spends zxids on failed writes, zkfsd need not: only
the order is comparable), times are dropped (and checked for sanity separately), session
ids become the name of the client that owns them ("A", "B"...), children lists are sorted
(ZooKeeper returns them in hash order). On a difference the test prints each differing
operation with both results.

Always runs against both kinds (ZKFS_SERVER is ignored): the reference is the point.
"""
import hashlib
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import jute  # noqa: E402
import zkserver  # noqa: E402
import zktest  # noqa: E402
from zktest import wait_until  # noqa: E402

from kazoo.client import KazooClient  # noqa: E402
from kazoo.exceptions import KazooException, ZookeeperError  # noqa: E402
from kazoo.protocol.states import KazooState  # noqa: E402
from kazoo.protocol.states import ZnodeStat  # noqa: E402
from kazoo.security import ACL, Id, make_acl, make_digest_acl  # noqa: E402

MAXBUF = 1048575
OPEN = [make_acl("world", "anyone", all=True)]
READ_ONLY = [make_acl("world", "anyone", read=True)]
DIGEST_ALL = [make_digest_acl("user", "pw", all=True)]
DIGEST_RW = [make_digest_acl("user", "pw", read=True, write=True)]
MIXED = [make_acl("world", "anyone", read=True), make_digest_acl("user", "pw", all=True)]
NO_DELETE = [make_acl("world", "anyone", read=True, write=True, create=True, admin=True)]

# Each op: (client, operation, args...). Clients: "a" and "b" are KazooClients (b's session
# can be closed and reopened), "raw" the wire client, "anon" a KazooClient that never
# authenticates. "R" at the start of a path is the section's root.
SECTIONS = {
    "crud": [
        ("a", "create", "R/n", b"data"),
        ("a", "get", "R/n"),
        ("a", "exists", "R/n"),
        ("a", "create", "R/n", b"again"),
        ("a", "create", "R/missing/child", b""),
        ("a", "get", "R/missing"),
        ("a", "exists", "R/missing"),
        ("a", "children", "R/missing"),
        ("a", "set", "R/n", b"v1", -1),
        ("a", "set", "R/n", b"v2", 1),
        ("a", "set", "R/n", b"v3", 1),
        ("a", "set", "R/n", b"v3", 7),
        ("a", "set", "R/missing", b"x", -1),
        ("a", "get", "R/n"),
        ("a", "create", "R/n/c1", b"1"),
        ("a", "create", "R/n/c2", b"22"),
        ("a", "children", "R/n"),
        ("a", "children_data", "R/n"),
        ("a", "exists", "R/n"),
        ("a", "delete", "R/n", -1),
        ("a", "delete", "R/n/c1", 5),
        ("a", "delete", "R/n/c1", 0),
        ("a", "delete", "R/n/c1", -1),
        ("a", "exists", "R/n"),
        ("a", "set", "R/n/c2", b"", -1),
        ("a", "get", "R/n/c2"),
        ("a", "exists", "R/n"),
        ("a", "create", "R/empty", None),
        ("a", "get", "R/empty"),
        ("a", "create", "R/bin", bytes(range(256))),
        ("a", "get", "R/bin"),
        ("a", "sync", "R"),
        ("a", "sync", "R/nothing-here"),
        ("a", "delete", "R/n/c2", -1),
        ("a", "delete", "R/n", 1),
        ("a", "delete", "R/n", 0),
        ("a", "children", "R"),
        ("a", "exists", "R"),
    ],
    "modes": [
        ("a", "create", "R/p", b"", {}),
        ("a", "create", "R/p/s-", b"", {"sequence": True}),
        ("a", "create", "R/p/s-", b"", {"sequence": True}),
        ("a", "create", "R/p/plain", b"", {}),
        ("a", "create", "R/p/s-", b"", {"sequence": True}),
        ("a", "delete", "R/p/s-0000000000", -1),
        ("a", "delete", "R/p/plain", -1),
        ("a", "exists", "R/p"),
        ("a", "create", "R/p/s-", b"", {"sequence": True}),
        ("a", "create", "R/p/e", b"eph", {"ephemeral": True}),
        ("a", "create", "R/p/es-", b"", {"ephemeral": True, "sequence": True}),
        ("a", "exists", "R/p/e"),
        ("a", "create", "R/p/e/c", b"", {}),
        ("a", "create", "R/p/e/c", b"", {"sequence": True}),
        ("b", "create", "R/p/eb", b"", {"ephemeral": True}),
        ("b", "create", "R/p/ebs-", b"", {"ephemeral": True, "sequence": True}),
        ("a", "exists", "R/p/eb"),
        ("a", "children", "R/p"),
        ("b", "close"),
        ("a", "sync", "R/p"),
        ("a", "exists", "R/p/eb"),
        ("a", "children", "R/p"),
        ("a", "exists", "R/p"),
        ("b", "reopen"),
        ("b", "create", "R/p/eb", b"", {"ephemeral": True}),
        ("a", "exists", "R/p/eb"),
        ("a", "delete", "R/p/eb", -1),
        ("a", "exists", "R/p"),
        ("raw", "create", "R/", 2),
        ("raw", "create", "R/", 2),
        ("raw", "create", "R/cont", 4),
        ("raw", "create", "R/ttl", 5),
        ("raw", "create", "R/bad", 7),
        ("a", "children", "R"),
    ],
    "paths": [
        ("a", "create", "R/x\x01", b""),
        ("a", "create", "R/x\x00y", b""),
        ("a", "create", "R/x\x7f", b""),
        ("a", "create", "R/x\u0085", b""),
        ("a", "create", "R/x\ue000", b""),
        ("a", "create", "R/x\ufff5", b""),
        ("a", "create", "R/\u00e9t\u00e9", b"unicode"),
        ("a", "get", "R/\u00e9t\u00e9"),
        ("a", "create", "R/.dot", b""),
        ("a", "create", "R/..dots", b""),
        ("raw", "create", "", 0),
        ("raw", "create", "relative", 0),
        ("raw", "create", "//", 0),
        ("raw", "create", "R//x", 0),
        ("raw", "create", "R/./x", 0),
        ("raw", "create", "R/../x", 0),
        ("raw", "create", "R/.", 0),
        ("raw", "create", "R/..", 0),
        ("raw", "create", "R/x/", 0),
        ("raw", "exists", ""),
        ("raw", "exists", "relative"),
        ("raw", "exists", "R/."),
        ("raw", "delete", "/"),
        ("raw", "delete", "/zookeeper"),
        ("raw", "delete", ""),
        ("a", "children", "R"),
    ],
    "multi": [
        ("a", "create", "R/m", b"0"),
        ("a", "txn", [("create", "R/m/a", b"A"), ("create", "R/m/b", b""), ("set_data", "R/m", b"1", 0),
                      ("check", "R/m", 1), ("delete", "R/m/b", 0), ("create", "R/m/s-", b"", {"sequence": True})]),
        ("a", "children", "R/m"),
        ("a", "exists", "R/m"),
        ("a", "txn", [("create", "R/m/c", b""), ("check", "R/m", 99), ("create", "R/m/d", b"")]),
        ("a", "txn", [("delete", "R/m/zz", -1), ("create", "R/m/e", b"")]),
        ("a", "txn", [("create", "R/m/f", b""), ("set_data", "R/m/f", b"x", 3)]),
        ("a", "txn", [("create", "R/m/g", b""), ("delete", "R/m", -1)]),
        ("a", "txn", [("create", "R/m/h", b""), ("create", "R/m/h", b"")]),
        ("a", "txn", [("check", "R/m/a", 0), ("check", "R/m/a", 1)]),
        ("a", "txn", [("create", "R/m/eph", b"", {"ephemeral": True}), ("create", "R/m/eph/c", b"")]),
        ("a", "txn", [("create", "R/m/i", b""), ("create", "R/m/i/j", b""), ("delete", "R/m/i/j", -1),
                      ("delete", "R/m/i", -1)]),
        ("a", "txn", [("create", "R/m/bad\x01", b"")]),
        ("a", "txn", []),
        ("a", "children", "R/m"),
        ("a", "exists", "R/m"),
        ("a", "get", "R/m"),
    ],
    "acl": [
        ("a", "create", "R/open", b"o", {"acl": OPEN}),
        ("a", "get_acls", "R/open"),
        ("a", "create", "R/ro", b"r", {"acl": READ_ONLY}),
        ("a", "set", "R/ro", b"x", -1),
        ("a", "create", "R/ro/c", b""),
        ("a", "get", "R/ro"),
        ("a", "create", "R/dig", b"d", {"acl": DIGEST_ALL}),
        ("anon", "get", "R/dig"),
        ("anon", "get_acls", "R/dig"),
        ("anon", "children", "R/dig"),
        ("anon", "exists", "R/dig"),
        ("b", "add_auth", "digest", "user:pw"),
        ("b", "get", "R/dig"),
        ("b", "get_acls", "R/dig"),
        ("b", "set", "R/dig", b"d2", -1),
        ("b", "create", "R/dig/c", b""),
        ("a", "create", "R/mixed", b"", {"acl": MIXED}),
        ("anon", "get_acls", "R/mixed"),
        ("b", "get_acls", "R/mixed"),
        ("b", "create", "R/rw", b"", {"acl": DIGEST_RW}),
        ("b", "get_acls", "R/rw"),
        ("a", "create", "R/auth", b"", {"acl": [ACL(31, Id("auth", ""))]}),
        ("b", "create", "R/auth", b"", {"acl": [ACL(31, Id("auth", ""))]}),
        ("b", "get_acls", "R/auth"),
        ("a", "create", "R/inv1", b"", {"acl": [make_acl("digest", "nocolon", all=True)]}),
        ("a", "create", "R/inv2", b"", {"acl": [make_acl("nosuch", "x", all=True)]}),
        ("a", "create", "R/inv3", b"", {"acl": [make_acl("ip", "999.1.1.1", all=True)]}),
        ("a", "create", "R/ip", b"", {"acl": [make_acl("ip", "127.0.0.1", read=True)]}),
        ("a", "get", "R/ip"),
        ("a", "set", "R/ip", b"x", -1),
        ("a", "set_acls", "R/open", READ_ONLY, 0),
        ("a", "set_acls", "R/open", OPEN, 0),
        ("a", "set_acls", "R/open", [], -1),
        ("a", "exists", "R/open"),
        ("a", "get_acls", "R/open"),
        ("a", "set_acls", "R/missing", OPEN, -1),
        ("a", "create", "R/nodel", b"", {"acl": NO_DELETE}),
        ("a", "create", "R/nodel/c", b""),
        ("a", "delete", "R/nodel/c", -1),
        ("anon", "delete", "R/dig/c", -1),
        ("b", "delete", "R/dig/c", -1),
        ("anon", "delete", "R/dig", -1),
        ("a", "set_acls", "R/ro", OPEN, -1),
    ],
    "reserved": [
        ("a", "exists", "/"),
        ("a", "children", "/zookeeper"),
        ("a", "get", "/zookeeper"),
        ("a", "get", "/zookeeper/config"),
        ("a", "get_acls", "/zookeeper/config"),
        ("a", "get", "/zookeeper/quota"),
        ("a", "get_acls", "/zookeeper"),
        ("a", "set", "/zookeeper/config", b"x", -1),
        ("a", "delete", "/zookeeper/config", -1),
        ("a", "delete", "/zookeeper/quota", -1),
        ("a", "delete", "/zookeeper", -1),
        ("a", "create", "/zookeeper", b""),
        ("a", "create", "/", b""),
        ("a", "create", "/zookeeper/R-x", b""),
        ("a", "delete", "/zookeeper/R-x", -1),
    ],
    "watches": [
        ("a", "create", "R/w", b""),
        ("a", "watch_data", "R/w"),
        ("a", "watch_children", "R"),
        ("a", "watch_exists", "R/later"),
        ("b", "set", "R/w", b"1", -1),
        ("b", "create", "R/later", b""),
        ("a", "events", 3),
        ("b", "set", "R/w", b"2", -1),
        ("a", "watch_data", "R/later"),
        ("b", "delete", "R/later", -1),
        ("a", "events", 1),
        ("a", "watch_children", "R/w"),
        ("a", "watch_data", "R/w"),
        ("b", "delete", "R/w", -1),
        ("a", "events", 2),
    ],
    "large": [
        ("a", "create", "R/big", b"b" * (MAXBUF - 300)),
        ("a", "get_digest", "R/big"),
        ("a", "exists", "R/big"),
        ("a", "set", "R/big", b"c" * (1024 * 1024 - 400), -1),
        ("a", "get_digest", "R/big"),
        ("a", "create", "R/huge", b"h" * (MAXBUF + 1)),
        ("a", "exists", "R/huge"),
        ("a", "set", "R/big", b"d" * (2 * MAXBUF), -1),
        ("a", "get_digest", "R/big"),
        ("a", "exists", "R"),
    ],
}


class Session:
    """The clients of one run against one server."""

    def __init__(self, hostport):
        self.hostport = hostport
        self.clients = {}
        self.names = {}  # session id -> "A", "B", "B2"...
        self.events = []
        self.lock = threading.Lock()
        self.raw = None
        self.open("a")
        self.open("b")
        self.open("anon")

    def open(self, name):
        c = KazooClient(hosts=self.hostport, timeout=10.0)
        c.start(timeout=15)
        self.clients[name] = c
        label = name.upper()
        n = 1
        while label in self.names.values():
            n += 1
            label = "%s%d" % (name.upper(), n)
        self.names[c.client_id[0]] = label
        return c

    def close_all(self):
        for c in self.clients.values():
            zktest.stop_client(c)
        if self.raw:
            self.raw.close()

    def on_event(self, ev):
        with self.lock:
            self.events.append(ev)


def stat_tuple(st, ses):
    return {"czxid": ("ZXID", st.czxid), "mzxid": ("ZXID", st.mzxid), "pzxid": ("ZXID", st.pzxid),
            "ctime": ("TIME", st.ctime), "mtime": ("TIME", st.mtime), "version": st.version,
            "cversion": st.cversion, "aversion": st.aversion,
            "ephemeralOwner": ses.names.get(st.ephemeralOwner, st.ephemeralOwner and "unknown-session"),
            "dataLength": st.dataLength, "numChildren": st.numChildren}


def acl_list(acls):
    return [(a.perms, a.id.scheme, a.id.id) for a in acls]


def norm(v, ses):
    """Turns a kazoo result into plain comparable data (zxids and times still raw)."""
    if isinstance(v, ZnodeStat):
        return ("stat", stat_tuple(v, ses))
    if isinstance(v, Exception):
        return ("error", type(v).__name__)
    if isinstance(v, (list, tuple)):
        if v and all(isinstance(x, ACL) for x in v):
            return ("acl", acl_list(v))
        return [norm(x, ses) for x in v]
    if isinstance(v, bytes) and len(v) > 64:
        return ("bytes", len(v), hashlib.sha1(v).hexdigest())
    return v


def run_op(ses, op, root):
    who, what = op[0], op[1]
    args = [a.replace("R", root, 1) if isinstance(a, str) and a.startswith("R") else a for a in op[2:]]
    if who == "raw":
        if ses.raw is None:
            ses.raw = jute.RawClient(ses.hostport)
        r = ses.raw
        if what == "create":
            return ("wire", r.create(args[0], flags=args[1]))
        if what == "exists":
            err, st = r.exists(args[0])
            return ("wire", err, None if st is None else st.version)
        if what == "delete":
            return ("wire", r.delete(args[0]))
        raise ValueError(what)
    if what == "close":
        zktest.stop_client(ses.clients.pop(who))
        return "closed"
    if what == "reopen":
        ses.open(who)
        return "reopened"
    zk = ses.clients[who]
    try:
        if what == "create":
            kw = dict(args[2]) if len(args) > 2 else {}
            return zk.create(args[0], args[1], **kw)
        if what == "get":
            return list(zk.get(args[0]))
        if what == "get_digest":
            data, st = zk.get(args[0])
            return [("bytes", len(data), hashlib.sha1(data).hexdigest()), st]
        if what == "exists":
            return zk.exists(args[0])
        if what == "set":
            return zk.set(args[0], args[1], version=args[2])
        if what == "delete":
            return zk.delete(args[0], version=args[1])
        if what == "children":
            return ("children", sorted(zk.get_children(args[0])))
        if what == "children_data":
            ch, st = zk.get_children(args[0], include_data=True)
            return [("children", sorted(ch)), st]
        if what == "get_acls":
            acl, st = zk.get_acls(args[0])
            return [("acl", acl_list(acl)), st]
        if what == "set_acls":
            return zk.set_acls(args[0], args[1], version=args[2])
        if what == "sync":
            return zk.sync(args[0])
        if what == "add_auth":
            return zk.add_auth(args[0], args[1])
        if what == "txn":
            t = zk.transaction()
            for sub in args[0]:
                sargs = [a.replace("R", root, 1) if isinstance(a, str) and a.startswith("R") else a for a in sub[1:]]
                if sub[0] == "create":
                    kw = dict(sargs[2]) if len(sargs) > 2 else {}
                    t.create(sargs[0], sargs[1], **kw)
                elif sub[0] == "delete":
                    t.delete(sargs[0], version=sargs[1])
                elif sub[0] == "set_data":
                    t.set_data(sargs[0], sargs[1], version=sargs[2])
                elif sub[0] == "check":
                    t.check(sargs[0], sargs[1])
            return t.commit()
        if what in ("watch_data", "watch_children", "watch_exists"):
            f = {"watch_data": zk.get, "watch_children": zk.get_children, "watch_exists": zk.exists}[what]
            try:
                f(args[0], watch=ses.on_event)
            except KazooException as e:
                return e
            return "watching"
        if what == "events":
            n = args[0]
            try:
                wait_until(lambda: len(ses.events) >= n, 10.0, "%d watch events" % n)
            except AssertionError:
                pass
            # Events of one change reach different watches in no specified order: sort.
            with ses.lock:
                evs = sorted((e.type, e.path) for e in ses.events)
                ses.events.clear()
            return ("events", evs)
        raise ValueError("unknown op %r" % (what,))
    except ZookeeperError as e:
        return e
    except KazooException as e:
        # ConnectionLoss (the server dropped an oversized packet): wait for kazoo to
        # reconnect with the same session before the next op.
        try:
            wait_until(lambda: zk.state == KazooState.CONNECTED, 20, "kazoo to reconnect")
        except AssertionError:
            pass
        return e


def finish(results):
    """Replaces zxids by their rank among the zxids seen, and times by a marker (checking
    that ctime <= mtime). Returns (normalised results, list of sanity problems)."""
    zxids = set()
    problems = []

    def walk(v, f):
        if isinstance(v, tuple) and len(v) == 2 and v[0] in ("ZXID", "TIME"):
            return f(v)
        if isinstance(v, dict):
            if "ctime" in v and isinstance(v["ctime"], tuple) and v["ctime"][1] > v["mtime"][1]:
                problems.append("ctime %d > mtime %d" % (v["ctime"][1], v["mtime"][1]))
            return {k: walk(x, f) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            t = [walk(x, f) for x in v]
            return tuple(t) if isinstance(v, tuple) else t
        return v

    def collect(v):
        if v[0] == "ZXID" and v[1] != 0:
            zxids.add(v[1])
        return v

    walk(results, collect)
    rank = {z: i + 1 for i, z in enumerate(sorted(zxids))}

    def replace(v):
        if v[0] == "ZXID":
            return "zxid#%d" % rank[v[1]] if v[1] else 0
        return "time" if v[1] else 0

    return walk(results, replace), problems


def run_section(hostport, name):
    root = "/diff-" + name
    ses = Session(hostport)
    try:
        out = []
        if name not in ("reserved",):
            ses.clients["a"].create(root)
        for op in SECTIONS[name]:
            out.append(norm(run_op(ses, op, root), ses))
        return finish(out)
    finally:
        ses.close_all()


def describe(op):
    def short(a):
        if isinstance(a, bytes) and len(a) > 20:
            return "<%d bytes>" % len(a)
        if isinstance(a, list) and a and isinstance(a[0], ACL):
            return acl_list(a)
        return a
    return "%s.%s(%s)" % (op[0], op[1], ", ".join(repr(short(a)) for a in op[2:]))


_servers = {}


def servers():
    """One Apache and one zkfsd server for the whole script (started together)."""
    if not _servers:
        ap = zkserver.ZkServer("apache", name="apache")
        fs = zkserver.ZkServer("zkfsd", name="zkfsd")
        _servers["apache"] = ap
        _servers["zkfsd"] = fs
        ap.start()
        fs.start()
    for s in _servers.values():
        if not s.alive():
            s.start()
    return _servers


class Diff:
    """Mixin with one test per section."""

    def compare(self, name):
        srv = servers()
        log_from = srv["zkfsd"].log_size()
        ref, ref_problems = run_section(srv["apache"].hostport, name)
        got, got_problems = run_section(srv["zkfsd"].hostport, name)
        self.assertEqual(ref_problems, [], "Apache ZooKeeper itself broke an invariant?")
        lines = []
        for i, (op, a, b) in enumerate(zip(SECTIONS[name], ref, got)):
            if a != b:
                lines.append("#%d %s\n    ZooKeeper: %r\n    zkfsd:     %r" % (i, describe(op), a, b))
        for p in got_problems:
            lines.append("zkfsd: %s" % p)
        for r in srv["zkfsd"].sanitizer_reports(log_from)[:20]:
            lines.append("zkfsd sanitizer: %s" % r)
        if not srv["zkfsd"].alive():
            lines.append("zkfsd died (exit status %s); log tail:\n%s" % (srv["zkfsd"].proc.returncode,
                                                                       srv["zkfsd"].log_tail()))
        if lines:
            self.fail("section %s: %d of %d operations differ:\n%s" % (name, len(lines), len(ref), "\n".join(lines)))


def _make_test(name):
    def t(self):
        self.compare(name)
    t.__name__ = "test_" + name
    return t


DifferentialTest = type("DifferentialTest", (Diff, unittest.TestCase),
                        {"test_" + n: _make_test(n) for n in SECTIONS})


class ScriptSize(unittest.TestCase):
    def test_script_has_over_100_operations(self):
        self.assertGreater(sum(len(v) for v in SECTIONS.values()), 100)


if __name__ == "__main__":
    zktest.main()
