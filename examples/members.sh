#!/usr/bin/env bash
# members.sh - group membership (a service registry) over a zkfs mount.
#
# usage: members.sh MOUNT GROUP NAME [CMD [ARG...]]   join GROUP as NAME: while CMD runs, or,
#                                                    without CMD, until this script is stopped
#        members.sh MOUNT GROUP                      list GROUP's live members, one per line
#
# A member is an ephemeral node /members/GROUP/NAME whose data says where it runs ("host pid").
# It lives while the member does: members.sh deletes it when CMD ends or when it is stopped
# (SIGTERM, SIGINT, SIGHUP), and, being ephemeral, the server deletes it when the mount's
# session ends - so a crashed machine drops out of every group by itself, once its session
# times out. (After a SIGKILL of members.sh alone the node stays until the session ends.)
# Joining under a NAME that is already present fails (exit 1): names are unique in a group.
#
# examples:  members.sh /mnt/zk web "$(hostname)" ./serve.sh &     # register while serving
#            members.sh /mnt/zk web                                 # who is serving?
#            inotifywait -m -e create -e delete /mnt/zk/members/web # follow joins and leaves

set -u

usage() {
    echo "usage: members.sh MOUNT GROUP NAME [CMD [ARG...]]   (join)" >&2
    echo "       members.sh MOUNT GROUP                      (list)" >&2
    exit 2
}

[ $# -ge 2 ] || usage
mount=$1 group=$2
shift 2
case $group in "" | . | ..) usage ;; esac
dir=$mount/members/$group

# --- List: the live members are the group's children. --------------------------------------
if [ $# -eq 0 ]; then
    [ -d "$dir" ] || exit 0          # nobody ever joined
    exec ls -1 -- "$dir"
fi

# --- Join. ---------------------------------------------------------------------------------
name=$1
shift
case $name in "" | */* | . | .. | .*) echo "members.sh: bad member name '$name'" >&2; exit 2 ;; esac

joined=""
child=""
leave() {
    if [ -n "$child" ]; then
        kill -TERM "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    [ -n "$joined" ] && rm -f -- "$dir/$name"
}
trap leave EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p -- "$dir" || exit 1

# The `.ephemeral` suffix makes the mount create NAME as an ephemeral node. noclobber (set -C)
# makes the shell open with O_EXCL, which the mount turns into a plain create: if NAME is
# already a member, the create fails (EEXIST) instead of taking over the other's node.
set -C
if ! printf '%s %s\n' "$(uname -n)" "$$" > "$dir/$name.ephemeral"; then
    echo "members.sh: cannot join $group as $name (already a member?)" >&2
    exit 1
fi
set +C
joined=1

# Stay a member while CMD runs (or forever). In the background so that signals act at once.
if [ $# -gt 0 ]; then
    "$@" <&0 &
else
    sleep infinity &
fi
child=$!
wait "$child"
status=$?
child=""
exit "$status"       # the EXIT trap leaves the group
