#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Key files: key add (password from CAIRN_NEW_PASSWORD or a file) makes a
# second way in; key list shows both, the current one marked; key passwd
# changes the current key's password (the old one then gets exit 12, the
# other key still works); removing the key one is using is refused, removing
# another works and its password stops opening the repository.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname -- "$0")/lib.sh"

pw1=$CAIRN_PASSWORD
pw2="second password $$"
pw3="third password $$"
pw4="fourth from a file"

mkdir -p "$W/src"
printf 'data\n' >"$W/src/f"
expect_exit 0 cairn init
expect_exit 0 cairn backup "$W/src"

# key add with CAIRN_NEW_PASSWORD
expect_exit 0 env CAIRN_NEW_PASSWORD="$pw2" "$CAIRN" -r "$REPO" key add --label second
expect_exit 0 env CAIRN_PASSWORD="$pw2" "$CAIRN" -r "$REPO" snapshots --json
[ "$(count_json short_id "$W/out")" = 1 ] || fail "the added key does not see the snapshot: $(cat "$W/out")"
expect_exit 0 env CAIRN_PASSWORD="$pw2" "$CAIRN" -r "$REPO" dump latest "$W/src/f"
[ "$(cat "$W/out")" = data ] || fail "dump with the added key gave '$(cat "$W/out")'"

expect_exit 0 cairn key list --json
[ "$(count_json created "$W/out")" = 2 ] || fail "key list shows $(count_json created "$W/out") keys, expected 2: $(cat "$W/out")"
[ "$(grep -o '"current":true' "$W/out" | wc -l)" = 1 ] || fail "key list must mark exactly one key current: $(cat "$W/out")"
grep -q '"label":"second"' "$W/out" || fail "the --label is not in key list: $(cat "$W/out")"
cp -- "$W/out" "$W/keys.json"
# The ids, and which one password 1 opens.
id_cur=$(grep -o '"id":"[0-9a-f]*","created":[0-9]*,"current":true' "$W/keys.json" | cut -d'"' -f4)
id_other=$(grep -o '"id":"[0-9a-f]*","created":[0-9]*,"current":false' "$W/keys.json" | cut -d'"' -f4)
if [ -z "$id_cur" ] || [ -z "$id_other" ]; then
        die "cannot read the key ids from: $(cat "$W/keys.json")"
fi
expect_exit 0 cairn key list
grep -q "^\\* *$id_cur" "$W/out" || fail "key list (text) does not star the current key: $(cat "$W/out")"

# The current key cannot be removed.
if check_exit 1 cairn key remove "$id_cur"; then
        [ "$(wc -l <"$W/err")" = 1 ] || fail "refusal to remove the current key: more than one line: $(cat "$W/err")"
fi
expect_exit 0 cairn snapshots

# key passwd: password 1 becomes password 3.
expect_exit 0 env CAIRN_NEW_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key passwd
expect_exit 12 env CAIRN_PASSWORD="$pw1" "$CAIRN" -r "$REPO" snapshots
[ "$(wc -l <"$W/err")" = 1 ] || fail "wrong password: more than one line on stderr: $(cat "$W/err")"
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" snapshots
expect_exit 0 env CAIRN_PASSWORD="$pw2" "$CAIRN" -r "$REPO" snapshots
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key list --json
[ "$(count_json created "$W/out")" = 2 ] || fail "key passwd changed the number of keys: $(cat "$W/out")"

# With password 3, remove the other key (password 2): it stops working.
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key remove "$id_other"
expect_exit 12 env CAIRN_PASSWORD="$pw2" "$CAIRN" -r "$REPO" snapshots
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key list --json
[ "$(count_json created "$W/out")" = 1 ] || fail "after key remove: $(cat "$W/out")"
# An unknown id is an error.
check_exit 1 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key remove 00000000000000000000000000000000 || true

# A new password from a file (first line only), and the password from a file.
printf '%s\nignored second line\n' "$pw4" >"$W/pw4"
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key add --new-password-file "$W/pw4"
expect_exit 0 env -u CAIRN_PASSWORD "$CAIRN" -r "$REPO" --password-file "$W/pw4" snapshots
expect_exit 0 env -u CAIRN_PASSWORD CAIRN_PASSWORD_FILE="$W/pw4" "$CAIRN" -r "$REPO" snapshots

# Empty new passwords are refused; no terminal and no password is a usage error.
check_exit 2 env CAIRN_PASSWORD="$pw3" CAIRN_NEW_PASSWORD= "$CAIRN" -r "$REPO" key add || true
check_exit 2 env -u CAIRN_PASSWORD setsid -w "$CAIRN" -r "$REPO" snapshots </dev/null || true
expect_exit 0 env CAIRN_PASSWORD="$pw3" "$CAIRN" -r "$REPO" key list --json
[ "$(count_json created "$W/out")" = 2 ] || fail "expected 2 keys at the end: $(cat "$W/out")"
note "done"
