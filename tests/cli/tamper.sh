#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# One flipped byte in the middle of the biggest pack: check --read-data
# exits 1 and names the snapshot and the file(s) that lost data; restoring
# the whole snapshot reports exactly those files as errors (exit 1) and
# restores every other file identical to the source.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

MIB=$((1024 * 1024))
src=$W/src
mkdir -p "$src/x" "$src/y"
for i in 1 2 3 4 5 6 7 8; do
        d=x
        [ $((i % 2)) = 0 ] && d=y
        rand_file "$src/$d/file-$i" $((3 * MIB + i * 1000))
done
printf 'tiny\n' >"$src/tiny"
expect_exit 0 cairn init
expect_exit 0 cairn backup --json "$src"
snap=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
short=${snap:0:8}

pack=$(find "$REPO/data" -type f ! -name '.tmp-*' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
[ -n "$pack" ] || die "no pack in the repository"
size=$(stat -c %s -- "$pack")
off=$((size / 2))
byte=$(od -An -tu1 -j "$off" -N 1 -- "$pack" | tr -d ' ')
chmod u+w -- "$pack"
printf '%b' "\\0$(printf '%03o' $((byte ^ 0x5a)))" | dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
[ "$(od -An -tu1 -j "$off" -N 1 -- "$pack" | tr -d ' ')" != "$byte" ] || die "test bug: the byte did not change"
note "flipped byte $off of $(basename -- "$pack") ($size bytes)"

# Structure only: may pass (no data is read).
rc=0
cairn check >/dev/null 2>&1 || rc=$?
note "check without --read-data exited $rc"

expect_exit 1 cairn check --read-data
cp -- "$W/out" "$W/check.out"
cat "$W/check.out" "$W/err" >"$W/check.all"
grep -q "$short" "$W/check.all" || fail "check --read-data does not name snapshot $short: $(cat "$W/check.all")"
affected=()
while IFS= read -r f; do
        grep -qF -- "$f" "$W/check.all" && affected+=("$f")
done < <(find "$src" -type f | sort)
[ ${#affected[@]} -ge 1 ] || fail "check --read-data names no affected file: $(cat "$W/check.all")"
note "check names: ${affected[*]-}"

# Restore: the affected files are errors, the rest is exact.
expect_exit 1 cairn restore latest --target "$W/restored"
errored=()
while IFS= read -r f; do
        grep -qF -- "$f" "$W/err" && errored+=("$f")
done < <(find "$src" -type f | sort)
[ ${#errored[@]} -ge 1 ] || fail "restore reports no file as damaged: $(cat "$W/err")"
[ "${errored[*]-}" = "${affected[*]-}" ] ||
        fail "restore reports (${errored[*]-}) but check named (${affected[*]-})"
while IFS= read -r f; do
        case " ${errored[*]-} " in
        *" $f "*) continue ;;
        esac
        cmp -- "$f" "$W/restored$f" || fail "undamaged file $f did not restore identically"
        [ "$(stat -c '%a %Y' -- "$f")" = "$(stat -c '%a %Y' -- "$W/restored$f")" ] ||
                fail "undamaged file $f restored with other mode or mtime"
done < <(find "$src" -type f | sort)
note "done"
