#!/usr/bin/env bash
# Install the Debian 12 packages the test suite needs beyond packaging/install-deps.sh:
# the servers that tests/remote/ starts on 127.0.0.1 (each script stops its own by pid).
# Idempotent. Needs root (or sudo). Installing a server package never leaves its
# system service in use: the tests run their own instances with their own configs.
set -euo pipefail

pkgs=(
)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "cairn: installing test servers ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
