#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Nothing of the source is visible in the repository files: not a marker
# string repeated through a (compressible) file, not the plain SHA-256 of
# any source file (raw or hex), not the names of files and directories.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

marker=$(head -c 32 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
[ ${#marker} = 64 ] || die "test bug: marker is ${#marker} chars"
tag=$(head -c 8 /dev/urandom | od -An -v -tx1 | tr -d ' \n')
src=$W/src-$tag-dir
mkdir -p "$src/subdir-$tag"
for _ in $(seq 1 2000); do printf '%s\n' "$marker"; done >"$src/marker-$tag.txt"
head -c $((2 * 1024 * 1024)) /dev/urandom >"$src/subdir-$tag/random-$tag.bin"
printf 'a short file %s\n' "$tag" >"$src/short-$tag.txt"
printf 'x' >"$src/one-byte-$tag"
expect_exit 0 cairn init
expect_exit 0 cairn backup "$src"
# A second snapshot of stdin too: the stdin name must not show either.
expect_exit 0 cairn backup --stdin --stdin-filename "stdin-name-$tag" <"$src/short-$tag.txt"

mapfile -t repo_files < <(find "$REPO" -type f)
[ ${#repo_files[@]} -gt 3 ] || die "the repository holds too few files: ${repo_files[*]}"

# Strings: the marker, the names (with the per-run tag, so they cannot occur
# by chance), and each file's SHA-256 in hex.
needles=("$marker" "$tag")
while IFS= read -r -d '' f; do
        needles+=("$(basename -- "$f")")
        [ -f "$f" ] && needles+=("$(sha256sum <"$f" | cut -d' ' -f1)")
done < <(find "$src" -mindepth 1 -print0)
for n in "${needles[@]}"; do
        if grep -r -l -a -F -e "$n" -- "$REPO" >"$W/hits"; then
                fail "'$n' occurs in the repository: $(tr '\n' ' ' <"$W/hits")"
        fi
done

# The raw 32-byte digests: search each repository file's hex dump (a hit at
# an odd nibble is a false alarm we accept: 2^-256).
: >"$W/repo.hex"
for f in "${repo_files[@]}"; do
        od -An -v -tx1 -- "$f" | tr -d ' \n' >>"$W/repo.hex"
        echo >>"$W/repo.hex"
done
while IFS= read -r -d '' f; do
        d=$(sha256sum <"$f" | cut -d' ' -f1)
        if grep -q -F -e "$d" "$W/repo.hex"; then
                fail "the raw SHA-256 of $f occurs in the repository"
        fi
done < <(find "$src" -type f -print0)
# The hex dump search works: a repository file's own bytes are found.
probe=$(head -c 64 -- "${repo_files[0]}" | od -An -v -tx1 | tr -d ' \n')
grep -q -F -e "$probe" "$W/repo.hex" || die "test bug: the hex search does not find known bytes"

# And the backup is real: it restores.
expect_exit 0 cairn snapshots --json
first=$(grep -o '"id":"[0-9a-f]*","short_id"' "$W/out" | head -n 1 | cut -d'"' -f4)
expect_exit 0 cairn restore "$first" --target "$W/restored"
diff -r -- "$src" "$W/restored$src" >&2 || die "the privacy fixture did not restore (diff above)"

note "issue 10: a backup never takes the key store in (nor the repository)"
mkdir -p "$W/tree"
printf 'x\n' >"$W/tree/f"
expect_exit 0 env CAIRN_KEY_STORE="$W/tree/ks" "$CAIRN" -r "$W/tree/repo" init
expect_exit 0 env CAIRN_KEY_STORE="$W/tree/ks" "$CAIRN" -r "$W/tree/repo" backup "$W/tree"
expect_exit 0 env CAIRN_KEY_STORE="$W/tree/ks" "$CAIRN" -r "$W/tree/repo" ls latest
grep -q "$W/tree/f" "$W/out" || fail "the file next to the key store was not backed up"
grep -q -e "$W/tree/ks" -e "$W/tree/repo" "$W/out" && fail "the key store or the repository was backed up: $(cat "$W/out")"
note "done"
