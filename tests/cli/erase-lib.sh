# SPDX-License-Identifier: GPL-3.0-or-later
# shellcheck shell=bash
#
# Shared by the erasure scenarios (tests/cli/erase*.sh), sourced after
# lib.sh. They look at a local repository and key store from outside, with
# docs/FORMAT.md in hand ($ctl: the controller's id):
#
#       fingerprint DIR...        every file below each DIR with the sha256 of
#                                 its bytes, and its mode, one a line, sorted;
#                                 not the audit log (a refused erasure adds
#                                 its entry there)
#       objects KIND              how many objects KIND/$ctl holds (no .tmp-*)
#       epoch_of FILE             the envelope's epoch (u32 at byte 44)
#       epochs KIND               the distinct epochs of KIND/$ctl's objects
#       record_epoch              the epoch of controllers/$ctl
#       ks_object                 the key store object of $ctl
#       ks_keys                   how many epoch keys it holds (from its size)
#       one_epoch WHAT            fail unless the key store holds one key, the
#                                 record, every ledger and snapshot are at one
#                                 epoch, no request, session or plan is left
#                                 and no blob nothing needs
#       tree_without NAME DIR SUB...
#                                 $W/exp/NAME: a copy of DIR without DIR/SUB...
#       restore_equals ID DIR EXP restore ID's DIR and compare it with EXP

fingerprint() {
        local d
        for d in "$@"; do
                [ -d "$d" ] || continue
                (cd -- "$d" && find . -path ./audit -prune -o -printf '%y %m %P\n' | sort &&
                        find . -path ./audit -prune -o -type f -print0 | sort -z | xargs -0 -r sha256sum)
        done
}

objects() {
        find "$REPO/$1/${ctl:?}" -type f ! -name '.tmp-*' 2>/dev/null | wc -l
}

epoch_of() {
        od -An -tu4 -j 44 -N 4 -- "$1" | tr -d ' '
}

epochs() {
        local f
        find "$REPO/$1/${ctl:?}" -type f ! -name '.tmp-*' -print0 2>/dev/null | while IFS= read -r -d '' f; do
                epoch_of "$f"
        done | sort -u | tr '\n' ' '
}

record_epoch() {
        epoch_of "$REPO/controllers/$ctl"
}

ks_object() {
        local f
        for f in "$CAIRN_KEY_STORE"/*/"$ctl"; do
                [ -f "$f" ] && echo "$f" && return
        done
}

# docs/FORMAT.md "Key store": the envelope (48-byte header, 24-byte nonce,
# 16-byte tag) around repo_uuid[16] generation:u64 location_count:u32, one
# location (u32 length + the URL: $CAIRN_KEY_STORE), key_count:u32 and 36
# bytes a key: 124 + len(URL) + 36 * keys.
ks_keys() {
        local f size rest
        f=$(ks_object)
        [ -n "$f" ] || {
                echo 0
                return
        }
        size=$(stat -c %s -- "$f")
        rest=$((size - 124 - ${#CAIRN_KEY_STORE}))
        [ $((rest % 36)) = 0 ] && [ "$rest" -gt 0 ] ||
                die "key store object $f: $size bytes is no whole number of keys with one location of ${#CAIRN_KEY_STORE} bytes"
        echo $((rest / 36))
}

one_epoch() {
        local what=$1 e
        e=$(record_epoch)
        [ "$(ks_keys)" = 1 ] || fail "$what: the key store holds $(ks_keys) keys, not 1"
        [ "$(epochs ledger)" = "$e " ] || fail "$what: ledgers of epochs '$(epochs ledger)', the record's is $e"
        [ "$(epochs snapshots)" = "$e " ] || fail "$what: snapshots of epochs '$(epochs snapshots)', the record's is $e"
        [ "$(objects erasures)" = 0 ] || fail "$what: $(objects erasures) erasure request(s) left after the erasure finished"
        [ "$(objects writers)" = 0 ] || fail "$what: $(objects writers) session(s) left"
        [ "$(objects prune)" = 0 ] || fail "$what: $(objects prune) plan(s) left"
        # collected with no unused bytes left (FORMAT.md "Erasure", step 4)
        check_exit 0 cairn prune --max-unused 0 --dry-run --json || return
        [ "$(json_num blobs_unreachable "$W/out")" = 0 ] && [ "$(json_num blobs_duplicate "$W/out")" = 0 ] ||
                fail "$what: the erasure left blobs nothing needs: $(cat "$W/out")"
}

tree_without() {
        local name=$1 d=$2 s
        shift 2
        rm -rf -- "${W:?}/exp/$name"
        mkdir -p -- "$W/exp"
        cp -a -- "$d" "$W/exp/$name"
        for s in "$@"; do
                rm -rf -- "${W:?}/exp/$name/$s"
        done
}

restore_equals() {
        local id=$1 dir=$2 exp=$3
        rm -rf -- "$W/rs"
        check_exit 0 cairn restore "$id:$dir" --target "$W/rs" || return 1
        same_tree "$exp" "$W/rs" || {
                fail "snapshot ${id:0:8}: $dir does not restore to what it held less the erased part (diff above)"
                return 1
        }
}
