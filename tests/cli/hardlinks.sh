#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Item 15 of issue 8: hard links. Every name of a link group restores as
# one inode, across directories and in one, for small and multi-chunk
# files; with --include selecting only some names (the first name
# excluded among them) those restore as one inode; a restore over a
# restore keeps them so, also with a name deeper than PATH_MAX. At scale (N files with two names each, under a
# small descriptor limit, so that later names wait for their first), every
# pair is one inode. The cost of the link tables is guarded in
# tests/unit/test-linktable.c (probes per operation, no timing).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

N=${N:-1000}
src=$W/src
mkdir -p "$src/a" "$src/b" "$src/c" "$src/deep/1/2/3" "$src/many/x" "$src/many/y"
printf 'group one\n' >"$src/a/x"
ln "$src/a/x" "$src/b/y"
ln "$src/a/x" "$src/c/z"
printf 'group two\n' >"$src/a/p"
ln "$src/a/p" "$src/a/q"
printf 'group three\n' >"$src/deep/1/2/3/k"
ln "$src/deep/1/2/3/k" "$src/k2"
rand_file "$src/a/big" $((5 * 1024 * 1024))
ln "$src/a/big" "$src/c/big"
printf 'alone\n' >"$src/a/alone"
chmod 0640 "$src/a/x"
touch -d '2004-04-04' "$src/a/x"
for ((i = 0; i < N; i++)); do
        printf '%d\n' "$i" >"$src/many/x/f$i"
done
cp -al "$src/many/x/." "$src/many/y/"
# A first name deeper than PATH_MAX (two blocks of 23 levels of 100-byte
# names), the second at the top.
long=$(printf 'x%.0s' $(seq 100))
block=$(printf "$long/%.0s" $(seq 23))
(
        cd -- "$src"
        mkdir -p "$block"
        cd "$block"
        mkdir -p "$block"
        cd "$block"
        printf 'deep group\n' >first
        ln first "$src/zz-second"
)

expect_exit 0 cairn init
expect_exit 0 cairn backup "$src"

# same_inode ROOT NAME...: every NAME under ROOT is one inode with exactly
# that many links.
same_inode() {
        local root=$1 first ino n
        shift
        first=$(stat -c %i -- "$root/$1") || {
                fail "$1 missing under $root"
                return
        }
        for n in "$@"; do
                ino=$(stat -c %i -- "$root/$n" 2>/dev/null) || {
                        fail "$n missing under $root"
                        continue
                }
                [ "$ino" = "$first" ] || fail "$n is not the inode of $1"
        done
        [ "$(stat -c %h -- "$root/$1")" = $# ] || fail "$1 has $(stat -c %h -- "$root/$1") links, want $#"
}

note "item 15: every name of a link group restores as one inode"
expect_exit 0 cairn restore latest --target "$W/t"
t=$W/t$src
same_inode "$t" a/x b/y c/z
same_inode "$t" a/p a/q
same_inode "$t" deep/1/2/3/k k2
same_inode "$t" a/big c/big
same_inode "$t" a/alone
cmp -s "$src/a/big" "$t/c/big" || fail "the multi-chunk linked file differs"
[ "$(stat -c %h "$t/zz-second")" = 2 ] || fail "zz-second has $(stat -c %h "$t/zz-second") link(s), want 2 (its group has a name deeper than PATH_MAX)"
(cd -- "$t/$block" && cd "$block" && [ "$(stat -c %i first)" = "$(stat -c %i "$t/zz-second")" ]) ||
        fail "the name deeper than PATH_MAX is not the inode of its group's other name"
[ "$(stat -c '%a %Y' "$t/b/y")" = "$(stat -c '%a %Y' "$src/a/x")" ] || fail "a linked name lost the mode or mtime"

note "item 15: names selected by --include, the first name excluded, are one inode"
expect_exit 0 cairn restore latest --target "$W/i" --include "$src/b" --include "$src/c"
[ -e "$W/i$src/a" ] && fail "--include restored a/ too"
same_inode "$W/i$src" b/y c/z
same_inode "$W/i$src" c/big
cmp -s "$src/a/x" "$W/i$src/c/z" || fail "c/z restored with other content"
expect_exit 0 cairn restore latest --target "$W/j" --include "$src/c/z" --include "$src/k2"
same_inode "$W/j$src" c/z
same_inode "$W/j$src" k2

note "item 15: a restore over a restore keeps the groups"
expect_exit 0 cairn restore latest --target "$W/t"
same_inode "$t" a/x b/y c/z
same_inode "$t" deep/1/2/3/k k2

note "item 15: $N files with two names each, under ulimit -n 64"
(
        ulimit -n 64
        expect_exit 0 cairn restore "latest:$src/many" --target "$W/m"
) || exit 1
pairs=$(find "$W/m/x" -type f -links 2 | wc -l)
[ "$pairs" = "$N" ] || fail "$pairs of $N files have two links"
mism=0
for ((i = 0; i < N; i += 97)); do
        [ "$(stat -c %i "$W/m/x/f$i")" = "$(stat -c %i "$W/m/y/f$i")" ] || mism=$((mism + 1))
done
[ "$mism" = 0 ] || fail "$mism sampled pairs are not one inode"
[ "$(cat "$W/m/y/f$((N - 1))")" = $((N - 1)) ] || fail "wrong content in a linked name"
note "ok"
