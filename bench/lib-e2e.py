#!/usr/bin/env python3
"""Helpers of bench/run-e2e.sh and bench/run-retention.sh (not meant to be run by hand).

  lib-e2e.py modify DIR SEED   edit a copy of a tree in place, deterministically
  lib-e2e.py churn DIR SEED EDIT% REMOVE% ADD%
                               the same with other shares, for a series of snapshots
  lib-e2e.py report RAW.csv META.txt OUT.md
                               write the results page from the raw per-run rows
  lib-e2e.py report-retention RAW.csv META.txt OUT.md BENCH_ID
                               the same for run-retention.sh (its rows of BENCH_ID)

modify: about 1% of the regular files get bytes inserted near their middle
(chosen among files of at least 16 KiB), 0.25% are removed and 0.25% new files
are added in existing directories. Same tree and same seed give the same
result: files are listed in byte order, every random choice comes from one
random.Random(SEED), and edited or added files get a fixed mtime. churn does
the same with the shares given (percent of the files); its new files carry the
seed in their names, so the steps of a series add distinct files.
"""

import csv
import os
import random
import stat
import statistics
import sys

FIXED_MTIME = 1700000000
LARGE = 16 * 1024
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 _(){};=+-*/\n\t"


def walk(root):
    """Regular files and directories under root, relative, as sorted bytes."""
    files, dirs = [], []
    broot = os.fsencode(root)
    for top, dnames, fnames in os.walk(broot):
        rel = os.path.relpath(top, broot)
        for d in dnames:
            p = os.path.join(top, d)
            if stat.S_ISDIR(os.lstat(p).st_mode):
                dirs.append(os.path.normpath(os.path.join(rel, d)))
        for f in fnames:
            p = os.path.join(top, f)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                files.append((os.path.normpath(os.path.join(rel, f)), st.st_size))
    files.sort()
    dirs.sort()
    return files, dirs


def text(rng, n):
    return "".join(rng.choices(ALPHABET, k=n)).encode()


def modify(root, seed, edit_pct=1.0, rm_pct=0.25, add_pct=0.25, tag=""):
    rng = random.Random(seed)
    files, dirs = walk(root)
    n = len(files)
    if (edit_pct, rm_pct, add_pct) == (1.0, 0.25, 0.25):
        n_edit, n_add, n_rm = max(1, n // 100), max(1, n // 400), max(1, n // 400)
    else:
        n_edit, n_rm, n_add = (max(1, round(n * pct / 100)) for pct in (edit_pct, rm_pct, add_pct))
    large = [f for f in files if f[1] >= LARGE]
    if len(large) < n_edit:
        large = sorted(files, key=lambda f: (-f[1], f[0]))[: 2 * n_edit]
        large.sort()
    edit = rng.sample(large, n_edit)
    edited = {f[0] for f in edit}
    rm = rng.sample([f for f in files if f[0] not in edited], n_rm)
    inserted = 0
    broot = os.fsencode(root)
    for rel, size in sorted(edit):
        p = os.path.join(broot, rel)
        with open(p, "rb") as fh:
            data = fh.read()
        pos = size // 2 + rng.randint(-(size // 8), size // 8)
        ins = text(rng, rng.randint(64, 4096))
        inserted += len(ins)
        with open(p, "wb") as fh:
            fh.write(data[:pos] + ins + data[pos:])
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    for rel, _ in sorted(rm):
        os.unlink(os.path.join(broot, rel))
    added = 0
    for i in range(n_add):
        d = rng.choice(dirs) if dirs else b"."
        p = os.path.join(broot, d, b"cairn-bench-new-%s%05d.c" % (tag.encode(), i))
        data = text(rng, rng.randint(1024, 65536))
        added += len(data)
        with open(p, "wb") as fh:
            fh.write(data)
        os.utime(p, (FIXED_MTIME, FIXED_MTIME))
    print(f"modified {root}: {n} files; {n_edit} edited (+{inserted} bytes inserted), "
          f"{n_rm} removed, {n_add} added ({added} bytes); seed {seed}")


# ---------------------------------------------------------------- report

TOOLS = ["cairn", "cairn-z1", "restic", "borg", "tar"]
# How a tool is named in the tables.
TOOL_NAMES = {"cairn-z1": "cairn-z1 (`backup --compression 1`)"}
STEPS = [
    ("tree", "backup", "Linux tree: initial backup (fresh repository)"),
    ("tree", "rebackup", "Linux tree: unchanged re-backup"),
    ("tree", "modified", "Linux tree: backup of the modified copy (second snapshot of the same path)"),
    ("tree", "restore", "Linux tree: restore of the latest snapshot into an empty tmpfs"),
    ("file", "backup", "Mixed file: backup (fresh repository)"),
    ("file", "rebackup", "Mixed file: unchanged re-backup"),
    ("file", "restore", "Mixed file: restore into an empty tmpfs"),
]
TAR_NOTE = {
    "backup": "`tar -cf FILE` to a file on the same disk",
    "modified": "`tar -cf FILE` of the whole modified tree, as tar has no incremental",
    "restore": "`tar -xf FILE` into an empty tmpfs",
}


def fnum(x):
    return float(x) if x not in ("", None) else None


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, nd=2):
    if v is None:
        return "–"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{nd}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fratio(r):
    return "–" if r is None else f"{r:.2f}"


def load_meta(path):
    meta = {}
    with open(path) as fh:
        for line in fh:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    return meta


def step_stats(rs, sizes):
    """Medians over the rows rs of one tool and step: of the runs that exited
    0 with a restore or check that passed (or none to make). sizes maps a
    key of the result to the CSV column it is the median of (bytes; in MiB
    unless the key is "input")."""
    ok = [r for r in rs if r["rc"] == "0" and r["verified"] in ("yes", "n/a")]
    walls = [fnum(r["wall_s"]) for r in ok]
    s = {
        "n": len(rs),
        "ok": len(ok),
        "wall": med(walls),
        "wall_min": min(walls) if walls else None,
        "wall_max": max(walls) if walls else None,
        "cpu": med([fnum(r["user_s"]) + fnum(r["sys_s"]) for r in ok]),
        "rss": med([fnum(r["maxrss_kib"]) / 1024 for r in ok]),
        "fail": sorted({f'run {r["run"]}: exit {r["rc"]}, verified {r["verified"]}' for r in rs if r not in ok}),
    }
    for key, col in sizes.items():
        unit = 1 if key == "input" else 2**20
        s[key] = med([fnum(r[col]) / unit for r in ok if r[col]])
    return s


def run_header(w, meta, title, script, series=None):
    """The title and the "## Run" list every results page starts with."""
    w(f"# {title}")
    w("")
    w(f"Generated by `{script}`; do not edit by hand (see bench/README.md).")
    w("")
    w("## Run")
    w("")
    w(f"- command: `{meta.get('command', '?')}`")
    w(f"- date: {meta.get('date', '?')}; the whole run took {meta.get('duration', '?')}")
    w(f"- mode: {meta.get('mode', '?')}; {meta.get('runs', '?')} run(s) of each tool, alternating "
      f"({meta.get('order', '?')}, then the next run); medians over the runs")
    if series:
        w(series)
    w(f"- machine: {meta.get('nproc', '?')} cores ({meta.get('cpu', '?')}), {meta.get('ram', '?')} RAM, "
      f"kernel {meta.get('kernel', '?')}, {meta.get('os', '?')}")


def interference(w, meta, rows, where, csv_name):
    """The "## Interference" section: CPU time other processes used during
    the measured steps (where(row) names a step)."""
    meas = [r for r in rows if r["step"] != "init"]
    wall = sum(fnum(r["wall_s"]) or 0 for r in meas)
    others = sum(fnum(r.get("others_cpu_s")) or 0 for r in meas)
    worst = max(meas, key=lambda r: fnum(r.get("others_cpu_s")) or 0, default=None)
    w("## Interference")
    w("")
    if wall:
        w(f"Other processes used {others:.1f} CPU seconds during the {wall:.1f} s of measured steps, "
          f"{others / wall:.2f} of a core on average (this machine has {meta.get('nproc', '?')}); "
          + (f"the most in {where(worst)} of run {worst['run']} "
             f"({worst['others_cpu_s']} s in {worst['wall_s']} s). " if worst else "")
          + f"Per step in {csv_name} (`others_cpu_s`). Near 0 means the tools had the machine to themselves.")
    w("")


def data_and_method(w, meta, data):
    """The "## Data" list (the lines of data), "## Method" (meta's method,
    lines joined by a literal \\n) and the "## Results" heading."""
    w("## Data")
    w("")
    for line in data:
        w(line)
    w("")
    w("## Method")
    w("")
    for line in meta.get("method", "").split("\\n"):
        w(line)
    w("")
    w("## Results")
    w("")


def report(raw, metapath, out):
    meta = load_meta(metapath)
    rows = list(csv.DictReader(open(raw)))
    stats = {}
    for (scen, step, _) in STEPS:
        for tool in TOOLS:
            rs = [r for r in rows if r["scenario"] == scen and r["step"] == step and r["tool"] == tool]
            if rs:
                stats[(scen, step, tool)] = step_stats(
                    rs, {"repo": "repo_bytes", "cache": "cache_bytes", "input": "input_bytes"})

    L = []
    w = L.append
    run_header(w, meta, "cairn end-to-end benchmark: cairn, restic and borg side by side", "bench/run-e2e.sh")
    w(f"- work dir: `{meta.get('work', '?')}` on {meta.get('workfs', '?')}; restores into a tmpfs "
      f"mounted at `{meta.get('tmpfs', '?')}`")
    w(f"- load average at start / end: {meta.get('load_start', '?')} / {meta.get('load_end', '?')} "
      f"(other work on the machine during the run shows here and in raw.csv)")
    w("")
    w("| tool | version and settings |")
    w("|---|---|")
    w(f"| cairn | {meta.get('cairn_version', '?')}, commit {meta.get('cairn_commit', '?')}, "
      f"`meson --buildtype=release` in `build-bench`; repository compression and chunking as built |")
    w(f"| restic | {meta.get('restic_version', '?')}; repository format version "
      f"{meta.get('restic_repo_version', '?')}, default compression (`auto`) |")
    w(f"| borg | {meta.get('borg_version', '?')}; `init -e repokey`, `create --compression lz4` "
      f"(lz4 is also borg 1.2's default) |")
    w(f"| tar | {meta.get('tar_version', '?')} (the floor: reading and writing the same bytes, no "
      f"chunking, hashing, compression or encryption) |")
    w("")
    data_and_method(w, meta, [f"- Linux tree: {meta.get('tree_desc', '?')}",
                              f"- modified copy: {meta.get('mod_desc', '?')}",
                              f"- mixed file: {meta.get('file_desc', '?')}"])
    w("Wall: median seconds (min–max over the runs). CPU: user+sys seconds. RSS: peak resident set "
      "(GNU time `%M`). Repo: `du -sb` of the repository after the step (for tar: the archive). "
      "Cache: `du -sb` of the tool's cache directory after the step (restic and borg only). "
      "MB/s: the file's size over wall time. Ratios below 1 mean cairn is faster or smaller. "
      "`init` is measured too but only listed in raw.csv.")
    w("")
    for (scen, step, title) in STEPS:
        present = [t for t in TOOLS if (scen, step, t) in stats]
        if not present:
            continue
        w(f"### {title}")
        w("")
        thr = scen == "file" and step in ("backup", "restore")
        head = "| tool | wall s | CPU s | peak RSS MiB | repo MiB | cache MiB |"
        sep = "|---|---:|---:|---:|---:|---:|"
        if thr:
            head += " MB/s |"
            sep += "---:|"
        head += " runs ok |"
        sep += "---|"
        w(head)
        w(sep)
        for t in present:
            s = stats[(scen, step, t)]
            name = f"tar (floor: {TAR_NOTE.get(step, 'n/a')})" if t == "tar" else TOOL_NAMES.get(t, t)
            wall = fmt(s["wall"])
            if s["wall_min"] is not None and s["ok"] > 1:
                wall += f" ({fmt(s['wall_min'])}–{fmt(s['wall_max'])})"
            line = (f"| {name} | {wall} | {fmt(s['cpu'])} | {fmt(s['rss'], 1)} | "
                    f"{fmt(s['repo'], 1)} | {fmt(s['cache'], 1) if t in ('restic', 'borg') else '–'} |")
            if thr:
                mbs = s["input"] / 1e6 / s["wall"] if s["input"] and s["wall"] else None
                line += f" {fmt(mbs, 0)} |"
            ok = f"{s['ok']}/{s['n']}"
            if s["fail"]:
                ok += " (" + "; ".join(s["fail"]) + ")"
            line += f" {ok} |"
            w(line)
        for mine in ("cairn", "cairn-z1"):
            c = stats.get((scen, step, mine))
            for other in ("restic", "borg", "tar"):
                o = stats.get((scen, step, other))
                if not c or not o:
                    continue
                if other == "tar" and (step not in ("backup", "restore", "modified") or mine != "cairn"):
                    continue
                rss = repo = None
                if other != "tar":  # tar's memory and archive are no yardstick
                    rss, repo = ratio(c["rss"], o["rss"]), ratio(c["repo"], o["repo"])
                line = (f"| **{mine}/{other}** | {fratio(ratio(c['wall'], o['wall']))} | "
                        f"{fratio(ratio(c['cpu'], o['cpu']))} | {fratio(rss)} | {fratio(repo)} | |")
                if thr:
                    line += " |"
                line += " |"
                w(line)
        w("")

    # targets from the issue
    def g(scen, step, tool, key):
        s = stats.get((scen, step, tool))
        return s[key] if s else None

    def check(r, limit, at_least=False):
        if r is None:
            return "–", "not measured"
        met = r >= limit if at_least else r <= limit
        return f"{r:.3f}", "**yes**" if met else "no"

    T = []
    T.append(("initial backup (tree): cairn ≤ 1/3 restic", "wall cairn/restic",
              ratio(g("tree", "backup", "cairn", "wall"), g("tree", "backup", "restic", "wall")), 1 / 3, False))
    T.append(("initial backup (tree): cairn ≤ 1/3 borg", "wall cairn/borg",
              ratio(g("tree", "backup", "cairn", "wall"), g("tree", "backup", "borg", "wall")), 1 / 3, False))
    T.append(("unchanged re-backup (tree): cairn ≤ 1/5 restic", "wall cairn/restic",
              ratio(g("tree", "rebackup", "cairn", "wall"), g("tree", "rebackup", "restic", "wall")), 1 / 5, False))
    T.append(("modified copy (tree): cairn ≤ 1/3 restic", "wall cairn/restic",
              ratio(g("tree", "modified", "cairn", "wall"), g("tree", "modified", "restic", "wall")), 1 / 3, False))

    def thrput(tool):
        i, wl = g("file", "backup", tool, "input"), g("file", "backup", tool, "wall")
        return i / wl if i and wl else None

    T.append(("mixed file backup: cairn ≥ 2× borg-lz4 throughput", "throughput cairn/borg",
              ratio(thrput("cairn"), thrput("borg")), 2.0, True))
    for scen, label in (("tree", "tree"), ("file", "mixed file")):
        T.append((f"restore ({label}): cairn ≤ 1/2 restic", "wall cairn/restic",
                  ratio(g(scen, "restore", "cairn", "wall"), g(scen, "restore", "restic", "wall")), 0.5, False))
        T.append((f"restore ({label}): cairn ≤ tar -x", "wall cairn/tar",
                  ratio(g(scen, "restore", "cairn", "wall"), g(scen, "restore", "tar", "wall")), 1.0, False))
    for scen, step, label in (("tree", "modified", "tree, after the 3 snapshots"),
                              ("file", "backup", "mixed file")):
        T.append((f"repository size ({label}): cairn ≤ restic", "repo cairn/restic",
                  ratio(g(scen, step, "cairn", "repo"), g(scen, step, "restic", "repo")), 1.0, False))
    worst = None
    worst_at = ""
    for (scen, step, _) in STEPS:
        r = ratio(g(scen, step, "cairn", "rss"), g(scen, step, "restic", "rss"))
        if r is not None and (worst is None or r > worst):
            worst, worst_at = r, f"{scen} {step}"
    T.append(("peak RSS: cairn ≤ restic (worst step" + (f": {worst_at}" if worst_at else "") + ")",
              "RSS cairn/restic", worst, 1.0, False))

    interference(w, meta, rows, lambda r: f"{r['tool']} {r['scenario']} {r['step']}", "raw.csv")
    def targets_table(first, rows):
        w(f"| {first} | measure | measured | limit | met |")
        w("|---|---|---:|---:|---|")
        for (name, what, r, limit, at_least) in rows:
            val, met = check(r, limit, at_least)
            lim = ("≥ " if at_least else "≤ ") + f"{limit:.3f}"
            w(f"| {name} | {what} | {val} | {lim} | {met} |")
        w("")

    w("## Targets from the issue")
    w("")
    targets_table("target", T)
    if any(k[2] == "cairn-z1" for k in stats):
        # The other end of the speed/size trade-off: not the default, so not
        # the targets, but the same yardsticks.
        Z = [("initial backup (tree) ≤ 1/3 restic", "wall cairn-z1/restic",
              ratio(g("tree", "backup", "cairn-z1", "wall"), g("tree", "backup", "restic", "wall")), 1 / 3, False),
             ("mixed file backup ≥ 2× borg-lz4 throughput", "throughput cairn-z1/borg",
              ratio(thrput("cairn-z1"), thrput("borg")), 2.0, True)]
        for scen, step, label in (("tree", "modified", "tree, after the 3 snapshots"),
                                  ("file", "backup", "mixed file")):
            Z.append((f"repository size ({label}) ≤ restic", "repo cairn-z1/restic",
                      ratio(g(scen, step, "cairn-z1", "repo"), g(scen, step, "restic", "repo")), 1.0, False))
        w("The same yardsticks for `backup --compression 1` (cairn-z1), the other end of the "
          "speed/size trade-off (docs/cli/backup.md):")
        w("")
        targets_table("yardstick", Z)
    w(f"Raw per-run numbers: `{meta.get('raw_rel', 'results/raw.csv')}` (one row per tool, step "
      f"and run, with exit code, restore check, sync time after the step, other processes' CPU time "
      f"and the load average).")
    w("")
    with open(out, "w") as fh:
        fh.write("\n".join(L))


# ---------------------------------------------------------------- retention report

RET_TOOLS = ["restic", "cairn"]
RET_STEPS = [
    ("prune", "prune with the tool's default (restic: `--max-unused 5%`)"),
    ("prune-max0", "prune --max-unused 0 (no unused data left)"),
    ("forget", "forget --keep-last K"),
    ("copy", "copy of every snapshot into a fresh local repository"),
    ("backup-1", "first backup (fresh repository), for scale"),
]


def report_retention(raw, metapath, out, bench_id):
    meta = load_meta(metapath)
    rows = [r for r in csv.DictReader(open(raw)) if r["bench"] == bench_id]
    missing = set(filter(None, meta.get("cairn_missing", "").split(",")))
    keep = meta.get("keep", "K")
    stats = {}
    for step, _ in RET_STEPS:
        for tool in RET_TOOLS:
            rs = [r for r in rows if r["step"] == step and r["tool"] == tool]
            if rs:
                stats[(step, tool)] = step_stats(
                    rs, {"before": "repo_before_bytes", "after": "repo_bytes", "cache": "cache_bytes"})

    L = []
    w = L.append
    run_header(w, meta, "cairn retention benchmark: forget, prune and copy, cairn and restic side by side",
               "bench/run-retention.sh",
               f"- series: {meta.get('snapshots', '?')} snapshots, then `forget --keep-last {keep}`")
    w(f"- work dir: `{meta.get('work', '?')}` on {meta.get('workfs', '?')}")
    w(f"- load average at start / end: {meta.get('load_start', '?')} / {meta.get('load_end', '?')}")
    w("")
    w("| tool | version and settings |")
    w("|---|---|")
    if "cairn_version" in meta:
        w(f"| cairn | {meta['cairn_version']}, commit {meta.get('cairn_commit', '?')}, "
          f"`meson --buildtype=release` in `build-bench`" +
          (f"; **no {', no '.join('`' + v + '`' for v in sorted(missing))} verb in this build: "
           f"not measured**" if missing else "") + " |")
    if "restic_version" in meta:
        w(f"| restic | {meta['restic_version']}; repository format version "
          f"{meta.get('restic_repo_version', '?')}, default compression (`auto`) |")
    w("")
    data_and_method(w, meta, [f"- tree: {meta.get('tree_desc', '?')}",
                              f"- churn between two snapshots (the first step): {meta.get('churn_desc', '?')}"])
    w("Wall: median seconds (min–max over the runs). CPU: user+sys seconds. RSS: peak resident set "
      "(GNU time `%M`). Repo before/after: `du -sb` of the repository before and after the step "
      "(copy: of the destination). Freed: before − after. Cache: `du -sb` of restic's cache after "
      "the step. Ratios below 1 mean cairn is faster or smaller.")
    w("")
    for step, title in RET_STEPS:
        present = [t for t in RET_TOOLS if (step, t) in stats]
        if not present and not (step.startswith("prune") or step == "copy"):
            continue
        w(f"### {title.replace('K', keep) if step == 'forget' else title}")
        w("")
        w("| tool | wall s | CPU s | peak RSS MiB | repo before MiB | repo after MiB | freed MiB | cache MiB | runs ok |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---|")
        for t in RET_TOOLS:
            s = stats.get((step, t))
            verb = "copy" if step == "copy" else "prune" if step.startswith("prune") else None
            if not s:
                if t == "cairn" and verb in missing:
                    w(f"| {t} | not measured: this cairn has no `{verb}` verb | | | | | | | |")
                continue
            wall = fmt(s["wall"])
            if s["wall_min"] is not None and s["ok"] > 1:
                wall += f" ({fmt(s['wall_min'])}–{fmt(s['wall_max'])})"
            freed = s["before"] - s["after"] if s["before"] is not None and s["after"] is not None else None
            if step not in ("forget", "prune", "prune-max0"):
                freed = None
            ok = f"{s['ok']}/{s['n']}"
            if s["fail"]:
                ok += " (" + "; ".join(s["fail"]) + ")"
            w(f"| {t} | {wall} | {fmt(s['cpu'])} | {fmt(s['rss'], 1)} | {fmt(s['before'], 1)} | "
              f"{fmt(s['after'], 1)} | {fmt(freed, 1)} | {fmt(s['cache'], 1) if t == 'restic' else '–'} | {ok} |")
        c, o = stats.get((step, "cairn")), stats.get((step, "restic"))
        if c and o:
            w(f"| **cairn/restic** | {fratio(ratio(c['wall'], o['wall']))} | {fratio(ratio(c['cpu'], o['cpu']))} | "
              f"{fratio(ratio(c['rss'], o['rss']))} | {fratio(ratio(c['before'], o['before']))} | "
              f"{fratio(ratio(c['after'], o['after']))} | | | |")
        w("")

    interference(w, meta, rows, lambda r: f"{r['tool']} {r['step']}", "the CSV")
    w(f"Raw per-run numbers: `{meta.get('raw_rel', 'retention.csv')}`, rows of bench `{bench_id}` "
      f"(one row per tool, step and run: every backup of the series, copy, forget and both prunes, "
      f"with exit code, check result, repository sizes, snapshot count, sync time after the step, "
      f"other processes' CPU time and the load average; earlier benches stay in the file).")
    w("")
    with open(out, "w") as fh:
        fh.write("\n".join(L))


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "modify":
        modify(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 7 and sys.argv[1] == "churn":
        modify(sys.argv[2], int(sys.argv[3]), *(float(a) for a in sys.argv[4:7]), tag=f"s{sys.argv[3]}-")
    elif len(sys.argv) == 6 and sys.argv[1] == "report-retention":
        report_retention(*sys.argv[2:6])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
