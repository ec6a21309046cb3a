"""Local engine against Spark (local mode) on the same lake: throughput, the cost of partitions, cluster sizing.

    .venv/bin/python bench/bench_spark.py                          # 10 M and 50 M records (long on 2 cores)
    .venv/bin/python bench/bench_spark.py --records 10000000 --sweep-records 2000000

1. a base month from the synthetic operator (``fairtel.synth``, ``--base-subscribers``), ingested by
   mediation into a lake; it is tiled (every copy gets its own numbers, record ids and devices) up to each
   ``--records`` size, written as lake parts of clean usage, as mediation would; the register gives one line in
   ``OWNER_CHANGE_EVERY`` an owner change (过户: ``holder_since``) during the month, so the feature pass bounds
   those lines' records, ages and devices to the new customer's holding as production does;
2. for each size, ``LocalEngine`` and ``SparkEngine`` (``--master``, default local[N] with N = the machine's
   cores) rate the period (and, with ``--features``, compute the fraud features), each in its own child
   process so memory and JVM state never carry over; every run writes the lake datasets it would in
   production; each run's peak resident memory is reported per process: the driver's Python, and for Spark
   the JVM and the sum over its Python workers (``tree_peaks``);
3. Spark's cost against the number of subscriber groups / shuffle partitions on ``--sweep-records`` records;
4. a written estimate, from the measured per-core throughput, of the cluster needed for 33 billion records a
   day within the 15-minute timeliness target.

Nothing is written to the repository (``--work``, default a directory under /tmp, is kept for reruns).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

PERIOD = "2025-03"
DAILY_RECORDS = 33_000_000_000
WINDOW_S = 15 * 60
OWNER_CHANGE_EVERY = 20  # one line in 20 moves to another customer during the month, its activation kept


# --------------------------------------------------------------------------------------------- data
def base_month(work: Path, subscribers: int, seed: int) -> Path:
    """A synthetic operator's month, ingested: ``<work>/base`` with ``op/`` and ``home/lake/usage``."""
    from fairtel.core.settings import load_settings
    from fairtel.mediation import ingest_files
    from fairtel.synth import synthesize

    base = work / f"base-{subscribers}-{seed}"
    if (base / "done").exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    synthesize(base / "op", subscribers=subscribers, days=31, seed=seed, start=date(2025, 3, 1))
    ingest_files(sorted((base / "op" / "usage").iterdir()), settings=load_settings(home=base / "home"),
                 flush_partials=True)
    (base / "done").touch()
    return base


def with_owner_changes(subs: pl.DataFrame) -> pl.DataFrame:
    """``subs`` with ``holder_since`` (UTC): every ``OWNER_CHANGE_EVERY``-th line moved to another customer at local
    midnight (UTC+8) of one of the days 2 to 29 of the month, spread over them, when the line was activated before that
    (the others, and a line activated later, none)."""
    activated = pl.col("activated_at").cast(pl.String).str.to_datetime(time_zone="UTC", time_unit="us")
    day = pl.int_range(pl.len()) // OWNER_CHANGE_EVERY % 28
    change = pl.lit(datetime(2025, 2, 28, 16, tzinfo=UTC)).dt.cast_time_unit("us") + pl.duration(days=day + 1)
    moved = (pl.int_range(pl.len()) % OWNER_CHANGE_EVERY == OWNER_CHANGE_EVERY - 1) & (activated < change)
    return subs.with_columns(pl.when(moved).then(change).otherwise(None).alias("holder_since"))


def tiled(work: Path, base: Path, records: int) -> Path:
    """A home whose usage lake holds ``records`` records: copies of the base month for new subscribers."""
    home = work / f"lake-{records}"
    usage_dir = home / "lake" / "usage" / f"period={PERIOD}"
    if (home / "done").exists():
        kept = pl.read_parquet(home / "subscribers.parquet")
        if "holder_since" not in kept.columns:  # a lake tiled before the register had owner changes
            with_owner_changes(kept).write_parquet(home / "subscribers.parquet")
        return home
    shutil.rmtree(home, ignore_errors=True)
    usage_dir.mkdir(parents=True)
    parts = sorted((base / "home" / "lake" / "usage" / f"period={PERIOD}").glob("*.parquet"))
    base_usage = pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
    subs = pl.read_csv(base / "op" / "subscribers.csv", schema_overrides={"msisdn": pl.String})
    index = subs.select("msisdn").with_row_index("_i")
    n_subs = subs.height
    schema = pq.read_schema(parts[0])
    written, copy, all_subs = 0, 0, []
    while written < records:
        offset = copy * n_subs
        ids = index.with_columns(("86" + (pl.col("_i").cast(pl.Int64) + 15_000_000_000 + offset).cast(pl.String))
                                 .alias("_new"))
        chunk = base_usage.head(records - written).join(ids, on="msisdn", how="left").with_columns(
            pl.coalesce("_new", pl.col("msisdn")).alias("msisdn"),
            (pl.lit(f"t{copy}-") + pl.col("record_id")).alias("record_id"),
            pl.when(pl.col("imei").is_not_null()).then(pl.col("imei") + f"-{copy}").alias("imei"),
        ).drop("_i", "_new")
        pq.write_table(chunk.to_arrow().select(schema.names).cast(schema), usage_dir / f"copy-{copy:05d}.parquet",
                       compression="zstd")
        all_subs.append(subs.join(ids, on="msisdn").with_columns(pl.col("_new").alias("msisdn")).drop("_i", "_new"))
        written += chunk.height
        copy += 1
    with_owner_changes(pl.concat(all_subs)).write_parquet(home / "subscribers.parquet")
    shutil.copy(base / "op" / "catalog.toml", home / "catalog.toml")
    shutil.copy(base / "op" / "consent" / "events.jsonl", home / "consent.jsonl")
    (home / "done").touch()
    return home


# --------------------------------------------------------------------------------------------- one run
def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Child process: one engine, one task, on a fresh copy of the results of ``spec['home']``."""
    from fairtel.catalog import load_catalog
    from fairtel.consent import project_subscriptions, read_consent_events
    from fairtel.core.settings import load_settings
    from fairtel.engines import LocalEngine, SparkEngine, spark_session
    from fairtel.rating import consent_gate

    home = Path(spec["home"])
    catalog = load_catalog(home / "catalog.toml")
    subs = pl.read_parquet(home / "subscribers.parquet")
    settings = load_settings(home=home, batch_size=spec["batch_size"])
    t0 = time.perf_counter()
    if spec["engine"] == "spark":
        conf = {"spark.sql.shuffle.partitions": str(spec["partitions"]), "spark.driver.memory": spec["driver_memory"]}
        engine: Any = SparkEngine(spark=spark_session(spec["master"], conf=conf), groups=spec.get("groups"))
    else:
        engine = LocalEngine()
    started = time.perf_counter() - t0
    t1 = time.perf_counter()
    if spec["task"] == "rate":
        gate = consent_gate(project_subscriptions(read_consent_events([home / "consent.jsonl"]).events), catalog)
        summary = engine.rate_period(settings, PERIOD, catalog=catalog, subscribers=subs.select("msisdn", "plan_id"),
                                     gate=gate).to_dict()
    else:
        summary = engine.features(settings, PERIOD, catalog=catalog,
                                  subscribers=subs.select("msisdn", "activated_at", "holder_since")).to_dict()
    seconds = time.perf_counter() - t1
    jvm_mb, workers_mb = tree_peaks()  # before the session stops: the JVM and its Python workers are still there
    engine.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "startup_s": started, "records": summary["records"], "rss_mb": rss_mb,
            "jvm_mb": jvm_mb, "workers_mb": workers_mb,
            "groups": summary.get("batches"), "summary": {k: v for k, v in summary.items() if k in ("lines", "rows")}}


def tree_peaks() -> tuple[float | None, float | None]:
    """Peak resident memory (MB) of this process's descendants: the JVM (``java``, which a local-mode Spark driver
    starts) and the sum over the Python processes under it (Spark's Python workers, alive at the end: Spark
    reuses them). Each process's own peak (``VmHWM``); (None, None) without descendants (the local engine) or
    where /proc is not there. psutil finds the descendants when it is installed, else /proc's parent links."""
    me = os.getpid()
    try:
        import psutil

        kids = [p.pid for p in psutil.Process(me).children(recursive=True)]
    except ImportError:
        kids = _proc_descendants(me)
    jvm, workers = None, None
    for pid in kids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if "VmHWM" not in fields:
            continue
        peak = int(fields["VmHWM"].split()[0]) / 1024
        name = fields.get("Name", "").strip()
        if name == "java":
            jvm = max(jvm or 0.0, peak)
        elif name.startswith("python"):
            workers = (workers or 0.0) + peak
    return jvm, workers


def _proc_descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])  # after "pid (name) state"
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        for kid in parents.get(todo.pop(), []):
            out.append(kid)
            todo.append(kid)
    return out


def child(spec: dict[str, Any]) -> dict[str, Any]:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"child failed: {spec}\n{proc.stderr[-4000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t
    return out


# --------------------------------------------------------------------------------------------- report
def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def estimate(per_core: float, *, peak: float, overhead: float, cores_per_node: int) -> list[str]:
    need_avg = DAILY_RECORDS / 86_400
    need_peak = need_avg * peak
    need_day = DAILY_RECORDS / WINDOW_S
    cores_peak = need_peak * overhead / per_core
    cores_day = need_day * overhead / per_core
    return [
        f"measured Spark rating throughput: {per_core:,.0f} records/s per core (this machine, local mode)",
        f"33e9 records/day = {need_avg:,.0f} records/s on average; with a busy-hour factor of {peak:g}: {need_peak:,.0f}/s",
        f"timeliness (each 15-minute batch rated within 15 minutes): {need_peak * WINDOW_S / 1e6:,.0f} M records per "
        f"window at peak -> {cores_peak:,.0f} cores (x{overhead:g} for cluster shuffle, stragglers and retries) "
        f"= {cores_peak / cores_per_node:,.0f} nodes of {cores_per_node} cores",
        f"worst case (a whole day's 33e9 records re-rated within 15 minutes): {need_day:,.0f}/s -> {cores_day:,.0f} cores "
        f"= {cores_day / cores_per_node:,.0f} nodes of {cores_per_node} cores",
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", default="10000000,50000000", help="comma-separated sizes")
    ap.add_argument("--sweep-records", type=int, default=2_000_000, help="size of the partition sweep (0: none)")
    ap.add_argument("--sweep", default="2,8,32,128", help="shuffle partitions (= subscriber groups) to sweep")
    ap.add_argument("--base-subscribers", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--batch-size", type=int, default=2_000_000,
                    help="records per subscriber group (Spark: at least twice --partitions groups, so smaller "
                         "groups when records / batch size is less)")
    ap.add_argument("--partitions", type=int, default=0, help="Spark shuffle partitions (default: 2 x cores)")
    ap.add_argument("--master", default=f"local[{os.cpu_count() or 2}]")
    ap.add_argument("--driver-memory", default="6g")
    ap.add_argument("--features", action="store_true", help="also time the fraud feature pass")
    ap.add_argument("--work", type=Path, default=Path("/tmp/fairtel-bench-spark"))
    ap.add_argument("--peak", type=float, default=2.5, help="busy-hour / average traffic ratio for the estimate")
    ap.add_argument("--overhead", type=float, default=1.5, help="cluster overhead factor for the estimate")
    ap.add_argument("--cores-per-node", type=int, default=16)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run(json.loads(args.child))))
        return

    cores = os.cpu_count() or 2
    partitions = args.partitions or 2 * cores
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {cores} cores, load average {os.getloadavg()[0]:.1f} at start; master {args.master}")
    t = time.perf_counter()
    base = base_month(args.work, args.base_subscribers, args.seed)
    print(f"base month: {args.base_subscribers} subscribers ({time.perf_counter() - t:.0f} s)")
    common = {"batch_size": args.batch_size, "master": args.master, "driver_memory": args.driver_memory,
              "partitions": partitions}
    spark_rates: list[float] = []
    tasks = ["rate", "features"] if args.features else ["rate"]
    print("\npeak resident MB: 'driver' is the driver's Python process (all of the local engine); for Spark 'JVM' is "
          "the driver's JVM (in local mode also the executor) and 'workers' the sum over its Python workers")
    print(f"{'records':>12} {'task':>9} {'engine':>6} {'seconds':>8} {'records/s':>11} {'per core':>9} {'groups':>6} "
          f"{'driver':>7} {'JVM':>7} {'workers':>7}")
    for size in [int(s) for s in args.records.split(",") if s]:
        home = tiled(args.work, base, size)
        for task in tasks:
            for engine in ("local", "spark"):
                r = child({**common, "home": str(home), "engine": engine, "task": task})
                rate = r["records"] / r["seconds"]
                per_core = rate / cores  # Polars uses every core too
                if engine == "spark" and task == "rate":
                    spark_rates.append(per_core)
                print(f"{r['records']:>12,} {task:>9} {engine:>6} {r['seconds']:>8.1f} {rate:>11,.0f} {per_core:>9,.0f} "
                      f"{r['groups'] or '':>6} {r['rss_mb']:>7,.0f} {_mb(r.get('jvm_mb')):>7} "
                      f"{_mb(r.get('workers_mb')):>7}   {r['summary']}", flush=True)
    if args.sweep_records:
        home = tiled(args.work, base, args.sweep_records)
        print(f"\nSpark cost against partitions ({args.sweep_records:,} records; groups = shuffle partitions)")
        print(f"{'partitions':>10} {'seconds':>8} {'records/s':>11}")
        for p in [int(s) for s in args.sweep.split(",") if s]:
            r = child({**common, "home": str(home), "engine": "spark", "task": "rate", "partitions": p, "groups": p})
            print(f"{p:>10} {r['seconds']:>8.1f} {r['records'] / r['seconds']:>11,.0f}", flush=True)
    if spark_rates:
        print("\nEstimate (assumptions: rating dominates; throughput scales linearly with cores, as the groups are "
              "independent; the busy hour and overhead factors are options)")
        for line in estimate(min(spark_rates), peak=args.peak, overhead=args.overhead, cores_per_node=args.cores_per_node):
            print("  " + line)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
