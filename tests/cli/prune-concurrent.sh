#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# prune while backups write (issue 9, item 3): WRITERS (3) hosts back up
# their changing trees in loops for PRUNE_SECONDS (25) seconds, each
# iteration's tree known (own files from writer and iteration, shared files
# the same for every writer and back every third iteration, so chunks that
# a forgotten snapshot held are wanted again while prune deletes them);
# meanwhile a loop runs forget --keep-last 2 per host and prune (every
# other time with --max-unused 0). Then a last prune, check --read-data,
# and every snapshot left restores to the tree it was made of. Every
# backup and every prune must succeed, and the prunes must have deleted
# something. tests/remote/s3.sh runs this against an S3 server
# (CAIRN_TEST_REPO, a shorter PRUNE_SECONDS).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=prune-lib.sh
. "$(dirname -- "$0")/prune-lib.sh"

WRITERS=${WRITERS:-3}
PRUNE_SECONDS=${PRUNE_SECONDS:-25}

cd "$W"
expect_exit 0 cairn init
rm -f "$W/stop"

# writer W: back up $W/tW as host hW until $W/stop appears.
writer() {
        local w=$1 i out id
        for ((i = 1; ; i++)); do
                [ -e "$W/stop" ] && [ "$i" -gt 2 ] && break
                fill_tree "$W/t$w" "$w" "$i"
                if ! out=$("$CAIRN" -r "$REPO" backup --json --host "h$w" "$W/t$w" 2>"$W/w$w.err"); then
                        echo "writer $w iteration $i: $(cat "$W/w$w.err")" >>"$W/failures"
                        continue
                fi
                id=$(grep -o '"snapshot":"[0-9a-f]*"' <<<"$out" | cut -d'"' -f4)
                state_save "$id" "$W/t$w"
                echo "$id" >>"$W/w$w.ids"
        done
}

# pruner: forget and prune until $W/stop appears.
pruner() {
        local n=0 w args
        while [ ! -e "$W/stop" ]; do
                for ((w = 1; w <= WRITERS; w++)); do
                        "$CAIRN" -r "$REPO" forget --keep-last 2 --host "h$w" >/dev/null 2>"$W/f.err" ||
                                echo "forget h$w: $(cat "$W/f.err")" >>"$W/failures"
                done
                n=$((n + 1))
                args=()
                [ $((n % 2)) = 0 ] && args=(--max-unused 0)
                if "$CAIRN" -r "$REPO" prune --json "${args[@]}" >"$W/p.out" 2>"$W/p.err"; then
                        cat "$W/p.out" >>"$W/prunes.json"
                else
                        echo "prune $n: $(cat "$W/p.err")" >>"$W/failures"
                fi
        done
}

note "item 3: $WRITERS writers back up for ${PRUNE_SECONDS}s while forget and prune run"
pids=()
for ((w = 1; w <= WRITERS; w++)); do
        writer "$w" &
        pids+=($!)
done
pruner &
pids+=($!)
at_exit 'touch "$W/stop"; wait'
sleep "$PRUNE_SECONDS"
touch "$W/stop"
for p in "${pids[@]}"; do
        wait "$p" || fail "a writer or the pruner loop failed"
done

[ ! -s "$W/failures" ] || fail "backups, forgets or prunes failed while running together: $(head -c 3000 "$W/failures")"
backups=$(cat "$W"/w*.ids | wc -l)
prunes=$(grep -c '"dry_run"' "$W/prunes.json" || true)
deleted=$(json_sum bytes_deleted "$W/prunes.json")
note "$backups backups, $prunes prunes ($(json_sum plans_waiting "$W/prunes.json") plans waited for" \
        "$(json_sum writers_waited "$W/prunes.json") running backups), $deleted bytes deleted"
for ((w = 1; w <= WRITERS; w++)); do
        [ "$(wc -l <"$W/w$w.ids")" -ge 3 ] || fail "writer $w made fewer than 3 snapshots"
done
[ "$prunes" -ge 2 ] || fail "only $prunes prunes ran"
[ "$deleted" -gt 0 ] || fail "the prunes deleted nothing: the test proves nothing"

note "item 3: a last prune, check --read-data, every snapshot restores to its tree"
expect_exit 0 cairn prune --max-unused 0 --json
check_exit 0 cairn check --read-data || true
n=$(check_every_snapshot)
note "$n snapshots restored and compared"
[ "$n" -ge "$WRITERS" ] || fail "only $n snapshots left"
expect_exit 0 cairn prune --max-unused 0 --dry-run --json
[ "$(json_num blobs_unreachable "$W/out")" = 0 ] || fail "the last prune left unreachable blobs: $(cat "$W/out")"
