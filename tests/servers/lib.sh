# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Small helpers shared by the test-server scripts in tests/servers/. Source
# it (after tests/cli/lib.sh when the caller uses that too):
#
#       srv_free_port            print a TCP port on 127.0.0.1 that nothing
#                                listens on now and that this shell has not
#                                handed out before
#       srv_wait SECONDS CMD...  run CMD every 0.1 s until it succeeds; return
#                                1 if it never did within SECONDS
#       srv_http_status PORT PATH [HEADER...]
#                                one plain HTTP/1.0 GET to 127.0.0.1:PORT
#                                (bash /dev/tcp, no curl needed); prints the
#                                status code; fails if there is no answer
#       srv_tcp_open PORT        succeeds if 127.0.0.1:PORT accepts a connection
#       srv_stop PID [SIGNAL]    send SIGNAL (TERM) to PID and to its direct
#                                children (found before the signal, so a KILLed
#                                master's workers die too), then wait; after 10 s
#                                KILL them; a no-op for an empty or gone PID
#       srv_on_exit CMD          run CMD (eval'd) when the shell exits: through
#                                tests/cli/lib.sh's at_exit when that is loaded,
#                                else through an EXIT trap of its own
#
# Servers only ever listen on 127.0.0.1; a script stops each one it started
# by pid, on every exit path (register the stop with srv_on_exit right after
# the start). No proxy from the environment may take test traffic elsewhere.

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

_srv_ports_given=" "
_srv_exit_cmds=()

_srv_listening_ports() {
        local f line local_addr port
        for f in /proc/net/tcp /proc/net/tcp6; do
                [ -r "$f" ] || continue
                while read -r _ local_addr _ line; do
                        [ "${local_addr:-}" != local_address ] || continue
                        port=${local_addr##*:}
                        [ -n "$port" ] && echo $((16#$port))
                done <"$f"
        done
}

srv_free_port() {
        local used port i
        used=" $(_srv_listening_ports | tr '\n' ' ') "
        for ((i = 0; i < 200; i++)); do
                port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
                case "$used$_srv_ports_given" in
                *" $port "*) continue ;;
                esac
                _srv_ports_given+="$port "
                echo "$port"
                return 0
        done
        echo "srv_free_port: no free port found" >&2
        return 1
}

srv_wait() {
        local secs=$1 i
        shift
        for ((i = 0; i < secs * 10; i++)); do
                "$@" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        return 1
}

srv_tcp_open() {
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

srv_http_status() {
        local port=$1 path=$2 line h
        shift 2
        { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
        {
                printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n' "$path" "$port"
                for h in "$@"; do
                        printf '%s\r\n' "$h"
                done
                printf '\r\n'
        } >&3
        IFS= read -r -t 5 line <&3 || {
                exec 3<&-
                return 1
        }
        exec 3<&-
        line=${line%$'\r'}
        case "$line" in
        HTTP/*" "[0-9][0-9][0-9]*) ;;
        *) return 1 ;;
        esac
        line=${line#* }
        echo "${line%% *}"
}

srv_stop() {
        local pid=${1:-} sig=${2:-TERM} kids i alive
        [ -n "$pid" ] || return 0
        kill -0 "$pid" 2>/dev/null || return 0
        kids=$(pgrep -P "$pid" 2>/dev/null || true)
        # shellcheck disable=SC2086
        kill -s "$sig" "$pid" $kids 2>/dev/null || true
        for ((i = 0; i < 100; i++)); do
                alive=
                for p in $pid $kids; do
                        kill -0 "$p" 2>/dev/null && alive+=" $p"
                done
                [ -z "$alive" ] && break
                sleep 0.1
        done
        if [ -n "$alive" ]; then
                # shellcheck disable=SC2086
                kill -s KILL $alive 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
        return 0
}

_srv_run_exit() {
        local rc=$? i
        set +e
        for ((i = ${#_srv_exit_cmds[@]} - 1; i >= 0; i--)); do
                eval "${_srv_exit_cmds[i]}"
        done
        exit "$rc"
}

srv_on_exit() {
        if declare -F at_exit >/dev/null; then
                at_exit "$1"
                return
        fi
        if [ ${#_srv_exit_cmds[@]} -eq 0 ]; then
                trap _srv_run_exit EXIT
                trap 'exit 130' INT TERM
        fi
        _srv_exit_cmds+=("$1")
}
