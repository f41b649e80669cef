#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Item 3 of issue 8 (restore side): a tree deeper than PATH_MAX restores
# whole, with its metadata, under a small descriptor limit (ulimit -n 256)
# and a small stack (ulimit -s 1024: no recursion on the C stack), in time
# linear in its depth (the meson timeout is the guard: the old restore took
# 12 s at 3000 levels and four times that at twice the depth). ls walks it.
# DEPTH (default 10000, beyond the 4096 levels backup once stored).
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

DEPTH=${DEPTH:-10000}
src=$W/src
mkdir -p "$src"
# A block of levels at a time: bash's cd costs O(depth) beyond PATH_MAX.
BLOCK=500
[ $((DEPTH % BLOCK)) = 0 ] || die "DEPTH must be a multiple of $BLOCK"
(
        cd -- "$src"
        block=$(printf 'd/%.0s' $(seq "$BLOCK"))
        for ((i = BLOCK; i <= DEPTH; i += BLOCK)); do
                mkdir -p "$block"
                cd "$block"
                printf 'at %d\n' "$i" >"file-$i"
                [ "$i" = 1500 ] && chmod 0750 . && touch -d '2002-02-02' .
        done
        printf 'bottom\n' >bottom
        ln -s ../../.. up
        touch -d '2003-03-03' bottom
)
touch -d '2001-01-01' "$src/d"

expect_exit 0 cairn init
expect_exit 0 cairn backup "$src"

note "item 3: restore of $DEPTH levels under ulimit -n 256 and a 1 MiB stack"
(
        ulimit -n 256
        ulimit -s 1024          # recursion a level deep would need several MiB here
        expect_exit 0 cairn restore latest --target "$W/t"
) || exit 1
dirs=$((DEPTH + $(tr -cd / <<<"$src" | wc -c)))
grep -q " $dirs dirs" "$W/out" || fail "restore reports other counts than $dirs dirs: $(cat "$W/out")"

# GNU find walks below PATH_MAX by descriptors; %d is the depth, so every
# line is one entry whatever order readdir gives.
listing() {
        find "$1" -mindepth 1 -printf '%d %y %m %s %T@ %f %l\n' | sort
        find "$1" -type f -execdir cat {} \;
}
listing "$src" >"$W/a" || die "cannot list the source"
listing "$W/t$src" >"$W/b" || fail "cannot list the restored tree"
[ "$(wc -l <"$W/a")" -gt "$DEPTH" ] || die "test bug: the source listing is short: $(wc -l <"$W/a")"
cmp -s "$W/a" "$W/b" || fail "the restored tree differs from the source: $(diff "$W/a" "$W/b" | head -n 20)"

note "item 3: a restore over the restored tree, and one below a deep subpath"
(
        ulimit -n 256
        expect_exit 0 cairn restore latest --target "$W/t"
        expect_exit 0 cairn restore "latest:$src/d/d/d" --target "$W/sub"
) || exit 1
[ -d "$W/sub/d/d" ] || fail "ID:PATH restore of a deep subtree made nothing"

note "item 3: ls walks every level"
expect_exit 0 cairn ls latest
[ "$(grep -c '/bottom$' "$W/out")" = 1 ] || fail "ls does not reach the bottom"
note "ok"
