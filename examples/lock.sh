#!/usr/bin/env bash
# lock.sh - a cluster-wide mutex over a zkfs mount.
#
# usage: lock.sh [-s] [-n | -w SECONDS] MOUNT NAME CMD [ARG...]
#
# Runs CMD while holding the distributed lock NAME: while it runs, no other lock.sh (or kazoo
# Lock on /locks/NAME) anywhere on the ensemble holds NAME.
#   -s           shared lock: any number of -s holders at once, but none with a plain holder
#                (kazoo's ReadLock; plain is kazoo's Lock / WriteLock)
#   -n           do not wait: fail at once if the lock is held elsewhere
#   -w SECONDS   give up after waiting this long
# Exit status: CMD's, or 1 when the lock was not obtained (-n, -w, or an error).
#
# example:  lock.sh /mnt/zk deploy ./deploy.sh --prod
#
# How it works: zkfs-mount makes `NAME.lock` beside any node NAME a virtual file, and flock(2)
# on it runs ZooKeeper's lock recipe on the node /locks/NAME (created if missing): the waiter
# creates an ephemeral sequential child `<id>__lock__<seq>` and waits for its predecessor only.
# The lock is released when CMD exits (flock(1) closes the file), when flock is killed, and at
# the latest when the mount's session ends (the waiter node is ephemeral). So this whole recipe
# is one flock(1) call; the script only names things.

set -u

usage() {
    echo "usage: lock.sh [-s] [-n | -w SECONDS] MOUNT NAME CMD [ARG...]" >&2
    exit 2
}

opts=()
while [ $# -gt 0 ]; do
    case $1 in
        -s | -n) opts+=("$1"); shift ;;
        -w) [ $# -ge 2 ] || usage; opts+=(-w "$2"); shift 2 ;;
        --) shift; break ;;
        -*) usage ;;
        *) break ;;
    esac
done
[ $# -ge 3 ] || usage
mount=$1 name=$2
shift 2
case $name in "" | */* | . | ..) echo "lock.sh: bad lock name '$name'" >&2; exit 2 ;; esac

# The lock node's parent must exist; the lock node itself is created by the mount.
mkdir -p -- "$mount/locks" || exit 1

# flock opens the virtual file, takes the lock (waiting as told), runs CMD, and closes.
exec flock "${opts[@]}" -- "$mount/locks/$name.lock" "$@"
