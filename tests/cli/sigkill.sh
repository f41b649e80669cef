#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A backup killed with SIGKILL at any moment leaves a repository that checks
# clean; three such kills in a row, then a full backup completes, reuses the
# packs the killed runs left (stores less than the data), and the result
# passes check --read-data and restores byte for byte.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

MIB=$((1024 * 1024))
src=$W/src
mkdir -p "$src/d1" "$src/d2"
for i in 1 2 3; do
        rand_file "$src/d1/f$i" $((50 * MIB))
        rand_file "$src/d2/f$i" $((50 * MIB))
done
size=$((300 * MIB))
expect_exit 0 cairn init

# Packs in the repository; none (and no data/ directory) until the first.
packs() {
        { find "$REPO/data" -type f ! -name '.tmp-*' 2>/dev/null || true; } | wc -l
}

kill_run() {
        local how=$1 pid rc=0 ms waited=0
        "$CAIRN" -r "$REPO" backup "$src" >"$W/killed.out" 2>"$W/killed.err" &
        pid=$!
        if [ "$how" = random ]; then
                ms=$((200 + RANDOM % 1801))
                sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
        else
                # Until the run has put at least one pack of its own.
                local before
                before=$(packs)
                ms="until-a-pack"
                while [ "$(packs)" -le "$before" ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt 600 ]; do
                        sleep 0.1
                        waited=$((waited + 1))
                done
        fi
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" || rc=$?
        if [ "$rc" = 0 ]; then
                note "run ($ms ms) finished before the kill"
        elif [ "$rc" != 137 ]; then
                cat "$W/killed.err" >&2
                die "the backup to be killed failed by itself (exit $rc)"
        else
                note "killed after $ms ms; packs now: $(packs)"
        fi
        expect_exit 0 cairn check
        expect_exit 0 cairn snapshots
}

for _ in 1 2 3; do
        kill_run random
done
# Make sure some killed run got as far as a pack, so reuse can be asserted.
if [ "$(packs)" = 0 ]; then
        kill_run until-a-pack
fi
[ "$(packs)" -gt 0 ] || die "no killed run left a pack behind"

expect_exit 0 cairn backup --json "$src"
stored=$(json_num stored_bytes_new "$W/out")
note "final backup stored $stored of $size bytes"
[ "$stored" -lt "$size" ] ||
        fail "the completing backup stored $stored bytes for $size bytes of data: the packs of the killed runs were not reused"

check_exit 0 cairn check --read-data || true
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" -ge 1 ] || die "no snapshot after the full backup"
if check_exit 0 cairn restore latest --target "$W/restored"; then
        diff -r -- "$src" "$W/restored$src" >&2 || fail "the restored tree differs from the source"
fi
note "done"
