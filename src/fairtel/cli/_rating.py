"""`fairtel rate | quote | explain`: rating a period, pricing single records, explaining a charge (billing: _billing.py)."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import uuid
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import pyarrow.parquet as pq
import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import Period

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog

RATED = "rated"
UNRATED = "unrated"


def _catalog(app: App | None, path: Path | None, notes: list[str]) -> Catalog:
    """``--catalog FILE``, else the store's current catalog, else the demo catalog (said in the notes)."""
    from fairtel.catalog import default_catalog_path, load_catalog, parse_catalog

    if path is not None:
        return load_catalog(path)
    if app is not None:
        from fairtel.store import current_catalog_text

        with app.db.connect() as conn:
            text = current_catalog_text(conn)
        if text is not None:
            catalog, problems = parse_catalog(text, file="<stored catalog>")
            if catalog is None:
                raise InvalidInputError(problems, what="the stored catalog")
            return catalog
    notes.append(f"no catalog loaded in this home: using {default_catalog_path()}")
    return load_catalog(default_catalog_path())


def _subscribers(app: App) -> pl.DataFrame:
    from sqlalchemy import select

    from fairtel.store import Subscriber

    with app.db.connect() as conn:
        rows = conn.execute(select(Subscriber.msisdn, Subscriber.plan_id)).all()
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "plan_id": [r[1] for r in rows]},
                        schema={"msisdn": pl.String(), "plan_id": pl.String()})


def _gate(app: App, catalog: Catalog) -> Any:
    from fairtel.consent import project_subscriptions
    from fairtel.rating import consent_gate
    from fairtel.store import consent_ledger

    with app.db.connect() as conn:
        ledger = consent_ledger(conn)
    return consent_gate(project_subscriptions(ledger), catalog)


class PeriodWriter:
    """Parts of one dataset period, written to a hidden staging directory and swapped in whole on commit, so
    a rerun replaces the period (never adds to it) and a reader sees the old set or the new one."""

    def __init__(self, lake: Path, dataset: str, period: str) -> None:
        self.final = lake / dataset / f"period={period}"
        self.staging = lake / dataset / f".period={period}.{uuid.uuid4().hex}.staging"
        self.parts = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.staging.mkdir(parents=True, exist_ok=True)
        path = self.staging / f"part-{self.parts:05d}.parquet"
        with path.open("wb") as fh:
            # zstd level 1: about as small as the default level here, and the cheapest encoder setting
            frame.write_parquet(fh, compression="zstd", compression_level=1)
            fh.flush()
            os.fsync(fh.fileno())
        self.parts += 1

    def commit(self) -> None:
        old = self.final.with_name(f".{self.final.name}.{uuid.uuid4().hex}.old")
        if self.final.exists():
            os.replace(self.final, old)
        if self.parts:
            os.replace(self.staging, self.final)
        shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(self.staging, ignore_errors=True)

    def abort(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)


_USAGE_COLUMNS = ("record_id", "source", "msisdn", "kind", "direction", "started_at", "duration_s", "bytes_up",
                  "bytes_down", "peer", "offer_id", "amount_minor", "currency", "roaming_country")


SPILL_AFTER = 6


def usage_buckets(
    files: Sequence[Path], buckets: int, columns: Sequence[str], *, spill: Path, seed: int = 7
) -> Generator[pl.DataFrame, None, None]:
    """The usage of ``files`` in ``buckets`` groups of whole subscribers (``hash(msisdn) % buckets``), one frame
    per bucket, in bucket order, with the ``columns`` the files have.

    Filtering every file once per bucket decodes most of the period once per bucket (a Parquet reader cannot
    skip rows by a hash: measured, one bucket of four costs 3/4 of a full read), so with more than
    ``SPILL_AFTER`` buckets the files are read once and split into uncompressed Arrow IPC pieces under
    ``spill`` (removed as each bucket is read, and at the end), which costs about as much as six filtered
    reads whatever the number of buckets."""
    if not files:
        return
    scan = pl.scan_parquet(list(files), missing_columns="insert")
    names = scan.collect_schema().names()
    present = [c for c in columns if c in names]
    bucket_of = pl.col("msisdn").hash(seed=seed) % buckets
    if buckets <= SPILL_AFTER:
        for b in range(buckets):
            yield (scan.select(present).filter(bucket_of == b) if buckets > 1 else scan.select(present)).collect()
        return
    spill.mkdir(parents=True, exist_ok=True)
    try:
        pieces: list[list[Path]] = [[] for _ in range(buckets)]
        for i, f in enumerate(files):
            one = pl.scan_parquet(f)
            mine = one.collect_schema().names()
            frame = one.select([c for c in present if c in mine]).collect()
            codes = frame.select(bucket_of.alias("_b"))["_b"]
            for b in range(buckets):
                part = frame.filter(codes == b)
                if part.height:
                    path = spill / f"b{b:05d}-{i:05d}.arrow"
                    part.write_ipc(path, compression="uncompressed")
                    pieces[b].append(path)
            del frame
        for b in range(buckets):
            parts = [pl.read_ipc(p) for p in pieces[b]]
            for p in pieces[b]:
                p.unlink()
            if parts:
                yield pl.concat(parts, how="diagonal_relaxed")
            else:
                yield pl.DataFrame(schema={c: t for c, t in scan.collect_schema().items() if c in present})
    finally:
        shutil.rmtree(spill, ignore_errors=True)


def rate_period(
    app: App, period: Period, *, catalog: Catalog, batch_size: int | None = None, report: Any = None,
) -> dict[str, Any]:
    """Rate every usage record of ``period`` in the home's lake, in batches of whole subscribers, and replace
    the period's rated lines (and unrated records). Returns the totals."""
    from fairtel.rating import rate

    files = app.lake.files("usage", periods=[period.key])
    rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
    size = batch_size or app.settings.batch_size
    buckets = max(1, math.ceil(rows / size))
    subscribers = _subscribers(app)
    gate = _gate(app, catalog)
    rated_out = PeriodWriter(app.settings.lake_dir, RATED, period.key)
    unrated_out = PeriodWriter(app.settings.lake_dir, UNRATED, period.key)
    totals: dict[str, Any] = {"period": period.key, "records": rows, "batches": buckets, "lines": 0, "unrated": 0,
                              "amount_minor": 0, "currency": catalog.operator.currency, "by_kind": {}, "unrated_by_reason": {}}
    by_kind: dict[str, list[int]] = {}
    by_reason: dict[str, int] = {}
    if not files:
        totals["batches"] = 0
        buckets = 0
    spill = app.settings.lake_dir / RATED / f".period={period.key}.{uuid.uuid4().hex}.spill"
    batches = usage_buckets(files, buckets, _USAGE_COLUMNS, spill=spill)
    try:
        for usage in batches:
            result = rate(usage, catalog, subscribers, period=period, gate=gate)
            del usage
            if result.rated.height:
                rated_out.add(result.rated)
            if result.unrated.height:
                unrated_out.add(result.unrated)
            totals["lines"] += result.rated.height
            totals["unrated"] += result.unrated.height
            for kind, n, amount in result.rated.group_by("kind").agg(
                pl.col("record_id").n_unique(), pl.col("amount_minor").sum()
            ).iter_rows():
                acc = by_kind.setdefault(kind, [0, 0])
                acc[0] += n
                acc[1] += amount
            for reason, n in result.unrated.group_by("reason").len().iter_rows():
                by_reason[reason] = by_reason.get(reason, 0) + n
            if report is not None:
                report.step("rate", total=buckets)
        rated_out.commit()
        unrated_out.commit()
    except BaseException:
        batches.close()  # removes the spill directory now, not whenever the generator is collected
        rated_out.abort()
        unrated_out.abort()
        raise
    from fairtel.core.money import Money

    totals["amount_minor"] = sum(v[1] for v in by_kind.values())
    totals["amount"] = str(Money.from_minor(totals["amount_minor"], catalog.operator.currency).amount)
    totals["by_kind"] = {k: {"records": v[0], "amount": str(Money.from_minor(v[1], catalog.operator.currency).amount)}
                         for k, v in sorted(by_kind.items())}
    totals["unrated_by_reason"] = dict(sorted(by_reason.items()))
    return totals


def _find(lake: Path, dataset: str, record_id: str, source: str | None, period: str | None) -> pl.DataFrame:
    base = lake / dataset
    pattern = f"period={period}" if period else "period=*"
    files = sorted(base.glob(f"{pattern}/*.parquet"))
    if not files:
        return pl.DataFrame()
    cond = pl.col("record_id") == record_id
    if source is not None:
        cond &= pl.col("source") == source
    return pl.scan_parquet(files).filter(cond).collect()


def register(app: typer.Typer) -> None:
    @app.command("rate")
    def rate_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM on the operator's clock.")],
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        catalog_file: Annotated[Path | None, typer.Option("--catalog", help="Tariff catalog (default: the home's current one).")] = None,
        batch_size: Annotated[int | None, typer.Option("--batch-size", min=1, help="Records per batch of subscribers.")] = None,
        engine: Annotated[str | None, typer.Option("--engine", help="local or spark (default: FAIRTEL_ENGINE, local).")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Rate a period's clean usage from the lake into rated lines (a rerun replaces them)."""
        notes: list[str] = []
        try:
            application = app_for(ctx, home, engine=engine)
            catalog = _catalog(application, catalog_file, notes)
            per = Period.parse(period, catalog.operator.timezone)
            with reporter(quiet=as_json) as rep:
                for n in notes:
                    rep.note(n)
                if application.settings.engine == "spark":  # the same kernel, per partition of subscribers
                    from fairtel.engines import engine_for

                    eng = engine_for(application.settings, master=application.settings.spark_master)
                    try:
                        totals = eng.rate_period(
                            application.settings, per, catalog=catalog, subscribers=_subscribers(application),
                            gate=_gate(application, catalog), batch_size=batch_size, report=rep,
                        ).to_dict()
                    finally:
                        eng.close()
                else:
                    totals = rate_period(application, per, catalog=catalog, batch_size=batch_size, report=rep)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        totals["notes"] = notes
        if as_json:
            print_json(totals)
            return
        rows = [[k, v["records"], v["amount"]] for k, v in totals["by_kind"].items()]
        console.print(table(f"Rated {period}", ["kind", "records", f"amount ({totals['currency']})"], rows))
        console.print(f"{totals['records']} records → {totals['lines']} lines, {totals['unrated']} unrated; "
                      f"total {totals['amount']} {totals['currency']}", highlight=False)
        for reason, n in totals["unrated_by_reason"].items():
            err_console.print(f"unrated: {n} × {reason}", highlight=False)

    @app.command("quote")
    def quote_cmd(
        catalog_file: Annotated[Path | None, typer.Option("--catalog", help="Tariff catalog (default: the demo catalog).")] = None,
        plan: Annotated[str | None, typer.Option("--plan", help="Plan for records that name none.")] = None,
    ) -> None:
        """Price canonical usage records read as JSON on stdin (one object or a list); prints a JSON list."""
        from fairtel.rating import quote

        try:
            catalog = _catalog(None, catalog_file, [])
            text = sys.stdin.read()
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError([Problem("<stdin>", exc.lineno, None, f"not JSON: {exc.msg}")], what="stdin") from None
            records = data if isinstance(data, list) else [data]
            out = quote(records, catalog, plan_id=plan)
        except FairtelError as exc:
            raise fail(exc, as_json=True) from None
        print_json(out)
        if any("error" in q for q in out):
            raise typer.Exit(1)

    @app.command("explain")
    def explain_cmd(
        ctx: typer.Context,
        record_id: Annotated[str, typer.Argument(help="The usage record's id.")],
        lang: Annotated[str | None, typer.Option("--lang", help="zh or en (default: the subscriber's language).")] = None,
        source: Annotated[str | None, typer.Option("--source", help="The record's source, when ids repeat across sources.")] = None,
        period: Annotated[str | None, typer.Option("--period", help="Look only in this period (faster).")] = None,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        catalog_file: Annotated[Path | None, typer.Option("--catalog", help="Catalog the steps are recomputed with.")] = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """The chain from a usage record to its amount: plan, rule, rate steps, allowance, amount."""
        from fairtel.rating import explain

        try:
            if lang not in (None, "zh", "en"):
                raise InvalidInputError([Problem("--lang", None, "lang", "zh or en")], what="options")
            application = app_for(ctx, home)
            lake = application.settings.lake_dir
            rated = _find(lake, RATED, record_id, source, period)
            if rated.height == 0:
                unrated = _find(lake, UNRATED, record_id, source, period)
                if unrated.height:
                    row = unrated.row(0, named=True)
                    raise NotFoundError(f"record {record_id!r} was not rated: {row['reason']}", details={"reason": row["reason"]})
                raise NotFoundError(f"no rated line for record {record_id!r} in {lake / RATED}")
            catalog = _catalog(application, catalog_file, [])
            usage = _find(lake, "usage", record_id, source, period)
            result = explain(record_id, rated=rated, catalog=catalog, usage=usage if usage.height else None, source=source)
            language = lang or _language(application, result.msisdn)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(result.to_dict())
        else:
            console.print(result.render(language), highlight=False, soft_wrap=True)


def _language(app: App, msisdn: str) -> str:
    from fairtel.store import get_subscriber

    with app.db.connect() as conn:
        sub = get_subscriber(conn, msisdn)
    return "en" if sub is None else sub.language
