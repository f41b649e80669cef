# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Shared by the tests/remote/*.sh scripts, sourced after tests/cli/lib.sh:
#
#       remote_round_trip     a CLI round trip through $REPO: init, a backup
#                             of $W/simple (made here unless the caller made it
#                             already, perhaps with files of its own) and of
#                             the hostile tree of tests/integration/, check
#                             --read-data, a restore of the latest snapshot,
#                             and both trees compared with their sources
#                             (treecmp.sh for every metadata kind)

HOSTILE=$SRCDIR/tests/integration/make-hostile-tree.sh
TREECMP=$SRCDIR/tests/integration/treecmp.sh

remote_round_trip() {
        [ -d "$W/simple" ] || make_simple_tree "$W/simple"
        bash "$HOSTILE" "$W/hostile" || die "make-hostile-tree.sh failed"
        expect_exit 0 cairn init
        expect_exit 0 cairn backup --json "$W/simple" "$W/hostile"
        [ "$(json_num errors "$W/out")" = 0 ] || die "backup reported errors"
        expect_exit 0 cairn check --read-data
        expect_exit 0 cairn restore latest --target "$W/restored"
        same_tree "$W/simple" "$W/restored$W/simple" || die "restored plain tree differs (diff above)"
        bash "$TREECMP" "$W/hostile" "$W/restored$W/hostile" >&2 ||
                die "treecmp: restored hostile tree differs from the source (differences above)"
}
