"""Quotes: what one canonical usage record costs under a catalog, for tariff authors testing a tariff.

Each record is priced on its own. It consumes no allowance unless it names a plan state:
``"allowance_used": {"<allowance id>": <units used so far this period>}`` (an empty object means a fresh
period). The plan is the record's ``plan_id``, else the caller's, else the catalog's ``[[subjects]]`` entry for
the msisdn (CGRateS rating profiles, ``*any`` fallback), else the catalog's pay-as-you-go plan. A VAS record
is quoted at its offer's price, as if consented (nothing is billed by a quote).

Records are checked as ``fairtel ingest`` checks them (mediation's ``validate``): a quote never prices what
ingest would refuse, such as an outgoing call without a peer (it would fall in the fallback zone) or a
duration of years (the band walk would not end). Only a VAS record's amount may be left out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import polars as pl
import pyarrow as pa

from fairtel.catalog import Catalog, Plan, plan_for_subject
from fairtel.core.contracts import CLEAN_USAGE_SCHEMA, USAGE_FIELDS
from fairtel.core.errors import FairtelError, InvalidInputError, NotFoundError, Problem
from fairtel.core.money import Money, minor_units
from fairtel.core.time import Period
from fairtel.rating._countries import country_name
from fairtel.rating._rate import _offer_prices, rate
from fairtel.rating._steps import INT_LIMIT
from fairtel.rating._vas import price_only_gate

QUOTE_MSISDN = "quote"
QUOTE_FILE = "<quote>"
_STATE_PREFIXES = ("cap:", "vas:")  # rating's other counters: a rule's daily cap, a value-added charge billed


def default_plan(catalog: Catalog) -> str | None:
    """The catalog's pay-as-you-go plan (the first plan without fee or allowances), if it has one."""
    return next((p.id for p in catalog.plans if p.pay_as_you_go), None)


def _as_text(value: object) -> str | None:
    """A JSON value as the text of a canonical field, as the JSON Lines reader passes it to validation."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


def _text_row(raw: Mapping[str, Any], where: str, catalog: Catalog) -> tuple[dict[str, str | None], list[Problem]]:
    """The record's canonical fields as text, with the quote's defaults (record id, msisdn, and for a VAS record
    without an amount its offer's price, which it is quoted at anyway)."""
    problems: list[Problem] = []
    row: dict[str, str | None] = {}
    for f in USAGE_FIELDS:
        try:
            row[f] = _as_text(raw.get(f))
        except TypeError as exc:
            problems.append(Problem(where, None, f, f"expected a string or a number, got {exc}", "bad_value"))
            row[f] = None
    row["record_id"] = row["record_id"] or where
    row["msisdn"] = row["msisdn"] or QUOTE_MSISDN
    if row["kind"] == "vas" and row["offer_id"]:
        offer = next((o for o in catalog.offers if o.id == row["offer_id"]), None)
        if offer is None:
            problems.append(Problem(where, None, "offer_id", f"no offer {row['offer_id']!r} in the catalog",
                                    "unknown_offer"))
        elif row["amount"] is None:
            row["amount"] = str(offer.price)
            row["currency"] = row["currency"] or catalog.operator.currency
    return row, problems


def _claimed_price_mismatch(raw: Mapping[str, Any], catalog: Catalog, frame: pl.DataFrame,
                            record_id: Any) -> dict[str, Any] | None:
    """A VAS record whose own amount or currency differs from its offer's price when it was made: rating bills
    it nothing (the consent gate's ``price_mismatch``), so the quote says so rather than quote the offer's price.
    Only what the record gives is compared (a record without an amount is quoted at the offer's price)."""
    row = frame.row(0, named=True)
    if row["kind"] != "vas" or not row["offer_id"]:
        return None
    currency = catalog.operator.currency
    price_minor = _offer_prices(frame, catalog, minor_units(currency))[0]
    if price_minor is None:
        return None
    claimed_currency = row["currency"] if raw.get("currency") not in (None, "") else None
    claimed_minor = row["amount_minor"] if raw.get("amount") not in (None, "") else None
    differs = (claimed_currency is not None and claimed_currency != currency) or (
        claimed_minor is not None and (claimed_currency or currency) == currency and claimed_minor != price_minor)
    if not differs:
        return None
    price = Money.from_minor(int(price_minor), currency)
    claimed_in = claimed_currency or currency
    claimed = (f"{Money.from_minor(int(claimed_minor), claimed_in).amount} {claimed_in}" if claimed_minor is not None
               else f"an amount in {claimed_in}")
    claimed_zh = claimed if claimed_minor is not None else f"{claimed_in} 计价"
    return {"record_id": record_id,
            "error": {"code": "price_mismatch",
                      "message": f"not rated: the record claims {claimed}, and offer {row['offer_id']} costs "
                                 f"{price.amount} {currency}; rating bills nothing for a charge whose amount or "
                                 "currency differs from its offer's price (price_mismatch)",
                      "message_zh": f"未计费：话单金额为 {claimed_zh}，业务 {row['offer_id']} 的价格为 {price.amount} "
                                    f"{currency}；金额或币种与业务价格不符的扣费不计费（price_mismatch）",
                      "details": {"offer_id": row["offer_id"], "price": str(price.amount), "currency": currency,
                                  "claimed_amount": None if claimed_minor is None
                                  else str(Money.from_minor(int(claimed_minor), claimed_in).amount),
                                  "claimed_currency": claimed_in}}}


def _records(rows: Mapping[int, dict[str, str | None]]) -> tuple[dict[int, pl.DataFrame], dict[int, list[Problem]]]:
    """Each record checked as ``fairtel ingest`` checks it (required fields per kind, numbers, timestamps and
    their ranges): a quote prices only what ingest would accept. One clean usage frame per good record."""
    if not rows:
        return {}, {}
    # here, not at the top: every rating process imports this module, and mediation's readers and ingest cost
    # about 0.3 s to import (each worker of a batch run would pay it)
    from fairtel.mediation import validate
    from fairtel.mediation.readers import POS, RawBatch

    order = sorted(rows)
    table = pa.table({**{f: pa.array([rows[i][f] for i in order], type=pa.string()) for f in USAGE_FIELDS},
                      POS: pa.array([i + 1 for i in order], type=pa.int64())})
    checked = validate(RawBatch(table), file=QUOTE_FILE, source="quote")
    problems: dict[int, list[Problem]] = {}
    for r in checked.rejects:
        message = r.message.removeprefix(f"{r.field}: ") if r.field else r.message
        problems.setdefault(r.position - 1, []).append(Problem(f"record[{r.position - 1}]", None, r.field, message,
                                                               r.reason))
    clean = pl.from_arrow(checked.clean)
    assert isinstance(clean, pl.DataFrame)
    frames = {int(pos) - 1: clean.filter(pl.col(POS) == pos).select(CLEAN_USAGE_SCHEMA.names)
              for pos in clean[POS].to_list()}
    return frames, problems


def _opening(raw: Mapping[str, Any], msisdn: str, where: str) -> tuple[pl.DataFrame | None, list[Problem]]:
    state = raw.get("allowance_used")
    if state is None:
        return None, []
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and 0 <= v < INT_LIMIT
        for k, v in state.items()
    ):
        return None, [Problem(where, None, "allowance_used",
                              f"expected an object of allowance id → units used (integers from 0 to {INT_LIMIT - 1})")]
    return pl.DataFrame(
        {"msisdn": [msisdn] * len(state), "counter": list(state.keys()), "used": list(state.values())},
        schema={"msisdn": pl.String(), "counter": pl.String(), "used": pl.Int64()},
    ), []


def _unknown_counters(plan: Plan, used: Mapping[str, int]) -> list[str]:
    """The ``allowance_used`` keys that are none of the plan's allowances (nor a daily-cap or VAS counter): a
    state that names them would be silently ignored, and the record priced as if nothing had been used."""
    ids = {a.id for a in plan.allowances}
    return [k for k in used if k not in ids and not k.startswith(_STATE_PREFIXES)]


def _plan(catalog: Catalog, raw: Mapping[str, Any], plan_id: str | None, frame: pl.DataFrame) -> str:
    chosen = raw.get("plan_id") or plan_id
    if chosen:
        catalog.plan(str(chosen))  # raises NotFoundError for an unknown plan
        return str(chosen)
    if catalog.subjects:
        return plan_for_subject(catalog, frame["msisdn"][0], kind=frame["kind"][0] if frame["kind"][0] in
                                ("voice", "sms", "data") else None, at=frame["started_at"][0])
    payg = default_plan(catalog)
    if payg is None:
        raise NotFoundError("the record names no plan_id, no --plan was given and the catalog has no pay-as-you-go plan")
    return payg


def _exact_amount(catalog: Catalog, lines: list[dict[str, Any]], exp: int) -> Decimal | None:
    """The amount at the catalog's ``amount_decimals`` when they are finer than the currency's minor units (a
    CGRateS plan priced to 0.7169 CNY), for a record priced by one rate in one piece with no allowance: the rate's
    own steps, which the rated line (in minor units) rounds to the fen. None otherwise, or when the line is not
    that amount rounded (a cap took part): the line's amount stands."""
    decimals = catalog.operator.amount_decimals
    if decimals is None or decimals <= exp or len(lines) != 1:
        return None
    (line,) = lines
    if line["rate_id"] is None or line["allowance_id"] is not None or line["capped"] or line["offset"]:
        return None
    from fairtel.catalog import price_steps

    rate = catalog.rate(line["rate_id"])
    exact = price_steps(rate, int(line["quantity"]))
    if Money(exact, catalog.operator.currency).to_minor(rate.rounding) != line["amount_minor"]:
        return None
    return exact


def amount_scale(catalog: Catalog) -> int:
    """The decimals every amount of a quote is written with: the catalog's ``amount_decimals`` when finer than the
    currency's minor units (a CGRateS plan priced to 0.7169 CNY), else the minor units. One scale for the whole
    output, so that ``0``, ``0.00`` and ``0.0000`` are not three ways of writing one amount."""
    exp = minor_units(catalog.operator.currency)
    decimals = catalog.operator.amount_decimals
    return exp if decimals is None or decimals <= exp else decimals


def _at_scale(amount: Decimal, scale: int) -> str:
    return str(amount.quantize(Decimal(1).scaleb(-scale)))


# ---- why a record was not rated, in words -----------------------------------------------------------------

_KIND_WORDS = {"voice": ("通话", "voice"), "sms": ("短信", "SMS"), "data": ("流量", "data"),
               "vas": ("增值业务", "value-added service")}
_DIRECTION_WORDS = {("voice", "out"): ("主叫", "outgoing"), ("voice", "in"): ("被叫", "incoming"),
                    ("sms", "out"): ("发送", "outgoing"), ("sms", "in"): ("接收", "incoming")}
_QUANTITY_FIELD = {"voice": "duration_s", "data": "bytes_up/bytes_down"}


@dataclass(frozen=True)
class UnratedWhy:
    """Why rating left a record out, said in full: the reason ``code`` (``UnratedReason``), the words in ``zh`` and
    ``en``, and ``details``: what rating looked for (plan, kind, direction, destination zone, roaming country and
    zone, time band) where the reason depends on them."""

    code: str
    zh: str
    en: str
    details: dict[str, Any] = field(default_factory=dict)

    def words(self, language: str = "en") -> str:
        return self.zh if language == "zh" else self.en

    def sentence(self, record_id: str, language: str = "en") -> str:
        """``record 'w10' was not rated: no rule in plan RP_1002 for voice (outgoing) to zone 'unlisted' [no_rule]`` /
        ``话单 w10 未计费：套餐 RP_1002 中没有适用的计费规则：… [no_rule]``."""
        if language == "zh":
            return f"话单 {record_id} 未计费：{self.zh} [{self.code}]"
        return f"record {record_id!r} was not rated: {self.en} [{self.code}]"


def _zone_of(catalog: Catalog, kind: str, peer: str | None) -> str | None:
    """The destination zone of a call's or message's other party as rating tells it (no party: the fallback zone);
    None for data, or a party no zone lists."""
    if kind not in ("voice", "sms"):
        return None
    if peer is None:
        zone = catalog.fallback_zone
        return None if zone is None else zone.id
    try:
        return catalog.zone_for(peer).id
    except NotFoundError:
        return None


def why_unrated(catalog: Catalog, record: Mapping[str, Any], reason: str, *, plan_id: str | None) -> UnratedWhy:
    """``reason`` (an ``UnratedReason`` code) in words for the usage ``record`` (its canonical fields, as far as they
    are known) under ``plan_id``: for ``no_rule``, the plan, kind, direction, destination zone, roaming country (and
    its roaming zone) and time band no rule of the plan matches, e.g. "no rule for voice (outgoing) to zone
    'unlisted' (Numbers no destination lists) in plan RP_1001"."""
    kind = str(record.get("kind") or "")
    kind_zh, kind_en = _KIND_WORDS.get(kind, (kind or "-", kind or "-"))
    plan = plan_id or "-"
    details: dict[str, Any] = {"plan_id": plan_id, "kind": kind or None}
    if reason in ("no_rule", "peer_not_a_number"):
        direction = record.get("direction")
        said = _DIRECTION_WORDS.get((kind, str(direction)))
        details["direction"] = direction
        zh_parts, en_parts = [kind_zh + (f"（{said[0]}）" if said else "")], [kind_en + (f" ({said[1]})" if said else "")]
        zone_id = _zone_of(catalog, kind, record.get("peer"))
        if kind in ("voice", "sms") and reason == "no_rule":
            details["zone"] = zone_id
            if zone_id is None:
                zh_parts.append("目的地不属于任何区域")
                en_parts.append("to a destination no zone lists")
            else:
                name = catalog.name_of("zone", zone_id)
                zh_parts.append(f"目的地区域 {zone_id}" + (f"（{name.zh}）" if name and name.zh != zone_id else ""))
                en_parts.append(f"to zone {zone_id!r}" + (f" ({name.en})" if name and name.en != zone_id else ""))
        country = str(record.get("roaming_country") or "").strip().upper()
        if country:
            details["roaming_country"] = country
            try:
                roaming = catalog.roaming_zone_of(country)
            except NotFoundError:  # rating leaves such a record out as no_roaming_zone, before looking for a rule
                details["roaming_zone"] = None
                zh_parts.append(f"漫游地 {country} 未列入任何漫游区域")
                en_parts.append(f"roaming in {country}, which no roaming zone lists")
            else:
                details["roaming_zone"] = None if roaming is None else roaming.id
                if roaming is None:  # the operator's own country: at home
                    zh_parts.append(f"所在地 {country} 为运营商本国（按非漫游计）")
                    en_parts.append(f"in {country}, the operator's own country (priced as at home)")
                else:
                    zh_parts.append(f"漫游地 {country}（漫游区域 {roaming.id}）")
                    en_parts.append(f"roaming in {country} (roaming zone {roaming.id!r})")
        started = record.get("started_at")
        if len(catalog.bands) > 1 and isinstance(started, datetime) and started.tzinfo is not None:
            band = catalog.band_at(started).id  # where the record starts (a call cut at band changes: its first piece)
            details["band"] = band
            zh_parts.append(f"时段 {band}")
            en_parts.append(f"starting in time band {band!r}")
        what_en = " ".join([*en_parts[:1], ", ".join(en_parts[1:])] if en_parts[1:] else en_parts[:1])
        if reason == "peer_not_a_number":
            zh = f"对方号码不是电话号码，没有目的地区域，而套餐 {plan} 按目的地为{'，'.join(zh_parts)}计费"
            en = (f"the other party is not a number, so it has no destination zone, and plan {plan} prices {what_en} "
                  "by destination")
        else:
            zh = f"套餐 {plan} 中没有适用的计费规则：{'，'.join(zh_parts)}"
            en = f"no rule in plan {plan} for {what_en}"
        return UnratedWhy(reason, zh, en, details)
    if reason == "no_roaming_zone":
        country = str(record.get("roaming_country") or "").strip().upper()
        details["roaming_country"] = country or None
        details["roaming_zone"] = None
        zh_name, en_name = country_name(country, "zh"), country_name(country, "en")
        # a space where a letter meets a Chinese character, none beside full-width brackets
        zh_where = f"{zh_name}（{country}）" if zh_name != country else f" {country} "
        en_where = f"{en_name} ({country})" if en_name != country else country
        return UnratedWhy(
            reason,
            f"{kind_zh}话单的漫游地{zh_where}未列入资费目录的任何漫游区域，目录也没有兜底漫游区域（fallback），"
            f"不按非漫游资费计：请在目录中把该国家或地区加入某个漫游区域，或设置兜底漫游区域",
            f"the {kind_en} record was made roaming in {en_where}, which no roaming zone of the catalog lists, and the "
            "catalog has no fallback roaming zone: it is not priced as at home; list the country in a roaming zone "
            "or make one roaming zone the fallback",
            details,
        )
    if reason == "unknown_subscriber":
        return UnratedWhy(reason, "号码不在用户名册中，没有用来计费的套餐", "the number is not in the subscriber register: no plan "
                          "to price it with", details)
    if reason == "unknown_plan":
        return UnratedWhy(reason, f"套餐 {plan} 不在资费目录中", f"plan {plan} is not in the catalog", details)
    if reason == "unknown_kind":
        return UnratedWhy(reason, f"用量类型 {kind or '-'} 不是 voice、sms、data 或 vas",
                          f"usage kind {kind or '-'!r} is none of voice, sms, data, vas", details)
    if reason == "missing_quantity":
        what = _QUANTITY_FIELD.get(kind, "quantity")
        return UnratedWhy(reason, f"{kind_zh}话单缺少用量（{what}）", f"the {kind_en} record has no quantity ({what})", details)
    if reason == "quantity_too_large":
        return UnratedWhy(reason, f"用量过大，套餐 {plan} 的资费无法精确计算",
                          f"the quantity is too large to price exactly under plan {plan}", details)
    return UnratedWhy(reason, f"未计费（{reason}）", f"not rated ({reason})", details)


def _in_order(rated: pl.DataFrame) -> list[dict[str, Any]]:
    """A record's rated lines in their order (``line``: a call's band pieces by time, each piece's allowance parts
    before its charged rest), each with ``_at``: the units of the record before its own usage. Rating's ``offset``
    is the piece's, which its allowance parts and charged rest share; the parts cover the piece one after another."""
    out = rated.sort("line").to_dicts()
    used: dict[int, int] = {}
    for ln in out:
        piece = int(ln["offset"] or 0)
        ln["_at"] = piece + used.get(piece, 0)
        used[piece] = used.get(piece, 0) + int(ln["quantity"] or 0)
    return out


def _entry(catalog: Catalog, record_id: Any, plan: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """A priced record's entry: its amount (the sum of its lines, or a CGRateS rate's exact amount), rule and lines."""
    currency = catalog.operator.currency
    exp = minor_units(currency)
    exact = _exact_amount(catalog, lines, exp)
    total = sum(ln["amount_minor"] for ln in lines)
    scale = amount_scale(catalog)
    charged = [ln for ln in lines if ln["allowance_id"] is None] or lines
    rules = list(dict.fromkeys(ln["rule_id"] for ln in charged))
    return {
        "record_id": record_id,
        "amount": _at_scale(exact if exact is not None else Decimal(total).scaleb(-exp), scale),
        "currency": currency,
        "rule": rules[0] if len(rules) == 1 else "+".join(rules),
        "plan_id": plan,
        "lines": [
            {
                **{k: ln[k] for k in (
                    "line", "rule_id", "rate_id", "zone", "roaming_zone", "band", "offset", "quantity", "unit",
                    "allowance_id", "allowance_before", "allowance_used", "charged_quantity", "capped", "throttled",
                )},
                "offset": ln["_at"],
                "amount": _at_scale(Decimal(ln["amount_minor"]).scaleb(-exp), scale),
            }
            for ln in lines
        ],
    }


def _unrated_entry(catalog: Catalog, record_id: Any, plan: str, record: Mapping[str, Any], reason: str) -> dict[str, Any]:
    why = why_unrated(catalog, record, reason, plan_id=plan)
    return {"record_id": record_id, "plan_id": plan,
            "error": {"code": reason, "message": f"not rated: {why.en}", "message_zh": f"未计费：{why.zh}",
                      "details": why.details}}


def _skipped_allowances(catalog: Catalog, plan: str, lines: list[dict[str, Any]]) -> list[str]:
    """The plan's allowances that would have covered some of what a record priced without a plan state (none drawn)
    was charged: matched on the situation rating found for each charged line (kind, direction, zone, roaming zone,
    band). A line that cost nothing (a free rule) costs nothing drawn or not."""
    found: list[str] = []
    charged = [ln for ln in lines if ln["amount_minor"] > 0]
    for a in catalog.plan(plan).allowances:
        if a.id not in found and any(a.match.matches(ln["kind"], ln["direction"], ln["zone"], ln["roaming_zone"], ln["band"])
                                     for ln in charged):
            found.append(a.id)
    return found


def no_state_note(allowances: Sequence[str]) -> dict[str, str]:
    """What a quote made without a plan state says of the allowances it did not draw (``note``, ``note_zh``)."""
    ids = ", ".join(allowances)
    return {
        "note": f"no allowance drawn: the record names no plan state (allowance_used), so it is priced as if the plan "
                f"had no allowance, where a bill draws {ids} first (a month's records quoted one by one may come to more "
                "than the bill's usage charges): give allowance_used, or quote the month's records together (--together)",
        "note_zh": f"未扣减套餐内用量：话单没有给出套餐用量状态（allowance_used），按套餐不含任何套餐内用量计价；"
                   f"账单会先从 {ids} 中扣减（逐条报价的月度合计可能高于账单的用量费用）：请给出 allowance_used，或把当月话单合并报价（--together）",
    }


def quote(records: Sequence[Mapping[str, Any]], catalog: Catalog, *, plan_id: str | None = None,
          together: bool = False) -> list[dict[str, Any]]:
    """For each record: ``record_id``, ``amount`` (decimal string), ``currency``, ``rule`` (the rule of its
    charged line) and its ``lines``; or ``record_id`` and ``error`` when it cannot be priced (a record rating
    leaves out: its reason code, and in words, ``why_unrated``, what no rule matched). Every amount, the record's
    and its lines', zero too, is written to one scale, the catalog's (``amount_scale``).

    Each record is priced alone, drawing no allowance unless it names a plan state (``allowance_used``); a record
    priced without one that a plan's allowance would have covered says so (``note``, ``note_zh``). With
    ``together`` the records of one number, plan and billing period are priced as rating prices that period
    (``fairtel rate``, then the bill): in time order, allowances drawn and daily caps counted across them, from the
    plan state their records name (one state for the group; none: a fresh period). Their entries stay one per
    record, in input order."""
    out: list[dict[str, Any] | None] = []
    rows: dict[int, dict[str, str | None]] = {}
    early: dict[int, list[Problem]] = {}
    for i, raw in enumerate(records):
        if isinstance(raw, Mapping):
            row, problems = _text_row(raw, f"record[{i}]", catalog)
            if problems:
                early[i] = problems
            else:
                rows[i] = row
    frames, late = _records(rows)
    # good records: (plan, period, opening state) per input position
    ready: dict[int, tuple[str, Period, pl.DataFrame | None]] = {}
    for i, raw in enumerate(records):
        where = f"record[{i}]"
        if not isinstance(raw, Mapping):
            out.append({"record_id": None, "error": {"code": "input_invalid", "message": f"{where}: not a JSON object"}})
            continue
        record_id = raw.get("record_id") or where
        problems = early.get(i) or late.get(i) or []
        opening = None
        if not problems:
            frame = frames[i]
            opening, problems = _opening(raw, frame["msisdn"][0], where)
        if problems:
            out.append({"record_id": record_id, "error": InvalidInputError(problems, what=where).to_dict()})
            continue
        mismatch = _claimed_price_mismatch(raw, catalog, frame, record_id)
        if mismatch is not None:
            out.append(mismatch)
            continue
        try:
            plan = _plan(catalog, raw, plan_id, frame)
            unknown = _unknown_counters(catalog.plan(plan), raw.get("allowance_used") or {})
            if unknown:
                raise InvalidInputError([Problem(where, None, "allowance_used", f"plan {plan} has no allowance "
                                                 + ", ".join(map(repr, unknown)), "unknown_allowance")], what=where)
            period = Period.containing(frame["started_at"][0], catalog.operator.timezone)
        except FairtelError as exc:
            out.append({"record_id": record_id, "error": exc.to_dict()})
            continue
        out.append(None)
        ready[i] = (plan, period, opening)
    if together:
        _price_together(records, catalog, frames, ready, out)
    else:
        for i, (plan, period, opening) in ready.items():
            out[i] = _price_alone(records[i], catalog, frames[i], plan, period, opening, f"record[{i}]")
    return [e for e in out if e is not None]


def _price_alone(raw: Mapping[str, Any], catalog: Catalog, frame: pl.DataFrame, plan: str, period: Period,
                 opening: pl.DataFrame | None, where: str) -> dict[str, Any]:
    record_id = raw.get("record_id") or where
    try:
        result = rate(frame, catalog, {frame["msisdn"][0]: plan}, period=period, gate=price_only_gate,
                      opening_state=opening, allowances=opening is not None)
    except FairtelError as exc:
        return {"record_id": record_id, "error": exc.to_dict()}
    if result.unrated.height:
        return _unrated_entry(catalog, record_id, plan, frame.row(0, named=True), result.unrated["reason"][0])
    lines = _in_order(result.rated)
    entry = _entry(catalog, record_id, plan, lines)
    if opening is None:
        skipped = _skipped_allowances(catalog, plan, lines)
        if skipped:
            entry.update(no_state_note(skipped))
    return entry


def _price_together(records: Sequence[Mapping[str, Any]], catalog: Catalog, frames: Mapping[int, pl.DataFrame],
                    ready: Mapping[int, tuple[str, Period, pl.DataFrame | None]], out: list[dict[str, Any] | None]) -> None:
    """``quote(together=True)``: each group of records of one number, plan and period rated in one call."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for i, (plan, period, _opening) in ready.items():
        groups.setdefault((str(frames[i]["msisdn"][0]), plan, period.key), []).append(i)
    for (msisdn, plan, _key), members in groups.items():
        period = ready[members[0]][1]
        named = [i for i in members if ready[i][2] is not None]
        states = {json.dumps(dict(records[i]["allowance_used"]), sort_keys=True) for i in named}
        seen: dict[tuple[str, str], int] = {}
        clash: dict[int, Problem] = {}
        for i in members:
            key = (str(frames[i]["source"][0]), str(frames[i]["record_id"][0]))
            if key in seen:  # mediation keeps one record per source and id: which of the two would be billed is moot
                clash[i] = Problem(f"record[{i}]", None, "record_id", f"record {key[1]!r} of source {key[0]!r} is given "
                                   f"twice (record[{seen[key]}] too): records priced together need distinct ids",
                                   "duplicate_record")
            else:
                seen[key] = i
        if len(states) > 1:
            for i in named:
                clash.setdefault(i, Problem(f"record[{i}]", None, "allowance_used", f"the records of {msisdn} under "
                                            f"plan {plan} in {period.key}, priced together, name different plan states: "
                                            "give one (on any of them)", "conflicting_state"))
        for i, problem in clash.items():
            out[i] = {"record_id": records[i].get("record_id") or f"record[{i}]",
                      "error": InvalidInputError([problem], what=f"record[{i}]").to_dict()}
        members = [i for i in members if i not in clash]
        if not members:
            continue
        opening = next((ready[i][2] for i in members if ready[i][2] is not None), None)
        try:
            result = rate(pl.concat([frames[i] for i in members]), catalog, {msisdn: plan}, period=period,
                          gate=price_only_gate, opening_state=opening, allowances=True)
        except FairtelError as exc:
            for i in members:
                out[i] = {"record_id": records[i].get("record_id") or f"record[{i}]", "error": exc.to_dict()}
            continue
        rated = result.rated.partition_by("source", "record_id", as_dict=True)
        unrated = {(r["source"], r["record_id"]): r["reason"] for r in result.unrated.iter_rows(named=True)}
        for i in members:
            key = (str(frames[i]["source"][0]), str(frames[i]["record_id"][0]))
            record_id = records[i].get("record_id") or f"record[{i}]"
            if key in unrated:
                out[i] = _unrated_entry(catalog, record_id, plan, frames[i].row(0, named=True), unrated[key])
            else:
                out[i] = _entry(catalog, record_id, plan, _in_order(rated[key]))
