#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Snapshot filters (issue 9, item 6): --host, --tag and --path select what
# 'latest' names on ls, dump and restore, and what snapshots lists, with
# restic's semantics: any of the hosts, every tag of one --tag list (any of
# the lists; '' is "no tags"), every given path among the snapshot's. An id
# names its snapshot whatever the filters say.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

mkdir -p "$W/a" "$W/b"
cd "$W"

expect_exit 0 cairn init
s1=$(backup_as 1 alpha "a b" x y)
s2=$(backup_as 2 beta "a" x)
s3=$(backup_as 3 alpha "a" y)
s4=$(backup_as 4 beta "a b")
s5=$(backup_as 5 gamma "b" x)

ids() { snapshot_ids "$@"; }
want() {        # want "WHAT" "IDS" ARGS...
        local what=$1 expected=$2 got
        shift 2
        got=$(ids "$@")
        [ "$got" = "$expected" ] || fail "$what: snapshots $* listed '$got', expected '$expected'"
}

note "item 6: snapshots --host, any of several"
want "no filter" "$s1 $s2 $s3 $s4 $s5 "
want "one host" "$s1 $s3 " --host alpha
want "two hosts" "$s1 $s3 $s5 " --host alpha --host gamma
want "unknown host" "" --host delta

note "item 6: snapshots --tag: every tag of one list, any list"
want "one tag" "$s1 $s2 $s5 " --tag x
want "a list" "$s1 " --tag x,y
want "a list with spaces" "$s1 " --tag 'y, x'
want "two lists" "$s1 $s3 " --tag x,y --tag y
want "'' is no tags" "$s4 " --tag ''
want "'' or y" "$s1 $s3 $s4 " --tag '' --tag y

note "item 6: snapshots --path: every given path among the snapshot's"
want "one path" "$s1 $s2 $s3 $s4 " --path "$W/a"
want "relative path, cleaned" "$s1 $s2 $s3 $s4 " --path ./a/
want "two paths" "$s1 $s4 " --path "$W/a" --path "$W/b"
want "b" "$s1 $s4 $s5 " --path "$W/b"

note "item 6: all three together"
want "host, tag, path" "$s2 " --host beta --tag x --path "$W/a"
want "host, tag, path: none" "" --host beta --tag y --path "$W/a"

expect_exit 0 cairn snapshots --host alpha
grep -q '^2 snapshots$' "$W/out" || fail "snapshots --host alpha: the count line says $(tail -1 "$W/out")"

note "item 6: latest of ls, dump and restore follows the filters"
expect_exit 0 cairn dump --host alpha latest "$W/a/f"
[ "$(cat "$W/out")" = "alpha 3" ] || fail "dump --host alpha latest gave '$(cat "$W/out")', expected snapshot 3"
expect_exit 0 cairn dump --tag x,y latest "$W/b/f"
[ "$(cat "$W/out")" = "alpha 1" ] || fail "dump --tag x,y latest gave '$(cat "$W/out")'"
expect_exit 0 cairn dump --path "$W/b" --host beta latest "$W/b/f"
[ "$(cat "$W/out")" = "beta 4" ] || fail "dump --path b --host beta latest gave '$(cat "$W/out")'"
expect_exit 0 cairn dump latest "$W/b/f"
[ "$(cat "$W/out")" = "gamma 5" ] || fail "dump latest without filters gave '$(cat "$W/out")'"
expect_exit 0 cairn ls --tag y latest
grep -qx "$W/a/f" "$W/out" || fail "ls --tag y latest does not list a/f"
grep -q "^$W/b" "$W/out" && fail "ls --tag y latest lists b: it took a snapshot with b (not snapshot 3)"
expect_exit 0 cairn restore --host beta --tag '' latest --target "$W/r1"
[ "$(cat "$W/r1$W/a/f")" = "beta 4" ] || fail "restore --host beta --tag '' latest restored another snapshot"
expect_exit 0 cairn restore --host gamma "latest:$W/b" --target "$W/r2"
[ "$(cat "$W/r2/f")" = "gamma 5" ] || fail "restore --host gamma latest:PATH restored another snapshot"

note "item 6: nothing matches: exit 1, the message names the filters"
expect_exit 1 cairn ls --host delta --tag 'q,r' latest
grep -q "no snapshot matches --host 'delta' --tag 'q,r' for 'latest'" "$W/err" ||
        fail "ls with filters that match nothing said: $(cat "$W/err")"

note "item 6: an id names its snapshot whatever the filters say"
expect_exit 0 cairn dump --host beta "${s1:0:8}" "$W/a/f"
[ "$(cat "$W/out")" = "alpha 1" ] || fail "dump --host beta ID gave '$(cat "$W/out")'"

note "item 6: with several controllers, latest still needs --controller, and filters work within it"
expect_exit 0 cairn controller add other
expect_exit 2 cairn ls --host alpha latest
expect_exit 0 cairn --controller other backup --host alpha "$W/a"
expect_exit 0 cairn --controller other dump --host alpha latest "$W/a/f"
[ "$(cat "$W/out")" = "gamma 5" ] || fail "other controller's latest for alpha gave '$(cat "$W/out")'"
want "a controller's snapshots by host" "$s1 $s3 " --host alpha --controller default
[ "$(ids --host alpha | wc -w)" = 3 ] || fail "snapshots --host alpha over both controllers: not 3"
