#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Item 4 of issue 8: a restore never writes into, or changes the metadata
# of, anything that stands in the target at an entry's name. A hard link
# to a file outside the target, a symlink out of it, a FIFO, a device, an
# empty directory: each is replaced by a new entry (a new inode), and what
# it pointed at keeps its content, mode, owner and mtime. For every entry
# type of the snapshot (file, directory, symlink, FIFO, hard link group).
# Item 16: a target that is a file or /dev/null, or empty, is a usage error
# that says so; a file whose data is missing leaves nothing under its name.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

src=$W/src out=$W/outside tgt=$W/target
mkdir -p "$src/dir" "$out/dir"
printf 'new content\n' >"$src/file"
chmod 0644 "$src/file"
printf 'new in dir\n' >"$src/dir/inner"
ln -s file "$src/link"
mkfifo "$src/fifo"
printf 'group\n' >"$src/group-a"
ln "$src/group-a" "$src/group-b"
for n in file-over-fifo file-over-dev file-over-emptydir file-over-fulldir file-over-link; do
        printf '%s\n' "$n" >"$src/$n"
done
touch -d '2001-01-01' "$src"/* "$src/dir/inner"

expect_exit 0 cairn init
expect_exit 0 cairn backup "$src"

# The victims outside the target, mode 600, an old mtime.
victim() {
        printf 'secret %s\n' "$1" >"$out/$1"
        chmod 0600 "$out/$1"
        touch -d '1999-09-09' "$out/$1"
}
state() {
        (cd -- "$out" && find . -printf '%p %y %m %U %G %s %T@\n' | sort && cat -- $(find . -type f | sort))
}

# plant: what a local user leaves in the target before the restore.
plant() {
        rm -rf -- "$tgt" "$out"
        mkdir -p "$tgt$src" "$out/dir"
        local t=$tgt$src v
        for v in hl-file hl-link hl-fifo hl-group sym-file inner; do
                victim "$v"
        done
        ln "$out/hl-file" "$t/file"                   # a hard link where a file goes
        ln "$out/hl-link" "$t/link"                   # ... where a symlink goes
        ln "$out/hl-fifo" "$t/fifo"                   # ... where a FIFO goes
        ln "$out/hl-group" "$t/group-b"               # ... where a later name of a link group goes
        ln -s "$out/sym-file" "$t/file-over-link"     # a symlink out of the target
        ln -s "$out/dir" "$t/dir"                     # a symlink where a directory goes
        ln "$out/inner" "$out/dir/inner"              # ... with a file of the snapshot's name in it
        mkfifo "$t/file-over-fifo"                    # a FIFO where a file goes (an open would hang)
        mkdir "$t/file-over-emptydir"
        mkdir "$t/file-over-fulldir"
        printf 'keep\n' >"$t/file-over-fulldir/keep"
        if $IS_ROOT; then
                mknod "$t/file-over-dev" c 1 3        # /dev/null where a file goes
        fi
}

plant
before=$(state)
note "item 4: restore replaces hard links, symlinks, FIFOs, devices and empty directories in the target"
# Exit 1: the non-empty directory where a file goes stays, and is reported.
check_exit 1 timeout 60 "$CAIRN" -r "$REPO" restore latest --target "$tgt" || true
grep -q 'file-over-fulldir' "$W/err" || fail "the directory in the way of a file is not reported: $(cat "$W/err")"
[ "$(grep -c 'not restored' "$W/err")" = 1 ] || fail "only the non-empty directory should fail: $(cat "$W/err")"
after=$(state)
[ "$before" = "$after" ] || fail "files outside the target changed:
$(diff <(echo "$before") <(echo "$after"))"
t=$tgt$src
for n in file dir/inner group-a group-b file-over-link file-over-fifo file-over-emptydir; do
        [ -f "$t/$n" ] && [ ! -L "$t/$n" ] || {
                fail "$n is not a regular file after the restore"
                continue
        }
done
if $IS_ROOT; then
        [ -f "$t/file-over-dev" ] || fail "the device where a file goes was not replaced"
fi
cmp -s "$src/file" "$t/file" || fail "file: wrong content"
[ "$(stat -c %a "$t/file")" = 644 ] || fail "file: mode $(stat -c %a "$t/file"), want 644"
[ "$(stat -c %h "$t/file")" = 1 ] || fail "file: still linked to something ($(stat -c %h "$t/file") links)"
cmp -s "$src/dir/inner" "$t/dir/inner" || fail "dir/inner: wrong content"
[ -d "$t/dir" ] && [ ! -L "$t/dir" ] || fail "dir: the symlink was followed, not replaced"
[ -L "$t/link" ] && [ "$(readlink "$t/link")" = file ] || fail "link: not the snapshot's symlink"
[ -p "$t/fifo" ] || fail "fifo: not a FIFO"
[ "$(stat -c %i "$t/group-a")" = "$(stat -c %i "$t/group-b")" ] || fail "group-a and group-b are not one inode"
[ "$(stat -c %h "$t/group-a")" = 2 ] || fail "the link group has $(stat -c %h "$t/group-a") links, want 2"
[ -f "$t/file-over-fulldir/keep" ] || fail "the non-empty directory in the way lost its content"
leftover=$(find "$tgt" -name '.cairn-restore-*')
[ -z "$leftover" ] || fail "temporary names left behind: $leftover"

note "item 4: a second restore over the first changes nothing outside either"
plant
before=$(state)
check_exit 1 timeout 60 "$CAIRN" -r "$REPO" restore latest --target "$tgt" || true
check_exit 1 timeout 60 "$CAIRN" -r "$REPO" restore latest --target "$tgt" || true
[ "$before" = "$(state)" ] || fail "files outside the target changed on a restore over a restore"

note "item 4: ID:PATH of one file over a hard link"
plant
before=$(state)
expect_exit 0 cairn restore "latest:$src/file" --target "$t"
[ "$before" = "$(state)" ] || fail "restore of one file wrote through the hard link in its place"
cmp -s "$src/file" "$t/file" || fail "ID:PATH file: wrong content"

note "item 4: best effort: names swapped for symlinks out of the target while restoring"
# Whatever the timing, nothing outside may change; the loop only makes a
# race likely, the check never depends on it.
plant
rm -rf -- "$tgt"
before=$(state)
(
        end=$((SECONDS + 20))
        while [ $SECONDS -lt $end ] && [ ! -e "$W/stop" ]; do
                for n in file dir file-over-link group-b; do
                        rm -rf -- "$t/$n" 2>/dev/null
                        ln -s "$out/$([ "$n" = dir ] && echo dir || echo hl-file)" "$t/$n" 2>/dev/null
                done
        done
) &
racer=$!
at_exit "touch '$W/stop'; kill $racer 2>/dev/null; wait $racer 2>/dev/null"
for _ in 1 2 3 4 5 6 7 8; do
        timeout 60 "$CAIRN" -r "$REPO" restore latest --target "$tgt" >/dev/null 2>&1 || true
done
touch "$W/stop"
wait "$racer" 2>/dev/null || true
[ "$before" = "$(state)" ] || fail "files outside the target changed while names were swapped:
$(diff <(echo "$before") <(state))"

note "item 4: --include leaves what it does not select as it was"
rm -rf -- "$tgt"
mkdir -p "$tgt$src"
printf 'mine\n' >"$tgt$src/dir"                     # a file where the snapshot has a directory
ln -s "$out" "$tgt$src/other"                       # and a symlink out, at a name the snapshot lacks
before=$(state)
expect_exit 0 cairn restore latest --target "$tgt" --include "$src/file"
[ "$(cat "$tgt$src/dir")" = mine ] || fail "--include $src/file removed the file at $src/dir"
cmp -s "$src/file" "$tgt$src/file" || fail "--include did not restore the file it selects"
[ "$before" = "$(state)" ] || fail "files outside the target changed on an --include restore"
expect_exit 0 cairn restore latest --target "$tgt" --include "$src/dir/inner"
[ -f "$tgt$src/dir/inner" ] || fail "--include of a file below a directory the target has as a file"

note "item 16: a target that is not a directory is a usage error that says so"
printf 'x\n' >"$W/plain"
expect_exit 2 cairn restore latest --target "$W/plain"
grep -q 'not a directory' "$W/err" || fail "no 'not a directory' for a file target: $(cat "$W/err")"
grep -q 'in snapshot' "$W/err" && fail "a file target is blamed on the snapshot: $(cat "$W/err")"
[ "$(cat "$W/plain")" = x ] || fail "the file given as target changed"
expect_exit 2 cairn restore latest --target /dev/null
grep -q 'not a directory' "$W/err" || fail "no 'not a directory' for /dev/null: $(cat "$W/err")"
expect_exit 2 cairn restore latest --target "$W/plain/sub"
grep -q 'not a directory' "$W/err" || fail "no 'not a directory' below a file: $(cat "$W/err")"
expect_exit 2 cairn restore latest --target ''
grep -q -- '--target' "$W/err" || fail "an empty --target does not say so: $(cat "$W/err")"
expect_exit 1 cairn restore "latest:/no/such/path" --target "$W/never-made"
grep -q 'no path /no/such/path' "$W/err" || fail "a missing path is not named: $(cat "$W/err")"
[ -e "$W/never-made" ] && fail "a restore of a missing path made its target"

note "item 16: a file whose data is damaged leaves nothing under its name"
src2=$W/src2
mkdir -p "$src2"
rand_file "$src2/damaged" $((6 * 1024 * 1024))
REPO=$W/repo2
expect_exit 0 cairn init
expect_exit 0 cairn backup "$src2"
# One flipped byte in the middle of the biggest pack: in one of the file's chunks.
pack=$(find "$REPO/data" -type f ! -name '.tmp-*' -printf '%s %p\n' | sort -n | tail -n 1 | cut -d' ' -f2-)
off=$(($(stat -c %s -- "$pack") / 2))
byte=$(od -An -tu1 -j "$off" -N 1 -- "$pack" | tr -d ' ')
chmod u+w -- "$pack"
printf '%b' "\\0$(printf '%03o' $((byte ^ 0x5a)))" | dd of="$pack" bs=1 seek="$off" conv=notrunc status=none
mkdir -p "$W/t2$src2"
printf 'old\n' >"$W/t2$src2/damaged"
check_exit 1 cairn restore latest --target "$W/t2" || true
grep -q 'damaged' "$W/err" || fail "the file with damaged data is not reported: $(cat "$W/err")"
[ "$(cat "$W/t2$src2/damaged")" = old ] || fail "the old file under the name was replaced by an incomplete one"
[ -z "$(find "$W/t2" -name '.cairn-restore-*')" ] || fail "temporary files left behind"
check_exit 1 cairn restore latest --target "$W/t3" || true
[ -e "$W/t3$src2/damaged" ] && fail "a partial file was left under the name: $(stat -c %s "$W/t3$src2/damaged") bytes"
note "ok"
