#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# backup --stdin stores standard input as one file, /NAME in the snapshot,
# from a redirected file and from a pipe alike (empty input too); dump and
# restore give it back byte for byte; bad --stdin-filename values and paths
# next to --stdin are usage errors.
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

# Usage errors.
expect_exit 2 cairn backup --stdin --stdin-filename a/b </dev/null
expect_exit 2 cairn backup --stdin --stdin-filename .. </dev/null
expect_exit 2 cairn backup --stdin "$W" </dev/null
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 3 ] || die "usage errors must not save snapshots: $(cat "$W/out")"
note "ok"
