"""`fairtel assure`: run the charge-assurance detectors over an operator directory or the home's lake."""

from __future__ import annotations

import json
import tomllib
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import polars as pl
import typer

from fairtel.assurance import (
    FINDING_ID_PURPOSE,
    PRESETS,
    AssurancePolicy,
    AssuranceRun,
    FileOutbox,
    Finding,
    FindingIds,
    FindingKind,
    MerchantPolicy,
    RefundPolicy,
    assure,
    bill_shock_messages,
    findings_frame,
    merchant_evidence,
    refund_messages,
    suspension_list,
)
from fairtel.assurance._billshock import OwnCapPolicy, SubscriberCap, UnwatchedCap
from fairtel.assurance._finding import build_findings
from fairtel.assurance._notify import DEFAULT_SENDER
from fairtel.bootstrap import App
from fairtel.cli._assure_refunds import RefundOutcome, post_refunds, queue_findings, untold_refunds
from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.consent import ConsentLedger, ConsentPolicy, Offer, OfferPeriod, Verdict, offer_book, read_consent_events
from fairtel.consent._gate import SuspensionWindows, suspension_windows
from fairtel.core.errors import ConfigError, FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money
from fairtel.core.time import Period, utc_now

_USAGE_COLUMNS = ("record_id", "source", "msisdn", "kind", "started_at", "offer_id", "amount", "amount_minor", "currency", "roaming_country")


@dataclass
class Inputs:
    usage: pl.DataFrame
    ledger: ConsentLedger
    offers: dict[str, list[Offer]]
    rated: pl.DataFrame | None = None
    notices: pl.DataFrame | None = None
    complaints: pl.DataFrame | None = None
    lines: pl.DataFrame | None = None  # the subscriber register's state of each line (the consent gate checks it)
    sender: dict[str, str] = field(default_factory=lambda: {"zh": DEFAULT_SENDER, "en": DEFAULT_SENDER})  # signs the SMS
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---- offers -------------------------------------------------------------------------------------------
def _offers_from_toml(path: Path) -> dict[str, list[Offer]]:
    """The [[offers]] tables of a catalog, read minimally (the catalog package validates the whole file)."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    currency = str(data.get("operator", {}).get("currency", "CNY"))
    book: dict[str, list[Offer]] = {}
    problems = []
    for i, t in enumerate(data.get("offers", [])):
        try:
            period = str(t.get("period", "monthly")).replace("-", "_")
            o = Offer(
                offer_id=str(t.get("id") or t["offer_id"]),
                provider_id=str(t.get("provider") or t["provider_id"]),
                price=Decimal(str(t["price"])),
                currency=str(t.get("currency", currency)),
                period=OfferPeriod(period),
            )
        except (KeyError, ValueError, ArithmeticError) as exc:
            problems.append(Problem(str(path), None, f"offers[{i}]", f"cannot read offer: {exc}"))
            continue
        book.setdefault(o.offer_id, []).append(o)
    if problems:
        raise InvalidInputError(problems, what="catalog offers")
    return book


def _load_offers(path: Path, notes: list[str], sender: dict[str, str] | None = None) -> dict[str, list[Offer]]:
    """The catalog's offers; ``sender`` (when given) gets the operator's name in each language."""
    try:
        from fairtel.catalog import load_catalog
    except ImportError:
        return _offers_from_toml(path)
    try:
        catalog = load_catalog(path)
    except FairtelError as exc:
        notes.append(f"catalog {path} did not load ({exc.code}); its [[offers]] were read directly")
        return _offers_from_toml(path)
    if sender is not None:
        sender.update(zh=catalog.operator.name.zh, en=catalog.operator.name.en)
    return offer_book(catalog.offers, currency=catalog.operator.currency)


def _register_languages(fapp: App, operator_dir: Path | None, msisdns: list[str]) -> dict[str, str]:
    """The language each of ``msisdns`` registered (zh/en): the operator directory's ``subscribers.csv`` when
    reading one, else the home's register."""
    if not msisdns:
        return {}
    if operator_dir is not None:
        path = operator_dir / "subscribers.csv"
        if not path.is_file():
            return {}
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
        if not {"msisdn", "language"} <= set(raw.columns):
            return {}
        rows = raw.filter(pl.col("msisdn").is_in(msisdns)).select("msisdn", "language").iter_rows()
        return {m: str(lang).strip() for m, lang in rows if lang}
    from sqlalchemy import select

    from fairtel.store import Subscriber

    out: dict[str, str] = {}
    with fapp.db.connect() as conn:
        for i in range(0, len(msisdns), 500):
            chunk = msisdns[i : i + 500]
            out.update({m: str(lang) for m, lang in conn.execute(
                select(Subscriber.msisdn, Subscriber.language).where(Subscriber.msisdn.in_(chunk))) if lang})
    return out


# ---- usage --------------------------------------------------------------------------------------------
def _to_clean(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """Canonical usage rows (strings) → the clean columns the detectors read; money to minor units."""
    f = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in _USAGE_COLUMNS if c not in frame.columns)
    f = f.with_columns(pl.col(c).cast(pl.String) for c in ("record_id", "source", "msisdn", "kind", "offer_id", "currency", "roaming_country"))
    if f.schema["started_at"] == pl.String:
        f = f.with_columns(
            pl.col("started_at").str.replace(r"[Zz]$", "+00:00").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", strict=False, time_zone="UTC")
        )
    else:
        f = f.with_columns(pl.col("started_at").dt.convert_time_zone("UTC"))
    f = f.with_columns(pl.col("started_at").dt.cast_time_unit("us"), pl.col("source").fill_null(source))
    if f.schema["amount_minor"] == pl.Null or f["amount_minor"].null_count() == f.height:
        pairs = f.select(pl.col("amount").cast(pl.String), "currency").unique().drop_nulls()
        rows = []
        for amount, currency in pairs.iter_rows():
            try:
                rows.append({"amount": amount, "currency": currency, "_minor": Money.of(amount.strip(), currency).to_minor()})
            except Exception:  # an amount that is not exact in minor units is left null: the gate refuses it
                continue
        mapping = pl.DataFrame(rows, schema={"amount": pl.String(), "currency": pl.String(), "_minor": pl.Int64()})
        f = f.with_columns(pl.col("amount").cast(pl.String)).join(mapping, on=["amount", "currency"], how="left").with_columns(
            pl.col("_minor").alias("amount_minor")
        )
    f = f.with_columns(pl.col("amount_minor").cast(pl.Int64))
    return f.select("record_id", "source", "msisdn", "kind", "started_at", "offer_id", "amount_minor", "currency", "roaming_country").filter(
        pl.col("record_id").is_not_null() & pl.col("msisdn").is_not_null() & pl.col("started_at").is_not_null()
    )


def _wanted(with_roaming: bool) -> pl.Expr:
    cond = pl.col("kind") == "vas"
    return cond | pl.col("roaming_country").is_not_null() if with_roaming else cond


def _read_usage_file(path: Path, with_roaming: bool, notes: list[str]) -> pl.DataFrame | None:
    suffix = path.suffix.lower()
    source = path.stem
    if suffix == ".parquet":
        lf = pl.scan_parquet(path)
        names = lf.collect_schema().names()
        if not {"record_id", "kind", "msisdn", "started_at"} <= set(names):
            return None
        if "roaming_country" not in names:
            lf = lf.with_columns(pl.lit(None, dtype=pl.String).alias("roaming_country"))
        cols = [c for c in _USAGE_COLUMNS if c in names or c == "roaming_country"]
        return _to_clean(lf.select(cols).filter(_wanted(with_roaming)).collect(), source)
    if suffix == ".csv":
        header = path.open(encoding="utf-8", errors="replace").readline()
        if not {"record_id", "kind", "msisdn", "started_at"} <= {h.strip() for h in header.strip().split(",")}:
            return None  # a switch's own layout (Asterisk, FreeSWITCH): no value-added charges in it
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, ignore_errors=True, encoding="utf8-lossy")
        if "roaming_country" not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("roaming_country"))
        return _to_clean(frame.filter(_wanted(with_roaming)), source)
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows, bad = [], 0
        with path.open(encoding="utf-8", errors="replace") as fh:
            for line in fh:
                # Cheap textual filter first: most lines of a big feed are not value-added charges.
                if not with_roaming and '"vas"' not in line:
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError:
                    bad += 1
                    continue
                if isinstance(obj, dict):
                    rows.append({c: (None if obj.get(c) is None else str(obj.get(c))) for c in _USAGE_COLUMNS})
        if bad:
            notes.append(f"{path.name}: {bad} malformed line(s) skipped (mediation reports them)")
        frame = pl.DataFrame(rows, schema={c: pl.String() for c in _USAGE_COLUMNS})
        return _to_clean(frame.filter(_wanted(with_roaming)), source)
    return None


def _read_jsonl_frame(paths: list[Path]) -> pl.DataFrame | None:
    rows = []
    for p in paths:
        for line in p.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    return pl.DataFrame(rows) if rows else None


def _notices(paths: list[Path]) -> pl.DataFrame | None:
    frame = _read_jsonl_frame(paths)
    if frame is None:
        return None
    return frame.select(
        pl.col("msisdn").cast(pl.String),
        pl.col("country").cast(pl.String),
        pl.col("sent_at").str.replace(r"[Zz]$", "+00:00").str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%#z", time_zone="UTC"),
    )


def _from_operator_dir(root: Path, *, catalog: Path | None, policy: ConsentPolicy) -> Inputs:
    notes: list[str] = []
    if not root.is_dir():
        raise NotFoundError(f"operator directory {root} does not exist")
    cat = catalog or root / "catalog.toml"
    if not cat.is_file():
        raise NotFoundError(f"no catalog at {cat}")
    sender = {"zh": DEFAULT_SENDER, "en": DEFAULT_SENDER}
    offers = _load_offers(cat, notes, sender)
    batch = read_consent_events(sorted((root / "consent").glob("*.jsonl")))
    ledger = ConsentLedger()
    appended = ledger.append(batch)
    notice_files = sorted((root / "notices").glob("*.jsonl"))
    frames = []
    for p in sorted((root / "usage").glob("*")):
        if p.is_file():
            try:
                f = _read_usage_file(p, bool(notice_files), notes)
            except (OSError, pl.exceptions.PolarsError) as exc:
                notes.append(f"{p.name}: skipped, cannot be read ({exc.__class__.__name__}: {str(exc)[:120]})")
                continue
            if f is not None and f.height:
                frames.append(f)
    usage = pl.concat(frames) if frames else _to_clean(pl.DataFrame(), "none")
    # Identical (source, record_id) pairs are one record (mediation's dedup key); re-sent copies with new ids stay.
    usage = usage.unique(["source", "record_id"], keep="first", maintain_order=True)
    complaint_files = sorted((root / "complaints").glob("*.jsonl"))
    if (root / "complaints.jsonl").is_file():
        complaint_files.append(root / "complaints.jsonl")
    complaints = _read_jsonl_frame(complaint_files)
    return Inputs(
        usage=usage,
        ledger=ledger,
        offers=offers,
        lines=_register_lines(root / "subscribers.csv", notes),
        notices=_notices(notice_files) if notice_files else None,
        complaints=complaints if complaints is not None and "msisdn" in complaints.columns else None,
        problems=[*batch.problems, *appended.rejected],
        notes=notes,
        sender=sender,
    )


def _register_lines(path: Path, notes: list[str]) -> pl.DataFrame | None:
    """The line states of an operator directory's register (``msisdn``, ``status`` and the instants it has), for
    the consent gate; None without a register. A row whose instants do not parse restricts nothing (noted)."""
    if not path.is_file():
        notes.append(f"no {path.name}: line states (closed, suspended, re-assigned numbers) not checked")
        return None
    raw = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    if not {"msisdn", "status"} <= set(raw.columns):
        notes.append(f"{path.name} has no msisdn/status columns: line states not checked")
        return None
    instants = [c for c in ("activated_at", "closed_at", "suspended_at") if c in raw.columns]
    lines = raw.select("msisdn", "status", *(
        pl.col(c).str.strip_chars().str.to_datetime(time_zone="UTC", time_unit="us", strict=False).alias(f"_{c}")
        for c in instants), *instants)
    bad = pl.any_horizontal([pl.col(c).is_not_null() & (pl.col(c) != "") & pl.col(f"_{c}").is_null() for c in instants]) \
        if instants else pl.lit(False)
    statuses = ("active", "suspended", "closed")
    bad = bad | ~pl.col("status").is_in(statuses).fill_null(False)
    if "_closed_at" in lines.columns:  # closed, but when is unknown: refusing every charge would flag paid months
        bad = bad | ((pl.col("status") == "closed") & pl.col("_closed_at").is_null())
    else:
        bad = bad | (pl.col("status") == "closed")
    unreadable = lines.filter(bad).height
    if unreadable:
        notes.append(f"{path.name}: {unreadable} row(s) with an unknown status, an instant that does not parse, or closed "
                     "without closed_at: their line state not checked")
    kept = lines.filter(~bad).unique("msisdn", keep="last", maintain_order=True).select(
        "msisdn", "status", *(pl.col(f"_{c}").alias(c) for c in instants))
    return _undated_suspensions(kept, path.name, notes)


def _undated_suspensions(lines: pl.DataFrame, where: str, notes: list[str]) -> pl.DataFrame:
    """``lines`` with each suspended line whose register does not say since when (no ``suspended_at``) taken as in
    service, noted: the register cannot say which charges came after the suspension, and refusing them all would
    flag, and refund, charges billed under consent (the gate refuses every charge of such a line, as rating holds
    it). Its activation is still checked."""
    undated = pl.col("status") == "suspended"
    if "suspended_at" in lines.columns:
        undated = undated & pl.col("suspended_at").is_null()
    n = lines.filter(undated).height
    if not n:
        return lines
    notes.append(f"{where}: {n} suspended line(s) without suspended_at: their suspension not checked (the register "
                 "cannot say which charges came after it)")
    return lines.with_columns(pl.when(undated).then(pl.lit("active")).otherwise(pl.col("status")).alias("status"))


def _from_home(home: Path, lake: Path, *, catalog: Path | None, fapp: App | None = None) -> Inputs:
    from fairtel.store import Lake

    notes: list[str] = []
    offers_path = catalog
    if offers_path is None:
        from fairtel.catalog import default_catalog_path

        offers_path = home / "catalog.toml" if (home / "catalog.toml").is_file() else None
        if offers_path is None and fapp is not None:
            offers_path = _stored_catalog(fapp, notes)
        if offers_path is None:
            if fapp is not None:  # outside development a home without a catalog is refused, not priced as the demo
                from fairtel.cli._home import check_demo_catalog_allowed

                check_demo_catalog_allowed(fapp)
            offers_path = default_catalog_path()
            notes.append(f"offers from the default catalog {offers_path}")
    sender = {"zh": DEFAULT_SENDER, "en": DEFAULT_SENDER}
    offers = _load_offers(offers_path, notes, sender)
    ledger = ConsentLedger()
    problems: list[Problem] = []
    lines = None
    if fapp is not None:  # the consent events the home's database holds (fairtel load, the API)
        from fairtel.consent import as_events
        from fairtel.store import consent_ledger

        with fapp.db.connect() as conn:
            stored = consent_ledger(conn)
        problems += ledger.append(as_events(stored), source="database").rejected
        from fairtel.cli._home import home_lines

        lines = _undated_suspensions(home_lines(fapp), "register", notes)
    files = sorted((home / "consent").glob("*.jsonl"))
    if files:
        batch = read_consent_events(files)
        appended = ledger.append(batch)
        problems += [*batch.problems, *appended.rejected]
    # through the lake: a rating commit left pending (rated lines in, unrated records not yet) is finished first
    store = Lake(lake)
    files = store.files("usage")
    if files:
        lf = pl.scan_parquet(files, missing_columns="insert", extra_columns="ignore")
        names = lf.collect_schema().names()
        cols = [c for c in _USAGE_COLUMNS if c in names]
        usage = _to_clean(lf.select(cols).filter(pl.col("kind") == "vas").collect(), "lake")
    else:
        usage = _to_clean(pl.DataFrame(), "lake")
        notes.append(f"no usage in {lake / 'usage'}")
    if fapp is not None and usage.height:
        usage = _as_billed(fapp, usage)
    rated = None
    rated_files = store.files("rated")
    if rated_files:
        from fairtel.billing import charged

        lf = pl.scan_parquet(rated_files)
        needed = ["record_id", "msisdn", "started_at", "amount_minor", "currency", "kind", "roaming_country"]
        names = lf.collect_schema().names()
        if set(needed) <= set(names):
            # what the bills charge: usage held off them (made after the line's suspension) is no bill shock
            rated = lf.filter(charged(names)).select(needed).collect()
        else:
            notes.append("rated lines lack the columns bill shock needs; bill shock skipped")
    # the roaming welcome SMS watch --rate sent (<home>/notices/*.jsonl): without them the check cannot be made
    notice_files = sorted((home / "notices").glob("*.jsonl"))
    if not notice_files:
        notes.append("no roaming welcome notices recorded in the home (notices/*.jsonl): roaming_without_welcome skipped")
    complaints = _home_complaints(fapp, notes) if fapp is not None else None
    return Inputs(usage=usage, ledger=ledger, offers=offers, rated=rated, lines=lines, problems=problems, notes=notes,
                  sender=sender, notices=_notices(notice_files) if notice_files else None, complaints=complaints)


def _home_complaints(fapp: App, notes: list[str]) -> pl.DataFrame | None:
    """The complaints stored in the home (``fairtel load``, the API, the assistant), for the merchant ranking:
    ``complaint_id``, ``msisdn``, ``category``. The store keeps no offer or provider with a complaint, so each one
    of a charge category counts against every provider that subscribed or charged its number (``rank_merchants``)."""
    from sqlalchemy import select

    from fairtel.store import Complaint
    from fairtel.store._schema import table_of

    c = table_of(Complaint)
    with fapp.db.connect() as conn:
        rows = conn.execute(select(c.c.complaint_id, c.c.msisdn, c.c.category)).all()
    if not rows:
        notes.append("no complaints stored in the home: the merchant ranking has no complaint signal")
        return None
    return pl.DataFrame([tuple(r) for r in rows], orient="row",
                        schema={"complaint_id": pl.String(), "msisdn": pl.String(), "category": pl.String()})


def _as_billed(fapp: App, usage: pl.DataFrame) -> pl.DataFrame:
    """``usage`` with the ``arrival`` rank the consent gate orders charges of one key by, so that it picks the
    charge billing did: first the one an issued bill holds (its run's lines, or a rerate entry that charged it),
    then the one rating stored as consented (online rating takes them in the order their files arrived, not by
    date), then the others. Re-gated by date alone, a charge a bill holds could be called the duplicate of an
    earlier-dated one no bill holds, and refunded: the month then paid by nobody."""
    from fairtel.cli._assure_refunds import charge_evidence

    keys = usage.select("msisdn", pl.col("source").fill_null(""), "record_id")
    evidence = charge_evidence(fapp, set(keys.iter_rows()), outside_billing=False)
    billed = pl.DataFrame([(m, s, r) for (m, s, r), b in evidence.billed.items() if b], orient="row",
                          schema={"msisdn": pl.String(), "_src": pl.String(), "record_id": pl.String()})
    consented = pl.DataFrame(schema={"msisdn": pl.String(), "_src": pl.String(), "record_id": pl.String()})
    files = fapp.lake.files("rated")
    if files:
        scan = pl.scan_parquet(files)
        if "verdict" in scan.collect_schema().names():
            consented = (scan.filter((pl.col("kind") == "vas") & (pl.col("verdict") == "consented"))
                         .select(pl.col("msisdn").cast(pl.String), pl.col("source").cast(pl.String).fill_null("").alias("_src"),
                                 pl.col("record_id").cast(pl.String))
                         .unique().collect())
    rank = (usage.with_columns(pl.col("source").fill_null("").alias("_src"))
            .join(billed.unique().with_columns(pl.lit(0, dtype=pl.Int64).alias("_b")), on=["msisdn", "_src", "record_id"],
                  how="left", maintain_order="left")
            .join(consented.with_columns(pl.lit(1, dtype=pl.Int64).alias("_c")), on=["msisdn", "_src", "record_id"],
                  how="left", maintain_order="left"))
    return rank.with_columns(pl.coalesce("_b", "_c", pl.lit(2, dtype=pl.Int64)).alias("arrival")).drop("_src", "_b", "_c")


def _stored_catalog(fapp: App, notes: list[str]) -> Path | None:
    """The home's current catalog (as `fairtel load` stored it), written beside the lake for reading."""
    from fairtel.store import current_catalog_text

    with fapp.db.connect() as conn:
        text = current_catalog_text(conn)
    if text is None:
        return None
    path = fapp.settings.home / "current-catalog.toml"
    path.write_text(text, encoding="utf-8")
    notes.append("offers from the home's current catalog")
    return path


# ---- suspended providers ------------------------------------------------------------------------------
def suspended_providers(fapp: App, given: list[str] | None) -> dict[str, SuspensionWindows]:
    """The providers whose charges the run refuses: those suspended durably (``fairtel merchants suspend``: dated
    while suspended) and those ``--suspend`` names for this run (every charge)."""
    from fairtel.store import merchant_windows

    with fapp.db.connect() as conn:
        durable: dict[str, SuspensionWindows] = dict(merchant_windows(conn))
    for provider, windows in suspension_windows(given or ()).items():
        durable[provider] = (*durable.get(provider, ()), *windows)
    return durable


_SUSPENDED_EVIDENCE = ("verdict", "offer_id", "provider_id", "started_at", "period", "charged_minor", "price_minor",
                       "source", "suspended_since", "arrived_at")


def late_charges(fapp: App, gated: pl.DataFrame, suspended: dict[str, SuspensionWindows]
                 ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """``gated`` with each charge that passed the consent checks but arrived (mediation's first ingest of its file,
    ``cli._home.charge_arrivals``) while its provider was suspended, dated before the suspension, refused as rating
    refuses it (``merchant_suspended_late``: a suspended provider still charging, back-dated), and the arrivals read."""
    from fairtel.cli._home import charge_arrivals
    from fairtel.rating._vas import MERCHANT_SUSPENDED_LATE, arrived_late

    if gated.height == 0 or not {"offer_id", "provider_id", "verdict"} <= set(gated.columns):
        return gated, None
    offers = dict(gated.select("offer_id", "provider_id").drop_nulls().unique().iter_rows())
    arrivals = charge_arrivals(fapp, offers, suspended)
    if arrivals is None:
        return gated, None
    late = arrived_late(gated, arrivals, suspended) & (gated["verdict"] == Verdict.CONSENTED.value)
    if not late.any():
        return gated, arrivals
    refused = [pl.when(late).then(pl.lit(MERCHANT_SUSPENDED_LATE)).otherwise(pl.col("verdict")).alias("verdict")]
    if "billable" in gated.columns:
        refused.append((pl.col("billable") & ~late).alias("billable"))
    return gated.with_columns(refused), arrivals


def suspended_charge_findings(gated: pl.DataFrame, suspended: dict[str, SuspensionWindows], *, detected_at: datetime,
                              have: set[str], arrivals: pl.DataFrame | None = None) -> list[Finding]:
    """One finding (``merchant_suspended_charge``) per charge the gate refused because its provider's billing rights
    were suspended when it was made, with the instant the suspension began (``suspended_since``, none when suspended
    for this run only): refunded, as the other charge findings, when a bill charged it (rated before the suspension
    was recorded). A charge that arrived while its provider was suspended, dated before (``merchant_suspended_late``,
    ``late_charges``), is one too: the evidence gives when it arrived (``arrived_at``, from ``arrivals``) and the
    suspension it arrived in. Findings ``have`` already (by id) are not raised again."""
    from fairtel.rating._vas import MERCHANT_SUSPENDED_LATE

    if gated.height == 0 or "verdict" not in gated.columns:
        return []
    part = gated.filter(pl.col("verdict").is_in([Verdict.MERCHANT_SUSPENDED.value, MERCHANT_SUSPENDED_LATE]))
    if part.height == 0:
        return []
    src_key = pl.col("source").cast(pl.String).fill_null("") if "source" in part.columns else pl.lit("")
    if arrivals is not None and arrivals.height:
        came = arrivals.select(pl.col("source").alias("_src"), "record_id", "arrived_at")
        part = (part.with_columns(src_key.alias("_src")).join(came, on=["_src", "record_id"], how="left",
                                                              maintain_order="left").drop("_src")
                .with_columns(pl.when(pl.col("verdict") == MERCHANT_SUSPENDED_LATE).then(pl.col("arrived_at"))
                              .alias("arrived_at")))
    else:
        part = part.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("arrived_at"))
    since = pl.DataFrame(
        [(p, a, b) for p, windows in suspended.items() for a, b in windows if a is not None],
        schema={"provider_id": pl.String(), "_from": pl.Datetime("us", "UTC"), "_until": pl.Datetime("us", "UTC")},
        orient="row",
    )
    # the instant that fell in the suspension: the charge's date, or for one back-dated, its arrival
    t = pl.coalesce(pl.col("arrived_at"), pl.col("started_at").dt.convert_time_zone("UTC").dt.cast_time_unit("us"))
    window = (part.with_row_index("_r").select("_r", "provider_id", t.alias("_t"))
              .join(since, on="provider_id", how="inner")
              # an arrival is recorded to the second: one in the suspension's second arrived in it
              .filter((pl.col("_t") >= pl.col("_from").dt.truncate("1s"))
                      & (pl.col("_until").is_null() | (pl.col("_t") < pl.col("_until"))))
              .group_by("_r").agg(pl.col("_from").min().alias("suspended_since")))
    src = pl.col("source") if "source" in part.columns else pl.lit(None, dtype=pl.String)
    frame = (part.with_row_index("_r").join(window, on="_r", how="left", maintain_order="left").select(
        "record_id", src.alias("source"), "msisdn", "offer_id", "provider_id", "subscription_id", "verdict", "period",
        "started_at", "suspended_since", "arrived_at", pl.col("amount_minor").alias("charged_minor"), "price_minor",
        "currency",
        pl.concat_list(pl.col("record_id")).alias("record_ids"), "amount_minor"))
    found = build_findings(frame, FindingKind.MERCHANT_SUSPENDED_CHARGE, key=("source", "record_id"),
                           detected_at=detected_at, evidence=_SUSPENDED_EVIDENCE)
    return [f for f in found if f.finding_id not in have]


def withheld_advice(ranking: pl.DataFrame, policy: MerchantPolicy | None = None) -> list[dict[str, Any]]:
    """The providers scoring enough to be advised for suspension (``MerchantPolicy.suspend_score``) but on too few
    subscriptions and charges (fewer than ``min_subscriptions`` of each) for the score to be more than chance: each
    with its ``provider_id``, ``score``, ``subscriptions`` and ``charges``, most suspicious first. ``suspension_list``
    does not advise them; an operator is told so, and why, rather than reading "none" as "all clean"."""
    policy = policy or MerchantPolicy()
    if ranking.height == 0:
        return []
    few = ranking.filter((pl.col("score") >= policy.suspend_score) & (pl.col("subscriptions") < policy.min_subscriptions)
                         & (pl.col("charges") < policy.min_subscriptions))
    return [{"provider_id": r["provider_id"], "score": round(float(r["score"]), 2), "subscriptions": int(r["subscriptions"]),
             "charges": int(r["charges"])} for r in few.sort("score", descending=True).iter_rows(named=True)]


def withheld_words(withheld: list[dict[str, Any]], policy: MerchantPolicy | None = None) -> str:
    """Why ``withheld`` (``withheld_advice``) are not advised, in one line."""
    floor = (policy or MerchantPolicy()).min_subscriptions
    each = ", ".join(f"{w['provider_id']} (score {w['score']:.2f}, {w['subscriptions']} subscriptions, {w['charges']} "
                     f"charges)" for w in withheld)
    return (f"{each}: they score high but on fewer than {floor} subscriptions or charges each, too few to tell from "
            "chance; review them in the ranking (`fairtel assure`) and suspend by hand if the evidence holds")


# what ``--refund`` refunds without a person deciding: the default kinds, and a charge from a suspended provider
REFUND_POLICY = RefundPolicy(automatic=RefundPolicy().automatic | {FindingKind.MERCHANT_SUSPENDED_CHARGE})


# ---- output -------------------------------------------------------------------------------------------
def finding_ids(fapp: App) -> FindingIds:
    """Findings about a number named with this home's key, those already queued under their unkeyed id kept."""
    from sqlalchemy import select

    from fairtel.core.ids import purpose_key
    from fairtel.store import Finding as FindingRow

    about_numbers = [k.value for k in (FindingKind.BILL_SHOCK, FindingKind.USAGE_PAST_CAP, FindingKind.ROAMING_WITHOUT_WELCOME)]
    with fapp.db.connect() as conn:
        held = {str(i) for i in conn.scalars(select(FindingRow.finding_id).where(FindingRow.kind.in_(about_numbers)))}
    files = fapp.lake.files("findings")  # written by an earlier run and perhaps not queued yet
    if files:
        held |= set(pl.scan_parquet(files).filter(pl.col("kind").is_in(about_numbers)).select("finding_id").collect()["finding_id"])
    return FindingIds(purpose_key(fapp.settings.secret_key.get_secret_value(), FINDING_ID_PURPOSE), frozenset(held))


def _finding_period(f: Finding, tz: str) -> str:
    period = f.evidence.get("period")
    if isinstance(period, str):
        return period
    for key in ("confirmed_at", "visit_started_at", "started_at"):
        value = f.evidence.get(key)
        if isinstance(value, str):
            from fairtel.core.time import parse_rfc3339

            try:
                return Period.containing(parse_rfc3339(value), tz).key
            except FairtelError:
                continue
    return Period.containing(f.detected_at, tz).key


def _write_findings(lake: Path, findings: list[Finding], tz: str) -> int:
    from fairtel.store import Lake

    frame = findings_frame(findings).with_columns(pl.Series("period", [_finding_period(f, tz) for f in findings], dtype=pl.String))
    store = Lake(lake)
    for (period,), part in frame.partition_by("period", as_dict=True).items():
        store.write("findings", str(period), part.drop("period").to_arrow(), part="assure")
    return frame.height


def _record_run(lake: Path, at: datetime, findings: int, tz: str) -> None:
    """That assurance ran and wrote, found something or not: the dashboard tells "0 findings" from "never ran"
    (``api._insight.ASSURE_RUNS``; the month's part holds its last run)."""
    import pyarrow as pa

    from fairtel.core.time import Period
    from fairtel.store import Lake

    table = pa.table({"ran_at": pa.array([at], pa.timestamp("us", tz="UTC")), "findings": pa.array([findings], pa.int64())})
    Lake(lake).write("assure_runs", Period.containing(at, tz).key, table, part="last")


def unwatched_cap_note(cap: UnwatchedCap, to: set[str], *, option: str = "--rate") -> str:
    """What the run says of a subscriber's roaming cap it could not watch: the line (its number masked, as
    statements show another party's), both currencies, and the ``--rate`` that would convert them (``to``: the
    currencies ``--rate CUR=VALUE`` converts to, VALUE being how many of them one CUR is worth; ``option``: the
    command's name for it, ``--cap-rate`` for ``watch --rate``)."""
    from fairtel.privacy import mask_msisdn

    head = (f"roaming cap of {mask_msisdn(cap.msisdn)} not watched: the cap is in {cap.cap_currency}, its roaming "
            f"charges in {cap.currency}, and no exchange rate was given")
    if cap.cap_currency in to:
        return f"{head}; pass {option} {cap.currency}=VALUE (VALUE: how many {cap.cap_currency} one {cap.currency} is worth)"
    if cap.currency in to:
        return f"{head}; pass {option} {cap.cap_currency}=VALUE (VALUE: how many {cap.currency} one {cap.cap_currency} is worth)"
    return (f"{head}; {option} CUR=VALUE gives how many {', '.join(sorted(to))} one CUR is worth in this run, which "
            f"converts neither of {cap.cap_currency} and {cap.currency} to the other")


def _parse_rates(values: list[str]) -> dict[str, Decimal]:
    rates: dict[str, Decimal] = {}
    for v in values:
        cur, _, rate = v.partition("=")
        try:
            rates[cur.strip().upper()] = Decimal(rate.strip())
        except ArithmeticError:
            raise ConfigError(f"--rate is CUR=VALUE (cap-currency units per unit of CUR), got {v!r}") from None
    return rates


def register(app: typer.Typer) -> None:
    @app.command("assure")
    def assure_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        operator_dir: Annotated[Path | None, typer.Option("--operator-dir", help="Read consent/, usage/ and catalog.toml from this operator directory.")] = None,
        catalog: Annotated[Path | None, typer.Option("--catalog", help="Catalog TOML with the offers (default: the operator directory's, else the home's or the default catalog).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print every finding as JSON.")] = False,
        suspend: Annotated[list[str] | None, typer.Option("--suspend", help="A provider whose billing rights are suspended for this run only (repeatable; `fairtel merchants suspend` suspends one durably, and the run reads those too).")] = None,
        confirm_window_h: Annotated[float, typer.Option("--confirm-window-h", help="Hours after an order within which its confirmation counts.")] = 24.0,
        machine_speed_s: Annotated[float, typer.Option("--machine-speed-s", help="A confirmation sooner than this after its order cannot be a person's.")] = 3.0,
        bill_shock: Annotated[list[str] | None, typer.Option("--bill-shock", help=f"Cap preset to watch over rated lines: {', '.join(PRESETS)} (repeatable).")] = None,
        rate: Annotated[list[str] | None, typer.Option("--rate", help="Exchange rate for a cap in another currency: CUR=VALUE, how many units of the presets' cap currency (without --bill-shock: the operator's) one CUR is worth (repeatable).")] = None,
        refund: Annotated[bool, typer.Option("--refund", help="Post automatic refunds to the adjustments ledger (the next bill carries them) and refund SMS to the outbox.")] = False,
        write: Annotated[bool, typer.Option("--write/--no-write", help="Write findings to the lake and notifications to the outbox.")] = True,
    ) -> None:
        """Run the charge-assurance detectors: unconsented, after-cancellation, duplicate and mis-priced
        charges, machine-speed and replayed confirmations, bill shock, roaming without a welcome notice."""
        try:
            fapp = app_for(ctx, home)
            settings = fapp.settings
            rates = _parse_rates(rate or [])
            presets = []
            for name in bill_shock or []:
                if name not in PRESETS:
                    raise ConfigError(f"unknown bill-shock preset {name!r}; choose from {', '.join(PRESETS)}")
                presets.append(PRESETS[name].with_rates(rates))
            # --rate CUR=VALUE is in the cap currency of the presets given (the operator's currency without any):
            # the same exchange, as pairs, for the caps subscribers set (a pair given one way serves both ways)
            cap_currencies = {p.cap.currency for p in presets} or {settings.currency}
            policy = AssurancePolicy(
                consent=ConsentPolicy(confirm_window=timedelta(hours=confirm_window_h)),
                machine_speed_s=machine_speed_s,
                bill_shock=tuple(presets),
                # a cap no --rate converts leaves that subscriber's cap unwatched (a note names the line), not the run
                own_caps=OwnCapPolicy(rates={(cur, to): v for to in cap_currencies for cur, v in rates.items() if cur != to},
                                      skip_unconverted=True),
                tz=settings.timezone,
            )
            now = utc_now()
            with reporter(quiet=as_json) as rep:
                rep.note("reading inputs")
                suspended = suspended_providers(fapp, suspend)
                if operator_dir is not None:
                    inputs = _from_operator_dir(operator_dir, catalog=catalog, policy=policy.consent)
                else:
                    inputs = _from_home(settings.home, settings.lake_dir, catalog=catalog, fapp=fapp)
                rep.step("read", advance=inputs.usage.height)
                # in a home, the roaming cap each subscriber set is watched too, with or without --bill-shock
                subscriber_caps: dict[str, SubscriberCap] | None = None
                if operator_dir is None:
                    from fairtel.store._roaming_caps import caps_in_force

                    with fapp.db.connect() as conn:
                        subscriber_caps = caps_in_force(conn, at=now)
                run = assure(
                    usage=inputs.usage,
                    offers=inputs.offers,
                    events=inputs.ledger.events,
                    rated=inputs.rated,
                    notices=inputs.notices,
                    complaints=inputs.complaints,
                    lines=inputs.lines,
                    suspended=suspended,
                    subscriber_caps=subscriber_caps,
                    policy=policy,
                    now=now,
                    ids=finding_ids(fapp),
                )
                inputs.notes.extend(unwatched_cap_note(u, cap_currencies) for u in run.unwatched_caps)
                arrivals = None
                if operator_dir is None:  # charges that came after their provider's suspension, back-dated
                    gated, arrivals = late_charges(fapp, run.gated, suspended)
                    run = replace(run, gated=gated)
                extra = suspended_charge_findings(run.gated, suspended, detected_at=now,
                                                  have={f.finding_id for f in run.findings}, arrivals=arrivals)
                if operator_dir is None and run.gated.height and "period" in run.gated.columns:
                    # charges refused on their issued bill that the ledger consents now (a confirmation recorded
                    # since, dated before them): never billed by a rerate, raised for review
                    from fairtel.assurance._charges import refused_on_bill_findings
                    from fairtel.cli._billing import refused_on_bill_charges

                    on_bill = refused_on_bill_charges(fapp, run.gated["period"].drop_nulls().cast(pl.String).unique().to_list())
                    extra = [*extra, *refused_on_bill_findings(run.gated, on_bill, detected_at=now)]
                if extra:
                    run.findings.extend(extra)
                    run.findings.sort(key=lambda f: (f.kind.value, f.msisdn or "", f.finding_id))
                rep.step("detected", advance=len(run.findings))
                written = sent = 0
                outcome: RefundOutcome | None = None
                if write:
                    written = _write_findings(settings.lake_dir, run.findings, settings.timezone) if run.findings else 0
                    _record_run(settings.lake_dir, now, len(run.findings), settings.timezone)
                    # each subscriber told in their registered language, signed with the operator's name in it
                    shocked = sorted({f.msisdn for f in run.findings if f.kind is FindingKind.BILL_SHOCK and f.msisdn})
                    languages = _register_languages(fapp, operator_dir, shocked)
                    messages = bill_shock_messages(run.findings, languages=languages, sender=inputs.sender, now=now,
                                                   tz=settings.timezone)
                    if refund:
                        rep.note("posting refunds")
                        outcome = post_refunds(fapp, run.findings, outside_billing=operator_dir is not None, now=now,
                                               policy=REFUND_POLICY)
                        messages += refund_messages(outcome.posted, languages={**languages, **outcome.languages},
                                                    sender=inputs.sender, now=now)
                    elif run.findings:
                        queue_findings(fapp)
                    outbox = FileOutbox(settings.outbox_dir)
                    sent = outbox.send(messages)
                    if outcome is not None:
                        # the SMS of refunds an earlier run posted and stopped before queueing: that run's refunds
                        # are refunded already, so no run posts them again; the outbox skips those it holds
                        untold, told_in = untold_refunds(fapp, now=now, skip={r.adjustment_id for r in outcome.posted})
                        late = outbox.send(refund_messages(untold, languages={**languages, **told_in},
                                                           sender=inputs.sender, now=now))
                        outcome = replace(outcome, told_late=late)
                        sent += late
                elif refund:
                    inputs.notes.append("--no-write: nothing recorded, so no refund was posted")
            if as_json:  # every finding with its subscriber's number (the tables show counts only)
                from fairtel.cli._audit import audit_shown, plural

                audit_shown(ctx, fapp, action="finding.list", subjects=(f.msisdn for f in run.findings),
                            what=plural(len(run.findings), "finding"))
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        in_force = sorted(p for p, windows in suspended.items() if any(b is None for _, b in windows))
        _report(run, inputs, as_json=as_json, written=written, sent=sent, refunds=outcome, suspended=in_force)


def _refund_summary(outcome: RefundOutcome | None) -> dict[str, Any]:
    if outcome is None:
        return {}
    return {
        "posted": len(outcome.posted),
        "amount": {cur: f"{sum((r.amount for r in outcome.posted if r.currency == cur), Decimal(0)):f}" for cur in sorted({r.currency for r in outcome.posted})},
        "adjustment_ids": [r.adjustment_id for r in outcome.posted],
        # refunds of usage past a cap taken back in part (a rerate lowered the charges past the cap), tax included
        "taken_back": len(outcome.taken_back),
        "taken_back_amount": {cur: f"{sum((Money.from_minor(e.amount_minor, cur).amount for e in outcome.taken_back if e.currency == cur), Decimal(0)):f}"
                              for cur in sorted({e.currency for e in outcome.taken_back})},
        "already_refunded": outcome.already_refunded,
        "not_billed": outcome.not_billed,
        "closed_before": outcome.closed_before,
        "pending": outcome.pending,
        "queued": outcome.synced,
        # refund SMS of refunds an earlier run posted, queued by this run (that run stopped before queueing them)
        "told_late": outcome.told_late,
    }


def _report(run: AssuranceRun, inputs: Inputs, *, as_json: bool, written: int, sent: int, refunds: RefundOutcome | None,
            suspended: list[str] | None = None) -> None:
    counts = Counter(f.kind.value for f in run.findings)
    verdicts = Counter(run.gated["verdict"].to_list()) if run.gated.height else Counter()
    held = set(suspended or ())
    advice = sorted(set(suspension_list(run.merchants)) - held)  # those suspended already need no advice
    withheld = [r for r in withheld_advice(run.merchants) if r["provider_id"] not in held]
    if as_json:
        print_json(
            {
                "findings": [f.to_dict() for f in run.findings],
                "counts": dict(sorted(counts.items())),
                "charges": {"gated": run.gated.height, "verdicts": dict(sorted(verdicts.items()))},
                "merchants": [
                    {k: (round(v, 6) if isinstance(v, float) else v) for k, v in row.items()} for row in run.merchants.iter_rows(named=True)
                ],
                "suspension_advice": advice,
                "advice_withheld": withheld,
                "suspended": sorted(held),
                "problems": [str(p) for p in inputs.problems],
                "notes": inputs.notes,
                "written": written,
                "notifications": sent,
                "refunds": len(refunds.posted) if refunds is not None else 0,
                "refund": _refund_summary(refunds),
            }
        )
        return
    for n in inputs.notes:
        err_console.print(n, markup=False, highlight=False)
    if inputs.problems:
        err_console.print(f"{len(inputs.problems)} consent event problem(s); first: {inputs.problems[0]}", markup=False,
                          highlight=False)
    by_kind: dict[str, Decimal] = {}
    for f in run.findings:
        if f.amount is not None:
            by_kind[f.kind.value] = by_kind.get(f.kind.value, Decimal(0)) + f.amount
    console.print(
        table(
            "Findings",
            ["kind", "findings", "amount at risk"],
            [[k, n, by_kind.get(k, "")] for k, n in sorted(counts.items())] or [["(none)", 0, ""]],
        )
    )
    console.print(table("Charges through the consent gate", ["verdict", "charges"], [[k, n] for k, n in sorted(verdicts.items())]))
    console.print(table("Providers, most suspicious first", ["rank", "evidence"], [[r["rank"], merchant_evidence(r)] for r in run.merchants.head(10).iter_rows(named=True)]))
    if held:
        console.print(f"suspended (their charges refused): {', '.join(sorted(held))}", highlight=False)
    if advice:
        console.print(f"suspension advised: {', '.join(advice)} (`fairtel merchants suspend PROVIDER --reason TEXT`)",
                      highlight=False)
    if withheld:
        console.print(f"no suspension advised for {withheld_words(withheld)}", highlight=False, soft_wrap=True)
    posted = len(refunds.posted) if refunds is not None else 0
    console.print(f"{written} finding(s) written to the lake, {sent} notification(s) to the outbox, {posted} refund(s) posted")
    if refunds is not None:
        console.print(
            f"refunds: {refunds.already_refunded} already refunded, {refunds.not_billed} closed as never billed (refused by the consent "
            f"gate), {refunds.closed_before} closed earlier by an analyst, {refunds.pending} left pending"
            + (f", {len(refunds.taken_back)} taken back in part (a rerate lowered the usage past a cap)" if refunds.taken_back else "")
            + (f"; {refunds.told_late} refund SMS of an earlier run queued (that run stopped before queueing them)"
               if refunds.told_late else "")
        )
