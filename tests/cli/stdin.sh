#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# backup --stdin stores standard input as one file, /NAME in the snapshot,
# from a redirected file and from a pipe alike (empty input too); dump and
# restore give it back byte for byte; bad --stdin-filename values and paths
# next to --stdin are usage errors; --compression picks the zstd level;
# chunks are the same whether the bytes come from a file or a pipe.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

expect_exit 0 cairn init
# Some text, some random bytes, some runs of zeros: a dump-like stream.
{
        for i in $(seq 1 2000); do echo "INSERT INTO t VALUES ($i, 'row $i');"; done
        head -c $((3 * 1024 * 1024)) /dev/urandom
        head -c $((2 * 1024 * 1024)) /dev/zero
        echo "-- end"
} >"$W/db.sql"

expect_exit 0 cairn backup --stdin --stdin-filename db.sql <"$W/db.sql"
"$CAIRN" -r "$REPO" dump latest /db.sql >"$W/dumped" || die "dump latest /db.sql failed"
cmp -- "$W/db.sql" "$W/dumped" || die "dump of the --stdin file differs from the input"

expect_exit 0 cairn ls latest
grep -qxF /db.sql "$W/out" || die "ls latest does not show /db.sql: $(cat "$W/out")"

# A pipe, and the default name.
cat -- "$W/db.sql" | "$CAIRN" -r "$REPO" backup --stdin >"$W/out" 2>"$W/err" ||
        die "backup --stdin from a pipe failed: $(cat "$W/err")"
"$CAIRN" -r "$REPO" dump latest /stdin >"$W/dumped2" || die "dump latest /stdin failed"
cmp -- "$W/db.sql" "$W/dumped2" || die "dump of piped --stdin differs from the input"

# Empty input is an empty file.
expect_exit 0 cairn backup --stdin --stdin-filename empty </dev/null
"$CAIRN" -r "$REPO" dump latest /empty >"$W/dumped3" || die "dump latest /empty failed"
[ ! -s "$W/dumped3" ] || die "empty stdin dumped as $(stat -c %s "$W/dumped3") bytes"

# restore of the first one puts db.sql at the top of the target.
expect_exit 0 cairn snapshots --json
first=$(grep -o '"id":"[0-9a-f]*","short_id"' "$W/out" | head -n 1 | cut -d'"' -f4)
expect_exit 0 cairn restore "$first" --target "$W/restored"
cmp -- "$W/db.sql" "$W/restored/db.sql" || die "restored db.sql differs from the input"

# Another zstd level: a different stream (so its chunks are new) comes back
# the same, and is stored smaller than at level 1 in a repository of its own.
sed 's/row/line/' "$W/db.sql" >"$W/db2.sql"
expect_exit 0 cairn backup --stdin --stdin-filename db2.sql --compression 19 <"$W/db2.sql"
"$CAIRN" -r "$REPO" dump latest /db2.sql | cmp -- "$W/db2.sql" - || die "a level-19 chunk dumps differently"
# Text only: the two repositories cut chunks at other places (their chunker
# keys differ), which moves random bytes' cost by more than the levels differ.
for i in $(seq 1 20000); do echo "INSERT INTO t VALUES ($i, 'line $((i * 7919 % 10007))');"; done >"$W/text.sql"
for level in 1 19; do
        "$CAIRN" -r "$W/z$level" init >/dev/null 2>&1 || die "init $W/z$level failed"
        "$CAIRN" -r "$W/z$level" backup --stdin --compression "$level" <"$W/text.sql" >/dev/null ||
                die "backup --compression $level failed"
done
stored() { find "$1/data" -type f ! -name '.tmp-*' -printf '%s\n' | awk '{ n += $1 } END { print n + 0 }'; }
[ "$(stored "$W/z19")" -lt "$(stored "$W/z1")" ] ||
        die "level 19 stored no fewer bytes than level 1: $(stored "$W/z19") against $(stored "$W/z1")"

# Chunk boundaries do not depend on how the bytes arrive: a file read from
# disk (large reads) and the same bytes through a pipe (at most 64 KiB a
# read) make the same chunks, so the second backup stores no data, only its
# root tree. Its own repository, so the snapshot count below holds.
rand_file "$W/big" $((20 * 1024 * 1024))
"$CAIRN" -r "$W/bounds" init >/dev/null 2>&1 || die "init $W/bounds failed"
"$CAIRN" -r "$W/bounds" --json backup "$W/big" >"$W/b1.json" || die "backup of $W/big failed"
[ "$(json_num blobs_new "$W/b1.json")" -ge 3 ] || die "20 MiB made fewer than 3 chunks: $(cat "$W/b1.json")"
cat -- "$W/big" | "$CAIRN" -r "$W/bounds" --json backup --stdin --stdin-filename big >"$W/b2.json" ||
        die "backup of the pipe failed"
[ "$(json_num blobs_new "$W/b2.json")" -le 1 ] ||
        die "the same bytes through a pipe were cut differently: $(cat "$W/b2.json")"

# Usage errors.
expect_exit 2 cairn backup --stdin --compression 0 </dev/null
expect_exit 2 cairn backup --stdin --compression 20 </dev/null
expect_exit 2 cairn backup --stdin --stdin-filename a/b </dev/null
expect_exit 2 cairn backup --stdin --stdin-filename .. </dev/null
expect_exit 2 cairn backup --stdin "$W" </dev/null
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 4 ] || die "usage errors must not save snapshots: $(cat "$W/out")"
note "ok"
