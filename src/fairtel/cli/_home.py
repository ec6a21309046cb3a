"""What several commands read from a home: its catalog, its subscribers with their plans, its consent gate."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fairtel.core.errors import CatalogMissingError, InvalidInputError

if TYPE_CHECKING:
    from datetime import datetime

    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog
    from fairtel.core.time import Period


LOAD_A_CATALOG = ("load one: `fairtel load DIR` with the operator's catalog.toml in DIR (`fairtel catalog validate "
                  "FILE` checks it first), or give `--catalog FILE` where the command takes one")


_warned: set[str] = set()  # the homes whose demo-catalog warning this process printed (once each)


def home_catalog(app: App | None, path: Path | None, notes: list[str], *, checking: bool = False) -> Catalog:
    """``--catalog FILE``, else the store's current catalog. A home with none stored: outside development
    ``CatalogMissingError`` (``catalog_missing``), never the demo's prices on real usage; in development (the
    demo) the bundled demo catalog, said in the notes and, once a process, on stderr (``demo_catalog_warning``:
    several callers, the watch among them, print no notes) unless the command prints JSON, whose document carries
    the notes. ``checking``: the catalog is only looked at (the demo
    checks its settings against the home's catalog before it loads its own): the demo catalog, silently, in any
    environment."""
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
        if not checking:
            check_demo_catalog_allowed(app)
            key = str(app.settings.home.absolute())
            if key not in _warned and not _json_command():
                from fairtel.cli._ui import err_console

                _warned.add(key)
                err_console.print(demo_catalog_warning(app), markup=False, highlight=False, soft_wrap=True)
    notes.append(f"no catalog loaded in this home: using {default_catalog_path()}")
    return load_catalog(default_catalog_path())


def _json_command() -> bool:
    """Whether the command running asked for ``--json`` (its ``as_json`` option): its stderr then carries progress
    alone and its document the notes (and with ``2>&1`` a line on stderr would break the document)."""
    import importlib

    ctx = None
    for module in ("typer._click.globals", "click.globals"):  # the click typer runs on (its own copy, or click)
        try:
            ctx = importlib.import_module(module).get_current_context(silent=True)
        except (ImportError, AttributeError):
            continue
        if ctx is not None:
            break
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def where_of(app: App) -> str:
    """The home and its database, as a message names them (the database without its password)."""
    from fairtel.store._engine import describe

    return f"{app.settings.home} ({describe(app.settings.db_url)})"


def check_demo_catalog_allowed(app: App) -> None:
    """Raise ``CatalogMissingError`` unless the home runs in development, where the demo catalog may stand in for
    a catalog not loaded. For every command that would otherwise fall back on ``catalog.default_catalog_path``."""
    from fairtel.core.settings import Environment

    env = app.settings.environment
    if env is Environment.DEVELOPMENT:
        return
    raise CatalogMissingError(
        f"no catalog loaded in the home {where_of(app)}: refused in the {env.value} environment rather than price "
        f"with the bundled demo catalog; {LOAD_A_CATALOG}",
        details={"home": str(app.settings.home), "environment": env.value})


def demo_catalog_warning(app: App) -> str:
    """What a development home with no catalog stored says on stderr when the demo catalog stands in."""
    from fairtel.catalog import default_catalog_path

    return (f"WARNING: no catalog loaded in the home {where_of(app)}: using the bundled demo catalog "
            f"{default_catalog_path()} (the demo operator's prices; development only: in test and production this "
            f"is refused, catalog_missing); {LOAD_A_CATALOG}")


_SUBSCRIBER_TYPES: dict[str, pl.DataType] = {
    "msisdn": pl.String(),
    "plan_id": pl.String(),
    "activated_at": pl.Datetime("us", "UTC"),
    "holder_since": pl.Datetime("us", "UTC"),  # an owner change: the current customer's holding began then
    "status": pl.String(),
    "closed_at": pl.Datetime("us", "UTC"),
    "suspended_at": pl.Datetime("us", "UTC"),
    "updated_at": pl.Datetime("us", "UTC"),
}


def home_subscribers(
    app: App, columns: tuple[str, ...] = ("msisdn", "plan_id"), *, period: Period | None = None,
) -> pl.DataFrame:
    """Every line in the register with the columns asked for (``msisdn``, ``plan_id``, ``activated_at``,
    ``status``, ``closed_at``); by default its plan, what rating needs (fraud detection asks for the activation
    instant: line age; the consent gate for the line's state). ``plan_id`` is the register's latest plan, or with
    ``period`` the plan in force for that period (a change takes effect from a period's start): what rating and
    billing the period use."""
    from fairtel.store import Subscriber, plans_in_force

    unknown = [c for c in columns if c not in _SUBSCRIBER_TYPES]
    if unknown:
        raise ValueError(f"no subscriber column {unknown[0]!r}")
    schema = {c: _SUBSCRIBER_TYPES[c] for c in columns}
    with app.db.connect() as conn:
        # straight from the driver's cursor into a frame, without a result row object per line (a register of
        # 3 M lines: about 2 s against 5.5 s; rating re-reads it every minute). The activation instant comes as
        # the driver gives it: an aware timestamp (PostgreSQL) or SQLite's text of the UTC wall clock
        sql = f"SELECT {', '.join(columns)} FROM {Subscriber.__tablename__}"
        raw = conn.exec_driver_sql(sql).cursor
        assert raw is not None
        rows = raw.fetchall()
        loose = {c: (pl.String() if t == pl.String() else None) for c, t in schema.items()}
        frame = pl.DataFrame(rows, schema=list(loose.items()), orient="row", infer_schema_length=None)
        in_force = (pl.from_arrow(plans_in_force(conn, at=period.start))
                    if period is not None and "plan_id" in columns and "msisdn" in columns else None)
    stamps = [c for c, t in schema.items() if isinstance(t, pl.Datetime)]
    frame = frame.with_columns(_utc(frame, c) for c in stamps).select(list(schema)).cast(schema)  # type: ignore[arg-type]
    if in_force is not None:
        assert isinstance(in_force, pl.DataFrame)
        # every line has a plan in force (a line that never changed plan, the register's): a line added between
        # the two reads keeps the register's
        frame = frame.join(in_force.rename({"plan_id": "_in_force"}), on="msisdn", how="left", maintain_order="left")
        frame = frame.with_columns(pl.coalesce("_in_force", "plan_id").alias("plan_id")).drop("_in_force")
    return frame


def home_plans(app: App) -> pl.DataFrame:
    """Every line's plans through time (``msisdn``, ``plan_id``, ``effective_from``: several rows a line that
    changed plan, a pending change included), for online rating, which rates each record under the plan in
    force for the period it falls in (``rating.rate`` picks the row), and its ``holder_since`` (an owner change, 过户:
    null when none), so that rating counts allowances per holding in the month of the change."""
    from datetime import UTC

    from sqlalchemy import select

    from fairtel.store import Subscriber, plan_timeline

    s = Subscriber.__table__
    with app.db.connect() as conn:
        frame = pl.from_arrow(plan_timeline(conn))
        changed = conn.execute(select(s.c.msisdn, s.c.holder_since).where(s.c.holder_since.is_not(None))).all()
    assert isinstance(frame, pl.DataFrame)
    holders = pl.DataFrame(
        {"msisdn": [r[0] for r in changed],
         "holder_since": [r[1].replace(tzinfo=UTC) if r[1].tzinfo is None else r[1].astimezone(UTC) for r in changed]},
        schema={"msisdn": pl.String(), "holder_since": pl.Datetime("us", "UTC")})
    return frame.join(holders, on="msisdn", how="left", maintain_order="left")


def _utc(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A timestamp column as UTC microseconds, from the driver's aware values or SQLite's text of the UTC wall
    clock (``UTCDateTime`` stores that)."""
    col = pl.col(column)
    dtype = frame.schema[column]
    if dtype == pl.Null():  # an empty register (or no value at all)
        return col.cast(pl.Datetime("us", "UTC")).alias(column)
    if dtype == pl.String():
        return col.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us").dt.replace_time_zone("UTC").alias(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:  # naive: the UTC wall clock
        return col.dt.cast_time_unit("us").dt.replace_time_zone("UTC").alias(column)
    return col.dt.convert_time_zone("UTC").dt.cast_time_unit("us").alias(column)


def home_subscriptions(app: App) -> pl.DataFrame:
    """The home's consent ledger projected to subscriptions (``consent.project_subscriptions``): what ``home_gate``
    reads, for a caller that builds gates again while the ledger has not changed (the watch)."""
    from fairtel.consent import project_subscriptions
    from fairtel.store import consent_ledger

    with app.db.connect() as conn:
        ledger = consent_ledger(conn)
    return project_subscriptions(ledger)


def home_gate(app: App, catalog: Catalog, *, lines: pl.DataFrame | None = None, since: datetime | None = None,
              subscriptions: pl.DataFrame | None = None) -> Any:
    """The consent gate over the home's consent ledger: VAS charges are billable only with a confirmed order, on a
    line in service (not after it closed), under consent given by the line's current holder (not before its
    activation; after an owner change, not before ``holder_since``: ``previous_holder``), from a provider whose
    billing rights were not suspended when the charge was made (``fairtel merchants suspend``). ``lines``: the
    register's line states (``home_lines``) when the caller has them already. ``since`` (a period's start): the gate
    carries, too, the lines activated after it, so that their usage made before the activation is held
    (``rating.with_activations``). ``subscriptions``: the ledger's projection (``home_subscriptions``) when the caller
    knows the ledger has not changed since it was read; else the ledger is read."""
    from fairtel.rating import consent_gate
    from fairtel.rating._vas import with_activations, with_arrivals
    from fairtel.store import merchant_windows

    projected = home_subscriptions(app) if subscriptions is None else subscriptions
    with app.db.connect() as conn:
        suspended = merchant_windows(conn)
    register = home_lines(app) if lines is None else lines
    gate = consent_gate(projected, catalog, lines=register, suspended=suspended)
    # a charge that arrived after its provider's suspension, back-dated before it, is refused too
    gate = with_arrivals(gate, charge_arrivals(app, {o.offer_id: o.provider for o in catalog.offers}, suspended))
    return gate if since is None else with_activations(gate, register, since=since)


def charge_arrivals(app: App, offers: Mapping[str, str], suspended: Any, *,
                    parts: Collection[str | Path] | None = None) -> pl.DataFrame | None:
    """When each VAS charge of a provider ``suspended`` (``store.merchant_windows``; ``offers``: offer id → provider)
    arrived, as the gate reads it
    (``rating._vas.ARRIVALS``: ``source``, ``record_id``, ``arrived_at``): mediation's first ingest of the file it came
    in (the ledger's ``files.ingested_at``, through the usage part it was written to), the operator's own clock, not a
    time the sender can set (a file's modification time). Batch rating, rerate, ``fairtel assure`` and ``watch --rate``
    (for the parts ``parts`` of the files it rates) read the same instant, so that they refuse the same charges. Only
    the charges of suspended providers' offers are read; a usage part the ledger does not name (written by a test or
    a tool into the lake) has no arrival, and its charges are judged by their date alone. None: nothing to check."""
    import sqlite3
    from datetime import UTC, datetime

    from fairtel.consent._gate import suspension_windows
    from fairtel.mediation._state import LEDGER

    windows = suspension_windows(suspended)
    providers = {p for p, ws in windows.items() if any(a is not None for a, _ in ws)}
    theirs = sorted(o for o, p in offers.items() if p in providers)
    if not theirs:
        return None
    ledger = app.settings.lake_dir.parent / "mediation" / LEDGER
    if not ledger.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True, timeout=60)
        try:
            rows = conn.execute("SELECT l.part, f.ingested_at FROM lake_parts l JOIN files f "
                                "ON f.content_hash = l.content_hash").fetchall()
        finally:
            conn.close()
    except sqlite3.Error:  # a ledger being made, or of an earlier version: no arrival known
        return None
    came: dict[str, datetime] = {}
    for part, text in rows:
        at = datetime.fromisoformat(text)
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
        came[part] = min(at, came.get(part, at))
    wanted = None if parts is None else {Path(p).name.removesuffix(".parquet") for p in parts}
    files = [f for f in app.lake.files("usage")
             if f.stem in came and (wanted is None or f.stem in wanted)]
    if not files:
        return None
    read = (pl.scan_parquet(files, include_file_paths="_path", missing_columns="insert", extra_columns="ignore")
            .filter((pl.col("kind") == "vas") & pl.col("offer_id").is_in(theirs))
            .select(pl.col("source").cast(pl.String).fill_null(""), pl.col("record_id").cast(pl.String),
                    pl.col("_path").str.split("/").list.last().str.strip_suffix(".parquet").alias("_part"))
            .collect())
    if read.height == 0:
        return None
    arrived = pl.DataFrame({"_part": list(came), "arrived_at": list(came.values())},
                           schema={"_part": pl.String(), "arrived_at": pl.Datetime("us", "UTC")})
    return (read.join(arrived, on="_part").group_by("source", "record_id")
            .agg(pl.col("arrived_at").min()).sort("source", "record_id"))


def _holdings(conn: Any, msisdns: pl.Series) -> pl.DataFrame:
    """(``msisdn``, ``holder_since``) of the lines ``msisdns`` as the register says (UTC; null: never changed owner)."""
    from datetime import UTC

    from sqlalchemy import select

    from fairtel.store import Subscriber

    s = Subscriber.__table__
    names = sorted(set(msisdns.cast(pl.String).to_list()))
    rows = [r for start in range(0, len(names), 5000)
            for r in conn.execute(select(s.c.msisdn, s.c.holder_since).where(s.c.msisdn.in_(names[start:start + 5000])))]
    return pl.DataFrame(
        {"msisdn": [r[0] for r in rows],
         "holder_since": [None if r[1] is None else r[1].replace(tzinfo=UTC) if r[1].tzinfo is None else r[1].astimezone(UTC)
                          for r in rows]},
        schema={"msisdn": pl.String(), "holder_since": pl.Datetime("us", "UTC")})


def home_lines(app: App, msisdns: Collection[str] | None = None) -> pl.DataFrame:
    """The register's line states as the consent gate reads them (of ``msisdns`` alone, when given: the lines
    ``store.register_changes`` names). A closed line whose register does not say when
    it closed (``closed_at``, optional in the register file) is taken as closed when the register last changed
    it: VAS charges made while it was in service stay billable (refusing them all would flag, and refund, months of
    charges it rightly paid), later ones are refused, and rating holds its usage made since (``line_closed``). That
    date is the import's, not the closing's: the bill run holds all usage of such a line from its account
    (``billing.held_usage``, ``line_closed_undated``), never charged, and says how many lines lack the date.

    Each line comes with its suspensions that ended (``rating._vas.SUSPENSIONS``: from the line status history,
    ``store.suspension_windows``; null: none), so that its usage dated inside one is held even when the line is
    back in service when that usage is rated (a late switch file, roaming records days later, a period rated
    again).

    Each line comes with its ``holder_since`` too (an owner change, 过户: null when none), so that the consent
    gate takes the previous customer's subscriptions as consenting no charge made from the change on
    (``previous_holder``), in the batch run and the watch alike."""
    from fairtel.rating._vas import SUSPENSIONS
    from fairtel.store import suspension_windows

    columns = ("msisdn", "status", "activated_at", "closed_at", "suspended_at", "updated_at", "holder_since")
    if msisdns is None:
        lines = home_subscribers(app, columns)
        with app.db.connect() as conn:
            windows = suspension_windows(conn)
    else:
        from fairtel.store import register_lines

        with app.db.connect() as conn:
            lines = register_lines(conn, msisdns)
            if "holder_since" not in lines.columns:  # the register's line states carry no owner change
                lines = lines.join(_holdings(conn, lines["msisdn"]), on="msisdn", how="left", maintain_order="left")
            lines = lines.select(columns)
            windows = suspension_windows(conn, msisdns)
    ended = windows.group_by("msisdn", maintain_order=True).agg(
        pl.struct("suspended_from", "suspended_until").alias(SUSPENSIONS))
    closed = pl.col("status") == "closed"
    return lines.with_columns(
        pl.when(closed & pl.col("closed_at").is_null()).then(pl.col("updated_at")).otherwise(pl.col("closed_at"))
        .alias("closed_at")).drop("updated_at").join(ended, on="msisdn", how="left", maintain_order="left")
