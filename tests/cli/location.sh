#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Locations and the location gate (issue 11 item 4): location add, list,
# authorise, revoke and remove; a backup, a copy and the creation of a
# replica refused (exit 4, one line naming the controller, the location and
# the command that authorises it, nothing written) for a controller that has
# not authorised where the destination lives, also: a second controller, a
# controller named by id, a revoked grant, a removed location, a location
# recorded while a backup runs, a replica whose own locations are edited;
# an unconfigured repository backs up as before; a controller's erasure
# takes its authorisations with it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/src"
printf 'data\n' >"$W/src/f"
init_two_controllers

# What a destination holds: snapshots, packs and sessions, as one line.
objects() {
        local r=$1
        echo "snapshots=$(find "$r/snapshots" -type f 2>/dev/null | wc -l)" \
                "packs=$(find "$r/data" -type f 2>/dev/null | wc -l)" \
                "sessions=$(find "$r/writers" -type f 2>/dev/null | wc -l)"
}

# refused WHAT REPO CMD...: exit 4, one line on stderr, and REPO unchanged.
refused() {
        local what=$1 repo=$2 before
        shift 2
        before=$(objects "$repo")
        check_exit 4 "$@" || return 0
        [ "$(wc -l <"$W/err")" = 1 ] || fail "$what: not one line: $(cat "$W/err")"
        [ "$(objects "$repo")" = "$before" ] || fail "$what: the destination changed: $before -> $(objects "$repo")"
}

# audit_has REPO CONTROLLER KIND OUTCOME [FIELD=VALUE]...: the controller's
# audit log in REPO holds an entry of kind and outcome with those text fields.
audit_has() {
        local repo=$1 c=$2
        shift 2
        "$CAIRN" -r "$repo" --controller "$c" audit show --json >"$W/audit.json" 2>"$W/audit.err" ||
                { fail "audit show: $(cat "$W/audit.err")"; return 0; }
        python3 - "$W/audit.json" "$@" <<'PY' || fail "no audit entry $* in the log of $c: $(tail -c 600 "$W/audit.json")"
import json, sys
entries = json.load(open(sys.argv[1]))
kind, outcome, want = sys.argv[2], sys.argv[3], dict(a.split("=", 1) for a in sys.argv[4:])
assert any(e["kind"] == kind and e["outcome"] == outcome and
           all(e["fields"].get(k) == v for k, v in want.items()) for e in entries)
PY
}

note "item 4: an unconfigured repository backs up as before"
expect_exit 0 cairn --controller default backup "$W/src"
expect_exit 0 cairn --controller other backup "$W/src"
expect_exit 0 cairn location list --json
python3 - "$W/out" <<'EOF' || fail "location list --json of an unconfigured repository"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["locations"] == [], d
assert [c["gate"] for c in d["controllers"]] == ["unconfigured", "unconfigured"], d
EOF

note "item 4: location add checks its fields"
expect_exit 2 cairn location add "bad name" --provider AWS --region eu
expect_exit 2 cairn location add "$(printf 'n%.0s' {1..65})" --provider AWS --region eu
expect_exit 2 cairn location add eu --provider AWS
expect_exit 2 cairn location add eu --provider "$(printf 'A\tB')" --region eu
expect_exit 2 cairn location add eu --provider "" --region eu
expect_exit 2 cairn location add eu --provider AWS --region "$(printf '\xff')"
expect_exit 2 cairn location authorise eu
expect_exit 2 cairn location remove eu --controller default
expect_exit 1 cairn location add eu --provider AWS --region eu-central-1 --controller nobody
[ ! -d "$REPO/locations" ] || [ -z "$(ls "$REPO/locations")" ] || fail "a refused location add wrote something"

note "item 4: location add records the location and authorises it for --controller"
expect_exit 0 cairn location add eu --provider AWS --region eu-central-1 --controller default --note "DPA 2026-17"
grep -q "recorded location eu (provider AWS, region eu-central-1)" "$W/out" || fail "add said: $(cat "$W/out")"
grep -q "controller default ($ctl) authorised eu" "$W/out" || fail "add did not authorise: $(cat "$W/out")"
expect_exit 1 cairn location add eu --provider AWS --region eu-west-1
grep -q "records location eu (provider AWS, region eu-central-1) already" "$W/err" || fail "duplicate: $(cat "$W/err")"
expect_exit 0 cairn --controller default backup "$W/src"
note "item 4: location changes are in the audit log: the location in every controller's, the authorisation in its"
audit_has "$REPO" default location ok action=add location=eu provider=AWS region=eu-central-1
audit_has "$REPO" other location ok action=add location=eu provider=AWS region=eu-central-1
audit_has "$REPO" default location ok action=authorise location=eu provider=AWS region=eu-central-1

note "item 4: a second controller that has not authorised it is refused, nothing written"
refused "second controller" "$REPO" cairn --controller other backup "$W/src"
grep -q "backup refused: controller other ($other) has not authorised location eu (provider AWS, region eu-central-1) of the repository at $REPO" "$W/err" ||
        fail "refusal does not name controller and location: $(cat "$W/err")"
grep -q "cairn -r $REPO location authorise eu --controller $other'" "$W/err" || fail "no command in: $(cat "$W/err")"
audit_has "$REPO" other backup refused action=unauthorised-location location=eu provider=AWS region=eu-central-1
note "item 4: --controller by id is the same controller"
refused "by id" "$REPO" cairn --controller "${other:0:8}" backup "$W/src"
grep -q "controller other ($other)" "$W/err" || fail "by id: $(cat "$W/err")"
refused "stdin" "$REPO" sh -c "echo x | '$CAIRN' -r '$REPO' --controller other backup --stdin"
expect_exit 0 cairn location list
grep -q "^controller other ($other): backups here refused: location eu (provider AWS, region eu-central-1) is not authorised" "$W/out" ||
        fail "list: $(cat "$W/out")"

note "item 4: authorised by id, the controller backs up"
expect_exit 0 cairn location authorise eu --controller "${other:0:6}"
expect_exit 0 cairn location authorise eu --controller other
grep -q "has authorised eu (provider AWS, region eu-central-1) already" "$W/out" || fail "twice: $(cat "$W/out")"
expect_exit 1 cairn location authorise eu --controller other --provider AWS --region us-east-1
expect_exit 2 cairn location authorise nowhere --controller other
expect_exit 0 cairn --controller other backup "$W/src"

note "item 4: a revoked authorisation is refused again"
expect_exit 0 cairn location revoke eu --controller other
audit_has "$REPO" other location ok action=revoke location=eu
refused "revoked" "$REPO" cairn --controller other backup "$W/src"
expect_exit 1 cairn location revoke eu --controller other
grep -q "has not authorised a location named eu" "$W/err" || fail "revoke twice: $(cat "$W/err")"

note "item 4: a removed location leaves the repository where nobody authorised"
expect_exit 0 cairn location remove eu
audit_has "$REPO" default location ok action=remove location=eu
refused "removed" "$REPO" cairn --controller default backup "$W/src"
grep -q "the repository at $REPO records no location" "$W/err" || fail "removed: $(cat "$W/err")"
audit_has "$REPO" default backup refused action=no-location
refused "removed, revoked" "$REPO" cairn --controller other backup "$W/src"
expect_exit 1 cairn location remove eu
note "item 4: the same name at another region is another location"
expect_exit 0 cairn location add eu --provider AWS --region us-east-1
refused "other region" "$REPO" cairn --controller default backup "$W/src"
grep -q "location eu (provider AWS, region us-east-1)" "$W/err" || fail "other region: $(cat "$W/err")"
expect_exit 0 cairn location authorise eu --controller default
expect_exit 0 cairn --controller default backup "$W/src"

note "item 4: a location recorded while a backup runs stops it before its snapshot"
mkfifo "$W/fifo"
snaps=$(find "$REPO/snapshots" -type f | wc -l)
"$CAIRN" -r "$REPO" --controller default backup --stdin <"$W/fifo" >"$W/late.out" 2>"$W/late.err" &
pid=$!
exec 7>"$W/fifo"
for _ in $(seq 300); do
        [ -n "$(ls "$REPO/writers/$ctl" 2>/dev/null)" ] && break
        sleep 0.1
done
[ -n "$(ls "$REPO/writers/$ctl" 2>/dev/null)" ] || die "the backup never started"
expect_exit 0 cairn location add hz --provider Hetzner --region fsn1
head -c 100000 /dev/urandom >&7
exec 7>&-
rc=0
wait "$pid" || rc=$?
[ "$rc" = 4 ] || fail "a backup that outlived a location add exited $rc: $(cat "$W/late.err")"
grep -q "has not authorised location hz (provider Hetzner, region fsn1)" "$W/late.err" || fail "late: $(cat "$W/late.err")"
[ "$(find "$REPO/snapshots" -type f | wc -l)" = "$snaps" ] || fail "a snapshot was written after the location add"
expect_exit 0 cairn location authorise hz --controller default
expect_exit 0 cairn location authorise hz --controller other
expect_exit 0 cairn location authorise eu --controller other
expect_exit 0 cairn --controller other backup "$W/src"

note "item 4: a replica is created only where every controller authorised it"
REP=$W/replica
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
refused "replica without location" "$REP" "$CAIRN" -r "$REP" init --replica-of "$REPO"
grep -q "replica creation refused: the repository at $REP records no location" "$W/err" || fail "$(cat "$W/err")"
[ ! -e "$REP" ] || fail "a refused replica creation made $REP"
refused "replica unauthorised" "$REP" "$CAIRN" -r "$REP" init --replica-of "$REPO" --location gcp --provider "Google Cloud" --region us-east1
grep -Eq "location authorise gcp --controller ($ctl|$other) --provider 'Google Cloud' --region 'us-east1'" "$W/err" || fail "$(cat "$W/err")"
[ ! -e "$REP" ] || fail "a refused replica creation made $REP"
expect_exit 0 cairn location authorise gcp --controller default --provider "Google Cloud" --region us-east1
refused "replica, second controller" "$REP" "$CAIRN" -r "$REP" init --replica-of "$REPO" --location gcp --provider "Google Cloud" --region us-east1
grep -q "controller other ($other) has not authorised location gcp" "$W/err" || fail "$(cat "$W/err")"
audit_has "$REPO" other init refused location=gcp "provider=Google Cloud" region=us-east1
expect_exit 0 cairn location authorise gcp --controller other --provider "Google Cloud" --region us-east1
expect_exit 0 "$CAIRN" -r "$REP" init --replica-of "$REPO" --location gcp --provider "Google Cloud" --region us-east1
expect_exit 0 "$CAIRN" -r "$REP" copy --from "$REPO" --json
grep -q '"grants_copied":[1-9]' "$W/out" || fail "copy carried no authorisation: $(cat "$W/out")"

note "item 4: copy checks the replica's own locations, whoever edits them"
expect_exit 0 cairn --controller default backup "$W/src"
expect_exit 0 "$CAIRN" -r "$REP" location add extra --provider OVH --region gra
refused "copy to an edited replica" "$REP" "$CAIRN" -r "$REP" copy --from "$REPO"
# (controllers are checked in order of id: either may be named first)
grep -Eq "copy refused: controller (default \($ctl|other \($other)\) has not authorised location extra \(provider OVH, region gra\) of the repository at $REP" "$W/err" ||
        fail "copy: $(cat "$W/err")"
grep -Eq "cairn -r $REPO location authorise extra --controller ($ctl|$other) --provider 'OVH' --region 'gra'" "$W/err" || fail "$(cat "$W/err")"
expect_exit 0 cairn location authorise extra --controller default --provider OVH --region gra
refused "copy, other controller" "$REP" "$CAIRN" -r "$REP" copy --from "$REPO"
grep -q "controller other ($other)" "$W/err" || fail "$(cat "$W/err")"
audit_has "$REPO" other copy refused location=extra provider=OVH region=gra
expect_exit 0 "$CAIRN" -r "$REP" --controller default copy --from "$REPO"
expect_exit 0 "$CAIRN" -r "$REP" location remove extra
expect_exit 0 "$CAIRN" -r "$REP" location remove gcp
expect_exit 0 cairn --controller default backup "$W/src"
refused "copy to a replica that records no location" "$REP" "$CAIRN" -r "$REP" --controller default copy --from "$REPO"
grep -q "records no location" "$W/err" || fail "$(cat "$W/err")"
note "item 4: the replica's copies of the authorisations gate a backup into it"
expect_exit 0 "$CAIRN" -r "$REP" location add gcp2 --provider "Google Cloud" --region us-east1
refused "backup into the replica" "$REP" "$CAIRN" -r "$REP" --controller default backup "$W/src"
grep -q "controller default ($ctl) has not authorised location gcp2" "$W/err" || fail "$(cat "$W/err")"

note "item 4: a damaged grant stops the gate: it may be a revocation"
cp -a "$REPO" "$W/damaged"
g=$(find "$W/damaged/grants/$ctl" -type f | head -n 1)
xor_byte "$g" 80 1
refused "damaged grant" "$W/damaged" "$CAIRN" -r "$W/damaged" --controller default backup "$W/src"
grep -q "grants/$ctl/.* does not open" "$W/err" || fail "damaged: $(cat "$W/err")"

note "item 4: a controller's erasure takes its authorisations with it"
[ -n "$(ls "$REPO/grants/$other")" ] || die "other has no grants to erase"
expect_exit 0 cairn erase --controller other --reason "contract ended"
[ ! -e "$REPO/grants/$other" ] || [ -z "$(ls "$REPO/grants/$other")" ] || fail "grants of an erased controller remain"
[ -n "$(ls "$REPO/grants/$ctl")" ] || fail "the other controller's grants went too"
