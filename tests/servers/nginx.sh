# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash disable=SC2034
# (SC2034: the NGINX_* variables are for the scripts that source this.)
#
# nginx as a WebDAV server for tests: on 127.0.0.1 only, plain HTTP and
# HTTPS on two free ports, Basic auth, its own prefix, config, logs, test CA
# and server certificate in a directory the caller owns (under its mktemp -d).
# Needs tests/servers/lib.sh sourced first. Then:
#
#       nginx_check              0 if nginx with the dav_ext module (PROPFIND)
#                                and openssl are here; else prints why
#       nginx_setup DIR          certificates, htpasswd and config in DIR
#                                (created), ports chosen
#       nginx_start              start it (nginx -p DIR, daemon off) and wait
#                                until a real request gets an answer
#       nginx_stop [SIGNAL]      stop master and workers by pid (TERM, or KILL
#                                for a crash) and wait; a no-op when stopped
#       nginx_fail_on / nginx_fail_off
#                                while on, every request is answered 503
#                                (a flag file the config tests with `if -f`)
#
# After nginx_setup:
#
#       NGINX_HTTP_PORT, NGINX_HTTPS_PORT
#       NGINX_USER, NGINX_PASSWORD   the one account (Basic auth)
#       NGINX_CA                 the test CA's certificate (for CAIRN_CA_FILE);
#                                the server certificate is for 127.0.0.1 and localhost
#       NGINX_ROOT               the directory served as "/"
#       NGINX_FAIL_FLAG          the 503 flag file
#       NGINX_ACCESS_LOG, NGINX_ERROR_LOG
#       NGINX_PID                after nginx_start; empty when stopped
#
# The caller registers nginx_stop for every exit path (srv_on_exit). One
# worker process: requests are handled one at a time, so a MOVE with
# "Overwrite: F" is a check-and-rename no other request can interleave with.
# As root the worker runs as root too (`user root`), since DIR is private to
# the caller; otherwise nginx ignores the directive and runs as the caller.

NGINX_BIN=
NGINX_DAV_EXT=
NGINX_DIR=
NGINX_PID=
_nginx_started=

_nginx_find() {
        local p m
        NGINX_BIN=
        for p in "$(command -v nginx 2>/dev/null || true)" /usr/sbin/nginx; do
                if [ -n "$p" ] && [ -x "$p" ]; then
                        NGINX_BIN=$p
                        break
                fi
        done
        [ -n "$NGINX_BIN" ] || return 1
        NGINX_DAV_EXT=
        for m in /usr/lib/nginx/modules/ngx_http_dav_ext_module.so /usr/lib64/nginx/modules/ngx_http_dav_ext_module.so; do
                if [ -f "$m" ]; then
                        NGINX_DAV_EXT=$m
                        break
                fi
        done
        return 0
}

nginx_check() {
        if ! _nginx_find; then
                echo "nginx not installed (Debian: nginx, packaging/install-deps.sh --test installs it)"
                return 1
        fi
        if ! "$NGINX_BIN" -V 2>&1 | grep -q -- --with-http_dav_module; then
                echo "$NGINX_BIN lacks the http_dav module"
                return 1
        fi
        if [ -z "$NGINX_DAV_EXT" ]; then
                echo "nginx dav_ext module (PROPFIND) missing (Debian: libnginx-mod-http-dav-ext)"
                return 1
        fi
        if ! command -v openssl >/dev/null; then
                echo "openssl not installed (needed for the test CA and htpasswd)"
                return 1
        fi
        return 0
}

_nginx_certs() {
        local d=$1
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -days 3 \
                -keyout "$d/ca.key" -out "$d/ca.crt" -subj "/CN=cairn test CA" \
                -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
                2>"$d/openssl.log" || return 1
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc \
                -keyout "$d/server.key" -out "$d/server.csr" -subj "/CN=127.0.0.1" 2>>"$d/openssl.log" || return 1
        printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=critical,CA:FALSE" \
                "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >"$d/server.ext"
        openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
                -days 3 -extfile "$d/server.ext" -out "$d/server.crt" 2>>"$d/openssl.log" || return 1
}

nginx_setup() {
        local d=$1
        _nginx_find || return 1
        mkdir -p -- "$d" || return 1
        d=$(cd -- "$d" && pwd) || return 1
        NGINX_DIR=$d
        NGINX_ROOT=$d/data
        NGINX_FAIL_FLAG=$d/fail-503
        NGINX_ACCESS_LOG=$d/access.log
        NGINX_ERROR_LOG=$d/error.log
        NGINX_CA=$d/ca.crt
        NGINX_USER=cairn-test
        NGINX_PASSWORD=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
        mkdir -p -- "$NGINX_ROOT" "$d/tmp" "$d/logs" || return 1
        rm -f -- "$NGINX_FAIL_FLAG"

        _nginx_certs "$d" || {
                echo "nginx_setup: openssl failed:" >&2
                cat -- "$d/openssl.log" >&2
                return 1
        }
        # apr1 (MD5-crypt) is the hash nginx checks itself, whatever libc's crypt() has.
        printf '%s:%s\n' "$NGINX_USER" "$(printf '%s' "$NGINX_PASSWORD" | openssl passwd -apr1 -stdin)" \
                >"$d/htpasswd" || return 1

        NGINX_HTTP_PORT=$(srv_free_port) && NGINX_HTTPS_PORT=$(srv_free_port) || return 1
        _nginx_conf
}

_nginx_conf() {
        local d=$NGINX_DIR user_line=
        [ "$(id -u)" = 0 ] && user_line="user root root;"
        cat >"$d/nginx.conf" <<EOF
load_module $NGINX_DAV_EXT;
$user_line
worker_processes 1;
daemon off;
master_process on;
pid $d/nginx.pid;
error_log $NGINX_ERROR_LOG info;
events {
        worker_connections 512;
}
http {
        access_log $NGINX_ACCESS_LOG;
        client_body_temp_path $d/tmp/body;
        proxy_temp_path $d/tmp/proxy;
        fastcgi_temp_path $d/tmp/fastcgi;
        uwsgi_temp_path $d/tmp/uwsgi;
        scgi_temp_path $d/tmp/scgi;
        client_max_body_size 0;
        default_type application/octet-stream;
        keepalive_requests 100000;
        server {
                listen 127.0.0.1:$NGINX_HTTP_PORT;
                listen 127.0.0.1:$NGINX_HTTPS_PORT ssl;
                server_name 127.0.0.1 localhost;
                ssl_certificate $d/server.crt;
                ssl_certificate_key $d/server.key;
                root $NGINX_ROOT;
                location / {
                        if (-f $NGINX_FAIL_FLAG) {
                                return 503;
                        }
                        auth_basic "cairn test";
                        auth_basic_user_file $d/htpasswd;
                        dav_methods PUT DELETE MKCOL COPY MOVE;
                        dav_ext_methods PROPFIND OPTIONS;
                        dav_access user:rw;
                        create_full_put_path off;
                }
        }
}
EOF
}

nginx_start() {
        local try
        [ -n "$NGINX_DIR" ] || {
                echo "nginx_start: call nginx_setup first" >&2
                return 1
        }
        for try in 1 2 3; do
                : >"$NGINX_DIR/logs/stdout"
                "$NGINX_BIN" -p "$NGINX_DIR" -c "$NGINX_DIR/nginx.conf" -e "$NGINX_ERROR_LOG" \
                        >"$NGINX_DIR/logs/stdout" 2>&1 </dev/null &
                NGINX_PID=$!
                # A real request: unauthenticated, so 401 is the answer that shows it works.
                _nginx_wait_up && break
                # Another test took a port between srv_free_port and the bind: new
                # ports, but only before the first start (URLs hold the ports after).
                if [ -z "$_nginx_started" ] && [ "$try" -lt 3 ] &&
                        grep -q 'Address already in use' "$NGINX_DIR/logs/stdout" "$NGINX_ERROR_LOG" 2>/dev/null; then
                        nginx_stop KILL
                        NGINX_HTTP_PORT=$(srv_free_port) && NGINX_HTTPS_PORT=$(srv_free_port) && _nginx_conf || return 1
                        continue
                fi
                break
        done
        if ! _nginx_answers; then
                echo "nginx did not come up; its error log:" >&2
                tail -n 30 -- "$NGINX_ERROR_LOG" "$NGINX_DIR/logs/stdout" >&2 2>/dev/null
                nginx_stop KILL
                return 1
        fi
        srv_wait 20 srv_tcp_open "$NGINX_HTTPS_PORT" || {
                echo "nginx HTTPS port does not answer" >&2
                nginx_stop KILL
                return 1
        }
        _nginx_started=1
}

# Until it answers (0), exits (1) or 20 s pass (1).
_nginx_wait_up() {
        local i
        for ((i = 0; i < 200; i++)); do
                kill -0 "$NGINX_PID" 2>/dev/null || return 1
                _nginx_answers && return 0
                sleep 0.1
        done
        return 1
}

_nginx_answers() {
        local s
        kill -0 "$NGINX_PID" 2>/dev/null || return 1
        s=$(srv_http_status "$NGINX_HTTP_PORT" /) || return 1
        [ "$s" = 401 ] || [ "$s" = 503 ]
}

nginx_stop() {
        local pid=$NGINX_PID
        NGINX_PID=
        srv_stop "$pid" "${1:-TERM}"
}

nginx_fail_on() {
        : >"$NGINX_FAIL_FLAG"
}

nginx_fail_off() {
        rm -f -- "$NGINX_FAIL_FLAG"
}
