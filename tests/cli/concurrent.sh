#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# WRITERS (default 2) backups of different trees, as different hosts, into
# one repository at the same time all succeed and every snapshot is whole:
# listed, check --read-data clean, each restores exactly. The trees share one
# file, so the writers store the same chunks at once. No writer takes a lock
# (docs/FORMAT.md, "Many writers"). tests/remote/ runs this with 4 writers
# against object stores (CAIRN_TEST_REPO, CONCURRENT_MIB for smaller files).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

WRITERS=${WRITERS:-2}
MIB=$((1024 * 1024))
size=${CONCURRENT_MIB:-40}
rand_file "$W/shared" $((size * MIB / 2))
for ((i = 1; i <= WRITERS; i++)); do
        t=$W/tree$i
        mkdir -p "$t/sub"
        rand_file "$t/a" $((size * MIB))
        rand_file "$t/sub/b" $((3 * MIB))
        printf 'tree %s\n' "$i" >"$t/sub/name"
        cp -- "$W/shared" "$t/shared"
done
expect_exit 0 cairn init

pids=()
for ((i = 1; i <= WRITERS; i++)); do
        "$CAIRN" -r "$REPO" backup --json --host "host$i" "$W/tree$i" >"$W/b$i.out" 2>"$W/b$i.err" &
        pids+=($!)
done
for ((i = 1; i <= WRITERS; i++)); do
        rc=0
        wait "${pids[i - 1]}" || rc=$?
        [ "$rc" = 0 ] || fail "backup of tree $i exited $rc: $(cat "$W/b$i.err")"
done

expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = "$WRITERS" ] || fail "expected $WRITERS snapshots: $(cat "$W/out")"
check_exit 0 cairn check --read-data || true

for ((i = 1; i <= WRITERS; i++)); do
        id=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/b$i.out" | cut -d'"' -f4)
        [ -n "$id" ] || { fail "backup of tree $i printed no snapshot id"; continue; }
        if check_exit 0 cairn restore "$id" --target "$W/restored$i"; then
                same_tree "$W/tree$i" "$W/restored$i$W/tree$i" || fail "tree $i restored differently (diff above)"
        fi
done
note "done: $WRITERS writers"
