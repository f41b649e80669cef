#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# An erasure killed with SIGKILL at any point, then run again (issue 10):
# strace kills `erase --path` at its N-th deletion (unlink, unlinkat; N up
# to 13 here, from 14 in erase-kill-late.sh) and, in a second series
# (erase-kill-put.sh), at its N-th put (the local backend and key store put a
# .tmp- file, then rename or link it), for N = 1, 2, ... until the erasure
# runs to the end unkilled. Each kill starts from a fresh copy of the
# repository and key store. After the kill, check passes; the same erase
# again exits 0; then check --read-data passes, every snapshot restores to
# what it held less the erased part (nothing erased restores), the key store
# holds exactly one key, every ledger and snapshot is at the record's epoch,
# and no request, session or plan is left.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=prune-lib.sh
. "$(dirname -- "$0")/prune-lib.sh"
# shellcheck source=erase-lib.sh
. "$(dirname -- "$0")/erase-lib.sh"

command -v strace >/dev/null || skip "strace is not installed (packaging/install-deps.sh --test)"
strace -f -o /dev/null true 2>/dev/null || skip "strace cannot trace here (ptrace not allowed)"

DELETES=unlink,unlinkat
PUTS=rename,renameat,renameat2,link,linkat


# The privacy reader (tests/privacy/cairn_reader.py, written from FORMAT.md
# alone), if PyNaCl and zstandard are there: given the repository after
# the resumed erasure, its copy before the erasure and its copy right after
# the kill, with the key store as it ends, it recovers no erased marker.
reader_python
[ -n "$PY" ] || note "no python3 with PyNaCl and zstandard: old copies not read (restore and ls still checked)"

# marked FILE BYTES: random bytes around a random marker, printed
marked() {
        local m
        m=CANARY$(rand_hex 16)
        {
                head -c $(($2 / 2)) /dev/urandom
                printf '%s' "$m"
                head -c $(($2 / 2)) /dev/urandom
        } >"$1"
        echo "$m"
}

cd "$W"
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
src=$W/src
n1=N$(rand_hex 12) n2=N$(rand_hex 12) n3=N$(rand_hex 12)
mkdir -p "$src/keep/deep" "$src/secret/deep-$n1"
rand_file "$src/keep/k1" 200000
kept=$(marked "$src/keep/deep/k2" 3000)
c1=$(marked "$src/secret/s1" 150000)
c2=$(marked "$src/secret/deep-$n1/s2" 2000)
cp -- "$src/keep/k1" "$src/secret/copy-of-k1-$n2"    # a chunk the erasure keeps
expect_exit 0 cairn backup "$src"
tree_without 1 "$src" secret
kept2=$(marked "$src/keep/deep/k2" 4000)
c3=$(marked "$src/secret/s3-$n3" 5000)
expect_exit 0 cairn backup "$src"
tree_without 2 "$src" secret
expect_exit 0 cairn backup "$src/secret"       # every path reached: removed whole
expect_exit 0 cairn backup "$src/keep"         # not reached
tree_without 4 "$src/keep"
ERASED=("$c1" "$c2" "$c3" "$n1" "$n2" "$n3")
KEPT=("$kept" "$kept2")
expect_exit 0 cairn erase --path "$src/secret" --dry-run --json
[ "$(json_num snapshots_rewritten "$W/out")" = 2 ] && [ "$(json_num snapshots_deleted "$W/out")" = 1 ] &&
        [ "$(json_num chunks_kept "$W/out")" = 1 ] && [ "$(json_num chunks_destroyed "$W/out")" -ge 3 ] ||
        die "setup: the erasure would not rewrite 2 snapshots, remove 1, keep 1 chunk and destroy 3: $(cat "$W/out")"
cp -a -- "$REPO" "$W/pristine"
cp -a -- "$CAIRN_KEY_STORE" "$W/pristine-ks"
if [ -n "$PY" ]; then
        # negative control: before the erasure, the reader finds every marker
        "$PY" "$READER" --dump "$W/rd" --json "$W/rd.json" "$W/pristine" --key-store "$W/pristine-ks" 2>"$W/rd.err" ||
                die "cairn_reader.py failed on the repository before the erasure: $(head -c 2000 "$W/rd.err")"
        for m in "${ERASED[@]}" "${KEPT[@]}"; do
                grep -r -q -a -F -e "$m" -- "$W/rd" "$W/rd.json" || die "negative control: the reader does not find $m before the erasure"
        done
fi

# after_kill WHAT: what the killed erasure left checks clean; the same
# erasure again finishes it.
after_kill() {
        local what=$1 ids
        check_exit 0 cairn check || fail "$what: check fails after the kill"
        check_exit 0 cairn erase --path "$src/secret" || {
                fail "$what: the erasure run again fails"
                return
        }
        check_exit 0 cairn check --read-data || fail "$what: check --read-data fails after the erasure finished"
        read -r -a ids <<<"$(snapshot_ids)"
        [ "${#ids[@]}" = 3 ] || {
                fail "$what: ${#ids[@]} snapshots ($(snapshot_ids)), not 3"
                return
        }
        restore_equals "${ids[0]}" "$src" "$W/exp/1" || fail "$what: first snapshot"
        restore_equals "${ids[1]}" "$src" "$W/exp/2" || fail "$what: second snapshot"
        restore_equals "${ids[2]}" "$src/keep" "$W/exp/4" || fail "$what: last snapshot"
        one_epoch "$what"
        [ -n "$PY" ] || return 0
        rm -rf -- "$W/rd" "$W/rd.json"
        "$PY" "$READER" --dump "$W/rd" --json "$W/rd.json" "$REPO" --old "$W/pristine" --old "$W/killed" \
                --key-store "$CAIRN_KEY_STORE" 2>"$W/rd.err" || {
                fail "$what: cairn_reader.py failed: $(head -c 2000 "$W/rd.err")"
                return
        }
        for m in "${ERASED[@]}"; do
                ! grep -r -q -a -F -e "$m" -- "$W/rd" "$W/rd.json" ||
                        fail "$what: erased marker $m recovered from the repository, its copies before the erasure and after the kill, and the key store"
        done
        for m in "${KEPT[@]}"; do
                grep -r -q -a -F -e "$m" -- "$W/rd" "$W/rd.json" || fail "$what: the reader did not find kept marker $m"
        done
}

# series NAME SET FROM [TO]: kill at call N = FROM, FROM+1, ... of SET
# until erase finishes (or after N = TO).
series() {
        local name=$1 set=$2 n=$3 to=${4:-200}
        for (( ; n <= to; n++)); do
                REPO=$W/r
                rm -rf -- "$REPO" "$CAIRN_KEY_STORE"
                cp -a -- "$W/pristine" "$REPO"
                cp -a -- "$W/pristine-ks" "$CAIRN_KEY_STORE"
                killed "$set" "$n" "$CAIRN" -r "$REPO" erase --path "$src/secret"
                rm -rf -- "$W/killed"
                cp -a -- "$REPO" "$W/killed"
                if [ "$rc" = 0 ]; then
                        note "$name: the erasure ran to the end at N=$n; the kills before it survived"
                        [ "$n" -gt 5 ] || fail "$name: only $((n - 1)) kill points: is strace counting?"
                        after_kill "unkilled"
                        return
                fi
                [ "$rc" = 137 ] || {
                        fail "$name $n: erase exited $rc instead of being killed: $(cat "$W/killed.err")"
                        return
                }
                after_kill "killed at $name $n"
        done
        [ "$to" != 200 ] || die "$name: still killed at N=$n"
        note "$name: killed at N=$3 to $to, each resumed"
}

# ERASE_KILL_SERIES (erase-kill-late.sh and erase-kill-put.sh set it):
# which part this run makes, so that each script stays short.
case ${ERASE_KILL_SERIES:-deletion} in
deletion)
        note "an erasure killed at each of its first 13 deletions, then run again"
        series deletion "$DELETES" 1 13
        ;;
late)
        note "an erasure killed at each of its deletions from the 14th, then run again"
        series deletion "$DELETES" 14
        ;;
put)
        note "an erasure killed at each put, then run again"
        series put "$PUTS" 1
        ;;
esac
