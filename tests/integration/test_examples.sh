#!/usr/bin/env bash
# Runs every recipe in examples/ for real: a bin/zkfsd on a free port of 127.0.0.1, two
# bin/zkfs-mount mounts of it (A and B: two sessions, as two machines would have; a third, C,
# for a session that ends), and the scripts working with and racing each other across them.
# Each check prints "ok" or "FAIL"; the last line is "examples: N passed, N failed", and the
# exit status is non-zero if any check failed. Every wait is bounded; nothing sleeps a fixed
# time to let something get ready. KEEP=1 keeps the temporary directory (logs) afterwards.
# ZKFSD and ZKFS_MOUNT override the binaries.
set -u
export LC_ALL=C

REPO=$(cd "$(dirname "$0")/../.." && pwd)
EX=$REPO/examples
ZKFSD=${ZKFSD:-$REPO/bin/zkfsd}
ZKFS_MOUNT=${ZKFS_MOUNT:-$REPO/bin/zkfs-mount}

passed=0
failed=0
ok()  { passed=$((passed + 1)); echo "ok   $*"; }
bad() { failed=$((failed + 1)); echo "FAIL $*"; }
check() {            # check DESCRIPTION CMD [ARG...]: ok if CMD succeeds
    local what=$1
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

work=$(mktemp -d /tmp/zkfs-examples.XXXXXX)
server_pid=""
mounts=()            # mount directories
mount_pids=()
groups=()            # process groups of the recipes started in the background

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# wait_for SECONDS CMD [ARG...]: polls CMD until it succeeds; 1 if SECONDS pass first.
wait_for() {
    local end=$(( $(now_ms) + $1 * 1000 ))
    shift
    until "$@"; do
        [ "$(now_ms)" -lt "$end" ] || return 1
        sleep 0.05
    done
}

# wait_exit SECONDS PID: waits for a background process to end; its exit status, or 124 if it
# is still running after SECONDS.
wait_exit() {
    local end=$(( $(now_ms) + $1 * 1000 )) pid=$2
    while kill -0 "$pid" 2>/dev/null; do
        [ "$(now_ms)" -lt "$end" ] || return 124
        sleep 0.05
    done
    wait "$pid"
}

running() { kill -0 "$1" 2>/dev/null; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# spawn NAME CMD [ARG...]: runs CMD in the background in a process group of its own (so that
# cleanup can stop it with everything it started), stdout/stderr in $work/NAME.out/.err.
# The pid (= process group id) is left in $spawned.
spawn() {
    local name=$1
    shift
    setsid "$@" > "$work/$name.out" 2> "$work/$name.err" < /dev/null &
    spawned=$!
    groups+=("$spawned")
}

stop_group() {       # SIGTERM to a spawned process group, then SIGKILL if it lingers
    local g=$1
    kill -TERM -- "-$g" 2>/dev/null || return 0
    wait_exit 3 "$g" > /dev/null 2>&1 || kill -KILL -- "-$g" 2>/dev/null
    wait "$g" 2>/dev/null
    return 0
}

unmount() {
    local d=$1
    mountpoint -q "$d" || return 0
    fusermount3 -u "$d" 2>/dev/null || fusermount3 -uz "$d" 2>/dev/null
    wait_for 5 eval '! mountpoint -q "$d"'
}

cleanup() {
    local g i
    trap - EXIT INT TERM
    for g in "${groups[@]}"; do stop_group "$g"; done
    for i in "${!mounts[@]}"; do
        unmount "${mounts[$i]}"
        if ! wait_exit 5 "${mount_pids[$i]}" > /dev/null 2>&1; then
            kill -KILL "${mount_pids[$i]}" 2>/dev/null
            wait "${mount_pids[$i]}" 2>/dev/null
        fi
    done
    if [ -n "$server_pid" ]; then
        kill -TERM "$server_pid" 2>/dev/null
        wait_exit 5 "$server_pid" > /dev/null 2>&1 || kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    if [ "$failed" != 0 ]; then
        echo "---- logs of $work ----"
        for f in "$work"/zkfsd.log "$work"/mount-*.log "$work"/*.err; do
            [ -s "$f" ] || continue
            echo "-- ${f##*/} (tail):"
            tail -n 15 "$f"
        done
        echo "----"
    fi
    local still=""
    for i in "${!mounts[@]}"; do mountpoint -q "${mounts[$i]}" && still=1; done
    if [ -n "$still" ]; then
        echo "(a mount is still up: $work kept)"
    elif [ "${KEEP:-}" = 1 ]; then
        echo "(kept $work)"
    else
        rm -rf -- "$work"
    fi
    echo "examples: $passed passed, $failed failed"
    [ "$failed" = 0 ] && exit 0
    exit 1
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Prerequisites, server, mounts.

missing=""
for t in inotifywait getfattr flock nc fusermount3 mountpoint setsid timeout; do
    command -v "$t" > /dev/null || missing="$missing $t"
done
[ -x "$ZKFSD" ] || missing="$missing $ZKFSD"
[ -x "$ZKFS_MOUNT" ] || missing="$missing $ZKFS_MOUNT"
[ -e /dev/fuse ] || missing="$missing /dev/fuse"
if [ -n "$missing" ]; then
    bad "prerequisites: missing$missing (make deps; make)"
    exit 1
fi

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ruok() { [ "$(echo ruok | timeout 2 nc -N 127.0.0.1 "$port" 2>/dev/null)" = imok ]; }
server_up() { running "$server_pid" && ruok; }

started=""
for attempt in 1 2 3; do
    port=$(free_port)
    rm -rf "$work/data"
    mkdir -p "$work/data"
    cat > "$work/zoo.cfg" <<EOF
tickTime=2000
dataDir=$work/data
clientPort=$port
clientPortAddress=127.0.0.1
forceSync=no
4lw.commands.whitelist=*
admin.enableServer=false
EOF
    "$ZKFSD" "$work/zoo.cfg" >> "$work/zkfsd.log" 2>&1 < /dev/null &
    server_pid=$!
    if wait_for 20 server_up; then started=1; break; fi
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""                     # a port taken meanwhile, perhaps: try another one
done
if [ -z "$started" ]; then
    bad "zkfsd answers ruok on 127.0.0.1"
    exit 1
fi

mount_at() {         # mount_at DIR: a mount of the server at DIR, in the foreground (-f)
    local d=$1
    mkdir -p "$d"
    "$ZKFS_MOUNT" -f -o session_timeout=10000 "127.0.0.1:$port" "$d" \
        >> "$work/mount-${d##*/}.log" 2>&1 < /dev/null &
    mounts+=("$d")
    mount_pids+=($!)
    wait_for 10 mountpoint -q "$d"
}
A=$work/a
B=$work/b
C=$work/c
if ! mount_at "$A" || ! mount_at "$B"; then
    bad "zkfs-mount mounts the server twice"
    exit 1
fi
echo "# zkfsd on 127.0.0.1:$port, mounted at $A and $B"

# Helpers for the checks.
nlines() { if [ -e "$1" ]; then wc -l < "$1"; else echo 0; fi; }
has_lines() { [ "$(nlines "$1")" -ge "$2" ]; }
exactly_lines() { [ "$(nlines "$1")" = "$2" ]; }
same() { [ "$1" = "$2" ]; }
content_is() { [ -e "$1" ] && [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
count_glob() { local g=( $1 ); echo ${#g[@]}; }     # count_glob 'DIR/pattern' (nullglob)
shopt -s nullglob
count_is() { [ "$(count_glob "$1")" = "$2" ]; }
list_is() { [ "$("${@:2}" 2>/dev/null | sort | tr '\n' ' ')" = "$1" ]; }   # list_is "a b " CMD...

# ---------------------------------------------------------------------------------------------
echo "# premises: mount behaviour (fuse/README.md) the recipes rely on"

# Two clients creating the same directory at once, as two scripts starting together do with
# `mkdir -p MOUNT/locks`: the loser's mkdir gets EEXIST, and mkdir -p then looks the name up
# and must find the directory.
mkdir -p "$A/premise/mk" && wait_for 5 test -d "$B/premise/mk"
fails=0
for i in $(seq 20); do
    mkdir -p "$A/premise/mk/d$i/e" 2>> "$work/premise-mkdir.err" &
    p=$!
    mkdir -p "$B/premise/mk/d$i/e" 2>> "$work/premise-mkdir.err" || fails=$((fails + 1))
    wait "$p" || fails=$((fails + 1))
done
check "premise: mkdir -p of one new path on both mounts at once succeeds on both (20 races, $fails failed)" \
    same "$fails" 0

# Two clients opening one new name with O_CREAT (no O_EXCL) at once: the loser opens the node
# the winner created (or, the node being empty, finds a directory: EISDIR), never ENOENT.
mkdir -p "$A/premise/cr" && wait_for 5 test -d "$B/premise/cr"
for i in $(seq 50); do
    ( exec 3<> "$A/premise/cr/f$i" ) 2>> "$work/premise-creat.err" &
    p=$!
    ( exec 3<> "$B/premise/cr/f$i" ) 2>> "$work/premise-creat.err"
    wait "$p"
done
enoent=$(grep -c "No such file" "$work/premise-creat.err")
check "premise: racing O_CREAT opens of one new name on both mounts never fail with ENOENT (50 races, $enoent did)" \
    same "$enoent" 0

# A file written while another process on the same mount looks at it (stat, cat) - a queue
# consumer polling while a producer on its machine puts - must read its data afterwards.
mkdir -p "$A/premise/st"
stale=0
for i in $(seq 30); do
    (for j in $(seq 50); do stat "$A/premise/st/f$i"; cat "$A/premise/st/f$i"; done) > /dev/null 2>&1 &
    p=$!
    env printf 'abc\n' > "$A/premise/st/f$i"
    wait "$p"
    [ "$(cat "$A/premise/st/f$i")" = abc ] || stale=$((stale + 1))
done
check "premise: a file written during reads on its own mount reads its data afterwards (30 tries, $stale read empty)" \
    same "$stale" 0

# A file created with data on A: on B it may first show as an empty directory (the node
# exists before its data); when the data arrives, B's inotify must hear of it (IN_MODIFY,
# "a data change") - or B saw the file with its data from the start.
mkdir -p "$A/premise/ev" && wait_for 5 test -d "$B/premise/ev"
inotifywait -m -e create,modify,attrib,close_write,delete --format '%e %f' "$B/premise/ev" \
    > "$work/premise-ev.out" 2> "$work/premise-ev.log" &
evw=$!
wait_for 5 grep -q "Watches established" "$work/premise-ev.log"
env printf 'data\n' > "$A/premise/ev/f"
heard() {
    local first
    first=$(grep -m1 ' f$' "$work/premise-ev.out") || return 1
    [[ $first != *ISDIR* ]] || [ "$(grep -c ' f$' "$work/premise-ev.out")" -ge 2 ]
}
check "premise: data arriving on a node created elsewhere raises an inotify event (saw: $(wait_for 3 heard; tr '\n' ';' < "$work/premise-ev.out"))" \
    heard
kill "$evw" 2>/dev/null
wait "$evw" 2>/dev/null

# The recipes below start their roots first, one mount after the other, so that the race
# above does not decide their checks.
for d in counters locks members/web barriers/round; do
    mkdir -p "$A/$d"
    wait_for 5 test -d "$B/$d"
done

# ---------------------------------------------------------------------------------------------
echo "# counter.sh"

(for i in $(seq 20); do timeout 30 "$EX/counter.sh" "$A" hits || echo "error"; done) \
    > "$work/counter-a.out" 2> "$work/counter-a.err" &
ca=$!
(for i in $(seq 20); do timeout 30 "$EX/counter.sh" "$B" hits || echo "error"; done) \
    > "$work/counter-b.out" 2> "$work/counter-b.err" &
cb=$!
wait_exit 60 "$ca"
wait_exit 60 "$cb"
got=$(cat "$work/counter-a.out" "$work/counter-b.out" | sort -n | tr '\n' ' ')
check "counter: 2 x 20 concurrent increments on two mounts print 1..40, each once" \
    same "$got" "$(seq 1 40 | tr '\n' ' ')"
check "counter: the value is 40, seen from A" wait_for 5 content_is "$A/counters/hits" 40
check "counter: the value is 40, seen from B" wait_for 5 content_is "$B/counters/hits" 40
# Several counting processes per machine: two loops on each mount.
for i in 1 2 3 4; do
    m=$A; [ "$i" -gt 2 ] && m=$B
    (for j in $(seq 15); do timeout 30 "$EX/counter.sh" "$m" busy || echo "error"; done) \
        > "$work/counter4-$i.out" 2> "$work/counter4-$i.err" &
    eval "cl$i=\$!"
done
for i in 1 2 3 4; do eval "wait_exit 60 \"\$cl$i\""; done
got=$(cat "$work"/counter4-*.out | sort -n | tr '\n' ' ')
check "counter: 4 x 15 concurrent increments, two loops per mount, print 1..60, each once" \
    same "$got" "$(seq 1 60 | tr '\n' ' ')"
check "counter: ... and the value is 60 ($(cat "$A/counters/busy" 2>/dev/null))" \
    wait_for 5 content_is "$A/counters/busy" 60
check "counter: DELTA adds more than one" same "$(timeout 10 "$EX/counter.sh" "$B" hits 5)" 45

# The recipe's premise: a read-modify-write whose version went stale fails with EAGAIN at
# close and writes nothing.
wait_for 5 content_is "$A/counters/hits" 45
if exec {fd}<> "$A/counters/hits"; then
    timeout 10 "$EX/counter.sh" "$B" hits > /dev/null          # 46, from elsewhere
    err=$(env printf '999\n' 2>&1 >&"$fd")
    exec {fd}>&-
else
    err="open failed"
fi
check "counter: a stale read-write file fails its close with EAGAIN (got: ${err:-success})" \
    eval '[[ $err == *"Resource temporarily unavailable"* ]]'
check "counter: ... and changes nothing (46)" wait_for 5 content_is "$B/counters/hits" 46

# ---------------------------------------------------------------------------------------------
echo "# lock.sh"

# Two workers on two mounts append "in X" / "out X" to a local log under the lock, with a
# pause in between: any overlap shows as interleaved lines.
locker() {           # locker MOUNT TAG
    local i
    for i in $(seq 10); do
        timeout 30 "$EX/lock.sh" "$1" shared \
            bash -c 'echo "in $0" >> "$1"; sleep 0.02; echo "out $0" >> "$1"' "$2" "$work/lock.log" \
            || echo "lock.sh failed" >&2
    done
}
locker "$A" a 2> "$work/lock-a.err" &
la=$!
locker "$B" b 2> "$work/lock-b.err" &
lb=$!
wait_exit 60 "$la"
wait_exit 60 "$lb"
well_nested() {      # every "in X" is followed directly by "out X", 20 of each tag
    awk 'NR % 2 == 1 { if ($1 != "in") bad = 1; tag = $2; n[tag]++ }
         NR % 2 == 0 { if ($1 != "out" || $2 != tag) bad = 1 }
         END { exit (bad || NR != 40 || n["a"] != 10 || n["b"] != 10) }' "$work/lock.log"
}
check "lock: 2 x 10 critical sections from two mounts never overlap" well_nested
check "lock: the lock node holds no waiter afterwards" \
    wait_for 5 eval '[ -d "$A/locks/shared" ] && [ -z "$(ls -A "$A/locks/shared")" ]'

spawn lock-hold "$EX/lock.sh" "$A" gate bash -c 'echo held > "$0"; exec sleep 120' "$work/lock.held"
hold=$spawned
wait_for 10 test -e "$work/lock.held"
timeout 10 "$EX/lock.sh" -n "$B" gate true
check "lock: -n fails at once while the lock is held on the other mount" same $? 1
t0=$(now_ms)
timeout 10 "$EX/lock.sh" -w 1 "$B" gate true
rc=$? t1=$(now_ms)
check "lock: -w 1 gives up after about a second" eval '[ $rc = 1 ] && [ $((t1 - t0)) -ge 900 ]'
spawn lock-wait "$EX/lock.sh" "$B" gate bash -c 'echo got > "$0"' "$work/lock.got"
waiter=$spawned
wait_for 10 eval '[ "$(count_glob "$A/locks/gate/*__lock__*")" = 2 ]'
check "lock: a waiter on the other mount waits while the lock is held" \
    eval 'running $waiter && [ ! -e "$work/lock.got" ]'
stop_group "$hold"                      # the holder dies: its lock goes with it
check "lock: ... and gets the lock when the holder dies" wait_for 10 test -e "$work/lock.got"
wait_exit 10 "$waiter"
check "lock: ... and exits 0" same $? 0

# ---------------------------------------------------------------------------------------------
echo "# leader.sh"

leaders=$work/leaders
candidate() {        # candidate NAME MOUNT: stand for election in group "g" as NAME
    spawn "leader-$1" "$EX/leader.sh" "$2" g "$1" \
        bash -c 'echo "$ZK_LEADER_ID $$" >> "$0"; exec sleep 120' "$leaders"
}
candidate c1 "$A"; c1=$spawned
wait_for 10 count_is "$A/election/g/n_*" 1
candidate c2 "$B"; c2=$spawned
wait_for 10 count_is "$B/election/g/n_*" 2
candidate c3 "$A"; c3=$spawned
wait_for 10 count_is "$A/election/g/n_*" 3
check "leader: three candidates on two mounts stand" \
    eval 'wait_for 5 count_is "$A/election/g/n_*" 3 && wait_for 5 count_is "$B/election/g/n_*" 3'
check "leader: the first candidate leads" \
    eval 'wait_for 10 has_lines "$leaders" 1 && [ "$(cut -d" " -f1 "$leaders")" = c1 ]'
check "leader: leader.sh MOUNT GROUP names it, on the other mount" \
    wait_for 5 eval '[ "$("$EX/leader.sh" "$B" g 2>/dev/null)" = c1 ]'
sleep 0.5      # a second leader would have had time to start
check "leader: exactly one leader" exactly_lines "$leaders" 1
leader_cmd=$(sed -n 1p "$leaders" | cut -d" " -f2)
kill -TERM "$c1"
check "leader: the stopped leader exits promptly" eval 'wait_exit 5 "$c1" > /dev/null; gone "$c1"'
check "leader: ... its CMD is stopped" eval '[ -n "$leader_cmd" ] && wait_for 5 gone "$leader_cmd"'
check "leader: ... its node is deleted" wait_for 5 count_is "$B/election/g/n_*" 2
check "leader: the next candidate, on the other mount, takes over" \
    eval 'wait_for 10 has_lines "$leaders" 2 && [ "$(sed -n 2p "$leaders" | cut -d" " -f1)" = c2 ]'
sleep 0.5
check "leader: still exactly one leader" exactly_lines "$leaders" 2
kill -TERM "$c3"
check "leader: a waiting candidate stopped exits promptly and withdraws" \
    eval 'wait_exit 5 "$c3" > /dev/null; gone "$c3" && wait_for 5 count_is "$A/election/g/n_*" 1'
check "leader: ... without disturbing the leader" eval 'running "$c2" && exactly_lines "$leaders" 2'
kill -TERM "$c2"
wait_exit 5 "$c2" > /dev/null
check "leader: when the last candidate goes, the group is empty" \
    eval 'wait_for 5 count_is "$A/election/g/n_*" 0 && wait_for 5 count_is "$B/election/g/n_*" 0'

# A leader whose CMD ends steps down; leader.sh exits with CMD's status.
spawn leader-d1 "$EX/leader.sh" "$A" g2 d1 \
    bash -c 'while [ "$(ls "$0" | wc -l)" -lt 2 ]; do sleep 0.05; done; echo d1 >> "$1"; exit 3' \
    "$A/election/g2" "$work/leaders2"
d1=$spawned
wait_for 10 count_is "$A/election/g2/n_*" 1
spawn leader-d2 "$EX/leader.sh" "$B" g2 d2 bash -c 'echo d2 >> "$0"' "$work/leaders2"
d2=$spawned
wait_exit 10 "$d1"; r1=$?
wait_exit 10 "$d2"; r2=$?
check "leader: a leader whose CMD ends steps down with CMD's status, and the next one leads ($r1 $r2)" \
    eval '[ "$r1 $r2" = "3 0" ] && [ "$(tr "\n" " " < "$work/leaders2")" = "d1 d2 " ]'

# ---------------------------------------------------------------------------------------------
echo "# members.sh"

spawn member-web1 "$EX/members.sh" "$A" web web1; web1=$spawned
spawn member-web2 "$EX/members.sh" "$B" web web2; web2=$spawned
wait_for 10 list_is "web1 web2 " "$EX/members.sh" "$A" web
check "members: both members are listed, from A (got: $("$EX/members.sh" "$A" web | tr '\n' ' '))" \
    list_is "web1 web2 " "$EX/members.sh" "$A" web
wait_for 10 list_is "web1 web2 " "$EX/members.sh" "$B" web
check "members: both members are listed, from B (got: $("$EX/members.sh" "$B" web | tr '\n' ' '))" \
    list_is "web1 web2 " "$EX/members.sh" "$B" web
timeout 10 "$EX/members.sh" "$B" web web1 true 2> "$work/member-dup.err"
check "members: joining under a name in use fails" same $? 1
check "members: ... and leaves the other's node alone" \
    eval 'running "$web1" && [ "$(cut -d" " -f2 "$A/members/web/web1")" = "$web1" ]'
kill -TERM "$web1"
wait_exit 5 "$web1" > /dev/null
check "members: a member stopped drops out, seen from the other mount" \
    wait_for 10 list_is "web2 " "$EX/members.sh" "$B" web
out=$(timeout 10 "$EX/members.sh" "$A" web job "$EX/members.sh" "$A" web | sort | tr '\n' ' ')
check "members: a member joined for the duration of CMD is listed while CMD runs" same "$out" "job web2 "
check "members: ... and not after" wait_for 5 list_is "web2 " "$EX/members.sh" "$B" web
if mount_at "$C"; then
    spawn member-web3 "$EX/members.sh" "$C" web web3; web3=$spawned
    wait_for 10 list_is "web2 web3 " "$EX/members.sh" "$A" web
    check "members: a member on a third mount is listed" list_is "web2 web3 " "$EX/members.sh" "$A" web
    fusermount3 -u "$C" 2>/dev/null || fusermount3 -uz "$C"
    check "members: ... and drops out when that mount's session ends (unmount)" \
        wait_for 5 list_is "web2 " "$EX/members.sh" "$A" web
    stop_group "$web3"
else
    bad "members: a third mount comes up"
fi
stop_group "$web2"
check "members: the group is empty at the end" wait_for 5 list_is "" "$EX/members.sh" "$A" web

# ---------------------------------------------------------------------------------------------
echo "# queue.sh"

q() { timeout 20 "$EX/queue.sh" "$@"; }
item_ready() { [ "$(count_glob "$1/queues/jobs/item-*")" = "$2" ] && \
               for f in "$1"/queues/jobs/item-*; do [ -f "$f" ] && [ -s "$f" ] || return 1; done; }
q "$A" jobs put a1 > /dev/null && q "$B" jobs put b2 > /dev/null &&
    q "$A" jobs put a3 > /dev/null && q "$B" jobs put b4 > /dev/null
check "queue: four puts alternating between the mounts" same $? 0
wait_for 5 item_ready "$A" 4
wait_for 5 item_ready "$B" 4
got="$(q "$B" jobs take) $(q "$A" jobs take) $(q "$B" jobs take) $(q "$A" jobs take)"
check "queue: takes alternating between the mounts get them in put order (got: $got)" \
    same "$got" "a1 b2 a3 b4"
check "queue: the queue is empty then" wait_for 5 eval '[ -z "$(q "$B" jobs)" ]'
spawn queue-take "$EX/queue.sh" "$B" jobs take; taker=$spawned
wait_for 5 eval '[ -n "$(pgrep -g "$taker" -x inotifywait)" ]'    # it is waiting
check "queue: take waits while the queue is empty" running "$taker"
q "$A" jobs put late > /dev/null
check "queue: ... and returns the item put on the other mount" \
    eval 'wait_exit 10 "$taker" && [ "$(cat "$work/queue-take.out")" = late ]'
takers=()
for i in 1 2 3 4; do
    m=$A; [ $((i % 2)) = 0 ] && m=$B
    spawn "queue-race-$i" "$EX/queue.sh" "$m" jobs take; takers+=("$spawned")
done
wait_for 5 eval '[ "$(pgrep -g "$(IFS=,; echo "${takers[*]}")" -x inotifywait | wc -l)" = 4 ]'
for i in 1 2 3 4; do
    m=$A; [ $((i % 2)) = 0 ] && m=$B
    q "$m" jobs put "x$i" > /dev/null
done
allgood=0
for t in "${takers[@]}"; do wait_exit 15 "$t" > /dev/null || allgood=1; done
got=$(cat "$work"/queue-race-*.out | sort | tr '\n' ' ')
check "queue: four racing takers on two mounts get the four items, each once (got: $got)" \
    eval '[ $allgood = 0 ] && [ "$got" = "x1 x2 x3 x4 " ]'
check "queue: stdin as the item, binary-safe" \
    eval 'printf "two\nlines\n" | q "$A" jobs put > /dev/null && [ "$(q "$B" jobs take | od -c)" = "$(printf "two\nlines\n" | od -c)" ]'
check "queue: an empty item is refused" eval '! q "$A" jobs put < /dev/null 2> /dev/null'
wait_for 15 eval '[ -z "$(q "$A" jobs)" ] && [ -z "$(q "$B" jobs)" ]'
check "queue: the queue is empty at the end (left on a: $(q "$A" jobs | tr '\n' ' ')b: $(q "$B" jobs | tr '\n' ' '))" \
    eval '[ -z "$(q "$A" jobs)" ] && [ -z "$(q "$B" jobs)" ]'

# ---------------------------------------------------------------------------------------------
echo "# barrier.sh"

blog=$work/barrier.log
member_cmd='echo "in $0" >> "$1"; [ "$0" != b3 ] || while [ ! -e "$2" ]; do sleep 0.05; done'
spawn barrier-b1 "$EX/barrier.sh" "$A" round 3 bash -c "$member_cmd" b1 "$blog" "$work/barrier.go"; b1=$spawned
spawn barrier-b2 "$EX/barrier.sh" "$B" round 3 bash -c "$member_cmd" b2 "$blog" "$work/barrier.go"; b2=$spawned
wait_for 10 count_is "$A/barriers/round/m-*" 2
wait_for 10 count_is "$B/barriers/round/m-*" 2
sleep 0.5      # time enough for a wrong release
check "barrier: 2 of 3 members wait at the barrier" \
    eval 'running "$b1" && running "$b2" && [ "$(nlines "$blog")" = 0 ]'
spawn barrier-b3 "$EX/barrier.sh" "$A" round 3 bash -c "$member_cmd" b3 "$blog" "$work/barrier.go"; b3=$spawned
check "barrier: the third member releases all three" wait_for 10 has_lines "$blog" 3
sleep 0.3
check "barrier: no member leaves while another is still inside" \
    eval 'running "$b1" && running "$b2" && running "$b3"'
touch "$work/barrier.go"
wait_exit 10 "$b1"; rc1=$?
wait_exit 10 "$b2"; rc2=$?
wait_exit 10 "$b3"; rc3=$?
check "barrier: then all three leave, exit status 0 ($rc1 $rc2 $rc3)" same "$rc1 $rc2 $rc3" "0 0 0"
wait_for 5 eval '[ -z "$(ls -A "$A/barriers/round")" ] && [ -z "$(ls -A "$B/barriers/round")" ]'
check "barrier: the barrier is empty (no members, no ready flag) after the round (A: $(ls -A "$A/barriers/round" | tr '\n' ' ')B: $(ls -A "$B/barriers/round" | tr '\n' ' '))" \
    eval '[ -z "$(ls -A "$A/barriers/round")" ] && [ -z "$(ls -A "$B/barriers/round")" ]'
timeout 20 "$EX/barrier.sh" "$A" solo 1
check "barrier: N=1 passes at once" same $? 0

# ---------------------------------------------------------------------------------------------
echo "# config.sh"

cfg() { timeout 10 "$EX/config.sh" "$@"; }
cfg "$A" app/db/url v1
check "config: set a key" same $? 0
check "config: read it back" same "$(cfg "$A" app/db/url)" v1
check "config: read it from the other mount" wait_for 5 eval '[ "$(cfg "$B" app/db/url)" = v1 ]'
cfg "$B" app/missing > /dev/null 2>&1
check "config: a key not set: exit 1" same $? 1
spawn config-watch "$EX/config.sh" watch "$B" app/db/url; watcher=$spawned
check "config: watch prints the current value" wait_for 5 content_is "$work/config-watch.out" v1
cfg "$A" app/db/url v2
check "config: watch sees a change made on the other mount" \
    wait_for 5 eval '[ "$(tail -n 1 "$work/config-watch.out")" = v2 ]'
cfg "$B" app/db/url v3
check "config: watch sees a change made on its own mount" \
    wait_for 5 eval '[ "$(tail -n 1 "$work/config-watch.out")" = v3 ]'
cfg "$A" app/db/url "v4 with spaces"
check "config: watch sees the next change" \
    wait_for 5 eval '[ "$(tail -n 1 "$work/config-watch.out")" = "v4 with spaces" ]'
check "config: watch printed each value once, nothing else" \
    same "$(tr '\n' '|' < "$work/config-watch.out")" "v1|v2|v3|v4 with spaces|"
stop_group "$watcher"
spawn config-watch2 "$EX/config.sh" watch "$B" app/late; watcher=$spawned
wait_for 5 eval 'grep -q "not set" "$work/config-watch2.err"'
cfg "$A" app/late "born elsewhere"
check "config: watch sees a key created on the other mount" \
    wait_for 5 content_is "$work/config-watch2.out" "born elsewhere"
stop_group "$watcher"
cfg "$A" app top        # app has a child (db): a directory, whose data is app/.data
check "config: a key with children has a value too, seen from the other mount" \
    wait_for 5 eval '[ "$(cfg "$B" app 2>/dev/null)" = top ]'
check "config: ... and its children keep theirs" same "$(cfg "$B" app/db/url)" "v4 with spaces"
