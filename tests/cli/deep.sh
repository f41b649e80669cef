#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Deep trees (issue 8, items 3 and 13): a subtree deeper than 4096 levels is
# stored and every reader (ls, dump, check) sees all of it; the walk has no
# recursion, so 100000 levels do not exhaust the stack; and it holds a
# bounded number of directory fds, so a tree deeper than `ulimit -n` backs up.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is needed to build deep trees quickly"

# make_deep DIR LEVELS [NAME]: DIR/d/d/.../d, LEVELS directories (named
# NAME instead of d if given), with a file "bottom" in the last. Made
# relative to an fd, level by level, since the full paths exceed PATH_MAX.
make_deep() {
        python3 - "$1" "$2" "${3:-d}" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
for _ in range(int(sys.argv[2])):
    os.mkdir(sys.argv[3], dir_fd=fd)
    nfd = os.open(sys.argv[3], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
    os.close(fd)
    fd = nfd
f = os.open("bottom", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
os.write(f, b"deep\n")
os.close(f)
PY
}

# deep_path DIR LEVELS: the path of the file make_deep made.
deep_path() {
        local p=$1 i
        for ((i = 0; i < $2; i++)); do
                p+=/d
        done
        echo "$p/bottom"
}

# Deep trees are made much faster on tmpfs: there when it can be written.
if T=$(mktemp -d /dev/shm/cairn-cli-deep.XXXXXX 2>/dev/null); then
        at_exit "rm -rf -- '$T'"
else
        T=$W/trees
        mkdir "$T"
fi

expect_exit 0 cairn init

note "item 3: 10000 levels: backup stores them, ls, dump and check see the bottom"
mkdir "$T/d10k"
make_deep "$T/d10k" 10000
expect_exit 0 cairn backup --json "$T/d10k"
grep -q '"errors":0' "$W/out" || fail "backup of 10000 levels reported errors: $(cat "$W/out")"
bottom=$(deep_path "$T/d10k" 10000)
# ls prints every level (about 100 MB of paths): count them and look at the last.
"$CAIRN" -r "$REPO" ls latest "$T/d10k" | awk -v want="$bottom" '
        { n++; last = $0 }
        END { if (n != 10001 || last != want) { print "ls: " n " lines, last of length " length(last) > "/dev/stderr"; exit 1 } }' ||
        fail "ls latest does not list all 10000 levels"
expect_exit 0 cairn dump latest "$bottom"
[ "$(cat "$W/out")" = deep ] || fail "dump of the file 10000 levels down gave: $(head -c 100 "$W/out")"
check_exit 0 cairn check || fail "check finds a 10000-level snapshot incomplete: $(head -c 300 "$W/err")"

note "item 13: with ulimit -n 64, a tree 3000 levels deep backs up (the walk holds few fds)"
mkdir "$T/d3k"
make_deep "$T/d3k" 3000
check_exit 0 bash -c 'ulimit -n 64 && exec "$0" -r "$1" backup --json "$2"' "$CAIRN" "$REPO" "$T/d3k" ||
        fail "backup of 3000 levels with 64 fds failed: $(head -c 300 "$W/err")"
expect_exit 0 cairn dump latest "$(deep_path "$T/d3k" 3000)"
[ "$(cat "$W/out")" = deep ] || fail "the bottom of the 3000-level tree is not in the snapshot"

note "item 3: 255-byte names 4200 deep: beyond a 1 MiB path is a recorded error (exit 3), the snapshot stays readable"
mkdir "$T/long"
make_deep "$T/long" 4200 "$(printf 'n%.0s' {1..255})"
expect_exit 3 cairn backup "$T/long"
grep -q 'File name too long' "$W/err" || fail "no warning for the entry past the path cap: $(head -c 300 "$W/err")"
expect_exit 0 cairn snapshots --json
grep -q '"errors":1' "$W/out" || fail "the snapshot does not list its one error: $(head -c 300 "$W/out")"
check_exit 0 cairn check || fail "check after a 1 MiB path: $(head -c 300 "$W/err")"
rm -rf -- "$T/long"

note "item 3: 100000 levels: no recursion in the walk (no stack exhaustion); check walks them too"
mkdir "$T/d100k"
make_deep "$T/d100k" 100000
expect_exit 0 cairn backup --json "$T/d100k"
dirs=$(json_num dirs "$W/out")
[ "$dirs" -ge 100000 ] || fail "backup of 100000 levels counted $dirs directories"
check_exit 0 cairn check || fail "check of 100000 levels: $(head -c 300 "$W/err")"
rm -rf -- "$T/d100k"
