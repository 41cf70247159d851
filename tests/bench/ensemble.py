#!/usr/bin/python3
"""`make bench`, ensembles: a 3-member zkfsd ensemble against a 3-member Apache ZooKeeper 3.8
ensemble on this machine, in one run, with the same client (zkload, on Apache ZooKeeper's C
client, connected to all three members), reporting zkfsd/ZooKeeper ratios. Measurement only:
nothing here asserts a timing.

Each ensemble (tests/lib/ensemble.py: members on 127.0.0.1-3, forceSync on, the same zoo.cfg
keys) runs alone while it is measured, so that the six processes do not share the two cores
with the other kind's. Workloads: create, set (writes: proposed, logged on a quorum, committed)
and get (reads, served by whichever member a client is connected to), with 8 clients of 32
outstanding requests each; then a leader failover, repeated: kill -9 of the leader while a
client writes, and the time until a new leader answers `srvr` and until the client's next
write succeeds. Memory: the members' summed resident set (VmRSS) after the workloads.

Output: the table on stdout and appended to build/bench-results.txt.
Environment: BUILD (build/rel), BENCH_SECS (3), BENCH_FAILOVERS (3), BENCH_OUT.
"""
import logging
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

import ensemble  # noqa: E402
from kazoo.client import KazooClient  # noqa: E402
from kazoo.retry import KazooRetry  # noqa: E402

BUILD = os.environ.get("BUILD", "build/rel")
ZKLOAD = os.path.join(BUILD, "tests", "zkload")
SECS = float(os.environ.get("BENCH_SECS", "3"))
FAILOVERS = int(os.environ.get("BENCH_FAILOVERS", "3"))
OUT = os.environ.get("BENCH_OUT", "build/bench-results.txt")
CLIENTS, OUTSTANDING = 8, 32


def rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def load(ens, op):
    cmd = [ZKLOAD, "-s", ens.connect_string(), "-o", op, "-c", str(CLIENTS), "-n", str(OUTSTANDING), "-d", "100",
           "-t", str(SECS), "-W", "1", "-T", "10000", "-p", "/bench-%s" % op]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=SECS + 90)
    except subprocess.TimeoutExpired:
        return None, "zkload hung"
    m = re.search(r"ops_per_sec=([0-9.]+)", r.stdout)
    errs = re.search(r"errors=([0-9]+)", r.stdout)
    if not m:
        return None, (r.stdout + r.stderr).strip().splitlines()[-1:] or ["no output"]
    return float(m.group(1)), ("errors=%s" % errs.group(1) if errs and errs.group(1) != "0" else "")


def failover(ens):
    """kill -9 of the leader under a writing client: (seconds to a new leader, seconds to the
    client's next successful write)."""
    old = ens.wait_leader(30)
    zk = KazooClient(hosts=ens.connect_string(), timeout=10.0,
                     connection_retry=KazooRetry(max_tries=-1, delay=0.02, max_delay=0.2))
    zk.start(timeout=20)
    try:
        zk.ensure_path("/failover")
        zk.create("/failover/before", b"", sequence=True)
        t0 = time.monotonic()
        ens.kill9(old)
        t_leader = t_write = None
        deadline = t0 + 60
        while time.monotonic() < deadline and (t_leader is None or t_write is None):
            if t_leader is None and any(ens.mode(i) == "leader" for i in ens.ids if i != old):
                t_leader = time.monotonic() - t0
            if t_write is None:
                try:
                    zk.retry(zk.create, "/failover/after", b"", sequence=True)
                    t_write = time.monotonic() - t0
                except Exception:
                    pass
            time.sleep(0.005)
    finally:
        zk.stop()
        zk.close()
    ens.start_member(old)
    ens.wait_stable(60)
    return t_leader, t_write


def measure(kind):
    res = {}
    ens = ensemble.Ensemble(kind, tick_time=2000).start()
    try:
        for op in ("create", "set", "get"):
            res[op] = load(ens, op)
        res["rss"] = sum(rss_kb(ens.member(i).proc.pid) for i in ens.ids if ens.alive(i))
        times = [failover(ens) for _ in range(FAILOVERS)]
        res["leader"] = [t[0] for t in times]
        res["write"] = [t[1] for t in times]
    finally:
        ens.cleanup(remove_dir=True)
    return res


def median(v):
    v = sorted(x for x in v if x is not None)
    return v[len(v) // 2] if v else None


def main():
    logging.getLogger("kazoo").setLevel(logging.CRITICAL)  # failovers make it chatty
    if not os.path.exists(ZKLOAD):
        print("ensemble bench: %s is missing (make bench builds it)" % ZKLOAD)
        return 1
    results = {}
    for kind in ("zkfsd", "apache"):
        try:
            results[kind] = measure(kind)
        except Exception as e:  # report, never hide: the table says failed
            print("ensemble bench: %s: %s" % (kind, e))
            results[kind] = None
    ensemble.cleanup_all()
    lines = ["", "3-member ensembles (127.0.0.1-3, tickTime 2000, forceSync on; zkload: %d clients x %d "
             "outstanding, 100-byte data, %g s per run; failover: kill -9 of the leader, median of %d)"
             % (CLIENTS, OUTSTANDING, SECS, FAILOVERS),
             "%-26s %14s %14s %8s" % ("", "zkfsd", "ZooKeeper", "ratio")]
    f, a = results.get("zkfsd"), results.get("apache")

    def row(name, fv, av, fmt, better_low=False):
        fs = fmt % fv if fv is not None else "failed"
        as_ = fmt % av if av is not None else "failed"
        ratio = ""
        if fv and av:
            ratio = "%.2fx" % ((av / fv) if better_low else (fv / av))
        lines.append("%-26s %14s %14s %8s" % (name, fs, as_, ratio))

    for op, label in (("create", "create ops/s"), ("set", "set ops/s"), ("get", "get ops/s")):
        row(label, f and f[op][0], a and a[op][0], "%.0f")
    row("new leader after (s)", f and median(f["leader"]), a and median(a["leader"]), "%.2f", better_low=True)
    row("next write after (s)", f and median(f["write"]), a and median(a["write"]), "%.2f", better_low=True)
    row("members' RSS (MiB)", f and f["rss"] / 1024, a and a["rss"] / 1024, "%.1f", better_low=True)
    lines.append("ratio: zkfsd's advantage (throughput zkfsd/ZooKeeper; times and memory ZooKeeper/zkfsd)")
    for kind, r in (("zkfsd", f), ("apache", a)):
        if r:
            notes = " ".join("%s:%s" % (op, r[op][1]) for op in ("create", "set", "get") if r[op][1])
            lines.append("%s raw: leader %s write %s %s" % (kind, ["%.2f" % x if x is not None else "-" for x in r["leader"]],
                                                          ["%.2f" % x if x is not None else "-" for x in r["write"]], notes))
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.dirname(OUT) or ".", exist_ok=True)
    with open(OUT, "a") as fo:
        fo.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
