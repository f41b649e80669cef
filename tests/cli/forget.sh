#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# forget (issue 9, item 1): restic's policy per group (controller, then
# host and paths by default), every reason printed, --dry-run the same table
# and nothing removed, --json with keep/remove/reasons per group, refusal to
# empty a group without --keep-none, no policy a usage error, filters, only
# snapshot objects removed (data stays; check passes; a backup whose parent
# goes meanwhile still succeeds). The calendar rules are in test-forget.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

cd "$W"
expect_exit 0 cairn init

ids() { snapshot_ids "$@"; }
packs() { find "$REPO" -path '*/data/*' -type f | sort | md5sum; }

a1=$(backup_as 1 alpha "a")
a2=$(backup_as 2 alpha "a" keep)
a3=$(backup_as 3 alpha "a")
a4=$(backup_as 4 alpha "a")
b1=$(backup_as 5 alpha "a b")
c1=$(backup_as 6 beta "a")
c2=$(backup_as 7 beta "a")
all="$a1 $a2 $a3 $a4 $b1 $c1 $c2 "
[ "$(ids)" = "$all" ] || die "setup: snapshots lists $(ids)"

note "item 1: no policy is a usage error; so is --keep-last 0; bad values too"
expect_exit 2 cairn forget
grep -q "no policy given" "$W/err" || fail "forget without a policy said: $(cat "$W/err")"
expect_exit 2 cairn forget --keep-last 0
expect_exit 2 cairn forget --keep-daily -1
expect_exit 2 cairn forget --keep-within 1w
grep -q "duration" "$W/err" || fail "--keep-within 1w said: $(cat "$W/err")"
expect_exit 2 cairn forget --keep-last 1 --group-by colour
expect_exit 2 cairn forget --keep-none
expect_exit 2 cairn forget --keep-last 1 "$a1"
[ "$(ids)" = "$all" ] || fail "a refused forget removed something"

note "item 1: --dry-run prints the table and removes nothing"
before=$(packs)
expect_exit 0 cairn forget --keep-last 1 --keep-tag keep --dry-run
cp "$W/out" "$W/dry"
[ "$(ids)" = "$all" ] || fail "--dry-run removed snapshots"
grep -q "would be removed; nothing was removed" "$W/dry" || fail "--dry-run does not say so: $(cat "$W/dry")"
grep -q "snapshots of controller default, host alpha, paths \[$W/a\]:" "$W/dry" ||
        fail "no group header for alpha [a]: $(cat "$W/dry")"
grep -q "snapshots of controller default, host alpha, paths \[$W/a $W/b\]:" "$W/dry" ||
        fail "no group header for alpha [a b]"
grep -q "snapshots of controller default, host beta, paths \[$W/a\]:" "$W/dry" || fail "no group header for beta"
grep -q "^${a2:0:8} .*has tags \[keep\]" "$W/dry" || fail "a2 not kept for its tag: $(cat "$W/dry")"
grep -q "^${a4:0:8} .*last snapshot" "$W/dry" || fail "a4 not kept as last"
grep -q "^${b1:0:8} .*last snapshot" "$W/dry" || fail "b1 (its own group) not kept as last"

note "item 1: the same run without --dry-run removes what the table says, snapshot objects only"
expect_exit 0 cairn forget --keep-last 1 --keep-tag keep
diff <(grep -v 'removed' "$W/dry") <(grep -v 'removed' "$W/out") >/dev/null ||
        fail "the table of the real run differs from --dry-run's: $(diff <(grep -v 'removed' "$W/dry") <(grep -v 'removed' "$W/out"))"
grep -q "removed 3 snapshots" "$W/out" || fail "removal count: $(tail -1 "$W/out")"
[ "$(ids)" = "$a2 $a4 $b1 $c2 " ] || fail "after forget: $(ids), expected a2 a4 b1 c2"
[ "$(packs)" = "$before" ] || fail "forget touched data/: chunks must stay until prune"
expect_exit 0 cairn check
expect_exit 0 cairn dump "${a2:0:8}" "$W/a/f"
[ "$(cat "$W/out")" = "alpha 2" ] || fail "a kept snapshot does not restore: $(cat "$W/out")"

note "item 1: one snapshot kept for several reasons lists them all"
expect_exit 0 cairn forget --keep-last 1 --keep-within 1d --keep-tag keep --keep-daily 1 --dry-run
grep -A3 "^${a4:0:8} " "$W/out" >"$W/a4"
for reason in "within 1d" "last snapshot" "daily snapshot"; do
        grep -q "$reason" "$W/a4" || fail "a4 kept without reason '$reason': $(cat "$W/a4")"
done

note "item 1: --keep-within-daily and unlimited counts, as restic words them"
expect_exit 0 cairn forget --keep-within-daily 1d --dry-run
grep -q "^${a4:0:8} .*daily within 1d" "$W/out" || fail "--keep-within-daily 1d: $(cat "$W/out")"
grep -q "Applying policy: keep daily snapshots within 1d" "$W/out" || fail "policy line: $(head -1 "$W/out")"
expect_exit 0 cairn forget --keep-hourly unlimited --dry-run
grep -q "Applying policy: keep all hourly snapshots" "$W/out" || fail "unlimited: $(head -1 "$W/out")"

note "item 1: a policy that empties a group is refused (exit 2, names it) unless --keep-none"
expect_exit 2 cairn forget --keep-tag keep
grep -q "refusing to remove every snapshot (1) of the group controller default, host alpha, paths \[$W/a $W/b\]" "$W/err" ||
        fail "refusal message: $(cat "$W/err")"
[ "$(ids)" = "$a2 $a4 $b1 $c2 " ] || fail "a refused forget removed something"

note "item 1: filters choose the snapshots forget considers"
expect_exit 0 cairn forget --keep-tag keep --host alpha --path "$W/a" --path "$W/b" --keep-none
[ "$(ids)" = "$a2 $a4 $c2 " ] || fail "forget --host alpha --path a --path b: $(ids)"
expect_exit 0 cairn forget --keep-last 1 --host beta
[ "$(ids)" = "$a2 $a4 $c2 " ] || fail "forget --keep-last 1 --host beta removed something: $(ids)"

note "item 1: --group-by '' puts hosts together (within the controller)"
expect_exit 0 cairn forget --keep-last 2 --group-by '' --dry-run
grep -q "^remove 1 snapshot:" "$W/out" || fail "--group-by '' --keep-last 2: $(cat "$W/out")"
grep -q "^${a2:0:8} " "$W/out" || fail "--group-by '': a2 not listed"

note "item 1: --json lists kept and removed snapshots with reasons per group"
expect_exit 0 cairn forget --keep-last 1 --dry-run --json
python3 - "$W/out" "$a4" "$a2" "$c2" <<'PY' || fail "forget --json: $(cat "$W/out")"
import json, sys
groups = json.load(open(sys.argv[1]))
a4, a2, c2 = sys.argv[2:5]
assert len(groups) == 2, groups
alpha = [g for g in groups if g["host"] == "alpha"][0]
assert alpha["controller"]["name"] == "default"
assert alpha["paths"] and alpha["paths"][0].endswith("/a"), alpha["paths"]
assert [s["id"] for s in alpha["keep"]] == [a4], alpha["keep"]
assert [s["id"] for s in alpha["remove"]] == [a2], alpha["remove"]
assert alpha["reasons"][0]["snapshot"]["id"] == a4
assert alpha["reasons"][0]["matches"] == ["last snapshot"], alpha["reasons"]
beta = [g for g in groups if g["host"] == "beta"][0]
assert [s["id"] for s in beta["keep"]] == [c2] and beta["remove"] == []
PY

note "item 1: a snapshot under a legal hold is never removed and is shown as held"
expect_exit 0 cairn hold add --snapshot "$a2" --reason "case 12"
expect_exit 0 cairn forget --keep-last 1 --host alpha
grep -q "^${a2:0:8} .*held (legal hold)" "$W/out" || fail "a2 not shown as held: $(cat "$W/out")"
[ "$(ids)" = "$a2 $a4 $c2 " ] || fail "forget removed a held snapshot: $(ids)"
expect_exit 0 cairn forget --host alpha --keep-none
[ "$(ids)" = "$a2 $c2 " ] || fail "forget --keep-none removed a held snapshot, or kept a4: $(ids)"
expect_exit 0 cairn forget --keep-last 1 --host alpha --json --dry-run
python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert g[0]["reasons"][0]["matches"][0] == "held (legal hold)", g' "$W/out" ||
        fail "--json does not show the hold: $(cat "$W/out")"

note "item 1: every controller is its own group; --controller restricts forget to one"
expect_exit 0 cairn controller add other
expect_exit 0 cairn --controller other backup --host alpha "$W/a"
expect_exit 0 cairn --controller other backup --host alpha "$W/a"
expect_exit 0 cairn forget --keep-last 1 --dry-run
grep -q "snapshots of controller other, host alpha, paths \[$W/a\]:" "$W/out" ||
        fail "no group for controller other: $(cat "$W/out")"
grep -q "^remove 1 snapshot:" "$W/out" || fail "other's group: $(cat "$W/out")"
expect_exit 0 cairn --controller other forget --keep-last 1
[ "$(ids --controller other | wc -w)" = 1 ] || fail "forget --controller other left $(ids --controller other)"
[ "$(ids --controller default)" = "$a2 $c2 " ] || fail "forget --controller other touched default's"

note "item 1: a backup whose parent snapshot is removed meanwhile still succeeds"
mkdir -p "$W/many"
for i in $(seq 1 3000); do echo "$i" >"$W/many/$i"; done
expect_exit 0 cairn --controller default backup --host gamma --tag parent "$W/many"
echo changed >"$W/many/1"
cairn --controller default backup --host gamma "$W/many" >"$W/bg.out" 2>"$W/bg.err" &
bg=$!
expect_exit 0 cairn forget --host gamma --tag parent --keep-none
wait "$bg" || die "the backup whose parent was removed failed: $(cat "$W/bg.err")"
expect_exit 0 cairn check
expect_exit 0 cairn --controller default restore --host gamma latest --target "$W/r"
[ "$(cat "$W/r$W/many/1")" = changed ] && [ "$(cat "$W/r$W/many/3000")" = 3000 ] ||
        fail "the backup made while its parent was removed does not restore"
