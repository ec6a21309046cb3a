"""A subscriber's data access request (PIPL Art. 45): everything fairtel holds about one line, in one export.

``data_export`` gathers, for one line: the register row (with its customer record), its plan history and status
history, its bills with their lines, its refunds, credits and debits, its usage (a summary of every month the lake
holds, and the records themselves of the latest ``USAGE_MONTHS`` months, at most ``USAGE_RECORD_LIMIT``), its
consent events with their evidence (never what is kept to check a one-time code), its subscriptions, the findings
about it, its complaints with their history and notes, its trouble tickets with the conversation they carry and the
agents' notes, its survey answers, its loyalty entries and balance, its roaming caps, its churn scores, and who read
its data (the access audit rows about it: when, the reader's role and a keyed pseudonym of the reader, what was
read, never whose else).

A subscriber's copy holds their own holding only (``Access.holding_from``: the activation, or ``holder_since`` after
an owner change): the consent events of their own subscriptions (ordered in their holding), the findings about what
happened in it (not one dated before it by what it is about, nor marked ``before_holding``), and never a previous
customer's subscription id (a finding about a charge made in their holding under it names none). An agent's copy
holds the line's whole record.

Who may: the subscriber, for their own line, and an agent handling them (an assignment); no other role. The export
is the subscriber's copy, the same whoever makes it: the line's own number plain, every other number masked (the
other party of a call, a number written in a note), identity and bank card numbers hidden, other people's logins
as keyed pseudonyms. The ids of the line's own records (its usage records, a credit's or a finding's record ids,
the record a finding's ``duplicate_of`` names) are the switch's, kept as stored, digits and all: the ones the
subscriber's usage shows and a complaint or a credit names, so the copy can be used to look a record up. Making it
writes one access-audit row (``subscriber.export``) with the subscriber's pseudonym, committed before the export
reads anything else; the export lists that row too. Its reads are made in a transaction
that writes nothing (``Access.commit_then_read``): on SQLite they keep no other request's change waiting.

A ``HEAD`` of either path is not an export: it is answered after the same login and permission checks as the
``GET`` (the same status, ``Content-Type`` and ``Content-Disposition``; no ``Content-Length``, the export not being
made), and writes no ``subscriber.export`` row, since nothing of the subscriber's data left. A refused ``HEAD`` is
recorded as a refused ``GET`` is (``access.denied``).

Not in it: the fraud desk's cases (an investigation is not told to its subject), the SMS outbox (it holds one-time
codes), the mediation rejects (raw records a switch sent that were never taken), the assistant's conversation log
(it keeps neither the words nor the number), and the audit rows written under a secret since replaced (they are
filed under the line's earlier pseudonym).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import zipfile
from collections import defaultdict
from datetime import date, datetime
from decimal import Decimal
from pathlib import PurePath
from typing import Any

import pyarrow.parquet as pq
from sqlalchemy import Select, func, select

from fairtel.api._access import Access, in_holding
from fairtel.api._guard import withhold_body
from fairtel.api._paging import money_text
from fairtel.catalog import Catalog
from fairtel.consent import LINE_CLOSED
from fairtel.core.errors import PermissionDeniedError
from fairtel.privacy import Permission, Pseudonymizer, Role, mask_msisdn
from fairtel.privacy._numbers import e164_of, replace_numbers, replace_numbers_in
from fairtel.store import Lake, adjustments_of, consent_events_for
from fairtel.store._care import ticket_notes, ticket_text
from fairtel.store._complaints import UNRECORDED, get_complaint
from fairtel.store._consent import closing_ends
from fairtel.store._schema import (
    AccessAudit,
    Bill,
    BillLine,
    Complaint,
    ConsentEvent,
    Customer,
    Finding,
    LineStatusHistory,
    LoyaltyEntry,
    MarketingPreference,
    RoamingCap,
    Subscriber,
    SubscriberPlan,
    Survey,
    TroubleTicket,
    User,
    table_of,
)

EXPORT_FORMAT = "fairtel.data-export/1"
EXPORT_ACTION = "subscriber.export"
# The usage records themselves are exported for the latest months the lake holds; older months by their summary
# only. Three months is what a subscriber may ask to see itemised on their bills; an agent can export again with
# more (``months``, at most ``MAX_USAGE_MONTHS``). The records are capped all the same: a data line may make tens
# of thousands a month, and the export answers in one response.
USAGE_MONTHS = 3
MAX_USAGE_MONTHS = 24
USAGE_RECORD_LIMIT = 50_000
# What a usage record holds that is the subscriber's (the switch's internals, such as a wholesale charge, are not)
_USAGE_FIELDS = ("record_id", "kind", "direction", "started_at", "duration_s", "bytes_up", "bytes_down", "peer", "offer_id",
                 "amount_minor", "currency", "roaming_country", "cell_id", "imei", "imsi", "vpmn", "apn", "source")
_RATED_FIELDS = ("record_id", "source", "amount_minor", "currency", "verdict")
# What the ledger keeps of a one-time code, to check the code given back: never exported (with the key it derives
# from, it would check guesses; the challenge id names the code's derivation)
_CODE_MATERIAL = frozenset({"code_sha256", "salt", "key_tag", "challenge_id", "code", "hash"})
# The audit actor's pseudonym in an export: a domain of its own, so it links to no other pseudonym
_ACTOR_DOMAIN = "export-actor"


class _Shown:
    """Numbers and people as the subscriber's copy shows them: the line's own number plain, any other masked; the
    line's own logins as they are, anyone else (staff, a system, another subscriber) as a keyed pseudonym (``x…``,
    the same in every export under one secret, linked to no other pseudonym), whoever makes the export."""

    def __init__(self, acc: Access, msisdn: str, since: datetime | None = None) -> None:
        self.msisdn = msisdn
        self.home = acc.pseudonyms.home_country
        u = table_of(User)
        q = select(u.c.username).where(u.c.msisdn == msisdn, u.c.role == Role.SUBSCRIBER.value)
        if since is not None:  # an earlier holder's login is another person's
            q = q.where(u.c.created_at >= since)
        logins = acc.conn.scalars(q).all()
        # as stored (a consent event's evidence) and as the audit and the records name them (``Pseudonyms.login``)
        self.own = frozenset(logins) | {acc.pseudonyms.login(n) for n in logins}
        self._person = Pseudonymizer(acc.pseudonyms.msisdn_digest(_ACTOR_DOMAIN).hex(), domain=_ACTOR_DOMAIN)

    def number(self, digits: str | None) -> str | None:
        if digits is None or digits == "":
            return digits
        e164 = e164_of(str(digits), home_country=self.home)
        return self.msisdn if e164 == self.msisdn else mask_msisdn(e164)

    def text(self, text: str | None) -> str | None:
        """Free text: numbers (however written) as ``number`` shows them; ID-card and bank-card numbers hidden."""
        if text is None:
            return None
        return replace_numbers(text, lambda d: self.number(d) or "", e164=True, home_country=self.home)

    def data(self, value: Any) -> Any:
        """JSON-like data (evidence): numbers in strings, keys and integers as ``number`` shows them."""
        return replace_numbers_in(value, lambda d: self.number(d) or "")

    def person(self, name: str | None) -> str | None:
        if name is None or name in self.own or name == UNRECORDED:
            return name
        return self._person(name)


# The keys of a finding's evidence that name a record of the line by its id (shown as stored, as ``record_ids``)
_RECORD_ID_KEYS = frozenset({"duplicate_of"})


def _evidence(shown: _Shown, evidence: dict[str, Any]) -> dict[str, Any]:
    """A finding's evidence: numbers as ``shown.data`` shows them, the record ids it names as stored."""
    ids = {k: v for k, v in evidence.items() if k in _RECORD_ID_KEYS and isinstance(v, str)}
    out = shown.data({k: v for k, v in evidence.items() if k not in ids})
    return {**out, **ids}


def _iso(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _money(minor: int | None, currency: str | None) -> str | None:
    return money_text(minor, currency)


def data_export(acc: Access, msisdn: str, *, lake: Lake | None = None, catalog: Catalog | None = None,
                months: int = USAGE_MONTHS) -> dict[str, Any]:
    """Everything held about ``msisdn``, as a JSON-able dict (sections described in the module's docstring).

    The subscriber for their own line, an agent handling them; any other role is refused (403, audited as
    ``access.denied`` with the line's pseudonym). ``lake``: the home's usage lake (the request's by default);
    ``catalog``: to name offers; ``months``: how many of the latest months' usage records to list (1 to
    ``MAX_USAGE_MONTHS``)."""
    if acc.role not in (Role.SUBSCRIBER, Role.AGENT):  # refused naming the line: the attempt is on record under it
        raise acc.refused_about(msisdn, PermissionDeniedError(
            f"role {acc.role.value} may not export a subscriber's data (the subscriber, or an agent handling them)",
            details={"needs": [Permission.OWN_LINES_READ.value, Permission.CUSTOMER_READ.value]}))
    reason = acc.open_subject(msisdn)
    if withhold_body():  # a HEAD: the GET's status and headers, after the same checks; nothing made, read or recorded
        return {"format": EXPORT_FORMAT, "made": False}
    months = max(1, min(int(months), MAX_USAGE_MONTHS))
    lake = lake if lake is not None else acc.lake
    # recorded first, and committed at once in a short transaction of its own: the export's own read is among the
    # reads it lists, and the reads below (many records, the whole access log) hold no write lock (on SQLite, one
    # snapshot) that would keep every other writer waiting for the export
    acc.audit(EXPORT_ACTION, "data_export", msisdn=msisdn, reason=reason)
    acc.commit_then_read()
    conn = acc.conn
    # the subscriber's copy holds what is theirs: the records dated in their holding of the line (from the
    # register's ``activated_at``, or its ``holder_since`` when the line moved to them from another customer), never
    # an earlier holder's of the number; an agent's copy, the line's whole record
    since, first = acc.holding_from(msisdn), acc.holding_period(msisdn)
    shown = _Shown(acc, msisdn, since)

    out: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "generated_at": acc.now.isoformat(),
        "msisdn": msisdn,
        "made_by_role": acc.role.value,
    }
    out["subscriber"], out["customer"] = _register(acc, msisdn)
    p = table_of(SubscriberPlan)
    out["plan_history"] = [
        {"plan_id": r.plan_id, "effective_from": _iso(r.effective_from), "recorded_at": _iso(r.recorded_at)}
        for r in conn.execute(_from(select(p).where(p.c.msisdn == msisdn), p.c.effective_from, since)
                              .order_by(p.c.effective_from, p.c.recorded_at, p.c.plan_change_id))
    ]
    s = table_of(LineStatusHistory)
    out["status_history"] = [
        {"status": r.status, "since": _iso(r.since), "recorded_at": _iso(r.recorded_at), "source": r.source}
        for r in conn.execute(_from(select(s).where(s.c.msisdn == msisdn), s.c.since, since).order_by(s.c.since, s.c.entry_id))
    ]
    out["bills"] = _bills(acc, msisdn, shown, first)
    out["adjustments"] = [
        {"adjustment_id": e.adjustment_id, "kind": str(getattr(e.kind, "value", e.kind)), "amount": _money(e.amount_minor, e.currency),
         "currency": e.currency, "bill_id": e.bill_id, "finding_id": e.finding_id, "period": e.period, "record_id": e.record_id,
         "reason": shown.text(e.reason), "created_at": _iso(e.created_at), "created_by": shown.person(e.created_by)}
        for e in adjustments_of(conn, msisdn)
        if in_holding(since, e.created_at) and (first is None or e.period is None or e.period >= first)
    ]
    out["usage"] = _usage(lake, msisdn, shown, months, since, first)
    own = _own_subscriptions(acc, msisdn, since)
    out["consent_events"] = _consent(acc, msisdn, shown, since, own)
    out["subscriptions"] = _subscriptions(acc, msisdn, catalog)
    f = table_of(Finding)
    out["findings"] = [
        {"finding_id": r.finding_id, "kind": r.kind,
         "subscription_id": r.subscription_id if own is None or r.subscription_id in own else None,
         "record_ids": [str(x) for x in r.record_ids or []], "amount": _money(r.amount_minor, r.currency),
         "currency": r.currency, "status": r.status, "evidence": _evidence(shown, _their_evidence(dict(r.evidence or {}), own)),
         "detected_at": _iso(r.detected_at), "resolved_at": _iso(r.resolved_at), "resolved_by": shown.person(r.resolved_by),
         "resolution": shown.text(r.resolution)}
        for r in conn.execute(_from(select(f).where(f.c.msisdn == msisdn), f.c.detected_at, since).order_by(f.c.detected_at, f.c.finding_id))
        if _in_holding(dict(r.evidence or {}), since, first)
    ]
    out["complaints"] = _complaints(acc, msisdn, shown, since)
    out["tickets"] = _tickets(acc, msisdn, shown, since)
    v = table_of(Survey)
    out["surveys"] = [
        {"survey_id": r.survey_id, "score": r.score, "answered_at": _iso(r.answered_at), "channel": r.channel, "comment": shown.text(r.comment)}
        for r in conn.execute(_from(select(v).where(v.c.msisdn == msisdn), v.c.answered_at, since).order_by(v.c.answered_at, v.c.survey_id))
    ]
    lo = table_of(LoyaltyEntry)
    entries = [
        {"entry_id": r.entry_id, "kind": r.kind, "points": r.points, "reason": shown.text(r.reason), "booked_at": _iso(r.booked_at)}
        for r in conn.execute(_from(select(lo).where(lo.c.msisdn == msisdn), lo.c.booked_at, since).order_by(lo.c.booked_at, lo.c.entry_id))
    ]
    out["loyalty"] = {"balance": sum(e["points"] if e["kind"] == "earn" else -e["points"] for e in entries), "entries": entries}
    c = table_of(RoamingCap)
    out["roaming_caps"] = [
        {"amount": _money(r.amount_minor, r.currency), "currency": r.currency, "set_at": _iso(r.set_at), "set_by": shown.person(r.set_by)}
        for r in conn.execute(_from(select(c).where(c.c.msisdn == msisdn), c.c.set_at, since).order_by(c.c.set_at, c.c.cap_id))
    ]
    mp = table_of(MarketingPreference)
    out["marketing_preferences"] = [  # the line's say on marketing, every change (the latest is in force)
        {"opted_out": bool(r.opted_out), "changed_at": _iso(r.changed_at), "channel": r.channel, "source": r.source,
         "changed_by": shown.person(r.changed_by)}
        for r in conn.execute(_from(select(mp).where(mp.c.msisdn == msisdn), mp.c.changed_at, since).order_by(mp.c.changed_at, mp.c.pref_id))
    ]
    out["churn_scores"] = [c for c in _churn(lake, msisdn) if first is None or c["period"] >= first]
    out["access_log"] = _access_log(acc, msisdn, shown, since)
    out["limits"] = {
        "usage_months_itemised": months,
        "usage_record_limit": USAGE_RECORD_LIMIT,
        "not_included": ["fraud investigations", "SMS outbox", "mediation rejects",
                         "audit rows filed under a pseudonym of a replaced secret"],
    }
    return out


def _from(q: Select[Any], column: Any, since: datetime | None) -> Select[Any]:
    """``q`` of the records dated (by ``column``) at or after ``since``, when given: a subscriber's holding."""
    return q if since is None else q.where(column >= since)


def _register(acc: Access, msisdn: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    t = table_of(Subscriber)
    r = acc.conn.execute(select(t).where(t.c.msisdn == msisdn)).first()
    if r is None:
        return None, None
    sub = {"msisdn": r.msisdn, "customer_id": r.customer_id, "plan_id": r.plan_id, "status": r.status, "language": r.language,
           "region": r.region, "activated_at": _iso(r.activated_at), "updated_at": _iso(r.updated_at),
           "suspended_at": _iso(r.suspended_at), "closed_at": _iso(r.closed_at)}
    ct = table_of(Customer)
    cu = acc.conn.execute(select(ct).where(ct.c.customer_id == r.customer_id)).first()
    customer = None if cu is None else {"customer_id": cu.customer_id, "name": cu.name, "segment": cu.segment,
                                        "created_at": _iso(cu.created_at)}
    return sub, customer


def _bills(acc: Access, msisdn: str, shown: _Shown, first: str | None = None) -> list[dict[str, Any]]:
    """The line's bills; of the periods from ``first`` on, when given (a subscriber's holding)."""
    b, ln = table_of(Bill), table_of(BillLine)
    q = select(b).where(b.c.msisdn == msisdn)
    if first is not None:
        q = q.where(b.c.period >= first)
    bills = acc.conn.execute(q.order_by(b.c.period)).all()
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if bills:
        for r in acc.conn.execute(select(ln).where(ln.c.bill_id.in_([x.bill_id for x in bills])).order_by(ln.c.bill_id, ln.c.line_no)):
            lines[r.bill_id].append({
                "line_no": r.line_no, "kind": r.kind, "description": shown.text(r.description), "rule_id": r.rule_id,
                "quantity": r.quantity, "unit": r.unit, "amount": _money(r.amount_minor, r.currency), "currency": r.currency,
                "allowance_id": r.allowance_id, "adjustment_id": r.adjustment_id,
            })
    return [
        {"bill_id": r.bill_id, "period": r.period, "issued_at": _iso(r.issued_at), "plan_id": r.plan_id, "currency": r.currency,
         "subtotal": _money(r.subtotal_minor, r.currency), "tax": _money(r.tax_minor, r.currency),
         "total": _money(r.total_minor, r.currency), "lines": lines.get(r.bill_id, [])}
        for r in bills
    ]


def _read(lake: Lake, dataset: str, period: str, msisdn: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for f in lake.files(dataset, periods=[period]):
        present = set(pq.read_schema(f).names)
        if "msisdn" not in present:
            continue
        cols = [c for c in fields if c in present]
        rows.extend(pq.read_table(f, columns=cols, filters=[("msisdn", "=", msisdn)]).to_pylist())
    return rows


def _usage(lake: Lake | None, msisdn: str, shown: _Shown, months: int, since: datetime | None = None,
           first: str | None = None) -> dict[str, Any]:
    """Per month: how many records of each kind, their minutes, bytes and what rating charged for them; the records
    of the latest ``months`` months (oldest first), each with what rating charged for it. Of the records started at
    or after ``since`` (in the periods from ``first`` on) only, when given: a subscriber's holding."""
    if lake is None:
        return {"available": False, "months": [], "records": [], "records_truncated": False}
    in_usage, in_rated = set(lake.periods("usage")), set(lake.periods("rated"))
    periods = sorted(p for p in in_usage | in_rated if first is None or p >= first)
    itemised = set(periods[-months:])
    summary: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    truncated = False
    for period in periods:
        usage = _read(lake, "usage", period, msisdn, _USAGE_FIELDS) if period in in_usage else []
        rated = _read(lake, "rated", period, msisdn, _RATED_FIELDS + (("started_at",) if since is not None else ())) if period in in_rated else []
        if since is not None:
            usage = [r for r in usage if in_holding(since, r.get("started_at"))]
            rated = [r for r in rated if in_holding(since, r.get("started_at"))]
        charged: dict[tuple[str, str], int] = defaultdict(int)
        currency: str | None = None
        for r in rated:
            charged[(r.get("source") or "", r["record_id"])] += int(r.get("amount_minor") or 0)
            currency = currency or r.get("currency")
        by_kind: dict[str, dict[str, int]] = {}
        for r in usage:
            k = by_kind.setdefault(str(r.get("kind")), {"records": 0, "seconds": 0, "bytes": 0})
            k["records"] += 1
            k["seconds"] += int(r.get("duration_s") or 0)
            k["bytes"] += int(r.get("bytes_up") or 0) + int(r.get("bytes_down") or 0)
        if not usage and not rated:
            continue
        summary.append({"period": period, "by_kind": by_kind, "rated_lines": len(rated),
                        "charged": _money(sum(charged.values()), currency) if currency else None, "currency": currency,
                        "itemised": period in itemised})
        if period not in itemised:
            continue
        usage.sort(key=lambda r: (r.get("started_at") or datetime.min, r.get("record_id") or ""))
        for r in usage:
            if len(records) >= USAGE_RECORD_LIMIT:
                truncated = True
                break
            row = {k: _iso(r.get(k)) for k in _USAGE_FIELDS if k in r and k not in ("amount_minor", "source", "peer", "record_id")}
            row["record_id"] = r.get("record_id")  # the line's own record: its id as stored, as /me/usage shows it
            row["period"] = period
            row["peer"] = shown.number(r.get("peer"))
            if r.get("amount_minor") is not None:
                row["amount"] = _money(r.get("amount_minor"), r.get("currency"))
            key = (r.get("source") or "", r.get("record_id") or "")
            row["charged"] = _money(charged[key], currency) if key in charged and currency else None
            records.append(row)
    return {"available": True, "months": summary, "records": records, "records_truncated": truncated}


def _own_subscriptions(acc: Access, msisdn: str, since: datetime | None) -> frozenset[str] | None:
    """The line's subscriptions begun (by their first event, the order) at or after ``since``: a subscriber's own, as
    ``/me/subscriptions`` lists them; None when ``since`` is (staff: every subscription of the line is in the copy)."""
    if since is None:
        return None
    t = table_of(ConsentEvent)
    rows = acc.conn.execute(select(t.c.subscription_id, func.min(t.c.at).label("first"))
                            .where(t.c.msisdn == msisdn).group_by(t.c.subscription_id))
    return frozenset(r.subscription_id for r in rows if in_holding(since, r.first))


# the evidence keys that date what a finding is about (a charge, a confirmation, a roaming visit, a cap passed), and
# that name a subscription it was charged under
_DATED_BY = ("started_at", "visit_started_at", "confirmed_at", "ordered_at", "first_past_cap_at")
_SUBSCRIPTION_KEYS = ("billed_under_subscription",)


def _in_holding(evidence: dict[str, Any], since: datetime | None, first: str | None) -> bool:
    """Whether a finding is about the subscriber's holding (``since``, its first period ``first``; None: staff, every
    finding): not one marked as about usage before it (``before_holding``), nor dated before it by what it is about
    (``_DATED_BY``: the charge, the confirmation, the visit), nor of a billing period before its first. A finding
    detected in the holding may be about a previous customer's usage, charged or confirmed before the change."""
    if since is None:
        return True
    if evidence.get("before_holding") is True:
        return False
    for key in _DATED_BY:
        value = evidence.get(key)
        if isinstance(value, str):
            try:
                at = datetime.fromisoformat(value)
            except ValueError:
                continue
            return in_holding(since, at)
    period = evidence.get("period")
    return not (first is not None and isinstance(period, str) and period < first)


def _their_evidence(evidence: dict[str, Any], own: frozenset[str] | None) -> dict[str, Any]:
    """A finding's evidence without the id of a subscription that is not the subscriber's (``own``; None: staff)."""
    if own is None:
        return evidence
    return {k: v for k, v in evidence.items() if k not in _SUBSCRIPTION_KEYS or v in own}


def _consent(acc: Access, msisdn: str, shown: _Shown, since: datetime | None = None,
             own: frozenset[str] | None = None) -> list[dict[str, Any]]:
    """The line's consent events; of the subscriber's own subscriptions only (``own``, when given), dated in their
    holding (``since``): an event dated after an owner change of a subscription the previous customer made (its
    cancellation, its ending when the line closed) is theirs."""
    out = []
    for e in consent_events_for(acc.conn, msisdn, since=since):
        if own is not None and e.subscription_id not in own:
            continue
        evidence = e.evidence
        if isinstance(evidence, str):
            with contextlib.suppress(ValueError):
                evidence = json.loads(evidence)
        out.append({
            "event_id": e.event_id, "subscription_id": e.subscription_id, "offer_id": e.offer_id, "event": e.event,
            "at": _iso(e.at), "channel": e.channel, "recorded_at": _iso(e.recorded_at), "source": _source(shown, e.source),
            "evidence": shown.data(_without_code(shown, evidence)),
        })
    return out


def _without_code(shown: _Shown, evidence: Any) -> Any:
    """Evidence without what is kept of a one-time code (the confirmation's verdict stays), and with other people's
    logins (an agent who cancelled) as their pseudonyms."""
    if isinstance(evidence, list):
        return [_without_code(shown, v) for v in evidence]
    if not isinstance(evidence, dict):
        return evidence
    out: dict[str, Any] = {}
    for k, v in evidence.items():
        if k in _CODE_MATERIAL:
            continue
        if k == "actor" and isinstance(v, str):
            out[k] = shown.person(v)
        else:
            out[k] = _without_code(shown, v)
    return out


def _source(shown: _Shown, source: str) -> str:
    """Where an event came from: ``api:<login>`` (the login as a pseudonym when another's), or the file's name."""
    if source.startswith("api:"):
        return "api:" + (shown.person(source[4:]) or "")
    return PurePath(source).name or source


def _subscriptions(acc: Access, msisdn: str, catalog: Catalog | None) -> list[dict[str, Any]]:
    from fairtel.api._subscriptions import _projection

    by_id = {o.id: o for o in catalog.offers} if catalog is not None else {}
    frame = _projection(acc, msisdn)
    closing = closing_ends(acc.conn, msisdn) if frame.height else {}
    out = []
    for r in frame.sort("ordered_at", nulls_last=True).iter_rows(named=True):
        o = by_id.get(r["offer_id"])
        closed = r["ended_at"] is not None and closing.get(r["subscription_id"]) == r["ended_at"]
        out.append({
            "subscription_id": r["subscription_id"], "offer_id": r["offer_id"], "name_en": o.name.en if o else None,
            "name_zh": o.name.zh if o else None, "provider": o.provider if o else None, "price": str(o.price) if o else None,
            "state": r["state"], "confirmation": r["confirmation"], "ordered_at": _iso(r["ordered_at"]),
            "confirmed_at": _iso(r["confirmed_at"]), "ended_at": _iso(r["ended_at"]),
            "ended_reason": LINE_CLOSED if closed else None,
        })
    return out


def _complaints(acc: Access, msisdn: str, shown: _Shown, since: datetime | None = None) -> list[dict[str, Any]]:
    t = table_of(Complaint)
    q = _from(select(t.c.complaint_id).where(t.c.msisdn == msisdn), t.c.opened_at, since)
    ids = acc.conn.scalars(q.order_by(t.c.opened_at, t.c.complaint_id)).all()
    out = []
    for cid in ids:
        rec = get_complaint(acc.conn, cid, policy=acc.sla)
        out.append({
            "complaint_id": rec.complaint_id, "category": rec.category, "channel": rec.channel, "text": shown.text(rec.text),
            "status": rec.status, "opened_at": _iso(rec.opened_at), "closed_at": _iso(rec.closed_at), "due_at": _iso(rec.due_at),
            "escalation_level": rec.escalation_level, "finding_id": rec.finding_id, "adjustment_id": rec.adjustment_id,
            "conversation_id": rec.conversation_id,
            "events": [{"seq": e.seq, "kind": e.kind, "status": e.status, "at": _iso(e.at), "by": shown.person(e.actor),
                        "note": shown.text(e.note)} for e in rec.history],
        })
    return out


def _tickets(acc: Access, msisdn: str, shown: _Shown, since: datetime | None = None) -> list[dict[str, Any]]:
    t = table_of(TroubleTicket)
    out = []
    for r in acc.conn.execute(_from(select(t).where(t.c.msisdn == msisdn), t.c.opened_at, since).order_by(t.c.opened_at, t.c.ticket_id)):
        text = ticket_text(r.summary or "", r.category)
        out.append({
            "ticket_id": r.ticket_id, "category": r.category, "priority": r.priority, "status": r.status, "region": r.region,
            "opened_at": _iso(r.opened_at), "resolved_at": _iso(r.resolved_at), "conversation_id": text.conversation_id,
            "reported": shown.text(text.reported) or None, "asked_first": shown.text(text.asked_first),
            "conversation": [{"who": "subscriber" if x.who == "user" else "assistant", "text": shown.text(x.text)} for x in text.turns],
            "notes": [{"at": _iso(n.noted_at), "by": shown.person(n.author), "status": n.status, "note": shown.text(n.note)}
                      for n in ticket_notes(acc.conn, r.ticket_id)],
        })
    return out


def _churn(lake: Lake | None, msisdn: str) -> list[dict[str, Any]]:
    """The churn scores the retention list ranked the line by (automated profiling), per period."""
    if lake is None:
        return []
    out = []
    for period in lake.periods("retention"):
        for r in _read(lake, "retention", period, msisdn, ("churn_risk", "reasons")):
            out.append({"period": period, "churn_risk": r.get("churn_risk"), "reasons": r.get("reasons")})
    return out


def _access_log(acc: Access, msisdn: str, shown: _Shown, since: datetime | None = None) -> list[dict[str, Any]]:
    """Who read or changed the line's data: when, the reader's role, who (``_Shown.person``: the line's own logins as
    they are, anyone else as a keyed pseudonym), what they did and to what kind of record. The rows' reasons and
    the ids in their resources are left out: they may name other subscribers (as pseudonyms) and staff's cases."""
    a = table_of(AccessAudit)
    q = select(a.c.at, a.c.actor, a.c.role, a.c.action, a.c.resource).where(a.c.subject_msisdn_pseudonym == acc.pseudonyms.msisdn(msisdn))
    rows = acc.conn.execute(_from(q, a.c.at, since).order_by(a.c.at, a.c.audit_id))
    return [
        {"at": _iso(r.at), "role": r.role, "actor": shown.person(r.actor), "own_login": r.actor in shown.own, "action": r.action,
         "what": _what(str(r.resource))}
        for r in rows
    ]


def _what(resource: str) -> str:
    """The kind of record a row's resource names (``bill/2026-10``: ``bill``); a refusal's, the route asked for (its
    template: ``GET /api/v1/subscribers/{msisdn}``, never the number)."""
    return resource if " /" in resource else resource.split("/", 1)[0]


# ---- the zip: the export as JSON, and each list as a CSV ------------------------------------------------------
_CSV_SECTIONS = ("plan_history", "status_history", "adjustments", "consent_events", "subscriptions", "findings", "surveys",
                 "roaming_caps", "marketing_preferences", "churn_scores", "access_log")


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    return {k: json.dumps(v, ensure_ascii=False, sort_keys=True) if isinstance(v, dict | list) else v for k, v in row.items()}


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    names: list[str] = []
    for r in rows:
        names.extend(k for k in r if k not in names)
    w = csv.DictWriter(buf, fieldnames=names, lineterminator="\n")
    w.writeheader()
    w.writerows(_flat(r) for r in rows)
    return buf.getvalue()


def export_zip(export: dict[str, Any]) -> bytes:
    """The export as a zip: ``export.json`` (all of it) and a CSV for each list (bills and their lines, complaints
    and their events, tickets, usage months and records, and the sections named in ``_CSV_SECTIONS``)."""
    files: dict[str, str] = {"export.json": json.dumps(export, ensure_ascii=False, indent=2, sort_keys=True)}
    for name in _CSV_SECTIONS:
        files[f"{name}.csv"] = _csv(list(export.get(name) or []))
    bills = export.get("bills") or []
    files["bills.csv"] = _csv([{k: v for k, v in b.items() if k != "lines"} for b in bills])
    files["bill_lines.csv"] = _csv([{"bill_id": b["bill_id"], "period": b["period"], **ln} for b in bills for ln in b["lines"]])
    complaints = export.get("complaints") or []
    files["complaints.csv"] = _csv([{k: v for k, v in c.items() if k != "events"} for c in complaints])
    files["complaint_events.csv"] = _csv([{"complaint_id": c["complaint_id"], **e} for c in complaints for e in c["events"]])
    files["tickets.csv"] = _csv(list(export.get("tickets") or []))
    usage = export.get("usage") or {}
    files["usage_months.csv"] = _csv(list(usage.get("months") or []))
    files["usage_records.csv"] = _csv(list(usage.get("records") or []))
    files["loyalty.csv"] = _csv(list((export.get("loyalty") or {}).get("entries") or []))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()
