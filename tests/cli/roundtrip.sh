#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A backup restores to an identical tree: a plain tree (files, dirs, symlinks,
# a hard link, odd modes and times) always, and the hostile fixture of
# tests/integration/make-hostile-tree.sh compared by treecmp.sh when those
# are there. Restore recreates /abs/path under TARGET/abs/path, and with
# ID:PATH puts the contents of PATH in TARGET.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

HOSTILE=$SRCDIR/tests/integration/make-hostile-tree.sh
TREECMP=$SRCDIR/tests/integration/treecmp.sh

expect_exit 0 cairn --json init
grep -q '"repository":"[0-9a-f]*"' "$W/out" || die "init --json printed no repository id: $(cat "$W/out")"

make_simple_tree "$W/simple"
paths=("$W/simple")
hostile=false
if [ -f "$HOSTILE" ] && [ -f "$TREECMP" ]; then
        if command -v getfattr >/dev/null; then
                bash "$HOSTILE" "$W/hostile" || die "make-hostile-tree.sh failed"
                paths+=("$W/hostile")
                hostile=true
        else
                note "getfattr (attr) missing: hostile tree part skipped"
        fi
else
        note "tests/integration/make-hostile-tree.sh or treecmp.sh missing: hostile tree part skipped"
fi

expect_exit 0 cairn backup --json "${paths[@]}"
[ "$(json_num errors "$W/out")" = 0 ] || die "backup reported errors"
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 1 ] || die "expected 1 snapshot: $(cat "$W/out")"
grep -q '"partial":false' "$W/out" || die "a complete backup is listed as partial"

# ls names the absolute paths.
expect_exit 0 cairn ls latest
grep -qxF "$W/simple/sub/deeper/blob" "$W/out" || die "ls latest lacks $W/simple/sub/deeper/blob"
grep -qxF "$W/simple/link-rel" "$W/out" || die "ls latest lacks $W/simple/link-rel"

# Whole snapshot: /abs/path lands in TARGET/abs/path.
expect_exit 0 cairn restore latest --target "$W/out-all"
[ -d "$W/out-all$W/simple" ] || die "restore did not put $W/simple under the target as $W/out-all$W/simple"
same_tree "$W/simple" "$W/out-all$W/simple" || die "restored plain tree differs from the source (diff above)"
[ "$(stat -c %i "$W/out-all$W/simple/small")" = "$(stat -c %i "$W/out-all$W/simple/sub/hardlink")" ] ||
        die "the hard link pair was restored as two files"
[ "$(stat -c %a "$W/out-all$W/simple/random-1m")" = 4755 ] || die "setuid bit lost on restore"
if $hostile; then
        bash "$TREECMP" "$W/hostile" "$W/out-all$W/hostile" >&2 ||
                die "treecmp: restored hostile tree differs from the source (differences above)"
fi

# A second backup takes every unchanged file from the first snapshot (the
# files cache): what it records must restore just as completely.
if $hostile; then
        expect_exit 0 cairn backup --json "${paths[@]}"
        expect_exit 0 cairn restore latest --target "$W/out-again"
        bash "$TREECMP" "$W/hostile" "$W/out-again$W/hostile" >&2 ||
                die "treecmp: the hostile tree restored from the incremental snapshot differs (differences above)"
fi

# ID:PATH: the contents of PATH land in TARGET.
expect_exit 0 cairn restore "latest:$W/simple" --target "$W/out-sub"
[ -f "$W/out-sub/small" ] || die "restore latest:PATH did not put the contents of PATH in the target"
same_tree "$W/simple" "$W/out-sub" || die "restore latest:PATH differs from the source (diff above)"

# dump gives back one file byte for byte.
"$CAIRN" -r "$REPO" dump latest "$W/simple/random-1m" >"$W/dumped" || die "dump failed"
cmp -- "$W/simple/random-1m" "$W/dumped" || die "dump differs from the source file"

expect_exit 0 cairn check --read-data
note "ok"
