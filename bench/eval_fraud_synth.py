"""Precision and recall of each fraud detector against the synthetic operator's ground truth.

    python bench/eval_fraud_synth.py                          # 20 000 subscribers x 30 days
    python bench/eval_fraud_synth.py --subscribers 50000 --keep --out /tmp/fraud-eval

Steps: `synthesize` an operator directory; ingest its usage through mediation into a fresh home (the same
path `fairtel load` takes); compute the features and run the detectors per period; compare with
truth/simbox.jsonl (lines), truth/irsf.jsonl (lines), truth/wangiri.jsonl (callers, and the callbacks the
notices must list, by record id).

The synthesiser also writes honest look-alikes (truth/lookalikes.jsonl: couriers, outbound service desks on
mobile lines, families calling abroad); the script reports how many of them any detector flags. They are false
alarms, so they count in the precision above too.

The synthesiser writes no scam callers, so this script adds look-alikes of its own to the lake before
detection: scam lines (new lines calling many subscribers briefly from several handsets) and outbound call
centres (busy, one place, one desk phone, some customers calling back) that no detector may flag. Those
come from the same hands as the detectors, so their figures are a consistency check, not an independent
test; the synthesiser's cases are independent of the detectors' code.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl

SH_OFFSET_S = 8 * 3600


def _truth(op: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {"simbox": set(), "irsf": set(), "wangiri": set(), "callbacks": set()}
    for name in ("simbox", "irsf", "wangiri"):
        path = op / "truth" / f"{name}.jsonl"
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if name != "wangiri":
                out[name].add(row["msisdn"])
            elif row["role"] == "caller":
                out["wangiri"].add(row["peer"])
            else:
                out["callbacks"].add(row["record_id"])
    return out


def _lookalikes(subs: pl.DataFrame, start_s: int, days: int, *, scams: int, centres: int, seed: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Usage and subscriber rows of scam lines and outbound call centres, in CLEAN_USAGE_SCHEMA columns."""
    rng = np.random.default_rng(seed)
    targets = subs["msisdn"].to_numpy()
    rows: list[dict[str, object]] = []
    new_subs: list[dict[str, object]] = []
    n = 0

    def add(msisdn: str, direction: str, ts: int, peer: str, dur: int, cell: str, imei: str) -> None:
        nonlocal n
        n += 1
        rows.append({"record_id": f"x{n:010d}", "source": "eval-lookalike", "msisdn": msisdn, "kind": "voice",
                     "direction": direction, "started_at": ts * 1_000_000, "duration_s": dur, "peer": peer,
                     "cell_id": cell, "imei": imei})

    for i in range(scams):
        msisdn = f"86170{10_000_000 + i:08d}"
        first = int(rng.integers(0, max(1, days - 5)))
        new_subs.append({"msisdn": msisdn, "activated_at": (start_s + (first - int(rng.integers(1, 10))) * 86400) * 1_000_000})
        imeis = [f"8689120{rng.integers(10**7, 10**8)}" for _ in range(int(rng.integers(2, 5)))]
        cells = [f"460-00-{rng.integers(10000, 90000)}" for _ in range(int(rng.integers(3, 7)))]
        for d in range(first, min(days, first + int(rng.integers(3, 11)))):
            for _ in range(int(rng.integers(40, 121))):
                ts = start_s + d * 86400 + int(rng.integers(9 * 3600, 21 * 3600))
                dur = 0 if rng.random() < 0.25 else int(np.clip(rng.lognormal(np.log(14), 0.8), 1, 900))
                add(msisdn, "out", ts, str(targets[rng.integers(0, len(targets))]), dur,
                    cells[int(rng.integers(0, len(cells)))], imeis[int(rng.integers(0, len(imeis)))])
            if rng.random() < 0.3:
                add(msisdn, "in", start_s + d * 86400 + 15 * 3600, str(targets[rng.integers(0, len(targets))]), 30,
                    cells[0], imeis[0])
    for i in range(centres):
        msisdn = f"86171{10_000_000 + i:08d}"
        new_subs.append({"msisdn": msisdn, "activated_at": (start_s - int(rng.integers(400, 3000)) * 86400) * 1_000_000})
        imei, cell = f"3569380{rng.integers(10**7, 10**8)}", f"460-00-{rng.integers(10000, 90000)}"
        called: list[str] = []
        for d in range(days):
            if (start_s + SH_OFFSET_S + d * 86400) // 86400 % 7 in (2, 3):  # 1970-01-01 was a Thursday: skip Sat, Sun
                continue
            for _ in range(int(rng.integers(60, 151))):
                ts = start_s + d * 86400 + int(rng.integers(9 * 3600, 18 * 3600))
                peer = str(targets[rng.integers(0, len(targets))])
                called.append(peer)
                dur = 0 if rng.random() < 0.2 else int(np.clip(rng.lognormal(np.log(60), 0.9), 1, 1800))
                add(msisdn, "out", ts, peer, dur, cell, imei)
        for peer in rng.choice(called, size=int(len(called) * rng.uniform(0.12, 0.25)), replace=False):
            d = int(rng.integers(0, days))
            add(msisdn, "in", start_s + d * 86400 + int(rng.integers(9 * 3600, 18 * 3600)), str(peer),
                int(rng.integers(30, 400)), cell, imei)
    usage = pl.DataFrame(rows).with_columns(pl.col("started_at").cast(pl.Datetime("us", "UTC")))
    return usage, pl.DataFrame(new_subs).with_columns(pl.col("activated_at").cast(pl.Datetime("us", "UTC")))


def _score(found: Iterable[str], truth: set[str]) -> tuple[int, int, int, float, float]:
    got = set(found)
    tp = len(got & truth)
    fp, fn = len(got - truth), len(truth - got)
    precision = tp / len(got) if got else (1.0 if not truth else 0.0)
    recall = tp / len(truth) if truth else 1.0
    return tp, fp, fn, precision, recall


def _margins(lines: pl.DataFrame, callers: pl.DataFrame, truth: dict[str, set[str]]) -> None:
    """How far apart the injected cases and everyone else are on the feature each detector leans on most:
    a wide gap means the synthetic cases are easy, not that the detector is sharp."""

    def gap(frame: pl.DataFrame, key: str, members: set[str], column: str) -> str:
        inside = frame.filter(pl.col(key).is_in(list(members)))[column]
        outside = frame.filter(~pl.col(key).is_in(list(members)))[column]
        lo = inside.min() if inside.len() else None
        hi = outside.max() if outside.len() else None
        if lo is None:
            return f"{column}: no cases"
        return f"{column}: cases from {lo:.4g}, " + ("no others" if hi is None else f"others up to {hi:.4g}")

    print("margins  simbox " + gap(lines, "msisdn", truth["simbox"], "calls_out_per_day")
          + " | irsf " + gap(lines, "msisdn", truth["irsf"], "premium_minutes")
          + " | wangiri " + gap(callers, "peer", truth["wangiri"], "targets")
          + " | scam " + gap(lines.filter(~pl.col("msisdn").is_in(list(truth["simbox"]))), "msisdn", truth["scam"],
                             "distinct_callees"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=20_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--scams", type=int, default=None, help="Scam look-alikes added (default: subscribers / 2000).")
    ap.add_argument("--centres", type=int, default=None, help="Call-centre look-alikes added (default: subscribers / 2000).")
    ap.add_argument("--out", type=Path, help="Working directory (default: a temporary one).")
    ap.add_argument("--keep", action="store_true", help="Keep the working directory; reuse its operator and home.")
    args = ap.parse_args()

    from fairtel.catalog import load_catalog
    from fairtel.core.settings import load_settings
    from fairtel.core.time import utc_now
    from fairtel.fraud import compute_features, detect
    from fairtel.fraud._cases import RULE_DETECTORS
    from fairtel.mediation import ingest_files
    from fairtel.store import Lake
    from fairtel.synth import synthesize

    work = args.out or Path(tempfile.mkdtemp(prefix="fairtel-fraud-eval-"))
    op, home = work / "operator", work / "home"
    timings: dict[str, float] = {}
    try:
        t = time.perf_counter()
        if not (args.keep and (op / "synth.json").is_file()):
            synthesize(op, subscribers=args.subscribers, days=args.days, seed=args.seed)
        timings["synthesize"] = time.perf_counter() - t
        settings = load_settings(home=home)
        lake = Lake(settings.lake_dir)
        t = time.perf_counter()
        if not (args.keep and lake.periods("usage")):
            ingest_files(sorted((op / "usage").iterdir()), settings=settings, flush_partials=True)
        timings["ingest"] = time.perf_counter() - t
        subs = pl.read_csv(op / "subscribers.csv", infer_schema=False).select(
            "msisdn", pl.col("activated_at").str.to_datetime("%Y-%m-%dT%H:%M:%S%#z", time_zone="UTC").dt.cast_time_unit("us"))
        summary = json.loads((op / "synth.json").read_text(encoding="utf-8"))
        start = summary.get("start") or "2026-09-01"
        start_s = int(pl.Series([f"{start}T00:00:00+08:00"]).str.to_datetime("%Y-%m-%dT%H:%M:%S%#z").dt.epoch("s")[0])
        k = max(1, args.subscribers // 2000)
        usage_x, subs_x = _lookalikes(subs, start_s, args.days, scams=args.scams if args.scams is not None else k,
                                      centres=args.centres if args.centres is not None else k, seed=args.seed)
        from fairtel.core.contracts import CLEAN_USAGE_SCHEMA

        usage_x = usage_x.with_columns(
            pl.col("started_at").dt.convert_time_zone("Asia/Shanghai").dt.strftime("%Y-%m").alias("_period"))
        for (period,), part in usage_x.partition_by("_period", as_dict=True).items():
            part = part.drop("_period")
            table = part.with_columns(pl.lit(None, dtype=pl.String).alias(f.name) for f in CLEAN_USAGE_SCHEMA
                                      if f.name not in part.columns).to_arrow()
            lake.write("usage", str(period), table, part="eval-lookalikes")
        subscribers = pl.concat([subs, subs_x])
        catalog = load_catalog(op / "catalog.toml")

        t = time.perf_counter()
        cases, notices, records = [], [], 0
        lines, callers = [], []
        for period in lake.periods("usage"):
            usage = pl.scan_parquet(lake.files("usage", periods=[period]))
            n = int(usage.select(pl.len()).collect().item())
            records += n
            f = compute_features(usage, catalog=catalog, subscribers=subscribers, chunks=max(1, -(-n // 8_000_000)))
            found = detect(f, period=period, now=utc_now())
            lines.append(f.lines)
            callers.append(f.callers)
            cases += found.cases
            notices += found.notices
        timings["features+detect"] = time.perf_counter() - t

        truth = _truth(op)
        truth["scam"] = set(subs_x.filter(pl.col("msisdn").str.starts_with("86170"))["msisdn"].to_list())
        centres = set(subs_x.filter(pl.col("msisdn").str.starts_with("86171"))["msisdn"].to_list())
        print(f"{args.subscribers:,} subscribers x {args.days} days, seed {args.seed}: {records:,} clean usage records "
              f"(+{usage_x.height:,} look-alike records: {len(truth['scam'])} scam lines, {len(centres)} call centres)")
        print(f"{'detector':<22}{'truth':>7}{'flagged':>9}{'TP':>6}{'FP':>6}{'FN':>6}{'precision':>11}{'recall':>8}")
        for det in RULE_DETECTORS:  # the model's cases come from `fraud score`, not from here
            subjects = {c.subject for c in cases if c.detector is det}
            tp, fp, fn, p, r = _score(subjects, truth[det.value])
            print(f"{det.value:<22}{len(truth[det.value]):>7}{len(subjects):>9}{tp:>6}{fp:>6}{fn:>6}{p:>11.3f}{r:>8.3f}")
        tp, fp, fn, p, r = _score((n.record_id for n in notices), truth["callbacks"])
        print(f"{'wangiri callbacks':<22}{len(truth['callbacks']):>7}{len(notices):>9}{tp:>6}{fp:>6}{fn:>6}{p:>11.3f}{r:>8.3f}")
        flagged_centres = {c.subject for c in cases} & centres
        print(f"call centres flagged by any detector: {len(flagged_centres)} of {len(centres)}")
        roles: dict[str, set[str]] = {}
        path = op / "truth" / "lookalikes.jsonl"
        for line in (path.read_text(encoding="utf-8").splitlines() if path.is_file() else []):
            row = json.loads(line)
            roles.setdefault(row["role"], set()).add(row["msisdn"])
        for role, members in sorted(roles.items()):
            hit = sorted({f"{c.detector.value}" for c in cases if c.subject in members})
            n_hit = len({c.subject for c in cases} & members)
            warned = sum(1 for n in notices if n.msisdn in members)
            print(f"synthesiser's honest look-alikes, {role}: {n_hit} of {len(members)} flagged"
                  + (f" (by {', '.join(hit)})" if hit else "") + f"; {warned} callback notice(s) on them")
        _margins(pl.concat(lines), pl.concat(callers), truth)
        print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
              + f"; peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
