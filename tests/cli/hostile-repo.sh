#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A repository in a hostile or unlucky place (issue 8):
#   item 1: with several controllers no verb guesses whose data it is:
#           backup and 'latest' exit 2 naming the controllers until
#           --controller or CAIRN_CONTROLLER says; an id needs none.
#   item 8: planted or damaged key files (unknown version, zero cost, 4 GiB
#           x 64 passes, oversized, garbage, another repository's key with
#           the same password) are skipped with one warning each, the real
#           key opens, check names them, --key-hint puts a key first.
#   item 9: a repository that lost its config is "damaged", not "no
#           repository" (exit 1, not 10), and init refuses any location
#           that holds anything.
#   item 10: of two inits racing on one path exactly one wins; its password
#           opens with nothing skipped; the loser says another init won.
#           Stray controller records are skipped, not fatal.
#   item 16: an oversized key file is called that; a directory or /dev/zero
#           as password file is refused at once, a FIFO nobody writes to
#           ends with a message after 10 s, a pipe with the password works.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

# patch FILE OFFSET BYTES...: overwrite bytes (given as hex pairs) in place.
patch() {
        local f=$1 off=$2 esc="" b
        shift 2
        for b in "$@"; do esc+="\\x$b"; done
        # shellcheck disable=SC2059
        printf "$esc" | dd of="$f" bs=1 seek="$off" conv=notrunc status=none
}

# stderr lines naming $1
lines_naming() {
        grep -c -F -- "$1" "$W/err" || true
}

mkdir -p "$W/src"

# ---- item 1
note "item 1: with several controllers, backup and 'latest' need --controller"
expect_exit 0 cairn init
printf 'one controller\n' >"$W/src/f"
expect_exit 0 cairn backup "$W/src"
expect_exit 0 cairn dump latest "$W/src/f"
expect_exit 0 cairn controller add acme
printf 'whose?\n' >"$W/src/f"
if check_exit 2 cairn backup "$W/src"; then
        grep -q acme "$W/err" && grep -q default "$W/err" ||
                fail "item 1: the refusal does not name the controllers: $(cat "$W/err")"
        grep -q -- --controller "$W/err" || fail "item 1: the refusal does not say --controller: $(cat "$W/err")"
fi
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 1 ] || fail "item 1: a backup without --controller saved a snapshot"
printf 'for acme\n' >"$W/src/f"
expect_exit 0 cairn --controller acme backup "$W/src"
printf 'for default\n' >"$W/src/f"
expect_exit 0 env CAIRN_CONTROLLER=default "$CAIRN" -r "$REPO" backup "$W/src"
check_exit 2 cairn ls latest || true
check_exit 2 cairn dump latest "$W/src/f" || true
check_exit 2 cairn restore latest --target "$W/r1" || true
[ ! -e "$W/r1" ] || fail "item 1: restore latest without --controller restored something"
expect_exit 0 cairn --controller acme dump latest "$W/src/f"
[ "$(cat "$W/out")" = "for acme" ] || fail "item 1: acme's latest is '$(cat "$W/out")'"
expect_exit 0 env CAIRN_CONTROLLER=default "$CAIRN" -r "$REPO" dump latest "$W/src/f"
[ "$(cat "$W/out")" = "for default" ] || fail "item 1: default's latest is '$(cat "$W/out")'"
expect_exit 0 cairn --controller acme snapshots --json
acme_id=$(grep -o '"id":"[0-9a-f]*"' "$W/out" | head -n 1 | cut -d'"' -f4)
[ -n "$acme_id" ] || die "no snapshot id in: $(cat "$W/out")"
expect_exit 0 cairn dump "${acme_id:0:8}" "$W/src/f"
[ "$(cat "$W/out")" = "for acme" ] || fail "item 1: an id without --controller gave '$(cat "$W/out")'"
expect_exit 0 cairn snapshots
grep -q acme "$W/out" && grep -q default "$W/out" || fail "item 1: snapshots does not list both: $(cat "$W/out")"
expect_exit 0 cairn controller list --json
grep -q '"default":true' "$W/out" && fail "item 1: with two controllers one is still called default: $(cat "$W/out")"

note "item 16: a directory or a device as password file is refused at once"
for f in /dev/zero "$W/src"; do
        check_exit 2 timeout 10 "$CAIRN" -r "$REPO" --password-file "$f" snapshots || true
        grep -q "give a regular file or a pipe" "$W/err" || fail "item 16: $f: $(cat "$W/err")"
done
note "item 16: a FIFO nobody writes to ends with a message, not a hang"
mkfifo "$W/fifo"
check_exit 2 env -u CAIRN_PASSWORD CAIRN_PASSWORD_FILE="$W/fifo" timeout 30 "$CAIRN" -r "$REPO" snapshots || true
grep -q "nothing was written to the .*password FIFO" "$W/err" || fail "item 16: idle FIFO: $(cat "$W/err")"
note "item 16: a pipe with the password works (process substitution, a FIFO with a writer)"
check_exit 0 timeout 30 "$CAIRN" -r "$REPO" --password-file <(printf '%s\n' "$CAIRN_PASSWORD") snapshots || true
(printf '%s\n' "$CAIRN_PASSWORD" >"$W/fifo") &
check_exit 0 env -u CAIRN_PASSWORD CAIRN_PASSWORD_FILE="$W/fifo" timeout 30 "$CAIRN" -r "$REPO" snapshots || true
wait

# ---- item 9
note "item 9: a lost config is a damaged repository, and init will not run over it"
R9="$W/r9"
cp -a -- "$REPO" "$R9"
listing() { (cd -- "$R9" && find . -type f | sort && find . -type f -print0 | sort -z | xargs -0 cat | cksum); }
mv -- "$R9/config" "$W/config.saved"
before=$(listing)
if check_exit 1 "$CAIRN" -r "$R9" snapshots; then
        grep -q config "$W/err" && grep -qi damaged "$W/err" ||
                fail "item 9: the message does not say config is missing: $(cat "$W/err")"
        grep -q "create one" "$W/err" && fail "item 9: a damaged repository is called absent: $(cat "$W/err")"
fi
if check_exit 1 "$CAIRN" -r "$R9" init; then
        grep -q "keys/" "$W/err" || fail "item 9: init does not say what is there: $(cat "$W/err")"
fi
[ "$before" = "$(listing)" ] || fail "item 9: init changed the location"
[ ! -e "$R9/config" ] || fail "item 9: init wrote a config over a repository that lost its own"
mv -- "$W/config.saved" "$R9/config"
check_exit 0 "$CAIRN" -r "$R9" --controller acme dump latest "$W/src/f" || true
[ "$(cat "$W/out")" = "for acme" ] || fail "item 9: after config came back: '$(cat "$W/out")'"

mkdir "$W/foreign" "$W/empty"
printf 'x\n' >"$W/foreign/notes"
check_exit 1 "$CAIRN" -r "$W/foreign" init || true
grep -q notes "$W/err" || fail "item 9: init into a used directory does not name what is there: $(cat "$W/err")"
[ ! -e "$W/foreign/config" ] || fail "item 9: init wrote into a directory that holds a file"
expect_exit 0 "$CAIRN" -r "$W/empty" init

# ---- item 10
note "item 10: of two inits racing on one path exactly one wins"
for i in $(seq 1 20); do
        d="$W/race/$i"
        for who in alpha bravo; do
                (
                        rc=0
                        CAIRN_PASSWORD="$who $i" "$CAIRN" -r "$d" init >/dev/null 2>"$W/$who.err" || rc=$?
                        echo "$rc" >"$W/$who.rc"
                ) &
        done
        wait
        a=$(cat "$W/alpha.rc") b=$(cat "$W/bravo.rc")
        if [ "$a" = 0 ] && [ "$b" != 0 ]; then
                win="alpha $i" lose="bravo $i" err="$W/bravo.err"
        elif [ "$b" = 0 ] && [ "$a" != 0 ]; then
                win="bravo $i" lose="alpha $i" err="$W/alpha.err"
        else
                fail "item 10: round $i: init exit codes $a and $b"
                continue
        fi
        # The loser either lost the race itself or started after the winner
        # had finished; both must say so, neither may leave anything behind.
        grep -q -e "same time" -e "already holds a cairn repository" "$err" ||
                fail "item 10: round $i: the loser says: $(cat "$err")"
        if check_exit 0 env CAIRN_PASSWORD="$win" "$CAIRN" -r "$d" snapshots; then
                [ ! -s "$W/err" ] || fail "item 10: round $i: the winner's open skipped something: $(cat "$W/err")"
        fi
        check_exit 12 env CAIRN_PASSWORD="$lose" "$CAIRN" -r "$d" snapshots || true
        [ "$(ls -- "$d/keys" | wc -l)" = 1 ] && [ "$(ls -- "$d/controllers" | wc -l)" = 1 ] ||
                fail "item 10: round $i: $(ls -- "$d/keys" "$d/controllers")"
done

note "item 10: a stray controller record is skipped and reported, not fatal"
R10="$W/r10"
cp -a -- "$REPO" "$R10"
cp -- "$W/race/1/controllers/"* "$R10/controllers/"
printf 'junk' >"$R10/controllers/ffffffffffffffffffffffffffffffff"
check_exit 0 "$CAIRN" -r "$R10" --controller acme dump latest "$W/src/f" || true
[ "$(cat "$W/out")" = "for acme" ] || fail "item 10: with stray controllers: '$(cat "$W/out")'"
[ "$(grep -c "controller record" "$W/err")" = 2 ] || fail "item 10: strays not reported: $(cat "$W/err")"
check_exit 1 "$CAIRN" -r "$R10" check || true
grep -q ffffffffffffffffffffffffffffffff "$W/out" || fail "item 10: check does not name the stray: $(cat "$W/out")"
# ---- item 8 and 16: key files
note "item 8: bad key files are skipped and reported; the real one opens"
real_id=$(basename -- "$(ls -d -- "$REPO"/keys/*)")
real="$REPO/keys/$real_id"
z=0000000000000000000000000000
cp -- "$real" "$REPO/keys/${z}0001" && patch "$REPO/keys/${z}0001" 8 02 00 00 00             # version 2
cp -- "$real" "$REPO/keys/${z}0002" && patch "$REPO/keys/${z}0002" 16 00 00 00 00 00 00 00 00 # opslimit 0
cp -- "$real" "$REPO/keys/${z}0003" && patch "$REPO/keys/${z}0003" 24 00 00 00 00 00 00 00 00 # memlimit 0
cp -- "$real" "$REPO/keys/${z}0004" &&                                                         # 64 x 4 GiB
        patch "$REPO/keys/${z}0004" 16 40 00 00 00 00 00 00 00 00 00 00 00 01 00 00 00
cp -- "$real" "$REPO/keys/${z}0005" && truncate -s 5120 "$REPO/keys/${z}0005"                 # 5 KiB
printf 'garbage' >"$REPO/keys/${z}0006"
bad="${z}0001 ${z}0002 ${z}0003 ${z}0004 ${z}0005 ${z}0006"

check_exit 0 cairn snapshots || true
for k in $bad; do
        [ "$(lines_naming "keys/$k")" = 1 ] || fail "item 8: no single warning for keys/$k: $(cat "$W/err")"
done
[ "$(lines_naming "$real_id")" = 0 ] || fail "item 8: the real key is warned about: $(cat "$W/err")"
grep "keys/${z}0005" "$W/err" | grep -q oversized || fail "item 16: the 5 KiB key file is not called oversized"
grep -qi "argument list\|invalid argument\|upgrade" "$W/err" && fail "item 8/16: misleading words: $(cat "$W/err")"
expect_exit 0 cairn --controller acme dump latest "$W/src/f"
[ "$(cat "$W/out")" = "for acme" ] || fail "item 8: with bad key files dump gives '$(cat "$W/out")'"

if check_exit 12 env CAIRN_PASSWORD=wrong "$CAIRN" -r "$REPO" snapshots; then
        [ "$(grep -c warning "$W/err")" = 6 ] || fail "item 8: wrong password: not 6 warnings: $(cat "$W/err")"
        tail -n 1 "$W/err" | grep -q "wrong password" || fail "item 8: wrong password not said last: $(cat "$W/err")"
fi
if check_exit 1 cairn check; then
        for k in $bad; do
                grep -q "keys/$k" "$W/out" || fail "item 8: check does not name keys/$k: $(cat "$W/out")"
        done
fi
expect_exit 0 cairn key list --json
[ "$(count_json created "$W/out")" = 1 ] || fail "item 8: key list shows a bad key file: $(cat "$W/out")"

note "item 8: a key of another repository with this password; --key-hint"
mkdir "$W/other"
expect_exit 0 "$CAIRN" -r "$W/other/repo" init
cp -- "$W/other/repo/keys/"* "$REPO/keys/${z}0000"     # sorts first, costs the same
expect_exit 0 cairn snapshots
grep "keys/${z}0000" "$W/err" | grep -q "another repository" ||
        fail "item 8: the foreign key is not reported: $(cat "$W/err")"
expect_exit 0 cairn --key-hint "$real_id" snapshots
[ "$(lines_naming "keys/${z}0000")" = 0 ] || fail "item 8: --key-hint did not put the real key first: $(cat "$W/err")"
expect_exit 0 env CAIRN_KEY_HINT="${real_id:0:8}" "$CAIRN" -r "$REPO" snapshots
[ "$(lines_naming "keys/${z}0000")" = 0 ] || fail "item 8: CAIRN_KEY_HINT did not put the real key first"
expect_exit 0 cairn --key-hint ffff snapshots
grep -q "hint" "$W/err" || fail "item 8: a hint that names nothing is not reported: $(cat "$W/err")"

for k in ${z}0000 $bad; do
        expect_exit 0 cairn key remove "$k"
done
expect_exit 0 cairn snapshots
[ ! -s "$W/err" ] || fail "item 8: warnings after removing the bad key files: $(cat "$W/err")"

note "done"
