#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# The S3 and Cloud Storage backends against OpenStack Swift's s3api on
# 127.0.0.1 (tests/servers/swift.sh), a server that verifies SigV4
# signatures and payload hashes:
#   - the backend contract suite over s3:// (path style, and virtual-host
#     style through *.s3.localhost) and over gs:// (CAIRN_GCS_ENDPOINT);
#   - a CLI round trip of the plain and hostile trees plus a 40 MiB file,
#     whose 16 MiB packs go up as multipart uploads; credentials from a
#     shared credentials file; a gs:// round trip of both trees;
#   - copy (issue 9 item 5): a local repository to a replica on S3 and the
#     S3 repository to a local replica, each restored and compared; an
#     erasure carried to the S3 replica: partial while it is unreachable,
#     completed by erase --pending (issue 10);
#   - four backups as four hosts into one bucket at once (no lock), then
#     check --read-data and every snapshot restores;
#   - prune in a loop while three hosts back up changing trees, then
#     check --read-data and every snapshot restores to its tree;
#   - a session token (signed x-amz-security-token header);
#   - refusals: a wrong secret, an unknown key id and a wrong region fail
#     at once (no retries) with one clear message that never holds the
#     secret; a missing bucket fails clearly;
#   - faults through tests/servers/fault-proxy.py: a window of 503 SlowDown
#     answers is outlasted by backoff; a server killed mid-backup makes the
#     backup fail clearly, the repository still checks clean, and the next
#     backup completes.
# Skips (77) when Swift is not installed.
#
# Meson passes CAIRN, SRCDIR and TEST_BACKEND (the contract suite binary).
# shellcheck source-path=SCRIPTDIR source=../cli/lib.sh
. "$(dirname -- "$0")/../cli/lib.sh"
# shellcheck source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=../servers/swift.sh
. "$SRCDIR/tests/servers/swift.sh"

: "${TEST_BACKEND:?set TEST_BACKEND to the test-backend binary (meson test does)}"
FAULT_PROXY=$SRCDIR/tests/servers/fault-proxy.py
BUCKET=cairn-test

why=$(swift_check) || skip "$why"
at_exit swift_stop
swift_start "$W/swift" || die "cannot start Swift"
note "swift s3api on $SWIFT_S3_ENDPOINT, gcs-flavoured proxy on $SWIFT_GCS_ENDPOINT"
swift_make_bucket "$BUCKET" || die "cannot make bucket $BUCKET"

# Nothing from the caller's environment may point the backends elsewhere.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION AWS_SHARED_CREDENTIALS_FILE \
        CAIRN_S3_ADDRESSING CAIRN_GCS_ENDPOINT CAIRN_GCS_HMAC_ACCESS_ID CAIRN_GCS_HMAC_SECRET CAIRN_CA_FILE \
        CAIRN_RETRY_SECONDS
export HOME=$W/home
mkdir -p "$HOME"
export AWS_ACCESS_KEY_ID=$SWIFT_KEY_ID AWS_SECRET_ACCESS_KEY=$SWIFT_SECRET
export CAIRN_S3_ENDPOINT=$SWIFT_S3_ENDPOINT

# contract URL
run_contract() {
        local label=$1
        shift
        note "contract suite: $label"
        check_exit 0 env "$@" "$TEST_BACKEND" --filter 'backend_url/contract' || return 1
        grep -q 'Synthesis: Tested: [1-9][0-9]* | Passing: [1-9]' "$W/err" "$W/out" ||
                fail "$label: the contract suite ran no test: $(tail -n 5 "$W/err")"
}

# ---- the backend contract: path style, virtual-host style, Cloud Storage
run_contract "s3 path style" CAIRN_TEST_BACKEND_URL="s3://$BUCKET/contract"
run_contract "s3 virtual-host style" CAIRN_TEST_BACKEND_URL="s3://$BUCKET" \
        CAIRN_S3_ENDPOINT="http://s3.localhost:$SWIFT_S3_PORT" CAIRN_S3_ADDRESSING=virtual
run_contract "gs" CAIRN_TEST_BACKEND_URL="gs://$BUCKET/gcs-contract" CAIRN_GCS_ENDPOINT="$SWIFT_GCS_ENDPOINT" \
        CAIRN_GCS_HMAC_ACCESS_ID="$SWIFT_KEY_ID" CAIRN_GCS_HMAC_SECRET="$SWIFT_SECRET"

# ---- a CLI round trip, with multipart uploads
note "round trip"
REPO="s3://$BUCKET/repo"
make_simple_tree "$W/simple"
rand_file "$W/simple/big" $((40 * 1024 * 1024 + 123))   # multipart
remote_round_trip
# s3api keeps the parts of multipart uploads in the container "<bucket>+segments"
segments=$(swift_list_container "$BUCKET+segments" | grep -c '^repo/' || true)
[ "$segments" -gt 0 ] || fail "no multipart upload happened (no segments of repo/ in $BUCKET+segments)"

# ---- replicas (issue 9 item 5): a local repository copied to a replica on
# S3, and the S3 repository above copied back to a local replica; each
# replica alone restores the same files, and a second copy sends nothing
note "copy: local to an S3 replica, S3 to a local replica"
export CAIRN_FROM_PASSWORD=$CAIRN_PASSWORD
copy_and_compare() { # copy_and_compare SRC DEST: replicate, copy twice, restore, compare
        local from=$1 to=$2 label=$3
        expect_exit 0 "$CAIRN" -r "$to" init --replica-of "$from"
        expect_exit 0 "$CAIRN" -r "$to" copy --json --from "$from"
        [ "$(json_num snapshots_copied "$W/out")" = 1 ] || fail "$label: first copy: $(cat "$W/out")"
        [ "$(json_num bytes_sent "$W/out")" -gt 1000000 ] || fail "$label: first copy sent little: $(cat "$W/out")"
        expect_exit 0 "$CAIRN" -r "$to" copy --json --from "$from"
        [ "$(json_num bytes_sent "$W/out")" = 0 ] || fail "$label: second copy sent bytes: $(cat "$W/out")"
        expect_exit 0 "$CAIRN" -r "$to" check --read-data
        expect_exit 0 "$CAIRN" -r "$to" restore latest --target "$W/$label-restored"
        same_tree "$W/simple" "$W/$label-restored$W/simple" || fail "$label: restored plain tree differs"
        bash "$TREECMP" "$W/hostile" "$W/$label-restored$W/hostile" >&2 || fail "$label: restored hostile tree differs"
}
expect_exit 0 "$CAIRN" -r "$W/local-src" init
expect_exit 0 "$CAIRN" -r "$W/local-src" backup "$W/simple" "$W/hostile"
copy_and_compare "$W/local-src" "s3://$BUCKET/replica" local-to-s3
copy_and_compare "$REPO" "$W/local-replica" s3-to-local

# ---- an erasure carried to the S3 replica (issue 10): unreachable first
# (the endpoint a closed port), so partial; then --pending completes it
note "erase: an unreachable S3 replica makes it partial, --pending completes it"
check_exit 3 env CAIRN_S3_ENDPOINT=http://127.0.0.1:1 CAIRN_RETRY_SECONDS=2 \
        "$CAIRN" -r "$W/local-src" erase --path "$W/simple/**" --replica "s3://$BUCKET/replica" || true
grep -q "not erased there" "$W/err" || fail "the unreachable S3 replica is not named: $(cat "$W/err")"
expect_exit 0 "$CAIRN" -r "s3://$BUCKET/replica" ls latest
grep -q -F "$W/simple/" "$W/out" || fail "the S3 replica lost the files before it was reached"
expect_exit 0 "$CAIRN" -r "$W/local-src" erase --pending --replica "s3://$BUCKET/replica"
expect_exit 0 "$CAIRN" -r "s3://$BUCKET/replica" ls latest
grep -q -F "$W/simple/" "$W/out" && fail "the S3 replica still lists erased files after --pending"
expect_exit 0 "$CAIRN" -r "s3://$BUCKET/replica" check --read-data
expect_exit 0 "$CAIRN" -r "$W/local-src" certificate list --json
grep -q '"status":"partial"' "$W/out" || fail "no partial certificate for the unreachable replica"
grep -q '"status":"complete"' "$W/out" || fail "no complete certificate after --pending"
unset CAIRN_FROM_PASSWORD

# ---- many agents, one bucket: four backups as four hosts at once, no lock;
# then check --read-data and every snapshot restores (tests/cli/concurrent.sh)
note "four writers into one bucket"
CAIRN_TEST_REPO="s3://$BUCKET/many" WRITERS=4 CONCURRENT_MIB=12 \
        expect_exit 0 bash "$SRCDIR/tests/cli/concurrent.sh"

# ---- prune while three writers back up into one bucket: forget and prune
# in a loop, then check --read-data and every snapshot restores to its tree
# (tests/cli/prune-concurrent.sh, shorter)
note "prune while three writers back up"
CAIRN_TEST_REPO="s3://$BUCKET/prune" PRUNE_SECONDS=15 \
        expect_exit 0 bash "$SRCDIR/tests/cli/prune-concurrent.sh"
note "$(grep -h 'backups,\|restored' "$W/out" | tr '\n' ' ')"

# ---- credentials from a shared credentials file, by profile
note "credentials file"
printf '[default]\naws_access_key_id = nobody\naws_secret_access_key = nothing\n\n[cairn]\n' >"$W/credentials"
printf 'aws_access_key_id = %s\naws_secret_access_key = %s\n' "$SWIFT_KEY_ID" "$SWIFT_SECRET" >>"$W/credentials"
check_exit 0 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_SHARED_CREDENTIALS_FILE="$W/credentials" \
        AWS_PROFILE=cairn "$CAIRN" -r "$REPO" snapshots
mkdir -p "$HOME/.aws"
cp "$W/credentials" "$HOME/.aws/credentials"
check_exit 0 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=cairn "$CAIRN" -r "$REPO" snapshots
check_exit 1 env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_PROFILE=absent "$CAIRN" -r "$REPO" snapshots &&
        { grep -q "no such profile" "$W/err" || fail "no hint about the missing profile: $(cat "$W/err")"; }
rm -rf "$HOME/.aws"

# A session token travels as a signed x-amz-security-token header (Swift
# ignores it, but the signature over it must hold).
check_exit 0 env AWS_SESSION_TOKEN=FQoGZXIvYXdzEXAMPLE/token+value= "$CAIRN" -r "$REPO" snapshots

# ---- refusals: one clear message, at the first attempt
note "refusals"
check_exit 1 env AWS_REGION=eu-west-1 "$CAIRN" -r "$REPO" snapshots &&
        { grep -q "wrong region" "$W/err" || fail "wrong region: unclear message: $(cat "$W/err")"; }
wrong="wrong-secret-Zq7x9"
check_exit 1 env AWS_SECRET_ACCESS_KEY=$wrong "$CAIRN" -r "$REPO" snapshots &&
        { grep -q "wrong secret or key id" "$W/err" || fail "wrong secret: unclear message: $(cat "$W/err")"; }
grep -q "gave up after" "$W/err" && fail "a wrong secret was retried: $(cat "$W/err")"
grep -qF -- "$wrong" "$W/err" "$W/out" && fail "the secret appears in cairn's output"
[ "$(wc -l <"$W/err")" -le 2 ] || fail "wrong secret: more than one message: $(cat "$W/err")"

check_exit 1 env AWS_ACCESS_KEY_ID=nobody:nowhere "$CAIRN" -r "$REPO" snapshots &&
        { grep -q "wrong secret or key id" "$W/err" || fail "unknown key id: unclear message: $(cat "$W/err")"; }
grep -q "gave up after" "$W/err" && fail "an unknown key id was retried: $(cat "$W/err")"

check_exit 1 env CAIRN_GCS_ENDPOINT="$SWIFT_GCS_ENDPOINT" CAIRN_GCS_HMAC_ACCESS_ID="$SWIFT_KEY_ID" \
        CAIRN_GCS_HMAC_SECRET=$wrong "$CAIRN" -r "gs://$BUCKET/repo" snapshots &&
        { grep -q "wrong secret or key id" "$W/err" || fail "gs wrong secret: unclear message: $(cat "$W/err")"; }
grep -qF -- "$wrong" "$W/err" "$W/out" && fail "the gs secret appears in cairn's output"

# A missing bucket: exit code 10 (no repository) and a message naming it
# (the backend's detail is "bucket ... does not exist").
code=0
"$CAIRN" -r "s3://no-such-bucket-$$/repo" snapshots >"$W/out" 2>"$W/err" || code=$?
[ "$code" != 0 ] || fail "a missing bucket was accepted"
grep -q "no-such-bucket-$$" "$W/err" || fail "missing bucket: the message does not name it: $(cat "$W/err")"
grep -q "gave up after" "$W/err" && fail "a missing bucket was retried: $(cat "$W/err")"

# ---- Cloud Storage flavour, through the CLI
note "gs round trip"
export CAIRN_GCS_ENDPOINT=$SWIFT_GCS_ENDPOINT CAIRN_GCS_HMAC_ACCESS_ID=$SWIFT_KEY_ID CAIRN_GCS_HMAC_SECRET=$SWIFT_SECRET
check_exit 0 "$CAIRN" -r "gs://$BUCKET/gsrepo" init &&
        check_exit 0 "$CAIRN" -r "gs://$BUCKET/gsrepo" backup "$W/simple" "$W/hostile" &&
        check_exit 0 "$CAIRN" -r "gs://$BUCKET/gsrepo" restore latest --target "$W/gs-restored" &&
        { same_tree "$W/simple" "$W/gs-restored$W/simple" || fail "gs: restored tree differs"; } &&
        { bash "$TREECMP" "$W/hostile" "$W/gs-restored$W/hostile" >&2 || fail "gs: restored hostile tree differs"; }
unset CAIRN_GCS_ENDPOINT CAIRN_GCS_HMAC_ACCESS_ID CAIRN_GCS_HMAC_SECRET

# ---- a window of 503 SlowDown: backoff, then success
note "503 window"
fault_start() {
        FAULT_DIR=$1
        mkdir -p "$FAULT_DIR"
        rm -f "$FAULT_DIR/ready"
        FAULT_PORT=$(srv_free_port) || return 1
        /usr/bin/python3 "$FAULT_PROXY" "$FAULT_PORT" "$SWIFT_S3_PORT" "$FAULT_DIR" 2>>"$FAULT_DIR/log" &
        FAULT_PID=$!
        srv_on_exit "srv_stop $FAULT_PID"
        srv_wait 30 test -e "$FAULT_DIR/ready"
}
fault_start "$W/fault503" || die "cannot start the fault proxy"
mkdir -p "$W/more"
rand_file "$W/more/f1" 200000
touch "$W/fault503/503"
CAIRN_S3_ENDPOINT="http://127.0.0.1:$FAULT_PORT" "$CAIRN" -r "$REPO" backup "$W/more" >"$W/503.out" 2>"$W/503.err" &
backup_pid=$!
srv_on_exit "kill $backup_pid 2>/dev/null || true"
# several 503s answered (retries), then the server recovers
served_503() {
        [ -f "$W/fault503/served-503" ] && [ "$(wc -l <"$W/fault503/served-503")" -ge "$1" ]
}
srv_wait 120 served_503 3 ||
        fail "the client did not retry 503 answers"
rm -f "$W/fault503/503"
code=0
wait "$backup_pid" || code=$?
[ "$code" = 0 ] || fail "backup through a 503 window failed ($code): $(cat "$W/503.err")"
note "503 answers served before the window closed: $(wc -l <"$W/fault503/served-503")"
srv_stop "$FAULT_PID"

# ---- the server killed mid-backup
note "server killed mid-backup"
fault_start "$W/faultkill" || die "cannot start the fault proxy"
echo 2 >"$W/faultkill/hold-after"
mkdir -p "$W/third"
for i in 1 2 3 4; do
        rand_file "$W/third/f$i" $((3 * 1024 * 1024))
done
CAIRN_RETRY_SECONDS=3 CAIRN_S3_ENDPOINT="http://127.0.0.1:$FAULT_PORT" \
        "$CAIRN" -r "$REPO" backup "$W/third" >"$W/kill.out" 2>"$W/kill.err" &
backup_pid=$!
srv_on_exit "kill $backup_pid 2>/dev/null || true"
srv_wait 120 test -e "$W/faultkill/holding" || die "the backup never reached its third upload"
srv_stop "$FAULT_PID" KILL
code=0
wait "$backup_pid" || code=$?
[ "$code" != 0 ] || fail "a backup whose server died reported success"
grep -q "^cairn: " "$W/kill.err" || fail "no clear error after the server died: $(cat "$W/kill.err")"
note "after the kill (exit $code): $(head -c 600 "$W/kill.err")"
# the repository is consistent, and the next backup completes
expect_exit 0 cairn check
expect_exit 0 cairn backup "$W/third"
expect_exit 0 cairn restore latest --target "$W/third-restored"
same_tree "$W/third" "$W/third-restored$W/third" || die "the backup after the failure restores differently"
expect_exit 0 cairn check --read-data
note "ok"
