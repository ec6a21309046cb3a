"""Rating throughput: synthetic clean usage in the lake → rated lines in Parquet, beside a DuckDB reference.

    .venv/bin/python bench/bench_rating.py --records 50000000        # the issue's size (several minutes)
    .venv/bin/python bench/bench_rating.py --records 2000000 --keep  # quick look, keeps the files

1. generates ``--records`` clean usage records (CLEAN_USAGE_SCHEMA, vectorised with NumPy/Polars) for
   ``--subscribers`` subscribers over the demo plans, written as lake parts of ``--file-rows`` rows
   (``<work>/lake/usage/period=2026-03/part-*.parquet``), as mediation would;
2. rates them end to end in a child process with ``LocalEngine`` (``--workers`` processes), as ``fairtel rate``
   does: the lake is split once into hash buckets of whole subscribers (``--batch-records`` per bucket bounds
   memory; with at most four buckets, each bucket reads the lake parts itself instead), each bucket goes through ``fairtel.rating.rate`` (zones, bands, rule resolution, rate steps,
   allowances, daily caps, VAS gate) and its rated lines are written as a Parquet part;
3. runs the reference in another child: one DuckDB SQL statement that does the bare minimum (join each record
   to a per-minute rate by the destination's two-digit prefix, multiply the started minutes, write Parquet).

Prints records/s, wall time and peak RSS of each child, and the ratio. Nothing is written to the repository.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

PERIOD = "2026-03"
PLANS = ("basic-39", "unlimited-129", "payg", "senior-19")
INTL = ("85261234567", "85366123456", "886212345678", "12025550100", "442071234567", "4930123456", "81312345678",
        "2391234567", "2393123456", "8821234567", "7495123456", "61212345678")
ROAM = ("HK", "JP", "US", "TH", "FR", "ZZ")
OFFERS = ("vas-music-10", "vas-horoscope-6", "vas-news-5")


def msisdns(idx: np.ndarray) -> pl.Series:
    return pl.Series(idx + 8613800000000, dtype=pl.Int64).cast(pl.String)


def generate_part(rng: np.random.Generator, n: int, first: int, subscribers: int) -> pl.DataFrame:
    """``n`` clean usage records, record ids from ``first``; a realistic mix of kinds and destinations."""
    kind_code = rng.choice(4, size=n, p=[0.45, 0.20, 0.345, 0.005])
    start_us = int(np.datetime64("2026-02-28T16:00:00", "us").astype(np.int64))
    raw = pl.DataFrame({
        "_i": np.arange(first, first + n, dtype=np.int64),
        "_k": kind_code.astype(np.int8),
        "_src": rng.integers(0, 3, size=n, dtype=np.int8),
        "_sub": rng.integers(0, subscribers, size=n, dtype=np.int64) + 8613800000000,
        "_t": start_us + rng.integers(0, (31 * 86400 - 1) * 1_000_000, size=n),
        "_out": rng.random(n) < 0.6,
        "_dur": rng.exponential(120, size=n).astype(np.int64),
        "_up": rng.lognormal(13, 1.5, size=n).astype(np.int64),
        "_down": rng.lognormal(15, 1.8, size=n).astype(np.int64),
        "_dom": rng.random(n) < 0.92,
        "_peer": rng.integers(0, 10**10, size=n, dtype=np.int64) + 8613000000000,
        "_intl": rng.integers(0, len(INTL), size=n, dtype=np.int64),
        "_roam": rng.random(n) < 0.02,
        "_rc": rng.integers(0, len(ROAM), size=n, dtype=np.int64),
        "_offer": rng.integers(0, len(OFFERS), size=n, dtype=np.int64),
    })
    voice, sms, data, vas = (pl.col("_k") == i for i in range(4))
    talk = voice | sms
    pick = lambda values, idx: pl.lit(pl.Series(values)).gather(pl.col(idx))  # noqa: E731
    return raw.select(
        pl.col("_i").cast(pl.String).alias("record_id"),
        pick(["msc-1", "msc-2", "pgw-1"], "_src").alias("source"),
        pl.col("_sub").cast(pl.String).alias("msisdn"),
        pick(["voice", "sms", "data", "vas"], "_k").alias("kind"),
        pl.when(talk).then(pl.when(pl.col("_out")).then(pl.lit("out")).otherwise(pl.lit("in"))).alias("direction"),
        pl.col("_t").cast(pl.Datetime("us")).dt.replace_time_zone("UTC").alias("started_at"),
        pl.when(voice).then(pl.col("_dur")).alias("duration_s"),
        pl.when(data).then(pl.col("_up")).alias("bytes_up"),
        pl.when(data).then(pl.col("_down")).alias("bytes_down"),
        pl.when(talk).then(
            pl.when(pl.col("_dom")).then(pl.col("_peer").cast(pl.String)).otherwise(pick(list(INTL), "_intl"))
        ).alias("peer"),
        pl.when(vas).then(pick(list(OFFERS), "_offer")).alias("offer_id"),
        pl.when(vas).then(pl.lit(1000, dtype=pl.Int64)).alias("amount_minor"),
        pl.when(vas).then(pl.lit("CNY")).alias("currency"),
        pl.when(pl.col("_roam")).then(pick(list(ROAM), "_rc")).alias("roaming_country"),
    )


def generate(work: Path, records: int, subscribers: int, file_rows: int, seed: int) -> list[Path]:
    from fairtel.core.contracts import CLEAN_USAGE_SCHEMA

    out = work / "lake" / "usage" / f"period={PERIOD}"
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files = []
    done = 0
    i = 0
    while done < records:
        n = min(file_rows, records - done)
        frame = generate_part(rng, n, done, subscribers)
        table = frame.to_arrow()
        for f in CLEAN_USAGE_SCHEMA:
            if f.name not in table.column_names:
                import pyarrow as pa

                table = table.append_column(f.name, pa.nulls(n, f.type))
        table = table.select(CLEAN_USAGE_SCHEMA.names).cast(CLEAN_USAGE_SCHEMA)
        path = out / f"part-{i:05d}.parquet"
        import pyarrow.parquet as pq

        pq.write_table(table, path, compression="zstd", compression_level=1)
        files.append(path)
        done += n
        i += 1
    rng_subs = np.random.default_rng(seed + 1)
    subs = pl.DataFrame({
        "msisdn": msisdns(np.arange(subscribers)),
        "plan_id": pl.Series(np.array(PLANS)[rng_subs.choice(4, size=subscribers, p=[0.45, 0.2, 0.2, 0.15])]),
    })
    subs.write_parquet(work / "subscribers.parquet")
    return files


USAGE_COLUMNS = ("record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up",
                 "bytes_down", "peer", "offer_id", "amount_minor", "currency", "roaming_country")


def run_fairtel(work: Path, batch_records: int, workers: int) -> dict[str, object]:
    """Child process: lake → rated lines, as ``fairtel rate`` does (``LocalEngine.rate_period``: the lake split
    once into hash buckets of whole subscribers by worker processes, or read by each bucket when there are at most
    four, each bucket rated by the kernel and written as a Parquet part with zstd level 1)."""
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.core.settings import load_settings
    from fairtel.engines import LocalEngine

    catalog = load_catalog(default_catalog_path())
    subs = pl.read_parquet(work / "subscribers.parquet")
    settings = load_settings(home=work, batch_size=batch_records)
    engine = LocalEngine(workers=workers, parallel_from=0)
    cpu0 = _cpu()
    t0 = time.perf_counter()
    summary = engine.rate_period(settings, PERIOD, catalog=catalog, subscribers=subs)
    total_wall = time.perf_counter() - t0
    total_cpu = _cpu() - cpu0
    rows = summary.records
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "engine": "fairtel", "workers": workers, "records": rows, "batches": summary.groups, "lines": summary.lines,
        "amount_minor": summary.amount_minor, "wall_s": round(total_wall, 2),
        "records_per_s": round(rows / total_wall), "cpu_s": round(total_cpu, 2),
        "records_per_cpu_s": round(rows / total_cpu),
        "peak_rss_mib": _own_peak_mib(),
        # the workers start from this process while it is small, so their ``ru_maxrss`` is their own peak
        "worker_peak_rss_mib": children.ru_maxrss // 1024,
    }


def _own_peak_mib() -> int:
    """This process's own peak resident set (``VmHWM``). ``ru_maxrss`` would not do for a child of the benchmark:
    Linux counts in it the resident set of the process it was forked from, as it was when the child's program
    started (the benchmark's, after generating the records: about 1 GiB)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) // 1024
    except OSError:  # not Linux
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def _cpu() -> float:
    """CPU seconds of this process and its finished workers (all threads): the machine may be shared, so wall
    time alone misleads."""
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def run_duckdb(work: Path, threads: int) -> dict[str, object]:
    """Child process: the bare-minimum SQL reference."""
    import duckdb

    files = str(work / "lake" / "usage" / f"period={PERIOD}" / "*.parquet")
    out = work / "reference.parquet"
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute("CREATE TABLE rates AS SELECT lpad(CAST(i AS VARCHAR), 2, '0') AS prefix, "
                "CAST(CASE WHEN i = 86 THEN 15 WHEN i < 50 THEN 360 ELSE 800 END AS BIGINT) AS per_min_minor "
                "FROM range(100) t(i)")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{files}')").fetchone()
    cpu0 = _cpu()
    t0 = time.perf_counter()
    con.execute(
        f"COPY (SELECT u.record_id, u.source, u.msisdn, r.per_min_minor * CAST(ceil(coalesce(u.duration_s, 0) / 60.0) AS BIGINT) AS amount_minor "
        f"FROM read_parquet('{files}') u LEFT JOIN rates r ON r.prefix = substr(u.peer, 1, 2)) "
        f"TO '{out}' (FORMAT parquet, COMPRESSION zstd)"
    )
    wall = time.perf_counter() - t0
    n = int(rows[0]) if rows else 0
    cpu = _cpu() - cpu0
    return {"engine": "duckdb", "records": n, "wall_s": round(wall, 2), "records_per_s": round(n / wall),
            "cpu_s": round(cpu, 2), "records_per_cpu_s": round(n / cpu),
            "peak_rss_mib": _own_peak_mib()}


def child(args: list[str]) -> dict[str, object]:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=10_000_000)
    p.add_argument("--subscribers", type=int, default=0, help="default: one per 50 records")
    p.add_argument("--file-rows", type=int, default=1_000_000)
    p.add_argument("--batch-records", type=int, default=1_000_000)
    p.add_argument("--workers", type=int, default=2, help="rating processes (1: in the child itself)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=4)
    p.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the generated files")
    p.add_argument("--child", choices=["fairtel", "duckdb"], help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child == "fairtel":
        print(json.dumps(run_fairtel(a.work, a.batch_records, a.workers)))
        return
    if a.child == "duckdb":
        print(json.dumps(run_duckdb(a.work, a.threads)))
        return

    work = a.work or Path(tempfile.mkdtemp(prefix="fairtel-bench-rating-"))
    subscribers = a.subscribers or max(1, a.records // 50)
    try:
        t = time.perf_counter()
        existing = sorted((work / "lake" / "usage" / f"period={PERIOD}").glob("*.parquet"))
        if not existing or not (work / "subscribers.parquet").exists():
            generate(work, a.records, subscribers, a.file_rows, a.seed)
            print(f"generated {a.records:,} records for {subscribers:,} subscribers in {time.perf_counter() - t:.1f}s → {work}")
        env_threads = {"POLARS_MAX_THREADS": str(a.threads)}
        os.environ.update(env_threads)
        ours = child(["--child", "fairtel", "--work", str(work), "--batch-records", str(a.batch_records),
                      "--workers", str(a.workers)])
        ref = child(["--child", "duckdb", "--work", str(work), "--threads", str(a.threads)])
        print(json.dumps(ours))
        print(json.dumps(ref))
        ratio = float(ours["wall_s"]) / float(ref["wall_s"])  # type: ignore[arg-type]
        cpu_ratio = float(ours["cpu_s"]) / float(ref["cpu_s"])  # type: ignore[arg-type]
        print(f"fairtel: {ours['records_per_s']:,} records/s wall, {ours['records_per_cpu_s']:,} per CPU-s; "
              f"{ours['wall_s']} s wall, {ours['cpu_s']} CPU-s; peak RSS {ours['peak_rss_mib']} MiB main + "
              f"{ours['worker_peak_rss_mib']} MiB largest worker × {ours['workers']} workers; {ours['batches']} batches)")
        print(f"duckdb reference: {ref['records_per_s']:,} records/s wall, {ref['records_per_cpu_s']:,} per CPU-s; "
              f"{ref['wall_s']} s wall, {ref['cpu_s']} CPU-s, peak RSS {ref['peak_rss_mib']} MiB")
        print(f"fairtel / reference: {ratio:.2f}× wall, {cpu_ratio:.2f}× CPU (goal ≤ 2×); "
              "goals: ≥ 2,000,000 records/s, peak < 4096 MiB")
    finally:
        if not a.keep and a.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
