#!/usr/bin/env bash
# End-to-end benchmark: cairn, restic and borg side by side on the same data in
# the same run, with tar as the floor. See bench/README.md.
#
#   bench/run-e2e.sh [--quick] [--runs N] [--tools LIST] [--scenarios LIST]
#                    [--no-install] [--no-build] [--out DIR]
#
#   --quick           1 run, every 4th file of the tree (~20k files), a 256 MiB
#                     file; results go to $CAIRN_BENCH_DIR/quick/results/
#   --runs N          runs of each tool (default 3, or $CAIRN_BENCH_RUNS)
#   --tools LIST      comma-separated subset of cairn,cairn-z1,restic,borg,tar
#                     (cairn-z1: cairn with backup --compression 1)
#   --scenarios LIST  comma-separated subset of tree,file
#   --no-install      do not apt-get anything (fail if something is missing)
#   --no-build        use build-bench/agent/cairn as it is
#   --out DIR         write RESULTS.md and raw.csv into DIR instead of bench/
#
# Environment: CAIRN_BENCH_DIR (work dir, default /var/tmp/cairn-bench),
# CAIRN_BENCH_RUNS, CAIRN_BENCH_SEED (seed of the modified copy, default 1).
# Needs root, or sudo, for apt-get and for mounting the restore tmpfs.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LIB="$HERE/lib-e2e.py"
BENCH_NAME=run-e2e
# shellcheck source=bench/lib-bench.sh
. "$HERE/lib-bench.sh"
COMMAND_LINE="bench/run-e2e.sh${*:+ $*}"

WORK=${CAIRN_BENCH_DIR:-/var/tmp/cairn-bench}
RUNS=${CAIRN_BENCH_RUNS:-3}
SEED=${CAIRN_BENCH_SEED:-1}
QUICK=0
TOOLS=cairn,cairn-z1,restic,borg,tar
SCENARIOS=tree,file
INSTALL=1
BUILD=1
OUT=

runs_set=0
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) QUICK=1 ;;
        --runs) RUNS=${2:?--runs needs a number}; runs_set=1; shift ;;
        --tools) TOOLS=${2:?--tools needs a list}; shift ;;
        --scenarios) SCENARIOS=${2:?--scenarios needs a list}; shift ;;
        --no-install) INSTALL=0 ;;
        --no-build) BUILD=0 ;;
        --out) OUT=${2:?--out needs a directory}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number, not '$RUNS'"
[ "$QUICK" = 1 ] && [ "$runs_set" = 0 ] && [ -z "${CAIRN_BENCH_RUNS:-}" ] && RUNS=1
check_list tool "$TOOLS" cairn cairn-z1 restic borg tar
check_list scenario "$SCENARIOS" tree file

# ------------------------------------------------------------------ layout
# $WORK/src/linux-orig        the unpacked linux-source-6.1 tree (never written after unpacking)
# $WORK/src/linux-mod         its modified copy, made once
# $WORK/src/mixed.bin         the 2 GiB file; *.ok files beside each record that it is complete
# $WORK/quick/...             the same for --quick (subset tree, 256 MiB file)
# $WORK/live/linux            the path every tool backs up: rsync'd from linux-orig, then
#                             from linux-mod, so unchanged files keep inode and ctime
# $WORK/repo, $WORK/tmp       repositories and tar archives, removed after each tool's run
# $WORK/tmpfs                 tmpfs mounted for restores, remounted empty before each
# $WORK/home/.cache, .config  XDG_CACHE_HOME / XDG_CONFIG_HOME of restic and borg
# $WORK/logs                  each step's output
if [ "$QUICK" = 1 ]; then
        BASE=$WORK/quick
        FILE_SIZE=$((256 << 20))
        MODE="quick (--quick)"
else
        BASE=$WORK
        FILE_SIZE=$((2 << 30))
        MODE="full"
fi
if [ -z "$OUT" ]; then
        if [ "$QUICK" = 1 ]; then
                OUT=$BASE/results
                RESULTS=$OUT/RESULTS.md
                RAW=$OUT/raw.csv
        else
                RESULTS=$HERE/RESULTS.md
                RAW=$HERE/results/raw.csv
        fi
else
        RESULTS=$OUT/RESULTS.md
        RAW=$OUT/raw.csv
fi
SRC=$WORK/src
ORIG=$BASE/src/linux-orig
MOD=$BASE/src/linux-mod
MIXED=$BASE/src/mixed.bin
LIVE_PARENT=$BASE/live
LIVE=$LIVE_PARENT/linux
REPO=$BASE/repo
TMP=$BASE/tmp
TMPFS=$WORK/tmpfs
LOGS=$BASE/logs

export XDG_CACHE_HOME=$WORK/home/.cache XDG_CONFIG_HOME=$WORK/home/.config
export CAIRN_PASSWORD=cairn-bench RESTIC_PASSWORD=cairn-bench BORG_PASSPHRASE=cairn-bench
export BORG_DISPLAY_PASSPHRASE=n BORG_RELOCATED_REPO_ACCESS_IS_OK=yes
export LC_ALL=C
unset CAIRN_PASSWORD_FILE CAIRN_REPOSITORY RESTIC_REPOSITORY RESTIC_PASSWORD_FILE BORG_REPO || true

# ------------------------------------------------------------------ install and build
install_e2e_packages() {
        install_packages restic borgbackup linux-source-6.1 time rsync xz-utils tar python3 diffutils \
                util-linux coreutils findutils procps
}

# ------------------------------------------------------------------ data sets
make_mod() {
        intact "$MOD" && return 0
        say "making the modified copy $MOD (seed $SEED)"
        rm -rf "$MOD" "$MOD.ok" "$MOD.tmp"
        cp -a "$ORIG" "$MOD.tmp"
        python3 "$LIB" modify "$MOD.tmp" "$SEED" | tee "$BASE/src/mod-summary.txt" >&2
        mv "$MOD.tmp" "$MOD"
        seal "$MOD"
}
make_mixed() {
        if [ -f "$MIXED" ] && [ -f "$MIXED.ok" ] &&
                [ "$(stat -c '%s %Y' "$MIXED")" = "$(head -1 "$MIXED.ok")" ]; then
                return 0
        fi
        say "making the mixed file $MIXED ($((FILE_SIZE >> 20)) MiB): tar of the tree, then of /usr/lib"
        rm -f "$MIXED" "$MIXED.ok"
        # tar stops with SIGPIPE once head has enough: that is expected.
        { tar -C "$SRC" -cf - --sort=name linux-orig
          tar -C / -cf - --sort=name usr/lib usr/bin usr/share
        } 2>/dev/null | head -c "$FILE_SIZE" >"$MIXED.tmp" || true
        [ "$(stat -c %s "$MIXED.tmp")" = "$FILE_SIZE" ] || die "$MIXED.tmp came out short"
        mv "$MIXED.tmp" "$MIXED"
        local treetar
        treetar=$(tar -C "$SRC" -cf - --sort=name linux-orig | wc -c)
        { stat -c '%s %Y' "$MIXED"
          echo "tree_tar_bytes=$treetar"
          echo "sha256=$(sha256sum <"$MIXED" | cut -c1-64)"
        } >"$MIXED.ok"
}

warm() {
        say "warming the page cache with $LIVE and $MIXED"
        tar -C "$LIVE_PARENT" -cf - linux | cat >/dev/null
        cat "$MIXED" >/dev/null
}

# ------------------------------------------------------------------ tmpfs
tmpfs_fresh() {
        tmpfs_off
        mkdir -p "$TMPFS"
        "${SUDO[@]}" mount -t tmpfs -o size=8g,mode=0755 cairn-bench "$TMPFS"
}
tmpfs_off() {
        if mountpoint -q "$TMPFS" 2>/dev/null; then "${SUDO[@]}" umount "$TMPFS"; fi
}

# ------------------------------------------------------------------ timing
CSV_HEAD="run,scenario,step,tool,rc,wall_s,user_s,sys_s,maxrss_kib,repo_bytes,cache_bytes,input_bytes,sync_s,verified,others_cpu_s,load1,time"
RUN=0
SCEN=
STATUS=0 # exit code of the last timed step

cache_dir() {
        case "$1" in
        restic) echo "$XDG_CACHE_HOME/restic" ;;
        borg) echo "$XDG_CACHE_HOME/borg" ;;
        *) echo "" ;;
        esac
}

# timed TOOL STEP INPUT_BYTES REPO_OR_ARCHIVE -- COMMAND...: sync, run COMMAND under GNU
# time with its output in a log, sync again (timed apart); record finishes its CSV row.
timed() {
        local tool=$1 step=$2 input=$3 store=$4
        shift 5
        bench_time "$tool $SCEN $step" "$LOGS/run$RUN-$SCEN-$tool-$step.log" "$@"
        local cdir repo cache
        cdir=$(cache_dir "$tool")
        repo=$(size_of "$store")
        cache=""
        [ -n "$cdir" ] && cache=$(size_of "$cdir")
        LAST_ROW="$RUN,$SCEN,$step,$tool,$STATUS,$T_WALL,$T_USER,$T_SYS,$T_RSS,${repo:-},${cache:-},$input,$T_SYNC,"
        LAST_TAIL=",$T_OTHERS,$T_LOAD,$T_AT"
}
# record VERIFIED: finish the row of the last timed step
record() { echo "$LAST_ROW$1$LAST_TAIL" >>"$RAW_TMP"; }

# verify_tree RESTORED: the restored tree equals $LIVE (content, types, link targets)
verify_tree() {
        if diff -rq --no-dereference "$LIVE" "$1" >"$LOGS/run$RUN-$SCEN-$CUR-verify.log" 2>&1; then
                echo yes
        else
                say "restored tree differs from $LIVE; see $LOGS/run$RUN-$SCEN-$CUR-verify.log"
                echo no
        fi
}
verify_file() {
        if cmp "$MIXED" "$1" >"$LOGS/run$RUN-$SCEN-$CUR-verify.log" 2>&1; then echo yes; else echo no; fi
}

# ------------------------------------------------------------------ the tools
# Each tool gets the same verbs: init REPO, backup REPO N PATH, restore REPO N TARGET.
tool_init() {
        case "$1" in
        cairn|cairn-z1) timed "$1" init 0 "$REPO" -- "$CAIRN" -r "$REPO" init ;;
        restic) timed restic init 0 "$REPO" -- restic -r "$REPO" init ;;
        borg) timed borg init 0 "$REPO" -- borg init -e repokey "$REPO" ;;
        esac
}
tool_backup() { # TOOL STEP N PATH INPUT_BYTES
        local tool=$1 step=$2 n=$3 path=$4 input=$5
        case "$tool" in
        cairn) timed cairn "$step" "$input" "$REPO" -- "$CAIRN" -r "$REPO" --json backup "$path" ;;
        cairn-z1) timed cairn-z1 "$step" "$input" "$REPO" -- "$CAIRN" -r "$REPO" --json backup --compression 1 "$path" ;;
        restic) timed restic "$step" "$input" "$REPO" -- restic -r "$REPO" backup "$path" ;;
        borg) timed borg "$step" "$input" "$REPO" -- borg create --compression lz4 "$REPO::$SCEN-$n" "$path" ;;
        esac
}
tool_restore() { # TOOL N TARGET BYTES
        local tool=$1 n=$2 target=$3 bytes=$4
        case "$tool" in
        cairn|cairn-z1) timed "$tool" restore "$bytes" "$REPO" -- "$CAIRN" -r "$REPO" restore latest --target "$target" ;;
        restic) timed restic restore "$bytes" "$REPO" -- restic -r "$REPO" restore latest --target "$target" ;;
        borg) timed borg restore "$bytes" "$REPO" -- env -C "$target" borg extract "$REPO::$SCEN-$n" ;;
        esac
}
tool_clean() {
        rm -rf "$REPO" "$TMP/archive.tar"
        local c
        c=$(cache_dir "$1")
        [ -n "$c" ] && rm -rf "$c"
        [ "$1" = borg ] && rm -rf "$XDG_CONFIG_HOME/borg"
        tmpfs_off
        sync
}

# One tool's pass over the tree: fresh repository, initial backup, unchanged
# re-backup, the modified copy rsync'd over the same path and backed up, restore.
run_tree() {
        local tool=$1 CUR=$1 v bytes_orig bytes_mod
        SCEN=tree
        tool_clean "$tool"
        live_from "$ORIG"
        bytes_orig=$(sed 's/.*bytes=\([0-9]*\).*/\1/' "$ORIG.ok")
        bytes_mod=$(sed 's/.*bytes=\([0-9]*\).*/\1/' "$MOD.ok")
        if [ "$tool" = tar ]; then
                mkdir -p "$TMP"
                timed tar backup "$bytes_orig" "$TMP/archive.tar" -- tar -cf "$TMP/archive.tar" -C "$LIVE_PARENT" linux
                record n/a
                live_from "$MOD"
                rm -f "$TMP/archive.tar"
                timed tar modified "$bytes_mod" "$TMP/archive.tar" -- tar -cf "$TMP/archive.tar" -C "$LIVE_PARENT" linux
                record n/a
                tmpfs_fresh
                timed tar restore "$bytes_mod" "$TMP/archive.tar" -- tar -xf "$TMP/archive.tar" -C "$TMPFS"
                v=no
                [ "$STATUS" -eq 0 ] && v=$(verify_tree "$TMPFS/linux")
                record "$v"
                tool_clean tar
                return 0
        fi
        tool_init "$tool"
        record n/a
        [ "$STATUS" -eq 0 ] || { tool_clean "$tool"; return 0; }
        tool_backup "$tool" backup 1 "$LIVE" "$bytes_orig"
        record n/a
        [ "$STATUS" -eq 0 ] || { tool_clean "$tool"; return 0; }
        tool_backup "$tool" rebackup 2 "$LIVE" "$bytes_orig"
        record n/a
        live_from "$MOD"
        tool_backup "$tool" modified 3 "$LIVE" "$bytes_mod"
        record n/a
        [ "$STATUS" -eq 0 ] || { tool_clean "$tool"; return 0; }
        tmpfs_fresh
        tool_restore "$tool" 3 "$TMPFS" "$bytes_mod"
        v=no
        [ "$STATUS" -eq 0 ] && v=$(verify_tree "$TMPFS$LIVE")
        record "$v"
        tool_clean "$tool"
}

# One tool's pass over the mixed file: fresh repository, backup, re-backup, restore.
run_file() {
        local tool=$1 CUR=$1 v size
        SCEN=file
        tool_clean "$tool"
        size=$(stat -c %s "$MIXED")
        if [ "$tool" = tar ]; then
                mkdir -p "$TMP"
                timed tar backup "$size" "$TMP/archive.tar" -- tar -cf "$TMP/archive.tar" -C "$(dirname "$MIXED")" "$(basename "$MIXED")"
                record n/a
                tmpfs_fresh
                timed tar restore "$size" "$TMP/archive.tar" -- tar -xf "$TMP/archive.tar" -C "$TMPFS"
                v=no
                [ "$STATUS" -eq 0 ] && v=$(verify_file "$TMPFS/$(basename "$MIXED")")
                record "$v"
                tool_clean tar
                return 0
        fi
        tool_init "$tool"
        record n/a
        [ "$STATUS" -eq 0 ] || { tool_clean "$tool"; return 0; }
        tool_backup "$tool" backup 1 "$MIXED" "$size"
        record n/a
        [ "$STATUS" -eq 0 ] || { tool_clean "$tool"; return 0; }
        tool_backup "$tool" rebackup 2 "$MIXED" "$size"
        record n/a
        tmpfs_fresh
        tool_restore "$tool" 2 "$TMPFS" "$size"
        v=no
        [ "$STATUS" -eq 0 ] && v=$(verify_file "$TMPFS$MIXED")
        record "$v"
        tool_clean "$tool"
}

# ------------------------------------------------------------------ main
START=$(date +%s)
mkdir -p "$WORK" "$BASE/src" "$SRC" "$TMP" "$LOGS" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
trap 'tmpfs_off' EXIT
trap 'exit 130' INT TERM

[ "$INSTALL" = 1 ] && install_e2e_packages
for c in restic borg rsync xz python3 /usr/bin/time; do
        command -v "$c" >/dev/null || die "$c is missing (run without --no-install)"
done
if has "$TOOLS" cairn || has "$TOOLS" cairn-z1; then
        [ "$BUILD" = 1 ] && build_cairn
        [ -x "$CAIRN" ] || die "$CAIRN is missing (run without --no-build)"
fi

make_orig
make_mod
make_mixed
live_from "$ORIG"
warm

RAW_TMP=$LOGS/raw.csv.partial
echo "$CSV_HEAD" >"$RAW_TMP"
ORDER=""
for t in cairn cairn-z1 restic borg tar; do has "$TOOLS" "$t" && ORDER="$ORDER${ORDER:+, }$t"; done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for RUN in $(seq 1 "$RUNS"); do
        for s in tree file; do
                has "$SCENARIOS" "$s" || continue
                for t in cairn cairn-z1 restic borg tar; do
                        has "$TOOLS" "$t" || continue
                        say "run $RUN/$RUNS: $t on the $s"
                        if [ "$s" = tree ]; then run_tree "$t"; else run_file "$t"; fi
                done
        done
done
live_from "$ORIG"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
END=$(date +%s)

# ------------------------------------------------------------------ report
mkdir -p "$(dirname "$RESULTS")" "$(dirname "$RAW")"
cp "$RAW_TMP" "$RAW"
META=$LOGS/meta.txt
dur=$((END - START))
read -r o_files o_bytes _ < <(tr '=' ' ' <"$ORIG.ok" | awk '{print $2, $4}')
read -r m_files m_bytes _ < <(tr '=' ' ' <"$MOD.ok" | awk '{print $2, $4}')
tree_tar=$(sed -n 's/^tree_tar_bytes=//p' "$MIXED.ok")
if [ "$QUICK" = 1 ]; then
        tree_what="every 4th file (in byte order) of linux-source-6.1"
else
        tree_what="linux-source-6.1 (Debian's \`/usr/src/linux-source-6.1.tar.xz\`, unpacked)"
fi
raw_rel=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], os.path.dirname(sys.argv[2])))' "$RAW" "$RESULTS")
commit=$(cairn_commit)
method="- Order: in each run, every tool does its whole pass over the tree, one after the other, then every tool its pass over the mixed file; then the next run.\\n"
method+="- Each pass starts from an empty repository (removed with the tool's cache after the pass). The tree passes back up \`$LIVE\`: before the pass it is made equal to the original tree, and before the third backup the modified copy is rsync'd over it (\`rsync -a --delete\`), so the three snapshots are of the same path, unchanged files keep their inode and ctime, and every tool can use its parent snapshot or files cache.\\n"
method+="- Source data stays on disk ($(fs_of "$WORK")) and was read once before the first measurement to warm the page cache; caches are never dropped (24 GiB of RAM holds all the data). \`sync\` runs before every measured step, and again after it, timed apart (\`sync_s\` in raw.csv), so no step pays for another's writeback.\\n"
method+="- Restores go into a tmpfs mounted fresh (empty) before each restore and unmounted after, so the ext4 slowdown of creating ~80k files right after deleting ~80k files cannot touch them. Each restore is then compared with the source (\`diff -rq --no-dereference\`, \`cmp\` for the file); a run whose restore differs counts as failed.\\n"
method+="- Caches: cairn has none besides the repository. restic and borg keep theirs on, with default settings; only their base directory moves into the work dir (\`XDG_CACHE_HOME=$XDG_CACHE_HOME\`, same disk), so the bench leaves nothing outside it.\\n"
method+="- Commands (password from \`CAIRN_PASSWORD\` / \`RESTIC_PASSWORD\` / \`BORG_PASSPHRASE\`): \`cairn -r REPO init\`, \`cairn -r REPO --json backup PATH\`, \`cairn -r REPO restore latest --target T\` (cairn-z1: \`backup --compression 1\`, the same binary); \`restic -r REPO init\`, \`restic -r REPO backup PATH\`, \`restic -r REPO restore latest --target T\`; \`borg init -e repokey REPO\`, \`borg create --compression lz4 REPO::NAME PATH\`, \`cd T && borg extract REPO::NAME\`. Each under \`/usr/bin/time -f '%e %U %S %M'\`, output to a log.\\n"
method+="- Every tool opens its key with a password KDF on each command (cairn Argon2id 32 MiB, restic scrypt, borg PBKDF2): that time and memory is part of each step, as for a user."
{
        run_meta
        echo "tmpfs=$TMPFS"
        echo "cairn_version=$("$CAIRN" --version 2>/dev/null || echo '?')"
        echo "cairn_commit=$commit"
        echo "restic_version=$(restic_version)"
        echo "restic_repo_version=$(restic_repo_version)"
        echo "borg_version=$(borg --version) (Debian $(dpkg-query -W -f='${Version}' borgbackup))"
        echo "tar_version=$(tar --version | head -1)"
        echo "tree_desc=$tree_what: $o_files files, $o_bytes bytes, at \`$ORIG\`"
        echo "mod_desc=$m_files files, $m_bytes bytes: $(sed 's|^modified [^:]*: \([0-9]*\) files; |of the tree'"'"'s \1 files, |' "$BASE/src/mod-summary.txt" 2>/dev/null || echo '?') (\`bench/lib-e2e.py modify\`; made once, at \`$MOD\`)"
        echo "file_desc=$(stat -c %s "$MIXED") bytes: a tar of the tree ($tree_tar bytes) followed by a tar of /usr/lib (then /usr/bin, /usr/share if needed), cut at that size, at \`$MIXED\`"
        echo "method=$method"
        echo "raw_rel=$raw_rel"
} >"$META"
python3 "$LIB" report "$RAW" "$META" "$RESULTS"
say "done in $((dur / 60)) min $((dur % 60)) s: $RESULTS, $RAW"
