"""Synthetic operator throughput: records per second and peak memory for N usage records, beside the time
plain pyarrow takes to write the same number of rows of random columns (same Parquet options, one process).

    python bench/bench_synth.py                 # 50 M records (30 days)
    python bench/bench_synth.py 5000000         # or FAIRTEL_BENCH_RECORDS=5000000
    python bench/bench_synth.py 5000000 --keep --out /tmp/op --workers 2
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from fairtel.synth import subscribers_for, synthesize
from fairtel.synth._usage import PARQUET_OPTIONS

DAYS = 30
REF_CHUNK = 1_000_000


def _rss_mb() -> tuple[float, float]:
    """Peak resident memory (MB) of this process and of its largest child (Linux reports kB)."""
    me = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return me, kids


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def reference(rows: int, out: Path) -> float:
    """Write ``rows`` rows of 19 random columns (ints, floats, strings) to Parquet, 1 M rows per file."""
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    done = part = 0
    while done < rows:
        n = min(REF_CHUNK, rows - done)
        cols: dict[str, pa.Array] = {f"i{k}": pa.array(rng.integers(0, 10**12, n)) for k in range(9)}
        cols.update({f"f{k}": pa.array(rng.random(n)) for k in range(4)})
        cols.update({f"s{k}": pa.array(rng.integers(10**12, 10**13, n)).cast(pa.string()) for k in range(6)})
        pq.write_table(pa.table(cols), out / f"ref-{part:05d}.parquet", **PARQUET_OPTIONS)
        done += n
        part += 1
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("records", nargs="?", type=int, default=int(os.environ.get("FAIRTEL_BENCH_RECORDS", 50_000_000)))
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: a temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the output")
    args = ap.parse_args()

    subscribers = subscribers_for(args.records, args.days)
    base = args.out or Path(tempfile.mkdtemp(prefix="fairtel-bench-synth-"))
    op = base / "operator"
    print(f"synth: {subscribers:,} subscribers x {args.days} days (target {args.records:,} records) -> {op}",
          flush=True)
    cpu0 = _cpu_s()
    s = synthesize(op, subscribers=subscribers, days=args.days, seed=1, workers=args.workers)
    cpu = _cpu_s() - cpu0
    me, kids = _rss_mb()
    size = sum(p.stat().st_size for p in op.rglob("*") if p.is_file()) / 1e9
    print(f"synth: {s.usage_records:,} usage records in {s.usage_files} files, {size:.2f} GB, {s.elapsed_s:.1f} s "
          f"-> {s.usage_records / s.elapsed_s:,.0f} records/s", flush=True)
    print(f"synth: {cpu:.1f} CPU s (user + system, this process and its workers) -> "
          f"{s.usage_records / cpu:,.0f} records per CPU second; load average now {os.getloadavg()[0]:.1f}",
          flush=True)
    print(f"synth: peak RSS {me:,.0f} MB (main process), {kids:,.0f} MB (largest worker)", flush=True)
    ref_dir = base / "reference"
    ref_dir.mkdir(parents=True, exist_ok=True)
    cpu0 = _cpu_s()
    ref_s = reference(s.usage_records, ref_dir)
    ref_cpu = _cpu_s() - cpu0
    print(f"reference: pyarrow writes {s.usage_records:,} rows x 19 random columns in {ref_s:.1f} s "
          f"({ref_cpu:.1f} CPU s) -> {s.usage_records / ref_s:,.0f} rows/s (one process)", flush=True)
    print(f"ratio synth/reference time: {s.elapsed_s / ref_s:.2f}", flush=True)
    shutil.rmtree(ref_dir, ignore_errors=True)
    if not args.keep:
        shutil.rmtree(op if args.out else base, ignore_errors=True)


if __name__ == "__main__":
    main()
