#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Read every audit log of a repository from docs/FORMAT.md "Audit log"
alone and compare it with what cairn says.

    audit-format.py REPO KEYSTORE SHOW_DIR [CHECKPOINT...]

SHOW_DIR holds <ctrl>.json, the output of `cairn --controller <ctrl> audit
show --json` for each controller whose log is read. Only the master key
and the controllers' domain roots come from tests/privacy/cairn_reader.py
(key files, key store and controller records, their own sections of
FORMAT.md); the envelopes, bodies, chain, pseudonyms and checkpoints are
decoded here, byte by byte, as FORMAT.md says. Prints what differs and
exits 1, or exits 0; 77 without PyNaCl.
"""
import datetime
import hashlib
import hmac
import json
import os
import socket
import pwd
import struct
import sys

sys.path.insert(0, os.path.join(os.environ.get("SRCDIR", "."), "tests/privacy"))
import cairn_reader as cr  # noqa: E402  (exits 77 without PyNaCl/zstandard)
import nacl.signing  # noqa: E402

KINDS = {1: "init", 2: "backup", 3: "restore", 4: "dump", 5: "export", 6: "copy", 7: "forget", 8: "prune",
         9: "erasure", 10: "hold", 11: "release", 12: "break-glass", 13: "key", 14: "location", 15: "request",
         16: "retention"}
OUTCOMES = {0: "ok", 1: "failed", 2: "refused", 3: "partial"}
TAGS = {1: "host", 2: "user", 3: "path", 4: "subject", 5: "text", 6: "url", 7: "name", 32: "snapshot", 33: "hold",
        34: "certificate", 35: "request", 36: "digest", 64: "files", 65: "bytes", 66: "snapshots", 67: "epoch",
        96: "action", 97: "scope", 98: "location", 99: "provider", 100: "region", 101: "kind"}
MAX_ENTRY = 48 + 24 + 51 + 64 * 257 + 16
errors = []


def bad(msg):
        errors.append(msg)


def field_type(tag):
        return ("pseudonym", 32) if 1 <= tag <= 31 else ("id", 32) if 32 <= tag <= 63 else \
                ("u64", 8) if 64 <= tag <= 95 else ("text", None) if 96 <= tag <= 127 else (None, None)


def decode(body):
        """entry = seq:u64 prev[32] time:i64 kind:u8 outcome:u8 count:u8 field*count"""
        if len(body) < 51:
                raise ValueError("shorter than the fixed part")
        seq, prev, t, kind, outcome, count = struct.unpack("<Q32sqBBB", body[:51])
        if kind == 0 or count > 64:
                raise ValueError(f"kind {kind}, count {count}")
        p, fields = 51, []
        for _ in range(count):
                if p + 2 > len(body):
                        raise ValueError("field header cut")
                tag, ln = body[p], body[p + 1]
                typ, want = field_type(tag)
                if typ is None or (want is not None and ln != want) or (typ == "text" and not 1 <= ln <= 255):
                        raise ValueError(f"tag {tag} of {ln} bytes")
                v = body[p + 2:p + 2 + ln]
                if len(v) != ln:
                        raise ValueError("field cut")
                if typ == "text" and any(b < 0x20 or b > 0x7e for b in v):
                        raise ValueError("text byte outside 0x20-0x7e")
                fields.append((tag, typ, v))
                p += 2 + ln
        if p != len(body):
                raise ValueError("bytes after the last field")
        return dict(seq=seq, prev=prev, time=t, kind=kind, outcome=outcome, fields=fields)


def as_json(e, h):
        """The entry as docs/cli/audit.md says `audit show --json` prints it."""
        fields = {}
        for tag, typ, v in e["fields"]:
                x = struct.unpack("<Q", v)[0] if typ == "u64" else v.decode("ascii") if typ == "text" else v.hex()
                name = TAGS.get(tag, str(tag))
                if name not in fields:
                        fields[name] = x
                elif isinstance(fields[name], list):
                        fields[name].append(x)
                else:
                        fields[name] = [fields[name], x]
        t = datetime.datetime.fromtimestamp(e["time"], datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return dict(seq=e["seq"], time=t, kind=KINDS.get(e["kind"], e["kind"]),
                    outcome=OUTCOMES.get(e["outcome"], e["outcome"]), hash=h.hex(), prev=e["prev"].hex(),
                    fields=fields)


def canonical(v):
        s = json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        # FORMAT.md "Certificates": \u escapes in upper-case hex (none occur here)
        return s


def main():
        repo, keystore, show_dir, checkpoints = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
        rd = cr.Reader([("current", repo)], [keystore], [os.environb[b"CAIRN_PASSWORD"]])
        rd.open_key_files()
        rd.open_configs()
        rd.open_key_stores()
        rd.open_records()
        if len(rd.masters) != 1:
                print(f"{len(rd.masters)} master keys opened", file=sys.stderr)
                return 1
        master, repo_uuid = next(iter(rd.masters.items()))
        audit_key = cr.kdf(master, 4, b"cnmaster")
        cfg = open(os.path.join(repo, "config"), "rb").read()
        processor = cfg[12:28]
        _, cbody = cr.env_open(cfg, [cr.kdf(master, 1, b"cnmaster")])
        r = cr.Rd(cbody)
        r.take(16)
        r.b32(1 << 20)
        sign_public = r.take(32)
        pkeys = {}                      # ctrl hex -> pseudonym key
        for dr, ctrls in rd.domain_roots.items():
                for c in ctrls:
                        pkeys[c] = cr.kdf(dr, 4, b"cndomain")
        host = socket.gethostname().encode()
        user = pwd.getpwuid(os.geteuid()).pw_name.encode()
        heads = {}
        n_entries = 0
        for ctrl in sorted(os.listdir(os.path.join(repo, "audit"))):
                folder = os.path.join(repo, "audit", ctrl)
                names = sorted(n for n in os.listdir(folder) if len(n) == 16 and all(ch in "0123456789abcdef" for ch in n))
                prev, log = bytes(32), []
                for i, n in enumerate(names):
                        if n != f"{i:016x}":
                                bad(f"{ctrl}: entry {i} missing")
                                break
                        data = open(os.path.join(folder, n), "rb").read()
                        if len(data) > MAX_ENTRY:
                                bad(f"{ctrl}/{n}: {len(data)} bytes, over {MAX_ENTRY}")
                        magic, version, proc, c, epoch = struct.unpack("<8sI16s16sI", data[:48])
                        if (magic, version, proc, c.hex(), epoch) != (b"CAIRNAUD", 1, processor, ctrl, 0):
                                bad(f"{ctrl}/{n}: header {magic} {version} {proc.hex()} {c.hex()} {epoch}")
                        body = cr.aead_open(audit_key, data[48:72], data[72:], data[:48])
                        if body is None:
                                bad(f"{ctrl}/{n}: does not open under KDF(master, 4, cnmaster)")
                                break
                        e = decode(body)
                        if e["seq"] != i or e["prev"] != prev:
                                bad(f"{ctrl}/{n}: seq {e['seq']} or prev does not chain")
                        h = hashlib.sha256(data).digest()
                        log.append(as_json(e, h))
                        prev = h
                        n_entries += 1
                        # the acting host and user first, as pseudonyms (when the controller's key is known)
                        f = e["fields"]
                        if len(f) < 2 or f[0][0] != 1 or f[1][0] != 2:
                                bad(f"{ctrl}/{n}: does not start with host and user")
                        elif ctrl in pkeys:
                                pk = pkeys[ctrl]
                                if f[0][2] != hmac.new(pk, host, hashlib.sha256).digest():
                                        bad(f"{ctrl}/{n}: host is not HMAC-SHA-256(pseudonym key, {host})")
                                if f[1][2] != hmac.new(pk, user, hashlib.sha256).digest():
                                        bad(f"{ctrl}/{n}: user is not HMAC-SHA-256(pseudonym key, {user})")
                heads[ctrl] = (len(log), prev if log else bytes(32))
                shown = os.path.join(show_dir, ctrl + ".json")
                if os.path.exists(shown):
                        got = json.load(open(shown))
                        if got != log:
                                for a, b in zip(got, log):
                                        if a != b:
                                                bad(f"{ctrl}: audit show --json says {a}, FORMAT.md reads {b}")
                                                break
                                else:
                                        bad(f"{ctrl}: audit show --json has {len(got)} entries, FORMAT.md reads {len(log)}")
        for path in checkpoints:
                raw = open(path, "rb").read()
                doc = json.loads(raw)
                if raw != (canonical(doc) + "\n").encode():
                        bad(f"{path}: not canonical(document) and a newline")
                p, s = doc["checkpoint"], doc["signature"]
                if set(p) != {"format", "repository", "processor", "controller", "entries", "head", "time"} or \
                        set(s) != {"algorithm", "public_key", "value"}:
                        bad(f"{path}: members {sorted(p)} {sorted(s)}")
                msg = b"cairn.audit-checkpoint.v1\n" + canonical(p).encode()
                try:
                        nacl.signing.VerifyKey(sign_public).verify(msg, bytes.fromhex(s["value"]))
                except Exception:
                        bad(f"{path}: the signature does not verify with the config's sign_public")
                if s["public_key"] != sign_public.hex() or p["repository"] != repo_uuid.hex() or \
                        p["processor"] != processor.hex():
                        bad(f"{path}: public key, repository or processor is not this repository's")
                n, head = heads.get(p["controller"], (0, bytes(32)))
                if (p["entries"], p["head"]) != (n, head.hex()):
                        bad(f"{path}: vouches for {p['entries']} entries, head {p['head']}; the log has {n}, {head.hex()}")
        for m in errors:
                print(m, file=sys.stderr)
        print(f"{n_entries} entries in {len(heads)} logs read from FORMAT.md")
        return 1 if errors else 0


if __name__ == "__main__":
        sys.exit(main())
