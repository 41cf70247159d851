#!/usr/bin/env bash
# config.sh - shared configuration over a zkfs mount (ZooKeeper's "configuration management").
#
# usage: config.sh MOUNT KEY            print KEY's value (exit 1 if KEY is not set)
#        config.sh MOUNT KEY VALUE      set KEY to VALUE (for everyone, at once)
#        config.sh watch MOUNT KEY      print KEY's value now and again after every change,
#                                       one line each, until stopped
#
# A KEY is a path under /config, e.g. `db/url` is the node /config/db/url; its data is the
# value, stored as given (no newline added; printing adds one). Setting a value is one
# setData (the mount sends the whole new contents when the file is closed), so every other
# client reads the old value or the new one, never a mix. (Only on the writer's own mount
# does the file read empty while the write is in progress, as any file does between an
# O_TRUNC open and its write.)
#
# examples:  config.sh /mnt/zk db/url postgres://db7/prod
#            config.sh /mnt/zk db/url
#            config.sh watch /mnt/zk db/url | while read -r url; do reconnect "$url"; done
#
# watch relies on the mount's inotify support: a change made by any client anywhere raises
# IN_MODIFY on the file (IN_CREATE / IN_DELETE when the key appears or goes). Like a ZooKeeper
# watch it reports states, not every write: changes in quick succession (within 0.1 s) may
# show as one, the latest, and setting the same value again prints nothing. When the key is
# deleted, watch says so on standard error and prints the value again once the key is back.

set -u

usage() {
    echo "usage: config.sh MOUNT KEY [VALUE] | config.sh watch MOUNT KEY" >&2
    exit 2
}

watching=""
if [ "${1:-}" = watch ]; then
    watching=1
    shift
    [ $# = 2 ] || usage
fi
[ $# = 2 ] || [ $# = 3 ] || usage
mount=$1 key=$2
case /$key/ in //* | */./* | */../* | *//*) echo "config.sh: bad key '$key'" >&2; exit 2 ;; esac
file=$mount/config/$key

# A node with data and no children is a file. A key that has children, or that was set to the
# empty value by another client, shows as a directory: its data is then DIR/.data.
datafile() {
    if [ -d "$file" ]; then echo "$file/.data"; else echo "$file"; fi
}

get() {              # KEY's value (plus a newline) on stdout; 1 if not set
    local v
    [ -e "$file" ] || return 1
    v=$(cat -- "$(datafile)" 2>/dev/null) || return 1
    printf '%s\n' "$v"
}

# --- read --------------------------------------------------------------------------------
if [ -z "$watching" ] && [ $# = 2 ]; then
    get && exit 0
    echo "config.sh: $key is not set" >&2
    exit 1
fi

# --- write -------------------------------------------------------------------------------
if [ -z "$watching" ]; then
    mkdir -p -- "$(dirname -- "$file")" || exit 1
    # Written by a child process (printf from coreutils), so that an error at the close that
    # sends the data is reported and reflected in our exit status.
    exec env printf '%s' "$3" > "$(datafile)"
fi

# --- watch -------------------------------------------------------------------------------
# Watch the key's directory rather than the key itself, so that the watch also sees the key
# being created (or deleted and created again); events name the child they concern.
parent=$(dirname -- "$file") base=$(basename -- "$file")
mkdir -p -- "$parent" || exit 1
watcher=""
trap '[ -n "$watcher" ] && kill "$watcher" 2>/dev/null' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 141' PIPE

coproc WATCH { exec inotifywait -m -e modify,close_write,create,delete,moved_to,moved_from \
                   --format '%f' -- "$parent" 2>&1; }
watcher=$WATCH_PID
fd=${WATCH[0]:-}
[ -n "$fd" ] || { echo "config.sh: cannot watch $parent" >&2; exit 1; }
# Once inotifywait listens (it says so), the first value is printed: a change after this point
# raises an event, so none is missed between the first print and the loop.
while read -r -u "$fd" line; do
    [ "$line" = "Watches established." ] && break
done

last="" have=""      # the value printed last, and whether there is one
show() {
    local v
    if [ -e "$file" ] && v=$(cat -- "$(datafile)" 2>/dev/null); then
        if [ -z "$have" ] || [ "$v" != "$last" ]; then
            printf '%s\n' "$v"
            last=$v have=1
        fi
    elif [ -n "$have" ] || [ -z "${said_unset:-}" ]; then
        echo "config.sh: $key is not set" >&2
        last="" have="" said_unset=1
    fi
}

# An empty node without children that another mount just created shows here as a directory,
# and it gets no inotify event when its data arrives (the mount saw no data to change): after a
# create, give such a node a moment to get its data before reading it.
settle() {
    local i
    for i in 1 2 3 4 5 6 7 8 9 10; do
        [ -d "$file" ] && [ ! -s "$file/.data" ] && [ -z "$(ls -A "$file" 2>/dev/null)" ] || return 0
        sleep 0.1
    done
}

show
while read -r -u "$fd" changed; do
    [ "$changed" = "$base" ] || continue
    # Let a burst of events pass before reading: a write on this mount is an open that empties
    # the file (O_TRUNC), the write, and the close that sends the data, and the file reads
    # empty until that close. Reading once the burst is over sees the value that was sent.
    while read -r -u "$fd" -t 0.1 _; do :; done
    settle
    show
done
echo "config.sh: the watch on $parent ended" >&2
exit 1
