#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Large directories (issue 8, item 12): one directory whose entries do not
# fit one tree blob is stored as leaves and a tree list, has no practical
# size limit, and never fails the whole backup.
#
# The cap is on a directory's encoded bytes, whatever fills them (big xattrs,
# many entries, long names): 4300 files with a 64 KiB xattr (282 MB) prove
# the same cap as 720k files with 248-byte names, in a second instead of
# minutes. 64 KiB xattr values need tmpfs (/dev/shm) here: ext4 holds 4 KiB.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is needed to make many xattrs quickly"

# make_files DIR COUNT BYTES SEED: COUNT empty files f-000000.. in DIR, each
# with a user.pad xattr of BYTES (random when SEED is "random", else the
# file's number repeated: compressible).
make_files() {
        python3 - "$@" <<'PY'
import os, sys
d, count, size, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
for i in range(count):
    p = os.path.join(d, "f-%06d" % i)
    open(p, "w").close()
    v = os.urandom(size) if seed == "random" else bytes([i % 251]) * size
    os.setxattr(p, "user.pad", v)
PY
}

# same_xattrs A B: every file of A has the same user.pad in B.
same_xattrs() {
        python3 - "$1" "$2" <<'PY'
import os, sys
a, b = sys.argv[1], sys.argv[2]
names = sorted(os.listdir(a))
for n in names:
    if os.getxattr(os.path.join(a, n), "user.pad") != os.getxattr(os.path.join(b, n), "user.pad"):
        sys.exit("xattr of %s differs" % n)
if sorted(os.listdir(b)) != names:
    sys.exit("entries differ")
PY
}

expect_exit 0 cairn init

note "item 12: 3000 files with 3.9 KB xattrs (12 MB) are stored as leaves and come back"
mkdir "$W/mid"
make_files "$W/mid" 3000 3900 random
expect_exit 0 cairn backup --json "$W/mid"
first=$(json_num stored_bytes_new "$W/out")
expect_exit 0 cairn ls latest "$W/mid"
[ "$(wc -l <"$W/out")" = 3000 ] || fail "ls lists $(wc -l <"$W/out") entries of 3000"
check_exit 0 cairn check || fail "check: $(head -c 300 "$W/err")"
expect_exit 0 cairn restore latest --target "$W/r1"
same_xattrs "$W/mid" "$W/r1$W/mid" || fail "restored xattrs differ"
rm -rf -- "$W/r1"

note "item 12: one more file rewrites one leaf or two, not the whole directory"
touch "$W/mid/f-001500x"
expect_exit 0 cairn backup --json "$W/mid"
again=$(json_num stored_bytes_new "$W/out")
[ "$again" -lt $((first / 3)) ] || fail "one new file stored $again bytes of trees again (the first backup: $first)"
expect_exit 0 cairn ls latest "$W/mid"
[ "$(wc -l <"$W/out")" = 3001 ] || fail "ls lists $(wc -l <"$W/out") entries of 3001"

shm=$(mktemp -d /dev/shm/cairn-cli-bigdir.XXXXXX 2>/dev/null) || skip "no /dev/shm for 64 KiB xattrs"
at_exit "rm -rf -- '$shm'"
probe=$shm/probe
touch "$probe"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.x", b"x" * 65536)' "$probe" 2>/dev/null ||
        skip "tmpfs here takes no 64 KiB user xattrs"
rm -f -- "$probe"

note "item 12: 4300 files with a 64 KiB xattr: 282 MB in one directory, over the old 256 MiB cap"
mkdir "$shm/big"
make_files "$shm/big" 4300 65536 number
expect_exit 0 cairn backup --json "$shm/big"
grep -q '"errors":0' "$W/out" || fail "errors in the backup of the big directory: $(cat "$W/out")"
expect_exit 0 cairn ls latest "$shm/big"
[ "$(wc -l <"$W/out")" = 4300 ] || fail "ls lists $(wc -l <"$W/out") entries of 4300"
check_exit 0 cairn check || fail "check: $(head -c 300 "$W/err")"
expect_exit 0 cairn restore latest --target "$shm/r"
same_xattrs "$shm/big" "$shm/r$shm/big" || fail "restored 64 KiB xattrs differ"
rm -rf -- "$shm/r" "$shm/big"

note "item 12: an entry too large for any tree blob is a recorded error (exit 3); the rest is saved"
mkdir "$shm/huge"
make_files "$shm/huge" 3 100 number
python3 - "$shm/huge/f-000001" <<'PY'
import os, sys
v = b"h" * 65536
for i in range(4100):          # 4100 x 64 KiB: over 256 MiB of xattrs on one file
    os.setxattr(sys.argv[1], "user.%d" % i, v)
PY
expect_exit 3 cairn backup "$shm/huge"
grep -q 'f-000001: its metadata (extended attributes) is larger than a snapshot entry can hold' "$W/err" ||
        fail "the warning does not say what is wrong: $(head -c 400 "$W/err")"
expect_exit 0 cairn ls latest "$shm/huge"
grep -q '/f-000000$' "$W/out" && grep -q '/f-000002$' "$W/out" || fail "the other files were not saved"
grep -q '/f-000001$' "$W/out" && fail "the entry that cannot be stored is listed"
check_exit 0 cairn check || fail "check: $(head -c 300 "$W/err")"
