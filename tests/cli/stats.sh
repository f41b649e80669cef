#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Stats (issue 11 item 6) against a fixture whose numbers are worked out
# here, independently of cairn: three snapshots of a tree with a duplicate
# file and a compressible one (files in all and in distinct directories,
# logical and unique bytes, chunks, the ratios as divisions of those),
# storage as the folders' sizes on disk; then a hold and an erasure it
# defers (deferred bytes), the hold gone by hand (pending bytes), and the
# erasure carried out (none left); a second controller is counted apart.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

src=$W/src
mkdir -p "$src/a" "$src/b"
rand_file "$src/a/f1" 100000
rand_file "$src/a/f2" 200000
cp "$src/a/f1" "$src/a/f3"                   # the same bytes: one chunk
head -c 100000 /dev/zero >"$src/b/zero"      # compresses to almost nothing
rand_file "$src/b/g" 50000
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
expect_exit 0 cairn backup "$src"
rand_file "$src/b/g" 70000                   # b changes, a does not
expect_exit 0 cairn backup "$src"
expect_exit 0 cairn backup "$src"

# stats_get KEY...: one number of 'stats --json' (the first controller), by path
stats_get() {
        python3 -c 'import json,sys
v = json.load(open(sys.argv[1]))[0]
for k in sys.argv[2:]: v = v[k]
print("null" if v is None else v)' "$W/stats.json" "$@"
}
stats() {
        expect_exit 0 cairn stats --json "$@"
        cp "$W/out" "$W/stats.json"
}
# folder_bytes FOLDER: what the controller's objects under it take on disk
folder_bytes() {
        find "$REPO/$1/$ctl" -type f ! -name '.tmp-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}'
}
expect_equal() { # expect_equal WHAT GOT WANT
        [ "$2" = "$3" ] || fail "$1: got $2, want $3"
}
expect_ratio() { # expect_ratio WHAT GOT NUMERATOR DENOMINATOR
        python3 -c 'import sys; g, a, b = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]); sys.exit(abs(g - a / b) > 1e-9 * max(1, a / b))' \
                "$2" "$3" "$4" || fail "$1: got $2, want $3/$4"
}

note "item 6: snapshots, files, logical and unique bytes of a known tree"
stats
# three snapshots of 5 files each; sizes 100000+200000+100000+100000+50000,
# then twice with g at 70000
logical=$((100000 + 200000 + 100000 + 100000 + 50000 + 2 * (100000 + 200000 + 100000 + 100000 + 70000)))
expect_equal snapshots "$(stats_get snapshots)" 3
expect_equal "files in all" "$(stats_get files total)" 15
# distinct directories: a (3 files) once, b before and after the change (2 each)
expect_equal "distinct files" "$(stats_get files distinct)" 7
expect_equal "logical bytes" "$(stats_get logical_bytes)" "$logical"
# chunks (every file is under the 512 KiB minimum chunk): f1 (= f3), f2, zero, g, the new g
unique=$((100000 + 200000 + 100000 + 50000 + 70000))
expect_equal chunks "$(stats_get chunks)" 5
expect_equal "unique bytes" "$(stats_get unique_bytes)" "$unique"
expect_equal "missing chunks" "$(stats_get missing_chunks)" 0
expect_ratio "dedup ratio" "$(stats_get dedup_ratio)" "$logical" "$unique"
stored_unique=$(stats_get unique_stored_bytes)
# random data does not compress (and gains a nonce and a tag); 100000 zeros nearly vanish
[ "$stored_unique" -gt $((unique - 100000)) ] && [ "$stored_unique" -lt $((unique - 90000)) ] ||
        fail "unique stored bytes $stored_unique: not what 370000 random and 100000 zero bytes take"
expect_ratio "compression ratio" "$(stats_get compression_ratio)" "$unique" "$stored_unique"

note "item 6: stored bytes and metadata are what the controller's folders hold"
expect_equal "stored bytes" "$(stats_get stored_bytes)" "$(folder_bytes data)"
expect_equal packs "$(stats_get packs)" "$(find "$REPO/data/$ctl" -type f ! -name '.tmp-*' | wc -l)"
expect_equal "index bytes" "$(stats_get index_bytes)" "$(folder_bytes index)"
expect_equal "ledger bytes" "$(stats_get ledger_bytes)" "$(folder_bytes ledger)"
overhead=$(stats_get pack_overhead_bytes)
blobs=$(stats_get blobs)
[ "$overhead" -gt 0 ] && [ "$overhead" -le $(($(folder_bytes data) - stored_unique)) ] ||
        fail "pack overhead $overhead: outside (0, stored - chunk bytes]"
[ "$blobs" -gt 5 ] || fail "$blobs blobs: fewer than the chunks and trees"
expect_ratio "metadata per chunk" "$(stats_get metadata_bytes_per_chunk)" \
        "$(($(folder_bytes index) + $(folder_bytes ledger) + overhead))" "$blobs"
expect_exit 0 cairn stats
grep -q "^  files                  15 in all, 7 distinct" "$W/out" || fail "text: $(cat "$W/out")"
grep -q "^  logical bytes          .* ($logical)$" "$W/out" || fail "text logical: $(cat "$W/out")"
grep -q "^  unique bytes           .* ($unique) in 5 chunks$" "$W/out" || fail "text unique: $(cat "$W/out")"

note "item 6: an erasure a hold defers: its bytes are deferred; held snapshots and bytes"
mapfile -t -d ' ' snaps < <(snapshot_ids)
expect_exit 0 cairn hold add --snapshot "${snaps[0]}" --reason "audit"
hold=$(cat "$W/out")
expect_exit 3 cairn erase --path "$src/a/f2"
stats
expect_equal "pending requests" "$(stats_get erasure pending_requests)" 1
expect_equal "deferred bytes" "$(stats_get erasure deferred_bytes)" 200000
expect_equal "pending bytes" "$(stats_get erasure pending_bytes)" 0
expect_equal "held snapshots" "$(stats_get holds held_snapshots)" 1
expect_equal "held bytes" "$(stats_get holds held_bytes)" 550000
# the two later snapshots lost f2; the held one kept it
expect_equal "logical bytes after" "$(stats_get logical_bytes)" $((logical - 2 * 200000))
expect_equal "files after" "$(stats_get files total)" 13
expect_equal "distinct files after" "$(stats_get files distinct)" 9
expect_equal "unique bytes after" "$(stats_get unique_bytes)" "$unique"

note "item 6: the same request with no hold any more (removed by hand): its bytes are pending"
rm -- "$REPO/holds/$ctl/$hold"
stats
expect_equal "pending bytes, no hold" "$(stats_get erasure pending_bytes)" 200000
expect_equal "deferred bytes, no hold" "$(stats_get erasure deferred_bytes)" 0
expect_equal "held, no hold" "$(stats_get holds held_snapshots)" 0
expect_exit 0 cairn erase --pending
stats
expect_equal "pending requests after" "$(stats_get erasure pending_requests)" 0
expect_equal "pending bytes after" "$(stats_get erasure pending_bytes)" 0
expect_equal "unique bytes without f2" "$(stats_get unique_bytes)" $((unique - 200000))

note "item 6: each controller counted apart; one without data has no ratios"
expect_exit 0 cairn controller add other
expect_exit 0 cairn stats --json
python3 - "$W/out" <<'PY' || fail "two controllers: $(cat "$W/out")"
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 2, l
empty = [c for c in l if c["controller"]["name"] == "other"][0]
assert empty["snapshots"] == 0 and empty["logical_bytes"] == 0 and empty["stored_bytes"] == 0, empty
assert empty["dedup_ratio"] is None and empty["compression_ratio"] is None, empty
PY
expect_exit 0 cairn --controller other stats
grep -q "^controller other$" "$W/out" && grep -q "^  dedup ratio            -$" "$W/out" || fail "other: $(cat "$W/out")"
grep -q "controller default" "$W/out" && fail "--controller other shows default"
expect_exit 2 cairn stats extra

note "item 6: a deferred subject erasure reaches everything below the directory that has the subject"
expect_exit 0 cairn --controller other backup --subject-rule "$src/{subject}" "$src"
expect_exit 0 cairn --controller other hold add --snapshot latest --reason "audit"
expect_exit 3 cairn --controller other erase --subject a
expect_exit 0 cairn --controller other stats --json
cp "$W/out" "$W/stats.json"
# only the directory a has the subject: its three files (f1, f2, f3) are reached
expect_equal "deferred bytes, subject" "$(stats_get erasure deferred_bytes)" 400000
expect_equal "pending bytes, subject" "$(stats_get erasure pending_bytes)" 0
