#!/usr/bin/env bash
# `make run`: the main job on one machine. Starts a 3-member zkfsd ensemble on 127.0.0.1-3
# (clients on port 2181 of each, quorum port 2888, data in ./zkfsd-data/<id>) from the embedded
# configuration below, mounts it at ./zk with zkfs-mount (which fails over between the three),
# prints what to try, and on Ctrl-C unmounts and stops the servers.
set -u
cd "$(dirname "$0")/.."
MNT="$PWD/zk"
ADDR=127.0.0.1:2181,127.0.0.2:2181,127.0.0.3:2181
DATA="$PWD/zkfsd-data"
srv="" mnt=""

cleanup() {
    trap - INT TERM EXIT
    if mountpoint -q "$MNT" 2>/dev/null; then
        fusermount3 -u "$MNT" 2>/dev/null || fusermount3 -uz "$MNT" 2>/dev/null
    fi
    [ -n "$mnt" ] && kill "$mnt" 2>/dev/null && wait "$mnt" 2>/dev/null
    for p in $srv; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    echo "zkfs: stopped (data kept in ./zkfsd-data)"
}
trap cleanup INT TERM EXIT

for i in 1 2 3; do
    if echo ruok | nc -q1 -w1 127.0.0.$i 2181 2>/dev/null | grep -q imok; then
        echo "zkfs: something already answers on 127.0.0.$i:2181; stop it first" >&2
        exit 1
    fi
done
mountpoint -q "$MNT" 2>/dev/null && fusermount3 -uz "$MNT"
mkdir -p "$MNT"

# The members authenticate each other with a secret made once and kept with the data.
mkdir -p "$DATA"
[ -s "$DATA/secret" ] || (umask 077; od -An -tx1 -N16 /dev/urandom | tr -d ' \n' > "$DATA/secret")
for i in 1 2 3; do
    mkdir -p "$DATA/$i"
    echo "$i" > "$DATA/$i/myid"
    cat > "$DATA/$i/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$DATA/$i
clientPort=2181
clientPortAddress=127.0.0.$i
4lw.commands.whitelist=*
zkfs.quorum.secret=$(cat "$DATA/secret")
server.1=127.0.0.1:2888:3888
server.2=127.0.0.2:2888:3888
server.3=127.0.0.3:2888:3888
CFG
    ./bin/zkfsd "$DATA/$i/zoo.cfg" 2>> "$DATA/$i/zkfsd.log" &
    srv="$srv $!"
done
# serving once a leader is established and the members follow it
for _ in $(seq 300); do
    n=0
    for i in 1 2 3; do
        echo srvr | nc -q1 -w1 127.0.0.$i 2181 2>/dev/null | grep -q '^Mode: \(leader\|follower\)' && n=$((n + 1))
    done
    [ "$n" = 3 ] && break
    for p in $srv; do kill -0 "$p" 2>/dev/null || { echo "zkfs: a zkfsd exited; see $DATA/*/zkfsd.log" >&2; exit 1; }; done
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

zkfs is up: a 3-member zkfsd ensemble on $ADDR, mounted at ./zk (logs in ./zkfsd-data/<id>/zkfsd.log).
In another shell, try:

  mkdir zk/app; echo 'color=blue' > zk/app/config; cat zk/app/config
  getfattr -d -m user.zk zk/app/config          # the znode's Stat
  exec 3> zk/app/job-.sequential; getfattr --absolute-names --only-values -n user.zk.name /proc/self/fd/3; exec 3>&-
  echo here > zk/app/me.ephemeral               # gone when the mount's session ends
  flock zk/app.lock sleep 10 &  flock -n zk/app.lock true || echo locked
  inotifywait -m zk/app &  /usr/lib/zookeeper/bin/cli_mt 127.0.0.2:2181   # changes elsewhere show up
  for i in 1 2 3; do echo srvr | nc -q1 127.0.0.$i 2181 | grep Mode; done     # who leads
  kill -9 <the leader's pid>                    # the mount pauses, then goes on (2 of 3 remain)
  ls examples/                                   # recipes: lock, leader election, queue...

Ctrl-C here stops it all.
TIPS
wait "$mnt"
