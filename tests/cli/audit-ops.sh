#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# What the audit log records (issue 11, item 2; docs/cli/audit.md): each
# operation the issue lists adds exactly one entry to the log it belongs to
# (backup, restore, dump, copy on both sides, erasure, hold, release,
# break-glass, key add/remove/passwd, key store add/remove, location
# changes, requests, retention rules), a failed or refused one with its outcome; writers of every kind
# at once neither fork nor lose an entry; a read-only repository still
# restores (with a warning); no entry holds a path, file name, subject,
# host or user name, reason, reference, purpose or URL of the test; and a
# reader written from docs/FORMAT.md alone decodes every entry and
# checkpoint byte for byte as 'audit show --json' and 'audit checkpoint'
# say (tests/cli/audit-format.py).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

reader_python
tag=$(rand_hex 4)
host=opshost-$tag subj=carol-$tag purpose=purpose-$tag reason=reason-$tag ref=ref-$tag
mkdir -p "$W/data/people/$subj" "$W/data/shared"
echo "of $subj" >"$W/data/people/$subj/file-$subj.txt"
head -c 200000 /dev/urandom >"$W/data/shared/big-$tag.bin"
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
init_two_controllers
RE=$W/replica

# n REPO CTRL: how many entries CTRL's log in REPO holds
n() {
        "$CAIRN" -r "$1" --controller "$2" audit show --json >"$W/n.json" 2>"$W/n.err" || {
                fail "audit show of $2 in $1: $(cat "$W/n.err")"
                echo 0
                return
        }
        python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/n.json"
}
# last REPO CTRL: how many entries, then kind, outcome and action of the last
last() {
        "$CAIRN" -r "$1" --controller "$2" audit show --json >"$W/n.json" 2>/dev/null
        python3 -c 'import json,sys; l=json.load(open(sys.argv[1])); e=l[-1]
a=e["fields"].get("action", ""); a=",".join(a) if isinstance(a, list) else a
print(len(l), e["kind"], e["outcome"], a)' "$W/n.json" | sed 's/ *$//'
}
# one EXIT "REPO:CTRL:KIND OUTCOME [ACTION]"... -- CMD...: CMD exits EXIT
# and adds exactly one entry to each log named, the last, as said.
one() {
        local code=$1 logs=() before=() i r c
        shift
        while [ "$1" != -- ]; do
                logs+=("$1")
                shift
        done
        shift
        for i in "${!logs[@]}"; do
                IFS=: read -r r c _ <<<"${logs[i]}"
                before[i]=$(n "$r" "$c")
        done
        check_exit "$code" "$@" || return 0
        for i in "${!logs[@]}"; do
                IFS=: read -r r c want <<<"${logs[i]}"
                [ "$(last "$r" "$c")" = "$((before[i] + 1)) $want" ] ||
                        fail "$*: $c's log in $r: '$(last "$r" "$c")', want one entry more than ${before[i]}, '$want'"
        done
}
D=$REPO:default O=$REPO:other

note "item 2: each operation adds exactly one entry to its log"
one 0 "$D:backup ok" -- cairn --controller default backup --host "$host" --tag "tag-$tag" \
        --subject-rule "$W/data/people/{subject}" "$W/data"
id=$(snapshot_ids --controller default | awk '{print $1}')
one 0 "$D:backup ok" -- sh -c "echo stream | '$CAIRN' -r '$REPO' --controller default backup --stdin --stdin-filename in-$tag"
one 0 "$D:restore ok" -- cairn restore "$id" --target "$W/restored-$tag"
one 0 "$D:dump ok" -- cairn dump "$id" "$W/data/people/$subj/file-$subj.txt"
one 0 "$D:hold ok add" -- cairn --controller default hold add --path "$W/data/people/$subj/**" --reason "$reason" \
        --reference "$ref"
hold=$(cat "$W/out")
one 0 "$D:release ok release" -- cairn --controller default hold release "$hold" --reason "$reason"
one 0 "$D:key ok add" "$O:key ok add" -- env CAIRN_NEW_PASSWORD=second "$CAIRN" -r "$REPO" key add --label "label-$tag"
key=$(grep -o '[0-9a-f]\{32\}' "$W/out" | head -1)
one 0 "$D:key ok remove" "$O:key ok remove" -- cairn key remove "$key"
one 0 "$D:key ok passwd" "$O:key ok passwd" -- env CAIRN_NEW_PASSWORD="$CAIRN_PASSWORD" "$CAIRN" -r "$REPO" key passwd
one 0 "$D:key ok key-store-add" "$O:key ok key-store-add" -- cairn key-store add "$W/escrow-$tag"
one 0 "$D:key ok key-store-remove" "$O:key ok key-store-remove" -- cairn key-store remove "$W/escrow-$tag"
one 0 "$D:location ok add" "$O:location ok add" -- cairn location add here --provider P --region R \
        --note "note-$tag"
one 0 "$D:location ok authorise" -- cairn location authorise here --controller default
one 0 "$O:location ok authorise" -- cairn location authorise here --controller other
one 0 "$O:location ok revoke" -- cairn location revoke here --controller other
one 0 "$O:location ok authorise" -- cairn location authorise here --controller other
one 0 "$D:location ok authorise" -- cairn location authorise there --controller default --provider Q --region S
one 0 "$O:location ok authorise" -- cairn location authorise there --controller other --provider Q --region S
one 0 "$D:request ok add" -- cairn --controller default request add --kind access --reference "$ref" \
        --subject "$subj" --note "note-$tag"
req=$(cat "$W/out")
one 0 "$D:request ok close,answered" -- cairn request close "$req" --outcome answered --note "note-$tag"
one 0 "$D:retention ok set" -- cairn retention set --controller default --keep-last 5
one 0 "$D:retention ok clear" -- cairn retention clear --controller default
expect_exit 0 "$CAIRN" -r "$RE" init --replica-of "$REPO" --location there --provider Q --region S
one 0 "$D:copy ok send" "$RE:default:copy ok receive" -- "$CAIRN" -r "$RE" copy --from "$REPO"

note "item 2: failed and refused operations are logged with their outcome"
expect_exit 0 cairn location revoke here --controller other
one 4 "$O:backup refused unauthorised-location" -- cairn --controller other backup "$W/data"
one 0 "$D:location ok remove" "$O:location ok remove" -- cairn location remove here
one 4 "$O:backup refused no-location" -- cairn --controller other backup "$W/data"
expect_exit 0 cairn location add here --provider P --region R
expect_exit 0 cairn location authorise here --controller other
# damaged data the replica lacks: a restore is partial, a dump failed, a copy failed on both sides
mkdir -p "$W/fresh"
head -c 300000 /dev/urandom >"$W/fresh/new-$tag.bin"
expect_exit 0 cairn --controller default backup --json "$W/fresh"
fresh=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
pack=$(ls -t $(find "$REPO/data" -type f) | head -1)
cp -a "$REPO" "$W/before-damage"
xor_byte "$pack" 5000 1
one 1 "$D:restore partial" -- cairn restore "$fresh" --target "$W/damaged-$tag"
one 1 "$D:dump failed" -- cairn dump "$fresh" "$W/fresh/new-$tag.bin"
one 1 "$D:copy failed send" "$RE:default:copy failed receive" -- "$CAIRN" -r "$RE" copy --from "$REPO" --controller default
rm -rf "$REPO" && cp -a "$W/before-damage" "$REPO"


note "item 2: writers of every kind at once: no fork, no lost entry"
expect_exit 0 cairn --controller default backup "$W/data/shared"
expect_exit 0 cairn audit show --controller default --json
python3 - "$W/out" >"$W/kinds-before" <<'EOF'
import collections, json, sys
print(json.dumps(collections.Counter(e["kind"] for e in json.load(open(sys.argv[1])))))
EOF
nd=$(n "$REPO" default) no=$(n "$REPO" other) nr=$(n "$RE" default)
pids=()
for i in 1 2 3; do
        "$CAIRN" -r "$REPO" --controller default backup "$W/data/shared" >/dev/null 2>"$W/race-b$i" & pids+=($!)
        "$CAIRN" -r "$REPO" --controller default hold add --tag "race$i" --reason r >/dev/null 2>"$W/race-h$i" & pids+=($!)
done
"$CAIRN" -r "$REPO" restore "$id" --target "$W/race-restore" >/dev/null 2>"$W/race-r" & pids+=($!)
"$CAIRN" -r "$REPO" dump "$id" "$W/data/people/$subj/file-$subj.txt" >/dev/null 2>"$W/race-d" & pids+=($!)
env CAIRN_NEW_PASSWORD=third "$CAIRN" -r "$REPO" key add >/dev/null 2>"$W/race-k" & pids+=($!)
"$CAIRN" -r "$REPO" key-store add "$W/escrow2-$tag" >/dev/null 2>"$W/race-s" & pids+=($!)
"$CAIRN" -r "$RE" copy --from "$REPO" >/dev/null 2>"$W/race-c" & pids+=($!)
for p in "${pids[@]}"; do wait "$p" || fail "a racing writer failed: $(cat "$W"/race-*)"; done
grep -l "could not record" "$W"/race-* && fail "a racing writer's entry was lost: $(cat "$W"/race-*)"
expect_exit 0 cairn audit verify
expect_exit 0 "$CAIRN" -r "$RE" audit verify
[ "$(n "$REPO" default)" = $((nd + 11)) ] || fail "default: $nd + 11 entries expected, $(n "$REPO" default) there"
[ "$(n "$REPO" other)" = $((no + 2)) ] || fail "other: $no + 2 entries expected, $(n "$REPO" other) there"
[ "$(n "$RE" default)" = $((nr + 1)) ] || fail "replica: $nr + 1 entries expected, $(n "$RE" default) there"
expect_exit 0 cairn audit show --controller default --json
python3 - "$W/out" "$(cat "$W/kinds-before")" <<'EOF' || fail "racing writers' entries by kind"
import collections, json, sys
log, before = json.load(open(sys.argv[1])), collections.Counter(json.loads(sys.argv[2]))
now = collections.Counter(e["kind"] for e in log)
want = {"backup": 3, "hold": 3, "restore": 1, "dump": 1, "key": 2, "copy": 1}
got = {k: now[k] - before[k] for k in want}
assert got == want, (got, want)
assert [e["seq"] for e in log] == list(range(len(log)))
assert all(log[i]["prev"] == log[i - 1]["hash"] for i in range(1, len(log)))
EOF

note "item 2: a read-only repository still restores, with a warning"
as_user=()
if $IS_ROOT; then
        if command -v setpriv >/dev/null; then
                as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        elif command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
                as_user=(runuser -u nobody --)
        fi
fi
if $IS_ROOT && [ ${#as_user[@]} = 0 ]; then
        note "SKIP read-only repository: root without setpriv or runuser"
else
        nd=$(n "$REPO" default)
        mkdir -m 0777 "$W/ro-target"
        chmod 0755 "$W"
        if $IS_ROOT; then chmod -R a+rX "$REPO" "$CAIRN_KEY_STORE"; else chmod -R a-w "$REPO"; fi
        expect_exit 0 "${as_user[@]}" env HOME="$W" "$CAIRN" -r "$REPO" restore "$id" --target "$W/ro-target/x"
        grep -q "warning: the audit log could not record this restore: .*; the restore itself stands" "$W/err" ||
                fail "read-only restore: $(cat "$W/err")"
        [ -s "$W/ro-target/x$W/data/people/$subj/file-$subj.txt" ] || fail "read-only restore restored nothing"
        chmod -R u+w "$REPO"
        [ "$(n "$REPO" default)" = "$nd" ] || fail "read-only: the log changed"
fi

note "item 2: a restricted snapshot: a read without a purpose is refused and logged, one with is logged twice"
one 0 "$D:hold ok add" -- cairn --controller default hold add --snapshot "$id" --reason "$reason"
one 3 "$D:erasure partial" -- cairn --controller default erase --subject "$subj" --reason "$reason" --reference "$ref"
one 1 "$D:break-glass refused restore" -- cairn restore "$id" --target "$W/bg-$tag"
nd=$(n "$REPO" default)
expect_exit 0 cairn restore "$id" --target "$W/bg-$tag" --break-glass "$purpose"
[ "$(n "$REPO" default)" = $((nd + 2)) ] || fail "break-glass restore: $nd + 2 entries expected"
"$CAIRN" -r "$REPO" --controller default audit show --json | python3 -c '
import json, sys
e = json.load(sys.stdin)[-2]
assert (e["kind"], e["outcome"], e["fields"]["action"]) == ("break-glass", "ok", "restore"), e' ||
        fail "break-glass read: no break-glass entry before the restore's"

note "item 2: no entry holds a path, file name, subject, host, user, reason, reference, purpose or URL"
if [ -n "$PY" ]; then
        for r in "$REPO" "$RE"; do
                rm -rf "$W/dump"
                "$PY" "$READER" "$r" --key-store "$CAIRN_KEY_STORE" --dump "$W/dump" --json "$W/reader.json" >/dev/null ||
                        die "the reader failed on $r"
                [ "$(ls "$W/dump/objects" | grep -c '^audit')" -ge 2 ] || die "the reader opened no audit entry of $r"
                for s in "$subj" "$host" "$W" "file-$subj" "big-$tag" "in-$tag" "label-$tag" "tag-$tag" "note-$tag" \
                        "$reason" "$ref" "$purpose" "escrow" "restored-$tag" "$(hostname)" "$(id -un)"; do
                        [ ${#s} -ge 6 ] || continue
                        if grep -laF -- "$s" "$W/dump/objects"/audit* >/dev/null; then
                                fail "a decrypted audit entry of $r holds '$s'"
                        fi
                done
        done
else
        note "(python3-nacl or python3-zstandard missing: the leak check is skipped)"
fi

note "item 2: docs/FORMAT.md alone decodes every entry and checkpoint as cairn shows them"
if [ -n "$PY" ]; then
        mkdir -p "$W/show"
        for c in "$ctl" "$other"; do
                expect_exit 0 cairn --controller "$c" audit show --json
                cp "$W/out" "$W/show/$c.json"
                expect_exit 0 cairn --controller "$c" audit checkpoint -o "$W/cp-$c.json"
        done
        check_exit 0 "$PY" "$SRCDIR/tests/cli/audit-format.py" "$REPO" "$CAIRN_KEY_STORE" "$W/show" \
                "$W/cp-$ctl.json" "$W/cp-$other.json"
        grep -q "entries in 2 logs read from FORMAT.md" "$W/out" || fail "the FORMAT.md reader: $(cat "$W/out")"
else
        note "(python3-nacl missing: the FORMAT.md reader is skipped)"
fi
