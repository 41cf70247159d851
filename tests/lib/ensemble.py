"""Real-process ZooKeeper ensembles on loopback for the integration tests.

Ensemble(kind, n_voters=3, n_observers=0) runs members 1..n of one kind (zkserver.KINDS:
"zkfsd" = bin/zkfsd, "apache" = Apache ZooKeeper 3.8, the reference). Member i has its own
address 127.0.0.i (all of 127.0.0.0/8 is local on Linux), three ports free on that address
(client, quorum, election; distinct across the ensemble, which the partition rules rely
on), its own directory with dataDir/myid, zoo.cfg and log. Each member's zoo.cfg:

    tickTime=<tick>            initLimit=10            syncLimit=5
    dataDir=<dir>/data         clientPort=<port>       clientPortAddress=127.0.0.i
    4lw.commands.whitelist=*   admin.enableServer=false   maxClientCnxns=0
    server.N=127.0.0.N:<quorumPort>:<electionPort>[:observer]   (one line per member)
    peerType=observer          (only in an observer's own file)
    zkfs.quorum.secret=<32 hex digits, one per ensemble>   (Apache ignores it: an unknown
                               key only becomes the system property zookeeper.zkfs.quorum.secret)

Processes: zkfsd runs as `bin/zkfsd <zoo.cfg>` (zkserver.zkfsd_path(); stdout and stderr to
the member's server.log). Apache runs as zkserver.py runs it (same classpath, log4j to
server.log, serial GC, client JIT) plus -Dzookeeper.cnxTimeout=1000 (an election connect to
an unreachable peer gives up after 1 s, not 5) and
-Dzookeeper.fastleader.maxNotificationInterval=2000 (a member looking for a leader re-sends
its vote at least every 2 s, not 60: a healed member rejoins quickly). When we are root,
each Apache member runs under its own unused uid (61000+i) so that iptables can tell its
outgoing connections apart (see isolate()). Every process runs in its own process group;
every Ensemble is registered here and cleanup_all() (also at exit) kills them all and
removes the iptables chains; nothing else is touched.

Readiness is polled, never slept for: a member serves when `srvr` answers with a Mode line;
"This ZooKeeper instance is not currently serving requests" (or no answer) means it does
not (mode() is None).
"""
import atexit
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile

import zkserver
from zktest import wait_until

_ensembles = []
_seq = itertools.count(1)

NOT_SERVING = "not currently serving requests"
MODE_RX = re.compile(r"^Mode: (\S+)", re.M)
UID_BASE = 61000


class EnsembleError(Exception):
    pass


def _unused_uid(start):
    """The first uid >= start that names no user and no group (so nothing of anyone's is
    reachable through it)."""
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            try:
                grp.getgrgid(uid)
            except KeyError:
                return uid
        uid += 1


class Member(zkserver.ServerLog):
    """One member's files and process (its log: zkserver.ServerLog). Use it through
    Ensemble's methods."""

    def __init__(self, ens, sid, observer):
        self.ens = ens
        self.sid = sid
        self.observer = observer
        self.addr = "127.0.0.%d" % sid
        self.dir = os.path.join(ens.dir, "m%d" % sid)
        self.data_dir = os.path.join(self.dir, "data")
        self.cfg_path = os.path.join(self.dir, "zoo.cfg")
        self.log_path = os.path.join(self.dir, "server.log")
        self.stdout_path = os.path.join(self.dir, "stdout.log")  # apache only
        self.client_port = self.quorum_port = self.election_port = None
        self.uid = None
        self.proc = None
        self.starts = 0
        os.makedirs(self.data_dir)
        self.write_myid()

    @property
    def hostport(self):
        return "%s:%d" % (self.addr, self.client_port)

    def write_myid(self):
        with open(os.path.join(self.data_dir, "myid"), "w") as f:
            f.write("%d\n" % self.sid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Ensemble:
    """n_voters participants (ids 1..n_voters) then n_observers observers. Members are
    addressed by their 1-based id everywhere."""

    def __init__(self, kind, n_voters=3, n_observers=0, tick_time=None, init_limit=10, sync_limit=5,
                 extra=None, env=None, name=None):
        if kind not in zkserver.KINDS:
            raise ValueError("unknown server kind %r" % kind)
        if n_voters < 1 or n_voters + n_observers > 15:
            raise ValueError("1..15 members")
        self.kind = kind
        self.n_voters = n_voters
        self.n_observers = n_observers
        self.tick_time = tick_time or 500
        self.init_limit = init_limit
        self.sync_limit = sync_limit
        self.extra = dict(extra or {})
        self.env = dict(env or {})
        self.seq = next(_seq)
        self.name = name or "%s-ensemble-%d" % (kind, self.seq)
        self.owner = None  # the test that made it (for log tails of failed tests)
        self.secret = secrets.token_hex(16)
        self.dir = tempfile.mkdtemp(prefix="zkfs-ens-%s-" % kind)
        os.chmod(self.dir, 0o755)  # members may run under their own uid (apache)
        self.members = {}
        for sid in range(1, n_voters + n_observers + 1):
            self.members[sid] = Member(self, sid, observer=sid > n_voters)
        self._chains = None
        self._isolated = set()
        # Apache members run under their own uid when we can (root): the owner match of the
        # partition rules needs it. zkfsd runs as we do (its peers bind their own address).
        if kind == "apache" and os.geteuid() == 0:
            uid = UID_BASE
            for m in self.members.values():
                m.uid = _unused_uid(uid)
                uid = m.uid + 1
        _ensembles.append(self)

    # ------------------------------------------------------------------ addressing
    @property
    def ids(self):
        return sorted(self.members)

    def voters(self):
        return [i for i in self.ids if not self.members[i].observer]

    def observers(self):
        return [i for i in self.ids if self.members[i].observer]

    def member(self, i):
        return self.members[i]

    def hostport(self, i):
        return self.members[i].hostport

    def connect_string(self, ids=None):
        """host:port,host:port,... of the given members (default: all), in that order."""
        return ",".join(self.hostport(i) for i in (self.ids if ids is None else ids))

    def others(self, i):
        return [j for j in self.ids if j != i]

    # ------------------------------------------------------------------ configuration
    def _pick_ports(self):
        """Three ports per member, each free on that member's address (bound together so the
        kernel hands out distinct ones), all distinct across the ensemble."""
        for _ in range(20):
            socks = []
            try:
                ports = {}
                for m in self.members.values():
                    trio = []
                    for _k in range(3):
                        s = socket.socket()
                        socks.append(s)
                        s.bind((m.addr, 0))
                        trio.append(s.getsockname()[1])
                    ports[m.sid] = trio
                flat = [p for t in ports.values() for p in t]
                if len(set(flat)) == len(flat):
                    for sid, (c, q, e) in ports.items():
                        m = self.members[sid]
                        m.client_port, m.quorum_port, m.election_port = c, q, e
                    return
            finally:
                for s in socks:
                    s.close()
        raise EnsembleError("could not find distinct free ports")

    def config_lines(self, i):
        """zoo.cfg of member i, as a list of key=value lines."""
        m = self.members[i]
        cfg = [
            ("tickTime", self.tick_time),
            ("initLimit", self.init_limit),
            ("syncLimit", self.sync_limit),
            ("dataDir", m.data_dir),
            ("clientPort", m.client_port),
            ("clientPortAddress", m.addr),
            ("4lw.commands.whitelist", "*"),
            ("admin.enableServer", "false"),
            ("maxClientCnxns", 0),
        ]
        for o in self.members.values():
            cfg.append(("server.%d" % o.sid, "%s:%d:%d%s" % (o.addr, o.quorum_port, o.election_port,
                                                           ":observer" if o.observer else "")))
        if m.observer:
            cfg.append(("peerType", "observer"))
        cfg.append(("zkfs.quorum.secret", self.secret))
        keys = [k for k, _ in cfg]
        for k, v in self.extra.items():
            if k in keys:
                cfg = [(kk, vv) for kk, vv in cfg if kk != k]
            if v is not None:
                cfg.append((k, v))
        return ["%s=%s" % (k, v) for k, v in cfg]

    def _write_cfg(self, i):
        m = self.members[i]
        with open(m.cfg_path, "w") as f:
            f.write("\n".join(self.config_lines(i)) + "\n")

    def _command(self, m):
        return zkserver.server_command(self.kind, m.cfg_path, m.log_path, heap="256m",
                                       java_opts=["-XX:-UsePerfData", "-Dzookeeper.cnxTimeout=1000",
                                                  "-Dzookeeper.fastleader.maxNotificationInterval=2000"])

    def _chown(self, m):
        if m.uid is None:
            return
        for root, dirs, files in os.walk(m.dir):
            os.lchown(root, m.uid, m.uid)
            for n in dirs + files:
                os.lchown(os.path.join(root, n), m.uid, m.uid)

    def _spawn(self, i):
        m = self.members[i]
        if m.alive():
            raise EnsembleError("member %d of %s is already running" % (i, self.name))
        self._write_cfg(i)
        cmd = self._command(m)
        self._chown(m)
        env = dict(os.environ)
        env.update(self.env)
        kw = {}
        if m.uid is not None:
            kw = {"user": m.uid, "group": m.uid, "extra_groups": []}
        out = open(m.log_path if self.kind == "zkfsd" else m.stdout_path, "ab")
        try:
            m.proc = subprocess.Popen(cmd, cwd=m.dir, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                      env=env, start_new_session=True, **kw)
        finally:
            out.close()
        m.starts += 1

    def _default_timeout(self):
        return 60.0 if self.kind == "apache" else 30.0

    # ------------------------------------------------------------------ lifecycle
    def start(self, timeout=None):
        """Starts every member and waits until each answers srvr with a Mode line and exactly
        one is leader (the others follower/observer). Retries with new ports if one was
        taken meanwhile. Returns self."""
        timeout = timeout or self._default_timeout()
        for attempt in range(3):
            self._pick_ports()
            for i in self.ids:
                self._spawn(i)
            try:
                self.wait_stable(timeout, ids=self.ids)
                return self
            except AssertionError as e:
                conflict = any(re.search(r"(?i)address already in use", m.log_text() + m.log_tail())
                               for m in self.members.values())
                self.kill_all()
                if conflict and attempt < 2:
                    continue
                raise EnsembleError("%s did not form: %s\n%s" % (self.name, e, self.log_tails()))
        raise EnsembleError("%s: no free ports" % self.name)

    def start_member(self, i, wait=True, timeout=None):
        """Starts member i again (same ports, same dataDir). With wait, waits until it
        serves (srvr answers with a Mode line)."""
        self._spawn(i)
        if wait:
            self.wait_serving(i, timeout or self._default_timeout())

    def stop(self, i, timeout=15.0):
        """SIGTERM to member i's process group, SIGKILL after timeout; returns the exit status."""
        m = self.members[i]
        if not m.proc:
            return None
        if m.proc.poll() is None:
            self._signal(m, signal.SIGTERM)
            try:
                m.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(m, signal.SIGKILL)
                m.proc.wait()
        return m.proc.returncode

    def kill9(self, i):
        """SIGKILL (a crash) of member i; waits until the process is gone."""
        m = self.members[i]
        if m.alive():
            self._signal(m, signal.SIGKILL)
            m.proc.wait()

    def _signal(self, m, sig):
        try:
            os.killpg(m.proc.pid, sig)  # the group start_new_session made
        except ProcessLookupError:
            pass

    def wipe(self, i):
        """Deletes member i's data (everything in dataDir but myid). It must be stopped."""
        m = self.members[i]
        if m.alive():
            raise EnsembleError("wipe(%d): the member is running" % i)
        shutil.rmtree(m.data_dir)
        os.makedirs(m.data_dir)
        m.write_myid()

    def alive(self, i):
        return self.members[i].alive()

    def running(self):
        return [i for i in self.ids if self.members[i].alive()]

    def kill_all(self):
        for i in self.ids:
            try:
                self.kill9(i)
            except Exception:  # noqa: BLE001 - best effort
                pass

    def cleanup(self, remove_dir=False):
        """Kills every member, removes the partition rules; removes the directory if told
        (cleanup_all() removes it at the end otherwise, after failed tests showed logs)."""
        self.kill_all()
        self._remove_chains()
        if remove_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ state
    def srvr(self, i, timeout=2.0):
        """member i's answer to srvr, or None if it does not answer (not running, refused)."""
        if not self.members[i].alive():
            return None
        try:
            return zkserver.fourlw(self.hostport(i), "srvr", timeout=timeout)
        except OSError:
            return None

    def mode(self, i):
        """"leader", "follower", "observer" (or whatever the Mode: line says) when member i
        serves; None when it answers "not currently serving requests", nothing, or is down."""
        ans = self.srvr(i)
        if not ans or NOT_SERVING in ans:
            return None
        mo = MODE_RX.search(ans)
        return mo.group(1) if mo else None

    def not_serving(self, i):
        """True when member i runs and answers srvr with the not-serving sentence."""
        ans = self.srvr(i)
        return bool(ans) and NOT_SERVING in ans

    def modes(self, ids=None):
        return {i: self.mode(i) for i in (self.ids if ids is None else ids)}

    def leaders(self):
        return [i for i, mo in self.modes().items() if mo == "leader"]

    def leader(self):
        """The id of the member that says it leads, if exactly one does; else None."""
        ls = self.leaders()
        return ls[0] if len(ls) == 1 else None

    def followers(self):
        return [i for i, mo in self.modes().items() if mo == "follower"]

    def wait_leader(self, timeout=20.0, exclude=()):
        """Waits until a member not in exclude says it is leader; returns its id."""
        exclude = set(exclude)

        def pick():
            for i in self.ids:
                if i not in exclude and self.mode(i) == "leader":
                    return i
            return None
        return wait_until(pick, timeout, lambda: "a leader among %s of %s (modes %s)"
                          % ([i for i in self.ids if i not in exclude], self.name, self.modes()))

    def wait_serving(self, i, timeout=20.0):
        """Waits until member i serves; returns its mode."""
        return wait_until(lambda: self.mode(i), timeout, lambda: "member %d of %s to serve (srvr: %r)"
                          % (i, self.name, self.srvr(i)))

    def wait_mode(self, i, pred, timeout=20.0, what=None):
        """Waits until pred(mode(i)) is true; returns that mode (which may be None)."""
        box = []

        def ok():
            mo = self.mode(i)
            if pred(mo):
                box.append(mo)
                return True
            return False
        wait_until(ok, timeout, lambda: "%s (member %d of %s, srvr %r)"
                   % (what or "a mode", i, self.name, self.srvr(i)))
        return box[0]

    def wait_stable(self, timeout=20.0, ids=None):
        """Waits until every given member (default: every running one) serves, exactly one
        of them is leader, the other voters are followers and the observers observers.
        A given member whose process exits fails at once. Returns the leader's id."""
        def check():
            want = self.running() if ids is None else list(ids)
            dead = [i for i in want if not self.members[i].alive()]
            if dead:
                raise AssertionError("member(s) %s of %s exited (status %s)" % (
                    dead, self.name, [self.members[i].proc.returncode if self.members[i].proc else None
                                      for i in dead]))
            ms = self.modes(want)
            leaders = [i for i, mo in ms.items() if mo == "leader"]
            if len(leaders) != 1:
                return None
            for i, mo in ms.items():
                if i != leaders[0] and mo != ("observer" if self.members[i].observer else "follower"):
                    return None
            return leaders[0]
        return wait_until(check, timeout, lambda: "a stable ensemble %s (modes %s, running %s)"
                          % (self.name, self.modes(), self.running()))

    # ------------------------------------------------------------------ partitions
    # isolate(i) cuts member i off from every other member on the quorum and election ports
    # (TCP packets dropped, both directions); client ports are untouched, so clients still
    # reach it and see what it does without a quorum. Rules live in two chains of our own
    # (ZKE<pid>_<seq>I jumped to from INPUT, ...O from OUTPUT); heal() flushes them,
    # cleanup() unhooks and deletes them.
    #   1. For every kind: packets to or from member i's own quorum/election ports (the
    #      ports are distinct across the ensemble, so this is exactly the traffic of
    #      connections others open to i): --dports / --sports on both chains.
    #   2. Connections i opens to the others' ports:
    #      zkfsd binds its outgoing peer connections to its own 127.0.0.i, so an address
    #      rule catches them: -s 127.0.0.i --dports <others' ports> and
    #      -d 127.0.0.i --sports <others' ports>.
    #      Apache ZooKeeper does not bind them: they come from 127.0.0.1 like everyone
    #      else's, so address rules would not partition it (and for i=1 would cut every
    #      member). Instead each Apache member runs under its own uid and its outgoing
    #      packets are matched with -m owner --uid-owner on the OUTPUT chain (on loopback
    #      a connection cannot be set up or carry i's data without them). Tried: this
    #      partitions Apache 3.8 (the isolated leader loses its quorum, the majority elects
    #      a new one, and after heal() it rejoins as a follower). With rule 1 alone, the
    #      isolated Apache member rejoined the new leader as a follower through its own
    #      outgoing connections while still "partitioned".
    @staticmethod
    def partition_unavailable():
        """None if isolate() can work here, else why not (for a skip message)."""
        if os.geteuid() != 0:
            return "partition tests need root (iptables)"
        if not shutil.which("iptables"):
            return "partition tests need iptables (apt-get install iptables)"
        r = subprocess.run(["iptables", "-w", "-S", "OUTPUT"], capture_output=True, text=True)
        if r.returncode != 0:
            return "iptables does not work here: %s" % (r.stderr.strip() or r.stdout.strip())
        return None

    def _ipt(self, *args, check=True):
        r = subprocess.run(["iptables", "-w"] + [str(a) for a in args], capture_output=True, text=True)
        if check and r.returncode != 0:
            raise EnsembleError("iptables %s: %s" % (" ".join(map(str, args)), r.stderr.strip()))
        return r.returncode == 0

    def _ensure_chains(self):
        if self._chains:
            return self._chains
        why = self.partition_unavailable()
        if why:
            raise EnsembleError(why)
        _remove_stale_chains()
        base = "ZKE%d_%d" % (os.getpid(), self.seq)
        cin, cout = base + "I", base + "O"
        self._chains = (cin, cout)
        for c, hook in ((cin, "INPUT"), (cout, "OUTPUT")):
            if not self._ipt("-N", c, check=False):
                self._ipt("-F", c)
            self._ipt("-I", hook, "1", "-j", c)
        return self._chains

    @staticmethod
    def _chunks(ports, n=15):  # multiport takes at most 15 ports
        ports = [str(p) for p in ports]
        return [",".join(ports[k:k + n]) for k in range(0, len(ports), n)]

    def isolate(self, i):
        """Drops every TCP packet between member i and the other members' quorum/election
        traffic (both directions) until heal()."""
        cin, cout = self._ensure_chains()
        m = self.members[i]
        own = [m.quorum_port, m.election_port]
        theirs = [p for j in self.others(i) for p in (self.members[j].quorum_port, self.members[j].election_port)]
        for c in (cin, cout):
            for ps in self._chunks(own):
                self._ipt("-A", c, "-p", "tcp", "-m", "multiport", "--dports", ps, "-j", "DROP")
                self._ipt("-A", c, "-p", "tcp", "-m", "multiport", "--sports", ps, "-j", "DROP")
            if self.kind == "zkfsd":
                for ps in self._chunks(theirs):
                    self._ipt("-A", c, "-s", m.addr, "-p", "tcp", "-m", "multiport", "--dports", ps, "-j", "DROP")
                    self._ipt("-A", c, "-d", m.addr, "-p", "tcp", "-m", "multiport", "--sports", ps, "-j", "DROP")
        if self.kind == "apache":
            if m.uid is None:
                raise EnsembleError("isolate(%d): apache members need their own uid (run as root)" % i)
            for ps in self._chunks(theirs):
                self._ipt("-A", cout, "-p", "tcp", "-m", "owner", "--uid-owner", m.uid, "-m", "multiport",
                          "--dports", ps, "-j", "DROP")
        self._isolated.add(i)

    def heal(self):
        """Removes every partition rule (the chains stay, empty, until cleanup)."""
        if self._chains:
            for c in self._chains:
                self._ipt("-F", c, check=False)
        self._isolated.clear()

    def partition_rules(self):
        """The current rules (iptables -S of our chains), for messages."""
        if not self._chains:
            return ""
        out = []
        for c in self._chains:
            r = subprocess.run(["iptables", "-w", "-S", c], capture_output=True, text=True)
            out.append(r.stdout)
        return "".join(out)

    def _remove_chains(self):
        if not self._chains:
            return
        for c, hook in zip(self._chains, ("INPUT", "OUTPUT")):
            while self._ipt("-D", hook, "-j", c, check=False):
                pass
            self._ipt("-F", c, check=False)
            self._ipt("-X", c, check=False)
        self._chains = None
        self._isolated.clear()

    # ------------------------------------------------------------------ logs
    def log_tails(self, n=40):
        out = []
        for i in self.ids:
            m = self.members[i]
            out.append("---- %s member %d (%s, %s) log tail (%s) ----" % (
                self.name, i, m.hostport if m.client_port else "-", "observer" if m.observer else "voter", m.log_path))
            out.append(m.log_tail(n))
        return "\n".join(out)


_CHAIN_RX = re.compile(r"^-N (ZKE(\d+)_\d+[IO])$", re.M)


def _remove_stale_chains():
    """Unhooks and deletes the chains of test processes that are gone (killed with
    SIGKILL, so their cleanup never ran): their DROP rules name ports others may now use."""
    r = subprocess.run(["iptables", "-w", "-S"], capture_output=True, text=True)
    for chain, pid in _CHAIN_RX.findall(r.stdout):
        try:
            os.kill(int(pid), 0)
            continue  # its process still runs: its own cleanup will remove it
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        hook = "INPUT" if chain.endswith("I") else "OUTPUT"
        while subprocess.run(["iptables", "-w", "-D", hook, "-j", chain], capture_output=True).returncode == 0:
            pass
        subprocess.run(["iptables", "-w", "-F", chain], capture_output=True)
        subprocess.run(["iptables", "-w", "-X", chain], capture_output=True)


def all_ensembles():
    return list(_ensembles)


def cleanup_all(remove_dirs=True):
    """Kills every member of every ensemble this process made, removes their iptables
    chains and (by default) their directories."""
    for e in _ensembles:
        try:
            e.cleanup(remove_dir=remove_dirs)
        except Exception:  # noqa: BLE001 - best effort
            pass


atexit.register(cleanup_all)
