#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Requests (issue 11 item 5): request add records access, erasure,
# rectification and disclosure requests with their reference and dates and
# prints an id; request list shows every one, the open ones with the days
# they are open, and --open only those; request close records the outcome
# once, linked to an export digest or to an erasure certificate that must
# exist and be of the same controller; show and --json say it all with
# RFC 3339 dates; ids are accepted by prefix and bad ones refused; the
# subject is kept only as a pseudonym (not in the decrypted object); a
# replica gets the records; a controller erasure removes them.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

init_two_controllers
req_dir=$REPO/requests/$ctl
today=$(date -u +%Y-%m-%d)
days_since() { # days_since DATE: whole days from DATE (UTC) to now
        echo $((($(date -u +%s) - $(date -u -d "$1" +%s)) / 86400))
}

note "item 5: request add records a request and prints its id"
expect_exit 0 cairn --controller default request add --kind access --reference DSR-1 --received 2026-01-05 \
        --subject alice@example.org --note "by mail"
access=$(cat "$W/out")
[[ $access =~ ^[0-9a-f]{64}$ ]] || die "request add printed '$access', not an id"
[ -f "$req_dir/$access" ] || die "no requests/$ctl/$access"
expect_exit 0 cairn --controller default request add --kind erasure --reference DSR-2 \
        --received 2026-01-10T08:30:00Z --path /home/alice
erasure=$(cat "$W/out")
expect_exit 0 cairn --controller default request add --kind rectification --reference DSR-3 --json
grep -Eq '^\{"id":"[0-9a-f]{64}"\}$' "$W/out" || fail "request add --json: $(cat "$W/out")"
rect=$(cut -d'"' -f4 "$W/out")
expect_exit 0 cairn --controller other request add --kind disclosure --reference AUTH-9 --received 2025-12-31
disclosure=$(cat "$W/out")

note "item 5: request add refuses what it cannot record"
expect_exit 2 cairn --controller default request add --reference X
expect_exit 2 cairn --controller default request add --kind complaint --reference X
expect_exit 2 cairn --controller default request add --kind access
expect_exit 2 cairn --controller default request add --kind access --reference ""
expect_exit 2 cairn --controller default request add --kind access --reference X --received 2026-02-30
expect_exit 2 cairn --controller default request add --kind access --reference X --received yesterday
expect_exit 2 cairn --controller default request add --kind access --reference X --received 2999-01-01
grep -q "in the future" "$W/err" || fail "future date: $(cat "$W/err")"
expect_exit 2 cairn --controller default request add --kind access --reference X --subject a --path /b
expect_exit 2 cairn --controller default request add --kind access --reference X --path relative
expect_exit 2 cairn request add --kind access --reference X --subject s
grep -q "other" "$W/err" || fail "two controllers and none named: $(cat "$W/err")"
expect_exit 2 cairn --controller default request add --kind access --reference "$(head -c 1025 /dev/zero | tr '\0' r)"
expect_exit 2 cairn --controller default request add --kind access --reference X --outcome answered
[ "$(ls "$req_dir" | wc -l)" = 3 ] || die "a refused add wrote something: $(ls "$req_dir")"

note "item 5: request list shows every request, the open ones with the days they are open"
expect_exit 0 cairn request list
grep -q "^${access:0:8}  access  .*2026-01-05T00:00:00Z  default  .*open for $(days_since 2026-01-05) days .*DSR-1$" "$W/out" ||
        fail "list, access row: $(cat "$W/out")"
grep -q "^${erasure:0:8}  erasure .*2026-01-10T08:30:00Z" "$W/out" || fail "list, erasure row: $(cat "$W/out")"
grep -q "^${rect:0:8}  rectification  ${today}T" "$W/out" || fail "list, default received date: $(cat "$W/out")"
grep -q "^${disclosure:0:8}  disclosure .* other " "$W/out" || fail "list, other's row: $(cat "$W/out")"
grep -q "^4 requests, 4 open$" "$W/out" || fail "list count: $(cat "$W/out")"
# oldest received first
[ "$(sed -n 2p "$W/out" | cut -c1-8)" = "${disclosure:0:8}" ] || fail "not oldest first: $(cat "$W/out")"
expect_exit 0 cairn --controller other request list
grep -q "^1 request, 1 open$" "$W/out" || fail "list --controller other: $(cat "$W/out")"

note "item 5: request close records the outcome once, linked to an export"
digest=$(printf 'the export' | sha256sum | cut -d' ' -f1)
expect_exit 0 cairn request close "${access:0:10}" --outcome answered --export "$digest" --note "sent by post"
grep -q "closed request ${access:0:8} (DSR-1) as answered after $(days_since 2026-01-05) days" "$W/out" ||
        fail "close said: $(cat "$W/out")"
expect_exit 1 cairn request close "$access" --outcome refused
grep -q "already closed" "$W/err" || fail "second close: $(cat "$W/err")"
expect_exit 2 cairn request close "$rect" --outcome done
expect_exit 2 cairn request close "$rect"
expect_exit 2 cairn request close "$rect" --outcome answered --export 1234
expect_exit 2 cairn request close "$rect" --outcome answered --export "${digest:0:63}g"
expect_exit 2 cairn request close --outcome answered
expect_exit 1 cairn request close zz --outcome answered
grep -q "is not a request id" "$W/err" || fail "bad id: $(cat "$W/err")"
expect_exit 1 cairn request close ffffffffffffffff --outcome answered
grep -q "no request ffffffffffffffff" "$W/err" || fail "unknown id: $(cat "$W/err")"
expect_exit 0 cairn request list --open
grep -q "^3 requests, 3 open$" "$W/out" || fail "list --open: $(cat "$W/out")"
grep -q "^${access:0:8}" "$W/out" && fail "list --open shows a closed request"
expect_exit 0 cairn request list
grep -q "^${access:0:8}  access .* answered after $(days_since 2026-01-05) days" "$W/out" ||
        fail "closed request in list: $(cat "$W/out")"

note "item 5: an erasure certificate answers a request; it must exist and be the controller's"
expect_exit 1 cairn request close "$erasure" --outcome answered --certificate abcdef
grep -q "no certificate abcdef" "$W/err" || fail "unknown certificate: $(cat "$W/err")"
expect_exit 1 cairn request close "$erasure" --outcome answered --certificate xyz
mkdir -p "$W/src/alice"
printf 'mail\n' >"$W/src/alice/m"
expect_exit 0 cairn --controller other backup "$W/src"
expect_exit 0 cairn --controller other erase --path "$W/src/alice" --json
other_cert=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"])' "$W/out")
expect_exit 1 cairn request close "$erasure" --outcome answered --certificate "${other_cert:0:12}"
grep -q "of another controller" "$W/err" || fail "another controller's certificate: $(cat "$W/err")"
expect_exit 0 cairn --controller default backup "$W/src"
expect_exit 0 cairn --controller default erase --path "$W/src/alice" --json
cert=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["certificate"])' "$W/out")
expect_exit 0 cairn request close "$erasure" --outcome partial --certificate "${cert:0:12}"
expect_exit 0 cairn request show "${erasure:0:8}"
grep -q "^  status      partial on .* after $(days_since "2026-01-10 08:30:00") days$" "$W/out" || fail "show status: $(cat "$W/out")"
grep -q "^  certificate $cert$" "$W/out" || fail "show certificate: $(cat "$W/out")"
grep -q "^  about       a path, pseudonym [0-9a-f]\{64\}$" "$W/out" || fail "show scope: $(cat "$W/out")"
expect_exit 0 cairn request show "$erasure" --json
python3 - "$W/out" "$cert" "$ctl" <<'PY' || fail "request show --json: $(cat "$W/out")"
import json, re, sys
q = json.load(open(sys.argv[1]))
assert q["kind"] == "erasure" and q["reference"] == "DSR-2" and not q["open"], q
assert q["received"] == "2026-01-10T08:30:00Z", q
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", q["recorded"]), q
assert q["controller"]["id"] == sys.argv[3], q
assert q["scope"]["kind"] == "path" and re.fullmatch("[0-9a-f]{64}", q["scope"]["pseudonym"]), q
c = q["closing"]
assert c["outcome"] == "partial" and c["certificate"] == sys.argv[2] and c["export"] is None, c
assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", c["closed_at"]), c
PY
expect_exit 0 cairn request list --json
python3 - "$W/out" "$access" "$digest" <<'PY' || fail "request list --json: $(cat "$W/out")"
import json, sys
l = json.load(open(sys.argv[1]))
assert len(l) == 4, l
a = [q for q in l if q["id"] == sys.argv[2]][0]
assert a["closing"]["export"] == sys.argv[3] and a["closing"]["note"] == "sent by post", a
assert a["note"] == "by mail" and a["scope"]["kind"] == "subject", a
opened = [q for q in l if q["open"]]
assert len(opened) == 2 and all(q["closing"] is None and q["days"] >= 0 for q in opened), opened
PY

note "item 2/5: each add and close is in the audit log, the reference and subject as pseudonyms only"
expect_exit 0 cairn request show "$access" --json
cp "$W/out" "$W/access.json"
expect_exit 0 cairn --controller default audit show --json
cp "$W/out" "$W/audit.json"
python3 - "$W/audit.json" "$W/access.json" "$access" "$erasure" "$rect" "$digest" "$cert" <<'PY' || fail "audit entries of requests: $(cat "$W/audit.json")"
import json, sys
log, q = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
access, erasure, rect, digest, cert = sys.argv[3:]
req = [e for e in log if e["kind"] == "request"]
def acts(e):
    a = e["fields"]["action"]
    return a if isinstance(a, list) else [a]
adds = {e["fields"]["request"]: e for e in req if acts(e)[0] == "add"}
closes = {e["fields"]["request"]: e for e in req if acts(e)[0] == "close"}
assert set(adds) == {access, erasure, rect}, adds
assert set(closes) == {access, erasure}, closes
a = adds[access]["fields"]
assert a["kind"] == "access" and a["scope"] == "subject", a
assert a["subject"] == q["scope"]["pseudonym"], (a, q["scope"])
assert len(a["text"]) == 64, a  # the reference, as a pseudonym
assert adds[erasure]["fields"]["scope"] == "path" and len(adds[erasure]["fields"]["path"]) == 64
r = adds[rect]["fields"]  # --controller on the command line, no other scope: the controller's data
assert r["scope"] == "controller" and "subject" not in r and "path" not in r, r
c = closes[access]["fields"]
assert acts(closes[access]) == ["close", "answered"] and c["digest"] == digest and c["text"] == a["text"], c
c = closes[erasure]["fields"]
assert acts(closes[erasure]) == ["close", "partial"] and c["certificate"] == cert, c
PY
grep -q "DSR-\|alice\|example.org\|/home" "$W/audit.json" && fail "the audit log names a reference, subject or path"

note "item 5: the subject is kept as a pseudonym: list --subject finds it, the object does not name it"
expect_exit 0 cairn request list --subject alice@example.org
grep -q "^${access:0:8} " "$W/out" && grep -q "^1 request, 0 open$" "$W/out" || fail "list --subject: $(cat "$W/out")"
expect_exit 0 cairn request list --subject bob@example.org
grep -q "^0 requests, 0 open$" "$W/out" || fail "list --subject bob: $(cat "$W/out")"
expect_exit 0 cairn request list --path /home/alice
grep -q "^${erasure:0:8} " "$W/out" || fail "list --path: $(cat "$W/out")"
grep -rqa "alice" "$REPO/requests" && fail "a request object holds the subject in the clear"
reader_python
if [ -n "$PY" ]; then
        "$PY" "$READER" --dump "$W/rd" --json "$W/rd.json" "$REPO" --key-store "$CAIRN_KEY_STORE" 2>"$W/rd.err" ||
                die "the privacy reader failed: $(cat "$W/rd.err")"
        ls "$W/rd/objects" | grep -q "^requests-" || fail "the reader opened no request object"
        grep -rqa "alice" "$W/rd/objects"/requests-* && fail "a decrypted request object names the subject or path"
else
        note "(no python3 with PyNaCl and zstandard: the decrypted objects are not searched)"
fi

note "item 5: a damaged request object is named and skipped; check names it"
xor_byte "$req_dir/$rect" 70 1
expect_exit 0 cairn request list
grep -q "requests/$ctl/$rect is damaged" "$W/err" || fail "damaged request not named: $(cat "$W/err")"
grep -q "^3 requests" "$W/out" || fail "list with a damaged request: $(cat "$W/out")"
check_exit 1 cairn check && grep -q "requests/$ctl/$rect" "$W/out" "$W/err" || fail "check does not name it"
xor_byte "$req_dir/$rect" 70 1

note "item 5: a replica gets the records; a controller erasure removes them"
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
expect_exit 0 "$CAIRN" -r "$W/replica" init --replica-of "$REPO"
expect_exit 0 "$CAIRN" -r "$W/replica" copy --from "$REPO"
expect_exit 0 "$CAIRN" -r "$W/replica" request list
grep -q "^4 requests, 2 open$" "$W/out" || fail "replica's requests: $(cat "$W/out")"
expect_exit 0 cairn erase --controller other --reason "contract ended"
[ ! -e "$REPO/requests/$other" ] || [ -z "$(ls "$REPO/requests/$other")" ] ||
        die "the controller erasure left requests/$other"
expect_exit 0 cairn request list
grep -q "^3 requests, 1 open$" "$W/out" || fail "after the erasure of other: $(cat "$W/out")"
