#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Erasure certificates (issue 10): processor show prints the processor's
# public key; certificates issued in a repository (by make-certificate, as
# an erasure issues them) are listed, shown byte for byte by id or prefix,
# and written with -o; certificate verify accepts a genuine certificate
# with only the public key (no repository, no password) and rejects one
# with a changed, removed or added byte, another key, garbage, an oversized
# file, and says why; an independent verifier written from docs/FORMAT.md
# (tests/cli/verify-certificate.py) agrees with it; a damaged stored
# certificate is reported and skipped.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

: "${MAKE_CERTIFICATE:?set MAKE_CERTIFICATE (meson test does)}"

expect_exit 0 cairn init

note "issue 10: processor show prints the processor's uuid, name and public key"
expect_exit 0 cairn processor show
grep -Eq '^processor   [0-9a-f]{32}$' "$W/out" || fail "processor show: $(cat "$W/out")"
grep -q '^name        cairn$' "$W/out" || fail "processor show name: $(cat "$W/out")"
pub=$(sed -n 's/^public key  \([0-9a-f]\{64\}\)$/\1/p' "$W/out")
[ -n "$pub" ] || die "processor show printed no public key: $(cat "$W/out")"
proc=$(sed -n 's/^processor   //p' "$W/out")
expect_exit 0 cairn processor show --json
python3 - "$W/out" "$pub" "$proc" <<'EOF' || fail "processor show --json: $(cat "$W/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j == {"id": sys.argv[3], "name": "cairn", "public_key": sys.argv[2]}, j
EOF
expect_exit 12 env CAIRN_PASSWORD=wrong "$CAIRN" -r "$REPO" processor show
expect_exit 2 cairn processor
expect_exit 2 cairn processor list

note "issue 10: a certificate issued in the repository is stored at top level and listed"
"$MAKE_CERTIFICATE" "$REPO" "$W/cert.json" >"$W/id" || die "make-certificate failed"
id=$(cat "$W/id")
[[ $id =~ ^[0-9a-f]{64}$ ]] || die "make-certificate printed '$id'"
[ -f "$REPO/certificates/$id" ] || die "no certificates/$id"
expect_exit 0 cairn certificate list
grep -q "^${id:0:8}  .*  subject     complete  default           ticket 4711$" "$W/out" ||
        fail "certificate list: $(cat "$W/out")"
grep -q '^1 certificate$' "$W/out" || fail "certificate list count: $(cat "$W/out")"
expect_exit 0 cairn certificate list --json
python3 - "$W/out" "$id" <<'EOF' || fail "certificate list --json: $(cat "$W/out")"
import json, sys
[c] = json.load(open(sys.argv[1]))
assert c["id"] == sys.argv[2] and c["short_id"] == sys.argv[2][:8], c
assert c["scope"] == "subject" and c["status"] == "complete" and c["reference"] == "ticket 4711", c
assert c["completed_at"].endswith("Z") and len(c["controller"]["id"]) == 32, c
EOF

note "issue 10: certificate show prints the file byte for byte, by id or a unique prefix, or writes it with -o"
expect_exit 0 cairn certificate show "$id"
cmp "$W/out" "$W/cert.json" || fail "certificate show ID differs from the issued file"
expect_exit 0 cairn certificate show "${id:0:6}"
cmp "$W/out" "$W/cert.json" || fail "certificate show PREFIX differs from the issued file"
expect_exit 0 cairn certificate show "$(tr a-f A-F <<<"${id:0:10}")" -o "$W/shown.json"
cmp "$W/shown.json" "$W/cert.json" || fail "certificate show -o differs from the issued file"
expect_exit 1 cairn certificate show 0123456789abcdef0123
grep -q "no certificate 0123456789abcdef0123" "$W/err" || fail "unknown id: $(cat "$W/err")"
expect_exit 1 cairn certificate show xyz
grep -q "xyz is not a certificate id" "$W/err" || fail "not an id: $(cat "$W/err")"
expect_exit 2 cairn certificate show
expect_exit 2 cairn certificate show "$id" --processor-key "$pub"

note "issue 10: certificate verify accepts the genuine file with only the public key"
# no repository, no password: neither is looked at
expect_exit 0 env -u CAIRN_PASSWORD "$CAIRN" -r "$W/nowhere" certificate verify "$W/cert.json" --processor-key "$pub"
grep -q "^valid: certificate $id: subject erasure for controller [0-9a-f]\{32\}, complete, completed .*Z, signed by processor $proc (cairn)$" "$W/out" ||
        fail "verify summary: $(cat "$W/out")"
printf '%s\n' "$pub" >"$W/pub"
expect_exit 0 cairn certificate verify "$W/cert.json" --processor-key "$W/pub"
expect_exit 0 cairn certificate verify - --processor-key "$(tr a-f A-F <<<"$pub")" <"$W/cert.json"
expect_exit 0 cairn certificate verify --json "$W/cert.json" --processor-key "$pub"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j["valid"] is True and j["id"]==sys.argv[2], j' \
        "$W/out" "$id" || fail "verify --json: $(cat "$W/out")"

note "issue 10: certificate verify rejects any changed, removed or added byte, and says why"
size=$(stat -c %s "$W/cert.json")
sig_at=$((size - 60))
for off in 0 1 15 40 100 $((size / 2)) $((size - 200)) $sig_at $((size - 3)) $((size - 1)); do
        cp "$W/cert.json" "$W/bad.json"
        xor_byte "$W/bad.json" "$off" 1
        check_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub" || continue
        grep -q "bad.json is not valid" "$W/err" || fail "byte $off: no reason: $(cat "$W/err")"
done
# another hex digit in the signature's value: still of the right form
cp "$W/cert.json" "$W/bad.json"
digit=$(dd if="$W/bad.json" bs=1 skip="$sig_at" count=1 status=none)
[ "$digit" = 0 ] && digit=1 || digit=0
printf '%s' "$digit" | dd of="$W/bad.json" bs=1 seek="$sig_at" conv=notrunc status=none
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
grep -q "the signature does not match the content" "$W/err" || fail "signature flip: $(cat "$W/err")"
head -c $((size - 1)) "$W/cert.json" >"$W/bad.json"
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
grep -q "not in canonical form" "$W/err" || fail "missing newline: $(cat "$W/err")"
{ cat "$W/cert.json"; echo; } >"$W/bad.json"
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), indent=1))' "$W/cert.json" >"$W/bad.json"
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
grep -q "not in canonical form" "$W/err" || fail "pretty-printed: $(cat "$W/err")"
printf 'not a certificate\n' >"$W/bad.json"
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
grep -q "not JSON" "$W/err" || fail "garbage: $(cat "$W/err")"
head -c $((16 * 1024 * 1024 + 1)) /dev/zero >"$W/bad.json"
expect_exit 1 cairn certificate verify "$W/bad.json" --processor-key "$pub"
grep -q "larger than a certificate may be (16 MiB); is it the right file" "$W/err" || fail "oversized: $(cat "$W/err")"
expect_exit 1 cairn certificate verify "$W/missing.json" --processor-key "$pub"
grep -q "cannot read the certificate" "$W/err" || fail "missing file: $(cat "$W/err")"

note "issue 10: certificate verify rejects another processor's key, naming the one that signed"
other=$(printf '%064d' 7)
expect_exit 1 cairn certificate verify "$W/cert.json" --processor-key "$other"
grep -q "signed by another key than the one given (it says it was signed by $pub)" "$W/err" ||
        fail "another key: $(cat "$W/err")"
expect_exit 2 cairn certificate verify "$W/cert.json" --processor-key abc
grep -q "processor-key takes the processor's public key" "$W/err" || fail "bad key: $(cat "$W/err")"
printf 'zz\n' >"$W/badpub"
expect_exit 2 cairn certificate verify "$W/cert.json" --processor-key "$W/badpub"
expect_exit 2 cairn certificate verify "$W/cert.json"
expect_exit 2 cairn certificate verify --processor-key "$pub"

note "issue 10: strings are escaped to ASCII, \\u escapes in upper case"
# quote, backslash, slash, U+00F6 and U+1F600 (a surrogate pair)
"$MAKE_CERTIFICATE" "$REPO" "$W/odd.json" $'L\xc3\xb6schung "a" \\ / \xf0\x9f\x98\x80' >"$W/ids" ||
        die "make-certificate with escapes failed"
grep -q 'L\\u00F6schung \\"a\\" \\\\ / \\uD83D\\uDE00' "$W/odd.json" || fail "escapes: $(head -c 600 "$W/odd.json")"
expect_exit 0 cairn certificate verify "$W/odd.json" --processor-key "$pub"

note "issue 10: an independent verifier written from docs/FORMAT.md agrees"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if "$PY" -c 'import nacl.signing, jsonschema' 2>/dev/null; then
        verify_py() { "$PY" "$SRCDIR/tests/cli/verify-certificate.py" "$1" "$pub" "$SRCDIR/docs/certificate.schema.json"; }
        verify_py "$W/cert.json" >"$W/py" || fail "the independent verifier rejects the certificate: $(cat "$W/py")"
        grep -q "^valid: certificate $id " "$W/py" || fail "independent verifier: $(cat "$W/py")"
        verify_py "$W/odd.json" >"$W/py" || fail "the independent verifier rejects escapes: $(cat "$W/py")"
        for off in 20 $((size / 3)) $sig_at; do
                cp "$W/cert.json" "$W/bad.json"
                xor_byte "$W/bad.json" "$off" 2
                ! verify_py "$W/bad.json" >"$W/py" || fail "the independent verifier accepts byte $off changed"
        done
else
        note "python3 with nacl and jsonschema missing (python3-nacl, python3-jsonschema): independent check not run"
fi

note "issue 10: several certificates: prefixes that two share are ambiguous"
for i in $(seq 1 15); do
        "$MAKE_CERTIFICATE" "$REPO" "$W/c$i.json" "ticket $i" >>"$W/ids" || die "make-certificate $i failed"
done
expect_exit 0 cairn certificate list
grep -q '^17 certificates$' "$W/out" || fail "17 certificates: $(tail -1 "$W/out")"
shared=$(cut -c1 "$W/ids" "$W/id" | sort | uniq -d | head -1)
expect_exit 1 cairn certificate show "$shared"
grep -q "ambiguous: [0-9]* certificates start with $shared" "$W/err" || fail "ambiguous: $(cat "$W/err")"

note "issue 10: a damaged stored certificate is reported and skipped; the others are still listed"
xor_byte "$REPO/certificates/$id" 100 1
expect_exit 0 cairn certificate list
grep -q '^16 certificates$' "$W/out" || fail "damaged one listed: $(tail -1 "$W/out")"
grep -q "certificates/$id is damaged" "$W/err" || fail "no warning for the damaged one: $(cat "$W/err")"
expect_exit 1 cairn certificate show "$id"
grep -q "certificate $id in the repository is damaged" "$W/err" || fail "show damaged: $(cat "$W/err")"
# the file the erasure wrote still verifies: it does not depend on the repository
expect_exit 0 cairn certificate verify "$W/cert.json" --processor-key "$pub"
