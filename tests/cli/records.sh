#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The record of processing (issue 11 item 3): cairn records on a known
# fixture (two controllers, two locations recorded, authorisations given,
# revoked and given for a replica's location, a legal hold, a snapshot
# erased with its certificate): every JSON member checked exactly with
# python3, one controller with --controller, the readable text, and an
# unconfigured repository that says so plainly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/src"
printf 'data\n' >"$W/src/f"

note "item 3: a repository with nothing recorded says the gate is not configured"
expect_exit 0 cairn init
expect_exit 0 cairn records
grep -q "The location gate is not configured: the repository records no location and the controller authorised none" "$W/out" ||
        fail "unconfigured: $(cat "$W/out")"
grep -q "^Categories of processing: none yet (no snapshot)" "$W/out" || fail "categories: $(cat "$W/out")"
expect_exit 0 cairn records --json
python3 - "$W/out" <<'EOF' || fail "records --json of an empty repository"
import json, sys
d = json.load(open(sys.argv[1]))
c, = d["controllers"]
assert c["location_gate"] == "unconfigured" and c["locations"] == [] and c["authorised"] == [], c
assert c["categories"] == [] and c["sub_processors"] == [] and c["location_history"] == [], c
EOF

note "item 3: the fixture"
ctl=$(basename -- "$REPO"/controllers/*)
expect_exit 0 cairn controller add other
for c in "$REPO"/controllers/*; do
        [ "$(basename -- "$c")" = "$ctl" ] || other=$(basename -- "$c")
done
expect_exit 0 cairn location add eu --provider AWS --region eu-central-1 --controller default --note "DPA 2026-17"
expect_exit 0 cairn location add hz --provider Hetzner --region fsn1 --controller default --controller other
expect_exit 0 cairn location authorise eu --controller other
expect_exit 0 cairn location revoke eu --controller other
expect_exit 0 cairn location authorise rep --controller default --provider "Google Cloud" --region us-east1
expect_exit 0 cairn --controller default backup --tag legal "$W/src"
expect_exit 0 cairn --controller default backup "$W/src"
expect_exit 0 cairn --controller default snapshots --json
first=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$W/out")
expect_exit 0 cairn --controller default hold add --tag legal --reason "litigation 17" --reference "case 4711" --until 2031-01-01
hold=$(cat "$W/out")
expect_exit 0 cairn --controller default retention set --keep-daily 7 --keep-within 1y
expect_exit 0 cairn --controller default erase --snapshot latest --reason "request 9"
expect_exit 0 cairn processor show --json
cp "$W/out" "$W/processor.json"
expect_exit 0 cairn key list --json
cp "$W/out" "$W/keys.json"

note "item 3: records --json, member by member"
expect_exit 0 cairn records --json
python3 - "$W/out" "$W/processor.json" "$W/keys.json" "$ctl" "$other" "$hold" "$CAIRN_KEY_STORE" "$first" <<'EOF' ||
import json, re, sys
d = json.load(open(sys.argv[1]))
proc = json.load(open(sys.argv[2]))
keys = json.load(open(sys.argv[3]))
ctl, other, hold, keystore, first = sys.argv[4:9]
time = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
def eq(a, b, what):
    assert a == b, f"{what}: {a!r} != {b!r}"

eq(d["format"], "cairn.records.v1", "format")
assert time.match(d["generated_at"])
assert re.match(r"^[0-9a-f]{32}$", d["repository"])
eq(d["processor"], {"name": proc["name"], "id": proc["id"], "public_key": proc["public_key"]}, "processor")
eq(d["objects_unreadable"], 0, "objects_unreadable")
by = {c["controller"]["id"]: c for c in d["controllers"]}
eq(sorted(by), sorted([ctl, other]), "controllers")
eq([c["controller"]["id"] for c in d["controllers"]], sorted([ctl, other]), "in order of id")

a, b = by[ctl], by[other]
eq(set(a["controller"]), {"name", "id", "created", "format", "epoch"}, "controller members")
eq(a["controller"]["name"], "default", "name")
eq(a["controller"]["format"], 2, "format")
eq(a["controller"]["epoch"], 2, "epoch after one erasure")
eq(a["categories"], ["backup", "restore", "replication", "erasure"], "categories of default")
eq(b["categories"], [], "categories of other")
eq(a["snapshots"]["count"], 1, "snapshots left after the erasure")
eq(b["snapshots"], {"count": 0, "first": None, "last": None}, "no snapshot")

def loc(l, when):
    assert time.match(l.pop(when)), l
    assert l.pop("by").endswith("@" + __import__("socket").gethostname()), l
    return l
eq([loc(l, "recorded_at") for l in a["locations"]],
   [{"name": "eu", "provider": "AWS", "region": "eu-central-1", "note": "DPA 2026-17", "authorised": True},
    {"name": "hz", "provider": "Hetzner", "region": "fsn1", "note": "", "authorised": True}], "locations of default")
eq([(l["name"], l["authorised"]) for l in b["locations"]], [("eu", False), ("hz", True)], "locations of other")
eq([(l["name"], l["provider"], l["region"], l["note"], l["recorded_here"]) for l in map(lambda l: loc(l, "authorised_at"), a["authorised"])],
   [("eu", "AWS", "eu-central-1", "DPA 2026-17", True), ("hz", "Hetzner", "fsn1", "", True),
    ("rep", "Google Cloud", "us-east1", "", False)], "authorised by default")
eq([(l["name"], l["recorded_here"]) for l in b["authorised"]], [("hz", True)], "authorised by other (eu revoked)")
eq(a["sub_processors"],
   [{"provider": "AWS", "regions": ["eu-central-1"]}, {"provider": "Google Cloud", "regions": ["us-east1"]},
    {"provider": "Hetzner", "regions": ["fsn1"]}], "sub-processors of default")
eq([p["provider"] for p in b["sub_processors"]], ["AWS", "Hetzner"], "sub-processors of other: where it lives")
eq(a["location_gate"], "allowed", "gate of default")
eq(b["location_gate"], "refused", "gate of other")
eq([e["event"] for e in b["location_history"]],
   ["location recorded", "location recorded", "authorised", "authorised", "revoked"], "history of other")
eq(sorted((e["event"], e["name"]) for e in b["location_history"][2:4]), [("authorised", "eu"), ("authorised", "hz")], "authorised")
eq((b["location_history"][4]["event"], b["location_history"][4]["name"]), ("revoked", "eu"), "revoked eu")
assert all(time.match(e["time"]) for e in b["location_history"])
eq(sorted(e["event"] for e in a["location_history"]).count("authorised"), 3, "authorisations of default")

eq(a["retention"], {"policy": {"keep_daily": 7, "keep_within": "1y"}, "set_at": a["retention"]["set_at"],
                    "unknown": False}, "retention of default")
assert time.match(a["retention"]["set_at"]), a["retention"]
eq(b["retention"], {"policy": None, "set_at": None, "unknown": False}, "no retention of other")
h, = a["holds"]
eq(h, {"id": hold, "scope": "tag", "value": "legal", "reason": "litigation 17", "reference": "case 4711",
       "by": h["by"], "created": h["created"], "review": "2031-01-01T00:00:00Z"}, "hold")
eq(b["holds"], [], "no hold of other")

s = a["safeguards"]
eq(s["passwords"]["key_files"], [{"id": k["id"], "opslimit": 3, "memlimit": 33554432} for k in keys], "key files")
assert s["passwords"]["algorithm"].startswith("Argon2id v1.3"), s
assert s["encryption"].startswith("XChaCha20-Poly1305"), s
assert s["identifiers"].startswith("HMAC-SHA-256"), s
assert s["signatures"].startswith("Ed25519"), s
assert s["key_derivation"].startswith("BLAKE2b"), s
assert s["compression"].startswith("zstd"), s
eq(s["key_store"], {"format": 2, "epoch": 2, "locations": [keystore]}, "key store")
eq(by[other]["safeguards"]["key_store"]["epoch"], 1, "other's epoch")

e = a["erasure_certificates"]
eq(e["count"], 1, "certificates")
eq((e["last"]["status"], e["last"]["scope"]), ("complete", "snapshot"), "last certificate")
assert re.match(r"^[0-9a-f]{64}$", e["last"]["id"]) and time.match(e["last"]["completed_at"])
eq(b["erasure_certificates"], {"count": 0, "last": None}, "no certificate of other")
eq(a["erasure_requests_pending"], 0, "requests pending")

for c in (a, b):
    l = c["audit_log"]
    eq(set(l), {"entries", "head", "intact", "by_kind", "broken_at"}, "audit_log members")
    eq((l["intact"], l["broken_at"]), (True, None), "audit log intact")
    eq(l["entries"], sum(l["by_kind"].values()), "entries by kind")
    assert re.match(r"^[0-9a-f]{64}$", l["head"]), l
eq(a["audit_log"]["by_kind"]["backup"], 2, "backups logged")
eq(a["audit_log"]["by_kind"]["erasure"], 1, "erasure logged")
# default: add eu (all), authorise eu, add hz (all), authorise hz, authorise rep; other: add eu, add hz,
# authorise hz, authorise eu, revoke eu
eq(a["audit_log"]["by_kind"]["location"], 5, "location changes in default's log")
eq(b["audit_log"]["by_kind"]["location"], 5, "location changes in other's log")
eq(b["audit_log"]["by_kind"].get("backup"), None, "no backup of other")
EOF
        fail "records --json does not match the fixture"

note "item 3: --controller gives one controller's record"
expect_exit 0 cairn --controller other records --json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert [c["controller"]["id"] for c in d["controllers"]] == [sys.argv[2]], d' \
        "$W/out" "$other" || fail "records --controller other: $(head -c 300 "$W/out")"
expect_exit 1 cairn --controller nobody records

note "item 3: the readable text"
expect_exit 0 cairn records
for want in "^Record of processing activities (GDPR art. 30(2)), generated " \
        "^Controller default (id $ctl, since .*; format 2, key epoch 2)" \
        "^Categories of processing: backup, restore, replication, erasure$" \
        "^Where the data lives (location gate: allowed):" \
        "^  eu  .*AWS .*eu-central-1 .*recorded .*; DPA 2026-17$" \
        "^  rep .*Google Cloud .*(a replica's)$" \
        "^Sub-processors: AWS (eu-central-1); Google Cloud (us-east1); Hetzner (fsn1)$" \
        "^Where the data lives (location gate: refused):" \
        "^  eu  .*NOT AUTHORISED$" \
        "revoked  *eu (AWS, eu-central-1)" \
        "^Retention (since .*): keep_daily 7 keep_within 1y$" \
        "^Retention: no policy stored" \
        "^Legal holds in force: 1$" \
        "^  ${hold:0:8}  tag legal: litigation 17; since .*; reference case 4711; review 2031-01-01T00:00:00Z$" \
        "^  passwords: Argon2id v1.3.* (3 passes over 32.00 MiB)$" \
        "^  key store: epoch keys outside the repository, at $CAIRN_KEY_STORE$" \
        "^Erasure certificates issued: 1, the last .* (snapshot, complete) completed " \
        "^Audit log: [0-9]* entries, head [0-9a-f]\{16\}…, intact (.*backup 2.*)$"; do
        grep -q -- "$want" "$W/out" || fail "records text lacks /$want/"
done
