#!/usr/bin/env bash
# First run on a fresh Debian 12 machine: install what cairn needs, build it,
# then back up a sample directory into the default local repository and
# restore it somewhere else, comparing the two.
set -euo pipefail
cd "$(dirname "$0")/.."

packaging/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
cairn=$PWD/build/agent/cairn

# cron and systemd run cairn with a password file; make one if none is set.
if [ -z "${CAIRN_PASSWORD:-}" ] && [ -z "${CAIRN_PASSWORD_FILE:-}" ]; then
        conf=${XDG_CONFIG_HOME:-$HOME/.config}/cairn
        mkdir -p "$conf"
        if [ ! -s "$conf/password" ]; then
                (umask 077 && head -c 32 /dev/urandom | base64 > "$conf/password")
                echo "cairn: created a random repository password in $conf/password: keep a copy somewhere safe"
        fi
        export CAIRN_PASSWORD_FILE=$conf/password
fi

rc=0
"$cairn" snapshots >/dev/null 2>&1 || rc=$?
if [ "$rc" -eq 10 ]; then
        "$cairn" init
elif [ "$rc" -ne 0 ]; then
        "$cairn" snapshots     # says what is wrong
fi

sample=$(mktemp -d /tmp/cairn-sample.XXXXXX)
target=$(mktemp -d /tmp/cairn-restore.XXXXXX)
mkdir "$sample/docs"
printf 'hello from cairn\n' > "$sample/docs/hello.txt"
head -c 3000000 /dev/urandom > "$sample/docs/random.bin"
ln -s docs/hello.txt "$sample/link"

"$cairn" backup "$sample"
"$cairn" snapshots
"$cairn" restore latest --target "$target"
diff -r --no-dereference "$sample" "$target$sample"
echo "cairn: restored $sample into $target$sample, identical. Next: 'build/agent/cairn --help'."
