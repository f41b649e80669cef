#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Issue 8, item 5: damage heals. After a pack is damaged, `check` records the
# unreadable chunk copies and the next plain backup (files unchanged since
# its parent) stores good copies; without a check, `backup --force` reads
# back every chunk it would reuse and stores good copies of those that fail.
# Either way the new snapshot restores byte-identical and `check --read-data`
# finds nothing that affects it. Variations: a flipped byte in a pack, a
# flipped byte in every pack, a truncated pack, a 10 GiB pack, a deleted pack.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

KIB=1024
src=$W/src
mkdir -p "$src/a" "$src/b"
for i in 1 2 3 4 5 6; do
        d=a
        [ $((i % 2)) = 0 ] && d=b
        rand_file "$src/$d/file-$i" $((700 * KIB + i))
done
printf 'tiny\n' >"$src/tiny"
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
expect_exit 0 cairn --controller default backup "$src"
# A second pack, so that "every pack" means more than one.
rand_file "$src/b/file-7" $((900 * KIB))
expect_exit 0 cairn --controller default backup "$src"
chmod -R u+w -- "$REPO"
cp -a -- "$REPO" "$W/pristine"


biggest_pack() {
        find "$REPO/data/$ctl" -type f -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-
}


# healed WHAT BACKUP-ARGS...: the backup exits 0, its snapshot restores
# byte-identical, and check --read-data names nothing of it.
healed() {
        local what=$1 snap
        shift
        check_exit 0 cairn --controller default backup --json "$@" "$src" || return 0
        cp -- "$W/err" "$W/backup.err"
        snap=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
        rm -rf -- "$W/t"
        if check_exit 0 cairn --controller default restore "$snap" --target "$W/t"; then
                same_tree "$src" "$W/t$src" || fail "$what: the new snapshot restores other bytes"
        else
                fail "$what: the new snapshot does not restore: $(cat "$W/err")"
        fi
        cairn check --read-data >"$W/check.out" 2>&1 || true
        grep -q "snapshot ${snap:0:8}" "$W/check.out" &&
                fail "$what: check --read-data finds the new snapshot affected: $(cat "$W/check.out")"
        return 0
}

note "item 5: a flipped byte in a pack; check --read-data, then a plain backup"
fresh_repo flip-check
pack=$(biggest_pack)
xor_byte "$pack" $(($(stat -c %s -- "$pack") / 2)) 0x5a
expect_exit 1 cairn check --read-data
ls "$REPO/damage/$ctl/"* >/dev/null 2>&1 || fail "check --read-data recorded no damage under damage/$ctl/"
healed "flipped byte, check, plain backup"
# The damaged copy is replaced for every snapshot: the old ones restore too.
expect_exit 0 cairn --controller default snapshots --json
first=$(grep -o '"id":"[0-9a-f]*"' "$W/out" | head -n 1 | cut -d'"' -f4)
rm -rf -- "$W/t"
check_exit 0 cairn --controller default restore "$first" --target "$W/t" || true

note "item 5: the same damage, no check: backup --force"
fresh_repo flip-force
pack=$(biggest_pack)
xor_byte "$pack" $(($(stat -c %s -- "$pack") / 2)) 0x5a
healed "flipped byte, backup --force" --force
grep -q "data/$ctl/.* is damaged" "$W/backup.err" ||
        fail "backup --force does not name the damaged pack: $(cat "$W/backup.err")"
cairn check --read-data >/dev/null 2>&1 && note "check --read-data is clean after backup --force"
# A plain backup afterwards neither fails nor undoes it.
healed "flipped byte, backup --force, then a plain backup"

note "item 5: a flipped byte in every pack: backup --force"
fresh_repo flip-every
while IFS= read -r p; do
        xor_byte "$p" $(($(stat -c %s -- "$p") / 3)) 0x5a
done < <(find "$REPO/data/$ctl" -type f)
healed "flipped byte in every pack, backup --force" --force

note "item 5: a truncated pack: check, then a plain backup"
fresh_repo truncated
pack=$(biggest_pack)
truncate -s $(($(stat -c %s -- "$pack") / 2)) -- "$pack"
expect_exit 1 cairn check
healed "truncated pack, check, plain backup"

note "item 5: a pack grown to 10 GiB (sparse): check, then a plain backup"
fresh_repo oversized
pack=$(biggest_pack)
truncate -s 10G -- "$pack"
expect_exit 1 cairn check
grep -q oversized "$W/out" || fail "check does not call a 10 GiB pack oversized: $(cat "$W/out")"
healed "oversized pack, check, plain backup"

note "item 5: a deleted pack: check, then a plain backup; or backup --force alone"
fresh_repo deleted-check
rm -- "$(biggest_pack)"
expect_exit 1 cairn check
healed "deleted pack, check, plain backup"
fresh_repo deleted-force
rm -- "$(biggest_pack)"
healed "deleted pack, backup --force" --force
note "done"
