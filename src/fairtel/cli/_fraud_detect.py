"""`fairtel fraud detect | cases | decide`: rule detectors over the home's usage lake and the case queue.

Cases live under ``<home>/fraud`` (``fairtel.fraud.CaseFiles``) and are mirrored into the database's
``fraud_cases`` table, so the API sees what the command line decided. A decision is taken in the database
first, by the command line and the API alike: the row still open is the one decided (``status = 'open'`` in the
same statement), so a case is never decided twice, and the row a decision wrote is never written over by a
rerun. The command line copies the decisions the database holds and its case files do not (those taken through
the API) into the files, where its queue, ``fraud cases`` and the training labels read them.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import polars as pl
import typer
from rich.table import Table

from fairtel.cli._context import app_for
from fairtel.cli._ui import console, err_console, fail, print_json, reporter, table
from fairtel.core.errors import ConfigError, FairtelError, InvalidInputError, NotFoundError
from fairtel.core.ids import purpose_key
from fairtel.core.time import Period, utc_now, zone
from fairtel.fraud import (
    CASE_ID_PURPOSE,
    RULE_DETECTORS,
    CallbackNotice,
    CaseFiles,
    CaseQueue,
    CaseStatus,
    Decision,
    Detector,
    FeatureConfig,
    FraudCase,
    InvalidTransitionError,
    Suspension,
    Thresholds,
    compute_features,
    decision_id,
    detect,
    notice_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Collection

    from sqlalchemy.engine import Connection

    from fairtel.assurance import Finding
    from fairtel.assurance._notify import WangiriTarget
    from fairtel.bootstrap import App
    from fairtel.catalog import Catalog

ROWS_PER_CHUNK = 8_000_000  # usage rows per feature pass: about 1.5 GB of working memory
DECIDER_ROLE = "fraud_analyst"  # the role the access audit names for a decision taken on the command line


def fraud_dir(app: App) -> Path:
    return app.settings.home / "fraud"


# ---- inputs -------------------------------------------------------------------------------------------
def _catalog(app: App, explicit: Path | None, operator_dir: Path | None) -> Catalog:
    """``--catalog``, else the operator directory's ``catalog.toml``, else the home's (``home_catalog``)."""
    from fairtel.cli._home import home_catalog

    if explicit is None and operator_dir is not None and (operator_dir / "catalog.toml").is_file():
        explicit = operator_dir / "catalog.toml"
    notes: list[str] = []
    catalog = home_catalog(app, explicit, notes)
    for note in notes:
        err_console.print(note)
    return catalog


def _subscribers(app: App) -> pl.DataFrame:
    from fairtel.cli._home import home_subscribers

    return home_subscribers(app, ("msisdn", "activated_at", "holder_since"))


def _thresholds(app: App, path: Path | None) -> Thresholds:
    candidate = path or fraud_dir(app) / "thresholds.toml"
    if path is None and not candidate.is_file():
        return Thresholds()
    if not candidate.is_file():
        raise NotFoundError(f"no thresholds file at {candidate}")
    try:
        data = tomllib.loads(candidate.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{candidate}: {exc}") from None
    return Thresholds.from_mapping(data)


def _exempt(values: list[str]) -> set[str]:
    """Numbers given on the command line or listed in files (one a line; ``#`` starts a comment, on its own line
    or after the number), written as the lake writes them (no ``+``)."""
    out: set[str] = set()
    for v in values:
        p = Path(v)
        lines = p.read_text(encoding="utf-8").splitlines() if p.is_file() else [v]
        for line in lines:
            number = line.split("#", 1)[0].strip().lstrip("+")
            if number:
                out.add(number)
    return out


# ---- database mirror ----------------------------------------------------------------------------------
def _case_values(c: FraudCase) -> dict[str, Any]:
    """A case's ``fraud_cases`` row (but its id), with its status and who decided it."""
    return {
        "detector": c.detector.value, "msisdn": c.subject, "score": c.score, "status": c.status.value,
        "evidence": {**c.to_dict(with_history=False), "history": [d.to_dict() for d in c.history]},
        "opened_at": c.opened_at,
        "decided_by": None if c.decided is None else c.decided.by,
        "decided_at": None if c.decided is None else c.decided.at,
    }


def _cases_table_of() -> Any:
    from sqlalchemy import Table

    from fairtel.store import FraudCase as CaseRow

    t = CaseRow.__table__
    assert isinstance(t, Table)
    return t


def sync_db(app: App, cases: list[FraudCase], files: CaseFiles | None = None) -> int:
    """Upsert cases into ``fraud_cases`` (status and who decided it included); returns the rows written.

    Only a row still open is written over: a row decided in the database (through the API, or by a command
    whose copy in the case files this queue does not hold yet) is left exactly as it was decided, and its
    decision is copied into the case files (``import_decisions``), never the other way round."""
    if not cases:
        return 0
    from sqlalchemy import select

    t = _cases_table_of()
    written = 0
    with app.db.begin() as conn:
        existing: set[str] = set()
        ids = [c.case_id for c in cases]
        for i in range(0, len(ids), 500):
            existing.update(conn.scalars(select(t.c.case_id).where(t.c.case_id.in_(ids[i : i + 500]))))
        new = [{"case_id": c.case_id, **_case_values(c)} for c in cases if c.case_id not in existing]
        if new:
            conn.execute(t.insert(), new)
            written += len(new)
        for c in cases:
            if c.case_id in existing:
                done = conn.execute(t.update().where(t.c.case_id == c.case_id, t.c.status == CaseStatus.OPEN.value)
                                    .values(**_case_values(c)))
                written += done.rowcount or 0
    queue = CaseQueue(cases, (d for c in cases for d in c.history))
    import_decisions(app, files or CaseFiles(fraud_dir(app)), queue, ids=ids)
    return written


def _decision_of(row: Any) -> Decision:
    """The decision a decided ``fraud_cases`` row holds: the last of its history that gave its status, as it was
    recorded (its id, note and suspension); from the row's columns for a row decided without one."""
    history = (row.evidence or {}).get("history") if isinstance(row.evidence, dict) else None
    for d in reversed(history or []):
        try:
            decision = Decision.from_dict(d)
        except (KeyError, ValueError, TypeError):
            continue
        if decision.case_id == row.case_id and decision.outcome.value == row.status:
            return decision
    by = row.decided_by or "unknown"
    at = row.decided_at or row.opened_at
    return Decision(decision_id(row.case_id, row.status, by, at), row.case_id, CaseStatus(row.status), by, at)


def import_decisions(app: App, files: CaseFiles, queue: CaseQueue, *, ids: Collection[str] | None = None) -> int:
    """Copy into the case files (and ``queue``) the decisions ``fraud_cases`` holds on cases the queue holds
    open: decisions taken through the API. Returns how many were copied. A decision is copied once (a copy made
    twice, by two commands at once, is read once); a case the files hold decided otherwise is left as the files
    say, and the disagreement is reported."""
    from sqlalchemy import select

    if not len(queue):
        return 0
    t = _cases_table_of()
    q = select(t.c.case_id, t.c.status, t.c.decided_by, t.c.decided_at, t.c.opened_at, t.c.evidence).where(
        t.c.status != CaseStatus.OPEN.value)
    wanted = sorted(ids) if ids is not None else None
    with app.db.connect() as conn:
        if wanted is None:
            rows = list(conn.execute(q.order_by(t.c.decided_at, t.c.case_id)))
        else:
            rows = [r for i in range(0, len(wanted), 500) for r in conn.execute(q.where(t.c.case_id.in_(wanted[i : i + 500])))]
    copied = 0
    for row in rows:
        if row.case_id not in queue:
            continue
        decision = _decision_of(row)
        held = queue.get(row.case_id).decided
        if held is not None:
            if held.decision_id != decision.decision_id:
                err_console.print(f"{row.case_id}: the database says {row.status} by {decision.by}, the case files "
                                  f"{held.outcome.value} by {held.by}; the files' decision stands", highlight=False)
            continue
        try:
            suspension = queue.adopt(decision)
        except FairtelError as exc:
            err_console.print(f"{row.case_id}: the database's decision could not be copied into the case files: {exc}",
                              highlight=False)
            continue
        files.record(decision, suspension)
        copied += 1
    return copied


def load_queue(app: App) -> tuple[CaseFiles, CaseQueue]:
    """The home's case files and their queue, with the decisions taken through the API copied in."""
    files = CaseFiles(fraud_dir(app))
    queue = files.load()
    import_decisions(app, files, queue)
    return files, queue


def _claim(conn: Connection, decided: FraudCase) -> None:
    """Write the decision of ``decided`` to its ``fraud_cases`` row if that row is still open (in one
    statement: a decision taken meanwhile through the API is not written over); a case without a row gets one."""
    from sqlalchemy import select

    t = _cases_table_of()
    row = conn.execute(select(t.c.status, t.c.decided_by, t.c.decided_at).where(t.c.case_id == decided.case_id)).first()
    if row is None:
        conn.execute(t.insert().values(case_id=decided.case_id, **_case_values(decided)))
        return
    done = conn.execute(t.update().where(t.c.case_id == decided.case_id, t.c.status == CaseStatus.OPEN.value)
                        .values(**_case_values(decided)))
    if done.rowcount != 1:
        at = row.decided_at.isoformat() if row.decided_at is not None else "?"
        raise InvalidTransitionError(f"{decided.case_id} was already decided {row.status} by {row.decided_by} at {at}",
                                     details={"status": row.status, "decided_by": row.decided_by, "decided_at": at})


def record_decision(app: App, files: CaseFiles, decided: FraudCase, decision: Decision, suspension: Suspension | None,
                    pseudonym: Callable[[str], str]) -> str | None:
    """Take ``decision`` (made by ``queue.decide``) in the database, audited as the API audits a decision
    (``fraud_case.decide``, the subject's pseudonym, what was decided and why), the line suspended in the same
    transaction when asked; then append it to the case files. Returns what became of the line, if asked."""
    from fairtel.store import AuditAs, record_access, suspend_line

    with app.db.begin() as conn:
        _claim(conn, decided)
        record_access(conn, actor=decision.by, role=DECIDER_ROLE, action="fraud_case.decide", resource=f"fraud_case/{decided.case_id}",
                      subject_msisdn_pseudonym=pseudonym(decided.subject), reason=decision.summary(), at=decision.at)
        line = None
        if suspension is not None:
            who = AuditAs(decision.by, DECIDER_ROLE, pseudonym, reason=f"fraud case {suspension.case_id}")
            line = suspend_line(conn, suspension.msisdn, at=suspension.requested_at, audit=who,
                                reason=suspension.audit_reason(decision.note))
    files.record(decision, suspension)
    return line


def decider_name(by: str) -> str:
    """``--by``, refused when it holds a phone number (as a login's name is): the name is recorded in the access
    audit and shown beside what was decided (a fraud case's ``decided_by``, a release or write-off of held usage),
    where a number must never be. Worded for every command that takes it, not one."""
    from fairtel.core.errors import Problem
    from fairtel.privacy import has_number

    name = by.strip()
    problem = None
    if not name:
        problem = "who decided must be named"
    elif has_number(name):
        problem = ("must not hold a phone number (7 or more digits together): the name is recorded in the access audit "
                   "and shown beside what was decided")
    elif len(name) > 64:
        problem = "at most 64 characters"
    if problem is not None:
        raise InvalidInputError([Problem("--by", None, "by", problem)], what="--by")
    return name


def msisdn_pseudonyms(app: App) -> Callable[[str], str]:
    """The keyed pseudonym of a number, as the API and the audit write it."""
    from fairtel.privacy import Pseudonymizer

    return Pseudonymizer(app.settings.secret_key.get_secret_value(), domain="msisdn")


def hide_numbers(text: str | None, pseudonym: Callable[[str], str], home_country: str | None = None) -> str | None:
    """A note with every number in it, however written, kept as its keyed pseudonym (as the API keeps numbers out
    of the audit): the note reaches the audit, the case files and the analysts reading the case. Numbers written
    as dialled at home are read by the numbering plan of the operator's ``home_country`` (``Settings.home_country``;
    ``None``: mainland China's), so that a subscriber's number is kept as the pseudonym the audit files them under."""
    from fairtel.privacy import pseudonymise_numbers

    return None if text is None else pseudonymise_numbers(text, pseudonym, home_country=home_country)


# ---- output -------------------------------------------------------------------------------------------
def audit_cases(ctx: typer.Context, app: App, cases: list[FraudCase], *, listed: int, as_json: bool,
                action: str = "fraud_case.list") -> None:
    """Record in the access audit the numbers the output shows in clear: the subjects of the ``listed`` cases
    a table shows, or every case and the numbers each names (a Wangiri case's callers back) in JSON."""
    from fairtel.cli._audit import audit_shown, plural

    shown = cases if as_json else cases[:listed]
    subjects = [n for c in shown for n in (c.subject, *(c.related if as_json else ()))]
    audit_shown(ctx, app, action=action, subjects=subjects, what=plural(len(shown), "fraud case"))


def _cases_table(title: str, cases: list[FraudCase], limit: int, *, decided: bool) -> Table:
    """The full case id (what `decide` takes) never wraps; the codes of the conditions that held fold."""
    t = Table(title=title)
    t.add_column("case", no_wrap=True, min_width=30)
    t.add_column("detector")
    t.add_column("subject", no_wrap=True)
    t.add_column("score")
    if decided:
        t.add_column("period")
        t.add_column("status")
    else:
        t.add_column("why", overflow="fold")
    for c in cases[:limit]:
        last = [c.period, c.status.value] if decided else [" ".join(r.code for r in c.reasons)]
        t.add_row(c.case_id, c.detector.value, c.subject, f"{c.score:.2f}", *last)
    return t


def _at_stake(case: FraudCase, language: str) -> str | None:
    """An IRSF case's money at stake and time window, in words: what rating charged for its premium calls and when
    they were made (local times, with their offset)."""
    ev = case.evidence
    if case.detector is not Detector.IRSF or not ev.get("premium_first_at") or "charged" not in ev:
        return None
    first, last = ev.get("premium_first_at"), ev.get("premium_last_at") or ev.get("premium_first_at")
    calls = len(ev.get("premium_records") or ()) or ev.get("premium_calls")
    charged, cur, unrated = ev.get("charged"), ev.get("currency"), ev.get("not_rated") or 0
    if language == "zh":
        money = f"已计费 {charged} {cur}" if charged is not None else "尚未计费"
        extra = f"（另有 {unrated} 次尚未计费）" if unrated and charged is not None else ""
        since = f"；自 {ev['counted_from']} 起计" if ev.get("counted_from") else ""
        return f"涉案金额：{calls} 次高资费通话{money}{extra}，{first} 至 {last}{since}"
    money = f"{charged} {cur} charged" if charged is not None else "not rated yet"
    extra = f" ({unrated} more not rated yet)" if unrated and charged is not None else ""
    since = f"; counted from {ev['counted_from']}" if ev.get("counted_from") else ""
    return f"at stake: {calls} premium call(s), {money}{extra}, from {first} to {last}{since}"


_VICTIM_KINDS = {"one_ring_roaming_charge": ("ring(s) charged while roaming", "次漫游期间被收费的来电"),
                 # rings charged to a line's previous customer (before an owner change): not its current customer's
                 "one_ring_roaming_charge:before_holding": ("ring(s) charged to a line's previous customer, before "
                                                            "an owner change", "次过户前原机主漫游期间被收费的来电"),
                 "premium_callback": ("call(s) back charged", "次被收费的回拨")}


def wangiri_refund_findings(app: App, cases: list[FraudCase]) -> dict[str, dict[tuple[str, str], tuple[int, int]]]:
    """The victims' refund findings ``fraud detect`` raised for each Wangiri case of ``cases`` (the ``findings`` lake,
    part ``fraud``): case id → (kind, currency) → (how many, their amount in minor units)."""
    import json

    from fairtel.cli._wangiri import FINDINGS_PART

    wanted = {c.case_id for c in cases if c.detector is Detector.WANGIRI}
    if not wanted:
        return {}
    periods = sorted({c.period for c in cases if c.case_id in wanted})
    parts = [p for p in app.lake.files("findings", periods=periods) if p.stem == FINDINGS_PART]
    out: dict[str, dict[tuple[str, str], tuple[int, int]]] = {}
    seen: set[str] = set()
    for part in parts:
        frame = pl.read_parquet(part, columns=["finding_id", "kind", "amount_minor", "currency", "evidence"])
        for r in frame.filter(pl.col("kind").is_in(list(_VICTIM_KINDS))).iter_rows(named=True):
            evidence = json.loads(r["evidence"] or "{}")
            case_id = evidence.get("case_id")
            if case_id not in wanted or r["finding_id"] in seen:
                continue
            seen.add(r["finding_id"])
            # a previous customer's (before an owner change) counted apart: not the line's current customer's refund
            kind = f"{r['kind']}:before_holding" if evidence.get("before_holding") is True else r["kind"]
            held = out.setdefault(case_id, {}).get((kind, r["currency"]), (0, 0))
            out[case_id][(kind, r["currency"])] = (held[0] + 1, held[1] + int(r["amount_minor"] or 0))
    return out


def _victim_refunds(found: dict[tuple[str, str], tuple[int, int]] | None, language: str) -> str | None:
    """A Wangiri case's victims' refund findings, in words: the rings charged while roaming and the calls back."""
    if not found:
        return None
    said = []
    for (kind, currency), (n, minor) in sorted(found.items()):
        en, zh = _VICTIM_KINDS[kind]
        money, code = _money_text(minor, currency), kind.partition(":")[0]
        said.append(f"{n} {zh}（{money} {currency}，{code}）" if language == "zh" else f"{n} {en} ({money} {currency}, {code})")
    return ("待退款核查：" + "；".join(said)) if language == "zh" else "refund findings: " + "; ".join(said)


def _periods(app: App, asked: list[str] | None) -> list[str]:
    if asked:
        return [Period.parse(p, app.settings.timezone).key for p in asked]
    return app.lake.periods("usage")


def case_key(app: App) -> bytes:
    """The key of this home's fraud case ids: only who holds the operator's secret can recompute a case's id from
    a number (analysts see ids beside pseudonyms)."""
    return purpose_key(app.settings.secret_key.get_secret_value(), CASE_ID_PURPOSE)


def _zone_name(catalog: Catalog, zone_id: str) -> dict[str, str] | None:
    z = next((z for z in catalog.zones if z.id == zone_id), None)
    return None if z is None else {"en": z.name.en, "zh": z.name.zh}


def _rated_records(app: App, period: str, record_ids: list[str]) -> pl.DataFrame:
    """The rated lines of ``record_ids`` in ``period`` (none when the period is not rated yet)."""
    parts = app.lake.files("rated", periods=[period]) if record_ids else []
    cols = ["msisdn", "source", "record_id", "amount_minor", "currency", "subscription_id", "rule_id", "roaming_zone"]
    if not parts:
        return pl.DataFrame(schema=dict.fromkeys(cols, pl.String)).with_columns(pl.col("amount_minor").cast(pl.Int64))
    scan = pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore")
    have = set(scan.collect_schema().names())  # rated lines written before a column existed read it as null
    return scan.select(pl.col(c) if c in have else pl.lit(None, dtype=pl.String).alias(c) for c in cols).filter(
        pl.col("record_id").is_in(record_ids)).collect()


def _irsf_tail(app: App, key: str, lookback_days: float) -> tuple[pl.LazyFrame, str, Any] | None:
    """The previous period's usage of the last ``lookback_days`` before ``key`` starts (an IRSF burst across the turn of
    a month is counted whole), with that period's key and the instant the window starts; None without it."""
    from datetime import UTC, timedelta

    if lookback_days <= 0:
        return None
    per = Period.parse(key, app.settings.timezone)
    prev = per.previous()
    parts = app.lake.files("usage", periods=[prev.key])
    if not parts:
        return None
    since = per.start - timedelta(days=lookback_days)
    at = pl.col("started_at").dt.convert_time_zone("UTC")
    lf = pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore").filter(at >= since.astimezone(UTC))
    return lf, prev.key, since


def _irsf_across(app: App, queue: CaseQueue, key: str, usage: pl.LazyFrame, found: list[FraudCase], *, catalog: Catalog,
                 config: FeatureConfig, thresholds: Thresholds, subscribers: pl.DataFrame, exempt: set[str], now: Any,
                 zone_name: dict[str, str] | None) -> tuple[list[FraudCase], pl.LazyFrame]:
    """IRSF over a rolling window: the lines with premium calls both in ``key`` and in the previous period's last
    ``IrsfThresholds.lookback_days`` are judged on both together (a burst split by the turn of a month opens its case,
    in the period of its latest calls); a line whose previous period holds an IRSF case already is judged on ``key``
    alone, so the same calls never open two cases. Returns the period's cases with those lines' IRSF cases replaced,
    and the usage IRSF evidence is read from (``key``'s, with the tail)."""
    from fairtel.fraud import detect_irsf, premium_calls

    tail = _irsf_tail(app, key, thresholds.irsf.lookback_days) if Detector.IRSF in thresholds.enabled else None
    if tail is None:
        return found, usage
    tail_usage, prev_key, since = tail
    before = set(premium_calls(tail_usage, catalog=catalog, config=config)["msisdn"].to_list())
    before = {m for m in before if queue.known_id(Detector.IRSF, m, prev_key) is None}
    if not before:
        return found, usage
    now_lines = set(premium_calls(usage, catalog=catalog, config=config, msisdns=before)["msisdn"].to_list())
    lines = sorted(before & now_lines)
    if not lines:
        return found, usage
    both = pl.concat([tail_usage.filter(pl.col("msisdn").is_in(lines)), usage.filter(pl.col("msisdn").is_in(lines))],
                     how="diagonal_relaxed")
    features = compute_features(both, catalog=catalog, subscribers=subscribers, config=config, chunks=1)
    window = detect_irsf(features.lines, thresholds.irsf, period=key, now=now, exempt=exempt, id_key=case_key(app),
                         premium_zone=config.premium_zone, zone_name=zone_name, tz=config.tz)
    since_local = since.astimezone(zone(config.tz)).isoformat()
    window = [replace(c, evidence={**c.evidence, "counted_from": since_local}) for c in window]
    kept = [c for c in found if not (c.detector is Detector.IRSF and c.subject in lines)]
    return kept + window, pl.concat([tail_usage.filter(pl.col("msisdn").is_in(lines)), usage], how="diagonal_relaxed")


def _money_text(minor: int, currency: str) -> str:
    from fairtel.core.money import Money

    return str(Money.from_minor(minor, currency).amount)


def _irsf_evidence(app: App, cases: list[FraudCase], usage: pl.LazyFrame, *, catalog: Catalog,
                   config: FeatureConfig, subscribers: pl.DataFrame | None = None) -> list[FraudCase]:
    """IRSF cases with the calls they are about (``premium_records``: source, record id, local start) and the money at
    stake: what rating charged for them (``charged``, ``currency``; ``not_rated``: calls not rated yet). With
    ``subscribers``, only the calls of the line's current holding (a previous customer's are not the case's)."""
    from fairtel.fraud import premium_calls

    irsf = [c for c in cases if c.detector is Detector.IRSF]
    if not irsf:
        return cases
    calls = premium_calls(usage, catalog=catalog, config=config, msisdns={c.subject for c in irsf}, subscribers=subscribers)
    tz = zone(config.tz)
    ids = calls["record_id"].to_list()
    periods = sorted({Period.containing(t, config.tz).key for t in calls["started_at"].to_list()})
    rated = pl.concat([_rated_records(app, p, ids) for p in periods], how="vertical_relaxed") if periods else None
    charged: dict[tuple[str, str, str], tuple[int, str]] = {}
    if rated is not None and not rated.is_empty():
        for r in (rated.with_columns(pl.col("source").fill_null("")).group_by("msisdn", "source", "record_id")
                  .agg(pl.col("amount_minor").sum(), pl.col("currency").first()).iter_rows(named=True)):
            charged[(r["msisdn"], r["source"], r["record_id"])] = (int(r["amount_minor"] or 0), r["currency"])
    out: list[FraudCase] = []
    for c in cases:
        if c.detector is not Detector.IRSF:
            out.append(c)
            continue
        mine = calls.filter(pl.col("msisdn") == c.subject)
        records, total, currency, not_rated = [], 0, None, 0
        for r in mine.iter_rows(named=True):
            records.append({"source": r["source"], "record_id": r["record_id"],
                            "started_at": r["started_at"].astimezone(tz).isoformat()})
            hit = charged.get((c.subject, r["source"] or "", r["record_id"]))
            if hit is None:
                not_rated += 1
            else:
                total += hit[0]
                currency = currency or hit[1]
        ev = {**c.evidence, "premium_records": records, "not_rated": not_rated,
              "charged": None if currency is None else _money_text(total, currency), "currency": currency}
        out.append(replace(c, evidence=ev))
    return out


def _irsf_kind() -> Any:
    """The findings' ``irsf_fraud`` kind; None in a build whose charge assurance does not have it."""
    from fairtel.assurance import FindingKind

    try:
        return FindingKind("irsf_fraud")
    except ValueError:
        return None


def victim_cases(queue: CaseQueue) -> list[tuple[FraudCase, Decision]]:
    """The confirmed cases whose line was suspended as its subscriber's (IRSF), with that decision."""
    out = []
    for c in queue.cases(status=CaseStatus.CONFIRMED, detector=Detector.IRSF):
        d = c.decided
        if d is not None and d.suspend:
            out.append((c, d))
    return out


def irsf_fraud_findings(app: App, case: FraudCase, *, before: Any, detected_at: Any) -> list[Finding]:
    """The refund finding (``irsf_fraud``) of a confirmed IRSF case whose line was suspended as its subscriber's: the
    case's premium calls made before the suspension (``before``), at what rating charged them. One finding for the
    case (its records, their sum), raised once (its id derives from the line and the case). Usage after the
    suspension is held off the bill by rating already. None when nothing was charged yet, or when this build's
    findings have no ``irsf_fraud`` kind."""
    from fairtel.assurance._finding import Finding as FindingRow
    from fairtel.assurance._finding import minor_to_decimal
    from fairtel.cli._assure import finding_ids
    from fairtel.core.time import parse_rfc3339

    kind = _irsf_kind()
    if kind is None:
        return []
    records = [r for r in case.evidence.get("premium_records") or () if parse_rfc3339(str(r["started_at"])) < before]
    if not records:
        return []
    ids = [str(r["record_id"]) for r in records]
    periods = sorted({Period.containing(parse_rfc3339(str(r["started_at"])), app.settings.timezone).key for r in records})
    rated = pl.concat([_rated_records(app, p, ids) for p in periods], how="vertical_relaxed")
    rated = rated.filter(pl.col("msisdn") == case.subject)
    wanted = {(str(r.get("source") or ""), str(r["record_id"])) for r in records}
    rows = [r for r in rated.with_columns(pl.col("source").fill_null("")).iter_rows(named=True)
            if (r["source"], r["record_id"]) in wanted]
    total = sum(int(r["amount_minor"] or 0) for r in rows)
    if not rows or total <= 0:
        return []
    currency = rows[0]["currency"]
    charged_ids = tuple(sorted({r["record_id"] for r in rows}))
    last = max(parse_rfc3339(str(r["started_at"])) for r in records)
    return [FindingRow(
        finding_id=finding_ids(app).of(kind, ("msisdn", "case_id"), [case.subject, case.case_id]),
        kind=kind,
        msisdn=case.subject,
        record_ids=charged_ids,
        subscription_id=rows[0]["subscription_id"],
        amount=minor_to_decimal(total, currency),
        currency=currency,
        detected_at=detected_at,
        evidence={
            "case_id": case.case_id, "detector": case.detector.value, "victim": True,
            "sources": sorted({r["source"] for r in rows}), "calls": len(charged_ids),
            "first_at": case.evidence.get("premium_first_at"), "last_at": case.evidence.get("premium_last_at"),
            "suspended_at": before.isoformat(), "period": Period.containing(last, app.settings.timezone).key,
        },
    )]


def _write_callback_findings(app: App, findings: list[Finding]) -> int:
    """The victims' findings (premium callbacks, rings charged while roaming, IRSF fraud) into the ``findings`` lake dataset (part ``fraud``, merged with what it
    held: the first written stands, as the work queue keeps it), then queued as ``fairtel assure`` queues its own.
    Returns how many the lake did not hold yet."""
    from fairtel.assurance import findings_frame
    from fairtel.cli._assure_refunds import queue_findings
    from fairtel.cli._wangiri import FINDINGS_PART

    added = 0
    by_period: dict[str, list[Finding]] = {}
    for f in findings:
        by_period.setdefault(str(f.evidence["period"]), []).append(f)
    for period, group in sorted(by_period.items()):
        path = app.lake.part_path("findings", period, FINDINGS_PART)
        held = pl.read_parquet(path) if path.is_file() else None
        known = set() if held is None else set(held["finding_id"].to_list())
        fresh = findings_frame(f for f in group if f.finding_id not in known)
        if fresh.is_empty():
            continue
        frame = fresh if held is None else pl.concat([held.select(fresh.columns), fresh], how="vertical_relaxed")
        app.lake.write("findings", period, frame.to_arrow(), part=FINDINGS_PART)
        added += fresh.height
    if added:
        queue_findings(app)
    return added


def _warn_victims(app: App, catalog: Catalog, targets: list[WangiriTarget]) -> dict[str, int]:
    """The Wangiri SMS to the outbox, each in its subscriber's language, signed with the operator's name; returns
    how many of each kind were new (``wangiri_warning``: do not call back; ``wangiri_callback``: the call back is
    reviewed), a rerun sending nothing twice."""
    from fairtel.assurance import FileOutbox
    from fairtel.assurance._notify import wangiri_messages
    from fairtel.cli._assure import _register_languages

    if not targets:
        return {}
    languages = _register_languages(app, None, sorted({t.msisdn for t in targets}))
    sender = {"zh": catalog.operator.name.zh, "en": catalog.operator.name.en}
    messages = wangiri_messages(targets, languages=languages, sender=sender, now=utc_now(), tz=app.settings.timezone,
                                id_key=case_key(app))
    outbox = FileOutbox(app.settings.outbox_dir)
    kinds = sorted({m.kind for m in messages})
    return {k: outbox.send([m for m in messages if m.kind == k]) for k in kinds}


def run_detect(
    app: App,
    *,
    periods: list[str],
    catalog: Catalog,
    thresholds: Thresholds,
    exempt: set[str],
    chunks: int | None = None,
    quiet: bool = False,
) -> tuple[CaseQueue, dict[str, Any], list[CallbackNotice]]:
    """Detectors over each period of the home's usage lake; the queue is saved, notices merged. The subscribers a
    Wangiri number rang are warned through the outbox, its callers back charged become ``premium_callback``
    findings, and its rings charged to subscribers who received them while roaming ``one_ring_roaming_charge``
    findings (``fairtel.cli._wangiri``)."""
    from fairtel.cli._assure import finding_ids
    from fairtel.cli._wangiri import (
        one_ring_calls,
        one_ring_charge_findings,
        premium_callback_findings,
        previous_holder_rings,
        rung_lines,
        wangiri_targets,
    )
    from fairtel.fraud import device_pairs

    files, queue = load_queue(app)
    subscribers = _subscribers(app)
    config = FeatureConfig(tz=app.settings.timezone)
    summary: dict[str, Any] = {"periods": {}, "merge": {"added": 0, "refreshed": 0, "kept": 0}}
    notices: list[CallbackNotice] = []
    targets: list[WangiriTarget] = []
    callback_findings: list[Finding] = []
    ring_findings: list[Finding] = []
    not_warned = 0  # lines a Wangiri number rang before they changed hands: their previous customer is not reachable
    ids = finding_ids(app)
    premium_zone = config.premium_zone
    zone_name = _zone_name(catalog, premium_zone)
    now = utc_now()
    with reporter(quiet=quiet) as rep:
        for key in periods:
            parts = app.lake.files("usage", periods=[key])
            if not parts:
                summary["periods"][key] = {"records": 0, "cases": {}}
                continue
            usage = pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore")
            records = int(usage.select(pl.len()).collect().item())
            n = chunks or max(1, math.ceil(records / ROWS_PER_CHUNK))
            rep.note(f"{key}: {records:,} usage records, {n} chunk(s)")
            features = compute_features(usage, catalog=catalog, subscribers=subscribers, config=config, chunks=n)
            found = detect(features, thresholds, period=key, now=now, tz=app.settings.timezone, exempt=exempt,
                           id_key=case_key(app), devices=device_pairs(usage, subscribers=subscribers),
                           zone_name=zone_name)
            across, irsf_usage = _irsf_across(app, queue, key, usage, list(found.cases), catalog=catalog, config=config,
                                              thresholds=thresholds, subscribers=subscribers, exempt=exempt, now=now,
                                              zone_name=zone_name)
            found = replace(found, cases=tuple(_irsf_evidence(app, across, irsf_usage, catalog=catalog, config=config,
                                                         subscribers=subscribers)))
            cases = [queue.held(c) for c in found.cases]
            moved = {f.case_id: c.case_id for f, c in zip(found.cases, cases, strict=True) if f.case_id != c.case_id}
            merged = queue.merge(cases)
            for k, v in merged.to_dict().items():
                summary["merge"][k] += v
            these = [replace(n, case_id=moved[n.case_id], notice_id=notice_id(moved[n.case_id], n.record_id))
                     if n.case_id in moved else n for n in found.notices]
            notices.extend(these)
            wangiri = [c for c in found.cases if c.detector is Detector.WANGIRI]
            backs = premium_callback_findings(these, _rated_records(app, key, [n.record_id for n in these if n.premium]),
                                              detected_at=now, ids=ids, tz=app.settings.timezone, catalog=catalog,
                                              premium_zone=premium_zone)
            callback_findings += backs
            # the rings a subscriber was charged for receiving while roaming: a refund finding each, under the case's
            # id as the queue holds it; none for a case decided a false alarm
            rings = one_ring_calls(usage, [c.subject for c in wangiri], one_ring_max_s=config.one_ring_max_s)
            scams = [queue.get(c.case_id) for c in cases if c.detector is Detector.WANGIRI]
            scams = [c for c in scams if c.status is not CaseStatus.FALSE_ALARM]
            charged_rings = one_ring_charge_findings(scams, rings, _rated_records(app, key, rings["record_id"].to_list()),
                                                     detected_at=now, ids=ids, tz=app.settings.timezone, catalog=catalog,
                                                     subscribers=subscribers)
            ring_findings += charged_rings
            scam_numbers = [c.subject for c in wangiri]
            targets += wangiri_targets(wangiri, rung_lines(usage, scam_numbers, subscribers=subscribers), these,
                                       premium_zone=premium_zone, findings=[*backs, *charged_rings], rings=rings,
                                       subscribers=subscribers)
            not_warned += previous_holder_rings(usage, scam_numbers, subscribers=subscribers).height
            summary["periods"][key] = {"records": records, "lines": features.lines.height, "cases": found.counts(),
                                       "callback_notices": len(found.notices)}
            rep.step("periods", total=len(periods))
    files.save_cases(queue)
    # a victim's line decided before its fraudulent calls were rated: their refund finding, once they are
    victims = [f for c, d in victim_cases(queue) for f in irsf_fraud_findings(app, c, before=d.at, detected_at=d.at)]
    summary["irsf_fraud_findings"] = _write_callback_findings(app, victims)
    summary["new_notices"] = files.save_notices(notices)
    summary["premium_callback_findings"] = _write_callback_findings(app, callback_findings)
    # the rings a line's previous customer was charged for (before an owner change): kept, counted apart, not the
    # current customer's to be refunded or told
    earlier = _write_callback_findings(app, [f for f in ring_findings if f.before_holding])
    summary["one_ring_roaming_charge_findings"] = earlier + _write_callback_findings(
        app, [f for f in ring_findings if not f.before_holding])
    summary["one_ring_roaming_charge_findings_before_holding"] = earlier
    sent = _warn_victims(app, catalog, targets)
    summary["warnings_sent"] = sum(sent.values())  # every Wangiri SMS, of both kinds
    summary["wangiri_warnings_sent"] = sent.get("wangiri_warning", 0)
    summary["wangiri_callback_messages_sent"] = sent.get("wangiri_callback", 0)
    summary["wangiri_previous_holders_not_warned"] = not_warned
    summary["db_rows"] = sync_db(app, queue.cases(), files)
    return queue, summary, notices


def register(fraud_app: typer.Typer) -> None:
    @fraud_app.command("detect")
    def detect_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        period: Annotated[list[str] | None, typer.Option("--period", help="YYYY-MM (repeatable; default: every period in the lake).")] = None,
        operator_dir: Annotated[Path | None, typer.Option("--operator-dir", help="Load this operator directory into the home first (as `fairtel load`).")] = None,
        catalog_path: Annotated[Path | None, typer.Option("--catalog", help="Catalog with the zones (default: the operator directory's, the stored one, or the default).")] = None,
        thresholds_path: Annotated[Path | None, typer.Option("--thresholds", help="TOML of detector thresholds (default <home>/fraud/thresholds.toml if present).")] = None,
        exempt: Annotated[list[str] | None, typer.Option("--exempt", help="A number, or a file of numbers, that never opens a case (repeatable).")] = None,
        chunks: Annotated[int | None, typer.Option("--chunks", min=1, help="Feature passes per period (default: one per 8 M records).")] = None,
        limit: Annotated[int, typer.Option("--limit", help="Cases shown in the table.")] = 20,
        as_json: Annotated[bool, typer.Option("--json", help="Print the summary and the cases found as JSON.")] = False,
    ) -> None:
        """Run the SIM-box, Wangiri, IRSF and scam-caller detectors; open cases, warn Wangiri callbacks."""
        try:
            app = app_for(ctx, home)
            with app:
                load = None
                if operator_dir is not None:
                    from fairtel.cli._load import load_directory

                    if not operator_dir.is_dir():
                        raise NotFoundError(f"operator directory {operator_dir} does not exist")
                    with reporter(quiet=as_json) as rep:
                        load = load_directory(app, operator_dir, report=rep)
                cat = _catalog(app, catalog_path, operator_dir)
                thresholds = _thresholds(app, thresholds_path)
                keys = _periods(app, period)
                if not keys:
                    raise NotFoundError(f"no usage in {app.settings.lake_dir / 'usage'}; run `fairtel load` or `fairtel ingest` first")
                queue, summary, _ = run_detect(app, periods=keys, catalog=cat, thresholds=thresholds,
                                               exempt=_exempt(exempt or []), chunks=chunks, quiet=as_json)
                found = [c for k in keys for c in queue.cases(period=k)]
                audit_cases(ctx, app, found, listed=limit, as_json=as_json)
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if load is not None:
            summary["load_exit_code"] = load.exit_code
        if as_json:
            print_json({**summary, "cases": [c.to_dict() for c in found]})
            return
        rows = [[k, v.get("records", 0), *(v["cases"].get(d.value, 0) for d in RULE_DETECTORS), v.get("callback_notices", 0)]
                for k, v in summary["periods"].items()]
        console.print(table("Fraud detectors", ["period", "records", *(d.value for d in RULE_DETECTORS), "callback notices"], rows))
        if found:
            console.print(_cases_table(f"Cases ({len(found)})", found, limit, decided=True))
        m = summary["merge"]
        console.print(f"{m['added']} new case(s), {m['refreshed']} refreshed, {m['kept']} already decided; "
                      f"{summary['new_notices']} new callback notice(s) in {fraud_dir(app) / 'notices.jsonl'}; "
                      f"{summary['warnings_sent']} Wangiri SMS sent to the outbox "
                      f"({summary['wangiri_warnings_sent']} do-not-call-back warning(s), "
                      f"{summary['wangiri_callback_messages_sent']} to callers back that their call is reviewed), "
                      f"{summary['wangiri_previous_holders_not_warned']} ring(s) of a line's previous customer not "
                      "warned (the line changed hands since), "
                      f"{summary['premium_callback_findings']} new premium callback finding(s), "
                      f"{summary['one_ring_roaming_charge_findings']} new one-ring roaming charge finding(s) "
                      f"({summary['one_ring_roaming_charge_findings_before_holding']} of a line's previous customer, "
                      "before an owner change: neither refunded nor told to its current customer), "
                      f"{summary['irsf_fraud_findings']} new IRSF refund finding(s)")

    @fraud_app.command("cases")
    def cases_cmd(
        ctx: typer.Context,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        status: Annotated[str | None, typer.Option("--status", help="open, confirmed or false_alarm.")] = None,
        detector: Annotated[str | None, typer.Option("--detector", help="simbox, wangiri, irsf, scam or model.")] = None,
        period: Annotated[str | None, typer.Option("--period", help="YYYY-MM.")] = None,
        limit: Annotated[int, typer.Option("--limit", help="Rows shown in the table (JSON lists all).")] = 50,
        explain: Annotated[bool, typer.Option("--explain", help="Each case with its reasons in words instead of a table.")] = False,
        language: Annotated[str, typer.Option("--language", help="Language of the reasons with --explain: en or zh.")] = "en",
        as_json: Annotated[bool, typer.Option("--json", help="Print the cases as JSON.")] = False,
    ) -> None:
        """The fraud case queue, newest period first, highest score first."""
        try:
            from fairtel.core.errors import Problem

            problems = []
            if status is not None and status not in {s.value for s in CaseStatus}:
                problems.append(Problem("--status", None, "status", f"{status!r} is not one of {', '.join(s.value for s in CaseStatus)}"))
            if detector is not None and detector not in {d.value for d in Detector}:
                problems.append(Problem("--detector", None, "detector", f"{detector!r} is not one of {', '.join(d.value for d in Detector)}"))
            if problems:
                raise InvalidInputError(problems, what="fraud cases")
            app = app_for(ctx, home)
            with app:
                _, queue = load_queue(app)
                cases = queue.cases(status=status, detector=detector, period=period)
                audit_cases(ctx, app, cases, listed=limit, as_json=as_json)
                victims = wangiri_refund_findings(app, cases[:limit]) if explain and not as_json else {}
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"cases": [c.to_dict() for c in cases], "count": len(cases)})
            return
        if explain:
            for c in cases[:limit]:
                console.print(f"{c.case_id}  {c.detector.value}  {c.subject}  {c.period}  score {c.score:.2f}  {c.status.value}",
                              highlight=False)
                for r in c.reasons:
                    console.print(f"  - {r.zh if language == 'zh' else r.en}", highlight=False)
                stake = _at_stake(c, language)
                if stake:
                    console.print(f"  {stake}", highlight=False)
                refunds = _victim_refunds(victims.get(c.case_id), language)
                if refunds:
                    console.print(f"  {refunds}", highlight=False)
                if c.decided is not None:
                    d = c.decided
                    console.print(f"  decided {d.outcome.value} by {d.by} at {d.at.isoformat(timespec='seconds')}"
                                  + (f": {d.note}" if d.note else ""), highlight=False)
            return
        console.print(_cases_table(f"Fraud cases ({len(cases)})", cases, limit, decided=True))

    @fraud_app.command("decide")
    def decide_cmd(
        ctx: typer.Context,
        case: Annotated[str, typer.Argument(help="The case id (see `fairtel fraud cases`).")],
        by: Annotated[str, typer.Option("--by", help="Who decides (recorded in the history and the access audit; never a phone number).")],
        confirm: Annotated[bool, typer.Option("--confirm", help="The case is fraud.")] = False,
        false_alarm: Annotated[bool, typer.Option("--false-alarm", help="The case is not fraud.")] = False,
        suspend: Annotated[bool, typer.Option("--suspend", help="With --confirm on a SIM-box, scam or IRSF line: request the line's suspension (an IRSF line is barred as its subscriber's, and the case's calls become a refund finding).")] = False,
        note: Annotated[str | None, typer.Option("--note", help="Why (numbers in it are kept as their pseudonyms).")] = None,
        home: Annotated[Path | None, typer.Option("--home", help="fairtel home (default ./var or FAIRTEL_HOME).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print the decided case as JSON.")] = False,
    ) -> None:
        """Confirm a case or mark it a false alarm; the decision is appended to the case's history and audited."""
        try:
            if confirm == false_alarm:
                raise ConfigError("choose exactly one of --confirm and --false-alarm")
            name = decider_name(by)
            app = app_for(ctx, home)
            with app:
                pseudonym = msisdn_pseudonyms(app)
                files, queue = load_queue(app)
                decision, suspension = queue.decide(
                    case, CaseStatus.CONFIRMED if confirm else CaseStatus.FALSE_ALARM,
                    by=name, at=utc_now(), note=hide_numbers(note, pseudonym, app.settings.home_country), suspend=suspend,
                )
                decided = queue.get(case)
                line = record_decision(app, files, decided, decision, suspension, pseudonym)
                refunds: list[Finding] = []
                written = 0
                if suspension is not None and suspension.victim:
                    # the victim's line: the fraudulent calls made before the bar are not theirs to pay
                    refunds = irsf_fraud_findings(app, decided, before=decision.at, detected_at=decision.at)
                    written = _write_callback_findings(app, refunds)
                # the answer shows the case's number (and in JSON the numbers it names): recorded as shown, beside
                # the decision's own row, with who ran the command and where it went
                from fairtel.cli._audit import audit_shown

                shown = (decided.subject, *decided.related) if as_json else (decided.subject,) if suspension else ()
                audit_shown(ctx, app, action="fraud_case.read", resource=f"fraud_case/{case}", subjects=shown,
                            what=f"fraud case {case}")
        except FairtelError as exc:
            raise fail(exc, as_json=as_json) from None
        if as_json:
            print_json({"case": decided.to_dict(), "suspension": None if suspension is None else suspension.to_dict(),
                        "line": line, "findings": [f.to_dict() for f in refunds], "new_findings": written})
            return
        console.print(f"{case}: {decision.outcome.value} by {decision.by} at {decision.at.isoformat(timespec='seconds')}")
        if suspension is not None:
            said = {"suspended": "the line is now suspended", "already_suspended": "the line was already suspended",
                    "not_registered": "the line is not in the subscriber register: nothing to change there"}
            console.print(f"suspension of {suspension.msisdn} requested ({suspension.action_id}) in {files.suspensions_path}; "
                          + said.get(line or "", f"the line is {line}: left as it is"), highlight=False)
            if suspension.victim:
                console.print("the line is the victim's (stolen or cloned SIM): usage from now on is held off the bill",
                              highlight=False)
                for f in refunds:
                    console.print(f"refund finding {f.finding_id} ({f.kind.value}): {f.amount} {f.currency} for "
                                  f"{len(f.record_ids)} fraudulent call(s) made before the suspension; refund it with "
                                  f"`fairtel assure --refund` or POST /findings/{f.finding_id}/refund", highlight=False)
                if not refunds and _irsf_kind() is None:
                    console.print("no refund finding raised: this build's charge assurance has no irsf_fraud kind",
                                  highlight=False)
                elif not refunds:
                    console.print("no charged fraudulent call before the suspension to refund yet: calls rated later get "
                                  "their refund finding from the next `fairtel fraud detect`", highlight=False)

