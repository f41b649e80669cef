#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The audit log (issue 11, item 2): backups, restores, dumps, holds,
# releases, forgets, prunes, erasures, key and key store changes each add
# an entry to their controller's log; the log holds no personal data (an
# independent reader written from docs/FORMAT.md decrypts every entry, and
# none holds a path, subject or host name of the test); --resolve/--match
# name pseudonyms for whoever holds the keys; verify names the first
# broken entry when one is edited (even re-sealed with the audit key) or
# deleted, and catches a cut tail against a checkpoint; racing writers
# neither fork nor lose entries; the log of an erased controller stays.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

reader_python
host=audit-host-$(rand_hex 4)
subj=alice-$(rand_hex 4)
mkdir -p "$W/data/people/$subj" "$W/data/shared"
echo "record of $subj" >"$W/data/people/$subj/file-$subj.txt"
echo shared >"$W/data/shared/notes.txt"

init_two_controllers
log() {         # log CTRL: the kinds of the entries of CTRL's log, one line
        "$CAIRN" -r "$REPO" --controller "$1" audit show --json >"$W/log.json" || die "audit show failed"
        python3 -c 'import json,sys; print(" ".join(e["kind"] for e in json.load(open(sys.argv[1]))))' "$W/log.json"
}

note "item 2: every kind of processing adds an entry"
for i in 1 2 3; do
        echo "version $i" >>"$W/data/people/$subj/file-$subj.txt"
        expect_exit 0 cairn --controller default backup --host "$host" \
                --subject-rule "$W/data/people/{subject}" "$W/data"
done
id=$(snapshot_ids --controller default | awk '{print $1}')
expect_exit 0 cairn --controller default restore "$id" --target "$W/restored"
expect_exit 0 cairn --controller default dump "$id" "$W/data/shared/notes.txt"
expect_exit 0 cairn --controller default hold add --snapshot "$id" --reason "case of $subj"
hold=$(cat "$W/out")
expect_exit 0 cairn --controller default hold release "$hold" --reason "closed"
expect_exit 0 cairn --controller default forget --keep-last 2
expect_exit 0 cairn prune
expect_exit 0 env CAIRN_NEW_PASSWORD=second "$CAIRN" -r "$REPO" key add
expect_exit 0 cairn key-store add "$W/escrow"
expect_exit 0 cairn --controller default erase --subject "$subj" --reason "request of $subj"
kinds=$(log default)
want="init backup backup backup restore dump hold release forget prune key key erasure"
[ "$kinds" = "$want" ] || fail "log of default: '$kinds', want '$want'"
# repository-wide events are in every controller's log
kinds=$(log other)
[ "$kinds" = "init prune key key" ] || fail "log of other: '$kinds'"
python3 - "$W/log.json" <<'EOF' || fail "entry fields: $(cat "$W/log.json")"
import json, sys
for e in json.load(open(sys.argv[1])):
        f = e["fields"]
        assert len(f["host"]) == 64 and len(f["user"]) == 64, e
        assert e["outcome"] == "ok", e
EOF
"$CAIRN" -r "$REPO" --controller default audit show --json >"$W/default.json"
python3 - "$W/default.json" "$id" <<'EOF' || fail "backup/erasure entries: $(cat "$W/default.json")"
import json, sys
log, snap = json.load(open(sys.argv[1])), sys.argv[2]
backups = [e for e in log if e["kind"] == "backup"]
assert all(e["fields"]["files"] >= 2 and len(e["fields"]["snapshot"]) == 64 for e in backups), backups
assert log[4]["kind"] == "restore" and log[4]["fields"]["snapshot"] == snap, log[4]
er = log[-1]
assert er["fields"]["scope"] == "subject" and len(er["fields"]["certificate"]) == 64, er
assert er["fields"]["files"] >= 1 and er["fields"]["epoch"] >= 2, er
# chained: each prev is the hash of the entry before it
assert all(log[i]["prev"] == log[i - 1]["hash"] for i in range(1, len(log))), "chain"
assert log[0]["prev"] == "0" * 64
EOF

note "item 2: whoever holds the keys resolves a pseudonym; --match keeps the entries naming it"
expect_exit 0 cairn --controller default audit show --match "$W/data" --resolve "$host"
grep -c '^[0-9]' "$W/out" | grep -qx 3 || fail "--match $W/data: $(cat "$W/out")"
grep -q "path=\"$W/data\"" "$W/out" || fail "--match does not name the path: $(cat "$W/out")"
grep -q "name=\"$host\"" "$W/out" || fail "--resolve does not name the host: $(cat "$W/out")"
expect_exit 0 cairn --controller default audit show --match "$subj"
grep -q ' erasure ' "$W/out" || fail "--match SUBJECT misses the erasure: $(cat "$W/out")"
expect_exit 0 cairn --controller default audit show --since 1d
[ "$(grep -c '^[0-9]' "$W/out")" = 13 ] || fail "--since 1d: $(cat "$W/out")"
expect_exit 0 cairn --controller default audit show --since 2999-01-01
[ "$(grep -c '^[0-9]' "$W/out")" = 0 ] || fail "--since the future: $(cat "$W/out")"
expect_exit 2 cairn --controller default audit show --since yesterday

note "item 2: the log holds no path, subject or host name (independent reader, decrypted)"
if [ -n "$PY" ]; then
        rm -rf "$W/dump"
        "$PY" "$READER" "$REPO" --dump "$W/dump" --json "$W/reader.json" || die "reader failed"
        python3 - "$W/reader.json" <<'EOF' || fail "reader: audit chains: $(cat "$W/reader.json")"
import json, sys
a = json.load(open(sys.argv[1]))["audit"]
assert len(a) == 2 and all(c["intact"] and c["entries"] >= 4 for c in a.values()), a
EOF
        ls "$W/dump/objects" | grep -q '^audit' || die "the reader opened no audit entry"
        for s in "$subj" "$host" "$W/data" "data/people" "file-$subj" "notes.txt" "$W/escrow" "$REPO" \
                "$(hostname)" "$(id -un)" "request of" "case of"; do
                [ ${#s} -ge 6 ] || continue
                if grep -rlaF -- "$s" "$W/dump/objects"/audit* >/dev/null; then
                        fail "a decrypted audit entry holds '$s'"
                fi
        done
else
        note "(python3-nacl or python3-zstandard missing: the independent reader is skipped)"
fi

note "item 2: verify: intact, then an edited, a deleted and a re-sealed entry, and a cut tail"
expect_exit 0 cairn audit verify
grep -q ': 13 entries, head [0-9a-f]\{16\}: intact$' "$W/out" || fail "verify: $(cat "$W/out")"
expect_exit 0 cairn --controller default audit checkpoint -o "$W/cp.json"
dir=$(ls -d "$REPO"/audit/"$ctl")
cp -a "$dir" "$W/audit-saved"
restore_log() { rm -rf "$dir" && cp -a "$W/audit-saved" "$dir"; }

xor_byte "$dir/0000000000000005" 60 1
expect_exit 1 cairn audit verify
grep -q 'broken at entry 5 ' "$W/err" || fail "edited entry 5: $(cat "$W/err")"
restore_log

rm "$dir/0000000000000007"
expect_exit 1 cairn --controller default audit verify
grep -q 'broken at entry 7 .*missing' "$W/err" || fail "deleted entry 7: $(cat "$W/err")"
expect_exit 1 cairn --controller default audit show
restore_log

if [ -n "$PY" ]; then
        # Someone with a password re-seals entry 3 with another count: it
        # opens, but entry 4 no longer chains to it.
        REPO=$REPO "$PY" - "$dir/0000000000000003" <<'EOF' || die "re-sealing failed"
import os, sys
sys.path.insert(0, os.path.join(os.environ["SRCDIR"], "tests/privacy"))
import cairn_reader as cr
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_encrypt as seal
rd = cr.Reader([("current", os.environ["REPO"])], [], [os.environb[b"CAIRN_PASSWORD"]])
rd.open_key_files()
key = cr.kdf(next(iter(rd.masters)), 4, b"cnmaster")
data = open(sys.argv[1], "rb").read()
_, body = cr.env_open(data, [key])
body = bytearray(body)
body[-1] ^= 1                       # the last byte of the last field
hdr = data[:48]
nonce = os.urandom(24)
open(sys.argv[1], "wb").write(hdr + nonce + seal(bytes(body), hdr, nonce, key))
EOF
        expect_exit 1 cairn audit verify
        grep -q 'broken at entry 4 .*does not chain' "$W/err" || fail "re-sealed entry 3: $(cat "$W/err")"
        restore_log
fi

rm "$dir/000000000000000c" "$dir/000000000000000b"
expect_exit 0 cairn --controller default audit verify
expect_exit 1 cairn --controller default audit verify --checkpoint "$W/cp.json"
grep -q 'tail was cut' "$W/err" || fail "cut tail: $(cat "$W/err")"
restore_log
expect_exit 0 cairn --controller default audit verify --checkpoint "$W/cp.json"
# a checkpoint changed by a byte is refused
sed 's/"entries":13/"entries":12/' "$W/cp.json" >"$W/cp-bad.json"
expect_exit 1 cairn audit verify --checkpoint "$W/cp-bad.json"
grep -q 'signature does not match' "$W/err" || fail "edited checkpoint: $(cat "$W/err")"

note "item 2: racing writers neither fork nor lose entries"
pids=()
for i in 1 2 3 4 5 6; do
        "$CAIRN" -r "$REPO" --controller default hold add --tag "t$i" --reason r >/dev/null 2>"$W/race-$i.err" &
        pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a racing hold add failed"; done
expect_exit 0 cairn --controller default audit verify
grep -q ': 19 entries, .*: intact$' "$W/out" || fail "after 6 racing writers: $(cat "$W/out")"
[ "$(log default | tr ' ' '\n' | grep -c '^hold$')" = 7 ] || fail "racing holds: $(log default)"

note "item 2: the log of an erased controller stays, verifiable, its pseudonyms unresolvable"
expect_exit 0 cairn --controller other erase --controller other
expect_exit 0 cairn audit verify
grep -q "^$other: 5 entries, .*: intact$" "$W/out" || fail "erased controller's log: $(cat "$W/out")"
expect_exit 0 cairn --controller "$other" audit show
grep -q ' erasure .*scope=controller' "$W/out" || fail "controller erasure entry: $(cat "$W/out")"
expect_exit 1 cairn --controller "$other" audit show --resolve x

note "item 2: check finds a broken audit log too"
expect_exit 0 cairn check
grep -q ' audit entries: no errors' "$W/out" || fail "check does not count audit entries: $(cat "$W/out")"
rm "$dir/0000000000000002"
expect_exit 1 cairn check
grep -q "audit log of controller default is broken at audit/$ctl/0000000000000002" "$W/out" ||
        fail "check on a deleted entry: $(cat "$W/out")"
