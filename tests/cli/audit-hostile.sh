#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The audit log against an attacker who can write to the storage and an
# operator who gives the wrong thing (issue 11, item 2; docs/cli/audit.md,
# docs/FORMAT.md "Audit log"): one byte changed anywhere in an entry
# (header, nonce, ciphertext, tag), an entry truncated, swapped for another
# of the same log or of another controller, renamed, deleted first, middle
# or last, the whole log deleted; a planted object beyond the end
# (ffffffffffffffff) and a planted name that is no entry; an old checkpoint
# against a rewritten log; checkpoints of another controller, of another
# repository, or edited; --controller by name, by id, by an erased
# controller's id, by an id of nothing; a repository with no audit log yet.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/data"
echo one >"$W/data/f"
init_two_controllers
for i in 1 2 3; do
        echo "$i" >>"$W/data/f"
        expect_exit 0 cairn --controller default backup "$W/data"
done
expect_exit 0 cairn --controller default hold add --tag t --reason r
# default: init, 3 backups, a hold = 5 entries; other: init
dir=$REPO/audit/$ctl
[ "$(ls "$dir" | wc -l)" = 5 ] || die "default's log: $(ls "$dir")"
expect_exit 0 cairn --controller default audit checkpoint -o "$W/cp5.json"
expect_exit 0 cairn --controller other audit checkpoint -o "$W/cp-other.json"
cp -a "$REPO" "$W/pristine"

# verify_broken SEQ WHAT...: audit verify exits 1 naming entry SEQ, and the
# words WHAT in its message; then the pristine repository comes back.
verify_broken() {
        local seq=$1
        shift
        check_exit 1 cairn audit verify || true
        grep -q "broken at entry $seq .*$*" "$W/err" || fail "entry $seq, '$*': $(cat "$W/err")"
        grep -q "^default: $seq entr.*: broken$" "$W/out" || fail "entry $seq, '$*': $(cat "$W/out")"
        rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"
}

note "item 2: one byte changed anywhere in an entry breaks the log there"
size=$(stat -c %s "$dir/0000000000000002")
# magic, version, processor, controller, epoch, nonce, ciphertext, tag
for off in 0 9 12 30 44 47 48 71 72 $((size / 2)) $((size - 16)) $((size - 1)); do
        xor_byte "$dir/0000000000000002" "$off" 4
        verify_broken 2 "does not open"
done
truncate -s $((size - 1)) "$dir/0000000000000002"
verify_broken 2 "does not open"
: >"$dir/0000000000000004"
verify_broken 4 "does not open"
head -c 20000 /dev/urandom >"$dir/0000000000000003"
verify_broken 3 "larger than any entry"

note "item 2: an entry swapped for another of the same log, or of another controller"
cp "$dir/0000000000000001" "$dir/0000000000000003"
verify_broken 3 "another entry's sequence number"
cp "$REPO/audit/$other/0000000000000000" "$dir/0000000000000000"
verify_broken 0 "does not open"
# the first entry of default's own log, put in other's place
cp "$dir/0000000000000000" "$REPO/audit/$other/0000000000000000"
check_exit 1 cairn audit verify
grep -q "^other: 0 entries, head (none): broken$" "$W/out" || fail "other's entry 0 swapped: $(cat "$W/out")"
rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"

note "item 2: an entry deleted (first, middle) or renamed; the last deleted shows only against a checkpoint"
rm "$dir/0000000000000000"
verify_broken 0 "missing"
rm "$dir/0000000000000002"
verify_broken 2 "missing.*the next name there is 0000000000000003"
mv "$dir/0000000000000004" "$dir/0000000000000009"
verify_broken 4 "missing.*the next name there is 0000000000000009"
rm "$dir/0000000000000004"
expect_exit 0 cairn --controller default audit verify
grep -q "^default: 4 entries, head [0-9a-f]*: intact$" "$W/out" || fail "last deleted: $(cat "$W/out")"
expect_exit 1 cairn --controller default audit verify --checkpoint "$W/cp5.json"
grep -q "tail was cut (the checkpoint vouches for 5 entries, the log has 4)" "$W/err" || fail "cut tail: $(cat "$W/err")"

note "item 2: an old checkpoint against a rewritten log (the last entry replaced by a new one)"
# the next operation takes seq 4 again: 5 entries, another head
expect_exit 0 cairn --controller default hold add --tag t2 --reason r
expect_exit 0 cairn --controller default audit verify
expect_exit 1 cairn --controller default audit verify --checkpoint "$W/cp5.json"
grep -q "the log was rewritten" "$W/err" || fail "rewritten log: $(cat "$W/err")"
rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"

note "item 2: the whole log deleted: verify still lists its controller, and a checkpoint catches it"
rm -rf "$dir"
expect_exit 0 cairn audit verify
grep -q "^default: 0 entries, head (none): intact$" "$W/out" || fail "log deleted whole, no checkpoint: $(cat "$W/out")"
grep -q "^other: 1 entry, head [0-9a-f]*: intact$" "$W/out" || fail "other: $(cat "$W/out")"
expect_exit 1 cairn audit verify --checkpoint "$W/cp5.json" --checkpoint "$W/cp-other.json"
grep -q "audit log of default does not extend checkpoint .*tail was cut" "$W/err" || fail "deleted log: $(cat "$W/err")"
grep -q "^other: .*intact$" "$W/out" || fail "other against its checkpoint: $(cat "$W/out")"
rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"

note "item 2: a planted name beyond the end neither stops nor diverts the log"
for planted in ffffffffffffffff 0000000000000020; do
        head -c 300 /dev/urandom >"$dir/$planted"
        check_exit 1 cairn --controller default audit verify || true
        grep -q "broken at entry 5 .*the next name there is $planted" "$W/err" || fail "planted $planted: $(cat "$W/err")"
        expect_exit 0 cairn --controller default backup "$W/data"
        grep -q "could not record" "$W/err" && fail "planted $planted: the backup was not recorded: $(cat "$W/err")"
        [ -e "$dir/0000000000000005" ] || fail "planted $planted: the backup's entry is not entry 5: $(ls "$dir")"
        rm "$dir/$planted"
        expect_exit 0 cairn --controller default audit verify --checkpoint "$W/cp5.json"
        grep -q "^default: 6 entries, .*: intact$" "$W/out" || fail "planted $planted, removed: $(cat "$W/out")"
        rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"
done
# a damaged last entry is stepped over too: the next entry follows it
xor_byte "$dir/0000000000000004" 60 1
expect_exit 0 cairn --controller default backup "$W/data"
[ -e "$dir/0000000000000005" ] || fail "after a damaged last entry: $(ls "$dir")"
verify_broken 4 "does not open"

note "item 2: a name that is no entry is skipped and reported"
echo hello >"$dir/README"
expect_exit 0 cairn --controller default audit verify
grep -q "audit/$ctl/README is not an entry" "$W/err" || fail "foreign name, verify: $(cat "$W/err")"
expect_exit 1 cairn check
grep -q "audit/$ctl/README (controller default) is damaged" "$W/out" || fail "foreign name, check: $(cat "$W/out")"
rm "$dir/README"

note "item 2: checkpoints of another controller, another repository, or edited, are refused"
expect_exit 1 cairn --controller default audit verify --checkpoint "$W/cp-other.json"
grep -q "checkpoint .* is of controller $other, not of default: it checks nothing" "$W/err" ||
        fail "another controller's checkpoint: $(cat "$W/err")"
expect_exit 0 cairn audit verify --checkpoint "$W/cp-other.json"
expect_exit 0 cairn --controller "$other" audit verify --checkpoint "$W/cp-other.json"
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
expect_exit 0 "$CAIRN" -r "$W/replica" init --replica-of "$REPO"
expect_exit 0 "$CAIRN" -r "$W/replica" --controller default audit checkpoint -o "$W/cp-replica.json"
expect_exit 1 cairn audit verify --checkpoint "$W/cp-replica.json"
grep -q "is of another repository" "$W/err" || fail "a replica's checkpoint: $(cat "$W/err")"
expect_exit 0 "$CAIRN" -r "$W/elsewhere" init
expect_exit 0 "$CAIRN" -r "$W/elsewhere" audit checkpoint -o "$W/cp-elsewhere.json"
expect_exit 1 cairn audit verify --checkpoint "$W/cp-elsewhere.json"
grep -q "signed by another processor key" "$W/err" || fail "another processor's checkpoint: $(cat "$W/err")"
# a time that parses the same, and keeps the signature, but is not one
sed 's/"time":"/"time":" /' "$W/cp5.json" >"$W/cp-space.json"
expect_exit 1 cairn audit verify --checkpoint "$W/cp-space.json"
grep -q "a member is missing, extra or malformed" "$W/err" || fail "checkpoint time edited: $(cat "$W/err")"
printf '%s' "$(cat "$W/cp5.json")" >"$W/cp-nonl.json"
expect_exit 1 cairn audit verify --checkpoint "$W/cp-nonl.json"
grep -q "not in canonical form" "$W/err" || fail "checkpoint without its newline: $(cat "$W/err")"

note "item 2: --controller by name, by id, by an erased controller's id, by an id of nothing"
expect_exit 0 cairn --controller default audit show --json
n_name=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/out")
expect_exit 0 cairn --controller "$ctl" audit show --json
n_id=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$W/out")
[ "$n_name" = 5 ] && [ "$n_id" = 5 ] || fail "by name $n_name, by id $n_id entries, want 5"
nothing=0123456789abcdef0123456789abcdef
for sub in show verify checkpoint; do
        expect_exit 1 cairn --controller "$nothing" audit "$sub"
        grep -q "is no controller of the repository .* and no audit log of that id" "$W/err" ||
                fail "audit $sub of an id of nothing: $(cat "$W/err")"
done
expect_exit 2 cairn audit show
grep -q "has 2 data controllers" "$W/err" || fail "show without --controller: $(cat "$W/err")"
expect_exit 0 cairn --controller other erase --controller other
for sub in show verify checkpoint; do
        expect_exit 0 cairn --controller "$other" audit "$sub"
done
grep -q '"entries":2,' "$W/out" || fail "checkpoint of the erased controller: $(cat "$W/out")"
expect_exit 0 cairn audit verify
grep -q "^$other: 2 entries, .*: intact$" "$W/out" || fail "erased controller's log: $(cat "$W/out")"
expect_exit 0 cairn --controller default erase --controller default
expect_exit 1 cairn audit show
grep -q "no data controller any more .* --controller ID" "$W/err" || fail "emptied repository: $(cat "$W/err")"
expect_exit 0 cairn audit verify --json
python3 - "$W/out" "$ctl" "$other" <<'EOF' || fail "verify --json of an emptied repository: $(cat "$W/out")"
import json, sys
v = json.load(open(sys.argv[1]))
assert sorted(x["controller"] for x in v) == sorted(sys.argv[2:]), v
assert all(x["intact"] and x["broken_at"] is None and x["entries"] >= 2 for x in v), v
EOF

note "item 2: a repository with no audit log yet (format 1, cairn 0.1)"
cp -a "$SRCDIR/tests/vectors/repo-v1" "$W/v1"
chmod -R u+w "$W/v1"
v1() { CAIRN_PASSWORD=cairn-vector "$CAIRN" -r "$W/v1" "$@"; }
expect_exit 0 v1 audit verify
grep -q "^vector-controller: 0 entries, head (none): intact$" "$W/out" || fail "v1 verify: $(cat "$W/out")"
expect_exit 0 v1 audit show --json
[ "$(cat "$W/out")" = "[]" ] || fail "v1 show --json: $(cat "$W/out")"
expect_exit 0 v1 audit checkpoint -o "$W/cp-v1.json"
expect_exit 0 v1 audit verify --checkpoint "$W/cp-v1.json"
grep -q '"entries":0,' "$W/cp-v1.json" || fail "v1 checkpoint: $(cat "$W/cp-v1.json")"
