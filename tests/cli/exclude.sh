#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Excluded entries are not in the snapshot: --exclude '*.tmp' (a name
# pattern), --exclude /abs/dir (a whole directory), --exclude-file (one
# pattern a line, comments and blank lines ignored); everything else is.
# A repository inside the source is never backed up into itself, whatever
# its name and however -r spells it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

src=$W/src
mkdir -p "$src/keep/deep" "$src/cache/sub" "$src/build/out" "$src/logs"
printf 'k\n' >"$src/keep/a.txt"
printf 'k\n' >"$src/keep/deep/b.txt"
printf 't\n' >"$src/keep/a.tmp"
printf 't\n' >"$src/keep/deep/c.tmp"
printf 't\n' >"$src/top.tmp"
printf 'not tmp\n' >"$src/keep/tmp.not"
printf 'c\n' >"$src/cache/x"
printf 'c\n' >"$src/cache/sub/y"
printf 'o\n' >"$src/build/out/z.o"
printf 'l\n' >"$src/logs/app.log"
printf 'l\n' >"$src/logs/keep.txt"
mkdir -p "$src/keep/cache"         # same name as the excluded dir, elsewhere: kept
printf 'k\n' >"$src/keep/cache/kept"
cat >"$W/excludes" <<EOF
# comment line, then a blank line

*.log
build
EOF

expect_exit 0 cairn init
expect_exit 0 cairn backup --exclude '*.tmp' --exclude "$src/cache" --exclude-file "$W/excludes" "$src"
expect_exit 0 cairn ls latest
ls_out=$W/ls.out
cp -- "$W/out" "$ls_out"
for gone in keep/a.tmp keep/deep/c.tmp top.tmp cache cache/x cache/sub/y build build/out/z.o logs/app.log; do
        grep -qxF "$src/$gone" "$ls_out" && fail "excluded $src/$gone is in the snapshot"
done
for kept in keep keep/a.txt keep/deep/b.txt keep/tmp.not keep/cache/kept logs logs/keep.txt; do
        grep -qxF "$src/$kept" "$ls_out" || fail "$src/$kept is missing from the snapshot"
done

# An unreadable exclude file is an error and saves nothing.
check_exit 1 cairn backup --exclude-file "$W/no-such-file" "$src" || true
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 1 ] || fail "a failed backup saved a snapshot: $(cat "$W/out")"

# Repositories inside the source. The second name holds glob characters,
# which must not be taken as a pattern.
repo_inside() {
        local r=$1 spell=$2 name
        name=$(basename -- "$r")
        expect_exit 0 "$CAIRN" -r "$spell" init
        expect_exit 0 "$CAIRN" -r "$spell" backup "$src"
        expect_exit 0 "$CAIRN" -r "$spell" backup "$src"      # now with packs to see
        expect_exit 0 "$CAIRN" -r "$spell" ls latest
        grep -qxF "$src/keep/a.txt" "$W/out" || fail "repository $name: the source is not in the snapshot"
        if grep -qF "$r" "$W/out"; then
                fail "repository '$name' inside the source was backed up into itself: $(grep -F "$r" "$W/out" | head -n 3 | tr '\n' ' ')"
        fi
}
repo_inside "$src/repo-inside" "$src/repo-inside"
(cd -- "$src" && repo_inside "$src/relative-repo" "./keep/../relative-repo")
repo_inside "$src/repo[1]" "$src/repo[1]"
repo_inside "$src/star*repo" "$src/star*repo"
note "done"
