"""`fairtel bill` (bill runs and itemised statements) and `fairtel rerate` (tariff corrections as adjustments)."""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, fail, print_json, reporter, table
from fairtel.core.commits import fsync_dir
from fairtel.core.errors import ConflictError, FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.time import Period

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence
    from datetime import datetime
    from decimal import Decimal

    import pyarrow as pa

    from fairtel.billing import Account, AdjustmentEntry, Bill, BillingPolicy, BillRun, Reconciliation, Settled
    from fairtel.billing._order import RatedOrder
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog

BILLED = "billed"  # lake dataset: the rated lines each bill was issued from (its statement's lines)
BILLS = "bills"  # lake dataset: one row per issued bill
HELD = "held_usage"  # lake dataset: the usage lines each bill run held off its bills (made after a suspension)
# lake dataset: the records on no bill of a period that a rerate priced and issued no entry for (they cost nothing,
# or the consent gate refuses them): not unbilled. One part per rerate that settled new ones (billing.Settled).
SETTLED = "rerate_settled"
SETTLED_SCHEMA = {"msisdn": pl.String(), "source": pl.String(), "record_id": pl.String(), "kind": pl.String(),
                  "amount_minor": pl.Int64(), "outcome": pl.String(), "settled_at": pl.Datetime("us", "UTC")}
ISSUED_DATASETS = (BILLED, BILLS, HELD)
# Beside each period of BILLED and BILLS, hidden from readers (they look in ``period=P/``): the parts of a run
# whose bills the database has not committed yet, as ``<dataset>/.issuing/period=P/<run_id>.parquet``.
STAGING = ".issuing"
RUN_PREFIX = "brun"  # a bill run's id, and so the name of its parts
LOCK_DIR = "billing_log"  # in the lake's root: one lock per period, held while a run issues or rerates it


@contextlib.contextmanager
def _period_lock(app: App, key: str) -> Iterator[None]:
    """Hold the billing lock of period ``key`` (waits for the holder). Issuing and rerating a period take it,
    so that recovering one run's leftovers never takes another run's parts, staged and about to be committed,
    for a crashed run's. The lock dies with its process (``kill -9`` included); waiting, a run names its holder."""
    from fairtel.core.commits import held

    with held(app.lake.root / LOCK_DIR / f"period={key}.lock", f"the billing lock of {key}"):  # names its holder
        yield


def _staged(app: App, dataset: str, key: str, run_id: str) -> Path:
    final = app.lake.part_path(dataset, key, run_id)
    return final.parent.parent / STAGING / final.parent.name / final.name


def _stage(app: App, dataset: str, key: str, run_id: str, data: pa.Table) -> None:
    """Write a run's part where no reader looks, whole."""
    from fairtel.core.commits import write_parquet

    write_parquet(_staged(app, dataset, key, run_id), data)


def _move_in(app: App, dataset: str, key: str, run_id: str) -> bool:
    """Move one staged part to where readers look: one rename, so a reader sees it whole or not at all."""
    staged, final = _staged(app, dataset, key, run_id), app.lake.part_path(dataset, key, run_id)
    if not staged.exists():
        return False
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(staged, final)
    fsync_dir(final.parent)
    _prune(staged.parent)
    return True


def _promote(app: App, key: str, run_id: str) -> list[Path]:
    """Move a committed run's staged parts in; returns the run's parts in place."""
    for dataset in ISSUED_DATASETS:
        _move_in(app, dataset, key, run_id)
    return [p for p in (app.lake.part_path(d, key, run_id) for d in ISSUED_DATASETS) if p.exists()]


def _prune(staging: Path) -> None:
    """Remove a period's staging directory, and the dataset's, once empty."""
    for d in (staging, staging.parent):
        with contextlib.suppress(OSError):
            d.rmdir()


def settle_issue(app: App, key: str) -> dict[str, int]:
    """Finish or undo what an interrupted ``bill --issue`` of period ``key`` left; under the period's lock.

    A run whose bills the database committed gets its staged parts moved in (it stopped before moving them);
    every other run's parts are removed: staged ones, temporary files, and parts in place that no committed
    bill names (written before the commit by a run that died before it, as runs did before staging)."""
    from fairtel.store._billing import issued_runs

    with app.db.connect() as conn:
        committed = issued_runs(conn, key)
    moved = removed = 0
    for dataset in ISSUED_DATASETS:
        staging = _staged(app, dataset, key, "x").parent
        for f in sorted(staging.iterdir()) if staging.is_dir() else []:
            if f.suffix == ".parquet" and not f.name.startswith(".") and f.stem in committed:
                moved += int(_move_in(app, dataset, key, f.stem))
            elif f.is_file():
                f.unlink()
                removed += 1
        _prune(staging)
        in_place = app.lake.part_path(dataset, key, "x").parent
        for f in in_place.glob(f".{RUN_PREFIX}_*.tmp") if in_place.is_dir() else []:  # a write killed half way
            f.unlink(missing_ok=True)
            removed += 1
        for part in app.lake.parts(dataset, key):
            if part.startswith(f"{RUN_PREFIX}_") and part not in committed:
                removed += int(app.lake.delete_part(dataset, key, part))
    return {"parts_moved_in": moved, "parts_removed": removed}


def unfinished_runs(app: App, key: str) -> list[str]:
    """The bill runs of period ``key`` whose bills the database committed but whose parts are still staged (the run
    stopped, or is about to move them in): until ``settle_issue`` moves them in, readers of the lake see their bills
    without their lines."""
    from fairtel.store._billing import issued_runs

    staged = {f.stem for d in ISSUED_DATASETS if (staging := _staged(app, d, key, "x").parent).is_dir()
              for f in staging.iterdir() if f.suffix == ".parquet" and not f.name.startswith(".")}
    if not staged:
        return []
    with app.db.connect() as conn:
        committed = issued_runs(conn, key)
    return sorted(staged & set(committed))


def _money(minor: int, currency: str) -> str:
    from fairtel.core.money import Money

    return f"{Money.from_minor(minor, currency).amount:f}"


def _policy(app: App) -> BillingPolicy:
    from fairtel.billing import BillingPolicy

    return BillingPolicy(tax_rates=app.settings.tax_rates)


def _accounts_of(app: App, period: Period, *, first: str | None = None, last: str | None = None,
                 msisdns: Collection[str] | None = None, kept_numbers: bool = False) -> list[Account]:
    """``_accounts`` of the register's lines numbered ``first`` to ``last`` (one range of it), or of ``msisdns``,
    in number order: what a bill run reads of the register a chunk at a time. ``kept_numbers``: with each line's
    suspensions and why (``store._care.suspensions_in``), read only when a plan of the catalog has a suspension
    policy (``store._care.keeps_numbers``): what its keep-number fee is counted from."""
    from fairtel.billing import Account
    from fairtel.store._care import suspensions_in
    from fairtel.store._subscribers import lines_in_force

    with app.db.connect() as conn:
        lines = lines_in_force(conn, at=period.start, first=first, last=last, msisdns=msisdns)
        kept = suspensions_in(conn, first=first, last=last, msisdns=msisdns) if kept_numbers else {}
    return [Account(s.msisdn, plan, s.activated_at, s.status, s.language, s.closed_at,
                    s.suspended_at if s.status == "suspended" else None, holder_since=s.holder_since,
                    suspensions=kept.get(s.msisdn, ()))
            for s, plan in lines]


def _accounts(app: App, period: Period, *, kept_numbers: bool = False) -> list[Account]:
    """The register's lines as billing sees them for ``period``: each on the plan in force for it (a plan change
    takes effect from a period's start), not the latest the register names. ``kept_numbers``: with their
    suspensions and why, as ``_accounts_of``."""
    from fairtel.billing import Account
    from fairtel.store import list_subscribers, plans_in_force
    from fairtel.store._care import suspensions_in

    with app.db.connect() as conn:
        subs = list_subscribers(conn)
        in_force = plans_in_force(conn, at=period.start)
        kept = suspensions_in(conn) if kept_numbers else {}
    plans = dict(zip(in_force["msisdn"].to_pylist(), in_force["plan_id"].to_pylist(), strict=True))
    return [Account(s.msisdn, plans.get(s.msisdn, s.plan_id), s.activated_at, s.status, s.language, s.closed_at,
                    s.suspended_at if s.status == "suspended" else None, holder_since=s.holder_since,
                    suspensions=kept.get(s.msisdn, ()))
            for s in subs]


def _period(text: str, catalog: Catalog) -> Period:
    return Period.parse(text, catalog.operator.timezone)


def _scan_usage(app: App, period: Period, msisdns: list[str] | None = None, *, part: str | None = None) -> pl.DataFrame:
    """The period's usage records (of ``msisdns`` when given); ``part``: a column naming the usage part (file
    name) each record was read from."""
    files = app.lake.files("usage", periods=[period.key])
    if not files:
        return pl.DataFrame()
    scan = pl.scan_parquet(files, include_file_paths=part, missing_columns="insert", extra_columns="ignore")
    if part is not None:
        scan = scan.with_columns(pl.col(part).str.split("/").list.last())
    if msisdns is not None:
        scan = scan.filter(pl.col("msisdn").is_in(msisdns))
    return scan.collect()


def _rating_batch(app: App, key: str) -> str | None:
    """The batch run whose lines the rated period ``key`` holds (None: none), named as online rating names it in
    its log (``engines._online.batch_of``): the manifest's run, else (a run from before manifests) after its parts."""
    from fairtel.engines._online import batch_of

    return batch_of(app.lake.root, key)[0]


def _rated_order(app: App, key: str) -> RatedOrder:
    """How period ``key``'s usage was rated, as the lake records it: the batch run under its lines and the usage
    parts it rated (its manifest), and the files rated online in the order the rating log committed them (a torn
    last line is no commit). Read under rating's lock of the period, so that no batch run swaps the period between
    the manifest and the log."""
    from fairtel.billing._order import RatedOrder, logged_parts
    from fairtel.core.commits import period_lock, read_manifest
    from fairtel.engines._online import LOG_DIR, LOG_FILE, entry_files

    with period_lock(app.lake.root, key):
        found = read_manifest(app.lake.root / "rated" / f"period={key}")
        batch = _rating_batch(app, key)
        path = app.lake.root / LOG_DIR / LOG_FILE
        entries = []
        for line in (path.read_bytes().decode("utf-8", errors="replace").splitlines() if path.exists() else []):
            if f'"{key}"' not in line:  # a commit of other periods (a torn line ends the log either way)
                continue
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                break
    files = [(f["file"], [Path(p).name for p in f["parts"]] if f.get("parts") is not None else None,
              f.get("periods", e.get("periods", [])), (e.get("batch") or {}).get(key))
             for e in sorted(entries, key=lambda e: e["seq"]) for f in entry_files(e)]
    return RatedOrder(batch, found[1] if found is not None else frozenset(), logged_parts(files, key))


def _snapshot(app: App, period: Period, bills: dict[str, str]) -> pl.DataFrame:
    """The billed lines of the given bills (bill_id → run_id): only the part each bill's own run wrote."""
    from fairtel.billing import SNAPSHOT_COLUMNS

    files = app.lake.files(BILLED, periods=[period.key])
    if not files or not bills:
        return pl.DataFrame(schema=SNAPSHOT_COLUMNS)
    wanted = pl.DataFrame({"bill_id": list(bills), "run_id": list(bills.values())}, schema={"bill_id": pl.String(), "run_id": pl.String()})
    return pl.scan_parquet(files).join(wanted.lazy(), on=["bill_id", "run_id"], how="semi").collect()


def _stored_vas(app: App, per: Period, msisdns: list[str]) -> pl.DataFrame | None:
    """The VAS lines of ``msisdns`` that rating stored for the period, with the consent verdict each was rated
    under (None: no rated lines, or lines without verdicts)."""
    files = app.lake.files("rated", periods=[per.key])
    if not files:
        return None
    scan = pl.scan_parquet(files)
    if "verdict" not in scan.collect_schema().names():
        return None
    return scan.filter((pl.col("kind") == "vas") & pl.col("msisdn").is_in(msisdns)).collect()


def _rates_text(rates: Mapping[str, Decimal] | None) -> str | None:
    """A bill's tax rates as the lake keeps them: JSON, kind → rate as a decimal string (``{}``: untaxed)."""
    return None if rates is None else json.dumps({k: str(v) for k, v in sorted(rates.items())}, sort_keys=True)


def _bills_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("bill_id", pa.string()), ("msisdn", pa.string()), ("period", pa.string()), ("plan_id", pa.string()),
                      ("currency", pa.string()), ("issued_at", pa.timestamp("us", "UTC")), ("run_id", pa.string()),
                      ("charges_minor", pa.int64()), ("tax_minor", pa.int64()), ("adjustments_minor", pa.int64()),
                      ("subtotal_minor", pa.int64()), ("total_minor", pa.int64()), ("tax_rates", pa.string()),
                      ("rating_batch", pa.string())])


def _bill_rows(run: BillRun, rating_batch: str | None) -> list[dict[str, Any]]:
    """One row per bill of ``run``. ``rating_batch``: the batch run whose lines the period held when the run read
    them (None: none), which says in what order those lines drew their allowances (``billing._order``)."""
    return [
        {"bill_id": b.bill_id, "msisdn": b.msisdn, "period": b.period, "plan_id": b.plan_id, "currency": b.currency,
         "issued_at": b.issued_at, "run_id": b.run_id, "charges_minor": b.charges_minor, "tax_minor": b.tax_minor,
         "adjustments_minor": b.adjustments_minor, "subtotal_minor": b.subtotal_minor, "total_minor": b.total_minor,
         "tax_rates": _rates_text(b.tax_rates), "rating_batch": rating_batch}
        for b in run.bills
    ]


def _bill_part_column(app: App, per: Period, bills: list[Bill], column: str) -> dict[str, Any]:
    """bill_id → ``column`` of the bill's row in its run's part of the ``bills`` dataset (null values included); a
    bill whose part has no such column (written before it was kept) is not named."""
    runs = {b.run_id for b in bills if b.run_id}
    wanted = {b.bill_id for b in bills}
    out: dict[str, Any] = {}
    for f in app.lake.files(BILLS, periods=[per.key]):
        if f.stem not in runs or column not in pl.read_parquet_schema(f):
            continue
        for bill_id, value in pl.read_parquet(f, columns=["bill_id", column]).iter_rows():
            if bill_id in wanted:
                out[bill_id] = value
    return out


def _issued_tax_rates(app: App, per: Period, bills: list[Bill]) -> dict[str, dict[str, Decimal]]:
    """bill_id → the tax rates the bill was issued with, from its run's part of the ``bills`` dataset (the database
    keeps a bill's tax lines, which show no rate for a kind whose tax came to nothing). A part written before the
    rates were kept has none: such bills are left to ``issued_policy`` and their tax lines."""
    from decimal import Decimal

    return {bill_id: {k: Decimal(v) for k, v in json.loads(text).items()}
            for bill_id, text in _bill_part_column(app, per, bills, "tax_rates").items() if text is not None}


def _bill_json(b: Bill) -> dict[str, Any]:
    return {"bill_id": b.bill_id, "msisdn": b.msisdn, "plan_id": b.plan_id, "charges": _money(b.charges_minor, b.currency),
            "tax": _money(b.tax_minor, b.currency), "adjustments": _money(b.adjustments_minor, b.currency),
            "total": _money(b.total_minor, b.currency), "currency": b.currency, "lines": len(b.lines)}


def bill_period(app: App, period: str, *, catalog: Catalog, issue: bool, report: Any = None,
                catalog_text: str | None = None, now: datetime | None = None,
                before_period_end: bool = False) -> dict[str, Any]:
    """Run the bill run of ``period``: a preview, or (``issue``) bills written to the database and the lake.
    Bills already issued are never recomputed or rewritten. Issuing holds the period's billing lock and first
    settles what an interrupted run left (``settle_issue``), so a rerun after a crash charges nothing twice.
    ``catalog_text``: the text ``catalog`` was read from when it is not the home's current catalog (a catalog
    file): the bills name it as their catalog version, stored if new but not made current. Without it they name
    the home's current version.

    A period is issued only once it has ended on the operator's clock at ``now`` (default: the clock), or on its
    last day with ``before_period_end`` (``billing.check_issuable``: ``PeriodNotEndedError`` otherwise, before
    anything is read or written); a preview of any period is allowed, and says when the period has not ended."""
    from fairtel.billing import check_issuable
    from fairtel.core.time import utc_now

    per = _period(period, catalog)
    now = utc_now() if now is None else now
    if not issue:
        unfinished = unfinished_runs(app, per.key)
        if unfinished:  # its bills are issued but their lines are not in the lake yet: all of it would look unbilled
            raise ConflictError(
                f"a bill run of {per.key} ({unfinished[0]}) issued its bills but stopped before moving their lines into "
                f"the lake: run `fairtel bill --period {per.key} --issue` to finish it (it issues nothing again), then "
                "preview", details={"period": per.key, "unfinished_runs": unfinished})
        out = _bill_run(app, per, catalog=catalog, issue=False, report=report, now=now)
        if now < per.end:
            out["notes"].append(f"{per.key} has not ended (it ends at {per.end:%Y-%m-%d %H:%M} {per.tz}): bills issued now "
                                "would charge the whole month's plan fee; issue them once it has ended")
        return out
    early = check_issuable(per, now, before_period_end=before_period_end)
    _check_register(app, per)
    with _period_lock(app, per.key):
        settled = settle_issue(app, per.key)
        out = _bill_run(app, per, catalog=catalog, issue=True, report=report, catalog_text=catalog_text, now=now)
    if early is not None:
        out["notes"].append(early)
    if settled["parts_moved_in"] or settled["parts_removed"]:
        out["notes"].insert(0, f"an interrupted bill run of {per.key} was settled: {settled['parts_moved_in']} lake part(s) of "
                               f"issued bills moved in, {settled['parts_removed']} of bills never issued removed")
    out["recovered"] = settled
    return out


def reconcile_period(app: App, period: str, *, catalog: Catalog) -> Reconciliation:
    """The reconciliation of ``period`` (``billing.reconcile``), from what the home holds: the lake's clean usage,
    rated lines and unrated records of the period, the database's bills and adjustment entries, the lines the bills'
    runs billed and held (their lake parts), the tax rates each bill was issued with, and the partial sessions
    mediation still holds. Read only; the bill runs' own summaries are not read."""
    from sqlalchemy import select

    from fairtel.billing import reconcile
    from fairtel.core.commits import period_lock
    from fairtel.store import bills_of_period, rerate_entries
    from fairtel.store._billing import adjustments_by_id
    from fairtel.store._schema import Bill as BillRow
    from fairtel.store._schema import BillLine as BillLineRow
    from fairtel.store._schema import table_of

    per = _period(period, catalog)
    with app.db.connect() as conn:
        bills = bills_of_period(conn, per.key)
        ids = [ln.adjustment_id for b in bills for ln in b.lines if ln.adjustment_id]
        carried = adjustments_by_id(conn, ids)
        entries = rerate_entries(conn, per.key)
        b, bl = table_of(BillRow), table_of(BillLineRow)
        carried_in: dict[str, str] = {}
        wanted = [e.adjustment_id for e in entries]
        for start in range(0, len(wanted), 500):
            carried_in.update((str(a), str(p)) for a, p in conn.execute(
                select(bl.c.adjustment_id, b.c.period).join(b, b.c.bill_id == bl.c.bill_id)
                .where(bl.c.adjustment_id.in_(wanted[start:start + 500]))))

    def read(dataset: str) -> pl.DataFrame | None:
        files = app.lake.files(dataset, periods=[per.key])
        return pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore").collect() if files else None

    with period_lock(app.lake.root, per.key):  # rated and unrated lines of one rating run
        usage = _scan_usage(app, per)
        rated, unrated = read("rated"), read("unrated")
    billed = _snapshot(app, per, {x.bill_id: x.run_id for x in bills})
    held = _held_lines(app, per, {x.bill_id: x.run_id for x in bills})
    return reconcile(period=per.key, currency=catalog.operator.currency, days_in_period=per.days,
                     usage=usage if usage.height else None, rated=rated, unrated=unrated, bills=bills, billed=billed,
                     held=held, carried=carried, period_entries=entries, carried_in=carried_in,
                     tax_rates=_issued_tax_rates(app, per, bills), policy=_policy(app),
                     partial_sessions_waiting=waiting_partials(app, per))


def _check_register(app: App, per: Period) -> None:
    """Bills are issued only from a subscriber register: a home with none (a mistyped ``--home`` or FAIRTEL_HOME, or
    one never loaded) would issue no bill and report success. ``NotFoundError`` (exit 2), nothing written."""
    from fairtel.store import count_subscribers

    with app.db.connect() as conn:
        subscribers = count_subscribers(conn)
    if not subscribers:
        raise NotFoundError(
            f"no subscribers in the home {app.settings.home}: no bills of {per.key} issued. Is the home the right one "
            "(--home, FAIRTEL_HOME)? A new home needs `fairtel load DIR` first",
            details={"period": per.key, "home": str(app.settings.home), "subscribers": 0})


def _held_lines(app: App, per: Period, bills: dict[str, str] | None = None) -> pl.DataFrame:
    """The usage lines the committed bill runs of ``per`` held off their bills (their ``held_usage`` parts); of the
    given bills only (bill_id → run_id), when given. A run from before the dataset held nothing."""
    from fairtel.billing import SNAPSHOT_COLUMNS
    from fairtel.store._billing import issued_runs

    if bills is None:
        with app.db.connect() as conn:
            runs = issued_runs(conn, per.key)
    else:
        runs = set(bills.values())
    files = [f for f in app.lake.files(HELD, periods=[per.key]) if f.stem in runs]
    if not files:
        return pl.DataFrame(schema=SNAPSHOT_COLUMNS)
    scan = pl.scan_parquet(files).filter(pl.col("run_id").is_in(list(runs)))
    if bills is not None:
        wanted = pl.DataFrame({"bill_id": list(bills), "run_id": list(bills.values())},
                              schema={"bill_id": pl.String(), "run_id": pl.String()})
        scan = scan.join(wanted.lazy(), on=["bill_id", "run_id"], how="semi")
    return scan.collect()


def _on_no_bill(app: App, per: Period, issued: dict[str, str], rated_files: list[Path],
                accounts: list[Account]) -> tuple[int, int, dict[str, int]]:
    """(usage records, consented VAS charges, held usage records by hold reason) rated for subscribers already billed for the
    period that none of their bills' snapshots holds, no entry charged yet and no rerate settled (priced at nothing,
    or refused: ``SETTLED``): rated after the bill run, so a rerun of the bill run (which skips issued bills) does
    not charge them; ``fairtel rerate`` prices the first two, and charges what they cost. The third are held (made
    after the line's suspension, ``billing.held_usage``), not charged until released, or (usage and consented VAS
    charges) the previous customer's in the month of an owner change (``before_holding``), never charged to the
    current one; records a bill run held already are not counted again."""
    from fairtel.billing import BILLABLE_VERDICTS, USAGE_KINDS, held_usage
    from fairtel.billing._run import BEFORE_HOLDING, HOLD
    from fairtel.store._billing import issued_runs, rerate_entries

    if not issued or not rated_files:
        return 0, 0, {}
    key = ["msisdn", "source", "record_id"]
    scan = pl.scan_parquet(rated_files)
    verdict = pl.col("verdict") if "verdict" in scan.collect_schema().names() else pl.lit(None, dtype=pl.String())
    rated = (scan.filter(pl.col("msisdn").is_in(list(issued)))
             .select(*key, "kind", "started_at", verdict.alias("verdict"))
             .filter(pl.col("kind").is_in(USAGE_KINDS) | (pl.col("kind") == "vas") & pl.col("verdict").is_in(list(BILLABLE_VERDICTS)))
             .with_columns(pl.col("source").fill_null("")).collect())
    # held as the bill run holds them: a consented VAS charge only when it is the previous customer's
    rated = held_usage(rated, [a for a in accounts if a.msisdn in issued], period=per)
    vas_hold = pl.when(pl.col(HOLD) == BEFORE_HOLDING).then(pl.col(HOLD))
    rated = rated.select(*key, "kind", pl.when(pl.col("kind") == "vas").then(vas_hold).otherwise(pl.col(HOLD)).alias(HOLD)
                         ).unique(key, keep="first")
    with app.db.connect() as conn:
        runs = issued_runs(conn, per.key)
        charged = {(e.msisdn, e.source or "", e.record_id) for e in rerate_entries(conn, per.key) if e.record_id is not None}
    charged |= _settled_keys(app, per)  # priced by a rerate at nothing (or refused): nothing to charge
    files = [f for f in app.lake.files(BILLED, periods=[per.key]) if f.stem in runs]
    if files:
        billed = (pl.scan_parquet(files).filter(pl.col("run_id").is_in(list(runs))).select(key)
                  .with_columns(pl.col("source").fill_null("")).unique().collect())
        rated = rated.join(billed, on=key, how="anti")
    kept = _held_lines(app, per)
    if kept.height:
        rated = rated.join(kept.select(key).with_columns(pl.col("source").fill_null("")).unique(), on=key, how="anti")
    if charged:
        rated = rated.join(pl.DataFrame(sorted(charged), schema=dict.fromkeys(key, pl.String()), orient="row"), on=key, how="anti")
    if rated.filter(pl.col(HOLD).is_not_null()).height:
        # a held record released or written off (`fairtel bill release`) is settled: not advised again
        from fairtel.store._schema import AccessAudit, table_of

        with app.db.connect() as conn:
            decided = {str(r.resource) for r in conn.execute(select_decisions(table_of(AccessAudit), per.key))}
        settled = [h is not None and _decision_resource(per.key, src, r) in decided
                   for src, r, h in rated.select("source", "record_id", HOLD).iter_rows()]
        rated = rated.filter(~pl.Series("_settled", settled, dtype=pl.Boolean()))
    held = rated.filter(pl.col(HOLD).is_not_null())
    vas = rated.filter((pl.col("kind") == "vas") & pl.col(HOLD).is_null()).height
    by_reason = {str(r): int(n) for r, n in sorted(held.group_by(HOLD).len().iter_rows())}
    return rated.height - vas - held.height, vas, by_reason


# what each hold reason means for the operator (``billing.HOLD_REASONS``): what the usage is and what may be done with it
_HOLD_WORDS = {
    "line_suspended": "{n} made at or after the line's suspension (charged only once released: "
                      "`fairtel bill release --period {key}` charges those confirmed)",
    "line_closed": "{n} made after the line closed (not the subscriber's: never charged, only written off, "
                   "`fairtel bill release --period {key} --write-off`)",
    "before_activation": "{n} made before the line was activated (not the subscriber's: never charged, only written "
                         "off, `fairtel bill release --period {key} --write-off`)",
    "line_closed_undated": "{n} of a closed line whose register has no closing date (never charged, only written off; "
                           "give the register the line's closed_at)",
    "before_holding": "{n} made before the line moved to its current customer in the period (owner change: the "
                      "previous customer's, never charged to the current one, only written off, "
                      "`fairtel bill release --period {key} --write-off`; settle it with the previous customer)",
}


def held_words(by_reason: Mapping[str, int], key: str) -> str:
    """Held records counted per hold reason, each worded with what it is and what may be done with it."""
    return "; ".join(_HOLD_WORDS.get(r, "{n} held (`fairtel bill held --period {key}` says why)").format(n=n, key=key)
                     for r, n in sorted(by_reason.items()) if n)


def _settled_keys(app: App, per: Period) -> set[tuple[str, str, str]]:
    """(msisdn, source, record_id) of the records on no bill of ``per`` that a rerate settled without an entry."""
    files = app.lake.files(SETTLED, periods=[per.key])
    if not files:
        return set()
    keys = pl.scan_parquet(files).select("msisdn", pl.col("source").fill_null(""), "record_id").unique().collect()
    return set(keys.iter_rows())


def _keep_settled(app: App, per: Period, settled: list[Settled], *, at: datetime) -> int:
    """Add to the lake the records a rerate settled without an entry that it had not settled before (one part, under
    the period's billing lock); returns how many. Written after the entries are committed: a rerate that stops in
    between leaves them reported as unbilled until the next rerate settles them again."""
    from fairtel.core.ids import new_id

    known = _settled_keys(app, per)
    fresh = [s for s in settled if (s.msisdn, s.source, s.record_id) not in known]
    if fresh:
        rows = pl.DataFrame([(s.msisdn, s.source, s.record_id, s.kind, s.amount_minor, s.outcome, at) for s in fresh],
                            schema=SETTLED_SCHEMA, orient="row")
        app.lake.write(SETTLED, per.key, rows.to_arrow(), part=new_id("rr"))
    return len(fresh)


def _held_keys(app: App, per: Period, bills: dict[str, str], msisdns: list[str],
               accounts: Sequence[Account] = ()) -> dict[tuple[str, str, str], str]:
    """(msisdn, source, record_id) → hold reason of the records of ``msisdns`` held off the bills (bill_id → run_id:
    their runs' ``held_usage`` parts), held by rating as it stored the period (a usage line with a ``verdict``), made
    on a line of ``accounts`` closed with no closing date, or made before the owner change of a line of ``accounts``
    that changed owner during the period (usage and VAS charges: the previous customer's, ``billing.held_usage``)."""
    from fairtel.billing import BILLABLE_VERDICTS, USAGE_KINDS, held_usage
    from fairtel.billing._run import (
        BEFORE_HOLDING,
        HOLD,
        HOLD_REASONS,
        LINE_CLOSED_UNDATED,
        changed_hands_in,
        closed_undated,
    )

    key = ["msisdn", "source", "record_id"]
    kept = _held_lines(app, per, bills).select(*key, "verdict")
    files = app.lake.files("rated", periods=[per.key])
    if files:
        scan = pl.scan_parquet(files)
        undated = [m for m in closed_undated(accounts) if m in set(msisdns)]
        moved = [a for a in accounts if a.msisdn in set(msisdns) and changed_hands_in(a, per) is not None]
        names = scan.collect_schema().names()
        verdict = pl.col("verdict") if "verdict" in names else pl.lit(None, dtype=pl.String())
        usage = pl.col("kind").is_in(USAGE_KINDS)
        held = usage & (verdict.is_in(HOLD_REASONS).fill_null(False) | pl.col("msisdn").is_in(undated))
        # the previous customer's usage and consented VAS charges, as the bill run holds them (refused ones: refused)
        consented = (pl.col("kind") == "vas") & verdict.is_in(list(BILLABLE_VERDICTS)).fill_null(False)
        theirs = pl.col("msisdn").is_in([a.msisdn for a in moved]) & (usage | consented)
        found = (scan.filter(pl.col("msisdn").is_in(msisdns) & (held | theirs))
                 .select(*key, "kind", "started_at", verdict.cast(pl.String).alias("verdict")).collect())
        # the bill run's reasons: the previous customer's first, then a line closed with no date, then rating's
        reason = (pl.when(pl.col(HOLD) == BEFORE_HOLDING).then(pl.col(HOLD))
                  .when(~pl.col("kind").is_in(USAGE_KINDS)).then(pl.lit(None, dtype=pl.String()))
                  .when(pl.col("msisdn").is_in(undated)).then(pl.lit(LINE_CLOSED_UNDATED))
                  .when(pl.col("verdict").is_in(HOLD_REASONS)).then(pl.col("verdict")))
        flagged = (held_usage(found, moved, period=per).select(*key, reason.alias("verdict"))
                   .filter(pl.col("verdict").is_not_null()))
        kept = pl.concat([kept.cast({"verdict": pl.String()}), flagged])
    out: dict[tuple[str, str, str], str] = {}
    for m, s, r, why in kept.iter_rows():
        out.setdefault((m, s or "", r), why)  # a bill run's reason first
    return out


def not_rated(app: App, key: str, *, examples: int = 3) -> tuple[int, list[str]]:
    """How many usage records of period ``key`` the lake holds that no rating has seen: in neither the rated lines
    nor the unrated records (``fairtel rate``, or online rating, file by file), and some of their ids (``source/id``
    when they have a source). A usage part the batch run under the rated lines read (its manifest) is rated whole;
    only the parts landed since are read record by record. Call under the period's rating lock."""
    from fairtel.core.commits import read_manifest

    files = app.lake.files("usage", periods=[key])
    if not files:
        return 0, []
    found = read_manifest(app.lake.root / "rated" / f"period={key}")
    read = found[1] if found is not None else frozenset()
    rest = [f for f in files if f.name not in read]
    if not rest:
        return 0, []
    ids = [pl.col("source").cast(pl.String).fill_null(""), pl.col("record_id").cast(pl.String)]
    usage = pl.scan_parquet(rest, missing_columns="insert", extra_columns="ignore").select(ids)
    seen = [pl.scan_parquet(f).select(ids) for f in (app.lake.files(d, periods=[key]) for d in ("rated", "unrated")) if f]
    if seen:
        usage = usage.join(pl.concat(seen).unique(), on=["source", "record_id"], how="anti")
    left = usage.unique().sort("source", "record_id").collect()
    return left.height, [f"{src}/{rid}" if src else rid for src, rid in left.head(examples).iter_rows()]


def _unrated_of_period(app: App, per: Period, issued: Mapping[str, Any]) -> pl.DataFrame | None:
    """The records of ``per`` rating left out (the lake's ``unrated`` records: no rule, no plan...), but those of the
    subscribers whose bills are issued already (told when those were); None when there are none. Read under the
    period's rating lock, with the rated lines."""
    files = app.lake.files("unrated", periods=[per.key])
    if not files:
        return None
    scan = pl.scan_parquet(files)
    names = scan.collect_schema().names()
    return scan.filter(~pl.col("msisdn").is_in(list(issued))).select(
        [c for c in ("msisdn", "source", "record_id", "kind", "reason") if c in names]).collect()


# unrated reasons a change of the register (or catalog) may lift: rated again, the record is priced
_COVERABLE = ("unknown_subscriber", "unknown_plan")


def _coverable_accounts(app: App, per: Period, unrated: pl.DataFrame | None, *, kept_numbers: bool = False) -> list[Account]:
    """The accounts of the lines ``_covered_now`` looks at: those rating left records of out for want of a line or a
    plan (``_COVERABLE``), read for those lines alone (``kept_numbers``: as ``_accounts_of``)."""
    if unrated is None or unrated.height == 0 or "reason" not in unrated.columns:
        return []
    numbers = unrated.filter(pl.col("reason").is_in(_COVERABLE))["msisdn"].drop_nulls().cast(pl.String).unique()
    return _accounts_of(app, per, msisdns=numbers.to_list(), kept_numbers=kept_numbers) if numbers.len() else []


def _covered_now(unrated: pl.DataFrame | None, accounts: list[Account], catalog: Catalog, per: Period,
                 *, examples: int = 3) -> tuple[int, list[str]]:
    """How many of the period's records rating left out for want of a subscriber or a plan (``_COVERABLE``) belong now
    to a line the register holds, in service before the period ends and on a plan the catalog has, and some of their
    ids (``source/id``): rated again they would be priced, and their line's bill must hold them."""
    if unrated is None or unrated.height == 0 or "reason" not in unrated.columns:
        return 0, []
    plans = {p.id for p in catalog.plans}
    lines = [a.msisdn for a in accounts if a.activated_at < per.end and a.plan_id in plans]
    found = (unrated.filter(pl.col("reason").is_in(_COVERABLE) & pl.col("msisdn").is_in(lines))
             .with_columns(pl.col("source").cast(pl.String).fill_null("") if "source" in unrated.columns
                           else pl.lit("").alias("source"))
             .unique(["msisdn", "source", "record_id"]).sort("source", "record_id"))
    return found.height, [f"{src}/{rid}" if src else rid for src, rid in found.select("source", "record_id").head(examples).iter_rows()]


def waiting_partials(app: App, per: Period) -> int:
    """How many partial sessions (long calls, data sessions cut by the switch) that started in ``per`` mediation still
    holds, waiting for the rest of their parts (``mediation/state.sqlite``, read only, without taking mediation's
    lock): usage of the period in no lake part yet, so on no bill until ``fairtel ingest --flush-partials`` (or the
    missing parts) emits them. A session is of the period its first part started in."""
    import sqlite3

    path = app.settings.home / "mediation" / "state.sqlite"
    if not path.exists():
        return 0
    lo, hi = (int(t.timestamp() * 1_000_000) for t in (per.start, per.end))
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            row = conn.execute(
                "SELECT COUNT(*) FROM (SELECT MIN(started_us) AS first_us FROM partials GROUP BY source, session_id) "
                "WHERE first_us >= ? AND first_us < ?", (lo, hi)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:  # a ledger from before partials were kept, or one being created: nothing held in it
        return 0
    return int(row[0] or 0)


def partials_note(waiting: int, key: str) -> str:
    return (f"{waiting} partial session(s) of {key} are still waiting in mediation for the rest of their parts: on no "
            f"bill until emitted; `fairtel ingest --flush-partials` emits them (flagged incomplete), then `fairtel rate "
            f"--period {key}` (and, once {key} is issued, `fairtel rerate --period {key}`) charges them")


def _unrated_note(app: App, per: Period, unrated: int, records: int, by_reason: Mapping[str, int]) -> str:
    """What a bill run says of the records of its period on no bill because rating left them out."""
    reasons = ", ".join(f"{r} {n}" for r, n in by_reason.items())
    one = unrated == 1
    return (f"{unrated} record{'' if one else 's'} of {records} of {per.key} {'is' if one else 'are'} unrated and on no bill "
            f"({reasons}; see {app.lake.root / 'unrated'} or the `fairtel rate --period {per.key}` output): once the "
            f"catalog or the subscriber register covers {'it' if one else 'them'}, `fairtel rate --period {per.key}` "
            f"prices {'it' if one else 'them'} and the next bill run bills {'it' if one else 'them'} (`fairtel rerate "
            f"--period {per.key}` for subscribers billed already)")


class _StagedPart:
    """A run's part of one dataset, written a chunk at a time where no reader looks (``_staged``): row groups appended
    to a hidden temporary file, renamed to the staged name once whole (fsynced), as ``write_parquet`` writes a part."""

    def __init__(self, path: Path, schema: pa.Schema) -> None:
        import uuid

        import pyarrow.parquet as pq

        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex}.tmp")
        self._fh = self._tmp.open("wb")
        self._writer = pq.ParquetWriter(self._fh, schema, compression="zstd")
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.cast(self._writer.schema))
            self.rows += table.num_rows

    def close(self) -> None:
        self._writer.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        fsync_dir(self.path.parent)

    def discard(self) -> None:
        with contextlib.suppress(Exception):
            self._writer.close()
        with contextlib.suppress(Exception):
            self._fh.close()
        self._tmp.unlink(missing_ok=True)


def _bill_run(app: App, per: Period, *, catalog: Catalog, issue: bool, report: Any, now: datetime,
              catalog_text: str | None = None) -> dict[str, Any]:
    import pyarrow as pa

    from fairtel.billing import SNAPSHOT_COLUMNS, BillRun, run_bills_chunked
    from fairtel.core.errors import CurrencyMismatchError
    from fairtel.core.ids import new_id
    from fairtel.store import catalog_version, current_catalog, handed_over, issue_bills, issued_bills
    from fairtel.store._billing import bill_periods, pending_adjustments_between, pending_in_other_currency
    from fairtel.store._care import keeps_numbers
    from fairtel.store._subscribers import register_numbers

    # the register's numbers alone up front; each chunk's lines and pending adjustments are read when it is billed
    with app.db.connect() as conn:
        issued = issued_bills(conn, per.key)
        register = register_numbers(conn)
    from fairtel.core.commits import period_lock

    chunk_size = app.settings.bill_chunk
    current: dict[str, Account] = {}  # the accounts of the chunk being billed
    # the lines' suspensions and why, read only when a plan charges a keep-number fee for suspended days (停机保号)
    kept_numbers = keeps_numbers(catalog)

    def accounts_for(chunk: Sequence[str]) -> list[Account]:
        # one range of the register (the chunk is every number of the run between its first and last): a line
        # added since the numbers were listed waits for the next run, as it did when the register was read whole
        wanted = set(chunk)
        current.clear()
        lines = _accounts_of(app, per, first=chunk[0], last=chunk[-1], kept_numbers=kept_numbers)
        current.update((a.msisdn, a) for a in lines if a.msisdn in wanted)
        return list(current.values())

    def adjustments_for(numbers: Sequence[str]) -> tuple[list[AdjustmentEntry], dict[str, str]]:
        if not numbers:
            return [], {}
        mine = {m for m in numbers if m not in issued}
        with app.db.connect() as conn:
            entries = [e for e in pending_adjustments_between(conn, numbers[0], numbers[-1]) if e.msisdn in mine]
            return entries, bill_periods(conn, [e.bill_id for e in entries if e.bill_id is not None])
    # the period's rated lines read under rating's lock, a chunk of subscribers at a time: a `fairtel rate` or an online
    # commit of the period swapping its lines in meanwhile would remove the files listed here before they are read
    with period_lock(app.lake.root, per.key):
        rated_files = app.lake.files("rated", periods=[per.key])
        unrated, examples = not_rated(app, per.key)
        if unrated:
            # a bill must hold all of the period's usage it can: a record ingested after the rating run (or never
            # rated) would otherwise be left off without a word, and a rerun of the bill run skips issued bills
            raise ConflictError(
                f"{unrated} usage record(s) of {per.key} in the lake are not rated (ingested after the period was rated, "
                f"e.g. {', '.join(examples)}): run `fairtel rate --period {per.key}` first",
                details={"period": per.key, "unrated_records": unrated, "examples": examples})
        if report is not None:
            report.step("read", total=2)
        rating_batch = _rating_batch(app, per.key)  # the lines' draw order, for a rerate to rate them in again
        # the accounts of the lines already billed (a rerun) and of those rating left records of out for want of a
        # line or plan, read for those lines alone
        billed_before = (_accounts_of(app, per, msisdns=issued, kept_numbers=kept_numbers)
                         if issued and rated_files else [])
        late_usage, late_vas, late_held = _on_no_bill(app, per, issued, rated_files, billed_before)
        del billed_before
        left_out = _unrated_of_period(app, per, issued)
        coverable = _coverable_accounts(app, per, left_out, kept_numbers=kept_numbers)
        covered, covered_examples = _covered_now(left_out, coverable, catalog, per)
        if covered:
            # rated again, they are on the bills this run would issue; issued without them, they wait for a rerate
            # and reach the subscriber a month late
            raise ConflictError(
                f"{covered} usage record(s) of {per.key} were left unrated because the subscriber register or the "
                f"catalog did not cover their line, and now does (e.g. {', '.join(covered_examples)}): run "
                f"`fairtel rate --period {per.key}` first, so that the bills hold them",
                details={"period": per.key, "unrated_now_covered": covered, "examples": covered_examples})
        not_issued = ~pl.col("msisdn").is_in(list(issued))
        # every number the run may meet, as one column of strings (the streaming engine reads the rated lines' numbers
        # a batch at a time, not the whole column at once)
        no_numbers = pl.Series("msisdn", [], dtype=pl.String)
        rated_numbers = (pl.scan_parquet(rated_files).filter(not_issued).select(pl.col("msisdn").cast(pl.String)).unique()
                         .collect(engine="streaming")["msisdn"] if rated_files else no_numbers)
        numbers = pl.concat([register, rated_numbers,
                             left_out["msisdn"].cast(pl.String).rename("msisdn") if left_out is not None else no_numbers])
        del register, rated_numbers
        # refused before anything is billed, as when every entry was read up front: an entry in another currency
        with app.db.connect() as conn:
            foreign = pending_in_other_currency(conn, catalog.operator.currency, period=per.key)
        if foreign is not None:
            raise CurrencyMismatchError(f"adjustment {foreign.adjustment_id} is in {foreign.currency}, bills are in "
                                        f"{catalog.operator.currency}")

        from fairtel.engines._buckets import scan_numbers

        def rated_for(chunk: Sequence[str]) -> pl.DataFrame | None:
            if not rated_files:
                return None
            # the chunk is every number of the run between its first and last; the parts' row groups of other
            # numbers are skipped by their statistics (``engines.scan_numbers``), a batch of each part at a time
            return scan_numbers(rated_files, chunk[0], chunk[-1]).filter(not_issued).collect(engine="streaming")

        def unrated_for(chunk: Sequence[str]) -> pl.DataFrame | None:
            if left_out is None:
                return None
            return left_out.filter((pl.col("msisdn") >= chunk[0]) & (pl.col("msisdn") <= chunk[-1]))

        run = run_bills_chunked(rated_for, catalog, accounts_for, numbers=numbers, period=per, issued_at=now,
                                run_id=new_id(RUN_PREFIX), chunk_size=chunk_size, policy=_policy(app),
                                skip=issued.keys(), unrated_for=unrated_for, adjustments_for=adjustments_for)
        del numbers
        # Stage the lake parts (named after the run) where no reader looks, chunk by chunk, with each chunk's bills
        # spooled to an anonymous file in the home; once every chunk is computed and every part staged whole, insert
        # the spooled bills chunk by chunk in one transaction (the database's write lock held for the inserts alone,
        # not while chunks are computed), then move the parts in. A crash anywhere leaves either no bills and staged
        # parts the next run removes, or the bills and staged parts the next run moves in (settle_issue): never parts
        # of bills that were not issued; the spool vanishes with the process.
        snapshot_schema = pl.DataFrame(schema=SNAPSHOT_COLUMNS).to_arrow().schema
        no_lines = pl.DataFrame(schema=SNAPSHOT_COLUMNS)  # the inserts read a chunk's bills alone
        parts: dict[str, _StagedPart] = {}
        activated: dict[str, Any] = {}
        issued_now: list[str] = []
        carried = 0
        try:
            with contextlib.ExitStack() as stack:
                spool: Any = None  # the chunks' bills, pickled one after another (0600 in the home, unlinked)
                for chunk in run.chunks():
                    activated.update({b.msisdn: current[b.msisdn].activated_at for b in chunk.bills
                                      if per.start < current[b.msisdn].activated_at < per.end})
                    if not issue or not chunk.bills:
                        continue
                    if spool is None:
                        spool = stack.enter_context(tempfile.TemporaryFile(dir=app.settings.home, prefix=".bill-run-"))
                        parts = {BILLED: _StagedPart(_staged(app, BILLED, per.key, run.run_id), snapshot_schema),
                                 BILLS: _StagedPart(_staged(app, BILLS, per.key, run.run_id), _bills_schema())}
                    parts[BILLED].write(chunk.billed.to_arrow())
                    parts[BILLS].write(pa.Table.from_pylist(_bill_rows(chunk, rating_batch), schema=_bills_schema()))
                    if chunk.held.height:  # a run that holds nothing writes no held part
                        if HELD not in parts:
                            parts[HELD] = _StagedPart(_staged(app, HELD, per.key, run.run_id), snapshot_schema)
                        parts[HELD].write(chunk.held.to_arrow())
                    pickle.dump(chunk.bills, spool, protocol=pickle.HIGHEST_PROTOCOL)  # all the insert reads
                for part in parts.values():  # staged whole before the commit
                    part.close()
                if spool is not None:
                    spool.seek(0)
                    with app.db.begin() as tx:  # the one transaction the bills are inserted in
                        # the version that priced the bills: the catalog file's text (kept, not made current), else
                        # the current one
                        version_id: int | None
                        if catalog_text is not None:
                            version_id = catalog_version(tx, catalog_text)
                        else:
                            version = current_catalog(tx)
                            version_id = None if version is None else version.version_id
                        while True:
                            try:
                                spooled = pickle.load(spool)  # this process's own file, just written
                            except EOFError:
                                break
                            result = issue_bills(tx, BillRun(per.key, run.run_id, now, spooled, no_lines),
                                                 catalog_version_id=version_id)
                            issued_now.extend(result.issued)
                            carried += result.adjustments_carried
        except BaseException:
            for part in parts.values():
                part.discard()
            if issue:
                with contextlib.suppress(Exception):  # the database decides: moved in if it did commit, removed if not
                    settle_issue(app, per.key)
            raise
    if report is not None:
        report.step("read")
    cur = catalog.operator.currency
    summary = run.summary()
    out: dict[str, Any] = {
        "period": per.key, "mode": "issue" if issue else "preview", "currency": cur, "bills": run.bills,
        "already_issued": len(issued), "total": _money(run.total_minor, cur),
        "by_kind": {k: _money(v, cur) for k, v in summary["by_kind_minor"].items()},
        "adjustments_carried": run.adjustments_carried, "refused_vas": run.refused_vas,
        "notes": list(run.notes), "sample": [_bill_json(b) for b in run.sample],
    }
    if activated:
        with app.db.connect() as conn2:
            again = handed_over(conn2, activated)
        if again:
            out["notes"].append(
                f"{len(again)} line(s) activated again during {per.key} after an earlier holding (a number closed and "
                f"given to a new holder, or its activation corrected), e.g. {again[0]}: the bill is the current "
                f"holder's, from the activation; what the earlier holder owes for the part of {per.key} before it "
                "(fee and usage) is on no bill (one bill per number and period)")
    out.update(held_records=summary["held_records"], held=_money(summary["held_minor"], cur),
               held_subscribers=summary["held_subscribers"],
               held_by_kind={k: _money(v, cur) for k, v in summary["held_by_kind_minor"].items()},
               held_by_reason=summary["held_by_reason"])
    # the previous customers' part of the month of an owner change: on no bill, to be settled with them
    earlier = summary.get("earlier_holder") or {}
    out["earlier_holder"] = {} if not earlier else {
        "lines": earlier["lines"], "records": earlier["records"], "usage": _money(earlier["usage_minor"], cur),
        "fee_days": earlier["fee_days"], "fee": _money(earlier["fee_minor"], cur)}
    if summary["held_records"]:
        reasons = summary["held_by_reason"]
        vas_held = summary.get("held_vas_records", 0)  # a previous customer's VAS charges: not usage records
        counted = f"{summary['held_records'] - vas_held} usage record(s)" + (f" and {vas_held} VAS charge(s)" if vas_held else "")
        out["notes"].append(
            f"{counted} of {summary['held_subscribers']} line(s) held, not billed "
            f"({out['held']} {cur}; " + ", ".join(f"{r} {n}" for r, n in reasons.items()) + "): "
            f"{held_words(reasons, per.key)}; `fairtel bill held --period {per.key}` lists them")
    if late_usage:
        out["notes"].append(f"{late_usage} rated record(s) of subscribers already billed for {per.key} are on no bill (rated after "
                            f"their bill run) and not priced by a rerate yet: `fairtel rerate --period {per.key}` charges "
                            "what they cost")
    if late_vas:
        out["notes"].append(f"{late_vas} consented VAS charge(s) of subscribers already billed for {per.key} are on no bill "
                            f"(rated after their bill run): `fairtel rerate --period {per.key}` charges those the consent "
                            "gate still lets through")
    late_held_records = sum(late_held.values())
    if late_held_records:
        out["notes"].append(f"{late_held_records} record(s) of subscribers already billed for {per.key}, rated after "
                            f"their bill run, are held, neither billed nor charged by a rerate: {held_words(late_held, per.key)}")
    out.update(unbilled_late_records=late_usage, unbilled_late_vas=late_vas, held_late_records=late_held_records)
    out.update(records=summary["records"], unrated_records=summary["unrated_records"],
               unrated_by_reason=summary["unrated_by_reason"])
    if summary["unrated_records"]:
        out["notes"].append(_unrated_note(app, per, summary["unrated_records"], summary["records"],
                                          summary["unrated_by_reason"]))
    waiting = waiting_partials(app, per)
    out["partial_sessions_waiting"] = waiting
    if waiting:
        out["notes"].append(partials_note(waiting, per.key))
    if not run.bills:
        out["notes"].append(f"all {len(issued)} bills of {per.key} are already issued: nothing changed" if issued
                            else f"no subscriber in service in {per.key}: no bills")
        return out
    if not issue:
        return out
    written = _promote(app, per.key, run.run_id)
    out.update(bills=len(issued_now), adjustments_carried=carried, run_id=run.run_id, files=[str(p) for p in written])
    return out


_NUMBER_SEPARATORS = re.compile(r"[\s\-]")


def msisdn_argument(text: str) -> str:
    """A number as the register keeps it, from one as people type it: E.164 without its leading ``+`` (as usage
    records are read), and a number written in groups (``+86 138-0000-0001``) without its spaces and dashes. Text
    that is not digits once those are gone (a PBX extension or SIP user) is kept as typed, but for the ``+``."""
    number = text.strip().lstrip("+")
    digits = _NUMBER_SEPARATORS.sub("", number)
    return digits if digits.isascii() and digits.isdigit() else number


def _no_bill(msisdn: str, per: Period, *, known: bool, issued: bool) -> str:
    """Why there is no statement of ``msisdn`` for ``per``: no such subscriber, the period not billed yet, or billed
    without a bill for this line."""
    if not known:
        return f"{msisdn} is not a subscriber of this home (not in the register): it has no bill for {per.key}"
    if not issued:
        from fairtel.core.time import utc_now, zone

        if utc_now() < per.end:  # `bill --issue` would be refused (period_not_ended): not a step to take now
            return (f"no bill issued for {per.key}: the period has not ended yet (it ends at "
                    f"{per.end.astimezone(zone(per.tz)):%Y-%m-%d %H:%M} {per.tz} on the operator's clock); its bills "
                    f"are issued once it has ended, and `fairtel bill --period {per.key}` previews them meanwhile")
        return f"no bill issued for {per.key} yet: run `fairtel bill --period {per.key} --issue` first"
    return (f"no bill for {msisdn} in {per.key}, though the period's bills are issued: the line was not in service in "
            "the period (activated after it, or closed with nothing to bill)")


def statement_for(app: App, msisdn: str, period: str, *, catalog: Catalog, fmt: str, lang: str | None) -> str:
    from sqlalchemy import exists, select

    from fairtel.billing import bill_id_for, build_statement, snapshot_mismatches, statement_csv, statement_html
    from fairtel.store import get_bill, get_subscriber
    from fairtel.store._billing import adjustments_by_id
    from fairtel.store._schema import Bill as BillRow
    from fairtel.store._schema import table_of

    msisdn = msisdn_argument(msisdn)
    per = _period(period, catalog)
    with app.db.connect() as conn:
        bill = get_bill(conn, bill_id_for(msisdn, per.key))
        sub = get_subscriber(conn, msisdn)
        bills = table_of(BillRow)
        issued = bill is None and bool(conn.scalar(select(exists().where(bills.c.period == per.key))))
    if bill is None:
        raise NotFoundError(_no_bill(msisdn, per, known=sub is not None, issued=issued),
                            details={"period": per.key, "subscriber": sub is not None, "period_issued": issued})
    language = lang or (sub.language if sub is not None else "zh")
    lines = _snapshot(app, per, {bill.bill_id: bill.run_id})
    if bill.run_id and _staged(app, BILLED, per.key, bill.run_id).exists() and snapshot_mismatches([bill], lines):
        raise ConflictError(f"the bill run that issued {bill.bill_id} stopped before moving its lines into the lake: "
                            f"run `fairtel bill --period {per.key} --issue` again to finish it")
    usage = _scan_usage(app, per, [msisdn])
    held = _held_lines(app, per, {bill.bill_id: bill.run_id}) if bill.run_id else None
    with app.db.connect() as conn:  # the entries its adjustment lines carry: the tax each includes
        entries = adjustments_by_id(conn, bill.adjustment_ids)
    # the VAS charges the consent gate refused are on no bill: listed at 0.00 with why, as the console and the API do,
    # those of the bill's customer only (from the line's owner change or activation in the period, when it has one)
    refused = _stored_vas(app, per, [msisdn])
    since = None if sub is None else max(sub.activated_at, sub.holder_since or sub.activated_at)
    if since is not None and not per.start < since < per.end:
        since = None  # a holding that began before the period (or after it: the bill is an earlier customer's)
    st = build_statement(bill, lines, catalog=catalog, language=language, usage=usage if usage.height else None, held=held,
                         adjustments=entries, refused=refused, holding_from=since)
    return statement_csv(st) if fmt == "csv" else statement_html(st)


def rerate_period(app: App, period: str, *, catalog: Catalog, created_by: str = "rerate", report: Any = None) -> dict[str, Any]:
    """Rate the billed subscribers' usage of ``period`` again under ``catalog``, price their plan fees again,
    and issue the differences as adjustment entries (append-only, idempotent). Holds the period's billing lock,
    so the bills it corrects and their snapshot are those of finished runs."""
    per = _period(period, catalog)
    with _period_lock(app, per.key):
        settled = settle_issue(app, per.key)
        out = _rerate(app, per, catalog=catalog, created_by=created_by, report=report)
    if settled["parts_moved_in"] or settled["parts_removed"]:
        out["notes"].insert(0, f"an interrupted bill run of {per.key} was settled: {settled['parts_moved_in']} lake part(s) of "
                               f"issued bills moved in, {settled['parts_removed']} of bills never issued removed")
    out["recovered"] = settled
    return out


def _rerate(app: App, per: Period, *, catalog: Catalog, created_by: str, report: Any) -> dict[str, Any]:
    from dataclasses import replace

    from fairtel.billing import charge_late_vas, rerate_differences, rerate_fees, rerate_outcome, snapshot_mismatches
    from fairtel.billing._model import HOLDING_CODES, decode_reason, issued_policy
    from fairtel.billing._order import ARRIVAL, PART, UNPLACED, draw_order
    from fairtel.billing._rerate import holdings_of, late_charged_first, late_vas_charged
    from fairtel.billing._run import BEFORE_HOLDING
    from fairtel.cli._home import home_gate, home_subscribers
    from fairtel.core.time import utc_now
    from fairtel.privacy import mask_msisdn
    from fairtel.rating import rate
    from fairtel.store import bills_of_period, record_adjustments, rerate_entries
    from fairtel.store._care import keeps_numbers

    with app.db.connect() as conn:
        bills = bills_of_period(conn, per.key)
        prior = rerate_entries(conn, per.key)
    if not bills:
        raise ConflictError(f"no bills issued for {per.key}: nothing was charged, so rerun `fairtel rate --period {per.key}` instead")
    # each correction is taxed at the rates its bill was issued with, not at today's settings
    rates = _issued_tax_rates(app, per, bills)
    bills = [replace(b, tax_rates=rates[b.bill_id]) if b.bill_id in rates else b for b in bills]
    current = _policy(app)
    policies = {b.msisdn: issued_policy(b, current) for b in bills}
    billed = _snapshot(app, per, {b.bill_id: b.run_id for b in bills})
    # A bill whose snapshot is missing or incomplete cannot tell which records it charged: compared, every one
    # of them would look unbilled and be charged again. Its usage is left as billed (its fee is still rerated).
    broken = set(snapshot_mismatches(bills, billed))
    compared_bills = [b for b in bills if b.bill_id not in broken]
    msisdns = [b.msisdn for b in compared_bills]
    # the order the bills' lines drew their allowances in: the batch run under each bill's lines when it was
    # issued (recorded by its run; a run from before that is taken to be under today's), the files rated online
    order = _rated_order(app, per.key)
    kept = _bill_part_column(app, per, compared_bills, "rating_batch")
    pins = {b.msisdn: kept[b.bill_id] for b in compared_bills if b.bill_id in kept}
    usage = _scan_usage(app, per, msisdns, part=PART)
    if report is not None:
        report.step("rerate", total=2)
    # each subscriber's usage under the plan its bill was issued on (a plan changed since is not a tariff
    # correction of this period); a subscriber whose bill names no plan, under the one in force for the period
    # with each line's owner change (过户), if any: rating counts allowances per holding in the month of the change,
    # as `fairtel rate` does
    register = home_subscribers(app, ("msisdn", "plan_id", "holder_since"), period=per)
    on_bill = pl.DataFrame({"msisdn": [b.msisdn for b in bills if b.plan_id], "plan_id": [b.plan_id for b in bills if b.plan_id]},
                           schema={"msisdn": pl.String(), "plan_id": pl.String()})
    lines = register.select(pl.col("msisdn").cast(pl.String), pl.col("plan_id").cast(pl.String), "holder_since")
    plans = pl.concat([on_bill.join(lines.select("msisdn", "holder_since"), on="msisdn", how="left", maintain_order="left"),
                       lines.join(on_bill, on="msisdn", how="anti")])
    # rated again in that order (the records no bill holds after those it does), so an unchanged tariff gives
    # back every billed line, and a changed one differs by the tariff alone
    ordered = draw_order(usage, billed, order, pins) if usage.height else None
    if ordered is not None:
        # a charge an earlier rerate billed with a late-VAS debit keeps its month as one on the bill does: rated right
        # after the bills' lines and before every other record on no bill (an earlier-dated charge of the same month
        # arriving after it is its duplicate, never debited too)
        ordered = late_charged_first(ordered, billed, late_vas_charged(prior, per.key), arrival=ARRIVAL)
    result = (rate(ordered, catalog, plans, period=per, gate=home_gate(app, catalog), arrival=ARRIVAL)
              if ordered is not None else None)
    unplaced = 0 if ordered is None else int(ordered[UNPLACED].sum())
    rerated = result.rated if result is not None else billed.head(0)
    now = utc_now()
    # usage held off the bills (by their runs, or by rating as it stored it) is charged only by a release: a rerun of
    # rating after the line came back into service, or a changed tariff, must not bill it as late usage
    # with the lines' suspensions and why when a plan charges a keep-number fee (停机保号): the fee priced as the bill run does
    accounts = _accounts(app, per, kept_numbers=keeps_numbers(catalog))
    held = _held_keys(app, per, {b.bill_id: b.run_id for b in compared_bills if b.run_id}, msisdns, accounts)
    # what refunds already gave back of the records (usage past a spending cap): not credited a second time; and the
    # refunds charge assurance does not recompute (every kind but usage past a cap), with the entries naming a record
    # that no rerate issued (care credits): an owner change's credit credits only what is still charged of a record
    refunded, kept_refunds = _refunded_records(app, msisdns, catalog.operator.currency)
    credits = _record_credits(app, per, compared_bills, catalog.operator.currency)
    # lines moved to another customer during the period (an owner change the bills may not have known): what their
    # bills charged of the days before the change is the previous customer's, credited as the bill run would leave it
    holdings = {m: h for m, h in holdings_of(accounts, per).items() if m in set(msisdns)}
    diff = rerate_differences(billed, rerated, period=per.key, bills={b.msisdn: b.bill_id for b in compared_bills},
                              currency=catalog.operator.currency, created_at=now, prior=prior, policy=current,
                              policies=policies, created_by=created_by, held=held, refunded=refunded, holdings=holdings,
                              kept_refunds=kept_refunds, record_credits=credits)
    fees = rerate_fees(bills, catalog, period=per.key, created_at=now, accounts={a.msisdn: a for a in accounts},
                       prior=prior, policy=current, created_by=created_by)
    # consented VAS charges rated after the bill run: charged once on the bill of the period, never one a consent
    # gate refused (the gate as it stands, or the one rating stored its verdict under), nor one held off the bill (a
    # previous customer's, made before an owner change in the period: not the current customer's to pay)
    late = charge_late_vas(billed, rerated, period=per.key, bills={b.msisdn: b.bill_id for b in compared_bills},
                           currency=catalog.operator.currency, created_at=now, prior=prior,
                           stored=_stored_vas(app, per, msisdns), policy=current, policies=policies,
                           created_by=created_by, held=held, holdings=holdings, refunded=kept_refunds,
                           record_credits=credits,
                           on_bill_refused=_refused_on_bill(app, per, usage, compared_bills, billed))
    entries = [*diff.adjustments, *fees.adjustments, *late.credits, *late.adjustments]
    with app.db.begin() as conn:
        added = set(record_adjustments(conn, entries))
    settled = [*diff.settled, *late.settled]
    _keep_settled(app, per, settled, at=now)
    if report is not None:
        report.step("rerate")
    cur = catalog.operator.currency
    new = [a for a in entries if a.adjustment_id in added]
    vas_ids = {a.adjustment_id for a in late.adjustments}
    vas_credits = {a.adjustment_id for a in late.credits}
    moved_new = [a for a in new if (decode_reason(a.reason) or ("",))[0] in HOLDING_CODES]
    # a rerate that issues nothing after one that stopped past its commit: say which run issued the corrections
    outcome = rerate_outcome(new, prior)
    notes = []
    already = outcome.note(per.key, cur)
    if already:
        notes.append(already)
    if broken:
        notes.append(f"{len(broken)} bill(s) of {per.key} whose billed lines are missing from the lake were not rerated "
                     f"(their usage is left as billed), e.g. {min(broken)}")
    if unplaced:
        notes.append(f"{unplaced} billed record(s) of {per.key} whose rating the lake does not record (no batch run's manifest "
                     "names their usage part, no online commit their file) were rated again in time order: a correction "
                     "of one of them may stem from the order allowances were drawn in, not the tariff")
    if moved_new:
        moved_lines = sorted({a.msisdn for a in moved_new})
        fee_new = [a for a in moved_new if a.record_id is None]
        usage_new = sum(1 for a in moved_new if a.record_id is not None and a.adjustment_id not in vas_credits)
        vas_cut = sum(1 for a in moved_new if a.adjustment_id in vas_credits)
        notes.append(
            f"{len(moved_lines)} line(s) moved to another customer during {per.key} after their bill was issued (owner "
            f"change, holder_since), e.g. {mask_msisdn(moved_lines[0])}: credited to the current customer what the bill charged of the "
            f"days before the change ({_money(-sum(a.signed_minor for a in moved_new), cur)} {cur}, tax included: "
            f"{len(fee_new)} plan fee(s), {usage_new} usage record(s), {vas_cut} VAS charge(s)); the previous customer's "
            f"records are held as {BEFORE_HOLDING} (`fairtel bill held --period {per.key}`), settle them with that customer")
    if fees.missing:
        notes.append(f"{len(fees.missing)} bill(s) whose plan fee could not be priced again (plan no longer in the catalog, "
                     f"or days in service unknown), e.g. {fees.missing[0]}")
    vas_new = sum(1 for a in new if a.adjustment_id in vas_ids)
    if vas_new:
        notes.append(f"{vas_new} consented VAS charge(s) rated after their bill of {per.key} charged as adjustment entries")
    if late.refused:
        notes.append(f"{len(late.refused)} VAS charge(s) on no bill of {per.key} refused by the consent gate were not billed, "
                     f"e.g. {late.refused[0]}")
    if late.reconsented:
        notes.append(f"{len(late.reconsented)} VAS charge(s) refused on their issued bill of {per.key} (in the lake when it was "
                     f"issued, not on it) are consented by the ledger now, e.g. {late.reconsented[0]}: not billed, review them "
                     "(`fairtel assure` raises a finding of each, verdict refused_on_bill)")
    if late.held:
        held_why = {f"{s}/{r}": v for (_, s, r), v in held.items()}
        vas_why: dict[str, int] = {}
        for rec in late.held:
            vas_why[held_why.get(rec, "")] = vas_why.get(held_why.get(rec, ""), 0) + 1
        notes.append(f"{len(late.held)} VAS charge(s) on no bill of {per.key} are held and were not charged: "
                     f"{held_words(vas_why, per.key)}")
    free = sum(1 for x in settled if x.outcome == "free")
    if free:
        notes.append(f"{free} record(s) on no bill of {per.key} (rated after the bill run) cost nothing (drawn from "
                     "allowances, or an offer the plan includes): no entry to issue")
    if diff.refunded:
        notes.append(f"{len(diff.refunded)} changed record(s) are covered by a refund issued before: "
                     f"`fairtel assure --refund` recomputes the refund on the new charges")
    if diff.held:
        # why each is held: as its bill run or the stored rating held it, else as the rating now holds it
        why = {f"{s}/{r}": v for (_, s, r), v in held.items()} | {f"None/{r}": v for (_, s, r), v in held.items() if not s}
        if "verdict" in rerated.columns:
            from fairtel.billing._run import HOLD_REASONS

            now_held = rerated.filter(pl.col("verdict").is_in(HOLD_REASONS)).select(
                pl.col("source").fill_null(""), "record_id", "verdict")
            for s, r, v in now_held.iter_rows():
                why.setdefault(f"{s}/{r}", v)
        by_reason: dict[str, int] = {}
        for rec in diff.held:
            reason = why.get(rec, "")
            by_reason[reason] = by_reason.get(reason, 0) + 1
        notes.append(f"{len(diff.held)} usage record(s) on no bill of {per.key} are held and were not charged: "
                     f"{held_words(by_reason, per.key)}")
    return {
        "period": per.key, "currency": cur, "bills": len(bills), "records_compared": diff.compared,
        "records_changed": len(diff.changes), "fees_compared": fees.compared, "fees_changed": len(fees.changes),
        "adjustments_issued": len(new), "adjustments_already_issued": len(entries) - len(new),
        "net": _money(sum(a.signed_minor for a in new), cur),
        "debits": sum(1 for a in new if a.signed_minor > 0), "credits": sum(1 for a in new if a.signed_minor < 0),
        "not_rerated": len(diff.missing), "fees_not_rerated": len(fees.missing), "bills_without_snapshot": len(broken),
        "already_rerated": None if outcome.note(per.key, cur) is None or outcome.last is None else {
            "at": outcome.last.created_at.isoformat(), "by": outcome.last.created_by,
            "adjustments": outcome.last.adjustments, "net": _money(outcome.last.net_minor, cur),
            "debits": outcome.last.debits, "credits": outcome.last.credits},
        "vas_charged": vas_new, "vas_refused": len(late.refused), "vas_held": len(late.held),
        "vas_refused_on_bill_consented_now": list(late.reconsented),
        "records_order_unknown": unplaced,
        "held_records": len(diff.held), "late_free": free, "records_refunded_before": len(diff.refunded),
        "owner_change_credits": len(moved_new),
        "unrated_now": 0 if result is None else result.unrated.height, "notes": notes,
        "sample": [
            {"adjustment_id": a.adjustment_id, "msisdn": a.msisdn,
             "item": ("vas" if a.adjustment_id in vas_ids | vas_credits else "usage" if a.record_id is not None
                      else "plan_fee"),
             "record_id": a.record_id, "kind": a.kind.value, "old": _money(a.old_amount_minor or 0, cur),
             "new": _money(a.new_amount_minor or 0, cur), "amount": _money(a.signed_minor, cur), "rule_id": a.rule_id}
            for a in new
        ][:20],
    }


def _refused_on_bill(app: App, per: Period, usage: pl.DataFrame, bills: Sequence[Bill],
                     billed: pl.DataFrame) -> set[tuple[str, str, str]]:
    """(msisdn, source, record_id) of the VAS charges of ``usage`` (with its ``PART``) that were in the lake when
    their subscriber's bill of ``per`` was issued and that the bill (``billed``, its snapshot) does not hold: the bill
    run rated them then (it refuses a period with unrated usage) and did not charge them (refused by the consent
    gate, or left unrated). When a usage part came in is what mediation's ledger says (``mediation/state.sqlite``,
    read only, without taking mediation's lock): the instant its ingest was registered (after the part was in the
    lake), compared with the bill's ``issued_at`` at full precision. A ledger row from before the instant was kept
    to the microsecond says its second only: the ingest may have come at any instant of it, so one in the bill's own
    second is taken to have come before the bill (not billed late, listed for review if the gate consents it now)
    rather than a charge the bill may have refused being billed behind it. A part the ledger does not name is taken
    to have come in after the bill."""
    import sqlite3
    from datetime import UTC, datetime

    from fairtel.billing._order import PART

    path = app.settings.home / "mediation" / "state.sqlite"
    if usage.height == 0 or PART not in usage.columns or not path.exists():
        return set()
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            rows = conn.execute("SELECT l.part, f.ingested_at FROM lake_parts l JOIN files f ON f.content_hash = l.content_hash "
                                "WHERE l.period = ?", (per.key,)).fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # a ledger from before parts were listed, or one being created: nothing known
        return set()
    came: dict[str, datetime] = {}
    for part, at in rows:
        try:
            when = datetime.fromisoformat(str(at))
        except ValueError:
            continue
        # to the second (an earlier ledger) the instant is the second's first: earlier than the ingest or equal,
        # so an ingest in the bill's own second counts as before it, the side that never bills a charge twice over
        came[f"{part}.parquet"] = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    issued = {b.msisdn: b.issued_at.astimezone(UTC) for b in bills}
    on_bill = set(billed.select(pl.col("msisdn").cast(pl.String), pl.col("source").cast(pl.String).fill_null(""),
                                pl.col("record_id").cast(pl.String)).iter_rows()) if billed.height else set()
    out: set[tuple[str, str, str]] = set()
    src = pl.col("source").cast(pl.String).fill_null("") if "source" in usage.columns else pl.lit("")
    vas = usage.filter(pl.col("kind") == "vas").select(pl.col("msisdn").cast(pl.String), src.alias("source"),
                                                         pl.col("record_id").cast(pl.String), pl.col(PART).cast(pl.String))
    for msisdn, source, record_id, part in vas.iter_rows():
        at = came.get(str(part))
        key = (msisdn, source, record_id)
        if at is not None and msisdn in issued and at < issued[msisdn] and key not in on_bill:
            out.add(key)
    return out


def refused_on_bill_charges(app: App, periods: Collection[str]) -> set[tuple[str, str, str]]:
    """(msisdn, source, record_id) of the VAS charges of ``periods`` that their issued bill did not charge though they
    were in the lake when it was issued (``_refused_on_bill``): what a rerate never bills, whatever the consent ledger
    says now. For charge assurance, which raises a finding of those the gate consents now (for review). A bill whose
    snapshot is missing or incomplete cannot tell what it charged: its charges are not named."""
    from fairtel.billing import snapshot_mismatches
    from fairtel.billing._order import PART
    from fairtel.store import bills_of_period

    out: set[tuple[str, str, str]] = set()
    for key in sorted(set(periods)):
        try:
            per = Period.parse(key)
        except (ValueError, FairtelError):
            continue
        with app.db.connect() as conn:
            bills = bills_of_period(conn, per.key)
        if not bills:
            continue
        billed = _snapshot(app, per, {b.bill_id: b.run_id for b in bills})
        broken = set(snapshot_mismatches(bills, billed))
        compared = [b for b in bills if b.bill_id not in broken]
        if not compared:
            continue
        usage = _scan_usage(app, per, [b.msisdn for b in compared], part=PART)
        if usage.height == 0 or "kind" not in usage.columns:
            continue
        out |= _refused_on_bill(app, per, usage, compared, billed)
    return out


RefundedRecords = dict[tuple[tuple[str, str, str], ...], int]


def _refunded_records(app: App, msisdns: list[str], currency: str) -> tuple[RefundedRecords, RefundedRecords]:
    """The refunds the ledger holds for ``msisdns`` in ``currency``: the records each one's finding names (msisdn,
    source, record_id; source "" for any), in its order, → what it refunded before tax (minor units); refunds of
    the same records summed. Twice: every refund (with the VAS charges an owner change's correction credited, which
    ``api.refunded_charges`` counts as given back), and those charge assurance does not recompute on the rerated
    charges: all but refunds of usage past a spending cap (the kind of the finding behind each refund says which)."""
    from collections import defaultdict

    from sqlalchemy import select

    from fairtel.api._cases import refunded_charges
    from fairtel.assurance import FindingKind
    from fairtel.store._schema import Finding as FindingRow
    from fairtel.store._schema import table_of

    if not msisdns:
        return {}, {}
    f = table_of(FindingRow)
    with app.db.connect() as conn:
        ledger = refunded_charges(conn, msisdns)
        ids = sorted({fid for fid, *_ in ledger.refunds})
        kinds: dict[str, str] = {}
        for i in range(0, len(ids), 500):
            kinds.update((str(r.finding_id), str(r.kind)) for r in conn.execute(
                select(f.c.finding_id, f.c.kind).where(f.c.finding_id.in_(ids[i:i + 500]))))
    out: dict[tuple[tuple[str, str, str], ...], int] = defaultdict(int)
    kept: dict[tuple[tuple[str, str, str], ...], int] = defaultdict(int)
    for finding, cur, keys, minor, _adj in ledger.refunds:
        if cur == currency and keys:
            out[keys] += minor
            if kinds.get(finding) != FindingKind.USAGE_PAST_CAP.value:
                kept[keys] += minor
    return dict(out), dict(kept)


# the reasons of the entries a rerate (or a release, or charge assurance's recomputation) issues: an entry naming a
# record with another reason (a customer care credit, ``care-credit``, or one made by hand) gave back part of it
_ISSUED_CODES = frozenset({"rerate-usage", "late-usage", "rerate-fee", "late-vas", "release-held", "refund-recomputed",
                           "holding-fee", "holding-record"})


def _record_credits(app: App, per: Period, bills: Sequence[Bill], currency: str) -> dict[tuple[str, str, str], int]:
    """(msisdn, source, record_id; source "" for any) → what the credits naming that record gave back of it, tax
    included (minor units), of those in ``currency`` on ``bills`` (or naming ``per``) that no rerate issued: a
    customer care credit (``POST /bills/{id}/credits`` with its record), an entry made by hand. An owner change's
    credit credits only what they left charged."""
    from collections import defaultdict

    from sqlalchemy import select

    from fairtel.billing import AdjustmentKind
    from fairtel.billing._model import decode_reason
    from fairtel.store._schema import Adjustment, table_of

    if not bills:
        return {}
    a = table_of(Adjustment)
    ids = {b.bill_id for b in bills}
    numbers = sorted({b.msisdn for b in bills})
    out: dict[tuple[str, str, str], int] = defaultdict(int)
    with app.db.connect() as conn:
        for i in range(0, len(numbers), 500):
            rows = conn.execute(select(a.c.msisdn, a.c.bill_id, a.c.period, a.c.source, a.c.record_id, a.c.amount_minor,
                                       a.c.reason)
                                .where(a.c.msisdn.in_(numbers[i:i + 500]), a.c.kind == AdjustmentKind.CREDIT.value,
                                       a.c.record_id.is_not(None), a.c.currency == currency))
            for r in rows:
                if r.bill_id not in ids and r.period != per.key:
                    continue
                if (decode_reason(r.reason) or ("",))[0] in _ISSUED_CODES:
                    continue
                out[(str(r.msisdn), r.source or "", str(r.record_id))] += int(r.amount_minor)
    return dict(out)


RELEASER_ROLE = "fraud_analyst"  # the role the access audit names for a release or write-off on the command line
RELEASE_ACTION, WRITE_OFF_ACTION = "held_usage.release", "held_usage.write_off"  # the store's HELD_*_ACTION


def _decision_resource(period: str, source: str, record_id: str) -> str:
    """The audit resource naming one held record (an id: a record id may be long, and the number stays out)."""
    from fairtel.store._retention import held_decision_resource

    return held_decision_resource(period, source, record_id)


def held_of_period(app: App, per: Period) -> pl.DataFrame:
    """Every held usage record of ``per`` (and held VAS charge: the previous customer's, ``billing.held_records``;
    ``billing.HELD_RECORD_COLUMNS``), with ``status`` (``pending``, ``released``:
    an entry charged it, ``written_off``) and ``bill_id`` (the subscriber's bill of the period, null before it is
    issued). Held: by rating (a usage line's ``verdict``), of a line suspended now from its suspension on, of a line
    that moved to another customer during the period before the change (``billing.held_usage``), or by the bill run
    that left it off an issued bill; a record a bill charged is not."""
    from fairtel.billing import BILLABLE_VERDICTS, USAGE_KINDS, held_records, held_usage, normalise_rated
    from fairtel.billing._model import decode_reason
    from fairtel.billing._run import BEFORE_HOLDING, BILLED_INPUT, HOLD, HOLD_REASONS, changed_hands_in
    from fairtel.store import bills_of_period, rerate_entries
    from fairtel.store._schema import AccessAudit, table_of

    key = ["msisdn", "source", "record_id"]
    accounts = _accounts(app, per)
    # the accounts whose state holds usage of the period now (``billing.held_usage``): suspended, closed (since a
    # known instant, or with no closing date: all their usage), activated after the period began, moved to another
    # customer during it (the previous customer's usage)
    suspended = [a.msisdn for a in accounts if a.status in ("suspended", "closed") or a.activated_at > per.start
                 or changed_hands_in(a, per) is not None]
    moved = [a.msisdn for a in accounts if changed_hands_in(a, per) is not None]
    files = app.lake.files("rated", periods=[per.key])
    lines = pl.DataFrame(schema=BILLED_INPUT)
    if files:
        scan = pl.scan_parquet(files)
        has_verdict = "verdict" in scan.collect_schema().names()
        flagged = pl.col("verdict").is_in(HOLD_REASONS) if has_verdict else pl.lit(False)
        # the previous customer's consented VAS charges in the month of an owner change, as the bill run holds them
        consented = (pl.col("verdict").is_in(list(BILLABLE_VERDICTS)).fill_null(False) if has_verdict else pl.lit(False))
        theirs = (pl.col("kind") == "vas") & consented & pl.col("msisdn").is_in(moved)
        lines = normalise_rated(scan.filter(pl.col("kind").is_in(USAGE_KINDS) & (flagged | pl.col("msisdn").is_in(suspended))
                                            | theirs).collect())
        lines = held_usage(lines, accounts, period=per).filter(
            pl.col(HOLD).is_not_null() & ((pl.col("kind") != "vas") | (pl.col(HOLD) == BEFORE_HOLDING))).with_columns(
            pl.col(HOLD).alias("verdict")).drop(HOLD)
    with app.db.connect() as conn:
        bills = bills_of_period(conn, per.key)
        prior = rerate_entries(conn, per.key)
        audit = table_of(AccessAudit)
        decided = {r.resource: r.action for r in conn.execute(
            select_decisions(audit, per.key))}
    kept = normalise_rated(_held_lines(app, per))
    lines = pl.concat([lines, kept.join(lines.select(key).unique(), on=key, how="anti")])
    # a billed record a rerate credited as the previous customer's (an owner change learnt after the bill) is held, as
    # the bill run would have held it: not charged by that entry, only written off
    credited = {(e.msisdn, e.source or "", e.record_id) for e in prior
                if e.record_id is not None and (decode_reason(e.reason) or ("",))[0] == "holding-record"}
    billed = _snapshot(app, per, {b.bill_id: b.run_id for b in bills})
    if billed.height:
        on_bill = billed.select(key).with_columns(pl.col("source").fill_null("")).unique()
        if credited:
            on_bill = on_bill.join(pl.DataFrame(sorted(credited), schema=dict.fromkeys(key, pl.String()), orient="row"),
                                   on=key, how="anti")
        lines = lines.with_columns(pl.col("source").fill_null("")).join(on_bill, on=key, how="anti")
    records = held_records(lines)
    charged = {(e.msisdn, e.source or "", e.record_id) for e in prior if e.record_id is not None} - credited
    bill_of = {b.msisdn: b.bill_id for b in bills}

    def status_of(m: str, src: str, r: str) -> str:
        decision = decided.get(_decision_resource(per.key, src, r))
        if (m, src, r) in charged or decision == RELEASE_ACTION:  # a release that cost nothing has no entry
            return "released"
        return "written_off" if decision == WRITE_OFF_ACTION else "pending"

    status = [status_of(*k) for k in records.select(key).iter_rows()]
    return records.with_columns(pl.Series("status", status, dtype=pl.String()),
                                pl.col("msisdn").replace_strict(bill_of, default=None, return_dtype=pl.String()).alias("bill_id"))


def select_decisions(audit: Any, period: str) -> Any:
    """The audit rows of release and write-off decisions about held usage of ``period``."""
    from sqlalchemy import select

    return select(audit.c.resource, audit.c.action).where(
        audit.c.action.in_([RELEASE_ACTION, WRITE_OFF_ACTION]), audit.c.resource.like(f"held_usage/{period}/%"))


def _held_json(row: dict[str, Any], currency: str, tz: str) -> dict[str, Any]:
    """One held record as `fairtel bill held` shows it: its start on the operator's clock (``tz``), as statements and
    `fairtel explain` give it, with the offset, so the instant is the same."""
    from fairtel.core.time import zone

    return {"msisdn": row["msisdn"], "source": row["source"], "record_id": row["record_id"], "kind": row["kind"],
            "started_at": row["started_at"].astimezone(zone(tz)).isoformat(), "rules": row["rules"], "quantity": row["quantity"], "unit": row["unit"],
            "amount": _money(int(row["amount_minor"]), currency), "reason": row["reason"], "status": row["status"],
            "bill_id": row["bill_id"]}


_NOT_RELEASED_WHY = {"line_closed": "held because it was made after the line closed (line_closed)",
                     "before_activation": "held because it was made before the line was activated (before_activation)",
                     "line_closed_undated": "held because the line is closed and the register has no closing date for "
                                            "it (line_closed_undated): give the register its closed_at",
                     "before_holding": "held because it was made before the line moved to its current customer "
                                       "(before_holding): the previous customer's"}


def release_period(app: App, period: str, *, catalog: Catalog, by: str, records: list[str] | None = None,
                   source: str | None = None, msisdn: str | None = None, every: bool = False, write_off: bool = False,
                   note: str | None = None) -> dict[str, Any]:
    """Release held usage of ``period`` (charge it: one debit entry per record, carried into the subscriber's next
    bill) or write it off (never charged), as ``by``; every decision audited. Chosen by record ids (``records``, of
    ``source`` when ids repeat across sources), by subscriber (``msisdn``) or all (``every``). A record released is
    never charged again, nor written off; one written off is never released. Usage held because it was made after
    the line closed, before it was activated or before an owner change in the period (``billing._run.NOT_RELEASED``)
    is not the subscriber's: it is never released, only written off (named with ``records``: refused; chosen
    otherwise: left pending, said in a note).
    Holds the period's billing lock."""
    from dataclasses import replace

    from fairtel.billing import release_held
    from fairtel.billing._model import issued_policy
    from fairtel.billing._run import NOT_RELEASED
    from fairtel.cli._fraud_detect import decider_name, hide_numbers, msisdn_pseudonyms
    from fairtel.core.time import utc_now
    from fairtel.store import bills_of_period, record_access, record_adjustments, rerate_entries

    key = ["msisdn", "source", "record_id"]
    name = decider_name(by)
    if not (records or msisdn or every):
        raise InvalidInputError([Problem("options", None, "--record", "name the records (--record), a subscriber (--msisdn) "
                                         "or --all")], what="release")
    per = _period(period, catalog)
    cur = catalog.operator.currency
    with _period_lock(app, per.key):
        settle_issue(app, per.key)
        held = held_of_period(app, per)
        chosen = held
        if msisdn is not None:
            chosen = chosen.filter(pl.col("msisdn") == msisdn_argument(msisdn))
        if records:
            chosen = chosen.filter(pl.col("record_id").is_in(records))
            if source is not None:
                chosen = chosen.filter(pl.col("source") == source)
            missing = sorted(set(records) - set(chosen["record_id"].to_list()))
            if missing:
                raise NotFoundError(f"not held usage of {per.key}: {', '.join(missing[:10])}", details={"records": missing})
            twice = chosen.filter(pl.col("record_id").is_duplicated())["record_id"].unique().sort().to_list()
            if twice:
                raise InvalidInputError([Problem("options", None, "--source", f"record {r} is held in several sources: name one")
                                         for r in twice], what="release")
        pending = chosen.filter(pl.col("status") == "pending")
        skipped = chosen.filter(pl.col("status") != "pending")
        refused = pending.filter(pl.col("reason").is_in(NOT_RELEASED)) if not write_off else pending.clear()
        if refused.height and records:  # named one by one: refused outright, nothing released
            raise InvalidInputError([Problem("options", None, "--record", f"{r['source']}/{r['record_id']}: "
                                             f"{_NOT_RELEASED_WHY.get(r['reason'], r['reason'])}, not the subscriber's "
                                             f"{'VAS charge' if r['kind'] == 'vas' else 'usage'}: it is never charged; "
                                             "write it off (--write-off)")
                                     for r in refused.head(20).iter_rows(named=True)], what="release")
        pending = pending.join(refused.select(key), on=key, how="anti")
        pseudonym = msisdn_pseudonyms(app)
        said = hide_numbers(note, pseudonym, app.settings.home_country)
        now = utc_now()
        entries = []
        free: tuple[str, ...] = ()
        if not write_off and pending.height:
            with app.db.connect() as conn:
                bills = [b for b in bills_of_period(conn, per.key) if b.msisdn in set(pending["msisdn"].to_list())]
                prior = rerate_entries(conn, per.key)
            rates = _issued_tax_rates(app, per, bills)
            bills = [replace(b, tax_rates=rates[b.bill_id]) if b.bill_id in rates else b for b in bills]
            current = _policy(app)
            result = release_held(pending, period=per.key, currency=cur, created_at=now, created_by=name,
                                  bills={b.msisdn: b.bill_id for b in bills},
                                  billed=_snapshot(app, per, {b.bill_id: b.run_id for b in bills}), prior=prior,
                                  policy=current, policies={b.msisdn: issued_policy(b, current) for b in bills})
            entries, free = list(result.adjustments), result.free
        action = WRITE_OFF_ACTION if write_off else RELEASE_ACTION
        with app.db.begin() as conn:
            added = set(record_adjustments(conn, entries))
            for r in pending.iter_rows(named=True):
                why = f"{'write-off' if write_off else 'release'} of held usage {r['source']}/{r['record_id']} ({r['reason']})"
                record_access(conn, actor=name, role=RELEASER_ROLE, action=action,
                              resource=_decision_resource(per.key, r["source"], r["record_id"]),
                              subject_msisdn_pseudonym=pseudonym(r["msisdn"]), reason=f"{why}: {said}" if said else why, at=now)
    new = [a for a in entries if a.adjustment_id in added]
    notes = []
    if refused.height:
        notes.append(f"{refused.height} record(s) not released: made after the line closed or before it was activated, "
                     "on a closed line with no closing date, or before the line moved to its current customer, not the "
                     "subscriber's usage or VAS charges as far as the register tells, never charged; write them off (--write-off)")
    if skipped.height:
        notes.append(f"{skipped.height} record(s) left as they were: already "
                     + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in sorted(skipped.group_by("status").len().iter_rows())))
    if free:
        notes.append(f"{len(free)} released record(s) cost nothing (drawn from allowances): no entry to issue")
    if new:
        notes.append(f"{len(new)} debit entr{'y' if len(new) == 1 else 'ies'} carried into the subscribers' next bills")
    return {
        "period": per.key, "currency": cur, "action": "write_off" if write_off else "release", "by": name,
        "records": pending.height, "skipped": skipped.height, "not_releasable": refused.height,
        "amount": _money(int(pending["amount_minor"].sum() or 0), cur),
        "adjustments_issued": len(new), "charged": _money(sum(a.signed_minor for a in new), cur), "notes": notes,
        "sample": [{"adjustment_id": a.adjustment_id, "msisdn": a.msisdn, "record_id": a.record_id,
                    "amount": _money(a.amount_minor, cur), "rule_id": a.rule_id} for a in new][:20],
    }


def _catalog_file(path: Path) -> tuple[Catalog, str]:
    """The catalog in ``path`` and the text it was read from (read once: the text the bills name is the one that
    priced them)."""
    from fairtel.catalog import load_catalog, parse_catalog
    from fairtel.core.errors import CatalogError

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        load_catalog(path)  # raises the catalog error naming the file
        raise
    catalog, problems = parse_catalog(text, file=str(path))
    if catalog is None:
        raise CatalogError(problems, what=f"catalog {path}")
    object.__setattr__(catalog, "source", str(path))
    return catalog, text


def _print_reconciliation(out: dict[str, Any]) -> None:
    cur, key = out["currency"], out["period"]

    def m(minor: int) -> str:
        return _money(minor, cur)

    u, r, b = out["usage"], out["rating"], out["bills"]
    console.print(f"Reconciliation {key} ({cur})", highlight=False)
    console.print(f"usage records in the lake: {u['records']:,} ("
                  + ", ".join(f"{k} {n:,}" for k, n in u["by_kind"].items()) + ")"
                  + (f"; {u['partial_sessions_waiting']} partial session(s) still waiting in mediation "
                     "(`fairtel ingest --flush-partials`)" if u["partial_sessions_waiting"] else ""), highlight=False)
    console.print(f"rated records {r['rated_records']:,}; left out by rating {r['unrated_records']:,}"
                  + "".join(f", {k} {n:,}" for k, n in r["unrated_by_reason"].items())
                  + f"; not rated {r['not_rated_records']:,}", highlight=False)
    rows = []
    for k in out["rated_vs_billed"]:
        e = k["explained"]
        rows.append([k["kind"], f"{k['rated_lines']:,}", m(k["rated_minor"]), m(k["billed_minor"]), m(k["difference_minor"]),
                     m(e["held"]["amount_minor"]), m(e["refused_vas"]["amount_minor"]), m(e["late"]["amount_minor"]),
                     m(e["no_bill"]["amount_minor"]), m(e["rated_again"]["amount_minor"]), m(k["unexplained_minor"])])
    console.print(table(f"Rated against billed {key}", ["kind", "rated lines", "rated", "billed", "difference", "held",
                                                        "refused VAS", "late", "no bill", "rated again", "unexplained"],
                        rows))
    console.print(f"{b['count']:,} bill(s): " + ", ".join(f"{k} {m(v)}" for k, v in b["by_kind_minor"].items())
                  + f"; charges {m(b['charges_minor'])} + tax {m(b['tax_minor'])} + adjustments "
                  f"{m(b['adjustments_minor'])} = total {m(b['total_minor'])} {cur}; plan fees on {b['plan_fee_bills']:,} "
                  f"bill(s), {b['plan_fee_part_month']:,} pro-rated; {b['adjustments_carried']:,} adjustment(s) carried",
                  highlight=False)
    if out["held_by_reason"]:
        console.print("held records: " + ", ".join(f"{k} {n:,}" for k, n in out["held_by_reason"].items()), highlight=False)
    for code, v in out["period_entries"].items():
        console.print(f"entries issued for {key} since its bills, {code}: {v['entries']:,}, net {m(v['net_minor'])} {cur}, "
                      f"{v['carried']:,} carried, {v['pending']:,} pending", highlight=False)
    if out["unexplained"]:
        console.print(f"UNEXPLAINED ({len(out['unexplained'])}):", highlight=False)
        for text in out["unexplained"][:50]:
            console.print(f"  {text}", highlight=False)
    else:
        console.print("every difference is explained", highlight=False)


HomeOpt = Annotated[Path | None, typer.Option("--home", help="Home directory (default: FAIRTEL_HOME or ./var).")]
CatalogOpt = Annotated[Path | None, typer.Option("--catalog", help="Tariff catalog (default: the home's current one).")]


def register(app: typer.Typer) -> None:
    bill_app = typer.Typer(help="Bill runs and itemised statements.", invoke_without_command=True)

    @bill_app.callback()
    def bill_cmd(
        ctx: typer.Context,
        period: Annotated[str | None, typer.Option("--period", help="Billing period YYYY-MM on the operator's clock.")] = None,
        issue: Annotated[bool, typer.Option("--issue", help=(
            "Issue the bills (default: a preview that writes nothing). Refused until the period has ended on the "
            "operator's clock."))] = False,
        before_period_end: Annotated[bool, typer.Option("--before-period-end", help=(
            "With --issue: issue the period on its last day, before midnight on the operator's clock (never "
            "earlier); usage made after the run is charged by a rerate."))] = False,
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Bill a period: plan fees, usage, VAS, tax and pending adjustments. Issued bills never change."""
        from fairtel.cli._home import home_catalog

        if ctx.invoked_subcommand is not None:
            return
        notes: list[str] = []
        try:
            if period is None:
                raise InvalidInputError([Problem("options", None, "--period", "a billing period YYYY-MM is required")], what="options")
            if before_period_end and not issue:
                raise InvalidInputError([Problem("options", None, "--before-period-end", "goes with --issue (a preview "
                                                 "of any period is allowed)")], what="options")
            application = app_for(ctx, home)
            if catalog_file is None:
                from fairtel.catalog import default_catalog_path
                from fairtel.store import current_catalog_text

                with application.db.connect() as conn:
                    stored = current_catalog_text(conn) is not None
                # without one: outside development refused (``catalog_missing``), in development the demo's, said
                catalog = home_catalog(application, None, notes)
                # no catalog in the home: the demo catalog priced the bills, and they name its version
                text = None if stored else default_catalog_path().read_text(encoding="utf-8")
            else:
                catalog, text = _catalog_file(catalog_file)
            application.settings.check_clock(catalog.operator.timezone)  # periods on one clock, or none billed
            with reporter(quiet=as_json) as rep:
                out = bill_period(application, period, catalog=catalog, issue=issue, report=rep, catalog_text=text,
                                  before_period_end=before_period_end)
            if as_json:  # the sample's numbers in clear (the table shows amounts by kind only)
                from fairtel.cli._audit import audit_shown, plural

                audit_shown(ctx, application, action="bill.list", subjects=(b["msisdn"] for b in out["sample"]),
                            what=plural(len(out["sample"]), "bill"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        out["notes"] = notes + out["notes"]
        if as_json:
            print_json(out)
            return
        if out["bills"]:
            rows = [[k, v] for k, v in out["by_kind"].items()]
            title = f"Bills {out['period']} ({'issued' if out['mode'] == 'issue' else 'preview, not issued'})"
            console.print(table(title, ["line kind", f"amount ({out['currency']})"], rows))
        console.print(f"{out['bills']} bill(s), total {out['total']} {out['currency']}; {out['already_issued']} already issued; "
                      f"{out['adjustments_carried']} adjustment(s) carried in", highlight=False)
        for n in out["notes"]:
            console.print(n, highlight=False)

    @bill_app.command("statement")
    def statement_cmd(
        ctx: typer.Context,
        msisdn: Annotated[str, typer.Argument(help="The subscriber's number.")],
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM.")],
        fmt: Annotated[str, typer.Option("--format", help="csv or html.")] = "csv",
        lang: Annotated[str | None, typer.Option("--lang", help="zh or en (default: the subscriber's language).")] = None,
        out: Annotated[Path | None, typer.Option("--out", help="Write to this file (default: standard output).")] = None,
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
    ) -> None:
        """The itemised statement (详单) of an issued bill: every line, masked peers, totals equal to the bill."""
        from fairtel.cli._home import home_catalog

        try:
            problems = []
            if fmt not in ("csv", "html"):
                problems.append(Problem("options", None, "--format", f"csv or html, got {fmt!r}"))
            if lang not in (None, "zh", "en"):
                problems.append(Problem("options", None, "--lang", f"zh or en, got {lang!r}"))
            if problems:
                raise InvalidInputError(problems, what="options")
            application = app_for(ctx, home)
            text = statement_for(application, msisdn, period, catalog=home_catalog(application, catalog_file, []), fmt=fmt, lang=lang)
            from fairtel.cli._audit import audit_shown

            audit_shown(ctx, application, action="bill.read", resource=f"bill/{period}", subjects=[msisdn_argument(msisdn)],
                        what=f"the itemised statement of {period} ({fmt})", to=out)
        except FairtelError as exc:
            raise fail(exc) from None
        if out is None:
            typer.echo(text, nl=False)
        else:
            out.write_text(text, encoding="utf-8")
            console.print(f"wrote {out}", highlight=False)

    @bill_app.command("reconcile")
    def reconcile_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM.")],
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Tie out a period: usage records → rated lines → bills, every difference explained or named. Exit 1 when
        a difference is not explained."""
        from fairtel.cli._home import home_catalog

        try:
            application = app_for(ctx, home)
            catalog = home_catalog(application, catalog_file, [])
            result = reconcile_period(application, period, catalog=catalog)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        out = result.to_dict()
        if as_json:
            print_json(out)
        else:
            _print_reconciliation(out)
        if not result.ok:
            raise typer.Exit(1)

    @bill_app.command("held")
    def held_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM.")],
        msisdn: Annotated[str | None, typer.Option("--msisdn", help="One subscriber's held usage only.")] = None,
        status: Annotated[str | None, typer.Option("--status", help="pending, released or written_off.")] = None,
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Usage held off the bills (made at or after a line's suspension, after its closing or before its
        activation): what it would cost, why, and whether it was released or written off."""
        from fairtel.cli._home import home_catalog
        from fairtel.privacy import mask_msisdn

        try:
            if status not in (None, "pending", "released", "written_off"):
                raise InvalidInputError([Problem("options", None, "--status", f"pending, released or written_off, got {status!r}")],
                                        what="options")
            application = app_for(ctx, home)
            catalog = home_catalog(application, catalog_file, [])
            per = _period(period, catalog)
            held = held_of_period(application, per)
            if msisdn is not None:
                held = held.filter(pl.col("msisdn") == msisdn_argument(msisdn))
            if status is not None:
                held = held.filter(pl.col("status") == status)
            if as_json:  # numbers in clear (the table masks them)
                from fairtel.cli._audit import audit_shown, plural

                audit_shown(ctx, application, action="held_usage.list", resource=f"held_usage/{per.key}",
                            subjects=held["msisdn"].to_list(), what=plural(held.height, "held record"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        cur = catalog.operator.currency
        tz = catalog.operator.timezone
        rows = [_held_json(r, cur, tz) for r in held.iter_rows(named=True)]
        by_status = {s: n for s, n in held.group_by("status").len().sort("status").iter_rows()}
        out = {"period": per.key, "currency": cur, "records": held.height, "amount": _money(int(held["amount_minor"].sum() or 0), cur),
               "by_status": by_status, "held": rows}
        if as_json:
            print_json(out)
            return
        if rows:
            console.print(table(f"Held usage {per.key}", ["msisdn", "record", "kind", f"started ({tz})", "amount", "reason",
                                                          "status"],
                                [[mask_msisdn(r["msisdn"]), f"{r['source']}/{r['record_id']}", r["kind"],
                                  r["started_at"][:19].replace("T", " "),
                                  r["amount"], r["reason"], r["status"]] for r in rows[:200]]))
        console.print(f"{held.height} held record(s), {out['amount']} {cur}"
                      + (": " + ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in by_status.items()) if by_status else ""),
                      highlight=False)

    @bill_app.command("release")
    def release_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM.")],
        by: Annotated[str, typer.Option("--by", help="Who decides (recorded in the access audit; never a phone number).")],
        record: Annotated[list[str] | None, typer.Option("--record", help="A held record's id (repeatable).")] = None,
        source: Annotated[str | None, typer.Option("--source", help="The records' source, when ids repeat across sources.")] = None,
        msisdn: Annotated[str | None, typer.Option("--msisdn", help="Every held record of this subscriber.")] = None,
        every: Annotated[bool, typer.Option("--all", help="Every held record of the period.")] = False,
        write_off: Annotated[bool, typer.Option("--write-off", help="Never charge them (default: charge them).")] = False,
        note: Annotated[str | None, typer.Option("--note", help="Why (numbers in it are kept as their pseudonyms).")] = None,
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Release held usage (charged once, as a debit entry on the subscriber's next bill) or write it off. Usage
        made after the line closed or before it was activated is never released, only written off."""
        from fairtel.cli._home import home_catalog

        try:
            application = app_for(ctx, home)
            catalog = home_catalog(application, catalog_file, [])
            application.settings.check_clock(catalog.operator.timezone)
            out = release_period(application, period, catalog=catalog, by=by, records=record, source=source, msisdn=msisdn,
                                 every=every, write_off=write_off, note=note)
            if as_json:
                from fairtel.cli._audit import audit_shown, plural

                audit_shown(ctx, application, action="held_usage.list", resource=f"held_usage/{out['period']}",
                            subjects=(r.get("msisdn") for r in out.get("sample", [])), what=plural(len(out.get("sample", [])), "released record"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json(out)
            return
        n = out["adjustments_issued"]
        done = ("written off" if write_off
                else f"released, {n} debit entr{'y' if n == 1 else 'ies'} issued ({out['charged']} {out['currency']})")
        console.print(f"{out['period']}: {out['records']} held record(s) ({out['amount']} {out['currency']}) {done}", highlight=False)
        for n in out["notes"]:
            console.print(n, highlight=False)

    app.add_typer(bill_app, name="bill")

    @app.command("rerate")
    def rerate_cmd(
        ctx: typer.Context,
        period: Annotated[str, typer.Option("--period", help="Billing period YYYY-MM whose bills are corrected.")],
        home: HomeOpt = None,
        catalog_file: CatalogOpt = None,
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        """Rate an issued period again under the current tariff; differences become adjustment entries."""
        from fairtel.cli._home import home_catalog

        notes: list[str] = []
        try:
            application = app_for(ctx, home)
            catalog = home_catalog(application, catalog_file, notes)
            application.settings.check_clock(catalog.operator.timezone)
            with reporter(quiet=as_json) as rep:
                out = rerate_period(application, period, catalog=catalog, report=rep)
            from fairtel.cli._audit import audit_shown, plural

            audit_shown(ctx, application, action="adjustment.list", subjects=(s["msisdn"] for s in out["sample"]),
                        what=plural(len(out["sample"]), "adjustment"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        out["notes"] = notes + out["notes"]
        if as_json:
            print_json(out)
            return
        if out["adjustments_issued"] == 0:
            console.print(f"rerate {out['period']}: {out['records_compared']} records and {out['fees_compared']} plan fees compared, "
                          "no difference to issue"
                          + (f" ({out['adjustments_already_issued']} already issued)" if out["adjustments_already_issued"] else ""),
                          highlight=False)
        else:
            rows = [[s["msisdn"], s["record_id"] or "plan fee", s["old"], s["new"], s["amount"], s["rule_id"] or ""]
                    for s in out["sample"]]
            console.print(table(f"Rerate {out['period']}", ["msisdn", "record", "old", "new", "adjustment", "rule"], rows))
            console.print(f"{out['adjustments_issued']} adjustment(s): {out['debits']} debit(s), {out['credits']} credit(s), "
                          f"net {out['net']} {out['currency']}; carried into the next bill", highlight=False)
        for n in out["notes"]:
            console.print(n, highlight=False)

