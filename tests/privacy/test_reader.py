#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of cairn_reader.py itself (suite privacy, test privacy-reader):

1. it opens the golden version 1 repository tests/vectors/repo-v1 whole;
2. on a version 2 repository written here from docs/FORMAT.md (key store,
   epoch keys, per-pack keys, a ledger of two packs, an index file and a
   pack read from its header, a snapshot of version 3 with its keyed id, a
   tree list), then "erased" as FORMAT.md "Erasure" says (epoch 1 -> 2, the
   pack of the erased chunk deleted, ledger, record and snapshot sealed again
   under epoch 2, the key of epoch 1 removed from the key store), it finds
   everything before, nothing erased after (repository + old copy + new key
   store), and everything again from the old copy with the old key store.

The writer below is this reader's own reading of the spec: it proves the
reader's version 2 paths run and agree with each other, not that cairn
writes the same bytes (tests/privacy/erasure.sh checks that, on what cairn
writes). Exit 0 pass, 1 fail, 77 skip.
"""

import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
try:
        import cairn_reader as cr
        import nacl.bindings as sodium
        import nacl.pwhash.argon2id as argon2id
        import zstandard
except ImportError as e:
        print(f"SKIP: {e}: install python3-nacl and python3-zstandard")
        sys.exit(77)

failures = []


def check(cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
                failures.append(what)


def b32(b):
        return struct.pack("<I", len(b)) + b


def seal(key, ad, pt):
        nonce = os.urandom(24)
        return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(pt, ad, nonce, key)


def envelope(magic, version, processor, ctrl, epoch, key, body):
        hdr = magic + struct.pack("<I", version) + processor + ctrl + struct.pack("<I", epoch)
        assert len(hdr) == 48
        return hdr + seal(key, hdr, body)


def put(root, rel, data):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
                f.write(data)


def tree_entry(typ, name, size=0, chunks=(), subtree=None):
        e = bytes([typ]) + b32(name) + struct.pack("<III", 0o644 if typ == 1 else 0o755, 0, 0)
        e += b32(b"root") + b32(b"root")
        e += struct.pack("<qI", 1700000000, 0) * 3
        e += struct.pack("<QQQQQQ", size, 1, 2, 1, 0, 0)
        e += b32(b"") + struct.pack("<I", 0) + b"\0" + struct.pack("<I", 0)
        e += struct.pack("<I", len(chunks)) + b"".join(chunks)
        if typ == 2:
                e += subtree
        e += struct.pack("<I", 0)             # fsflags (version 2)
        return struct.pack("<I", len(e)) + e


def tree(entries):
        return b"CAIRNTRE" + struct.pack("<II", 2, len(entries)) + b"".join(entries)


class Writer:
        """A version 2 repository of one controller, as FORMAT.md describes it."""

        def __init__(self, root, ks, password):
                self.root, self.ks = root, ks
                self.master, self.repo = os.urandom(32), os.urandom(16)
                self.proc, self.ctrl = os.urandom(16), os.urandom(16)
                self.dr = os.urandom(32)
                self.idkey = cr.kdf(self.dr, 1, b"cndomain")
                self.packs = {}                   # pack id -> (pack key, {blob id: data key})
                salt = os.urandom(16)
                head = b"CAIRNKEY" + struct.pack("<IIQQ", 1, 1, 1, 8192) + salt
                head += struct.pack("<q", 0) + b32(b"test@host")
                kek = argon2id.kdf(32, password, salt, opslimit=1, memlimit=8192)
                put(root, "keys/" + os.urandom(16).hex(), head + seal(kek, head, self.master + self.repo))
                cfg = self.repo + b32(b"proc") + bytes(96) + struct.pack("<q", 0)
                put(root, "config", envelope(b"CAIRNCFG", 1, self.proc, bytes(16), 0,
                                             cr.kdf(self.master, 1, b"cnmaster"), cfg))

        def keystore(self, keys):
                body = self.repo + struct.pack("<Q", 1) + struct.pack("<I", 1) + b32(self.ks.encode())
                body += struct.pack("<I", len(keys)) + b"".join(struct.pack("<I", e) + k for e, k in keys)
                put(self.ks, f"{self.repo.hex()}/{self.ctrl.hex()}",
                    envelope(b"CAIRNKST", 1, self.proc, self.ctrl, 0, cr.kdf(self.master, 3, b"cnmaster"), body))

        def record(self, epoch, ek):
                body = b32(b"v2-controller") + struct.pack("<q", 0) + self.dr + b"\x01"
                body += struct.pack("<III", 1 << 19, 1 << 20, 1 << 23) + b"\x01"
                put(self.root, "controllers/" + self.ctrl.hex(),
                    envelope(b"CAIRNCTL", 2, self.proc, self.ctrl, epoch, cr.kdf(ek, 1, b"cnepoch_"), body))

        def blob_id(self, pt):
                return hmac.new(self.idkey, pt, hashlib.sha256).digest()

        def pack(self, blobs, index=True):
                """blobs: [(type, plaintext)]; returns the pack id."""
                pid, pk = os.urandom(32), os.urandom(32)
                pre = b"CAIRNPAK" + struct.pack("<I", 2) + self.proc + self.ctrl
                data, entries, keys = pre, [], {}
                for typ, pt in blobs:
                        bid, dk = self.blob_id(pt), os.urandom(32)
                        comp = zstandard.ZstdCompressor(level=3).compress(pt)
                        flags, payload = (1, comp) if len(comp) < len(pt) else (0, pt)
                        ad = b"cairn.chunk.v1\0\0" + self.proc + self.ctrl + bid + bytes([typ])
                        sealed = seal(dk, ad, payload)
                        entries.append(bid + bytes([typ, flags]) + struct.pack("<III", len(data), len(sealed), len(pt)))
                        data += sealed
                        keys[bid] = dk
                ents = struct.pack("<I", len(entries)) + b"".join(entries)
                hdr_ad = b"CAIRNPKH" + struct.pack("<I", 2) + self.proc + self.ctrl + pid
                hdr = seal(pk, hdr_ad, ents)
                data += hdr + struct.pack("<I", len(hdr)) + b"CNPKEND1"
                put(self.root, f"data/{self.ctrl.hex()}/{pid.hex()[:2]}/{pid.hex()}", data)
                if index:
                        put(self.root, f"index/{self.ctrl.hex()}/{pid.hex()}",
                            envelope(b"CAIRNIDX", 2, self.proc, self.ctrl, 0, pk, pid + ents))
                self.packs[pid] = (pk, keys)
                return pid

        def ledger(self, epoch, ek, pids):
                body = struct.pack("<I", len(pids))
                for pid in sorted(pids):
                        pk, keys = self.packs[pid]
                        body += pid + pk + struct.pack("<I", len(keys))
                        body += b"".join(bid + dk for bid, dk in keys.items())
                obj = envelope(b"CAIRNLDG", 2, self.proc, self.ctrl, epoch, cr.kdf(ek, 2, b"cnepoch_"), body)
                name = f"ledger/{self.ctrl.hex()}/{hashlib.sha256(obj).hexdigest()}"
                put(self.root, name, obj)
                return name

        def snapshot(self, epoch, ek, root_tree, t, path=b"/src"):
                body = struct.pack("<qI", t, 0) + b32(b"host") + b32(b"user")
                body += struct.pack("<I", 1) + b32(path) + struct.pack("<I", 0)
                body += root_tree + b"\0" + bytes(32) + struct.pack("<I", 0)
                body += struct.pack("<7Q", 1, 1, 0, 1, 1, 1, 1) + struct.pack("<I", 0)
                sid = hmac.new(self.idkey, b"cairn.snapshot.v3" + body, hashlib.sha256).hexdigest()
                put(self.root, f"snapshots/{self.ctrl.hex()}/{sid}",
                    envelope(b"CAIRNSNP", 3, self.proc, self.ctrl, epoch, cr.kdf(ek, 3, b"cnepoch_"), body))
                return sid


def run_reader(*args):
        with tempfile.TemporaryDirectory() as d:
                r = subprocess.run([sys.executable, os.path.join(HERE, "cairn_reader.py"), "--dump", d] + list(args),
                                   capture_output=True, env=dict(os.environ, CAIRN_PASSWORD="pw"))
                if r.returncode != 0:
                        print(r.stderr.decode())
                        return None, b""
                dump = b""
                for sub, _, fs in os.walk(d):
                        for f in sorted(fs):
                                with open(os.path.join(sub, f), "rb") as fh:
                                        dump += fh.read() + b"\n"
                return json.loads(r.stdout), dump


def main():
        w = tempfile.mkdtemp(prefix="cairn-reader-test.")
        try:
                return test(w)
        finally:
                shutil.rmtree(w)


def test(w):
        # 1. the golden version 1 repository
        env = dict(os.environ, CAIRN_PASSWORD="cairn-vector")
        r = subprocess.run([sys.executable, os.path.join(HERE, "cairn_reader.py"), "--list-paths",
                            os.path.join(HERE, "..", "vectors", "repo-v1")], capture_output=True, env=env)
        paths = r.stdout.decode().split("\n")
        check("/tmp/cairn-vector-v1/vector/sub/zeros" in paths and "/tmp/cairn-vector-v1/vector/link" in paths,
              "golden v1 repository: every path found")

        # 2. a version 2 repository
        repo, ks = os.path.join(w, "repo"), os.path.join(w, "ks")
        wr = Writer(repo, ks, b"pw")
        ek1 = os.urandom(32)
        wr.keystore([(1, ek1)])
        wr.record(1, ek1)
        keep = b"KEEP-" + os.urandom(8).hex().encode() + os.urandom(3000)
        gone = b"GONE-" + os.urandom(8).hex().encode() + b"x" * 5000      # compressible
        kid, gid = wr.blob_id(keep), wr.blob_id(gone)
        leaf1 = tree([tree_entry(1, b"a-keep", len(keep), [kid])])
        leaf2 = tree([tree_entry(1, b"z-gone-name", len(gone), [gid])])
        lst = b"CAIRNTRL" + struct.pack("<II", 1, 2) + wr.blob_id(leaf1) + wr.blob_id(leaf2)
        root1 = tree([tree_entry(2, b"src", subtree=wr.blob_id(lst))])
        root2 = tree([tree_entry(2, b"src", subtree=wr.blob_id(leaf1))])
        pa = wr.pack([(1, keep), (2, leaf1), (2, root2)])
        pb = wr.pack([(1, gone), (2, leaf2), (2, lst), (2, root1)], index=False)  # read from its header
        wr.ledger(1, ek1, [pa, pb])
        s_keep = wr.snapshot(1, ek1, wr.blob_id(root2), 1700000000)
        s_gone = wr.snapshot(1, ek1, wr.blob_id(root1), 1700000100)

        res, dump = run_reader(repo, "--key-store", ks)
        ids = {s["id"] for c in res["controllers"].values() for s in c["snapshots"]} if res else set()
        check(ids == {s_keep, s_gone}, "v2: both snapshots open, with their keyed ids")
        check(res is not None and res["reports"] == [], f"v2: no damage reported: {res and res['reports']}")
        check(keep in dump and gone in dump, "v2: both chunks open (ledger of two packs, index and header)")
        check(res is not None and any("/src/z-gone-name" in c["paths"] for c in res["controllers"].values()),
              "v2: a tree list's leaves are walked")
        res, dump = run_reader(repo)
        check(res is not None and gone not in dump and keep not in dump and res["opened"]["controller record"]["opened"] == 0,
              "v2: without the key store nothing of the controller opens")

        old, old_ks = os.path.join(w, "old"), os.path.join(w, "old-ks")
        shutil.copytree(repo, old)
        shutil.copytree(ks, old_ks)

        # the erasure of snapshot s_gone, as FORMAT.md "Erasure" describes it
        ek2 = os.urandom(32)
        os.remove(os.path.join(repo, "snapshots", wr.ctrl.hex(), s_gone))
        shutil.rmtree(os.path.join(repo, "data", wr.ctrl.hex(), pb.hex()[:2]))
        wr.keystore([(1, ek1), (2, ek2)])
        new_ledger = wr.ledger(2, ek2, [pa])
        wr.record(2, ek2)
        wr.snapshot(2, ek2, wr.blob_id(root2), 1700000000)
        for f in os.listdir(os.path.join(repo, "ledger", wr.ctrl.hex())):
                if f != os.path.basename(new_ledger):
                        os.remove(os.path.join(repo, "ledger", wr.ctrl.hex(), f))
        wr.keystore([(2, ek2)])

        res, dump = run_reader(repo, "--old", old, "--key-store", ks)
        paths = [p for c in (res or {}).get("controllers", {}).values() for p in c["paths"]]
        check(res is not None and keep in dump, "after: the kept chunk still opens")
        check(gone not in dump, "after: the erased chunk does not open from repository + old copy + key store")
        check(not any(b"z-gone-name" in p.encode() for p in paths) and b"z-gone-name" not in dump,
              "after: the erased name is found nowhere")
        res, dump = run_reader(old, "--key-store", old_ks)
        check(gone in dump and res is not None and any("/src/z-gone-name" in c["paths"]
                                                       for c in res["controllers"].values()),
              "negative control: the old copy and the old key store give it all back")
        print(f"{len(failures)} failed")
        return 1 if failures else 0


if __name__ == "__main__":
        sys.exit(main())
