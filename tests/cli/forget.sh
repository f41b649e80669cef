#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# forget (issue 9, item 1): restic's policy per group (controller, then
# host and paths by default), every reason printed, --dry-run the same table
# and nothing removed, --json with keep/remove/reasons per group, refusal to
# empty a group without --keep-none, no policy a usage error, filters, only
# snapshot objects removed (data stays; check passes; a backup whose parent
# goes meanwhile still succeeds), and forget ID... (restic's forget by id:
# prefixes, any controller, ids with a policy refused, holds honoured).
# The calendar rules are in test-forget.
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

# forget ID... (restic's 'forget <snapshot ID>...'): a new repository with
# two controllers, so ids of either can be named.
REPO=$W/ids
init_two_controllers
i1=$(CAIRN_CONTROLLER=default backup_as 11 alpha "a")
i2=$(CAIRN_CONTROLLER=default backup_as 12 alpha "a")
i3=$(CAIRN_CONTROLLER=default backup_as 13 beta "a")
i4=$(CAIRN_CONTROLLER=default backup_as 14 alpha "a b")
expect_exit 0 cairn --controller other backup --json --host alpha "$W/a"
o1=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
all="$i1 $i2 $i3 $i4 $o1 "
[ "$(ids)" = "$all" ] || die "setup: snapshots lists $(ids)"

note "item 1: forget ID with a policy, a filter, --keep-none, --group-by, 'latest' or a non-id is a usage error"
for args in "--keep-last 1 $i1" "$i1 --keep-within 1d" "$i1 --keep-tag keep" "$i1 --keep-none" \
        "$i1 --group-by host" "$i1 --host alpha" "$i1 --tag x" "$i1 --path $W/a" "latest" "$i1 latest" \
        "${i1:0:8}-" "xyz" "${i1}0"; do
        # shellcheck disable=SC2086 # the words of $args are the arguments
        check_exit 2 cairn forget $args || continue
        grep -q "Try 'cairn forget --help'" "$W/err" || fail "forget $args: no usage hint: $(cat "$W/err")"
done
check_exit 2 cairn forget "" || true
[ "$(ids)" = "$all" ] || fail "a refused forget ID removed something: $(ids)"
expect_exit 2 cairn forget --keep-last 1 "$i1"
grep -q "not both" "$W/err" || fail "policy and ids: $(cat "$W/err")"
expect_exit 2 cairn forget latest
grep -q "not 'latest'" "$W/err" || fail "forget latest: $(cat "$W/err")"

note "item 1: forget ID --dry-run shows the named snapshots in the table and removes nothing"
expect_exit 0 cairn forget "${i1:0:8}" "$i3" --dry-run
grep -q "^${i1:0:8} " "$W/out" && grep -q "^${i3:0:8} " "$W/out" || fail "dry-run table: $(cat "$W/out")"
grep -q "^${i2:0:8} " "$W/out" && fail "dry-run lists a snapshot not named: $(cat "$W/out")"
grep -q "2 snapshots would be removed; nothing was removed" "$W/out" || fail "dry-run count: $(cat "$W/out")"
[ "$(ids)" = "$all" ] || fail "forget ID --dry-run removed something: $(ids)"

note "item 1: forget ID --json lists the named snapshots as removed, per group"
expect_exit 0 cairn forget "$i1" "${i4:0:12}" --json --dry-run
python3 - "$W/out" "$i1" "$i4" <<'PY' || fail "forget ID --json: $(cat "$W/out")"
import json, sys
groups = json.load(open(sys.argv[1]))
removed = sorted(s["id"] for g in groups for s in g["remove"])
assert removed == sorted(sys.argv[2:4]), removed
assert all(g["keep"] == [] and g["reasons"] == [] for g in groups), groups
assert len(groups) == 2, groups  # alpha [a] and alpha [a b]
PY

note "item 1: an unknown or ambiguous id is an error that names it, and nothing is removed"
unknown=$(printf '%064d' 0)
for s in $all; do [ "$s" != "$unknown" ] || die "a snapshot id is all zeros"; done
expect_exit 1 cairn forget "$i1" "$unknown"
grep -q "no snapshot $unknown" "$W/err" || fail "unknown id not named: $(cat "$W/err")"
grep -q "nothing was removed" "$W/err" || fail "unknown id: does not say nothing was removed: $(cat "$W/err")"
[ "$(ids)" = "$all" ] || fail "forget with an unknown id removed something: $(ids)"
# An ambiguous prefix: add snapshots until two share a first hex digit.
extra=$(CAIRN_CONTROLLER=default backup_as 19 delta "a")
digit=""
for n in $(seq 20 40); do
        digit=$(for s in $(ids); do echo "${s:0:1}"; done | sort | uniq -d | head -1)
        [ -z "$digit" ] || break
        extra=$(CAIRN_CONTROLLER=default backup_as "$n" delta "a")
done
[ -n "$digit" ] || die "no two snapshots share a first digit"
all=$(ids)
expect_exit 1 cairn forget "$i2" "$digit"
grep -q "ambiguous: [0-9]* snapshots start with $digit" "$W/err" || fail "ambiguous prefix: $(cat "$W/err")"
[ "$(ids)" = "$all" ] || fail "forget with an ambiguous prefix removed something: $(ids)"

note "item 1: forget ID removes the named snapshots of any controller, each once however named, data kept"
before=$(packs)
expect_exit 0 cairn forget "${i1:0:7}" "$i1" "${o1:0:9}" "${i3^^}"
grep -q "removed 3 snapshots" "$W/out" || fail "forget ID count: $(cat "$W/out")"
want=" ${all}"
for s in $i1 $o1 $i3; do want=${want/ $s / }; done
[ " $(ids)" = "$want" ] || fail "after forget ID: $(ids), expected$want"
[ "$(packs)" = "$before" ] || fail "forget ID touched data/"
expect_exit 0 cairn check
expect_exit 1 cairn forget "$i1"
grep -q "no snapshot $i1" "$W/err" || fail "a removed snapshot named again: $(cat "$W/err")"

note "item 1: with --controller, only that controller's snapshots can be named"
o2=$(cairn --controller other backup --json --host alpha "$W/a" | grep -o '"snapshot":"[0-9a-f]*"' | cut -d'"' -f4)
[ -n "$o2" ] || die "no second snapshot of other"
expect_exit 1 cairn --controller default forget "$o2"
grep -q "no snapshot $o2" "$W/err" || fail "--controller default forget OTHER'S: $(cat "$W/err")"
expect_exit 0 cairn --controller other forget "$o2"
[ "$(ids --controller other)" = "" ] || fail "--controller other forget: $(ids --controller other)"

note "item 1: a named snapshot under a legal hold is not removed, is shown as held, and forget exits 1"
all=$(ids)
expect_exit 0 cairn hold add --snapshot "$i2" --reason "case 12"
check_exit 1 cairn forget "$i2" "$i4" --dry-run &&
        grep -q "^${i2:0:8} .*held (legal hold)" "$W/out" || fail "dry-run: i2 not shown as held: $(cat "$W/out")"
grep -q "under a legal hold and would not be removed" "$W/err" ||
        fail "dry-run: held not said: $(cat "$W/err")"
[ "$(ids)" = "$all" ] || fail "forget ID --dry-run removed something: $(ids)"
expect_exit 1 cairn forget "$i2" "$i4" --json
python3 -c '
import json, sys
g = json.load(open(sys.argv[1]))
keep = [s["id"] for x in g for s in x["keep"]]
assert keep == [sys.argv[2]], keep
assert [r["matches"] for x in g for r in x["reasons"]] == [["held (legal hold)"]], g
' "$W/out" "$i2" || fail "--json does not show the named held snapshot: $(cat "$W/out")"
grep -q "1 of the snapshots named is under a legal hold and was not removed" "$W/err" ||
        fail "held snapshot not reported: $(cat "$W/err")"
want=" $all"
want=${want/ $i4 / }
[ " $(ids)" = "$want" ] || fail "forget held+unheld: $(ids), expected$want (i2 kept, i4 removed)"

note "item 1: forget ID --prune prunes after removing, also when a named snapshot is held (then exit 1)"
p1=$(CAIRN_CONTROLLER=default backup_as 50 epsilon "a")
all=$(ids)
expect_exit 1 cairn forget "$i2" "$p1" --prune --max-unused 0
grep -q "unreachable  *[1-9][0-9]* blobs" "$W/out" || fail "forget ID --prune: no prune report: $(cat "$W/out")"
grep -q "^[1-9][0-9]* blobs (.*) deleted" "$W/out" || fail "forget ID --prune deleted nothing: $(cat "$W/out")"
grep -q "1 of the snapshots named is under a legal hold" "$W/err" || fail "forget ID --prune: held: $(cat "$W/err")"
want=" $all"
want=${want/ $p1 / }
[ " $(ids)" = "$want" ] || fail "forget ID --prune: $(ids), expected$want"
expect_exit 0 cairn check

note "item 1: a hold object that does not open stops forget ID; --dry-run still shows"
all=$(ids)
for f in "$REPO"/holds/*/*; do xor_byte "$f" 60 1; done
expect_exit 1 cairn forget "$extra"
grep -q "could not be read" "$W/err" || fail "damaged hold: $(cat "$W/err")"
[ "$(ids)" = "$all" ] || fail "forget ID with a damaged hold removed something: $(ids)"
expect_exit 0 cairn forget "$extra" --dry-run
grep -q "^${extra:0:8} " "$W/out" || fail "dry-run with a damaged hold: $(cat "$W/out")"
