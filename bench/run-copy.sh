#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# bench/run-copy.sh [DATA]: `cairn copy` next to `restic copy`, local to
# local, on DATA (default: the Linux tree of bench/run-e2e.sh). Each tool
# backs DATA up into a source repository (not timed); then, timed with
# /usr/bin/time: init of a replica / a repository with the source's chunker
# parameters, the full copy, and a copy with nothing left to send. Prints a
# markdown table (wall s, CPU s, peak RSS MiB, repository MiB); RUNS=N
# repeats the copies (alternating tools) and prints every run.
#
# CAIRN (default build-rel/agent/cairn: meson setup build-rel
# --buildtype=release), WORK (default /var/tmp/cairn-copy-bench; removed).
set -euo pipefail
DATA=${1:-/var/tmp/cairn-bench/src/linux-orig}
CAIRN=${CAIRN:-build-rel/agent/cairn}
WORK=${WORK:-/var/tmp/cairn-copy-bench}
RUNS=${RUNS:-1}
[ -d "$DATA" ] || { echo "no data at $DATA" >&2; exit 2; }
command -v restic >/dev/null || { echo "restic is not installed" >&2; exit 2; }
CAIRN=$(realpath "$CAIRN")
export CAIRN_PASSWORD=bench CAIRN_FROM_PASSWORD=bench RESTIC_PASSWORD=bench RESTIC_FROM_PASSWORD=bench
export XDG_CACHE_HOME=$WORK/cache
rm -rf "$WORK"
mkdir -p "$WORK"

measure() { # measure LABEL CMD...: one row
        local label=$1 t
        shift
        sync
        /usr/bin/time -f '%e %U %S %M' -o "$WORK/time" "$@" >"$WORK/log" 2>&1 || { cat "$WORK/log" >&2; exit 1; }
        read -r wall user sys rss <"$WORK/time"
        printf '| %s | %s | %.2f | %.0f |' "$label" "$wall" "$(echo "$user + $sys" | bc)" "$((rss / 1024))"
}
size() {
        printf ' %d |\n' "$(($(du -sb "$1" | cut -f1) / 1048576))"
}

"$CAIRN" -r "$WORK/cairn-src" init >/dev/null
"$CAIRN" -r "$WORK/cairn-src" backup "$DATA" >/dev/null
restic -q -r "$WORK/restic-src" init >/dev/null
restic -q -r "$WORK/restic-src" backup "$DATA" >/dev/null
echo "data: $DATA, $(find "$DATA" -type f | wc -l) files, $(du -sb "$DATA" | cut -f1) bytes;" \
        "cairn source $(($(du -sb "$WORK/cairn-src" | cut -f1) / 1048576)) MiB," \
        "restic source $(($(du -sb "$WORK/restic-src" | cut -f1) / 1048576)) MiB"
echo
echo "| step | wall s | CPU s | peak RSS MiB | repo MiB |"
echo "|---|---:|---:|---:|---:|"
for run in $(seq "$RUNS"); do
        rm -rf "$WORK/cairn-dst" "$WORK/restic-dst" "$XDG_CACHE_HOME"
        measure "cairn init --replica-of" "$CAIRN" -r "$WORK/cairn-dst" init --replica-of "$WORK/cairn-src"
        size "$WORK/cairn-dst"
        measure "cairn copy (run $run)" "$CAIRN" -r "$WORK/cairn-dst" copy --from "$WORK/cairn-src"
        size "$WORK/cairn-dst"
        measure "cairn copy, nothing to send" "$CAIRN" -r "$WORK/cairn-dst" copy --from "$WORK/cairn-src"
        size "$WORK/cairn-dst"
        measure "restic init --copy-chunker-params" restic -r "$WORK/restic-dst" init --from-repo "$WORK/restic-src" \
                --copy-chunker-params
        size "$WORK/restic-dst"
        measure "restic copy (run $run)" restic -r "$WORK/restic-dst" copy --from-repo "$WORK/restic-src"
        size "$WORK/restic-dst"
        measure "restic copy, nothing to send" restic -r "$WORK/restic-dst" copy --from-repo "$WORK/restic-src"
        size "$WORK/restic-dst"
done
rm -rf "$WORK"
