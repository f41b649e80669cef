#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks of a 'cairn export' archive from outside, with Python's tarfile and
zipfile (no code shared with cairn), for tests/cli/export.sh:

  export-check.py compare ARCHIVE ROOT LS...   every file entry of the pax
        ARCHIVE against ROOT/<folder>/<path>, a restore of its snapshot:
        type, bytes, mode, owner, mtime to the nanosecond, xattrs, the POSIX
        ACLs, symlink targets, hard links, FIFOs; its manifest record says
        the same; and the entries in scope are exactly those of the 'cairn
        ls --json' listings LS (one file per snapshot, in time order)
  export-check.py zip ARCHIVE ROOT          the same for a zip, as far as zip goes
  export-check.py schema ARCHIVE SCHEMA     manifest.json validates (draft 2020-12)
  export-check.py sig ARCHIVE PUBLIC_KEY    manifest.sig verifies (PyNaCl; exit 77 without it)
  export-check.py get ARCHIVE EXPR          print EXPR of the manifest (m)
  export-check.py offset ARCHIVE NAME       the archive offset of NAME's first data byte
  export-check.py rebuild ARCHIVE OUT add|drop NAME   OUT: ARCHIVE with a file NAME added
        before manifest.json, or without entry NAME
"""
import json
import os
import pwd
import stat
import sys
import tarfile
import zipfile

FAILS = []


def fail(msg):
    FAILS.append(msg)


def manifest(archive):
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            return json.loads(z.read("manifest.json"))
    with tarfile.open(archive) as t:
        return json.load(t.extractfile("manifest.json"))


def exact(r, key):
    """A manifest string as the bytes it stands for (KEY_hex when the bytes are
    not UTF-8), as Python names them: str with surrogate escapes."""
    if key + "_hex" in r:
        return bytes.fromhex(r[key + "_hex"]).decode("utf-8", "surrogateescape")
    return r[key]


def records(m):
    return {exact(r, "archive_path"): r for r in m["files"] if r["archive_path"] is not None}


FLAGS = {"nodump": 0x40, "noatime": 0x80}


def fsflags(path):
    import array
    import fcntl
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return 0
    try:
        buf = array.array("l", [0])
        fcntl.ioctl(fd, 0x80086601, buf)  # FS_IOC_GETFLAGS
        return buf[0]
    except OSError:
        return 0
    finally:
        os.close(fd)


def ns_of(text):
    """'1700000000.123456789' (a pax time) as integer nanoseconds."""
    sec, _, frac = text.partition(".")
    frac = (frac + "000000000")[:9]
    neg = sec.startswith("-")
    v = abs(int(sec)) * 10**9 + int(frac)
    return -v if neg else v


def rfc3339_ns(ns):
    import datetime
    sec, frac = divmod(ns, 10**9)
    d = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc) + datetime.timedelta(seconds=sec)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%09dZ" % frac


TAGS = {1: "user", 2: "user", 4: "group", 8: "group", 16: "mask", 32: "other"}


def acl_of_xattr(raw):
    """A raw system.posix_acl_* value as a set of (tag, id or None, perms)."""
    out = set()
    assert int.from_bytes(raw[:4], "little") == 2
    for off in range(4, len(raw), 8):
        tag = int.from_bytes(raw[off:off + 2], "little")
        perm = int.from_bytes(raw[off + 2:off + 4], "little")
        qid = int.from_bytes(raw[off + 4:off + 8], "little")
        perms = "".join(c if perm & b else "-" for c, b in (("r", 4), ("w", 2), ("x", 1)))
        out.add((TAGS[tag], qid if tag in (2, 8) else None, perms))
    return out


def acl_of_text(text):
    """SCHILY.acl.access text ('user::rw-,user:bob:r--:1001,...') the same way."""
    out = set()
    for e in text.split(","):
        f = e.split(":")
        if f[1] == "":
            out.add((f[0], None, f[2]))
        else:
            out.add((f[0], int(f[3]) if len(f) > 3 else int(f[1]), f[2]))
    return out


def compare_meta(name, rec, st, path):
    if rec["mode"] != stat.S_IMODE(st.st_mode) and not stat.S_ISLNK(st.st_mode):
        fail(f"{name}: mode {rec['mode']:o} in the manifest, {stat.S_IMODE(st.st_mode):o} restored")
    if (rec["uid"], rec["gid"]) != (st.st_uid, st.st_gid):
        fail(f"{name}: owner {rec['uid']}:{rec['gid']} in the manifest, {st.st_uid}:{st.st_gid} restored")
    if rec["mtime"] != rfc3339_ns(st.st_mtime_ns):
        fail(f"{name}: mtime {rec['mtime']} in the manifest, {rfc3339_ns(st.st_mtime_ns)} restored")


def compare(archive, root, listings):
    m = manifest(archive)
    recs = records(m)
    seen = set()
    with tarfile.open(archive) as t:
        members = t.getmembers()
        names = [x.name for x in members]
        if names[-2:] != ["manifest.json", "manifest.sig"]:
            fail(f"the archive does not end with manifest.json, manifest.sig: {names[-3:]}")
        for x in members:
            if not x.name.startswith("files/"):
                continue
            seen.add(x.name)
            rec = recs.get(x.name)
            if rec is None:
                fail(f"{x.name}: in the archive, not in the manifest")
                continue
            path = os.path.join(root, x.name[len("files/"):])
            try:
                st = os.lstat(path)
            except OSError as e:
                fail(f"{x.name}: not restored ({e})")
                continue
            compare_meta(x.name, rec, st, path)
            h = x.pax_headers
            if x.islnk():
                first = os.path.join(root, x.linkname[len("files/"):])
                if rec["link"] != x.linkname:
                    fail(f"{x.name}: a hard link to {x.linkname}, the manifest says {rec['link']}")
                if os.lstat(first).st_ino != st.st_ino:
                    fail(f"{x.name}: a hard link to {x.linkname} in the archive, another inode restored")
            elif x.isreg():
                data = t.extractfile(x).read()
                with open(path, "rb") as f:
                    want = f.read()
                if data != want:
                    fail(f"{x.name}: its bytes differ from the restored file ({len(data)} / {len(want)} bytes)")
                import hashlib
                if rec["sha256"] != hashlib.sha256(want).hexdigest() or rec["size"] != len(want):
                    fail(f"{x.name}: the manifest's size or SHA-256 is not the restored file's")
                if st.st_nlink > 1 and rec["link"] is None:
                    pass  # the first name of a group: the others link to it
            elif x.isdir():
                if not stat.S_ISDIR(st.st_mode):
                    fail(f"{x.name}: a directory in the archive, not restored as one")
            elif x.issym():
                if not stat.S_ISLNK(st.st_mode) or os.readlink(path) != x.linkname or rec["target"] != x.linkname:
                    fail(f"{x.name}: symlink to {x.linkname}, restored to {os.readlink(path)}")
            elif x.isfifo():
                if not stat.S_ISFIFO(st.st_mode):
                    fail(f"{x.name}: a FIFO in the archive, not restored as one")
            elif x.ischr() or x.isblk():
                if (stat.S_ISCHR(st.st_mode), stat.S_ISBLK(st.st_mode)) != (x.ischr(), x.isblk()) or \
                        (os.major(st.st_rdev), os.minor(st.st_rdev)) != (x.devmajor, x.devminor):
                    fail(f"{x.name}: device {x.devmajor},{x.devminor} in the archive, not so restored")
            else:
                fail(f"{x.name}: an archive member of type {x.type!r}")
                continue
            # metadata as the pax headers carry it; with an ACL mask, the
            # group bits of the mode are the group entry's (POSIX.1e), and
            # the mode an extractor sets with the ACL has the mask's
            mode = x.mode
            acl = acl_of_text(h["SCHILY.acl.access"]) if "SCHILY.acl.access" in h else set()
            for tag, _, perms in acl:
                if tag == "mask":
                    mode = mode & ~0o70 | sum(b for c, b in zip(perms, (0o40, 0o20, 0o10)) if c != "-")
            if mode != stat.S_IMODE(st.st_mode) and not x.issym():
                fail(f"{x.name}: mode {x.mode:o} in the archive, {stat.S_IMODE(st.st_mode):o} restored")
            if (x.uid, x.gid) != (st.st_uid, st.st_gid):
                fail(f"{x.name}: owner {x.uid}:{x.gid} in the archive, {st.st_uid}:{st.st_gid} restored")
            try:
                uname = pwd.getpwuid(st.st_uid).pw_name
            except KeyError:
                uname = ""
            if x.uname != uname and x.uname != (rec["user"] or ""):
                fail(f"{x.name}: owner name {x.uname!r}, restored {uname!r}")
            mt = ns_of(h["mtime"]) if "mtime" in h else int(x.mtime) * 10**9
            if mt != st.st_mtime_ns:
                fail(f"{x.name}: mtime {mt} in the archive, {st.st_mtime_ns} restored")
            if x.issym() or x.islnk():
                continue
            want_x = {n: os.getxattr(path, n, follow_symlinks=False) for n in os.listxattr(path, follow_symlinks=False)
                      if not n.startswith("system.posix_acl_")}
            got_x = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape")
                     for k, v in h.items() if k.startswith("SCHILY.xattr.")}
            if want_x != got_x:
                fail(f"{x.name}: xattrs {sorted(got_x)} in the archive, {sorted(want_x)} restored")
            got_f = sum(FLAGS.get(f, 0) for f in h.get("SCHILY.fflags", "").split(","))
            if got_f != fsflags(path) & sum(FLAGS.values()):
                fail(f"{x.name}: inode flags {h.get('SCHILY.fflags')!r} in the archive, {fsflags(path):#x} restored")
            for kind in ("access", "default"):
                try:
                    raw = os.getxattr(path, "system.posix_acl_" + kind, follow_symlinks=False)
                except OSError:
                    raw = None
                text = h.get("SCHILY.acl." + kind)
                if (raw is None) != (text is None) or (raw is not None and acl_of_xattr(raw) != acl_of_text(text)):
                    fail(f"{x.name}: {kind} ACL {text!r} in the archive, {raw and acl_of_xattr(raw)} restored")
    missing = [n for n in recs if n not in seen]
    if missing:
        fail(f"in the manifest, not in the archive: {missing[:3]}")
    # the entries in scope are exactly what 'ls' lists, snapshot by snapshot
    folders = [s["folder"] for s in m["snapshots"]]
    if len(folders) != len(listings):
        fail(f"{len(folders)} snapshots in the manifest, {len(listings)} listings")
    for folder, listing in zip(folders, listings):
        want = {e["path"] for e in json.load(open(listing))}
        got = {exact(r, "path") for r in m["files"] if r["archive_path"] and r["archive_path"].startswith(folder + "/")
               and r["in_scope"]}
        if want != got:
            fail(f"{folder}: in scope {sorted(got - want)[:3]} not listed, {sorted(want - got)[:3]} listed, not in scope")


def compare_zip(archive, root):
    import hashlib
    m = manifest(archive)
    recs = records(m)
    with zipfile.ZipFile(archive) as z:
        infos = z.infolist()
        names = [i.filename for i in infos]
        def utf8(b):
            try:
                return b.decode("utf-8") and True
            except UnicodeDecodeError:
                return False
        if [i.filename for i in infos if not i.filename.isascii() and not i.flag_bits & 0x800 and
                utf8(i.filename.encode("cp437"))]:
            fail("a UTF-8 name without the zip's UTF-8 flag")
        if names[-2:] != ["manifest.json", "manifest.sig"]:
            fail(f"the zip does not end with manifest.json, manifest.sig: {names[-3:]}")
        for i in infos:
            if not i.filename.startswith("files/"):
                continue
            name = i.filename.rstrip("/")
            if not i.flag_bits & 0x800:  # no UTF-8 flag: the bytes, which zipfile took for CP437
                name = name.encode("cp437").decode("utf-8", "surrogateescape")
            rec = recs.get(name)
            if rec is None:
                fail(f"{name}: in the zip, not in the manifest")
                continue
            path = os.path.join(root, name[len("files/"):])
            st = os.lstat(path)
            mode = i.external_attr >> 16
            if stat.S_IFMT(mode) != stat.S_IFMT(st.st_mode):
                fail(f"{name}: type {stat.S_IFMT(mode):o} in the zip, {stat.S_IFMT(st.st_mode):o} restored")
            if stat.S_ISREG(st.st_mode):
                data = z.read(i)
                with open(path, "rb") as f:
                    want = f.read()
                if data != want or rec["sha256"] != hashlib.sha256(data).hexdigest():
                    fail(f"{name}: its bytes differ from the restored file")
            if stat.S_ISLNK(st.st_mode) and z.read(i).decode() != os.readlink(path):
                fail(f"{name}: another symlink target than restored")
            if stat.S_IMODE(mode) != stat.S_IMODE(st.st_mode) and not stat.S_ISLNK(st.st_mode):
                fail(f"{name}: mode {stat.S_IMODE(mode):o} in the zip, {stat.S_IMODE(st.st_mode):o} restored")
        kept = {r["type"] for r in m["files"] if r["archive_path"] is None}
        if kept - {"fifo", "chardev", "blockdev", "socket"}:
            fail(f"types left out of the zip: {kept}")


def main():
    cmd, archive = sys.argv[1], sys.argv[2]
    if cmd == "compare":
        compare(archive, sys.argv[3], sys.argv[4:])
    elif cmd == "zip":
        compare_zip(archive, sys.argv[3])
    elif cmd == "schema":
        import jsonschema
        schema = json.load(open(sys.argv[3]))
        jsonschema.Draft202012Validator.check_schema(schema)
        for e in jsonschema.Draft202012Validator(schema).iter_errors(manifest(archive)):
            fail(f"schema: {e.message} at {list(e.absolute_path)}")
    elif cmd == "sig":
        try:
            import nacl.signing
        except ImportError:
            sys.exit(77)
        with tarfile.open(archive) as t:
            data = t.extractfile("manifest.json").read()
            sig = json.load(t.extractfile("manifest.sig"))
        if sig["algorithm"] != "Ed25519" or sig["public_key"] != sys.argv[3]:
            fail(f"manifest.sig: {sig}")
        key = nacl.signing.VerifyKey(bytes.fromhex(sys.argv[3]))
        key.verify(b"cairn.export-manifest.v1\n" + data, bytes.fromhex(sig["value"]))
    elif cmd == "get":
        m = manifest(archive)
        print(eval(sys.argv[3], {"m": m}))
    elif cmd == "offset":
        with tarfile.open(archive) as t:
            print(t.getmember(sys.argv[3]).offset_data)
    elif cmd == "rebuild":
        out, how, name = sys.argv[3], sys.argv[4], sys.argv[5]
        with tarfile.open(archive) as t, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as o:
            for x in t.getmembers():
                if how == "add" and x.name == "manifest.json":
                    import io
                    extra = tarfile.TarInfo(name)
                    extra.size = 5
                    o.addfile(extra, io.BytesIO(b"extra"))
                if how == "drop" and x.name == name:
                    continue
                o.addfile(x, t.extractfile(x) if x.isreg() else None)
    else:
        sys.exit(f"unknown command {cmd}")
    for f in FAILS:
        print("FAIL:", f, file=sys.stderr)
    sys.exit(1 if FAILS else 0)


main()
