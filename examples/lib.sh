# Shared by the recipes: sourced, not run.
# Callers keep the watcher's pid in $watcher (their EXIT trap kills it).

# wait_until DIR EVENTS RECHECK TEST [ARG...]: returns 0 once TEST succeeds, 1 if DIR can no
# longer be watched. Between tries it sleeps until one of the inotify EVENTS happens in DIR,
# or RECHECK seconds pass. The watch is set up before the first try, so a change that lands
# between a failed try and the sleep still wakes it: nothing is missed.
wait_until() {
    local dir=$1 events=$2 recheck=$3 line r rc=1
    shift 3
    coproc WATCH { exec inotifywait -m -e "$events" -- "$dir" 2>&1; }
    watcher=$WATCH_PID
    local fd=${WATCH[0]:-}
    # inotifywait says "Watches established." once it listens.
    while [ -n "$fd" ] && read -r -u "$fd" line 2>/dev/null; do
        [ "$line" = "Watches established." ] && break
    done
    while [ -n "$fd" ]; do
        if "$@"; then rc=0; break; fi
        read -r -u "$fd" -t "$recheck" line 2>/dev/null
        r=$?
        [ $r = 0 ] || [ $r -gt 128 ] || break      # not an event nor a timeout: the watch ended
    done
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    watcher=""
    return $rc
}
