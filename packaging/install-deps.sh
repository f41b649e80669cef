#!/usr/bin/env bash
# Install the Debian 12 packages cairn needs to build and test; with --test
# also the servers that tests/remote/ starts on 127.0.0.1 (each script stops
# its own by pid). Idempotent: does nothing when everything is there already.
# Needs root (or sudo).
set -euo pipefail

pkgs=(
        gcc meson ninja-build pkg-config
        libsodium-dev libzstd-dev libxxhash-dev libarchive-dev libcurl4-openssl-dev libssl-dev libxml2-dev
        libjansson-dev
        libcriterion-dev
        acl attr util-linux procps
)
case "${1:-}" in
"") ;;
--test)
        pkgs+=(
                openssh-server  # tests/servers/sshd.sh (ssh-keygen/ssh-keyscan come with openssh-client)
                # tests/servers/swift.sh: OpenStack Swift with s3api (tests/remote/s3.sh); curl makes buckets
                swift swift-proxy swift-account swift-container swift-object python3-swift memcached curl
                # tests/servers/nginx.sh: WebDAV (tests/remote/webdav.sh); openssl makes its CA and htpasswd
                nginx libnginx-mod-http-dav-ext openssl
                strace  # tests/cli/prune-kill.sh kills prune at each syscall of a kind
                # independent implementations written from docs/FORMAT.md alone:
                # tests/cli/verify-certificate.py and tests/privacy/cairn_reader.py
                python3-nacl python3-jsonschema python3-zstandard
                # tests/fuzz/run.sh: clang with libFuzzer and the ASan/UBSan runtimes
                # (libclang-rt-14-dev is only recommended by clang-14, so named here)
                clang-14 libclang-rt-14-dev
        )
        ;;
*)
        echo "usage: $0 [--test]" >&2
        exit 2
        ;;
esac
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "cairn: installing ${missing[*]}" >&2
# Debian starts a server package's system service on install (nginx on port
# 80, sshd on 22, memcached...). A policy-rc.d that answers 101 ("action
# forbidden") keeps them all stopped, as the tests run their own instances
# with their own configs; it is removed again afterwards.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
