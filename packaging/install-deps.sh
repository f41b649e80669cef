#!/usr/bin/env bash
# Install the Debian 12 packages cairn needs to build and test. Idempotent:
# does nothing when everything is there already. Needs root (or sudo).
set -euo pipefail

pkgs=(
        gcc meson ninja-build pkg-config
        libsodium-dev libzstd-dev libxxhash-dev libarchive-dev libcurl4-openssl-dev libssl-dev libxml2-dev
        libcriterion-dev
        acl attr util-linux procps
)
missing=()
for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "cairn: installing ${missing[*]}" >&2
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
