#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Issue 8, items 7 and 16: one damaged index or ledger file, or one planted
# object, must not lock anyone out. For each kind of damage, on a fresh copy
# of a repository of four packs: ls, restore and dump of the latest snapshot
# work (the damaged object named in one warning), a backup goes on (rc 0) and
# stores what it needs, its snapshot restores identical to the source, and
# check names the object (rc 1). Variations: a flipped byte in each of the
# four index files; a flipped byte in a ledger file; truncated, empty and
# 10 GiB (sparse) index files; a ledger planted under an index name; another
# pack's index and ledger copied over a pack's; a second controller's pack,
# index and ledger planted under the first one's folders; a deleted index
# file, and a deleted index file with its pack (an error that never says
# "no repository"). Ledgers are content-named (docs/FORMAT.md "Index and
# ledger"): each backup here writes one, just before its one pack, so a
# pack's ledger is the newest ledger file not newer than the pack.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

KIB=1024
src=$W/src
mkdir -p "$src/d"
init_two_controllers
# Four backups, each with a new file: four packs, each with chunks and trees.
for i in 1 2 3 4; do
        rand_file "$src/d/file-$i" $((300 * KIB + i))
        printf 'small %s\n' "$i" >"$src/small-$i"
        expect_exit 0 cairn --controller default backup "$src"
done
# Oldest first: the last one holds the latest snapshot's root tree.
mapfile -t packs < <(find "$REPO/data/$ctl" -type f -printf '%T@ %f\n' | sort -n | cut -d' ' -f2)
[ ${#packs[@]} = 4 ] || die "test bug: expected 4 packs, got ${#packs[@]}"
# The second controller gets data of its own, to plant.
mkdir -p "$W/src-other"
rand_file "$W/src-other/f" $((200 * KIB))
expect_exit 0 cairn --controller other backup "$W/src-other"
other_pack=$(basename -- "$(find "$REPO/index/$other" -type f | head -n 1)")
# ledger_of CTL PACK: the name (under ledger/CTL/) of the ledger of PACK.
ledger_of() {
        local t
        t=$(find "$REPO/data/$1" -type f -name "$2" -printf '%T@')
        find "$REPO/ledger/$1" -type f -printf '%T@ %f\n' | sort -n |
                awk -v t="$t" '$1 <= t { last = $2 } END { print last }'
}
declare -A ledger
for p in "${packs[@]}"; do
        ledger[$p]=$(ledger_of "$ctl" "$p")
done
other_ledger=$(ledger_of "$other" "$other_pack")
[ "$(printf '%s\n' "${ledger[@]}" | sort -u | wc -l)" = 4 ] || die "test bug: the 4 packs' ledgers are not 4 files"
expect_exit 0 cairn --controller default ls latest
cp -- "$W/out" "$W/ls.good"
chmod -R u+w -- "$REPO"
cp -a -- "$REPO" "$W/pristine"



# readers_work WHAT OBJECT: ls, restore and dump of latest succeed with one
# warning naming OBJECT (a path under the repository).
readers_work() {
        local what=$1 obj=$2
        if check_exit 0 cairn --controller default ls latest; then
                cmp -s "$W/out" "$W/ls.good" || fail "$what: ls latest lists something else"
                [ "$(grep -c -F -- "$obj" "$W/err")" = 1 ] ||
                        fail "$what: ls does not warn exactly once about $obj: $(cat "$W/err")"
        fi
        rm -rf -- "$W/t"
        if check_exit 0 cairn --controller default restore latest --target "$W/t"; then
                same_tree "$src" "$W/t$src" || fail "$what: restore differs from the source"
        fi
        if check_exit 0 cairn --controller default dump latest "$src/d/file-2"; then
                cmp -s "$W/out" "$src/d/file-2" || fail "$what: dump differs from the source"
        fi
}

# writers_work WHAT OBJECT: check names OBJECT (rc 1), a backup succeeds and
# its snapshot restores identical.
writers_work() {
        local what=$1 obj=$2
        if check_exit 1 cairn check; then
                grep -q -F -- "$obj" "$W/out" || fail "$what: check does not name $obj: $(cat "$W/out")"
        fi
        check_exit 0 cairn --controller default backup "$src" || return 0
        rm -rf -- "$W/t"
        if check_exit 0 cairn --controller default restore latest --target "$W/t"; then
                same_tree "$src" "$W/t$src" || fail "$what: restore after the backup differs from the source"
        fi
}

note "item 7: a flipped byte in each of the four index files"
for p in "${packs[@]}"; do
        fresh_repo "index-$p"
        f=$REPO/index/$ctl/$p
        xor_byte "$f" $(($(stat -c %s -- "$f") / 2)) 0x20
        readers_work "flipped index $p" "index/$ctl/$p"
        writers_work "flipped index $p" "index/$ctl/$p"
done

note "item 7: truncated, empty and oversized index files"
p=${packs[3]}
fresh_repo index-truncated
truncate -s 100 -- "$REPO/index/$ctl/$p"
readers_work "truncated index" "index/$ctl/$p"
writers_work "truncated index" "index/$ctl/$p"
fresh_repo index-empty
: >"$REPO/index/$ctl/$p"
readers_work "empty index" "index/$ctl/$p"
fresh_repo index-10g
truncate -s 10G -- "$REPO/index/$ctl/$p"
readers_work "10 GiB index" "index/$ctl/$p"
grep -q oversized "$W/err" || fail "item 16: a 10 GiB index is not called oversized: $(cat "$W/err")"
grep -q "Argument list too long" "$W/err" && fail "item 16: a 10 GiB index is 'Argument list too long'"
writers_work "10 GiB index" "index/$ctl/$p"

note "item 7: objects of the wrong kind or pack under an index or ledger name"
fresh_repo wrong-kind
cp -- "$REPO/ledger/$ctl/${ledger[$p]}" "$REPO/index/$ctl/$p"
readers_work "ledger under an index name" "index/$ctl/$p"
writers_work "ledger under an index name" "index/$ctl/$p"
fresh_repo wrong-pack
cp -- "$REPO/index/$ctl/${packs[0]}" "$REPO/index/$ctl/$p"
readers_work "another pack's index" "index/$ctl/$p"
writers_work "another pack's index" "index/$ctl/$p"

note "item 7: controller other's pack, index and ledger planted under default's folders"
fresh_repo planted
mkdir -p "$REPO/data/$ctl/${other_pack:0:2}"
cp -- "$REPO/data/$other/${other_pack:0:2}/$other_pack" "$REPO/data/$ctl/${other_pack:0:2}/"
cp -- "$REPO/index/$other/$other_pack" "$REPO/index/$ctl/"
cp -- "$REPO/ledger/$other/$other_ledger" "$REPO/ledger/$ctl/"
# (the planted index opens with no key of this controller's ledgers: it is
# not even read; the planted ledger is the damaged object)
readers_work "planted objects of another controller" "ledger/$ctl/$other_ledger"
writers_work "planted objects of another controller" "ledger/$ctl/$other_ledger"
# ...and planted over the names of the first controller's own pack.
fresh_repo planted-over
cp -- "$REPO/index/$other/$other_pack" "$REPO/index/$ctl/$p"
cp -- "$REPO/ledger/$other/$other_ledger" "$REPO/ledger/$ctl/${ledger[$p]}"
# (readers may miss the keys of that pack's chunks until a backup stores them again)
writers_work "another controller's index and ledger over a pack's" "ledger/$ctl/${ledger[$p]}"

note "item 7: a flipped byte in a ledger file: its chunks are stored again"
for p in "${packs[3]}" "${packs[0]}"; do
        fresh_repo "ledger-$p"
        f=$REPO/ledger/$ctl/${ledger[$p]}
        xor_byte "$f" $(($(stat -c %s -- "$f") - 20)) 0x20
        check_exit 0 cairn --controller default snapshots || true
        if [ "$p" = "${packs[0]}" ]; then
                # The first backup's file has no key now: restore says so, and
                # leaves nothing under its name.
                rm -rf -- "$W/t"
                if check_exit 1 cairn --controller default restore latest --target "$W/t"; then
                        grep -q "key ledger of its pack" "$W/err" ||
                                fail "item 16: a keyless file is not reported as such: $(cat "$W/err")"
                        [ ! -e "$W/t$src/d/file-1" ] || fail "item 16: a keyless file left $(stat -c %s "$W/t$src/d/file-1") bytes"
                fi
        fi
        writers_work "flipped ledger $p" "ledger/$ctl/${ledger[$p]}"
        # The chunks stored again are what readers find from now on.
        readers_work "flipped ledger $p, after a backup" "ledger/$ctl/${ledger[$p]}"
        cairn --controller default backup "$src" >/dev/null 2>&1 || fail "flipped ledger $p: a second backup failed"
done

note "item 16: a deleted index file is read around; a missing pack is never 'no repository'"
p=${packs[3]}
fresh_repo index-deleted
rm -- "$REPO/index/$ctl/$p"
if check_exit 0 cairn --controller default ls latest; then
        cmp -s "$W/out" "$W/ls.good" || fail "deleted index: ls latest lists something else"
fi
rm -- "$REPO/data/$ctl/${p:0:2}/$p"
rc=0
cairn --controller default ls latest >"$W/out" 2>"$W/err" || rc=$?
[ "$rc" = 1 ] || fail "deleted index and pack: ls latest exits $rc, not 1: $(cat "$W/err")"
grep -qi -e "no cairn repository" -e "init" "$W/err" &&
        fail "item 16: a missing pack is reported as a missing repository: $(cat "$W/err")"
grep -q check "$W/err" || fail "deleted index and pack: the message does not point to check: $(cat "$W/err")"
note "done"
