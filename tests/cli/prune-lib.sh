# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Shared by the prune scenarios (tests/cli/prune*.sh, tests/remote/s3.sh),
# sourced after lib.sh:
#
#       state_save ID DIR         keep a copy of DIR as the state snapshot ID
#                                 must restore to ($W/states/ID, DIR in ID.path)
#       backup_state DIR ARGS...  back up DIR (ARGS: more backup flags), save
#                                 its state, print the snapshot id; dies on failure
#       restore_matches ID        restore ID's path into a scratch directory and
#                                 compare it with the saved state (fail and
#                                 return 1 on a difference or a failed restore)
#       check_every_snapshot      restore_matches for every snapshot listed;
#                                 prints how many were compared
#       repo_fingerprint          every file below $REPO, with its size, and a
#                                 hash of all their bytes (a local $REPO only)
#       fill_tree DIR WRITER ITER write DIR's files for iteration ITER of WRITER:
#                                 own files (WRITER and ITER in their bytes),
#                                 shared files (the same bytes for every writer,
#                                 and again every third iteration, so a chunk
#                                 a forgotten snapshot held comes back)
#       json_sum KEY FILE...      the sum of every "KEY":N in the FILEs
#       traced ARGS...            strace -f -o /dev/null ARGS... (LeakSanitizer,
#                                 which cannot run under ptrace, off)
#       killed SET N CMD...       CMD traced, SIGKILLed at its N-th call of a
#                                 syscall of SET (strace counts per thread);
#                                 its exit code in $rc (137: killed), its
#                                 output in $W/killed.out and .err

mkdir -p "$W/states" "$W/rs"

state_save() {
        rm -rf -- "$W/states/$1"
        cp -a -- "$2" "$W/states/$1"
        printf '%s\n' "$2" >"$W/states/$1.path"
}

backup_state() {
        local dir=$1 out id
        shift
        out=$("$CAIRN" -r "$REPO" backup --json "$@" "$dir" 2>"$W/backup.err") ||
                die "backup of $dir failed: $(cat "$W/backup.err")"
        id=$(grep -o '"snapshot":"[0-9a-f]*"' <<<"$out" | cut -d'"' -f4)
        [ -n "$id" ] || die "backup of $dir printed no snapshot id: $out"
        state_save "$id" "$dir"
        echo "$id"
}

restore_matches() {
        local id=$1 path
        [ -f "$W/states/$id.path" ] || {
                fail "snapshot $id has no saved state (made by no backup of this test?)"
                return 1
        }
        path=$(cat "$W/states/$id.path")
        rm -rf -- "$W/rs/$id"
        check_exit 0 cairn restore "$id:$path" --target "$W/rs/$id" || return 1
        same_tree "$W/states/$id" "$W/rs/$id" || {
                fail "snapshot ${id:0:8} does not restore to its source state (diff above)"
                return 1
        }
        rm -rf -- "$W/rs/$id"
}

check_every_snapshot() {
        local id n=0
        for id in $(snapshot_ids); do
                restore_matches "$id" || true
                n=$((n + 1))
        done
        echo "$n"
}

repo_fingerprint() {
        (cd -- "$REPO" && find . -type f -printf '%P %s\n' | sort && find . -type f -print0 | sort -z |
                xargs -0 cat | sha256sum)
}

# _seeded_file PATH SEED BYTES: BYTES bytes that are a function of SEED,
# incompressible (AES-CTR of zeros under a key from SEED) where openssl is
# there, else SEED repeated.
_seeded_file() {
        if command -v openssl >/dev/null; then
                head -c "$3" /dev/zero | openssl enc -aes-128-ctr -iv 00000000000000000000000000000000 \
                        -K "$(printf '%s' "$2" | sha256sum | cut -c1-32)" >"$1"
        else
                yes "$2" | head -c "$3" >"$1"
        fi
}

fill_tree() {
        local dir=$1 w=$2 i=$3 k
        mkdir -p -- "$dir/own" "$dir/shared"
        for k in 0 1 2 3 4 5; do
                # two own files change each iteration, the others stay
                if [ ! -e "$dir/own/f$k" ] || [ $(((i + k) % 3)) = 0 ]; then
                        _seeded_file "$dir/own/f$k" "writer $w iteration $i file $k" $((20000 + 3000 * k))
                fi
        done
        for k in 0 1 2; do
                # shared: a function of (iteration mod 3) and k, the same for every writer
                _seeded_file "$dir/shared/s$k" "shared $(((i + k) % 3)) file $k" $((30000 + 1000 * k))
        done
        printf 'writer %s iteration %s\n' "$w" "$i" >"$dir/stamp"
}

json_sum() {
        local key=$1
        shift
        cat -- "$@" | grep -o "\"$key\":[0-9]*" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

traced() {
        ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" strace -f -o /dev/null "$@"
}

# shellcheck disable=SC2034 # rc is for the caller
killed() {
        local set=$1 n=$2
        shift 2
        rc=0
        traced -e trace="$set" -e inject="$set:signal=KILL:when=$n" "$@" \
                >"$W/killed.out" 2>"$W/killed.err" || rc=$?
}
