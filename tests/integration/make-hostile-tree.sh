#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make-hostile-tree.sh DIR
#
# Build a fixture tree in DIR (created; must not exist or be empty) holding
# every kind of metadata a backup must keep: all file types, odd modes and
# owners, ns mtimes far before and after the 32-bit epoch, xattrs of every
# namespace, POSIX ACLs, sparse files, hard links across directories, names
# that are not UTF-8, hold newlines and control bytes or are 255 bytes long,
# and a path near PATH_MAX. Root-only parts (devices, other owners, trusted.*)
# are left out otherwise. Compare copies with treecmp.sh.
#
# Needs coreutils, setfattr (attr), setfacl (acl); python3 for the socket.
set -euo pipefail
export LC_ALL=C TZ=UTC

if [ $# -ne 1 ]; then
        echo "usage: $0 DIR" >&2
        exit 2
fi
dir=$1
mkdir -p -- "$dir"
if [ -n "$(ls -A -- "$dir")" ]; then
        echo "$0: $dir is not empty" >&2
        exit 1
fi
cd -- "$dir"

root=false
[ "$(id -u)" = 0 ] && root=true
warn() { echo "make-hostile-tree: $*" >&2; }

# ---- regular files
: >empty
printf 'hello\n' >small
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom >random-3m
printf '\0\0\0binary\377\n' >binary

# ---- nested directories, an empty one
mkdir -p nested/a/b/c/d empty-dir
printf 'deep\n' >nested/a/b/c/d/leaf
printf 'mid\n' >nested/a/mid

# ---- symlinks: relative, absolute, dangling, to a dir, with an odd target
ln -s ../../../small nested/a/b/rel-link
ln -s /etc/passwd abs-link
ln -s does/not/exist dangling-link
ln -s nested dir-link
ln -s $'odd\ntarget\xff' odd-target-link

# ---- hard links: three names of one inode across directories
mkdir -p links/sub other
printf 'linked content\n' >links/h1
ln links/h1 links/sub/h2
ln links/h1 other/h3
# and a pair within one directory
printf 'pair\n' >links/p1
ln links/p1 links/p2

# ---- special files
mkfifo fifo
if command -v python3 >/dev/null; then
        python3 -c 'import socket, sys; s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' sock ||
                warn "no unix socket"
else
        warn "no python3: no unix socket"
fi
if $root; then
        mknod chr-null c 1 3
        mknod blk-loop b 7 0
        mknod chr-big c 4095 1048575
fi

# ---- modes
printf 'suid\n' >setuid && chmod 4755 setuid
printf 'sgid\n' >setgid && chmod 2755 setgid
printf 'both\n' >setuid-setgid-sticky && chmod 7777 setuid-setgid-sticky
# a file nobody may read: only as root, or copies made by the user would fail
$root && printf 'none\n' >mode-0000 && chmod 0000 mode-0000
mkfifo fifo-0000 && chmod 0000 fifo-0000
mkdir sticky-dir && chmod 1777 sticky-dir
mkdir setgid-dir && chmod 2775 setgid-dir
printf 'in sticky\n' >sticky-dir/f
chmod 0640 small
mkfifo fifo-0604 && chmod 0604 fifo-0604

# ---- owners (root): ids without a name, and nobody:nogroup
if $root; then
        printf 'numeric owner\n' >owner-numeric
        chown 12345:54321 owner-numeric
        # chown clears setuid: set it after
        printf 'numeric suid\n' >owner-numeric-suid
        chown 12345:54321 owner-numeric-suid && chmod 6755 owner-numeric-suid
        printf 'nobody\n' >owner-nobody
        if getent group nogroup >/dev/null; then
                chown nobody:nogroup owner-nobody
        else
                chown 65534:65534 owner-nobody
        fi
        ln -s small owner-link
        chown -h 23456:65432 owner-link
        mkdir owner-dir && chown 12345:54321 owner-dir
        chown 12345:54321 fifo
fi

# ---- xattrs
xattrs=true
if ! setfattr -n user.bin -v 0x00ff0a00fe small 2>/dev/null; then
        warn "no user xattrs on this file system"
        xattrs=false
fi
if $xattrs; then
        setfattr -n user.text -v 'plain text' small
        setfattr -n user.empty small
        setfattr -n user.big -v "0x$(head -c 3000 /dev/urandom | od -An -v -tx1 | tr -d ' \n')" random-3m
        setfattr -n $'user.odd\xff\nname' -v 0x01 binary
        setfattr -n user.dir -v 'on a dir' nested
        setfattr -n user.linked -v 'hard link' links/h1
        if $root; then
                setfattr -n trusted.cairn -v 0x0001020304 small
                setfattr -n trusted.dir -v x nested/a
                # user.* is not allowed on symlinks, trusted.* is
                setfattr -h -n trusted.link -v 0xff abs-link
                setfattr -n trusted.fifo -v fifo fifo
        fi
fi

# ---- ACLs: access on files and dirs, default on a dir (inherited by a file)
if setfacl -m u:12345:r,g:54321:rw small 2>/dev/null; then
        mkdir acl-dir
        setfacl -m u:12345:rwx,g:54321:rx,m:rwx acl-dir
        setfacl -d -m u::rwx,g::rx,o::-,u:65534:rx,g:54321:r,m:rx acl-dir
        printf 'inherits\n' >acl-dir/inherited
        mkdir acl-dir/subdir
        printf 'acl file\n' >acl-file
        setfacl -m u:65534:rw,m:rw acl-file
        chmod 2770 acl-dir
else
        warn "no POSIX ACLs on this file system"
fi

# ---- sparse files: 1 GiB with a few bytes in the middle; data at both ends
truncate -s 1G sparse-1g
printf 'middle' | dd of=sparse-1g bs=1 seek=$((512 * 1024 * 1024)) conv=notrunc status=none
head -c 65536 /dev/urandom >sparse-ends
truncate -s $((64 * 1024 * 1024)) sparse-ends
head -c 4096 /dev/urandom | dd of=sparse-ends bs=4096 seek=$((64 * 256 - 1)) conv=notrunc status=none
truncate -s 100M all-hole
if [ "$(stat -c %b sparse-1g)" -ge $((1024 * 1024 * 2)) ]; then
        warn "this file system does not keep holes"
fi

# ---- odd names
mkdir names
printf 'ff fe\n' >names/$'\xff\xfe'
printf 'latin1\n' >names/$'caf\xe9'
printf 'newline\n' >names/$'new\nline'
printf 'trailing newline\n' >names/$'trail\n'
printf 'control\n' >names/$'ctrl\x01\x02\x1b[31m\t\r'
printf 'leading dash\n' >names/-dash
printf 'spaces\n' >names/' lead and trail '
printf 'backslash\n' >names/'back\slash'
printf 'glob\n' >names/'*?[x]'
name255=$(printf 'n%.0s' $(seq 1 250))'.long'
printf '255\n' >"names/$name255"
mkdir "names/${name255:0:254}d"
printf 'in 255 dir\n' >"names/${name255:0:254}d/$name255"
ln -s "$name255" "names/${name255:0:253}ln"
mkdir names/$'dir\nwith\xffodd'
printf 'x\n' >names/$'dir\nwith\xffodd'/$'\x7f'
[ ${#name255} -eq 255 ]

# ---- a path near PATH_MAX (4096): 3900 bytes below DIR, built relatively
(
        mkdir deep && cd deep
        comp=$(printf 'd%.0s' $(seq 1 190))
        len=5   # "deep/"
        while [ $((3900 - len)) -gt 255 ]; do
                mkdir "$comp" && cd "$comp"
                len=$((len + 191))
        done
        fill=$((3900 - len - 1))
        printf 'at the bottom\n' >"$(printf 'f%.0s' $(seq 1 $fill))"
)

# ---- times: ns mtimes in any year; files first, directories deepest first
ts() { touch -h -d "$1" -- "$2"; }
ts '2100-01-01 00:00:00.123456789' small
ts '1901-12-14 00:00:00' binary
ts '1970-01-01 00:00:00.5' empty
ts '2038-01-19 03:14:08.000000001' random-3m
ts '1969-12-31 23:59:59.999999999' setuid
ts '2001-09-09 01:46:40.987654321' abs-link
ts '1999-12-31 23:59:59.000000042' dangling-link
ts '2100-02-03 04:05:06.7' nested/a/b/rel-link
ts '2012-12-12 12:12:12.121212121' links/h1
ts '2005-05-05 05:05:05.5' fifo
ts '2020-02-29 23:59:59.999999999' sparse-1g
ts '1980-01-01 00:00:00.000000001' names/$'new\nline'
ts '2099-12-31 23:59:59.999999999' "names/$name255"
# a newly created or unpacked entry would get "now": set every other one too
find . -mindepth 1 ! -type d ! -newermt '2090-01-01' -newermt '1 hour ago' -print0 |
        xargs -0 -r touch -h -d '2011-11-11 11:11:11.111111111' --
n=0
find . -mindepth 1 -depth -type d -print0 | while IFS= read -r -d '' d; do
        n=$((n + 1))
        touch -d "2010-01-01 00:00:00.$(printf '%09d' $((n * 7919)))" -- "$d"
done
touch -d '1901-12-14 00:00:01.000000002' empty-dir
touch -d '2100-01-01 00:00:00.999999999' .
echo "make-hostile-tree: $(find . | wc -l) entries in $dir (root: $root)" >&2
