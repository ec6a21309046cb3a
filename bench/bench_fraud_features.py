"""Fraud features, detectors and model scoring over N clean usage records (default 50 M, one 30-day period):
wall time and peak memory, beside a plain DuckDB GROUP BY computing a few of the same per-line aggregates in the same run.

    python bench/bench_fraud_features.py                  # 50 M records, or FAIRTEL_BENCH_RECORDS
    python bench/bench_fraud_features.py 10000000 --keep --out /tmp/fraud-bench

The records are generated here with numpy (the synthesiser plus mediation would take far longer than the
measurement): about 19.5 records per subscriber-day like the synthetic operator, 26 % voice, 13 % SMS, the
rest data, a few international and premium calls, some roaming, and a few SIM-box groups so the detectors
have something to find. Each measurement runs in its own process, so its peak RSS is its own.
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
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

DAYS = 30
CHUNK = 2_000_000
START_S = 1_788_192_000  # 2026-09-01T00:00:00+08:00
INTL = np.array([852, 1, 44, 81, 82, 65, 91, 7, 34, 234], dtype=np.int64)
PREMIUM = np.array([882, 883, 881, 2393, 3712], dtype=np.int64)


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _numbers(prefix: np.ndarray, rng: np.random.Generator, n: int, length: int = 12) -> np.ndarray:
    plen = np.floor(np.log10(prefix)).astype(np.int64) + 1
    rest = 10 ** (length - plen)
    return prefix * rest + (rng.random(n) * rest).astype(np.int64)


def generate(out: Path, records: int, seed: int = 1) -> int:
    rng = np.random.default_rng(seed)
    subs = max(100, records // int(19.5 * DAYS))
    msisdn = 86 * 10**11 + 13 * 10**9 + rng.choice(10**9, size=subs, replace=False)
    imei = 35_000_000_000_000 + np.arange(subs, dtype=np.int64) * 7919
    home_cell = rng.integers(0, 4000, subs)
    # SIM-box groups: 5 lines sharing one device and one cell, calling out all day.
    boxes = rng.choice(subs, size=min(subs // 5, 5 * max(1, subs // 5000)), replace=False).reshape(-1, 5)
    for g in boxes:
        imei[g] = imei[g[0]]
        home_cell[g] = home_cell[g[0]]
    is_box = np.zeros(subs, dtype=bool)
    is_box[boxes.ravel()] = True
    box_ids = np.flatnonzero(is_box)
    out.mkdir(parents=True, exist_ok=True)
    written = 0
    part = 0
    while written < records:
        m = min(CHUNK, records - written)
        sub = rng.integers(0, subs, m)
        # SIM-box lines get about 160 outgoing calls a day, like the synthetic operator's
        n_box = min(m // 50, len(box_ids) * 160 * DAYS * m // records)
        sub[:n_box] = box_ids[rng.integers(0, len(box_ids), n_box)] if len(box_ids) else sub[:n_box]
        box = is_box[sub]
        u = rng.random(m)
        kind = np.where(box | (u < 0.26), 0, np.where(u < 0.39, 1, 2))
        direction = np.where(box, 0, (rng.random(m) < 0.45).astype(np.int64))
        ts = START_S + (rng.random(m) * DAYS * 86400).astype(np.int64)
        dur = np.where(kind == 0, np.clip(rng.lognormal(np.log(55), 1.15, m), 0, 10_800), 0).astype(np.int64)
        dur = np.where((kind == 0) & (rng.random(m) < 0.12), 0, dur)
        peer_i = 86 * 10**11 + 13 * 10**9 + rng.integers(0, 10**9, m)
        v = rng.random(m)
        intl = (kind == 0) & ~box & (v < 0.005)
        prem = (kind == 0) & (direction == 0) & ~box & (v > 0.99995)
        peer_i = np.where(intl, _numbers(INTL[rng.integers(0, len(INTL), m)], rng, m), peer_i)
        peer_i = np.where(prem, _numbers(PREMIUM[rng.integers(0, len(PREMIUM), m)], rng, m), peer_i)
        cell = np.where(box | (rng.random(m) < 0.75), home_cell[sub], rng.integers(0, 4000, m))
        roam = (~box) & (rng.random(m) < 0.01)
        data = kind == 2
        table = pa.table({
            "record_id": pc.cast(pa.array(np.arange(written, written + m)), pa.string()),
            "source": pa.array(["bench"] * m, pa.string()),
            "msisdn": pc.cast(pa.array(msisdn[sub]), pa.string()),
            "kind": pc.take(pa.array(["voice", "sms", "data"]), pa.array(kind)),
            "direction": pc.take(pa.array(["out", "in"]), pa.array(direction, mask=data)),
            "started_at": pa.array(ts * 1_000_000, pa.timestamp("us", tz="UTC")),
            "duration_s": pa.array(dur, mask=kind != 0),
            "bytes_up": pa.array(rng.integers(200, 200_000, m), mask=~data),
            "bytes_down": pa.array(rng.integers(1_000, 20_000_000, m), mask=~data),
            "peer": pc.cast(pa.array(peer_i, mask=data), pa.string()),
            "roaming_country": pa.array(np.where(roam, "TH", None), pa.string()),
            "cell_id": pc.binary_join_element_wise("460-00-", pc.cast(pa.array(cell), pa.string()), ""),
            "imei": pc.cast(pa.array(imei[sub]), pa.string()),
        })
        pq.write_table(table, out / f"part-{part:04d}.parquet", compression="zstd")
        written += m
        part += 1
    subscribers = pa.table({
        "msisdn": pc.cast(pa.array(msisdn), pa.string()),
        "activated_at": pa.array((START_S - rng.integers(1, 2000, subs) * 86400) * 1_000_000, pa.timestamp("us", tz="UTC")),
    })
    pq.write_table(subscribers, out / "subscribers.parquet.meta")
    # the SIM-box lines, as the label the scoring step trains on
    pq.write_table(pa.table({"msisdn": pc.cast(pa.array(msisdn[box_ids]), pa.string())}), out / "simbox.parquet.meta")
    return subs


def run_fairtel(data: Path, buckets: bool = False) -> dict[str, object]:
    """As ``fairtel fraud detect`` computes the features (``compute_features`` over the whole period in chunks of
    8 M records, one scan of the period per chunk), or with ``buckets`` as the local engine does
    (``engines.period_features``: the cross-subscriber aggregates in one pass, then the period split once into
    buckets of 1 M records of whole subscribers, computed by worker processes)."""
    import polars as pl

    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.core.time import utc_now
    from fairtel.engines import period_features
    from fairtel.fraud import FeatureConfig, compute_features, detect

    catalog = load_catalog(default_catalog_path())
    t0 = time.perf_counter()
    files = sorted(data.glob("part-*.parquet"))
    usage = pl.scan_parquet(files)
    subscribers = pl.read_parquet(data / "subscribers.parquet.meta")
    records = int(usage.select(pl.len()).collect().item())
    if not buckets:
        chunks = max(1, -(-records // 8_000_000))
        features = compute_features(usage, catalog=catalog, subscribers=subscribers, chunks=chunks)
    else:
        chunks = max(1, -(-records // 1_000_000))
        features = period_features(files, catalog=catalog, subscribers=subscribers, config=FeatureConfig(),
                                   batch_size=1_000_000, spill=data / ".spill", workers=0, parallel_from=0)
    t1 = time.perf_counter()
    found = detect(features, period="2026-09", now=utc_now())
    t2 = time.perf_counter()
    scoring = _score(features.lines, data) if not buckets else {}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"records": records, "chunks": chunks, "lines": features.lines.height, "features_s": round(t1 - t0, 1),
            "detect_s": round(t2 - t1, 2), "cases": found.counts(), **scoring, "peak_rss_mb": round(_peak_mb()),
            "worker_peak_rss_mb": children.ru_maxrss // 1024}


def _score(lines: object, data: Path) -> dict[str, object]:
    """The supervised step as ``fraud train`` / ``fraud score`` run it: a model trained on a sample of the
    period's lines (label: the generated SIM-box lines), then every line scored with its reasons (per-line
    feature contributions) and turned into cases. Times the scoring of the whole period, not the training."""
    import polars as pl

    from fairtel.core.time import utc_now
    from fairtel.fraud import train_fraud_model
    from fairtel.fraud._score import LABEL_COLUMN, feature_table, score_lines
    from fairtel.learn import TrainOptions

    assert isinstance(lines, pl.DataFrame)
    boxes = pl.read_parquet(data / "simbox.parquet.meta")["msisdn"]
    t0 = time.perf_counter()
    table = feature_table(lines, period="2026-09")
    t1 = time.perf_counter()
    labelled = table.with_columns(pl.col("msisdn").is_in(boxes.implode()).cast(pl.Int64).alias(LABEL_COLUMN))
    positives = labelled.filter(pl.col(LABEL_COLUMN) == 1)
    sample = pl.concat([positives, labelled.filter(pl.col(LABEL_COLUMN) == 0).sample(
        min(20_000, labelled.height - positives.height), seed=0)])
    model = train_fraud_model(sample, label=LABEL_COLUMN, id_column="msisdn", options=TrainOptions(folds=3, search=False, bag=1))
    t2 = time.perf_counter()
    scores, cases = score_lines(model, table, period="2026-09", now=utc_now())
    t3 = time.perf_counter()
    flagged = {s.msisdn for s in scores if s.flagged}
    truth = set(boxes.to_list())
    hit = len(flagged & truth)
    return {"table_s": round(t1 - t0, 2), "train_s": round(t2 - t1, 1), "train_rows": sample.height,
            "score_s": round(t3 - t2, 2), "scored_lines": len(scores), "model_cases": len(cases),
            "model_precision": round(hit / len(flagged), 4) if flagged else None,
            "model_recall": round(hit / len(truth), 4) if truth else None}


def run_duckdb(data: Path) -> dict[str, object]:
    import duckdb

    t0 = time.perf_counter()
    con = duckdb.connect()
    con.execute("SET threads = 2")
    glob = str(data / "part-*.parquet")
    n = con.execute(f"""
        SELECT count(*) FROM (
          SELECT msisdn,
            count(*) FILTER (WHERE kind = 'voice' AND direction = 'out') AS calls_out,
            count(*) FILTER (WHERE kind = 'voice' AND direction = 'in') AS calls_in,
            count(DISTINCT peer) FILTER (WHERE kind = 'voice' AND direction = 'out') AS distinct_callees,
            count(*) FILTER (WHERE kind = 'sms') AS sms,
            count(*) FILTER (WHERE kind = 'data') AS data_sessions,
            count(DISTINCT cell_id) AS distinct_cells,
            count(DISTINCT imei) AS distinct_imeis,
            avg(CASE WHEN kind = 'voice' AND direction = 'out'
                     THEN (hour(started_at AT TIME ZONE 'Asia/Shanghai') < 6)::INT END) AS night_share,
            median(duration_s) FILTER (WHERE kind = 'voice' AND direction = 'out' AND duration_s > 0) AS median_out
          FROM read_parquet('{glob}') GROUP BY msisdn)
    """).fetchone()
    return {"lines": n[0] if n else 0, "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(_peak_mb())}


def _child(flag: str, data: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, flag, str(data)], check=True, capture_output=True, text=True)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("records", nargs="?", type=int, default=int(os.environ.get("FAIRTEL_BENCH_RECORDS", 50_000_000)))
    ap.add_argument("--out", type=Path, help="Where the generated records go (default: a temporary directory).")
    ap.add_argument("--keep", action="store_true", help="Keep the generated records (and reuse them if present).")
    ap.add_argument("--buckets", action="store_true", help="Also time the local engine's way (buckets in worker processes).")
    ap.add_argument("--run-fairtel", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--run-buckets", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--run-duckdb", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.run_fairtel:
        print(json.dumps(run_fairtel(args.run_fairtel)))
        return 0
    if args.run_buckets:
        print(json.dumps(run_fairtel(args.run_buckets, buckets=True)))
        return 0
    if args.run_duckdb:
        print(json.dumps(run_duckdb(args.run_duckdb)))
        return 0
    data = args.out or Path(tempfile.mkdtemp(prefix="fairtel-fraud-bench-"))
    try:
        if not (args.keep and any(data.glob("part-*.parquet"))):
            t0 = time.perf_counter()
            subs = generate(data, args.records)
            print(f"generated {args.records:,} records for {subs:,} lines in {time.perf_counter() - t0:.1f} s ({data})")
        fairtel = _child("--run-fairtel", data)
        duck = _child("--run-duckdb", data)
        rec = int(str(fairtel["records"]))
        fs, ds = float(str(fairtel["features_s"])), float(str(duck["seconds"]))
        print(f"fairtel features: {rec:,} records, {fairtel['lines']:,} lines, {fairtel['chunks']} chunk(s): "
              f"{fs:.1f} s ({rec / fs / 1e6:.2f} M records/s), detectors {fairtel['detect_s']} s, "
              f"peak RSS {fairtel['peak_rss_mb']} MB main, {fairtel['worker_peak_rss_mb']} MB largest worker; "
              f"cases {fairtel['cases']}")
        print(f"fairtel scoring: feature table {fairtel['table_s']} s, model trained on {fairtel['train_rows']:,} lines "
              f"in {fairtel['train_s']} s, {fairtel['scored_lines']:,} lines scored with reasons in "
              f"{fairtel['score_s']} s → {fairtel['model_cases']} model cases (precision "
              f"{fairtel['model_precision']}, recall {fairtel['model_recall']} against the generated SIM-box lines)")
        if args.buckets:
            other = _child("--run-buckets", data)
            bs = float(str(other["features_s"]))
            print(f"local engine (buckets in worker processes): {bs:.1f} s ({rec / bs / 1e6:.2f} M records/s), peak RSS "
                  f"{other['peak_rss_mb']} MB main, {other['worker_peak_rss_mb']} MB largest worker; same lines: "
                  f"{other['lines'] == fairtel['lines']}, same cases: {other['cases'] == fairtel['cases']}")
        print(f"duckdb GROUP BY (9 of the aggregates, 2 threads): {ds:.1f} s ({rec / ds / 1e6:.2f} M records/s), "
              f"peak RSS {duck['peak_rss_mb']} MB, {duck['lines']:,} lines")
        print(f"ratio fairtel/duckdb: {fs / ds:.2f}x time")
    finally:
        if not args.keep:
            shutil.rmtree(data, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
