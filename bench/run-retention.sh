#!/usr/bin/env bash
# Retention benchmark: forget, prune and copy, cairn and restic side by side on
# the same series of snapshots in the same run. See bench/README.md.
#
#   bench/run-retention.sh [--quick] [--runs N] [--tools LIST] [--snapshots S]
#                          [--keep-last K] [--churn E,R,A] [--no-install]
#                          [--no-build] [--out DIR]
#
#   --quick          1 run, every 4th file of the Linux tree, 5 snapshots, keep 2;
#                    results go to $CAIRN_BENCH_DIR/quick/results/
#   --runs N         runs of each tool (default 3, or $CAIRN_BENCH_RUNS; 1 with --quick)
#   --tools LIST     comma-separated subset of restic,cairn
#   --snapshots S    snapshots in the series (default 8; 5 with --quick)
#   --keep-last K    forget --keep-last K, the same for both tools (default 3; 2 with --quick)
#   --churn E,R,A    percent of the files edited, removed and added between two
#                    snapshots (default 4,3,3)
#   --no-install     do not apt-get anything (fail if something is missing)
#   --no-build       use build-bench/agent/cairn as it is
#   --out DIR        write retention.md and retention.csv into DIR instead of bench/results/
#
# Environment: CAIRN_BENCH_DIR (work dir, default /var/tmp/cairn-bench),
# CAIRN_BENCH_RUNS. Needs root, or sudo, for apt-get.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
LIB="$HERE/lib-e2e.py"
BENCH_NAME=run-retention
# shellcheck source=bench/lib-bench.sh
. "$HERE/lib-bench.sh"
COMMAND_LINE="bench/run-retention.sh${*:+ $*}"

WORK=${CAIRN_BENCH_DIR:-/var/tmp/cairn-bench}
RUNS=${CAIRN_BENCH_RUNS:-3}
QUICK=0
TOOLS=restic,cairn
SNAPS=
KEEP=
CHURN=4,3,3
INSTALL=1
BUILD=1
OUT=

runs_set=0
while [ $# -gt 0 ]; do
        case "$1" in
        --quick) QUICK=1 ;;
        --runs) RUNS=${2:?--runs needs a number}; runs_set=1; shift ;;
        --tools) TOOLS=${2:?--tools needs a list}; shift ;;
        --snapshots) SNAPS=${2:?--snapshots needs a number}; shift ;;
        --keep-last) KEEP=${2:?--keep-last needs a number}; shift ;;
        --churn) CHURN=${2:?--churn needs E,R,A}; shift ;;
        --no-install) INSTALL=0 ;;
        --no-build) BUILD=0 ;;
        --out) OUT=${2:?--out needs a directory}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
        esac
        shift
done
[ "$QUICK" = 1 ] && [ "$runs_set" = 0 ] && [ -z "${CAIRN_BENCH_RUNS:-}" ] && RUNS=1
[ -n "$SNAPS" ] || { [ "$QUICK" = 1 ] && SNAPS=5 || SNAPS=8; }
[ -n "$KEEP" ] || { [ "$QUICK" = 1 ] && KEEP=2 || KEEP=3; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "--runs wants a positive number, not '$RUNS'"
[[ "$SNAPS" =~ ^[1-9][0-9]*$ ]] || die "--snapshots wants a positive number, not '$SNAPS'"
if ! [[ "$KEEP" =~ ^[1-9][0-9]*$ ]] || [ "$KEEP" -ge "$SNAPS" ]; then
        die "--keep-last wants a positive number below --snapshots ($SNAPS), not '$KEEP'"
fi
IFS=, read -r CHURN_EDIT CHURN_RM CHURN_ADD <<<"$CHURN"
for v in "$CHURN_EDIT" "$CHURN_RM" "$CHURN_ADD"; do
        [[ "$v" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--churn wants three percentages E,R,A (e.g. 4,3,3), not '$CHURN'"
done
check_list tool "$TOOLS" restic cairn

# ------------------------------------------------------------------ layout
# $WORK/src/linux-orig       the unpacked linux-source-6.1 tree, shared with run-e2e.sh
# $WORK/quick/src/...        its --quick subset, shared with run-e2e.sh --quick
# $BASE/retention/live/linux the path both tools back up: made equal to linux-orig
#                            before a tool's series, then churned in place
#                            (lib-e2e.py churn, seeds 1, 2, ...) between snapshots
# $BASE/retention/repo, ...  repositories (repo, repo-max0: a copy for the second
#                            prune, repo-copy: copy's destination) and restic
#                            caches (home/), removed after each tool's pass
# $BASE/retention/logs       each step's output
if [ "$QUICK" = 1 ]; then
        BASE=$WORK/quick
        MODE="quick (--quick)"
else
        BASE=$WORK
        MODE="full"
fi
if [ -z "$OUT" ]; then
        if [ "$QUICK" = 1 ]; then OUT=$BASE/results; else OUT=$HERE/results; fi
fi
RESULTS=$OUT/retention.md
RAW=$OUT/retention.csv
SRC=$WORK/src
ORIG=$BASE/src/linux-orig
R=$BASE/retention
LIVE_PARENT=$R/live
LIVE=$LIVE_PARENT/linux
REPO=$R/repo
REPO_MAX0=$R/repo-max0
REPO_COPY=$R/repo-copy
CACHE_MAX0=$R/home/cache-max0
TMP=$R/tmp
LOGS=$R/logs

export XDG_CACHE_HOME=$R/home/.cache XDG_CONFIG_HOME=$R/home/.config
export CAIRN_PASSWORD=cairn-bench RESTIC_PASSWORD=cairn-bench CAIRN_FROM_PASSWORD=cairn-bench
export LC_ALL=C
unset CAIRN_PASSWORD_FILE CAIRN_REPOSITORY CAIRN_CONTROLLER CAIRN_FROM_PASSWORD_FILE RESTIC_REPOSITORY \
        RESTIC_PASSWORD_FILE RESTIC_FROM_REPOSITORY RESTIC_FROM_PASSWORD_FILE || true

# ------------------------------------------------------------------ what this cairn can do
# A verb this build lacks is said once and its steps are skipped, not failed.
cairn_has() { "$CAIRN" "$1" --help >/dev/null 2>&1; }
MISSING=""
probe_cairn() {
        local v
        for v in prune copy; do
                if ! cairn_has "$v"; then
                        MISSING="$MISSING${MISSING:+,}$v"
                        say "cairn at $CAIRN (commit $(cairn_commit)) has no '$v' verb ('cairn $v --help': $("$CAIRN" "$v" --help 2>&1 | head -1)): cairn's $v steps are skipped and reported as not measured"
                fi
        done
}
cairn_lacks() { has "$MISSING" "$1"; }

# ------------------------------------------------------------------ timing
CSV_HEAD="bench,run,step,tool,rc,wall_s,user_s,sys_s,maxrss_kib,repo_before_bytes,repo_bytes,cache_bytes,snapshots,sync_s,verified,others_cpu_s,load1,time"
BENCH_ID=$(date -u +%Y%m%dT%H%M%SZ)
RUN=0

cache_of() { # TOOL REPO -> its cache directory ("" for cairn, which has none)
        case "$1:$2" in
        restic:"$REPO_MAX0") echo "$CACHE_MAX0" ;;
        restic:*) echo "$XDG_CACHE_HOME/restic" ;;
        *) echo "" ;;
        esac
}

# timed TOOL STEP REPO -- COMMAND...: bench_time, with the repository's size
# before and after; record finishes the CSV row.
timed() {
        local tool=$1 step=$2 repo=$3 cdir
        shift 4
        REPO_BEFORE=$(size_of "$repo")
        bench_time "$tool $step" "$LOGS/run$RUN-$tool-$step.log" "$@"
        REPO_AFTER=$(size_of "$repo")
        cdir=$(cache_of "$tool" "$repo")
        CACHE=""
        if [ -n "$cdir" ]; then CACHE=$(size_of "$cdir"); fi
}
# record SNAPSHOTS VERIFIED
record() {
        echo "$BENCH_ID,$RUN,$STEP,$TOOL,$STATUS,$T_WALL,$T_USER,$T_SYS,$T_RSS,${REPO_BEFORE:-},${REPO_AFTER:-},${CACHE:-},$1,$T_SYNC,$2,$T_OTHERS,$T_LOAD,$T_AT" >>"$RAW_TMP"
}

# ------------------------------------------------------------------ the tools
# tool_cmd TOOL VERB REPO ARGS...: the command line of VERB (init, backup,
# forget, prune, prune-max0, check, snapshots, copy-init, copy) for TOOL.
tool_cmd() {
        local tool=$1 verb=$2 repo=$3
        shift 3
        case "$tool:$verb" in
        restic:init) echo restic -r "$repo" init ;;
        restic:backup) echo restic -r "$repo" backup "$LIVE" ;;
        restic:forget) echo restic -r "$repo" forget --keep-last "$KEEP" ;;
        restic:prune) echo restic -r "$repo" prune ;;
        restic:prune-max0) echo restic -r "$repo" --cache-dir "$CACHE_MAX0" prune --max-unused 0 ;;
        restic:check) echo restic -r "$repo" --cache-dir "$(cache_of restic "$repo")" check ;;
        restic:snapshots) echo restic -r "$repo" --cache-dir "$(cache_of restic "$repo")" --json snapshots ;;
        restic:copy-init) echo restic -r "$REPO_COPY" init --from-repo "$repo" --from-password-file "$TMP/password" --copy-chunker-params ;;
        restic:copy) echo restic -r "$REPO_COPY" copy --from-repo "$repo" --from-password-file "$TMP/password" ;;
        cairn:init) echo "$CAIRN" -r "$repo" init ;;
        cairn:backup) echo "$CAIRN" -r "$repo" --json backup "$LIVE" ;;
        cairn:forget) echo "$CAIRN" -r "$repo" forget --keep-last "$KEEP" ;;
        cairn:prune) echo "$CAIRN" -r "$repo" prune ;;
        cairn:prune-max0) echo "$CAIRN" -r "$repo" prune --max-unused 0 ;;
        cairn:check) echo "$CAIRN" -r "$repo" check ;;
        cairn:snapshots) echo "$CAIRN" -r "$repo" --json snapshots ;;
        cairn:copy-init) echo "$CAIRN" -r "$REPO_COPY" init --replica-of "$repo" ;;
        cairn:copy) echo "$CAIRN" -r "$REPO_COPY" copy --from "$repo" ;;
        esac
}
# The commands are words without spaces ($R must have none), so a plain
# split of tool_cmd's output gives them back.
run_cmd() { local c; c=$(tool_cmd "$@"); $c; }
timed_cmd() { # STEP TOOL VERB REPO
        local c
        c=$(tool_cmd "$2" "$3" "$4")
        # shellcheck disable=SC2086 # the words of $c are the command
        timed "$2" "$1" "$4" -- $c
}
# How many snapshots REPO holds (both print a JSON array of objects with "id").
count_snapshots() {
        run_cmd "$1" snapshots "$2" 2>/dev/null | python3 -c 'import json,sys; print(len(json.load(sys.stdin) or []))' ||
                echo "?"
}
# verify TOOL REPO WANT: "yes" when check passes and REPO holds WANT snapshots.
verify() {
        local n
        run_cmd "$1" check "$2" >"$LOGS/run$RUN-$1-$STEP-check.log" 2>&1 || { say "$1 check after $STEP failed; see $LOGS/run$RUN-$1-$STEP-check.log"; echo no; return 0; }
        n=$(count_snapshots "$1" "$2")
        if [ "$n" = "$3" ]; then echo yes; else say "$1 holds $n snapshots after $STEP, not $3"; echo no; fi
}

clean() {
        rm -rf "$REPO" "$REPO_MAX0" "$REPO_COPY" "${R:?}/home"
        mkdir -p "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
        sync
}

# One tool's pass: a fresh repository; SNAPS backups of the live tree, churned
# between them; copy of all of them to a fresh repository; forget --keep-last
# KEEP; the repository and cache are copied; prune (default) of the one and
# prune --max-unused 0 of the other, each followed by check.
run_pass() {
        local TOOL=$1 STEP i v c n
        clean
        live_from "$ORIG"
        STEP=init
        timed_cmd init "$TOOL" init "$REPO"
        record 0 n/a
        [ "$STATUS" -eq 0 ] || { clean; return 0; }
        for i in $(seq 1 "$SNAPS"); do
                if [ "$i" -gt 1 ]; then
                        python3 "$LIB" churn "$LIVE" "$((i - 1))" "$CHURN_EDIT" "$CHURN_RM" "$CHURN_ADD" \
                                >>"$LOGS/run$RUN-$TOOL-churn.log"
                        sync
                fi
                STEP=backup-$i
                timed_cmd "$STEP" "$TOOL" backup "$REPO"
                record "$i" n/a
                [ "$STATUS" -eq 0 ] || { clean; return 0; }
        done

        STEP=copy
        if [ "$TOOL" = cairn ] && cairn_lacks copy; then
                say "cairn copy: skipped, this cairn has no 'copy' verb"
        else
                run_cmd "$TOOL" copy-init "$REPO" >"$LOGS/run$RUN-$TOOL-copy-init.log" 2>&1 ||
                        say "$TOOL: init of the copy's destination failed; see $LOGS/run$RUN-$TOOL-copy-init.log"
                timed_cmd copy "$TOOL" copy "$REPO"
                REPO_BEFORE=0
                REPO_AFTER=$(size_of "$REPO_COPY")
                v=no
                [ "$STATUS" -eq 0 ] && v=$(verify "$TOOL" "$REPO_COPY" "$SNAPS")
                record "$SNAPS" "$v"
                rm -rf "$REPO_COPY"
        fi

        STEP=forget
        timed_cmd forget "$TOOL" forget "$REPO"
        n=$(count_snapshots "$TOOL" "$REPO")
        v=no
        [ "$STATUS" -eq 0 ] && [ "$n" = "$KEEP" ] && v=yes
        record "$n" "$v"
        [ "$STATUS" -eq 0 ] || { clean; return 0; }

        if [ "$TOOL" = cairn ] && cairn_lacks prune; then
                say "cairn prune: skipped, this cairn has no 'prune' verb"
                clean
                return 0
        fi
        rm -rf "$REPO_MAX0" "$CACHE_MAX0"
        cp -a "$REPO" "$REPO_MAX0"
        c=$(cache_of "$TOOL" "$REPO")
        if [ -n "$c" ] && [ -d "$c" ]; then cp -a "$c" "$CACHE_MAX0"; fi
        sync
        STEP=prune
        timed_cmd prune "$TOOL" prune "$REPO"
        v=no
        [ "$STATUS" -eq 0 ] && v=$(verify "$TOOL" "$REPO" "$KEEP")
        record "$KEEP" "$v"
        STEP=prune-max0
        timed_cmd prune-max0 "$TOOL" prune-max0 "$REPO_MAX0"
        v=no
        [ "$STATUS" -eq 0 ] && v=$(verify "$TOOL" "$REPO_MAX0" "$KEEP")
        record "$KEEP" "$v"
        clean
}

# ------------------------------------------------------------------ main
START=$(date +%s)
mkdir -p "$WORK" "$BASE/src" "$SRC" "$TMP" "$LOGS" "$XDG_CACHE_HOME" "$XDG_CONFIG_HOME"
trap 'exit 130' INT TERM
[[ "$R" != *" "* ]] || die "the work dir must not contain a space: $R"
echo "$RESTIC_PASSWORD" >"$TMP/password"

[ "$INSTALL" = 1 ] && install_packages restic linux-source-6.1 time rsync xz-utils tar python3 coreutils findutils procps
for c in rsync xz python3 /usr/bin/time; do
        command -v "$c" >/dev/null || die "$c is missing (run without --no-install)"
done
if has "$TOOLS" restic; then command -v restic >/dev/null || die "restic is missing (run without --no-install)"; fi
if has "$TOOLS" cairn; then
        [ "$BUILD" = 1 ] && build_cairn
        [ -x "$CAIRN" ] || die "$CAIRN is missing (run without --no-build)"
        probe_cairn
fi

make_orig
live_from "$ORIG"
say "warming the page cache with $ORIG"
tar -C "$ORIG" -cf - . | cat >/dev/null

RAW_TMP=$LOGS/retention.csv.partial
echo "$CSV_HEAD" >"$RAW_TMP"
ORDER=""
for t in restic cairn; do has "$TOOLS" "$t" && ORDER="$ORDER${ORDER:+, }$t"; done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for RUN in $(seq 1 "$RUNS"); do
        for t in restic cairn; do
                has "$TOOLS" "$t" || continue
                say "run $RUN/$RUNS: $t: $SNAPS snapshots, forget --keep-last $KEEP, prune"
                run_pass "$t"
        done
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
END=$(date +%s)

# ------------------------------------------------------------------ report
mkdir -p "$OUT"
[ -s "$RAW" ] || echo "$CSV_HEAD" >"$RAW"
[ "$(head -1 "$RAW")" = "$CSV_HEAD" ] || die "$RAW has other columns than this script writes: move it away"
tail -n +2 "$RAW_TMP" >>"$RAW"
META=$LOGS/meta.txt
dur=$((END - START))
read -r o_files o_bytes _ < <(tr '=' ' ' <"$ORIG.ok" | awk '{print $2, $4}')
if [ "$QUICK" = 1 ]; then
        tree_what="every 4th file (in byte order) of linux-source-6.1"
else
        tree_what="linux-source-6.1 (Debian's \`/usr/src/linux-source-6.1.tar.xz\`, unpacked)"
fi
churn_line=""
for f in "$LOGS"/run1-*-churn.log; do
        [ -f "$f" ] && churn_line=$(head -1 "$f" | sed 's/^modified [^:]*: //')
        break
done
raw_rel=$(python3 -c 'import os,sys; print(os.path.relpath(sys.argv[1], os.path.dirname(sys.argv[2])))' "$RAW" "$RESULTS")
method="- Order: in each run, restic does its whole pass, then cairn; then the next run. A pass starts from an empty repository and ends by removing it with the tool's cache.\\n"
method+="- Series: \`$LIVE\` is made equal to the tree (\`rsync -a --delete\`) and backed up; then, $((SNAPS - 1)) times, it is churned in place (\`bench/lib-e2e.py churn\` with seeds 1, 2, ...: ${CHURN_EDIT}% of the files get 64 B to 4 KiB inserted near their middle (among files of at least 16 KiB), ${CHURN_RM}% are removed, ${CHURN_ADD}% new files of 1 to 64 KiB are added) and backed up again: $SNAPS snapshots of the same path, the same data for both tools.\\n"
method+="- Copy: every snapshot of the series into a fresh local repository made to share chunking (restic \`init --copy-chunker-params\`, cairn \`init --replica-of\`; not timed).\\n"
method+="- Forget: \`forget --keep-last $KEEP\` (one group: same host and path), which leaves the last $KEEP snapshots and makes the data only the others used unreferenced.\\n"
method+="- Prune: the repository and the tool's cache are then copied (\`cp -a\`, not timed); \`prune\` with the tool's default runs on the one, \`prune --max-unused 0\` on the other (restic's cache for it: \`--cache-dir\` of the copy). After each, \`check\` must pass and the repository must hold $KEEP snapshots (\`verified\`).\\n"
method+="- \`sync\` runs before every measured step, and after it, timed apart (\`sync_s\` in the CSV). Source data stays on disk ($(fs_of "$WORK")), read once before the first measurement; caches are never dropped.\\n"
method+="- Commands (password from \`CAIRN_PASSWORD\` / \`RESTIC_PASSWORD\`), each under \`/usr/bin/time -f '%e %U %S %M'\`: $(for t in restic cairn; do for v in backup copy forget prune prune-max0; do printf "\`%s\`, " "$(tool_cmd $t $v REPO | sed "s|$R/||g; s|$ROOT/||g")"; done; done | sed 's/, $//')."
{
        echo "snapshots=$SNAPS"
        echo "keep=$KEEP"
        run_meta
        if has "$TOOLS" cairn; then
                echo "cairn_version=$("$CAIRN" --version 2>/dev/null || echo '?')"
                echo "cairn_commit=$(cairn_commit)"
                echo "cairn_missing=$MISSING"
        fi
        if has "$TOOLS" restic; then
                echo "restic_version=$(restic_version)"
                echo "restic_repo_version=$(restic_repo_version)"
        fi
        echo "tree_desc=$tree_what: $o_files files, $o_bytes bytes, at \`$ORIG\`"
        echo "churn_desc=${churn_line:-?}"
        echo "method=$method"
        echo "raw_rel=$raw_rel"
} >"$META"
python3 "$LIB" report-retention "$RAW" "$META" "$RESULTS" "$BENCH_ID"
sed -n '/^## Results/,/^## Interference/p' "$RESULTS" | sed '$d'
say "done in $((dur / 60)) min $((dur % 60)) s: $RESULTS, $RAW"
