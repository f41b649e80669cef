#!/usr/bin/env bash
# How many connections a remote repository wants: backs up the same data to
# each test server of tests/servers/ (nginx WebDAV, OpenSSH SFTP, Swift's
# s3api, and s3api again behind tests/servers/fault-proxy.py adding 50 ms to
# each request; all on 127.0.0.1, stopped by pid) with --connections 1, 2,
# 4 and 8, and restores it, printing wall seconds for each. The servers,
# not the network, are the ceiling on loopback (../shared/SERVERS.md), so
# this picks a default that does not hurt; a real link's latency only adds
# to the value of parallel transfers.
#
#   bench/run-connections.sh [MIB]     (default 256 MiB of random data)
#
# Needs build-bench/agent/cairn (bench/run-e2e.sh builds it) and the packages
# of packaging/install-deps.sh --test. Writes nothing outside its mktemp -d.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CAIRN=$ROOT/build-bench/agent/cairn SRCDIR=$ROOT
[ -x "$CAIRN" ] || { echo "run-connections: build $CAIRN first (meson setup build-bench --buildtype=release)" >&2; exit 1; }
MIB=${1:-256}
# shellcheck source=../tests/cli/lib.sh
. "$ROOT/tests/cli/lib.sh"
. "$ROOT/tests/servers/nginx.sh"
. "$ROOT/tests/servers/sshd.sh"
. "$ROOT/tests/servers/swift.sh"

mkdir -p "$W/data"
for i in $(seq 1 $((MIB / 32))); do rand_file "$W/data/f$i" $((32 * 1024 * 1024)); done

nginx_setup "$W/nginx" && at_exit nginx_stop && nginx_start || die "nginx did not start"
sshd_setup "$W/sshd" && at_exit sshd_stop && sshd_start || die "sshd did not start"
at_exit swift_stop
swift_start "$W/swift" && swift_make_bucket bench || die "swift did not start"
export CAIRN_WEBDAV_USER=$NGINX_USER CAIRN_WEBDAV_PASSWORD=$NGINX_PASSWORD CAIRN_CA_FILE=$NGINX_CA
export CAIRN_SFTP_KEY=$SSHD_KEY CAIRN_SFTP_KNOWN_HOSTS=$SSHD_KNOWN_HOSTS
export AWS_ACCESS_KEY_ID=$SWIFT_KEY_ID AWS_SECRET_ACCESS_KEY=$SWIFT_SECRET CAIRN_S3_ENDPOINT=$SWIFT_S3_ENDPOINT
mkdir -p "$W/sftp"
# S3 as over a link with a 50 ms round trip: the fault proxy delays each request.
PROXY_DIR=$W/proxy
mkdir -p "$PROXY_DIR"
echo 50 >"$PROXY_DIR/delay-ms"
PROXY_PORT=$(srv_free_port)
/usr/bin/python3 "$ROOT/tests/servers/fault-proxy.py" "$PROXY_PORT" "$SWIFT_S3_PORT" "$PROXY_DIR" 2>/dev/null &
at_exit "srv_stop $!"
srv_wait 30 test -e "$PROXY_DIR/ready" || die "the delaying proxy did not start"

secs() {
        local t0 t1
        t0=$(date +%s%N)
        "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; return 1; }
        t1=$(date +%s%N)
        awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 1e9 }'
}
printf '%-8s %11s %8s %8s\n' server connections backup restore
for n in 1 2 4 8; do
        for server in webdav sftp s3 s3+50ms; do
                endpoint=$SWIFT_S3_ENDPOINT
                case $server in
                webdav) url="webdav+https://127.0.0.1:$NGINX_HTTPS_PORT/c$n" ;;
                sftp) url="sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT$W/sftp/c$n" ;;
                s3) url="s3://bench/c$n" ;;
                s3+50ms) url="s3://bench/d$n" endpoint=http://127.0.0.1:$PROXY_PORT ;;
                esac
                export CAIRN_S3_ENDPOINT=$endpoint
                "$CAIRN" -r "$url" init >/dev/null 2>&1 || die "init $url failed"
                b=$(secs "$CAIRN" -r "$url" --connections "$n" backup "$W/data")
                r=$(secs "$CAIRN" -r "$url" --connections "$n" restore latest --target "$W/r-$server-$n")
                rm -rf "$W/r-$server-$n"
                printf '%-8s %11s %8.2f %8.2f\n' "$server" "$n" "$b" "$r"
        done
done
