# shellcheck shell=bash disable=SC2034
# (SC2034: CAIRN and the T_* results are for the scripts that source this.)
# Shared by the side-by-side benchmarks (bench/run-e2e.sh, bench/run-retention.sh);
# source it after setting these (see bench/README.md):
#
#   BENCH_NAME   prefix of the progress lines ("run-e2e")
#   ROOT, HERE   the source root and bench/
#   WORK         work dir ($CAIRN_BENCH_DIR); SRC=$WORK/src holds the full data sets
#   BASE         $WORK, or $WORK/quick with QUICK=1 (ORIG=$BASE/src/linux-orig)
#   TMP, LOGS    scratch and log dirs under BASE
#   LIVE_PARENT  the parent of LIVE, the path every tool backs up
#
# It gives: die, say, SUDO, install_packages PKG..., build_cairn (CAIRN),
# the data-set helpers (manifest, intact, seal, make_orig, live_from), the
# timing helper bench_time, size_of, fs_of, and version probes for the report.

die() { echo "$BENCH_NAME: $*" >&2; exit 1; }
say() { echo "$BENCH_NAME: $(date +%T) $*" >&2; }

# has LIST WORD: WORD is one of the comma-separated LIST
has() { [[ ",$1," == *",$2,"* ]]; }
# check_list WHAT LIST ALLOWED...: die unless every word of LIST is allowed
check_list() {
        local what=$1 list=$2 w allowed
        shift 2
        allowed=$*
        for w in ${list//,/ }; do
                [[ " $allowed " == *" $w "* ]] || die "unknown $what '$w' (${allowed// /, })"
        done
}

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

CAIRN=$ROOT/build-bench/agent/cairn

# ------------------------------------------------------------------ install and build
# install_packages PKG...: apt-get the Debian packages not installed yet, then
# cairn's build dependencies.
install_packages() {
        local missing=() p
        for p in "$@"; do
                dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
        done
        if [ ${#missing[@]} -gt 0 ]; then
                say "installing ${missing[*]}"
                "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
                "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                        --no-install-recommends "${missing[@]}" >/dev/null
        fi
        "$ROOT/packaging/install-deps.sh"
}

build_cairn() {
        if [ ! -f "$ROOT/build-bench/build.ninja" ]; then
                meson setup "$ROOT/build-bench" "$ROOT" --buildtype=release -Dtests=false >/dev/null
        fi
        [ "$(meson introspect --buildoptions "$ROOT/build-bench" |
                python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="buildtype"][0])')" = release ] ||
                meson configure "$ROOT/build-bench" --buildtype=release >/dev/null
        ninja -C "$ROOT/build-bench" agent/cairn >/dev/null || die "cairn does not build (ninja -C build-bench)"
}

# ------------------------------------------------------------------ data sets
# A data set is reused when its .ok file matches a fresh listing of it.
manifest() { # DIR -> "files=N bytes=B listing=SHA256"
        (cd "$1" && find . -printf '%y %s %T@ %m %P %l\n' | sort |
                awk '{ if ($1 == "f") { n++; b += $2 } print } END { print n, b > "/dev/stderr" }' |
                sha256sum | cut -c1-64) 2>"$TMP/.manifest.count" >"$TMP/.manifest.sha"
        read -r n b <"$TMP/.manifest.count"
        echo "files=$n bytes=$b listing=$(cat "$TMP/.manifest.sha")"
}
intact() { [ -d "$1" ] && [ -f "$1.ok" ] && [ "$(manifest "$1")" = "$(cat "$1.ok")" ]; }
seal() { manifest "$1" >"$1.ok"; }

# The Linux tree at $ORIG: linux-source-6.1 unpacked, or with QUICK=1 every
# 4th file of it.
make_orig() {
        if [ "$QUICK" = 1 ]; then
                make_full_orig
                intact "$ORIG" && return 0
                say "making the quick subset: every 4th file of $SRC/linux-orig"
                rm -rf "$ORIG" "$ORIG.ok" "$ORIG.tmp"
                (cd "$SRC/linux-orig" && find . ! -type d -printf '%P\n' | sort | awk 'NR % 4 == 1') >"$TMP/quick.list"
                mkdir -p "$ORIG.tmp"
                rsync -a --files-from="$TMP/quick.list" "$SRC/linux-orig/" "$ORIG.tmp/"
                mv "$ORIG.tmp" "$ORIG"
                seal "$ORIG"
        else
                make_full_orig
        fi
}
make_full_orig() {
        local o=$SRC/linux-orig
        intact "$o" && return 0
        local tarball=/usr/src/linux-source-6.1.tar.xz
        [ -f "$tarball" ] || die "$tarball is missing (apt-get install linux-source-6.1)"
        say "unpacking $tarball"
        rm -rf "$o" "$o.ok" "$SRC/unpack"
        mkdir -p "$SRC/unpack"
        xz -dc "$tarball" | tar -x -C "$SRC/unpack" --no-same-owner
        mv "$SRC/unpack"/linux-source-6.1 "$o"
        rmdir "$SRC/unpack"
        seal "$o"
}

# live_from DIR: make $LIVE equal to DIR, touching only what differs (unchanged
# files keep inode and ctime, so parent snapshots and file caches work).
live_from() {
        mkdir -p "$LIVE"
        rsync -a --delete "$1/" "$LIVE/"
        sync
}

# ------------------------------------------------------------------ timing
HZ=$(getconf CLK_TCK)
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
size_of() { if [ -e "$1" ]; then du -sb "$1" | cut -f1; fi; }

# bench_time LABEL LOG COMMAND...: sync, run COMMAND under GNU time with its
# output in LOG, sync again (timed apart). Sets STATUS (its exit code),
# T_WALL, T_USER, T_SYS (seconds), T_RSS (peak KiB), T_SYNC (seconds of the
# sync after), T_OTHERS (CPU seconds the rest of the machine used meanwhile:
# a measure of interference), T_LOAD (load average before), T_AT (UTC time).
bench_time() {
        local label=$1 log=$2 tf=$LOGS/.time
        shift 2
        sync
        local busy0 busy1 t0 t1
        T_LOAD=$(cut -d' ' -f1 /proc/loadavg)
        busy0=$(cpu_busy)
        set +e
        /usr/bin/time -f '%e %U %S %M' -o "$tf" "$@" >"$log" 2>&1 </dev/null
        STATUS=$?
        set -e
        busy1=$(cpu_busy)
        t0=$(date +%s.%N)
        sync
        t1=$(date +%s.%N)
        read -r T_WALL T_USER T_SYS T_RSS < <(tail -1 "$tf")
        T_SYNC=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
        T_OTHERS=$(awk -v a="$busy0" -v b="$busy1" -v hz="$HZ" -v u="$T_USER" -v s="$T_SYS" \
                'BEGIN { o = (b - a) / hz - u - s; printf "%.2f", o < 0 ? 0 : o }')
        T_AT=$(date -u +%FT%TZ)
        if [ "$STATUS" -ne 0 ]; then
                say "$label failed (exit $STATUS); see $log"
        else
                say "$label: ${T_WALL}s wall, $(awk -v a="$T_USER" -v b="$T_SYS" 'BEGIN { print a + b }')s cpu, $((T_RSS / 1024)) MiB rss"
        fi
}

# ------------------------------------------------------------------ report helpers
fs_of() { findmnt -n -T "$1" -o FSTYPE,SOURCE,OPTIONS | awk '{print $1 " (" $2 ", " $3 ")"}'; }
# "abc1234" or "abc1234 with uncommitted changes"
cairn_commit() {
        local commit
        commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
        [ -n "$(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ] && commit="$commit with uncommitted changes"
        echo "$commit"
}
# The repository format version restic makes by default (probed in $TMP).
restic_repo_version() {
        local d=$TMP/restic-probe
        rm -rf "$d"
        restic -r "$d" init >/dev/null 2>&1 &&
                restic -r "$d" cat config 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])' ||
                echo "?"
        rm -rf "$d" "$XDG_CACHE_HOME/restic"
}
restic_version() { echo "$(restic version | cut -d' ' -f1-2) (Debian $(dpkg-query -W -f='${Version}' restic))"; }
# The lines of a META file (report input) every bench writes, on stdout: the
# command (with the CAIRN_BENCH_* variables set), when and how it ran, the
# machine. Uses COMMAND_LINE, START, END, MODE, RUNS, ORDER, LOAD_START, LOAD_END.
run_meta() {
        local env_prefix="" v dur=$((END - START))
        for v in CAIRN_BENCH_DIR CAIRN_BENCH_RUNS CAIRN_BENCH_SEED; do
                [ -z "${!v:-}" ] || env_prefix="$env_prefix$v=${!v} "
        done
        echo "command=$env_prefix$COMMAND_LINE"
        echo "date=$(date -u -d "@$START" '+%Y-%m-%d %H:%M UTC')"
        echo "duration=$((dur / 60)) min $((dur % 60)) s"
        echo "mode=$MODE"
        echo "runs=$RUNS"
        echo "order=$ORDER"
        echo "load_start=$LOAD_START"
        echo "load_end=$LOAD_END"
        echo "nproc=$(nproc)"
        echo "cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
        echo "ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
        echo "kernel=$(uname -r)"
        echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
        echo "work=$WORK"
        echo "workfs=$(fs_of "$WORK")"
}
