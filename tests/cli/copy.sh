#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Replicas (issue 9 item 5): init --replica-of makes a repository of its own
# (own key, own password) sharing the source's processor and controllers;
# copy sends each snapshot the replica lacks with only the chunks it lacks,
# byte for byte (same snapshot ids), so a restore from the replica alone
# gives back the same files; a second copy sends nothing, a later one only
# the new data; filters and ids pick snapshots; holds and releases arrive; a
# controller added at the source later is added to the replica; a copy
# killed with SIGKILL leaves a replica that check --read-data passes and the
# next copy finishes; a repository that is not a replica is refused with
# nothing written; a wrong source password fails clearly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

TREECMP=$SRCDIR/tests/integration/treecmp.sh
SRC=$W/src-repo
DST=$W/replica
export CAIRN_FROM_PASSWORD="the source's password"
DST_PASSWORD="the replica's own password"

src() {
        CAIRN_PASSWORD=$CAIRN_FROM_PASSWORD "$CAIRN" -r "$SRC" "$@"
}
dst() {
        CAIRN_PASSWORD=$DST_PASSWORD "$CAIRN" -r "$DST" "$@"
}
in_repo() { # in_repo REPO ARGS...: cairn on another replica (its password is the replica's)
        local repo=$1
        shift
        CAIRN_PASSWORD=$DST_PASSWORD "$CAIRN" -r "$repo" "$@"
}
copy_to() { # copy_to REPO ARGS...: copy --json from $SRC into REPO
        local repo=$1
        shift
        in_repo "$repo" copy --json --from "$SRC" "$@"
}
ids() { # ids CMD...: the ids 'CMD snapshots --json' lists, oldest first, on one line
        expect_exit 0 "$@" snapshots --json
        grep -o '"id":"[0-9a-f]\{64\}"' "$W/out" | cut -d'"' -f4 | tr '\n' ' ' | sed 's/ $//'
}
# files REPO: every object of a local repository, sorted (to see what changed)
files() {
        (cd -- "$1" && find . -type f ! -name '.tmp-*' | sort)
}

data=$W/data
mkdir -p "$data"
make_simple_tree "$data"
rand_file "$data/big-1" $((3 * 1024 * 1024))
expect_exit 0 src init
expect_exit 0 src backup --host alpha --tag one "$data"

note "item 5: init --replica-of makes a repository of its own with the source's controllers"
expect_exit 0 dst init --replica-of "$SRC"
grep -q "a replica of" "$W/out" || fail "init --replica-of said: $(cat "$W/out")"
[ "$(ls "$SRC/controllers")" = "$(ls "$DST/controllers")" ] || die "replica's controllers differ from the source's"
[ "$(ls "$SRC/keys")" != "$(ls "$DST/keys")" ] || die "replica shares the source's key file"
cmp -s "$SRC/config" "$DST/config" && die "replica's config is the source's (it needs its own repo id and master key)"
cmp -s "$SRC/controllers/"* "$DST/controllers/"* && die "controller record not sealed under the replica's own key"
expect_exit 12 env CAIRN_PASSWORD="$CAIRN_FROM_PASSWORD" "$CAIRN" -r "$DST" snapshots
grep -q "wrong password" "$W/err" || fail "the source's password opened the replica"
expect_exit 1 dst init --replica-of "$SRC"
expect_exit 2 dst init --replica-of "$SRC" --processor other
expect_exit 2 in_repo "$W/nope" init --from-password-file /dev/null

note "item 5: a changing tree backed up twice, then copied"
printf 'changed\n' >>"$data/small"
rm -- "$data/sub/nested"
mkdir -p "$data/new-dir"
rand_file "$data/new-dir/big-2" $((2 * 1024 * 1024))
expect_exit 0 src backup --host beta --tag two "$data"
expect_exit 0 copy_to "$DST"
[ "$(json_num snapshots_copied "$W/out")" = 2 ] || die "first copy: $(cat "$W/out")"
first_bytes=$(json_num bytes_sent "$W/out")
[ "$first_bytes" -gt $((5 * 1024 * 1024)) ] || die "first copy sent only $first_bytes bytes"
[ "$(ids src)" = "$(ids dst)" ] || die "the replica's snapshot ids differ from the source's"
expect_exit 0 dst check --read-data

note "item 5: a restore from the replica alone gives back the same files"
for s in $(ids src); do
        expect_exit 0 src restore "$s" --target "$W/r-src-${s:0:8}"
        expect_exit 0 dst restore "$s" --target "$W/r-dst-${s:0:8}"
        bash "$TREECMP" --ignore-root "$W/r-src-${s:0:8}" "$W/r-dst-${s:0:8}" || die "replica restore of ${s:0:8} differs"
done
latest=$(ids src | awk '{print $NF}')
same_tree "$data" "$W/r-dst-${latest:0:8}$data" || die "latest restore from the replica differs from the data"

note "item 5: a second copy sends nothing"
expect_exit 0 copy_to "$DST"
[ "$(json_num snapshots_copied "$W/out")" = 0 ] || fail "second copy copied snapshots: $(cat "$W/out")"
[ "$(json_num snapshots_skipped "$W/out")" = 2 ] || fail "second copy skipped: $(cat "$W/out")"
[ "$(json_num bytes_sent "$W/out")" = 0 ] || fail "second copy sent bytes: $(cat "$W/out")"
[ "$(json_num blobs_sent "$W/out")" = 0 ] || fail "second copy sent blobs: $(cat "$W/out")"

note "item 5: after a third backup, copy sends only the new data"
printf 'third\n' >"$data/sub/third"
expect_exit 0 src backup --host alpha "$data"
expect_exit 0 copy_to "$DST"
[ "$(json_num snapshots_copied "$W/out")" = 1 ] || fail "third copy: $(cat "$W/out")"
third_bytes=$(json_num bytes_sent "$W/out")
[ "$third_bytes" -gt 0 ] && [ "$third_bytes" -lt $((first_bytes / 50)) ] ||
        fail "third copy sent $third_bytes bytes (first: $first_bytes): more than the new data"
expect_exit 0 dst copy --from "$SRC"
grep -q "copied 0 snapshots (3 at the destination already)" "$W/out" || fail "text report: $(cat "$W/out")"

note "item 5: filters and ids pick the snapshots copied"
read -r a1 b2 a3 <<<"$(ids src)"
f=$W/filtered
expect_exit 0 in_repo "$f" init --replica-of "$SRC"
expect_exit 0 copy_to "$f" --host beta
[ "$(ids in_repo "$f")" = "$b2" ] || fail "--host beta copied: $(ids in_repo "$f")"
expect_exit 0 copy_to "$f" --tag one
[ "$(ids in_repo "$f")" = "$a1 $b2" ] || fail "--tag one copied: $(ids in_repo "$f")"
expect_exit 0 copy_to "$f" "${a3:0:8}"
[ "$(json_num snapshots_copied "$W/out")" = 1 ] || fail "copy ID: $(cat "$W/out")"
grep -q "\"copied\":\[\"$a3\"\]" "$W/out" || fail "copy ID copied another: $(cat "$W/out")"
expect_exit 0 in_repo "$f" check --read-data
expect_exit 1 copy_to "$f" ffffffffff
grep -q "no snapshot ffffffffff" "$W/err" || fail "unknown id: $(cat "$W/err")"

note "item 5: holds and releases arrive at the replica"
expect_exit 0 src hold add --snapshot "$a1" --reason "litigation 17"
hold=$(cat "$W/out")
expect_exit 0 src hold add --tag two --reason "audit"
expect_exit 0 src hold release "$hold" --reason "case closed"
expect_exit 0 copy_to "$DST"
[ "$(json_num holds_copied "$W/out")" = 3 ] || fail "holds copied: $(cat "$W/out")"
expect_exit 0 dst hold list
grep -q "2 holds, 1 active" "$W/out" || fail "replica's hold list: $(cat "$W/out")"
grep -q "^${hold:0:8} .* released" "$W/out" || fail "release not at the replica: $(cat "$W/out")"
expect_exit 0 dst forget --keep-none --host beta
expect_exit 0 dst snapshots --host beta
grep -q "1 snapshot" "$W/out" || fail "the replica's forget removed a held snapshot: $(cat "$W/out")"
expect_exit 0 copy_to "$DST"
[ "$(json_num holds_copied "$W/out")" = 0 ] || fail "holds copied twice: $(cat "$W/out")"

note "item 5: a controller added at the source later is added to the replica"
expect_exit 0 src controller add second
printf 'second\n' >"$W/second-file"
expect_exit 0 src --controller second backup "$W/second-file"
expect_exit 0 copy_to "$DST" --controller second
[ "$(json_num controllers_added "$W/out")" = 1 ] || fail "controller not added: $(cat "$W/out")"
[ "$(json_num snapshots_copied "$W/out")" = 1 ] || fail "second controller's snapshot: $(cat "$W/out")"
expect_exit 0 dst controller list
grep -q second "$W/out" || fail "replica lacks controller second: $(cat "$W/out")"
expect_exit 0 dst --controller second dump latest "$W/second-file"
[ "$(cat "$W/out")" = second ] || fail "second controller's file from the replica: $(cat "$W/out")"
expect_exit 0 dst check --read-data

note "item 5: a repository that is not a replica is refused, nothing written"
other=$W/not-a-replica
expect_exit 0 in_repo "$other" init
before=$(files "$other")
expect_exit 1 copy_to "$other"
grep -q "is not a replica of" "$W/err" || fail "non-replica message: $(cat "$W/err")"
grep -q "init --replica-of" "$W/err" || fail "non-replica message says nothing of init --replica-of: $(cat "$W/err")"
[ "$before" = "$(files "$other")" ] || fail "copy wrote into a repository that is not a replica"

note "item 5: a wrong source password fails clearly, nothing written"
before=$(files "$DST")
expect_exit 12 env CAIRN_FROM_PASSWORD=wrong "CAIRN_PASSWORD=$DST_PASSWORD" "$CAIRN" -r "$DST" copy --from "$SRC"
grep -q "cannot open the source repository: wrong password.*CAIRN_FROM_PASSWORD or --from-password-file" "$W/err" ||
        fail "wrong source password: $(cat "$W/err")"
printf '%s\n' "$CAIRN_FROM_PASSWORD" >"$W/pwfile"
expect_exit 0 env -u CAIRN_FROM_PASSWORD "CAIRN_PASSWORD=$DST_PASSWORD" "$CAIRN" -r "$DST" copy --from "$SRC" \
        --from-password-file "$W/pwfile"
expect_exit 0 env -u CAIRN_FROM_PASSWORD CAIRN_FROM_REPOSITORY="$SRC" CAIRN_FROM_PASSWORD_FILE="$W/pwfile" \
        "CAIRN_PASSWORD=$DST_PASSWORD" "$CAIRN" -r "$DST" copy
expect_exit 2 dst copy
grep -q -- "--from" "$W/err" || fail "copy without a source: $(cat "$W/err")"
[ "$before" = "$(files "$DST")" ] || fail "failed or empty copies wrote into the replica"

note "item 5: a copy killed with SIGKILL leaves a replica check --read-data passes; the next finishes it"
mkdir -p "$W/large"
for i in 1 2 3 4 5; do rand_file "$W/large/f$i" $((24 * 1024 * 1024)); done
expect_exit 0 src --controller default backup --host large "$W/large"
k=$W/killed
expect_exit 0 in_repo "$k" init --replica-of "$SRC"
expect_exit 0 copy_to "$k" --host alpha
packs() {
        { find "$k/data" -type f ! -name '.tmp-*' 2>/dev/null || true; } | wc -l
}
base=$(packs)
CAIRN_PASSWORD=$DST_PASSWORD "$CAIRN" -r "$k" copy --from "$SRC" --host large >"$W/killed.out" 2>"$W/killed.err" &
pid=$!
waited=0
while [ "$(packs)" -lt $((base + 2)) ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt 3000 ]; do
        sleep 0.01
        waited=$((waited + 1))
done
kill -KILL "$pid" 2>/dev/null || true
rc=0
wait "$pid" || rc=$?
[ "$rc" = 137 ] || die "the copy was not killed mid-way (exit $rc): $(cat "$W/killed.out" "$W/killed.err")"
note "killed with $(($(packs) - base)) new pack(s) at the replica"
expect_exit 0 in_repo "$k" snapshots --host large
grep -q "^0 snapshots" "$W/out" || fail "a killed copy left the snapshot before its data: $(cat "$W/out")"
expect_exit 0 in_repo "$k" check --read-data
expect_exit 0 copy_to "$k" --host large
[ "$(json_num snapshots_copied "$W/out")" = 1 ] || fail "rerun after the kill: $(cat "$W/out")"
rerun=$(json_num bytes_sent "$W/out")
[ "$rerun" -lt $((110 * 1024 * 1024)) ] || fail "rerun after the kill sent $rerun bytes: all of it again"
expect_exit 0 in_repo "$k" check --read-data
expect_exit 0 in_repo "$k" --controller default restore latest --target "$W/r-large"
same_tree "$W/large" "$W/r-large$W/large" || fail "restore after a killed and finished copy differs"

note "item 5: a source blob that fails authentication is never copied"
big=$(find "$SRC/data" -type f -size +8M | head -n 1)
[ -n "$big" ] || die "no large pack in the source to damage"
xor_byte "$big" $((4 * 1024 * 1024)) 1
fresh=$W/fresh
expect_exit 0 in_repo "$fresh" init --replica-of "$SRC"
expect_exit 1 copy_to "$fresh" --host large
grep -q "fails authentication in the source" "$W/err" || fail "damaged source blob: $(cat "$W/err")"
expect_exit 0 in_repo "$fresh" snapshots --host large
grep -q "^0 snapshots" "$W/out" || fail "a snapshot with a damaged blob was copied: $(cat "$W/out")"
expect_exit 0 in_repo "$fresh" check --read-data
