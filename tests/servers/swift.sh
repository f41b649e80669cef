# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# OpenStack Swift with its s3api middleware, one node, on 127.0.0.1: a real
# object store that verifies SigV4 signatures and payload hashes and does
# multipart uploads the way AWS does (Debian 12: swift 2.30). Source it
# after tests/cli/lib.sh:
#
#       . "$SRCDIR/tests/servers/swift.sh"
#       why=$(swift_check) || skip "$why"
#       at_exit swift_stop
#       swift_start "$W/swift" || die "..."
#
# After swift_start:
#       SWIFT_S3_ENDPOINT   http://127.0.0.1:PORT (s3api, region us-east-1;
#                           virtual-host style answers on
#                           http://BUCKET.s3.localhost:PORT too)
#       SWIFT_S3_PORT
#       SWIFT_GCS_ENDPOINT  a second proxy on the same store whose region is
#                           "auto", as Cloud Storage's XML API signs
#       SWIFT_KEY_ID / SWIFT_SECRET   the tempauth user test:tester
#       swift_make_bucket NAME        makes a bucket (a Swift container)
#
# Everything lives under the directory given to swift_start; each daemon
# runs in the foreground as a background job of this shell (workers = 0,
# no forking), and swift_stop stops each by its pid. Logs: DIR/log/*.log.
# Swift also logs to syslog: /dev/log if that is a socket, else UDP to
# localhost (Swift's own fallback), nowhere else.

# shellcheck source=lib.sh
. "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

SWIFT_KEY_ID="test:tester"
SWIFT_SECRET="testing"
swift_pids=()

# Prints why Swift cannot run here and fails, or succeeds silently.
swift_check() {
        local b
        for b in swift-ring-builder swift-proxy-server swift-account-server swift-container-server \
                swift-object-server memcached curl; do
                command -v "$b" >/dev/null 2>&1 || {
                        echo "$b not installed (packaging/install-deps.sh --test installs Swift)"
                        return 1
                }
        done
        [ -r /etc/swift/swift.conf ] || {
                echo "/etc/swift/swift.conf missing (package swift)"
                return 1
        }
        /usr/bin/python3 -c 'import swift.common.middleware.s3api' 2>/dev/null || {
                echo "python3-swift lacks the s3api middleware"
                return 1
        }
}

swift_stop() {
        local pid
        for pid in "${swift_pids[@]}"; do
                srv_stop "$pid"
        done
        swift_pids=()
}

swift_write_server_conf() {
        local type=$1 port=$2
        cat >"$SWIFT_DIR/etc/$type-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $(id -un)
swift_dir = $SWIFT_DIR/etc
devices = $SWIFT_DIR/srv
mount_check = false
log_name = $type-server
log_address = $SWIFT_DIR/log/none

[pipeline:main]
pipeline = $type-server

[app:$type-server]
use = egg:swift#$type
EOF
}

# $1: port, $2: s3api location (the SigV4 region), $3: conf name
swift_write_proxy_conf() {
        local port=$1 location=$2 name=$3
        cat >"$SWIFT_DIR/etc/$name.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $port
workers = 0
user = $(id -un)
swift_dir = $SWIFT_DIR/etc
log_name = $name
log_address = $SWIFT_DIR/log/none

[pipeline:main]
pipeline = catch_errors gatekeeper proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
location = $location
storage_domain = s3.localhost
dns_compliant_bucket_names = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = $SWIFT_SECRET .admin

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$SWIFT_MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo
EOF
}

# $1: the log name, then the command
swift_spawn() {
        local log=$1
        shift
        "$@" >"$SWIFT_DIR/log/$log.log" 2>&1 &
        swift_pids+=($!)
}

# Native Swift API (tempauth): SWIFT_TOKEN and SWIFT_STORAGE_URL for the user.
swift_auth() {
        local hdrs
        hdrs=$(curl -sS -D - -o /dev/null -H "X-Auth-User: $SWIFT_KEY_ID" -H "X-Auth-Key: $SWIFT_SECRET" \
                "$SWIFT_S3_ENDPOINT/auth/v1.0" | tr -d '\r') || return 1
        SWIFT_STORAGE_URL=$(printf '%s\n' "$hdrs" | sed -n 's/^[Xx]-[Ss]torage-[Uu]rl: //p')
        SWIFT_TOKEN=$(printf '%s\n' "$hdrs" | sed -n 's/^[Xx]-[Aa]uth-[Tt]oken: //p')
        [ -n "$SWIFT_STORAGE_URL" ] && [ -n "$SWIFT_TOKEN" ]
}

# swift_make_bucket NAME: PUT the container NAME.
swift_make_bucket() {
        local code
        swift_auth || return 1
        code=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT -H "X-Auth-Token: $SWIFT_TOKEN" \
                "$SWIFT_STORAGE_URL/$1") || return 1
        case "$code" in 201 | 202) return 0 ;; *) return 1 ;; esac
}

# swift_list_container NAME: its object names, one a line (the first 10000).
swift_list_container() {
        swift_auth || return 1
        curl -sS -H "X-Auth-Token: $SWIFT_TOKEN" "$SWIFT_STORAGE_URL/$1?limit=10000"
}

# Both proxies answer, and a bucket can be made (so the account and
# container servers and the rings behind them work too).
swift_ready() {
        swift_make_bucket cairn-ready &&
                curl -sf -o /dev/null -H "X-Auth-User: $SWIFT_KEY_ID" -H "X-Auth-Key: $SWIFT_SECRET" \
                        "$SWIFT_GCS_ENDPOINT/auth/v1.0"
}

swift_start() {
        SWIFT_DIR=$1
        local acc con obj t py=/usr/bin/python3
        mkdir -p "$SWIFT_DIR/etc" "$SWIFT_DIR/srv/d1" "$SWIFT_DIR/log"
        acc=$(srv_free_port) && con=$(srv_free_port) && obj=$(srv_free_port) &&
                SWIFT_S3_PORT=$(srv_free_port) && SWIFT_GCS_PORT=$(srv_free_port) &&
                SWIFT_MEMCACHED_PORT=$(srv_free_port) || return 1
        SWIFT_S3_ENDPOINT="http://127.0.0.1:$SWIFT_S3_PORT"
        SWIFT_GCS_ENDPOINT="http://127.0.0.1:$SWIFT_GCS_PORT"

        for t in account:$acc container:$con object:$obj; do
                local type=${t%%:*} port=${t#*:}
                swift_write_server_conf "$type" "$port"
                (
                        cd "$SWIFT_DIR/etc" &&
                                swift-ring-builder "$type.builder" create 4 1 1 &&
                                swift-ring-builder "$type.builder" add "r1z1-127.0.0.1:$port/d1" 100 &&
                                swift-ring-builder "$type.builder" rebalance
                ) >>"$SWIFT_DIR/log/rings.log" 2>&1 || {
                        echo "swift: ring builder failed (see $SWIFT_DIR/log/rings.log)" >&2
                        return 1
                }
        done
        swift_write_proxy_conf "$SWIFT_S3_PORT" us-east-1 proxy-server
        swift_write_proxy_conf "$SWIFT_GCS_PORT" auto proxy-gcs

        local -a mc_user=()
        [ "$(id -u)" -eq 0 ] && mc_user=(-u root)
        swift_spawn memcached memcached -l 127.0.0.1 -p "$SWIFT_MEMCACHED_PORT" -U 0 -m 64 "${mc_user[@]}"
        for t in account container object; do
                swift_spawn "$t" "$py" "$(command -v "swift-$t-server")" "$SWIFT_DIR/etc/$t-server.conf" -v
        done
        swift_spawn proxy "$py" "$(command -v swift-proxy-server)" "$SWIFT_DIR/etc/proxy-server.conf" -v
        swift_spawn proxy-gcs "$py" "$(command -v swift-proxy-server)" "$SWIFT_DIR/etc/proxy-gcs.conf" -v

        # Swift starts in 4-9 s on an idle machine; allow for a loaded CI runner.
        if ! srv_wait 180 swift_ready; then
                echo "swift: not ready after 180 s; logs:" >&2
                tail -n 20 "$SWIFT_DIR"/log/*.log >&2
                return 1
        fi
}
