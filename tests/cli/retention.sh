#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Stored retention policies (issue 11: "retention rules ... with computed
# expiry"): retention set/show/clear; forget without flags applies the
# stored policy, with flags the flags; no policy at all is still refused;
# two racing sets both stay visible and the next set replaces both; a
# damaged policy object stops forget from guessing; show --snapshots says
# what keeps each snapshot and until when (checked against dates computed
# here); a controller erasure takes its policies; a replica gets them.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

init_two_controllers
ret_dir=$REPO/retention/$ctl

note "retention: nothing stored at first, and forget without a policy is still refused"
expect_exit 0 cairn retention show
grep -q "^controller default: no stored retention policy$" "$W/out" || fail "show on a new repository: $(cat "$W/out")"
expect_exit 2 cairn --controller default forget
grep -q "retention set" "$W/err" || fail "forget without a policy does not point at retention set: $(cat "$W/err")"

note "retention: bad input is refused before anything is written"
expect_exit 2 cairn --controller default retention set
expect_exit 2 cairn --controller default retention set --keep-last 0
expect_exit 2 cairn --controller default retention set --keep-tag keep
grep -q "hold add --tag" "$W/err" || fail "--keep-tag refusal: $(cat "$W/err")"
expect_exit 2 cairn --controller default retention set --keep-daily -1
expect_exit 2 cairn --controller default retention set --keep-daily 2147483648
expect_exit 2 cairn --controller default retention set --keep-within 3w
expect_exit 2 cairn --controller default retention show --keep-last 2
expect_exit 2 cairn --controller default retention set --snapshots --keep-last 1
expect_exit 2 cairn --controller default retention drop
expect_exit 2 cairn retention set --keep-last 2
grep -q "default" "$W/err" && grep -q "other" "$W/err" || fail "set with two controllers names neither: $(cat "$W/err")"
[ ! -e "$ret_dir" ] || [ -z "$(ls "$ret_dir")" ] || die "a refused set wrote $(ls "$ret_dir")"

for i in 1 2 3 4; do
        CAIRN_CONTROLLER=default backup_as "$i" host1 a >/dev/null
done
mapfile -t -d ' ' snaps < <(snapshot_ids --controller default)

note "retention: set prints the policy's id; show says it in words and JSON"
expect_exit 0 cairn --controller default retention set --keep-last 2 --keep-yearly 1
first=$(cat "$W/out")
[[ $first =~ ^[0-9a-f]{64}$ ]] || die "retention set printed '$first', not an id"
[ -f "$ret_dir/$first" ] || die "no retention/$ctl/$first"
expect_exit 0 cairn retention show
grep -q "^controller default: keep 2 latest, 1 yearly snapshots$" "$W/out" ||
        fail "show: $(cat "$W/out")"
grep -q "(policy ${first:0:8})" "$W/out" || fail "show does not name the policy: $(cat "$W/out")"
grep -q "^controller other: no stored retention policy$" "$W/out" || fail "show of other: $(cat "$W/out")"
expect_exit 0 cairn --controller default retention show --json
python3 - "$W/out" "$first" <<'PY' || fail "retention show --json: $(cat "$W/out")"
import json, sys
[c] = json.load(open(sys.argv[1]))
r = c["retention"]
assert r["id"] == sys.argv[2], r
assert r["policy"] == {"keep_last": 2, "keep_yearly": 1}, r["policy"]
assert c["concurrent"] == [] and c["damaged"] == 0 and c["cleared"] is False, c
assert r["created"].endswith("Z") and "T" in r["created"], r
PY

note "retention: forget without flags applies the stored policy; flags win over it"
expect_exit 0 cairn --controller default forget --dry-run
grep -q "Applying the stored retention policy of controller default: keep 2 latest, 1 yearly snapshots" "$W/out" ||
        fail "forget does not say it applies the stored policy: $(cat "$W/out")"
grep -q "2 snapshots would be removed" "$W/out" || fail "stored policy dry run: $(cat "$W/out")"
expect_exit 0 cairn --controller default forget --dry-run --keep-last 1
grep -q "Applying policy: keep 1 latest snapshots" "$W/out" && grep -q "3 snapshots would be removed" "$W/out" ||
        fail "flags did not win over the stored policy: $(cat "$W/out")"
expect_exit 0 cairn --controller default forget --json
python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); assert len(g)==1 and len(g[0]["keep"])==2 and len(g[0]["remove"])==2, g' "$W/out" ||
        fail "forget --json with the stored policy: $(cat "$W/out")"
[ "$(snapshot_ids --controller default)" = "${snaps[2]} ${snaps[3]} " ] ||
        die "stored policy kept $(snapshot_ids --controller default), not the newest two"

note "retention: a controller without a stored policy is left alone by a forget of all"
expect_exit 0 cairn --controller other backup "$W/a"
expect_exit 0 cairn --controller other backup "$W/a"
expect_exit 0 cairn forget --dry-run
grep -q "Controller other has no stored retention policy: its snapshots are left as they are" "$W/out" ||
        fail "forget of all says nothing of other: $(cat "$W/out")"
expect_exit 0 cairn forget
[ "$(snapshot_ids --controller other | wc -w)" = 2 ] || die "forget removed snapshots of a controller without a policy"

note "retention: set replaces the policy and removes the one it supersedes"
expect_exit 0 cairn --controller default retention set --keep-last 3
second=$(cat "$W/out")
[ "$(ls "$ret_dir")" = "$second" ] || die "after a second set retention/ holds: $(ls "$ret_dir")"

note "retention: two racing sets both stay visible; the newer is in effect; the next set replaces both"
cp -a "$ret_dir" "$W/before-race"
expect_exit 0 cairn --controller default retention set --keep-last 5
raced_a=$(cat "$W/out")
mv "$ret_dir/$raced_a" "$W/raced_a"
cp -a "$W/before-race/." "$ret_dir/"  # as the second writer saw it
sleep 1                                # a later 'created'
expect_exit 0 cairn --controller default retention set --keep-last 6
raced_b=$(cat "$W/out")
mv "$W/raced_a" "$ret_dir/$raced_a"
[ "$(ls "$ret_dir" | wc -l)" = 2 ] || die "race: retention/ holds $(ls "$ret_dir")"
expect_exit 0 cairn --controller default retention show
grep -q "^controller default: keep 6 latest snapshots$" "$W/out" || fail "race: the newer set is not in effect: $(cat "$W/out")"
grep -q "also set at the same time, not in effect (the newer one is): policy ${raced_a:0:8}.*keep 5 latest" "$W/out" ||
        fail "race: the other set is not shown: $(cat "$W/out")"
expect_exit 0 cairn --controller default retention show --json
grep -q "\"concurrent\":\[{\"id\":\"$raced_a\"" "$W/out" || fail "race: JSON concurrent: $(cat "$W/out")"
expect_exit 0 cairn --controller default retention set --keep-last 2
grep -q "2 retention policies of controller default had been set at the same time" "$W/err" ||
        fail "set after a race does not say it replaces both: $(cat "$W/err")"
[ "$(ls "$ret_dir" | wc -l)" = 1 ] || die "set after the race left $(ls "$ret_dir")"
expect_exit 0 cairn --controller default retention show
grep -q "also set" "$W/out" && fail "still two after a set: $(cat "$W/out")"

note "retention: sets at the same time from two processes: none fails, one is in effect"
cairn --controller default retention set --keep-last 7 >"$W/p1" 2>&1 &
p1=$!
cairn --controller default retention set --keep-last 8 >"$W/p2" 2>&1 &
p2=$!
wait "$p1" || die "a concurrent set failed: $(cat "$W/p1")"
wait "$p2" || die "a concurrent set failed: $(cat "$W/p2")"
expect_exit 0 cairn --controller default retention show
grep -Eq "^controller default: keep [78] latest snapshots$" "$W/out" || fail "after concurrent sets: $(cat "$W/out")"

note "retention: show --snapshots gives the rule and the expiry a keep-within rule has"
expect_exit 0 cairn --controller default retention set --keep-within 2d --keep-last 1
expect_exit 0 cairn --controller default snapshots --json
python3 - "$W/out" >"$W/expected" <<'PY'
import json, sys, time
s = sorted(json.load(open(sys.argv[1])), key=lambda x: x["time"])
for x in s:  # kept by "within 2d" until a snapshot 2 days (UTC: no clock change) after it
    print(x["id"][:8], time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(x["time"]) + 2 * 86400)))
PY
expect_exit 0 cairn --controller default retention show --snapshots
while read -r id until; do
        grep -q "^  $id  .*  \(kept until a snapshot of $until or newer\|kept: no date (a count keeps it)\)$" "$W/out" ||
                fail "show --snapshots for $id (expected $until): $(cat "$W/out")"
        grep -q "within 2d (until a snapshot of $until or newer)" "$W/out" || fail "no rule line for $id: $(cat "$W/out")"
done <"$W/expected"
grep -q "^            last snapshot$" "$W/out" || fail "the count rule is not named: $(cat "$W/out")"
expect_exit 0 cairn --controller default retention show --snapshots --json
python3 - "$W/out" <<'PY' || fail "show --snapshots --json: $(cat "$W/out")"
import json, sys
[c] = json.load(open(sys.argv[1]))
s = c["snapshots"]
assert len(s) == 2, s
old, new = s
assert old["keep"] and old["expiry"] and [r["rule"] for r in old["rules"]] == ["within 2d"], old
assert new["keep"] and new["expiry"] is None and [r["rule"] for r in new["rules"]] == ["within 2d", "last snapshot"], new
assert new["rules"][0]["expiry"] and new["rules"][1]["expiry"] is None, new
PY

expect_exit 0 cairn --controller default retention set --keep-within 1000000y
expect_exit 0 cairn --controller default retention show --snapshots
[ "$(grep -c "kept: until after the year 9999$" "$W/out")" = 2 ] || fail "a date past 9999: $(cat "$W/out")"
expect_exit 0 cairn --controller default retention set --keep-within 2d --keep-last 1

note "retention: a held snapshot is reported as held"
expect_exit 0 cairn hold add --snapshot "${snaps[2]}" --reason "audit"
expect_exit 0 cairn --controller default retention show --snapshots
grep -q "^  ${snaps[2]:0:8}  .*  held: kept until the hold is released$" "$W/out" || fail "held snapshot: $(cat "$W/out")"
grep -q "held (legal hold)" "$W/out" || fail "no held rule: $(cat "$W/out")"

note "retention: a damaged policy object stops forget from guessing; a set replaces it"
cur=$(ls "$ret_dir")
xor_byte "$ret_dir/$cur" 80 1
expect_exit 0 cairn --controller default retention show
grep -q "could not be read" "$W/out" || fail "show of a damaged policy: $(cat "$W/out")"
grep -q "retention/$ctl/$cur is damaged" "$W/err" || fail "the damaged object is not named: $(cat "$W/err")"
check_exit 1 cairn check && grep -q "retention/$ctl/$cur" "$W/out" "$W/err" ||
        fail "check does not name the damaged policy: $(cat "$W/out" "$W/err")"
expect_exit 1 cairn --controller default forget --dry-run
grep -q "the retention policy of controller default cannot be read" "$W/err" || fail "forget with a damaged policy: $(cat "$W/err")"
expect_exit 0 cairn --controller default forget --dry-run --keep-last 9
expect_exit 0 cairn --controller default retention set --keep-last 9
[ -f "$ret_dir/$cur" ] || die "the damaged object was removed (check must still name it)"
expect_exit 0 cairn --controller default forget --dry-run
grep -q "keep 9 latest" "$W/out" || fail "forget after the damaged policy was replaced: $(cat "$W/out")"
rm -- "$ret_dir/$cur"

note "retention: clear leaves the controller without a policy"
expect_exit 0 cairn --controller default retention clear
expect_exit 0 cairn --controller default audit show --json
python3 - "$W/out" <<'PY' || fail "audit entries of retention: $(cat "$W/out")"
import json, sys
r = [e["fields"] for e in json.load(open(sys.argv[1])) if e["kind"] == "retention"]
assert [f["action"] for f in r][-1] == "clear" and "scope" not in r[-1], r
assert r[-2] == {**r[-2], "action": "set", "scope": "--keep-last 9"}, r[-2]
assert r[0]["action"] == "set" and r[0]["scope"] == "--keep-last 2 --keep-yearly 1", r[0]
assert sum(f["action"] == "set" for f in r) >= 9, r
PY
expect_exit 0 cairn --controller default retention show
grep -q "^controller default: no stored retention policy (cleared .* by " "$W/out" || fail "show after clear: $(cat "$W/out")"
expect_exit 2 cairn --controller default forget
expect_exit 0 cairn --controller default retention clear
grep -q "nothing to clear" "$W/out" || fail "second clear: $(cat "$W/out")"

note "retention: a replica gets the policy; a controller erasure takes it"
expect_exit 0 cairn --controller other retention set --keep-daily 3
other_id=$(cat "$W/out")
REPLICA=$W/replica
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
expect_exit 0 "$CAIRN" -r "$REPLICA" init --replica-of "$REPO"
expect_exit 0 "$CAIRN" -r "$REPLICA" copy --from "$REPO"
[ -f "$REPLICA/retention/$other/$other_id" ] || die "the replica lacks retention/$other/$other_id"
expect_exit 0 "$CAIRN" -r "$REPLICA" --controller other retention show
grep -q "^controller other: keep 3 daily snapshots$" "$W/out" || fail "replica's policy: $(cat "$W/out")"
expect_exit 0 cairn erase --controller other --reason "contract ended"
[ ! -e "$REPO/retention/$other" ] || [ -z "$(ls "$REPO/retention/$other")" ] ||
        die "the controller erasure left retention/$other: $(ls "$REPO/retention/$other")"
