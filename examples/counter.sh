#!/usr/bin/env bash
# counter.sh - an atomic distributed counter over a zkfs mount.
#
# usage: counter.sh MOUNT NAME [DELTA]
#
# Adds DELTA (a whole number, default 1) to the counter NAME, the node /counters/NAME, and
# prints the new value. A counter that does not exist yet starts at 0. Any number of clients
# may count at once, on any machines: no increment is ever lost, and each call prints a value
# no other call printed. Read a counter without changing it with `cat MOUNT/counters/NAME`.
#
# examples:  counter.sh /mnt/zk builds             # -> 1, 2, 3 ...
#            ticket=$(counter.sh /mnt/zk tickets)
#
# The recipe is an optimistic read-modify-write, ZooKeeper's compare-and-set: read the value,
# and write value+DELTA "only if the node is still at the version we read". The mount does
# the version check for us: a file opened without O_TRUNC (here: `<>`, read-write) starts from
# the node's current data and version, and its contents are sent at close as one setData at
# that version. If anyone changed the counter in between, the server refuses it, the close
# fails with EAGAIN ("Resource temporarily unavailable") and nothing is written: we start over.
#
# Two details of doing this from bash:
#  - The value is read through a fresh open *after* the read-write open, never before it: the
#    read-write open fixes the version the write will be checked against, so the value read
#    afterwards is that version's data or newer - and if it is newer, the check fails and we
#    retry. (Reading through the read-write descriptor itself would move its offset, and bash
#    cannot seek back to write at offset 0.)
#  - The new value is written by a child process (coreutils printf). The close that sends the
#    data happens when it exits, and coreutils checks that close and reports its error; bash
#    ignores errors of closing its own descriptors.

set -u
export LC_ALL=C      # error messages are matched below (this script runs no user command)

usage() {
    echo "usage: counter.sh MOUNT NAME [DELTA]" >&2
    exit 2
}

[ $# = 2 ] || [ $# = 3 ] || usage
mount=$1 name=$2 delta=${3:-1}
case $name in "" | */* | . | .. | .*) echo "counter.sh: bad counter name '$name'" >&2; exit 2 ;; esac
case $delta in "" | *[!0-9]*) echo "counter.sh: DELTA must be a whole number" >&2; exit 2 ;; esac
file=$mount/counters/$name
mkdir -p -- "$mount/counters" || exit 1

err="" fd=""
for attempt in $(seq 1 200); do
    [ -n "$fd" ] && exec {fd}>&-
    fd=""
    # A counter created empty shows as a directory on other mounts; its data is then DIR/.data.
    target=$file
    [ -d "$file" ] && target=$file/.data

    # 1. Open read-write (created, empty, if missing): this fixes the version we write against.
    if ! { exec {fd}<> "$target"; } 2>/dev/null; then
        fd=""
        err="cannot open $target"
        continue                     # e.g. it changed shape meanwhile: look again
    fi

    # 2. Read the current value (empty = 0), through a fresh open made after step 1.
    old=$(cat -- "$target" 2>/dev/null) || { err="cannot read $target"; continue; }
    old=${old//[[:space:]]/}
    [ -z "$old" ] && old=0
    case $old in *[!0-9]*) echo "counter.sh: $name holds '$old', not a number" >&2; exit 1 ;; esac
    new=$((10#$old + delta))

    # 3. Write the new value at offset 0 (the new text is never shorter than the old one, so it
    #    replaces it entirely), and close: the setData is checked against step 1's version.
    if err=$(env printf '%s\n' "$new" 2>&1 >&"$fd"); then
        exec {fd}>&-
        echo "$new"
        exit 0
    fi
    case $err in
        *"Resource temporarily unavailable"*) ;;   # EAGAIN: someone counted first; again
        *"No such file"*) ;;                       # deleted meanwhile: start from 0 again
        *) exec {fd}>&-; echo "counter.sh: $err" >&2; exit 1 ;;
    esac
done
[ -n "$fd" ] && exec {fd}>&-
echo "counter.sh: gave up after $attempt attempts (last: $err)" >&2
exit 1
