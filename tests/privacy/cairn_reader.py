#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent reader of cairn repositories, written from docs/FORMAT.md
and docs/CRYPTO.md alone (it shares no code with cairn), for the erasure
tests (tests/privacy/erasure.sh).

It plays the attacker of docs/PRIVACY.md's guarantee: given the repository
as it is now, any number of raw copies of it taken earlier, the key store
locations that still exist and every password, it recovers everything that
any combination of them opens. It is exhaustive on purpose, not a faithful
reader: objects of every copy are mixed (an old ledger with a new key, an
old record with a live password), every key found anywhere is tried on
every object it could seal, and rules that a reader follows only to pick
the *current* state (current epoch, ledger name order, damage records) are
ignored.

    cairn_reader.py REPO [--old COPY]... [--key-store DIR]...
                    [--dump DIR] [--json FILE] [--list-paths]

The password comes from CAIRN_PASSWORD (and, one a line, from
--password-file). Output: a JSON report on stdout (or FILE): per
controller, the snapshots opened (id, time, host, paths), every path of
every tree that opened, counts of what opened and what did not; --dump
writes every decrypted data chunk as DIR/<chunk id> and every tree blob as
DIR/trees/<id>; --list-paths prints only the paths, one a line.

Needs Python 3 with PyNaCl and zstandard (Debian: python3-nacl,
python3-zstandard). Exit 0 when it ran (whatever it opened), 2 on usage.
"""

import argparse
import datetime
import hashlib
import hmac
import json
import os
import struct
import sys

try:
        import nacl.bindings as sodium
        import nacl.exceptions
        import nacl.pwhash.argon2id as argon2id
        import zstandard
except ImportError as e:  # pragma: no cover
        sys.stderr.write(f"cairn_reader: {e}: install python3-nacl and python3-zstandard\n")
        sys.exit(77)

# ---------------------------------------------------------------- primitives


def kdf(key, n, ctx):
        """libsodium's crypto_kdf_derive_from_key (crypto_kdf_blake2b): BLAKE2b
        of the empty message, keyed with `key`, salt = subkey id as u64 LE then
        8 zero bytes, personal = the 8-byte context then 8 zero bytes."""
        assert len(key) == 32 and len(ctx) == 8
        return hashlib.blake2b(b"", digest_size=32, key=key,
                               salt=struct.pack("<Q", n) + bytes(8),
                               person=ctx + bytes(8)).digest()


def aead_open(key, nonce, ct, ad):
        try:
                return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)
        except nacl.exceptions.CryptoError:
                return None


def hmac256(key, data):
        return hmac.new(key, data, hashlib.sha256).digest()


MAX_OBJECT = 256 << 20
MAX_RAW_CHUNK = 64 << 20
MAX_RAW_TREE = 256 << 20
ZERO32 = bytes(32)


class Damaged(Exception):
        pass


class Rd:
        """A bounded reader: every length is checked against what remains."""

        def __init__(self, b):
                self.b, self.p = b, 0

        def take(self, n):
                if n < 0 or n > len(self.b) - self.p:
                        raise Damaged(f"cut short: {n} bytes asked at {self.p} of {len(self.b)}")
                v = self.b[self.p:self.p + n]
                self.p += n
                return v

        def u8(self):
                return self.take(1)[0]

        def u32(self):
                return struct.unpack("<I", self.take(4))[0]

        def u64(self):
                return struct.unpack("<Q", self.take(8))[0]

        def i64(self):
                return struct.unpack("<q", self.take(8))[0]

        def b32(self, cap):
                n = self.u32()
                if n > cap:
                        raise Damaged(f"string of {n} bytes over its cap {cap}")
                return self.take(n)

        def count(self, cap, unit):
                n = self.u32()
                if n > cap or n * unit > len(self.b) - self.p:
                        raise Damaged(f"count {n} over its cap or the bytes left")
                return n

        def left(self):
                return len(self.b) - self.p

        def end(self):
                if self.p != len(self.b):
                        raise Damaged(f"{len(self.b) - self.p} bytes after the last field")


# ------------------------------------------------------------------- objects


class Obj:
        """One distinct stored object (by content): the names it had in the
        copies that hold it."""

        def __init__(self, rel, data):
                self.rel, self.data, self.where = rel, data, []

        @property
        def name(self):
                return os.path.basename(self.rel)


def walk_copy(root):
        for d, dirs, files in os.walk(root):
                dirs[:] = sorted(x for x in dirs if not x.startswith(".tmp-"))
                for f in sorted(files):
                        if f.startswith(".tmp-"):
                                continue
                        p = os.path.join(d, f)
                        if os.path.islink(p) or not os.path.isfile(p):
                                continue
                        yield os.path.relpath(p, root), p


def load_objects(copies):
        objs, seen = [], {}
        for label, root in copies:
                if not os.path.isdir(root):
                        continue
                for rel, p in walk_copy(root):
                        if os.path.getsize(p) > (1 << 30):
                                continue
                        with open(p, "rb") as f:
                                data = f.read()
                        k = (rel, hashlib.sha256(data).digest())
                        o = seen.get(k)
                        if o is None:
                                o = seen[k] = Obj(rel, data)
                                objs.append(o)
                        o.where.append(label)
        return objs


ENV_HDR = 48


def env_header(data):
        if len(data) < ENV_HDR + 24 + 16:
                return None
        magic, version = data[:8], struct.unpack("<I", data[8:12])[0]
        return dict(magic=magic, version=version, processor=data[12:28],
                    controller=data[28:44], epoch=struct.unpack("<I", data[44:48])[0])


def env_open(data, keys):
        """Try every key on an envelope; the first that opens wins."""
        hdr, nonce, ct = data[:ENV_HDR], data[ENV_HDR:ENV_HDR + 24], data[ENV_HDR + 24:]
        for k in keys:
                pt = aead_open(k, nonce, ct, hdr)
                if pt is not None:
                        return k, pt
        return None, None


# -------------------------------------------------------------------- reader


class Reader:
        def __init__(self, copies, keystores, passwords):
                self.copies = copies
                self.objs = load_objects(copies)
                self.ks_objs = load_objects([(f"keystore:{d}", d) for d in keystores])
                self.passwords = passwords
                self.reports = []
                self.masters = {}         # master -> repo_uuid
                self.processors = set()
                self.epoch_keys = {}      # epoch key -> set of (ctrl hex, epoch, source)
                self.ctrl = {}            # ctrl hex -> info
                self.domain_roots = {}    # domain root -> set of ctrl hex
                self.pack_keys = {}       # pack id -> set of keys
                self.data_keys = {}       # (pack id, blob id) -> set of keys
                self.data_keys_by_id = {}  # blob id -> set of keys
                self.blobs = {}           # blob id -> (type, plaintext)
                self.status = {}          # (kind, object) -> opened
                self.snapshots = []
                self.others = []          # (object, plaintext) of damage, holds, sessions...
                self.tree_cache = {}      # tree id -> (entries, ids of its blobs)
                self.audit = {}           # ctrl hex -> {seq: (entry, hash of stored bytes)}

        def report(self, what):
                self.reports.append(what)

        def tally(self, kind, ok, what):
                # per object (or blob): a pass run again with more keys recounts nothing
                self.status[(kind, what if isinstance(what, tuple) else id(what))] = ok

        def cinfo(self, ctrl):
                return self.ctrl.setdefault(ctrl, dict(names=set(), records=[], epochs=set()))

        def of_kind(self, top, magic=None):
                for o in self.objs:
                        if o.rel.split(os.sep)[0] != top:
                                continue
                        if magic is not None and o.data[:8] != magic:
                                continue
                        yield o

        # --- passwords to master keys (FORMAT.md "Key files")
        def open_key_files(self):
                tried = set()
                for o in self.of_kind("keys", b"CAIRNKEY"):
                        try:
                                r = Rd(o.data)
                                r.take(8)
                                version, kdf_alg = r.u32(), r.u32()
                                ops, mem = r.u64(), r.u64()
                                salt = r.take(16)
                                r.i64()
                                r.b32(4096)
                                ad = o.data[:r.p]
                                nonce = r.take(24)
                                ct = o.data[r.p:]
                                if version != 1 or kdf_alg != 1:
                                        raise Damaged(f"version {version} kdf {kdf_alg}")
                                if not (1 <= ops <= 16 and 8192 <= mem <= (1 << 30)):
                                        raise Damaged(f"Argon2 cost {ops} x {mem} outside the caps")
                                if len(ct) != 48 + 16:
                                        raise Damaged("sealed part is not 48 bytes")
                        except Damaged as e:
                                self.report(f"key file {o.rel}: {e}")
                                self.tally("key file", False, o)
                                continue
                        ok = False
                        for pw in self.passwords:
                                k = (o.data, pw)
                                if k in tried:
                                        continue
                                tried.add(k)
                                kek = argon2id.kdf(32, pw, salt, opslimit=ops, memlimit=mem)
                                pt = aead_open(kek, nonce, ct, ad)
                                if pt is not None:
                                        self.masters[pt[:32]] = pt[32:48]
                                        ok = True
                        self.tally("key file", ok, o)

        # --- config (processor ids)
        def open_configs(self):
                keys = [kdf(m, 1, b"cnmaster") for m in self.masters]
                for o in self.objs:
                        if o.rel != "config" or o.data[:8] != b"CAIRNCFG":
                                continue
                        k, body = env_open(o.data, keys)
                        self.tally("config", body is not None, o)
                        if body is not None:
                                self.processors.add(o.data[12:28])

        # --- key store objects (FORMAT.md "Key store")
        def open_key_stores(self):
                keys = [kdf(m, 3, b"cnmaster") for m in self.masters]
                for o in self.ks_objs + list(self.objs):
                        if o.data[:8] != b"CAIRNKST":
                                continue
                        h = env_header(o.data)
                        k, body = env_open(o.data, keys) if h else (None, None)
                        self.tally("key store", body is not None, o)
                        if body is None:
                                self.report(f"key store object {o.rel}: does not open")
                                continue
                        ctrl = h["controller"].hex()
                        try:
                                r = Rd(body)
                                repo = r.take(16)
                                gen = r.u64()
                                for _ in range(r.count(16, 5)):
                                        r.b32(1024)
                                eks = [(r.u32(), r.take(32)) for _ in range(r.count(4, 36))]
                                r.end()
                        except Damaged as e:
                                self.report(f"key store object {o.rel}: {e}")
                                continue
                        for ep, ek in eks:
                                self.add_epoch_key(ek, ctrl, ep, f"key store {o.rel} gen {gen} repo {repo.hex()}")

        def add_epoch_key(self, ek, ctrl, epoch, src):
                self.epoch_keys.setdefault(ek, set()).add((ctrl, epoch, src))

        # --- controller records (FORMAT.md "controller body")
        def open_records(self):
                v1keys = [kdf(m, 2, b"cnmaster") for m in self.masters]
                v2keys = [kdf(ek, 1, b"cnepoch_") for ek in self.epoch_keys]
                for o in self.of_kind("controllers", b"CAIRNCTL"):
                        h = env_header(o.data)
                        if h is None:
                                self.tally("controller record", False, o)
                                continue
                        k, body = env_open(o.data, v1keys + v2keys)
                        self.tally("controller record", body is not None, o)
                        ctrl = h["controller"].hex()
                        if body is None:
                                self.report(f"controller record {o.rel} (version {h['version']}, "
                                            f"epoch {h['epoch']}): does not open")
                                continue
                        try:
                                r = Rd(body)
                                name = r.b32(1024)
                                r.i64()
                                dr = r.take(32)
                                r.u8()
                                r.u32(), r.u32(), r.u32()
                                r.u8()
                                epoch = h["epoch"]
                                if h["version"] == 1:
                                        epoch = r.u32()
                                        ek = r.take(32)
                                        # a version 1 ledger is sealed under the epoch key itself
                                        self.add_epoch_key(ek, ctrl, epoch, f"v1 record {o.rel}")
                                        self.cinfo(ctrl).setdefault("v1_epoch_keys", set()).add(ek)
                                r.end()
                        except Damaged as e:
                                self.report(f"controller record {o.rel}: {e}")
                                continue
                        c = self.cinfo(ctrl)
                        c["names"].add(name.decode("utf-8", "surrogateescape"))
                        rec = dict(version=h["version"], epoch=epoch, copies=o.where)
                        if rec not in c["records"]:
                                c["records"].append(rec)
                        c["epochs"].add(epoch)
                        self.domain_roots.setdefault(dr, set()).add(ctrl)

        def metadata_keys(self):
                return [kdf(dr, 3, b"cndomain") for dr in self.domain_roots]

        def id_keys(self, ctrl=None):
                return [kdf(dr, 1, b"cndomain") for dr, cs in self.domain_roots.items()
                        if ctrl is None or ctrl in cs]

        def epoch_meta_keys(self):
                return [kdf(ek, 3, b"cnepoch_") for ek in self.epoch_keys]

        # --- ledgers (FORMAT.md "Index and ledger")
        def open_ledgers(self):
                keys = [kdf(ek, 2, b"cnepoch_") for ek in self.epoch_keys] + list(self.epoch_keys)
                for o in self.of_kind("ledger", b"CAIRNLDG"):
                        h = env_header(o.data)
                        k, body = env_open(o.data, keys) if h else (None, None)
                        self.tally("ledger", body is not None, o)
                        if body is None:
                                continue
                        try:
                                r = Rd(body)
                                if h["version"] == 1:
                                        packs = [(r.take(32), None)]
                                        n = [r.count(1 << 20, 64)]
                                        pairs = [[(r.take(32), r.take(32)) for _ in range(n[0])]]
                                else:
                                        packs, pairs = [], []
                                        for _ in range(r.count(65536, 68)):
                                                pid, pk = r.take(32), r.take(32)
                                                packs.append((pid, pk))
                                                pairs.append([(r.take(32), r.take(32))
                                                              for _ in range(r.count(1 << 20, 64))])
                                r.end()
                        except Damaged as e:
                                self.report(f"ledger {o.rel}: {e}")
                                continue
                        for (pid, pk), ps in zip(packs, pairs):
                                if pk is not None and pk != ZERO32:
                                        self.pack_keys.setdefault(pid, set()).add(pk)
                                for bid, dk in ps:
                                        self.data_keys.setdefault((pid, bid), set()).add(dk)
                                        self.data_keys_by_id.setdefault(bid, set()).add(dk)

        # --- packs and index files (FORMAT.md "Packs")
        def entries(self, body, r=None):
                r = r or Rd(body)
                out = []
                for _ in range(r.count(1 << 20, 46)):
                        bid, typ, flags = r.take(32), r.u8(), r.u8()
                        off, length, raw = r.u32(), r.u32(), r.u32()
                        if typ not in (1, 2) or flags & ~1:
                                raise Damaged(f"entry of type {typ} flags {flags}")
                        out.append((bid, typ, flags, off, length, raw))
                r.end()
                return out

        def pack_header_keys(self, pid):
                own = list(self.pack_keys.get(pid, ()))
                rest = [k for p, ks in self.pack_keys.items() if p != pid for k in ks]
                return own + self.metadata_keys() + rest

        def open_packs(self):
                # index files first
                idx = {}
                for o in self.of_kind("index", b"CAIRNIDX"):
                        h = env_header(o.data)
                        pid = hexname(o.name, 32)
                        if h is None or pid is None:
                                self.tally("index", False, o)
                                continue
                        k, body = env_open(o.data, self.pack_header_keys(pid))
                        self.tally("index", body is not None, o)
                        if body is None:
                                continue
                        try:
                                r = Rd(body)
                                bpid = r.take(32)
                                e = self.entries(body, r)
                        except Damaged as ex:
                                self.report(f"index {o.rel}: {ex}")
                                continue
                        idx.setdefault(bpid, []).append(e)
                for o in self.of_kind("data", b"CAIRNPAK"):
                        d = o.data
                        pid = hexname(o.name, 32)
                        if pid is None or len(d) < 44 + 12:
                                continue
                        version = struct.unpack("<I", d[8:12])[0]
                        proc, ctrl = d[12:28], d[28:44]
                        lists = []
                        hl = struct.unpack("<I", d[-12:-8])[0]
                        if d[-8:] == b"CNPKEND1" and 24 + 16 + 4 <= hl <= len(d) - 44 - 12:
                                hdr = d[len(d) - 12 - hl:len(d) - 12]
                                ad = b"CAIRNPKH" + struct.pack("<I", version) + proc + ctrl + pid
                                for k in self.pack_header_keys(pid):
                                        pt = aead_open(k, hdr[:24], hdr[24:], ad)
                                        if pt is not None:
                                                try:
                                                        lists.append(self.entries(pt))
                                                except Damaged as ex:
                                                        self.report(f"pack header {o.rel}: {ex}")
                                                break
                        self.tally("pack header", bool(lists), o)
                        lists += idx.get(pid, [])
                        seen = set()
                        for es in lists:
                                for e in es:
                                        if e in seen:
                                                continue
                                        seen.add(e)
                                        self.open_blob(o, pid, proc, ctrl, e)

        def open_blob(self, o, pid, proc, ctrl, e):
                bid, typ, flags, off, length, raw = e
                if bid in self.blobs:
                        return
                d = o.data
                if length < 40 or off + length > len(d):
                        return
                sealed = d[off:off + length]
                ad = b"cairn.chunk.v1\0\0" + proc + ctrl + bid + bytes([typ])
                keys = list(self.data_keys.get((pid, bid), ())) + list(self.data_keys_by_id.get(bid, ()))
                for k in keys:
                        pt = aead_open(k, sealed[:24], sealed[24:], ad)
                        if pt is None:
                                continue
                        if flags & 1:
                                cap = MAX_RAW_CHUNK if typ == 1 else MAX_RAW_TREE
                                try:
                                        pt = zstandard.ZstdDecompressor().decompress(pt, max_output_size=cap)
                                except zstandard.ZstdError as ex:
                                        self.report(f"blob {bid.hex()} in {o.rel}: zstd: {ex}")
                                        return
                        self.blobs[bid] = (typ, pt, ctrl.hex())
                        ik = self.id_keys(ctrl.hex())
                        if ik and not any(hmac256(k, pt) == bid for k in ik):
                                self.report(f"blob {bid.hex()} in {o.rel}: id does not match its plaintext")
                        self.tally("blob", True, (o.rel, bid))
                        return
                self.tally("blob", False, (o.rel, bid))

        # --- snapshots (FORMAT.md "Snapshots")
        def open_snapshots(self):
                keys = self.metadata_keys() + self.epoch_meta_keys()
                for o in self.of_kind("snapshots", b"CAIRNSNP"):
                        h = env_header(o.data)
                        k, body = env_open(o.data, keys) if h else (None, None)
                        self.tally("snapshot", body is not None, o)
                        if body is None:
                                continue
                        ctrl = h["controller"].hex()
                        try:
                                s = parse_snapshot(body)
                        except Damaged as e:
                                self.report(f"snapshot {o.rel}: {e}")
                                continue
                        if h["version"] == 3:
                                ids = [hmac256(k, b"cairn.snapshot.v3" + body).hex()
                                       for k in self.id_keys(ctrl)]
                                sid = o.name if o.name in ids else (ids[0] if ids else o.name)
                        elif h["version"] == 2:
                                sid = hashlib.sha256(o.data).hexdigest()
                        else:
                                sid = o.name
                        if sid != o.name:
                                self.report(f"snapshot {o.rel}: its id is {sid}")
                        s.update(id=sid, name=o.name, version=h["version"], epoch=h["epoch"],
                                 controller=ctrl, copies=o.where)
                        self.snapshots.append(s)

        # --- other objects: opened only to report what they still say
        def open_others(self):
                meta, emeta = self.metadata_keys(), self.epoch_meta_keys()
                config = [kdf(m, 1, b"cnmaster") for m in self.masters]
                for top, kind in (("damage", "damage record"), ("holds", "hold"),
                                  ("retention", "retention policy"), ("requests", "request"),
                                  ("writers", "session"), ("prune", "plan"),
                                  ("erasures", "erasure request"), ("certificates", "certificate"),
                                  ("locations", "location"), ("grants", "grant")):
                        for o in self.of_kind(top):
                                h = env_header(o.data)
                                k, body = env_open(o.data, meta + emeta + config) if h else (None, None)
                                self.tally(kind, body is not None, o)
                                if body is not None:
                                        self.others.append((o, body))
                                        self.cinfo(h["controller"].hex()).setdefault("others", []).append(
                                                dict(kind=kind, name=o.rel, magic=sname(o.data[:8]),
                                                     version=h["version"], epoch=h["epoch"],
                                                     body=sname(body)))

        # --- audit log (FORMAT.md "Audit log"): every entry that opens, and
        # whether each controller's chain of the current copy holds
        def open_audit(self):
                keys = [kdf(m, 4, b"cnmaster") for m in self.masters]
                for o in self.of_kind("audit"):
                        parts = o.rel.split(os.sep)
                        h = env_header(o.data)
                        k, body = env_open(o.data, keys) if h and h["magic"] == b"CAIRNAUD" else (None, None)
                        self.tally("audit entry", body is not None, o)
                        if body is None or len(parts) != 3:
                                continue
                        try:
                                e = parse_audit_entry(body)
                        except Damaged as x:
                                self.report(f"{o.rel}: {x}")
                                continue
                        self.others.append((o, body))
                        if "current" in o.where:
                                self.audit.setdefault(h["controller"].hex(), {})[parts[2]] = (
                                        e, hashlib.sha256(o.data).digest())

        def audit_result(self):
                out = {}
                for ctrl, entries in self.audit.items():
                        prev, ok, n = bytes(32), True, 0
                        while True:
                                x = entries.get(f"{n:016x}")
                                if x is None:
                                        break
                                e, h = x
                                if e["seq"] != n or e["prev"] != prev:
                                        ok = False
                                        break
                                prev, n = h, n + 1
                        ok = ok and n == len(entries)
                        out[ctrl] = dict(entries=len(entries), chained=n, intact=ok,
                                         kinds=[entries[k][0]["kind"] for k in sorted(entries)])
                return out

        # --- trees (FORMAT.md "Trees")
        def tree_entries(self, tid, seen_ids):
                """The entries of a plain tree or of a tree list's leaves, or
                None when the blob did not open."""
                if tid in self.tree_cache:
                        seen_ids.update(self.tree_cache[tid][1])
                        return self.tree_cache[tid][0]
                b = self.blobs.get(tid)
                if b is None or b[0] != 2:
                        return None
                pt, ids = b[1], {tid}
                if pt[:8] == b"CAIRNTRL":
                        r = Rd(pt)
                        r.take(8)
                        r.u32()
                        out = []
                        for _ in range(r.count(1 << 20, 32)):
                                leaf = r.take(32)
                                lb = self.blobs.get(leaf)
                                if lb is None or lb[0] != 2 or lb[1][:8] != b"CAIRNTRE":
                                        self.report(f"tree list {tid.hex()}: leaf {leaf.hex()} does not open")
                                        continue
                                ids.add(leaf)
                                out += parse_tree(lb[1])
                else:
                        out = parse_tree(pt)
                self.tree_cache[tid] = (out, ids)
                seen_ids.update(ids)
                return out

        def walk(self, root, out, seen_ids, cap=1 << 22):
                """Every entry below root, with its path (iterative: trees may
                be thousands of levels deep)."""
                stack = [(root, "")]
                while stack:
                        tid, prefix = stack.pop()
                        try:
                                es = self.tree_entries(tid, seen_ids)
                        except Damaged as e:
                                self.report(f"tree {tid.hex()}: {e}")
                                es = None
                        if es is None:
                                out.append(dict(path=prefix + "/", missing_tree=tid.hex()))
                                continue
                        for e in es:
                                if len(out) >= cap:
                                        self.report(f"tree {root.hex()}: more than {cap} entries; the rest not listed")
                                        return
                                p = prefix + "/" + e["name"]
                                rec = dict(path=p, type=e["type"], size=e["size"],
                                           chunks=[c.hex() for c in e["chunks"]])
                                if e.get("extra"):
                                        rec["extra"] = e["extra"]
                                out.append(rec)
                                if e["type"] == 2 and e["subtree"] is not None:
                                        stack.append((e["subtree"], p))

        def run(self):
                self.open_key_files()
                self.open_configs()
                # Records and key stores yield each other's keys only one way
                # (key store -> epoch key -> record), but loop until nothing new.
                while True:
                        n = (len(self.epoch_keys), len(self.domain_roots))
                        self.open_key_stores()
                        self.open_records()
                        if (len(self.epoch_keys), len(self.domain_roots)) == n:
                                break
                self.open_ledgers()
                self.open_packs()
                self.open_snapshots()
                self.open_others()
                self.open_audit()

        def result(self):
                ctrls = {}
                reached = set()
                for s in sorted(self.snapshots, key=lambda s: (s["time"], s["id"])):
                        c = ctrls.setdefault(s["controller"], dict(snapshots=[]))
                        entries = []
                        self.walk(bytes.fromhex(s["tree"]), entries, reached)
                        s["entries"] = entries
                        c["snapshots"].append(s)
                orphans = {}
                for bid, (typ, pt, ctrl) in sorted(self.blobs.items()):
                        if typ != 2 or bid in reached or pt[:8] != b"CAIRNTRE":
                                continue
                        try:
                                es = parse_tree(pt)
                        except Damaged as e:
                                self.report(f"tree {bid.hex()}: {e}")
                                continue
                        orphans.setdefault(ctrl, []).extend(
                                dict(path=f"?{bid.hex()[:16]}/" + e["name"], type=e["type"]) for e in es)
                for ctrl, info in self.ctrl.items():
                        c = ctrls.setdefault(ctrl, dict(snapshots=[]))
                        c["names"] = sorted(info["names"])
                        c["records"] = info["records"]
                        c["others"] = info.get("others", [])
                for ctrl, es in orphans.items():
                        ctrls.setdefault(ctrl, dict(snapshots=[]))["orphan_tree_entries"] = es
                for ctrl, c in ctrls.items():
                        paths = set()
                        for s in c["snapshots"]:
                                paths.update(e["path"] for e in s["entries"])
                                paths.update(s["paths"])
                                paths.update(x["path"] for x in s["errors"])
                        paths.update(e["path"] for e in c.get("orphan_tree_entries", []))
                        c["paths"] = sorted(paths)
                        c["data_chunks"] = sum(1 for t, _, cc in self.blobs.values()
                                               if t == 1 and cc == ctrl)
                return dict(
                        copies=[dict(label=label, path=p) for label, p in self.copies],
                        master_keys=len(self.masters),
                        epoch_keys=sorted(f"{c}:{e}" for v in self.epoch_keys.values()
                                          for c, e, _ in v),
                        domain_roots=len(self.domain_roots),
                        opened=self.counts(),
                        data_chunks=sum(1 for t, _, _ in self.blobs.values() if t == 1),
                        tree_blobs=sum(1 for t, _, _ in self.blobs.values() if t == 2),
                        controllers=ctrls,
                        audit=self.audit_result(),
                        reports=list(dict.fromkeys(self.reports)))

        def counts(self):
                out = {}
                for (kind, _), ok in self.status.items():
                        c = out.setdefault(kind, dict(opened=0, closed=0))
                        c["opened" if ok else "closed"] += 1
                return dict(sorted(out.items()))


def hexname(name, n):
        """The bytes of a name of n bytes in lower-case hex, else None."""
        if len(name) != 2 * n or name.lower() != name:
                return None
        try:
                return bytes.fromhex(name)
        except ValueError:
                return None


def sname(b):
        return b.decode("utf-8", "surrogateescape")


def parse_audit_entry(body):
        """An audit entry body: seq prev time kind outcome count fields."""
        r = Rd(body)
        e = dict(seq=r.u64(), prev=r.take(32), time=r.i64(), kind=r.u8(), outcome=r.u8(), fields=[])
        n = r.u8()
        if e["kind"] == 0 or n > 64:
                raise Damaged("audit entry: kind 0 or over 64 fields")
        for _ in range(n):
                tag, ln = r.u8(), r.u8()
                v = r.take(ln)
                size = 32 if 1 <= tag < 64 else 8 if 64 <= tag < 96 else None
                if (size is not None and ln != size) or (size is None and not (96 <= tag < 128 and 1 <= ln)):
                        raise Damaged(f"audit entry: field {tag} of {ln} bytes")
                if 96 <= tag < 128 and any(c < 0x20 or c > 0x7e for c in v):
                        raise Damaged("audit entry: text outside 0x20-0x7e")
                e["fields"].append((tag, v))
        r.end()
        return e


def parse_snapshot(body):
        r = Rd(body)
        t, nsec = r.i64(), r.u32()
        host, user = r.b32(1024), r.b32(1024)
        paths = [sname(r.b32(65536)) for _ in range(r.count(65536, 4))]
        tags = [sname(r.b32(65536)) for _ in range(r.count(4096, 4))]
        tree = r.take(32)
        has_parent = r.u8()
        parent = r.take(32)
        flags = r.u32()
        files, dirs, others, nbytes, bnew, snew, dur = (r.u64() for _ in range(7))
        errors = []
        for _ in range(r.count(1 << 20, 8)):
                p = sname(r.b32(65536))
                errors.append(dict(path=p, errno=r.u32()))
        r.end()
        return dict(time=t, nsec=nsec,
                    iso=datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(),
                    host=sname(host), user=sname(user), paths=paths, tags=tags, tree=tree.hex(),
                    parent=parent.hex() if has_parent else None, flags=flags,
                    files=files, dirs=dirs, others=others, bytes=nbytes, errors=errors)


def parse_tree(pt):
        r = Rd(pt)
        if r.take(8) != b"CAIRNTRE":
                raise Damaged("not a tree")
        version = r.u32()
        out = []
        for _ in range(r.count(1 << 24, 4)):
                n = r.u32()
                er = Rd(r.take(n))
                e = dict(type=er.u8())
                e["name"] = sname(er.b32(4096))
                er.u32(), er.u32(), er.u32()             # mode uid gid
                er.b32(4096), er.b32(4096)              # user group
                for _ in range(3):
                        er.i64(), er.u32()               # mtime atime ctime
                e["size"] = er.u64()
                for _ in range(5):
                        er.u64()                         # inode dev nlink rdev link_group
                er.b32(65536)                            # target
                for _ in range(er.count(65536, 8)):
                        er.b32(255), er.b32(65536)
                er.u8()
                for _ in range(er.count(4 << 20, 16)):
                        er.u64(), er.u64()
                e["chunks"] = [er.take(32) for _ in range(er.count(64 << 20, 32))]
                e["subtree"] = er.take(32) if e["type"] == 2 else None
                if version >= 2:
                        er.u32()                         # fsflags
                if version > 2 and er.left():
                        # Versions after 2 are not specified yet: keep what
                        # follows the version 2 fields (a subject tag?) as hex.
                        e["extra"] = er.take(er.left()).hex()
                er.end()
                out.append(e)
        r.end()
        return out


def self_test():
        """kdf() against libsodium itself (through ctypes), so that the
        reader's one hand-made primitive is checked at every run."""
        import ctypes
        import ctypes.util
        name = ctypes.util.find_library("sodium")
        if name is None:
                print("cairn_reader: libsodium not found; KDF not checked")
                return 77
        lib = ctypes.CDLL(name)
        if lib.sodium_init() < 0:
                return 1
        n = 0
        for sub in (0, 1, 2, 3, 4, 31, 1 << 32, (1 << 64) - 1):
                for ctx in (b"cnmaster", b"cndomain", b"cnepoch_", b"cngeartb"):
                        key = os.urandom(32)
                        out = ctypes.create_string_buffer(32)
                        if lib.crypto_kdf_derive_from_key(out, ctypes.c_size_t(32), ctypes.c_uint64(sub),
                                                          ctypes.c_char_p(ctx), key) != 0:
                                return 1
                        if out.raw != kdf(key, sub, ctx):
                                print(f"cairn_reader: KDF differs from libsodium's at subkey {sub} ctx {ctx}")
                                return 1
                        n += 1
        print(f"cairn_reader: KDF equals libsodium's crypto_kdf_derive_from_key on {n} inputs")
        return 0


def main():
        ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
        ap.add_argument("repo", nargs="?", help="the repository directory as it is now")
        ap.add_argument("--old", action="append", default=[], metavar="COPY",
                        help="a raw copy of the repository taken earlier (repeatable)")
        ap.add_argument("--key-store", action="append", default=[], metavar="DIR",
                        help="a key store location, a directory (repeatable)")
        ap.add_argument("--password-file", help="more passwords, one a line")
        ap.add_argument("--dump", metavar="DIR", help="write every decrypted chunk as DIR/<id>, trees as DIR/trees/<id>")
        ap.add_argument("--json", metavar="FILE", help="write the report to FILE instead of stdout")
        ap.add_argument("--list-paths", action="store_true", help="print only the paths found, one a line")
        ap.add_argument("--self-test", action="store_true",
                        help="check the KDF against libsodium's crypto_kdf_derive_from_key, then exit")
        a = ap.parse_args()
        if a.self_test:
                return self_test()
        if a.repo is None:
                ap.error("name the repository directory")

        pws = []
        if os.environ.get("CAIRN_PASSWORD") is not None:
                pws.append(os.environb[b"CAIRN_PASSWORD"])
        if a.password_file:
                with open(a.password_file, "rb") as f:
                        pws += [ln.rstrip(b"\r\n") for ln in f if ln.strip()]
        if not pws:
                ap.error("no password: set CAIRN_PASSWORD or give --password-file")

        copies = [("current", a.repo)] + [(f"old{i + 1}", p) for i, p in enumerate(a.old)]
        for _, p in copies:
                if not os.path.isdir(p):
                        ap.error(f"{p}: not a directory")
        rd = Reader(copies, a.key_store, pws)
        rd.run()
        res = rd.result()

        if a.dump:
                for sub in ("trees", "objects"):
                        os.makedirs(os.path.join(a.dump, sub), exist_ok=True)
                for bid, (typ, pt, _) in rd.blobs.items():
                        sub = "" if typ == 1 else "trees"
                        with open(os.path.join(a.dump, sub, bid.hex()), "wb") as f:
                                f.write(pt)
                # every other plaintext too (snapshot bodies are in the report)
                for o, pt in rd.others:
                        name = o.rel.replace(os.sep, "-") + "-" + hashlib.sha256(o.data).hexdigest()[:8]
                        with open(os.path.join(a.dump, "objects", name), "wb") as f:
                                f.write(pt)

        if a.list_paths:
                out = sorted({p for c in res["controllers"].values() for p in c["paths"]})
                text = "".join(p + "\n" for p in out)
                sys.stdout.buffer.write(text.encode("utf-8", "surrogateescape"))
                return 0
        text = json.dumps(res, indent=1, sort_keys=True, default=sorted) + "\n"
        if a.json:
                with open(a.json, "w") as f:
                        f.write(text)
        else:
                sys.stdout.write(text)
        return 0


if __name__ == "__main__":
        sys.exit(main())
