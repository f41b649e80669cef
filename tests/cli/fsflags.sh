#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Inode flags (issue 8, item 6): chattr flags of files and directories are
# kept and restored, set last (an immutable or append-only file still gets
# all its content and xattrs, an immutable directory all its children);
# --exclude-nodump skips what is flagged d; a flag the target cannot take is
# a reported error, not silence.
. "$(dirname "$0")/lib.sh"

command -v chattr >/dev/null && command -v lsattr >/dev/null || skip "chattr/lsattr (e2fsprogs) not installed"
touch "$W/probe"
chattr +d "$W/probe" 2>/dev/null || skip "no inode flags on the file system of $W"
$IS_ROOT || skip "setting immutable and append-only flags needs root"
# Immutable and append-only entries cannot be removed: clear them first.
at_exit "chattr -R -i -a -- '$W' 2>/dev/null"

# flags_of DIR: "flags name" for every entry below DIR, sorted; only the
# flags cairn keeps (e, extents, is the file system's own).
flags_of() {
        (cd -- "$1" && find . -mindepth 1 -exec lsattr -d {} + |
                awk '{ f = $1; gsub(/[eIEFNVh]/, "-", f); $1 = ""; print f $0 }' | sort -k2)
}

src=$W/src
mkdir "$src"
# One file and one directory per flag this file system lets root set.
kept=""
for f in s u c S i a d A t x m; do
        printf 'content of %s\n' "$f" >"$src/file-$f"
        if chattr "+$f" "$src/file-$f" 2>/dev/null && lsattr "$src/file-$f" | cut -d' ' -f1 | grep -q "$f"; then
                kept+=$f
        else
                chattr "-$f" "$src/file-$f" 2>/dev/null || true
        fi
done
for f in D T A S d; do
        mkdir "$src/dir-$f"
        echo child >"$src/dir-$f/child"
        chattr "+$f" "$src/dir-$f" 2>/dev/null || true
done
note "flags this file system takes on files: $kept"
case $kept in *i*a* | *a*i*) ;; *) skip "no immutable or append-only flag here" ;; esac
# Immutable and append-only with content, xattrs and times to restore first.
rand_file "$src/big-immutable" 3000000
setfattr -n user.note -v 'set before +i' "$src/big-immutable" 2>/dev/null || true
touch -d '2001-02-03 04:05:06' "$src/big-immutable"
chattr +i "$src/big-immutable"
printf 'line 1\nline 2\n' >"$src/log-append"
chattr +a "$src/log-append"
# An immutable directory full of files, and an append-only one.
mkdir "$src/frozen" "$src/growing"
for i in 1 2 3; do echo "$i" >"$src/frozen/f$i" && echo "$i" >"$src/growing/f$i"; done
chattr +i "$src/frozen"
chattr +a "$src/growing"
# nodump: a file, and a directory with a child.
echo skip-me >"$src/nodump-file"
chattr +d "$src/nodump-file"
mkdir "$src/nodump-dir"
echo skip-me-too >"$src/nodump-dir/inside"
chattr +d "$src/nodump-dir"

expect_exit 0 cairn init
[ -n "${FSFLAGS_DEBUG:-}" ] && flags_of "$src" >&2

note "item 6: every kept flag of files and directories comes back, set after content, xattrs and children"
expect_exit 0 cairn backup "$src"
expect_exit 0 cairn restore latest --target "$W/r1"
out=$W/r1$src
[ "$(flags_of "$src" | grep -c '^[^ ]*[^-][^ ]* ')" -ge 15 ] || fail "the source tree has too few flags to test"
diff <(flags_of "$src") <(flags_of "$out") >&2 || fail "restored inode flags differ (source < > restored)"
cmp "$src/big-immutable" "$out/big-immutable" || fail "the immutable file's content is incomplete"
cmp "$src/log-append" "$out/log-append" || fail "the append-only file's content is incomplete"
[ "$(stat -c %Y "$out/big-immutable")" = "$(stat -c %Y "$src/big-immutable")" ] ||
        fail "the immutable file's mtime was not restored"
if getfattr -n user.note "$src/big-immutable" >/dev/null 2>&1; then
        getfattr -n user.note "$out/big-immutable" >/dev/null 2>&1 || fail "the immutable file lost its xattr"
fi
for i in 1 2 3; do
        [ -f "$out/frozen/f$i" ] && [ -f "$out/growing/f$i" ] || fail "child f$i of an immutable/append-only dir missing"
done

note "item 6: an unchanged file taken from the parent snapshot keeps its flags; a chattr is seen"
chattr -d "$src/file-d"
expect_exit 0 cairn backup "$src"
expect_exit 0 cairn restore latest --target "$W/r2"
diff <(flags_of "$src") <(flags_of "$W/r2$src") >&2 || fail "flags after an incremental backup differ"

note "item 6: --exclude-nodump skips files and directories flagged d"
expect_exit 0 cairn backup --exclude-nodump "$src"
expect_exit 0 cairn ls latest "$src"
grep -q '/nodump-file$' "$W/out" && fail "--exclude-nodump kept a nodump file"
grep -q '/nodump-dir' "$W/out" && fail "--exclude-nodump kept a nodump directory or its contents"
grep -q '/big-immutable$' "$W/out" || fail "--exclude-nodump dropped a file without nodump"
expect_exit 0 cairn backup "$src"
expect_exit 0 cairn ls latest "$src"
grep -q '/nodump-dir/inside$' "$W/out" || fail "without --exclude-nodump, nodump entries must be kept"

note "items 6 and 15: an immutable or append-only inode with several names restores as one inode with every name"
mkdir -p "$W/links/a" "$W/links/b"
printf 'frozen twice\n' >"$W/links/a/frozen"
ln "$W/links/a/frozen" "$W/links/b/frozen-too"
ln "$W/links/a/frozen" "$W/links/a/frozen-3"
printf 'appended twice\n' >"$W/links/a/log"
ln "$W/links/a/log" "$W/links/b/log-too"
chattr +i "$W/links/a/frozen"
chattr +a "$W/links/a/log"
expect_exit 0 cairn backup "$W/links"
expect_exit 0 cairn restore latest --target "$W/r3"
L=$W/r3$W/links
for pair in "a/frozen b/frozen-too" "a/frozen a/frozen-3" "a/log b/log-too"; do
        set -- $pair
        [ "$(stat -c %i "$L/$1")" = "$(stat -c %i "$L/$2")" ] || fail "$1 and $2 were restored as two inodes"
done
[ "$(stat -c %h "$L/a/frozen")" = 3 ] || fail "the immutable inode has $(stat -c %h "$L/a/frozen") names, not 3"
lsattr -d "$L/a/frozen" | cut -d' ' -f1 | grep -q i || fail "the linked file lost its immutable flag"
lsattr -d "$L/a/log" | cut -d' ' -f1 | grep -q a || fail "the linked file lost its append-only flag"
cmp "$W/links/a/frozen" "$L/b/frozen-too" || fail "the immutable linked file's content differs"

note "item 6: a flag the target file system cannot take is a reported error (exit 1), not silence"
shm=$(mktemp -d /dev/shm/cairn-cli-fsflags.XXXXXX 2>/dev/null) || shm=""
if [ -n "$shm" ]; then
        at_exit "chattr -R -i -a -- '$shm' 2>/dev/null; rm -rf -- '$shm'"
        mkdir "$W/sync"
        echo data >"$W/sync/synced"
        if chattr +S "$W/sync/synced" 2>/dev/null; then
                expect_exit 0 cairn backup "$W/sync"
                check_exit 1 cairn restore latest --target "$shm/out" &&
                        { grep -q 'synced' "$W/err" || fail "the restore error does not name the file: $(cat "$W/err")"; }
        fi
fi
