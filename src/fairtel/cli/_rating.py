"""`fairtel rate | quote | explain`: rating a period, pricing single records, explaining a charge (billing: _billing.py)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer

from fairtel.cli._context import app_for
from fairtel.cli._home import home_catalog, home_gate, home_subscribers
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import Period

if TYPE_CHECKING:
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog
    from fairtel.rating import Explanation
    from fairtel.store import Lake

RATED = "rated"
UNRATED = "unrated"


def rate_period(
    app: App, period: Period, *, catalog: Catalog, batch_size: int | None = None, report: Any = None,
) -> dict[str, Any]:
    """Rate every usage record of ``period`` in the home's lake with the home's engine (local: worker processes
    over hash buckets of whole subscribers), replacing the period's rated lines and unrated records, each line
    under the plan it was on in the period (a plan change takes effect from a period's start). Returns the
    totals (``RateSummary.to_dict``). VAS charges of providers suspended when they were made are refused, usage of
    a line made before its activation held (``home_gate``)."""
    from fairtel.engines import engine_for
    from fairtel.mediation._state import check_lake_complete

    settings = app.settings
    # a lake missing parts the ledger says were taken (an unmounted volume, a partial restore) would be rated short
    check_lake_complete(settings.lake_dir, [period.key])
    eng = engine_for(settings, master=settings.spark_master) if settings.engine == "spark" else engine_for(settings)
    # with each line's owner change (过户), if any: allowances are counted per holding in the month of the change
    subscribers = home_subscribers(app, ("msisdn", "plan_id", "holder_since"), period=period)
    try:
        totals = eng.rate_period(settings, period, catalog=catalog, subscribers=subscribers,
                                 gate=home_gate(app, catalog, since=period.start), batch_size=batch_size, report=report).to_dict()
    finally:
        eng.close()
    totals.update(held_totals(app.lake, period.key, catalog.operator.currency))
    return totals


def held_totals(lake: Lake, period: str, currency: str) -> dict[str, Any]:
    """The period's rated usage held off the bills (``rating.HoldReason``: made at or after a line's suspension):
    ``held_records`` (records, among the rated ones counted by kind) and the ``held`` amount they would cost, by
    reason. Read from the lines just written (two columns of them)."""
    from fairtel.billing import USAGE_KINDS
    from fairtel.billing._run import HOLD_REASONS
    from fairtel.core.money import Money

    files = lake.files(RATED, periods=[period])
    empty: dict[str, Any] = {"held_records": 0, "held": str(Money.from_minor(0, currency).amount), "held_by_reason": {}}
    if not files:
        return empty
    scan = pl.scan_parquet(files)
    if "verdict" not in scan.collect_schema().names():
        return empty
    held = (scan.filter(pl.col("kind").is_in(USAGE_KINDS) & pl.col("verdict").is_in(HOLD_REASONS))
            .group_by("verdict").agg((pl.col("line") == 0).sum().alias("records"), pl.col("amount_minor").sum())
            .sort("verdict").collect())
    return {"held_records": int(held["records"].sum() or 0),
            "held": str(Money.from_minor(int(held["amount_minor"].sum() or 0), currency).amount),
            "held_by_reason": {r: int(n) for r, n, _ in held.iter_rows()}}


def _find(lake: Lake, dataset: str, record_id: str, source: str | None, period: str | None) -> pl.DataFrame:
    """The rows of ``dataset`` for one record. Read through the lake, so that a rating commit left pending (rated
    lines swapped in, unrated records not yet) is finished first and the two datasets agree."""
    files = lake.files(dataset, periods=None if period is None else [period])
    if not files:
        return pl.DataFrame()
    cond = pl.col("record_id") == record_id
    if source is not None:
        cond &= pl.col("source") == source
    return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore").filter(cond).collect()


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
        from fairtel.mediation._state import ingest_running

        notes: list[str] = []
        try:
            application = app_for(ctx, home, engine=engine)
            catalog = home_catalog(application, catalog_file, notes)
            # the lake files usage under periods on the settings' clock: a catalog on another is refused
            application.settings.check_clock(catalog.operator.timezone)
            per = Period.parse(period, catalog.operator.timezone)
            ingesting = ingest_running(application.settings.home)
            if ingesting is not None:  # what it commits after this run lists the period's usage is left out
                notes.append(f"{ingesting} is running on this home: usage it has not committed yet is not rated "
                             f"by this run; rate {per.key} again after it ends")
            with reporter(quiet=as_json) as rep:
                for n in notes:
                    rep.note(n)
                totals = rate_period(application, per, catalog=catalog, batch_size=batch_size, report=rep)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        except Exception as exc:
            from fairtel.engines._spark import engine_failure  # pyspark itself is not imported by this

            failed = engine_failure(exc)
            if failed is None:
                raise
            raise fail(failed, as_json=as_json) from None
        totals["notes"] = notes
        if as_json:
            print_json(totals)
            return
        rows = [[k, v["records"], v["amount"]] for k, v in totals["by_kind"].items()]
        console.print(table(f"Rated {period}", ["kind", "records", f"amount ({totals['currency']})"], rows))
        console.print(f"{totals['records']} records → {totals['lines']} lines, {totals['unrated']} unrated; "
                      f"total {totals['amount']} {totals['currency']}", highlight=False)
        if totals["held_records"]:
            console.print(f"held: {totals['held_records']} record(s) of suspended lines, {totals['held']} {totals['currency']} "
                          "of the total, made at or after the suspension: not billed unless released "
                          "(`fairtel bill held`, `fairtel bill release`)", highlight=False)
        for reason, n in totals["unrated_by_reason"].items():
            err_console.print(f"unrated: {n} × {reason}", highlight=False)

    @app.command("quote")
    def quote_cmd(
        ctx: typer.Context,
        catalog_file: Annotated[Path | None, typer.Option(
            "--catalog", help="Tariff catalog (default: the home's current one, else the demo catalog).")] = None,
        plan: Annotated[str | None, typer.Option("--plan", help="Plan for records that name none.")] = None,
        home: Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")] = None,
        together: Annotated[bool, typer.Option(
            "--together", help="Price the records of one number, plan and month together, as its bill does: allowances "
            "drawn and daily caps counted across them (default: each record alone).")] = False,
    ) -> None:
        """Price canonical usage records read as JSON on stdin (one object or a list); prints a JSON list."""
        from fairtel.rating import default_plan, quote

        try:
            notes: list[str] = []
            catalog = quote_catalog(ctx, catalog_file, home, notes)
            for n in notes:  # stdout is the JSON: what priced it is said beside
                err_console.print(f"note: {n}", markup=False, highlight=False, soft_wrap=True)
            text = sys.stdin.read()
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InvalidInputError([Problem("<stdin>", exc.lineno, None, f"not JSON: {exc.msg}")], what="stdin") from None
            records = data if isinstance(data, list) else [data]
            out = quote(records, catalog, plan_id=plan, together=together)
        except FairtelError as exc:
            raise fail(exc, as_json=True) from None
        print_json(out)
        # stdout is the JSON: a sum of these amounts is not a bill, and a record priced without the allowances its
        # bill draws says so (its ``note``); the counts are said beside
        undrawn = sum(1 for q in out if "note" in q)
        if undrawn:
            err_console.print(f"note: {undrawn} record{'s' if undrawn != 1 else ''} priced alone, without a plan state "
                              "(allowance_used): no allowance drawn, where a bill draws the plan's allowances first; "
                              "give allowance_used, or --together to price a month's records as its bill does",
                              markup=False, highlight=False, soft_wrap=True)
        if plan is None and not catalog.subjects:
            payg = default_plan(catalog)
            # a subscriber's record (it names the number) is easily taken to be priced under the line's plan
            defaulted = sum(1 for r, q in zip(records, out, strict=True) if isinstance(r, Mapping) and r.get("msisdn")
                            and not r.get("plan_id") and q.get("plan_id") == payg)
            if defaulted:
                err_console.print(f"note: {defaulted} record{'s' if defaulted != 1 else ''} of a number named no plan_id "
                                  f"and no --plan was given: priced under the catalog's pay-as-you-go plan {payg}, not "
                                  "the plan of the number's line", markup=False, highlight=False, soft_wrap=True)
        if len(out) > 1:
            err_console.print("note: quotes price usage only: a bill adds the plan's monthly fee (pro-rated in the month "
                              "of activation or closing), value-added charges only under a confirmed subscription, tax "
                              "and adjustments", markup=False, highlight=False, soft_wrap=True)
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
        catalog_file: Annotated[Path | None, typer.Option(
            "--catalog", help="Catalog the steps are recomputed with (default: the one that priced the record).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="The chain as data, with every code and the number in clear.")] = False,
    ) -> None:
        """The chain from a usage record to its amount: plan, rule, rate steps, allowance, amount, and the
        corrections issued for it since its bill; as the statement a subscriber reads (numbers masked)."""
        try:
            if lang not in (None, "zh", "en"):
                raise InvalidInputError([Problem("--lang", None, "lang", "zh or en")], what="options")
            application = app_for(ctx, home)
            lake = application.lake
            # a billed record is explained from what its bill was issued from (or held off it), as its statement
            # shows it: the period may have been rated again since, under another tariff
            lake_rated = _find(lake, RATED, record_id, source, period)
            rated = as_billed(lake_rated, billed_lines(application, record_id, source, period))
            if rated.height == 0:
                unrated = _find(lake, UNRATED, record_id, source, period)
                if unrated.height:  # which plan, kind, direction, zone, roaming country had no rule (``why_unrated``)
                    from fairtel.rating._quote import why_unrated

                    row = unrated.row(0, named=True)
                    found = _find(lake, "usage", record_id, row["source"], period)
                    why = why_unrated(home_catalog(application, catalog_file, []),
                                      found.row(0, named=True) if found.height else row, row["reason"], plan_id=row["plan_id"])
                    raise NotFoundError(why.sentence(record_id, lang or _language(application, row["msisdn"])),
                                        details={"reason": row["reason"], **why.details})
                raise NotFoundError(f"no rated line for record {record_id!r} in {lake.root / RATED}")
            usage = _find(lake, "usage", record_id, source, period)
            result = explain_record(application, record_id, rated=rated, usage=usage if usage.height else None,
                                    source=source, catalog_file=catalog_file,
                                    repriced=lake_rated if rated is not lake_rated and lake_rated.height else None)
            language = lang or _language(application, result.msisdn)
            from fairtel.cli._audit import audit_shown

            # the usage record itself is shown either way (the text masks the numbers, --json does not)
            audit_shown(ctx, application, action="usage.read", resource=f"usage/{record_id}", subjects=[result.msisdn],
                        what=f"the rating chain of record {record_id}" + ("" if as_json else " (numbers masked)"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(result.to_dict())
        else:
            # plain text: a catalog's name may hold square brackets, which console markup would eat
            console.print(result.render(language), markup=False, highlight=False, soft_wrap=True)


# what a bill's snapshot line must share with a rated line for the two to be the same charge
_SAME_CHARGE = ("line", "rule_id", "allowance_id", "allowance_used", "quantity", "charged_quantity", "amount_minor", "verdict")


def billed_lines(app: App, record_id: str, source: str | None, period: str | None) -> pl.DataFrame:
    """The lines of a record on an issued bill: those the bill run that issued the bill was built from (``billed``)
    or held off it (``held_usage``), of runs whose bills the database committed (another run's part is no bill)."""
    from fairtel.billing import SNAPSHOT_COLUMNS
    from fairtel.cli._billing import BILLED, HELD
    from fairtel.store._billing import issued_runs

    found = [f for f in (_find(app.lake, d, record_id, source, period) for d in (BILLED, HELD)) if f.height]
    if not found:
        return pl.DataFrame(schema=SNAPSHOT_COLUMNS)
    lines = pl.concat([f.select([pl.col(c).cast(t) if c in f.columns else pl.lit(None, dtype=t).alias(c)
                                 for c, t in SNAPSHOT_COLUMNS.items()]) for f in found])
    with app.db.connect() as conn:
        runs = {r for key in lines["period"].unique().to_list() for r in issued_runs(conn, key)}
    return lines.filter(pl.col("run_id").is_in(sorted(runs)))


def as_billed(rated: pl.DataFrame, billed: pl.DataFrame) -> pl.DataFrame:
    """The lines to explain a record with: its rated lines while they are the very charge its bill holds (they keep
    more: the allowance used before each, the rate, whether a cap applied), else the bill's lines; ``rated`` when no
    bill holds the record, or it is in several sources (the explanation asks which)."""
    if billed.height == 0 or billed["source"].n_unique() > 1:
        return rated if rated.height else billed
    mine = rated.filter(pl.col("source") == billed["source"][0]) if rated.height else rated

    def charge(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.select([pl.col(c).cast(billed.schema[c]) for c in _SAME_CHARGE]).sort("line")

    if mine.height == billed.height and charge(mine).equals(charge(billed)):
        return mine
    return billed.drop("bill_id", "run_id")


def quote_catalog(ctx: typer.Context, file: Path | None, home: Path | None, notes: list[str]) -> Catalog:
    """The catalog a quote prices with: ``--catalog FILE``; else, as every other command, the current catalog of the
    home in use (``--home``, else ``FAIRTEL_HOME``, else ./var); else the demo catalog, said in ``notes``. A home
    without a database is not created (a quote writes nothing)."""
    from fairtel.bootstrap import bootstrap
    from fairtel.catalog import default_catalog_path, load_catalog
    from fairtel.cli._context import home_of
    from fairtel.core.settings import Environment, load_settings

    if file is not None:
        return load_catalog(file)
    settings = load_settings(home=home_of(ctx, home))
    demo = default_catalog_path()
    if settings.database_url is None and not (settings.home / "fairtel.db").is_file():
        if settings.environment is not Environment.DEVELOPMENT:  # the demo's prices are no quote outside the demo
            from fairtel.cli._home import LOAD_A_CATALOG, CatalogMissingError

            raise CatalogMissingError(
                f"no fairtel home at {settings.home} and no --catalog FILE: refused in the {settings.environment.value} "
                f"environment rather than price with the bundled demo catalog; --home DIR names a home, and in one "
                f"without a catalog {LOAD_A_CATALOG}",
                details={"home": str(settings.home), "environment": settings.environment.value})
        notes.append(f"no fairtel home at {settings.home}: priced with the demo catalog {demo} (--catalog FILE or --home DIR "
                     "to price with another)")
        return load_catalog(demo)
    with bootstrap(settings) as app:
        found: list[str] = []
        catalog = home_catalog(app, None, found)
    if found:
        notes.append(f"no catalog loaded in the home {settings.home}: priced with the demo catalog {demo}")
    return catalog


def explain_record(
    app: App, record_id: str, *, rated: pl.DataFrame, usage: pl.DataFrame | None = None, source: str | None = None,
    catalog_file: Path | None = None, repriced: pl.DataFrame | None = None,
) -> Explanation:
    """``rating.explain`` of a record of the home as it was billed (``store.explain_stored``, what the assistant
    says of a charge too): the tariff its bill was issued under and the corrections issued for it since, so that
    the arithmetic shown gives the amount stored and what the subscriber pays after the corrections.
    ``catalog_file``, when given, is the catalog the steps are recomputed with instead; else the home's
    current catalog where the billed one does not give the stored amounts (the period rated again since).
    ``repriced``: the record's rated lines when they are not the bill's (the period rated again since), told after
    the correction as the record is priced now."""
    from fairtel.cli._wangiri import with_wangiri_warning
    from fairtel.fraud._cases import CaseFiles
    from fairtel.store._care import explain_stored

    given = None if catalog_file is None else (lambda: home_catalog(None, catalog_file, []))
    explained = explain_stored(app.db, record_id, rated=rated, current=lambda: home_catalog(app, None, []), usage=usage,
                               source=source, given=given, repriced=repriced)
    # a call back to a one-ring scam number its subscriber was warned about says so (``fairtel fraud detect``)
    notices = CaseFiles(app.settings.home / "fraud")
    return with_wangiri_warning(explained, notices.notices()) if notices.notices_path.exists() else explained


def _language(app: App, msisdn: str) -> str:
    from fairtel.store import get_subscriber

    with app.db.connect() as conn:
        sub = get_subscriber(conn, msisdn)
    return "en" if sub is None else sub.language
