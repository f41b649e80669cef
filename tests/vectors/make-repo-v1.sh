#!/usr/bin/env bash
# Regenerate tests/vectors/repo-v1: a whole v1 repository that every later
# cairn must still open (tests/unit/test-store.c, golden_repository_*).
# Run only for a format change made on purpose: usage make-repo-v1.sh CAIRN
set -euo pipefail
cairn=$(realpath "${1:?usage: make-repo-v1.sh path/to/cairn}")
here=$(cd "$(dirname "$0")" && pwd)
work=/tmp/cairn-vector-v1         # a fixed path: the snapshot records it
rm -rf "$work" && mkdir "$work"
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/vector/sub"
printf 'hello, cairn\n' > "$work/vector/hello.txt"
head -c 100000 /dev/zero > "$work/vector/sub/zeros"
ln -s hello.txt "$work/vector/link"
touch -d '2100-01-01 00:00:00.123456789' "$work/vector/hello.txt"

rm -rf "$here/repo-v1"
export CAIRN_PASSWORD=cairn-vector
"$cairn" -r "$here/repo-v1" init --controller vector-controller >/dev/null
"$cairn" -r "$here/repo-v1" backup --host vector-host "$work/vector" >/dev/null
echo "wrote $here/repo-v1"
