"""Timeliness of online rating: files dropped into an inbox at a sustained rate, ``fairtel watch --rate`` ingesting
and rating them; the share of records rated within 60 s of their file's arrival.

    .venv/bin/python bench/bench_watch.py                                  # 200 k records/s for 2 minutes
    .venv/bin/python bench/bench_watch.py --rate 100000 --files 6 --every 5  # a quick look

1. sets up a home (the demo catalog, ``--subscribers`` subscribers) and writes ``--files`` canonical Parquet files
   of ``rate × every`` records each (bench_ingest's generator: voice, SMS, data and VAS, one month);
2. starts ``fairtel watch INBOX --rate --interval 0.5`` and drops one file into the inbox every ``--every`` seconds
   (written beside it, then renamed in: arrival is the rename), so records arrive at ``--rate`` per second;
3. when every file is in done/ (or after ``--timeout``), stops the watcher and reads the rating log.

The lag of a record is from the rename of its file into the inbox (the bench's own clock, not the watcher's) to
the commit of its rated lines. Prints the share rated within 60 s (goal: 99.9 %) and within 15 minutes, the
lag percentiles by record, and the watcher's throughput, CPU seconds and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import chunk

PLANS = ("basic-39", "unlimited-129", "payg", "senior-19")


def setup(home: Path, subscribers: int) -> None:
    from fairtel.bootstrap import bootstrap
    from fairtel.catalog import default_catalog_path
    from fairtel.core.settings import load_settings
    from fairtel.store import import_subscribers, store_catalog

    home.parent.mkdir(parents=True, exist_ok=True)
    csv = home.parent / "subscribers.csv"
    rng = np.random.default_rng(1)
    plans = np.array(PLANS)[rng.choice(4, size=subscribers, p=[0.45, 0.2, 0.2, 0.15])]
    with csv.open("w", encoding="utf-8") as fh:
        fh.write("msisdn,customer_id,plan_id,activated_at,status,language,region\n")
        for i in range(subscribers):
            fh.write(f"{8613800000000 + i},c{i},{plans[i]},2025-01-01T00:00:00+08:00,active,zh,sh\n")
    app = bootstrap(load_settings(home=home))
    with app.db.begin() as conn:
        store_catalog(conn, default_catalog_path().read_text(encoding="utf-8"))
        import_subscribers(conn, csv)
    app.close()


def generate(staging: Path, files: int, per_file: int, subscribers: int) -> list[Path]:
    staging.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    out = []
    for k in range(files):
        table, _ = chunk(k * per_file, per_file, rng)
        msisdn = pa.array((8613800000000 + rng.integers(0, subscribers, per_file)).astype(str))
        table = table.set_column(table.column_names.index("msisdn"), "msisdn", msisdn)
        path = staging / f"cdr-{k:04d}.parquet"
        pq.write_table(table, path, compression="zstd")
        out.append(path)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rate", type=int, default=200_000, help="records per second arriving")
    p.add_argument("--every", type=float, default=5.0, help="seconds between files")
    p.add_argument("--files", type=int, default=24)
    p.add_argument("--subscribers", type=int, default=200_000)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the last file")
    p.add_argument("--dir", type=Path, default=None)
    a = p.parse_args()
    from fairtel.mediation._ingest import content_hash

    work = a.dir or Path(tempfile.mkdtemp(prefix="fairtel-bench-watch-"))
    shutil.rmtree(work, ignore_errors=True)
    home, inbox, staging = work / "home", work / "inbox", work / "staging"
    per_file = int(a.rate * a.every)
    t = time.perf_counter()
    setup(home, a.subscribers)
    files = generate(staging, a.files, per_file, a.subscribers)
    hashes = {content_hash(f): f.name for f in files}
    print(f"set up {a.subscribers:,} subscribers and {a.files} files × {per_file:,} records in {time.perf_counter() - t:.1f} s")
    inbox.mkdir(parents=True)
    log = (work / "watch.log").open("w")
    fairtel = str(Path(sys.executable).with_name("fairtel"))
    watcher = subprocess.Popen([fairtel, "watch", str(inbox), "--rate", "--interval", "0.5", "--home", str(home)],
                               stdout=log, stderr=subprocess.STDOUT)
    time.sleep(3.0)  # let it start (imports, catalog, subscribers) before the first file arrives
    dropped: dict[str, datetime] = {}
    t0 = time.perf_counter()
    for k, f in enumerate(files):
        wait = t0 + k * a.every - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        os.replace(f, inbox / f.name)
        dropped[f.name] = datetime.now(UTC)
    feed_s = time.perf_counter() - t0
    deadline = time.perf_counter() + a.timeout
    while time.perf_counter() < deadline and len(list((inbox / "done").glob("*.parquet"))) < len(files):
        if watcher.poll() is not None:
            break
        time.sleep(0.2)
    drained_s = time.perf_counter() - t0
    watcher.send_signal(signal.SIGINT)
    watcher.wait(timeout=60)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    from fairtel.engines._online import entry_files

    entries = [json.loads(line) for line in (home / "lake" / "rating_log" / "online.jsonl").read_text().splitlines()]
    lags, weights = [], []
    commits = len(entries)
    for e in entries:
        for f in entry_files(e):  # a commit rates every file that was waiting
            name = hashes.get(f["file"])
            if name is None:
                continue
            lags.append((datetime.fromisoformat(e["rated_at"]) - dropped[name]).total_seconds())
            weights.append(f["records"])
    records = sum(weights)
    lag = np.repeat(np.array(lags), np.array(weights)) if records else np.array([0.0])
    within = lambda s: float(np.sum(np.array(weights)[np.array(lags) <= s]) / records) if records else 0.0  # noqa: E731
    arrived = len(files) * per_file
    print(json.dumps({
        "files_dropped": len(files), "files_rated": len(lags), "commits": commits, "records_arrived": arrived, "records_rated": records,
        "arrival_rate_per_s": round(per_file / a.every), "feed_s": round(feed_s, 1),
        "drained_s": round(drained_s, 1), "throughput_per_s": round(records / drained_s) if drained_s else None,
        "within_60s": round(within(60), 5), "within_15min": round(within(900), 5),
        "lag_p50_s": round(float(np.percentile(lag, 50)), 2), "lag_p99_s": round(float(np.percentile(lag, 99)), 2),
        "lag_max_s": round(float(lag.max()), 2),
        "watcher_cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "watcher_peak_rss_mib": usage.ru_maxrss // 1024,
        "load_average": os.getloadavg(),
    }))
    print(f"rated within 60 s of arrival: {100 * within(60):.2f} % of {records:,} records "
          f"(goal 99.9 % at a sustained 200,000 records/s); within 15 min: {100 * within(900):.2f} %")
    if a.dir is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if len(lags) == len(files) else 1


if __name__ == "__main__":
    raise SystemExit(main())
