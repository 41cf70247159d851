"""A kazoo client in its own process, driven over stdin/stdout (one JSON object per line).

The tests need a client whose connection can be frozen (SIGSTOP: no pings, socket left
open, so the server must expire the session by itself) or killed (SIGKILL: the connection
drops without closeSession, so the session outlives it) - which cannot be done to a thread.

    python3 kazoo_child.py HOST:PORT TIMEOUT_SECONDS
stdout: {"event": "state", "state": "CONNECTED"} for every kazoo state change, and one
answer line per command. Commands (stdin): {"op": "create", "path": p, "ephemeral": b,
"sequence": b}, {"op": "exists", "path": p}, {"op": "client_id"}, {"op": "quit"}.
Answers: {"ok": result} or {"error": "ExceptionName"}.
"""
import json
import logging
import sys
import threading

from kazoo.client import KazooClient

_out_lock = threading.Lock()


def emit(obj):
    with _out_lock:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()


def main():
    logging.basicConfig(level=logging.CRITICAL)
    hosts, timeout = sys.argv[1], float(sys.argv[2])
    zk = KazooClient(hosts=hosts, timeout=timeout)
    zk.add_listener(lambda state: emit({"event": "state", "state": str(state)}))
    zk.start(timeout=15)

    def client_id():
        cid = zk.client_id
        return None if cid is None else [cid[0], cid[1].hex()]

    for line in sys.stdin:
        try:
            cmd = json.loads(line)
        except ValueError:
            continue
        op = cmd.get("op")
        try:
            if op == "create":
                res = zk.create(cmd["path"], cmd.get("data", "").encode(), ephemeral=cmd.get("ephemeral", False),
                                sequence=cmd.get("sequence", False))
            elif op == "exists":
                st = zk.exists(cmd["path"])
                res = None if st is None else {"ephemeralOwner": st.ephemeralOwner}
            elif op == "client_id":
                res = client_id()
            elif op == "quit":
                zk.stop()
                zk.close()
                emit({"ok": True})
                return
            else:
                emit({"error": "unknown op %r" % op})
                continue
            emit({"ok": res})
        except Exception as e:  # noqa: BLE001 - the parent asserts on the name
            emit({"error": type(e).__name__})


if __name__ == "__main__":
    main()
