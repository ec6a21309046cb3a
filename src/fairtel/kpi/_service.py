"""Service indicators of one month, computed from plain facts (the CLI and the API gather them).

- complaints per million subscribers, overall and per category: the complaints opened in the period, through
  every channel, each once however often it is reopened, over the lines in service at some time in the period
  (:func:`lines_in_service`). No published target applies to them: the operators' figures (0.78 per million
  for unexplained charges) are appeal rates over a year to date, which ``kpi._complaint_report`` judges;
- SLA attainment of resolution terms: a complaint's opening and each reopening is an obligation to resolve
  it by its own deadline (the one stored for it; its category's under the policy for complaints stored
  without one), counted in the period it began: settled by that deadline, or still open and already late
  (missed); attainment is those settled in time over those settled or open past their deadline. A complaint
  whose outcome is not known (imported from an operator's file that gave none) is not judged: it is counted
  apart (``outcome_unknown``);
- how long settling took: median and 90th percentile hours of the terms settled, and the terms begun by a
  reopening (:func:`resolution_times`);
- NPS of the month's survey answers, once per respondent: each subscriber's latest answer of the month
  (``care.respondent_scores``), as the dashboard counts it, and per channel the answers came through
  (:func:`nps_figures`);
- the assistant: intent recognition rate (messages the intent engine judged that got an in-scope intent at
  or above the confidence threshold), containment (conversations closed without a human) and hand-off rate.
  The recognition rate is coverage, not accuracy: live turns carry no labels, so a wrong intent counts as
  recognised and a rightly rejected out-of-scope message as a miss; the engine's accuracy is measured apart,
  on labelled held-out messages (``bench/eval_intents.py``, docs/assistant.md);
- unexplained-charge findings (:func:`unexplained_findings`: the charge kinds only), the amount at stake, the
  amount still at risk (:func:`amount_at_risk`), and the refunds made;
- rating timeliness: the share of records rated within 15 minutes of arrival, when rated data carries both
  instants.

Ratios are Decimals rounded half-up for display (4 places for shares, 2 for per-million rates); counts
stay integers, so every ratio can be checked against them.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any

from fairtel.care import DEFAULT_SLA, ComplaintCategory, ResolutionTerm, SlaPolicy, SurveyAnswer, nps, resolve_due
from fairtel.care._surveys import latest_answers
from fairtel.core.money import Money
from fairtel.core.time import require_aware

MILLION = 1_000_000
# Unexplained-charge appeals (申诉, lodged with the regulator) per million subscribers over a year to date, as China
# Unicom published it for 2017: an appeal rate, the target of ``fairtel kpi complaints``, not a month's complaint rate.
UNEXPLAINED_CHARGE_REFERENCE = Decimal("0.78")
# Findings about one charge a subscriber should not pay: the money of the indicators. The other kinds
# (machine-speed confirmation, replayed evidence, bill shock...) are signals about a subscription or a bill
# whose amounts are offer prices or bill totals: added in, one subscription's money would count twice.
UNEXPLAINED_FINDINGS = frozenset(
    {"unconsented_charge", "charge_after_cancellation", "duplicate_charge", "price_mismatch", "unknown_offer_charge",
     "merchant_suspended_charge"}
)
# A finding still at risk: not yet resolved (refunded, corrected) nor dismissed.
AT_RISK_STATUSES = frozenset({"open", "confirmed"})
TIMELINESS_WINDOW = timedelta(minutes=15)
# money reported with no currency given nor any in the facts (nothing was refunded or found): the settings' default
DEFAULT_CURRENCY = "CNY"


@dataclass(frozen=True, slots=True)
class ComplaintFact:
    """A complaint as the indicators see it. ``terms``: its resolution terms (the opening, then each
    reopening, with their deadlines and settlements, as ``fairtel.store.complaint_facts`` reads them from its
    history); without them the complaint is one term, from ``opened_at`` to ``due_at``, settled at
    ``closed_at``."""

    complaint_id: str
    category: str
    channel: str
    opened_at: datetime  # when first opened
    closed_at: datetime | None = None  # when last settled (resolved or closed); None while open or reopened
    due_at: datetime | None = None  # the resolution deadline stored with the complaint (its current term's)
    terms: tuple[ResolutionTerm, ...] = ()
    # False: whether and when it was settled is not known here (imported from an operator's file that gave no
    # outcome, and not moved since): SLA attainment does not judge it
    outcome_known: bool = True


@dataclass(frozen=True, slots=True)
class LineFact:
    """A line of the register, for the subscribers behind per-million rates."""

    activated_at: datetime
    status: str  # active, suspended, closed
    closed_at: datetime | None = None  # when a closed line left service (None: not closed, or not known)


@dataclass(frozen=True, slots=True)
class FindingFact:
    """A finding, or ``count`` findings of the same kind, currency and status whose amounts sum to
    ``amount_minor`` (a database's totals by group). ``status`` None: not known (counted as open, the status
    a finding is raised with)."""

    kind: str
    amount_minor: int | None
    currency: str | None
    status: str | None = None
    count: int = 1
    # what became of the charge: True, an issued bill charged it (the subscriber paid it, unconsented); False, the
    # consent gate refused it and no bill took it (blocked); None, neither known (rated billable and on no issued bill
    # yet, or not looked up: a database's totals by group)
    billed: bool | None = None


@dataclass(frozen=True, slots=True)
class RefundFact:
    amount_minor: int
    currency: str
    finding_id: str | None = None


@dataclass(frozen=True)
class KpiInputs:
    """Everything of one period (``YYYY-MM``) the indicators need. ``turns`` are the conversation log's
    records (``intent``, ``confidence``, ``classified``, ``out_of_scope``, ``conversation_id``,
    ``handed_off``, ``language``); ``timeliness`` pairs (arrived_at, rated_at) or None when rated data does
    not carry them. ``survey_answers``: the period's NPS answers, each with its respondent, of which each
    respondent's latest counts; ``survey_scores``: scores already one per respondent (counted as given)."""

    period: str
    subscribers: int
    now: datetime
    complaints: Sequence[ComplaintFact] = ()
    survey_scores: Sequence[int] = ()
    survey_answers: Sequence[SurveyAnswer] = ()
    turns: Sequence[Mapping[str, Any]] = ()
    findings: Sequence[FindingFact] = ()
    refunds: Sequence[RefundFact] = ()
    timeliness: Sequence[tuple[datetime, datetime] | tuple[datetime, datetime, int]] | None = None
    # the currency amounts are reported in: the catalog's, which rating charges and refunds are in
    # (``catalog_currency``); None: the one the period's refunds and findings are in (``facts_currency``)
    currency: str | None = None
    # the period's bounds: complaints opened, and terms begun, outside them are not of the period (None: all
    # the facts given are)
    start: datetime | None = None
    end: datetime | None = None


def share(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def per_million(count: int, subscribers: int) -> Decimal | None:
    if subscribers <= 0:
        return None
    return (Decimal(count) * MILLION / Decimal(subscribers)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _within(at: datetime, start: datetime | None, end: datetime | None) -> bool:
    """``at`` in [start, end), compared as instants; an open bound does not limit."""
    t = require_aware(at, "at").astimezone(UTC)
    return (start is None or t >= start.astimezone(UTC)) and (end is None or t < end.astimezone(UTC))


def _once(complaints: Sequence[ComplaintFact]) -> list[ComplaintFact]:
    """Each complaint once (the first fact given of it), however many facts name it."""
    first: dict[str, ComplaintFact] = {}
    for c in complaints:
        first.setdefault(c.complaint_id, c)
    return list(first.values())


def lines_in_service(lines: Sequence[LineFact], start: datetime, end: datetime) -> int:
    """Lines in service at some time in [start, end): activated before its end and closed after its start
    (``closed_at`` is the first instant out of service, as billing reads it: a line closed at 00:00 on the 1st has
    no fee that month, and is not in service in it; a closed line whose closing is not known counts as gone). The
    denominator of per-million rates: a complaint of the period comes from one of these lines, and closing a line
    later does not change a past period's count."""
    return lines_in_service_by_period(lines, [(start, end)])[0]


def lines_in_service_at(lines: Iterable[LineFact], at: datetime) -> int:
    """Lines in service up to the instant ``at``, an end (a month's ``Period.end``, the first instant not in it),
    over the last instant before it: activated before ``at`` and closed at it or after (``closed_at`` is the first
    instant out of service, as billing reads it: a line closed at 00:00 on the 1st served the whole month before,
    has that month's fee and none after; a closed line whose closing is not known counts as gone). The user base
    operators publish rates over ("截至…年底", the lines at the end of the period), the denominator of a
    year-to-date appeal rate."""
    t = require_aware(at, "at").astimezone(UTC)
    n = 0
    for line in lines:
        if require_aware(line.activated_at, "activated_at").astimezone(UTC) >= t:
            continue
        gone = line.status == "closed" and (
            line.closed_at is None or require_aware(line.closed_at, "closed_at").astimezone(UTC) < t)
        n += not gone
    return n


def lines_in_service_by_period(lines: Iterable[LineFact], periods: Sequence[tuple[datetime, datetime]]) -> list[int]:
    """:func:`lines_in_service` of each period (start, end) of ``periods``, in their order, the lines read once
    (a register of millions of lines over many months: sorted once, then a search per period)."""
    since: list[datetime] = []  # lines not closed: when activated
    left: list[tuple[datetime, datetime]] = []  # closed lines whose closing is known: activated, closed
    for line in lines:
        activated = require_aware(line.activated_at, "activated_at").astimezone(UTC)
        if line.status != "closed":
            since.append(activated)
        elif line.closed_at is not None:
            left.append((activated, require_aware(line.closed_at, "closed_at").astimezone(UTC)))
    since.sort()
    out: list[int] = []
    for start, end in periods:
        s, e = require_aware(start, "start").astimezone(UTC), require_aware(end, "end").astimezone(UTC)
        out.append(bisect_left(since, e) + sum(1 for activated, closed in left if activated < e and closed > s))
    return out


def complaint_rates(
    complaints: Sequence[ComplaintFact], subscribers: int, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Complaints opened in [start, end) (every one given when both are None), each counted once: a
    reopening is not a new complaint."""
    opened = [c for c in _once(complaints) if _within(c.opened_at, start, end)]
    by_category = Counter(c.category for c in opened)
    unexplained = by_category.get(ComplaintCategory.UNEXPLAINED_CHARGE.value, 0)
    return {
        "total": len(opened),
        "per_million": _text(per_million(len(opened), subscribers)),
        "by_category": {
            cat: {"count": n, "per_million": _text(per_million(n, subscribers))} for cat, n in sorted(by_category.items())
        },
        "unexplained_charge": unexplained,
        "unexplained_charge_per_million": _text(per_million(unexplained, subscribers)),
    }


def complaint_terms(complaint: ComplaintFact, policy: SlaPolicy = DEFAULT_SLA) -> tuple[ResolutionTerm, ...]:
    """The resolution terms of a complaint: those given, else one from its opening to its stored deadline
    (its category's under ``policy`` when it has none)."""
    if complaint.terms:
        return complaint.terms
    due = complaint.due_at if complaint.due_at is not None else resolve_due(complaint.category, complaint.opened_at, policy)
    return (ResolutionTerm(complaint.opened_at, due, complaint.closed_at, reopened=False),)


def sla_attainment(
    complaints: Sequence[ComplaintFact], now: datetime, policy: SlaPolicy = DEFAULT_SLA, *,
    start: datetime | None = None, end: datetime | None = None,
) -> dict[str, Any]:
    """Resolution terms begun in [start, end) (all of them when both are None): settled by their deadline
    (``resolved``: settled at all), or open and past it. A reopened complaint is a new obligation in the
    period of its reopening, judged by the deadline the reopening set; the terms before it keep their own
    deadline and outcome. The deadline is the one stored, else the category's under ``policy``.

    ``attainment`` is the share of the terms already judged that were settled by their deadline: those settled
    (in time or late) and those still open past their deadline, which have missed it whenever they are
    settled. A term open and not yet due is not judged yet. A month whose complaints all lie open past their
    deadlines attains 0, not "nothing to judge". The terms of a complaint whose outcome is not known
    (``outcome_known`` False) are neither: they are counted in ``outcome_unknown`` (given when there are any)
    and left out of the rest."""
    now = require_aware(now, "now").astimezone(UTC)
    resolved = in_time = overdue = terms = unknown = 0
    for c in _once(complaints):
        for t in complaint_terms(c, policy):
            if not _within(t.started_at, start, end):
                continue
            if not c.outcome_known:
                unknown += 1
                continue
            terms += 1
            # elapsed hours and instants compared in UTC: the operator's zone may change its clocks
            due = t.due_at.astimezone(UTC)
            if t.settled_at is not None:
                resolved += 1
                in_time += t.settled_at.astimezone(UTC) <= due
            elif now > due:
                overdue += 1
    # judged: settled, or past the deadline while open (missed, however it ends)
    out: dict[str, Any] = {"resolved": resolved, "resolved_in_time": in_time,
                           "attainment": _text(share(in_time, resolved + overdue)), "open": terms - resolved,
                           "open_overdue": overdue}
    if unknown:  # only where there are any: the figure keeps its shape for complaints whose outcomes are known
        out["outcome_unknown"] = unknown
    return out


def _rank(values: list[Decimal], q: Decimal) -> Decimal | None:
    """The ``q`` quantile of ``values`` by nearest rank (the smallest value with at least ``q`` of them at or
    below it); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    k = int((q * len(ordered)).to_integral_value(rounding=ROUND_CEILING))
    return ordered[max(1, k) - 1]


def _hours(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def resolution_times(
    complaints: Sequence[ComplaintFact], policy: SlaPolicy = DEFAULT_SLA, *,
    start: datetime | None = None, end: datetime | None = None,
) -> dict[str, Any]:
    """How long settling took, over the resolution terms begun in [start, end) whose outcome is known (as
    ``sla_attainment`` counts them): ``median_hours`` and ``p90_hours`` of the terms settled (hours from the term's
    start to its settlement, nearest rank; None when none was), ``settled`` (how many), ``terms``, and ``reopened``:
    the terms begun by a reopening, a complaint its subscriber did not accept as settled (``reopen_share`` of the
    terms)."""
    took: list[Decimal] = []
    terms = reopened = 0
    for c in _once(complaints):
        if not c.outcome_known:
            continue
        for t in complaint_terms(c, policy):
            if not _within(t.started_at, start, end):
                continue
            terms += 1
            reopened += t.reopened
            if t.settled_at is not None:  # elapsed time in UTC: the operator's zone may change its clocks
                seconds = (t.settled_at.astimezone(UTC) - t.started_at.astimezone(UTC)).total_seconds()
                took.append(Decimal(max(0, int(seconds))) / 3600)
    return {"terms": terms, "settled": len(took), "median_hours": _hours(_rank(took, Decimal("0.5"))),
            "p90_hours": _hours(_rank(took, Decimal("0.9"))), "reopened": reopened,
            "reopen_share": _text(share(reopened, terms))}


def assistant_figures(
    turns: Sequence[Mapping[str, Any]], *, oos_label: str = "out_of_scope", threshold: float = 0.0
) -> dict[str, Any]:
    """Recognition: of the messages the intent engine judged, the share given an in-scope intent with
    confidence ≥ ``threshold``, right or wrong (coverage: the turns carry no true intent, so this is no
    accuracy; with ``threshold`` 0 and an engine that rejects nothing it is 1). Containment: conversations that
    never reached a human."""
    judged = [t for t in turns if t.get("classified")]
    recognised = [
        t for t in judged
        if not t.get("out_of_scope") and t.get("intent") not in (None, oos_label)
        and float(t.get("confidence") or 0.0) >= threshold
    ]
    conversations: dict[str, bool] = {}
    for t in turns:
        cid = str(t.get("conversation_id"))
        conversations[cid] = conversations.get(cid, False) or bool(t.get("handed_off"))
    handed = sum(conversations.values())
    by_language: dict[str, dict[str, Any]] = {}
    for lang in sorted({str(t.get("language")) for t in judged}):
        j = [t for t in judged if t.get("language") == lang]
        r = [t for t in recognised if t.get("language") == lang]
        by_language[lang] = {"messages": len(j), "recognised": len(r), "recognition_rate": _text(share(len(r), len(j)))}
    return {
        "messages": len(turns),
        "classified": len(judged),
        "recognised": len(recognised),
        "recognition_rate": _text(share(len(recognised), len(judged))),
        "by_language": by_language,
        "conversations": len(conversations),
        "handed_off": handed,
        "containment_rate": _text(share(len(conversations) - handed, len(conversations))),
        "handoff_rate": _text(share(handed, len(conversations))),
    }


def unexplained_findings(findings: Iterable[FindingFact]) -> list[FindingFact]:
    """The findings the indicators count, `fairtel kpi` and the dashboard alike: the charge kinds
    (``UNEXPLAINED_FINDINGS``), each about money a subscriber should not have paid."""
    return [f for f in findings if f.kind in UNEXPLAINED_FINDINGS]


def amount_at_risk(findings: Iterable[FindingFact], currency: str) -> int:
    """Minor units of ``currency`` of the unexplained-charge findings still open or confirmed (status not
    known counts as open): the dashboard's revenue at risk."""
    return sum(f.amount_minor or 0 for f in unexplained_findings(findings)
               if f.currency in (None, currency) and (f.status is None or f.status in AT_RISK_STATUSES))


def _by_currency(findings: Iterable[FindingFact], currency: str) -> dict[str, str]:
    """The findings' amounts summed per currency (one without a currency is in ``currency``), the operator's first:
    amounts in different currencies are never added together."""
    sums: dict[str, int] = {currency: 0}
    for f in findings:
        cur = f.currency or currency
        sums[cur] = sums.get(cur, 0) + (f.amount_minor or 0)
    return {cur: str(Money.from_minor(units, cur).amount) for cur, units in sums.items() if units or cur == currency}


def _outcome(findings: Sequence[FindingFact], currency: str) -> dict[str, Any]:
    return {"findings": sum(f.count for f in findings), "amounts": _by_currency(findings, currency)}


def charge_figures(findings: Sequence[FindingFact], refunds: Sequence[RefundFact], currency: str) -> dict[str, Any]:
    """The unexplained-charge findings (:func:`unexplained_findings`), by kind, with the amount at stake (all of
    them, whatever became of them since), and the refunds made.

    ``amount_at_stake`` is in ``currency`` (the operator's) alone; ``amounts_at_stake`` gives every currency the
    findings are in (a charge in another currency than its offer's, say), none added to another. The findings are
    split by what became of their charges (``FindingFact.billed``): ``billed`` (an issued bill charged it: money the
    subscriber paid without consent), ``blocked`` (the consent gate refused it, no bill took it: nothing was paid)
    and ``not_billed_yet`` (neither: rated billable and on no issued bill yet, or not known)."""
    unexplained = unexplained_findings(findings)
    at_stake = sum(f.amount_minor or 0 for f in unexplained if f.currency in (None, currency))
    refunded = sum(r.amount_minor for r in refunds if r.currency == currency)
    by_kind: Counter[str] = Counter()
    for f in unexplained:
        by_kind[f.kind] += f.count
    return {
        "unexplained_findings": sum(f.count for f in unexplained),
        "by_kind": dict(sorted(by_kind.items())),
        "amount_at_stake": str(Money.from_minor(at_stake, currency).amount),
        "amounts_at_stake": _by_currency(unexplained, currency),
        "billed": _outcome([f for f in unexplained if f.billed is True], currency),
        "blocked": _outcome([f for f in unexplained if f.billed is False], currency),
        "not_billed_yet": _outcome([f for f in unexplained if f.billed is None], currency),
        "refunds": len(refunds),
        "refunds_for_findings": sum(1 for r in refunds if r.finding_id),
        "refunded": str(Money.from_minor(refunded, currency).amount),
        "currency": currency,
    }


def rating_timeliness(
    pairs: Sequence[tuple[datetime, datetime] | tuple[datetime, datetime, int]] | None,
    within: timedelta = TIMELINESS_WINDOW,
) -> dict[str, Any] | None:
    """Share of records rated within ``within`` of their arrival; ``pairs``: (arrived, rated) per record, or
    (arrived, rated, records) per file."""
    if pairs is None:
        return None
    total = on_time = 0
    for p in pairs:
        n = p[2] if len(p) == 3 else 1
        total += n
        on_time += n if p[1].astimezone(UTC) - p[0].astimezone(UTC) <= within else 0  # elapsed, not wall-clock
    return {"records": total, "within_window": on_time, "window_minutes": int(within.total_seconds() // 60),
            "share": _text(share(on_time, total))}


@dataclass(frozen=True)
class KpiReport:
    period: str
    subscribers: int
    complaints: dict[str, Any]
    sla: dict[str, Any]
    nps: dict[str, Any]
    assistant: dict[str, Any]
    charges: dict[str, Any]
    rating_timeliness: dict[str, Any] | None
    notes: list[str] = field(default_factory=list)
    resolution: dict[str, Any] = field(default_factory=dict)  # ``resolution_times``

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period, "subscribers": self.subscribers, "complaints": self.complaints, "sla": self.sla,
            "resolution": self.resolution, "nps": self.nps, "assistant": self.assistant, "charges": self.charges,
            "rating_timeliness": self.rating_timeliness, "notes": list(self.notes),
        }


def nps_figures(inputs: KpiInputs) -> dict[str, Any]:
    """NPS of the period: each respondent's latest answer of the period once (with ``survey_scores`` as given),
    and ``by_channel``: the same answers' NPS per channel they came through (each respondent in the channel of their
    latest answer, so the channels add up to the whole; scores given without answers have no channel)."""
    answers = latest_answers(a for a in inputs.survey_answers if _within(a.answered_at, inputs.start, inputs.end))
    out = nps([*inputs.survey_scores, *(a.score for a in answers)]).to_dict()
    channels: dict[str, list[int]] = {}
    for a in answers:
        channels.setdefault(a.channel, []).append(a.score)
    out["by_channel"] = {c: nps(scores).to_dict() for c, scores in sorted(channels.items())}
    return out


def facts_currency(findings: Iterable[FindingFact], refunds: Iterable[RefundFact]) -> str | None:
    """The currency most of ``refunds`` are in (refunds are made in the currency bills are), else most of the
    findings with an amount (ties: the first by code); None: none of them names one."""
    for named in ([r.currency for r in refunds], [f.currency for f in findings if f.currency]):
        counts = Counter(c for c in named if c)
        if counts:
            return min(counts, key=lambda c: (-counts[c], c))
    return None


def compute_kpis(
    inputs: KpiInputs, *, sla: SlaPolicy = DEFAULT_SLA, oos_label: str = "out_of_scope", threshold: float = 0.0
) -> KpiReport:
    notes: list[str] = []
    if inputs.subscribers <= 0:
        notes.append("no subscribers in the period: per-million rates are undefined")
    if inputs.timeliness is None:
        notes.append("no file of this period was rated online (fairtel watch --rate): rating timeliness not measured")
    attainment = sla_attainment(inputs.complaints, inputs.now, sla, start=inputs.start, end=inputs.end)
    if attainment.get("outcome_unknown"):
        notes.append(f"{attainment['outcome_unknown']} complaint term(s) of the period have no known outcome (imported "
                     "without one): left out of SLA attainment")
    currency = inputs.currency or facts_currency(inputs.findings, inputs.refunds) or DEFAULT_CURRENCY
    charges = charge_figures(inputs.findings, inputs.refunds, currency)
    others = {c: v for c, v in charges["amounts_at_stake"].items() if c != currency}
    if others:
        notes.append(f"amount_at_stake counts {currency} alone; findings in other currencies are at stake too: "
                     + ", ".join(f"{v} {c}" for c, v in others.items()) + " (amounts_at_stake)")
    return KpiReport(
        period=inputs.period,
        subscribers=inputs.subscribers,
        complaints=complaint_rates(inputs.complaints, inputs.subscribers, start=inputs.start, end=inputs.end),
        sla=attainment,
        nps=nps_figures(inputs),
        assistant=assistant_figures(inputs.turns, oos_label=oos_label, threshold=threshold),
        charges=charges,
        rating_timeliness=rating_timeliness(inputs.timeliness),
        notes=notes,
        resolution=resolution_times(inputs.complaints, sla, start=inputs.start, end=inputs.end),
    )
