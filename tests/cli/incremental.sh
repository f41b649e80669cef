#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Deduplication across snapshots: backing up an unchanged tree again stores
# no data chunk (at most the trees of directories whose metadata moved), with
# the parent snapshot and with --force alike; inserting 100 bytes in the
# middle of a 20 MiB file stores far less than the file; the latest and the
# previous snapshot both restore exactly.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

MIB=$((1024 * 1024))
src=$W/src
mkdir -p "$src/a/b" "$src/c"
rand_file "$src/big" $((20 * MIB))
for i in 1 2 3 4; do
        rand_file "$src/a/r$i" $((MIB + i * 4099))
done
rand_file "$src/a/b/r5" $((2 * MIB))
printf 'small\n' >"$src/c/small"
cp -p -- "$src/big" "$W/big.orig"
cp -a -- "$src" "$W/src.orig"

expect_exit 0 cairn init
expect_exit 0 cairn backup --json "$src"
first=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
[ -n "$first" ] || die "backup --json printed no snapshot id"
total=$(json_num bytes "$W/out")
[ "$total" -ge $((26 * MIB)) ] || die "first backup counted $total bytes, expected the whole tree"

# Unchanged: nothing but directory trees may be new.
check_unchanged() {
        local what=$1 dirs blobs stored
        dirs=$(json_num dirs "$W/out")
        blobs=$(json_num blobs_new "$W/out")
        stored=$(json_num stored_bytes_new "$W/out")
        note "$what: dirs=$dirs blobs_new=$blobs stored_bytes_new=$stored"
        [ "$blobs" -le $((dirs + 1)) ] ||
                die "$what: $blobs new blobs for $dirs directories: data chunks were stored again"
        [ "$stored" -lt $((256 * 1024)) ] || die "$what: $stored bytes stored for an unchanged tree"
}
expect_exit 0 cairn backup --json "$src"
check_unchanged "unchanged re-backup"
expect_exit 0 cairn backup --json --force "$src"
check_unchanged "unchanged re-backup with --force"

# Insert 100 bytes in the middle of the 20 MiB file.
half=$((10 * MIB))
{
        head -c "$half" -- "$W/big.orig"
        head -c 100 /dev/urandom
        tail -c +$((half + 1)) -- "$W/big.orig"
} >"$W/big.new"
cat -- "$W/big.new" >"$src/big"   # same inode, new content and mtime
[ "$(stat -c %s "$src/big")" = $((20 * MIB + 100)) ] || die "test bug: edited file has the wrong size"
expect_exit 0 cairn backup --json "$src"
stored=$(json_num stored_bytes_new "$W/out")
note "100-byte insert into 20 MiB: stored_bytes_new=$stored"
[ "$stored" -lt $((8 * MIB)) ] ||
        die "a 100-byte insert into a 20 MiB file stored $stored bytes (the chunker should resync)"
[ "$stored" -gt 100 ] || die "a changed file stored nothing new ($stored bytes)"

expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 4 ] || die "expected 4 snapshots: $(cat "$W/out")"

# Both versions restore.
expect_exit 0 cairn restore latest --target "$W/r-latest"
cmp -- "$W/big.new" "$W/r-latest$src/big" || die "latest snapshot: big file differs"
diff -r -x big -- "$W/src.orig" "$W/r-latest$src" >&2 || die "latest snapshot: other files differ"

expect_exit 0 cairn restore "$first" --target "$W/r-first"
cmp -- "$W/big.orig" "$W/r-first$src/big" || die "first snapshot: big file differs from the original"
same_tree "$W/src.orig" "$W/r-first$src" || die "first snapshot differs from the original tree"

expect_exit 0 cairn check --read-data
note "ok"
