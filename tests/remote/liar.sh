#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A lying server (issue 14 item 2), S3 path: tests/servers/fault-proxy.py
# sits between cairn and Swift's s3api on 127.0.0.1 and answers GETs of
# chosen objects with an oversized body, a truncated body, an endless body,
# the bytes of another object (an older snapshot served under a newer
# snapshot's name, an older index under a newer one's) and the objects of
# another repository. For each, restore, check and snapshots through the
# proxy must end in a clear error (exit 1, a message naming the object) or
# refuse the replay, never crash, stay far below the lied size in memory
# (/usr/bin/time's maximum resident set), and never leave a wrong byte in
# the restore target (every restored file equals its source, or is absent).
# Skips (77) when Swift is not installed.
#
# Meson passes CAIRN and SRCDIR.
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$(dirname -- "$0")/../cli/lib.sh"
# shellcheck source=../servers/swift.sh
. "$SRCDIR/tests/servers/swift.sh"

FAULT_PROXY=$SRCDIR/tests/servers/fault-proxy.py
BUCKET=cairn-liar
# The most a lied-to command may hold, in KiB: the lies send 512 MiB or an
# endless stream; honest runs of these small repositories stay near 30 MiB.
RSS_MAX_KIB=${RSS_MAX_KIB:-131072}
# Under AddressSanitizer (.ci/run's second pass sets ASAN_OPTIONS) shadow
# memory and the quarantine add to every byte held: the bounds scale by 4,
# still far below the 512 MiB a lie offers.
RSS_SCALE=1
[ -n "${ASAN_OPTIONS:-}" ] && RSS_SCALE=4
RSS_MAX_KIB=$((RSS_MAX_KIB * RSS_SCALE))

why=$(swift_check) || skip "$why"
at_exit swift_stop
swift_start "$W/swift" || die "cannot start Swift"
swift_make_bucket "$BUCKET" || die "cannot make bucket $BUCKET"

unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_SHARED_CREDENTIALS_FILE \
        CAIRN_S3_ADDRESSING CAIRN_GCS_ENDPOINT CAIRN_CA_FILE CAIRN_RETRY_SECONDS
export HOME=$W/home
mkdir -p "$HOME"
export AWS_ACCESS_KEY_ID=$SWIFT_KEY_ID AWS_SECRET_ACCESS_KEY=$SWIFT_SECRET
export CAIRN_S3_ENDPOINT=$SWIFT_S3_ENDPOINT
# a lie that looks transient is retried this long, then given up
export CAIRN_RETRY_SECONDS=4

# ---- two snapshots in one repository, one in another
REPO="s3://$BUCKET/liar"
OTHER="s3://$BUCKET/other"
mkdir -p "$W/v1" "$W/v2"
rand_file "$W/v1/big" $((3 * 1024 * 1024 + 7))
rand_file "$W/v1/small" 5000
echo "version one" >"$W/v1/text"
cp -a "$W/v1/." "$W/v2/"
rand_file "$W/v2/new" 70000
echo "version two" >"$W/v2/text"
expect_exit 0 cairn init
expect_exit 0 cairn backup "$W/v1"
expect_exit 0 cairn backup "$W/v2"
# shellcheck disable=SC2119
read -r s1 s2 <<<"$(snapshot_ids)"
[ -n "$s2" ] || die "two snapshots expected, got '$s1 $s2'"
expect_exit 0 "$CAIRN" -r "$OTHER" init
expect_exit 0 "$CAIRN" -r "$OTHER" backup "$W/v1"

# ---- the proxy; an honest pass through it records the objects' bodies
P=$W/proxy
mkdir -p "$P"
PROXY_PORT=$(srv_free_port) || die "no free port"
/usr/bin/python3 "$FAULT_PROXY" "$PROXY_PORT" "$SWIFT_S3_PORT" "$P" 2>>"$P/log" &
PROXY_PID=$!
srv_on_exit "srv_stop $PROXY_PID"
at_exit "cp $P/log /tmp/liar-proxy.log"
srv_wait 30 test -e "$P/ready" || die "the fault proxy did not start"
LIAR="http://127.0.0.1:$PROXY_PORT"

touch "$P/record"
for r in "$REPO" "$OTHER"; do
        expect_exit 0 env CAIRN_S3_ENDPOINT="$LIAR" "$CAIRN" -r "$r" snapshots
        expect_exit 0 env CAIRN_S3_ENDPOINT="$LIAR" "$CAIRN" -r "$r" check --read-data
done
rm -f "$P/record"
# object names, as the proxy saw them (bucket/liar/snapshots/CTL/ID)
body_of() { # body_of REPO-PREFIX KIND [ID]: the recorded body of one object
        local f
        f=$(find "$P/bodies" -name "$BUCKET+$1+$2*${3:-}" | sort | head -n 1)
        [ -n "$f" ] || die "no recorded body for $1 $2 ${3:-}"
        echo "$f"
}
snap1=$(body_of liar snapshots "$s1")
snap2=$(body_of liar snapshots "$s2")
other_snap=$(body_of other snapshots)
name_of() { basename "$1" | sed "s/^$BUCKET+//; s/+/\\//g"; }
note "snapshots: $(name_of "$snap1") then $(name_of "$snap2")"

# liar NAME RSS_MAX CMD...: run cairn CMD... through the proxy with the lies
# of $P/lie; output in $W/out and $W/err. It must not crash, must hold less
# than RSS_MAX KiB, must exit 0 or 1, and must name the object lied about
# (its id's first 12 hex digits) when it failed or warned, or say which
# entries were not restored, or send to 'cairn check --read-data' (which
# names it); it sets $rc, and
# $lied to the name of the last object lied about ("" if none).
liar() {
        local name=$1 rss_max=$2 rss before after
        shift 2
        before=$(wc -l <"$P/lied" 2>/dev/null || echo 0)
        rc=0
        env CAIRN_S3_ENDPOINT="$LIAR" /usr/bin/time -f %M -o "$W/rss" "$CAIRN" -r "$REPO" "$@" \
                >"$W/out" 2>"$W/err" || rc=$?
        rss=$(tail -n 1 "$W/rss")
        after=$(wc -l <"$P/lied" 2>/dev/null || echo 0)
        lied=""
        [ "$after" = "$before" ] || lied=$(tail -n 1 "$P/lied" | sed 's/^[a-z]* //; s/?.*//')
        note "$name: cairn $1 -> exit $rc, max RSS $rss KiB, lied about ${lied:-nothing}: $(head -c 240 "$W/err" | tr '\n' ' ')"
        [ "$rc" -lt 128 ] || fail "$name: cairn $1 crashed (exit $rc): $(cat "$W/err")"
        [ "$rc" -le 1 ] || fail "$name: cairn $1 exited $rc: $(head -c 2000 "$W/err")"
        [ "$rss" -lt "$rss_max" ] || fail "$name: cairn $1 held $rss KiB (limit $rss_max)"
        grep -q "Argument list too long\|Protocol error" "$W/err" &&
                fail "$name: cairn $1 says a bare errno: $(head -c 1000 "$W/err")"
        if [ -n "$lied" ] && { [ "$rc" != 0 ] || [ -s "$W/err" ]; }; then
                local id=${lied##*/}
                cat "$W/out" "$W/err" | grep -q "${id:0:12}\|not restored\|run 'cairn check --read-data'" ||
                        fail "$name: cairn $1 does not name ${id:0:12}: $(head -c 1000 "$W/err")"
        fi
        return 0
}
# restore_right NAME: restore s2 through the liar into a fresh $W/t; a
# success restores v2 exactly, a failure leaves no file that differs from
# its source
restore_right() {
        local f rel t=$W/t
        rm -rf "$t"
        liar "$1" "${2:-$RSS_MAX_KIB}" restore "$s2" --target "$t"
        if [ "$rc" = 0 ]; then
                same_tree "$W/v2" "$t$W/v2" || fail "$1: restore succeeded with a tree that differs"
                return 0
        fi
        grep -q "not restored\|$s2\|${s2:0:12}\|${lied##*/}\|run 'cairn check --read-data'" "$W/err" ||
                fail "$1: restore failed without a clear message: $(head -c 1000 "$W/err")"
        [ -d "$t$W/v2" ] || return 0
        while IFS= read -r -d '' f; do
                rel=${f#"$t$W/v2"}
                cmp -s "$f" "$W/v2$rel" || fail "$1: restored $rel differs from its source"
        done < <(find "$t$W/v2" -type f -print0)
}
lie() { # lie MODE PATTERN [FILE]: the proxy's only lie from now on
        echo "$*" >"$P/lie"
}

# ---- bodies that are too long, too short or never end, on every kind of object
for mode in oversize truncate endless; do
        for kind in snapshots index data; do
                lie "$mode" "/liar/$kind/"
                label="item 2: $mode body of $kind/"
                # Whole-object reads of metadata (no authenticated size to go
                # by) may fill the format's cap of 256 MiB on an endless body
                # (no Content-Length); everything else stays far below.
                max=$RSS_MAX_KIB
                [ "$mode" = endless ] && [ "$kind" != data ] && max=$((320 * 1024 * RSS_SCALE))
                rm -f "$P/endless"
                for cmd in snapshots "check --read-data" "ls $s2"; do
                        # shellcheck disable=SC2086
                        liar "$label" "$max" $cmd
                done
                restore_right "$label" "$max"
                if [ "$mode" = endless ] && [ -s "$P/endless" ]; then
                        grep -q "^finished" "$P/endless" &&
                                fail "$label: cairn read an endless body to its end: $(cat "$P/endless")"
                fi
        done
done

# ---- replays: an older snapshot under the newer one's name, an older index
# under a newer one's, and another repository's snapshot, packs and config
s2_name=$(name_of "$snap2")
lie replay "/$s2_name" "$snap1"
label="item 2: replay of snapshot ${s1:0:12} as ${s2:0:12}"
liar "$label" "$RSS_MAX_KIB" snapshots --json
grep -q "${s2:0:12}" "$W/err" || fail "$label: no warning names the replayed snapshot: $(cat "$W/err")"
grep -q "$s2" "$W/out" && fail "$label: the replayed snapshot is listed: $(cat "$W/out")"
[ "$(grep -o "$s1" "$W/out" | wc -l)" -le 1 ] || fail "$label: the older snapshot is listed twice"
restore_right "$label"
[ "$rc" = 1 ] || fail "$label: restore of the replayed snapshot succeeded"
[ -e "$W/t$W/v1" ] || [ ! -e "$W/t$W/v2/new" ] || fail "$label: the restore wrote v1's tree"

mapfile -t indexes < <(find "$P/bodies" -name "$BUCKET+liar+index+*" | sort)
[ "${#indexes[@]}" -ge 2 ] || die "two index objects expected, recorded ${#indexes[@]}"
lie replay "/$(name_of "${indexes[1]}")" "${indexes[0]}"
label="item 2: replay of index ${indexes[0]##*+} as ${indexes[1]##*+}"
liar "$label" "$RSS_MAX_KIB" check --read-data
[ "$rc" = 1 ] || fail "$label: check passed with a replayed index"
restore_right "$label"

lie replay "/liar/snapshots/" "$other_snap"
label="item 2: another repository's snapshot"
liar "$label" "$RSS_MAX_KIB" snapshots --json
grep -q '"short_id"' "$W/out" && fail "$label: a snapshot is listed: $(cat "$W/out")"
restore_right "$label"
[ "$rc" = 1 ] || fail "$label: restore succeeded"

other_pack=$(body_of other data)
lie replay "/liar/data/" "$other_pack"
label="item 2: another repository's pack"
liar "$label" "$RSS_MAX_KIB" check --read-data
[ "$rc" = 1 ] || fail "$label: check --read-data passed"
restore_right "$label"
[ "$rc" = 1 ] || fail "$label: restore succeeded"

lie replay "/liar/config" "$(body_of other config)"
label="item 2: another repository's config"
liar "$label" "$RSS_MAX_KIB" snapshots
[ "$rc" = 1 ] || fail "$label: snapshots opened the repository"
restore_right "$label"
[ "$rc" = 1 ] || fail "$label: restore succeeded"
rm -f "$P/lie"
# The lies leave the snapshots as they were. (check --read-data through the
# lies recorded the chunk copies it found short or foreign as damaged, as it
# must for a pack that reads so: docs/FORMAT.md "Damage records".)
expect_exit 0 env CAIRN_S3_ENDPOINT="$LIAR" "$CAIRN" -r "$REPO" snapshots
for id in "$s1" "$s2"; do
        grep -q "${id:0:8}" "$W/out" || fail "the honest listing lost snapshot ${id:0:8}: $(cat "$W/out")"
done
note "ok"
