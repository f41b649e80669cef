#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent verifier of cairn erasure certificates, written from
docs/FORMAT.md "Certificates" and docs/certificate.schema.json alone (it
shares no code with cairn): tests/cli/certificate.sh checks that it and
'cairn certificate verify' agree.

    verify-certificate.py FILE PUBLIC_KEY_HEX SCHEMA

Needs PyNaCl and jsonschema (Debian: python3-nacl, python3-jsonschema).
Exit 0 and "valid" when the file is a valid certificate signed by the key,
1 and the reason when not."""
import datetime
import hashlib
import json
import re
import sys

import jsonschema
import nacl.exceptions
import nacl.signing

DOMAIN = b"cairn.erasure-certificate.v1\n"


def canonical(value):
    """Sorted keys, no whitespace, ASCII only, \\uXXXX escapes in upper case."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return re.sub(r"\\\\|\\u[0-9a-f]{4}",
                  lambda m: m.group(0) if m.group(0) == "\\\\" else "\\u" + m.group(0)[2:].upper(),
                  text).encode("ascii")


def fail(why):
    print("invalid: " + why)
    sys.exit(1)


def main():
    path, key_hex, schema_path = sys.argv[1:4]
    data = open(path, "rb").read()
    if len(data) > 16 << 20:
        fail("larger than 16 MiB")

    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        if len(keys) != len(set(keys)):
            raise ValueError("duplicate member")
        return dict(pairs)

    try:
        doc = json.loads(data.decode("ascii"), object_pairs_hook=no_duplicates,
                         parse_float=lambda s: fail("a number that is not an integer"))
    except (UnicodeDecodeError, ValueError) as e:
        fail("not JSON: %s" % e)
    if canonical(doc) + b"\n" != data:
        fail("not in canonical form")
    try:
        jsonschema.validate(doc, json.load(open(schema_path)))
    except jsonschema.ValidationError as e:
        fail("schema: %s" % e.message)
    cert, sig = doc["certificate"], doc["signature"]
    def strings(v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, dict):
            for x in v.values():
                yield from strings(x)
        elif isinstance(v, list):
            for x in v:
                yield from strings(x)
    if any(ord(ch) < 0x20 or ord(ch) == 0x7f for s in strings(cert) for ch in s):
        fail("a control character")
    times = [cert["started_at"], cert["completed_at"], cert["request"]["requested_at"]]
    times += [cert["cryptographically_complete_at"]] if cert["cryptographically_complete_at"] else []
    for t in times:
        try:
            if datetime.datetime.strptime(t, "%Y-%m-%dT%H:%M:%SZ").year < 1970:
                fail("a time before 1970")
        except ValueError:
            fail("not a time: " + t)
    status = cert["status"]
    all_done = all(loc["status"] == "done" for loc in cert["locations"])
    if status == "complete" and not (cert["cryptographically_complete_at"] and all_done and not cert["deferred"]):
        fail("complete, but not everything is done")
    if status == "partial" and (cert["cryptographically_complete_at"] is not None or all_done):
        fail("partial, but nothing is missing")
    if status == "deferred" and not cert["deferred"]:
        fail("deferred, but no deferred part")

    blank = dict(cert, id="")
    if hashlib.sha256(canonical(blank)).hexdigest() != cert["id"]:
        fail("the id is not the SHA-256 of the content")
    if sig["public_key"] != key_hex.lower() or cert["processor"]["public_key"] != key_hex.lower():
        fail("another key")
    try:
        nacl.signing.VerifyKey(bytes.fromhex(key_hex)).verify(DOMAIN + canonical(cert), bytes.fromhex(sig["value"]))
    except nacl.exceptions.BadSignatureError:
        fail("the signature does not match")
    print("valid: certificate %s (%s, %s)" % (cert["id"], cert["request"]["scope"], status))


if __name__ == "__main__":
    main()
