#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# A prune killed with SIGKILL at any point (issue 9, item 3): strace kills
# `prune --max-unused 0` at its N-th deletion (unlink, unlinkat), and, in a
# second series, at its N-th put (the local backend puts a .tmp- file, then
# renames or links it: rename, renameat, renameat2, link, linkat), for
# N = 1, 2, ... until a prune runs to the end unkilled. strace counts per
# syscall and per thread, so N is the N-th call of one kind in one thread.
#
# The prepared repository gives prune work of every kind: whole packs to
# delete, packs to repack, a plan to write (a forgotten snapshot), a plan
# left by an earlier killed prune to carry out and remove, and the ledger
# file of a backup killed between its ledger and its pack. Each kill starts
# from a fresh copy of it; after the kill, check passes, every snapshot
# restores to its source, and the next prune runs at once and finishes the
# job: check --read-data passes, nothing unreachable is left, no plan,
# session or ledger without its pack stays behind.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=prune-lib.sh
. "$(dirname -- "$0")/prune-lib.sh"

command -v strace >/dev/null || skip "strace is not installed (packaging/install-deps.sh --test)"
strace -f -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not allowed)"

DELETES=unlink,unlinkat
PUTS=rename,renameat,renameat2,link,linkat

objects() {
        find "$REPO/$1" -type f ! -name '.tmp-*' 2>/dev/null | wc -l
}

cd "$W"
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
src=$W/src

note "setup: three snapshots of a changing tree, the oldest forgotten"
fill_tree "$src" 1 1
s1=$(backup_state "$src")
fill_tree "$src" 1 2
s2=$(backup_state "$src")
fill_tree "$src" 1 3
s3=$(backup_state "$src")
expect_exit 0 cairn forget --keep-last 2

note "setup: a prune killed after it put its plan (at its first deletion)"
killed "$DELETES" 1 "$CAIRN" -r "$REPO" prune --max-unused 0
[ "$rc" = 137 ] || die "the prune to leave a plan was not killed (exit $rc): $(cat "$W/killed.err")"
[ "$(objects "prune/$ctl")" -ge 1 ] || die "the killed prune left no plan"

note "setup: another snapshot, the next oldest forgotten (a new plan to write)"
fill_tree "$src" 1 4
s4=$(backup_state "$src")
expect_exit 0 cairn forget --keep-last 2
# and a snapshot of its own data, forgotten whole: a pack nothing needs
fill_tree "$W/gone" 3 1
backup_state "$W/gone" --host gone >/dev/null
expect_exit 0 cairn forget --keep-none --host gone

note "setup: a backup killed between its ledger file and its pack"
fill_tree "$W/other" 2 1
killed linkat 2 "$CAIRN" -r "$REPO" backup "$W/other"
[ "$rc" = 137 ] || die "the backup to leave a ledger was not killed (exit $rc): $(cat "$W/killed.err")"
[ "$(objects "ledger/$ctl")" -gt "$(objects "data/$ctl")" ] || die "the killed backup left no ledger without its pack"
# Their sessions are a dead backup's and a dead prune's; a prune removes such
# sessions once they are 2 hours old: here they go now.
rm -f -- "$REPO/writers/$ctl"/*
expect_exit 0 cairn check
[ "$(snapshot_ids)" = "$s3 $s4 " ] || die "setup: snapshots are $(snapshot_ids), not s3 s4"
expect_exit 0 cairn prune --max-unused 0 --dry-run --json
work=$(cat "$W/out")
# whole packs, repacked packs, a new plan, the killed prune's plan
[ "$(json_num packs_repacked "$W/out")" -gt 0 ] &&
        [ "$(json_num packs_deleted "$W/out")" -gt "$(json_num packs_repacked "$W/out")" ] &&
        [ "$(json_num blobs_planned "$W/out")" -gt 0 ] && [ "$(json_num plans_removed "$W/out")" = 0 ] ||
        die "setup: not every kind of work for prune: $work"
note "setup: prune would do: $work"
cp -a -- "$REPO" "$W/pristine"
: "$s1" "$s2"

# after_kill WHAT: what a killed prune leaves checks clean and restores,
# and the next prune finishes the job.
after_kill() {
        local what=$1 id
        check_exit 0 cairn check || { fail "$what: check fails after the kill"; return; }
        for id in $s3 $s4; do
                restore_matches "$id" || fail "$what: snapshot ${id:0:8} lost by the kill"
        done
        check_exit 0 cairn prune --max-unused 0 --json || { fail "$what: the next prune fails"; return; }
        check_exit 0 cairn check --read-data || { fail "$what: check --read-data fails after the next prune"; return; }
        check_exit 0 cairn prune --max-unused 0 --dry-run --json || return
        [ "$(json_num blobs_unreachable "$W/out")" = 0 ] && [ "$(json_num blobs_duplicate "$W/out")" = 0 ] ||
                fail "$what: the prune after the kill left unneeded blobs: $(cat "$W/out")"
        [ "$(objects "prune/$ctl")" = 0 ] || fail "$what: plans left: $(objects "prune/$ctl")"
        [ "$(objects "writers/$ctl")" = 0 ] || fail "$what: sessions left: $(objects "writers/$ctl")"
        [ "$(objects "ledger/$ctl")" = "$(objects "data/$ctl")" ] ||
                fail "$what: $(objects "ledger/$ctl") ledger files for $(objects "data/$ctl") packs"
        [ "$(snapshot_ids)" = "$s3 $s4 " ] || fail "$what: snapshots are now $(snapshot_ids)"
        for id in $s3 $s4; do
                restore_matches "$id" || fail "$what: snapshot ${id:0:8} does not restore after the next prune"
        done
}

# series NAME SET: kill at call N = 1, 2, ... of SET until prune finishes.
series() {
        local name=$1 set=$2 n
        for ((n = 1; ; n++)); do
                REPO=$W/r
                rm -rf -- "$REPO"
                cp -a -- "$W/pristine" "$REPO"
                killed "$set" "$n" "$CAIRN" -r "$REPO" prune --max-unused 0
                if [ "$rc" = 0 ]; then
                        note "item 3: $name: the prune ran to the end at N=$n; $((n - 1)) kills survived"
                        [ "$n" -gt 2 ] || fail "$name: only $((n - 1)) kill points: is strace counting?"
                        return
                fi
                [ "$rc" = 137 ] || {
                        fail "$name $n: prune exited $rc instead of being killed: $(cat "$W/killed.err")"
                        return
                }
                after_kill "killed at $name $n"
                [ "$n" -lt 200 ] || die "$name: still killed at N=$n"
        done
}

note "item 3: a prune killed at each deletion"
series deletion "$DELETES"
note "item 3: a prune killed at each put"
series put "$PUTS"
