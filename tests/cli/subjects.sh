#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Data subjects (issue 10, items 2 and 3): --subject-rule tags exactly the
# entries its {subject} component reaches (the directory it names too),
# --subject tags every entry, ls shows them (--json, -l) and filters by one
# (--subject); bad rules and subjects are usage errors that write nothing;
# a re-backup with other rules re-tags files it reuses unchanged; a backup
# without rules writes the same trees as before subjects existed; the same
# file under two subjects stores its chunks once; restore ignores subjects.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

command -v python3 >/dev/null || skip "python3 is needed to read ls --json"

src=$W/src
mkdir -p "$src/home/alice/docs" "$src/home/bob" "$src/srv/acme/sub" "$src/etc"
printf 'a\n' >"$src/home/alice/docs/a.txt"
printf 'b\n' >"$src/home/bob/b.txt"
printf 'db\n' >"$src/srv/acme/x.db"
printf 'notes\n' >"$src/srv/acme/notes.txt"
printf 'deep db\n' >"$src/srv/acme/sub/y.db"
printf 'conf\n' >"$src/etc/conf"
rand_file "$src/home/alice/same.bin" $((3 * 1024 * 1024))
cp -- "$src/home/alice/same.bin" "$src/home/bob/same.bin"

# listing [LS ARGS...]: "path<TAB>subject,subject" for every entry below
# $src of the latest snapshot, from ls --json, sorted.
listing() {
        expect_exit 0 cairn ls --json "$@" latest "$src"
        python3 - "$W/out" "$src" <<'PY'
import json, sys
entries = json.load(open(sys.argv[1]))
for e in entries:
    assert isinstance(e["subjects"], list), e
    p = e["path"]
    if p == sys.argv[2] or p.startswith(sys.argv[2] + "/"):
        print(p[len(sys.argv[2]):] or "/", ",".join(e["subjects"]), sep="\t")
PY
}

expect_listing() {
        local what=$1 want=$2 got
        got=$(cat)
        [ "$got" = "$want" ] || fail "$what: got
$got
want
$want"
}

expect_exit 0 cairn init
expect_exit 0 cairn backup --json "$src"
first_blobs=$(json_num blobs_new "$W/out")
[ "$first_blobs" -gt 0 ] || die "the first backup stored nothing"

note "item 2: rules tag the right entries, the directory {subject} names included"
expect_exit 0 cairn backup --subject-rule "$src/home/{subject}/**" --subject-rule "$src/srv/{subject}/*.db" "$src"
tab=$'\t'
listing | sort | expect_listing "tags of the rules" "/etc${tab}
/etc/conf${tab}
/home${tab}
/home/alice${tab}alice
/home/alice/docs${tab}alice
/home/alice/docs/a.txt${tab}alice
/home/alice/same.bin${tab}alice
/home/bob${tab}bob
/home/bob/b.txt${tab}bob
/home/bob/same.bin${tab}bob
/srv${tab}
/srv/acme${tab}acme
/srv/acme/notes.txt${tab}
/srv/acme/sub${tab}
/srv/acme/sub/y.db${tab}
/srv/acme/x.db${tab}acme"

note "item 3: ls --subject lists only that subject's entries; -l shows them in brackets"
listing --subject alice | cut -f1 | sort | expect_listing "ls --subject alice" "/home/alice
/home/alice/docs
/home/alice/docs/a.txt
/home/alice/same.bin"
expect_exit 0 cairn ls latest --subject nobody
[ ! -s "$W/out" ] || fail "ls --subject nobody listed $(cat "$W/out")"
expect_exit 0 cairn ls -l latest "$src/home/bob"
grep -q " $src/home/bob/b.txt \[bob\]\$" "$W/out" || fail "ls -l does not end in [bob]: $(cat "$W/out")"
expect_exit 0 cairn ls -l latest "$src/etc"
grep -q '\[' "$W/out" && fail "ls -l shows brackets for an entry without subjects: $(cat "$W/out")"
expect_exit 0 cairn ls latest "$src/home/bob"
grep -q '\[' "$W/out" && fail "ls without -l shows subjects: $(cat "$W/out")"
check_exit 2 cairn ls latest --subject 'a/b'

note "item 2: --subject S tags every entry, with the rules' subjects"
expect_exit 0 cairn backup --subject corp --subject-rule "$src/home/{subject}/**" "$src"
listing | sort | grep -E "^/(home|home/alice|etc/conf)$tab" | expect_listing "--subject corp" "/etc/conf${tab}corp
/home${tab}corp
/home/alice${tab}alice,corp"

note "item 2: bad rules and subjects exit 2 before anything is written"
state() {
        find "$REPO" -type f -printf '%P %s\n' | sort | md5sum
}
before=$(state)
long=$(printf 'x%.0s' $(seq 257))
for rule in "home/{subject}/**" "$src/home" "$src/{subject}/{subject}" "$src/home/x{subject}" \
        "$src/**/{subject}" "$src//{subject}" "{subject}"; do
        check_exit 2 cairn backup --subject-rule "$rule" "$src" || continue
        grep -q -- "--subject-rule" "$W/err" || fail "rule $rule: the error does not name the rule: $(cat "$W/err")"
done
for s in "" "a/b" "$long"; do
        check_exit 2 cairn backup --subject "$s" "$src"
done
many=()
for i in $(seq 65); do many+=(--subject "s$i"); done
check_exit 2 cairn backup "${many[@]}" "$src"
[ "$(state)" = "$before" ] || fail "a refused backup wrote to the repository"

note "item 2: an entry given more than 64 subjects is stored without the rest, with a warning (exit 3)"
expect_exit 3 cairn backup "${many[@]:0:128}" --subject-rule "$src/home/{subject}/**" "$src"
grep -q "home/alice: stored without a data subject" "$W/err" || fail "no warning for /home/alice: $(cat "$W/err")"
grep -q "entries are stored without a data subject" "$W/err" || fail "no summary: $(cat "$W/err")"
listing | grep "^/home/alice/docs/a.txt$tab" | tr ',' '\n' | wc -l | grep -qx 64 ||
        fail "a.txt does not have 64 subjects"

note "item 2: a re-backup with changed rules re-tags the files it reuses unchanged"
expect_exit 0 cairn backup --json --subject-rule "$src/home/{subject}/docs/**" "$src"
[ "$(json_num stored_bytes_new "$W/out")" -lt 100000 ] || fail "unchanged files were stored again: $(cat "$W/out")"
listing | sort | grep "^/home" | expect_listing "tags of the changed rule" "/home${tab}
/home/alice${tab}alice
/home/alice/docs${tab}alice
/home/alice/docs/a.txt${tab}alice
/home/alice/same.bin${tab}
/home/bob${tab}bob
/home/bob/b.txt${tab}
/home/bob/same.bin${tab}"

note "item 1: a backup without rules writes the trees it wrote before subjects (v2, same ids)"
expect_exit 0 cairn backup --json "$src"
# Every tree of $src is one the first backup stored: new ones can only be
# those of / and of the temporary directory above $W, whose mtimes other
# programs change. Trees of another encoding would be the 7 of $src too.
[ "$(json_num blobs_new "$W/out")" -le 2 ] || fail "a backup without rules stored new trees: $(cat "$W/out")"
listing | cut -f2 | grep -q . && fail "a backup without rules has subjects"

note "item 2: the same file under two subjects stores its chunks once"
REPO=$W/repo2
expect_exit 0 cairn init
expect_exit 0 cairn backup --json --subject-rule "$src/home/{subject}/**" "$src/home"
stored=$(json_num stored_bytes_new "$W/out")
[ "$stored" -lt $((4 * 1024 * 1024)) ] || fail "two copies of 3 MiB under two subjects stored $stored bytes"
expect_exit 0 cairn ls --json latest "$src/home/bob/same.bin"
grep -q '"subjects":\["bob"\]' "$W/out" || fail "bob's copy is not bob's: $(cat "$W/out")"

note "item 3: restore ignores subjects: the tree restores equal"
expect_exit 0 cairn restore latest --target "$W/restored"
same_tree "$src/home" "$W/restored$src/home" || fail "the restored tree differs"
