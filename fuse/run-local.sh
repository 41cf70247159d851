#!/usr/bin/env bash
# `make run`: the main job on one machine. Starts a standalone zkfsd with its embedded default
# (clients on 127.0.0.1:2181, data in ./zkfsd-data), mounts it at ./zk with zkfs-mount, prints
# what to try, and on Ctrl-C unmounts and stops the server.
set -u
cd "$(dirname "$0")/.."
MNT="$PWD/zk"
ADDR=127.0.0.1:2181
srv="" mnt=""

cleanup() {
    trap - INT TERM EXIT
    if mountpoint -q "$MNT" 2>/dev/null; then
        fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
    fi
    [ -n "$mnt" ] && kill "$mnt" 2>/dev/null && wait "$mnt" 2>/dev/null
    [ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
    echo "zkfs: stopped (data kept in ./zkfsd-data)"
}
trap cleanup INT TERM EXIT

if echo ruok | nc -q1 -w1 127.0.0.1 2181 2>/dev/null | grep -q imok; then
    echo "zkfs: something already answers on $ADDR; stop it first" >&2
    exit 1
fi
mountpoint -q "$MNT" 2>/dev/null && fusermount3 -uz "$MNT"
mkdir -p "$MNT"

./bin/zkfsd &
srv=$!
for _ in $(seq 100); do
    echo ruok | nc -q1 -w1 127.0.0.1 2181 2>/dev/null | grep -q imok && break
    kill -0 "$srv" 2>/dev/null || { echo "zkfs: zkfsd exited" >&2; exit 1; }
    sleep 0.1
done
./bin/zkfs-mount -f -o session_timeout=10000 "$ADDR" "$MNT" &
mnt=$!
for _ in $(seq 100); do
    mountpoint -q "$MNT" && break
    kill -0 "$mnt" 2>/dev/null || { echo "zkfs: zkfs-mount exited" >&2; exit 1; }
    sleep 0.1
done
cat <<TIPS

zkfs is up: zkfsd on $ADDR, mounted at ./zk. In another shell, try:

  mkdir zk/app; echo 'color=blue' > zk/app/config; cat zk/app/config
  getfattr -d -m user.zk zk/app/config          # the znode's Stat
  exec 3> zk/app/job-.sequential; getfattr --absolute-names --only-values -n user.zk.name /proc/self/fd/3; exec 3>&-
  echo here > zk/app/me.ephemeral               # gone when the mount's session ends
  flock zk/app.lock sleep 10 &  flock -n zk/app.lock true || echo locked
  inotifywait -m zk/app &  /usr/lib/zookeeper/bin/cli_mt $ADDR   # changes elsewhere show up
  ls examples/                                   # recipes: lock, leader election, queue...

Ctrl-C here stops it all.
TIPS
wait "$mnt"
