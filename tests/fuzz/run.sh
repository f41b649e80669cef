#!/usr/bin/env bash
# Fuzz one target, or all of them one after the other, for SECONDS each.
#
#   tests/fuzz/run.sh TARGET|all SECONDS
#
# Uses (and sets up, the first time) the clang build build-fuzz/
# (-Dfuzz=true with ASan and UBSan; BUILD=dir to use another). Inputs
# libFuzzer finds go to build-fuzz/fuzz-work/TARGET/; at the end those
# that add coverage are merged into tests/fuzz/corpus/TARGET/ (commit
# them). Crashes, leaks, timeouts and sanitizer reports are saved as
# tests/fuzz/crashes/TARGET-*: fix the code, then move the input into the
# corpus so that the replay test keeps it fixed. One fuzzer at a time
# (-jobs is not used): the machine is shared.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target=${1:?usage: run.sh TARGET|all SECONDS}
seconds=${2:?usage: run.sh TARGET|all SECONDS}
build=${BUILD:-$root/build-fuzz}

if [ ! -f "$build/build.ninja" ]; then
        command -v clang >/dev/null || {
                echo "run.sh: needs clang and libFuzzer: packaging/install-deps.sh --test installs them" >&2
                exit 2
        }
        CC=clang meson setup "$build" "$root" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
                -Dtests=false >/dev/null
fi
ninja -C "$build" >/dev/null

if [ "$target" = all ]; then
        targets=$(cd "$here" && ls fuzz-*.c | sed 's/^fuzz-//; s/\.c$//')
else
        [ -f "$here/fuzz-$target.c" ] || { echo "run.sh: no target $target (tests/fuzz/fuzz-$target.c)" >&2; exit 2; }
        targets=$target
fi

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
mkdir -p "$here/crashes"
status=0
for t in $targets; do
        work=$build/fuzz-work/$t
        mkdir -p "$work" "$here/corpus/$t"
        echo "== $t: ${seconds}s" >&2
        start=$(date +%s)
        "$build/tests/fuzz/fuzz-$t" "$work" "$here/corpus/$t" -max_total_time="$seconds" -timeout=10 \
                -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
                -artifact_prefix="$here/crashes/$t-" >"$work.log" 2>&1 || {
                status=1
                echo "run.sh: $t found a problem: $(grep -m1 -E 'ERROR|runtime error|property failed' "$work.log" || tail -1 "$work.log")" >&2
                echo "        log: $work.log; input: $(ls -t "$here"/crashes/"$t"-* 2>/dev/null | head -1)" >&2
        }
        # keep only what adds coverage
        "$build/tests/fuzz/fuzz-$t" -merge=1 "$here/corpus/$t" "$work" >/dev/null 2>&1 || true
        echo "   $t: $(( $(date +%s) - start ))s, $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work.log" | grep -o '[0-9]*$' || echo '?') runs, corpus $(ls "$here/corpus/$t" | wc -l) files" >&2
done
exit $status
