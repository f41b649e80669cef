#!/usr/bin/env bash
# Install the Debian 12 packages the test suite needs beyond packaging/install-deps.sh:
# the servers that tests/remote/ starts on 127.0.0.1 (each script stops its own by pid).
# Idempotent. Needs root (or sudo). Installing a server package does not start its
# system service (policy-rc.d below): the tests run their own instances with their
# own configs, on ports of their own.
set -euo pipefail

pkgs=(
        openssh-server  # tests/servers/sshd.sh (sshd; ssh-keygen/ssh-keyscan come with openssh-client)
        # tests/servers/swift.sh: OpenStack Swift with s3api (tests/remote/s3.sh); curl makes buckets
        swift swift-proxy swift-account swift-container swift-object python3-swift memcached curl
        # tests/servers/nginx.sh: WebDAV (tests/remote/webdav.sh); openssl makes its CA and htpasswd
        nginx libnginx-mod-http-dav-ext openssl
)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "cairn: installing test servers ${missing[*]}" >&2
# Debian starts a server package's system service on install (nginx on port
# 80, sshd on 22, memcached...). A policy-rc.d that answers 101 ("action
# forbidden") keeps them all stopped; it is removed again afterwards.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
        "${sudo[@]}" chmod 755 "$policy"
        trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
