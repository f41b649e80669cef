#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Issue 8, item 11: no snapshot disappears silently, and a snapshot id is
# bound to its content. Every object under snapshots/ that does not open is
# named by a warning of `snapshots` (which lists the rest, rc 0) and is an
# error of `check` (rc 1): one bit flipped in the header's controller field,
# and in each other header field, the nonce, the body; truncated, empty and
# 10 GiB (sparse) files; a snapshot moved to another controller's folder or
# to a folder of no controller; a stray name. New snapshots (version 3) are
# named by a keyed hash of their body: an older snapshot copied over a newer
# one's name is refused under that name (never shown as the newer one). The
# golden version 1 repository still lists its snapshot and checks clean.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/src"
printf 'one\n' >"$W/src/f"
init_two_controllers
expect_exit 0 cairn --controller default backup "$W/src"
printf 'two\n' >"$W/src/f"
expect_exit 0 cairn --controller default backup "$W/src"
expect_exit 0 cairn --controller other backup "$W/src"
expect_exit 0 cairn --controller default snapshots --json
mapfile -t ids < <(grep -o '"id":"[0-9a-f]\{64\}"' "$W/out" | cut -d'"' -f4)
[ ${#ids[@]} = 2 ] || die "test bug: expected 2 snapshots of default, got ${#ids[@]}"
old=${ids[0]} new=${ids[1]}

note "item 11: snapshots are written as version 3 (named by a keyed hash of their body)"
for f in "$REPO"/snapshots/*/*; do
        [ "$(od -An -tu4 -j8 -N4 -- "$f" | tr -d ' ')" = 3 ] ||
                fail "snapshot $(basename -- "$f") is not of version 3"
done
chmod -R u+w -- "$REPO"
cp -a -- "$REPO" "$W/pristine"



# reported WHAT NAME LISTED: `snapshots` (all controllers) exits 0 and warns
# once about NAME (a path under the repository), listing LISTED snapshots;
# check exits 1 and names NAME.
reported() {
        local what=$1 name=$2 listed=$3
        if check_exit 0 cairn snapshots --json; then
                [ "$(grep -c -F -- "$name" "$W/err")" = 1 ] ||
                        fail "$what: snapshots does not warn once about $name: $(cat "$W/err")"
                [ "$(count_json short_id "$W/out")" = "$listed" ] ||
                        fail "$what: snapshots lists $(count_json short_id "$W/out"), not $listed"
        fi
        if check_exit 1 cairn check; then
                grep -q -F -- "$name" "$W/out" || fail "$what: check does not name $name: $(cat "$W/out")"
        fi
}

f=snapshots/$ctl/$new
note "item 11: one bit flipped in each header field, the nonce and the body"
#       magic version processor controller epoch nonce body
for off in 0 8 12 27 28 30 43 44 48 80; do
        fresh_repo "bit-$off"
        xor_byte "$REPO/$f" "$off" 1
        reported "bit flipped at byte $off" "$f" 2
done
# 2 is a version 1 controller's snapshot, 4 one no cairn writes yet.
for v in 2 4; do
        fresh_repo "version-$v"
        printf "\\00$v" | dd of="$REPO/$f" bs=1 seek=8 conv=notrunc status=none
        reported "version $v" "$f" 2
        grep -q "format version" "$W/out" || fail "version $v: check does not say 'format version': $(cat "$W/out")"
done

note "item 11: truncated, empty and oversized snapshot files"
fresh_repo truncated
truncate -s 60 -- "$REPO/$f"
reported "truncated" "$f" 2
fresh_repo empty
: >"$REPO/$f"
reported "empty" "$f" 2
fresh_repo oversized
truncate -s 10G -- "$REPO/$f"
reported "10 GiB" "$f" 2
grep -q oversized "$W/out" || fail "10 GiB snapshot: check does not say oversized: $(cat "$W/out")"

note "item 11: moved to another controller's folder, to no controller's, a stray name"
fresh_repo moved
mv -- "$REPO/$f" "$REPO/snapshots/$other/$new"
reported "moved to other's folder" "snapshots/$other/$new" 2
fresh_repo no-controller
mkdir -p "$REPO/snapshots/0123456789abcdef0123456789abcdef"
mv -- "$REPO/$f" "$REPO/snapshots/0123456789abcdef0123456789abcdef/$new"
reported "moved to no controller's folder" "snapshots/0123456789abcdef0123456789abcdef/$new" 2
fresh_repo stray
mv -- "$REPO/$f" "$REPO/snapshots/$ctl/not-a-snapshot-id"
reported "stray name" "snapshots/$ctl/not-a-snapshot-id" 2

note "item 11: an older snapshot copied over a newer one's name"
fresh_repo copied-over
cp -- "$REPO/snapshots/$ctl/$old" "$REPO/$f"
reported "old copied over new" "$f" 2
check_exit 1 cairn --controller default ls "$new" || true
grep -q -F "${new:0:8}" "$W/out" && fail "the copied-over snapshot is listed under the new id"
check_exit 1 cairn --controller default restore "$new" --target "$W/t" || true
[ ! -e "$W/t$W/src/f" ] || fail "restore of the new id gave back the old snapshot's content"

note "item 11: the golden version 1 repository lists its snapshot and checks clean"
cp -a -- "$SRCDIR/tests/vectors/repo-v1" "$W/golden"
chmod -R u+w -- "$W/golden"
if check_exit 0 env CAIRN_PASSWORD=cairn-vector "$CAIRN" -r "$W/golden" snapshots --json; then
        [ "$(count_json short_id "$W/out")" = 1 ] || fail "golden v1: snapshots does not list its one snapshot"
        [ ! -s "$W/err" ] || fail "golden v1: snapshots warns: $(cat "$W/err")"
fi
check_exit 0 env CAIRN_PASSWORD=cairn-vector "$CAIRN" -r "$W/golden" check --read-data || true
note "done"
