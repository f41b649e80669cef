#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Legal holds (issue 9 item 4): hold add on each scope prints the hold's id;
# hold list shows them (text and JSON) with the review date flagged once
# past; hold release is recorded (the hold is listed as released, with the
# reason) and refused a second time and for an unknown id; with several
# controllers a path or tag hold needs --controller; a hold object with a
# flipped byte, or copied into another controller's folder, is reported
# damaged and hold list warns that nothing will be deleted.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/src/mail"
printf 'data\n' >"$W/src/mail/f"
expect_exit 0 cairn init
expect_exit 0 cairn backup --tag legal "$W/src"

note "item 4: hold add prints a hold id for each scope"
expect_exit 0 cairn hold add --tag legal --reason "litigation 17" --reference "case 4711" --until 2020-01-01
tag_id=$(cat "$W/out")
[[ $tag_id =~ ^[0-9a-f]{64}$ ]] || die "hold add printed '$tag_id', not a hold id"
expect_exit 0 cairn hold add --snapshot latest --reason "audit"
snap_id=$(cat "$W/out")
expect_exit 0 cairn hold add --path "$W/src/mail/**" --reason "mailbox" --until 2999-12-31
expect_exit 0 cairn hold add --controller default --reason "everything"
ctl_id=$(cat "$W/out")
[ -n "$(ls "$REPO/holds/"*/)" ] || die "no object under holds/"

note "item 4: hold add needs one scope, a reason, an absolute pattern and a date"
expect_exit 2 cairn hold add --reason "no scope"
expect_exit 2 cairn hold add --tag x
expect_exit 2 cairn hold add --tag x --path /y --reason two
expect_exit 2 cairn hold add --path 'relative/*' --reason r
expect_exit 2 cairn hold add --tag x --reason r --until tomorrow
expect_exit 2 cairn hold add --tag x --reason r --until 2026-02-30
expect_exit 1 cairn hold add --snapshot ffffffffff --reason r
expect_exit 2 env CAIRN_CONTROLLER=default "$CAIRN" -r "$REPO" hold add --reason "CAIRN_CONTROLLER is no scope"
expect_exit 0 cairn hold add --json --tag json --reason "json"
grep -Eq '^\{"id":"[0-9a-f]{64}"\}$' "$W/out" || fail "hold add --json: $(cat "$W/out")"
json_id=$(sed 's/.*"id":"\([0-9a-f]*\)".*/\1/' "$W/out")
expect_exit 0 cairn hold release "$json_id" --reason "json test done"

note "item 4: hold list shows every hold, the past review date flagged"
expect_exit 0 cairn hold list
grep -q "^${tag_id:0:8} .* review .*tag legal .*litigation 17" "$W/out" || fail "tag hold not flagged for review: $(cat "$W/out")"
grep -q "reference case 4711; review due since 2020-01-01" "$W/out" || fail "reference/review not shown: $(cat "$W/out")"
grep -q "review after 2999-12-31" "$W/out" || fail "future review not shown: $(cat "$W/out")"
grep -q "5 holds, 4 active" "$W/out" || fail "hold list count: $(cat "$W/out")"
expect_exit 0 cairn hold list --json
[ "$(count_json short_id "$W/out")" = 5 ] || fail "hold list --json shows $(count_json short_id "$W/out") holds"
grep -q "\"id\":\"$snap_id\"" "$W/out" || fail "snapshot hold missing from JSON"
grep -q '"scope":"path","value":"[^"]*/src/mail/\*\*"' "$W/out" || fail "path hold value in JSON: $(cat "$W/out")"
grep -q '"review_due":true' "$W/out" || fail "no review_due in JSON"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$W/out" || fail "hold list --json is not JSON"

note "item 4: a release is recorded, shown, and refused twice"
expect_exit 0 cairn hold release "${ctl_id:0:10}" --reason "case closed"
expect_exit 0 cairn hold list
grep -q "^${ctl_id:0:8} .* released .*controller" "$W/out" || fail "released hold not shown as released: $(cat "$W/out")"
grep -q "released .* by .*: case closed" "$W/out" || fail "release reason not shown: $(cat "$W/out")"
grep -q "5 holds, 3 active" "$W/out" || fail "hold list count after release: $(cat "$W/out")"
expect_exit 0 cairn hold list --json
python3 -c 'import json,sys
h = [h for h in json.load(open(sys.argv[1])) if h["id"] == sys.argv[2]][0]
assert not h["active"] and h["release"]["reason"] == "case closed", h' "$W/out" "$ctl_id" ||
        fail "release not in JSON: $(cat "$W/out")"
expect_exit 1 cairn hold release "$ctl_id" --reason again
grep -q "already released" "$W/err" || fail "second release: $(cat "$W/err")"
expect_exit 2 cairn hold release "$ctl_id"
expect_exit 1 cairn hold release 0000000000 --reason unknown
grep -q "no hold 0000000000" "$W/err" || fail "unknown hold: $(cat "$W/err")"
expect_exit 1 cairn hold release zz --reason bad
expect_exit 0 cairn hold release "$snap_id" --reason "audit done"

note "item 4: with several controllers a tag or path hold names its controller"
expect_exit 0 cairn controller add second
expect_exit 2 cairn hold add --tag t --reason r
grep -q -- "--controller" "$W/err" || fail "no hint at --controller: $(cat "$W/err")"
expect_exit 0 cairn --controller second hold add --tag t --reason "second's"
expect_exit 0 cairn hold list --controller second --json
[ "$(count_json short_id "$W/out")" = 1 ] || fail "second controller's holds: $(cat "$W/out")"

note "item 4: a hold with a flipped byte is reported and hold list warns"
cp -a "$REPO" "$W/pristine"
obj=$(ls "$REPO/holds/"*/"$tag_id")
xor_byte "$obj" 100 1
expect_exit 0 cairn hold list
grep -q "holds/.*$tag_id is damaged" "$W/err" || fail "damaged hold not reported: $(cat "$W/err")"
grep -q "1 hold object could not be read" "$W/err" || fail "no summary warning: $(cat "$W/err")"
grep -q "nothing is deleted" "$W/err" || fail "warning does not say nothing is deleted: $(cat "$W/err")"
grep -q "$tag_id" "$W/out" && fail "the damaged hold is listed"
if check_exit 1 cairn check; then
        grep -q "holds/.*$tag_id" "$W/out" || fail "check does not name the damaged hold: $(cat "$W/out")"
fi

note "item 4: a hold copied into another controller's folder does not open there"
rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"
second=$(ls "$REPO/holds/" | while read -r d; do [ -e "$REPO/holds/$d/$tag_id" ] || echo "$d"; done | head -1)
[ -n "$second" ] || die "no second controller folder"
cp "$REPO/holds/"*/"$tag_id" "$W/copy" && cp "$W/copy" "$REPO/holds/$second/$tag_id"
expect_exit 0 cairn hold list
grep -q "holds/$second/$tag_id is damaged" "$W/err" || fail "copied hold not reported: $(cat "$W/err")"

note "item 4: a damaged release leaves its hold active (errs towards keeping)"
rm -rf "$REPO" && cp -a "$W/pristine" "$REPO"
for f in "$REPO"/holds/*/*; do
        if head -c 8 "$f" | grep -q CAIRNHRL; then xor_byte "$f" 90 4; fi
done
expect_exit 0 cairn hold list
grep -q "3 hold objects could not be read" "$W/err" || fail "damaged releases not counted: $(cat "$W/err")"
grep -q "^${ctl_id:0:8} .* active " "$W/out" || fail "hold of a damaged release not active: $(cat "$W/out")"
