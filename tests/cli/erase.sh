#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# `cairn erase` as an attacker and an unlucky operator see it (issue 10).
# tests/privacy/erasure.sh proves what old copies give back; this checks
# the rest: --dry-run writes no byte (also in the middle of an epoch change)
# and reports what the erasure then does; a chunk a kept file shares
# survives and is reported; a snapshot path below an erased directory goes
# with it; a backup's session makes erase refuse and an erasure's session
# makes a backup refuse, each with a clear message, and both succeed once
# the other ends; a hold defers its snapshot (exit 3, listed, certificate
# "deferred"), then its release lets the same erase finish with one request;
# version 1 controllers and bad input are refused with nothing changed; the
# certificate verifies offline and its counts are the report's; erasures
# one after another move the epoch 1 -> 2 -> 3 -> 4 with one key left,
# and a backup afterwards dedups against what survived.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"
# shellcheck source=erase-lib.sh
. "$(dirname -- "$0")/erase-lib.sh"

# same_counts A B KEYS...: the erase reports (--json) A and B agree on KEYS
# (of "counts" or the top level)
same_counts() {
        local a=$1 b=$2
        shift 2
        python3 - "$a" "$b" "$@" <<'EOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
get = lambda j, k: j["counts"][k] if k in j["counts"] else j[k]
bad = [f"{k}: {get(a, k)} / {get(b, k)}" for k in sys.argv[3:] if get(a, k) != get(b, k)]
sys.exit("; ".join(bad) if bad else 0)
EOF
}

# jget FILE EXPR: a value of the JSON in FILE (j is the document)
jget() {
        python3 -c 'import json, sys; j = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

cd "$W"
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
src=$W/src
mkdir -p "$src/keep" "$src/secret/deep"
rand_file "$src/keep/big" 1500000
rand_file "$src/keep/shared" 120000
rand_file "$src/secret/s1" 90000
rand_file "$src/secret/deep/s2" 7000
cp -- "$src/keep/shared" "$src/secret/copy"
expect_exit 0 cairn backup "$src"
rand_file "$src/secret/s3" 5000
expect_exit 0 cairn backup "$src"
[ "$(record_epoch)" = 1 ] && [ "$(ks_keys)" = 1 ] || die "a new controller is at epoch $(record_epoch) with $(ks_keys) keys"

note "--dry-run writes no byte of the repository or the key store"
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-before"
expect_exit 0 cairn erase --path "$src/secret" --dry-run --json
cp -- "$W/out" "$W/dry.json"
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-after"
diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "erase --dry-run changed the repository or the key store"
expect_exit 0 cairn erase --path "$src/secret" --dry-run
grep -q -- '--dry-run: nothing was written or deleted' "$W/out" && grep -q 'would be erased' "$W/out" ||
        fail "erase --dry-run text: $(cat "$W/out")"

note "--path / reaches every entry: every snapshot would go"
expect_exit 0 cairn erase --path / --dry-run --json
[ "$(jget "$W/out" '(j["counts"]["snapshots_deleted"], j["counts"]["snapshots_rewritten"], j["counts"]["bytes_erased"])')" = \
        "(2, 0, $((2 * (1500000 + 120000 + 90000 + 7000 + 120000) + 5000)))" ] || fail "erase --path / --dry-run: $(cat "$W/out")"

note "--dry-run reports what the erasure then does"
expect_exit 0 cairn erase --path "$src/secret" --json --reason "request 7" --reference "DSR-7"
cp -- "$W/out" "$W/real.json"
same_counts "$W/dry.json" "$W/real.json" snapshots snapshots_deleted snapshots_rewritten entries_erased \
        bytes_erased chunks_destroyed chunks_kept chunks_reached kept_by deferred ||
        fail "dry run and erasure report different scopes: $(cat "$W/dry.json") / $(cat "$W/real.json")"
[ "$(jget "$W/real.json" 'j["counts"]["snapshots_rewritten"]')" = 2 ] &&
        [ "$(jget "$W/real.json" 'j["counts"]["entries_erased"]')" = 11 ] &&
        [ "$(jget "$W/real.json" 'j["counts"]["bytes_erased"]')" = $((2 * (90000 + 7000 + 120000) + 5000)) ] ||
        fail "erase report counts: $(cat "$W/real.json")"
[ "$(jget "$W/real.json" '(j["epoch_from"], j["epoch_to"], j["cryptographically_complete"])')" = "(1, 2, True)" ] ||
        fail "erase report epochs: $(cat "$W/real.json")"
one_epoch "first erasure"
[ "$(record_epoch)" = 2 ] || fail "the record is at epoch $(record_epoch) after one erasure, not 2"

note "a chunk a kept file shares survives: reported in kept_by, restored bit-identical"
[ "$(jget "$W/real.json" 'j["chunks_kept"]')" = 1 ] ||
        fail "chunks_kept is not 1: $(cat "$W/real.json")"
[ "$(jget "$W/real.json" 'sorted(set(k["path"] for k in j["kept_by"]))')" = "['$src/keep/shared']" ] ||
        fail "kept_by does not name $src/keep/shared alone: $(cat "$W/real.json")"
[ "$(jget "$W/real.json" 'len(j["kept_by"])')" = 2 ] || fail "kept_by does not name both snapshots"
expect_exit 0 cairn check --read-data
for id in $(snapshot_ids); do
        rm -rf -- "$W/rs"
        expect_exit 0 cairn restore "$id:$src" --target "$W/rs"
        cmp -- "$src/keep/shared" "$W/rs/keep/shared" || fail "the kept file does not restore bit-identical"
        cmp -- "$src/keep/big" "$W/rs/keep/big" || fail "keep/big does not restore bit-identical"
        [ ! -e "$W/rs/secret" ] || fail "snapshot ${id:0:8} still restores secret/"
done

note "the certificate verifies offline, and says what the report said"
cert=$(jget "$W/real.json" 'j["certificate"]')
expect_exit 0 cairn certificate show "${cert:0:12}" -o "$W/cert.json"
expect_exit 0 cairn processor show --json
pub=$(jget "$W/out" 'j["public_key"]')
expect_exit 0 "$CAIRN" certificate verify "$W/cert.json" --processor-key "$pub" --json
[ "$(jget "$W/out" 'j["valid"]')" = True ] || fail "certificate verify: $(cat "$W/out")"
python3 - "$W/cert.json" "$W/real.json" <<'EOF' || fail "the certificate and the report disagree"
import json, sys
c, r = json.load(open(sys.argv[1]))["certificate"], json.load(open(sys.argv[2]))
bad = []
if c["counts"] != r["counts"]:
        bad.append(f"counts {c['counts']} / {r['counts']}")
if (c["epoch"]["from"], c["epoch"]["to"]) != (r["epoch_from"], r["epoch_to"]):
        bad.append(f"epochs {c['epoch']}")
if c["status"] != "complete" or c["deferred"] or not c["cryptographically_complete_at"]:
        bad.append(f"status {c['status']}")
if c["request"]["scope"] != "path" or c["request"]["reason"] != "request 7" or c["request"]["reference"] != "DSR-7":
        bad.append(f"request {c['request']}")
kept = sum(k.get("chunks", 0) for k in c["retained"])
if kept != r["chunks_kept"] or len([k for x in c["retained"] for k in x["kept_by"]]) != len(r["kept_by"]):
        bad.append(f"retained {c['retained']}")
if [l["status"] for l in c["locations"]] != ["done", "done"]:
        bad.append(f"locations {c['locations']}")
if bad:
        sys.exit("; ".join(bad))
EOF

note "a snapshot path below an erased directory goes with it"
mkdir -p "$src/home/alice/docs" "$src/home/bob"
rand_file "$src/home/alice/docs/a" 3000
rand_file "$src/home/bob/b" 3000
expect_exit 0 cairn backup "$src/home/alice/docs" "$src/home/bob"
expect_exit 0 cairn backup "$src/home/alice/docs"
expect_exit 0 cairn erase --path "$src/home/alice" --json
[ "$(jget "$W/out" '(j["counts"]["snapshots_rewritten"], j["counts"]["snapshots_deleted"])')" = "(1, 1)" ] ||
        fail "erase --path of a parent of snapshot paths: $(cat "$W/out")"
expect_exit 0 cairn snapshots --json
! grep -q alice "$W/out" || fail "a snapshot still names $src/home/alice/docs: $(cat "$W/out")"
grep -q "\"paths\":\[\"$src/home/bob\"\]" "$W/out" || fail "the rewritten snapshot lost $src/home/bob: $(cat "$W/out")"
one_epoch "erasure of a parent"

note "erase refuses while a backup runs (its session), changing nothing; runs once it ends"
mkfifo "$W/fifo"
exec 3<>"$W/fifo"
"$CAIRN" -r "$REPO" backup --stdin --stdin-filename streamed <"$W/fifo" 3>&- >"$W/bk.out" 2>&1 &
bk=$!
at_exit "kill -KILL $bk 2>/dev/null"
for ((i = 0; i < 300 && $(objects writers) == 0; i++)); do sleep 0.1; done
[ "$(objects writers)" = 1 ] || die "the backup put no session"
# (writers/ is the running backup's: it may still put its session again)
fingerprint "$REPO" "$CAIRN_KEY_STORE" | grep -v 'writers/' >"$W/fp-before"
expect_exit 1 cairn erase --path "$src/keep/big"
grep -q 'runs now: an erasure runs alone; nothing was changed, run it again when that one ends' "$W/err" ||
        fail "erase beside a backup: $(cat "$W/err")"
fingerprint "$REPO" "$CAIRN_KEY_STORE" | grep -v 'writers/' >"$W/fp-after"
diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "erase refused beside a backup but changed something"
echo streamed >&3
exec 3>&-
wait "$bk" || die "the backup beside the refused erasure failed: $(cat "$W/bk.out")"
expect_exit 0 cairn erase --path "$src/home/bob/b"
one_epoch "erasure after the backup ended"

if command -v strace >/dev/null && strace -f -o /dev/null true 2>/dev/null; then
        note "a backup refuses while an erasure runs (its session); runs once it ends"
        # The erasure stopped (SIGSTOP) at its main thread's first deletion
        # (the .tmp- name of its request), its session live. Without -f:
        # strace counts per thread, and another thread would stop it again.
        ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" strace -o /dev/null \
                -e trace=unlink,unlinkat -e inject=unlink,unlinkat:signal=STOP:when=1 \
                "$CAIRN" -r "$REPO" erase --path "$src/keep/big" >"$W/er.out" 2>&1 &
        st=$!
        at_exit "kill -KILL $st 2>/dev/null"
        er=
        for ((i = 0; i < 300 && $(objects erasures) == 0; i++)); do sleep 0.1; done
        er=$(pgrep -P "$st" || true)
        # its request is put: it is a few calls before the stop, or stopped
        for ((i = 0; i < 300; i++)); do
                [ "$(cut -d' ' -f3 "/proc/$er/stat" 2>/dev/null)" = t ] && sleep 0.3 &&
                        [ "$(cut -d' ' -f3 "/proc/$er/stat" 2>/dev/null)" = t ] && break
                sleep 0.1
        done
        [ "$(cut -d' ' -f3 "/proc/$er/stat" 2>/dev/null)" = t ] && [ "$(objects erasures)" = 1 ] ||
                die "the erasure did not stop at its first deletion, after it put its request (pid '$er', state $(cut -d' ' -f3 "/proc/$er/stat" 2>&1), $(objects erasures) requests)"
        at_exit "kill -KILL $er 2>/dev/null"
        expect_exit 1 cairn backup "$src/keep"
        grep -q "an erasure of controller default runs now, and no backup of it starts while it runs" "$W/err" ||
                fail "backup beside an erasure: $(cat "$W/err")"
        [ "$(objects writers)" = 1 ] || fail "the refused backup left its session"
        kill -CONT "$er"
        wait "$st" || fail "the erasure stopped and continued failed: $(cat "$W/er.out")"
        expect_exit 0 cairn backup "$src/keep"
        one_epoch "erasure that a backup waited for"

        note "--dry-run writes nothing in the middle of an epoch change either"
        rand_file "$src/keep/k4" 4000
        expect_exit 0 cairn backup "$src/keep"
        cp -a -- "$REPO" "$W/mid"
        cp -a -- "$CAIRN_KEY_STORE" "$W/mid-ks"
        for ((n = 1; n < 100; n++)); do
                rm -rf -- "$REPO" "$CAIRN_KEY_STORE"
                cp -a -- "$W/mid" "$REPO"
                cp -a -- "$W/mid-ks" "$CAIRN_KEY_STORE"
                rc=0
                ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}detect_leaks=0" strace -f -o /dev/null \
                        -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:signal=KILL:when=$n \
                        "$CAIRN" -r "$REPO" erase --path "$src/keep/k4" >/dev/null 2>&1 || rc=$?
                [ "$rc" = 137 ] || die "no kill point leaves two keys in the key store (erase exited $rc at N=$n)"
                [ "$(ks_keys)" = 2 ] && break
        done
        note "killed at rename $n: two keys, records at epoch $(record_epoch)"
        fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-before"
        expect_exit 0 cairn erase --path "$src/keep/k4" --dry-run --json
        expect_exit 0 cairn erase --path "$src/keep" --dry-run
        expect_exit 0 cairn check
        fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-after"
        diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "erase --dry-run changed a repository left in mid-epoch change"
        expect_exit 0 cairn erase --path "$src/keep/k4"
        one_epoch "erasure after the killed one"
else
        note "no strace (or ptrace not allowed): erasure beside a backup and mid-epoch dry run not checked"
fi

note "a hold defers its snapshot: exit 3, listed, restricted, certificate 'deferred'; its release finishes it"
rand_file "$src/keep/h" 20000
expect_exit 0 cairn backup "$src/keep"
rand_file "$src/keep/h2" 20000
expect_exit 0 cairn backup "$src/keep"
read -r -a ids <<<"$(snapshot_ids)"
held=${ids[${#ids[@]} - 2]}
expect_exit 0 cairn hold add --snapshot "${held:0:12}" --reason "litigation"
hold=$(cat "$W/out")
fingerprint "$REPO" >"$W/fp-before"
expect_exit 3 cairn erase --path "$src/keep/h" --json
cp -- "$W/out" "$W/held.json"
[ "$(jget "$W/held.json" '[(d["hold"], d["snapshots"]) for d in j["deferred"]]')" = "[('$hold', ['$held'])]" ] ||
        fail "the deferred part is not the held snapshot under its hold: $(cat "$W/held.json")"
[ "$(jget "$W/held.json" '(j["counts"]["snapshots_rewritten"], j["cryptographically_complete"])')" = "(1, False)" ] ||
        fail "a deferred erasure's report: $(cat "$W/held.json")"
case " $(snapshot_ids) " in *" $held "*) ;; *) fail "the held snapshot ${held:0:8} was changed or removed" ;; esac
expect_exit 1 cairn ls "$held"
grep -q 'it is restricted' "$W/err" || fail "ls of the held snapshot the request reaches: $(cat "$W/err")"
expect_exit 0 cairn ls --break-glass "test: the held snapshot is unchanged" "$held"
grep -q "^$src/keep/h$" "$W/out" || fail "the held snapshot lost keep/h"
expect_exit 0 cairn ls latest
! grep -q "^$src/keep/h$" "$W/out" || fail "the snapshot not held still has keep/h"
expect_exit 0 cairn certificate show "$(jget "$W/held.json" 'j["certificate"]')" -o "$W/cert.json"
[ "$(jget "$W/cert.json" '(j["certificate"]["status"], j["certificate"]["cryptographically_complete_at"])')" = "('deferred', None)" ] ||
        fail "the certificate of a deferred erasure: $(cat "$W/cert.json")"
expect_exit 0 "$CAIRN" certificate verify "$W/cert.json" --processor-key "$pub"
[ "$(objects erasures)" = 1 ] || fail "$(objects erasures) requests after a deferred erasure, not 1"
expect_exit 3 cairn erase --path "$src/keep/h"
[ "$(objects erasures)" = 1 ] || fail "$(objects erasures) requests after the same deferred erasure twice, not 1"
# the release carries the deferred erasure out; the same erase then finds nothing
expect_exit 0 cairn hold release "${hold:0:12}" --reason "case closed"
[ "$(objects erasures)" = 0 ] || fail "$(objects erasures) requests after the hold's release, not 0"
expect_exit 0 cairn erase --path "$src/keep/h" --json
[ "$(jget "$W/out" '(j["counts"]["entries_erased"], j["deferred"])')" = "(0, [])" ] ||
        fail "the erasure after the release: $(cat "$W/out")"
for id in $(snapshot_ids); do
        expect_exit 0 cairn ls "$id"
        ! grep -q "^$src/keep/h$" "$W/out" || fail "snapshot ${id:0:8} still has keep/h after the release"
done
one_epoch "erasure after the release"

note "epochs one after another, then a backup dedups against what survived and restores"
e0=$(record_epoch)
expect_exit 0 cairn erase --path "$src/keep/h2" --json
[ "$(jget "$W/out" '(j["epoch_from"], j["epoch_to"])')" = "($e0, $((e0 + 1)))" ] || fail "epochs: $(cat "$W/out")"
expect_exit 0 cairn erase --path "$src/keep/k4" --json
[ "$(jget "$W/out" '(j["epoch_from"], j["epoch_to"])')" = "($((e0 + 1)), $((e0 + 2)))" ] || fail "epochs: $(cat "$W/out")"
[ "$(record_epoch)" = $((e0 + 2)) ] || fail "the record is at epoch $(record_epoch), not $((e0 + 2))"
one_epoch "erasures one after another"
rm -rf -- "${src:?}/secret" "${src:?}/home" "$src/keep/h" "$src/keep/h2" "$src/keep/k4"
expect_exit 0 cairn backup --json "$src"
new=$(json_num stored_bytes_new "$W/out")
[ "$new" -lt 50000 ] || fail "a backup after the erasures stored $new new bytes of ~1.6 MB that survived"
note "the backup after the erasures stored $new new bytes"
rm -rf -- "$W/rs"
expect_exit 0 cairn restore "latest:$src" --target "$W/rs"
same_tree "$src" "$W/rs" || fail "the backup after the erasures does not restore to its source"
expect_exit 0 cairn check --read-data

note "bad input is refused, nothing changed"
# a prefix two snapshots share (16 first digits: 17 snapshots share one)
for ((i = 0; i < 17; i++)); do
        dup=$(cairn snapshots --json | python3 -c 'import collections, json, sys
c = collections.Counter(s["id"][0] for s in json.load(sys.stdin))
print(next((d for d, k in c.items() if k > 1), ""))')
        [ -z "$dup" ] || break
        expect_exit 0 cairn backup "$src/keep"
done
[ -n "$dup" ] || die "no two snapshots share a first digit"
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-before"
bad() {
        local code=$1 msg=$2
        shift 2
        check_exit "$code" cairn erase "$@" || return
        grep -q -F -e "$msg" "$W/err" || fail "erase $*: no '$msg' in: $(cat "$W/err")"
}
bad 1 "no snapshot ffffffff" --snapshot ffffffff
bad 1 "ambiguous: " --snapshot "$dup"
bad 1 "is not a snapshot" --snapshot zz
bad 1 "is not a snapshot" --snapshot ''
bad 2 "absolute pattern" --path relative/x
bad 2 "absolute pattern" --path ''
bad 2 "an empty, '.' or '..' component matches no path" --path "$src//keep"
bad 2 "an empty, '.' or '..' component matches no path" --path "$src/./keep"
bad 2 "an empty, '.' or '..' component matches no path" --path "$src/keep/.."
bad 2 "without '/'" --subject a/b
bad 2 "without '/'" --subject ''
bad 2 "without '/'" --subject "$(head -c 257 /dev/zero | tr '\0' s)"
bad 2 "give one of" --path /x --subject y
bad 2 "give one of" --snapshot "$dup" --path /x
bad 2 "without control characters" --path /x --reason $'two\nlines'
bad 2 "without control characters" --path /x --reference $'\x1b[31m'
bad 2 "without control characters" --path /x --reason $'\xff\xfe'
bad 2 "without control characters" --path /x --reason "$(head -c 4097 /dev/zero | tr '\0' r)"
bad 2 "erase what?"
bad 2 "takes no arguments" --path /x extra
bad 1 "no controller 'nosuch'" --controller nosuch
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-after"
diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "a refused erase changed the repository or the key store"

note "with two controllers: --controller restricts --snapshot, 'latest' and the other scopes need one"
expect_exit 0 cairn controller add other
expect_exit 0 cairn --controller other backup --json "$src/keep"
theirs=$(grep -o '"snapshot":"[0-9a-f]*"' "$W/out" | cut -d'"' -f4)
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-before"
bad 1 "no snapshot ${theirs:0:16}" --controller default --snapshot "${theirs:0:16}" --dry-run
bad 2 "'latest' means the newest snapshot of one of them" --snapshot latest --dry-run
bad 2 "and an erasure is of one of them: say which with --controller" --path "$src/keep" --dry-run
fingerprint "$REPO" "$CAIRN_KEY_STORE" >"$W/fp-after"
diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "a refused erase changed the repository or the key store"
expect_exit 0 cairn --controller other erase --snapshot latest --json
[ "$(jget "$W/out" '(j["snapshots"], j["counts"]["snapshots_deleted"])')" = "(['$theirs'], 1)" ] ||
        fail "--controller other erase --snapshot latest: $(cat "$W/out")"

note "a data subject: --dry-run says what the erasure does; a snapshot of the subject's directory alone goes whole"
REPO=$W/subject
expect_exit 0 cairn init
ctl=$(basename -- "$REPO"/controllers/*)
h=$src/people
mkdir -p "$h/alice/docs" "$h/bob"
rand_file "$h/alice/docs/a" 3000
rand_file "$h/bob/b" 3000
expect_exit 0 cairn backup --subject-rule "$h/{subject}/**" "$h/alice/docs"
expect_exit 0 cairn backup --subject-rule "$h/{subject}/**" "$h"
expect_exit 0 cairn erase --subject alice --dry-run --json
cp -- "$W/out" "$W/dry.json"
expect_exit 0 cairn erase --subject alice --json
same_counts "$W/dry.json" "$W/out" snapshots snapshots_deleted snapshots_rewritten entries_erased bytes_erased \
        chunks_destroyed chunks_kept chunks_reached ||
        fail "erase --subject: the dry run and the erasure report differ: $(cat "$W/dry.json") / $(cat "$W/out")"
[ "$(jget "$W/out" '(j["counts"]["snapshots_deleted"], j["counts"]["snapshots_rewritten"])')" = "(1, 1)" ] ||
        fail "erase --subject alice: $(cat "$W/out")"
expect_exit 0 cairn snapshots --json
! grep -q alice "$W/out" || fail "a snapshot still names alice: $(cat "$W/out")"
one_epoch "erasure of a subject"

note "--path / deferred by a hold: the held snapshot is restricted, the others go"
expect_exit 0 cairn backup "$h"
expect_exit 0 cairn hold add --snapshot latest --reason "litigation"
expect_exit 3 cairn erase --path / --json
[ "$(jget "$W/out" '(j["counts"]["snapshots_deleted"], len(j["deferred"]))')" = "(1, 1)" ] ||
        fail "erase --path / beside a hold: $(cat "$W/out")"
expect_exit 1 cairn ls latest
grep -q 'it is restricted; read it only for a stated purpose, with --break-glass' "$W/err" ||
        fail "ls of a snapshot a deferred '--path /' reaches: $(cat "$W/err")"

note "a version 1 controller is refused, nothing changed"
REPO=$W/v1
cp -a -- "$SRCDIR/tests/vectors/repo-v1" "$REPO"
export CAIRN_KEY_STORE=$W/v1-ks
fingerprint "$REPO" >"$W/fp-before"
for args in "--path /tmp/cairn-vector-v1/vector/sub" "--controller vector-controller" "--snapshot latest" \
        "--subject s --dry-run"; do
        # shellcheck disable=SC2086 # words
        check_exit 1 env CAIRN_PASSWORD=cairn-vector "$CAIRN" -r "$REPO" erase $args || continue
        grep -q 'is of format version 1: its keys are in the repository' "$W/err" ||
                fail "erase $args of a version 1 controller: $(cat "$W/err")"
done
fingerprint "$REPO" >"$W/fp-after"
diff -- "$W/fp-before" "$W/fp-after" >&2 || fail "a refused erase changed the version 1 repository"
[ ! -e "$CAIRN_KEY_STORE" ] || fail "a refused erase of a version 1 controller made a key store"
