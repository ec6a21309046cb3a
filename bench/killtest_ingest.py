"""kill -9 ingest at random moments, many times, then finish it: the result must be identical to one
uninterrupted run (same accepted records, rejects, registry and held partial parts; nothing in flight, no
temporary file left).

    python bench/killtest_ingest.py                      # 5 files x 200 000 records, 20 kills
    python bench/killtest_ingest.py --files 8 --rows 500000 --kills 50 --dir /tmp/killtest

Inputs are canonical CSV with ~10 % duplicate keys (within and across files), bad lines and data sessions
split into parts across files, so every path of the commit protocol is exercised.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

HEADER = "record_id,source,msisdn,kind,direction,started_at,duration_s,bytes_up,bytes_down,peer,session_id,seq,final\n"

DRIVER = """
import sys
from fairtel.core.settings import Settings
from fairtel.mediation import ingest_files
ingest_files(sys.argv[3:], settings=Settings(home=sys.argv[1], batch_size=int(sys.argv[2])))
"""


def make_inputs(d: Path, *, files: int, rows: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    out = []
    for f in range(files):
        p = d / f"feed-{f}.csv"
        out.append(p)
        if p.exists():
            continue
        lines = [HEADER]
        for i in range(rows):
            rid = f"r{rng.randrange(files * rows * 9 // 10)}"
            day = 1 + i * 27 // rows
            roll = rng.random()
            if roll < 0.02:
                lines.append(f"{rid},sw1,8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,-1,,,1,,,\n")
            elif roll < 0.07:
                seq = rng.randrange(1, 4)
                lines.append(f"p{f}-{i},pgw,8613800138001,data,,2026-11-{day:02d}T09:00:00+08:00,,10,100,,"
                             f"s{rng.randrange(max(rows // 20, 1))},{seq},{'true' if seq == 3 else 'false'}\n")
            else:
                lines.append(f"{rid},sw1,8613800138000,voice,out,2026-11-{day:02d}T08:00:00+08:00,{i % 600},,,"
                             f"8613900139000,,,\n")
        p.write_text("".join(lines))
    return out


def snapshot(home: Path) -> dict[str, Any]:
    files = [str(f) for f in (home / "lake" / "usage").glob("period=*/*.parquet")]
    rows = duckdb.sql(f"SELECT * FROM read_parquet({files}) ORDER BY source, record_id").fetchall() if files else []
    rejects = sorted(line for f in (home / "rejects").glob("*.jsonl") for line in f.read_text().splitlines())
    with sqlite3.connect(home / "mediation" / "state.sqlite") as c:
        registry = sorted(c.execute("SELECT content_hash, read, accepted, rejected, duplicate, held, emitted FROM files"))
        held = sorted(c.execute("SELECT source, record_id FROM partials"))
        inflight = c.execute("SELECT COUNT(*) FROM inflight").fetchone()[0]
    return {"rows": rows, "rejects": rejects, "registry": registry, "held": held, "inflight": inflight,
            "temps": sorted(str(p) for p in home.rglob("*.tmp"))}


def committed(home: Path) -> int:
    db = home / "mediation" / "state.sqlite"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as c:
        try:
            return int(c.execute("SELECT COUNT(*) FROM files").fetchone()[0])
        except sqlite3.OperationalError:  # killed before the schema was created
            return 0


def run(home: Path, files: list[Path], batch: int) -> list[str]:
    return [sys.executable, "-c", DRIVER, str(home), str(batch), *map(str, files)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=5)
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--batch-size", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/fairtel-killtest"))
    a = ap.parse_args()
    rng = random.Random(a.seed)
    files = make_inputs(a.dir / "in", files=a.files, rows=a.rows, seed=a.seed)
    ref, home = a.dir / "reference", a.dir / "killed"
    shutil.rmtree(ref, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    t0 = time.perf_counter()
    subprocess.run(run(ref, files, a.batch_size), check=True)
    full = time.perf_counter() - t0
    reference = snapshot(ref)
    print(f"reference: {len(reference['rows']):,} records, {len(reference['rejects']):,} rejects, "
          f"{len(reference['held']):,} parts held, {full:.1f} s", flush=True)
    landed = 0
    for k in range(a.kills):
        proc = subprocess.Popen(run(home, files, a.batch_size))
        time.sleep(rng.uniform(0.05, 1.0) * full)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += 1
        proc.wait()
        done = committed(home)
        print(f"kill {k + 1}: {'killed' if proc.returncode == -signal.SIGKILL else 'finished first'}; "
              f"{done}/{len(files)} files committed", flush=True)
    subprocess.run(run(home, files, a.batch_size), check=True)
    after = snapshot(home)
    checks = {k: after[k] == reference[k] for k in ("rows", "rejects", "registry", "held")}
    checks["nothing in flight"] = after["inflight"] == 0
    checks["no temporary files"] = not after["temps"]
    for name, ok in checks.items():
        print(f"{name:20} {'identical' if ok and name in reference else 'ok' if ok else 'DIFFERENT'}")
    ok = all(checks.values())
    print(f"{landed} of {a.kills} kills landed mid-run; results {'IDENTICAL' if ok else 'DIFFER'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
