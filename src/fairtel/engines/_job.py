"""A Spark job for ``spark-submit``: rate a period, or compute its fraud features, from exported inputs.

    spark-submit --master yarn --deploy-mode cluster ... "$(python -m fairtel.engines._job --path)" \\
        rate --period 2025-03 --lake hdfs:///fairtel/lake --catalog catalog.toml \\
        --subscribers hdfs:///fairtel/export/subscribers.parquet [--consent events.jsonl]

Inputs that live in the operator's database are passed as files: the catalog (TOML), subscribers (Parquet
or CSV with msisdn, plan_id, activated_at, and status, closed_at, suspended_at for the lines' states) and consent
events (JSON Lines) for the VAS gate. With the lines' states, the usage of a suspended line made since its
suspension is held (``rating.HoldReason``), consent events or not. Prints the summary as JSON on the driver's
standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from fairtel.catalog import load_catalog
from fairtel.core.settings import load_settings
from fairtel.engines._spark import SparkEngine, spark_session

_REGISTER = ("msisdn", "plan_id", "activated_at", "status", "closed_at", "suspended_at")


def _lines(subscribers: pl.DataFrame) -> pl.DataFrame | None:
    """The register's line states for the consent gate (None when the register has no ``status``)."""
    if "status" not in subscribers.columns:
        return None
    cols = [c for c in ("msisdn", "status", "activated_at", "closed_at", "suspended_at") if c in subscribers.columns]
    return subscribers.select(cols).with_columns(
        pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us") for c in cols[2:] if subscribers.schema[c] == pl.String)


def _subscribers(uri: str) -> pl.DataFrame:
    if "://" in uri and not uri.startswith("file://"):
        spark = spark_session()
        data = spark.read.parquet(uri)
        table = data.select(*(c for c in _REGISTER if c in data.columns)).toArrow()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    path = Path(uri.removeprefix("file://"))
    if path.suffix == ".csv":
        return pl.read_csv(path, schema_overrides={"msisdn": pl.String})
    return pl.read_parquet(path)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fairtel-spark-job", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--path", action="store_true", help="print this file's path (for spark-submit) and exit")
    ap.add_argument("task", nargs="?", choices=["rate", "features"])
    ap.add_argument("--period")
    ap.add_argument("--lake", help="the lake as Spark sees it, e.g. hdfs:///fairtel/lake")
    ap.add_argument("--catalog", type=Path)
    ap.add_argument("--subscribers", help="Parquet (local or on the cluster's file system) or CSV")
    ap.add_argument("--consent", type=Path, help="consent events (JSON Lines); without it no VAS charge is billable")
    ap.add_argument("--batch-size", type=int)
    args = ap.parse_args(argv)
    if args.path:
        print(Path(__file__).resolve())
        return 0
    if not (args.task and args.period and args.lake and args.catalog and args.subscribers):
        ap.error("task, --period, --lake, --catalog and --subscribers are required")
    settings = load_settings(engine="spark")
    catalog = load_catalog(args.catalog)
    subscribers = _subscribers(args.subscribers)
    engine = SparkEngine(spark=spark_session(settings.spark_master), lake_uri=args.lake)
    try:
        if args.task == "rate":
            gate = None
            lines = _lines(subscribers)
            if args.consent is not None:
                from fairtel.consent import project_subscriptions, read_consent_events
                from fairtel.rating import consent_gate

                gate = consent_gate(project_subscriptions(read_consent_events([args.consent]).events), catalog,
                                    lines=lines)
            elif lines is not None:
                from fairtel.rating import register_gate

                # no VAS charge is billable without consent events, but the register's suspended lines still hold
                # the usage made since their suspension (the gate is how the kernel learns of them)
                gate = register_gate(lines)
            summary = engine.rate_period(settings, args.period, catalog=catalog,
                                         subscribers=subscribers.select("msisdn", "plan_id"), gate=gate,
                                         batch_size=args.batch_size).to_dict()
        else:
            subs = subscribers.select("msisdn", "activated_at") if "activated_at" in subscribers.columns else None
            summary = engine.features(settings, args.period, catalog=catalog, subscribers=subs,
                                      batch_size=args.batch_size).to_dict()
    finally:
        engine.close()
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
