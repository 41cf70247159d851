#!/bin/sh
# `make bench`: measures zkfsd side by side with Apache ZooKeeper 3.8 (the Debian
# `zookeeper` package) on this machine, in one run, with the same client (zkload, built
# on Apache ZooKeeper's C client), and reports zkfsd/ZooKeeper ratios. Measurement only:
# nothing here asserts a timing.
#
# Both servers get the same zoo.cfg (tickTime, a fresh temporary dataDir, a free port on
# 127.0.0.1, forceSync=yes, every four-letter word) and run at the same time; each
# workload is run against both servers (alternately first) before the next, so slow
# drifts of the (shared) machine hit both alike. Besides ops/s and latency, the server's
# own CPU time per operation is reported: it depends less on what else the machine runs. Each server's memory high-water mark (VmHWM) is
# sampled after every workload. Both servers are always stopped on exit (trap).
#
# Output: the tables on stdout and in build/bench-results.txt (followed by the raw zkload
# lines); server logs and zkload's stderr in $BUILD/bench-logs/.
# Exit status: 0 when the table was produced (even if zkfsd is missing, failed to start,
# or runs had errors: those are shown in the table), 1 when it could not be (no zkload,
# or ZooKeeper would not start, so there is nothing to compare with).
#
# Environment: BUILD (build/rel), BENCH_SECS (3, measured seconds per run),
# BENCH_WARMUP (1, unmeasured seconds before each run), BENCH_WARMUP_ALL (1.5, seconds
# of each of create/get/set on each server before the first run), ZKFSD (bin/zkfsd),
# ZK_JVM_FLAGS (-Xmx1000m, the heap upstream's zkServer.sh gives by default),
# BENCH_OUT (build/bench-results.txt).
set -u

BUILD=${BUILD:-build/rel}
ZKLOAD=$BUILD/tests/zkload
ZKFSD=${ZKFSD:-bin/zkfsd}
SECS=${BENCH_SECS:-3}
WARMUP=${BENCH_WARMUP:-1}
WARM_SECS=${BENCH_WARMUP_ALL:-1.5}
OUT=${BENCH_OUT:-build/bench-results.txt}
ZK_JVM_FLAGS=${ZK_JVM_FLAGS:--Xmx1000m}
LOGDIR=$BUILD/bench-logs
DATASIZE=100

ZK_PID=""
FS_PID=""
LOAD_PID=""
WORK=""

# Stops a process we started: TERM, up to 10 s of grace, then KILL. Only our own pids.
stop_pid() {
    pid=$1
    [ -n "$pid" ] || return 0
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
    kill -TERM "$pid" 2>/dev/null
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
        sleep 0.1; i=$((i + 1))
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# shellcheck disable=SC2317 # called from the traps
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    stop_pid "$LOAD_PID"; LOAD_PID=""
    stop_pid "$ZK_PID"; ZK_PID=""
    stop_pid "$FS_PID"; FS_PID=""
    [ -n "$WORK" ] && rm -rf "$WORK"
    WORK=""
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM HUP
trap 'cleanup; exit 141' PIPE

die() {
    echo "bench: $*" >&2
    exit 1
}

# A TCP port nobody listens on. The kernel picks it (bind to port 0); the small window
# before the server binds it is acceptable on a test machine.
free_port() {
    if [ -x /usr/bin/python3 ]; then
        /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
        return
    fi
    while :; do
        p=$(( $(od -An -N2 -tu2 /dev/urandom) % 30000 + 20000 ))
        [ -z "$(ss -ltnH "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return; }
    done
}

# ruok -> imok on 127.0.0.1:$1.
ruok() {
    r=$(printf ruok | timeout 3 nc -w 2 127.0.0.1 "$1" 2>/dev/null)
    [ "$r" = imok ]
}

# Waits until pid $1 answers ruok on port $2, for at most $3 seconds. Returns 1 if the
# process died or never answered.
wait_ready() {
    pid=$1; port=$2; limit=$(( $3 * 10 )); i=0
    while [ $i -lt $limit ]; do
        kill -0 "$pid" 2>/dev/null || return 1
        ruok "$port" && return 0
        sleep 0.1; i=$((i + 1))
    done
    return 1
}

# VmHWM / VmRSS of a live pid in kB, or empty.
mem_kb() {
    awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null
}

write_cfg() { # dir port
    cat >"$1/zoo.cfg" <<EOF
tickTime=2000
dataDir=$1/data
clientPort=$2
clientPortAddress=127.0.0.1
4lw.commands.whitelist=*
forceSync=yes
admin.enableServer=false
EOF
}

[ -x "$ZKLOAD" ] || die "$ZKLOAD not built (run: make bench)"
for v in "$SECS" "$WARMUP" "$WARM_SECS"; do
    echo "$v" | grep -Eq '^[0-9]+(\.[0-9]+)?$' || die "BENCH_SECS/BENCH_WARMUP/BENCH_WARMUP_ALL must be numbers of seconds"
done
# zkload gives up by itself on a stalled server (no progress for 2 x session timeout +
# 5 s, 25 s here); this outer limit only catches a hung zkload.
LOAD_LIMIT=$(awk -v a="$SECS" -v b="$WARMUP" 'BEGIN { printf "%d", a + b + 90 }')
for t in java nc timeout awk; do
    command -v "$t" >/dev/null 2>&1 || die "$t not found (run: make deps)"
done
ZK_CP=$(ls /usr/share/java/zookeeper.jar /usr/share/java/zookeeper-jute.jar \
           /usr/share/java/slf4j-api.jar /usr/share/java/slf4j-log4j12.jar \
           /usr/share/java/log4j-1.2.jar /usr/share/java/commons-cli.jar \
           /usr/share/java/commons-io.jar /usr/share/java/netty-*.jar 2>/dev/null | tr '\n' :)
[ -f /usr/share/java/zookeeper.jar ] || die "Apache ZooKeeper not installed (run: make deps)"

mkdir -p "$LOGDIR" "$(dirname "$OUT")" || die "cannot create $LOGDIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/zkfs-bench.XXXXXX") || die "mktemp failed"
mkdir -p "$WORK/zk/data" "$WORK/zkfsd/data"
RAW=$WORK/raw.txt
: >"$RAW"

# ---- Apache ZooKeeper ----
ZK_PORT=$(free_port)
write_cfg "$WORK/zk" "$ZK_PORT"
# slf4j-log4j12 routes the server's logging to log4j, which writes to a file.
cat >"$WORK/zk/log4j.properties" <<EOF
log4j.rootLogger=INFO, FILE
log4j.appender.FILE=org.apache.log4j.FileAppender
log4j.appender.FILE.File=$LOGDIR/zookeeper.log
log4j.appender.FILE.Append=false
log4j.appender.FILE.layout=org.apache.log4j.PatternLayout
log4j.appender.FILE.layout.ConversionPattern=%d{ISO8601} %-5p [%t:%C{1}@%L] - %m%n
EOF
start_zk() {
    # shellcheck disable=SC2086 # ZK_JVM_FLAGS is a list of flags
    java $ZK_JVM_FLAGS -Dlog4j.configuration="file:$WORK/zk/log4j.properties" \
        -cp "$ZK_CP" org.apache.zookeeper.server.quorum.QuorumPeerMain "$WORK/zk/zoo.cfg" \
        >>"$LOGDIR/zookeeper.out" 2>&1 </dev/null &
    ZK_PID=$!
}
start_zk

# ---- zkfsd ----
FS_PORT=$(free_port)
[ "$FS_PORT" = "$ZK_PORT" ] && FS_PORT=$(free_port)
write_cfg "$WORK/zkfsd" "$FS_PORT"
FS_STATE="ok"
start_fs() {
    "$ZKFSD" "$WORK/zkfsd/zoo.cfg" >>"$LOGDIR/zkfsd.log" 2>&1 </dev/null &
    FS_PID=$!
}
if [ ! -x "$ZKFSD" ]; then
    FS_STATE="not available ($ZKFSD not built)"
else
    start_fs
fi

if ! wait_ready "$ZK_PID" "$ZK_PORT" 60; then
    echo "bench: Apache ZooKeeper did not answer ruok; its log:" >&2
    tail -n 30 "$LOGDIR/zookeeper.out" "$LOGDIR/zookeeper.log" >&2 2>/dev/null
    die "ZooKeeper: not available, nothing to compare with"
fi
ZK_IDLE=$(mem_kb "$ZK_PID" VmRSS)
if [ -n "$FS_PID" ]; then
    if wait_ready "$FS_PID" "$FS_PORT" 30; then
        FS_IDLE=$(mem_kb "$FS_PID" VmRSS)
    else
        if kill -0 "$FS_PID" 2>/dev/null; then
            FS_STATE="not available (no imok within 30 s, see $LOGDIR/zkfsd.log)"
        else
            wait "$FS_PID" 2>/dev/null; rc=$?
            FS_STATE="not available (exited with status $rc at start, see $LOGDIR/zkfsd.log)"
        fi
        stop_pid "$FS_PID"; FS_PID=""
    fi
fi
echo "bench: ZooKeeper pid $ZK_PID on 127.0.0.1:$ZK_PORT; zkfsd: $FS_STATE${FS_PID:+, pid $FS_PID on 127.0.0.1:$FS_PORT}" >&2

ZK_HWM=0
FS_HWM=0
# Remembers the larger of the recorded and the current VmHWM of each live server.
sample_mem() {
    if [ -n "$ZK_PID" ]; then
        m=$(mem_kb "$ZK_PID" VmHWM); [ -n "$m" ] && [ "$m" -gt "$ZK_HWM" ] && ZK_HWM=$m
    fi
    if [ -n "$FS_PID" ]; then
        m=$(mem_kb "$FS_PID" VmHWM); [ -n "$m" ] && [ "$m" -gt "$FS_HWM" ] && FS_HWM=$m
    fi
    return 0
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# User + system CPU time of a live pid (all its threads), in clock ticks; empty if gone.
# The fields are counted after the ")" that ends the command name, which may hold spaces.
cpu_ticks() {
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# Runs one zkload in the background (so that a signal reaches our trap at once, and the
# trap can stop it) and sets LINE to its result line, with the server's CPU time for the
# whole run appended (server_cpu_s, and cpu_us_per_op over all_ops); a zkload that prints
# nothing yields a status=failed line. Not to be called in a subshell: LOAD_PID must
# reach the trap. Args: server-tag server-pid port op clients outstanding [secs] (a
# given secs means a warm-up: no per-run warm-up, a path of its own).
run_load() {
    tag=$1; spid=$2; port=$3; op=$4; c=$5; n=$6
    secs=${7:-$SECS}; warm=$WARMUP; base="/bench/$op-c$c-n$n"
    [ $# -ge 7 ] && { warm=0; base="/warmup/$op"; }
    log="$LOGDIR/zkload-$tag-$op-c$c-n$n.log"
    res="$WORK/res.txt"
    : >"$res"
    t0=$(cpu_ticks "$spid")
    timeout -s KILL "$LOAD_LIMIT" "$ZKLOAD" -s "127.0.0.1:$port" -o "$op" \
        -c "$c" -n "$n" -d "$DATASIZE" -t "$secs" -W "$warm" -T 10000 \
        -p "$base" >"$res" 2>"$log" &
    LOAD_PID=$!
    wait "$LOAD_PID"; rc=$?
    LOAD_PID=""
    t1=$(cpu_ticks "$spid")
    line=$(grep '^op=' "$res" | tail -n 1)
    [ -n "$line" ] || line="op=$op clients=$c outstanding=$n ops=0 errors=1 status=failed reason=zkload_exit_$rc log=$log"
    all=$(field "$line" all_ops)
    if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$all" ] && [ "$all" -gt 0 ]; then
        line="$line $(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$all" \
            'BEGIN { printf "server_cpu_s=%.2f cpu_us_per_op=%.1f", d / hz, d / hz * 1e6 / n }')"
    fi
    echo "server=$tag $line" >>"$RAW"
    LINE=$line
}

field() { # line key
    echo "$1" | tr ' ' '\n' | awk -F= -v k="$2" '$1 == k { print $2; exit }'
}

# A table cell for a result line: whole ops/s ("!" when the run had errors), or "failed".
cell() {
    case "$(field "$1" status)" in
        ok) printf '%.0f\n' "$(field "$1" ops_per_sec)" ;;
        errors) printf '%.0f!\n' "$(field "$1" ops_per_sec)" ;;
        unavailable) echo "not available" ;;
        *) echo "failed" ;;
    esac
}

# p50/p99 latency in whole microseconds.
lat() {
    case "$(field "$1" status)" in
        ok|errors) printf '%.0f/%.0f\n' "$(field "$1" p50_us)" "$(field "$1" p99_us)" ;;
        *) echo "-" ;;
    esac
}

# The server's CPU microseconds per operation, or "-".
cpu() {
    v=$(field "$1" cpu_us_per_op)
    echo "${v:--}"
}

# b / a with the given precision, or "-" unless both are numbers and a > 0.
ratio() { # a b digits
    awk -v a="${1%!}" -v b="${2%!}" -v d="$3" 'BEGIN {
        if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && a + 0 > 0) printf "%.*f", d, b / a;
        else printf "-" }'
}


# One workload against ZooKeeper: sets zk_line.
bench_zk() {
    run_load zk "$ZK_PID" "$ZK_PORT" "$op" "$c" "$n"; zk_line=$LINE
    sample_mem
}

# One workload against zkfsd if it is (still) running: sets fs_line. A zkfsd that died
# is reaped and reported, and no longer run.
bench_fs() {
    if [ -n "$FS_PID" ] && ! kill -0 "$FS_PID" 2>/dev/null; then
        wait "$FS_PID" 2>/dev/null; rc=$?
        FS_STATE="not available (died with status $rc before \"$name\", see $LOGDIR/zkfsd.log)"
        FS_PID=""
    fi
    if [ -z "$FS_PID" ]; then
        fs_line="status=unavailable"
        return 0
    fi
    run_load zkfsd "$FS_PID" "$FS_PORT" "$op" "$c" "$n"; fs_line=$LINE
    sample_mem
    if ! kill -0 "$FS_PID" 2>/dev/null; then
        wait "$FS_PID" 2>/dev/null; rc=$?
        FS_STATE="not available (died with status $rc during \"$name\", see $LOGDIR/zkfsd.log)"
        FS_PID=""
    fi
    return 0
}

ROWS=$WORK/rows.txt
NOTES=$WORK/notes.txt
: >"$ROWS"
: >"$NOTES"
START=$(date +%s)
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

# A common warm-up before anything is measured: the JVM compiles its hot paths in the
# first seconds of load and keeps a CPU busy doing so, which would slow down whichever
# run came next; both servers also create their first log file here. Not in the tables,
# but in the raw lines, and noted if it had errors.
for op in create get set; do
    c=4; n=16; name="warm-up $op"
    echo "bench: $name ..." >&2
    run_load zk-warmup "$ZK_PID" "$ZK_PORT" "$op" "$c" "$n" "$WARM_SECS"
    case "$(field "$LINE" status)" in ok) ;; *) echo "  ZooKeeper, $name: $LINE" >>"$NOTES" ;; esac
    if [ -n "$FS_PID" ] && kill -0 "$FS_PID" 2>/dev/null; then
        run_load zkfsd-warmup "$FS_PID" "$FS_PORT" "$op" "$c" "$n" "$WARM_SECS"
        case "$(field "$LINE" status)" in ok) ;; *) echo "  zkfsd, $name: $LINE" >>"$NOTES" ;; esac
    fi
done

turn=0
for op in create get set; do
    for c in 1 4; do
        for n in 1 64; do
            name="$op c=$c n=$n"
            echo "bench: $name ..." >&2
            # Alternate which server goes first, so that neither always runs right after
            # the other's load (a JVM still compiling, dirty pages still being written).
            if [ $((turn % 2)) = 0 ]; then bench_zk; bench_fs; else bench_fs; bench_zk; fi
            turn=$((turn + 1))
            zk_ops=$(cell "$zk_line"); fs_ops=$(cell "$fs_line")
            zk_cpu=$(cpu "$zk_line"); fs_cpu=$(cpu "$fs_line")
            printf '%s|%s|%s|%s|%s|%s|%s|%s|%s\n' "$name" "$zk_ops" "$fs_ops" \
                "$(ratio "$zk_ops" "$fs_ops" 2)" "$(lat "$zk_line")" "$(lat "$fs_line")" \
                "$zk_cpu" "$fs_cpu" "$(ratio "$zk_cpu" "$fs_cpu" 2)" >>"$ROWS"
            for pair in "ZooKeeper|$zk_line" "zkfsd|$fs_line"; do
                who=${pair%%|*}; l=${pair#*|}
                case "$(field "$l" status)" in
                    errors|failed) echo "  $who, $name: $l" >>"$NOTES" ;;
                esac
            done
        done
    done
done
sample_mem

# ---- restart of a large tree: fill each server, stop it, time until it answers imok ----
# Both load the same tree (RESTART_NODES znodes of 100 bytes); the clock runs from the
# process start until `srvr` reports a Mode line: ZooKeeper answers ruok before its data is
# loaded, but srvr only once it serves requests (zkfsd answers nothing before that).
RESTART_NODES=${BENCH_RESTART_NODES:-1000000}
now_ms() { date +%s%3N; }
restart_ms() { # pid-var port start-function; sets RESTART (ms, or "failed"); not in a subshell
    t0=$(now_ms)
    $3
    eval "pid=\$$1"
    RESTART=failed
    i=0
    while [ $i -lt 12000 ] && kill -0 "$pid" 2>/dev/null; do
        if printf srvr | timeout 3 nc -w 2 127.0.0.1 "$2" 2>/dev/null | grep -q '^Mode:'; then
            RESTART=$(( $(now_ms) - t0 ))
            break
        fi
        sleep 0.05; i=$((i + 1))
    done
}
ZK_RESTART="-"; FS_RESTART="-"
if [ "$RESTART_NODES" -gt 0 ]; then
    echo "bench: filling both servers with $RESTART_NODES znodes ..." >&2
    op=create; c=4; n=64
    LINE=$(timeout 900 "$ZKLOAD" -s "127.0.0.1:$ZK_PORT" -o create -c 4 -n 64 -N "$RESTART_NODES" -p /restart 2>>"$LOGDIR/zkload.err")
    echo "server=zk-fill $LINE" >>"$RAW"
    ZK_FILL=$(field "$LINE" status)
    sample_mem
    stop_pid "$ZK_PID"; ZK_PID=""
    if [ "$ZK_FILL" = ok ]; then
        restart_ms ZK_PID "$ZK_PORT" start_zk; ZK_RESTART=$RESTART
    fi
    if [ -n "$FS_PID" ]; then
        LINE=$(timeout 900 "$ZKLOAD" -s "127.0.0.1:$FS_PORT" -o create -c 4 -n 64 -N "$RESTART_NODES" -p /restart 2>>"$LOGDIR/zkload.err")
        echo "server=zkfsd-fill $LINE" >>"$RAW"
        FS_FILL=$(field "$LINE" status)
        sample_mem
        stop_pid "$FS_PID"; FS_PID=""
        if [ "$FS_FILL" = ok ]; then
            restart_ms FS_PID "$FS_PORT" start_fs; FS_RESTART=$RESTART
        fi
    fi
    sample_mem
fi

ELAPSED=$(( $(date +%s) - START ))
LOAD_AT_END=$(cut -d' ' -f1-3 /proc/loadavg)
# The servers are no longer needed; stop them before printing, so that a reader who
# closes the pipe early cannot leave them behind. The report files are kept until exit.
stop_pid "$ZK_PID"; ZK_PID=""
stop_pid "$FS_PID"; FS_PID=""
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
ZK_HWM_MB=$(mib "$ZK_HWM")
ZK_IDLE_MB=$(mib "${ZK_IDLE:-0}")
if [ "$FS_HWM" -gt 0 ]; then
    FS_HWM_MB=$(mib "$FS_HWM")
    FS_IDLE_MB=$(mib "${FS_IDLE:-0}")
else
    FS_HWM_MB="n/a"; FS_IDLE_MB="n/a"
fi

# ---- report ----
report() {
    echo "zkfs benchmark: zkfsd vs Apache ZooKeeper, $(date -u '+%Y-%m-%dT%H:%M:%SZ')"
    echo "machine: $(nproc) CPUs ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), load average $LOAD_AT_START at start, $LOAD_AT_END at end"
    echo "ZooKeeper: $(dpkg-query -W -f='${Version}' zookeeper 2>/dev/null) (Debian package), $(java -version 2>&1 | head -n 1), flags: $ZK_JVM_FLAGS"
    echo "zkfsd: $FS_STATE"
    echo "client: zkload (Apache ZooKeeper C client, async API); ${DATASIZE}-byte data; a ${WARM_SECS} s create/get/set warm-up per server, then ${WARMUP} s warm-up + ${SECS} s measured per run; forceSync=yes, dataDir on $(df -P "${TMPDIR:-/tmp}" | awk 'NR == 2 { print $1 }')"
    echo "c = client sessions, n = requests in flight per session; client and servers share the machine's CPUs"
    echo
    echo "throughput (ratio > 1: zkfsd is faster)"
    awk -F'|' 'BEGIN {
        f = "%-16s | %14s | %14s | %14s\n"
        printf f, "workload", "ZooKeeper op/s", "zkfsd op/s", "ratio zkfsd/ZK"
        printf f, "----------------", "--------------", "--------------", "--------------"
    }
    { printf "%-16s | %14s | %14s | %14s\n", $1, $2, $3, $4 }' "$ROWS"
    echo
    echo "latency p50/p99 in microseconds; server CPU time (user + system, all threads) per operation (ratio < 1: zkfsd uses less)"
    awk -F'|' 'BEGIN {
        f = "%-16s | %15s | %15s | %15s | %15s | %12s\n"
        printf f, "workload", "ZK p50/p99", "zkfsd p50/p99", "ZK CPU us/op", "zkfsd CPU us/op", "CPU zkfsd/ZK"
        printf f, "----------------", "---------------", "---------------", "---------------", "---------------", "------------"
    }
    { printf "%-16s | %15s | %15s | %15s | %15s | %12s\n", $1, $5, $6, $7, $8, $9 }' "$ROWS"
    echo
    printf '%-28s | %14s | %14s | %14s\n' "memory" "ZooKeeper MiB" "zkfsd MiB" "ratio zkfsd/ZK"
    printf '%-28s | %14s | %14s | %14s\n' "----------------------------" "--------------" "--------------" "--------------"
    printf '%-28s | %14s | %14s | %14s\n' "RSS idle after start" "$ZK_IDLE_MB" "$FS_IDLE_MB" "$(ratio "$ZK_IDLE_MB" "$FS_IDLE_MB" 3)"
    printf '%-28s | %14s | %14s | %14s\n' "peak RSS (VmHWM), whole run" "$ZK_HWM_MB" "$FS_HWM_MB" "$(ratio "$ZK_HWM_MB" "$FS_HWM_MB" 3)"
    printf '%-28s | %14s | %14s | %14s\n' "restart, $RESTART_NODES znodes (ms)" "$ZK_RESTART" "$FS_RESTART" "$(ratio "$FS_RESTART" "$ZK_RESTART" 2) (ZK/zkfsd)"
    echo
    if [ -s "$NOTES" ]; then
        echo "runs with errors (\"!\": the rate counts successful operations only; \"failed\": no measurement):"
        cat "$NOTES"
        echo
    fi
    echo "bench took ${ELAPSED} s; raw results:"
    cat "$RAW"
}
report >"$OUT.tmp" && mv "$OUT.tmp" "$OUT"
# The raw lines are for the file; the terminal gets the table.
sed '/^bench took/,$d' "$OUT"
echo "bench took ${ELAPSED} s; written to $OUT (with the raw zkload lines); logs in $LOGDIR"
exit 0
