#!/usr/bin/env bash
# leader.sh - leader election over a zkfs mount.
#
# usage: leader.sh MOUNT GROUP ID CMD [ARG...]   stand for election in GROUP as ID; once
#                                               elected, run CMD; step down when it ends
#        leader.sh MOUNT GROUP                  print the ID of GROUP's current leader
#
# Any number of candidates, on any machines mounting the same ensemble, may stand in a GROUP;
# exactly one of them runs its CMD at a time. When the leader goes (CMD ends, leader.sh is
# stopped, or its machine's session ends) the next candidate in line takes over.
#
# example:  leader.sh /mnt/zk cron "$(hostname)" ./run-cron-jobs.sh
#
# The recipe (ZooKeeper's "leader election"):
#   1. Create an ephemeral sequential node /election/GROUP/n_<10 digits> holding ID. The
#      server numbers the nodes in creation order.
#   2. List the group. The candidate with the lowest number is the leader.
#   3. Every other candidate watches only the node just before its own, and when that one is
#      deleted goes back to 2. A leader's departure therefore wakes exactly one candidate -
#      no "herd" of every candidate rushing to re-read the group.
# While CMD runs, ZK_LEADER_ID holds ID and ZK_ELECTION_NODE the path of our node.
#
# SIGTERM, SIGINT or SIGHUP stop CMD (with SIGTERM) and withdraw the candidacy at once. The
# node is ephemeral, so it belongs to the mount's session rather than to this process: after a
# SIGKILL of leader.sh it stays (and the group waits) until that session ends - unmount, or
# the machine dies and the session times out.

set -u
shopt -s nullglob

usage() {
    echo "usage: leader.sh MOUNT GROUP ID CMD [ARG...]   (stand for election, run CMD as leader)" >&2
    echo "       leader.sh MOUNT GROUP                  (print the current leader's ID)" >&2
    exit 2
}

[ $# -ge 2 ] || usage
mount=$1 group=$2
shift 2
case $group in "" | . | ..) usage ;; esac
dir=$mount/election/$group

# --- Who leads? The lowest node's data. ----------------------------------------------------
if [ $# -eq 0 ]; then
    for try in 1 2 3 4 5; do
        nodes=("$dir"/n_[0-9]*)
        [ ${#nodes[@]} -gt 0 ] || { echo "leader.sh: no candidates in $group" >&2; exit 1; }
        # The node may go between the listing and the read: then look again.
        cat -- "${nodes[0]}" 2>/dev/null && exit 0
    done
    echo "leader.sh: could not read the leader of $group" >&2
    exit 1
fi

[ $# -ge 2 ] || usage
id=$1
shift
[ -n "$id" ] || usage

me=""        # our node's name, once created
child=""     # CMD's pid while we lead
waiter=""    # inotifywait's pid while we wait

withdraw() {
    [ -n "$waiter" ] && kill "$waiter" 2>/dev/null
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    [ -n "$me" ] && rm -f -- "$dir/$me"
}
trap withdraw EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p -- "$dir" || exit 1

# 1. Our candidacy. The suffix makes the mount create an ephemeral sequential node; the name
#    the server gave it is asked of the open descriptor, which refers to exactly that node
#    (listing the directory instead could not tell our node from a rival's).
exec {fd}> "$dir/n_.ephemeral.sequential" || exit 1
me=$(getfattr --absolute-names --only-values -n user.zk.name "/proc/self/fd/$fd") || { me=""; exit 1; }
printf '%s\n' "$id" >&"$fd"     # the data (our ID) is sent when the descriptor is closed
exec {fd}>&-

# 2./3. Wait until no node precedes ours.
while :; do
    if [ ! -e "$dir/$me" ]; then
        echo "leader.sh: our node $group/$me is gone (session expired?)" >&2
        me=""
        exit 1
    fi
    pred=""
    for n in "$dir"/n_[0-9]*; do     # glob order = sequence order (10 zero-padded digits)
        n=${n##*/}
        [[ $n < $me ]] && pred=$n    # the last one before ours
    done
    [ -z "$pred" ] && break          # nobody before us: we lead

    # Sleep until the predecessor is deleted. inotifywait fails at once if it is already gone,
    # so there is no window in which the deletion could be missed; the timeout is only a
    # safety net (re-check every 60 s whatever happens). It runs in the background so that a
    # signal to this script is handled at once rather than after inotifywait returns.
    inotifywait -qq -t 60 -e delete_self -- "$dir/$pred" 2>/dev/null &
    waiter=$!
    wait "$waiter"
    rc=$?
    waiter=""
    # rc 1 with the node still there is an error other than "already gone": don't spin.
    if [ "$rc" = 1 ] && [ -e "$dir/$pred" ]; then sleep 1; fi
done

# We lead. Run CMD in the background (keeping our stdin) so that signals reach us at once.
export ZK_LEADER_ID=$id ZK_ELECTION_NODE=$dir/$me
"$@" <&0 &
child=$!
wait "$child"
status=$?
child=""
exit "$status"     # the EXIT trap steps down (deletes our node)
