#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The location gate and the record of processing against bypasses and bad
# luck (issue 11, items 3 and 4; docs/cli/location.md, docs/cli/records.md):
# a --stdin backup, a controller named by CAIRN_CONTROLLER or by id, one
# added after the locations, a revoked then re-authorised location, copy
# --controller with one controller allowed and one not, backups racing a
# 'location add' (each either saved or refused with nothing saved, and
# every refusal in the log); records after holds, a removed location, an
# erasure, with damaged objects, with USER unset, and of an emptied
# repository.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/src"
echo data >"$W/src/f"
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
expect_exit 0 cairn init --location onprem --provider on-premises --region "Berlin DC1"
ctl=$(basename -- "$REPO"/controllers/*)
expect_exit 0 cairn controller add late
late=$(ls "$REPO/controllers" | grep -v "$ctl")

snaps() { find "$1/snapshots" -type f 2>/dev/null | wc -l; }
# refusals REPO CTRL: how many refused entries CTRL's log holds
refusals() {
        "$CAIRN" -r "$1" --controller "$2" audit show --json |
                python3 -c 'import json,sys; print(sum(e["outcome"] == "refused" for e in json.load(sys.stdin)))'
}

note "item 4: a controller added after the locations is refused, however it is named and whatever it backs up"
for how in "--controller late" "--controller $late" "env"; do
        for what in paths stdin; do
                args=(cairn)
                [ "$how" = env ] && args=(env CAIRN_CONTROLLER=late "$CAIRN" -r "$REPO")
                [ "$how" = env ] || args+=($how)
                if [ "$what" = stdin ]; then
                        check_exit 4 "${args[@]}" backup --stdin --stdin-filename s <"$W/src/f"
                else
                        check_exit 4 "${args[@]}" backup "$W/src"
                fi
                grep -q "^cairn: backup refused: controller late ($late) has not authorised location onprem (provider on-premises, region Berlin DC1)" "$W/err" ||
                        fail "$how $what: $(cat "$W/err")"
        done
done
[ "$(snaps "$REPO")" = 0 ] || fail "a refused backup saved a snapshot"
[ -z "$(find "$REPO/data" -type f 2>/dev/null)" ] || fail "a refused backup wrote packs"
[ "$(refusals "$REPO" late)" = 6 ] || fail "late's log: $(refusals "$REPO" late) refusals, want 6"
# CAIRN_CONTROLLER alone authorises nothing
expect_exit 0 env CAIRN_CONTROLLER=late "$CAIRN" -r "$REPO" location add second --provider on-premises --region "Berlin DC2"
expect_exit 0 cairn location list --json
python3 - "$W/out" <<'EOF' || fail "CAIRN_CONTROLLER authorised: $(cat "$W/out")"
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["controllers"]}
assert c["late"]["authorised"] == [] and c["late"]["gate"] == "refused", c
assert [a["name"] for a in c["default"]["authorised"]] == ["onprem"] and c["default"]["gate"] == "refused", c
EOF
expect_exit 0 cairn location remove second

note "item 4: the same name at another region, then revoked and authorised again"
expect_exit 1 cairn location authorise onprem --controller late --provider on-premises --region "Berlin DC2"
expect_exit 0 cairn location authorise onprem --controller late
expect_exit 0 cairn --controller late backup "$W/src"
expect_exit 0 cairn location revoke onprem --controller late
expect_exit 4 cairn --controller late backup "$W/src"
expect_exit 0 cairn location authorise onprem --controller late
expect_exit 0 cairn --controller late backup --stdin --stdin-filename s <"$W/src/f"
[ "$(snaps "$REPO")" = 2 ] || fail "revoked and authorised again: $(snaps "$REPO") snapshots, want 2"

note "item 4: copy --controller: the allowed controller is copied, the other refused with nothing written"
expect_exit 0 cairn --controller default backup "$W/src"
for c in default late; do
        expect_exit 0 cairn location authorise s3 --controller "$c" --provider AWS --region eu-west-1
done
expect_exit 0 "$CAIRN" -r "$W/rep" init --replica-of "$REPO" --location s3 --provider AWS --region eu-west-1
expect_exit 0 cairn location revoke s3 --controller late
before=$(refusals "$REPO" late)
expect_exit 4 "$CAIRN" -r "$W/rep" copy --from "$REPO" --controller late
grep -q "copy refused: controller late ($late) has not authorised location s3 (provider AWS, region eu-west-1)" "$W/err" ||
        fail "copy --controller late: $(cat "$W/err")"
[ "$(snaps "$W/rep")" = 0 ] && [ -z "$(find "$W/rep/data" -type f 2>/dev/null)" ] || fail "a refused copy wrote"
[ "$(refusals "$REPO" late)" = $((before + 1)) ] || fail "the refused copy is not in late's log in the source"
expect_exit 4 "$CAIRN" -r "$W/rep" copy --from "$REPO"
[ "$(snaps "$W/rep")" = 0 ] || fail "a refused copy of every controller wrote"
expect_exit 0 "$CAIRN" -r "$W/rep" copy --from "$REPO" --controller default
[ "$(snaps "$W/rep")" = 1 ] || fail "copy --controller default: $(snaps "$W/rep") snapshots, want 1"
# the replica carries default's grants, not late's: late cannot back up into it
expect_exit 4 "$CAIRN" -r "$W/rep" --controller late backup "$W/src"
expect_exit 0 "$CAIRN" -r "$W/rep" --controller default backup "$W/src"

note "item 4: backups racing a 'location add': each saved, or refused with nothing saved and logged"
before_snaps=$(snaps "$REPO") before_ref=$(refusals "$REPO" default)
pids=()
for i in 1 2 3 4 5 6; do
        "$CAIRN" -r "$REPO" --controller default backup "$W/src" >/dev/null 2>"$W/race-$i.err" &
        pids+=($!)
        [ "$i" = 3 ] && { "$CAIRN" -r "$REPO" location add racing --provider P --region R >/dev/null 2>&1 & pids+=($!); }
done
ok=0 refused=0
for p in "${pids[@]}"; do
        rc=0
        wait "$p" || rc=$?
        case $rc in 0) ok=$((ok + 1)) ;; 4) refused=$((refused + 1)) ;; *) fail "a racing command exited $rc" ;; esac
done
# the location add is one of the ok ones
[ "$(snaps "$REPO")" = $((before_snaps + ok - 1)) ] ||
        fail "racing: $ok ok (one the location add), $refused refused, $(snaps "$REPO") - $before_snaps snapshots"
[ "$(refusals "$REPO" default)" = $((before_ref + refused)) ] || fail "racing: not every refusal is in the log"
expect_exit 4 cairn --controller default backup "$W/src"
expect_exit 0 cairn location remove racing

note "item 4: a damaged location object: the gate refuses, and the warning says why"
cp -a "$REPO" "$W/saved"
loc=$(ls "$REPO/locations" | head -1)
xor_byte "$REPO/locations/$loc" 60 1
expect_exit 4 cairn --controller default backup "$W/src"
grep -q "locations/$loc does not open" "$W/err" || fail "damaged location, backup: $(cat "$W/err")"
expect_exit 0 cairn records --json
grep -q "warning: locations/$loc is damaged .*it may be a location or the removal of one, so the location gate refuses every controller" "$W/err" ||
        fail "damaged location, records: $(cat "$W/err")"
python3 - "$W/out" <<'EOF' || fail "records with a damaged location: $(head -c 600 "$W/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["objects_unreadable"] == 1, d["objects_unreadable"]
assert all(c["location_gate"] == "refused" for c in d["controllers"]), d
EOF
rm -rf "$REPO" && mv "$W/saved" "$REPO"

note "item 3: records after holds, a removed location, an erasure; USER unset is still who"
expect_exit 0 env -u USER "$CAIRN" -r "$REPO" --controller default hold add --controller default --reason "case 1"
hold=$(cat "$W/out")
expect_exit 0 cairn --controller default hold add --tag t --reason "case 2"
expect_exit 0 cairn --controller default hold release "$(cat "$W/out")" --reason done
expect_exit 0 env -u USER "$CAIRN" -r "$REPO" location add moved --provider Hetzner --region fsn1 --controller default --controller late
expect_exit 0 cairn location remove onprem
expect_exit 0 cairn --controller late erase --path "$W/src/f" --reason r
expect_exit 0 cairn records --json
python3 - "$W/out" "$hold" "$(id -un)@$(hostname)" <<'EOF' || fail "records: $(head -c 3000 "$W/out")"
import json, sys
d = json.load(open(sys.argv[1]))
hold, who = sys.argv[2], sys.argv[3]
c = {x["controller"]["name"]: x for x in d["controllers"]}
de, la = c["default"], c["late"]
# the hold in force, not the released one
assert [h["id"] for h in de["holds"]] == [hold] and de["holds"][0]["by"] == who, de["holds"]
# where it lives now; the old place is one it lived at, not a replica's
assert [l["name"] for l in de["locations"]] == ["moved"], de["locations"]
a = {x["name"]: x for x in de["authorised"]}
assert a["onprem"]["recorded_here"] is False and a["onprem"]["removed_here"] is True, a
assert a["s3"]["recorded_here"] is False and a["s3"]["removed_here"] is False, a
assert a["moved"]["recorded_here"] is True and a["moved"]["by"] == who, a
assert "replication" in de["categories"], de["categories"]     # s3 is a replica's
assert "replication" not in la["categories"], la["categories"]  # late authorised no replica in force
assert la["erasure_certificates"]["count"] == 1 and la["erasure_certificates"]["last"]["scope"] == "path", la
assert "erasure" in la["categories"], la["categories"]
assert la["location_gate"] == "allowed" and de["location_gate"] == "allowed", (la["location_gate"], de["location_gate"])
ev = [(h["event"], h["name"]) for h in de["location_history"]]
assert ("location removed", "onprem") in ev and ev.index(("location recorded", "moved")) < ev.index(("location removed", "onprem")), ev
assert de["audit_log"]["intact"] and de["audit_log"]["entries"] >= 10, de["audit_log"]
EOF
expect_exit 0 cairn records --controller default
grep -q "onprem .*(removed here)" "$W/out" || fail "records text, a removed location: $(cat "$W/out")"
grep -q "s3 .*(a replica's)" "$W/out" || fail "records text, a replica's location: $(cat "$W/out")"

note "item 3: records with damaged objects warns, counts them, and does not fail"
cp -a "$REPO" "$W/saved"
for f in "$REPO/grants/$ctl/"* "$REPO/holds/$ctl/"*; do
        xor_byte "$f" 60 1
        break
done
xor_byte "$(ls "$REPO/holds/$ctl/"* | head -1)" 60 1
xor_byte "$REPO/audit/$ctl/0000000000000002" 60 1
expect_exit 0 cairn records --json
python3 - "$W/out" <<'EOF' || fail "records, damaged: $(head -c 1500 "$W/out")"
import json, sys
c = {x["controller"]["name"]: x for x in json.load(open(sys.argv[1]))["controllers"]}["default"]
assert c["objects_unreadable"] == 2, c["objects_unreadable"]
assert c["audit_log"]["intact"] is False and c["audit_log"]["broken_at"] == 2 and c["audit_log"]["entries"] == 2, c["audit_log"]
assert c["location_gate"] == "refused", c["location_gate"]
EOF
[ "$(grep -c "warning: .* is damaged" "$W/err")" = 2 ] || fail "records, damaged, warnings: $(cat "$W/err")"
rm -rf "$REPO" && mv "$W/saved" "$REPO"

note "item 3: records of an emptied repository"
expect_exit 0 cairn --controller default hold release "$hold" --reason done
expect_exit 0 cairn --controller default erase --controller default
expect_exit 0 cairn --controller late erase --controller late
expect_exit 0 cairn records --json
python3 - "$W/out" <<'EOF' || fail "records of an emptied repository: $(cat "$W/out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "cairn.records.v1" and d["controllers"] == [] and d["objects_unreadable"] == 0, d
EOF
expect_exit 0 cairn records
grep -q "No controller: every one was erased" "$W/out" || fail "records text, emptied: $(cat "$W/out")"
expect_exit 1 cairn records --controller "$ctl"
