"""Explain a rated record: record → plan → rule → rate steps → allowance before/after → amount, in zh or en.

Works on frames (a record's rated lines and, when available, its usage row); the CLI finds them in the lake.
Each charged line's step arithmetic is recomputed with ``charge_line`` from the catalog, and the explanation
says whether it agrees with the stored amount (a daily cap may differ; so does a catalog other than the one that
priced the line, which is why a caller passes the version that priced the bill). A correction issued for the
record after its bill (a rerate after a tariff change: ``Correction``) is told after the total, so that what
the subscriber was charged and what the record costs now both add up.

``render`` words the chain as the operator's statement to the subscriber: the catalog's names in the reader's
language, quantities and prices in words, parts numbered from 1, numbers masked (``mask_msisdn``) unless the
caller may see them. The codes (rule, rate, zone, band and allowance ids, the rounding) stay in ``to_dict``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import polars as pl

from fairtel.catalog import Catalog, Name
from fairtel.core.errors import FairtelError, NotFoundError
from fairtel.core.money import Money, Rounding, minor_units
from fairtel.core.reasons import refund_reason_in
from fairtel.core.time import Period, zone
from fairtel.privacy import mask_msisdn
from fairtel.rating._countries import country_name
from fairtel.rating._steps import CompiledRate, charge_line, compile_rate


@dataclass(frozen=True, slots=True)
class StepText:
    step: int
    units: int
    billed: int
    drawn: int
    charged: int
    rate: str  # decimal string
    rate_unit: int
    increment: int
    cost: str  # decimal string, before the line's rounding
    # a rate with ``increment_decimals`` (CGRateS): what one increment costs, rounded half up to those decimals
    # before the charged increments are added up (decimal string), and the decimals; None for exact arithmetic
    increment_cost: str | None = None
    increment_decimals: int | None = None


@dataclass(frozen=True, slots=True)
class CapText:
    """A cap that lowered a line's amount after its rounding, in the order rating applies them: the rate's
    ``max_cost`` (``max_cost``: a line costs at most that; ``call_max_cost``: a call cut at band changes costs at most
    that in all its parts, ``spent_minor`` in the parts before this one), then the rule's ``daily_cap`` (at most that a
    local ``day`` under the rule). ``amount_minor``: the line's amount once this cap applied."""

    kind: str  # max_cost, call_max_cost or daily_cap
    limit: str  # decimal string, in the line's currency
    limit_minor: int
    amount_minor: int
    spent_minor: int | None = None  # call_max_cost: what the call's parts before this one cost
    day: str | None = None  # daily_cap: the local day (YYYY-MM-DD) the cap counts


@dataclass(frozen=True, slots=True)
class ExplainedLine:
    line: int  # as stored: 0, 1, ... (the statement numbers parts from 1)
    started_at: datetime
    offset: int
    quantity: int
    unit: str
    rule_id: str | None
    rule_name: str | None  # what the rule matches, for engineers: "voice · out · zones domestic"
    rate_id: str | None
    rate_name: str | None
    zone: str | None
    zone_name: str | None
    roaming_zone: str | None
    band: str | None
    band_name: str | None
    allowance_id: str | None
    allowance_before: int | None
    allowance_used: int
    allowance_after: int | None
    allowance_quantity: int | None
    charged_quantity: int
    steps: tuple[StepText, ...]
    connect_fee: str
    unrounded: str
    rounding: str | None
    amount: str
    amount_minor: int
    capped: bool
    throttled: bool
    verdict: str | None
    subscription_id: str | None
    recomputed_minor: int | None  # what the catalog explained with gives; None when not a priced line
    rate_steps: int = 0  # how many steps the rate has (the statement numbers them only when several)
    # the catalog's names of what the line names ("rule", "rate", "zone", "roaming_zone", "band", "allowance",
    # "offer"), in both languages: the statement's words; an entry without a name in the catalog is left out
    labels: dict[str, Name] = field(default_factory=dict)
    rounded_minor: int | None = None  # the rounded amount before any cap (None when not a priced line)
    caps: tuple[CapText, ...] = ()  # the caps that lowered it, in the order applied


LATE_CODES = frozenset({"late-usage", "late-vas"})  # reason codes of entries charging a record after its bill
# the reason code of an entry crediting a record of the previous customer's, billed to the line's current customer
# before the owner change (过户) was known (billing's ``holding-record``, among ``billing.HOLDING_CODES``); its ``since``
# parameter is the change's day
OWNER_CHANGE_CODE = "holding-record"


@dataclass(frozen=True, slots=True)
class Correction:
    """An adjustment entry issued for the record after its bill. A rerate (the record priced again after a
    tariff change) has ``old_minor`` → ``new_minor``, before tax; an entry charging a record the bill did not
    hold has only ``new_minor``. ``amount_minor`` is what the entry adds to the subscriber's bill, tax included:
    negative for a credit."""

    adjustment_id: str
    amount_minor: int
    created_at: datetime
    old_minor: int | None = None
    new_minor: int | None = None
    # the period of the bill that carries the entry, once one does (before: "on your next bill")
    carried_in: str | None = None
    # the entry's reason as stored (billing's ``encode_reason``: a code, then parameters), when the caller has it: a
    # record rated after its bill (``late-usage``, ``late-vas``) is stored with ``old_minor`` 0, not empty, and only
    # the code tells it from a billed record priced again from 0
    reason: str | None = None

    @property
    def late(self) -> bool:
        """Whether the entry charges a record its bill did not hold (rated after it), by its reason's code."""
        return self.reason is not None and self.reason.split(" ", 1)[0] in LATE_CODES

    @property
    def owner_change(self) -> str | None:
        """The day the line moved to its current customer (``YYYY-MM-DD``) when the entry credits a record of the
        previous customer's (``OWNER_CHANGE_CODE``), else None ("" when the reason does not say the day)."""
        if self.reason is None or self.reason.split(" ", 1)[0] != OWNER_CHANGE_CODE:
            return None
        since = next((t.partition("=")[2] for t in self.reason.split(" ")[1:] if t.startswith("since=")), "")
        return unquote(since)


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund posted for the record after its bill, because a finding of charge assurance (or an agent acting on
    one) showed it should not have been charged: ``amount_minor`` what was given back, tax included; ``reason`` as
    stored (English; ``core.reasons`` words it in Chinese); ``records`` how many records the refund covers, this one
    among them (a refund of usage past a cap covers several)."""

    adjustment_id: str
    amount_minor: int
    currency: str
    created_at: datetime
    reason: str
    records: int = 1
    # what the refund's finding names (oldest first) and the charge it refunded before tax, when known: with them
    # ``explain`` tells this record's own share of a refund covering several (``share_minor``, tax included)
    record_ids: tuple[str, ...] = ()
    charge_minor: int | None = None
    share_minor: int | None = None


PAST_CAP_REASON = "usage charged after the spending cap"  # ``assurance.refund_reason`` of usage past a cap


def with_share(r: Refund, record_id: str, own_minor: int) -> Refund:
    """``r`` with this record's share of it (``share_minor``, tax included in the refund's proportion), where it
    can be told: a refund of one record is wholly its; of usage past a cap, a record after the first the finding
    names was charged wholly past the cap, so its share is its charge (``own_minor``, before tax). The first
    record may have been charged partly before the cap: its share is not told (nor of other refunds of several)."""
    if r.share_minor is not None:
        return r
    if r.records <= 1:
        return replace(r, share_minor=r.amount_minor)
    if (r.reason.strip() != PAST_CAP_REASON or record_id not in r.record_ids or record_id == r.record_ids[0]
            or not r.charge_minor or r.charge_minor <= 0 or own_minor <= 0):
        return r
    charge = min(own_minor, r.charge_minor)
    share = (Decimal(charge) * Decimal(r.amount_minor) / Decimal(r.charge_minor)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return replace(r, share_minor=int(share))


def refund_words(r: Refund, language: str, tz: Any = None) -> str:
    """``2026-11-05 已退还 10.60 元（退订后的扣费），计入此后出具的首张账单`` / ``refunded 10.60 CNY on 2026-11-05 (charge
    after the subscription ended), credited on the first bill issued after that day``: the day in ``tz`` (the
    operator's zone) when given. A refund covering several records tells this record's share of it when known
    (``with_share``); else the whole refund, as one for several records, this one among them."""
    zh = language == "zh"
    at = r.created_at if tz is None else r.created_at.astimezone(tz)
    day, amount = at.strftime("%Y-%m-%d"), _minor(r.amount_minor, r.currency, zh)
    why = refund_reason_in(r.reason, "zh" if zh else "en")
    bill = "，计入此后出具的首张账单" if zh else ", credited on the first bill issued after that day"
    if r.records > 1 and r.share_minor is not None:
        share = _minor(r.share_minor, r.currency, zh)
        why += (f"；为共 {amount}、{r.records} 条话单的退款中本话单的部分" if zh
                else f"; this record's share of a {amount} refund for {r.records} records")
        return f"{day} 已退还 {share}（{why}）{bill}" if zh else f"refunded {share} on {day} ({why}){bill}"
    if r.records > 1:
        why += f"；含本话单在内共 {r.records} 条话单的退款" if zh else f"; for {r.records} records, this one among them"
        return f"{day} 退款 {amount}（{why}）{bill}" if zh else f"a refund of {amount} on {day} ({why}){bill}"
    return f"{day} 已退还 {amount}（{why}）{bill}" if zh else f"refunded {amount} on {day} ({why}){bill}"


@dataclass(frozen=True)
class Explanation:
    record_id: str
    source: str
    msisdn: str
    kind: str
    period: str
    started_at: datetime
    plan_id: str
    plan_name: Name | None
    currency: str
    total_minor: int
    lines: tuple[ExplainedLine, ...]
    record: dict[str, Any] = field(default_factory=dict)
    corrections: tuple[Correction, ...] = ()
    catalog_version: str | None = None  # the catalog's own ``version`` string
    catalog_version_id: int | None = None  # the stored catalog version explained with (a caller says)
    earlier_tariff: bool = False  # explained with the tariff the bill was issued under, since replaced
    # with the home's catalog now at hand (``current``): what priced this record that has changed since, each (zh, en);
    # empty when nothing that priced it did (the plan's fee, other plans and other rules are not this record's price)
    tariff_changes: tuple[tuple[str, str], ...] = ()
    tariff_compared: bool = False  # whether ``tariff_changes`` was worked out (a caller gave the catalog now)
    # the record's lines as priced again by a rerate (``repriced``), explained with the catalog now: the correction's
    # pricing, told after it; empty when not given
    repriced: tuple[ExplainedLine, ...] = ()
    refunds: tuple[Refund, ...] = ()  # refunds posted for the record since, oldest first
    # the record is a call back to a one-ring (Wangiri) scam number, whose subscriber was warned (``fraud detect``)
    wangiri_caller: str | None = None
    # a value-added charge whose confirmation charge assurance holds in doubt: the kind of the open finding naming the
    # record (``machine_speed_confirmation``: confirmed too fast to be a person's), as a caller that reads findings
    # says (this layer reads none); the charge is then told as under review, never as a confirmed order
    consent_review: str | None = None

    @property
    def held(self) -> str | None:
        """Why the usage is held off the bill (``HoldReason``), or None: billed as usual (a VAS charge's verdict is
        the consent gate's, not a hold, but for the bill run's holds of a consented charge, ``HELD_VAS_WORDS``)."""
        return next((ln.verdict for ln in self.lines
                     if (ln.verdict in HELD_VAS_WORDS if ln.unit == "item" else ln.verdict in HELD_WORDS)),
                    None)

    @property
    def total(self) -> Decimal:
        return Money.from_minor(self.total_minor, self.currency).amount

    @property
    def agrees(self) -> bool:
        """Whether the catalog explained with gives every priced line its stored amount (a capped line aside)."""
        return all(ln.recomputed_minor is None or ln.capped or ln.recomputed_minor == ln.amount_minor
                   for ln in self.lines)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["plan_name"] = None if self.plan_name is None else {"zh": self.plan_name.zh, "en": self.plan_name.en}
        out["total"] = str(self.total)
        out["held"] = self.held
        return out

    def render(self, language: str = "en", *, plain_numbers: bool = False) -> str:
        """The statement in ``language`` (zh or en). Numbers (the subscriber's, the other party's) are masked as
        on every other reply unless ``plain_numbers``: for a caller allowed to see them in clear."""
        return _render(self, language == "zh", plain_numbers)


def _decimal(f: Fraction) -> str:
    d = Decimal(f.numerator) / Decimal(f.denominator)
    return format(d.normalize(), "f") if d else "0"


def explain(
    record_id: str,
    *,
    rated: pl.DataFrame,
    catalog: Catalog,
    usage: pl.DataFrame | None = None,
    source: str | None = None,
    corrections: Iterable[Correction] = (),
    catalog_version_id: int | None = None,
    earlier_tariff: bool = False,
    refunds: Iterable[Refund] = (),
    current: Catalog | None = None,
    repriced: pl.DataFrame | None = None,
    consent_review: str | None = None,
) -> Explanation:
    """The chain behind a record's rated lines. ``rated`` may hold other records; only this one's are read: rated
    lines (``RATED_COLUMNS``), or the lines a bill was issued from (billing's snapshot, which keeps fewer columns:
    the rate is then the rule's, the offset of a call's piece its distance from the call's start, the roaming zone
    the one rating placed the country in (none at home), a cap the one the tariff shows, and the allowance used
    before the line is not known).
    ``catalog``: the one the lines were priced with (the version the bill was issued under, when it was);
    ``corrections``: the entries issued for the record since (oldest first); ``catalog_version_id`` and
    ``earlier_tariff`` say which stored version ``catalog`` is, and that it has been replaced since; ``refunds``: the
    refunds posted for the record since its bill (``Refund``), told after the total. ``current``: with
    ``earlier_tariff``, the home's catalog now: the explanation then says the tariff has changed only where what
    priced this record did (its rule, the rule's rate, the allowances it may draw on: ``tariff_changes``), and what.
    ``repriced``: the record's lines as a rerate priced them since (the lake's rated lines, when they are not the bill's),
    explained with ``current`` (else ``catalog``) and told after the correction, which says what made the new amount.
    ``consent_review``: the kind of an open charge-assurance finding about the record's confirmation (the caller reads
    the findings; ``Explanation.consent_review``)."""
    corrections = tuple(corrections)
    again: tuple[ExplainedLine, ...] = ()
    mine = rated.filter(pl.col("record_id") == record_id)
    if source is not None:
        mine = mine.filter(pl.col("source") == source)
    if repriced is not None and corrections and mine.height and mine["source"].n_unique() == 1:
        theirs = repriced.filter((pl.col("record_id") == record_id) & (pl.col("source") == mine["source"][0]))
        if theirs.height:
            again = explain(record_id, rated=theirs, catalog=current or catalog, source=source).lines
    if mine.height == 0:
        raise NotFoundError(f"no rated line for record {record_id!r}", details={"record_id": record_id})
    sources = mine["source"].unique().to_list()
    if len(sources) > 1:
        raise NotFoundError(f"record {record_id!r} exists in several sources ({', '.join(sorted(sources))}); name one",
                            details={"record_id": record_id, "sources": sorted(sources)})
    rows = _complete(mine.sort("line").to_dicts(), catalog)
    first = rows[0]
    currency = first["currency"]
    exp = minor_units(currency)
    plan = next((p for p in catalog.plans if p.id == first["plan_id"]), None)
    allowances = {a.id: a for p in catalog.plans for a in p.allowances}
    rules = {r.id: r for p in catalog.plans for r in p.rules}
    rates = {r.id: r for r in catalog.rates}
    zones = {z.id: z for z in catalog.zones}
    bands = {b.id: b for b in catalog.bands}

    # a piece is the lines sharing an offset: its usage and allowance draws decide its charged line
    pieces: dict[int, tuple[int, int]] = {}
    for r in rows:
        qty, drawn = pieces.get(r["offset"], (0, 0))
        pieces[r["offset"]] = (qty + (r["quantity"] or 0), drawn + (r["allowance_used"] or 0))
    several = len(pieces) > 1

    lines = []
    for r in rows:
        rule = rules.get(r["rule_id"] or "")
        rate = rates.get(r["rate_id"] or "")
        steps: tuple[StepText, ...] = ()
        connect = unrounded = "0"
        recomputed = rounded = None
        caps: tuple[CapText, ...] = ()
        capped = r["capped"]
        charged_line = r["allowance_id"] is None and r["kind"] != "vas"
        if rate is not None and charged_line:
            qty, drawn = pieces[r["offset"]]
            compiled = compile_rate(rate, currency)
            charge = charge_line(compiled, offset=r["offset"], quantity=qty, drawn=drawn)
            steps = tuple(
                StepText(u.step, u.units, u.billed, u.drawn, u.charged, str(rate.steps[u.step].rate),
                         rate.steps[u.step].rate_unit, rate.steps[u.step].increment, _decimal(u.cost),
                         *_increment_cost(compiled, u.step, rate.increment_decimals))
                for u in charge.steps if u.billed
            )
            connect, unrounded, recomputed = _decimal(charge.connect_fee), _decimal(charge.unrounded), charge.amount_minor
            rounded = charge.rounded_minor
            spent = sum(x["amount_minor"] for x in rows if x["allowance_id"] is None and x["offset"] < r["offset"]) if several else 0
            caps, explained = _caps(r, rounded, compiled.max_cost_minor, spent if several else None,
                                    None if rule is None else rule.daily_cap, currency, catalog)
            if capped is None:  # a billed line keeps no flag: capped when a cap of the tariff gives its amount
                capped = bool(caps) and explained
            if not capped:
                caps = ()
        elif charged_line and r["kind"] != "vas":
            recomputed = 0
        allowance = allowances.get(r["allowance_id"] or "")
        before = r["allowance_before"]
        zone = zones.get(r["zone"] or "")
        band = bands.get(r["band"] or "")
        lines.append(ExplainedLine(
            line=r["line"], started_at=r["started_at"].astimezone(catalog.tz), offset=r["offset"], quantity=r["quantity"], unit=r["unit"],
            rule_id=r["rule_id"], rule_name=None if rule is None else _rule_text(rule),
            rate_id=r["rate_id"], rate_name=None if rate is None or rate.name is None else rate.name.en,
            zone=r["zone"], zone_name=None if zone is None else zone.name.en,
            roaming_zone=r["roaming_zone"], band=r["band"], band_name=None if band is None or band.name is None else band.name.en,
            allowance_id=r["allowance_id"], allowance_before=before, allowance_used=r["allowance_used"] or 0,
            allowance_after=None if before is None else before + (r["allowance_used"] or 0),
            allowance_quantity=None if allowance is None else allowance.quantity,
            charged_quantity=r["charged_quantity"] or 0, steps=steps, connect_fee=connect, unrounded=unrounded,
            rounding=None if rate is None else f"{rate.rounding.value}/{rate.rounding_decimals}",
            amount=str(Decimal(r["amount_minor"]).scaleb(-exp)), amount_minor=r["amount_minor"], capped=bool(capped),
            throttled=bool(r["throttled"]), verdict=r["verdict"], subscription_id=r["subscription_id"],
            recomputed_minor=recomputed, rate_steps=0 if rate is None else len(rate.steps),
            labels=_labels(catalog, r), rounded_minor=rounded, caps=caps,
        ))
    record: dict[str, Any] = {}
    if usage is not None:
        hit = usage.filter((pl.col("record_id") == record_id) & (pl.col("source") == first["source"]))
        if hit.height:
            record = {k: v for k, v in hit.row(0, named=True).items() if v is not None and k != "period"}
    if again and [_charge_of(ln) for ln in again] == [_charge_of(ln) for ln in lines]:
        again = ()  # priced again alike: the billed lines tell it already
    return Explanation(
        record_id=record_id, source=first["source"], msisdn=first["msisdn"], kind=first["kind"], period=first["period"],
        started_at=rows[0]["started_at"].astimezone(catalog.tz), plan_id=first["plan_id"], plan_name=None if plan is None else plan.name,
        currency=currency, total_minor=sum(r["amount_minor"] for r in rows), lines=tuple(lines), record=record,
        corrections=tuple(corrections), catalog_version=catalog.version, catalog_version_id=catalog_version_id,
        earlier_tariff=earlier_tariff, refunds=tuple(with_share(r, record_id, _charged_now(rows, corrections)) for r in refunds),
        tariff_changes=() if current is None or not earlier_tariff else tariff_changes(rows, catalog, current),
        tariff_compared=current is not None and earlier_tariff, repriced=again, consent_review=consent_review,
    )


def _charge_of(ln: ExplainedLine) -> tuple[Any, ...]:
    """What a line charges and how: two ratings alike in these are the same charge, however many columns they keep."""
    return (ln.rule_id, ln.allowance_id, ln.allowance_used, ln.charged_quantity, ln.amount_minor,
            tuple((s.rate, s.rate_unit, s.increment, s.charged) for s in ln.steps))


def _price_of_rate(rate: Any) -> Any:
    """What of a rate sets a price (its name does not)."""
    return None if rate is None else replace(rate, name=None)


def _price_of_rule(rule: Any) -> Any:
    return None if rule is None else (rule.match, rule.rate, rule.free, rule.daily_cap)


def _price_of_allowance(a: Any) -> Any:
    return (a.id, a.match, a.quantity, a.throttle_after, a.throttle_kbps)


def _rate_words(rate: Any, currency: str, zh: bool) -> str:
    """A one-step rate's price in words (``0.05 元/分钟``), else its steps' prices joined."""
    unit = str(getattr(rate.unit, "value", rate.unit))
    prices = (f"{_money(str(st.rate), currency, zh)}/{_per(st.rate_unit, unit, zh)}" for st in rate.steps)
    return ("、" if zh else ", ").join(prices)


def tariff_changes(rows: list[dict[str, Any]], was: Catalog, now: Catalog) -> tuple[tuple[str, str], ...]:
    """What priced a record's lines under ``was`` (the tariff its bill was issued under) and is different in ``now``,
    each (zh, en): the rule that prices its usage (another one now, none, or the same one with another match, rate,
    daily cap), that rule's rate (its steps, rounding, caps) and the allowances it may draw on (added, removed,
    another quantity or match). The plan's monthly fee, and every rule or allowance the record's usage does not reach,
    are not this record's price: a record none of them changed for has none."""
    out: list[tuple[str, str]] = []

    def say(zh: str, en: str) -> None:
        if (zh, en) not in out:
            out.append((zh, en))

    def name(cat: Catalog, what: str, key: str | None, zh: bool) -> str:
        n = cat.name_of(what, key) if key else None
        return (n.zh if zh else n.en) if n is not None else (key or "-")

    for r in rows:
        if r["kind"] == "vas":
            continue
        plan_was = next((p for p in was.plans if p.id == r["plan_id"]), None)
        plan_now = next((p for p in now.plans if p.id == r["plan_id"]), None)
        if plan_was is None:
            continue
        if plan_now is None:
            say(f"套餐“{name(was, 'plan', r['plan_id'], True)}”已不再提供",
                f"the plan “{name(was, 'plan', r['plan_id'], False)}” is no longer offered")
            continue
        where = (r["kind"], r.get("direction"), r.get("zone"), r.get("roaming_zone"), r.get("band"))
        rule_was, rule_now = plan_was.rule_for(*where), plan_now.rule_for(*where)
        if rule_was is not None and rule_now is None:
            say(f"计费规则“{name(was, 'rule', rule_was.id, True)}”已取消，现无规则为此类用量计价",
                f"the rule “{name(was, 'rule', rule_was.id, False)}” was withdrawn: no rule prices such usage now")
        elif rule_now is not None and (rule_was is None or rule_was.id != rule_now.id):
            before_zh = "" if rule_was is None else f"（原为“{name(was, 'rule', rule_was.id, True)}”）"
            before_en = "" if rule_was is None else f" (was “{name(was, 'rule', rule_was.id, False)}”)"
            say(f"现按计费规则“{name(now, 'rule', rule_now.id, True)}”计价{before_zh}",
                f"now priced by the rule “{name(now, 'rule', rule_now.id, False)}”{before_en}")
        elif rule_was is not None and rule_now is not None:
            rz, re_ = name(now, "rule", rule_now.id, True), name(now, "rule", rule_now.id, False)
            if rule_was.free != rule_now.free or rule_was.rate != rule_now.rate:
                what_zh = "免费" if rule_now.free or rule_now.rate is None else f"资费“{name(now, 'rate', rule_now.rate, True)}”"
                what_en = "free of charge" if rule_now.free or rule_now.rate is None else f"the rate “{name(now, 'rate', rule_now.rate, False)}”"
                say(f"计费规则“{rz}”现为{what_zh}", f"the rule “{re_}” is now {what_en}")
            elif rule_was.rate is not None:
                rate_was = next((x for x in was.rates if x.id == rule_was.rate), None)
                rate_now = next((x for x in now.rates if x.id == rule_now.rate), None)
                if rate_now is not None and rate_was is not None and _price_of_rate(rate_was) != _price_of_rate(rate_now):
                    cur = r["currency"]
                    if [(st.rate, st.rate_unit) for st in rate_was.steps] != [(st.rate, st.rate_unit) for st in rate_now.steps]:
                        say(_zh_cat(f"资费“{name(now, 'rate', rate_now.id, True)}”由 {_rate_words(rate_was, cur, True)}",
                                    f"调整为 {_rate_words(rate_now, cur, True)}"),
                            f"the rate “{name(now, 'rate', rate_now.id, False)}” changed from {_rate_words(rate_was, cur, False)} "
                            f"to {_rate_words(rate_now, cur, False)}")
                    else:
                        say(f"资费“{name(now, 'rate', rate_now.id, True)}”的计费方式（计费单位、取整或封顶）已调整",
                            f"the rate “{name(now, 'rate', rate_now.id, False)}” changed how it counts (increments, "
                            "rounding or caps)")
            if rule_was.match != rule_now.match and rule_was.id == rule_now.id:
                say(f"计费规则“{rz}”的适用范围已调整", f"the rule “{re_}” now applies to other usage")
            if rule_was.daily_cap != rule_now.daily_cap:
                cap = ("无" if rule_now.daily_cap is None else _money(str(rule_now.daily_cap), r["currency"], True))
                cap_en = ("none" if rule_now.daily_cap is None else _money(str(rule_now.daily_cap), r["currency"], False))
                say(f"计费规则“{rz}”的每日封顶现为 {cap}", f"the rule “{re_}” now caps a day at {cap_en}")
        a_was = {a.id: a for a in plan_was.allowances_for(*where)}
        a_now = {a.id: a for a in plan_now.allowances_for(*where)}
        for aid, a in a_now.items():
            old = a_was.get(aid)
            if old is None:
                say(f"现可由套餐内额度“{name(now, 'allowance', aid, True)}”抵扣",
                    f"now drawn from the allowance “{name(now, 'allowance', aid, False)}”")
            elif _price_of_allowance(old) != _price_of_allowance(a):
                unit = str(a.unit.value if hasattr(a.unit, "value") else a.unit)
                if old.quantity != a.quantity:
                    q_zh = "不限量" if a.quantity is None else _quantity(a.quantity, unit, True)
                    q_en = "unlimited" if a.quantity is None else _quantity(a.quantity, unit, False)
                    say(f"套餐内额度“{name(now, 'allowance', aid, True)}”现为 {q_zh}",
                        f"the allowance “{name(now, 'allowance', aid, False)}” is now {q_en}")
                else:
                    say(f"套餐内额度“{name(now, 'allowance', aid, True)}”的适用范围已调整",
                        f"the allowance “{name(now, 'allowance', aid, False)}” now covers other usage")
        for aid in a_was.keys() - a_now.keys():
            say(f"不再由套餐内额度“{name(was, 'allowance', aid, True)}”抵扣",
                f"no longer drawn from the allowance “{name(was, 'allowance', aid, False)}”")
    return tuple(out)


def _charged_now(rows: list[dict[str, Any]], corrections: Iterable[Correction]) -> int:
    """What the record is charged now, before tax: its lines, or the last rerate entry's amount."""
    now = sum(int(r["amount_minor"] or 0) for r in rows)
    for c in corrections:
        if c.new_minor is not None and c.old_minor is not None:
            now = c.new_minor
    return now


def _increment_cost(compiled: CompiledRate, step: int, decimals: int | None) -> tuple[str | None, int | None]:
    """(what one increment of ``step`` costs as rating prices it, the decimals it was rounded to) for a rate that
    rounds each increment's cost (``increment_decimals``); (None, None) for a rate priced exactly."""
    if decimals is None:
        return None, None
    s = compiled.steps[step]
    return _decimal(Fraction(s.numerator * s.increment, compiled.den)), decimals


def _complete(rows: list[dict[str, Any]], catalog: Catalog) -> list[dict[str, Any]]:
    """A record's lines with every column ``explain`` reads. A bill's snapshot keeps fewer than rating writes: the
    rate is the rule's, a piece's offset its distance in seconds from the record's first line (a call cut at band
    changes; other records are one piece), the roaming zone the one rating placed the country in
    (``Catalog.roaming_zone_of``: none at home); whether a cap applied is left to the tariff (None), nothing was
    throttled, and the allowance used before the line is not known (None)."""
    if not rows or all(c in rows[0] for c in ("rate_id", "offset", "roaming_zone", "allowance_before", "capped", "throttled")):
        return rows
    rules = {r.id: r for p in catalog.plans for r in p.rules}
    start = min(r["started_at"] for r in rows)
    out = []
    for r in rows:
        rule = rules.get(r.get("rule_id") or "")
        try:  # placed as rating places it: none at home, none where no roaming zone prices the country
            zone = catalog.roaming_zone_of(r.get("roaming_country"))
        except NotFoundError:
            zone = None
        roaming = None if zone is None else zone.id
        offset = int((r["started_at"] - start).total_seconds()) if r.get("kind") == "voice" else 0
        derived = {"rate_id": None if rule is None else rule.rate, "offset": offset, "roaming_zone": roaming,
                   "allowance_before": None, "capped": None, "throttled": False}
        out.append({**derived, **r})
    return out


def _caps(row: dict[str, Any], rounded: int, max_cost: int | None, spent: int | None, daily_cap: Decimal | None,
          currency: str, catalog: Catalog) -> tuple[tuple[CapText, ...], bool]:
    """The caps that take a charged line from its rounded amount ``rounded`` to the amount stored, in the order
    rating applies them (the rate's ``max_cost`` on the line, on a call cut in pieces across them, ``spent`` in the
    pieces before; then the rule's daily cap), and whether they give the stored amount."""
    exp = minor_units(currency)
    stored = row["amount_minor"]

    def money(minor: int) -> str:
        return str(Decimal(minor).scaleb(-exp))

    caps: list[CapText] = []
    after = rounded
    if max_cost is not None and after > max_cost:
        after = max_cost
        caps.append(CapText("max_cost", money(max_cost), max_cost, after))
    if max_cost is not None and spent is not None and stored < after:
        left = max(0, max_cost - spent)
        if left < after:
            after = left
            caps.append(CapText("call_max_cost", money(max_cost), max_cost, after, spent_minor=spent))
    if daily_cap is not None and stored < after:
        limit = int(daily_cap.scaleb(exp))
        day = row["started_at"].astimezone(catalog.tz).strftime("%Y-%m-%d")
        after = stored
        caps.append(CapText("daily_cap", money(limit), limit, after, day=day))
    return tuple(caps), after == stored


def _labels(catalog: Catalog, row: dict[str, Any]) -> dict[str, Name]:
    """The catalog's names of what a rated line names (those it has a name for)."""
    keys = {"rule": row["rule_id"], "rate": row["rate_id"], "zone": row["zone"], "roaming zone": row["roaming_zone"],
            "band": row["band"], "allowance": row["allowance_id"]}
    if row["kind"] == "vas" and row["rule_id"]:
        keys["offer"] = str(row["rule_id"]).split("/", 1)[-1]  # a VAS line's rule is ``offer/<offer id>``
    out = {}
    for what, key in keys.items():
        name = catalog.name_of(what, key) if key else None
        if name is not None:
            out[what.replace(" ", "_")] = name
    return out


def _rule_text(rule: Any) -> str:
    m = rule.match
    parts = [m.kind.value if hasattr(m.kind, "value") else str(m.kind)]
    if m.directions:
        parts.append("/".join(sorted(str(d) for d in m.directions)))
    if m.zones:
        parts.append("zones " + ",".join(sorted(m.zones)))
    if m.roaming_zones:
        parts.append("roaming " + ",".join(sorted(m.roaming_zones)))
    if m.bands:
        parts.append("bands " + ",".join(sorted(m.bands)))
    if rule.free:
        parts.append("free")
    return " · ".join(parts)


# ---- the statement --------------------------------------------------------------------------------------

_KIND = {"voice": ("通话", "call"), "sms": ("短信", "SMS"), "data": ("流量", "data"), "vas": ("增值业务", "value-added service")}
_DIRECTION = {"out": ("主叫", "outgoing"), "in": ("被叫", "incoming")}
_SMS_DIRECTION = {"out": ("发送", "sent"), "in": ("接收", "received")}
_ROUNDING = {
    "up": ("向上取整", "rounded up"), "ceiling": ("向上取整", "rounded up"),
    "down": ("向下取整", "rounded down"), "floor": ("向下取整", "rounded down"),
    "half_up": ("四舍五入", "rounded half up"), "half_even": ("四舍五入（逢五取偶）", "rounded half to even"),
}
# what the consent gate decided for a value-added charge (its verdict codes, in words)
VERDICT_WORDS: dict[str, tuple[str, str]] = {
    "consented": ("订购已确认", "confirmed subscription"),
    "no_subscription": ("无订购记录", "no subscription"),
    "not_confirmed": ("订购未确认", "not confirmed"),
    "after_cancellation": ("退订后扣费", "after cancellation"),
    "price_mismatch": ("价格与业务不符", "price differs from the offer"),
    "price_raised": ("确认后资费上调，未再次确认", "price rose after the confirmation"),
    "duplicate_charge": ("重复扣费", "charged twice"),
    "unknown_offer": ("未知业务", "unknown offer"),
    "merchant_suspended": ("服务商已暂停", "merchant suspended"),
    "merchant_suspended_late": ("服务商暂停后才提交的扣费（扣费时间早于暂停）",
                                "sent after the merchant was suspended (dated before it)"),
    "line_closed": ("扣费时号码已销户", "line closed when charged"),
    "line_suspended": ("扣费时号码已停机", "line suspended when charged"),
    "before_activation": ("订购早于本号码入网（前机主所订）", "consent given before this line's activation (by a previous holder)"),
    "previous_holder": ("订购早于号码过户（原机主所订），过户后不再扣费",
                        "consent given before the line's owner change (by the previous customer): not charged after it"),
    "no_gate": ("未核对订购记录，不计费", "no consent ledger to check against: not billed"),
    "not_checked": ("未核对订购记录", "consent not checked"),
}
# a confirmed order charge assurance holds in doubt (the kind of its open finding, ``Explanation.consent_review``), in
# the operators' words: the order's second confirmation (二次确认) is suspected not the subscriber's own, the charge is
# under review. A kind not listed here is said in the general words (``CONSENT_REVIEW_OTHER``).
CONSENT_REVIEW_WORDS: dict[str, tuple[str, str]] = {
    "machine_speed_confirmation": (
        "订购的二次确认疑似非本人操作（确认过快），该笔费用正在核查，经核实非本人操作将予退还",
        "the order's confirmation is suspected not to be the subscriber's own (confirmed too fast for a person); "
        "the charge is under review and will be refunded if so"),
}
CONSENT_REVIEW_OTHER: tuple[str, str] = (
    "订购的二次确认存疑，该笔费用正在核查，经核实非本人操作将予退还",
    "the order's confirmation is in doubt; the charge is under review and will be refunded if it was not the "
    "subscriber's own")


def consent_review_words(kind: str, language: str) -> str:
    """What a confirmed order held in doubt by charge assurance (an open finding of ``kind``) is told as."""
    zh, en = CONSENT_REVIEW_WORDS.get(kind, CONSENT_REVIEW_OTHER)
    return zh if language == "zh" else en


# why usage is held off the bill (``rating._vas.USAGE_HOLDS`` codes, in words)
HELD_WORDS: dict[str, tuple[str, str]] = {
    "line_suspended": ("暂缓计费：本话单发生在号码停机之后，已计价但未计入账单，经核实确为本人使用后才会收取",
                       "Held, not billed: made after the line was suspended; priced, but charged only if released after review"),
    "line_closed": ("不计费：本话单发生在号码销户之后，不是您的用量，已计价但不计入账单，也不会向您收取",
                    "Held, not billed: made after the line was closed; not your usage, so it is never charged to you"),
    "before_activation": ("不计费：本话单发生在号码入网之前，不是您的用量，已计价但不计入账单，也不会向您收取",
                          "Held, not billed: made before the line was activated; not your usage, so it is never charged to you"),
    "line_closed_undated": ("不计费：号码已销户但销户时间未登记，无法确认为您本人使用，已计价但不计入账单，也不会向您收取",
                            "Held, not billed: the line is closed and its closing date is not on record, so this usage cannot "
                            "be shown to be yours; it is never charged to you"),
    "before_holding": ("不计费：本话单发生在号码过户给您之前，是原机主的用量，已计价但不计入您的账单，也不会向您收取",
                       "Held, not billed: made before the line moved to you (owner change); the previous customer's "
                       "usage, so it is never charged to you"),
}
# why a value-added charge is held off the bill (the bill run's holds of a consented charge, in words): the verdict
# shown on its line, and the sentence after the total
HELD_VAS_WORDS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "before_holding": (
        ("原机主订购，扣费发生在号码过户给您之前", "the previous customer's order, charged before the line moved to you"),
        ("不计费：这笔增值业务费用发生在号码过户给您之前，是原机主订购的业务，已计价但不计入您的账单，也不会向您收取",
         "Held, not billed: charged before the line moved to you (owner change); the previous customer's "
         "subscription, so it is never charged to you")),
}
_KIB, _MIB, _GIB = 1024, 1024**2, 1024**3


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _zh_cat(*parts: str) -> str:
    """Chinese text put together with a space wherever a letter or digit meets a Chinese character (``1 KiB 计为``,
    ``9.50 GBP 不同``, but ``9.50 元不同``), as the statement writes ``16/31 天`` and ``2026-03 重新计费``."""
    out = ""
    for part in parts:
        if out and part and (
                (out[-1].isascii() and out[-1].isalnum() and _CJK.match(part[0]))
                or (_CJK.match(out[-1]) and part[0].isascii() and part[0].isalnum())):
            out += " "
        out += part
    return out


def _pick(zh: bool, pair: tuple[str, str]) -> str:
    return pair[0] if zh else pair[1]


def _money(amount: Decimal | str, currency: str, zh: bool) -> str:
    return f"{amount} 元" if zh and currency == "CNY" else f"{amount} {currency}"


def _minor(minor: int, currency: str, zh: bool) -> str:
    return _money(Money.from_minor(minor, currency).amount, currency, zh)


def _quantity(n: int | None, unit: str, zh: bool) -> str:
    """A quantity in words: ``4 分 05 秒`` / ``4 min 05 s``, ``3 条``, ``5860 KB`` or ``1.50 MB`` (of 1024 and 1024²
    bytes, as the catalog prices data)."""
    if n is None:
        return "-"
    if unit == "second":
        m, s = divmod(n, 60)
        if not m:
            return f"{s} 秒" if zh else f"{s} s"
        if not s:
            return f"{m} 分钟" if zh else f"{m} min"
        return f"{m} 分 {s:02d} 秒" if zh else f"{m} min {s:02d} s"
    if unit == "message":
        return f"{n} 条" if zh else f"{n} message{'s' if n != 1 else ''}"
    if unit == "byte":  # exact in the largest unit it is a whole number of (billed data is), else to 0.01
        sizes = ((_GIB, "GiB"), (_MIB, "MiB"), (_KIB, "KiB"))
        exact = next(((size, suffix) for size, suffix in sizes if n and n % size == 0), None)
        if exact is not None:
            return f"{n // exact[0]} {exact[1]}"
        size, suffix = next(((size, suffix) for size, suffix in sizes if n >= size), (1, ""))
        if size == 1:
            return f"{n} 字节" if zh else f"{n} bytes"
        return f"{(Decimal(n) / size).quantize(Decimal('0.01'))} {suffix}"
    return str(n)


def _per(n: int, unit: str, zh: bool) -> str:
    """The unit a price is per: ``分钟`` / ``min`` for 60 s, ``6 秒`` for 6 s, ``MiB`` for 1024² bytes."""
    named = {("second", 1): ("秒", "s"), ("second", 60): ("分钟", "min"), ("second", 3600): ("小时", "h"),
             ("message", 1): ("条", "message"), ("byte", _KIB): ("KiB", "KiB"), ("byte", _MIB): ("MiB", "MiB"),
             ("byte", _GIB): ("GiB", "GiB")}.get((unit, n))
    return _pick(zh, named) if named else _quantity(n, unit, zh)


_INSTANT = timedelta(microseconds=1)


@lru_cache(maxsize=512)
def _offsets_in(period: str, tz: tzinfo) -> frozenset[timedelta | None] | None:
    """The UTC offsets the clock of ``tz`` shows within ``period`` (YYYY-MM, [its local start, its local end)), read
    every hour and at its last instant; None when ``period`` is no monthly period. Read at instants, not wall times:
    a clock that goes back at the very end of the month (Africa/Cairo on 31 October 2024, from 24:00 to 23:00)
    repeats an hour of that month, which its last wall time alone (23:59:59, read at the first offset) would hide."""
    try:
        per = Period.parse(period, "UTC")  # the year and month: the bounds are taken on ``tz`` below
    except (FairtelError, ValueError):
        return None
    after = (per.year + per.month // 12, per.month % 12 + 1)
    start = datetime(per.year, per.month, 1, tzinfo=tz).astimezone(UTC)
    end = datetime(*after, 1, tzinfo=tz).astimezone(UTC)
    hours = int((end - start) / timedelta(hours=1))
    at = [start + timedelta(hours=h) for h in range(hours + 1)] + [end - _INSTANT]
    return frozenset(t.astimezone(tz).utcoffset() for t in at if t < end)


def clock_changes(period: str, tz: tzinfo | str, instants: Iterable[datetime | None] = ()) -> bool:
    """Whether times on the operator's clock ``tz`` in ``period`` are shown with their UTC offset: when the clock
    changes its offset within the period (daylight saving, a zone moving its standard time), so that the hour repeated
    when clocks go back reads as two different times (01:30 comes round twice in America/New_York on the first Sunday
    of November, at -04:00 and at -05:00), or when the ``instants`` shown read at different offsets; a clock that keeps
    one offset through the period (China always) is shown as it reads. A period that is not YYYY-MM: shown with the
    offset rather than guess. The one rule of itemised statements (billing) and explanations."""
    clock = zone(tz) if isinstance(tz, str) else tz
    offsets = _offsets_in(period, clock)
    if offsets is None:
        return True
    return len(offsets | {at.astimezone(clock).utcoffset() for at in instants if at is not None}) > 1


def time_text(at: datetime, with_offset: bool = False) -> str:
    """``2025-11-02 01:30:00``, or with its UTC offset ``2025-11-02 01:30:00-04:00`` (``clock_changes``), as it reads
    back with ``datetime.fromisoformat``."""
    text = at.strftime("%Y-%m-%d %H:%M:%S")
    return text + at.isoformat(timespec="seconds")[19:] if with_offset else text


def _shows_offset(e: Explanation) -> bool:
    """Whether the explanation's times carry their UTC offset (``clock_changes``: as the statement of its period)."""
    tz = e.started_at.tzinfo
    if tz is None:
        return False
    shown = [e.started_at, *(ln.started_at for ln in e.lines), *(ln.started_at for ln in e.repriced)]
    return clock_changes(e.period, tz, shown)


def _when(at: datetime, with_offset: bool = False) -> str:
    return time_text(at, with_offset)


def _named(labels: dict[str, Name], what: str, fallback: str | None, zh: bool) -> str:
    name = labels.get(what)
    if name is not None:
        return name.zh if zh else name.en
    return fallback or "-"


def _render(e: Explanation, zh: bool, plain: bool) -> str:
    def number(n: str) -> str:
        return n if plain else mask_msisdn(n)

    cur = e.currency
    kind = _pick(zh, _KIND.get(e.kind, (e.kind, e.kind)))
    start = _when(e.started_at, _shows_offset(e))
    out = [f"话单 {e.record_id}：{kind}，号码 {number(e.msisdn)}，{start}，账期 {e.period}" if zh
           else f"Record {e.record_id}: {kind} of {number(e.msisdn)}, {start}, billing period {e.period}"]
    usage = _usage(e.record, zh, number)
    if usage:
        out.append(("用量：" if zh else "Usage: ") + usage)
    plan = e.plan_name.zh if zh and e.plan_name else e.plan_name.en if e.plan_name else e.plan_id
    out.append(f"套餐：{plan}" if zh else f"Plan: {plan}")
    if e.earlier_tariff and e.tariff_changes:  # what priced this record has changed since: said, and what
        said = "；".join(zh_ for zh_, _ in e.tariff_changes) if zh else "; ".join(en for _, en in e.tariff_changes)
        out.append(f"资费：按出账时适用的资费计算；此后本话单适用的资费已调整：{said}" if zh
                   else f"Tariff: the one in force when the bill was issued; what priced this record has changed since: {said}")
    elif e.earlier_tariff and not e.tariff_compared:  # not compared: the catalog was replaced, what changed is not known
        out.append("资费：按出账时适用的资费计算（此后资费已调整）" if zh
                   else "Tariff: the one in force when the bill was issued (since changed)")
    for ln in e.lines:
        out.extend(_line(ln, e, zh))
    out.append(f"合计：{_minor(e.total_minor, cur, zh)}" if zh else f"Total: {_minor(e.total_minor, cur, zh)}")
    if e.held and any(ln.unit == "item" for ln in e.lines) and e.held in HELD_VAS_WORDS:
        out.append(_pick(zh, HELD_VAS_WORDS[e.held][1]))
    elif e.held:
        out.append(_pick(zh, HELD_WORDS.get(e.held, (e.held, e.held))))
    out.extend(_corrections(e, zh))
    tz = e.started_at.tzinfo
    out.extend(("退款：" if zh else "Refund: ") + refund_words(r, "zh" if zh else "en", tz) for r in e.refunds)
    if e.wangiri_caller and e.refunds:  # reviewed and refunded: told above
        caller = number(e.wangiri_caller)
        out.append(f"诈骗提醒：{caller} 是“响一声”诈骗号码，已向用户发送防诈骗提醒，这笔回拨费用已退还（见上）" if zh
                   else f"Scam warning: {caller} is a one-ring scam number; the subscriber was warned, and the charge "
                        "for this call back was refunded (above)")
    elif e.wangiri_caller:
        caller = number(e.wangiri_caller)
        out.append(f"诈骗提醒：{caller} 是“响一声”诈骗号码，已向用户发送防诈骗提醒，这笔回拨费用正在核查，核查后可退还" if zh
                   else f"Scam warning: {caller} is a one-ring scam number; the subscriber was warned, and the charge "
                        "for this call back is being reviewed for a refund")
    return "\n".join(out)


def _usage(record: dict[str, Any], zh: bool, number: Any) -> str:
    """The usage record in words: direction, other party (masked), duration or volume, where roaming."""
    parts = []
    if record.get("direction") in _DIRECTION:  # a message is sent or received (发送/接收), as the statement words it
        words = _SMS_DIRECTION if record.get("kind") == "sms" else _DIRECTION
        parts.append(_pick(zh, words[record["direction"]]))
    if record.get("peer"):
        parts.append(f"对方号码 {number(str(record['peer']))}" if zh else f"other party {number(str(record['peer']))}")
    if record.get("duration_s") is not None:
        d = _quantity(int(record["duration_s"]), "second", zh)
        parts.append(f"时长 {d}" if zh else f"duration {d}")
    up, down = record.get("bytes_up"), record.get("bytes_down")
    if up is not None or down is not None:
        u, d = _quantity(int(up or 0), "byte", zh), _quantity(int(down or 0), "byte", zh)
        parts.append(f"上行 {u}，下行 {d}" if zh else f"{u} up, {d} down")
    if record.get("roaming_country"):  # as the statement names it: 漫游（日本）/ roaming (Japan)
        country = country_name(str(record["roaming_country"]), "zh" if zh else "en")
        parts.append(f"漫游（{country}）" if zh else f"roaming ({country})")
    return ("，" if zh else ", ").join(parts)


def _line(ln: ExplainedLine, e: Explanation, zh: bool) -> list[str]:
    cur, n = e.currency, ln.line + 1
    when = _when(ln.started_at, _shows_offset(e))
    if ln.unit == "item":  # a value-added charge
        offer = _named(ln.labels, "offer", (ln.rule_id or "").split("/", 1)[-1], zh)
        verdict = _pick(zh, VERDICT_WORDS.get(ln.verdict or "", (ln.verdict or "-", ln.verdict or "-")))
        if ln.verdict in HELD_VAS_WORDS:  # held by the bill run, not a consent gate's verdict
            verdict = _pick(zh, HELD_VAS_WORDS[ln.verdict][0])
        if e.refunds and ln.verdict == "consented":  # the gate's verdict when rated, since overturned by a refund
            why = refund_reason_in(e.refunds[-1].reason, "zh" if zh else "en")
            verdict = (f"计费时按{verdict}计费，其后查明为{why}，已退款" if zh
                       else f"billed as {verdict} when rated; since found to be {why}, refunded")
        elif e.consent_review and ln.verdict == "consented":  # not told as confirmed while its confirmation is in doubt
            verdict = consent_review_words(e.consent_review, "zh" if zh else "en")
        amount = _money(ln.amount, cur, zh)
        # the verdict "no subscription" says it already: not said twice
        said = ln.subscription_id is None and ln.verdict == "no_subscription"
        if zh:
            sub = "" if said else f"，订购号 {ln.subscription_id}" if ln.subscription_id else "，无订购"
            return [f"第 {n} 部分：{when}", f"  增值业务“{offer}”：{verdict}{sub} → {amount}"]
        sub = "" if said else f", subscription {ln.subscription_id}" if ln.subscription_id else ", no subscription"
        return [f"Part {n}: {when}", f"  value-added service “{offer}”: {verdict}{sub} → {amount}"]
    where = []
    if ln.zone:
        z = _named(ln.labels, "zone", ln.zone, zh)
        where.append(f"目的地：{z}" if zh else f"destination: {z}")
    if ln.roaming_zone:
        r = _named(ln.labels, "roaming_zone", ln.roaming_zone, zh)
        where.append(f"漫游：{r}" if zh else f"roaming: {r}")
    if ln.band:
        b = _named(ln.labels, "band", ln.band, zh)
        where.append(f"时段：{b}" if zh else f"time band: {b}")
    situation = (f"（{'；'.join(where)}）" if zh else f" ({'; '.join(where)})") if where else ""
    q = _quantity(ln.quantity, ln.unit, zh)
    out = [f"第 {n} 部分：{when} 起，{q}{situation}" if zh else f"Part {n}: {q} from {when}{situation}"]
    if ln.allowance_id is not None:
        a = _named(ln.labels, "allowance", ln.allowance_id, zh)
        total = ("不限量" if zh else "unlimited") if ln.allowance_quantity is None else _quantity(ln.allowance_quantity, ln.unit, zh)
        used, before, after = (_quantity(v, ln.unit, zh) for v in (ln.allowance_used, ln.allowance_before, ln.allowance_after))
        if ln.allowance_before is None:  # a bill's line keeps what it drew, not what was used before it
            out.append(f"  由套餐内额度“{a}”抵扣 {used}（额度共 {total}）" if zh
                       else f"  {used} from your allowance “{a}” (of {total})")
        else:
            out.append(f"  由套餐内额度“{a}”抵扣 {used}（此前已用 {before}，抵扣后已用 {after}，额度共 {total}）" if zh
                       else f"  {used} from your allowance “{a}” ({before} used before, {after} after, of {total})")
        if ln.throttled:
            out.append("  已超出不限量套餐的限速阈值：降速，不收费" if zh
                       else "  past the unlimited allowance's threshold: speed reduced, no charge")
        return out
    rule = _named(ln.labels, "rule", ln.rule_id, zh)
    if ln.rate_id is None:
        out.append(f"  计费规则：{rule}（免费）" if zh else f"  tariff rule: {rule} (free of charge)")
    else:
        rate = _named(ln.labels, "rate", ln.rate_id, zh)
        out.append(f"  计费规则：{rule}；资费：{rate}" if zh else f"  tariff rule: {rule}; rate: {rate}")
        out.extend(_step(s, ln, cur, zh) for s in ln.steps)
        if ln.connect_fee != "0":
            fee = _money(ln.connect_fee, cur, zh)
            out.append(f"  接通费 {fee}" if zh else f"  connect fee {fee}")
        out.append(_rounded(ln, cur, zh))
        out.extend(_cap(c, ln, e, zh) for c in ln.caps)
    if ln.capped and not ln.caps:  # a cap this catalog does not show (the line was priced under another)
        out.append("  已封顶（最高费用或每日上限）" if zh else "  capped (max cost or daily cap)")
    if ln.throttled:
        out.append("  已超出不限量套餐的限速阈值：降速，不收费" if zh
                   else "  past the unlimited allowance's threshold: speed reduced, no charge")
    if ln.recomputed_minor is not None and ln.recomputed_minor != ln.amount_minor and not ln.capped:
        now, was = _minor(ln.recomputed_minor, cur, zh), _money(ln.amount, cur, zh)
        out.append(_zh_cat(f"  注意：按此资费重新计算，本部分为 {now}，与记录的 {was}", "不同") if zh
                   else f"  note: this tariff gives {now} for this part, not the {was} recorded")
    return out


def _step(s: StepText, ln: ExplainedLine, cur: str, zh: bool) -> str:
    """One rate step: the usage, counted in whole increments, less what allowances covered, times the price. A rate
    that rounds each increment's cost (CGRateS' ``increment_decimals``) says so, with that rounded cost, and prices
    the charged usage at it: every number follows from the ones before it."""
    def q(v: int) -> str:
        return _quantity(v, ln.unit, zh)

    tier = (f"第 {s.step + 1} 档：" if zh else f"tier {s.step + 1}: ") if ln.rate_steps > 1 else ""
    price = f"{_money(s.rate, cur, zh)}/{_per(s.rate_unit, ln.unit, zh)}"
    shown, exact = _shown(s.cost, ln, s.increment_decimals)
    cost = ("= " if exact else "≈ ") + _money(shown, cur, zh)
    inc = q(s.increment)
    rounded = ""
    if s.increment_cost is not None and s.increment_decimals is not None and (
            Fraction(Decimal(s.increment_cost)) != Fraction(Decimal(s.rate)) * s.increment / s.rate_unit):
        # the increment's cost as rating adds it up, rounded from the rate: the charged usage is priced at that
        per_increment = _money(s.increment_cost, cur, zh)
        precision = _money(_precision(s.increment_decimals), cur, zh)
        how = _pick(zh, _ROUNDING["half_up"])
        rounded = (_zh_cat(f"，按 {price}", f"每 {inc}", f"计 {per_increment}（{how}到 {precision}）") if zh
                   else f"; {price} is {per_increment} per {inc} ({how} to {precision})")
        price = f"{_money(s.increment_cost, cur, zh)}/{_per(s.increment, ln.unit, zh)}"
    if zh:
        counted = _zh_cat(f"，按每 {inc}", "计为 ", q(s.billed)) if s.billed != s.units else ""
        drawn = _zh_cat(f"，其中 {q(s.drawn)}", "由套餐抵扣") if s.drawn else ""
        return f"  {tier}用量 {q(s.units)}{counted}{drawn}{rounded}，计费 {q(s.charged)} × {price} {cost}"
    counted = f", counted in steps of {inc} as {q(s.billed)}" if s.billed != s.units else ""
    drawn = f", {q(s.drawn)} of it from allowances" if s.drawn else ""
    return f"  {tier}{q(s.units)} used{counted}{drawn}{rounded}; {q(s.charged)} charged at {price} {cost}"


def _shown(amount: str, ln: ExplainedLine, finer: int | None = None) -> tuple[str, bool]:
    """An amount before the line's rounding as the statement shows it, and whether that is the amount exactly: as it
    is when it has no more decimals than the rate declares (or its increments are priced to: ``finer``), else at the
    rate's decimals, rounded the rate's way (``82.16796875`` → ``82.17``, the rounding itself told once, on the
    subtotal). Without a declared rounding, as it is."""
    mode, _, decimals = (ln.rounding or "").partition("/")
    if not decimals.isdigit():
        return amount, True
    value = Decimal(amount)
    places = max(int(decimals), finer or 0, *(s.increment_decimals or 0 for s in ln.steps))
    if value == value.quantize(Decimal(1).scaleb(-places)):
        return amount, True
    try:
        rounding = Rounding(mode).decimal_mode
    except ValueError:
        rounding = ROUND_HALF_UP
    return format(value.quantize(Decimal(1).scaleb(-int(decimals)), rounding=rounding), "f"), False


def _precision(decimals: int) -> str:
    """``0.01`` for 2 decimals, ``1`` for 0."""
    return format(Decimal(1).scaleb(-decimals), "f")


def _rounded(ln: ExplainedLine, cur: str, zh: bool) -> str:
    """The line's subtotal and what its rounding makes of it (before any cap: ``_cap`` tells those after). A line is
    rounded once, with the rate's method, to the rate's decimals or the currency's minor units when those are
    coarser (rated lines and bills are kept in minor units): the precision named is the one applied, and a rate
    finer than minor units (a CGRateS plan priced to 0.0001) is said beside it."""
    rounded = ln.amount if ln.rounded_minor is None else Money.from_minor(ln.rounded_minor, cur).amount
    shown, exact = _shown(ln.unrounded, ln)
    subtotal, amount = ("" if exact else "≈ ") + _money(shown, cur, zh), _money(rounded, cur, zh)
    mode, _, decimals = (ln.rounding or "").partition("/")
    if not decimals.isdigit():
        return f"  小计 {subtotal} → {amount}" if zh else f"  subtotal {subtotal} → {amount}"
    minor = minor_units(cur)
    step = _money(_precision(min(int(decimals), minor)), cur, zh)
    how = _pick(zh, _ROUNDING.get(mode, (mode, mode)))
    finer = ""
    if int(decimals) > minor:
        rate = _money(_precision(int(decimals)), cur, zh)
        finer = (f"（资费精确到 {rate}，账单以 {step}为最小单位）" if zh
                 else f" (the rate is priced to {rate}; bills are kept in {step} units)")
    if not exact and shown == format(rounded, "f"):  # the approximation is the rounded amount: said once
        return (f"  小计{how}到 {step}{finer}：{amount}" if zh
                else f"  subtotal, {how} to {step}{finer}: {amount}")
    return (f"  小计 {subtotal}，{how}到 {step}{finer}：{amount}" if zh
            else f"  subtotal {subtotal}, {how} to {step}{finer}: {amount}")


_NOUN = {"voice": ("通话", "call"), "sms": ("短信", "message"), "data": ("上网", "session")}


def _cap(c: CapText, ln: ExplainedLine, e: Explanation, zh: bool) -> str:
    """A cap that lowered the line, which one and its amount: the rate's most for one use (or for a whole call cut at
    band changes), or the rule's most a day."""
    cur = e.currency
    limit, amount = _money(c.limit, cur, zh), _minor(c.amount_minor, cur, zh)
    noun = _pick(zh, _NOUN.get(e.kind, ("次", "use")))
    rate = _named(ln.labels, "rate", ln.rate_id, zh)
    if c.kind == "daily_cap":
        rule = _named(ln.labels, "rule", ln.rule_id, zh)
        return (f"  封顶：计费规则“{rule}”每天最多收取 {limit}（{c.day}），本部分计 {amount}" if zh
                else f"  capped by the daily cap of the rule “{rule}”, at most {limit} a day ({c.day}): {amount}")
    if c.kind == "call_max_cost":
        spent = _minor(c.spent_minor or 0, cur, zh)
        return (f"  封顶：资费“{rate}”每次{noun}最多收取 {limit}，此前各部分已计 {spent}，本部分计 {amount}" if zh
                else f"  capped: the rate “{rate}” charges at most {limit} for the whole {noun}, {spent} of it in the parts "
                     f"before: {amount}")
    return (f"  封顶：资费“{rate}”每次{noun}最多收取 {limit}，本部分计 {amount}" if zh
            else f"  capped at the most the rate “{rate}” charges for one {noun}, {limit}: {amount}")


def correction_words(c: Correction, currency: str, language: str, tz: Any = None, *, released: bool = False,
                     why: str = "") -> str:
    """One entry issued for a record since its bill, in words. The entry is money carried into the next bill (a
    credit it deducts, a debit it adds), not money already paid back or taken, and is told so: ``更正：2026-11-05
    资费调整后重新计费，本话单由 0.72 元改为 0.62 元，将在下期账单中抵扣 0.10 元`` / ``Correction on 2026-11-05: priced
    again after a tariff change, 0.72 CNY → 0.62 CNY; 0.10 CNY credited on your next bill``. ``released``: the entry
    charges usage held off the bill, released after review. The day is in ``tz`` (the operator's zone) when given.
    ``why``: what made the new amount (``现由套餐内额度“…”抵扣`` / ``now drawn from the allowance “…”``), said after
    it; an entry a bill carries already names that bill's period (``已在 2026-10 账单中抵扣`` / ``credited on the
    2026-10 bill``)."""
    zh = language == "zh"
    at = c.created_at if tz is None else c.created_at.astimezone(tz)
    day = at.strftime("%Y-%m-%d")
    amount = _minor(abs(c.amount_minor), currency, zh)
    credit = c.amount_minor < 0
    if released:
        return (f"放行：{day} 经核实后收取，将作为调整项在下期账单中收取 {amount}" if zh
                else f"Released on {day}: charged as an adjustment on your next bill, {amount}")
    since = c.owner_change
    if since is not None:  # the previous customer's record, charged before the owner change was known: credited
        where = ("将在下期账单中" if c.carried_in is None else f"已在 {c.carried_in} 账单中") if zh else (
            "your next bill" if c.carried_in is None else f"the {c.carried_in} bill")
        on = (f"于 {since} " if since else "") if zh else (f" on {since}" if since else "")
        taxed = c.old_minor is not None and c.new_minor is not None and abs(c.amount_minor) != abs(c.new_minor - c.old_minor)
        if zh:
            return (f"更正：{day} 号码{on}过户给您，本话单发生在过户之前，是原机主的费用，不由您承担，"
                    f"{where}抵扣 {amount}" + ("（含税）" if taxed else ""))
        return (f"Correction on {day}: the line was transferred to you{on}; this record was made before that, the previous "
                f"customer's, not yours to pay: {amount} credited on {where}" + (" (tax included)" if taxed else ""))
    if c.old_minor is not None and c.new_minor is not None and not c.late:
        taxed = abs(c.amount_minor) != abs(c.new_minor - c.old_minor)
        old, new = _minor(c.old_minor, currency, zh), _minor(c.new_minor, currency, zh)
        if zh:
            where = "将在下期账单中" if c.carried_in is None else f"已在 {c.carried_in} 账单中"
            done = where + ("抵扣 " if credit else "补收 ") + amount + ("（含税）" if taxed else "")
            because = f"（{why}）" if why else ""
            return _zh_cat(f"更正：{day} 资费调整后重新计费，本话单由 {old}", "改为 ", f"{new}{because}，", done)
        bill = "your next bill" if c.carried_in is None else f"the {c.carried_in} bill"
        done = f"{amount} {'credited' if credit else 'charged'} on {bill}" + (" (tax included)" if taxed else "")
        because = f" ({why})" if why else ""
        return f"Correction on {day}: priced again after a tariff change, {old} → {new}{because}; {done}"
    if credit:
        return f"调整：{day} 将在下期账单中抵扣 {amount}" if zh else f"Adjustment on {day}: {amount} credited on your next bill"
    # a record the bill did not hold, charged after it
    if c.carried_in is not None:
        return (f"补收：{day} 本话单在出账后计费，已作为调整项在 {c.carried_in} 账单中收取 {amount}" if zh
                else f"Charged after the bill on {day}: {amount}, on the {c.carried_in} bill")
    return (f"补收：{day} 本话单在出账后计费，将作为调整项在下期账单中收取 {amount}" if zh
            else f"Charged after the bill on {day}: {amount}, on your next bill")


def _corrections(e: Explanation, zh: bool) -> list[str]:
    """The entries issued for the record since its bill, and what the record comes to with them."""
    cur, out, now = e.currency, [], None
    tz, language = e.started_at.tzinfo, "zh" if zh else "en"
    for c in e.corrections:
        credit = c.amount_minor < 0
        if e.held and c.old_minor == 0 and c.new_minor is not None and not credit and now is None:
            out.append(correction_words(c, cur, language, tz, released=True))
            now = c.new_minor
            continue
        last = (c is e.corrections[-1] and c.old_minor is not None and c.new_minor is not None and not c.late
                and c.owner_change is None)
        out.append(correction_words(c, cur, language, tz, why=_why_repriced(e, zh) if last else ""))
        if c.new_minor is not None and (c.old_minor is not None or not credit):
            now = c.new_minor
    if now is not None:
        out.append(f"更正后本话单计：{_minor(now, cur, zh)}" if zh else f"After corrections this record comes to: {_minor(now, cur, zh)}")
    if e.repriced and now is not None and sum(ln.amount_minor for ln in e.repriced) == now:
        out.append("重新计费后的计价：" if zh else "As priced again:")
        again = replace(e, lines=e.repriced)
        for ln in e.repriced:
            out.extend("  " + x for x in _line(ln, again, zh))
    return out


def _why_repriced(e: Explanation, zh: bool) -> str:
    """What made a rerate's new amount, from the record's lines as billed and as priced again: an allowance it draws on
    now or no longer, another rule pricing it; else what of its tariff changed (``tariff_changes``)."""
    said: list[str] = []
    if e.repriced:
        def drawn(lines: Iterable[ExplainedLine]) -> dict[str, ExplainedLine]:
            return {ln.allowance_id: ln for ln in lines if ln.allowance_id and ln.allowance_used}

        def charged(lines: Iterable[ExplainedLine]) -> dict[str, ExplainedLine]:
            return {ln.rule_id: ln for ln in lines if ln.allowance_id is None and ln.rule_id}

        was, now = drawn(e.lines), drawn(e.repriced)
        for aid in now.keys() - was.keys():
            a = _named(now[aid].labels, "allowance", aid, zh)
            said.append(f"现由套餐内额度“{a}”抵扣" if zh else f"now drawn from the allowance “{a}”")
        for aid in was.keys() - now.keys():
            a = _named(was[aid].labels, "allowance", aid, zh)
            said.append(f"不再由套餐内额度“{a}”抵扣" if zh else f"no longer drawn from the allowance “{a}”")
        rules_was, rules_now = charged(e.lines), charged(e.repriced)
        for rid in rules_now.keys() - rules_was.keys():
            r = _named(rules_now[rid].labels, "rule", rid, zh)
            said.append(f"现按计费规则“{r}”计价" if zh else f"now priced by the rule “{r}”")
    if not said:
        said = [zh_ if zh else en for zh_, en in e.tariff_changes]
    return ("；" if zh else "; ").join(said)
