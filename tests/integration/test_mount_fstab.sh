#!/usr/bin/env bash
# mount(8) integration: `mount -t fuse.zkfs SOURCE DIR` (what an fstab line does) runs
# /sbin/mount.fuse.zkfs, which `make install` links to zkfs-mount; `umount` ends the session.
# Starts its own zkfsd on a free loopback port; puts the link in place only for the test when
# none is installed, and removes what it made.
set -u
cd "$(dirname "$0")/../.."
pass=0 fail=0
T=$(mktemp -d /tmp/zkfs-fstab.XXXXXX)
LINK=/sbin/mount.fuse.zkfs
made_link=""
srv=""
cleanup() {
    mountpoint -q "$T/mnt" 2>/dev/null && { umount "$T/mnt" 2>/dev/null || fusermount3 -uz "$T/mnt"; }
    [ -n "$made_link" ] && rm -f "$LINK"
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
check() { # name command...
    local name=$1; shift
    if "$@"; then echo "ok   $name"; pass=$((pass + 1)); else echo "FAIL $name"; fail=$((fail + 1)); fi
}
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$T/mnt" "$T/data"
printf 'tickTime=500\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nforceSync=no\n' "$T/data" "$PORT" >"$T/zoo.cfg"
./bin/zkfsd "$T/zoo.cfg" >"$T/zkfsd.log" 2>&1 &
srv=$!
for _ in $(seq 100); do echo ruok | nc -q1 -w1 127.0.0.1 "$PORT" 2>/dev/null | grep -q imok && break; sleep 0.1; done
if [ ! -e "$LINK" ]; then ln -s "$PWD/bin/zkfs-mount" "$LINK" && made_link=1; fi

check "mount -t fuse.zkfs succeeds" mount -t fuse.zkfs -o session_timeout=5000,log="$T/mount.log" "127.0.0.1:$PORT" "$T/mnt"
check "it is a fuse.zkfs mount of the connect string" grep -q "^127.0.0.1:$PORT $T/mnt fuse.zkfs " /proc/mounts
echo hello >"$T/mnt/e.ephemeral" 2>/dev/null
check "writes through it" test "$(cat "$T/mnt/e" 2>/dev/null)" = hello
check "umount unmounts" umount "$T/mnt"
check "the session ended: its ephemeral is gone" bash -c "
    for _ in \$(seq 50); do
        /usr/bin/python3 -c 'import sys; from kazoo.client import KazooClient as K; z=K(\"127.0.0.1:$PORT\"); z.start(); sys.exit(0 if z.exists(\"/e\") is None else 1)' 2>/dev/null && exit 0
        sleep 0.1
    done; exit 1"
echo "fstab: $pass passed, $fail failed"
[ "$fail" = 0 ]
