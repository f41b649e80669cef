# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash disable=SC2034
# (SC2034: the SSHD_* variables are for the scripts that source this.)
#
# An OpenSSH sshd for tests, on 127.0.0.1 only, with its own config, host
# key and client keys in a directory the caller owns (under its mktemp -d).
# Source it, then:
#
#       sshd_check                 exit status 0 if a test sshd can run here;
#                                  else prints why (the caller skips)
#       sshd_setup DIR             keys and config in DIR (created), a free port
#       sshd_start                 start it (sshd -D -e -f DIR/sshd_config) and
#                                  wait until an SSH handshake succeeds
#       sshd_stop [SIGNAL]         kill it and its sessions by pid (TERM, or KILL
#                                  for a crash) and wait; a no-op if not running
#
# The caller registers sshd_stop for every exit path (srv_on_exit from
# tests/servers/lib.sh, which this sources, or its own trap). After
# sshd_setup these are set:
#
#       SSHD_PORT, SSHD_USER       where to log in: sftp://$SSHD_USER@127.0.0.1:$SSHD_PORT/
#       SSHD_KEY                   an ed25519 private key that may log in
#       SSHD_OTHER_KEY             an ed25519 key that may not
#       SSHD_RSA_KEY               an RSA key that is authorized (but libssh2 1.10
#                                  cannot use it against OpenSSH 9.2)
#       SSHD_ECDSA_KEY             an ECDSA (P-256) key that may log in
#       SSHD_ENC_KEY               an ed25519 key encrypted with SSHD_ENC_PASSPHRASE
#                                  that may log in
#       SSHD_HOST_KEY_SHA256       the host key's fingerprint, "SHA256:<base64>"
#       SSHD_KNOWN_HOSTS           a known_hosts file holding the host key
#       SSHD_PID                   after sshd_start; empty when stopped
#       SSHD_LOG                   sshd's stderr (-e: its log)
#
# Login is by key only, for the invoking user (root may log in with a key:
# PermitRootLogin prohibit-password). With UsePAM no, sshd refuses every
# login to an account whose password field in /etc/shadow starts with '!'
# (locked); such an account shows '*' when it merely has no password.
# sshd_check reports that case instead of failing later; the fix is
# `usermod -p '*' USER`, which keeps password logins impossible.
#
# Only sftp is served (ForceCommand internal-sftp): no shell, no forwarding.

# Free ports and the exit hooks come from the servers' shared helpers.
if ! declare -F srv_free_port >/dev/null; then
        # shellcheck source=tests/servers/lib.sh
        . "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
fi

SSHD_BIN=
SSHD_DIR=
SSHD_PID=

_sshd_find() {
        local p
        for p in "$(command -v sshd 2>/dev/null || true)" /usr/sbin/sshd /usr/local/sbin/sshd; do
                if [ -n "$p" ] && [ -x "$p" ]; then
                        # sshd re-execs itself and insists on an absolute path.
                        SSHD_BIN=$(readlink -f -- "$p")
                        return 0
                fi
        done
        return 1
}

sshd_check() {
        local user field p
        if ! _sshd_find; then
                echo "sshd not installed (Debian: openssh-server, packaging/install-deps.sh --test installs it)"
                return 1
        fi
        for p in ssh-keygen ssh-keyscan; do
                if ! command -v "$p" >/dev/null; then
                        echo "$p not installed (Debian: openssh-client)"
                        return 1
                fi
        done
        user=$(id -un)
        if [ -r /etc/shadow ]; then
                field=$(awk -F: -v u="$user" '$1 == u { print $2 }' /etc/shadow)
                case $field in
                '!'*)
                        echo "account $user is locked in /etc/shadow (password field starts with '!'):" \
                                "sshd without PAM refuses its key logins; run: usermod -p '*' $user"
                        return 1
                        ;;
                esac
        fi
        return 0
}

_sshd_write_config() {
        cat >"$SSHD_DIR/sshd_config" <<EOF
# cairn test sshd: loopback only, key-only, sftp only
ListenAddress 127.0.0.1:$SSHD_PORT
HostKey $SSHD_DIR/host_ed25519
PidFile none
AuthorizedKeysFile $SSHD_DIR/authorized_keys
AuthenticationMethods publickey
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AllowUsers $SSHD_USER
UsePAM no
StrictModes no
UseDNS no
PrintMotd no
PermitUserEnvironment no
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTunnel no
MaxStartups 64:30:128
MaxAuthTries 6
LogLevel VERBOSE
Subsystem sftp internal-sftp
ForceCommand internal-sftp
EOF
}

sshd_setup() {
        SSHD_DIR=$1
        mkdir -p -- "$SSHD_DIR"
        chmod 700 -- "$SSHD_DIR"
        _sshd_find || return 1
        SSHD_USER=$(id -un)
        SSHD_LOG=$SSHD_DIR/sshd.log
        SSHD_KEY=$SSHD_DIR/client_ed25519
        SSHD_OTHER_KEY=$SSHD_DIR/other_ed25519
        SSHD_RSA_KEY=$SSHD_DIR/client_rsa
        SSHD_ECDSA_KEY=$SSHD_DIR/client_ecdsa
        SSHD_ENC_KEY=$SSHD_DIR/client_encrypted
        SSHD_ENC_PASSPHRASE="test passphrase, not a secret"
        SSHD_KNOWN_HOSTS=$SSHD_DIR/known_hosts

        ssh-keygen -q -t ed25519 -N '' -C cairn-test-host -f "$SSHD_DIR/host_ed25519" </dev/null || return 1
        ssh-keygen -q -t ed25519 -N '' -C cairn-test-client -f "$SSHD_KEY" </dev/null || return 1
        ssh-keygen -q -t ed25519 -N '' -C cairn-test-other -f "$SSHD_OTHER_KEY" </dev/null || return 1
        ssh-keygen -q -t rsa -b 2048 -N '' -C cairn-test-rsa -f "$SSHD_RSA_KEY" </dev/null || return 1
        ssh-keygen -q -t ecdsa -b 256 -N '' -C cairn-test-ecdsa -f "$SSHD_ECDSA_KEY" </dev/null || return 1
        ssh-keygen -q -t ed25519 -N "$SSHD_ENC_PASSPHRASE" -C cairn-test-encrypted -f "$SSHD_ENC_KEY" </dev/null ||
                return 1
        cat "$SSHD_KEY.pub" "$SSHD_RSA_KEY.pub" "$SSHD_ECDSA_KEY.pub" "$SSHD_ENC_KEY.pub" >"$SSHD_DIR/authorized_keys"
        SSHD_HOST_KEY_SHA256=$(ssh-keygen -l -E sha256 -f "$SSHD_DIR/host_ed25519.pub" | awk '{ print $2 }')
        SSHD_PORT=$(srv_free_port) || return 1
        _sshd_write_config
        _sshd_write_known_hosts
}

_sshd_write_known_hosts() {
        local type key
        read -r type key _ <"$SSHD_DIR/host_ed25519.pub"
        echo "[127.0.0.1]:$SSHD_PORT $type $key" >"$SSHD_KNOWN_HOSTS"
}

# Start on SSHD_PORT; if it cannot bind (someone took the port), pick another
# one, once or twice, and rewrite the config and known_hosts to match.
sshd_start() {
        local attempt i
        [ -z "$SSHD_PID" ] || return 0
        if [ "$(id -u)" = 0 ] && [ ! -d /run/sshd ]; then
                # sshd's privilege separation chroot, compiled in; the system
                # service makes it at boot, which a container may not do.
                mkdir -p /run/sshd && chmod 755 /run/sshd
        fi
        "$SSHD_BIN" -t -f "$SSHD_DIR/sshd_config" >>"$SSHD_LOG" 2>&1 || {
                echo "sshd rejects its config (see $SSHD_LOG):" >&2
                tail -n 20 -- "$SSHD_LOG" >&2
                return 1
        }
        for attempt in 1 2 3; do
                "$SSHD_BIN" -D -e -f "$SSHD_DIR/sshd_config" </dev/null >>"$SSHD_LOG" 2>&1 &
                SSHD_PID=$!
                for i in $(seq 1 200); do
                        if ! kill -0 "$SSHD_PID" 2>/dev/null; then
                                wait "$SSHD_PID" 2>/dev/null || true
                                SSHD_PID=
                                break
                        fi
                        # Ready when a real handshake hands out the host key.
                        if ssh-keyscan -T 2 -t ed25519 -p "$SSHD_PORT" 127.0.0.1 2>/dev/null | grep -q ssh-ed25519; then
                                return 0
                        fi
                        sleep 0.1
                done
                if [ -n "$SSHD_PID" ]; then
                        echo "sshd on 127.0.0.1:$SSHD_PORT did not come up (see log below)" >&2
                        tail -n 20 -- "$SSHD_LOG" >&2
                        sshd_stop TERM
                        return 1
                fi
                if ! grep -q "Bind to port $SSHD_PORT" "$SSHD_LOG"; then
                        echo "sshd exited at start (log below)" >&2
                        tail -n 20 -- "$SSHD_LOG" >&2
                        return 1
                fi
                SSHD_PORT=$(srv_free_port) || return 1
                _sshd_write_config
                _sshd_write_known_hosts
        done
        echo "sshd could not bind a port on 127.0.0.1" >&2
        return 1
}

# The pids of every descendant of pid $1 (sshd forks a process, or two, per
# connection), from one pass over /proc (builtins only, so the scan is
# quick and forks nothing): found by parent id, so only what we started.
_sshd_descendants() {
        local f stat rest pid ppid
        local -A children=()
        for f in /proc/[0-9]*/stat; do
                { read -r stat <"$f"; } 2>/dev/null || continue
                pid=${stat%% *}
                rest=${stat##*) }
                read -r _ ppid _ <<<"$rest"
                children[$ppid]+=" $pid"
        done
        local queue=("$1") p
        while [ ${#queue[@]} -gt 0 ]; do
                p=${queue[0]}
                queue=("${queue[@]:1}")
                for pid in ${children[$p]:-}; do
                        echo "$pid"
                        queue+=("$pid")
                done
        done
}

# sshd_stop [SIGNAL]: stop the listener and every session it forked (by
# pid), so open connections break as when the server goes away. KILL
# simulates a crash; the default is TERM.
sshd_stop() {
        local sig=${1:-TERM} pid=$SSHD_PID kids
        [ -n "$pid" ] || return 0
        SSHD_PID=
        kids=$(_sshd_descendants "$pid")
        kill "-$sig" "$pid" 2>/dev/null || true
        for k in $kids; do
                kill "-$sig" "$k" 2>/dev/null || true
        done
        wait "$pid" 2>/dev/null || true
}
