"""The consent ledger: import consent events (JSON Lines, idempotent) and read them back.

An event's id is derived from its natural key (subscription, event, instant), so importing the same file
twice, or two files that overlap, records each event once. An event whose key is already recorded with
different content is refused: the ledger is append-only and never rewritten.

Closing a line ends its subscriptions in the ledger (``end_closed_lines``, called by the register's import in its
transaction, and by the events' import for the events of a line closed already): a ``cancelled`` event of each
subscription still running at the closing, dated then, its evidence ``{"reason": "line_closed", "by": "system"}``,
its source ``system:line_closed``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from fairtel.consent import (
    CLOSING_SOURCE,
    DEFAULT_POLICY,
    ConsentPolicy,
    closing_evidence,
    ends_at_closing,
    event_time_problem,
    project_subscriptions,
)
from fairtel.core.contracts import ConsentChannel, ConsentEventKind, SubscriberStatus
from fairtel.core.errors import Problem
from fairtel.core.ids import stable_id
from fairtel.core.time import utc_now
from fairtel.privacy._numbers import msisdn_problem
from fairtel.store._report import ImportReport, chunks, dialect_insert, parse_instant, text_problem
from fairtel.store._schema import ConsentEvent, LineStatusHistory, Subscriber, table_of

_EVENTS = frozenset(e.value for e in ConsentEventKind)
_CHANNELS = frozenset(c.value for c in ConsentChannel)
# Columns compared when a key is seen again: same key, different content is a conflict. The evidence is
# content too: the same event re-sent with other proof of consent is not the event already recorded.
_CONTENT = ("subscription_id", "msisdn", "offer_id", "event", "at", "channel", "evidence")


@dataclass(frozen=True, slots=True)
class ConsentEventRecord:
    event_id: str
    subscription_id: str
    msisdn: str
    offer_id: str
    event: str
    at: datetime
    channel: str
    evidence: Any
    recorded_at: datetime
    source: str


def consent_event_id(subscription_id: str, event: str, at: datetime) -> str:
    return stable_id("cev", subscription_id, event, at.astimezone(UTC).isoformat())


def import_consent_events(
    conn: Connection,
    path: Path | str,
    *,
    source: str | None = None,
    chunk_size: int = 2000,
) -> ImportReport:
    """Append the events of a JSON Lines file to the ledger. Re-importing adds nothing (counted as
    ``duplicate``); a bad line is reported with file, line and field and left out. ``source`` (default:
    the file name) records where each event came from. Runs inside the caller's transaction."""
    path = Path(path)
    source = source or path.name
    report = ImportReport(file=str(path), kind="consent")
    pending: dict[str, tuple[int, dict[str, Any]]] = {}
    now = utc_now()  # one moment of import for every line: no event may be dated (much) after it

    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            report.read += 1
            record, problems = _check_line(str(path), line_no, raw, now=now)
            if record is None:
                report.rejected += 1
                report.problems.extend(problems)
                continue
            seen = pending.get(record["event_id"])
            if seen is not None:
                if _same(seen[1], record):
                    report.duplicate += 1
                else:
                    report.rejected += 1
                    report.problems.append(
                        Problem(str(path), line_no, None, f"conflicts with the event on line {seen[0]} (same subscription, event and time)", "conflict")
                    )
                continue
            pending[record["event_id"]] = (line_no, record)

    for event_id, problem in _conflicting(conn, pending, str(path)):  # another number or offer than its subscription's
        del pending[event_id]
        report.rejected += 1
        report.problems.append(problem)
    recorded_at = utc_now()
    for chunk in chunks(list(pending.values()), chunk_size):
        _append(conn, chunk, str(path), source, recorded_at, report)
    if report.inserted:  # events of a line closed already: its closing ends what they began (a feed sent late)
        closings = closing_instants(conn, {r["msisdn"] for _, r in pending.values()})
        end_closed_lines(conn, {m: at for m, at in closings.items() if at <= recorded_at}, recorded_at=recorded_at)
    return report


def _not_json(token: str) -> Any:
    raise ValueError(f"{token} is not a JSON value")


def _finite(token: str) -> float:
    # Python reads 1e400 as infinity, which it would then write back as Infinity (see _not_json)
    value = float(token)
    if not math.isfinite(value):
        raise ValueError(f"{token} is too large for a JSON number")
    return value


def _check_line(file: str, line: int, raw: bytes, *, now: datetime) -> tuple[dict[str, Any] | None, list[Problem]]:
    if line == 1:
        raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark, as editors on Windows write it
    try:
        # NaN and Infinity are Python's extension, not JSON: PostgreSQL would refuse them as evidence
        obj = json.loads(raw.decode("utf-8"), parse_constant=_not_json, parse_float=_finite)
    except UnicodeDecodeError:
        return None, [Problem(file, line, None, "not valid UTF-8", "undecodable")]
    except json.JSONDecodeError as exc:
        return None, [Problem(file, line, None, f"not valid JSON: {exc.msg} at column {exc.colno}", "bad_json")]
    except ValueError as exc:
        return None, [Problem(file, line, None, f"not valid JSON: {exc}", "bad_json")]
    except RecursionError:
        return None, [Problem(file, line, None, "not valid JSON: nested too deeply", "bad_json")]
    if not isinstance(obj, dict):
        return None, [Problem(file, line, None, f"expected a JSON object, found {type(obj).__name__}", "bad_json")]

    problems: list[Problem] = []

    def bad(field: str, message: str, code: str = "bad_value") -> None:
        problems.append(Problem(file, line, field, message, code))

    def text(field: str, limit: int = 64) -> str:
        value = obj.get(field)
        if value is None or value == "":
            bad(field, "required field is missing", "missing_field")
            return ""
        if not isinstance(value, str):
            bad(field, f"expected a string, found {type(value).__name__}")
            return ""
        if len(value) > limit:
            bad(field, f"longer than {limit} characters")
        if (why := text_problem(value)) is not None:
            bad(field, why)
        return value

    event, subscription_id, msisdn = text("event"), text("subscription_id"), text("msisdn", 15)
    offer_id, at_text, channel = text("offer_id"), text("at"), text("channel")
    if event and event not in _EVENTS:
        bad("event", f"{event!r} is not one of {', '.join(sorted(_EVENTS))}")
    if channel and channel not in _CHANNELS:
        bad("channel", f"{channel!r} is not one of {', '.join(sorted(_CHANNELS))}")
    if msisdn and (why := msisdn_problem(msisdn)) is not None:
        bad("msisdn", why)
    at: datetime | None = None
    if at_text:
        at, why = parse_instant(at_text)
        if why is None and at is not None:
            why = event_time_problem(at, now=now)  # a clock reset (1970) or a date ahead (2099) would stay for ever
        if why is not None:
            bad("at", why, "bad_timestamp")
    evidence = obj.get("evidence")
    if evidence is not None:
        try:  # every string in it, keys included, must be Unicode text to be stored and read back
            json.dumps(evidence, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            bad("evidence", "not valid Unicode text (a lone surrogate)")
        if isinstance(evidence, dict) and "second_step" in evidence:
            # only fairtel's own order and confirmation write it (the one-time code sent by SMS and given back):
            # a feed claiming it would pass a provider's machine-speed confirmations as a person's
            bad("evidence", "second_step is written by fairtel's own second confirmation, never imported",
                "forged_second_step")
    if problems or at is None:
        return None, problems
    return {
        "event_id": consent_event_id(subscription_id, event, at),
        "subscription_id": subscription_id,
        "msisdn": msisdn,
        "offer_id": offer_id,
        "event": event,
        "at": at.astimezone(UTC),
        "channel": channel,
        "evidence": evidence,
    }, []


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(_canonical(a[c]) == _canonical(b[c]) if c == "evidence" else a[c] == b[c] for c in _CONTENT)


def _canonical(evidence: Any) -> str:
    """Evidence as canonical JSON: equal only when the JSON is, where Python's ``==`` would also take
    ``true`` for ``1`` and ``1.0`` for ``1``; the order of an object's keys does not matter."""
    return json.dumps(evidence, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _append(
    conn: Connection,
    chunk: list[tuple[int, dict[str, Any]]],
    file: str,
    source: str,
    recorded_at: datetime,
    report: ImportReport,
) -> None:
    ids = [r["event_id"] for _, r in chunk]
    cols = [table_of(ConsentEvent).c[c] for c in ("event_id", *_CONTENT)]
    stored = {row.event_id: row._asdict() for row in conn.execute(select(*cols).where(ConsentEvent.event_id.in_(ids)))}
    new: list[dict[str, Any]] = []
    for line_no, record in chunk:
        old = stored.get(record["event_id"])
        if old is None:
            new.append({**record, "recorded_at": recorded_at, "source": source})
        elif _same(old, record):
            report.duplicate += 1
        else:
            report.rejected += 1
            report.problems.append(
                Problem(file, line_no, None, "conflicts with an event already in the ledger (same subscription, event and time); the ledger is append-only", "conflict")
            )
    if new:
        # ON CONFLICT DO NOTHING: a concurrent import of the same events cannot fail this one. (A plain
        # executemany: psycopg pipelines it, faster here than multi-row INSERT ... RETURNING.)
        conn.execute(dialect_insert(conn, table_of(ConsentEvent)).on_conflict_do_nothing(), new)
    report.accepted += len(new)
    report.inserted += len(new)


def _record(row: Any) -> ConsentEventRecord:
    return ConsentEventRecord(**{f.name: getattr(row, f.name) for f in fields(ConsentEventRecord)})


def consent_events_for(conn: Connection, msisdn: str, *, since: datetime | None = None) -> list[ConsentEventRecord]:
    """A subscriber's consent events in the order they happened; of those at or after ``since`` only, when given
    (the current holder's holding of the line: events before it are an earlier holder's of the number)."""
    query = select(table_of(ConsentEvent)).where(ConsentEvent.msisdn == msisdn)
    if since is not None:
        query = query.where(ConsentEvent.at >= since)
    query = query.order_by(ConsentEvent.at, ConsentEvent.event_id)
    return [_record(r) for r in conn.execute(query)]


CONSENT_LEDGER_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("subscription_id", pa.string(), nullable=False),
        pa.field("msisdn", pa.string(), nullable=False),
        pa.field("offer_id", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),
        pa.field("at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("channel", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("evidence", pa.string()),  # as recorded: a string, or a JSON object rendered canonically
    ]
)


def consent_ledger(conn: Connection, *, msisdns: list[str] | None = None) -> pa.Table:
    """The whole ledger (or that of some numbers) as an Arrow table ordered by time, for the consent
    gate and the assurance detectors, which work on frames."""
    t = table_of(ConsentEvent)
    query = select(*(t.c[f.name] for f in CONSENT_LEDGER_SCHEMA)).order_by(t.c.at, t.c.event_id)
    if msisdns is not None:
        query = query.where(t.c.msisdn.in_(msisdns))
    rows = conn.execute(query).all()
    columns: list[list[Any]] = [[row[i] for row in rows] for i in range(len(CONSENT_LEDGER_SCHEMA))]
    columns[-1] = [_evidence_text(v) for v in columns[-1]]
    return pa.Table.from_arrays(
        [pa.array(col, type=f.type) for col, f in zip(columns, CONSENT_LEDGER_SCHEMA, strict=True)],
        schema=CONSENT_LEDGER_SCHEMA,
    )


def _evidence_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# the channel of the events that end a closed line's subscriptions: a line is closed at the operator's own counter
# (销户), and the register that learns it is the operator's record; ``source`` and the evidence say it was the system
CLOSING_CHANNEL = ConsentChannel.STORE.value


def closing_instants(conn: Connection, msisdns: Collection[str]) -> dict[str, datetime]:
    """When each of ``msisdns`` that the register holds as closed left service: its ``closed_at``, else since when
    its status history says it is closed (when the register learnt it), else its row's ``updated_at``."""
    s, h = table_of(Subscriber), table_of(LineStatusHistory)
    out: dict[str, datetime] = {}
    for chunk in chunks(sorted(set(msisdns)), 2000):
        rows = conn.execute(select(s.c.msisdn, s.c.closed_at, s.c.updated_at).where(
            s.c.msisdn.in_(chunk), s.c.status == SubscriberStatus.CLOSED.value)).all()
        undated = [r.msisdn for r in rows if r.closed_at is None]
        since = {r.msisdn: r.since for r in conn.execute(
            select(h.c.msisdn, func.max(h.c.since).label("since")).where(
                h.c.msisdn.in_(undated), h.c.status == SubscriberStatus.CLOSED.value).group_by(h.c.msisdn))
            } if undated else {}
        for r in rows:
            at = r.closed_at or since.get(r.msisdn) or r.updated_at
            out[r.msisdn] = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return out


def end_closed_lines(conn: Connection, closings: Mapping[str, datetime], *, recorded_at: datetime,
                     policy: ConsentPolicy = DEFAULT_POLICY) -> int:
    """End in the ledger the subscriptions of the closed lines ``closings`` (msisdn → when it left service) that
    were still running then (``consent.ends_at_closing``): one ``cancelled`` event each, dated at the closing (at
    its order, for one ordered after it), by the system (``CLOSING_SOURCE``, ``closing_evidence``). A subscription
    the ledger ends by then already gets nothing, so a closing learnt again adds no event. Runs in the caller's
    transaction; returns how many events it appended."""
    added = 0
    t = table_of(ConsentEvent)
    for chunk in chunks(sorted(closings), 2000):
        ledger = consent_ledger(conn, msisdns=chunk)
        if ledger.num_rows == 0:
            continue
        frame = pl.DataFrame({"msisdn": chunk, "closed_at": [closings[m].astimezone(UTC) for m in chunk]},
                             schema={"msisdn": pl.String(), "closed_at": pl.Datetime("us", "UTC")})
        ends = ends_at_closing(project_subscriptions(ledger, policy=policy), frame, policy=policy)
        rows = [{"event_id": consent_event_id(r["subscription_id"], "cancelled", r["at"]),
                 "subscription_id": r["subscription_id"], "msisdn": r["msisdn"], "offer_id": r["offer_id"],
                 "event": "cancelled", "at": r["at"], "channel": CLOSING_CHANNEL, "evidence": closing_evidence(),
                 "recorded_at": recorded_at, "source": CLOSING_SOURCE} for r in ends.iter_rows(named=True)]
        if rows:
            conn.execute(dialect_insert(conn, t).on_conflict_do_nothing(), rows)
            added += len(rows)
    return added


def closing_ends(conn: Connection, msisdn: str) -> dict[str, datetime]:
    """subscription id → when the closing of the line ``msisdn`` ended it (the ``cancelled`` events
    ``end_closed_lines`` appended), to say so where subscriptions are listed."""
    t = table_of(ConsentEvent)
    rows = conn.execute(select(t.c.subscription_id, t.c.at).where(
        t.c.msisdn == msisdn, t.c.event == "cancelled", t.c.source == CLOSING_SOURCE))
    return {r.subscription_id: (r.at if r.at.tzinfo is not None else r.at.replace(tzinfo=UTC)) for r in rows}


def _conflicting(conn: Connection, pending: Mapping[str, tuple[int, dict[str, Any]]], file: str
                 ) -> list[tuple[str, Problem]]:
    """The events of ``pending`` (event id → (line, record)) that name another number or offer than their
    subscription, refused as ``consent.ConsentLedger.append`` refuses them (``consent_event_conflict``, its words): a
    subscription belongs to the number and offer of its earliest event (by ``at``, whichever file brought it; a tie,
    the one recorded first). An event recorded already is left to the import (a duplicate, or a conflict with it)."""
    def utc(at: datetime) -> datetime:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)

    t = table_of(ConsentEvent)
    first: dict[str, tuple[datetime, int, str, str]] = {}
    subs = sorted({r["subscription_id"] for _, r in pending.values()})
    for chunk in chunks(subs, 2000):
        for sid, at, msisdn, offer in conn.execute(select(t.c.subscription_id, t.c.at, t.c.msisdn, t.c.offer_id)
                                                   .where(t.c.subscription_id.in_(chunk))
                                                   .order_by(t.c.subscription_id, t.c.at, t.c.recorded_at)):
            first.setdefault(sid, (utc(at), 0, msisdn, offer))
    stored = {eid for chunk in chunks(list(pending), 2000)
              for (eid,) in conn.execute(select(t.c.event_id).where(t.c.event_id.in_(chunk)))}
    for line, r in pending.values():
        mine = (utc(r["at"]), 1 + line, r["msisdn"], r["offer_id"])
        if r["subscription_id"] not in first or mine[:2] < first[r["subscription_id"]][:2]:
            first[r["subscription_id"]] = mine
    out = []
    for event_id, (line, r) in pending.items():
        _, _, m, o = first[r["subscription_id"]]
        if event_id not in stored and (r["msisdn"], r["offer_id"]) != (m, o):
            out.append((event_id, Problem(
                file, line, "msisdn" if r["msisdn"] != m else "offer_id",
                f"{r['event']} event of {r['subscription_id']} names {r['msisdn']}/{r['offer_id']} but the subscription is "
                f"{m}/{o}", "consent_event_conflict")))
    return out
