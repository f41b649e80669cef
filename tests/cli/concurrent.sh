#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Two backups of different trees into one repository at the same time both
# succeed and both snapshots are whole: listed, check --read-data clean, each
# restores exactly. The trees share one file, so both writers store the same
# chunks at once.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

MIB=$((1024 * 1024))
mkdir -p "$W/one/sub" "$W/two/sub"
rand_file "$W/shared" $((24 * MIB))
for t in one two; do
        rand_file "$W/$t/a" $((40 * MIB))
        rand_file "$W/$t/sub/b" $((3 * MIB))
        printf '%s\n' "$t" >"$W/$t/sub/name"
        cp -- "$W/shared" "$W/$t/shared"
done
expect_exit 0 cairn init

"$CAIRN" -r "$REPO" backup --json "$W/one" >"$W/one.out" 2>"$W/one.err" &
p1=$!
"$CAIRN" -r "$REPO" backup --json "$W/two" >"$W/two.out" 2>"$W/two.err" &
p2=$!
rc1=0 rc2=0
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
[ "$rc1" = 0 ] || fail "backup of tree one exited $rc1: $(cat "$W/one.err")"
[ "$rc2" = 0 ] || fail "backup of tree two exited $rc2: $(cat "$W/two.err")"

expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 2 ] || fail "expected 2 snapshots: $(cat "$W/out")"
check_exit 0 cairn check --read-data || true

for t in one two; do
        id=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/$t.out" | cut -d'"' -f4)
        [ -n "$id" ] || { fail "backup of tree $t printed no snapshot id"; continue; }
        if check_exit 0 cairn restore "$id" --target "$W/restored-$t"; then
                same_tree "$W/$t" "$W/restored-$t$W/$t" || fail "tree $t restored differently (diff above)"
        fi
done
note "done"
