"""Explain a rated record: record → plan → rule → rate steps → allowance before/after → amount, in zh or en.

Works on frames (a record's rated lines and, when available, its usage row); the CLI finds them in the lake.
Each charged line's step arithmetic is recomputed with ``charge_line`` from the catalog, and the explanation
says whether it agrees with the stored amount (a daily cap, or a tariff changed since rating, may differ).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import polars as pl

from fairtel.catalog import Catalog, Name, format_quantity
from fairtel.catalog import Unit as CatalogUnit
from fairtel.core.errors import NotFoundError
from fairtel.core.money import Money, minor_units
from fairtel.rating._steps import charge_line, compile_rate


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


@dataclass(frozen=True, slots=True)
class ExplainedLine:
    line: int
    started_at: datetime
    offset: int
    quantity: int
    unit: str
    rule_id: str | None
    rule_name: str | None
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
    recomputed_minor: int | None  # what the catalog gives now; None when not a priced line


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

    @property
    def total(self) -> Decimal:
        return Money.from_minor(self.total_minor, self.currency).amount

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["plan_name"] = None if self.plan_name is None else {"zh": self.plan_name.zh, "en": self.plan_name.en}
        out["total"] = str(self.total)
        return out

    def render(self, language: str = "en") -> str:
        return _render(self, _ZH if language == "zh" else _EN)


def _name(name: Name | None, language: str) -> str | None:
    return None if name is None else name.in_language(language)


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
) -> Explanation:
    """The chain behind a record's rated lines. ``rated`` may hold other records; only this one's are read."""
    mine = rated.filter(pl.col("record_id") == record_id)
    if source is not None:
        mine = mine.filter(pl.col("source") == source)
    if mine.height == 0:
        raise NotFoundError(f"no rated line for record {record_id!r}", details={"record_id": record_id})
    sources = mine["source"].unique().to_list()
    if len(sources) > 1:
        raise NotFoundError(f"record {record_id!r} exists in several sources ({', '.join(sorted(sources))}); name one",
                            details={"record_id": record_id, "sources": sorted(sources)})
    rows = mine.sort("line").to_dicts()
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

    lines = []
    for r in rows:
        rule = rules.get(r["rule_id"] or "")
        rate = rates.get(r["rate_id"] or "")
        steps: tuple[StepText, ...] = ()
        connect = unrounded = "0"
        recomputed = None
        charged_line = r["allowance_id"] is None and r["kind"] != "vas"
        if rate is not None and charged_line:
            qty, drawn = pieces[r["offset"]]
            charge = charge_line(compile_rate(rate, currency), offset=r["offset"], quantity=qty, drawn=drawn)
            steps = tuple(
                StepText(u.step, u.units, u.billed, u.drawn, u.charged, str(rate.steps[u.step].rate),
                         rate.steps[u.step].rate_unit, rate.steps[u.step].increment, _decimal(u.cost))
                for u in charge.steps if u.billed
            )
            connect, unrounded, recomputed = _decimal(charge.connect_fee), _decimal(charge.unrounded), charge.amount_minor
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
            amount=str(Decimal(r["amount_minor"]).scaleb(-exp)), amount_minor=r["amount_minor"], capped=bool(r["capped"]),
            throttled=bool(r["throttled"]), verdict=r["verdict"], subscription_id=r["subscription_id"],
            recomputed_minor=recomputed,
        ))
    record: dict[str, Any] = {}
    if usage is not None:
        hit = usage.filter((pl.col("record_id") == record_id) & (pl.col("source") == first["source"]))
        if hit.height:
            record = {k: v for k, v in hit.row(0, named=True).items() if v is not None and k != "period"}
    return Explanation(
        record_id=record_id, source=first["source"], msisdn=first["msisdn"], kind=first["kind"], period=first["period"],
        started_at=rows[0]["started_at"].astimezone(catalog.tz), plan_id=first["plan_id"], plan_name=None if plan is None else plan.name,
        currency=currency, total_minor=sum(r["amount_minor"] for r in rows), lines=tuple(lines), record=record,
    )


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


_EN: dict[str, str] = {
    "head": "Record {record_id} ({kind}) of {msisdn}, {started_at}, period {period}",
    "usage": "Usage: {usage}",
    "plan": "Plan: {plan_id} ({plan_name})",
    "line": "Line {line}: {quantity} from {started_at}",
    "situation": "  zone {zone}, roaming {roaming}, band {band}",
    "allowance": "  drawn from allowance {id}: {used} ({before} used before, {after} after, of {total})",
    "rule": "  rule {rule} [{rule_text}] → rate {rate}",
    "free": "  rule {rule} [{rule_text}]: free",
    "step": "  step {n}: {units} → {billed} billed in increments of {inc}, {drawn} from allowances, {charged} charged at {price} per {per} = {cost}",
    "connect": "  connect fee {fee}",
    "round": "  sum {unrounded}, rounded {rounding} → {amount} {currency}",
    "capped": "  capped (max cost or daily cap)",
    "throttled": "  past the unlimited allowance's threshold: speed reduced, no charge",
    "vas": "  value-added charge, rule {rule}: consent verdict {verdict}, subscription {sub} → {amount} {currency}",
    "mismatch": "  note: the catalog now gives {now} {currency} for this line",
    "total": "Total: {total} {currency}",
    "none": "none", "home": "home", "unlimited": "unlimited",
}
_ZH: dict[str, str] = {
    "head": "话单 {record_id}（{kind}），号码 {msisdn}，{started_at}，账期 {period}",
    "usage": "用量：{usage}",
    "plan": "套餐：{plan_id}（{plan_name}）",
    "line": "第 {line} 行：{quantity}，开始于 {started_at}",
    "situation": "  区域 {zone}，漫游 {roaming}，时段 {band}",
    "allowance": "  从套餐内资源 {id} 扣减 {used}（此前已用 {before}，扣后 {after}，共 {total}）",
    "rule": "  计费规则 {rule}［{rule_text}］→ 费率 {rate}",
    "free": "  计费规则 {rule}［{rule_text}］：免费",
    "step": "  第 {n} 段：{units} → 按 {inc} 计费单位计 {billed}，套餐抵扣 {drawn}，计费 {charged}，单价 {price}/{per}，金额 {cost}",
    "connect": "  接通费 {fee}",
    "round": "  合计 {unrounded}，按 {rounding} 取整 → {amount} {currency}",
    "capped": "  已封顶（最高费用或每日上限）",
    "throttled": "  已超出不限量套餐的限速阈值：降速，不收费",
    "vas": "  增值业务费用，规则 {rule}：订购确认结果 {verdict}，订购号 {sub} → {amount} {currency}",
    "mismatch": "  注意：按当前资费本行应为 {now} {currency}",
    "total": "合计：{total} {currency}",
    "none": "无", "home": "本地", "unlimited": "不限量",
}


def _q(amount: int | None, unit: str) -> str:
    if amount is None:
        return "-"
    try:
        return format_quantity(amount, CatalogUnit(unit))
    except ValueError:
        return str(amount)


def _render(e: Explanation, t: dict[str, str]) -> str:
    language = "zh" if t is _ZH else "en"
    out = [t["head"].format(record_id=e.record_id, kind=e.kind, msisdn=e.msisdn, started_at=e.started_at.isoformat(),
                            period=e.period)]
    if e.record:
        shown = ("direction", "peer", "duration_s", "bytes_up", "bytes_down", "roaming_country", "offer_id")
        out.append(t["usage"].format(usage=", ".join(f"{k}={e.record[k]}" for k in shown if k in e.record)))
    out.append(t["plan"].format(plan_id=e.plan_id, plan_name=_name(e.plan_name, language) or "?"))
    for ln in e.lines:
        out.append(t["line"].format(line=ln.line, quantity=_q(ln.quantity, ln.unit), started_at=ln.started_at.isoformat()))
        if ln.unit == "item":
            out.append(t["vas"].format(rule=ln.rule_id, verdict=ln.verdict, sub=ln.subscription_id or t["none"],
                                       amount=ln.amount, currency=e.currency))
            continue
        out.append(t["situation"].format(zone=ln.zone or t["none"], roaming=ln.roaming_zone or t["home"], band=ln.band))
        if ln.allowance_id is not None:
            total = t["unlimited"] if ln.allowance_quantity is None else _q(ln.allowance_quantity, ln.unit)
            out.append(t["allowance"].format(id=ln.allowance_id, used=_q(ln.allowance_used, ln.unit),
                                             before=_q(ln.allowance_before, ln.unit), after=_q(ln.allowance_after, ln.unit),
                                             total=total))
            if ln.throttled:
                out.append(t["throttled"])
            continue
        if ln.rate_id is None:
            out.append(t["free"].format(rule=ln.rule_id, rule_text=ln.rule_name or ""))
        else:
            out.append(t["rule"].format(rule=ln.rule_id, rule_text=ln.rule_name or "", rate=ln.rate_id))
            for s in ln.steps:
                out.append(t["step"].format(n=s.step + 1, units=_q(s.units, ln.unit), billed=_q(s.billed, ln.unit),
                                            inc=_q(s.increment, ln.unit), drawn=_q(s.drawn, ln.unit),
                                            charged=_q(s.charged, ln.unit), price=s.rate, per=_q(s.rate_unit, ln.unit),
                                            cost=s.cost))
            if ln.connect_fee != "0":
                out.append(t["connect"].format(fee=ln.connect_fee))
            out.append(t["round"].format(unrounded=ln.unrounded, rounding=ln.rounding, amount=ln.amount, currency=e.currency))
        if ln.capped:
            out.append(t["capped"])
        if ln.throttled:
            out.append(t["throttled"])
        if ln.recomputed_minor is not None and ln.recomputed_minor != ln.amount_minor and not ln.capped:
            now = Money.from_minor(ln.recomputed_minor, e.currency).amount
            out.append(t["mismatch"].format(now=now, currency=e.currency))
    out.append(t["total"].format(total=e.total, currency=e.currency))
    return "\n".join(out)
