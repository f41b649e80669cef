#!/usr/bin/env bash
# Regenerate the seed corpora tests/fuzz/corpus/<target>/ (seeds only:
# entries that fuzzing added, named by their SHA-1, are kept).
#   usage: tests/fuzz/make-seeds.sh BUILD_DIR
set -euo pipefail
build=${1:?usage: make-seeds.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/corpus"
"$build/tests/fuzz/fuzz-make-seeds" "$here/../vectors" "$here/corpus"
du -sh "$here/corpus"
