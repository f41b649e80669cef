#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The WebDAV backend against nginx on 127.0.0.1 (tests/servers/nginx.sh):
# the backend contract suite over HTTP and over HTTPS (private CA through
# CAIRN_CA_FILE), a CLI round trip of the hostile tree over HTTPS, and the
# faults: a wrong password (one clear error, no retries), a server that
# answers 503 for a while (the backup backs off and completes), a TLS
# server whose CA is not given (refused), and a server killed mid-backup
# (clear error; the repository checks clean once it is back; the next
# backup completes). Skips (77) when nginx with WebDAV is not installed.
#
# Meson passes CAIRN, SRCDIR and TEST_BACKEND (the contract suite binary).
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$(dirname -- "$0")/../cli/lib.sh"
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=../servers/lib.sh
. "$SRCDIR/tests/servers/lib.sh"
# shellcheck source=../servers/nginx.sh
. "$SRCDIR/tests/servers/nginx.sh"

: "${TEST_BACKEND:?set TEST_BACKEND to the test-backend binary (meson test does)}"

why=$(nginx_check) || skip "$why"
nginx_setup "$W/nginx" || die "cannot set up the test nginx"
srv_on_exit nginx_stop
nginx_start || die "cannot start the test nginx"
note "nginx pid $NGINX_PID on 127.0.0.1:$NGINX_HTTP_PORT (http) and :$NGINX_HTTPS_PORT (https)"

# Nothing from the caller's environment may point the backend elsewhere.
unset CAIRN_WEBDAV_USER CAIRN_WEBDAV_PASSWORD CAIRN_CA_FILE CAIRN_RETRY_SECONDS
export CAIRN_WEBDAV_USER=$NGINX_USER
export CAIRN_WEBDAV_PASSWORD=$NGINX_PASSWORD
export CAIRN_CA_FILE=$NGINX_CA
http_url() {
        echo "webdav+http://127.0.0.1:$NGINX_HTTP_PORT/$1"
}
https_url() {
        echo "webdav+https://127.0.0.1:$NGINX_HTTPS_PORT/$1"
}
# the secret must never reach an output or a log
no_secret_in() {
        local f
        for f in "$@"; do
                if grep -qF -- "$NGINX_PASSWORD" "$f"; then
                        fail "the WebDAV password appears in $f"
                fi
        done
}

# ---- the backend contract, over both transports
for url in "$(http_url contract)" "$(https_url contract-tls)"; do
        note "contract suite on $url"
        CAIRN_TEST_BACKEND_URL=$url expect_exit 0 "$TEST_BACKEND" --filter 'backend_url/contract'
        grep -q 'Synthesis: Tested: [1-9]' "$W/err" "$W/out" || die "the contract suite ran no test: $(tail -n 5 "$W/err")"
        no_secret_in "$W/out" "$W/err"
done
[ -z "$(find "$NGINX_ROOT" -name '.tmp-*' -print -quit)" ] || die "puts left temporaries behind"

# ---- a CLI round trip over HTTPS
note "round trip"
REPO=$(https_url "backups/repo")
remote_round_trip
[ -f "$NGINX_ROOT/backups/repo/config" ] || die "init made no config object on the server"
[ -z "$(find "$NGINX_ROOT/backups" -name '.tmp-*' -print -quit)" ] || die "the backup left temporaries behind"
no_secret_in "$NGINX_ACCESS_LOG" "$NGINX_ERROR_LOG"

# ---- a wrong password: refused at once, with a message that says so
note "wrong password"
CAIRN_WEBDAV_PASSWORD="not-$NGINX_PASSWORD" expect_exit 1 cairn snapshots
grep -q '401' "$W/err" || die "wrong password: no HTTP 401 in the message: $(cat "$W/err")"
grep -qi 'authentication\|credentials\|password' "$W/err" || die "wrong password: the message does not say what to fix: $(cat "$W/err")"
grep -q 'gave up' "$W/err" && die "a 401 was retried: $(cat "$W/err")"
no_secret_in "$W/out" "$W/err"
# the same without any credentials
env -u CAIRN_WEBDAV_USER -u CAIRN_WEBDAV_PASSWORD "$CAIRN" -r "$REPO" snapshots >"$W/out" 2>"$W/err" &&
        die "no credentials: snapshots succeeded"
grep -q '401' "$W/err" || die "no credentials: no HTTP 401 in the message: $(cat "$W/err")"

# ---- a TLS server whose CA is not given is refused
note "unknown CA"
env -u CAIRN_CA_FILE "$CAIRN" -r "$REPO" snapshots >"$W/out" 2>"$W/err" && die "TLS without the CA: snapshots succeeded"
grep -qi 'certificate\|TLS\|SSL' "$W/err" || die "unknown CA: the message does not name TLS: $(cat "$W/err")"
grep -q 'gave up' "$W/err" && die "a TLS verification failure was retried: $(cat "$W/err")"
# a CA file that does not exist is an error too, not a fallback
CAIRN_CA_FILE=$W/no-such-ca.pem expect_exit 1 cairn snapshots
# https to the plain HTTP port: a wrong URL, not a transient failure
"$CAIRN" -r "webdav+https://127.0.0.1:$NGINX_HTTP_PORT/backups/repo" snapshots >"$W/out" 2>"$W/err" &&
        die "https to the HTTP port: snapshots succeeded"
grep -q 'TLS' "$W/err" || die "https to the HTTP port: the message does not name TLS: $(cat "$W/err")"
grep -q 'gave up' "$W/err" && die "https to the HTTP port was retried: $(cat "$W/err")"

# ---- 503 for a while: the backup backs off and completes
note "503 window"
mkdir -p "$W/more"
rand_file "$W/more/a" 300000
rand_file "$W/more/b" 70000
nginx_fail_on
cairn backup --json "$W/more" >"$W/backup503.out" 2>"$W/backup503.err" &
bpid=$!
at_exit "kill $bpid 2>/dev/null || true"
# wait until the server has refused something, then keep failing for ~3 s
srv_wait 60 grep -q '" 503 ' "$NGINX_ACCESS_LOG" || die "the backup sent no request that got a 503"
sleep 3
nginx_fail_off
brc=0
wait "$bpid" || brc=$?
[ "$brc" = 0 ] || die "backup through a 503 window failed ($brc): $(cat "$W/backup503.err")"
expect_exit 0 cairn snapshots --json
[ "$(count_json short_id "$W/out")" = 2 ] || die "expected 2 snapshots after the 503 window: $(cat "$W/out")"

# ---- killed mid-backup: a clear error, a consistent repository, a next run that completes
note "server killed mid-backup"
mkdir -p "$W/big"
for i in 1 2 3 4 5 6 7 8; do
        rand_file "$W/big/f$i" $((4 * 1024 * 1024))
done
puts_before=$(grep -c '"PUT ' "$NGINX_ACCESS_LOG" || true)
CAIRN_RETRY_SECONDS=3 cairn backup "$W/big" >"$W/killed.out" 2>"$W/killed.err" &
bpid=$!
at_exit "kill $bpid 2>/dev/null || true"
# once data is on its way, make the server fail every request, then kill it
more_puts() {
        [ "$(grep -c '"PUT ' "$NGINX_ACCESS_LOG")" -gt "$puts_before" ]
}
srv_wait 120 more_puts || die "the backup sent no PUT"
nginx_fail_on
nginx_stop KILL
nginx_fail_off
brc=0
wait "$bpid" || brc=$?
if [ "$brc" = 0 ]; then
        note "the backup finished before the server was killed: fault part not exercised"
else
        grep -q '127.0.0.1' "$W/killed.err" || die "killed server: the error names no server: $(cat "$W/killed.err")"
        no_secret_in "$W/killed.out" "$W/killed.err"
fi
nginx_start || die "cannot restart the test nginx"
expect_exit 0 cairn check --read-data
expect_exit 0 cairn backup --json "$W/big"
[ "$(json_num errors "$W/out")" = 0 ] || die "backup after the kill reported errors"
expect_exit 0 cairn restore latest --target "$W/restored-big"
same_tree "$W/big" "$W/restored-big$W/big" || die "restored tree after the kill differs (diff above)"
expect_exit 0 cairn check --read-data

note "ok"
