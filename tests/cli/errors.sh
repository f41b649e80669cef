#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Failures end with the documented exit code and one clear message:
#   wrong password 12 (one line on stderr), empty password 2, no repository
#   10, nothing to back up 1, some paths missing 3 with the snapshot saved
#   (and marked partial), an unknown format version 1 naming the version, an
#   unreadable source file 3 with the file named and the snapshot partial
#   (also below an ancestor directory that may be passed but not listed), a
#   full disk 1 naming the space, after which the repository checks clean,
#   holds no temporary files, and the next runs succeed, reuse what was
#   stored and restore it.
# The unreadable file needs a non-root user (as root: setpriv/runuser to
# nobody); the full disk needs root (a small tmpfs). Those parts are skipped
# with a message otherwise.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

MIB=$((1024 * 1024))
mkdir -p "$W/src"
printf 'a\n' >"$W/src/a"
expect_exit 0 cairn init

# ---- wrong password: 12, one line
note "wrong password"
for verb in snapshots "ls latest" "backup $W/src" "check"; do
        # shellcheck disable=SC2086
        if check_exit 12 env CAIRN_PASSWORD=wrong-password "$CAIRN" -r "$REPO" $verb; then
                [ "$(wc -l <"$W/err")" = 1 ] || fail "$verb with a wrong password: stderr is not one line: $(cat "$W/err")"
                grep -qi password "$W/err" || fail "$verb with a wrong password: the message does not say password"
        fi
done

# ---- an empty password: a usage error (2), one line
note "empty password"
if check_exit 2 env CAIRN_PASSWORD= "$CAIRN" -r "$REPO" snapshots; then
        [ "$(wc -l <"$W/err")" = 1 ] || fail "empty password: stderr is not one line: $(cat "$W/err")"
fi
check_exit 2 env CAIRN_PASSWORD= "$CAIRN" -r "$W/repo-empty-pw" init || true
[ ! -e "$W/repo-empty-pw/config" ] || fail "init with an empty password created a repository"

# ---- no repository: 10
note "no repository"
mkdir "$W/empty-dir"
for r in "$W/does-not-exist" "$W/empty-dir"; do
        check_exit 10 "$CAIRN" -r "$r" snapshots || true
        check_exit 10 "$CAIRN" -r "$r" backup "$W/src" || true
        check_exit 10 "$CAIRN" -r "$r" restore latest --target "$W/nowhere" || true
done
[ ! -e "$W/does-not-exist" ] || fail "a verb other than init created the missing repository directory"

# ---- missing source paths
note "missing source paths"
check_exit 1 cairn backup "$W/no-such-path" || true
grep -q no-such-path "$W/err" || fail "the missing path is not named: $(cat "$W/err")"
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 0 ] || fail "a backup of nothing saved a snapshot: $(cat "$W/out")"

if check_exit 3 cairn backup "$W/no-such-path" "$W/src"; then
        grep -q no-such-path "$W/err" || fail "the missing path is not named: $(cat "$W/err")"
fi
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 1 ] || fail "the partial backup saved no snapshot: $(cat "$W/out")"
# 'backup --help': exit 3 means entries "could not be read (listed on stderr
# and recorded in the snapshot)".
grep -q '"partial":true' "$W/out" ||
        fail "backup exited 3 (a path was missing) but its snapshot is not marked partial: $(cat "$W/out")"
expect_exit 0 cairn ls latest
grep -qxF "$W/src/a" "$W/out" || fail "the existing path is not in the partial snapshot"

# ---- unknown format version in config
note "unknown format version"
cp -a -- "$REPO/config" "$W/config.orig"
chmod u+w -- "$REPO/config"
{
        head -c 8 -- "$W/config.orig"
        printf '\002\000\000\000'       # version 2, little-endian u32
        tail -c +13 -- "$W/config.orig"
} >"$W/config.v2"
cat -- "$W/config.v2" >"$REPO/config"
cmp -s -- "$W/config.v2" "$REPO/config" || die "test bug: could not rewrite config"
for verb in snapshots "backup $W/src"; do
        # shellcheck disable=SC2086
        if check_exit 1 cairn $verb; then
                grep -qi version "$W/err" || fail "$verb on a version-2 repository: the message does not name the version: $(cat "$W/err")"
                [ "$(wc -l <"$W/err")" = 1 ] || fail "$verb on a version-2 repository: more than one line: $(cat "$W/err")"
        fi
done
cat -- "$W/config.orig" >"$REPO/config"
expect_exit 0 cairn snapshots

# ---- an unreadable source file
note "unreadable source file"
as_user=()
if $IS_ROOT; then
        if command -v setpriv >/dev/null; then
                as_user=(setpriv --reuid=65534 --regid=65534 --clear-groups)
        elif command -v runuser >/dev/null && id nobody >/dev/null 2>&1; then
                as_user=(runuser -u nobody --)
        fi
fi
if $IS_ROOT && [ ${#as_user[@]} = 0 ]; then
        note "SKIP unreadable file: root without setpriv or runuser"
else
        # $W/anc/user is the user's; $W/anc is the root's (as root) or the
        # user's own (otherwise), so its mode decides what the user may do.
        A=$W/anc
        U=$A/user
        mkdir -p "$U/src/sub"
        printf 'readable\n' >"$U/src/readable"
        printf 'secret\n' >"$U/src/sub/unreadable"
        ucairn=$CAIRN
        if $IS_ROOT; then
                chmod 0755 -- "$W" "$A"
                chown -R 65534:65534 -- "$U"
                if ! "${as_user[@]}" test -x "$CAIRN"; then
                        cp -- "$CAIRN" "$U/cairn"
                        chmod 0755 -- "$U/cairn"
                        ucairn=$U/cairn
                fi
        fi
        chmod 0000 -- "$U/src/sub/unreadable"
        run_user() {
                "${as_user[@]}" env HOME="$U" CAIRN_KEY_STORE="$U/keystore" "$ucairn" -r "$U/repo" "$@"
        }
        expect_exit 0 run_user init
        if check_exit 3 run_user backup "$U/src"; then
                grep -qF "$U/src/sub/unreadable" "$W/err" ||
                        fail "the unreadable file is not named in the warnings: $(cat "$W/err")"
        fi
        check_exit 0 run_user snapshots --json || true
        grep -q '"partial":true' "$W/out" || fail "a backup with an unreadable file is not marked partial: $(cat "$W/out")"
        grep -q '"errors":[1-9]' "$W/out" || fail "the partial snapshot records no error: $(cat "$W/out")"
        if check_exit 0 run_user restore latest --target "$U/restored"; then
                cmp -- "$U/src/readable" "$U/restored$U/src/readable" || fail "the readable file did not restore"
                [ ! -e "$U/restored$U/src/sub/unreadable" ] || fail "the unreadable file was restored from nothing"
        fi

        # An ancestor of the source the user may pass through but not list
        # (mode 0711 of another user, or 0300 of one's own) must not matter:
        # only the source below it is read.
        if $IS_ROOT; then chmod 0711 -- "$A"; else chmod 0300 -- "$A"; fi
        if check_exit 3 run_user backup "$U/src"; then
                grep -qF "$U/src/sub/unreadable" "$W/err" ||
                        fail "(ancestor without read permission) the unreadable file is not named: $(cat "$W/err")"
        else
                grep -q 'permissions of the repository' "$W/err" &&
                        fail "a source that cannot be read is reported as a repository permission problem"
        fi
        chmod 0755 -- "$A"
        chmod 0600 -- "$U/src/sub/unreadable"
fi

# ---- a full disk
note "full disk"
if ! $IS_ROOT; then
        note "SKIP full disk: needs root to mount a tmpfs"
else
        M=$W/mnt
        mkdir "$M"
        if ! mount -t tmpfs -o size=24m,mode=0700 cairn-cli-test "$M" 2>"$W/err"; then
                note "SKIP full disk: cannot mount a tmpfs: $(cat "$W/err")"
        else
                at_exit "umount -l -- '$M'"
                R=$M/repo
                head -c $((2 * MIB)) /dev/zero >"$M/filler"
                expect_exit 0 "$CAIRN" -r "$R" init
                mkdir "$W/big"
                rand_file "$W/big/data" $((40 * MIB))
                rc=0
                "$CAIRN" -r "$R" backup "$W/big" >"$W/out" 2>"$W/err" || rc=$?
                if [ "$rc" = 0 ] || [ "$rc" = 3 ]; then
                        fail "40 MiB into a 24 MiB file system succeeded (exit $rc)"
                else
                        grep -qi space "$W/err" || fail "a full disk is not named as such: $(cat "$W/err")"
                fi
                tmps=$(find "$M" -name '.tmp-*' | wc -l)
                [ "$tmps" = 0 ] || fail "a failed backup left $tmps temporary file(s): $(find "$M" -name '.tmp-*')"
                check_exit 0 "$CAIRN" -r "$R" check || true
                expect_exit 0 "$CAIRN" -r "$R" snapshots --json
                [ "$(count_json short_id "$W/out")" = 0 ] || fail "the failed backup saved a snapshot"
                # Space again: a small backup works, then the big one reuses what was stored.
                rm -f -- "$M/filler"
                printf 'small\n' >"$W/small"
                check_exit 0 "$CAIRN" -r "$R" backup "$W/small" || true
                check_exit 0 "$CAIRN" -r "$R" check || true
                mount -o remount,size=96m -- "$M" || die "cannot grow the tmpfs"
                if check_exit 0 "$CAIRN" -r "$R" backup --json "$W/big"; then
                        stored=$(json_num stored_bytes_new "$W/out")
                        [ "$stored" -lt $((40 * MIB)) ] ||
                                fail "after the full disk the data was stored again ($stored bytes), not reused"
                fi
                check_exit 0 "$CAIRN" -r "$R" check --read-data || true
                if check_exit 0 "$CAIRN" -r "$R" restore latest --target "$W/big-restored"; then
                        cmp -- "$W/big/data" "$W/big-restored$W/big/data" || fail "the big file restored wrong"
                fi
                [ "$(find "$M" -name '.tmp-*' | wc -l)" = 0 ] || fail "temporary files left in the repository"
        fi
fi

# A password written into a repository URL is refused, and never repeated.
for url in 'sftp://bob:s3cret-pw@127.0.0.1:9/r' 'webdav+https://bob:s3cret-pw@127.0.0.1:9/r'; do
        expect_exit 1 "$CAIRN" -r "$url" snapshots
        ! grep -q s3cret-pw "$W/out" "$W/err" || die "the password of $url was repeated: $(cat "$W/err")"
        grep -q 'bob:\*\*\*@' "$W/err" || die "no redacted URL in: $(cat "$W/err")"
done
note "done"
