#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Issue 10: an erasure reaches replicas. `erase --replica R` erases the same
# request in R and moves R to the source's new key epoch and key, so R
# stays a replica (copy goes on working) and its old copies open nothing
# erased. A replica that cannot be reached makes the erasure partial (exit
# 3, certificate "partial", the replica named); `erase --pending --replica
# R` completes it once R is back: R then holds nothing of what was erased,
# and the certificate of that run is "complete".
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
src=$W/src
mkdir -p "$src/keep" "$src/gone"
rand_file "$src/keep/k" 20000
rand_file "$src/gone/secret-1" 30000
R=$W/replica
expect_exit 0 cairn init
expect_exit 0 cairn backup "$src"
expect_exit 0 "$CAIRN" -r "$R" init --replica-of "$REPO"
expect_exit 0 "$CAIRN" -r "$R" copy --from "$REPO"

note "issue 10: erase --replica erases in the replica too, which stays a replica"
expect_exit 0 cairn erase --path "$src/gone/**" --replica "$R" --json
grep -q '"replicas":\[{"url":"[^"]*","status":"done"}\]' "$W/out" || fail "the report does not say the replica is done: $(cat "$W/out")"
expect_exit 0 "$CAIRN" -r "$R" ls latest
grep -q secret "$W/out" && fail "the replica still lists the erased file"
grep -q "$src/keep/k" "$W/out" || fail "the replica lost a kept file"
expect_exit 0 "$CAIRN" -r "$R" check --read-data
expect_exit 0 cairn key-store list --json
src_epoch=$(json_num epoch "$W/out")
expect_exit 0 "$CAIRN" -r "$R" key-store list --json
[ "$(json_num epoch "$W/out")" = "$src_epoch" ] || fail "the replica is not at the source's epoch $src_epoch"
rand_file "$src/keep/k2" 10000
expect_exit 0 cairn backup "$src"
expect_exit 0 "$CAIRN" -r "$R" copy --from "$REPO"
rm -rf -- "$W/t"
expect_exit 0 "$CAIRN" -r "$R" restore latest --target "$W/t"
cmp -s "$src/keep/k2" "$W/t$src/keep/k2" || fail "a file copied after the erasure does not restore from the replica"

note "issue 10: an unreachable replica makes the erasure partial, --pending completes it"
rand_file "$src/gone/secret-2" 30000
expect_exit 0 cairn backup "$src"
expect_exit 0 "$CAIRN" -r "$R" copy --from "$REPO"
cp -a -- "$R" "$W/replica-before"
mv -- "$R" "$R.away"
check_exit 3 cairn erase --path "$src/gone/**" --replica "$R" || true
grep -q "not erased there" "$W/err" || fail "the unreachable replica is not named: $(cat "$W/err")"
expect_exit 0 cairn certificate list --json
grep -q '"status":"partial"' "$W/out" || fail "no partial certificate: $(cat "$W/out")"
mv -- "$R.away" "$R"
expect_exit 0 cairn erase --pending --replica "$R"
grep -q "carried out" "$W/out" || fail "--pending did not carry out the request: $(cat "$W/out")"
expect_exit 0 "$CAIRN" -r "$R" ls latest
grep -q secret "$W/out" && fail "the replica still lists an erased file after --pending"
expect_exit 0 "$CAIRN" -r "$R" check --read-data
# the old raw copy of the replica with its current key store: the epoch
# of its erased data is gone
expect_exit 0 "$CAIRN" -r "$R" key-store list --json
[ "$(json_num keys "$W/out")" = 1 ] || fail "the replica's key store keeps more than one key"
chmod -R u+w -- "$W/replica-before"
check_exit 1 "$CAIRN" -r "$W/replica-before" ls latest || true
grep -q -e "no key" -e "holds no key" "$W/err" || fail "the replica's old copy still opens: $(cat "$W/err")"
expect_exit 0 cairn certificate list --json
grep -q '"status":"complete"' "$W/out" || fail "no complete certificate after --pending: $(cat "$W/out")"
note "done"
