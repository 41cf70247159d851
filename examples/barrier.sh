#!/usr/bin/env bash
# barrier.sh - a double barrier over a zkfs mount.
#
# usage: barrier.sh MOUNT NAME N [CMD [ARG...]]
#
# Enter the barrier NAME and wait until N members (counting this one) have entered; then run
# CMD, if given; then leave, and wait until every member has left. So no member starts CMD
# before all N are there, and none goes on past the barrier while another is still in CMD.
# Without CMD it is a plain rendezvous: all N return together.
# Exit status: CMD's (0 without CMD), or 1 on an error.
#
# example (on each of 3 machines):  barrier.sh /mnt/zk nightly-run 3 ./compute-shard.sh
#
# The recipe (ZooKeeper's "double barrier"):
#   enter: create an ephemeral sequential member node /barriers/NAME/m-<seq> (holding
#          "host pid"). Whoever sees N or more members creates /barriers/NAME/ready (several
#          may try: only one create succeeds, and that is enough). Everyone waits for `ready`,
#          sleeping on inotify events of the barrier's directory. Waiting for `ready` rather
#          than counting matters: a member that looks late, after others already left, still
#          goes through.
#   leave: delete our member node, then wait until no member node is left. Whoever sees the
#          barrier empty removes `ready`, so the same NAME can be used for the next round once
#          this one is over (rounds must not overlap). If members die mid-round, `ready` may be
#          left behind: remove it by hand (rmdir MOUNT/barriers/NAME/ready).

set -u
shopt -s nullglob

usage() {
    echo "usage: barrier.sh MOUNT NAME N [CMD [ARG...]]" >&2
    exit 2
}

[ $# -ge 3 ] || usage
mount=$1 name=$2 n=$3
shift 3
case $name in "" | */* | . | ..) usage ;; esac
case $n in "" | *[!0-9]*) usage ;; esac
[ "$n" -ge 1 ] || usage
dir=$mount/barriers/$name

me=""
child=""
watcher=""
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    [ -n "$me" ] && rm -f -- "$dir/$me"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

. "$(dirname "$0")/lib.sh"   # wait_until

members() {          # how many members are in the barrier now
    local m=("$dir"/m-[0-9]*)
    echo ${#m[@]}
}

released() {         # may we go? (ready is there, or we are enough to put it there)
    [ -e "$dir/ready" ] && return 0
    if [ "$(members)" -ge "$n" ]; then
        mkdir -- "$dir/ready" 2>/dev/null       # EEXIST: someone else was quicker, fine
        [ -e "$dir/ready" ]
        return
    fi
    return 1
}

empty() {            # has every member left?
    [ "$(members)" = 0 ]
}

mkdir -p -- "$dir" || exit 1

# Enter: our member node (ephemeral, sequential: unique without choosing a name).
exec {fd}> "$dir/m-.ephemeral.sequential" || exit 1
me=$(getfattr --absolute-names --only-values -n user.zk.name "/proc/self/fd/$fd") || { me=""; exit 1; }
printf '%s %s\n' "$(uname -n)" "$$" >&"$fd"
exec {fd}>&-

wait_until "$dir" create,delete 60 released || { echo "barrier.sh: $dir went away" >&2; exit 1; }

# Inside: run CMD (in the background, so that signals are handled at once).
status=0
if [ $# -gt 0 ]; then
    "$@" <&0 &
    child=$!
    wait "$child"
    status=$?
    child=""
fi

# Leave: delete our node, wait for the others to delete theirs, remove the flag.
rm -f -- "$dir/$me"
me=""
wait_until "$dir" delete 60 empty || { echo "barrier.sh: $dir went away" >&2; exit 1; }
rmdir -- "$dir/ready" 2>/dev/null     # ENOENT: another leaver removed it already
exit "$status"
