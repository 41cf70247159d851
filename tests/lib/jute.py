"""A minimal ZooKeeper wire-protocol client for the integration tests.

kazoo hides the wire: it re-orders nothing but dispatches watch callbacks on another
thread, has no addWatch (persistent watches) in Debian's 2.8, and refuses to send
malformed packets. The tests that need to see the exact frames a server sends (watch
event before the reply that shows the change, unknown opcodes, hostile input) use this
client instead. Jute encoding: big-endian; int 4 bytes, long 8, boolean 1, buffer and
ustring = int length then bytes (-1 = null), vector = int count then elements; every
packet on the client port is framed by a 4-byte big-endian length.
"""
import collections
import socket
import struct
import time

# Opcodes (ZooDefs.OpCode).
OP_NOTIFICATION = 0
OP_CREATE = 1
OP_DELETE = 2
OP_EXISTS = 3
OP_GETDATA = 4
OP_SETDATA = 5
OP_GETACL = 6
OP_SETACL = 7
OP_GETCHILDREN = 8
OP_SYNC = 9
OP_PING = 11
OP_GETCHILDREN2 = 12
OP_CHECK = 13
OP_MULTI = 14
OP_CREATE2 = 15
OP_AUTH = 100
OP_SETWATCHES = 101
OP_ADDWATCH = 106
OP_CLOSE = -11

# Special xids.
XID_WATCH = -1
XID_PING = -2
XID_AUTH = -4
XID_SETWATCHES = -8

# Error codes (KeeperException.Code).
ZOK = 0
ZRUNTIMEINCONSISTENCY = -2
ZMARSHALLINGERROR = -5
ZUNIMPLEMENTED = -6
ZBADARGUMENTS = -8
ZNONODE = -101
ZNOAUTH = -102
ZBADVERSION = -103
ZNOCHILDRENFOREPHEMERALS = -108
ZNODEEXISTS = -110
ZNOTEMPTY = -111
ZSESSIONEXPIRED = -112

# Watcher event types.
EV_NODE_CREATED = 1
EV_NODE_DELETED = 2
EV_NODE_DATA_CHANGED = 3
EV_NODE_CHILDREN_CHANGED = 4

# AddWatchMode.
ADDWATCH_PERSISTENT = 0
ADDWATCH_PERSISTENT_RECURSIVE = 1

Stat = collections.namedtuple(
    "Stat", "czxid mzxid ctime mtime version cversion aversion ephemeralOwner "
            "dataLength numChildren pzxid")
ReplyHeader = collections.namedtuple("ReplyHeader", "xid zxid err")
WatchEvent = collections.namedtuple("WatchEvent", "type state path")

OPEN_ACL_UNSAFE = [(31, "world", "anyone")]


class ProtocolError(Exception):
    """The peer sent something this client cannot decode, or closed the connection."""


class Writer:
    """Accumulates jute-encoded fields."""

    def __init__(self):
        self.parts = []

    def int(self, v):
        self.parts.append(struct.pack(">i", v))
        return self

    def long(self, v):
        self.parts.append(struct.pack(">q", v))
        return self

    def bool(self, v):
        self.parts.append(b"\x01" if v else b"\x00")
        return self

    def buffer(self, b):
        if b is None:
            return self.int(-1)
        self.int(len(b))
        self.parts.append(bytes(b))
        return self

    def ustring(self, s):
        return self.buffer(None if s is None else s.encode("utf-8"))

    def acls(self, acls):
        self.int(len(acls))
        for perms, scheme, ident in acls:
            self.int(perms).ustring(scheme).ustring(ident)
        return self

    def bytes(self):
        return b"".join(self.parts)


class Reader:
    """Decodes jute fields from a bytes object; raises ProtocolError when it runs short."""

    def __init__(self, data):
        self.data = data
        self.pos = 0

    def _take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ProtocolError("record too short: need %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self):
        return struct.unpack(">i", self._take(4))[0]

    def long(self):
        return struct.unpack(">q", self._take(8))[0]

    def bool(self):
        return self._take(1) != b"\x00"

    def buffer(self):
        n = self.int()
        return None if n < 0 else self._take(n)

    def ustring(self):
        b = self.buffer()
        return None if b is None else b.decode("utf-8")

    def stat(self):
        return Stat(self.long(), self.long(), self.long(), self.long(), self.int(), self.int(),
                    self.int(), self.long(), self.int(), self.int(), self.long())

    def strings(self):
        return [self.ustring() for _ in range(self.int())]

    def remaining(self):
        return len(self.data) - self.pos


def frame(payload):
    """Prefixes a payload with its 4-byte big-endian length."""
    return struct.pack(">i", len(payload)) + payload


def connect_request(timeout_ms=30000, session_id=0, passwd=b"\0" * 16, last_zxid=0, read_only=None):
    """The handshake payload (no RequestHeader); read_only=None omits the trailing boolean."""
    w = Writer().int(0).long(last_zxid).int(timeout_ms).long(session_id).buffer(passwd)
    if read_only is not None:
        w.bool(read_only)
    return w.bytes()


def recv_exact(sock, n, deadline):
    """Reads exactly n bytes before the monotonic deadline; ProtocolError on EOF or timeout."""
    chunks = []
    got = 0
    while got < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ProtocolError("timed out waiting for %d bytes (got %d)" % (n, got))
        sock.settimeout(left)
        try:
            c = sock.recv(n - got)
        except socket.timeout:
            raise ProtocolError("timed out waiting for %d bytes (got %d)" % (n, got))
        except ConnectionResetError:
            raise ProtocolError("connection reset by the server")
        if not c:
            raise ProtocolError("connection closed by the server after %d of %d bytes" % (got, n))
        chunks.append(c)
        got += len(c)
    return b"".join(chunks)


def read_frame(sock, timeout=10.0):
    """Reads one length-prefixed frame and returns its payload."""
    deadline = time.monotonic() + timeout
    n = struct.unpack(">i", recv_exact(sock, 4, deadline))[0]
    if n < 0 or n > 64 * 1024 * 1024:
        raise ProtocolError("implausible frame length %d" % n)
    return recv_exact(sock, n, deadline)


def wait_closed(sock, timeout=10.0):
    """True if the peer closes (EOF or reset) within timeout, reading and discarding data."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        sock.settimeout(left)
        try:
            if not sock.recv(65536):
                return True
        except socket.timeout:
            return False
        except (ConnectionResetError, BrokenPipeError):
            return True


class RawClient:
    """One session over one socket, synchronous. Replies are matched by xid; watch events
    that arrive meanwhile are appended to self.events in arrival order, and every frame
    read is appended to self.frames as ("event", WatchEvent) or ("reply", ReplyHeader)."""

    def __init__(self, hostport, timeout_ms=30000, session_id=0, passwd=b"\0" * 16, read_only=False,
                 io_timeout=10.0):
        host, port = hostport.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=io_timeout)
        self.io_timeout = io_timeout
        self.xid = 0
        self.events = []
        self.frames = []
        self.last_zxid = 0
        self.sock.sendall(frame(connect_request(timeout_ms, session_id, passwd, 0, read_only)))
        r = Reader(read_frame(self.sock, io_timeout))
        self.protocol_version = r.int()
        self.timeout_ms = r.int()
        self.session_id = r.long()
        self.passwd = r.buffer()
        if self.session_id == 0:
            # The server's answer to an expired or unknown session: zeros, then it closes.
            raise ProtocolError("session expired (the server answered session id 0, timeout %d)" % self.timeout_ms)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, op, payload=b"", xid=None):
        """Sends one request; returns its xid."""
        if xid is None:
            self.xid += 1
            xid = self.xid
        self.sock.sendall(frame(Writer().int(xid).int(op).bytes() + payload))
        return xid

    def read(self, timeout=None):
        """Reads one frame: ("event", WatchEvent, None) or ("reply", ReplyHeader, Reader)."""
        r = Reader(read_frame(self.sock, self.io_timeout if timeout is None else timeout))
        hdr = ReplyHeader(r.int(), r.long(), r.int())
        if hdr.zxid > 0:
            self.last_zxid = max(self.last_zxid, hdr.zxid)
        if hdr.xid == XID_WATCH:
            ev = WatchEvent(r.int(), r.int(), r.ustring())
            self.events.append(ev)
            self.frames.append(("event", ev))
            return "event", ev, None
        self.frames.append(("reply", hdr))
        return "reply", hdr, r

    def wait_reply(self, xid):
        """Reads frames until the reply to xid; returns (ReplyHeader, Reader of its body)."""
        while True:
            kind, hdr, body = self.read()
            if kind == "reply" and hdr.xid == xid:
                return hdr, body
            if kind == "reply" and hdr.xid not in (XID_PING,):
                raise ProtocolError("reply for xid %d while waiting for %d" % (hdr.xid, xid))

    def wait_event(self, timeout=10.0):
        """Returns the oldest unconsumed watch event, reading frames for up to timeout."""
        deadline = time.monotonic() + timeout
        while not self.events:
            left = deadline - time.monotonic()
            if left <= 0:
                raise ProtocolError("no watch event within %.1f s" % timeout)
            kind, hdr, _ = self.read(left)
            if kind == "reply" and hdr.xid != XID_PING:
                raise ProtocolError("unexpected reply xid %d while waiting for an event" % hdr.xid)
        return self.events.pop(0)

    def call(self, op, payload=b""):
        """Sends a request and waits for its reply; returns (err, Reader)."""
        hdr, body = self.wait_reply(self.send(op, payload))
        return hdr.err, body

    # Convenience wrappers: each returns (err, decoded result or None).
    def create(self, path, data=b"", acl=OPEN_ACL_UNSAFE, flags=0):
        err, r = self.call(OP_CREATE, Writer().ustring(path).buffer(data).acls(acl).int(flags).bytes())
        return err, (r.ustring() if err == ZOK else None)

    def delete(self, path, version=-1):
        err, _ = self.call(OP_DELETE, Writer().ustring(path).int(version).bytes())
        return err, None

    def exists(self, path, watch=False):
        err, r = self.call(OP_EXISTS, Writer().ustring(path).bool(watch).bytes())
        return err, (r.stat() if err == ZOK else None)

    def get_data(self, path, watch=False):
        err, r = self.call(OP_GETDATA, Writer().ustring(path).bool(watch).bytes())
        return err, ((r.buffer(), r.stat()) if err == ZOK else None)

    def set_data(self, path, data, version=-1):
        err, r = self.call(OP_SETDATA, Writer().ustring(path).buffer(data).int(version).bytes())
        return err, (r.stat() if err == ZOK else None)

    def get_children(self, path, watch=False):
        err, r = self.call(OP_GETCHILDREN, Writer().ustring(path).bool(watch).bytes())
        return err, (r.strings() if err == ZOK else None)

    def add_watch(self, path, mode):
        err, _ = self.call(OP_ADDWATCH, Writer().ustring(path).int(mode).bytes())
        return err, None

    def ping(self):
        hdr, _ = self.wait_reply(self.send(OP_PING, b"", xid=XID_PING))
        return hdr.err

    def close_session(self):
        """Sends closeSession and waits for its reply (the server then closes the socket)."""
        try:
            err, _ = self.call(OP_CLOSE)
            return err
        finally:
            self.close()
