#!/usr/bin/env bash
# queue.sh - a distributed FIFO queue over a zkfs mount.
#
# usage: queue.sh MOUNT QUEUE put [DATA...]   add an item: DATA (the words joined by spaces,
#                                            plus a newline), or standard input without DATA;
#                                            prints the item's node name
#        queue.sh MOUNT QUEUE take           remove the oldest item and print its data;
#                                            waits while the queue is empty
#        queue.sh MOUNT QUEUE                list the waiting items (oldest first)
#
# Any number of producers and consumers, on any machines: every item is taken exactly once,
# in the order the items were put.
#
# examples:  queue.sh /mnt/zk jobs put "resize photo-17.jpg"
#            while job=$(queue.sh /mnt/zk jobs take); do run-job $job; done
#            timeout 10 queue.sh /mnt/zk jobs take || echo "nothing within 10 s"
#
# The recipe (ZooKeeper's "queue"):
#   put:  create a sequential node /queues/QUEUE/item-<10 digits> with the data. The server
#         numbers the items in creation order, so name order is queue order.
#   take: list the items, read the lowest, and delete it. The delete is the claim: when two
#         consumers race for the same item, the server lets exactly one delete succeed and the
#         other gets "No such file" (ENOENT) and tries the next item. An empty queue is waited
#         for with inotifywait (a new item raises IN_CREATE in the queue's directory).
# The mount creates a node at open and sends its data at close, so for a moment a new item is
# there without data; take leaves such items alone until their data arrives. Items always
# have data (put refuses an empty item), so "empty" means "still being written".

set -u
shopt -s nullglob

usage() {
    echo "usage: queue.sh MOUNT QUEUE put [DATA...] | take" >&2
    exit 2
}

[ $# -ge 2 ] || usage
mount=$1 queue=$2
shift 2
case $queue in "" | . | ..) usage ;; esac
dir=$mount/queues/$queue
tmp=""
watcher=""
cleanup() {
    [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
    [ -n "$tmp" ] && rm -f -- "$tmp"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

. "$(dirname "$0")/lib.sh"   # wait_until

items() {            # the items, oldest first (10 zero-padded digits sort as numbers)
    ITEMS=("$dir"/item-[0-9]*)
}

any_item() {         # is there an item at all (with its data in or not)?
    items
    [ ${#ITEMS[@]} -gt 0 ]
}

ready() {            # is there an item with its data in?
    local f
    items
    for f in "${ITEMS[@]}"; do [ -f "$f" ] && [ -s "$f" ] && return 0; done
    return 1
}

case ${1:-} in
'')
    [ -d "$dir" ] || exit 0
    items
    for f in "${ITEMS[@]}"; do echo "${f##*/}"; done
    ;;

put)
    shift
    mkdir -p -- "$dir" || exit 1
    if [ $# -eq 0 ]; then        # the item is standard input, copied aside first: refuse it if empty
        tmp=$(mktemp) || exit 1
        cat > "$tmp" || exit 1
        [ -s "$tmp" ] || { echo "queue.sh: empty item refused" >&2; exit 1; }
    fi
    # Create the sequential node and learn its name from the descriptor: race-free, unlike
    # listing the directory.
    exec {fd}> "$dir/item-.sequential" || exit 1
    name=$(getfattr --absolute-names --only-values -n user.zk.name "/proc/self/fd/$fd")
    # The data goes through a child process, so that the close that sends it is checked
    # (a builtin's write error would go unnoticed).
    if [ $# -eq 0 ]; then
        cat -- "$tmp" >&"$fd"
    else
        env printf '%s\n' "$*" >&"$fd"
    fi
    rc=$?
    exec {fd}>&-
    if [ $rc != 0 ] || [ -z "$name" ]; then
        [ -n "$name" ] && rm -f -- "$dir/$name"      # don't leave an empty item behind
        echo "queue.sh: put failed" >&2
        exit 1
    fi
    echo "$name"
    ;;

take)
    mkdir -p -- "$dir" || exit 1
    tmp=$(mktemp) || exit 1
    while :; do
        items
        pending=""
        for f in "${ITEMS[@]}"; do
            # An item without data is still being put: leave it, look at the next.
            if ! { [ -f "$f" ] && [ -s "$f" ]; }; then pending=1; continue; fi
            # Read it, then try to claim it by deleting it.
            cat -- "$f" > "$tmp" 2>/dev/null || continue        # just taken by someone else
            if err=$(LC_ALL=C unlink -- "$f" 2>&1); then
                cat -- "$tmp"
                exit 0
            fi
            case $err in
                *"No such file"*) continue ;;                   # someone else claimed it first
                *) echo "queue.sh: $err" >&2; exit 1 ;;
            esac
        done
        # Nothing to take. Sleep until an item is created in the queue (IN_CREATE), or, while
        # items are still being put, until one of them has its data (looked at twice a second:
        # a node that gets its data from another mount raises no inotify event when this mount
        # saw it without data). The once-a-minute look is only a safety net.
        if [ -n "$pending" ]; then
            wait_until "$dir" create,modify,close_write,moved_to 0.5 ready
        else
            wait_until "$dir" create,moved_to 60 any_item
        fi || { echo "queue.sh: $dir went away" >&2; exit 1; }
    done
    ;;

*) usage ;;
esac
