#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# treecmp.sh [--ignore-root] A B
#
# Compare two directory trees the way a restore must reproduce them, without
# any cairn code: relative paths, types, all 12 mode bits, uid/gid, mtimes in
# ns (symlinks and directories too; not atime or ctime), sizes and content of
# regular files, symlink targets, device numbers, hard-link grouping (the same
# sets of paths share an inode), xattrs of every namespace this process can
# read (POSIX ACLs are system.posix_acl_* xattrs), and sparseness (where a file
# in A has holes, B may not allocate more than A plus a small slack).
#
# Prints one line per difference, 'path: property: A=... B=...', with odd
# bytes shell-escaped ($'..'), and exits 0 when there is none, 1 when there is
# any, 2 on usage or tool errors. --ignore-root skips the metadata of A and B
# themselves (their contents are still compared).
#
# Needs GNU find, stat, cmp, xargs and getfattr (attr). Paths below A and B
# must stay under PATH_MAX for stat, cmp and getfattr.
#
# The per-tree arrays are filled through namerefs and printf -v, which the
# linter cannot follow.
# shellcheck disable=SC2034,SC2178,SC2004,SC2154
set -uo pipefail
export LC_ALL=C TZ=UTC

# B may allocate this much more than a sparse A (file systems round, and
# copy tools may write a block or two of a hole).
SLACK_BLOCKS=$((1024 * 1024 / 512))

ignore_root=false
if [ "${1-}" = --ignore-root ]; then
        ignore_root=true
        shift
fi
if [ $# -ne 2 ] || [ ! -d "$1" ] || [ ! -d "$2" ]; then
        echo "usage: $0 [--ignore-root] DIR-A DIR-B" >&2
        exit 2
fi
for tool in find stat cmp xargs getfattr; do
        if ! command -v "$tool" >/dev/null; then
                echo "treecmp: $tool not found (getfattr is in the attr package)" >&2
                exit 2
        fi
done
A=$1
B=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/treecmp.XXXXXX") || exit 2
trap 'rm -rf -- "$tmp"' EXIT

# One associative array per tree and property, keyed by "./path" ("." is the
# root), so names may hold any byte but NUL, newlines included.
declare -A A_type A_mode A_uid A_gid A_size A_mtime A_ino A_nlink A_blocks A_target A_xattrs
declare -A B_type B_mode B_uid B_gid B_size B_mtime B_ino B_nlink B_blocks B_target B_xattrs
declare -A A_rep B_rep A_members B_members
A_paths=()
B_paths=()

# esc_to VAR STRING: STRING as is when plain, else $'..'-quoted.
esc_to() {
        if [[ $2 =~ ^[A-Za-z0-9._/+:@%=,-]*$ ]]; then
                printf -v "$1" '%s' "$2"
        else
                printf -v "$1" '%q' "$2"
        fi
}

# getfattr's own quoting of file and xattr names: \ CR LF as \ooo.
gf_quote_to() {
        local s=${2//\\/\\134}
        s=${s//$'\n'/\\012}
        printf -v "$1" '%s' "${s//$'\r'/\\015}"
}

# collect X DIR: every entry of DIR with one find run, and all their xattrs
# with one getfattr run per few thousand names, into X_*.
collect() {
        local t=$1 dir=$2 f k p q m line cur=
        local -n type=${t}_type mode=${t}_mode uid=${t}_uid gid=${t}_gid size=${t}_size mtime=${t}_mtime
        local -n ino=${t}_ino nlink=${t}_nlink blocks=${t}_blocks target=${t}_target paths=${t}_paths
        local -n xattrs=${t}_xattrs
        local -A byquote=()

        if ! (cd -- "$dir" && find . -printf '%p\0%y\0%m\0%U\0%G\0%s\0%T@\0%i\0%n\0%b\0%l\0') >"$tmp/$t.find"; then
                echo "treecmp: cannot list all of $dir" >&2
                exit 2
        fi
        mapfile -d '' -t f <"$tmp/$t.find"
        for ((k = 0; k + 10 < ${#f[@]}; k += 11)); do
                p=${f[k]}
                paths+=("$p")
                type[$p]=${f[k + 1]}
                printf -v m '%04o' $((8#${f[k + 2]}))
                mode[$p]=$m
                uid[$p]=${f[k + 3]}
                gid[$p]=${f[k + 4]}
                size[$p]=${f[k + 5]}
                mtime[$p]=${f[k + 6]}
                ino[$p]=${f[k + 7]}
                nlink[$p]=${f[k + 8]}
                blocks[$p]=${f[k + 9]}
                target[$p]=${f[k + 10]}
                xattrs[$p]=
                gf_quote_to q "$p"
                byquote[$q]=$p
        done

        # getfattr prints '# file: NAME', then 'xattr=0xhex' lines, for each
        # name that has any; NAME as quoted by gf_quote_to.
        if ! (cd -- "$dir" && printf '%s\0' "${paths[@]}" |
                xargs -0 getfattr -h -d -m - -e hex --absolute-names --) >"$tmp/$t.xattr" 2>"$tmp/$t.xerr" &&
                grep -v -q -e 'Operation not supported' "$tmp/$t.xerr"; then
                echo "treecmp: cannot read xattrs in $dir:" >&2
                cat "$tmp/$t.xerr" >&2
                exit 2
        fi
        while IFS= read -r line; do
                case $line in
                "# file: "*)
                        cur=${byquote[${line#\# file: }]-}
                        if [ -z "$cur" ]; then
                                echo "treecmp: getfattr named an unknown file: $line" >&2
                                exit 2
                        fi
                        ;;
                "") ;;
                *) xattrs[$cur]+=$line$'\n' ;;
                esac
        done <"$tmp/$t.xattr"
}

# link_groups X: for every non-directory, the smallest path sharing its inode
# (X_rep) and the escaped list of all of them (X_members).
link_groups() {
        local t=$1 p k e
        local -n type=${t}_type ino=${t}_ino nlink=${t}_nlink paths=${t}_paths rep=${t}_rep members=${t}_members
        local -A first=() list=()
        for p in "${paths[@]}"; do
                [ "${type[$p]}" = d ] && continue
                [ "${nlink[$p]}" -gt 1 ] || continue
                k=${ino[$p]}
                if [ -z "${first[$k]+x}" ] || [[ $p < ${first[$k]} ]]; then
                        first[$k]=$p
                fi
                esc_to e "${p#./}"
                list[$k]+="${list[$k]:+,}$e"
        done
        for p in "${paths[@]}"; do
                [ "${type[$p]}" = d ] && continue
                if [ "${nlink[$p]}" -gt 1 ]; then
                        rep[$p]=${first[${ino[$p]}]}
                        members[$p]=${list[${ino[$p]}]}
                else
                        rep[$p]=$p
                        esc_to e "${p#./}"
                        members[$p]=$e
                fi
        done
}

failed=0
# diff_line PATH PROPERTY A-VALUE B-VALUE (values already escaped)
diff_line() {
        local p=$1 e
        [ "$p" = . ] || p=${p#./}
        esc_to e "$p"
        printf '%s: %s: A=%s B=%s\n' "$e" "$2" "$3" "$4"
        failed=1
}

# xattr_diff PATH: one line per xattr that differs
xattr_diff() {
        local p=$1 line k e
        local -A xa=() xb=() seen=()
        while IFS= read -r line; do
                [ -n "$line" ] && xa[${line%%=*}]=${line#*=}
        done <<<"${A_xattrs[$p]}"
        while IFS= read -r line; do
                [ -n "$line" ] && xb[${line%%=*}]=${line#*=}
        done <<<"${B_xattrs[$p]}"
        for k in "${!xa[@]}" "${!xb[@]}"; do
                [ -n "${seen[$k]+x}" ] && continue
                seen[$k]=1
                [ "${xa[$k]-(none)}" = "${xb[$k]-(none)}" ] && continue
                esc_to e "$k"
                diff_line "$p" "xattr $e" "${xa[$k]-(none)}" "${xb[$k]-(none)}"
        done
}

collect A "$A"
collect B "$B"
link_groups A
link_groups B

for p in "${B_paths[@]}"; do
        if [ -z "${A_type[$p]+x}" ]; then
                diff_line "$p" exists no "yes(${B_type[$p]})"
        fi
done

for p in "${A_paths[@]}"; do
        if [ -z "${B_type[$p]+x}" ]; then
                diff_line "$p" exists "yes(${A_type[$p]})" no
                continue
        fi
        ta=${A_type[$p]}
        if [ "$ta" != "${B_type[$p]}" ]; then
                diff_line "$p" type "$ta" "${B_type[$p]}"
                continue
        fi
        if [ "$p" != . ] || ! $ignore_root; then
                # (symlink modes are always 0777 on Linux; compared anyway)
                [ "${A_mode[$p]}" = "${B_mode[$p]}" ] || diff_line "$p" mode "${A_mode[$p]}" "${B_mode[$p]}"
                [ "${A_uid[$p]}" = "${B_uid[$p]}" ] || diff_line "$p" uid "${A_uid[$p]}" "${B_uid[$p]}"
                [ "${A_gid[$p]}" = "${B_gid[$p]}" ] || diff_line "$p" gid "${A_gid[$p]}" "${B_gid[$p]}"
                [ "${A_mtime[$p]}" = "${B_mtime[$p]}" ] || diff_line "$p" mtime "${A_mtime[$p]}" "${B_mtime[$p]}"
                # xattr lines come in list order, which a copy need not keep
                if [ "${A_xattrs[$p]}" != "${B_xattrs[$p]}" ]; then
                        xattr_diff "$p"
                fi
        fi
        case $ta in
        f)
                if [ "${A_size[$p]}" != "${B_size[$p]}" ]; then
                        diff_line "$p" size "${A_size[$p]}" "${B_size[$p]}"
                elif [ "${A_size[$p]}" != 0 ] && ! cmp -s -- "$A/$p" "$B/$p"; then
                        diff_line "$p" content differs differs
                fi
                ab=${A_blocks[$p]}
                bb=${B_blocks[$p]}
                if [ $((ab * 512)) -lt "${A_size[$p]}" ] && [ "$bb" -gt $((ab + SLACK_BLOCKS)) ]; then
                        diff_line "$p" sparse "$((ab * 512))-bytes-allocated" "$((bb * 512))-bytes-allocated"
                fi
                ;;
        l)
                if [ "${A_target[$p]}" != "${B_target[$p]}" ]; then
                        esc_to ea "${A_target[$p]}"
                        esc_to eb "${B_target[$p]}"
                        diff_line "$p" target "$ea" "$eb"
                fi
                ;;
        c | b)
                da=$(cd -- "$A" && stat -c '%Hr,%Lr' -- "$p")
                db=$(cd -- "$B" && stat -c '%Hr,%Lr' -- "$p")
                [ "$da" = "$db" ] || diff_line "$p" rdev "$da" "$db"
                ;;
        esac
        if [ "$ta" != d ] && [ "${A_rep[$p]}" != "${B_rep[$p]}" ]; then
                diff_line "$p" hardlinks "${A_members[$p]}" "${B_members[$p]}"
        fi
done

exit $failed
