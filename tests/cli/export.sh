#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# cairn export (issue 11, item 1): a data subject with files in 3 snapshots
# (changed between them) exports to an archive whose files equal a restore
# of the same snapshots, bytes and metadata (mode, owner, mtime to the
# nanosecond, xattr, ACL, inode flags, symlink, hard link, FIFO, device,
# sparse file, names that are and are not UTF-8), checked
# with Python's tarfile; the manifest validates against
# docs/export-manifest.schema.json, its signature verifies with PyNaCl and
# 'export verify' passes; a byte changed in a file or in the manifest, an
# entry added or removed, another key, each fail verify with a line that
# says so; an empty export is valid and signed; zip; path and controller
# scopes; --snapshot; a snapshot a deferred erasure restricts is refused
# without --break-glass and exported with it; the audit log records the
# export with the digest it printed.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

$IS_ROOT || skip "needs root: file owners, ACLs and FIFOs of other users"
command -v setfacl >/dev/null && command -v setfattr >/dev/null || skip "needs setfacl and setfattr (acl, attr)"
python3 -c 'import jsonschema' 2>/dev/null || skip "needs python3 with jsonschema (python3-jsonschema)"
CHECK=$SRCDIR/tests/cli/export-check.py
SCHEMA=$SRCDIR/docs/export-manifest.schema.json
check() {
        python3 "$CHECK" "$@"
}
# jget FILE EXPR: a value of the JSON in FILE (j)
jget() {
        python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
digest_of() {
        tail -n 1 "$W/out"
}

cd "$W"
expect_exit 0 cairn init
src=$W/src
h=$src/home
mkdir -p "$h/alice/docs" "$h/alice/deep/er" "$h/bob"
printf 'first\n' >"$h/alice/docs/a.txt"
printf 'same in every snapshot\n' >"$h/alice/docs/kept.txt"
rand_file "$h/alice/deep/er/blob" 300000
setfattr -n user.color -v blue "$h/alice/docs/a.txt"
setfattr -n user.bin -v 0x00ff01 "$h/alice/docs/kept.txt"
setfacl -m u:1234:rw,g:2345:r "$h/alice/docs/kept.txt"
setfacl -d -m u:1234:rwx "$h/alice/deep"
ln -s docs/a.txt "$h/alice/link"
ln "$h/alice/docs/kept.txt" "$h/alice/hard"
mkfifo "$h/alice/fifo"
mknod "$h/alice/null" c 1 3
truncate -s 3M "$h/alice/sparse"
printf 'data in a hole' | dd of="$h/alice/sparse" bs=1 seek=1500000 conv=notrunc status=none
chown 1234:2345 "$h/alice/docs/a.txt"
chmod 4750 "$h/alice/deep/er/blob"
touch -d '2001-02-03 04:05:06.123456789' "$h/alice/docs/kept.txt"
printf 'utf-8 name\n' >"$h/alice/docs/café"
printf 'not a UTF-8 name\n' >"$h/alice/docs/"$'raw-\xff'
flags=false
if command -v chattr >/dev/null && chattr +d +A "$h/alice/docs/kept.txt" 2>/dev/null; then
        flags=true
fi
printf 'bob\n' >"$h/bob/b.txt"
rule=(--subject-rule "$h/{subject}/**")

note "item 1: a subject in 3 snapshots, changed between them"
expect_exit 0 cairn backup "${rule[@]}" "$src"
printf 'second\n' >>"$h/alice/docs/a.txt"
printf 'new in 2\n' >"$h/alice/docs/new.txt"
expect_exit 0 cairn backup "${rule[@]}" "$src"
rm -- "$h/alice/docs/new.txt"
rand_file "$h/alice/deep/er/blob" 310000
touch -d '2020-01-01 00:00:00.5' "$h/alice/link" -h
expect_exit 0 cairn backup "${rule[@]}" "$src"
read -r -a snaps <<<"$(snapshot_ids)"
[ ${#snaps[@]} = 3 ] || die "3 snapshots expected: ${snaps[*]}"

expect_exit 0 cairn export --subject alice -o "$W/alice.tar"
digest=$(digest_of)
[[ $digest =~ ^[0-9a-f]{64}$ ]] || fail "export does not print the manifest's digest last: $(cat "$W/out")"
[ "$(sha256sum <(tar -xOf "$W/alice.tar" manifest.json 2>/dev/null) | cut -c1-64)" = "$digest" ] ||
        fail "the digest printed is not the SHA-256 of manifest.json"

note "item 1: the archive's files equal a restore of the same snapshots, bytes and metadata"
listings=()
for id in "${snaps[@]}"; do
        folder=$(check get "$W/alice.tar" "[s['folder'] for s in m['snapshots'] if s['id'] == '$id'][0]")
        expect_exit 0 cairn restore "$id" --target "$W/rs/${folder#files/}"
        expect_exit 0 cairn ls --json --subject alice "$id"
        cp -- "$W/out" "$W/ls-$id.json"
        listings+=("$W/ls-$id.json")
done
check compare "$W/alice.tar" "$W/rs" "${listings[@]}" || fail "the archive and the restore differ (above)"
[ "$(check get "$W/alice.tar" "ascii(sorted(set(r['path'].rsplit('/', 1)[-1] for r in m['files'] if r['in_scope'])))")" = \
        "['a.txt', 'alice', 'blob', 'caf\xe9', 'deep', 'docs', 'er', 'fifo', 'hard', 'kept.txt', 'link', 'new.txt', 'null', 'raw-\ufffd', 'sparse']" ] ||
        fail "the entries in scope: $(check get "$W/alice.tar" "[r['path'] for r in m['files'] if r['in_scope']]")"
! check get "$W/alice.tar" "[r['path'] for r in m['files']]" | grep -q bob || fail "bob's data is in alice's export"
[ "$(check get "$W/alice.tar" "sorted(set(r['path'] for r in m['files'] if not r['in_scope']))")" = \
        "$(python3 -c 'import sys; p = sys.argv[1].split("/"); print(sorted("/".join(p[:i]) for i in range(2, len(p))))' "$h/alice")" ] ||
        fail "the directories above alice are not the parents written: $(check get "$W/alice.tar" "[r['path'] for r in m['files'] if not r['in_scope']]")"
! $flags || [ "$(python3 -c 'import sys, tarfile; print(sorted(set(x.pax_headers.get("SCHILY.fflags") for x in tarfile.open(sys.argv[1]) if x.name.endswith("/kept.txt"))))' "$W/alice.tar")" = \
        "['nodump,noatime']" ] || fail "the inode flags of kept.txt are not in the archive"
[ "$(check get "$W/alice.tar" "sorted(set(bytes.fromhex(r['path_hex'])[-5:] for r in m['files'] if 'path_hex' in r))")" = \
        "[b'raw-\\xff']" ] || fail "the name that is not UTF-8 has no exact bytes in the manifest"
[ "$(check get "$W/alice.tar" "len([r for r in m['files'] if r['link']])")" = 3 ] ||
        fail "the hard link is not a hard link entry in each snapshot"
[ "$(check get "$W/alice.tar" "[s['folder'] for s in m['snapshots']] == sorted(s['folder'] for s in m['snapshots']) and len(m['snapshots'])")" = 3 ] ||
        fail "the snapshot folders are not 3 in time order"

note "item 1: the manifest validates against the schema, is signed, and 'export verify' passes"
check schema "$W/alice.tar" "$SCHEMA" || fail "manifest.json does not validate against $SCHEMA"
expect_exit 0 cairn processor show --json
pub=$(jget "$W/out" 'j["public_key"]')
rc=0
check sig "$W/alice.tar" "$pub" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 77 ] || fail "manifest.sig does not verify with PyNaCl"
expect_exit 0 cairn export verify "$W/alice.tar"
[ "$(digest_of)" = "$digest" ] || fail "export verify prints another digest: $(cat "$W/out")"
expect_exit 0 "$CAIRN" -r "$W/no-repository" export verify "$W/alice.tar" --public-key "$pub" --json
[ "$(jget "$W/out" '(j["valid"], j["problems"])')" = "(True, [])" ] || fail "verify --public-key: $(cat "$W/out")"
[ "$(check get "$W/alice.tar" "[(m['events'][i]['kind'], m['events'][i]['fields']['snapshot']) for i in range(3)] == [('backup', s) for s in '${snaps[*]}'.split()]")" = True ] ||
        fail "the manifest's events are not the 3 backups: $(check get "$W/alice.tar" "m['events']")"
[ "$(check get "$W/alice.tar" "m['audit_anchor']['checkpoint']['entries'] == m['audit_log']['entries'] > 3")" = True ] ||
        fail "no audit anchor over the whole log: $(check get "$W/alice.tar" "m['audit_anchor'], m['audit_log']")"

note "item 1: the manifest says where the data is: the repository's locations and the controller's grants"
[ "$(check get "$W/alice.tar" "m['locations']")" = "{'repository': [], 'authorised': [], 'unreadable': 0}" ] ||
        fail "locations before any is recorded: $(check get "$W/alice.tar" "m['locations']")"
expect_exit 0 cairn location add eu-1 --provider Hetzner --region fsn1 --controller default
expect_exit 0 cairn location add old --provider AWS --region us-east-1
expect_exit 0 cairn location remove old
expect_exit 0 cairn location authorise backup-2 --controller default --provider OVH --region gra
expect_exit 0 cairn export --subject alice --snapshot latest -o "$W/loc.tar"
[ "$(check get "$W/loc.tar" "sorted((l['name'], l['provider'], l['region'], l['removed'] is None) for l in m['locations']['repository'])")" = \
        "[('eu-1', 'Hetzner', 'fsn1', True), ('old', 'AWS', 'us-east-1', False)]" ] &&
        [ "$(check get "$W/loc.tar" "sorted((l['name'], l['provider'], l['region'], l['revoked']) for l in m['locations']['authorised'])")" = \
                "[('backup-2', 'OVH', 'gra', None), ('eu-1', 'Hetzner', 'fsn1', None)]" ] ||
        fail "locations: $(check get "$W/loc.tar" "m['locations']")"
check schema "$W/loc.tar" "$SCHEMA" || fail "the manifest with locations does not validate"

note "item 1: the manifest says what keeps each snapshot in scope, and until when"
[ "$(check get "$W/loc.tar" "(m['retention']['policy'], [(s['kept'], s['until']) for s in m['retention']['snapshots']])")" = \
        "(None, [(True, None)])" ] || fail "retention without a policy: $(check get "$W/loc.tar" "m['retention']")"
expect_exit 0 cairn retention set --keep-last 1 --keep-within 2d
expect_exit 0 cairn export --subject alice -o "$W/ret.tar"
check schema "$W/ret.tar" "$SCHEMA" || fail "the manifest with a retention policy does not validate"
[ "$(check get "$W/ret.tar" "(m['retention']['policy']['rules'], [s['kept'] and s['until'] is not None for s in m['retention']['snapshots']], sorted(m['retention']['snapshots'][2]['rules']))")" = \
        "({'keep_last': 1, 'keep_within': '2d'}, [True, True, False], ['last snapshot', 'within 2d'])" ] ||
        fail "retention with a policy: $(check get "$W/ret.tar" "m['retention']")"

note "item 1: the audit log records the export, with the digest it printed"
expect_exit 0 cairn audit show --json
python3 - "$W/out" "$digest" <<'EOF' || fail "no export entry with the digest in the audit log: $(tail -c 600 "$W/out")"
import json, sys
log = json.load(open(sys.argv[1]))
e = [x for x in log if x["kind"] == "export" and x["fields"].get("digest") == sys.argv[2]]
sys.exit(0 if len(e) == 1 and e[0]["fields"]["scope"] == "subject" and e[0]["fields"]["snapshots"] == 3 else 1)
EOF

note "item 1: a byte changed in a file or in the manifest fails verify, naming it"
tamper() { # tamper ARCHIVE MEMBER OFFSET-IN-IT -> $W/t.tar
        local off
        off=$(check offset "$1" "$2")
        cp -- "$1" "$W/t.tar"
        xor_byte "$W/t.tar" $((off + $3)) 1
}
file=$(check get "$W/alice.tar" "[r['archive_path'] for r in m['files'] if r['path'].endswith('/blob')][0]")
tamper "$W/alice.tar" "$file" 1000
expect_exit 1 cairn export verify "$W/t.tar"
grep -qF "$file: its content is not what the manifest says (SHA-256 differs)" "$W/err" ||
        fail "verify of a changed file: $(cat "$W/err")"
tamper "$W/alice.tar" manifest.json 300
expect_exit 1 cairn export verify "$W/t.tar"
grep -q 'manifest.json: the signature in manifest.sig does not match it' "$W/err" ||
        fail "verify of a changed manifest: $(cat "$W/err")"
other=$(rand_hex 32)
expect_exit 1 "$CAIRN" export verify "$W/alice.tar" --public-key "$other"
grep -q 'signed by another key than the one given' "$W/err" || fail "verify with another key: $(cat "$W/err")"

note "item 1: path scope (every .txt below src): the .txt files and the directories above them"
expect_exit 0 cairn export --path "$src/**/*.txt" -o "$W/txt.tar"
[ "$(check get "$W/txt.tar" "sorted(set(r['path'].rsplit('/', 1)[1] for r in m['files'] if r['in_scope']))")" = \
        "['a.txt', 'b.txt', 'kept.txt', 'new.txt']" ] || fail "--path $src/**/*.txt: $(check get "$W/txt.tar" "m['files']")"
[ "$(check get "$W/txt.tar" "all(r['type'] == 'dir' for r in m['files'] if not r['in_scope'])")" = True ] ||
        fail "--path: a parent that is no directory"
check schema "$W/txt.tar" "$SCHEMA" || fail "the path export's manifest does not validate"
expect_exit 0 cairn export verify "$W/txt.tar"

note "item 1: an entry added to or removed from the archive fails verify, naming it"
check rebuild "$W/txt.tar" "$W/t.tar" add "files/extra"
expect_exit 1 cairn export verify "$W/t.tar"
grep -q 'files/extra: in the archive but not in the manifest' "$W/err" || fail "verify of an added entry: $(cat "$W/err")"
gone=$(check get "$W/txt.tar" "[r['archive_path'] for r in m['files'] if r['path'].endswith('b.txt')][1]")
check rebuild "$W/txt.tar" "$W/t.tar" drop "$gone"
expect_exit 1 cairn export verify "$W/t.tar"
grep -qF "$gone: listed in the manifest but not in the archive" "$W/err" || fail "verify of a removed entry: $(cat "$W/err")"
[ "$(grep -c 'export verify:' "$W/err")" = 1 ] || fail "one entry removed, more than one line: $(cat "$W/err")"
head -c 20000 "$W/txt.tar" >"$W/t.tar"
expect_exit 1 cairn export verify "$W/t.tar"

note "item 1: controller scope: every entry of every snapshot; --snapshot picks"
expect_exit 0 cairn export --controller default -o "$W/all.tar" --json
[ "$(jget "$W/out" '(j["snapshots"], j["empty"])')" = "(3, False)" ] || fail "controller export: $(cat "$W/out")"
for id in "${snaps[@]}"; do
        expect_exit 0 cairn ls --json "$id"
        n=$(jget "$W/out" 'len(j)')
        [ "$(check get "$W/all.tar" "sum(1 for r in m['files'] if r['snapshot'] == '$id' and r['in_scope'])")" = "$n" ] ||
                fail "controller export of ${id:0:8}: not the $n entries ls lists"
done
[ "$(check get "$W/all.tar" "sum(1 for r in m['files'] if not r['in_scope'])")" = 0 ] ||
        fail "a controller export writes parents not in scope"
expect_exit 0 cairn export verify "$W/all.tar"
expect_exit 0 cairn export --subject alice --snapshot "${snaps[1]:0:10}" -o "$W/one.tar"
[ "$(check get "$W/one.tar" "[s['id'] for s in m['snapshots']]")" = "['${snaps[1]}']" ] ||
        fail "--snapshot: $(check get "$W/one.tar" "m['snapshots']")"

note "item 1: zip: the files a zip holds equal the restore; FIFOs and devices are listed, not stored"
expect_exit 0 cairn export --subject alice --format zip -o "$W/alice.zip"
expect_exit 0 cairn export verify "$W/alice.zip"
check zip "$W/alice.zip" "$W/rs" || fail "the zip and the restore differ (above)"
[ "$(check get "$W/alice.zip" "[r['archive_path'] for r in m['files'] if r['type'] in ('fifo', 'chardev')] == [None] * 6")" = True ] ||
        fail "zip: a FIFO or device is not listed with archive_path null"

note "item 1: an empty scope gives a valid archive with a signed manifest saying so"
expect_exit 0 cairn export --subject nobody -o "$W/empty.tar"
grep -q 'nothing in scope' "$W/out" || fail "an empty export does not say so: $(cat "$W/out")"
[ "$(check get "$W/empty.tar" "(m['empty'], m['files'], m['snapshots'])")" = "(True, [], [])" ] ||
        fail "empty export manifest: $(check get "$W/empty.tar" m)"
check schema "$W/empty.tar" "$SCHEMA" || fail "the empty manifest does not validate"
expect_exit 0 cairn export verify "$W/empty.tar"
rc=0
check sig "$W/empty.tar" "$pub" || rc=$?
[ "$rc" = 0 ] || [ "$rc" = 77 ] || fail "the empty export's signature does not verify"

note "item 1: bad requests change nothing"
expect_exit 1 cairn export --subject alice -o "$W/alice.tar"
grep -q 'exists: an export never replaces a file' "$W/err" || fail "export over a file: $(cat "$W/err")"
expect_exit 1 cairn export --subject alice -o "$W/no-such-dir/x.tar"
grep -q "cannot make the export file $W/no-such-dir/x.tar" "$W/err" || fail "export into no directory: $(cat "$W/err")"
expect_exit 2 cairn export -o "$W/x.tar"
expect_exit 2 cairn export --subject a/b -o "$W/x.tar"
expect_exit 2 cairn export --path 'rel/*' -o "$W/x.tar"
expect_exit 2 cairn export --subject alice --path /x -o "$W/x.tar"
expect_exit 2 cairn export --subject alice --format cpio -o "$W/x.tar"
[ ! -e "$W/x.tar" ] && [ -z "$(find "$W" -maxdepth 1 -name '.cairn-export-*')" ] ||
        fail "a refused export left a file behind"

note "item 1: a snapshot a deferred erasure restricts is refused without --break-glass"
expect_exit 0 cairn hold add --snapshot "${snaps[2]:0:12}" --reason "litigation"
expect_exit 3 cairn erase --subject bob
expect_exit 1 cairn export --subject alice -o "$W/r.tar"
grep -q "snapshot ${snaps[2]:0:8} holds data an erasure request waits to erase" "$W/err" &&
        grep -q 'with --break-glass PURPOSE' "$W/err" || fail "export of a restricted snapshot: $(cat "$W/err")"
[ ! -e "$W/r.tar" ] || fail "a refused export wrote its file"
expect_exit 0 cairn --break-glass "access request DSR-9" export --subject alice -o "$W/r.tar"
[ "$(check get "$W/r.tar" "(m['break_glass']['snapshots'], [s['restricted'] for s in m['snapshots']])")" = \
        "(['${snaps[2]}'], [False, False, True])" ] || fail "break-glass export: $(check get "$W/r.tar" "m['break_glass'], m['snapshots']")"
[ "$(check get "$W/r.tar" "[h['reason'] for h in m['holds']]")" = "['litigation']" ] ||
        fail "the hold is not in the manifest: $(check get "$W/r.tar" "m['holds']")"
check schema "$W/r.tar" "$SCHEMA" || fail "the break-glass manifest does not validate"
expect_exit 0 cairn audit show --json
[ "$(jget "$W/out" '[e["kind"] for e in j if e["kind"] in ("break-glass", "export")][-3:]')" = \
        "['export', 'break-glass', 'export']" ] || fail "the audit log lacks the refusal or the break-glass read"
[ "$(jget "$W/out" '[e["outcome"] for e in j if e["kind"] == "export"][-2:]')" = "['refused', 'ok']" ] ||
        fail "the refused export is not in the audit log as refused"
