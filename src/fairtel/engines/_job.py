"""A Spark job for ``spark-submit``: rate a period, or compute its fraud features, from exported inputs.

    spark-submit --master yarn --deploy-mode cluster ... "$(python -m fairtel.engines._job --path)" \\
        rate --period 2025-03 --lake hdfs:///fairtel/lake --catalog catalog.toml \\
        --subscribers hdfs:///fairtel/export/subscribers.parquet [--consent events.jsonl] \\
        [--merchant-suspensions hdfs:///fairtel/export/merchant-suspensions.parquet] \\
        [--line-suspensions hdfs:///fairtel/export/line-suspensions.parquet]

Inputs that live in the operator's database are passed as files, and the job rates with them as
``fairtel rate`` does on one machine: the catalog (TOML); subscribers (Parquet or CSV with msisdn, plan_id,
activated_at, and status, closed_at, suspended_at, updated_at for the lines' states; ``features`` also reads
holder_since, when a line moved to another customer with its activation kept); consent events (JSON
Lines) for the VAS gate; the providers' suspensions (``MERCHANT_SUSPENSION_COLUMNS``: the
``merchant_suspensions`` table, ``store.merchant_windows``), whose charges dated inside a suspension are refused
(``merchant_suspended``); and the lines' suspensions that ended (``LINE_SUSPENSION_COLUMNS``: the line status
history, ``store.suspension_windows``), whose usage dated inside one is held ``line_suspended`` even when the line
is back in service. With the lines' states, the usage of a suspended line made since its suspension is held
(``rating.HoldReason``), consent events or not, and so is the usage of a line made after it closed
(``line_closed``) or before its activation (``before_activation``). ``write_merchant_suspensions`` and
``write_line_suspensions`` write the two files from what the store gives. Prints the summary as JSON on the
driver's standard output.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from fairtel.catalog import load_catalog
from fairtel.core.errors import InvalidInputError, Problem
from fairtel.core.settings import load_settings
from fairtel.core.time import Period
from fairtel.engines._spark import SparkEngine, spark_session
from fairtel.rating._vas import SUSPENSIONS, with_activations

_REGISTER = ("msisdn", "plan_id", "activated_at", "holder_since", "status", "closed_at", "suspended_at", "updated_at",
             SUSPENSIONS)
_HOLDING = ("msisdn", "activated_at", "holder_since")  # what the feature pass reads of the register
MERCHANT_SUSPENSION_COLUMNS = ("provider_id", "suspended_at", "lifted_at")
"""A provider's suspension: its charges dated at or after ``suspended_at`` and before ``lifted_at`` (empty: still
suspended) are refused; one row per suspension, a provider suspended twice on two rows."""
LINE_SUSPENSION_COLUMNS = ("msisdn", "suspended_from", "suspended_until")
"""A line's suspension that ended (``store.SUSPENSION_WINDOW_COLUMNS``): its usage dated at or after
``suspended_from`` and before ``suspended_until`` is held; one row per suspension."""
_INSTANT = pl.Datetime("us", "UTC")


def _lines(subscribers: pl.DataFrame, windows: pl.DataFrame | None = None, *, source: str = "subscribers"
           ) -> pl.DataFrame | None:
    """The register's line states for the consent gate and the kernel's holds (None when the register has no
    ``status``), as ``fairtel rate`` reads them from the store: a closed line without ``closed_at`` closed when
    the register last changed it (``updated_at``), and each line with its suspensions that ended (``windows``,
    ``LINE_SUSPENSION_COLUMNS``; else the register's own ``suspensions`` column, if any)."""
    if "status" not in subscribers.columns:
        if windows is not None:
            raise InvalidInputError([Problem(source, None, "status", "the lines' suspensions need the register's "
                                             "status column (and activated_at, closed_at, suspended_at)")],
                                    what="subscribers")
        return None
    stamps = ("activated_at", "closed_at", "suspended_at", "updated_at", "holder_since")
    if "suspended_at" not in subscribers.columns and (subscribers["status"].cast(pl.String) == "suspended").any():
        # without the column every suspended line would hold all its usage, as one suspended since a time not known
        raise InvalidInputError([Problem(source, None, "suspended_at", "the register has suspended lines but no "
                                         "suspended_at column: export it with the register (`fairtel` keeps it)")],
                                what="subscribers")
    cols = [c for c in ("msisdn", "status", *stamps, SUSPENSIONS) if c in subscribers.columns]
    lines = subscribers.select(cols).with_columns(
        pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us")
        for c in stamps if c in cols and subscribers.schema[c] == pl.String)
    if "updated_at" in cols:
        closed = (pl.col("status") == "closed") & pl.col("closed_at").is_null()
        closed_at = pl.col("closed_at") if "closed_at" in cols else pl.lit(None, dtype=_INSTANT)
        lines = lines.with_columns(pl.when(closed).then(pl.col("updated_at")).otherwise(closed_at).alias("closed_at"))
        lines = lines.drop("updated_at")
    if windows is not None:
        ended = windows.group_by("msisdn", maintain_order=True).agg(
            pl.struct("suspended_from", "suspended_until").alias(SUSPENSIONS))
        lines = lines.drop(SUSPENSIONS, strict=False).with_columns(pl.col("msisdn").cast(pl.String)).join(
            ended, on="msisdn", how="left", maintain_order="left")
    return lines


def _read(uri: str, columns: Sequence[str] | None = None, *, text: bool = False) -> pl.DataFrame:
    """A table the driver reads: Parquet on the cluster's file system (through Spark), else a local Parquet, CSV
    or JSON Lines file (``text``: CSV columns as text, not guessed)."""
    if "://" in uri and not uri.startswith("file://"):
        spark = spark_session()
        data = spark.read.parquet(uri)
        table = data.select(*(c for c in columns or data.columns if c in data.columns)).toArrow()
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
    path = Path(uri.removeprefix("file://"))
    if path.suffix == ".csv":
        if text:
            return pl.read_csv(path, infer_schema=False)
        return pl.read_csv(path, schema_overrides={"msisdn": pl.String})
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        return pl.read_ndjson(path, infer_schema_length=None)
    return pl.read_parquet(path)


def _plans(subscribers: pl.DataFrame) -> pl.DataFrame:
    """What rating reads of the register: msisdn, plan_id and, when the register has it, holder_since (an owner
    change, 过户: allowances are counted per holding in its month), text read as an instant."""
    if "holder_since" not in subscribers.columns:
        return subscribers.select("msisdn", "plan_id")
    since = pl.col("holder_since")
    if subscribers.schema["holder_since"] == pl.String:
        since = since.str.to_datetime(time_zone="UTC", time_unit="us")
    return subscribers.select("msisdn", "plan_id", since.alias("holder_since"))


def _subscribers(uri: str) -> pl.DataFrame:
    return _read(uri, _REGISTER)


def _row_name(source: str) -> tuple[str, int]:
    """How a row of ``source`` is numbered in a problem: the file's line (a CSV has a header line first)."""
    return source, 2 if source.endswith(".csv") else 1


def _instants(frame: pl.DataFrame, column: str, source: str, *, required: bool,
              problems: list[Problem]) -> pl.Series:
    """``column`` as aware UTC instants: timestamps (naive ones the UTC wall clock, as the store keeps them) or ISO
    8601 text with its UTC offset; each value that is neither (or missing when ``required``) a problem."""
    file, first = _row_name(source)
    values = frame.get_column(column)
    if isinstance(values.dtype, pl.Datetime):
        out = (values.dt.replace_time_zone("UTC") if values.dtype.time_zone is None
               else values.dt.convert_time_zone("UTC")).dt.cast_time_unit("us").rename(column)
        if required:
            problems += [Problem(file, first + i, column, "missing") for i in range(out.len()) if out[i] is None][:20]
        return out
    if values.dtype not in (pl.String, pl.Null):
        problems.append(Problem(file, None, column, f"must be an instant, got {values.dtype}"))
        return pl.Series(column, [None] * frame.height, dtype=_INSTANT)
    parsed: list[datetime | None] = []
    for i, raw in enumerate(values.cast(pl.String).to_list()):
        text, at = (raw or "").strip(), None
        if not text:
            if required:
                problems.append(Problem(file, first + i, column, "missing"))
        else:
            try:
                at = datetime.fromisoformat(text)
            except ValueError:
                problems.append(Problem(file, first + i, column, f"not an ISO 8601 instant: {raw!r}"))
            else:
                if at.tzinfo is None:
                    problems.append(Problem(file, first + i, column, f"{raw!r} has no UTC offset (+08:00, Z)"))
                    at = None
                else:
                    at = at.astimezone(UTC)
        parsed.append(at)
    return pl.Series(column, parsed, dtype=_INSTANT)


def _columns(frame: pl.DataFrame, columns: Sequence[str], source: str, what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInputError([Problem(source, None, c, f"no column {c!r} (columns: {', '.join(columns)})")
                                 for c in missing], what=what)


def merchant_suspensions(frame: pl.DataFrame, source: str = "merchant suspensions"
                         ) -> dict[str, tuple[tuple[datetime, datetime | None], ...]]:
    """The providers' suspensions (``MERCHANT_SUSPENSION_COLUMNS``) as ``store.merchant_windows`` gives them:
    provider → its windows ``(since, until)``, ``until`` None while in force. Every problem is reported at once."""
    what = "merchant suspensions"
    _columns(frame, MERCHANT_SUSPENSION_COLUMNS, source, what)
    file, first = _row_name(source)
    problems: list[Problem] = []
    since = _instants(frame, "suspended_at", source, required=True, problems=problems)
    until = _instants(frame, "lifted_at", source, required=False, problems=problems)
    providers = frame.get_column("provider_id").cast(pl.String).to_list()
    out: dict[str, list[tuple[datetime, datetime | None]]] = {}
    for i, (provider, a, b) in enumerate(zip(providers, since.to_list(), until.to_list(), strict=True)):
        if not (provider or "").strip():
            problems.append(Problem(file, first + i, "provider_id", "missing"))
        elif a is not None:
            if b is not None and b <= a:
                problems.append(Problem(file, first + i, "lifted_at", f"{b.isoformat()} is not after suspended_at"))
            out.setdefault(provider.strip(), []).append((a, b))
    if problems:
        raise InvalidInputError(problems, what=what)
    return {p: tuple(w) for p, w in out.items()}


def line_suspensions(frame: pl.DataFrame, source: str = "line suspensions") -> pl.DataFrame:
    """The lines' suspensions that ended (``LINE_SUSPENSION_COLUMNS``) as ``store.suspension_windows`` gives them:
    ``msisdn``, ``suspended_from``, ``suspended_until`` (UTC), in number and time order. Every problem is reported
    at once."""
    what = "line suspensions"
    _columns(frame, LINE_SUSPENSION_COLUMNS, source, what)
    file, first = _row_name(source)
    problems: list[Problem] = []
    start = _instants(frame, "suspended_from", source, required=True, problems=problems)
    end = _instants(frame, "suspended_until", source, required=True, problems=problems)
    msisdn = frame.get_column("msisdn").cast(pl.String)
    problems += [Problem(file, first + i, "msisdn", "missing") for i, m in enumerate(msisdn.to_list())
                 if not (m or "").strip()][:20]
    problems += [Problem(file, first + i, "suspended_until", f"{b.isoformat()} is not after suspended_from")
                 for i, (a, b) in enumerate(zip(start.to_list(), end.to_list(), strict=True))
                 if a is not None and b is not None and b <= a][:20]
    if problems:
        raise InvalidInputError(problems, what=what)
    return pl.DataFrame([msisdn.str.strip_chars().alias("msisdn"), start.alias("suspended_from"),
                         end.alias("suspended_until")]).sort(LINE_SUSPENSION_COLUMNS)


def write_merchant_suspensions(
    path: Path, windows: Mapping[str, Sequence[tuple[datetime | None, datetime | None]]]
) -> Path:
    """Write the providers' suspensions (``store.merchant_windows``) for the job's ``--merchant-suspensions``:
    Parquet, or CSV when ``path`` ends in ``.csv``."""
    rows = [(p, a.astimezone(UTC), None if b is None else b.astimezone(UTC))
            for p, ws in sorted(windows.items()) for a, b in ws if a is not None]
    frame = pl.DataFrame(rows, schema={"provider_id": pl.String(), "suspended_at": _INSTANT, "lifted_at": _INSTANT},
                         orient="row")
    return _write(frame, path)


def write_line_suspensions(path: Path, windows: pl.DataFrame) -> Path:
    """Write the lines' suspensions that ended (``store.suspension_windows``) for the job's
    ``--line-suspensions``: Parquet, or CSV when ``path`` ends in ``.csv``."""
    return _write(line_suspensions(windows.select(LINE_SUSPENSION_COLUMNS)), path)


def _write(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        frame.write_csv(path, datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
    else:
        frame.write_parquet(path)
    return path


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
    ap.add_argument("--merchant-suspensions", help="the providers' suspensions (provider_id, suspended_at, lifted_at): "
                                                   "Parquet (local or on the cluster's file system), CSV or JSON Lines")
    ap.add_argument("--line-suspensions", help="the lines' suspensions that ended (msisdn, suspended_from, "
                                               "suspended_until): Parquet, CSV or JSON Lines")
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
    suspended = ({} if args.merchant_suspensions is None else
                 merchant_suspensions(_read(args.merchant_suspensions, MERCHANT_SUSPENSION_COLUMNS, text=True),
                                      args.merchant_suspensions))
    windows = (None if args.line_suspensions is None else
               line_suspensions(_read(args.line_suspensions, LINE_SUSPENSION_COLUMNS, text=True), args.line_suspensions))
    engine = SparkEngine(spark=spark_session(settings.spark_master, conf=settings.spark_conf), lake_uri=args.lake)
    try:
        if args.task == "rate":
            gate = None
            lines = _lines(subscribers, windows, source=args.subscribers)
            if args.consent is not None:
                from fairtel.consent import project_subscriptions, read_consent_events
                from fairtel.rating import consent_gate

                gate = consent_gate(project_subscriptions(read_consent_events([args.consent]).events), catalog,
                                    lines=lines, suspended=suspended)
            elif lines is not None:
                from fairtel.rating import register_gate

                # no VAS charge is billable without consent events (the providers' suspensions change nothing),
                # but the register's lines still hold their usage (the gate is how the kernel learns of them)
                gate = register_gate(lines)
            if lines is not None:
                # as `fairtel rate`: the lines activated in the period hold their usage made before the activation
                gate = with_activations(gate, lines, since=Period.parse(args.period, catalog.operator.timezone).start)
            summary = engine.rate_period(settings, args.period, catalog=catalog,
                                         subscribers=_plans(subscribers), gate=gate,
                                         batch_size=args.batch_size).to_dict()
        else:
            # the line's age and its records from the current holding on: its activation, or a later owner change
            # (holder_since), as `fairtel fraud features` reads the register
            subs = (subscribers.select([c for c in _HOLDING if c in subscribers.columns])
                    if "activated_at" in subscribers.columns else None)
            summary = engine.features(settings, args.period, catalog=catalog, subscribers=subs,
                                      batch_size=args.batch_size).to_dict()
    finally:
        engine.close()
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
