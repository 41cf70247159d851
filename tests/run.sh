#!/bin/sh
# Runs every test program and prints one closing line "N passed, N failed".
# Unit tests are cmocka binaries in $BUILD/tests/test_*; integration tests are
# tests/integration/test_*.py (Debian's /usr/bin/python3, for kazoo) and test_*.sh.
# A program's counts come from its own closing line ("N passed, N failed", or
# cmocka's [ PASSED ]/[ FAILED ] lines); a program that exits non-zero without
# reporting a failure counts as one failure. ONLY=unit|integration narrows the run.
BUILD=${BUILD:-build/rel}
LOGDIR=${LOGDIR:-$BUILD/test-logs}
mkdir -p "$LOGDIR"
total_pass=0
total_fail=0
failed_names=""

run_one() {
    name=$1; shift
    log="$LOGDIR/$(echo "$name" | tr / _).log"
    start=$(date +%s)
    "$@" >"$log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - start ))
    line=$(grep -E '^([A-Za-z_-]+: )?[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        p=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\2/')
        f=$(echo "$line" | sed -E 's/^([A-Za-z_-]+: )?([0-9]+) passed, ([0-9]+) failed.*/\3/')
    else
        p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | tail -n 1 | sed -E 's/.*\] ([0-9]+) test.*/\1/')
        f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | tail -n 1 | sed -E 's/.*\] ([0-9]+) test.*/\1/')
        p=${p:-0}; f=${f:-0}
        if [ "$p" = 0 ] && [ "$f" = 0 ]; then
            if [ $rc = 0 ]; then p=1; else f=1; fi
        fi
    fi
    if [ $rc != 0 ] && [ "$f" = 0 ]; then f=1; fi
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
    if [ "$f" != 0 ]; then
        status=FAIL; failed_names="$failed_names $name"
        echo "---- $name output (tail) ----"; tail -n 40 "$log"; echo "----"
    else
        status=ok
    fi
    printf '%-40s %4s passed %3s failed  %4ss  %s\n' "$name" "$p" "$f" "$secs" "$status"
}

if [ "${ONLY:-unit}" = unit ] || [ -z "${ONLY:-}" ]; then
    for t in "$BUILD"/tests/test_*; do
        [ -x "$t" ] || continue
        run_one "unit/$(basename "$t")" "$t"
    done
fi
if [ "${ONLY:-integration}" = integration ] || [ -z "${ONLY:-}" ]; then
    for t in tests/integration/test_*.py tests/integration/test_*.sh; do
        [ -f "$t" ] || continue
        case "$t" in
            *.py) run_one "integration/$(basename "$t")" /usr/bin/python3 "$t" ;;
            *.sh) run_one "integration/$(basename "$t")" bash "$t" ;;
        esac
    done
fi
[ -n "$failed_names" ] && echo "failed:$failed_names"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" = 0 ]
