# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash disable=SC2034
# (SC2034: IS_ROOT and friends are for the scenarios that source this.)
#
# Shared by the tests/cli/*.sh scenarios; source it first thing:
#
#       . "$(dirname "$0")/lib.sh"
#
# Gives each scenario a private work directory $W (removed at exit, after the
# hooks registered with at_exit), a repository path $REPO inside it (or
# $CAIRN_TEST_REPO), the
# password in CAIRN_PASSWORD (never argv), and these helpers:
#
#       cairn ARGS...             run $CAIRN -r $REPO ARGS...
#       expect_exit CODE CMD...   run CMD, stdout to $W/out, stderr to $W/err;
#                                 die (showing both) unless it exits CODE
#       check_exit CODE CMD...    the same, but fail and return 1 instead
#       die MSG                   fail the scenario now
#       fail MSG                  record a failure and go on (the scenario
#                                 fails at exit); for independent checks
#       skip MSG                  skip the whole scenario (exit 77)
#       note MSG                  progress line on stdout (meson keeps it in the log)
#       json_num KEY FILE         the first number "KEY":N in FILE
#       count_json KEY FILE       how many "KEY": FILE holds
#       at_exit CMD               run CMD (eval'd) at exit, before $W is removed
#       init_two_controllers      init $REPO, add controller "other"; ids in $ctl, $other
#       xor_byte FILE OFFSET MASK XOR one byte of FILE in place
#       fresh_repo NAME           REPO=$W/r-NAME, a new copy of $W/pristine
#       backup_as N HOST PATHS TAG... write "HOST N" to $W/a/f and $W/b/f, back up
#                                 PATHS (words, relative to $W) as HOST with
#                                 the tags; print the new snapshot's id
#       snapshot_ids ARGS...      the ids 'snapshots ARGS' lists, oldest first, on one line
#       rand_file PATH BYTES, rand_hex BYTES   random content, random hex
#       reader_python             READER and PY for tests/privacy/cairn_reader.py
#                                 (PY "" without PyNaCl and zstandard)
#
# Meson runs each scenario with CAIRN (the binary) and SRCDIR (the source
# root) in the environment. Exit 0 passes, 77 skips, anything else fails.
set -euo pipefail
export LC_ALL=C TZ=UTC

: "${CAIRN:?set CAIRN to the cairn binary (meson test does)}"
SRCDIR=${SRCDIR:-$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)}
CLI_NAME=$(basename -- "$0" .sh)

# Nothing from the caller's environment may point cairn elsewhere.
unset CAIRN_REPOSITORY CAIRN_PASSWORD_FILE CAIRN_NEW_PASSWORD
export CAIRN_PASSWORD="correct horse battery staple"

IS_ROOT=false
[ "$(id -u)" = 0 ] && IS_ROOT=true

W=$(mktemp -d "${TMPDIR:-/tmp}/cairn-cli-$CLI_NAME.XXXXXX")
# Each scenario has a key store of its own (docs/FORMAT.md "Key store").
export CAIRN_KEY_STORE=$W/keystore
# CAIRN_TEST_REPO: run the scenario against another repository URL (a
# tests/remote/ script points it at the server it started).
REPO=${CAIRN_TEST_REPO:-$W/repo}
_at_exit=()
_failed=0

at_exit() {
        _at_exit+=("$1")
}

_cleanup() {
        local rc=$? i
        set +e
        if [ "$rc" = 0 ] && [ "$_failed" != 0 ]; then
                echo "[$CLI_NAME] $_failed check(s) failed" >&2
                rc=1
        fi
        for ((i = ${#_at_exit[@]} - 1; i >= 0; i--)); do
                eval "${_at_exit[i]}"
        done
        # A test may leave mode-000 entries behind; make everything removable.
        chmod -R u+rwX -- "$W" 2>/dev/null
        rm -rf -- "$W"
        exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

note() {
        echo "[$CLI_NAME] $*"
}

die() {
        echo "[$CLI_NAME] FAIL: $*" >&2
        exit 1
}

fail() {
        echo "[$CLI_NAME] FAIL: $*" >&2
        _failed=$((_failed + 1))
}

skip() {
        echo "[$CLI_NAME] SKIP: $*"
        exit 77
}

cairn() {
        "$CAIRN" -r "$REPO" "$@"
}

# check_exit CODE CMD...: stdout lands in $W/out, stderr in $W/err; on
# another exit code, show both, record a failure (fail) and return 1.
check_exit() {
        local want=$1 rc=0
        shift
        "$@" >"$W/out" 2>"$W/err" || rc=$?
        if [ "$rc" != "$want" ]; then
                {
                        echo "--- stdout:"
                        head -c 4000 "$W/out"
                        echo "--- stderr:"
                        head -c 4000 "$W/err"
                } >&2
                fail "expected exit $want, got $rc: $*"
                return 1
        fi
}

# expect_exit CODE CMD...: check_exit, but a wrong code ends the scenario.
expect_exit() {
        check_exit "$@" || exit 1
}

# json_num KEY FILE: the value of the first "KEY":<number> in FILE.
json_num() {
        local v
        v=$(grep -o "\"$1\":[0-9.]*" -- "$2" | head -n 1 | cut -d: -f2)
        [ -n "$v" ] || die "no \"$1\" number in $2: $(head -c 400 -- "$2")"
        echo "$v"
}

# count_json KEY FILE: how many times "KEY": occurs in FILE (entries of
# 'snapshots --json' by short_id, of 'key list --json' by created).
count_json() {
        grep -o "\"$1\":" -- "$2" | wc -l
}

# rand_file PATH BYTES
rand_file() {
        head -c "$2" /dev/urandom >"$1"
}

# rand_hex BYTES: that many random bytes in hex
rand_hex() {
        head -c "$1" /dev/urandom | od -An -v -tx1 | tr -d ' \n'
}

# reader_python: READER, the privacy reader (tests/privacy/cairn_reader.py),
# and PY, a python3 with what it needs (PyNaCl, zstandard), or "" if none.
reader_python() {
        local p
        READER=$SRCDIR/tests/privacy/cairn_reader.py
        PY=
        for p in /usr/bin/python3 python3; do
                if "$p" -c 'import nacl.bindings, nacl.pwhash.argon2id, zstandard' 2>/dev/null; then
                        PY=$p
                        return
                fi
        done
}

# make_simple_tree DIR: files, nested and empty dirs, symlinks, a hard link,
# odd modes and times, built with coreutils only.
make_simple_tree() {
        local d=$1
        mkdir -p -- "$d/sub/deeper" "$d/empty"
        printf 'hello\n' >"$d/small"
        : >"$d/zero-length"
        rand_file "$d/random-1m" $((1024 * 1024 + 17))
        printf 'nested\n' >"$d/sub/nested"
        rand_file "$d/sub/deeper/blob" 300000
        printf 'with space\n' >"$d/sub/name with space"
        ln -s small "$d/link-rel"
        ln -s /nonexistent/target "$d/link-dangling"
        ln -s sub "$d/link-dir"
        ln "$d/small" "$d/sub/hardlink"
        chmod 0600 "$d/sub/nested"
        chmod 0750 "$d/sub/deeper"
        chmod 4755 "$d/random-1m"
        touch -d '2001-02-03 04:05:06.123456789' -- "$d/small"
        touch -h -d '1999-01-01 00:00:00' -- "$d/link-rel"
        touch -d '1980-06-07 08:09:10' -- "$d/empty" "$d/sub/deeper"
}

# tree_listing DIR: one line per entry below DIR, "type mode size mtime target path",
# sorted; for comparisons without treecmp.sh.
tree_listing() {
        (cd -- "$1" && find . -mindepth 1 \( -type d -printf '%y %m - %T@ %p\n' \) -o \
                -printf '%y %m %s %T@ %l %p\n' | sort)
}

# same_tree A B: content and the metadata tree_listing shows are equal.
same_tree() {
        diff -r --no-dereference -- "$1" "$2" >&2 || return 1
        diff -- <(tree_listing "$1") <(tree_listing "$2") >&2 || return 1
}

# init_two_controllers: init $REPO (its controller "default") and add a
# controller "other"; $ctl and $other get their ids.
init_two_controllers() {
        local c
        expect_exit 0 cairn init
        ctl=$(basename -- "$REPO"/controllers/*)
        expect_exit 0 cairn controller add other
        for c in "$REPO"/controllers/*; do
                [ "$(basename -- "$c")" = "$ctl" ] || other=$(basename -- "$c")
        done
}

# xor_byte FILE OFFSET MASK: damage one byte of FILE in place.
xor_byte() {
        local byte
        byte=$(od -An -tu1 -j "$2" -N 1 -- "$1" | tr -d ' ')
        printf '%b' "\\0$(printf '%03o' $((byte ^ $3)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# fresh_repo NAME: point REPO at a new copy of the repository the scenario
# saved as $W/pristine, to damage without touching the others.
fresh_repo() {
        REPO=$W/r-$1
        rm -rf -- "$REPO"
        cp -a -- "$W/pristine" "$REPO"
}

backup_as() {
        local n=$1 host=$2 paths=$3 t
        shift 3
        mkdir -p "$W/a" "$W/b"
        echo "$host $n" >"$W/a/f"
        echo "$host $n" >"$W/b/f"
        local args=()
        for t in "$@"; do args+=(--tag "$t"); done
        for t in $paths; do args+=("$W/$t"); done
        expect_exit 0 cairn backup --json --host "$host" "${args[@]}"
        grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4
}

snapshot_ids() {
        expect_exit 0 cairn snapshots --json "$@"
        grep -o '"id":"[0-9a-f]\{64\}"' "$W/out" | cut -d'"' -f4 | tr '\n' ' ' || true
}
